//! Backups while the server runs: one for an admin who asks (streamed as a
//! download) and, when `[backup] dir` is set, one every `every_hours`,
//! keeping the newest `keep`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::BackupConfig;
use crate::domain::DomainError;
use crate::store::{BackupError, BackupReport, Store, StoreError, User};

use super::AppState;
use super::accounts::authorize_admin;

/// A finished backup, ready to be read once: the file is already unlinked
/// from the data directory, so nothing is left behind if the download stops.
#[derive(Debug)]
pub struct Download {
    pub file: std::fs::File,
    pub name: String,
    pub report: BackupReport,
}

/// What an admin's backup request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error(transparent)]
    Rule(#[from] DomainError),
    #[error(transparent)]
    Backup(#[from] BackupError),
}

/// Writes a consistent backup for an admin, to stream to them.
pub async fn download(state: &AppState, user: &User) -> Result<Download, DownloadError> {
    authorize_admin(user)?;
    let dir = state.config.server.data_dir.clone();
    let name = format!(
        "podium-{}.redb",
        state.clock.now().strftime("%Y%m%d-%H%M%S")
    );
    let store = state.store.clone();
    let r = tokio::task::spawn_blocking(move || -> Result<Download, BackupError> {
        let place = tempfile::Builder::new()
            .prefix(".podium-download-")
            .tempfile_in(&dir)
            .map_err(|source| BackupError::Write {
                path: dir.display().to_string(),
                source,
            })?
            .into_temp_path();
        let report = store.backup_to(&place)?;
        let file = std::fs::File::open(&place).map_err(|source| BackupError::Write {
            path: place.display().to_string(),
            source,
        })?;
        // Dropping the path unlinks it; the open file stays readable.
        drop(place);
        Ok(Download { file, name, report })
    })
    .await
    .expect("backup task panicked");
    if let Err(BackupError::Store(e)) = &r {
        state.store.observe(e);
    }
    Ok(r?)
}

/// Backups named `podium-<time>.redb` in `dir`, oldest first.
fn scheduled_backups(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("podium-") && n.ends_with(".redb"))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// One scheduled backup into `cfg.dir`, then the oldest beyond `keep` go.
pub fn backup_into(store: &Store, dir: &Path, keep: usize) -> Result<BackupReport, BackupError> {
    std::fs::create_dir_all(dir).map_err(|source| BackupError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let name = format!(
        "podium-{}.redb",
        jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S")
    );
    let report = store.backup_to(&dir.join(name))?;
    let all = scheduled_backups(dir);
    for old in all.iter().take(all.len().saturating_sub(keep)) {
        if let Err(e) = std::fs::remove_file(old) {
            tracing::warn!(file = %old.display(), error = %e, "removing an old backup failed");
        }
    }
    Ok(report)
}

/// Runs the scheduled backups for as long as the server runs: the first
/// when the newest backup in the directory is `every` old (at once when
/// there is none), then every `every`.
pub async fn run_scheduled(state: Arc<AppState>, cfg: BackupConfig) {
    let Some(dir) = cfg.dir.clone() else { return };
    let newest_age = scheduled_backups(&dir)
        .last()
        .and_then(|p| std::fs::metadata(p).ok())
        .and_then(|m| m.modified().ok())
        .and_then(|t| SystemTime::now().duration_since(t).ok());
    let mut wait = match newest_age {
        Some(age) => cfg.every.saturating_sub(age),
        None => Duration::from_secs(5),
    };
    loop {
        tokio::time::sleep(wait).await;
        wait = cfg.every;
        let (store, dir, keep) = (state.store.clone(), dir.clone(), cfg.keep);
        match state
            .store
            .run(move |_| {
                backup_into(&store, &dir, keep).map_err(|e| match e {
                    BackupError::Store(e) => e,
                    other => StoreError::Unavailable {
                        reason: other.to_string(),
                    },
                })
            })
            .await
        {
            Ok(report) => {
                state.metrics.backups_ok.inc();
                tracing::info!(dir = %cfg.dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default(), %report, "scheduled backup written");
            }
            Err(e) => {
                state.metrics.backups_failed.inc();
                tracing::error!(error = %e, "scheduled backup failed; retrying in 10 minutes");
                wait = Duration::from_secs(600).min(cfg.every);
            }
        }
    }
}
