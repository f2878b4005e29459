//! Process metrics in the Prometheus text format, served at `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyper::StatusCode;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    /// Responses by status class 1xx..5xx.
    responses: [Counter; 5],
    request_micros: Counter,
    pub signups: Counter,
    pub signin_failures: Counter,
    pub mails_sent: Counter,
    pub mail_failures: Counter,
    /// Mails handed over without a confirmation (never sent again).
    pub mails_uncertain: Counter,
    /// Scheduled backups written / failed.
    pub backups_ok: Counter,
    pub backups_failed: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            responses: Default::default(),
            request_micros: Counter::default(),
            signups: Counter::default(),
            signin_failures: Counter::default(),
            mails_sent: Counter::default(),
            mail_failures: Counter::default(),
            mails_uncertain: Counter::default(),
            backups_ok: Counter::default(),
            backups_failed: Counter::default(),
        }
    }
}

impl Metrics {
    pub fn observe(&self, status: StatusCode, took: Duration) {
        let class = (status.as_u16() / 100).clamp(1, 5) as usize - 1;
        self.responses[class].inc();
        self.request_micros.add(took.as_micros() as u64);
    }

    /// Renders every metric; `counts` (users, outbox) are read from the store
    /// (`None` when it cannot be read), `live` from the live hub,
    /// `store_healthy` says whether writes are accepted.
    pub fn render(
        &self,
        counts: Option<(u64, u64)>,
        live: LiveCounts,
        store_healthy: bool,
    ) -> String {
        let mut out = String::with_capacity(1024);
        let total: u64 = self.responses.iter().map(Counter::get).sum();
        let _ = writeln!(
            out,
            "# HELP podium_build_info Build information.\n# TYPE podium_build_info gauge\npodium_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        let _ = writeln!(
            out,
            "# HELP podium_uptime_seconds Seconds since the server started.\n# TYPE podium_uptime_seconds gauge\npodium_uptime_seconds {:.3}",
            self.started.elapsed().as_secs_f64()
        );
        let _ = writeln!(
            out,
            "# HELP podium_http_responses_total HTTP responses sent, by status class.\n# TYPE podium_http_responses_total counter"
        );
        for (i, c) in self.responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "podium_http_responses_total{{class=\"{}xx\"}} {}",
                i + 1,
                c.get()
            );
        }
        let _ = writeln!(
            out,
            "# HELP podium_http_request_duration_seconds Time spent handling requests.\n# TYPE podium_http_request_duration_seconds summary\npodium_http_request_duration_seconds_sum {:.6}\npodium_http_request_duration_seconds_count {}",
            self.request_micros.get() as f64 / 1e6,
            total
        );
        let _ = writeln!(
            out,
            "# HELP podium_signups_total Accounts created.\n# TYPE podium_signups_total counter\npodium_signups_total {}",
            self.signups.get()
        );
        let _ = writeln!(
            out,
            "# HELP podium_signin_failures_total Failed sign-in attempts.\n# TYPE podium_signin_failures_total counter\npodium_signin_failures_total {}",
            self.signin_failures.get()
        );
        let _ = writeln!(
            out,
            "# HELP podium_mails_sent_total Mails delivered.\n# TYPE podium_mails_sent_total counter\npodium_mails_sent_total {}\n# HELP podium_mail_failures_total Failed delivery attempts (retried).\n# TYPE podium_mail_failures_total counter\npodium_mail_failures_total {}\n# HELP podium_mails_uncertain_total Mails handed to the mail server without a confirmation (lost connection or a crash); never sent again.\n# TYPE podium_mails_uncertain_total counter\npodium_mails_uncertain_total {}",
            self.mails_sent.get(),
            self.mail_failures.get(),
            self.mails_uncertain.get()
        );
        let _ = writeln!(
            out,
            "# HELP podium_store_healthy 1 while the store accepts writes, 0 while storage is failing (disk full, I/O errors).\n# TYPE podium_store_healthy gauge\npodium_store_healthy {}",
            u8::from(store_healthy)
        );
        let _ = writeln!(
            out,
            "# HELP podium_backups_total Scheduled backups, by outcome.\n# TYPE podium_backups_total counter\npodium_backups_total{{outcome=\"ok\"}} {}\npodium_backups_total{{outcome=\"failed\"}} {}",
            self.backups_ok.get(),
            self.backups_failed.get()
        );
        let _ = writeln!(
            out,
            "# HELP podium_live_sessions Live sessions running.\n# TYPE podium_live_sessions gauge\npodium_live_sessions {}\n# HELP podium_live_participants People in live rooms.\n# TYPE podium_live_participants gauge\npodium_live_participants {}\n# HELP podium_live_on_stage People on stage in live rooms.\n# TYPE podium_live_on_stage gauge\npodium_live_on_stage {}",
            live.sessions, live.people, live.on_stage
        );
        let _ = writeln!(
            out,
            "# HELP podium_media_effect_failures_total Live room changes the media engine refused.\n# TYPE podium_media_effect_failures_total counter\npodium_media_effect_failures_total {}",
            live.media_failures
        );
        let _ = writeln!(
            out,
            "# HELP podium_media_participants Participants connected to the media engine, by transport.\n# TYPE podium_media_participants gauge"
        );
        for (transport, n) in live.media_participants {
            let _ = writeln!(
                out,
                "podium_media_participants{{transport=\"{transport}\"}} {n}"
            );
        }
        if let Some((users, outbox)) = counts {
            let _ = writeln!(
                out,
                "# HELP podium_outbox Mails waiting for delivery.\n# TYPE podium_outbox gauge\npodium_outbox {outbox}\n# HELP podium_users Registered accounts.\n# TYPE podium_users gauge\npodium_users {users}"
            );
        }
        out
    }
}

/// What the live rooms report to /metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveCounts {
    pub sessions: usize,
    pub people: usize,
    pub on_stage: usize,
    pub media_failures: u64,
    /// Participants connected to the media engine, by transport
    /// (`webtransport`, `websocket`).
    pub media_participants: [(&'static str, u64); 2],
}
