//! Server-side codecs, kept off the forwarding hot path: Opus decoding for
//! audio levels ([`level`]) and dav1d decoding of occasional AV1 keyframes for
//! thumbnails ([`thumbnail`]); plus the little AV1/IVF parsing the bots need
//! ([`av1`]). The only module allowed to hold FFI-adjacent code.

// libdav1d-sys builds the vendored libdav1d (meson + ninja + nasm) and tells
// the linker where `libdav1d.a` is; the `dav1d` crate's bindings link against it.

pub mod av1;
pub mod level;
pub mod thumbnail;

/// A codec failed on some input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// libopus refused the packet or the configuration.
    #[error("opus: {0}")]
    Opus(String),
    /// dav1d refused the data or produced no picture.
    #[error("dav1d: {0}")]
    Dav1d(String),
    /// The picture could not be turned into a thumbnail.
    #[error("thumbnail: {0}")]
    Image(String),
    /// A container (IVF) or bitstream (OBU) is malformed.
    #[error("malformed {0}")]
    Malformed(&'static str),
}

/// The version of the linked libopus.
pub fn opus_version() -> String {
    opus::version().to_string()
}

/// The version of the linked libdav1d.
#[allow(unsafe_code)]
pub fn dav1d_version() -> String {
    // SAFETY: `dav1d_version` takes no arguments and returns a pointer to a
    // static NUL-terminated string owned by libdav1d, valid for the whole
    // program; we copy it out before returning.
    let v = unsafe { std::ffi::CStr::from_ptr(libdav1d_sys::dav1d_version()) };
    v.to_string_lossy().into_owned()
}
