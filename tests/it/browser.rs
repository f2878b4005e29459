//! End to end in headless Chromium: the first admin through the setup link,
//! a member signing up through the real page, profile editing, sign in.
//! Screenshots land in target/screenshots/.

use crate::support::TestApp;
use crate::support::browser::Browser;

#[tokio::test]
async fn sign_up_sign_in_and_profile_in_a_real_browser() {
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
