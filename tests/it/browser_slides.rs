//! A PDF presentation in three real Chromium pages: the presenter uploads
//! the deck from the session page, joins the room, puts it on stage from
//! the Presentations dialog and turns to page 3 (a click, then the arrow
//! key); the two audience pages show page 3 too — the same image URL and
//! the same image bytes (SHA-256 of what each page loaded, equal to what the
//! server serves) — and the pixels drawn differ from page 1. Screenshots of
//! the session page, the dialog, the presenter and a guest.

use std::time::Duration;

use fantoccini::Locator;
use fantoccini::key::Key;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::browser::Browser;
use crate::support::pdf::deck;

/// Starts hashing what the page's slide image shows; read with `wait_js`.
const HASH_SHOWN: &str = "(() => { const img = document.querySelector('#presentation-image'); window.__slide = null; \
    fetch(img.currentSrc || img.src).then(r => r.arrayBuffer()).then(b => crypto.subtle.digest('SHA-256', b)).then(d => { \
    const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight; \
    const x = c.getContext('2d'); x.drawImage(img, 0, 0); const px = x.getImageData(0, 0, c.width, c.height).data; \
    let sum = 0; for (let i = 0; i < px.length; i += 4) sum = (sum * 31 + px[i] + px[i + 1] * 7 + px[i + 2] * 13) % 1000000007; \
    window.__slide = {src: img.getAttribute('src'), sha: Array.from(new Uint8Array(d)).map(v => v.toString(16).padStart(2, '0')).join(''), \
    width: img.naturalWidth, height: img.naturalHeight, pixels: sum}; }); return true; })()";

async fn shown(page: &Browser) -> Value {
    page.eval(HASH_SHOWN).await;
    page.wait_js("window.__slide", 20, |v| !v.is_null()).await
}

fn sha_hex(bytes: &[u8]) -> String {
    podium::util::sha256(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presenter_turns_to_page_three_and_everyone_sees_it() {
    let _turn = crate::support::browser::exclusive().await;
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(5);
    let (_, s) = admin
        .post(
            "/api/sessions",
            json!({"title": "Slides for everyone", "starts_at": start.to_string(), "time_zone": "UTC",
            "capacity": {"host": 1, "presenter": 1, "interviewer": 0, "guest": 4}}),
        )
        .await;
    let id = s["id"].as_u64().unwrap();
    admin
        .post(&format!("/api/sessions/{id}/publish"), json!({}))
        .await;
    let people = [
        ("host@example.org", "Hana Host", "host"),
        ("pres@example.org", "Pia Presenter", "presenter"),
        ("ana@example.org", "Ana", "guest"),
        ("ben@example.org", "Ben", "guest"),
    ];
    let mut apis = Vec::new();
    for (email, name, role) in people {
        let m = app.member(email, name).await;
        let (s, b) = m
            .post(
                &format!("/api/sessions/{id}/registrations"),
                json!({"role": role}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        apis.push(m);
    }

    // The presenter uploads the deck from the session page.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Quarterly review.pdf");
    std::fs::write(&file, deck(6)).unwrap();
    let presenter = Browser::launch_sized(1280, 860).await;
    presenter.sign_in(&app.url, "pres@example.org").await;
    presenter
        .open(&format!("{}/sessions/{id}", app.url), "session")
        .await;
    let input = presenter
        .client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#session-material-file"))
        .await
        .expect("the Presentations card for a speaker");
    input.send_keys(file.to_str().unwrap()).await.unwrap();
    presenter
        .wait_js(
            "document.querySelectorAll('#session-materials .material-row').length",
            30,
            |v| v == 1,
        )
        .await;
    let meta = presenter.text("#session-materials .material-row").await;
    assert!(
        meta.contains("Quarterly review") && meta.contains("6 pages"),
        "{meta}"
    );
    presenter
        .wait_js(
            "(() => { const i = document.querySelector('.material-thumb'); return i && i.complete && i.naturalWidth; })()",
            20,
            |v| v == 320,
        )
        .await;
    presenter
        .eval("document.querySelector('#materials-card').scrollIntoView({block: 'center'}) || true")
        .await;
    presenter.screenshot("slides-session-page").await;

    // Audience pages do not get the card.
    let (st, _) = apis[2].get(&format!("/api/sessions/{id}/materials")).await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    let live = format!("/api/sessions/{id}/live");
    let (st, b) = apis[0].post(&format!("{live}/start"), json!({})).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let live_url = format!("{}/sessions/{id}/live", app.url);
    presenter.open(&live_url, "live").await;
    presenter.click("#join-room").await;
    presenter
        .wait_js("document.body.dataset.liveScreen", 20, |v| v == "room")
        .await;
    let mut guests = Vec::new();
    for email in ["ana@example.org", "ben@example.org"] {
        let page = Browser::launch().await;
        page.sign_in(&app.url, email).await;
        page.open(&live_url, "live").await;
        page.click("#join-room").await;
        page.wait_js("document.body.dataset.liveScreen", 20, |v| v == "room")
            .await;
        // No Present button for the audience.
        let has = page
            .eval("Boolean(document.querySelector('#presentations'))")
            .await;
        assert_eq!(has, false);
        guests.push(page);
    }

    // Present it from the dialog.
    presenter.click("#presentations").await;
    presenter
        .wait_js(
            "document.querySelectorAll('#materials-dialog .lr-material').length",
            20,
            |v| v == 1,
        )
        .await;
    presenter.screenshot("slides-dialog").await;
    presenter
        .click("#materials-dialog .lr-material-present")
        .await;
    presenter
        .wait_js(
            "document.querySelector('#presentation-tile') && document.querySelector('#presentation-tile').dataset.shownPage",
            20,
            |v| v == "1",
        )
        .await;
    let first = shown(&presenter).await;
    // Page 2 by the button, page 3 by the arrow key.
    presenter.click("#slide-next").await;
    presenter
        .wait_js(
            "document.querySelector('#presentation-tile').dataset.page",
            20,
            |v| v == "2",
        )
        .await;
    presenter
        .client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys(&String::from(char::from(Key::Right)))
        .await
        .unwrap();
    let shown_page = "document.querySelector('#presentation-tile') && document.querySelector('#presentation-tile').dataset.shownPage";
    presenter.wait_js(shown_page, 20, |v| v == "3").await;
    let by_presenter = shown(&presenter).await;
    assert!(
        by_presenter["src"].as_str().unwrap().contains("/pages/3?"),
        "{by_presenter}"
    );
    assert_eq!(by_presenter["width"], 1600);
    assert_ne!(
        by_presenter["pixels"], first["pixels"],
        "page 3 is not page 1"
    );

    // What the server serves for page 3.
    let url = by_presenter["src"].as_str().unwrap();
    let served = apis[1]
        .http
        .get(format!("{}{url}", app.url))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(by_presenter["sha"], sha_hex(&served));

    for (i, g) in guests.iter().enumerate() {
        g.wait_js(shown_page, 20, |v| v == "3").await;
        let seen = shown(g).await;
        assert_eq!(seen["src"], by_presenter["src"], "guest {i}");
        assert_eq!(
            seen["sha"], by_presenter["sha"],
            "guest {i}: the same image"
        );
        assert_eq!(
            seen["pixels"], by_presenter["pixels"],
            "guest {i}: the same pixels"
        );
        let label = g.text("#presentation-page").await;
        assert_eq!(label, "3 / 6");
        // Guests have no page controls.
        assert_eq!(
            g.eval("Boolean(document.querySelector('#slide-next'))")
                .await,
            false
        );
    }
    presenter.screenshot("slides-presenter").await;
    guests[0].screenshot("slides-guest").await;

    for g in guests {
        g.close().await;
    }
    presenter.close().await;
}
