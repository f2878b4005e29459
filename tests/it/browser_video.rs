//! Video on stage in three headless Chromium pages: the presenter records a
//! short WebM in the page (MediaRecorder on a canvas), uploads it through
//! the Video dialog and shows it; it plays for everyone; a pause by the
//! presenter pauses the others (each within 1 s); a bad link is refused in
//! the dialog; a YouTube link becomes an embed on youtube-nocookie.com with
//! the right id and start on every page.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::browser::Browser;

/// Records `secs` seconds of a moving picture into a WebM in the page and
/// hands it to the Video dialog's file input (as if chosen by hand).
const RECORD_AND_CHOOSE: &str = r#"(() => {
  const secs = SECS;
  const c = document.createElement('canvas');
  c.width = 320; c.height = 180;
  const g = c.getContext('2d');
  const started = performance.now();
  const draw = () => {
    const t = (performance.now() - started) / 1000;
    g.fillStyle = `hsl(${(t * 90) % 360}, 70%, 45%)`;
    g.fillRect(0, 0, 320, 180);
    g.fillStyle = '#fff';
    g.font = 'bold 48px sans-serif';
    g.fillText(t.toFixed(1) + ' s', 90, 110);
  };
  // A timer, not animation frames: those stop when the machine is busy.
  draw();
  const timer = setInterval(draw, 40);
  setTimeout(() => clearInterval(timer), (secs + 1) * 1000);
  const rec = new MediaRecorder(c.captureStream(30), { mimeType: 'video/webm;codecs=vp8' });
  const parts = [];
  rec.ondataavailable = (e) => parts.push(e.data);
  rec.onstop = () => {
    const file = new File(parts, 'countdown clip.webm', { type: 'video/webm' });
    const dt = new DataTransfer();
    dt.items.add(file);
    const input = document.getElementById('video-file');
    input.files = dt.files;
    input.dispatchEvent(new Event('change'));
    window.__clipBytes = file.size;
  };
  rec.start(500);
  setTimeout(() => rec.stop(), secs * 1000);
  return true;
})()"#;

async fn enter(app: &TestApp, email: &str, live_url: &str) -> Browser {
    let b = Browser::launch_sized(1100, 800).await;
    b.sign_in(&app.url, email).await;
    b.open(live_url, "live").await;
    b.click("#join-room").await;
    b.wait_js("document.body.dataset.liveScreen", 20, |v| v == "room")
        .await;
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presenter_shows_a_video_everyone_follows() {
    let _turn = crate::support::browser::exclusive().await;
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(5);
    let (_, s) = admin
        .post(
            "/api/sessions",
            json!({"title": "Show and tell", "starts_at": start.to_string(), "time_zone": "UTC",
            "capacity": {"host": 1, "presenter": 1, "interviewer": 0, "guest": 5}}),
        )
        .await;
    let id = s["id"].as_u64().unwrap();
    admin
        .post(&format!("/api/sessions/{id}/publish"), json!({}))
        .await;
    let mut host_api = None;
    for (email, name, role) in [
        ("host@example.org", "Hana Host", "host"),
        ("pres@example.org", "Pete Presenter", "presenter"),
        ("guest@example.org", "Gia Guest", "guest"),
    ] {
        let m = app.member(email, name).await;
        m.post(
            &format!("/api/sessions/{id}/registrations"),
            json!({"role": role}),
        )
        .await;
        if role == "host" {
            host_api = Some(m);
        }
    }
    let (s, v) = host_api
        .unwrap()
        .post(&format!("/api/sessions/{id}/live/start"), json!({}))
        .await;
    assert_eq!(s, reqwest::StatusCode::OK, "{v}");
    let live_url = format!("{}/sessions/{id}/live", app.url);
    let pres = enter(&app, "pres@example.org", &live_url).await;
    let guest = enter(&app, "guest@example.org", &live_url).await;
    let host = enter(&app, "host@example.org", &live_url).await;
    // The audience has no Video button; speakers do.
    assert_eq!(
        guest
            .eval("Boolean(document.getElementById('show-video'))")
            .await,
        false
    );

    // The presenter records a clip, uploads it and shows it.
    pres.click("#show-video").await;
    pres.wait_js(
        "document.getElementById('video-upload-hint').textContent",
        10,
        |v| v.as_str().is_some_and(|t| t.contains("MB")),
    )
    .await;
    // A bad link is refused in the dialog, nothing goes on stage.
    pres.client
        .find(fantoccini::Locator::Css("#video-link"))
        .await
        .unwrap()
        .send_keys("https://vimeo.com/123456")
        .await
        .unwrap();
    pres.click("#video-show-link").await;
    let err = pres
        .wait_js(
            "document.getElementById('video-link-error').textContent",
            10,
            |v| v.as_str().is_some_and(|t| !t.is_empty()),
        )
        .await;
    assert!(err.as_str().unwrap().contains("YouTube"), "{err}");
    pres.eval(&RECORD_AND_CHOOSE.replace("SECS", "8")).await;
    pres.wait_js(
        "document.querySelector('[data-show-video]') ? 1 : 0",
        30,
        |v| v == 1,
    )
    .await;
    let bytes = pres.eval("window.__clipBytes").await;
    println!("recorded clip: {bytes} bytes of WebM");
    pres.screenshot("video-dialog").await;
    pres.click("[data-show-video]").await;
    for page in [&pres, &guest, &host] {
        page.wait_js(
            "(document.getElementById('stage-video-player') || {}).readyState || 0",
            20,
            |v| v.as_u64().unwrap_or(0) >= 1,
        )
        .await;
    }
    let src: Value = guest
        .eval("document.getElementById('stage-video-player').getAttribute('src')")
        .await;
    assert!(
        src.as_str()
            .unwrap()
            .starts_with(&format!("/api/sessions/{id}/videos/")),
        "{src}"
    );
    assert_eq!(
        guest
            .eval("document.getElementById('video-play-toggle') === null")
            .await,
        true,
        "the audience has no controls"
    );

    // Play: it plays on every page (seen by the pages' own `timeupdate`s,
    // so a slow test machine does not miss it).
    for page in [&pres, &guest, &host] {
        page.eval(
            "(() => { const v = document.getElementById('stage-video-player'); window.__playedPast = 0; v.addEventListener('timeupdate', () => { if (!v.paused) window.__playedPast = Math.max(window.__playedPast, v.currentTime); }); return true; })()",
        )
        .await;
    }
    pres.click("#video-play-toggle").await;
    for (who, page) in [("presenter", &pres), ("guest", &guest), ("host", &host)] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while page.eval("window.__playedPast > 0.5").await != true {
            let stats = page.eval("window.podiumVideo.stats()").await;
            assert!(
                tokio::time::Instant::now() < deadline,
                "the {who}'s video does not play: {stats}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    pres.screenshot("video-playing-presenter").await;
    guest.screenshot("video-playing-guest").await;
    // Back to the start while playing: everyone follows and plays on.
    pres.click("#video-back").await;
    for page in [&pres, &guest, &host] {
        page.wait_js("window.podiumVideo.target() < 6", 10, |v| v == true)
            .await;
    }
    let positions: Vec<Value> = vec![
        pres.eval("window.podiumVideo.position()").await,
        guest.eval("window.podiumVideo.position()").await,
        host.eval("window.podiumVideo.position()").await,
    ];
    println!("positions while playing (presenter, guest, host): {positions:?}");

    // Pause by the presenter: the others pause, each within 1 s.
    for page in [&guest, &host] {
        page.eval(
            "(() => { const v = document.getElementById('stage-video-player'); window.__pausedAt = null; v.addEventListener('pause', () => { window.__pausedAt = Date.now(); }, { once: true }); return true; })()",
        )
        .await;
    }
    let clicked = pres
        .eval("(() => { const t = Date.now(); document.getElementById('video-play-toggle').click(); return t; })()")
        .await
        .as_f64()
        .unwrap();
    let paused = "window.podiumVideo.paused()";
    tokio::join!(
        guest.wait_js(paused, 1, |v| v == true),
        host.wait_js(paused, 1, |v| v == true),
    );
    for (who, page) in [("guest", &guest), ("host", &host)] {
        let at = page.eval("window.__pausedAt").await.as_f64();
        let at = at.unwrap_or_else(|| panic!("the {who}'s video had stopped before the pause"));
        println!(
            "pause reached the {who} {:.0} ms after the presenter's click",
            at - clicked
        );
    }
    pres.wait_js(paused, 5, |v| v == true).await;
    // Everyone stands on the same frame (the presenter's position).
    let room_at = pres
        .eval("window.podiumVideo.target()")
        .await
        .as_f64()
        .unwrap();
    for page in [&pres, &guest, &host] {
        page.wait_js("window.podiumVideo.position()", 5, |v| {
            v.as_f64().is_some_and(|p| (p - room_at).abs() < 0.1)
        })
        .await;
    }
    guest.screenshot("video-paused-guest").await;
    // Back 10 s: everyone jumps to the start.
    pres.click("#video-back").await;
    for page in [&pres, &guest, &host] {
        page.wait_js("window.podiumVideo.position()", 5, |v| {
            v.as_f64().is_some_and(|p| p < 0.1)
        })
        .await;
    }

    // Played to its end, it stays at its end everywhere (not started over).
    pres.click("#video-play-toggle").await;
    for page in [&pres, &guest, &host] {
        page.wait_js("window.podiumVideo.ended()", 20, |v| v == true)
            .await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for page in [&pres, &guest, &host] {
        assert_eq!(page.eval("window.podiumVideo.ended()").await, true);
    }

    // A YouTube link: the embed every page would load.
    pres.click("#show-video").await;
    pres.client
        .find(fantoccini::Locator::Css("#video-link"))
        .await
        .unwrap()
        .send_keys("https://youtu.be/dQw4w9WgXcQ?t=1m2s")
        .await
        .unwrap();
    pres.click("#video-show-link").await;
    for page in [&pres, &guest, &host] {
        let src = page
            .wait_js(
                "(document.getElementById('stage-youtube') || {}).src || ''",
                10,
                |v| v.as_str().is_some_and(|s| !s.is_empty()),
            )
            .await;
        let src = src.as_str().unwrap();
        assert!(
            src.starts_with("https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ?"),
            "{src}"
        );
        assert!(src.contains("start=62"), "{src}");
        assert!(src.contains("enablejsapi=1"), "{src}");
        let origin = format!("origin={}", app.url.replace(':', "%3A").replace('/', "%2F"));
        assert!(src.contains(&origin), "{src} lacks {origin}");
        assert_eq!(
            page.eval("document.getElementById('stage-video-player') === null")
                .await,
            true,
            "the uploaded clip's player is gone"
        );
    }
    guest.screenshot("video-youtube-guest").await;
    pres.click("#video-stop").await;
    guest
        .wait_js("document.getElementById('stage-video') === null || !document.getElementById('stage-video').isConnected", 10, |v| v == true)
        .await;
    pres.close().await;
    guest.close().await;
    host.close().await;
}
