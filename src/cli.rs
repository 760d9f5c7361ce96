//! The command line: clap types, every closed set of values as a `ValueEnum`, and the `--help`
//! text. Values that have an environment variable stay optional here; `settings` merges them
//! with the environment and validates them.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use strsim::osa_distance;

const ABOUT: &str = "Applies pending database migrations, then runs your container's command.";

const LONG_ABOUT: &str = "\
Applies pending database migrations, then runs your container's command.

Use it as a Docker image's ENTRYPOINT. On every start it finds the migration files in the
migrations directories, applies the pending ones to each database (one transaction each,
recorded in a schema_migrations table), goes on past a failing migration unless told
otherwise, and then replaces itself with CMD, which keeps its PID.

CMD is looked up on PATH before any database is touched: when it is not found the run exits
127 and migrates nothing. With ENTRYPOINT [\"migrate-entrypoint\", \"--\"], a CMD that is one
of the commands below (`docker run IMAGE status`) runs that command, unless a program of that
name is on PATH.

With --init (MIGRATE_INIT=1), CMD runs as a child instead and this process stays PID 1:
signals forwarded, every child reaped, CMD's exit code (for an app that is not a good PID 1).

Every option can also be set through the environment variable shown with it, or through
NAME_FILE holding the path of a file with the value (Docker and Kubernetes secrets).
A flag wins over its variable.";

const AFTER_HELP: &str = "\
Examples:
  migrate-entrypoint -d sqlite:app.db -m ./migrations -- gunicorn app:app
  DATABASE_URL=postgres://app@db/app migrate-entrypoint up
  migrate-entrypoint plan -d sqlite:app.db

Exit codes: CMD's own once it runs; 0 done; 1 a migration failed; 2 usage or configuration
error; 3 a database could not be opened or read, or its lock not acquired; 126 CMD not
executable; 127 CMD not found; 128+n stopped by signal n.";

/// What a failed migration does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Policy {
    /// Roll it back, record the failure, try the next one.
    Continue,
    /// Try no further migration of that database; other databases go on.
    Stop,
    /// Try nothing further anywhere, and do not run CMD.
    Abort,
}

/// What the lint does with a dangerous PostgreSQL statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintPolicy {
    /// Name it in the log, then run it.
    Warn,
    /// Do not run its migration: record it as failed (refused), and go on under --on-error.
    Refuse,
    /// Read no statements.
    Off,
}

/// How PostgreSQL runners exclude each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LockMode {
    /// A session advisory lock (needs a session: direct or session-pooled connections).
    Advisory,
    /// A lease row in <table>_lock (works behind a transaction-pooling PgBouncer).
    Table,
}

/// The stderr log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// How `status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned table per database.
    Text,
    /// One JSON document.
    Json,
}

/// The kind of script `new --script` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScriptKind {
    /// A Python script (`#!/usr/bin/env python3`).
    #[value(alias = "python")]
    Py,
    /// A shell script (`#!/bin/sh`).
    Sh,
}

/// A migration tool whose history `baseline --from` adopts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Tool {
    Dbmate,
    #[value(alias = "migrate")]
    GolangMigrate,
    Flyway,
    Sqlx,
    Prisma,
    Goose,
    SqlMigrate,
    Tern,
    Diesel,
}

/// The parsed command line.
#[derive(Debug, Parser)]
#[command(
    name = "migrate-entrypoint",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    override_usage = "migrate-entrypoint [OPTIONS] [--] CMD [ARG]...\n       migrate-entrypoint [OPTIONS]\n       migrate-entrypoint <COMMAND> [OPTIONS]",
    allow_external_subcommands = true,
    disable_help_subcommand = true,
)]
pub struct Cli {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub entry: EntryArgs,
    #[command(flatten)]
    pub log: LogArgs,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// The command to run once migrations are done, given after `--` (filled by `parse`).
    #[arg(skip)]
    pub cmd: Vec<OsString>,
}

/// Subcommands; anything else in their place is the CMD to exec.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, print a summary, exit.
    Up {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Show what `up` would do, changing nothing.
    Plan {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        policy: PolicyArg,
        #[command(flatten)]
        lint: LintArg,
        /// Show what `up --target VERSION` would do. [env: MIGRATE_TARGET]
        #[arg(long, value_name = "VERSION")]
        target: Option<String>,
        /// PostgreSQL: run each pending transactional migration in a transaction that is
        /// rolled back, and report the locks each statement took, the tables it rewrote and
        /// how long it took (for a staging copy: the locks are held while it runs).
        #[arg(long)]
        rehearse: bool,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Show every migration of every database: applied, pending, failed, changed, missing.
    Status {
        #[command(flatten)]
        db: DbArgs,
        /// Output format.
        #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
        format: Format,
        /// Exit 1 when any migration is pending or failed (for health checks).
        #[arg(long = "exit-code")]
        exit_code: bool,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Record migrations as applied without running them, for a database that already has
    /// their schema (created by hand, or by an older tool, before tracking began).
    Baseline {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        lock: LockArgs,
        /// The last version to record (default: every migration found).
        #[arg(long, value_name = "VERSION")]
        through: Option<String>,
        /// Also replace the records of migrations whose last attempt failed.
        #[arg(long)]
        force: bool,
        /// Adopt the history another tool recorded in its own table (only read).
        #[arg(long, value_enum, value_name = "TOOL")]
        from: Option<Tool>,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Create the next-numbered empty migration file and print its path.
    New {
        /// What the migration does, in words ("add user email").
        #[arg(required = true, num_args = 1.., value_name = "DESCRIPTION")]
        description: Vec<String>,
        /// The folder to create it in [default: the first migrations directory].
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Write an executable script migration instead of SQL (from the folder's
        /// `_template.py` / `_template.sh` when there is one).
        #[arg(long, value_enum, value_name = "KIND")]
        script: Option<ScriptKind>,
        #[command(flatten)]
        dirs: DirsArg,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Check the migration files (and, with databases, their records); change nothing.
    Validate {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        lint: LintArg,
        /// Output format (json: the problems and the lint's findings as data).
        #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
        format: Format,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Undo the last applied migration (or several) with the down part its folder has
    /// (`.down.sql`, dbmate's `-- migrate:down`, Flyway's `U`), each with its record removed.
    #[command(alias = "rollback")]
    Down {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        change: ChangeArgs,
        /// How many applied migrations to undo, newest first [default: 1].
        #[arg(long, value_name = "N", conflicts_with = "to")]
        steps: Option<usize>,
        /// Undo every applied migration after this version (it stays applied).
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Fix the tracking records: accept changed files, forget records of files that are gone,
    /// or forget one record.
    Repair {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        change: ChangeArgs,
        /// Store the current file's checksum for every `changed` migration.
        #[arg(long)]
        checksums: bool,
        /// Remove the records of migrations no file has (`missing`).
        #[arg(long = "forget-missing")]
        forget_missing: bool,
        /// Remove this migration's record, so that it runs again. Repeatable.
        #[arg(long, value_name = "NAME")]
        forget: Vec<String>,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Record one migration as applied without running it, or clear its failed attempt.
    #[command(group(clap::ArgGroup::new("how").required(true).args(["applied", "rolled_back"])))]
    Resolve {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        change: ChangeArgs,
        /// Record this migration as applied, without running it.
        #[arg(long, value_name = "NAME")]
        applied: Option<String>,
        /// Clear this migration's failed attempt (it is pending again).
        #[arg(long = "rolled-back", value_name = "NAME")]
        rolled_back: Option<String>,
        #[command(flatten)]
        log: LogArgs,
    },
    /// The declared schema: `schema dump` prints a database's tables, columns and indexes as
    /// SQL that --schema accepts.
    Schema {
        #[command(subcommand)]
        action: SchemaCommand,
    },
    /// Wait until every database answers (up to --wait); exit 0, or 3.
    Wait {
        #[command(flatten)]
        db: DbArgs,
        /// Wait until every database has every migration applied (and, with --schema, its
        /// declared schema): exit 0, 3 when --wait ends first, 1 once a failed migration is
        /// seen. Never migrates, takes no lock.
        #[arg(long)]
        migrated: bool,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Any other word starts the CMD to run after migrating.
    #[command(external_subcommand)]
    Exec(Vec<OsString>),
}

/// What `schema` does.
#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Print a database's tables, columns and indexes (and on PostgreSQL its schemas,
    /// extensions, types, sequences and constraints) as SQL that --schema accepts.
    Dump {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        log: LogArgs,
    },
}

/// The words that name our subcommands (for the CMD rule and typo suggestions).
pub const SUBCOMMANDS: [&str; 12] = [
    "up", "plan", "status", "baseline", "new", "validate", "down", "rollback", "repair", "resolve",
    "wait", "schema",
];

/// Where the migrations are.
#[derive(Debug, Default, Clone, Args)]
pub struct DirsArg {
    /// Directory holding migration files. Repeatable. [env: MIGRATIONS_DIRS, ':'-separated]
    /// [default: ./migrations]
    #[arg(short = 'm', long = "migrations-dir", value_name = "DIR")]
    pub migrations_dir: Vec<PathBuf>,
}

/// Which databases, which migrations, and how to reach them: every command that reads a
/// database takes these.
#[derive(Debug, Default, Clone, Args)]
pub struct DbArgs {
    /// Database to migrate: postgres://..., sqlite:PATH or a path ending in .db/.sqlite/.sqlite3;
    /// a SQLite glob (sqlite:///data/*.db) means every matching file. Repeatable.
    /// [env: DATABASE_URL, whitespace-separated]
    #[arg(short = 'd', long = "database-url", value_name = "URL")]
    pub database_url: Vec<String>,

    #[command(flatten)]
    pub dirs: DirsArg,

    /// Tracking table name. [env: MIGRATE_TABLE] [default: schema_migrations]
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,

    /// How long to keep retrying a database that does not answer yet (500ms, 30s, 5m, or
    /// seconds). `status`, `plan` and `validate` try once unless it is given on their command
    /// line. [env: MIGRATE_WAIT] [default: 30s]
    #[arg(long, value_name = "DURATION")]
    pub wait: Option<String>,

    /// Databases worked on at once. [env: MIGRATE_JOBS] [default: number of CPUs]
    #[arg(long, value_name = "N")]
    pub jobs: Option<String>,

    /// Become this user (name or uid, and group) before touching any database, and run CMD as
    /// it. Needs root. [env: MIGRATE_USER]
    #[arg(long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,

    /// Only this runner's share of the databases: K of N runners (K from 0), each database
    /// given to exactly one, stable as databases are added. In a Kubernetes Indexed Job,
    /// MIGRATE_SHARDS=N takes K from JOB_COMPLETION_INDEX. [env: MIGRATE_SHARD]
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,

    #[command(flatten)]
    pub schema: SchemaArgs,
}

/// The declared schema.
#[derive(Debug, Default, Clone, Args)]
pub struct SchemaArgs {
    /// Declared schema: a .sql file or a folder of them (`*.postgres.sql` / `*.sqlite.sql`
    /// for one backend). What a database lacks of it (tables, columns, indexes, schemas,
    /// extensions, types, sequences) is added after the migrations; nothing is dropped.
    /// Repeatable. [env: MIGRATE_SCHEMA, ':'-separated]
    #[arg(long, value_name = "PATH")]
    pub schema: Vec<PathBuf>,

    /// Add the declared schema before the migrations instead of after them.
    /// [env: MIGRATE_SCHEMA_FIRST]
    #[arg(long = "schema-first")]
    pub schema_first: bool,

    /// Differences between the declared schema and existing objects fail the run instead of
    /// being warnings. [env: MIGRATE_SCHEMA_STRICT]
    #[arg(long = "schema-strict")]
    pub schema_strict: bool,
}

/// Taking the runner lock.
#[derive(Debug, Default, Clone, Args)]
pub struct LockArgs {
    /// How long to wait for another runner's lock. [env: MIGRATE_LOCK_TIMEOUT] [default: 5m]
    #[arg(long = "lock-timeout", value_name = "DURATION")]
    pub lock_timeout: Option<String>,

    /// PostgreSQL locking: a session advisory lock, or a lease row in <table>_lock (behind a
    /// transaction-pooling PgBouncer). [env: MIGRATE_LOCK_MODE] [default: advisory]
    #[arg(long = "lock-mode", value_enum, value_name = "MODE")]
    pub lock_mode: Option<LockMode>,
}

/// What a failed migration does.
#[derive(Debug, Default, Clone, Args)]
pub struct PolicyArg {
    /// What a failed migration does: `continue` with the next one, `stop` this database,
    /// or `abort` everything (and do not run CMD). [env: MIGRATE_ON_ERROR] [default: continue]
    #[arg(long = "on-error", value_enum, value_name = "POLICY")]
    pub on_error: Option<Policy>,
}

/// The lint of PostgreSQL migrations.
#[derive(Debug, Default, Clone, Args)]
pub struct LintArg {
    /// PostgreSQL: dangerous statements of pending migrations (squawk's rule names), named
    /// before they run: `warn` and run them, `refuse` to run their migration (recorded as
    /// failed), or `off`. A file allows a rule with `-- migrate:allow RULE[,RULE] [reason]`.
    /// [env: MIGRATE_LINT] [default: warn]
    #[arg(long, value_enum, value_name = "POLICY")]
    pub lint: Option<LintPolicy>,
}

/// Applying migrations.
#[derive(Debug, Default, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub policy: PolicyArg,

    #[command(flatten)]
    pub lint: LintArg,

    #[command(flatten)]
    pub lock: LockArgs,

    /// Only show what would be applied; in entrypoint mode CMD still runs.
    /// [env: MIGRATE_DRY_RUN]
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// How long a script migration may run before it and what it started are killed.
    /// [env: MIGRATE_SCRIPT_TIMEOUT] [default: 10m]
    #[arg(long = "script-timeout", value_name = "DURATION")]
    pub script_timeout: Option<String>,

    /// Apply pending migrations up to and including this version, no further.
    /// [env: MIGRATE_TARGET]
    #[arg(long, value_name = "VERSION")]
    pub target: Option<String>,

    /// PostgreSQL: create a database that does not exist (through the server's `postgres`
    /// database; needs CREATEDB). [env: MIGRATE_CREATE_DATABASE]
    #[arg(long = "create-database")]
    pub create_database: bool,

    /// PostgreSQL: how long a migration statement waits for a lock before it gives up and is
    /// tried again (so that queries queued behind it go ahead); 0 waits forever.
    /// [env: MIGRATE_DDL_LOCK_TIMEOUT] [default: 500ms]
    #[arg(long = "ddl-lock-timeout", value_name = "DURATION")]
    pub ddl_lock_timeout: Option<String>,

    /// PostgreSQL: how long a migration that gave up on a lock is tried again (backing off)
    /// before it fails. [env: MIGRATE_DDL_RETRY_FOR] [default: 10m]
    #[arg(long = "ddl-retry-for", value_name = "DURATION")]
    pub ddl_retry_for: Option<String>,

    /// PostgreSQL: how long one migration statement may run. [env: MIGRATE_STATEMENT_TIMEOUT]
    /// [default: off]
    #[arg(long = "statement-timeout", value_name = "DURATION")]
    pub statement_timeout: Option<String>,

    /// On a database that has this tool's history table and none of ours, adopt that
    /// history first, as `baseline --from TOOL` would (otherwise such a database is refused).
    /// [env: MIGRATE_ADOPT]
    #[arg(long, value_enum, value_name = "TOOL")]
    pub adopt: Option<Tool>,
}

/// Commands that change records: their lock, and a dry run.
#[derive(Debug, Default, Clone, Args)]
pub struct ChangeArgs {
    #[command(flatten)]
    pub lock: LockArgs,

    /// Only show what would be done, changing nothing. [env: MIGRATE_DRY_RUN]
    #[arg(long = "dry-run")]
    pub dry_run: bool,
}

impl ChangeArgs {
    fn run(self) -> RunArgs {
        RunArgs {
            lock: self.lock,
            dry_run: self.dry_run,
            ..RunArgs::default()
        }
    }
}

/// Entrypoint mode only.
#[derive(Debug, Default, Clone, Args)]
pub struct EntryArgs {
    /// Touch no database; just run CMD. [env: MIGRATE_SKIP]
    #[arg(long)]
    pub skip: bool,

    /// Stay PID 1 and run CMD as a child: forward signals to it, reap every child, exit with
    /// its code. For an app that is not a good PID 1 (a Flask dev server, a plain script or
    /// shell wrapper): as `docker run --init` or tini would. [env: MIGRATE_INIT]
    #[arg(long)]
    pub init: bool,

    /// With --init, signals go to CMD's whole process group (a shell's background jobs too).
    /// [env: MIGRATE_INIT_GROUP]
    #[arg(long = "init-group")]
    pub init_group: bool,

    /// Migrate nothing: wait until every database is migrated (as `wait --migrated`, up to
    /// --wait), then run CMD; for app pods beside a Job that migrates. [env: MIGRATE_WAIT_ONLY]
    #[arg(long = "wait-only")]
    pub wait_only: bool,
}

/// The stderr log.
#[derive(Debug, Default, Clone, Args)]
pub struct LogArgs {
    /// Log format on stderr. [env: MIGRATE_LOG_FORMAT] [default: text]
    #[arg(long = "log-format", value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    /// Log filter: error, warn, info, debug, trace, or per module
    /// (migrate_entrypoint=trace). [env: MIGRATE_LOG] [default: info]
    #[arg(long = "log-level", value_name = "FILTER")]
    pub log_level: Option<String>,
}

/// Every option of a run, wherever it was given: before the subcommand (the entrypoint's
/// options) or after it. A value given after the subcommand wins.
#[derive(Debug, Default, Clone)]
pub struct Given {
    pub db: DbArgs,
    pub run: RunArgs,
    pub entry: EntryArgs,
    pub log: LogArgs,
    /// `--wait` was given on the subcommand's own command line (a probe then waits).
    pub wait_on_command_line: bool,
}

fn or<T>(later: Option<T>, earlier: Option<T>) -> Option<T> {
    later.or(earlier)
}

fn or_vec<T>(later: Vec<T>, earlier: Vec<T>) -> Vec<T> {
    if later.is_empty() { earlier } else { later }
}

impl DbArgs {
    fn over(self, earlier: DbArgs) -> DbArgs {
        DbArgs {
            database_url: or_vec(self.database_url, earlier.database_url),
            dirs: DirsArg {
                migrations_dir: or_vec(self.dirs.migrations_dir, earlier.dirs.migrations_dir),
            },
            table: or(self.table, earlier.table),
            wait: or(self.wait, earlier.wait),
            jobs: or(self.jobs, earlier.jobs),
            user: or(self.user, earlier.user),
            shard: or(self.shard, earlier.shard),
            schema: SchemaArgs {
                schema: or_vec(self.schema.schema, earlier.schema.schema),
                schema_first: self.schema.schema_first || earlier.schema.schema_first,
                schema_strict: self.schema.schema_strict || earlier.schema.schema_strict,
            },
        }
    }
}

impl LockArgs {
    fn over(self, earlier: LockArgs) -> LockArgs {
        LockArgs {
            lock_timeout: or(self.lock_timeout, earlier.lock_timeout),
            lock_mode: or(self.lock_mode, earlier.lock_mode),
        }
    }
}

impl RunArgs {
    fn over(self, earlier: RunArgs) -> RunArgs {
        RunArgs {
            policy: PolicyArg {
                on_error: or(self.policy.on_error, earlier.policy.on_error),
            },
            lint: LintArg {
                lint: or(self.lint.lint, earlier.lint.lint),
            },
            lock: self.lock.over(earlier.lock),
            dry_run: self.dry_run || earlier.dry_run,
            script_timeout: or(self.script_timeout, earlier.script_timeout),
            target: or(self.target, earlier.target),
            create_database: self.create_database || earlier.create_database,
            adopt: or(self.adopt, earlier.adopt),
            ddl_lock_timeout: or(self.ddl_lock_timeout, earlier.ddl_lock_timeout),
            ddl_retry_for: or(self.ddl_retry_for, earlier.ddl_retry_for),
            statement_timeout: or(self.statement_timeout, earlier.statement_timeout),
        }
    }
}

impl LogArgs {
    fn over(self, earlier: LogArgs) -> LogArgs {
        LogArgs {
            log_format: or(self.log_format, earlier.log_format),
            log_level: or(self.log_level, earlier.log_level),
        }
    }
}

/// What the command line asks for, without its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Migrate, then exec CMD (empty: exit as `up` does).
    Entrypoint(Vec<OsString>),
    Up,
    Plan {
        rehearse: bool,
    },
    Status {
        format: Format,
        exit_code: bool,
    },
    Baseline {
        through: Option<String>,
        force: bool,
        from: Option<Tool>,
    },
    New {
        description: Vec<String>,
        dir: Option<PathBuf>,
        script: Option<ScriptKind>,
    },
    Validate {
        format: Format,
    },
    Down {
        steps: Option<usize>,
        to: Option<String>,
    },
    Repair {
        checksums: bool,
        forget_missing: bool,
        forget: Vec<String>,
    },
    Resolve {
        applied: Option<String>,
        rolled_back: Option<String>,
    },
    Wait {
        migrated: bool,
    },
    SchemaDump,
    /// A subcommand followed by `-- CMD`: a usage error.
    CmdAfter(&'static str),
}

impl Cli {
    /// Splits the command line into the options as given (before the subcommand or after it;
    /// after wins) and the job.
    pub fn into_parts(self) -> (Given, Job) {
        let Cli {
            db,
            run,
            entry,
            log,
            command,
            cmd,
        } = self;
        let earlier = Given {
            db,
            run,
            entry,
            log,
            wait_on_command_line: false,
        };
        let parts = match command.map(Command::parts) {
            None => return (earlier, Job::Entrypoint(cmd)),
            Some(Err(exec)) => return (earlier, Job::Entrypoint(exec)),
            Some(Ok(parts)) => parts,
        };
        over_earlier(parts, earlier, &cmd)
    }
}

/// A subcommand's own options and its job, with the subcommand's name (for `Job::CmdAfter`).
type Parts = (DbArgs, RunArgs, LogArgs, Job, &'static str);

impl Command {
    /// The subcommand's options and job; `exec`'s CMD as the error, since `exec` is the
    /// entrypoint's job with the entrypoint's options.
    // Long, but a table: one flat arm per subcommand, moving its fields; no logic to split.
    fn parts(self) -> Result<Parts, Vec<OsString>> {
        let none = RunArgs::default;
        Ok(match self {
            Command::Exec(cmd) => return Err(cmd),
            Command::Up { db, run, log } => (db, run, log, Job::Up, "up"),
            Command::Plan {
                db,
                policy,
                lint,
                target,
                rehearse,
                log,
            } => {
                let run = RunArgs {
                    policy,
                    lint,
                    target,
                    ..none()
                };
                (db, run, log, Job::Plan { rehearse }, "plan")
            }
            Command::Status {
                db,
                format,
                exit_code,
                log,
            } => (db, none(), log, Job::Status { format, exit_code }, "status"),
            Command::Baseline {
                db,
                lock,
                through,
                force,
                from,
                log,
            } => {
                let run = RunArgs { lock, ..none() };
                let job = Job::Baseline {
                    through,
                    force,
                    from,
                };
                (db, run, log, job, "baseline")
            }
            Command::New {
                description,
                dir,
                script,
                dirs,
                log,
            } => {
                let db = DbArgs {
                    dirs,
                    ..DbArgs::default()
                };
                let job = Job::New {
                    description,
                    dir,
                    script,
                };
                (db, none(), log, job, "new")
            }
            Command::Validate {
                db,
                lint,
                format,
                log,
            } => {
                let run = RunArgs { lint, ..none() };
                (db, run, log, Job::Validate { format }, "validate")
            }
            Command::Down {
                db,
                change,
                steps,
                to,
                log,
            } => (db, change.run(), log, Job::Down { steps, to }, "down"),
            Command::Repair {
                db,
                change,
                checksums,
                forget_missing,
                forget,
                log,
            } => {
                let job = Job::Repair {
                    checksums,
                    forget_missing,
                    forget,
                };
                (db, change.run(), log, job, "repair")
            }
            Command::Resolve {
                db,
                change,
                applied,
                rolled_back,
                log,
            } => {
                let job = Job::Resolve {
                    applied,
                    rolled_back,
                };
                (db, change.run(), log, job, "resolve")
            }
            Command::Wait { db, migrated, log } => {
                (db, none(), log, Job::Wait { migrated }, "wait")
            }
            Command::Schema {
                action: SchemaCommand::Dump { db, log },
            } => (db, none(), log, Job::SchemaDump, "schema"),
        })
    }
}

/// A subcommand's options over those given before it (after wins); a CMD after a subcommand
/// makes the job a usage error.
fn over_earlier(parts: Parts, earlier: Given, cmd: &[OsString]) -> (Given, Job) {
    let (db, run, log, job, word) = parts;
    let given = Given {
        wait_on_command_line: db.wait.is_some(),
        db: db.over(earlier.db),
        run: run.over(earlier.run),
        entry: earlier.entry,
        log: log.over(earlier.log),
    };
    let job = if cmd.is_empty() {
        job
    } else {
        Job::CmdAfter(word)
    };
    (given, job)
}

/// Parses the command line (argv including the program name).
///
/// `-- CMD...` is split off before clap sees it, unless a bare CMD came first, in which case
/// that `--` is one of CMD's own arguments and stays with it.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Cli, clap::Error> {
    let args: Vec<OsString> = args.into_iter().collect();
    let Some(dash) = args.iter().skip(1).position(|a| a == "--").map(|i| i + 1) else {
        return Cli::try_parse_from(args);
    };
    let mut cli = Cli::try_parse_from(&args[..dash])?;
    if matches!(cli.command, Some(Command::Exec(_))) {
        return Cli::try_parse_from(args);
    }
    cli.cmd = args[dash + 1..].to_vec();
    Ok(cli)
}

/// The command line with `-- SUBCOMMAND ARGS...` read as `SUBCOMMAND ARGS...` (for a CMD that
/// names one of our subcommands when no program of that name is on PATH).
pub fn parse_as_subcommand(args: &[OsString]) -> Result<Cli, clap::Error> {
    let joined: Vec<OsString> = match args.iter().skip(1).position(|a| a == "--") {
        Some(i) => args[..=i].iter().chain(&args[i + 2..]).cloned().collect(),
        None => args.to_vec(),
    };
    Cli::try_parse_from(joined)
}

/// A word of another tool (or a near miss) that means one of our subcommands.
pub fn suggest(word: &str) -> Option<&'static str> {
    suggest_verb(word)
}

/// What a CMD that was not found was likely meant as: one of our commands (`stauts`), or one
/// of our options (`docker run IMAGE --dry-run`, where everything after the image is CMD),
/// then with the variable to set instead.
pub fn hint(word: &str) -> Option<String> {
    if let Some(long) = word.strip_prefix("--") {
        let long = long.split('=').next().unwrap_or(long);
        let cmd = <Cli as clap::CommandFactory>::command();
        let all = std::iter::once(&cmd).chain(cmd.get_subcommands());
        let arg = all
            .flat_map(|c| c.get_arguments())
            .find(|a| a.get_long() == Some(long))?;
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        let var = help.split("[env: ").nth(1)?.split(']').next()?.to_string();
        let value = if arg.get_action().takes_values() {
            "..."
        } else {
            "1"
        };
        return Some(format!(
            "--{long} is an option of migrate-entrypoint, but here it is CMD (with ENTRYPOINT \
             [\"migrate-entrypoint\", \"--\"] everything after the image is CMD): set \
             {var}={value} instead (docker run -e {var}={value} IMAGE)"
        ));
    }
    suggest(word).map(|h| format!("did you mean `migrate-entrypoint {h}`?"))
}

fn suggest_verb(word: &str) -> Option<&'static str> {
    let w = word.to_ascii_lowercase();
    let verb = match w.as_str() {
        "migrate" | "deploy" | "apply" | "upgrade" | "run" => Some("up"),
        "undo" | "revert" | "downgrade" => Some("down"),
        "info" | "list" | "ls" | "show" | "version" | "check" => Some("status"),
        "create" | "add" | "generate" | "make" => Some("new"),
        "dry-run" | "pending" | "diff" => Some("plan"),
        "dump" => Some("schema dump"),
        "lint" | "verify" => Some("validate"),
        "mark" | "adopt" | "fake" => Some("baseline"),
        _ => None,
    };
    verb.or_else(|| {
        SUBCOMMANDS
            .iter()
            .copied()
            .filter(|s| w != *s && osa_distance(&w, s) <= if s.len() <= 4 { 1 } else { 2 })
            .min_by_key(|s| osa_distance(&w, s))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_p(args: &[&str]) -> Result<Cli, clap::Error> {
        parse(
            std::iter::once("migrate-entrypoint")
                .chain(args.iter().copied())
                .map(OsString::from),
        )
    }

    fn p(args: &[&str]) -> (Given, Job) {
        try_p(args).unwrap().into_parts()
    }

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn double_dash_form_keeps_args_verbatim() {
        let (g, job) = p(&[
            "-d",
            "sqlite:a.db",
            "--",
            "sh",
            "-c",
            "x",
            "--",
            "",
            "a b",
            "up",
        ]);
        assert_eq!(
            job,
            Job::Entrypoint(os(&["sh", "-c", "x", "--", "", "a b", "up"]))
        );
        assert_eq!(g.db.database_url, ["sqlite:a.db"]);
    }

    #[test]
    fn bare_cmd_form() {
        let (_, job) = p(&["-d", "sqlite:a.db", "gunicorn", "-w", "4", "--", "x"]);
        assert_eq!(
            job,
            Job::Entrypoint(os(&["gunicorn", "-w", "4", "--", "x"]))
        );
    }

    #[test]
    fn options_before_or_after_the_subcommand() {
        let (g, job) = p(&["up", "-d", "sqlite:a.db", "--on-error", "stop"]);
        assert_eq!(job, Job::Up);
        assert_eq!(g.run.policy.on_error, Some(Policy::Stop));
        let (g, job) = p(&["-m", "m", "--wait", "1s", "plan", "-m", "n"]);
        assert_eq!(job, Job::Plan { rehearse: false });
        assert_eq!(g.db.dirs.migrations_dir, [PathBuf::from("n")]);
        assert_eq!(g.db.wait.as_deref(), Some("1s"));
        assert!(!g.wait_on_command_line);
        let (g, _) = p(&["status", "--wait", "2s"]);
        assert!(g.wait_on_command_line);
        assert_eq!(p(&["up", "--", "echo"]).1, Job::CmdAfter("up"));
    }

    #[test]
    fn each_subcommand_takes_only_its_options() {
        assert!(try_p(&["status", "--on-error", "stop"]).is_err());
        assert!(try_p(&["new", "x", "-d", "a.db"]).is_err());
        assert!(try_p(&["validate", "--dry-run"]).is_err());
        assert!(try_p(&["baseline", "--lock-timeout", "1s", "--from", "migrate"]).is_ok());
    }

    #[test]
    fn no_command_at_all() {
        let (_, job) = p(&["-d", "sqlite:a.db"]);
        assert_eq!(job, Job::Entrypoint(vec![]));
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(try_p(&["--on-error", "sometimes"]).is_err());
        assert!(try_p(&["--no-such-flag"]).is_err());
        assert!(try_p(&["--log-format", "xml"]).is_err());
    }

    #[test]
    fn a_cmd_naming_a_subcommand_is_read_as_one() {
        let cli = parse_as_subcommand(&os(&[
            "migrate-entrypoint",
            "-d",
            "a.db",
            "--",
            "status",
            "--format",
            "json",
        ]))
        .unwrap();
        let (g, job) = cli.into_parts();
        assert_eq!(
            job,
            Job::Status {
                format: Format::Json,
                exit_code: false
            }
        );
        assert_eq!(g.db.database_url, ["a.db"]);
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("stauts"), Some("status"));
        assert_eq!(suggest("statsu"), Some("status"));
        assert_eq!(suggest("migrate"), Some("up"));
        assert_eq!(suggest("info"), Some("status"));
        assert_eq!(suggest("create"), Some("new"));
        assert_eq!(suggest("validat"), Some("validate"));
        assert_eq!(suggest("gunicorn"), None);
        assert_eq!(suggest("python"), None);
        assert_eq!(suggest("sh"), None);
        let h = hint("--dry-run").unwrap();
        assert!(h.contains("MIGRATE_DRY_RUN=1"), "{h}");
        assert!(
            hint("--on-error=abort")
                .unwrap()
                .contains("MIGRATE_ON_ERROR=...")
        );
        assert_eq!(hint("--no-such-option"), None);
    }
}
