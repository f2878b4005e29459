//! Prints how long the answers take that must not tell who is a member:
//! sign-up with a new email against one that has an account, and a
//! password-reset request for a member's email against an unknown one
//! (median and 90th percentile of interleaved runs against an in-process
//! server with a temp data dir; mail goes to .eml files).
//!
//! `cargo run --release --example account_timing`

use std::sync::Arc;
use std::time::{Duration, Instant};

use podium::clock::SystemClock;
use podium::config::Config;

fn summary(name: &str, mut d: Vec<Duration>) {
    d.sort();
    let at = |p: f64| d[((d.len() - 1) as f64 * p).round() as usize];
    println!(
        "{name:<34} n={:<3} median {:>7.1} ms  p90 {:>7.1} ms",
        d.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let text = format!(
        "[server]\ndata_dir = {:?}\nhttp_addr = \"127.0.0.1:0\"\nquic_addr = \"127.0.0.1:0\"\n[accounts]\nsignups_per_ip = 1000000\n",
        dir.path().display().to_string()
    );
    let server = podium::app::start(Config::parse(&text)?, Arc::new(SystemClock)).await?;
    let url = server.base_url.clone();
    let http = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{url}{path}"))
            .header("origin", &url)
            .json(&body)
            .send()
    };
    let r = post(
        "/api/auth/signup",
        serde_json::json!({"email": "member@example.org", "name": "Member", "password": "correct horse"}),
    )
    .await?;
    assert_eq!(r.status(), 202);

    let runs = 30;
    let (mut new, mut taken) = (Vec::new(), Vec::new());
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let mut pair = [
            (format!("new{i}@example.org"), &mut new),
            ("member@example.org".to_owned(), &mut taken),
        ];
        if i % 2 == 1 {
            pair.swap(0, 1);
        }
        for (email, out) in pair {
            let t = Instant::now();
            let r = post(
                "/api/auth/signup",
                serde_json::json!({"email": email, "name": "Someone", "password": "another horse"}),
            )
            .await?;
            out.push(t.elapsed());
            assert_eq!(r.status(), 202);
        }
        // Alternate which goes first, so neither pays for what ran before.
        let mut pair = [
            ("member@example.org".to_owned(), &mut known),
            (format!("nobody{i}@example.org"), &mut unknown),
        ];
        if i % 2 == 1 {
            pair.swap(0, 1);
        }
        for (email, out) in pair {
            let t = Instant::now();
            let r = post("/api/auth/reset", serde_json::json!({"email": email})).await?;
            out.push(t.elapsed());
            assert_eq!(r.status(), 202);
        }
    }
    summary("sign-up, new email", new);
    summary("sign-up, email with an account", taken);
    summary("reset request, member's email", known);
    summary("reset request, unknown email", unknown);
    server.shutdown().await?;
    Ok(())
}
