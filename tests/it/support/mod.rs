//! Test helpers: start the real server in-process on port 0 with a temp data
//! dir, talk to it with an HTTP client that keeps cookies and sends Origin.

#![allow(dead_code)]

pub mod browser;
pub mod pdf;
pub mod smtp;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use podium::app::{self, Server};
use podium::clock::{Clock, ManualClock, SystemClock};
use podium::config::Config;
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

pub struct TestApp {
    server: Option<Server>,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub config_text: String,
    pub clock: Arc<dyn Clock>,
}

impl TestApp {
    /// A fresh server with default settings.
    pub async fn start() -> Self {
        Self::start_with("").await
    }

    /// A fresh server with extra TOML settings (the data dir and addresses are set here).
    pub async fn start_with(extra_toml: &str) -> Self {
        Self::start_with_clock(extra_toml, Arc::new(SystemClock)).await
    }

    pub async fn start_with_clock(extra_toml: &str, clock: Arc<dyn Clock>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, extra_toml, clock).await
    }

    /// A server whose data dir is `dir` (e.g. a small tmpfs the test mounted).
    pub async fn start_in(dir: tempfile::TempDir, extra_toml: &str, clock: Arc<dyn Clock>) -> Self {
        let config_text = extra_toml.to_owned();
        let server = launch(dir.path(), &config_text, clock.clone()).await;
        TestApp {
            url: server.base_url.clone(),
            server: Some(server),
            dir,
            config_text,
            clock,
        }
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().expect("server is running")
    }

    pub fn setup_url(&self) -> Option<String> {
        self.server().setup_url.clone()
    }

    /// Stops the server and starts a new one on the same data dir.
    pub async fn restart(&mut self) {
        self.stop().await;
        let server = launch(self.dir.path(), &self.config_text, self.clock.clone()).await;
        self.url = server.base_url.clone();
        self.server = Some(server);
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.expect("clean shutdown");
        }
    }

    /// A browser-like client: keeps cookies, sends this server's Origin.
    pub fn client(&self) -> Api {
        Api::new(&self.url, Some(&self.url))
    }

    /// A client that sends no Origin header (like a cross-site form post without one).
    pub fn client_without_origin(&self) -> Api {
        Api::new(&self.url, None)
    }

    /// A member signed up and signed in with this client. Sign-up answers
    /// "check your mail" (202) whether or not the email is new; the new
    /// member then signs in with their password (as the sign-up page does
    /// when the community does not ask for a confirmed address).
    pub async fn member(&self, email: &str, name: &str) -> Api {
        let c = self.client();
        let (s, body) = c
            .post(
                "/api/auth/signup",
                serde_json::json!({"email": email, "name": name, "password": "correct horse"}),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{body}");
        let (s, body) = c
            .post(
                "/api/auth/signin",
                serde_json::json!({"email": email, "password": "correct horse"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        c
    }

    /// The first admin, created through the setup link.
    pub async fn admin(&self) -> Api {
        let token = self
            .setup_url()
            .expect("no admin yet")
            .split("token=")
            .nth(1)
            .unwrap()
            .to_owned();
        let c = self.client();
        let (s, body) = c
            .post(
                "/api/setup",
                serde_json::json!({"token": token, "email": "admin@example.org", "name": "Ada Admin", "password": "correct horse"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        c
    }

    /// A number read from /metrics.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = reqwest::get(format!("{}/metrics", self.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("metric {name} missing in\n{text}"))
            .trim()
            .parse()
            .unwrap()
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("podium.redb")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            drop(s);
        }
    }
}

async fn launch(dir: &Path, extra: &str, clock: Arc<dyn Clock>) -> Server {
    // Tests sign many members up from 127.0.0.1: lift the per-address
    // sign-up limit unless the test is about it.
    let signups = if extra.contains("signups_per_ip") {
        ""
    } else {
        "[accounts]\nsignups_per_ip = 1000000\n"
    };
    // Tests let members register as host unless they are about who may.
    let hosting = if extra.contains("premium_required_for_hosting") {
        ""
    } else {
        "[features]\npremium_required_for_hosting = false\n"
    };
    let text = format!(
        "{extra}\n{signups}{hosting}[server]\ndata_dir = {dir:?}\nhttp_addr = \"127.0.0.1:0\"\nquic_addr = \"127.0.0.1:0\"\n",
        dir = dir.display().to_string()
    );
    let config = Config::parse(&merge_tables(&text)).expect("test config is valid");
    app::start(config, clock).await.expect("server starts")
}

/// Tests pass their own tables (`[server]`, `[accounts]` ...) next to the
/// ones added here: fold tables of the same name into one.
fn merge_tables(text: &str) -> String {
    let mut order: Vec<String> = vec![String::new()];
    let mut tables: std::collections::HashMap<String, Vec<&str>> = Default::default();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            current = t.to_owned();
            if !tables.contains_key(&current) {
                order.push(current.clone());
            }
            tables.entry(current.clone()).or_default();
            continue;
        }
        tables.entry(current.clone()).or_default().push(line);
    }
    let mut out = String::new();
    for name in order {
        if !name.is_empty() {
            out.push_str(&name);
            out.push('\n');
        }
        for line in tables.get(&name).into_iter().flatten() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

pub fn manual_clock(at: &str) -> (ManualClock, Arc<dyn Clock>) {
    let c = ManualClock::new(at.parse().unwrap());
    (c.clone(), Arc::new(c))
}

/// An HTTP client for tests. Pooled connections are dropped after 5 s idle:
/// the server closes an idle keep-alive connection after its 15 s
/// header-read timeout, and a request sent on a connection the server is
/// closing fails (`IncompleteMessage`), which a loaded machine makes likely.
pub fn client_builder() -> reqwest::ClientBuilder {
    Client::builder().pool_idle_timeout(Duration::from_secs(5))
}

/// A JSON API client bound to one server.
#[derive(Clone)]
pub struct Api {
    pub http: Client,
    pub base: String,
}

impl Api {
    fn new(base: &str, origin: Option<&str>) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(o) = origin {
            headers.insert(reqwest::header::ORIGIN, o.parse().unwrap());
        }
        Api {
            http: client_builder()
                .cookie_store(true)
                .default_headers(headers)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    /// Sends raw bytes with a given content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .expect("request sent");
        let status = resp.status();
        let v = resp.json().await.unwrap_or(Value::Null);
        (status, v)
    }
}

/// Asserts an API error response: status, stable code, a human message.
#[track_caller]
pub fn assert_error(got: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
    let msg = got.1["error"]["message"].as_str().unwrap_or("");
    assert!(msg.len() > 10, "error message should explain: {}", got.1);
}

/// A live room's event stream as a page reads it: the first `state`, then
/// `patch` events applied to it.
pub struct LiveStream {
    response: reqwest::Response,
    buf: String,
    pub state: Value,
}

impl LiveStream {
    /// Opens `GET {path}` (an `/events` path) as `who` and reads the first state.
    pub async fn open(who: &Api, path: &str) -> LiveStream {
        let response = who
            .http
            .get(format!("{}{path}", who.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "event stream {path}");
        let mut s = LiveStream {
            response,
            buf: String::new(),
            state: Value::Null,
        };
        s.next().await;
        s
    }

    /// Reads the next `state` or `patch` event into `state`.
    async fn next(&mut self) {
        loop {
            if let Some(i) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..i + 2).collect();
                let ev = block
                    .lines()
                    .find_map(|l| l.strip_prefix("event: "))
                    .unwrap_or("");
                let data = block.lines().find_map(|l| l.strip_prefix("data: "));
                match (ev, data) {
                    ("state", Some(d)) => self.state = serde_json::from_str(d).unwrap(),
                    ("patch", Some(d)) => {
                        podium::http::patch::apply(
                            &mut self.state,
                            &serde_json::from_str(d).unwrap(),
                        );
                    }
                    _ => continue,
                }
                return;
            }
            let chunk = self
                .response
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// Reads events until the state satisfies `pred` (20 s at most); `pred`
    /// sees every state the stream passes through.
    pub async fn until(&mut self, what: &str, mut pred: impl FnMut(&Value) -> bool) -> &Value {
        let wait = async {
            while !pred(&self.state) {
                self.next().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .unwrap_or_else(|_| panic!("the event stream never showed {what}: {}", self.state));
        &self.state
    }
}
