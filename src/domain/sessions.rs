//! Sessions: roles and capacities, the status function of (session, now),
//! admin transitions, validation of what organisers type, and the run of show.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{DomainError, ErrorKind};

/// The four roles of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Host,
    Presenter,
    Interviewer,
    Guest,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Host, Role::Presenter, Role::Interviewer, Role::Guest];

    pub fn parse(s: &str) -> Result<Role, DomainError> {
        Ok(match s {
            "host" => Role::Host,
            "presenter" => Role::Presenter,
            "interviewer" => Role::Interviewer,
            "guest" => Role::Guest,
            _ => {
                return Err(DomainError::field(
                    "invalid_role",
                    "role",
                    format!("`{s}` is not a role; choose host, presenter, interviewer or guest."),
                ));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Host => "host",
            Role::Presenter => "presenter",
            Role::Interviewer => "interviewer",
            Role::Guest => "guest",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Host => "Host",
            Role::Presenter => "Presenter",
            Role::Interviewer => "Interviewer",
            Role::Guest => "Guest",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A number per role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerRole {
    pub host: u32,
    pub presenter: u32,
    pub interviewer: u32,
    pub guest: u32,
}

impl PerRole {
    pub fn get(&self, r: Role) -> u32 {
        match r {
            Role::Host => self.host,
            Role::Presenter => self.presenter,
            Role::Interviewer => self.interviewer,
            Role::Guest => self.guest,
        }
    }

    pub fn get_mut(&mut self, r: Role) -> &mut u32 {
        match r {
            Role::Host => &mut self.host,
            Role::Presenter => &mut self.presenter,
            Role::Interviewer => &mut self.interviewer,
            Role::Guest => &mut self.guest,
        }
    }

    pub fn total(&self) -> u32 {
        self.host + self.presenter + self.interviewer + self.guest
    }
}

pub const DEFAULT_CAPACITY: PerRole = PerRole {
    host: 1,
    presenter: 3,
    interviewer: 1,
    guest: 5,
};
/// A live room holds at most this many people.
pub const MAX_PARTICIPANTS: u32 = 50;

/// What an admin has decided about a session (the rest of the status follows
/// from the clock, the live room and the registrations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Draft,
    Published,
    /// Registration closed by an admin.
    Closed,
    Cancelled,
}

/// The status people see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    Open,
    Full,
    Closed,
    InProgress,
    Completed,
    Cancelled,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Draft => "Draft",
            Status::Open => "Open",
            Status::Full => "Full",
            Status::Closed => "Closed",
            Status::InProgress => "In Progress",
            Status::Completed => "Completed",
            Status::Cancelled => "Cancelled",
        }
    }
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: u64,
    pub title: String,
    pub description: String,
    pub starts_at: Timestamp,
    pub time_zone: String,
    pub duration_minutes: u32,
    pub talk_minutes: u32,
    pub qa_minutes: u32,
    /// `None`: the built-in live room.
    pub meeting_url: Option<String>,
    pub meeting_password: Option<String>,
    pub capacity: PerRole,
    pub phase: Phase,
    /// Set when a host starts the live session.
    #[serde(default)]
    pub live_started_at: Option<Timestamp>,
    /// Set when a host ends the live session.
    #[serde(default)]
    pub live_ended_at: Option<Timestamp>,
    pub created_by: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Bumped on every change people are told about (the ICS SEQUENCE).
    pub sequence: u32,
    /// Set for a session of a career-fair event (`None` for community ones).
    #[serde(default)]
    pub event: Option<super::events::EventLink>,
}

/// Start times are accepted from 2000-01-01 up to (not including)
/// 2101-01-01 UTC: far enough for any real plan, and far from the edge of
/// what timestamps can hold, so `starts_at + duration + grace` and calendar
/// arithmetic never overflow.
pub const EARLIEST_START: Timestamp = Timestamp::constant(946_684_800, 0);
pub const LATEST_START: Timestamp = Timestamp::constant(4_133_980_800, 0);

/// How long after its scheduled end a session counts as Completed.
pub const COMPLETION_GRACE: SignedDuration = SignedDuration::from_mins(30);

impl Session {
    /// The scheduled end. Saturates instead of overflowing, so a session
    /// stored before dates were bounded (e.g. in year 9999) cannot panic.
    pub fn ends_at(&self) -> Timestamp {
        self.starts_at
            .saturating_add(SignedDuration::from_mins(i64::from(self.duration_minutes)))
            .expect("a SignedDuration always saturates")
    }

    /// When the session counts as Completed without a host ending it.
    pub fn completes_at(&self) -> Timestamp {
        self.ends_at()
            .saturating_add(COMPLETION_GRACE)
            .expect("a SignedDuration always saturates")
    }

    /// How long before its start hosts may start the live room: the event's
    /// start lead for an event session, else the server-wide `default`. The
    /// one owner of this number (session view, live room gate, live view).
    pub fn start_lead(&self, default: SignedDuration) -> SignedDuration {
        self.event.as_ref().map_or(default, |e| {
            SignedDuration::from_mins(i64::from(e.start_lead_minutes))
        })
    }

    /// The one status function: everything people see follows from the
    /// session, how many places are taken (registrations plus open waitlist
    /// offers) and `now`.
    pub fn status(&self, taken: &PerRole, now: Timestamp) -> Status {
        match self.phase {
            Phase::Cancelled => return Status::Cancelled,
            Phase::Draft => return Status::Draft,
            Phase::Published | Phase::Closed => {}
        }
        if self.live_ended_at.is_some() || now >= self.completes_at() {
            return Status::Completed;
        }
        if self.live_started_at.is_some() || now >= self.starts_at {
            return Status::InProgress;
        }
        if self.phase == Phase::Closed {
            return Status::Closed;
        }
        let full = Role::ALL
            .iter()
            .all(|&r| taken.get(r) >= self.capacity.get(r));
        if full { Status::Full } else { Status::Open }
    }

    /// Whether new registrations are accepted (Open or Full: Full offers the waitlist).
    pub fn accepts_registrations(
        &self,
        taken: &PerRole,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        match self.status(taken, now) {
            Status::Open | Status::Full => Ok(()),
            s => Err(DomainError::conflict(
                "session_not_open",
                format!(
                    "This session is not open for registration (it is {}).",
                    s.label().to_lowercase()
                ),
            )),
        }
    }
}

impl Session {
    /// Whether members may still give up their place (and so free it for
    /// the waitlist): until the session starts. Once it is under way, over
    /// or cancelled, a freed place would only mail offers nobody can use.
    pub fn allows_cancellation(&self, taken: &PerRole, now: Timestamp) -> Result<(), DomainError> {
        match self.status(taken, now) {
            Status::Draft | Status::Open | Status::Full | Status::Closed => Ok(()),
            s => Err(DomainError::conflict(
                "too_late_to_cancel",
                format!(
                    "This session is {}, so registrations can no longer be cancelled.",
                    s.label().to_lowercase()
                ),
            )),
        }
    }
}

/// Admin actions on a session's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Publish,
    Close,
    Reopen,
    Cancel,
}

impl Transition {
    pub fn parse(s: &str) -> Option<Transition> {
        Some(match s {
            "publish" => Transition::Publish,
            "close" => Transition::Close,
            "reopen" => Transition::Reopen,
            "cancel" => Transition::Cancel,
            _ => return None,
        })
    }
}

/// Checks an admin transition against the current status; returns the new phase.
pub fn transition(
    session: &Session,
    taken: &PerRole,
    t: Transition,
    now: Timestamp,
) -> Result<Phase, DomainError> {
    let status = session.status(taken, now);
    let refuse = |what: &str| {
        Err(DomainError::conflict(
            "invalid_transition",
            format!(
                "A session that is {} cannot be {what}.",
                status.label().to_lowercase()
            ),
        ))
    };
    match t {
        Transition::Publish => match status {
            Status::Draft if session.starts_at > now => Ok(Phase::Published),
            Status::Draft => Err(DomainError::conflict(
                "invalid_transition",
                "This session's start time has passed; change it before publishing.",
            )),
            _ => refuse("published"),
        },
        Transition::Close => match status {
            Status::Open | Status::Full => Ok(Phase::Closed),
            _ => refuse("closed"),
        },
        Transition::Reopen => match status {
            Status::Closed => Ok(Phase::Published),
            _ => refuse("reopened"),
        },
        Transition::Cancel => match status {
            Status::Completed | Status::Cancelled => refuse("cancelled"),
            _ => Ok(Phase::Cancelled),
        },
    }
}

/// What an organiser typed, before checking.
#[derive(Debug, Clone, Default)]
pub struct SessionInput {
    pub title: Option<String>,
    pub description: Option<String>,
    pub starts_at: Option<String>,
    pub time_zone: Option<String>,
    pub duration_minutes: Option<u32>,
    pub talk_minutes: Option<u32>,
    pub qa_minutes: Option<u32>,
    /// `Some(None)` or `Some(Some(""))` clears it (back to the live room).
    pub meeting_url: Option<Option<String>>,
    pub meeting_password: Option<Option<String>>,
    pub capacity: Option<PerRole>,
}

/// Applies `input` to `s` (a new session's defaults or an existing one),
/// checking every field. `now` refuses start times in the past.
pub fn apply_input(
    s: &mut Session,
    input: SessionInput,
    now: Timestamp,
) -> Result<(), DomainError> {
    if let Some(t) = input.title {
        let t = t.trim();
        if t.is_empty()
            || t.chars().count() > 120
            || t.chars()
                .any(|c| c.is_control() || super::is_bidi_control(c))
        {
            return Err(DomainError::field(
                "invalid_title",
                "title",
                "The title must be 1 to 120 characters on one line, without direction overrides.",
            ));
        }
        s.title = t.to_owned();
    }
    if let Some(d) = input.description {
        let d = d.trim().replace("\r\n", "\n");
        if d.chars().count() > 5000 {
            return Err(DomainError::field(
                "invalid_description",
                "description",
                "The description can be at most 5000 characters.",
            ));
        }
        s.description = d;
    }
    if let Some(z) = input.time_zone {
        if jiff::tz::TimeZone::get(&z).is_err() {
            return Err(DomainError::field(
                "invalid_time_zone",
                "time_zone",
                format!("`{z}` is not an IANA time zone name such as Europe/Berlin."),
            ));
        }
        s.time_zone = z;
    }
    if let Some(t) = input.starts_at {
        let ts: Timestamp = t.parse().map_err(|_| {
            DomainError::field(
                "invalid_time",
                "starts_at",
                "The start time must be an RFC 3339 time such as 2026-12-01T17:00:00Z.",
            )
        })?;
        if ts <= now {
            return Err(DomainError::field(
                "invalid_time",
                "starts_at",
                "The start time must be in the future.",
            ));
        }
        if !(EARLIEST_START..LATEST_START).contains(&ts) {
            return Err(DomainError::field(
                "invalid_time",
                "starts_at",
                "The start time must be between the years 2000 and 2100.",
            ));
        }
        // Whole seconds: calendars (ICS) carry no fractions.
        s.starts_at = Timestamp::from_second(ts.as_second()).expect("in range");
    }
    if let Some(d) = input.duration_minutes {
        if !(15..=480).contains(&d) {
            return Err(DomainError::field(
                "invalid_duration",
                "duration_minutes",
                "The duration must be between 15 and 480 minutes.",
            ));
        }
        s.duration_minutes = d;
    }
    for (v, slot, field) in [
        (input.talk_minutes, &mut s.talk_minutes, "talk_minutes"),
        (input.qa_minutes, &mut s.qa_minutes, "qa_minutes"),
    ] {
        if let Some(v) = v {
            if v > 120 {
                return Err(DomainError::field(
                    "invalid_talk_length",
                    field,
                    "Talk and Q&A lengths must be between 0 and 120 minutes.",
                ));
            }
            *slot = v;
        }
    }
    if let Some(url) = input.meeting_url {
        let url = url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
        if let Some(u) = &url {
            let ok = u.len() <= 500
                && u.strip_prefix("https://")
                    .or_else(|| u.strip_prefix("http://"))
                    .is_some_and(|r| {
                        let host = r.split(['/', '?', '#']).next().unwrap_or("");
                        !host.is_empty()
                    })
                && !u.chars().any(|c| c.is_whitespace() || c.is_control());
            if !ok {
                return Err(DomainError::field(
                    "invalid_meeting_url",
                    "meeting_url",
                    "The meeting link must be a web address starting with https://.",
                ));
            }
        }
        s.meeting_url = url;
    }
    if let Some(pw) = input.meeting_password {
        let pw = pw.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
        if pw.as_ref().is_some_and(|p| p.chars().count() > 100) {
            return Err(DomainError::field(
                "invalid_meeting_url",
                "meeting_password",
                "The meeting password can be at most 100 characters.",
            ));
        }
        s.meeting_password = pw;
    }
    if s.meeting_url.is_none() {
        s.meeting_password = None;
    }
    if let Some(c) = input.capacity {
        let ok = (1..=5).contains(&c.host)
            && c.presenter <= 20
            && c.interviewer <= 1
            && c.guest <= MAX_PARTICIPANTS
            && c.total() <= MAX_PARTICIPANTS;
        if !ok {
            return Err(DomainError::field(
                "invalid_capacity",
                "capacity",
                format!(
                    "Capacities: host 1–5, presenters 0–20, interviewer 0 or 1, guests 0–50, and at most {MAX_PARTICIPANTS} people in all."
                ),
            ));
        }
        s.capacity = c;
    }
    Ok(())
}

/// A fresh draft with the defaults, before the organiser's input is applied.
pub fn new_draft(created_by: u64, time_zone: &str, now: Timestamp) -> Session {
    Session {
        id: 0,
        title: String::new(),
        description: String::new(),
        starts_at: now,
        time_zone: time_zone.to_owned(),
        duration_minutes: 45,
        talk_minutes: 10,
        qa_minutes: 5,
        meeting_url: None,
        meeting_password: None,
        capacity: DEFAULT_CAPACITY,
        phase: Phase::Draft,
        live_started_at: None,
        live_ended_at: None,
        created_by,
        created_at: now,
        updated_at: now,
        sequence: 0,
        event: None,
    }
}

/// One line of the run of show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgendaItem {
    pub kind: &'static str,
    pub title: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub presenter_user_id: Option<u64>,
}

/// A presenter as the run of show needs them, in presenter order.
#[derive(Debug, Clone)]
pub struct PresenterSlot {
    pub user_id: u64,
    pub name: String,
    pub talk_title: Option<String>,
}

const OPENING_MIN: i64 = 5;
const WRAP_UP_MIN: i64 = 5;

/// Host opens, each presenter's talk then Q&A, open discussion with what is
/// left, host wraps up. When talks overrun the session, the discussion is
/// dropped and the wrap-up moves past the scheduled end (the page shows it).
pub fn run_of_show(s: &Session, presenters: &[PresenterSlot]) -> Vec<AgendaItem> {
    let mut items = Vec::with_capacity(presenters.len() * 2 + 3);
    let mut t = s.starts_at;
    let mut push = |kind, title: String, mins: i64, who: Option<u64>, t: &mut Timestamp| {
        let end = t
            .saturating_add(SignedDuration::from_mins(mins))
            .expect("a SignedDuration always saturates");
        items.push(AgendaItem {
            kind,
            title,
            starts_at: *t,
            ends_at: end,
            presenter_user_id: who,
        });
        *t = end;
    };
    push(
        "opening",
        "Host opens the session".into(),
        OPENING_MIN,
        None,
        &mut t,
    );
    for p in presenters {
        let title = match &p.talk_title {
            Some(tt) if !tt.is_empty() => format!("Talk: {tt} — {}", p.name),
            _ => format!("Talk by {}", p.name),
        };
        push(
            "talk",
            title,
            i64::from(s.talk_minutes),
            Some(p.user_id),
            &mut t,
        );
        if s.qa_minutes > 0 {
            push(
                "qa",
                format!("Q&A with {}", p.name),
                i64::from(s.qa_minutes),
                Some(p.user_id),
                &mut t,
            );
        }
    }
    let wrap_start = s
        .ends_at()
        .saturating_sub(SignedDuration::from_mins(WRAP_UP_MIN))
        .expect("a SignedDuration always saturates");
    let left = wrap_start.duration_since(t).as_mins();
    if left > 0 {
        push("discussion", "Open discussion".into(), left, None, &mut t);
    }
    push("wrap_up", "Host wraps up".into(), WRAP_UP_MIN, None, &mut t);
    items
}

/// Why a member may not take a role (premium rules), or `None`.
pub fn premium_block(
    role: Role,
    is_premium: bool,
    premium_for_presenting: bool,
    premium_for_hosting: bool,
) -> Option<DomainError> {
    if is_premium {
        return None;
    }
    let needs = match role {
        Role::Presenter | Role::Interviewer => premium_for_presenting,
        Role::Host => premium_for_hosting,
        Role::Guest => false,
    };
    needs.then(|| {
        DomainError::new(
            ErrorKind::Forbidden,
            "premium_required",
            format!(
                "Registering as {} needs a premium membership in this community. Ask an admin about membership.",
                role.label().to_lowercase()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn session(start: &str) -> Session {
        let mut s = new_draft(1, "Europe/Berlin", ts("2026-01-01T00:00:00Z"));
        s.title = "T".into();
        s.starts_at = ts(start);
        s
    }

    const NONE: PerRole = PerRole {
        host: 0,
        presenter: 0,
        interviewer: 0,
        guest: 0,
    };

    #[test]
    fn status_follows_phase_capacity_and_clock() {
        let mut s = session("2026-12-01T17:00:00Z");
        let before = ts("2026-12-01T10:00:00Z");
        assert_eq!(s.status(&NONE, before), Status::Draft);
        s.phase = Phase::Published;
        assert_eq!(s.status(&NONE, before), Status::Open);
        assert_eq!(s.status(&DEFAULT_CAPACITY, before), Status::Full);
        let mut almost = DEFAULT_CAPACITY;
        almost.guest -= 1;
        assert_eq!(s.status(&almost, before), Status::Open);
        s.phase = Phase::Closed;
        assert_eq!(s.status(&NONE, before), Status::Closed);
        // The clock: in progress from the start, completed after end + grace.
        let table = [
            ("2026-12-01T16:59:59Z", Status::Closed),
            ("2026-12-01T17:00:00Z", Status::InProgress),
            ("2026-12-01T18:14:59Z", Status::InProgress),
            ("2026-12-01T18:15:00Z", Status::Completed),
        ];
        for (at, want) in table {
            assert_eq!(s.status(&NONE, ts(at)), want, "at {at}");
        }
        s.live_started_at = Some(ts("2026-12-01T16:50:00Z"));
        assert_eq!(
            s.status(&NONE, ts("2026-12-01T16:55:00Z")),
            Status::InProgress
        );
        s.live_ended_at = Some(ts("2026-12-01T17:30:00Z"));
        assert_eq!(
            s.status(&NONE, ts("2026-12-01T17:31:00Z")),
            Status::Completed
        );
        s.phase = Phase::Cancelled;
        assert_eq!(s.status(&NONE, before), Status::Cancelled);
    }

    #[test]
    fn cancellation_is_allowed_until_the_start() {
        let mut s = session("2026-12-01T17:00:00Z");
        s.phase = Phase::Published;
        let table = [
            ("2026-12-01T16:59:59Z", None),
            ("2026-12-01T17:00:00Z", Some("too_late_to_cancel")),
            ("2026-12-01T18:15:00Z", Some("too_late_to_cancel")),
        ];
        for (at, want) in table {
            let got = s.allows_cancellation(&NONE, ts(at)).err().map(|e| e.code);
            assert_eq!(got, want, "at {at}");
        }
        s.phase = Phase::Closed;
        assert!(
            s.allows_cancellation(&NONE, ts("2026-12-01T10:00:00Z"))
                .is_ok()
        );
        s.live_started_at = Some(ts("2026-12-01T16:50:00Z"));
        assert!(
            s.allows_cancellation(&NONE, ts("2026-12-01T16:55:00Z"))
                .is_err()
        );
        s.live_started_at = None;
        s.phase = Phase::Cancelled;
        assert!(
            s.allows_cancellation(&NONE, ts("2026-12-01T10:00:00Z"))
                .is_err()
        );
    }

    #[test]
    fn transitions_table() {
        use Transition::*;
        let now = ts("2026-11-30T12:00:00Z");
        let cases: &[(Phase, &PerRole, Transition, Result<Phase, &str>)] = &[
            (Phase::Draft, &NONE, Publish, Ok(Phase::Published)),
            (Phase::Draft, &NONE, Close, Err("invalid_transition")),
            (Phase::Draft, &NONE, Cancel, Ok(Phase::Cancelled)),
            (Phase::Published, &NONE, Publish, Err("invalid_transition")),
            (Phase::Published, &NONE, Close, Ok(Phase::Closed)),
            (
                Phase::Published,
                &DEFAULT_CAPACITY,
                Close,
                Ok(Phase::Closed),
            ),
            (Phase::Published, &NONE, Reopen, Err("invalid_transition")),
            (Phase::Closed, &NONE, Reopen, Ok(Phase::Published)),
            (Phase::Closed, &NONE, Cancel, Ok(Phase::Cancelled)),
            (Phase::Cancelled, &NONE, Reopen, Err("invalid_transition")),
            (Phase::Cancelled, &NONE, Cancel, Err("invalid_transition")),
            (Phase::Cancelled, &NONE, Publish, Err("invalid_transition")),
        ];
        for (phase, taken, t, want) in cases {
            let mut s = session("2026-12-01T17:00:00Z");
            s.phase = *phase;
            let got = transition(&s, taken, *t, now).map_err(|e| e.code);
            assert_eq!(got, *want, "{phase:?} {t:?}");
        }
        // After the session, nothing but looking at it.
        let mut s = session("2026-12-01T17:00:00Z");
        s.phase = Phase::Published;
        let later = ts("2026-12-02T00:00:00Z");
        assert!(transition(&s, &NONE, Cancel, later).is_err());
        assert!(transition(&s, &NONE, Close, later).is_err());
        let mut d = session("2026-11-01T17:00:00Z");
        d.phase = Phase::Draft;
        assert_eq!(
            transition(&d, &NONE, Publish, now).unwrap_err().code,
            "invalid_transition"
        );
    }

    /// Europe/Berlin leaves summer time at 01:00 UTC on 2026-10-25. A
    /// session at 02:30 local time on that night is stored in UTC, so the
    /// status flips exactly at its UTC start whatever the wall clock did.
    #[test]
    fn status_across_a_daylight_saving_change() {
        let zone = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        // 02:30 happens twice that night; pick the later one (CET, UTC+1).
        let local = jiff::civil::datetime(2026, 10, 25, 2, 30, 0, 0);
        let start = zone.to_ambiguous_timestamp(local).later().unwrap();
        assert_eq!(start, ts("2026-10-25T01:30:00Z"));
        let mut s = session("2026-10-25T01:30:00Z");
        s.phase = Phase::Published;
        let clock = ManualClock::new(ts("2026-10-25T00:29:00Z")); // 02:29 CEST, the first 02:29
        assert_eq!(s.status(&NONE, clock.now()), Status::Open);
        clock.advance(SignedDuration::from_mins(60)); // 02:29 CET, the second one
        assert_eq!(s.status(&NONE, clock.now()), Status::Open);
        clock.advance(SignedDuration::from_mins(1));
        assert_eq!(s.status(&NONE, clock.now()), Status::InProgress);
        // 45 minutes + 30 grace later, by the UTC clock.
        clock.advance(SignedDuration::from_mins(75) - SignedDuration::from_secs(1));
        assert_eq!(s.status(&NONE, clock.now()), Status::InProgress);
        clock.advance(SignedDuration::from_secs(1));
        assert_eq!(s.status(&NONE, clock.now()), Status::Completed);
    }

    #[test]
    fn dates_at_the_edge_of_time_never_panic() {
        // A session stored before start times were bounded.
        let mut s = session("9999-12-30T20:00:00Z");
        s.phase = Phase::Published;
        s.duration_minutes = 480;
        // Saturated at the largest timestamp (its whole seconds).
        let edge = ts("9999-12-30T22:00:00Z");
        assert_eq!(s.ends_at().as_second(), edge.as_second());
        assert_eq!(s.completes_at().as_second(), edge.as_second());
        assert_eq!(s.status(&NONE, ts("2026-11-22T12:00:00Z")), Status::Open);
        let items = run_of_show(&s, &[]);
        assert_eq!(items.last().unwrap().ends_at.as_second(), edge.as_second());
        // New ones are refused at the edge, in every zone.
        let now = ts("2026-11-22T12:00:00Z");
        for (t, ok) in [
            ("9999-12-30T00:00:00Z", false),
            ("2101-01-01T00:00:00Z", false),
            ("2100-12-31T23:59:59Z", true),
        ] {
            let mut s = session("2026-12-01T17:00:00Z");
            let input = SessionInput {
                starts_at: Some(t.into()),
                time_zone: Some("Pacific/Kiritimati".into()),
                duration_minutes: Some(480),
                ..Default::default()
            };
            match apply_input(&mut s, input, now) {
                Ok(()) => assert!(ok, "{t} accepted"),
                Err(e) => {
                    assert!(!ok, "{t} refused: {e}");
                    assert_eq!(
                        (e.code, e.field.as_deref()),
                        ("invalid_time", Some("starts_at"))
                    );
                }
            }
        }
    }

    #[test]
    fn input_validation_table() {
        let now = ts("2026-11-22T12:00:00Z");
        let cases: Vec<(SessionInput, &str)> = vec![
            (
                SessionInput {
                    title: Some("  ".into()),
                    ..Default::default()
                },
                "invalid_title",
            ),
            (
                SessionInput {
                    title: Some("x".repeat(121)),
                    ..Default::default()
                },
                "invalid_title",
            ),
            (
                SessionInput {
                    title: Some("Rust \u{202E}noitcudorp ni".into()),
                    ..Default::default()
                },
                "invalid_title",
            ),
            (
                SessionInput {
                    description: Some("d".repeat(5001)),
                    ..Default::default()
                },
                "invalid_description",
            ),
            (
                SessionInput {
                    starts_at: Some("tomorrow".into()),
                    ..Default::default()
                },
                "invalid_time",
            ),
            (
                SessionInput {
                    starts_at: Some("2026-11-22T11:00:00Z".into()),
                    ..Default::default()
                },
                "invalid_time",
            ),
            (
                SessionInput {
                    time_zone: Some("Mars/Base".into()),
                    ..Default::default()
                },
                "invalid_time_zone",
            ),
            (
                SessionInput {
                    duration_minutes: Some(5),
                    ..Default::default()
                },
                "invalid_duration",
            ),
            (
                SessionInput {
                    talk_minutes: Some(500),
                    ..Default::default()
                },
                "invalid_talk_length",
            ),
            (
                SessionInput {
                    meeting_url: Some(Some("javascript:x".into())),
                    ..Default::default()
                },
                "invalid_meeting_url",
            ),
            (
                SessionInput {
                    capacity: Some(PerRole {
                        host: 0,
                        ..DEFAULT_CAPACITY
                    }),
                    ..Default::default()
                },
                "invalid_capacity",
            ),
            (
                SessionInput {
                    capacity: Some(PerRole {
                        interviewer: 2,
                        ..DEFAULT_CAPACITY
                    }),
                    ..Default::default()
                },
                "invalid_capacity",
            ),
            (
                SessionInput {
                    capacity: Some(PerRole {
                        host: 5,
                        presenter: 20,
                        interviewer: 1,
                        guest: 30,
                    }),
                    ..Default::default()
                },
                "invalid_capacity",
            ),
        ];
        for (input, code) in cases {
            let mut s = session("2026-12-01T17:00:00Z");
            let before = s.clone();
            let e = apply_input(&mut s, input, now).unwrap_err();
            assert_eq!(e.code, code);
            assert!(e.field.is_some());
            let _ = before;
        }
        let mut s = session("2026-12-01T17:00:00Z");
        apply_input(
            &mut s,
            SessionInput {
                title: Some(" Rust ".into()),
                meeting_url: Some(Some("https://meet.example/x".into())),
                meeting_password: Some(Some("1234".into())),
                ..Default::default()
            },
            now,
        )
        .unwrap();
        assert_eq!(s.title, "Rust");
        assert_eq!(s.meeting_password.as_deref(), Some("1234"));
        apply_input(
            &mut s,
            SessionInput {
                meeting_url: Some(None),
                ..Default::default()
            },
            now,
        )
        .unwrap();
        assert_eq!(s.meeting_password, None, "the live room has no password");
    }

    #[test]
    fn run_of_show_plans_talks_discussion_and_wrap_up() {
        let mut s = session("2026-12-01T17:00:00Z");
        s.duration_minutes = 60;
        let p = |id, name: &str, t: Option<&str>| PresenterSlot {
            user_id: id,
            name: name.into(),
            talk_title: t.map(Into::into),
        };
        let items = run_of_show(&s, &[p(3, "Grace", Some("COBOL")), p(4, "Alan", None)]);
        let kinds: Vec<_> = items.iter().map(|i| i.kind).collect();
        assert_eq!(
            kinds,
            [
                "opening",
                "talk",
                "qa",
                "talk",
                "qa",
                "discussion",
                "wrap_up"
            ]
        );
        assert_eq!(items[1].title, "Talk: COBOL — Grace");
        assert_eq!(items[1].starts_at, ts("2026-12-01T17:05:00Z"));
        assert_eq!(items[4].ends_at, ts("2026-12-01T17:35:00Z"));
        assert_eq!(items[5].ends_at, ts("2026-12-01T17:55:00Z"));
        assert_eq!(items[6].ends_at, s.ends_at());
        // Four presenters overrun a 45-minute session: no discussion.
        s.duration_minutes = 45;
        let four: Vec<_> = (0..4).map(|i| p(i, "P", None)).collect();
        let items = run_of_show(&s, &four);
        assert!(!items.iter().any(|i| i.kind == "discussion"));
        assert!(items.last().unwrap().ends_at > s.ends_at());
    }

    #[test]
    fn premium_rules() {
        assert!(premium_block(Role::Presenter, false, true, false).is_some());
        assert!(premium_block(Role::Interviewer, false, true, false).is_some());
        assert!(premium_block(Role::Host, false, true, false).is_none());
        assert!(premium_block(Role::Host, false, false, true).is_some());
        assert!(premium_block(Role::Guest, false, true, true).is_none());
        assert!(premium_block(Role::Presenter, true, true, true).is_none());
    }
}
