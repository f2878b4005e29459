//! One WebTransport connection: Origin check, `Hello` within the deadline,
//! token verification, then three loops until the connection ends — the
//! control stream (decoded messages to the session task), incoming
//! unidirectional streams (one reader task each, frames to the session task),
//! and datagrams — plus a writer task for the outgoing control messages.
//! Undecodable input closes this connection only, with code 1 and
//! `<code>: <message>` as the reason (PROTOCOL.md §6).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::SystemTime;

use bytes::Bytes;
use podium_media_core::wire::control::Hello;
use podium_media_core::wire::media::decode_datagram_frames;
use podium_media_core::{
    ClientMessage, CloseCode, ControlReader, Message, ParticipantId, StreamReader, WireError,
};
use tokio::sync::{mpsc, oneshot};
use wtransport::endpoint::IncomingSession;
use wtransport::error::StreamReadError;
use wtransport::{Connection, RecvStream, SendStream};

use super::Shared;
use super::fanout::{AUDIO_PRIORITY, IoCounters};
use super::session::{ConnLink, Input, Transport, Wire, close_connection};
use crate::token::SessionId;

/// The path of a live session's WebTransport URL.
pub(crate) fn session_path(session: SessionId) -> String {
    format!("/live/{}", session.0)
}

fn parse_session_path(path: &str) -> Option<SessionId> {
    let id = path.strip_prefix("/live/")?;
    let id = id.split_once('?').map_or(id, |(id, _)| id);
    if id.is_empty() || id.len() > 16 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok().map(SessionId)
}

fn wire_reason(e: &WireError) -> String {
    format!("{}: {e}", e.code())
}

/// Handles one incoming QUIC connection until it ends.
pub(crate) async fn handle_incoming(shared: Arc<Shared>, incoming: IncomingSession) {
    let request = match incoming.await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!("session request failed: {e}");
            return;
        }
    };
    let Some(session) = parse_session_path(request.path()) else {
        request.not_found().await;
        return;
    };
    let origin_ok = shared.config.origins.allows(request.origin());
    let conn = match request.accept().await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!("accepting a session failed: {e}");
            return;
        }
    };
    if !origin_ok {
        close_connection(
            &conn,
            CloseCode::Unauthorized,
            "origin_refused: this page's origin may not connect",
        );
        return;
    }
    let id = shared.next_conn.fetch_add(1, Relaxed);
    let span = tracing::info_span!("connection", id, session = session.0);
    tracing::Instrument::instrument(run(shared, conn, session, id), span).await;
}

enum Ended {
    /// The connection closed or the client went away.
    Gone,
    /// Bad bytes from the client.
    Wire(WireError),
    /// The session task is gone.
    SessionOver,
}

async fn run(shared: Arc<Shared>, conn: Connection, session: SessionId, id: u64) {
    let (send, mut recv, mut reader, hello) =
        match tokio::time::timeout(shared.config.hello_timeout, read_hello(&conn)).await {
            Err(_) => {
                let reason = format!(
                    "hello_timeout: no Hello within {} s",
                    shared.config.hello_timeout.as_secs()
                );
                return close_connection(&conn, CloseCode::ProtocolError, &reason);
            }
            Ok(Err(Ended::Wire(e))) => {
                return close_connection(&conn, CloseCode::for_error(&e), &wire_reason(&e));
            }
            Ok(Err(_)) => return,
            Ok(Ok(x)) => x,
        };
    let claims = match shared
        .config
        .token_key
        .verify(&hello.token, session, SystemTime::now())
    {
        Ok(c) => c,
        Err(e) => {
            tracing::info!("token refused: {}", e.code());
            return close_connection(
                &conn,
                CloseCode::Unauthorized,
                &format!("{}: {e}", e.code()),
            );
        }
    };
    let Some(session_ref) = shared.session(session) else {
        return close_connection(
            &conn,
            CloseCode::Unauthorized,
            &format!("session_not_live: live session {session} is not open"),
        );
    };
    let tx = session_ref.tx;
    let participant = claims.participant;
    let (link, control_rx) = ConnLink::new(id, Wire::Quic(conn.clone()));
    let (reply, joined) = oneshot::channel();
    let join = Input::Join {
        link,
        claims,
        reply,
    };
    if tx.send(join).await.is_err() {
        return close_connection(
            &conn,
            CloseCode::Normal,
            "session_ended: the live session ended",
        );
    }
    match joined.await {
        Ok(Ok(())) => {}
        Ok(Err((code, reason))) => return close_connection(&conn, code, &reason),
        Err(_) => {
            return close_connection(
                &conn,
                CloseCode::Normal,
                "session_ended: the live session ended",
            );
        }
    }
    let _counted = shared.count_connection(Transport::WebTransport);
    let writer = tokio::spawn(write_control(send, control_rx));
    let counters = session_ref.counters;
    let ended = tokio::select! {
        e = control_loop(&tx, &mut recv, &mut reader, id, participant) => e,
        e = uni_loop(&conn, &tx, id, participant) => e,
        e = datagram_loop(&conn, &tx, id, participant, &counters) => e,
    };
    match ended {
        Ended::Wire(e) => {
            tracing::info!(participant = participant.0, "protocol error: {e}");
            close_connection(&conn, CloseCode::for_error(&e), &wire_reason(&e));
        }
        Ended::SessionOver => {
            close_connection(
                &conn,
                CloseCode::Normal,
                "session_ended: the live session ended",
            );
        }
        Ended::Gone => {}
    }
    let _ = tx
        .send(Input::Closed {
            conn: id,
            from: participant,
        })
        .await;
    writer.abort();
}

/// Accepts the control stream and reads up to the first message, which must be `Hello`.
async fn read_hello(
    conn: &Connection,
) -> Result<(SendStream, RecvStream, ControlReader<ClientMessage>, Hello), Ended> {
    let (send, mut recv) = conn.accept_bi().await.map_err(|_| Ended::Gone)?;
    let mut reader = ControlReader::<ClientMessage>::new();
    let mut buf = vec![0u8; 4096];
    loop {
        if let Some(message) = reader.next_message().map_err(Ended::Wire)? {
            return match message {
                ClientMessage::Hello(hello) => Ok((send, recv, reader, hello)),
                other => Err(Ended::Wire(WireError::InvalidBody {
                    message: other.name(),
                    reason: "the first message must be Hello".into(),
                })),
            };
        }
        match recv.read(&mut buf).await {
            Ok(Some(n)) => reader.push(&buf[..n]),
            Ok(None) => {
                return Err(Ended::Wire(WireError::Truncated {
                    what: "control stream before Hello",
                }));
            }
            Err(_) => return Err(Ended::Gone),
        }
    }
}

async fn write_control(mut send: SendStream, mut rx: mpsc::Receiver<Bytes>) {
    send.set_priority(AUDIO_PRIORITY);
    while let Some(bytes) = rx.recv().await {
        if send.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

async fn control_loop(
    tx: &mpsc::Sender<Input>,
    recv: &mut RecvStream,
    reader: &mut ControlReader<ClientMessage>,
    conn: u64,
    from: ParticipantId,
) -> Ended {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
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
        match recv.read(&mut buf).await {
            Ok(Some(n)) => reader.push(&buf[..n]),
            // The client ended its control stream: it left (or broke the framing).
            Ok(None) => {
                return match reader.finish() {
                    Ok(()) => Ended::Gone,
                    Err(e) => Ended::Wire(e),
                };
            }
            Err(_) => return Ended::Gone,
        }
    }
}

async fn uni_loop(
    conn: &Connection,
    tx: &mpsc::Sender<Input>,
    id: u64,
    from: ParticipantId,
) -> Ended {
    loop {
        let Ok(stream) = conn.accept_uni().await else {
            return Ended::Gone;
        };
        tokio::spawn(read_media_stream(
            stream,
            tx.clone(),
            conn.clone(),
            id,
            from,
        ));
    }
}

/// Reads one incoming media stream; bad bytes close the whole connection.
async fn read_media_stream(
    mut stream: RecvStream,
    tx: mpsc::Sender<Input>,
    conn: Connection,
    id: u64,
    from: ParticipantId,
) {
    let mut reader = StreamReader::new();
    let mut buf = vec![0u8; 32 * 1024];
    let fail = |e: WireError| {
        tracing::info!(participant = from.0, "bad media stream: {e}");
        close_connection(&conn, CloseCode::for_error(&e), &wire_reason(&e));
    };
    loop {
        match stream.read(&mut buf).await {
            Ok(Some(n)) => {
                reader.push(&buf[..n]);
                loop {
                    match reader.next_frame() {
                        Ok(Some((header, payload))) => {
                            let input = Input::Frame {
                                conn: id,
                                from,
                                header,
                                payload,
                            };
                            if tx.send(input).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => return fail(e),
                    }
                }
            }
            Ok(None) => {
                if let Err(e) = reader.finish() {
                    fail(e);
                }
                return;
            }
            // The publisher abandoned the stream (e.g. its group was superseded).
            Err(StreamReadError::Reset(_)) => return,
            Err(_) => return,
        }
    }
}

async fn datagram_loop(
    conn: &Connection,
    tx: &mpsc::Sender<Input>,
    id: u64,
    from: ParticipantId,
    counters: &IoCounters,
) -> Ended {
    loop {
        let Ok(datagram) = conn.receive_datagram().await else {
            return Ended::Gone;
        };
        let bytes = datagram.payload();
        let frames = match decode_datagram_frames(&bytes) {
            Ok(f) => f,
            Err(e) => return Ended::Wire(e),
        };
        // Copies first (oldest first): the router forwards each sequence once.
        for (header, payload, _copy) in frames.iter() {
            let input = Input::Frame {
                conn: id,
                from,
                header,
                payload: bytes.slice_ref(payload),
            };
            match tx.try_send(input) {
                Ok(()) => {}
                // Audio is lossy: rather drop a datagram than wait.
                Err(mpsc::error::TrySendError::Full(_)) => {
                    counters.datagrams_dropped_in.fetch_add(1, Relaxed);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return Ended::SessionOver,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_path_table() {
        let table = [
            ("/live/7", Some(7)),
            ("/live/7?x=1", Some(7)),
            ("/live/", None),
            ("/live/-1", None),
            ("/live/7/extra", None),
            ("/other/7", None),
            ("/live/99999999999999999", None),
        ];
        for (path, want) in table {
            assert_eq!(parse_session_path(path), want.map(SessionId), "{path}");
        }
        assert_eq!(session_path(SessionId(3)), "/live/3");
    }
}
