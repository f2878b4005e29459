//! The live room's rules, pure: starting (from a lead time before the
//! start), who is in and where, the stage with its limits, one ordered stage
//! queue (requests to join with camera/mic and raised hands) with approvals
//! and a countdown, chat with a rate limit, Q&A with upvotes, breakout rooms,
//! moderation, ending. Every change returns [`LiveEvent`]s: what the media
//! engine must enforce (who may publish where) and who must be told what.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::sessions::{Phase, Role, Session};

mod command;
mod error;
mod presentation;
mod video;
mod view;
pub use command::{Actor, BreakoutPlan, LiveCommand, Moderation, RequestChoice};
pub use error::LiveError;
pub use presentation::Presentation;
pub use video::{
    SNIFF_BYTES, StageVideo, VIDEO_MAX_BYTES, VIDEOS_PER_SESSION, VideoAction, VideoKind,
    VideoSource, YoutubeLink, parse_youtube, sniff_video, video_name,
};
pub use view::{LiveView, MediaSeen, Viewer};

/// The main room; breakout rooms are 1..=10.
pub const MAIN_ROOM: u32 = 0;
pub const MAX_BREAKOUTS: usize = 10;
pub const BREAKOUT_NAME_MAX: usize = 30;
pub const CHAT_MAX: usize = 1000;
pub const QUESTION_MAX: usize = 500;
/// Questions a session keeps at most (a stranger cannot grow the list without bound).
pub const QUESTIONS_MAX: usize = 500;
/// Event streams one person may hold open on a room at once (tabs, devices).
pub const STREAMS_PER_PERSON: u32 = 5;
/// The longest breakout timer.
pub const BREAKOUT_MINUTES_MAX: u32 = 240;
/// Chat history kept for late joiners, per room.
pub const CHAT_HISTORY: usize = 200;

/// Tunables (from the config file).
#[derive(Debug, Clone, Copy)]
pub struct LiveSettings {
    /// How long before the scheduled start a host may press Start.
    pub start_lead: SignedDuration,
    /// Hosts, presenters and the interviewer on stage at once.
    pub stage_speakers: usize,
    /// Audience members brought on stage at once.
    pub stage_guests: usize,
    /// The "get ready" countdown after an approval.
    pub countdown: SignedDuration,
    /// People in the room at once (at most 50).
    pub capacity: usize,
    /// Chat messages per person within `chat_window`.
    pub chat_burst: usize,
    pub chat_window: SignedDuration,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            start_lead: SignedDuration::from_mins(15),
            stage_speakers: 4,
            stage_guests: 6,
            countdown: SignedDuration::from_secs(5),
            capacity: 50,
            chat_burst: 5,
            chat_window: SignedDuration::from_secs(10),
        }
    }
}

/// Whether `session` may be started at `now`.
pub fn check_start(
    session: &Session,
    now: Timestamp,
    lead: SignedDuration,
) -> Result<(), LiveError> {
    match session.phase {
        Phase::Cancelled => return Err(LiveError::Cancelled),
        Phase::Draft => return Err(LiveError::NotPublished),
        Phase::Published | Phase::Closed => {}
    }
    if session.live_ended_at.is_some() {
        return Err(LiveError::Ended);
    }
    if now < session.starts_at - lead {
        return Err(LiveError::TooEarly {
            lead_minutes: lead.as_mins(),
        });
    }
    if now >= session.completes_at() {
        return Err(LiveError::TimePassed);
    }
    Ok(())
}

/// Where someone stands in the live room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub user_id: u64,
    pub name: String,
    /// The registered role; walk-ins are guests.
    pub role: Role,
    pub is_host: bool,
    pub room: u32,
    pub on_stage: bool,
    pub camera: bool,
    pub mic: bool,
    pub hand_raised: bool,
    pub joined_at: Timestamp,
    /// Their place in the main room while they are in a breakout room: on
    /// stage with these devices, or (`None`) in the audience. Restored when
    /// they come back.
    #[serde(skip)]
    pub main_stage: Option<(bool, bool)>,
    /// A host muted them: the microphone stays off until a host allows it.
    pub mic_locked: bool,
    /// A host moved them off stage: they come back only by an approved request.
    pub stage_locked: bool,
}

impl Person {
    /// On stage with these devices, or (`None`) in the audience with both off.
    fn set_stage(&mut self, devices: Option<(bool, bool)>) {
        self.on_stage = devices.is_some();
        (self.camera, self.mic) = devices.unwrap_or((false, false));
    }

    /// Leaves the main room for a breakout room: remembers the main-room
    /// stage place, then goes on stage with camera and microphone (everyone
    /// in a breakout room may speak).
    fn enter_breakout(&mut self, room: u32) {
        if self.room == MAIN_ROOM {
            self.main_stage = self.on_stage.then_some((self.camera, self.mic));
        }
        self.room = room;
        self.set_stage(Some((true, !self.mic_locked)));
        self.hand_raised = false;
    }

    /// Comes back to the main room, to the stage place held before.
    fn return_to_main(&mut self) {
        if self.room != MAIN_ROOM {
            self.room = MAIN_ROOM;
            let place = self.main_stage.take();
            self.set_stage(place);
        }
    }

    /// Hosts, presenters and the interviewer speak; everyone else is audience.
    pub fn is_speaker(&self) -> bool {
        self.is_host || matches!(self.role, Role::Host | Role::Presenter | Role::Interviewer)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestKind {
    /// "Request to join with mic & camera", with the choice made before sending.
    Stage { camera: bool, mic: bool },
    /// A raised hand: come on stage with the microphone.
    Hand,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageRequest {
    pub user_id: u64,
    pub kind: RequestKind,
    pub requested_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Countdown {
    pub user_id: u64,
    pub camera: bool,
    pub mic: bool,
    pub ends_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: u64,
    pub user_id: u64,
    pub name: String,
    pub room: u32,
    pub text: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub id: u64,
    pub user_id: u64,
    pub name: String,
    pub text: String,
    pub at: Timestamp,
    pub voters: BTreeSet<u64>,
    pub answered: bool,
    pub hidden: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breakout {
    pub id: u32,
    pub name: String,
}

/// What the caller must carry out or tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    /// The media engine must open this breakout room (before anyone is moved in).
    RoomOpened(u32),
    /// The media engine must apply this (room, publish right, and whether
    /// the microphone may be heard: false while a host's mute holds).
    Media {
        user_id: u64,
        room: u32,
        may_publish: bool,
        mic_allowed: bool,
    },
    /// The media engine may close this breakout room (everyone was moved out).
    RoomClosed(u32),
    /// This person left the live room; their media connection ends and
    /// their tokens no longer admit them.
    Left {
        user_id: u64,
    },
    /// Ask this person's client to turn its microphone off.
    MuteRequested {
        user_id: u64,
    },
    /// This person was removed by a host; close their connection.
    Removed {
        user_id: u64,
    },
    Chat(ChatMessage),
    /// A word for one person only (e.g. their request was declined).
    Tell {
        user_id: u64,
        text: &'static str,
    },
    /// Questions changed (the caller persists and broadcasts them).
    Questions,
    /// Anything else that changes what people see.
    Changed,
    Ended,
}

/// One live session's state.
#[derive(Debug, Clone)]
pub struct LiveRoom {
    pub session_id: u64,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub settings: LiveSettings,
    pub people: BTreeMap<u64, Person>,
    pub queue: Vec<StageRequest>,
    pub countdowns: Vec<Countdown>,
    pub chat: Vec<ChatMessage>,
    pub questions: Vec<Question>,
    pub breakouts: Vec<Breakout>,
    /// When open breakout rooms close by themselves (a host may change it).
    pub breakouts_close_at: Option<Timestamp>,
    /// Whether the one-minute warning for that time went out.
    breakout_warned: bool,
    /// Index into the run of show.
    pub agenda_item: usize,
    pub agenda_item_started: Timestamp,
    /// How long each item of the run of show lasts; the current item moves
    /// on by itself when its time is up (a host may move it any time).
    agenda: Vec<SignedDuration>,
    removed: BTreeSet<u64>,
    chat_times: HashMap<u64, VecDeque<Timestamp>>,
    next_id: u64,
    /// The session's materials (as stored; kept in step by the service).
    pub materials: Vec<crate::domain::materials::Material>,
    /// What is presented on the main stage.
    pub presentation: Option<Presentation>,
    /// The video on the main stage (`video`), if one is shown.
    pub video: Option<StageVideo>,
}

impl LiveRoom {
    /// Starts the live session (the caller checked [`check_start`]); chat and
    /// questions from before a restart are passed back in.
    pub fn new(
        session_id: u64,
        now: Timestamp,
        settings: LiveSettings,
        chat: Vec<ChatMessage>,
        questions: Vec<Question>,
    ) -> Self {
        let next_id = chat
            .iter()
            .map(|c| c.id)
            .chain(questions.iter().map(|q| q.id))
            .max()
            .unwrap_or(0)
            + 1;
        // Late joiners get the last CHAT_HISTORY messages of each room.
        let mut per_room: HashMap<u32, usize> = HashMap::new();
        let mut chat: Vec<ChatMessage> = chat
            .into_iter()
            .rev()
            .filter(|m| {
                let n = per_room.entry(m.room).or_default();
                *n += 1;
                *n <= CHAT_HISTORY
            })
            .collect();
        chat.reverse();
        LiveRoom {
            session_id,
            started_at: now,
            ended_at: None,
            settings,
            people: BTreeMap::new(),
            queue: Vec::new(),
            countdowns: Vec::new(),
            chat,
            questions,
            breakouts: Vec::new(),
            breakouts_close_at: None,
            breakout_warned: false,
            agenda_item: 0,
            agenda_item_started: now,
            agenda: Vec::new(),
            removed: BTreeSet::new(),
            chat_times: HashMap::new(),
            next_id,
            materials: Vec::new(),
            presentation: None,
            video: None,
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id - 1
    }

    fn person(&self, user_id: u64) -> Result<&Person, LiveError> {
        self.people.get(&user_id).ok_or(LiveError::NotInRoom)
    }

    fn host(&self, user_id: u64) -> Result<&Person, LiveError> {
        let p = self.person(user_id)?;
        if !p.is_host {
            return Err(LiveError::HostOnly);
        }
        Ok(p)
    }

    fn open(&self) -> Result<(), LiveError> {
        if self.ended_at.is_some() {
            return Err(LiveError::Ended);
        }
        Ok(())
    }

    /// Speakers and guests on stage (or counting down to it) in one room.
    fn stage_counts(&self, room: u32) -> (usize, usize) {
        let mut speakers = 0;
        let mut guests = 0;
        for p in self
            .people
            .values()
            .filter(|p| p.room == room && p.on_stage)
        {
            if p.is_speaker() {
                speakers += 1;
            } else {
                guests += 1;
            }
        }
        guests += self
            .countdowns
            .iter()
            .filter(|c| self.people.get(&c.user_id).is_some_and(|p| p.room == room))
            .count();
        (speakers, guests)
    }

    fn media(&self, user_id: u64) -> LiveEvent {
        let p = &self.people[&user_id];
        LiveEvent::Media {
            user_id,
            room: p.room,
            may_publish: p.on_stage,
            mic_allowed: !p.mic_locked,
        }
    }

    /// Someone comes in (or back after a reconnect, keeping their place).
    /// `registered` is their registration role; `None` for walk-ins, who get
    /// a seat only while the room has space.
    pub fn join(
        &mut self,
        user_id: u64,
        name: &str,
        registered: Option<Role>,
        is_host: bool,
        now: Timestamp,
    ) -> Result<Vec<LiveEvent>, LiveError> {
        self.open()?;
        if self.removed.contains(&user_id) {
            return Err(LiveError::Removed);
        }
        if self.people.contains_key(&user_id) {
            return Ok(vec![self.media(user_id)]);
        }
        if registered.is_none() && !is_host && self.people.len() >= self.settings.capacity {
            return Err(LiveError::RoomFull);
        }
        let role = registered.unwrap_or(Role::Guest);
        let mut p = Person {
            user_id,
            name: name.to_owned(),
            role,
            is_host: is_host || role == Role::Host,
            room: MAIN_ROOM,
            on_stage: false,
            camera: false,
            mic: false,
            hand_raised: false,
            joined_at: now,
            main_stage: None,
            mic_locked: false,
            stage_locked: false,
        };
        if p.is_speaker() && self.stage_counts(MAIN_ROOM).0 < self.settings.stage_speakers {
            p.set_stage(Some((true, true)));
        }
        self.people.insert(user_id, p);
        Ok(vec![self.media(user_id), LiveEvent::Changed])
    }

    /// Someone left (or their connection vanished for good).
    /// A member deleted their account: they leave the room, and their name
    /// becomes `name` wherever the room shows it (chat, questions).
    /// Someone's registration or admin flag changed while they are in the
    /// room: their role and host powers follow at once (not only at their
    /// next action), so every page shows them as they are now.
    pub fn set_powers(
        &mut self,
        user_id: u64,
        role: Option<Role>,
        is_host: bool,
    ) -> Vec<LiveEvent> {
        let Some(p) = self.people.get_mut(&user_id) else {
            return Vec::new();
        };
        let role = role.unwrap_or(Role::Guest);
        let is_host = is_host || role == Role::Host;
        if (p.role, p.is_host) == (role, is_host) {
            return Vec::new();
        }
        (p.role, p.is_host) = (role, is_host);
        vec![LiveEvent::Changed]
    }

    pub fn account_deleted(&mut self, user_id: u64, name: &str) -> Vec<LiveEvent> {
        for m in self.chat.iter_mut().filter(|m| m.user_id == user_id) {
            m.name = name.to_owned();
        }
        for q in self.questions.iter_mut().filter(|q| q.user_id == user_id) {
            q.name = name.to_owned();
        }
        if let Some(p) = self.people.get_mut(&user_id) {
            p.name = name.to_owned();
        }
        if let Some(v) = self.video.as_mut().filter(|v| v.by == user_id) {
            v.by_name = name.to_owned();
        }
        let mut events = self.leave(user_id);
        if events.is_empty() {
            events.push(LiveEvent::Changed);
        }
        events
    }

    pub fn leave(&mut self, user_id: u64) -> Vec<LiveEvent> {
        if self.take_out(user_id) {
            vec![LiveEvent::Left { user_id }, LiveEvent::Changed]
        } else {
            Vec::new()
        }
    }

    /// Takes someone out of the room, the queue and the countdowns.
    fn take_out(&mut self, user_id: u64) -> bool {
        self.queue.retain(|r| r.user_id != user_id);
        self.countdowns.retain(|c| c.user_id != user_id);
        self.people.remove(&user_id).is_some()
    }

    /// An audience member asks to come on stage, or raises a hand. Both go
    /// into one queue in arrival order.
    pub fn request_stage(
        &mut self,
        user_id: u64,
        kind: RequestKind,
        now: Timestamp,
    ) -> Result<Vec<LiveEvent>, LiveError> {
        self.open()?;
        let p = self.person(user_id)?;
        if p.on_stage {
            return Err(LiveError::AlreadyOnStage);
        }
        if self.queue.iter().any(|r| r.user_id == user_id)
            || self.countdowns.iter().any(|c| c.user_id == user_id)
        {
            return Err(LiveError::AlreadyRequested);
        }
        self.queue.push(StageRequest {
            user_id,
            kind,
            requested_at: now,
        });
        if kind == RequestKind::Hand {
            self.people.get_mut(&user_id).expect("checked").hand_raised = true;
        }
        Ok(vec![LiveEvent::Changed])
    }

    pub fn withdraw(&mut self, user_id: u64) -> Result<Vec<LiveEvent>, LiveError> {
        self.drop_request(user_id, LiveError::NoRequest)
    }

    /// Takes someone's request out of the queue and lowers their hand.
    fn drop_request(
        &mut self,
        user_id: u64,
        missing: LiveError,
    ) -> Result<Vec<LiveEvent>, LiveError> {
        let before = self.queue.len();
        self.queue.retain(|r| r.user_id != user_id);
        if self.queue.len() == before {
            return Err(missing);
        }
        if let Some(p) = self.people.get_mut(&user_id) {
            p.hand_raised = false;
        }
        Ok(vec![LiveEvent::Changed])
    }

    /// A host approves a request: the person gets the countdown, then the stage.
    pub fn approve(
        &mut self,
        host: u64,
        user_id: u64,
        now: Timestamp,
    ) -> Result<Vec<LiveEvent>, LiveError> {
        self.open()?;
        self.host(host)?;
        let i = self
            .queue
            .iter()
            .position(|r| r.user_id == user_id)
            .ok_or(LiveError::RequestGone)?;
        let room = self.person(user_id)?.room;
        if self.stage_counts(room).1 >= self.settings.stage_guests {
            return Err(LiveError::GuestStageFull {
                limit: self.settings.stage_guests,
            });
        }
        let r = self.queue.remove(i);
        let (camera, mic) = match r.kind {
            RequestKind::Stage { camera, mic } => (camera, mic),
            RequestKind::Hand => (false, true),
        };
        self.countdowns.push(Countdown {
            user_id,
            camera,
            mic,
            ends_at: now + self.settings.countdown,
        });
        Ok(vec![LiveEvent::Changed])
    }

    pub fn decline(&mut self, host: u64, user_id: u64) -> Result<Vec<LiveEvent>, LiveError> {
        self.host(host)?;
        let mut events = self.drop_request(user_id, LiveError::RequestGone)?;
        events.push(LiveEvent::Tell {
            user_id,
            text: "A host declined your request to join the stage. You can ask again later.",
        });
        Ok(events)
    }

    /// The approved person changes their mind during the countdown.
    pub fn cancel_countdown(&mut self, user_id: u64) -> Result<Vec<LiveEvent>, LiveError> {
        let before = self.countdowns.len();
        self.countdowns.retain(|c| c.user_id != user_id);
        if self.countdowns.len() == before {
            return Err(LiveError::NoCountdown);
        }
        if let Some(p) = self.people.get_mut(&user_id) {
            p.hand_raised = false;
        }
        Ok(vec![LiveEvent::Changed])
    }

    /// Time passes: finished countdowns put people on stage.
    pub fn tick(&mut self, now: Timestamp) -> Vec<LiveEvent> {
        let (done, waiting): (Vec<_>, Vec<_>) =
            self.countdowns.drain(..).partition(|c| c.ends_at <= now);
        self.countdowns = waiting;
        let mut events = Vec::new();
        for c in done {
            if let Some(p) = self.people.get_mut(&c.user_id) {
                // An approved request lifts a host's earlier "off stage".
                p.stage_locked = false;
                p.set_stage(Some((c.camera, c.mic && !p.mic_locked)));
                // A hand is lowered once its owner has been on stage.
                p.hand_raised = false;
                events.push(self.media(c.user_id));
            }
        }
        let mut advanced = false;
        while let Some(end) = self.agenda_item_ends().filter(|e| *e <= now) {
            self.agenda_item += 1;
            self.agenda_item_started = end;
            advanced = true;
        }
        if let Some(close) = self.breakouts_close_at {
            if now >= close {
                events.extend(self.end_breakouts());
            } else if !self.breakout_warned && now >= close - BREAKOUT_WARNING {
                self.breakout_warned = true;
                events.extend(self.announce("Breakout rooms close in one minute.", now));
            }
        }
        if !events.is_empty() || advanced {
            events.push(LiveEvent::Changed);
        }
        events
    }

    /// When the caller's timer must next call [`tick`](Self::tick): a
    /// countdown ending, the breakout warning, or the breakouts closing.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let breakout = self.breakouts_close_at.map(|close| {
            if self.breakout_warned {
                close
            } else {
                close - BREAKOUT_WARNING
            }
        });
        self.countdowns
            .iter()
            .map(|c| c.ends_at)
            .chain(breakout)
            .chain(self.agenda_item_ends())
            .min()
    }

    /// A message from Podium itself in every open room.
    fn announce(&mut self, text: &str, now: Timestamp) -> Vec<LiveEvent> {
        self.post_everywhere(0, "Podium", text, now)
    }

    /// One chat message in the main room and every breakout room.
    fn post_everywhere(
        &mut self,
        user_id: u64,
        name: &str,
        text: &str,
        now: Timestamp,
    ) -> Vec<LiveEvent> {
        let rooms: Vec<u32> = std::iter::once(MAIN_ROOM)
            .chain(self.breakouts.iter().map(|b| b.id))
            .collect();
        rooms
            .into_iter()
            .map(|room| {
                let msg = ChatMessage {
                    id: self.id(),
                    user_id,
                    name: name.to_owned(),
                    room,
                    text: text.to_owned(),
                    at: now,
                };
                self.chat.push(msg.clone());
                LiveEvent::Chat(msg)
            })
            .collect()
    }

    /// A host sends one message to every room (main and breakouts).
    pub fn broadcast(
        &mut self,
        host: u64,
        text: &str,
        now: Timestamp,
    ) -> Result<Vec<LiveEvent>, LiveError> {
        self.open()?;
        let name = self.host(host)?.name.clone();
        let text = clean_text(text, CHAT_MAX, "text")?;
        Ok(self.post_everywhere(host, &format!("{name} (to all rooms)"), &text, now))
    }

    /// A host sets (or clears, with `None`) when open breakout rooms close.
    pub fn set_breakout_timer(
        &mut self,
        host: u64,
        minutes: Option<u32>,
        now: Timestamp,
    ) -> Result<Vec<LiveEvent>, LiveError> {
        self.host(host)?;
        if self.breakouts.is_empty() {
            return Err(LiveError::NoBreakouts);
        }
        self.breakouts_close_at = breakout_deadline(minutes, now)?;
        self.breakout_warned = false;
        Ok(vec![LiveEvent::Changed])
    }

    /// Anyone on stage goes back to the audience ("Deactivate Mic & Camera").
    pub fn leave_stage(&mut self, user_id: u64) -> Result<Vec<LiveEvent>, LiveError> {
        let p = self
            .people
            .get_mut(&user_id)
            .filter(|p| p.on_stage)
            .ok_or(LiveError::NotOnStage)?;
        p.set_stage(None);
        Ok(vec![self.media(user_id), LiveEvent::Changed])
    }

    /// A host moves someone off stage.
    pub fn move_off_stage(&mut self, host: u64, user_id: u64) -> Result<Vec<LiveEvent>, LiveError> {
        self.host(host)?;
        self.person(user_id)?;
        let events = self.leave_stage(user_id)?;
        if host != user_id {
            self.people.get_mut(&user_id).expect("checked").stage_locked = true;
        }
        Ok(events)
    }

    /// A speaker who was moved off (or could not fit) comes back on stage.
    pub fn take_stage(&mut self, user_id: u64) -> Result<Vec<LiveEvent>, LiveError> {
        self.open()?;
        let p = self.person(user_id)?;
        if !p.is_speaker() {
            return Err(LiveError::NotASpeaker);
        }
        if p.on_stage {
            return Ok(Vec::new());
        }
        if p.stage_locked {
            return Err(LiveError::MovedOffByHost);
        }
        if self.stage_counts(p.room).0 >= self.settings.stage_speakers {
            return Err(LiveError::SpeakerStageFull {
                limit: self.settings.stage_speakers,
            });
        }
        let p = self.people.get_mut(&user_id).expect("checked");
        let mic = !p.mic_locked;
        p.set_stage(Some((true, mic)));
        Ok(vec![self.media(user_id), LiveEvent::Changed])
    }

    /// Someone on stage turns camera or microphone on or off (the
    /// microphone only while no host has muted them).
    pub fn set_devices(
        &mut self,
        user_id: u64,
        camera: bool,
        mic: bool,
    ) -> Result<Vec<LiveEvent>, LiveError> {
        let p = self
            .people
            .get_mut(&user_id)
            .filter(|p| p.on_stage)
            .ok_or(LiveError::DevicesOffStage)?;
        if mic && !p.mic && p.mic_locked {
            return Err(LiveError::MutedByHost);
        }
        p.camera = camera;
        p.mic = mic;
        Ok(vec![LiveEvent::Changed])
    }

    /// A host mutes someone's microphone.
    pub fn mute(&mut self, host: u64, user_id: u64) -> Result<Vec<LiveEvent>, LiveError> {
        self.host(host)?;
        let p = self.people.get_mut(&user_id).ok_or(LiveError::NotInRoom)?;
        p.mic = false;
        p.mic_locked = true;
        Ok(vec![
            LiveEvent::MuteRequested { user_id },
            self.media(user_id),
            LiveEvent::Changed,
        ])
    }

    /// A host lets a muted person use their microphone again.
    pub fn allow_mic(&mut self, host: u64, user_id: u64) -> Result<Vec<LiveEvent>, LiveError> {
        self.host(host)?;
        let p = self.people.get_mut(&user_id).ok_or(LiveError::NotInRoom)?;
        p.mic_locked = false;
        Ok(vec![self.media(user_id), LiveEvent::Changed])
    }

    /// A host removes someone from the session; they cannot come back.
    pub fn remove(&mut self, host: u64, user_id: u64) -> Result<Vec<LiveEvent>, LiveError> {
        self.host(host)?;
        if host == user_id {
            return Err(LiveError::CannotRemoveSelf);
        }
        if self.person(user_id)?.is_host {
            return Err(LiveError::CannotRemoveHost);
        }
        self.removed.insert(user_id);
        self.take_out(user_id);
        Ok(vec![LiveEvent::Removed { user_id }, LiveEvent::Changed])
    }

    /// Posts a chat message in the sender's room.
    pub fn chat(
        &mut self,
        user_id: u64,
        text: &str,
        now: Timestamp,
    ) -> Result<Vec<LiveEvent>, LiveError> {
        self.open()?;
        let p = self.person(user_id)?.clone();
        let text = clean_text(text, CHAT_MAX, "text")?;
        self.throttle(user_id, now)?;
        let msg = ChatMessage {
            id: self.id(),
            user_id,
            name: p.name,
            room: p.room,
            text,
            at: now,
        };
        self.chat.push(msg.clone());
        let in_room = self.chat.iter().filter(|m| m.room == msg.room).count();
        if in_room > CHAT_HISTORY {
            let room = msg.room;
            if let Some(i) = self.chat.iter().position(|m| m.room == room) {
                self.chat.remove(i);
            }
        }
        Ok(vec![LiveEvent::Chat(msg)])
    }

    /// One limit for everything a person writes (chat and questions): at most
    /// `chat_burst` within `chat_window`.
    fn throttle(&mut self, user_id: u64, now: Timestamp) -> Result<(), LiveError> {
        let window = self.settings.chat_window;
        let times = self.chat_times.entry(user_id).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            times.pop_front();
        }
        if times.len() >= self.settings.chat_burst {
            // Free again when the oldest message in the window leaves it.
            let oldest = times.front().copied().unwrap_or(now);
            let left = window - now.duration_since(oldest);
            return Err(LiveError::SlowDown {
                retry_after_secs: left.as_secs().max(1).unsigned_abs(),
            });
        }
        times.push_back(now);
        Ok(())
    }

    /// People a host removed before a restart (they stay out).
    pub fn restore_removed(&mut self, removed: impl IntoIterator<Item = u64>) {
        self.removed.extend(removed);
    }

    /// Whether a host removed this person (they may not come back or read the room).
    pub fn is_removed(&self, user_id: u64) -> bool {
        self.removed.contains(&user_id)
    }

    /// The room whose chat a person reads and writes: their own room.
    pub fn chat_room_of(&self, user_id: u64) -> u32 {
        self.people.get(&user_id).map_or(MAIN_ROOM, |p| p.room)
    }

    /// Chat a person may read: their room's messages.
    pub fn chat_for(&self, user_id: u64) -> Vec<&ChatMessage> {
        let room = self.chat_room_of(user_id);
        self.chat.iter().filter(|m| m.room == room).collect()
    }

    pub fn ask(
        &mut self,
        user_id: u64,
        text: &str,
        now: Timestamp,
    ) -> Result<Vec<LiveEvent>, LiveError> {
        self.open()?;
        let name = self.person(user_id)?.name.clone();
        let text = clean_text(text, QUESTION_MAX, "text")?;
        if self.questions.len() >= QUESTIONS_MAX {
            return Err(LiveError::TooManyQuestions);
        }
        self.throttle(user_id, now)?;
        let id = self.id();
        self.questions.push(Question {
            id,
            user_id,
            name,
            text,
            at: now,
            voters: BTreeSet::new(),
            answered: false,
            hidden: false,
        });
        Ok(vec![LiveEvent::Questions])
    }

    fn question(&mut self, id: u64) -> Result<&mut Question, LiveError> {
        self.questions
            .iter_mut()
            .find(|q| q.id == id && !q.hidden)
            .ok_or(LiveError::NoQuestion)
    }

    /// Upvotes a question, once per person (a second vote takes it back).
    pub fn vote(&mut self, user_id: u64, id: u64, up: bool) -> Result<Vec<LiveEvent>, LiveError> {
        self.open()?;
        self.person(user_id)?;
        let q = self.question(id)?;
        if q.user_id == user_id {
            return Err(LiveError::OwnQuestion);
        }
        let changed = if up {
            q.voters.insert(user_id)
        } else {
            q.voters.remove(&user_id)
        };
        if !changed {
            return Err(if up {
                LiveError::AlreadyVoted
            } else {
                LiveError::NotVoted
            });
        }
        Ok(vec![LiveEvent::Questions])
    }

    /// Hosts and the interviewer mark a question answered.
    pub fn answer(
        &mut self,
        user_id: u64,
        id: u64,
        answered: bool,
    ) -> Result<Vec<LiveEvent>, LiveError> {
        let p = self.person(user_id)?;
        if !(p.is_host || p.role == Role::Interviewer) {
            return Err(LiveError::ModeratorOnly);
        }
        self.question(id)?.answered = answered;
        Ok(vec![LiveEvent::Questions])
    }

    /// Hosts hide a question from everyone.
    pub fn hide(&mut self, host: u64, id: u64) -> Result<Vec<LiveEvent>, LiveError> {
        self.host(host)?;
        self.question(id)?.hidden = true;
        Ok(vec![LiveEvent::Questions])
    }

    /// Open questions ranked by votes (then age); answered ones apart.
    pub fn ranked_questions(&self) -> (Vec<&Question>, Vec<&Question>) {
        let mut open: Vec<&Question> = self
            .questions
            .iter()
            .filter(|q| !q.hidden && !q.answered)
            .collect();
        open.sort_by(|a, b| b.voters.len().cmp(&a.voters.len()).then(a.at.cmp(&b.at)));
        let answered = self
            .questions
            .iter()
            .filter(|q| !q.hidden && q.answered)
            .collect();
        (open, answered)
    }

    /// Opens breakout rooms with the given names and members (user ids per
    /// room). Everyone moved may use camera and microphone in their room.
    pub fn open_breakouts(
        &mut self,
        host: u64,
        rooms: &[(String, Vec<u64>)],
        minutes: Option<u32>,
        now: Timestamp,
    ) -> Result<Vec<LiveEvent>, LiveError> {
        self.open()?;
        self.host(host)?;
        let close_at = breakout_deadline(minutes, now)?;
        if !self.breakouts.is_empty() {
            return Err(LiveError::BreakoutsOpen);
        }
        if rooms.is_empty() || rooms.len() > MAX_BREAKOUTS {
            return Err(LiveError::BreakoutCount);
        }
        let mut seen = BTreeSet::new();
        for (name, members) in rooms {
            let n = name.trim();
            if n.is_empty() || n.chars().count() > BREAKOUT_NAME_MAX {
                return Err(LiveError::BreakoutName);
            }
            for m in members {
                if !self.people.contains_key(m) || !seen.insert(*m) {
                    return Err(LiveError::BreakoutMember);
                }
            }
        }
        self.queue.clear();
        self.countdowns.clear();
        self.breakouts_close_at = close_at;
        self.breakout_warned = false;
        // Every room exists in the media engine before anyone is moved in.
        let mut events: Vec<LiveEvent> = (1..=rooms.len() as u32)
            .map(LiveEvent::RoomOpened)
            .collect();
        for (i, (name, members)) in rooms.iter().enumerate() {
            let id = i as u32 + 1;
            self.breakouts.push(Breakout {
                id,
                name: name.trim().to_owned(),
            });
            for m in members {
                self.people.get_mut(m).expect("checked").enter_breakout(id);
                events.push(self.media(*m));
            }
        }
        events.push(LiveEvent::Changed);
        Ok(events)
    }

    /// Splits the people who are not hosts evenly over `n` rooms.
    pub fn auto_assign(&self, n: usize) -> Vec<Vec<u64>> {
        let n = n.clamp(1, MAX_BREAKOUTS);
        let mut rooms = vec![Vec::new(); n];
        for (i, p) in self.people.values().filter(|p| !p.is_host).enumerate() {
            rooms[i % n].push(p.user_id);
        }
        rooms
    }

    /// Closes breakout rooms: everyone returns to the main room, speakers on
    /// stage, the audience in the audience.
    pub fn close_breakouts(&mut self, host: u64) -> Result<Vec<LiveEvent>, LiveError> {
        self.host(host)?;
        if self.breakouts.is_empty() {
            return Err(LiveError::NoBreakouts);
        }
        Ok(self.end_breakouts())
    }

    /// Everyone back to the main room, to the stage place they had there (a
    /// host's close, or the timer); then the rooms close.
    fn end_breakouts(&mut self) -> Vec<LiveEvent> {
        let rooms: Vec<u32> = self.breakouts.drain(..).map(|b| b.id).collect();
        self.breakouts_close_at = None;
        self.breakout_warned = false;
        let ids: Vec<u64> = self.people.keys().copied().collect();
        let mut events = Vec::new();
        for id in ids {
            let p = self.people.get_mut(&id).expect("listed");
            if p.room != MAIN_ROOM {
                p.return_to_main();
                events.push(self.media(id));
            }
        }
        events.extend(rooms.into_iter().map(LiveEvent::RoomClosed));
        events.push(LiveEvent::Changed);
        events
    }

    /// A host may visit a breakout room (and come back with room 0).
    pub fn visit(&mut self, host: u64, room: u32) -> Result<Vec<LiveEvent>, LiveError> {
        self.host(host)?;
        if room != MAIN_ROOM && !self.breakouts.iter().any(|b| b.id == room) {
            return Err(LiveError::NoRoom);
        }
        let p = self.people.get_mut(&host).expect("checked");
        if p.room == room {
            return Ok(Vec::new());
        }
        if room == MAIN_ROOM {
            p.return_to_main();
        } else {
            p.enter_breakout(room);
        }
        Ok(vec![self.media(host), LiveEvent::Changed])
    }

    /// The host moves the run of show on (or back).
    pub fn set_agenda(
        &mut self,
        host: u64,
        item: usize,
        now: Timestamp,
    ) -> Result<Vec<LiveEvent>, LiveError> {
        self.host(host)?;
        if item >= self.agenda.len() {
            return Err(LiveError::NoAgendaItem);
        }
        self.agenda_item = item;
        self.agenda_item_started = now;
        Ok(vec![LiveEvent::Changed])
    }

    /// The run of show: each item's length, in order (from the session's
    /// schedule; given again when it changes).
    pub fn plan_agenda(&mut self, items: &[super::sessions::AgendaItem]) {
        self.agenda = items
            .iter()
            .map(|i| i.ends_at.duration_since(i.starts_at))
            .collect();
        self.agenda_item = self.agenda_item.min(self.agenda.len().saturating_sub(1));
    }

    /// When the current agenda item's time is up, if another follows.
    fn agenda_item_ends(&self) -> Option<Timestamp> {
        (self.agenda_item + 1 < self.agenda.len())
            .then(|| self.agenda_item_started + self.agenda[self.agenda_item])
    }

    /// The room closes without a host (the session was cancelled).
    pub fn close(&mut self, now: Timestamp) -> Vec<LiveEvent> {
        if self.ended_at.is_some() {
            return Vec::new();
        }
        self.ended_at = Some(now);
        self.queue.clear();
        self.countdowns.clear();
        vec![LiveEvent::Ended]
    }

    /// A host ends the session; the room closes for everyone.
    pub fn end(&mut self, host: u64, now: Timestamp) -> Result<Vec<LiveEvent>, LiveError> {
        self.open()?;
        self.host(host)?;
        self.ended_at = Some(now);
        self.queue.clear();
        self.countdowns.clear();
        Ok(vec![LiveEvent::Ended])
    }
}

/// The one-minute warning before breakout rooms close.
const BREAKOUT_WARNING: SignedDuration = SignedDuration::from_mins(1);

/// A breakout timer of 1..=240 minutes from `now`, or none.
fn breakout_deadline(minutes: Option<u32>, now: Timestamp) -> Result<Option<Timestamp>, LiveError> {
    match minutes {
        None => Ok(None),
        Some(m @ 1..=240) => Ok(Some(now + SignedDuration::from_mins(i64::from(m)))),
        Some(_) => Err(LiveError::BreakoutMinutes),
    }
}

fn clean_text(text: &str, max: usize, field: &'static str) -> Result<String, LiveError> {
    let kept: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect();
    let t = kept.trim();
    if t.is_empty() {
        return Err(LiveError::EmptyText { field });
    }
    if t.chars().count() > max {
        return Err(LiveError::TextTooLong { field, max });
    }
    Ok(t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::domain::sessions::{AgendaItem, new_draft};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn room() -> (LiveRoom, Timestamp) {
        let now = ts("2026-12-01T16:55:00Z");
        let mut r = LiveRoom::new(7, now, LiveSettings::default(), vec![], vec![]);
        r.join(1, "Host", Some(Role::Host), false, now).unwrap();
        r.join(2, "Presenter", Some(Role::Presenter), false, now)
            .unwrap();
        for id in 10..20 {
            r.join(id, &format!("Guest {id}"), Some(Role::Guest), false, now)
                .unwrap();
        }
        (r, now)
    }

    #[test]
    fn start_is_allowed_from_the_lead_time() {
        let mut s = new_draft(1, "UTC", ts("2026-11-01T00:00:00Z"));
        s.starts_at = ts("2026-12-01T17:00:00Z");
        s.phase = Phase::Published;
        let lead = SignedDuration::from_mins(15);
        let clock = ManualClock::new(ts("2026-12-01T16:44:00Z"));
        assert_eq!(
            check_start(&s, clock.now(), lead).unwrap_err().code(),
            "too_early"
        );
        clock.advance(SignedDuration::from_mins(1));
        assert!(check_start(&s, clock.now(), lead).is_ok(), "T-15m");
        clock.set(ts("2026-12-01T16:44:59Z"));
        assert!(check_start(&s, clock.now(), lead).is_err(), "T-15m01s");
        let five = SignedDuration::from_mins(5);
        clock.set(ts("2026-12-01T16:54:59Z"));
        assert_eq!(
            check_start(&s, clock.now(), five).unwrap_err().code(),
            "too_early"
        );
        s.phase = Phase::Cancelled;
        assert_eq!(
            check_start(&s, ts("2026-12-01T17:00:00Z"), lead)
                .unwrap_err()
                .code(),
            "session_cancelled"
        );
    }

    #[test]
    fn speakers_go_on_stage_and_audience_does_not() {
        let (r, _) = room();
        assert!(r.people[&1].on_stage && r.people[&1].mic);
        assert!(r.people[&2].on_stage);
        assert!(!r.people[&10].on_stage && !r.people[&10].camera);
    }

    #[test]
    fn capacity_for_walk_ins() {
        let now = ts("2026-12-01T17:00:00Z");
        let settings = LiveSettings {
            capacity: 2,
            ..Default::default()
        };
        let mut r = LiveRoom::new(1, now, settings, vec![], vec![]);
        r.join(1, "A", None, false, now).unwrap();
        r.join(2, "B", None, false, now).unwrap();
        assert_eq!(
            r.join(3, "C", None, false, now).unwrap_err().code(),
            "room_full"
        );
        // Registered people keep their claimed place.
        assert!(r.join(4, "D", Some(Role::Guest), false, now).is_ok());
        // Rejoining (reconnect) keeps the place.
        assert!(r.join(1, "A", None, false, now).is_ok());
    }

    #[test]
    fn one_queue_in_order_with_approval_countdown_and_limits() {
        let (mut r, now) = room();
        let cam = RequestKind::Stage {
            camera: true,
            mic: true,
        };
        r.request_stage(10, cam, now).unwrap();
        r.request_stage(11, RequestKind::Hand, now + SignedDuration::from_secs(1))
            .unwrap();
        r.request_stage(12, cam, now + SignedDuration::from_secs(2))
            .unwrap();
        assert_eq!(
            r.request_stage(10, cam, now).unwrap_err().code(),
            "already_requested"
        );
        assert_eq!(
            r.request_stage(1, cam, now).unwrap_err().code(),
            "already_on_stage"
        );
        let order: Vec<u64> = r.queue.iter().map(|q| q.user_id).collect();
        assert_eq!(order, vec![10, 11, 12]);
        assert!(r.people[&11].hand_raised);
        // Only hosts approve.
        assert_eq!(r.approve(2, 10, now).unwrap_err().code(), "host_only");
        r.approve(1, 11, now).unwrap();
        // Countdown: not yet on stage.
        assert!(r.tick(now + SignedDuration::from_secs(4)).is_empty());
        assert!(!r.people[&11].on_stage);
        let ev = r.tick(now + SignedDuration::from_secs(5));
        assert!(ev.contains(&LiveEvent::Media {
            user_id: 11,
            room: 0,
            may_publish: true,
            mic_allowed: true,
        }));
        assert!(r.people[&11].on_stage && r.people[&11].mic && !r.people[&11].camera);
        assert!(
            !r.people[&11].hand_raised,
            "hand lowered after being on stage"
        );
        // Withdraw and decline.
        r.withdraw(12).unwrap();
        assert_eq!(r.withdraw(12).unwrap_err().code(), "no_request");
        r.decline(1, 10).unwrap();
        assert!(r.queue.is_empty());
        // Cancel during the countdown.
        r.request_stage(13, cam, now).unwrap();
        r.approve(1, 13, now).unwrap();
        r.cancel_countdown(13).unwrap();
        assert!(r.tick(now + SignedDuration::from_secs(10)).is_empty());
        assert!(!r.people[&13].on_stage);
        // Six guests at most: 11 is on stage; five more fill it.
        for id in 14..19 {
            r.request_stage(id, cam, now).unwrap();
            r.approve(1, id, now).unwrap();
        }
        r.request_stage(19, cam, now).unwrap();
        assert_eq!(r.approve(1, 19, now).unwrap_err().code(), "stage_full");
        r.tick(now + SignedDuration::from_secs(5));
        r.move_off_stage(1, 14).unwrap();
        r.approve(1, 19, now).unwrap();
    }

    #[test]
    fn moderation() {
        let (mut r, now) = room();
        assert_eq!(r.mute(10, 2).unwrap_err().code(), "host_only");
        let ev = r.mute(1, 2).unwrap();
        assert_eq!(ev[0], LiveEvent::MuteRequested { user_id: 2 });
        assert!(
            ev.iter().any(|e| matches!(
                e,
                LiveEvent::Media {
                    user_id: 2,
                    mic_allowed: false,
                    ..
                }
            )),
            "the media engine stops the muted microphone: {ev:?}"
        );
        assert!(!r.people[&2].mic);
        let ev = r.remove(1, 10).unwrap();
        assert_eq!(ev[0], LiveEvent::Removed { user_id: 10 });
        assert_eq!(
            r.join(10, "G", Some(Role::Guest), false, now)
                .unwrap_err()
                .code(),
            "removed"
        );
        r.leave_stage(2).unwrap();
        assert_eq!(r.leave_stage(2).unwrap_err().code(), "not_on_stage");
        r.take_stage(2).unwrap();
        assert_eq!(r.take_stage(11).unwrap_err().code(), "not_a_speaker");
        r.end(1, now).unwrap();
        assert_eq!(r.chat(1, "hi", now).unwrap_err().code(), "session_ended");
    }

    #[test]
    fn chat_is_rate_limited_and_room_scoped() {
        let (mut r, now) = room();
        for i in 0..5 {
            r.chat(10, &format!("m{i}"), now).unwrap();
        }
        assert_eq!(r.chat(10, "one more", now).unwrap_err().code(), "slow_down");
        assert!(
            r.chat(10, "later", now + SignedDuration::from_secs(10))
                .is_ok()
        );
        // Questions count against the same limit (no flooding the Q&A either).
        for i in 0..4 {
            r.ask(13, &format!("q{i}"), now).unwrap();
        }
        r.chat(13, "one more", now).unwrap();
        assert_eq!(r.ask(13, "flood", now).unwrap_err().code(), "slow_down");
        assert_eq!(r.chat(10, "   ", now).unwrap_err().code(), "empty_text");
        assert_eq!(
            r.chat(11, &"x".repeat(1001), now).unwrap_err().code(),
            "text_too_long"
        );
        r.open_breakouts(1, &[("Room A".into(), vec![11, 12])], None, now)
            .unwrap();
        r.chat(11, "in the breakout", now).unwrap();
        assert!(r.chat_for(12).iter().any(|m| m.text == "in the breakout"));
        assert!(!r.chat_for(10).iter().any(|m| m.text == "in the breakout"));
        assert!(r.chat_for(12).iter().all(|m| m.room == 1));
    }

    #[test]
    fn questions_rank_by_votes_once_per_person() {
        let (mut r, now) = room();
        r.ask(10, "First?", now).unwrap();
        r.ask(11, "Second?", now + SignedDuration::from_secs(1))
            .unwrap();
        let (q1, q2) = (r.questions[0].id, r.questions[1].id);
        r.vote(12, q2, true).unwrap();
        assert_eq!(r.vote(12, q2, true).unwrap_err().code(), "already_voted");
        assert_eq!(r.vote(11, q2, true).unwrap_err().code(), "own_question");
        let (open, _) = r.ranked_questions();
        assert_eq!(open[0].id, q2);
        assert_eq!(r.answer(12, q2, true).unwrap_err().code(), "moderator_only");
        r.answer(1, q2, true).unwrap();
        let (open, answered) = r.ranked_questions();
        assert_eq!((open[0].id, answered[0].id), (q1, q2));
        r.hide(1, q1).unwrap();
        assert!(r.ranked_questions().0.is_empty());
        assert_eq!(r.vote(13, q1, true).unwrap_err().code(), "no_question");
    }

    #[test]
    fn breakouts() {
        let (mut r, now) = room();
        let too_many: Vec<(String, Vec<u64>)> =
            (0..11).map(|i| (format!("R{i}"), vec![])).collect();
        assert_eq!(
            r.open_breakouts(1, &too_many, None, now)
                .unwrap_err()
                .code(),
            "invalid_breakouts"
        );
        assert!(
            r.open_breakouts(1, &[("x".repeat(31), vec![])], None, now)
                .is_err()
        );
        assert!(
            r.open_breakouts(
                1,
                &[("A".into(), vec![10]), ("B".into(), vec![10])],
                None,
                now
            )
            .is_err()
        );
        let plan = r.auto_assign(3);
        assert_eq!(plan.iter().map(Vec::len).sum::<usize>(), 11);
        let rooms: Vec<(String, Vec<u64>)> = plan
            .into_iter()
            .enumerate()
            .map(|(i, m)| (format!("Room {}", i + 1), m))
            .collect();
        let ev = r
            .open_breakouts(10, &rooms, None, now)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(ev.code(), "host_only");
        let ev = r.open_breakouts(1, &rooms, None, now).unwrap();
        assert!(ev.iter().any(|e| matches!(
            e,
            LiveEvent::Media {
                room: 1,
                may_publish: true,
                ..
            }
        )));
        assert!(
            r.people
                .values()
                .filter(|p| !p.is_host)
                .all(|p| p.room != 0 && p.on_stage)
        );
        r.visit(1, 2).unwrap();
        assert_eq!(r.people[&1].room, 2);
        assert_eq!(r.visit(1, 9).unwrap_err().code(), "no_room");
        r.close_breakouts(1).unwrap();
        assert!(r.people.values().all(|p| p.room == 0 || p.is_host));
        assert!(!r.people[&10].on_stage);
        assert!(r.people[&2].on_stage, "speakers back on stage");
    }

    #[test]
    fn breakout_rooms_open_before_moves_and_everyone_returns_to_their_place() {
        let (mut r, now) = room();
        // A guest on stage and a presenter moved off stage before the breakouts.
        r.request_stage(10, RequestKind::Hand, now).unwrap();
        r.approve(1, 10, now).unwrap();
        r.tick(now + SignedDuration::from_secs(10));
        assert!(r.people[&10].on_stage && !r.people[&10].camera);
        r.move_off_stage(1, 2).unwrap();
        let rooms = vec![("A".to_owned(), vec![2, 10]), ("B".to_owned(), vec![11])];
        let ev = r.open_breakouts(1, &rooms, None, now).unwrap();
        let first_move = ev.iter().position(|e| matches!(e, LiveEvent::Media { .. }));
        let last_open = ev
            .iter()
            .rposition(|e| matches!(e, LiveEvent::RoomOpened(_)));
        assert_eq!(
            ev.iter()
                .filter(|e| matches!(e, LiveEvent::RoomOpened(_)))
                .count(),
            2
        );
        assert!(
            last_open < first_move,
            "rooms open before anyone moves: {ev:?}"
        );
        assert!(ev.contains(&LiveEvent::Media {
            user_id: 2,
            room: 1,
            may_publish: true,
            mic_allowed: true,
        }));
        assert!(
            r.people[&10].camera && r.people[&10].mic,
            "everyone speaks in a breakout room"
        );

        // The host visits room 2 with camera and microphone, and comes back.
        let ev = r.visit(1, 2).unwrap();
        assert!(ev.contains(&LiveEvent::Media {
            user_id: 1,
            room: 2,
            may_publish: true,
            mic_allowed: true,
        }));
        assert!(r.visit(1, 2).unwrap().is_empty(), "already there");
        let ev = r.visit(1, 0).unwrap();
        assert!(ev.contains(&LiveEvent::Media {
            user_id: 1,
            room: 0,
            may_publish: true,
            mic_allowed: true,
        }));
        r.visit(1, 1).unwrap();

        let ev = r.close_breakouts(1).unwrap();
        let last_move = ev
            .iter()
            .rposition(|e| matches!(e, LiveEvent::Media { .. }));
        let first_close = ev
            .iter()
            .position(|e| matches!(e, LiveEvent::RoomClosed(_)));
        assert!(
            last_move < first_close,
            "rooms close after everyone left: {ev:?}"
        );
        let p = |id: u64| r.people[&id].clone();
        assert!(
            p(10).on_stage && !p(10).camera && p(10).mic,
            "the guest keeps the stage"
        );
        assert!(!p(2).on_stage, "the presenter stays off stage");
        assert!(!p(11).on_stage, "the audience stays audience");
        assert!(p(1).on_stage && p(1).room == 0, "the host is back on stage");
    }

    #[test]
    fn agenda_items_advance_on_their_own() {
        let (mut r, now) = room();
        let item = |start: i64, mins: i64| AgendaItem {
            kind: "talk",
            title: String::new(),
            starts_at: now + SignedDuration::from_mins(start),
            ends_at: now + SignedDuration::from_mins(start + mins),
            presenter_user_id: None,
        };
        r.plan_agenda(&[item(0, 5), item(5, 10), item(15, 5)]);
        assert_eq!(r.next_deadline(), Some(now + SignedDuration::from_mins(5)));
        assert!(r.tick(now + SignedDuration::from_mins(4)).is_empty());
        let ev = r.tick(now + SignedDuration::from_mins(5));
        assert_eq!(ev, vec![LiveEvent::Changed]);
        assert_eq!(r.agenda_item, 1);
        // A host moves it by hand; the clock then runs from that moment.
        let later = now + SignedDuration::from_mins(7);
        r.set_agenda(1, 2, later).unwrap();
        assert_eq!(r.next_deadline(), None, "the last item stays until the end");
        assert_eq!(
            r.set_agenda(1, 3, later).unwrap_err().code(),
            "invalid_item"
        );
    }

    #[test]
    fn a_declined_request_is_told_to_its_owner() {
        let (mut r, now) = room();
        r.request_stage(10, RequestKind::Hand, now).unwrap();
        let ev = r.decline(1, 10).unwrap();
        assert!(
            ev.iter()
                .any(|e| matches!(e, LiveEvent::Tell { user_id: 10, .. }))
        );
        assert!(!r.people[&10].hand_raised);
        assert_eq!(r.decline(1, 10).unwrap_err().code(), "no_request");
    }

    #[test]
    fn text_of_only_control_characters_is_empty() {
        let (mut r, now) = room();
        assert_eq!(
            r.chat(10, "\u{7}\u{1b}", now).unwrap_err().code(),
            "empty_text"
        );
        assert!(r.chat(10, " hi\u{7} ", now).is_ok());
        assert_eq!(r.chat.last().unwrap().text, "hi");
    }

    #[test]
    fn leaving_and_removal_tell_the_media_engine() {
        let (mut r, _) = room();
        assert_eq!(
            r.leave(11),
            vec![LiveEvent::Left { user_id: 11 }, LiveEvent::Changed]
        );
        assert!(r.leave(11).is_empty());
        let ev = r.remove(1, 12).unwrap();
        assert_eq!(
            ev,
            vec![LiveEvent::Removed { user_id: 12 }, LiveEvent::Changed]
        );
    }

    #[test]
    fn breakout_timer_warns_a_minute_before_and_closes_the_rooms() {
        let (mut r, now) = room();
        let rooms = vec![("A".to_owned(), vec![10, 11]), ("B".to_owned(), vec![12])];
        assert_eq!(
            r.open_breakouts(1, &rooms, Some(0), now)
                .unwrap_err()
                .code(),
            "invalid_breakouts"
        );
        r.open_breakouts(1, &rooms, Some(10), now).unwrap();
        let ten = now + SignedDuration::from_mins(10);
        assert_eq!(r.next_deadline(), Some(ten - SignedDuration::from_mins(1)));
        assert!(r.tick(now + SignedDuration::from_mins(8)).is_empty());
        // The host gives them five more minutes while the rooms run.
        r.set_breakout_timer(1, Some(7), now + SignedDuration::from_mins(8))
            .unwrap();
        let close = now + SignedDuration::from_mins(15);
        assert_eq!(r.breakouts_close_at, Some(close));
        let warn = r.tick(close - SignedDuration::from_mins(1));
        let warnings: Vec<u32> = warn
            .iter()
            .filter_map(|e| match e {
                LiveEvent::Chat(m) if m.user_id == 0 => Some(m.room),
                _ => None,
            })
            .collect();
        assert_eq!(warnings, vec![0, 1, 2], "every room is warned once");
        assert!(r.tick(close - SignedDuration::from_secs(30)).is_empty());
        assert_eq!(r.next_deadline(), Some(close));
        let closed = r.tick(close);
        assert!(closed.iter().any(|e| matches!(
            e,
            LiveEvent::Media {
                user_id: 10,
                room: 0,
                ..
            }
        )));
        assert!(r.breakouts.is_empty() && r.breakouts_close_at.is_none());
        assert!(r.people.values().all(|p| p.room == 0));
        assert_eq!(r.next_deadline(), None);
        assert_eq!(
            r.set_breakout_timer(1, Some(5), close).unwrap_err().code(),
            "no_breakouts"
        );
    }

    #[test]
    fn restored_chat_keeps_the_recent_history_of_each_room() {
        let now = ts("2026-12-01T17:00:00Z");
        let msg = |id: u64, room: u32| ChatMessage {
            id,
            user_id: 1,
            name: "A".into(),
            room,
            text: format!("m{id}"),
            at: now,
        };
        let mut stored: Vec<ChatMessage> = (1..=250).map(|i| msg(i, 0)).collect();
        stored.push(msg(251, 1));
        let r = LiveRoom::new(1, now, LiveSettings::default(), stored, vec![]);
        let main: Vec<u64> = r
            .chat
            .iter()
            .filter(|m| m.room == 0)
            .map(|m| m.id)
            .collect();
        assert_eq!(main.len(), CHAT_HISTORY);
        assert_eq!(
            (main[0], *main.last().unwrap()),
            (51, 250),
            "the newest, in order"
        );
        assert!(r.chat.iter().any(|m| m.id == 251));
        let mut r = r;
        r.join(7, "B", None, false, now).unwrap();
        let ev = r.chat(7, "next", now).unwrap();
        assert!(
            matches!(&ev[0], LiveEvent::Chat(m) if m.id == 252),
            "ids continue after a restart"
        );
    }

    #[test]
    fn hosts_message_every_room() {
        let (mut r, now) = room();
        r.open_breakouts(
            1,
            &[("A".into(), vec![10]), ("B".into(), vec![11])],
            None,
            now,
        )
        .unwrap();
        assert_eq!(r.broadcast(10, "hi", now).unwrap_err().code(), "host_only");
        let ev = r.broadcast(1, "Five minutes left, wrap up!", now).unwrap();
        assert_eq!(ev.len(), 3);
        for who in [10, 11, 12] {
            assert!(
                r.chat_for(who)
                    .iter()
                    .any(|m| m.text == "Five minutes left, wrap up!")
            );
        }
    }
}
