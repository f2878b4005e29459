//! Accounts over the real HTTP API: sign up / in / out, bad input, rate
//! limits, first-run admin setup (including a race), profiles, admin flags,
//! and persistence across a restart.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::smtp::SmtpSink;
use crate::support::{TestApp, assert_error, manual_clock};

#[tokio::test]
async fn sign_up_sign_in_sign_out() {
    let app = TestApp::start().await;
    let c = app.client();
    let resp = c
        .http
        .post(format!("{}/api/auth/signup", app.url))
        .json(&json!({"email": " Grace@Example.org ", "name": "Grace Hopper", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    // Sign-up answers "check your mail" and signs no one in: the same
    // answer as for an email that has an account.
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert!(resp.headers().get("set-cookie").is_none());
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body, json!({"check_mail": true}));
    let resp = c
        .http
        .post(format!("{}/api/auth/signin", app.url))
        .json(&json!({"email": "grace@example.org", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("podium_session="), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain-http local use must not set Secure"
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["user"]["email"], "grace@example.org");
    assert!(body["user"].get("password_hash").is_none());

    let (s, me) = c.get("/api/me").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["user"]["name"], "Grace Hopper");
    assert_eq!(me["user"]["is_admin"], false);

    let (s, _) = c.post("/api/auth/signout", json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_error(
        &c.get("/api/me").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );

    let wrong = c
        .post(
            "/api/auth/signin",
            json!({"email": "grace@example.org", "password": "wrong horse"}),
        )
        .await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let unknown = c
        .post(
            "/api/auth/signin",
            json!({"email": "nobody@example.org", "password": "correct horse"}),
        )
        .await;
    assert_error(&unknown, StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(
        wrong.1["error"]["message"], unknown.1["error"]["message"],
        "no account enumeration"
    );

    let (s, _) = c
        .post(
            "/api/auth/signin",
            json!({"email": "GRACE@example.org", "password": "correct horse"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c.get("/api/me").await.0, StatusCode::OK);
    assert_eq!(app.metric("podium_users").await, 1.0);
}

#[tokio::test]
async fn bad_sign_up_input_is_refused_and_nothing_is_written() {
    let app = TestApp::start().await;
    app.member("taken@example.org", "First").await;
    let c = app.client();
    let long = "x".repeat(300);
    let cases = [
        (
            json!({"email": "not-an-email", "name": "A", "password": "correct horse"}),
            StatusCode::BAD_REQUEST,
            "invalid_email",
        ),
        (
            json!({"email": "a@localhost", "name": "A", "password": "correct horse"}),
            StatusCode::BAD_REQUEST,
            "invalid_email",
        ),
        (
            json!({"email": "a@example.org", "name": "", "password": "correct horse"}),
            StatusCode::BAD_REQUEST,
            "invalid_name",
        ),
        (
            json!({"email": "a@example.org", "name": "   ", "password": "correct horse"}),
            StatusCode::BAD_REQUEST,
            "invalid_name",
        ),
        (
            json!({"email": "a@example.org", "name": long, "password": "correct horse"}),
            StatusCode::BAD_REQUEST,
            "invalid_name",
        ),
        (
            json!({"email": "a@example.org", "name": "A", "password": "short"}),
            StatusCode::BAD_REQUEST,
            "weak_password",
        ),
        (
            json!({"email": "a@example.org", "name": "A"}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            json!({"email": "a@example.org", "name": "A", "password": "correct horse", "is_admin": true}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            json!(["a@example.org"]),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            json!({"email": 5, "name": "A", "password": "correct horse"}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
    ];
    for (body, status, code) in cases {
        let got = c.post("/api/auth/signup", body.clone()).await;
        assert_error(&got, status, code);
        if code == "invalid_email" || code == "invalid_name" || code == "weak_password" {
            assert!(
                got.1["error"]["field"].is_string(),
                "validation errors name the field: {}",
                got.1
            );
        }
    }
    // Not JSON at all, wrong content type, oversized.
    assert_error(
        &c.raw(
            Method::POST,
            "/api/auth/signup",
            "application/json",
            b"{not json".to_vec(),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    assert_error(
        &c.raw(
            Method::POST,
            "/api/auth/signup",
            "text/plain",
            b"{}".to_vec(),
        )
        .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let huge = format!(
        r#"{{"email":"big@example.org","name":"{}","password":"correct horse"}}"#,
        "y".repeat(100_000)
    );
    assert_error(
        &c.raw(
            Method::POST,
            "/api/auth/signup",
            "application/json",
            huge.into_bytes(),
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );
    // CSRF: no Origin, or someone else's Origin.
    let body = json!({"email": "csrf@example.org", "name": "C", "password": "correct horse"});
    assert_error(
        &app.client_without_origin()
            .post("/api/auth/signup", body.clone())
            .await,
        StatusCode::FORBIDDEN,
        "csrf_origin",
    );
    let evil = c
        .http
        .post(format!("{}/api/auth/signup", app.url))
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), StatusCode::FORBIDDEN);
    let cross = c
        .http
        .post(format!("{}/api/auth/signup", app.url))
        .header("sec-fetch-site", "cross-site")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);

    assert_eq!(
        app.metric("podium_users").await,
        1.0,
        "no refused sign-up wrote a user"
    );
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_account_and_per_ip() {
    let app = TestApp::start_with(
        "[accounts]\nsignin_failures_per_account = 3\nsignin_failures_per_ip = 6\n",
    )
    .await;
    app.member("victim@example.org", "Victim").await;
    app.member("other@example.org", "Other").await;
    let c = app.client();
    for _ in 0..3 {
        let got = c
            .post(
                "/api/auth/signin",
                json!({"email": "victim@example.org", "password": "guess guess"}),
            )
            .await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    // Even the right password is refused while the account is locked.
    let resp = c
        .http
        .post(format!("{}/api/auth/signin", app.url))
        .json(&json!({"email": "victim@example.org", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 15 * 60);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_attempts");
    // Another account still works from this address ...
    assert_eq!(
        c.post(
            "/api/auth/signin",
            json!({"email": "other@example.org", "password": "correct horse"})
        )
        .await
        .0,
        StatusCode::OK
    );
    // ... until the address itself has failed too often.
    for i in 0..3 {
        let got = c
            .post(
                "/api/auth/signin",
                json!({"email": format!("spray{i}@example.org"), "password": "guess guess"}),
            )
            .await;
        assert_eq!(got.0, StatusCode::UNAUTHORIZED);
    }
    assert_error(
        &c.post(
            "/api/auth/signin",
            json!({"email": "other@example.org", "password": "correct horse"}),
        )
        .await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
    );
    assert_eq!(app.metric("podium_signin_failures_total").await, 6.0);
}

#[tokio::test]
async fn failures_by_others_slow_the_owner_down_but_never_lock_them_out() {
    let (clock, c) = manual_clock("2026-12-06T10:00:00Z");
    let app = TestApp::start_with_clock(
        "[accounts]\nsignin_failures_per_account = 3\nsignin_failures_per_ip = 1000\n",
        c,
    )
    .await;
    app.member("owner@example.org", "Owner").await;
    let attacker = app.client();
    let owner = app.client();
    let try_signin = async |c: &crate::support::Api, password: &str| -> (StatusCode, u64) {
        let r = c
            .http
            .post(format!("{}/api/auth/signin", app.url))
            .json(&json!({"email": "owner@example.org", "password": password}))
            .send()
            .await
            .unwrap();
        let retry = r
            .headers()
            .get("retry-after")
            .map_or(0, |v| v.to_str().unwrap().parse().unwrap());
        (r.status(), retry)
    };
    for _ in 0..3 {
        assert_eq!(
            try_signin(&attacker, "wrong guess").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    // Someone keeps failing on purpose; the delay grows 1, 2, 4 ... and the
    // attempts made while it runs are refused without counting.
    let mut waits = Vec::new();
    for _ in 0..8 {
        let (s, retry) = try_signin(&attacker, "wrong guess").await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            try_signin(&attacker, "wrong guess").await,
            (s, retry),
            "refused, not counted"
        );
        waits.push(retry);
        clock.advance(jiff::SignedDuration::from_secs(retry as i64));
        assert_eq!(
            try_signin(&attacker, "wrong guess").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60], "a minute at most");
    // The owner is told how long to wait, and then gets in.
    let (s, retry) = try_signin(&owner, "correct horse").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=60).contains(&retry), "{retry}");
    clock.advance(jiff::SignedDuration::from_secs(retry as i64));
    assert_eq!(try_signin(&owner, "correct horse").await.0, StatusCode::OK);
    // Success forgives the failures: the next wrong password is free again.
    assert_eq!(
        try_signin(&attacker, "wrong guess").await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn setup_link_creates_exactly_one_admin_even_when_raced() {
    let mut app = TestApp::start().await;
    let url = app.setup_url().expect("a fresh server offers a setup link");
    let token = url.split("token=").nth(1).unwrap().to_owned();
    let (s, cfg) = app.client().get("/api/config").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(cfg["setup_required"], true);

    // A wrong token is refused and writes nothing.
    let got = app
        .client()
        .post("/api/setup", json!({"token": "nope", "email": "x@example.org", "name": "X", "password": "correct horse"}))
        .await;
    assert_error(&got, StatusCode::FORBIDDEN, "invalid_setup_token");

    let mut tasks = Vec::new();
    for i in 0..8 {
        let c = app.client();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            c.post(
                "/api/setup",
                json!({"token": token, "email": format!("admin{i}@example.org"), "name": format!("Admin {i}"), "password": "correct horse"}),
            )
            .await
        }));
    }
    let mut created = 0;
    for t in tasks {
        let (s, body) = t.await.unwrap();
        match s {
            StatusCode::CREATED => {
                created += 1;
                assert_eq!(body["user"]["is_admin"], true);
            }
            StatusCode::CONFLICT => assert_eq!(body["error"]["code"], "already_set_up"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created, 1, "exactly one admin");
    assert_eq!(app.metric("podium_users").await, 1.0);
    assert_eq!(
        app.client().get("/api/config").await.1["setup_required"],
        false
    );

    app.restart().await;
    assert!(
        app.setup_url().is_none(),
        "no setup link once an admin exists"
    );
}

#[tokio::test]
async fn profile_edits_and_their_bad_input() {
    let app = TestApp::start().await;
    let c = app.member("pat@example.org", "Pat").await;
    let (s, me) = c
        .patch("/api/me", json!({"name": "Pat Q", "bio": "Rust and\nradio", "links": ["https://example.org/pat", ""]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["user"]["name"], "Pat Q");
    assert_eq!(me["user"]["bio"], "Rust and\nradio");
    assert_eq!(me["user"]["links"], json!(["https://example.org/pat"]));
    let cases = [
        (json!({"name": ""}), "invalid_name"),
        (json!({"bio": "b".repeat(501)}), "invalid_bio"),
        (json!({"links": ["javascript:alert(1)"]}), "invalid_links"),
        (
            json!({"links": ["https://a.org", "https://b.org", "https://c.org", "https://d.org", "https://e.org", "https://f.org"]}),
            "invalid_links",
        ),
        (json!({"email": "new@example.org"}), "invalid_json"),
    ];
    for (body, code) in cases {
        assert_error(
            &c.patch("/api/me", body).await,
            StatusCode::BAD_REQUEST,
            code,
        );
    }
    let (_, me) = c.get("/api/me").await;
    assert_eq!(me["user"]["name"], "Pat Q", "refused edits changed nothing");
    assert_eq!(me["user"]["links"], json!(["https://example.org/pat"]));
    assert_error(
        &app.client().patch("/api/me", json!({"name": "Anon"})).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
}

#[tokio::test]
async fn admin_pages_and_user_flags() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let member = app.member("mo@example.org", "Mo").await;

    // Page access is enforced by the server.
    let anon = app.client();
    let r = anon
        .http
        .get(format!("{}/admin", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/signin?next=/admin");
    let r = member
        .http
        .get(format!("{}/admin", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = admin
        .http
        .get(format!("{}/admin", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    assert_error(
        &member.get("/api/admin/users").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &anon.get("/api/admin/users").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let (s, list) = admin.get("/api/admin/users").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["users"].as_array().unwrap().len(), 2);
    assert!(
        !list.to_string().contains('@'),
        "no email addresses in the admin list: {list}"
    );
    let mo = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "Mo")
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let me = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "Ada Admin")
        .unwrap()["id"]
        .as_u64()
        .unwrap();

    let (s, u) = admin
        .patch(
            &format!("/api/admin/users/{mo}"),
            json!({"is_premium": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["user"]["is_premium"], true);
    assert_eq!(member.get("/api/me").await.1["user"]["is_premium"], true);
    assert_error(
        &member
            .patch(&format!("/api/admin/users/{mo}"), json!({"is_admin": true}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &admin
            .patch(
                &format!("/api/admin/users/{me}"),
                json!({"is_admin": false}),
            )
            .await,
        StatusCode::CONFLICT,
        "last_admin",
    );
    assert_error(
        &admin
            .patch("/api/admin/users/999", json!({"is_premium": true}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &admin.patch("/api/admin/users/abc", json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &admin
            .patch(
                &format!("/api/admin/users/{mo}"),
                json!({"is_premium": "yes"}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    assert_eq!(admin.get("/api/me").await.1["user"]["is_admin"], true);
}

#[tokio::test]
async fn accounts_and_sign_ins_survive_a_restart() {
    let mut app = TestApp::start().await;
    let c = app.member("keep@example.org", "Keeper").await;
    c.patch("/api/me", json!({"bio": "still here"})).await;
    let port_before = app.url.clone();
    app.restart().await;
    assert!(app.db_path().exists());
    // The old client keeps its cookie; point it at the new port.
    let c = crate::support::Api {
        base: app.url.clone(),
        ..c
    };
    let _ = port_before;
    let (s, me) = c.get("/api/me").await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["user"]["bio"], "still here");
    let fresh = app.client();
    assert_eq!(
        fresh
            .post(
                "/api/auth/signin",
                json!({"email": "keep@example.org", "password": "correct horse"})
            )
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn member_directory_shows_profiles_but_never_emails() {
    let app = TestApp::start().await;
    let ada = app.member("ada@example.org", "Ada").await;
    ada.patch(
        "/api/me",
        json!({"bio": "Engines", "links": ["https://ada.example.org"]}),
    )
    .await;
    let bob = app.member("bob@example.org", "Bob").await;
    let (s, list) = bob.get("/api/members").await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = list["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ada", "Bob"]);
    assert!(
        !list.to_string().contains("@example.org"),
        "no emails: {list}"
    );
    let id = list["members"][0]["id"].as_u64().unwrap();
    let (s, one) = bob.get(&format!("/api/members/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one["member"]["bio"], "Engines");
    assert_eq!(one["member"]["links"], json!(["https://ada.example.org"]));
    assert!(one["member"].get("email").is_none());
    assert_error(
        &bob.get("/api/members/999").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.client().get("/api/members").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
}

/// Peak and current resident memory of a process, in MiB (`/proc/<pid>/status`).
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = |key: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{key} in {status}"))
    };
    (kib("VmHWM:") / 1024.0, kib("VmRSS:") / 1024.0)
}

/// 64 concurrent wrong sign-ins (each an argon2 hash of ~19 MiB) must not
/// take the server's memory with them. The server runs as its own process
/// here: its peak RSS (VmHWM) is then the server's alone, not shared with
/// the other tests this binary runs in parallel, and it is the real binary
/// with its real allocator.
#[tokio::test]
async fn a_flood_of_wrong_sign_ins_keeps_memory_bounded_and_says_busy() {
    let dir = tempfile::tempdir().unwrap();
    // The per-address limits are lifted so every attempt reaches hashing;
    // two workers and a queue of four (whatever the machine's CPU count), so
    // 64 at once must overflow it.
    std::fs::write(
        dir.path().join("podium.toml"),
        "[accounts]\nsignin_failures_per_ip = 100000\nsignin_failures_per_account = 1000\npassword_hash_workers = 2\npassword_hash_queue = 4\n",
    )
    .unwrap();
    let (mut child, url, _) = crate::cli::spawn_server(
        dir.path(),
        &[
            "--config",
            "podium.toml",
            "--http-addr",
            "127.0.0.1:0",
            "--quic-addr",
            "127.0.0.1:0",
        ],
    );
    let pid = child.id();
    let http = reqwest::Client::new();
    let signin = |email: String| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let resp = http
                .post(format!("{url}/api/auth/signin"))
                .header("origin", &url)
                .json(&json!({"email": email, "password": "wrong password"}))
                .send()
                .await
                .unwrap();
            let retry = resp.headers().get("retry-after").cloned();
            let status = resp.status();
            let body: serde_json::Value = resp.json().await.unwrap();
            (
                status,
                body["error"]["code"].as_str().unwrap().to_owned(),
                retry,
            )
        }
    };
    // Warm up (the first sign-in computes the dummy hash) and measure the idle server.
    signin("warm@example.org".into()).await;
    let (_, idle) = memory_mib(pid);
    let mut rounds = Vec::new();
    for round in 0..3 {
        let flood = (0..64).map(|i| signin(format!("nobody{round}-{i}@example.org")));
        rounds.push(futures_join_all(flood).await);
    }
    let (peak, after) = memory_mib(pid);
    crate::cli::stop(&mut child);
    eprintln!("sign-in flood: idle {idle:.0} MiB, peak {peak:.0} MiB, after {after:.0} MiB");
    let all: Vec<_> = rounds.into_iter().flatten().collect();
    let refused = all
        .iter()
        .filter(|r| r.0 == StatusCode::UNAUTHORIZED)
        .count();
    let busy: Vec<_> = all
        .iter()
        .filter(|r| r.0 == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert_eq!(refused + busy.len(), all.len(), "only 401 or 503: {all:?}");
    assert!(refused > 0, "some attempts were checked");
    assert!(!busy.is_empty(), "a full hashing queue answers 503");
    for b in &busy {
        assert_eq!(b.1, "busy");
        assert_eq!(b.2.as_ref().unwrap(), "1", "503 says when to come back");
    }
    assert!(peak < 300.0, "peak RSS {peak:.0} MiB under the flood");
}

/// Runs futures concurrently and collects their outputs in order.
async fn futures_join_all<F>(futs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn sign_ins_in_flight_count_against_the_address_limit() {
    let app = TestApp::start_with(
        "[accounts]\nsignin_failures_per_ip = 5\nsignin_failures_per_account = 1000\n",
    )
    .await;
    let c = app.client();
    let attempts = (0..20).map(|i| {
        let c = c.clone();
        async move {
            c.post(
                "/api/auth/signin",
                json!({"email": format!("guess{i}@example.org"), "password": "guess guess"}),
            )
            .await
        }
    });
    let got = futures_join_all(attempts).await;
    let checked = got
        .iter()
        .filter(|r| r.0 == StatusCode::UNAUTHORIZED)
        .count();
    let limited = got
        .iter()
        .filter(|r| r.0 == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        (checked, limited),
        (5, 15),
        "20 at once from one address: only 5 are checked: {got:?}"
    );
}

#[tokio::test]
async fn sign_ups_are_limited_per_address() {
    let app = TestApp::start_with("[accounts]\nsignups_per_ip = 3\n").await;
    // Bad input does not use up an attempt.
    let c = app.client();
    let bad = c
        .post(
            "/api/auth/signup",
            json!({"email": "not an email", "name": "X", "password": "correct horse"}),
        )
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "invalid_email");
    // Six at once: three accounts, three refusals with Retry-After.
    let signups = (0..6).map(|i| {
        let c = app.client();
        async move {
            let resp = c
                .http
                .post(format!("{}/api/auth/signup", c.base))
                .json(&json!({"email": format!("bulk{i}@example.org"), "name": "Bulk", "password": "correct horse"}))
                .send()
                .await
                .unwrap();
            let retry = resp.headers().get("retry-after").is_some();
            let status = resp.status();
            let body: serde_json::Value = resp.json().await.unwrap();
            (status, body, retry)
        }
    });
    let got = futures_join_all(signups).await;
    let created = got.iter().filter(|r| r.0 == StatusCode::ACCEPTED).count();
    let limited: Vec<_> = got
        .iter()
        .filter(|r| r.0 == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!((created, limited.len()), (3, 3), "{got:?}");
    for l in limited {
        assert_eq!(l.1["error"]["code"], "too_many_signups");
        assert!(l.2, "429 carries Retry-After");
    }
    assert_eq!(app.metric("podium_users").await, 3.0);
}

#[tokio::test]
async fn direction_overrides_are_refused_in_names_and_titles() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let c = app.client();
    let got = c
        .post(
            "/api/auth/signup",
            json!({"email": "rlo@example.org", "name": "Ada \u{202E}nimdA", "password": "correct horse"}),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_name");
    // Right-to-left text itself is welcome.
    let got = c
        .post(
            "/api/auth/signup",
            json!({"email": "he@example.org", "name": "שלום עליכם", "password": "correct horse"}),
        )
        .await;
    assert_eq!(got.0, StatusCode::ACCEPTED, "{}", got.1);
    let got = admin
        .post(
            "/api/sessions",
            json!({"title": "Free \u{202E}sknird", "starts_at": "2099-01-01T10:00:00Z", "time_zone": "UTC"}),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_title");
}

#[tokio::test]
async fn behind_the_local_reverse_proxy_each_forwarded_client_has_its_own_limit() {
    let app = TestApp::start_with("[accounts]\nsignups_per_ip = 1\n").await;
    let signup = |email: &'static str, forwarded_for: &'static str| {
        let c = app.client();
        async move {
            c.http
                .post(format!("{}/api/auth/signup", c.base))
                .header("x-forwarded-for", forwarded_for)
                .json(&json!({"email": email, "name": "Via proxy", "password": "correct horse"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // The test talks from 127.0.0.1, a trusted proxy by default.
    assert_eq!(
        signup("a@example.org", "198.51.100.1").await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        signup("b@example.org", "6.6.6.6, 198.51.100.2").await,
        StatusCode::ACCEPTED,
        "a different client (what it claimed to the left does not count)"
    );
    assert_eq!(
        signup("c@example.org", "198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the first client again"
    );
}

/* ------------------------------------------------ account self-service */

/// A second browser signed in to `email`.
async fn second_browser(app: &TestApp, email: &str, password: &str) -> crate::support::Api {
    let c = app.client();
    let (s, b) = c
        .post(
            "/api/auth/signin",
            json!({"email": email, "password": password}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    c
}

#[tokio::test]
async fn change_password_keeps_this_browser_and_signs_out_the_others() {
    let app = TestApp::start().await;
    let here = app.member("pat@example.org", "Pat").await;
    let there = second_browser(&app, "pat@example.org", "correct horse").await;
    let path = "/api/me/password";

    // Bad input: nothing changes.
    assert_error(
        &here
            .post(
                path,
                json!({"current_password": "wrong horse", "new_password": "battery staple"}),
            )
            .await,
        StatusCode::FORBIDDEN,
        "wrong_password",
    );
    let weak = here
        .post(
            path,
            json!({"current_password": "correct horse", "new_password": "short"}),
        )
        .await;
    assert_error(&weak, StatusCode::BAD_REQUEST, "weak_password");
    assert_eq!(weak.1["error"]["field"], "new_password");
    assert_eq!(
        here.post(path, json!({"new_password": "battery staple"}))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_error(
        &app.client()
            .post(
                path,
                json!({"current_password": "correct horse", "new_password": "battery staple"}),
            )
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_eq!(there.get("/api/me").await.0, StatusCode::OK);

    let (s, b) = here
        .post(
            path,
            json!({"current_password": "correct horse", "new_password": "battery staple"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["email"], "pat@example.org");
    assert_eq!(
        here.get("/api/me").await.0,
        StatusCode::OK,
        "this browser stays"
    );
    assert_error(
        &there.get("/api/me").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_error(
        &app.client()
            .post(
                "/api/auth/signin",
                json!({"email": "pat@example.org", "password": "correct horse"}),
            )
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    second_browser(&app, "pat@example.org", "battery staple").await;
}

#[tokio::test]
async fn wrong_current_passwords_count_against_the_sign_in_limit() {
    let app = TestApp::start_with(
        "[accounts]\nsignin_failures_per_account = 3\nsignin_failures_per_ip = 100\n",
    )
    .await;
    let c = app.member("sam@example.org", "Sam").await;
    for _ in 0..3 {
        assert_error(
            &c.post(
                "/api/me/password",
                json!({"current_password": "guess guess", "new_password": "battery staple"}),
            )
            .await,
            StatusCode::FORBIDDEN,
            "wrong_password",
        );
    }
    // The account's limit is used up: even the right password waits, here
    // and at sign-in.
    assert_error(
        &c.post(
            "/api/me/password",
            json!({"current_password": "correct horse", "new_password": "battery staple"}),
        )
        .await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
    );
    assert_error(
        &app.client()
            .post(
                "/api/auth/signin",
                json!({"email": "sam@example.org", "password": "correct horse"}),
            )
            .await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
    );
}

fn reset_token(mail: &serde_json::Value) -> String {
    let text = mail["text"].as_str().unwrap();
    let at = text
        .find("/reset?token=")
        .expect("the mail has a reset link")
        + 13;
    text[at..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn password_reset_by_mail_once_and_within_the_hour() {
    let sink = SmtpSink::start();
    let (clock, c) = manual_clock("2026-12-06T10:00:00Z");
    let app = TestApp::start_with_clock(&sink.config(), c).await;
    let old_browser = app.member("ria@example.org", "Ria").await;
    let anon = app.client();

    // Known and unknown emails get the same answer; only the known one a mail.
    let known = anon
        .post("/api/auth/reset", json!({"email": " Ria@Example.org"}))
        .await;
    let unknown = anon
        .post("/api/auth/reset", json!({"email": "nobody@example.org"}))
        .await;
    assert_eq!(known, (StatusCode::ACCEPTED, json!({"sent": true})));
    assert_eq!(unknown, known, "no one learns who has an account");
    let mails = sink.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(sink.to("ria@example.org").len(), 1);
    let mail = &mails[0];
    assert!(
        mail["subject"]
            .as_str()
            .unwrap()
            .contains("Reset your password")
    );
    let link = mail["text"].as_str().unwrap();
    assert!(
        link.contains(&format!("{}/reset?token=", app.url)),
        "{link}"
    );
    let token = reset_token(mail);

    // Bad input: nothing changes.
    assert_error(
        &anon
            .post("/api/auth/reset", json!({"email": "not an email"}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_email",
    );
    let confirm = "/api/auth/reset/confirm";
    let weak = anon
        .post(confirm, json!({"token": token, "password": "short"}))
        .await;
    assert_error(&weak, StatusCode::BAD_REQUEST, "weak_password");
    assert_eq!(weak.1["error"]["field"], "password");
    let wrong = anon
        .post(
            confirm,
            json!({"token": "x".repeat(43), "password": "battery staple"}),
        )
        .await;
    assert_error(&wrong, StatusCode::BAD_REQUEST, "invalid_token");
    assert_eq!(
        anon.post(confirm, json!({"token": token})).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(old_browser.get("/api/me").await.0, StatusCode::OK);

    // The link works once: signed in here, signed out everywhere else.
    let fresh = app.client();
    let (s, b) = fresh
        .post(
            confirm,
            json!({"token": token, "password": "battery staple"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["email"], "ria@example.org");
    assert_eq!(fresh.get("/api/me").await.0, StatusCode::OK);
    assert_error(
        &old_browser.get("/api/me").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let reused = anon
        .post(confirm, json!({"token": token, "password": "another one"}))
        .await;
    assert_eq!(reused, wrong, "a used link answers like a wrong one");
    second_browser(&app, "ria@example.org", "battery staple").await;

    // A link older than an hour is dead and changes nothing.
    anon.post("/api/auth/reset", json!({"email": "ria@example.org"}))
        .await;
    let token = reset_token(&sink.wait_for(2).await[1]);
    clock.advance(jiff::SignedDuration::from_mins(61));
    let expired = anon
        .post(
            confirm,
            json!({"token": token, "password": "third password"}),
        )
        .await;
    assert_eq!(expired, wrong, "an expired link answers like a wrong one");
    second_browser(&app, "ria@example.org", "battery staple").await;
}

#[tokio::test]
async fn password_reset_requests_are_limited_per_address() {
    let app = TestApp::start_with("[accounts]\nsignups_per_ip = 2\n").await;
    let c = app.client();
    for _ in 0..2 {
        assert_eq!(
            c.post("/api/auth/reset", json!({"email": "x@example.org"}))
                .await
                .0,
            StatusCode::ACCEPTED
        );
    }
    assert_error(
        &c.post("/api/auth/reset", json!({"email": "x@example.org"}))
            .await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_resets",
    );
}

/// A live session where g1 ("Gus") is a guest who chatted, asked a question
/// and waits for a place in a second, full session. Returns the app's ids:
/// (live session, full session, admin, host, g1).
async fn member_with_history(
    app: &TestApp,
) -> (
    u64,
    u64,
    crate::support::Api,
    crate::support::Api,
    crate::support::Api,
) {
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(5);
    let (id, admin, host, _pres, g1, g2) = crate::live::session_with_people(app, start).await;
    let base = format!("/api/sessions/{id}/live");
    let (s, b) = host.post(&format!("{base}/start"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for c in [&host, &g1] {
        let (s, b) = c.post(&format!("{base}/join"), json!({})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, b) = g1
        .post(&format!("{base}/chat"), json!({"text": "Hello from Gus"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = g1
        .post(
            &format!("{base}/questions"),
            json!({"text": "What about async?"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, full) = admin
        .post(
            "/api/sessions",
            json!({"title": "Small circle", "starts_at": start.to_string(), "time_zone": "UTC",
                   "capacity": {"host": 1, "presenter": 0, "interviewer": 0, "guest": 1}}),
        )
        .await;
    let full = full["id"].as_u64().unwrap();
    admin
        .post(&format!("/api/sessions/{full}/publish"), json!({}))
        .await;
    let reg = |c: &crate::support::Api| {
        let c = c.clone();
        async move {
            c.post(
                &format!("/api/sessions/{full}/registrations"),
                json!({"role": "guest"}),
            )
            .await
        }
    };
    assert_eq!(reg(&g2).await.0, StatusCode::CREATED);
    assert_eq!(reg(&g1).await.0, StatusCode::ACCEPTED, "g1 waits");
    (id, full, admin, host, g1)
}

#[tokio::test]
async fn download_my_data_has_profile_registrations_waitlist_chat_and_questions() {
    let app = TestApp::start_with(crate::live::FAST).await;
    let (id, full, _admin, _host, g1) = member_with_history(&app).await;
    let resp = g1
        .http
        .get(format!("{}/api/me/export", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let disposition = resp.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let d: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(d["profile"]["email"], "g1@example.org");
    assert_eq!(d["profile"]["name"], "Gus");
    assert!(d["profile"].get("password_hash").is_none());
    let regs = d["registrations"].as_array().unwrap();
    assert_eq!(regs.len(), 1, "{d}");
    assert_eq!(regs[0]["session_id"], id);
    assert_eq!(regs[0]["session_title"], "Live test");
    assert_eq!(regs[0]["role"], "guest");
    assert_eq!(regs[0]["status"], "registered");
    let wait = d["waitlist"].as_array().unwrap();
    assert_eq!(wait.len(), 1, "{d}");
    assert_eq!(
        (&wait[0]["session_id"], &wait[0]["session_title"]),
        (&json!(full), &json!("Small circle"))
    );
    assert_eq!(d["chat_messages"][0]["text"], "Hello from Gus");
    assert_eq!(d["chat_messages"][0]["session_title"], "Live test");
    assert_eq!(d["questions"][0]["text"], "What about async?");
    assert_eq!(d["questions"][0]["votes"], 0);
    assert_error(
        &app.client().get("/api/me/export").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
}

#[tokio::test]
async fn delete_my_account_anonymises_and_keeps_counts() {
    let mut app = TestApp::start_with(crate::live::FAST).await;
    let (id, full, admin, _host, g1) = member_with_history(&app).await;
    let other_browser = second_browser(&app, "g1@example.org", "correct horse").await;
    let detail = |c: crate::support::Api, sid: u64| async move {
        c.get(&format!("/api/sessions/{sid}")).await.1
    };
    let before = detail(admin.clone(), id).await;
    let before_full = detail(admin.clone(), full).await;
    let delete = |c: &crate::support::Api, body: serde_json::Value| {
        let c = c.clone();
        async move { c.call(Method::DELETE, "/api/me", Some(body)).await }
    };

    // Bad input changes nothing.
    assert_error(
        &delete(&g1, json!({"password": "wrong horse"})).await,
        StatusCode::FORBIDDEN,
        "wrong_password",
    );
    assert_eq!(delete(&g1, json!({})).await.0, StatusCode::BAD_REQUEST);
    assert_error(
        &delete(&app.client(), json!({"password": "correct horse"})).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_eq!(g1.get("/api/me").await.1["user"]["name"], "Gus");
    assert_eq!(detail(admin.clone(), id).await, before);
    // The last admin cannot leave the community without an admin.
    assert_error(
        &delete(&admin, json!({"password": "correct horse"})).await,
        StatusCode::CONFLICT,
        "last_admin",
    );
    assert_eq!(admin.get("/api/me").await.0, StatusCode::OK);

    let (s, b) = delete(&g1, json!({"password": "correct horse"})).await;
    assert_eq!((s, &b), (StatusCode::OK, &json!({"deleted": true})));
    for c in [&g1, &other_browser] {
        assert_error(
            &c.get("/api/me").await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        );
    }
    assert_error(
        &app.client()
            .post(
                "/api/auth/signin",
                json!({"email": "g1@example.org", "password": "correct horse"}),
            )
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    // Counts stay; the name is gone from the roster.
    let after = detail(admin.clone(), id).await;
    assert_eq!(after["session"]["filled"], before["session"]["filled"]);
    assert_eq!(
        detail(admin.clone(), full).await["session"]["waiting"],
        before_full["session"]["waiting"]
    );
    let (_, list) = admin.get(&format!("/api/sessions/{id}/participants")).await;
    let names: Vec<&str> = list["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Deleted member"), "{names:?}");
    assert!(!names.contains(&"Gus"), "{names:?}");
    let (_, members) = admin.get("/api/members").await;
    assert!(
        !members.to_string().contains("Deleted member") && !members.to_string().contains("Gus"),
        "{members}"
    );
    // The running live room forgets them at once: out of the room, and
    // their chat and question carry the new name.
    let (_, live) = admin.get(&format!("/api/sessions/{id}/live")).await;
    assert_eq!(live["chat"][0]["name"], "Deleted member", "{live}");
    assert_eq!(
        live["questions"]["open"][0]["name"], "Deleted member",
        "{live}"
    );
    assert!(!live.to_string().contains("\"Gus\""), "{live}");
    // The email is free for a new account.
    app.member("g1@example.org", "Gus Again").await;

    // Stored chat and questions carry the new name (read after a restart,
    // when the live room is rebuilt from the store); the question is kept.
    app.restart().await;
    let admin = crate::support::Api {
        base: app.url.clone(),
        ..admin
    };
    let (s, live) = admin.get(&format!("/api/sessions/{id}/live")).await;
    assert_eq!(s, StatusCode::OK, "{live}");
    let text = live.to_string();
    assert!(!text.contains("\"Gus\""), "{text}");
    assert_eq!(live["chat"][0]["name"], "Deleted member", "{live}");
    assert_eq!(live["chat"][0]["text"], "Hello from Gus");
    assert_eq!(
        live["questions"]["open"][0]["name"], "Deleted member",
        "{live}"
    );
}
