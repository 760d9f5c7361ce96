//! The database side: one trait, implemented per database. A backend connects, locks, reads and
//! writes tracking records, and runs SQL in or out of a transaction. It decides no policy.

pub mod postgres;
mod retry;
pub mod sqlite;
pub mod tracking;

use std::collections::HashMap;
use std::time::Duration;

use crate::plan::Record;
use crate::schema::{Live, Model, Name};
use crate::settings::{LockMode, Table, Target};
use crate::source::{Body, Dialect};

pub use retry::Backoff;

/// Why a database as a whole could not be worked on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BackendError {
    /// Not reachable within `--wait` (exit 3).
    #[error("{0}")]
    Unreachable(String),
    /// Reached, but it cannot be opened or read: authentication refused, no such database,
    /// not a database file (exit 3).
    #[error("{0}")]
    CannotOpen(String),
    /// Another runner held the lock for longer than `--lock-timeout` (exit 3).
    #[error("{0}")]
    LockTimeout(String),
    /// Stopped by a signal.
    #[error("cancelled")]
    Cancelled,
    /// Anything else: a foreign tracking table, a read-only file, a statement of ours refused.
    #[error("{0}")]
    Failed(String),
}

impl BackendError {
    /// Whether the records could not be read at all (the database was never worked on).
    pub fn unread(&self) -> bool {
        matches!(
            self,
            BackendError::Unreachable(_)
                | BackendError::CannotOpen(_)
                | BackendError::LockTimeout(_)
        )
    }
}

/// How an attempt to apply a migration ended without success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The database refused it: recorded as failed, the run goes on under the policy.
    Refused,
    /// Stopped by a signal: rolled back, nothing recorded.
    Cancelled,
    /// The connection is gone: nothing can be recorded, the database fails as a whole.
    ConnectionLost,
}

/// A migration that did not apply: how, the database's message, and how long it ran.
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
    pub elapsed: Duration,
}

impl Failure {
    /// A refusal before anything ran.
    pub fn refused(message: impl Into<String>) -> Failure {
        Failure {
            kind: FailureKind::Refused,
            message: message.into(),
            elapsed: Duration::ZERO,
        }
    }
}

/// What a tracking row says about one migration attempt.
#[derive(Debug, Clone)]
pub struct NewRecord<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub checksum: Option<&'a str>,
    pub success: bool,
    pub error_message: Option<&'a str>,
    pub execution_time_ms: Option<i64>,
    /// A row of this name was there when the records were read under the lock (an earlier
    /// failed attempt): it is updated. Otherwise a plain insert will do.
    pub row_exists: bool,
}

impl<'a> NewRecord<'a> {
    /// The same row, with the time the migration took.
    pub fn timed(&self, elapsed: Duration) -> NewRecord<'a> {
        NewRecord {
            execution_time_ms: Some(elapsed.as_millis() as i64),
            ..self.clone()
        }
    }

    /// The same row, as a failed attempt with its error.
    pub fn failed<'b>(&self, error: &'b str, elapsed: Option<Duration>) -> NewRecord<'b>
    where
        'a: 'b,
    {
        NewRecord {
            success: false,
            error_message: Some(error),
            execution_time_ms: elapsed.map(|e| e.as_millis() as i64),
            ..self.clone()
        }
    }
}

/// What a migration's SQL is committed together with: its record, or (for an undo) the
/// removal of its record.
#[derive(Debug, Clone, Copy)]
pub enum Then<'a> {
    /// Write this row (timed with how long the SQL took).
    Record(&'a NewRecord<'a>),
    /// Remove the row of this name: the migration is pending again.
    Forget(&'a str),
}

impl Then<'_> {
    /// The migration's name, for log lines.
    pub fn name(&self) -> &str {
        match self {
            Then::Record(r) => r.name,
            Then::Forget(n) => n,
        }
    }
}

/// How PostgreSQL migration statements wait for locks: each gives up after `lock_timeout`
/// (zero: waits forever) and the migration is tried again, backing off, for `retry_for`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockWaits {
    pub lock_timeout: Duration,
    pub retry_for: Duration,
    pub statement_timeout: Option<Duration>,
}

/// What a rehearsed migration did: each statement, and the locks it took (held until its
/// commit, in a real run).
#[derive(Debug, Clone)]
pub struct Rehearsal {
    pub name: String,
    pub statements: Vec<Rehearsed>,
    pub held: Vec<String>,
    /// It needed what earlier pending migrations make: rehearsed after them, in one
    /// transaction (a lock they took already is not listed again for it).
    pub after_earlier: bool,
}

/// What one statement of a rehearsed migration did (`plan --rehearse`).
#[derive(Debug, Clone)]
pub struct Rehearsed {
    /// The statement, folded to one line.
    pub statement: String,
    /// The locks it took: `AccessExclusiveLock on users`.
    pub locks: Vec<String>,
    /// The relations it rewrote (their storage file changed).
    pub rewrote: Vec<String>,
    pub elapsed: Duration,
    /// The database refused it (the rehearsal stops there).
    pub error: Option<String>,
}

/// How a backend is opened.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    pub table: Table,
    /// Create a missing database (false for `plan`, `status`, `--dry-run`).
    pub create: bool,
    /// A missing database is an error (`down`, `repair`, `resolve`, `baseline`: they work
    /// on what a database has, and never create one).
    pub must_exist: bool,
    /// How long to keep retrying a server that does not answer yet (zero: one attempt).
    pub wait: Duration,
    /// How long SQLite waits for a write lock held by another connection.
    pub busy_timeout: Duration,
    /// How PostgreSQL runners exclude each other.
    pub lock_mode: LockMode,
    /// PostgreSQL: create the database when it does not exist (needs CREATEDB).
    pub create_database: bool,
    /// PostgreSQL: how migration statements wait for locks.
    pub ddl: LockWaits,
    /// SQLite: while the runner lock is held, commit by zeroing the rollback journal instead of
    /// deleting it (see `Sqlite::set_rollback_journal`). Set when a run migrates one database.
    pub keep_journal: bool,
}

/// One open database.
pub trait Backend: Send {
    /// Which dialect variant of a migration applies here.
    fn dialect(&self) -> Dialect;

    /// The database as logs name it (no password).
    fn shown(&self) -> &str;

    /// The tracking records, or `None` when the table does not exist yet. Takes no lock.
    fn read_records(&mut self) -> Result<Option<Vec<Record>>, BackendError>;

    /// Takes the runner lock when it is free, waiting at most `wait` for another runner to let
    /// go (woken at the release where the database allows it); false when it was not had.
    fn try_lock(&mut self, wait: Duration) -> Result<bool, BackendError>;

    /// Who holds the runner lock, as far as the database can tell (for the log while waiting).
    fn lock_holder(&mut self) -> Option<String>;

    /// Takes the runner lock, waiting up to `timeout` for another runner to let go.
    fn lock(&mut self, timeout: Duration) -> Result<(), BackendError> {
        match lock_unless(self, timeout, &mut |_| Ok(true))? {
            Locked::Taken => Ok(()),
            Locked::NotNeeded => unreachable!("always needed"),
        }
    }

    /// Releases the runner lock.
    fn unlock(&mut self) -> Result<(), BackendError>;

    /// Creates the tracking table, or adds the columns an older one lacks.
    fn prepare_table(&mut self) -> Result<(), BackendError>;

    /// Runs a migration's SQL (or its down part) and then writes its success row (or removes
    /// its row): in one transaction unless the body runs outside one, else one after the
    /// other. On failure the transaction is rolled back and nothing is written.
    fn apply(&mut self, body: &Body, then: Then<'_>) -> Result<Duration, Failure>;

    /// Writes (inserts or updates) one tracking row on its own.
    fn record(&mut self, row: &NewRecord<'_>) -> Result<(), BackendError>;

    /// Removes the tracking row of this name.
    fn forget(&mut self, name: &str) -> Result<(), BackendError>;

    /// Stores another checksum in the tracking row of this name.
    fn set_checksum(&mut self, name: &str, checksum: &str) -> Result<(), BackendError>;

    /// A text that changes whenever the schema does (tables, columns, indexes, constraints),
    /// read in one query: equal to the one recorded after the last run, nothing was dropped
    /// or added since.
    fn schema_fingerprint(&mut self) -> Result<String, BackendError>;

    /// What the database has, as far as the declared schema is concerned.
    fn live_schema(&mut self) -> Result<Live, BackendError>;

    /// What `schema dump` writes of the database (PostgreSQL: read with an empty search path,
    /// and more than the declared schema compares).
    fn dump_schema(&mut self) -> Result<Live, BackendError> {
        self.live_schema()
    }

    /// Whether the table holds a row.
    fn has_rows(&mut self, table: &Name) -> Result<bool, BackendError>;

    /// The declared tables and indexes that exist in `live`, as the database itself describes
    /// them (built where nothing is kept: an in-memory database, a rolled-back transaction),
    /// for comparing definitions without comparing texts.
    fn probe_schema(&mut self, model: &Model, live: &Live) -> Result<Live, BackendError>;

    /// Which of these tables (plain identifiers of ours) exist here, each with its columns:
    /// to find another tool's history.
    fn tables_with_columns(
        &mut self,
        names: &[&str],
    ) -> Result<Vec<(String, Vec<String>)>, BackendError>;

    /// Runs migrations (name, SQL), in order, statement by statement, in one transaction that
    /// is rolled back, reporting what each did; stops at the first that fails. `Err` says why
    /// this backend does not rehearse.
    fn rehearse(&mut self, migrations: &[(String, Body)]) -> Result<Vec<Rehearsal>, String> {
        let _ = migrations;
        Err("rehearsals are for PostgreSQL (SQLite takes one lock for the whole file)".into())
    }

    /// The server's version as `server_version_num` gives it (170002), when it has one.
    fn server_version(&mut self) -> Option<u32> {
        None
    }

    /// The type of each of these (table, column) pairs that exists here, as `format_type`
    /// writes it (`character varying(20)`); for the lint's type changes. None where unknown.
    fn column_types(&mut self, columns: &[(String, String)]) -> HashMap<(String, String), String> {
        let _ = columns;
        HashMap::new()
    }

    /// Every row of another tool's table (`table` and `columns` are plain identifiers of ours),
    /// each value as text; `None` when there is no such table.
    fn read_table(
        &mut self,
        table: &str,
        columns: &[&str],
    ) -> Result<Option<Vec<Vec<Option<String>>>>, BackendError>;
}

/// How waiting for the runner lock ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locked {
    /// This runner holds it now.
    Taken,
    /// While waiting, the work it was wanted for went away (another runner did it).
    NotNeeded,
}

/// How long one wait for the lock lasts before `still_needed` is asked again and the holder
/// logged.
const LOCK_SLICE: Duration = Duration::from_millis(150);

/// Takes the runner lock, waiting up to `timeout`; between waits, `still_needed` is asked
/// whether the lock is still wanted (records re-read without it), and the holder is named in
/// the log every few seconds. A signal stops the wait.
pub fn lock_unless<B: Backend + ?Sized>(
    b: &mut B,
    timeout: Duration,
    still_needed: &mut dyn FnMut(&mut B) -> Result<bool, BackendError>,
) -> Result<Locked, BackendError> {
    let deadline = std::time::Instant::now() + timeout;
    let mut next_note = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        if crate::process::signals::caught().is_some() {
            return Err(BackendError::Cancelled);
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if b.try_lock(left.min(LOCK_SLICE))? {
            return Ok(Locked::Taken);
        }
        if crate::process::signals::caught().is_some() {
            return Err(BackendError::Cancelled);
        }
        if !still_needed(b)? {
            return Ok(Locked::NotNeeded);
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            let holder = b.lock_holder().unwrap_or_else(|| "another runner".into());
            return Err(BackendError::LockTimeout(format!(
                "the migration lock was not acquired within --lock-timeout ({}), held by {holder}",
                humantime::format_duration(timeout)
            )));
        }
        if now >= next_note {
            let holder = b.lock_holder().unwrap_or_else(|| "another runner".into());
            tracing::info!(
                database = b.shown(),
                "waiting for the migration lock, held by {holder}"
            );
            next_note = now + Duration::from_secs(5);
        }
    }
}

/// Opens the database a target names.
pub fn open(target: &Target, opts: &OpenOptions) -> Result<Box<dyn Backend>, BackendError> {
    match target {
        Target::Sqlite { path } => Ok(Box::new(sqlite::Sqlite::open(path, opts)?)),
        Target::Postgres { url, parsed } => {
            Ok(Box::new(postgres::Postgres::open(url, parsed, opts)?))
        }
    }
}
