//! Fuzz target: the media frame header. Decoding never panics; a decoded header
//! re-encodes (never longer than what was read) and decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podium_media_core::FrameHeader;

fuzz_target!(|data: &[u8]| {
    if let Ok((header, used)) = FrameHeader::decode(data) {
        assert!(used <= data.len());
        let mut out = Vec::new();
        header.encode(&mut out).expect("a decoded header re-encodes");
        assert_eq!(out.len(), header.encoded_len());
        assert!(out.len() <= used, "shortest form is never longer");
        assert_eq!(FrameHeader::decode(&out), Ok((header, out.len())));
    }
});
