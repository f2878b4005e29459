//! Sessions, their rosters (registrations + waitlist) and the outbox. Every
//! session action is one write transaction: [`Store::update_session`] loads
//! the session, its roster and the people in it, runs the caller's rule
//! closure, then writes the results and the mails the closure queued.

use std::collections::HashMap;

use jiff::Timestamp;
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::codec::{decode, encode};
use super::{
    MAILS_SENT, OUTBOX, ROSTERS, Result, SESSIONS, Store, StoreError, USER_SESSIONS, USERS, User,
    WAITLISTED, next_id,
};
use crate::domain::DomainError;
use crate::domain::roster::Roster;
use crate::domain::sessions::Session;

/// A mail waiting in (or delivered from) the outbox: the outbox row, written
/// in the same transaction as the change that caused it (`mail` composes it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutMail {
    /// Unique per mail; the sender hands each Message-ID over at most once.
    pub message_id: String,
    pub to_email: String,
    pub to_name: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The ICS invite, if the mail carries one.
    pub ics: Option<String>,
    /// `REQUEST` or `CANCEL` (the ICS METHOD, repeated in the MIME type).
    pub ics_method: Option<String>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub next_attempt_at: Option<Timestamp>,
    #[serde(default)]
    pub last_error: Option<String>,
    /// Set (committed) right before the mail is handed to the SMTP server;
    /// a row found with it set was maybe delivered and is never sent again.
    #[serde(default)]
    pub handed_over_at: Option<Timestamp>,
}

/// A session loaded for one action, with the people it concerns.
#[derive(Debug)]
pub struct SessionCtx {
    pub session: Session,
    pub roster: Roster,
    /// Everyone in the roster or waitlist, plus the extra ids asked for.
    pub users: HashMap<u64, User>,
    /// For an event session: its event, company and what its times are
    /// checked against (`None` for community sessions).
    pub booking: Option<super::BookingCtx>,
    outbox: Vec<OutMail>,
}

impl SessionCtx {
    /// Queues a mail; it commits with the change.
    pub fn send(&mut self, mail: OutMail) {
        self.outbox.push(mail);
    }

    pub fn user(&self, id: u64) -> Option<&User> {
        self.users.get(&id)
    }
}

/// What the mail sender finds in the outbox.
#[derive(Debug, Default)]
pub struct DueMails {
    /// Mails to send now, by outbox id.
    pub due: Vec<(u64, OutMail)>,
    /// Mails claimed by a process that stopped before it knew whether they
    /// arrived; they have left the outbox.
    pub uncertain: Vec<OutMail>,
}

fn load_users(
    tx_users: &impl ReadableTable<u64, &'static [u8]>,
    ids: impl IntoIterator<Item = u64>,
) -> Result<HashMap<u64, User>> {
    let mut out = HashMap::new();
    for id in ids {
        if out.contains_key(&id) {
            continue;
        }
        if let Some(v) = tx_users.get(id)? {
            out.insert(id, decode::<User>("users", v.value())?);
        }
    }
    Ok(out)
}

fn roster_user_ids(r: &Roster) -> impl Iterator<Item = u64> + '_ {
    r.registrations
        .iter()
        .map(|x| x.user_id)
        .chain(r.waitlist.iter().map(|w| w.user_id))
}

/// Queues mails; a mail to a deleted account (no address left) is dropped.
pub(super) fn put_outbox(tx: &WriteTransaction, mails: &[OutMail]) -> Result<()> {
    for m in mails.iter().filter(|m| !m.to_email.is_empty()) {
        let id = next_id(tx, "next_id:mail")?;
        tx.open_table(OUTBOX)?.insert(id, encode(m).as_slice())?;
    }
    Ok(())
}

impl Store {
    /// Stores a new session (its `id` is assigned here).
    pub fn create_session(&self, mut s: Session) -> Result<Session> {
        let tx = self.begin_write()?;
        s.id = next_id(&tx, "next_id:session")?;
        tx.open_table(SESSIONS)?
            .insert(s.id, encode(&s).as_slice())?;
        tx.open_table(ROSTERS)?
            .insert(s.id, encode(&Roster::default()).as_slice())?;
        self.commit(tx)?;
        Ok(s)
    }

    /// One session and its roster.
    pub fn session(&self, id: u64) -> Result<(Session, Roster)> {
        let tx = self.db()?.begin_read()?;
        let s = tx
            .open_table(SESSIONS)?
            .get(id)?
            .ok_or(StoreError::NotFound)?;
        let s: Session = decode("sessions", s.value())?;
        let r = match tx.open_table(ROSTERS)?.get(id)? {
            Some(v) => decode("rosters", v.value())?,
            None => Roster::default(),
        };
        Ok((s, r))
    }

    /// Every session with its roster.
    pub fn sessions(&self) -> Result<Vec<(Session, Roster)>> {
        let tx = self.db()?.begin_read()?;
        let sessions = tx.open_table(SESSIONS)?;
        let rosters = tx.open_table(ROSTERS)?;
        let mut out = Vec::with_capacity(sessions.len()? as usize);
        for row in sessions.iter()? {
            let (k, v) = row.map_err(StoreError::from)?;
            let s: Session = decode("sessions", v.value())?;
            let r = match rosters.get(k.value())? {
                Some(v) => decode("rosters", v.value())?,
                None => Roster::default(),
            };
            out.push((s, r));
        }
        Ok(out)
    }

    /// The sessions a user is or was registered or waiting for.
    pub fn sessions_of_user(&self, user_id: u64) -> Result<Vec<(Session, Roster)>> {
        let ids: Vec<u64> = {
            let tx = self.db()?.begin_read()?;
            let t = tx.open_table(USER_SESSIONS)?;
            t.range((user_id, 0)..=(user_id, u64::MAX))?
                .map(|row| row.map(|(k, _)| k.value().1))
                .collect::<std::result::Result<_, _>>()?
        };
        ids.into_iter().map(|id| self.session(id)).collect()
    }

    /// Users by id (missing ids are skipped).
    pub fn users_by_id(&self, ids: impl IntoIterator<Item = u64>) -> Result<HashMap<u64, User>> {
        let tx = self.db()?.begin_read()?;
        load_users(&tx.open_table(USERS)?, ids)
    }

    /// Runs one action on a session in one write transaction: the closure
    /// checks the rules and changes `ctx`; on `Ok` the session, roster,
    /// changed users, the user→session index and queued mails are written
    /// together; on `Err` nothing is. Returns the closure's value and how
    /// many mails were queued.
    pub fn update_session<T>(
        &self,
        id: u64,
        extra_users: &[u64],
        f: impl FnOnce(&mut SessionCtx) -> std::result::Result<T, DomainError>,
    ) -> Result<(T, usize)> {
        let tx = self.begin_write()?;
        let session: Session = {
            let t = tx.open_table(SESSIONS)?;
            let v = t.get(id)?.ok_or(StoreError::NotFound)?;
            decode("sessions", v.value())?
        };
        let roster: Roster = match tx.open_table(ROSTERS)?.get(id)? {
            Some(v) => decode("rosters", v.value())?,
            None => Roster::default(),
        };
        let users = {
            let t = tx.open_table(USERS)?;
            load_users(
                &t,
                roster_user_ids(&roster).chain(extra_users.iter().copied()),
            )?
        };
        let before_users = users.clone();
        let booking = super::events::booking_ctx(&tx, &session, &roster)?;
        let mut ctx = SessionCtx {
            session,
            roster,
            users,
            booking,
            outbox: Vec::new(),
        };
        let value = f(&mut ctx)?;
        {
            let mut t = tx.open_table(SESSIONS)?;
            t.insert(id, encode(&ctx.session).as_slice())?;
        }
        tx.open_table(ROSTERS)?
            .insert(id, encode(&ctx.roster).as_slice())?;
        if ctx.roster.waitlist.is_empty() {
            tx.open_table(WAITLISTED)?.remove(id)?;
        } else {
            tx.open_table(WAITLISTED)?.insert(id, ())?;
        }
        {
            let mut idx = tx.open_table(USER_SESSIONS)?;
            for uid in roster_user_ids(&ctx.roster) {
                idx.insert((uid, id), ())?;
            }
        }
        {
            let mut t = tx.open_table(USERS)?;
            for (uid, u) in &ctx.users {
                if before_users.get(uid) != Some(u) {
                    t.insert(*uid, encode(u).as_slice())?;
                }
            }
        }
        put_outbox(&tx, &ctx.outbox)?;
        self.commit(tx)?;
        Ok((value, ctx.outbox.len()))
    }

    /// Sessions whose roster has someone waiting, with their rosters.
    pub fn sessions_with_waitlists(&self) -> Result<Vec<(Session, Roster)>> {
        let ids: Vec<u64> = {
            let tx = self.db()?.begin_read()?;
            let t = tx.open_table(WAITLISTED)?;
            t.iter()?
                .map(|row| row.map(|(k, _)| k.value()))
                .collect::<std::result::Result<_, _>>()?
        };
        ids.into_iter().map(|id| self.session(id)).collect()
    }

    /// Mails whose time has come, oldest first, and the mails a stopped
    /// process had claimed but not finished (maybe delivered: they leave
    /// the outbox here and are never sent again). Rows whose Message-ID was
    /// already delivered are dropped rather than sent twice.
    pub fn due_mails(&self, now: Timestamp, limit: usize) -> Result<DueMails> {
        let tx = self.begin_write()?;
        let mut out = Vec::new();
        let mut stale = Vec::new();
        let mut uncertain = Vec::new();
        {
            let outbox = tx.open_table(OUTBOX)?;
            let sent = tx.open_table(MAILS_SENT)?;
            for row in outbox.iter()? {
                let (k, v) = row.map_err(StoreError::from)?;
                let m: OutMail = decode("outbox", v.value())?;
                if sent.get(m.message_id.as_str())?.is_some() {
                    stale.push(k.value());
                    continue;
                }
                if m.handed_over_at.is_some() {
                    stale.push(k.value());
                    uncertain.push(m);
                    continue;
                }
                if m.next_attempt_at.is_none_or(|t| t <= now) {
                    out.push((k.value(), m));
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
        if !stale.is_empty() {
            let mut outbox = tx.open_table(OUTBOX)?;
            for id in stale {
                outbox.remove(id)?;
            }
            let mut sent = tx.open_table(MAILS_SENT)?;
            for m in &uncertain {
                sent.insert(m.message_id.as_str(), now.as_second().max(0) as u64)?;
            }
        }
        self.commit(tx)?;
        Ok(DueMails {
            due: out,
            uncertain,
        })
    }

    /// Records, durably, that mail `id` is about to be handed to the mail
    /// server (the point after which it is never sent again). Refused when
    /// the row is gone or its Message-ID was delivered meanwhile.
    pub fn claim_mail(&self, id: u64, now: Timestamp) -> Result<()> {
        let tx = self.begin_write()?;
        {
            let mut t = tx.open_table(OUTBOX)?;
            let m = t.get(id)?.map(|v| decode::<OutMail>("outbox", v.value()));
            let Some(m) = m else {
                return Err(StoreError::NotFound);
            };
            let mut m = m?;
            if m.handed_over_at.is_some()
                || tx
                    .open_table(MAILS_SENT)?
                    .get(m.message_id.as_str())?
                    .is_some()
            {
                return Err(StoreError::NotFound);
            }
            m.handed_over_at = Some(now);
            t.insert(id, encode(&m).as_slice())?;
        }
        self.commit(tx)?;
        Ok(())
    }

    /// The earliest time a queued mail is due, if any.
    pub fn next_mail_due(&self) -> Result<Option<Timestamp>> {
        let tx = self.db()?.begin_read()?;
        let t = tx.open_table(OUTBOX)?;
        let mut next: Option<Timestamp> = None;
        for row in t.iter()? {
            let (_, v) = row.map_err(StoreError::from)?;
            let m: OutMail = decode("outbox", v.value())?;
            let due = m.next_attempt_at.unwrap_or(m.created_at);
            next = Some(next.map_or(due, |n| n.min(due)));
        }
        Ok(next)
    }

    /// Records a delivery: the row leaves the outbox and its Message-ID is remembered.
    pub fn mark_sent(&self, id: u64, message_id: &str, now: Timestamp) -> Result<()> {
        let tx = self.begin_write()?;
        tx.open_table(OUTBOX)?.remove(id)?;
        tx.open_table(MAILS_SENT)?
            .insert(message_id, now.as_second().max(0) as u64)?;
        self.commit(tx)?;
        Ok(())
    }

    pub fn mark_failed(
        &self,
        id: u64,
        attempts: u32,
        retry_at: Timestamp,
        error: &str,
    ) -> Result<()> {
        let tx = self.begin_write()?;
        {
            let mut t = tx.open_table(OUTBOX)?;
            let m = t.get(id)?.map(|v| decode::<OutMail>("outbox", v.value()));
            if let Some(m) = m {
                let mut m = m?;
                m.attempts = attempts;
                m.next_attempt_at = Some(retry_at);
                // Certainly not delivered: it may be handed over again.
                m.handed_over_at = None;
                m.last_error = Some(error.chars().take(500).collect());
                t.insert(id, encode(&m).as_slice())?;
            }
        }
        self.commit(tx)?;
        Ok(())
    }

    /// Mails not yet delivered.
    pub fn outbox_len(&self) -> Result<u64> {
        let tx = self.db()?.begin_read()?;
        Ok(tx.open_table(OUTBOX)?.len()?)
    }
}
