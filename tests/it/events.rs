//! Career-fair events over the real API (real server, real redb, real SMTP
//! sink): an organizer sets up an event, speakers of companies book slots
//! inside its limits — also racing for the same slot —, participants register
//! with one click, the lobby and the live room show the company, and every
//! bad input is refused with nothing changed.

use jiff::SignedDuration;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::smtp::SmtpSink;
use crate::support::{Api, TestApp, assert_error, manual_clock};

/// 2026-12-01, nine days before the fair.
const NOW: &str = "2026-12-01T00:00:00Z";

async fn user_id(c: &Api) -> u64 {
    let (s, me) = c.get("/api/me").await;
    assert_eq!(s, StatusCode::OK, "{me}");
    me["user"]["id"].as_u64().unwrap()
}

/// Creates a Berlin event on 10–11 December 2026 with `settings` and two
/// windows on the 10th (09:00–12:00, 13:00–15:00 = 08:00–11:00Z, 12:00–14:00Z).
async fn event(admin: &Api, settings: Value) -> u64 {
    let (s, e) = admin
        .post(
            "/api/events",
            json!({
                "name": "Winter Career Fair 2026",
                "description": "Meet the companies.",
                "first_day": "2026-12-10",
                "last_day": "2026-12-11",
                "time_zone": "Europe/Berlin",
                "settings": settings,
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    assert_eq!(e["status"], "draft");
    let id = e["id"].as_u64().unwrap();
    let (s, e) = admin
        .call(
            Method::PUT,
            &format!("/api/events/{id}/windows"),
            Some(json!({"windows": [
                {"day": "2026-12-10", "starts": "09:00", "ends": "12:00"},
                {"day": "2026-12-10", "starts": "13:00", "ends": "15:00"},
            ]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["windows"][0]["starts_at"], "2026-12-10T08:00:00Z");
    assert_eq!(e["windows"][1]["ends_at"], "2026-12-10T14:00:00Z");
    id
}

async fn publish(admin: &Api, id: u64) {
    let (s, e) = admin
        .post(&format!("/api/events/{id}/publish"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["status"], "published");
}

/// Adds a company with `speakers`; returns its id.
async fn company(admin: &Api, event: u64, name: &str, speakers: &[u64]) -> u64 {
    let (s, c) = admin
        .post(
            &format!("/api/events/{event}/companies"),
            json!({"name": name, "description": "We build things.", "website": "https://acme.example", "location": "Berlin"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let cid = c["id"].as_u64().unwrap();
    let (s, c) = admin
        .call(
            Method::PUT,
            &format!("/api/companies/{cid}/speakers"),
            Some(json!({"user_ids": speakers})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    cid
}

async fn book(c: &Api, cid: u64, starts_at: &str, minutes: u32) -> (StatusCode, Value) {
    c.post(
        &format!("/api/companies/{cid}/sessions"),
        json!({"starts_at": starts_at, "duration_minutes": minutes, "title": "Meet the team", "format": "coffee_chat"}),
    )
    .await
}

/// Waits until `email` has received `n` mails; returns them in order.
async fn mails_to(sink: &SmtpSink, email: &str, n: usize) -> Vec<Value> {
    for _ in 0..400 {
        let got = sink.to(email);
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{email} did not get {n} mails: {:?}", sink.to(email));
}

async fn quota(c: &Api, cid: u64) -> Value {
    let (s, d) = c.get(&format!("/api/companies/{cid}")).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    d["company"]["sessions"].clone()
}

#[tokio::test]
async fn organizer_sets_up_a_fair_and_speakers_book_inside_its_limits() {
    let (_clock, clock) = manual_clock(NOW);
    let app = TestApp::start_with_clock("", clock).await;
    let admin = app.admin().await;
    let ada = app.member("ada@example.org", "Ada Organizer").await;
    let grace = app.member("grace@example.org", "Grace").await;
    let linus = app.member("linus@example.org", "Linus").await;
    let dave = app.member("dave@example.org", "Dave").await;
    let pat = app.member("pat@example.org", "Pat").await;
    let (ada_id, grace_id, linus_id, dave_id) = (
        user_id(&ada).await,
        user_id(&grace).await,
        user_id(&linus).await,
        user_id(&dave).await,
    );

    let id = event(
        &admin,
        json!({"durations": [30, 60], "sessions_per_company": 2, "max_concurrent": 3, "start_lead_minutes": 5}),
    )
    .await;
    // The admin names Ada organizer: she manages it from now on.
    let (s, e) = admin
        .call(
            Method::PUT,
            &format!("/api/events/{id}/organizers"),
            Some(json!({"user_ids": [ada_id]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["organizers"][0]["name"], "Ada Organizer");
    // Drafts are the organizers' own.
    assert_error(
        &pat.get(&format!("/api/events/{id}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(pat.get("/api/events").await.1["events"], json!([]));
    assert_eq!(
        ada.get("/api/events").await.1["events"][0]["can"]["manage"],
        true
    );

    let acme = company(&ada, id, "Acme Robotics", &[grace_id, dave_id]).await;
    let globex = company(&ada, id, "Globex", &[linus_id, dave_id]).await;
    // Speakers book only once it is published.
    assert_error(
        &book(&grace, acme, "2026-12-10T08:00:00Z", 60).await,
        StatusCode::CONFLICT,
        "event_not_open",
    );
    publish(&ada, id).await;

    // The slot picker: what Acme may book now, computed by the server.
    let (s, slots) = grace.get(&format!("/api/companies/{acme}/slots")).await;
    assert_eq!(s, StatusCode::OK, "{slots}");
    assert_eq!(slots["quota"], json!({"booked": 0, "allowed": 2}));
    let day = &slots["days"][0];
    assert_eq!(day["day"], "2026-12-10");
    assert_eq!(
        day["windows"][1],
        json!({"starts": "13:00", "ends": "15:00"})
    );
    assert_eq!(
        day["starts"][0],
        json!({"at": "2026-12-10T08:00:00Z", "local": "09:00", "durations": [30, 60]})
    );
    let last_morning = day["starts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["local"] == "11:30")
        .unwrap();
    assert_eq!(
        last_morning["durations"],
        json!([30]),
        "60 would leave the window"
    );
    // Others may not look.
    assert_error(
        &pat.get(&format!("/api/companies/{acme}/slots")).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    // Grace books two sessions; the third is refused.
    let (s, b) = book(&grace, acme, "2026-12-10T08:00:00Z", 60).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let first = b["session"]["id"].as_u64().unwrap();
    assert_eq!(b["session"]["status"], "open");
    assert_eq!(b["session"]["event"]["company"]["name"], "Acme Robotics");
    assert_eq!(b["session"]["event"]["format"], "coffee_chat");
    assert_eq!(b["session"]["capacity"]["guest"], 20, "the event's default");
    assert_eq!(b["session"]["capacity"]["presenter"], 0);
    let (s, b) = book(&grace, acme, "2026-12-10T12:00:00Z", 30).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let third = book(&grace, acme, "2026-12-10T13:00:00Z", 30).await;
    assert_error(&third, StatusCode::CONFLICT, "quota_reached");
    assert_eq!(
        quota(&grace, acme).await,
        json!({"booked": 2, "allowed": 2})
    );
    let (_, slots) = grace.get(&format!("/api/companies/{acme}/slots")).await;
    assert_eq!(
        slots["days"][0]["starts"],
        json!([]),
        "nothing left to book"
    );

    // Dave speaks for both companies: once Globex's 09:30 session names
    // him, he cannot host another session that overlaps it.
    let (s, b) = ada
        .post(
            &format!("/api/companies/{globex}/sessions"),
            json!({"starts_at": "2026-12-10T08:30:00Z", "duration_minutes": 30, "title": "Ask us anything", "format": "presentation", "speakers": [dave_id]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let moved = b["session"]["id"].as_u64().unwrap();
    let busy = ada
        .post(
            &format!("/api/companies/{acme}/sessions"),
            json!({"starts_at": "2026-12-10T09:15:00Z", "duration_minutes": 30, "title": "Second", "format": "workshop", "speakers": [dave_id]}),
        )
        .await;
    // (Acme's quota is full, so the speaker is tested on Globex's slots.)
    assert_error(&busy, StatusCode::CONFLICT, "quota_reached");
    let busy = ada
        .post(
            &format!("/api/companies/{globex}/sessions"),
            json!({"starts_at": "2026-12-10T08:45:00Z", "duration_minutes": 30, "title": "Second", "format": "workshop", "speakers": [dave_id]}),
        )
        .await;
    assert_error(&busy, StatusCode::CONFLICT, "speaker_busy");
    assert!(
        busy.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Dave")
    );
    // A community session Dave hosts counts too.
    let (s, cs) = admin
        .post(
            "/api/sessions",
            json!({"title": "Community talk", "starts_at": "2026-12-10T12:00:00Z", "time_zone": "Europe/Berlin", "duration_minutes": 60}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{cs}");
    let cs = cs["id"].as_u64().unwrap();
    admin
        .post(&format!("/api/sessions/{cs}/publish"), json!({}))
        .await;
    let (s, r) = dave
        .post(
            &format!("/api/sessions/{cs}/registrations"),
            json!({"role": "host"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let busy = linus
        .post(
            &format!("/api/companies/{globex}/sessions"),
            json!({"starts_at": "2026-12-10T12:30:00Z", "duration_minutes": 30, "title": "Late", "format": "workshop", "speakers": [dave_id]}),
        )
        .await;
    assert_error(&busy, StatusCode::CONFLICT, "speaker_busy");

    // Moving a session is checked like a booking: into the lunch gap no.
    let (s, e) = linus
        .patch(
            &format!("/api/sessions/{moved}"),
            json!({"starts_at": "2026-12-10T10:45:00Z"}),
        )
        .await;
    assert_error(&(s, e), StatusCode::CONFLICT, "outside_window");
    let (s, e) = linus
        .patch(
            &format!("/api/sessions/{moved}"),
            json!({"starts_at": "2026-12-10T10:00:00Z", "format": "workshop", "capacity": {"guest": 12}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["event"]["format"], "workshop");
    assert_eq!(e["capacity"]["guest"], 12);
    // Grace speaks for Acme only.
    assert_error(
        &grace
            .patch(
                &format!("/api/sessions/{moved}"),
                json!({"title": "Mine now"}),
            )
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    // Cancelling frees the quota.
    let (s, e) = grace
        .post(&format!("/api/sessions/{first}/cancel"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(
        quota(&grace, acme).await,
        json!({"booked": 1, "allowed": 2})
    );

    // The program: by day, with open spots, filters by company and format.
    let (s, p) = pat.get(&format!("/api/events/{id}/program")).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let sessions = p["days"][0]["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{p}");
    assert_eq!(sessions[0]["open"]["guest"], 12);
    assert_eq!(p["event"]["counts"], json!({"companies": 2, "sessions": 2}));
    let (_, p) = pat
        .get(&format!("/api/events/{id}/program?company={acme}"))
        .await;
    assert_eq!(p["days"][0]["sessions"].as_array().unwrap().len(), 1);
    let (_, p) = pat
        .get(&format!("/api/events/{id}/program?format=presentation"))
        .await;
    assert_eq!(p["days"], json!([]));
    assert_error(
        &pat.get(&format!("/api/events/{id}/program?format=party"))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_format",
    );
    // Event sessions live in their event, not in the community list.
    let (_, list) = pat.get("/api/sessions").await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);

    // Ending the event stops bookings.
    let (s, _) = ada.post(&format!("/api/events/{id}/end"), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_error(
        &book(&grace, acme, "2026-12-10T13:00:00Z", 30).await,
        StatusCode::CONFLICT,
        "event_not_open",
    );
    assert_error(
        &ada.post(&format!("/api/events/{id}/publish"), json!({}))
            .await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
}

/// Two speakers of different companies ask for the same slot at the same
/// moment, round after round: exactly one wins each time (max_concurrent 1).
#[tokio::test]
async fn two_speakers_racing_for_one_slot_never_both_win() {
    let (_clock, clock) = manual_clock(NOW);
    let app = TestApp::start_with_clock("", clock).await;
    let admin = app.admin().await;
    let a = app.member("a@example.org", "Speaker A").await;
    let b = app.member("b@example.org", "Speaker B").await;
    let (s, e) = admin
        .post(
            "/api/events",
            json!({"name": "Race Fair", "first_day": "2026-12-10", "last_day": "2026-12-10",
                   "time_zone": "UTC",
                   "settings": {"durations": [15], "sessions_per_company": 50, "max_concurrent": 1}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    let id = e["id"].as_u64().unwrap();
    admin
        .call(
            Method::PUT,
            &format!("/api/events/{id}/windows"),
            Some(json!({"windows": [{"day": "2026-12-10", "starts": "08:00", "ends": "20:00"}]})),
        )
        .await;
    publish(&admin, id).await;
    let ca = company(&admin, id, "Company A", &[user_id(&a).await]).await;
    let cb = company(&admin, id, "Company B", &[user_id(&b).await]).await;

    const ROUNDS: usize = 30;
    let mut wins = (0, 0);
    let started = std::time::Instant::now();
    for round in 0..ROUNDS {
        let at = ("2026-12-10T08:00:00Z".parse::<jiff::Timestamp>().unwrap()
            + SignedDuration::from_mins(15 * round as i64))
        .to_string();
        let (ra, rb) = tokio::join!(book(&a, ca, &at, 15), book(&b, cb, &at, 15));
        let won: Vec<bool> = [&ra, &rb]
            .iter()
            .map(|r| match r.0 {
                StatusCode::CREATED => true,
                StatusCode::CONFLICT => {
                    assert_eq!(r.1["error"]["code"], "slot_taken", "{}", r.1);
                    false
                }
                other => panic!("round {round}: {other} {}", r.1),
            })
            .collect();
        assert_eq!(
            won.iter().filter(|w| **w).count(),
            1,
            "round {round} at {at}: {ra:?} {rb:?}"
        );
        if won[0] {
            wins.0 += 1;
        } else {
            wins.1 += 1;
        }
    }
    // Every slot holds exactly one session.
    let (_, p) = a.get(&format!("/api/events/{id}/program")).await;
    let sessions = p["days"][0]["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), ROUNDS);
    let mut starts: Vec<&str> = sessions
        .iter()
        .map(|s| s["starts_at"].as_str().unwrap())
        .collect();
    starts.dedup();
    assert_eq!(starts.len(), ROUNDS, "no slot was booked twice");
    // Printed, not asserted: how the races went and what they cost.
    println!(
        "race: A won {} rounds, B won {}; {ROUNDS} racing pairs in {:?}",
        wins.0,
        wins.1,
        started.elapsed()
    );
}

#[tokio::test]
async fn one_click_registration_waitlist_schedule_lobby_and_live_company_tab() {
    let (clock, arc) = manual_clock(NOW);
    let sink = SmtpSink::start();
    let app = TestApp::start_with_clock(&sink.config(), arc).await;
    let admin = app.admin().await;
    let grace = app.member("grace@example.org", "Grace").await;
    let p1 = app.member("p1@example.org", "Pia").await;
    let p2 = app.member("p2@example.org", "Paul").await;
    let p3 = app.member("p3@example.org", "Petra").await;
    let walk_in = app.member("walkin@example.org", "Walk-in").await;
    let id = event(&admin, json!({"start_lead_minutes": 5, "durations": [60]})).await;
    publish(&admin, id).await;
    let acme = company(&admin, id, "Acme Robotics", &[user_id(&grace).await]).await;
    // The speaker fills in the company tab: FAQs and jobs.
    let (s, c) = grace
        .call(
            Method::PUT,
            &format!("/api/companies/{acme}/faqs"),
            Some(json!({"faqs": [{"question": "Do you hire juniors?", "answer": "Yes, every spring."}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let (s, c) = grace
        .call(
            Method::PUT,
            &format!("/api/companies/{acme}/jobs"),
            Some(json!({"jobs": [{"title": "Robotics engineer", "location": "Berlin", "kind": "full_time", "description": "Build arms.", "url": "https://acme.example/jobs/1"}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["jobs"][0]["kind"], "full_time");

    let (s, b) = grace
        .post(
            &format!("/api/companies/{acme}/sessions"),
            json!({"starts_at": "2026-12-10T09:00:00Z", "duration_minutes": 60, "title": "Robots 101", "format": "workshop", "capacity": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let sid = b["session"]["id"].as_u64().unwrap();

    // One click: `{}` makes a guest with the profile's name.
    let reg = |c: Api| async move {
        c.post(&format!("/api/sessions/{sid}/registrations"), json!({}))
            .await
    };
    let (s, r) = reg(p1.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["registration"]["role"], "guest");
    assert_error(
        &p3.post(
            &format!("/api/sessions/{sid}/registrations"),
            json!({"role": "presenter"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_role",
    );
    let (s, r) = reg(p2.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, r) = reg(p3.clone()).await;
    assert_eq!((s, r["position"].clone()), (StatusCode::ACCEPTED, json!(1)));
    let (_, d) = p3.get(&format!("/api/sessions/{sid}")).await;
    assert_eq!(d["session"]["open"]["guest"], 0);
    assert_eq!(d["session"]["waiting"]["guest"], 1);

    // The confirmation names the company and the event, with the invite.
    let m = &mails_to(&sink, "p1@example.org", 1).await[0];
    let all = m.to_string();
    assert!(
        all.contains("Acme Robotics at Winter Career Fair 2026"),
        "{all}"
    );
    assert!(
        all.contains("BEGIN:VCALENDAR") || !m["ics"].is_null(),
        "{all}"
    );

    // My schedule shows the event and company.
    let (s, sched) = p1.get("/api/me/schedule").await;
    assert_eq!(s, StatusCode::OK, "{sched}");
    let entry = &sched["upcoming"][0];
    assert_eq!(entry["session"]["event"]["name"], "Winter Career Fair 2026");
    assert_eq!(
        entry["session"]["event"]["company"]["name"],
        "Acme Robotics"
    );
    let (_, sched) = grace.get("/api/me/schedule").await;
    assert_eq!(
        sched["upcoming"][0]["role"], "host",
        "hosts see what they host"
    );

    // The sessions follow the event's start lead when the organizer changes it.
    let (s, e) = admin
        .patch(
            &format!("/api/events/{id}"),
            json!({"settings": {"start_lead_minutes": 10}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let (_, d) = grace.get(&format!("/api/sessions/{sid}")).await;
    assert_eq!(d["can"]["live_opens_at"], "2026-12-10T08:50:00Z");
    admin
        .patch(
            &format!("/api/events/{id}"),
            json!({"settings": {"start_lead_minutes": 5}}),
        )
        .await;

    // Start lead from the event: 5 minutes (the server default is 15).
    clock.set("2026-12-10T08:54:00Z".parse().unwrap());
    let (_, d) = grace.get(&format!("/api/sessions/{sid}")).await;
    assert_eq!(d["can"]["join_live"], false, "{}", d["can"]);
    assert_eq!(d["can"]["live_opens_at"], "2026-12-10T08:55:00Z");
    assert_error(
        &grace
            .post(&format!("/api/sessions/{sid}/live/start"), json!({}))
            .await,
        StatusCode::CONFLICT,
        "too_early",
    );
    let (_, live) = grace.get(&format!("/api/sessions/{sid}/live")).await;
    assert_eq!(live["start_opens_at"], "2026-12-10T08:55:00Z");
    assert_eq!(live["limits"]["start_lead_minutes"], 5);
    assert_eq!(live["me"]["can_start"], false);
    clock.set("2026-12-10T08:55:00Z".parse().unwrap());
    let (_, d) = grace.get(&format!("/api/sessions/{sid}")).await;
    assert_eq!(d["can"]["join_live"], true, "{}", d["can"]);
    let (s, live) = grace
        .post(&format!("/api/sessions/{sid}/live/start"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{live}");

    // The company tab reaches the live snapshot.
    let (s, live) = p1.get(&format!("/api/sessions/{sid}/live")).await;
    assert_eq!(s, StatusCode::OK, "{live}");
    let company = &live["company"];
    assert_eq!(company["name"], "Acme Robotics");
    assert_eq!(company["website"], "https://acme.example");
    assert_eq!(company["faqs"][0]["question"], "Do you hire juniors?");
    assert_eq!(company["jobs"][0]["url"], "https://acme.example/jobs/1");

    // People come in; the lobby lists the live session with a preview.
    for c in [&grace, &p1] {
        let (s, j) = c
            .post(&format!("/api/sessions/{sid}/live/join"), json!({}))
            .await;
        assert_eq!(s, StatusCode::OK, "{j}");
    }
    // Once live, an unclaimed spot is open to any signed-in member: the
    // live room's rule applies to event sessions too.
    let (s, j) = walk_in
        .post(&format!("/api/sessions/{sid}/live/join"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{j}");
    // ... until the session's capacity (1 host + 2 guests) is reached.
    let (s, j) = p3
        .post(&format!("/api/sessions/{sid}/live/join"), json!({}))
        .await;
    assert_ne!(s, StatusCode::OK);
    assert_eq!(j["error"]["code"], "room_full", "{j}");
    let (s, lobby) = p2.get(&format!("/api/events/{id}/lobby")).await;
    assert_eq!(s, StatusCode::OK, "{lobby}");
    let live_now = lobby["live"].as_array().unwrap();
    assert_eq!(live_now.len(), 1, "{lobby}");
    assert_eq!(live_now[0]["session"]["id"], sid);
    assert_eq!(live_now[0]["people"], 3);
    assert_eq!(
        live_now[0]["thumbnail_url"],
        format!("/api/sessions/{sid}/live/preview")
    );
    // No camera sends yet: no picture, said clearly.
    assert_error(
        &p2.get(&format!("/api/sessions/{sid}/live/preview")).await,
        StatusCode::NOT_FOUND,
        "no_preview",
    );
    assert_eq!(lobby["next"], json!([]));

    // The host ends it: the lobby lists it under recently ended.
    let (s, e) = grace
        .post(&format!("/api/sessions/{sid}/live/end"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let (_, lobby) = p2.get(&format!("/api/events/{id}/lobby")).await;
    assert_eq!(lobby["live"], json!([]), "{lobby}");
    assert_eq!(lobby["ended"][0]["session"]["id"], sid, "{lobby}");
    assert_eq!(lobby["ended"][0]["thumbnail_url"], Value::Null);
}

/// A small valid PNG (1×1).
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

#[tokio::test]
async fn logos_are_checked_by_their_bytes_and_served_safely() {
    let (_clock, clock) = manual_clock(NOW);
    let app = TestApp::start_with_clock("", clock).await;
    let admin = app.admin().await;
    let grace = app.member("grace@example.org", "Grace").await;
    let other = app.member("o@example.org", "Other").await;
    let id = event(&admin, json!({})).await;
    let acme = company(&admin, id, "Acme", &[user_id(&grace).await]).await;
    let other_co = company(&admin, id, "Other Co", &[user_id(&other).await]).await;
    publish(&admin, id).await;
    let path = format!("/api/companies/{acme}/logo");

    // HTML sent as an image is refused by its bytes.
    let html = grace
        .raw(
            Method::PUT,
            &path,
            "image/png",
            b"<html><script>alert(1)</script></html>".to_vec(),
        )
        .await;
    assert_error(&html, StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_logo");
    let mut big = PNG.to_vec();
    big.resize(1024 * 1024 + 1, 0);
    let big = grace.raw(Method::PUT, &path, "image/png", big).await;
    assert_error(&big, StatusCode::PAYLOAD_TOO_LARGE, "logo_too_large");
    // Speakers edit their own company only.
    assert_error(
        &other
            .raw(Method::PUT, &path, "image/png", PNG.to_vec())
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (_, d) = grace.get(&format!("/api/companies/{acme}")).await;
    assert_eq!(d["company"]["logo_url"], Value::Null, "nothing was stored");

    let (s, c) = grace
        .raw(Method::PUT, &path, "text/html", PNG.to_vec())
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let url = c["logo_url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("/api/companies/{acme}/logo?v=1"));
    let resp = other
        .http
        .get(format!("{}{url}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert_eq!(
        h["content-type"], "image/png",
        "the checked type, not the sent one"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );
    let etag = h["etag"].to_str().unwrap().to_owned();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), PNG);
    let again = other
        .http
        .get(format!("{}{url}", app.url))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let (_, other_view) = other.get(&format!("/api/companies/{other_co}")).await;
    assert_eq!(other_view["company"]["can"]["edit"], true);
    let (_, acme_view) = other.get(&format!("/api/companies/{acme}")).await;
    assert_eq!(
        acme_view["company"]["can"],
        json!({"edit": false, "book": false})
    );
    // Removing it.
    let (s, c) = grace.call(Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["logo_url"], Value::Null);
    assert_error(&grace.get(&path).await, StatusCode::NOT_FOUND, "no_logo");
}

#[tokio::test]
async fn every_bad_input_is_refused_clearly_and_changes_nothing() {
    let (_clock, clock) = manual_clock(NOW);
    let app = TestApp::start_with_clock("", clock).await;
    let admin = app.admin().await;
    let grace = app.member("grace@example.org", "Grace").await;
    let member = app.member("m@example.org", "Member").await;
    let id = event(
        &admin,
        json!({"durations": [30, 60], "sessions_per_company": 2, "max_concurrent": 1}),
    )
    .await;
    let acme = company(&admin, id, "Acme", &[user_id(&grace).await]).await;
    let globex = company(&admin, id, "Globex", &[]).await;
    publish(&admin, id).await;
    let event_before = admin.get(&format!("/api/events/{id}")).await.1;

    #[track_caller]
    fn field(got: &(StatusCode, Value), want: &str) {
        assert_eq!(got.1["error"]["field"], want, "{}", got.1);
    }

    // Events.
    let long = "x".repeat(121);
    for (body, code, f) in [
        (json!({"name": long}), "invalid_name", "name"),
        (json!({"name": "Two\nlines"}), "invalid_name", "name"),
        (
            json!({"description": "d".repeat(5001)}),
            "invalid_description",
            "description",
        ),
        (
            json!({"first_day": "10.12.2026"}),
            "invalid_day",
            "first_day",
        ),
        (json!({"last_day": "2026-12-09"}), "invalid_day", "last_day"),
        (json!({"last_day": "2027-03-01"}), "invalid_day", "last_day"),
        (
            json!({"time_zone": "Mars/Olympus"}),
            "invalid_time_zone",
            "time_zone",
        ),
        (
            json!({"settings": {"durations": [25]}}),
            "invalid_settings",
            "settings.durations",
        ),
        (
            json!({"settings": {"start_lead_minutes": 61}}),
            "invalid_settings",
            "settings.start_lead_minutes",
        ),
        (
            json!({"settings": {"max_concurrent": 0}}),
            "invalid_settings",
            "settings.max_concurrent",
        ),
    ] {
        let got = admin.patch(&format!("/api/events/{id}"), body).await;
        assert_error(&got, StatusCode::BAD_REQUEST, code);
        field(&got, f);
    }
    let got = admin
        .post(
            "/api/events",
            json!({"name": "No days", "time_zone": "UTC"}),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_day");
    assert_error(
        &member
            .post("/api/events", json!({"name": "Mine", "first_day": "2026-12-10", "last_day": "2026-12-10", "time_zone": "UTC"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    // Windows.
    let put_windows = |w: Value| {
        let admin = admin.clone();
        async move {
            admin
                .call(
                    Method::PUT,
                    &format!("/api/events/{id}/windows"),
                    Some(json!({ "windows": w })),
                )
                .await
        }
    };
    for (w, code, f) in [
        (
            json!([{"day": "2026-12-10", "starts": "12:00", "ends": "11:00"}]),
            "invalid_window",
            "windows[0].ends",
        ),
        (
            json!([{"day": "2026-12-10", "starts": "09:00", "ends": "10:00"}, {"day": "2026-12-10", "starts": "09:30", "ends": "11:00"}]),
            "windows_overlap",
            "windows[1].starts",
        ),
        (
            json!([{"day": "2026-12-10", "starts": "09:00", "ends": "10:00"}, {"day": "2026-12-12", "starts": "09:00", "ends": "10:00"}]),
            "invalid_window",
            "windows[1].day",
        ),
        (
            json!([{"day": "2026-12-10", "starts": "09:07", "ends": "10:00"}]),
            "invalid_window",
            "windows[0].starts",
        ),
    ] {
        let got = put_windows(w).await;
        assert_error(&got, StatusCode::BAD_REQUEST, code);
        field(&got, f);
    }

    // Bookings.
    let (s, b) = book(&grace, acme, "2026-12-10T08:00:00Z", 60).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // A window the session needs cannot go.
    let got = put_windows(json!([{"day": "2026-12-10", "starts": "13:00", "ends": "15:00"}])).await;
    assert_error(&got, StatusCode::CONFLICT, "window_in_use");
    let got = admin
        .patch(
            &format!("/api/events/{id}"),
            json!({"time_zone": "America/New_York"}),
        )
        .await;
    assert_error(&got, StatusCode::CONFLICT, "sessions_outside");
    let bookings = [
        (
            json!({"starts_at": "2026-12-10T08:00:00Z", "duration_minutes": 45, "title": "T", "format": "workshop"}),
            StatusCode::BAD_REQUEST,
            "invalid_duration",
            "duration_minutes",
        ),
        (
            json!({"starts_at": "soon", "duration_minutes": 30, "title": "T", "format": "workshop"}),
            StatusCode::BAD_REQUEST,
            "invalid_time",
            "starts_at",
        ),
        (
            json!({"starts_at": "2026-11-30T08:00:00Z", "duration_minutes": 30, "title": "T", "format": "workshop"}),
            StatusCode::BAD_REQUEST,
            "invalid_time",
            "starts_at",
        ),
        (
            json!({"starts_at": "2026-12-10T10:30:00Z", "duration_minutes": 60, "title": "T", "format": "workshop"}),
            StatusCode::CONFLICT,
            "outside_window",
            "starts_at",
        ),
        (
            json!({"starts_at": "2026-12-10T08:30:00Z", "duration_minutes": 30, "title": "T", "format": "workshop"}),
            StatusCode::CONFLICT,
            "slot_taken",
            "",
        ),
        (
            json!({"starts_at": "2026-12-10T12:00:00Z", "duration_minutes": 30, "title": "x".repeat(121), "format": "workshop"}),
            StatusCode::BAD_REQUEST,
            "invalid_title",
            "title",
        ),
        (
            json!({"starts_at": "2026-12-10T12:00:00Z", "duration_minutes": 30, "title": "T", "format": "party"}),
            StatusCode::BAD_REQUEST,
            "invalid_format",
            "format",
        ),
        (
            json!({"starts_at": "2026-12-10T12:00:00Z", "duration_minutes": 30, "title": "T", "format": "workshop", "capacity": 51}),
            StatusCode::BAD_REQUEST,
            "invalid_capacity",
            "capacity",
        ),
    ];
    for (body, status, code, f) in bookings {
        let got = grace
            .post(&format!("/api/companies/{acme}/sessions"), body)
            .await;
        assert_error(&got, status, code);
        if !f.is_empty() {
            field(&got, f);
        }
    }
    let member_id = user_id(&member).await;
    for speakers in [json!([member_id]), json!([]), json!([1, 2, 3, 4, 5])] {
        let got = admin
            .post(
                &format!("/api/companies/{acme}/sessions"),
                json!({"starts_at": "2026-12-10T12:00:00Z", "duration_minutes": 30, "title": "T", "format": "workshop", "speakers": speakers}),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "invalid_speakers");
        field(&got, "speakers");
    }
    // An organizer who is no speaker names the speakers.
    let got = admin
        .post(
            &format!("/api/companies/{acme}/sessions"),
            json!({"starts_at": "2026-12-10T12:00:00Z", "duration_minutes": 30, "title": "T", "format": "workshop"}),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_speakers");
    assert_error(
        &member
            .post(
                &format!("/api/companies/{acme}/sessions"),
                json!({"starts_at": "2026-12-10T12:00:00Z", "duration_minutes": 30, "title": "T", "format": "workshop"}),
            )
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(
        quota(&grace, acme).await,
        json!({"booked": 1, "allowed": 2})
    );

    // Companies.
    let company_before = grace.get(&format!("/api/companies/{acme}")).await.1;
    for (body, code, f) in [
        (json!({"name": "y".repeat(81)}), "invalid_name", "name"),
        (
            json!({"description": "d".repeat(2001)}),
            "invalid_description",
            "description",
        ),
        (
            json!({"website": "javascript:alert(1)"}),
            "invalid_website",
            "website",
        ),
        (
            json!({"location": "l".repeat(121)}),
            "invalid_location",
            "location",
        ),
    ] {
        let got = grace.patch(&format!("/api/companies/{acme}"), body).await;
        assert_error(&got, StatusCode::BAD_REQUEST, code);
        field(&got, f);
    }
    assert_error(
        &grace
            .patch(&format!("/api/companies/{acme}"), json!({"name": "globex"}))
            .await,
        StatusCode::CONFLICT,
        "name_taken",
    );
    assert_error(
        &grace
            .patch(&format!("/api/companies/{globex}"), json!({"name": "Mine"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let job = |url: &str| json!({"title": "Dev", "kind": "full_time", "url": url});
    let got = grace
        .call(
            Method::PUT,
            &format!("/api/companies/{acme}/jobs"),
            Some(json!({"jobs": [job("https://acme.example/1"), job("javascript:alert(1)")]})),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_job");
    field(&got, "jobs[1].url");
    let got = grace
        .call(
            Method::PUT,
            &format!("/api/companies/{acme}/jobs"),
            Some(
                json!({"jobs": [{"title": "Dev", "kind": "forever", "url": "https://a.example"}]}),
            ),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_job");
    field(&got, "jobs[0].kind");
    let got = grace
        .call(
            Method::PUT,
            &format!("/api/companies/{acme}/faqs"),
            Some(json!({"faqs": [{"question": "Q?", "answer": "a".repeat(2001)}]})),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_faq");
    field(&got, "faqs[0].answer");
    let got = admin
        .call(
            Method::PUT,
            &format!("/api/companies/{acme}/speakers"),
            Some(json!({"user_ids": [999]})),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "unknown_user");
    assert_error(
        &grace
            .call(
                Method::PUT,
                &format!("/api/companies/{acme}/speakers"),
                Some(json!({"user_ids": []})),
            )
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &admin
            .call(Method::DELETE, &format!("/api/companies/{acme}"), None)
            .await,
        StatusCode::CONFLICT,
        "company_has_sessions",
    );
    assert_error(
        &admin
            .post(
                &format!("/api/events/{id}/companies"),
                json!({"name": "ACME "}),
            )
            .await,
        StatusCode::CONFLICT,
        "name_taken",
    );

    // Nothing changed.
    assert_eq!(
        grace.get(&format!("/api/companies/{acme}")).await.1,
        company_before
    );
    let event_after = admin.get(&format!("/api/events/{id}")).await.1;
    assert_eq!(
        event_after["event"]["windows"],
        event_before["event"]["windows"]
    );
    assert_eq!(event_after["event"]["name"], event_before["event"]["name"]);
    assert_eq!(
        event_after["event"]["settings"],
        event_before["event"]["settings"]
    );
    assert_eq!(event_after["companies"].as_array().unwrap().len(), 2);
    // A company without sessions can go.
    let (s, d) = admin
        .call(Method::DELETE, &format!("/api/companies/{globex}"), None)
        .await;
    assert_eq!((s, d), (StatusCode::OK, json!({"deleted": true})));
}

/// Two speakers of one company book different slots at the same moment
/// while one session is left of the quota: exactly one wins, every round.
#[tokio::test]
async fn the_quota_holds_under_concurrent_bookings() {
    let (_clock, clock) = manual_clock(NOW);
    let app = TestApp::start_with_clock("", clock).await;
    let admin = app.admin().await;
    let a = app.member("a@example.org", "Speaker A").await;
    let b = app.member("b@example.org", "Speaker B").await;
    let (ida, idb) = (user_id(&a).await, user_id(&b).await);
    let id = event(
        &admin,
        json!({"durations": [30], "sessions_per_company": 1}),
    )
    .await;
    publish(&admin, id).await;
    // Ten free starts: each round uses two (the winner keeps one).
    let starts = [
        "08:00", "08:30", "09:00", "09:30", "10:00", "10:30", "12:00", "12:30", "13:00", "13:30",
    ]
    .map(|t| format!("2026-12-10T{t}:00Z"));
    for round in 0..5 {
        let cid = company(&admin, id, &format!("Company {round}"), &[ida, idb]).await;
        let (ra, rb) = tokio::join!(
            book(&a, cid, &starts[2 * round], 30),
            book(&b, cid, &starts[2 * round + 1], 30)
        );
        let codes = [ra.0, rb.0];
        assert!(
            codes.contains(&StatusCode::CREATED) && codes.contains(&StatusCode::CONFLICT),
            "round {round}: {ra:?} {rb:?}"
        );
        let lost = if ra.0 == StatusCode::CONFLICT {
            &ra
        } else {
            &rb
        };
        assert_eq!(lost.1["error"]["code"], "quota_reached", "{}", lost.1);
        assert_eq!(quota(&a, cid).await, json!({"booked": 1, "allowed": 1}));
    }
}

#[tokio::test]
async fn event_pages_are_served_and_cancelling_mails_the_participants() {
    let (_clock, clock) = manual_clock(NOW);
    let sink = SmtpSink::start();
    let app = TestApp::start_with_clock(&sink.config(), clock).await;
    let admin = app.admin().await;
    let grace = app.member("grace@example.org", "Grace").await;
    let pia = app.member("pia@example.org", "Pia").await;
    let id = event(&admin, json!({})).await;
    publish(&admin, id).await;
    let acme = company(&admin, id, "Acme Robotics", &[user_id(&grace).await]).await;
    for page in [
        "/events".to_owned(),
        format!("/events/{id}"),
        format!("/events/{id}?view=lobby"),
        format!("/events/{id}/companies/{acme}"),
        format!("/events/{id}/companies/{acme}/book"),
        format!("/events/{id}/companies/{acme}/edit"),
        format!("/admin/events/{id}"),
        "/admin/events/new".to_owned(),
    ] {
        let resp = admin
            .http
            .get(format!("{}{page}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{page}");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{page}"
        );
        // Signed out: to the sign-in page.
        let resp = app
            .client()
            .http
            .get(format!("{}{page}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{page}");
    }
    // Only admins create events.
    let resp = pia
        .http
        .get(format!("{}/admin/events/new", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    let (s, b) = book(&grace, acme, "2026-12-10T09:00:00Z", 30).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let sid = b["session"]["id"].as_u64().unwrap();
    let (s, r) = pia
        .post(&format!("/api/sessions/{sid}/registrations"), json!({}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    mails_to(&sink, "pia@example.org", 1).await;
    // The host got the invite at booking, naming the company.
    let host = &mails_to(&sink, "grace@example.org", 1).await[0];
    assert!(
        host["subject"].as_str().unwrap().contains("registered"),
        "{host}"
    );
    assert!(
        host.to_string()
            .contains("Acme Robotics at Winter Career Fair 2026")
    );
    assert!(!host["ics"].is_null(), "{host}");
    let (s, e) = grace
        .post(&format!("/api/sessions/{sid}/cancel"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["status"], "cancelled");
    // Pia (registered) and Grace (host) are told.
    let to_pia = mails_to(&sink, "pia@example.org", 2).await;
    assert_eq!(mails_to(&sink, "grace@example.org", 2).await.len(), 2);
    assert_eq!(to_pia.len(), 2, "{to_pia:?}");
    assert!(
        to_pia[1]["subject"]
            .as_str()
            .unwrap()
            .starts_with("Cancelled")
    );
    assert!(to_pia[1].to_string().contains("Acme Robotics"));
    // The slot and the quota are free again.
    assert_eq!(quota(&grace, acme).await["booked"], 0);
    let (s, _) = book(&grace, acme, "2026-12-10T09:00:00Z", 30).await;
    assert_eq!(s, StatusCode::CREATED);
}
