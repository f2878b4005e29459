//! The `podium` command: a thin shell over the library.

use std::io::Read;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{CommandFactory, FromArgMatches};
use podium::cli::{
    AdminCommand, BackupArgs, Cli, Command, ConfigCommand, CreateUserArgs, ServeArgs, StoreArgs,
    UsersCommand,
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
            match config.server.quic_public_port {
                Some(port) => println!(
                    "  QUIC:       {} (UDP), reached at port {port}",
                    config.server.quic_addr
                ),
                None => println!("  QUIC:       {} (UDP)", config.server.quic_addr),
            }
            println!(
                "  community:  {} ({})",
                config.community.name, config.community.time_zone_name
            );
            Ok(())
        }
        Some(Command::Admin(AdminCommand::CreateUser(args))) => create_user(args),
        Some(Command::Admin(AdminCommand::Users(cmd))) => users(cmd),
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
    let password = read_password("Password for the new account: ")?;
    rules::validate_password(&password)?;
    let store = Store::open_beside_server(&config.server.data_dir)?;
    let user = match store.create_user(
        NewUser {
            email,
            name,
            password_hash: rules::hash_password(&password),
            is_admin: args.admin,
            is_premium: args.premium,
            // The operator vouches for the address.
            email_verified: true,
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

/// A password: asked for without echo when standard input is a terminal,
/// else read from it (up to the end, one trailing line break dropped).
fn read_password(prompt: &str) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(prompt).context("reading the password")?;
        let again = rpassword::prompt_password("Again: ").context("reading the password")?;
        if first != again {
            bail!("the two passwords differ; nothing was changed");
        }
        return Ok(first);
    }
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from standard input")?;
    Ok(password.trim_end_matches(['\n', '\r']).to_owned())
}

/// `admin users …`: through redb's own locking beside a running server
/// (`Store::open_beside_server`); a running server sees the change at the
/// next request, since it reads the user at every request.
fn users(cmd: UsersCommand) -> anyhow::Result<()> {
    let store_of = |a: &StoreArgs| -> anyhow::Result<Store> {
        let dir = data_dir_of(&a.config, &a.data_dir)?;
        if !dir.join("podium.redb").exists() {
            bail!("there is no store in {}", dir.display());
        }
        Ok(Store::open_beside_server(&dir)?)
    };
    let find = |store: &Store, user: &str| -> anyhow::Result<podium::store::User> {
        let found = match user.parse::<u64>() {
            Ok(id) => match store.user(id) {
                Ok(u) => Some(u),
                Err(podium::store::StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
            Err(_) => store.user_by_email(&user.trim().to_lowercase())?,
        };
        match found {
            Some(u) if u.deleted_at.is_none() => Ok(u),
            _ => bail!("no user {user:?} (give an email or an id from `podium admin users list`)"),
        }
    };
    let rule = |e: podium::store::StoreError| -> anyhow::Error {
        match e {
            podium::store::StoreError::Rule(e) => anyhow::anyhow!("{e}"),
            e => e.into(),
        }
    };
    match cmd {
        UsersCommand::List(a) => {
            let store = store_of(&a)?;
            let users = store.users()?;
            println!(
                "{:>6}  {:<32}  {:<24}  {:<24}  created",
                "id", "email", "name", "flags"
            );
            for u in &users {
                let mut flags = Vec::new();
                if u.deleted_at.is_some() {
                    flags.push("deleted");
                }
                if u.is_admin {
                    flags.push("admin");
                }
                if u.is_premium {
                    flags.push("premium");
                }
                if u.deleted_at.is_none() && u.email_verified_at.is_none() {
                    flags.push("unconfirmed");
                }
                let flags = if flags.is_empty() {
                    "-".to_owned()
                } else {
                    flags.join(",")
                };
                println!(
                    "{:>6}  {:<32}  {:<24}  {:<24}  {}",
                    u.id,
                    if u.email.is_empty() { "-" } else { &u.email },
                    u.name,
                    flags,
                    u.created_at.strftime("%Y-%m-%d %H:%M UTC")
                );
            }
            let deleted = users.iter().filter(|u| u.deleted_at.is_some()).count();
            println!(
                "{} accounts{}.",
                users.len() - deleted,
                if deleted > 0 {
                    format!(" (and {deleted} deleted, marked)")
                } else {
                    String::new()
                }
            );
        }
        UsersCommand::Invite(a) => {
            let config = ServeArgs {
                config: a.store.config.clone(),
                data_dir: a.store.data_dir.clone(),
                ..Default::default()
            }
            .resolve()?;
            let store = store_of(&a.store)?;
            let email = rules::normalize_email(&a.email)?;
            let base_url = config
                .server
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", config.server.http_addr));
            let from: lettre::message::Mailbox = config.mail.from.parse().context("mail.from")?;
            let ctx = podium::mail::MailContext::new(&config, &base_url, from.email.to_string());
            let now = SystemClock.now();
            let token = podium::util::random_token();
            let link = format!("{base_url}/signup?invitation={token}");
            let mail = podium::mail::invitation(&ctx, &email, "An administrator", &link, now);
            let inv = store
                .create_invitation(
                    &email,
                    &podium::util::sha256(token.as_bytes()),
                    0,
                    now + rules::INVITATION_LIFETIME,
                    mail,
                    now,
                )
                .map_err(rule)?;
            println!(
                "Invited {} (invitation {}); the link works once, until {}.",
                inv.email,
                inv.id,
                inv.expires_at.strftime("%Y-%m-%d %H:%M UTC")
            );
        }
        UsersCommand::SetAdmin(a) => {
            let store = store_of(&a.store)?;
            let u = find(&store, &a.user)?;
            let update = podium::store::UserUpdate {
                is_admin: Some(!a.off),
                ..Default::default()
            };
            let u = store.update_user(u.id, update).map_err(rule)?;
            println!(
                "{} ({}) is {}an admin.",
                u.name,
                u.email,
                if u.is_admin { "" } else { "no longer " }
            );
        }
        UsersCommand::SetPremium(a) => {
            let store = store_of(&a.store)?;
            let u = find(&store, &a.user)?;
            let update = podium::store::UserUpdate {
                is_premium: Some(!a.off),
                ..Default::default()
            };
            let u = store.update_user(u.id, update).map_err(rule)?;
            println!(
                "{} ({}) is {}premium.",
                u.name,
                u.email,
                if u.is_premium { "" } else { "no longer " }
            );
        }
        UsersCommand::ResetPassword(a) => {
            let store = store_of(&a.store)?;
            let u = find(&store, &a.user)?;
            let password = read_password(&format!("New password for {}: ", u.email))?;
            rules::validate_password(&password)?;
            store
                .change_password(u.id, rules::hash_password(&password), None)
                .map_err(rule)?;
            println!(
                "Set a new password for {} ({}); they are signed out everywhere.",
                u.name, u.email
            );
        }
    }
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
