//! The media WebSocket (PROTOCOL.md §8): `GET /live/{session}` with
//! `Upgrade: websocket` on the app's own port, for browsers whose
//! WebTransport is missing or blocked. This module checks the `Origin` like
//! every state-changing request, completes the upgrade and hands the socket
//! to the SFU, which authenticates the join token in `Hello` exactly as it
//! does on WebTransport.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{
    CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION,
    UPGRADE,
};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use podium_media::SessionId;
use tokio::net::TcpStream;

use super::auth;
use super::error::ApiError;
use super::response::{Resp, full};
use crate::service::AppState;

/// The kernel send buffer of a media WebSocket (Linux doubles it).
const WS_SEND_BUFFER: usize = 64 * 1024;

/// The live session id of a media WebSocket path (`/live/{id}`), if it is one.
pub fn session_of(path: &str) -> Option<u64> {
    let id = path.strip_prefix("/live/")?;
    if id.is_empty() || id.len() > 16 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

fn header_has(req: &Request<Incoming>, name: hyper::header::HeaderName, token: &str) -> bool {
    req.headers().get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// Upgrades the request to the media WebSocket of `session`.
pub fn upgrade(
    state: &Arc<AppState>,
    session: u64,
    mut req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    auth::check_origin(state, req.headers())?;
    if !header_has(&req, UPGRADE, "websocket") || !header_has(&req, CONNECTION, "upgrade") {
        return Err(ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "websocket_required",
            "This address carries live media over WebSocket: send Upgrade: websocket.",
        ));
    }
    if req
        .headers()
        .get(SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        != Some("13")
    {
        let mut resp = ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "websocket_version",
            "Only WebSocket version 13 is spoken here.",
        )
        .into_response();
        resp.headers_mut()
            .insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        return Ok(resp);
    }
    let Some(key) = req
        .headers()
        .get(SEC_WEBSOCKET_KEY)
        .map(|k| k.as_bytes().to_vec())
    else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "websocket_key",
            "Sec-WebSocket-Key is missing.",
        ));
    };
    let accept = podium_media::websocket_accept_key(&key);
    let upgrading = hyper::upgrade::on(&mut req);
    let sfu = state.sfu.clone();
    tokio::spawn(async move {
        let upgraded = match upgrading.await {
            Ok(u) => u,
            Err(e) => return tracing::debug!(error = %e, "media WebSocket upgrade failed"),
        };
        match upgraded.downcast::<TokioIo<TcpStream>>() {
            // The usual case: nothing read past the request. A small kernel
            // send buffer keeps a slow subscriber's backlog in the SFU's
            // queue, where the router sees it and drops layers, instead of
            // megabytes of stale media in the socket.
            Ok(parts) if parts.read_buf.is_empty() => {
                let tcp = parts.io.into_inner();
                if let Err(e) = socket2::SockRef::from(&tcp).set_send_buffer_size(WS_SEND_BUFFER) {
                    tracing::debug!(error = %e, "cannot size the WebSocket's send buffer");
                }
                // Media frames go out as they come (no Nagle delay).
                let _ = tcp.set_nodelay(true);
                sfu.serve_websocket(SessionId(session), tcp).await;
            }
            // RFC 6455 §4.1: the client waits for our answer before sending.
            Ok(_) => tracing::debug!("media WebSocket client sent data before the handshake ended"),
            Err(upgraded) => {
                sfu.serve_websocket(SessionId(session), TokioIo::new(upgraded))
                    .await;
            }
        }
    });
    Ok(Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(UPGRADE, "websocket")
        .header(CONNECTION, "Upgrade")
        .header(SEC_WEBSOCKET_ACCEPT, accept)
        .body(full(bytes::Bytes::new()))
        .expect("valid response"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_path_table() {
        let table = [
            ("/live/7", Some(7)),
            ("/live/", None),
            ("/live/-1", None),
            ("/live/7/x", None),
            ("/live/99999999999999999", None),
            ("/other/7", None),
        ];
        for (path, want) in table {
            assert_eq!(session_of(path), want, "{path}");
        }
    }
}
