//! Firefox on stage: a host in headless Chromium and a guest in headless
//! Firefox ESR (no MediaStreamTrackProcessor: web/media/capture.js captures
//! through a <video> element and an AudioWorklet). A browser that cannot
//! publish is not offered the stage; Firefox is: it asks, the host approves,
//! and it publishes camera and microphone (VP8: Firefox cannot encode AV1 L1T3);
//! Chromium decodes Firefox's video and audio, Firefox decodes Chromium's
//! (AV1); the host's People list shows Firefox's camera and mic on because
//! the SFU sees their frames; Firefox shares its screen and Chromium decodes
//! it. Screenshots from both browsers land in target/screenshots/.

use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::browser::Browser;

/// Replaces the screen picker: a moving 1280x720 canvas as the "screen".
const SCREEN_STAND_IN: &str = "(() => {
    const c = document.createElement('canvas');
    c.width = 1280; c.height = 720;
    const g = c.getContext('2d');
    let n = 0;
    setInterval(() => {
        n += 1;
        g.fillStyle = '#1e3a5f'; g.fillRect(0, 0, 1280, 720);
        g.fillStyle = '#f5c542'; g.fillRect((n * 8) % 1180, 300, 100, 100);
        g.fillStyle = '#fff'; g.font = '64px sans-serif'; g.fillText('Firefox screen ' + n, 60, 120);
    }, 66);
    navigator.mediaDevices.getDisplayMedia = async () => c.captureStream(15);
    return true;
})()";

/// Decoded video frames and received audio frames from `who` on this page.
fn decoded(who: u64) -> String {
    format!(
        "(window.podiumLive && window.podiumLive.stats()) ? window.podiumLive.stats().subscribed.filter(s => s.participant === {who}).reduce((a, s) => ({{v: a.v + (s.framesDecoded || 0), a: a.a + (s.audioFramesDecoded || 0)}}), {{v: 0, a: 0}}) : null"
    )
}

async fn decodes(page: &Browser, who: u64) -> Value {
    page.wait_js(&decoded(who), 60, |v| {
        v["v"].as_u64().unwrap_or(0) > 10 && v["a"].as_u64().unwrap_or(0) > 10
    })
    .await
}

/// The codecs of the video tracks this page receives from `who`.
async fn video_codecs(page: &Browser, who: u64) -> Vec<String> {
    let v = page
        .eval(&format!(
            "window.podiumLive.stats().subscribed.filter(s => s.participant === {who} && s.kind === 'video').map(s => s.codec)"
        ))
        .await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_goes_on_stage_and_chromium_sees_and_hears_it() {
    let _turn = crate::support::browser::exclusive().await;
    let app = TestApp::start_with("[live]\ncountdown_seconds = 3\n").await;
    let admin = app.admin().await;
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(5);
    let (_, s) = admin
        .post(
            "/api/sessions",
            json!({"title": "Firefox on stage", "starts_at": start.to_string(), "time_zone": "UTC",
            "capacity": {"host": 1, "presenter": 0, "interviewer": 0, "guest": 3}}),
        )
        .await;
    let id = s["id"].as_u64().unwrap();
    admin
        .post(&format!("/api/sessions/{id}/publish"), json!({}))
        .await;
    let mut ids = Vec::new();
    for (email, name, role) in [
        ("host@example.org", "Hana Host", "host"),
        ("fox@example.org", "Fiona Firefox", "guest"),
        ("old@example.org", "Olaf Oldbrowser", "guest"),
    ] {
        let m = app.member(email, name).await;
        m.post(
            &format!("/api/sessions/{id}/registrations"),
            json!({"role": role}),
        )
        .await;
        ids.push(m.get("/api/me").await.1["user"]["id"].as_u64().unwrap());
    }
    let (hid, fid) = (ids[0], ids[1]);
    let live_url = format!("{}/sessions/{id}/live", app.url);

    let host = Browser::launch().await;
    host.sign_in(&app.url, "host@example.org").await;
    host.open(&live_url, "live").await;
    host.click("#start-session").await;
    host.wait_js("document.body.dataset.liveScreen", 20, |v| v == "room")
        .await;

    // A browser that cannot publish (here Chromium without its video encoder
    // and track processor) is not offered the stage, and is told why.
    let old = Browser::launch().await;
    old.sign_in(&app.url, "old@example.org").await;
    old.open(&live_url, "live").await;
    old.eval("(delete window.VideoEncoder) && (delete window.MediaStreamTrackProcessor)")
        .await;
    old.click("#join-room").await;
    old.wait_js("document.body.dataset.liveScreen", 20, |v| v == "room")
        .await;
    let note = old.text("#stage-unsupported").await;
    assert!(note.contains("can’t join the stage"), "{note}");
    assert_eq!(
        old.eval("!!document.querySelector('#request-stage, #raise-hand')")
            .await,
        false,
        "no stage request offered to a browser that cannot publish"
    );
    old.screenshot("firefox-test-stage-unsupported").await;
    old.close().await;

    // Firefox joins the audience, is offered the stage, asks, is approved.
    let fox = Browser::launch_firefox(1280, 900).await;
    let ua = fox.eval("navigator.userAgent").await;
    assert!(ua.as_str().unwrap().contains("Firefox/"), "{ua}");
    assert_eq!(
        fox.eval("typeof MediaStreamTrackProcessor").await,
        "undefined",
        "this Firefox lacks MediaStreamTrackProcessor, so the fallback capture is what runs"
    );
    fox.sign_in(&app.url, "fox@example.org").await;
    fox.open(&live_url, "live").await;
    fox.click("#join-room").await;
    fox.wait_js("document.body.dataset.liveScreen", 20, |v| v == "room")
        .await;
    fox.click("#request-stage").await;
    fox.click("#send-request").await;
    host.click("#tab-people").await;
    host.click(&format!(
        "#stage-queue li[data-user-id=\"{fid}\"] [data-action=approve]"
    ))
    .await;
    fox.wait_js("document.body.dataset.onStage", 30, |v| v == "1")
        .await;

    // Firefox publishes camera (VP8, in two qualities: the host's tile may
    // be small enough for the 180-line one alone, and then only that one is
    // encoded) and microphone (Opus) ...
    let published = fox
        .wait_js(
            "window.podiumLive.stats() ? window.podiumLive.stats().published.filter(p => p.live).map(p => [p.source, p.codec, (p.framesSent || p.audioFramesSent || 0) + (p.small ? p.small.framesSent : 0), p.small ? p.small.codec : null]) : []",
            60,
            |v| {
                v.as_array().is_some_and(|a| {
                    a.len() == 2 && a.iter().all(|p| p[2].as_u64().unwrap_or(0) > 10)
                })
            },
        )
        .await;
    assert!(
        published
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p[0] == "camera" && p[1] == "vp8"),
        "Firefox encodes VP8 (not AV1 L1T3): {published}"
    );
    // ... Chromium decodes both, Firefox decodes Chromium's.
    let got = decodes(&host, fid).await;
    println!("Chromium decoded from Firefox: {got}");
    assert_eq!(video_codecs(&host, fid).await, ["vp8"]);
    let got = decodes(&fox, hid).await;
    println!("Firefox decoded from Chromium: {got}");
    let from_host = video_codecs(&fox, hid).await;
    println!("Chromium sends {from_host:?}");
    assert_eq!(from_host.len(), 1);

    // What Firefox sends is sound, not silence: the SFU meters its level.
    host.wait_js(
        &format!("(() => {{ const c = window.podiumLive.client; return Math.min(127, ...[...c.levels.entries()].filter(([t]) => c.tracks.get(t)?.participant === {fid}).map(([, l]) => l)); }})()"),
        30,
        |v| v.as_u64().is_some_and(|l| l < 100),
    )
    .await;

    // The host sees Firefox's camera and mic on: the SFU sees their frames.
    host.click("#tab-people").await;
    for device in ["camera", "mic"] {
        host.wait_js(
            &format!("document.querySelector('#people-list li[data-user-id=\"{fid}\"] [data-device=\"{device}\"]')?.dataset.state"),
            20,
            |v| v == "on",
        )
        .await;
    }
    host.wait_js(
        &format!("window.podiumLive.live().people.find(p => p.user_id === {fid}).sending"),
        20,
        |v| v["camera"] == true && v["microphone"] == true,
    )
    .await;
    // What it measured (printed, not asserted: speed is not a test's business).
    let pubs = fox
        .eval("window.podiumLive.stats().published.map(p => ({source: p.source, codec: p.codec, layers: p.layers, size: p.kind === 'video' ? `${p.width}x${p.height}` : undefined, captured: p.framesCaptured ?? p.audioFramesCaptured, encoded: p.framesEncoded ?? p.audioFramesEncoded, sent: p.framesSent ?? p.audioFramesSent, skipped: p.framesSkipped, keyframes: p.keyframes, captureGapMs: p.captureGapMs, bytes: p.bytes}))")
        .await;
    println!("Firefox publishes: {pubs}");
    let subs = |who: u64| {
        format!(
            "window.podiumLive.stats().subscribed.filter(s => s.participant === {who}).map(s => ({{kind: s.kind, codec: s.codec, decoded: s.framesDecoded ?? s.audioFramesDecoded, latency: s.latency}}))"
        )
    };
    println!(
        "Chromium receives from Firefox: {}",
        host.eval(&subs(fid)).await
    );
    println!(
        "Firefox receives from Chromium: {}",
        fox.eval(&subs(hid)).await
    );
    host.screenshot("firefox-stage-chromium-host").await;
    fox.screenshot("firefox-stage-firefox").await;

    // Firefox shares its screen; Chromium decodes it beside the camera.
    // Headless Firefox has no screen to capture (getDisplayMedia rejects with
    // NotFoundError), so the page's getDisplayMedia hands out a 1280x720
    // canvas stream instead: everything after the picker is the real path.
    fox.eval(SCREEN_STAND_IN).await;
    fox.click("#share-screen").await;
    host.wait_js(
        &format!("window.podiumLive.stats().subscribed.filter(s => s.participant === {fid} && s.kind === 'video' && (s.framesDecoded || 0) > 5).length"),
        60,
        |v| v.as_u64().unwrap_or(0) >= 2,
    )
    .await;
    host.wait_js(
        &format!("window.podiumLive.live().people.find(p => p.user_id === {fid}).sending.screen"),
        20,
        |v| v == true,
    )
    .await;
    host.screenshot("firefox-screen-share-chromium-host").await;
    fox.screenshot("firefox-screen-share-firefox").await;
    fox.click("#share-screen").await;

    fox.close().await;
    host.close().await;
}
