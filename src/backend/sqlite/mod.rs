//! The SQLite backend (rusqlite, bundled SQLite).
//!
//! The runner lock is a `flock` on the database file itself: other migrate-entrypoint processes
//! (also in other containers sharing the volume) respect it, and it does not interact with
//! SQLite's own POSIX locks on Linux.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, params};

mod alloc;
mod exec;
mod introspect;

use exec::ExecError;

use super::tracking::{self, Cell, foreign_table};
use super::{Backend, BackendError, Backoff, Failure, FailureKind, NewRecord, OpenOptions, Then};
use crate::plan::Record;
use crate::process::signals;
use crate::schema::{Live, Model, Name};
use crate::settings::Table;
use crate::source::Body;
use crate::source::Dialect;

pub use introspect::check as check_declared;

/// The busy timeout in milliseconds, read by the busy handler (a plain `fn`, so it cannot
/// capture; every connection of a run uses the same setting).
static BUSY_TIMEOUT_MS: AtomicU64 = AtomicU64::new(5_000);

/// One SQLite database file.
pub struct Sqlite {
    // Field order matters: the connection is dropped (closed) before the lock file, because
    // closing any descriptor of a file drops all of this process's POSIX locks on it, SQLite's
    // included.
    conn: Option<Connection>,
    lock: Option<Flock<File>>,
    /// Kept open after unlocking, for the reason above.
    unlocked: Option<File>,
    path: PathBuf,
    shown: String,
    table: Table,
    keep_journal: bool,
}

impl Sqlite {
    /// Opens (and, with `create`, creates) the file. A missing file without `create` is a
    /// database without records.
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<Sqlite, BackendError> {
        static CONFIGURE: std::sync::Once = std::sync::Once::new();
        CONFIGURE.call_once(|| {
            alloc::install();
            // Memory statistics take a process-wide mutex on every allocation, which serializes
            // databases migrated at once (--jobs); nothing here reads them. Measured with
            // bench/fanout.sh on tmpfs: the 2-job speed-up went from 1.23x to 1.65x.
            // SAFETY: called once, before any connection exists (SQLite is not initialized yet).
            unsafe {
                rusqlite::ffi::sqlite3_config(
                    rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                    0 as std::ffi::c_int,
                );
            }
        });
        let shown = format!("sqlite:{}", path.display());
        BUSY_TIMEOUT_MS.store(
            opts.busy_timeout.as_millis().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
        let exists = path.exists();
        if opts.must_exist && !exists {
            return Err(BackendError::Failed(format!(
                "no database file at {}: nothing there to work on (this command never creates one)",
                path.display()
            )));
        }
        let conn = if opts.create || exists {
            let flags = if opts.create {
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
            } else {
                OpenFlags::SQLITE_OPEN_READ_ONLY
            } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let mut conn = Connection::open_with_flags(path, flags).map_err(|e| {
                BackendError::Failed(format!(
                    "cannot open: {}{}",
                    message(&e),
                    why_not_writable(path)
                ))
            })?;
            conn.busy_handler(Some(busy_wait))
                .map_err(|e| BackendError::Failed(format!("cannot configure: {}", message(&e))))?;
            if !exists {
                // A mistyped path must show: the run goes on against a new, empty file.
                tracing::info!(database = %shown, "created {}", path.display());
            }
            Some(conn)
        } else {
            None
        };
        Ok(Sqlite {
            conn,
            lock: None,
            unlocked: None,
            path: path.to_path_buf(),
            shown,
            table: opts.table.clone(),
            keep_journal: opts.keep_journal,
        })
    }

    fn quoted_table(&self) -> String {
        format!("\"{}\"", self.table.name)
    }

    fn fail(&self, what: &str, e: &rusqlite::Error) -> BackendError {
        BackendError::Failed(format!("{what}: {}", message(e)))
    }

    /// The tracking table's columns, or `None` when it does not exist.
    fn columns(&self, conn: &Connection) -> Result<Option<Vec<String>>, BackendError> {
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_table_info(?1)")
            .map_err(|e| self.fail("cannot read the schema", &e))?;
        let cols: Vec<String> = stmt
            .query_map([&self.table.name], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.fail("cannot read the schema", &e))?;
        Ok(if cols.is_empty() { None } else { Some(cols) })
    }

    /// Switches this connection's rollback journal mode from `from` to `to`, and only from
    /// `from`: WAL is the database's own setting (kept in the file, and a migration may set it),
    /// never touched here.
    ///
    /// With `keep_journal`, while the lock is held, commits zero the journal's header instead
    /// of deleting the file (`persist`): a run of migrations then creates and deletes no
    /// journal file per migration. Switching back to `delete` at unlock removes it. Either mode
    /// is as safe as the other (a zeroed header is not a hot journal), and other connections
    /// (the app's) keep theirs: rollback modes are per connection. A failure only leaves the
    /// mode as it was.
    fn set_rollback_journal(&self, from: &str, to: &str) {
        let Some(conn) = self.conn.as_ref() else {
            return;
        };
        let mode = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, String>(0));
        if let Ok(m) = mode("PRAGMA journal_mode")
            && m.eq_ignore_ascii_case(from)
            && let Err(e) = mode(&format!("PRAGMA journal_mode = {to}"))
        {
            tracing::debug!(database = %self.shown, "journal mode left as {from}: {}", message(&e));
        }
    }

    fn conn(&self) -> Result<&Connection, BackendError> {
        self.conn
            .as_ref()
            .ok_or_else(|| BackendError::Failed("opened without write access".to_string()))
    }
}

/// Waits for a lock held by another connection: short sleeps, given up at the busy timeout or
/// when a signal asks to stop. (SQLite calls it between its own attempts, counting them; it
/// cannot keep a `Backoff` of ours.)
fn busy_wait(attempt: i32) -> bool {
    let step = |a: i32| match a {
        0..10 => 2,
        10..30 => 10,
        _ => 50,
    };
    let waited: u64 = (0..attempt).map(step).sum();
    if signals::caught().is_some() || waited >= BUSY_TIMEOUT_MS.load(Ordering::Relaxed) {
        return false;
    }
    std::thread::sleep(Duration::from_millis(step(attempt)));
    true
}

/// Why SQLite may not open a file here, as a user can act on it: a read-only file system (a
/// `:ro` volume), or a folder or file this user may not write (a volume that belongs to root
/// under `--user`).
fn why_not_writable(path: &Path) -> String {
    use nix::unistd::{AccessFlags, Uid, access};
    use std::os::unix::fs::MetadataExt;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let uid = Uid::effective();
    let read_only = nix::sys::statvfs::statvfs(folder)
        .is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY));
    if read_only {
        return format!(
            " ({} is on a read-only file system: a read-only volume?)",
            folder.display()
        );
    }
    let denied = |p: &Path| access(p, AccessFlags::W_OK).is_err();
    let owner = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| {
                format!(
                    "it belongs to uid {}, mode {:o}",
                    m.uid(),
                    m.mode() & 0o7777
                )
            })
            .unwrap_or_default()
    };
    if path.exists() && denied(path) {
        return format!(
            " ({} is not writable by uid {uid}: {})",
            path.display(),
            owner(path)
        );
    }
    if denied(folder) {
        return format!(
            " (the folder {} is not writable by uid {uid}: {}; SQLite writes its journal there)",
            folder.display(),
            owner(folder)
        );
    }
    String::new()
}

/// The database's own message, without rusqlite's wrapping.
fn message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(err, Some(msg)) => {
            format!("{msg} ({})", error_name(err.code))
        }
        rusqlite::Error::SqliteFailure(err, None) => err.to_string(),
        // Its Display repeats the whole statement; say where instead.
        rusqlite::Error::SqlInputError {
            msg, sql, offset, ..
        } => format!("{msg} ({})", position(sql, (*offset).max(0) as usize)),
        other => other.to_string(),
    }
}

/// `line 3, column 7` of a byte offset in a text.
fn position(text: &str, offset: usize) -> String {
    let before = &text[..text.floor_char_boundary(offset.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let column = before.chars().count()
        - before
            .rfind('\n')
            .map_or(0, |i| before[..=i].chars().count())
        + 1;
    format!("line {line}, column {column}")
}

/// A failed statement was cancelled when a signal came (SQLite's interrupt), else refused.
fn kind(interrupted: bool) -> FailureKind {
    if interrupted || signals::caught().is_some() {
        FailureKind::Cancelled
    } else {
        FailureKind::Refused
    }
}

fn error_name(code: rusqlite::ErrorCode) -> &'static str {
    use rusqlite::ErrorCode::*;
    match code {
        DatabaseBusy | DatabaseLocked => "database is locked",
        ReadOnly => "read-only",
        NotADatabase => "not a database",
        DiskFull => "disk full",
        OperationInterrupted => "interrupted",
        ConstraintViolation => "constraint",
        _ => "error",
    }
}

fn cell(v: Value) -> Cell {
    match v {
        Value::Null => Cell::Null,
        Value::Integer(i) => Cell::Int(i),
        Value::Real(r) => Cell::Real(r),
        Value::Text(t) => Cell::Text(t),
        Value::Blob(b) => Cell::Text(String::from_utf8_lossy(&b).into_owned()),
    }
}

/// A read that failed: a file that is not a database cannot be opened (exit 3); anything else
/// fails the database.
fn read_error(what: &str, e: &rusqlite::Error) -> BackendError {
    let text = format!("{what}: {}", message(e));
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => BackendError::CannotOpen(text),
        _ => BackendError::Failed(text),
    }
}

impl Backend for Sqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn shown(&self) -> &str {
        &self.shown
    }

    fn read_records(&mut self) -> Result<Option<Vec<Record>>, BackendError> {
        let Some(conn) = self.conn.as_ref() else {
            return Ok(None);
        };
        // One statement, whatever the table's shape: its columns say which are there.
        let sql = format!("SELECT rowid, * FROM {}", self.quoted_table());
        let mut stmt = match conn.prepare(&sql) {
            Ok(s) => s,
            Err(e) if message(&e).starts_with("no such table") => return Ok(None),
            Err(e) => return Err(read_error("cannot read the tracking table", &e)),
        };
        let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
        // Column 0 is the rowid; the table's own columns follow.
        let at = |c: &str| names.iter().skip(1).position(|n| n == c).map(|i| i + 1);
        if at("migration_name").is_none() {
            return Err(foreign_table(&self.table));
        }
        let mut rows: Vec<(i64, Record)> = stmt
            .query_map([], |r| {
                let get = |c: &str| at(c).map(|i| r.get::<_, Value>(i).map(cell));
                let record = tracking::record(|c| get(c).and_then(Result::ok));
                let order = match get("id") {
                    Some(Ok(Cell::Int(id))) => id,
                    _ => r.get(0)?,
                };
                Ok((order, record))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| read_error("cannot read the tracking table", &e))?;
        rows.sort_by_key(|(order, _)| *order);
        Ok(Some(rows.into_iter().map(|(_, r)| r).collect()))
    }

    fn try_lock(&mut self, wait: Duration) -> Result<bool, BackendError> {
        // flock has no timed wait: short polls (a system call each), so that a waiter goes
        // ahead within milliseconds of the release.
        let mut polls = Backoff::new(wait, Duration::from_millis(2), Duration::from_millis(20));
        let mut file = self.unlocked.take().map(Ok).unwrap_or_else(|| {
            File::open(&self.path)
                .map_err(|e| BackendError::Failed(format!("cannot open for locking: {e}")))
        })?;
        loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => {
                    self.lock = Some(lock);
                    if self.keep_journal {
                        self.set_rollback_journal("delete", "persist");
                    }
                    return Ok(true);
                }
                Err((f, nix::errno::Errno::EWOULDBLOCK)) => file = f,
                Err((f, e)) => {
                    self.unlocked = Some(f);
                    return Err(BackendError::Failed(format!("cannot lock: {e}")));
                }
            }
            if polls.remaining().is_zero() || polls.sleep().is_err() {
                self.unlocked = Some(file);
                return Ok(false);
            }
        }
    }

    fn lock_holder(&mut self) -> Option<String> {
        Some("another migrate-entrypoint (a flock on the database file)".into())
    }

    fn unlock(&mut self) -> Result<(), BackendError> {
        if self.lock.is_some() && self.keep_journal {
            self.set_rollback_journal("persist", "delete");
        }
        if let Some(lock) = self.lock.take() {
            match lock.unlock() {
                Ok(file) => self.unlocked = Some(file),
                Err((lock, e)) => {
                    self.lock = Some(lock);
                    return Err(BackendError::Failed(format!("cannot unlock: {e}")));
                }
            }
        }
        Ok(())
    }

    fn prepare_table(&mut self) -> Result<(), BackendError> {
        let conn = self.conn()?;
        let t = self.quoted_table();
        let existing = match self.columns(conn)? {
            None => {
                // INTEGER PRIMARY KEY without AUTOINCREMENT: rows are never deleted, so ids still
                // only grow, and each record no longer rewrites sqlite_sequence (a page more to
                // journal and sync per migration).
                conn.execute_batch(&tracking::create_table(&t, Dialect::Sqlite))
                    .map_err(|e| {
                        self.fail(&format!("cannot create table {}", self.table.name), &e)
                    })?;
                tracing::debug!(database = %self.shown, table = %self.table.name, "created the tracking table {}", self.table.name);
                return Ok(());
            }
            Some(cols) => cols,
        };
        if !existing.iter().any(|c| c == "migration_name") {
            return Err(foreign_table(&self.table));
        }
        tracking::complete(
            &self.table,
            &t,
            &existing,
            Dialect::Sqlite,
            &self.shown,
            |sql| conn.execute_batch(sql).map_err(|e| message(&e)),
        )
    }

    fn apply(&mut self, body: &Body, then: Then<'_>) -> Result<Duration, Failure> {
        let (sql, transactional) = (body.sql.as_str(), !body.no_transaction);
        let conn = self.conn().map_err(|e| Failure::refused(e.to_string()))?;
        let t = self.quoted_table();
        let interrupt = conn.get_interrupt_handle();
        let _cancel = signals::on_cancel(move || interrupt.interrupt());
        let started = Instant::now();
        let fail = |e: rusqlite::Error| Failure {
            kind: kind(e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted)),
            message: message(&e),
            elapsed: started.elapsed(),
        };
        let exec_fail = |e: ExecError| Failure {
            kind: kind(e.interrupted()),
            message: match e.offset {
                Some(at) => format!("{} ({})", e.message, position(sql, at)),
                None => format!(
                    "{} ({})",
                    e.message,
                    error_name(rusqlite::ffi::Error::new(e.code).code)
                ),
            },
            elapsed: started.elapsed(),
        };
        let rollback = |failure: Failure| {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            failure
        };
        if !transactional {
            exec::exec_all(conn, sql).map_err(exec_fail)?;
            let elapsed = started.elapsed();
            finish(conn, &t, then, elapsed).map_err(fail)?;
            return Ok(elapsed);
        }
        // IMMEDIATE takes the write lock up front, so the migration never fails half-way for
        // lack of it.
        conn.execute_batch("BEGIN IMMEDIATE").map_err(fail)?;
        exec::exec_all(conn, sql).map_err(|e| rollback(exec_fail(e)))?;
        let elapsed = started.elapsed();
        if conn.is_autocommit() {
            // The file ended our transaction itself (a COMMIT of its own): its changes are in;
            // record them, and say how to mark such a file.
            let name = then.name();
            tracing::warn!(database = %self.shown, migration = name, "{name} ends its own transaction; mark it `-- migrate:no-transaction` to say so");
            finish(conn, &t, then, elapsed).map_err(fail)?;
            return Ok(elapsed);
        }
        finish(conn, &t, then, elapsed)
            .and_then(|_| conn.execute_batch("COMMIT"))
            .map_err(|e| rollback(fail(e)))?;
        Ok(elapsed)
    }

    fn tables_with_columns(
        &mut self,
        names: &[&str],
    ) -> Result<Vec<(String, Vec<String>)>, BackendError> {
        let Some(conn) = self.conn.as_ref() else {
            return Ok(Vec::new());
        };
        let list: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
        let sql = format!(
            "SELECT m.name, group_concat(p.name, ',') FROM sqlite_master m \
             JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name IN ({}) \
             GROUP BY m.name",
            list.join(", ")
        );
        let read = || -> rusqlite::Result<Vec<(String, Vec<String>)>> {
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map([], |r| {
                let cols: String = r.get(1)?;
                Ok((r.get(0)?, cols.split(',').map(str::to_string).collect()))
            })?;
            rows.collect()
        };
        read().map_err(|e| self.fail("cannot read the schema", &e))
    }

    fn read_table(
        &mut self,
        table: &str,
        columns: &[&str],
    ) -> Result<Option<Vec<Vec<Option<String>>>>, BackendError> {
        let Some(conn) = self.conn.as_ref() else {
            return Ok(None);
        };
        let exists: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .map_err(|e| self.fail("cannot read the schema", &e))?;
        if exists == 0 {
            return Ok(None);
        }
        let cols: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
        let sql = format!("SELECT {} FROM \"{table}\"", cols.join(", "));
        let mut stmt = conn
            .prepare(&sql)
            .map_err(|e| self.fail(&format!("cannot read {table}"), &e))?;
        let rows = stmt
            .query_map([], |r| {
                (0..columns.len())
                    .map(|i| r.get::<_, Value>(i).map(|v| cell(v).text()))
                    .collect()
            })
            .and_then(|rows| rows.collect::<Result<Vec<Vec<Option<String>>>, _>>())
            .map_err(|e| self.fail(&format!("cannot read {table}"), &e))?;
        Ok(Some(rows))
    }

    fn record(&mut self, row: &NewRecord<'_>) -> Result<(), BackendError> {
        let conn = self.conn()?;
        write_record(conn, &self.quoted_table(), row)
            .map_err(|e| self.fail("cannot write the tracking record", &e))
    }

    fn forget(&mut self, name: &str) -> Result<(), BackendError> {
        let conn = self.conn()?;
        finish(
            conn,
            &self.quoted_table(),
            Then::Forget(name),
            Duration::ZERO,
        )
        .map_err(|e| self.fail("cannot remove the tracking record", &e))
    }

    fn schema_fingerprint(&mut self) -> Result<String, BackendError> {
        match &self.conn {
            Some(conn) => introspect::fingerprint(conn)
                .map_err(|e| read_error("cannot read the schema version", &e)),
            None => Ok("sqlite:none".into()),
        }
    }

    fn live_schema(&mut self) -> Result<Live, BackendError> {
        match &self.conn {
            Some(conn) => {
                introspect::live(conn).map_err(|e| read_error("cannot read the schema", &e))
            }
            None => Ok(Live::default()),
        }
    }

    fn has_rows(&mut self, table: &Name) -> Result<bool, BackendError> {
        match &self.conn {
            Some(conn) => {
                introspect::has_rows(conn, table).map_err(|e| read_error("cannot count rows", &e))
            }
            None => Ok(false),
        }
    }

    fn probe_schema(&mut self, model: &Model, live: &Live) -> Result<Live, BackendError> {
        introspect::probe(model, live).map_err(|e| {
            BackendError::Failed(format!("cannot probe the declared schema: {}", message(&e)))
        })
    }

    fn set_checksum(&mut self, name: &str, checksum: &str) -> Result<(), BackendError> {
        let conn = self.conn()?;
        let sql = format!(
            "UPDATE {} SET checksum = ?2 WHERE migration_name = ?1",
            self.quoted_table()
        );
        conn.execute(&sql, params![name, checksum])
            .map(|_| ())
            .map_err(|e| self.fail("cannot write the tracking record", &e))
    }
}

/// What goes with a migration's SQL: its record (timed), or the removal of its record.
fn finish(
    conn: &Connection,
    table: &str,
    then: Then<'_>,
    elapsed: Duration,
) -> rusqlite::Result<()> {
    match then {
        Then::Record(row) => write_record(conn, table, &row.timed(elapsed)),
        Then::Forget(name) => conn
            .execute(
                &format!("DELETE FROM {table} WHERE migration_name = ?1"),
                [name],
            )
            .map(|_| ()),
    }
}

/// Updates the row of that name, or inserts one. (Not `ON CONFLICT`: older tables may lack the
/// unique constraint it needs. The runner lock keeps this free of races.)
fn write_record(conn: &Connection, table: &str, r: &NewRecord<'_>) -> rusqlite::Result<()> {
    let changed = conn.execute(
        &format!(
            "UPDATE {table} SET applied_at = CURRENT_TIMESTAMP, description = ?2, checksum = ?3, \
             success = ?4, error_message = ?5, execution_time_ms = ?6 WHERE migration_name = ?1"
        ),
        params![
            r.name,
            r.description,
            r.checksum,
            r.success,
            r.error_message,
            r.execution_time_ms
        ],
    )?;
    if changed == 0 {
        conn.execute(
            &format!(
                "INSERT INTO {table} (migration_name, applied_at, description, checksum, success, \
                 error_message, execution_time_ms) VALUES (?1, CURRENT_TIMESTAMP, ?2, ?3, ?4, ?5, ?6)"
            ),
            params![r.name, r.description, r.checksum, r.success, r.error_message, r.execution_time_ms],
        )?;
    }
    Ok(())
}
