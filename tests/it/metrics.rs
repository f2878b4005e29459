//! `/metrics` through the real server: the media engine's counters move while
//! bots publish through the app and a live session's series go when it ends,
//! HTTP requests are labelled by the route table's pattern (never the raw
//! path), process metrics are there, and `[metrics] token` keeps it private.

use std::collections::HashMap;
use std::time::Duration;

use podium_media::bot::{AudioClip, VideoClip};
use reqwest::StatusCode;
use serde_json::json;

use crate::media::{bot_for, join, live_session};
use crate::support::TestApp;

const T: Duration = Duration::from_secs(20);

/// Every sample of a scrape, by name with labels as written.
async fn scrape(app: &TestApp) -> (String, HashMap<String, f64>) {
    let resp = reqwest::get(format!("{}/metrics", app.url)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
    );
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    let samples = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect();
    (text, samples)
}

fn get(samples: &HashMap<String, f64>, name: &str) -> f64 {
    *samples
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing in {samples:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_counters_move_while_bots_publish_and_a_sessions_series_go_when_it_ends() {
    let app = TestApp::start().await;
    let people = [
        ("host@example.org", "Host", "host"),
        ("pres@example.org", "Presenter", "presenter"),
        ("guest@example.org", "Guest", "guest"),
    ];
    let (id, c) = live_session(&app, "Counted", &people).await;
    join(&c[0], id).await;
    let p = join(&c[1], id).await;
    let g = join(&c[2], id).await;

    let (_, before) = scrape(&app).await;
    assert_eq!(get(&before, "podium_media_frames_in_total"), 0.0);
    assert_eq!(get(&before, "podium_media_publishers"), 0.0);

    let mut publisher = bot_for(&app, &p.media).await;
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
    let guest = bot_for(&app, &g.media).await;
    guest
        .wait_until("the presenter's video and audio decoded", T, |s| {
            s.track(vt.0).decoded >= 10 && s.track(at.0).decoded >= 10
        })
        .await
        .unwrap();

    let (text, first) = scrape(&app).await;
    let session = format!("{{session=\"{id}\"}}");
    for name in [
        "podium_media_frames_in_total",
        "podium_media_bytes_in_total",
        "podium_media_frames_out_total",
        "podium_media_bytes_out_total",
        "podium_media_fanout_frames_total",
        "podium_media_fanout_seconds_total",
    ] {
        assert!(get(&first, name) > 0.0, "{name} in\n{text}");
    }
    assert!(
        get(
            &first,
            &format!("podium_media_session_frames_in_total{session}")
        ) > 0.0
    );
    assert!(
        get(
            &first,
            &format!("podium_media_session_bytes_out_total{session}")
        ) > 0.0
    );
    assert_eq!(
        get(
            &first,
            &format!("podium_media_session_participants{session}")
        ),
        2.0
    );
    assert_eq!(get(&first, "podium_media_publishers"), 1.0);
    assert_eq!(get(&first, "podium_media_tracks"), 2.0);
    assert_eq!(
        get(&first, &format!("podium_media_session_tracks{session}")),
        2.0
    );
    assert_eq!(
        get(&first, "podium_media_subscriber_queue_bytes_count"),
        2.0
    );
    // The guest's subscription asked the presenter for a keyframe? Not
    // always (the first frame is one); the series is there either way.
    get(&first, "podium_media_keyframe_requests_total");
    get(
        &first,
        "podium_media_frames_dropped_total{reason=\"congestion\"}",
    );
    get(
        &first,
        "podium_media_frames_dropped_total{reason=\"budget\"}",
    );
    get(&first, "podium_media_redundant_audio_deliveries_total");
    get(
        &first,
        "podium_media_link_saturated_total{cause=\"backlog\"}",
    );
    get(
        &first,
        "podium_media_datagrams_lost_total{reason=\"send_failed\"}",
    );

    // More frames later: the counters moved.
    let decoded = guest.stats().track(vt.0).decoded;
    guest
        .wait_until("more video decoded", T, |s| {
            s.track(vt.0).decoded >= decoded + 20
        })
        .await
        .unwrap();
    let (_, second) = scrape(&app).await;
    for name in [
        "podium_media_frames_in_total",
        "podium_media_bytes_in_total",
        "podium_media_frames_out_total",
        "podium_media_bytes_out_total",
    ] {
        assert!(
            get(&second, name) > get(&first, name),
            "{name} did not move"
        );
    }

    // The host ends the session: its labelled series go, the totals stay.
    let (s, body) = c[0]
        .post(&format!("/api/sessions/{id}/live/end"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    drop(guest);
    drop(publisher);
    let (_, after) = tokio::time::timeout(T, async {
        loop {
            let now = scrape(&app).await;
            if !now.0.contains(&session) {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the ended session's series go");
    for name in [
        "podium_media_frames_in_total",
        "podium_media_bytes_out_total",
    ] {
        assert!(get(&after, name) >= get(&second, name), "{name} went down");
    }
    assert_eq!(get(&after, "podium_media_publishers"), 0.0);
}

#[tokio::test]
async fn requests_are_counted_by_route_pattern_and_process_metrics_are_there() {
    let app = TestApp::start().await;
    let c = app.member("m@example.org", "Member").await;
    for id in [1234567, 7654321] {
        let (s, _) = c.get(&format!("/api/sessions/{id}")).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    let (s, _) = c.get("/api/no/such/route/ever").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let r = reqwest::get(format!("{}/a-raw-path-nobody-routes", app.url))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (s, _) = c
        .post("/api/sessions/1234567/live/questions/9/vote", json!({}))
        .await;
    assert!(s.is_client_error(), "{s}");

    let r = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(b"MADEUP").unwrap(),
            format!("{}/api/sessions/5", app.url),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());

    let (text, m) = scrape(&app).await;
    assert!(!text.contains("MADEUP"), "a made-up method became a label");
    assert!(
        text.contains("route=\"/api/sessions/{n}\",method=\"other\""),
        "{text}"
    );
    assert_eq!(
        get(
            &m,
            "podium_http_requests_total{route=\"/api/sessions/{n}\",method=\"GET\",status=\"404\"}"
        ),
        2.0
    );
    assert_eq!(
        get(
            &m,
            "podium_http_request_duration_seconds_count{route=\"/api/sessions/{n}\",method=\"GET\"}"
        ),
        2.0
    );
    assert_eq!(
        get(
            &m,
            "podium_http_request_duration_seconds_bucket{le=\"+Inf\",route=\"/api/sessions/{n}\",method=\"GET\"}"
        ),
        2.0
    );
    assert!(
        text.contains("route=\"/api/sessions/{n}/live/questions/{q}/vote\",method=\"POST\""),
        "{text}"
    );
    assert_eq!(
        get(
            &m,
            "podium_http_requests_total{route=\"other\",method=\"GET\",status=\"404\"}"
        ),
        2.0
    );
    for raw in ["/1234567", "/7654321", "/no/such", "/a-raw-path"] {
        assert!(!text.contains(raw), "{raw} became a label:\n{text}");
    }
    assert!(get(&m, "podium_http_responses_total{class=\"4xx\"}") >= 5.0);

    assert!(get(&m, "process_cpu_seconds_total") > 0.0);
    assert!(get(&m, "process_resident_memory_bytes") > 1e6);
    assert!(get(&m, "process_open_fds") > 3.0);
    assert!(get(&m, "process_threads") >= 2.0);
    assert!(get(&m, "process_max_fds") >= get(&m, "process_open_fds"));
    assert!(text.contains("podium_build_info{version=\""), "{text}");
}

#[tokio::test]
async fn a_metrics_token_refuses_missing_and_bad_tokens() {
    let token = "tok-0123456789-abcdef";
    let app = TestApp::start_with(&format!("[metrics]\ntoken = \"{token}\"\n")).await;
    let url = format!("{}/metrics", app.url);
    let http = reqwest::Client::new();
    for auth in [
        None,
        Some("Bearer wrong-token-0123456789".to_owned()),
        Some(format!("Bearer {token}x")),
        Some(format!("Basic {token}")),
        Some(format!("bearer{token}")),
        Some("Bearer ".to_owned()),
    ] {
        let mut req = http.get(&url);
        if let Some(a) = &auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Bearer"),
            "{body}"
        );
    }
    let r = http
        .get(&url)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(text.contains("\npodium_users "), "{text}");
    // The refusals were counted under the route, like any request.
    assert!(
        text.contains("route=\"/metrics\",method=\"GET\",status=\"401\"} 6"),
        "{text}"
    );
}
