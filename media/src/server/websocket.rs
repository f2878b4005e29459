//! One WebSocket connection: the media protocol over TCP for clients whose
//! WebTransport is missing or blocked (PROTOCOL.md §8). The app's HTTP server
//! checks the `Origin` and upgrades the request; from then on this module
//! does what `connection` does for WebTransport — `Hello` within the
//! deadline, the same token verification and join — and carries the same
//! bytes in binary WebSocket messages ([`WsMessage`]).
//!
//! Outgoing, a WebSocket is one ordered byte stream, so a slow subscriber
//! must not let stale media into it: [`WsQueue`] keeps what is waiting in
//! lanes — control first, then audio (dropped when older than
//! [`AUDIO_MAX_AGE`]), then video in order — and the router's decisions are
//! carried out *before* bytes enter the socket: a reset group's queued
//! frames are discarded (the subscriber gets a `Reset` only if part of the
//! group already went out). What waits in the lanes is the backlog reported
//! to the router, exactly like the QUIC queues. Undecodable input closes
//! this connection only, with WebSocket close code 4000 + the protocol's
//! close code and the same `<code>: <message>` reason.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use podium_media_core::wire::media::decode_datagram_frames;
use podium_media_core::wire::ws::{MAX_WS_MESSAGE, WsMessage};
use podium_media_core::{
    Action, ClientMessage, CloseCode, ControlReader, EndMode, Message as _, ParticipantId,
    StreamHeader, StreamReader, TrackId, WireError,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::Shared;
use super::fanout::{IoCounters, PreparedFrame};
use super::session::{ConnLink, Input, Transport, Wire};
use crate::token::SessionId;

/// Audio waiting longer than this for a slow WebSocket is dropped: late audio
/// is worth nothing and would only delay what follows.
pub const AUDIO_MAX_AGE: Duration = Duration::from_millis(200);
/// Bytes tungstenite gathers before writing to the socket.
const WRITE_BUFFER: usize = 16 * 1024;
/// Media streams a client may have open at once on one WebSocket.
pub const MAX_OPEN_STREAMS: usize = 64;

/// The WebSocket close code for a protocol close code: 4000 + code.
pub fn ws_close_code(code: CloseCode) -> u16 {
    4000 + code as u16
}

/// The `Sec-WebSocket-Accept` value for a request's `Sec-WebSocket-Key`.
pub fn websocket_accept_key(key: &[u8]) -> String {
    tokio_tungstenite::tungstenite::handshake::derive_accept_key(key)
}

type Sink<S> = SplitSink<WebSocketStream<S>, Message>;
type Source<S> = SplitStream<WebSocketStream<S>>;
type StreamKey = (TrackId, u64);

struct Lanes {
    audio: VecDeque<(Instant, Bytes)>,
    video: VecDeque<(StreamKey, Bytes)>,
    /// Streams open towards the subscriber: their header, and whether any of
    /// their bytes went into the socket yet.
    open: HashMap<StreamKey, (StreamHeader, bool)>,
    close: Option<(CloseCode, String)>,
}

/// Everything waiting to go out on one WebSocket (see the module doc).
pub(crate) struct WsQueue {
    lanes: Mutex<Lanes>,
    queued: AtomicU64,
    /// Bytes written into the socket since the connection opened (its drain
    /// rate is the link estimate when a backlog builds up).
    written: AtomicU64,
    wake: Notify,
    /// Wakes the reader when the connection is being closed.
    closing: Notify,
    limit: u64,
    counters: OnceLock<Arc<IoCounters>>,
}

impl WsQueue {
    fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self {
            lanes: Mutex::new(Lanes {
                audio: VecDeque::new(),
                video: VecDeque::new(),
                open: HashMap::new(),
                close: None,
            }),
            queued: AtomicU64::new(0),
            written: AtomicU64::new(0),
            wake: Notify::new(),
            closing: Notify::new(),
            limit,
            counters: OnceLock::new(),
        })
    }

    fn count(&self, f: impl FnOnce(&IoCounters)) {
        if let Some(c) = self.counters.get() {
            f(c);
        }
    }

    /// Bytes waiting (and being written).
    pub fn queued(&self) -> u64 {
        self.queued.load(Relaxed)
    }

    /// Bytes written into the socket so far.
    pub fn written_total(&self) -> u64 {
        self.written.load(Relaxed)
    }

    /// Asks the writer to close the connection (after nothing else).
    pub fn close(&self, code: CloseCode, reason: &str) {
        let mut lanes = self.lanes.lock().expect("ws lanes");
        lanes.close.get_or_insert_with(|| (code, reason.to_owned()));
        drop(lanes);
        self.wake.notify_one();
        self.closing.notify_waiters();
    }

    /// Resolves once [`close`](Self::close) was called.
    async fn closed(&self) {
        loop {
            let notified = self.closing.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.take_close().is_some() {
                return;
            }
            notified.await;
        }
    }

    fn admit(&self, len: u64) -> bool {
        if self.queued.load(Relaxed) + len > self.limit {
            self.count(|c| {
                c.frames_over_limit.fetch_add(1, Relaxed);
            });
            return false;
        }
        self.queued.fetch_add(len, Relaxed);
        true
    }

    /// Carries out one delivery of a prepared frame.
    pub fn deliver(&self, action: Action, frame: &PreparedFrame) {
        let Some(bytes) = frame.ws.as_ref() else {
            return; // made whenever a WebSocket subscriber is connected
        };
        match action {
            // A reliable socket loses nothing: never the redundant form.
            Action::Datagram { .. } => {
                if !self.admit(bytes.len() as u64) {
                    return;
                }
                let mut lanes = self.lanes.lock().expect("ws lanes");
                if frame.datagram.is_none() {
                    let key = (frame.track, 0);
                    lanes
                        .open
                        .entry(key)
                        .or_insert((StreamHeader::audio(frame.track.0), false));
                    self.count(|c| {
                        c.datagram_fallbacks.fetch_add(1, Relaxed);
                    });
                } else {
                    self.count(|c| {
                        c.datagrams_sent.fetch_add(1, Relaxed);
                    });
                }
                lanes.audio.push_back((Instant::now(), bytes.clone()));
            }
            Action::Stream { group, open } => {
                let key = (frame.track, group);
                let mut lanes = self.lanes.lock().expect("ws lanes");
                if open {
                    lanes
                        .open
                        .insert(key, (StreamHeader::video(frame.track.0, group), false));
                    self.count(|c| {
                        c.streams_opened.fetch_add(1, Relaxed);
                    });
                }
                if !lanes.open.contains_key(&key) {
                    self.count(|c| {
                        c.frames_without_stream.fetch_add(1, Relaxed);
                    });
                    return;
                }
                if !self.admit(bytes.len() as u64) {
                    return;
                }
                lanes.video.push_back((key, bytes.clone()));
                self.count(|c| {
                    c.frames_queued.fetch_add(1, Relaxed);
                });
            }
            Action::Replay { .. } | Action::Drop(_) => return,
        }
        self.wake.notify_one();
    }

    /// Finish: a `Finish` follows the stream's queued frames. Reset: its
    /// queued frames are discarded, and the subscriber hears of it only if
    /// some of it went out already.
    pub fn end_stream(&self, track: TrackId, group: u64, mode: EndMode) {
        let key = (track, group);
        let mut lanes = self.lanes.lock().expect("ws lanes");
        let Some((header, sent)) = lanes.open.remove(&key) else {
            return;
        };
        let marker = |m: WsMessage<'_>| {
            let mut out = BytesMut::with_capacity(1 + StreamHeader::MAX_LEN);
            m.encode(&mut out).expect("valid stream header");
            out.freeze()
        };
        match mode {
            EndMode::Finish => {
                let m = marker(WsMessage::Finish(header));
                self.queued.fetch_add(m.len() as u64, Relaxed);
                lanes.video.push_back((key, m));
                self.count(|c| {
                    c.streams_finished.fetch_add(1, Relaxed);
                });
            }
            EndMode::Reset => {
                let mut discarded = 0u64;
                lanes.video.retain(|(k, b)| {
                    let keep = *k != key;
                    if !keep {
                        discarded += b.len() as u64;
                    }
                    keep
                });
                self.release(discarded);
                if sent {
                    let m = marker(WsMessage::Reset(header));
                    self.queued.fetch_add(m.len() as u64, Relaxed);
                    lanes.video.push_back((key, m));
                }
                self.count(|c| {
                    c.streams_reset.fetch_add(1, Relaxed);
                });
            }
        }
        drop(lanes);
        self.wake.notify_one();
    }

    /// Drops everything queued (the subscriber left).
    pub fn reset_all(&self) {
        let mut lanes = self.lanes.lock().expect("ws lanes");
        lanes.audio.clear();
        lanes.video.clear();
        lanes.open.clear();
        self.queued.store(0, Relaxed);
    }

    /// The next media message to write: audio first (late audio is dropped), then video.
    fn pop(&self) -> Option<Bytes> {
        let mut lanes = self.lanes.lock().expect("ws lanes");
        while let Some((at, bytes)) = lanes.audio.pop_front() {
            if at.elapsed() <= AUDIO_MAX_AGE {
                return Some(bytes);
            }
            self.release(bytes.len() as u64);
            self.count(|c| {
                c.ws_audio_late.fetch_add(1, Relaxed);
            });
        }
        let (key, bytes) = lanes.video.pop_front()?;
        if let Some((_, sent)) = lanes.open.get_mut(&key) {
            *sent = true;
        }
        Some(bytes)
    }

    /// Bytes went into the socket: media (counted in `queued`) or control (not).
    fn written(&self, len: usize, media: bool) {
        let len = len as u64;
        self.written.fetch_add(len, Relaxed);
        if media {
            self.release(len);
        }
        self.count(|c| {
            c.ws_bytes_written.fetch_add(len, Relaxed);
            c.bytes_written.fetch_add(len, Relaxed);
        });
    }

    /// Takes bytes off the backlog; saturating, as `reset_all` may have
    /// zeroed it while they were being written.
    fn release(&self, len: u64) {
        let _ = self
            .queued
            .fetch_update(Relaxed, Relaxed, |q| Some(q.saturating_sub(len)));
    }

    fn take_close(&self) -> Option<(CloseCode, String)> {
        self.lanes.lock().expect("ws lanes").close.clone()
    }
}

fn control_message(bytes: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(1 + bytes.len());
    WsMessage::Control(bytes)
        .encode(&mut out)
        .expect("control bytes encode");
    out.freeze()
}

async fn send_close<S>(sink: &mut Sink<S>, code: CloseCode, reason: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // A close frame's reason is at most 123 bytes.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame {
        code: WsCode::from(ws_close_code(code)),
        reason: reason[..end].to_owned().into(),
    };
    let close = async {
        let _ = sink.send(Message::Close(Some(frame))).await;
        let _ = sink.close().await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), close).await;
}

/// Writes control messages, media and pings until the queue is closed.
async fn write_loop<S>(
    mut sink: Sink<S>,
    queue: Arc<WsQueue>,
    control: mpsc::Receiver<Bytes>,
    keep_alive: Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // `pump` only returns on close or a dead socket; a close also interrupts a
    // write stuck on a full socket (`close` wakes `pump` too, which may take
    // the notification: hence the polling here).
    let closing = async {
        while queue.take_close().is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        r = pump(&mut sink, &queue, control, keep_alive) => if r.is_err() { return },
        () = closing => {}
    }
    if let Some((code, reason)) = queue.take_close() {
        send_close(&mut sink, code, &reason).await;
    }
}

async fn pump<S>(
    sink: &mut Sink<S>,
    queue: &WsQueue,
    mut control: mpsc::Receiver<Bytes>,
    keep_alive: Duration,
) -> Result<(), WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut last_ping = Instant::now();
    loop {
        if queue.take_close().is_some() {
            return Ok(());
        }
        if last_ping.elapsed() >= keep_alive {
            last_ping = Instant::now();
            sink.feed(Message::Ping(Bytes::new())).await?;
        }
        let next = match control.try_recv() {
            Ok(bytes) => Some((control_message(&bytes), false)),
            Err(_) => queue.pop().map(|b| (b, true)),
        };
        if let Some((bytes, media)) = next {
            let len = bytes.len();
            let fed = sink.feed(Message::Binary(bytes)).await;
            queue.written(len, media);
            fed?;
            continue;
        }
        sink.flush().await?;
        let ping_at = last_ping + keep_alive;
        tokio::select! {
            biased;
            c = control.recv() => match c {
                Some(bytes) => {
                    let m = control_message(&bytes);
                    let len = m.len();
                    let fed = sink.feed(Message::Binary(m)).await;
                    queue.written(len, false);
                    fed?;
                }
                None => return Ok(()),
            },
            () = queue.wake.notified() => {}
            () = tokio::time::sleep_until(ping_at.into()) => {}
        }
    }
}

enum Ended {
    /// The client went away (or closed).
    Gone,
    /// Bad bytes from the client.
    Wire(WireError),
    /// Closed with this code and reason.
    Refused(CloseCode, String),
    /// The session task is gone.
    SessionOver,
}

impl Ended {
    fn close(self) -> Option<(CloseCode, String)> {
        match self {
            Ended::Gone => None,
            Ended::Wire(e) => Some((CloseCode::for_error(&e), format!("{}: {e}", e.code()))),
            Ended::Refused(code, reason) => Some((code, reason)),
            Ended::SessionOver => Some((
                CloseCode::Normal,
                "session_ended: the live session ended".into(),
            )),
        }
    }
}

fn ws_read_error(e: &WsError) -> Ended {
    match e {
        WsError::Capacity(c) => Ended::Refused(
            CloseCode::ProtocolError,
            format!("oversized: {c} (the limit is {MAX_WS_MESSAGE} bytes)"),
        ),
        WsError::Protocol(p) => {
            Ended::Refused(CloseCode::ProtocolError, format!("websocket_protocol: {p}"))
        }
        _ => Ended::Gone,
    }
}

/// The next binary message; anything else ends the connection as it should.
async fn next_binary<S>(source: &mut Source<S>, idle: Duration) -> Result<Bytes, Ended>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let message = match tokio::time::timeout(idle, source.next()).await {
            Err(_) | Ok(None) => return Err(Ended::Gone),
            Ok(Some(Err(e))) => return Err(ws_read_error(&e)),
            Ok(Some(Ok(m))) => m,
        };
        match message {
            Message::Binary(b) => return Ok(b),
            Message::Text(_) => {
                return Err(Ended::Refused(
                    CloseCode::ProtocolError,
                    "text_message: only binary messages carry the protocol".into(),
                ));
            }
            Message::Close(_) => return Err(Ended::Gone),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

/// Serves one upgraded WebSocket for `session` until it ends. The caller has
/// checked the `Origin` and completed the HTTP upgrade.
pub(crate) async fn handle_websocket<S>(shared: Arc<Shared>, session: SessionId, io: S)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(MAX_WS_MESSAGE);
    config.max_frame_size = Some(MAX_WS_MESSAGE);
    // Little buffering in tungstenite (its default is 128 KiB): what cannot
    // go into the socket waits in `WsQueue`, where the router sees it.
    config.write_buffer_size = WRITE_BUFFER;
    config.max_write_buffer_size = MAX_WS_MESSAGE + 2 * WRITE_BUFFER;
    let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    let id = shared.next_conn.fetch_add(1, Relaxed);
    let span = tracing::info_span!(
        "connection",
        id,
        session = session.0,
        transport = "websocket"
    );
    tracing::Instrument::instrument(run(shared, ws, session, id), span).await;
}

async fn run<S>(shared: Arc<Shared>, ws: WebSocketStream<S>, session: SessionId, id: u64)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut source) = ws.split();
    let idle = shared.config.idle_timeout;
    let hello_timeout = shared.config.hello_timeout;
    let before_join = async {
        let (reader, hello) =
            match tokio::time::timeout(hello_timeout, read_hello(&mut source, idle)).await {
                Err(_) => {
                    return Err(Ended::Refused(
                        CloseCode::ProtocolError,
                        format!(
                            "hello_timeout: no Hello within {} s",
                            hello_timeout.as_secs()
                        ),
                    ));
                }
                Ok(r) => r?,
            };
        let claims = shared
            .config
            .token_key
            .verify(&hello.token, session, SystemTime::now())
            .map_err(|e| {
                tracing::info!("token refused: {}", e.code());
                Ended::Refused(CloseCode::Unauthorized, format!("{}: {e}", e.code()))
            })?;
        let session_ref = shared.session(session).ok_or_else(|| {
            Ended::Refused(
                CloseCode::Unauthorized,
                format!("session_not_live: live session {session} is not open"),
            )
        })?;
        Ok((reader, claims, session_ref))
    };
    let (mut reader, claims, session_ref) = match before_join.await {
        Ok(x) => x,
        Err(ended) => {
            if let Some((code, reason)) = ended.close() {
                send_close(&mut sink, code, &reason).await;
            }
            return;
        }
    };
    let queue = WsQueue::new(shared.config.subscriber_queue_limit);
    let _ = queue.counters.set(session_ref.counters.clone());
    let tx = session_ref.tx;
    let participant = claims.participant;
    let (link, control_rx) = ConnLink::new(id, Wire::Ws(queue.clone()));
    let (reply, joined) = oneshot::channel();
    let refused = if tx
        .send(Input::Join {
            link,
            claims,
            reply,
        })
        .await
        .is_err()
    {
        Ended::SessionOver.close()
    } else {
        match joined.await {
            Ok(Ok(())) => None,
            Ok(Err((code, reason))) => Some((code, reason)),
            Err(_) => Ended::SessionOver.close(),
        }
    };
    if let Some((code, reason)) = refused {
        send_close(&mut sink, code, &reason).await;
        return;
    }
    let _counted = shared.count_connection(Transport::WebSocket);
    let writer = tokio::spawn(write_loop(
        sink,
        queue.clone(),
        control_rx,
        shared.config.keep_alive,
    ));
    // The server may close first (removed, replaced, session ended): then
    // stop reading at once instead of waiting for the client's answer.
    let ended = tokio::select! {
        e = read_loop(&mut source, &mut reader, &tx, id, participant, idle) => e,
        () = queue.closed() => Ended::Gone,
    };
    match &ended {
        Ended::Wire(e) => tracing::info!(participant = participant.0, "protocol error: {e}"),
        Ended::Refused(_, reason) => {
            tracing::info!(participant = participant.0, "closed: {reason}")
        }
        _ => {}
    }
    let (code, reason) = ended
        .close()
        .unwrap_or((CloseCode::Normal, "left: the connection ended".into()));
    queue.close(code, &reason);
    let _ = tx
        .send(Input::Closed {
            conn: id,
            from: participant,
        })
        .await;
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

/// Reads up to the first control message, which must be `Hello`.
async fn read_hello<S>(
    source: &mut Source<S>,
    idle: Duration,
) -> Result<
    (
        ControlReader<ClientMessage>,
        podium_media_core::wire::control::Hello,
    ),
    Ended,
>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut reader = ControlReader::<ClientMessage>::new();
    loop {
        if let Some(message) = reader.next_message().map_err(Ended::Wire)? {
            return match message {
                ClientMessage::Hello(hello) => Ok((reader, hello)),
                other => Err(Ended::Wire(WireError::InvalidBody {
                    message: other.name(),
                    reason: "the first message must be Hello".into(),
                })),
            };
        }
        let bytes = next_binary(source, idle).await?;
        match WsMessage::decode(&bytes).map_err(Ended::Wire)? {
            WsMessage::Control(b) => reader.push(b),
            _ => {
                return Err(Ended::Wire(WireError::InvalidBody {
                    message: "Hello",
                    reason: "media before Hello".into(),
                }));
            }
        }
    }
}

async fn read_loop<S>(
    source: &mut Source<S>,
    reader: &mut ControlReader<ClientMessage>,
    tx: &mpsc::Sender<Input>,
    conn: u64,
    from: ParticipantId,
    idle: Duration,
) -> Ended
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut streams: HashMap<StreamHeader, StreamReader> = HashMap::new();
    loop {
        // Control messages that came with Hello or since.
        loop {
            match reader.next_message() {
                Ok(Some(message)) => {
                    let input = Input::Control {
                        conn,
                        from,
                        message,
                    };
                    if tx.send(input).await.is_err() {
                        return Ended::SessionOver;
                    }
                }
                Ok(None) => break,
                Err(e) => return Ended::Wire(e),
            }
        }
        let bytes = match next_binary(source, idle).await {
            Ok(b) => b,
            Err(e) => return e,
        };
        let message = match WsMessage::decode(&bytes) {
            Ok(m) => m,
            Err(e) => return Ended::Wire(e),
        };
        match message {
            WsMessage::Control(b) => reader.push(b),
            WsMessage::Datagram(d) => {
                let frames = match decode_datagram_frames(d) {
                    Ok(f) => f,
                    Err(e) => return Ended::Wire(e),
                };
                for (header, payload, _copy) in frames.iter() {
                    let input = Input::Frame {
                        conn,
                        from,
                        header,
                        payload: bytes.slice_ref(payload),
                    };
                    match tx.try_send(input) {
                        Ok(()) => {}
                        // Audio is lossy: rather drop it than wait.
                        Err(mpsc::error::TrySendError::Full(_)) => {}
                        Err(mpsc::error::TrySendError::Closed(_)) => return Ended::SessionOver,
                    }
                }
            }
            WsMessage::Stream(header, data) => {
                if !streams.contains_key(&header) && streams.len() >= MAX_OPEN_STREAMS {
                    return Ended::Refused(
                        CloseCode::ProtocolError,
                        format!(
                            "too_many_streams: more than {MAX_OPEN_STREAMS} media streams open at once"
                        ),
                    );
                }
                let stream = streams.entry(header).or_insert_with(|| {
                    let mut r = StreamReader::new();
                    let mut head = BytesMut::with_capacity(StreamHeader::MAX_LEN);
                    header.encode(&mut head).expect("decoded header encodes");
                    r.push(&head);
                    r
                });
                stream.push(data);
                loop {
                    match stream.next_frame() {
                        Ok(Some((header, payload))) => {
                            let input = Input::Frame {
                                conn,
                                from,
                                header,
                                payload,
                            };
                            if tx.send(input).await.is_err() {
                                return Ended::SessionOver;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => return Ended::Wire(e),
                    }
                }
            }
            WsMessage::Finish(header) => {
                let Some(stream) = streams.remove(&header) else {
                    return Ended::Wire(WireError::Truncated {
                        what: "stream header (Finish of a stream that never started)",
                    });
                };
                if let Err(e) = stream.finish() {
                    return Ended::Wire(e);
                }
            }
            // The publisher abandoned the stream (e.g. its group was superseded).
            WsMessage::Reset(header) => {
                streams.remove(&header);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use podium_media_core::{FrameHeader, MediaKind};

    use super::super::fanout::PeerQueue;
    use super::*;

    fn video(group: u64, sequence: u64) -> PreparedFrame {
        let header = FrameHeader {
            track: 7,
            group,
            sequence,
            timestamp_us: 1,
            keyframe: sequence == 0,
            temporal_layer: 0,
        };
        PreparedFrame::encode(TrackId(7), MediaKind::Video, &header, &[9; 100], true).unwrap()
    }

    fn kinds(q: &WsQueue) -> Vec<u8> {
        std::iter::from_fn(|| q.pop()).map(|b| b[0]).collect()
    }

    #[test]
    fn a_reset_group_never_enters_the_socket() {
        let q = WsQueue::new(1 << 20);
        q.deliver(
            Action::Stream {
                group: 1,
                open: true,
            },
            &video(1, 0),
        );
        q.deliver(
            Action::Stream {
                group: 1,
                open: false,
            },
            &video(1, 1),
        );
        assert!(q.queued() > 200);
        q.end_stream(TrackId(7), 1, EndMode::Reset);
        assert_eq!(q.queued(), 0, "nothing of it waits");
        assert_eq!(
            kinds(&q),
            Vec::<u8>::new(),
            "and the subscriber hears nothing of it"
        );
    }

    #[test]
    fn a_group_partly_sent_is_reset_and_a_finished_one_finished() {
        let q = WsQueue::new(1 << 20);
        q.deliver(
            Action::Stream {
                group: 1,
                open: true,
            },
            &video(1, 0),
        );
        let first = q.pop().unwrap();
        q.written(first.len(), true);
        q.deliver(
            Action::Stream {
                group: 1,
                open: false,
            },
            &video(1, 1),
        );
        q.end_stream(TrackId(7), 1, EndMode::Reset);
        q.deliver(
            Action::Stream {
                group: 2,
                open: true,
            },
            &video(2, 0),
        );
        q.end_stream(TrackId(7), 2, EndMode::Finish);
        assert_eq!(kinds(&q), [WS_RESET_KIND, WS_STREAM_KIND, WS_FINISH_KIND]);
        // A frame for a stream that is not open is not queued.
        q.deliver(
            Action::Stream {
                group: 3,
                open: false,
            },
            &video(3, 1),
        );
        assert!(q.pop().is_none());
    }

    #[test]
    fn the_hard_limit_refuses_frames() {
        let q = WsQueue::new(150);
        q.deliver(
            Action::Stream {
                group: 1,
                open: true,
            },
            &video(1, 0),
        );
        q.deliver(
            Action::Stream {
                group: 1,
                open: false,
            },
            &video(1, 1),
        );
        assert_eq!(kinds(&q).len(), 1);
    }

    const WS_STREAM_KIND: u8 = podium_media_core::wire::ws::WS_STREAM;
    const WS_FINISH_KIND: u8 = podium_media_core::wire::ws::WS_FINISH;
    const WS_RESET_KIND: u8 = podium_media_core::wire::ws::WS_RESET;

    #[test]
    fn control_writes_and_a_reset_while_writing_never_wrap_the_backlog() {
        let q = WsQueue::new(1 << 20);
        let open = Action::Stream {
            group: 1,
            open: true,
        };
        q.deliver(open, &video(1, 0));
        let media = q.queued();
        // Control messages go out without ever being part of the backlog.
        q.written(5000, false);
        assert_eq!(q.queued(), media);
        assert_eq!(q.written_total(), 5000);
        // The subscriber leaves while a frame is being written.
        let first = q.pop().unwrap();
        q.reset_all();
        q.written(first.len(), true);
        assert_eq!(q.queued(), 0);
        q.end_stream(TrackId(7), 1, EndMode::Reset);
        assert_eq!(q.queued(), 0);
    }

    #[test]
    fn a_replay_to_a_websocket_opens_the_group_and_sends_cached_frames_in_order() {
        let q = WsQueue::new(1 << 20);
        // Cached while no WebSocket subscriber was connected: no WebSocket form.
        let cached: Vec<PreparedFrame> = (0..3)
            .map(|i| {
                let mut f = video(4, i);
                f.ws = None;
                f
            })
            .collect();
        PeerQueue::Ws(q.clone()).replay(4, cached.iter());
        let out: Vec<Bytes> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(out.len(), 3);
        for (i, b) in out.iter().enumerate() {
            let expected = video(4, i as u64).ws.unwrap();
            assert_eq!(b, &expected, "frame {i}");
        }
    }
}
