//! A Rust client of the media protocol (PROTOCOL.md), used by the integration
//! tests and by [`loadtest`](crate::loadtest). Like a browser it trusts the
//! server's certificate by hash, sends an `Origin`, opens the control stream,
//! says `Hello` with a join token, publishes real Opus datagrams and real AV1
//! group streams (with L1T3-style layer ids by frame index), subscribes,
//! measures what it receives (frames, bytes, latency from the publish time the
//! sender put in `timestamp_us`), and decodes some of it with libopus / dav1d to
//! prove the bytes arrived intact.

mod clip;
mod link;
mod receive;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use podium_media_core::wire::control::{Hello, Publish, Subscribe, Welcome};
use podium_media_core::wire::media::{
    encode_datagram, encode_redundant_datagram, encode_stream_frame,
};
use podium_media_core::{
    ClientMessage, ControlReader, FrameHeader, PROTOCOL_VERSION, ServerMessage, StreamHeader,
    TrackConfig, TrackId, WireError,
};
use tokio::sync::{Mutex as AsyncMutex, mpsc};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use wtransport::endpoint::ConnectOptions;
use wtransport::endpoint::endpoint_side::Client;
use wtransport::error::{ConnectingError, ConnectionError};
use wtransport::tls::Sha256Digest;
use wtransport::{ClientConfig, Connection, Endpoint};

pub use self::clip::{AUDIO_FRAME, AudioClip, FIXTURE_IVF, VideoClip, VideoFrame};
use self::link::{ControlOut, Link, UniStream};
pub use self::receive::{ReceiveStats, TrackStats};
use self::receive::{Receiver, Window};
use crate::cert::CertHash;

/// What to decode of what a bot receives (decoding proves the bytes are intact).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeChecks {
    /// Decode one audio frame in this many per track (0: none).
    pub audio_every: u32,
    /// Decode up to this many video frames per track (keyframe first, then
    /// in-sequence frames until a gap; then again from the next keyframe).
    pub video_frames_per_track: u32,
}

impl Default for DecodeChecks {
    fn default() -> Self {
        Self {
            audio_every: 1,
            video_frames_per_track: 40,
        }
    }
}

/// How a bot connects and behaves.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// `https://host:port/live/{session}` (WebTransport), or
    /// `ws://host:port/live/{session}` (WebSocket on the app's HTTP port).
    pub url: String,
    /// Accepted certificate hashes (like `serverCertificateHashes`); empty: the
    /// system's CA roots.
    pub cert_hashes: Vec<CertHash>,
    /// The join token.
    pub token: String,
    /// The `Origin` header to send (browsers always send one).
    pub origin: Option<String>,
    /// Local UDP address.
    pub bind: SocketAddr,
    /// Subscribe to every track announced by `TrackAdded`.
    pub auto_subscribe: bool,
    /// Keep control messages for [`Bot::wait_for`] (off for load tests).
    pub keep_events: bool,
    /// QUIC receive windows (connection and stream), or the TCP receive
    /// buffer on WebSocket, to emulate a slow client.
    pub receive_window: Option<u32>,
    /// Read media streams at most this many bytes per second (a slow client).
    pub read_rate: Option<u64>,
    /// What to decode.
    pub decode: DecodeChecks,
    /// Talk to the raw-QUIC baseline server: no subscriptions, no per-track checks.
    pub baseline: bool,
    /// Limit for connecting and the `Welcome`.
    pub connect_timeout: Duration,
}

impl BotConfig {
    /// Defaults: origin unset, auto-subscribe, keep events, full decode checks.
    pub fn new(
        url: impl Into<String>,
        cert_hashes: Vec<CertHash>,
        token: impl Into<String>,
    ) -> Self {
        Self {
            url: url.into(),
            cert_hashes,
            token: token.into(),
            origin: None,
            bind: SocketAddr::from(([0, 0, 0, 0], 0)),
            auto_subscribe: true,
            keep_events: true,
            receive_window: None,
            read_rate: None,
            decode: DecodeChecks::default(),
            baseline: false,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// Sets the `Origin` header.
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }
}

/// Why a bot failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BotError {
    /// The connection could not be made.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The server closed the session with a close code (PROTOCOL.md §6).
    #[error("closed by the server with code {code}: {reason}")]
    Closed {
        /// The close code.
        code: u64,
        /// The reason text.
        reason: String,
    },
    /// The connection was lost otherwise.
    #[error("connection lost: {0}")]
    Lost(String),
    /// The server sent bytes this bot cannot decode.
    #[error("protocol error: {0}")]
    Wire(#[from] WireError),
    /// The server answered a request with `Error`.
    #[error("refused: {code}: {reason}")]
    Refused {
        /// The error code.
        code: String,
        /// The reason.
        reason: String,
    },
    /// Something did not happen in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

impl BotError {
    /// Whether the connection failed in the HTTP/3 layer (the server closed
    /// it with an HTTP/3 error code, 0x100..=0x1ff) rather than by a decision
    /// of the SFU (its close codes are small numbers, PROTOCOL.md §6).
    /// wtransport 0.7.2 can do that during setup under load (it loses part
    /// of a SETTINGS frame that arrives split; see media/tests/it/setup_race.rs),
    /// so [`Bot::connect`] tries again.
    pub fn is_http3_failure(&self) -> bool {
        matches!(
            self,
            BotError::Closed {
                code: 0x100..=0x1ff,
                ..
            }
        )
    }
}

/// How often [`Bot::connect`] tries when the HTTP/3 layer fails during setup.
pub const SETUP_ATTEMPTS: u32 = 3;

/// Runs `attempt` until it succeeds, fails otherwise than in the HTTP/3
/// layer, or has been tried `attempts` times.
async fn retry_http3_failures<T, F, Fut>(attempts: u32, mut attempt: F) -> Result<T, BotError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, BotError>>,
{
    let mut tried = 1;
    loop {
        match attempt().await {
            Err(e) if e.is_http3_failure() && tried < attempts => {
                tracing::debug!(error = %e, tried, "connection setup failed in HTTP/3; trying again");
                tried += 1;
            }
            other => return other,
        }
    }
}

pub(crate) fn closed_error(e: ConnectionError) -> BotError {
    match e {
        ConnectionError::ApplicationClosed(c) => BotError::Closed {
            code: c.code().into_inner(),
            reason: String::from_utf8_lossy(c.reason()).into_owned(),
        },
        other => BotError::Lost(other.to_string()),
    }
}

/// Microseconds since the Unix epoch: the bots' frame timestamps, so a
/// receiver on the same machine computes latency as `now - timestamp_us`.
pub fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Counters of one publishing task.
#[derive(Debug, Default)]
pub struct PublishCounters {
    /// Frames sent.
    pub frames: AtomicU64,
    /// Payload bytes sent.
    pub bytes: AtomicU64,
    /// Frames sent whose timestamp lies in the measurement window.
    pub window_frames: AtomicU64,
    /// Frames that could not be sent (stream or datagram refused).
    pub failed: AtomicU64,
}

/// A running publishing task; stops when dropped.
#[derive(Debug)]
pub struct Publisher {
    /// The global track id.
    pub track: TrackId,
    /// Its counters.
    pub counters: Arc<PublishCounters>,
    task: JoinHandle<()>,
}

impl Publisher {
    /// Stops sending.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A connected bot.
pub struct Bot {
    link: Link,
    conn: Option<Connection>,
    _endpoint: Option<Endpoint<Client>>,
    control: Arc<ControlOut>,
    events: mpsc::UnboundedReceiver<ServerMessage>,
    pending: VecDeque<ServerMessage>,
    welcome: Welcome,
    receiver: Arc<Receiver>,
    window: Arc<Window>,
    tasks: Vec<JoinHandle<()>>,
    setup_retries: u32,
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot")
            .field("participant", &self.welcome.participant)
            .finish_non_exhaustive()
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Bot {
    /// Connects, says `Hello`, and waits for `Welcome`. A setup that fails
    /// in the HTTP/3 layer ([`BotError::is_http3_failure`]) is tried again,
    /// up to [`SETUP_ATTEMPTS`] times within `connect_timeout`.
    pub async fn connect(config: BotConfig) -> Result<Bot, BotError> {
        let limit = config.connect_timeout;
        let mut tries = 0;
        let attempts = retry_http3_failures(SETUP_ATTEMPTS, || {
            tries += 1;
            Self::connect_inner(config.clone())
        });
        let mut bot = tokio::time::timeout(limit, attempts)
            .await
            .map_err(|_| BotError::Timeout("Welcome"))??;
        bot.setup_retries = tries - 1;
        Ok(bot)
    }

    /// How many times the setup was tried again ([`BotError::is_http3_failure`]).
    pub fn setup_retries(&self) -> u32 {
        self.setup_retries
    }

    async fn connect_inner(config: BotConfig) -> Result<Bot, BotError> {
        if config.url.starts_with("ws://") {
            return Self::connect_ws(config).await;
        }
        let builder = ClientConfig::builder().with_bind_address(config.bind);
        let builder = if config.cert_hashes.is_empty() {
            builder.with_native_certs()
        } else {
            builder.with_server_certificate_hashes(
                config.cert_hashes.iter().map(|h| Sha256Digest::new(h.0)),
            )
        };
        let mut client = builder
            .keep_alive_interval(Some(Duration::from_secs(4)))
            .max_idle_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| BotError::Connect(e.to_string()))?
            .build();
        if let Some(window) = config.receive_window {
            let mut t = wtransport::config::QuicTransportConfig::default();
            t.keep_alive_interval(Some(Duration::from_secs(4)));
            let w = wtransport::quinn::VarInt::from_u32(window);
            t.receive_window(w);
            t.stream_receive_window(w);
            client.quic_config_mut().transport_config(Arc::new(t));
        }
        let endpoint = Endpoint::client(client).map_err(|e| BotError::Connect(e.to_string()))?;
        let mut options = ConnectOptions::builder(&config.url);
        if let Some(origin) = &config.origin {
            options = options.add_header("origin", origin);
        }
        let conn = match endpoint.connect(options.build()).await {
            Ok(c) => c,
            Err(ConnectingError::ConnectionError(e)) => return Err(closed_error(e)),
            Err(e) => return Err(BotError::Connect(e.to_string())),
        };
        let lost = |conn: Connection| async move { closed_error(conn.closed().await) };
        let (mut send, mut recv) = match conn.open_bi().await {
            Ok(opening) => match opening.await {
                Ok(s) => s,
                Err(_) => return Err(lost(conn).await),
            },
            Err(_) => return Err(lost(conn).await),
        };
        let hello = ClientMessage::Hello(Hello {
            version: PROTOCOL_VERSION,
            token: config.token.clone(),
        });
        let mut out = Vec::new();
        hello.encode(&mut out)?;
        if send.write_all(&out).await.is_err() {
            return Err(lost(conn).await);
        }
        let mut reader = ControlReader::<ServerMessage>::new();
        let mut buf = vec![0u8; 16 * 1024];
        let welcome = loop {
            if let Some(m) = reader.next_message()? {
                match m {
                    ServerMessage::Welcome(w) => break w,
                    other => {
                        return Err(BotError::Lost(format!(
                            "expected Welcome, got {}",
                            podium_media_core::Message::name(&other)
                        )));
                    }
                }
            }
            match recv.read(&mut buf).await {
                Ok(Some(n)) => reader.push(&buf[..n]),
                _ => return Err(lost(conn).await),
            }
        };
        let control = Arc::new(ControlOut::Wt(AsyncMutex::new(send)));
        let window = Arc::new(Window::default());
        let receiver = Arc::new(Receiver::new(&config, window.clone()));
        let (events_tx, events) = mpsc::unbounded_channel();
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let tasks = vec![
            tokio::spawn(receive::wt_control_pump(recv, control_tx)),
            tokio::spawn(receive::control_task(
                control_rx,
                reader,
                receiver.clone(),
                control.clone(),
                config.auto_subscribe,
                config.keep_events.then_some(events_tx),
            )),
            tokio::spawn(receive::datagram_task(conn.clone(), receiver.clone())),
            tokio::spawn(receive::uni_task(
                conn.clone(),
                receiver.clone(),
                config.read_rate,
            )),
        ];
        Ok(Bot {
            link: Link::Wt(conn.clone()),
            conn: Some(conn),
            _endpoint: Some(endpoint),
            control,
            events,
            pending: VecDeque::new(),
            welcome,
            receiver,
            window,
            tasks,
            setup_retries: 0,
        })
    }

    async fn connect_ws(config: BotConfig) -> Result<Bot, BotError> {
        let (ws, mut source, closed) =
            link::connect_ws(&config.url, config.origin.as_deref(), config.receive_window).await?;
        let control = Arc::new(ControlOut::Ws(ws.clone()));
        let hello = ClientMessage::Hello(Hello {
            version: PROTOCOL_VERSION,
            token: config.token.clone(),
        });
        let mut out = Vec::new();
        hello.encode(&mut out)?;
        control.write_all(&out).await?;
        let mut reader = ControlReader::<ServerMessage>::new();
        let welcome = loop {
            if let Some(m) = reader.next_message()? {
                match m {
                    ServerMessage::Welcome(w) => break w,
                    other => {
                        return Err(BotError::Lost(format!(
                            "expected Welcome, got {}",
                            podium_media_core::Message::name(&other)
                        )));
                    }
                }
            }
            let bytes = link::next_ws(&mut source).await?;
            match podium_media_core::wire::ws::WsMessage::decode(&bytes)? {
                podium_media_core::wire::ws::WsMessage::Control(b) => reader.push(b),
                _ => return Err(BotError::Lost("media before Welcome".into())),
            }
        };
        let window = Arc::new(Window::default());
        let receiver = Arc::new(Receiver::new(&config, window.clone()));
        let (events_tx, events) = mpsc::unbounded_channel();
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let tasks = vec![
            tokio::spawn(link::ws_reader(
                source,
                control_tx,
                receiver.clone(),
                config.read_rate,
                closed,
            )),
            tokio::spawn(receive::control_task(
                control_rx,
                reader,
                receiver.clone(),
                control.clone(),
                config.auto_subscribe,
                config.keep_events.then_some(events_tx),
            )),
        ];
        Ok(Bot {
            link: Link::Ws(ws),
            conn: None,
            _endpoint: None,
            control,
            events,
            pending: VecDeque::new(),
            welcome,
            receiver,
            window,
            tasks,
            setup_retries: 0,
        })
    }

    /// The `Welcome` the server sent.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// The underlying WebTransport connection (for raw protocol tests).
    ///
    /// # Panics
    /// On a WebSocket bot.
    pub fn connection(&self) -> &Connection {
        self.conn.as_ref().expect("a WebTransport bot")
    }

    /// Sends one raw WebSocket message (for tests of bad input); false on a
    /// WebTransport bot or a closed socket.
    pub fn send_ws_raw(&self, message: tokio_tungstenite::tungstenite::Message) -> bool {
        match &self.link {
            Link::Ws(w) => w.send_raw(message),
            Link::Wt(_) => false,
        }
    }

    /// Sends a control message.
    pub async fn send(&self, message: impl Into<ClientMessage>) -> Result<(), BotError> {
        let mut out = Vec::new();
        message.into().encode(&mut out)?;
        self.send_raw_control(&out).await
    }

    /// Writes raw bytes on the control stream.
    pub async fn send_raw_control(&self, bytes: &[u8]) -> Result<(), BotError> {
        self.control.write_all(bytes).await
    }

    /// Waits for a control message matching `pred` (earlier unmatched ones are
    /// kept for later calls; see [`take_events`](Self::take_events)).
    pub async fn wait_for(
        &mut self,
        what: &'static str,
        timeout: Duration,
        pred: impl Fn(&ServerMessage) -> bool,
    ) -> Result<ServerMessage, BotError> {
        if let Some(i) = self.pending.iter().position(&pred) {
            return Ok(self.pending.remove(i).expect("index from position"));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => return Err(BotError::Timeout(what)),
                Ok(None) => return Err(self.link.closed().await),
                Ok(Some(m)) if pred(&m) => return Ok(m),
                Ok(Some(m)) => self.pending.push_back(m),
            }
        }
    }

    /// The control messages received and not yet consumed by [`wait_for`](Self::wait_for).
    pub fn take_events(&mut self) -> Vec<ServerMessage> {
        while let Ok(m) = self.events.try_recv() {
            self.pending.push_back(m);
        }
        self.pending.drain(..).collect()
    }

    /// Publishes a track and waits for `Published` (or the `Error` refusing it).
    pub async fn publish(
        &mut self,
        track_id: u32,
        config: TrackConfig,
    ) -> Result<TrackId, BotError> {
        self.publish_as(track_id, config, None).await
    }

    /// Publishes the small quality of our video track `of` (simulcast) and
    /// waits for `Published` (or the `Error` refusing it).
    pub async fn publish_simulcast(
        &mut self,
        track_id: u32,
        config: TrackConfig,
        of: u32,
    ) -> Result<TrackId, BotError> {
        self.publish_as(track_id, config, Some(of)).await
    }

    async fn publish_as(
        &mut self,
        track_id: u32,
        config: TrackConfig,
        simulcast_of: Option<u32>,
    ) -> Result<TrackId, BotError> {
        self.send(Publish {
            track_id,
            config,
            simulcast_of,
        })
        .await?;
        let answer = self
            .wait_for("Published", Duration::from_secs(10), |m| match m {
                ServerMessage::Published(p) => p.track_id == track_id,
                ServerMessage::Error(_) => true,
                _ => false,
            })
            .await?;
        match answer {
            ServerMessage::Published(p) => Ok(p.track),
            ServerMessage::Error(e) => Err(BotError::Refused {
                code: e.code,
                reason: e.reason,
            }),
            _ => unreachable!("filtered above"),
        }
    }

    /// Subscribes to a track.
    pub async fn subscribe(&self, track: TrackId) -> Result<(), BotError> {
        self.send(Subscribe { track }).await
    }

    /// Starts sending the audio clip in a loop on `track_id`, one datagram per 20 ms.
    pub fn start_audio(&self, track_id: u32, track: TrackId, clip: Arc<AudioClip>) -> Publisher {
        let counters = Arc::new(PublishCounters::default());
        let task = tokio::spawn(send_audio(
            self.link.clone(),
            track_id,
            clip,
            counters.clone(),
            self.window.clone(),
        ));
        Publisher {
            track,
            counters,
            task,
        }
    }

    /// Starts sending the video clip in a loop on `track_id`: one stream per
    /// group, at the clip's frame rate, jumping to the next keyframe when the
    /// server asks for one.
    pub fn start_video(&self, track_id: u32, track: TrackId, clip: Arc<VideoClip>) -> Publisher {
        let counters = Arc::new(PublishCounters::default());
        let wanted = self.receiver.keyframe_flag(track_id);
        let task = tokio::spawn(send_video(
            self.link.clone(),
            track_id,
            clip,
            counters.clone(),
            self.window.clone(),
            wanted,
        ));
        Publisher {
            track,
            counters,
            task,
        }
    }

    /// Counts only frames whose timestamp lies in `[start_us, end_us)` in the
    /// window counters (sent and received) and latencies.
    pub fn set_window(&self, start_us: u64, end_us: u64) {
        self.window.set(start_us, end_us);
    }

    /// A snapshot of what was received.
    pub fn stats(&self) -> ReceiveStats {
        self.receiver.snapshot()
    }

    /// Latencies (µs) of the frames received in the window.
    pub fn latencies_us(&self) -> Vec<u32> {
        self.receiver.latencies()
    }

    /// Latencies (µs) of the audio and of the video frames received in the window.
    pub fn latencies_by_kind_us(&self) -> (Vec<u32>, Vec<u32>) {
        self.receiver.latencies_by_kind()
    }

    /// Waits until the receive stats satisfy `pred`.
    pub async fn wait_until(
        &self,
        what: &'static str,
        timeout: Duration,
        pred: impl Fn(&ReceiveStats) -> bool,
    ) -> Result<ReceiveStats, BotError> {
        self.receiver.wait_until(what, timeout, pred).await
    }

    /// Waits for the connection to close and returns why.
    pub async fn closed(&self) -> BotError {
        self.link.closed().await
    }

    /// Leaves (close code 0).
    pub fn close(&self) {
        self.link.close();
    }
}

async fn send_audio(
    conn: Link,
    track_id: u32,
    clip: Arc<AudioClip>,
    counters: Arc<PublishCounters>,
    window: Arc<Window>,
) {
    let mut tick = tokio::time::interval(AUDIO_FRAME);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut out = BytesMut::with_capacity(1500);
    // Over QUIC each datagram carries a copy of the frame before it, as the
    // browser's sender does: one lost datagram costs no audio.
    let redundant = matches!(conn, Link::Wt(_));
    let mut previous: Option<FrameHeader> = None;
    for sequence in 0u64.. {
        tick.tick().await;
        let packet = &clip.packets[sequence as usize % clip.packets.len()];
        let header = FrameHeader {
            track: track_id,
            group: 0,
            sequence,
            timestamp_us: unix_micros(),
            keyframe: true,
            temporal_layer: 0,
        };
        out.clear();
        let earlier = previous.filter(|_| redundant).map(|h| {
            (
                h,
                &clip.packets[h.sequence as usize % clip.packets.len()][..],
            )
        });
        previous = Some(header);
        let encoded = match earlier {
            Some(e) => encode_redundant_datagram(&header, packet, &[e], &mut out).or_else(|_| {
                out.clear();
                encode_datagram(&header, packet, &mut out)
            }),
            None => encode_datagram(&header, packet, &mut out),
        };
        if encoded.is_err() || !conn.send_datagram(&out) {
            counters.failed.fetch_add(1, Relaxed);
            continue;
        }
        counters.frames.fetch_add(1, Relaxed);
        counters.bytes.fetch_add(packet.len() as u64, Relaxed);
        if window.contains(header.timestamp_us) {
            counters.window_frames.fetch_add(1, Relaxed);
        }
    }
}

/// L1T3 temporal layer of the `index`-th frame of a group: 0, 2, 1, 2, 0, ...
pub fn l1t3_layer(index: u64) -> u8 {
    [0, 2, 1, 2][(index % 4) as usize]
}

async fn send_video(
    conn: Link,
    track_id: u32,
    clip: Arc<VideoClip>,
    counters: Arc<PublishCounters>,
    window: Arc<Window>,
    keyframe_wanted: Arc<AtomicBool>,
) {
    let mut tick = tokio::time::interval(clip.frame_duration);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let (mut index, mut group, mut sequence, mut in_group) = (0usize, 0u64, 0u64, 0u64);
    let mut stream: Option<UniStream> = None;
    let mut out = BytesMut::with_capacity(64 * 1024);
    loop {
        tick.tick().await;
        if keyframe_wanted.swap(false, Relaxed) && !clip.frames[index].keyframe {
            index = clip.next_keyframe_after(index);
        }
        let frame = &clip.frames[index];
        if frame.keyframe {
            if let Some(mut old) = stream.take() {
                old.finish().await;
            }
            group += 1;
            in_group = 0;
            let Some(s) = conn.open_uni(StreamHeader::video(track_id, group)).await else {
                counters.failed.fetch_add(1, Relaxed);
                return;
            };
            stream = Some(s);
        }
        let Some(s) = stream.as_mut() else {
            // Lost the group's stream: wait for the next keyframe.
            index = clip.next_keyframe_after(index);
            continue;
        };
        let header = FrameHeader {
            track: track_id,
            group,
            sequence,
            timestamp_us: unix_micros(),
            keyframe: frame.keyframe,
            temporal_layer: l1t3_layer(in_group),
        };
        out.clear();
        encode_stream_frame(&header, &frame.data, &mut out).expect("frame fits");
        if !s.write_all(&out).await {
            counters.failed.fetch_add(1, Relaxed);
            stream = None;
        } else {
            counters.frames.fetch_add(1, Relaxed);
            counters.bytes.fetch_add(frame.data.len() as u64, Relaxed);
            if window.contains(header.timestamp_us) {
                counters.window_frames.fetch_add(1, Relaxed);
            }
        }
        sequence += 1;
        in_group += 1;
        index = (index + 1) % clip.frames.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(code: u64) -> BotError {
        BotError::Closed {
            code,
            reason: String::new(),
        }
    }

    #[tokio::test]
    async fn http3_setup_failures_are_retried_and_nothing_else_is() {
        // 261 (H3_FRAME_UNEXPECTED) twice, then it works: connected.
        let mut calls = 0;
        let got = retry_http3_failures(3, || {
            calls += 1;
            let r = if calls < 3 {
                Err(closed(261))
            } else {
                Ok(calls)
            };
            async move { r }
        })
        .await;
        assert_eq!(got, Ok(3));
        // Always 261: given up after three attempts, with the error.
        let mut calls = 0;
        let got: Result<(), _> = retry_http3_failures(3, || {
            calls += 1;
            async { Err(closed(261)) }
        })
        .await;
        assert_eq!((got, calls), (Err(closed(261)), 3));
        // The SFU's own refusals (code 3: unauthorized) are final.
        let mut calls = 0;
        let got: Result<(), _> = retry_http3_failures(3, || {
            calls += 1;
            async { Err(closed(3)) }
        })
        .await;
        assert_eq!((got, calls), (Err(closed(3)), 1));
        assert!(!BotError::Timeout("Welcome").is_http3_failure());
    }
}
