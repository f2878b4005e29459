//! Wiring: config -> store -> services -> servers. [`start`] binds the
//! listeners (port 0 works) and returns a [`Server`] handle that tests and
//! `main` stop with [`Server::shutdown`].

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use jiff::{SignedDuration, Timestamp};
use lettre::message::Mailbox;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::ratelimit::SlidingWindow;
use crate::hashing::{Busy, HashPool};
use crate::http::{self, Assets};
use crate::live::{LiveHub, MediaEffect};
use crate::mail::MailContext;
use crate::mail::sender::{self, Transport};
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::util::{random_token, sha256};

/// Everything a request handler may use.
#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    pub assets: Assets,
    pub limits: SigninLimits,
    /// Where passwords are hashed: a few threads and a short queue.
    pub hasher: HashPool,
    /// The Content-Security-Policy header value.
    pub csp: String,
    /// Cookies get `Secure` when the public URL is https.
    pub secure_cookies: bool,
    /// What mails need to know about the community.
    pub mail_ctx: MailContext,
    pub mail_from: Mailbox,
    /// Wakes the mail sender after a change queued mail.
    pub mail_wake: Arc<Notify>,
    /// Running live sessions.
    pub live: LiveHub,
    /// The media engine (SFU) on the QUIC address.
    pub sfu: podium_media::SfuHandle,
    /// The host name browsers use for the app, and so for WebTransport.
    pub public_host: String,
}

impl AppState {
    /// Runs a store call on the blocking pool (redb does file IO and fsync).
    /// A storage failure anywhere in the call degrades the store
    /// ([`Store::observe`]).
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let r = f(&store);
            if let Err(e) = &r {
                store.observe(e);
            }
            r
        })
        .await
        .expect("store task panicked")
    }

    /// Runs password hashing on the bounded hashing pool ([`HashPool`]);
    /// `Busy` when its workers and queue are full.
    pub async fn hash<T, F>(&self, f: F) -> Result<T, Busy>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.hasher.run(f).await
    }
}

/// Sign-in attempts per account (email) and per client address, sign-up
/// attempts per client address. An attempt counts from the moment it starts
/// (so a flood of concurrent guesses is cut off before it is hashed); a
/// sign-in that succeeds is taken back.
#[derive(Debug)]
pub struct SigninLimits {
    per_account: Mutex<SlidingWindow<String>>,
    per_ip: Mutex<SlidingWindow<IpAddr>>,
    signups_per_ip: Mutex<SlidingWindow<IpAddr>>,
}

impl SigninLimits {
    fn new(config: &Config) -> Self {
        let window = SignedDuration::try_from(config.accounts.signin_window).expect("window fits");
        let signup_window =
            SignedDuration::try_from(config.accounts.signup_window).expect("window fits");
        Self {
            per_account: Mutex::new(SlidingWindow::new(
                config.accounts.signin_failures_per_account,
                window,
            )),
            per_ip: Mutex::new(SlidingWindow::new(
                config.accounts.signin_failures_per_ip,
                window,
            )),
            signups_per_ip: Mutex::new(SlidingWindow::new(
                config.accounts.signups_per_ip,
                signup_window,
            )),
        }
    }

    /// Counts a sign-in attempt against both limits, or says how long the
    /// caller must wait when either is used up (then nothing is counted).
    pub fn signin_attempt(
        &self,
        email: &str,
        ip: IpAddr,
        now: Timestamp,
    ) -> Result<(), SignedDuration> {
        let mut account = self.per_account.lock().expect("limits lock");
        let mut per_ip = self.per_ip.lock().expect("limits lock");
        let key = email.to_owned();
        let wait = account.blocked(&key, now).max(per_ip.blocked(&ip, now));
        if let Some(wait) = wait {
            return Err(wait);
        }
        account.record(&key, now);
        per_ip.record(&ip, now);
        Ok(())
    }

    /// The attempt succeeded: the account's failures are forgiven and the
    /// attempt no longer counts against the address.
    pub fn signin_succeeded(&self, email: &str, ip: IpAddr) {
        self.per_account
            .lock()
            .expect("limits lock")
            .clear(&email.to_owned());
        self.per_ip.lock().expect("limits lock").forget_one(&ip);
    }

    /// The attempt never ran (the hashing pool was full): it does not count.
    pub fn signin_not_attempted(&self, email: &str, ip: IpAddr) {
        self.per_account
            .lock()
            .expect("limits lock")
            .forget_one(&email.to_owned());
        self.per_ip.lock().expect("limits lock").forget_one(&ip);
    }

    /// Counts a sign-up attempt from `ip`, or says how long to wait.
    pub fn signup_attempt(&self, ip: IpAddr, now: Timestamp) -> Result<(), SignedDuration> {
        self.signups_per_ip
            .lock()
            .expect("limits lock")
            .try_record(&ip, now)
    }

    fn sweep(&self, now: Timestamp) {
        self.per_account.lock().expect("limits lock").sweep(now);
        self.per_ip.lock().expect("limits lock").sweep(now);
        self.signups_per_ip.lock().expect("limits lock").sweep(now);
    }
}

/// A running Podium.
#[derive(Debug)]
pub struct Server {
    pub http_addr: SocketAddr,
    /// The address to open in a browser.
    pub base_url: String,
    /// The one-time link that creates the first admin, while none exists.
    pub setup_url: Option<String>,
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

fn content_security_policy(host: &str, quic: SocketAddr) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         media-src 'self' blob:; connect-src 'self' https://{host}:{port}; worker-src 'self' blob:; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        port = quic.port()
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
    let host = base_url
        .split("://")
        .nth(1)
        .unwrap_or("podium.invalid")
        .split([':', '/'])
        .next()
        .unwrap_or("podium.invalid")
        .to_owned();
    let mail_ctx = MailContext {
        community: config.community.name.clone(),
        physical_address: config.community.physical_address.clone(),
        base_url: base_url.clone(),
        from_email: mail_from.email.to_string(),
        domain: host,
    };
    let transport = Transport::from_config(&config.mail, &config.server.data_dir)
        .context("setting up mail delivery")?;
    let (effects_tx, effects_rx) = tokio::sync::mpsc::unbounded_channel::<MediaEffect>();
    let state = Arc::new(AppState {
        csp: content_security_policy(&public_host, sfu.local_addr()),
        secure_cookies: base_url.starts_with("https://"),
        mail_ctx,
        mail_from,
        mail_wake: Arc::new(Notify::new()),
        live: LiveHub::new(effects_tx),
        sfu: sfu.clone(),
        public_host,
        limits: SigninLimits::new(&config),
        hasher: HashPool::new(
            config.accounts.password_hash_workers,
            config.accounts.password_hash_queue,
        ),
        metrics: Metrics::default(),
        assets: Assets::load(),
        store,
        clock,
        config,
    });

    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(run(listener, state, transport, effects_rx, rx));
    Ok(Server {
        http_addr,
        base_url,
        setup_url,
        shutdown: Some(tx),
        task,
    })
}

async fn run(
    listener: TcpListener,
    state: Arc<AppState>,
    transport: Transport,
    effects: tokio::sync::mpsc::UnboundedReceiver<MediaEffect>,
    shutdown: oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let bridge = tokio::spawn(media_bridge(effects, state.sfu.clone()));
    let housekeeping = tokio::spawn(housekeeping(state.clone()));
    let mailer = tokio::spawn(sender::run(
        state.clone(),
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

/// Carries the live rooms' media effects out on the media engine.
async fn media_bridge(
    mut effects: tokio::sync::mpsc::UnboundedReceiver<MediaEffect>,
    sfu: podium_media::SfuHandle,
) {
    use std::collections::HashMap;

    use podium_media::{ParticipantId, RoomId, SessionId};
    // Changes for people whose WebTransport session was not up yet: their
    // join token may predate the change (approved between join and connect),
    // so the change is retried until they connect or the token has expired.
    let mut pending: HashMap<(u64, u64), (u32, bool, std::time::Instant)> = HashMap::new();
    let mut retry = tokio::time::interval(Duration::from_millis(250));
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            e = effects.recv() => {
                let Some(e) = e else { return };
                let r = match e {
                    MediaEffect::Open { session } => sfu.open_session(SessionId(session)),
                    MediaEffect::Close { session } => {
                        pending.retain(|(s, _), _| *s != session);
                        sfu.close_session(SessionId(session)).await
                    }
                    MediaEffect::Apply { session, user_id, room, may_publish } => {
                        let r = sfu
                            .move_participant(SessionId(session), ParticipantId(user_id), RoomId(room), may_publish)
                            .await;
                        if r.is_err() {
                            pending.insert((session, user_id), (room, may_publish, std::time::Instant::now()));
                        } else {
                            pending.remove(&(session, user_id));
                        }
                        r
                    }
                    MediaEffect::Remove { session, user_id } => {
                        pending.remove(&(session, user_id));
                        sfu.remove_participant(SessionId(session), ParticipantId(user_id)).await
                    }
                };
                if let Err(err) = r {
                    tracing::debug!(error = %err, "media effect not applied yet");
                }
            }
            _ = retry.tick(), if !pending.is_empty() => {
                pending.retain(|_, (_, _, since)| since.elapsed() < Duration::from_secs(75));
                let due: Vec<_> = pending.iter().map(|(k, v)| (*k, *v)).collect();
                for ((session, user_id), (room, may_publish, _)) in due {
                    let r = sfu
                        .move_participant(SessionId(session), ParticipantId(user_id), RoomId(room), may_publish)
                        .await;
                    if r.is_ok() {
                        pending.remove(&(session, user_id));
                    }
                }
            }
        }
    }
}

impl AppState {
    /// What a browser needs to reach the media engine: the WebTransport URL,
    /// a one-minute join token carrying its room and publish right, and the
    /// certificate hashes when the certificate is self-signed.
    pub fn media_join(
        &self,
        session: &crate::domain::sessions::Session,
        user: &crate::store::User,
        live: &Arc<crate::live::LiveSession>,
    ) -> serde_json::Value {
        use podium_media::{JoinClaims, ParticipantId, RoomId, SessionId};
        let (name, role, room, on_stage) = live.with_room(|r| {
            r.people
                .get(&user.id)
                .map_or((user.name.clone(), "guest", 0, false), |p| {
                    (p.name.clone(), p.role.as_str(), p.room, p.on_stage)
                })
        });
        let claims = JoinClaims {
            session: SessionId(session.id),
            participant: ParticipantId(user.id),
            name,
            role: role.to_owned(),
            room: RoomId(room),
            may_publish: on_stage,
            expires_at: 0,
        }
        .expiring(std::time::SystemTime::now(), Duration::from_secs(60));
        let hashes = match &self.config.live.tls {
            Some(_) => serde_json::Value::Null,
            None => serde_json::json!(
                self.sfu
                    .cert_hashes()
                    .all()
                    .iter()
                    .map(|h| h.to_base64())
                    .collect::<Vec<_>>()
            ),
        };
        serde_json::json!({
            "url": self.sfu.session_url(&self.public_host, SessionId(session.id)),
            "token": self.sfu.token_key().sign(&claims),
            "cert_hashes": hashes,
            "participant_id": user.id,
        })
    }
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
        if let Err(e) = http::sweep_waitlists(&state).await {
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
