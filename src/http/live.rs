//! Live room endpoints (docs/api-live.md): parse, call `service::live`,
//! render. Every action is a typed `LiveCommand`: [`COMMANDS`] maps each
//! path to its command, whose body is the command's fields (unknown fields
//! refused); `POST /live/commands` takes the tagged command itself.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::auth::require_user;
use super::error::ApiError;
use super::response::{ChannelBody, Resp, empty, json as respond, read_json};
use crate::domain::live::LiveCommand;
use crate::service::AppState;
use crate::service::live::{self as svc, LiveCtx, Outgoing};

async fn context(state: &AppState, id: u64, req: &Request<Incoming>) -> Result<LiveCtx, ApiError> {
    let user = require_user(state, req.headers()).await?;
    Ok(svc::context(state, id, user).await?)
}

pub async fn get(state: &Arc<AppState>, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let c = context(state, id, &req).await?;
    Ok(respond(StatusCode::OK, &svc::view(state, &c).await?))
}

pub async fn start(
    state: &Arc<AppState>,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let c = context(state, id, &req).await?;
    Ok(respond(StatusCode::OK, &svc::start(state, &c).await?))
}

pub async fn join(
    state: &Arc<AppState>,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let c = context(state, id, &req).await?;
    Ok(respond(StatusCode::OK, &svc::join(state, &c).await?))
}

pub async fn leave(
    state: &Arc<AppState>,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let c = context(state, id, &req).await?;
    svc::leave(state, &c).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET /live/thumbnail[?user=ID]`: a small JPEG of someone's camera.
/// The lobby's picture of a live session's main stage.
pub async fn preview(
    state: &Arc<AppState>,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let jpeg = svc::preview(state, id, user).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_preview",
            "There is no picture of this session's stage yet.",
        )
    })?;
    Response::builder()
        .status(StatusCode::OK)
        .header(hyper::header::CONTENT_TYPE, "image/jpeg")
        .header(hyper::header::CACHE_CONTROL, "private, max-age=5")
        .body(super::response::full(jpeg))
        .map_err(|_| ApiError::internal())
}

pub async fn thumbnail(
    state: &Arc<AppState>,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let named = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("user=")))
        .map(|v| v.parse::<u64>())
        .transpose()
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_user",
                "`user` must be a user id.",
            )
            .on("user")
        })?;
    let c = context(state, id, &req).await?;
    let jpeg = svc::thumbnail(state, &c, named).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_thumbnail",
            "There is no picture of this camera yet.",
        )
    })?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(hyper::header::CONTENT_TYPE, "image/jpeg")
        .header(hyper::header::CACHE_CONTROL, "private, max-age=5")
        .body(super::response::full(jpeg))
        .expect("valid response"))
}

/// The live room's actions: method, path under `/live` (`{q}` is a question
/// id, given to the command as `question`), and the command it carries.
pub const COMMANDS: &[(Method, &str, &str)] = &[
    (Method::POST, "stage/request", "request_stage"),
    (Method::DELETE, "stage/request", "withdraw_request"),
    (Method::POST, "stage/cancel", "cancel_countdown"),
    (Method::POST, "stage/leave", "leave_stage"),
    (Method::POST, "stage/take", "take_stage"),
    (Method::POST, "stage/approve", "approve"),
    (Method::POST, "stage/decline", "decline"),
    (Method::POST, "devices", "set_devices"),
    (Method::POST, "moderate", "moderate"),
    (Method::POST, "chat", "chat"),
    (Method::POST, "questions", "ask"),
    (Method::POST, "questions/{q}/vote", "vote"),
    (Method::POST, "questions/{q}/answer", "answer"),
    (Method::POST, "questions/{q}/hide", "hide"),
    (Method::POST, "breakouts", "open_breakouts"),
    (Method::DELETE, "breakouts", "close_breakouts"),
    (Method::POST, "breakouts/timer", "set_breakout_timer"),
    (Method::POST, "broadcast", "broadcast"),
    (Method::POST, "visit", "visit"),
    (Method::POST, "agenda", "set_agenda"),
    (Method::POST, "presentation", "present"),
    (Method::POST, "presentation/page", "turn_page"),
    (Method::DELETE, "presentation", "stop_presenting"),
    (Method::POST, "end", "end"),
    (Method::POST, "video", "show_video"),
    (Method::DELETE, "video", "stop_video"),
    (Method::POST, "video/play", "play_video"),
    (Method::POST, "video/pause", "pause_video"),
    (Method::POST, "video/seek", "seek_video"),
];

/// The command a path names, with the question id it carries; `None` when
/// no command lives there.
pub fn command_for(method: &Method, rest: &[&str]) -> Option<(&'static str, Option<u64>)> {
    COMMANDS.iter().find_map(|(m, path, name)| {
        let pattern: Vec<&str> = path.split('/').collect();
        if m != method || pattern.len() != rest.len() {
            return None;
        }
        let mut question = None;
        for (p, r) in pattern.iter().zip(rest) {
            if *p == "{q}" {
                question = Some(r.parse::<u64>().ok()?);
            } else if p != r {
                return None;
            }
        }
        Some((*name, question))
    })
}

/// The table's pattern of a live path, whatever the method (the metrics' route label).
pub fn pattern_at(rest: &[&str]) -> Option<&'static str> {
    let name = COMMANDS
        .iter()
        .find_map(|(method, _, _)| command_for(method, rest))?
        .0;
    COMMANDS
        .iter()
        .find(|(_, _, n)| *n == name)
        .map(|(_, path, _)| *path)
}

/// The methods allowed at a live path (for 405 answers).
pub fn methods_at(rest: &[&str]) -> Vec<&'static str> {
    let mut m: Vec<&'static str> = Vec::new();
    for (method, _, _) in COMMANDS {
        let name = if *method == Method::POST {
            "POST"
        } else {
            "DELETE"
        };
        if command_for(method, rest).is_some() && !m.contains(&name) {
            m.push(name);
        }
    }
    m
}

/// Reads a body into the named command (or, for `/live/commands`, the tagged command).
async fn read_command(
    state: &AppState,
    req: Request<Incoming>,
    name: Option<&'static str>,
    question: Option<u64>,
) -> Result<LiveCommand, ApiError> {
    let mut body: Value = if req.method() == Method::DELETE {
        json!({})
    } else {
        read_json(req, state.config.server.max_body_bytes).await?
    };
    let Some(fields) = body.as_object_mut() else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "The body must be a JSON object.",
        ));
    };
    if let Some(name) = name {
        if fields.contains_key("command") {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "The path names the command; leave `command` out of the body.",
            )
            .on("command"));
        }
        fields.insert("command".into(), json!(name));
    }
    if let Some(q) = question {
        fields.insert("question".into(), json!(q));
    }
    serde_json::from_value(body).map_err(|e| command_error(name, &e))
}

/// The inputs commands take (for naming the field a refusal is about).
const FIELDS: &[&str] = &[
    "kind",
    "camera",
    "mic",
    "user_id",
    "action",
    "text",
    "question",
    "up",
    "answered",
    "rooms",
    "auto",
    "minutes",
    "room",
    "item",
    "name",
    "user_ids",
    "command",
    "youtube",
    "upload",
    "position_ms",
];

/// A clear refusal of a body that is not the command: which field is
/// missing, unknown or of the wrong kind, with a stable code.
fn command_error(name: Option<&str>, e: &serde_json::Error) -> ApiError {
    // serde names the field of a missing or unknown one; a value of the
    // wrong type inside a tagged command is reported without its field.
    let msg = e.to_string();
    let quoted = msg.split('`').nth(1).unwrap_or_default();
    let field = FIELDS.iter().copied().find(|f| *f == quoted);
    let bad = |code, field: &'static str, text: String| {
        ApiError::new(StatusCode::BAD_REQUEST, code, text).on(field)
    };
    if msg.starts_with("missing field") {
        let f = field.unwrap_or("command");
        return bad("missing_field", f, format!("`{f}` is required."));
    }
    if msg.starts_with("unknown variant") {
        return match name {
            Some("request_stage") => bad(
                "invalid_kind",
                "kind",
                "`kind` must be \"stage\" or \"hand\".".into(),
            ),
            Some("moderate") => bad(
                "invalid_action",
                "action",
                "`action` must be mute, allow_mic, off_stage or remove.".into(),
            ),
            _ => bad(
                "invalid_command",
                "command",
                format!("There is no command `{quoted}`."),
            ),
        };
    }
    let mut err = ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_json",
        format!("The request is not valid: {msg}."),
    );
    err.field = field.map(Into::into);
    err
}

/// Any live action: the table names the command, the body carries its fields.
pub async fn action(
    state: &Arc<AppState>,
    id: u64,
    command: Option<(&'static str, Option<u64>)>,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let c = context(state, id, &req).await?;
    let (name, question) = command.map_or((None, None), |(n, q)| (Some(n), q));
    let command = read_command(state, req, name, question).await?;
    Ok(respond(
        StatusCode::OK,
        &svc::command(state, &c, command).await?,
    ))
}

/// The first state goes out whole (`state`); later ones as what changed
/// since (`patch`, see `http::patch`), or nothing when nothing did. A state
/// without chat history (`chat: null`) leaves the chat as it was: new
/// messages come as `chat` events.
fn state_or_patch(last: &mut Option<Value>, view: &impl serde::Serialize) -> Option<Bytes> {
    let mut value = serde_json::to_value(view).expect("views serialize");
    let Some(prev) = last.as_ref() else {
        let chunk = sse("state", &value);
        *last = Some(value);
        return Some(chunk);
    };
    if value["chat"].is_null() {
        value["chat"] = prev["chat"].clone();
    }
    let chunk = super::patch::diff(prev, &value).map(|p| sse("patch", &p));
    *last = Some(value);
    chunk
}

fn sse(event: &str, data: &impl serde::Serialize) -> Bytes {
    let data = serde_json::to_string(data).expect("views serialize");
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

/// `GET /live/events`: a server-sent event stream; it is the person's presence.
pub async fn events(
    state: &Arc<AppState>,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let c = context(state, id, &req).await?;
    let mut out = svc::events(state, c).await?;
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        // The state this stream last described, for the next patch.
        let mut last: Option<Value> = None;
        loop {
            let o = tokio::select! {
                o = out.recv() => match o {
                    Some(o) => o,
                    None => break,
                },
                // The browser went away: dropping `out` ends the service's stream.
                () = tx.closed() => break,
            };
            let chunk = match o {
                Outgoing::State(v) => match state_or_patch(&mut last, &v) {
                    Some(chunk) => chunk,
                    None => continue,
                },
                Outgoing::Chat(m) => sse("chat", &m),
                Outgoing::Mute => sse("mute", &json!({})),
                Outgoing::Notice(message) => sse("notice", &json!({"message": message})),
                Outgoing::MediaProblem(message) => {
                    sse("media_problem", &json!({"message": message}))
                }
                Outgoing::Removed => sse("removed", &json!({})),
                Outgoing::Ended => sse("ended", &json!({})),
                Outgoing::KeepAlive => Bytes::from_static(b": keep-alive\n\n"),
            };
            if tx.send(chunk).await.is_err() {
                break;
            }
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(hyper::header::CONTENT_TYPE, "text/event-stream")
        .header(hyper::header::CACHE_CONTROL, "no-store")
        .header("x-accel-buffering", "no")
        .body(ChannelBody(rx).boxed())
        .expect("valid response"))
}
