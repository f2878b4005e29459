//! How people join: sign-up that answers alike for new and taken emails
//! (and mails the owner), email confirmation (`[accounts] verify_email`)
//! with its link, resend limit and the registration gate, and invite-only
//! communities (`[accounts] open_signup = false`) with admin invitations.
//! Real SMTP sink, real server, real redb.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::smtp::SmtpSink;
use crate::support::{Api, TestApp, assert_error, manual_clock};

/// The token of the first link in a mail's text that contains `marker`
/// (e.g. "/verify?token=").
fn link_token(mail: &Value, marker: &str) -> String {
    let text = mail["text"].as_str().unwrap();
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {text}"));
    text[at + marker.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Waits until `email` has `n` mails and returns the last.
async fn nth_mail_to(sink: &SmtpSink, email: &str, n: usize) -> Value {
    for _ in 0..400 {
        let got = sink.to(email);
        if got.len() >= n {
            return got[n - 1].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{email} did not get {n} mails: {:?}", sink.to(email));
}

async fn signup(c: &Api, email: &str, password: &str) -> reqwest::Response {
    c.http
        .post(format!("{}/api/auth/signup", c.base))
        .json(&json!({"email": email, "name": "Someone New", "password": password}))
        .send()
        .await
        .unwrap()
}

async fn signin(c: &Api, email: &str, password: &str) -> (StatusCode, Value) {
    c.post(
        "/api/auth/signin",
        json!({"email": email, "password": password}),
    )
    .await
}

/// A published session with guest places, by the admin.
async fn session(admin: &Api) -> u64 {
    let (s, created) = admin
        .post(
            "/api/sessions",
            json!({"title": "Confirmed people only", "starts_at": "2099-03-01T10:00:00Z", "time_zone": "UTC"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_u64().unwrap();
    let (s, body) = admin
        .post(&format!("/api/sessions/{id}/publish"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    id
}

/* ------------------------------------------------ sign-up, taken emails */

#[tokio::test]
async fn sign_up_with_a_taken_email_answers_like_a_new_one_and_mails_the_owner() {
    let sink = SmtpSink::start();
    let app = TestApp::start_with(&sink.config()).await;
    app.member("owner@example.org", "Owner").await;

    let new = signup(&app.client(), "fresh@example.org", "another horse").await;
    let taken = signup(&app.client(), "Owner@Example.org", "another horse").await;
    assert_eq!(new.status(), StatusCode::ACCEPTED);
    assert_eq!(taken.status(), new.status(), "same status");
    for r in [&new, &taken] {
        assert!(
            r.headers().get("set-cookie").is_none(),
            "no one is signed in"
        );
    }
    let names = |r: &reqwest::Response| {
        let mut h: Vec<String> = r
            .headers()
            .keys()
            .filter(|k| *k != "date")
            .map(|k| k.to_string())
            .collect();
        h.sort();
        h
    };
    assert_eq!(names(&new), names(&taken), "same headers");
    let (new, taken) = (new.text().await.unwrap(), taken.text().await.unwrap());
    assert_eq!(new, taken, "same body");
    assert_eq!(new, r#"{"check_mail":true}"#);

    // The owner's account did not change; they got one mail saying what
    // happened and what to do.
    assert_eq!(
        signin(&app.client(), "owner@example.org", "correct horse")
            .await
            .0,
        StatusCode::OK
    );
    assert_error(
        &signin(&app.client(), "owner@example.org", "another horse").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    let mail = nth_mail_to(&sink, "owner@example.org", 1).await;
    assert!(
        mail["subject"]
            .as_str()
            .unwrap()
            .contains("Someone tried to sign up"),
        "{mail}"
    );
    let text = mail["text"].as_str().unwrap();
    assert!(
        text.contains("sign in instead") && text.contains("Forgot password"),
        "{text}"
    );
    assert!(
        !text.contains("another horse"),
        "the typed password is in no mail"
    );
    // The new account exists and signs in with its password.
    assert_eq!(
        signin(&app.client(), "fresh@example.org", "another horse")
            .await
            .0,
        StatusCode::OK
    );
    assert!(
        sink.to("fresh@example.org").is_empty(),
        "without verify_email a new account gets no mail"
    );

    // Again within the hour: the same answer, but the owner's inbox is
    // not flooded.
    let again = signup(&app.client(), "owner@example.org", "third horse").await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    // Mails go out in order: once a later one arrived, an owner mail
    // queued before it would have too.
    let (s, _) = app
        .client()
        .post("/api/auth/reset", json!({"email": "fresh@example.org"}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    nth_mail_to(&sink, "fresh@example.org", 1).await;
    assert_eq!(sink.to("owner@example.org").len(), 1, "one mail an hour");
    assert_eq!(app.metric("podium_users").await, 2.0);
}

/* ------------------------------------------------------ verify_email */

#[tokio::test]
async fn with_verify_email_the_link_confirms_once_and_registration_waits_for_it() {
    let sink = SmtpSink::start();
    let app = TestApp::start_with(&format!(
        "{}[accounts]\nverify_email = true\n",
        sink.config()
    ))
    .await;
    let admin = app.admin().await;
    let id = session(&admin).await;

    let c = app.client();
    assert_eq!(
        signup(&c, "nia@example.org", "correct horse")
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let mail = nth_mail_to(&sink, "nia@example.org", 1).await;
    assert!(
        mail["subject"]
            .as_str()
            .unwrap()
            .starts_with("Confirm your email"),
        "{mail}"
    );
    let token = link_token(&mail, "/verify?token=");

    // Signed in with the password but unconfirmed: the views say so and
    // registering is refused with a clear code.
    assert_eq!(
        signin(&c, "nia@example.org", "correct horse").await.0,
        StatusCode::OK
    );
    let (_, me) = c.get("/api/me").await;
    assert_eq!(me["user"]["email_verified"], false);
    assert_eq!(me["user"]["must_verify_email"], true);
    let (_, d) = c.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(d["can"]["register"]["guest"]["allowed"], false, "{d}");
    assert_eq!(d["can"]["register"]["guest"]["code"], "email_unverified");
    let refused = c
        .post(
            &format!("/api/sessions/{id}/registrations"),
            json!({"role": "guest"}),
        )
        .await;
    assert_error(&refused, StatusCode::FORBIDDEN, "email_unverified");
    let (_, d) = admin.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(d["session"]["filled"]["guest"], 0, "nothing registered");

    // Bad tokens: one answer, nothing changes.
    let stranger = app.client();
    for bad in [
        json!({"token": "garbage"}),
        json!({"token": ""}),
        json!({"token": "x".repeat(500)}),
    ] {
        assert_error(
            &stranger.post("/api/auth/verify", bad).await,
            StatusCode::BAD_REQUEST,
            "invalid_token",
        );
    }
    assert_error(
        &stranger
            .post("/api/auth/verify", json!({"tok": token}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );

    // The link confirms and signs this browser in.
    let (s, body) = stranger
        .post("/api/auth/verify", json!({"token": token}))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email"], "nia@example.org");
    assert_eq!(body["user"]["email_verified"], true);
    assert_eq!(body["user"]["must_verify_email"], false);
    assert_eq!(stranger.get("/api/me").await.0, StatusCode::OK);
    // Once only.
    assert_error(
        &app.client()
            .post("/api/auth/verify", json!({"token": token}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_token",
    );
    // Now registering works (the first browser too: it reads the account anew).
    let (_, d) = c.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(d["can"]["register"]["guest"]["allowed"], true, "{d}");
    let (s, body) = c
        .post(
            &format!("/api/sessions/{id}/registrations"),
            json!({"role": "guest"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    // Confirmed already: no new link.
    assert_error(
        &c.post("/api/me/verify", json!({})).await,
        StatusCode::CONFLICT,
        "already_verified",
    );
    // The admin (made through the setup link) was never asked to confirm.
    let (_, me) = admin.get("/api/me").await;
    assert_eq!(me["user"]["email_verified"], true);
}

#[tokio::test]
async fn confirmation_links_expire_and_resending_is_limited() {
    let sink = SmtpSink::start();
    let (clock, dyn_clock) = manual_clock("2026-12-06T10:00:00Z");
    let app = TestApp::start_with_clock(
        &format!("{}[accounts]\nverify_email = true\n", sink.config()),
        dyn_clock,
    )
    .await;
    let c = app.client();
    assert_eq!(
        signup(&c, "late@example.org", "correct horse")
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let first = link_token(
        &nth_mail_to(&sink, "late@example.org", 1).await,
        "/verify?token=",
    );
    assert_eq!(
        signin(&c, "late@example.org", "correct horse").await.0,
        StatusCode::OK
    );
    // A day and a bit later the link is dead.
    clock.advance(jiff::SignedDuration::from_hours(25));
    assert_error(
        &app.client()
            .post("/api/auth/verify", json!({"token": first}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_token",
    );
    // "Send the link again": three an hour, then 429 with Retry-After.
    for n in 1..=3 {
        let (s, body) = c.post("/api/me/verify", json!({})).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{body}");
        nth_mail_to(&sink, "late@example.org", 1 + n).await;
    }
    let resp = c
        .http
        .post(format!("{}/api/me/verify", c.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().get("retry-after").is_some());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_mails");
    // Not signed in: 401.
    assert_error(
        &app.client().post("/api/me/verify", json!({})).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    // Any of the fresh links works; using one ends the others.
    let second = link_token(
        &nth_mail_to(&sink, "late@example.org", 2).await,
        "/verify?token=",
    );
    let third = link_token(
        &nth_mail_to(&sink, "late@example.org", 3).await,
        "/verify?token=",
    );
    let (s, _) = app
        .client()
        .post("/api/auth/verify", json!({"token": third}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_error(
        &app.client()
            .post("/api/auth/verify", json!({"token": second}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_token",
    );
    let (_, me) = c.get("/api/me").await;
    assert_eq!(me["user"]["email_verified"], true);
}

/* ------------------------------------------------------ invite-only */

#[tokio::test]
async fn invite_only_sign_up_needs_a_live_invitation_for_that_email() {
    let sink = SmtpSink::start();
    let app = TestApp::start_with(&format!(
        "{}[accounts]\nopen_signup = false\n",
        sink.config()
    ))
    .await;
    let admin = app.admin().await;

    // Without an invitation: refused, nothing written.
    let c = app.client();
    let got = c
        .post(
            "/api/auth/signup",
            json!({"email": "walkin@example.org", "name": "Walk In", "password": "correct horse"}),
        )
        .await;
    assert_error(&got, StatusCode::FORBIDDEN, "signup_closed");
    assert!(
        got.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invite-only")
    );
    let (_, config) = c.get("/api/config").await;
    assert_eq!(config["signup"]["open"], false);
    assert_eq!(app.metric("podium_users").await, 1.0);

    // The admin invites; bad input is refused.
    assert_error(
        &admin
            .post("/api/admin/invitations", json!({"email": "not an email"}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_email",
    );
    assert_error(
        &admin
            .post(
                "/api/admin/invitations",
                json!({"email": "admin@example.org"}),
            )
            .await,
        StatusCode::CONFLICT,
        "already_member",
    );
    assert_error(
        &admin
            .post("/api/admin/invitations", json!({"mail": "x@example.org"}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    let (s, body) = admin
        .post(
            "/api/admin/invitations",
            json!({"email": "Ivy@Example.org"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["invitation"]["email"], "ivy@example.org");
    let mail = nth_mail_to(&sink, "ivy@example.org", 1).await;
    assert!(
        mail["subject"].as_str().unwrap().contains("invited"),
        "{mail}"
    );
    assert!(
        mail["text"]
            .as_str()
            .unwrap()
            .contains("Ada Admin invites you"),
        "{mail}"
    );
    let token = link_token(&mail, "/signup?invitation=");
    let (_, list) = admin.get("/api/admin/invitations").await;
    assert_eq!(list["invitations"].as_array().unwrap().len(), 1);

    // The link tells the page the address; a dead token is one answer.
    let (s, body) = c
        .post("/api/auth/invitation", json!({"token": token}))
        .await;
    assert_eq!(
        (s, body["email"].as_str()),
        (StatusCode::OK, Some("ivy@example.org"))
    );
    assert_error(
        &c.post("/api/auth/invitation", json!({"token": "garbage"}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_invitation",
    );
    assert_error(
        &c.post("/api/auth/invitation", json!({"token": 5})).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    for (invitation, code) in [
        (json!(""), "invalid_invitation"),
        (json!(["x"]), "invalid_json"),
    ] {
        let body = json!({"email": "ivy@example.org", "name": "Ivy", "password": "correct horse", "invitation": invitation});
        assert_error(
            &c.post("/api/auth/signup", body).await,
            StatusCode::BAD_REQUEST,
            code,
        );
    }
    let with = |email: &str, token: &str| json!({"email": email, "name": "Ivy Invited", "password": "correct horse", "invitation": token});
    assert_error(
        &c.post("/api/auth/signup", with("ivy@example.org", "garbage"))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_invitation",
    );
    // Another address with Ivy's invitation: refused.
    assert_error(
        &c.post("/api/auth/signup", with("other@example.org", &token))
            .await,
        StatusCode::BAD_REQUEST,
        "invitation_mismatch",
    );
    assert_eq!(app.metric("podium_users").await, 1.0);

    // Used: the account exists, its address confirmed, this browser signed in.
    let (s, body) = c
        .post("/api/auth/signup", with("IVY@example.org", &token))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["user"]["email_verified"], true);
    assert_eq!(c.get("/api/me").await.1["user"]["name"], "Ivy Invited");
    // Used twice: refused.
    assert_error(
        &app.client()
            .post("/api/auth/signup", with("ivy@example.org", &token))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_invitation",
    );
    let (_, list) = admin.get("/api/admin/invitations").await;
    assert_eq!(list["invitations"], json!([]), "a used invitation is gone");
    assert_eq!(app.metric("podium_users").await, 2.0);
}

#[tokio::test]
async fn revoked_and_expired_invitations_do_not_work_and_only_admins_invite() {
    let sink = SmtpSink::start();
    let (clock, dyn_clock) = manual_clock("2026-12-06T10:00:00Z");
    let app = TestApp::start_with_clock(
        &format!("{}[accounts]\nopen_signup = false\n", sink.config()),
        dyn_clock,
    )
    .await;
    let admin = app.admin().await;

    // Members and strangers cannot invite or see invitations.
    let (s, body) = admin
        .post(
            "/api/admin/invitations",
            json!({"email": "member@example.org"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let member_token = link_token(
        &nth_mail_to(&sink, "member@example.org", 1).await,
        "/signup?invitation=",
    );
    let member = app.client();
    let (s, _) = member
        .post(
            "/api/auth/signup",
            json!({"email": "member@example.org", "name": "Member", "password": "correct horse", "invitation": member_token}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let stranger = app.client();
    for (c, status, code) in [
        (&member, StatusCode::FORBIDDEN, "forbidden"),
        (&stranger, StatusCode::UNAUTHORIZED, "unauthenticated"),
    ] {
        assert_error(
            &c.post(
                "/api/admin/invitations",
                json!({"email": "friend@example.org"}),
            )
            .await,
            status,
            code,
        );
        assert_error(&c.get("/api/admin/invitations").await, status, code);
        assert_error(
            &c.call(reqwest::Method::DELETE, "/api/admin/invitations/1", None)
                .await,
            status,
            code,
        );
    }
    assert!(sink.to("friend@example.org").is_empty());

    // Revoked: the link stops working; revoking again is 404.
    let (_, body) = admin
        .post(
            "/api/admin/invitations",
            json!({"email": "rex@example.org"}),
        )
        .await;
    let rex_id = body["invitation"]["id"].as_u64().unwrap();
    let rex = link_token(
        &nth_mail_to(&sink, "rex@example.org", 1).await,
        "/signup?invitation=",
    );
    let (s, _) = admin
        .call(
            reqwest::Method::DELETE,
            &format!("/api/admin/invitations/{rex_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_error(
        &admin
            .call(
                reqwest::Method::DELETE,
                &format!("/api/admin/invitations/{rex_id}"),
                None,
            )
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let signup_with = |email: &str, token: &str| json!({"email": email, "name": "Late", "password": "correct horse", "invitation": token});
    assert_error(
        &app.client()
            .post("/api/auth/signup", signup_with("rex@example.org", &rex))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_invitation",
    );

    // Expired after 7 days.
    let (_, _) = admin
        .post(
            "/api/admin/invitations",
            json!({"email": "slow@example.org"}),
        )
        .await;
    let slow = link_token(
        &nth_mail_to(&sink, "slow@example.org", 1).await,
        "/signup?invitation=",
    );
    clock.advance(jiff::SignedDuration::from_hours(7 * 24 + 1));
    assert_error(
        &app.client()
            .post("/api/auth/invitation", json!({"token": slow}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_invitation",
    );
    assert_error(
        &app.client()
            .post("/api/auth/signup", signup_with("slow@example.org", &slow))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_invitation",
    );
    let (_, list) = admin.get("/api/admin/invitations").await;
    assert_eq!(
        list["invitations"],
        json!([]),
        "expired ones are not listed"
    );
    assert_eq!(app.metric("podium_users").await, 2.0);
}

/* ------------------------------------------------------ admin list */

#[tokio::test]
async fn the_admin_user_list_marks_deleted_and_unconfirmed_accounts() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let gone = app.member("gone@example.org", "Gone Soon").await;
    app.member("stay@example.org", "Stays").await;
    let (s, _) = gone
        .call(
            reqwest::Method::DELETE,
            "/api/me",
            Some(json!({"password": "correct horse"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, body) = admin.get("/api/admin/users").await;
    let users = body["users"].as_array().unwrap();
    let by_name = |n: &str| users.iter().find(|u| u["name"] == n).unwrap().clone();
    assert_eq!(by_name("Deleted member")["deleted"], true);
    assert_eq!(by_name("Stays")["deleted"], false);
    assert_eq!(by_name("Stays")["email_verified"], false);
    assert_eq!(by_name("Ada Admin")["email_verified"], true);
}
