//! Round-trip and malformed-input tables for the wire format, plus a tiny
//! deterministic generator standing in for property tests.

use bytes::Bytes;

use super::WireError;
use super::control::*;
use super::media::*;
use crate::ids::{ParticipantId, RoomId, TrackId};
use crate::track::TrackConfig;

/// SplitMix64: deterministic, dependency-free randomness for generated cases.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A value with a random number of significant bits, so every varint length shows up.
    fn varint_value(&mut self) -> u64 {
        let bits = self.below(63);
        self.next() & ((1u64 << bits) - 1)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    fn frame_header(&mut self) -> FrameHeader {
        let keyframe = self.below(4) == 0;
        FrameHeader {
            track: self.next() as u32 >> self.below(32),
            group: self.varint_value(),
            sequence: self.varint_value(),
            timestamp_us: self.varint_value(),
            keyframe,
            temporal_layer: if keyframe { 0 } else { self.below(3) as u8 },
        }
    }
}

fn client_messages() -> Vec<ClientMessage> {
    vec![
        Hello {
            version: 1,
            token: "v1.abc.def".into(),
        }
        .into(),
        Publish {
            track_id: 1,
            config: TrackConfig::opus(48000, 1),
            simulcast_of: None,
        }
        .into(),
        Publish {
            track_id: u32::MAX,
            config: TrackConfig::av1(1280, 720).with_description(vec![0x81, 0x08, 0x0c, 0]),
            simulcast_of: None,
        }
        .into(),
        Publish {
            track_id: 2,
            config: TrackConfig::av1(320, 180),
            simulcast_of: Some(u32::MAX),
        }
        .into(),
        Unpublish { track_id: 7 }.into(),
        Subscribe { track: TrackId(3) }.into(),
        Unsubscribe { track: TrackId(3) }.into(),
        LayerPreference {
            track: TrackId(3),
            max_temporal_layer: 0,
        }
        .into(),
        KeyframeRequest { track: TrackId(9) }.into(),
        Ping { nonce: 1 << 52 }.into(),
        ViewSize {
            track: TrackId(3),
            max_height: 180,
        }
        .into(),
        ViewSize {
            track: TrackId(3),
            max_height: 0,
        }
        .into(),
    ]
}

fn server_messages() -> Vec<ServerMessage> {
    vec![
        TrackWanted {
            track_id: 1,
            wanted: false,
        }
        .into(),
        Welcome {
            version: 1,
            participant: ParticipantId(4),
            room: RoomId(2),
            may_publish: true,
            server_time: 123_456,
        }
        .into(),
        TrackAdded {
            track: TrackId(8),
            participant: ParticipantId(4),
            config: TrackConfig::vp8(640, 480),
        }
        .into(),
        TrackRemoved {
            track: TrackId(8),
            participant: ParticipantId(4),
        }
        .into(),
        Roster {
            participants: vec![
                RosterEntry {
                    id: ParticipantId(1),
                    name: "Ada \"the host\" ✓".into(),
                    room: RoomId::MAIN,
                    may_publish: true,
                },
                RosterEntry {
                    id: ParticipantId(2),
                    name: String::new(),
                    room: RoomId(10),
                    may_publish: false,
                },
            ],
        }
        .into(),
        Roster {
            participants: vec![],
        }
        .into(),
        Permission {
            may_publish: false,
            room: RoomId(1),
        }
        .into(),
        RequestKeyframe { track_id: 2 }.into(),
        AudioLevels {
            levels: vec![AudioLevel {
                track: TrackId(1),
                participant: ParticipantId(2),
                level: 127,
            }],
        }
        .into(),
        ServerMessage::error("track_not_in_room", "track 3 is in another room"),
        Pong {
            nonce: 9,
            server_time: 10,
        }
        .into(),
        Published {
            track_id: 1,
            track: TrackId(12),
        }
        .into(),
    ]
}

#[test]
fn control_messages_round_trip() {
    for m in client_messages() {
        let bytes = Message::to_bytes(&m).unwrap();
        assert_eq!(ClientMessage::decode(&bytes), Ok(m.clone()), "{m:?}");
        assert_eq!(bytes[4], m.message_type());
        assert_eq!(
            u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize,
            bytes.len() - 4
        );
    }
    for m in server_messages() {
        let bytes = Message::to_bytes(&m).unwrap();
        assert_eq!(ServerMessage::decode(&bytes), Ok(m.clone()), "{m:?}");
    }
}

#[test]
fn control_message_exact_bytes() {
    // Pinned so that PROTOCOL.md's example and the browser client stay in step.
    let bytes = Message::to_bytes(&ClientMessage::Ping(Ping { nonce: 7 })).unwrap();
    assert_eq!(bytes, b"\x00\x00\x00\x0c\x08{\"nonce\":7}");
    let bytes =
        Message::to_bytes(&ClientMessage::Subscribe(Subscribe { track: TrackId(5) })).unwrap();
    assert_eq!(bytes, b"\x00\x00\x00\x0c\x04{\"track\":5}");
}

fn framed(message_type: u8, body: &str) -> Vec<u8> {
    let mut out = ((body.len() + 1) as u32).to_be_bytes().to_vec();
    out.push(message_type);
    out.extend_from_slice(body.as_bytes());
    out
}

#[test]
fn malformed_client_messages_are_errors() {
    let long = vec![b' '; MAX_MESSAGE_LEN];
    let mut oversized = ((MAX_MESSAGE_LEN + 1) as u32).to_be_bytes().to_vec();
    oversized.push(0x08);
    oversized.extend_from_slice(&long);
    let mut trailing = framed(0x08, r#"{"nonce":1}"#);
    trailing.push(0);
    let table: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "truncated"),
        ("short prefix", vec![0, 0, 1], "truncated"),
        ("zero length", vec![0, 0, 0, 0], "invalid_field"),
        (
            "length beyond input",
            vec![0, 0, 0, 9, 0x08, b'{'],
            "truncated",
        ),
        (
            "oversized prefix",
            vec![0xff, 0xff, 0xff, 0xff, 0x08],
            "oversized",
        ),
        ("oversized message", oversized, "oversized"),
        ("trailing bytes", trailing, "trailing_bytes"),
        ("unknown type", framed(0x42, "{}"), "unknown_message_type"),
        (
            "server type to server",
            framed(0x89, r#"{"nonce":1,"server_time":2}"#),
            "unknown_message_type",
        ),
        ("not json", framed(0x08, "nonce=1"), "invalid_body"),
        ("array body", framed(0x08, "[1]"), "invalid_body"),
        ("empty body", framed(0x08, ""), "invalid_body"),
        ("missing field", framed(0x08, "{}"), "invalid_body"),
        (
            "unknown field",
            framed(0x08, r#"{"nonce":1,"x":2}"#),
            "invalid_body",
        ),
        (
            "wrong type",
            framed(0x08, r#"{"nonce":"1"}"#),
            "invalid_body",
        ),
        ("negative", framed(0x04, r#"{"track":-1}"#), "invalid_body"),
        (
            "u32 overflow",
            framed(0x04, r#"{"track":4294967296}"#),
            "invalid_body",
        ),
        (
            "bad version",
            framed(0x01, r#"{"version":2,"token":"t"}"#),
            "unsupported_version",
        ),
        (
            "version zero",
            framed(0x01, r#"{"version":0,"token":"t"}"#),
            "unsupported_version",
        ),
        (
            "layer 3",
            framed(0x06, r#"{"track":1,"max_temporal_layer":3}"#),
            "invalid_body",
        ),
        (
            "bad utf-8",
            {
                let mut f = framed(0x01, r#"{"version":1,"token":"xx"}"#);
                let n = f.len();
                f[n - 3] = 0xff;
                f
            },
            "invalid_body",
        ),
        (
            "bad codec config",
            framed(
                0x02,
                r#"{"track_id":1,"config":{"kind":"audio","codec":"av1","width":1,"height":1}}"#,
            ),
            "invalid_body",
        ),
        (
            "simulcast_of negative",
            framed(
                0x02,
                r#"{"track_id":2,"config":{"kind":"video","codec":"av1","width":320,"height":180},"simulcast_of":-1}"#,
            ),
            "invalid_body",
        ),
        (
            "simulcast_of not a number",
            framed(
                0x02,
                r#"{"track_id":2,"config":{"kind":"video","codec":"av1","width":320,"height":180},"simulcast_of":"1"}"#,
            ),
            "invalid_body",
        ),
        (
            "view size too tall",
            framed(0x09, r#"{"track":1,"max_height":8193}"#),
            "invalid_body",
        ),
        (
            "view size negative",
            framed(0x09, r#"{"track":1,"max_height":-1}"#),
            "invalid_body",
        ),
        (
            "view size without height",
            framed(0x09, r#"{"track":1}"#),
            "invalid_body",
        ),
        (
            "view size unknown field",
            framed(0x09, r#"{"track":1,"max_height":10,"max_width":10}"#),
            "invalid_body",
        ),
        (
            "deep nesting",
            framed(
                0x08,
                &format!("{{\"nonce\":{}1{}}}", "[".repeat(500), "]".repeat(500)),
            ),
            "invalid_body",
        ),
    ];
    for (name, bytes, code) in table {
        match ClientMessage::decode(&bytes) {
            Ok(m) => panic!("{name}: decoded {m:?}"),
            Err(e) => assert_eq!(e.code(), code, "{name}: {e}"),
        }
    }
}

#[test]
fn version_error_names_both_versions() {
    let err = ClientMessage::decode(&framed(0x01, r#"{"version":2,"token":"t"}"#)).unwrap_err();
    assert_eq!(
        err,
        WireError::UnsupportedVersion {
            got: 2,
            supported: 1
        }
    );
    assert_eq!(
        err.to_string(),
        "unsupported protocol version 2, this side speaks version 1"
    );
}

#[test]
fn oversized_messages_are_not_encoded() {
    let m = ServerMessage::error("x", "y".repeat(MAX_MESSAGE_LEN));
    let mut out = vec![1, 2, 3];
    assert_eq!(m.encode(&mut out).unwrap_err().code(), "oversized");
    assert_eq!(out, vec![1, 2, 3], "nothing written");
}

#[test]
fn control_reader_splits_a_byte_stream() {
    let messages = client_messages();
    let mut stream = Vec::new();
    for m in &messages {
        m.encode(&mut stream).unwrap();
    }
    // Feed in awkward chunk sizes; the messages come out whole and in order.
    for chunk in [1, 2, 3, 7, 64, stream.len()] {
        let mut reader = ControlReader::<ClientMessage>::new();
        let mut out = Vec::new();
        for piece in stream.chunks(chunk) {
            reader.push(piece);
            while let Some(m) = reader.next_message().unwrap() {
                out.push(m);
            }
        }
        assert_eq!(out, messages, "chunk {chunk}");
        assert_eq!(reader.finish(), Ok(()));
    }
}

#[test]
fn control_reader_refuses_oversized_prefix_early_and_truncated_end() {
    let mut reader = ControlReader::<ClientMessage>::new();
    reader.push(&[0x00, 0x01, 0x00]);
    assert_eq!(reader.next_message(), Ok(None));
    reader.push(&[0x01]); // 65537: too long, refused before the body arrives
    assert_eq!(reader.next_message().unwrap_err().code(), "oversized");

    let mut reader = ControlReader::<ServerMessage>::new();
    reader.push(&framed(0x89, r#"{"nonce":1,"server_time":2}"#)[..6]);
    assert_eq!(reader.next_message(), Ok(None));
    assert_eq!(reader.finish().unwrap_err().code(), "truncated");
}

#[test]
fn frame_headers_round_trip() {
    let table = [
        FrameHeader::default(),
        FrameHeader {
            track: 1,
            group: 2,
            sequence: 3,
            timestamp_us: 4,
            keyframe: true,
            temporal_layer: 0,
        },
        FrameHeader {
            track: u32::MAX,
            group: (1 << 62) - 1,
            sequence: (1 << 62) - 1,
            timestamp_us: (1 << 62) - 1,
            keyframe: false,
            temporal_layer: 2,
        },
    ];
    let mut g = Gen(1);
    let generated = (0..2000).map(|_| g.frame_header());
    for h in table.into_iter().chain(generated) {
        let mut out = Vec::new();
        h.encode(&mut out).unwrap();
        assert_eq!(out.len(), h.encoded_len());
        assert!(out.len() <= FrameHeader::MAX_LEN);
        assert_eq!(FrameHeader::decode(&out), Ok((h, out.len())), "{h:?}");
        for cut in 0..out.len() {
            let err = FrameHeader::decode(&out[..cut]).unwrap_err();
            assert_eq!(err.code(), "truncated", "{h:?} cut at {cut}");
        }
    }
}

#[test]
fn frame_header_exact_bytes() {
    let h = FrameHeader {
        track: 5,
        group: 300,
        sequence: 1,
        timestamp_us: 20_000,
        keyframe: false,
        temporal_layer: 2,
    };
    let mut out = Vec::new();
    h.encode(&mut out).unwrap();
    assert_eq!(out, [0x04, 0x05, 0x41, 0x2c, 0x01, 0x80, 0x00, 0x4e, 0x20]);
}

#[test]
fn invalid_frame_headers_are_errors() {
    let table: &[(&str, &[u8], &str)] = &[
        ("empty", &[], "truncated"),
        ("reserved flag bit", &[0x08, 1, 1, 1, 1], "invalid_field"),
        ("layer 3", &[0x06, 1, 1, 1, 1], "invalid_field"),
        ("keyframe in layer 1", &[0x03, 1, 1, 1, 1], "invalid_field"),
        (
            "track id over u32",
            &[0x00, 0xc1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
            "invalid_field",
        ),
        ("cut in track", &[0x00, 0x40], "truncated"),
        ("cut before timestamp", &[0x00, 1, 1, 1], "truncated"),
    ];
    for &(name, bytes, code) in table {
        assert_eq!(
            FrameHeader::decode(bytes).unwrap_err().code(),
            code,
            "{name}"
        );
    }
    let bad = FrameHeader {
        temporal_layer: 3,
        ..FrameHeader::default()
    };
    let mut out = Vec::new();
    assert!(bad.encode(&mut out).is_err());
    let bad = FrameHeader {
        group: 1 << 62,
        ..FrameHeader::default()
    };
    assert!(bad.encode(&mut out).is_err());
    assert!(out.is_empty(), "nothing written on error");
}

#[test]
fn datagrams_round_trip() {
    let mut g = Gen(2);
    for _ in 0..500 {
        let h = g.frame_header();
        let room = MAX_DATAGRAM_SIZE - 1 - h.encoded_len();
        let len = 1 + g.below(room as u64) as usize;
        let payload = g.bytes(len);
        let mut out = Vec::new();
        encode_datagram(&h, &payload, &mut out).unwrap();
        assert_eq!(out.len(), datagram_len(&h, payload.len()));
        let (back, p) = decode_datagram(&out).unwrap();
        assert_eq!((back, p), (h, &payload[..]));
    }
}

#[test]
fn redundant_datagrams_round_trip() {
    let mut g = Gen(3);
    for _ in 0..500 {
        let mut h = g.frame_header();
        h.keyframe = true;
        h.temporal_layer = 0;
        h.sequence = h.sequence.max(2);
        h.timestamp_us = h.timestamp_us.max(40_000);
        let copies = 1 + g.below(2) as usize;
        let payloads: Vec<Vec<u8>> = (0..=copies)
            .map(|_| {
                let n = 1 + g.below(300) as usize;
                g.bytes(n)
            })
            .collect();
        let earlier: Vec<(FrameHeader, &[u8])> = (0..copies)
            .map(|i| {
                let back = (copies - i) as u64;
                let header = FrameHeader {
                    sequence: h.sequence - back,
                    timestamp_us: h.timestamp_us - back * 20_000,
                    ..h
                };
                (header, &payloads[i][..])
            })
            .collect();
        let mut out = Vec::new();
        encode_redundant_datagram(&h, &payloads[copies], &earlier, &mut out).unwrap();
        let frames = decode_datagram_frames(&out).unwrap();
        let got: Vec<_> = frames.iter().collect();
        assert_eq!(got.len(), copies + 1);
        for (i, (header, payload, copy)) in got.into_iter().enumerate() {
            let (want_h, want_p) = if i < copies {
                earlier[i]
            } else {
                (h, &payloads[copies][..])
            };
            assert_eq!((header, payload, copy), (want_h, want_p, i < copies));
        }
        assert_eq!(frames.newest(), (h, &payloads[copies][..]));
    }
    // A plain datagram decodes as one frame, not a copy.
    let h = FrameHeader {
        track: 3,
        sequence: 9,
        keyframe: true,
        ..FrameHeader::default()
    };
    let mut out = Vec::new();
    encode_datagram(&h, &[1, 2, 3], &mut out).unwrap();
    let frames = decode_datagram_frames(&out).unwrap();
    assert_eq!(
        frames.iter().collect::<Vec<_>>(),
        [(h, &[1u8, 2, 3][..], false)]
    );
}

#[test]
fn redundant_datagram_errors() {
    let h = FrameHeader {
        track: 1,
        sequence: 20,
        timestamp_us: 400_000,
        keyframe: true,
        ..FrameHeader::default()
    };
    let back = |n: u64| FrameHeader {
        sequence: h.sequence - n,
        timestamp_us: h.timestamp_us - n * 20_000,
        ..h
    };
    // Encoding refuses what decoding would, and writes nothing.
    let p: &[u8] = &[9; 10];
    let other_track = FrameHeader {
        track: 2,
        ..back(1)
    };
    let later = FrameHeader { sequence: 21, ..h };
    type Copies<'a> = Vec<(FrameHeader, &'a [u8])>;
    let cases: Vec<(&str, Copies, &str)> = vec![
        ("no copies", vec![], "invalid_field"),
        (
            "three copies",
            vec![(back(3), p), (back(2), p), (back(1), p)],
            "invalid_field",
        ),
        ("other track", vec![(other_track, p)], "invalid_field"),
        ("a later frame", vec![(later, p)], "invalid_field"),
        (
            "newest first",
            vec![(back(1), p), (back(2), p)],
            "invalid_field",
        ),
        ("16 back", vec![(back(16), p)], "invalid_field"),
        ("empty copy", vec![(back(1), &[][..])], "invalid_field"),
        (
            "too big",
            vec![(back(2), &[1; 600][..]), (back(1), &[1; 600][..])],
            "oversized",
        ),
    ];
    for (name, earlier, code) in cases {
        let mut out = Vec::new();
        let err = encode_redundant_datagram(&h, p, &earlier, &mut out).unwrap_err();
        assert_eq!(err.code(), code, "{name}");
        assert!(out.is_empty(), "{name}");
    }

    // header: flags 0x01, track 1, group 0, sequence 10, timestamp 1000 (2-byte varint).
    let head = [0x02, 0x01, 0x01, 0x00, 0x0a, 0x43, 0xe8];
    let with = |rest: &[u8]| [&head[..], rest].concat();
    let table: Vec<(&str, Vec<u8>, &str)> = vec![
        ("no count", with(&[]), "truncated"),
        ("count 0", with(&[0, 5]), "invalid_field"),
        ("count 3", with(&[3, 1, 0, 1, 5, 5]), "invalid_field"),
        ("back 0", with(&[1, 0, 0, 1, 5, 5]), "invalid_field"),
        (
            "back past sequence 0",
            with(&[1, 11, 0, 1, 5, 5]),
            "invalid_field",
        ),
        (
            "not oldest first",
            with(&[2, 1, 0, 1, 5, 2, 0, 1, 5, 5]),
            "invalid_field",
        ),
        (
            "timestamp before the epoch",
            with(&[1, 1, 0x44, 0x00, 1, 5, 5]),
            "invalid_field",
        ),
        (
            "copy longer than the datagram",
            with(&[1, 1, 0, 9, 5]),
            "truncated",
        ),
        ("empty copy", with(&[1, 1, 0, 0, 5]), "invalid_field"),
        ("no own payload", with(&[1, 1, 0, 1, 5]), "invalid_field"),
        ("cut in the copy's header", with(&[1, 1]), "truncated"),
        (
            "over 1200 bytes",
            with(&[1, 1, 0, 1, 5, 5])
                .into_iter()
                .chain([0; 1200])
                .collect(),
            "oversized",
        ),
        (
            "unknown type",
            vec![0x03, 0, 1, 0, 0, 0, 9],
            "unknown_datagram_type",
        ),
    ];
    for (name, bytes, code) in table {
        assert_eq!(
            decode_datagram_frames(&bytes).unwrap_err().code(),
            code,
            "{name}"
        );
    }
    // The same bytes with a good copy decode.
    let good = with(&[1, 1, 0x40, 0x14, 1, 5, 6]);
    let frames = decode_datagram_frames(&good).unwrap();
    let got: Vec<_> = frames.iter().collect();
    assert_eq!(got[0].0.sequence, 9);
    assert_eq!(got[0].0.timestamp_us, 1000 - 20);
    assert_eq!((got[0].1, got[1].1), (&[5u8][..], &[6u8][..]));
}

#[test]
fn datagram_limits_and_errors() {
    let h = FrameHeader {
        track: 1,
        keyframe: true,
        ..FrameHeader::default()
    };
    // 1 type byte + 5 header bytes: the largest payload is 1194 bytes.
    let mut out = Vec::new();
    encode_datagram(&h, &[7; 1194], &mut out).unwrap();
    assert_eq!(out.len(), MAX_DATAGRAM_SIZE);
    let mut too_big = Vec::new();
    let err = encode_datagram(&h, &[7; 1195], &mut too_big).unwrap_err();
    assert_eq!(err.code(), "oversized");
    assert!(too_big.is_empty());

    let mut long = out.clone();
    long.push(0);
    let table: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "truncated"),
        (
            "unknown type",
            vec![0x02, 0, 1, 0, 0, 0, 9],
            "unknown_datagram_type",
        ),
        ("no payload", vec![0x01, 0, 1, 0, 0, 0], "invalid_field"),
        ("cut header", vec![0x01, 0, 1], "truncated"),
        ("over 1200 bytes", long, "oversized"),
    ];
    for (name, bytes, code) in table {
        assert_eq!(decode_datagram(&bytes).unwrap_err().code(), code, "{name}");
    }
}

fn video_stream(track: u32, group: u64, frames: &[(u8, Vec<u8>)]) -> (Vec<u8>, Vec<FrameHeader>) {
    let mut out = Vec::new();
    StreamHeader::video(track, group).encode(&mut out).unwrap();
    let mut headers = Vec::new();
    for (i, (layer, payload)) in frames.iter().enumerate() {
        let h = FrameHeader {
            track,
            group,
            sequence: 100 + i as u64,
            timestamp_us: 33_333 * i as u64,
            keyframe: i == 0,
            temporal_layer: *layer,
        };
        encode_stream_frame(&h, payload, &mut out).unwrap();
        headers.push(h);
    }
    (out, headers)
}

#[test]
fn streams_round_trip_in_any_chunking() {
    let mut g = Gen(3);
    let frames: Vec<(u8, Vec<u8>)> = (0..12)
        .map(|i| {
            let layer = if i == 0 { 0 } else { [0, 2, 1, 2][i % 4] };
            let len = 1 + g.below(if i == 0 { 70_000 } else { 3000 }) as usize;
            (layer, g.bytes(len))
        })
        .collect();
    let (bytes, headers) = video_stream(77, 1 << 40, &frames);
    for chunk in [1, 5, 1200, 65_536, bytes.len()] {
        let mut reader = StreamReader::new();
        let mut got = Vec::new();
        for piece in bytes.chunks(chunk) {
            reader.push(piece);
            while let Some((h, payload)) = reader.next_frame().unwrap() {
                got.push((h, payload));
            }
        }
        assert_eq!(reader.finish(), Ok(()));
        assert_eq!(
            reader.header().unwrap(),
            Some(StreamHeader::video(77, 1 << 40))
        );
        assert_eq!(got.len(), frames.len(), "chunk {chunk}");
        for (i, (h, payload)) in got.iter().enumerate() {
            assert_eq!(*h, headers[i]);
            assert_eq!(payload, &Bytes::from(frames[i].1.clone()));
        }
    }
    // The slice decoder agrees with the reader.
    let (_, n) = StreamHeader::decode(&bytes).unwrap();
    let (h, payload, used) = decode_stream_frame(&bytes[n..]).unwrap();
    assert_eq!((h, payload), (headers[0], &frames[0].1[..]));
    assert!(used > payload.len());
}

#[test]
fn audio_stream_round_trips() {
    let mut out = Vec::new();
    StreamHeader::audio(3).encode(&mut out).unwrap();
    for seq in 0..3 {
        let h = FrameHeader {
            track: 3,
            sequence: seq,
            timestamp_us: seq * 20_000,
            keyframe: true,
            ..FrameHeader::default()
        };
        encode_stream_frame(&h, &[1; 1500], &mut out).unwrap();
    }
    let mut reader = StreamReader::new();
    reader.push(&out);
    let mut n = 0;
    while let Some((h, p)) = reader.next_frame().unwrap() {
        assert_eq!((h.sequence, p.len()), (n, 1500));
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn malformed_streams_are_errors() {
    let key = |track, group| FrameHeader {
        track,
        group,
        keyframe: true,
        ..FrameHeader::default()
    };
    let delta = FrameHeader {
        track: 1,
        group: 1,
        sequence: 1,
        ..FrameHeader::default()
    };
    let stream = |header: StreamHeader, frames: &[FrameHeader]| {
        let mut out = Vec::new();
        header.encode(&mut out).unwrap();
        for f in frames {
            encode_stream_frame(f, &[9, 9], &mut out).unwrap();
        }
        out
    };
    let mut oversized = Vec::new();
    StreamHeader::video(1, 1).encode(&mut oversized).unwrap();
    oversized.extend_from_slice(&[0x80, 0x10, 0x00, 0x01]); // length 1 MiB + 1
    let mut zero_len = Vec::new();
    StreamHeader::video(1, 1).encode(&mut zero_len).unwrap();
    zero_len.push(0x00);
    let mut short_len = Vec::new();
    StreamHeader::video(1, 1).encode(&mut short_len).unwrap();
    short_len.extend_from_slice(&[0x02, 0x01, 0x01]);
    let mut empty_payload = Vec::new();
    StreamHeader::video(1, 1)
        .encode(&mut empty_payload)
        .unwrap();
    empty_payload.extend_from_slice(&[0x05, 0x01, 0x01, 0x01, 0x00, 0x00]);
    let table: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "unknown stream type",
            vec![0x03, 1, 1],
            "unknown_stream_type",
        ),
        (
            "audio stream with a group",
            vec![0x02, 1, 1],
            "invalid_field",
        ),
        (
            "frame of another track",
            stream(StreamHeader::video(1, 1), &[key(2, 1)]),
            "invalid_field",
        ),
        (
            "frame of another group",
            stream(StreamHeader::video(1, 1), &[key(1, 2)]),
            "invalid_field",
        ),
        (
            "group without keyframe",
            stream(StreamHeader::video(1, 1), &[delta]),
            "invalid_field",
        ),
        (
            "second keyframe",
            stream(StreamHeader::video(1, 1), &[key(1, 1), key(1, 1)]),
            "invalid_field",
        ),
        ("oversized frame", oversized, "oversized"),
        ("zero-length frame", zero_len, "invalid_field"),
        ("length shorter than header", short_len, "invalid_field"),
        ("empty payload", empty_payload, "invalid_field"),
    ];
    for (name, bytes, code) in table {
        let mut reader = StreamReader::new();
        reader.push(&bytes);
        let result: Result<(), WireError> = (|| {
            while reader.next_frame()?.is_some() {}
            Ok(())
        })();
        match result {
            Ok(()) => panic!("{name}: accepted"),
            Err(e) => assert_eq!(e.code(), code, "{name}: {e}"),
        }
    }
}

#[test]
fn truncated_streams_fail_on_finish() {
    let (bytes, _) = video_stream(1, 1, &[(0, vec![1; 10]), (2, vec![2; 10])]);
    let header_len = StreamHeader::video(1, 1).encoded_len();
    let (_, _, first) = decode_stream_frame(&bytes[header_len..]).unwrap();
    // A stream may end between frames, nowhere else.
    let boundaries = [header_len, header_len + first, bytes.len()];
    for cut in 0..=bytes.len() {
        let mut reader = StreamReader::new();
        reader.push(&bytes[..cut]);
        while reader.next_frame().unwrap().is_some() {}
        let finish = reader.finish();
        if boundaries.contains(&cut) {
            assert_eq!(finish, Ok(()), "cut at {cut}");
        } else {
            assert_eq!(finish.unwrap_err().code(), "truncated", "cut at {cut}");
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    // A poor man's fuzz run, on every test run: random and mutated inputs.
    let mut g = Gen(4);
    let mut seeds: Vec<Vec<u8>> = client_messages()
        .iter()
        .map(|m| Message::to_bytes(m).unwrap())
        .collect();
    seeds.push(video_stream(1, 1, &[(0, vec![1; 30]), (1, vec![2; 30])]).0);
    for _ in 0..20_000 {
        let mut input = if g.below(2) == 0 {
            let len = g.below(64) as usize;
            g.bytes(len)
        } else {
            seeds[g.below(seeds.len() as u64) as usize].clone()
        };
        for _ in 0..g.below(4) {
            if input.is_empty() {
                break;
            }
            let at = g.below(input.len() as u64) as usize;
            input[at] = g.next() as u8;
        }
        let _ = ClientMessage::decode(&input);
        let _ = ServerMessage::decode(&input);
        let _ = FrameHeader::decode(&input);
        let _ = decode_datagram(&input);
        let _ = decode_datagram_frames(&input);
        let _ = StreamHeader::decode(&input);
        let _ = decode_stream_frame(&input);
        let mut reader = StreamReader::new();
        reader.push(&input);
        while let Ok(Some(_)) = reader.next_frame() {}
    }
}
