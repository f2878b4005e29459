//! Backups that restore: a consistent copy of every table, taken from one
//! read transaction while the server keeps writing, written to a temporary
//! file beside the destination and renamed into place only once it is
//! complete and verified; and the check-then-install restore.
//!
//! Copying `podium.redb` with `cp` while Podium writes gives a file whose
//! commit slots do not match its pages: redb then refuses it. A read
//! transaction instead sees one committed state for as long as it lives,
//! whatever is committed meanwhile, so the copy is exactly that state.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, TableHandle, WriteTransaction,
};

use super::{
    AUTH_SESSIONS, COMPANIES, COMPANY_LOGOS, EMAIL_VERIFICATIONS, EVENT_COMPANIES, EVENT_SESSIONS,
    EVENTS, INVITATIONS, LIVE_CHAT, LIVE_QUESTIONS, LIVE_REMOVED, MAILS_SENT, MATERIAL_FILES,
    MATERIALS, META, OUTBOX, PASSWORD_RESETS, ROSTERS, Result, SCHEMA_VERSION, SESSIONS, Store,
    StoreError, USER_EMAILS, USER_SESSIONS, USERS, VIDEOS, WAITLISTED, read_u64,
};

/// Calls `$f!(table)` for every table the store has ever had. A table that
/// is missing here is found by [`Store::backup_to`], which refuses to write
/// a backup that would leave it out.
macro_rules! every_table {
    ($each:ident) => {{
        $each!(META);
        $each!(USERS);
        $each!(USER_EMAILS);
        $each!(AUTH_SESSIONS);
        $each!(SESSIONS);
        $each!(ROSTERS);
        $each!(USER_SESSIONS);
        $each!(OUTBOX);
        $each!(MAILS_SENT);
        $each!(WAITLISTED);
        $each!(LIVE_CHAT);
        $each!(LIVE_QUESTIONS);
        $each!(LIVE_REMOVED);
        $each!(EVENTS);
        $each!(COMPANIES);
        $each!(EVENT_COMPANIES);
        $each!(COMPANY_LOGOS);
        $each!(EVENT_SESSIONS);
        $each!(PASSWORD_RESETS);
        $each!(EMAIL_VERIFICATIONS);
        $each!(INVITATIONS);
        $each!(MATERIALS);
        $each!(MATERIAL_FILES);
        $each!(VIDEOS);
    }};
}

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub schema_version: u64,
    /// Rows per table.
    pub tables: BTreeMap<String, u64>,
    /// Size of the backup file.
    pub bytes: u64,
    pub millis: u128,
}

impl BackupReport {
    pub fn rows(&self) -> u64 {
        self.tables.values().sum()
    }
}

impl std::fmt::Display for BackupReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "schema {}, {} tables, {} rows, {} bytes, {} ms",
            self.schema_version,
            self.tables.len(),
            self.rows(),
            self.bytes,
            self.millis
        )
    }
}

/// Why a backup or restore failed; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot write the backup to {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a Podium backup: {reason}")]
    NotABackup { path: String, reason: String },
    #[error("the database has a table this build does not know how to back up: {0}")]
    UnknownTable(String),
    #[error(
        "the server is running on {0}: stop it before restoring (a running server would keep the old data open)"
    )]
    ServerRunning(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn copy_table<K, V>(
    from: &ReadTransaction,
    to: &WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<u64>
where
    K: redb::Key + 'static,
    V: redb::Value + 'static,
{
    let src = match from.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut dst = to.open_table(def)?;
    let mut n = 0;
    for row in src.iter()? {
        let (k, v) = row?;
        dst.insert(k.value(), v.value())?;
        n += 1;
    }
    Ok(n)
}

fn count_table<K, V>(from: &ReadTransaction, def: TableDefinition<K, V>) -> Result<Option<u64>>
where
    K: redb::Key + 'static,
    V: redb::Value + 'static,
{
    match from.open_table(def) {
        Ok(t) => Ok(Some(t.len()?)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Every table of `tx` must be one [`every_table`] copies.
fn check_known_tables(tx: &ReadTransaction) -> Result<(), BackupError> {
    let mut known = Vec::new();
    macro_rules! name {
        ($t:ident) => {
            known.push($t.name().to_owned())
        };
    }
    every_table!(name);
    for t in tx.list_tables().map_err(StoreError::from)? {
        if !known.iter().any(|k| k == t.name()) {
            return Err(BackupError::UnknownTable(t.name().to_owned()));
        }
    }
    Ok(())
}

fn write_err(path: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Write {
        path: path.display().to_string(),
        source,
    }
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Store {
    /// Writes a consistent copy of the whole store to `dest` (replacing it),
    /// from one read transaction, while others keep writing. The copy is
    /// built in a temporary file in `dest`'s directory, verified, synced and
    /// renamed into place, so `dest` is never a half-written backup.
    pub fn backup_to(&self, dest: &Path) -> Result<BackupReport, BackupError> {
        let started = Instant::now();
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".podium-backup-")
            .suffix(".partial")
            .tempfile_in(&dir)
            .map_err(write_err(dest))?;
        let from = self.db()?.begin_read().map_err(StoreError::from)?;
        check_known_tables(&from)?;
        let mut tables = BTreeMap::new();
        {
            let copy = Database::create(tmp.path()).map_err(|e| StoreError::Db(e.into()))?;
            let to = copy.begin_write().map_err(StoreError::from)?;
            macro_rules! copy {
                ($t:ident) => {
                    tables.insert($t.name().to_owned(), copy_table(&from, &to, $t)?)
                };
            }
            every_table!(copy);
            to.commit().map_err(StoreError::from)?;
        }
        drop(from);
        tmp.as_file().sync_all().map_err(write_err(dest))?;
        // Read it back before it takes the destination's name.
        let check = verify_backup(tmp.path())?;
        if check.tables != tables {
            return Err(BackupError::NotABackup {
                path: tmp.path().display().to_string(),
                reason: "the copy does not hold what was copied".into(),
            });
        }
        tmp.persist(dest).map_err(|e| write_err(dest)(e.error))?;
        fsync_dir(&dir).map_err(write_err(dest))?;
        Ok(BackupReport {
            millis: started.elapsed().as_millis(),
            ..check
        })
    }
}

/// Opens a backup file and checks it: redb's integrity check, a schema this
/// build can read, and the rows of every table it holds.
pub fn verify_backup(path: &Path) -> Result<BackupReport, BackupError> {
    let started = Instant::now();
    let not = |reason: String| BackupError::NotABackup {
        path: path.display().to_string(),
        reason,
    };
    let bytes = std::fs::metadata(path)
        .map_err(|e| not(e.to_string()))?
        .len();
    let mut db = Database::open(path).map_err(|e| not(e.to_string()))?;
    if !db.check_integrity().map_err(|e| not(e.to_string()))? {
        return Err(not("redb's integrity check failed".into()));
    }
    let tx = db.begin_read().map_err(|e| not(e.to_string()))?;
    let version = match tx.open_table(META) {
        Ok(meta) => read_u64(&meta, "schema_version").map_err(|e| not(e.to_string()))?,
        Err(e) => return Err(not(format!("no Podium metadata ({e})"))),
    };
    if version == 0 {
        return Err(not("no schema version recorded".into()));
    }
    if version > SCHEMA_VERSION {
        return Err(not(format!(
            "it was written by a newer Podium (schema {version}, this build knows {SCHEMA_VERSION})"
        )));
    }
    check_known_tables(&tx)?;
    let mut tables = BTreeMap::new();
    macro_rules! count {
        ($t:ident) => {
            if let Some(n) = count_table(&tx, $t).map_err(|e| not(e.to_string()))? {
                tables.insert($t.name().to_owned(), n);
            }
        };
    }
    every_table!(count);
    Ok(BackupReport {
        schema_version: version,
        tables,
        bytes,
        millis: started.elapsed().as_millis(),
    })
}

/// Installs the backup `file` as the store of `data_dir`, which no server
/// may have open. The file is verified first; the current store (if any) is
/// kept beside it as `podium.redb.before-restore-<unix seconds>`. Returns
/// the backup's report and where the old store went.
pub fn restore(
    data_dir: &Path,
    file: &Path,
) -> Result<(BackupReport, Option<PathBuf>), BackupError> {
    let report = verify_backup(file)?;
    let current = data_dir.join("podium.redb");
    std::fs::create_dir_all(data_dir).map_err(write_err(data_dir))?;
    if Store::server_running(data_dir)? {
        return Err(BackupError::ServerRunning(data_dir.display().to_string()));
    }
    if current.exists() {
        // An exclusive open fails while any other process has the file open.
        match Database::builder()
            .set_concurrency_mode(redb::ConcurrencyMode::ExclusiveWriter)
            .open(&current)
        {
            Ok(db) => drop(db),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(BackupError::ServerRunning(data_dir.display().to_string()));
            }
            Err(redb::DatabaseError::Storage(redb::StorageError::Io(io)))
                if io.kind() == std::io::ErrorKind::WouldBlock =>
            {
                return Err(BackupError::ServerRunning(data_dir.display().to_string()));
            }
            // A broken current file is exactly what a restore replaces.
            Err(_) => {}
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix(".podium-restore-")
        .tempfile_in(data_dir)
        .map_err(write_err(data_dir))?;
    std::io::copy(
        &mut File::open(file).map_err(write_err(file))?,
        &mut tmp.as_file(),
    )
    .map_err(write_err(data_dir))?;
    tmp.as_file().sync_all().map_err(write_err(data_dir))?;
    let kept = if current.exists() {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let kept = data_dir.join(format!("podium.redb.before-restore-{secs}"));
        std::fs::rename(&current, &kept).map_err(write_err(&kept))?;
        Some(kept)
    } else {
        None
    };
    tmp.persist(&current)
        .map_err(|e| write_err(&current)(e.error))?;
    fsync_dir(data_dir).map_err(write_err(data_dir))?;
    Ok((report, kept))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewUser;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn user(i: u64) -> NewUser {
        NewUser {
            email: format!("u{i}@example.org"),
            name: format!("User {i}"),
            password_hash: "x".into(),
            is_admin: false,
            is_premium: false,
            email_verified: false,
        }
    }

    fn now() -> jiff::Timestamp {
        "2026-12-06T10:00:00Z".parse().unwrap()
    }

    /// Rows of a table in a backup, read back through a fresh store.
    fn users_in(file: &Path) -> (u64, u64) {
        let r = verify_backup(file).unwrap();
        (r.tables["users"], r.tables["user_emails"])
    }

    #[test]
    fn backups_taken_while_writing_are_whole_and_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for i in 0..200 {
            store.create_user(user(i), now()).unwrap();
        }
        let stop = Arc::new(AtomicBool::new(false));
        let started = Arc::new(std::sync::Barrier::new(2));
        let writer = {
            let (store, stop, started) = (store.clone(), stop.clone(), started.clone());
            std::thread::spawn(move || {
                let mut i = 1_000;
                while !stop.load(Ordering::Relaxed) {
                    store.create_user(user(i), now()).unwrap();
                    if i == 1_000 {
                        started.wait();
                    }
                    i += 1;
                }
                i - 1_000
            })
        };
        // The backups start once the writer has committed its first user
        // (on a loaded machine the thread may otherwise start after them).
        started.wait();
        let mut seen = Vec::new();
        for n in 0..8 {
            let file = out.path().join(format!("b{n}.redb"));
            let report = store.backup_to(&file).unwrap();
            assert_eq!(report.schema_version, SCHEMA_VERSION);
            // A user and their email index are written in one transaction:
            // a consistent copy has exactly as many of each.
            let (users, emails) = users_in(&file);
            assert_eq!(users, emails, "backup {n} is torn");
            assert!(users >= 200);
            seen.push(users);
        }
        stop.store(true, Ordering::Relaxed);
        let written = writer.join().unwrap();
        assert!(written > 0, "the writer ran during the backups");
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        // Every backup restores into a store that opens and reads.
        let target = tempfile::tempdir().unwrap();
        let (report, kept) = restore(target.path(), &out.path().join("b7.redb")).unwrap();
        assert_eq!(kept, None);
        let restored = Store::open(target.path()).unwrap();
        assert_eq!(restored.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(report.tables["users"], seen[7]);
        assert!(
            restored
                .user_by_email("u1000@example.org")
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn a_restore_keeps_the_store_it_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.create_user(user(1), now()).unwrap();
        let file = dir.path().join("one.redb");
        store.backup_to(&file).unwrap();
        store.create_user(user(2), now()).unwrap();
        drop(store);
        let (_, kept) = restore(dir.path(), &file).unwrap();
        let kept = kept.expect("the old store is kept");
        assert!(kept.exists());
        let store = Store::open(dir.path()).unwrap();
        assert!(store.user_by_email("u1@example.org").unwrap().is_some());
        assert!(store.user_by_email("u2@example.org").unwrap().is_none());
    }

    #[test]
    fn garbage_is_not_restored_and_nothing_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.create_user(user(1), now()).unwrap();
        drop(store);
        let before = std::fs::read(dir.path().join("podium.redb")).unwrap();
        let junk = dir.path().join("junk.redb");
        for bytes in [&b""[..], b"not a database at all", &[0u8; 8192][..]] {
            std::fs::write(&junk, bytes).unwrap();
            let err = restore(dir.path(), &junk).unwrap_err();
            assert!(matches!(err, BackupError::NotABackup { .. }), "{err}");
            assert!(err.to_string().contains("is not a Podium backup"), "{err}");
        }
        // A redb file that is not Podium's.
        std::fs::remove_file(&junk).unwrap();
        drop(Database::create(&junk).unwrap());
        let err = restore(dir.path(), &junk).unwrap_err();
        assert!(err.to_string().contains("no Podium metadata"), "{err}");
        let missing = restore(dir.path(), &dir.path().join("nope.redb")).unwrap_err();
        assert!(matches!(missing, BackupError::NotABackup { .. }));
        assert_eq!(
            std::fs::read(dir.path().join("podium.redb")).unwrap(),
            before
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            !names.iter().any(|n| n.starts_with(".podium-restore-")),
            "{names:?}"
        );
    }

    #[test]
    fn a_backup_to_an_unwritable_place_says_where_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let err = store
            .backup_to(&dir.path().join("no/such/dir/b.redb"))
            .unwrap_err();
        assert!(matches!(err, BackupError::Write { .. }), "{err}");
        assert!(err.to_string().contains("no/such/dir/b.redb"), "{err}");
    }

    #[test]
    fn a_table_the_backup_does_not_know_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let tx = store.begin_write().unwrap();
        tx.open_table(TableDefinition::<u64, u64>::new("stray"))
            .unwrap();
        store.commit(tx).unwrap();
        let file = dir.path().join("b.redb");
        let err = store.backup_to(&file).unwrap_err();
        assert!(
            matches!(err, BackupError::UnknownTable(ref t) if t == "stray"),
            "{err}"
        );
        assert!(!file.exists());
    }

    #[test]
    fn admin_tasks_work_beside_a_server_and_restore_waits_for_it_to_stop() {
        let dir = tempfile::tempdir().unwrap();
        let server = Store::open(dir.path()).unwrap();
        server.create_user(user(1), now()).unwrap();
        // The command line opens the same file while the server runs.
        let admin = Store::open_beside_server(dir.path()).unwrap();
        assert!(admin.user_by_email("u1@example.org").unwrap().is_some());
        admin.create_user(user(2), now()).unwrap();
        assert!(server.user_by_email("u2@example.org").unwrap().is_some());
        let file = dir.path().join("b.redb");
        admin.backup_to(&file).unwrap();
        drop(admin);
        // A second server is refused; so is a restore under a running one.
        assert!(matches!(Store::open(dir.path()), Err(StoreError::InUse)));
        let err = restore(dir.path(), &file).unwrap_err();
        assert!(matches!(err, BackupError::ServerRunning(_)), "{err}");
        assert!(
            err.to_string().contains("stop it before restoring"),
            "{err}"
        );
        drop(server);
        restore(dir.path(), &file).unwrap();
    }
}
