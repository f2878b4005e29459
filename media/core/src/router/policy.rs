//! Router configuration and the two rate policies: per-subscriber backlog
//! (temporal layer cap, group drops, recovery) and per-track keyframe throttling.

use std::time::Duration;

pub use super::budget::BudgetPolicy;
use crate::ids::Millis;
use crate::wire::media::MAX_TEMPORAL_LAYER;

/// Limits and policies of a [`Router`](super::Router).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    /// Breakout rooms open at once, besides the main room (the product allows 10).
    pub max_breakout_rooms: usize,
    /// A safety cap on participants in the session (the control plane enforces capacity).
    pub max_participants: usize,
    /// Tracks one participant may publish at once (camera, microphone, screen, ...).
    pub max_tracks_per_participant: usize,
    /// Longest display name, in bytes, so a full roster fits one control message.
    pub max_name_len: usize,
    /// At most one keyframe request per publisher track per this interval.
    pub keyframe_request_interval: Duration,
    /// How often `AudioLevels` go out while levels are being reported.
    pub audio_levels_interval: Duration,
    /// Per-subscriber backlog policy.
    pub backlog: BacklogPolicy,
    /// Per-subscriber bandwidth policy (link reports → allotments).
    pub budget: BudgetPolicy,
    /// The IO edge keeps each video track's current group (keyframe and the
    /// frames after it) up to this many payload bytes, to start subscribers
    /// without asking the publisher for a keyframe; a longer group is not
    /// cached (subscribers then wait for, and request, a keyframe).
    pub max_cached_group_bytes: u64,
    /// A subscriber is started from the cache with at most this many frames
    /// (of the highest temporal layers that stay within it): a burst a
    /// decoder takes at once. Past it even for the base layer, it waits for
    /// a keyframe instead.
    pub max_replay_frames: u32,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            max_breakout_rooms: 10,
            max_participants: 64,
            max_tracks_per_participant: 4,
            max_name_len: 128,
            keyframe_request_interval: Duration::from_secs(1),
            audio_levels_interval: Duration::from_millis(250),
            backlog: BacklogPolicy::default(),
            budget: BudgetPolicy::default(),
            max_cached_group_bytes: 1024 * 1024,
            max_replay_frames: 32,
        }
    }
}

/// What a subscriber's backlog (bytes the IO edge has queued for it but not yet
/// sent) does to its video. Audio is never affected.
///
/// Above `drop_layer2_above` it loses temporal layer 2, above `drop_layer1_above`
/// layer 1 as well, and above `drop_group_above` the rest of each current group
/// (its stream is reset; it resumes at the next keyframe, which is requested).
/// Degrading is immediate; after the backlog has stayed at or below
/// `recover_below` for `recover_interval`, one layer comes back, and so on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BacklogPolicy {
    /// Bytes queued above which layer 2 is dropped.
    pub drop_layer2_above: u64,
    /// Bytes queued above which layers 1 and 2 are dropped.
    pub drop_layer1_above: u64,
    /// Bytes queued above which the current groups are dropped.
    pub drop_group_above: u64,
    /// Bytes queued at or below which the subscriber counts as keeping up.
    pub recover_below: u64,
    /// How long it must keep up before one layer is restored.
    pub recover_interval: Duration,
}

impl Default for BacklogPolicy {
    fn default() -> Self {
        // At the reference load (9 video publishers at ~500 kbps, ~560 kB/s per
        // subscriber) these are roughly 110, 230 and 460 ms of queued video.
        Self {
            drop_layer2_above: 64 * 1024,
            drop_layer1_above: 128 * 1024,
            drop_group_above: 256 * 1024,
            recover_below: 16 * 1024,
            recover_interval: Duration::from_secs(1),
        }
    }
}

/// A subscriber's congestion state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Congestion {
    /// Last reported backlog in bytes.
    pub backlog: u64,
    /// Highest temporal layer it may receive now.
    pub max_layer: u8,
    /// Since when the backlog has been at or below `recover_below` (restarted at each step up).
    pub quiet_since: Option<Millis>,
}

impl Default for Congestion {
    fn default() -> Self {
        Self {
            backlog: 0,
            max_layer: MAX_TEMPORAL_LAYER,
            quiet_since: None,
        }
    }
}

impl Congestion {
    /// Applies a backlog report; returns `true` if the current groups must be dropped.
    pub fn report(&mut self, now: Millis, backlog: u64, policy: &BacklogPolicy) -> bool {
        self.backlog = backlog;
        if backlog > policy.recover_below {
            self.quiet_since = None;
        } else if self.quiet_since.is_none() {
            self.quiet_since = Some(now);
        }
        if backlog > policy.drop_group_above {
            self.max_layer = 0;
            return true;
        }
        let cap = if backlog > policy.drop_layer1_above {
            0
        } else if backlog > policy.drop_layer2_above {
            1
        } else {
            MAX_TEMPORAL_LAYER
        };
        self.max_layer = self.max_layer.min(cap);
        self.recover(now, policy);
        false
    }

    /// When the next layer comes back if the backlog stays low.
    pub fn recovery_due(&self, policy: &BacklogPolicy) -> Option<Millis> {
        match self.quiet_since {
            Some(since) if self.max_layer < MAX_TEMPORAL_LAYER => {
                Some(since + policy.recover_interval)
            }
            _ => None,
        }
    }

    /// Restores one layer if the backlog has been low long enough.
    pub fn recover(&mut self, now: Millis, policy: &BacklogPolicy) {
        if let Some(due) = self.recovery_due(policy)
            && now >= due
        {
            self.max_layer += 1;
            self.quiet_since = Some(now);
        }
    }

    /// Whether the subscriber is behind (its stale groups are reset, not finished).
    pub fn is_lagging(&self, policy: &BacklogPolicy) -> bool {
        self.backlog > policy.drop_layer2_above
    }
}

/// At most one keyframe request per track per interval; wishes in between are
/// remembered and served when the interval has passed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct KeyframeThrottle {
    last_sent: Option<Millis>,
    pending: bool,
}

impl KeyframeThrottle {
    /// Someone wants a keyframe: `true` if a request is to be sent now.
    pub fn want(&mut self, now: Millis, interval: Duration) -> bool {
        match self.last_sent {
            Some(last) if now.saturating_since(last) < interval => {
                self.pending = true;
                false
            }
            _ => {
                self.last_sent = Some(now);
                self.pending = false;
                true
            }
        }
    }

    /// Whether a wish is waiting for the interval to pass.
    pub fn is_pending(&self) -> bool {
        self.pending
    }

    /// When a pending wish may be served.
    pub fn due(&self, interval: Duration) -> Option<Millis> {
        match (self.pending, self.last_sent) {
            (true, Some(last)) => Some(last + interval),
            _ => None,
        }
    }

    /// A pending wish whose time has come: `true` if the request is to be sent now.
    pub fn fire(&mut self, now: Millis, interval: Duration) -> bool {
        if self.due(interval).is_some_and(|due| now >= due) {
            self.last_sent = Some(now);
            self.pending = false;
            return true;
        }
        false
    }

    /// A keyframe arrived: pending wishes are satisfied.
    pub fn keyframe_arrived(&mut self) {
        self.pending = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlog_levels_table() {
        let policy = BacklogPolicy::default();
        // (backlog, expected cap, group drop) from a fresh subscriber each time.
        let table = [
            (0, 2, false),
            (64 * 1024, 2, false),
            (64 * 1024 + 1, 1, false),
            (128 * 1024, 1, false),
            (128 * 1024 + 1, 0, false),
            (256 * 1024, 0, false),
            (256 * 1024 + 1, 0, true),
        ];
        for (backlog, cap, drop) in table {
            let mut c = Congestion::default();
            assert_eq!(c.report(Millis(0), backlog, &policy), drop, "{backlog}");
            assert_eq!(c.max_layer, cap, "{backlog}");
        }
    }

    #[test]
    fn recovery_is_one_layer_per_quiet_interval() {
        let policy = BacklogPolicy::default();
        let mut c = Congestion::default();
        c.report(Millis(0), 200 * 1024, &policy);
        assert_eq!(c.max_layer, 0);
        c.report(Millis(100), 20 * 1024, &policy); // between thresholds: hold
        assert_eq!((c.max_layer, c.quiet_since), (0, None));
        c.report(Millis(200), 0, &policy);
        assert_eq!(c.recovery_due(&policy), Some(Millis(1200)));
        c.report(Millis(1199), 0, &policy);
        assert_eq!(c.max_layer, 0);
        c.recover(Millis(1200), &policy);
        assert_eq!(c.max_layer, 1);
        c.report(Millis(1300), 100 * 1024, &policy); // relapse: layer 2 stays off
        assert_eq!(c.max_layer, 1);
        c.report(Millis(1400), 0, &policy);
        c.recover(Millis(2400), &policy);
        assert_eq!(c.max_layer, 2);
        assert_eq!(c.recovery_due(&policy), None);
    }

    #[test]
    fn keyframe_throttle_table() {
        let second = Duration::from_secs(1);
        let mut t = KeyframeThrottle::default();
        assert!(t.want(Millis(0), second));
        assert!(!t.want(Millis(10), second));
        assert!(!t.want(Millis(999), second));
        assert_eq!(t.due(second), Some(Millis(1000)));
        assert!(!t.fire(Millis(999), second));
        assert!(t.fire(Millis(1000), second));
        assert!(!t.fire(Millis(5000), second), "nothing pending");
        assert!(!t.want(Millis(1500), second));
        t.keyframe_arrived();
        assert_eq!(t.due(second), None);
        assert!(t.want(Millis(2000), second));
    }
}
