//! Career-fair events (seeds 001–003): the event with its settings and
//! availability windows, the companies with their profile, FAQs and jobs,
//! checks of every input, logo bytes, and the one booking rule — inside one
//! window, an offered duration, the company's quota, the running-at-once cap,
//! no speaker in two overlapping sessions — which also computes the slots the
//! picker offers, so the picker and the booking never disagree.

use std::borrow::Cow;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{DomainError, ErrorKind, is_bidi_control};

/* -------------------------------------------------------------- Types */

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    Draft,
    Published,
    Ended,
}

/// Per-event settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSettings {
    /// Hosts may start a session this long before its start (seed 003: 5).
    pub start_lead_minutes: u32,
    /// Guest places of a new session.
    pub default_capacity: u32,
    /// The durations a speaker may choose, ascending.
    pub durations: Vec<u32>,
    pub sessions_per_company: u32,
    /// Sessions running at once in the whole event; `None`: no cap.
    pub max_concurrent: Option<u32>,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            start_lead_minutes: 5,
            default_capacity: 20,
            durations: vec![30, 60],
            sessions_per_company: 2,
            max_concurrent: None,
        }
    }
}

/// When sessions may run on one day, in the event's local time (minutes
/// after midnight; `ends` may be 1440, the end of the day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub id: u64,
    pub day: Date,
    pub starts: u32,
    pub ends: u32,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub first_day: Date,
    pub last_day: Date,
    pub time_zone: String,
    pub status: EventStatus,
    pub settings: EventSettings,
    pub windows: Vec<Window>,
    /// Members the admin named organizers (admins organize every event).
    pub organizers: Vec<u64>,
    #[serde(default)]
    pub next_window_id: u64,
    pub created_by: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faq {
    pub question: String,
    pub answer: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    FullTime,
    PartTime,
    Internship,
    WorkingStudent,
    Graduate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub title: String,
    pub location: String,
    pub kind: JobKind,
    pub description: String,
    pub url: String,
}

/// A logo's checked type and version (its bytes are stored apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoMeta {
    pub content_type: String,
    pub version: u64,
    /// SHA-256 of the bytes, hex (the ETag).
    pub sha256: String,
}

/// A company within an event, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Company {
    pub id: u64,
    pub event_id: u64,
    pub name: String,
    pub description: String,
    pub website: Option<String>,
    pub location: String,
    pub speakers: Vec<u64>,
    pub faqs: Vec<Faq>,
    pub jobs: Vec<Job>,
    pub logo: Option<LogoMeta>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The kind of an event session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Workshop,
    Presentation,
    CoffeeChat,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, DomainError> {
        Ok(match s {
            "workshop" => Format::Workshop,
            "presentation" => Format::Presentation,
            "coffee_chat" => Format::CoffeeChat,
            _ => {
                return Err(DomainError::field(
                    "invalid_format",
                    "format",
                    "The format must be workshop, presentation or coffee_chat.",
                ));
            }
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Format::Workshop => "Workshop",
            Format::Presentation => "Presentation",
            Format::CoffeeChat => "Coffee chat",
        }
    }
}

/// What links a session to its event and company (stored in the session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLink {
    pub event_id: u64,
    pub company_id: u64,
    pub format: Format,
    /// The event's start lead (kept equal to the event's setting).
    pub start_lead_minutes: u32,
    /// Names for mails, kept equal to the event's and company's.
    pub event_name: String,
    pub company_name: String,
    #[serde(default)]
    pub company_logo_url: Option<String>,
}

/// The company block of a live snapshot (the live room's Company tab).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveCompany {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub website: Option<String>,
    pub location: String,
    pub logo_url: Option<String>,
    pub faqs: Vec<Faq>,
    pub jobs: Vec<Job>,
}

impl Company {
    /// Where its logo is served (the version busts caches).
    pub fn logo_url(&self) -> Option<String> {
        self.logo
            .as_ref()
            .map(|l| format!("/api/companies/{}/logo?v={}", self.id, l.version))
    }

    pub fn live_block(&self) -> LiveCompany {
        LiveCompany {
            id: self.id,
            name: self.name.clone(),
            description: self.description.clone(),
            website: self.website.clone(),
            location: self.location.clone(),
            logo_url: self.logo_url(),
            faqs: self.faqs.clone(),
            jobs: self.jobs.clone(),
        }
    }
}

/* ------------------------------------------------------ Input checks */

pub const MAX_EVENT_DAYS: i64 = 31;
pub const MAX_WINDOWS_PER_DAY: usize = 20;
pub const MAX_SPEAKERS: usize = 10;
pub const MAX_FAQS: usize = 30;
pub const MAX_JOBS: usize = 50;
pub const MAX_LOGO_BYTES: usize = 1024 * 1024;
pub const MAX_GUESTS: u32 = 50;

fn one_line(
    s: &str,
    min: usize,
    max: usize,
    code: &'static str,
    field: impl Into<Cow<'static, str>>,
    what: &str,
) -> Result<String, DomainError> {
    let t = s.trim();
    let n = t.chars().count();
    if n < min || n > max || t.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        let size = if min > 0 {
            format!("1 to {max} characters")
        } else {
            format!("at most {max} characters")
        };
        return Err(DomainError::field(
            code,
            field,
            format!("{what} must be {size} on one line, without direction overrides."),
        ));
    }
    Ok(t.to_owned())
}

fn text(
    s: &str,
    max: usize,
    code: &'static str,
    field: impl Into<Cow<'static, str>>,
    what: &str,
) -> Result<String, DomainError> {
    let t = s.trim().replace("\r\n", "\n");
    if t.chars().count() > max
        || t.chars()
            .any(|c| (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c))
    {
        return Err(DomainError::field(
            code,
            field,
            format!("{what} can be at most {max} characters of plain text."),
        ));
    }
    Ok(t)
}

/// An http(s) address of at most `max` bytes with a host and no spaces.
pub fn web_url(u: &str, max: usize) -> bool {
    let u = u.trim();
    u.len() <= max
        && u.strip_prefix("https://")
            .or_else(|| u.strip_prefix("http://"))
            .is_some_and(|r| !r.split(['/', '?', '#']).next().unwrap_or("").is_empty())
        && !u.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn parse_day(s: &str, field: &'static str) -> Result<Date, DomainError> {
    let bad = || {
        DomainError::field(
            "invalid_day",
            field,
            "Days are dates such as 2026-12-10 between the years 2000 and 2100.",
        )
    };
    if s.len() != 10 {
        return Err(bad());
    }
    let d: Date = s.parse().map_err(|_| bad())?;
    if !(2000..=2100).contains(&d.year()) {
        return Err(bad());
    }
    Ok(d)
}

/// What an organizer sends for an event's settings (all optional).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    pub start_lead_minutes: Option<u32>,
    pub default_capacity: Option<u32>,
    pub durations: Option<Vec<u32>>,
    pub sessions_per_company: Option<u32>,
    /// Absent: unchanged; `null`: no cap.
    #[serde(default, deserialize_with = "some_u32")]
    pub max_concurrent: Option<Option<u32>>,
}

fn some_u32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(d).map(Some)
}

/// What an organizer sends to create or edit an event.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub first_day: Option<String>,
    pub last_day: Option<String>,
    pub time_zone: Option<String>,
    pub settings: Option<SettingsInput>,
}

fn bad_setting(field: &'static str, message: &str) -> DomainError {
    DomainError::field("invalid_settings", field, message.to_owned())
}

fn apply_settings(s: &mut EventSettings, i: SettingsInput) -> Result<(), DomainError> {
    if let Some(v) = i.start_lead_minutes {
        if v > 60 {
            return Err(bad_setting(
                "settings.start_lead_minutes",
                "The start lead must be 0 to 60 minutes.",
            ));
        }
        s.start_lead_minutes = v;
    }
    if let Some(v) = i.default_capacity {
        if !(1..=MAX_GUESTS).contains(&v) {
            return Err(bad_setting(
                "settings.default_capacity",
                "The default capacity must be 1 to 50 participants.",
            ));
        }
        s.default_capacity = v;
    }
    if let Some(mut v) = i.durations {
        v.sort_unstable();
        v.dedup();
        if v.is_empty() || v.len() > 6 || v.iter().any(|d| !(15..=240).contains(d) || d % 15 != 0) {
            return Err(bad_setting(
                "settings.durations",
                "Offer 1 to 6 durations, each 15 to 240 minutes in steps of 15.",
            ));
        }
        s.durations = v;
    }
    if let Some(v) = i.sessions_per_company {
        if !(1..=50).contains(&v) {
            return Err(bad_setting(
                "settings.sessions_per_company",
                "Sessions per company must be 1 to 50.",
            ));
        }
        s.sessions_per_company = v;
    }
    if let Some(v) = i.max_concurrent {
        if v.is_some_and(|n| !(1..=100).contains(&n)) {
            return Err(bad_setting(
                "settings.max_concurrent",
                "The cap on sessions at once must be 1 to 100, or none.",
            ));
        }
        s.max_concurrent = v;
    }
    Ok(())
}

/// A new draft event with the defaults, before the input is applied.
pub fn new_event(created_by: u64, now: Timestamp) -> Event {
    Event {
        id: 0,
        name: String::new(),
        description: String::new(),
        first_day: now.to_zoned(jiff::tz::TimeZone::UTC).date(),
        last_day: now.to_zoned(jiff::tz::TimeZone::UTC).date(),
        time_zone: "UTC".into(),
        status: EventStatus::Draft,
        settings: EventSettings::default(),
        windows: Vec::new(),
        organizers: Vec::new(),
        next_window_id: 1,
        created_by,
        created_at: now,
        updated_at: now,
    }
}

/// Applies an organizer's input to `e`, checking every field. The caller
/// checks separately that booked sessions still lie inside windows.
pub fn apply_event_input(e: &mut Event, i: EventInput) -> Result<(), DomainError> {
    if let Some(n) = i.name {
        e.name = one_line(&n, 1, 120, "invalid_name", "name", "The name")?;
    }
    if let Some(d) = i.description {
        e.description = text(
            &d,
            5000,
            "invalid_description",
            "description",
            "The description",
        )?;
    }
    if let Some(z) = i.time_zone {
        if jiff::tz::TimeZone::get(&z).is_err() {
            return Err(DomainError::field(
                "invalid_time_zone",
                "time_zone",
                format!("`{z}` is not an IANA time zone name such as Europe/Berlin."),
            ));
        }
        e.time_zone = z;
    }
    if let Some(d) = i.first_day {
        e.first_day = parse_day(&d, "first_day")?;
    }
    if let Some(d) = i.last_day {
        e.last_day = parse_day(&d, "last_day")?;
    }
    if e.last_day < e.first_day {
        return Err(DomainError::field(
            "invalid_day",
            "last_day",
            "The last day cannot be before the first day.",
        ));
    }
    let days = (e.last_day - e.first_day).get_days() as i64 + 1;
    if days > MAX_EVENT_DAYS {
        return Err(DomainError::field(
            "invalid_day",
            "last_day",
            format!("An event lasts at most {MAX_EVENT_DAYS} days."),
        ));
    }
    if let Some(s) = i.settings {
        apply_settings(&mut e.settings, s)?;
    }
    // Windows on days the event no longer has are dropped by the caller's
    // check (`sessions_outside`) or simply kept out of the event's days.
    let (first, last) = (e.first_day, e.last_day);
    e.windows.retain(|w| w.day >= first && w.day <= last);
    Ok(())
}

/// One window as an organizer sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowInput {
    pub day: String,
    pub starts: String,
    pub ends: String,
}

/// `HH:MM` on a 5-minute grid as minutes after midnight (`24:00` allowed as an end).
fn parse_hm(s: &str, allow_end_of_day: bool) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    let v = h * 60 + m;
    let ok = m < 60 && m % 5 == 0 && (h < 24 || (allow_end_of_day && v == 1440));
    ok.then_some(v)
}

pub fn hm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Checks and numbers a whole new list of windows for `e` (sorted by time).
pub fn check_windows(e: &Event, input: Vec<WindowInput>) -> Result<Vec<Window>, DomainError> {
    let mut out: Vec<Window> = Vec::with_capacity(input.len());
    let first_id = e.next_window_id.max(1);
    for (i, w) in input.into_iter().enumerate() {
        let next = first_id + i as u64;
        let field = |part: &str| format!("windows[{i}].{part}");
        let day = parse_day(&w.day, "day")
            .map_err(|x| x.on(field("day")))
            .and_then(|d| {
                if d < e.first_day || d > e.last_day {
                    Err(DomainError::field(
                        "invalid_window",
                        field("day"),
                        format!(
                            "Window {}: the day must lie within the event ({} to {}).",
                            i + 1,
                            e.first_day,
                            e.last_day
                        ),
                    ))
                } else {
                    Ok(d)
                }
            })
            .map_err(|mut x| {
                x.code = "invalid_window";
                x
            })?;
        let starts = parse_hm(&w.starts, false).ok_or_else(|| {
            DomainError::field(
                "invalid_window",
                field("starts"),
                format!(
                    "Window {}: times are HH:MM on a 5-minute grid, such as 09:00.",
                    i + 1
                ),
            )
        })?;
        let ends = parse_hm(&w.ends, true).ok_or_else(|| {
            DomainError::field(
                "invalid_window",
                field("ends"),
                format!(
                    "Window {}: times are HH:MM on a 5-minute grid, such as 12:30.",
                    i + 1
                ),
            )
        })?;
        if ends <= starts {
            return Err(DomainError::field(
                "invalid_window",
                field("ends"),
                format!("Window {}: it must end after it starts.", i + 1),
            ));
        }
        if let Some(other) = out
            .iter()
            .position(|o| o.day == day && o.starts < ends && starts < o.ends)
        {
            return Err(DomainError::field(
                "windows_overlap",
                field("starts"),
                format!(
                    "Windows {} and {} overlap on {day}; windows on one day must not overlap.",
                    other + 1,
                    i + 1
                ),
            ));
        }
        if out.iter().filter(|o| o.day == day).count() >= MAX_WINDOWS_PER_DAY {
            return Err(DomainError::field(
                "invalid_window",
                field("day"),
                format!("At most {MAX_WINDOWS_PER_DAY} windows per day."),
            ));
        }
        out.push(Window {
            id: next,
            day,
            starts,
            ends,
        });
    }
    out.sort_by_key(|w| (w.day, w.starts));
    Ok(out)
}

/// A day's local time as a UTC instant in the event's zone.
pub fn local_instant(zone: &str, day: Date, minutes: u32) -> Timestamp {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let dt = day
        .to_datetime(jiff::civil::Time::midnight())
        .saturating_add(SignedDuration::from_mins(i64::from(minutes)));
    tz.to_ambiguous_timestamp(dt)
        .compatible()
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

impl Window {
    pub fn starts_at(&self, zone: &str) -> Timestamp {
        local_instant(zone, self.day, self.starts)
    }
    pub fn ends_at(&self, zone: &str) -> Timestamp {
        local_instant(zone, self.day, self.ends)
    }
}

/// What an organizer or speaker sends for a company's profile.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompanyInput {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Absent: unchanged; `null` or `""`: none.
    #[serde(default, deserialize_with = "some_string")]
    pub website: Option<Option<String>>,
    pub location: Option<String>,
}

fn some_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

pub fn new_company(event_id: u64, now: Timestamp) -> Company {
    Company {
        id: 0,
        event_id,
        name: String::new(),
        description: String::new(),
        website: None,
        location: String::new(),
        speakers: Vec::new(),
        faqs: Vec::new(),
        jobs: Vec::new(),
        logo: None,
        created_at: now,
        updated_at: now,
    }
}

pub fn apply_company_input(c: &mut Company, i: CompanyInput) -> Result<(), DomainError> {
    if let Some(n) = i.name {
        c.name = one_line(&n, 1, 80, "invalid_name", "name", "The company name")?;
    }
    if let Some(d) = i.description {
        c.description = text(
            &d,
            2000,
            "invalid_description",
            "description",
            "The description",
        )?;
    }
    if let Some(w) = i.website {
        let w = w.map(|w| w.trim().to_owned()).filter(|w| !w.is_empty());
        if let Some(u) = &w
            && !web_url(u, 300)
        {
            return Err(DomainError::field(
                "invalid_website",
                "website",
                "The website must be an address starting with https:// or http:// (at most 300 characters).",
            ));
        }
        c.website = w;
    }
    if let Some(l) = i.location {
        c.location = one_line(&l, 0, 120, "invalid_location", "location", "The location")?;
    }
    Ok(())
}

/// Same name in one event, ignoring case and surrounding space.
pub fn same_name(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaqInput {
    pub question: String,
    pub answer: String,
}

pub fn check_faqs(input: Vec<FaqInput>) -> Result<Vec<Faq>, DomainError> {
    if input.len() > MAX_FAQS {
        return Err(DomainError::field(
            "invalid_faq",
            "faqs",
            format!("A company can list at most {MAX_FAQS} questions."),
        ));
    }
    input
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let question = one_line(
                &f.question,
                1,
                300,
                "invalid_faq",
                format!("faqs[{i}].question"),
                &format!("Question {}", i + 1),
            )?;
            let answer = text(
                &f.answer,
                2000,
                "invalid_faq",
                format!("faqs[{i}].answer"),
                &format!("Answer {}", i + 1),
            )?;
            if answer.is_empty() {
                return Err(DomainError::field(
                    "invalid_faq",
                    format!("faqs[{i}].answer"),
                    format!("Answer {} is empty.", i + 1),
                ));
            }
            Ok(Faq { question, answer })
        })
        .collect()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobInput {
    pub title: String,
    #[serde(default)]
    pub location: String,
    pub kind: String,
    #[serde(default)]
    pub description: String,
    pub url: String,
}

pub fn check_jobs(input: Vec<JobInput>) -> Result<Vec<Job>, DomainError> {
    if input.len() > MAX_JOBS {
        return Err(DomainError::field(
            "invalid_job",
            "jobs",
            format!("A company can list at most {MAX_JOBS} jobs."),
        ));
    }
    input
        .into_iter()
        .enumerate()
        .map(|(i, j)| {
            let n = i + 1;
            let title = one_line(
                &j.title,
                1,
                120,
                "invalid_job",
                format!("jobs[{i}].title"),
                &format!("Job {n}'s title"),
            )?;
            let location = one_line(
                &j.location,
                0,
                120,
                "invalid_job",
                format!("jobs[{i}].location"),
                &format!("Job {n}'s location"),
            )?;
            let kind = match j.kind.as_str() {
                "full_time" => JobKind::FullTime,
                "part_time" => JobKind::PartTime,
                "internship" => JobKind::Internship,
                "working_student" => JobKind::WorkingStudent,
                "graduate" => JobKind::Graduate,
                _ => {
                    return Err(DomainError::field(
                        "invalid_job",
                        format!("jobs[{i}].kind"),
                        format!(
                            "Job {n}: the kind must be full_time, part_time, internship, working_student or graduate."
                        ),
                    ));
                }
            };
            let description = text(
                &j.description,
                3000,
                "invalid_job",
                format!("jobs[{i}].description"),
                &format!("Job {n}'s description"),
            )?;
            let url = j.url.trim().to_owned();
            if !web_url(&url, 500) {
                return Err(DomainError::field(
                    "invalid_job",
                    format!("jobs[{i}].url"),
                    format!(
                        "Job {n}: the link must be an address starting with https:// or http:// (at most 500 characters)."
                    ),
                ));
            }
            Ok(Job {
                title,
                location,
                kind,
                description,
                url,
            })
        })
        .collect()
}

/// The image type of a logo by its bytes (never by what the sender says).
pub fn logo_type(bytes: &[u8]) -> Result<&'static str, DomainError> {
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(DomainError::new(
            ErrorKind::TooLarge,
            "logo_too_large",
            "The logo can be at most 1 MB.",
        ));
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("image/jpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Ok("image/webp")
    } else {
        Err(DomainError::new(
            ErrorKind::UnsupportedType,
            "invalid_logo",
            "The logo must be a PNG, JPEG or WebP image.",
        ))
    }
}

/// The speakers to set: known users, at most [`MAX_SPEAKERS`], no repeats.
pub fn check_speaker_count(ids: &[u64]) -> Result<(), DomainError> {
    if ids.len() > MAX_SPEAKERS {
        return Err(DomainError::field(
            "invalid_speakers",
            "user_ids",
            format!("A company can have at most {MAX_SPEAKERS} speakers."),
        ));
    }
    Ok(())
}

pub fn unknown_user(id: u64) -> DomainError {
    DomainError::field(
        "unknown_user",
        "user_ids",
        format!("There is no member with id {id}."),
    )
}

/* ---------------------------------------------------------- Powers */

/// Admins organize every event; others only the ones they were named for.
pub fn organizes(e: &Event, user_id: u64, is_admin: bool) -> bool {
    is_admin || e.organizers.contains(&user_id)
}

/// Whether `user` may see the event at all (drafts: organizers only).
pub fn visible(e: &Event, user_id: u64, is_admin: bool) -> bool {
    e.status != EventStatus::Draft || organizes(e, user_id, is_admin)
}

/// A publish or end; `None` for a wrong state.
pub fn transition(e: &Event, to: EventStatus) -> Result<EventStatus, DomainError> {
    match (e.status, to) {
        (EventStatus::Draft, EventStatus::Published)
        | (EventStatus::Published, EventStatus::Ended) => Ok(to),
        (from, _) => Err(DomainError::conflict(
            "invalid_transition",
            format!(
                "An event that is {} cannot be {}.",
                status_word(from),
                match to {
                    EventStatus::Published => "published",
                    EventStatus::Ended => "ended",
                    EventStatus::Draft => "made a draft",
                }
            ),
        )),
    }
}

fn status_word(s: EventStatus) -> &'static str {
    match s {
        EventStatus::Draft => "a draft",
        EventStatus::Published => "published",
        EventStatus::Ended => "ended",
    }
}

/* ------------------------------------------------- Booking and slots */

/// A session already booked, as the booking rule sees it.
#[derive(Debug, Clone)]
pub struct Booked {
    pub session_id: u64,
    /// `None` for community sessions.
    pub event_id: Option<u64>,
    pub company_id: Option<u64>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// Its hosts (active registrations with the host role).
    pub hosts: Vec<u64>,
    pub title: String,
}

/// A speaker's or organizer's request for one session.
#[derive(Debug, Clone)]
pub struct SlotRequest {
    pub starts_at: Timestamp,
    pub duration_minutes: u32,
    /// The speakers who host it, with their names (for `speaker_busy`).
    pub speakers: Vec<(u64, String)>,
}

fn mins(m: u32) -> SignedDuration {
    SignedDuration::from_mins(i64::from(m))
}

/// The window the whole range `[start, end)` lies in.
pub fn window_of(e: &Event, start: Timestamp, end: Timestamp) -> Option<&Window> {
    e.windows
        .iter()
        .find(|w| w.starts_at(&e.time_zone) <= start && end <= w.ends_at(&e.time_zone))
}

/// Whether the running-at-once cap leaves room for `[start, end)` given the
/// event's other sessions (`others`, cancelled ones left out by the caller).
fn under_cap(e: &Event, others: &[&Booked], start: Timestamp, end: Timestamp) -> bool {
    let Some(cap) = e.settings.max_concurrent else {
        return true;
    };
    // The number running changes only where a session starts: check `start`
    // and every start inside the range.
    let points = std::iter::once(start).chain(
        others
            .iter()
            .map(|b| b.starts_at)
            .filter(|t| *t > start && *t < end),
    );
    for t in points {
        let running = others
            .iter()
            .filter(|b| b.starts_at <= t && t < b.ends_at)
            .count();
        if running as u32 >= cap {
            return false;
        }
    }
    true
}

/// The booking rule. `sessions` are the event's sessions that are not
/// cancelled plus every other session the named speakers host; `exclude` is
/// the session being moved (its own old slot does not count). Checked in
/// the order the API lists: event open, duration, time, window, quota, cap,
/// speakers.
pub fn check_booking(
    e: &Event,
    company: &Company,
    req: &SlotRequest,
    sessions: &[Booked],
    exclude: Option<u64>,
    booker_organizes: bool,
    now: Timestamp,
) -> Result<(), DomainError> {
    match e.status {
        EventStatus::Ended => {
            return Err(DomainError::conflict(
                "event_not_open",
                "This event has ended; no more sessions can be booked.",
            ));
        }
        EventStatus::Draft if !booker_organizes => {
            return Err(DomainError::conflict(
                "event_not_open",
                "This event is not published yet; only its organizers can book sessions now.",
            ));
        }
        _ => {}
    }
    if !e.settings.durations.contains(&req.duration_minutes) {
        return Err(DomainError::field(
            "invalid_duration",
            "duration_minutes",
            format!(
                "Choose one of the offered durations: {} minutes.",
                e.settings
                    .durations
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if req.starts_at <= now {
        return Err(DomainError::field(
            "invalid_time",
            "starts_at",
            "The start time must be in the future.",
        ));
    }
    let end = req.starts_at + mins(req.duration_minutes);
    if window_of(e, req.starts_at, end).is_none() {
        let mut err = DomainError::conflict(
            "outside_window",
            "The session must lie wholly inside one of the event's time windows.",
        );
        err.field = Some("starts_at".into());
        return Err(err);
    }
    let event_sessions: Vec<&Booked> = sessions
        .iter()
        .filter(|b| b.event_id == Some(e.id) && Some(b.session_id) != exclude)
        .collect();
    let held = event_sessions
        .iter()
        .filter(|b| b.company_id == Some(company.id))
        .count() as u32;
    if held >= e.settings.sessions_per_company {
        return Err(DomainError::conflict(
            "quota_reached",
            format!(
                "{} already holds {} of its {} sessions; cancel one to book another.",
                company.name, held, e.settings.sessions_per_company
            ),
        ));
    }
    if !under_cap(e, &event_sessions, req.starts_at, end) {
        return Err(DomainError::conflict(
            "slot_taken",
            "That slot is taken: the event's cap on sessions running at once is reached during it. Pick another time.",
        ));
    }
    for (uid, name) in &req.speakers {
        if let Some(b) = sessions.iter().find(|b| {
            Some(b.session_id) != exclude
                && b.hosts.contains(uid)
                && b.starts_at < end
                && req.starts_at < b.ends_at
        }) {
            return Err(DomainError::conflict(
                "speaker_busy",
                format!(
                    "{name} already hosts “{}” at that time; a speaker cannot be in two sessions at once.",
                    b.title
                ),
            ));
        }
    }
    Ok(())
}

/// A start time the picker offers, with the durations that fit there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotStart {
    pub at: Timestamp,
    pub local: String,
    pub durations: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowLocal {
    pub starts: String,
    pub ends: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotDay {
    pub day: Date,
    pub windows: Vec<WindowLocal>,
    pub starts: Vec<SlotStart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quota {
    pub booked: u32,
    pub allowed: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slots {
    pub quota: Quota,
    pub durations: Vec<u32>,
    pub days: Vec<SlotDay>,
}

/// Sessions of `company` that count against its quota.
pub fn quota(e: &Event, company: &Company, sessions: &[Booked]) -> Quota {
    Quota {
        booked: sessions
            .iter()
            .filter(|b| b.event_id == Some(e.id) && b.company_id == Some(company.id))
            .count() as u32,
        allowed: e.settings.sessions_per_company,
    }
}

/// What `company` may book now: every start on a 15-minute grid from each
/// window's start with the durations that pass [`check_booking`] (without
/// the speakers, who are checked at booking). Nothing while the quota is used up.
pub fn slots(
    e: &Event,
    company: &Company,
    sessions: &[Booked],
    booker_organizes: bool,
    now: Timestamp,
) -> Slots {
    let quota = quota(e, company, sessions);
    let mut days: Vec<SlotDay> = Vec::new();
    for w in &e.windows {
        if days.last().is_none_or(|d| d.day != w.day) {
            days.push(SlotDay {
                day: w.day,
                windows: Vec::new(),
                starts: Vec::new(),
            });
        }
        let day = days.last_mut().expect("pushed");
        day.windows.push(WindowLocal {
            starts: hm(w.starts),
            ends: hm(w.ends.min(1440)),
        });
        let mut m = w.starts;
        while m < w.ends {
            let at = local_instant(&e.time_zone, w.day, m);
            let durations: Vec<u32> = e
                .settings
                .durations
                .iter()
                .copied()
                .filter(|&d| {
                    let req = SlotRequest {
                        starts_at: at,
                        duration_minutes: d,
                        speakers: Vec::new(),
                    };
                    check_booking(e, company, &req, sessions, None, booker_organizes, now).is_ok()
                })
                .collect();
            if !durations.is_empty() {
                day.starts.push(SlotStart {
                    at,
                    local: hm(m),
                    durations,
                });
            }
            m += 15;
        }
    }
    Slots {
        quota,
        durations: e.settings.durations.clone(),
        days,
    }
}

/// Checks the guest capacity of an event session.
pub fn check_capacity(guests: u32) -> Result<u32, DomainError> {
    if !(1..=MAX_GUESTS).contains(&guests) {
        return Err(DomainError::field(
            "invalid_capacity",
            "capacity",
            format!("An event session has 1 to {MAX_GUESTS} participant places."),
        ));
    }
    Ok(guests)
}

/// Whether a change of days, zone or windows keeps every booked session of
/// the event inside a window; the first session it would leave outside.
pub fn first_outside<'a>(e: &Event, booked: &'a [Booked]) -> Option<&'a Booked> {
    booked
        .iter()
        .filter(|b| b.event_id == Some(e.id))
        .find(|b| window_of(e, b.starts_at, b.ends_at).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn event() -> Event {
        let mut e = new_event(1, ts("2026-11-01T00:00:00Z"));
        e.id = 3;
        e.status = EventStatus::Published;
        apply_event_input(
            &mut e,
            EventInput {
                name: Some("Fair".into()),
                first_day: Some("2026-12-10".into()),
                last_day: Some("2026-12-11".into()),
                time_zone: Some("Europe/Berlin".into()),
                settings: Some(SettingsInput {
                    durations: Some(vec![60, 30]),
                    sessions_per_company: Some(2),
                    max_concurrent: Some(Some(1)),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .unwrap();
        let w = |day: &str, s: &str, en: &str| WindowInput {
            day: day.into(),
            starts: s.into(),
            ends: en.into(),
        };
        e.windows = check_windows(
            &e,
            vec![
                w("2026-12-10", "09:00", "12:00"),
                w("2026-12-10", "13:00", "14:00"),
            ],
        )
        .unwrap();
        e
    }

    fn company(id: u64) -> Company {
        let mut c = new_company(3, ts("2026-11-01T00:00:00Z"));
        c.id = id;
        c.name = format!("C{id}");
        c
    }

    fn booked(id: u64, company: u64, start: &str, m: i64, hosts: &[u64]) -> Booked {
        Booked {
            session_id: id,
            event_id: Some(3),
            company_id: Some(company),
            starts_at: ts(start),
            ends_at: ts(start) + SignedDuration::from_mins(m),
            hosts: hosts.to_vec(),
            title: format!("S{id}"),
        }
    }

    fn req(start: &str, d: u32, speakers: &[u64]) -> SlotRequest {
        SlotRequest {
            starts_at: ts(start),
            duration_minutes: d,
            speakers: speakers.iter().map(|u| (*u, format!("U{u}"))).collect(),
        }
    }

    #[test]
    fn sessions_stored_before_events_still_read_and_keep_the_default_lead() {
        let s = crate::domain::sessions::new_draft(1, "UTC", ts("2026-11-01T00:00:00Z"));
        let mut v = serde_json::to_value(&s).unwrap();
        v.as_object_mut().unwrap().remove("event");
        let old: crate::domain::sessions::Session = serde_json::from_value(v).unwrap();
        assert_eq!(old.event, None);
        let default = SignedDuration::from_mins(15);
        assert_eq!(old.start_lead(default), default);
        let mut linked = old.clone();
        linked.event = Some(EventLink {
            event_id: 1,
            company_id: 2,
            format: Format::Workshop,
            start_lead_minutes: 5,
            event_name: "Fair".into(),
            company_name: "Acme".into(),
            company_logo_url: None,
        });
        assert_eq!(linked.start_lead(default), SignedDuration::from_mins(5));
    }

    #[test]
    fn windows_are_checked() {
        let e = event();
        // 09:00 Berlin is 08:00 UTC in December.
        assert_eq!(
            e.windows[0].starts_at(&e.time_zone),
            ts("2026-12-10T08:00:00Z")
        );
        let w = |day: &str, s: &str, en: &str| WindowInput {
            day: day.into(),
            starts: s.into(),
            ends: en.into(),
        };
        let cases = [
            (
                vec![w("2026-12-10", "10:00", "09:00")],
                "invalid_window",
                "windows[0].ends",
            ),
            (
                vec![w("2026-12-10", "09:03", "10:00")],
                "invalid_window",
                "windows[0].starts",
            ),
            (
                vec![w("2026-12-12", "09:00", "10:00")],
                "invalid_window",
                "windows[0].day",
            ),
            (
                vec![w("2026-12-10", "9:00", "10:00")],
                "invalid_window",
                "windows[0].starts",
            ),
            (
                vec![
                    w("2026-12-10", "09:00", "11:00"),
                    w("2026-12-10", "10:30", "12:00"),
                ],
                "windows_overlap",
                "windows[1].starts",
            ),
        ];
        for (input, code, field) in cases {
            let err = check_windows(&e, input).unwrap_err();
            assert_eq!((err.code, err.field.as_deref()), (code, Some(field)));
        }
        assert!(check_windows(&e, vec![w("2026-12-11", "22:00", "24:00")]).is_ok());
    }

    #[test]
    fn booking_rule_in_order() {
        let e = event();
        let c1 = company(7);
        let now = ts("2026-12-01T00:00:00Z");
        let ok = |r: &SlotRequest, s: &[Booked]| check_booking(&e, &c1, r, s, None, false, now);
        let code = |r: Result<(), DomainError>| r.err().map(|x| x.code);
        assert_eq!(code(ok(&req("2026-12-10T08:00:00Z", 60, &[9]), &[])), None);
        assert_eq!(
            code(ok(&req("2026-12-10T08:00:00Z", 45, &[9]), &[])),
            Some("invalid_duration")
        );
        // 11:30 + 60 leaves the 09:00–12:00 window.
        assert_eq!(
            code(ok(&req("2026-12-10T10:30:00Z", 60, &[9]), &[])),
            Some("outside_window")
        );
        // Across the lunch gap.
        assert_eq!(
            code(ok(&req("2026-12-10T10:45:00Z", 60, &[9]), &[])),
            Some("outside_window")
        );
        let two = [
            booked(1, 7, "2026-12-10T08:00:00Z", 30, &[9]),
            booked(2, 7, "2026-12-10T12:00:00Z", 30, &[9]),
        ];
        assert_eq!(
            code(ok(&req("2026-12-10T09:00:00Z", 30, &[9]), &two)),
            Some("quota_reached")
        );
        let other = [booked(1, 8, "2026-12-10T08:30:00Z", 60, &[11])];
        // Cap 1: overlapping any minute of another session is taken.
        assert_eq!(
            code(ok(&req("2026-12-10T08:00:00Z", 60, &[9]), &other)),
            Some("slot_taken")
        );
        assert_eq!(
            code(ok(&req("2026-12-10T08:00:00Z", 30, &[9]), &other)),
            None
        );
        // A community session the speaker hosts.
        let community = [Booked {
            session_id: 5,
            event_id: None,
            company_id: None,
            starts_at: ts("2026-12-10T08:15:00Z"),
            ends_at: ts("2026-12-10T08:45:00Z"),
            hosts: vec![9],
            title: "Talk".into(),
        }];
        let e2 = code(ok(&req("2026-12-10T08:00:00Z", 30, &[9]), &community));
        assert_eq!(e2, Some("speaker_busy"));
        // Moving a session ignores its own old slot.
        let own = [booked(1, 7, "2026-12-10T08:00:00Z", 60, &[9])];
        assert!(
            check_booking(
                &e,
                &c1,
                &req("2026-12-10T08:30:00Z", 60, &[9]),
                &own,
                Some(1),
                false,
                now
            )
            .is_ok()
        );
    }

    #[test]
    fn slots_agree_with_the_rule() {
        let e = event();
        let c = company(7);
        let now = ts("2026-12-01T00:00:00Z");
        let taken = [booked(1, 8, "2026-12-10T09:00:00Z", 60, &[11])];
        let s = slots(&e, &c, &taken, false, now);
        assert_eq!(s.days.len(), 1);
        let locals: Vec<_> = s.days[0]
            .starts
            .iter()
            .map(|x| (x.local.as_str(), x.durations.clone()))
            .collect();
        assert_eq!(locals[0], ("09:00", vec![30, 60]));
        assert_eq!(locals[1], ("09:15", vec![30]));
        assert!(!locals.iter().any(|l| l.0 == "10:00" || l.0 == "10:30"));
        assert_eq!(locals.last().unwrap(), &("13:30", vec![30]));
        for d in &s.days {
            for st in &d.starts {
                for dur in &st.durations {
                    let r = SlotRequest {
                        starts_at: st.at,
                        duration_minutes: *dur,
                        speakers: vec![],
                    };
                    assert!(check_booking(&e, &c, &r, &taken, None, false, now).is_ok());
                }
            }
        }
    }

    #[test]
    fn inputs_are_checked() {
        let mut e = event();
        let bad = [
            (
                EventInput {
                    name: Some(" ".into()),
                    ..Default::default()
                },
                "invalid_name",
                "name",
            ),
            (
                EventInput {
                    first_day: Some("2026-13-01".into()),
                    ..Default::default()
                },
                "invalid_day",
                "first_day",
            ),
            (
                EventInput {
                    last_day: Some("2026-12-01".into()),
                    ..Default::default()
                },
                "invalid_day",
                "last_day",
            ),
            (
                EventInput {
                    last_day: Some("2027-02-01".into()),
                    ..Default::default()
                },
                "invalid_day",
                "last_day",
            ),
            (
                EventInput {
                    time_zone: Some("Mars/Base".into()),
                    ..Default::default()
                },
                "invalid_time_zone",
                "time_zone",
            ),
            (
                EventInput {
                    settings: Some(SettingsInput {
                        durations: Some(vec![20]),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "invalid_settings",
                "settings.durations",
            ),
            (
                EventInput {
                    settings: Some(SettingsInput {
                        default_capacity: Some(51),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "invalid_settings",
                "settings.default_capacity",
            ),
        ];
        for (i, code, field) in bad {
            let err = apply_event_input(&mut e.clone(), i).unwrap_err();
            assert_eq!((err.code, err.field.as_deref()), (code, Some(field)));
        }
        apply_event_input(&mut e, EventInput::default()).unwrap();
        let job = |url: &str| JobInput {
            title: "Dev".into(),
            location: String::new(),
            kind: "full_time".into(),
            description: String::new(),
            url: url.into(),
        };
        let err =
            check_jobs(vec![job("https://a.example/j"), job("javascript:alert(1)")]).unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            ("invalid_job", Some("jobs[1].url"))
        );
        assert_eq!(
            logo_type(b"<html><script>").unwrap_err().code,
            "invalid_logo"
        );
        assert_eq!(logo_type(b"RIFF\0\0\0\0WEBPVP8 ").unwrap(), "image/webp");
        assert_eq!(logo_type(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap(), "image/jpeg");
        assert_eq!(
            logo_type(&vec![0; MAX_LOGO_BYTES + 1]).unwrap_err().code,
            "logo_too_large"
        );
    }
}
