//! Real headless Chromium (Debian `chromium`) driven over WebDriver by
//! chromedriver, and real headless Firefox (Debian `firefox-esr`) driven by
//! geckodriver, for end-to-end tests and screenshots.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// Browser tests take turns: several Chromiums with fake cameras at once
/// make every one of them slow on a 2-core machine.
pub async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: Option<tempfile::TempDir>,
}

/// geckodriver: `$GECKODRIVER`, else where `scripts/deps.sh test` installs it
/// (target/geckodriver/bin), else the PATH.
fn geckodriver() -> PathBuf {
    if let Some(p) = std::env::var_os("GECKODRIVER") {
        return PathBuf::from(p);
    }
    let local =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/geckodriver/bin/geckodriver");
    if local.exists() {
        return local;
    }
    PathBuf::from("geckodriver")
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Where screenshots go: `target/screenshots/` in the workspace.
pub fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    pub async fn launch() -> Browser {
        Self::launch_sized(1280, 900).await
    }

    pub async fn launch_sized(width: u32, height: u32) -> Browser {
        Self::launch_chromium(width, height, &[]).await
    }

    /// A Chromium whose fake camera plays `y4m` (looped) instead of its
    /// built-in pattern.
    pub async fn launch_with_camera(width: u32, height: u32, y4m: &std::path::Path) -> Browser {
        let arg = format!("--use-file-for-fake-video-capture={}", y4m.display());
        Self::launch_chromium(width, height, &[arg]).await
    }

    async fn launch_chromium(width: u32, height: u32, extra: &[String]) -> Browser {
        let port = free_port();
        let mut driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (the test command installs chromium-driver)");
        let mut out = BufReader::new(driver.stdout.take().unwrap()).lines();
        loop {
            let line = out.next().expect("chromedriver started").unwrap();
            if line.contains("started successfully") {
                break;
            }
        }
        std::thread::spawn(move || for _ in out {});
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    // WebGL in software (SwiftShader) for the video
                    // background's segmentation, which Chromium no longer
                    // falls back to by itself.
                    "--enable-unsafe-swiftshader",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.path().display()),
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    "--autoplay-policy=no-user-gesture-required",
                ]
            }
        });
        let mut caps = match caps {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        };
        if let Some(args) = caps["goog:chromeOptions"]["args"].as_array_mut() {
            args.extend(extra.iter().map(|a| json!(a)));
        }
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("WebDriver session with headless Chromium");
        Browser {
            client,
            driver,
            _profile: Some(profile),
        }
    }

    /// Headless Firefox ESR with a fake camera and microphone (no prompts,
    /// autoplay allowed), driven by geckodriver, which makes its own profile.
    pub async fn launch_firefox(width: u32, height: u32) -> Browser {
        let port = free_port();
        let driver = Command::new(geckodriver())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("geckodriver is installed (scripts/deps.sh test installs it)");
        let caps = json!({
            "browserName": "firefox",
            "moz:firefoxOptions": {
                "binary": "/usr/bin/firefox-esr",
                "args": ["-headless", format!("--width={width}"), format!("--height={height}")],
                "prefs": {
                    "media.navigator.streams.fake": true,
                    "media.navigator.permission.disabled": true,
                    "media.autoplay.default": 0,
                    "media.autoplay.block-webaudio": false,
                    // No sound card here: a mock audio device runs the audio graph
                    // (else every AudioContext stays suspended).
                    "media.cubeb.force_mock_context": true,
                    "browser.shell.checkDefaultBrowser": false,
                    "app.update.disabledForTesting": true,
                    "datareporting.policy.dataSubmissionEnabled": false,
                    "toolkit.telemetry.reportingpolicy.firstRun": false
                }
            }
        });
        let caps = match caps {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        };
        // geckodriver listens a moment after it starts.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "geckodriver did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("WebDriver session with headless Firefox");
        client.set_window_size(width, height).await.ok();
        Browser {
            client,
            driver,
            _profile: None,
        }
    }

    /// Navigates and waits until the client says the page has loaded its data.
    pub async fn open(&self, url: &str, page: &str) {
        self.client.goto(url).await.unwrap();
        self.wait_page(page).await;
    }

    pub async fn wait_page(&self, page: &str) {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(&format!(
                "main[data-page='{page}'][data-ready='1']"
            )))
            .await
            .unwrap_or_else(|e| panic!("page {page} did not become ready: {e}"));
    }

    pub async fn fill(&self, form: &str, field: &str, value: &str) {
        let el = self
            .client
            .find(Locator::Css(&format!("#{form} [name='{field}']")))
            .await
            .unwrap_or_else(|e| panic!("#{form} [name={field}]: {e}"));
        el.clear().await.unwrap();
        el.send_keys(value).await.unwrap();
    }

    pub async fn submit(&self, form: &str) {
        self.client
            .find(Locator::Css(&format!("#{form} [type='submit']")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Signs in through the page as `email` (password "correct horse").
    pub async fn sign_in(&self, base_url: &str, email: &str) {
        self.open(&format!("{base_url}/signin"), "signin").await;
        self.fill("signin-form", "email", email).await;
        self.fill("signin-form", "password", "correct horse").await;
        self.submit("signin-form").await;
        self.wait_page("profile").await;
    }

    /// Clicks the element once it exists (up to 20 s). Pages re-render
    /// lists when the server's state changes, so an element found may be
    /// replaced before the click lands: then the new one is clicked.
    pub async fn click(&self, css: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let el = self
                .client
                .wait()
                .at_most(left.max(Duration::from_millis(100)))
                .for_element(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("{css}: {e}"));
            match el.click().await {
                Ok(_) => return,
                Err(e)
                    if e.to_string().contains("stale element")
                        && std::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("click {css}: {e}"),
            }
        }
    }

    pub async fn text(&self, css: &str) -> String {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .unwrap()
    }

    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
    }

    /// Runs `return <expr>` in the page and returns the JSON value.
    pub async fn eval(&self, expr: &str) -> serde_json::Value {
        self.client
            .execute(&format!("return {expr};"), vec![])
            .await
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    /// Polls `expr` until `pred` holds (at most `secs` seconds).
    pub async fn wait_js(
        &self,
        expr: &str,
        secs: u64,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.eval(expr).await;
            if pred(&v) {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting on {expr}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
        // Drop ends the driver and whatever browser processes are left.
    }

    /// Ends the driver and the browser it started: the driver runs in its
    /// own process group, which the browser's processes inherit, so a test
    /// that fails (and never quits its session) leaves no browser behind.
    fn end(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.end();
    }
}
