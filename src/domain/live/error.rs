//! Every way the live room refuses something: one variant each, with its
//! stable `code()`, its kind (the HTTP layer's status) and the message people
//! read. Codes are defined here once; docs/api-live.md lists them.

use super::{BREAKOUT_MINUTES_MAX, BREAKOUT_NAME_MAX, MAX_BREAKOUTS};
use crate::domain::{DomainError, ErrorKind};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    #[error("This session was cancelled.")]
    Cancelled,
    #[error("This session is not published yet.")]
    NotPublished,
    #[error("This session has ended.")]
    Ended,
    #[error("This session's time has passed.")]
    TimePassed,
    #[error("You can start this session from {lead_minutes} minutes before its start.")]
    TooEarly { lead_minutes: i64 },
    #[error("The session has not started yet; the host starts it.")]
    NotStarted,
    #[error("Only the session's hosts can start it.")]
    StartHostOnly,
    #[error("That person is not in the room.")]
    NotInRoom,
    #[error("Only hosts can do that.")]
    HostOnly,
    #[error("Only hosts and the interviewer can mark questions answered.")]
    ModeratorOnly,
    #[error("A host removed you from this session.")]
    Removed,
    #[error("The room is full.")]
    RoomFull,
    #[error("You are already on stage.")]
    AlreadyOnStage,
    #[error("Your request is already waiting.")]
    AlreadyRequested,
    #[error("You have no request waiting.")]
    NoRequest,
    #[error("That request is no longer waiting.")]
    RequestGone,
    #[error("There is no countdown to cancel.")]
    NoCountdown,
    #[error("All {limit} guest places on stage are taken. Move someone off stage first.")]
    GuestStageFull { limit: usize },
    #[error("All {limit} speaker places on stage are taken.")]
    SpeakerStageFull { limit: usize },
    #[error("You are not on stage.")]
    NotOnStage,
    #[error("Only people on stage use camera and microphone.")]
    DevicesOffStage,
    #[error("A host muted your microphone; ask a host to speak again.")]
    MutedByHost,
    #[error("A host moved you off stage; ask to join the stage again.")]
    MovedOffByHost,
    #[error("Ask to join the stage; a host will let you in.")]
    NotASpeaker,
    #[error("You cannot remove yourself; leave instead.")]
    CannotRemoveSelf,
    #[error("Hosts cannot remove another host.")]
    CannotRemoveHost,
    #[error("You are sending messages too quickly; wait a few seconds.")]
    SlowDown { retry_after_secs: u64 },
    #[error("There is no such question.")]
    NoQuestion,
    #[error("You cannot upvote your own question.")]
    OwnQuestion,
    #[error("You already upvoted this question.")]
    AlreadyVoted,
    #[error("You have not upvoted this question.")]
    NotVoted,
    #[error("This session has reached its limit of questions.")]
    TooManyQuestions,
    #[error("You have the room open in too many tabs; close one and try again.")]
    TooManyStreams,
    #[error("Breakout rooms are already open; close them first.")]
    BreakoutsOpen,
    #[error("No breakout rooms are open.")]
    NoBreakouts,
    #[error("Open between 1 and {MAX_BREAKOUTS} breakout rooms.")]
    BreakoutCount,
    #[error("Room names must be 1 to {BREAKOUT_NAME_MAX} characters.")]
    BreakoutName,
    #[error("Each person in the room can be in one breakout room.")]
    BreakoutMember,
    #[error("Give either `rooms` or `auto`.")]
    BreakoutPlan,
    #[error("Breakout rooms run for 1 to {BREAKOUT_MINUTES_MAX} minutes.")]
    BreakoutMinutes,
    #[error("There is no such room.")]
    NoRoom,
    #[error("There is no such agenda item.")]
    NoAgendaItem,
    #[error("Write something first.")]
    EmptyText { field: &'static str },
    #[error("Keep it under {max} characters.")]
    TextTooLong { field: &'static str, max: usize },
    #[error("Only speakers and people on the main stage can present.")]
    MayNotPresent,
    #[error("There is no such presentation in this session.")]
    NoMaterial,
    #[error("Nothing is being presented.")]
    NoPresentation,
    #[error("Someone else is presenting; take over first.")]
    NotPresenter,
    #[error("This presentation has pages 1 to {pages}.")]
    PageOutOfRange { pages: u32 },
    #[error(
        "That is not a YouTube video link. Paste a link like youtube.com/watch?v=…, youtu.be/…, youtube.com/shorts/… or youtube.com/embed/…; other sites are not supported."
    )]
    NotYoutube,
    #[error("The start time in the link is not a time (use t=90, t=90s or t=1m30s).")]
    VideoStart,
    #[error("Give either `youtube` (a link) or `upload` (an uploaded video's id).")]
    VideoSourceChoice,
    #[error("No video is on stage.")]
    NoVideo,
    #[error("There is no such uploaded video in this session.")]
    UnknownVideo,
    #[error("Someone else presents this video; show your own to take over.")]
    VideoNotYours,
    #[error("A video position is between 0 and 24 hours, in milliseconds.")]
    VideoPosition,
    #[error("That file is not an MP4 or WebM video.")]
    UnsupportedVideo,
    #[error("Videos can be at most {max_mb} MB.")]
    VideoTooLarge { max_mb: u64 },
    #[error("The upload ended before the whole video arrived; try again.")]
    VideoIncomplete,
    #[error("Only the session's participants can watch its videos.")]
    NotParticipant,
    #[error("This session already has {max} videos, the most it can keep.")]
    TooManyVideos { max: usize },
}

impl LiveError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        use LiveError::*;
        match self {
            Cancelled => "session_cancelled",
            NotPublished => "session_not_open",
            Ended | TimePassed => "session_ended",
            TooEarly { .. } => "too_early",
            NotStarted => "not_started",
            StartHostOnly => "forbidden",
            NotInRoom => "not_in_room",
            HostOnly => "host_only",
            ModeratorOnly => "moderator_only",
            Removed => "removed",
            RoomFull => "room_full",
            AlreadyOnStage => "already_on_stage",
            AlreadyRequested => "already_requested",
            NoRequest | RequestGone => "no_request",
            NoCountdown => "no_countdown",
            GuestStageFull { .. } | SpeakerStageFull { .. } => "stage_full",
            NotOnStage | DevicesOffStage => "not_on_stage",
            MutedByHost => "muted_by_host",
            MovedOffByHost => "moved_off_by_host",
            NotASpeaker => "not_a_speaker",
            CannotRemoveSelf => "cannot_remove_self",
            CannotRemoveHost => "cannot_remove_host",
            SlowDown { .. } => "slow_down",
            NoQuestion => "no_question",
            OwnQuestion => "own_question",
            AlreadyVoted | NotVoted => "already_voted",
            TooManyQuestions => "too_many_questions",
            TooManyStreams => "too_many_streams",
            BreakoutsOpen => "breakouts_open",
            NoBreakouts => "no_breakouts",
            BreakoutCount | BreakoutName | BreakoutMember | BreakoutPlan | BreakoutMinutes => {
                "invalid_breakouts"
            }
            NoRoom => "no_room",
            NoAgendaItem => "invalid_item",
            EmptyText { .. } => "empty_text",
            TextTooLong { .. } => "text_too_long",
            MayNotPresent => "may_not_present",
            NoMaterial => "no_material",
            NoPresentation => "no_presentation",
            NotPresenter => "not_presenter",
            PageOutOfRange { .. } => "page_out_of_range",
            NotYoutube | VideoStart => "invalid_video_link",
            VideoSourceChoice => "invalid_video_source",
            NoVideo | UnknownVideo => "no_video",
            VideoNotYours => "video_not_yours",
            VideoPosition => "invalid_position",
            UnsupportedVideo => "unsupported_video",
            VideoTooLarge { .. } => "video_too_large",
            VideoIncomplete => "video_incomplete",
            NotParticipant => "not_participant",
            TooManyVideos { .. } => "too_many_videos",
        }
    }

    /// What sort of refusal it is (the HTTP status).
    pub fn kind(&self) -> ErrorKind {
        use LiveError::*;
        match self {
            StartHostOnly | HostOnly | ModeratorOnly | Removed | NotASpeaker | MutedByHost
            | MovedOffByHost | CannotRemoveHost | MayNotPresent | NotPresenter | VideoNotYours
            | NotParticipant => ErrorKind::Forbidden,
            NotInRoom | NoRequest | RequestGone | NoCountdown | NoQuestion | NoRoom
            | NoMaterial | NoPresentation | NoVideo | UnknownVideo => ErrorKind::NotFound,
            UnsupportedVideo => ErrorKind::UnsupportedType,
            VideoTooLarge { .. } => ErrorKind::TooLarge,
            SlowDown { .. } | TooManyStreams => ErrorKind::TooMany,
            BreakoutCount
            | BreakoutName
            | BreakoutMember
            | BreakoutPlan
            | BreakoutMinutes
            | NoAgendaItem
            | EmptyText { .. }
            | TextTooLong { .. }
            | PageOutOfRange { .. }
            | NotYoutube
            | VideoStart
            | VideoSourceChoice
            | VideoPosition
            | VideoIncomplete => ErrorKind::Invalid,
            _ => ErrorKind::Conflict,
        }
    }

    /// The input it is about, if one.
    pub fn field(&self) -> Option<&'static str> {
        use LiveError::*;
        match self {
            BreakoutCount | BreakoutName | BreakoutMember | BreakoutPlan => Some("rooms"),
            BreakoutMinutes => Some("minutes"),
            NoAgendaItem => Some("item"),
            NoMaterial => Some("material"),
            PageOutOfRange { .. } => Some("page"),
            EmptyText { field } | TextTooLong { field, .. } => Some(field),
            NotYoutube | VideoStart => Some("youtube"),
            VideoSourceChoice | UnknownVideo => Some("upload"),
            VideoPosition => Some("position_ms"),
            _ => None,
        }
    }
}

impl From<LiveError> for DomainError {
    fn from(e: LiveError) -> Self {
        DomainError {
            kind: e.kind(),
            code: e.code(),
            message: e.to_string(),
            field: e.field().map(Into::into),
            retry_after_secs: match e {
                LiveError::SlowDown { retry_after_secs } => Some(retry_after_secs),
                _ => None,
            },
        }
    }
}
