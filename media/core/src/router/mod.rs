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

use self::budget::{Allot, Link, RateMeter, Saturation, Want, allocate, rank};
pub use stats::{DropStats, RejectReason, RejectStats, SaturationStats, Stats};

use self::policy::{Congestion, KeyframeThrottle};
use crate::ids::{Millis, ParticipantId, RoomId, TrackId};
use crate::track::{MediaKind, TrackConfig, TrackConfigError, TrackSource};
use crate::wire::PROTOCOL_VERSION;
use crate::wire::control::{
    AudioLevel, AudioLevels, ClientMessage, Permission, Pong, Published, RequestKeyframe, Roster,
    RosterEntry, SILENCE_LEVEL, ServerMessage, TrackAdded, TrackRemoved, Welcome,
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
}

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
    /// What the subscriber's bandwidth allots it: audio `Some(0)` on,
    /// `Some(1)` on with redundancy; video up to that layer; `None` off.
    allot: Allot,
    /// Video: when its keyframe request last restarted it from the cache.
    restarted_at: Option<Millis>,
}

impl Subscription {
    /// Updates the forwarded layer range for a frame of `layer`, given the
    /// subscriber's congestion cap: lowered at once, raised only at a layer-0
    /// frame (which depends on no upper layer, so nothing forwarded after it
    /// references a frame that was dropped).
    fn adjust_layer(&mut self, congestion_cap: u8, layer: u8) {
        let budget_cap = self.allot.unwrap_or(0);
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
            if may_publish {
                self.end_all_subscriptions(track);
                self.broadcast_except(from, participant, TrackRemoved { track, participant });
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
                if let Some(t) = self.tracks.get(&track) {
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
            ClientMessage::Publish(m) => self.publish(now, from, m.track_id, m.config).map(drop),
            ClientMessage::Unpublish(m) => self.unpublish(now, from, m.track_id).map(drop),
            ClientMessage::Subscribe(m) => self.subscribe(now, from, m.track),
            ClientMessage::Unsubscribe(m) => self.unsubscribe(now, from, m.track),
            ClientMessage::LayerPreference(m) => {
                self.set_layer_preference(from, m.track, m.max_temporal_layer)
            }
            ClientMessage::KeyframeRequest(m) => self.request_keyframe(now, from, m.track),
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
        _now: Millis,
        participant: ParticipantId,
        client_id: u32,
        config: TrackConfig,
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
        self.broadcast_except(room, participant, added);
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
        if self.room_of(t.owner) != Some(room) {
            return Err(RouterError::TrackNotInRoom(track));
        }
        if t.subscriptions.iter().any(|s| s.subscriber == participant) {
            return Ok(());
        }
        let is_audio = t.kind == MediaKind::Audio;
        let cached = t.cache_usable(self.config.max_replay_frames);
        if let Some(t) = self.tracks.get_mut(&track) {
            t.subscriptions.push(Subscription {
                subscriber: participant,
                preferred_layer: MAX_TEMPORAL_LAYER,
                active_layer: cap,
                lowered_by: DropReason::Congestion,
                open: is_audio,
                allot: Some(if is_audio || limited {
                    0
                } else {
                    MAX_TEMPORAL_LAYER
                }),
                restarted_at: None,
            });
        }
        if let Some(p) = self.participants.get_mut(&participant) {
            p.subscriptions.insert(track);
        }
        // Started from the cache at the track's next frame; otherwise ask.
        if !is_audio && !cached {
            self.want_keyframe(now, track);
        }
        Ok(())
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
        if self.tracks.get(&track).map(|t| t.kind) != Some(MediaKind::Video) {
            return Ok(());
        }
        // Served from the keyframe cache where it can be: the subscriber's
        // stream is reset and the next frame starts it again from the
        // group's keyframe (as after a dropped group), so the publisher
        // sends no keyframe to everyone. At most once per
        // `keyframe_request_interval` per subscription; beyond that, or
        // without a usable cache, the publisher is asked (throttled).
        let interval = self.config.keyframe_request_interval;
        let max_replay = self.config.max_replay_frames;
        if let Some(t) = self.tracks.get_mut(&track)
            && t.cache_usable(max_replay)
            && let Some(i) = t
                .subscriptions
                .iter()
                .position(|s| s.subscriber == participant)
            && t.subscriptions[i]
                .restarted_at
                .is_none_or(|at| now.saturating_since(at) >= interval)
        {
            let sub = t.subscriptions[i];
            if let Some(end) = stream_end(t, &sub) {
                self.outputs.push_back(Output::EndStream(end));
            }
            let sub = &mut t.subscriptions[i];
            sub.open = false;
            sub.restarted_at = Some(now);
            self.stats.keyframe_requests_from_cache += 1;
            return Ok(());
        }
        self.want_keyframe(now, track);
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
    /// before `now` (what it is really sending, not what it announced).
    pub fn flowing(
        &self,
        now: Millis,
        participant: ParticipantId,
        within: u64,
    ) -> impl Iterator<Item = TrackInfo> + '_ {
        self.tracks
            .values()
            .filter(move |t| {
                t.owner == participant
                    && t.last_frame
                        .is_some_and(|at| now.0.saturating_sub(at.0) <= within)
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

        plan.track = track_id;
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
        let participants = &self.participants;
        let policy = &self.config.backlog;
        let max_cached = self.config.max_cached_group_bytes;
        let congestion = |p: ParticipantId| {
            participants
                .get(&p)
                .map(|p| p.congestion)
                .unwrap_or_default()
        };

        if header.keyframe {
            if track.group.is_some_and(|current| group <= current) {
                return reject(stats, RejectReason::GroupRegression);
            }
            let previous = track.group.replace(group);
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
            for sub in &mut track.subscriptions {
                let c = congestion(sub.subscriber);
                if let (true, Some(previous)) = (sub.open, previous) {
                    plan.ends.push(StreamEnd {
                        subscriber: sub.subscriber,
                        track: track_id,
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
                sub.adjust_layer(c.max_layer, 0);
                stats.deliveries += 1;
                stats.bytes_out += payload;
                plan.deliveries.push(Delivery {
                    subscriber: sub.subscriber,
                    action: Action::Stream { group, open: true },
                });
            }
            return Ok(());
        }

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
        let max_replay = self.config.max_replay_frames;
        let cache_usable = track.cache_usable(max_replay);
        let cache = track.current_cache();
        let mut someone_waits = false;
        for sub in &mut track.subscriptions {
            let c = congestion(sub.subscriber);
            let action = if !sub.open {
                if sub.allot.is_none() {
                    stats.drops.budget += 1;
                    Action::Drop(DropReason::Budget)
                } else if let Some(max_layer) = cache
                    .and_then(|cache| {
                        cache.replay_layer(
                            sub.preferred_layer
                                .min(c.max_layer)
                                .min(sub.allot.unwrap_or(0)),
                            max_replay,
                        )
                    })
                    .filter(|_| c.backlog <= policy.recover_below)
                {
                    // Start it from the cache: keyframe and the frames since
                    // (of fewer layers if the group is long; the others come
                    // back at the next layer-0 frame).
                    sub.open = true;
                    sub.active_layer = max_layer;
                    stats.cache_replays += 1;
                    stats.deliveries += 1;
                    stats.bytes_out += payload;
                    Action::Replay { group, max_layer }
                } else {
                    someone_waits |= !cache_usable;
                    stats.drops.awaiting_keyframe += 1;
                    Action::Drop(DropReason::AwaitingKeyframe)
                }
            } else {
                let cap = c.max_layer;
                sub.adjust_layer(cap, layer);
                if layer <= sub.active_layer {
                    stats.deliveries += 1;
                    stats.bytes_out += payload;
                    Action::Stream { group, open: false }
                } else {
                    let budget_cap = sub.allot.unwrap_or(0);
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
            && !track.keyframes.is_pending()
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
            let Some(track) = self.tracks.get_mut(&track_id) else {
                continue;
            };
            let (Some(group), MediaKind::Video) = (track.group, track.kind) else {
                continue;
            };
            let cached = track.cache_usable(self.config.max_replay_frames);
            let Some(sub) = track
                .subscriptions
                .iter_mut()
                .find(|s| s.subscriber == subscriber && s.open)
            else {
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
                self.want_keyframe(now, track_id);
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
        // The active speaker: the loudest speaking audio track's owner.
        let active = p
            .subscriptions
            .iter()
            .filter_map(|id| self.tracks.get(id))
            .filter(|t| t.kind == MediaKind::Audio)
            .filter_map(|t| speaking(t).map(|(level, _)| (level, t.owner)))
            .min()
            .map(|(_, owner)| owner);
        let wants: Vec<Want> = p
            .subscriptions
            .iter()
            .filter_map(|id| self.tracks.get(id))
            .map(|t| match t.kind {
                MediaKind::Audio => {
                    let loud = speaking(t);
                    Want {
                        track: t.id,
                        kind: t.kind,
                        class: u8::from(loud.is_none()),
                        level: loud.map_or(SILENCE_LEVEL, |(l, _)| l),
                        bps: [t.rate.up_to(0); 3],
                    }
                }
                MediaKind::Video => Want {
                    track: t.id,
                    kind: t.kind,
                    class: if Some(t.owner) == active {
                        0
                    } else if t.config.source == Some(TrackSource::Screen) {
                        1
                    } else {
                        2
                    },
                    level: SILENCE_LEVEL,
                    bps: [t.rate.up_to(0), t.rate.up_to(1), t.rate.up_to(2)],
                },
            })
            .collect();
        let protect = p.link.lossy;
        let down = allocate(estimate, &wants, policy.audio_last_n, protect);
        let cautious = estimate / (100 + policy.raise_headroom_percent) * 100;
        let up = allocate(cautious, &wants, policy.audio_last_n, protect);
        let may_raise = p.link.may_raise(now, policy);
        let (mut raised, mut lowered) = (false, false);
        for (i, want) in wants.iter().enumerate() {
            let Some(track) = self.tracks.get_mut(&want.track) else {
                continue;
            };
            let group = track.group;
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
            if lowered {
                p.link.lowered(now, policy);
            }
            if raised {
                p.link.raised(now, policy);
            }
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
            self.flush_rosters();
        }
        self.outputs.pop_front()
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
        let Some(t) = self.tracks.get_mut(&track) else {
            return;
        };
        let Some(i) = t
            .subscriptions
            .iter()
            .position(|s| s.subscriber == subscriber)
        else {
            return;
        };
        let sub = t.subscriptions.swap_remove(i);
        if let Some(end) = stream_end(t, &sub) {
            self.outputs.push_back(Output::EndStream(end));
        }
    }

    /// Ends every subscription to a track (streams reset).
    fn end_all_subscriptions(&mut self, track: TrackId) {
        let Some(t) = self.tracks.get_mut(&track) else {
            return;
        };
        let subs = std::mem::take(&mut t.subscriptions);
        for sub in &subs {
            if let Some(end) = stream_end(t, sub) {
                self.outputs.push_back(Output::EndStream(end));
            }
            if let Some(p) = self.participants.get_mut(&sub.subscriber) {
                p.subscriptions.remove(&track);
            }
        }
    }

    /// Removes a track: subscriptions end, `TrackRemoved` to its room (and to
    /// the owner too if `tell_owner`, when the server removes it).
    fn remove_track(&mut self, track: TrackId, tell_owner: bool) {
        self.end_all_subscriptions(track);
        let Some(t) = self.tracks.remove(&track) else {
            return;
        };
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
        self.broadcast_except(room, owner, removed);
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

/// The stream to end when `sub` stops receiving `track`, if one may be open.
fn stream_end(track: &Track, sub: &Subscription) -> Option<StreamEnd> {
    let group = match track.kind {
        MediaKind::Audio => 0,
        MediaKind::Video if sub.open => track.group?,
        MediaKind::Video => return None,
    };
    Some(StreamEnd {
        subscriber: sub.subscriber,
        track: track.id,
        group,
        mode: EndMode::Reset,
    })
}
