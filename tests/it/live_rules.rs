//! Rights the room takes away stay taken: moderation that sticks, host
//! powers read from the current registration at every action, removed
//! people who no longer read the room; the command endpoint and its bad input.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::live::{FAST, session_with_people};
use crate::support::{Api, LiveStream, TestApp, assert_error};

fn uid(v: &Value) -> u64 {
    v["live"]["me"]["user_id"].as_u64().unwrap()
}

/// Polls `GET /live` as `who` until `pred` holds.
async fn until(who: &Api, base: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let wait = async {
        loop {
            let (_, v) = who.get(base).await;
            if pred(&v) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("the room got there in time")
}

#[tokio::test]
async fn moderation_sticks_until_a_host_lifts_it() {
    let app = TestApp::start_with(FAST).await;
    let (id, _admin, host, pres, _g1, _g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_mins(5)).await;
    let base = format!("/api/sessions/{id}/live");
    host.post(&format!("{base}/start"), json!({})).await;
    host.post(&format!("{base}/join"), json!({})).await;
    let p = uid(&pres.post(&format!("{base}/join"), json!({})).await.1);

    // Muted by a host: the microphone stays off until a host allows it.
    host.post(
        &format!("{base}/moderate"),
        json!({"action": "mute", "user_id": p}),
    )
    .await;
    let devices = format!("{base}/devices");
    assert_error(
        &pres
            .post(&devices, json!({"camera": true, "mic": true}))
            .await,
        StatusCode::FORBIDDEN,
        "muted_by_host",
    );
    let (s, v) = pres
        .post(&devices, json!({"camera": false, "mic": false}))
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "turning things off is always allowed: {v}"
    );
    assert_eq!(v["me"]["mic_locked"], true);
    host.post(
        &format!("{base}/moderate"),
        json!({"action": "allow_mic", "user_id": p}),
    )
    .await;
    let (s, v) = pres
        .post(&devices, json!({"camera": true, "mic": true}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["me"]["mic"], true);

    // Moved off stage: no walking back; a request the host approves brings them back.
    host.post(
        &format!("{base}/moderate"),
        json!({"action": "off_stage", "user_id": p}),
    )
    .await;
    assert_error(
        &pres.post(&format!("{base}/stage/take"), json!({})).await,
        StatusCode::FORBIDDEN,
        "moved_off_by_host",
    );
    let (_, v) = pres.get(&base).await;
    assert_eq!(v["me"]["can_take_stage"], false);
    assert_eq!(v["me"]["can_request_stage"], true);
    pres.post(&format!("{base}/stage/request"), json!({"kind": "stage"}))
        .await;
    host.post(&format!("{base}/stage/approve"), json!({"user_id": p}))
        .await;
    let v = until(&pres, &base, |v| v["me"]["on_stage"] == true).await;
    assert_eq!(v["me"]["stage_locked"], false);
}

#[tokio::test]
async fn host_powers_follow_the_current_registration() {
    let app = TestApp::start_with(FAST).await;
    let (id, admin, host, _pres, g1, _g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_mins(5)).await;
    let base = format!("/api/sessions/{id}/live");
    host.post(&format!("{base}/start"), json!({})).await;
    let h = uid(&host.post(&format!("{base}/join"), json!({})).await.1);
    let g = uid(&g1.post(&format!("{base}/join"), json!({})).await.1);
    admin.post(&format!("{base}/join"), json!({})).await;

    // Hosts cannot remove each other (an admin neither).
    assert_error(
        &admin
            .post(
                &format!("{base}/moderate"),
                json!({"action": "remove", "user_id": h}),
            )
            .await,
        StatusCode::FORBIDDEN,
        "cannot_remove_host",
    );
    // A host whose registration an admin removes loses host powers at once.
    let (s, b) = admin
        .call(
            Method::DELETE,
            &format!("/api/sessions/{id}/participants/{h}"),
            None,
        )
        .await;
    assert!(s.is_success(), "{b}");
    assert_error(
        &host
            .post(
                &format!("{base}/moderate"),
                json!({"action": "remove", "user_id": g}),
            )
            .await,
        StatusCode::FORBIDDEN,
        "host_only",
    );
    assert_eq!(host.get(&base).await.1["me"]["can_moderate"], false);
    assert_error(
        &host.post(&format!("{base}/end"), json!({})).await,
        StatusCode::FORBIDDEN,
        "host_only",
    );
}

/// Host powers shown on an event stream opened before the change follow the
/// change at once: a host whose registration goes, an admin made and unmade.
#[tokio::test]
async fn open_event_streams_follow_changed_powers() {
    let app = TestApp::start_with(FAST).await;
    let (id, admin, host, _pres, g1, _g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_mins(5)).await;
    let base = format!("/api/sessions/{id}/live");
    host.post(&format!("{base}/start"), json!({})).await;
    let h = uid(&host.post(&format!("{base}/join"), json!({})).await.1);
    let g = uid(&g1.post(&format!("{base}/join"), json!({})).await.1);
    let mut host_stream = LiveStream::open(&host, &format!("{base}/events")).await;
    let mut guest_stream = LiveStream::open(&g1, &format!("{base}/events")).await;
    assert_eq!(host_stream.state["me"]["can_moderate"], true);
    assert_eq!(guest_stream.state["me"]["can_moderate"], false);

    // The admin removes the host's registration: the host's open stream
    // drops the host controls, and the others see them as a guest.
    let (s, b) = admin
        .call(
            Method::DELETE,
            &format!("/api/sessions/{id}/participants/{h}"),
            None,
        )
        .await;
    assert!(s.is_success(), "{b}");
    host_stream
        .until("the host controls gone", |v| {
            v["me"]["can_moderate"] == false && v["me"]["is_host"] == false
        })
        .await;
    let host_as_seen = |v: &Value| {
        v["people"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["user_id"] == h).cloned())
            .unwrap_or(Value::Null)
    };
    guest_stream
        .until("the former host shown without host powers", |v| {
            host_as_seen(v)["is_host"] == false
        })
        .await;

    // Made admin: the guest's open stream shows the host controls; unmade: gone.
    for make in [true, false] {
        let (s, b) = admin
            .call(
                Method::PATCH,
                &format!("/api/admin/users/{g}"),
                Some(json!({"is_admin": make})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        guest_stream
            .until("the controls following the admin flag", |v| {
                v["me"]["can_moderate"] == make
            })
            .await;
    }
}

#[tokio::test]
async fn removed_people_no_longer_read_the_room() {
    let app = TestApp::start_with(FAST).await;
    let (id, _admin, host, _pres, g1, _g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_mins(5)).await;
    let base = format!("/api/sessions/{id}/live");
    host.post(&format!("{base}/start"), json!({})).await;
    host.post(&format!("{base}/join"), json!({})).await;
    let g = uid(&g1.post(&format!("{base}/join"), json!({})).await.1);
    host.post(
        &format!("{base}/moderate"),
        json!({"action": "remove", "user_id": g}),
    )
    .await;
    for path in ["", "/events", "/thumbnail"] {
        assert_error(
            &g1.get(&format!("{base}{path}")).await,
            StatusCode::FORBIDDEN,
            "removed",
        );
    }
    assert_error(
        &g1.post(&format!("{base}/chat"), json!({"text": "still here?"}))
            .await,
        StatusCode::FORBIDDEN,
        "removed",
    );
}

#[tokio::test]
async fn commands_and_their_bad_input() {
    let app = TestApp::start_with(FAST).await;
    let (id, _admin, host, _pres, g1, _g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_mins(5)).await;
    let base = format!("/api/sessions/{id}/live");
    host.post(&format!("{base}/start"), json!({})).await;
    host.post(&format!("{base}/join"), json!({})).await;
    g1.post(&format!("{base}/join"), json!({})).await;
    let commands = format!("{base}/commands");
    let (s, v) = g1
        .post(&commands, json!({"command": "chat", "text": "hello"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["chat"][0]["text"], "hello");

    let cases = [
        (
            &commands,
            json!({"command": "fly"}),
            "invalid_command",
            Some("command"),
        ),
        (
            &commands,
            json!({"command": "chat"}),
            "missing_field",
            Some("text"),
        ),
        (
            &commands,
            json!({"text": "hi"}),
            "missing_field",
            Some("command"),
        ),
        (
            &commands,
            json!({"command": "chat", "text": "hi", "x": 1}),
            "invalid_json",
            None,
        ),
        (&commands, json!(["chat"]), "invalid_json", None),
        (
            &commands,
            json!({"command": "vote", "question": "one"}),
            "invalid_json",
            None,
        ),
        (
            &commands,
            json!({"command": "chat", "text": "\u{7}\u{1b}\u{0}"}),
            "empty_text",
            Some("text"),
        ),
    ];
    for (path, body, code, field) in cases {
        let got = g1.post(path, body.clone()).await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{body}: {}", got.1);
        assert_eq!(got.1["error"]["code"], code, "{body}: {}", got.1);
        assert_eq!(got.1["error"]["field"], json!(field), "{body}: {}", got.1);
        assert!(got.1["error"]["message"].as_str().unwrap().len() > 5);
    }
    assert_error(
        &g1.post(&format!("{base}/chat"), json!({"command": "end"}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    assert_error(
        &g1.post(&format!("{base}/questions/abc/vote"), json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (s, _) = g1
        .call(Method::PUT, &format!("{base}/chat"), Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    // Nothing half-written: the refused messages are not in the chat.
    let (_, v) = g1.get(&base).await;
    assert_eq!(v["chat"].as_array().unwrap().len(), 1, "{}", v["chat"]);
}

#[tokio::test]
async fn a_removal_survives_a_restart() {
    let mut app = TestApp::start_with(FAST).await;
    let (id, _admin, host, _pres, g1, _g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_mins(5)).await;
    let base = format!("/api/sessions/{id}/live");
    host.post(&format!("{base}/start"), json!({})).await;
    host.post(&format!("{base}/join"), json!({})).await;
    let g = uid(&g1.post(&format!("{base}/join"), json!({})).await.1);
    host.post(
        &format!("{base}/moderate"),
        json!({"action": "remove", "user_id": g}),
    )
    .await;
    app.restart().await;
    let (g1, host) = (
        Api {
            base: app.url.clone(),
            ..g1
        },
        Api {
            base: app.url.clone(),
            ..host
        },
    );
    // (GETs: the clients' Origin header names the server before the restart.)
    assert_error(&g1.get(&base).await, StatusCode::FORBIDDEN, "removed");
    let (s, b) = host.get(&base).await;
    assert_eq!(s, StatusCode::OK, "the host still reads the room: {b}");
}

#[tokio::test]
async fn writing_too_fast_says_when_to_try_again() {
    let app = TestApp::start_with(FAST).await;
    let (id, _admin, host, _pres, g1, _g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_mins(5)).await;
    let base = format!("/api/sessions/{id}/live");
    host.post(&format!("{base}/start"), json!({})).await;
    g1.post(&format!("{base}/join"), json!({})).await;
    let url = format!("{}{base}/chat", app.url);
    let mut refused = None;
    for i in 0..10 {
        let r = g1
            .http
            .post(&url)
            .json(&json!({"text": format!("message {i}")}))
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(r);
            break;
        }
    }
    let r = refused.expect("the chat limit answers 429");
    let secs: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&secs), "Retry-After {secs}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "slow_down");
}

#[tokio::test]
async fn one_person_holds_at_most_five_event_streams() {
    let app = TestApp::start_with(FAST).await;
    let (id, _admin, host, _pres, g1, _g2) =
        session_with_people(&app, Timestamp::now() + SignedDuration::from_mins(5)).await;
    let base = format!("/api/sessions/{id}/live");
    host.post(&format!("{base}/start"), json!({})).await;
    g1.post(&format!("{base}/join"), json!({})).await;
    let url = format!("{}{base}/events", app.url);
    let mut open = Vec::new();
    for _ in 0..5 {
        let r = g1.http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        open.push(r);
    }
    assert_error(
        &g1.get(&format!("{base}/events")).await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_streams",
    );
    // Others are not affected.
    let r = host.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    drop(open);
}
