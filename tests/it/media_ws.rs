//! Live media over WebSocket (PROTOCOL.md §8) through the real app: Rust bots
//! connect to `ws://…/live/{session}` on the app's HTTP port with the token
//! `POST /live/join` hands out, publish and subscribe, mix with WebTransport
//! participants, and show that a slow WebSocket subscriber is dropped layers
//! without hurting anyone, and that bad input closes only its own connection.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use podium_media::bot::{
    AudioClip, Bot, BotConfig, BotError, DecodeChecks, VideoClip, unix_micros,
};
use podium_media::core::BacklogPolicy;
use podium_media::core::wire::ws::MAX_WS_MESSAGE;
use reqwest::StatusCode;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::media::{bot_for, join, live_session};
use crate::support::TestApp;

const T: Duration = Duration::from_secs(20);

fn ws_url(app: &TestApp, media: &Value) -> String {
    format!(
        "{}{}",
        app.url.replacen("http://", "ws://", 1),
        media["ws_path"].as_str().unwrap()
    )
}

fn ws_config(app: &TestApp, media: &Value) -> BotConfig {
    BotConfig::new(
        ws_url(app, media),
        Vec::new(),
        media["token"].as_str().unwrap(),
    )
    .with_origin(app.url.clone())
}

async fn ws_bot(app: &TestApp, media: &Value) -> Bot {
    Bot::connect(ws_config(app, media))
        .await
        .expect("WebSocket bot connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_bots_publish_and_subscribe_alongside_webtransport() {
    let app = TestApp::start().await;
    let people = [
        ("host@example.org", "Host", "host"),
        ("pres@example.org", "Presenter", "presenter"),
        ("ws@example.org", "Socket", "guest"),
        ("wt@example.org", "Quic", "guest"),
    ];
    let (id, c) = live_session(&app, "Over TCP", &people).await;
    join(&c[0], id).await;
    let p = join(&c[1], id).await;
    let g1 = join(&c[2], id).await;
    let g2 = join(&c[3], id).await;
    assert_eq!(p.media["ws_path"], format!("/live/{id}"));

    // The presenter publishes over WebSocket; one guest listens over
    // WebSocket, the other over WebTransport: both decode it.
    let mut publisher = ws_bot(&app, &p.media).await;
    let clip = VideoClip::fixture();
    let vt = publisher
        .publish(1, clip.track_config())
        .await
        .expect("on stage");
    let at = publisher
        .publish(2, AudioClip::track_config())
        .await
        .unwrap();
    let _v = publisher.start_video(1, vt, clip.clone());
    let _a = publisher.start_audio(2, at, AudioClip::speech_like(2).unwrap());
    let over_ws = ws_bot(&app, &g1.media).await;
    let over_wt = bot_for(&app, &g2.media).await;
    for b in [&over_ws, &over_wt] {
        let s = b
            .wait_until("the presenter's video and audio decoded", T, |s| {
                s.track(vt.0).decoded >= 10 && s.track(at.0).decoded >= 10
            })
            .await
            .unwrap();
        assert_eq!(s.track(vt.0).decode_errors + s.track(at.0).decode_errors, 0);
        assert_eq!(s.track(vt.0).first_was_keyframe, Some(true));
    }
    // A WebTransport publisher reaches the WebSocket guest too.
    let mut quic_pub = bot_for(&app, &join(&c[0], id).await.media).await;
    let ht = quic_pub
        .publish(1, clip.track_config())
        .await
        .expect("the host publishes");
    let _h = quic_pub.start_video(1, ht, clip.clone());
    over_ws
        .wait_until("the host's video over WebSocket", T, |s| {
            s.track(ht.0).decoded >= 5
        })
        .await
        .unwrap();

    // /metrics counts participants per transport.
    assert_eq!(
        app.metric("podium_media_participants{transport=\"websocket\"}")
            .await,
        2.0
    );
    assert_eq!(
        app.metric("podium_media_participants{transport=\"webtransport\"}")
            .await,
        2.0
    );
    let members = app
        .server()
        .sfu
        .members(podium_media::SessionId(id))
        .await
        .unwrap();
    let on_ws = members
        .iter()
        .filter(|m| m.transport == podium_media::Transport::WebSocket)
        .count();
    assert_eq!(on_ws, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upgrade_is_checked_like_any_state_changing_request() {
    let app = TestApp::start().await;
    let url = format!("{}/live/1", app.url);
    let http = reqwest::Client::new();
    let ws_headers = |r: reqwest::RequestBuilder| {
        r.header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    };
    let cases: [(&str, reqwest::RequestBuilder, StatusCode, &str); 5] = [
        (
            "no upgrade",
            http.get(&url).header("origin", &app.url),
            StatusCode::UPGRADE_REQUIRED,
            "websocket_required",
        ),
        (
            "foreign origin",
            ws_headers(http.get(&url))
                .header("sec-websocket-version", "13")
                .header("origin", "https://evil.example"),
            StatusCode::FORBIDDEN,
            "csrf_origin",
        ),
        (
            "no origin",
            ws_headers(http.get(&url)).header("sec-websocket-version", "13"),
            StatusCode::FORBIDDEN,
            "csrf_origin",
        ),
        (
            "old version",
            ws_headers(http.get(&url))
                .header("sec-websocket-version", "8")
                .header("origin", &app.url),
            StatusCode::UPGRADE_REQUIRED,
            "websocket_version",
        ),
        (
            "POST",
            http.post(&url).header("origin", &app.url),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (name, req, status, code) in cases {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), status, "{name}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{name}: {body}");
    }
    // A good upgrade with a bad token: closed with 4003 and the token's code.
    let config = BotConfig::new(
        url.replacen("http://", "ws://", 1),
        Vec::new(),
        "v1.bad.token",
    )
    .with_origin(app.url.clone());
    let e = Bot::connect(config).await.unwrap_err();
    assert!(
        matches!(&e, BotError::Closed { code: 3, reason } if reason.starts_with("token_malformed")),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_websocket_input_closes_only_that_connection() {
    let app = TestApp::start().await;
    let mut people = vec![
        ("host@example.org", "Host", "host"),
        ("pres@example.org", "Presenter", "presenter"),
        ("watch@example.org", "Watcher", "guest"),
    ];
    let table: Vec<(&str, Message, u64, &str)> = vec![
        ("text message", Message::text("hello"), 1, "text_message: "),
        (
            "unknown kind",
            Message::binary(vec![0x07, 1, 2]),
            1,
            "unknown_websocket_message: ",
        ),
        (
            "empty message",
            Message::binary(Vec::<u8>::new()),
            1,
            "truncated: ",
        ),
        (
            "bad control bytes",
            Message::binary(vec![0x00, 0, 0, 0, 2, 0x7e, b'{']),
            1,
            "unknown_message_type: ",
        ),
        (
            "bad datagram type",
            Message::binary(vec![0x01, 0x09, 1, 0, 0, 0, 1]),
            1,
            "unknown_datagram_type: ",
        ),
        (
            "bad stream kind",
            Message::binary(vec![0x02, 0x09, 1, 1, 0]),
            1,
            "unknown_stream_type: ",
        ),
        (
            "finish of nothing",
            Message::binary(vec![0x03, 0x01, 1, 1]),
            1,
            "truncated: ",
        ),
        (
            "delta first in a group",
            Message::binary(vec![0x02, 0x01, 1, 1, 6, 0x00, 1, 1, 0, 0, 9]),
            1,
            "invalid_field: ",
        ),
        (
            "oversized",
            Message::binary(vec![0x02; MAX_WS_MESSAGE + 1]),
            1,
            "oversized: ",
        ),
    ];
    let emails: Vec<String> = (0..table.len())
        .map(|i| format!("bad{i}@example.org"))
        .collect();
    for e in &emails {
        people.push((e, "Offender", "guest"));
    }
    let (id, c) = live_session(&app, "Bad input", &people).await;
    join(&c[0], id).await;
    let p = join(&c[1], id).await;
    let w = join(&c[2], id).await;
    let mut publisher = ws_bot(&app, &p.media).await;
    let clip = VideoClip::fixture();
    let vt = publisher.publish(1, clip.track_config()).await.unwrap();
    let _v = publisher.start_video(1, vt, clip);
    let watcher = ws_bot(&app, &w.media).await;
    watcher
        .wait_until("video", T, |s| s.track(vt.0).frames > 0)
        .await
        .unwrap();

    for (i, (name, message, code, reason)) in table.into_iter().enumerate() {
        let o = join(&c[3 + i], id).await;
        let mut config = ws_config(&app, &o.media);
        config.auto_subscribe = false;
        let offender = Bot::connect(config).await.unwrap();
        assert!(offender.send_ws_raw(message), "{name}: sent");
        match tokio::time::timeout(T, offender.closed())
            .await
            .expect(name)
        {
            BotError::Closed {
                code: got,
                reason: text,
            } => {
                assert_eq!(got, code, "{name}: {text}");
                assert!(text.starts_with(reason), "{name}: {text}");
            }
            other => panic!("{name}: {other:?}"),
        }
        // The others are unaffected.
        let before = watcher.stats().track(vt.0).frames;
        watcher
            .wait_until("more video", T, |s| s.track(vt.0).frames >= before + 3)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// A WebSocket subscriber reading at ~10% of the rate: the others (over
/// WebSocket and WebTransport) receive every frame of a window of frames,
/// while the slow one loses video layers and groups at the server, whose
/// queue for it stays bounded. (Counts of frames, not wall-clock time: see
/// media/tests/it/congestion.rs for the window method.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_websocket_subscriber_does_not_hurt_the_others() {
    let app = TestApp::start().await;
    let people = [
        ("host@example.org", "Host", "host"),
        ("pres@example.org", "Presenter", "presenter"),
        ("fast1@example.org", "Fast WS", "guest"),
        ("fast2@example.org", "Fast WT", "guest"),
        ("slow@example.org", "Slow WS", "guest"),
    ];
    let (id, c) = live_session(&app, "Slow", &people).await;
    join(&c[0], id).await;
    let p = join(&c[1], id).await;
    let f1 = join(&c[2], id).await;
    let f2 = join(&c[3], id).await;
    let s = join(&c[4], id).await;
    let mut publisher = ws_bot(&app, &p.media).await;
    let clip = VideoClip::fixture();
    let vt = publisher.publish(1, clip.track_config()).await.unwrap();
    let at = publisher
        .publish(2, AudioClip::track_config())
        .await
        .unwrap();
    let video = publisher.start_video(1, vt, clip.clone());
    let audio = publisher.start_audio(2, at, AudioClip::speech_like(2).unwrap());
    let fast = [
        ws_bot(&app, &f1.media).await,
        bot_for(&app, &f2.media).await,
    ];
    let mut slow_config = ws_config(&app, &s.media);
    slow_config.receive_window = Some(16 * 1024);
    slow_config.read_rate = Some(8_000); // the clip is ~75 kB/s of video
    slow_config.decode = DecodeChecks {
        audio_every: 0,
        video_frames_per_track: 0,
    };
    let slow = Bot::connect(slow_config).await.unwrap();
    for f in &fast {
        f.wait_until("video", T, |s| s.track(vt.0).keyframes > 0)
            .await
            .unwrap();
    }
    slow.wait_until("audio", T, |s| s.track(at.0).frames > 0)
        .await
        .unwrap();

    let bots = [&publisher, &fast[0], &fast[1], &slow];
    let set = |start: u64, end: u64| {
        for b in bots {
            b.set_window(start, end);
        }
    };
    let (sv, sa) = (&video.counters, &audio.counters);
    let sfu = app.server().sfu.clone();
    let session = podium_media::SessionId(id);
    let mut max_queued = 0;
    let start = unix_micros() + 200_000;
    set(start, u64::MAX);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    // The window lasts until the publisher sent its frames and the slow
    // subscriber's link (the queue's drain rate, its backlog) made the router
    // drop something (the socket's buffers fill first, then the SFU's queue).
    let dropped = |s: &podium_media::SessionStats| {
        s.router.drops.budget + s.router.drops.congestion + s.router.group_drops > 0
    };
    loop {
        let stats = sfu.stats(session).await.unwrap();
        max_queued = max_queued.max(stats.io.max_queued_bytes);
        if sv.window_frames.load(Relaxed) >= 90
            && sa.window_frames.load(Relaxed) >= 150
            && dropped(&stats)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the publisher is stuck or nothing was dropped (largest queue {max_queued} B): {:?}",
            stats.router
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let end = unix_micros() + 200_000;
    set(start, end);
    while unix_micros() < end {
        max_queued = max_queued.max(sfu.stats(session).await.unwrap().io.max_queued_bytes);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (after_v, after_a) = (sv.frames.load(Relaxed), sa.frames.load(Relaxed));
    while sv.frames.load(Relaxed) < after_v + 2 || sa.frames.load(Relaxed) < after_a + 2 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    video.stop();
    audio.stop();
    let (sent_video, sent_audio) = (
        sv.window_frames.load(Relaxed),
        sa.window_frames.load(Relaxed),
    );
    for f in &fast {
        let got = f
            .wait_until("every frame of the window", T, |s| {
                s.window_frames >= sent_video + sent_audio
            })
            .await
            .unwrap();
        assert_eq!(got.window_frames, sent_video + sent_audio);
        assert_eq!(
            got.track(vt.0).gaps,
            0,
            "nothing dropped for a fast subscriber"
        );
    }
    let got = slow.stats();
    let stats = sfu.stats(session).await.unwrap();
    assert!(
        got.track(vt.0).frames < (sent_video * 2) / 3,
        "the slow subscriber got {} video frames of {sent_video}",
        got.track(vt.0).frames
    );
    assert!(
        got.track(at.0).frames > 0,
        "audio reaches the slow subscriber"
    );
    let policy = BacklogPolicy::default();
    assert!(
        max_queued <= policy.drop_group_above + 64 * 1024,
        "queue bounded: {max_queued}"
    );
    assert!(
        dropped(&stats),
        "layers or groups dropped for the slow one: {:?}",
        stats.router
    );
    println!(
        "slow WebSocket subscriber: {} of {sent_video} video frames, {} of {sent_audio} audio frames; largest queue {max_queued} B; {} late audio frames dropped",
        got.track(vt.0).frames,
        got.track(at.0).frames,
        stats.io.ws_audio_late
    );
}

/// The room's word reaches WebSocket participants too: a second connection
/// replaces the first (4004), a host's removal closes with 4005 `removed`
/// and the metric forgets them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacement_and_removal_close_a_websocket_with_their_codes() {
    let app = TestApp::start().await;
    let people = [
        ("host@example.org", "Host", "host"),
        ("guest@example.org", "Guest", "guest"),
    ];
    let (id, c) = live_session(&app, "Codes", &people).await;
    join(&c[0], id).await;
    let g = join(&c[1], id).await;
    let first = ws_bot(&app, &g.media).await;
    let second = ws_bot(&app, &join(&c[1], id).await.media).await;
    match tokio::time::timeout(T, first.closed()).await.unwrap() {
        BotError::Closed { code, reason } => {
            assert_eq!(code, 4, "{reason}");
            assert!(reason.starts_with("replaced: "), "{reason}");
        }
        other => panic!("expected replacement, got {other:?}"),
    }
    let (s, b) = c[0]
        .post(
            &format!("/api/sessions/{id}/live/moderate"),
            serde_json::json!({"action": "remove", "user_id": g.user_id}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    match tokio::time::timeout(T, second.closed()).await.unwrap() {
        BotError::Closed { code, reason } => {
            assert_eq!(code, 5, "{reason}");
            assert!(reason.starts_with("removed: "), "{reason}");
        }
        other => panic!("expected removal, got {other:?}"),
    }
    let gone = async {
        while app
            .metric("podium_media_participants{transport=\"websocket\"}")
            .await
            != 0.0
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(T, gone)
        .await
        .expect("the metric forgets them");
}
