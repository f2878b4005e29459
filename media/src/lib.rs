//! `podium-media`: Podium's selective forwarding unit (SFU).
//!
//! Browsers publish WebCodecs-encoded AV1 video and Opus audio over
//! WebTransport; this crate forwards each frame to the participants who should
//! receive it. The routing core is sans-IO (`podium-media-core`); this crate is
//! its IO edge:
//!
//! - [`start`] + [`SfuConfig`] run the WebTransport endpoint and return an
//!   [`SfuHandle`], the app's control-plane API (live sessions, breakout rooms,
//!   moves, publish rights, members, stats, thumbnails, certificate hashes).
//! - [`token`]: join tokens the app signs and the SFU verifies.
//! - [`cert`]: configured or self-signed, rotating certificates.
//! - [`codec`]: Opus levels and AV1 thumbnails, off the hot path.
//! - [`bot`]: a Rust client speaking the same protocol as the browser.
//! - [`loadtest`]: the reference load scenarios, against the SFU or a raw
//!   QUIC fan-out baseline, and the `/proc` readers they use ([`procfs`]).

pub mod bot;
pub mod cert;
pub mod codec;
pub mod config;
pub mod error;
pub mod loadtest;
pub mod procfs;
pub(crate) mod server;
pub mod token;

pub use cert::{CertHash, CertHashes, CertificateConfig, SelfSignedConfig};
pub use config::{Congestion, FanoutMode, OriginPolicy, SfuConfig};
pub use error::MediaError;
pub use podium_media_core as core;
pub use podium_media_core::{ParticipantId, RoomId, TrackId};
pub use server::{
    AUDIO_MAX_AGE, FANOUT_BUCKETS_US, Grant, IoStats, MAX_OPEN_STREAMS, Member, Refusal, Sending,
    SessionStats, SfuHandle, Transport, start, websocket_accept_key, ws_close_code,
};
pub use token::{JoinClaims, JoinTokenKey, SessionId, TokenError};

/// Version strings of the linked native codec libraries, shown by
/// `podium --version` so a build proves both are linked into the binary.
pub fn codec_versions() -> String {
    format!(
        "{}, dav1d {}",
        codec::opus_version(),
        codec::dav1d_version()
    )
}
