//! Sliding-window counting, used to slow down password guessing per account
//! and per client address and sign-ups per address. Callers record an
//! attempt when it starts ([`SlidingWindow::try_record`]), so attempts still
//! in flight count against the limit, not only finished ones. Pure: the
//! caller passes `now`.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use jiff::{SignedDuration, Timestamp};

/// Counts events per key within a window and says when a key is over its limit.
#[derive(Debug)]
pub struct SlidingWindow<K> {
    limit: u32,
    window: SignedDuration,
    events: HashMap<K, VecDeque<Timestamp>>,
}

impl<K: Hash + Eq + Clone> SlidingWindow<K> {
    pub fn new(limit: u32, window: SignedDuration) -> Self {
        Self {
            limit,
            window,
            events: HashMap::new(),
        }
    }

    fn prune(&mut self, key: &K, now: Timestamp) {
        let window = self.window;
        if let Some(q) = self.events.get_mut(key) {
            while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
                q.pop_front();
            }
            if q.is_empty() {
                self.events.remove(key);
            }
        }
    }

    /// `Some(retry_after)` when `key` has used up its allowance.
    pub fn blocked(&mut self, key: &K, now: Timestamp) -> Option<SignedDuration> {
        self.prune(key, now);
        let q = self.events.get(key)?;
        if q.len() < self.limit as usize {
            return None;
        }
        let oldest = *q.front()?;
        Some(self.window - now.duration_since(oldest))
    }

    pub fn record(&mut self, key: &K, now: Timestamp) {
        self.prune(key, now);
        self.events.entry(key.clone()).or_default().push_back(now);
        // Memory stays bounded: a key never keeps more than `limit` events.
        let q = self.events.get_mut(key).expect("just inserted");
        while q.len() > self.limit as usize {
            q.pop_front();
        }
    }

    /// Records an attempt unless `key` has used up its allowance (then
    /// `Err(retry_after)` and nothing is recorded).
    pub fn try_record(&mut self, key: &K, now: Timestamp) -> Result<(), SignedDuration> {
        match self.blocked(key, now) {
            Some(wait) => Err(wait),
            None => {
                self.record(key, now);
                Ok(())
            }
        }
    }

    /// Takes back the newest recorded event of `key` (an attempt that
    /// turned out fine).
    pub fn forget_one(&mut self, key: &K) {
        if let Some(q) = self.events.get_mut(key) {
            q.pop_back();
            if q.is_empty() {
                self.events.remove(key);
            }
        }
    }

    pub fn clear(&mut self, key: &K) {
        self.events.remove(key);
    }

    /// Drops keys whose events all left the window (call now and then).
    pub fn sweep(&mut self, now: Timestamp) {
        let window = self.window;
        self.events
            .retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_and_recovers_after_window() {
        let t0: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let mut w = SlidingWindow::new(3, SignedDuration::from_mins(15));
        let k = "ada".to_owned();
        for i in 0..3 {
            assert!(w.blocked(&k, t0 + SignedDuration::from_secs(i)).is_none());
            w.record(&k, t0 + SignedDuration::from_secs(i));
        }
        let retry = w.blocked(&k, t0 + SignedDuration::from_secs(10)).unwrap();
        assert_eq!(retry, SignedDuration::from_secs(15 * 60 - 10));
        assert!(w.blocked(&"other".to_owned(), t0).is_none());
        assert!(w.blocked(&k, t0 + SignedDuration::from_mins(15)).is_none());
        w.record(&k, t0);
        w.clear(&k);
        assert!(w.blocked(&k, t0).is_none());
        w.record(&k, t0);
        w.sweep(t0 + SignedDuration::from_mins(16));
        assert!(w.events.is_empty());
    }

    #[test]
    fn attempts_in_flight_count_and_successes_are_taken_back() {
        let t0: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let mut w = SlidingWindow::new(2, SignedDuration::from_mins(15));
        let k = "10.0.0.1".to_owned();
        // Two attempts started, none finished: the third is refused.
        assert!(w.try_record(&k, t0).is_ok());
        assert!(w.try_record(&k, t0).is_ok());
        assert_eq!(w.try_record(&k, t0), Err(SignedDuration::from_mins(15)));
        // One of them succeeded: its place is free again.
        w.forget_one(&k);
        assert!(w.try_record(&k, t0).is_ok());
        w.forget_one(&k);
        w.forget_one(&k);
        assert!(w.events.is_empty());
    }
}
