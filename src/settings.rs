//! Resolved, validated settings: the command line merged with the environment (and its
//! `NAME_FILE` forms), durations and policies parsed, database URLs read and globs expanded.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{self, Cli};
use crate::target::{self, Target, UrlError};

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
    Url(#[from] UrlError),
    #[error(transparent)]
    User(#[from] crate::privileges::UserError),
    #[error(transparent)]
    PgUrl(#[from] crate::pgurl::PgUrlError),
    #[error("no database configured: set DATABASE_URL or pass -d URL")]
    NoDatabase,
    #[error("'{0}' takes no command to run (did you mean to leave out '{0}'?)")]
    CmdNotAllowed(&'static str),
}

/// What a failed migration does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Continue,
    Stop,
    Abort,
}

/// How PostgreSQL runners exclude each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// A session advisory lock (needs a session: direct or session-pooled connections).
    Advisory,
    /// A lease row in a lock table (works behind a transaction-pooling PgBouncer).
    Table,
}

/// The stderr log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
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
        let invalid = |why: &str| SettingsError::Invalid {
            what: "--table".into(),
            value: text.into(),
            why: why.into(),
        };
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
            return Err(invalid(
                "expected a plain identifier (letters, digits, '_') or schema.table",
            ));
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
    /// Show what `up` would do.
    Plan,
    /// Show every migration's state.
    Status { json: bool, exit_code: bool },
    /// Record migrations as applied without running them.
    Baseline {
        through: Option<crate::source::Version>,
        /// Adopt the history this tool recorded.
        from: Option<crate::adopt::Tool>,
        force: bool,
    },
    /// Create the next migration file.
    New {
        description: String,
        dir: Option<PathBuf>,
    },
    /// Check files and records.
    Validate,
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
    pub wait: Duration,
    pub lock_timeout: Duration,
    pub lock_mode: LockMode,
    /// How long a script migration may run before it is killed.
    pub script_timeout: Duration,
    /// Databases migrated at once; 0 until given: the number of CPUs (see `fanout::map`).
    pub jobs: usize,
    /// `--user`, resolved.
    pub user: Option<crate::privileges::Identity>,
    pub dry_run: bool,
    pub skip: bool,
}

/// The logging part of the settings, resolved before anything else so that errors of the rest
/// can be logged in the chosen format.
pub fn log_settings(
    cli: &Cli,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<(LogFormat, String), SettingsError> {
    let format = match pick(cli.options.log_format.clone(), "MIGRATE_LOG_FORMAT", env)?.as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(SettingsError::Invalid {
                what: "MIGRATE_LOG_FORMAT".into(),
                value: other.into(),
                why: "expected text or json".into(),
            });
        }
    };
    let filter = pick(cli.options.log_level.clone(), "MIGRATE_LOG", env)?
        .unwrap_or_else(|| "info".to_string());
    Ok((format, filter))
}

/// Resolves the command line against the environment.
pub fn resolve(
    cli: Cli,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Settings, SettingsError> {
    // Checked here too, so that resolving alone reports every bad setting.
    log_settings(&cli, env)?;
    let o = &cli.options;

    let mode = match cli.command {
        None => Mode::Entrypoint { cmd: cli.cmd },
        Some(cli::Command::Exec(cmd)) => Mode::Entrypoint { cmd },
        Some(cli::Command::Up) if cli.cmd.is_empty() => Mode::Up,
        Some(cli::Command::Plan) if cli.cmd.is_empty() => Mode::Plan,
        Some(cli::Command::Status(a)) if cli.cmd.is_empty() => Mode::Status {
            json: a.format == "json",
            exit_code: a.exit_code,
        },
        Some(cli::Command::Status(_)) => return Err(SettingsError::CmdNotAllowed("status")),
        Some(cli::Command::Baseline(a)) if cli.cmd.is_empty() => Mode::Baseline {
            through: a
                .through
                .as_deref()
                .map(|t| {
                    crate::source::Version::parse(t.trim_start_matches(['V', 'v'])).ok_or_else(
                        || SettingsError::Invalid {
                            what: "--through".into(),
                            value: t.into(),
                            why: "expected a version number such as 3, 0003 or 20260210000000"
                                .into(),
                        },
                    )
                })
                .transpose()?,
            from: a
                .from
                .as_deref()
                .map(|t| {
                    crate::adopt::Tool::parse(t).ok_or_else(|| SettingsError::Invalid {
                        what: "--from".into(),
                        value: t.into(),
                        why: "expected dbmate, golang-migrate, flyway, sqlx or prisma".into(),
                    })
                })
                .transpose()?,
            force: a.force,
        },
        Some(cli::Command::New(a)) if cli.cmd.is_empty() => Mode::New {
            description: a.description.join(" "),
            dir: a.dir,
        },
        Some(cli::Command::Validate) if cli.cmd.is_empty() => Mode::Validate,
        Some(cli::Command::Baseline(_)) => return Err(SettingsError::CmdNotAllowed("baseline")),
        Some(cli::Command::New(_)) => return Err(SettingsError::CmdNotAllowed("new")),
        Some(cli::Command::Validate) => return Err(SettingsError::CmdNotAllowed("validate")),
        Some(cli::Command::Up) => return Err(SettingsError::CmdNotAllowed("up")),
        Some(cli::Command::Plan) => return Err(SettingsError::CmdNotAllowed("plan")),
    };

    let urls: Vec<String> = if o.database_url.is_empty() {
        pick(None, "DATABASE_URL", env)?
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    } else {
        o.database_url.clone()
    };
    let skip = flag(o.skip, "MIGRATE_SKIP", env)?;
    let mut targets = Vec::new();
    if !skip {
        // Read every URL before expanding any, so a bad one fails before globbing others.
        let parsed = urls
            .iter()
            .map(|u| target::parse(u))
            .collect::<Result<Vec<_>, _>>()?;
        for p in &parsed {
            if let target::DbUrl::Postgres(u) = p {
                crate::pgurl::parse(u)?;
            }
            targets.extend(target::expand(p)?);
        }
    }

    let dirs: Vec<PathBuf> = if o.migrations_dir.is_empty() {
        match pick(None, "MIGRATIONS_DIRS", env)? {
            Some(v) => v
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect(),
            None => vec![PathBuf::from("./migrations")],
        }
    } else {
        o.migrations_dir.clone()
    };

    let table = Table::parse(
        &pick(o.table.clone(), "MIGRATE_TABLE", env)?.unwrap_or_else(|| "schema_migrations".into()),
    )?;
    if let Mode::Baseline {
        from: Some(tool), ..
    } = &mode
        && table.schema.is_none()
        && table.name == tool.table()
    {
        return Err(SettingsError::Invalid {
            what: "--table".into(),
            value: table.name.clone(),
            why: format!(
                "{} keeps its history in a table of that name too: name ours with --table \
                 (e.g. --table app_migrations) to adopt it",
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

    let on_error = match pick(o.on_error.clone(), "MIGRATE_ON_ERROR", env)?.as_deref() {
        None | Some("continue") => Policy::Continue,
        Some("stop") => Policy::Stop,
        Some("abort") => Policy::Abort,
        Some(other) => {
            return Err(SettingsError::Invalid {
                what: "MIGRATE_ON_ERROR".into(),
                value: other.into(),
                why: "expected continue, stop or abort".into(),
            });
        }
    };

    let wait = duration(pick(o.wait.clone(), "MIGRATE_WAIT", env)?, "--wait", 30)?;
    let lock_timeout = duration(
        pick(o.lock_timeout.clone(), "MIGRATE_LOCK_TIMEOUT", env)?,
        "--lock-timeout",
        300,
    )?;
    let dry_run = flag(o.dry_run, "MIGRATE_DRY_RUN", env)?;
    let script_timeout = duration(
        pick(o.script_timeout.clone(), "MIGRATE_SCRIPT_TIMEOUT", env)?,
        "--script-timeout",
        600,
    )?;
    let jobs = match pick(o.jobs.clone(), "MIGRATE_JOBS", env)? {
        // The number of CPUs, looked up only when there is more than one database (fanout).
        None => 0,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(SettingsError::Invalid {
                    what: "--jobs".into(),
                    value: v,
                    why: "expected a whole number of at least 1".into(),
                });
            }
        },
    };
    let user = pick(o.user.clone(), "MIGRATE_USER", env)?
        .map(|spec| crate::privileges::resolve(&spec))
        .transpose()?;
    let lock_mode = match pick(o.lock_mode.clone(), "MIGRATE_LOCK_MODE", env)?.as_deref() {
        None | Some("advisory") => LockMode::Advisory,
        Some("table") => LockMode::Table,
        Some(other) => {
            return Err(SettingsError::Invalid {
                what: "MIGRATE_LOCK_MODE".into(),
                value: other.into(),
                why: "expected advisory or table".into(),
            });
        }
    };

    if urls.is_empty()
        && !skip
        && !matches!(
            mode,
            Mode::Entrypoint { .. } | Mode::New { .. } | Mode::Validate
        )
    {
        return Err(SettingsError::NoDatabase);
    }

    Ok(Settings {
        mode,
        configured: urls.len(),
        targets,
        dirs,
        table,
        on_error,
        wait,
        lock_timeout,
        lock_mode,
        script_timeout,
        jobs,
        user,
        dry_run,
        skip,
    })
}

/// The flag's value if given, else the variable `name` or the file named by `name_FILE`.
/// An empty variable counts as unset (as compose files often leave them).
fn pick(
    flag: Option<String>,
    name: &str,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Option<String>, SettingsError> {
    if flag.is_some() {
        return Ok(flag);
    }
    let file_name = format!("{name}_FILE");
    let direct = env(name).filter(|v| !v.is_empty());
    let file = env(&file_name).filter(|v| !v.is_empty());
    let to_string = |v: OsString, n: &str| {
        v.into_string().map_err(|_| SettingsError::NotUtf8 {
            name: n.to_string(),
        })
    };
    match (direct, file) {
        (Some(_), Some(_)) => Err(SettingsError::BothSet {
            name: name.to_string(),
        }),
        (Some(v), None) => Ok(Some(to_string(v, name)?)),
        (None, Some(path)) => {
            let bytes = std::fs::read(&path).map_err(|err| SettingsError::FileUnreadable {
                name: name.to_string(),
                path: path.to_string_lossy().into_owned(),
                err,
            })?;
            let mut text = String::from_utf8(bytes).map_err(|_| SettingsError::NotUtf8 {
                name: file_name.clone(),
            })?;
            // One trailing newline is how editors and `echo` end a file, not part of the value.
            if text.ends_with('\n') {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            Ok(Some(text))
        }
        (None, None) => Ok(None),
    }
}

/// A boolean setting: the flag if given, else the variable (`1/true/yes/on`, `0/false/no/off`).
fn flag(
    given: bool,
    name: &str,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<bool, SettingsError> {
    if given {
        return Ok(true);
    }
    match pick(None, name, env)? {
        None => Ok(false),
        Some(v) => parse_bool(&v).ok_or_else(|| SettingsError::Invalid {
            what: name.into(),
            value: v,
            why: "expected 1/true/yes/on or 0/false/no/off".into(),
        }),
    }
}

/// Reads `1/true/yes/on` and `0/false/no/off`, in any case.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn duration(
    value: Option<String>,
    what: &str,
    default_secs: u64,
) -> Result<Duration, SettingsError> {
    match value {
        None => Ok(Duration::from_secs(default_secs)),
        Some(v) => parse_duration(&v).map_err(|why| SettingsError::Invalid {
            what: what.into(),
            value: v,
            why,
        }),
    }
}

/// Reads `500ms`, `30s`, `5m`, `1h` (and their combinations), or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|e| e.to_string());
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("{e} (expected e.g. 500ms, 30s, 5m, 1h, or seconds)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cli(args: &[&str]) -> Cli {
        cli::parse(
            std::iter::once("migrate-entrypoint")
                .chain(args.iter().copied())
                .map(OsString::from),
        )
        .unwrap()
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
        let s = resolve(cli(&[]), &env_of(&[])).unwrap();
        assert_eq!(s.dirs, [PathBuf::from("./migrations")]);
        assert_eq!(s.table.name, "schema_migrations");
        assert_eq!(s.on_error, Policy::Continue);
        assert_eq!(s.wait, Duration::from_secs(30));
        assert_eq!(s.lock_timeout, Duration::from_secs(300));
        assert!(!s.dry_run && !s.skip);
        assert_eq!(
            log_settings(&cli(&[]), &env_of(&[])).unwrap(),
            (LogFormat::Text, "info".to_string())
        );
        assert_eq!(s.mode, Mode::Entrypoint { cmd: vec![] });
    }

    #[test]
    fn flag_wins_over_variable() {
        let env = env_of(&[("MIGRATE_ON_ERROR", "abort"), ("MIGRATE_WAIT", "5")]);
        let s = resolve(cli(&["--on-error", "stop"]), &env).unwrap();
        assert_eq!(s.on_error, Policy::Stop);
        assert_eq!(s.wait, Duration::from_secs(5));
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
        let s = resolve(cli(&[]), &env).unwrap();
        assert_eq!(
            s.targets,
            [Target::Sqlite {
                path: d.path().join("a.db")
            }]
        );
        assert_eq!(s.dirs, ["a", "b", "c"].map(PathBuf::from));
        assert!(s.dry_run);

        let env = env_of(&[("DATABASE_URL", "x.db"), ("DATABASE_URL_FILE", "/f")]);
        assert!(matches!(
            resolve(cli(&[]), &env),
            Err(SettingsError::BothSet { .. })
        ));
        let env = env_of(&[("DATABASE_URL_FILE", "/no/such/file")]);
        assert!(matches!(
            resolve(cli(&[]), &env),
            Err(SettingsError::FileUnreadable { .. })
        ));
    }

    #[test]
    fn several_urls_in_one_variable() {
        let env = env_of(&[("DATABASE_URL", " a.db \n b.sqlite ")]);
        let s = resolve(cli(&[]), &env).unwrap();
        assert_eq!(s.targets.len(), 2);
    }

    #[test]
    fn bad_values() {
        let bad = |args: &[&str], env: &[(&str, &str)]| resolve(cli(args), &env_of(env)).is_err();
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
        assert!(bad(&["up", "--", "echo"], &[]));
    }

    #[test]
    fn durations() {
        let d = |s| parse_duration(s).unwrap();
        assert_eq!(d("500ms"), Duration::from_millis(500));
        assert_eq!(d("30s"), Duration::from_secs(30));
        assert_eq!(d("5m"), Duration::from_secs(300));
        assert_eq!(d("1h"), Duration::from_secs(3600));
        assert_eq!(d("45"), Duration::from_secs(45));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("5 parsecs").is_err());
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

    #[test]
    fn booleans() {
        for t in ["1", "true", "YES", "on"] {
            assert_eq!(parse_bool(t), Some(true));
        }
        for f in ["0", "false", "No", "off"] {
            assert_eq!(parse_bool(f), Some(false));
        }
        assert_eq!(parse_bool("2"), None);
    }
}
