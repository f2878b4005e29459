//! Fuzz target: control messages, whole (both directions) and through the
//! incremental reader. Decoding never panics; what decodes re-encodes to
//! something that decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podium_media_core::wire::control::ControlReader;
use podium_media_core::{ClientMessage, Message, ServerMessage};

fn round_trip<M: Message + PartialEq + std::fmt::Debug>(message: &M) {
    let bytes = message.to_bytes().expect("a decoded message re-encodes");
    let again = M::decode(&bytes).expect("a re-encoded message decodes");
    assert_eq!(&again, message);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = ClientMessage::decode(data) {
        round_trip(&m);
    }
    if let Ok(m) = ServerMessage::decode(data) {
        round_trip(&m);
    }
    // The same bytes as a stream, fed in chunks whose size the first byte picks.
    let chunk = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut reader = ControlReader::<ClientMessage>::new();
    'feed: for piece in data.chunks(chunk) {
        reader.push(piece);
        loop {
            match reader.next_message() {
                Ok(Some(m)) => round_trip(&m),
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
    }
});
