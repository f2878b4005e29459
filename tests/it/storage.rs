//! The store on a failing disk: a small tmpfs the test mounts is filled up;
//! writes are refused with 507 (nothing answered 200 is lost), reads keep
//! working, /healthz and /metrics say so, and freeing space brings writes
//! back without a restart. Needs root (to mount); skipped otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use podium::clock::SystemClock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Api, TestApp, assert_error};

/// A tmpfs mounted on a temp dir; unmounted when dropped.
struct Tmpfs {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl Tmpfs {
    /// `None` (with the reason printed) when this is not root or mount fails.
    fn mount(size: &str) -> Option<Tmpfs> {
        let uid = Command::new("id").arg("-u").output().ok()?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            eprintln!("SKIPPED: mounting a tmpfs needs root; the disk-full test did not run");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "podium-test"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED: `mount -t tmpfs` failed; the disk-full test did not run");
            return None;
        }
        let path = dir.path().to_owned();
        Some(Tmpfs {
            dir: Some(dir),
            path,
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        drop(self.dir.take());
    }
}

/// Writes zeros into `path` until the file system is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    // Whatever is left is smaller than a chunk: take it byte-sized.
    while f.write_all(&chunk[..512]).is_ok() {}
    while f.write_all(&chunk[..1]).is_ok() {}
}

async fn healthz(app: &TestApp) -> (StatusCode, String) {
    let r = reqwest::get(format!("{}/healthz", app.url)).await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn create(admin: &Api, n: usize) -> (StatusCode, Value) {
    admin
        .post(
            "/api/sessions",
            json!({
                "title": format!("Session {n}"),
                "description": "x".repeat(4000),
                "starts_at": "2099-06-01T17:00:00Z",
                "time_zone": "UTC",
            }),
        )
        .await
}

async fn titles(c: &Api) -> Vec<String> {
    let (s, list) = c.get("/api/sessions?scope=all").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_full_disk_refuses_writes_keeps_reads_and_recovers() {
    let Some(fs) = Tmpfs::mount("6m") else { return };
    let data = tempfile::Builder::new().tempdir_in(&fs.path).unwrap();
    let mut app = TestApp::start_in(data, "", Arc::new(SystemClock)).await;
    let admin = app.admin().await;
    let member = app.member("reader@example.org", "Reader").await;
    let mut stored = Vec::new();
    for n in 0..5 {
        let got = create(&admin, n).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        stored.push(format!("Session {n}"));
    }
    fill(&fs.path.join("filler"));

    // Write until the store runs out of room; every 201 is remembered.
    let refused = loop {
        let n = stored.len();
        assert!(n < 5000, "the disk never filled up");
        let got = create(&admin, n).await;
        match got.0 {
            StatusCode::CREATED => stored.push(format!("Session {n}")),
            _ => break got,
        }
    };
    assert_error(
        &refused,
        StatusCode::INSUFFICIENT_STORAGE,
        "storage_unavailable",
    );
    eprintln!(
        "disk full after {} sessions ({} before the disk was filled)",
        stored.len(),
        5
    );

    // Writes stay refused (sign-in writes a session: refused too) ...
    assert_error(
        &create(&admin, 9999).await,
        StatusCode::INSUFFICIENT_STORAGE,
        "storage_unavailable",
    );
    let c = app.client();
    let signin = c
        .post(
            "/api/auth/signin",
            json!({"email": "reader@example.org", "password": "correct horse"}),
        )
        .await;
    assert_error(
        &signin,
        StatusCode::INSUFFICIENT_STORAGE,
        "storage_unavailable",
    );
    // ... reads work and see everything that was acknowledged ...
    let seen = titles(&admin).await;
    for t in &stored {
        assert!(seen.contains(t), "{t} was answered 201 and is readable");
    }
    let (s, me) = member.get("/api/me").await;
    assert_eq!(s, StatusCode::OK, "{me}");
    // ... and health and metrics tell the operator.
    let (s, text) = healthz(&app).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(text.contains("disk is full"), "{text}");
    assert_eq!(app.metric("podium_store_healthy").await, 0.0);

    // Space comes back: writes work again without a restart.
    std::fs::remove_file(fs.path.join("filler")).unwrap();
    let wait = async {
        while healthz(&app).await.0 != StatusCode::OK {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .expect("healthy again after space was freed");
    assert_eq!(app.metric("podium_store_healthy").await, 1.0);
    let got = create(&admin, 10_000).await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    stored.push("Session 10000".into());

    // Nothing acknowledged was lost, also after a restart.
    app.restart().await;
    let admin = Api {
        base: app.url.clone(),
        ..admin
    };
    let seen = titles(&admin).await;
    for t in &stored {
        assert!(seen.contains(t), "{t} survived");
    }
    app.stop().await;
}
