//! The live room as one person sees it ([`LiveView`], the `Live` object of
//! docs/api-live.md). It carries every flag, limit and derived fact the page
//! needs (am I a speaker, may I publish, which chat I read, who is on the
//! stage I see), so the page renders it and derives nothing the server decides.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Serialize;

use super::{
    BREAKOUT_MINUTES_MAX, BREAKOUT_NAME_MAX, CHAT_MAX, ChatMessage, LiveRoom, LiveSettings,
    MAIN_ROOM, MAX_BREAKOUTS, Person, QUESTION_MAX, Question, RequestKind, check_start,
};
use crate::domain::sessions::{AgendaItem, Role, Session};

/// Who is looking, with their powers as of now.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user_id: u64,
    pub name: String,
    /// The registered role now (none for walk-ins).
    pub registered: Option<Role>,
    /// Admin, or registered as host, now.
    pub is_host: bool,
}

impl Viewer {
    /// Whether this person speaks (hosts, presenters, the interviewer).
    pub fn is_speaker(&self) -> bool {
        self.is_host
            || matches!(
                self.registered,
                Some(Role::Host | Role::Presenter | Role::Interviewer)
            )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Waiting,
    Live,
    Ended,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionBrief {
    pub id: u64,
    pub title: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub time_zone: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MyRequest {
    pub kind: &'static str,
    pub camera: bool,
    pub mic: bool,
    pub position: usize,
    pub requested_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct Me {
    pub user_id: u64,
    pub name: String,
    pub role: Option<&'static str>,
    pub is_host: bool,
    /// Hosts, presenters and the interviewer: they may take the stage themselves.
    pub is_speaker: bool,
    pub in_room: bool,
    pub room: u32,
    /// The room whose chat I read and write (my room).
    pub chat_room: u32,
    pub on_stage: bool,
    /// Whether the media engine lets me publish (on stage in my room).
    pub may_publish: bool,
    pub camera: bool,
    pub mic: bool,
    /// A host muted me: my microphone stays off until a host allows it.
    pub mic_locked: bool,
    /// A host moved me off stage: I come back through a request.
    pub stage_locked: bool,
    pub hand_raised: bool,
    pub request: Option<MyRequest>,
    pub countdown_ends_at: Option<Timestamp>,
    /// Joining (or rejoining) puts me on stage: I am a speaker and a place is free.
    pub joins_on_stage: bool,
    pub can_start: bool,
    pub can_moderate: bool,
    pub can_answer: bool,
    /// I may ask to come on stage now.
    pub can_request_stage: bool,
    /// I may step back on stage by myself now ("Back on stage").
    pub can_take_stage: bool,
    /// I may put a presentation on the main stage or take one over.
    pub can_present: bool,
    /// I turn the pages of the presentation on stage.
    pub presenting: bool,
    /// I may put a video on the main stage (and upload one) now.
    pub can_show_video: bool,
}

/// The video on the main stage (`LiveView::video`): where it is (`position_ms`
/// at the server time `at`, playing from there or paused).
#[derive(Debug, Clone, Serialize)]
pub struct VideoView {
    #[serde(flatten)]
    pub source: super::VideoSource,
    /// Where an uploaded video is served (range requests), or the
    /// YouTube embed's address on youtube-nocookie.com.
    pub src: String,
    pub by: u64,
    pub by_name: String,
    pub playing: bool,
    pub position_ms: u64,
    pub at: Timestamp,
    /// I may play, pause, seek and stop it.
    pub can_control: bool,
}

impl VideoView {
    fn of(v: &super::StageVideo, r: &LiveRoom, session_id: u64, viewer: &Viewer) -> Self {
        let src = match &v.source {
            super::VideoSource::Youtube { youtube_id } => {
                format!("https://www.youtube-nocookie.com/embed/{youtube_id}")
            }
            super::VideoSource::Upload { upload_id } => {
                format!("/api/sessions/{session_id}/videos/{upload_id}")
            }
        };
        let me = r.people.get(&viewer.user_id);
        VideoView {
            source: v.source.clone(),
            src,
            by: v.by,
            by_name: v.by_name.clone(),
            playing: v.playing,
            position_ms: v.position_ms,
            at: v.at,
            can_control: me.is_some_and(|p| p.may_present() && (v.by == p.user_id || p.is_host)),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonView {
    pub user_id: u64,
    pub name: String,
    pub role: &'static str,
    pub is_host: bool,
    pub is_speaker: bool,
    pub room: u32,
    pub on_stage: bool,
    pub camera: bool,
    pub mic: bool,
    pub hand_raised: bool,
    /// What their media really carries, as the media engine sees it (camera
    /// and mic above are what they switched on).
    pub sending: MediaSeen,
}

/// What someone's frames really carry (tracks whose frames arrive), as the
/// media engine reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MediaSeen {
    pub camera: bool,
    pub microphone: bool,
    pub screen: bool,
}

impl PersonView {
    fn of(p: &Person, seen: &HashMap<u64, MediaSeen>) -> Self {
        PersonView {
            user_id: p.user_id,
            name: p.name.clone(),
            role: p.role.as_str(),
            is_host: p.is_host,
            is_speaker: p.is_speaker(),
            room: p.room,
            on_stage: p.on_stage,
            camera: p.camera,
            mic: p.mic,
            hand_raised: p.hand_raised,
            sending: seen.get(&p.user_id).copied().unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueEntry {
    pub user_id: u64,
    pub name: String,
    pub kind: &'static str,
    pub camera: bool,
    pub mic: bool,
    pub requested_at: Timestamp,
    pub waited_seconds: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CountdownView {
    pub user_id: u64,
    pub ends_at: Timestamp,
    pub camera: bool,
    pub mic: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuestionView {
    pub id: u64,
    pub user_id: u64,
    pub name: String,
    pub text: String,
    pub at: Timestamp,
    pub votes: usize,
    pub voted: bool,
    pub mine: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Questions {
    pub open: Vec<QuestionView>,
    pub answered: Vec<QuestionView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreakoutView {
    pub id: u32,
    pub name: String,
    pub members: Vec<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Agenda {
    pub items: Vec<AgendaItem>,
    pub current: usize,
    pub current_started_at: Option<Timestamp>,
}

/// The room's configured limits, for forms and labels.
#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    pub stage_speakers: usize,
    pub stage_guests: usize,
    pub capacity: usize,
    pub countdown_seconds: u64,
    pub start_lead_minutes: i64,
    pub max_breakouts: usize,
    pub breakout_name_max: usize,
    pub breakout_minutes_max: u32,
    pub chat_max: usize,
    pub question_max: usize,
}

impl Limits {
    fn of(s: &LiveSettings, session: &Session) -> Self {
        Limits {
            stage_speakers: s.stage_speakers,
            stage_guests: s.stage_guests,
            capacity: s.capacity,
            countdown_seconds: s.countdown.as_secs().unsigned_abs(),
            start_lead_minutes: session.start_lead(s.start_lead).as_mins(),
            max_breakouts: MAX_BREAKOUTS,
            breakout_name_max: BREAKOUT_NAME_MAX,
            breakout_minutes_max: BREAKOUT_MINUTES_MAX,
            chat_max: CHAT_MAX,
            question_max: QUESTION_MAX,
        }
    }
}

/// The `Live` object of docs/api-live.md.
#[derive(Debug, Clone, Serialize)]
pub struct LiveView {
    pub status: Status,
    pub session: SessionBrief,
    pub start_opens_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub me: Me,
    pub people: Vec<PersonView>,
    /// Who is on the stage I see (my room), hosts first, then by arrival.
    pub stage: Vec<u64>,
    pub audience_count: usize,
    /// The stage queue; only hosts see it.
    pub queue: Vec<QueueEntry>,
    pub countdowns: Vec<CountdownView>,
    /// My room's chat (the last messages). `None` in event-stream states
    /// that follow one for the same room: new messages come as `chat` events.
    pub chat: Option<Vec<ChatMessage>>,
    pub questions: Questions,
    pub breakouts: Vec<BreakoutView>,
    pub breakouts_close_at: Option<Timestamp>,
    pub agenda: Agenda,
    pub active_speaker: Option<u64>,
    pub limits: Limits,
    pub now: Timestamp,
    /// The host company of an event session (the Company tab); `None` for
    /// community sessions. Filled in by the service from the stored company.
    pub company: Option<crate::domain::events::LiveCompany>,
    /// The session's materials; only for those who may present (speakers
    /// and people on stage), empty for others.
    pub materials: Vec<crate::domain::materials::MaterialView>,
    /// The presentation on the main stage (for those in the main room).
    pub presentation: Option<super::presentation::PresentationView>,
    /// The video on the main stage, for those in the main room.
    pub video: Option<VideoView>,
}

fn request_parts(kind: RequestKind) -> (&'static str, bool, bool) {
    match kind {
        RequestKind::Stage { camera, mic } => ("stage", camera, mic),
        RequestKind::Hand => ("hand", false, true),
    }
}

impl LiveView {
    /// The view of `viewer`; `room` is `None` before the start (or after a
    /// restart until the room is back). `settings` are the configured ones.
    pub fn build(
        room: Option<&LiveRoom>,
        session: &Session,
        agenda: Vec<AgendaItem>,
        viewer: &Viewer,
        now: Timestamp,
        settings: &LiveSettings,
        seen: &HashMap<u64, MediaSeen>,
    ) -> LiveView {
        let settings = room.map_or(settings, |r| &r.settings);
        let status = match room {
            Some(r) if r.ended_at.is_some() => Status::Ended,
            Some(_) => Status::Live,
            None if session.live_ended_at.is_some() => Status::Ended,
            None => Status::Waiting,
        };
        let me_person = room.and_then(|r| r.people.get(&viewer.user_id));
        let is_host = viewer.is_host;
        let my_room = me_person.map_or(MAIN_ROOM, |p| p.room);
        let on_stage = me_person.is_some_and(|p| p.on_stage);
        let live = status == Status::Live;

        let request = room.and_then(|r| {
            let i = r.queue.iter().position(|q| q.user_id == viewer.user_id)?;
            let q = &r.queue[i];
            let (kind, camera, mic) = request_parts(q.kind);
            Some(MyRequest {
                kind,
                camera,
                mic,
                position: i + 1,
                requested_at: q.requested_at,
            })
        });
        let countdown = room.and_then(|r| {
            r.countdowns
                .iter()
                .find(|c| c.user_id == viewer.user_id)
                .map(|c| c.ends_at)
        });
        let speakers_on_stage = room.map_or(0, |r| r.stage_counts(my_room).0);
        let speaker_place_free = speakers_on_stage < settings.stage_speakers;
        let is_speaker = me_person.map_or(viewer.is_speaker(), Person::is_speaker) || is_host;
        let stage_locked = me_person.is_some_and(|p| p.stage_locked);
        let me = Me {
            user_id: viewer.user_id,
            name: me_person.map_or_else(|| viewer.name.clone(), |p| p.name.clone()),
            role: me_person
                .map(|p| p.role)
                .or(viewer.registered)
                .map(Role::as_str),
            is_host,
            is_speaker,
            in_room: me_person.is_some(),
            room: my_room,
            chat_room: my_room,
            on_stage,
            may_publish: live && on_stage,
            camera: me_person.is_some_and(|p| p.camera),
            mic: me_person.is_some_and(|p| p.mic),
            mic_locked: me_person.is_some_and(|p| p.mic_locked),
            stage_locked,
            hand_raised: me_person.is_some_and(|p| p.hand_raised),
            joins_on_stage: live
                && match me_person {
                    Some(p) => p.on_stage,
                    None => is_speaker && speaker_place_free,
                },
            can_start: is_host
                && room.is_none()
                && check_start(session, now, session.start_lead(settings.start_lead)).is_ok(),
            can_moderate: is_host,
            can_answer: is_host || me_person.is_some_and(|p| p.role == Role::Interviewer),
            can_request_stage: live
                && me_person.is_some()
                && !on_stage
                && request.is_none()
                && countdown.is_none()
                && (!is_speaker || stage_locked),
            can_take_stage: live
                && me_person.is_some()
                && !on_stage
                && is_speaker
                && !stage_locked
                && speaker_place_free,
            can_present: live && room.is_some_and(|r| r.may_present(viewer.user_id)),
            presenting: live
                && room
                    .and_then(|r| r.presentation)
                    .is_some_and(|p| p.presenter == viewer.user_id && my_room == MAIN_ROOM),
            can_show_video: live && me_person.is_some_and(Person::may_present),
            request,
            countdown_ends_at: countdown,
        };
        let items_len = agenda.len();
        let session_brief = SessionBrief {
            id: session.id,
            title: session.title.clone(),
            starts_at: session.starts_at,
            ends_at: session.ends_at(),
            time_zone: session.time_zone.clone(),
        };
        let Some(r) = room else {
            return LiveView {
                status,
                session: session_brief,
                start_opens_at: session.starts_at - session.start_lead(settings.start_lead),
                started_at: session.live_started_at,
                me,
                people: Vec::new(),
                stage: Vec::new(),
                audience_count: 0,
                queue: Vec::new(),
                countdowns: Vec::new(),
                chat: Some(Vec::new()),
                questions: Questions::default(),
                breakouts: Vec::new(),
                breakouts_close_at: None,
                agenda: Agenda {
                    items: agenda,
                    current: 0,
                    current_started_at: None,
                },
                active_speaker: None,
                limits: Limits::of(settings, session),
                company: None,
                materials: Vec::new(),
                presentation: None,
                video: None,
                now,
            };
        };
        let mut on: Vec<&Person> = r
            .people
            .values()
            .filter(|p| p.on_stage && p.room == my_room)
            .collect();
        on.sort_by_key(|p| (!p.is_host, !p.is_speaker(), p.joined_at, p.user_id));
        let queue = if is_host {
            r.queue
                .iter()
                .map(|q| {
                    let (kind, camera, mic) = request_parts(q.kind);
                    QueueEntry {
                        user_id: q.user_id,
                        name: r
                            .people
                            .get(&q.user_id)
                            .map_or_else(String::new, |p| p.name.clone()),
                        kind,
                        camera,
                        mic,
                        requested_at: q.requested_at,
                        waited_seconds: now.duration_since(q.requested_at).as_secs().max(0),
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let question = |q: &Question| QuestionView {
            id: q.id,
            user_id: q.user_id,
            name: q.name.clone(),
            text: q.text.clone(),
            at: q.at,
            votes: q.voters.len(),
            voted: q.voters.contains(&viewer.user_id),
            mine: q.user_id == viewer.user_id,
        };
        let (open, answered) = r.ranked_questions();
        LiveView {
            status,
            session: session_brief,
            start_opens_at: session.starts_at - session.start_lead(settings.start_lead),
            started_at: Some(r.started_at),
            people: r.people.values().map(|p| PersonView::of(p, seen)).collect(),
            stage: on.iter().map(|p| p.user_id).collect(),
            audience_count: r.people.values().filter(|p| !p.on_stage).count(),
            queue,
            countdowns: r
                .countdowns
                .iter()
                .map(|c| CountdownView {
                    user_id: c.user_id,
                    ends_at: c.ends_at,
                    camera: c.camera,
                    mic: c.mic,
                })
                .collect(),
            chat: Some(r.chat_for(viewer.user_id).into_iter().cloned().collect()),
            questions: Questions {
                open: open.into_iter().map(question).collect(),
                answered: answered.into_iter().map(question).collect(),
            },
            breakouts: r
                .breakouts
                .iter()
                .map(|b| BreakoutView {
                    id: b.id,
                    name: b.name.clone(),
                    members: r
                        .people
                        .values()
                        .filter(|p| p.room == b.id)
                        .map(|p| p.user_id)
                        .collect(),
                })
                .collect(),
            breakouts_close_at: r.breakouts_close_at,
            agenda: Agenda {
                items: agenda,
                current: r.agenda_item.min(items_len.saturating_sub(1)),
                current_started_at: Some(r.agenda_item_started),
            },
            active_speaker: None,
            limits: Limits::of(settings, session),
            company: None,
            materials: r.materials_view(viewer.user_id),
            presentation: r.presentation_view(viewer.user_id, my_room),
            video: r
                .video
                .as_ref()
                .filter(|_| my_room == MAIN_ROOM)
                .map(|v| VideoView::of(v, r, session.id, viewer)),
            me,
            now,
        }
    }
}
