//! Career-fair events end to end in headless Chromium (issue 12, seed 003):
//! an organizer creates the event, its windows and a company with a speaker
//! and publishes it; the speaker edits the company (logo upload, an FAQ, a
//! job) and books a slot in the picker; a participant registers with one
//! click from the Program and finds it in My schedule; the speaker starts the
//! session 4 minutes early (the event's 5-minute lead, on a ManualClock); the
//! participant enters from the Lobby and reads the live room's Company tab.
//! Screenshots: target/screenshots/events-*.png.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::{Value, json};

use crate::support::browser::Browser;
use crate::support::{TestApp, manual_clock};

/// Sets an input's value as a person would (input + change events); for
/// date/time inputs and selects, whose typing depends on the locale.
async fn set(b: &Browser, css: &str, value: &str) {
    b.client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    b.client
        .execute(
            "const el = document.querySelector(arguments[0]); el.value = arguments[1];
             el.dispatchEvent(new Event('input', {bubbles: true}));
             el.dispatchEvent(new Event('change', {bubbles: true})); return true;",
            vec![json!(css), json!(value)],
        )
        .await
        .unwrap_or_else(|e| panic!("set {css}: {e}"));
}

/// Types into the element matching `css` (cleared first).
async fn type_into(b: &Browser, css: &str, value: &str) {
    let el = b
        .client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    el.clear().await.unwrap();
    el.send_keys(value).await.unwrap();
}

/// Waits until the text of `css` contains `needle`.
async fn wait_text(b: &Browser, css: &str, needle: &str) {
    let expr = format!(
        "document.querySelector({}) ? document.querySelector({}).textContent : ''",
        json!(css),
        json!(css)
    );
    let needle = needle.to_owned();
    b.wait_js(&expr, 20, move |v| {
        v.as_str().unwrap_or("").contains(&needle)
    })
    .await;
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A small RGBA PNG: a violet tile with a white ring, a real logo to upload.
fn logo_png() -> Vec<u8> {
    use std::io::Write;
    let size = 96u32;
    let mut raw = Vec::new();
    for y in 0..size {
        raw.push(0); // filter: none
        for x in 0..size {
            let (dx, dy) = (x as f32 - 47.5, y as f32 - 47.5);
            let r = (dx * dx + dy * dy).sqrt();
            let px = if (22.0..32.0).contains(&r) {
                [255, 255, 255, 255]
            } else if r < 14.0 {
                [255, 196, 61, 255]
            } else {
                [76, 59, 207, 255]
            };
            raw.extend_from_slice(&px);
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).unwrap();
    let idat = z.finish().unwrap();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&size.to_be_bytes());
    ihdr.extend_from_slice(&size.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(&b"IHDR"[..], ihdr), (b"IDAT", idat), (b"IEND", Vec::new())] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(&data);
        out.extend_from_slice(&chunk);
        out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    out
}

async fn user_id(api: &crate::support::Api) -> u64 {
    api.get("/api/me").await.1["user"]["id"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn career_fair_from_organizer_to_speaker_to_participant() {
    let _turn = crate::support::browser::exclusive().await;
    let now = jiff::Timestamp::now();
    let (clock, c) = manual_clock(&now.to_string());
    let app = TestApp::start_with_clock(
        "[community]\nname = \"Campus Careers\"\ntime_zone = \"Europe/Berlin\"\n",
        c,
    )
    .await;
    let admin = app.admin().await;
    let speaker = app.member("grace@example.org", "Grace Hopper").await;
    let participant = app.member("pia@example.org", "Pia Participant").await;
    let other_speaker = app.member("alan@example.org", "Alan Kay").await;
    let grace = user_id(&speaker).await;
    let alan = user_id(&other_speaker).await;
    let _ = user_id(&participant).await;

    // Two days ahead, so the booked slot is in the future whatever the hour.
    let day1 = (now + jiff::SignedDuration::from_hours(48))
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let day2 = day1.tomorrow().unwrap();

    // ---- Organizer: event, windows, a company with a speaker, publish.
    let b = Browser::launch().await;
    b.sign_in(&app.url, "admin@example.org").await;
    b.open(&format!("{}/events", app.url), "events").await;
    b.screenshot("events-list-empty").await;
    b.click("#new-event").await;
    b.wait_page("admin-event-new").await;
    b.fill("event-form", "name", "Winter Career Fair").await;
    b.fill(
        "event-form",
        "description",
        "Meet twelve employers in workshops, presentations and coffee chats.",
    )
    .await;
    set(&b, "#event-form [name=first_day]", &day1.to_string()).await;
    set(&b, "#event-form [name=last_day]", &day2.to_string()).await;
    b.fill("event-form", "time_zone", "Europe/Berlin").await;
    b.click("#save-event").await;
    b.wait_page("admin-event").await;
    let event_id: u64 = b
        .eval("location.pathname.split('/').pop()")
        .await
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // Two windows on the first day.
    b.click("#add-window").await;
    b.click("#add-window").await;
    set(
        &b,
        "#window-list li:nth-child(1) [name=day]",
        &day1.to_string(),
    )
    .await;
    set(&b, "#window-list li:nth-child(1) [name=starts]", "09:00").await;
    set(&b, "#window-list li:nth-child(1) [name=ends]", "12:00").await;
    set(
        &b,
        "#window-list li:nth-child(2) [name=day]",
        &day1.to_string(),
    )
    .await;
    // Overlapping windows are refused beside the later one, and nothing is saved.
    set(&b, "#window-list li:nth-child(2) [name=starts]", "11:00").await;
    set(&b, "#window-list li:nth-child(2) [name=ends]", "13:00").await;
    b.click("#save-windows").await;
    b.wait_js(
        "document.querySelector('#window-list li:nth-child(2) [name=starts]').getAttribute('aria-invalid')",
        10,
        |v| v == "true",
    )
    .await;
    assert!(!b.text("#windows-error").await.is_empty());
    let (_, ev) = admin.get(&format!("/api/events/{event_id}")).await;
    assert_eq!(ev["event"]["windows"].as_array().unwrap().len(), 0, "{ev}");
    b.screenshot("events-windows-error").await;
    set(&b, "#window-list li:nth-child(2) [name=starts]", "14:00").await;
    set(&b, "#window-list li:nth-child(2) [name=ends]", "17:00").await;
    b.click("#save-windows").await;
    wait_text(&b, "#event-flash", "2 windows").await;

    // A company, then its speaker from the member directory.
    b.fill("company-form", "name", "Acme Robotics").await;
    b.fill("company-form", "website", "https://acme.example")
        .await;
    b.fill("company-form", "location", "Berlin, remote").await;
    b.click("#add-company").await;
    wait_text(&b, "#company-list", "Acme Robotics").await;
    let (_, ev) = admin.get(&format!("/api/events/{event_id}")).await;
    let acme = ev["companies"][0]["id"].as_u64().unwrap();
    set(&b, &format!("#speakers-{acme}-select"), &grace.to_string()).await;
    b.click(&format!("#speakers-{acme}-save")).await;
    wait_text(&b, "#event-flash", "Speakers of Acme Robotics saved").await;
    let (_, co) = admin.get(&format!("/api/companies/{acme}")).await;
    assert_eq!(co["company"]["speakers"][0]["user_id"], grace, "{co}");

    // A second company through the API makes the pages look lived-in.
    let (s, globex) = admin
        .post(
            &format!("/api/events/{event_id}/companies"),
            json!({"name": "Globex Corporation of Very Long Names International", "description": "Logistics software.", "location": "Hamburg"}),
        )
        .await;
    assert!(s.is_success(), "{globex}");
    let globex = globex["company"]["id"]
        .as_u64()
        .or(globex["id"].as_u64())
        .unwrap();
    admin
        .call(
            reqwest::Method::PUT,
            &format!("/api/companies/{globex}/speakers"),
            Some(json!({"user_ids": [alan]})),
        )
        .await;

    b.eval("document.querySelector('#companies-card').scrollIntoView() || true")
        .await;
    b.screenshot("events-organizer-companies").await;
    // The draft as its organizer sees it.
    b.open(&format!("{}/events/{event_id}", app.url), "event")
        .await;
    assert!(b.text("#event-draft-note").await.contains("Draft"));
    b.screenshot("events-draft").await;
    b.click("#manage-event").await;
    b.wait_page("admin-event").await;
    b.click("#publish-event").await;
    wait_text(&b, "#event-state-hint", "Published").await;
    b.screenshot("events-organizer").await;
    let (_, ev) = admin.get(&format!("/api/events/{event_id}")).await;
    assert_eq!(ev["event"]["status"], "published");
    assert_eq!(ev["event"]["windows"].as_array().unwrap().len(), 2);
    b.open(&format!("{}/admin?tab=events", app.url), "admin")
        .await;
    assert!(b.text("#events-table").await.contains("Winter Career Fair"));
    b.screenshot("events-admin-tab").await;

    // Globex books an afternoon session through the API.
    let (_, slots) = other_speaker
        .get(&format!("/api/companies/{globex}/slots"))
        .await;
    let afternoon = slots["days"][0]["starts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["local"] == "14:00")
        .unwrap_or_else(|| panic!("14:00 is offered: {slots}"))["at"]
        .clone();
    let (s, body) = other_speaker
        .post(
            &format!("/api/companies/{globex}/sessions"),
            json!({"starts_at": afternoon, "duration_minutes": 60, "title": "Coffee with our logistics team", "format": "coffee_chat"}),
        )
        .await;
    assert!(s.is_success(), "{body}");
    b.client.delete_all_cookies().await.unwrap();

    // ---- Speaker: edit the company (logo, FAQ, job), book a slot.
    b.sign_in(&app.url, "grace@example.org").await;
    b.open(
        &format!("{}/events/{event_id}/companies/{acme}/edit", app.url),
        "company-edit",
    )
    .await;
    type_into(
        &b,
        "#profile-form [name=description]",
        "We build friendly warehouse robots.\nTeams in Berlin and fully remote.",
    )
    .await;
    b.click("#save-profile").await;
    wait_text(&b, "#profile-form", "Profile saved.").await;

    let dir = tempfile::tempdir().unwrap();
    let logo = dir.path().join("acme-logo.png");
    std::fs::write(&logo, logo_png()).unwrap();
    b.client
        .find(Locator::Css("#logo-input"))
        .await
        .unwrap()
        .send_keys(logo.to_str().unwrap())
        .await
        .unwrap();
    b.wait_js("!!document.querySelector('#logo-preview img')", 10, |v| {
        v == true
    })
    .await;
    b.click("#upload-logo").await;
    wait_text(&b, "#logo-form", "Logo uploaded.").await;

    b.click("#add-faq").await;
    type_into(
        &b,
        "#faqs-list li:last-child [name=question]",
        "Do you hire people without a degree?",
    )
    .await;
    type_into(
        &b,
        "#faqs-list li:last-child [name=answer]",
        "Yes. We look at what you have built, not at certificates.",
    )
    .await;
    b.click("#save-faqs").await;
    wait_text(&b, "#faqs-form", "FAQs saved.").await;

    // A job link that is not http(s) is refused beside its field; then fixed.
    b.click("#add-job").await;
    type_into(
        &b,
        "#jobs-list li:last-child [name=title]",
        "Robotics engineer (Rust)",
    )
    .await;
    type_into(&b, "#jobs-list li:last-child [name=location]", "Berlin").await;
    type_into(
        &b,
        "#jobs-list li:last-child [name=url]",
        "javascript:alert(1)",
    )
    .await;
    b.click("#save-jobs").await;
    b.wait_js(
        "document.querySelector('#jobs-list li:last-child [name=url]').getAttribute('aria-invalid')",
        10,
        |v| v == "true",
    )
    .await;
    b.screenshot("events-company-edit-error").await;
    type_into(
        &b,
        "#jobs-list li:last-child [name=url]",
        "https://acme.example/jobs/rust",
    )
    .await;
    b.click("#save-jobs").await;
    wait_text(&b, "#jobs-form", "Jobs saved.").await;
    b.screenshot("events-company-edit").await;
    let (_, co) = speaker.get(&format!("/api/companies/{acme}")).await;
    let c = &co["company"];
    assert!(c["logo_url"].is_string(), "{c}");
    assert_eq!(
        c["faqs"][0]["question"],
        "Do you hire people without a degree?"
    );
    assert_eq!(c["jobs"][0]["url"], "https://acme.example/jobs/rust");

    // The slot picker: first day → 09:00 → 30 minutes.
    b.open(
        &format!("{}/events/{event_id}/companies/{acme}/book", app.url),
        "company-book",
    )
    .await;
    wait_text(&b, "#slot-quota", "0 of 2").await;
    b.click(&format!("label[for='slot-day-{day1}']")).await;
    b.click("label[for='slot-start-0900']").await;
    b.click("label[for='slot-duration-30']").await;
    b.fill("book-form", "title", "Build a robot arm controller in Rust")
        .await;
    b.fill(
        "book-form",
        "description",
        "A hands-on workshop: you write the control loop, we bring the robot.",
    )
    .await;
    b.click("label[for='format-workshop']").await;
    b.eval("window.scrollTo(0, 0) || true").await;
    b.screenshot("events-slot-picker").await;
    b.click("#book-submit").await;
    b.wait_page("session").await;
    let session_id: u64 = b
        .eval("location.pathname.split('/').pop()")
        .await
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    b.screenshot("events-session-booked").await;
    let (_, sd) = speaker.get(&format!("/api/sessions/{session_id}")).await;
    assert_eq!(sd["session"]["event"]["company"]["id"], acme, "{sd}");
    assert_eq!(sd["session"]["event"]["format"], "workshop");
    // The speaker edits the spots: 99 is refused beside the field, 25 is kept.
    b.click("#event-session-edit summary").await;
    b.fill("event-session-form", "capacity", "99").await;
    b.click("#save-event-session").await;
    b.wait_js(
        "document.querySelector('#event-session-form [name=capacity]').getAttribute('aria-invalid')",
        10,
        |v| v == "true",
    )
    .await;
    b.screenshot("events-session-edit-error").await;
    b.fill("event-session-form", "capacity", "25").await;
    b.click("#save-event-session").await;
    let saved = async {
        loop {
            let (_, d) = speaker.get(&format!("/api/sessions/{session_id}")).await;
            if d["session"]["capacity"]["guest"] == 25 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), saved)
        .await
        .expect("the spots were saved through the page");
    let starts_at: jiff::Timestamp = sd["session"]["starts_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    b.client.delete_all_cookies().await.unwrap();

    // ---- Participant: one click in the Program, then My schedule.
    b.sign_in(&app.url, "pia@example.org").await;
    b.open(&format!("{}/", app.url), "home").await;
    b.wait_js("!document.querySelector('#home-events').hidden", 10, |v| {
        v == true
    })
    .await;
    b.eval("document.querySelector('#home-events').scrollIntoView() || true")
        .await;
    b.screenshot("events-home").await;
    b.open(&format!("{}/events", app.url), "events").await;
    b.screenshot("events-list").await;
    b.click(&format!("a.event-card[data-event-id='{event_id}']"))
        .await;
    b.wait_page("event").await;
    b.click(&format!("#register-{session_id}")).await;
    b.client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(&format!("#registered-{session_id}")))
        .await
        .expect("the Program shows the registration");
    b.screenshot("events-program").await;
    let (_, mine) = participant.get("/api/me/schedule").await;
    assert!(
        mine["upcoming"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["session"]["id"] == session_id && e["role"] == "guest"),
        "{mine}"
    );
    b.open(&format!("{}/schedule", app.url), "schedule").await;
    let text = b.text("#schedule-upcoming").await;
    assert!(
        text.contains("Build a robot arm controller in Rust"),
        "{text}"
    );
    assert!(
        text.contains("Acme Robotics") && text.contains("Winter Career Fair"),
        "{text}"
    );
    b.screenshot("events-schedule").await;
    b.open(
        &format!("{}/events/{event_id}/companies/{acme}", app.url),
        "company",
    )
    .await;
    assert!(b.text("#company-faqs").await.contains("without a degree"));
    let rel: Value = b
        .eval("document.querySelector('#company-jobs a').getAttribute('rel')")
        .await;
    assert!(rel.as_str().unwrap().contains("noopener"), "{rel}");
    b.screenshot("events-company").await;
    b.open(
        &format!("{}/events/{event_id}?view=companies", app.url),
        "event",
    )
    .await;
    b.screenshot("events-companies").await;

    // ---- Four minutes before the start the speaker may start (5-minute lead).
    clock.set(starts_at - jiff::SignedDuration::from_mins(4));
    let host = Browser::launch().await;
    host.sign_in(&app.url, "grace@example.org").await;
    host.open(&format!("{}/sessions/{session_id}/live", app.url), "live")
        .await;
    host.click("#start-session").await;
    host.wait_js("document.body.dataset.liveScreen", 20, |v| v == "room")
        .await;

    // ---- The participant finds it live in the Lobby and enters.
    b.open(
        &format!("{}/events/{event_id}?view=lobby", app.url),
        "event",
    )
    .await;
    b.client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(&format!("#lobby-join-{session_id}")))
        .await
        .expect("the lobby lists the live session");
    // Give the stage picture a moment to arrive (the refresh runs every 10 s);
    // the card shows the company's logo until then.
    let _ = tokio::time::timeout(
        Duration::from_secs(25),
        b.wait_js(
            "!!document.querySelector('.lobby-thumb:not(.is-empty)')",
            120,
            |v| v == true,
        ),
    )
    .await;
    b.screenshot("events-lobby").await;
    b.eval("document.querySelector('#lobby-next-title').scrollIntoView() || true")
        .await;
    b.screenshot("events-lobby-next").await;
    b.click(&format!("#lobby-join-{session_id}")).await;
    b.wait_page("live").await;
    b.click("#join-room").await;
    b.wait_js("document.body.dataset.liveScreen", 20, |v| v == "room")
        .await;
    b.click("#tab-company").await;
    wait_text(&b, "#lr-company-name", "Acme Robotics").await;
    wait_text(&b, "#lr-company-jobs", "Robotics engineer (Rust)").await;
    let rel: Value = b
        .eval("document.querySelector('#lr-company-jobs a').getAttribute('rel') + ' ' + document.querySelector('#lr-company-jobs a').getAttribute('target')")
        .await;
    assert!(
        rel.as_str().unwrap().contains("noopener") && rel.as_str().unwrap().contains("_blank"),
        "{rel}"
    );
    b.screenshot("events-live-company").await;
    host.close().await;
    b.close().await;

    // The Program and a company page fit a phone screen.
    let phone = Browser::launch_sized(390, 844).await;
    phone.sign_in(&app.url, "pia@example.org").await;
    for (path, page, shot) in [
        (
            format!("/events/{event_id}"),
            "event",
            "events-program-mobile",
        ),
        (
            format!("/events/{event_id}?view=lobby"),
            "event",
            "events-lobby-mobile",
        ),
        (
            format!("/events/{event_id}/companies/{acme}"),
            "company",
            "events-company-mobile",
        ),
    ] {
        phone.open(&format!("{}{path}", app.url), page).await;
        phone.screenshot(shot).await;
        let overflow = phone
            .eval("document.documentElement.scrollWidth > window.innerWidth")
            .await;
        assert_eq!(overflow, false, "no horizontal scrolling on {path}");
    }
    phone.close().await;
}
