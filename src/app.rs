//! Wiring: config -> store -> services -> servers. [`start`] binds the
//! listeners (port 0 works) and returns a [`Server`] handle that tests and
//! `main` stop with [`Server::shutdown`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use lettre::message::Mailbox;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::Config;
use crate::http;
use crate::live::media::Bridge;
use crate::live::{LiveHub, MediaPort};
use crate::mail::MailContext;
use crate::mail::sender::{self, Transport};
use crate::metrics::Metrics;
pub use crate::service::{AppState, SigninLimits};
use crate::store::Store;
use crate::util::{random_token, sha256};

/// PDF reads and page renders at once (each holds one PDF and one pixmap).
const SLIDE_WORKERS: usize = 2;

/// A running Podium.
#[derive(Debug)]
pub struct Server {
    pub http_addr: SocketAddr,
    /// The address to open in a browser.
    pub base_url: String,
    /// The one-time link that creates the first admin, while none exists.
    pub setup_url: Option<String>,
    /// The media engine (its counters and members, for tests and operators).
    pub sfu: podium_media::SfuHandle,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Server {
    /// Stops accepting, lets in-flight requests finish, closes the store.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.await.context("server task panicked")?
    }

    /// Runs until `signal` resolves, then shuts down gracefully.
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        signal.await;
        tracing::info!("shutting down");
        self.shutdown().await
    }
}

/// The Content-Security-Policy of every response; with `youtube` (the live
/// room's page only) it also lets in exactly what YouTube's IFrame API needs
/// for a video on stage: its script from www.youtube.com (which loads the
/// rest of the API from the same host) and the player frame from
/// www.youtube-nocookie.com. `'wasm-unsafe-eval'` lets the page and its
/// workers compile WebAssembly (the video background's person segmentation,
/// web/vendor) and nothing else: `eval` and inline scripts stay refused.
/// `connect-src` admits the media engine's WebTransport URL at the port
/// browsers reach (`server.quic_public_port`, else the bound one).
fn content_security_policy(host: &str, quic_port: u16, youtube: bool) -> String {
    let (script, frame) = if youtube {
        (
            " https://www.youtube.com",
            "frame-src https://www.youtube-nocookie.com; ",
        )
    } else {
        ("", "")
    };
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{script}; style-src 'self'; img-src 'self' data: blob:; \
         media-src 'self' blob:; connect-src 'self' https://{host}:{port}; worker-src 'self' blob:; \
         {frame}object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        port = quic_port
    )
}

/// Opens the store, binds the HTTP listener and starts serving.
pub async fn start(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Server> {
    let data_dir = config.server.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&data_dir))
        .await
        .context("opening the store")?
        .with_context(|| {
            format!(
                "opening the data directory {}",
                config.server.data_dir.display()
            )
        })?;
    let listener = TcpListener::bind(config.server.http_addr)
        .await
        .with_context(|| format!("binding HTTP on {}", config.server.http_addr))?;
    let http_addr = listener.local_addr()?;
    let base_url = config
        .server
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{http_addr}"));

    let setup_token = random_token();
    let armed = {
        let store = store.clone();
        let hash = sha256(setup_token.as_bytes());
        tokio::task::spawn_blocking(move || store.arm_setup_token(&hash)).await??
    };
    let setup_url = armed.then(|| format!("{base_url}/setup?token={setup_token}"));

    let public_host = public_host(&base_url, http_addr);
    let sfu = start_sfu(&config, &base_url, &public_host).await?;
    let mail_from: Mailbox = config.mail.from.parse().context("mail.from")?;
    let mail_ctx = MailContext::new(&config, &base_url, mail_from.email.to_string());
    let transport = Transport::from_config(&config.mail, &config.server.data_dir)
        .context("setting up mail delivery")?;
    let (media_port, bridge) = MediaPort::new(sfu.clone());
    let state = Arc::new(AppState {
        csp: content_security_policy(&public_host, sfu.public_port(), false),
        csp_live_room: content_security_policy(&public_host, sfu.public_port(), true),
        secure_cookies: base_url.starts_with("https://"),
        mail_ctx,
        mail_from,
        mail_wake: Arc::new(Notify::new()),
        live: LiveHub::new(crate::live::LiveDeps {
            store: store.clone(),
            clock: clock.clone(),
            settings: config.live.settings,
            leave_grace: config.live.leave_grace,
            media: media_port,
        }),
        sfu: sfu.clone(),
        public_host,
        slides: crate::slides::Slides::new(&config.server.data_dir, SLIDE_WORKERS),
        limits: SigninLimits::new(&config),
        hasher: crate::hashing::HashPool::new(
            config.accounts.password_hash_workers,
            config.accounts.password_hash_queue,
        ),
        metrics: Arc::new(Metrics::default()),
        store,
        clock,
        config,
    });

    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(run(listener, state, transport, bridge, rx));
    Ok(Server {
        http_addr,
        base_url,
        setup_url,
        sfu,
        shutdown: Some(tx),
        task,
    })
}

async fn run(
    listener: TcpListener,
    state: Arc<AppState>,
    transport: Transport,
    bridge: Bridge,
    shutdown: oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let bridge = tokio::spawn(crate::live::media::run_bridge(bridge));
    let housekeeping = tokio::spawn(housekeeping(state.clone()));
    let backups = tokio::spawn(crate::service::backup::run_scheduled(
        state.clone(),
        state.config.backup.clone(),
    ));
    let mailer = tokio::spawn(sender::run(
        sender::Outbox {
            store: state.store.clone(),
            clock: state.clock.clone(),
            metrics: state.metrics.clone(),
            mail_from: state.mail_from.clone(),
        },
        transport,
        state.mail_wake.clone(),
    ));
    let st = state.clone();
    http::serve(listener, state.clone(), async move {
        let _ = shutdown.await;
        // Event streams never finish by themselves: end them so in-flight
        // requests can drain.
        st.live.shutdown();
    })
    .await
    .context("HTTP server")?;
    housekeeping.abort();
    let _ = housekeeping.await;
    backups.abort();
    let _ = backups.await;
    mailer.abort();
    let _ = mailer.await;
    bridge.abort();
    let _ = bridge.await;
    state.sfu.shutdown().await;
    // Connection tasks and blocking store calls drop their handles a moment
    // after their last response; wait for that so the database file is
    // closed when this returns (a restart can then open it at once).
    for _ in 0..500 {
        if Arc::strong_count(&state) == 1 && state.store.handles() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// The host part of the app's address (what browsers put in the WebTransport URL).
fn public_host(base_url: &str, http_addr: SocketAddr) -> String {
    let rest = base_url.split("://").nth(1).unwrap_or_default();
    let authority = rest.split('/').next().unwrap_or_default();
    let host = if authority.starts_with('[') {
        authority
            .split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default().to_owned()
    };
    if host.is_empty() {
        match http_addr.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        }
    } else {
        host
    }
}

/// Starts the SFU: the configured certificate or a rotating self-signed one,
/// the app's own origin as the only allowed Origin, and the join-token key
/// (from `PODIUM_MEDIA_TOKEN_KEY`, hex, when a load test shares it; random
/// otherwise: tokens live a minute).
async fn start_sfu(
    config: &Config,
    base_url: &str,
    host: &str,
) -> anyhow::Result<podium_media::SfuHandle> {
    use podium_media::{
        CertificateConfig, JoinTokenKey, OriginPolicy, SelfSignedConfig, SfuConfig,
    };
    let key = match std::env::var("PODIUM_MEDIA_TOKEN_KEY") {
        Ok(hex) => {
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
                .collect::<Result<Vec<u8>, _>>()
                .context("PODIUM_MEDIA_TOKEN_KEY must be hex")?;
            JoinTokenKey::from_bytes(&bytes).context("PODIUM_MEDIA_TOKEN_KEY")?
        }
        Err(_) => JoinTokenKey::generate(),
    };
    let mut cfg = SfuConfig::new(
        config.server.quic_addr,
        key,
        OriginPolicy::allow([base_url.to_owned()]),
    );
    cfg.public_port = config.server.quic_public_port;
    media_env(&mut cfg, |name| std::env::var(name).ok())?;
    cfg.certificate = match &config.live.tls {
        Some((cert, key)) => CertificateConfig::Files {
            cert_pem: cert.clone(),
            key_pem: key.clone(),
        },
        None => {
            let mut sc = SelfSignedConfig::default();
            let bare = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            if !sc.subject_alt_names.contains(&bare) {
                sc.subject_alt_names.push(bare);
            }
            CertificateConfig::SelfSigned(sc)
        }
    };
    podium_media::start(cfg).await.with_context(|| {
        format!(
            "starting the media engine on {} (UDP)",
            config.server.quic_addr
        )
    })
}

/// Periodic work: waitlist offers that expired move on (every 2 s, reads
/// only unless something changed); every 10 minutes, expired sign-in
/// sessions and stale rate-limit entries are dropped.
async fn housekeeping(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        n += 1;
        // While storage is failing, find out whether it is back.
        let _ = state.blocking(|s| Ok(s.probe())).await;
        if let Err(e) = crate::service::sessions::sweep_waitlists(&state).await {
            tracing::warn!(error = ?e, "waitlist sweep failed");
        }
        if n % 300 != 1 {
            continue;
        }
        let now = state.clock.now();
        state.limits.sweep(now);
        match state.blocking(move |s| s.purge_expired_sessions(now)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "purged expired sign-in sessions"),
            Err(e) => tracing::warn!(error = %e, "purging sessions failed"),
        }
    }
}

/// What the load test sets in `podium serve`'s environment to compare
/// configurations: `PODIUM_MEDIA_CONGESTION` (bbr, cubic, newreno; BBR is
/// the default) and `PODIUM_MEDIA_RECEIVE_SOCKETS` (1 to 64 sockets sharing
/// the media port). A bad value stops the server with the variable named.
fn media_env(
    cfg: &mut podium_media::SfuConfig,
    var: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    if let Some(cc) = var("PODIUM_MEDIA_CONGESTION") {
        cfg.congestion = cc
            .parse()
            .map_err(|e| anyhow::anyhow!("PODIUM_MEDIA_CONGESTION: {e}"))?;
    }
    if let Some(n) = var("PODIUM_MEDIA_RECEIVE_SOCKETS") {
        cfg.receive_sockets = n
            .parse()
            .ok()
            .filter(|n| (1..=64).contains(n))
            .ok_or_else(|| {
                anyhow::anyhow!("PODIUM_MEDIA_RECEIVE_SOCKETS: {n:?} is not a number from 1 to 64")
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_environment_values_are_checked() {
        let key = podium_media::JoinTokenKey::generate();
        let mut cfg = podium_media::SfuConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            key,
            podium_media::OriginPolicy::allow(["https://x".to_owned()]),
        );
        let env = |pairs: Vec<(&'static str, &'static str)>| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        media_env(&mut cfg, env(vec![])).unwrap();
        assert_eq!(cfg.receive_sockets, 1);
        media_env(
            &mut cfg,
            env(vec![
                ("PODIUM_MEDIA_CONGESTION", "cubic"),
                ("PODIUM_MEDIA_RECEIVE_SOCKETS", "4"),
            ]),
        )
        .unwrap();
        assert_eq!(cfg.receive_sockets, 4);
        assert_eq!(cfg.congestion.to_string(), "cubic");
        for (name, value) in [
            ("PODIUM_MEDIA_CONGESTION", "vegas"),
            ("PODIUM_MEDIA_RECEIVE_SOCKETS", "0"),
            ("PODIUM_MEDIA_RECEIVE_SOCKETS", "65"),
            ("PODIUM_MEDIA_RECEIVE_SOCKETS", "two"),
        ] {
            let e = media_env(&mut cfg, env(vec![(name, value)]))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(name), "{e}");
        }
        assert_eq!(cfg.receive_sockets, 4, "a refused value changes nothing");
    }
}
