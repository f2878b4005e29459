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
use std::net::{IpAddr, SocketAddr};

use podium_media::loadtest::netem::{LinkSpec, Relay};
use podium_media::loadtest::{
    self, LoadtestConfig, LoadtestReport, Mode, RemoteTarget, Scenario, Target,
};
use podium_media::{CertHash, Congestion, JoinTokenKey, OriginPolicy, SessionId, SfuConfig};
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
    /// The admin's signed-in client, to start more sessions.
    client: reqwest::Client,
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

/// Where and how the `podium serve` child runs.
struct ServeOptions<'a> {
    /// Run it in this network namespace (`ip netns exec`).
    netns: Option<&'a str>,
    http_addr: String,
    quic_addr: String,
    congestion: Congestion,
    receive_sockets: usize,
}

/// What the server's router did over the whole run (warm-up included), from
/// its `/metrics`: the frames each rule kept from subscribers and the
/// redundant audio it sent. `None` if the page cannot be read.
async fn policy_counters(client: &reqwest::Client, origin: &str) -> Option<String> {
    let text = client
        .get(format!("{origin}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let value = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .map_or(0, |v| v as u64)
    };
    let dropped = |reason: &str| {
        value(&format!(
            "podium_media_frames_dropped_total{{reason=\"{reason}\"}} "
        ))
    };
    let saturated = |cause: &str| {
        value(&format!(
            "podium_media_link_saturated_total{{cause=\"{cause}\"}} "
        ))
    };
    Some(format!(
        "link reports saturated by backlog {}, queue delay {}, held back {}, loss {}, backed up {}, flow control {}; frames dropped for budget {}, congestion {}, stale group {}; group drops {}; redundant audio sent {}; keyframe requests {}",
        saturated("backlog"),
        saturated("queue_delay"),
        saturated("held_back"),
        saturated("loss"),
        saturated("backed_up"),
        saturated("flow_control"),
        dropped("budget"),
        dropped("congestion"),
        dropped("stale_group"),
        value("podium_media_group_drops_total "),
        value("podium_media_redundant_audio_deliveries_total "),
        value("podium_media_keyframe_requests_total "),
    ))
}

/// Starts `podium serve` with a temp data dir (on loopback ephemeral ports,
/// or in the benchmark's network namespace), creates the admin and starts a
/// live session.
async fn spawn_app(dir: &std::path::Path, opts: &ServeOptions<'_>) -> anyhow::Result<App> {
    let key = JoinTokenKey::generate();
    let exe = std::env::current_exe().context("finding the podium binary")?;
    let mut command = match opts.netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    let mut child = command
        .args([
            "serve",
            "--http-addr",
            &opts.http_addr,
            "--quic-addr",
            &opts.quic_addr,
            "--data-dir",
        ])
        .arg(dir)
        .env("PODIUM_MEDIA_TOKEN_KEY", hex(key.as_bytes()))
        .env("PODIUM_MEDIA_CONGESTION", opts.congestion.to_string())
        .env(
            "PODIUM_MEDIA_RECEIVE_SOCKETS",
            opts.receive_sockets.to_string(),
        )
        .env(
            "RUST_LOG",
            std::env::var("PODIUM_LOADTEST_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting podium serve")?;
    let pid = child.id();
    netns::SERVER_PID.store(pid, std::sync::atomic::Ordering::Relaxed);
    let stdout = child.stdout.take().context("stdout")?;
    let guard = ChildGuard(child);
    let mut lines = BufReader::new(stdout).lines();
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
        client: c,
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
        client: c,
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

/// The impaired-network benchmark's plumbing: a network namespace for the
/// server, a veth pair with a 1,500-byte MTU into it, and the link
/// simulator (`podium_media::loadtest::netem::Relay`) in front of its UDP
/// port. Everything is removed when the guard drops, and on Ctrl-C.
mod netns {
    use std::process::Command;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

    use anyhow::{Context, bail};

    /// The namespace the server runs in (one benchmark at a time).
    pub const NAME: &str = "podium-netbench";
    /// The veth end on the host side and its address.
    const HOST_IF: &str = "pnb-host";
    pub const HOST_IP: &str = "10.213.77.1";
    /// The veth end in the namespace and the server's address.
    const NS_IF: &str = "pnb-srv";
    pub const SERVER_IP: &str = "10.213.77.2";

    /// The server child, killed by the Ctrl-C handler.
    pub static SERVER_PID: AtomicU32 = AtomicU32::new(0);
    static UP: AtomicBool = AtomicBool::new(false);

    fn ip(args: &[&str]) -> anyhow::Result<()> {
        let out = Command::new("ip")
            .args(args)
            .output()
            .context("running `ip` (install iproute2)")?;
        if !out.status.success() {
            bail!(
                "`ip {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// The namespace with its veth pair, removed when dropped.
    pub struct NetNs(());

    impl NetNs {
        pub fn create(mtu: u16) -> anyhow::Result<NetNs> {
            // Left over from a run that was killed: remove first.
            remove();
            ip(&["netns", "add", NAME]).context(
                "--netem builds a network namespace: run as root, with iproute2 installed",
            )?;
            UP.store(true, Relaxed);
            let this = NetNs(());
            let mtu = mtu.to_string();
            ip(&[
                "link", "add", HOST_IF, "mtu", &mtu, "type", "veth", "peer", "name", NS_IF, "mtu",
                &mtu,
            ])?;
            ip(&["link", "set", NS_IF, "netns", NAME])?;
            ip(&["addr", "add", &format!("{HOST_IP}/30"), "dev", HOST_IF])?;
            ip(&["link", "set", HOST_IF, "up"])?;
            ip(&[
                "-n",
                NAME,
                "addr",
                "add",
                &format!("{SERVER_IP}/30"),
                "dev",
                NS_IF,
            ])?;
            ip(&["-n", NAME, "link", "set", NS_IF, "up"])?;
            ip(&["-n", NAME, "link", "set", "lo", "up"])?;
            Ok(this)
        }
    }

    impl Drop for NetNs {
        fn drop(&mut self) {
            remove();
        }
    }

    /// Deletes the host's veth end (its peer goes with it) and the namespace.
    pub fn remove() {
        let _ = Command::new("ip")
            .args(["link", "del", HOST_IF])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", NAME])
            .stderr(std::process::Stdio::null())
            .status();
        UP.store(false, Relaxed);
    }

    /// On Ctrl-C or SIGTERM: stop the server child, remove the namespace, exit.
    pub async fn teardown_on_signal() {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return;
        };
        let stop = tokio::select! {
            r = tokio::signal::ctrl_c() => r.is_ok(),
            r = term.recv() => r.is_some(),
        };
        if stop {
            eprintln!("interrupted: stopping the server (and removing a --netem namespace)");
            let pid = SERVER_PID.load(Relaxed);
            if pid != 0 {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
            if UP.load(Relaxed) {
                remove();
            }
            std::process::exit(130);
        }
    }
}

/// The simulated network of one `--netem` run.
struct Network {
    _ns: netns::NetNs,
    runtime: tokio::runtime::Runtime,
    relay: Option<Relay>,
    slow: Option<Relay>,
    spec: LinkSpec,
    slow_spec: Option<LinkSpec>,
}

impl Network {
    fn build(spec: LinkSpec, slow_spec: Option<LinkSpec>) -> anyhow::Result<Network> {
        let ns = netns::NetNs::create(spec.mtu)?;
        // The relay gets a thread of its own, so its timing does not wait
        // behind the bots' work.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("netem-relay")
            .enable_all()
            .build()?;
        Ok(Network {
            _ns: ns,
            runtime,
            relay: None,
            slow: None,
            spec,
            slow_spec,
        })
    }

    /// Starts the relays in front of the server's UDP port; returns the
    /// bots' base URLs (everyone, the slow subscriber).
    async fn relay_to(&mut self, quic_base: &str) -> anyhow::Result<(String, Option<String>)> {
        let port: u16 = quic_base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("no port in {quic_base}"))?;
        let upstream = SocketAddr::new(netns::SERVER_IP.parse()?, port);
        let host: IpAddr = netns::HOST_IP.parse()?;
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let relay = self.runtime.handle();
        let start = |spec| relay.spawn(Relay::start(listen, upstream, host, spec));
        let main = start(self.spec);
        let slow = self.slow_spec.map(start);
        let relay = main.await?.context("starting the link simulator")?;
        let slow = match slow {
            Some(s) => Some(s.await?.context("starting the slow link")?),
            None => None,
        };
        let url = |r: &Relay| format!("https://127.0.0.1:{}", r.local_addr().port());
        let urls = (url(&relay), slow.as_ref().map(url));
        self.relay = Some(relay);
        self.slow = slow;
        Ok(urls)
    }

    fn describe(&self) -> String {
        let mut s = format!("netem {}", self.spec);
        if let Some(slow) = self.slow_spec {
            s.push_str(&format!("; one subscriber: {slow}"));
        }
        s
    }

    /// Packet counts of the relays, for the run's label.
    fn counts(&self) -> String {
        let one = |r: &Relay| {
            let s = r.stats();
            format!(
                "{} packets, {} lost, {} queue drops, {} too big; to clients {} packets of {:.0} bytes on average",
                s.packets,
                s.lost,
                s.queue_drops,
                s.too_big,
                s.down_packets,
                s.down_bytes as f64 / s.down_packets.max(1) as f64
            )
        };
        let mut out = self.relay.as_ref().map(one).unwrap_or_default();
        if let Some(slow) = &self.slow {
            out.push_str(&format!("; slow link: {}", one(slow)));
        }
        out
    }
}

/// Reads `--sessions 1,2,3,4`.
fn parse_sessions(list: &str) -> anyhow::Result<Vec<usize>> {
    let counts = list
        .split(',')
        .map(|n| {
            n.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=20).contains(n))
                .with_context(|| {
                    format!("--sessions: {n:?} is not a number of sessions from 1 to 20 (e.g. --sessions 1,2,3,4)")
                })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if counts.is_empty() {
        bail!("--sessions: give at least one number");
    }
    Ok(counts)
}

/// Whether every session of a run held: ≥ 99 % delivered, p99 ≤ 200 ms.
fn held(reports: &[LoadtestReport]) -> bool {
    reports
        .iter()
        .all(|r| r.delivery_ratio >= 0.99 && r.latency_ms.p99 <= 200.0)
}

/// Runs the requested scenarios and prints the results.
pub fn run(args: LoadtestArgs) -> anyhow::Result<()> {
    if args.duration == 0 || args.duration > 600 {
        bail!("--duration must be between 1 and 600 seconds");
    }
    let congestion: Congestion = args
        .congestion
        .parse()
        .map_err(|e| anyhow::anyhow!("--congestion: {e}"))?;
    let spec = args
        .netem
        .as_deref()
        .map(str::parse::<LinkSpec>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--netem: {e}"))?;
    let slow_spec = match (&args.slow, spec) {
        (Some(slow), Some(base)) => Some(
            base.parse_over(slow)
                .map_err(|e| anyhow::anyhow!("--slow: {e}"))?,
        ),
        (Some(_), None) => bail!("--slow needs --netem (the slow link is simulated there)"),
        (None, _) => None,
    };
    let sessions = args.sessions.as_deref().map(parse_sessions).transpose()?;
    if spec.is_some() {
        if args.target.is_some() {
            bail!(
                "--netem runs its own server in a network namespace; it cannot be combined with --target"
            );
        }
        if args.baseline {
            bail!("--netem cannot be combined with --baseline");
        }
        if args.transport != "webtransport" {
            bail!("--netem simulates a UDP link: use --transport webtransport");
        }
    }
    let scenarios = match (args.scenario.as_str(), &sessions) {
        ("all", Some(_)) | ("full-session", _) => vec![Scenario::FullSession],
        (other, Some(_)) => {
            bail!("--sessions runs full sessions; --scenario {other} cannot be combined with it")
        }
        ("all", None) => Scenario::ALL.to_vec(),
        (other, None) => vec![
            other
                .parse::<Scenario>()
                .map_err(|e| anyhow::anyhow!("--scenario: {e}"))?,
        ],
    };
    if slow_spec.is_some() && scenarios != [Scenario::FullSession] {
        bail!("--slow needs --scenario full-session");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // Every run: a Ctrl-C or SIGTERM stops the server child (and removes the
    // namespace of a `--netem` run) instead of leaving it behind.
    rt.spawn(netns::teardown_on_signal());
    let mut reports: Vec<LoadtestReport> = Vec::new();
    let mut summary = String::new();
    let runs: Vec<(Scenario, usize)> = match &sessions {
        Some(counts) => counts.iter().map(|&n| (Scenario::FullSession, n)).collect(),
        None => scenarios.iter().map(|&s| (s, 1)).collect(),
    };
    let mut per_session_cores: Option<f64> = None;
    for (scenario, count) in runs {
        let mut config = LoadtestConfig::new(scenario, Mode::Sfu);
        config.duration = Duration::from_secs(args.duration);
        config.simulcast = !args.no_simulcast;
        let mut network = spec.map(|s| Network::build(s, slow_spec)).transpose()?;
        let where_ = match &network {
            Some(n) => n.describe(),
            None => format!("{} on loopback", args.transport),
        };
        eprintln!(
            "{scenario}{}: podium SFU ({congestion}) over {where_}, {} s ...",
            if sessions.is_some() {
                format!(" x{count}")
            } else {
                String::new()
            },
            args.duration
        );
        let dir = tempfile::tempdir()?;
        let opts = ServeOptions {
            netns: network.as_ref().map(|_| netns::NAME),
            http_addr: match network {
                Some(_) => format!("{}:8080", netns::SERVER_IP),
                None => "127.0.0.1:0".into(),
            },
            quic_addr: match network {
                Some(_) => format!("{}:4433", netns::SERVER_IP),
                None => "127.0.0.1:0".into(),
            },
            congestion,
            receive_sockets: args.receive_sockets,
        };
        let result = rt.block_on(async {
            let app = match &args.target {
                Some(t) => remote_app(&args, t).await?,
                None => spawn_app(dir.path(), &opts).await?,
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
            let (base, slow_base) = match network.as_mut() {
                Some(n) => n.relay_to(&base).await?,
                None => (base, None),
            };
            let mut targets = Vec::new();
            for i in 0..count {
                let session = if i == 0 {
                    app.session
                } else {
                    start_live(&app.client, &app.origin).await?.0
                };
                targets.push(RemoteTarget {
                    server_pid: app.pid,
                    origin: Some(app.origin.clone()),
                    slow_base_url: slow_base.clone(),
                    ..RemoteTarget::with_key(
                        base.clone(),
                        SessionId(session),
                        hashes.clone(),
                        app.key.clone(),
                    )
                });
            }
            let r = loadtest::run_sessions(&config, &targets, app.pid).await;
            let policy = policy_counters(&app.client, &app.origin).await;
            drop(app);
            r.map(|reports| (reports, policy))
                .map_err(anyhow::Error::from)
        });
        // With --sessions, a count that fails (e.g. bots time out) is a
        // result too: say so and go on with the next count.
        let (mut run_reports, policy) = match result {
            Err(e) if sessions.is_some() => {
                summary.push_str(&format!("{count} session(s): failed: {e:#}\n"));
                eprintln!("{count} session(s) failed: {e:#}");
                continue;
            }
            other => other?,
        };
        netns::SERVER_PID.store(0, std::sync::atomic::Ordering::Relaxed);
        let counts = network.as_ref().map(Network::counts);
        drop(network);
        let n = run_reports.len();
        for (i, r) in run_reports.iter_mut().enumerate() {
            let mut label = format!("{where_}, congestion {congestion}");
            if sessions.is_some() {
                label.push_str(&format!(", {n} sessions at once: session {}", i + 1));
            }
            if let Some(c) = &counts {
                label.push_str(&format!(" (link: {c})"));
            }
            if let Some(p) = &policy {
                label.push_str(&format!("; server, whole run: {p}"));
            }
            r.label = Some(label);
        }
        if let Some(r) = run_reports.first() {
            let window = args.duration as f64 + 1.15;
            let cores = r.server_cpu_seconds.map(|c| c / window);
            if count == 1 {
                per_session_cores = per_session_cores.or(cores);
            }
            if sessions.is_some() {
                let worst = run_reports
                    .iter()
                    .map(|r| r.delivery_ratio)
                    .fold(1.0, f64::min);
                let p99 = run_reports
                    .iter()
                    .map(|r| r.latency_ms.p99)
                    .fold(0.0, f64::max);
                summary.push_str(&format!(
                    "{count} session(s): worst delivered {:.2} %, worst p99 {p99:.1} ms, server {:.2} cores per session: {}\n",
                    worst * 100.0,
                    cores.unwrap_or(f64::NAN),
                    if held(&run_reports) { "holds" } else { "does not hold" },
                ));
            }
        }
        // Each run's rows as soon as it ends (a long series keeps what it measured).
        if !args.json {
            print!("{}", loadtest::table(&run_reports));
        }
        reports.extend(run_reports);
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
    if let Some(cores) = per_session_cores.filter(|_| sessions.is_some()) {
        summary.push_str(&format!(
            "one full session costs the server {cores:.2} cores: at 70 % load a 2-core server holds {:.1}, 4 cores {:.1}, 8 cores {:.1} full sessions\n",
            2.0 * 0.7 / cores,
            4.0 * 0.7 / cores,
            8.0 * 0.7 / cores
        ));
    }
    if args.json {
        for r in &reports {
            println!("{}", serde_json::to_string(r)?);
        }
    } else if args.baseline {
        // The baseline rows beside the SFU's.
        print!("{}", loadtest::table(&reports));
    }
    eprint!("{summary}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_lists_are_checked() {
        assert_eq!(parse_sessions("1,2, 3,4").unwrap(), vec![1, 2, 3, 4]);
        for bad in ["", "0", "1,,2", "two", "21", "-1"] {
            let e = parse_sessions(bad).unwrap_err().to_string();
            assert!(e.contains("--sessions"), "{bad}: {e}");
        }
    }

    #[test]
    fn flags_that_do_not_go_together_are_refused_before_anything_runs() {
        let base = LoadtestArgs {
            scenario: "full-session".into(),
            duration: 10,
            baseline: false,
            json: false,
            transport: "webtransport".into(),
            target: None,
            token_key: None,
            admin_email: None,
            netem: None,
            slow: None,
            sessions: None,
            congestion: "bbr".into(),
            receive_sockets: 1,
            no_simulcast: false,
        };
        let netem = Some("clean".to_owned());
        let cases = [
            (
                LoadtestArgs {
                    slow: Some("rate=300kbit".into()),
                    ..base.clone()
                },
                "--slow needs --netem",
            ),
            (
                LoadtestArgs {
                    netem: Some("delay=20".into()),
                    ..base.clone()
                },
                "--netem: delay=20: give a unit",
            ),
            (
                LoadtestArgs {
                    netem: netem.clone(),
                    slow: Some("rate=300kbps".into()),
                    ..base.clone()
                },
                "--slow: rate=300kbps",
            ),
            (
                LoadtestArgs {
                    netem: netem.clone(),
                    baseline: true,
                    ..base.clone()
                },
                "cannot be combined with --baseline",
            ),
            (
                LoadtestArgs {
                    netem: netem.clone(),
                    transport: "websocket".into(),
                    ..base.clone()
                },
                "simulates a UDP link",
            ),
            (
                LoadtestArgs {
                    netem: netem.clone(),
                    slow: Some("rate=300kbit".into()),
                    scenario: "breakouts".into(),
                    ..base.clone()
                },
                "--slow needs --scenario full-session",
            ),
            (
                LoadtestArgs {
                    sessions: Some("1,2".into()),
                    scenario: "breakouts".into(),
                    ..base.clone()
                },
                "--sessions runs full sessions",
            ),
            (
                LoadtestArgs {
                    congestion: "vegas".into(),
                    ..base.clone()
                },
                "--congestion: unknown congestion controller",
            ),
            (
                LoadtestArgs {
                    duration: 0,
                    ..base.clone()
                },
                "--duration must be",
            ),
        ];
        for (args, want) in cases {
            let e = run(args).unwrap_err().to_string();
            assert!(e.contains(want), "{e} (wanted {want:?})");
        }
    }
}
