//! Video endpoints (docs/api-live.md, "Video on stage"): the upload streamed
//! frame by frame into `service::video::Upload` (never held whole), the
//! session's list, and the file served with single byte ranges (206 with
//! `Content-Range`, 416 for a range that is malformed or past the end).

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HeaderValue, RANGE,
};
use hyper::{Request, Response, StatusCode};

use super::auth::require_user;
use super::error::ApiError;
use super::response::{ChannelBody, Resp, json as respond};
use crate::service::AppState;
use crate::service::live::{self as live_svc, LiveCtx};
use crate::service::video as svc;

async fn context(state: &AppState, id: u64, req: &Request<Incoming>) -> Result<LiveCtx, ApiError> {
    let user = require_user(state, req.headers()).await?;
    Ok(live_svc::context(state, id, user).await?)
}

/// `POST /api/sessions/{id}/videos?name=FILE`: the body is the file.
pub async fn upload(
    state: &Arc<AppState>,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let c = context(state, id, &req).await?;
    let name = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("name=")))
        .map(percent_decode)
        .unwrap_or_default();
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut upload = svc::begin_upload(state, &c, &name, declared).await?;
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "video_incomplete",
                "The upload ended before the whole video arrived; try again.",
            )
        })?;
        if let Ok(data) = frame.into_data() {
            upload.write(&data).await?;
        }
    }
    Ok(respond(StatusCode::CREATED, &upload.finish(state).await?))
}

/// `GET /api/sessions/{id}/videos`.
pub async fn list(
    state: &Arc<AppState>,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let c = context(state, id, &req).await?;
    Ok(respond(StatusCode::OK, &svc::list(state, &c).await?))
}

/// `GET /api/sessions/{id}/videos/{video}`, whole or one byte range.
pub async fn get(
    state: &Arc<AppState>,
    id: u64,
    video: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let c = context(state, id, &req).await?;
    let (mut file, v) = svc::open(state, &c, video).await?;
    let size = v.bytes;
    let range = req
        .headers()
        .get(RANGE)
        .map(|h| parse_range(h.to_str().unwrap_or(""), size));
    let (status, start, len) = match range {
        None => (StatusCode::OK, 0, size),
        Some(Ok((start, end))) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Some(Err(why)) => {
            let mut resp =
                ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "bad_range", why).into_response();
            resp.headers_mut().insert(
                CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"),
            );
            return Ok(resp);
        }
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::task::spawn_blocking(move || {
        if file.seek(SeekFrom::Start(start)).is_err() {
            return;
        }
        let mut left = len;
        let mut buf = vec![0u8; 256 * 1024];
        while left > 0 {
            let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
            match file.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => {
                    left -= n as u64;
                    if tx.blocking_send(Bytes::copy_from_slice(&buf[..n])).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading a video failed");
                    break;
                }
            }
        }
    });
    let mut resp = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, v.kind.mime())
        .header(CONTENT_LENGTH, len)
        .header(ACCEPT_RANGES, "bytes")
        .header(CACHE_CONTROL, "private, max-age=3600");
    if status == StatusCode::PARTIAL_CONTENT {
        resp = resp.header(
            CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", start + len - 1),
        );
    }
    resp.body(ChannelBody(rx).boxed())
        .map_err(|_| ApiError::internal())
}

/// One byte range of a `size`-byte file: `bytes=A-B`, `bytes=A-`, `bytes=-N`
/// → the first and last byte (B past the end is cut to the end); anything
/// else (another unit, several ranges, A past the end, B before A) is
/// refused with the reason.
pub fn parse_range(header: &str, size: u64) -> Result<(u64, u64), String> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Err("Ranges are given in bytes: `Range: bytes=START-END`.".into());
    };
    if spec.contains(',') {
        return Err("Ask for one byte range at a time.".into());
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Err("A range is `bytes=START-END`, `bytes=START-` or `bytes=-LENGTH`.".into());
    };
    let num = |s: &str| -> Result<Option<u64>, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("`{s}` is not a byte position."));
        }
        s.parse::<u64>()
            .map(Some)
            .map_err(|_| format!("`{s}` is not a byte position."))
    };
    let past = || format!("The video has {size} bytes; that range lies outside it.");
    match (num(a)?, num(b)?) {
        (Some(start), end) => {
            let end = end.unwrap_or(u64::MAX).min(size.saturating_sub(1));
            if start >= size {
                return Err(past());
            }
            if end < start {
                return Err("The range ends before it starts.".into());
            }
            Ok((start, end))
        }
        (None, Some(suffix)) => {
            if suffix == 0 || size == 0 {
                return Err(past());
            }
            Ok((size - suffix.min(size), size - 1))
        }
        (None, None) => {
            Err("A range is `bytes=START-END`, `bytes=START-` or `bytes=-LENGTH`.".into())
        }
    }
}

/// `%XX` and `+` decoding of a query value (invalid escapes stay as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let escaped = match (b[i], b.get(i + 1), b.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)),
            _ => None,
        };
        if let Some((h, l)) = escaped {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Ok((0, 99)));
        assert_eq!(parse_range("bytes=100-", 1000), Ok((100, 999)));
        assert_eq!(parse_range("bytes=-100", 1000), Ok((900, 999)));
        assert_eq!(parse_range("bytes=-5000", 1000), Ok((0, 999)));
        assert_eq!(parse_range("bytes=990-5000", 1000), Ok((990, 999)));
        assert_eq!(parse_range("bytes=999-999", 1000), Ok((999, 999)));
        for bad in [
            "bytes=1000-",
            "bytes=5000-6000",
            "bytes=50-10",
            "bytes=-0",
            "bytes=-",
            "bytes=a-b",
            "bytes=0-1,5-9",
            "items=0-10",
            "0-10",
            "bytes=+1-5",
            "bytes=99999999999999999999999-",
        ] {
            assert!(parse_range(bad, 1000).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_in_the_query_are_decoded() {
        assert_eq!(percent_decode("my%20talk.mp4"), "my talk.mp4");
        assert_eq!(percent_decode("a+b%C3%A9"), "a bé");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
