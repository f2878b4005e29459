//! The sans-IO router: rooms (main + breakout), participants, tracks and
//! subscriptions; for every frame a [`ForwardPlan`], for everything else
//! [`Output`]s drained with [`Router::poll_output`].
//!
//! Rules (see `media/PROTOCOL.md` §5 for the client's view):
//! - A participant is in exactly one room and may publish there or not. A track
//!   exists only while its publisher may publish; revoking the permission, or a
//!   move into a room where it may not publish, removes its tracks.
//! - A participant subscribes only to tracks of its own room. A move ends all
//!   its subscriptions and all subscriptions to its tracks; its tracks (if it may
//!   still publish) are announced in the new room.
//! - A new video subscription starts from the keyframe cache (below); without
//!   a usable cache it receives nothing until the next keyframe, and a
//!   (throttled) keyframe request goes to the publisher. Audio subscriptions
//!   start at the next frame.
//! - A keyframe opens a new group and supersedes the previous one: each
//!   subscriber's previous group stream is finished (reset if it is lagging),
//!   and late frames of older groups are dropped.
//! - Backlog (see [`BacklogPolicy`]) first lowers a subscriber's temporal layer
//!   cap, then drops its current groups (stream reset) until the next keyframe.
//!   Audio is never dropped and has [`Priority::High`].
//! - At most one keyframe request per publisher track per
//!   [`RouterConfig::keyframe_request_interval`], whoever asks.
//! - Keyframe cache: the IO edge keeps each video track's current group (up
//!   to [`RouterConfig::max_cached_group_bytes`], as the plan's [`CacheOp`]
//!   says). A subscriber that needs a start (new subscription, group dropped,
//!   video allotted again, its own keyframe request at most once a second)
//!   is started from it ([`Action::Replay`]) once its
//!   backlog is low, so one subscriber's need makes no publisher send a
//!   keyframe to everyone; only without a usable cache is a keyframe requested.
//! - Bandwidth: the IO edge reports each subscriber's link ([`LinkReport`]);
//!   the estimate is split over its tracks (see `budget::allocate`): all the
//!   audio if it fits, else the loudest [`BudgetPolicy::audio_last_n`] audio
//!   tracks always; then video layer 0 by priority (active speaker, screen
//!   share, others), the rest of the audio, then upper video layers. Lowering applies
//!   at the next frame; raising needs headroom and goes one layer (per track)
//!   per [`BudgetPolicy::raise_interval`]. A video track allotted nothing has its
//!   stream reset until it is allotted again.
//! - Audio redundancy: on a link that loses packets (smoothed loss at or
//!   above [`BudgetPolicy::redundancy_on_permille`]) whose budget holds all
//!   its audio twice, audio goes out as redundant datagrams (each with a copy
//!   of the track's previous frame) before any video is allotted. Incoming
//!   audio frames are forwarded once per sequence number: the copies a
//!   publisher's redundant datagrams carry fill gaps and are otherwise
//!   dropped (counted in [`Stats::audio_copies_dropped`]).
//! - Simulcast: a camera may have a small quality ([`Router::publish_simulcast`]),
//!   a track that is never announced nor subscribed to. The camera's
//!   subscribers each get one quality: its allotment is a step of a ladder
//!   (small layers 0..=2, then full layers 0..=2), capped at the small
//!   quality for a view at most 4/3 of its height ([`Router::set_view_size`]).
//!   A subscriber switches quality only at a keyframe of the other one (asked
//!   for, throttled) or by a replay of its cached group when that group is
//!   newer than anything it was sent; the old stream is finished. Frames of
//!   both qualities go out under the camera's id with groups and sequence
//!   numbers renumbered over both (`Numbering`), so every subscriber sees
//!   one ordinary stream.

mod budget;
mod plan;
mod policy;
mod stats;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use budget::{BudgetPolicy, FRAME_OVERHEAD_BYTES, LinkReport};
pub use plan::{
    Action, CacheOp, Delivery, DropReason, EndMode, ForwardPlan, Output, Priority, StreamEnd,
};
pub use policy::{BacklogPolicy, RouterConfig};

use self::budget::{Allot, Link, MAX_RUNGS, RateMeter, Saturation, Want, allocate, rank};
pub use stats::{DropStats, RejectReason, RejectStats, SaturationStats, Stats};

use self::policy::{Congestion, KeyframeThrottle};
use crate::ids::{Millis, ParticipantId, RoomId, TrackId};
use crate::track::{MediaKind, MediaParams, TrackConfig, TrackConfigError, TrackSource};
use crate::wire::PROTOCOL_VERSION;
use crate::wire::control::{
    AudioLevel, AudioLevels, ClientMessage, Permission, Pong, Published, RequestKeyframe, Roster,
    RosterEntry, SILENCE_LEVEL, ServerMessage, TrackAdded, TrackRemoved, TrackWanted, Welcome,
};
use crate::wire::media::{FrameHeader, MAX_TEMPORAL_LAYER, SeqWindow};

/// A refused control-plane call or client request.
///
/// [`code`](RouterError::code) is the stable code sent in `Error` messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// The participant has not joined.
    #[error("{0} has not joined")]
    UnknownParticipant(ParticipantId),
    /// `join` for a participant already present (call `leave` first to replace a connection).
    #[error("{0} has already joined")]
    AlreadyJoined(ParticipantId),
    /// The session's safety cap on participants is reached.
    #[error("the session is full ({max} participants)")]
    SessionFull {
        /// [`RouterConfig::max_participants`].
        max: usize,
    },
    /// The display name is too long.
    #[error("the name is longer than {max} bytes")]
    NameTooLong {
        /// [`RouterConfig::max_name_len`].
        max: usize,
    },
    /// No such room.
    #[error("{0} does not exist")]
    UnknownRoom(RoomId),
    /// The room already exists.
    #[error("{0} already exists")]
    RoomExists(RoomId),
    /// Opening one more breakout room than allowed.
    #[error("at most {max} breakout rooms can be open")]
    TooManyBreakoutRooms {
        /// [`RouterConfig::max_breakout_rooms`].
        max: usize,
    },
    /// The main room cannot be closed.
    #[error("the main room cannot be closed")]
    CannotCloseMainRoom,
    /// A room with participants cannot be closed; move them first.
    #[error("{0} still has participants")]
    RoomNotEmpty(RoomId),
    /// Publishing without permission in one's room.
    #[error("you may not publish in this room")]
    NotAllowedToPublish,
    /// The track configuration breaks the protocol's rules.
    #[error("invalid track configuration: {0}")]
    InvalidTrackConfig(#[from] TrackConfigError),
    /// The client already publishes a track with this id.
    #[error("track id {0} is already published")]
    DuplicateTrack(u32),
    /// Too many tracks published at once.
    #[error("at most {max} tracks can be published at once")]
    TooManyTracks {
        /// [`RouterConfig::max_tracks_per_participant`].
        max: usize,
    },
    /// The client publishes no track with this id.
    #[error("you publish no track with id {0}")]
    UnknownClientTrack(u32),
    /// No such track.
    #[error("{0} does not exist")]
    UnknownTrack(TrackId),
    /// The track is published in another room.
    #[error("{0} is not in your room")]
    TrackNotInRoom(TrackId),
    /// Not subscribed to the track.
    #[error("you are not subscribed to {0}")]
    NotSubscribed(TrackId),
    /// Temporal layers are 0..=2.
    #[error("temporal layer {0} does not exist (0..=2)")]
    InvalidLayer(u8),
    /// Audio levels are only for audio tracks.
    #[error("{0} is not an audio track")]
    NotAudio(TrackId),
    /// `Hello` after the session is established.
    #[error("Hello is only valid as the first message")]
    UnexpectedHello,
    /// All 2^32 track ids were used.
    #[error("no track ids left")]
    TrackIdsExhausted,
    /// A `Publish` with `simulcast_of` that breaks the simulcast rules.
    #[error("invalid simulcast: {0}")]
    InvalidSimulcast(String),
    /// `Subscribe` (or another request) names the small quality of a
    /// simulcast camera, which is not a track of its own.
    #[error("{track} is the small quality of {of}: subscribe to {of}")]
    SmallQuality {
        /// The small quality's id.
        track: TrackId,
        /// The camera's track.
        of: TrackId,
    },
}

impl RouterError {
    /// A stable machine-readable code (snake_case).
    pub fn code(&self) -> &'static str {
        match self {
            RouterError::UnknownParticipant(_) => "unknown_participant",
            RouterError::AlreadyJoined(_) => "already_joined",
            RouterError::SessionFull { .. } => "session_full",
            RouterError::NameTooLong { .. } => "name_too_long",
            RouterError::UnknownRoom(_) => "unknown_room",
            RouterError::RoomExists(_) => "room_exists",
            RouterError::TooManyBreakoutRooms { .. } => "too_many_breakout_rooms",
            RouterError::CannotCloseMainRoom => "cannot_close_main_room",
            RouterError::RoomNotEmpty(_) => "room_not_empty",
            RouterError::NotAllowedToPublish => "not_allowed_to_publish",
            RouterError::InvalidTrackConfig(_) => "invalid_track_config",
            RouterError::DuplicateTrack(_) => "duplicate_track",
            RouterError::TooManyTracks { .. } => "too_many_tracks",
            RouterError::UnknownClientTrack(_) => "unknown_client_track",
            RouterError::UnknownTrack(_) => "unknown_track",
            RouterError::TrackNotInRoom(_) => "track_not_in_room",
            RouterError::NotSubscribed(_) => "not_subscribed",
            RouterError::InvalidLayer(_) => "invalid_layer",
            RouterError::NotAudio(_) => "not_audio",
            RouterError::UnexpectedHello => "unexpected_hello",
            RouterError::TrackIdsExhausted => "track_ids_exhausted",
            RouterError::InvalidSimulcast(_) => "invalid_simulcast",
            RouterError::SmallQuality { .. } => "small_quality",
        }
    }
}

/// A published track, as the IO edge may need to look it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    /// Global id.
    pub id: TrackId,
    /// Publisher.
    pub owner: ParticipantId,
    /// The publisher's own id for it.
    pub client_id: u32,
    /// Codec configuration.
    pub config: TrackConfig,
}

#[derive(Debug, Default)]
struct Room {
    members: BTreeSet<ParticipantId>,
    roster_dirty: bool,
}

#[derive(Debug)]
struct Participant {
    name: String,
    room: RoomId,
    may_publish: bool,
    /// A moderator blocked its microphone: its audio frames reach no one.
    audio_blocked: bool,
    /// (client track id, global id), in publish order.
    published: Vec<(u32, TrackId)>,
    subscriptions: BTreeSet<TrackId>,
    congestion: Congestion,
    link: Link,
}

impl Participant {
    fn track(&self, client_id: u32) -> Option<TrackId> {
        self.published
            .iter()
            .find(|(c, _)| *c == client_id)
            .map(|(_, t)| *t)
    }
}

#[derive(Debug)]
struct Track {
    id: TrackId,
    owner: ParticipantId,
    client_id: u32,
    config: TrackConfig,
    kind: MediaKind,
    subscriptions: Vec<Subscription>,
    /// The newest group seen (video).
    group: Option<u64>,
    keyframes: KeyframeThrottle,
    /// Latest audio level reported since the last `AudioLevels`.
    audio_level: Option<u8>,
    /// When its last frame arrived (none yet: published but silent).
    last_frame: Option<Millis>,
    /// Incoming bit rate per temporal layer.
    rate: RateMeter,
    /// Audio: the last reported level and when.
    loudness: Option<(u8, Millis)>,
    /// Audio: the sequence numbers that arrived lately.
    audio_seen: SeqWindow,
    /// Video: what the IO edge holds in its cache.
    cached: Option<CachedGroup>,
    /// The small quality of a simulcast camera: the camera's track. Such a
    /// track is not announced and has no subscriptions of its own; the
    /// camera's subscribers get its frames when they are on the small quality.
    simulcast_of: Option<TrackId>,
    /// A simulcast camera: its small quality's track.
    small: Option<TrackId>,
    /// A simulcast camera: whether its publisher was last told (or assumes)
    /// that someone wants its full quality (`TrackWanted`).
    full_wanted: bool,
    /// The id subscribers see for the current group (`group` renumbered over
    /// both qualities of a simulcast camera; otherwise `group`).
    out_group: Option<u64>,
    /// The last frame's sequence number as it arrived.
    last_sequence: u64,
    /// A simulcast camera's quality: added (wrapping) to its sequence
    /// numbers; set at each keyframe (see [`Numbering`]).
    sequence_shift: u64,
}

/// The group and sequence numbers a simulcast camera's subscribers see, so
/// a switch at a keyframe of the other quality continues one stream: every
/// keyframe of either quality opens the next group id; a quality's frames
/// keep their own sequence numbers, shifted at each of its keyframes to
/// follow the highest number either quality has had.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Numbering {
    /// The last group id given out.
    group: u64,
    /// The highest sequence number given out.
    sequence: u64,
}

/// A view this many device pixels high, or less, per 3 pixels of the small
/// quality's height (x4/3: 240 for 180), gets the small quality.
const SMALL_VIEW_PER_3_PX: u32 = 4;

/// The group the IO edge caches for a video track (from its keyframe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CachedGroup {
    group: u64,
    /// Payload bytes.
    bytes: u64,
    /// Frames per temporal layer.
    frames: [u32; 3],
}

impl CachedGroup {
    /// The highest layer, at most `cap`, whose cached frames (with those of
    /// the layers below) are few enough to replay; `None` if even the base
    /// layer has too many.
    fn replay_layer(&self, cap: u8, max_frames: u32) -> Option<u8> {
        (0..=cap.min(MAX_TEMPORAL_LAYER))
            .rev()
            .find(|&l| self.frames[..=usize::from(l)].iter().sum::<u32>() <= max_frames)
    }
}

impl Track {
    /// The cache, if it holds the current group.
    fn current_cache(&self) -> Option<CachedGroup> {
        self.cached.filter(|c| Some(c.group) == self.group)
    }

    /// Whether some subscriber could be started from the cache.
    fn cache_usable(&self, max_frames: u32) -> bool {
        self.current_cache()
            .is_some_and(|c| c.replay_layer(0, max_frames).is_some())
    }
}

#[derive(Debug, Clone, Copy)]
struct Subscription {
    subscriber: ParticipantId,
    /// From `LayerPreference`.
    preferred_layer: u8,
    /// Highest layer being forwarded; raised only at layer-0 frames so that no
    /// forwarded frame references one that was dropped.
    active_layer: u8,
    /// What last lowered `active_layer` (the drop reason while a raise waits for layer 0).
    lowered_by: DropReason,
    /// Video: the subscriber's stream for the track's current group is open.
    /// Audio: always true.
    open: bool,
    /// What the subscriber's bandwidth allots it: a step of the track's
    /// ladder (see [`Allot`]; audio `Some(1)`: with redundancy); `None` off.
    allot: Allot,
    /// Video: when its keyframe request last restarted it from the cache.
    restarted_at: Option<Millis>,
    /// A simulcast camera: the quality it receives (or starts on) now is the
    /// small one. Changes at a keyframe of the other quality (or a replay of
    /// its cached group).
    on_small: bool,
    /// From `ViewSize`: the height it shows the track at.
    max_height: Option<u32>,
    /// The newest group (as subscribers see it) it was sent: it is never
    /// started on an older one (a simulcast camera's other quality may have
    /// an older group in the cache).
    last_group: Option<u64>,
}

impl Subscription {
    /// Whether starting it on `group` keeps its groups growing.
    fn may_start(&self, group: u64) -> bool {
        self.last_group.is_none_or(|g| group >= g)
    }
}

impl Subscription {
    /// Whether its allotment asks for the small quality of a camera with one.
    fn wants_small(&self, simulcast: bool) -> bool {
        simulcast && self.allot.is_some_and(|s| s < 3)
    }

    /// The temporal layer its allotment allows on the quality it receives now.
    fn budget_layer(&self, simulcast: bool) -> u8 {
        match self.allot {
            None => 0,
            Some(step) if !simulcast => step.min(MAX_TEMPORAL_LAYER),
            // On the small quality, waiting for the full one: all of it.
            Some(step) if step >= 3 && self.on_small => MAX_TEMPORAL_LAYER,
            Some(step) => step % 3,
        }
    }

    /// Updates the forwarded layer range for a frame of `layer`, given the
    /// subscriber's congestion cap and its allotment's layer: lowered at
    /// once, raised only at a layer-0 frame (which depends on no upper layer,
    /// so nothing forwarded after it references a frame that was dropped).
    fn adjust_layer(&mut self, congestion_cap: u8, budget_cap: u8, layer: u8) {
        let cap = congestion_cap.min(budget_cap);
        let target = self.preferred_layer.min(cap);
        if target < self.active_layer {
            self.lowered_by = if cap >= self.preferred_layer {
                DropReason::LayerPreference
            } else if budget_cap < congestion_cap {
                DropReason::Budget
            } else {
                DropReason::Congestion
            };
        }
        if target < self.active_layer || layer == 0 {
            self.active_layer = target;
        }
    }
}

/// The router of one live session. See the [module docs](self) for the rules.
#[derive(Debug)]
pub struct Router {
    config: RouterConfig,
    rooms: BTreeMap<RoomId, Room>,
    participants: BTreeMap<ParticipantId, Participant>,
    tracks: BTreeMap<TrackId, Track>,
    next_track: u32,
    outputs: VecDeque<Output>,
    stats: Stats,
    audio_levels_due: Option<Millis>,
    /// Per simulcast camera (its track id): the numbers its subscribers see.
    numbering: BTreeMap<TrackId, Numbering>,
    /// Something that decides whether a camera's full quality is wanted changed.
    wanted_dirty: bool,
}

impl Default for Router {
    fn default() -> Self {
        Self::new(RouterConfig::default())
    }
}

impl Router {
    /// A router with only the main room.
    pub fn new(config: RouterConfig) -> Self {
        let mut rooms = BTreeMap::new();
        rooms.insert(RoomId::MAIN, Room::default());
        Self {
            config,
            rooms,
            participants: BTreeMap::new(),
            tracks: BTreeMap::new(),
            next_track: 1,
            outputs: VecDeque::new(),
            stats: Stats::default(),
            audio_levels_due: None,
            numbering: BTreeMap::new(),
            wanted_dirty: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// Counters since creation.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    // ----- rooms ---------------------------------------------------------------

    /// Opens a breakout room. Fails if it exists, is the main room, or
    /// [`RouterConfig::max_breakout_rooms`] are already open.
    pub fn create_breakout_room(&mut self, room: RoomId) -> Result<(), RouterError> {
        if self.rooms.contains_key(&room) {
            return Err(RouterError::RoomExists(room));
        }
        let breakout_rooms = self.rooms.len() - 1; // the main room always exists
        if breakout_rooms >= self.config.max_breakout_rooms {
            return Err(RouterError::TooManyBreakoutRooms {
                max: self.config.max_breakout_rooms,
            });
        }
        self.rooms.insert(room, Room::default());
        Ok(())
    }

    /// Closes an empty breakout room (move its participants out first).
    pub fn close_breakout_room(&mut self, room: RoomId) -> Result<(), RouterError> {
        if room.is_main() {
            return Err(RouterError::CannotCloseMainRoom);
        }
        let r = self
            .rooms
            .get(&room)
            .ok_or(RouterError::UnknownRoom(room))?;
        if !r.members.is_empty() {
            return Err(RouterError::RoomNotEmpty(room));
        }
        self.rooms.remove(&room);
        Ok(())
    }

    /// The open rooms, main room first.
    pub fn rooms(&self) -> impl Iterator<Item = RoomId> + '_ {
        self.rooms.keys().copied()
    }

    /// The participants in a room.
    pub fn members(&self, room: RoomId) -> impl Iterator<Item = ParticipantId> + '_ {
        self.rooms
            .get(&room)
            .into_iter()
            .flat_map(|r| r.members.iter().copied())
    }

    // ----- participants (control plane) -----------------------------------------

    /// A participant joins (after the IO edge verified its token).
    ///
    /// Sends it `Welcome`, then `TrackAdded` for every track of the room; the
    /// room's roster goes out to everyone who sees it. A participant already
    /// present is refused: to replace a connection, `leave` then `join`.
    pub fn join(
        &mut self,
        now: Millis,
        participant: ParticipantId,
        name: &str,
        room: RoomId,
        may_publish: bool,
    ) -> Result<(), RouterError> {
        if self.participants.contains_key(&participant) {
            return Err(RouterError::AlreadyJoined(participant));
        }
        if self.participants.len() >= self.config.max_participants {
            return Err(RouterError::SessionFull {
                max: self.config.max_participants,
            });
        }
        if name.len() > self.config.max_name_len {
            return Err(RouterError::NameTooLong {
                max: self.config.max_name_len,
            });
        }
        let r = self
            .rooms
            .get_mut(&room)
            .ok_or(RouterError::UnknownRoom(room))?;
        r.members.insert(participant);
        r.roster_dirty = true;
        self.participants.insert(
            participant,
            Participant {
                name: name.to_owned(),
                room,
                may_publish,
                audio_blocked: false,
                published: Vec::new(),
                subscriptions: BTreeSet::new(),
                congestion: Congestion::default(),
                link: Link::default(),
            },
        );
        self.send(
            participant,
            Welcome {
                version: PROTOCOL_VERSION,
                participant,
                room,
                may_publish,
                server_time: now.0,
            },
        );
        self.announce_room_tracks_to(participant, room);
        Ok(())
    }

    /// A participant leaves (or its connection is gone): its tracks are removed,
    /// its subscriptions end, and outputs still queued for it are discarded.
    pub fn leave(&mut self, _now: Millis, participant: ParticipantId) -> Result<(), RouterError> {
        let p = self.participant(participant)?;
        let room = p.room;
        let own: Vec<TrackId> = p.published.iter().map(|(_, t)| *t).collect();
        let subs: Vec<TrackId> = p.subscriptions.iter().copied().collect();
        for track in own {
            self.remove_track(track, false);
        }
        for track in subs {
            if let Some(t) = self.tracks.get_mut(&track) {
                t.subscriptions.retain(|s| s.subscriber != participant);
                self.wanted_dirty = true;
            }
        }
        if let Some(r) = self.rooms.get_mut(&room) {
            r.members.remove(&participant);
            r.roster_dirty = true;
        }
        self.participants.remove(&participant);
        self.outputs.retain(|o| o.participant() != participant);
        Ok(())
    }

    /// Moves a participant to another room, with its publish permission there.
    ///
    /// It gets `TrackRemoved` for the old room's tracks, `Permission`, then
    /// `TrackAdded` for the new room's. Its subscriptions end; subscriptions
    /// to its tracks end; its tracks follow it if it may publish in the new room
    /// and are removed otherwise. Moving to the same room only sets the permission.
    pub fn move_participant(
        &mut self,
        now: Millis,
        participant: ParticipantId,
        to: RoomId,
        may_publish: bool,
    ) -> Result<(), RouterError> {
        let p = self.participant(participant)?;
        if !self.rooms.contains_key(&to) {
            return Err(RouterError::UnknownRoom(to));
        }
        let from = p.room;
        if from == to {
            return self.set_permission(now, participant, may_publish);
        }
        let own: Vec<TrackId> = p.published.iter().map(|(_, t)| *t).collect();
        let subs: Vec<TrackId> = p.subscriptions.iter().copied().collect();

        // What it saw in the old room is gone.
        let seen: Vec<(TrackId, ParticipantId)> = self
            .tracks
            .iter()
            .filter(|(_, t)| t.owner != participant && self.room_of(t.owner) == Some(from))
            .filter(|(_, t)| t.simulcast_of.is_none())
            .map(|(id, t)| (*id, t.owner))
            .collect();
        for (track, owner) in seen {
            self.send(
                participant,
                TrackRemoved {
                    track,
                    participant: owner,
                },
            );
        }
        for track in subs {
            self.drop_subscription(participant, track);
        }

        // Its tracks leave the old room.
        for &track in &own {
            let small = self
                .tracks
                .get(&track)
                .is_some_and(|t| t.simulcast_of.is_some());
            if may_publish {
                self.end_all_subscriptions(track);
                if !small {
                    self.broadcast_except(from, participant, TrackRemoved { track, participant });
                }
            } else {
                self.remove_track(track, true);
            }
        }

        if let Some(r) = self.rooms.get_mut(&from) {
            r.members.remove(&participant);
            r.roster_dirty = true;
        }
        if let Some(r) = self.rooms.get_mut(&to) {
            r.members.insert(participant);
            r.roster_dirty = true;
        }
        if let Some(p) = self.participants.get_mut(&participant) {
            p.room = to;
            p.may_publish = may_publish;
        }
        self.send(
            participant,
            Permission {
                may_publish,
                room: to,
            },
        );

        // ... and enter the new one.
        if may_publish {
            for &track in &own {
                if let Some(t) = self.tracks.get(&track)
                    && t.simulcast_of.is_none()
                {
                    let added = TrackAdded {
                        track,
                        participant,
                        config: t.config.clone(),
                    };
                    self.broadcast_except(to, participant, added);
                }
            }
        }
        self.announce_room_tracks_to(participant, to);
        Ok(())
    }

    /// Grants or revokes the right to publish in the participant's current room.
    ///
    /// Revoking removes its tracks at once (`TrackRemoved` to the room and to
    /// itself; subscribers' streams are reset). It gets `Permission` either way.
    pub fn set_permission(
        &mut self,
        _now: Millis,
        participant: ParticipantId,
        may_publish: bool,
    ) -> Result<(), RouterError> {
        let p = self.participant(participant)?;
        if p.may_publish == may_publish {
            return Ok(());
        }
        let room = p.room;
        if !may_publish {
            let own: Vec<TrackId> = p.published.iter().map(|(_, t)| *t).collect();
            for track in own {
                self.remove_track(track, true);
            }
        }
        if let Some(p) = self.participants.get_mut(&participant) {
            p.may_publish = may_publish;
        }
        if let Some(r) = self.rooms.get_mut(&room) {
            r.roster_dirty = true;
        }
        self.send(participant, Permission { may_publish, room });
        Ok(())
    }

    /// Blocks or unblocks a participant's microphone: while blocked, its
    /// audio frames are refused (its tracks stay, so lifting the block lets
    /// the same track through again).
    pub fn set_audio_blocked(
        &mut self,
        participant: ParticipantId,
        blocked: bool,
    ) -> Result<(), RouterError> {
        self.participants
            .get_mut(&participant)
            .ok_or(RouterError::UnknownParticipant(participant))?
            .audio_blocked = blocked;
        Ok(())
    }

    /// The participant's room, if it has joined.
    pub fn room_of(&self, participant: ParticipantId) -> Option<RoomId> {
        self.participants.get(&participant).map(|p| p.room)
    }

    /// Whether the participant may publish, if it has joined.
    pub fn may_publish(&self, participant: ParticipantId) -> Option<bool> {
        self.participants.get(&participant).map(|p| p.may_publish)
    }

    /// The highest temporal layer the subscriber's backlog allows now.
    pub fn congestion_layer(&self, participant: ParticipantId) -> Option<u8> {
        self.participants
            .get(&participant)
            .map(|p| p.congestion.max_layer)
    }

    /// The tracks the participant subscribes to.
    pub fn subscriptions(&self, participant: ParticipantId) -> impl Iterator<Item = TrackId> + '_ {
        self.participants
            .get(&participant)
            .into_iter()
            .flat_map(|p| p.subscriptions.iter().copied())
    }

    // ----- client requests ---------------------------------------------------------

    /// Applies a decoded control message from a joined participant.
    ///
    /// A refused request is returned and also answered with an `Error` message.
    /// `Hello` is the IO edge's business and refused here.
    pub fn handle_control(
        &mut self,
        now: Millis,
        from: ParticipantId,
        message: ClientMessage,
    ) -> Result<(), RouterError> {
        let result = match message {
            ClientMessage::Hello(_) => Err(RouterError::UnexpectedHello),
            ClientMessage::Publish(m) => match m.simulcast_of {
                Some(of) => self
                    .publish_simulcast(now, from, m.track_id, m.config, of)
                    .map(drop),
                None => self.publish(now, from, m.track_id, m.config).map(drop),
            },
            ClientMessage::Unpublish(m) => self.unpublish(now, from, m.track_id).map(drop),
            ClientMessage::Subscribe(m) => self.subscribe(now, from, m.track),
            ClientMessage::Unsubscribe(m) => self.unsubscribe(now, from, m.track),
            ClientMessage::LayerPreference(m) => {
                self.set_layer_preference(from, m.track, m.max_temporal_layer)
            }
            ClientMessage::KeyframeRequest(m) => self.request_keyframe(now, from, m.track),
            ClientMessage::ViewSize(m) => self.set_view_size(now, from, m.track, m.max_height),
            ClientMessage::Ping(m) => {
                let joined = self.participant(from).map(|_| ());
                joined.map(|()| {
                    let pong = Pong {
                        nonce: m.nonce,
                        server_time: now.0,
                    };
                    self.send(from, pong);
                })
            }
        };
        if let Err(e) = &result
            && self.participants.contains_key(&from)
        {
            self.send(from, ServerMessage::error(e.code(), e.to_string()));
        }
        result
    }

    /// Publishes a track. Answers `Published` to the publisher and announces
    /// `TrackAdded` to the rest of its room.
    pub fn publish(
        &mut self,
        now: Millis,
        participant: ParticipantId,
        client_id: u32,
        config: TrackConfig,
    ) -> Result<TrackId, RouterError> {
        self.add_track(now, participant, client_id, config, None)
    }

    /// Publishes the small quality of the participant's video track
    /// `of` (its client id): simulcast. The new track is answered with
    /// `Published` but not announced: the camera's subscribers get one of the
    /// two qualities, as one stream (see the [module docs](self)). Refused
    /// with `invalid_simulcast` unless `of` is a video track of the
    /// participant's with no small quality yet, not itself a small one, of
    /// the same codec and larger than `config`; with `unknown_client_track`
    /// if it publishes no track `of`.
    pub fn publish_simulcast(
        &mut self,
        now: Millis,
        participant: ParticipantId,
        client_id: u32,
        config: TrackConfig,
        of: u32,
    ) -> Result<TrackId, RouterError> {
        let p = self.participant(participant)?;
        if !p.may_publish {
            return Err(RouterError::NotAllowedToPublish);
        }
        config.validate()?;
        let camera_id = p.track(of).ok_or(RouterError::UnknownClientTrack(of))?;
        let camera = self
            .tracks
            .get(&camera_id)
            .ok_or(RouterError::UnknownClientTrack(of))?;
        let invalid = |m: String| Err(RouterError::InvalidSimulcast(m));
        let (
            MediaParams::Video { width, height },
            MediaParams::Video {
                width: w,
                height: h,
            },
        ) = (config.params, camera.config.params)
        else {
            return invalid(format!(
                "only video has a small quality (track {client_id} or {of} is audio)"
            ));
        };
        if camera.simulcast_of.is_some() {
            return invalid(format!("track {of} is itself a small quality"));
        }
        if camera.small.is_some() {
            return invalid(format!(
                "track {of} already has a small quality (two qualities per camera)"
            ));
        }
        if config.codec != camera.config.codec {
            return invalid(format!(
                "the small quality must use the codec of track {of} ({:?})",
                camera.config.codec
            ));
        }
        if height >= h || width > w {
            return invalid(format!(
                "the small quality ({width}x{height}) must be smaller than track {of} ({w}x{h})"
            ));
        }
        let start = Numbering {
            group: camera.out_group.unwrap_or(0),
            sequence: camera.last_sequence,
        };
        let id = self.add_track(now, participant, client_id, config, Some(camera_id))?;
        self.numbering.entry(camera_id).or_insert(start);
        self.wanted_dirty = true;
        if let Some(camera) = self.tracks.get_mut(&camera_id) {
            camera.small = Some(id);
            // Its subscribers' steps were temporal layers of the one quality:
            // now they are the full quality's.
            for sub in &mut camera.subscriptions {
                sub.allot = sub.allot.map(|l| l + 3);
                sub.on_small = false;
            }
        }
        Ok(id)
    }

    fn add_track(
        &mut self,
        _now: Millis,
        participant: ParticipantId,
        client_id: u32,
        config: TrackConfig,
        simulcast_of: Option<TrackId>,
    ) -> Result<TrackId, RouterError> {
        let p = self.participant(participant)?;
        if !p.may_publish {
            return Err(RouterError::NotAllowedToPublish);
        }
        config.validate()?;
        if p.track(client_id).is_some() {
            return Err(RouterError::DuplicateTrack(client_id));
        }
        if p.published.len() >= self.config.max_tracks_per_participant {
            return Err(RouterError::TooManyTracks {
                max: self.config.max_tracks_per_participant,
            });
        }
        let room = p.room;
        let id = TrackId(self.next_track);
        self.next_track = self
            .next_track
            .checked_add(1)
            .ok_or(RouterError::TrackIdsExhausted)?;
        let added = TrackAdded {
            track: id,
            participant,
            config: config.clone(),
        };
        self.tracks.insert(
            id,
            Track {
                id,
                owner: participant,
                client_id,
                kind: config.kind(),
                config,
                subscriptions: Vec::new(),
                group: None,
                keyframes: KeyframeThrottle::default(),
                audio_level: None,
                last_frame: None,
                rate: RateMeter::default(),
                loudness: None,
                audio_seen: SeqWindow::default(),
                cached: None,
                simulcast_of,
                small: None,
                full_wanted: true,
                out_group: None,
                last_sequence: 0,
                sequence_shift: 0,
            },
        );
        if let Some(p) = self.participants.get_mut(&participant) {
            p.published.push((client_id, id));
        }
        self.send(
            participant,
            Published {
                track_id: client_id,
                track: id,
            },
        );
        if simulcast_of.is_none() {
            self.broadcast_except(room, participant, added);
        }
        Ok(id)
    }

    /// Withdraws a track: `TrackRemoved` to the room, subscribers' streams reset.
    pub fn unpublish(
        &mut self,
        _now: Millis,
        participant: ParticipantId,
        client_id: u32,
    ) -> Result<TrackId, RouterError> {
        let track = self
            .participant(participant)?
            .track(client_id)
            .ok_or(RouterError::UnknownClientTrack(client_id))?;
        self.remove_track(track, false);
        Ok(track)
    }

    /// Subscribes to a track of the participant's own room (idempotent).
    ///
    /// Video starts at the next keyframe, which is requested (throttled).
    pub fn subscribe(
        &mut self,
        now: Millis,
        participant: ParticipantId,
        track: TrackId,
    ) -> Result<(), RouterError> {
        let p = self.participant(participant)?;
        let (room, cap) = (p.room, p.congestion.max_layer);
        // A subscriber known to be short of bandwidth starts low; the next
        // link report allots it properly.
        let limited = p.link.estimate.is_some_and(|e| e != u64::MAX);
        let t = self
            .tracks
            .get(&track)
            .ok_or(RouterError::UnknownTrack(track))?;
        if let Some(of) = t.simulcast_of {
            return Err(RouterError::SmallQuality { track, of });
        }
        if self.room_of(t.owner) != Some(room) {
            return Err(RouterError::TrackNotInRoom(track));
        }
        if t.subscriptions.iter().any(|s| s.subscriber == participant) {
            return Ok(());
        }
        let is_audio = t.kind == MediaKind::Audio;
        let simulcast = t.small.is_some();
        let top = if simulcast { 5 } else { MAX_TEMPORAL_LAYER };
        // A limited link starts on the small quality (its first step).
        let on_small = simulcast && limited;
        let encoding = self.encoding(track, on_small);
        let cached = self.cache_usable(encoding);
        if let Some(t) = self.tracks.get_mut(&track) {
            t.subscriptions.push(Subscription {
                subscriber: participant,
                preferred_layer: MAX_TEMPORAL_LAYER,
                active_layer: cap,
                lowered_by: DropReason::Congestion,
                open: is_audio,
                allot: Some(if is_audio || limited { 0 } else { top }),
                on_small,
                max_height: None,
                last_group: None,
                restarted_at: None,
            });
        }
        if let Some(p) = self.participants.get_mut(&participant) {
            p.subscriptions.insert(track);
        }
        self.wanted_dirty = true;
        // Started from the cache at the track's next frame; otherwise ask.
        if !is_audio && !cached {
            self.want_keyframe(now, encoding);
        }
        Ok(())
    }

    /// The subscriber shows a subscribed video track `max_height` device
    /// pixels high (`ViewSize`). Where the track has a small quality and the
    /// view is at most 4/3 of its height, the subscriber gets the small
    /// quality whatever its bandwidth; a larger view lets it have the full
    /// one again (at once on an unlimited link, else as its budget allows).
    pub fn set_view_size(
        &mut self,
        now: Millis,
        participant: ParticipantId,
        track: TrackId,
        max_height: u32,
    ) -> Result<(), RouterError> {
        let p = self.participant(participant)?;
        let unlimited = p.link.estimate.is_none_or(|e| e == u64::MAX);
        let top = self.top_step(track, Some(max_height));
        let sub = self
            .tracks
            .get_mut(&track)
            .and_then(|t| {
                t.subscriptions
                    .iter_mut()
                    .find(|s| s.subscriber == participant)
            })
            .ok_or(RouterError::NotSubscribed(track))?;
        let before = sub.max_height.replace(max_height);
        self.wanted_dirty = true;
        let Some(top) = top else {
            return Ok(());
        };
        let grew = before.is_some_and(|b| b < max_height);
        match sub.allot {
            Some(step) if step > top => sub.allot = Some(top),
            Some(_) if grew && unlimited => sub.allot = Some(top),
            _ => {}
        }
        self.switch_started(now, participant, track);
        Ok(())
    }

    /// The track's highest step for a view `max_height` high: `None` for
    /// audio; a simulcast camera's small quality only (2) when the view is
    /// small enough for it.
    fn top_step(&self, track: TrackId, max_height: Option<u32>) -> Option<u8> {
        let t = self.tracks.get(&track)?;
        if t.kind != MediaKind::Video {
            return None;
        }
        let Some(small) = t.small.and_then(|s| self.tracks.get(&s)) else {
            return Some(MAX_TEMPORAL_LAYER);
        };
        let small_height = match small.config.params {
            MediaParams::Video { height, .. } => height,
            MediaParams::Audio { .. } => 0,
        };
        let fits_small =
            max_height.is_some_and(|h| h.saturating_mul(3) <= small_height * SMALL_VIEW_PER_3_PX);
        Some(if fits_small { 2 } else { 5 })
    }

    /// The track a subscriber of `track` gets its frames from: the small
    /// quality's when `small` and the track has one, else `track`.
    fn encoding(&self, track: TrackId, small: bool) -> TrackId {
        match self.tracks.get(&track).and_then(|t| t.small) {
            Some(s) if small => s,
            _ => track,
        }
    }

    /// Whether some subscriber could be started from `encoding`'s cache.
    fn cache_usable(&self, encoding: TrackId) -> bool {
        self.tracks
            .get(&encoding)
            .is_some_and(|t| t.cache_usable(self.config.max_replay_frames))
    }

    /// The group id the subscriber's open stream of `track` has (the quality
    /// it is on), if a stream may be open.
    fn open_group(&self, track: TrackId, sub: &Subscription) -> Option<u64> {
        let t = self.tracks.get(&track)?;
        match t.kind {
            MediaKind::Audio => Some(0),
            MediaKind::Video if sub.open => {
                self.tracks
                    .get(&self.encoding(track, sub.on_small))?
                    .out_group
            }
            MediaKind::Video => None,
        }
    }

    /// After a subscriber's allotment of a simulcast camera changed: if it
    /// now wants the quality it does not receive, and that quality's cache
    /// cannot start it, a keyframe of that quality is asked for (throttled);
    /// the switch happens at it.
    fn switch_started(&mut self, now: Millis, subscriber: ParticipantId, track: TrackId) {
        let Some(t) = self.tracks.get(&track) else {
            return;
        };
        let simulcast = t.small.is_some();
        let Some(sub) = t.subscriptions.iter().find(|s| s.subscriber == subscriber) else {
            return;
        };
        if !simulcast || sub.allot.is_none() {
            return;
        }
        let small = sub.wants_small(simulcast);
        if small == sub.on_small && sub.open {
            return;
        }
        let encoding = self.encoding(track, small);
        let newer = self
            .tracks
            .get(&encoding)
            .and_then(|t| t.out_group)
            .is_some_and(|g| sub.may_start(g));
        if !self.cache_usable(encoding) || !newer {
            self.want_keyframe(now, encoding);
        }
    }

    /// Ends a subscription (its stream, if any, is reset).
    pub fn unsubscribe(
        &mut self,
        _now: Millis,
        participant: ParticipantId,
        track: TrackId,
    ) -> Result<(), RouterError> {
        if !self
            .participant(participant)?
            .subscriptions
            .contains(&track)
        {
            return Err(RouterError::NotSubscribed(track));
        }
        self.drop_subscription(participant, track);
        Ok(())
    }

    /// Caps the temporal layers a subscriber wants on a track (0..=2).
    ///
    /// A lower cap applies at once, a higher one from the next layer-0 frame.
    pub fn set_layer_preference(
        &mut self,
        participant: ParticipantId,
        track: TrackId,
        max_temporal_layer: u8,
    ) -> Result<(), RouterError> {
        if max_temporal_layer > MAX_TEMPORAL_LAYER {
            return Err(RouterError::InvalidLayer(max_temporal_layer));
        }
        self.participant(participant)?;
        let sub = self
            .tracks
            .get_mut(&track)
            .and_then(|t| {
                t.subscriptions
                    .iter_mut()
                    .find(|s| s.subscriber == participant)
            })
            .ok_or(RouterError::NotSubscribed(track))?;
        sub.preferred_layer = max_temporal_layer;
        Ok(())
    }

    /// A subscriber asks for a keyframe (its decoder needs one); throttled.
    /// Its subscription is not changed. Ignored for audio.
    pub fn request_keyframe(
        &mut self,
        now: Millis,
        participant: ParticipantId,
        track: TrackId,
    ) -> Result<(), RouterError> {
        if !self
            .participant(participant)?
            .subscriptions
            .contains(&track)
        {
            return Err(RouterError::NotSubscribed(track));
        }
        let Some(t) = self.tracks.get(&track) else {
            return Ok(());
        };
        if t.kind != MediaKind::Video {
            return Ok(());
        }
        let Some(sub) = t
            .subscriptions
            .iter()
            .find(|s| s.subscriber == participant)
            .copied()
        else {
            return Ok(());
        };
        // The quality it is on (or starting on).
        let encoding = self.encoding(track, sub.on_small);
        // Served from the keyframe cache where it can be: the subscriber's
        // stream is reset and the next frame starts it again from the
        // group's keyframe (as after a dropped group), so the publisher
        // sends no keyframe to everyone. At most once per
        // `keyframe_request_interval` per subscription; beyond that, without
        // a usable cache, or on a simulcast camera's small quality (whose
        // switches have their own rules), the publisher is asked (throttled).
        let interval = self.config.keyframe_request_interval;
        if encoding == track
            && self.cache_usable(track)
            && sub
                .restarted_at
                .is_none_or(|at| now.saturating_since(at) >= interval)
        {
            if let Some(group) = self.open_group(track, &sub) {
                self.outputs.push_back(Output::EndStream(StreamEnd {
                    subscriber: participant,
                    track,
                    group,
                    mode: EndMode::Reset,
                }));
            }
            if let Some(sub) = self.tracks.get_mut(&track).and_then(|t| {
                t.subscriptions
                    .iter_mut()
                    .find(|s| s.subscriber == participant)
            }) {
                sub.open = false;
                sub.restarted_at = Some(now);
            }
            self.stats.keyframe_requests_from_cache += 1;
            return Ok(());
        }
        self.want_keyframe(now, encoding);
        Ok(())
    }

    /// The global id of a participant's published track, from its own id
    /// (e.g. to name an incoming stream).
    pub fn resolve_track(&self, participant: ParticipantId, client_id: u32) -> Option<TrackId> {
        self.participants.get(&participant)?.track(client_id)
    }

    /// A published track.
    pub fn track(&self, track: TrackId) -> Option<TrackInfo> {
        self.tracks.get(&track).map(|t| TrackInfo {
            id: track,
            owner: t.owner,
            client_id: t.client_id,
            config: t.config.clone(),
        })
    }

    /// The tracks of `participant` whose frames arrived within `within`
    /// before `now` (what it is really sending, not what it announced). A
    /// simulcast camera flows while either quality does (its full quality
    /// pauses while nobody wants it); its small quality is not listed.
    pub fn flowing(
        &self,
        now: Millis,
        participant: ParticipantId,
        within: u64,
    ) -> impl Iterator<Item = TrackInfo> + '_ {
        let recent = move |t: &Track| {
            t.last_frame
                .is_some_and(|at| now.0.saturating_sub(at.0) <= within)
        };
        self.tracks
            .values()
            .filter(move |t| {
                t.owner == participant
                    && t.simulcast_of.is_none()
                    && (recent(t)
                        || t.small
                            .and_then(|s| self.tracks.get(&s))
                            .is_some_and(recent))
            })
            .map(|t| TrackInfo {
                id: t.id,
                owner: t.owner,
                client_id: t.client_id,
                config: t.config.clone(),
            })
    }

    /// The subscribers of a track.
    pub fn subscribers(&self, track: TrackId) -> impl Iterator<Item = ParticipantId> + '_ {
        self.tracks
            .get(&track)
            .into_iter()
            .flat_map(|t| t.subscriptions.iter().map(|s| s.subscriber))
    }

    // ----- media -------------------------------------------------------------------

    /// Plans the forwarding of one frame received from `from` (the header as
    /// decoded: the publisher's own track id). `plan` is cleared and refilled.
    ///
    /// A rejected frame leaves the plan empty and is counted in
    /// [`Stats::rejected_frames`]; a late frame of a superseded group also
    /// leaves it empty (counted in [`DropStats::stale_group`]).
    pub fn handle_frame(
        &mut self,
        now: Millis,
        from: ParticipantId,
        header: &FrameHeader,
        payload_len: usize,
        plan: &mut ForwardPlan,
    ) -> Result<(), RejectReason> {
        plan.clear();
        let stats = &mut self.stats;
        stats.frames_in += 1;
        stats.bytes_in += payload_len as u64;
        let reject = |stats: &mut Stats, reason| {
            stats.reject(reason);
            Err(reason)
        };
        let Some(publisher) = self.participants.get(&from) else {
            return reject(stats, RejectReason::UnknownParticipant);
        };
        if !publisher.may_publish {
            return reject(stats, RejectReason::NotAllowedToPublish);
        }
        let Some(track_id) = publisher.track(header.track) else {
            return reject(stats, RejectReason::UnknownTrack);
        };
        let Some(track) = self.tracks.get_mut(&track_id) else {
            return reject(stats, RejectReason::UnknownTrack);
        };
        if track.kind == MediaKind::Audio && publisher.audio_blocked {
            return reject(stats, RejectReason::AudioBlocked);
        }
        if track.kind == MediaKind::Audio && !track.audio_seen.first_time(header.sequence) {
            stats.audio_copies_dropped += 1;
            return Ok(());
        }
        track.last_frame = Some(now);
        track.last_sequence = header.sequence;

        plan.track = track_id;
        plan.source = track_id;
        plan.kind = track.kind;
        plan.header = FrameHeader {
            track: track_id.0,
            ..*header
        };
        let payload = payload_len as u64;

        if track.kind == MediaKind::Audio {
            // Audio: every frame to every subscriber its budget allows, first.
            track.rate.frame(now, 0, payload);
            plan.priority = Priority::High;
            for sub in &track.subscriptions {
                let action = if let Some(level) = sub.allot {
                    stats.deliveries += 1;
                    stats.bytes_out += payload;
                    stats.redundant_deliveries += u64::from(level > 0);
                    Action::Datagram {
                        redundant: level > 0,
                    }
                } else {
                    stats.drops.budget += 1;
                    Action::Drop(DropReason::Budget)
                };
                plan.deliveries.push(Delivery {
                    subscriber: sub.subscriber,
                    action,
                });
            }
            return Ok(());
        }

        plan.priority = Priority::Normal;
        let group = header.group;
        let max_cached = self.config.max_cached_group_bytes;
        let max_replay = self.config.max_replay_frames;

        // The encoding's own state: group rules, rate, cache.
        let mut previous = None;
        if header.keyframe {
            if track.group.is_some_and(|current| group <= current) {
                return reject(stats, RejectReason::GroupRegression);
            }
            track.group = Some(group);
            track.keyframes.keyframe_arrived();
            track.rate.frame(now, 0, payload);
            if payload <= max_cached {
                track.cached = Some(CachedGroup {
                    group,
                    bytes: payload,
                    frames: [1, 0, 0],
                });
                plan.cache = CacheOp::Restart;
            } else {
                track.cached = None;
                plan.cache = CacheOp::Clear;
            }
        } else {
            match track.group {
                Some(current) if group < current => {
                    stats.drops.stale_group += 1;
                    return Ok(());
                }
                Some(current) if group == current => {}
                _ => return reject(stats, RejectReason::MissingKeyframe),
            }
            let layer = header.temporal_layer;
            track.rate.frame(now, layer, payload);
            if let Some(c) = &mut track.cached
                && c.group == group
            {
                if c.bytes + payload <= max_cached {
                    c.bytes += payload;
                    c.frames[usize::from(layer.min(MAX_TEMPORAL_LAYER))] += 1;
                    plan.cache = CacheOp::Append;
                } else {
                    track.cached = None;
                    plan.cache = CacheOp::Clear;
                }
            }
        }
        // What subscribers see: a simulcast camera's groups and sequence
        // numbers count over both qualities.
        let camera_id = track.simulcast_of.unwrap_or(track_id);
        let is_small = track.simulcast_of.is_some();
        // Sequence numbers: each quality's own, shifted at each of its
        // keyframes to follow the highest number either quality has had, so a
        // group runs on without gaps and a switch never goes back.
        let numbering = self.numbering.get_mut(&camera_id);
        if header.keyframe {
            let out = match numbering {
                Some(n) => {
                    n.group += 1;
                    track.sequence_shift = n.sequence.wrapping_add(1).wrapping_sub(header.sequence);
                    n.group
                }
                None => group,
            };
            previous = track.out_group.replace(out);
        }
        if let Some(n) = self.numbering.get_mut(&camera_id) {
            let out = header.sequence.wrapping_add(track.sequence_shift);
            n.sequence = n.sequence.max(out);
            plan.header.sequence = out;
        }
        let Some(out_group) = track.out_group else {
            return Ok(());
        };
        plan.track = camera_id;
        plan.header.track = camera_id.0;
        plan.header.group = out_group;
        let cache_usable = track.cache_usable(max_replay);
        let cache = track.current_cache();
        let track_keyframes_pending = track.keyframes.is_pending();
        let other = if is_small {
            Some(camera_id)
        } else {
            track.small
        };

        // The other quality's current group (a switching subscriber's stream).
        let other_group = other
            .and_then(|t| self.tracks.get(&t))
            .and_then(|t| t.out_group);
        let participants = &self.participants;
        let policy = &self.config.backlog;
        let congestion = |p: ParticipantId| {
            participants
                .get(&p)
                .map(|p| p.congestion)
                .unwrap_or_default()
        };
        let stats = &mut self.stats;
        let Some(camera) = self.tracks.get_mut(&camera_id) else {
            return Ok(());
        };
        let simulcast = camera.small.is_some();
        let layer = header.temporal_layer;
        let mut someone_waits = false;
        for sub in &mut camera.subscriptions {
            let c = congestion(sub.subscriber);
            let wants_small = sub.wants_small(simulcast);
            if !sub.open && sub.allot.is_some() {
                // Nothing open: it starts on the quality it wants.
                sub.on_small = wants_small;
            }
            if sub.on_small != is_small {
                // A frame of the quality it does not receive now: it switches
                // here if it wants this one and the frame (a keyframe) or the
                // cache (a replay) can start it.
                if sub.allot.is_none() || wants_small != is_small {
                    continue;
                }
                let replay = cache
                    .and_then(|cache| {
                        let cap = sub.preferred_layer.min(c.max_layer);
                        cache.replay_layer(cap.min(sub.allot.unwrap_or(0) % 3), max_replay)
                    })
                    .filter(|_| c.backlog <= policy.recover_below && sub.may_start(out_group));
                if !header.keyframe && replay.is_none() {
                    someone_waits |= !cache_usable || !sub.may_start(out_group);
                    continue;
                }
                // The old quality's stream ends after what was sent: the
                // new quality's group has a larger id.
                if sub.open
                    && let Some(g) = other_group
                {
                    plan.ends.push(StreamEnd {
                        subscriber: sub.subscriber,
                        track: camera_id,
                        group: g,
                        mode: EndMode::Finish,
                    });
                }
                sub.on_small = is_small;
                sub.open = false;
                stats.quality_switches += 1;
            }
            let budget_cap = sub.budget_layer(simulcast);
            if header.keyframe {
                if let (true, Some(previous)) = (sub.open, previous) {
                    plan.ends.push(StreamEnd {
                        subscriber: sub.subscriber,
                        track: camera_id,
                        group: previous,
                        mode: if c.is_lagging(policy) {
                            EndMode::Reset
                        } else {
                            EndMode::Finish
                        },
                    });
                }
                if sub.allot.is_none() {
                    sub.open = false;
                    stats.drops.budget += 1;
                    plan.deliveries.push(Delivery {
                        subscriber: sub.subscriber,
                        action: Action::Drop(DropReason::Budget),
                    });
                    continue;
                }
                sub.open = true;
                sub.last_group = Some(out_group);
                sub.adjust_layer(c.max_layer, budget_cap, 0);
                stats.deliveries += 1;
                stats.bytes_out += payload;
                plan.deliveries.push(Delivery {
                    subscriber: sub.subscriber,
                    action: Action::Stream {
                        group: out_group,
                        open: true,
                    },
                });
                continue;
            }
            let action = if !sub.open {
                if sub.allot.is_none() {
                    stats.drops.budget += 1;
                    Action::Drop(DropReason::Budget)
                } else if let Some(max_layer) = cache
                    .and_then(|cache| {
                        cache.replay_layer(
                            sub.preferred_layer.min(c.max_layer).min(budget_cap),
                            max_replay,
                        )
                    })
                    .filter(|_| c.backlog <= policy.recover_below && sub.may_start(out_group))
                {
                    // Start it from the cache: keyframe and the frames since
                    // (of fewer layers if the group is long; the others come
                    // back at the next layer-0 frame).
                    sub.open = true;
                    sub.last_group = Some(out_group);
                    sub.active_layer = max_layer;
                    stats.cache_replays += 1;
                    stats.deliveries += 1;
                    stats.bytes_out += payload;
                    Action::Replay {
                        group: out_group,
                        max_layer,
                    }
                } else {
                    someone_waits |= !cache_usable || !sub.may_start(out_group);
                    stats.drops.awaiting_keyframe += 1;
                    Action::Drop(DropReason::AwaitingKeyframe)
                }
            } else {
                let cap = c.max_layer;
                sub.adjust_layer(cap, budget_cap, layer);
                if layer <= sub.active_layer {
                    stats.deliveries += 1;
                    stats.bytes_out += payload;
                    Action::Stream {
                        group: out_group,
                        open: false,
                    }
                } else {
                    let reason = if layer > sub.preferred_layer {
                        DropReason::LayerPreference
                    } else if layer > budget_cap && budget_cap < cap {
                        DropReason::Budget
                    } else if layer > cap {
                        DropReason::Congestion
                    } else {
                        // Allowed again, but not before the next layer-0 frame.
                        sub.lowered_by
                    };
                    match reason {
                        DropReason::LayerPreference => stats.drops.layer_preference += 1,
                        DropReason::Budget => stats.drops.budget += 1,
                        _ => stats.drops.congestion += 1,
                    }
                    Action::Drop(reason)
                }
            };
            plan.deliveries.push(Delivery {
                subscriber: sub.subscriber,
                action,
            });
        }
        // Someone still waits for a keyframe the cache cannot give: if the
        // last request is old enough (lost, or ignored by the encoder), ask again.
        if someone_waits
            && !track_keyframes_pending
            && let Some(track) = self.tracks.get_mut(&track_id)
            && track
                .keyframes
                .want(now, self.config.keyframe_request_interval)
        {
            let (owner, client_id) = (track.owner, track.client_id);
            self.stats.keyframe_requests_sent += 1;
            self.send(
                owner,
                RequestKeyframe {
                    track_id: client_id,
                },
            );
        }
        Ok(())
    }

    /// The IO edge reports how many bytes it holds queued for a subscriber
    /// (all its streams). Report regularly (e.g. every 100-250 ms, or with
    /// [`handle_link`](Self::handle_link)) and whenever the queue crosses a
    /// threshold of [`BacklogPolicy`].
    ///
    /// Above `drop_group_above`, each of its video streams is reset
    /// ([`Output::EndStream`]); it restarts from the keyframe cache once its
    /// backlog is low, or at a keyframe, requested (throttled) only if the
    /// cache cannot serve.
    pub fn handle_backlog(
        &mut self,
        now: Millis,
        subscriber: ParticipantId,
        queued_bytes: u64,
    ) -> Result<(), RouterError> {
        let p = self
            .participants
            .get_mut(&subscriber)
            .ok_or(RouterError::UnknownParticipant(subscriber))?;
        if !p.congestion.report(now, queued_bytes, &self.config.backlog) {
            return Ok(());
        }
        let subs: Vec<TrackId> = p.subscriptions.iter().copied().collect();
        for track_id in subs {
            let Some(track) = self.tracks.get(&track_id) else {
                continue;
            };
            if track.kind != MediaKind::Video {
                continue;
            }
            let simulcast = track.small.is_some();
            let Some(sub) = track
                .subscriptions
                .iter()
                .find(|s| s.subscriber == subscriber && s.open)
            else {
                continue;
            };
            let Some(group) = self.open_group(track_id, sub) else {
                continue;
            };
            // It restarts on the quality it wants.
            let encoding = self.encoding(track_id, sub.wants_small(simulcast));
            let cached = self.cache_usable(encoding);
            let Some(sub) = self.tracks.get_mut(&track_id).and_then(|t| {
                t.subscriptions
                    .iter_mut()
                    .find(|s| s.subscriber == subscriber)
            }) else {
                continue;
            };
            sub.open = false;
            self.stats.group_drops += 1;
            self.outputs.push_back(Output::EndStream(StreamEnd {
                subscriber,
                track: track_id,
                group,
                mode: EndMode::Reset,
            }));
            if !cached {
                self.want_keyframe(now, encoding);
            }
        }
        Ok(())
    }

    /// The IO edge reports what it measured on a subscriber's connection
    /// (every 50-100 ms). Its backlog is applied as by
    /// [`handle_backlog`](Self::handle_backlog); its bandwidth estimate is
    /// split over its tracks (see the [module docs](self)): a lower share
    /// applies from the next frame, a higher one needs
    /// [`BudgetPolicy::raise_headroom_percent`] and comes one layer per
    /// [`BudgetPolicy::raise_interval`].
    pub fn handle_link(
        &mut self,
        now: Millis,
        subscriber: ParticipantId,
        report: LinkReport,
    ) -> Result<(), RouterError> {
        self.handle_backlog(now, subscriber, report.queued)?;
        let policy = self.config.budget.clone();
        if let Some(p) = self.participants.get_mut(&subscriber) {
            match p.link.report(&report, &policy) {
                Some(Saturation::Backlog) => self.stats.saturated.backlog += 1,
                Some(Saturation::QueueDelay) => self.stats.saturated.queue_delay += 1,
                Some(Saturation::HeldBack) => self.stats.saturated.held_back += 1,
                Some(Saturation::Loss) => self.stats.saturated.loss += 1,
                Some(Saturation::BackedUp) => self.stats.saturated.backed_up += 1,
                Some(Saturation::FlowControl) => self.stats.saturated.flow_control += 1,
                None => {}
            }
        }
        self.reallot(now, subscriber);
        Ok(())
    }

    /// The subscriber's bandwidth estimate in bits/s (`None`: no report yet;
    /// `u64::MAX`: no limit known).
    pub fn bandwidth_estimate(&self, participant: ParticipantId) -> Option<u64> {
        self.participants.get(&participant)?.link.estimate
    }

    /// The rate the IO edge should hold the subscriber's transport to, in
    /// bits/s: its estimate while its path is known to be limited (since a
    /// saturation by queue delay, loss or unacknowledged sending, until the
    /// estimate grew back to what the transport's window allows); `None`
    /// otherwise. Bursts — a keyframe, a replayed group — then leave at about
    /// the rate the link takes instead of overflowing the queue in front of it.
    pub fn rate_limit(&self, participant: ParticipantId) -> Option<u64> {
        let link = &self.participants.get(&participant)?.link;
        link.estimate.filter(|_| link.knee.is_some())
    }

    /// What the subscriber's budget allots it of a track: audio `Some(0)`
    /// forwarded, video up to that temporal layer; `None` nothing.
    pub fn allotment(&self, participant: ParticipantId, track: TrackId) -> Option<Option<u8>> {
        self.tracks
            .get(&track)?
            .subscriptions
            .iter()
            .find(|s| s.subscriber == participant)
            .map(|s| s.allot)
    }

    /// What the subscriber's budget allots it, for logs: how many audio
    /// tracks it hears (with redundancy), and each video track's step.
    pub fn allotment_summary(&self, participant: ParticipantId) -> String {
        let Some(p) = self.participants.get(&participant) else {
            return String::new();
        };
        let (mut audio, mut redundant, mut video) = (0, 0, String::new());
        let (mut audio_bps, mut small_base_bps) = (0, 0);
        for t in p.subscriptions.iter().filter_map(|id| self.tracks.get(id)) {
            let Some(s) = t.subscriptions.iter().find(|s| s.subscriber == participant) else {
                continue;
            };
            if t.kind == MediaKind::Video {
                let base = t.small.and_then(|s| self.tracks.get(&s)).unwrap_or(t);
                small_base_bps = small_base_bps.max(base.rate.up_to(0));
            }
            match (t.kind, s.allot) {
                (MediaKind::Audio, Some(a)) => {
                    audio += 1;
                    audio_bps += t.rate.up_to(0);
                    redundant += usize::from(a > 0);
                }
                (MediaKind::Audio, None) => {}
                (MediaKind::Video, a) => {
                    video.push(a.map_or('-', |a| char::from(b'0' + a.min(9))));
                }
            }
        }
        format!(
            "audio {audio} ({redundant} redundant, {} kbit/s), video [{video}] (base layer up to {} kbit/s)",
            audio_bps / 1000,
            small_base_bps / 1000
        )
    }

    /// Splits the subscriber's estimate over its tracks again.
    fn reallot(&mut self, now: Millis, subscriber: ParticipantId) {
        let Some(p) = self.participants.get(&subscriber) else {
            return;
        };
        let Some(estimate) = p.link.estimate else {
            return;
        };
        let policy = &self.config.budget;
        let speaking = |t: &Track| {
            t.loudness.filter(|(level, at)| {
                *level <= policy.speaking_level && now.saturating_since(*at) <= policy.speaking_for
            })
        };
        // The active speaker: the loudest speaking audio track's owner, held
        // while it keeps speaking until another has been the loudest for
        // `speaker_hold` (people talking over each other do not make the
        // pictures on a thin link change every few hundred milliseconds).
        let speakers: Vec<(u8, ParticipantId)> = p
            .subscriptions
            .iter()
            .filter_map(|id| self.tracks.get(id))
            .filter(|t| t.kind == MediaKind::Audio)
            .filter_map(|t| speaking(t).map(|(level, _)| (level, t.owner)))
            .collect();
        let loudest = speakers.iter().min().map(|(_, owner)| *owner);
        let held = p
            .link
            .speaker
            .filter(|s| speakers.iter().any(|(_, o)| o == s));
        let (active, challenger) = match (held, loudest) {
            (Some(h), Some(l)) if h != l => match p.link.challenger {
                Some((c, since)) if c == l => {
                    if now.saturating_since(since) >= policy.speaker_hold {
                        (Some(l), None)
                    } else {
                        (Some(h), Some((c, since)))
                    }
                }
                _ => (Some(h), Some((l, now))),
            },
            (Some(h), _) => (Some(h), None),
            (None, l) => (l, None),
        };
        let wants: Vec<Want> = p
            .subscriptions
            .iter()
            .filter_map(|id| self.tracks.get(id))
            .map(|t| {
                let sub = t.subscriptions.iter().find(|s| s.subscriber == subscriber);
                // Already allotted: keeps its place among equals.
                let on = sub.is_some_and(|s| s.allot.is_some());
                (t, sub, on)
            })
            .map(|(t, sub, on)| match t.kind {
                MediaKind::Audio => {
                    let loud = speaking(t);
                    Want {
                        track: t.id,
                        kind: t.kind,
                        on,
                        class: u8::from(loud.is_none()),
                        level: loud.map_or(SILENCE_LEVEL, |(l, _)| l),
                        rungs: 1,
                        bps: [t.rate.up_to(0); MAX_RUNGS],
                    }
                }
                MediaKind::Video => {
                    let max_height = sub.and_then(|s| s.max_height);
                    let rungs = self.top_step(t.id, max_height).map_or(0, |s| s + 1);
                    let full = [t.rate.up_to(0), t.rate.up_to(1), t.rate.up_to(2)];
                    let mut bps = [0; MAX_RUNGS];
                    match t.small.and_then(|s| self.tracks.get(&s)) {
                        Some(small) => {
                            let s = &small.rate;
                            bps[..3].copy_from_slice(&[s.up_to(0), s.up_to(1), s.up_to(2)]);
                            bps[3..].copy_from_slice(&full);
                        }
                        None => bps[..3].copy_from_slice(&full),
                    }
                    Want {
                        track: t.id,
                        kind: t.kind,
                        on,
                        class: if Some(t.owner) == active {
                            0
                        } else if t.config.source == Some(TrackSource::Screen) {
                            1
                        } else {
                            2
                        },
                        level: SILENCE_LEVEL,
                        rungs,
                        bps,
                    }
                }
            })
            .collect();
        let protect = p.link.lossy;
        let down = allocate(estimate, &wants, policy.audio_last_n, protect);
        let cautious = estimate / (100 + policy.raise_headroom_percent) * 100;
        let up = allocate(cautious, &wants, policy.audio_last_n, protect);
        let may_raise = p.link.may_raise(now, policy);
        let (mut raised, mut lowered) = (false, false);
        let mut changed = Vec::new();
        for (i, want) in wants.iter().enumerate() {
            let Some(track) = self.tracks.get(&want.track) else {
                continue;
            };
            let small_group = track
                .small
                .and_then(|s| self.tracks.get(&s))
                .and_then(|s| s.out_group);
            let Some(track) = self.tracks.get_mut(&want.track) else {
                continue;
            };
            let full_group = track.out_group;
            let Some(sub) = track
                .subscriptions
                .iter_mut()
                .find(|s| s.subscriber == subscriber)
            else {
                continue;
            };
            let current = sub.allot;
            let next = if rank(down[i]) < rank(current) {
                down[i]
            } else if rank(up[i]) > rank(current) {
                match want.kind {
                    // Audio is cheap and late audio useless: on at once.
                    MediaKind::Audio => up[i],
                    // Every track the cautious split allows, one layer.
                    MediaKind::Video if may_raise => {
                        raised = true;
                        Some(current.map_or(0, |l| l + 1))
                    }
                    MediaKind::Video => current,
                }
            } else {
                current
            };
            if next == current {
                continue;
            }
            sub.allot = next;
            if want.kind == MediaKind::Audio && next.is_some() && current.is_some() {
                // Redundancy on or off: no track gained or lost.
                continue;
            }
            changed.push(want.track);
            let group = if sub.on_small {
                small_group
            } else {
                full_group
            };
            if rank(next) < rank(current) {
                self.stats.budget_lowered += 1;
                lowered = true;
            } else {
                self.stats.budget_raised += 1;
            }
            if want.kind == MediaKind::Video
                && next.is_none()
                && sub.open
                && let Some(group) = group
            {
                sub.open = false;
                self.outputs.push_back(Output::EndStream(StreamEnd {
                    subscriber,
                    track: want.track,
                    group,
                    mode: EndMode::Reset,
                }));
            }
        }
        if let Some(p) = self.participants.get_mut(&subscriber) {
            p.link.speaker = active;
            p.link.challenger = challenger;
            if lowered {
                p.link.lowered(now, policy);
            }
            if raised {
                p.link.raised(now, policy);
            }
        }
        self.wanted_dirty |= !changed.is_empty();
        for track in changed {
            self.switch_started(now, subscriber, track);
        }
    }

    /// The IO edge reports an audio track's level (-dBov, 0 loudest, 127
    /// silence; larger values are clamped), e.g. from decoding its Opus frames.
    /// Levels go out in `AudioLevels` every [`RouterConfig::audio_levels_interval`].
    pub fn handle_audio_level(
        &mut self,
        now: Millis,
        track: TrackId,
        level: u8,
    ) -> Result<(), RouterError> {
        let t = self
            .tracks
            .get_mut(&track)
            .ok_or(RouterError::UnknownTrack(track))?;
        if t.kind != MediaKind::Audio {
            return Err(RouterError::NotAudio(track));
        }
        t.audio_level = Some(level.min(SILENCE_LEVEL));
        t.loudness = Some((level.min(SILENCE_LEVEL), now));
        if self.audio_levels_due.is_none() {
            self.audio_levels_due = Some(now + self.config.audio_levels_interval);
        }
        Ok(())
    }

    /// Time has passed: serves pending keyframe requests, restores layers of
    /// subscribers that caught up, sends due `AudioLevels`.
    pub fn handle_timeout(&mut self, now: Millis) {
        let interval = self.config.keyframe_request_interval;
        for track in self.tracks.values_mut() {
            if track.keyframes.fire(now, interval) {
                self.stats.keyframe_requests_sent += 1;
                self.outputs.push_back(Output::Control {
                    to: track.owner,
                    message: RequestKeyframe {
                        track_id: track.client_id,
                    }
                    .into(),
                });
            }
        }
        for p in self.participants.values_mut() {
            p.congestion.recover(now, &self.config.backlog);
        }
        if self.audio_levels_due.is_some_and(|due| now >= due) {
            self.audio_levels_due = None;
            self.send_audio_levels();
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let interval = self.config.keyframe_request_interval;
        let keyframes = self
            .tracks
            .values()
            .filter_map(|t| t.keyframes.due(interval));
        let recoveries = self
            .participants
            .values()
            .filter_map(|p| p.congestion.recovery_due(&self.config.backlog));
        keyframes
            .chain(recoveries)
            .chain(self.audio_levels_due)
            .min()
    }

    /// The next output, `None` when there is nothing to do.
    ///
    /// Roster changes are coalesced: rosters go out once the queue is otherwise empty.
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.outputs.is_empty() {
            self.flush_wanted();
            self.flush_rosters();
        }
        self.outputs.pop_front()
    }

    /// Tells each simulcast camera's publisher when its full quality becomes
    /// wanted (some subscriber's allotment is a full-quality step) or
    /// unwanted; a camera whose small quality went is wanted again.
    fn flush_wanted(&mut self) {
        if !std::mem::take(&mut self.wanted_dirty) {
            return;
        }
        let mut changes = Vec::new();
        for t in self.tracks.values_mut() {
            if t.kind != MediaKind::Video || t.simulcast_of.is_some() {
                continue;
            }
            let wanted = t.small.is_none()
                || t.subscriptions
                    .iter()
                    .any(|s| s.allot.is_some_and(|step| step >= 3));
            if wanted != t.full_wanted {
                t.full_wanted = wanted;
                changes.push((t.owner, t.client_id, wanted));
            }
        }
        for (owner, track_id, wanted) in changes {
            self.send(owner, TrackWanted { track_id, wanted });
        }
    }

    // ----- internals -----------------------------------------------------------------

    fn participant(&self, participant: ParticipantId) -> Result<&Participant, RouterError> {
        self.participants
            .get(&participant)
            .ok_or(RouterError::UnknownParticipant(participant))
    }

    fn send(&mut self, to: ParticipantId, message: impl Into<ServerMessage>) {
        self.outputs.push_back(Output::Control {
            to,
            message: message.into(),
        });
    }

    /// Sends to every member of `room` but `except`.
    fn broadcast_except(
        &mut self,
        room: RoomId,
        except: ParticipantId,
        message: impl Into<ServerMessage>,
    ) {
        let message = message.into();
        let Some(r) = self.rooms.get(&room) else {
            return;
        };
        for &to in r.members.iter().filter(|&&m| m != except) {
            self.outputs.push_back(Output::Control {
                to,
                message: message.clone(),
            });
        }
    }

    /// `TrackAdded` to `participant` for every track of `room` but its own.
    fn announce_room_tracks_to(&mut self, participant: ParticipantId, room: RoomId) {
        let added: Vec<TrackAdded> = self
            .tracks
            .iter()
            .filter(|(_, t)| t.owner != participant && self.room_of(t.owner) == Some(room))
            .filter(|(_, t)| t.simulcast_of.is_none())
            .map(|(id, t)| TrackAdded {
                track: *id,
                participant: t.owner,
                config: t.config.clone(),
            })
            .collect();
        for m in added {
            self.send(participant, m);
        }
    }

    /// A keyframe is wanted on a video track: request it now or when the throttle allows.
    fn want_keyframe(&mut self, now: Millis, track: TrackId) {
        let Some(t) = self.tracks.get_mut(&track) else {
            return;
        };
        if t.keyframes.want(now, self.config.keyframe_request_interval) {
            let (owner, client_id) = (t.owner, t.client_id);
            self.stats.keyframe_requests_sent += 1;
            self.send(
                owner,
                RequestKeyframe {
                    track_id: client_id,
                },
            );
        } else {
            self.stats.keyframe_requests_coalesced += 1;
        }
    }

    /// Ends one subscription: the subscriber's stream (if any) is reset.
    fn drop_subscription(&mut self, subscriber: ParticipantId, track: TrackId) {
        if let Some(p) = self.participants.get_mut(&subscriber) {
            p.subscriptions.remove(&track);
        }
        let Some(t) = self.tracks.get(&track) else {
            return;
        };
        let Some(i) = t
            .subscriptions
            .iter()
            .position(|s| s.subscriber == subscriber)
        else {
            return;
        };
        let group = self.open_group(track, &t.subscriptions[i]);
        if let Some(t) = self.tracks.get_mut(&track) {
            t.subscriptions.swap_remove(i);
        }
        self.wanted_dirty = true;
        if let Some(group) = group {
            self.outputs.push_back(Output::EndStream(StreamEnd {
                subscriber,
                track,
                group,
                mode: EndMode::Reset,
            }));
        }
    }

    /// Ends every subscription to a track (streams reset).
    fn end_all_subscriptions(&mut self, track: TrackId) {
        let Some(t) = self.tracks.get(&track) else {
            return;
        };
        let ends: Vec<(ParticipantId, Option<u64>)> = t
            .subscriptions
            .iter()
            .map(|sub| (sub.subscriber, self.open_group(track, sub)))
            .collect();
        if let Some(t) = self.tracks.get_mut(&track) {
            t.subscriptions.clear();
        }
        self.wanted_dirty = true;
        for (subscriber, group) in ends {
            if let Some(group) = group {
                self.outputs.push_back(Output::EndStream(StreamEnd {
                    subscriber,
                    track,
                    group,
                    mode: EndMode::Reset,
                }));
            }
            if let Some(p) = self.participants.get_mut(&subscriber) {
                p.subscriptions.remove(&track);
            }
        }
    }

    /// Removes a track: subscriptions end, `TrackRemoved` to its room (and to
    /// the owner too if `tell_owner`, when the server removes it).
    ///
    /// A simulcast camera's small quality goes with it (its owner told); a
    /// small quality removed alone moves the camera's subscribers that were
    /// on it back to the full one (their stream reset; they restart from its
    /// cache or its next keyframe).
    fn remove_track(&mut self, track: TrackId, tell_owner: bool) {
        if let Some(small) = self.tracks.get(&track).and_then(|t| t.small) {
            self.remove_track(small, true);
        }
        if let Some(camera) = self.tracks.get(&track).and_then(|t| t.simulcast_of) {
            self.small_removed(camera);
        }
        self.end_all_subscriptions(track);
        let Some(t) = self.tracks.remove(&track) else {
            return;
        };
        self.numbering.remove(&track);
        let owner = t.owner;
        let Some(p) = self.participants.get_mut(&owner) else {
            return;
        };
        p.published.retain(|(_, id)| *id != track);
        let room = p.room;
        let removed = TrackRemoved {
            track,
            participant: owner,
        };
        if tell_owner {
            self.send(owner, removed.clone());
        }
        if t.simulcast_of.is_none() {
            self.broadcast_except(room, owner, removed);
        }
    }

    /// The small quality of `camera` is going: its subscribers on it are
    /// reset and go back to the full quality.
    fn small_removed(&mut self, camera: TrackId) {
        let Some(t) = self.tracks.get(&camera) else {
            return;
        };
        let small_group = t
            .small
            .and_then(|s| self.tracks.get(&s))
            .and_then(|s| s.out_group);
        let Some(t) = self.tracks.get_mut(&camera) else {
            return;
        };
        t.small = None;
        self.wanted_dirty = true;
        let mut ends = Vec::new();
        for sub in &mut t.subscriptions {
            // Steps become the one quality's temporal layers.
            sub.allot = sub.allot.map(|s| s % 3);
            if sub.on_small {
                sub.on_small = false;
                if sub.open {
                    sub.open = false;
                    if let Some(group) = small_group {
                        ends.push(StreamEnd {
                            subscriber: sub.subscriber,
                            track: camera,
                            group,
                            mode: EndMode::Reset,
                        });
                    }
                }
            }
        }
        self.outputs.extend(ends.into_iter().map(Output::EndStream));
    }

    fn send_audio_levels(&mut self) {
        let mut by_room: BTreeMap<RoomId, Vec<AudioLevel>> = BTreeMap::new();
        for (id, t) in &mut self.tracks {
            let Some(level) = t.audio_level.take() else {
                continue;
            };
            if let Some(room) = self.participants.get(&t.owner).map(|p| p.room) {
                by_room.entry(room).or_default().push(AudioLevel {
                    track: *id,
                    participant: t.owner,
                    level,
                });
            }
        }
        for (room, levels) in by_room {
            let message = ServerMessage::AudioLevels(AudioLevels { levels });
            let members: Vec<ParticipantId> = self.members(room).collect();
            for to in members {
                self.send(to, message.clone());
            }
        }
    }

    /// Sends `Roster` to everyone who sees a room whose membership changed.
    /// A participant sees the main room and its own room.
    fn flush_rosters(&mut self) {
        let dirty: BTreeSet<RoomId> = self
            .rooms
            .iter_mut()
            .filter_map(|(id, r)| std::mem::take(&mut r.roster_dirty).then_some(*id))
            .collect();
        if dirty.is_empty() {
            return;
        }
        let main_dirty = dirty.contains(&RoomId::MAIN);
        let mut views: BTreeMap<RoomId, Roster> = BTreeMap::new();
        let recipients: Vec<(ParticipantId, RoomId)> = self
            .participants
            .iter()
            .filter(|(_, p)| main_dirty || dirty.contains(&p.room))
            .map(|(id, p)| (*id, p.room))
            .collect();
        for (to, room) in recipients {
            let roster = views
                .entry(room)
                .or_insert_with(|| self.roster_view(room))
                .clone();
            self.send(to, roster);
        }
    }

    fn roster_view(&self, room: RoomId) -> Roster {
        Roster {
            participants: self
                .participants
                .iter()
                .filter(|(_, p)| p.room == room || p.room.is_main())
                .map(|(id, p)| RosterEntry {
                    id: *id,
                    name: p.name.clone(),
                    room: p.room,
                    may_publish: p.may_publish,
                })
                .collect(),
        }
    }
}
