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
    b.close().await;
}
