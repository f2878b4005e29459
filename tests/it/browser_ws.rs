//! The live room without WebTransport: two headless Chromium pages on stage
//! exchange audio and video over the media WebSocket (TCP, the app's own
//! port) and the room says so. One page has no WebTransport at all (deleted
//! before joining: a browser without it); the other's WebTransport points at
//! a closed UDP port (as if UDP were blocked), so it fails and the client
//! switches to the WebSocket by itself.

use serde_json::Value;

use crate::media::live_session;
use crate::support::TestApp;
use crate::support::browser::Browser;

/// Decoded video frames and received audio frames from `who` on this page.
fn decoded(who: u64) -> String {
    format!(
        "(window.podiumLive && window.podiumLive.stats()) ? window.podiumLive.stats().subscribed.filter(s => s.participant === {who}).reduce((a, s) => ({{v: a.v + (s.framesDecoded || 0), a: a.a + (s.audioFramesDecoded || 0)}}), {{v: 0, a: 0}}) : null"
    )
}

const NO_WEBTRANSPORT: &str = "delete window.WebTransport, typeof window.WebTransport";
/// WebTransport to UDP port 9 of the same host, where nothing listens.
const UDP_CLOSED: &str = "(() => { const Real = window.WebTransport; window.WebTransport = function (url, o) { const u = new URL(url); u.port = '9'; return new Real(u.href, o); }; return 'patched'; })()";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pages_exchange_media_over_websocket_and_say_so() {
    let _turn = crate::support::browser::exclusive().await;
    let app = TestApp::start().await;
    let people = [
        ("host@example.org", "Hana Host", "host"),
        ("pres@example.org", "Pia Presenter", "presenter"),
    ];
    let (id, c) = live_session(&app, "Behind a firewall", &people).await;
    let mut ids = Vec::new();
    for api in &c {
        ids.push(api.get("/api/me").await.1["user"]["id"].as_u64().unwrap());
    }
    let live_url = format!("{}/sessions/{id}/live", app.url);
    let cases = [
        (
            people[0].0,
            NO_WEBTRANSPORT,
            "Media: WebSocket (TCP) — this browser has no WebTransport",
        ),
        (
            people[1].0,
            UDP_CLOSED,
            "Media: WebSocket (TCP) — UDP seems blocked",
        ),
    ];
    let mut pages = Vec::new();
    for (email, hook, _) in cases {
        let page = Browser::launch_sized(1280, 860).await;
        page.sign_in(&app.url, email).await;
        page.open(&live_url, "live").await;
        let hooked = page.eval(hook).await;
        assert!(hooked == "undefined" || hooked == "patched", "{hooked}");
        page.click("#join-room").await;
        page.wait_js("document.body.dataset.liveScreen", 20, |v| v == "room")
            .await;
        pages.push(page);
    }
    for ((page, (_, _, label)), other) in pages.iter().zip(cases).zip([ids[1], ids[0]]) {
        page.wait_js("document.body.dataset.mediaTransport", 30, |v| {
            v == "websocket"
        })
        .await;
        assert_eq!(page.text("#media-path").await, label);
        let got = page
            .wait_js(&decoded(other), 60, |v| {
                v["v"].as_u64().unwrap_or(0) > 10 && v["a"].as_u64().unwrap_or(0) > 10
            })
            .await;
        let transport: Value = page.eval("window.podiumLive.stats().transport").await;
        assert_eq!(transport, "websocket", "{got}");
    }
    assert_eq!(
        app.metric("podium_media_participants{transport=\"websocket\"}")
            .await,
        2.0
    );
    pages[1].screenshot("live-room-websocket").await;
    for p in pages {
        p.close().await;
    }
}
