//! The forwarding plan for one frame and the router's other outputs: plain data
//! the IO edge carries out (and tests assert on).

use crate::ids::{ParticipantId, TrackId};
use crate::track::MediaKind;
use crate::wire::control::ServerMessage;
use crate::wire::media::FrameHeader;

/// How urgently a delivery should be sent, relative to the subscriber's other traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// Video: below audio; among video streams, a newer group goes before an
    /// older one (WebTransport `sendOrder` = group id).
    Normal,
    /// Audio: before any video.
    High,
}

/// Why a frame is not sent to a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The subscriber joined the track mid-group or lost its group; it resumes at the next keyframe.
    AwaitingKeyframe,
    /// The subscriber's backlog forced its temporal layer cap below this frame's layer.
    Congestion,
    /// The subscriber asked (`LayerPreference`) for fewer temporal layers.
    LayerPreference,
    /// The subscriber's bandwidth estimate does not cover this track (or this
    /// layer of it) after the tracks that come first: the loudest audio, then
    /// video by priority.
    Budget,
}

/// What to do with the frame for one subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send as one datagram (audio). If the encoded datagram is larger than the
    /// connection allows (or [`MAX_DATAGRAM_SIZE`](crate::wire::media::MAX_DATAGRAM_SIZE)),
    /// write it on the subscriber's audio stream for the track instead (stream
    /// header `Audio`, group 0), opening that stream if needed.
    Datagram {
        /// Carry copies of the track's previous frames with it (a redundant
        /// datagram, PROTOCOL.md §4.3): the subscriber's link loses packets
        /// and its budget has room for the copies. Where they do not fit, the
        /// plain datagram.
        redundant: bool,
    },
    /// Write on the subscriber's stream for this video `group`. If `open`, first
    /// open a new unidirectional stream and write its `VideoGroup` header.
    Stream {
        /// The group (also in the plan's header).
        group: u64,
        /// Open the group's stream first (the frame is the group's keyframe).
        open: bool,
    },
    /// Start the subscriber on the track's current `group` from the keyframe
    /// cache: open a new stream for the group (like `Stream { open: true }`)
    /// and write every frame the IO edge cached for it (see [`CacheOp`]) whose
    /// temporal layer is at most `max_layer`, in order — this frame included,
    /// as it was cached first. No keyframe is asked of the publisher.
    Replay {
        /// The track's current group.
        group: u64,
        /// Highest temporal layer to replay.
        max_layer: u8,
    },
    /// Do not send.
    Drop(DropReason),
}

/// The decision for one subscriber of the frame's track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delivery {
    /// Who receives.
    pub subscriber: ParticipantId,
    /// What to do.
    pub action: Action,
}

impl Delivery {
    /// Whether the frame is to be sent (not dropped).
    pub fn is_send(&self) -> bool {
        !matches!(self.action, Action::Drop(_))
    }
}

/// How to end a subscriber's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndMode {
    /// Finish it gracefully (FIN): what was written still arrives.
    Finish,
    /// Reset it: discard whatever is still queued for it.
    Reset,
}

/// End the subscriber's stream for `(track, group)`; if no such stream is open
/// (e.g. an audio stream that was never needed), do nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamEnd {
    /// Whose stream.
    pub subscriber: ParticipantId,
    /// Global track id.
    pub track: TrackId,
    /// The group (0 for an audio stream).
    pub group: u64,
    /// Finish or reset.
    pub mode: EndMode,
}

/// What the IO edge does with its cache of the track's current group (the
/// keyframe and the frames after it, as sent), before carrying out the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CacheOp {
    /// Leave the cache alone (audio, or a frame that reaches no one).
    #[default]
    Keep,
    /// A keyframe: empty the cache, then store this frame.
    Restart,
    /// Store this frame after the others.
    Append,
    /// Empty the cache: the group outgrew [`RouterConfig::max_cached_group_bytes`](super::RouterConfig::max_cached_group_bytes).
    Clear,
}

/// What to do with one incoming frame, filled by [`Router::handle_frame`](super::Router::handle_frame).
///
/// Reuse one plan per publisher connection: the router clears it and refills
/// it, so the hot path does not allocate once its vectors have grown.
#[derive(Debug, Clone)]
pub struct ForwardPlan {
    /// The global track id subscribers see (also in `header`): the frame's
    /// track, or for the small quality of a simulcast camera the camera's
    /// track.
    pub track: TrackId,
    /// The track the frame arrived on (the encoding): what [`CacheOp`] and
    /// [`Action::Replay`] refer to. Equals `track` but for a small quality.
    pub source: TrackId,
    /// The track's kind.
    pub kind: MediaKind,
    /// Audio before video.
    pub priority: Priority,
    /// The header to send: the incoming header with the global track id
    /// (and, for a simulcast camera, the group and sequence renumbered over
    /// both qualities). Encode it once and share it among all deliveries.
    pub header: FrameHeader,
    /// One entry per subscriber of the track, sends and drops alike.
    pub deliveries: Vec<Delivery>,
    /// Streams to end before sending: a keyframe supersedes the previous group,
    /// whose streams are finished (or reset for a lagging subscriber).
    pub ends: Vec<StreamEnd>,
    /// What to do with the track's group cache (before the deliveries).
    pub cache: CacheOp,
}

impl Default for ForwardPlan {
    fn default() -> Self {
        Self {
            track: TrackId(0),
            source: TrackId(0),
            kind: MediaKind::Video,
            priority: Priority::Normal,
            header: FrameHeader::default(),
            deliveries: Vec::new(),
            ends: Vec::new(),
            cache: CacheOp::Keep,
        }
    }
}

impl ForwardPlan {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empties the plan, keeping its capacity.
    pub fn clear(&mut self) {
        self.deliveries.clear();
        self.ends.clear();
        self.cache = CacheOp::Keep;
    }

    /// The deliveries that send the frame.
    pub fn sends(&self) -> impl Iterator<Item = &Delivery> {
        self.deliveries.iter().filter(|d| d.is_send())
    }

    /// The decision for one subscriber, if it subscribes to the track.
    pub fn action_for(&self, subscriber: ParticipantId) -> Option<Action> {
        self.deliveries
            .iter()
            .find(|d| d.subscriber == subscriber)
            .map(|d| d.action)
    }
}

/// Something for the IO edge to do outside a frame's plan. Drain with
/// [`Router::poll_output`](super::Router::poll_output) after every input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send a control message on the participant's control stream (if it is
    /// still connected; otherwise drop it).
    Control {
        /// Recipient.
        to: ParticipantId,
        /// The message.
        message: ServerMessage,
    },
    /// End a subscriber's stream (unsubscribed, track removed, moved away, or
    /// the rest of a group dropped because the subscriber fell behind).
    EndStream(StreamEnd),
}

impl Output {
    /// The participant this output concerns.
    pub fn participant(&self) -> ParticipantId {
        match self {
            Output::Control { to, .. } => *to,
            Output::EndStream(end) => end.subscriber,
        }
    }
}
