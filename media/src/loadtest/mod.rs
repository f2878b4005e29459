//! Load tests: the reference loads of DESIGN.md §5 played by [`bot`](crate::bot)s
//! against the SFU or against the raw-QUIC [`baseline`] fan-out, measuring
//! delivered frames against expected, latency percentiles, throughput, and
//! the server's CPU time and peak memory.
//!
//! Scenarios: `full-session` (50 participants in the main room, 10 publishing
//! ~500 kbps AV1 + Opus, everyone subscribed to every publisher) and
//! `breakouts` (10 breakout rooms of 5, everyone publishing and subscribed to
//! the rest of their room).
//!
//! The server runs in this process ([`Target::InProcess`], its threads named
//! `sfu-*` so their CPU time can be told apart) or elsewhere
//! ([`Target::Remote`], e.g. a `podium serve` child whose pid gives CPU and
//! peak RSS from `/proc`).

pub mod baseline;
pub mod netem;

use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime};

use podium_media_core::{ParticipantId, RoomId};
use serde::Serialize;

use crate::bot::{
    AudioClip, Bot, BotConfig, BotError, DecodeChecks, Publisher, VideoClip, unix_micros,
};
use crate::cert::CertHash;
use crate::config::{FanoutMode, OriginPolicy, SfuConfig};
use crate::error::MediaError;
use crate::procfs;
use crate::token::{JoinClaims, JoinTokenKey, SessionId};

/// Client track id of the bots' camera.
pub const VIDEO_TRACK_ID: u32 = 1;
/// The bots' client track id for their camera's small quality (simulcast).
pub const SMALL_VIDEO_TRACK_ID: u32 = 3;
/// Client track id of the bots' microphone.
pub const AUDIO_TRACK_ID: u32 = 2;

/// A reference load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// 50 participants in the main room, 10 publishing, everyone subscribing to all.
    FullSession,
    /// 10 breakout rooms of 5, everyone publishing and subscribing within the room.
    Breakouts,
}

/// The bots' first participant id: far above the app's user ids, so a bot
/// never stands for a real account (whose grant in the SFU would beat the
/// bot's token and move it, e.g. the admin who drives the test).
pub const FIRST_BOT: u64 = 1_000_001;

impl Scenario {
    /// Both scenarios.
    pub const ALL: [Scenario; 2] = [Scenario::FullSession, Scenario::Breakouts];

    /// The rooms: `(room, members, how many of the first members publish)`.
    pub fn rooms(self) -> Vec<(RoomId, Vec<ParticipantId>, usize)> {
        match self {
            Scenario::FullSession => {
                vec![(
                    RoomId::MAIN,
                    (FIRST_BOT..FIRST_BOT + 50).map(ParticipantId).collect(),
                    10,
                )]
            }
            Scenario::Breakouts => (1..=10u32)
                .map(|r| {
                    let first = FIRST_BOT + u64::from(r - 1) * 5;
                    (
                        RoomId(r),
                        (first..first + 5).map(ParticipantId).collect(),
                        5,
                    )
                })
                .collect(),
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scenario::FullSession => "full-session",
            Scenario::Breakouts => "breakouts",
        })
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "full-session" => Ok(Scenario::FullSession),
            "breakouts" => Ok(Scenario::Breakouts),
            other => Err(format!(
                "unknown scenario {other:?} (full-session, breakouts)"
            )),
        }
    }
}

/// What forwards the frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Podium's SFU.
    Sfu,
    /// The raw-QUIC fan-out ([`baseline`]).
    Baseline,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Sfu => "sfu",
            Mode::Baseline => "baseline",
        })
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sfu" => Ok(Mode::Sfu),
            "baseline" => Ok(Mode::Baseline),
            other => Err(format!("unknown mode {other:?} (sfu, baseline)")),
        }
    }
}

/// Signs join tokens for the target server.
pub type TokenMinter = Arc<dyn Fn(&JoinClaims) -> String + Send + Sync>;

/// A server running elsewhere (e.g. a `podium serve` child on loopback).
#[derive(Clone)]
pub struct RemoteTarget {
    /// `https://host:port` (WebTransport) or `ws://host:port` (WebSocket);
    /// bots connect to `{base_url}/live/{session}`.
    pub base_url: String,
    /// The live session to join (open, or the server opens sessions on demand).
    pub session: SessionId,
    /// The server certificate hashes (empty: trust the system roots).
    pub cert_hashes: Vec<CertHash>,
    /// The `Origin` the bots send.
    pub origin: Option<String>,
    /// Signs the bots' tokens with the server's key.
    pub mint: TokenMinter,
    /// The server's pid, to read its CPU time and peak RSS.
    pub server_pid: Option<u32>,
    /// Another way to the same server (e.g. through a slower link): one
    /// subscriber (the last member of the first room) connects here.
    pub slow_base_url: Option<String>,
}

impl fmt::Debug for RemoteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteTarget")
            .field("base_url", &self.base_url)
            .field("session", &self.session)
            .field("server_pid", &self.server_pid)
            .finish_non_exhaustive()
    }
}

impl RemoteTarget {
    /// A target whose tokens are signed with `key`.
    pub fn with_key(
        base_url: impl Into<String>,
        session: SessionId,
        cert_hashes: Vec<CertHash>,
        key: JoinTokenKey,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            session,
            cert_hashes,
            origin: None,
            mint: Arc::new(move |c| key.sign(c)),
            server_pid: None,
            slow_base_url: None,
        }
    }
}

/// Where the server runs.
#[derive(Debug, Clone)]
pub enum Target {
    /// Start the SFU (or the baseline) in this process, on its own runtime.
    InProcess,
    /// Connect to a running server.
    Remote(RemoteTarget),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadtestConfig {
    /// The load.
    pub scenario: Scenario,
    /// SFU or baseline (the baseline needs a baseline server: in-process, or a remote one).
    pub mode: Mode,
    /// Measurement window.
    pub duration: Duration,
    /// Limit for connecting everyone and the first frames to flow.
    pub warmup_timeout: Duration,
    /// Time after the window for in-flight frames to arrive.
    pub drain: Duration,
    /// Fan-out mode of an in-process SFU.
    pub fanout: FanoutMode,
    /// Publishers also send their camera's small quality (320x180,
    /// `VideoClip::fixture_small`) as a simulcast track (SFU mode only).
    pub simulcast: bool,
}

impl LoadtestConfig {
    /// Defaults: 10 s window, 20 s warm-up limit, 1 s drain, sequential fan-out.
    pub fn new(scenario: Scenario, mode: Mode) -> Self {
        Self {
            scenario,
            mode,
            duration: Duration::from_secs(10),
            warmup_timeout: Duration::from_secs(20),
            drain: Duration::from_secs(1),
            fanout: FanoutMode::Sequential,
            simulcast: true,
        }
    }
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencyMs {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

/// The SFU's own counters during the run (in-process only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SfuCounters {
    /// Keyframe requests sent to publishers.
    pub keyframe_requests: u64,
    /// Groups cut short for lagging subscribers.
    pub group_drops: u64,
    /// Frame deliveries dropped for congestion (upper layers).
    pub congestion_drops: u64,
    /// Mean fan-out time per frame, in microseconds.
    pub fanout_us_per_frame: f64,
    /// Mean fan-out time per delivery, in nanoseconds.
    pub fanout_ns_per_delivery: f64,
}

/// The result of one run; serializes to JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadtestReport {
    /// The scenario.
    pub scenario: Scenario,
    /// SFU or baseline.
    pub mode: Mode,
    /// How the bots reach the server: `webtransport`, or `websocket` (a
    /// `ws://` target: the app's HTTP port, PROTOCOL.md §8).
    pub transport: &'static str,
    /// Fan-out mode (SFU in-process only).
    pub fanout: Option<String>,
    /// Participants.
    pub participants: usize,
    /// Of which publishing.
    pub publishers: usize,
    /// Measurement window in seconds.
    pub duration_s: f64,
    /// Frames published in the window.
    pub frames_sent: u64,
    /// Deliveries if every subscriber got every frame.
    pub deliveries_expected: u64,
    /// Frames of the window received by subscribers.
    pub deliveries: u64,
    /// Their payload bytes.
    pub delivered_bytes: u64,
    /// deliveries / expected.
    pub delivery_ratio: f64,
    /// Publish-to-receive latency of the deliveries.
    pub latency_ms: LatencyMs,
    /// Server CPU time (user + system) from the window start to the end of the drain.
    pub server_cpu_seconds: Option<f64>,
    /// ... per GB delivered.
    pub server_cpu_seconds_per_gb: Option<f64>,
    /// Server peak resident memory (VmHWM).
    pub server_peak_rss_mb: Option<f64>,
    /// How the server was measured: `process` (its own pid), `threads`
    /// (in-process `sfu-*` threads for CPU; RSS then includes the bots), `none`.
    pub server_measured: &'static str,
    /// Delivered payload throughput.
    pub delivered_mbps: f64,
    /// Connections that failed during the handshake (not refused by the
    /// server) and were retried.
    pub connect_retries: u64,
    /// The SFU's counters (in-process SFU only).
    pub sfu: Option<SfuCounters>,
    /// Audio and video figures per class of subscribers.
    pub classes: Vec<ClassFigures>,
    /// What the caller says this run was (network, session number).
    pub label: Option<String>,
}

/// Why a load test could not run.
#[derive(Debug, thiserror::Error)]
pub enum LoadtestError {
    /// Starting the in-process server failed.
    #[error(transparent)]
    Server(#[from] MediaError),
    /// A bot failed to connect or publish.
    #[error("bot {participant}: {error}")]
    Bot {
        /// Which bot.
        participant: u64,
        /// What happened.
        error: BotError,
    },
    /// Not everyone received media before the warm-up limit.
    #[error("warm-up did not finish: {0}")]
    Warmup(String),
    /// The fixture or audio could not be prepared.
    #[error("media: {0}")]
    Media(String),
}

/// A server started by the load test in this process.
struct InProcess {
    runtime: tokio::runtime::Runtime,
    sfu: Option<crate::SfuHandle>,
    baseline: Option<baseline::BaselineServer>,
}

impl InProcess {
    async fn start(
        config: &LoadtestConfig,
        key: JoinTokenKey,
    ) -> Result<(Self, RemoteTarget), LoadtestError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sfu-rt")
            .enable_all()
            .build()
            .map_err(|e| LoadtestError::Media(format!("cannot start the server runtime: {e}")))?;
        let mut sfu_config = SfuConfig::new(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            key.clone(),
            OriginPolicy::AnyOriginInsecure,
        );
        sfu_config.fanout = config.fanout;
        sfu_config.auto_open_sessions = true;
        let session = SessionId(1);
        let (this, addr, hashes) = match config.mode {
            Mode::Sfu => {
                let handle = runtime
                    .spawn(crate::start(sfu_config))
                    .await
                    .map_err(|e| LoadtestError::Media(e.to_string()))??;
                let (addr, hashes) = (handle.local_addr(), handle.cert_hashes());
                (
                    Self {
                        runtime,
                        sfu: Some(handle),
                        baseline: None,
                    },
                    addr,
                    hashes,
                )
            }
            Mode::Baseline => {
                let server = runtime
                    .spawn(async move { baseline::start_baseline(&sfu_config).await })
                    .await
                    .map_err(|e| LoadtestError::Media(e.to_string()))??;
                let (addr, hashes) = (server.local_addr(), server.cert_hashes());
                (
                    Self {
                        runtime,
                        sfu: None,
                        baseline: Some(server),
                    },
                    addr,
                    hashes,
                )
            }
        };
        let target = RemoteTarget::with_key(
            format!("https://127.0.0.1:{}", addr.port()),
            session,
            hashes.all(),
            key,
        );
        Ok((this, target))
    }

    async fn counters(&self, session: SessionId) -> Option<SfuCounters> {
        let sfu = self.sfu.clone()?;
        let stats = self
            .runtime
            .spawn(async move { sfu.stats(session).await })
            .await
            .ok()?
            .ok()?;
        let io = stats.io;
        Some(SfuCounters {
            keyframe_requests: stats.router.keyframe_requests_sent,
            group_drops: stats.router.group_drops,
            congestion_drops: stats.router.drops.congestion,
            fanout_us_per_frame: io.fanout_nanos as f64 / io.fanout_frames.max(1) as f64 / 1000.0,
            fanout_ns_per_delivery: io.fanout_nanos as f64 / io.fanout_deliveries.max(1) as f64,
        })
    }

    async fn stop(self) {
        if let Some(sfu) = self.sfu.clone() {
            let _ = self
                .runtime
                .spawn(async move { sfu.shutdown().await })
                .await;
        }
        if let Some(b) = &self.baseline {
            b.stop();
        }
        self.runtime.shutdown_background();
    }
}

/// CPU and memory of the server, as far as they can be read.
struct ServerMeter {
    pid: Option<u32>,
    in_process: bool,
}

impl ServerMeter {
    fn cpu(&self) -> Option<f64> {
        match (self.pid, self.in_process) {
            (Some(pid), _) => procfs::cpu_seconds(pid).ok(),
            (None, true) => procfs::threads_cpu_seconds(std::process::id(), "sfu-").ok(),
            (None, false) => None,
        }
    }

    fn peak_rss_mb(&self) -> Option<f64> {
        let pid = self.pid.or(self.in_process.then(std::process::id))?;
        procfs::peak_rss_bytes(pid).ok().map(|b| b as f64 / 1e6)
    }

    fn label(&self) -> &'static str {
        match (self.pid, self.in_process) {
            (Some(_), _) => "process",
            (None, true) => "threads",
            (None, false) => "none",
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// Runs one load test. Must be called on a multi-threaded tokio runtime (the
/// bots run there; an in-process server gets a runtime of its own).
pub async fn run(config: &LoadtestConfig, target: Target) -> Result<LoadtestReport, LoadtestError> {
    let (server, remote, meter) = match target {
        Target::InProcess => {
            let (server, remote) = InProcess::start(config, JoinTokenKey::generate()).await?;
            (
                Some(server),
                remote,
                ServerMeter {
                    pid: None,
                    in_process: true,
                },
            )
        }
        Target::Remote(remote) => {
            let pid = remote.server_pid;
            (
                None,
                remote,
                ServerMeter {
                    pid,
                    in_process: false,
                },
            )
        }
    };
    let result = drive(
        config,
        std::slice::from_ref(&remote),
        &meter,
        server.as_ref(),
    )
    .await;
    if let Some(server) = server {
        server.stop().await;
    }
    result.map(|mut r| r.remove(0))
}

/// Runs the same load in several live sessions of one server at once (all
/// connected and warmed up first, then one common measurement window), one
/// report per session. Each report's `server_cpu_seconds` is the server's
/// CPU time divided by the number of sessions, and `server_cpu_seconds_per_gb`
/// the server's CPU time per GB delivered in all sessions together.
pub async fn run_sessions(
    config: &LoadtestConfig,
    targets: &[RemoteTarget],
    server_pid: Option<u32>,
) -> Result<Vec<LoadtestReport>, LoadtestError> {
    let meter = ServerMeter {
        pid: server_pid,
        in_process: false,
    };
    drive(config, targets, &meter, None).await
}

#[derive(Debug, Clone, Copy)]
struct Member {
    id: ParticipantId,
    room: RoomId,
    publishes: bool,
    /// Connected through the target's slow link.
    slow: bool,
}

/// A publishing track of a bot.
struct Track {
    room: RoomId,
    owner: ParticipantId,
    audio: bool,
    publisher: Publisher,
}

/// One session's bots, connected, publishing and warmed up.
struct Prepared {
    url: String,
    bots: Vec<(Member, Bot)>,
    tracks: Vec<Track>,
    /// The small qualities' senders, held so they keep running (dropping a
    /// `Publisher` stops it); their frames are not counted as sent: a
    /// subscriber gets one quality of each camera.
    _small: Vec<Publisher>,
    connect_retries: u64,
}

async fn prepare(
    config: &LoadtestConfig,
    remote: &RemoteTarget,
    video: &Arc<VideoClip>,
    audio: &Arc<AudioClip>,
) -> Result<Prepared, LoadtestError> {
    let url_of = |base: &str| format!("{}/live/{}", base.trim_end_matches('/'), remote.session.0);
    let url = url_of(&remote.base_url);
    let mut plan = Vec::new();
    for (room, members, publishers) in config.scenario.rooms() {
        for (i, &id) in members.iter().enumerate() {
            plan.push(Member {
                id,
                room,
                publishes: i < publishers,
                slow: false,
            });
        }
    }
    // The slow subscriber: the last member of the first room (in the full
    // session, someone who only watches).
    if remote.slow_base_url.is_some() {
        let first_room = plan[0].room;
        if let Some(m) = plan.iter_mut().rev().find(|m| m.room == first_room) {
            m.slow = true;
        }
    }

    // Connect everyone, a few at a time.
    let mut bots: Vec<(Member, Bot)> = Vec::new();
    let mut connect_retries = 0;
    for chunk in plan.chunks(10) {
        let mut set = tokio::task::JoinSet::new();
        for m in chunk {
            let claims = JoinClaims {
                session: remote.session,
                participant: m.id,
                name: format!("bot {}", m.id.0),
                role: if m.publishes { "presenter" } else { "guest" }.into(),
                room: m.room,
                may_publish: m.publishes,
                expires_at: 0,
            }
            .expiring(SystemTime::now(), Duration::from_secs(600));
            let bot_url = match (&remote.slow_base_url, m.slow) {
                (Some(slow), true) => url_of(slow),
                _ => url.clone(),
            };
            let mut bot_config =
                BotConfig::new(bot_url, remote.cert_hashes.clone(), (remote.mint)(&claims));
            bot_config.origin = remote.origin.clone();
            bot_config.auto_subscribe = config.mode == Mode::Sfu;
            bot_config.baseline = config.mode == Mode::Baseline;
            bot_config.decode = DecodeChecks {
                audio_every: 50,
                video_frames_per_track: 1,
            };
            let m = *m;
            set.spawn(async move {
                // A refusal by the SFU (close codes 0-5) is final; anything
                // else is retried, as a browser page would (HTTP/3 errors
                // during the handshake are already retried by `Bot::connect`
                // and counted by `setup_retries`).
                let mut retries = 0u64;
                let result = loop {
                    match Bot::connect(bot_config.clone()).await {
                        Err(e)
                            if retries < 2
                                && !matches!(e, BotError::Closed { code, .. } if code <= 5) =>
                        {
                            retries += 1;
                        }
                        other => break other,
                    }
                };
                (m, result, retries)
            });
        }
        while let Some(joined) = set.join_next().await {
            let (m, bot, retries) = joined.map_err(|e| LoadtestError::Media(e.to_string()))?;
            let bot = bot.map_err(|error| LoadtestError::Bot {
                participant: m.id.0,
                error,
            })?;
            connect_retries += retries + u64::from(bot.setup_retries());
            bots.push((m, bot));
        }
    }
    bots.sort_by_key(|(m, _)| m.id);

    // Publish.
    let mut tracks: Vec<Track> = Vec::new();
    let mut small = Vec::new();
    let small_clip = VideoClip::fixture_small();
    for (m, bot) in &mut bots {
        if !m.publishes {
            continue;
        }
        let err = |error| LoadtestError::Bot {
            participant: m.id.0,
            error,
        };
        let v = bot
            .publish(VIDEO_TRACK_ID, video.track_config())
            .await
            .map_err(err)?;
        let a = bot
            .publish(AUDIO_TRACK_ID, AudioClip::track_config())
            .await
            .map_err(err)?;
        tracks.push(Track {
            room: m.room,
            owner: m.id,
            audio: false,
            publisher: bot.start_video(VIDEO_TRACK_ID, v, video.clone()),
        });
        if config.simulcast && config.mode == Mode::Sfu {
            let s = bot
                .publish_simulcast(
                    SMALL_VIDEO_TRACK_ID,
                    small_clip.track_config(),
                    VIDEO_TRACK_ID,
                )
                .await
                .map_err(err)?;
            small.push(bot.start_video(SMALL_VIDEO_TRACK_ID, s, small_clip.clone()));
        }
        tracks.push(Track {
            room: m.room,
            owner: m.id,
            audio: true,
            publisher: bot.start_audio(AUDIO_TRACK_ID, a, audio.clone()),
        });
    }

    // Warm up: every subscriber receives from every publisher of its room
    // (the slow subscriber is not waited for: on a thin link it may never
    // see video; what it gets is what the run measures).
    for (m, bot) in &bots {
        if m.slow {
            continue;
        }
        let publishers_in_room = tracks.iter().filter(|t| t.room == m.room).count() / 2;
        let others = publishers_in_room - usize::from(m.publishes);
        let ready = match config.mode {
            Mode::Sfu => bot
                .wait_until("every track", config.warmup_timeout, |s| {
                    s.tracks.values().filter(|t| t.keyframes > 0).count() >= 2 * others
                })
                .await
                .map(drop),
            Mode::Baseline => bot
                .wait_until("media from every publisher", config.warmup_timeout, |s| {
                    s.streams as usize >= others && s.datagrams as usize >= 5 * others
                })
                .await
                .map(drop),
        };
        ready.map_err(|e| LoadtestError::Warmup(format!("participant {}: {e}", m.id.0)))?;
    }
    Ok(Prepared {
        url,
        bots,
        tracks,
        _small: small,
        connect_retries,
    })
}

async fn drive(
    config: &LoadtestConfig,
    remotes: &[RemoteTarget],
    meter: &ServerMeter,
    server: Option<&InProcess>,
) -> Result<Vec<LoadtestReport>, LoadtestError> {
    let video = VideoClip::fixture();
    let audio = AudioClip::speech_like(2).map_err(|e| LoadtestError::Media(e.to_string()))?;
    let mut sessions = Vec::new();
    for remote in remotes {
        sessions.push(prepare(config, remote, &video, &audio).await?);
    }

    // Measure: one window for every session.
    let start_us = unix_micros() + 100_000;
    let end_us = start_us + u64::try_from(config.duration.as_micros()).unwrap_or(u64::MAX);
    for (_, bot) in sessions.iter().flat_map(|s| &s.bots) {
        bot.set_window(start_us, end_us);
    }
    let cpu_before = meter.cpu();
    tokio::time::sleep(config.duration + Duration::from_millis(150)).await;
    for t in sessions.iter().flat_map(|s| &s.tracks) {
        t.publisher.stop();
    }
    tokio::time::sleep(config.drain).await;
    let cpu_after = meter.cpu();
    let peak_rss_mb = meter.peak_rss_mb();
    let server_cpu_seconds = cpu_before.zip(cpu_after).map(|(a, b)| b - a);
    let mut reports = Vec::new();
    for (s, remote) in sessions.iter().zip(remotes) {
        let sfu = match server {
            Some(server) => server.counters(remote.session).await,
            None => None,
        };
        reports.push(report(config, s, sfu, meter));
    }
    let all_bytes: u64 = reports.iter().map(|r| r.delivered_bytes).sum();
    let n = reports.len() as f64;
    for r in &mut reports {
        r.server_cpu_seconds = server_cpu_seconds.map(|c| c / n);
        r.server_cpu_seconds_per_gb =
            server_cpu_seconds.map(|c| c / (all_bytes as f64 / 1e9).max(1e-9));
        r.server_peak_rss_mb = peak_rss_mb;
    }
    for (_, bot) in sessions.iter().flat_map(|s| &s.bots) {
        bot.close();
    }
    Ok(reports)
}

/// Audio or video figures of a class of subscribers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct KindFigures {
    /// Frames the class should have received.
    pub expected: u64,
    /// Frames it received.
    pub delivered: u64,
    /// delivered / expected.
    pub ratio: f64,
    /// Share of the expected frames that arrived within 150 ms.
    pub within_150ms: f64,
    /// Latency of the received frames.
    pub latency_ms: LatencyMs,
}

impl KindFigures {
    fn new(expected: u64, mut latencies: Vec<u32>) -> Self {
        latencies.sort_unstable();
        let delivered = latencies.len() as u64;
        let on_time = latencies.partition_point(|&l| l <= 150_000) as u64;
        KindFigures {
            expected,
            delivered,
            ratio: delivered as f64 / expected.max(1) as f64,
            within_150ms: on_time as f64 / expected.max(1) as f64,
            latency_ms: latency_of(&latencies),
        }
    }
}

/// What one class of subscribers (`all`, or `healthy` and `slow` when one
/// subscriber had a slow link) received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassFigures {
    /// `all`, `healthy` or `slow`.
    pub class: &'static str,
    /// Subscribers in the class.
    pub subscribers: usize,
    /// Audio frames.
    pub audio: KindFigures,
    /// Video frames.
    pub video: KindFigures,
}

fn latency_of(sorted: &[u32]) -> LatencyMs {
    LatencyMs {
        p50: percentile(sorted, 0.50),
        p95: percentile(sorted, 0.95),
        p99: percentile(sorted, 0.99),
        max: sorted.last().map_or(0.0, |&l| f64::from(l) / 1000.0),
    }
}

fn report(
    config: &LoadtestConfig,
    s: &Prepared,
    sfu: Option<SfuCounters>,
    meter: &ServerMeter,
) -> LoadtestReport {
    let frames_of = |t: &Track| t.publisher.counters.window_frames.load(Relaxed);
    let frames_sent: u64 = s.tracks.iter().map(frames_of).sum();
    // What each subscriber should get: every frame of the others in its room.
    let expected_for = |m: &Member, audio: bool| -> u64 {
        s.tracks
            .iter()
            .filter(|t| t.room == m.room && t.owner != m.id && t.audio == audio)
            .map(frames_of)
            .sum()
    };
    let has_slow = s.bots.iter().any(|(m, _)| m.slow);
    let class_names: &[&'static str] = if has_slow {
        &["all", "healthy", "slow"]
    } else {
        &["all"]
    };
    let mut classes = Vec::new();
    let mut latencies = Vec::new();
    for &class in class_names {
        let (mut ea, mut ev) = (0, 0);
        let (mut la, mut lv) = (Vec::new(), Vec::new());
        let mut subscribers = 0;
        for (m, bot) in &s.bots {
            let member = match class {
                "healthy" => !m.slow,
                "slow" => m.slow,
                _ => true,
            };
            if !member {
                continue;
            }
            subscribers += 1;
            ea += expected_for(m, true);
            ev += expected_for(m, false);
            let (a, v) = bot.latencies_by_kind_us();
            la.extend(a);
            lv.extend(v);
        }
        if class == "all" {
            latencies.extend_from_slice(&la);
            latencies.extend_from_slice(&lv);
        }
        classes.push(ClassFigures {
            class,
            subscribers,
            audio: KindFigures::new(ea, la),
            video: KindFigures::new(ev, lv),
        });
    }
    let deliveries_expected = classes[0].audio.expected + classes[0].video.expected;
    let (mut deliveries, mut delivered_bytes) = (0, 0);
    for (_, bot) in &s.bots {
        let st = bot.stats();
        deliveries += st.window_frames;
        delivered_bytes += st.window_bytes;
    }
    latencies.sort_unstable();
    let secs = config.duration.as_secs_f64();
    LoadtestReport {
        scenario: config.scenario,
        mode: config.mode,
        transport: if s.url.starts_with("ws://") {
            "websocket"
        } else {
            "webtransport"
        },
        fanout: (config.mode == Mode::Sfu && sfu.is_some()).then(|| format!("{:?}", config.fanout)),
        participants: s.bots.len(),
        publishers: s.bots.iter().filter(|(m, _)| m.publishes).count(),
        duration_s: secs,
        frames_sent,
        deliveries_expected,
        deliveries,
        delivered_bytes,
        delivery_ratio: deliveries as f64 / deliveries_expected.max(1) as f64,
        latency_ms: latency_of(&latencies),
        server_cpu_seconds: None,
        server_cpu_seconds_per_gb: None,
        server_peak_rss_mb: None,
        server_measured: meter.label(),
        delivered_mbps: delivered_bytes as f64 * 8.0 / secs / 1e6,
        connect_retries: s.connect_retries,
        sfu,
        classes,
        label: None,
    }
}

/// A human-readable table of reports.
pub fn table(reports: &[LoadtestReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<13} {:<9} {:<12} {:>7} {:>17} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>7}",
        "scenario",
        "mode",
        "transport",
        "frames",
        "delivered/expect",
        "ratio",
        "Mbps",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "CPU s",
        "CPU s/GB",
        "RSS MB"
    );
    let opt = |v: Option<f64>, prec: usize| v.map_or_else(|| "-".into(), |v| format!("{v:.prec$}"));
    for r in reports {
        if let Some(label) = &r.label {
            let _ = writeln!(out, "# {label}");
        }
        let _ = writeln!(
            out,
            "{:<13} {:<9} {:<12} {:>7} {:>17} {:>7.4} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7} {:>8} {:>7}",
            r.scenario.to_string(),
            r.mode.to_string(),
            r.transport,
            r.frames_sent,
            format!("{}/{}", r.deliveries, r.deliveries_expected),
            r.delivery_ratio,
            r.delivered_mbps,
            r.latency_ms.p50,
            r.latency_ms.p95,
            r.latency_ms.p99,
            opt(r.server_cpu_seconds, 2),
            opt(r.server_cpu_seconds_per_gb, 1),
            opt(r.server_peak_rss_mb, 1),
        );
        for c in &r.classes {
            for (kind, k) in [("audio", &c.audio), ("video", &c.video)] {
                let _ = writeln!(
                    out,
                    "  {:<8} {:>3} subscr. {kind}: delivered {:>6.2} %, within 150 ms {:>6.2} %, p50/p95/p99 {:.1} / {:.1} / {:.1} ms",
                    c.class,
                    c.subscribers,
                    k.ratio * 100.0,
                    k.within_150ms * 100.0,
                    k.latency_ms.p50,
                    k.latency_ms.p95,
                    k.latency_ms.p99,
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_have_the_reference_shape() {
        let full = Scenario::FullSession.rooms();
        assert_eq!(full.len(), 1);
        assert_eq!((full[0].1.len(), full[0].2), (50, 10));
        let breakouts = Scenario::Breakouts.rooms();
        assert_eq!(breakouts.len(), 10);
        assert!(
            breakouts
                .iter()
                .all(|(r, m, p)| !r.is_main() && m.len() == 5 && *p == 5)
        );
        let all: std::collections::BTreeSet<_> =
            breakouts.iter().flat_map(|(_, m, _)| m.clone()).collect();
        assert_eq!(all.len(), 50);
        // Bots never stand for an account of the app (ids count from 1, and
        // the admin who drives `podium loadtest` is user 1: a grant the app
        // sends for it would move that bot; issue 14 saw breakouts at 96 %).
        let full_ids = full[0].1.iter();
        assert!(
            all.iter()
                .chain(full_ids)
                .all(|p| p.0 >= FIRST_BOT && p.0 < FIRST_BOT + 50)
        );
        assert_eq!(
            "breakouts".parse::<Scenario>().unwrap(),
            Scenario::Breakouts
        );
        assert!("nope".parse::<Scenario>().is_err());
    }

    #[test]
    fn percentiles_and_table() {
        let l: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&l, 0.5), 51.0);
        assert_eq!(percentile(&l, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
        let r = LoadtestReport {
            scenario: Scenario::Breakouts,
            mode: Mode::Baseline,
            transport: "webtransport",
            fanout: None,
            participants: 50,
            publishers: 50,
            duration_s: 1.0,
            frames_sent: 10,
            deliveries_expected: 40,
            deliveries: 40,
            delivered_bytes: 1000,
            delivery_ratio: 1.0,
            latency_ms: LatencyMs::default(),
            server_cpu_seconds: None,
            server_cpu_seconds_per_gb: None,
            server_peak_rss_mb: Some(12.0),
            server_measured: "none",
            delivered_mbps: 0.008,
            connect_retries: 0,
            sfu: None,
            classes: vec![ClassFigures {
                class: "all",
                subscribers: 50,
                audio: KindFigures::new(20, vec![1000; 19]),
                video: KindFigures::new(20, vec![100_000, 200_000]),
            }],
            label: Some("clean".into()),
        };
        let t = table(std::slice::from_ref(&r));
        assert!(t.contains("breakouts") && t.contains("40/40"), "{t}");
        assert!(
            t.contains("# clean") && t.contains("within 150 ms  95.00 %"),
            "{t}"
        );
        let video = &r.classes[0].video;
        assert_eq!(
            (video.delivered, video.ratio, video.within_150ms),
            (2, 0.1, 0.05)
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["scenario"], "breakouts");
        assert_eq!(json["latency_ms"]["p99"], 0.0);
    }
}
