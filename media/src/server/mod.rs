//! The SFU's IO edge: the WebTransport endpoint, one task per live session
//! owning its [`Router`](podium_media_core::Router), per-connection tasks, the
//! per-subscriber outgoing queues, the codec workers, and [`SfuHandle`], the
//! app's control-plane API. See `media/README.md` for the design.
//!
//! Threads: tokio's runtime (the app's) runs every task; a small rayon pool
//! (`sfu-fanout-*`) is used by the fan-out when [`FanoutMode`] says so; two
//! codec threads (`sfu-codec-audio`, `sfu-codec-video`) decode samples.

mod acked;
mod connection;
mod fanout;
mod session;
mod taps;
mod websocket;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use podium_media_core::{ParticipantId, RoomId, TrackId};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use wtransport::config::QuicTransportConfig;
use wtransport::endpoint::endpoint_side::Server;
use wtransport::{Endpoint, Identity, ServerConfig, VarInt};

pub use fanout::{FANOUT_BUCKETS_US, IoStats};
pub(crate) use session::close_connection as session_close;
pub use session::{Grant, Member, Refusal, Sending, SessionStats, Transport};
pub use websocket::{AUDIO_MAX_AGE, MAX_OPEN_STREAMS, websocket_accept_key, ws_close_code};

use self::session::{Command, Input, SessionActor, SessionRef};
use self::taps::{Taps, ThumbnailStore};
use crate::cert::{CertHashes, Certificates};
use crate::config::{Congestion, FanoutMode, SfuConfig};
use crate::error::MediaError;
use crate::token::{JoinTokenKey, SessionId};

/// State shared by the endpoint's tasks.
pub(crate) struct Shared {
    pub config: SfuConfig,
    certs: Certificates,
    /// One endpoint per receive socket ([`SfuConfig::receive_sockets`]).
    endpoints: Vec<Endpoint<Server>>,
    sessions: Mutex<HashMap<SessionId, (u64, SessionRef)>>,
    next_generation: AtomicU64,
    pub next_conn: AtomicU64,
    pub pool: rayon::ThreadPool,
    pub taps: Taps,
    pub thumbnails: Arc<ThumbnailStore>,
    /// Joined connections by transport: WebTransport, WebSocket.
    connected: [AtomicU64; 2],
}

/// Counts a joined connection until dropped.
pub(crate) struct Counted<'a>(&'a AtomicU64);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

impl Shared {
    /// Counts a joined connection of this transport while the guard lives.
    pub fn count_connection(&self, transport: Transport) -> Counted<'_> {
        let c = &self.connected[transport as usize];
        c.fetch_add(1, Relaxed);
        Counted(c)
    }

    /// The session's task, opening it if the config says sessions open on demand.
    fn session(self: &Arc<Self>, id: SessionId) -> Option<SessionRef> {
        if let Some(s) = self.existing(id) {
            return Some(s);
        }
        if !self.config.auto_open_sessions {
            return None;
        }
        self.open(id).ok().or_else(|| self.existing(id))
    }

    fn existing(&self, id: SessionId) -> Option<SessionRef> {
        let sessions = self.sessions.lock().expect("sessions lock");
        sessions.get(&id).map(|(_, s)| s.clone())
    }

    fn open(self: &Arc<Self>, id: SessionId) -> Result<SessionRef, MediaError> {
        let mut sessions = self.sessions.lock().expect("sessions lock");
        if sessions.contains_key(&id) {
            return Err(MediaError::SessionExists(id));
        }
        let generation = self.next_generation.fetch_add(1, Relaxed);
        let s = SessionActor::spawn(self.clone(), id, generation);
        sessions.insert(id, (generation, s.clone()));
        Ok(s)
    }

    /// Called by a session task as it ends.
    pub fn forget_session(&self, id: SessionId, generation: u64) {
        let mut sessions = self.sessions.lock().expect("sessions lock");
        if sessions.get(&id).is_some_and(|(g, _)| *g == generation) {
            sessions.remove(&id);
        }
        drop(sessions);
        self.thumbnails.forget_session(id);
    }

    async fn rotate(&self) -> Result<CertHashes, MediaError> {
        let identity = self.certs.rotate().await?;
        for endpoint in &self.endpoints {
            // Not rebound: the bind address in this config is not used.
            let config = server_config(&self.config, identity.clone_identity())?;
            endpoint
                .reload_config(config, false)
                .map_err(|e| MediaError::Certificate(format!("cannot reload the endpoint: {e}")))?;
        }
        let hashes = self.certs.hashes();
        tracing::info!(current = %hashes.current, "certificate rotated");
        Ok(hashes)
    }
}

pub(crate) fn transport_config(c: &SfuConfig) -> Result<QuicTransportConfig, MediaError> {
    let mut t = QuicTransportConfig::default();
    let idle = wtransport::quinn::IdleTimeout::try_from(c.idle_timeout)
        .map_err(|_| MediaError::Config("idle_timeout is too large".into()))?;
    t.max_idle_timeout(Some(idle));
    t.keep_alive_interval(Some(c.keep_alive));
    t.send_window(c.send_window);
    t.datagram_send_buffer_size(c.datagram_send_buffer);
    // Publishers open one stream per group of pictures; leave room for bursts.
    t.max_concurrent_uni_streams(wtransport::quinn::VarInt::from_u32(256));
    use wtransport::quinn::congestion;
    let inner: Arc<dyn congestion::ControllerFactory + Send + Sync> = match c.congestion {
        Congestion::Bbr => Arc::new(congestion::BbrConfig::default()),
        Congestion::Cubic => Arc::new(congestion::CubicConfig::default()),
        Congestion::NewReno => Arc::new(congestion::NewRenoConfig::default()),
    };
    // Wrapped to count acknowledged bytes for the link reports.
    t.congestion_controller_factory(Arc::new(acked::CountingFactory(inner)));
    Ok(t)
}

pub(crate) fn server_config(c: &SfuConfig, identity: Identity) -> Result<ServerConfig, MediaError> {
    Ok(ServerConfig::builder()
        .with_bind_address(c.bind)
        .with_custom_transport(identity, transport_config(c)?)
        .build())
}

/// `n` UDP sockets bound to `addr` with `SO_REUSEPORT` (the first picks
/// the port when `addr`'s is 0; the others bind the same one). The kernel
/// hashes each client's address and port to one of them, so each endpoint
/// receives, decrypts and routes its share of the connections on its own.
/// A client whose address changes mid-connection (QUIC migration, a NAT
/// rebinding) may land on another socket, whose endpoint does not know it:
/// that connection ends and the page reconnects.
fn reuse_port_sockets(addr: SocketAddr, n: usize) -> std::io::Result<Vec<std::net::UdpSocket>> {
    use socket2::{Domain, Protocol, Socket, Type};
    let bind = |addr: SocketAddr| -> std::io::Result<std::net::UdpSocket> {
        let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        s.set_reuse_port(true)?;
        if addr.is_ipv6() {
            s.set_only_v6(false)?;
        }
        s.set_nonblocking(true)?;
        s.bind(&addr.into())?;
        Ok(s.into())
    };
    let first = bind(addr)?;
    let addr = first.local_addr()?;
    let mut sockets = vec![first];
    for _ in 1..n {
        sockets.push(bind(addr)?);
    }
    Ok(sockets)
}

/// The endpoints the config asks for: one bound the usual way, or
/// [`SfuConfig::receive_sockets`] sharing a port.
fn bind_endpoints(c: &SfuConfig, identity: &Identity) -> Result<Vec<Endpoint<Server>>, MediaError> {
    let bind_error = |source| MediaError::Bind {
        addr: c.bind,
        source,
    };
    if c.receive_sockets <= 1 {
        let config = server_config(c, identity.clone_identity())?;
        return Ok(vec![Endpoint::server(config).map_err(bind_error)?]);
    }
    reuse_port_sockets(c.bind, c.receive_sockets)
        .map_err(bind_error)?
        .into_iter()
        .map(|socket| {
            let config = ServerConfig::builder()
                .with_bind_socket(socket)
                .with_custom_transport(identity.clone_identity(), transport_config(c)?)
                .build();
            Endpoint::server(config).map_err(bind_error)
        })
        .collect()
}

/// Starts the SFU on the current tokio runtime: binds the UDP socket, loads or
/// generates the certificate, and accepts WebTransport sessions at
/// `https://HOST:PORT/live/{session}` until [`SfuHandle::shutdown`].
pub async fn start(config: SfuConfig) -> Result<SfuHandle, MediaError> {
    if matches!(config.fanout, FanoutMode::Auto { min_deliveries: 0 }) {
        return Err(MediaError::Config(
            "fanout Auto needs min_deliveries > 0".into(),
        ));
    }
    let certs = Certificates::load(config.certificate.clone()).await?;
    let endpoints = bind_endpoints(&config, &certs.current())?;
    let local_addr = endpoints[0]
        .local_addr()
        .map_err(|source| MediaError::Bind {
            addr: config.bind,
            source,
        })?;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("sfu-fanout-{i}"))
        .build()
        .map_err(|e| MediaError::Config(format!("cannot start the fan-out pool: {e}")))?;
    let thumbnails = Arc::new(ThumbnailStore::default());
    let taps = Taps::spawn(thumbnails.clone())
        .map_err(|e| MediaError::Config(format!("cannot start the codec workers: {e}")))?;
    let rotate_every = certs.rotate_every();
    let shared = Arc::new(Shared {
        config,
        certs,
        endpoints,
        sessions: Mutex::new(HashMap::new()),
        next_generation: AtomicU64::new(1),
        next_conn: AtomicU64::new(1),
        pool,
        taps,
        thumbnails,
        connected: [AtomicU64::new(0), AtomicU64::new(0)],
    });
    let (shutdown, stop) = watch::channel(false);
    let accept = (0..shared.endpoints.len())
        .map(|i| tokio::spawn(accept_loop(shared.clone(), i, stop.clone())))
        .collect();
    if let Some(every) = rotate_every {
        tokio::spawn(rotation_loop(shared.clone(), every, stop));
    }
    tracing::info!(%local_addr, sockets = shared.endpoints.len(), "media endpoint listening");
    Ok(SfuHandle {
        shared,
        local_addr,
        lifecycle: Arc::new(Lifecycle {
            shutdown,
            accept: Mutex::new(accept),
        }),
    })
}

async fn accept_loop(shared: Arc<Shared>, endpoint: usize, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            incoming = shared.endpoints[endpoint].accept() => {
                tokio::spawn(connection::handle_incoming(shared.clone(), incoming));
            }
        }
    }
}

async fn rotation_loop(shared: Arc<Shared>, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(every) => {
                if let Err(e) = shared.rotate().await {
                    tracing::error!("certificate rotation failed: {e}");
                }
            }
        }
    }
}

struct Lifecycle {
    shutdown: watch::Sender<bool>,
    accept: Mutex<Vec<JoinHandle<()>>>,
}

/// The app's handle on the running SFU: certificate hashes, live sessions and
/// their control plane. Cheap to clone.
#[derive(Clone)]
pub struct SfuHandle {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    lifecycle: Arc<Lifecycle>,
}

impl std::fmt::Debug for SfuHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SfuHandle")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl SfuHandle {
    /// The bound UDP address (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The path of a live session's WebTransport URL: `/live/{session}`.
    pub fn session_path(session: SessionId) -> String {
        connection::session_path(session)
    }

    /// The UDP port browsers connect to: the configured public port
    /// ([`SfuConfig::public_port`]), else the bound one.
    pub fn public_port(&self) -> u16 {
        self.shared
            .config
            .public_port
            .unwrap_or(self.local_addr.port())
    }

    /// `https://{host}:{port}/live/{session}`, the URL a page connects to.
    /// `host` is the name or address browsers reach this server at, `port`
    /// its [`public_port`](Self::public_port).
    pub fn session_url(&self, host: &str, session: SessionId) -> String {
        format!(
            "https://{host}:{}{}",
            self.public_port(),
            connection::session_path(session)
        )
    }

    /// Serves a WebSocket for a live session (PROTOCOL.md §8) on a connection
    /// the caller upgraded (`101 Switching Protocols` sent, `Origin` checked:
    /// see [`websocket_accept_key`]). Returns when the connection ends.
    pub async fn serve_websocket<S>(&self, session: SessionId, io: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        websocket::handle_websocket(self.shared.clone(), session, io).await;
    }

    /// Participants connected now, by transport (over all live sessions).
    pub fn connections_by_transport(&self) -> [(Transport, u64); 2] {
        let c = &self.shared.connected;
        [
            (Transport::WebTransport, c[0].load(Relaxed)),
            (Transport::WebSocket, c[1].load(Relaxed)),
        ]
    }

    /// Hashes of the current and next certificate, for `serverCertificateHashes`.
    pub fn cert_hashes(&self) -> CertHashes {
        self.shared.certs.hashes()
    }

    /// Rotates now (self-signed: next becomes current; files: re-read). Existing
    /// sessions keep their connection; new ones get the new certificate.
    pub async fn rotate_certificate(&self) -> Result<CertHashes, MediaError> {
        self.shared.rotate().await
    }

    /// The key join tokens are verified with (to sign tokens in-process).
    pub fn token_key(&self) -> &JoinTokenKey {
        &self.shared.config.token_key
    }

    /// Opens a live session: tokens for it are accepted from now on.
    pub fn open_session(&self, session: SessionId) -> Result<(), MediaError> {
        self.shared.open(session).map(drop)
    }

    /// Ends a live session: every participant is disconnected (close code 0)
    /// and its tokens are refused from now on.
    pub async fn close_session(&self, session: SessionId) -> Result<(), MediaError> {
        let (generation, s) = {
            let sessions = self.shared.sessions.lock().expect("sessions lock");
            sessions
                .get(&session)
                .cloned()
                .ok_or(MediaError::UnknownSession(session))?
        };
        self.shared.forget_session(session, generation);
        let (tx, rx) = oneshot::channel();
        if s.tx.send(Input::Command(Command::Close(tx))).await.is_ok() {
            let _ = rx.await;
        }
        Ok(())
    }

    /// The live sessions.
    pub fn live_sessions(&self) -> Vec<SessionId> {
        let sessions = self.shared.sessions.lock().expect("sessions lock");
        let mut ids: Vec<SessionId> = sessions.keys().copied().collect();
        ids.sort();
        ids
    }

    async fn ask<T>(
        &self,
        session: SessionId,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, MediaError> {
        let s = self
            .shared
            .existing(session)
            .ok_or(MediaError::UnknownSession(session))?;
        let (tx, rx) = oneshot::channel();
        s.tx.send(Input::Command(command(tx)))
            .await
            .map_err(|_| MediaError::UnknownSession(session))?;
        rx.await.map_err(|_| MediaError::UnknownSession(session))
    }

    /// Opens a breakout room (at most [`RouterConfig::max_breakout_rooms`](podium_media_core::RouterConfig::max_breakout_rooms)).
    pub async fn create_breakout_room(
        &self,
        session: SessionId,
        room: RoomId,
    ) -> Result<(), MediaError> {
        self.ask(session, |r| Command::CreateRoom(room, r)).await?
    }

    /// Closes an empty breakout room.
    pub async fn close_breakout_room(
        &self,
        session: SessionId,
        room: RoomId,
    ) -> Result<(), MediaError> {
        self.ask(session, |r| Command::CloseRoom(room, r)).await?
    }

    /// Moves a participant to a room, with its right to publish there.
    pub async fn move_participant(
        &self,
        session: SessionId,
        participant: ParticipantId,
        room: RoomId,
        may_publish: bool,
    ) -> Result<(), MediaError> {
        self.ask(session, |reply| Command::Move {
            participant,
            room,
            may_publish,
            reply,
        })
        .await?
    }

    /// Grants or revokes the right to publish in the participant's room.
    pub async fn set_may_publish(
        &self,
        session: SessionId,
        participant: ParticipantId,
        may_publish: bool,
    ) -> Result<(), MediaError> {
        self.ask(session, |reply| Command::SetMayPublish {
            participant,
            may_publish,
            reply,
        })
        .await?
    }

    /// Disconnects a participant (close code 5, "removed by a moderator").
    pub async fn remove_participant(
        &self,
        session: SessionId,
        participant: ParticipantId,
    ) -> Result<(), MediaError> {
        self.ask(session, |reply| Command::Remove { participant, reply })
            .await?
    }

    /// Sets what the app allows a participant (see [`Grant`]): carried out
    /// at once when it is connected, and on its next join otherwise. Fails
    /// when the room is not open (open it with
    /// [`create_breakout_room`](Self::create_breakout_room) first).
    pub async fn set_grant(
        &self,
        session: SessionId,
        participant: ParticipantId,
        grant: Grant,
    ) -> Result<(), MediaError> {
        self.ask(session, |reply| Command::Grant {
            participant,
            grant,
            reply,
        })
        .await?
    }

    /// The connected participants, by id.
    pub async fn members(&self, session: SessionId) -> Result<Vec<Member>, MediaError> {
        self.ask(session, Command::Members).await
    }

    /// Counters of the session's router and IO edge.
    pub async fn stats(&self, session: SessionId) -> Result<SessionStats, MediaError> {
        self.ask(session, Command::Stats).await
    }

    /// The latest thumbnail (JPEG, at most 160x90) of a video track, if one was made.
    pub fn thumbnail(&self, session: SessionId, track: TrackId) -> Option<Vec<u8>> {
        self.shared.thumbnails.get(session, track)
    }

    /// The latest thumbnail of any of a participant's video tracks.
    pub fn participant_thumbnail(
        &self,
        session: SessionId,
        participant: ParticipantId,
    ) -> Option<Vec<u8>> {
        self.shared.thumbnails.of_participant(session, participant)
    }

    /// Stops accepting, ends every live session (close code 0) and closes the endpoint.
    pub async fn shutdown(&self) {
        let _ = self.lifecycle.shutdown.send(true);
        let accept = std::mem::take(&mut *self.lifecycle.accept.lock().expect("lifecycle lock"));
        for accept in accept {
            let _ = accept.await;
        }
        for session in self.live_sessions() {
            let _ = self.close_session(session).await;
        }
        for endpoint in &self.shared.endpoints {
            endpoint.close(VarInt::from_u32(0), b"server shutting down");
        }
        let idle =
            futures_util::future::join_all(self.shared.endpoints.iter().map(|e| e.wait_idle()));
        let _ = tokio::time::timeout(Duration::from_secs(1), idle).await;
    }
}
