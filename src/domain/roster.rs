//! Who is in a session: registrations per role, the waitlist per role with
//! time-limited offers, and the rules that move people between them. Every
//! change returns [`Effect`]s (who must be told what) for the caller to mail.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::DomainError;
use super::sessions::{PerRole, Role, Session};

/// Participant statuses an admin can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantStatus {
    Registered,
    Confirmed,
    Attended,
    NoShow,
    Cancelled,
}

impl ParticipantStatus {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Ok(match s {
            "registered" => Self::Registered,
            "confirmed" => Self::Confirmed,
            "attended" => Self::Attended,
            "no_show" => Self::NoShow,
            "cancelled" => Self::Cancelled,
            _ => {
                return Err(DomainError::field(
                    "invalid_status",
                    "status",
                    format!(
                        "`{s}` is not a participant status; use registered, confirmed, attended, no_show or cancelled."
                    ),
                ));
            }
        })
    }
}

/// What a member filled in when registering.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answers {
    pub talk_title: Option<String>,
    pub talk_description: Option<String>,
    pub topics: Option<String>,
}

impl Answers {
    /// Trims and checks the optional texts; keeps only what fits the role.
    pub fn validate(self, role: Role) -> Result<Answers, DomainError> {
        fn clean(
            v: Option<String>,
            max: usize,
            field: &'static str,
        ) -> Result<Option<String>, DomainError> {
            let v = v
                .map(|s| s.trim().replace("\r\n", "\n"))
                .filter(|s| !s.is_empty());
            if v.as_ref().is_some_and(|s| s.chars().count() > max) {
                return Err(DomainError::field(
                    "invalid_answer",
                    field,
                    format!("This text can be at most {max} characters."),
                ));
            }
            Ok(v)
        }
        let talk_title = clean(self.talk_title, 120, "talk_title")?;
        if talk_title
            .as_ref()
            .is_some_and(|t| t.chars().any(|c| c == '\n' || super::is_bidi_control(c)))
        {
            return Err(DomainError::field(
                "invalid_answer",
                "talk_title",
                "The talk title must fit on one line, without direction overrides.",
            ));
        }
        let talk_description = clean(self.talk_description, 2000, "talk_description")?;
        let topics = clean(self.topics, 2000, "topics")?;
        Ok(match role {
            Role::Presenter => Answers {
                talk_title,
                talk_description,
                topics: None,
            },
            Role::Guest => Answers {
                topics,
                ..Default::default()
            },
            _ => Answers::default(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub user_id: u64,
    pub role: Role,
    pub status: ParticipantStatus,
    pub answers: Answers,
    /// Position among presenters (lower talks first).
    pub order: u32,
    pub registered_at: Timestamp,
    /// The ICS SEQUENCE of this registration's invite; bumped on every mail.
    pub ics_sequence: u32,
}

impl Registration {
    pub fn active(&self) -> bool {
        self.status != ParticipantStatus::Cancelled
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitEntry {
    pub user_id: u64,
    pub role: Role,
    pub answers: Answers,
    pub joined_at: Timestamp,
    /// Set while a freed place is held for this person.
    pub offer_expires_at: Option<Timestamp>,
}

/// Who must be told what after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Registered {
        user_id: u64,
        role: Role,
    },
    Cancelled {
        user_id: u64,
    },
    Offered {
        user_id: u64,
        role: Role,
        expires_at: Timestamp,
    },
    RoleChanged {
        user_id: u64,
        from: Role,
        to: Role,
    },
    Removed {
        user_id: u64,
    },
}

/// The outcome of a registration request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    Confirmed,
    Waitlisted { position: usize },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    pub registrations: Vec<Registration>,
    pub waitlist: Vec<WaitEntry>,
}

fn full(role: Role) -> DomainError {
    DomainError::conflict(
        "role_full",
        format!("There is no free {} place.", role.label().to_lowercase()),
    )
}

impl Roster {
    pub fn registration(&self, user_id: u64) -> Option<&Registration> {
        self.registrations.iter().find(|r| r.user_id == user_id)
    }

    pub fn active(&self, user_id: u64) -> Option<&Registration> {
        self.registration(user_id).filter(|r| r.active())
    }

    pub fn waiting(&self, user_id: u64) -> Option<&WaitEntry> {
        self.waitlist.iter().find(|w| w.user_id == user_id)
    }

    /// 1-based position of a user in their role's waitlist.
    pub fn position(&self, user_id: u64) -> Option<usize> {
        let w = self.waiting(user_id)?;
        Some(
            self.waitlist
                .iter()
                .filter(|x| x.role == w.role)
                .position(|x| x.user_id == user_id)?
                + 1,
        )
    }

    fn offer_open(w: &WaitEntry, now: Timestamp) -> bool {
        w.offer_expires_at.is_some_and(|t| t > now)
    }

    /// Active registrations per role.
    pub fn filled(&self) -> PerRole {
        let mut p = PerRole::default();
        for r in self.registrations.iter().filter(|r| r.active()) {
            *p.get_mut(r.role) += 1;
        }
        p
    }

    /// Places taken: registrations plus places held by open offers.
    pub fn taken(&self, now: Timestamp) -> PerRole {
        let mut p = self.filled();
        for w in self.waitlist.iter().filter(|w| Self::offer_open(w, now)) {
            *p.get_mut(w.role) += 1;
        }
        p
    }

    pub fn waiting_counts(&self) -> PerRole {
        let mut p = PerRole::default();
        for w in &self.waitlist {
            *p.get_mut(w.role) += 1;
        }
        p
    }

    fn next_order(&self) -> u32 {
        self.registrations
            .iter()
            .map(|r| r.order + 1)
            .max()
            .unwrap_or(0)
    }

    fn put_registration(&mut self, user_id: u64, role: Role, answers: Answers, now: Timestamp) {
        let order = self.next_order();
        match self.registrations.iter_mut().find(|r| r.user_id == user_id) {
            Some(r) => {
                r.role = role;
                r.status = ParticipantStatus::Registered;
                r.answers = answers;
                r.order = order;
                r.registered_at = now;
            }
            None => self.registrations.push(Registration {
                user_id,
                role,
                status: ParticipantStatus::Registered,
                answers,
                order,
                registered_at: now,
                ics_sequence: 0,
            }),
        }
    }

    /// Registers `user_id` for `role`, or puts them on that role's waitlist
    /// when no place is free (places held by offers and people already
    /// waiting come first).
    pub fn register(
        &mut self,
        session: &Session,
        user_id: u64,
        role: Role,
        answers: Answers,
        now: Timestamp,
    ) -> Result<(Registered, Vec<Effect>), DomainError> {
        if self.active(user_id).is_some() {
            return Err(DomainError::conflict(
                "already_registered",
                "You are already registered for this session. Cancel first to change your role.",
            ));
        }
        if self.waiting(user_id).is_some() {
            return Err(DomainError::conflict(
                "already_registered",
                "You are already on this session's waitlist.",
            ));
        }
        if session.capacity.get(role) == 0 {
            return Err(DomainError::conflict(
                "role_unavailable",
                format!(
                    "This session has no {} places.",
                    role.label().to_lowercase()
                ),
            ));
        }
        let someone_waiting = self.waitlist.iter().any(|w| w.role == role);
        if !someone_waiting && self.taken(now).get(role) < session.capacity.get(role) {
            self.put_registration(user_id, role, answers, now);
            return Ok((
                Registered::Confirmed,
                vec![Effect::Registered { user_id, role }],
            ));
        }
        self.waitlist.push(WaitEntry {
            user_id,
            role,
            answers,
            joined_at: now,
            offer_expires_at: None,
        });
        let position = self.position(user_id).expect("just added");
        Ok((Registered::Waitlisted { position }, Vec::new()))
    }

    /// Cancels a member's own registration (or waitlist place) and offers
    /// the freed place to the next person waiting.
    pub fn cancel(
        &mut self,
        session: &Session,
        user_id: u64,
        now: Timestamp,
        claim: SignedDuration,
    ) -> Result<Vec<Effect>, DomainError> {
        let Some(r) = self
            .registrations
            .iter_mut()
            .find(|r| r.user_id == user_id && r.active())
        else {
            return Err(DomainError::new(
                super::ErrorKind::NotFound,
                "not_registered",
                "You are not registered for this session.",
            ));
        };
        r.status = ParticipantStatus::Cancelled;
        let mut effects = vec![Effect::Cancelled { user_id }];
        effects.extend(self.offer_free_places(session, now, claim));
        Ok(effects)
    }

    pub fn leave_waitlist(
        &mut self,
        session: &Session,
        user_id: u64,
        now: Timestamp,
        claim: SignedDuration,
    ) -> Result<Vec<Effect>, DomainError> {
        let before = self.waitlist.len();
        self.waitlist.retain(|w| w.user_id != user_id);
        if self.waitlist.len() == before {
            return Err(DomainError::new(
                super::ErrorKind::NotFound,
                "not_waiting",
                "You are not on this session's waitlist.",
            ));
        }
        Ok(self.offer_free_places(session, now, claim))
    }

    /// Takes the place offered to `user_id`.
    pub fn accept_offer(
        &mut self,
        user_id: u64,
        now: Timestamp,
    ) -> Result<Vec<Effect>, DomainError> {
        let Some(i) = self.waitlist.iter().position(|w| w.user_id == user_id) else {
            return Err(DomainError::conflict(
                "no_offer",
                "You have no place on offer in this session.",
            ));
        };
        match self.waitlist[i].offer_expires_at {
            None => Err(DomainError::conflict(
                "no_offer",
                "No place has opened for you yet; we will email you when one does.",
            )),
            Some(t) if t <= now => Err(DomainError::conflict(
                "offer_expired",
                "Sorry, the time to claim this place has run out; it went to the next person.",
            )),
            Some(_) => {
                let w = self.waitlist.remove(i);
                self.put_registration(user_id, w.role, w.answers, now);
                Ok(vec![Effect::Registered {
                    user_id,
                    role: w.role,
                }])
            }
        }
    }

    /// Drops expired offers (those people lose their turn) and offers free
    /// places to the next people waiting, never beyond capacity.
    pub fn offer_free_places(
        &mut self,
        session: &Session,
        now: Timestamp,
        claim: SignedDuration,
    ) -> Vec<Effect> {
        self.waitlist
            .retain(|w| w.offer_expires_at.is_none_or(|t| t > now));
        let mut effects = Vec::new();
        for role in Role::ALL {
            let mut free = session
                .capacity
                .get(role)
                .saturating_sub(self.taken(now).get(role));
            for w in self.waitlist.iter_mut().filter(|w| w.role == role) {
                if free == 0 {
                    break;
                }
                if w.offer_expires_at.is_none() {
                    let expires_at = now + claim;
                    w.offer_expires_at = Some(expires_at);
                    effects.push(Effect::Offered {
                        user_id: w.user_id,
                        role,
                        expires_at,
                    });
                    free -= 1;
                }
            }
        }
        effects
    }

    /// An admin sets a participant's status; cancelling frees the place.
    pub fn set_status(
        &mut self,
        session: &Session,
        user_id: u64,
        status: ParticipantStatus,
        now: Timestamp,
        claim: SignedDuration,
    ) -> Result<Vec<Effect>, DomainError> {
        let r = self.active_mut(user_id)?;
        r.status = status;
        let mut effects = Vec::new();
        if status == ParticipantStatus::Cancelled {
            effects.push(Effect::Cancelled { user_id });
            effects.extend(self.offer_free_places(session, now, claim));
        }
        Ok(effects)
    }

    fn active_mut(&mut self, user_id: u64) -> Result<&mut Registration, DomainError> {
        self.registrations
            .iter_mut()
            .find(|r| r.user_id == user_id && r.active())
            .ok_or_else(|| {
                DomainError::new(
                    super::ErrorKind::NotFound,
                    "not_registered",
                    "That person is not registered for this session.",
                )
            })
    }

    /// An admin moves a participant to another role, within capacity.
    pub fn change_role(
        &mut self,
        session: &Session,
        user_id: u64,
        to: Role,
        now: Timestamp,
        claim: SignedDuration,
    ) -> Result<Vec<Effect>, DomainError> {
        let from = self.active_mut(user_id)?.role;
        if from == to {
            return Ok(Vec::new());
        }
        if self.taken(now).get(to) >= session.capacity.get(to) {
            return Err(full(to));
        }
        let order = self.next_order();
        let r = self.active_mut(user_id)?;
        r.role = to;
        r.order = order;
        let mut effects = vec![Effect::RoleChanged { user_id, from, to }];
        effects.extend(self.offer_free_places(session, now, claim));
        Ok(effects)
    }

    /// An admin removes someone (registration or waitlist place).
    pub fn remove(
        &mut self,
        session: &Session,
        user_id: u64,
        now: Timestamp,
        claim: SignedDuration,
    ) -> Result<Vec<Effect>, DomainError> {
        let was_waiting = self.waiting(user_id).is_some();
        self.waitlist.retain(|w| w.user_id != user_id);
        match self.active_mut(user_id) {
            Ok(r) => r.status = ParticipantStatus::Cancelled,
            Err(e) if !was_waiting => return Err(e),
            Err(_) => {}
        }
        let mut effects = vec![Effect::Removed { user_id }];
        effects.extend(self.offer_free_places(session, now, claim));
        Ok(effects)
    }

    /// Active presenters in talk order.
    pub fn presenters(&self) -> Vec<&Registration> {
        let mut p: Vec<_> = self
            .registrations
            .iter()
            .filter(|r| r.active() && r.role == Role::Presenter)
            .collect();
        p.sort_by_key(|r| (r.order, r.registered_at));
        p
    }

    /// The presenters as the run of show needs them, named by `name`.
    pub fn presenter_slots(
        &self,
        name: impl Fn(u64) -> String,
    ) -> Vec<super::sessions::PresenterSlot> {
        self.presenters()
            .iter()
            .map(|p| super::sessions::PresenterSlot {
                user_id: p.user_id,
                name: name(p.user_id),
                talk_title: p.answers.talk_title.clone(),
            })
            .collect()
    }

    /// Sets the presenter order; `user_ids` must be exactly the current presenters.
    pub fn reorder_presenters(&mut self, user_ids: &[u64]) -> Result<(), DomainError> {
        let mut current: Vec<u64> = self.presenters().iter().map(|r| r.user_id).collect();
        let mut given = user_ids.to_vec();
        current.sort_unstable();
        given.sort_unstable();
        if current != given {
            return Err(DomainError::field(
                "invalid_order",
                "user_ids",
                "List every current presenter exactly once.",
            ));
        }
        for (i, id) in user_ids.iter().enumerate() {
            if let Some(r) = self
                .registrations
                .iter_mut()
                .find(|r| r.user_id == *id && r.active())
            {
                r.order = i as u32;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sessions::{Phase, new_draft};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn session(guests: u32) -> Session {
        let mut s = new_draft(1, "UTC", ts("2026-01-01T00:00:00Z"));
        s.starts_at = ts("2026-12-01T17:00:00Z");
        s.phase = Phase::Published;
        s.capacity.guest = guests;
        s
    }

    const CLAIM: SignedDuration = SignedDuration::from_hours(12);

    #[test]
    fn full_role_waitlists_in_arrival_order_and_offers_in_turn() {
        let s = session(2);
        let now = ts("2026-11-22T10:00:00Z");
        let mut r = Roster::default();
        let guest = |r: &mut Roster, id| r.register(&s, id, Role::Guest, Answers::default(), now);
        assert_eq!(guest(&mut r, 1).unwrap().0, Registered::Confirmed);
        assert_eq!(guest(&mut r, 2).unwrap().0, Registered::Confirmed);
        assert_eq!(
            guest(&mut r, 3).unwrap().0,
            Registered::Waitlisted { position: 1 }
        );
        assert_eq!(
            guest(&mut r, 4).unwrap().0,
            Registered::Waitlisted { position: 2 }
        );
        assert_eq!(guest(&mut r, 4).unwrap_err().code, "already_registered");
        assert_eq!(guest(&mut r, 1).unwrap_err().code, "already_registered");

        // A cancellation offers the place to #3 only, held for the claim window.
        let fx = r.cancel(&s, 1, now, CLAIM).unwrap();
        let expires = now + CLAIM;
        assert_eq!(
            fx,
            vec![
                Effect::Cancelled { user_id: 1 },
                Effect::Offered {
                    user_id: 3,
                    role: Role::Guest,
                    expires_at: expires
                }
            ]
        );
        // The held place is not free for newcomers.
        assert_eq!(
            guest(&mut r, 5).unwrap().0,
            Registered::Waitlisted { position: 3 }
        );
        assert_eq!(r.taken(now).guest, 2);
        // #4 has no offer.
        assert_eq!(r.accept_offer(4, now).unwrap_err().code, "no_offer");
        // #3 lets it expire; the sweep offers it to #4.
        let later = expires + SignedDuration::from_secs(1);
        assert_eq!(r.accept_offer(3, later).unwrap_err().code, "offer_expired");
        let fx = r.offer_free_places(&s, later, CLAIM);
        assert_eq!(
            fx,
            vec![Effect::Offered {
                user_id: 4,
                role: Role::Guest,
                expires_at: later + CLAIM
            }]
        );
        assert!(r.waiting(3).is_none(), "an expired offer loses the turn");
        assert_eq!(
            r.accept_offer(4, later).unwrap(),
            vec![Effect::Registered {
                user_id: 4,
                role: Role::Guest
            }]
        );
        assert_eq!(r.filled().guest, 2);
        assert_eq!(r.position(5), Some(1));
        // Re-registering after cancelling reuses the record.
        assert_eq!(r.cancel(&s, 4, later, CLAIM).unwrap().len(), 2);
        assert_eq!(r.registrations.iter().filter(|x| x.user_id == 4).count(), 1);
    }

    #[test]
    fn capacity_is_never_exceeded() {
        let mut s = session(3);
        let now = ts("2026-11-22T10:00:00Z");
        let mut r = Roster::default();
        for id in 1..=10 {
            r.register(&s, id, Role::Guest, Answers::default(), now)
                .unwrap();
        }
        assert_eq!(r.filled().guest, 3);
        for id in 1..=3 {
            r.cancel(&s, id, now, CLAIM).unwrap();
        }
        for id in 4..=6 {
            r.accept_offer(id, now).unwrap();
        }
        // Raising capacity offers exactly the new places.
        s.capacity.guest = 5;
        let fx = r.offer_free_places(&s, now, CLAIM);
        assert_eq!(fx.len(), 2);
        assert!(r.taken(now).guest <= s.capacity.guest);
        assert_eq!(r.taken(now).guest, 5);
    }

    #[test]
    fn admin_changes() {
        let s = session(1);
        let now = ts("2026-11-22T10:00:00Z");
        let mut r = Roster::default();
        r.register(&s, 1, Role::Presenter, Answers::default(), now)
            .unwrap();
        r.register(&s, 2, Role::Presenter, Answers::default(), now)
            .unwrap();
        r.register(&s, 3, Role::Guest, Answers::default(), now)
            .unwrap();
        r.register(&s, 4, Role::Guest, Answers::default(), now)
            .unwrap();
        assert_eq!(
            r.change_role(&s, 1, Role::Guest, now, CLAIM)
                .unwrap_err()
                .code,
            "role_full"
        );
        let fx = r.change_role(&s, 3, Role::Host, now, CLAIM).unwrap();
        assert_eq!(
            fx[0],
            Effect::RoleChanged {
                user_id: 3,
                from: Role::Guest,
                to: Role::Host
            }
        );
        assert!(matches!(fx[1], Effect::Offered { user_id: 4, .. }));
        assert_eq!(
            r.reorder_presenters(&[2]).unwrap_err().code,
            "invalid_order"
        );
        r.reorder_presenters(&[2, 1]).unwrap();
        let order: Vec<u64> = r.presenters().iter().map(|p| p.user_id).collect();
        assert_eq!(order, vec![2, 1]);
        assert_eq!(
            r.remove(&s, 2, now, CLAIM).unwrap()[0],
            Effect::Removed { user_id: 2 }
        );
        assert_eq!(
            r.remove(&s, 2, now, CLAIM).unwrap_err().code,
            "not_registered"
        );
        let fx = r
            .set_status(&s, 1, ParticipantStatus::Attended, now, CLAIM)
            .unwrap();
        assert!(fx.is_empty());
        assert_eq!(r.active(1).unwrap().status, ParticipantStatus::Attended);
    }

    #[test]
    fn answers_fit_the_role() {
        let a = Answers {
            talk_title: Some(" Title ".into()),
            talk_description: Some("D".into()),
            topics: Some("T".into()),
        };
        let p = a.clone().validate(Role::Presenter).unwrap();
        assert_eq!(p.talk_title.as_deref(), Some("Title"));
        assert_eq!(p.topics, None);
        let g = a.clone().validate(Role::Guest).unwrap();
        assert_eq!(g.talk_title, None);
        assert_eq!(g.topics.as_deref(), Some("T"));
        let long = Answers {
            talk_title: Some("x".repeat(121)),
            ..Default::default()
        };
        assert_eq!(
            long.validate(Role::Presenter).unwrap_err().code,
            "invalid_answer"
        );
    }
}
