//! Identifiers (participants, rooms, tracks) and the virtual time the core is driven with.

use std::fmt;
use std::ops::Add;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A participant of the live session, assigned by the control plane.
///
/// On the wire it is a JSON number; keep it below 2^53 so browsers read it exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ParticipantId(pub u64);

/// A room of the session: [`RoomId::MAIN`] or a breakout room chosen by the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoomId(pub u32);

impl RoomId {
    /// The session's main room; it always exists and cannot be closed.
    pub const MAIN: RoomId = RoomId(0);

    /// Whether this is the main room.
    pub fn is_main(self) -> bool {
        self == Self::MAIN
    }
}

/// A track's session-wide id, assigned by the router when the track is published.
///
/// Publishers name their own tracks with a client-chosen `u32` (`track_id` on the
/// wire); subscribers only ever see this global id (`track` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrackId(pub u32);

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "participant {}", self.0)
    }
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_main() {
            f.write_str("main room")
        } else {
            write!(f, "room {}", self.0)
        }
    }
}

impl fmt::Display for TrackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "track {}", self.0)
    }
}

/// A point in time, in milliseconds since an arbitrary epoch chosen by the driver
/// (typically the instant the session's router was created).
///
/// The core never reads a clock: every `handle_*` input carries `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub u64);

impl Millis {
    /// The epoch.
    pub const ZERO: Millis = Millis(0);

    /// `secs` seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Millis {
        Millis(secs * 1000)
    }

    /// Time elapsed since `earlier`, zero if `earlier` is in the future.
    pub fn saturating_since(self, earlier: Millis) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Millis {
    type Output = Millis;

    fn add(self, rhs: Duration) -> Millis {
        let ms = u64::try_from(rhs.as_millis()).unwrap_or(u64::MAX);
        Millis(self.0.saturating_add(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_arithmetic_saturates() {
        assert_eq!(Millis(5) + Duration::from_millis(7), Millis(12));
        assert_eq!(Millis(u64::MAX) + Duration::from_secs(1), Millis(u64::MAX));
        assert_eq!(Millis(3).saturating_since(Millis(10)), Duration::ZERO);
        assert_eq!(
            Millis::from_secs(2).saturating_since(Millis(500)),
            Duration::from_millis(1500)
        );
    }
}
