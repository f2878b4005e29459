//! Live media end to end through the real app and its SFU: headless
//! Chromium pages publish their fake camera and microphone with WebCodecs
//! (AV1 + Opus) over WebTransport; a Rust bot publishes a real AV1 clip and
//! Opus; each side decodes the others' media (the bot with dav1d and libopus).

use std::time::Duration;

use base64::Engine;
use jiff::{SignedDuration, Timestamp};
use podium_media::CertHash;
use podium_media::bot::{AudioClip, Bot, BotConfig, VideoClip};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::browser::Browser;
use crate::support::{Api, TestApp};

pub(crate) struct Joined {
    pub media: Value,
    pub user_id: u64,
}

pub(crate) async fn join(c: &Api, id: u64) -> Joined {
    let (s, j) = c
        .post(&format!("/api/sessions/{id}/live/join"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{j}");
    assert!(j["media"]["token"].is_string(), "{j}");
    Joined {
        user_id: j["live"]["me"]["user_id"].as_u64().unwrap(),
        media: j["media"].clone(),
    }
}

/// A published session with `people` (email, name, role) registered, started
/// by the first of them (the host). Returns the session id and their clients.
pub(crate) async fn live_session(
    app: &TestApp,
    title: &str,
    people: &[(&str, &str, &str)],
) -> (u64, Vec<Api>) {
    let admin = app.admin().await;
    let start = Timestamp::now() + SignedDuration::from_mins(5);
    let mut capacity = json!({"host": 1, "presenter": 0, "interviewer": 0, "guest": 0});
    for (_, _, role) in people.iter().skip(1) {
        capacity[*role] = json!(capacity[*role].as_u64().unwrap() + 1);
    }
    let (_, s) = admin
        .post("/api/sessions", json!({"title": title, "starts_at": start.to_string(), "time_zone": "UTC", "capacity": capacity}))
        .await;
    let id = s["id"].as_u64().unwrap();
    admin
        .post(&format!("/api/sessions/{id}/publish"), json!({}))
        .await;
    let mut clients = Vec::new();
    for (email, name, role) in people {
        let c = app.member(email, name).await;
        let (st, b) = c
            .post(
                &format!("/api/sessions/{id}/registrations"),
                json!({"role": role}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{b}");
        clients.push(c);
    }
    let (st, b) = clients[0]
        .post(&format!("/api/sessions/{id}/live/start"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    (id, clients)
}

fn page_url(app: &TestApp, media: &Value) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let hashes: Vec<&str> = media["cert_hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    format!(
        "{}/media-test.html#url={}&token={}&hashes={}&publish=camera,mic&subscribe=all",
        app.url,
        enc(media["url"].as_str().unwrap()),
        enc(media["token"].as_str().unwrap()),
        enc(&hashes.join(",")),
    )
}

pub(crate) fn hashes(media: &Value) -> Vec<CertHash> {
    media["cert_hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let b = base64::engine::general_purpose::STANDARD
                .decode(h.as_str().unwrap())
                .unwrap();
            CertHash(b.try_into().unwrap())
        })
        .collect()
}

/// Decoded tracks per publisher in a page's stats.
fn decoded_from(stats: &Value, participant: u64) -> (u64, u64) {
    let subs = stats["full"]["subscribed"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let of = |kind: &str, key: &str| {
        subs.iter()
            .filter(|s| s["participant"] == participant && s["kind"] == kind)
            .map(|s| s[key].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    (
        of("video", "framesDecoded"),
        of("audio", "audioFramesDecoded"),
    )
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_and_a_bot_exchange_media_through_the_sfu() {
    let _turn = crate::support::browser::exclusive().await;
    let app = TestApp::start().await;
    let people = [
        ("host@example.org", "Host", "host"),
        ("pres@example.org", "Presenter", "presenter"),
        ("bot@example.org", "Bot", "presenter"),
    ];
    let (id, c) = live_session(&app, "Media", &people).await;
    let (h, p, b) = (
        join(&c[0], id).await,
        join(&c[1], id).await,
        join(&c[2], id).await,
    );

    // The bot: a real AV1 clip and Opus, subscribing to everyone.
    let mut bot = Bot::connect(
        BotConfig::new(
            b.media["url"].as_str().unwrap(),
            hashes(&b.media),
            b.media["token"].as_str().unwrap(),
        )
        .with_origin(app.url.clone()),
    )
    .await
    .expect("bot connects through the app's token");
    let clip = VideoClip::fixture();
    let vt = bot
        .publish(1, clip.track_config())
        .await
        .expect("bot may publish on stage");
    let at = bot.publish(2, AudioClip::track_config()).await.unwrap();
    let _video = bot.start_video(1, vt, clip);
    let _audio = bot.start_audio(2, at, AudioClip::speech_like(2).unwrap());

    // Two real browsers, each publishing its fake camera and microphone.
    let b1 = Browser::launch().await;
    let b2 = Browser::launch().await;
    b1.client.goto(&page_url(&app, &h.media)).await.unwrap();
    b2.client.goto(&page_url(&app, &p.media)).await.unwrap();
    for (page, others) in [(&b1, [p.user_id, b.user_id]), (&b2, [h.user_id, b.user_id])] {
        let stats = page
            .wait_js("window.podiumTest && window.podiumTest.stats()", 60, |s| {
                assert!(s["error"].is_null(), "page error: {s}");
                others.iter().all(|o| {
                    let (v, a) = decoded_from(s, *o);
                    v > 20 && a > 25
                })
            })
            .await;
        assert!(
            stats["framesSent"].as_u64().unwrap() > 0
                && stats["audioFramesSent"].as_u64().unwrap() > 0
        );
    }
    b1.screenshot("media-test-page").await;

    // The bot decoded both browsers' AV1 (dav1d) and Opus (libopus).
    let stats = bot
        .wait_until("browser media decoded", Duration::from_secs(30), |s| {
            s.tracks.values().filter(|t| t.decoded >= 10).count() >= 4
        })
        .await
        .expect("the bot decodes both browsers' video and audio");
    for (track, t) in &stats.tracks {
        assert_eq!(t.decode_errors, 0, "track {track} decoded cleanly");
        assert_ne!(
            t.first_was_keyframe,
            Some(false),
            "track {track} starts at a keyframe"
        );
    }

    // Capture-to-decoded latency, browser to browser through the server,
    // over 8 s once everything runs (a printout for the notes, not a check).
    let before: Vec<Value> = vec![
        b1.eval("window.podiumTest.latencySamples()").await,
        b2.eval("window.podiumTest.latencySamples()").await,
    ];
    tokio::time::sleep(Duration::from_secs(8)).await;
    let mut video = Vec::new();
    let mut audio = Vec::new();
    for (n, page) in [&b1, &b2].into_iter().enumerate() {
        let s = page.eval("window.podiumTest.latencySamples()").await;
        let skip = |k: &str, i: usize| before[n][k][i].as_array().map_or(0, Vec::len);
        let lists = |k: &str| s[k].as_array().cloned().unwrap_or_default();
        let subs = page.eval("window.podiumTest.stats().full.subscribed").await;
        for (i, list) in lists("video").iter().enumerate() {
            // Only browser publishers: the bot stamps its clip on its own clock.
            let from_bot = subs
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| x["kind"] == "video")
                .nth(i)
                .is_some_and(|x| x["participant"] == b.user_id);
            if !from_bot {
                video.extend(
                    list.as_array()
                        .unwrap()
                        .iter()
                        .skip(skip("video", i))
                        .filter_map(Value::as_f64),
                );
            }
        }
        for (i, list) in lists("audio").iter().enumerate() {
            let from_bot = subs
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| x["kind"] == "audio")
                .nth(i)
                .is_some_and(|x| x["participant"] == b.user_id);
            if !from_bot {
                audio.extend(
                    list.as_array()
                        .unwrap()
                        .iter()
                        .skip(skip("audio", i))
                        .filter_map(Value::as_f64),
                );
            }
        }
    }
    assert!(!video.is_empty() && !audio.is_empty());
    println!(
        "browser capture->decoded latency through the server: video p50 {:.1} ms p95 {:.1} ms ({} frames); audio p50 {:.1} ms p95 {:.1} ms ({} frames)",
        percentile(video.clone(), 0.5),
        percentile(video.clone(), 0.95),
        video.len(),
        percentile(audio.clone(), 0.5),
        percentile(audio.clone(), 0.95),
        audio.len()
    );
    bot.close();
    b1.close().await;
    b2.close().await;
}

pub(crate) async fn bot_for(app: &TestApp, media: &Value) -> Bot {
    Bot::connect(
        BotConfig::new(
            media["url"].as_str().unwrap(),
            hashes(media),
            media["token"].as_str().unwrap(),
        )
        .with_origin(app.url.clone()),
    )
    .await
    .expect("bot connects")
}

/// The live room's rules carried out on real media: the audience cannot
/// publish; approval puts a guest's media on stage; moving off stage removes
/// it; removal disconnects; a reconnect replaces the old connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_rules_are_enforced_on_media() {
    use podium_media::core::ServerMessage;
    let app = TestApp::start_with(
        "[live]
countdown_seconds = 1
",
    )
    .await;
    let people = [
        ("host@example.org", "Host", "host"),
        ("pres@example.org", "Presenter", "presenter"),
        ("guest@example.org", "Guest", "guest"),
    ];
    let (id, c) = live_session(&app, "Rules", &people).await;
    let (host, pres, guest) = (&c[0], &c[1], &c[2]);
    let live = format!("/api/sessions/{id}/live");
    join(host, id).await;
    let p = join(pres, id).await;
    let g = join(guest, id).await;
    let t = Duration::from_secs(15);

    let mut pb = bot_for(&app, &p.media).await;
    let mut gb = bot_for(&app, &g.media).await;
    let clip = VideoClip::fixture();
    let pv = pb
        .publish(1, clip.track_config())
        .await
        .expect("the presenter is on stage");
    let _pv = pb.start_video(1, pv, clip.clone());

    // The media engine makes a thumbnail of the presenter's camera for the pages.
    let thumb = format!("{}{live}/thumbnail?user={}", app.url, p.user_id);
    let jpeg = async {
        loop {
            let r = guest.http.get(&thumb).send().await.unwrap();
            if r.status() == StatusCode::OK {
                assert_eq!(r.headers()["content-type"], "image/jpeg");
                return r.bytes().await.unwrap();
            }
            assert_eq!(r.status(), StatusCode::NOT_FOUND);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let jpeg = tokio::time::timeout(Duration::from_secs(15), jpeg)
        .await
        .expect("a thumbnail");
    assert_eq!(&jpeg[..3], &[0xff, 0xd8, 0xff], "a JPEG");
    let any = guest
        .http
        .get(format!("{}{live}/thumbnail", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        any.status(),
        StatusCode::OK,
        "the first speaker's picture without a user"
    );
    let bad = guest.get(&format!("{live}/thumbnail?user=abc")).await;
    assert_eq!(bad.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.client().get(&format!("{live}/thumbnail")).await.0,
        StatusCode::UNAUTHORIZED
    );

    // The audience cannot publish; it receives the stage.
    let refused = gb.publish(1, clip.track_config()).await;
    assert!(
        matches!(refused, Err(podium_media::bot::BotError::Refused { .. })),
        "{refused:?}"
    );
    gb.wait_until("the presenter's video", t, |s| {
        s.tracks.get(&pv.0).is_some_and(|x| x.decoded > 5)
    })
    .await
    .unwrap();

    // Request, approval, countdown: then the guest's media reaches the stage.
    guest
        .post(
            &format!("{live}/stage/request"),
            json!({"kind": "stage", "camera": true, "mic": true}),
        )
        .await;
    host.post(
        &format!("{live}/stage/approve"),
        json!({"user_id": g.user_id}),
    )
    .await;
    gb.wait_for(
        "Permission to publish",
        t,
        |m| matches!(m, ServerMessage::Permission(x) if x.may_publish),
    )
    .await
    .unwrap();
    let gv = gb
        .publish(1, clip.track_config())
        .await
        .expect("on stage after the countdown");
    let _gv = gb.start_video(1, gv, clip.clone());
    pb.wait_until("the guest's video", t, |s| {
        s.tracks.get(&gv.0).is_some_and(|x| x.decoded > 5)
    })
    .await
    .unwrap();

    // Moved off stage: the guest's track is removed for everyone.
    host.post(
        &format!("{live}/moderate"),
        json!({"action": "off_stage", "user_id": g.user_id}),
    )
    .await;
    pb.wait_for(
        "TrackRemoved",
        t,
        |m| matches!(m, ServerMessage::TrackRemoved(x) if x.track == gv),
    )
    .await
    .unwrap();
    assert!(
        gb.publish(2, clip.track_config()).await.is_err(),
        "no publishing off stage"
    );

    // A reconnect with a fresh token replaces the old connection (code 4).
    let p2 = join(pres, id).await;
    let pb2 = bot_for(&app, &p2.media).await;
    match pb.closed().await {
        podium_media::bot::BotError::Closed { code, .. } => assert_eq!(code, 4),
        other => panic!("expected replacement, got {other:?}"),
    }
    drop(pb2);

    // Removal by a host disconnects (code 5) and the guest cannot come back.
    host.post(
        &format!("{live}/moderate"),
        json!({"action": "remove", "user_id": g.user_id}),
    )
    .await;
    match gb.closed().await {
        podium_media::bot::BotError::Closed { code, .. } => assert_eq!(code, 5),
        other => panic!("expected removal, got {other:?}"),
    }
    let (s, _) = guest.post(&format!("{live}/join"), json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// Approved between joining and connecting: the media engine still learns
/// the new publish right once the WebTransport session is up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_before_connecting_reaches_the_media_engine() {
    use podium_media::core::ServerMessage;
    let app = TestApp::start_with("[live]\ncountdown_seconds = 0\n").await;
    let people = [
        ("host@example.org", "Host", "host"),
        ("guest@example.org", "Guest", "guest"),
    ];
    let (id, c) = live_session(&app, "Race", &people).await;
    let (host, guest) = (&c[0], &c[1]);
    let live = format!("/api/sessions/{id}/live");
    join(host, id).await;
    let g = join(guest, id).await;
    assert!(g.media["token"].is_string());
    guest
        .post(&format!("{live}/stage/request"), json!({"kind": "stage"}))
        .await;
    host.post(
        &format!("{live}/stage/approve"),
        json!({"user_id": g.user_id}),
    )
    .await;
    let on_stage = async {
        loop {
            if guest.get(&live).await.1["me"]["on_stage"] == true {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), on_stage)
        .await
        .unwrap();
    // The token from before the approval says "may not publish"; the SFU
    // takes the room's current word instead: in the Welcome when the grant
    // was there first, or as a Permission right after.
    let mut gb = bot_for(&app, &g.media).await;
    if !gb.welcome().may_publish {
        gb.wait_for(
            "Permission to publish",
            Duration::from_secs(10),
            |m| matches!(m, ServerMessage::Permission(x) if x.may_publish),
        )
        .await
        .expect("the approval reaches the SFU after connecting");
    }
    let clip = VideoClip::fixture();
    gb.publish(1, clip.track_config())
        .await
        .expect("may publish now");
}
