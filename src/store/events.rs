//! Career-fair events: events, their companies (logo bytes apart), and the
//! index of the sessions booked in each event. A booking is one write
//! transaction that reads the event's sessions and the speakers' other
//! sessions, runs the domain's booking rule and inserts the session with its
//! hosts; redb runs one write transaction at a time, so two bookings of the
//! same slot cannot both pass the rule.

use std::collections::{BTreeSet, HashMap};

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

use super::codec::{decode, decode_blob, encode, encode_blob};
use super::{
    COMPANIES, COMPANY_LOGOS, EVENT_COMPANIES, EVENT_SESSIONS, EVENTS, OutMail, ROSTERS, Result,
    SESSIONS, Store, StoreError, USER_SESSIONS, USERS, User, next_id,
};
use crate::domain::DomainError;
use crate::domain::events::{Booked, Company, Event};
use crate::domain::roster::Roster;
use crate::domain::sessions::{Phase, Role, Session};

/// What a change of an event session must be checked against (loaded in
/// the same transaction as the session).
#[derive(Debug, Clone)]
pub struct BookingCtx {
    pub event: Event,
    pub company: Company,
    /// The event's sessions that are not cancelled, and every session the
    /// session's hosts host.
    pub booked: Vec<Booked>,
}

fn booked_of(s: &Session, r: &Roster) -> Booked {
    Booked {
        session_id: s.id,
        event_id: s.event.as_ref().map(|e| e.event_id),
        company_id: s.event.as_ref().map(|e| e.company_id),
        starts_at: s.starts_at,
        ends_at: s.ends_at(),
        hosts: r
            .registrations
            .iter()
            .filter(|x| x.active() && x.role == Role::Host)
            .map(|x| x.user_id)
            .collect(),
        title: s.title.clone(),
    }
}

fn get<T: serde::de::DeserializeOwned>(
    t: &impl ReadableTable<u64, &'static [u8]>,
    table: &'static str,
    id: u64,
) -> Result<T> {
    let v = t.get(id)?.ok_or(StoreError::NotFound)?;
    decode(table, v.value())
}

fn session_and_roster(tx: &WriteTransaction, id: u64) -> Result<Option<(Session, Roster)>> {
    let Some(v) = tx
        .open_table(SESSIONS)?
        .get(id)?
        .map(|v| v.value().to_vec())
    else {
        return Ok(None);
    };
    let s: Session = decode("sessions", &v)?;
    let r = match tx.open_table(ROSTERS)?.get(id)? {
        Some(v) => decode("rosters", v.value())?,
        None => Roster::default(),
    };
    Ok(Some((s, r)))
}

/// The event's live sessions and every session `speakers` are in, as the
/// booking rule sees them (cancelled ones left out).
pub(super) fn booked_in(
    tx: &WriteTransaction,
    event_id: u64,
    speakers: &[u64],
) -> Result<Vec<Booked>> {
    let mut ids = BTreeSet::new();
    {
        let t = tx.open_table(EVENT_SESSIONS)?;
        for row in t.range((event_id, 0)..=(event_id, u64::MAX))? {
            ids.insert(row.map_err(StoreError::from)?.0.value().1);
        }
        let us = tx.open_table(USER_SESSIONS)?;
        for uid in speakers {
            for row in us.range((*uid, 0)..=(*uid, u64::MAX))? {
                ids.insert(row.map_err(StoreError::from)?.0.value().1);
            }
        }
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some((s, r)) = session_and_roster(tx, id)?
            && s.phase != Phase::Cancelled
        {
            out.push(booked_of(&s, &r));
        }
    }
    Ok(out)
}

/// Loads what a change of event session `s` is checked against.
pub(super) fn booking_ctx(
    tx: &WriteTransaction,
    s: &Session,
    r: &Roster,
) -> Result<Option<BookingCtx>> {
    let Some(link) = &s.event else {
        return Ok(None);
    };
    // A company is removed only when its sessions are cancelled; those stay
    // plain sessions to change (nothing to check them against).
    let event: Event = match get(&tx.open_table(EVENTS)?, "events", link.event_id) {
        Err(StoreError::NotFound) => return Ok(None),
        other => other?,
    };
    let company: Company = match get(&tx.open_table(COMPANIES)?, "companies", link.company_id) {
        Err(StoreError::NotFound) => return Ok(None),
        other => other?,
    };
    let hosts = booked_of(s, r).hosts;
    let booked = booked_in(tx, link.event_id, &hosts)?;
    Ok(Some(BookingCtx {
        event,
        company,
        booked,
    }))
}

/// Keeps the names and start lead that event sessions carry equal to their
/// event's and company's (same transaction as the change).
fn relink_sessions(tx: &WriteTransaction, event: &Event, companies: &[Company]) -> Result<()> {
    let ids: Vec<u64> = {
        let t = tx.open_table(EVENT_SESSIONS)?;
        t.range((event.id, 0)..=(event.id, u64::MAX))?
            .map(|row| row.map(|(k, _)| k.value().1))
            .collect::<std::result::Result<_, _>>()?
    };
    let by_id: HashMap<u64, &Company> = companies.iter().map(|c| (c.id, c)).collect();
    let mut t = tx.open_table(SESSIONS)?;
    for id in ids {
        let Some(v) = t.get(id)?.map(|v| v.value().to_vec()) else {
            continue;
        };
        let mut s: Session = decode("sessions", &v)?;
        let Some(link) = s.event.as_mut() else {
            continue;
        };
        let (company_name, logo_url) = by_id.get(&link.company_id).map_or_else(
            || (link.company_name.clone(), link.company_logo_url.clone()),
            |c| (c.name.clone(), c.logo_url()),
        );
        if link.start_lead_minutes == event.settings.start_lead_minutes
            && link.event_name == event.name
            && link.company_name == company_name
            && link.company_logo_url == logo_url
        {
            continue;
        }
        link.start_lead_minutes = event.settings.start_lead_minutes;
        link.event_name = event.name.clone();
        link.company_name = company_name;
        link.company_logo_url = logo_url;
        t.insert(id, encode(&s).as_slice())?;
    }
    Ok(())
}

impl Store {
    pub fn create_event(&self, mut e: Event) -> Result<Event> {
        let tx = self.begin_write()?;
        e.id = next_id(&tx, "next_id:event")?;
        tx.open_table(EVENTS)?.insert(e.id, encode(&e).as_slice())?;
        self.commit(tx)?;
        Ok(e)
    }

    pub fn event(&self, id: u64) -> Result<Event> {
        let tx = self.db()?.begin_read()?;
        get(&tx.open_table(EVENTS)?, "events", id)
    }

    pub fn events(&self) -> Result<Vec<Event>> {
        let tx = self.db()?.begin_read()?;
        let t = tx.open_table(EVENTS)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (_, v) = row.map_err(StoreError::from)?;
            out.push(decode("events", v.value())?);
        }
        Ok(out)
    }

    /// One change of an event in one transaction: `f` gets the event and the
    /// booked sessions of the event (to refuse a change that leaves one
    /// outside every window); on `Ok` the event is written and its sessions
    /// follow its name and start lead.
    pub fn update_event<T>(
        &self,
        id: u64,
        f: impl FnOnce(&mut Event, &[Booked]) -> std::result::Result<T, DomainError>,
    ) -> Result<T> {
        let tx = self.begin_write()?;
        let mut e: Event = get(&tx.open_table(EVENTS)?, "events", id)?;
        let booked = booked_in(&tx, id, &[])?;
        let value = f(&mut e, &booked)?;
        tx.open_table(EVENTS)?.insert(id, encode(&e).as_slice())?;
        let companies = companies_in(&tx, id)?;
        relink_sessions(&tx, &e, &companies)?;
        self.commit(tx)?;
        Ok(value)
    }

    /// The companies of an event, in the order they were added.
    pub fn companies_of(&self, event_id: u64) -> Result<Vec<Company>> {
        let tx = self.db()?.begin_read()?;
        let idx = tx.open_table(EVENT_COMPANIES)?;
        let t = tx.open_table(COMPANIES)?;
        let mut out = Vec::new();
        for row in idx.range((event_id, 0)..=(event_id, u64::MAX))? {
            let cid = row.map_err(StoreError::from)?.0.value().1;
            out.push(get(&t, "companies", cid)?);
        }
        Ok(out)
    }

    pub fn company(&self, id: u64) -> Result<Company> {
        let tx = self.db()?.begin_read()?;
        get(&tx.open_table(COMPANIES)?, "companies", id)
    }

    /// Adds a company to an event: `f` gets the event and its companies (to
    /// refuse a taken name) and fills in the new company.
    pub fn create_company(
        &self,
        event_id: u64,
        f: impl FnOnce(&Event, &[Company]) -> std::result::Result<Company, DomainError>,
    ) -> Result<Company> {
        let tx = self.begin_write()?;
        let e: Event = get(&tx.open_table(EVENTS)?, "events", event_id)?;
        let others = companies_in(&tx, event_id)?;
        let mut c = f(&e, &others)?;
        c.id = next_id(&tx, "next_id:company")?;
        c.event_id = event_id;
        tx.open_table(COMPANIES)?
            .insert(c.id, encode(&c).as_slice())?;
        tx.open_table(EVENT_COMPANIES)?
            .insert((event_id, c.id), ())?;
        self.commit(tx)?;
        Ok(c)
    }

    /// One change of a company: `f` gets the company, its event, the other
    /// companies of the event and the event's booked sessions; `logo` (when
    /// given) replaces (`Some(bytes)`) or removes (`None`) the logo's bytes.
    pub fn update_company<T>(
        &self,
        id: u64,
        logo: Option<Option<Vec<u8>>>,
        f: impl FnOnce(
            &mut Company,
            &Event,
            &[Company],
            &[Booked],
        ) -> std::result::Result<T, DomainError>,
    ) -> Result<T> {
        let tx = self.begin_write()?;
        let mut c: Company = get(&tx.open_table(COMPANIES)?, "companies", id)?;
        let e: Event = get(&tx.open_table(EVENTS)?, "events", c.event_id)?;
        let others: Vec<Company> = companies_in(&tx, c.event_id)?
            .into_iter()
            .filter(|o| o.id != id)
            .collect();
        let booked = booked_in(&tx, c.event_id, &[])?;
        let before = (c.name.clone(), c.logo_url());
        let value = f(&mut c, &e, &others, &booked)?;
        tx.open_table(COMPANIES)?
            .insert(id, encode(&c).as_slice())?;
        match logo {
            Some(Some(bytes)) => {
                tx.open_table(COMPANY_LOGOS)?
                    .insert(id, encode_blob(&bytes).as_slice())?;
            }
            Some(None) => {
                tx.open_table(COMPANY_LOGOS)?.remove(id)?;
            }
            None => {}
        }
        if before != (c.name.clone(), c.logo_url()) {
            let mut all = others;
            all.push(c.clone());
            relink_sessions(&tx, &e, &all)?;
        }
        self.commit(tx)?;
        Ok(value)
    }

    /// Removes a company after `f` allowed it (given its event's booked sessions).
    pub fn delete_company(
        &self,
        id: u64,
        f: impl FnOnce(&Company, &Event, &[Booked]) -> std::result::Result<(), DomainError>,
    ) -> Result<()> {
        let tx = self.begin_write()?;
        let c: Company = get(&tx.open_table(COMPANIES)?, "companies", id)?;
        let e: Event = get(&tx.open_table(EVENTS)?, "events", c.event_id)?;
        let booked = booked_in(&tx, c.event_id, &[])?;
        f(&c, &e, &booked)?;
        tx.open_table(COMPANIES)?.remove(id)?;
        tx.open_table(EVENT_COMPANIES)?.remove((c.event_id, id))?;
        tx.open_table(COMPANY_LOGOS)?.remove(id)?;
        self.commit(tx)?;
        Ok(())
    }

    /// A company's logo bytes.
    pub fn logo(&self, id: u64) -> Result<Vec<u8>> {
        let tx = self.db()?.begin_read()?;
        let t = tx.open_table(COMPANY_LOGOS)?;
        let v = t.get(id)?.ok_or(StoreError::NotFound)?;
        decode_blob("company_logos", v.value())
    }

    /// Every session booked in an event (cancelled ones too), with rosters.
    pub fn event_sessions(&self, event_id: u64) -> Result<Vec<(Session, Roster)>> {
        let ids: Vec<u64> = {
            let tx = self.db()?.begin_read()?;
            let t = tx.open_table(EVENT_SESSIONS)?;
            t.range((event_id, 0)..=(event_id, u64::MAX))?
                .map(|row| row.map(|(k, _)| k.value().1))
                .collect::<std::result::Result<_, _>>()?
        };
        ids.into_iter().map(|id| self.session(id)).collect()
    }

    /// What the booking rule sees for a company's slot picker.
    pub fn booked_for(&self, event_id: u64) -> Result<Vec<Booked>> {
        Ok(self
            .event_sessions(event_id)?
            .iter()
            .filter(|(s, _)| s.phase != Phase::Cancelled)
            .map(|(s, r)| booked_of(s, r))
            .collect())
    }

    /// Books a session for a company in one transaction: `f` gets the new
    /// session's id, the event, the company, the booked sessions (the
    /// event's and the speakers' others) and the speakers as users, runs the
    /// booking rule and returns the new session with its roster (the hosts)
    /// and the mails to queue. All are stored with the indexes; on `Err`
    /// nothing is.
    pub fn book_session(
        &self,
        company_id: u64,
        speakers: &[u64],
        f: impl FnOnce(
            u64,
            &Event,
            &Company,
            &[Booked],
            &HashMap<u64, User>,
        ) -> std::result::Result<(Session, Roster, Vec<OutMail>), DomainError>,
    ) -> Result<(Session, Roster)> {
        let tx = self.begin_write()?;
        let c: Company = get(&tx.open_table(COMPANIES)?, "companies", company_id)?;
        let e: Event = get(&tx.open_table(EVENTS)?, "events", c.event_id)?;
        let booked = booked_in(&tx, c.event_id, speakers)?;
        let users = {
            let t = tx.open_table(USERS)?;
            let mut out = HashMap::new();
            for id in speakers {
                if let Some(v) = t.get(*id)? {
                    out.insert(*id, decode::<User>("users", v.value())?);
                }
            }
            out
        };
        let id = next_id(&tx, "next_id:session")?;
        let (mut s, r, mails) = f(id, &e, &c, &booked, &users)?;
        s.id = id;
        tx.open_table(SESSIONS)?
            .insert(s.id, encode(&s).as_slice())?;
        tx.open_table(ROSTERS)?
            .insert(s.id, encode(&r).as_slice())?;
        {
            let mut idx = tx.open_table(USER_SESSIONS)?;
            for x in &r.registrations {
                idx.insert((x.user_id, s.id), ())?;
            }
        }
        tx.open_table(EVENT_SESSIONS)?.insert((e.id, s.id), ())?;
        super::sessions::put_outbox(&tx, &mails)?;
        self.commit(tx)?;
        Ok((s, r))
    }
}

fn companies_in(tx: &WriteTransaction, event_id: u64) -> Result<Vec<Company>> {
    let idx = tx.open_table(EVENT_COMPANIES)?;
    let t = tx.open_table(COMPANIES)?;
    let mut out = Vec::new();
    for row in idx.range((event_id, 0)..=(event_id, u64::MAX))? {
        let cid = row.map_err(StoreError::from)?.0.value().1;
        out.push(get(&t, "companies", cid)?);
    }
    Ok(out)
}
