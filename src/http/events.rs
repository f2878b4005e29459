//! Career-fair endpoints (docs/api-events.md): each handler reads who asks,
//! the path, query and body, calls one `service::events` function and
//! renders its view. No rule lives here.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::json;

use super::auth::require_user;
use super::error::ApiError;
use super::response::{Resp, full, json as respond, read_json};
use crate::service::AppState;
use crate::service::events::{
    self as service, BookForm, CompanyForm, EventForm, EventTarget, FaqsForm, JobsForm,
    ProgramFilter, UserIdsForm, WindowsForm,
};

fn limit(state: &AppState) -> usize {
    state.config.server.max_body_bytes
}

pub async fn list(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let events = service::list(state, &user).await?;
    Ok(respond(StatusCode::OK, &json!({ "events": events })))
}

pub async fn create(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    service::authorize_admin(&user)?;
    let form: EventForm = read_json(req, limit(state)).await?;
    let view = service::create(state, &user, form).await?;
    Ok(respond(StatusCode::CREATED, &view))
}

pub async fn get(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let view = service::detail(state, &user, id).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn update(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let form: EventForm = read_json(req, limit(state)).await?;
    let view = service::update(state, &user, id, form).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn publish(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let view = service::transition(state, &user, id, EventTarget::Published).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn end(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let view = service::transition(state, &user, id, EventTarget::Ended).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn organizers(
    state: &AppState,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    service::authorize_admin(&user)?;
    let form: UserIdsForm = read_json(req, limit(state)).await?;
    let view = service::set_organizers(state, &user, id, form).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn windows(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let form: WindowsForm = read_json(req, limit(state)).await?;
    let view = service::set_windows(state, &user, id, form).await?;
    Ok(respond(StatusCode::OK, &view))
}

fn query_param<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
    })
}

pub async fn program(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let company = query_param(&req, "company")
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_company",
                    "`company` must be a company id.",
                )
                .on("company")
            })
        })
        .transpose()?;
    let format = query_param(&req, "format")
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let view = service::program(state, &user, id, ProgramFilter { company, format }).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn lobby(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let view = service::lobby(state, &user, id).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn create_company(
    state: &AppState,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let form: CompanyForm = read_json(req, limit(state)).await?;
    let view = service::create_company(state, &user, id, form).await?;
    Ok(respond(StatusCode::CREATED, &view))
}

pub async fn company(state: &AppState, cid: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let view = service::company_detail(state, &user, cid).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn update_company(
    state: &AppState,
    cid: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let form: CompanyForm = read_json(req, limit(state)).await?;
    let view = service::update_company(state, &user, cid, form).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn delete_company(
    state: &AppState,
    cid: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    service::delete_company(state, &user, cid).await?;
    Ok(respond(StatusCode::OK, &json!({"deleted": true})))
}

pub async fn speakers(
    state: &AppState,
    cid: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let form: UserIdsForm = read_json(req, limit(state)).await?;
    let view = service::set_speakers(state, &user, cid, form).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn faqs(state: &AppState, cid: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let form: FaqsForm = read_json(req, limit(state)).await?;
    let view = service::set_faqs(state, &user, cid, form).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn jobs(state: &AppState, cid: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let form: JobsForm = read_json(req, limit(state)).await?;
    let view = service::set_jobs(state, &user, cid, form).await?;
    Ok(respond(StatusCode::OK, &view))
}

fn logo_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "logo_too_large",
        "The logo can be at most 1 MB.",
    )
}

pub async fn put_logo(
    state: &AppState,
    cid: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    service::authorize_edit_company(state, &user, cid).await?;
    let max = service::MAX_LOGO_BYTES;
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(logo_too_large());
    }
    let bytes: Bytes = Limited::new(req.into_body(), max)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                logo_too_large()
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    "The request body could not be read.",
                )
            }
        })?
        .to_bytes();
    let view = service::set_logo(state, &user, cid, bytes.to_vec()).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn delete_logo(
    state: &AppState,
    cid: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let view = service::delete_logo(state, &user, cid).await?;
    Ok(respond(StatusCode::OK, &view))
}

/// The logo with its checked type; never rendered as a page (nosniff, a
/// sandboxing CSP), cacheable by its ETag.
pub async fn get_logo(
    state: &AppState,
    cid: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let logo = service::logo(state, &user, cid).await?;
    let fresh = req
        .headers()
        .get(hyper::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == logo.etag));
    let builder = Response::builder()
        .header(hyper::header::ETAG, &logo.etag)
        .header(hyper::header::CACHE_CONTROL, "private, max-age=3600")
        .header("x-content-type-options", "nosniff")
        .header("content-security-policy", "sandbox; default-src 'none'")
        .header(
            hyper::header::CONTENT_DISPOSITION,
            "inline; filename=\"logo\"",
        );
    let resp = if fresh {
        builder
            .status(StatusCode::NOT_MODIFIED)
            .body(full(Bytes::new()))
    } else {
        builder
            .status(StatusCode::OK)
            .header(hyper::header::CONTENT_TYPE, logo.content_type)
            .body(full(logo.bytes))
    };
    resp.map_err(|_| ApiError::internal())
}

pub async fn slots(state: &AppState, cid: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let view = service::slots(state, &user, cid).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn book(state: &AppState, cid: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let form: BookForm = read_json(req, limit(state)).await?;
    let view = service::book(state, &user, cid, form).await?;
    Ok(respond(StatusCode::CREATED, &view))
}
