//! PDF presentations: upload (checked by parsing), pages rendered on the
//! server and served as cacheable PNG, every bad upload refused with nothing
//! stored, presenting on the main stage through the live room's commands
//! (page turns reach every event stream in order, late joiners land on the
//! current page, takeover, permissions), and materials across a restart.

use jiff::{SignedDuration, Timestamp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::live::{FAST, session_with_people};
use crate::support::pdf::{deck, encrypted_deck};
use crate::support::{Api, LiveStream, TestApp, assert_error};

async fn upload(who: &Api, id: u64, title: &str, pdf: Vec<u8>) -> (StatusCode, Value) {
    who.raw(
        Method::POST,
        &format!("/api/sessions/{id}/materials?title={title}"),
        "application/pdf",
        pdf,
    )
    .await
}

/// GET a URL: status, headers and body bytes.
async fn fetch(who: &Api, url: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let r = who
        .http
        .get(format!("{}{url}", who.base))
        .send()
        .await
        .unwrap();
    let (s, h) = (r.status(), r.headers().clone());
    (s, h, r.bytes().await.unwrap().to_vec())
}

/// Width and height from a PNG's IHDR.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    (w, h)
}

/// Files under the data directory's page cache.
fn cached_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    fn walk(p: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                let path = e.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&app.dir.path().join("materials"), &mut out);
    out
}

async fn materials(who: &Api, id: u64) -> Vec<Value> {
    let (s, v) = who.get(&format!("/api/sessions/{id}/materials")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["materials"].as_array().unwrap().clone()
}

#[tokio::test]
async fn uploaded_pages_are_rendered_and_served_with_type_and_caching() {
    let app = TestApp::start_with(FAST).await;
    let (id, _admin, _host, pres, _g1, _g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_hours(2)).await;
    // Before the start, from the session page.
    let (s, m) = upload(&pres, id, "My%20talk", deck(5)).await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!(m["title"], "My talk");
    assert_eq!(m["pages"], 5);
    assert_eq!(m["kind"], "pdf");
    let mid = m["id"].as_u64().unwrap();
    assert_eq!(materials(&pres, id).await.len(), 1);
    assert!(cached_files(&app).is_empty(), "pages are rendered lazily");

    let page = |n: u32, w: u32| format!("/api/sessions/{id}/materials/{mid}/pages/{n}?width={w}");
    let (s, h, big) = fetch(&pres, &page(1, 1600)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h["cache-control"].to_str().unwrap().contains("immutable"),
        "{:?}",
        h["cache-control"]
    );
    let etag = h["etag"].to_str().unwrap().to_owned();
    assert_eq!(png_size(&big), (1600, 900), "16:9 slide at the stage width");
    let (_, _, small) = fetch(&pres, &page(1, 320)).await;
    assert_eq!(png_size(&small), (320, 180));
    assert_eq!(m["thumbnail_url"], page(1, 320));
    let (_, _, second) = fetch(&pres, &page(2, 1600)).await;
    assert_ne!(big, second, "each page is its own picture");
    // The browser's revalidation gets 304 without a body.
    let r = pres
        .http
        .get(format!("{}{}", app.url, page(1, 1600)))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        cached_files(&app).len(),
        3,
        "three pages rendered and cached"
    );
    // A lost cache renders again, the same picture.
    std::fs::remove_dir_all(app.dir.path().join("materials")).unwrap();
    let (s, _, again) = fetch(&pres, &page(1, 1600)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again, big);

    // Pages out of range and odd widths.
    for n in [0, 6, 99_999_999_999] {
        let (s, _, body) = fetch(&pres, &page_any(id, mid, n, 1600)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "page {n}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "page_out_of_range");
        assert_eq!(v["error"]["field"], "page");
    }
    let (s, _, body) = fetch(&pres, &page(1, 1000)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("invalid_width"));
    let (s, _, _) = fetch(
        &pres,
        &format!("/api/sessions/{id}/materials/{}/pages/1", mid + 9),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Deleting takes the row, the file and the cached pages.
    let (s, _) = pres
        .call(
            Method::DELETE,
            &format!("/api/sessions/{id}/materials/{mid}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(materials(&pres, id).await.is_empty());
    assert!(cached_files(&app).is_empty());
    let (s, _, _) = fetch(&pres, &page(1, 1600)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

fn page_any(id: u64, mid: u64, n: u64, w: u32) -> String {
    format!("/api/sessions/{id}/materials/{mid}/pages/{n}?width={w}")
}

#[tokio::test]
async fn bad_uploads_are_refused_and_nothing_is_stored() {
    let app = TestApp::start_with(FAST).await;
    let (id, _admin, host, _pres, g1, _g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_hours(2)).await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    assert_error(
        &upload(&host, id, "x", png).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "not_pdf",
    );
    // A file named .pdf is still checked by its content.
    assert_error(
        &upload(&host, id, "slides.pdf", b"hello, this is text".to_vec()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "not_pdf",
    );
    let mut broken = b"%PDF-1.7\n".to_vec();
    broken.extend((0..4000u32).map(|i| (i * 7919 % 251) as u8));
    assert_error(
        &upload(&host, id, "x", broken).await,
        StatusCode::BAD_REQUEST,
        "pdf_unreadable",
    );
    let (s, v) = upload(&host, id, "x", encrypted_deck(3)).await;
    assert_error(&(s, v.clone()), StatusCode::BAD_REQUEST, "pdf_encrypted");
    assert_eq!(v["error"]["field"], "file");
    assert_error(
        &upload(&host, id, "x", deck(301)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_many_pages",
    );
    // Over 50 MB: a valid PDF padded with a trailing comment.
    let mut huge = deck(2);
    huge.resize(50 * 1000 * 1000 + 1, b' ');
    let (s, v) = upload(&host, id, "x", huge).await;
    assert_error(&(s, v), StatusCode::PAYLOAD_TOO_LARGE, "file_too_large");
    assert_error(
        &upload(&host, id, &"t".repeat(200), deck(1)).await,
        StatusCode::BAD_REQUEST,
        "invalid_title",
    );
    assert_error(
        &upload(&host, id, "%ff%fe", deck(1)).await,
        StatusCode::BAD_REQUEST,
        "invalid_title",
    );
    // Audience members and strangers may not upload, list or delete.
    assert_error(
        &upload(&g1, id, "x", deck(1)).await,
        StatusCode::FORBIDDEN,
        "may_not_upload",
    );
    assert_error(
        &g1.get(&format!("/api/sessions/{id}/materials")).await,
        StatusCode::FORBIDDEN,
        "may_not_upload",
    );
    let anon = app.client();
    let (s, _) = upload(&anon, id, "x", deck(1)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(
        &upload(&host, id + 100, "x", deck(1)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // Nothing was stored: no rows, no files, and the next id is the first.
    assert!(materials(&host, id).await.is_empty());
    assert!(cached_files(&app).is_empty());
    let (s, m) = upload(&host, id, "", deck(1)).await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!(m["id"], 1, "refused uploads took no id");
    assert_eq!(m["title"], "Presentation");
    // A guest cannot delete it either.
    assert_error(
        &g1.call(
            Method::DELETE,
            &format!("/api/sessions/{id}/materials/1"),
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
        "may_not_upload",
    );
}

/// The pages `s` showed until it shows `last`, in order.
async fn pages_until(s: &mut LiveStream, last: u64) -> Vec<u64> {
    let mut seen = Vec::new();
    s.until(&format!("page {last}"), |v| {
        let page = v["presentation"]["page"].as_u64();
        if let Some(p) = page
            && seen.last() != Some(&p)
        {
            seen.push(p);
        }
        page == Some(last)
    })
    .await;
    seen
}

#[tokio::test]
async fn presenting_reaches_everyone_in_order_and_late_joiners_land_on_the_page() {
    let app = TestApp::start_with(FAST).await;
    let (id, _admin, host, pres, g1, g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_mins(5)).await;
    let base = format!("/api/sessions/{id}/live");
    let (_, m) = upload(&pres, id, "Deck", deck(6)).await;
    let mid = m["id"].as_u64().unwrap();
    host.post(&format!("{base}/start"), json!({})).await;
    for who in [&host, &pres, &g1] {
        let (s, v) = who.post(&format!("{base}/join"), json!({})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let host_id = host.get(&base).await.1["me"]["user_id"].as_u64().unwrap();
    let pres_id = pres.get(&base).await.1["me"]["user_id"].as_u64().unwrap();
    // The materials are in the room for speakers, not for the audience.
    let (_, v) = pres.get(&base).await;
    assert_eq!(v["materials"][0]["id"], mid);
    assert_eq!(v["me"]["can_present"], true);
    let (_, v) = g1.get(&base).await;
    assert_eq!(v["materials"], json!([]));
    assert_eq!(v["me"]["can_present"], false);
    assert_eq!(v["presentation"], Value::Null);
    // Nothing on stage: the audience cannot read the pages.
    let (s, _, _) = fetch(&g1, &page_any(id, mid, 1, 1600)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let mut streams = Vec::new();
    for who in [&host, &pres, &g1] {
        streams.push(LiveStream::open(who, &format!("{base}/events")).await);
    }
    let (s, v) = pres
        .post(&format!("{base}/presentation"), json!({"material": mid}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["presentation"]["page"], 1);
    assert_eq!(v["presentation"]["mine"], true);
    assert_eq!(v["me"]["presenting"], true);
    for page in 2..=5 {
        let (s, v) = pres
            .post(&format!("{base}/presentation/page"), json!({"page": page}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    for s in &mut streams {
        let seen = pages_until(s, 5).await;
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "pages arrive in order: {seen:?}"
        );
        assert_eq!(s.state["presentation"]["presenter"], pres_id);
        assert_eq!(
            s.state["presentation"]["image_url"],
            page_any(id, mid, 5, 1600)
        );
    }
    assert_eq!(streams[2].state["presentation"]["mine"], false);
    // The audience reads the pages of what is on stage, the same bytes.
    let url = streams[2].state["presentation"]["image_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, h, seen_by_guest) = fetch(&g1, &url).await;
    assert_eq!(
        (s, h["content-type"].to_str().unwrap()),
        (StatusCode::OK, "image/png")
    );
    assert_eq!(seen_by_guest, fetch(&pres, &url).await.2);

    // Who may do what.
    assert_error(
        &g1.post(&format!("{base}/presentation/page"), json!({"page": 2}))
            .await,
        StatusCode::FORBIDDEN,
        "may_not_present",
    );
    assert_error(
        &g1.post(&format!("{base}/presentation"), json!({"material": mid}))
            .await,
        StatusCode::FORBIDDEN,
        "may_not_present",
    );
    assert_error(
        &host
            .post(&format!("{base}/presentation/page"), json!({"page": 2}))
            .await,
        StatusCode::FORBIDDEN,
        "not_presenter",
    );
    for page in [0, 7] {
        let (s, v) = pres
            .post(&format!("{base}/presentation/page"), json!({"page": page}))
            .await;
        assert_error(
            &(s, v.clone()),
            StatusCode::BAD_REQUEST,
            "page_out_of_range",
        );
        assert_eq!(v["error"]["field"], "page");
    }
    assert_error(
        &pres
            .post(&format!("{base}/presentation/page"), json!({"page": -1}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    assert_error(
        &pres
            .post(
                &format!("{base}/presentation"),
                json!({"material": mid + 50}),
            )
            .await,
        StatusCode::NOT_FOUND,
        "no_material",
    );
    // Another speaker takes over on the same page and turns on.
    let (s, v) = host
        .post(&format!("{base}/presentation"), json!({"material": mid}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["presentation"]["page"], 5);
    assert_eq!(v["presentation"]["presenter"], host_id);
    assert_error(
        &pres
            .post(&format!("{base}/presentation/page"), json!({"page": 6}))
            .await,
        StatusCode::FORBIDDEN,
        "not_presenter",
    );
    host.post(&format!("{base}/presentation/page"), json!({"page": 6}))
        .await;
    for s in &mut streams {
        pages_until(s, 6).await;
        assert_eq!(s.state["presentation"]["presenter"], host_id);
    }

    // A late joiner, and a reload, land on the current page.
    let (_, j) = g2.post(&format!("{base}/join"), json!({})).await;
    assert_eq!(j["live"]["presentation"]["page"], 6);
    let late = LiveStream::open(&g2, &format!("{base}/events")).await;
    assert_eq!(late.state["presentation"]["page"], 6);
    assert_eq!(late.state["presentation"]["title"], "Deck");
    assert_eq!(g1.get(&base).await.1["presentation"]["page"], 6);

    // A second material reaches speakers' lists in the room; the audience
    // still cannot read it while it is not on stage.
    let (s, m2) = upload(&pres, id, "Backup", deck(2)).await;
    assert_eq!(s, StatusCode::CREATED, "{m2}");
    let m2 = m2["id"].as_u64().unwrap();
    streams[1]
        .until("two materials", |v| {
            v["materials"].as_array().map(Vec::len) == Some(2)
        })
        .await;
    let (s, _, _) = fetch(&g1, &page_any(id, m2, 1, 320)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Stop: only the presenter or a host.
    assert_error(
        &pres
            .call(Method::DELETE, &format!("{base}/presentation"), None)
            .await,
        StatusCode::FORBIDDEN,
        "not_presenter",
    );
    let (s, v) = host
        .call(Method::DELETE, &format!("{base}/presentation"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["presentation"], Value::Null);
    for s in &mut streams {
        s.until("no presentation", |v| v["presentation"].is_null())
            .await;
    }
}

#[tokio::test]
async fn materials_survive_a_restart_and_render_again() {
    let mut app = TestApp::start_with(FAST).await;
    let (id, _admin, host, pres, _g1, _g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_mins(5)).await;
    let base = format!("/api/sessions/{id}/live");
    let (_, m) = upload(&pres, id, "Deck", deck(3)).await;
    drop(pres);
    let mid = m["id"].as_u64().unwrap();
    host.post(&format!("{base}/start"), json!({})).await;
    let (_, _, before) = fetch(&host, &page_any(id, mid, 2, 1600)).await;
    drop(host);
    app.restart().await;
    std::fs::remove_dir_all(app.dir.path().join("materials")).unwrap();
    let signed_in = async |email: &str| {
        let c = app.client();
        let (s, v) = c
            .post(
                "/api/auth/signin",
                json!({"email": email, "password": "correct horse"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        c
    };
    let (host, pres) = (
        signed_in("host@example.org").await,
        signed_in("pres@example.org").await,
    );
    let list = materials(&pres, id).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["title"], "Deck");
    assert_eq!(list[0]["pages"], 3);
    let (s, _, after) = fetch(&pres, &page_any(id, mid, 2, 1600)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(after, before, "rendered again from the stored PDF");
    // The room that came back knows the materials and can show them.
    host.post(&format!("{base}/join"), json!({})).await;
    let (s, v) = host
        .post(
            &format!("{base}/presentation"),
            json!({"material": mid, "page": 3}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["presentation"]["page"], 3);
    assert_eq!(v["materials"].as_array().unwrap().len(), 1);
}
