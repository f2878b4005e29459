//! `podium-media`: Podium's selective forwarding unit (SFU).
//!
//! Browsers publish WebCodecs-encoded AV1 video and Opus audio over
//! WebTransport; this crate forwards each frame to the participants who should
//! receive it. The routing core is sans-IO; the IO edge (WebTransport endpoint,
//! rayon fan-out) and the codecs (opus, dav1d) sit around it.

pub mod codec;

/// Version strings of the linked native codec libraries, shown by
/// `podium --version` so a build proves both are linked into the binary.
pub fn codec_versions() -> String {
    format!(
        "{}, dav1d {}",
        codec::opus_version(),
        codec::dav1d_version()
    )
}
