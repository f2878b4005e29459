//! Session services shared by the endpoints and the housekeeping task: one
//! transaction per action with its mails, the presenters in talk order,
//! and the waitlist sweep.

use jiff::Timestamp;

use super::AppState;
use crate::domain::DomainError;
use crate::domain::roster::{Effect, Roster};
use crate::domain::sessions::{PresenterSlot, Session, Status};
use crate::mail::{self, MailContext, MailKind};
use crate::store::{SessionCtx, StoreError};

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

impl AppState {
    /// Runs one session action in one transaction and wakes the mail sender
    /// when it queued mail.
    pub async fn session_action<T: Send + 'static>(
        &self,
        id: u64,
        extra_users: Vec<u64>,
        f: impl FnOnce(&mut SessionCtx) -> Result<T, DomainError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (value, mails) = self
            .blocking(move |s| s.update_session(id, &extra_users, f))
            .await?;
        if mails > 0 {
            self.mail_wake.notify_one();
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
