//! Simulcast in real browsers: the host's camera goes out in two qualities
//! (640x360 and 320x180, two WebCodecs encoders fed the same frames); a
//! guest whose page shows the host's tile large decodes the full quality, a
//! guest on a low window (a tile at most 240 px high) decodes the small one,
//! each as the one continuous stream the SFU makes of the two (the decoded
//! frame size is read from the tile's `data-decoded-height`). Making the
//! low window tall brings the full quality back. Before anyone watches, the
//! host's page is told nobody wants the full quality and stops encoding it.
//! Screenshots of both guests.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::browser::Browser;

/// The host's camera tile on a guest's page: its height in CSS pixels and
/// the height of the frames it decodes.
fn tile(host: u64) -> String {
    format!(
        "(() => {{ const t = document.querySelector('.lr-tile[data-user-id=\"{host}\"]'); \
         if (!t) return null; const c = t.querySelector('canvas.tile-video'); \
         return {{shown: c ? Math.round(c.getBoundingClientRect().height) : 0, \
         decoded: Number(t.dataset.decodedHeight || 0), frames: Number(t.dataset.framesDecoded || 0)}}; }})()"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_tile_decodes_the_small_quality_and_a_big_one_the_full() {
    let _turn = crate::support::browser::exclusive().await;
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(5);
    let (_, s) = admin
        .post(
            "/api/sessions",
            json!({"title": "Two sizes", "starts_at": start.to_string(), "time_zone": "UTC",
            "capacity": {"host": 1, "presenter": 0, "interviewer": 0, "guest": 4}}),
        )
        .await;
    let id = s["id"].as_u64().unwrap();
    admin
        .post(&format!("/api/sessions/{id}/publish"), json!({}))
        .await;
    let people = [
        ("host@example.org", "Hana Host", "host"),
        ("wide@example.org", "Wim Wide", "guest"),
        ("low@example.org", "Lou Low", "guest"),
    ];
    let mut ids = Vec::new();
    for (email, name, role) in people {
        let m = app.member(email, name).await;
        let (st, b) = m
            .post(
                &format!("/api/sessions/{id}/registrations"),
                json!({"role": role}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{b}");
        ids.push(m.get("/api/me").await.1["user"]["id"].as_u64().unwrap());
    }
    let hid = ids[0];
    let live_url = format!("{}/sessions/{id}/live", app.url);

    let host = Browser::launch_sized(1000, 760).await;
    host.sign_in(&app.url, "host@example.org").await;
    host.open(&live_url, "live").await;
    host.click("#start-session").await;
    host.wait_js("document.body.dataset.liveScreen", 20, |v| v == "room")
        .await;
    host.wait_js("document.body.dataset.onStage", 20, |v| v == "1")
        .await;
    // The camera is published with its small quality beside it.
    let small = host
        .wait_js(
            "(() => { const p = window.podiumLive && window.podiumLive.stats() && window.podiumLive.stats().published.find(p => p.kind === 'video' && p.source === 'camera'); return p && p.small ? p.small : null; })()",
            30,
            |v| v["live"] == true && v["framesSent"].as_u64().unwrap_or(0) > 5,
        )
        .await;
    assert_eq!(small["height"], 180, "{small}");
    // Nobody watches yet: the server says the full quality is not wanted
    // and the host's page stops encoding it (the small one goes on).
    let camera = "window.podiumLive.stats().published.find(p => p.kind === 'video' && p.source === 'camera')";
    host.wait_js(&format!("{camera}.unwanted"), 20, |v| v == true)
        .await;

    let wide = Browser::launch_sized(1280, 900).await;
    let low = Browser::launch_sized(1100, 520).await;
    for (page, email) in [(&wide, people[1].0), (&low, people[2].0)] {
        page.sign_in(&app.url, email).await;
        page.open(&live_url, "live").await;
        page.click("#join-room").await;
        page.wait_js("document.body.dataset.liveScreen", 20, |v| v == "room")
            .await;
    }

    let big: Value = wide
        .wait_js(&tile(hid), 60, |v| {
            v["decoded"] == 360 && v["frames"].as_u64().unwrap_or(0) > 10
        })
        .await;
    assert!(big["shown"].as_u64().unwrap() > 240, "{big}");
    assert_eq!(host.eval(&format!("{camera}.unwanted")).await, false);
    let little: Value = low
        .wait_js(&tile(hid), 60, |v| {
            v["decoded"] == 180 && v["frames"].as_u64().unwrap_or(0) > 10
        })
        .await;
    // At most 4/3 of the small quality's 180 px: small is enough.
    assert!(little["shown"].as_u64().unwrap() <= 240, "{little}");
    wide.screenshot("simulcast-wide-guest").await;
    low.screenshot("simulcast-low-guest").await;
    // The wide page still gets the full quality (nothing it sees changed).
    assert_eq!(wide.eval(&tile(hid)).await["decoded"], 360);

    // The low window grows: its tile is big now, the full quality returns.
    low.client
        .set_window_size(1280, 900)
        .await
        .expect("resize the window");
    let grown: Value = low.wait_js(&tile(hid), 60, |v| v["decoded"] == 360).await;
    assert!(grown["shown"].as_u64().unwrap() > 240, "{grown}");
    low.screenshot("simulcast-low-guest-widened").await;

    for p in [host, wide, low] {
        p.close().await;
    }
}
