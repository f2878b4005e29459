//! Server-side codecs, kept off the forwarding hot path: Opus decoding for
//! audio levels and dav1d decoding of occasional AV1 keyframes for thumbnails.

// libdav1d-sys builds the vendored libdav1d (meson + ninja + nasm) and tells
// the linker where `libdav1d.a` is; the `dav1d` crate's bindings link against it.

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
