//! Configuration: one TOML file parsed into [`RawConfig`] (serde, unknown keys
//! refused) and validated into the typed [`Config`] the rest of the app uses.
//!
//! Precedence: command-line flags > the TOML file > built-in defaults. Flags are
//! applied by [`Overrides::apply`] after the file is validated, so a default can
//! never overwrite a value the file set.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// A configuration problem, naming the key and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

/// The file as written, every field optional. Unknown keys are an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub community: RawCommunity,
    #[serde(default)]
    pub features: RawFeatures,
    #[serde(default)]
    pub accounts: RawAccounts,
    #[serde(default)]
    pub sessions: RawSessions,
    #[serde(default)]
    pub mail: RawMail,
    #[serde(default)]
    pub live: RawLive,
    #[serde(default)]
    pub backup: RawBackup,
    #[serde(default)]
    pub metrics: RawMetrics,
}

/// `[metrics]`: a bearer token keeps `/metrics` private. Debug never shows it.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub token: Option<String>,
    /// A file holding the token (its first line), instead of the file.
    pub token_file: Option<PathBuf>,
}

impl std::fmt::Debug for RawMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawMetrics")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .finish()
    }
}

/// `/metrics` is open unless `token` is set; then it needs
/// `Authorization: Bearer <token>`. Debug never shows the token.
#[derive(Clone, Default)]
pub struct MetricsConfig {
    pub token: Option<String>,
}

impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackup {
    pub dir: Option<PathBuf>,
    pub every_hours: Option<u64>,
    pub keep: Option<u64>,
}

/// Scheduled backups (`[backup]`): off unless `dir` is set.
#[derive(Debug, Clone)]
pub struct BackupConfig {
    pub dir: Option<PathBuf>,
    pub every: Duration,
    pub keep: usize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLive {
    pub start_lead_minutes: Option<u64>,
    pub stage_speakers: Option<u64>,
    pub stage_guests: Option<u64>,
    pub countdown_seconds: Option<u64>,
    pub leave_grace_seconds: Option<u64>,
    pub video_max_mb: Option<u64>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    pub waitlist_claim_hours: Option<u64>,
}

/// Debug never shows `smtp_password`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMail {
    pub from: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_security: Option<String>,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
    /// A file holding the password (its first line), instead of the file.
    pub smtp_password_file: Option<PathBuf>,
}

impl std::fmt::Debug for RawMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawMail")
            .field("from", &self.from)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_security", &self.smtp_security)
            .field("smtp_username", &self.smtp_username)
            .field(
                "smtp_password",
                &self.smtp_password.as_ref().map(|_| "<redacted>"),
            )
            .field("smtp_password_file", &self.smtp_password_file)
            .finish()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub data_dir: Option<PathBuf>,
    pub http_addr: Option<String>,
    pub quic_addr: Option<String>,
    pub quic_public_port: Option<i64>,
    pub public_url: Option<String>,
    pub max_body_bytes: Option<u64>,
    pub shutdown_grace_seconds: Option<u64>,
    pub trusted_proxies: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommunity {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub physical_address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeatures {
    pub members_can_create_sessions: Option<bool>,
    pub premium_required_for_presenting: Option<bool>,
    pub premium_required_for_hosting: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccounts {
    pub session_days: Option<u64>,
    pub signin_failures_per_account: Option<u32>,
    pub signin_failures_per_ip: Option<u32>,
    pub signin_window_minutes: Option<u64>,
    pub signups_per_ip: Option<u32>,
    pub signup_window_minutes: Option<u64>,
    pub password_hash_workers: Option<u64>,
    pub password_hash_queue: Option<u64>,
    pub verify_email: Option<bool>,
    pub open_signup: Option<bool>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub community: CommunityConfig,
    pub features: Features,
    pub accounts: AccountsConfig,
    pub sessions: SessionsConfig,
    pub mail: MailConfig,
    pub live: LiveConfig,
    pub backup: BackupConfig,
    pub metrics: MetricsConfig,
}

#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub settings: crate::domain::live::LiveSettings,
    /// How long a vanished browser keeps its place before it leaves the room.
    pub leave_grace: std::time::Duration,
    /// The largest video a speaker may upload (`live.video_max_mb`, at most 500 MB).
    pub video_max_bytes: u64,
    /// A certificate (PEM chain + key) for WebTransport; `None`: self-signed, rotated.
    pub tls: Option<(PathBuf, PathBuf)>,
}

#[derive(Debug, Clone)]
pub struct SessionsConfig {
    /// How long a freed place is held for the next person on the waitlist.
    pub waitlist_claim: jiff::SignedDuration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP (only for a relay on the same machine or a test sink).
    None,
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

/// Debug never shows `smtp_password` (configs get logged and printed).
#[derive(Clone)]
pub struct MailConfig {
    /// `Name <address>` or a bare address.
    pub from: String,
    /// `None`: mails are written as `.eml` files into `<data_dir>/mail`.
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    pub smtp_security: SmtpSecurity,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("from", &self.from)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_security", &self.smtp_security)
            .field("smtp_username", &self.smtp_username)
            .field(
                "smtp_password",
                &self.smtp_password.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub http_addr: SocketAddr,
    pub quic_addr: SocketAddr,
    /// The UDP port browsers reach the media engine at when a NAT, a
    /// container or a load balancer maps `quic_addr`'s port to another;
    /// `None`: `quic_addr`'s bound port. Goes into the WebTransport URL and
    /// the Content-Security-Policy.
    pub quic_public_port: Option<u16>,
    /// The origin people type in their browser, e.g. `https://talks.example.org`.
    /// `None` means "whatever Host the request came with" (local use).
    pub public_url: Option<String>,
    pub max_body_bytes: usize,
    pub shutdown_grace: Duration,
    /// Peers whose `X-Forwarded-For` names the client (a reverse proxy).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

#[derive(Debug, Clone)]
pub struct CommunityConfig {
    pub name: String,
    pub time_zone: jiff::tz::TimeZone,
    pub time_zone_name: String,
    pub physical_address: String,
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Features {
    pub members_can_create_sessions: bool,
    pub premium_required_for_presenting: bool,
    pub premium_required_for_hosting: bool,
}

#[derive(Debug, Clone)]
pub struct AccountsConfig {
    pub session_lifetime: Duration,
    pub signin_failures_per_account: u32,
    pub signin_failures_per_ip: u32,
    pub signin_window: Duration,
    /// Sign-up attempts allowed per client address within `signup_window`.
    pub signups_per_ip: u32,
    pub signup_window: Duration,
    /// Password hashes computed at once (0: one per CPU).
    pub password_hash_workers: usize,
    /// Password hashes that may wait for a worker; more are refused (503).
    pub password_hash_queue: usize,
    /// Members confirm their email (the mailed link) before they may
    /// register for sessions.
    pub verify_email: bool,
    /// Anyone may sign up; false: only with an admin's invitation.
    pub open_signup: bool,
}

pub const DEFAULT_DATA_DIR: &str = "./podium-data";
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_QUIC_ADDR: &str = "127.0.0.1:8443";

impl Default for Config {
    fn default() -> Self {
        Self::from_raw(RawConfig::default()).expect("built-in defaults are valid")
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_owned(),
                message,
            },
            other => other,
        })
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<text>"),
            message: e.to_string().trim_end().to_owned(),
        })?;
        Self::from_raw(raw)
    }

    /// Validates a raw config, filling in defaults.
    pub fn from_raw(raw: RawConfig) -> Result<Self, ConfigError> {
        let s = raw.server;
        let server = ServerConfig {
            trusted_proxies: Vec::new(),
            data_dir: s
                .data_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            http_addr: parse_addr(
                "server.http_addr",
                s.http_addr.as_deref().unwrap_or(DEFAULT_HTTP_ADDR),
            )?,
            quic_addr: parse_addr(
                "server.quic_addr",
                s.quic_addr.as_deref().unwrap_or(DEFAULT_QUIC_ADDR),
            )?,
            quic_public_port: s
                .quic_public_port
                .map(|p| {
                    u16::try_from(p).ok().filter(|p| *p != 0).ok_or_else(|| {
                        invalid(
                            "server.quic_public_port",
                            format!("{p} is not a UDP port: give the port people reach, 1..=65535 (leave it out to use quic_addr's)"),
                        )
                    })
                })
                .transpose()?,
            public_url: s
                .public_url
                .map(|u| parse_public_url("server.public_url", &u))
                .transpose()?,
            max_body_bytes: match s.max_body_bytes.unwrap_or(64 * 1024) {
                n @ 1024..=16_777_216 => n as usize,
                n => {
                    return Err(invalid(
                        "server.max_body_bytes",
                        format!("{n} is outside 1024..=16777216"),
                    ));
                }
            },
            shutdown_grace: Duration::from_secs(match s.shutdown_grace_seconds.unwrap_or(10) {
                n @ 0..=300 => n,
                n => {
                    return Err(invalid(
                        "server.shutdown_grace_seconds",
                        format!("{n} is more than 300"),
                    ));
                }
            }),
        };
        let trusted_proxies = s
            .trusted_proxies
            .unwrap_or_else(|| vec!["127.0.0.1".into(), "::1".into()])
            .iter()
            .map(|p| {
                p.parse().map_err(|_| {
                    invalid(
                        "server.trusted_proxies",
                        format!("`{p}` is not an IP address"),
                    )
                })
            })
            .collect::<Result<Vec<std::net::IpAddr>, _>>()?;
        let server = ServerConfig {
            trusted_proxies,
            ..server
        };
        if server.data_dir.as_os_str().is_empty() {
            return Err(invalid("server.data_dir", "must not be empty"));
        }

        let c = raw.community;
        let name = c.name.unwrap_or_else(|| "Podium".to_owned());
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(invalid(
                "community.name",
                "must be between 1 and 80 characters",
            ));
        }
        let time_zone_name = c.time_zone.unwrap_or_else(|| "UTC".to_owned());
        let time_zone = jiff::tz::TimeZone::get(&time_zone_name).map_err(|_| {
            invalid(
                "community.time_zone",
                format!("`{time_zone_name}` is not an IANA time zone name (e.g. Europe/Berlin)"),
            )
        })?;
        let community = CommunityConfig {
            name,
            time_zone,
            time_zone_name,
            physical_address: c.physical_address.unwrap_or_default(),
        };

        let f = raw.features;
        let features = Features {
            members_can_create_sessions: f.members_can_create_sessions.unwrap_or(false),
            premium_required_for_presenting: f.premium_required_for_presenting.unwrap_or(false),
            premium_required_for_hosting: f.premium_required_for_hosting.unwrap_or(true),
        };

        let a = raw.accounts;
        let accounts = AccountsConfig {
            session_lifetime: Duration::from_secs(
                86_400
                    * in_range(
                        "accounts.session_days",
                        a.session_days.unwrap_or(30),
                        1,
                        365,
                    )?,
            ),
            signin_failures_per_account: in_range(
                "accounts.signin_failures_per_account",
                a.signin_failures_per_account.unwrap_or(5),
                1,
                1000,
            )?,
            signin_failures_per_ip: in_range(
                "accounts.signin_failures_per_ip",
                a.signin_failures_per_ip.unwrap_or(50),
                1,
                100_000,
            )?,
            signin_window: Duration::from_secs(
                60 * in_range(
                    "accounts.signin_window_minutes",
                    a.signin_window_minutes.unwrap_or(15),
                    1,
                    1440,
                )?,
            ),
            signups_per_ip: in_range(
                "accounts.signups_per_ip",
                a.signups_per_ip.unwrap_or(10),
                1,
                1_000_000,
            )?,
            signup_window: Duration::from_secs(
                60 * in_range(
                    "accounts.signup_window_minutes",
                    a.signup_window_minutes.unwrap_or(60),
                    1,
                    10_080,
                )?,
            ),
            password_hash_workers: in_range(
                "accounts.password_hash_workers",
                a.password_hash_workers.unwrap_or(0),
                0,
                256,
            )? as usize,
            password_hash_queue: in_range(
                "accounts.password_hash_queue",
                a.password_hash_queue.unwrap_or(32),
                0,
                10_000,
            )? as usize,
            verify_email: a.verify_email.unwrap_or(false),
            open_signup: a.open_signup.unwrap_or(true),
        };

        let sessions = SessionsConfig {
            waitlist_claim: jiff::SignedDuration::from_hours(in_range(
                "sessions.waitlist_claim_hours",
                raw.sessions.waitlist_claim_hours.unwrap_or(12),
                1,
                168,
            )? as i64),
        };

        let m = raw.mail;
        let from = m.from.unwrap_or_else(|| {
            lettre::message::Mailbox::new(
                Some(community.name.clone()),
                "noreply@podium.invalid".parse().expect("valid address"),
            )
            .to_string()
        });
        if from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid(
                "mail.from",
                format!("`{from}` is not an address like `Community <noreply@example.org>`"),
            ));
        }
        let smtp_security = match m.smtp_security.as_deref().unwrap_or("starttls") {
            "none" => SmtpSecurity::None,
            "starttls" => SmtpSecurity::StartTls,
            "tls" => SmtpSecurity::Tls,
            other => {
                return Err(invalid(
                    "mail.smtp_security",
                    format!("`{other}` must be one of none, starttls, tls"),
                ));
            }
        };
        let smtp_host = m.smtp_host.filter(|h| !h.trim().is_empty());
        let default_port = match smtp_security {
            SmtpSecurity::None => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
        };
        // The password: inline, from a file, or from the environment.
        let env_password = std::env::var("PODIUM_SMTP_PASSWORD")
            .ok()
            .filter(|p| !p.is_empty());
        let smtp_password = match (m.smtp_password, m.smtp_password_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "mail.smtp_password_file",
                    "set smtp_password or smtp_password_file, not both",
                ));
            }
            (None, Some(file)) => {
                let text = std::fs::read_to_string(&file).map_err(|e| {
                    invalid(
                        "mail.smtp_password_file",
                        format!("cannot read {}: {e}", file.display()),
                    )
                })?;
                let first = text.lines().next().unwrap_or("").to_owned();
                if first.is_empty() {
                    return Err(invalid(
                        "mail.smtp_password_file",
                        format!("{} is empty", file.display()),
                    ));
                }
                Some(first)
            }
            (inline, None) => env_password.or(inline),
        };
        if m.smtp_username.is_some() != smtp_password.is_some() {
            return Err(invalid(
                "mail.smtp_username",
                "set both smtp_username and smtp_password, or neither",
            ));
        }
        let mail = MailConfig {
            from,
            smtp_host,
            smtp_port: m.smtp_port.unwrap_or(default_port),
            smtp_security,
            smtp_username: m.smtp_username,
            smtp_password,
        };

        let l = raw.live;
        let tls = match (l.tls_cert, l.tls_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "live.tls_cert",
                    "set both tls_cert and tls_key, or neither (a self-signed certificate is made then)",
                ));
            }
        };
        let live = LiveConfig {
            settings: crate::domain::live::LiveSettings {
                start_lead: jiff::SignedDuration::from_mins(in_range(
                    "live.start_lead_minutes",
                    l.start_lead_minutes.unwrap_or(15),
                    0,
                    120,
                )? as i64),
                stage_speakers: in_range(
                    "live.stage_speakers",
                    l.stage_speakers.unwrap_or(4),
                    1,
                    10,
                )? as usize,
                stage_guests: in_range("live.stage_guests", l.stage_guests.unwrap_or(6), 0, 10)?
                    as usize,
                countdown: jiff::SignedDuration::from_secs(in_range(
                    "live.countdown_seconds",
                    l.countdown_seconds.unwrap_or(5),
                    0,
                    30,
                )? as i64),
                ..Default::default()
            },
            leave_grace: std::time::Duration::from_secs(in_range(
                "live.leave_grace_seconds",
                l.leave_grace_seconds.unwrap_or(30),
                0,
                300,
            )?),
            video_max_bytes: in_range(
                "live.video_max_mb",
                l.video_max_mb.unwrap_or(500),
                1,
                crate::domain::live::VIDEO_MAX_BYTES / (1024 * 1024),
            )? * 1024
                * 1024,
            tls,
        };

        let b = raw.backup;
        let backup = BackupConfig {
            dir: b.dir,
            every: Duration::from_secs(
                3600 * in_range("backup.every_hours", b.every_hours.unwrap_or(24), 1, 24 * 7)?,
            ),
            keep: in_range("backup.keep", b.keep.unwrap_or(7), 1, 1000)? as usize,
        };

        let env_token = std::env::var("PODIUM_METRICS_TOKEN")
            .ok()
            .filter(|t| !t.is_empty());
        let token = match (raw.metrics.token, raw.metrics.token_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "metrics.token_file",
                    "set token or token_file, not both",
                ));
            }
            (None, Some(file)) => {
                let text = std::fs::read_to_string(&file).map_err(|e| {
                    invalid(
                        "metrics.token_file",
                        format!("cannot read {}: {e}", file.display()),
                    )
                })?;
                Some(text.lines().next().unwrap_or("").trim().to_owned())
            }
            (inline, None) => env_token.or(inline),
        };
        if let Some(t) = &token
            && (t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(invalid(
                "metrics.token",
                "must be at least 16 printable characters without spaces",
            ));
        }
        let metrics = MetricsConfig { token };

        Ok(Config {
            server,
            community,
            features,
            accounts,
            sessions,
            mail,
            live,
            backup,
            metrics,
        })
    }

    /// What would stop this configuration from working on a real server,
    /// beyond the syntax `parse` checks: files that are missing or
    /// unreadable, and the documentation's placeholders (names under
    /// example.org and friends can never resolve). All of them at once.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some((cert, key)) = &self.live.tls {
            for (k, path) in [("live.tls_cert", cert), ("live.tls_key", key)] {
                if let Err(e) = std::fs::File::open(path) {
                    out.push(format!(
                        "config key `{k}`: cannot read {}: {e}",
                        path.display()
                    ));
                }
            }
        }
        let placeholder = |host: &str| {
            let h = host.trim_end_matches('.').to_ascii_lowercase();
            [
                "example.org",
                "example.com",
                "example.net",
                "invalid",
                "test",
                "example",
            ]
            .iter()
            .any(|d| h == *d || h.ends_with(&format!(".{d}")))
        };
        if let Some(host) = &self.mail.smtp_host
            && placeholder(host)
        {
            out.push(format!(
                "config key `mail.smtp_host`: `{host}` is a placeholder name that never resolves; set your mail server, or remove smtp_host to write mails into {}/mail",
                self.server.data_dir.display()
            ));
        }
        if self.mail.smtp_password.as_deref() == Some("change me") {
            out.push("config key `mail.smtp_password`: still the example's `change me`".to_owned());
        }
        if let Some(url) = &self.server.public_url
            && let Some(host) = url
                .split("://")
                .nth(1)
                .map(|r| r.split(':').next().unwrap_or(r))
            && placeholder(host)
        {
            out.push(format!(
                "config key `server.public_url`: `{url}` is a placeholder; set the address people open"
            ));
        }
        out
    }

    /// Where the redb file lives.
    pub fn db_path(&self) -> PathBuf {
        self.server.data_dir.join("podium.redb")
    }
}

fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    key: &'static str,
    v: T,
    lo: T,
    hi: T,
) -> Result<T, ConfigError> {
    if v < lo || v > hi {
        return Err(invalid(key, format!("{v} is outside {lo}..={hi}")));
    }
    Ok(v)
}

fn parse_addr(key: &'static str, s: &str) -> Result<SocketAddr, ConfigError> {
    s.parse().map_err(|_| {
        invalid(
            key,
            format!("`{s}` is not an IP address with a port, like 127.0.0.1:8080"),
        )
    })
}

fn parse_public_url(key: &'static str, s: &str) -> Result<String, ConfigError> {
    let trimmed = s.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| invalid(key, format!("`{s}` must start with http:// or https://")))?;
    if rest.is_empty() || rest.contains('/') || rest.contains(char::is_whitespace) {
        return Err(invalid(
            key,
            format!("`{s}` must be an origin like https://talks.example.org (no path)"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// Values given on the command line; each one set replaces the file's value.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub http_addr: Option<String>,
    pub quic_addr: Option<String>,
}

impl Overrides {
    pub fn apply(&self, config: &mut Config) -> Result<(), ConfigError> {
        if let Some(d) = &self.data_dir {
            config.server.data_dir = d.clone();
        }
        if let Some(a) = &self.http_addr {
            config.server.http_addr = parse_addr("--http-addr", a)?;
        }
        if let Some(a) = &self.quic_addr {
            config.server.quic_addr = parse_addr("--quic-addr", a)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smtp_password_may_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "from-the-file\nignored\n").unwrap();
        let text = format!(
            "[mail]\nsmtp_host = \"127.0.0.1\"\nsmtp_username = \"u\"\nsmtp_password_file = {:?}\n",
            f.display().to_string()
        );
        let c = Config::parse(&text).unwrap();
        assert_eq!(c.mail.smtp_password.as_deref(), Some("from-the-file"));
        let both = format!("{text}smtp_password = \"x\"\n");
        let err = Config::parse(&both).unwrap_err().to_string();
        assert!(err.contains("not both"), "{err}");
        std::fs::write(&f, "").unwrap();
        let err = Config::parse(&text).unwrap_err().to_string();
        assert!(err.contains("is empty"), "{err}");
    }

    #[test]
    fn the_metrics_token_is_checked_and_never_shown() {
        let c = Config::parse("[metrics]\ntoken = \"s3cret-metrics-token\"\n").unwrap();
        assert_eq!(c.metrics.token.as_deref(), Some("s3cret-metrics-token"));
        assert!(!format!("{c:?}").contains("s3cret"), "{c:?}");
        for bad in ["short", "has a space in the token"] {
            let err = Config::parse(&format!("[metrics]\ntoken = {bad:?}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("metrics.token"), "{err}");
        }
        let err = Config::parse("[metrics]\ntoken_file = \"/nonexistent/token\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("metrics.token_file"), "{err}");
    }

    #[test]
    fn the_example_file_is_the_defaults() {
        let example = Config::parse(include_str!("../config.example.toml")).unwrap();
        let default = Config::default();
        assert_eq!(format!("{example:?}"), format!("{default:?}"));
        assert!(example.problems().is_empty(), "{:?}", example.problems());
    }

    #[test]
    fn debug_output_never_shows_the_smtp_password() {
        let text = "[mail]\nsmtp_host = \"smtp.example.org\"\nsmtp_username = \"podium\"\nsmtp_password = \"hunter2-secret\"\n";
        let raw: RawConfig = toml::from_str(text).unwrap();
        let shown = format!("{raw:?} {:?}", Config::parse(text).unwrap());
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.server.data_dir, PathBuf::from("./podium-data"));
        assert_eq!(c.server.http_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.server.quic_addr.to_string(), "127.0.0.1:8443");
        assert_eq!(c.community.name, "Podium");
        assert!(!c.features.premium_required_for_presenting);
    }

    #[test]
    fn errors_name_the_key() {
        let cases: &[(&str, &str)] = &[
            ("[server]\nhttp_adr = \"x\"", "http_adr"),
            ("[server]\nhttp_addr = \"localhost\"", "server.http_addr"),
            ("[server]\nquic_addr = \"1.2.3.4\"", "server.quic_addr"),
            ("[server]\npublic_url = \"ftp://x\"", "server.public_url"),
            (
                "[server]\npublic_url = \"https://x/a\"",
                "server.public_url",
            ),
            ("[server]\nmax_body_bytes = 10", "server.max_body_bytes"),
            (
                "[community]\ntime_zone = \"Mars/Olympus\"",
                "community.time_zone",
            ),
            ("[community]\nname = \"  \"", "community.name"),
            (
                "[features]\npremium_required_for_hosting = \"yes\"",
                "premium_required_for_hosting",
            ),
            ("[accounts]\nsession_days = 0", "accounts.session_days"),
            ("[nonsense]\na = 1", "nonsense"),
            (
                "[sessions]\nwaitlist_claim_hours = 0",
                "sessions.waitlist_claim_hours",
            ),
            ("[mail]\nfrom = \"not an address\"", "mail.from"),
            ("[mail]\nsmtp_security = \"ssl\"", "mail.smtp_security"),
            ("[mail]\nsmtp_username = \"u\"", "mail.smtp_username"),
            ("[live]\nstage_guests = 11", "live.stage_guests"),
            ("[live]\ntls_cert = \"/x.pem\"", "live.tls_cert"),
        ];
        for (text, key) in cases {
            let err = Config::parse(text).expect_err(text).to_string();
            assert!(
                err.contains(key),
                "{text:?} gave {err:?}, expected it to name {key}"
            );
        }
    }

    #[test]
    fn quic_public_port_is_a_port_people_reach() {
        assert_eq!(Config::default().server.quic_public_port, None);
        let c = Config::parse("[server]\nquic_public_port = 443").unwrap();
        assert_eq!(c.server.quic_public_port, Some(443));
        let c = Config::parse("[server]\nquic_public_port = 65535").unwrap();
        assert_eq!(c.server.quic_public_port, Some(65535));
        for bad in ["0", "65536", "-1", "4294967297"] {
            let text = format!("[server]\nquic_public_port = {bad}");
            let err = Config::parse(&text).expect_err(&text).to_string();
            assert!(
                err.contains("server.quic_public_port")
                    && err.contains(&format!("{bad} is not a UDP port"))
                    && err.contains("1..=65535"),
                "{text:?} gave {err:?}"
            );
        }
        let err = Config::parse("[server]\nquic_public_port = \"443\"")
            .expect_err("a string")
            .to_string();
        assert!(err.contains("quic_public_port"), "{err}");
    }

    #[test]
    fn flags_override_file_and_defaults_never_clobber_file() {
        let mut c =
            Config::parse("[server]\nhttp_addr = \"127.0.0.1:9000\"\ndata_dir = \"/srv/p\"")
                .unwrap();
        Overrides::default().apply(&mut c).unwrap();
        assert_eq!(c.server.http_addr.to_string(), "127.0.0.1:9000");
        assert_eq!(c.server.data_dir, PathBuf::from("/srv/p"));
        let o = Overrides {
            http_addr: Some("127.0.0.1:9100".into()),
            ..Default::default()
        };
        o.apply(&mut c).unwrap();
        assert_eq!(c.server.http_addr.to_string(), "127.0.0.1:9100");
        assert_eq!(c.server.data_dir, PathBuf::from("/srv/p"));
    }
}
