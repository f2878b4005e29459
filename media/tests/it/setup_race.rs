//! Why `keyframes::twenty_joiners...` failed once with "closed by the server
//! with code 261" (H3_FRAME_UNEXPECTED), shown deterministically with a raw
//! QUIC client that sends the HTTP/3 bytes itself.
//!
//! wtransport 0.7.2's connection driver reads the peer's HTTP/3 control
//! stream inside a `select!` that is rebuilt whenever another event (a new
//! stream, a datagram) wins; a frame read that was waiting for its next
//! bytes is dropped with the bytes it had taken. Its own client writes the
//! SETTINGS frame in three writes (type, length, payload), so under load the
//! frame can arrive in two packets; if the client's next stream arrives in
//! between, the server loses the frame's first bytes, reads the SETTINGS
//! payload as frames, meets its first setting id (0x01, the HEADERS frame
//! type) on a control stream and closes the connection with 261. Only the
//! connection setup is affected (the control stream carries nothing after
//! SETTINGS), before `Hello`, so the bots retry it (`Bot::connect`).

use std::net::SocketAddr;
use std::time::Duration;

use wtransport::ClientConfig;
use wtransport::quinn;

use crate::support::Server;

/// A QUIC connection to the test SFU with the WebTransport ALPN, no HTTP/3 yet.
async fn raw_quic(server: &Server) -> (quinn::Endpoint, quinn::Connection) {
    let config = ClientConfig::builder()
        .with_bind_address(SocketAddr::from(([127, 0, 0, 1], 0)))
        .with_server_certificate_hashes(
            server
                .handle
                .cert_hashes()
                .all()
                .iter()
                .map(|h| wtransport::tls::Sha256Digest::new(h.0)),
        )
        .build();
    let mut endpoint =
        quinn::Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0))).expect("client endpoint");
    endpoint.set_default_client_config(config.quic_config().clone());
    let conn = endpoint
        .connect(server.handle.local_addr(), "localhost")
        .expect("connect")
        .await
        .expect("QUIC handshake");
    (endpoint, conn)
}

/// SETTINGS as wtransport sends it: QPACK_MAX_TABLE_CAPACITY 0 first.
const SETTINGS_PAYLOAD: [u8; 8] = [0x01, 0x00, 0x07, 0x00, 0x08, 0x01, 0x33, 0x01];

/// Sends the control stream with its SETTINGS frame, `split` after the
/// frame type or whole; `interleave` opens another stream after the first
/// part. Returns the control stream (closing it would close the connection).
async fn send_settings(
    conn: &quinn::Connection,
    split: bool,
    interleave: bool,
) -> quinn::SendStream {
    let mut control = conn.open_uni().await.unwrap();
    let mut frame = vec![0x00, 0x04, SETTINGS_PAYLOAD.len() as u8]; // control stream, SETTINGS
    frame.extend_from_slice(&SETTINGS_PAYLOAD);
    let (first, rest) = frame.split_at(if split { 2 } else { frame.len() });
    control.write_all(first).await.unwrap();
    // Let the server read the first part (and wait for the rest).
    tokio::time::sleep(Duration::from_millis(200)).await;
    if interleave {
        let (mut s, _r) = conn.open_bi().await.unwrap();
        s.write_all(&[0x41, 0x00]).await.unwrap(); // a WebTransport stream header
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    control.write_all(rest).await.unwrap();
    control
}

async fn stays_up(conn: &quinn::Connection) {
    let closed = tokio::time::timeout(Duration::from_millis(500), conn.closed()).await;
    assert!(closed.is_err(), "the connection stays up: {closed:?}");
}

#[tokio::test]
async fn a_split_settings_frame_or_a_stream_alone_are_fine() {
    let server = Server::start().await;
    let (_e, conn) = raw_quic(&server).await;
    let _control = send_settings(&conn, true, false).await;
    stays_up(&conn).await;
    let (_e, conn) = raw_quic(&server).await;
    let _control = send_settings(&conn, false, true).await;
    stays_up(&conn).await;
}

/// A characterization of wtransport 0.7.2: when this starts failing, the
/// driver reads control streams safely and `Bot::connect` need not retry.
#[tokio::test]
async fn a_stream_arriving_mid_settings_makes_wtransport_close_with_261() {
    let server = Server::start().await;
    let (_e, conn) = raw_quic(&server).await;
    let _control = send_settings(&conn, true, true).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), conn.closed())
        .await
        .expect("the server closes the connection");
    match closed {
        quinn::ConnectionError::ApplicationClosed(c) => {
            assert_eq!(c.error_code.into_inner(), 0x105, "H3_FRAME_UNEXPECTED")
        }
        other => panic!("closed otherwise: {other}"),
    }
}
