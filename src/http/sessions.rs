//! Session endpoints: browse, detail with run of show, create/edit and
//! admin transitions, registration, cancellation, waitlist, my schedule and
//! participant management. Rules live in `domain`; each action is one
//! `Store::update_session` transaction that also queues its mails.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{current_user, require_user};
use super::error::ApiError;
use super::response::{Resp, json as respond, read_json};
use crate::domain::roster::{Answers, ParticipantStatus, Registered, Roster};
use crate::domain::sessions::{
    self as rules, PerRole, Role, Session, SessionInput, Status, Transition,
};
use crate::domain::{DomainError, ErrorKind};
use crate::mail::{self, MailKind};
use crate::service::AppState;
use crate::service::sessions::{notify, presenter_slots, send};
use crate::store::User;

fn per_role_json(p: &PerRole) -> Value {
    json!({"host": p.host, "presenter": p.presenter, "interviewer": p.interviewer, "guest": p.guest})
}

/// The session as the API shows it; the meeting link only to those who may see it.
fn session_json(s: &Session, r: &Roster, now: Timestamp, show_meeting: bool) -> Value {
    json!({
        "id": s.id,
        "title": s.title,
        "description": s.description,
        "starts_at": s.starts_at,
        "ends_at": s.ends_at(),
        "time_zone": s.time_zone,
        "duration_minutes": s.duration_minutes,
        "talk_minutes": s.talk_minutes,
        "qa_minutes": s.qa_minutes,
        "location": if s.meeting_url.is_some() { "external" } else { "live" },
        "meeting_url": if show_meeting { s.meeting_url.clone() } else { None },
        "meeting_password": if show_meeting { s.meeting_password.clone() } else { None },
        "status": s.status(&r.taken(now), now),
        "capacity": per_role_json(&s.capacity),
        "filled": per_role_json(&r.filled()),
        "waiting": per_role_json(&r.waiting_counts()),
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    })
}

/// Admins manage every session; with the community flag, members manage the ones they created.
fn can_manage(state: &AppState, user: Option<&User>, s: &Session) -> bool {
    user.is_some_and(|u| {
        u.is_admin || (state.config.features.members_can_create_sessions && s.created_by == u.id)
    })
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "There is no such session.",
    )
}

fn forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "Only the session's organisers can do that.",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionBody {
    title: Option<String>,
    description: Option<String>,
    starts_at: Option<String>,
    time_zone: Option<String>,
    duration_minutes: Option<u32>,
    talk_minutes: Option<u32>,
    qa_minutes: Option<u32>,
    #[serde(default, deserialize_with = "some")]
    meeting_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    meeting_password: Option<Option<String>>,
    capacity: Option<CapacityBody>,
}

/// Distinguishes "absent" (None) from "null" (Some(None)).
fn some<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CapacityBody {
    host: u32,
    presenter: u32,
    interviewer: u32,
    guest: u32,
}

impl SessionBody {
    fn into_input(self) -> SessionInput {
        SessionInput {
            title: self.title,
            description: self.description,
            starts_at: self.starts_at,
            time_zone: self.time_zone,
            duration_minutes: self.duration_minutes,
            talk_minutes: self.talk_minutes,
            qa_minutes: self.qa_minutes,
            meeting_url: self.meeting_url,
            meeting_password: self.meeting_password,
            capacity: self.capacity.map(|c| PerRole {
                host: c.host,
                presenter: c.presenter,
                interviewer: c.interviewer,
                guest: c.guest,
            }),
        }
    }
}

pub async fn list(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = current_user(state, req.headers()).await?;
    let all = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "scope=all"));
    if all && !user.as_ref().is_some_and(|u| u.is_admin) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Only admins can list every session.",
        ));
    }
    let now = state.clock.now();
    let mut sessions = state.blocking(|s| s.sessions()).await?;
    if all {
        sessions.sort_by_key(|(s, _)| std::cmp::Reverse(s.starts_at));
    } else {
        sessions.retain(|(s, r)| {
            matches!(
                s.status(&r.taken(now), now),
                Status::Open | Status::Full | Status::Closed | Status::InProgress
            )
        });
        sessions.sort_by_key(|(s, _)| s.starts_at);
    }
    let list: Vec<Value> = sessions
        .iter()
        .map(|(s, r)| {
            let show = can_manage(state, user.as_ref(), s)
                || user.as_ref().is_some_and(|u| r.active(u.id).is_some());
            session_json(s, r, now, show)
        })
        .collect();
    Ok(respond(StatusCode::OK, &json!({ "sessions": list })))
}

pub async fn create(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    if !user.is_admin && !state.config.features.members_can_create_sessions {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Only admins can create sessions in this community.",
        ));
    }
    let body: SessionBody = read_json(req, state.config.server.max_body_bytes).await?;
    if body.title.is_none() {
        return Err(
            DomainError::field("invalid_title", "title", "A session needs a title.").into(),
        );
    }
    if body.starts_at.is_none() {
        return Err(DomainError::field(
            "invalid_time",
            "starts_at",
            "A session needs a start time.",
        )
        .into());
    }
    let now = state.clock.now();
    let mut s = rules::new_draft(user.id, &state.config.community.time_zone_name, now);
    rules::apply_input(&mut s, body.into_input(), now)?;
    let s = state.blocking(move |st| st.create_session(s)).await?;
    tracing::info!(session = s.id, user = user.id, "session created");
    Ok(respond(
        StatusCode::CREATED,
        &session_json(&s, &Roster::default(), now, true),
    ))
}

pub async fn get(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = current_user(state, req.headers()).await?;
    let (s, r) = state.load_session(id).await?;
    let manage = can_manage(state, user.as_ref(), &s);
    if s.phase == rules::Phase::Draft && !manage {
        return Err(not_found());
    }
    let now = state.clock.now();
    let ids: Vec<u64> = r.registrations.iter().map(|x| x.user_id).collect();
    let names = state.blocking(move |st| st.users_by_id(ids)).await?;
    let name = |id: u64| names.get(&id).map_or("Former member", |u| u.name.as_str());
    let me_id = user.as_ref().map(|u| u.id);
    let mut participants: Vec<&crate::domain::roster::Registration> =
        r.registrations.iter().filter(|x| x.active()).collect();
    participants.sort_by_key(|x| (x.role, x.order, x.registered_at));
    let participants: Vec<Value> = participants
        .iter()
        .map(|x| {
            let mut v = json!({
                "user_id": x.user_id,
                "name": name(x.user_id),
                "role": x.role,
                "status": x.status,
                "talk_title": x.answers.talk_title,
                "talk_description": x.answers.talk_description,
                "presenter_order": x.order,
            });
            if manage || Some(x.user_id) == me_id {
                v["topics"] = json!(x.answers.topics);
            }
            v
        })
        .collect();
    let presenters = r.presenter_slots(|id| name(id).to_owned());
    let run = rules::run_of_show(&s, &presenters);
    let me = me_id.map(|uid| {
        json!({
            "registration": r.active(uid).map(|x| json!({
                "role": x.role, "status": x.status,
                "talk_title": x.answers.talk_title, "talk_description": x.answers.talk_description,
                "topics": x.answers.topics,
            })),
            "waitlist": r.waiting(uid).map(|w| json!({
                "role": w.role,
                "position": r.position(uid),
                "offer_expires_at": w.offer_expires_at.filter(|t| *t > now),
            })),
        })
    });
    let taken = r.taken(now);
    let open = s.accepts_registrations(&taken, now);
    let mut register = serde_json::Map::new();
    for role in Role::ALL {
        let full = taken.get(role) >= s.capacity.get(role);
        let block: Option<DomainError> = if s.capacity.get(role) == 0 {
            Some(DomainError::conflict(
                "role_unavailable",
                format!(
                    "This session has no {} places.",
                    role.label().to_lowercase()
                ),
            ))
        } else if let Err(e) = &open {
            Some(e.clone())
        } else if let Some(u) = &user {
            if r.active(u.id).is_some() || r.waiting(u.id).is_some() {
                Some(DomainError::conflict(
                    "already_registered",
                    "You are already registered or waiting for this session.",
                ))
            } else {
                rules::premium_block(
                    role,
                    u.is_premium,
                    state.config.features.premium_required_for_presenting,
                    state.config.features.premium_required_for_hosting,
                )
            }
        } else {
            Some(DomainError::new(
                ErrorKind::Unauthenticated,
                "unauthenticated",
                "Sign in to register.",
            ))
        };
        register.insert(
            role.as_str().to_owned(),
            json!({
                "allowed": block.is_none(),
                "reason": block.as_ref().map(|e| e.message.clone()),
                "code": block.as_ref().map(|e| e.code),
                "full": full,
                "free": s.capacity.get(role).saturating_sub(taken.get(role)),
            }),
        );
    }
    let show = manage || me_id.is_some_and(|uid| r.active(uid).is_some());
    Ok(respond(
        StatusCode::OK,
        &json!({
            "session": session_json(&s, &r, now, show),
            "participants": participants,
            "run_of_show": run,
            "me": me,
            "can": {"register": register, "manage": manage},
        }),
    ))
}

pub async fn update(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let body: SessionBody = read_json(req, state.config.server.max_body_bytes).await?;
    let input = body.into_input();
    let now = state.clock.now();
    let claim = state.config.sessions.waitlist_claim;
    let m = state.mail_ctx.clone();
    let managed_by_admin = user.is_admin;
    let members_create = state.config.features.members_can_create_sessions;
    let (s, r) = state
        .session_action(id, vec![], move |ctx| {
            let allowed = managed_by_admin || (members_create && ctx.session.created_by == user.id);
            if !allowed {
                return Err(DomainError::forbidden(
                    "forbidden",
                    "Only the session's organisers can do that.",
                ));
            }
            let status = ctx.session.status(&ctx.roster.taken(now), now);
            if matches!(status, Status::Cancelled | Status::Completed) {
                return Err(DomainError::conflict(
                    "session_locked",
                    format!(
                        "A {} session cannot be edited.",
                        status.label().to_lowercase()
                    ),
                ));
            }
            let before = ctx.session.clone();
            let mut next = ctx.session.clone();
            // Capacity may not drop below the places already taken.
            if let Some(c) = &input.capacity {
                let taken = ctx.roster.filled();
                for role in Role::ALL {
                    if c.get(role) < taken.get(role) {
                        return Err(DomainError::field(
                            "invalid_capacity",
                            "capacity",
                            format!(
                                "{} {} places are taken; remove people before lowering the capacity.",
                                taken.get(role),
                                role.label().to_lowercase()
                            ),
                        ));
                    }
                }
            }
            rules::apply_input(&mut next, input, now)?;
            next.updated_at = now;
            let mut what = Vec::new();
            if next.starts_at != before.starts_at
                || next.duration_minutes != before.duration_minutes
                || next.time_zone != before.time_zone
            {
                what.push(format!("it now takes place {}", mail::when(&next)));
            }
            if next.meeting_url != before.meeting_url
                || next.meeting_password != before.meeting_password
            {
                what.push(match &next.meeting_url {
                    Some(u) => format!("the meeting link is now {u}"),
                    None => "it now takes place in the Podium live room".to_owned(),
                });
            }
            ctx.session = next;
            if !what.is_empty() {
                ctx.session.sequence += 1;
                let kind = MailKind::SessionChanged {
                    what: what.join("; and "),
                };
                let ids: Vec<u64> = ctx
                    .roster
                    .registrations
                    .iter()
                    .filter(|r| r.active())
                    .map(|r| r.user_id)
                    .collect();
                for uid in ids {
                    send(ctx, &m, uid, &kind, now);
                }
            }
            let session = ctx.session.clone();
            let effects = ctx.roster.offer_free_places(&session, now, claim);
            notify(ctx, &m, &effects, now);
            Ok((ctx.session.clone(), ctx.roster.clone()))
        })
        .await?;
    Ok(respond(StatusCode::OK, &session_json(&s, &r, now, true)))
}

pub async fn transition(
    state: &AppState,
    id: u64,
    action: &str,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let t = Transition::parse(action).ok_or_else(ApiError::not_found)?;
    let user = require_user(state, req.headers()).await?;
    let now = state.clock.now();
    let m = state.mail_ctx.clone();
    let claim = state.config.sessions.waitlist_claim;
    let is_admin = user.is_admin;
    let members_create = state.config.features.members_can_create_sessions;
    let (s, r) = state
        .session_action(id, vec![], move |ctx| {
            if !(is_admin || (members_create && ctx.session.created_by == user.id)) {
                return Err(DomainError::forbidden(
                    "forbidden",
                    "Only the session's organisers can do that.",
                ));
            }
            let phase = rules::transition(&ctx.session, &ctx.roster.taken(now), t, now)?;
            ctx.session.phase = phase;
            ctx.session.updated_at = now;
            match t {
                Transition::Cancel => {
                    ctx.session.sequence += 1;
                    let registered: Vec<u64> = ctx
                        .roster
                        .registrations
                        .iter()
                        .filter(|r| r.active())
                        .map(|r| r.user_id)
                        .collect();
                    for uid in registered {
                        send(ctx, &m, uid, &MailKind::SessionCancelled, now);
                    }
                    let waiting: Vec<u64> = ctx.roster.waitlist.iter().map(|w| w.user_id).collect();
                    for uid in waiting {
                        let Some(u) = ctx.user(uid).cloned() else {
                            continue;
                        };
                        let out = mail::compose(
                            &m,
                            &ctx.session,
                            &u,
                            &MailKind::SessionCancelled,
                            None,
                            now,
                        );
                        ctx.send(out);
                    }
                    ctx.roster.waitlist.clear();
                }
                Transition::Reopen | Transition::Publish => {
                    let session = ctx.session.clone();
                    let effects = ctx.roster.offer_free_places(&session, now, claim);
                    notify(ctx, &m, &effects, now);
                }
                Transition::Close => {}
            }
            Ok((ctx.session.clone(), ctx.roster.clone()))
        })
        .await?;
    tracing::info!(session = id, action, "session transition");
    Ok(respond(StatusCode::OK, &session_json(&s, &r, now, true)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    role: String,
    name: Option<String>,
    talk_title: Option<String>,
    talk_description: Option<String>,
    topics: Option<String>,
}

pub async fn register(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let body: RegisterBody = read_json(req, state.config.server.max_body_bytes).await?;
    let name = body.name.unwrap_or_else(|| user.name.clone());
    if name.trim().is_empty() {
        return Err(DomainError::field(
            "name_required",
            "name",
            "Please tell us your name; it is shown to the other participants.",
        )
        .into());
    }
    let name = crate::domain::accounts::validate_name(&name)?;
    let role = Role::parse(&body.role)?;
    if let Some(e) = rules::premium_block(
        role,
        user.is_premium,
        state.config.features.premium_required_for_presenting,
        state.config.features.premium_required_for_hosting,
    ) {
        return Err(e.into());
    }
    let answers = Answers {
        talk_title: body.talk_title,
        talk_description: body.talk_description,
        topics: body.topics,
    }
    .validate(role)?;
    let now = state.clock.now();
    let m = state.mail_ctx.clone();
    let uid = user.id;
    let outcome = state
        .session_action(id, vec![uid], move |ctx| {
            if ctx.session.phase == rules::Phase::Draft {
                return Err(DomainError::new(
                    ErrorKind::NotFound,
                    "not_found",
                    "There is no such session.",
                ));
            }
            ctx.session
                .accepts_registrations(&ctx.roster.taken(now), now)?;
            if let Some(u) = ctx.users.get_mut(&uid) {
                u.name = name;
            }
            let session = ctx.session.clone();
            let (outcome, effects) = ctx.roster.register(&session, uid, role, answers, now)?;
            notify(ctx, &m, &effects, now);
            Ok(outcome)
        })
        .await?;
    Ok(match outcome {
        Registered::Confirmed => {
            tracing::info!(session = id, user = uid, role = role.as_str(), "registered");
            respond(
                StatusCode::CREATED,
                &json!({"registration": {"role": role, "status": ParticipantStatus::Registered}}),
            )
        }
        Registered::Waitlisted { position } => respond(
            StatusCode::ACCEPTED,
            &json!({"waitlisted": true, "role": role, "position": position}),
        ),
    })
}

pub async fn cancel_mine(
    state: &AppState,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let uid = user.id;
    state
        .roster_action(id, vec![uid], move |r, s, now, claim| {
            r.cancel(s, uid, now, claim)
        })
        .await?;
    Ok(respond(StatusCode::OK, &json!({"cancelled": true})))
}

pub async fn accept_offer(
    state: &AppState,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let now = state.clock.now();
    let m = state.mail_ctx.clone();
    let role = state
        .session_action(id, vec![user.id], move |ctx| {
            ctx.session
                .accepts_registrations(&ctx.roster.taken(now), now)?;
            let effects = ctx.roster.accept_offer(user.id, now)?;
            notify(ctx, &m, &effects, now);
            Ok(ctx.roster.active(user.id).map(|r| r.role))
        })
        .await?;
    Ok(respond(
        StatusCode::CREATED,
        &json!({"registration": {"role": role, "status": ParticipantStatus::Registered}}),
    ))
}

pub async fn leave_waitlist(
    state: &AppState,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let uid = user.id;
    state
        .roster_action(id, vec![uid], move |r, s, now, claim| {
            r.leave_waitlist(s, uid, now, claim)
        })
        .await?;
    Ok(respond(StatusCode::OK, &json!({"left": true})))
}

pub async fn schedule(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let uid = user.id;
    let mut mine = state.blocking(move |s| s.sessions_of_user(uid)).await?;
    mine.sort_by_key(|(s, _)| s.starts_at);
    let now = state.clock.now();
    let (mut upcoming, mut past) = (Vec::new(), Vec::new());
    for (s, r) in &mine {
        let reg = r.registration(uid);
        let wait = r.waiting(uid);
        if reg.is_none() && wait.is_none() {
            continue;
        }
        let status = s.status(&r.taken(now), now);
        let entry = json!({
            "session": session_json(s, r, now, reg.is_some_and(|x| x.active())),
            "role": reg.map(|x| x.role).or(wait.map(|w| w.role)),
            "status": reg.map(|x| json!(x.status)).unwrap_or(json!("waitlisted")),
            "waitlist_position": wait.and_then(|_| r.position(uid)),
            "offer_expires_at": wait.and_then(|w| w.offer_expires_at).filter(|t| *t > now),
        });
        if matches!(status, Status::Completed | Status::Cancelled) {
            past.push(entry);
        } else {
            upcoming.push(entry);
        }
    }
    past.reverse();
    Ok(respond(
        StatusCode::OK,
        &json!({"upcoming": upcoming, "past": past}),
    ))
}

async fn require_manager(
    state: &AppState,
    id: u64,
    req: &Request<Incoming>,
) -> Result<(User, Session, Roster), ApiError> {
    let user = require_user(state, req.headers()).await?;
    let (s, r) = state.load_session(id).await?;
    if !can_manage(state, Some(&user), &s) {
        return Err(forbidden());
    }
    Ok((user, s, r))
}

pub async fn participants(
    state: &AppState,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let (_, _, r) = require_manager(state, id, &req).await?;
    let now = state.clock.now();
    let ids: Vec<u64> = r
        .registrations
        .iter()
        .map(|x| x.user_id)
        .chain(r.waitlist.iter().map(|w| w.user_id))
        .collect();
    let names = state.blocking(move |st| st.users_by_id(ids)).await?;
    let name = |id: u64| names.get(&id).map_or("Former member", |u| u.name.as_str());
    let mut regs: Vec<_> = r.registrations.iter().filter(|x| x.active()).collect();
    regs.sort_by_key(|x| (x.role, x.order, x.registered_at));
    let participants: Vec<Value> = regs
        .iter()
        .map(|x| {
            json!({
                "user_id": x.user_id, "name": name(x.user_id), "role": x.role, "status": x.status,
                "talk_title": x.answers.talk_title, "talk_description": x.answers.talk_description,
                "topics": x.answers.topics, "presenter_order": x.order, "registered_at": x.registered_at,
            })
        })
        .collect();
    let waitlist: Vec<Value> = r
        .waitlist
        .iter()
        .map(|w| {
            json!({
                "user_id": w.user_id, "name": name(w.user_id), "role": w.role,
                "position": r.position(w.user_id), "joined_at": w.joined_at,
                "offer_expires_at": w.offer_expires_at.filter(|t| *t > now),
            })
        })
        .collect();
    Ok(respond(
        StatusCode::OK,
        &json!({"participants": participants, "waitlist": waitlist}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParticipantBody {
    status: Option<String>,
    role: Option<String>,
}

pub async fn update_participant(
    state: &AppState,
    id: u64,
    user_id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    require_manager(state, id, &req).await?;
    let body: ParticipantBody = read_json(req, state.config.server.max_body_bytes).await?;
    let status = body
        .status
        .as_deref()
        .map(ParticipantStatus::parse)
        .transpose()?;
    let role = body.role.as_deref().map(Role::parse).transpose()?;
    let now = state.clock.now();
    let m = state.mail_ctx.clone();
    let claim = state.config.sessions.waitlist_claim;
    let reg = state
        .session_action(id, vec![user_id], move |ctx| {
            let session = ctx.session.clone();
            let mut effects = Vec::new();
            if let Some(role) = role {
                effects.extend(
                    ctx.roster
                        .change_role(&session, user_id, role, now, claim)?,
                );
            }
            if let Some(st) = status {
                effects.extend(ctx.roster.set_status(&session, user_id, st, now, claim)?);
            }
            if role.is_none() && status.is_none() && ctx.roster.active(user_id).is_none() {
                return Err(DomainError::new(
                    ErrorKind::NotFound,
                    "not_registered",
                    "That person is not registered for this session.",
                ));
            }
            notify(ctx, &m, &effects, now);
            Ok(ctx.roster.registration(user_id).cloned())
        })
        .await?;
    let reg = reg.ok_or_else(ApiError::not_found)?;
    Ok(respond(
        StatusCode::OK,
        &json!({"participant": {"user_id": reg.user_id, "role": reg.role, "status": reg.status, "presenter_order": reg.order}}),
    ))
}

pub async fn remove_participant(
    state: &AppState,
    id: u64,
    user_id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    require_manager(state, id, &req).await?;
    state
        .roster_action(id, vec![user_id], move |r, s, now, claim| {
            r.remove(s, user_id, now, claim)
        })
        .await?;
    Ok(respond(StatusCode::OK, &json!({"removed": true})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderBody {
    user_ids: Vec<u64>,
}

pub async fn reorder(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    require_manager(state, id, &req).await?;
    let body: OrderBody = read_json(req, state.config.server.max_body_bytes).await?;
    state
        .session_action(id, vec![], move |ctx| {
            ctx.roster.reorder_presenters(&body.user_ids)
        })
        .await?;
    // Answer with the fresh detail (participants and run of show).
    let (s, r) = state.load_session(id).await?;
    let presenters = presenter_slots(state, &r).await?;
    let order: Vec<Value> = presenters
        .iter()
        .map(|p| json!({"user_id": p.user_id, "name": p.name, "talk_title": p.talk_title}))
        .collect();
    Ok(respond(
        StatusCode::OK,
        &json!({"presenters": order, "run_of_show": rules::run_of_show(&s, &presenters)}),
    ))
}
