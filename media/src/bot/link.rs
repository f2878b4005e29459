//! How a bot reaches the SFU: WebTransport (QUIC) or WebSocket (TCP,
//! PROTOCOL.md §8). Both carry the same control bytes, datagrams and
//! unidirectional streams; this module hides which one is under a bot.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use podium_media_core::wire::ws::{MAX_WS_MESSAGE, WsMessage};
use podium_media_core::{StreamHeader, StreamReader};
use tokio::net::TcpStream;
use tokio::sync::{Mutex as AsyncMutex, mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCode;
use wtransport::{Connection, SendStream, VarInt};

use super::BotError;
use super::receive::{Pacer, Receiver};

/// The transport under a bot.
#[derive(Clone)]
pub(crate) enum Link {
    Wt(Connection),
    Ws(Arc<WsLink>),
}

/// The WebSocket side of a bot: a writer task fed by `out`, and the close
/// the reader saw.
pub(crate) struct WsLink {
    out: mpsc::UnboundedSender<Message>,
    closed: watch::Receiver<Option<BotError>>,
}

impl Link {
    /// Sends an audio datagram (its type byte included).
    pub fn send_datagram(&self, datagram: &[u8]) -> bool {
        match self {
            Link::Wt(c) => c.send_datagram(datagram).is_ok(),
            Link::Ws(w) => w.send(&WsMessage::Datagram(datagram)),
        }
    }

    /// Opens a unidirectional stream and writes its header.
    pub async fn open_uni(&self, header: StreamHeader) -> Option<UniStream> {
        match self {
            Link::Wt(c) => {
                let mut s = c.open_uni().await.ok()?.await.ok()?;
                let mut head = BytesMut::with_capacity(StreamHeader::MAX_LEN);
                header.encode(&mut head).ok()?;
                s.write_all(&head).await.ok()?;
                Some(UniStream::Wt(s))
            }
            Link::Ws(w) => Some(UniStream::Ws(w.clone(), header)),
        }
    }

    /// Waits until the connection ends and says why.
    pub async fn closed(&self) -> BotError {
        match self {
            Link::Wt(c) => super::closed_error(c.closed().await),
            Link::Ws(w) => {
                let mut rx = w.closed.clone();
                match rx.wait_for(Option::is_some).await {
                    Ok(v) => v.clone().expect("waited for Some"),
                    Err(_) => BotError::Lost("the WebSocket reader ended".into()),
                }
            }
        }
    }

    /// Leaves (close code 0).
    pub fn close(&self) {
        match self {
            Link::Wt(c) => c.close(VarInt::from_u32(0), b"bye"),
            Link::Ws(w) => {
                let _ = w.out.send(Message::Close(Some(
                    tokio_tungstenite::tungstenite::protocol::CloseFrame {
                        code: WsCode::from(4000),
                        reason: "bye".into(),
                    },
                )));
            }
        }
    }
}

impl WsLink {
    fn send(&self, m: &WsMessage<'_>) -> bool {
        let mut out = BytesMut::new();
        if m.encode(&mut out).is_err() {
            return false;
        }
        self.out.send(Message::Binary(out.freeze())).is_ok()
    }

    /// Sends one raw WebSocket message (for tests of bad input).
    pub fn send_raw(&self, m: Message) -> bool {
        self.out.send(m).is_ok()
    }
}

/// An outgoing unidirectional stream.
pub(crate) enum UniStream {
    Wt(SendStream),
    Ws(Arc<WsLink>, StreamHeader),
}

impl UniStream {
    pub async fn write_all(&mut self, bytes: &[u8]) -> bool {
        match self {
            UniStream::Wt(s) => s.write_all(bytes).await.is_ok(),
            UniStream::Ws(w, h) => w.send(&WsMessage::Stream(*h, bytes)),
        }
    }

    pub async fn finish(&mut self) {
        match self {
            UniStream::Wt(s) => {
                let _ = s.finish().await;
            }
            UniStream::Ws(w, h) => {
                w.send(&WsMessage::Finish(*h));
            }
        }
    }
}

/// Where control bytes go.
pub(crate) enum ControlOut {
    Wt(AsyncMutex<SendStream>),
    Ws(Arc<WsLink>),
}

impl ControlOut {
    pub async fn write_all(&self, bytes: &[u8]) -> Result<(), BotError> {
        match self {
            ControlOut::Wt(s) => s
                .lock()
                .await
                .write_all(bytes)
                .await
                .map_err(|e| BotError::Lost(e.to_string())),
            ControlOut::Ws(w) => {
                if w.send(&WsMessage::Control(bytes)) {
                    Ok(())
                } else {
                    Err(BotError::Lost("the WebSocket writer ended".into()))
                }
            }
        }
    }
}

pub(crate) type WsSource = SplitStream<WebSocketStream<TcpStream>>;

/// Opens the WebSocket (`ws://host:port/live/{session}`) with an `Origin`;
/// `receive_buffer` shrinks the socket's receive buffer (a slow client).
pub(crate) async fn connect_ws(
    url: &str,
    origin: Option<&str>,
    receive_buffer: Option<u32>,
) -> Result<(Arc<WsLink>, WsSource, watch::Sender<Option<BotError>>), BotError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| BotError::Connect(e.to_string()))?;
    if let Some(origin) = origin {
        request.headers_mut().insert(
            "origin",
            origin
                .parse()
                .map_err(|_| BotError::Connect("bad origin".into()))?,
        );
    }
    let host = request.uri().host().unwrap_or("127.0.0.1").to_owned();
    let port = request.uri().port_u16().unwrap_or(80);
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| BotError::Connect(e.to_string()))?
        .next()
        .ok_or_else(|| BotError::Connect(format!("no address for {host}")))?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(|e| BotError::Connect(e.to_string()))?;
    if let Some(size) = receive_buffer {
        socket
            .set_recv_buffer_size(size)
            .map_err(|e| BotError::Connect(e.to_string()))?;
    }
    let tcp = socket
        .connect(addr)
        .await
        .map_err(|e| BotError::Connect(e.to_string()))?;
    tcp.set_nodelay(true).ok();
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(MAX_WS_MESSAGE);
    config.max_frame_size = Some(MAX_WS_MESSAGE);
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, tcp, Some(config))
        .await
        .map_err(|e| BotError::Connect(e.to_string()))?;
    let (mut sink, source) = ws.split();
    let (out, mut rx) = mpsc::unbounded_channel::<Message>();
    tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let close = matches!(m, Message::Close(_));
            if sink.feed(m).await.is_err() {
                return;
            }
            while let Ok(m) = rx.try_recv() {
                if sink.feed(m).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() || close {
                return;
            }
        }
    });
    let (closed_tx, closed) = watch::channel(None);
    Ok((Arc::new(WsLink { out, closed }), source, closed_tx))
}

/// The close the server sent, as a bot error (code = WebSocket code − 4000).
pub(crate) fn ws_closed(
    m: Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>,
) -> BotError {
    match m {
        Some(f) => BotError::Closed {
            code: u64::from(u16::from(f.code)).saturating_sub(4000),
            reason: f.reason.to_string(),
        },
        None => BotError::Lost("closed without a code".into()),
    }
}

/// The next WebSocket message the protocol cares about: binary data, or the close.
pub(crate) async fn next_ws(source: &mut WsSource) -> Result<Bytes, BotError> {
    loop {
        match source.next().await {
            None => return Err(BotError::Lost("the connection ended".into())),
            Some(Err(e)) => return Err(BotError::Lost(e.to_string())),
            Some(Ok(Message::Binary(b))) => return Ok(b),
            Some(Ok(Message::Close(f))) => return Err(ws_closed(f)),
            Some(Ok(_)) => {}
        }
    }
}

/// Reads everything after `Welcome`: control bytes go to `control`, frames
/// to the receiver; at the end the close is published on `closed`.
pub(crate) async fn ws_reader(
    mut source: WsSource,
    control: mpsc::UnboundedSender<Bytes>,
    receiver: Arc<Receiver>,
    read_rate: Option<u64>,
    closed: watch::Sender<Option<BotError>>,
) {
    let pacer = read_rate.map(Pacer::new);
    let mut streams: HashMap<StreamHeader, StreamReader> = HashMap::new();
    let ended = loop {
        let bytes = match next_ws(&mut source).await {
            Ok(b) => b,
            Err(e) => break e,
        };
        if let Some(p) = &pacer {
            p.take(bytes.len()).await;
        }
        match WsMessage::decode(&bytes) {
            Ok(WsMessage::Control(b)) => {
                let _ = control.send(bytes.slice_ref(b));
            }
            Ok(WsMessage::Datagram(d)) => receiver.datagram(d),
            Ok(WsMessage::Stream(header, data)) => {
                let stream = streams.entry(header).or_insert_with(|| {
                    receiver.stream_opened();
                    let mut r = StreamReader::new();
                    let mut head = BytesMut::new();
                    header.encode(&mut head).expect("decoded header encodes");
                    r.push(&head);
                    r
                });
                stream.push(data);
                if !receiver.stream_frames(stream) {
                    streams.remove(&header);
                }
            }
            Ok(WsMessage::Finish(header)) => {
                streams.remove(&header);
            }
            Ok(WsMessage::Reset(header)) => {
                streams.remove(&header);
                receiver.stream_reset();
            }
            Err(e) => tracing::warn!("bot: bad WebSocket message: {e}"),
        }
    };
    let _ = closed.send(Some(ended));
}
