//! Live room endpoints (docs/api-live.md): start, join, the event stream,
//! stage requests and moderation, chat, Q&A, breakouts, agenda, end. The
//! rules are `domain::live`; `live::LiveSession` carries them out.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::auth::require_user;
use super::error::ApiError;
use super::response::{Resp, empty, json as respond, read_json};
use crate::app::AppState;
use crate::domain::DomainError;
use crate::domain::live::{LiveRoom, RequestKind};
use crate::domain::sessions::{Phase, PresenterSlot, Role, Session};
use crate::live::{LiveSession, Notice};
use crate::store::User;

/// Who is asking, about which session, and whether they host it.
struct Ctx {
    user: User,
    session: Session,
    presenters: Vec<PresenterSlot>,
    registered: Option<Role>,
    is_host: bool,
}

async fn context(state: &Arc<AppState>, id: u64, req: &Request<Incoming>) -> Result<Ctx, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let (session, roster) = state
        .blocking(move |s| s.session(id))
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound => ApiError::not_found(),
            other => other.into(),
        })?;
    if session.phase == Phase::Draft && !user.is_admin {
        return Err(ApiError::not_found());
    }
    let registered = roster.active(user.id).map(|r| r.role);
    let presenters = super::sessions::presenter_slots(state, &roster).await?;
    Ok(Ctx {
        is_host: user.is_admin || registered == Some(Role::Host),
        user,
        session,
        presenters,
        registered,
    })
}

fn snapshot(state: &AppState, c: &Ctx, live: Option<&Arc<LiveSession>>) -> Value {
    let now = state.clock.now();
    let lead = &state.config.live.settings;
    match live {
        Some(l) => l.snapshot(&c.session, &c.presenters, &c.user, c.is_host, now, lead),
        None => crate::live::snapshot(
            None,
            &c.session,
            &c.presenters,
            &c.user,
            c.is_host,
            now,
            lead,
        ),
    }
}

async fn running(state: &Arc<AppState>, c: &Ctx) -> Result<Arc<LiveSession>, ApiError> {
    if c.session.live_ended_at.is_some() {
        return Err(DomainError::conflict("session_ended", "This session has ended.").into());
    }
    state.live.get(state, &c.session).await?.ok_or_else(|| {
        DomainError::conflict(
            "not_started",
            "The session has not started yet; the host starts it.",
        )
        .into()
    })
}

pub async fn get(state: &Arc<AppState>, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let c = context(state, id, &req).await?;
    let live = state.live.get(state, &c.session).await?;
    Ok(respond(StatusCode::OK, &snapshot(state, &c, live.as_ref())))
}

pub async fn start(
    state: &Arc<AppState>,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let c = context(state, id, &req).await?;
    if !c.is_host {
        return Err(
            DomainError::forbidden("forbidden", "Only the session's hosts can start it.").into(),
        );
    }
    let live = state
        .live
        .start(state, &c.session, state.clock.now())
        .await?;
    Ok(respond(StatusCode::OK, &snapshot(state, &c, Some(&live))))
}

pub async fn join(
    state: &Arc<AppState>,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let c = context(state, id, &req).await?;
    let live = running(state, &c).await?;
    let (uid, name, registered, host) = (c.user.id, c.user.name.clone(), c.registered, c.is_host);
    live.apply(state, move |room, now| {
        room.join(uid, &name, registered, host, now)
    })
    .await?;
    let media = state.media_join(&c.session, &c.user, &live);
    Ok(respond(
        StatusCode::OK,
        &json!({"live": snapshot(state, &c, Some(&live)), "media": media}),
    ))
}

/// `GET /live/thumbnail[?user=ID]`: a small JPEG of someone's camera (made
/// by the media engine from a recent keyframe), or of the first speaker on
/// stage when no one is named.
pub async fn thumbnail(
    state: &Arc<AppState>,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    use podium_media::{ParticipantId, SessionId};
    let named = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("user=")))
        .map(|v| v.parse::<u64>())
        .transpose()
        .map_err(|_| DomainError::field("invalid_user", "user", "`user` must be a user id."))?;
    let c = context(state, id, &req).await?;
    let live = running(state, &c).await?;
    let candidates: Vec<u64> = match named {
        Some(u) => vec![u],
        None => live.with_room(|r| {
            let mut on: Vec<&crate::domain::live::Person> = r
                .people
                .values()
                .filter(|p| p.on_stage && p.room == 0)
                .collect();
            on.sort_by_key(|p| (!p.is_host, p.joined_at));
            on.iter().map(|p| p.user_id).collect()
        }),
    };
    let jpeg = candidates
        .into_iter()
        .find_map(|u| {
            state
                .sfu
                .participant_thumbnail(SessionId(id), ParticipantId(u))
        })
        .ok_or_else(|| {
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

pub async fn leave(
    state: &Arc<AppState>,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let c = context(state, id, &req).await?;
    let live = running(state, &c).await?;
    let uid = c.user.id;
    live.apply(state, move |room, _| Ok(room.leave(uid)))
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// A request body for the many small actions.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    kind: Option<String>,
    camera: Option<bool>,
    mic: Option<bool>,
    user_id: Option<u64>,
    action: Option<String>,
    text: Option<String>,
    up: Option<bool>,
    answered: Option<bool>,
    item: Option<usize>,
    room: Option<u32>,
    auto: Option<usize>,
    rooms: Option<Vec<BreakoutBody>>,
    minutes: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakoutBody {
    name: String,
    user_ids: Vec<u64>,
}

fn need<T>(v: Option<T>, field: &'static str) -> Result<T, DomainError> {
    v.ok_or_else(|| DomainError::field("missing_field", field, format!("`{field}` is required.")))
}

/// Every live action: the path names it, the body carries its arguments.
pub async fn action(
    state: &Arc<AppState>,
    id: u64,
    path: &[&str],
    method: &hyper::Method,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let c = context(state, id, &req).await?;
    let body: ActionBody = if *method == hyper::Method::DELETE {
        ActionBody::default()
    } else {
        read_json(req, state.config.server.max_body_bytes).await?
    };
    let live = running(state, &c).await?;
    let me = c.user.id;
    let items = crate::domain::sessions::run_of_show(&c.session, &c.presenters).len();
    let del = *method == hyper::Method::DELETE;
    type Rule = Box<
        dyn FnOnce(
                &mut LiveRoom,
                jiff::Timestamp,
            ) -> Result<Vec<crate::domain::live::LiveEvent>, DomainError>
            + Send,
    >;
    let rule: Rule = match (path, del) {
        (["stage", "request"], false) => {
            let kind = match body.kind.as_deref() {
                Some("stage") => RequestKind::Stage {
                    camera: body.camera.unwrap_or(true),
                    mic: body.mic.unwrap_or(true),
                },
                Some("hand") => RequestKind::Hand,
                _ => {
                    return Err(DomainError::field(
                        "invalid_kind",
                        "kind",
                        "`kind` must be \"stage\" or \"hand\".",
                    )
                    .into());
                }
            };
            Box::new(move |r, now| r.request_stage(me, kind, now))
        }
        (["stage", "request"], true) => Box::new(move |r, _| r.withdraw(me)),
        (["stage", "cancel"], false) => Box::new(move |r, _| r.cancel_countdown(me)),
        (["stage", "leave"], false) => Box::new(move |r, _| r.leave_stage(me)),
        (["stage", "take"], false) => Box::new(move |r, _| r.take_stage(me)),
        (["stage", "approve"], false) => {
            let who = need(body.user_id, "user_id")?;
            Box::new(move |r, now| r.approve(me, who, now))
        }
        (["stage", "decline"], false) => {
            let who = need(body.user_id, "user_id")?;
            Box::new(move |r, _| r.decline(me, who))
        }
        (["devices"], false) => {
            let (cam, mic) = (need(body.camera, "camera")?, need(body.mic, "mic")?);
            Box::new(move |r, _| r.set_devices(me, cam, mic))
        }
        (["moderate"], false) => {
            let who = need(body.user_id, "user_id")?;
            match body.action.as_deref() {
                Some("mute") => Box::new(move |r, _| r.mute(me, who)),
                Some("off_stage") => Box::new(move |r, _| r.move_off_stage(me, who)),
                Some("remove") => Box::new(move |r, _| r.remove(me, who)),
                _ => {
                    return Err(DomainError::field(
                        "invalid_action",
                        "action",
                        "`action` must be mute, off_stage or remove.",
                    )
                    .into());
                }
            }
        }
        (["chat"], false) => {
            let text = need(body.text, "text")?;
            Box::new(move |r, now| r.chat(me, &text, now))
        }
        (["questions"], false) => {
            let text = need(body.text, "text")?;
            Box::new(move |r, now| r.ask(me, &text, now))
        }
        (["questions", qid, verb], false) => {
            let qid: u64 = qid.parse().map_err(|_| ApiError::not_found())?;
            match *verb {
                "vote" => {
                    let up = body.up.unwrap_or(true);
                    Box::new(move |r, _| r.vote(me, qid, up))
                }
                "answer" => {
                    let answered = body.answered.unwrap_or(true);
                    Box::new(move |r, _| r.answer(me, qid, answered))
                }
                "hide" => Box::new(move |r, _| r.hide(me, qid)),
                _ => return Err(ApiError::not_found()),
            }
        }
        (["breakouts"], false) => {
            let rooms = body.rooms;
            let auto = body.auto;
            let minutes = body.minutes;
            Box::new(move |r, now| {
                let plan: Vec<(String, Vec<u64>)> = match (rooms, auto) {
                    (Some(rooms), None) => {
                        rooms.into_iter().map(|b| (b.name, b.user_ids)).collect()
                    }
                    (None, Some(n)) => r
                        .auto_assign(n)
                        .into_iter()
                        .enumerate()
                        .map(|(i, m)| (format!("Room {}", i + 1), m))
                        .collect(),
                    _ => {
                        return Err(DomainError::field(
                            "invalid_breakouts",
                            "rooms",
                            "Give either `rooms` or `auto`.",
                        ));
                    }
                };
                r.open_breakouts(me, &plan, minutes, now)
            })
        }
        (["breakouts"], true) => Box::new(move |r, _| r.close_breakouts(me)),
        (["breakouts", "timer"], false) => {
            let minutes = body.minutes;
            Box::new(move |r, now| r.set_breakout_timer(me, minutes, now))
        }
        (["broadcast"], false) => {
            let text = need(body.text, "text")?;
            Box::new(move |r, now| r.broadcast(me, &text, now))
        }
        (["visit"], false) => {
            let room = need(body.room, "room")?;
            Box::new(move |r, _| r.visit(me, room))
        }
        (["agenda"], false) => {
            let item = need(body.item, "item")?;
            Box::new(move |r, now| r.set_agenda(me, item, items, now))
        }
        (["end"], false) => Box::new(move |r, now| r.end(me, now)),
        _ => return Err(ApiError::not_found()),
    };
    live.apply(state, rule).await?;
    Ok(respond(StatusCode::OK, &snapshot(state, &c, Some(&live))))
}

/// The body of an event stream: chunks from a channel.
struct EventBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for EventBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

fn sse(event: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

/// `GET /live/events`: a server-sent event stream; it is the person's presence.
pub async fn events(
    state: &Arc<AppState>,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let c = context(state, id, &req).await?;
    let live = running(state, &c).await?;
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let mut notices = live.subscribe();
    let uid = c.user.id;
    live.connected(uid);
    let first = sse("state", &snapshot(state, &c, Some(&live)));
    let st = state.clone();
    let mut closing = state.live.closing();
    tokio::spawn(async move {
        let _ = tx.send(first).await;
        let mut keepalive = tokio::time::interval(Duration::from_secs(15));
        keepalive.tick().await;
        loop {
            let chunk = tokio::select! {
                n = notices.recv() => match n {
                    Ok(Notice::Changed) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        Some(sse("state", &snapshot(&st, &c, Some(&live))))
                    }
                    Ok(Notice::Chat(m)) => {
                        let my_room = live.with_room(|r| r.people.get(&uid).map_or(0, |p| p.room));
                        (m.room == my_room).then(|| sse("chat", &json!(m)))
                    }
                    Ok(Notice::Mute(who)) if who == uid => Some(sse("mute", &json!({}))),
                    Ok(Notice::Mute(_)) => None,
                    Ok(Notice::Removed(who)) if who == uid => {
                        let _ = tx.send(sse("removed", &json!({}))).await;
                        break;
                    }
                    Ok(Notice::Removed(_)) => Some(sse("state", &snapshot(&st, &c, Some(&live)))),
                    Ok(Notice::MediaProblem { user_id, message }) => {
                        let mine = user_id.map_or(c.is_host, |u| u == uid);
                        mine.then(|| sse("media_problem", &json!({"message": message})))
                    }
                    Ok(Notice::Ended) => {
                        let _ = tx.send(sse("ended", &json!({}))).await;
                        break;
                    }
                    Err(_) => break,
                },
                _ = keepalive.tick() => Some(Bytes::from_static(b": keep-alive\n\n")),
                () = tx.closed() => break,
                () = crate::live::closed(&mut closing) => break,
            };
            if let Some(chunk) = chunk
                && tx.send(chunk).await.is_err()
            {
                break;
            }
        }
        live.disconnected(&st, uid);
    });
    let resp = Response::builder()
        .status(StatusCode::OK)
        .header(hyper::header::CONTENT_TYPE, "text/event-stream")
        .header(hyper::header::CACHE_CONTROL, "no-store")
        .header("x-accel-buffering", "no")
        .body(EventBody(rx).boxed())
        .expect("valid response");
    Ok(resp)
}
