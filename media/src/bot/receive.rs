//! The receiving half of a bot: control messages, datagrams and incoming
//! group streams; per-track counters, latencies, and decode checks.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use podium_media_core::wire::control::Subscribe;
use podium_media_core::wire::media::{SeqWindow, decode_datagram_frames};
use podium_media_core::{
    ClientMessage, Codec, ControlReader, FrameHeader, ServerMessage, StreamReader,
};
use tokio::sync::{Mutex as AsyncMutex, Notify, mpsc};
use wtransport::error::StreamReadError;
use wtransport::{Connection, RecvStream};

use super::link::ControlOut;

use super::{BotConfig, BotError, DecodeChecks, unix_micros};
use crate::codec::av1::Av1Decoder;

/// The measurement window: frames whose timestamp is in `[start, end)`.
#[derive(Debug, Default)]
pub(crate) struct Window {
    start: AtomicU64,
    end: AtomicU64,
}

impl Window {
    pub fn set(&self, start: u64, end: u64) {
        self.start.store(start, Relaxed);
        self.end.store(end, Relaxed);
    }

    pub fn contains(&self, t: u64) -> bool {
        t >= self.start.load(Relaxed) && t < self.end.load(Relaxed)
    }
}

/// What a bot received on one track (by the id in the frame headers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackStats {
    /// Frames received.
    pub frames: u64,
    /// Payload bytes received.
    pub bytes: u64,
    /// Keyframes received.
    pub keyframes: u64,
    /// Whether the first frame received was a keyframe.
    pub first_was_keyframe: Option<bool>,
    /// Frames per temporal layer.
    pub layers: [u64; 3],
    /// Sequence gaps seen (frames the server did not forward, or lost datagrams).
    pub gaps: u64,
    /// Frames of a group older than the newest one already started.
    pub stale: u64,
    /// Frames decoded successfully.
    pub decoded: u64,
    /// Frames that failed to decode.
    pub decode_errors: u64,
    /// Height of the last decoded picture (0 before one): which quality of
    /// a simulcast camera arrives.
    pub decoded_height: u32,
    newest_group: Option<u64>,
    last_sequence: Option<u64>,
}

/// What a bot received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiveStats {
    /// Frames received (datagrams and stream frames).
    pub frames: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// Frames that came as datagrams.
    pub datagrams: u64,
    /// Of those, frames lost on the way that a later redundant datagram's copy brought.
    pub recovered: u64,
    /// Incoming streams.
    pub streams: u64,
    /// Incoming streams the server reset.
    pub streams_reset: u64,
    /// Frames whose timestamp is in the window.
    pub window_frames: u64,
    /// Their payload bytes.
    pub window_bytes: u64,
    /// Of `window_frames`, audio frames (Opus tracks; without per-track
    /// state, datagrams).
    pub window_audio_frames: u64,
    /// Per track (not kept for the baseline server).
    pub tracks: BTreeMap<u32, TrackStats>,
}

impl ReceiveStats {
    /// The stats of one track (empty if nothing arrived).
    pub fn track(&self, track: u32) -> TrackStats {
        self.tracks.get(&track).cloned().unwrap_or_default()
    }
}

struct VideoCheck {
    decoder: Option<Av1Decoder>,
    next_sequence: Option<u64>,
    decoded: u32,
}

#[derive(Default)]
struct State {
    stats: ReceiveStats,
    latencies: Vec<u32>,
    audio_latencies: Vec<u32>,
    video_latencies: Vec<u32>,
    codecs: HashMap<u32, Codec>,
    audio: HashMap<u32, (u64, opus::Decoder)>,
    video: HashMap<u32, VideoCheck>,
    /// Datagram sequence numbers seen per track: copies count once.
    datagram_seen: HashMap<u32, SeqWindow>,
}

pub(crate) struct Receiver {
    state: Mutex<State>,
    changed: Notify,
    window: Arc<Window>,
    checks: DecodeChecks,
    per_track: bool,
    keyframe_flags: Mutex<HashMap<u32, Arc<AtomicBool>>>,
}

impl Receiver {
    pub fn new(config: &BotConfig, window: Arc<Window>) -> Self {
        Self {
            state: Mutex::default(),
            changed: Notify::new(),
            window,
            checks: config.decode,
            per_track: !config.baseline,
            keyframe_flags: Mutex::default(),
        }
    }

    pub fn keyframe_flag(&self, track_id: u32) -> Arc<AtomicBool> {
        self.keyframe_flags
            .lock()
            .expect("flags lock")
            .entry(track_id)
            .or_default()
            .clone()
    }

    pub fn snapshot(&self) -> ReceiveStats {
        self.state.lock().expect("receive lock").stats.clone()
    }

    pub fn latencies(&self) -> Vec<u32> {
        self.state.lock().expect("receive lock").latencies.clone()
    }

    /// The window's latencies of audio and of video frames.
    pub fn latencies_by_kind(&self) -> (Vec<u32>, Vec<u32>) {
        let s = self.state.lock().expect("receive lock");
        (s.audio_latencies.clone(), s.video_latencies.clone())
    }

    pub async fn wait_until(
        &self,
        what: &'static str,
        timeout: Duration,
        pred: impl Fn(&ReceiveStats) -> bool,
    ) -> Result<ReceiveStats, BotError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = self.state.lock().expect("receive lock");
                if pred(&state.stats) {
                    return Ok(state.stats.clone());
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(BotError::Timeout(what));
            }
        }
    }

    fn touch(&self) {
        self.changed.notify_waiters();
    }

    /// A datagram arrived.
    /// A datagram arrived: its frames (a redundant one's copies first) are
    /// recorded once per sequence number.
    pub fn datagram(&self, datagram: &[u8]) {
        let frames = match decode_datagram_frames(datagram) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!("bot: bad datagram: {e}");
                return;
            }
        };
        for (header, payload, copy) in frames.iter() {
            let first = {
                let mut state = self.state.lock().expect("receive lock");
                let first = state
                    .datagram_seen
                    .entry(header.track)
                    .or_default()
                    .first_time(header.sequence);
                state.stats.recovered += u64::from(first && copy);
                first
            };
            if first {
                self.record(&header, payload, true);
            }
        }
    }

    /// A stream opened.
    pub fn stream_opened(&self) {
        self.state.lock().expect("receive lock").stats.streams += 1;
    }

    /// The server reset a stream.
    pub fn stream_reset(&self) {
        self.state.lock().expect("receive lock").stats.streams_reset += 1;
        self.touch();
    }

    /// Records the stream's complete frames; false if the stream is bad.
    pub fn stream_frames(&self, reader: &mut StreamReader) -> bool {
        loop {
            match reader.next_frame() {
                Ok(Some((header, payload))) => self.record(&header, &payload, false),
                Ok(None) => return true,
                Err(e) => {
                    tracing::warn!("bot: bad media stream: {e}");
                    return false;
                }
            }
        }
    }

    fn record(&self, header: &FrameHeader, payload: &[u8], datagram: bool) {
        let latency = unix_micros().saturating_sub(header.timestamp_us);
        let mut guard = self.state.lock().expect("receive lock");
        let state = &mut *guard;
        let s = &mut state.stats;
        s.frames += 1;
        s.bytes += payload.len() as u64;
        s.datagrams += u64::from(datagram);
        if self.window.contains(header.timestamp_us) {
            let audio = match state.codecs.get(&header.track) {
                Some(codec) => *codec == Codec::Opus,
                None => datagram,
            };
            let latency = u32::try_from(latency).unwrap_or(u32::MAX);
            s.window_frames += 1;
            s.window_bytes += payload.len() as u64;
            s.window_audio_frames += u64::from(audio);
            state.latencies.push(latency);
            if audio {
                state.audio_latencies.push(latency);
            } else {
                state.video_latencies.push(latency);
            }
        }
        if self.per_track {
            let t = s.tracks.entry(header.track).or_default();
            t.frames += 1;
            t.bytes += payload.len() as u64;
            t.keyframes += u64::from(header.keyframe);
            t.first_was_keyframe.get_or_insert(header.keyframe);
            t.layers[usize::from(header.temporal_layer.min(2))] += 1;
            if t.last_sequence
                .is_some_and(|last| header.sequence > last + 1)
            {
                t.gaps += 1;
            }
            t.last_sequence = Some(header.sequence);
            match t.newest_group {
                Some(g) if header.group < g => t.stale += 1,
                _ => t.newest_group = Some(header.group),
            }
            match state.codecs.get(&header.track) {
                Some(Codec::Opus) => check_audio(state, self.checks, header, payload),
                Some(Codec::Av1) => check_video(state, self.checks, header, payload),
                _ => {}
            }
        }
        drop(guard);
        self.touch();
    }
}

fn check_audio(state: &mut State, checks: DecodeChecks, header: &FrameHeader, payload: &[u8]) {
    if checks.audio_every == 0 {
        return;
    }
    let (seen, decoder) = match state.audio.entry(header.track) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => {
            match opus::Decoder::new(48_000, opus::Channels::Mono) {
                Ok(d) => e.insert((0, d)),
                Err(_) => return,
            }
        }
    };
    *seen += 1;
    if (*seen - 1) % u64::from(checks.audio_every) != 0 {
        return;
    }
    let mut pcm = [0i16; 5760];
    let ok = matches!(decoder.decode(payload, &mut pcm, false), Ok(960));
    let t = state.stats.tracks.entry(header.track).or_default();
    if ok {
        t.decoded += 1;
    } else {
        t.decode_errors += 1;
    }
}

fn check_video(state: &mut State, checks: DecodeChecks, header: &FrameHeader, payload: &[u8]) {
    let check = state.video.entry(header.track).or_insert(VideoCheck {
        decoder: None,
        next_sequence: None,
        decoded: 0,
    });
    if check.decoded >= checks.video_frames_per_track {
        return;
    }
    if header.keyframe {
        check.decoder = Av1Decoder::new().ok();
    } else if check.next_sequence != Some(header.sequence) {
        // A gap (dropped layers or a lost group): wait for the next keyframe.
        check.decoder = None;
    }
    check.next_sequence = Some(header.sequence + 1);
    let Some(decoder) = check.decoder.as_mut() else {
        return;
    };
    let height = match decoder.decode(payload) {
        Ok(Some(picture)) => Some(picture.height()),
        _ => None,
    };
    let ok = height.is_some();
    if ok {
        check.decoded += 1;
    } else {
        check.decoder = None;
    }
    let t = state.stats.tracks.entry(header.track).or_default();
    if let Some(h) = height {
        t.decoded += 1;
        t.decoded_height = h;
    } else {
        t.decode_errors += 1;
    }
}

/// Copies a WebTransport control stream into the channel `control_task` reads.
pub(crate) async fn wt_control_pump(mut recv: RecvStream, tx: mpsc::UnboundedSender<Bytes>) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(Some(n)) = recv.read(&mut buf).await {
        if tx.send(Bytes::copy_from_slice(&buf[..n])).is_err() {
            return;
        }
    }
}

pub(crate) async fn control_task(
    mut recv: mpsc::UnboundedReceiver<Bytes>,
    mut reader: ControlReader<ServerMessage>,
    receiver: Arc<Receiver>,
    control: Arc<ControlOut>,
    auto_subscribe: bool,
    events: Option<mpsc::UnboundedSender<ServerMessage>>,
) {
    loop {
        loop {
            let message = match reader.next_message() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!("bot: bad control message: {e}");
                    return;
                }
            };
            match &message {
                ServerMessage::RequestKeyframe(r) => {
                    receiver.keyframe_flag(r.track_id).store(true, Relaxed);
                }
                ServerMessage::TrackAdded(t) => {
                    receiver
                        .state
                        .lock()
                        .expect("receive lock")
                        .codecs
                        .insert(t.track.0, t.config.codec);
                    if auto_subscribe {
                        let mut out = Vec::new();
                        let subscribe = ClientMessage::Subscribe(Subscribe { track: t.track });
                        if subscribe.encode(&mut out).is_ok() {
                            let _ = control.write_all(&out).await;
                        }
                    }
                }
                _ => {}
            }
            if let Some(events) = &events {
                let _ = events.send(message);
            }
            receiver.touch();
        }
        match recv.recv().await {
            Some(bytes) => reader.push(&bytes),
            None => return,
        }
    }
}

pub(crate) async fn datagram_task(conn: Connection, receiver: Arc<Receiver>) {
    while let Ok(datagram) = conn.receive_datagram().await {
        receiver.datagram(&datagram);
    }
}

/// Paces reads over all of a connection's streams to `rate` bytes per second.
pub(crate) struct Pacer {
    rate: u64,
    next: AsyncMutex<tokio::time::Instant>,
}

impl Pacer {
    pub fn new(rate: u64) -> Self {
        Pacer {
            rate: rate.max(1),
            next: AsyncMutex::new(tokio::time::Instant::now()),
        }
    }

    pub async fn take(&self, n: usize) {
        let at = {
            let mut next = self.next.lock().await;
            let start = (*next).max(tokio::time::Instant::now());
            *next = start + Duration::from_secs_f64(n as f64 / self.rate as f64);
            *next
        };
        tokio::time::sleep_until(at).await;
    }
}

pub(crate) async fn uni_task(conn: Connection, receiver: Arc<Receiver>, read_rate: Option<u64>) {
    let pacer = read_rate.map(|rate| Arc::new(Pacer::new(rate)));
    while let Ok(stream) = conn.accept_uni().await {
        receiver.state.lock().expect("receive lock").stats.streams += 1;
        tokio::spawn(read_stream(stream, receiver.clone(), pacer.clone()));
    }
}

async fn read_stream(mut stream: RecvStream, receiver: Arc<Receiver>, pacer: Option<Arc<Pacer>>) {
    let mut reader = StreamReader::new();
    // A slow reader takes small bites so its pace is smooth.
    let mut buf = vec![0u8; if pacer.is_some() { 1200 } else { 32 * 1024 }];
    loop {
        match stream.read(&mut buf).await {
            Ok(Some(n)) => {
                if let Some(p) = &pacer {
                    p.take(n).await;
                }
                reader.push(&buf[..n]);
                loop {
                    match reader.next_frame() {
                        Ok(Some((header, payload))) => receiver.record(&header, &payload, false),
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!("bot: bad media stream: {e}");
                            return;
                        }
                    }
                }
            }
            Ok(None) => return,
            Err(StreamReadError::Reset(_)) => {
                receiver
                    .state
                    .lock()
                    .expect("receive lock")
                    .stats
                    .streams_reset += 1;
                receiver.touch();
                return;
            }
            Err(_) => return,
        }
    }
}
