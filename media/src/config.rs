//! Configuration of the SFU's IO edge: where to listen, which certificate,
//! which page origins may connect, the join token key, and transport limits.

use std::net::SocketAddr;
use std::time::Duration;

use podium_media_core::RouterConfig;

use crate::cert::CertificateConfig;
use crate::token::JoinTokenKey;

/// Which page origins may open WebTransport sessions (the `Origin` header of
/// the session request). There is deliberately no "empty list means any".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPolicy {
    /// Exactly these origins (`scheme://host[:port]`, compared byte for byte,
    /// e.g. `https://podium.example.org`). A request without `Origin` is refused.
    /// An empty list refuses every session.
    AllowList(Vec<String>),
    /// Any origin, and none. Only for tests and tools (bots) on a trusted
    /// network: it lets any web page use a participant's token.
    AnyOriginInsecure,
}

impl OriginPolicy {
    /// An allow-list.
    pub fn allow<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        OriginPolicy::AllowList(origins.into_iter().map(Into::into).collect())
    }

    /// Whether a session request with this `Origin` header is allowed.
    pub fn allows(&self, origin: Option<&str>) -> bool {
        match self {
            OriginPolicy::AnyOriginInsecure => true,
            OriginPolicy::AllowList(list) => {
                origin.is_some_and(|o| list.iter().any(|allowed| allowed == o))
            }
        }
    }
}

/// How one frame is pushed into its subscribers' queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanoutMode {
    /// A plain loop on the session's router task.
    Sequential,
    /// rayon's `par_iter` on the SFU's fan-out pool.
    Rayon,
    /// rayon only for frames with at least this many deliveries.
    Auto {
        /// Threshold.
        min_deliveries: usize,
    },
}

/// The QUIC congestion controller of the media endpoint's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Congestion {
    /// BBR (model-based: bottleneck bandwidth and round-trip time). Random
    /// loss does not shrink its rate, so 1-3 % loss on Wi-Fi or a phone
    /// link still carries the stage's video.
    #[default]
    Bbr,
    /// CUBIC, quinn's default: loss-based, backs off on every lost packet.
    Cubic,
    /// NewReno: loss-based, the simplest.
    NewReno,
}

impl std::str::FromStr for Congestion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bbr" => Ok(Congestion::Bbr),
            "cubic" => Ok(Congestion::Cubic),
            "newreno" => Ok(Congestion::NewReno),
            other => Err(format!(
                "unknown congestion controller {other:?} (bbr, cubic, newreno)"
            )),
        }
    }
}

impl std::fmt::Display for Congestion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Congestion::Bbr => "bbr",
            Congestion::Cubic => "cubic",
            Congestion::NewReno => "newreno",
        })
    }
}

/// Everything [`start`](crate::start) needs.
#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// UDP address to listen on; port 0 picks a free port (see [`SfuHandle::local_addr`](crate::SfuHandle::local_addr)).
    pub bind: SocketAddr,
    /// The UDP port browsers reach the server at, when a NAT, a container or
    /// a load balancer maps it to another than the bound one; `None`: the
    /// bound port. It goes into [`SfuHandle::session_url`](crate::SfuHandle::session_url).
    pub public_port: Option<u16>,
    /// The TLS certificate.
    pub certificate: CertificateConfig,
    /// Allowed page origins.
    pub origins: OriginPolicy,
    /// Verifies join tokens (the app signs them with the same key).
    pub token_key: JoinTokenKey,
    /// Open a live session when the first valid token for it arrives, instead
    /// of refusing it until [`SfuHandle::open_session`](crate::SfuHandle::open_session).
    /// For load tests against a bare server; keep `false` in the app.
    pub auto_open_sessions: bool,
    /// Limits and policies of each session's router.
    pub router: RouterConfig,
    /// A client that sends nothing for this long is gone (QUIC idle timeout).
    pub idle_timeout: Duration,
    /// The server sends keep-alives this often, so live but idle clients stay.
    pub keep_alive: Duration,
    /// Time a client has to send a valid `Hello` (PROTOCOL.md §1: 10 s).
    pub hello_timeout: Duration,
    /// QUIC send window per connection: bytes written but not yet acknowledged.
    /// Kept small so a subscriber's backlog stays in the SFU's queue, where it is
    /// measured and acted on, instead of deep inside QUIC.
    pub send_window: u64,
    /// Hard cap of bytes queued for one subscriber; frames beyond it are dropped
    /// (the router's backlog policy normally acts long before).
    pub subscriber_queue_limit: u64,
    /// How often each subscriber's link (queued bytes, RTT, congestion window,
    /// sent bytes, loss) is reported to the router (queued bytes also on
    /// crossing a threshold).
    pub backlog_report_interval: Duration,
    /// QUIC's buffer for outgoing datagrams (audio) per connection; when it is
    /// full the oldest are dropped, so audio waits at most about this much
    /// divided by the link's rate (quinn's default, 1 MiB, is seconds of audio
    /// on a thin link).
    pub datagram_send_buffer: usize,
    /// A video group's stream that is finished (superseded by a newer group)
    /// but not fully delivered this long after is reset: its frames are late
    /// and retransmitting them only delays the new group.
    pub stale_group_timeout: Duration,
    /// Sequential or rayon fan-out.
    pub fanout: FanoutMode,
    /// The congestion controller of every connection (BBR by default).
    pub congestion: Congestion,
    /// UDP sockets receiving on the media port, with `SO_REUSEPORT` when more
    /// than one: each gets its own endpoint, so receiving, decrypting and
    /// routing packets spreads over cores by client. 1 (the default): one
    /// socket, and clients may migrate (QUIC connection migration).
    pub receive_sockets: usize,
    /// Audio levels: decode one Opus frame in this many per track.
    pub audio_level_every: u32,
    /// Thumbnails: decode at most one keyframe per track this often.
    pub thumbnail_interval: Duration,
}

impl SfuConfig {
    /// Defaults around the three things every deployment sets.
    pub fn new(bind: SocketAddr, token_key: JoinTokenKey, origins: OriginPolicy) -> Self {
        Self {
            bind,
            public_port: None,
            certificate: CertificateConfig::default(),
            origins,
            token_key,
            auto_open_sessions: false,
            router: RouterConfig::default(),
            idle_timeout: Duration::from_secs(20),
            keep_alive: Duration::from_secs(4),
            hello_timeout: Duration::from_secs(10),
            send_window: 256 * 1024,
            subscriber_queue_limit: 4 * 1024 * 1024,
            backlog_report_interval: Duration::from_millis(100),
            datagram_send_buffer: 16 * 1024,
            stale_group_timeout: Duration::from_millis(500),
            fanout: FanoutMode::Sequential,
            congestion: Congestion::default(),
            receive_sockets: 1,
            audio_level_every: 5,
            thumbnail_interval: Duration::from_secs(5),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_policy_table() {
        let list = OriginPolicy::allow(["https://podium.example.org"]);
        let table = [
            (&list, Some("https://podium.example.org"), true),
            (&list, Some("https://podium.example.org:443"), false),
            (&list, Some("https://evil.example"), false),
            (&list, Some("null"), false),
            (&list, None, false),
        ];
        for (policy, origin, want) in table {
            assert_eq!(policy.allows(origin), want, "{origin:?}");
        }
        assert!(!OriginPolicy::allow(Vec::<String>::new()).allows(Some("https://a")));
        assert!(OriginPolicy::AnyOriginInsecure.allows(None));
    }
}
