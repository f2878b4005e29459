//! Fuzz target: audio datagrams. Decoding never panics; a decoded datagram
//! re-encodes within the size limit and decodes to the same header and payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podium_media_core::wire::media::{MAX_DATAGRAM_SIZE, decode_datagram, encode_datagram};

fuzz_target!(|data: &[u8]| {
    if let Ok((header, payload)) = decode_datagram(data) {
        let mut out = Vec::new();
        encode_datagram(&header, payload, &mut out).expect("a decoded datagram re-encodes");
        assert!(out.len() <= data.len().min(MAX_DATAGRAM_SIZE));
        assert_eq!(decode_datagram(&out), Ok((header, payload)));
    }
});
