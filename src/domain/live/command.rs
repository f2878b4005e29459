//! What a person can ask of the live room: one typed [`LiveCommand`] per
//! action (serde-tagged by `command`, unknown fields refused), handled by
//! [`LiveRoom::handle`] with the acting person's current powers and `now`.

use jiff::Timestamp;
use serde::Deserialize;

use super::{LiveError, LiveEvent, LiveRoom, MAX_BREAKOUTS, RequestKind};
use crate::domain::sessions::Role;

fn yes() -> bool {
    true
}

/// Which stage request: come on stage with the chosen devices, or raise a hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestChoice {
    Stage,
    Hand,
}

/// What a host does to someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Moderation {
    /// Turns their microphone off; it stays off until a host allows it again.
    Mute,
    /// Lets a muted person turn their microphone on again.
    AllowMic,
    /// Back to the audience; a speaker may not walk back on by themselves.
    OffStage,
    /// Out of the session for good.
    Remove,
}

/// One breakout room as a host plans it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakoutPlan {
    pub name: String,
    pub user_ids: Vec<u64>,
}

/// Every action in the live room.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum LiveCommand {
    RequestStage {
        kind: RequestChoice,
        #[serde(default = "yes")]
        camera: bool,
        #[serde(default = "yes")]
        mic: bool,
    },
    WithdrawRequest,
    CancelCountdown,
    LeaveStage,
    TakeStage,
    Approve {
        user_id: u64,
    },
    Decline {
        user_id: u64,
    },
    SetDevices {
        camera: bool,
        mic: bool,
    },
    Moderate {
        user_id: u64,
        action: Moderation,
    },
    Chat {
        text: String,
    },
    Ask {
        text: String,
    },
    Vote {
        question: u64,
        #[serde(default = "yes")]
        up: bool,
    },
    Answer {
        question: u64,
        #[serde(default = "yes")]
        answered: bool,
    },
    Hide {
        question: u64,
    },
    OpenBreakouts {
        #[serde(default)]
        rooms: Option<Vec<BreakoutPlan>>,
        #[serde(default)]
        auto: Option<usize>,
        #[serde(default)]
        minutes: Option<u32>,
    },
    CloseBreakouts,
    SetBreakoutTimer {
        #[serde(default)]
        minutes: Option<u32>,
    },
    Broadcast {
        text: String,
    },
    Visit {
        room: u32,
    },
    SetAgenda {
        item: usize,
    },
    /// Puts a presentation on the main stage, or takes it over.
    Present {
        material: u64,
        #[serde(default)]
        page: Option<u32>,
    },
    /// The presenter shows another page (from 1).
    TurnPage {
        page: u32,
    },
    StopPresenting,
    End,
    /// Video on stage: a YouTube link or an uploaded video (checked by the
    /// service to belong to the session), shown paused at its start.
    ShowVideo {
        #[serde(default)]
        youtube: Option<String>,
        #[serde(default)]
        upload: Option<u64>,
    },
    PlayVideo {
        #[serde(default)]
        position_ms: Option<u64>,
    },
    PauseVideo {
        #[serde(default)]
        position_ms: Option<u64>,
    },
    SeekVideo {
        position_ms: u64,
    },
    StopVideo,
}

/// Who acts, with their powers as of now (from the current registration
/// and admin flag, never from when they joined).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: u64,
    /// The registered role now (walk-ins: none).
    pub role: Option<Role>,
    /// Admin, or registered as host, now.
    pub is_host: bool,
}

impl LiveRoom {
    /// Carries out one command. The actor's powers in the room follow their
    /// current registration first: a host who cancelled or a demoted admin
    /// loses host powers at the next action.
    pub fn handle(
        &mut self,
        actor: Actor,
        command: LiveCommand,
        now: Timestamp,
    ) -> Result<Vec<LiveEvent>, LiveError> {
        let me = actor.user_id;
        if let Some(p) = self.people.get_mut(&me) {
            p.role = actor.role.unwrap_or(Role::Guest);
            p.is_host = actor.is_host;
        }
        use LiveCommand::*;
        match command {
            RequestStage { kind, camera, mic } => {
                let kind = match kind {
                    RequestChoice::Stage => RequestKind::Stage { camera, mic },
                    RequestChoice::Hand => RequestKind::Hand,
                };
                self.request_stage(me, kind, now)
            }
            WithdrawRequest => self.withdraw(me),
            CancelCountdown => self.cancel_countdown(me),
            LeaveStage => self.leave_stage(me),
            TakeStage => self.take_stage(me),
            Approve { user_id } => self.approve(me, user_id, now),
            Decline { user_id } => self.decline(me, user_id),
            SetDevices { camera, mic } => self.set_devices(me, camera, mic),
            Moderate { user_id, action } => match action {
                Moderation::Mute => self.mute(me, user_id),
                Moderation::AllowMic => self.allow_mic(me, user_id),
                Moderation::OffStage => self.move_off_stage(me, user_id),
                Moderation::Remove => self.remove(me, user_id),
            },
            Chat { text } => self.chat(me, &text, now),
            Ask { text } => self.ask(me, &text, now),
            Vote { question, up } => self.vote(me, question, up),
            Answer { question, answered } => self.answer(me, question, answered),
            Hide { question } => self.hide(me, question),
            OpenBreakouts {
                rooms,
                auto,
                minutes,
            } => {
                let plan: Vec<(String, Vec<u64>)> = match (rooms, auto) {
                    (Some(rooms), None) => {
                        rooms.into_iter().map(|b| (b.name, b.user_ids)).collect()
                    }
                    (None, Some(n)) if (1..=MAX_BREAKOUTS).contains(&n) => self
                        .auto_assign(n)
                        .into_iter()
                        .enumerate()
                        .map(|(i, m)| (format!("Room {}", i + 1), m))
                        .collect(),
                    (None, Some(_)) => return Err(LiveError::BreakoutCount),
                    _ => return Err(LiveError::BreakoutPlan),
                };
                self.open_breakouts(me, &plan, minutes, now)
            }
            CloseBreakouts => self.close_breakouts(me),
            SetBreakoutTimer { minutes } => self.set_breakout_timer(me, minutes, now),
            Broadcast { text } => self.broadcast(me, &text, now),
            Visit { room } => self.visit(me, room),
            SetAgenda { item } => self.set_agenda(me, item, now),
            Present { material, page } => self.present(me, material, page, now),
            TurnPage { page } => self.turn_page(me, page, now),
            StopPresenting => self.stop_presenting(me),
            End => self.end(me, now),
            ShowVideo { youtube, upload } => {
                let (source, start_ms) = match (youtube, upload) {
                    (Some(link), None) => {
                        let link = super::parse_youtube(&link)?;
                        (
                            super::VideoSource::Youtube {
                                youtube_id: link.id,
                            },
                            link.start_secs * 1000,
                        )
                    }
                    (None, Some(upload_id)) => (super::VideoSource::Upload { upload_id }, 0),
                    _ => return Err(LiveError::VideoSourceChoice),
                };
                self.show_video(me, source, start_ms, now)
            }
            PlayVideo { position_ms } => {
                self.control_video(me, super::VideoAction::Play(position_ms), now)
            }
            PauseVideo { position_ms } => {
                self.control_video(me, super::VideoAction::Pause(position_ms), now)
            }
            SeekVideo { position_ms } => {
                self.control_video(me, super::VideoAction::Seek(position_ms), now)
            }
            StopVideo => self.stop_video(me),
        }
    }
}
