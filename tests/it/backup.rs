//! Backups while the server runs: an admin's download taken while others
//! keep signing up is a whole, consistent store; scheduled backups appear
//! and old ones go.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestApp, assert_error};

#[tokio::test]
async fn an_admin_downloads_a_consistent_backup_while_others_write() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    // Others keep signing up while the backups are taken.
    let writer = {
        let app_url = app.url.clone();
        tokio::spawn(async move {
            let c = reqwest::Client::new();
            let mut made = 0;
            for i in 0..40 {
                let r = c
                    .post(format!("{app_url}/api/auth/signup"))
                    .header("origin", &app_url)
                    .header("x-forwarded-for", format!("10.0.{}.{}", i / 200, i % 200))
                    .json(&json!({"email": format!("w{i}@example.org"), "name": "W", "password": "correct horse"}))
                    .send()
                    .await
                    .unwrap();
                if r.status() == StatusCode::ACCEPTED {
                    made += 1;
                }
            }
            made
        })
    };
    let mut users_seen = Vec::new();
    for n in 0..4 {
        let resp = admin
            .http
            .post(format!("{}/api/admin/backup", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let disposition = resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            disposition.starts_with("attachment; filename=\"podium-"),
            "{disposition}"
        );
        let bytes = resp.bytes().await.unwrap();
        let file = app.dir.path().join(format!("download-{n}.redb"));
        std::fs::write(&file, &bytes).unwrap();
        let report = podium::store::verify_backup(&file).unwrap();
        // A user and their email index are one transaction: equal in a
        // consistent copy.
        assert_eq!(report.tables["users"], report.tables["user_emails"]);
        users_seen.push(report.tables["users"]);
    }
    let made = writer.await.unwrap();
    assert!(made > 0);
    assert!(
        users_seen.windows(2).all(|w| w[0] <= w[1]),
        "{users_seen:?}"
    );
    // Nothing is left behind in the data directory.
    let leftovers: Vec<_> = std::fs::read_dir(app.dir.path())
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".podium-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn only_admins_get_a_backup() {
    let app = TestApp::start().await;
    app.admin().await;
    let member = app.member("m@example.org", "M").await;
    let got = member.post("/api/admin/backup", json!({})).await;
    assert_error(&got, StatusCode::FORBIDDEN, "forbidden");
    let got = app.client().post("/api/admin/backup", json!({})).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "unauthenticated");
    let got = app
        .client_without_origin()
        .post("/api/admin/backup", json!({}))
        .await;
    assert_eq!(got.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn scheduled_backups_appear_and_only_the_newest_are_kept() {
    let backups = tempfile::tempdir().unwrap();
    // Three old backups from earlier runs, a day old.
    for name in [
        "podium-20000101-000000.redb",
        "podium-20000102-000000.redb",
        "podium-20000103-000000.redb",
    ] {
        let f = std::fs::File::create(backups.path().join(name)).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(86_400))
            .unwrap();
    }
    std::fs::write(backups.path().join("notes.txt"), "not a backup").unwrap();
    let app = TestApp::start_with(&format!(
        "[backup]\ndir = \"{}\"\nevery_hours = 1\nkeep = 2\n",
        backups.path().display()
    ))
    .await;
    app.admin().await;
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(backups.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    let mut names = listing();
    for _ in 0..300 {
        let ours = names
            .iter()
            .filter(|n| n.starts_with("podium-") && !n.starts_with("podium-2000"))
            .count();
        let all = names.iter().filter(|n| n.starts_with("podium-")).count();
        if ours == 1 && all == 2 && app.metric("podium_backups_total{outcome=\"ok\"}").await == 1.0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        names = listing();
    }
    let kept: Vec<_> = names
        .iter()
        .filter(|n| n.starts_with("podium-"))
        .cloned()
        .collect();
    assert_eq!(kept.len(), 2, "{names:?}");
    assert_eq!(kept[0], "podium-20000103-000000.redb", "{names:?}");
    assert!(
        names.contains(&"notes.txt".to_owned()),
        "other files stay: {names:?}"
    );
    let report = podium::store::verify_backup(&backups.path().join(&kept[1])).unwrap();
    // Taken five seconds after the start: whole, with every table.
    assert_eq!(report.schema_version, podium::store::SCHEMA_VERSION);
    assert!(report.tables.contains_key("users"), "{report:?}");
    assert_eq!(
        app.metric("podium_backups_total{outcome=\"ok\"}").await,
        1.0
    );
}

#[test]
fn backup_settings_out_of_range_are_refused() {
    for (text, key) in [
        ("[backup]\nevery_hours = 0\n", "backup.every_hours"),
        ("[backup]\nkeep = 0\n", "backup.keep"),
        ("[backup]\nwhen = 3\n", "when"),
    ] {
        let err = podium::config::Config::parse(text).unwrap_err().to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
}
