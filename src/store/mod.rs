//! The store: the only module that knows redb. Typed tables with a versioned
//! value encoding, a schema-version record with a migration runner, and one
//! write transaction per user action.
//!
//! Failing storage (a full disk, an I/O error) degrades the store instead of
//! breaking it: redb refuses every later operation after one I/O error, so the
//! store marks itself degraded, refuses writes with [`StoreError::Unavailable`]
//! (no disk access), reopens the file so reads keep working, and lets one real
//! write through every [`PROBE_EVERY`] (or [`Store::probe`]) to find out
//! whether the disk is back. A write is only ever reported done after redb
//! committed it.

mod backup;
mod codec;
mod events;
mod live;
mod materials;
mod sessions;
mod users;
mod video;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use crate::domain::DomainError;

pub use backup::{BackupError, BackupReport, restore, verify_backup};
pub use events::BookingCtx;
pub use sessions::{OutMail, SessionCtx};
pub use users::{
    AccountExport, AuthSession, EmailVerification, Invitation, NewUser, PasswordReset, SignUp,
    User, UserUpdate,
};
pub use video::StoredVideo;

/// Schema and bookkeeping: `schema_version`, id counters, the setup token hash.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// user id -> User
const USERS: TableDefinition<u64, &[u8]> = TableDefinition::new("users");
/// normalised email -> user id
const USER_EMAILS: TableDefinition<&str, u64> = TableDefinition::new("user_emails");
/// SHA-256 of a session cookie -> AuthSession
const AUTH_SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("auth_sessions");

/// session id -> Session
const SESSIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("sessions");
/// session id -> Roster (registrations and waitlist)
const ROSTERS: TableDefinition<u64, &[u8]> = TableDefinition::new("rosters");
/// (user id, session id): sessions a user registered or waited for
const USER_SESSIONS: TableDefinition<(u64, u64), ()> = TableDefinition::new("user_sessions");
/// mail id -> OutMail not yet delivered
const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");
/// Message-ID -> unix seconds delivered (delivery at most once per Message-ID)
const MAILS_SENT: TableDefinition<&str, u64> = TableDefinition::new("mails_sent");

/// session id -> (): sessions whose roster has someone waiting (the
/// housekeeping sweep reads only these)
const WAITLISTED: TableDefinition<u64, ()> = TableDefinition::new("waitlisted_sessions");
/// (session id, message id) -> live chat message
const LIVE_CHAT: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("live_chat");
/// (session id, question id) -> live question with its votes
const LIVE_QUESTIONS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("live_questions");
/// (session id, user id) -> (): people a host removed from a live session
/// (they cannot come back, also after a restart)
const LIVE_REMOVED: TableDefinition<(u64, u64), ()> = TableDefinition::new("live_removed");
/// SHA-256 of a password-reset token -> PasswordReset (single use, short-lived)
const PASSWORD_RESETS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("password_resets");
/// SHA-256 of an email-confirmation token -> EmailVerification (single use, 24 h)
const EMAIL_VERIFICATIONS: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("email_verifications");
/// invitation id -> Invitation (its token stored as SHA-256; single use, 7 days)
const INVITATIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("invitations");

/// event id -> Event
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
/// company id -> Company
const COMPANIES: TableDefinition<u64, &[u8]> = TableDefinition::new("companies");
/// (event id, company id): the companies of an event
const EVENT_COMPANIES: TableDefinition<(u64, u64), ()> = TableDefinition::new("event_companies");
/// company id -> the logo's bytes (`codec::encode_blob`); its type is in the Company
const COMPANY_LOGOS: TableDefinition<u64, &[u8]> = TableDefinition::new("company_logos");
/// (event id, session id): the sessions booked in an event
const EVENT_SESSIONS: TableDefinition<(u64, u64), ()> = TableDefinition::new("event_sessions");

/// (session id, material id) -> Material (a session's presentations)
const MATERIALS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("materials");
/// material id -> the uploaded file's bytes (`codec::encode_blob`), written
/// and removed in the same transaction as its `MATERIALS` row
const MATERIAL_FILES: TableDefinition<u64, &[u8]> = TableDefinition::new("material_files");
/// (session id, video id) -> StoredVideo: uploaded videos (files in `videos/`)
const VIDEOS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("videos");

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A rule checked inside the transaction refused the change (nothing was written).
    #[error(transparent)]
    Rule(#[from] DomainError),
    #[error("not found")]
    NotFound,
    #[error(
        "the data directory is in use by another Podium process (stop the server first, or use another --data-dir)"
    )]
    InUse,
    #[error("the data was written by a newer Podium (schema {found}, this build knows {known})")]
    NewerSchema { found: u64, known: u64 },
    #[error("stored value in table `{table}` is unreadable: {reason}")]
    Corrupt { table: &'static str, reason: String },
    /// Storage is failing (disk full, I/O error): nothing was written.
    #[error("storage unavailable: {reason}")]
    Unavailable { reason: String },
    #[error("database error: {0}")]
    Db(#[from] redb::Error),
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
            }
        }
    )*};
}
db_err!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl StoreError {
    /// Whether this is the storage failing (disk full, I/O), rather than a
    /// rule, a missing row or corrupt data.
    pub fn is_storage_failure(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable { .. }
                | StoreError::Db(
                    redb::Error::Io(_)
                        | redb::Error::PreviousIo
                        | redb::Error::DatabaseClosed
                        | redb::Error::TransactionPoisoned
                )
        )
    }

    /// Whether the disk is full (as opposed to failing otherwise).
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Db(redb::Error::Io(e)) => e.kind() == std::io::ErrorKind::StorageFull,
            StoreError::Unavailable { reason } => reason.contains("full"),
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// While degraded, one real write is let through this often to see whether
/// the disk is back; the others are refused without touching it.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);

/// How long after a failed reopen the next one is tried.
const REOPEN_RETRY: Duration = Duration::from_millis(500);

/// Whether the store can write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// Writes are refused since the last storage failure, described here.
    Degraded {
        reason: String,
    },
}

/// A migration step: brings the schema from version `index` to `index + 1`.
type Migration = fn(&WriteTransaction) -> Result<()>;

/// Every schema change ever made, in order. Never edit a released step; add one.
const MIGRATIONS: &[Migration] = &[
    migrate_1_initial,
    migrate_2_sessions,
    migrate_3_live,
    migrate_4_waitlist_index,
    migrate_5_live_removed,
    migrate_6_events,
    migrate_7_password_resets,
    migrate_8_verifications_and_invitations,
    migrate_9_materials,
    migrate_10_videos,
];

fn migrate_1_initial(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(META)?;
    tx.open_table(USERS)?;
    tx.open_table(USER_EMAILS)?;
    tx.open_table(AUTH_SESSIONS)?;
    Ok(())
}

fn migrate_2_sessions(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(SESSIONS)?;
    tx.open_table(ROSTERS)?;
    tx.open_table(USER_SESSIONS)?;
    tx.open_table(OUTBOX)?;
    tx.open_table(MAILS_SENT)?;
    Ok(())
}

fn migrate_3_live(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(LIVE_CHAT)?;
    tx.open_table(LIVE_QUESTIONS)?;
    Ok(())
}

fn migrate_4_waitlist_index(tx: &WriteTransaction) -> Result<()> {
    let mut index = tx.open_table(WAITLISTED)?;
    let rosters = tx.open_table(ROSTERS)?;
    for row in rosters.iter()? {
        let (k, v) = row.map_err(StoreError::from)?;
        let r: crate::domain::roster::Roster = codec::decode("rosters", v.value())?;
        if !r.waitlist.is_empty() {
            index.insert(k.value(), ())?;
        }
    }
    Ok(())
}

fn migrate_5_live_removed(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(LIVE_REMOVED)?;
    Ok(())
}

fn migrate_6_events(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(EVENTS)?;
    tx.open_table(COMPANIES)?;
    tx.open_table(EVENT_COMPANIES)?;
    tx.open_table(COMPANY_LOGOS)?;
    tx.open_table(EVENT_SESSIONS)?;
    Ok(())
}

fn migrate_7_password_resets(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(PASSWORD_RESETS)?;
    Ok(())
}

fn migrate_8_verifications_and_invitations(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(EMAIL_VERIFICATIONS)?;
    tx.open_table(INVITATIONS)?;
    Ok(())
}

fn migrate_9_materials(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(MATERIALS)?;
    tx.open_table(MATERIAL_FILES)?;
    Ok(())
}

fn migrate_10_videos(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(VIDEOS)?;
    Ok(())
}

/// The schema version this build writes.
pub const SCHEMA_VERSION: u64 = MIGRATIONS.len() as u64;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// Opens the database file (again, after a storage failure).
type Opener = Box<dyn Fn() -> std::result::Result<Database, redb::DatabaseError> + Send + Sync>;

struct Inner {
    open: Opener,
    /// `None` while a reopen after a storage failure has not succeeded yet.
    db: RwLock<Option<Arc<Database>>>,
    /// Set by a storage failure: the handle in `db` is unusable (redb fails
    /// every operation after an I/O error) and must be reopened.
    reopen: AtomicBool,
    /// No reopen is tried before this (after one failed), so a file that
    /// cannot be opened is not retried on every request.
    next_reopen: Mutex<Instant>,
    degraded: Mutex<Option<Degraded>>,
    /// A server's hold on `podium.lock` (released when the store closes).
    server_lock: Mutex<Option<std::fs::File>>,
}

/// Creates the data directory if missing, readable by its owner only
/// (0700): it holds every account and the sign-in sessions.
fn create_data_dir(data_dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let err = |source| StoreError::DataDir {
        path: data_dir.display().to_string(),
        source,
    };
    if !data_dir.exists() {
        std::fs::create_dir_all(data_dir).map_err(err)?;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    Ok(())
}

/// The store file is its owner's alone (0600), whatever the umask made it.
fn restrict_file(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
        && let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
    {
        tracing::warn!(file = %path.display(), error = %e, "cannot make the store file private");
    }
}

struct Degraded {
    reason: String,
    /// When the next write may touch the disk to find out whether it is back.
    next_probe: Instant,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

fn read_u64(meta: &impl ReadableTable<&'static str, &'static [u8]>, key: &str) -> Result<u64> {
    Ok(match meta.get(key)? {
        Some(v) => {
            let b: [u8; 8] = v.value().try_into().map_err(|_| StoreError::Corrupt {
                table: "meta",
                reason: format!("{key} is not 8 bytes"),
            })?;
            u64::from_be_bytes(b)
        }
        None => 0,
    })
}

impl Store {
    /// Opens (creating if needed) `podium.redb` in `data_dir` for a server
    /// and runs pending migrations. One server per data directory: a second
    /// is refused with [`StoreError::InUse`] (the lock is `podium.lock`,
    /// held while the store is open).
    pub fn open(data_dir: &Path) -> Result<Self> {
        let lock = Self::lock_data_dir(data_dir)?;
        let store = Self::open_beside_server(data_dir)?;
        *store.inner.server_lock.lock().expect("store lock") = Some(lock);
        Ok(store)
    }

    /// Takes the data directory's server lock, or says it is in use.
    fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File> {
        create_data_dir(data_dir)?;
        let path = data_dir.join("podium.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| StoreError::DataDir {
                path: path.display().to_string(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse),
            Err(std::fs::TryLockError::Error(source)) => Err(StoreError::DataDir {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Whether a server has `data_dir` open now.
    pub fn server_running(data_dir: &Path) -> Result<bool> {
        match Self::lock_data_dir(data_dir) {
            Ok(_) => Ok(false),
            Err(StoreError::InUse) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Opens the store beside a server that may be running on it (the
    /// command line's admin tasks): redb's multi-process locking keeps the
    /// two consistent, one write transaction at a time.
    pub fn open_beside_server(data_dir: &Path) -> Result<Self> {
        create_data_dir(data_dir)?;
        let path = data_dir.join("podium.redb");
        let private = path.clone();
        // Other processes may open the file beside a running server: the
        // command line's `admin` tasks (users, backups) use redb's own
        // locking instead of asking the server to stop.
        Self::open_with(Box::new(move || {
            Database::builder()
                .set_concurrency_mode(redb::ConcurrencyMode::MultiWriter)
                .create(&path)
        }))
        .inspect(|_| restrict_file(&private))
    }

    /// Opens the store with `open` (the file, or a test's failing backend).
    fn open_with(open: Opener) -> Result<Self> {
        let db = open().map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse,
            redb::DatabaseError::Storage(redb::StorageError::Io(io))
                if io.kind() == std::io::ErrorKind::WouldBlock =>
            {
                StoreError::InUse
            }
            other => StoreError::Db(other.into()),
        })?;
        let store = Store {
            inner: Arc::new(Inner {
                open,
                db: RwLock::new(Some(Arc::new(db))),
                reopen: AtomicBool::new(false),
                next_reopen: Mutex::new(Instant::now()),
                degraded: Mutex::new(None),
                server_lock: Mutex::new(None),
            }),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The database handle, reopened first when a storage failure broke it.
    fn db(&self) -> Result<Arc<Database>> {
        if self.inner.reopen.load(Ordering::Acquire) {
            self.reopen();
        }
        self.inner
            .db
            .read()
            .expect("store lock")
            .clone()
            .ok_or_else(|| StoreError::Unavailable {
                reason: self.degraded_reason(),
            })
    }

    /// Closes the broken handle and opens the file again. When someone still
    /// holds the old handle, or the open fails, it is tried again on the next
    /// call.
    fn reopen(&self) {
        let mut slot = self.inner.db.write().expect("store lock");
        if !self.inner.reopen.load(Ordering::Acquire) {
            return;
        }
        let mut next = self.inner.next_reopen.lock().expect("store lock");
        if Instant::now() < *next {
            return;
        }
        if let Some(old) = slot.take() {
            match Arc::try_unwrap(old) {
                Ok(db) => drop(db),
                Err(still_used) => {
                    *slot = Some(still_used);
                    return;
                }
            }
        }
        match (self.inner.open)() {
            Ok(db) => {
                *slot = Some(Arc::new(db));
                self.inner.reopen.store(false, Ordering::Release);
                tracing::info!("store reopened after a storage failure");
            }
            Err(e) => {
                *next = Instant::now() + REOPEN_RETRY;
                tracing::warn!(error = %e, "reopening the store failed; will retry");
            }
        }
    }

    fn degraded_reason(&self) -> String {
        self.inner
            .degraded
            .lock()
            .expect("store lock")
            .as_ref()
            .map_or_else(
                || "the database is being reopened".to_owned(),
                |d| d.reason.clone(),
            )
    }

    /// Starts a write transaction, unless the store is degraded and the next
    /// probe is not due (then nothing touches the disk).
    fn begin_write(&self) -> Result<WriteTransaction> {
        {
            let mut d = self.inner.degraded.lock().expect("store lock");
            if let Some(d) = d.as_mut() {
                let now = Instant::now();
                if now < d.next_probe {
                    return Err(StoreError::Unavailable {
                        reason: d.reason.clone(),
                    });
                }
                d.next_probe = now + PROBE_EVERY;
            }
        }
        let tx = self
            .db()?
            .begin_write()
            .map_err(|e| self.failed(e.into()))?;
        Ok(tx)
    }

    /// Commits; only a commit that returned `Ok` counts as stored. A success
    /// ends a degraded period.
    fn commit(&self, tx: WriteTransaction) -> Result<()> {
        tx.commit().map_err(|e| self.failed(e.into()))?;
        if let Some(d) = self.inner.degraded.lock().expect("store lock").take() {
            tracing::info!(was = %d.reason, "storage recovered: writes are accepted again");
        }
        Ok(())
    }

    /// Notes a storage failure (any error passes through unchanged): the
    /// store degrades and reopens its file.
    fn failed(&self, e: StoreError) -> StoreError {
        self.observe(&e);
        e
    }

    /// Runs store calls on the blocking pool (redb does file IO and fsync);
    /// a storage failure anywhere in them degrades the store ([`observe`](Self::observe)).
    /// Every async caller goes through here.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&Store) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let r = f(&store);
            if let Err(e) = &r {
                store.observe(e);
            }
            r
        })
        .await
        .expect("store task panicked")
    }

    /// Looks at an error from any store call: a storage failure degrades the
    /// store (writes refused, the file reopened for reads). Callers that run
    /// store calls (`AppState::blocking`) pass every error through here, so a
    /// failure in the middle of a transaction counts too.
    pub fn observe(&self, e: &StoreError) {
        if !matches!(e, StoreError::Db(_)) || !e.is_storage_failure() {
            return;
        }
        let reason = if e.is_disk_full() {
            "the disk is full".to_owned()
        } else {
            format!("a storage error ({e})")
        };
        let mut d = self.inner.degraded.lock().expect("store lock");
        if d.is_none() {
            tracing::error!(%reason, "storage failed: refusing writes until it works again");
        }
        *d = Some(Degraded {
            reason,
            next_probe: Instant::now() + PROBE_EVERY,
        });
        self.inner.reopen.store(true, Ordering::Release);
    }

    #[cfg(test)]
    fn make_probe_due(&self) {
        if let Some(d) = self.inner.degraded.lock().expect("store lock").as_mut() {
            d.next_probe = Instant::now();
        }
    }

    /// Whether writes are accepted.
    pub fn health(&self) -> Health {
        match self.inner.degraded.lock().expect("store lock").as_ref() {
            None => Health::Ok,
            Some(d) => Health::Degraded {
                reason: d.reason.clone(),
            },
        }
    }

    /// While degraded and a probe is due, tries one tiny write to find out
    /// whether storage works again. Returns the health afterwards.
    pub fn probe(&self) -> Health {
        if self.health() == Health::Ok {
            return Health::Ok;
        }
        let r = (|| {
            let tx = self.begin_write()?;
            tx.open_table(META)?.insert("probe", &[1u8][..])?;
            self.commit(tx)
        })();
        if let Err(e) = r {
            self.observe(&e);
        }
        self.health()
    }

    fn migrate(&self) -> Result<()> {
        loop {
            let tx = self.begin_write()?;
            let version = {
                let meta = tx.open_table(META)?;
                read_u64(&meta, "schema_version")?
            };
            if version > SCHEMA_VERSION {
                return Err(StoreError::NewerSchema {
                    found: version,
                    known: SCHEMA_VERSION,
                });
            }
            if version == SCHEMA_VERSION {
                return Ok(());
            }
            MIGRATIONS[version as usize](&tx)?;
            tx.open_table(META)?
                .insert("schema_version", &(version + 1).to_be_bytes()[..])?;
            self.commit(tx)?;
            tracing::info!(from = version, to = version + 1, "migrated store schema");
        }
    }

    /// How many handles to the database are alive (the file closes at zero).
    pub fn handles(&self) -> usize {
        Arc::strong_count(&self.inner)
    }

    /// The schema version recorded in the file.
    pub fn schema_version(&self) -> Result<u64> {
        let tx = self.db()?.begin_read()?;
        let meta = tx.open_table(META)?;
        read_u64(&meta, "schema_version")
    }
}

/// Takes the next id of a counter kept in META, inside the caller's transaction.
fn next_id(tx: &WriteTransaction, counter: &str) -> Result<u64> {
    let mut meta = tx.open_table(META)?;
    let id = read_u64(&meta, counter)? + 1;
    meta.insert(counter, &id.to_be_bytes()[..])?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_once_and_newer_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        drop(store);
        // Reopening runs nothing new.
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        // A file written by a newer Podium is refused, not misread.
        let tx = store.begin_write().unwrap();
        tx.open_table(META)
            .unwrap()
            .insert("schema_version", &(SCHEMA_VERSION + 1).to_be_bytes()[..])
            .unwrap();
        store.commit(tx).unwrap();
        drop(store);
        match Store::open(dir.path()) {
            Err(StoreError::NewerSchema { found, known }) => {
                assert_eq!((found, known), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("expected NewerSchema, got {other:?}"),
        }
    }

    #[test]
    fn a_claimed_mail_is_never_due_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now: jiff::Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let mail = |id: &str| OutMail {
            message_id: id.into(),
            to_email: "a@example.org".into(),
            to_name: "A".into(),
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
            ics: None,
            ics_method: None,
            created_at: now,
            attempts: 0,
            next_attempt_at: None,
            last_error: None,
            handed_over_at: None,
        };
        let tx = store.begin_write().unwrap();
        sessions::put_outbox(&tx, &[mail("<1@x>"), mail("<2@x>")]).unwrap();
        store.commit(tx).unwrap();
        let due = store.due_mails(now, 10).unwrap();
        assert_eq!((due.due.len(), due.uncertain.len()), (2, 0));
        let (first, second) = (due.due[0].0, due.due[1].0);
        // Handed over, then the process stopped before it knew the outcome.
        store.claim_mail(first, now).unwrap();
        assert!(store.claim_mail(first, now).is_err(), "claimed once");
        // Handed over, then certainly refused: it may go again.
        store.claim_mail(second, now).unwrap();
        store.mark_failed(second, 1, now, "550 no").unwrap();
        let due = store.due_mails(now, 10).unwrap();
        assert_eq!(due.due.len(), 1);
        assert_eq!(due.due[0].1.message_id, "<2@x>");
        assert_eq!(due.uncertain.len(), 1);
        assert_eq!(due.uncertain[0].message_id, "<1@x>");
        // Gone for good.
        assert!(store.claim_mail(first, now).is_err());
        let due = store.due_mails(now, 10).unwrap();
        assert_eq!((due.due.len(), due.uncertain.len()), (1, 0));
    }

    /// Storage that can run out of room: while `full`, it cannot grow (as a
    /// full disk: bytes already allocated can still be overwritten). The
    /// bytes live on across reopens, like a file.
    #[derive(Debug, Clone, Default)]
    struct Disk {
        bytes: Arc<redb::backends::InMemoryBackend>,
        full: Arc<AtomicBool>,
        writes: Arc<std::sync::atomic::AtomicU64>,
    }

    impl redb::StorageBackend for Disk {
        fn len(&self) -> std::io::Result<u64> {
            self.bytes.len()
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
            self.bytes.read(offset, out)
        }
        fn set_len(&self, len: u64) -> std::io::Result<()> {
            if self.full.load(Ordering::SeqCst) && len > self.bytes.len()? {
                return Err(std::io::ErrorKind::StorageFull.into());
            }
            self.bytes.set_len(len)
        }
        fn sync_data(&self) -> std::io::Result<()> {
            self.bytes.sync_data()
        }
        fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            if self.full.load(Ordering::SeqCst) && offset + data.len() as u64 > self.bytes.len()? {
                return Err(std::io::ErrorKind::StorageFull.into());
            }
            self.bytes.write(offset, data)
        }
    }

    fn user(email: &str, bytes: usize) -> NewUser {
        NewUser {
            email: email.into(),
            name: "U".into(),
            password_hash: "x".repeat(bytes),
            is_admin: false,
            is_premium: false,
            email_verified: false,
        }
    }

    #[test]
    fn a_full_disk_degrades_the_store_and_it_recovers() {
        let disk = Disk::default();
        let d = disk.clone();
        let store = Store::open_with(Box::new(move || {
            Database::builder().create_with_backend(d.clone())
        }))
        .unwrap();
        let now: jiff::Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let kept = store
            .create_user(user("kept@example.org", 10), now)
            .unwrap();
        // The disk fills up: a change that needs room fails, nothing is kept.
        disk.full.store(true, Ordering::SeqCst);
        let e = store
            .create_user(user("big@example.org", 4 << 20), now)
            .unwrap_err();
        assert!(e.is_storage_failure() && e.is_disk_full(), "{e}");
        store.observe(&e);
        assert_eq!(
            store.health(),
            Health::Degraded {
                reason: "the disk is full".into()
            }
        );
        // Until the next probe, writes are refused without touching the disk ...
        let writes = disk.writes.load(Ordering::SeqCst);
        let e = store
            .create_user(user("small@example.org", 10), now)
            .unwrap_err();
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e}");
        assert_eq!(disk.writes.load(Ordering::SeqCst), writes);
        // ... and reads work (the handle redb gave up on was reopened).
        assert_eq!(store.user(kept.id).unwrap().email, "kept@example.org");
        assert_eq!(store.user_count().unwrap(), 1);
        // Still full: a small write fits in the file (a probe passes), the
        // big one fails again and degrades the store again. (The app passes
        // every error through `observe`, in `AppState::blocking`.)
        store.make_probe_due();
        assert_eq!(store.probe(), Health::Ok);
        let e = store
            .create_user(user("big@example.org", 4 << 20), now)
            .unwrap_err();
        store.observe(&e);
        assert_ne!(store.health(), Health::Ok);
        // Room again: the next probe finds out, and writes are accepted.
        disk.full.store(false, Ordering::SeqCst);
        store.make_probe_due();
        assert_eq!(store.probe(), Health::Ok);
        store
            .create_user(user("big@example.org", 4 << 20), now)
            .unwrap();
        let emails: Vec<String> = store
            .users()
            .unwrap()
            .into_iter()
            .map(|u| u.email)
            .collect();
        assert_eq!(emails, ["kept@example.org", "big@example.org"]);
    }

    #[test]
    fn the_data_dir_and_the_store_file_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("new-data");
        let _store = Store::open(&data).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("podium.redb")), 0o600);
    }

    #[test]
    fn a_second_process_is_told_the_data_dir_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        assert!(matches!(Store::open(dir.path()), Err(StoreError::InUse)));
    }
}
