//! Per-subscriber bandwidth: the IO edge's link reports become an estimate
//! (bits/s), and the estimate becomes an allotment of the subscriber's
//! tracks — which audio tracks it hears and up to which temporal layer it
//! sees each video track (or none).
//!
//! Everything here is pure: the router feeds it reports, track rates and
//! audio levels, all stamped with the caller's `now`.

use std::time::Duration;

use crate::ids::{Millis, ParticipantId, TrackId};
use crate::track::MediaKind;
use crate::wire::media::MAX_TEMPORAL_LAYER;

/// Bytes of transport overhead counted per forwarded frame on top of its
/// payload (QUIC short header + AEAD tag + frame header + UDP + IP, ~60 bytes
/// for a datagram; a stream frame inside a full packet pays less, so this is
/// a round middle).
pub const FRAME_OVERHEAD_BYTES: u64 = 48;

/// What the IO edge measured on one subscriber's connection since its last
/// report. Report every 50-100 ms (see [`Router::handle_link`](super::Router::handle_link)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkReport {
    /// Smoothed round-trip time (zero if unknown).
    pub rtt: Duration,
    /// The smallest round-trip time seen on the path (zero if unknown): the
    /// RTT above it is time spent in queues.
    pub min_rtt: Duration,
    /// What the transport's congestion controller lets through now, in
    /// bits/s: congestion window x 8 / RTT for QUIC; `None` where the
    /// transport does not say (WebSocket).
    pub window_bps: Option<u64>,
    /// Bits/s the transport took from the edge over the interval (bytes
    /// written into it, including what it dropped or lost).
    pub sent_bps: u64,
    /// Bits/s the peer acknowledged over the interval: what the path really
    /// carried (`None` where the transport does not say: WebSocket).
    pub acked_bps: Option<u64>,
    /// Bits/s the edge handed to the transport over the interval (stream
    /// writes it accepted, datagrams). Much more than `sent_bps` means the
    /// transport is buffering: its congestion controller holds it back.
    pub offered_bps: u64,
    /// Packets lost in the interval, per mille of those sent.
    pub loss_permille: u16,
    /// The subscriber's flow control stopped the transport in the interval
    /// (QUIC sent DATA_BLOCKED): it reads slower than it is sent.
    pub flow_blocked: bool,
    /// Bytes the edge holds queued for the subscriber (its backlog).
    pub queued: u64,
}

/// How link reports turn into allotments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetPolicy {
    /// The loudest this many audio tracks are always forwarded, whatever the budget.
    pub audio_last_n: usize,
    /// An audio track counts as speaking while its level (-dBov) is at or
    /// below this and was reported within `speaking_for`.
    pub speaking_level: u8,
    /// How long a level report keeps a track speaking.
    pub speaking_for: Duration,
    /// Another speaker becomes the active one (whose picture comes first)
    /// after being the loudest this long, while the active one still speaks.
    pub speaker_hold: Duration,
    /// A backlog above this many bytes means the link takes less than the
    /// edge offers: the estimate is then what it really took (`sent_bps`).
    pub saturated_backlog: u64,
    /// Queueing delay (RTT above the path's minimum) above which the link
    /// counts as saturated too: a bottleneck queue is filling.
    pub max_queue_delay: Duration,
    /// Loss (per mille) above which the link counts as saturated too.
    pub heavy_loss_permille: u16,
    /// Where acknowledgements are counted: the link is backed up (saturated,
    /// from its second report) when the smoothed rate sent is this many
    /// percent above the smoothed rate acknowledged, plus `backed_up_slack_bps`,
    /// with the RTT half of `max_queue_delay` above its minimum (a queue
    /// in front of a thin link fills and drops what does not fit; on a lossy
    /// path with no queue, acknowledgements lag and this is not congestion).
    pub backed_up_percent: u64,
    /// See `backed_up_percent`: a margin for links carrying little.
    pub backed_up_slack_bps: u64,
    /// A path limit (see `Link::knee`) is forgotten after this many
    /// reports without a saturation: the estimate then grows back at
    /// `regrow_percent` again, probing the link anew.
    pub path_limit_reports: u32,
    /// An unsaturated link is assumed to take at least this many percent more
    /// than it carries now (or its congestion window, if larger): room to
    /// probe one layer up.
    pub probe_percent: u64,
    /// Raising needs the estimate to cover the higher allotment with this much
    /// headroom, in percent.
    pub raise_headroom_percent: u64,
    /// At most one raise (one layer of each track the headroom allows) per
    /// subscriber per this interval; doubled (up to `max_raise_interval`) each time a raise is
    /// undone within two intervals, back to this after a quiet 10 s.
    pub raise_interval: Duration,
    /// The longest wait between raises.
    pub max_raise_interval: Duration,
    /// Audio goes out with redundancy once the link's smoothed loss (per
    /// mille, over ~8 reports) reaches this ...
    pub redundancy_on_permille: u16,
    /// ... and plainly again once it falls below this.
    pub redundancy_off_permille: u16,
    /// After a saturated report, the estimate grows back by this many percent
    /// per report until it reaches what the link delivered when it saturated ...
    pub regrow_percent: u64,
    /// ... and by this many per mille beyond that, until it reaches what the
    /// transport's window allows: a link found thin is probed above its last
    /// limit slowly, not flooded every few seconds.
    pub regrow_above_permille: u64,
}

impl Default for BudgetPolicy {
    fn default() -> Self {
        Self {
            audio_last_n: 3,
            speaking_level: 50,
            speaking_for: Duration::from_millis(1000),
            speaker_hold: Duration::from_millis(2000),
            saturated_backlog: 64 * 1024,
            max_queue_delay: Duration::from_millis(100),
            heavy_loss_permille: 100,
            backed_up_percent: 25,
            backed_up_slack_bps: 32_000,
            path_limit_reports: 100,
            probe_percent: 50,
            raise_headroom_percent: 15,
            raise_interval: Duration::from_millis(100),
            max_raise_interval: Duration::from_secs(8),
            redundancy_on_permille: 5,
            redundancy_off_permille: 2,
            regrow_percent: 3,
            regrow_above_permille: 10,
        }
    }
}

/// Why a link report counted as saturated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Saturation {
    /// The edge's backlog for the subscriber is above `saturated_backlog`.
    Backlog,
    /// Two reports with the RTT `max_queue_delay` above its minimum.
    QueueDelay,
    /// Two reports with the transport holding back what it was given.
    HeldBack,
    /// Two reports with the smoothed loss above `heavy_loss_permille`.
    Loss,
    /// Two reports with much more sent than acknowledged.
    BackedUp,
    /// The transport held back (as `HeldBack`) with the subscriber's flow
    /// control stopping QUIC: it reads slower than it is sent.
    FlowControl,
}

/// A subscriber's link as the router sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Link {
    /// Bits/s it can take; `None` until a report says it is limited.
    pub estimate: Option<u64>,
    /// Last reported round-trip time.
    pub rtt: Duration,
    /// Whether the last report showed a saturated link.
    pub saturated: bool,
    /// Whether the previous report showed a sign that needs confirming
    /// (queueing delay, transport buffering, heavy loss).
    pub suspect: bool,
    /// Last raise (the next waits `raise_wait` after it).
    pub raised_at: Option<Millis>,
    /// Last lowering.
    pub lowered_at: Option<Millis>,
    /// The current wait between raises (zero: `raise_interval`).
    pub raise_wait: Duration,
    /// Smoothed loss, in 1/16 per mille.
    pub loss: u32,
    /// The link loses enough packets for audio redundancy to pay.
    pub lossy: bool,
    /// Since the last saturation: the most the estimate may be, growing
    /// each report; `None` once it reaches the window's rate.
    pub ceiling: Option<u64>,
    /// Set while the link is thin: its last saturation was the path's
    /// (queue delay, loss, sent but not acknowledged), the estimate has not
    /// grown back to the window since, and `path_limit_reports` have not
    /// passed quietly. It is what the link delivered then: the regrowth
    /// slows down above it, and bursts are paced to the estimate (see
    /// `Router::rate_limit`).
    pub knee: Option<u64>,
    /// Reports since the last saturated one.
    pub quiet_reports: u32,
    /// Reports in a row with the transport holding back what it was given.
    pub held_reports: u8,
    /// Reports left in which QUIC's last word that the subscriber's flow
    /// control stopped it still counts (3 from each such report).
    pub flow_blocked: u8,
    /// The active speaker as this subscriber's allotment last saw it.
    pub speaker: Option<ParticipantId>,
    /// The loudest speaker when it is not the active one, and since when.
    pub challenger: Option<(ParticipantId, Millis)>,
    /// Smoothed bits/s sent and acknowledged (where acknowledgements are
    /// counted; over ~4 reports).
    pub sent_avg: u64,
    pub acked_avg: Option<u64>,
    /// The most the link was recently seen to deliver: a maximum of
    /// `acked_avg` decaying ~3 % a report.
    pub delivered_max: u64,
}

impl Link {
    /// Applies a report. The estimate is the report's (raises wait for
    /// headroom and an interval anyway, so a noisy sample does little).
    ///
    /// Saturated — a backlog at the edge; or, in two reports in a row, a
    /// filling bottleneck queue (RTT above its minimum), a transport holding
    /// back what it was given (offered well above sent, near its window; not
    /// a CPU stall with a wide-open window), or heavy loss: the link takes
    /// what it delivered, less 10 % so the queues drain. Otherwise it takes at
    /// least what it carries plus [`BudgetPolicy::probe_percent`], or the
    /// congestion window if larger — no limit when the transport gives no
    /// window (WebSocket).
    pub fn report(&mut self, r: &LinkReport, policy: &BudgetPolicy) -> Option<Saturation> {
        self.rtt = r.rtt;
        let queue_delay = if r.min_rtt.is_zero() {
            Duration::ZERO
        } else {
            r.rtt.saturating_sub(r.min_rtt)
        };
        let smooth = |avg: u64, fresh: u64| (avg * 3 + fresh) / 4;
        self.sent_avg = match self.acked_avg {
            Some(_) => smooth(self.sent_avg, r.sent_bps),
            None => r.sent_bps,
        };
        // What got through: acknowledged where the transport counts it;
        // otherwise what it sent, less what it declared lost (which lags
        // while a queue in front of the link fills).
        let (delivered, backed_up) = match r.acked_bps {
            Some(acked) => {
                let avg = self.acked_avg.map_or(acked, |a| smooth(a, acked));
                self.acked_avg = Some(avg);
                self.delivered_max = avg.max(self.delivered_max - self.delivered_max / 32);
                let backed_up = self.sent_avg
                    > avg.saturating_mul(100 + policy.backed_up_percent) / 100
                        + policy.backed_up_slack_bps
                    && queue_delay > policy.max_queue_delay / 2;
                (avg, backed_up)
            }
            None => {
                let d = r.sent_bps / 1000 * u64::from(1000 - r.loss_permille.min(1000));
                self.delivered_max = d.max(self.delivered_max - self.delivered_max / 32);
                (d, false)
            }
        };
        // Where acknowledgements are counted, only with a queue building
        // too, or from the third report in a row while QUIC says the
        // reader's flow control stopped it: BBR's window follows what an
        // app-limited connection sends, and loss recovery on a lossy 40 ms
        // path holds data back for a few reports without the path being
        // full, while a reader's flow control (no queue anywhere) holds it
        // back for as long as it lasts.
        let queue_building = queue_delay > policy.max_queue_delay / 4;
        // QUIC says when the reader's flow control stopped it (once per
        // limit, so not in every report while it lasts).
        self.flow_blocked = if r.flow_blocked {
            3
        } else {
            self.flow_blocked.saturating_sub(1)
        };
        let held_now = r.flow_blocked
            || r.offered_bps > r.sent_bps.saturating_mul(5) / 4
                && r.window_bps.is_some_and(|w| r.offered_bps >= w / 5 * 4);
        self.held_reports = if held_now {
            self.held_reports.saturating_add(1)
        } else {
            0
        };
        let held_back = held_now && (r.acked_bps.is_none() || queue_building || r.flow_blocked);
        // Heavy loss is congestion when it lasts: this interval's above
        // `heavy_loss_permille` and the smoothed loss (~8 reports) above half
        // of it. Random loss of a few per cent makes single short intervals
        // look heavy; a lingering average alone would keep cutting a link
        // that stopped losing.
        self.loss = (self.loss * 7 + u32::from(r.loss_permille.min(1000)) * 16) / 8;
        let heavy_loss = r.loss_permille > policy.heavy_loss_permille
            && self.loss > u32::from(policy.heavy_loss_permille) * 8;
        let suspect = if queue_delay > policy.max_queue_delay {
            Some(Saturation::QueueDelay)
        } else if held_back {
            Some(Saturation::HeldBack)
        } else if heavy_loss {
            Some(Saturation::Loss)
        } else if backed_up {
            Some(Saturation::BackedUp)
        } else {
            None
        };
        let cause = if r.queued > policy.saturated_backlog {
            Some(Saturation::Backlog)
        } else if self.held_reports >= 3 && self.flow_blocked > 0 {
            Some(Saturation::HeldBack)
        } else {
            suspect.filter(|_| self.suspect)
        }
        .map(|c| match c {
            Saturation::HeldBack if self.flow_blocked > 0 => Saturation::FlowControl,
            c => c,
        });
        self.saturated = cause.is_some();
        self.suspect = suspect.is_some();
        self.quiet_reports = if self.saturated {
            0
        } else {
            self.quiet_reports.saturating_add(1)
        };
        if self.quiet_reports >= policy.path_limit_reports {
            self.knee = None;
        }
        let e = if self.saturated {
            let e = delivered / 10 * 9;
            self.ceiling = Some(e);
            // The path itself showed its limit (not the edge's backlog or a
            // transport holding back, which a busy server causes too): probe
            // above it slowly, and only as far as deliveries back it.
            self.knee = matches!(
                cause,
                Some(Saturation::QueueDelay | Saturation::Loss | Saturation::BackedUp)
            )
            .then_some(delivered);
            e
        } else {
            let open = match r.window_bps {
                Some(w) => w.max(delivered.saturating_mul(100 + policy.probe_percent) / 100),
                None => u64::MAX,
            };
            // After a saturation the estimate grows back from what the link
            // took, `regrow_percent` a report, instead of jumping to the
            // congestion window (BBR keeps about twice the path's
            // bandwidth-delay product in flight): a link found thin is
            // probed again gently, not flooded every time it drains.
            match self.ceiling {
                Some(c) => {
                    let c = match self.knee {
                        Some(knee) if c >= knee => {
                            // Sending little (a few voices) shows nothing
                            // about the room above the knee.
                            let backed = knee.max(
                                self.delivered_max
                                    .saturating_mul(100 + policy.probe_percent)
                                    / 100,
                            );
                            c.saturating_mul(1000 + policy.regrow_above_permille)
                                .div_ceil(1000)
                                .max(c + 1)
                                .min(backed.max(c))
                        }
                        knee => c
                            .saturating_mul(100 + policy.regrow_percent)
                            .div_ceil(100)
                            .min(knee.unwrap_or(u64::MAX))
                            .max(c + 1),
                    };
                    if c >= open {
                        self.ceiling = None;
                        self.knee = None;
                        open
                    } else {
                        self.ceiling = Some(c);
                        c
                    }
                }
                None => open,
            }
        };
        self.estimate = Some(e);
        self.lossy = if self.lossy {
            self.loss >= u32::from(policy.redundancy_off_permille) * 16
        } else {
            self.loss >= u32::from(policy.redundancy_on_permille) * 16
        };
        cause
    }

    /// Whether a raise is allowed now.
    pub fn may_raise(&self, now: Millis, policy: &BudgetPolicy) -> bool {
        let wait = self.raise_wait.max(policy.raise_interval);
        self.raised_at
            .is_none_or(|at| now.saturating_since(at) >= wait)
    }

    /// Something was lowered: a raise undone soon after it makes the next wait longer.
    pub fn lowered(&mut self, now: Millis, policy: &BudgetPolicy) {
        let wait = self.raise_wait.max(policy.raise_interval);
        if self
            .raised_at
            .is_some_and(|at| now.saturating_since(at) < wait * 2)
        {
            self.raise_wait = (wait * 2).min(policy.max_raise_interval);
        }
        self.lowered_at = Some(now);
    }

    /// Something was raised.
    pub fn raised(&mut self, now: Millis, policy: &BudgetPolicy) {
        if self
            .lowered_at
            .is_none_or(|at| now.saturating_since(at) >= Duration::from_secs(10))
        {
            self.raise_wait = policy.raise_interval;
        }
        self.raised_at = Some(now);
    }
}

/// A track's incoming bit rate per temporal layer (audio: layer 0), measured
/// over windows of [`RateMeter::WINDOW`] and smoothed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RateMeter {
    since: Option<Millis>,
    bytes: [u64; 3],
    /// Smoothed bits/s per layer (not cumulative).
    bps: [u64; 3],
    measured: bool,
}

impl RateMeter {
    const WINDOW: Duration = Duration::from_millis(500);

    /// Counts a frame of `layer` with `payload` bytes.
    pub fn frame(&mut self, now: Millis, layer: u8, payload: u64) {
        let since = *self.since.get_or_insert(now);
        let elapsed = now.saturating_since(since);
        if elapsed >= Self::WINDOW {
            let ms = u64::try_from(elapsed.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            for (bps, bytes) in self.bps.iter_mut().zip(&mut self.bytes) {
                let fresh = *bytes * 8000 / ms;
                // A window is short next to a group of pictures: smooth over ~4.
                *bps = if self.measured {
                    (*bps * 3 + fresh) / 4
                } else {
                    fresh
                };
                *bytes = 0;
            }
            self.measured = true;
            self.since = Some(now);
        }
        let l = usize::from(layer.min(MAX_TEMPORAL_LAYER));
        self.bytes[l] += payload + FRAME_OVERHEAD_BYTES;
    }

    /// Bits/s of layers `0..=layer` together (0 before the first window closed).
    pub fn up_to(&self, layer: u8) -> u64 {
        self.bps[..=usize::from(layer.min(MAX_TEMPORAL_LAYER))]
            .iter()
            .sum()
    }
}

/// One subscribed track as the allocation sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Want {
    pub track: TrackId,
    pub kind: MediaKind,
    /// The subscriber gets the track now: among videos of one class, those
    /// already on keep their place before others (no swapping which of two
    /// equal cameras fits).
    pub on: bool,
    /// Video: 0 active speaker, 1 screen share, 2 others. Audio: 0 speaking, 1 not.
    pub class: u8,
    /// Audio level (-dBov, lower is louder; 127 silent or unknown).
    pub level: u8,
    /// How many steps the track offers (see [`Allot`]): audio 1; video 3
    /// (temporal layers 0..=2); a simulcast camera 6 (small quality layers
    /// 0..=2, then full quality layers 0..=2), or 3 when the subscriber's
    /// view is small enough for the small quality.
    pub rungs: u8,
    /// Bits/s of each step (audio: all in `[0]`): cumulative within a quality.
    pub bps: [u64; MAX_RUNGS],
}

/// The most steps a track offers: two qualities of three temporal layers.
pub(crate) const MAX_RUNGS: usize = 6;

/// What a subscriber gets of one track, a step of its ladder: audio `Some(0)`
/// on, `Some(1)` on with redundancy; video `Some(layer)`; a simulcast camera
/// `Some(0..=2)` the small quality up to that layer, `Some(3..=5)` the full
/// quality up to layer `step - 3`; `None` off.
pub(crate) type Allot = Option<u8>;

/// Splits `budget` bits/s over `wants` (sorted by the caller or not; the
/// result follows `wants`' order). In order:
/// 1. all the audio if it takes at most half the budget; otherwise (a
///    tight budget) the `last_n` loudest audio tracks, always; with `protect` (a lossy link) and room
///    for all the audio twice, all of it with redundancy (`Some(1)`), which
///    doubles its cost;
/// 2. the first step of each video (layer 0; the small quality's layer 0 for
///    a simulcast camera), by class (active speaker, screen, others), while
///    it fits;
/// 3. on a tight budget, the other audio tracks (speaking first, loudest
///    first), while they fit;
/// 4. the next steps, one round per step (every track's second step by
///    class, then every third, ...), while they fit. A step's cost is what
///    it adds to the previous one; going from the small quality to the full
///    one frees what the small one took.
///
/// So no audio is dropped while an upper video layer is sent, the loudest
/// `last_n` never, and on a thin link the active speaker's picture comes
/// before the voices of those who are not the loudest.
pub(crate) fn allocate(budget: u64, wants: &[Want], last_n: usize, protect: bool) -> Vec<Allot> {
    let mut out: Vec<Allot> = vec![None; wants.len()];
    let mut left = budget;
    let take = |cost: u64, left: &mut u64| {
        if cost <= *left {
            *left -= cost;
            true
        } else {
            false
        }
    };
    let mut audio: Vec<usize> = (0..wants.len())
        .filter(|&i| wants[i].kind == MediaKind::Audio)
        .collect();
    audio.sort_by_key(|&i| (wants[i].class, wants[i].level, wants[i].track));
    let mut video: Vec<usize> = (0..wants.len())
        .filter(|&i| wants[i].kind == MediaKind::Video && wants[i].rungs > 0)
        .collect();
    video.sort_by_key(|&i| (wants[i].class, !wants[i].on, wants[i].track));

    let all_audio: u64 = audio.iter().map(|&i| wants[i].bps[0]).sum();
    // Tight: all the audio would take more than half the budget. Ten voices
    // at once on a thin link are noise anyway; the loudest few and the
    // active speaker's picture are worth more.
    let tight = all_audio > left / 2;
    let redundant = protect && all_audio.saturating_mul(2) <= left;
    for (n, &i) in audio.iter().enumerate() {
        if !tight || n < last_n {
            left = left.saturating_sub(wants[i].bps[0]);
            out[i] = Some(0);
        }
    }
    if redundant {
        left -= all_audio;
        for &i in &audio {
            out[i] = Some(1);
        }
    }
    for &i in &video {
        if take(wants[i].bps[0], &mut left) {
            out[i] = Some(0);
        }
    }
    for &i in audio.iter().skip(last_n) {
        if out[i].is_none() && take(wants[i].bps[0], &mut left) {
            out[i] = Some(0);
        }
    }
    for step in 1..MAX_RUNGS as u8 {
        for &i in &video {
            let s = usize::from(step);
            if step < wants[i].rungs
                && out[i] == Some(step - 1)
                && take(
                    wants[i].bps[s].saturating_sub(wants[i].bps[s - 1]),
                    &mut left,
                )
            {
                out[i] = Some(step);
            }
        }
    }
    out
}

/// Orders allotments: off < step 0 < step 1 < ...
pub(crate) fn rank(a: Allot) -> i16 {
    a.map_or(-1, i16::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio(track: u32, level: u8, speaking: bool) -> Want {
        Want {
            track: TrackId(track),
            kind: MediaKind::Audio,
            on: false,
            class: u8::from(!speaking),
            level,
            rungs: 1,
            bps: [50_000; MAX_RUNGS],
        }
    }

    fn video(track: u32, class: u8) -> Want {
        Want {
            track: TrackId(track),
            kind: MediaKind::Video,
            on: false,
            class,
            level: 127,
            rungs: 3,
            bps: [100_000, 250_000, 400_000, 0, 0, 0],
        }
    }

    /// A simulcast camera: small 60/90/120k, full 200/350/500k.
    fn camera(track: u32, class: u8, rungs: u8) -> Want {
        Want {
            track: TrackId(track),
            kind: MediaKind::Video,
            on: false,
            class,
            level: 127,
            rungs,
            bps: [60_000, 90_000, 120_000, 200_000, 350_000, 500_000],
        }
    }

    #[test]
    fn a_thin_link_gets_the_loudest_voices_and_the_base_layer() {
        // 300 kbit/s, ten people talking at once (43k each with overhead),
        // ten simulcast cameras whose small base layer takes 65k.
        let mut wants: Vec<Want> = (0..10)
            .map(|i| Want {
                bps: [43_000; MAX_RUNGS],
                ..audio(i, 20 + i as u8, true)
            })
            .collect();
        wants.extend((10..20).map(|i| Want {
            bps: [65_000, 90_000, 120_000, 200_000, 350_000, 500_000],
            ..camera(i, if i == 10 { 0 } else { 2 }, 6)
        }));
        let out = allocate(285_000 / 115 * 100, &wants, 3, false);
        let voices = out[..10].iter().filter(|a| a.is_some()).count();
        let pictures = out[10..].iter().filter(|a| a.is_some()).count();
        assert_eq!((voices, pictures), (4, 1), "{out:?}");
        assert_eq!(out[10], Some(0), "the active speaker's base layer");
        assert!(out[..3].iter().all(|a| a.is_some()), "the loudest three");
    }

    #[test]
    fn simulcast_ladder_small_first_then_upgrades() {
        // Audio 50k, the active speaker's camera and another camera, the
        // other one shown in a small tile (small quality only).
        let wants = [audio(1, 20, true), camera(10, 0, 6), camera(11, 2, 3)];
        let table: [(u64, [Allot; 3]); 8] = [
            // Audio first, then the small quality's base layer by priority.
            (50_000, [Some(0), None, None]),
            (110_000, [Some(0), Some(0), None]),
            (170_000, [Some(0), Some(0), Some(0)]),
            // Upgrades one round per step: both to small layer 1 ...
            (230_000, [Some(0), Some(1), Some(1)]),
            // ... to small layer 2, then the speaker to the full quality
            // (200k, freeing the small one's 120k).
            (290_000, [Some(0), Some(2), Some(2)]),
            (370_000, [Some(0), Some(3), Some(2)]),
            (520_000, [Some(0), Some(4), Some(2)]),
            // The small tile never goes past the small quality.
            (u64::MAX, [Some(0), Some(5), Some(2)]),
        ];
        for (budget, expected) in table {
            assert_eq!(
                allocate(budget, &wants, 3, false),
                expected,
                "budget {budget}"
            );
        }
    }

    #[test]
    fn allocation_order_table() {
        // Two speakers (one loud), two silent tracks, the active speaker's
        // video and one other video; last-N = 1. All the audio is 200k: while
        // that is more than half the budget, only the loudest is sure, then
        // the videos' base layers, then the other audio.
        let wants = [
            audio(1, 20, true),
            audio(2, 40, true),
            audio(3, 127, false),
            audio(4, 127, false),
            video(10, 0),
            video(11, 2),
        ];
        // (budget, expected allotments in `wants` order)
        let table: [(u64, [Allot; 6]); 8] = [
            (0, [Some(0), None, None, None, None, None]),
            (100_000, [Some(0), Some(0), None, None, None, None]),
            (199_999, [Some(0), None, None, None, Some(0), None]),
            (300_000, [Some(0), Some(0), None, None, Some(0), Some(0)]),
            (
                400_000,
                [Some(0), Some(0), Some(0), Some(0), Some(0), Some(0)],
            ),
            (
                550_000,
                [Some(0), Some(0), Some(0), Some(0), Some(1), Some(0)],
            ),
            (
                700_000,
                [Some(0), Some(0), Some(0), Some(0), Some(1), Some(1)],
            ),
            (
                u64::MAX,
                [Some(0), Some(0), Some(0), Some(0), Some(2), Some(2)],
            ),
        ];
        for (budget, expected) in table {
            assert_eq!(
                allocate(budget, &wants, 1, false),
                expected,
                "budget {budget}"
            );
        }
    }

    #[test]
    fn redundancy_comes_before_video_and_only_when_all_audio_fits_twice() {
        let wants = [audio(1, 20, true), audio(2, 127, false), video(10, 0)];
        let on = |a: Allot| a == Some(1);
        // (budget, audio redundant, video allot); all the audio is 100k.
        let table: [(u64, bool, Allot); 5] = [
            (99_999, false, None),
            // Tight (all the audio is more than half): the loudest, then video.
            (199_999, false, Some(0)),
            (200_000, true, None),
            (300_000, true, Some(0)),
            (u64::MAX, true, Some(2)),
        ];
        for (budget, redundant, video) in table {
            let got = allocate(budget, &wants, 1, true);
            assert_eq!(
                (on(got[0]), on(got[1]), got[2]),
                (redundant, redundant, video),
                "budget {budget}"
            );
            // Without loss nothing is redundant.
            assert!(
                allocate(budget, &wants, 1, false)[..2]
                    .iter()
                    .all(|a| !on(*a))
            );
        }
    }

    #[test]
    fn lossy_links_follow_smoothed_loss_with_hysteresis() {
        let policy = BudgetPolicy::default();
        let mut link = Link::default();
        let report = |loss: u16| LinkReport {
            window_bps: Some(8_000_000),
            sent_bps: 1_000_000,
            offered_bps: 1_000_000,
            loss_permille: loss,
            ..LinkReport::default()
        };
        // A single lost packet in a short interval is not a lossy link.
        link.report(&report(20), &policy);
        assert!(!link.lossy);
        for _ in 0..8 {
            link.report(&report(0), &policy);
        }
        assert!(!link.lossy);
        // 3 % steady: lossy within a few reports.
        let mut reports = 0;
        while !link.lossy {
            link.report(&report(30), &policy);
            reports += 1;
        }
        assert!(reports <= 2, "{reports} reports");
        // 0.3 % keeps it (between off and on), no loss ends it.
        for _ in 0..20 {
            link.report(&report(3), &policy);
        }
        assert!(link.lossy);
        let mut reports = 0;
        while link.lossy {
            link.report(&report(0), &policy);
            reports += 1;
        }
        assert!((3..=40).contains(&reports), "{reports} reports");
    }

    #[test]
    fn estimate_follows_window_and_saturated_backlog() {
        let policy = BudgetPolicy::default();
        let mut link = Link::default();
        let ms = Duration::from_millis;
        let r = |window: Option<u64>, sent: u64, queued: u64, loss: u16, rtt: u64| LinkReport {
            rtt: ms(rtt),
            min_rtt: ms(40),
            window_bps: window,
            sent_bps: sent,
            acked_bps: None,
            offered_bps: sent,
            loss_permille: loss,
            flow_blocked: false,
            queued,
        };
        let offered = |window: Option<u64>, sent: u64, offered: u64| LinkReport {
            offered_bps: offered,
            ..r(window, sent, 0, 0, 40)
        };
        // (report, estimate, saturated); signs other than the edge's backlog
        // count from their second report in a row.
        let table = [
            // Not saturated: the window, or what it carries + 50 % if larger.
            (r(Some(8_000_000), 1_000_000, 0, 0, 40), 8_000_000, false),
            (r(Some(1_000_000), 1_000_000, 0, 10, 60), 1_485_000, false),
            // A backlog at the edge: what it delivered, less 10 %, at once.
            (
                r(Some(8_000_000), 300_000, 128 * 1024, 0, 40),
                270_000,
                true,
            ),
            // A bottleneck queue filling (RTT 150 ms above its minimum).
            (r(Some(8_000_000), 300_000, 0, 0, 190), 8_000_000, false),
            (r(Some(8_000_000), 300_000, 0, 0, 190), 270_000, true),
            // One interval with heavy loss is not enough (loss is smoothed).
            (r(Some(8_000_000), 400_000, 0, 100, 40), 8_000_000, false),
            (r(Some(8_000_000), 400_000, 0, 0, 40), 8_000_000, false),
            // The transport holds back what it is given, near its window.
            (offered(Some(700_000), 300_000, 600_000), 700_000, false),
            (offered(Some(700_000), 300_000, 600_000), 270_000, true),
            // ... but not with a wide-open window (a stalled sender, not the link).
            (
                offered(Some(50_000_000), 300_000, 600_000),
                50_000_000,
                false,
            ),
            (
                offered(Some(50_000_000), 300_000, 600_000),
                50_000_000,
                false,
            ),
            // WebSocket, nothing queued: no limit known.
            (r(None, 100_000, 0, 0, 0), u64::MAX, false),
            (r(None, 100_000, 128 * 1024, 0, 0), 90_000, true),
        ];
        for (report, estimate, saturated) in table {
            // How the estimate grows back after a saturation has its own test.
            link.ceiling = None;
            link.report(&report, &policy);
            assert_eq!(
                (link.estimate, link.saturated),
                (Some(estimate), saturated),
                "{report:?}"
            );
        }
    }

    #[test]
    fn sent_but_not_acknowledged_is_saturation_and_random_loss_is_not() {
        let policy = BudgetPolicy::default();
        let ms = Duration::from_millis;
        // (sent, acknowledged, queueing delay in ms)
        let report = |sent: u64, acked: u64, queue: u64| LinkReport {
            rtt: ms(40 + queue),
            min_rtt: ms(40),
            window_bps: Some(50_000_000),
            sent_bps: sent,
            acked_bps: Some(acked),
            offered_bps: sent,
            ..LinkReport::default()
        };
        // 3 % lost at random: 97 % acknowledged, never saturated.
        let mut link = Link::default();
        for i in 0..50 {
            assert_eq!(
                link.report(&report(2_000_000, 1_940_000, 5), &policy),
                None,
                "{i}"
            );
        }
        // A keyframe's burst: one interval well above what is acknowledged,
        // then the acknowledgements catch up. Not saturated.
        assert_eq!(
            link.report(&report(6_000_000, 2_000_000, 30), &policy),
            None
        );
        assert_eq!(
            link.report(&report(1_000_000, 5_000_000, 30), &policy),
            None
        );
        // Acknowledgements lagging with no queue building (loss recovery on
        // a long path): not congestion.
        for i in 0..10 {
            assert_eq!(
                link.report(&report(3_000_000, 1_500_000, 0), &policy),
                None,
                "{i}"
            );
        }
        assert!(link.knee.is_none(), "not thin");
        // A thin link taking 300k of 500k, its queue filling: saturated at
        // the second report, the estimate what was acknowledged less 10 %.
        let mut link = Link::default();
        assert_eq!(link.report(&report(500_000, 300_000, 60), &policy), None);
        assert_eq!(
            link.report(&report(500_000, 300_000, 60), &policy),
            Some(Saturation::BackedUp)
        );
        assert_eq!(link.estimate, Some(270_000));
        assert!(link.knee.is_some(), "thin");
        // The transport holding back what it is given near its window with
        // no queue anywhere (loss recovery on a lossy path): not saturated.
        let mut link = Link::default();
        let held = LinkReport {
            window_bps: Some(400_000),
            offered_bps: 2_000_000,
            ..report(300_000, 300_000, 0)
        };
        for i in 0..10 {
            assert_eq!(link.report(&held, &policy), None, "{i}");
        }
        // Saturated from the second report when QUIC says the reader's flow
        // control stopped it (a reader slower than it is sent), not a path
        // limit.
        let mut link = Link::default();
        let blocked = LinkReport {
            flow_blocked: true,
            ..report(300_000, 300_000, 0)
        };
        assert_eq!(link.report(&blocked, &policy), None);
        assert_eq!(
            link.report(&blocked, &policy),
            Some(Saturation::FlowControl)
        );
        assert_eq!(link.estimate, Some(270_000));
        assert!(link.knee.is_none(), "not thin");
    }

    #[test]
    fn random_loss_is_not_congestion_but_lasting_heavy_loss_is() {
        let policy = BudgetPolicy::default();
        let report = |loss: u16| LinkReport {
            window_bps: Some(8_000_000),
            sent_bps: 1_000_000,
            offered_bps: 1_000_000,
            loss_permille: loss,
            ..LinkReport::default()
        };
        // 3 % on average, in short intervals of 0 to 10 %: never saturated.
        let mut link = Link::default();
        for i in 0..200u16 {
            let loss = [0, 100, 20, 60, 0, 0, 40, 20, 30, 30][usize::from(i % 10)];
            assert_eq!(link.report(&report(loss), &policy), None, "report {i}");
        }
        // 20 % lasting: saturated within a few reports, the estimate what got through.
        let mut reports = 0;
        while link.report(&report(200), &policy) != Some(Saturation::Loss) {
            reports += 1;
            assert!(reports < 20, "never saturated");
        }
        assert_eq!(link.estimate, Some(720_000));
    }

    #[test]
    fn after_a_saturation_the_estimate_grows_back_gently() {
        let policy = BudgetPolicy::default();
        let mut link = Link::default();
        let report = |sent: u64, loss: u16| LinkReport {
            window_bps: Some(600_000),
            sent_bps: sent,
            offered_bps: sent,
            loss_permille: loss,
            ..LinkReport::default()
        };
        // A thin link flooded: a quarter of what it is sent is lost.
        let mut saturated = None;
        for _ in 0..4 {
            saturated = link.report(&report(560_000, 250), &policy);
        }
        assert_eq!(saturated, Some(Saturation::Loss));
        assert_eq!(link.estimate, Some(378_000));
        assert_eq!(link.knee, Some(420_000), "loss is the path's limit");
        // The loss stops: the estimate grows 3 % a report up to what the
        // link delivered when it saturated (420k), not back to the window's
        // 600 kbit/s at once (which would flood the link again) ...
        let mut last = 378_000;
        for i in 0..4 {
            assert_eq!(link.report(&report(300_000, 0), &policy), None);
            let e = link.estimate.unwrap();
            assert!(
                e > last && e <= last * 103 / 100 + 1,
                "report {i}: {last} -> {e}"
            );
            last = e;
        }
        assert_eq!(last, 420_000, "the knee");
        // ... then 1 % a report, and no further than half again what the
        // link carries (here 300k: 450k).
        for i in 0..20 {
            link.report(&report(300_000, 0), &policy);
            let e = link.estimate.unwrap();
            assert!(
                e >= last && e <= last * 101 / 100 + 1,
                "report {i}: {last} -> {e}"
            );
            last = e;
        }
        assert!((440_000..=450_000).contains(&last), "{last}");
        // After `path_limit_reports` quiet reports the limit is forgotten:
        // 3 % a report again, until the window counts again.
        for _ in 0..policy.path_limit_reports {
            link.report(&report(300_000, 0), &policy);
        }
        assert!(link.knee.is_none(), "not thin");
        for _ in 0..20 {
            link.report(&report(300_000, 0), &policy);
        }
        assert_eq!(link.estimate, Some(600_000));
        assert_eq!(link.ceiling, None);
    }

    #[test]
    fn raises_undone_soon_wait_longer() {
        let policy = BudgetPolicy {
            raise_interval: Duration::from_secs(1),
            ..BudgetPolicy::default()
        };
        let mut link = Link::default();
        assert!(link.may_raise(Millis(0), &policy));
        link.raised(Millis(0), &policy);
        assert!(!link.may_raise(Millis(999), &policy));
        assert!(link.may_raise(Millis(1000), &policy));
        // Undone after 500 ms: the next raise waits 2 s, then 4 s ...
        link.lowered(Millis(500), &policy);
        assert!(!link.may_raise(Millis(1999), &policy));
        assert!(link.may_raise(Millis(2000), &policy));
        link.raised(Millis(2000), &policy);
        link.lowered(Millis(2100), &policy);
        assert!(!link.may_raise(Millis(5999), &policy));
        for _ in 0..5 {
            link.raised(Millis(6000), &policy);
            link.lowered(Millis(6100), &policy);
        }
        assert_eq!(link.raise_wait, policy.max_raise_interval);
        // A raise after a quiet 10 s starts over.
        link.raised(Millis(20_000), &policy);
        assert_eq!(link.raise_wait, policy.raise_interval);
    }

    #[test]
    fn rate_meter_measures_layers() {
        let mut m = RateMeter::default();
        // 30 fps, 1000 bytes per frame on the wire, layers 0,2,1,2: the first
        // window closes at 500 ms with frames 0..15 (4 + 4 + 7 of them).
        for i in 0..=15u64 {
            assert_eq!(m.up_to(2), 0, "nothing measured before the window closes");
            let layer = [0, 2, 1, 2][(i % 4) as usize];
            m.frame(Millis(i * 1000 / 30), layer, 1000 - FRAME_OVERHEAD_BYTES);
        }
        assert_eq!(m.up_to(0), 64_000);
        assert_eq!(m.up_to(1), 128_000);
        assert_eq!(m.up_to(2), 240_000);
    }
}
