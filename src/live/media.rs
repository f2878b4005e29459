//! The contract between the live rooms and the media engine (SFU): what a
//! room's change requires of the SFU ([`MediaEffect`]), and the bridge task
//! that carries the effects out in order, one session's after another's.
//!
//! Rights follow the room: every change of room, publish right or presence
//! becomes a [`Grant`] the SFU keeps per participant and prefers over the
//! claims of any join token, so an older token cannot bring a right back.
//! A change the SFU refuses is logged at warn, counted
//! (`podium_media_effect_failures_total`) and told to the person's page.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use podium_media::{Grant, ParticipantId, Refusal, RoomId, SessionId, SfuHandle};
use tokio::sync::{broadcast, mpsc};

use super::Notice;
use crate::domain::live::{LiveEvent, MediaSeen};

/// What the media engine must do for a live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEffect {
    /// The session went live: its tokens are accepted from now on.
    OpenSession,
    /// The session ended: everyone is disconnected.
    CloseSession,
    /// A breakout room opens (before anyone is moved into it).
    OpenRoom(u32),
    /// A breakout room closes (after everyone was moved out).
    CloseRoom(u32),
    /// What one participant may do now.
    Grant { user_id: u64, grant: Grant },
}

impl MediaEffect {
    /// The effect a room event asks for, if any.
    pub fn of(event: &LiveEvent) -> Option<MediaEffect> {
        Some(match *event {
            LiveEvent::RoomOpened(room) => MediaEffect::OpenRoom(room),
            LiveEvent::RoomClosed(room) => MediaEffect::CloseRoom(room),
            LiveEvent::Media {
                user_id,
                room,
                may_publish,
                mic_allowed,
            } => MediaEffect::Grant {
                user_id,
                grant: Grant::Admit {
                    room: RoomId(room),
                    may_publish,
                    microphone: mic_allowed,
                },
            },
            LiveEvent::Left { user_id } => MediaEffect::Grant {
                user_id,
                grant: Grant::Refuse(Refusal::Left),
            },
            LiveEvent::Removed { user_id } => MediaEffect::Grant {
                user_id,
                grant: Grant::Refuse(Refusal::Removed),
            },
            LiveEvent::Ended => MediaEffect::CloseSession,
            LiveEvent::MuteRequested { .. }
            | LiveEvent::Tell { .. }
            | LiveEvent::Chat(_)
            | LiveEvent::Questions
            | LiveEvent::Changed => return None,
        })
    }

    /// Whom a failure concerns: the participant, or (`None`) the hosts.
    fn concerns(&self) -> Option<u64> {
        match self {
            MediaEffect::Grant { user_id, .. } => Some(*user_id),
            _ => None,
        }
    }
}

/// One effect of one session, and where to report its failure.
#[derive(Debug)]
pub struct MediaOrder {
    pub session: u64,
    pub effect: MediaEffect,
    pub report: broadcast::Sender<Notice>,
}

/// The sending end the live rooms use; effects are carried out in the order sent.
#[derive(Debug, Clone)]
pub struct MediaPort {
    tx: mpsc::UnboundedSender<MediaOrder>,
    failures: Arc<AtomicU64>,
    sfu: SfuHandle,
}

impl MediaPort {
    /// A port and the [`Bridge`] that carries out what is sent to it.
    pub fn new(sfu: SfuHandle) -> (MediaPort, Bridge) {
        let (tx, orders) = mpsc::unbounded_channel();
        let failures = Arc::new(AtomicU64::new(0));
        let bridge = Bridge {
            orders,
            sfu: sfu.clone(),
            failures: failures.clone(),
        };
        (MediaPort { tx, failures, sfu }, bridge)
    }

    /// What each connected participant's frames really carry now, as the
    /// SFU sees them (empty when the session is not open there).
    pub async fn sending(&self, session: u64) -> HashMap<u64, MediaSeen> {
        self.sfu
            .members(SessionId(session))
            .await
            .map(|members| {
                members
                    .into_iter()
                    .map(|m| {
                        let s = m.sending;
                        let seen = MediaSeen {
                            camera: s.camera,
                            microphone: s.microphone,
                            screen: s.screen,
                        };
                        (m.participant.0, seen)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn send(&self, order: MediaOrder) {
        // The bridge ends only at shutdown; nothing is left to carry out then.
        let _ = self.tx.send(order);
    }

    /// Effects the media engine refused since start.
    pub fn failures(&self) -> u64 {
        self.failures.load(Relaxed)
    }
}

/// The receiving end of a [`MediaPort`].
#[derive(Debug)]
pub struct Bridge {
    orders: mpsc::UnboundedReceiver<MediaOrder>,
    sfu: SfuHandle,
    failures: Arc<AtomicU64>,
}

/// Carries the live rooms' media effects out on the media engine, in order.
pub async fn run_bridge(bridge: Bridge) {
    let Bridge {
        mut orders,
        sfu,
        failures,
    } = bridge;
    while let Some(order) = orders.recv().await {
        let session = SessionId(order.session);
        let r = match &order.effect {
            MediaEffect::OpenSession => sfu.open_session(session).or_else(|e| match e {
                // Already open (a restart of the app's room on a running SFU).
                podium_media::MediaError::SessionExists(_) => Ok(()),
                e => Err(e),
            }),
            MediaEffect::CloseSession => sfu.close_session(session).await,
            MediaEffect::OpenRoom(room) => sfu.create_breakout_room(session, RoomId(*room)).await,
            MediaEffect::CloseRoom(room) => sfu.close_breakout_room(session, RoomId(*room)).await,
            MediaEffect::Grant { user_id, grant } => {
                sfu.set_grant(session, ParticipantId(*user_id), *grant)
                    .await
            }
        };
        if let Err(error) = r {
            failures.fetch_add(1, Relaxed);
            tracing::warn!(
                session = order.session,
                effect = ?order.effect,
                %error,
                "the media engine refused a live room change"
            );
            let _ = order.report.send(Notice::MediaProblem {
                user_id: order.effect.concerns(),
                message: format!(
                    "Audio and video could not follow the room's change ({error}). Reload the page to reconnect."
                ),
            });
        }
    }
}
