//! The control plane of live sessions. One [`LiveSession`] per running
//! session owns the pure [`LiveRoom`] (the domain state machine) behind a
//! lock and a timer task for its deadlines; changes are broadcast to the
//! people's event streams, chat and questions are stored so they survive a
//! restart, and what the media engine must enforce (which rooms exist, who
//! may publish in which room, who left or was removed) goes out as
//! [`MediaEffect`]s through the [`MediaPort`] (see [`media`]).
//!
//! This module depends on the store, the clock and the media port only
//! ([`LiveDeps`]); the service layer drives it and it never reaches back.

pub mod media;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{Notify, broadcast, watch};

pub use self::media::{MediaEffect, MediaOrder, MediaPort};
use crate::clock::Clock;
use crate::domain::live::{
    ChatMessage, LiveError, LiveEvent, LiveRoom, LiveSettings, LiveView, MediaSeen, Viewer,
};
use crate::domain::sessions::{AgendaItem, Role, Session};
use crate::store::{Store, StoreError};

/// What an event stream is told.
#[derive(Debug, Clone)]
pub enum Notice {
    Changed,
    Chat(ChatMessage),
    Mute(u64),
    /// A word for one person.
    Tell {
        user_id: u64,
        text: &'static str,
    },
    Removed(u64),
    /// This person's registration or admin flag changed: their event
    /// streams read their powers again.
    Powers(u64),
    /// The media engine refused a change: for this person, or (`None`) for the hosts.
    MediaProblem {
        user_id: Option<u64>,
        message: String,
    },
    Ended,
}

/// What the live rooms need from the rest of Podium.
#[derive(Debug)]
pub struct LiveDeps {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// The configured room settings (a session's capacity narrows them).
    pub settings: LiveSettings,
    /// How long a vanished browser keeps its place.
    pub leave_grace: Duration,
    pub media: MediaPort,
}

impl LiveDeps {
    /// The settings of one session's room: its places in all roles, never more than configured.
    fn settings_for(&self, session: &Session) -> LiveSettings {
        let mut s = self.settings;
        s.capacity = (session.capacity.total() as usize).clamp(1, s.capacity);
        s
    }
}

/// One running live session.
#[derive(Debug)]
pub struct LiveSession {
    pub id: u64,
    deps: Arc<LiveDeps>,
    room: Mutex<LiveRoom>,
    notices: broadcast::Sender<Notice>,
    /// Open event streams per person.
    presence: Mutex<HashMap<u64, u32>>,
    wake: Notify,
    closing: watch::Receiver<bool>,
    /// What each person's media really carries, polled from the SFU.
    seen: Mutex<HashMap<u64, MediaSeen>>,
}

/// All running live sessions.
#[derive(Debug)]
pub struct LiveHub {
    deps: Arc<LiveDeps>,
    sessions: Mutex<HashMap<u64, Arc<LiveSession>>>,
    /// Flips to true when the server shuts down: timers and streams end.
    closing: watch::Sender<bool>,
}

impl LiveHub {
    pub fn new(deps: LiveDeps) -> Self {
        LiveHub {
            deps: Arc::new(deps),
            sessions: Mutex::new(HashMap::new()),
            closing: watch::channel(false).0,
        }
    }

    /// Resolves when the server starts shutting down.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Ends every timer, grace period and event stream (server shutdown).
    pub fn shutdown(&self) {
        self.closing.send_replace(true);
    }

    /// A member's powers changed (admin flag, or registrations in several
    /// sessions): every running room they may be in rereads them.
    pub fn powers_changed_everywhere(&self, user_id: u64) {
        for s in self.sessions.lock().expect("hub lock").values() {
            let _ = s.notices.send(Notice::Powers(user_id));
        }
    }

    /// Registrations of these people in session `id` changed: if the room
    /// runs, their event streams reread their powers.
    pub fn powers_changed(&self, id: u64, user_ids: &[u64]) {
        if let Some(s) = self.running(id) {
            for &u in user_ids {
                let _ = s.notices.send(Notice::Powers(u));
            }
        }
    }

    /// A member deleted their account: every running room forgets them.
    pub fn account_deleted(&self, user_id: u64) {
        let running: Vec<Arc<LiveSession>> = self
            .sessions
            .lock()
            .expect("hub lock")
            .values()
            .cloned()
            .collect();
        for s in running {
            s.account_deleted(user_id);
        }
    }

    pub fn running(&self, id: u64) -> Option<Arc<LiveSession>> {
        self.sessions.lock().expect("hub lock").get(&id).cloned()
    }

    /// The running session, or after a server restart the one the store says
    /// was started and not ended (recreated with its chat and questions).
    pub async fn get(
        &self,
        session: &Session,
        agenda: &[AgendaItem],
    ) -> Result<Option<Arc<LiveSession>>, StoreError> {
        if let Some(s) = self.running(session.id) {
            return Ok(Some(s));
        }
        let (Some(started), None) = (session.live_started_at, session.live_ended_at) else {
            return Ok(None);
        };
        Ok(Some(self.open(session, started, agenda).await?))
    }

    /// A host presses Start (the caller checked that they host the session).
    pub async fn start(
        &self,
        session: &Session,
        agenda: &[AgendaItem],
    ) -> Result<Arc<LiveSession>, StoreError> {
        if let Some(s) = self.get(session, agenda).await? {
            return Ok(s);
        }
        let now = self.deps.clock.now();
        crate::domain::live::check_start(
            session,
            now,
            session.start_lead(self.deps.settings.start_lead),
        )
        .map_err(|e| StoreError::Rule(e.into()))?;
        let id = session.id;
        self.deps
            .store
            .run(move |s| {
                s.update_session(id, &[], |ctx| {
                    ctx.session.live_started_at.get_or_insert(now);
                    Ok(())
                })
            })
            .await?;
        tracing::info!(session = id, "live session started");
        self.open(session, now, agenda).await
    }

    async fn open(
        &self,
        session: &Session,
        started: Timestamp,
        agenda: &[AgendaItem],
    ) -> Result<Arc<LiveSession>, StoreError> {
        let id = session.id;
        let (chat, questions, removed, materials) = self
            .deps
            .store
            .run(move |s| {
                let (chat, questions) = s.live_history(id)?;
                Ok((chat, questions, s.live_removed(id)?, s.materials(id)?))
            })
            .await?;
        let mut room = LiveRoom::new(
            id,
            started,
            self.deps.settings_for(session),
            chat,
            questions,
        );
        room.plan_agenda(agenda);
        room.restore_removed(removed);
        room.set_materials(materials);
        let mut map = self.sessions.lock().expect("hub lock");
        if let Some(s) = map.get(&id) {
            return Ok(s.clone());
        }
        let s = Arc::new(LiveSession {
            id,
            deps: self.deps.clone(),
            room: Mutex::new(room),
            notices: broadcast::channel(256).0,
            presence: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            closing: self.closing(),
            seen: Mutex::new(HashMap::new()),
        });
        map.insert(id, s.clone());
        s.effect(MediaEffect::OpenSession);
        tokio::spawn(timer(s.clone()));
        Ok(s)
    }

    /// Closes a session's room if it runs (the session was cancelled):
    /// everyone's stream ends, the SFU disconnects them, the end is stored.
    pub async fn close(&self, id: u64) -> Result<(), StoreError> {
        match self.running(id) {
            Some(s) => s.apply(self, |room, now| Ok(room.close(now))).await,
            None => Ok(()),
        }
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
            media_failures: self.deps.media.failures(),
            ..Default::default()
        }
    }

    /// Forgets sessions that ended (their last stream is gone by then).
    fn forget_ended(&self) {
        self.sessions
            .lock()
            .expect("hub lock")
            .retain(|_, s| !s.is_ended());
    }
}

impl LiveSession {
    /// Runs one rule on the room and carries out what it says; answers once
    /// what must survive a restart (chat, questions, the end) is stored.
    /// A broken rule comes back as `StoreError::Rule`.
    pub async fn apply(
        self: &Arc<Self>,
        hub: &LiveHub,
        f: impl FnOnce(&mut LiveRoom, Timestamp) -> Result<Vec<LiveEvent>, LiveError>,
    ) -> Result<(), StoreError> {
        let (events, questions, now) = self.decide(f).map_err(|e| StoreError::Rule(e.into()))?;
        let stored = self.carry_out(events, questions, now).await;
        if self.is_ended() {
            hub.forget_ended();
        }
        stored
    }

    /// Runs a rule from a timer (nobody waits for the answer).
    fn run_detached(self: &Arc<Self>, f: impl FnOnce(&mut LiveRoom, Timestamp) -> Vec<LiveEvent>) {
        if let Ok((events, questions, now)) = self.decide(|r, now| Ok(f(r, now))) {
            let me = self.clone();
            tokio::spawn(async move {
                if let Err(e) = me.carry_out(events, questions, now).await {
                    tracing::error!(session = me.id, error = %e, "storing a live room change failed");
                }
            });
        }
    }

    /// Applies the rule under the room's lock and sends its media effects in order.
    #[allow(clippy::type_complexity)]
    fn decide(
        &self,
        f: impl FnOnce(&mut LiveRoom, Timestamp) -> Result<Vec<LiveEvent>, LiveError>,
    ) -> Result<
        (
            Vec<LiveEvent>,
            Option<Vec<crate::domain::live::Question>>,
            Timestamp,
        ),
        LiveError,
    > {
        let now = self.deps.clock.now();
        let mut room = self.room.lock().expect("room lock");
        let events = f(&mut room, now)?;
        // Sent under the lock: the media engine sees changes in the order the room made them.
        for effect in events.iter().filter_map(MediaEffect::of) {
            self.effect(effect);
        }
        let questions = events
            .contains(&LiveEvent::Questions)
            .then(|| room.questions.clone());
        drop(room);
        self.wake.notify_one();
        Ok((events, questions, now))
    }

    fn effect(&self, effect: MediaEffect) {
        self.deps.media.send(MediaOrder {
            session: self.id,
            effect,
            report: self.notices.clone(),
        });
    }

    /// Stores what must survive a restart, then tells the event streams.
    async fn carry_out(
        &self,
        events: Vec<LiveEvent>,
        questions: Option<Vec<crate::domain::live::Question>>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let id = self.id;
        for e in events {
            match e {
                LiveEvent::RoomOpened(_)
                | LiveEvent::RoomClosed(_)
                | LiveEvent::Media { .. }
                | LiveEvent::Left { .. } => {}
                LiveEvent::Removed { user_id } => {
                    let _ = self.notices.send(Notice::Removed(user_id));
                    self.deps
                        .store
                        .run(move |s| s.remove_from_live(id, user_id))
                        .await?;
                }
                LiveEvent::MuteRequested { user_id } => {
                    let _ = self.notices.send(Notice::Mute(user_id));
                }
                LiveEvent::Tell { user_id, text } => {
                    let _ = self.notices.send(Notice::Tell { user_id, text });
                }
                LiveEvent::Chat(msg) => {
                    let stored = msg.clone();
                    self.deps
                        .store
                        .run(move |s| s.append_chat(id, &stored))
                        .await?;
                    let _ = self.notices.send(Notice::Chat(msg));
                }
                LiveEvent::Questions => {
                    if let Some(qs) = questions.clone() {
                        self.deps
                            .store
                            .run(move |s| s.save_questions(id, &qs))
                            .await?;
                    }
                    let _ = self.notices.send(Notice::Changed);
                }
                LiveEvent::Changed => {
                    let _ = self.notices.send(Notice::Changed);
                }
                LiveEvent::Ended => {
                    let r = self
                        .deps
                        .store
                        .run(move |s| {
                            s.update_session(id, &[], |ctx| {
                                ctx.session.live_ended_at = Some(now);
                                Ok(())
                            })
                        })
                        .await;
                    let _ = self.notices.send(Notice::Ended);
                    tracing::info!(session = id, "live session ended");
                    r?;
                }
            }
        }
        Ok(())
    }

    /// A member deleted their account: they leave this room (their event
    /// stream ends) and it shows "Deleted member" for what they wrote.
    pub fn account_deleted(self: &Arc<Self>, user_id: u64) {
        self.run_detached(|room, _| {
            room.account_deleted(user_id, crate::domain::accounts::DELETED_NAME)
        });
        let _ = self.notices.send(Notice::Removed(user_id));
    }

    /// Brings the room's record of someone's role and host powers up to
    /// date (others' pages see the change).
    pub fn set_powers(self: &Arc<Self>, user_id: u64, role: Option<Role>, is_host: bool) {
        self.run_detached(|room, _| room.set_powers(user_id, role, is_host));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    pub fn is_ended(&self) -> bool {
        self.room.lock().expect("room lock").ended_at.is_some()
    }

    /// An event stream opened for `user_id`, unless they already hold
    /// [`STREAMS_PER_PERSON`](crate::domain::live::STREAMS_PER_PERSON).
    pub fn connected(&self, user_id: u64) -> Result<(), LiveError> {
        let mut presence = self.presence.lock().expect("presence lock");
        let n = presence.entry(user_id).or_default();
        if *n >= crate::domain::live::STREAMS_PER_PERSON {
            return Err(LiveError::TooManyStreams);
        }
        *n += 1;
        Ok(())
    }

    /// An event stream closed; after the grace period without another one,
    /// the person leaves the room.
    pub fn disconnected(self: &Arc<Self>, user_id: u64) {
        {
            let mut p = self.presence.lock().expect("presence lock");
            let n = p.entry(user_id).or_default();
            *n = n.saturating_sub(1);
        }
        let me = self.clone();
        let mut closing = self.closing.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(me.deps.leave_grace) => {}
                () = closed(&mut closing) => return,
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
                me.run_detached(|room, _| room.leave(user_id));
            }
        });
    }

    /// The room as `viewer` sees it now.
    pub fn view(&self, session: &Session, agenda: Vec<AgendaItem>, viewer: &Viewer) -> LiveView {
        let seen = self.seen.lock().expect("seen lock").clone();
        let room = self.room.lock().expect("room lock");
        LiveView::build(
            Some(&room),
            session,
            agenda,
            viewer,
            self.deps.clock.now(),
            &self.deps.settings,
            &seen,
        )
    }

    /// Reads the room.
    pub fn with_room<T>(&self, f: impl FnOnce(&LiveRoom) -> T) -> T {
        f(&self.room.lock().expect("room lock"))
    }

    /// Whether `msg` belongs to the chat `user_id` reads.
    pub fn reads(&self, user_id: u64, msg: &ChatMessage) -> bool {
        self.with_room(|r| r.chat_room_of(user_id) == msg.room)
    }
}

impl LiveHub {
    /// The view of a session that is not running (waiting or ended).
    pub fn idle_view(
        &self,
        session: &Session,
        agenda: Vec<AgendaItem>,
        viewer: &Viewer,
    ) -> LiveView {
        LiveView::build(
            None,
            session,
            agenda,
            viewer,
            self.deps.clock.now(),
            &self.deps.settings,
            &HashMap::new(),
        )
    }
}

/// Resolves once the server is shutting down.
pub async fn closed(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Runs the room's deadlines (countdowns, agenda, breakout timer) when
/// due, and once a second asks the SFU what everyone's media really carries
/// (a change is broadcast like any other).
async fn timer(s: Arc<LiveSession>) {
    let mut closing = s.closing.clone();
    let mut poll = tokio::time::interval(Duration::from_secs(1));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if s.is_ended() {
            return;
        }
        let deadline = s.with_room(|r| r.next_deadline());
        let wait = match deadline {
            Some(d) => {
                let now = s.deps.clock.now();
                Duration::try_from(d.duration_since(now)).unwrap_or_default()
            }
            None => Duration::from_secs(3600),
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {
                s.run_detached(|room, now| room.tick(now));
            }
            () = s.wake.notified() => {}
            _ = poll.tick() => {
                let seen = s.deps.media.sending(s.id).await;
                let changed = {
                    let mut old = s.seen.lock().expect("seen lock");
                    let changed = *old != seen;
                    *old = seen;
                    changed
                };
                if changed {
                    let _ = s.notices.send(Notice::Changed);
                }
            }
            () = closed(&mut closing) => return,
        }
    }
}
