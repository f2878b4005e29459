//! End to end in headless Chromium: the first admin through the setup link,
//! a member signing up through the real page, profile editing, sign in.
//! Screenshots land in target/screenshots/.

use crate::support::TestApp;
use crate::support::browser::Browser;

#[tokio::test]
async fn sign_up_sign_in_and_profile_in_a_real_browser() {
    let _turn = crate::support::browser::exclusive().await;
    let app = TestApp::start_with("[community]\nname = \"Rust Peer Learning\"\n").await;
    let b = Browser::launch().await;

    // First run: the setup link creates the administrator.
    let setup = app.setup_url().unwrap();
    b.open(&setup, "setup").await;
    b.screenshot("setup").await;
    b.fill("setup-form", "name", "Ada Admin").await;
    b.fill("setup-form", "email", "ada@example.org").await;
    b.fill("setup-form", "password", "correct horse").await;
    b.submit("setup-form").await;
    b.wait_page("admin").await;
    b.screenshot("admin").await;
    assert!(b.text("main").await.contains("Ada Admin"));
    b.client.delete_all_cookies().await.unwrap();

    // A member signs up through the page; a bad password is explained first.
    b.open(&format!("{}/", app.url), "home").await;
    assert!(b.text("header").await.contains("Rust Peer Learning"));
    b.screenshot("home").await;
    b.open(&format!("{}/signup", app.url), "signup").await;
    b.fill("signup-form", "name", "Grace Hopper").await;
    b.fill("signup-form", "email", "grace@example.org").await;
    b.fill("signup-form", "password", "short").await;
    b.submit("signup-form").await;
    let err = b.text("#form-error").await;
    assert!(
        err.contains("8"),
        "the page explains the password rule: {err:?}"
    );
    b.screenshot("signup-error").await;
    b.fill("signup-form", "password", "correct horse").await;
    b.submit("signup-form").await;
    b.wait_page("profile").await;
    assert!(b.text("main").await.contains("grace@example.org"));

    // Edit the profile.
    b.fill("profile-form", "bio", "Compilers, COBOL and nanoseconds.")
        .await;
    b.submit("profile-form").await;
    let c = app.client();
    c.post(
        "/api/auth/signin",
        serde_json::json!({"email": "grace@example.org", "password": "correct horse"}),
    )
    .await;
    let bio_saved = async {
        loop {
            let (_, me) = c.get("/api/me").await;
            if me["user"]["bio"] == "Compilers, COBOL and nanoseconds." {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), bio_saved)
        .await
        .expect("the profile form saved the bio");
    b.open(&format!("{}/profile", app.url), "profile").await;
    b.screenshot("profile").await;

    // The member directory shows Grace's profile to members.
    b.open(&format!("{}/members", app.url), "members").await;
    assert!(
        b.text("#member-list")
            .await
            .contains("Compilers, COBOL and nanoseconds.")
    );
    b.screenshot("members").await;
    b.click("#member-list li:last-child a.member-card-head")
        .await;
    b.wait_page("member").await;
    assert!(b.text("#member-profile").await.contains("Grace Hopper"));
    b.screenshot("member-profile").await;

    // Sign out and back in through the page.
    b.client.delete_all_cookies().await.unwrap();
    b.open(&format!("{}/signin", app.url), "signin").await;
    b.screenshot("signin").await;
    b.fill("signin-form", "email", "grace@example.org").await;
    b.fill("signin-form", "password", "correct horse").await;
    b.submit("signin-form").await;
    b.wait_page("profile").await;
    assert!(b.text("header").await.contains("Grace Hopper"));
    b.close().await;
}

#[tokio::test]
async fn pages_fit_a_phone_screen() {
    let _turn = crate::support::browser::exclusive().await;
    let app = TestApp::start().await;
    app.member("mo@example.org", "Mo Phone").await;
    let b = Browser::launch_sized(390, 844).await;
    b.open(&format!("{}/", app.url), "home").await;
    b.screenshot("home-mobile").await;
    b.open(&format!("{}/signin", app.url), "signin").await;
    b.screenshot("signin-mobile").await;
    let overflow: bool = b
        .client
        .execute(
            "return document.documentElement.scrollWidth > window.innerWidth;",
            vec![],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap();
    assert!(!overflow, "no horizontal scrolling on a phone");
    b.close().await;
}

/// An admin creates and publishes a session through the pages; a member
/// browses, registers (giving the name shown to others), finds it in their
/// schedule and cancels.
#[tokio::test]
async fn sessions_end_to_end_in_a_real_browser() {
    let _turn = crate::support::browser::exclusive().await;
    use fantoccini::Locator;
    let app = TestApp::start_with(
        "[community]\nname = \"Rust Peer Learning\"\ntime_zone = \"Europe/Berlin\"\n",
    )
    .await;
    let admin = app.admin().await;
    // A second session with people in it makes the pages look lived-in.
    let (_, s2) = admin
        .post(
            "/api/sessions",
            serde_json::json!({"title": "Async Rust without tears", "description": "Pinning, wakers and the executor you already have.",
                "starts_at": (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 10)).to_string(), "time_zone": "America/New_York",
                "capacity": {"host": 1, "presenter": 2, "interviewer": 1, "guest": 8}}),
        )
        .await;
    let s2 = s2["id"].as_u64().unwrap();
    admin
        .post(
            &format!("/api/sessions/{s2}/publish"),
            serde_json::json!({}),
        )
        .await;
    for (i, (name, role, talk)) in [
        ("Grace Hopper", "presenter", Some("Compilers for everyone")),
        ("Alan Kay", "presenter", None),
        ("Barbara Liskov", "guest", None),
    ]
    .iter()
    .enumerate()
    {
        let m = app.member(&format!("p{i}@example.org"), name).await;
        m.post(
            &format!("/api/sessions/{s2}/registrations"),
            serde_json::json!({"role": role, "talk_title": talk}),
        )
        .await;
    }

    let b = Browser::launch().await;
    // Sign the browser in as the admin (setup already used): through the page.
    b.sign_in(&app.url, "admin@example.org").await;
    b.open(
        &format!("{}/admin/sessions/new", app.url),
        "admin-session-new",
    )
    .await;
    b.fill("session-form", "title", "Rust in production").await;
    b.fill(
        "session-form",
        "description",
        "Three short talks from people who ship Rust.\nThen open discussion.",
    )
    .await;
    b.screenshot("admin-session-new").await;
    b.click("#save-session").await;
    b.wait_page("admin-session").await;
    b.click("#publish-session").await;
    let published = async {
        loop {
            let (_, list) = admin.get("/api/sessions").await;
            if list["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["title"] == "Rust in production")
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), published)
        .await
        .expect("published through the page");
    b.open(&format!("{}/admin?tab=sessions", app.url), "admin")
        .await;
    b.screenshot("admin-sessions").await;
    b.client.delete_all_cookies().await.unwrap();

    // A member browses, registers, sees the schedule, cancels.
    let m = app.member("newbie@example.org", "Newbie").await;
    b.sign_in(&app.url, "newbie@example.org").await;
    b.open(&format!("{}/", app.url), "home").await;
    b.screenshot("home-sessions").await;
    b.click("#session-list a.session-card").await;
    b.wait_page("session").await;
    b.screenshot("session-detail").await;
    b.click("#register-role-guest").await;
    b.fill("register-form", "name", "").await;
    b.click("#register-submit").await;
    let err = b.text("#form-error").await;
    assert!(
        err.to_lowercase().contains("name"),
        "the form asks for a name: {err:?}"
    );
    b.fill("register-form", "name", "Nina Newbie").await;
    b.fill("register-form", "topics", "Error handling, async")
        .await;
    b.click("#register-submit").await;
    let badge = b.text("#registered-as").await;
    assert!(badge.contains("Guest"), "{badge}");
    b.screenshot("session-registered").await;
    b.open(&format!("{}/schedule", app.url), "schedule").await;
    assert!(
        b.text("#schedule-upcoming")
            .await
            .contains("Rust in production")
    );
    b.screenshot("schedule").await;
    b.click("#schedule-upcoming a").await;
    b.wait_page("session").await;
    b.click("#cancel-registration").await;
    b.click("#confirm-yes").await;
    b.client
        .wait()
        .for_element(Locator::Css("#register-form"))
        .await
        .unwrap();
    let (_, list) = m.get("/api/sessions").await;
    let id = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["title"] == "Rust in production")
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let (_, d) = m.get(&format!("/api/sessions/{id}")).await;
    assert!(
        d["me"]["registration"].is_null(),
        "cancelled through the page: {}",
        d["me"]
    );
    assert_eq!(
        m.get("/api/me").await.1["user"]["name"],
        "Nina Newbie",
        "the name prompt saved the name"
    );
    b.open(&format!("{}/schedule", app.url), "schedule").await;
    assert!(
        !b.text("#schedule-upcoming")
            .await
            .contains("Rust in production")
            || b.text("main").await.contains("Cancelled")
    );
    b.open(&format!("{}/sessions/{s2}", app.url), "session")
        .await;
    b.screenshot("session-with-people").await;
    b.close().await;
}

/// The live room with three real browsers: a host starts the session, a
/// presenter joins on stage, a guest watches and decodes both speakers,
/// asks a question that the presenter upvotes and the host marks answered,
/// chats, asks to come on stage, is approved, goes through the countdown and
/// is seen on stage by the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_room_with_three_browsers() {
    let _turn = crate::support::browser::exclusive().await;
    use serde_json::json;
    let app = TestApp::start_with("[live]\ncountdown_seconds = 3\n").await;
    let admin = app.admin().await;
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(5);
    let (_, s) = admin
        .post("/api/sessions", json!({"title": "Rust in production", "description": "Live.", "starts_at": start.to_string(), "time_zone": "UTC",
            "capacity": {"host": 1, "presenter": 2, "interviewer": 0, "guest": 5}}))
        .await;
    let id = s["id"].as_u64().unwrap();
    admin
        .post(&format!("/api/sessions/{id}/publish"), json!({}))
        .await;
    let mut ids = Vec::new();
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
        ids.push(m.get("/api/me").await.1["user"]["id"].as_u64().unwrap());
    }
    let (hid, pid, gid) = (ids[0], ids[1], ids[2]);
    let live_url = format!("{}/sessions/{id}/live", app.url);

    let host = Browser::launch().await;
    host.sign_in(&app.url, "host@example.org").await;
    host.open(&live_url, "live").await;
    host.screenshot("live-waiting").await;
    host.click("#start-session").await;
    host.wait_js("document.body.dataset.liveScreen", 20, |v| v == "room")
        .await;

    let pres = Browser::launch().await;
    pres.sign_in(&app.url, "pres@example.org").await;
    pres.open(&live_url, "live").await;
    pres.click("#join-room").await;
    pres.wait_js("document.body.dataset.onStage", 20, |v| v == "1")
        .await;

    let guest = Browser::launch().await;
    guest.sign_in(&app.url, "guest@example.org").await;
    // The guest finds the live room from the session page.
    guest
        .open(&format!("{}/sessions/{id}", app.url), "session")
        .await;
    guest.screenshot("session-live-now").await;
    guest.click("#join-live").await;
    guest.wait_page("live").await;
    guest.click("#join-room").await;
    guest
        .wait_js("document.body.dataset.liveScreen", 20, |v| v == "room")
        .await;
    assert_eq!(
        guest.eval("document.body.dataset.onStage").await,
        "0",
        "guests join the audience"
    );

    // The guest decodes both speakers' video and receives their audio.
    let decoded = |who: u64| {
        format!(
            "(window.podiumLive && window.podiumLive.stats()) ? window.podiumLive.stats().subscribed.filter(s => s.participant === {who}).reduce((a, s) => ({{v: a.v + (s.framesDecoded || 0), a: a.a + (s.audioFramesReceived || 0)}}), {{v: 0, a: 0}}) : null"
        )
    };
    for who in [hid, pid] {
        guest
            .wait_js(&decoded(who), 60, |v| {
                v["v"].as_u64().unwrap_or(0) > 10 && v["a"].as_u64().unwrap_or(0) > 10
            })
            .await;
    }

    // Q&A: the guest asks, the presenter upvotes, the host marks it answered.
    guest.click("#tab-qa").await;
    guest
        .fill("ask-form", "text", "How do you test async code?")
        .await;
    guest.submit("ask-form").await;
    pres.click("#tab-qa").await;
    pres.click("#qa-open-list li[data-question-id] [data-action=vote]")
        .await;
    pres.wait_js("document.querySelector('#qa-open-list li[data-question-id] [data-action=vote]').getAttribute('aria-pressed')", 10, |v| v == "true").await;
    host.click("#tab-qa").await;
    host.wait_js("document.querySelector('#qa-open-list li[data-question-id] [data-action=vote]')?.dataset.votes", 10, |v| v == "1").await;
    host.screenshot("live-qa").await;
    host.click("#qa-open-list li[data-question-id] [data-action=answer]")
        .await;
    guest.click("#qa-tab-answered").await;
    guest
        .wait_js(
            "document.querySelector('#qa-answered-list')?.textContent || ''",
            10,
            |v| {
                v.as_str()
                    .unwrap_or("")
                    .contains("How do you test async code?")
            },
        )
        .await;

    // Chat.
    guest.click("#tab-chat").await;
    guest
        .fill("chat-form", "text", "Hello from the audience <b>!</b>")
        .await;
    guest.submit("chat-form").await;
    host.click("#tab-chat").await;
    host.wait_js(
        "document.querySelector('#chat-list')?.textContent || ''",
        10,
        |v| {
            v.as_str()
                .unwrap_or("")
                .contains("Hello from the audience <b>!</b>")
        },
    )
    .await;

    // The guest asks to come on stage; the host approves; countdown; on stage.
    guest.click("#request-stage").await;
    guest.click("#send-request").await;
    host.click("#tab-people").await;
    host.wait_js(
        &format!("!!document.querySelector('#stage-queue li[data-user-id=\"{gid}\"]')"),
        10,
        |v| v == true,
    )
    .await;
    host.screenshot("live-stage-queue").await;
    host.click(&format!(
        "#stage-queue li[data-user-id=\"{gid}\"] [data-action=approve]"
    ))
    .await;
    guest
        .wait_js(
            "!!document.querySelector('#stage-countdown:not([hidden])')",
            10,
            |v| v == true,
        )
        .await;
    guest.screenshot("live-countdown").await;
    guest
        .wait_js("document.body.dataset.onStage", 20, |v| v == "1")
        .await;
    host.wait_js(
        &format!("!!document.querySelector('.lr-tile[data-user-id=\"{gid}\"]')"),
        20,
        |v| v == true,
    )
    .await;
    pres.wait_js(&decoded(gid), 60, |v| v["v"].as_u64().unwrap_or(0) > 5)
        .await;
    host.wait_js(&decoded(gid), 60, |v| v["v"].as_u64().unwrap_or(0) > 5)
        .await;
    host.screenshot("live-stage-three-speakers").await;

    // A reload puts the presenter back on stage, publishing again: the host
    // decodes a new video track from them.
    let tracks_of = |who: u64| {
        format!(
            "window.podiumLive.stats().subscribed.filter(s => s.participant === {who} && s.kind === 'video').map(s => [s.track, s.framesDecoded || 0])"
        )
    };
    let old: Vec<u64> = host
        .eval(&tracks_of(pid))
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t[0].as_u64().unwrap())
        .collect();
    pres.client.refresh().await.unwrap();
    pres.wait_page("live").await;
    pres.wait_js("document.body.dataset.onStage", 20, |v| v == "1")
        .await;
    host.wait_js(&tracks_of(pid), 30, |v| {
        v.as_array().is_some_and(|ts| {
            ts.iter().any(|t| {
                !old.contains(&t[0].as_u64().unwrap_or(0)) && t[1].as_u64().unwrap_or(0) > 5
            })
        })
    })
    .await;

    // Breakout rooms with a timer; a message to every room; close them.
    host.click("#breakouts").await;
    host.eval("(() => { const s = document.querySelector('#breakout-minutes'); s.value = '10'; s.dispatchEvent(new Event('change')); return true; })()").await;
    host.screenshot("live-breakouts-dialog").await;
    host.click("#open-rooms").await;
    guest
        .wait_js(
            "document.querySelector('#breakout-banner')?.textContent || ''",
            10,
            |v| v.as_str().unwrap_or("").contains("Rooms close at"),
        )
        .await;
    host.fill("broadcast-form", "text", "Two minutes left in the rooms")
        .await;
    host.click("#broadcast-send").await;
    guest
        .wait_js(
            "document.querySelector('#chat-list')?.textContent || ''",
            10,
            |v| {
                v.as_str()
                    .unwrap_or("")
                    .contains("Two minutes left in the rooms")
            },
        )
        .await;
    host.screenshot("live-breakouts").await;
    host.click("#close-rooms").await;
    guest
        .wait_js("!!document.querySelector('#breakout-banner')", 10, |v| {
            v == false
        })
        .await;

    // The room on a phone-sized window.
    guest.client.set_window_size(390, 844).await.unwrap();
    let overflow = guest
        .eval("document.documentElement.scrollWidth > window.innerWidth")
        .await;
    guest.screenshot("live-room-phone").await;
    assert_eq!(
        overflow, false,
        "no horizontal scrolling in the room on a phone"
    );

    // The home page shows a picture of the stage on the live session's card.
    guest.client.set_window_size(1280, 900).await.unwrap();
    guest.open(&format!("{}/", app.url), "home").await;
    guest
        .wait_js(
            "(() => { const i = document.querySelector('.session-card-thumb'); return !!i && i.complete && i.naturalWidth > 0; })()",
            20,
            |v| v == true,
        )
        .await;
    guest
        .eval(
            "(() => { document.querySelector('#session-list').scrollIntoView(); return true; })()",
        )
        .await;
    guest.screenshot("home-live-now").await;

    for b in [host, pres, guest] {
        b.close().await;
    }
}

/// With `members_can_create_sessions`, a member creates and publishes a
/// session through the same editor admins use.
#[tokio::test]
async fn a_member_creates_a_session_when_the_community_allows_it() {
    let _turn = crate::support::browser::exclusive().await;
    let app = TestApp::start_with("[features]\nmembers_can_create_sessions = true\n").await;
    app.member("maker@example.org", "Maya Maker").await;
    let b = Browser::launch().await;
    b.sign_in(&app.url, "maker@example.org").await;
    b.open(&format!("{}/", app.url), "home").await;
    b.click("#new-session-home").await;
    b.wait_page("admin-session-new").await;
    b.fill("session-form", "title", "Members' lightning talks")
        .await;
    b.click("#save-session").await;
    b.wait_page("admin-session").await;
    b.click("#publish-session").await;
    b.wait_js(
        "document.querySelector('.editor-head .badge-status')?.dataset.status",
        10,
        |v| v == "open",
    )
    .await;
    b.screenshot("member-session-editor").await;
    b.close().await;
}

/// The session pages render what the server says about capacity and the
/// live room: a place held for the waitlist is neither "open" nor offered to
/// a newcomer; an ended session offers nothing to join or register for; My
/// schedule has a Join button while the live room runs.
#[tokio::test]
async fn session_pages_show_held_places_the_end_and_live_now() {
    let _turn = crate::support::browser::exclusive().await;
    use serde_json::json;
    let app = TestApp::start_with("[community]\nname = \"Rust Peer Learning\"\n").await;
    let admin = app.admin().await;
    let soon = (jiff::Timestamp::now() + jiff::SignedDuration::from_mins(5)).to_string();
    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48)).to_string();
    let mut ids = Vec::new();
    for (title, starts_at) in [
        ("Held spot: property testing", &later),
        ("Ended: error handling", &soon),
        ("Live now: async Rust", &soon),
    ] {
        let (_, s) = admin
            .post("/api/sessions", json!({"title": title, "description": "Talks, then questions.", "starts_at": starts_at, "time_zone": "Europe/Berlin",
                "capacity": {"host": 1, "presenter": 0, "interviewer": 0, "guest": 1}}))
            .await;
        let id = s["id"].as_u64().unwrap();
        admin
            .post(&format!("/api/sessions/{id}/publish"), json!({}))
            .await;
        ids.push(id);
    }
    let (held, ended, live) = (ids[0], ids[1], ids[2]);
    let host = app.member("host@example.org", "Hana Host").await;
    let guest = app.member("guest@example.org", "Gia Guest").await;
    let waiting = app.member("wait@example.org", "Walt Waiting").await;
    app.member("new@example.org", "Nina Newcomer").await;
    for id in ids {
        host.post(
            &format!("/api/sessions/{id}/registrations"),
            json!({"role": "host"}),
        )
        .await;
        guest
            .post(
                &format!("/api/sessions/{id}/registrations"),
                json!({"role": "guest"}),
            )
            .await;
    }
    // The guest place of the first session is held for Walt.
    waiting
        .post(
            &format!("/api/sessions/{held}/registrations"),
            json!({"role": "guest"}),
        )
        .await;
    guest
        .call(
            reqwest::Method::DELETE,
            &format!("/api/sessions/{held}/registrations/me"),
            None,
        )
        .await;
    for id in [ended, live] {
        let (s, body) = host
            .post(&format!("/api/sessions/{id}/live/start"), json!({}))
            .await;
        assert!(s.is_success(), "{body}");
    }
    host.post(&format!("/api/sessions/{ended}/live/join"), json!({}))
        .await;
    let (s, body) = host
        .post(&format!("/api/sessions/{ended}/live/end"), json!({}))
        .await;
    assert!(s.is_success(), "{body}");

    let b = Browser::launch_sized(1280, 1100).await;
    b.sign_in(&app.url, "new@example.org").await;
    b.open(&format!("{}/sessions/{held}", app.url), "session")
        .await;
    b.screenshot("session-held-spot").await;
    let page = b.text("main").await;
    assert!(!page.contains("open spot"), "{page}");
    assert!(page.contains("held"), "{page}");
    b.client.delete_all_cookies().await.unwrap();

    b.sign_in(&app.url, "guest@example.org").await;
    b.open(&format!("{}/sessions/{ended}", app.url), "session")
        .await;
    b.screenshot("session-ended").await;
    let page = b.text("main").await;
    assert!(page.contains("over"), "{page}");
    for css in [
        "#join-live",
        "#live-waiting-link",
        "#join-meeting",
        "#register-form",
    ] {
        assert_eq!(
            b.eval(&format!("!!document.querySelector('{css}')")).await,
            false,
            "{css} on an ended session"
        );
    }
    b.open(&format!("{}/schedule", app.url), "schedule").await;
    b.screenshot("schedule-live-now").await;
    let href = b
        .eval(&format!("document.querySelector('[data-session-id=\"{live}\"] .schedule-join')?.getAttribute('href')"))
        .await;
    assert_eq!(href, format!("/sessions/{live}/live"));
    assert_eq!(
        b.eval("document.querySelectorAll('.schedule-join').length")
            .await,
        1,
        "Join only on the running session"
    );
    b.open(&format!("{}/schedule?tab=past", app.url), "schedule")
        .await;
    b.screenshot("schedule-past").await;
    b.open(&format!("{}/sessions/{live}", app.url), "session")
        .await;
    b.screenshot("session-live-room-open").await;
    assert!(b.text("#join-live").await.contains("Join live room"));
    // On a phone the Join button stays (the View button does not).
    b.client.set_window_size(390, 844).await.unwrap();
    b.open(&format!("{}/schedule", app.url), "schedule").await;
    b.screenshot("schedule-live-now-phone").await;
    assert_eq!(
        b.eval("document.querySelector('.schedule-join').getBoundingClientRect().width > 0")
            .await,
        true
    );
    b.close().await;
}
