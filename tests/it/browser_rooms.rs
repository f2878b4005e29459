//! Breakout rooms in real browsers with real media: four headless Chromium
//! pages (a host and three guests) and a Rust bot; two rooms; each guest
//! decodes its room-mate's video and receives its audio and nothing from the
//! other room; the host visits a room from the room switcher and decodes
//! both guests there; closing brings everyone back to the main room.

use std::time::Duration;

use podium_media::bot::{AudioClip, VideoClip};
use podium_media::core::ServerMessage;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::media::{bot_for, join};
use crate::support::TestApp;
use crate::support::browser::Browser;

/// Decoded video frames and received audio frames from `who` on this page.
fn decoded(who: u64) -> String {
    format!(
        "(window.podiumLive && window.podiumLive.stats()) ? window.podiumLive.stats().subscribed.filter(s => s.participant === {who}).reduce((a, s) => ({{v: a.v + (s.framesDecoded || 0), a: a.a + (s.audioFramesReceived || 0)}}), {{v: 0, a: 0}}) : null"
    )
}

async fn hears(page: &Browser, who: u64) {
    page.wait_js(&decoded(who), 60, |v| {
        v["v"].as_u64().unwrap_or(0) > 10 && v["a"].as_u64().unwrap_or(0) > 10
    })
    .await;
}

/// Participants this page subscribes to.
async fn subscribed(page: &Browser) -> Vec<u64> {
    let v: Value = page
        .eval("window.podiumLive.stats().subscribed.map(s => s.participant)")
        .await;
    v.as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_u64)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breakout_rooms_in_four_browsers() {
    let _turn = crate::support::browser::exclusive().await;
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(5);
    let (_, s) = admin
        .post(
            "/api/sessions",
            json!({"title": "Workshop rooms", "starts_at": start.to_string(), "time_zone": "UTC",
            "capacity": {"host": 1, "presenter": 0, "interviewer": 0, "guest": 4}}),
        )
        .await;
    let id = s["id"].as_u64().unwrap();
    admin
        .post(&format!("/api/sessions/{id}/publish"), json!({}))
        .await;
    let people = [
        ("host@example.org", "Hana Host", "host"),
        ("ana@example.org", "Ana", "guest"),
        ("ben@example.org", "Ben", "guest"),
        ("cleo@example.org", "Cleo", "guest"),
        ("dev@example.org", "Dev Bot", "guest"),
    ];
    let mut apis = Vec::new();
    let mut ids = Vec::new();
    for (email, name, role) in people {
        let m = app.member(email, name).await;
        m.post(
            &format!("/api/sessions/{id}/registrations"),
            json!({"role": role}),
        )
        .await;
        ids.push(m.get("/api/me").await.1["user"]["id"].as_u64().unwrap());
        apis.push(m);
    }
    let live = format!("/api/sessions/{id}/live");
    let (st, b) = apis[0].post(&format!("{live}/start"), json!({})).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let live_url = format!("{}/sessions/{id}/live", app.url);

    // Four pages (the host at the size the issue measured) and a bot.
    let mut pages = Vec::new();
    for (i, (email, ..)) in people.iter().take(4).enumerate() {
        let page = if i == 0 {
            Browser::launch_sized(1280, 860).await
        } else {
            Browser::launch().await
        };
        page.sign_in(&app.url, email).await;
        page.open(&live_url, "live").await;
        page.click("#join-room").await;
        page.wait_js("document.body.dataset.liveScreen", 20, |v| v == "room")
            .await;
        pages.push(page);
    }
    let joined = join(&apis[4], id).await;
    let mut bot = bot_for(&app, &joined.media).await;

    // Two rooms: Ana and Ben; Cleo and the bot.
    let (st, b) = apis[0]
        .post(
            &format!("{live}/breakouts"),
            json!({"rooms": [
                {"name": "Room A", "user_ids": [ids[1], ids[2]]},
                {"name": "Room B", "user_ids": [ids[3], ids[4]]},
            ], "minutes": 15}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    bot.wait_for(
        "Permission in room B",
        Duration::from_secs(20),
        |m| matches!(m, ServerMessage::Permission(p) if p.room.0 == 2 && p.may_publish),
    )
    .await
    .expect("the bot is moved with the right to speak");
    let clip = VideoClip::fixture();
    let v = bot.publish(1, clip.track_config()).await.unwrap();
    let a = bot.publish(2, AudioClip::track_config()).await.unwrap();
    let _tx = (
        bot.start_video(1, v, clip),
        bot.start_audio(2, a, AudioClip::speech_like(2).unwrap()),
    );

    let (host, ana, ben, cleo) = (&pages[0], &pages[1], &pages[2], &pages[3]);
    for page in [ana, ben, cleo] {
        page.wait_js("document.body.dataset.onStage", 20, |v| v == "1")
            .await;
    }
    hears(ana, ids[2]).await;
    hears(ben, ids[1]).await;
    hears(cleo, ids[4]).await;
    ana.screenshot("live-breakout-guest").await;
    for (page, others) in [(ana, [ids[3], ids[4]]), (cleo, [ids[1], ids[2]])] {
        let subs = subscribed(page).await;
        assert!(
            others.iter().all(|o| !subs.contains(o)),
            "nothing from the other room: {subs:?}"
        );
    }
    let got = bot
        .wait_until("Cleo's video", Duration::from_secs(30), |s| {
            s.tracks.values().any(|t| t.decoded > 10)
        })
        .await;
    assert!(got.is_ok(), "the bot decodes its room-mate's browser");

    // The host visits room A from the room switcher: the host's camera and
    // microphone go along, and the host sees and hears both guests.
    host.screenshot("live-breakout-host-main").await;
    host.click("#room-switcher [data-room=\"1\"]").await;
    host.wait_js("document.body.dataset.onStage", 20, |v| v == "1")
        .await;
    hears(host, ids[1]).await;
    hears(host, ids[2]).await;
    hears(ana, ids[0]).await;
    host.screenshot("live-breakout-host-visit").await;
    let above_fold = "(() => { const r = document.getElementById('leave-room'); return !!r && r.getBoundingClientRect().bottom <= window.innerHeight; })()";
    assert_eq!(
        host.eval(above_fold).await,
        true,
        "the host's controls stay above the fold at 1280x860"
    );

    // Ben shares his screen: it takes the stage, the cameras stay in view.
    ben.click("#share-screen").await;
    host.wait_js(
        &format!("window.podiumLive.stats().subscribed.filter(s => s.participant === {} && (s.framesDecoded || 0) > 5).length", ids[2]),
        30,
        |v| v.as_u64().unwrap_or(0) >= 2,
    )
    .await;
    host.screenshot("live-breakout-screen-share").await;
    assert_eq!(
        host.eval(above_fold).await,
        true,
        "controls stay in view during a screen share"
    );
    let cameras_in_view = host
        .eval("[...document.querySelectorAll('.lr-tile:not(.lr-tile-screen)')].every(t => t.getBoundingClientRect().bottom <= window.innerHeight)")
        .await;
    assert_eq!(
        cameras_in_view, true,
        "camera tiles stay above the fold during a screen share"
    );
    ben.click("#share-screen").await;

    // Closing brings everyone back; guests return to the audience.
    host.click("#close-rooms").await;
    for page in [ana, ben, cleo] {
        page.wait_js("document.body.dataset.onStage", 20, |v| v == "0")
            .await;
    }
    ana.screenshot("live-breakout-closed").await;
    bot.close();
    for p in pages {
        p.close().await;
    }
}
