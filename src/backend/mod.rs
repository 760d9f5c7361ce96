//! The database side: one trait, implemented per database. A backend connects, locks, reads and
//! writes tracking records, and runs SQL in or out of a transaction. It decides no policy.

mod pg_lease;
mod pg_tls;
pub mod postgres;
pub mod sqlite;
mod sqlite_alloc;
mod sqlite_exec;

use std::time::Duration;

use crate::plan::Record;
use crate::settings::Table;
use crate::source::Dialect;
use crate::target::Target;

/// Why a database as a whole could not be worked on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BackendError {
    /// Not reachable within `--wait` (exit 3).
    #[error("{0}")]
    Unreachable(String),
    /// Another runner held the lock for longer than `--lock-timeout` (exit 3).
    #[error("{0}")]
    LockTimeout(String),
    /// Stopped by a signal.
    #[error("cancelled")]
    Cancelled,
    /// Anything else: a foreign tracking table, a file that is not a database, a read-only file.
    #[error("{0}")]
    Failed(String),
}

/// A migration that did not apply: the database's message, and how long it ran.
#[derive(Debug, Clone)]
pub struct Failure {
    pub message: String,
    pub elapsed: Duration,
    /// The statement was cancelled by a signal: nothing is recorded.
    pub cancelled: bool,
    /// The connection to the database is gone: the database fails as a whole, nothing can be
    /// recorded, and the next run tries again.
    pub lost: bool,
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
    /// A row for this migration was there when the run read the records under the lock (an
    /// earlier failed attempt): it is updated. Otherwise a plain insert will do.
    pub earlier: bool,
}

impl<'a> NewRecord<'a> {
    /// The same row, with the time the migration's SQL took.
    pub fn timed(&self, elapsed: Duration) -> NewRecord<'a> {
        NewRecord {
            execution_time_ms: Some(elapsed.as_millis() as i64),
            ..self.clone()
        }
    }
}

/// How a backend is opened.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    pub table: Table,
    /// Create a missing database (false for `plan`, `status`, `--dry-run`).
    pub create: bool,
    /// How long to keep retrying a server that does not answer yet.
    pub wait: Duration,
    /// How long SQLite waits for a write lock held by another connection.
    pub busy_timeout: Duration,
    /// How PostgreSQL runners exclude each other.
    pub lock_mode: crate::settings::LockMode,
    /// SQLite: while the runner lock is held, commit by zeroing the rollback journal instead of
    /// deleting it (see `Sqlite::set_rollback_journal`). Set when a run migrates one database.
    pub keep_journal: bool,
}

/// One open database.
pub trait Backend: Send {
    /// Which dialect variant of a migration applies here.
    fn dialect(&self) -> Dialect;

    /// The tracking records, or `None` when the table does not exist yet. Takes no lock.
    fn read_records(&mut self) -> Result<Option<Vec<Record>>, BackendError>;

    /// Takes the runner lock, waiting up to `timeout` for another runner to let go.
    fn lock(&mut self, timeout: Duration) -> Result<(), BackendError>;

    /// Releases the runner lock.
    fn unlock(&mut self) -> Result<(), BackendError>;

    /// Creates the tracking table, or adds the columns an older one lacks.
    fn prepare_table(&mut self) -> Result<(), BackendError>;

    /// Runs a migration's SQL and writes its success row: in one transaction when
    /// `transactional`, else one after the other. On failure the transaction is rolled back
    /// and nothing is written.
    fn apply(
        &mut self,
        sql: &str,
        transactional: bool,
        row: &NewRecord<'_>,
    ) -> Result<Duration, Failure>;

    /// Writes (inserts or updates) one tracking row on its own.
    fn record(&mut self, row: &NewRecord<'_>) -> Result<(), BackendError>;

    /// Every row of another tool's table (`table` and `columns` are plain identifiers of ours),
    /// each value as text; `None` when there is no such table.
    fn read_table(
        &mut self,
        table: &str,
        columns: &[&str],
    ) -> Result<Option<Vec<Vec<Option<String>>>>, BackendError>;
}

/// Opens the database a target names.
pub fn open(target: &Target, opts: &OpenOptions) -> Result<Box<dyn Backend>, BackendError> {
    match target {
        Target::Sqlite { path } => Ok(Box::new(sqlite::Sqlite::open(path, opts)?)),
        Target::Postgres { url } => Ok(Box::new(postgres::Postgres::open(url, opts)?)),
    }
}

/// The error for a table of this name whose shape is another tool's.
pub fn foreign_table(table: &Table) -> BackendError {
    BackendError::Failed(format!(
        "table {} has no migration_name column: it belongs to another tool \
         and is left alone; choose another table name with --table (MIGRATE_TABLE)",
        table.display()
    ))
}
