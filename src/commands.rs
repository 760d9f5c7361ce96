//! The commands: each wires source, runner, backends and report for one job, and decides its
//! exit code through `exit`.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};

use crate::settings::{Mode, Policy, Settings};
use crate::source::Version;
use crate::{backend, exec, exit, newfile, plan, report, runner, signals, source, validate};

/// Prints a usage or configuration error; exit 2.
pub fn usage_error(e: impl std::fmt::Display) -> i32 {
    eprintln!("migrate-entrypoint: error: {e}");
    exit::USAGE
}

/// Runs the command the settings name; returns the exit code (entrypoint mode does not return
/// once CMD runs).
pub fn run(s: &Settings) -> i32 {
    // For the test that a panic ends with a documented exit code: no other way to cause one.
    if std::env::var_os("MIGRATE_TEST_PANIC").is_some() {
        panic!("MIGRATE_TEST_PANIC is set");
    }
    match &s.mode {
        Mode::Entrypoint { cmd } => entrypoint(s, cmd),
        Mode::Up | Mode::Plan => migrate(s).map_or_else(|code| code, |(code, _)| code),
        Mode::Status { json, exit_code } => status(s, *json, *exit_code),
        Mode::Baseline {
            through,
            from,
            force,
        } => baseline(s, through.as_ref(), *from, *force),
        Mode::New { description, dir } => new(s, description, dir.as_deref()),
        Mode::Validate => validate(s),
    }
}

/// Migrate, then exec CMD (or exit as `up` does when there is none).
fn entrypoint(s: &Settings, cmd: &[OsString]) -> i32 {
    let (code, mask) = if s.skip {
        tracing::info!("--skip: no database touched");
        (exit::OK, None)
    } else {
        match migrate(s) {
            Ok(r) => r,
            Err(code) => return code,
        }
    };
    if cmd.is_empty() {
        return code;
    }
    // In entrypoint mode a signal or `abort` ends the run; other failures still run CMD.
    if code > 128 || (code != exit::OK && s.on_error == Policy::Abort) {
        tracing::error!("not running {}: exit {code}", cmd[0].to_string_lossy());
        return code;
    }
    let err = exec::exec(cmd, mask.as_ref());
    eprintln!("migrate-entrypoint: {err}");
    err.exit_code()
}

/// `status`: every migration of every database, to stdout.
fn status(s: &Settings, json: bool, exit_code: bool) -> i32 {
    let catalog = match source::scan(&s.dirs) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let dbs = runner::status_all(&s.targets, &catalog, &open_options(s, false), s.jobs);
    let mut out = std::io::stdout().lock();
    let written = if json {
        writeln!(out, "{:#}", report::status_json(&dbs))
    } else {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        report::write_status_text(&mut out, &dbs, colour)
    };
    if written.is_err() {
        return exit::FAILED;
    }
    exit::for_status(&dbs, exit_code)
}

fn open_options(s: &Settings, create: bool) -> backend::OpenOptions {
    backend::OpenOptions {
        table: s.table.clone(),
        create,
        wait: s.wait,
        busy_timeout: s.lock_timeout,
        lock_mode: s.lock_mode,
        // Measured here: keeping the journal made one database's apply of 200 migrations faster
        // (hyperfine, 169 -> 158 ms), but 100 SQLite files migrated by 2 jobs slower
        // (bench/fanout.sh, 2.83 -> 3.01 s), so only a lone database keeps it.
        keep_journal: s.targets.len() == 1,
    }
}

/// Finds the migrations and migrates every database; the exit code and the signal mask to
/// restore before exec.
fn migrate(s: &Settings) -> Result<(i32, Option<signals::OriginalMask>), i32> {
    if s.configured == 0 {
        source::scan(&s.dirs).map_err(usage_error)?;
        tracing::warn!(
            "no database configured (set DATABASE_URL or pass -d URL): nothing migrated"
        );
        return Ok((exit::OK, None));
    }
    // Before any other thread: they all inherit the blocked signals.
    let mask = match signals::install() {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch for signals ({e}): SIGTERM will not cancel a migration");
            None
        }
    };
    let dry_run = s.dry_run || s.mode == Mode::Plan;
    let open = open_options(s, !dry_run);
    // A single database is opened while the files are read. Not with several: a slow one,
    // waited for here, would hold up the others. Nor a SQLite file that does not exist yet:
    // opening would create it, and a folder error must leave nothing behind.
    let first = s
        .targets
        .first()
        .filter(|_| s.targets.len() == 1)
        .filter(|t| match t {
            crate::target::Target::Sqlite { path } => path.exists(),
            crate::target::Target::Postgres { .. } => true,
        });
    let (catalog, early) = std::thread::scope(|scope| {
        let early = first.map(|t| scope.spawn(|| runner::open_early(t, &open)));
        let catalog = source::scan(&s.dirs);
        (catalog, early.and_then(|h| h.join().ok()))
    });
    let catalog = catalog.map_err(usage_error)?;
    let opts = runner::RunOptions {
        policy: s.on_error,
        lock_timeout: s.lock_timeout,
        dry_run,
        log_steps: s.mode != Mode::Plan,
        script_timeout: s.script_timeout,
    };
    let progress = (!dry_run && !crate::logging::is_json() && std::io::stderr().is_terminal())
        .then(|| crate::progress::start(s.targets.len()));
    let outcomes = runner::run_all(&s.targets, &catalog, opts, &open, s.jobs, early);
    drop(progress);
    report::log_summaries(&outcomes);
    if s.mode == Mode::Plan {
        let _ = report::write_plan(&mut std::io::stdout().lock(), &outcomes);
    }
    Ok((exit::for_outcomes(&outcomes), mask))
}

/// `baseline`: record migrations as applied without running them, per database.
fn baseline(
    s: &Settings,
    through: Option<&Version>,
    from: Option<crate::adopt::Tool>,
    force: bool,
) -> i32 {
    let catalog = match source::scan(&s.dirs) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    if let Some(t) = through
        && !catalog.migrations.iter().any(|m| m.version == *t)
    {
        tracing::warn!("no migration has version {t}: recording those before it");
    }
    let open = open_options(s, true);
    let outcomes = crate::fanout::map(&s.targets, s.jobs, |t| {
        Some(runner::baseline(
            t,
            &catalog,
            &open,
            through,
            from,
            force,
            s.lock_timeout,
        ))
    });
    for o in &outcomes {
        let database = o.database.as_str();
        for why in &o.reported {
            tracing::error!(database, "{why}");
        }
        for why in &o.refused {
            tracing::error!(database, "cannot baseline {why}");
        }
        if !o.refused.is_empty() {
            tracing::error!(database, "baseline refused: nothing recorded");
        } else if o.error.is_none() {
            tracing::info!(
                database,
                recorded = o.recorded.len(),
                already = o.already,
                "baseline: recorded {} migration(s) as applied without running them ({} already applied)",
                o.recorded.len(),
                o.already
            );
        }
    }
    exit::for_baseline(&outcomes)
}

/// `new`: create the next migration file, print its path.
fn new(s: &Settings, description: &str, dir: Option<&std::path::Path>) -> i32 {
    let dir = dir
        .or(s.dirs.first().map(|d| d.as_path()))
        .unwrap_or(std::path::Path::new("migrations"));
    match newfile::create(dir, description) {
        Ok(path) => {
            println!("{}", path.display());
            exit::OK
        }
        Err(e @ newfile::NewError::EmptySlug(_)) => usage_error(e),
        Err(e) => {
            eprintln!("migrate-entrypoint: error: {e}");
            exit::FAILED
        }
    }
}

/// `validate`: one line per problem of the files and (given databases) the records.
fn validate(s: &Settings) -> i32 {
    let catalog = match source::scan(&s.dirs) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let mut problems = validate::check_files(&catalog);
    let open = open_options(s, false);
    let checked = crate::fanout::map(&s.targets, s.jobs, |t| {
        let database = t.shown();
        Some(
            backend::open(t, &open)
                .and_then(|mut b| {
                    let records = b.read_records()?.unwrap_or_default();
                    let entries = plan::entries(&catalog.migrations, b.dialect(), &records);
                    Ok(validate::check_records(&database, &entries))
                })
                .map_err(|e| (database, e)),
        )
    });
    let mut unreadable = false;
    for c in checked {
        match c {
            Ok(p) => problems.extend(p),
            Err((database, e)) => {
                unreadable = true;
                problems.push(validate::Problem {
                    place: database,
                    what: format!("cannot read: {e}"),
                });
            }
        }
    }
    let mut out = std::io::stdout().lock();
    for p in &problems {
        let _ = writeln!(out, "{p}");
    }
    if problems.is_empty() {
        let _ = writeln!(
            out,
            "ok: {} migrations in {} director{}, {} database{} checked",
            catalog.migrations.len(),
            s.dirs.len(),
            if s.dirs.len() == 1 { "y" } else { "ies" },
            s.targets.len(),
            if s.targets.len() == 1 { "" } else { "s" },
        );
    }
    if unreadable {
        exit::UNREACHABLE
    } else if problems.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    }
}
