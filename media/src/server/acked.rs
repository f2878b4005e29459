//! What the subscriber's link really delivered: a congestion controller that
//! wraps the configured one (BBR, Cubic, NewReno) and counts the bytes the
//! peer acknowledged.
//!
//! quinn's statistics say what was sent and what was declared lost, but not
//! what arrived. Sent minus lost overstates a thin link while a queue in
//! front of it fills (its drops are declared lost an RTT or more later), and
//! the congestion window says little there: at a few milliseconds of RTT it
//! sits at its floor of a few packets, which divided by the RTT reads as
//! megabits. Acknowledged bytes per interval are what the path carried — the
//! bottleneck's rate when more is offered, what was offered when not — so the
//! link reports carry them (see [`LinkReport::acked_bps`]).
//!
//! [`LinkReport::acked_bps`]: podium_media_core::LinkReport::acked_bps

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use quinn_proto::RttEstimator;
use wtransport::quinn::congestion::{Controller, ControllerFactory, ControllerMetrics};

/// Builds the configured controller wrapped in [`Counting`].
pub(crate) struct CountingFactory(pub Arc<dyn ControllerFactory + Send + Sync>);

impl ControllerFactory for CountingFactory {
    fn build(self: Arc<Self>, now: Instant, current_mtu: u16) -> Box<dyn Controller> {
        Box::new(Counting {
            inner: self.0.clone().build(now, current_mtu),
            acked: Arc::new(AtomicU64::new(0)),
        })
    }
}

/// A congestion controller that defers every decision to `inner` and adds
/// up the acknowledged bytes in a counter shared with its clones (quinn hands
/// out clones of a connection's controller, see [`acked_counter`]).
struct Counting {
    inner: Box<dyn Controller>,
    acked: Arc<AtomicU64>,
}

impl Controller for Counting {
    fn on_sent(&mut self, now: Instant, bytes: u64, last_packet_number: u64) {
        self.inner.on_sent(now, bytes, last_packet_number);
    }

    fn on_ack(
        &mut self,
        now: Instant,
        sent: Instant,
        bytes: u64,
        app_limited: bool,
        rtt: &RttEstimator,
    ) {
        self.acked.fetch_add(bytes, Relaxed);
        self.inner.on_ack(now, sent, bytes, app_limited, rtt);
    }

    fn on_end_acks(
        &mut self,
        now: Instant,
        in_flight: u64,
        app_limited: bool,
        largest_packet_num_acked: Option<u64>,
    ) {
        self.inner
            .on_end_acks(now, in_flight, app_limited, largest_packet_num_acked);
    }

    fn on_congestion_event(
        &mut self,
        now: Instant,
        sent: Instant,
        is_persistent_congestion: bool,
        lost_bytes: u64,
    ) {
        self.inner
            .on_congestion_event(now, sent, is_persistent_congestion, lost_bytes);
    }

    fn on_mtu_update(&mut self, new_mtu: u16) {
        self.inner.on_mtu_update(new_mtu);
    }

    fn window(&self) -> u64 {
        self.inner.window()
    }

    fn metrics(&self) -> ControllerMetrics {
        self.inner.metrics()
    }

    fn clone_box(&self) -> Box<dyn Controller> {
        Box::new(Counting {
            inner: self.inner.clone_box(),
            acked: self.acked.clone(),
        })
    }

    fn initial_window(&self) -> u64 {
        self.inner.initial_window()
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// The connection's count of acknowledged bytes (`None` if its controller
/// is not a [`Counting`] one).
pub(crate) fn acked_counter(conn: &wtransport::quinn::Connection) -> Option<Arc<AtomicU64>> {
    conn.congestion_state()
        .into_any()
        .downcast::<Counting>()
        .ok()
        .map(|c| c.acked)
}
