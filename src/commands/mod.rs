//! The commands, one file each: the per-database work of that command, from open to outcome.
//! They print nothing themselves but what a command is asked to print on stdout; the progress
//! line, the summaries and the plan and status tables go through `Show`, which `main` hands
//! in from `output`, and what they end with goes to `output` for the exit code. The types of
//! what flows (`Event`, `Outcome`, `DbStatus`, `Finished`) are defined here, and commands
//! import nothing from `output`.

pub mod adopt;
mod baseline;
mod declare;
mod down;
mod dump;
mod fanout;
mod lint;
mod migrate;
mod new;
mod repair;
mod resolve;
mod status;
mod validate;
pub mod wait;

use std::path::PathBuf;

use crate::backend::{self, Backend, BackendError, OpenOptions};
use crate::plan::{self, Entry, Record};
use crate::process::exec::{ExecError, Resolved};
use crate::settings::{Format, Mode, Settings, Target};
use crate::source::{Catalog, Ignored};

pub use baseline::BaselineOutcome;
pub use migrate::{NotStarted, Outcome};
pub use new::NewError;
pub use status::DbStatus;

/// What a run is doing, for the progress line.
#[derive(Debug)]
pub enum Event<'a> {
    MigrationStarted { database: &'a str, name: &'a str },
    DatabaseDone,
}

/// Where a run's events go.
pub type Events<'a> = &'a (dyn Fn(&Event<'_>) + Sync);

/// How what a command found is shown: `output`'s, handed in by `main`, so that the commands
/// say what happened and `output` alone how it looks.
pub trait Show: Sync {
    /// The progress line for `total` databases, fed with the run's events; gone when dropped.
    fn progress(&self, total: usize) -> Box<dyn Fn(&Event<'_>) + Sync>;
    /// Logs each database's summary line and the run's.
    fn summaries(&self, outcomes: &[Outcome], signal: Option<i32>);
    /// `plan`'s steps, on stdout.
    fn plan(&self, outcomes: &[Outcome]) -> std::io::Result<()>;
    /// `status`'s table or JSON, on stdout.
    fn status(&self, dbs: &[DbStatus], format: Format) -> std::io::Result<()>;
}

/// How a command ended, for the exit code.
#[derive(Debug)]
pub enum Finished {
    /// The migration folders could not be read (a configuration error).
    BadFolders,
    /// What the command was asked to do does not fit the migrations (a usage error, logged).
    BadInput,
    /// `down`, `repair`, `resolve`: what each database had done, and the signal that stopped
    /// them, if one did.
    Changed(Vec<Changes>, Option<i32>),
    /// `wait`: whether every database answered.
    Waited {
        all_answered: bool,
    },
    /// `wait --migrated`, or `--wait-only` when CMD is not run: each database's readiness.
    WaitedMigrated(Vec<wait::Readiness>, Option<i32>),
    /// `schema dump`: whether every database could be read.
    Dumped {
        all_read: bool,
    },
    /// `up`, `plan`, or the entrypoint when CMD is not run (or there is none).
    Migrated {
        outcomes: Vec<Outcome>,
        /// A signal that asked to stop, whenever it came.
        signal: Option<i32>,
    },
    Status {
        dbs: Vec<DbStatus>,
        exit_code: bool,
    },
    Baseline(Vec<BaselineOutcome>),
    New(Result<PathBuf, NewError>),
    Validate {
        problems: usize,
        unreadable: bool,
    },
    /// CMD could not be exec'd.
    Exec(ExecError),
    /// `--init`: CMD ran as a child and ended with this code, or could not be started.
    Child(Result<i32, crate::process::init::InitError>),
}

/// Runs the command the settings name. `cmd` is the entrypoint's CMD, already found on PATH;
/// when all goes well this process becomes it and the call does not return.
pub fn run(s: &Settings, cmd: Option<Resolved>, show: &dyn Show, events: Events<'_>) -> Finished {
    match &s.mode {
        Mode::Entrypoint { .. } => migrate::entrypoint(s, cmd, show, events),
        Mode::Up | Mode::Plan { .. } => migrate::up(s, show, events),
        Mode::Status { format, exit_code } => status::run(s, show, *format, *exit_code),
        Mode::Baseline {
            through,
            from,
            force,
        } => baseline::run(s, through.as_ref(), *from, *force),
        Mode::New {
            description,
            dir,
            script,
        } => new::run(s, description, dir.as_deref(), *script),
        Mode::Validate { format } => validate::run(s, *format),
        Mode::Down { steps, to } => down::run(s, *steps, to.as_ref()),
        Mode::Repair {
            checksums,
            forget_missing,
            forget,
        } => repair::run(s, *checksums, *forget_missing, forget),
        Mode::Resolve(how) => resolve::run(s, how),
        Mode::Wait { migrated: false } => wait::run(s),
        Mode::Wait { migrated: true } => wait::migrated(s),
        Mode::SchemaDump => dump::run(s),
    }
}

/// How this run opens its databases; `create` when it may create a missing one.
fn open_options(s: &Settings, create: bool) -> OpenOptions {
    OpenOptions {
        table: s.table.clone(),
        create,
        must_exist: false,
        ddl: s.ddl,
        wait: s.wait,
        busy_timeout: s.lock_timeout,
        lock_mode: s.lock_mode,
        create_database: s.create_database,
        // Measured here: keeping the journal made one database's apply of 200 migrations faster
        // (hyperfine, 169 -> 158 ms), but 100 SQLite files migrated by 2 jobs slower
        // (bench/fanout.sh, 2.83 -> 3.01 s), so only a lone database keeps it.
        keep_journal: s.targets.len() == 1,
    }
}

/// The migration files, or the reason the folders cannot be read (logged).
fn scan(s: &Settings) -> Option<Catalog> {
    crate::source::scan(&s.dirs)
        .inspect_err(|e| tracing::error!("{e}"))
        .ok()
}

/// What the folders hold that looks meant to run but is not taken, each with why (and, for a
/// file without a version, the name `new` would give it): for `up`'s warnings and `validate`.
pub fn passed_over(catalog: &Catalog) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = catalog
        .untaken
        .iter()
        .map(|(dir, seen)| {
            let shown: Vec<&str> = seen.iter().take(5).map(String::as_str).collect();
            let more = if seen.len() > 5 {
                format!(" and {} more", seen.len() - 5)
            } else {
                String::new()
            };
            (
                dir.clone(),
                format!(
                    "this migrations folder holds {} entr{} ({}{more}) and none is a migration \
                     in a form migrate-entrypoint reads ({})",
                    seen.len(),
                    if seen.len() == 1 { "y" } else { "ies" },
                    shown.join(", "),
                    crate::source::name::FORMS
                ),
            )
        })
        .collect();
    for (path, why) in catalog
        .ignored
        .iter()
        .filter(|(_, w)| w.looks_like_a_migration())
    {
        let hint = match why {
            Ignored::NoVersion | Ignored::ScriptWithoutVersion => path
                .file_name()
                .and_then(|f| f.to_str())
                .map(|f| format!(" (name it {})", new::free_name(catalog, f)))
                .unwrap_or_default(),
            _ => String::new(),
        };
        out.push((path.clone(), format!("{why}{hint}")));
    }
    out
}

/// A database opened, and its records read without a lock.
pub struct Opened {
    pub backend: Box<dyn Backend>,
    pub records: Vec<Record>,
    /// It has no tracking table of ours yet.
    pub fresh: bool,
}

impl Opened {
    /// Opens `target` and reads its records (none when the table is not there yet).
    pub fn open(target: &Target, opts: &OpenOptions) -> Result<Opened, BackendError> {
        let mut backend = backend::open(target, opts)?;
        let records = backend.read_records()?;
        Ok(Opened {
            backend,
            fresh: records.is_none(),
            records: records.unwrap_or_default(),
        })
    }

    /// What to do about another tool's history here: nothing, adopt it (`--adopt` names that
    /// tool), or refuse the database (what the tool applied would run again). Looked for only
    /// on a fresh database, one with none of our table (a start with our table asks nothing);
    /// a history with nothing in it (goose's version-0 row alone) is none.
    pub fn history(
        &mut self,
        adopt: Option<adopt::Tool>,
        table: &crate::settings::Table,
    ) -> Result<History, BackendError> {
        if !self.fresh {
            return Ok(History::None);
        }
        let names = adopt::history_table_names();
        let found = self.backend.tables_with_columns(&names)?;
        for tool in found
            .iter()
            .filter_map(|(table, columns)| adopt::recognize(table, columns))
        {
            let Some(rows) = self.backend.read_table(tool.table(), tool.columns())? else {
                continue;
            };
            let read = adopt::read(tool, &rows);
            if read.anything() {
                return Ok(if adopt == Some(tool) {
                    History::Adopt(tool, Box::new(read))
                } else {
                    History::Refuse(foreign_history_refusal(tool, table))
                });
            }
        }
        Ok(History::None)
    }

    /// Every migration of this database with its state.
    pub fn entries<'a>(&'a self, catalog: &'a Catalog) -> Vec<Entry<'a>> {
        plan::entries(catalog, self.backend.dialect(), &self.records)
    }
}

/// Another tool's history on a fresh database, and what is done about it.
pub enum History {
    None,
    /// `--adopt` names its tool: what it says the tool applied.
    Adopt(adopt::Tool, Box<adopt::Adoption>),
    /// Nothing is applied to this database: why.
    Refuse(BackendError),
}

/// Why a database with another tool's history is not migrated: every migration that tool
/// applied would run again.
fn foreign_history_refusal(tool: adopt::Tool, table: &crate::settings::Table) -> BackendError {
    let ours = if table.schema.is_none() && table.name == tool.table() {
        " --table app_migrations"
    } else {
        ""
    };
    BackendError::Failed(format!(
        "this database has {tool}'s history ({}) and no {} of ours: nothing is applied, or \
         what {tool} applied would run again. Adopt it once with `migrate-entrypoint baseline \
         --from {tool}{ours}`, or let the entrypoint adopt it on its first start with \
         MIGRATE_ADOPT={tool}",
        tool.table(),
        table.display(),
        tool = tool.name(),
    ))
}

/// What a command that changes records (`down`, `repair`, `resolve`) did to one database.
#[derive(Debug, Default)]
pub struct Changes {
    pub database: String,
    /// Each change made (or, in a dry run, that would be made), as a log line.
    pub done: Vec<String>,
    /// Why nothing was changed: every reason.
    pub refused: Vec<String>,
    /// A change that the database refused (the ones before it stay).
    pub failed: Option<String>,
    /// The command's own last line for this database (`down`: undone, failed, not attempted).
    pub summary: Option<String>,
    pub error: Option<BackendError>,
}

/// Runs `work` on every database with the entries its records give: read under the lock,
/// with the table prepared; read without a lock, creating nothing, for a dry run. Logs what
/// each database did.
fn change_each(
    s: &Settings,
    catalog: &Catalog,
    work: impl Fn(&mut dyn Backend, &[Entry<'_>], &mut Changes) -> Result<(), BackendError> + Sync,
) -> Finished {
    // As while migrating: a signal cancels the statement in flight (an undo's transaction is
    // rolled back) and the run ends with 128 + n.
    if let Err(e) = crate::process::signals::install() {
        tracing::warn!("cannot watch for signals ({e}): SIGTERM will not cancel a change");
    }
    let open = OpenOptions {
        must_exist: true,
        ..open_options(s, !s.dry_run)
    };
    let all = fanout::map(&s.targets, s.jobs, |t| {
        if crate::process::signals::caught().is_some() {
            return None;
        }
        let mut c = Changes {
            database: t.redacted(),
            ..Changes::default()
        };
        let result = backend::open(t, &open).and_then(|mut b| {
            let b = b.as_mut();
            let read = |b: &mut dyn Backend| b.read_records().map(Option::unwrap_or_default);
            let dialect = b.dialect();
            if s.dry_run {
                let records = read(b)?;
                return work(b, &plan::entries(catalog, dialect, &records), &mut c);
            }
            b.lock(s.lock_timeout)?;
            let done = b.prepare_table().and_then(|()| {
                let records = read(b)?;
                work(b, &plan::entries(catalog, dialect, &records), &mut c)
            });
            done.and(b.unlock())
        });
        match result {
            Err(BackendError::Cancelled) => {
                tracing::warn!(database = c.database, "stopped by a signal")
            }
            Err(e) => c.error = Some(e),
            Ok(()) => {}
        }
        log_changes(&c, s.dry_run);
        Some(c)
    });
    Finished::Changed(all, crate::process::signals::caught())
}

fn log_changes(c: &Changes, dry_run: bool) {
    let database = c.database.as_str();
    for line in &c.done {
        tracing::info!(database, "{line}");
    }
    for why in &c.refused {
        tracing::error!(database, "refused: {why}");
    }
    if let Some(why) = &c.failed {
        tracing::error!(database, "{why}");
    }
    if let Some(e) = &c.error {
        tracing::error!(database, error = %e, "{e}");
    } else if let Some(summary) = &c.summary {
        if c.failed.is_some() {
            tracing::error!(database, "{summary}");
        } else {
            tracing::info!(database, "{summary}");
        }
    } else if !c.refused.is_empty() {
        tracing::error!(database, "nothing changed");
    } else if c.done.is_empty() {
        tracing::info!(database, "nothing to do");
    } else if dry_run {
        tracing::info!(database, "dry run: nothing changed");
    }
}
