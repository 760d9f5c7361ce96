//! migrate-entrypoint: applies pending migrations, then execs the container's CMD.
//!
//! `main` only wires: cli → settings → the log → the user switch → CMD found → the command,
//! whose end becomes the exit code (or which has replaced this process with CMD).

mod backend;
mod cli;
mod commands;
mod lint;
mod output;
mod plan;
mod process;
#[cfg(test)]
mod proptests;
mod schema;
mod settings;
mod source;

use std::ffi::OsString;

use output::exit;
use process::exec;

// musl's allocator maps and unmaps a page for nearly every small allocation; a no-op start
// spent more time in that than in SQLite (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(run());
}

fn env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

fn run() -> i32 {
    exec::note_inherited();
    // A bug must not surface as 101 (or an abort's 134), which mean something else to a
    // supervisor: report it and exit 1, as for a failed migration. The database rolls back
    // whatever transaction was open when the connection closes.
    std::panic::set_hook(Box::new(|info| {
        tracing::error!("internal error: {info}");
        eprintln_if_no_logger(&format!("migrate-entrypoint: internal error: {info}"));
        std::process::exit(exit::FAILED);
    }));
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match parse(&args) {
        Ok(c) => c,
        Err(e) => return clap_error(&e, &args),
    };
    let (given, job) = cli.into_parts();
    let log = match settings::log(&given.log, &env) {
        Ok(l) => l,
        Err(e) => {
            let _ = output::log::init(settings::LogFormat::Text, settings::DEFAULT_LOG_LEVEL);
            tracing::error!("{e}");
            return exit::USAGE;
        }
    };
    if let Err(e) = output::log::init(log.format, &log.filter) {
        tracing::error!("{e}");
        return exit::USAGE;
    }
    // Only reachable in a build for the tests: a panic is otherwise impossible to cause.
    #[cfg(debug_assertions)]
    if std::env::var_os("MIGRATE_TEST_PANIC").is_some() {
        panic!("MIGRATE_TEST_PANIC is set");
    }
    let s = match settings::resolve(given, job, log, &env) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return exit::USAGE;
        }
    };
    // Before any database is opened (files it creates belong to the user) and before any
    // other thread starts; CMD is then looked up as that user will exec it.
    if let Some(user) = &s.user
        && let Err(e) = process::privileges::become_user(user)
    {
        tracing::error!("{e}");
        return exit::USAGE;
    }
    let cmd = match &s.mode {
        settings::Mode::Entrypoint { cmd } if !cmd.is_empty() => {
            let word = cmd[0].to_str().unwrap_or("");
            match exec::resolve(cmd, cli::hint(word)) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::error!("{e}");
                    return exit::for_exec(&e);
                }
            }
        }
        _ => None,
    };
    let finished = commands::run(&s, cmd, &output::Terminal, &|_| {});
    match &finished {
        commands::Finished::Exec(e) => tracing::error!("{e}"),
        commands::Finished::Child(Err(e)) => tracing::error!("{e}"),
        _ => {}
    }
    exit::code(&finished)
}

/// Reads the command line. `-- SUBCOMMAND ...` runs our subcommand when no program of that
/// name is on PATH (so `docker run IMAGE status` works with `ENTRYPOINT [..., "--"]`).
fn parse(args: &[OsString]) -> Result<cli::Cli, clap::Error> {
    let cli = cli::parse(args.iter().cloned())?;
    let word = cli.cmd.first().and_then(|w| w.to_str());
    match word {
        Some(w) if cli::SUBCOMMANDS.contains(&w) && !exec::on_path(w.as_ref()) => {
            cli::parse_as_subcommand(args)
        }
        _ => Ok(cli),
    }
}

/// A command line clap could not read: `--help` and `--version` to stdout; errors through
/// the log in the format asked for (read from the arguments and the environment as far as
/// they can be), exit 2.
fn clap_error(e: &clap::Error, args: &[OsString]) -> i32 {
    let json = args
        .windows(2)
        .any(|w| w[0] == "--log-format" && w[1] == "json")
        || args.iter().any(|a| a == "--log-format=json")
        || settings::env::choice(None, "MIGRATE_LOG_FORMAT", &env, settings::LogFormat::Text)
            .is_ok_and(|f| f == settings::LogFormat::Json);
    if !e.use_stderr() || !json {
        let _ = e.print();
    } else {
        let _ = output::log::init(settings::LogFormat::Json, settings::DEFAULT_LOG_LEVEL);
        tracing::error!("{}", e.render().to_string().trim_end());
    }
    exit::for_clap(e)
}

/// The panic message when no logger took it (a panic before the log was set up).
fn eprintln_if_no_logger(text: &str) {
    if !tracing::dispatcher::has_been_set() {
        eprintln!("{text}");
    }
}
