//! A session's materials (docs/api-sessions.md, "Materials"): list, upload
//! a PDF (the raw file as the body, the title in the query), delete, and
//! the rendered pages (PNG, immutable: an ETag and a year's private cache).
//! Parse, call `service::materials`, render.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::auth::require_user;
use super::error::ApiError;
use super::response::{Resp, empty, full, json as respond};
use crate::service::AppState;
use crate::service::materials as service;

fn query_param<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
    })
}

/// Decodes a query value (`%XX` escapes and `+` for space) as UTF-8.
fn percent_decode(v: &str) -> Option<String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

pub async fn list(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    Ok(respond(
        StatusCode::OK,
        &service::list(state, id, user).await?,
    ))
}

/// `POST /api/sessions/{id}/materials?title=...` with the PDF as the body.
/// Who may upload is checked before the body is read; the size while it is.
pub async fn upload(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let title = match query_param(&req, "title") {
        Some(raw) => percent_decode(raw).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_title",
                "The title is not valid UTF-8 text.",
            )
            .on("title")
        })?,
        None => String::new(),
    };
    let c = service::authorize(state, id, user).await?;
    let max = service::MAX_PDF_BYTES;
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(service::too_large().into());
    }
    let bytes: Bytes = Limited::new(req.into_body(), max)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                service::too_large().into()
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    "The request body could not be read.",
                )
            }
        })?
        .to_bytes();
    let view = service::upload(state, &c, &title, bytes.to_vec()).await?;
    Ok(respond(StatusCode::CREATED, &view))
}

pub async fn delete(
    state: &AppState,
    id: u64,
    mid: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    service::delete(state, id, user, mid).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET /api/sessions/{id}/materials/{mid}/pages/{page}?width=1600|320`.
pub async fn page(
    state: &AppState,
    id: u64,
    mid: u64,
    page: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let width = match query_param(&req, "width") {
        None => service::PAGE_WIDTH,
        Some(w) => w.parse::<u32>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_width",
                "`width` must be a number of pixels.",
            )
            .on("width")
        })?,
    };
    let page = u32::try_from(page).unwrap_or(u32::MAX);
    let img = service::page(state, id, user, mid, page, width).await?;
    let fresh = req
        .headers()
        .get(hyper::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == img.etag));
    let builder = Response::builder()
        .header(hyper::header::ETAG, &img.etag)
        // A page of a material never changes (a new upload is a new id).
        .header(
            hyper::header::CACHE_CONTROL,
            "private, max-age=31536000, immutable",
        )
        .header("x-content-type-options", "nosniff");
    let resp = if fresh {
        builder
            .status(StatusCode::NOT_MODIFIED)
            .body(full(Bytes::new()))
    } else {
        builder
            .status(StatusCode::OK)
            .header(hyper::header::CONTENT_TYPE, "image/png")
            .body(full(img.png))
    };
    resp.map_err(|_| ApiError::internal())
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_decode() {
        assert_eq!(
            super::percent_decode("My+deck%20%C3%A9").unwrap(),
            "My deck é"
        );
        assert!(super::percent_decode("%zz").is_none());
        assert!(super::percent_decode("%C3").is_none());
    }
}
