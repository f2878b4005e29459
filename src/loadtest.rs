//! `podium loadtest`: the reference loads (a full session; ten breakout
//! rooms) against a real `podium serve` — a child process on loopback with a
//! temp data dir, so CPU and memory are read from that process alone — and,
//! with `--baseline`, against a plain QUIC fan-out in a child process.
//!
//! The server is driven through its own API like a host would: the setup
//! link creates an admin, who creates and publishes a session and presses
//! Start; the bots then join with tokens signed by the key the child was
//! given in `PODIUM_MEDIA_TOKEN_KEY`.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use podium_media::loadtest::{
    self, LoadtestConfig, LoadtestReport, Mode, RemoteTarget, Scenario, Target,
};
use podium_media::{CertHash, JoinTokenKey, OriginPolicy, SessionId, SfuConfig};
use serde_json::{Value, json};

use crate::cli::LoadtestArgs;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> anyhow::Result<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .context("not hex")
        })
        .collect()
}

/// A child process that is killed when dropped.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An app server to measure: its URLs, pid, and the live session to join.
struct App {
    origin: String,
    session: u64,
    quic_base: String,
    hashes: Vec<CertHash>,
    key: JoinTokenKey,
    pid: Option<u32>,
    _child: Option<ChildGuard>,
}

async fn api(
    c: &reqwest::Client,
    origin: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let r = c
        .request(method, format!("{origin}{path}"))
        .header("origin", origin)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("calling {path}"))?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{path}: {status}: {v}");
    }
    Ok(v)
}

/// Creates, publishes and starts a session as the admin signed in on `c`.
async fn start_live(c: &reqwest::Client, origin: &str) -> anyhow::Result<(u64, Value)> {
    use reqwest::Method;
    let starts = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(10);
    let s = api(
        c,
        origin,
        Method::POST,
        "/api/sessions",
        json!({
        "title": "Load test", "starts_at": starts.to_string(), "time_zone": "UTC",
        "capacity": {"host": 1, "presenter": 10, "interviewer": 0, "guest": 39}}),
    )
    .await?;
    let id = s["id"].as_u64().context("session id")?;
    api(
        c,
        origin,
        Method::POST,
        &format!("/api/sessions/{id}/publish"),
        json!({}),
    )
    .await?;
    api(
        c,
        origin,
        Method::POST,
        &format!("/api/sessions/{id}/live/start"),
        json!({}),
    )
    .await?;
    let j = api(
        c,
        origin,
        Method::POST,
        &format!("/api/sessions/{id}/live/join"),
        json!({}),
    )
    .await?;
    Ok((id, j["media"].clone()))
}

fn media_target(media: &Value) -> anyhow::Result<(String, Vec<CertHash>)> {
    let url = media["url"].as_str().context("media url")?;
    let base = url.split("/live/").next().unwrap_or(url).to_owned();
    let hashes = media["cert_hashes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| {
            let b = base64::engine::general_purpose::STANDARD
                .decode(h.as_str()?)
                .ok()?;
            Some(CertHash(b.try_into().ok()?))
        })
        .collect();
    Ok((base, hashes))
}

/// Starts `podium serve` on loopback ephemeral ports with a temp data dir.
async fn spawn_app(dir: &std::path::Path) -> anyhow::Result<App> {
    let key = JoinTokenKey::generate();
    let exe = std::env::current_exe().context("finding the podium binary")?;
    let mut child = Command::new(exe)
        .args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--quic-addr",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir)
        .env("PODIUM_MEDIA_TOKEN_KEY", hex(key.as_bytes()))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting podium serve")?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let (mut origin, mut setup) = (None, None);
    for line in lines.by_ref() {
        let line = line?;
        if let Some(rest) = line.split("Open ").nth(1) {
            origin = rest.split_whitespace().next().map(str::to_owned);
        }
        if line.contains("/setup?token=") {
            setup = line.split("token=").nth(1).map(|t| t.trim().to_owned());
        }
        if line.contains("Ctrl+C") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let origin = origin.context("the server printed no URL")?;
    let token = setup.context("the server printed no setup link")?;
    let pid = child.id();
    let guard = ChildGuard(child);
    let c = reqwest::Client::builder().cookie_store(true).build()?;
    api(&c, &origin, reqwest::Method::POST, "/api/setup", json!({
        "token": token, "email": "loadtest@podium.invalid", "name": "Load Test", "password": "load test password"})).await?;
    let (session, media) = start_live(&c, &origin).await?;
    let (quic_base, hashes) = media_target(&media)?;
    Ok(App {
        origin,
        session,
        quic_base,
        hashes,
        key,
        pid: Some(pid),
        _child: Some(guard),
    })
}

/// Uses a running Podium that shares the token key.
async fn remote_app(args: &LoadtestArgs, target: &str) -> anyhow::Result<App> {
    let key = JoinTokenKey::from_bytes(&unhex(args.token_key.as_deref().unwrap_or_default())?)
        .context("--token-key")?;
    let password =
        std::env::var("PODIUM_ADMIN_PASSWORD").context("PODIUM_ADMIN_PASSWORD is not set")?;
    let origin = target.trim_end_matches('/').to_owned();
    let c = reqwest::Client::builder().cookie_store(true).build()?;
    api(
        &c,
        &origin,
        reqwest::Method::POST,
        "/api/auth/signin",
        json!({
        "email": args.admin_email, "password": password}),
    )
    .await?;
    let (session, media) = start_live(&c, &origin).await?;
    let (quic_base, hashes) = media_target(&media)?;
    Ok(App {
        origin,
        session,
        quic_base,
        hashes,
        key,
        pid: None,
        _child: None,
    })
}

/// The baseline: a plain QUIC fan-out server in a child process (this
/// binary's hidden `baseline-server` command).
fn spawn_baseline() -> anyhow::Result<(ChildGuard, String, Vec<CertHash>, JoinTokenKey)> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg("baseline-server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the baseline server")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let guard = ChildGuard(child);
    let info: Value =
        serde_json::from_str(&line).with_context(|| format!("baseline said {line:?}"))?;
    let key = JoinTokenKey::from_bytes(&unhex(info["key"].as_str().unwrap_or_default())?)?;
    let hashes = info["hashes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| Some(CertHash(unhex(h.as_str()?).ok()?.try_into().ok()?)))
        .collect();
    Ok((
        guard,
        format!("https://127.0.0.1:{}", info["port"]),
        hashes,
        key,
    ))
}

/// `podium baseline-server`: prints `{port, hashes, key}` and serves until stdin closes.
pub fn baseline_server() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let key = JoinTokenKey::generate();
        let config = SfuConfig::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            key.clone(),
            OriginPolicy::AnyOriginInsecure,
        );
        let server = loadtest::baseline::start_baseline(&config).await?;
        let line = json!({
            "port": server.local_addr().port(),
            "hashes": server.cert_hashes().all().iter().map(|h| h.to_hex()).collect::<Vec<_>>(),
            "key": hex(key.as_bytes()),
        });
        println!("{line}");
        std::io::stdout().flush()?;
        let _ = tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await;
        drop(server);
        Ok(())
    })
}

fn minter(key: JoinTokenKey) -> loadtest::TokenMinter {
    Arc::new(move |claims| key.sign(claims))
}

/// Runs the requested scenarios and prints the results.
pub fn run(args: LoadtestArgs) -> anyhow::Result<()> {
    let scenarios = match args.scenario.as_str() {
        "all" => Scenario::ALL.to_vec(),
        other => vec![
            other
                .parse::<Scenario>()
                .map_err(|e| anyhow::anyhow!("--scenario: {e}"))?,
        ],
    };
    if args.duration == 0 || args.duration > 600 {
        bail!("--duration must be between 1 and 600 seconds");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut reports: Vec<LoadtestReport> = Vec::new();
    for scenario in scenarios {
        let mut config = LoadtestConfig::new(scenario, Mode::Sfu);
        config.duration = Duration::from_secs(args.duration);
        eprintln!(
            "{scenario}: podium SFU over {}, {} s ...",
            args.transport, args.duration
        );
        let dir = tempfile::tempdir()?;
        let report = rt.block_on(async {
            let app = match &args.target {
                Some(t) => remote_app(&args, t).await?,
                None => spawn_app(dir.path()).await?,
            };
            // WebSocket: the app's own HTTP port, same origin, no certificate hashes.
            let (base, hashes) = if args.transport == "websocket" {
                let ws = app
                    .origin
                    .strip_prefix("http://")
                    .map(|rest| format!("ws://{rest}"))
                    .context(
                        "--transport websocket needs an http:// server (bots speak plain ws://)",
                    )?;
                (ws, Vec::new())
            } else {
                (app.quic_base.clone(), app.hashes.clone())
            };
            let target = RemoteTarget {
                server_pid: app.pid,
                origin: Some(app.origin.clone()),
                ..RemoteTarget::with_key(base, SessionId(app.session), hashes, app.key.clone())
            };
            let r = loadtest::run(&config, Target::Remote(target)).await;
            drop(app);
            r.map_err(anyhow::Error::from)
        })?;
        reports.push(report);
        if args.baseline {
            eprintln!("{scenario}: plain QUIC baseline, {} s ...", args.duration);
            let mut config = config.clone();
            config.mode = Mode::Baseline;
            let (child, base, hashes, key) = spawn_baseline()?;
            let target = RemoteTarget {
                server_pid: Some(child.0.id()),
                mint: minter(key.clone()),
                ..RemoteTarget::with_key(base, SessionId(1), hashes, key)
            };
            let r = rt.block_on(loadtest::run(&config, Target::Remote(target)))?;
            drop(child);
            reports.push(r);
        }
    }
    if args.json {
        for r in &reports {
            println!("{}", serde_json::to_string(r)?);
        }
    } else {
        print!("{}", loadtest::table(&reports));
    }
    Ok(())
}
