//! The command line: clap types and `--help` text. Values stay raw strings here; `settings`
//! merges them with the environment and validates them.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const ABOUT: &str = "Applies pending database migrations, then runs your container's command.";

const LONG_ABOUT: &str = "\
Applies pending database migrations, then runs your container's command.

Use it as a Docker image's ENTRYPOINT. On every start it finds the migration files in the
migrations directories, applies the pending ones to each database (one transaction each,
recorded in a schema_migrations table), goes on past a failing migration unless told
otherwise, and then replaces itself with CMD, which keeps its PID.

Every option can also be set through the environment variable shown with it, or through
NAME_FILE holding the path of a file with the value (Docker and Kubernetes secrets).
A flag wins over its variable.";

const AFTER_HELP: &str = "\
Examples:
  migrate-entrypoint -d sqlite:app.db -m ./migrations -- gunicorn app:app
  DATABASE_URL=postgres://app@db/app migrate-entrypoint up
  migrate-entrypoint plan -d sqlite:app.db

Exit codes: CMD's own once it runs; 0 done; 1 a migration failed; 2 usage or configuration
error; 3 a database unreachable or its lock not had; 126 CMD not executable; 127 CMD not
found; 128+n stopped by signal n.";

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
    pub options: Options,

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
    Up,
    /// Show what `up` would do, changing nothing.
    Plan,
    /// Show every migration of every database: applied, pending, failed, changed, missing.
    Status(StatusArgs),
    /// Record migrations as applied without running them, for a database that already has
    /// their schema (created by hand, or by an older tool, before tracking began).
    Baseline(BaselineArgs),
    /// Create the next-numbered empty migration file and print its path.
    New(NewArgs),
    /// Check the migration files (and, with databases, their records); change nothing.
    Validate,
    /// Any other word starts the CMD to run after migrating.
    #[command(external_subcommand)]
    Exec(Vec<OsString>),
}

/// Options of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Output format: an aligned table per database, or one JSON document.
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"], default_value = "text")]
    pub format: String,
    /// Exit 1 when any migration is pending or failed (for health checks).
    #[arg(long = "exit-code")]
    pub exit_code: bool,
}

/// Options of `baseline`.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// The last version to record (default: every migration found).
    #[arg(long, value_name = "VERSION")]
    pub through: Option<String>,
    /// Also replace the records of migrations whose last attempt failed.
    #[arg(long)]
    pub force: bool,
    /// Adopt the history another tool recorded in its own table: dbmate, golang-migrate,
    /// flyway, sqlx or prisma (its table is only read).
    #[arg(long, value_name = "TOOL")]
    pub from: Option<String>,
}

/// Options of `new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// What the migration does, in words ("add user email").
    #[arg(required = true, num_args = 1.., value_name = "DESCRIPTION")]
    pub description: Vec<String>,
    /// The folder to create it in [default: the first migrations directory].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

/// Options shared by every command.
#[derive(Debug, Args)]
pub struct Options {
    /// Database to migrate: postgres://..., sqlite:PATH or a path ending in .db/.sqlite/.sqlite3;
    /// a SQLite glob (sqlite:///data/*.db) means every matching file. Repeatable.
    /// [env: DATABASE_URL, whitespace-separated]
    #[arg(short = 'd', long = "database-url", value_name = "URL", global = true)]
    pub database_url: Vec<String>,

    /// Directory holding migration files. Repeatable. [env: MIGRATIONS_DIRS, ':'-separated]
    /// [default: ./migrations]
    #[arg(
        short = 'm',
        long = "migrations-dir",
        value_name = "DIR",
        global = true
    )]
    pub migrations_dir: Vec<PathBuf>,

    /// Tracking table name. [env: MIGRATE_TABLE] [default: schema_migrations]
    #[arg(long, value_name = "NAME", global = true)]
    pub table: Option<String>,

    /// What a failed migration does: `continue` with the next one, `stop` this database,
    /// or `abort` everything (and do not run CMD). [env: MIGRATE_ON_ERROR] [default: continue]
    #[arg(long = "on-error", value_name = "POLICY", global = true,
          value_parser = ["continue", "stop", "abort"])]
    pub on_error: Option<String>,

    /// How long to keep retrying a database that does not answer yet (500ms, 30s, 5m, or
    /// seconds). [env: MIGRATE_WAIT] [default: 30s]
    #[arg(long, value_name = "DURATION", global = true)]
    pub wait: Option<String>,

    /// How long to wait for another runner's lock. [env: MIGRATE_LOCK_TIMEOUT] [default: 5m]
    #[arg(long = "lock-timeout", value_name = "DURATION", global = true)]
    pub lock_timeout: Option<String>,

    /// PostgreSQL locking: `advisory` (a session advisory lock), or `table` (a lease row in
    /// <table>_lock; use it behind a transaction-pooling PgBouncer). [env: MIGRATE_LOCK_MODE]
    /// [default: advisory]
    #[arg(long = "lock-mode", value_name = "MODE", global = true,
          value_parser = ["advisory", "table"])]
    pub lock_mode: Option<String>,

    /// Only show what would be applied; in entrypoint mode CMD still runs.
    /// [env: MIGRATE_DRY_RUN]
    #[arg(long = "dry-run", global = true)]
    pub dry_run: bool,

    /// Touch no database; in entrypoint mode just run CMD. [env: MIGRATE_SKIP]
    #[arg(long, global = true)]
    pub skip: bool,

    /// Become this user (name or uid, and group) before touching any database, and run CMD as
    /// it. Needs root. [env: MIGRATE_USER]
    #[arg(long, value_name = "USER[:GROUP]", global = true)]
    pub user: Option<String>,

    /// How long a script migration may run before it and what it started are killed.
    /// [env: MIGRATE_SCRIPT_TIMEOUT] [default: 10m]
    #[arg(long = "script-timeout", value_name = "DURATION", global = true)]
    pub script_timeout: Option<String>,

    /// Databases migrated at once. [env: MIGRATE_JOBS] [default: number of CPUs]
    #[arg(long, value_name = "N", global = true)]
    pub jobs: Option<String>,

    /// Log format on stderr: text or json. [env: MIGRATE_LOG_FORMAT] [default: text]
    #[arg(long = "log-format", value_name = "FORMAT", global = true,
          value_parser = ["text", "json"])]
    pub log_format: Option<String>,

    /// Log filter: error, warn, info, debug, trace, or per module
    /// (migrate_entrypoint=trace). [env: MIGRATE_LOG] [default: info]
    #[arg(long = "log-level", value_name = "FILTER", global = true)]
    pub log_level: Option<String>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Cli {
        parse(
            std::iter::once("migrate-entrypoint")
                .chain(args.iter().copied())
                .map(OsString::from),
        )
        .unwrap()
    }

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn double_dash_form_keeps_args_verbatim() {
        let c = p(&[
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
        assert!(c.command.is_none());
        assert_eq!(c.cmd, os(&["sh", "-c", "x", "--", "", "a b", "up"]));
        assert_eq!(c.options.database_url, ["sqlite:a.db"]);
    }

    #[test]
    fn bare_cmd_form() {
        let c = p(&["-d", "sqlite:a.db", "gunicorn", "-w", "4", "--", "x"]);
        match c.command {
            Some(Command::Exec(v)) => assert_eq!(v, os(&["gunicorn", "-w", "4", "--", "x"])),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn subcommand_with_options_after() {
        let c = p(&["up", "-d", "sqlite:a.db", "--on-error", "stop"]);
        assert!(matches!(c.command, Some(Command::Up)));
        assert_eq!(c.options.on_error.as_deref(), Some("stop"));
        let c = p(&["-m", "m", "plan"]);
        assert!(matches!(c.command, Some(Command::Plan)));
    }

    #[test]
    fn no_command_at_all() {
        let c = p(&["-d", "sqlite:a.db"]);
        assert!(c.command.is_none() && c.cmd.is_empty());
    }

    #[test]
    fn bad_values_are_errors() {
        let bad = |args: &[&str]| {
            parse(
                std::iter::once("migrate-entrypoint")
                    .chain(args.iter().copied())
                    .map(OsString::from),
            )
            .is_err()
        };
        assert!(bad(&["--on-error", "sometimes"]));
        assert!(bad(&["--no-such-flag"]));
        assert!(bad(&["--log-format", "xml"]));
    }
}
