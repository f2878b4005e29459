//! Metrics in the Prometheus (OpenMetrics) text format, served at `/metrics`,
//! built with the `prometheus-client` crate: event counters and the HTTP
//! histogram live in one registry for the life of the server; what is read
//! at scrape time (live rooms, the media engine, the process, the store)
//! goes into a registry made for that scrape, so a live session's series
//! disappear with the session.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use podium_media::FANOUT_BUCKETS_US;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

/// The content type of `/metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabel {
    class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// Seconds buckets of the request histogram: 1 ms to 10 s.
const REQUEST_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    registry: Registry,
    /// Responses by status class 1xx..5xx.
    responses: Family<ClassLabel, Counter>,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub signups: Counter,
    pub signin_failures: Counter,
    pub mails_sent: Counter,
    pub mail_failures: Counter,
    /// Mails handed over without a confirmation (never sent again).
    pub mails_uncertain: Counter,
    /// Scheduled backups written / failed.
    pub backups_ok: Counter,
    pub backups_failed: Counter,
    /// The media engine's counters: the last seen per running session, and
    /// the sum of sessions that ended (totals never go down).
    media: Mutex<MediaTotals>,
    scrapes: AtomicU64,
}

#[derive(Debug, Default)]
struct MediaTotals {
    /// By (session, generation).
    last: HashMap<(u64, u64), MediaCounters>,
    ended: MediaCounters,
    /// The newest scrape whose media snapshot went into `last`.
    newest: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        registry.register(
            "podium_build",
            "Build information",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let responses = Family::<ClassLabel, Counter>::default();
        for class in CLASSES {
            let _ = responses.get_or_create(&ClassLabel { class });
        }
        registry.register(
            "podium_http_responses",
            "HTTP responses sent, by status class",
            responses.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "podium_http_requests",
            "HTTP requests by route (the route table's pattern), method and status",
            requests.clone(),
        );
        let durations: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(REQUEST_BUCKETS));
        registry.register(
            "podium_http_request_duration_seconds",
            "Time spent handling requests, by route and method",
            durations.clone(),
        );
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let signups = counter(&mut registry, "podium_signups", "Accounts created");
        let signin_failures = counter(
            &mut registry,
            "podium_signin_failures",
            "Failed sign-in attempts",
        );
        let mails_sent = counter(&mut registry, "podium_mails_sent", "Mails delivered");
        let mail_failures = counter(
            &mut registry,
            "podium_mail_failures",
            "Failed delivery attempts (retried)",
        );
        let mails_uncertain = counter(
            &mut registry,
            "podium_mails_uncertain",
            "Mails handed to the mail server without a confirmation (lost connection or a crash); never sent again",
        );
        let backups = Family::<OutcomeLabel, Counter>::default();
        let backups_ok = backups
            .get_or_create(&OutcomeLabel { outcome: "ok" })
            .clone();
        let backups_failed = backups
            .get_or_create(&OutcomeLabel { outcome: "failed" })
            .clone();
        registry.register(
            "podium_backups",
            "Scheduled backups, by outcome",
            backups.clone(),
        );
        Self {
            started: Instant::now(),
            registry,
            responses,
            requests,
            durations,
            signups,
            signin_failures,
            mails_sent,
            mail_failures,
            mails_uncertain,
            backups_ok,
            backups_failed,
            media: Mutex::default(),
            scrapes: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Numbers a scrape before it reads the media engine: a scrape that
    /// overtook an older one keeps the older one's snapshot out of the totals.
    pub fn begin_scrape(&self) -> u64 {
        self.scrapes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1
    }

    /// Counts one answered request: `route` is its label from the route
    /// table (`http::routes::label`), never the raw path.
    pub fn observe(&self, route: String, method: &str, status: StatusCode, took: Duration) {
        let class = (status.as_u16() / 100).clamp(1, 5) as usize - 1;
        self.responses
            .get_or_create(&ClassLabel {
                class: CLASSES[class],
            })
            .inc();
        // Clients may send any method name: only the standard ones become labels.
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
            _ => "other",
        }
        .to_owned();
        self.durations
            .get_or_create(&RouteLabels {
                route: route.clone(),
                method: method.clone(),
            })
            .observe(took.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status: status.as_u16(),
            })
            .inc();
    }

    /// Renders every metric; `counts` (users, outbox) are read from the store
    /// (`None` when it cannot be read), `live` from the live hub and the
    /// media engine, `store_healthy` says whether writes are accepted.
    pub fn render(
        &self,
        counts: Option<(u64, u64)>,
        live: LiveCounts,
        store_healthy: bool,
    ) -> String {
        let mut now = Registry::default();
        let gauge = |r: &mut Registry, name: &str, help: &str, v: i64| {
            let g = Gauge::<i64>::default();
            g.set(v);
            r.register(name, help, g);
        };
        let uptime = Gauge::<f64, AtomicU64>::default();
        uptime.set(self.started.elapsed().as_secs_f64());
        now.register(
            "podium_uptime_seconds",
            "Seconds since the server started",
            uptime,
        );
        gauge(
            &mut now,
            "podium_store_healthy",
            "1 while the store accepts writes, 0 while storage is failing (disk full, I/O errors)",
            i64::from(store_healthy),
        );
        gauge(
            &mut now,
            "podium_live_sessions",
            "Live sessions running",
            live.sessions as i64,
        );
        gauge(
            &mut now,
            "podium_live_participants",
            "People in live rooms",
            live.people as i64,
        );
        gauge(
            &mut now,
            "podium_live_on_stage",
            "People on stage in live rooms",
            live.on_stage as i64,
        );
        let failures = Counter::<u64>::default();
        failures.inc_by(live.media_failures);
        now.register(
            "podium_media_effect_failures",
            "Live room changes the media engine refused",
            failures,
        );
        let by_transport = Family::<TransportLabel, Gauge>::default();
        for (transport, n) in live.media_participants {
            by_transport
                .get_or_create(&TransportLabel { transport })
                .set(n as i64);
        }
        now.register(
            "podium_media_participants",
            "Participants connected to the media engine, by transport",
            by_transport,
        );
        if let Some((users, outbox)) = counts {
            gauge(
                &mut now,
                "podium_outbox",
                "Mails waiting for delivery",
                outbox as i64,
            );
            gauge(
                &mut now,
                "podium_users",
                "Registered accounts",
                users as i64,
            );
        }
        self.media_metrics(&mut now, live.scrape, &live.media_sessions);
        process_metrics(&mut now);

        let mut out = String::with_capacity(8192);
        // Writing into a String cannot fail.
        let _ = encode_registry(&mut out, &self.registry);
        let _ = encode_registry(&mut out, &now);
        let _ = encode_eof(&mut out);
        out
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabel {
    transport: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SessionLabel {
    session: u64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabel {
    cause: &'static str,
}

/// The causes of `MediaCounters::saturated`, in its order.
pub const SATURATION_CAUSES: [&str; 6] = [
    "backlog",
    "queue_delay",
    "held_back",
    "loss",
    "backed_up",
    "flow_control",
];

/// The media engine's counters of one live session (they only grow while it runs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaCounters {
    pub frames_in: u64,
    pub bytes_in: u64,
    /// Frame deliveries (one per frame and receiving subscriber).
    pub frames_out: u64,
    pub bytes_out: u64,
    /// Frames refused (reaching no one).
    pub frames_rejected: u64,
    /// Frames not delivered by policy: waiting for a keyframe, upper layer
    /// dropped for congestion or by preference, stale group.
    pub drop_awaiting_keyframe: u64,
    pub drop_congestion: u64,
    pub drop_layer_preference: u64,
    pub drop_stale_group: u64,
    /// ... or not covered by the subscriber's bandwidth estimate.
    pub drop_budget: u64,
    /// Audio deliveries sent as redundant datagrams (a lossy link).
    pub redundant_deliveries: u64,
    /// Link reports that counted as saturated, by cause (`SATURATION_CAUSES`).
    pub saturated: [u64; SATURATION_CAUSES.len()],
    /// Groups cut short for a lagging subscriber.
    pub group_drops: u64,
    /// Frames dropped because a subscriber's queue hit its hard limit.
    pub queue_overflow: u64,
    pub keyframe_requests: u64,
    /// Audio datagrams QUIC refused to send, and incoming ones dropped.
    pub datagrams_failed: u64,
    pub datagrams_dropped_in: u64,
    pub fanout_frames: u64,
    pub fanout_nanos: u64,
    /// Frames by fan-out time, per bucket of `FANOUT_BUCKETS_US` (not cumulative).
    pub fanout_buckets: [u64; FANOUT_BUCKETS_US.len() + 1],
}

impl MediaCounters {
    fn add(&mut self, o: &MediaCounters) {
        self.frames_in += o.frames_in;
        self.bytes_in += o.bytes_in;
        self.frames_out += o.frames_out;
        self.bytes_out += o.bytes_out;
        self.frames_rejected += o.frames_rejected;
        self.drop_awaiting_keyframe += o.drop_awaiting_keyframe;
        self.drop_congestion += o.drop_congestion;
        self.drop_layer_preference += o.drop_layer_preference;
        self.drop_stale_group += o.drop_stale_group;
        self.drop_budget += o.drop_budget;
        self.redundant_deliveries += o.redundant_deliveries;
        for (a, b) in self.saturated.iter_mut().zip(o.saturated) {
            *a += b;
        }
        self.group_drops += o.group_drops;
        self.queue_overflow += o.queue_overflow;
        self.keyframe_requests += o.keyframe_requests;
        self.datagrams_failed += o.datagrams_failed;
        self.datagrams_dropped_in += o.datagrams_dropped_in;
        self.fanout_frames += o.fanout_frames;
        self.fanout_nanos += o.fanout_nanos;
        for (a, b) in self.fanout_buckets.iter_mut().zip(o.fanout_buckets) {
            *a += b;
        }
    }
}

/// What the media engine reports about one running live session.
#[derive(Debug, Clone, Default)]
pub struct MediaSession {
    pub id: u64,
    /// The SFU's generation of the session: counters restart under a new one.
    pub generation: u64,
    pub counters: MediaCounters,
    pub participants: u64,
    /// Participants whose frames arrive now, and their tracks.
    pub publishers: u64,
    pub tracks: u64,
    /// Bytes queued for each subscriber now.
    pub queues: Vec<u64>,
}

/// Bytes buckets of the subscriber queue histogram: 1 KiB to 4 MiB.
const QUEUE_BUCKETS: [f64; 7] = [
    1024.0, 16384.0, 65536.0, 262144.0, 1048576.0, 2097152.0, 4194304.0,
];

impl Metrics {
    fn media_metrics(&self, r: &mut Registry, scrape: u64, sessions: &[MediaSession]) {
        let totals = {
            let mut m = self.media.lock().expect("media totals lock");
            if scrape < m.newest {
                // A newer scrape already counted: its view holds.
                let mut totals = m.ended;
                for c in m.last.values() {
                    totals.add(c);
                }
                totals
            } else {
                m.newest = scrape;
                let running: HashMap<(u64, u64), MediaCounters> = sessions
                    .iter()
                    .map(|s| ((s.id, s.generation), s.counters))
                    .collect();
                let gone: Vec<(u64, u64)> = m
                    .last
                    .keys()
                    .filter(|id| !running.contains_key(id))
                    .copied()
                    .collect();
                for id in gone {
                    if let Some(c) = m.last.remove(&id) {
                        m.ended.add(&c);
                    }
                }
                let mut totals = m.ended;
                for (id, c) in running {
                    totals.add(&c);
                    m.last.insert(id, c);
                }
                totals
            }
        };
        let counter = |r: &mut Registry, name: &str, help: &str, v: u64| {
            let c = Counter::<u64>::default();
            c.inc_by(v);
            r.register(name, help, c);
        };
        let t = &totals;
        counter(
            r,
            "podium_media_frames_in",
            "Media frames received from publishers",
            t.frames_in,
        );
        counter(
            r,
            "podium_media_bytes_in",
            "Media payload bytes received from publishers",
            t.bytes_in,
        );
        counter(
            r,
            "podium_media_frames_out",
            "Media frame deliveries to subscribers",
            t.frames_out,
        );
        counter(
            r,
            "podium_media_bytes_out",
            "Media payload bytes delivered to subscribers",
            t.bytes_out,
        );
        counter(
            r,
            "podium_media_frames_rejected",
            "Media frames refused (reaching no one)",
            t.frames_rejected,
        );
        counter(
            r,
            "podium_media_group_drops",
            "Groups cut short for a lagging subscriber (its stream reset)",
            t.group_drops,
        );
        counter(
            r,
            "podium_media_queue_overflow_frames",
            "Frames dropped because a subscriber's queue hit its hard limit",
            t.queue_overflow,
        );
        counter(
            r,
            "podium_media_keyframe_requests",
            "Keyframe requests sent to publishers",
            t.keyframe_requests,
        );
        counter(
            r,
            "podium_media_redundant_audio_deliveries",
            "Audio frames sent as redundant datagrams (with a copy of the frame before) to subscribers whose links lose packets",
            t.redundant_deliveries,
        );
        counter(
            r,
            "podium_media_fanout_frames",
            "Frames fanned out to subscribers",
            t.fanout_frames,
        );
        let fanout = Counter::<f64, AtomicU64>::default();
        fanout.inc_by(t.fanout_nanos as f64 / 1e9);
        r.register(
            "podium_media_fanout_seconds",
            "Time spent fanning frames out (divide by podium_media_fanout_frames_total for the forwarding time per frame)",
            fanout,
        );
        let mut buckets: Vec<(f64, u64)> = FANOUT_BUCKETS_US
            .iter()
            .zip(t.fanout_buckets)
            .map(|(us, n)| (*us as f64 / 1e6, n))
            .collect();
        buckets.push((f64::INFINITY, t.fanout_buckets[FANOUT_BUCKETS_US.len()]));
        r.register(
            "podium_media_forwarding_seconds",
            "Time the SFU takes to forward one frame to every subscriber's queue (the fan-out)",
            ConstHistogram {
                sum: t.fanout_nanos as f64 / 1e9,
                count: t.fanout_buckets.iter().sum(),
                buckets,
            },
        );
        let dropped = Family::<ReasonLabel, Counter>::default();
        for (reason, v) in [
            ("awaiting_keyframe", t.drop_awaiting_keyframe),
            ("congestion", t.drop_congestion),
            ("layer_preference", t.drop_layer_preference),
            ("stale_group", t.drop_stale_group),
            ("budget", t.drop_budget),
        ] {
            dropped.get_or_create(&ReasonLabel { reason }).inc_by(v);
        }
        r.register(
            "podium_media_frames_dropped",
            "Frames not delivered by policy, by reason (layer: congestion, layer_preference; group: awaiting_keyframe, stale_group; the subscriber's bandwidth: budget)",
            dropped,
        );
        let saturated = Family::<CauseLabel, Counter>::default();
        for (cause, v) in SATURATION_CAUSES.iter().zip(t.saturated) {
            saturated.get_or_create(&CauseLabel { cause }).inc_by(v);
        }
        r.register(
            "podium_media_link_saturated",
            "Subscriber link reports that counted as saturated (the bandwidth estimate fell to what the link delivered), by cause",
            saturated,
        );
        let lost = Family::<ReasonLabel, Counter>::default();
        lost.get_or_create(&ReasonLabel {
            reason: "send_failed",
        })
        .inc_by(t.datagrams_failed);
        lost.get_or_create(&ReasonLabel {
            reason: "dropped_in",
        })
        .inc_by(t.datagrams_dropped_in);
        r.register(
            "podium_media_datagrams_lost",
            "Audio datagrams lost: refused by QUIC on sending, or dropped on arrival because the router was saturated",
            lost,
        );

        let per = |name: &str, help: &str, f: &dyn Fn(&MediaSession) -> i64, r: &mut Registry| {
            let total = Gauge::<i64>::default();
            let family = Family::<SessionLabel, Gauge>::default();
            for s in sessions {
                family
                    .get_or_create(&SessionLabel { session: s.id })
                    .set(f(s));
                total.inc_by(f(s));
            }
            r.register(name.to_owned(), help.to_owned(), total);
            r.register(
                format!(
                    "podium_media_session_{}",
                    name.trim_start_matches("podium_media_")
                ),
                format!("{help}, by live session"),
                family,
            );
        };
        per(
            "podium_media_publishers",
            "Participants whose media arrives now",
            &|s| s.publishers as i64,
            r,
        );
        per(
            "podium_media_tracks",
            "Tracks whose frames arrive now",
            &|s| s.tracks as i64,
            r,
        );
        per(
            "podium_media_queued_bytes",
            "Bytes queued for subscribers now",
            &|s| s.queues.iter().sum::<u64>() as i64,
            r,
        );
        let session_counter =
            |name: &str, help: &str, f: &dyn Fn(&MediaCounters) -> u64, r: &mut Registry| {
                let family = Family::<SessionLabel, Counter>::default();
                for s in sessions {
                    family
                        .get_or_create(&SessionLabel { session: s.id })
                        .inc_by(f(&s.counters));
                }
                r.register(name, help, family);
            };
        session_counter(
            "podium_media_session_frames_in",
            "Media frames received, by live session",
            &|c| c.frames_in,
            r,
        );
        session_counter(
            "podium_media_session_bytes_in",
            "Media payload bytes received, by live session",
            &|c| c.bytes_in,
            r,
        );
        session_counter(
            "podium_media_session_frames_out",
            "Media frame deliveries, by live session",
            &|c| c.frames_out,
            r,
        );
        session_counter(
            "podium_media_session_bytes_out",
            "Media payload bytes delivered, by live session",
            &|c| c.bytes_out,
            r,
        );
        let participants = Family::<SessionLabel, Gauge>::default();
        let queues = Histogram::new(QUEUE_BUCKETS);
        for s in sessions {
            participants
                .get_or_create(&SessionLabel { session: s.id })
                .set(s.participants as i64);
            for q in &s.queues {
                queues.observe(*q as f64);
            }
        }
        r.register(
            "podium_media_session_participants",
            "Participants connected to the media engine, by live session",
            participants,
        );
        r.register(
            "podium_media_subscriber_queue_bytes",
            "Bytes queued per subscriber at this scrape",
            queues,
        );
    }
}

/// A histogram read from elsewhere (the media engine counts its own buckets):
/// `buckets` are (upper bound, count in that bucket), not cumulative.
#[derive(Debug)]
struct ConstHistogram {
    sum: f64,
    count: u64,
    buckets: Vec<(f64, u64)>,
}

impl TypedMetric for ConstHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for ConstHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(self.sum, self.count, &self.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// The process: CPU seconds, resident memory, open files, threads (from /proc/self).
fn process_metrics(r: &mut Registry) {
    let pid = std::process::id();
    if let Ok(cpu) = podium_media::procfs::cpu_seconds(pid) {
        let c = Counter::<f64, AtomicU64>::default();
        c.inc_by(cpu);
        r.register(
            "process_cpu_seconds",
            "User and system CPU time spent, in seconds",
            c,
        );
    }
    let gauge = |r: &mut Registry, name: &str, help: &str, v: u64| {
        let g = Gauge::<i64>::default();
        g.set(v as i64);
        r.register(name, help, g);
    };
    if let Ok(rss) = podium_media::procfs::rss_bytes(pid) {
        gauge(
            r,
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            rss,
        );
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        gauge(
            r,
            "process_open_fds",
            "Open file descriptors",
            fds.count() as u64,
        );
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(n) = status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|v| v.trim().parse().ok())
    {
        gauge(r, "process_threads", "OS threads", n);
    }
    if let Some(max) = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        })
    {
        gauge(
            r,
            "process_max_fds",
            "The limit of open file descriptors",
            max,
        );
    }
}

/// What the live rooms and the media engine report to /metrics.
#[derive(Debug, Clone, Default)]
pub struct LiveCounts {
    pub sessions: usize,
    pub people: usize,
    pub on_stage: usize,
    pub media_failures: u64,
    /// Participants connected to the media engine, by transport
    /// (`webtransport`, `websocket`).
    pub media_participants: [(&'static str, u64); 2],
    /// The media engine's running sessions, read by scrape number `scrape`
    /// (`Metrics::begin_scrape`).
    pub media_sessions: Vec<MediaSession>,
    pub scrape: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_in(m: &Metrics, scrape: u64, sessions: &[(u64, u64, u64)]) -> f64 {
        let live = LiveCounts {
            scrape,
            media_sessions: sessions
                .iter()
                .map(|&(id, generation, frames_in)| MediaSession {
                    id,
                    generation,
                    counters: MediaCounters {
                        frames_in,
                        ..Default::default()
                    },
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let text = m.render(None, live, true);
        text.lines()
            .find_map(|l| l.strip_prefix("podium_media_frames_in_total "))
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn media_totals_never_go_down_when_sessions_end_reopen_or_scrapes_overtake() {
        let m = Metrics::default();
        assert_eq!(
            frames_in(&m, m.begin_scrape(), &[(1, 1, 10), (2, 1, 5)]),
            15.0
        );
        // Session 1 ended: what it had counted stays in the totals.
        assert_eq!(frames_in(&m, m.begin_scrape(), &[(2, 1, 7)]), 17.0);
        // Session 2 opened again: its new counters start at zero.
        assert_eq!(frames_in(&m, m.begin_scrape(), &[(2, 2, 1)]), 18.0);
        // A scrape numbered before the last one shows the newer view.
        let stale = m.begin_scrape();
        let newer = m.begin_scrape();
        assert_eq!(frames_in(&m, newer, &[(2, 2, 4)]), 21.0);
        assert_eq!(frames_in(&m, stale, &[]), 21.0);
        assert_eq!(frames_in(&m, m.begin_scrape(), &[(2, 2, 6)]), 23.0);
    }

    #[test]
    fn the_text_is_openmetrics_with_the_names_operators_know() {
        let m = Metrics::default();
        m.signups.inc();
        m.observe(
            "/api/me".to_owned(),
            "GET",
            StatusCode::OK,
            Duration::from_millis(3),
        );
        let text = m.render(Some((4, 0)), LiveCounts::default(), true);
        for line in [
            "podium_signups_total 1",
            "podium_users 4",
            "podium_http_responses_total{class=\"2xx\"} 1",
            "podium_http_requests_total{route=\"/api/me\",method=\"GET\",status=\"200\"} 1",
            "podium_http_request_duration_seconds_bucket{le=\"0.005\",route=\"/api/me\",method=\"GET\"} 1",
            "podium_http_request_duration_seconds_bucket{le=\"0.0025\",route=\"/api/me\",method=\"GET\"} 0",
            "podium_backups_total{outcome=\"ok\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
