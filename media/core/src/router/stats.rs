//! Counters of the router's work: frames in, deliveries, drops by reason,
//! rejected frames, keyframe requests. Plain data for metrics and tests.

/// Why an incoming frame was refused (it reaches no one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RejectReason {
    /// The sender has not joined (or has left).
    #[error("sender has not joined")]
    UnknownParticipant,
    /// The sender may not publish in its room.
    #[error("sender may not publish")]
    NotAllowedToPublish,
    /// The sender has no published track with the header's track id.
    #[error("no such published track")]
    UnknownTrack,
    /// A keyframe did not open a group larger than the current one.
    #[error("keyframe does not open a new group")]
    GroupRegression,
    /// A delta frame of a group whose keyframe never arrived.
    #[error("frame of a group without keyframe")]
    MissingKeyframe,
    /// Audio from a participant whose microphone a moderator blocked.
    #[error("the sender's microphone is blocked")]
    AudioBlocked,
}

/// Rejected frames by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RejectStats {
    /// See [`RejectReason::UnknownParticipant`].
    pub unknown_participant: u64,
    /// See [`RejectReason::NotAllowedToPublish`].
    pub not_allowed_to_publish: u64,
    /// See [`RejectReason::UnknownTrack`].
    pub unknown_track: u64,
    /// See [`RejectReason::GroupRegression`].
    pub group_regression: u64,
    /// See [`RejectReason::MissingKeyframe`].
    pub missing_keyframe: u64,
    /// See [`RejectReason::AudioBlocked`].
    pub audio_blocked: u64,
}

/// Frames not sent, by reason. Per-subscriber reasons count one per (frame,
/// subscriber); `stale_group` counts frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropStats {
    /// Subscriber waiting for the next keyframe.
    pub awaiting_keyframe: u64,
    /// Upper temporal layer dropped because the subscriber fell behind.
    pub congestion: u64,
    /// Upper temporal layer the subscriber did not want.
    pub layer_preference: u64,
    /// Late frame of a group already superseded by a newer keyframe (dropped for everyone).
    pub stale_group: u64,
    /// Audio or video the subscriber's bandwidth estimate did not cover.
    pub budget: u64,
}

/// Link reports that counted as saturated (the estimate then fell to what
/// the link delivered), by the sign that showed it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaturationStats {
    /// The edge's backlog for the subscriber.
    pub backlog: u64,
    /// RTT well above its minimum (a queue filling somewhere).
    pub queue_delay: u64,
    /// The transport holding back what it was given.
    pub held_back: u64,
    /// Heavy loss (smoothed).
    pub loss: u64,
    /// Much more sent than acknowledged (a queue in front of a thin link).
    pub backed_up: u64,
    /// The subscriber's flow control stopping QUIC (it reads too slowly).
    pub flow_control: u64,
}

/// The router's counters since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames given to `handle_frame`.
    pub frames_in: u64,
    /// Their payload bytes.
    pub bytes_in: u64,
    /// Frames refused (reaching no one); the sum of `rejected`.
    pub rejected_frames: u64,
    /// Refused frames by reason.
    pub rejected: RejectStats,
    /// Frame deliveries planned (one per frame and receiving subscriber).
    pub deliveries: u64,
    /// Payload bytes of those deliveries.
    pub bytes_out: u64,
    /// Frames not delivered, by reason.
    pub drops: DropStats,
    /// Groups cut short for a lagging subscriber (its stream reset).
    pub group_drops: u64,
    /// `RequestKeyframe` messages sent to publishers.
    pub keyframe_requests_sent: u64,
    /// Keyframe wishes absorbed by the throttle (covered by a request already sent or pending).
    pub keyframe_requests_coalesced: u64,
    /// Subscribers started from the keyframe cache instead of a publisher keyframe.
    pub cache_replays: u64,
    /// Subscribers' keyframe requests answered by a restart from the cache
    /// (the publisher was not asked).
    pub keyframe_requests_from_cache: u64,
    /// Allotment changes that lowered a subscriber's share of a track (budget).
    pub budget_lowered: u64,
    /// Allotment changes that raised it.
    pub budget_raised: u64,
    /// Audio frames that arrived again (a copy in a redundant datagram of a
    /// frame already forwarded) and were not forwarded twice.
    pub audio_copies_dropped: u64,
    /// Audio deliveries sent as redundant datagrams.
    pub redundant_deliveries: u64,
    /// Saturated link reports, by sign.
    pub saturated: SaturationStats,
    /// Subscribers switched from one quality of a simulcast camera to the other.
    pub quality_switches: u64,
}

impl Stats {
    pub(crate) fn reject(&mut self, reason: RejectReason) {
        self.rejected_frames += 1;
        let r = &mut self.rejected;
        match reason {
            RejectReason::UnknownParticipant => r.unknown_participant += 1,
            RejectReason::NotAllowedToPublish => r.not_allowed_to_publish += 1,
            RejectReason::UnknownTrack => r.unknown_track += 1,
            RejectReason::GroupRegression => r.group_regression += 1,
            RejectReason::MissingKeyframe => r.missing_keyframe += 1,
            RejectReason::AudioBlocked => r.audio_blocked += 1,
        }
    }
}
