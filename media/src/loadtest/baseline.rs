//! The physical reference for load tests: a raw WebTransport fan-out with no
//! routing logic. It admits a connection like the SFU (control stream,
//! `Hello`, token, `Welcome`; `Publish` is answered with `Published`), then
//! copies every datagram and every incoming stream, byte for byte and
//! unparsed, to every other connection of the same room. No subscriptions, no
//! priorities, no layer or group dropping, no header rewriting, no codecs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use podium_media_core::wire::control::{Published, Welcome};
use podium_media_core::{
    ClientMessage, CloseCode, ControlReader, PROTOCOL_VERSION, RoomId, ServerMessage, TrackId,
};
use tokio::sync::{mpsc, watch};
use wtransport::endpoint::IncomingSession;
use wtransport::{Connection, Endpoint, RecvStream, SendStream, VarInt};

use crate::cert::{CertHashes, CertificateConfig, Certificates};
use crate::config::{OriginPolicy, SfuConfig};
use crate::error::MediaError;
use crate::server::server_config;
use crate::server::session_close;
use crate::token::{JoinTokenKey, SessionId};

type Room = Arc<RwLock<Vec<Connection>>>;

struct State {
    key: JoinTokenKey,
    rooms: Mutex<HashMap<(SessionId, RoomId), Room>>,
}

/// A running baseline server.
#[derive(Debug)]
pub struct BaselineServer {
    local_addr: SocketAddr,
    hashes: CertHashes,
    stop: watch::Sender<bool>,
}

impl BaselineServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Certificate hashes for the clients.
    pub fn cert_hashes(&self) -> CertHashes {
        self.hashes
    }

    /// Stops accepting new connections.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// Starts the baseline server on the current runtime, with the same QUIC
/// transport settings as the SFU would use with `sfu` (bind address, windows,
/// timeouts); tokens are verified with `sfu.token_key` for any session.
pub async fn start_baseline(sfu: &SfuConfig) -> Result<BaselineServer, MediaError> {
    let certs = Certificates::load(CertificateConfig::default()).await?;
    let endpoint = Endpoint::server(server_config(sfu, certs.current())?).map_err(|source| {
        MediaError::Bind {
            addr: sfu.bind,
            source,
        }
    })?;
    let local_addr = endpoint.local_addr().map_err(|source| MediaError::Bind {
        addr: sfu.bind,
        source,
    })?;
    let state = Arc::new(State {
        key: sfu.token_key.clone(),
        rooms: Mutex::default(),
    });
    let (stop, mut stopped) = watch::channel(false);
    let endpoint = Arc::new(endpoint);
    tokio::spawn(async move {
        loop {
            let incoming = tokio::select! {
                _ = stopped.changed() => return,
                i = endpoint.accept() => i,
            };
            tokio::spawn(serve(state.clone(), incoming));
        }
    });
    Ok(BaselineServer {
        local_addr,
        hashes: certs.hashes(),
        stop,
    })
}

/// A default config for [`start_baseline`]: loopback, port 0, any origin.
pub fn baseline_config(token_key: JoinTokenKey) -> SfuConfig {
    SfuConfig::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        token_key,
        OriginPolicy::AnyOriginInsecure,
    )
}

async fn serve(state: Arc<State>, incoming: IncomingSession) {
    let Ok(request) = incoming.await else { return };
    let Some(session) = request
        .path()
        .strip_prefix("/live/")
        .and_then(|s| s.parse().ok())
        .map(SessionId)
    else {
        request.not_found().await;
        return;
    };
    let Ok(conn) = request.accept().await else {
        return;
    };
    let Ok(opening) = conn.accept_bi().await else {
        return;
    };
    let (mut send, mut recv) = opening;
    let mut reader = ControlReader::<ClientMessage>::new();
    let mut buf = vec![0u8; 8192];
    let hello = loop {
        match reader.next_message() {
            Ok(Some(ClientMessage::Hello(h))) => break h,
            Ok(Some(_)) | Err(_) => {
                return session_close(&conn, CloseCode::ProtocolError, "invalid_body: Hello first");
            }
            Ok(None) => {}
        }
        match recv.read(&mut buf).await {
            Ok(Some(n)) => reader.push(&buf[..n]),
            _ => return,
        }
    };
    let Ok(claims) = state.key.verify(&hello.token, session, SystemTime::now()) else {
        return session_close(&conn, CloseCode::Unauthorized, "token refused");
    };
    let welcome = ServerMessage::Welcome(Welcome {
        version: PROTOCOL_VERSION,
        participant: claims.participant,
        room: claims.room,
        may_publish: claims.may_publish,
        server_time: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    });
    if write(&mut send, &welcome).await.is_err() {
        return;
    }
    let room: Room = state
        .rooms
        .lock()
        .expect("rooms lock")
        .entry((session, claims.room))
        .or_default()
        .clone();
    room.write().expect("room lock").push(conn.clone());
    let me = conn.stable_id();
    let participant = claims.participant.0;
    tokio::select! {
        () = async {
            // Control: answer Publish, ignore the rest.
            loop {
                while let Ok(Some(m)) = reader.next_message() {
                    if let ClientMessage::Publish(p) = m {
                        let track = TrackId((participant as u32).wrapping_mul(16).wrapping_add(p.track_id));
                        let published = ServerMessage::Published(Published { track_id: p.track_id, track });
                        if write(&mut send, &published).await.is_err() {
                            return;
                        }
                    }
                }
                match recv.read(&mut buf).await {
                    Ok(Some(n)) => reader.push(&buf[..n]),
                    _ => return,
                }
            }
        } => {}
        () = async {
            while let Ok(d) = conn.receive_datagram().await {
                for other in room.read().expect("room lock").iter() {
                    if other.stable_id() != me {
                        let _ = other.send_datagram(&*d);
                    }
                }
            }
        } => {}
        () = async {
            while let Ok(stream) = conn.accept_uni().await {
                let others: Vec<Connection> = room
                    .read()
                    .expect("room lock")
                    .iter()
                    .filter(|c| c.stable_id() != me)
                    .cloned()
                    .collect();
                tokio::spawn(copy_stream(stream, others));
            }
        } => {}
    }
    room.write()
        .expect("room lock")
        .retain(|c| c.stable_id() != me);
    conn.close(VarInt::from_u32(0), b"bye");
}

async fn write(send: &mut SendStream, m: &ServerMessage) -> Result<(), ()> {
    let mut out = Vec::new();
    m.encode(&mut out).map_err(drop)?;
    send.write_all(&out).await.map_err(drop)
}

/// Copies one incoming stream to a new stream on each of `others`, each with
/// its own queue so a slow receiver only delays itself.
async fn copy_stream(mut stream: RecvStream, others: Vec<Connection>) {
    let outs: Vec<mpsc::UnboundedSender<Bytes>> = others
        .into_iter()
        .map(|c| {
            let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
            tokio::spawn(async move {
                let Ok(opening) = c.open_uni().await else {
                    return;
                };
                let Ok(mut s) = opening.await else { return };
                while let Some(chunk) = rx.recv().await {
                    if s.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
                let _ = s.finish().await;
            });
            tx
        })
        .collect();
    let mut buf = vec![0u8; 32 * 1024];
    while let Ok(Some(n)) = stream.read(&mut buf).await {
        let chunk = Bytes::copy_from_slice(&buf[..n]);
        for tx in &outs {
            let _ = tx.send(chunk.clone());
        }
    }
}
