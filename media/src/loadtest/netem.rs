//! A userspace link simulator for the impaired-network benchmark
//! (`podium loadtest --netem`): a UDP relay that carries each client's flow
//! to the server and back with a one-way delay, random loss, a rate limit
//! with a bounded queue (a token bucket like `tc tbf`), and an MTU.
//!
//! Why userspace: the kernel this project is measured on has no `sch_netem`
//! (`tc qdisc add ... netem` answers "Specified qdisc kind is unknown"), and
//! it cannot be loaded from here. The relay applies the same model per
//! packet: loss first, then the rate queue (drop when the queue would hold
//! more than `queue` of sending time), then the delay. Each client flow (its
//! UDP source address) gets its own shaper, so `rate` is each participant's
//! own access link, and delay and loss apply in both directions.
//!
//! A flow keeps the link it got when its first packet arrived; the link for
//! flows that start later can be changed while the relay runs
//! ([`Relay::set_link_for_new_flows`]), so one client can be put on a thin
//! link and the others not (the browser test of a throttled page does this).

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// IPv4 + UDP header bytes: a datagram's payload may be at most `mtu - 28`.
const UDP_IPV4_OVERHEAD: usize = 28;

/// One direction of a simulated link.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LinkSpec {
    /// One-way delay added to every packet.
    #[serde(serialize_with = "ser_ms")]
    pub delay: Duration,
    /// Probability that a packet is lost (0..=1), each packet on its own.
    pub loss: f64,
    /// The link's rate in bits per second (none: unlimited).
    pub rate_bps: Option<u64>,
    /// The most sending time the rate queue holds; a packet that would wait
    /// longer is dropped (tail drop). Only with `rate`.
    #[serde(serialize_with = "ser_ms")]
    pub queue: Duration,
    /// IP MTU: datagrams larger than `mtu - 28` bytes are dropped.
    pub mtu: u16,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

impl Default for LinkSpec {
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            loss: 0.0,
            rate_bps: None,
            queue: Duration::from_millis(100),
            mtu: 1500,
        }
    }
}

/// A link spec that could not be read, with what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LinkSpecError(String);

fn err<T>(msg: impl Into<String>) -> Result<T, LinkSpecError> {
    Err(LinkSpecError(msg.into()))
}

fn parse_duration(key: &str, v: &str) -> Result<Duration, LinkSpecError> {
    let (num, scale) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1.0)
    } else {
        return err(format!(
            "{key}={v}: give a unit, e.g. {key}=20ms (us, ms or s)"
        ));
    };
    let x: f64 = num
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| LinkSpecError(format!("{key}={v}: not a non-negative number")))?;
    let d = Duration::from_secs_f64(x * scale);
    if d > Duration::from_secs(10) {
        return err(format!("{key}={v}: at most 10s"));
    }
    Ok(d)
}

fn parse_rate(v: &str) -> Result<u64, LinkSpecError> {
    let lower = v.to_ascii_lowercase();
    let (num, scale) = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1.0)]
        .into_iter()
        .find_map(|(unit, scale)| lower.strip_suffix(unit).map(|n| (n, scale)))
        .ok_or_else(|| {
            LinkSpecError(format!(
                "rate={v}: give bits per second with a unit, e.g. rate=300kbit (bit, kbit, mbit, gbit)"
            ))
        })?;
    let x: f64 = num
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite())
        .ok_or_else(|| LinkSpecError(format!("rate={v}: not a number")))?;
    let bps = x * scale;
    if !(1000.0..=100e9).contains(&bps) {
        return err(format!("rate={v}: must be between 1kbit and 100gbit"));
    }
    Ok(bps as u64)
}

impl LinkSpec {
    /// Reads `key=value` pairs separated by commas over `self` (later keys
    /// win over the base; a key twice in one spec is an error):
    /// `delay=20ms`, `loss=1%`, `rate=300kbit`, `queue=100ms`, `mtu=1500`.
    /// `clean` (or nothing) changes nothing.
    pub fn parse_over(mut self, spec: &str) -> Result<Self, LinkSpecError> {
        let spec = spec.trim();
        if spec.is_empty() || spec == "clean" {
            return Ok(self);
        }
        let mut seen: Vec<&str> = Vec::new();
        for part in spec.split(',') {
            let part = part.trim();
            let Some((key, value)) = part.split_once('=') else {
                return err(format!(
                    "{part:?}: expected key=value (delay, loss, rate, queue, mtu), e.g. delay=20ms,loss=1%"
                ));
            };
            let (key, value) = (key.trim(), value.trim());
            if seen.contains(&key) {
                return err(format!("{key} is given twice"));
            }
            seen.push(key);
            match key {
                "delay" => self.delay = parse_duration(key, value)?,
                "queue" => {
                    self.queue = parse_duration(key, value)?;
                    if self.queue.is_zero() {
                        return err("queue=0: the queue must hold at least one packet's time");
                    }
                }
                "loss" => {
                    let Some(n) = value.strip_suffix('%') else {
                        return err(format!("loss={value}: give a percentage, e.g. loss=1%"));
                    };
                    let p: f64 = n
                        .parse()
                        .ok()
                        .filter(|p: &f64| (0.0..=100.0).contains(p))
                        .ok_or_else(|| {
                            LinkSpecError(format!("loss={value}: must be between 0% and 100%"))
                        })?;
                    self.loss = p / 100.0;
                }
                "rate" => self.rate_bps = Some(parse_rate(value)?),
                "mtu" => {
                    self.mtu = value
                        .parse()
                        .ok()
                        .filter(|m| (576..=9000).contains(m))
                        .ok_or_else(|| {
                            LinkSpecError(format!("mtu={value}: must be between 576 and 9000"))
                        })?;
                }
                other => {
                    return err(format!(
                        "unknown key {other:?} (delay, loss, rate, queue, mtu)"
                    ));
                }
            }
        }
        Ok(self)
    }

    /// The largest UDP payload that fits the MTU.
    pub fn max_payload(&self) -> usize {
        usize::from(self.mtu) - UDP_IPV4_OVERHEAD
    }
}

impl FromStr for LinkSpec {
    type Err = LinkSpecError;

    fn from_str(s: &str) -> Result<Self, LinkSpecError> {
        LinkSpec::default().parse_over(s)
    }
}

impl fmt::Display for LinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mtu={}", self.mtu)?;
        if !self.delay.is_zero() {
            write!(f, ",delay={}ms", self.delay.as_secs_f64() * 1000.0)?;
        }
        if self.loss > 0.0 {
            write!(f, ",loss={}%", self.loss * 100.0)?;
        }
        if let Some(r) = self.rate_bps {
            if r % 1_000_000 == 0 {
                write!(f, ",rate={}mbit", r / 1_000_000)?;
            } else {
                write!(f, ",rate={}kbit", r as f64 / 1000.0)?;
            }
            write!(f, ",queue={}ms", self.queue.as_millis())?;
        }
        Ok(())
    }
}

/// What happened to a packet offered to a [`Shaper`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it at this time.
    SendAt(Instant),
    /// Lost at random.
    Lost,
    /// The rate queue was full.
    QueueFull,
    /// Larger than the MTU.
    TooBig,
}

/// One direction of one flow: decides when each packet leaves.
#[derive(Debug)]
pub struct Shaper {
    spec: LinkSpec,
    /// When the link finishes sending what it accepted so far.
    busy_until: Instant,
}

impl Shaper {
    /// A shaper with an idle link.
    pub fn new(spec: LinkSpec, now: Instant) -> Self {
        Self {
            spec,
            busy_until: now,
        }
    }

    /// The fate of a packet of `len` bytes arriving at `now`; `coin` is a
    /// uniform random number in [0, 1) for the loss decision.
    pub fn offer(&mut self, now: Instant, len: usize, coin: f64) -> Verdict {
        if len > self.spec.max_payload() {
            return Verdict::TooBig;
        }
        if coin < self.spec.loss {
            return Verdict::Lost;
        }
        let leaves = match self.spec.rate_bps {
            None => now,
            Some(bps) => {
                let start = self.busy_until.max(now);
                if start - now > self.spec.queue {
                    return Verdict::QueueFull;
                }
                let on_wire = (len + UDP_IPV4_OVERHEAD) as f64 * 8.0 / bps as f64;
                self.busy_until = start + Duration::from_secs_f64(on_wire);
                self.busy_until
            }
        };
        Verdict::SendAt(leaves + self.spec.delay)
    }
}

/// Packet counts of a relay, both directions.
#[derive(Debug, Default)]
pub struct RelayCounters {
    /// Packets offered (both directions).
    pub packets: AtomicU64,
    /// Packets delivered.
    pub delivered: AtomicU64,
    /// Lost at random.
    pub lost: AtomicU64,
    /// Dropped by a full rate queue.
    pub queue_drops: AtomicU64,
    /// Dropped for the MTU.
    pub too_big: AtomicU64,
    /// Client flows seen.
    pub flows: AtomicU64,
    /// Server-to-client packets offered, and their bytes (UDP payload).
    pub down_packets: AtomicU64,
    /// See `down_packets`.
    pub down_bytes: AtomicU64,
}

/// A snapshot of [`RelayCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RelayStats {
    /// Packets offered (both directions).
    pub packets: u64,
    /// Packets delivered.
    pub delivered: u64,
    /// Lost at random.
    pub lost: u64,
    /// Dropped by a full rate queue.
    pub queue_drops: u64,
    /// Dropped for the MTU.
    pub too_big: u64,
    /// Client flows seen.
    pub flows: u64,
    /// Server-to-client packets offered.
    pub down_packets: u64,
    /// Their bytes (UDP payload).
    pub down_bytes: u64,
}

impl RelayCounters {
    /// The counts now.
    pub fn snapshot(&self) -> RelayStats {
        RelayStats {
            packets: self.packets.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            lost: self.lost.load(Relaxed),
            queue_drops: self.queue_drops.load(Relaxed),
            too_big: self.too_big.load(Relaxed),
            flows: self.flows.load(Relaxed),
            down_packets: self.down_packets.load(Relaxed),
            down_bytes: self.down_bytes.load(Relaxed),
        }
    }

    fn count(&self, v: Verdict) {
        self.packets.fetch_add(1, Relaxed);
        match v {
            Verdict::SendAt(_) => &self.delivered,
            Verdict::Lost => &self.lost,
            Verdict::QueueFull => &self.queue_drops,
            Verdict::TooBig => &self.too_big,
        }
        .fetch_add(1, Relaxed);
    }
}

/// One client flow of a relay: who, on which link, and its own counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FlowStats {
    /// The client's UDP address.
    pub client: SocketAddr,
    /// The link the flow got when it started (both directions).
    pub link: LinkSpec,
    /// This flow's packet counts.
    pub stats: RelayStats,
}

/// What the relay's tasks share with its handle: the link new flows get and
/// the flows so far.
#[derive(Debug)]
struct Links {
    for_new_flows: Mutex<LinkSpec>,
    flows: Mutex<Vec<(SocketAddr, LinkSpec, Arc<RelayCounters>)>>,
}

/// A running relay: clients send to [`local_addr`](Self::local_addr), each
/// client flow reaches `upstream` from its own socket. Stops when dropped.
#[derive(Debug)]
pub struct Relay {
    local_addr: SocketAddr,
    counters: Arc<RelayCounters>,
    links: Arc<Links>,
    task: JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// Starts a relay on the current tokio runtime: listens on `listen`,
    /// forwards each client flow to `upstream` from a socket bound to
    /// `upstream_bind` (port 0), through `spec` in both directions.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        upstream_bind: IpAddr,
        spec: LinkSpec,
    ) -> io::Result<Relay> {
        let socket = UdpSocket::bind(listen).await?;
        Self::start_on(socket, upstream, upstream_bind, spec)
    }

    /// Like [`start`](Self::start) on a socket bound already: its port can be
    /// handed out (e.g. as a server's public QUIC port) before the upstream
    /// is known. Needs a tokio runtime.
    pub fn start_on(
        socket: UdpSocket,
        upstream: SocketAddr,
        upstream_bind: IpAddr,
        spec: LinkSpec,
    ) -> io::Result<Relay> {
        let local_addr = socket.local_addr()?;
        let counters = Arc::new(RelayCounters::default());
        let links = Arc::new(Links {
            for_new_flows: Mutex::new(spec),
            flows: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(accept_loop(
            Arc::new(socket),
            upstream,
            upstream_bind,
            links.clone(),
            counters.clone(),
        ));
        Ok(Relay {
            local_addr,
            counters,
            links,
            task,
        })
    }

    /// Where clients send.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The counts so far (all flows).
    pub fn stats(&self) -> RelayStats {
        self.counters.snapshot()
    }

    /// The link flows whose first packet arrives from now on get; flows
    /// already running keep theirs.
    pub fn set_link_for_new_flows(&self, spec: LinkSpec) {
        *lock(&self.links.for_new_flows) = spec;
    }

    /// Every client flow so far, in the order they started.
    pub fn flows(&self) -> Vec<FlowStats> {
        lock(&self.links.flows)
            .iter()
            .map(|(client, link, counters)| FlowStats {
                client: *client,
                link: *link,
                stats: counters.snapshot(),
            })
            .collect()
    }
}

/// The relay's locks guard plain values, so a panic elsewhere cannot leave
/// them half-changed: a poisoned lock is used as it is.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The relay's counters and one flow's: each verdict counts in both.
#[derive(Debug, Clone)]
struct Counts {
    all: Arc<RelayCounters>,
    flow: Arc<RelayCounters>,
}

impl Counts {
    fn count(&self, v: Verdict) {
        self.all.count(v);
        self.flow.count(v);
    }

    fn down(&self, bytes: usize) {
        for c in [&self.all, &self.flow] {
            c.down_packets.fetch_add(1, Relaxed);
            c.down_bytes.fetch_add(bytes as u64, Relaxed);
        }
    }
}

type Packet = (Instant, Bytes);

/// Sends each packet at its time, in order (a flow's times never decrease:
/// the delay is constant and the rate queue is first in, first out).
async fn sender(
    socket: Arc<UdpSocket>,
    to: Option<SocketAddr>,
    mut rx: mpsc::UnboundedReceiver<Packet>,
) {
    while let Some((at, bytes)) = rx.recv().await {
        if at > Instant::now() {
            tokio::time::sleep_until(at).await;
        }
        let sent = match to {
            Some(to) => socket.send_to(&bytes, to).await,
            None => socket.send(&bytes).await,
        };
        if let Err(e) = sent {
            tracing::debug!("relay: send failed: {e}");
        }
    }
}

struct Flow {
    up: Shaper,
    counts: Counts,
    tx: mpsc::UnboundedSender<Packet>,
    _tasks: [JoinHandle<()>; 2],
}

impl Drop for Flow {
    fn drop(&mut self) {
        for t in &self._tasks {
            t.abort();
        }
    }
}

async fn accept_loop(
    socket: Arc<UdpSocket>,
    upstream: SocketAddr,
    upstream_bind: IpAddr,
    links: Arc<Links>,
    counters: Arc<RelayCounters>,
) {
    let mut flows: HashMap<SocketAddr, Flow> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                // ICMP errors surface here on some systems; keep relaying.
                tracing::debug!("relay: receive failed: {e}");
                continue;
            }
        };
        let now = Instant::now();
        let flow = match flows.entry(from) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let spec = *lock(&links.for_new_flows);
                let counts = Counts {
                    all: counters.clone(),
                    flow: Arc::new(RelayCounters::default()),
                };
                match open_flow(&socket, from, upstream, upstream_bind, spec, counts.clone()).await
                {
                    Ok(flow) => {
                        counters.flows.fetch_add(1, Relaxed);
                        counts.flow.flows.fetch_add(1, Relaxed);
                        lock(&links.flows).push((from, spec, counts.flow));
                        e.insert(flow)
                    }
                    Err(err) => {
                        tracing::warn!("relay: cannot open a flow for {from}: {err}");
                        continue;
                    }
                }
            }
        };
        let v = flow.up.offer(now, n, rand::random::<f64>());
        flow.counts.count(v);
        if let Verdict::SendAt(at) = v {
            let _ = flow.tx.send((at, Bytes::copy_from_slice(&buf[..n])));
        }
    }
}

async fn open_flow(
    client_side: &Arc<UdpSocket>,
    client: SocketAddr,
    upstream: SocketAddr,
    upstream_bind: IpAddr,
    spec: LinkSpec,
    counts: Counts,
) -> io::Result<Flow> {
    let server_side = Arc::new(UdpSocket::bind(SocketAddr::new(upstream_bind, 0)).await?);
    server_side.connect(upstream).await?;
    let (up_tx, up_rx) = mpsc::unbounded_channel();
    let (down_tx, down_rx) = mpsc::unbounded_channel();
    let up_sender = tokio::spawn(sender(server_side.clone(), None, up_rx));
    let down_socket = client_side.clone();
    let down_counts = counts.clone();
    let down = tokio::spawn(async move {
        let _sender = AbortOnDrop(tokio::spawn(sender(down_socket, Some(client), down_rx)));
        let mut shaper = Shaper::new(spec, Instant::now());
        let mut buf = vec![0u8; 65_536];
        loop {
            let n = match server_side.recv(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!("relay: receive from the server failed: {e}");
                    continue;
                }
            };
            let v = shaper.offer(Instant::now(), n, rand::random::<f64>());
            down_counts.count(v);
            down_counts.down(n);
            if let Verdict::SendAt(at) = v {
                let _ = down_tx.send((at, Bytes::copy_from_slice(&buf[..n])));
            }
        }
    });
    Ok(Flow {
        up: Shaper::new(spec, Instant::now()),
        counts,
        tx: up_tx,
        _tasks: [up_sender, down],
    })
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_read_as_written() {
        let s: LinkSpec = "delay=20ms,loss=1%,rate=6mbit".parse().unwrap();
        assert_eq!(s.delay, Duration::from_millis(20));
        assert!((s.loss - 0.01).abs() < 1e-12);
        assert_eq!(s.rate_bps, Some(6_000_000));
        assert_eq!(s.mtu, 1500);
        assert_eq!(s.queue, Duration::from_millis(100));
        let s: LinkSpec = " delay = 1.5s , queue=250ms, rate=300kbit, mtu=1280, loss=0.5% "
            .parse()
            .unwrap();
        assert_eq!(s.delay, Duration::from_millis(1500));
        assert_eq!(s.queue, Duration::from_millis(250));
        assert_eq!(s.rate_bps, Some(300_000));
        assert_eq!(s.mtu, 1280);
        assert!((s.loss - 0.005).abs() < 1e-12);
        assert_eq!("clean".parse::<LinkSpec>().unwrap(), LinkSpec::default());
        assert_eq!("".parse::<LinkSpec>().unwrap(), LinkSpec::default());
        // Overrides: the slow subscriber's link over the base link.
        let base: LinkSpec = "delay=20ms,loss=1%".parse().unwrap();
        let slow = base.parse_over("rate=300kbit").unwrap();
        assert_eq!(slow.delay, Duration::from_millis(20));
        assert_eq!(slow.rate_bps, Some(300_000));
        assert_eq!(
            slow.to_string(),
            "mtu=1500,delay=20ms,loss=1%,rate=300kbit,queue=100ms"
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let cases = [
            ("delay=20", "give a unit"),
            ("delay=-5ms", "not a non-negative number"),
            ("delay=11s", "at most 10s"),
            ("loss=1", "give a percentage"),
            ("loss=101%", "between 0% and 100%"),
            ("loss=abc%", "between 0% and 100%"),
            ("rate=300", "give bits per second with a unit"),
            ("rate=300kbps", "give bits per second with a unit"),
            ("rate=0kbit", "between 1kbit and 100gbit"),
            ("rate=xmbit", "not a number"),
            ("mtu=100", "between 576 and 9000"),
            ("queue=0ms", "at least one packet"),
            ("jitter=5ms", "unknown key \"jitter\""),
            ("delay=20ms,delay=30ms", "delay is given twice"),
            ("delay", "expected key=value"),
            ("delay=20ms,,loss=1%", "expected key=value"),
        ];
        for (spec, want) in cases {
            let e = spec.parse::<LinkSpec>().unwrap_err().to_string();
            assert!(e.contains(want), "{spec}: {e} (wanted {want:?})");
        }
    }

    #[test]
    fn the_shaper_delays_drops_and_queues() {
        let t0 = Instant::now();
        let spec: LinkSpec = "delay=20ms,rate=1mbit,queue=10ms".parse().unwrap();
        let mut s = Shaper::new(spec, t0);
        // 1222 bytes + 28 of headers = 10 kbit = 10 ms at 1 Mbit/s.
        assert_eq!(
            s.offer(t0, 1222, 0.5),
            Verdict::SendAt(t0 + Duration::from_millis(30))
        );
        assert_eq!(
            s.offer(t0, 1222, 0.5),
            Verdict::SendAt(t0 + Duration::from_millis(40))
        );
        // The queue now holds 20 ms of sending: more than 10 ms, dropped.
        assert_eq!(s.offer(t0, 1222, 0.5), Verdict::QueueFull);
        // Once the link drained, packets pass again.
        let later = t0 + Duration::from_millis(20);
        assert_eq!(
            s.offer(later, 1222, 0.5),
            Verdict::SendAt(later + Duration::from_millis(30))
        );
        assert_eq!(s.offer(later, 1473, 0.5), Verdict::TooBig);
        let lossy: LinkSpec = "loss=3%".parse().unwrap();
        let mut s = Shaper::new(lossy, t0);
        assert_eq!(s.offer(t0, 100, 0.02), Verdict::Lost);
        assert_eq!(s.offer(t0, 100, 0.03), Verdict::SendAt(t0));
    }

    #[tokio::test]
    async fn the_relay_carries_both_ways_with_its_delay() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let spec: LinkSpec = "delay=30ms".parse().unwrap();
        let relay = Relay::start(
            "127.0.0.1:0".parse().unwrap(),
            server.local_addr().unwrap(),
            "127.0.0.1".parse().unwrap(),
            spec,
        )
        .await
        .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let sent = Instant::now();
        client.send_to(b"ping", relay.local_addr()).await.unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ping");
        assert!(sent.elapsed() >= Duration::from_millis(30));
        server.send_to(b"pong", from).await.unwrap();
        let (n, _) = client.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"pong");
        assert!(sent.elapsed() >= Duration::from_millis(60));
        // Too big for the 1500-byte MTU: dropped and counted.
        client
            .send_to(&[0u8; 1473], relay.local_addr())
            .await
            .unwrap();
        client.send_to(b"after", relay.local_addr()).await.unwrap();
        let (n, _) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"after");
        let stats = relay.stats();
        assert_eq!((stats.flows, stats.too_big), (1, 1));
        assert_eq!(stats.delivered, 3);
    }

    #[tokio::test]
    async fn only_flows_started_after_the_switch_get_the_new_link() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let listen = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay::start_on(
            listen,
            server.local_addr().unwrap(),
            "127.0.0.1".parse().unwrap(),
            LinkSpec::default(),
        )
        .unwrap();
        let mut buf = [0u8; 64];
        let first = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        first.send_to(b"one", relay.local_addr()).await.unwrap();
        let (n, _) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"one");

        // Flows from now on lose everything; the first flow keeps its link.
        let cut: LinkSpec = "loss=100%".parse().unwrap();
        relay.set_link_for_new_flows(cut);
        let second = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        second.send_to(b"lost", relay.local_addr()).await.unwrap();
        first.send_to(b"two", relay.local_addr()).await.unwrap();
        let (n, _) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"two", "the second flow's packet is lost");

        let flows = relay.flows();
        assert_eq!(flows.len(), 2);
        assert_eq!(flows[0].client, first.local_addr().unwrap());
        assert_eq!(flows[0].link, LinkSpec::default());
        assert_eq!((flows[0].stats.delivered, flows[0].stats.lost), (2, 0));
        assert_eq!(flows[1].client, second.local_addr().unwrap());
        assert_eq!(flows[1].link, cut);
        assert_eq!((flows[1].stats.delivered, flows[1].stats.lost), (0, 1));
        let all = relay.stats();
        assert_eq!((all.flows, all.delivered, all.lost), (2, 2, 1));
    }
}
