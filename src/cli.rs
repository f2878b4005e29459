//! The command line (clap): `serve` (the default), `config check`,
//! `admin create-user`, `--version`.

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
    /// Administrative tasks on the data directory (the server may be stopped).
    #[command(subcommand)]
    Admin(AdminCommand),
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
    /// Create an account; the password is read from standard input.
    CreateUser(CreateUserArgs),
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
