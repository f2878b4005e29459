//! The command line (clap): `serve` (the default), `config check`,
//! `admin create-user|backup|restore`, `--version`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, ConfigError, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "podium",
    version,
    about = "Podium: live interactive sessions, self-hosted in one binary",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `podium` alone serves, with these flags.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Administrative tasks on the data directory (beside a running server,
    /// except restore).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Measure the media engine under the reference loads (a benchmark, not a test).
    Loadtest(LoadtestArgs),
    /// Internal: the raw-QUIC fan-out server `loadtest --baseline` measures against.
    #[command(hide = true)]
    BaselineServer,
}

#[derive(Debug, Clone, Args)]
pub struct LoadtestArgs {
    /// full-session (50 people, 10 publishing), breakouts (10 rooms of 5, all publishing) or all.
    #[arg(long, default_value = "all")]
    pub scenario: String,
    /// Seconds measured per run.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Also run the same load through a plain QUIC fan-out (the physical reference).
    #[arg(long)]
    pub baseline: bool,
    /// Print one JSON object per run instead of the table.
    #[arg(long)]
    pub json: bool,
    /// How the bots carry media to the SFU: webtransport (QUIC, UDP) or
    /// websocket (TCP, on the app's HTTP port).
    #[arg(long, default_value = "webtransport", value_parser = ["webtransport", "websocket"])]
    pub transport: String,
    /// A running Podium (its http(s) URL) instead of a `podium serve` child. It
    /// must share the join-token key (`PODIUM_MEDIA_TOKEN_KEY`, passed here with
    /// --token-key) and have an admin account (--admin-email, password in
    /// PODIUM_ADMIN_PASSWORD).
    #[arg(long, value_name = "URL", requires_all = ["token_key", "admin_email"])]
    pub target: Option<String>,
    #[arg(long, value_name = "HEX")]
    pub token_key: Option<String>,
    #[arg(long, value_name = "EMAIL")]
    pub admin_email: Option<String>,
    /// Run through a simulated network (needs root): the server in its own
    /// network namespace behind a veth pair, the bots' UDP through a link
    /// simulator: comma-separated delay=20ms, loss=1%, rate=6mbit (each
    /// participant's own link), queue=100ms, mtu=1500; `clean` for none.
    #[arg(long, value_name = "SPEC")]
    pub netem: Option<String>,
    /// With --netem: one subscriber's link differs from the others' by
    /// these keys, e.g. --slow rate=300kbit.
    #[arg(long, value_name = "SPEC")]
    pub slow: Option<String>,
    /// Full sessions run at once on one server, one run per number, e.g.
    /// 1,2,3,4: per-session figures and where it stops holding.
    #[arg(long, value_name = "LIST")]
    pub sessions: Option<String>,
    /// The server's QUIC congestion controller: bbr, cubic or newreno.
    #[arg(long, default_value = "bbr")]
    pub congestion: String,
    /// UDP sockets the server receives media on, sharing the port with
    /// SO_REUSEPORT (1: one socket, as `podium serve` runs by default).
    #[arg(long, default_value_t = 1)]
    pub receive_sockets: usize,
    /// Publish one quality per camera (no 320x180 simulcast track beside
    /// the 640x360 one), as before simulcast, for comparisons.
    #[arg(long)]
    pub no_simulcast: bool,
}

#[derive(Debug, Default, Clone, Args)]
pub struct ServeArgs {
    /// TOML configuration file (see config.example.toml). Without it, built-in defaults.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (overrides server.data_dir).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// HTTP listen address (overrides server.http_addr).
    #[arg(long, value_name = "ADDR")]
    pub http_addr: Option<String>,
    /// QUIC/WebTransport listen address (overrides server.quic_addr).
    #[arg(long, value_name = "ADDR")]
    pub quic_addr: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Parse and validate a config file, then print the effective settings.
    Check {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account; the password is asked for without echo on a
    /// terminal, or read from standard input.
    CreateUser(CreateUserArgs),
    /// List users, change their flags or set a new password (the server may
    /// keep running: the store is shared through redb's own file locking).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Write a consistent copy of the store to FILE (the server may keep running).
    Backup(BackupArgs),
    /// Check a backup FILE and install it as the store (stop the server first;
    /// the current store is kept as podium.redb.before-restore-<time>).
    Restore(BackupArgs),
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Every account: id, email, name, flags, when it was created.
    List(StoreArgs),
    /// Make a user an administrator (`--off` takes it back; the last admin stays).
    SetAdmin(FlagArgs),
    /// Give a user premium membership (`--off` takes it back).
    SetPremium(FlagArgs),
    /// Set a user's password (asked for without echo on a terminal, or read
    /// from standard input) and sign them out everywhere.
    ResetPassword(UserArgs),
    /// Invite EMAIL to create an account (for invite-only communities): the
    /// link goes out through the outbox, sent by the running server (within
    /// a minute) or the next one started.
    Invite(InviteArgs),
}

/// Whom to invite.
#[derive(Debug, Args)]
pub struct InviteArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(value_name = "EMAIL")]
    pub email: String,
}

/// Where the store is.
#[derive(Debug, Args)]
pub struct StoreArgs {
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// One user, by email or id.
#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The user's email or numeric id.
    #[arg(value_name = "USER")]
    pub user: String,
}

/// One user and whether to set or clear a flag.
#[derive(Debug, Args)]
pub struct FlagArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The user's email or numeric id.
    #[arg(value_name = "USER")]
    pub user: String,
    /// Clear the flag instead of setting it.
    #[arg(long)]
    pub off: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub name: String,
    /// Make the account an administrator.
    #[arg(long)]
    pub admin: bool,
    /// Give the account premium membership.
    #[arg(long)]
    pub premium: bool,
}

impl ServeArgs {
    /// Defaults, then the file, then the flags.
    pub fn resolve(&self) -> Result<Config, ConfigError> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        Overrides {
            data_dir: self.data_dir.clone(),
            http_addr: self.http_addr.clone(),
            quic_addr: self.quic_addr.clone(),
        }
        .apply(&mut config)?;
        Ok(config)
    }
}
