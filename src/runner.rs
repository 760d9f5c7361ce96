//! Applies what is due to one database under the error policy, timing and recording each step.
//!
//! The no-op path reads the records once, without a lock, and stops there. Only when something
//! is due does it take the lock, prepare the table, and read the records again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::adopt::{self, Tool};
use crate::backend::{self, Backend, BackendError, Failure, NewRecord, OpenOptions};
use crate::fanout;
use crate::plan::{self, Entry, Record, State, StatusRow};
use crate::script::{self, ScriptEnv};
use crate::settings::Policy;
use crate::signals;
use crate::source::{Catalog, Version};
use crate::target::Target;

/// How a run treats one database.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub policy: Policy,
    pub lock_timeout: Duration,
    /// Only work out what would be done.
    pub dry_run: bool,
    /// Log each step a dry run would take (not for `plan`, which prints them).
    pub log_steps: bool,
    /// How long a script migration may run.
    pub script_timeout: Duration,
}

/// One migration `up` would attempt, for `plan` and `--dry-run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub state: State,
    pub no_transaction: bool,
    /// Run as a process, not SQL.
    pub script: bool,
    /// Why it would fail without running (conflict, unreadable file).
    pub unusable: Option<String>,
    /// The earlier migration after whose certain failure the policy tries no more.
    pub blocked_by: Option<String>,
}

/// What happened to one database.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub database: String,
    pub applied: usize,
    pub failed: usize,
    /// Due but not attempted (dry run, `stop`, `abort`, lock not had, cancelled).
    pub pending: usize,
    pub elapsed: Duration,
    /// The database as a whole could not be worked on.
    pub error: Option<BackendError>,
    /// The signal that stopped the run.
    pub cancelled: Option<i32>,
    /// The steps due, in order (filled for dry runs).
    pub steps: Vec<Step>,
    /// Nothing was applied on purpose.
    pub dry_run: bool,
}

impl Outcome {
    fn new(database: &str) -> Outcome {
        Outcome {
            database: database.to_string(),
            applied: 0,
            failed: 0,
            pending: 0,
            elapsed: Duration::ZERO,
            error: None,
            cancelled: None,
            steps: Vec::new(),
            dry_run: false,
        }
    }

    /// Whether anything went wrong with this database.
    pub fn is_failure(&self) -> bool {
        self.failed > 0 || self.error.is_some()
    }
}

/// What `status` found in one database.
#[derive(Debug, Clone)]
pub struct DbStatus {
    pub database: String,
    /// Every migration known from files or records, in order.
    pub rows: Vec<StatusRow>,
    /// The database could not be read.
    pub error: Option<BackendError>,
}

/// Reads every target's records (no lock, nothing created) and works out each migration's state.
pub fn status_all(
    targets: &[Target],
    catalog: &Catalog,
    open: &OpenOptions,
    jobs: usize,
) -> Vec<DbStatus> {
    fanout::map(targets, jobs, |target| {
        let database = target.shown();
        let rows = backend::open(target, open).and_then(|mut b| {
            let records = b.read_records()?.unwrap_or_default();
            let entries = plan::entries(&catalog.migrations, b.dialect(), &records);
            Ok(entries.iter().map(Entry::row).collect())
        });
        Some(match rows {
            Ok(rows) => DbStatus {
                database,
                rows,
                error: None,
            },
            Err(e) => {
                tracing::error!(database, error = %e, "{e}");
                DbStatus {
                    database,
                    rows: Vec::new(),
                    error: Some(e),
                }
            }
        })
    })
}

/// A run's first step on one database, taken ahead: opened, and its records read without a
/// lock. Started while the migration files are still being read, so that connecting (or SQLite
/// parsing its schema) and reading files overlap; a start with nothing to do feels that.
pub struct Early {
    started: Instant,
    /// The open database and what reading its records gave.
    opened: Result<(Box<dyn Backend>, RecordsRead), BackendError>,
}

type RecordsRead = Result<Option<Vec<Record>>, BackendError>;

/// Opens `target` and reads its records, as `run` would first do.
pub fn open_early(target: &Target, open: &OpenOptions) -> Early {
    let started = Instant::now();
    let opened = backend::open(target, open).map(|mut b| {
        let records = b.read_records();
        (b, records)
    });
    Early { started, opened }
}

/// Opens and migrates every target, up to `jobs` at once. Stops early on `abort` or a signal.
/// `early` is the first target's first step, when it was taken ahead (with a single target).
pub fn run_all(
    targets: &[Target],
    catalog: &Catalog,
    opts: RunOptions,
    open: &OpenOptions,
    jobs: usize,
    early: Option<Early>,
) -> Vec<Outcome> {
    let abort = AtomicBool::new(false);
    let early = std::sync::Mutex::new(early);
    fanout::map(targets, jobs, |target| {
        let early = if std::ptr::eq(target, &targets[0]) {
            early.lock().unwrap_or_else(|p| p.into_inner()).take()
        } else {
            None
        };
        if abort.load(Ordering::SeqCst) {
            tracing::warn!(database = %target, "not tried: --on-error abort after a failure");
            return None;
        }
        if signals::caught().is_some() {
            return None;
        }
        let database = target.shown();
        let env = script_env(target);
        let (started, opened) = match early {
            Some(e) => (e.started, e.opened.map(|(b, read)| (b, Some(read)))),
            None => (
                Instant::now(),
                backend::open(target, open).map(|b| (b, None)),
            ),
        };
        let mut outcome = match opened {
            Ok((mut b, read)) => run(b.as_mut(), &database, catalog, opts, &abort, &env, read),
            Err(e) => {
                let mut out = Outcome::new(&database);
                tracing::error!(database, error = %e, "{e}");
                if opts.policy == Policy::Abort {
                    abort.store(true, Ordering::SeqCst);
                }
                if matches!(e, BackendError::Cancelled) {
                    out.cancelled = signals::caught();
                } else {
                    out.error = Some(e);
                }
                out
            }
        };
        outcome.elapsed = started.elapsed();
        crate::progress::database_done();
        Some(outcome)
    })
}

/// What a script migration is told about its database.
fn script_env(target: &Target) -> ScriptEnv {
    match target {
        Target::Sqlite { path } => ScriptEnv {
            database_url: format!("sqlite:{}", path.display()),
            dialect: crate::source::Dialect::Sqlite,
            sqlite_path: Some(path.clone()),
        },
        Target::Postgres { url } => ScriptEnv {
            database_url: url.clone(),
            dialect: crate::source::Dialect::Postgres,
            sqlite_path: None,
        },
    }
}

/// Migrates one database. `abort` is shared by all databases of a run: set when `abort`
/// policy meets a failure, it stops the others too.
pub fn run(
    backend: &mut dyn Backend,
    database: &str,
    catalog: &Catalog,
    opts: RunOptions,
    abort: &AtomicBool,
    env: &ScriptEnv,
    records: Option<RecordsRead>,
) -> Outcome {
    let started = Instant::now();
    let mut out = Outcome::new(database);
    let result = run_inner(backend, catalog, opts, abort, &mut out, env, records);
    if let Err(e) = result {
        match e {
            BackendError::Cancelled => out.cancelled = signals::caught(),
            e => {
                tracing::error!(database, error = %e, "{e}");
                out.error = Some(e);
                if opts.policy == Policy::Abort {
                    abort.store(true, Ordering::SeqCst);
                }
            }
        }
    }
    if out.cancelled.is_none() {
        out.cancelled = signals::caught();
    }
    out.elapsed = started.elapsed();
    out
}

/// The steps `up` would take. Under `stop` or `abort`, those after a migration that is certain
/// to fail (a conflict, an unreadable file) are marked blocked.
fn steps(entries: &[&Entry<'_>], policy: Policy) -> Vec<Step> {
    let mut blocker: Option<String> = None;
    entries
        .iter()
        .map(|e| {
            let unusable = e.variant.and_then(|v| v.unusable());
            let step = Step {
                name: e.name.to_string(),
                state: e.state,
                no_transaction: e
                    .variant
                    .and_then(|v| v.content.as_ref().ok())
                    .is_some_and(|c| c.body.no_transaction),
                script: e
                    .variant
                    .and_then(|v| v.content.as_ref().ok())
                    .is_some_and(|c| c.script),
                unusable: unusable.clone(),
                blocked_by: blocker.clone(),
            };
            if unusable.is_some() && policy != Policy::Continue && blocker.is_none() {
                blocker = Some(e.name.to_string());
            }
            step
        })
        .collect()
}

fn warn_drift(database: &str, entries: &[Entry<'_>]) {
    for e in entries.iter().filter(|e| e.state == State::Changed) {
        tracing::warn!(
            database,
            migration = e.name,
            "{} has changed since it was applied: not re-run (write a new migration instead)",
            e.name
        );
    }
}

fn run_inner(
    backend: &mut dyn Backend,
    catalog: &Catalog,
    opts: RunOptions,
    abort: &AtomicBool,
    out: &mut Outcome,
    env: &ScriptEnv,
    records: Option<RecordsRead>,
) -> Result<(), BackendError> {
    let database = out.database.clone();
    let dialect = backend.dialect();
    let records: Vec<Record> = match records {
        Some(read) => read?,
        None => backend.read_records()?,
    }
    .unwrap_or_default();
    let entries = plan::entries(&catalog.migrations, dialect, &records);
    let due = plan::due(&entries);
    warn_drift(&database, &entries);
    if due.is_empty() || opts.dry_run {
        out.pending = due.len();
        out.steps = steps(&due, opts.policy);
        out.dry_run = opts.dry_run;
        for s in out.steps.iter().filter(|_| opts.log_steps) {
            tracing::info!(database, migration = %s.name, "would apply {}{}", s.name, if s.no_transaction { " (no transaction)" } else { "" });
        }
        return Ok(());
    }
    if abort.load(Ordering::SeqCst) || signals::caught().is_some() {
        out.pending = due.len();
        return Ok(());
    }

    backend
        .lock(opts.lock_timeout)
        .inspect_err(|_| out.pending = due.len())?;
    let result = apply_locked(backend, catalog, opts, abort, out, env);
    let unlocked = backend.unlock();
    result.and(unlocked)
}

fn apply_locked(
    backend: &mut dyn Backend,
    catalog: &Catalog,
    opts: RunOptions,
    abort: &AtomicBool,
    out: &mut Outcome,
    env: &ScriptEnv,
) -> Result<(), BackendError> {
    let database = out.database.clone();
    backend.prepare_table()?;
    // Another runner may have applied some while this one waited for the lock.
    let records = backend.read_records()?.unwrap_or_default();
    let entries = plan::entries(&catalog.migrations, backend.dialect(), &records);
    let due = plan::due(&entries);

    for (i, entry) in due.iter().enumerate() {
        if signals::caught().is_some() {
            out.pending = due.len() - i;
            return Err(BackendError::Cancelled);
        }
        if abort.load(Ordering::SeqCst) {
            out.pending = due.len() - i;
            return Ok(());
        }
        let (Some(m), Some(variant)) = (entry.migration, entry.variant) else {
            continue;
        };
        let mut row = NewRecord {
            name: entry.record_name(),
            description: &m.description,
            checksum: variant.checksum(),
            success: true,
            error_message: None,
            execution_time_ms: None,
            earlier: entry.record.is_some(),
        };
        let failure: Option<String> = match (&variant.content, variant.unusable()) {
            (_, Some(why)) if !variant.conflicts.is_empty() => {
                // Which file is right is unknown: nothing is run and nothing recorded.
                Some(why)
            }
            (Err(why), _) => {
                let why = why.clone();
                row.success = false;
                row.error_message = Some(&why);
                record_failure(backend, &database, &row);
                Some(why)
            }
            (Ok(content), _) => {
                let transactional = !content.body.no_transaction;
                crate::progress::migration_started(&database, &m.name);
                let result = if content.script {
                    run_script(backend, &variant.path, &m.name, env, &database, opts, &row)
                } else {
                    backend.apply(&content.body.sql, transactional, &row)
                };
                match result {
                    Ok(elapsed) => {
                        out.applied += 1;
                        let ms = elapsed.as_millis() as u64;
                        tracing::info!(database, migration = %m.name, duration_ms = ms, "applied {} in {ms} ms", m.name);
                        None
                    }
                    Err(f) if f.cancelled => {
                        out.pending = due.len() - i;
                        if content.script {
                            // A script cannot be rolled back: say so in its record, and it is
                            // tried again next time.
                            row.success = false;
                            row.error_message = Some(&f.message);
                            row.execution_time_ms = Some(f.elapsed.as_millis() as i64);
                            record_failure(backend, &database, &row);
                            tracing::warn!(database, migration = %m.name, "stopped {}: {}", m.name, f.message);
                        } else {
                            tracing::warn!(database, migration = %m.name, "cancelled {}: rolled back", m.name);
                        }
                        return Err(BackendError::Cancelled);
                    }
                    Err(f) if f.lost => {
                        out.pending = due.len() - i;
                        return Err(BackendError::Failed(format!(
                            "the connection was lost while applying {}: {}",
                            m.name, f.message
                        )));
                    }
                    Err(f) => {
                        let ms = f.elapsed.as_millis() as i64;
                        row.success = false;
                        row.error_message = Some(&f.message);
                        row.execution_time_ms = Some(ms);
                        record_failure(backend, &database, &row);
                        Some(f.message.clone())
                    }
                }
            }
        };
        if let Some(why) = failure {
            out.failed += 1;
            tracing::error!(database, migration = %m.name, error = %why, "failed {}: {why}", m.name);
            match opts.policy {
                Policy::Continue => {}
                Policy::Stop => {
                    out.pending = due.len() - i - 1;
                    if out.pending > 0 {
                        tracing::warn!(
                            database,
                            "--on-error stop: {} later migration(s) of this database not tried",
                            out.pending
                        );
                    }
                    return Ok(());
                }
                Policy::Abort => {
                    abort.store(true, Ordering::SeqCst);
                    out.pending = due.len() - i - 1;
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// Runs a script migration and, when it succeeds, writes its success row.
fn run_script(
    backend: &mut dyn Backend,
    path: &std::path::Path,
    name: &str,
    env: &ScriptEnv,
    database: &str,
    opts: RunOptions,
    row: &NewRecord<'_>,
) -> Result<Duration, Failure> {
    match script::run(path, name, env, database, opts.script_timeout) {
        Ok(elapsed) => backend
            .record(&row.timed(elapsed))
            .map(|_| elapsed)
            .map_err(|e| Failure {
                message: e.to_string(),
                elapsed,
                cancelled: false,
                lost: false,
            }),
        Err(f) => Err(Failure {
            message: f.message,
            elapsed: f.elapsed,
            cancelled: f.cancelled,
            lost: false,
        }),
    }
}

/// Writes a failure row; a failure to write it is logged, not fatal (the migration is still
/// pending and is tried again next time either way).
fn record_failure(backend: &mut dyn Backend, database: &str, row: &NewRecord<'_>) {
    if let Err(e) = backend.record(row) {
        tracing::error!(database, migration = row.name, error = %e, "cannot record the failure: {e}");
    }
}

/// What `baseline` did to one database.
#[derive(Debug, Clone)]
pub struct BaselineOutcome {
    pub database: String,
    /// Recorded as applied without running them.
    pub recorded: Vec<String>,
    /// Already recorded as applied: left as they are.
    pub already: usize,
    /// Why nothing was written (a failed record without `--force`, a conflict, an unreadable file).
    pub refused: Vec<String>,
    /// What another tool's history holds that is not adopted (a dirty state, failed rows).
    pub reported: Vec<String>,
    pub error: Option<BackendError>,
}

/// Records the migrations up to `through` (all when `None`) as applied, without running them,
/// for a database that already has their schema. Refuses, writing nothing, when a migration in
/// range failed before (unless `force`) or its file cannot be used.
pub fn baseline(
    target: &Target,
    catalog: &Catalog,
    open: &OpenOptions,
    through: Option<&Version>,
    from: Option<Tool>,
    force: bool,
    lock_timeout: Duration,
) -> BaselineOutcome {
    let database = target.shown();
    let mut out = BaselineOutcome {
        database: database.clone(),
        recorded: Vec::new(),
        already: 0,
        refused: Vec::new(),
        reported: Vec::new(),
        error: None,
    };
    let result = backend::open(target, open).and_then(|mut b| {
        b.lock(lock_timeout)?;
        let done = baseline_locked(b.as_mut(), catalog, through, from, force, &mut out);
        let unlocked = b.unlock();
        done.and(unlocked)
    });
    if let Err(e) = result {
        tracing::error!(database, error = %e, "{e}");
        out.error = Some(e);
    }
    out
}

fn baseline_locked(
    b: &mut dyn Backend,
    catalog: &Catalog,
    through: Option<&Version>,
    from: Option<Tool>,
    force: bool,
    out: &mut BaselineOutcome,
) -> Result<(), BackendError> {
    let adoption = match from {
        None => None,
        Some(tool) => {
            let rows = b.read_table(tool.table(), tool.columns())?.ok_or_else(|| {
                BackendError::Failed(format!(
                    "no {} table here: nothing to adopt from {}",
                    tool.table(),
                    tool.name()
                ))
            })?;
            let a = adopt::read(tool, &rows);
            out.reported = a.reported.clone();
            Some(a)
        }
    };
    b.prepare_table()?;
    let records = b.read_records()?.unwrap_or_default();
    let entries = plan::entries(&catalog.migrations, b.dialect(), &records);
    let mut rows = Vec::new();
    for e in &entries {
        let (Some(m), Some(v)) = (e.migration, e.variant) else {
            continue;
        };
        if through.is_some_and(|t| m.version > *t)
            || adoption
                .as_ref()
                .is_some_and(|a| !a.applied(&m.version, &m.name))
        {
            continue;
        }
        match e.state {
            State::Applied | State::Changed => out.already += 1,
            State::Failed if !force => out.refused.push(format!(
                "{}: its last attempt failed; --force records it as applied anyway",
                e.name
            )),
            State::Conflict | State::Pending | State::Failed => match v.unusable() {
                Some(why) => out.refused.push(format!("{}: {why}", e.name)),
                None => rows.push((e.record_name(), v.checksum(), e.record.is_some())),
            },
            State::Missing => {}
        }
    }
    if !out.refused.is_empty() {
        return Ok(());
    }
    for (name, checksum, earlier) in rows {
        b.record(&NewRecord {
            name,
            description: "baseline",
            checksum,
            success: true,
            error_message: None,
            execution_time_ms: None,
            earlier,
        })?;
        out.recorded.push(name.to_string());
    }
    Ok(())
}
