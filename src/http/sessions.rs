//! Session endpoints: each handler reads who asks (cookie) and the request
//! (path, query, JSON body), calls one `service::sessions` function and
//! renders its typed view with a status code. No rule lives here.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::json;

use super::auth::{current_user, require_user};
use super::error::ApiError;
use super::response::{Resp, json as respond, read_json};
use crate::service::AppState;
use crate::service::sessions::{
    self as service, ListScope, ParticipantChange, PresenterOrderForm, RegisterForm,
    RegisterOutcome, SessionForm, Transition,
};

pub async fn list(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = current_user(state, req.headers()).await?;
    let all = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "scope=all"));
    let scope = if all {
        ListScope::All
    } else {
        ListScope::Upcoming
    };
    let sessions = service::list(state, user.as_ref(), scope).await?;
    Ok(respond(StatusCode::OK, &json!({ "sessions": sessions })))
}

pub async fn create(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    service::authorize_create(state, &user)?;
    let form: SessionForm = read_json(req, state.config.server.max_body_bytes).await?;
    let view = service::create(state, &user, form).await?;
    Ok(respond(StatusCode::CREATED, &view))
}

pub async fn get(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = current_user(state, req.headers()).await?;
    let detail = service::detail(state, user.as_ref(), id).await?;
    Ok(respond(StatusCode::OK, &detail))
}

pub async fn update(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let form: SessionForm = read_json(req, state.config.server.max_body_bytes).await?;
    let view = service::update(state, &user, id, form).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn transition(
    state: &AppState,
    id: u64,
    action: &str,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let t = Transition::parse(action).ok_or_else(ApiError::not_found)?;
    let user = require_user(state, req.headers()).await?;
    let view = service::transition(state, &user, id, t).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn register(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let form: RegisterForm = read_json(req, state.config.server.max_body_bytes).await?;
    let outcome = service::register(state, &user, id, form).await?;
    let status = match outcome {
        RegisterOutcome::Registered(_) => StatusCode::CREATED,
        RegisterOutcome::Waitlisted { .. } => StatusCode::ACCEPTED,
    };
    Ok(respond(status, &outcome))
}

pub async fn cancel_mine(
    state: &AppState,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    service::cancel_registration(state, &user, id).await?;
    Ok(respond(StatusCode::OK, &json!({"cancelled": true})))
}

pub async fn accept_offer(
    state: &AppState,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let enrolled = service::accept_offer(state, &user, id).await?;
    Ok(respond(StatusCode::CREATED, &enrolled))
}

pub async fn leave_waitlist(
    state: &AppState,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    service::leave_waitlist(state, &user, id).await?;
    Ok(respond(StatusCode::OK, &json!({"left": true})))
}

pub async fn schedule(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let view = service::schedule(state, &user).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn participants(
    state: &AppState,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let view = service::roster(state, &user, id).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn update_participant(
    state: &AppState,
    id: u64,
    user_id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    service::authorize_manage(state, &user, id).await?;
    let change: ParticipantChange = read_json(req, state.config.server.max_body_bytes).await?;
    let view = service::update_participant(state, &user, id, user_id, change).await?;
    Ok(respond(StatusCode::OK, &view))
}

pub async fn remove_participant(
    state: &AppState,
    id: u64,
    user_id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    service::remove_participant(state, &user, id, user_id).await?;
    Ok(respond(StatusCode::OK, &json!({"removed": true})))
}

pub async fn reorder(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    service::authorize_manage(state, &user, id).await?;
    let form: PresenterOrderForm = read_json(req, state.config.server.max_body_bytes).await?;
    let view = service::reorder_presenters(state, &user, id, form).await?;
    Ok(respond(StatusCode::OK, &view))
}
