//! Simulcast over real WebTransport: a bot publishes the fixture clip at
//! 640x360 and its 320x180 quality linked to it; a subscriber decodes one
//! continuous stream whose pictures are 360 high, 180 high after it says
//! its view is small (`ViewSize`), and 360 again after it grows; the small
//! quality is never a track of its own. Bad simulcast requests are refused
//! with clear codes and leave nothing published.

use podium_media::bot::{AudioClip, BotError, DecodeChecks, VideoClip};
use podium_media::core::wire::control::{Subscribe, ViewSize};
use podium_media::core::{ServerMessage, TrackConfig, TrackId};

use crate::support::{CAM, MIC, SESSION, Server, T, close_of};

const SMALL: u32 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_view_gets_the_small_quality_as_the_same_stream() {
    let server = Server::start().await;
    let mut p = server.publisher(1, 0).await;
    let small_clip = VideoClip::fixture_small();
    let small = p
        .bot
        .publish_simulcast(SMALL, small_clip.track_config(), CAM)
        .await
        .expect("the small quality is published");
    let _small_tx = p.bot.start_video(SMALL, small, small_clip);
    let cam = p.video_track();

    let mut config = server.bot_config(2, 0, false);
    config.decode = DecodeChecks {
        audio_every: 0,
        video_frames_per_track: u32::MAX,
    };
    let w = podium_media::bot::Bot::connect(config).await.unwrap();
    let full = w
        .wait_until("360-line pictures", T, |s| {
            s.track(cam).decoded_height == 360 && s.track(cam).decoded > 10
        })
        .await
        .unwrap();
    // It sees the camera and the microphone, never the small quality's id.
    let mut seen: Vec<u32> = full.tracks.keys().copied().collect();
    seen.sort_unstable();
    assert_eq!(seen, vec![cam, p.audio_track()]);
    assert!(!full.tracks.contains_key(&small.0));

    w.send(ViewSize {
        track: TrackId(cam),
        max_height: 180,
    })
    .await
    .unwrap();
    let before = w.stats().track(cam).decoded;
    let got = w
        .wait_until("180-line pictures", T, |s| {
            s.track(cam).decoded_height == 180 && s.track(cam).decoded > before + 10
        })
        .await
        .unwrap();
    let t = got.track(cam);
    assert_eq!(t.decode_errors, 0, "{t:?}");
    assert_eq!(t.stale, 0, "groups only grow: {t:?}");

    w.send(ViewSize {
        track: TrackId(cam),
        max_height: 720,
    })
    .await
    .unwrap();
    let before = w.stats().track(cam).decoded;
    let got = w
        .wait_until("360-line pictures again", T, |s| {
            s.track(cam).decoded_height == 360 && s.track(cam).decoded > before + 10
        })
        .await
        .unwrap();
    let t = got.track(cam);
    assert_eq!((t.decode_errors, t.stale), (0, 0), "{t:?}");
    let stats = server.handle.stats(SESSION).await.unwrap();
    assert!(stats.router.quality_switches >= 2, "{:?}", stats.router);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_simulcast_requests_are_refused_with_clear_codes() {
    let server = Server::start().await;
    let mut p = server.bot(1, 0, true).await;
    let clip = VideoClip::fixture();
    p.publish(CAM, clip.track_config()).await.unwrap();
    p.publish(MIC, AudioClip::track_config()).await.unwrap();
    let mut other = server.bot(2, 0, true).await;
    other.publish(40, clip.track_config()).await.unwrap();

    let small = || TrackConfig::av1(320, 180);
    // (what, the new track, linked to, code)
    let table: [(&str, u32, TrackConfig, u32, &str); 6] = [
        (
            "a track I do not publish",
            10,
            small(),
            9,
            "unknown_client_track",
        ),
        (
            "another participant's track id",
            10,
            small(),
            40,
            "unknown_client_track",
        ),
        ("linked to audio", 10, small(), MIC, "invalid_simulcast"),
        (
            "audio linked",
            10,
            AudioClip::track_config(),
            CAM,
            "invalid_simulcast",
        ),
        (
            "not smaller",
            10,
            TrackConfig::av1(640, 360),
            CAM,
            "invalid_simulcast",
        ),
        (
            "another codec",
            10,
            TrackConfig::vp8(320, 180),
            CAM,
            "invalid_simulcast",
        ),
    ];
    for (what, id, config, of, code) in table {
        match p.publish_simulcast(id, config, of).await {
            Err(BotError::Refused { code: got, reason }) => {
                assert_eq!(got, code, "{what}: {reason}");
                assert!(!reason.is_empty(), "{what}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    // The real one, then a third quality and a small one of the small one.
    let small_id = p.publish_simulcast(SMALL, small(), CAM).await.unwrap();
    for (what, of) in [("a third quality", CAM), ("small of small", SMALL)] {
        match p.publish_simulcast(11, small(), of).await {
            Err(BotError::Refused { code, .. }) => assert_eq!(code, "invalid_simulcast", "{what}"),
            other => panic!("{what}: {other:?}"),
        }
    }
    // A newcomer hears of the camera, the microphone and the other's
    // camera: nothing refused was published, the small quality is not announced.
    let mut config = server.bot_config(3, 0, false);
    config.auto_subscribe = false;
    let mut w = podium_media::bot::Bot::connect(config).await.unwrap();
    w.wait_for("Roster", T, |m| matches!(m, ServerMessage::Roster(_)))
        .await
        .unwrap();
    let added = w
        .take_events()
        .into_iter()
        .filter(|m| matches!(m, ServerMessage::TrackAdded(_)))
        .count();
    assert_eq!(added, 3);

    // Subscribing to the small quality itself; ViewSize for a track not subscribed.
    w.send(Subscribe { track: small_id }).await.unwrap();
    let m = w
        .wait_for("Error", T, |m| matches!(m, ServerMessage::Error(_)))
        .await
        .unwrap();
    assert!(
        matches!(&m, ServerMessage::Error(e) if e.code == "small_quality"),
        "{m:?}"
    );
    w.send(ViewSize {
        track: small_id,
        max_height: 100,
    })
    .await
    .unwrap();
    let m = w
        .wait_for("Error", T, |m| matches!(m, ServerMessage::Error(_)))
        .await
        .unwrap();
    assert!(
        matches!(&m, ServerMessage::Error(e) if e.code == "not_subscribed"),
        "{m:?}"
    );

    // An undecodable ViewSize closes that session only (code 1).
    let mut config = server.bot_config(4, 0, false);
    config.auto_subscribe = false;
    let offender = podium_media::bot::Bot::connect(config).await.unwrap();
    let body = br#"{"track":1,"max_height":9000}"#;
    let mut raw = ((body.len() + 1) as u32).to_be_bytes().to_vec();
    raw.push(0x09);
    raw.extend_from_slice(body);
    offender.send_raw_control(&raw).await.unwrap();
    let (code, text) = close_of(offender.connection(), "too tall").await;
    assert_eq!(code, 1, "{text}");
    assert!(text.starts_with("invalid_body: "), "{text}");
}

/// Ten publishers of a simulcast camera and a microphone; a subscriber
/// that reads ~300 kbit/s (its QUIC flow control holds the server back)
/// gets video, and settles on the small quality. (Before its first link
/// report a subscriber's new subscriptions start at the top; on a slow
/// machine one camera's first full-quality keyframe can get through before
/// the reports bring it down, so the test asks where it settles.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thin_subscriber_gets_small_video_among_ten_publishers() {
    let server = Server::start().await;
    let small_clip = VideoClip::fixture_small();
    let mut pubs = Vec::new();
    for i in 1..=10u64 {
        let mut p = server.publisher(i, 0).await;
        let small = p
            .bot
            .publish_simulcast(SMALL, small_clip.track_config(), CAM)
            .await
            .unwrap();
        let tx = p.bot.start_video(SMALL, small, small_clip.clone());
        pubs.push((p, tx));
    }
    let mut config = server.bot_config(50, 0, false);
    config.receive_window = Some(16 * 1024);
    config.read_rate = Some(37_500);
    config.decode = DecodeChecks {
        audio_every: 0,
        video_frames_per_track: u32::MAX,
    };
    let slow = podium_media::bot::Bot::connect(config).await.unwrap();
    let cams: Vec<u32> = pubs.iter().map(|(p, _)| p.video_track()).collect();
    let decoded = |s: &podium_media::bot::ReceiveStats| -> u64 {
        cams.iter().map(|c| s.track(*c).decoded).sum()
    };
    let s = slow
        .wait_until(
            "small video from every camera it decodes",
            std::time::Duration::from_secs(30),
            |s| {
                decoded(s) >= 20
                    && cams.iter().all(|c| {
                        let t = s.track(*c);
                        t.decoded == 0 || t.decoded_height == 180
                    })
            },
        )
        .await
        .unwrap();
    for c in &cams {
        let t = s.track(*c);
        assert!(
            t.decoded == 0 || t.decoded_height == 180,
            "camera {c}: {t:?}"
        );
    }
    let audio: u64 = pubs
        .iter()
        .map(|(p, _)| s.track(p.audio_track()).frames)
        .sum();
    assert!(audio > 0);
}
