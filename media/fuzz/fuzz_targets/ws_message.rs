//! Fuzz target: WebSocket messages (PROTOCOL.md §8). Decoding never panics;
//! what decodes re-encodes to something that decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podium_media_core::wire::ws::WsMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = WsMessage::decode(data) {
        let mut out = Vec::new();
        m.encode(&mut out).expect("a decoded message re-encodes");
        assert_eq!(WsMessage::decode(&out).expect("a re-encoded message decodes"), m);
    }
});
