//! The control plane of live sessions. One [`LiveSession`] per running
//! session owns the pure [`LiveRoom`] (the domain state machine) behind a
//! lock and a timer task for countdowns; changes are broadcast to the
//! people's event streams, chat and questions are stored so they survive a
//! restart, and what the media engine must enforce (which rooms exist, who
//! may publish in which room, who left or was removed) goes out as
//! [`MediaEffect`]s through the [`MediaPort`] (see [`media`]).

pub mod media;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast};

pub use self::media::{MediaEffect, MediaOrder, MediaPort};

use crate::app::AppState;
use crate::domain::live::{ChatMessage, LiveEvent, LiveRoom};
use crate::domain::sessions::{PresenterSlot, Role, Session, run_of_show};
use crate::domain::{DomainError, ErrorKind};
use crate::store::User;

/// What an event stream is told.
#[derive(Debug, Clone)]
pub enum Notice {
    Changed,
    Chat(ChatMessage),
    Mute(u64),
    Removed(u64),
    /// The media engine refused a change: for this person, or (`None`) for the hosts.
    MediaProblem {
        user_id: Option<u64>,
        message: String,
    },
    Ended,
}

/// One running live session.
#[derive(Debug)]
pub struct LiveSession {
    pub id: u64,
    room: Mutex<LiveRoom>,
    notices: broadcast::Sender<Notice>,
    /// Open event streams per person.
    presence: Mutex<HashMap<u64, u32>>,
    wake: Notify,
}

/// All running live sessions.
#[derive(Debug)]
pub struct LiveHub {
    sessions: Mutex<HashMap<u64, Arc<LiveSession>>>,
    effects: MediaPort,
    /// Flips to true when the server shuts down: timers and streams end.
    closing: tokio::sync::watch::Sender<bool>,
}

fn err(kind: ErrorKind, code: &'static str, msg: &str) -> DomainError {
    DomainError::new(kind, code, msg)
}

impl LiveHub {
    /// A hub whose media effects go to `effects` (the media bridge drains it).
    pub fn new(effects: MediaPort) -> Self {
        LiveHub {
            sessions: Mutex::new(HashMap::new()),
            effects,
            closing: tokio::sync::watch::channel(false).0,
        }
    }

    /// Resolves when the server starts shutting down.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Ends every timer, grace period and event stream (server shutdown).
    pub fn shutdown(&self) {
        self.closing.send_replace(true);
    }

    pub fn running(&self, id: u64) -> Option<Arc<LiveSession>> {
        self.sessions.lock().expect("hub lock").get(&id).cloned()
    }

    /// The running session, or after a server restart the one the store says
    /// was started and not ended (recreated with its chat and questions).
    pub async fn get(
        &self,
        state: &Arc<AppState>,
        session: &Session,
    ) -> Result<Option<Arc<LiveSession>>, DomainError> {
        if let Some(s) = self.running(session.id) {
            return Ok(Some(s));
        }
        let (Some(started), None) = (session.live_started_at, session.live_ended_at) else {
            return Ok(None);
        };
        let id = session.id;
        let (chat, questions) = state
            .blocking(move |s| s.live_history(id))
            .await
            .map_err(|e| err(ErrorKind::Conflict, "store", &e.to_string()))?;
        let room = LiveRoom::new(id, started, settings_for(state, session), chat, questions);
        Ok(Some(self.insert(state, room)))
    }

    fn insert(&self, state: &Arc<AppState>, room: LiveRoom) -> Arc<LiveSession> {
        let id = room.session_id;
        let mut map = self.sessions.lock().expect("hub lock");
        if let Some(s) = map.get(&id) {
            return s.clone();
        }
        let (notices, _) = broadcast::channel(256);
        let s = Arc::new(LiveSession {
            id,
            room: Mutex::new(room),
            notices,
            presence: Mutex::new(HashMap::new()),
            wake: Notify::new(),
        });
        map.insert(id, s.clone());
        s.effect(&self.effects, MediaEffect::OpenSession);
        tokio::spawn(timer(state.clone(), s.clone()));
        s
    }

    /// A host presses Start.
    pub async fn start(
        &self,
        state: &Arc<AppState>,
        session: &Session,
        now: Timestamp,
    ) -> Result<Arc<LiveSession>, DomainError> {
        if let Some(s) = self.get(state, session).await? {
            return Ok(s);
        }
        crate::domain::live::check_start(session, now, state.config.live.settings.start_lead)?;
        let id = session.id;
        state
            .session_action(id, vec![], move |ctx| {
                if ctx.session.live_started_at.is_none() {
                    ctx.session.live_started_at = Some(now);
                }
                Ok(())
            })
            .await
            .map_err(|e| err(ErrorKind::Conflict, e.code, &e.message))?;
        let (chat, questions) = state
            .blocking(move |s| s.live_history(id))
            .await
            .map_err(|e| err(ErrorKind::Conflict, "store", &e.to_string()))?;
        let room = LiveRoom::new(id, now, settings_for(state, session), chat, questions);
        tracing::info!(session = id, "live session started");
        Ok(self.insert(state, room))
    }

    /// Running sessions, people in their rooms, and people on stage (for /metrics).
    pub fn counts(&self) -> crate::metrics::LiveCounts {
        let sessions: Vec<Arc<LiveSession>> = self
            .sessions
            .lock()
            .expect("hub lock")
            .values()
            .cloned()
            .collect();
        let (mut people, mut on_stage) = (0, 0);
        for s in &sessions {
            s.with_room(|r| {
                people += r.people.len();
                on_stage += r.people.values().filter(|p| p.on_stage).count();
            });
        }
        crate::metrics::LiveCounts {
            sessions: sessions.len(),
            people,
            on_stage,
            media_failures: self.effects.failures(),
        }
    }

    fn forget(&self, id: u64) {
        self.sessions.lock().expect("hub lock").remove(&id);
    }
}

/// The configured live settings, with the room capacity of this session:
/// its places in all roles, and never more than 50.
fn settings_for(state: &AppState, session: &Session) -> crate::domain::live::LiveSettings {
    let mut s = state.config.live.settings;
    s.capacity = (session.capacity.total() as usize).clamp(1, s.capacity);
    s
}

impl LiveSession {
    /// Runs one rule on the room and carries out what it says.
    pub async fn apply(
        self: &Arc<Self>,
        state: &Arc<AppState>,
        f: impl FnOnce(&mut LiveRoom, Timestamp) -> Result<Vec<LiveEvent>, DomainError>,
    ) -> Result<(), DomainError> {
        let now = state.clock.now();
        let (events, questions) = {
            let mut room = self.room.lock().expect("room lock");
            let events = f(&mut room, now)?;
            // Sent under the lock: the media engine sees changes in the order the room made them.
            for effect in events.iter().filter_map(MediaEffect::of) {
                self.effect(&state.live.effects, effect);
            }
            let questions = events
                .contains(&LiveEvent::Questions)
                .then(|| room.questions.clone());
            (events, questions)
        };
        self.carry_out(state, events, questions, now).await;
        self.wake.notify_one();
        Ok(())
    }

    fn effect(&self, port: &MediaPort, effect: MediaEffect) {
        port.send(MediaOrder {
            session: self.id,
            effect,
            report: self.notices.clone(),
        });
    }

    async fn carry_out(
        self: &Arc<Self>,
        state: &Arc<AppState>,
        events: Vec<LiveEvent>,
        questions: Option<Vec<crate::domain::live::Question>>,
        now: Timestamp,
    ) {
        let id = self.id;
        for e in events {
            match e {
                LiveEvent::RoomOpened(_)
                | LiveEvent::RoomClosed(_)
                | LiveEvent::Media { .. }
                | LiveEvent::Left { .. } => {}
                LiveEvent::Removed { user_id } => {
                    let _ = self.notices.send(Notice::Removed(user_id));
                }
                LiveEvent::MuteRequested { user_id } => {
                    let _ = self.notices.send(Notice::Mute(user_id));
                }
                LiveEvent::Chat(msg) => {
                    let stored = msg.clone();
                    if let Err(e) = state.blocking(move |s| s.append_chat(id, &stored)).await {
                        tracing::error!(error = %e, "storing chat failed");
                    }
                    let _ = self.notices.send(Notice::Chat(msg));
                }
                LiveEvent::Questions => {
                    if let Some(qs) = questions.clone()
                        && let Err(e) = state.blocking(move |s| s.save_questions(id, &qs)).await
                    {
                        tracing::error!(error = %e, "storing questions failed");
                    }
                    let _ = self.notices.send(Notice::Changed);
                }
                LiveEvent::Changed => {
                    let _ = self.notices.send(Notice::Changed);
                }
                LiveEvent::Ended => {
                    let r = state
                        .session_action(id, vec![], move |ctx| {
                            ctx.session.live_ended_at = Some(now);
                            Ok(())
                        })
                        .await;
                    if let Err(e) = r {
                        tracing::error!(error = ?e, "recording the end failed");
                    }
                    let _ = self.notices.send(Notice::Ended);
                    state.live.forget(id);
                    tracing::info!(session = id, "live session ended");
                }
            }
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    pub fn is_ended(&self) -> bool {
        self.room.lock().expect("room lock").ended_at.is_some()
    }

    /// An event stream opened for `user_id`.
    pub fn connected(&self, user_id: u64) {
        *self
            .presence
            .lock()
            .expect("presence lock")
            .entry(user_id)
            .or_default() += 1;
    }

    /// An event stream closed; after the grace period without another one,
    /// the person leaves the room.
    pub fn disconnected(self: &Arc<Self>, state: &Arc<AppState>, user_id: u64) {
        {
            let mut p = self.presence.lock().expect("presence lock");
            let n = p.entry(user_id).or_default();
            *n = n.saturating_sub(1);
        }
        let me = self.clone();
        let state = state.clone();
        let mut closing = state.live.closing();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(state.config.live.leave_grace) => {}
                () = crate::live::closed(&mut closing) => return,
            }
            let gone = me
                .presence
                .lock()
                .expect("presence lock")
                .get(&user_id)
                .copied()
                .unwrap_or(0)
                == 0;
            if gone {
                let _ = me.apply(&state, |room, _| Ok(room.leave(user_id))).await;
            }
        });
    }

    /// The state as `viewer` sees it (docs/api-live.md).
    pub fn snapshot(
        &self,
        session: &Session,
        presenters: &[PresenterSlot],
        viewer: &User,
        is_admin_host: bool,
        now: Timestamp,
        lead: &crate::domain::live::LiveSettings,
    ) -> Value {
        let room = self.room.lock().expect("room lock");
        snapshot(
            Some(&room),
            session,
            presenters,
            viewer,
            is_admin_host,
            now,
            lead,
        )
    }

    /// Reads the room.
    pub fn with_room<T>(&self, f: impl FnOnce(&LiveRoom) -> T) -> T {
        f(&self.room.lock().expect("room lock"))
    }
}

/// Resolves once the server is shutting down.
pub async fn closed(rx: &mut tokio::sync::watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Runs finished countdowns at their deadline.
async fn timer(state: Arc<AppState>, s: Arc<LiveSession>) {
    let mut closing = state.live.closing();
    loop {
        if s.is_ended() {
            return;
        }
        let deadline = s.with_room(|r| r.next_deadline());
        let wait = match deadline {
            Some(d) => {
                let now = state.clock.now();
                std::time::Duration::try_from(d.duration_since(now)).unwrap_or_default()
            }
            None => std::time::Duration::from_secs(3600),
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {
                let _ = s.apply(&state, |room, now| Ok(room.tick(now))).await;
            }
            () = s.wake.notified() => {}
            () = crate::live::closed(&mut closing) => return,
        }
    }
}

fn role_str(r: Role) -> &'static str {
    r.as_str()
}

/// Builds the `Live` object of docs/api-live.md. `room` is `None` before the start.
#[allow(clippy::too_many_arguments)]
pub fn snapshot(
    room: Option<&LiveRoom>,
    session: &Session,
    presenters: &[PresenterSlot],
    viewer: &User,
    is_admin_host: bool,
    now: Timestamp,
    settings: &crate::domain::live::LiveSettings,
) -> Value {
    let lead = settings.start_lead;
    let status = match room {
        Some(r) if r.ended_at.is_some() => "ended",
        Some(_) => "live",
        None if session.live_ended_at.is_some() => "ended",
        None => "waiting",
    };
    let items = run_of_show(session, presenters);
    let me_person = room.and_then(|r| r.people.get(&viewer.id));
    let is_host = is_admin_host || me_person.is_some_and(|p| p.is_host);
    let can_start =
        is_host && room.is_none() && crate::domain::live::check_start(session, now, lead).is_ok();
    let request = room.and_then(|r| {
        r.queue.iter().position(|q| q.user_id == viewer.id).map(|i| {
            let q = &r.queue[i];
            let (kind, camera, mic) = match q.kind {
                crate::domain::live::RequestKind::Stage { camera, mic } => ("stage", camera, mic),
                crate::domain::live::RequestKind::Hand => ("hand", false, true),
            };
            json!({"kind": kind, "camera": camera, "mic": mic, "position": i + 1, "requested_at": q.requested_at})
        })
    });
    let countdown = room.and_then(|r| {
        r.countdowns
            .iter()
            .find(|c| c.user_id == viewer.id)
            .map(|c| c.ends_at)
    });
    let my_room = me_person.map_or(0, |p| p.room);
    let me = json!({
        "user_id": viewer.id,
        "name": me_person.map_or(viewer.name.as_str(), |p| p.name.as_str()),
        "role": me_person.map(|p| role_str(p.role)),
        "is_host": is_host,
        "in_room": me_person.is_some(),
        "room": my_room,
        "on_stage": me_person.is_some_and(|p| p.on_stage),
        "camera": me_person.is_some_and(|p| p.camera),
        "mic": me_person.is_some_and(|p| p.mic),
        "hand_raised": me_person.is_some_and(|p| p.hand_raised),
        "request": request,
        "countdown_ends_at": countdown,
        "can_start": can_start,
        "can_moderate": is_host,
        "can_answer": is_host || me_person.is_some_and(|p| p.role == Role::Interviewer),
    });
    let Some(r) = room else {
        return json!({
            "status": status,
            "session": session_brief(session),
            "start_opens_at": session.starts_at - lead,
            "started_at": session.live_started_at,
            "me": me,
            "people": [], "audience_count": 0, "queue": [], "countdowns": [], "chat": [],
            "questions": {"open": [], "answered": []}, "breakouts": [],
            "agenda": {"items": items, "current": 0, "current_started_at": null},
            "active_speaker": null,
            "limits": limits(settings),
            "now": now,
        });
    };
    let people: Vec<Value> = r
        .people
        .values()
        .map(|p| {
            json!({"user_id": p.user_id, "name": p.name, "role": role_str(p.role), "is_host": p.is_host,
                   "room": p.room, "on_stage": p.on_stage, "camera": p.camera, "mic": p.mic, "hand_raised": p.hand_raised})
        })
        .collect();
    let audience = r.people.values().filter(|p| !p.on_stage).count();
    let queue: Vec<Value> = if is_host {
        r.queue
            .iter()
            .map(|q| {
                let name = r.people.get(&q.user_id).map_or("", |p| p.name.as_str());
                let (kind, camera, mic) = match q.kind {
                    crate::domain::live::RequestKind::Stage { camera, mic } => ("stage", camera, mic),
                    crate::domain::live::RequestKind::Hand => ("hand", false, true),
                };
                json!({"user_id": q.user_id, "name": name, "kind": kind, "camera": camera, "mic": mic,
                       "requested_at": q.requested_at, "waited_seconds": now.duration_since(q.requested_at).as_secs().max(0)})
            })
            .collect()
    } else {
        Vec::new()
    };
    let countdowns: Vec<Value> = r
        .countdowns
        .iter()
        .map(|c| json!({"user_id": c.user_id, "ends_at": c.ends_at, "camera": c.camera, "mic": c.mic}))
        .collect();
    let chat: Vec<&ChatMessage> = r.chat.iter().filter(|m| m.room == my_room).collect();
    let (open, answered) = r.ranked_questions();
    let q = |q: &crate::domain::live::Question| {
        json!({"id": q.id, "user_id": q.user_id, "name": q.name, "text": q.text, "at": q.at,
               "votes": q.voters.len(), "voted": q.voters.contains(&viewer.id), "mine": q.user_id == viewer.id})
    };
    let breakouts: Vec<Value> = r
        .breakouts
        .iter()
        .map(|b| {
            let members: Vec<u64> = r
                .people
                .values()
                .filter(|p| p.room == b.id)
                .map(|p| p.user_id)
                .collect();
            json!({"id": b.id, "name": b.name, "members": members})
        })
        .collect();
    let breakouts_close_at = r.breakouts_close_at;
    json!({
        "status": status,
        "session": session_brief(session),
        "start_opens_at": session.starts_at - lead,
        "started_at": r.started_at,
        "me": me,
        "people": people,
        "audience_count": audience,
        "queue": queue,
        "countdowns": countdowns,
        "chat": chat,
        "questions": {"open": open.into_iter().map(q).collect::<Vec<_>>(), "answered": answered.into_iter().map(q).collect::<Vec<_>>()},
        "breakouts": breakouts,
        "breakouts_close_at": breakouts_close_at,
        "agenda": {"items": items, "current": r.agenda_item, "current_started_at": r.agenda_item_started},
        "active_speaker": null,
        "limits": limits(&r.settings),
        "now": now,
    })
}

fn limits(s: &crate::domain::live::LiveSettings) -> Value {
    json!({"stage_speakers": s.stage_speakers, "stage_guests": s.stage_guests,
           "capacity": s.capacity, "countdown_seconds": s.countdown.as_secs()})
}

fn session_brief(s: &Session) -> Value {
    json!({"id": s.id, "title": s.title, "starts_at": s.starts_at, "ends_at": s.ends_at(), "time_zone": s.time_zone})
}
