//! The `podium` binary itself: version, config check, serve in an empty
//! directory with built-in defaults, admin create-user, flag precedence.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use podium::cli::ServeArgs;

fn podium() -> Command {
    Command::new(env!("CARGO_BIN_EXE_podium"))
}

#[test]
fn version_names_the_linked_codecs() {
    let out = podium().arg("--version").output().unwrap();
    assert!(out.status.success());
    let v = String::from_utf8(out.stdout).unwrap();
    assert!(v.starts_with("podium 0."), "{v}");
    assert!(v.contains("libopus") && v.contains("dav1d"), "{v}");
}

#[test]
fn config_check_accepts_the_example_and_names_bad_keys() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml");
    let out = podium()
        .args(["config", "check", example])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[community]\ntime_zone = \"Nowhere/Special\"\n").unwrap();
    let out = podium()
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("community.time_zone") && err.contains("Nowhere/Special"),
        "{err}"
    );
    std::fs::write(&bad, "[server]\nhttp_port = 80\n").unwrap();
    let out = podium()
        .args(["serve", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "an unknown key stops the server at start-up"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("http_port"));
}

#[test]
fn config_check_shows_the_quic_public_port_and_refuses_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("podium.toml");
    std::fs::write(
        &file,
        "[server]\nquic_addr = \"0.0.0.0:8443\"\nquic_public_port = 443\n",
    )
    .unwrap();
    let out = podium()
        .args(["config", "check"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("QUIC:       0.0.0.0:8443 (UDP), reached at port 443"),
        "{shown}"
    );
    for bad in ["0", "70000", "-443"] {
        std::fs::write(&file, format!("[server]\nquic_public_port = {bad}\n")).unwrap();
        for args in [&["config", "check"][..], &["serve", "--config"][..]] {
            let out = podium().args(args).arg(&file).output().unwrap();
            assert!(!out.status.success(), "{args:?} with {bad}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("server.quic_public_port")
                    && err.contains(&format!("{bad} is not a UDP port")),
                "{args:?} with {bad}: {err}"
            );
        }
    }
}

#[test]
fn config_check_reports_every_problem_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("podium.toml");
    std::fs::write(
        &file,
        "[mail]\nsmtp_host = \"smtp.example.org\"\nsmtp_username = \"u\"\nsmtp_password = \"change me\"\n\
         [live]\ntls_cert = \"/nonexistent/fullchain.pem\"\ntls_key = \"/nonexistent/privkey.pem\"\n",
    )
    .unwrap();
    let out = podium()
        .args(["config", "check"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "`live.tls_cert`: cannot read /nonexistent/fullchain.pem",
        "`live.tls_key`: cannot read /nonexistent/privkey.pem",
        "`mail.smtp_host`: `smtp.example.org` is a placeholder",
        "`mail.smtp_password`: still the example's `change me`",
        "4 problems found",
    ] {
        assert!(err.contains(want), "missing {want:?} in {err}");
    }
    // Certificate files that exist but are not PEM.
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert, "not a certificate").unwrap();
    std::fs::write(&key, "not a key").unwrap();
    std::fs::write(
        &file,
        format!(
            "[live]\ntls_cert = {:?}\ntls_key = {:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        ),
    )
    .unwrap();
    let out = podium()
        .args(["config", "check"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`live.tls_cert`") && err.contains("1 problem found"),
        "{err}"
    );
    // The password from a file, never from the config text.
    let secret = dir.path().join("smtp-password");
    std::fs::write(&secret, "s3cret-from-file\n").unwrap();
    std::fs::write(
        &file,
        format!(
            "[mail]\nsmtp_host = \"127.0.0.1\"\nsmtp_username = \"u\"\nsmtp_password_file = {:?}\n",
            secret.display().to_string()
        ),
    )
    .unwrap();
    let out = podium()
        .args(["config", "check"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        &file,
        "[mail]\nsmtp_host = \"127.0.0.1\"\nsmtp_username = \"u\"\nsmtp_password_file = \"/nonexistent/pw\"\n",
    )
    .unwrap();
    let out = podium()
        .args(["config", "check"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("`mail.smtp_password_file`: cannot read /nonexistent/pw")
    );
}

#[test]
fn flags_override_the_file_and_defaults_never_clobber_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("podium.toml");
    std::fs::write(
        &file,
        "[server]\ndata_dir = \"/from/file\"\nhttp_addr = \"127.0.0.1:9001\"\n",
    )
    .unwrap();
    let only_file = ServeArgs {
        config: Some(file.clone()),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(only_file.server.data_dir.to_str(), Some("/from/file"));
    assert_eq!(only_file.server.http_addr.to_string(), "127.0.0.1:9001");
    assert_eq!(
        only_file.server.quic_addr.to_string(),
        "127.0.0.1:8443",
        "default where the file is silent"
    );
    let flags = ServeArgs {
        config: Some(file),
        http_addr: Some("127.0.0.1:9002".into()),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(flags.server.http_addr.to_string(), "127.0.0.1:9002");
    assert_eq!(flags.server.data_dir.to_str(), Some("/from/file"));
    let bad = ServeArgs {
        http_addr: Some("nonsense".into()),
        ..Default::default()
    }
    .resolve()
    .unwrap_err();
    assert!(bad.to_string().contains("--http-addr"), "{bad}");
}

/// Starts `podium` with `args` in `cwd`; returns the child and the URL it printed.
pub(crate) fn spawn_server(
    cwd: &std::path::Path,
    args: &[&str],
) -> (std::process::Child, String, Vec<String>) {
    let mut child = podium()
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let mut url = None;
    loop {
        let line = lines.next().expect("server printed its banner").unwrap();
        seen.push(line.clone());
        if let Some(rest) = line.split("Open ").nth(1) {
            url = Some(rest.split_whitespace().next().unwrap().to_owned());
        }
        if line.contains("Ctrl+C") {
            break;
        }
    }
    let url = url.expect("server printed its URL");
    std::thread::spawn(move || for _ in lines {});
    (child, url, seen)
}

pub(crate) fn stop(child: &mut std::process::Child) {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "SIGTERM ends podium cleanly, got {status}"
    );
}

#[tokio::test]
async fn binary_serves_with_builtin_defaults_in_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url, out) = spawn_server(
        dir.path(),
        &["--http-addr", "127.0.0.1:0", "--quic-addr", "127.0.0.1:0"],
    );
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(
        out.iter().any(|l| l.contains("/setup?token=")),
        "first start prints a setup link: {out:?}"
    );
    let home = reqwest::get(&url).await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("/app.js"));
    assert_eq!(
        reqwest::get(format!("{url}/healthz"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok\n"
    );
    assert!(
        dir.path().join("podium-data/podium.redb").exists(),
        "default data dir is ./podium-data"
    );

    // While it runs, a second server on the same data dir is refused.
    let second = podium()
        .args(["--http-addr", "127.0.0.1:0", "--quic-addr", "127.0.0.1:0"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("in use by another Podium process"), "{err}");
    // Admin tasks run beside it: an account made now signs in at once.
    let mut create = podium()
        .args([
            "admin",
            "create-user",
            "--email",
            "x@example.org",
            "--name",
            "X",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(create.stdin.take().unwrap(), "long enough password").unwrap();
    let out = create.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signin = reqwest::Client::new()
        .post(format!("{url}/api/auth/signin"))
        .header("origin", &url)
        .json(&serde_json::json!({"email": "x@example.org", "password": "long enough password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signin.status(), 200);
    stop(&mut child);
}

#[tokio::test]
async fn admin_create_user_works_while_the_server_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let create = |email: &str, password: &str| {
        let mut child = podium()
            .args(["admin", "create-user", "--data-dir"])
            .arg(&data)
            .args([
                "--email",
                email,
                "--name",
                "Root Admin",
                "--admin",
                "--premium",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let out = create("root@example.org", "correct horse");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("admin, premium"));
    let dup = create("ROOT@example.org", "correct horse");
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let weak = create("two@example.org", "short");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 8"));

    let data_s = data.to_str().unwrap().to_owned();
    let (mut child, url, out) = spawn_server(
        dir.path(),
        &[
            "serve",
            "--data-dir",
            &data_s,
            "--http-addr",
            "127.0.0.1:0",
            "--quic-addr",
            "127.0.0.1:0",
        ],
    );
    assert!(
        !out.iter().any(|l| l.contains("setup?token")),
        "an admin exists: no setup link"
    );
    let c = crate::support::client_builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = c
        .post(format!("{url}/api/auth/signin"))
        .header("origin", &url)
        .json(&serde_json::json!({"email": "root@example.org", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let me: serde_json::Value = c
        .get(format!("{url}/api/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["is_admin"], true);
    assert_eq!(me["user"]["is_premium"], true);
    stop(&mut child);
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_after_a_stop() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap().to_owned();
    let serve_args = [
        "serve",
        "--data-dir",
        &data_s,
        "--http-addr",
        "127.0.0.1:0",
        "--quic-addr",
        "127.0.0.1:0",
    ];
    let (mut child, url, out) = spawn_server(dir.path(), &serve_args);
    let setup = out
        .iter()
        .find_map(|l| l.split("token=").nth(1))
        .expect("setup link")
        .trim()
        .to_owned();
    let c = crate::support::client_builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = c
        .post(format!("{url}/api/setup"))
        .header("origin", &url)
        .json(
            &serde_json::json!({"token": setup, "email": "root@example.org",
            "name": "Root", "password": "correct horse"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let admin = |args: &[&str]| {
        podium()
            .arg("admin")
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap()
    };
    let backup = dir.path().join("podium-backup.redb");
    let out = admin(&["backup", backup.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Backed up"));
    // Bad input: nowhere to write, garbage to restore, a restore under a
    // running server. Each says why and changes nothing.
    let out = admin(&["backup", "/nonexistent/dir/b.redb"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot write the backup to /nonexistent/dir/b.redb")
    );
    let out = admin(&["restore", backup.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("stop it before restoring"));
    let junk = dir.path().join("junk.redb");
    std::fs::write(&junk, b"definitely not redb").unwrap();
    stop(&mut child);
    let out = admin(&["restore", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a Podium backup"));

    // Something written after the backup is gone after the restore; the
    // account from before it is there.
    let (mut child, url, _) = spawn_server(dir.path(), &serve_args);
    let r = reqwest::Client::new()
        .post(format!("{url}/api/auth/signup"))
        .header("origin", &url)
        .json(&serde_json::json!({"email": "late@example.org", "name": "Late", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    stop(&mut child);
    let out = admin(&["restore", backup.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("before-restore-"));
    let (mut child, url, _) = spawn_server(dir.path(), &serve_args);
    let signin = |email: &'static str| {
        let url = url.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{url}/api/auth/signin"))
                .header("origin", &url)
                .json(&serde_json::json!({"email": email, "password": "correct horse"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(signin("root@example.org").await, 200);
    assert_eq!(signin("late@example.org").await, 401);
    stop(&mut child);
}

#[test]
fn the_binary_is_statically_linked() {
    let out = Command::new("file")
        .arg("-L")
        .arg(env!("CARGO_BIN_EXE_podium"))
        .output()
        .expect("`file` is installed (the test command installs it)");
    let what = String::from_utf8_lossy(&out.stdout);
    assert!(
        what.contains("statically linked") || what.contains("static-pie linked"),
        "{what}"
    );
}

/// `podium admin users …` against the data dir of a running server.
fn users_cmd(data: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = podium()
        .args(["admin", "users"])
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    write!(child.stdin.take().unwrap(), "{stdin}").unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn admin_users_commands_work_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap().to_owned();
    let (mut child, url, out) = spawn_server(
        dir.path(),
        &[
            "serve",
            "--data-dir",
            &data_s,
            "--http-addr",
            "127.0.0.1:0",
            "--quic-addr",
            "127.0.0.1:0",
        ],
    );
    let setup = out
        .iter()
        .find_map(|l| l.split("token=").nth(1))
        .expect("setup link")
        .trim()
        .to_owned();
    let client = || {
        crate::support::client_builder()
            .cookie_store(true)
            .build()
            .unwrap()
    };
    let admin = client();
    let r = admin
        .post(format!("{url}/api/setup"))
        .header("origin", &url)
        .json(
            &serde_json::json!({"token": setup, "email": "root@example.org",
            "name": "Root", "password": "correct horse"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let member = client();
    let r = member
        .post(format!("{url}/api/auth/signup"))
        .header("origin", &url)
        .json(
            &serde_json::json!({"email": "mia@example.org", "name": "Mia",
            "password": "correct horse"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = member
        .post(format!("{url}/api/auth/signin"))
        .header("origin", &url)
        .json(&serde_json::json!({"email": "mia@example.org", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let me = |c: reqwest::Client| {
        let url = url.clone();
        async move {
            let r = c.get(format!("{url}/api/me")).send().await.unwrap();
            let s = r.status();
            (s, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };

    let list = users_cmd(&data, &["list"], "");
    assert!(list.status.success(), "{}", text(&list));
    let listed = text(&list);
    assert!(
        listed.contains("root@example.org") && listed.contains("admin"),
        "{listed}"
    );
    assert!(
        listed.contains("mia@example.org") && listed.contains("2 accounts"),
        "{listed}"
    );

    // Flags: the running server sees them at the next request.
    let o = users_cmd(&data, &["set-premium", "mia@example.org"], "");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(me(member.clone()).await.1["user"]["is_premium"], true);
    let o = users_cmd(&data, &["set-admin", "MIA@example.org"], "");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(me(member.clone()).await.1["user"]["is_admin"], true);
    let o = users_cmd(&data, &["set-admin", "--off", "mia@example.org"], "");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(me(member.clone()).await.1["user"]["is_admin"], false);

    // Bad input: a clear error and nothing changed.
    let o = users_cmd(&data, &["set-admin", "nobody@example.org"], "");
    assert!(!o.status.success());
    assert!(text(&o).contains("no user"), "{}", text(&o));
    let o = users_cmd(&data, &["set-admin", "999"], "");
    assert!(!o.status.success());
    let o = users_cmd(&data, &["set-admin", "--off", "root@example.org"], "");
    assert!(!o.status.success());
    assert!(text(&o).contains("only admin"), "{}", text(&o));
    assert_eq!(me(admin.clone()).await.1["user"]["is_admin"], true);
    let o = users_cmd(&data, &["reset-password", "mia@example.org"], "short\n");
    assert!(!o.status.success());
    assert!(text(&o).contains("at least 8"), "{}", text(&o));
    assert_eq!(
        me(member.clone()).await.0,
        200,
        "a refused reset changes nothing"
    );

    // A new password from standard input; Mia is signed out everywhere.
    let o = users_cmd(
        &data,
        &["reset-password", "mia@example.org"],
        "brand new secret\n",
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !text(&o).contains("brand new secret"),
        "the password is not echoed"
    );
    assert_eq!(me(member.clone()).await.0, 401);
    let r = member
        .post(format!("{url}/api/auth/signin"))
        .header("origin", &url)
        .json(&serde_json::json!({"email": "mia@example.org", "password": "brand new secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // An invitation from the command line: the running server mails it
    // (the outbox is shared through the store) and the link signs up.
    let o = users_cmd(&data, &["invite", "Newbie@Example.org"], "");
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("Invited newbie@example.org"),
        "{}",
        text(&o)
    );
    let o = users_cmd(&data, &["invite", "not an email"], "");
    assert!(!o.status.success());
    assert!(text(&o).contains("email"), "{}", text(&o));
    let o = users_cmd(&data, &["invite", "mia@example.org"], "");
    assert!(!o.status.success());
    assert!(text(&o).contains("member already"), "{}", text(&o));
    let r = admin
        .get(format!("{url}/api/admin/invitations"))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["invitations"][0]["email"], "newbie@example.org");

    // A deleted account is listed, marked.
    let r = member
        .delete(format!("{url}/api/me"))
        .header("origin", &url)
        .json(&serde_json::json!({"password": "brand new secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let listed = text(&users_cmd(&data, &["list"], ""));
    assert!(
        listed.contains("Deleted member")
            && listed.contains("deleted")
            && listed.contains("1 deleted"),
        "{listed}"
    );
    stop(&mut child);
}
