//! The HTTP surface: health, metrics, security headers, assets with ETag and
//! gzip, error shapes, unknown routes and methods, graceful shutdown.

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{TestApp, assert_error};

#[tokio::test]
async fn health_metrics_and_security_headers() {
    let app = TestApp::start().await;
    let r = reqwest::get(format!("{}/healthz", app.url)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    // WebAssembly may compile (the video background's segmentation), but
    // neither eval nor inline scripts run.
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'"),
        "{csp}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");

    let r = reqwest::get(format!("{}/metrics", app.url)).await.unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text; version=1.0.0")
    );
    let text = r.text().await.unwrap();
    for name in [
        "podium_http_responses_total{class=\"2xx\"}",
        "podium_uptime_seconds",
        "podium_users 0",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
    // Every line is a comment or `name{labels} value`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = line.rsplit_once(' ').unwrap();
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("bad sample line {line}"));
    }
}

#[tokio::test]
async fn pages_and_assets_are_served_from_the_binary() {
    let app = TestApp::start().await;
    let http = crate::support::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for page in ["/", "/signin", "/signup", "/setup"] {
        let r = http.get(format!("{}{page}", app.url)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{page}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let body = r.text().await.unwrap();
        assert!(
            body.contains("<script type=\"module\" src=\"/app.js\""),
            "{page}: {body}"
        );
        assert!(!body.contains("<script>"), "no inline script");
    }
    let r = http
        .get(format!("{}/profile", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "profile needs a sign-in");

    let r = http
        .get(format!("{}/app.js", app.url))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() > 10);
    let css = http
        .get(format!("{}/style.css", app.url))
        .send()
        .await
        .unwrap();
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(
        css.headers().get("content-encoding").is_none(),
        "no gzip unless asked"
    );
    let again = http
        .get(format!("{}/app.js", app.url))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    let r = http
        .get(format!("{}/no/such/page", app.url))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        r.text().await.unwrap().contains("/app.js"),
        "the client renders a not-found page"
    );
}

#[tokio::test]
async fn api_errors_have_one_shape() {
    let app = TestApp::start().await;
    let c = app.client();
    assert_error(
        &c.get("/api/nope").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (s, body) = c.get("/api/auth/signup").await;
    assert_error(
        &(s, body),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    let r = c
        .http
        .put(format!("{}/api/me", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "GET, DELETE, PATCH");
    let r = c.http.post(format!("{}/", app.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}

/// A request whose body is still arriving when shutdown starts gets its answer.
#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let mut app = TestApp::start().await;
    let addr = app.server().http_addr;
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = br#"{"email":"late@example.org","name":"Late","password":"correct horse"}"#;
    let head = format!(
        "POST /api/auth/signup HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&body[..10]).await.unwrap();
    // The server has the request's head (it answers nothing yet); now stop it.
    let stopping = tokio::spawn(async move {
        app.stop().await;
        app
    });
    // Wait until the listener is closed: shutdown has begun.
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    sock.write_all(&body[10..]).await.unwrap();
    let mut resp = String::new();
    sock.read_to_string(&mut resp).await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 202"), "{resp}");
    let mut app = stopping.await.unwrap();
    app.restart().await;
    let c = app.client();
    let (s, _) = c
        .post(
            "/api/auth/signin",
            serde_json::json!({"email": "late@example.org", "password": "correct horse"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "the in-flight sign-up was committed");
}
