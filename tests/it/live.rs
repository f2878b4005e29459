//! The live room's control plane over the real API: start lead time, join,
//! the stage queue with approval and countdown, moderation, chat and Q&A
//! (kept across a restart), the event stream and presence, breakouts, end.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Api, TestApp, assert_error, manual_clock};

pub(crate) const FAST: &str = "[live]\ncountdown_seconds = 1\nleave_grace_seconds = 1\n";

/// A published session starting in `mins` minutes with a host, a presenter and guests.
pub(crate) async fn session_with_people(
    app: &TestApp,
    start: Timestamp,
) -> (u64, Api, Api, Api, Api, Api) {
    let admin = app.admin().await;
    let (_, s) = admin
        .post(
            "/api/sessions",
            json!({"title": "Live test", "starts_at": start.to_string(), "time_zone": "UTC",
                   "capacity": {"host": 1, "presenter": 2, "interviewer": 1, "guest": 10}}),
        )
        .await;
    let id = s["id"].as_u64().unwrap();
    admin
        .post(&format!("/api/sessions/{id}/publish"), json!({}))
        .await;
    let host = app.member("host@example.org", "Hana Host").await;
    let pres = app.member("pres@example.org", "Pete Presenter").await;
    let g1 = app.member("g1@example.org", "Gus").await;
    let g2 = app.member("g2@example.org", "Gia").await;
    for (c, role) in [
        (&host, "host"),
        (&pres, "presenter"),
        (&g1, "guest"),
        (&g2, "guest"),
    ] {
        let (s, b) = c
            .post(
                &format!("/api/sessions/{id}/registrations"),
                json!({"role": role}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    (id, admin, host, pres, g1, g2)
}

fn uid(v: &Value) -> u64 {
    v["me"]["user_id"].as_u64().unwrap()
}

#[tokio::test]
async fn start_only_from_the_lead_time_and_only_by_hosts() {
    let (clock, c) = manual_clock("2026-12-01T16:00:00Z");
    let app = TestApp::start_with_clock(FAST, c).await;
    let (id, _admin, host, _pres, g1, _) =
        session_with_people(&app, "2026-12-01T17:00:00Z".parse().unwrap()).await;
    let base = format!("/api/sessions/{id}/live");
    clock.set("2026-12-01T16:44:00Z".parse().unwrap()); // T-16m
    let (_, w) = host.get(&base).await;
    assert_eq!(w["status"], "waiting");
    assert_eq!(w["me"]["can_start"], false);
    assert_eq!(w["start_opens_at"], "2026-12-01T16:45:00Z");
    assert_error(
        &host.post(&format!("{base}/start"), json!({})).await,
        StatusCode::CONFLICT,
        "too_early",
    );
    assert_error(
        &g1.post(&format!("{base}/join"), json!({})).await,
        StatusCode::CONFLICT,
        "not_started",
    );
    clock.advance(SignedDuration::from_mins(1)); // T-15m
    assert_eq!(host.get(&base).await.1["me"]["can_start"], true);
    assert_error(
        &g1.post(&format!("{base}/start"), json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (s, live) = host.post(&format!("{base}/start"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{live}");
    assert_eq!(live["status"], "live");
    let (_, d) = g1.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(
        d["session"]["status"], "in_progress",
        "Start makes the session In Progress"
    );
}

#[tokio::test]
async fn stage_queue_approval_countdown_and_moderation() {
    let app = TestApp::start_with(FAST).await;
    let (id, _admin, host, pres, g1, g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_mins(5)).await;
    let base = format!("/api/sessions/{id}/live");
    host.post(&format!("{base}/start"), json!({})).await;
    let mut ids = Vec::new();
    for c in [&host, &pres, &g1, &g2] {
        let (s, j) = c.post(&format!("{base}/join"), json!({})).await;
        assert_eq!(s, StatusCode::OK, "{j}");
        ids.push(uid(&j["live"]));
    }
    let (h, p, a, b) = (ids[0], ids[1], ids[2], ids[3]);
    let (_, live) = g1.get(&base).await;
    assert_eq!(live["audience_count"], 2);
    assert_eq!(app.metric("podium_live_sessions").await, 1.0);
    assert_eq!(app.metric("podium_live_participants").await, 4.0);
    assert_eq!(app.metric("podium_live_on_stage").await, 2.0);
    let on_stage: Vec<u64> = live["people"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["on_stage"] == true)
        .map(|x| x["user_id"].as_u64().unwrap())
        .collect();
    assert_eq!(on_stage.len(), 2);
    assert!(
        on_stage.contains(&h) && on_stage.contains(&p),
        "speakers join on stage"
    );

    // One ordered queue: a request with camera off, then a raised hand.
    let (s, r) = g1
        .post(
            &format!("{base}/stage/request"),
            json!({"kind": "stage", "camera": false, "mic": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["me"]["request"]["position"], 1);
    g2.post(&format!("{base}/stage/request"), json!({"kind": "hand"}))
        .await;
    assert_error(
        &g2.post(&format!("{base}/stage/request"), json!({"kind": "hand"}))
            .await,
        StatusCode::CONFLICT,
        "already_requested",
    );
    assert_eq!(
        g1.get(&base).await.1["queue"],
        json!([]),
        "only hosts see the queue"
    );
    let (_, hv) = host.get(&base).await;
    let q: Vec<u64> = hv["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["user_id"].as_u64().unwrap())
        .collect();
    assert_eq!(q, vec![a, b]);
    assert!(hv["queue"][0]["waited_seconds"].is_number());
    assert_eq!(
        hv["people"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["user_id"] == b)
            .unwrap()["hand_raised"],
        true
    );

    // Withdraw, decline, approve with countdown.
    g2.call(Method::DELETE, &format!("{base}/stage/request"), None)
        .await;
    assert_error(
        &g1.post(&format!("{base}/stage/approve"), json!({"user_id": a}))
            .await,
        StatusCode::FORBIDDEN,
        "host_only",
    );
    let (s, v) = host
        .post(&format!("{base}/stage/approve"), json!({"user_id": a}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, mine) = g1.get(&base).await;
    assert!(
        mine["me"]["countdown_ends_at"].is_string(),
        "{}",
        mine["me"]
    );
    assert_eq!(mine["me"]["on_stage"], false);
    let on = async {
        loop {
            let (_, m) = g1.get(&base).await;
            if m["me"]["on_stage"] == true {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let m = tokio::time::timeout(Duration::from_secs(5), on)
        .await
        .expect("on stage after the countdown");
    assert_eq!(
        (m["me"]["camera"].clone(), m["me"]["mic"].clone()),
        (json!(false), json!(true)),
        "the chosen devices"
    );
    // Countdown cancel.
    g2.post(&format!("{base}/stage/request"), json!({"kind": "stage"}))
        .await;
    host.post(&format!("{base}/stage/approve"), json!({"user_id": b}))
        .await;
    let (s, _) = g2.post(&format!("{base}/stage/cancel"), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(
        g2.get(&base).await.1["me"]["on_stage"],
        false,
        "cancelled during the countdown"
    );

    // Moderation: mute, move off stage, remove (cannot come back).
    host.post(
        &format!("{base}/moderate"),
        json!({"action": "mute", "user_id": p}),
    )
    .await;
    assert_eq!(pres.get(&base).await.1["me"]["mic"], false);
    host.post(
        &format!("{base}/moderate"),
        json!({"action": "off_stage", "user_id": a}),
    )
    .await;
    assert_eq!(g1.get(&base).await.1["me"]["on_stage"], false);
    assert_error(
        &host
            .post(
                &format!("{base}/moderate"),
                json!({"action": "ban", "user_id": a}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_action",
    );
    host.post(
        &format!("{base}/moderate"),
        json!({"action": "remove", "user_id": b}),
    )
    .await;
    assert_error(
        &g2.post(&format!("{base}/join"), json!({})).await,
        StatusCode::FORBIDDEN,
        "removed",
    );

    // End closes the room for everyone.
    assert_error(
        &g1.post(&format!("{base}/end"), json!({})).await,
        StatusCode::FORBIDDEN,
        "host_only",
    );
    host.post(&format!("{base}/end"), json!({})).await;
    assert_eq!(g1.get(&base).await.1["status"], "ended");
    assert_error(
        &g1.post(&format!("{base}/join"), json!({})).await,
        StatusCode::CONFLICT,
        "session_ended",
    );
    assert_eq!(
        g1.get(&format!("/api/sessions/{id}")).await.1["session"]["status"],
        "completed"
    );
}

#[tokio::test]
async fn chat_and_questions_survive_a_restart() {
    let mut app = TestApp::start_with(FAST).await;
    let (id, admin, host, _pres, g1, g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_mins(5)).await;
    let base = format!("/api/sessions/{id}/live");
    host.post(&format!("{base}/start"), json!({})).await;
    for c in [&host, &g1, &g2] {
        c.post(&format!("{base}/join"), json!({})).await;
    }
    g1.post(
        &format!("{base}/chat"),
        json!({"text": "<b>hello</b> everyone"}),
    )
    .await;
    for i in 0..4 {
        g2.post(&format!("{base}/chat"), json!({"text": format!("msg {i}")}))
            .await;
    }
    g2.post(&format!("{base}/chat"), json!({"text": "5th"}))
        .await;
    assert_error(
        &g2.post(&format!("{base}/chat"), json!({"text": "6th"}))
            .await,
        StatusCode::TOO_MANY_REQUESTS,
        "slow_down",
    );
    assert_error(
        &g2.post(&format!("{base}/chat"), json!({"text": "   "}))
            .await,
        StatusCode::BAD_REQUEST,
        "empty_text",
    );
    let (_, q1) = g1
        .post(
            &format!("{base}/questions"),
            json!({"text": "How do lifetimes work?"}),
        )
        .await;
    let qid = q1["questions"]["open"][0]["id"].as_u64().unwrap();
    // g2 has used up its writing allowance on chat; the host asks instead.
    host.post(
        &format!("{base}/questions"),
        json!({"text": "Second question"}),
    )
    .await;
    let (s, v) = g2
        .post(&format!("{base}/questions/{qid}/vote"), json!({"up": true}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["questions"]["open"][0]["votes"], 1);
    assert_eq!(v["questions"]["open"][0]["voted"], true);
    assert_error(
        &g2.post(&format!("{base}/questions/{qid}/vote"), json!({"up": true}))
            .await,
        StatusCode::CONFLICT,
        "already_voted",
    );
    assert_error(
        &g1.post(&format!("{base}/questions/{qid}/answer"), json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "moderator_only",
    );
    host.post(
        &format!("{base}/questions/{qid}/answer"),
        json!({"answered": true}),
    )
    .await;

    app.restart().await;
    let g1 = Api {
        base: app.url.clone(),
        ..g1
    };
    let (s, v) = g1.get(&base).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["status"], "live",
        "the session is still live after a restart"
    );
    let texts: Vec<&str> = v["chat"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts.first(),
        Some(&"<b>hello</b> everyone"),
        "stored as plain text, rendered by the client"
    );
    assert_eq!(texts.len(), 6);
    assert_eq!(v["questions"]["answered"][0]["id"], qid);
    assert_eq!(v["questions"]["answered"][0]["votes"], 1);
    assert_eq!(v["questions"]["open"][0]["text"], "Second question");
    let _ = admin;
}

#[tokio::test]
async fn event_stream_delivers_changes_and_is_presence() {
    let app = TestApp::start_with(FAST).await;
    let (id, _admin, host, _pres, g1, _g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_mins(5)).await;
    let base = format!("/api/sessions/{id}/live");
    host.post(&format!("{base}/start"), json!({})).await;
    host.post(&format!("{base}/join"), json!({})).await;
    g1.post(&format!("{base}/join"), json!({})).await;
    let mut stream = g1
        .http
        .get(format!("{}{base}/events", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut buf = String::new();
    let mut next_event = async |want: &str| -> Value {
        loop {
            if let Some(i) = buf.find("\n\n") {
                let block: String = buf.drain(..i + 2).collect();
                let ev = block
                    .lines()
                    .find_map(|l| l.strip_prefix("event: "))
                    .unwrap_or("");
                let data = block
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .unwrap_or("null");
                if ev == want {
                    return serde_json::from_str(data).unwrap();
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
                .await
                .expect("event in time")
                .unwrap()
                .unwrap();
            buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    };
    let first = next_event("state").await;
    assert_eq!(first["me"]["in_room"], true);
    host.post(&format!("{base}/chat"), json!({"text": "Welcome!"}))
        .await;
    let chat = next_event("chat").await;
    assert_eq!(chat["text"], "Welcome!");
    assert_eq!(chat["name"], "Hana Host");
    host.post(
        &format!("{base}/moderate"),
        json!({"action": "mute", "user_id": uid(&first)}),
    )
    .await;
    next_event("mute").await;
    drop(stream);
    // Without an event stream, the person leaves after the grace period.
    let gone = async {
        loop {
            let (_, v) = host.get(&base).await;
            if !v["people"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "Gus")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), gone)
        .await
        .expect("a vanished client leaves the roster");
}

#[tokio::test]
async fn event_stream_patches_rebuild_the_state_and_stay_small() {
    let app = TestApp::start_with(FAST).await;
    let (id, _admin, host, _pres, g1, g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_mins(5)).await;
    let base = format!("/api/sessions/{id}/live");
    host.post(&format!("{base}/start"), json!({})).await;
    for who in [&host, &g1, &g2] {
        who.post(&format!("{base}/join"), json!({})).await;
    }
    let mut stream = g1
        .http
        .get(format!("{}{base}/events", app.url))
        .send()
        .await
        .unwrap();
    let mut buf = String::new();
    // The next `state` or `patch` event: (its name, its data, its size).
    let mut next = async || -> (String, Value, usize) {
        loop {
            if let Some(i) = buf.find("\n\n") {
                let block: String = buf.drain(..i + 2).collect();
                let ev = block
                    .lines()
                    .find_map(|l| l.strip_prefix("event: "))
                    .unwrap_or("");
                if ev == "state" || ev == "patch" {
                    let data = block
                        .lines()
                        .find_map(|l| l.strip_prefix("data: "))
                        .unwrap();
                    return (
                        ev.to_owned(),
                        serde_json::from_str(data).unwrap(),
                        data.len(),
                    );
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
                .await
                .expect("event in time")
                .unwrap()
                .unwrap();
            buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    };
    let (ev, mut state, whole) = next().await;
    assert_eq!(ev, "state", "the first event is the whole state");
    // Changes of every kind: a question, a vote, a stage request, chat.
    let (_, q) = g2
        .post(
            &format!("{base}/questions"),
            json!({"text": "What about patches?"}),
        )
        .await;
    let qid = q["questions"]["open"][0]["id"].clone();
    let (s, v) = host
        .post(&format!("{base}/questions/{qid}/vote"), json!({"up": true}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = g2
        .post(
            &format!("{base}/stage/request"),
            json!({"kind": "stage", "camera": true, "mic": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    host.post(&format!("{base}/chat"), json!({"text": "Hi"}))
        .await;
    let comparable = |v: &Value| {
        let mut v = v.clone();
        v["now"] = Value::Null;
        v["chat"] = Value::Null;
        v
    };
    let want = async || comparable(&g1.get(&base).await.1);
    let mut patches = 0;
    let mut largest = 0;
    loop {
        let (ev, data, size) = next().await;
        assert_eq!(ev, "patch", "later states are patches: {data}");
        podium::http::patch::apply(&mut state, &data);
        patches += 1;
        largest = largest.max(size);
        if comparable(&state) == want().await {
            break;
        }
        assert!(patches < 50, "the patches never rebuilt the state");
    }
    assert!(
        largest < whole,
        "a patch ({largest} B) is smaller than the state ({whole} B)"
    );
    assert_eq!(state["questions"]["open"][0]["text"], "What about patches?");
}

#[tokio::test]
async fn breakouts_and_bad_input() {
    let app = TestApp::start_with(FAST).await;
    let (id, _admin, host, pres, g1, g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_mins(5)).await;
    let base = format!("/api/sessions/{id}/live");
    assert_error(
        &g1.get(&format!("{base}/events")).await,
        StatusCode::CONFLICT,
        "not_started",
    );
    host.post(&format!("{base}/start"), json!({})).await;
    for c in [&host, &pres, &g1, &g2] {
        c.post(&format!("{base}/join"), json!({})).await;
    }
    assert_error(
        &host
            .post(
                &format!("{base}/breakouts"),
                json!({"auto": 2, "minutes": 0}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_breakouts",
    );
    let (s, v) = host
        .post(
            &format!("{base}/breakouts"),
            json!({"auto": 2, "minutes": 10}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["breakouts"].as_array().unwrap().len(), 2);
    let closes: Timestamp = v["breakouts_close_at"].as_str().unwrap().parse().unwrap();
    let (_, v) = host
        .post(&format!("{base}/breakouts/timer"), json!({"minutes": 15}))
        .await;
    let later: Timestamp = v["breakouts_close_at"].as_str().unwrap().parse().unwrap();
    assert!(later > closes, "the host extends the rooms");
    host.post(
        &format!("{base}/broadcast"),
        json!({"text": "Five minutes left"}),
    )
    .await;
    for c in [&g1, &g2] {
        let (_, v) = c.get(&base).await;
        assert!(
            v["chat"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["text"] == "Five minutes left"),
            "every room hears it"
        );
    }
    assert_error(
        &g1.post(&format!("{base}/broadcast"), json!({"text": "x"}))
            .await,
        StatusCode::FORBIDDEN,
        "host_only",
    );
    let (_, mine) = g1.get(&base).await;
    assert_ne!(mine["me"]["room"], 0);
    assert_eq!(
        mine["me"]["on_stage"], true,
        "camera and mic on in a breakout room"
    );
    g1.post(&format!("{base}/chat"), json!({"text": "room chat"}))
        .await;
    let (_, other) = g2.get(&base).await;
    let same_room = other["me"]["room"] == mine["me"]["room"];
    let sees = other["chat"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["text"] == "room chat");
    assert_eq!(sees, same_room, "chat is room-specific");
    assert_error(
        &host
            .post(&format!("{base}/breakouts"), json!({"auto": 2}))
            .await,
        StatusCode::CONFLICT,
        "breakouts_open",
    );
    host.call(Method::DELETE, &format!("{base}/breakouts"), None)
        .await;
    assert_eq!(g1.get(&base).await.1["me"]["room"], 0);

    let cases = [
        (
            json!({"kind": "dance"}),
            "stage/request",
            StatusCode::BAD_REQUEST,
            "invalid_kind",
        ),
        (
            json!({}),
            "stage/approve",
            StatusCode::BAD_REQUEST,
            "missing_field",
        ),
        (
            json!({"user_id": 999}),
            "stage/approve",
            StatusCode::NOT_FOUND,
            "no_request",
        ),
        (
            json!({"text": "x".repeat(1001)}),
            "chat",
            StatusCode::BAD_REQUEST,
            "text_too_long",
        ),
        (
            json!({"text": "hi", "extra": 1}),
            "chat",
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            json!({"rooms": [{"name": "x".repeat(31), "user_ids": []}]}),
            "breakouts",
            StatusCode::BAD_REQUEST,
            "invalid_breakouts",
        ),
        (
            json!({"rooms": [], "auto": 2}),
            "breakouts",
            StatusCode::BAD_REQUEST,
            "invalid_breakouts",
        ),
        (
            json!({"item": 99}),
            "agenda",
            StatusCode::BAD_REQUEST,
            "invalid_item",
        ),
        (
            json!({"room": 5}),
            "visit",
            StatusCode::NOT_FOUND,
            "no_room",
        ),
        (json!({}), "teleport", StatusCode::NOT_FOUND, "not_found"),
        (
            json!({"up": true}),
            "questions/77/vote",
            StatusCode::NOT_FOUND,
            "no_question",
        ),
    ];
    for (body, path, status, code) in cases {
        assert_error(
            &host.post(&format!("{base}/{path}"), body).await,
            status,
            code,
        );
    }
    assert_error(
        &host
            .call(
                Method::PUT,
                &format!("{base}/chat"),
                Some(json!({"text": "x"})),
            )
            .await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    assert_error(
        &app.client().get(&base).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let (s, v) = host
        .post(&format!("{base}/agenda"), json!({"item": 1}))
        .await;
    assert_eq!(
        (s, v["agenda"]["current"].clone()),
        (StatusCode::OK, json!(1))
    );
}

#[tokio::test]
async fn walk_ins_fill_unclaimed_places_up_to_the_capacity() {
    let app = TestApp::start_with(FAST).await;
    let admin = app.admin().await;
    let start = Timestamp::now() + SignedDuration::from_mins(5);
    let (_, s) = admin
        .post(
            "/api/sessions",
            json!({"title": "Small", "starts_at": start.to_string(), "time_zone": "UTC",
            "capacity": {"host": 1, "presenter": 0, "interviewer": 0, "guest": 2}}),
        )
        .await;
    let id = s["id"].as_u64().unwrap();
    admin
        .post(&format!("/api/sessions/{id}/publish"), json!({}))
        .await;
    let host = app.member("h@example.org", "H").await;
    host.post(
        &format!("/api/sessions/{id}/registrations"),
        json!({"role": "host"}),
    )
    .await;
    let base = format!("/api/sessions/{id}/live");
    host.post(&format!("{base}/start"), json!({})).await;
    host.post(&format!("{base}/join"), json!({})).await;
    // Two unclaimed guest places: open to anyone signed in once live.
    for i in 0..2 {
        let w = app.member(&format!("w{i}@example.org"), "Walk-in").await;
        let (s, b) = w.post(&format!("{base}/join"), json!({})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let late = app.member("late@example.org", "Late").await;
    assert_error(
        &late.post(&format!("{base}/join"), json!({})).await,
        StatusCode::CONFLICT,
        "room_full",
    );
}
