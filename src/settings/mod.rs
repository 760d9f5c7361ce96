//! Resolved, validated settings: the command line merged with the environment (and its
//! `NAME_FILE` forms), durations and policies parsed, database URLs read once and globs
//! expanded. The only I/O here is reading `_FILE`s and listing globs.

pub mod env;
pub mod pgurl;
pub mod shard;
pub mod target;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{DbArgs, Given, Job, LogArgs, RunArgs};
pub use crate::cli::{Format, LintPolicy, LockMode, LogFormat, Policy, Tool};
use crate::source::Version;
use env::{Env, boolean, choice, duration, lookup};
pub use target::Target;

/// `--wait` when neither flag nor variable says.
pub const DEFAULT_WAIT: &str = "30s";
/// `--lock-timeout` when neither flag nor variable says.
pub const DEFAULT_LOCK_TIMEOUT: &str = "5m";
/// `--script-timeout` when neither flag nor variable says.
pub const DEFAULT_SCRIPT_TIMEOUT: &str = "10m";
/// How long a PostgreSQL migration statement waits for a lock before it is tried again.
pub const DEFAULT_DDL_LOCK_TIMEOUT: &str = "500ms";
/// How long a migration that timed out on a lock is tried again.
pub const DEFAULT_DDL_RETRY_FOR: &str = "10m";
/// The tracking table when neither flag nor variable says.
pub const DEFAULT_TABLE: &str = "schema_migrations";
/// The migrations directory when neither flag nor variable says.
pub const DEFAULT_DIR: &str = "./migrations";
/// The log filter when neither flag nor variable says.
pub const DEFAULT_LOG_LEVEL: &str = "info";

/// A usage or configuration error (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{name} and {name}_FILE are both set: set one of them")]
    BothSet { name: String },
    #[error("cannot read {name}_FILE ({path}): {err}")]
    FileUnreadable {
        name: String,
        path: String,
        err: std::io::Error,
    },
    #[error("{name} is not valid UTF-8")]
    NotUtf8 { name: String },
    #[error("invalid {what} '{value}': {why}")]
    Invalid {
        what: String,
        value: String,
        why: String,
    },
    #[error(transparent)]
    Url(#[from] target::UrlError),
    #[error(transparent)]
    User(#[from] crate::process::privileges::UserError),
    #[error("no database configured: set DATABASE_URL or pass -d URL")]
    NoDatabase,
    #[error("'{0}' takes no command to run (did you mean to leave out '{0}'?)")]
    CmdNotAllowed(&'static str),
}

/// The tracking table's name, validated as a plain identifier (optionally `schema.table`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub schema: Option<String>,
    pub name: String,
}

impl Table {
    /// Parses `name` or `schema.name`; each part `[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes.
    pub fn parse(text: &str) -> Result<Table, SettingsError> {
        let ident = |s: &str| {
            !s.is_empty()
                && s.len() <= 63
                && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let (schema, name) = match text.split_once('.') {
            Some((s, n)) => (Some(s), n),
            None => (None, text),
        };
        if !ident(name) || schema.is_some_and(|s| !ident(s)) {
            return Err(SettingsError::Invalid {
                what: "--table".into(),
                value: text.into(),
                why: "expected a plain identifier (letters, digits, '_') or schema.table".into(),
            });
        }
        Ok(Table {
            schema: schema.map(str::to_string),
            name: name.to_string(),
        })
    }

    /// The name as written by the user (`schema.table` or `table`).
    pub fn display(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// Which job this run does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Migrate, then exec CMD (or exit as `up` does when there is none).
    Entrypoint { cmd: Vec<OsString> },
    /// Migrate and exit.
    Up,
    /// Show what `up` would do; with `rehearse`, run the pending migrations in rolled-back
    /// transactions too.
    Plan { rehearse: bool },
    /// Show every migration's state.
    Status { format: Format, exit_code: bool },
    /// Record migrations as applied without running them.
    Baseline {
        through: Option<Mark>,
        /// Adopt the history this tool recorded.
        from: Option<Tool>,
        force: bool,
    },
    /// Create the next migration file.
    New {
        description: String,
        dir: Option<PathBuf>,
        script: Option<crate::cli::ScriptKind>,
    },
    /// Check files and records.
    Validate { format: Format },
    /// Undo applied migrations: the last `steps`, or all after `to`.
    Down { steps: usize, to: Option<Mark> },
    /// Fix records.
    Repair {
        checksums: bool,
        forget_missing: bool,
        forget: Vec<String>,
    },
    /// Record one migration as applied, or clear its failed attempt.
    Resolve(Resolve),
    /// Wait for every database to answer; with `migrated`, until each has every migration.
    Wait { migrated: bool },
    /// `schema dump`: print a database's schema as SQL.
    SchemaDump,
}

/// What `resolve` does to one migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolve {
    /// Record it as applied without running it.
    Applied(String),
    /// Clear its failed attempt.
    RolledBack(String),
}

/// A point in the migrations, by version (`3`, `V3`, `20260205000001`) or by a migration's
/// full name (`20260205000001_thin_container`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    Version(Version),
    Name(String),
}

impl Mark {
    /// Reads a version, else takes the text as a migration's name.
    pub fn parse(text: &str) -> Mark {
        match Version::parse(text.trim_start_matches(['V', 'v'])) {
            Some(v) => Mark::Version(v),
            None => Mark::Name(text.to_string()),
        }
    }
}

impl std::fmt::Display for Mark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mark::Version(v) => write!(f, "{v}"),
            Mark::Name(n) => f.write_str(n),
        }
    }
}

impl Mode {
    /// Commands that only look: a readiness probe must not hang on a database that is down.
    fn only_looks(&self) -> bool {
        matches!(
            self,
            Mode::Plan { .. } | Mode::Status { .. } | Mode::Validate { .. } | Mode::SchemaDump
        )
    }
}

/// The stderr log's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
}

/// Everything a run needs to know, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    /// How many database URLs were configured (before glob expansion).
    pub configured: usize,
    pub targets: Vec<Target>,
    pub dirs: Vec<PathBuf>,
    pub table: Table,
    pub on_error: Policy,
    /// `--lint`: what a dangerous PostgreSQL statement does.
    pub lint: LintPolicy,
    /// How long to retry a database that does not answer; zero: one attempt.
    pub wait: Duration,
    pub lock_timeout: Duration,
    pub lock_mode: LockMode,
    /// How long a script migration may run before it is killed.
    pub script_timeout: Duration,
    /// Databases worked on at once; 0 until given: the number of CPUs (see `fanout::map`).
    pub jobs: usize,
    /// `up --target`: apply no migration after this one.
    pub target: Option<Mark>,
    /// PostgreSQL: create a database that does not exist.
    pub create_database: bool,
    /// `--adopt`: on first start, adopt this tool's history as `baseline --from` would.
    pub adopt: Option<Tool>,
    /// PostgreSQL: how migration statements wait for locks.
    pub ddl: crate::backend::LockWaits,
    /// `--user`, resolved.
    pub user: Option<crate::process::privileges::Identity>,
    pub dry_run: bool,
    pub skip: bool,
    /// `--init`: CMD runs as a child of this process, which stays PID 1.
    pub init: bool,
    /// `--init-group`: signals go to CMD's process group.
    pub init_group: bool,
    /// Entrypoint: migrate nothing, wait until migrated, then run CMD.
    pub wait_only: bool,
    /// `--schema`: the declared schema's files and folders.
    pub schema: Vec<PathBuf>,
    /// `--schema-first`: the declared schema before the migrations.
    pub schema_first: bool,
    /// `--schema-strict`: differences on existing objects fail.
    pub schema_strict: bool,
    pub log: LogSettings,
}

/// The log settings, resolved before anything else so that errors of the rest are logged in
/// the chosen format.
pub fn log(given: &LogArgs, env: Env) -> Result<LogSettings, SettingsError> {
    Ok(LogSettings {
        format: choice(given.log_format, "MIGRATE_LOG_FORMAT", env, LogFormat::Text)?,
        filter: lookup(given.log_level.clone(), "MIGRATE_LOG", env)?
            .unwrap_or_else(|| DEFAULT_LOG_LEVEL.to_string()),
    })
}

/// The job the command line names, its values validated.
fn mode(job: Job) -> Result<Mode, SettingsError> {
    Ok(match job {
        Job::CmdAfter(word) => return Err(SettingsError::CmdNotAllowed(word)),
        Job::Entrypoint(cmd) => Mode::Entrypoint { cmd },
        Job::Up => Mode::Up,
        Job::Plan { rehearse } => Mode::Plan { rehearse },
        Job::Status { format, exit_code } => Mode::Status { format, exit_code },
        Job::Baseline {
            through,
            force,
            from,
        } => Mode::Baseline {
            through: through.as_deref().map(Mark::parse),
            from,
            force,
        },
        Job::New {
            description,
            dir,
            script,
        } => Mode::New {
            description: description.join(" "),
            dir,
            script,
        },
        Job::Validate { format } => Mode::Validate { format },
        Job::Down { steps, to } => Mode::Down {
            steps: steps.unwrap_or(1),
            to: to.as_deref().map(Mark::parse),
        },
        Job::Repair {
            checksums,
            forget_missing,
            forget,
        } => {
            if !checksums && !forget_missing && forget.is_empty() {
                return Err(SettingsError::Invalid {
                    what: "repair".into(),
                    value: String::new(),
                    why: "say what to repair: --checksums, --forget-missing or --forget NAME"
                        .into(),
                });
            }
            Mode::Repair {
                checksums,
                forget_missing,
                forget,
            }
        }
        Job::Resolve {
            applied,
            rolled_back,
        } => Mode::Resolve(match (applied, rolled_back) {
            (Some(name), _) => Resolve::Applied(name),
            (None, Some(name)) => Resolve::RolledBack(name),
            (None, None) => unreachable!("clap requires one of them"),
        }),
        Job::Wait { migrated } => Mode::Wait { migrated },
        Job::SchemaDump => Mode::SchemaDump,
    })
}

/// Resolves the command line against the environment. `log` was resolved before, by `log`.
// Each setting read once, flag or variable or default, in one place; in the order written,
// which is the order in which a bad one is reported.
pub fn resolve(
    given: Given,
    job: Job,
    log: LogSettings,
    env: Env,
) -> Result<Settings, SettingsError> {
    let mode = mode(job)?;
    let db = &given.db;
    let run = &given.run;

    let urls = list(&db.database_url, "DATABASE_URL", env, |v| {
        v.split_whitespace().map(str::to_string).collect()
    })?;
    let skip = boolean(given.entry.skip, "MIGRATE_SKIP", env)?;
    let shard = shard_of(db.shard.clone(), env)?;
    let targets = if skip || matches!(mode, Mode::New { .. }) {
        Vec::new()
    } else {
        targets_of(&urls, shard)?
    };
    let (dirs, schema) = folders(db, env)?;

    let table = Table::parse(
        &lookup(db.table.clone(), "MIGRATE_TABLE", env)?.unwrap_or_else(|| DEFAULT_TABLE.into()),
    )?;
    let adopt = adopt_of(run.adopt, env)?;
    check_table(&table, &mode, adopt, &targets)?;

    let wait = wait_of(&mode, &given, env)?;
    let jobs = jobs(lookup(db.jobs.clone(), "MIGRATE_JOBS", env)?)?;
    let init_group = boolean(given.entry.init_group, "MIGRATE_INIT_GROUP", env)?;
    let user = lookup(db.user.clone(), "MIGRATE_USER", env)?
        .map(|spec| crate::process::privileges::resolve(&spec))
        .transpose()?;

    check_database_named(&urls, skip, &mode)?;

    Ok(Settings {
        configured: urls.len(),
        targets,
        dirs,
        table,
        on_error: choice(
            run.policy.on_error,
            "MIGRATE_ON_ERROR",
            env,
            Policy::Continue,
        )?,
        lint: choice(run.lint.lint, "MIGRATE_LINT", env, LintPolicy::Warn)?,
        wait,
        lock_timeout: duration(
            lookup(run.lock.lock_timeout.clone(), "MIGRATE_LOCK_TIMEOUT", env)?,
            "--lock-timeout",
            DEFAULT_LOCK_TIMEOUT,
        )?,
        lock_mode: choice(
            run.lock.lock_mode,
            "MIGRATE_LOCK_MODE",
            env,
            LockMode::Advisory,
        )?,
        script_timeout: duration(
            lookup(run.script_timeout.clone(), "MIGRATE_SCRIPT_TIMEOUT", env)?,
            "--script-timeout",
            DEFAULT_SCRIPT_TIMEOUT,
        )?,
        jobs,
        target: lookup(run.target.clone(), "MIGRATE_TARGET", env)?
            .as_deref()
            .map(Mark::parse),
        create_database: boolean(run.create_database, "MIGRATE_CREATE_DATABASE", env)?,
        ddl: lock_waits(run, env)?,
        adopt,
        user,
        dry_run: boolean(run.dry_run, "MIGRATE_DRY_RUN", env)?,
        skip,
        // --init-group implies --init.
        init: boolean(given.entry.init, "MIGRATE_INIT", env)? || init_group,
        init_group,
        wait_only: boolean(given.entry.wait_only, "MIGRATE_WAIT_ONLY", env)?,
        schema,
        schema_first: boolean(db.schema.schema_first, "MIGRATE_SCHEMA_FIRST", env)?,
        schema_strict: boolean(db.schema.schema_strict, "MIGRATE_SCHEMA_STRICT", env)?,
        log,
        mode,
    })
}

/// The databases this run works on: every URL read, then each expanded (each file of a glob
/// is a database of its own), then, with `--shard`, this runner's share of them.
fn targets_of(urls: &[String], shard: Option<shard::Shard>) -> Result<Vec<Target>, SettingsError> {
    let all = target::resolve(urls)?;
    let Some(s) = shard else {
        return Ok(all);
    };
    let total = all.len();
    let mine: Vec<Target> = all.into_iter().filter(|t| s.takes(&t.redacted())).collect();
    tracing::info!(
        "--shard {}/{}: {} of the {total} databases are this runner's",
        s.index,
        s.count,
        mine.len()
    );
    Ok(mine)
}

/// The migration folders and the declared schema's files (`MIGRATIONS_DIRS`,
/// `MIGRATE_SCHEMA`: lists split at `:`); `./migrations` when no folder is named.
fn folders(db: &DbArgs, env: Env) -> Result<(Vec<PathBuf>, Vec<PathBuf>), SettingsError> {
    let paths = |v: &str| -> Vec<PathBuf> {
        v.split(':')
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect()
    };
    let mut dirs = list(&db.dirs.migrations_dir, "MIGRATIONS_DIRS", env, paths)?;
    let schema = list(&db.schema.schema, "MIGRATE_SCHEMA", env, paths)?;
    // A team with only a declared schema need not keep an empty ./migrations.
    if dirs.is_empty() && (schema.is_empty() || Path::new(DEFAULT_DIR).exists()) {
        dirs.push(PathBuf::from(DEFAULT_DIR));
    }
    Ok((dirs, schema))
}

/// `--adopt TOOL` (`MIGRATE_ADOPT`): whose history to take over, if any.
fn adopt_of(flag: Option<Tool>, env: Env) -> Result<Option<Tool>, SettingsError> {
    Ok(match (flag, lookup(None, "MIGRATE_ADOPT", env)?) {
        (Some(tool), _) => Some(tool),
        // A choice without a default: the variable's value is checked only when it is set.
        (None, Some(_)) => Some(choice(None, "MIGRATE_ADOPT", env, Tool::Prisma)?),
        (None, None) => None,
    })
}

/// How long to wait for a database to answer (`--wait`, `MIGRATE_WAIT`).
fn wait_of(mode: &Mode, given: &Given, env: Env) -> Result<Duration, SettingsError> {
    if mode.only_looks() && !given.wait_on_command_line {
        // One attempt: MIGRATE_WAIT in a container's environment is for the entrypoint.
        return Ok(Duration::ZERO);
    }
    duration(
        lookup(given.db.wait.clone(), "MIGRATE_WAIT", env)?,
        "--wait",
        DEFAULT_WAIT,
    )
}

/// A database must be named, except where none is needed: the entrypoint (it may only run
/// CMD), `new`, `validate`, and `--skip`.
fn check_database_named(urls: &[String], skip: bool, mode: &Mode) -> Result<(), SettingsError> {
    if urls.is_empty()
        && !skip
        && !matches!(
            mode,
            Mode::Entrypoint { .. } | Mode::New { .. } | Mode::Validate { .. }
        )
    {
        return Err(SettingsError::NoDatabase);
    }
    Ok(())
}

/// How PostgreSQL migration statements wait for locks, and how long one may run
/// (`--ddl-lock-timeout`, `--ddl-retry-for`, `--statement-timeout`; 0 is none).
fn lock_waits(run: &RunArgs, env: Env) -> Result<crate::backend::LockWaits, SettingsError> {
    Ok(crate::backend::LockWaits {
        lock_timeout: duration(
            lookup(
                run.ddl_lock_timeout.clone(),
                "MIGRATE_DDL_LOCK_TIMEOUT",
                env,
            )?,
            "--ddl-lock-timeout",
            DEFAULT_DDL_LOCK_TIMEOUT,
        )?,
        retry_for: duration(
            lookup(run.ddl_retry_for.clone(), "MIGRATE_DDL_RETRY_FOR", env)?,
            "--ddl-retry-for",
            DEFAULT_DDL_RETRY_FOR,
        )?,
        statement_timeout: lookup(
            run.statement_timeout.clone(),
            "MIGRATE_STATEMENT_TIMEOUT",
            env,
        )?
        .map(|v| duration(Some(v), "--statement-timeout", "0"))
        .transpose()?
        .filter(|d| !d.is_zero()),
    })
}

/// `--shard K/N` (`MIGRATE_SHARD`), or in a Kubernetes Indexed Job `MIGRATE_SHARDS=N` with K
/// from `JOB_COMPLETION_INDEX`.
fn shard_of(flag: Option<String>, env: Env) -> Result<Option<shard::Shard>, SettingsError> {
    let bad = |what: &str, value: String, why: String| SettingsError::Invalid {
        what: what.into(),
        value,
        why,
    };
    let shards = lookup(None, "MIGRATE_SHARDS", env)?;
    if let Some(v) = lookup(flag, "MIGRATE_SHARD", env)? {
        if shards.is_some() {
            return Err(bad(
                "--shard",
                v,
                "MIGRATE_SHARDS is set too: give one of them".into(),
            ));
        }
        return shard::Shard::parse(&v)
            .map(Some)
            .map_err(|why| bad("--shard", v, why));
    }
    let Some(n) = shards else {
        return Ok(None);
    };
    let count: u32 = n.trim().parse().map_err(|_| {
        bad(
            "MIGRATE_SHARDS",
            n.clone(),
            "expected a number of shards".into(),
        )
    })?;
    let Some(k) = lookup(None, "JOB_COMPLETION_INDEX", env)? else {
        return Err(bad(
            "MIGRATE_SHARDS",
            n,
            "needs JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job), or give --shard K/N"
                .into(),
        ));
    };
    let index: u32 = k.trim().parse().map_err(|_| {
        bad(
            "JOB_COMPLETION_INDEX",
            k.clone(),
            "expected a number".into(),
        )
    })?;
    shard::Shard::new(index, count)
        .map(Some)
        .map_err(|why| bad("JOB_COMPLETION_INDEX", k, why))
}

/// A repeatable setting: the flags when given, else the variable split by `split`.
fn list<T: Clone>(
    flags: &[T],
    name: &str,
    env: Env,
    split: impl Fn(&str) -> Vec<T>,
) -> Result<Vec<T>, SettingsError> {
    if !flags.is_empty() {
        return Ok(flags.to_vec());
    }
    Ok(lookup(None, name, env)?
        .map(|v| split(&v))
        .unwrap_or_default())
}

/// `--jobs`: a whole number of at least 1; unset is 0, the number of CPUs, looked up only
/// when there is more than one database (`fanout::map`).
fn jobs(value: Option<String>) -> Result<usize, SettingsError> {
    let Some(v) = value else { return Ok(0) };
    match v.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(SettingsError::Invalid {
            what: "--jobs".into(),
            value: v,
            why: "expected a whole number of at least 1".into(),
        }),
    }
}

/// A table name that cannot work here: another tool's table for `baseline --from`, a schema on
/// SQLite.
fn check_table(
    table: &Table,
    mode: &Mode,
    adopt: Option<Tool>,
    targets: &[Target],
) -> Result<(), SettingsError> {
    let from = match mode {
        Mode::Baseline { from, .. } => *from,
        _ => adopt,
    };
    if let Some(tool) = from
        && table.schema.is_none()
        && table.name == tool.table()
    {
        return Err(SettingsError::Invalid {
            what: "--table".into(),
            value: table.name.clone(),
            why: format!(
                "{} keeps its history in a table of that name too: name ours with --table \
                 (e.g. --table app_migrations, or MIGRATE_TABLE) to adopt it",
                tool.name()
            ),
        });
    }
    if table.schema.is_some() && targets.iter().any(|t| matches!(t, Target::Sqlite { .. })) {
        return Err(SettingsError::Invalid {
            what: "--table".into(),
            value: table.display(),
            why: "SQLite has no schemas: use a plain table name".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve_args(args: &[&str], env: Env) -> Result<Settings, SettingsError> {
        let cli = crate::cli::parse(
            std::iter::once("migrate-entrypoint")
                .chain(args.iter().copied())
                .map(OsString::from),
        )
        .unwrap();
        let (given, job) = cli.into_parts();
        let log = log(&given.log, env)?;
        resolve(given, job, log, env)
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + use<> {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults() {
        let s = resolve_args(&[], &env_of(&[])).unwrap();
        assert_eq!(s.dirs, [PathBuf::from(DEFAULT_DIR)]);
        assert_eq!(s.table.name, DEFAULT_TABLE);
        assert_eq!(s.on_error, Policy::Continue);
        assert_eq!(s.wait, Duration::from_secs(30));
        assert_eq!(s.lock_timeout, Duration::from_secs(300));
        assert_eq!(s.script_timeout, Duration::from_secs(600));
        assert!(!s.dry_run && !s.skip);
        assert_eq!(
            s.log,
            LogSettings {
                format: LogFormat::Text,
                filter: "info".into()
            }
        );
        assert_eq!(s.mode, Mode::Entrypoint { cmd: vec![] });
    }

    #[test]
    fn flag_wins_over_variable() {
        let env = env_of(&[("MIGRATE_ON_ERROR", "abort"), ("MIGRATE_WAIT", "5")]);
        let s = resolve_args(&["--on-error", "stop"], &env).unwrap();
        assert_eq!(s.on_error, Policy::Stop);
        assert_eq!(s.wait, Duration::from_secs(5));
    }

    #[test]
    fn probes_try_once_unless_told_to_wait() {
        let env = env_of(&[("MIGRATE_WAIT", "60s"), ("DATABASE_URL", "a.db")]);
        for probe in [&["status"][..], &["plan"], &["validate"]] {
            assert_eq!(resolve_args(probe, &env).unwrap().wait, Duration::ZERO);
        }
        let s = resolve_args(&["status", "--wait", "7s"], &env).unwrap();
        assert_eq!(s.wait, Duration::from_secs(7));
        assert_eq!(
            resolve_args(&["up"], &env).unwrap().wait,
            Duration::from_secs(60)
        );
        assert_eq!(
            resolve_args(&[], &env).unwrap().wait,
            Duration::from_secs(60)
        );
    }

    #[test]
    fn variables_and_files() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("url");
        std::fs::write(&f, format!("sqlite:{}/a.db\n", d.path().display())).unwrap();
        let env = env_of(&[
            ("DATABASE_URL_FILE", f.to_str().unwrap()),
            ("MIGRATIONS_DIRS", "a:b::c"),
            ("MIGRATE_DRY_RUN", "yes"),
        ]);
        let s = resolve_args(&[], &env).unwrap();
        assert_eq!(s.targets.len(), 1);
        assert_eq!(
            s.targets[0].redacted(),
            format!("sqlite:{}", d.path().join("a.db").display())
        );
        assert_eq!(s.dirs, ["a", "b", "c"].map(PathBuf::from));
        assert!(s.dry_run);

        let env = env_of(&[("DATABASE_URL", "x.db"), ("DATABASE_URL_FILE", "/f")]);
        assert!(matches!(
            resolve_args(&[], &env),
            Err(SettingsError::BothSet { .. })
        ));
        let env = env_of(&[("DATABASE_URL_FILE", "/no/such/file")]);
        assert!(matches!(
            resolve_args(&[], &env),
            Err(SettingsError::FileUnreadable { .. })
        ));
    }

    #[test]
    fn several_urls_in_one_variable() {
        let env = env_of(&[("DATABASE_URL", " a.db \n b.sqlite ")]);
        let s = resolve_args(&[], &env).unwrap();
        assert_eq!(s.targets.len(), 2);
    }

    #[test]
    fn bad_values() {
        let bad = |args: &[&str], env: &[(&str, &str)]| resolve_args(args, &env_of(env)).is_err();
        assert!(bad(&["--wait", "soon"], &[]));
        assert!(bad(&[], &[("MIGRATE_ON_ERROR", "sometimes")]));
        assert!(bad(&[], &[("MIGRATE_DRY_RUN", "maybe")]));
        assert!(bad(&[], &[("MIGRATE_LOCK_MODE", "file")]));
        assert!(bad(&["--jobs", "0"], &[]));
        assert!(bad(&[], &[("MIGRATE_JOBS", "many")]));
        assert!(bad(&[], &[("MIGRATE_LOG_FORMAT", "xml")]));
        assert!(bad(&["--table", "x; DROP TABLE y"], &[]));
        assert!(bad(&["--table", "a.b", "-d", "x.db"], &[]));
        assert!(bad(&["-d", "mysql://u:p@h/db"], &[]));
        assert!(bad(&["-d", "postgres://u:p@h/db?sslmode=sometimes"], &[]));
        assert!(bad(&["up", "--", "echo"], &[]));
        assert!(bad(&["baseline", "--from", "dbmate", "-d", "a.db"], &[]));
    }

    #[test]
    fn tables() {
        assert_eq!(
            Table::parse("schema_migrations").unwrap().name,
            "schema_migrations"
        );
        let t = Table::parse("app.migs").unwrap();
        assert_eq!(
            (t.schema.as_deref(), t.name.as_str()),
            (Some("app"), "migs")
        );
        for bad in ["", "1x", "a b", "a\"b", "a.b.c", "x'--", &"a".repeat(64)] {
            assert!(Table::parse(bad).is_err(), "{bad}");
        }
    }
}
