//! Carrying out a [`ForwardPlan`]: per-subscriber outgoing queues and the tasks
//! that drain them into QUIC.
//!
//! - The frame is encoded once ([`PreparedFrame`]); every delivery shares its bytes.
//! - Audio goes out as a datagram straight away (QUIC sends datagrams before
//!   stream data); one that does not fit falls back to the track's audio stream.
//! - Each video group a subscriber receives gets its own unidirectional stream,
//!   written by its own task from an unbounded channel. The router task never
//!   waits: a slow subscriber only fills its own channels. The bytes sitting
//!   in them (and in the write under way) are the subscriber's *backlog*, read
//!   with [`SubscriberQueue::queued`] and reported to the router, whose policy
//!   drops layers and groups long before [`SfuConfig::subscriber_queue_limit`](crate::SfuConfig::subscriber_queue_limit)
//!   (a last-resort cap) is hit.
//! - A newer group's stream gets a higher QUIC priority than older ones; audio
//!   fallback streams the highest.
//! - [`fan_out`] pushes one frame to all its subscribers, sequentially or with rayon.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use podium_media_core::wire::media::{
    MAX_DATAGRAM_SIZE, encode_datagram, encode_redundant_datagram, encode_stream_frame,
};
use podium_media_core::wire::ws::WsMessage;
use podium_media_core::{
    Action, EndMode, ForwardPlan, FrameHeader, LinkReport, MediaKind, ParticipantId, StreamHeader,
    TrackId, WireError,
};
use rayon::prelude::*;
use serde::Serialize;
use tokio::sync::{Notify, mpsc};
use wtransport::error::SendDatagramError;
use wtransport::{Connection, SendStream, VarInt};

use super::websocket::WsQueue;
use crate::config::FanoutMode;

/// A subscriber's outgoing queue, by transport.
#[derive(Clone)]
pub(crate) enum PeerQueue {
    /// WebTransport: QUIC streams and datagrams.
    Quic(Arc<SubscriberQueue>),
    /// WebSocket: one ordered socket, lanes by priority (see [`WsQueue`]).
    Ws(Arc<WsQueue>),
}

impl PeerQueue {
    /// Bytes queued and not yet accepted by the transport.
    pub fn queued(&self) -> u64 {
        match self {
            PeerQueue::Quic(q) => q.queued(),
            PeerQueue::Ws(q) => q.queued(),
        }
    }

    /// Carries out one delivery of a prepared frame.
    pub fn deliver(&self, action: Action, frame: &PreparedFrame) {
        match self {
            PeerQueue::Quic(q) => q.deliver(action, frame),
            PeerQueue::Ws(q) => q.deliver(action, frame),
        }
    }

    /// Ends a stream as the router says.
    pub fn end_stream(&self, track: TrackId, group: u64, mode: EndMode) {
        match self {
            PeerQueue::Quic(q) => q.end_stream(track, group, mode),
            PeerQueue::Ws(q) => q.end_stream(track, group, mode),
        }
    }

    /// Resets every stream (the subscriber left).
    pub fn reset_all(&self) {
        match self {
            PeerQueue::Quic(q) => q.reset_all(),
            PeerQueue::Ws(q) => q.reset_all(),
        }
    }

    /// Starts the subscriber on a video `group` from cached frames: a new
    /// stream for the group, then the frames in order.
    pub fn replay<'a>(&self, group: u64, frames: impl Iterator<Item = &'a PreparedFrame>) {
        for (i, frame) in frames.enumerate() {
            let action = Action::Stream {
                group,
                open: i == 0,
            };
            match self {
                PeerQueue::Quic(q) => q.deliver(action, frame),
                PeerQueue::Ws(q) if frame.ws.is_some() => q.deliver(action, frame),
                PeerQueue::Ws(q) => {
                    // Cached while no WebSocket subscriber was connected.
                    let mut f = frame.clone();
                    f.ws = Some(ws_stream_message(frame.track, group, &frame.stream));
                    q.deliver(action, &f);
                }
            }
        }
    }

    /// The router's rate limit for the subscriber (bits/s, `None`: none):
    /// its stream writes are paced to it (see [`Pacer`]).
    pub fn limit(&self, bps: Option<u64>) {
        if let PeerQueue::Quic(q) = self {
            q.pacer.limit(bps);
        }
    }

    /// The transport's counters now, for the link report.
    pub fn link_sample(&self) -> LinkSample {
        match self {
            PeerQueue::Quic(q) => {
                let stats = q.conn.quic_connection().stats();
                LinkSample {
                    rtt: stats.path.rtt,
                    min_rtt: stats.path.min_rtt,
                    cwnd: Some(stats.path.cwnd),
                    sent_bytes: stats.udp_tx.bytes,
                    acked_bytes: q.acked.as_ref().map(|a| a.load(Relaxed)),
                    offered_bytes: q.handed.load(Relaxed),
                    sent_packets: stats.path.sent_packets,
                    lost_packets: stats.path.lost_packets,
                    // The connection's limit only: a stream's window also
                    // stalls while a lost packet of it is retransmitted.
                    blocked_frames: stats.frame_tx.data_blocked,
                    queued: q.queued(),
                }
            }
            PeerQueue::Ws(q) => LinkSample {
                sent_bytes: q.written_total(),
                offered_bytes: q.written_total(),
                queued: q.queued(),
                ..LinkSample::default()
            },
        }
    }
}

/// A transport's cumulative counters at one instant; two of them make a
/// [`LinkReport`](podium_media_core::LinkReport).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LinkSample {
    pub rtt: Duration,
    pub min_rtt: Duration,
    /// QUIC's congestion window in bytes (`None`: WebSocket).
    pub cwnd: Option<u64>,
    pub sent_bytes: u64,
    /// Bytes the peer acknowledged (`None`: WebSocket, or a controller that
    /// does not count them).
    pub acked_bytes: Option<u64>,
    /// Bytes the edge handed to the transport (accepted stream writes, datagrams).
    pub offered_bytes: u64,
    pub sent_packets: u64,
    pub lost_packets: u64,
    /// DATA_BLOCKED frames sent: the peer's connection-level flow control
    /// stopped us.
    pub blocked_frames: u64,
    pub queued: u64,
}

impl LinkSample {
    /// The report for the interval from `earlier` to `self`, `elapsed` long.
    pub fn since(&self, earlier: &LinkSample, elapsed: Duration) -> LinkReport {
        let micros = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let bytes = self.sent_bytes.saturating_sub(earlier.sent_bytes);
        let offered = self.offered_bytes.saturating_sub(earlier.offered_bytes);
        let packets = self.sent_packets.saturating_sub(earlier.sent_packets);
        let lost = self.lost_packets.saturating_sub(earlier.lost_packets);
        let rtt_micros = u64::try_from(self.rtt.as_micros())
            .unwrap_or(u64::MAX)
            .max(1000);
        LinkReport {
            rtt: self.rtt,
            min_rtt: self.min_rtt,
            window_bps: self.cwnd.map(|w| w.saturating_mul(8_000_000) / rtt_micros),
            sent_bps: bytes.saturating_mul(8_000_000) / micros,
            acked_bps: self.acked_bytes.map(|a| {
                a.saturating_sub(earlier.acked_bytes.unwrap_or(a))
                    .saturating_mul(8_000_000)
                    / micros
            }),
            offered_bps: offered.saturating_mul(8_000_000) / micros,
            loss_permille: u16::try_from((lost * 1000).checked_div(packets).unwrap_or(0))
                .unwrap_or(1000)
                .min(1000),
            flow_blocked: self.blocked_frames > earlier.blocked_frames,
            queued: self.queued,
        }
    }
}

/// The WebSocket message carrying a stream frame of a video group.
pub(crate) fn ws_stream_message(track: TrackId, group: u64, stream: &Bytes) -> Bytes {
    let mut out = BytesMut::with_capacity(StreamHeader::MAX_LEN + 1 + stream.len());
    WsMessage::Stream(StreamHeader::video(track.0, group), stream)
        .encode(&mut out)
        .expect("a stream frame fits a WebSocket message");
    out.freeze()
}

/// QUIC priority of audio fallback streams (and the control stream): above all video.
pub(crate) const AUDIO_PRIORITY: i32 = i32::MAX;
/// Application error code of streams the server resets (the subscriber fell
/// behind, unsubscribed, or the track went away).
const RESET_CODE: u32 = 0;

/// Upper bounds (microseconds) of the fan-out time histogram's buckets; a
/// last bucket counts the frames above the largest bound.
pub const FANOUT_BUCKETS_US: [u64; 10] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000];

/// Counters of the IO edge, shared by a session's tasks.
#[derive(Debug, Default)]
pub(crate) struct IoCounters {
    pub datagrams_sent: AtomicU64,
    pub datagrams_failed: AtomicU64,
    pub datagram_fallbacks: AtomicU64,
    pub datagrams_dropped_in: AtomicU64,
    pub streams_opened: AtomicU64,
    pub streams_finished: AtomicU64,
    pub streams_reset: AtomicU64,
    pub streams_stale: AtomicU64,
    pub stream_errors: AtomicU64,
    pub frames_queued: AtomicU64,
    pub frames_over_limit: AtomicU64,
    pub frames_without_stream: AtomicU64,
    pub bytes_written: AtomicU64,
    pub fanout_frames: AtomicU64,
    pub fanout_parallel_frames: AtomicU64,
    pub fanout_deliveries: AtomicU64,
    pub fanout_nanos: AtomicU64,
    /// Frames by fan-out time, per bucket of [`FANOUT_BUCKETS_US`] (not cumulative).
    pub fanout_buckets: [AtomicU64; FANOUT_BUCKETS_US.len() + 1],
    pub ws_audio_late: AtomicU64,
    pub ws_bytes_written: AtomicU64,
    pub cache_replays: AtomicU64,
}

/// A snapshot of the IO edge's counters for one live session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IoStats {
    /// Audio datagrams handed to QUIC.
    pub datagrams_sent: u64,
    /// Datagrams QUIC refused (connection gone, or peer without datagram support).
    pub datagrams_failed: u64,
    /// Audio frames sent on an audio stream because they did not fit a datagram.
    pub datagram_fallbacks: u64,
    /// Incoming datagrams dropped because the router task was saturated.
    pub datagrams_dropped_in: u64,
    /// Unidirectional streams opened to subscribers.
    pub streams_opened: u64,
    /// Streams finished (FIN) after their last frame.
    pub streams_finished: u64,
    /// Streams reset (subscriber behind, unsubscribed, track removed).
    pub streams_reset: u64,
    /// Finished streams reset because they were not delivered within
    /// [`SfuConfig::stale_group_timeout`](crate::SfuConfig::stale_group_timeout).
    pub streams_stale: u64,
    /// Streams that failed (subscriber gone, stream stopped by the peer).
    pub stream_errors: u64,
    /// Stream frames queued for subscribers.
    pub frames_queued: u64,
    /// Stream frames dropped because a subscriber's queue hit the hard limit.
    pub frames_over_limit: u64,
    /// Stream frames for a stream that was not open (its opening failed or it was reset).
    pub frames_without_stream: u64,
    /// Stream bytes written into QUIC.
    pub bytes_written: u64,
    /// Bytes queued for all subscribers now.
    pub queued_bytes: u64,
    /// The largest single subscriber queue now.
    pub max_queued_bytes: u64,
    /// Frames fanned out.
    pub fanout_frames: u64,
    /// ... of which with rayon.
    pub fanout_parallel_frames: u64,
    /// Deliveries carried out by the fan-out.
    pub fanout_deliveries: u64,
    /// Time spent in the fan-out, in nanoseconds.
    pub fanout_nanos: u64,
    /// Frames by fan-out time: per bucket of [`FANOUT_BUCKETS_US`] (not
    /// cumulative), the last one above the largest bound.
    pub fanout_buckets: [u64; FANOUT_BUCKETS_US.len() + 1],
    /// Audio frames a WebSocket subscriber's queue dropped because they were late.
    pub ws_audio_late: u64,
    /// Bytes written into WebSocket connections (media and control).
    pub ws_bytes_written: u64,
    /// Subscribers started from the keyframe cache (replays carried out).
    pub cache_replays: u64,
}

impl IoCounters {
    /// Counts one frame's fan-out time.
    pub fn observe_fanout(&self, nanos: u64) {
        self.fanout_nanos.fetch_add(nanos, Relaxed);
        let i = FANOUT_BUCKETS_US
            .iter()
            .position(|b| nanos <= b * 1000)
            .unwrap_or(FANOUT_BUCKETS_US.len());
        self.fanout_buckets[i].fetch_add(1, Relaxed);
    }

    pub fn snapshot(&self, queued_bytes: u64, max_queued_bytes: u64) -> IoStats {
        let g = |c: &AtomicU64| c.load(Relaxed);
        IoStats {
            datagrams_sent: g(&self.datagrams_sent),
            datagrams_failed: g(&self.datagrams_failed),
            datagram_fallbacks: g(&self.datagram_fallbacks),
            datagrams_dropped_in: g(&self.datagrams_dropped_in),
            streams_opened: g(&self.streams_opened),
            streams_finished: g(&self.streams_finished),
            streams_reset: g(&self.streams_reset),
            streams_stale: g(&self.streams_stale),
            stream_errors: g(&self.stream_errors),
            frames_queued: g(&self.frames_queued),
            frames_over_limit: g(&self.frames_over_limit),
            frames_without_stream: g(&self.frames_without_stream),
            bytes_written: g(&self.bytes_written),
            queued_bytes,
            max_queued_bytes,
            fanout_frames: g(&self.fanout_frames),
            fanout_parallel_frames: g(&self.fanout_parallel_frames),
            fanout_deliveries: g(&self.fanout_deliveries),
            fanout_nanos: g(&self.fanout_nanos),
            fanout_buckets: std::array::from_fn(|i| g(&self.fanout_buckets[i])),
            ws_audio_late: g(&self.ws_audio_late),
            ws_bytes_written: g(&self.ws_bytes_written),
            cache_replays: g(&self.cache_replays),
        }
    }
}

/// One frame encoded for the subscribers: the header carries the global track id.
#[derive(Debug, Clone)]
pub(crate) struct PreparedFrame {
    pub track: TrackId,
    /// `length | header | payload`, for streams.
    pub stream: Bytes,
    /// `0x01 | header | payload`, for audio; `None` if it is too large for a datagram.
    pub datagram: Option<Bytes>,
    /// `0x02 | header | the track's previous frame | payload`, for audio
    /// subscribers on lossy links; `None` without a previous frame or if too large.
    pub redundant: Option<Bytes>,
    /// The WebSocket message for WebSocket subscribers (PROTOCOL.md §8): the
    /// datagram, or the frame on its stream; made only when one subscribes.
    pub ws: Option<Bytes>,
}

impl PreparedFrame {
    pub fn new(plan: &ForwardPlan, payload: &[u8], ws: bool) -> Result<Self, WireError> {
        Self::encode(plan.track, plan.kind, &plan.header, payload, ws)
    }

    /// Adds the redundant datagram: this frame with a copy of `previous`
    /// (the track's frame before it, as forwarded). Left out when `previous`
    /// is not an earlier frame close enough, or the pair does not fit.
    pub fn with_previous(
        mut self,
        header: &FrameHeader,
        payload: &[u8],
        previous: (&FrameHeader, &[u8]),
    ) -> Self {
        let mut d = BytesMut::with_capacity(MAX_DATAGRAM_SIZE);
        self.redundant =
            encode_redundant_datagram(header, payload, &[(*previous.0, previous.1)], &mut d)
                .ok()
                .map(|()| d.freeze());
        self
    }

    pub fn encode(
        track: TrackId,
        kind: MediaKind,
        header: &FrameHeader,
        payload: &[u8],
        ws: bool,
    ) -> Result<Self, WireError> {
        let mut stream = BytesMut::with_capacity(8 + header.encoded_len() + payload.len());
        encode_stream_frame(header, payload, &mut stream)?;
        let datagram = (kind == MediaKind::Audio)
            .then(|| {
                let mut d = BytesMut::with_capacity(1 + header.encoded_len() + payload.len());
                encode_datagram(header, payload, &mut d)
                    .ok()
                    .map(|()| d.freeze())
            })
            .flatten();
        let stream = stream.freeze();
        let ws = if ws {
            let mut out = BytesMut::with_capacity(StreamHeader::MAX_LEN + 1 + stream.len());
            match &datagram {
                Some(d) => WsMessage::Datagram(d).encode(&mut out)?,
                None => {
                    let head = match kind {
                        MediaKind::Audio => StreamHeader::audio(header.track),
                        MediaKind::Video => StreamHeader::video(header.track, header.group),
                    };
                    WsMessage::Stream(head, &stream).encode(&mut out)?;
                }
            }
            Some(out.freeze())
        } else {
            None
        };
        Ok(Self {
            track,
            stream,
            datagram,
            redundant: None,
            ws,
        })
    }
}

struct StreamHandle {
    tx: mpsc::UnboundedSender<Bytes>,
    reset: Arc<Notify>,
    /// Told when the router finishes the stream: from then on it has
    /// `stale_after` to be delivered, or it is reset.
    finished: Arc<Notify>,
}

/// Everything queued for one subscriber and the streams that drain it.
pub(crate) struct SubscriberQueue {
    conn: Connection,
    queued: AtomicU64,
    /// Bytes QUIC accepted from us (stream writes and datagrams) since the start.
    handed: AtomicU64,
    /// Bytes the subscriber acknowledged since the start (see [`super::acked`]).
    acked: Option<Arc<AtomicU64>>,
    /// Holds stream writes to the router's rate limit.
    pacer: Pacer,
    /// Open streams by (global track, group); audio fallback streams use group 0.
    streams: Mutex<HashMap<(TrackId, u64), StreamHandle>>,
    next_priority: AtomicI32,
    limit: u64,
    stale_after: Duration,
    runtime: tokio::runtime::Handle,
    counters: Arc<IoCounters>,
}

impl SubscriberQueue {
    pub fn new(
        conn: Connection,
        limit: u64,
        stale_after: Duration,
        runtime: tokio::runtime::Handle,
        counters: Arc<IoCounters>,
    ) -> Arc<Self> {
        Arc::new(Self {
            acked: super::acked::acked_counter(conn.quic_connection()),
            pacer: Pacer::default(),
            conn,
            queued: AtomicU64::new(0),
            handed: AtomicU64::new(0),
            streams: Mutex::new(HashMap::new()),
            next_priority: AtomicI32::new(0),
            limit,
            stale_after,
            runtime,
            counters,
        })
    }

    /// Bytes queued and not yet accepted by QUIC.
    pub fn queued(&self) -> u64 {
        self.queued.load(Relaxed)
    }

    /// Carries out one delivery of a prepared frame.
    pub fn deliver(self: &Arc<Self>, action: Action, frame: &PreparedFrame) {
        match action {
            Action::Datagram { redundant } => {
                // The redundant form where asked and it fits, else the plain one.
                let forms = [
                    frame.redundant.as_ref().filter(|_| redundant),
                    frame.datagram.as_ref(),
                ];
                let mut sent = false;
                for d in forms.into_iter().flatten() {
                    match self.conn.send_datagram(d) {
                        Ok(()) => {
                            self.counters.datagrams_sent.fetch_add(1, Relaxed);
                            self.handed.fetch_add(d.len() as u64, Relaxed);
                            self.pacer.spend(d.len() + DATAGRAM_OVERHEAD);
                            sent = true;
                            break;
                        }
                        Err(SendDatagramError::TooLarge) => {}
                        Err(_) => {
                            self.counters.datagrams_failed.fetch_add(1, Relaxed);
                            return;
                        }
                    }
                }
                if !sent {
                    self.counters.datagram_fallbacks.fetch_add(1, Relaxed);
                    let key = (frame.track, 0);
                    if !self.has_stream(key) {
                        self.open_stream(key, StreamHeader::audio(frame.track.0), AUDIO_PRIORITY);
                    }
                    self.enqueue(key, &frame.stream);
                }
            }
            Action::Stream { group, open } => {
                let key = (frame.track, group);
                if open {
                    // Newer groups first: priorities grow with every stream opened.
                    let priority = self.next_priority.fetch_add(1, Relaxed);
                    self.open_stream(key, StreamHeader::video(frame.track.0, group), priority);
                }
                self.enqueue(key, &frame.stream);
            }
            // Replays are carried out by the session task, which holds the cache.
            Action::Replay { .. } | Action::Drop(_) => {}
        }
    }

    /// Ends a stream as the router says: finish (what is queued still goes
    /// out) or reset (what is queued is discarded).
    pub fn end_stream(&self, track: TrackId, group: u64, mode: EndMode) {
        let handle = self
            .streams
            .lock()
            .expect("stream map")
            .remove(&(track, group));
        match (handle, mode) {
            (Some(h), EndMode::Reset) => h.reset.notify_one(),
            // Finish: dropping the sender ends the stream after its queued
            // frames; what is not delivered in time is reset.
            (Some(h), EndMode::Finish) => h.finished.notify_one(),
            (None, _) => {}
        }
    }

    /// Resets every stream (the subscriber left).
    pub fn reset_all(&self) {
        let streams = std::mem::take(&mut *self.streams.lock().expect("stream map"));
        for h in streams.into_values() {
            h.reset.notify_one();
        }
    }

    fn has_stream(&self, key: (TrackId, u64)) -> bool {
        self.streams.lock().expect("stream map").contains_key(&key)
    }

    fn enqueue(&self, key: (TrackId, u64), bytes: &Bytes) {
        let len = bytes.len() as u64;
        if self.queued.load(Relaxed) + len > self.limit {
            self.counters.frames_over_limit.fetch_add(1, Relaxed);
            return;
        }
        let streams = self.streams.lock().expect("stream map");
        let Some(h) = streams.get(&key) else {
            self.counters.frames_without_stream.fetch_add(1, Relaxed);
            return;
        };
        self.queued.fetch_add(len, Relaxed);
        if h.tx.send(bytes.clone()).is_err() {
            self.queued.fetch_sub(len, Relaxed);
            self.counters.frames_without_stream.fetch_add(1, Relaxed);
        } else {
            self.counters.frames_queued.fetch_add(1, Relaxed);
        }
    }

    fn open_stream(self: &Arc<Self>, key: (TrackId, u64), header: StreamHeader, priority: i32) {
        let (tx, rx) = mpsc::unbounded_channel();
        let reset = Arc::new(Notify::new());
        let finished = Arc::new(Notify::new());
        let old = self.streams.lock().expect("stream map").insert(
            key,
            StreamHandle {
                tx,
                reset: reset.clone(),
                finished: finished.clone(),
            },
        );
        if let Some(old) = old {
            old.reset.notify_one();
        }
        let this = self.clone();
        self.runtime.spawn(async move {
            this.run_stream(header, priority, rx, reset, finished).await;
        });
    }

    /// One outgoing stream: open it, write the header, then frames until the
    /// router finishes it (channel closed) or resets it. A finished stream
    /// not fully delivered (written and acknowledged) within `stale_after`
    /// is reset: a newer group has superseded it.
    async fn run_stream(
        self: Arc<Self>,
        header: StreamHeader,
        priority: i32,
        mut rx: mpsc::UnboundedReceiver<Bytes>,
        reset: Arc<Notify>,
        finished: Arc<Notify>,
    ) {
        let mut head = BytesMut::with_capacity(StreamHeader::MAX_LEN);
        header.encode(&mut head).expect("valid stream header");
        let mut stream: Option<SendStream> = None;
        let mut in_flight = 0u64;
        let stale_after = self.stale_after;
        let stale = async move {
            finished.notified().await;
            tokio::time::sleep(stale_after).await;
        };
        tokio::pin!(stale);
        let mut outcome = tokio::select! {
            biased;
            () = reset.notified() => Outcome::Reset,
            () = &mut stale => Outcome::Stale,
            o = self.pump(&mut stream, &head, priority, &mut rx, &mut in_flight) => o,
        };
        if let (Outcome::Finished, Some(s)) = (&outcome, stream.as_mut()) {
            // Wait for the peer's acknowledgements, but not past the deadline.
            outcome = tokio::select! {
                biased;
                () = reset.notified() => Outcome::Reset,
                () = &mut stale => Outcome::Stale,
                r = s.finish() => match r {
                    Ok(()) => Outcome::Finished,
                    Err(_) => Outcome::Failed,
                },
            };
        }
        // Whatever is still queued will not be written.
        let mut discarded = in_flight;
        rx.close();
        while let Ok(b) = rx.try_recv() {
            discarded += b.len() as u64;
        }
        self.queued.fetch_sub(discarded, Relaxed);
        match outcome {
            Outcome::Finished => {
                self.counters.streams_finished.fetch_add(1, Relaxed);
            }
            Outcome::Stale => {
                if let Some(s) = stream.as_mut() {
                    let _ = s.reset(VarInt::from_u32(RESET_CODE));
                }
                self.counters.streams_stale.fetch_add(1, Relaxed);
            }
            Outcome::Reset => {
                if let Some(s) = stream.as_mut() {
                    let _ = s.reset(VarInt::from_u32(RESET_CODE));
                }
                self.counters.streams_reset.fetch_add(1, Relaxed);
            }
            Outcome::Failed => {
                self.counters.stream_errors.fetch_add(1, Relaxed);
            }
        }
    }

    async fn pump(
        &self,
        stream: &mut Option<SendStream>,
        head: &[u8],
        priority: i32,
        rx: &mut mpsc::UnboundedReceiver<Bytes>,
        in_flight: &mut u64,
    ) -> Outcome {
        let Ok(opening) = self.conn.open_uni().await else {
            return Outcome::Failed;
        };
        let Ok(s) = opening.await else {
            return Outcome::Failed;
        };
        s.set_priority(priority);
        self.counters.streams_opened.fetch_add(1, Relaxed);
        let s = stream.insert(s);
        if s.write_all(head).await.is_err() {
            return Outcome::Failed;
        }
        while let Some(bytes) = rx.recv().await {
            *in_flight = bytes.len() as u64;
            let result = if self.pacer.limited() {
                // In pieces of about a packet, each when the pacer allows.
                let mut result = Ok(());
                for piece in bytes.chunks(PACED_PIECE) {
                    self.pacer.take(piece.len() + PIECE_OVERHEAD).await;
                    result = s.write_all(piece).await;
                    if result.is_err() {
                        break;
                    }
                }
                result
            } else {
                s.write_all(&bytes).await
            };
            self.queued.fetch_sub(*in_flight, Relaxed);
            *in_flight = 0;
            if result.is_err() {
                return Outcome::Failed;
            }
            self.counters
                .bytes_written
                .fetch_add(bytes.len() as u64, Relaxed);
            self.handed.fetch_add(bytes.len() as u64, Relaxed);
        }
        Outcome::Finished
    }
}

/// Bytes written to a paced stream at a time: about a packet's payload.
const PACED_PIECE: usize = 1100;
/// What a piece costs on the wire beyond its bytes (IP, UDP, QUIC header,
/// AEAD tag, stream frame header), roughly.
const PIECE_OVERHEAD: usize = 60;
/// What an audio datagram costs on the wire beyond its bytes, roughly (the
/// same, less the stream frame's offset).
const DATAGRAM_OVERHEAD: usize = 55;

/// A token bucket for a subscriber's stream writes, at the rate the router
/// sets for a link known to be limited ([`Router::rate_limit`]); no limit
/// otherwise. quinn sends what it is given as fast as its congestion window
/// and pacer allow, and its pacer lets bursts of ten packets go at once: a
/// keyframe then overflows the shallow queue in front of a thin link, and
/// the audio behind it is lost too. Paced here, a burst waits at the edge
/// (counted in the subscriber's backlog) and leaves at about the rate the
/// link takes. Audio datagrams are not held, but what they take is
/// counted: the streams wait for it.
///
/// [`Router::rate_limit`]: podium_media_core::Router::rate_limit
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    /// Bits/s; 0: no limit.
    rate: AtomicU64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug, Default)]
struct Bucket {
    /// Bytes that may be written now.
    tokens: f64,
    last: Option<std::time::Instant>,
}

impl Pacer {
    /// The bucket holds at most this long at the rate, and at least two pieces.
    const DEPTH: Duration = Duration::from_millis(20);

    pub fn limit(&self, bps: Option<u64>) {
        self.rate.store(bps.unwrap_or(0), Relaxed);
    }

    pub fn limited(&self) -> bool {
        self.rate.load(Relaxed) != 0
    }

    /// Counts `bytes` sent without waiting (a datagram): later writes wait
    /// for them.
    pub fn spend(&self, bytes: usize) {
        if self.limited() {
            let mut b = self.bucket.lock().expect("pacer");
            // At most a second's debt at 100 kbit/s: the bucket recovers.
            b.tokens = (b.tokens - bytes as f64).max(-12_500.0);
        }
    }

    /// Waits until `bytes` may be written (at once if the limit was lifted).
    pub async fn take(&self, bytes: usize) {
        while let Some(wait) = self.reserve(std::time::Instant::now(), bytes) {
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }

    /// Takes `bytes` from the bucket as of `now` if it holds them (`None`:
    /// write now); otherwise how long to wait before asking again.
    fn reserve(&self, now: std::time::Instant, bytes: usize) -> Option<Duration> {
        let rate = self.rate.load(Relaxed);
        if rate == 0 {
            return None;
        }
        let bytes_per_s = rate as f64 / 8.0;
        let mut b = self.bucket.lock().expect("pacer");
        let depth = (bytes_per_s * Self::DEPTH.as_secs_f64()).max(2.0 * PACED_PIECE as f64);
        let elapsed = b
            .last
            .map_or(0.0, |l| now.saturating_duration_since(l).as_secs_f64());
        b.tokens = (b.tokens + elapsed * bytes_per_s).min(depth);
        b.last = Some(now);
        let need = bytes as f64;
        if b.tokens >= need {
            b.tokens -= need;
            None
        } else {
            Some(Duration::from_secs_f64((need - b.tokens) / bytes_per_s))
        }
    }
}

enum Outcome {
    Finished,
    Reset,
    /// Finished by the router but not delivered in time.
    Stale,
    Failed,
}

/// Pushes one frame into the queues of the plan's receiving subscribers.
/// Returns whether rayon was used.
pub(crate) fn fan_out<'a, F>(
    plan: &ForwardPlan,
    frame: &PreparedFrame,
    queue_of: F,
    mode: FanoutMode,
    pool: &rayon::ThreadPool,
) -> bool
where
    F: Fn(ParticipantId) -> Option<&'a PeerQueue> + Sync,
{
    let parallel = match mode {
        FanoutMode::Sequential => false,
        FanoutMode::Rayon => true,
        FanoutMode::Auto { min_deliveries } => plan.deliveries.len() >= min_deliveries,
    };
    let deliver = |d: &podium_media_core::Delivery| {
        if d.is_send()
            && let Some(q) = queue_of(d.subscriber)
        {
            q.deliver(d.action, frame);
        }
    };
    if parallel {
        pool.install(|| plan.deliveries.par_iter().for_each(deliver));
    } else {
        plan.deliveries.iter().for_each(deliver);
    }
    parallel
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_reports_are_rates_over_the_interval() {
        let earlier = LinkSample {
            rtt: Duration::from_millis(40),
            min_rtt: Duration::from_millis(40),
            cwnd: Some(50_000),
            sent_bytes: 1_000_000,
            acked_bytes: Some(900_000),
            offered_bytes: 500_000,
            sent_packets: 1000,
            lost_packets: 10,
            blocked_frames: 2,
            queued: 0,
        };
        let now = LinkSample {
            rtt: Duration::from_millis(50),
            sent_bytes: 1_125_000,
            acked_bytes: Some(1_000_000),
            offered_bytes: 750_000,
            sent_packets: 1100,
            lost_packets: 13,
            queued: 4096,
            ..earlier
        };
        let r = now.since(&earlier, Duration::from_millis(100));
        assert_eq!(r.sent_bps, 10_000_000, "125 kB in 100 ms");
        assert_eq!(r.offered_bps, 20_000_000, "250 kB handed over");
        assert_eq!(r.window_bps, Some(8_000_000), "50 kB per 50 ms");
        assert_eq!(r.acked_bps, Some(8_000_000), "100 kB acknowledged");
        assert_eq!(r.loss_permille, 30, "3 of 100 packets");
        assert!(!r.flow_blocked, "no new DATA_BLOCKED");
        let blocked = LinkSample {
            blocked_frames: 3,
            ..now
        };
        assert!(
            blocked
                .since(&earlier, Duration::from_millis(100))
                .flow_blocked
        );
        assert_eq!((r.rtt, r.queued), (Duration::from_millis(50), 4096));
        // WebSocket: no window; nothing sent, no loss; a zero interval divides by 1 µs.
        let ws = LinkSample {
            sent_bytes: 10,
            ..LinkSample::default()
        };
        let r = ws.since(&LinkSample::default(), Duration::ZERO);
        assert_eq!(
            (r.window_bps, r.acked_bps, r.loss_permille),
            (None, None, 0)
        );
        assert_eq!(r.sent_bps, 80_000_000);
    }

    #[test]
    fn the_pacer_holds_writes_to_the_rate_and_counts_datagrams() {
        let pacer = Pacer::default();
        let t0 = std::time::Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // No limit: at once.
        assert_eq!(pacer.reserve(t0, 1_000_000), None);
        // 80 kbit/s = 10 kB/s: a kB waits 100 ms for an empty bucket ...
        pacer.limit(Some(80_000));
        assert!(pacer.limited());
        assert_eq!(pacer.reserve(at(0), 1000), Some(Duration::from_millis(100)));
        assert_eq!(pacer.reserve(at(100), 1000), None);
        // ... and ten of them, asked for when told, go in a second.
        let mut now = 100;
        for _ in 0..10 {
            while let Some(wait) = pacer.reserve(at(now), 1000) {
                now += u64::try_from(wait.as_millis()).unwrap().max(1);
            }
        }
        assert!((1090..=1110).contains(&now), "{now}");
        // The bucket holds at most two pieces after a quiet spell.
        assert_eq!(pacer.reserve(at(now + 5000), 2 * PACED_PIECE), None);
        assert!(pacer.reserve(at(now + 5000), 1).is_some());
        // A 2 kB datagram sent meanwhile: the next piece waits for it too
        // (the bucket held 2.2 kB, a piece took 1 kB, the datagram 2 kB: the
        // next kB needs 1.8 kB more, 180 ms).
        now += 6000;
        assert_eq!(pacer.reserve(at(now), 1000), None);
        pacer.spend(2000);
        let wait = pacer.reserve(at(now), 1000).expect("waits").as_millis();
        assert!((179..=181).contains(&wait), "{wait}");
        // The limit lifted: at once again.
        pacer.limit(None);
        assert_eq!(pacer.reserve(at(now), 1_000_000), None);
    }

    #[test]
    fn fanout_times_land_in_the_bucket_whose_bound_they_do_not_exceed() {
        let c = IoCounters::default();
        for nanos in [0, 5_000, 5_001, 10_000_000, 10_000_001, u64::MAX / 2] {
            c.observe_fanout(nanos);
        }
        let s = c.snapshot(0, 0);
        let last = FANOUT_BUCKETS_US.len();
        assert_eq!(s.fanout_buckets[0], 2, "{:?}", s.fanout_buckets); // 0 and 5 µs
        assert_eq!(s.fanout_buckets[1], 1); // just above 5 µs
        assert_eq!(s.fanout_buckets[last - 1], 1); // exactly 10 ms
        assert_eq!(s.fanout_buckets[last], 2); // above every bound
        assert_eq!(s.fanout_buckets.iter().sum::<u64>(), 6);
    }
}
