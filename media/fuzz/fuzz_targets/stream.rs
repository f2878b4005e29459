//! Fuzz target: unidirectional media streams (video group and audio): the
//! stream header, then length-prefixed frames through the incremental reader
//! fed in chunks. Never panics; accepted frames re-encode to the same frames.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podium_media_core::StreamHeader;
use podium_media_core::wire::media::{StreamReader, decode_stream_frame, encode_stream_frame};

fuzz_target!(|data: &[u8]| {
    if let Ok((header, used)) = StreamHeader::decode(data) {
        let mut out = Vec::new();
        header.encode(&mut out).expect("a decoded stream header re-encodes");
        assert_eq!(StreamHeader::decode(&out), Ok((header, out.len())));
        let _ = decode_stream_frame(&data[used..]);
    }
    let chunk = usize::from(data.last().copied().unwrap_or(1)).max(1);
    let mut reader = StreamReader::new();
    'feed: for piece in data.chunks(chunk) {
        reader.push(piece);
        loop {
            match reader.next_frame() {
                Ok(Some((header, payload))) => {
                    let mut out = Vec::new();
                    encode_stream_frame(&header, &payload, &mut out)
                        .expect("an accepted frame re-encodes");
                    let (h, p, n) = decode_stream_frame(&out).expect("and decodes");
                    assert_eq!((h, p, n), (header, &payload[..], out.len()));
                }
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
    }
    let _ = reader.finish();
});
