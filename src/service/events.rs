//! Career-fair event services: events, companies, slots and booking, the
//! program and the lobby. Powers are read at every call: an organizer is an
//! admin or a member named in the event's `organizers`; a speaker is a member
//! named in a company's `speakers`. Every change is one store transaction
//! whose closure checks the powers and the rule again on what it read.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::sessions::SessionView;
use crate::domain::events::{
    self as rules, Booked, Company, CompanyInput, Event, EventInput, EventLink, EventSettings,
    EventStatus, Faq, FaqInput, Format, Job, JobInput, Quota, SlotRequest, Slots, WindowInput,
};
use crate::domain::roster::{Answers, ParticipantStatus, Registration, Roster};
use crate::domain::sessions::{self as srules, PerRole, Phase, Role, Session, Status};
use crate::domain::{DomainError, ErrorKind};
use crate::store::{StoreError, User};

pub use crate::domain::events::{CompanyInput as CompanyForm, EventInput as EventForm};

/* -------------------------------------------------------------- Inputs */

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserIdsForm {
    pub user_ids: Vec<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowsForm {
    pub windows: Vec<WindowInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaqsForm {
    pub faqs: Vec<FaqInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsForm {
    pub jobs: Vec<JobInput>,
}

/// A speaker's (or organizer's) booking.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookForm {
    pub starts_at: String,
    pub duration_minutes: u32,
    pub title: String,
    pub description: Option<String>,
    pub format: String,
    pub capacity: Option<u32>,
    pub speakers: Option<Vec<u64>>,
}

/// The program's filters.
#[derive(Debug, Default)]
pub struct ProgramFilter {
    pub company: Option<u64>,
    pub format: Option<String>,
}

/* --------------------------------------------------------------- Views */

#[derive(Debug, Clone, Serialize)]
pub struct NameRef {
    pub user_id: u64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowView {
    pub id: u64,
    pub day: jiff::civil::Date,
    pub starts: String,
    pub ends: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    pub companies: usize,
    pub sessions: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventCan {
    pub manage: bool,
    pub speaker_of: Vec<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub first_day: jiff::civil::Date,
    pub last_day: jiff::civil::Date,
    pub time_zone: String,
    pub status: EventStatus,
    pub settings: EventSettings,
    pub windows: Vec<WindowView>,
    pub organizers: Vec<NameRef>,
    pub counts: Counts,
    pub can: EventCan,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompanyCan {
    pub edit: bool,
    pub book: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompanyView {
    pub id: u64,
    pub event_id: u64,
    pub name: String,
    pub description: String,
    pub website: Option<String>,
    pub location: String,
    pub logo_url: Option<String>,
    pub speakers: Vec<NameRef>,
    pub faqs: Vec<Faq>,
    pub jobs: Vec<Job>,
    pub sessions: Quota,
    pub can: CompanyCan,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventDetail {
    pub event: EventView,
    pub companies: Vec<CompanyView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompanyDetail {
    pub company: CompanyView,
    pub event: EventView,
    pub sessions: Vec<SessionView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BookedView {
    pub session: SessionView,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProgramDay {
    pub day: jiff::civil::Date,
    pub sessions: Vec<SessionView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProgramView {
    pub event: EventView,
    pub days: Vec<ProgramDay>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LobbyEntry {
    pub session: SessionView,
    pub thumbnail_url: Option<String>,
    pub people: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct LobbyView {
    pub live: Vec<LobbyEntry>,
    pub next: Vec<LobbyEntry>,
    pub ended: Vec<LobbyEntry>,
}

/// A logo as stored, with its checked type.
#[derive(Debug, Clone)]
pub struct Logo {
    pub content_type: String,
    pub etag: String,
    pub bytes: Vec<u8>,
}

/* --------------------------------------------------------------- Powers */

fn no_such_event() -> StoreError {
    StoreError::Rule(DomainError::new(
        ErrorKind::NotFound,
        "not_found",
        "There is no such event.",
    ))
}

fn no_such_company() -> StoreError {
    StoreError::Rule(DomainError::new(
        ErrorKind::NotFound,
        "not_found",
        "There is no such company.",
    ))
}

fn organizers_only() -> DomainError {
    DomainError::forbidden("forbidden", "Only the event's organizers can do that.")
}

fn admins_only() -> DomainError {
    DomainError::forbidden("forbidden", "Only admins can do that.")
}

fn editors_only() -> DomainError {
    DomainError::forbidden(
        "forbidden",
        "Only the event's organizers and the company's speakers can do that.",
    )
}

fn organizes(e: &Event, u: &User) -> bool {
    rules::organizes(e, u.id, u.is_admin)
}

fn edits(e: &Event, c: &Company, u: &User) -> bool {
    organizes(e, u) || c.speakers.contains(&u.id)
}

/// Loads an event `user` may see (drafts: its organizers only).
async fn visible_event(state: &AppState, user: &User, id: u64) -> Result<Event, StoreError> {
    let e = state
        .blocking(move |s| s.event(id))
        .await
        .map_err(|e| match e {
            StoreError::NotFound => no_such_event(),
            other => other,
        })?;
    if !rules::visible(&e, user.id, user.is_admin) {
        // A draft is also its companies' speakers' to prepare.
        let companies = state.blocking(move |s| s.companies_of(id)).await?;
        if !companies.iter().any(|c| c.speakers.contains(&user.id)) {
            return Err(no_such_event());
        }
    }
    Ok(e)
}

async fn visible_company(
    state: &AppState,
    user: &User,
    cid: u64,
) -> Result<(Company, Event), StoreError> {
    let c = state
        .blocking(move |s| s.company(cid))
        .await
        .map_err(|e| match e {
            StoreError::NotFound => no_such_company(),
            other => other,
        })?;
    let e = visible_event(state, user, c.event_id)
        .await
        .map_err(|_| no_such_company())?;
    Ok((c, e))
}

fn not_found_as(e: StoreError, what: fn() -> StoreError) -> StoreError {
    match e {
        StoreError::NotFound => what(),
        other => other,
    }
}

/// Whether `user` may change event session `s` (its event's organizers,
/// its company's speakers).
pub async fn manages_session(state: &AppState, user: &User, s: &Session) -> bool {
    let Some(link) = &s.event else {
        return false;
    };
    let (eid, cid) = (link.event_id, link.company_id);
    let Ok((e, c)) = state
        .blocking(move |st| Ok((st.event(eid)?, st.company(cid)?)))
        .await
    else {
        return false;
    };
    edits(&e, &c, user)
}

/// Whether `user` may see event session `s` (a draft event's sessions:
/// its organizers and the company's speakers only).
pub async fn sees_session(state: &AppState, user: Option<&User>, s: &Session) -> bool {
    let Some(link) = &s.event else {
        return true;
    };
    let eid = link.event_id;
    let Ok(e) = state.blocking(move |st| st.event(eid)).await else {
        return false;
    };
    if e.status != EventStatus::Draft {
        return true;
    }
    match user {
        Some(u) => organizes(&e, u) || manages_session(state, u, s).await,
        None => false,
    }
}

/* ---------------------------------------------------------- Rendering */

async fn names(state: &AppState, ids: Vec<u64>) -> Result<HashMap<u64, User>, StoreError> {
    state.blocking(move |s| s.users_by_id(ids)).await
}

fn name_refs(ids: &[u64], users: &HashMap<u64, User>) -> Vec<NameRef> {
    ids.iter()
        .map(|id| NameRef {
            user_id: *id,
            name: users
                .get(id)
                .map_or_else(|| "Former member".to_owned(), |u| u.name.clone()),
        })
        .collect()
}

/// The event with what `user` may do, given its companies and sessions.
fn event_view(
    e: &Event,
    companies: &[Company],
    sessions: usize,
    users: &HashMap<u64, User>,
    user: &User,
) -> EventView {
    EventView {
        id: e.id,
        name: e.name.clone(),
        description: e.description.clone(),
        first_day: e.first_day,
        last_day: e.last_day,
        time_zone: e.time_zone.clone(),
        status: e.status,
        settings: e.settings.clone(),
        windows: e
            .windows
            .iter()
            .map(|w| WindowView {
                id: w.id,
                day: w.day,
                starts: rules::hm(w.starts),
                ends: rules::hm(w.ends),
                starts_at: w.starts_at(&e.time_zone),
                ends_at: w.ends_at(&e.time_zone),
            })
            .collect(),
        organizers: name_refs(&e.organizers, users),
        counts: Counts {
            companies: companies.len(),
            sessions,
        },
        can: EventCan {
            manage: organizes(e, user),
            speaker_of: companies
                .iter()
                .filter(|c| c.speakers.contains(&user.id))
                .map(|c| c.id)
                .collect(),
        },
        created_at: e.created_at,
        updated_at: e.updated_at,
    }
}

fn company_view(
    c: &Company,
    e: &Event,
    booked: &[Booked],
    users: &HashMap<u64, User>,
    user: &User,
) -> CompanyView {
    let edit = edits(e, c, user);
    CompanyView {
        id: c.id,
        event_id: c.event_id,
        name: c.name.clone(),
        description: c.description.clone(),
        website: c.website.clone(),
        location: c.location.clone(),
        logo_url: c.logo_url(),
        speakers: name_refs(&c.speakers, users),
        faqs: c.faqs.clone(),
        jobs: c.jobs.clone(),
        sessions: rules::quota(e, c, booked),
        can: CompanyCan {
            edit,
            book: organizes(e, user)
                || (c.speakers.contains(&user.id) && e.status == EventStatus::Published),
        },
    }
}

/// Everything needed to render an event and its companies.
struct Loaded {
    event: Event,
    companies: Vec<Company>,
    booked: Vec<Booked>,
    users: HashMap<u64, User>,
}

async fn load(state: &AppState, e: Event) -> Result<Loaded, StoreError> {
    let id = e.id;
    let (companies, booked) = state
        .blocking(move |s| Ok((s.companies_of(id)?, s.booked_for(id)?)))
        .await?;
    let ids: Vec<u64> = e
        .organizers
        .iter()
        .chain(companies.iter().flat_map(|c| c.speakers.iter()))
        .copied()
        .collect();
    let users = names(state, ids).await?;
    Ok(Loaded {
        event: e,
        companies,
        booked,
        users,
    })
}

impl Loaded {
    fn event_view(&self, user: &User) -> EventView {
        event_view(
            &self.event,
            &self.companies,
            self.booked.len(),
            &self.users,
            user,
        )
    }

    fn company_view(&self, c: &Company, user: &User) -> CompanyView {
        company_view(c, &self.event, &self.booked, &self.users, user)
    }
}

async fn render_event(state: &AppState, user: &User, e: Event) -> Result<EventView, StoreError> {
    Ok(load(state, e).await?.event_view(user))
}

async fn render_company(
    state: &AppState,
    user: &User,
    c: &Company,
) -> Result<CompanyView, StoreError> {
    let eid = c.event_id;
    let e = state.blocking(move |s| s.event(eid)).await?;
    let l = load(state, e).await?;
    Ok(l.company_view(c, user))
}

/* ------------------------------------------------------------- Events */

/// Published and ended events, soonest first, plus the drafts `user` organizes.
pub async fn list(state: &AppState, user: &User) -> Result<Vec<EventView>, StoreError> {
    let mut events = state.blocking(|s| s.events()).await?;
    let mut shown = Vec::with_capacity(events.len());
    for e in events.drain(..) {
        if rules::visible(&e, user.id, user.is_admin)
            || visible_event(state, user, e.id).await.is_ok()
        {
            shown.push(e);
        }
    }
    let mut events = shown;
    events.sort_by_key(|e| (e.first_day, e.id));
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        out.push(render_event(state, user, e).await?);
    }
    Ok(out)
}

pub fn authorize_admin(user: &User) -> Result<(), StoreError> {
    if user.is_admin {
        Ok(())
    } else {
        Err(admins_only().into())
    }
}

pub async fn create(
    state: &AppState,
    user: &User,
    form: EventInput,
) -> Result<EventView, StoreError> {
    authorize_admin(user)?;
    for (present, code, field, what) in [
        (
            form.name.is_some(),
            "invalid_name",
            "name",
            "An event needs a name.",
        ),
        (
            form.first_day.is_some(),
            "invalid_day",
            "first_day",
            "An event needs a first day.",
        ),
        (
            form.last_day.is_some(),
            "invalid_day",
            "last_day",
            "An event needs a last day.",
        ),
        (
            form.time_zone.is_some(),
            "invalid_time_zone",
            "time_zone",
            "An event needs a time zone such as Europe/Berlin.",
        ),
    ] {
        if !present {
            return Err(DomainError::field(code, field, what).into());
        }
    }
    let now = state.clock.now();
    let mut e = rules::new_event(user.id, now);
    rules::apply_event_input(&mut e, form)?;
    let e = state.blocking(move |s| s.create_event(e)).await?;
    tracing::info!(event = e.id, user = user.id, "event created");
    render_event(state, user, e).await
}

pub async fn detail(state: &AppState, user: &User, id: u64) -> Result<EventDetail, StoreError> {
    let e = visible_event(state, user, id).await?;
    let l = load(state, e).await?;
    Ok(EventDetail {
        event: l.event_view(user),
        companies: l
            .companies
            .iter()
            .map(|c| l.company_view(c, user))
            .collect(),
    })
}

fn sessions_outside(e: &Event, booked: &[Booked], code: &'static str) -> Result<(), DomainError> {
    if let Some(b) = rules::first_outside(e, booked) {
        return Err(DomainError::conflict(
            code,
            format!(
                "“{}” would no longer lie inside a time window; move or cancel it first.",
                b.title
            ),
        ));
    }
    Ok(())
}

pub async fn update(
    state: &AppState,
    user: &User,
    id: u64,
    form: EventInput,
) -> Result<EventView, StoreError> {
    visible_event(state, user, id).await?;
    let now = state.clock.now();
    let u = user.clone();
    let e = state
        .blocking(move |s| {
            s.update_event(id, move |e, booked| {
                if !organizes(e, &u) {
                    return Err(organizers_only());
                }
                rules::apply_event_input(e, form)?;
                sessions_outside(e, booked, "sessions_outside")?;
                e.updated_at = now;
                Ok(e.clone())
            })
        })
        .await?;
    render_event(state, user, e).await
}

pub async fn transition(
    state: &AppState,
    user: &User,
    id: u64,
    to: EventStatus,
) -> Result<EventView, StoreError> {
    visible_event(state, user, id).await?;
    let now = state.clock.now();
    let u = user.clone();
    let e = state
        .blocking(move |s| {
            s.update_event(id, move |e, _| {
                if !organizes(e, &u) {
                    return Err(organizers_only());
                }
                e.status = rules::transition(e, to)?;
                e.updated_at = now;
                Ok(e.clone())
            })
        })
        .await?;
    tracing::info!(event = id, status = ?e.status, "event transition");
    render_event(state, user, e).await
}

async fn check_users(state: &AppState, ids: &[u64]) -> Result<Vec<u64>, StoreError> {
    let mut ids = ids.to_vec();
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(*id));
    let found = names(state, ids.clone()).await?;
    if let Some(missing) = ids.iter().find(|id| !found.contains_key(id)) {
        return Err(rules::unknown_user(*missing).into());
    }
    Ok(ids)
}

pub async fn set_organizers(
    state: &AppState,
    user: &User,
    id: u64,
    form: UserIdsForm,
) -> Result<EventView, StoreError> {
    authorize_admin(user)?;
    visible_event(state, user, id).await?;
    if form.user_ids.len() > 20 {
        return Err(DomainError::field(
            "invalid_organizers",
            "user_ids",
            "An event can have at most 20 named organizers.",
        )
        .into());
    }
    let ids = check_users(state, &form.user_ids).await?;
    let now = state.clock.now();
    let e = state
        .blocking(move |s| {
            s.update_event(id, move |e, _| {
                e.organizers = ids;
                e.updated_at = now;
                Ok(e.clone())
            })
        })
        .await?;
    render_event(state, user, e).await
}

pub async fn set_windows(
    state: &AppState,
    user: &User,
    id: u64,
    form: WindowsForm,
) -> Result<EventView, StoreError> {
    visible_event(state, user, id).await?;
    let now = state.clock.now();
    let u = user.clone();
    let e = state
        .blocking(move |s| {
            s.update_event(id, move |e, booked| {
                if !organizes(e, &u) {
                    return Err(organizers_only());
                }
                let windows = rules::check_windows(e, form.windows)?;
                e.next_window_id = windows.iter().map(|w| w.id).max().unwrap_or(0) + 1;
                e.windows = windows;
                sessions_outside(e, booked, "window_in_use")?;
                e.updated_at = now;
                Ok(e.clone())
            })
        })
        .await?;
    render_event(state, user, e).await
}

/* ---------------------------------------------------------- Companies */

fn name_taken(name: &str, others: &[Company]) -> Result<(), DomainError> {
    if others.iter().any(|o| rules::same_name(&o.name, name)) {
        return Err(DomainError::conflict(
            "name_taken",
            format!("This event already has a company called {name}."),
        )
        .on("name"));
    }
    Ok(())
}

pub async fn create_company(
    state: &AppState,
    user: &User,
    event_id: u64,
    form: CompanyInput,
) -> Result<CompanyView, StoreError> {
    visible_event(state, user, event_id).await?;
    if form.name.is_none() {
        return Err(DomainError::field("invalid_name", "name", "A company needs a name.").into());
    }
    let now = state.clock.now();
    let u = user.clone();
    let c = state
        .blocking(move |s| {
            s.create_company(event_id, move |e, others| {
                if !organizes(e, &u) {
                    return Err(organizers_only());
                }
                let mut c = rules::new_company(e.id, now);
                rules::apply_company_input(&mut c, form)?;
                name_taken(&c.name, others)?;
                Ok(c)
            })
        })
        .await
        .map_err(|e| not_found_as(e, no_such_event))?;
    tracing::info!(company = c.id, event = event_id, "company added");
    render_company(state, user, &c).await
}

pub async fn company_detail(
    state: &AppState,
    user: &User,
    cid: u64,
) -> Result<CompanyDetail, StoreError> {
    let (c, e) = visible_company(state, user, cid).await?;
    let eid = e.id;
    let l = load(state, e).await?;
    let now = state.clock.now();
    let mut sessions = state.blocking(move |s| s.event_sessions(eid)).await?;
    sessions.retain(|(s, _)| {
        s.phase != Phase::Cancelled && s.event.as_ref().is_some_and(|x| x.company_id == cid)
    });
    sessions.sort_by_key(|(s, _)| s.starts_at);
    Ok(CompanyDetail {
        company: l.company_view(&c, user),
        event: l.event_view(user),
        sessions: sessions
            .iter()
            .map(|(s, r)| SessionView::new(s, r, now, false))
            .collect(),
    })
}

/// One change of a company by its editors (organizers, its speakers), or
/// organizers only when `organizers_only` is set.
async fn change_company(
    state: &AppState,
    user: &User,
    cid: u64,
    only_organizers: bool,
    logo: Option<Option<Vec<u8>>>,
    f: impl FnOnce(&mut Company, &Event, &[Company]) -> Result<(), DomainError> + Send + 'static,
) -> Result<CompanyView, StoreError> {
    visible_company(state, user, cid).await?;
    let now = state.clock.now();
    let u = user.clone();
    let c = state
        .blocking(move |s| {
            s.update_company(cid, logo, move |c, e, others, _| {
                let allowed = if only_organizers {
                    organizes(e, &u)
                } else {
                    edits(e, c, &u)
                };
                if !allowed {
                    return Err(if only_organizers {
                        organizers_only()
                    } else {
                        editors_only()
                    });
                }
                f(c, e, others)?;
                c.updated_at = now;
                Ok(c.clone())
            })
        })
        .await
        .map_err(|e| not_found_as(e, no_such_company))?;
    render_company(state, user, &c).await
}

pub async fn update_company(
    state: &AppState,
    user: &User,
    cid: u64,
    form: CompanyInput,
) -> Result<CompanyView, StoreError> {
    change_company(state, user, cid, false, None, move |c, _, others| {
        rules::apply_company_input(c, form)?;
        name_taken(&c.name, others)
    })
    .await
}

pub async fn delete_company(state: &AppState, user: &User, cid: u64) -> Result<(), StoreError> {
    visible_company(state, user, cid).await?;
    let u = user.clone();
    state
        .blocking(move |s| {
            s.delete_company(cid, move |c, e, booked| {
                if !organizes(e, &u) {
                    return Err(organizers_only());
                }
                if booked.iter().any(|b| b.company_id == Some(c.id)) {
                    return Err(DomainError::conflict(
                        "company_has_sessions",
                        format!(
                            "{} still has sessions; cancel them before removing the company.",
                            c.name
                        ),
                    ));
                }
                Ok(())
            })
        })
        .await?;
    tracing::info!(company = cid, "company removed");
    Ok(())
}

pub async fn set_speakers(
    state: &AppState,
    user: &User,
    cid: u64,
    form: UserIdsForm,
) -> Result<CompanyView, StoreError> {
    rules::check_speaker_count(&form.user_ids)?;
    let ids = check_users(state, &form.user_ids).await?;
    change_company(state, user, cid, true, None, move |c, _, _| {
        c.speakers = ids;
        Ok(())
    })
    .await
}

pub async fn set_faqs(
    state: &AppState,
    user: &User,
    cid: u64,
    form: FaqsForm,
) -> Result<CompanyView, StoreError> {
    let faqs = rules::check_faqs(form.faqs)?;
    change_company(state, user, cid, false, None, move |c, _, _| {
        c.faqs = faqs;
        Ok(())
    })
    .await
}

pub async fn set_jobs(
    state: &AppState,
    user: &User,
    cid: u64,
    form: JobsForm,
) -> Result<CompanyView, StoreError> {
    let jobs = rules::check_jobs(form.jobs)?;
    change_company(state, user, cid, false, None, move |c, _, _| {
        c.jobs = jobs;
        Ok(())
    })
    .await
}

/// Refuses people who may not edit company `cid` (checked before an upload is read).
pub async fn authorize_edit_company(
    state: &AppState,
    user: &User,
    cid: u64,
) -> Result<(), StoreError> {
    let (c, e) = visible_company(state, user, cid).await?;
    if !edits(&e, &c, user) {
        return Err(editors_only().into());
    }
    Ok(())
}

/// Stores a logo after checking its type by its bytes.
pub async fn set_logo(
    state: &AppState,
    user: &User,
    cid: u64,
    bytes: Vec<u8>,
) -> Result<CompanyView, StoreError> {
    let content_type = rules::logo_type(&bytes)?.to_owned();
    let sha256 = hex(&crate::util::sha256(&bytes));
    change_company(
        state,
        user,
        cid,
        false,
        Some(Some(bytes)),
        move |c, _, _| {
            let version = c.logo.as_ref().map_or(1, |l| l.version + 1);
            c.logo = Some(rules::LogoMeta {
                content_type,
                version,
                sha256,
            });
            Ok(())
        },
    )
    .await
}

pub async fn delete_logo(
    state: &AppState,
    user: &User,
    cid: u64,
) -> Result<CompanyView, StoreError> {
    change_company(state, user, cid, false, Some(None), move |c, _, _| {
        c.logo = None;
        Ok(())
    })
    .await
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn logo(state: &AppState, user: &User, cid: u64) -> Result<Logo, StoreError> {
    let (c, _) = visible_company(state, user, cid).await?;
    let Some(meta) = c.logo else {
        return Err(
            DomainError::new(ErrorKind::NotFound, "no_logo", "This company has no logo.").into(),
        );
    };
    let bytes = state.blocking(move |s| s.logo(cid)).await?;
    Ok(Logo {
        content_type: meta.content_type,
        etag: format!("\"{}\"", meta.sha256),
        bytes,
    })
}

/* ------------------------------------------------- Slots and booking */

pub async fn slots(state: &AppState, user: &User, cid: u64) -> Result<Slots, StoreError> {
    let (c, e) = visible_company(state, user, cid).await?;
    if !edits(&e, &c, user) {
        return Err(DomainError::forbidden(
            "forbidden",
            "Only the company's speakers and the event's organizers can book its sessions.",
        )
        .into());
    }
    let eid = e.id;
    let booked = state.blocking(move |s| s.booked_for(eid)).await?;
    Ok(rules::slots(
        &e,
        &c,
        &booked,
        organizes(&e, user),
        state.clock.now(),
    ))
}

/// Books a session for a company: checks the form, then the booking rule
/// inside the one transaction that inserts the session and its hosts.
pub async fn book(
    state: &AppState,
    user: &User,
    cid: u64,
    form: BookForm,
) -> Result<BookedView, StoreError> {
    let (c, e) = visible_company(state, user, cid).await?;
    if !edits(&e, &c, user) {
        return Err(DomainError::forbidden(
            "forbidden",
            "Only the company's speakers and the event's organizers can book its sessions.",
        )
        .into());
    }
    let now = state.clock.now();
    let mut s = srules::new_draft(user.id, &e.time_zone, now);
    srules::apply_input(
        &mut s,
        srules::SessionInput {
            title: Some(form.title),
            description: form.description,
            starts_at: Some(form.starts_at),
            ..Default::default()
        },
        now,
    )?;
    let format = Format::parse(&form.format)?;
    let guests = match form.capacity {
        Some(n) => rules::check_capacity(n)?,
        None => e.settings.default_capacity,
    };
    let speakers = match form.speakers {
        Some(ids) => ids,
        None if c.speakers.contains(&user.id) => vec![user.id],
        None => {
            return Err(DomainError::field(
                "invalid_speakers",
                "speakers",
                "Name the company's speakers who host this session.",
            )
            .into());
        }
    };
    let mut speakers_unique = Vec::new();
    for id in speakers {
        if !speakers_unique.contains(&id) {
            speakers_unique.push(id);
        }
    }
    let speakers = speakers_unique;
    if speakers.is_empty() || speakers.len() > 4 {
        return Err(DomainError::field(
            "invalid_speakers",
            "speakers",
            "A session has 1 to 4 of the company's speakers as hosts (seed 003: at most four on screen).",
        )
        .into());
    }
    let duration = form.duration_minutes;
    let m = state.mail_ctx.clone();
    let u = user.clone();
    let hosts = speakers.clone();
    let (s, r) = state
        .blocking(move |st| {
            let ids = hosts.clone();
            st.book_session(cid, &ids, move |new_id, e, c, booked, users| {
                if !edits(e, c, &u) {
                    return Err(editors_only());
                }
                if let Some(x) = hosts.iter().find(|h| !c.speakers.contains(h)) {
                    return Err(DomainError::field(
                        "invalid_speakers",
                        "speakers",
                        format!("Member {x} is not one of {}'s speakers.", c.name),
                    ));
                }
                let req = SlotRequest {
                    starts_at: s.starts_at,
                    duration_minutes: duration,
                    speakers: hosts
                        .iter()
                        .map(|h| {
                            let name = users
                                .get(h)
                                .map_or_else(|| format!("Member {h}"), |u| u.name.clone());
                            (*h, name)
                        })
                        .collect(),
                };
                rules::check_booking(e, c, &req, booked, None, organizes(e, &u), now)?;
                s.duration_minutes = duration;
                s.time_zone = e.time_zone.clone();
                s.phase = Phase::Published;
                s.talk_minutes = 0;
                s.qa_minutes = 0;
                s.capacity = PerRole {
                    host: hosts.len() as u32,
                    presenter: 0,
                    interviewer: 0,
                    guest: guests,
                };
                s.event = Some(EventLink {
                    event_id: e.id,
                    company_id: c.id,
                    format,
                    start_lead_minutes: e.settings.start_lead_minutes,
                    event_name: e.name.clone(),
                    company_name: c.name.clone(),
                    company_logo_url: c.logo_url(),
                });
                s.id = new_id;
                // Each host gets the invite (SEQUENCE 1) in the same transaction.
                let roster = Roster {
                    registrations: hosts
                        .iter()
                        .map(|h| Registration {
                            user_id: *h,
                            role: Role::Host,
                            status: ParticipantStatus::Registered,
                            answers: Answers::default(),
                            order: 0,
                            registered_at: now,
                            ics_sequence: 1,
                        })
                        .collect(),
                    waitlist: Vec::new(),
                };
                let mails = hosts
                    .iter()
                    .filter_map(|h| users.get(h))
                    .map(|u| {
                        crate::mail::compose(
                            &m,
                            &s,
                            u,
                            &crate::mail::MailKind::Registered { role: Role::Host },
                            Some(1),
                            now,
                        )
                    })
                    .collect();
                Ok((s, roster, mails))
            })
        })
        .await
        .map_err(|e| not_found_as(e, no_such_company))?;
    state.mail_wake.notify_one();
    tracing::info!(
        session = s.id,
        company = cid,
        user = user.id,
        "event session booked"
    );
    Ok(BookedView {
        session: SessionView::new(&s, &r, now, true),
    })
}

/* ------------------------------------------------- Program and lobby */

fn local_day(s: &Session) -> jiff::civil::Date {
    let tz = jiff::tz::TimeZone::get(&s.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    s.starts_at.to_zoned(tz).date()
}

pub async fn program(
    state: &AppState,
    user: &User,
    id: u64,
    filter: ProgramFilter,
) -> Result<ProgramView, StoreError> {
    let e = visible_event(state, user, id).await?;
    let format = filter.format.as_deref().map(Format::parse).transpose()?;
    let l = load(state, e).await?;
    let now = state.clock.now();
    let mut sessions = state.blocking(move |s| s.event_sessions(id)).await?;
    sessions.retain(|(s, _)| {
        s.phase != Phase::Cancelled
            && s.event.as_ref().is_some_and(|x| {
                filter.company.is_none_or(|c| c == x.company_id)
                    && format.is_none_or(|f| f == x.format)
            })
    });
    sessions.sort_by_key(|(s, _)| (s.starts_at, s.id));
    let mut days: Vec<ProgramDay> = Vec::new();
    for (s, r) in &sessions {
        let day = local_day(s);
        if days.last().is_none_or(|d| d.day != day) {
            days.push(ProgramDay {
                day,
                sessions: Vec::new(),
            });
        }
        let show = r.active(user.id).is_some();
        days.last_mut()
            .expect("pushed")
            .sessions
            .push(SessionView::new(s, r, now, show));
    }
    Ok(ProgramView {
        event: l.event_view(user),
        days,
    })
}

pub async fn lobby(state: &AppState, user: &User, id: u64) -> Result<LobbyView, StoreError> {
    visible_event(state, user, id).await?;
    let now = state.clock.now();
    let sessions = state.blocking(move |s| s.event_sessions(id)).await?;
    let (mut live, mut next, mut ended) = (Vec::new(), Vec::new(), Vec::new());
    for (s, r) in &sessions {
        if s.phase == Phase::Cancelled {
            continue;
        }
        let view = SessionView::new(s, r, now, false);
        let people = state
            .live
            .running(s.id)
            .map_or(0, |l| l.with_room(|room| room.people.len()));
        let entry = |view: SessionView, thumb: bool| LobbyEntry {
            thumbnail_url: thumb.then(|| format!("/api/sessions/{}/live/preview", view.id)),
            session: view,
            people,
        };
        if view.live_now {
            live.push(entry(view, true));
        } else {
            match view.status {
                Status::Open | Status::Full | Status::Closed => next.push(entry(view, false)),
                Status::Completed => ended.push(entry(view, false)),
                _ => {}
            }
        }
    }
    live.sort_by_key(|e| e.session.starts_at);
    next.sort_by_key(|e| e.session.starts_at);
    next.truncate(10);
    ended.sort_by_key(|e| std::cmp::Reverse(e.session.live_ended_at.unwrap_or(e.session.ends_at)));
    ended.truncate(10);
    Ok(LobbyView { live, next, ended })
}

/* --------------------------------------------- Event sessions, checks */

/// The role of a one-click registration for an event session: guest only.
pub fn event_role(role: Option<&str>) -> Result<Role, DomainError> {
    match role {
        None | Some("guest") => Ok(Role::Guest),
        Some(other) => Err(DomainError::field(
            "invalid_role",
            "role",
            format!(
                "`{other}` is not a role of an event session: participants register as guests."
            ),
        )),
    }
}

/// Re-checks a moved or resized event session against its event (inside
/// the session's transaction): `ctx.booking` carries what it is checked against.
pub fn recheck_booking(
    booking: &crate::store::BookingCtx,
    s: &Session,
    hosts: &[(u64, String)],
    organizer: bool,
    now: Timestamp,
) -> Result<(), DomainError> {
    let req = SlotRequest {
        starts_at: s.starts_at,
        duration_minutes: s.duration_minutes,
        speakers: hosts.to_vec(),
    };
    rules::check_booking(
        &booking.event,
        &booking.company,
        &req,
        &booking.booked,
        Some(s.id),
        organizer,
        now,
    )
}

/// Whether `user` edits the event session in `booking` (organizer or speaker).
pub fn edits_booking(booking: &crate::store::BookingCtx, user: &User) -> bool {
    edits(&booking.event, &booking.company, user)
}

pub fn organizes_booking(booking: &crate::store::BookingCtx, user: &User) -> bool {
    organizes(&booking.event, user)
}

/// The Company tab of the live room for an event session.
pub async fn live_company(
    state: &AppState,
    s: &Session,
) -> Result<Option<rules::LiveCompany>, StoreError> {
    let Some(link) = &s.event else {
        return Ok(None);
    };
    let cid = link.company_id;
    match state.blocking(move |st| st.company(cid)).await {
        Ok(c) => Ok(Some(c.live_block())),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The largest logo accepted (bytes).
pub const MAX_LOGO_BYTES: usize = rules::MAX_LOGO_BYTES;

/// Event statuses a transition may reach (for `http`).
pub use crate::domain::events::EventStatus as EventTarget;

/// Registrations for an event's sessions: not while it is a draft (not
/// found) or after it ended.
pub fn event_open_for_registration(e: &Event) -> Result<(), DomainError> {
    match e.status {
        EventStatus::Published => Ok(()),
        EventStatus::Draft => Err(DomainError::new(
            ErrorKind::NotFound,
            "not_found",
            "There is no such session.",
        )),
        EventStatus::Ended => Err(DomainError::conflict(
            "event_not_open",
            "This event has ended; its sessions take no more registrations.",
        )),
    }
}

/// Checks an edit of an event session (inside its transaction): only the
/// guest places change capacity, the zone stays the event's, and a new time
/// or length is checked exactly like a booking.
pub fn recheck_event_session(
    b: &crate::store::BookingCtx,
    before: &Session,
    next: &Session,
    roster: &Roster,
    users: &HashMap<u64, User>,
    user: &User,
    now: Timestamp,
) -> Result<(), DomainError> {
    if next.time_zone != before.time_zone {
        return Err(DomainError::field(
            "invalid_time_zone",
            "time_zone",
            "An event session runs in its event's time zone.",
        ));
    }
    let c = next.capacity;
    if (c.host, c.presenter, c.interviewer)
        != (
            before.capacity.host,
            before.capacity.presenter,
            before.capacity.interviewer,
        )
    {
        return Err(DomainError::field(
            "invalid_capacity",
            "capacity",
            "An event session's hosts are its speakers; only the guest places can change.",
        ));
    }
    if c.guest != before.capacity.guest {
        rules::check_capacity(c.guest)?;
    }
    if next.starts_at != before.starts_at || next.duration_minutes != before.duration_minutes {
        let hosts: Vec<(u64, String)> = roster
            .registrations
            .iter()
            .filter(|x| x.active() && x.role == Role::Host)
            .map(|x| {
                let name = users
                    .get(&x.user_id)
                    .map_or_else(|| format!("Member {}", x.user_id), |u| u.name.clone());
                (x.user_id, name)
            })
            .collect();
        recheck_booking(b, next, &hosts, organizes_booking(b, user), now)?;
    }
    Ok(())
}
