//! One live session's router task: the only owner of its [`Router`]. Connection
//! tasks and the app's handle send it [`Input`]s; it feeds them to the router,
//! carries out each frame's [`ForwardPlan`] (see [`fanout`](super::fanout)),
//! drains [`Router::poll_output`] after every input, re-arms its timer from
//! [`Router::poll_timeout`], and reports subscriber backlogs every
//! [`SfuConfig::backlog_report_interval`](crate::SfuConfig::backlog_report_interval)
//! and whenever one crosses a threshold.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bytes::Bytes;
use podium_media_core::{
    Action, CacheOp, ClientMessage, CloseCode, Codec, ForwardPlan, FrameHeader, MediaKind, Message,
    Millis, Output, ParticipantId, RoomId, Router, ServerMessage, Stats, TrackId,
};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;
use wtransport::{Connection, VarInt};

use super::Shared;
use super::fanout::{
    IoCounters, IoStats, LinkSample, PeerQueue, PreparedFrame, SubscriberQueue, fan_out,
};
use super::taps::{AudioJob, ThumbJob};
use super::websocket::WsQueue;
use crate::error::MediaError;
use crate::token::{JoinClaims, SessionId};

/// Inputs queued per session task before connection readers wait.
pub(crate) const INPUT_QUEUE: usize = 8192;
/// Encoded control messages queued per connection; a client that lets more
/// pile up is not reading its control stream and is closed.
const CONTROL_QUEUE: usize = 1024;

type Reply<T> = oneshot::Sender<Result<T, MediaError>>;

/// A control-plane request from the app.
pub(crate) enum Command {
    CreateRoom(RoomId, Reply<()>),
    CloseRoom(RoomId, Reply<()>),
    Move {
        participant: ParticipantId,
        room: RoomId,
        may_publish: bool,
        reply: Reply<()>,
    },
    SetMayPublish {
        participant: ParticipantId,
        may_publish: bool,
        reply: Reply<()>,
    },
    Remove {
        participant: ParticipantId,
        reply: Reply<()>,
    },
    Grant {
        participant: ParticipantId,
        grant: Grant,
        reply: Reply<()>,
    },
    Members(oneshot::Sender<Vec<Member>>),
    Stats(oneshot::Sender<SessionStats>),
    Close(oneshot::Sender<()>),
}

/// What the app currently allows one participant. It beats the claims of
/// any join token: a token only proves who connects, the grant says where
/// they are and whether they may publish. Every change of room, stage or
/// presence in the app replaces the grant, so an older token can never bring
/// back a right the room has taken away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// In this room, publishing or not.
    Admit {
        /// The room (it must be open).
        room: RoomId,
        /// Whether the participant may publish there.
        may_publish: bool,
        /// Whether its audio may reach anyone (false: a moderator muted it).
        microphone: bool,
    },
    /// Not in the live room: connections are closed and tokens refused.
    Refuse(Refusal),
}

/// Why a participant is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// They left the live room (a new join brings them back).
    Left,
    /// A host removed them.
    Removed,
}

impl Refusal {
    fn close(self) -> (CloseCode, &'static str) {
        match self {
            Refusal::Left => (CloseCode::Normal, "left: you left the live room"),
            Refusal::Removed => (CloseCode::Removed, "removed: by a moderator"),
        }
    }
}

/// What the session task is asked to do.
pub(crate) enum Input {
    /// A connection presented a valid token.
    Join {
        link: Arc<ConnLink>,
        claims: JoinClaims,
        reply: oneshot::Sender<Result<(), (CloseCode, String)>>,
    },
    /// A decoded control message (not `Hello`).
    Control {
        conn: u64,
        from: ParticipantId,
        message: ClientMessage,
    },
    /// A media frame as the publisher sent it.
    Frame {
        conn: u64,
        from: ParticipantId,
        header: FrameHeader,
        payload: Bytes,
    },
    /// The connection is gone.
    Closed {
        conn: u64,
        from: ParticipantId,
    },
    /// A codec worker measured an audio level.
    AudioLevel {
        track: TrackId,
        level: u8,
    },
    Command(Command),
}

/// A participant connected to a live session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// Participant id.
    pub participant: ParticipantId,
    /// Display name from the token.
    pub name: String,
    /// Role from the token.
    pub role: String,
    /// Current room.
    pub room: RoomId,
    /// Whether it may publish there.
    pub may_publish: bool,
    /// What its frames really carry now (tracks with a frame in the last 2 s).
    pub sending: Sending,
    /// How its media travels.
    pub transport: Transport,
}

/// What a participant is really sending: a track counts while its frames
/// arrive, not because it was announced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sending {
    pub camera: bool,
    pub microphone: bool,
    pub screen: bool,
}

/// A track counts as flowing while a frame arrived within this many ms.
const FLOWING_MS: u64 = 2000;

/// Counters of one live session.
#[derive(Debug, Clone)]
pub struct SessionStats {
    /// The router's counters (frames, deliveries, drops, rejects, keyframe requests).
    pub router: Stats,
    /// The IO edge's counters.
    pub io: IoStats,
    /// Participants connected.
    pub connected: usize,
    /// Open rooms, main room first.
    pub rooms: Vec<RoomId>,
    /// Bytes queued for each connected participant now.
    pub queued: Vec<u64>,
    /// Which opening of the session this is (a session closed and opened
    /// again starts its counters from zero under a new generation).
    pub generation: u64,
}

/// Closes a connection with a PROTOCOL.md §6 close code and a short reason.
pub(crate) fn close_connection(conn: &Connection, code: CloseCode, reason: &str) {
    let mut end = reason.len().min(200);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    conn.close(VarInt::from_u32(code as u32), &reason.as_bytes()[..end]);
}

/// How connections and the handle reach a session task.
#[derive(Clone)]
pub(crate) struct SessionRef {
    pub tx: mpsc::Sender<Input>,
    pub counters: Arc<IoCounters>,
}

/// How media reaches a participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// WebTransport over QUIC (UDP).
    WebTransport = 0,
    /// WebSocket on the app's HTTP port (TCP), PROTOCOL.md §8.
    WebSocket = 1,
}

impl Transport {
    /// `webtransport` or `websocket`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::WebTransport => "webtransport",
            Transport::WebSocket => "websocket",
        }
    }
}

/// The connection under a link.
pub(crate) enum Wire {
    Quic(Connection),
    Ws(Arc<WsQueue>),
}

/// The session task's link to one connection.
pub(crate) struct ConnLink {
    pub id: u64,
    pub wire: Wire,
    control: mpsc::Sender<Bytes>,
}

impl ConnLink {
    pub fn new(id: u64, wire: Wire) -> (Arc<Self>, mpsc::Receiver<Bytes>) {
        let (control, rx) = mpsc::channel(CONTROL_QUEUE);
        (Arc::new(Self { id, wire, control }), rx)
    }

    pub fn transport(&self) -> Transport {
        match self.wire {
            Wire::Quic(_) => Transport::WebTransport,
            Wire::Ws(_) => Transport::WebSocket,
        }
    }

    fn send(&self, message: &ServerMessage) {
        let mut out = Vec::new();
        if let Err(e) = message.encode(&mut out) {
            tracing::warn!("cannot encode {}: {e}", message.name());
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = self.control.try_send(Bytes::from(out)) {
            self.close(
                CloseCode::ProtocolError,
                "control_backlog: the control stream is not being read",
            );
        }
    }

    pub fn close(&self, code: CloseCode, reason: &str) {
        match &self.wire {
            Wire::Quic(conn) => close_connection(conn, code, reason),
            Wire::Ws(q) => q.close(code, reason),
        }
    }
}

struct Peer {
    link: Arc<ConnLink>,
    queue: PeerQueue,
    name: String,
    role: String,
    /// Backlog level last reported: 0 fine, 1-3 above each threshold.
    level: u8,
    /// The transport's counters at the last link report.
    last_sample: Option<(Instant, LinkSample)>,
}

/// The frames of a video track's current group, from its keyframe, as the
/// router's [`CacheOp`]s say: subscribers that need a start get them
/// ([`Action::Replay`]) instead of a keyframe from the publisher.
struct GroupCache {
    group: u64,
    /// (temporal layer, frame) in arrival order.
    frames: Vec<(u8, PreparedFrame)>,
}

/// The router task of one live session.
pub(crate) struct SessionActor {
    id: SessionId,
    generation: u64,
    shared: Arc<Shared>,
    router: Router,
    epoch: Instant,
    peers: HashMap<ParticipantId, Peer>,
    plan: ForwardPlan,
    counters: Arc<IoCounters>,
    me: mpsc::WeakSender<Input>,
    audio_seen: HashMap<TrackId, u32>,
    thumbnail_at: HashMap<TrackId, Instant>,
    rising: Vec<ParticipantId>,
    ticks: u64,
    /// The app's word on each participant it manages (see [`Grant`]).
    grants: HashMap<ParticipantId, Grant>,
    /// Connected participants on WebSocket (frames get their WebSocket form when > 0).
    ws_peers: usize,
    /// Keyframe cache: each video track's current group.
    groups: HashMap<TrackId, GroupCache>,
    /// Each audio track's last forwarded frame (outgoing header, payload):
    /// the copy the next redundant datagram carries.
    last_audio: HashMap<TrackId, (FrameHeader, Bytes)>,
}

impl SessionActor {
    /// Starts the task; it ends on [`Command::Close`] or when every sender is gone.
    pub fn spawn(shared: Arc<Shared>, id: SessionId, generation: u64) -> SessionRef {
        let (tx, rx) = mpsc::channel(INPUT_QUEUE);
        let counters = Arc::<IoCounters>::default();
        let actor = SessionActor {
            id,
            generation,
            router: Router::new(shared.config.router.clone()),
            shared,
            epoch: Instant::now(),
            peers: HashMap::new(),
            plan: ForwardPlan::new(),
            counters: counters.clone(),
            me: tx.downgrade(),
            audio_seen: HashMap::new(),
            thumbnail_at: HashMap::new(),
            rising: Vec::new(),
            ticks: 0,
            grants: HashMap::new(),
            ws_peers: 0,
            groups: HashMap::new(),
            last_audio: HashMap::new(),
        };
        let span = tracing::info_span!("session", id = id.0);
        tokio::spawn(tracing::Instrument::instrument(actor.run(rx), span));
        SessionRef { tx, counters }
    }

    fn now(&self) -> Millis {
        Millis(u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Input>) {
        let mut tick = tokio::time::interval(self.shared.config.backlog_report_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut closed_by: Option<oneshot::Sender<()>> = None;
        loop {
            let deadline = self
                .router
                .poll_timeout()
                .map(|m| self.epoch + Duration::from_millis(m.0));
            tokio::select! {
                biased;
                _ = tick.tick() => self.on_tick(),
                () = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now).into()),
                    if deadline.is_some() => self.router.handle_timeout(self.now()),
                input = rx.recv() => match input {
                    None => break,
                    Some(Input::Command(Command::Close(done))) => {
                        closed_by = Some(done);
                        break;
                    }
                    Some(input) => self.handle(input),
                },
            }
            self.drain_outputs();
        }
        for (_, peer) in self.peers.drain() {
            peer.link
                .close(CloseCode::Normal, "session_ended: the live session ended");
            peer.queue.reset_all();
        }
        drop(rx);
        self.shared.forget_session(self.id, self.generation);
        if let Some(done) = closed_by {
            let _ = done.send(());
        }
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Join {
                link,
                claims,
                reply,
            } => {
                let result = self.join(link, claims);
                let _ = reply.send(result);
            }
            Input::Control {
                conn,
                from,
                message,
            } => {
                if self.is_current(conn, from) {
                    // A refused request is answered with an `Error` by the router.
                    let _ = self.router.handle_control(self.now(), from, message);
                }
            }
            Input::Frame {
                conn,
                from,
                header,
                payload,
            } => {
                if self.is_current(conn, from) {
                    self.frame(from, &header, payload);
                }
            }
            Input::Closed { conn, from } => {
                if self.is_current(conn, from) {
                    self.remove(from);
                }
            }
            Input::AudioLevel { track, level } => {
                let _ = self.router.handle_audio_level(self.now(), track, level);
            }
            Input::Command(c) => self.command(c),
        }
    }

    fn is_current(&self, conn: u64, from: ParticipantId) -> bool {
        self.peers.get(&from).is_some_and(|p| p.link.id == conn)
    }

    fn join(&mut self, link: Arc<ConnLink>, claims: JoinClaims) -> Result<(), (CloseCode, String)> {
        let now = self.now();
        let p = claims.participant;
        // The app's current grant beats the token's claims; a participant the
        // app never mentioned (load tests, bots with a shared key) is admitted
        // as the token says, opening the room it names.
        let (room, may_publish, microphone) = match self.grants.get(&p) {
            Some(Grant::Refuse(why)) => {
                let (code, reason) = why.close();
                tracing::info!(participant = p.0, reason, "token refused by the grant");
                return Err((code, reason.to_owned()));
            }
            Some(Grant::Admit {
                room,
                may_publish,
                microphone,
            }) => (*room, *may_publish, *microphone),
            None => (claims.room, claims.may_publish, true),
        };
        if let Some(old) = self.peers.remove(&p) {
            tracing::info!(participant = p.0, "replaced by a new connection");
            old.link.close(
                CloseCode::Replaced,
                "replaced: the same participant connected again",
            );
            old.queue.reset_all();
            let _ = self.router.leave(now, p);
            self.drain_outputs();
        }
        let refused = |e: podium_media_core::RouterError| {
            (CloseCode::Unauthorized, format!("{}: {e}", e.code()))
        };
        if !self.grants.contains_key(&p) && !self.router.rooms().any(|r| r == room) {
            self.router.create_breakout_room(room).map_err(refused)?;
        }
        let queue = match &link.wire {
            Wire::Quic(conn) => PeerQueue::Quic(SubscriberQueue::new(
                conn.clone(),
                self.shared.config.subscriber_queue_limit,
                self.shared.config.stale_group_timeout,
                tokio::runtime::Handle::current(),
                self.counters.clone(),
            )),
            Wire::Ws(q) => PeerQueue::Ws(q.clone()),
        };
        self.peers.insert(
            p,
            Peer {
                link,
                queue,
                name: claims.name.clone(),
                role: claims.role.clone(),
                level: 0,
                last_sample: None,
            },
        );
        let joined = self.router.join(now, p, &claims.name, room, may_publish);
        self.count_ws();
        match joined {
            Ok(()) => {
                let _ = self.router.set_audio_blocked(p, !microphone);
                tracing::info!(participant = p.0, room = room.0, may_publish, "joined");
                Ok(())
            }
            Err(e) => {
                self.peers.remove(&p);
                self.count_ws();
                Err(refused(e))
            }
        }
    }

    /// Records the app's grant and carries it out on a connected participant.
    fn grant(&mut self, participant: ParticipantId, grant: Grant) -> Result<(), MediaError> {
        let now = self.now();
        match grant {
            Grant::Admit {
                room,
                may_publish,
                microphone,
            } => {
                if !self.router.rooms().any(|r| r == room) {
                    return Err(podium_media_core::RouterError::UnknownRoom(room).into());
                }
                self.grants.insert(participant, grant);
                if self.peers.contains_key(&participant) {
                    self.router
                        .move_participant(now, participant, room, may_publish)?;
                    self.router.set_audio_blocked(participant, !microphone)?;
                }
            }
            Grant::Refuse(why) => {
                self.grants.insert(participant, grant);
                if let Some(peer) = self.peers.get(&participant) {
                    let (code, reason) = why.close();
                    peer.link.close(code, reason);
                    self.remove(participant);
                }
            }
        }
        Ok(())
    }

    fn count_ws(&mut self) {
        self.ws_peers = self
            .peers
            .values()
            .filter(|p| matches!(p.queue, PeerQueue::Ws(_)))
            .count();
    }

    fn remove(&mut self, participant: ParticipantId) {
        if let Some(peer) = self.peers.remove(&participant) {
            self.count_ws();
            peer.queue.reset_all();
            let _ = self.router.leave(self.now(), participant);
            tracing::info!(participant = participant.0, "left");
        }
    }

    fn frame(&mut self, from: ParticipantId, header: &FrameHeader, payload: Bytes) {
        let now = self.now();
        if self
            .router
            .handle_frame(now, from, header, payload.len(), &mut self.plan)
            .is_err()
        {
            return; // counted by the router
        }
        self.tap(from, &payload);
        for end in &self.plan.ends {
            if let Some(p) = self.peers.get(&end.subscriber) {
                p.queue.end_stream(end.track, end.group, end.mode);
            }
        }
        let cache = self.plan.cache;
        if cache == CacheOp::Clear {
            self.groups.remove(&self.plan.source);
        }
        let to_cache = matches!(cache, CacheOp::Restart | CacheOp::Append);
        if self.plan.sends().next().is_none() && !to_cache {
            return;
        }
        let mut frame = match PreparedFrame::new(&self.plan, &payload, self.ws_peers > 0) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!("cannot encode a forwarded frame: {e}");
                return;
            }
        };
        if self.plan.kind == MediaKind::Audio {
            let header = self.plan.header;
            let wanted = self
                .plan
                .deliveries
                .iter()
                .any(|d| d.action == Action::Datagram { redundant: true });
            if wanted && let Some((prev, prev_payload)) = self.last_audio.get(&self.plan.track) {
                frame = frame.with_previous(&header, &payload, (prev, prev_payload));
            }
            // Kept only if newer: a copy that filled a gap is older than the last.
            match self.last_audio.get(&self.plan.track) {
                Some((prev, _)) if prev.sequence > header.sequence => {}
                _ => {
                    self.last_audio
                        .insert(self.plan.track, (header, payload.clone()));
                }
            }
        }
        // Cached per encoding: a simulcast camera's two qualities each have theirs.
        let (track, group, layer) = (
            self.plan.source,
            self.plan.header.group,
            self.plan.header.temporal_layer,
        );
        match cache {
            CacheOp::Restart => {
                self.groups.insert(
                    track,
                    GroupCache {
                        group,
                        frames: vec![(layer, frame.clone())],
                    },
                );
            }
            CacheOp::Append => match self.groups.get_mut(&track) {
                Some(g) if g.group == group => g.frames.push((layer, frame.clone())),
                _ => {}
            },
            CacheOp::Keep | CacheOp::Clear => {}
        }
        // Starts from the cache (the router only plans them when it holds the group).
        for d in &self.plan.deliveries {
            if let Action::Replay { group, max_layer } = d.action
                && let (Some(peer), Some(g)) =
                    (self.peers.get(&d.subscriber), self.groups.get(&track))
                && g.group == group
            {
                self.counters.cache_replays.fetch_add(1, Relaxed);
                let frames = g.frames.iter().filter(|(l, _)| *l <= max_layer);
                peer.queue.replay(group, frames.map(|(_, f)| f));
            }
        }
        let start = Instant::now();
        let peers = &self.peers;
        let parallel = fan_out(
            &self.plan,
            &frame,
            |p| peers.get(&p).map(|peer| &peer.queue),
            self.shared.config.fanout,
            &self.shared.pool,
        );
        let c = &self.counters;
        c.observe_fanout(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
        c.fanout_frames.fetch_add(1, Relaxed);
        c.fanout_parallel_frames
            .fetch_add(u64::from(parallel), Relaxed);
        c.fanout_deliveries
            .fetch_add(self.plan.sends().count() as u64, Relaxed);

        // Report at once a subscriber whose backlog crossed a threshold upwards.
        if self.plan.kind == MediaKind::Video {
            let policy = &self.shared.config.router.backlog;
            self.rising.clear();
            for d in self.plan.sends() {
                if let Some(peer) = self.peers.get(&d.subscriber)
                    && backlog_level(peer.queue.queued(), policy) > peer.level
                {
                    self.rising.push(d.subscriber);
                }
            }
            for i in 0..self.rising.len() {
                let p = self.rising[i];
                self.report_backlog(now, p);
            }
        }
    }

    fn report_backlog(&mut self, now: Millis, participant: ParticipantId) {
        let Some(peer) = self.peers.get_mut(&participant) else {
            return;
        };
        let queued = peer.queue.queued();
        peer.level = backlog_level(queued, &self.shared.config.router.backlog);
        let _ = self.router.handle_backlog(now, participant, queued);
    }

    fn on_tick(&mut self) {
        let now = self.now();
        let at = Instant::now();
        let policy = &self.shared.config.router.backlog;
        let mut reports = Vec::with_capacity(self.peers.len());
        for (p, peer) in &mut self.peers {
            let sample = peer.queue.link_sample();
            peer.level = backlog_level(sample.queued, policy);
            if let Some((then, earlier)) = peer.last_sample.replace((at, sample)) {
                reports.push((*p, sample.since(&earlier, at.duration_since(then))));
            } else {
                // The first sample only starts the interval; the backlog counts now.
                let _ = self.router.handle_backlog(now, *p, sample.queued);
            }
        }
        for (p, report) in reports {
            let _ = self.router.handle_link(now, p, report);
            if let Some(peer) = self.peers.get(&p) {
                peer.queue.limit(self.router.rate_limit(p));
            }
            tracing::trace!(
                target: "podium_media::link",
                participant = p.0,
                rtt_ms = report.rtt.as_millis() as u64,
                min_rtt_ms = report.min_rtt.as_millis() as u64,
                window_kbps = report.window_bps.map(|w| w / 1000),
                sent_kbps = report.sent_bps / 1000,
                acked_kbps = report.acked_bps.map(|a| a / 1000),
                offered_kbps = report.offered_bps / 1000,
                loss = report.loss_permille,
                queued = report.queued,
                estimate_kbps = self.router.bandwidth_estimate(p).map(|e| e / 1000),
                allot = %self.router.allotment_summary(p),
                "link report"
            );
        }
        self.ticks += 1;
        if self.ticks.is_multiple_of(50) {
            // Forget thumbnails and samplers of tracks that are gone.
            let gone: Vec<TrackId> = self
                .thumbnail_at
                .keys()
                .chain(self.audio_seen.keys())
                .copied()
                .filter(|t| self.router.track(*t).is_none())
                .collect();
            for t in gone {
                self.thumbnail_at.remove(&t);
                self.audio_seen.remove(&t);
                self.shared.thumbnails.forget_track(self.id, t);
            }
            let router = &self.router;
            self.groups.retain(|t, _| router.track(*t).is_some());
            self.last_audio.retain(|t, _| router.track(*t).is_some());
        }
    }

    /// Offers a sample to the codec workers (audio levels, thumbnails).
    fn tap(&mut self, from: ParticipantId, payload: &Bytes) {
        let track = self.plan.track;
        match self.plan.kind {
            MediaKind::Audio => {
                let every = self.shared.config.audio_level_every.max(1);
                let seen = self.audio_seen.entry(track).or_insert(0);
                *seen = seen.wrapping_add(1);
                if (*seen - 1).is_multiple_of(every)
                    && let Some(reply) = self.me.upgrade()
                {
                    self.shared.taps.audio(AudioJob {
                        session: self.id,
                        track,
                        payload: payload.clone(),
                        reply,
                    });
                }
            }
            MediaKind::Video if self.plan.header.keyframe => {
                let interval = self.shared.config.thumbnail_interval;
                let due = self
                    .thumbnail_at
                    .get(&track)
                    .is_none_or(|t| t.elapsed() >= interval);
                let av1 = || {
                    self.router
                        .track(track)
                        .is_some_and(|t| t.config.codec == Codec::Av1)
                };
                if due
                    && av1()
                    && self.shared.taps.video(ThumbJob {
                        session: self.id,
                        track,
                        participant: from,
                        payload: payload.clone(),
                    })
                {
                    self.thumbnail_at.insert(track, Instant::now());
                }
            }
            MediaKind::Video => {}
        }
    }

    fn drain_outputs(&mut self) {
        while let Some(out) = self.router.poll_output() {
            match out {
                Output::Control { to, message } => {
                    if let Some(p) = self.peers.get(&to) {
                        p.link.send(&message);
                    }
                }
                Output::EndStream(end) => {
                    if let Some(p) = self.peers.get(&end.subscriber) {
                        p.queue.end_stream(end.track, end.group, end.mode);
                    }
                }
            }
        }
    }

    fn command(&mut self, command: Command) {
        let now = self.now();
        match command {
            Command::CreateRoom(room, reply) => {
                let _ = reply.send(self.router.create_breakout_room(room).map_err(Into::into));
            }
            Command::CloseRoom(room, reply) => {
                let _ = reply.send(self.router.close_breakout_room(room).map_err(Into::into));
            }
            Command::Move {
                participant,
                room,
                may_publish,
                reply,
            } => {
                let r = self
                    .router
                    .move_participant(now, participant, room, may_publish);
                let _ = reply.send(r.map_err(Into::into));
            }
            Command::SetMayPublish {
                participant,
                may_publish,
                reply,
            } => {
                let r = self.router.set_permission(now, participant, may_publish);
                let _ = reply.send(r.map_err(Into::into));
            }
            Command::Remove { participant, reply } => {
                let r = match self.peers.get(&participant) {
                    Some(peer) => {
                        peer.link
                            .close(CloseCode::Removed, "removed: by a moderator");
                        self.remove(participant);
                        Ok(())
                    }
                    None => Err(MediaError::NotConnected(participant.0)),
                };
                let _ = reply.send(r);
            }
            Command::Grant {
                participant,
                grant,
                reply,
            } => {
                let _ = reply.send(self.grant(participant, grant));
            }
            Command::Members(reply) => {
                let mut members: Vec<Member> = self
                    .peers
                    .iter()
                    .map(|(p, peer)| {
                        let mut sending = Sending::default();
                        for t in self.router.flowing(now, *p, FLOWING_MS) {
                            use podium_media_core::TrackSource;
                            match (t.config.source, t.config.kind()) {
                                (Some(TrackSource::Screen), _) => sending.screen = true,
                                (Some(TrackSource::Microphone), _) | (None, MediaKind::Audio) => {
                                    sending.microphone = true;
                                }
                                (Some(TrackSource::Camera), _) | (None, MediaKind::Video) => {
                                    sending.camera = true;
                                }
                            }
                        }
                        Member {
                            participant: *p,
                            name: peer.name.clone(),
                            role: peer.role.clone(),
                            room: self.router.room_of(*p).unwrap_or(RoomId::MAIN),
                            may_publish: self.router.may_publish(*p).unwrap_or(false),
                            sending,
                            transport: peer.link.transport(),
                        }
                    })
                    .collect();
                members.sort_by_key(|m| m.participant);
                let _ = reply.send(members);
            }
            Command::Stats(reply) => {
                let queued: Vec<u64> = self.peers.values().map(|p| p.queue.queued()).collect();
                let _ = reply.send(SessionStats {
                    router: *self.router.stats(),
                    io: self.counters.snapshot(
                        queued.iter().sum(),
                        queued.iter().copied().max().unwrap_or(0),
                    ),
                    connected: self.peers.len(),
                    rooms: self.router.rooms().collect(),
                    queued,
                    generation: self.generation,
                });
            }
            Command::Close(_) => unreachable!("handled by the loop"),
        }
    }
}

/// 0 at or below the first threshold of the backlog policy, then 1, 2, 3.
fn backlog_level(queued: u64, policy: &podium_media_core::BacklogPolicy) -> u8 {
    if queued > policy.drop_group_above {
        3
    } else if queued > policy.drop_layer1_above {
        2
    } else if queued > policy.drop_layer2_above {
        1
    } else {
        0
    }
}
