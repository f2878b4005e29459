//! Undecodable input on the control stream, a media stream or a datagram
//! closes the offending session only (code 1, `<code>: <message>`); the
//! others keep exchanging media.

use podium_media::core::wire::media::encode_stream_frame;
use podium_media::core::{FrameHeader, StreamHeader};

use crate::support::{SESSION, Server, T, close_of};

/// A framed control message with any type byte and body.
fn control(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 1) as u32).to_be_bytes().to_vec();
    out.push(kind);
    out.extend_from_slice(body);
    out
}

fn stream_with_delta_first() -> Vec<u8> {
    let mut out = Vec::new();
    StreamHeader::video(1, 1).encode(&mut out).unwrap();
    let delta = FrameHeader {
        track: 1,
        group: 1,
        sequence: 0,
        timestamp_us: 1,
        keyframe: false,
        temporal_layer: 1,
    };
    encode_stream_frame(&delta, b"xx", &mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_closes_only_the_offending_session() {
    let server = Server::start().await;
    let publisher = server.publisher(1, 0).await;
    let watcher = server.bot(2, 0, false).await;
    let video = publisher.video_track();

    enum Via {
        Control,
        Stream,
        Datagram,
    }
    let table: Vec<(&str, Via, Vec<u8>, &str)> = vec![
        (
            "unknown control type",
            Via::Control,
            control(0x7f, b"{}"),
            "unknown_message_type",
        ),
        (
            "oversized control length",
            Via::Control,
            vec![0, 2, 0, 0],
            "oversized",
        ),
        (
            "zero control length",
            Via::Control,
            vec![0, 0, 0, 0],
            "invalid_field",
        ),
        (
            "bad JSON body",
            Via::Control,
            control(0x04, b"{\"tr\":1}"),
            "invalid_body",
        ),
        (
            "unknown field",
            Via::Control,
            control(0x08, b"{\"nonce\":1,\"x\":2}"),
            "invalid_body",
        ),
        (
            "unknown stream type",
            Via::Stream,
            vec![0x09, 1, 1],
            "unknown_stream_type",
        ),
        (
            "delta frame first",
            Via::Stream,
            stream_with_delta_first(),
            "invalid_field",
        ),
        (
            "unknown datagram type",
            Via::Datagram,
            vec![0x05, 0, 1, 0, 0, 0, 1],
            "unknown_datagram_type",
        ),
        (
            "reserved flag bits",
            Via::Datagram,
            vec![0x01, 0x80, 1, 0, 0, 0, 1],
            "invalid_field",
        ),
        (
            "empty payload",
            Via::Datagram,
            vec![0x01, 0x01, 1, 0, 0, 0],
            "invalid_field",
        ),
    ];
    for (i, (name, via, bytes, reason)) in table.into_iter().enumerate() {
        let mut config = server.bot_config(100 + i as u64, 0, true);
        config.auto_subscribe = false;
        let offender = podium_media::bot::Bot::connect(config).await.unwrap();
        match via {
            Via::Control => offender.send_raw_control(&bytes).await.unwrap(),
            Via::Stream => {
                let mut s = offender
                    .connection()
                    .open_uni()
                    .await
                    .unwrap()
                    .await
                    .unwrap();
                s.write_all(&bytes).await.unwrap();
                let _ = s.finish().await;
            }
            // Datagrams may be lost: send a few; the first that arrives closes the session.
            Via::Datagram => {
                for _ in 0..5 {
                    let _ = offender.connection().send_datagram(&bytes);
                }
            }
        }
        let (code, text) = close_of(offender.connection(), name).await;
        assert_eq!(code, 1, "{name}: {text}");
        assert!(text.starts_with(&format!("{reason}: ")), "{name}: {text}");

        // The others are unaffected: the watcher keeps receiving.
        let before = watcher.stats().track(video).frames;
        watcher
            .wait_until("more video", T, |s| s.track(video).frames >= before + 3)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let members = server.handle.members(SESSION).await.unwrap();
    let ids: Vec<u64> = members.iter().map(|m| m.participant.0).collect();
    assert_eq!(ids, [1, 2]);
}
