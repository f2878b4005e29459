//! Account self-service in headless Chromium: change password, the confirm
//! step of "delete account", "forgot password?" through the mailed link, and
//! deleting the account. Screenshots land in target/screenshots/.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::TestApp;
use crate::support::browser::Browser;
use crate::support::smtp::SmtpSink;

#[tokio::test]
async fn change_password_reset_by_mail_and_delete_in_a_real_browser() {
    let _turn = crate::support::browser::exclusive().await;
    let sink = SmtpSink::start();
    let app = TestApp::start_with(&sink.config()).await;
    app.member("kim@example.org", "Kim Lee").await;
    let b = Browser::launch().await;
    b.sign_in(&app.url, "kim@example.org").await;
    b.screenshot("profile-account").await;

    // Change password: a wrong current password is explained, then it works.
    b.fill("password-form", "current_password", "wrong horse")
        .await;
    b.fill("password-form", "new_password", "battery staple")
        .await;
    b.submit("password-form").await;
    wait_text(&b, "#password-form-error", "current password").await;
    b.screenshot("profile-password-wrong").await;
    b.fill("password-form", "current_password", "correct horse")
        .await;
    b.submit("password-form").await;
    wait_text(&b, "#password-form-status", "Password changed").await;
    b.screenshot("profile-password-changed").await;

    // The delete step asks for the password first.
    b.click("#delete-start").await;
    b.fill("delete-form", "password", "wrong horse").await;
    b.submit("delete-form").await;
    wait_text(&b, "#delete-form-error", "current password").await;
    b.screenshot("profile-delete-confirm").await;

    // Forgot password: from the sign-in page, through the mailed link.
    b.client.delete_all_cookies().await.unwrap();
    b.open(&format!("{}/signin", app.url), "signin").await;
    b.screenshot("signin-forgot").await;
    b.click("#forgot-link").await;
    b.wait_page("reset").await;
    b.screenshot("reset-request").await;
    b.fill("reset-request-form", "email", "kim@example.org")
        .await;
    b.submit("reset-request-form").await;
    wait_text(&b, "#reset-sent", "kim@example.org").await;
    b.screenshot("reset-sent").await;
    let mail = &sink.wait_for(1).await[0];
    let text = mail["text"].as_str().unwrap();
    let link = text
        .lines()
        .find(|l| l.contains("/reset?token="))
        .expect("the mail has the link")
        .trim()
        .to_owned();
    b.open(&link, "reset").await;
    b.screenshot("reset-confirm").await;
    b.fill("reset-confirm-form", "password", "third password")
        .await;
    b.submit("reset-confirm-form").await;
    b.wait_page("profile").await;
    assert!(b.text("header").await.contains("Kim Lee"));

    // Delete the account: back on the home page, signed out for good.
    b.click("#delete-start").await;
    b.fill("delete-form", "password", "third password").await;
    b.submit("delete-form").await;
    b.wait_page("home").await;
    b.screenshot("deleted-home").await;
    let (s, _) = app
        .client()
        .post(
            "/api/auth/signin",
            json!({"email": "kim@example.org", "password": "third password"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    b.close().await;
}

/// Waits until the element's text contains `want` (the page answers after
/// the server did).
async fn wait_text(b: &Browser, css: &str, want: &str) {
    b.wait_js(
        &format!("document.querySelector({css:?})?.textContent || ''"),
        10,
        |v| v.as_str().unwrap_or("").contains(want),
    )
    .await;
}

#[tokio::test]
async fn account_pages_fit_a_phone_screen() {
    let _turn = crate::support::browser::exclusive().await;
    let app = TestApp::start().await;
    app.member("mo@example.org", "Mo Phone").await;
    let b = Browser::launch_sized(390, 844).await;
    let no_overflow = || async {
        let wide = b
            .eval("document.documentElement.scrollWidth > window.innerWidth")
            .await;
        assert_eq!(wide, json!(false), "no horizontal scrolling on a phone");
    };
    b.sign_in(&app.url, "mo@example.org").await;
    b.click("#delete-start").await;
    b.eval("document.getElementById('delete-form').scrollIntoView()")
        .await;
    b.screenshot("profile-delete-mobile").await;
    no_overflow().await;
    b.client.delete_all_cookies().await.unwrap();
    b.open(&format!("{}/reset", app.url), "reset").await;
    b.screenshot("reset-mobile").await;
    no_overflow().await;
    b.open(&format!("{}/reset?token=abc", app.url), "reset")
        .await;
    b.fill("reset-confirm-form", "password", "long enough")
        .await;
    b.submit("reset-confirm-form").await;
    wait_text(&b, "#form-error", "not valid").await;
    b.screenshot("reset-invalid-mobile").await;
    no_overflow().await;
    // The confirmation link's page, and a dead invitation on the sign-up page.
    b.open(&format!("{}/verify?token=abc", app.url), "verify")
        .await;
    b.submit("verify-form").await;
    wait_text(&b, "#form-error", "not valid").await;
    b.screenshot("verify-invalid-mobile").await;
    no_overflow().await;
    b.open(&format!("{}/signup?invitation=abc", app.url), "signup")
        .await;
    wait_text(&b, "#invitation-error", "not valid").await;
    b.screenshot("signup-bad-invitation-mobile").await;
    no_overflow().await;
    b.close().await;
}

/// An invite-only community: the admin invites from the Invitations tab,
/// the sign-up page without an invitation says it is invite-only, and the
/// mailed link opens sign-up with the address filled in and signs the new
/// member in.
#[tokio::test]
async fn invitation_to_sign_up_in_a_real_browser() {
    let _turn = crate::support::browser::exclusive().await;
    let sink = SmtpSink::start();
    let app = TestApp::start_with(&format!(
        "{}[accounts]\nopen_signup = false\n",
        sink.config()
    ))
    .await;
    let _admin = app.admin().await;
    let b = Browser::launch().await;
    b.sign_in(&app.url, "admin@example.org").await;
    b.open(&format!("{}/admin?tab=invitations", app.url), "admin")
        .await;
    wait_text(&b, "#invitations-list", "No open invitations").await;
    b.fill("invite-form", "email", "not an email").await;
    b.submit("invite-form").await;
    wait_text(&b, "#invite-form-error", "email").await;
    b.fill("invite-form", "email", "Ines@Example.org").await;
    b.submit("invite-form").await;
    wait_text(
        &b,
        "#invite-form-status",
        "Invitation sent to ines@example.org",
    )
    .await;
    wait_text(&b, "#invitations-table", "ines@example.org").await;
    b.screenshot("admin-invitations").await;

    // Signed out, without an invitation: invite-only.
    b.client.delete_all_cookies().await.unwrap();
    b.open(&format!("{}/signup", app.url), "signup").await;
    wait_text(&b, "main", "invite-only").await;
    assert!(
        b.eval("document.getElementById('signup-form') === null")
            .await
            .as_bool()
            .unwrap(),
        "no sign-up form without an invitation"
    );
    b.screenshot("signup-invite-only").await;

    // The mailed link: the address is filled in and fixed.
    let mail = &sink.wait_for(1).await[0];
    let link = mail["text"]
        .as_str()
        .unwrap()
        .lines()
        .find(|l| l.contains("/signup?invitation="))
        .expect("the mail has the link")
        .trim()
        .to_owned();
    b.open(&link, "signup").await;
    wait_text(&b, "#signup-title", "invited").await;
    let email = b
        .eval("document.querySelector('#signup-form [name=email]').value")
        .await;
    assert_eq!(email, json!("ines@example.org"));
    b.fill("signup-form", "name", "Ines Invited").await;
    b.fill("signup-form", "password", "correct horse").await;
    b.screenshot("signup-invited").await;
    b.submit("signup-form").await;
    b.wait_page("profile").await;
    assert!(b.text("header").await.contains("Ines Invited"));
    b.screenshot("signup-invited-profile").await;

    // The link is spent: opening it again says so.
    b.client.delete_all_cookies().await.unwrap();
    b.open(&link, "signup").await;
    wait_text(&b, "#invitation-error", "not valid").await;
    b.screenshot("signup-invitation-used").await;

    // The admin's user list marks a deleted account (and one whose address
    // is not confirmed: an invitation confirmed Ines's).
    let gone = app.client();
    let (s, _) = gone
        .post(
            "/api/admin/invitations",
            json!({"email": "gone@example.org"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    b.sign_in(&app.url, "admin@example.org").await;
    b.open(&format!("{}/admin?tab=invitations", app.url), "admin")
        .await;
    b.fill("invite-form", "email", "gone@example.org").await;
    b.submit("invite-form").await;
    wait_text(&b, "#invitations-table", "gone@example.org").await;
    let token = sink.wait_for(2).await[1]["text"]
        .as_str()
        .unwrap()
        .split("/signup?invitation=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let (s, _) = gone
        .post(
            "/api/auth/signup",
            json!({"email": "gone@example.org", "name": "Gone Soon", "password": "correct horse", "invitation": token}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = gone
        .call(
            reqwest::Method::DELETE,
            "/api/me",
            Some(json!({"password": "correct horse"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    b.open(&format!("{}/admin", app.url), "admin").await;
    wait_text(&b, "#users-table", "Deleted").await;
    b.screenshot("admin-users-deleted").await;
    b.close().await;
}

/// With `verify_email`, sign-up shows "check your mail"; the link's page
/// confirms with one click; an unconfirmed member sees why they cannot
/// register and can ask for the link again.
#[tokio::test]
async fn confirm_email_pages_in_a_real_browser() {
    let _turn = crate::support::browser::exclusive().await;
    let sink = SmtpSink::start();
    let app = TestApp::start_with(&format!(
        "{}[accounts]\nverify_email = true\n",
        sink.config()
    ))
    .await;
    let admin = app.admin().await;
    let (s, created) = admin
        .post(
            "/api/sessions",
            json!({"title": "Confirmed people only", "starts_at": "2099-03-01T10:00:00Z", "time_zone": "UTC"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_u64().unwrap();
    admin
        .post(&format!("/api/sessions/{id}/publish"), json!({}))
        .await;

    let b = Browser::launch().await;
    b.open(&format!("{}/signup", app.url), "signup").await;
    b.fill("signup-form", "name", "Uma Unconfirmed").await;
    b.fill("signup-form", "email", "uma@example.org").await;
    b.fill("signup-form", "password", "correct horse").await;
    b.submit("signup-form").await;
    wait_text(&b, "#signup-check-mail", "uma@example.org").await;
    b.screenshot("signup-check-mail").await;

    // Signed in with the password before confirming: the session page
    // explains and offers the link again.
    b.sign_in(&app.url, "uma@example.org").await;
    wait_text(&b, "#confirm-email", "Confirm your email").await;
    b.screenshot("profile-unconfirmed").await;
    b.open(&format!("{}/sessions/{id}", app.url), "session")
        .await;
    wait_text(&b, "#confirm-email", "Confirm your email").await;
    b.click("#confirm-email-resend").await;
    wait_text(&b, "#confirm-email-status", "Sent").await;
    b.screenshot("session-unconfirmed").await;

    // The mailed link: one click confirms; then registering is offered.
    let mail = sink.wait_for(2).await.pop().unwrap();
    let link = mail["text"]
        .as_str()
        .unwrap()
        .lines()
        .find(|l| l.contains("/verify?token="))
        .expect("the mail has the link")
        .trim()
        .to_owned();
    b.open(&link, "verify").await;
    b.screenshot("verify-page").await;
    b.submit("verify-form").await;
    b.wait_page("profile").await;
    wait_text(&b, "#email-confirmed", "confirmed").await;
    b.screenshot("profile-confirmed").await;
    b.open(&format!("{}/sessions/{id}", app.url), "session")
        .await;
    b.text("#register-form").await;
    b.close().await;
}
