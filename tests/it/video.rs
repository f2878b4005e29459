//! Video on stage over the real API: uploads (streamed, checked by their
//! container header, limited in size, only by speakers and people on stage,
//! nothing left behind when refused), byte ranges, who may fetch, and the
//! room state of play, pause and seek reaching every event stream and late
//! joiners; the live room page's Content-Security-Policy.

use std::path::Path;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::live::{FAST, session_with_people};
use crate::support::{Api, LiveStream, TestApp, assert_error};

/// A WebM file as far as its header goes (EBML, DocType "webm"), then
/// `len` bytes in all of a pattern that tells offsets apart.
pub(crate) fn webm_bytes(len: usize) -> Vec<u8> {
    let mut v = vec![
        0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0x42, 0xF7, 0x81, 0x01, 0x42, 0xF2,
        0x81, 0x04, 0x42, 0xF3, 0x81, 0x08, 0x42, 0x82, 0x84, b'w', b'e', b'b', b'm', 0x42, 0x87,
        0x81, 0x04, 0x42, 0x85, 0x81, 0x02,
    ];
    let mut i = 0u32;
    while v.len() < len {
        v.push((i.wrapping_mul(7) % 251) as u8);
        i += 1;
    }
    v
}

/// An MP4 file as far as its `ftyp` box goes.
fn mp4_bytes(len: usize) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0x18];
    v.extend_from_slice(b"ftypisom\0\0\x02\0isomiso2");
    v.resize(len, 0x42);
    v
}

async fn upload(api: &Api, id: u64, name: &str, body: Vec<u8>) -> (StatusCode, Value) {
    api.raw(
        Method::POST,
        &format!("/api/sessions/{id}/videos?name={name}"),
        "application/octet-stream",
        body,
    )
    .await
}

/// The files in the videos folder (uploads under way included).
fn video_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("videos"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A session cookie for `email` (password "correct horse"), for raw requests.
async fn cookie(app: &TestApp, email: &str) -> String {
    let resp = reqwest::Client::new()
        .post(format!("{}/api/auth/signin", app.url))
        .header("origin", &app.url)
        .json(&json!({"email": email, "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    set.split(';').next().unwrap().to_owned()
}

/// Sends `total` bytes of a WebM in chunks without a declared length (or
/// stops after `stop_after` bytes and hangs up), reading the answer while
/// sending. Returns the answer's status line and body, if one came.
async fn chunked_upload(
    app: &TestApp,
    cookie: &str,
    id: u64,
    total: usize,
    stop_after: Option<usize>,
) -> Option<String> {
    let addr = app.url.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let reader = tokio::spawn(async move {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    let head = format!(
        "POST /api/sessions/{id}/videos?name=big.webm HTTP/1.1\r\nhost: {addr}\r\norigin: {}\r\ncookie: {cookie}\r\ncontent-type: video/webm\r\ntransfer-encoding: chunked\r\n\r\n",
        app.url
    );
    wr.write_all(head.as_bytes()).await.unwrap();
    let data = webm_bytes(total);
    let mut sent = 0;
    for chunk in data.chunks(64 * 1024) {
        if stop_after.is_some_and(|s| sent >= s) {
            // Hang up in the middle of the upload.
            drop(wr);
            return tokio::time::timeout(Duration::from_secs(10), reader)
                .await
                .ok()
                .and_then(Result::ok);
        }
        let framed = [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk.to_vec(),
            b"\r\n".to_vec(),
        ]
        .concat();
        if wr.write_all(&framed).await.is_err() {
            break;
        }
        sent += chunk.len();
    }
    let _ = wr.write_all(b"0\r\n\r\n").await;
    let _ = wr.shutdown().await;
    tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .ok()
        .and_then(Result::ok)
}

#[tokio::test]
async fn uploads_ranges_permissions_and_bad_input() {
    let app = TestApp::start_with(&format!("{FAST}video_max_mb = 1\n")).await;
    let (id, _admin, host, pres, g1, _g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_mins(5)).await;
    let outsider = app.member("out@example.org", "Olga Outsider").await;
    let dir = app.dir.path().to_owned();

    // A presenter uploads before the start.
    let file = webm_bytes(200_000);
    let (s, v) = upload(&pres, id, "my%20talk.webm", file.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["name"], "my talk.webm");
    assert_eq!(v["kind"], "webm");
    assert_eq!(v["bytes"], 200_000);
    let vid = v["id"].as_u64().unwrap();
    let src = v["src"].as_str().unwrap().to_owned();
    assert_eq!(src, format!("/api/sessions/{id}/videos/{vid}"));
    assert_eq!(video_files(&dir), vec![format!("{vid}.webm")]);
    let (s, v) = upload(&host, id, "clip.mp4", mp4_bytes(5000)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["kind"], "mp4");

    // Bad input: not a video, a guest, an outsider, too large (declared or
    // streamed), a broken-off upload. Nothing is stored half-way.
    let before = video_files(&dir);
    let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".repeat(10);
    assert_error(
        &upload(&pres, id, "slides.webm", pdf).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_video",
    );
    let mut mkv = webm_bytes(5000);
    mkv[23] = 0x88; // DocType "matroska" is not WebM
    mkv.splice(24..28, b"matroska".iter().copied());
    assert_error(
        &upload(&pres, id, "film.mkv", mkv).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_video",
    );
    assert_error(
        &upload(&pres, id, "tiny", b"\x1aE".to_vec()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_video",
    );
    assert_error(
        &upload(&g1, id, "guest.webm", webm_bytes(1000)).await,
        StatusCode::FORBIDDEN,
        "may_not_present",
    );
    assert_error(
        &upload(&outsider, id, "x.webm", webm_bytes(1000)).await,
        StatusCode::FORBIDDEN,
        "may_not_present",
    );
    assert_error(
        &upload(&pres, id, "big.webm", webm_bytes(1024 * 1024 + 1)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "video_too_large",
    );
    let pres_cookie = cookie(&app, "pres@example.org").await;
    let answer = chunked_upload(&app, &pres_cookie, id, 3 * 1024 * 1024, None)
        .await
        .expect("an answer while streaming");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("video_too_large"), "{answer}");
    chunked_upload(&app, &pres_cookie, id, 800_000, Some(300_000)).await;
    // The broken-off upload's temporary file goes when the server notices.
    tokio::time::timeout(Duration::from_secs(10), async {
        while video_files(&dir) != before {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("left behind: {:?} (had {before:?})", video_files(&dir)));
    let (s, list) = pres.get(&format!("/api/sessions/{id}/videos")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["videos"].as_array().unwrap().len(), 2, "{list}");

    // Whole file and ranges, for participants only.
    let get = |api: &Api, range: Option<&str>| {
        let mut r = api.http.get(format!("{}{src}", app.url));
        if let Some(range) = range {
            r = r.header("range", range);
        }
        r.send()
    };
    let whole = get(&g1, None).await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["content-type"], "video/webm");
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.bytes().await.unwrap().as_ref(), file.as_slice());
    let part = get(&g1, Some("bytes=1000-1999")).await.unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"], "bytes 1000-1999/200000");
    assert_eq!(part.headers()["content-length"], "1000");
    assert_eq!(part.bytes().await.unwrap().as_ref(), &file[1000..2000]);
    let tail = get(&g1, Some("bytes=-10")).await.unwrap();
    assert_eq!(
        tail.headers()["content-range"],
        "bytes 199990-199999/200000"
    );
    assert_eq!(tail.bytes().await.unwrap().as_ref(), &file[199_990..]);
    let open = get(&g1, Some("bytes=199000-")).await.unwrap();
    assert_eq!(open.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(open.bytes().await.unwrap().len(), 1000);
    for bad in [
        "bytes=200000-",
        "bytes=500-100",
        "bytes=0-1,5-9",
        "items=0-5",
        "bytes=x-",
    ] {
        let r = get(&g1, Some(bad)).await.unwrap();
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{bad}");
        assert_eq!(r.headers()["content-range"], "bytes */200000", "{bad}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "bad_range", "{bad}");
        assert!(body["error"]["message"].as_str().unwrap().len() > 10);
    }
    let r = get(&outsider, None).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "not_participant"
    );
    assert_error(
        &outsider.get(&format!("/api/sessions/{id}/videos")).await,
        StatusCode::FORBIDDEN,
        "not_participant",
    );
    assert_error(
        &g1.get(&format!("/api/sessions/{id}/videos/999")).await,
        StatusCode::NOT_FOUND,
        "no_video",
    );
    let anonymous = app.client();
    assert_eq!(anonymous.get(&src).await.0, StatusCode::UNAUTHORIZED);

    // A session keeps at most 20 videos.
    for i in 0..18 {
        let (s, v) = upload(&host, id, &format!("more-{i}.webm"), webm_bytes(100)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let kept = video_files(&dir);
    assert_eq!(kept.len(), 20);
    assert_error(
        &upload(&pres, id, "one-too-many.webm", webm_bytes(100)).await,
        StatusCode::CONFLICT,
        "too_many_videos",
    );
    assert_eq!(video_files(&dir), kept);

    // Files and rows survive a restart.
    let mut app = app;
    app.restart().await;
    let r = g1
        .http
        .get(format!("{}{src}", app.url))
        .header("range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &[0x1A, 0x45, 0xDF, 0xA3]);
}

#[tokio::test]
async fn play_pause_and_seek_reach_every_stream_and_late_joiners() {
    let app = TestApp::start_with(FAST).await;
    let (id, _admin, host, pres, g1, g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_mins(5)).await;
    let base = format!("/api/sessions/{id}/live");
    let (s, v) = upload(&pres, id, "demo.webm", webm_bytes(10_000)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vid = v["id"].as_u64().unwrap();
    host.post(&format!("{base}/start"), json!({})).await;
    for who in [&host, &pres, &g1] {
        let (s, v) = who.post(&format!("{base}/join"), json!({})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let mut streams = vec![
        LiveStream::open(&host, &format!("{base}/events")).await,
        LiveStream::open(&pres, &format!("{base}/events")).await,
        LiveStream::open(&g1, &format!("{base}/events")).await,
    ];
    assert_eq!(streams[1].state["me"]["can_show_video"], true);
    assert_eq!(streams[2].state["me"]["can_show_video"], false);
    assert!(streams[2].state["video"].is_null());

    // Bad input and powers: nothing changes.
    for (who, body, status, code) in [
        (
            &pres,
            json!({"youtube": "https://vimeo.com/1234"}),
            StatusCode::BAD_REQUEST,
            "invalid_video_link",
        ),
        (
            &pres,
            json!({"youtube": "https://youtu.be/dQw4w9WgXcQ?t=soon"}),
            StatusCode::BAD_REQUEST,
            "invalid_video_link",
        ),
        (
            &pres,
            json!({}),
            StatusCode::BAD_REQUEST,
            "invalid_video_source",
        ),
        (
            &pres,
            json!({"youtube": "https://youtu.be/dQw4w9WgXcQ", "upload": vid}),
            StatusCode::BAD_REQUEST,
            "invalid_video_source",
        ),
        (
            &pres,
            json!({"upload": 999}),
            StatusCode::NOT_FOUND,
            "no_video",
        ),
        (
            &pres,
            json!({"upload": "one"}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            &pres,
            json!({"upload": vid, "loop": true}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            &g1,
            json!({"upload": vid}),
            StatusCode::FORBIDDEN,
            "may_not_present",
        ),
    ] {
        let got = who.post(&format!("{base}/video"), body.clone()).await;
        assert_error(&got, status, code);
        if code == "invalid_video_link" {
            assert_eq!(got.1["error"]["field"], "youtube", "{body}");
        }
    }
    assert_error(
        &pres.post(&format!("{base}/video/play"), json!({})).await,
        StatusCode::NOT_FOUND,
        "no_video",
    );

    // Show, play, pause, seek: every stream sees each step.
    let (s, v) = pres
        .post(&format!("{base}/video"), json!({"upload": vid}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for st in &mut streams {
        let v = st.until("the video state", |s| !s["video"].is_null()).await["video"].clone();
        assert_eq!(v["kind"], "upload");
        assert_eq!(v["upload_id"], vid);
        assert_eq!(v["src"], format!("/api/sessions/{id}/videos/{vid}"));
        assert_eq!(v["playing"], false);
        assert_eq!(v["position_ms"], 0);
        assert_eq!(v["by_name"], "Pete Presenter");
    }
    assert_eq!(streams[1].state["video"]["can_control"], true);
    assert_eq!(
        streams[0].state["video"]["can_control"], true,
        "hosts may steer"
    );
    assert_eq!(streams[2].state["video"]["can_control"], false);
    pres.post(&format!("{base}/video/play"), json!({"position_ms": 0}))
        .await;
    for st in &mut streams {
        st.until("the video state", |s| s["video"]["playing"] == true)
            .await;
    }
    let (s, v) = pres
        .post(&format!("{base}/video/pause"), json!({"position_ms": 1500}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for st in &mut streams {
        st.until("the video state", |s| {
            s["video"]["playing"] == false && s["video"]["position_ms"] == 1500
        })
        .await;
    }
    pres.post(&format!("{base}/video/seek"), json!({"position_ms": 3000}))
        .await;
    for st in &mut streams {
        st.until("the video state", |s| s["video"]["position_ms"] == 3000)
            .await;
    }
    assert_error(
        &pres
            .post(
                &format!("{base}/video/seek"),
                json!({"position_ms": 90_000_000}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_position",
    );
    assert_error(
        &pres
            .post(&format!("{base}/video/seek"), json!({"position_ms": -5}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    assert_error(
        &pres.post(&format!("{base}/video/seek"), json!({})).await,
        StatusCode::BAD_REQUEST,
        "missing_field",
    );
    assert_error(
        &g1.post(&format!("{base}/video/pause"), json!({})).await,
        StatusCode::FORBIDDEN,
        "may_not_present",
    );

    // A late joiner lands where the video is.
    let (s, joined) = g2.post(&format!("{base}/join"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{joined}");
    assert_eq!(joined["live"]["video"]["position_ms"], 3000);
    assert_eq!(joined["live"]["video"]["playing"], false);
    let late = LiveStream::open(&g2, &format!("{base}/events")).await;
    assert_eq!(late.state["video"]["position_ms"], 3000);

    // Playing: the position at `at` plus the time since.
    pres.post(&format!("{base}/video/play"), json!({})).await;
    let v = streams[2]
        .until("the video state", |s| s["video"]["playing"] == true)
        .await["video"]
        .clone();
    assert_eq!(v["position_ms"], 3000, "play from where it was");

    // A YouTube link with a start time replaces it; another speaker takes over.
    let (s, v) = host
        .post(
            &format!("{base}/video"),
            json!({"youtube": "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1m5s"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for st in &mut streams {
        let v = st
            .until("the video state", |s| s["video"]["kind"] == "youtube")
            .await["video"]
            .clone();
        assert_eq!(v["youtube_id"], "dQw4w9WgXcQ");
        assert_eq!(v["position_ms"], 65_000);
        assert_eq!(
            v["src"],
            "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"
        );
        assert_eq!(v["by_name"], "Hana Host");
    }
    assert_error(
        &pres.post(&format!("{base}/video/play"), json!({})).await,
        StatusCode::FORBIDDEN,
        "video_not_yours",
    );
    let (s, _) = host
        .call(Method::DELETE, &format!("{base}/video"), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    for st in &mut streams {
        st.until("the video state", |s| s["video"].is_null()).await;
    }
}

#[tokio::test]
async fn the_live_room_page_alone_admits_the_youtube_player() {
    let app = TestApp::start().await;
    let member = app.member("m@example.org", "Mia").await;
    let csp = |path: &'static str| {
        let member = member.clone();
        let url = app.url.clone();
        async move {
            let r = member
                .http
                .get(format!("{url}{path}"))
                .header("accept", "text/html")
                .send()
                .await
                .unwrap();
            r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    let room = csp("/sessions/1/live").await;
    assert!(
        room.contains("frame-src https://www.youtube-nocookie.com;"),
        "{room}"
    );
    assert!(
        room.contains("script-src 'self' 'wasm-unsafe-eval' https://www.youtube.com;"),
        "{room}"
    );
    for path in ["/", "/sessions/1", "/profile", "/app.js"] {
        let other = csp(path).await;
        assert!(!other.contains("youtube"), "{path}: {other}");
        assert!(
            other.contains("script-src 'self' 'wasm-unsafe-eval';"),
            "{path}: {other}"
        );
    }
}
