//! The entrypoint, `up` and `plan`: find the migrations, and for each database apply what is
//! due under the error policy, timing and recording each attempt; then exec CMD.
//!
//! The no-op path reads the records once, without a lock, and stops there. Only when something
//! is due does it take the lock, prepare the table, and read the records again.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::adopt::Tool;
use super::declare::DeclaredRun;
use super::{Event, Events, Finished, Opened, Show, fanout, open_options};
use crate::backend::{
    self, Backend, BackendError, Failure, FailureKind, Locked, NewRecord, OpenOptions, Then,
};
use crate::lint::LintPolicy;
use crate::plan::{self, Entry, Step};
use crate::process::exec::{self, Resolved};
use crate::process::script::{self, ScriptEnv};
use crate::process::signals;
use crate::settings::{LogFormat, Mode, Policy, Settings, Table, Target};
use crate::source::{Catalog, Dialect, Script, Version};

/// Why a database was not started at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStarted {
    /// `--on-error abort` after another database's failure.
    Aborted,
    /// A signal asked to stop before its turn.
    Signalled,
}

/// What happened to one database.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub database: String,
    pub applied: usize,
    pub failed: usize,
    /// Due but not attempted (dry run, `stop`, `abort`, lock not acquired, signal).
    pub pending: usize,
    /// The records were read: the counts say how things stand.
    pub read: bool,
    pub elapsed: Duration,
    /// The database as a whole could not be worked on.
    pub error: Option<BackendError>,
    pub not_started: Option<NotStarted>,
    /// The steps due, in order (filled for dry runs).
    pub steps: Vec<Step>,
    /// Nothing was applied on purpose.
    pub dry_run: bool,
    /// Pending migrations after `--target`, left alone.
    pub beyond_target: usize,
    /// What `plan` says besides the steps: the declared schema's differences and the
    /// statements it does not manage.
    pub notes: Vec<String>,
}

impl Outcome {
    fn new(database: String) -> Outcome {
        Outcome {
            database,
            applied: 0,
            failed: 0,
            pending: 0,
            read: false,
            elapsed: Duration::ZERO,
            error: None,
            not_started: None,
            steps: Vec::new(),
            dry_run: false,
            beyond_target: 0,
            notes: Vec::new(),
        }
    }

    /// Whether anything went wrong with this database.
    pub fn is_failure(&self) -> bool {
        self.failed > 0 || self.error.is_some() || self.not_started == Some(NotStarted::Aborted)
    }
}

/// Entrypoint mode: migrate, then exec CMD (or end as `up` does when there is none).
pub fn entrypoint(
    s: &Settings,
    cmd: Option<Resolved>,
    show: &dyn Show,
    events: Events<'_>,
) -> Finished {
    if s.wait_only && !s.skip {
        // App pods beside a Job that migrates: they start on the schema they were built for.
        let ready = super::wait::wait_migrated(s);
        if ready.iter().any(|r| *r != super::wait::Readiness::Ready) || signals::caught().is_some()
        {
            tracing::error!("not running CMD: not every database is migrated");
            return Finished::WaitedMigrated(ready, signals::caught());
        }
        return match cmd {
            Some(cmd) => start(s, cmd),
            None => Finished::WaitedMigrated(ready, None),
        };
    }
    let finished = if s.skip {
        tracing::info!("--skip: no database touched");
        Finished::Migrated {
            outcomes: Vec::new(),
            signal: None,
        }
    } else {
        up(s, show, events)
    };
    let Some(cmd) = cmd else {
        return finished;
    };
    if let Finished::Migrated { outcomes, .. } = &finished {
        // A signal, whenever it came, or `abort` after a failure ends the run; other failures
        // still run CMD.
        let signal = signals::caught();
        let aborted = s.on_error == Policy::Abort && outcomes.iter().any(Outcome::is_failure);
        if signal.is_some() || aborted {
            tracing::error!(
                "not running CMD: stopped by {}",
                match signal {
                    Some(n) => format!("signal {n}"),
                    None => "--on-error abort after a failure".into(),
                }
            );
            return Finished::Migrated {
                outcomes: outcomes.clone(),
                signal,
            };
        }
    } else {
        return finished;
    }
    start(s, cmd)
}

/// CMD, once the databases are as they should be: exec'd, or run as a child with `--init`.
fn start(s: &Settings, cmd: Resolved) -> Finished {
    if s.init {
        return Finished::Child(crate::process::init::run(cmd, s.init_group));
    }
    Finished::Exec(exec::exec(cmd))
}

/// `up` and `plan`: finds the migrations and migrates (or plans) every database.
pub fn up(s: &Settings, show: &dyn Show, events: Events<'_>) -> Finished {
    if s.configured == 0 {
        if super::scan(s).is_none() {
            return Finished::BadFolders;
        }
        tracing::warn!(
            "no database configured (set DATABASE_URL or pass -d URL): nothing migrated"
        );
        return Finished::Migrated {
            outcomes: Vec::new(),
            signal: None,
        };
    }
    // Before any other thread: they all inherit the blocked signals.
    if let Err(e) = signals::install() {
        tracing::warn!(error = %e, "cannot watch for signals ({e}): SIGTERM will not cancel a migration");
    }
    let plan_only = matches!(s.mode, Mode::Plan { .. });
    let opts = RunOptions {
        policy: s.on_error,
        lock_timeout: s.lock_timeout,
        dry_run: s.dry_run || plan_only,
        log_steps: !plan_only,
        script_timeout: s.script_timeout,
        rehearse: matches!(s.mode, Mode::Plan { rehearse: true }),
        lint: s.lint,
    };
    let open = open_options(s, !opts.dry_run);
    let Some((catalog, declared, early)) = scan_while_opening(s, &open) else {
        return Finished::BadFolders;
    };
    let target = match s
        .target
        .as_ref()
        .map(|m| plan::version_of(&catalog, m))
        .transpose()
    {
        Ok(t) => t,
        Err(why) => {
            tracing::error!("--target: {why}");
            return Finished::BadInput;
        }
    };
    for (path, why) in super::passed_over(&catalog) {
        tracing::warn!(file = %path.display(), "{}: not a migration, not applied: {why}", path.display());
    }
    let progress =
        (!opts.dry_run && s.log.format == LogFormat::Text && std::io::stderr().is_terminal())
            .then(|| show.progress(s.targets.len()));
    let events = |e: &Event<'_>| {
        if let Some(p) = &progress {
            p(e);
        }
        events(e);
    };
    let outcomes = run_all(
        s,
        &catalog,
        declared.as_ref(),
        target,
        opts,
        &open,
        early,
        &events,
    );
    drop(progress);
    let signal = signals::caught();
    show.summaries(&outcomes, signal);
    if plan_only {
        let _ = show.plan(&outcomes);
    }
    Finished::Migrated { outcomes, signal }
}

/// A run's first step on its one database, taken while the files are read (connecting, or
/// SQLite parsing its schema, overlaps reading the files; a no-op start feels that).
struct OpenedAhead {
    started: Instant,
    opened: Result<Opened, BackendError>,
}

/// Reads the migration files (and the declared schema's); a single database is opened at the
/// same time. Not with several: a slow one, waited for here, would hold up the others. Nor a
/// SQLite file that does not exist yet: opening would create it, and a folder error must leave
/// nothing behind.
fn scan_while_opening(
    s: &Settings,
    open: &OpenOptions,
) -> Option<(Catalog, Option<DeclaredRun>, Option<OpenedAhead>)> {
    let first = s
        .targets
        .first()
        .filter(|_| s.targets.len() == 1)
        .filter(|t| match t {
            Target::Sqlite { path } => path.exists(),
            Target::Postgres { .. } => true,
        });
    let (catalog, early) = std::thread::scope(|scope| {
        let early = first.map(|t| {
            scope.spawn(|| OpenedAhead {
                started: Instant::now(),
                opened: Opened::open(t, open),
            })
        });
        let catalog = super::scan(s);
        let declared = DeclaredRun::read(s).inspect_err(|e| tracing::error!("{e}"));
        (
            catalog.zip(declared.ok()),
            early.and_then(|h| h.join().ok()),
        )
    });
    let (catalog, declared) = catalog?;
    Some((catalog, declared, early))
}

/// How a run treats one database.
#[derive(Debug, Clone, Copy)]
struct RunOptions {
    policy: Policy,
    lock_timeout: Duration,
    /// Only work out what would be done.
    dry_run: bool,
    /// Log each step a dry run would take (not for `plan`, which prints them).
    log_steps: bool,
    /// How long a script migration may run.
    script_timeout: Duration,
    /// `plan --rehearse`: run what is due in rolled-back transactions and report it.
    rehearse: bool,
    /// `--lint`: what a dangerous PostgreSQL statement does.
    lint: crate::lint::LintPolicy,
}

/// What every database's run shares: its options, and the `abort` flag one database's failure
/// sets for all.
struct Run<'a> {
    catalog: &'a Catalog,
    /// `--schema`, read.
    declared: Option<&'a DeclaredRun>,
    /// `--target`: no migration after this version.
    target: Option<Version>,
    opts: RunOptions,
    abort: AtomicBool,
    events: Events<'a>,
    /// `--adopt`: the tool whose history a fresh database may have.
    adopt: Option<Tool>,
    table: &'a Table,
}

/// Opens and migrates every target, up to `--jobs` at once. After `abort` or a signal, the
/// databases not started yet are reported as such.
#[allow(clippy::too_many_arguments)] // each is a different part of the run, passed once
fn run_all(
    s: &Settings,
    catalog: &Catalog,
    declared: Option<&DeclaredRun>,
    target: Option<Version>,
    opts: RunOptions,
    open: &OpenOptions,
    early: Option<OpenedAhead>,
    events: Events<'_>,
) -> Vec<Outcome> {
    let run = Run {
        catalog,
        declared,
        target,
        opts,
        abort: AtomicBool::new(false),
        events,
        adopt: s.adopt,
        table: &s.table,
    };
    // The fan-out closure is `Fn + Sync`: the early open is taken out of a mutex, once.
    let early = Mutex::new(early);
    fanout::map(&s.targets, s.jobs, |target| {
        let early = early.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut out = Outcome::new(target.redacted());
        if run.abort.load(Ordering::SeqCst) {
            tracing::warn!(database = %target, "not tried: --on-error abort after a failure");
            out.not_started = Some(NotStarted::Aborted);
        } else if signals::caught().is_some() {
            out.not_started = Some(NotStarted::Signalled);
        } else {
            let (started, opened) = match early {
                Some(e) => (e.started, e.opened),
                None => (Instant::now(), Opened::open(target, open)),
            };
            match opened {
                Ok(mut o) => run.database(&mut o, &mut out, &script_env(target)),
                Err(e) => run.failed_as_a_whole(&mut out, e),
            }
            out.elapsed = started.elapsed();
        }
        (run.events)(&Event::DatabaseDone);
        Some(out)
    })
}

/// What a script migration is told about its database (paths absolute: the script runs in
/// its own folder).
fn script_env(target: &Target) -> ScriptEnv {
    match target {
        Target::Sqlite { path } => {
            let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
            ScriptEnv {
                database_url: format!("sqlite:{}", path.display()),
                dialect: Dialect::Sqlite,
                sqlite_path: Some(path),
            }
        }
        Target::Postgres { url, .. } => ScriptEnv {
            database_url: url.clone(),
            dialect: Dialect::Postgres,
            sqlite_path: None,
        },
    }
}

impl Run<'_> {
    /// Notes a database that could not be worked on; under `abort` the others stop too.
    fn failed_as_a_whole(&self, out: &mut Outcome, e: BackendError) {
        if matches!(e, BackendError::Cancelled) {
            return;
        }
        tracing::error!(database = out.database, error = %e, "{e}");
        if self.opts.policy == Policy::Abort {
            self.abort.store(true, Ordering::SeqCst);
        }
        out.error = Some(e);
    }

    /// Migrates one opened database whose records were read.
    fn database(&self, opened: &mut Opened, out: &mut Outcome, env: &ScriptEnv) {
        out.read = true;
        // Another tool's history is never ignored: its migrations would run again.
        let (adopt, refused) = match opened.history(self.adopt, self.table) {
            Ok(super::History::None) => (None, None),
            Ok(super::History::Adopt(tool, read)) => (Some((tool, read)), None),
            Ok(super::History::Refuse(why)) => (None, Some(why)),
            Err(e) => (None, Some(e)),
        };
        let Opened {
            backend, records, ..
        } = opened;
        let entries = plan::entries(self.catalog, backend.dialect(), records);
        let mut due = plan::due(&entries, self.target.as_ref());
        if let Some(e) = refused {
            // Nothing is applied: all of it is still pending.
            out.pending = due.len();
            return self.failed_as_a_whole(out, e);
        }
        // What the history read says the tool applied is not due (it is adopted under the
        // lock, from the history read again there).
        if let Some((tool, read)) = &adopt {
            let before = due.len();
            due.retain(|e| {
                !e.migration
                    .is_some_and(|m| !m.repeatable && read.applied(&m.version, &m.name))
            });
            let line = format!(
                "adopting {}'s history ({}): {} migration(s) it applied are recorded as applied, not run",
                tool.name(),
                tool.table(),
                before - due.len()
            );
            if self.opts.dry_run {
                out.notes.push(line);
            } else {
                tracing::info!(database = out.database, "{line}");
            }
        }
        let adopt = adopt.map(|(tool, _)| tool);
        if self.target.is_some() {
            out.beyond_target = plan::due(&entries, None).len() - due.len();
        }
        for e in plan::changed(&entries) {
            tracing::warn!(
                database = out.database,
                migration = e.name,
                "{} has changed since it was applied: not re-run (write a new migration instead)",
                e.name
            );
        }
        out.pending = due.len();
        // Before the lock, and only with something due: a no-op start reads no statement.
        let refused = if due.is_empty() {
            HashMap::new()
        } else {
            self.lint(backend.as_mut(), &due, out)
        };
        // With migrations to apply, the lock is taken anyway and the declared schema is looked
        // at under it: its fingerprint query is not needed here. `plan` is not on the start
        // path: it always compares in full (a difference shows for as long as it exists).
        let schema_needed = match self.declared {
            Some(_) if self.opts.dry_run || !due.is_empty() => true,
            Some(d) => match d.needed(backend.as_mut(), records) {
                Ok(needed) => needed,
                Err(e) => return self.failed_as_a_whole(out, e),
            },
            None => false,
        };
        if self.opts.dry_run {
            out.steps = plan::steps(&due, self.opts.policy);
            out.dry_run = true;
            if self.opts.rehearse {
                let (lines, failed) = rehearse(backend.as_mut(), &due);
                out.notes.extend(lines);
                // A migration that fails its rehearsal would fail: `plan` says so in its code.
                out.failed += failed;
            }
            if let (Some(d), true) = (self.declared, schema_needed) {
                match d.work_out(backend.as_mut(), records) {
                    Ok(worked) => {
                        let steps = d.steps(&worked, records);
                        out.pending += steps.len();
                        if d.first {
                            out.steps.splice(0..0, steps);
                        } else {
                            out.steps.extend(steps);
                        }
                        out.notes.extend(worked.notes());
                        if self.opts.log_steps {
                            d.report(&worked, &out.database);
                        }
                    }
                    Err(e) => return self.failed_as_a_whole(out, e),
                }
            }
            for s in out.steps.iter().filter(|_| self.opts.log_steps) {
                let note = if s.no_transaction {
                    " (no transaction)"
                } else {
                    ""
                };
                let what = s.declared.as_deref().unwrap_or(&s.name);
                tracing::info!(database = out.database, migration = %s.name, "would apply {what}{note}");
            }
            return;
        }
        if due.is_empty() && !schema_needed && adopt.is_none() {
            return;
        }
        if self.abort.load(Ordering::SeqCst) || signals::caught().is_some() {
            return;
        }
        drop(entries);
        let backend = backend.as_mut();
        // While another runner holds the lock, the records are read again between waits:
        // when it has applied everything, this one has nothing left to wait for.
        let mut still_needed = |b: &mut (dyn Backend + 'static)| -> Result<bool, BackendError> {
            let records = b.read_records()?.unwrap_or_default();
            let entries = plan::entries(self.catalog, b.dialect(), &records);
            if !plan::due(&entries, self.target.as_ref()).is_empty() {
                return Ok(true);
            }
            match self.declared {
                Some(d) => d.needed(b, &records),
                None => Ok(false),
            }
        };
        let result = match backend::lock_unless(backend, self.opts.lock_timeout, &mut still_needed)
        {
            Ok(Locked::Taken) => {
                let applied = match adopt {
                    Some(tool) => self.adopt_locked(backend, tool),
                    None => Ok(()),
                }
                .and_then(|()| self.apply_locked(backend, out, env, &refused));
                applied.and(backend.unlock())
            }
            Ok(Locked::NotNeeded) => {
                out.pending = 0;
                tracing::info!(
                    database = out.database,
                    "another runner applied them meanwhile: nothing left to do"
                );
                Ok(())
            }
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            self.failed_as_a_whole(out, e);
        }
    }

    /// The lint of the due PostgreSQL migrations, logged (a dry run with `refuse` notes what
    /// would be refused); with `refuse`, the migrations not to run, with why.
    fn lint(
        &self,
        backend: &mut dyn Backend,
        due: &[&Entry<'_>],
        out: &mut Outcome,
    ) -> HashMap<String, String> {
        if self.opts.lint == LintPolicy::Off || backend.dialect() != Dialect::Postgres {
            return HashMap::new();
        }
        let version = backend
            .server_version()
            .unwrap_or(crate::lint::ASSUMED_VERSION);
        let files = due.iter().filter_map(|e| e.migration.zip(e.variant));
        let (report, names) = super::lint::run(files, version, |c| backend.column_types(c));
        let refused = super::lint::log(&report, &names, &out.database, self.opts.lint);
        if self.opts.dry_run {
            for (name, why) in &refused {
                out.notes.push(format!("would not run {name}: {why}"));
            }
        }
        refused
    }

    /// Under the lock, first: adopts another tool's history as `baseline --from` would.
    fn adopt_locked(&self, backend: &mut dyn Backend, tool: Tool) -> Result<(), BackendError> {
        let b = super::baseline::adopt(backend, self.catalog, tool)?;
        super::baseline::log(&b);
        if !b.refused.is_empty() {
            return Err(BackendError::Failed(format!(
                "{}'s history could not be adopted",
                tool.name()
            )));
        }
        Ok(())
    }

    /// Under the lock, the declared schema's changes (records as read under the lock).
    /// False when the policy stops this database.
    fn apply_declared(
        &self,
        backend: &mut dyn Backend,
        out: &mut Outcome,
    ) -> Result<bool, BackendError> {
        let Some(d) = self.declared else {
            return Ok(true);
        };
        let records = backend.read_records()?.unwrap_or_default();
        let abort = || self.abort.load(Ordering::SeqCst);
        let counts = d.apply(backend, &records, &out.database, self.opts.policy, &abort)?;
        out.applied += counts.applied;
        out.failed += counts.failed;
        out.pending += counts.left;
        if counts.stopped && self.opts.policy == Policy::Abort {
            self.abort.store(true, Ordering::SeqCst);
        }
        Ok(!counts.stopped)
    }

    /// Under the lock: prepares the table, reads the records again (another runner may have
    /// applied some meanwhile), and applies what is still due, under the policy.
    fn apply_locked(
        &self,
        backend: &mut dyn Backend,
        out: &mut Outcome,
        env: &ScriptEnv,
        refused: &HashMap<String, String>,
    ) -> Result<(), BackendError> {
        backend.prepare_table()?;
        let first = self.declared.is_some_and(|d| d.first);
        if first && !self.apply_declared(backend, out)? {
            return Ok(());
        }
        let records = backend.read_records()?.unwrap_or_default();
        let entries = plan::entries(self.catalog, backend.dialect(), &records);
        let due = plan::due(&entries, self.target.as_ref());
        out.pending = due.len();
        for entry in due {
            if signals::caught().is_some() {
                return Err(BackendError::Cancelled);
            }
            if self.abort.load(Ordering::SeqCst) {
                return Ok(());
            }
            let refusal = refused.get(entry.name).map(String::as_str);
            let Some(failure) = self.attempt(backend, entry, out, env, refusal)? else {
                out.pending -= 1;
                out.applied += 1;
                continue;
            };
            out.pending -= 1;
            out.failed += 1;
            tracing::error!(database = out.database, migration = entry.name, error = %failure, "failed {}: {failure}", entry.name);
            match self.opts.policy {
                Policy::Continue => {}
                Policy::Stop => {
                    if out.pending > 0 {
                        tracing::warn!(
                            database = out.database,
                            "--on-error stop: {} later migration(s) of this database not tried",
                            out.pending
                        );
                    }
                    return Ok(());
                }
                Policy::Abort => {
                    self.abort.store(true, Ordering::SeqCst);
                    return Ok(());
                }
            }
        }
        // A migration that failed under `continue` does not hold the declared schema back:
        // what it lacks is added as on any start.
        if !first && !self.abort.load(Ordering::SeqCst) {
            self.apply_declared(backend, out)?;
        }
        Ok(())
    }

    /// Attempts one migration and records the attempt. `Ok(None)`: applied; `Ok(Some(why))`:
    /// failed and recorded (or, for a conflict, failed with nothing recorded); `Err`: the
    /// database as a whole cannot go on (a signal, a lost connection).
    fn attempt(
        &self,
        backend: &mut dyn Backend,
        entry: &Entry<'_>,
        out: &Outcome,
        env: &ScriptEnv,
        refusal: Option<&str>,
    ) -> Result<Option<String>, BackendError> {
        let database = out.database.as_str();
        let (Some(m), Some(variant)) = (entry.migration, entry.variant) else {
            return Ok(None);
        };
        let row = NewRecord {
            name: entry.record_name(),
            description: &m.description,
            checksum: variant.checksum(),
            success: true,
            error_message: None,
            execution_time_ms: None,
            row_exists: entry.record.is_some(),
        };
        let content = match (&variant.content, variant.why_unusable()) {
            // Which of two differing files is right is unknown: nothing is run or recorded.
            (_, Some(why)) if !variant.conflicts.is_empty() => return Ok(Some(why)),
            (Ok(content), None) => content,
            // Unreadable, or refused: another tool's markers, never run as plain SQL.
            (_, why) => {
                let why = why.unwrap_or_default();
                record_failure(backend, database, &row.failed(&why, None));
                return Ok(Some(why));
            }
        };
        if let Some(why) = refusal {
            // `--lint refuse`: not run, recorded as failed with why; the policy decides the rest.
            record_failure(backend, database, &row.failed(why, None));
            return Ok(Some(why.to_string()));
        }
        (self.events)(&Event::MigrationStarted {
            database,
            name: &m.name,
        });
        let result = match content.script {
            Some(how) => run_script(
                backend,
                (&variant.path, how),
                &m.name,
                env,
                database,
                self.opts,
                &row,
            ),
            // The text is read now: the scan kept only where its parts are.
            None => match variant.body() {
                Ok(body) => backend.apply(&body, Then::Record(&row)),
                Err(why) => {
                    record_failure(backend, database, &row.failed(&why, None));
                    return Ok(Some(why));
                }
            },
        };
        let failure = match result {
            Ok(elapsed) => {
                let ms = elapsed.as_millis() as u64;
                tracing::info!(database, migration = %m.name, duration_ms = ms, "applied {} in {ms} ms", m.name);
                return Ok(None);
            }
            Err(f) => f,
        };
        settle(
            backend,
            database,
            &m.name,
            content.script.is_some(),
            &row,
            failure,
        )
    }
}

/// `plan --rehearse`: the due migrations that would run in a transaction, run in order in one
/// that is rolled back, as report lines (the others named as not rehearsed), and how many
/// failed.
fn rehearse(backend: &mut dyn Backend, due: &[&Entry<'_>]) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut bodies = Vec::new();
    for e in due {
        let Some(v) = e.variant else { continue };
        let not = |why: &str| format!("not rehearsed: {} ({why})", e.name);
        match &v.content {
            Ok(c) if v.why_unusable().is_some() || c.script.is_some() => {
                out.push(not("a script, or it cannot run"))
            }
            Ok(c) if c.no_transaction() => out.push(not(
                "it runs outside a transaction, so it cannot be rolled back; later ones are \
                 rehearsed without it",
            )),
            Ok(_) => match v.body() {
                Ok(body) => bodies.push((e.name.to_string(), body)),
                Err(why) => out.push(not(&why)),
            },
            Err(why) => out.push(not(why)),
        }
    }
    if bodies.is_empty() {
        return (out, 0);
    }
    let mut failed = 0;
    match backend.rehearse(&bodies) {
        Err(why) => out.push(format!("not rehearsed: {why}")),
        Ok(report) => {
            let done = report.len();
            for m in report {
                if m.statements.iter().any(|r| r.error.is_some()) {
                    failed += 1;
                }
                let after = if m.after_earlier {
                    "; after the earlier pending ones it needs, whose locks are not listed again"
                } else {
                    ""
                };
                out.push(format!("rehearsed {} (rolled back{after}):", m.name));
                for r in m.statements {
                    out.push(format!("  {} ms  {}", r.elapsed.as_millis(), r.statement));
                    if !r.locks.is_empty() {
                        out.push(format!("    took {}", r.locks.join(", ")));
                    }
                    if !r.rewrote.is_empty() {
                        out.push(format!("    rewrote {}", r.rewrote.join(", ")));
                    }
                    if let Some(why) = r.error {
                        out.push(format!("    failed: {why}"));
                    }
                }
                if !m.held.is_empty() {
                    out.push(format!("  held until its commit: {}", m.held.join(", ")));
                }
            }
            for (name, _) in &bodies[done..] {
                out.push(format!(
                    "not rehearsed: {name} (the rehearsal stopped at the failure before it)"
                ));
            }
        }
    }
    (out, failed)
}

/// What a failed attempt leaves: a refusal is recorded and the run goes on; a cancelled
/// script is recorded too (it cannot be rolled back); a cancelled statement (rolled back) or a
/// lost connection stops this database.
fn settle(
    backend: &mut dyn Backend,
    database: &str,
    name: &str,
    script: bool,
    row: &NewRecord<'_>,
    failure: Failure,
) -> Result<Option<String>, BackendError> {
    let failed = row.failed(&failure.message, Some(failure.elapsed));
    match failure.kind {
        FailureKind::Refused => {
            record_failure(backend, database, &failed);
            Ok(Some(failure.message))
        }
        FailureKind::Cancelled if script => {
            record_failure(backend, database, &failed);
            tracing::warn!(
                database,
                migration = name,
                "stopped {name}: {}",
                failure.message
            );
            Err(BackendError::Cancelled)
        }
        FailureKind::Cancelled => {
            tracing::warn!(database, migration = name, "cancelled {name}: rolled back");
            Err(BackendError::Cancelled)
        }
        FailureKind::ConnectionLost => Err(BackendError::Failed(format!(
            "the connection was lost while applying {name}: {}",
            failure.message
        ))),
    }
}

/// Runs a script migration and, when it succeeds, writes its success row.
fn run_script(
    backend: &mut dyn Backend,
    (path, how): (&Path, Script),
    name: &str,
    env: &ScriptEnv,
    database: &str,
    opts: RunOptions,
    row: &NewRecord<'_>,
) -> Result<Duration, Failure> {
    let elapsed = script::run(path, how, name, env, database, opts.script_timeout)?;
    backend
        .record(&row.timed(elapsed))
        .map(|_| elapsed)
        .map_err(|e| Failure {
            kind: FailureKind::Refused,
            message: e.to_string(),
            elapsed,
        })
}

impl From<script::ScriptFailure> for Failure {
    fn from(f: script::ScriptFailure) -> Failure {
        Failure {
            kind: if f.cancelled {
                FailureKind::Cancelled
            } else {
                FailureKind::Refused
            },
            message: f.message,
            elapsed: f.elapsed,
        }
    }
}

/// Writes a failure row; a failure to write it is logged, not fatal (the migration is still
/// pending and is tried again next time either way).
fn record_failure(backend: &mut dyn Backend, database: &str, row: &NewRecord<'_>) {
    if let Err(e) = backend.record(row) {
        tracing::error!(database, migration = row.name, error = %e, "cannot record the failure: {e}");
    }
}
