//! The `podium` command: a thin shell over the library.

use std::io::Read;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{CommandFactory, FromArgMatches};
use podium::cli::{
    AdminCommand, BackupArgs, Cli, Command, ConfigCommand, CreateUserArgs, ServeArgs,
};
use podium::clock::{Clock, SystemClock};
use podium::domain::accounts as rules;
use podium::store::{NewUser, Store};

fn main() -> anyhow::Result<()> {
    // `--version` also names the codec libraries linked into this binary.
    let version: &'static str = podium::version_long().leak();
    let matches = Cli::command().version(version).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "podium=info,warn".into()),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Config(ConfigCommand::Check { file })) => {
            let config = podium::config::Config::load(&file)?;
            let mut problems = config.problems();
            if let Some((cert, key)) = &config.live.tls
                && cert.exists()
                && key.exists()
            {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                if let Err(e) = rt.block_on(podium_media::cert::check_files(cert, key)) {
                    problems.push(format!("config key `live.tls_cert`: {e}"));
                }
            }
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("{p}");
                }
                bail!(
                    "{}: {} problem{} found",
                    file.display(),
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                );
            }
            println!("{}: OK", file.display());
            println!("  data dir:   {}", config.server.data_dir.display());
            println!("  HTTP:       {}", config.server.http_addr);
            println!("  QUIC:       {} (UDP)", config.server.quic_addr);
            println!(
                "  community:  {} ({})",
                config.community.name, config.community.time_zone_name
            );
            Ok(())
        }
        Some(Command::Admin(AdminCommand::CreateUser(args))) => create_user(args),
        Some(Command::Admin(AdminCommand::Backup(args))) => backup(args),
        Some(Command::Admin(AdminCommand::Restore(args))) => restore(args),
        Some(Command::Loadtest(args)) => podium::loadtest::run(args),
        Some(Command::BaselineServer) => podium::loadtest::baseline_server(),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.resolve()?;
    let config_data = config.server.data_dir.clone();
    let config_mail = config
        .mail
        .smtp_host
        .as_ref()
        .map(|h| format!("{h}:{}", config.mail.smtp_port));
    let problems = config.problems();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let server = podium::app::start(config, Arc::new(SystemClock)).await?;
        println!(
            "Podium is running. Open {} in your browser.",
            server.base_url
        );
        if let Some(url) = &server.setup_url {
            println!("No administrator exists yet. Create one with this one-time link:\n  {url}");
        }
        println!(
            "Data: {} (back it up with `podium admin backup FILE`).",
            config_data.display()
        );
        match &config_mail {
            Some(host) => println!("Mail goes to the SMTP server {host}."),
            None => println!(
                "Mail is written as .eml files into {}/mail (no [mail] smtp_host set).",
                config_data.display()
            ),
        }
        for p in &problems {
            println!("Warning: {p}");
        }
        println!("Press Ctrl+C to stop.");
        server.run_until(shutdown_signal()).await
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

fn create_user(args: CreateUserArgs) -> anyhow::Result<()> {
    let config = ServeArgs {
        config: args.config.clone(),
        data_dir: args.data_dir.clone(),
        ..Default::default()
    }
    .resolve()?;
    let email = rules::normalize_email(&args.email)?;
    let name = rules::validate_name(&args.name)?;
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\n', '\r']).to_owned();
    rules::validate_password(&password)?;
    let store = Store::open_beside_server(&config.server.data_dir)?;
    let user = match store.create_user(
        NewUser {
            email,
            name,
            password_hash: rules::hash_password(&password),
            is_admin: args.admin,
            is_premium: args.premium,
        },
        SystemClock.now(),
    ) {
        Ok(u) => u,
        Err(podium::store::StoreError::Rule(e)) => bail!("{e}"),
        Err(e) => return Err(e.into()),
    };
    println!(
        "Created user {} ({}{}).",
        user.id,
        if user.is_admin { "admin" } else { "member" },
        if user.is_premium { ", premium" } else { "" }
    );
    Ok(())
}

fn data_dir_of(
    config: &Option<std::path::PathBuf>,
    data_dir: &Option<std::path::PathBuf>,
) -> anyhow::Result<std::path::PathBuf> {
    Ok(ServeArgs {
        config: config.clone(),
        data_dir: data_dir.clone(),
        ..Default::default()
    }
    .resolve()?
    .server
    .data_dir)
}

fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let dir = data_dir_of(&args.config, &args.data_dir)?;
    if !dir.join("podium.redb").exists() {
        bail!("there is no store in {} to back up", dir.display());
    }
    let store = Store::open_beside_server(&dir)?;
    let report = store.backup_to(&args.file)?;
    println!(
        "Backed up {} to {}: {report}.",
        dir.display(),
        args.file.display()
    );
    Ok(())
}

fn restore(args: BackupArgs) -> anyhow::Result<()> {
    let dir = data_dir_of(&args.config, &args.data_dir)?;
    let (report, kept) = podium::store::restore(&dir, &args.file)?;
    println!(
        "Restored {} into {}: {report}.",
        args.file.display(),
        dir.display()
    );
    if let Some(kept) = kept {
        println!("The store it replaced is kept as {}.", kept.display());
    }
    Ok(())
}
