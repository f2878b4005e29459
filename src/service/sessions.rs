//! Session services: every session endpoint's rules and its one store
//! transaction (with its mails), as functions of the signed-in `User`, ids
//! and typed inputs that answer with typed views (`#[derive(Serialize)]`)
//! or a `StoreError` (`StoreError::Rule` for a broken rule). `http::sessions`
//! only parses, calls these and renders; the housekeeping task calls
//! `sweep_waitlists`. The views carry every fact the pages show about
//! capacity, registration and the live room, so the pages derive no rule.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::domain::roster::{Answers, Effect, Registered, Registration, Roster};
use crate::domain::sessions::{self as rules, PresenterSlot, Session};
use crate::domain::{DomainError, ErrorKind};
use crate::mail::{self, MailContext, MailKind};
use crate::store::{SessionCtx, StoreError, User};

pub use crate::domain::roster::ParticipantStatus;
pub use crate::domain::sessions::{AgendaItem, PerRole, Role, Status, Transition};

/* ------------------------------------------------------------- Inputs */

/// What an organiser sends to create or edit a session (every field optional
/// for an edit; `title` and `starts_at` required for a new one).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionForm {
    pub title: Option<String>,
    pub description: Option<String>,
    pub starts_at: Option<String>,
    pub time_zone: Option<String>,
    pub duration_minutes: Option<u32>,
    pub talk_minutes: Option<u32>,
    pub qa_minutes: Option<u32>,
    /// Absent: unchanged; `null` or `""`: back to the live room.
    #[serde(default, deserialize_with = "some")]
    pub meeting_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    pub meeting_password: Option<Option<String>>,
    pub capacity: Option<CapacityForm>,
    /// Event sessions only: workshop, presentation or coffee_chat.
    pub format: Option<String>,
}

/// Distinguishes "absent" (None) from "null" (Some(None)).
fn some<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityForm {
    /// A role left out keeps its current number (an event session sends
    /// only `guest`).
    pub host: Option<u32>,
    pub presenter: Option<u32>,
    pub interviewer: Option<u32>,
    pub guest: Option<u32>,
}

impl SessionForm {
    /// `partial`: roles may be left out (event sessions send only `guest`);
    /// community sessions send all four.
    fn into_input(
        self,
        current: PerRole,
        partial: bool,
    ) -> Result<rules::SessionInput, DomainError> {
        if let Some(c) = &self.capacity
            && !partial
            && [c.host, c.presenter, c.interviewer, c.guest]
                .iter()
                .any(Option::is_none)
        {
            return Err(DomainError::field(
                "invalid_json",
                "capacity",
                "The capacity needs host, presenter, interviewer and guest.",
            ));
        }
        Ok(self.into_input_unchecked(current))
    }

    fn into_input_unchecked(self, current: PerRole) -> rules::SessionInput {
        rules::SessionInput {
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
                host: c.host.unwrap_or(current.host),
                presenter: c.presenter.unwrap_or(current.presenter),
                interviewer: c.interviewer.unwrap_or(current.interviewer),
                guest: c.guest.unwrap_or(current.guest),
            }),
        }
    }
}

/// A member's registration request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterForm {
    /// Required for community sessions; event sessions take `guest` only
    /// (absent: guest, the one-click registration).
    pub role: Option<String>,
    /// The name shown to others; defaults to the profile name and updates it.
    pub name: Option<String>,
    pub talk_title: Option<String>,
    pub talk_description: Option<String>,
    pub topics: Option<String>,
}

/// An organiser's change to one participant.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipantChange {
    pub status: Option<String>,
    pub role: Option<String>,
}

/// Every current presenter, in the new talk order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresenterOrderForm {
    pub user_ids: Vec<u64>,
}

/// Which sessions a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListScope {
    /// Published sessions that have not ended, soonest first.
    Upcoming,
    /// Every session, drafts and past ones too, newest first (admins only).
    All,
}

/* -------------------------------------------------------------- Views */

/// A session as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub id: u64,
    pub title: String,
    pub description: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub time_zone: String,
    pub duration_minutes: u32,
    pub talk_minutes: u32,
    pub qa_minutes: u32,
    /// `"live"` (the built-in live room) or `"external"` (a meeting link).
    pub location: &'static str,
    /// Only to those who may see it (registered people and organisers).
    pub meeting_url: Option<String>,
    pub meeting_password: Option<String>,
    pub status: Status,
    /// New registrations (or waitlist places) are accepted: open or full.
    pub registration_open: bool,
    pub capacity: PerRole,
    /// Active registrations per role.
    pub filled: PerRole,
    /// People on each role's waitlist.
    pub waiting: PerRole,
    /// Places a newcomer can take now: capacity minus registrations minus
    /// places held for the waitlist (0 in a full role).
    pub open: PerRole,
    /// Places held for someone on the waitlist until their offer expires.
    pub held: PerRole,
    /// When a host started and ended the live room.
    pub live_started_at: Option<Timestamp>,
    pub live_ended_at: Option<Timestamp>,
    /// The live room is running now (started, not ended, session in progress).
    pub live_now: bool,
    /// The event and company of an event session; `None` for community ones.
    pub event: Option<SessionEvent>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The `event` block of an event session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionEvent {
    pub id: u64,
    pub name: String,
    pub company: SessionCompany,
    pub format: crate::domain::events::Format,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionCompany {
    pub id: u64,
    pub name: String,
    pub logo_url: Option<String>,
}

impl SessionView {
    pub(super) fn new(s: &Session, r: &Roster, now: Timestamp, show_meeting: bool) -> Self {
        let taken = r.taken(now);
        let filled = r.filled();
        let mut open = PerRole::default();
        let mut held = PerRole::default();
        for role in Role::ALL {
            *open.get_mut(role) = s.capacity.get(role).saturating_sub(taken.get(role));
            *held.get_mut(role) = taken.get(role).saturating_sub(filled.get(role));
        }
        let status = s.status(&taken, now);
        Self {
            id: s.id,
            title: s.title.clone(),
            description: s.description.clone(),
            starts_at: s.starts_at,
            ends_at: s.ends_at(),
            time_zone: s.time_zone.clone(),
            duration_minutes: s.duration_minutes,
            talk_minutes: s.talk_minutes,
            qa_minutes: s.qa_minutes,
            location: if s.meeting_url.is_some() {
                "external"
            } else {
                "live"
            },
            meeting_url: s.meeting_url.clone().filter(|_| show_meeting),
            meeting_password: s.meeting_password.clone().filter(|_| show_meeting),
            status,
            registration_open: s.accepts_registrations(&taken, now).is_ok(),
            capacity: s.capacity,
            filled,
            waiting: r.waiting_counts(),
            open,
            held,
            live_started_at: s.live_started_at,
            live_ended_at: s.live_ended_at,
            live_now: s.live_started_at.is_some()
                && s.live_ended_at.is_none()
                && status == Status::InProgress,
            event: s.event.as_ref().map(|e| SessionEvent {
                id: e.event_id,
                name: e.event_name.clone(),
                company: SessionCompany {
                    id: e.company_id,
                    name: e.company_name.clone(),
                    logo_url: e.company_logo_url.clone(),
                },
                format: e.format,
            }),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A participant in a session's lists (never an email address).
#[derive(Debug, Clone, Serialize)]
pub struct ParticipantView {
    pub user_id: u64,
    pub name: String,
    pub role: Role,
    pub status: ParticipantStatus,
    pub talk_title: Option<String>,
    pub talk_description: Option<String>,
    pub presenter_order: u32,
    /// Only to organisers and the person themself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topics: Option<Option<String>>,
    /// Only in the organisers' list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_at: Option<Timestamp>,
}

/// The signed-in person's own place in a session.
#[derive(Debug, Clone, Serialize)]
pub struct MeView {
    pub registration: Option<MyRegistration>,
    pub waitlist: Option<MyWaitlist>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MyRegistration {
    pub role: Role,
    pub status: ParticipantStatus,
    pub talk_title: Option<String>,
    pub talk_description: Option<String>,
    pub topics: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MyWaitlist {
    pub role: Role,
    pub position: Option<usize>,
    /// Set while a place is held for this person.
    pub offer_expires_at: Option<Timestamp>,
}

/// Whether the viewer may register for one role, and why not.
#[derive(Debug, Clone, Serialize)]
pub struct RoleChoice {
    /// True also when the role is full: registering then joins the waitlist.
    pub allowed: bool,
    pub reason: Option<String>,
    pub code: Option<&'static str>,
    /// No place a newcomer can take (registering joins the waitlist).
    pub full: bool,
    /// Places a newcomer can take now (the session's `open` for this role).
    pub free: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegisterChoices {
    pub host: RoleChoice,
    pub presenter: RoleChoice,
    pub interviewer: RoleChoice,
    pub guest: RoleChoice,
}

#[derive(Debug, Clone, Serialize)]
pub struct CanView {
    pub register: RegisterChoices,
    pub manage: bool,
    /// The viewer is registered and may still cancel (until the start).
    pub cancel_registration: bool,
    /// The page offers "Join live room" now: a signed-in viewer of a session
    /// in the built-in live room that is in progress, or one of its hosts
    /// from the configured start lead on. Never once it is over.
    pub join_live: bool,
    /// The page links the live room's waiting room instead (registered
    /// people and hosts, before `join_live`).
    pub live_waiting_room: bool,
    /// When `join_live` turns true for this viewer (the page asks again then).
    pub live_opens_at: Option<Timestamp>,
}

/// How the viewer gets into the live room from the session page:
/// (join now, waiting room, opens at).
fn live_entry(
    state: &AppState,
    s: &Session,
    r: &Roster,
    user: Option<&User>,
    manage: bool,
    now: Timestamp,
) -> (bool, bool, Option<Timestamp>) {
    let status = s.status(&r.taken(now), now);
    let Some(user) = user else {
        return (false, false, None);
    };
    if s.meeting_url.is_some()
        || matches!(
            status,
            Status::Draft | Status::Cancelled | Status::Completed
        )
    {
        return (false, false, None);
    }
    let reg = r.active(user.id);
    let host = manage || reg.is_some_and(|x| x.role == Role::Host);
    let opens_at = if host {
        s.starts_at - s.start_lead(state.config.live.settings.start_lead)
    } else {
        s.starts_at
    };
    let join = status == Status::InProgress || now >= opens_at;
    if join {
        (true, false, None)
    } else {
        (false, reg.is_some() || host, Some(opens_at))
    }
}

/// A session's page: the session, who takes part, the run of show, the
/// viewer's own place and what the viewer may do.
#[derive(Debug, Clone, Serialize)]
pub struct SessionDetail {
    pub session: SessionView,
    pub participants: Vec<ParticipantView>,
    pub run_of_show: Vec<AgendaItem>,
    pub me: Option<MeView>,
    pub can: CanView,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegistrationState {
    pub role: Role,
    pub status: ParticipantStatus,
}

/// A place of one's own.
#[derive(Debug, Clone, Serialize)]
pub struct Enrolled {
    pub registration: RegistrationState,
}

/// What a registration request got.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum RegisterOutcome {
    Registered(Enrolled),
    Waitlisted {
        waitlisted: bool,
        role: Role,
        position: usize,
    },
}

/// A participant's registration status, or `"waitlisted"`.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum EntryStatus {
    Registration(ParticipantStatus),
    Waitlisted(&'static str),
}

/// One line of "My schedule".
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleEntry {
    pub session: SessionView,
    pub role: Option<Role>,
    pub status: EntryStatus,
    pub waitlist_position: Option<usize>,
    pub offer_expires_at: Option<Timestamp>,
    /// The live room is running and this person may go in now: the page's
    /// Join button (`/sessions/{id}/live`).
    pub join_live: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScheduleView {
    pub upcoming: Vec<ScheduleEntry>,
    pub past: Vec<ScheduleEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WaitlistView {
    pub user_id: u64,
    pub name: String,
    pub role: Role,
    pub position: Option<usize>,
    pub joined_at: Timestamp,
    pub offer_expires_at: Option<Timestamp>,
}

/// The organisers' list of participants and the waitlist.
#[derive(Debug, Clone, Serialize)]
pub struct RosterView {
    pub participants: Vec<ParticipantView>,
    pub waitlist: Vec<WaitlistView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParticipantState {
    pub user_id: u64,
    pub role: Role,
    pub status: ParticipantStatus,
    pub presenter_order: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParticipantUpdated {
    pub participant: ParticipantState,
}

#[derive(Debug, Clone, Serialize)]
pub struct PresenterView {
    pub user_id: u64,
    pub name: String,
    pub talk_title: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PresenterOrder {
    pub presenters: Vec<PresenterView>,
    pub run_of_show: Vec<AgendaItem>,
}

/* -------------------------------------------------------------- Rules */

fn no_such_session() -> StoreError {
    StoreError::Rule(DomainError::new(
        ErrorKind::NotFound,
        "not_found",
        "There is no such session.",
    ))
}

fn organisers_only() -> DomainError {
    DomainError::forbidden("forbidden", "Only the session's organisers can do that.")
}

/// Admins manage every session; with the community flag, members manage the
/// ones they created.
fn manages(is_admin: bool, members_create: bool, user_id: u64, s: &Session) -> bool {
    is_admin || (members_create && s.created_by == user_id)
}

fn can_manage(state: &AppState, user: Option<&User>, s: &Session) -> bool {
    user.is_some_and(|u| {
        manages(
            u.is_admin,
            state.config.features.members_can_create_sessions,
            u.id,
            s,
        )
    })
}

/// Whether `user` may change the session in `ctx`: an event session's
/// organizers and company speakers, else its managers.
fn may_change(
    user: &User,
    is_admin: bool,
    members_create: bool,
    uid: u64,
    ctx: &SessionCtx,
) -> bool {
    match &ctx.booking {
        Some(b) => super::events::edits_booking(b, user),
        None => manages(is_admin, members_create, uid, &ctx.session),
    }
}

/// The session, when `user` may manage it.
async fn managed(state: &AppState, user: &User, id: u64) -> Result<(Session, Roster), StoreError> {
    let (s, r) = state.load_session(id).await?;
    if !can_manage(state, Some(user), &s) && !super::events::manages_session(state, user, &s).await
    {
        return Err(organisers_only().into());
    }
    Ok((s, r))
}

/// Refuses people who may not manage session `id` (checked before a body is read).
pub async fn authorize_manage(state: &AppState, user: &User, id: u64) -> Result<(), StoreError> {
    managed(state, user, id).await.map(|_| ())
}

/// Refuses members when only admins create sessions (checked before a body is read).
pub fn authorize_create(state: &AppState, user: &User) -> Result<(), StoreError> {
    if !user.is_admin && !state.config.features.members_can_create_sessions {
        return Err(DomainError::forbidden(
            "forbidden",
            "Only admins can create sessions in this community.",
        )
        .into());
    }
    Ok(())
}

fn names_of(names: &std::collections::HashMap<u64, User>) -> impl Fn(u64) -> String + '_ {
    |id| {
        names
            .get(&id)
            .map_or_else(|| "Former member".to_owned(), |u| u.name.clone())
    }
}

fn participant(
    x: &Registration,
    name: String,
    topics: bool,
    registered_at: bool,
) -> ParticipantView {
    ParticipantView {
        user_id: x.user_id,
        name,
        role: x.role,
        status: x.status,
        talk_title: x.answers.talk_title.clone(),
        talk_description: x.answers.talk_description.clone(),
        presenter_order: x.order,
        topics: topics.then(|| x.answers.topics.clone()),
        registered_at: registered_at.then_some(x.registered_at),
    }
}

/// Active registrations in role, talk and arrival order.
fn active_sorted(r: &Roster) -> Vec<&Registration> {
    let mut regs: Vec<&Registration> = r.registrations.iter().filter(|x| x.active()).collect();
    regs.sort_by_key(|x| (x.role, x.order, x.registered_at));
    regs
}

/* ----------------------------------------------------------- Services */

/// The sessions a visitor or member may browse.
pub async fn list(
    state: &AppState,
    user: Option<&User>,
    scope: ListScope,
) -> Result<Vec<SessionView>, StoreError> {
    if scope == ListScope::All && !user.is_some_and(|u| u.is_admin) {
        return Err(
            DomainError::forbidden("forbidden", "Only admins can list every session.").into(),
        );
    }
    let now = state.clock.now();
    let mut sessions = state.blocking(|s| s.sessions()).await?;
    match scope {
        ListScope::All => sessions.sort_by_key(|(s, _)| std::cmp::Reverse(s.starts_at)),
        ListScope::Upcoming => {
            // Event sessions are listed in their event's program.
            sessions.retain(|(s, r)| {
                s.event.is_none()
                    && matches!(
                        s.status(&r.taken(now), now),
                        Status::Open | Status::Full | Status::Closed | Status::InProgress
                    )
            });
            sessions.sort_by_key(|(s, _)| s.starts_at);
        }
    }
    Ok(sessions
        .iter()
        .map(|(s, r)| {
            let show = can_manage(state, user, s) || user.is_some_and(|u| r.active(u.id).is_some());
            SessionView::new(s, r, now, show)
        })
        .collect())
}

/// Creates a draft.
pub async fn create(
    state: &AppState,
    user: &User,
    form: SessionForm,
) -> Result<SessionView, StoreError> {
    authorize_create(state, user)?;
    if form.title.is_none() {
        return Err(
            DomainError::field("invalid_title", "title", "A session needs a title.").into(),
        );
    }
    if form.starts_at.is_none() {
        return Err(DomainError::field(
            "invalid_time",
            "starts_at",
            "A session needs a start time.",
        )
        .into());
    }
    let now = state.clock.now();
    let mut s = rules::new_draft(user.id, &state.config.community.time_zone_name, now);
    let base = s.capacity;
    rules::apply_input(&mut s, form.into_input(base, false)?, now)?;
    let s = state.blocking(move |st| st.create_session(s)).await?;
    tracing::info!(session = s.id, user = user.id, "session created");
    Ok(SessionView::new(&s, &Roster::default(), now, true))
}

/// A session's page as `user` (or a visitor) sees it.
pub async fn detail(
    state: &AppState,
    user: Option<&User>,
    id: u64,
) -> Result<SessionDetail, StoreError> {
    let (s, r) = state.load_session(id).await?;
    let manage = can_manage(state, user, &s)
        || match user {
            Some(u) => super::events::manages_session(state, u, &s).await,
            None => false,
        };
    if (s.phase == rules::Phase::Draft && !manage)
        || !super::events::sees_session(state, user, &s).await
    {
        return Err(no_such_session());
    }
    let now = state.clock.now();
    let ids: Vec<u64> = r.registrations.iter().map(|x| x.user_id).collect();
    let names = state.blocking(move |st| st.users_by_id(ids)).await?;
    let name = names_of(&names);
    let me_id = user.map(|u| u.id);
    let participants = active_sorted(&r)
        .into_iter()
        .map(|x| {
            participant(
                x,
                name(x.user_id),
                manage || Some(x.user_id) == me_id,
                false,
            )
        })
        .collect();
    let run_of_show = rules::run_of_show(&s, &r.presenter_slots(&name));
    let me = me_id.map(|uid| MeView {
        registration: r.active(uid).map(|x| MyRegistration {
            role: x.role,
            status: x.status,
            talk_title: x.answers.talk_title.clone(),
            talk_description: x.answers.talk_description.clone(),
            topics: x.answers.topics.clone(),
        }),
        waitlist: r.waiting(uid).map(|w| MyWaitlist {
            role: w.role,
            position: r.position(uid),
            offer_expires_at: w.offer_expires_at.filter(|t| *t > now),
        }),
    });
    let taken = r.taken(now);
    let accepting = s.accepts_registrations(&taken, now);
    let features = &state.config.features;
    let choice = |role: Role| {
        let block: Option<DomainError> = if s.event.is_some() && role != Role::Guest {
            // Event sessions: hosts are the company's speakers, set at booking.
            Some(DomainError::conflict(
                "role_unavailable",
                "Participants of an event session register as guests.",
            ))
        } else if s.capacity.get(role) == 0 {
            Some(DomainError::conflict(
                "role_unavailable",
                format!(
                    "This session has no {} places.",
                    role.label().to_lowercase()
                ),
            ))
        } else if let Err(e) = &accepting {
            Some(e.clone())
        } else if let Some(u) = user {
            if r.active(u.id).is_some() || r.waiting(u.id).is_some() {
                Some(DomainError::conflict(
                    "already_registered",
                    "You are already registered or waiting for this session.",
                ))
            } else {
                crate::domain::accounts::email_block(
                    state.config.accounts.verify_email,
                    u.email_verified_at.is_some(),
                )
                .or_else(|| {
                    rules::premium_block(
                        role,
                        u.is_premium || u.is_admin,
                        features.premium_required_for_presenting,
                        features.premium_required_for_hosting,
                    )
                })
            }
        } else {
            Some(DomainError::new(
                ErrorKind::Unauthenticated,
                "unauthenticated",
                "Sign in to register.",
            ))
        };
        RoleChoice {
            allowed: block.is_none(),
            reason: block.as_ref().map(|e| e.message.clone()),
            code: block.as_ref().map(|e| e.code),
            full: taken.get(role) >= s.capacity.get(role),
            free: s.capacity.get(role).saturating_sub(taken.get(role)),
        }
    };
    let register = RegisterChoices {
        host: choice(Role::Host),
        presenter: choice(Role::Presenter),
        interviewer: choice(Role::Interviewer),
        guest: choice(Role::Guest),
    };
    let show = manage || me_id.is_some_and(|uid| r.active(uid).is_some());
    let (join_live, live_waiting_room, live_opens_at) =
        live_entry(state, &s, &r, user, manage, now);
    Ok(SessionDetail {
        session: SessionView::new(&s, &r, now, show),
        participants,
        run_of_show,
        me,
        can: CanView {
            register,
            manage,
            cancel_registration: me_id.is_some_and(|uid| r.active(uid).is_some())
                && s.allows_cancellation(&taken, now).is_ok(),
            join_live,
            live_waiting_room,
            live_opens_at,
        },
    })
}

/// An organiser edits a session; a new time or place is mailed to everyone
/// registered, and freed capacity is offered to the waitlist.
pub async fn update(
    state: &AppState,
    user: &User,
    id: u64,
    form: SessionForm,
) -> Result<SessionView, StoreError> {
    let format = form
        .format
        .as_deref()
        .map(crate::domain::events::Format::parse)
        .transpose()?;
    let now = state.clock.now();
    let claim = state.config.sessions.waitlist_claim;
    let m = state.mail_ctx.clone();
    let (is_admin, uid) = (user.is_admin, user.id);
    let ctx_user = user.clone();
    let members_create = state.config.features.members_can_create_sessions;
    let (s, r) = state
        .session_action(id, vec![], move |ctx| {
            if !may_change(&ctx_user, is_admin, members_create, uid, ctx) {
                return Err(organisers_only());
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
            let input = form.into_input(ctx.session.capacity, ctx.booking.is_some())?;
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
            if let Some(f) = format {
                match next.event.as_mut() {
                    Some(link) => link.format = f,
                    None => {
                        return Err(DomainError::field(
                            "invalid_format",
                            "format",
                            "Only sessions of an event have a format.",
                        ));
                    }
                }
            }
            if let Some(b) = &ctx.booking {
                super::events::recheck_event_session(b, &before, &next, &ctx.roster, &ctx.users, &ctx_user, now)?;
            }
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
    Ok(SessionView::new(&s, &r, now, true))
}

/// An organiser publishes, closes, reopens or cancels a session.
pub async fn transition(
    state: &AppState,
    user: &User,
    id: u64,
    t: Transition,
) -> Result<SessionView, StoreError> {
    let now = state.clock.now();
    let m = state.mail_ctx.clone();
    let claim = state.config.sessions.waitlist_claim;
    let (is_admin, uid) = (user.is_admin, user.id);
    let ctx_user = user.clone();
    let members_create = state.config.features.members_can_create_sessions;
    let (s, r) = state
        .session_action(id, vec![], move |ctx| {
            if !may_change(&ctx_user, is_admin, members_create, uid, ctx) {
                return Err(organisers_only());
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
    tracing::info!(session = id, action = ?t, "session transition");
    if t == Transition::Cancel {
        // A cancelled session's live room closes now, media included.
        state.live.close(id).await?;
    }
    Ok(SessionView::new(&s, &r, now, true))
}

/// A member registers for a role, or joins its waitlist when it is full.
pub async fn register(
    state: &AppState,
    user: &User,
    id: u64,
    form: RegisterForm,
) -> Result<RegisterOutcome, StoreError> {
    let name = form.name.unwrap_or_else(|| user.name.clone());
    if name.trim().is_empty() {
        return Err(DomainError::field(
            "name_required",
            "name",
            "Please tell us your name; it is shown to the other participants.",
        )
        .into());
    }
    let name = crate::domain::accounts::validate_name(&name)?;
    let (target, _) = state.load_session(id).await?;
    let is_event = target.event.is_some();
    let role = if is_event {
        super::events::event_role(form.role.as_deref())?
    } else {
        match form.role.as_deref() {
            Some(r) => Role::parse(r)?,
            None => {
                return Err(DomainError::field(
                    "invalid_json",
                    "role",
                    "The request body needs a role: host, presenter, interviewer or guest.",
                )
                .into());
            }
        }
    };
    if is_event && !super::events::sees_session(state, Some(user), &target).await {
        return Err(no_such_session());
    }
    if let Some(e) = crate::domain::accounts::email_block(
        state.config.accounts.verify_email,
        user.email_verified_at.is_some(),
    ) {
        return Err(e.into());
    }
    if let Some(e) = rules::premium_block(
        role,
        user.is_premium || user.is_admin,
        state.config.features.premium_required_for_presenting,
        state.config.features.premium_required_for_hosting,
    ) {
        return Err(e.into());
    }
    let answers = Answers {
        talk_title: form.talk_title,
        talk_description: form.talk_description,
        topics: form.topics,
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
            if let Some(b) = &ctx.booking {
                super::events::event_open_for_registration(&b.event)?;
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
            RegisterOutcome::Registered(Enrolled {
                registration: RegistrationState {
                    role,
                    status: ParticipantStatus::Registered,
                },
            })
        }
        Registered::Waitlisted { position } => RegisterOutcome::Waitlisted {
            waitlisted: true,
            role,
            position,
        },
    })
}

/// A member cancels their registration before the session starts (the
/// place goes to the waitlist).
pub async fn cancel_registration(state: &AppState, user: &User, id: u64) -> Result<(), StoreError> {
    let uid = user.id;
    state
        .roster_action(id, vec![uid], move |r, s, now, claim| {
            s.allows_cancellation(&r.taken(now), now)?;
            r.cancel(s, uid, now, claim)
        })
        .await
}

/// A member claims the place held for them.
pub async fn accept_offer(state: &AppState, user: &User, id: u64) -> Result<Enrolled, StoreError> {
    let now = state.clock.now();
    let m = state.mail_ctx.clone();
    let uid = user.id;
    let role = state
        .session_action(id, vec![uid], move |ctx| {
            ctx.session
                .accepts_registrations(&ctx.roster.taken(now), now)?;
            let effects = ctx.roster.accept_offer(uid, now)?;
            notify(ctx, &m, &effects, now);
            Ok(ctx.roster.active(uid).map(|r| r.role))
        })
        .await?;
    let role = role.ok_or(StoreError::NotFound)?;
    Ok(Enrolled {
        registration: RegistrationState {
            role,
            status: ParticipantStatus::Registered,
        },
    })
}

/// A member leaves a waitlist.
pub async fn leave_waitlist(state: &AppState, user: &User, id: u64) -> Result<(), StoreError> {
    let uid = user.id;
    state
        .roster_action(id, vec![uid], move |r, s, now, claim| {
            r.leave_waitlist(s, uid, now, claim)
        })
        .await
}

/// "My schedule": sessions the member registered for or waits for.
pub async fn schedule(state: &AppState, user: &User) -> Result<ScheduleView, StoreError> {
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
        let active = reg.is_some_and(|x| x.active());
        let session = SessionView::new(s, r, now, active);
        let status = session.status;
        let entry = ScheduleEntry {
            join_live: session.live_now && (active || wait.is_some()),
            session,
            role: reg.map(|x| x.role).or(wait.map(|w| w.role)),
            status: reg.map_or(EntryStatus::Waitlisted("waitlisted"), |x| {
                EntryStatus::Registration(x.status)
            }),
            waitlist_position: wait.and_then(|_| r.position(uid)),
            offer_expires_at: wait.and_then(|w| w.offer_expires_at).filter(|t| *t > now),
        };
        if matches!(status, Status::Completed | Status::Cancelled) {
            past.push(entry);
        } else {
            upcoming.push(entry);
        }
    }
    past.reverse();
    Ok(ScheduleView { upcoming, past })
}

/// The organisers' list: participants with their answers, and the waitlist.
pub async fn roster(state: &AppState, user: &User, id: u64) -> Result<RosterView, StoreError> {
    let (_, r) = managed(state, user, id).await?;
    let now = state.clock.now();
    let ids: Vec<u64> = r
        .registrations
        .iter()
        .map(|x| x.user_id)
        .chain(r.waitlist.iter().map(|w| w.user_id))
        .collect();
    let names = state.blocking(move |st| st.users_by_id(ids)).await?;
    let name = names_of(&names);
    let participants = active_sorted(&r)
        .into_iter()
        .map(|x| participant(x, name(x.user_id), true, true))
        .collect();
    let waitlist = r
        .waitlist
        .iter()
        .map(|w| WaitlistView {
            user_id: w.user_id,
            name: name(w.user_id),
            role: w.role,
            position: r.position(w.user_id),
            joined_at: w.joined_at,
            offer_expires_at: w.offer_expires_at.filter(|t| *t > now),
        })
        .collect();
    Ok(RosterView {
        participants,
        waitlist,
    })
}

/// An organiser changes a participant's role and/or status.
pub async fn update_participant(
    state: &AppState,
    user: &User,
    id: u64,
    user_id: u64,
    change: ParticipantChange,
) -> Result<ParticipantUpdated, StoreError> {
    managed(state, user, id).await?;
    let status = change
        .status
        .as_deref()
        .map(ParticipantStatus::parse)
        .transpose()?;
    let role = change.role.as_deref().map(Role::parse).transpose()?;
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
    let reg = reg.ok_or(StoreError::NotFound)?;
    Ok(ParticipantUpdated {
        participant: ParticipantState {
            user_id: reg.user_id,
            role: reg.role,
            status: reg.status,
            presenter_order: reg.order,
        },
    })
}

/// An organiser removes a participant (they are mailed).
pub async fn remove_participant(
    state: &AppState,
    user: &User,
    id: u64,
    user_id: u64,
) -> Result<(), StoreError> {
    managed(state, user, id).await?;
    state
        .roster_action(id, vec![user_id], move |r, s, now, claim| {
            r.remove(s, user_id, now, claim)
        })
        .await
}

/// An organiser sets the presenters' talk order; answers with the new order
/// and run of show.
pub async fn reorder_presenters(
    state: &AppState,
    user: &User,
    id: u64,
    form: PresenterOrderForm,
) -> Result<PresenterOrder, StoreError> {
    managed(state, user, id).await?;
    state
        .session_action(id, vec![], move |ctx| {
            ctx.roster.reorder_presenters(&form.user_ids)
        })
        .await?;
    let (s, r) = state.load_session(id).await?;
    let presenters = presenter_slots(state, &r).await?;
    Ok(PresenterOrder {
        presenters: presenters
            .iter()
            .map(|p| PresenterView {
                user_id: p.user_id,
                name: p.name.clone(),
                talk_title: p.talk_title.clone(),
            })
            .collect(),
        run_of_show: rules::run_of_show(&s, &presenters),
    })
}

/* ------------------------------------------- Transactions and mails */

/// Turns roster effects into queued mails, bumping the invite SEQUENCE of
/// each registration that gets one.
pub fn notify(ctx: &mut SessionCtx, m: &MailContext, effects: &[Effect], now: Timestamp) {
    for e in effects {
        let (user_id, kind) = mail::effect_kind(e);
        send(ctx, m, user_id, &kind, now);
    }
}

pub fn send(ctx: &mut SessionCtx, m: &MailContext, user_id: u64, kind: &MailKind, now: Timestamp) {
    let Some(user) = ctx.user(user_id).cloned() else {
        return;
    };
    let seq = if mail::carries_invite(kind) {
        ctx.roster
            .registrations
            .iter_mut()
            .find(|r| r.user_id == user_id)
            .map(|r| {
                r.ics_sequence += 1;
                r.ics_sequence
            })
    } else {
        None
    };
    let out = mail::compose(m, &ctx.session, &user, kind, seq, now);
    ctx.send(out);
}

/// Who holds an active registration, with which role, sorted by user.
fn active_roles(r: &Roster) -> Vec<(u64, Role)> {
    let mut v: Vec<(u64, Role)> = r
        .registrations
        .iter()
        .filter(|g| g.active())
        .map(|g| (g.user_id, g.role))
        .collect();
    v.sort_unstable();
    v
}

/// The people whose active registration appeared, went or changed role.
fn changed_people(before: &[(u64, Role)], after: &[(u64, Role)]) -> Vec<u64> {
    let mut out: Vec<u64> = before
        .iter()
        .filter(|b| !after.contains(b))
        .chain(after.iter().filter(|a| !before.contains(a)))
        .map(|&(u, _)| u)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

impl AppState {
    /// Runs one session action in one transaction and wakes the mail sender
    /// when it queued mail.
    pub async fn session_action<T: Send + 'static>(
        &self,
        id: u64,
        extra_users: Vec<u64>,
        f: impl FnOnce(&mut SessionCtx) -> Result<T, DomainError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let ((value, changed), mails) = self
            .blocking(move |s| {
                s.update_session(id, &extra_users, |ctx| {
                    let before = active_roles(&ctx.roster);
                    let value = f(ctx)?;
                    let after = active_roles(&ctx.roster);
                    Ok((value, changed_people(&before, &after)))
                })
            })
            .await?;
        if mails > 0 {
            self.mail_wake.notify_one();
        }
        // A running room rereads the powers of everyone whose registration
        // changed (a host who cancelled stops being shown host controls).
        if !changed.is_empty() {
            self.live.powers_changed(id, &changed);
        }
        Ok(value)
    }

    /// Runs one roster rule (given the session, `now` and the claim window)
    /// and mails the effects it returns, in one transaction.
    pub async fn roster_action(
        &self,
        id: u64,
        user_ids: Vec<u64>,
        rule: impl FnOnce(
            &mut Roster,
            &Session,
            Timestamp,
            jiff::SignedDuration,
        ) -> Result<Vec<Effect>, DomainError>
        + Send
        + 'static,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let m = self.mail_ctx.clone();
        let claim = self.config.sessions.waitlist_claim;
        self.session_action(id, user_ids, move |ctx| {
            let session = ctx.session.clone();
            let effects = rule(&mut ctx.roster, &session, now, claim)?;
            notify(ctx, &m, &effects, now);
            Ok(())
        })
        .await
    }

    pub async fn load_session(&self, id: u64) -> Result<(Session, Roster), StoreError> {
        self.blocking(move |s| s.session(id)).await
    }
}

/// The presenters in talk order with their current names.
pub async fn presenter_slots(
    state: &AppState,
    roster: &Roster,
) -> Result<Vec<PresenterSlot>, StoreError> {
    let ids: Vec<u64> = roster.presenters().iter().map(|p| p.user_id).collect();
    let names = state.blocking(move |st| st.users_by_id(ids)).await?;
    Ok(roster.presenter_slots(|id| {
        names
            .get(&id)
            .map_or_else(|| "Former member".to_owned(), |u| u.name.clone())
    }))
}

/// Housekeeping: expire waitlist offers and offer the places to the next people.
pub async fn sweep_waitlists(state: &AppState) -> Result<(), StoreError> {
    let claim = state.config.sessions.waitlist_claim;
    let now = state.clock.now();
    let sessions = state.blocking(|s| s.sessions_with_waitlists()).await?;
    // Only write where an offer expired or a free place waits for an offer.
    let ids = sessions.into_iter().filter_map(|(s, r)| {
        if r.waitlist.is_empty() {
            return None;
        }
        let mut probe = r.clone();
        probe.offer_free_places(&s, now, claim);
        (probe != r).then_some(s.id)
    });
    for id in ids.collect::<Vec<_>>() {
        let m = state.mail_ctx.clone();
        state
            .session_action(id, vec![], move |ctx| {
                let session = ctx.session.clone();
                let status = session.status(&ctx.roster.taken(now), now);
                if !matches!(status, Status::Open | Status::Full | Status::Closed) {
                    return Ok(());
                }
                let effects = ctx.roster.offer_free_places(&session, now, claim);
                notify(ctx, &m, &effects, now);
                Ok(())
            })
            .await?;
    }
    Ok(())
}
