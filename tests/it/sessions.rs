//! Community sessions over the real API with a real SMTP sink: statuses and
//! transitions, registration, waitlists with timed offers, premium rules,
//! admin actions, capacity races, bad input, emails and their invites.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::smtp::SmtpSink;
use crate::support::{Api, TestApp, assert_error, manual_clock};

fn in_days(days: i64) -> String {
    (Timestamp::now() + SignedDuration::from_hours(24 * days)).to_string()
}

/// Creates and publishes a session; returns its id.
async fn published(admin: &Api, extra: Value) -> u64 {
    let id = draft(admin, extra).await;
    let (s, body) = admin
        .post(&format!("/api/sessions/{id}/publish"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "open");
    id
}

async fn draft(admin: &Api, extra: Value) -> u64 {
    let mut body = json!({
        "title": "Rust in production",
        "description": "Three short talks.\nThen questions.",
        "starts_at": in_days(7),
        "time_zone": "Europe/Berlin",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (s, created) = admin.post("/api/sessions", body).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "draft");
    created["id"].as_u64().unwrap()
}

async fn detail(c: &Api, id: u64) -> Value {
    let (s, d) = c.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    d
}

async fn register(c: &Api, id: u64, role: &str) -> (StatusCode, Value) {
    c.post(
        &format!("/api/sessions/{id}/registrations"),
        json!({"role": role}),
    )
    .await
}

#[tokio::test]
async fn statuses_follow_admin_actions_and_capacity() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let member = app.member("m@example.org", "Member").await;
    let id = draft(
        &admin,
        json!({"capacity": {"host": 1, "presenter": 0, "interviewer": 0, "guest": 1}}),
    )
    .await;

    // Drafts are invisible to members.
    assert_eq!(
        member.get(&format!("/api/sessions/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(member.get("/api/sessions").await.1["sessions"], json!([]));
    assert_error(
        &register(&member, id, "guest").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    admin
        .post(&format!("/api/sessions/{id}/publish"), json!({}))
        .await;
    let list = member.get("/api/sessions").await.1;
    assert_eq!(list["sessions"][0]["status"], "open");
    assert_eq!(list["sessions"][0]["meeting_url"], Value::Null);

    // Full follows capacity: both roles taken.
    assert_eq!(register(&member, id, "guest").await.0, StatusCode::CREATED);
    let host = app.member("h@example.org", "Host").await;
    assert_eq!(register(&host, id, "host").await.0, StatusCode::CREATED);
    assert_eq!(detail(&member, id).await["session"]["status"], "full");
    member
        .call(
            Method::DELETE,
            &format!("/api/sessions/{id}/registrations/me"),
            None,
        )
        .await;
    assert_eq!(detail(&member, id).await["session"]["status"], "open");

    // Close and reopen; closed refuses registrations.
    let (_, s) = admin
        .post(&format!("/api/sessions/{id}/close"), json!({}))
        .await;
    assert_eq!(s["status"], "closed");
    assert_error(
        &register(&member, id, "guest").await,
        StatusCode::CONFLICT,
        "session_not_open",
    );
    assert_error(
        &admin
            .post(&format!("/api/sessions/{id}/close"), json!({}))
            .await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    let (_, s) = admin
        .post(&format!("/api/sessions/{id}/reopen"), json!({}))
        .await;
    assert_eq!(s["status"], "open");

    // Cancel is final.
    let (_, s) = admin
        .post(&format!("/api/sessions/{id}/cancel"), json!({}))
        .await;
    assert_eq!(s["status"], "cancelled");
    for action in ["reopen", "publish", "close", "cancel"] {
        assert_error(
            &admin
                .post(&format!("/api/sessions/{id}/{action}"), json!({}))
                .await,
            StatusCode::CONFLICT,
            "invalid_transition",
        );
    }
    assert_error(
        &admin
            .patch(&format!("/api/sessions/{id}"), json!({"title": "Back"}))
            .await,
        StatusCode::CONFLICT,
        "session_locked",
    );
    assert_eq!(
        member.get("/api/sessions").await.1["sessions"],
        json!([]),
        "cancelled sessions leave the home page"
    );
    assert_eq!(
        admin.get("/api/sessions?scope=all").await.1["sessions"][0]["status"],
        "cancelled"
    );
    assert_error(
        &member.get("/api/sessions?scope=all").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &member
            .post(&format!("/api/sessions/{id}/publish"), json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

#[tokio::test]
async fn in_progress_and_completed_follow_the_clock() {
    let (clock, c) = manual_clock("2026-11-22T12:00:00Z");
    let app = TestApp::start_with_clock("", c).await;
    let admin = app.admin().await;
    let id = published(
        &admin,
        json!({"starts_at": "2026-11-23T12:00:00Z", "duration_minutes": 60}),
    )
    .await;
    let table = [
        (
            SignedDuration::from_hours(24) - SignedDuration::from_secs(1),
            "open",
        ),
        (SignedDuration::from_secs(1), "in_progress"),
        (
            SignedDuration::from_mins(89) + SignedDuration::from_secs(59),
            "in_progress",
        ),
        (SignedDuration::from_secs(1), "completed"),
    ];
    for (step, want) in table {
        clock.advance(step);
        assert_eq!(
            detail(&admin, id).await["session"]["status"],
            want,
            "at {}",
            clock_now(&clock)
        );
    }
    assert_error(
        &admin
            .post(&format!("/api/sessions/{id}/cancel"), json!({}))
            .await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
}

fn clock_now(c: &podium::clock::ManualClock) -> Timestamp {
    use podium::clock::Clock;
    c.now()
}

#[tokio::test]
async fn fifty_concurrent_registrations_for_five_places() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let id = published(
        &admin,
        json!({"capacity": {"host": 1, "presenter": 0, "interviewer": 0, "guest": 5}}),
    )
    .await;
    let mut members = Vec::new();
    for i in 0..50 {
        members.push(
            app.member(&format!("g{i}@example.org"), &format!("Guest {i}"))
                .await,
        );
    }
    let tasks: Vec<_> = members
        .iter()
        .cloned()
        .map(|m| tokio::spawn(async move { register(&m, id, "guest").await }))
        .collect();
    let mut registered = 0;
    let mut positions = Vec::new();
    for t in tasks {
        let (s, body) = t.await.unwrap();
        match s {
            StatusCode::CREATED => registered += 1,
            StatusCode::ACCEPTED => positions.push(body["position"].as_u64().unwrap()),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(registered, 5);
    positions.sort_unstable();
    assert_eq!(
        positions,
        (1..=45).collect::<Vec<u64>>(),
        "waitlisted in arrival order, no gaps"
    );
    let d = detail(&admin, id).await;
    assert_eq!(d["session"]["filled"]["guest"], 5);
    assert_eq!(d["session"]["waiting"]["guest"], 45);
    assert_eq!(d["participants"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn registration_waitlist_and_emails_with_invites() {
    let sink = SmtpSink::start();
    let app = TestApp::start_with(&format!(
        "{}\n[community]\nname = \"Rust Peers\"\nphysical_address = \"1 Main St, Berlin\"\n",
        sink.config()
    ))
    .await;
    let admin = app.admin().await;
    let id = published(
        &admin,
        json!({"capacity": {"host": 1, "presenter": 1, "interviewer": 0, "guest": 1}}),
    )
    .await;
    let ann = app.member("ann@example.org", "Ann").await;
    let bob = app.member("bob@example.org", "Bob").await;
    let cat = app.member("cat@example.org", "Cat").await;

    let (s, body) = ann
        .post(&format!("/api/sessions/{id}/registrations"), json!({"role": "presenter", "name": "Ann Lee", "talk_title": "Borrowing", "talk_description": "On lifetimes."}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(
        ann.get("/api/me").await.1["user"]["name"],
        "Ann Lee",
        "the name prompt updates the profile"
    );
    let (s, body) = bob
        .post(
            &format!("/api/sessions/{id}/registrations"),
            json!({"role": "presenter", "name": "Bob"}),
        )
        .await;
    assert_eq!(
        (s, body["position"].clone()),
        (StatusCode::ACCEPTED, json!(1))
    );
    let (s, _) = cat
        .post(
            &format!("/api/sessions/{id}/registrations"),
            json!({"role": "presenter", "name": "Cat"}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);

    let mails = sink.wait_for(1).await;
    let confirm = &mails[0];
    assert_eq!(confirm["rcpt_to"], json!(["ann@example.org"]));
    assert!(
        confirm["subject"].as_str().unwrap().contains("registered"),
        "{}",
        confirm["subject"]
    );
    assert!(
        confirm["text"]
            .as_str()
            .unwrap()
            .contains("1 Main St, Berlin"),
        "footer with the address"
    );
    assert!(confirm["html"].as_str().unwrap().contains("Rust Peers"));
    let ics = &confirm["ics"];
    assert!(
        ics["content_type"]
            .as_str()
            .unwrap()
            .replace('"', "")
            .contains("method=REQUEST"),
        "{}",
        ics["content_type"]
    );
    let cal = &ics["parsed"];
    assert!(cal.get("error").is_none(), "ICS parses: {cal}");
    assert_eq!(cal["method"], "REQUEST");
    assert_eq!(cal["timezones"], json!(["Europe/Berlin"]));
    let ev = &cal["events"][0];
    assert_eq!(ev["tzid"], "Europe/Berlin");
    assert_eq!(ev["sequence"], 1);
    let uid = ev["uid"].as_str().unwrap().to_owned();
    let detail_now = detail(&ann, id).await;
    let start: Timestamp = detail_now["session"]["starts_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let got: Timestamp = ev["start_utc"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        got, start,
        "DTSTART in the session zone is the same instant"
    );
    assert_eq!(detail_now["session"]["meeting_url"], Value::Null);
    assert_eq!(detail_now["me"]["registration"]["role"], "presenter");
    assert!(
        detail_now["run_of_show"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["title"].as_str().unwrap().contains("Borrowing"))
    );

    // Ann cancels: she gets METHOD:CANCEL with a higher SEQUENCE and the same UID; Bob gets the offer.
    let (s, _) = ann
        .call(
            Method::DELETE,
            &format!("/api/sessions/{id}/registrations/me"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    sink.wait_for(3).await;
    let ann_mails = sink.to("ann@example.org");
    assert_eq!(ann_mails.len(), 2, "exactly one mail per event");
    let cancel = &ann_mails[1]["ics"]["parsed"];
    assert_eq!(cancel["method"], "CANCEL");
    assert_eq!(cancel["events"][0]["uid"], uid.as_str());
    assert_eq!(cancel["events"][0]["sequence"], 2);
    assert_eq!(cancel["events"][0]["status"], "CANCELLED");
    let bob_mails = sink.to("bob@example.org");
    assert_eq!(bob_mails.len(), 1);
    assert!(
        bob_mails[0]["subject"]
            .as_str()
            .unwrap()
            .contains("A place opened")
    );
    assert!(
        sink.to("cat@example.org").is_empty(),
        "only the first in line is offered"
    );

    // Cat cannot take Bob's offer; Bob accepts and is confirmed.
    assert_error(
        &cat.post(&format!("/api/sessions/{id}/waitlist/accept"), json!({}))
            .await,
        StatusCode::CONFLICT,
        "no_offer",
    );
    let d = detail(&bob, id).await;
    assert!(d["me"]["waitlist"]["offer_expires_at"].is_string());
    let (s, body) = bob
        .post(&format!("/api/sessions/{id}/waitlist/accept"), json!({}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    sink.wait_for(4).await;
    assert!(
        sink.to("bob@example.org")[1]["subject"]
            .as_str()
            .unwrap()
            .contains("registered")
    );
    let sched = bob.get("/api/me/schedule").await.1;
    assert_eq!(sched["upcoming"][0]["role"], "presenter");
    assert_eq!(sched["upcoming"][0]["session"]["id"], id);
    let sched = cat.get("/api/me/schedule").await.1;
    assert_eq!(sched["upcoming"][0]["status"], "waitlisted");
    assert_eq!(sched["upcoming"][0]["waitlist_position"], 1);

    // A time change notifies the registered with a bumped SEQUENCE.
    let new_start = in_days(8);
    let (s, body) = admin
        .patch(
            &format!("/api/sessions/{id}"),
            json!({"starts_at": new_start}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    sink.wait_for(5).await;
    let changed = sink.to("bob@example.org");
    assert_eq!(changed.len(), 3);
    assert!(
        changed[2]["subject"]
            .as_str()
            .unwrap()
            .starts_with("Updated")
    );
    assert_eq!(changed[2]["ics"]["parsed"]["events"][0]["sequence"], 2);
    let moved: Timestamp = changed[2]["ics"]["parsed"]["events"][0]["start_utc"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        moved.as_second(),
        new_start.parse::<Timestamp>().unwrap().as_second()
    );

    // Cancelling the session tells everyone registered, with METHOD:CANCEL, and the waitlist.
    admin
        .post(&format!("/api/sessions/{id}/cancel"), json!({}))
        .await;
    sink.wait_for(7).await;
    let last = sink.to("bob@example.org");
    assert_eq!(last.len(), 4);
    assert_eq!(last[3]["ics"]["parsed"]["method"], "CANCEL");
    assert_eq!(last[3]["ics"]["parsed"]["events"][0]["sequence"], 3);
    assert_eq!(sink.to("cat@example.org").len(), 1);
    assert!(sink.to("cat@example.org")[0]["ics"].is_null());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.mails().len(), 7, "no duplicate deliveries");
    for m in sink.mails() {
        if !m["ics"].is_null() {
            assert!(m["ics"]["parsed"].get("error").is_none(), "{}", m["ics"]);
        }
    }
}

#[tokio::test]
async fn waitlist_offers_expire_and_move_on() {
    let (clock, c) = manual_clock("2026-11-22T12:00:00Z");
    let app = TestApp::start_with_clock("[sessions]\nwaitlist_claim_hours = 2\n", c).await;
    let admin = app.admin().await;
    let id = published(&admin, json!({"starts_at": "2026-12-01T17:00:00Z", "capacity": {"host": 1, "presenter": 0, "interviewer": 0, "guest": 1}})).await;
    let a = app.member("a@example.org", "A").await;
    let b = app.member("b@example.org", "B").await;
    let c2 = app.member("c@example.org", "C").await;
    assert_eq!(register(&a, id, "guest").await.0, StatusCode::CREATED);
    assert_eq!(register(&b, id, "guest").await.0, StatusCode::ACCEPTED);
    assert_eq!(register(&c2, id, "guest").await.0, StatusCode::ACCEPTED);
    a.call(
        Method::DELETE,
        &format!("/api/sessions/{id}/registrations/me"),
        None,
    )
    .await;
    let d = detail(&b, id).await;
    assert_eq!(
        d["me"]["waitlist"]["offer_expires_at"],
        "2026-11-22T14:00:00Z"
    );
    // The held place is not for newcomers.
    assert_eq!(d["can"]["register"]["guest"]["full"], true);
    assert_eq!(d["session"]["filled"]["guest"], 0);
    clock.advance(SignedDuration::from_hours(2));
    assert_error(
        &b.post(&format!("/api/sessions/{id}/waitlist/accept"), json!({}))
            .await,
        StatusCode::CONFLICT,
        "offer_expired",
    );
    // Housekeeping passes the place on to C.
    let offered = async {
        loop {
            let d = detail(&c2, id).await;
            if d["me"]["waitlist"]["offer_expires_at"] == "2026-11-22T16:00:00Z" {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), offered)
        .await
        .expect("offer moved to C");
    assert!(
        detail(&b, id).await["me"]["waitlist"].is_null(),
        "B lost the turn"
    );
    assert_eq!(
        c2.post(&format!("/api/sessions/{id}/waitlist/accept"), json!({}))
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(detail(&c2, id).await["session"]["filled"]["guest"], 1);
    // Mail went to files (no SMTP configured): one .eml per mail, written
    // by the sender task after the change (wait for it, up to 30 s).
    let mail_dir = app.dir.path().join("mail");
    let count = || std::fs::read_dir(&mail_dir).map(|d| d.count()).unwrap_or(0);
    for _ in 0..300 {
        if count() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let emls = count();
    assert!(
        emls >= 4,
        "confirmation, cancellation, two offers, confirmation: {emls}"
    );
}

#[tokio::test]
async fn premium_roles() {
    let app = TestApp::start_with(
        "[features]\npremium_required_for_presenting = true\npremium_required_for_hosting = true\n",
    )
    .await;
    let admin = app.admin().await;
    let id = published(&admin, json!({})).await;
    let m = app.member("p@example.org", "Pat").await;
    let d = detail(&m, id).await;
    assert_eq!(d["can"]["register"]["presenter"]["allowed"], false);
    assert_eq!(
        d["can"]["register"]["presenter"]["code"],
        "premium_required"
    );
    assert!(
        d["can"]["register"]["presenter"]["reason"]
            .as_str()
            .unwrap()
            .contains("premium")
    );
    assert_eq!(d["can"]["register"]["guest"]["allowed"], true);
    for role in ["presenter", "interviewer", "host"] {
        assert_error(
            &register(&m, id, role).await,
            StatusCode::FORBIDDEN,
            "premium_required",
        );
    }
    let users = admin.get("/api/admin/users").await.1;
    let pid = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "Pat")
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    admin
        .patch(
            &format!("/api/admin/users/{pid}"),
            json!({"is_premium": true}),
        )
        .await;
    assert_eq!(register(&m, id, "presenter").await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn by_default_only_premium_members_and_admins_may_host() {
    // A host moderates the live room: the default must not let any member
    // who finds a free host place take a session over.
    let app = TestApp::start_with("# premium_required_for_hosting: the built-in default\n").await;
    let admin = app.admin().await;
    let id = published(
        &admin,
        json!({"capacity": {"host": 2, "presenter": 1, "interviewer": 0, "guest": 5}}),
    )
    .await;
    let m = app.member("m@example.org", "Mallory").await;
    let d = detail(&m, id).await;
    assert_eq!(d["can"]["register"]["host"]["allowed"], false);
    assert_eq!(d["can"]["register"]["host"]["code"], "premium_required");
    let got = register(&m, id, "host").await;
    assert_error(&got, StatusCode::FORBIDDEN, "premium_required");
    // Nothing was written: the place is still free.
    let d = detail(&admin, id).await;
    assert_eq!(d["session"]["open"]["host"], 2);
    // Presenting and guests stay open to everyone.
    assert_eq!(register(&m, id, "presenter").await.0, StatusCode::CREATED);
    // An admin may host without being premium.
    assert_eq!(register(&admin, id, "host").await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn admin_manages_participants() {
    let sink = SmtpSink::start();
    let app = TestApp::start_with(&sink.config()).await;
    let admin = app.admin().await;
    let id = published(
        &admin,
        json!({"capacity": {"host": 1, "presenter": 2, "interviewer": 1, "guest": 1}}),
    )
    .await;
    let p1 = app.member("p1@example.org", "P One").await;
    let p2 = app.member("p2@example.org", "P Two").await;
    let g = app.member("g@example.org", "Guest").await;
    register(&p1, id, "presenter").await;
    register(&p2, id, "presenter").await;
    register(&g, id, "guest").await;
    sink.wait_for(3).await;
    let (s, list) = admin.get(&format!("/api/sessions/{id}/participants")).await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<u64> = list["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user_id"].as_u64().unwrap())
        .collect();
    let (id1, id2, gid) = (ids[0], ids[1], ids[2]);
    assert!(
        !list.to_string().contains("@example.org"),
        "no emails in participant lists"
    );

    // Reorder presenters: the run of show follows.
    let (s, body) = admin
        .call(
            Method::PUT,
            &format!("/api/sessions/{id}/presenters/order"),
            Some(json!({"user_ids": [id2, id1]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let talks: Vec<&str> = body["run_of_show"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "talk")
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(talks, ["Talk by P Two", "Talk by P One"]);
    assert_error(
        &admin
            .call(
                Method::PUT,
                &format!("/api/sessions/{id}/presenters/order"),
                Some(json!({"user_ids": [id2]})),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_order",
    );

    // Role change within capacity (and refused beyond it).
    assert_error(
        &admin
            .patch(
                &format!("/api/sessions/{id}/participants/{id1}"),
                json!({"role": "guest"}),
            )
            .await,
        StatusCode::CONFLICT,
        "role_full",
    );
    let (s, body) = admin
        .patch(
            &format!("/api/sessions/{id}/participants/{id1}"),
            json!({"role": "interviewer"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = admin
        .patch(
            &format!("/api/sessions/{id}/participants/{gid}"),
            json!({"status": "confirmed"}),
        )
        .await;
    assert_eq!(
        (s, body["participant"]["status"].clone()),
        (StatusCode::OK, json!("confirmed"))
    );
    assert_error(
        &admin
            .patch(
                &format!("/api/sessions/{id}/participants/{gid}"),
                json!({"status": "gone"}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_status",
    );

    // Remove: the person is told, the place frees.
    let (s, _) = admin
        .call(
            Method::DELETE,
            &format!("/api/sessions/{id}/participants/{id2}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    sink.wait_for(5).await;
    let p1m = sink.to("p1@example.org");
    assert!(
        p1m[1]["subject"].as_str().unwrap().contains("role changed"),
        "{}",
        p1m[1]["subject"]
    );
    assert_eq!(p1m[1]["ics"]["parsed"]["method"], "REQUEST");
    let p2m = sink.to("p2@example.org");
    assert!(p2m[1]["subject"].as_str().unwrap().contains("removed"));
    assert_eq!(p2m[1]["ics"]["parsed"]["method"], "CANCEL");
    let d = detail(&admin, id).await;
    assert_eq!(d["session"]["filled"]["presenter"], 0);
    assert_eq!(d["session"]["filled"]["interviewer"], 1);
    assert_error(
        &admin
            .call(
                Method::DELETE,
                &format!("/api/sessions/{id}/participants/{id2}"),
                None,
            )
            .await,
        StatusCode::NOT_FOUND,
        "not_registered",
    );
    assert_error(
        &p1.get(&format!("/api/sessions/{id}/participants")).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

#[tokio::test]
async fn bad_input_changes_nothing() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let member = app.member("m@example.org", "Member").await;
    let id = published(
        &admin,
        json!({"capacity": {"host": 1, "presenter": 1, "interviewer": 0, "guest": 1}}),
    )
    .await;
    let before = detail(&admin, id).await;

    let create_cases = [
        (json!({"starts_at": in_days(3)}), "invalid_title"),
        (json!({"title": "T"}), "invalid_time"),
        (
            json!({"title": "", "starts_at": in_days(3)}),
            "invalid_title",
        ),
        (
            json!({"title": "T", "starts_at": "next tuesday"}),
            "invalid_time",
        ),
        (
            json!({"title": "T", "starts_at": "2020-01-01T00:00:00Z"}),
            "invalid_time",
        ),
        (
            json!({"title": "T", "starts_at": in_days(3), "time_zone": "Berlin"}),
            "invalid_time_zone",
        ),
        (
            json!({"title": "T", "starts_at": in_days(3), "duration_minutes": 1000}),
            "invalid_duration",
        ),
        (
            json!({"title": "T", "starts_at": in_days(3), "capacity": {"host": 0, "presenter": 1, "interviewer": 0, "guest": 1}}),
            "invalid_capacity",
        ),
        (
            json!({"title": "T", "starts_at": in_days(3), "capacity": {"host": 1}}),
            "invalid_json",
        ),
        (
            json!({"title": "T", "starts_at": in_days(3), "meeting_url": "zoom"}),
            "invalid_meeting_url",
        ),
        (
            json!({"title": "T", "starts_at": in_days(3), "status": "open"}),
            "invalid_json",
        ),
        (
            json!({"title": "T", "starts_at": in_days(3), "duration_minutes": -5}),
            "invalid_json",
        ),
    ];
    for (body, code) in create_cases {
        let got = admin.post("/api/sessions", body.clone()).await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{body} -> {}", got.1);
        assert_eq!(got.1["error"]["code"], code, "{body}");
    }
    assert_error(
        &member
            .post(
                "/api/sessions",
                json!({"title": "T", "starts_at": in_days(3)}),
            )
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &app.client()
            .post(
                "/api/sessions",
                json!({"title": "T", "starts_at": in_days(3)}),
            )
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_eq!(
        admin.get("/api/sessions?scope=all").await.1["sessions"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "no half-created sessions"
    );

    let reg = format!("/api/sessions/{id}/registrations");
    let reg_cases = [
        (
            json!({"role": "speaker", "name": "M"}),
            StatusCode::BAD_REQUEST,
            "invalid_role",
        ),
        (
            json!({"role": "guest", "name": "  "}),
            StatusCode::BAD_REQUEST,
            "name_required",
        ),
        (
            json!({"role": "guest", "name": "x".repeat(81)}),
            StatusCode::BAD_REQUEST,
            "invalid_name",
        ),
        (
            json!({"role": "presenter", "name": "M", "talk_title": "t".repeat(121)}),
            StatusCode::BAD_REQUEST,
            "invalid_answer",
        ),
        (
            json!({"role": "interviewer", "name": "M"}),
            StatusCode::CONFLICT,
            "role_unavailable",
        ),
        (
            json!({"name": "M"}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            json!({"role": "guest", "name": "M", "seat": 3}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
    ];
    for (body, status, code) in reg_cases {
        assert_error(&member.post(&reg, body).await, status, code);
    }
    assert_error(
        &app.client().post(&reg, json!({"role": "guest"})).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_error(
        &member
            .post(
                "/api/sessions/999/registrations",
                json!({"role": "guest", "name": "M"}),
            )
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &member
            .call(
                Method::DELETE,
                &format!("/api/sessions/{id}/registrations/me"),
                None,
            )
            .await,
        StatusCode::NOT_FOUND,
        "not_registered",
    );
    assert_error(
        &member
            .call(
                Method::DELETE,
                &format!("/api/sessions/{id}/waitlist/me"),
                None,
            )
            .await,
        StatusCode::NOT_FOUND,
        "not_waiting",
    );
    assert_error(
        &member
            .post(&format!("/api/sessions/{id}/waitlist/accept"), json!({}))
            .await,
        StatusCode::CONFLICT,
        "no_offer",
    );
    assert_error(
        &member
            .post(&format!("/api/sessions/{id}/archive"), json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &member.get("/api/sessions/abc").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &admin
            .patch(
                &format!("/api/sessions/{id}"),
                json!({"duration_minutes": 5}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_duration",
    );
    assert_error(
        &admin
            .patch(
                &format!("/api/sessions/{id}"),
                json!({"title": "New", "time_zone": "Nowhere"}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_time_zone",
    );
    assert_error(
        &member
            .patch(&format!("/api/sessions/{id}"), json!({"title": "Mine"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &admin
            .patch(
                &format!("/api/sessions/{id}/participants/77"),
                json!({"status": "attended"}),
            )
            .await,
        StatusCode::NOT_FOUND,
        "not_registered",
    );
    let r = member
        .raw(Method::POST, &reg, "text/plain", b"role=guest".to_vec())
        .await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    let after = detail(&admin, id).await;
    assert_eq!(
        before["session"]["title"], after["session"]["title"],
        "a refused edit changed nothing"
    );
    assert_eq!(before["participants"], after["participants"]);
    assert_eq!(before["session"]["filled"], after["session"]["filled"]);
    assert_eq!(
        member.get("/api/me").await.1["user"]["name"],
        "Member",
        "a refused registration did not rename"
    );

    // Lowering capacity below what is taken is refused.
    register(&member, id, "guest").await;
    assert_error(
        &admin
            .patch(
                &format!("/api/sessions/{id}"),
                json!({"capacity": {"host": 1, "presenter": 1, "interviewer": 0, "guest": 0}}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_capacity",
    );
}

#[tokio::test]
async fn mail_is_retried_until_the_smtp_server_is_back() {
    let mut sink = SmtpSink::down();
    let app = TestApp::start_with(&sink.config()).await;
    let admin = app.admin().await;
    let id = published(&admin, json!({})).await;
    let m = app.member("late@example.org", "Late").await;
    assert_eq!(register(&m, id, "guest").await.0, StatusCode::CREATED);
    let failed = async {
        while app.metric("podium_mail_failures_total").await < 1.0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), failed)
        .await
        .expect("a delivery attempt failed");
    assert_eq!(
        app.metric("podium_outbox").await,
        1.0,
        "the mail waits in the outbox"
    );
    sink.resume();
    let mails = sink.wait_for(1).await;
    assert_eq!(mails[0]["rcpt_to"], json!(["late@example.org"]));
    let drained = async {
        while app.metric("podium_outbox").await > 0.0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), drained)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.mails().len(), 1, "delivered once");
}

#[tokio::test]
async fn sessions_and_registrations_survive_a_restart() {
    let mut app = TestApp::start().await;
    let admin = app.admin().await;
    let id = published(&admin, json!({})).await;
    let m = app.member("stay@example.org", "Stay").await;
    register(&m, id, "guest").await;
    app.restart().await;
    let m = Api {
        base: app.url.clone(),
        ..m
    };
    let d = detail(&m, id).await;
    assert_eq!(d["me"]["registration"]["role"], "guest");
    assert_eq!(d["session"]["status"], "open");
}

#[tokio::test]
async fn members_create_and_manage_their_own_sessions_when_allowed() {
    let app = TestApp::start_with("[features]\nmembers_can_create_sessions = true\n").await;
    let _admin = app.admin().await;
    let owner = app.member("owner@example.org", "Owner").await;
    let other = app.member("other@example.org", "Other").await;
    let page = owner
        .http
        .get(format!("{}/admin/sessions/new", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK, "members reach the editor");
    let page = owner
        .http
        .get(format!("{}/admin", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        StatusCode::FORBIDDEN,
        "but not the admin pages"
    );
    let id = published(&owner, json!({})).await;
    assert_eq!(detail(&owner, id).await["can"]["manage"], true);
    assert_eq!(detail(&other, id).await["can"]["manage"], false);
    assert_error(
        &other
            .post(&format!("/api/sessions/{id}/close"), json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &other.get(&format!("/api/sessions/{id}/participants")).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (s, _) = owner
        .patch(&format!("/api/sessions/{id}"), json!({"title": "Renamed"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        owner
            .get(&format!("/api/sessions/{id}/participants"))
            .await
            .0,
        StatusCode::OK
    );

    // Without the flag, members get neither.
    let app = TestApp::start().await;
    let m = app.member("m@example.org", "M").await;
    let page = m
        .http
        .get(format!("{}/admin/sessions/new", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert_error(
        &m.post(
            "/api/sessions",
            json!({"title": "T", "starts_at": in_days(2)}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

/// Waits (up to 20 s) until a metric has a value.
async fn metric_reaches(app: &TestApp, name: &str, want: f64) {
    let wait = async {
        while app.metric(name).await != want {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("{name} never reached {want}"));
}

#[tokio::test]
async fn a_mail_handed_over_when_the_server_stops_is_never_sent_twice() {
    // The sink files each message at once but confirms it only 3 s later;
    // the server stops in that window (its sender is cut off mid-SMTP, as
    // by a crash) and starts again.
    let sink = SmtpSink::slow(3000);
    let mut app = TestApp::start_with(&sink.config()).await;
    let admin = app.admin().await;
    let id = published(&admin, json!({})).await;
    let m = app.member("once@example.org", "Once").await;
    assert_eq!(register(&m, id, "guest").await.0, StatusCode::CREATED);
    let first = sink.wait_for(1).await;
    app.restart().await;
    // The mail that was in the hands of the SMTP server leaves the outbox
    // as "uncertain" instead of being sent again.
    metric_reaches(&app, "podium_outbox", 0.0).await;
    assert_eq!(app.metric("podium_mails_uncertain_total").await, 1.0);
    let mails = sink.mails();
    let ids: Vec<&str> = mails
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        ids.len(),
        unique.len(),
        "every Message-ID arrives once: {ids:?}"
    );
    assert_eq!(mails.len(), first.len(), "nothing was sent again: {ids:?}");
}

#[tokio::test]
async fn far_future_dates_are_refused_at_the_edge() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    for (starts_at, ok) in [
        ("9999-12-30T00:00:00Z", false),
        ("2101-01-01T00:00:00Z", false),
        ("2100-12-31T23:00:00Z", true),
    ] {
        let got = admin
            .post(
                "/api/sessions",
                json!({"title": "Far", "starts_at": starts_at, "duration_minutes": 480, "time_zone": "Pacific/Kiritimati"}),
            )
            .await;
        if ok {
            assert_eq!(got.0, StatusCode::CREATED, "{starts_at}: {}", got.1);
        } else {
            assert_error(&got, StatusCode::BAD_REQUEST, "invalid_time");
            assert_eq!(got.1["error"]["field"], "starts_at", "{starts_at}");
        }
    }
    let id = draft(&admin, json!({})).await;
    let got = admin
        .patch(
            &format!("/api/sessions/{id}"),
            json!({"starts_at": "9999-12-30T00:00:00Z"}),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_time");
    assert_eq!(
        app.metric("podium_http_responses_total{class=\"5xx\"}")
            .await,
        0.0
    );
}

#[tokio::test]
async fn a_session_stored_in_year_9999_cannot_break_the_handlers() {
    // Written before dates were bounded: straight into the store.
    let sink = SmtpSink::start();
    let mut app = TestApp::start_with(&sink.config()).await;
    app.admin().await;
    app.member("far@example.org", "Far").await;
    app.stop().await;
    let id = {
        let store = podium::store::Store::open(app.dir.path()).unwrap();
        let mut s = podium::domain::sessions::new_draft(1, "Pacific/Kiritimati", Timestamp::now());
        s.title = "At the end of time".into();
        s.starts_at = "9999-12-30T00:00:00Z".parse().unwrap();
        s.duration_minutes = 480;
        s.phase = podium::domain::sessions::Phase::Published;
        store.create_session(s).unwrap().id
    };
    app.restart().await;
    let signin = |email: &'static str| {
        let c = app.client();
        async move {
            let (s, body) = c
                .post(
                    "/api/auth/signin",
                    json!({"email": email, "password": "correct horse"}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{body}");
            c
        }
    };
    let (admin, m) = (
        signin("admin@example.org").await,
        signin("far@example.org").await,
    );
    let (s, list) = admin.get("/api/sessions?scope=all").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(detail(&m, id).await["session"]["status"], "open");
    let got = register(&m, id, "guest").await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    let mails = sink.wait_for(1).await;
    assert_eq!(mails[0]["rcpt_to"], json!(["far@example.org"]));
    let (s, sched) = m.get("/api/me/schedule").await;
    assert_eq!(s, StatusCode::OK, "{sched}");
    // And it can be repaired.
    let got = admin
        .patch(
            &format!("/api/sessions/{id}"),
            json!({"starts_at": in_days(3)}),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
}

/// A place held for the waitlist is counted once, by the server: not open
/// to newcomers, shown as held, and the status says Full.
#[tokio::test]
async fn held_places_are_neither_open_nor_filled() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let id = published(
        &admin,
        json!({"capacity": {"host": 1, "presenter": 0, "interviewer": 0, "guest": 1}}),
    )
    .await;
    let host = app.member("h@example.org", "Host").await;
    let a = app.member("a@example.org", "A").await;
    let b = app.member("b@example.org", "B").await;
    let newcomer = app.member("n@example.org", "N").await;
    assert_eq!(register(&host, id, "host").await.0, StatusCode::CREATED);
    let s = &detail(&newcomer, id).await["session"];
    assert_eq!(
        s["open"],
        json!({"host": 0, "presenter": 0, "interviewer": 0, "guest": 1})
    );
    assert_eq!(s["held"]["guest"], 0);
    assert_eq!(register(&a, id, "guest").await.0, StatusCode::CREATED);
    assert_eq!(register(&b, id, "guest").await.0, StatusCode::ACCEPTED);
    a.call(
        Method::DELETE,
        &format!("/api/sessions/{id}/registrations/me"),
        None,
    )
    .await;

    // B's offer holds the place: one statement of capacity everywhere.
    let d = detail(&newcomer, id).await;
    let s = &d["session"];
    assert_eq!(s["status"], "full");
    assert_eq!(s["filled"]["guest"], 0);
    assert_eq!(
        s["held"],
        json!({"host": 0, "presenter": 0, "interviewer": 0, "guest": 1})
    );
    assert_eq!(
        s["open"],
        json!({"host": 0, "presenter": 0, "interviewer": 0, "guest": 0})
    );
    assert_eq!(d["can"]["register"]["guest"]["full"], true);
    assert_eq!(d["can"]["register"]["guest"]["free"], 0);
    let listed = newcomer.get("/api/sessions").await.1;
    assert_eq!(listed["sessions"][0]["held"]["guest"], 1);
    assert_eq!(listed["sessions"][0]["open"]["guest"], 0);

    // Claimed: the held place becomes a filled one.
    assert_eq!(
        b.post(&format!("/api/sessions/{id}/waitlist/accept"), json!({}))
            .await
            .0,
        StatusCode::CREATED
    );
    let s = &detail(&newcomer, id).await["session"];
    assert_eq!(s["filled"]["guest"], 1);
    assert_eq!(s["held"]["guest"], 0);
    assert_eq!(s["open"]["guest"], 0);
    assert_eq!(s["status"], "full");
}

/// Whether the live room runs, and who may go in from the session page and
/// from My schedule, is the server's word: before, during and after.
#[tokio::test]
async fn the_live_room_state_reaches_the_session_page_and_the_schedule() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let starts_at =
        Timestamp::from_second((Timestamp::now() + SignedDuration::from_mins(5)).as_second())
            .unwrap();
    let id = published(
        &admin,
        json!({"starts_at": starts_at.to_string(), "capacity": {"host": 1, "presenter": 0, "interviewer": 0, "guest": 1}}),
    )
    .await;
    let host = app.member("h@example.org", "Host").await;
    let guest = app.member("g@example.org", "Guest").await;
    let waiting = app.member("w@example.org", "Waiting").await;
    let outsider = app.member("o@example.org", "Outsider").await;
    assert_eq!(register(&host, id, "host").await.0, StatusCode::CREATED);
    assert_eq!(register(&guest, id, "guest").await.0, StatusCode::CREATED);
    assert_eq!(
        register(&waiting, id, "guest").await.0,
        StatusCode::ACCEPTED
    );
    let can = |d: &Value| {
        (
            d["can"]["join_live"].as_bool().unwrap(),
            d["can"]["live_waiting_room"].as_bool().unwrap(),
            d["can"]["live_opens_at"].clone(),
        )
    };
    let entry = |c: &Api| {
        let c = c.clone();
        async move {
            let (s, body) = c.get("/api/me/schedule").await;
            assert_eq!(s, StatusCode::OK, "{body}");
            body
        }
    };

    // Before: hosts may go in (within the start lead), registered people
    // wait, others and visitors get nothing; nobody joins from the schedule.
    assert_eq!(can(&detail(&host, id).await), (true, false, Value::Null));
    assert_eq!(
        can(&detail(&guest, id).await),
        (false, true, json!(starts_at.to_string()))
    );
    assert_eq!(
        can(&detail(&outsider, id).await),
        (false, false, json!(starts_at.to_string()))
    );
    assert_eq!(
        can(&detail(&app.client(), id).await),
        (false, false, Value::Null)
    );
    let d = detail(&guest, id).await;
    assert_eq!(d["session"]["live_now"], false);
    assert_eq!(d["session"]["live_started_at"], Value::Null);
    assert_eq!(entry(&guest).await["upcoming"][0]["join_live"], false);

    // During: the room runs; Join everywhere, also for the waitlisted.
    let base = format!("/api/sessions/{id}/live");
    let (s, body) = host.post(&format!("{base}/start"), json!({})).await;
    assert!(s.is_success(), "{body}");
    let d = detail(&guest, id).await;
    assert_eq!(d["session"]["status"], "in_progress");
    assert_eq!(d["session"]["live_now"], true);
    assert!(d["session"]["live_started_at"].is_string());
    assert_eq!(can(&d), (true, false, Value::Null));
    assert!(can(&detail(&outsider, id).await).0, "walk-ins may join");
    for c in [&guest, &waiting] {
        let e = &entry(c).await["upcoming"][0];
        assert_eq!(e["session"]["id"], id);
        assert_eq!(e["join_live"], true, "{e}");
    }

    // After: over, nothing to join, the entry moves to the past.
    host.post(&format!("{base}/join"), json!({})).await;
    let (s, body) = host.post(&format!("{base}/end"), json!({})).await;
    assert!(s.is_success(), "{body}");
    for c in [&host, &guest, &outsider] {
        let d = detail(c, id).await;
        assert_eq!(d["session"]["status"], "completed");
        assert_eq!(d["session"]["live_now"], false);
        assert!(d["session"]["live_ended_at"].is_string());
        assert_eq!(can(&d), (false, false, Value::Null));
    }
    let e = entry(&guest).await;
    assert_eq!(e["upcoming"], json!([]));
    assert_eq!(e["past"][0]["join_live"], false);
}

/// An external meeting has no live room to join from Podium.
#[tokio::test]
async fn an_external_meeting_offers_no_live_room() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let starts_at = (Timestamp::now() + SignedDuration::from_mins(5)).to_string();
    let id = published(
        &admin,
        json!({"starts_at": starts_at, "meeting_url": "https://meet.example/abc"}),
    )
    .await;
    let d = detail(&admin, id).await;
    assert_eq!(d["session"]["location"], "external");
    assert_eq!(d["can"]["join_live"], false);
    assert_eq!(d["can"]["live_waiting_room"], false);
}

/// Organiser-only endpoints refuse outsiders before reading the body, and
/// organisers' malformed bodies change nothing.
#[tokio::test]
async fn organiser_endpoints_refuse_before_reading_bodies() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let member = app.member("m@example.org", "Member").await;
    let id = published(&admin, json!({})).await;
    assert_eq!(register(&member, id, "guest").await.0, StatusCode::CREATED);
    let uid = member.get("/api/me").await.1["user"]["id"]
        .as_u64()
        .unwrap();
    let before = detail(&admin, id).await;
    let cases = [
        (Method::POST, "/api/sessions".to_owned()),
        (
            Method::PATCH,
            format!("/api/sessions/{id}/participants/{uid}"),
        ),
        (Method::PUT, format!("/api/sessions/{id}/presenters/order")),
    ];
    for (method, path) in &cases {
        for body in [&b"{not json"[..], br#"{"user_ids": "all", "role": 7}"#] {
            let got = member
                .raw(method.clone(), path, "application/json", body.to_vec())
                .await;
            assert_error(&got, StatusCode::FORBIDDEN, "forbidden");
        }
    }
    for (method, path) in &cases[1..] {
        for body in [&b"{not json"[..], br#"{"user_ids": "all", "role": 7}"#] {
            let got = admin
                .raw(method.clone(), path, "application/json", body.to_vec())
                .await;
            assert_error(&got, StatusCode::BAD_REQUEST, "invalid_json");
        }
    }
    assert_error(
        &admin
            .patch(
                &format!("/api/sessions/{id}/participants/{uid}"),
                json!({"role": "speaker"}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_role",
    );
    assert_error(
        &admin
            .patch(
                &format!("/api/sessions/{id}/participants/{uid}"),
                json!({"status": "gone"}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_status",
    );
    assert_error(
        &member.get("/api/sessions/999999").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.client().get("/api/me/schedule").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let after = detail(&admin, id).await;
    assert_eq!(before["participants"], after["participants"]);
    assert_eq!(before["session"], after["session"]);
}

/// Members may cancel until the start; after it a cancellation is refused
/// and no offer goes out for a place nobody can use.
#[tokio::test]
async fn cancelling_is_refused_once_the_session_started() {
    let (clock, c) = manual_clock("2026-11-22T12:00:00Z");
    let app = TestApp::start_with_clock("", c).await;
    let admin = app.admin().await;
    let id = published(&admin, json!({"starts_at": "2026-11-23T12:00:00Z", "capacity": {"host": 1, "presenter": 0, "interviewer": 0, "guest": 1}})).await;
    let a = app.member("a@example.org", "A").await;
    let b = app.member("b@example.org", "B").await;
    assert_eq!(register(&a, id, "guest").await.0, StatusCode::CREATED);
    assert_eq!(register(&b, id, "guest").await.0, StatusCode::ACCEPTED);
    let d = detail(&a, id).await;
    assert_eq!(d["can"]["cancel_registration"], true);
    assert_eq!(d["session"]["registration_open"], true);
    assert_eq!(detail(&b, id).await["can"]["cancel_registration"], false);

    clock.advance(SignedDuration::from_hours(24));
    let d = detail(&a, id).await;
    assert_eq!(d["session"]["status"], "in_progress");
    assert_eq!(d["session"]["registration_open"], false);
    assert_eq!(d["can"]["cancel_registration"], false);
    assert_error(
        &a.call(
            Method::DELETE,
            &format!("/api/sessions/{id}/registrations/me"),
            None,
        )
        .await,
        StatusCode::CONFLICT,
        "too_late_to_cancel",
    );
    let d = detail(&b, id).await;
    assert_eq!(d["session"]["filled"]["guest"], 1, "A keeps the place");
    assert_eq!(
        d["me"]["waitlist"]["offer_expires_at"],
        Value::Null,
        "no offer for a session under way"
    );
}
