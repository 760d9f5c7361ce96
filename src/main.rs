//! migrate-entrypoint: applies pending migrations, then execs the container's CMD.
//!
//! `main` only wires: cli → settings → (the user switch) → the command, whose exit code it
//! returns (or which has replaced this process with CMD).

mod adopt;
mod backend;
mod cli;
mod commands;
mod exec;
mod exit;
mod fanout;
mod logging;
mod newfile;
mod pgurl;
mod plan;
mod privileges;
mod progress;
#[cfg(test)]
mod proptests;
mod report;
mod runner;
mod script;
mod settings;
mod signals;
mod source;
mod target;
mod validate;

use std::ffi::OsString;

// musl's allocator maps and unmaps a page for nearly every small allocation; a no-op start
// spent more time in that than in SQLite (README, "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use commands::usage_error;

fn main() {
    std::process::exit(run());
}

fn env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

fn run() -> i32 {
    // A bug must not surface as 101 (or an abort's 134), which mean something else to a
    // supervisor: report it and exit 1, as for a failed migration. The database rolls back
    // whatever transaction was open when the connection closes.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("migrate-entrypoint: internal error: {info}");
        std::process::exit(exit::FAILED);
    }));
    let cli = match cli::parse(std::env::args_os()) {
        Ok(c) => c,
        Err(e) => {
            // --help and --version are "errors" that go to stdout and exit 0.
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    match settings::log_settings(&cli, &env) {
        Ok((format, filter)) => {
            if let Err(e) = logging::init(format, &filter) {
                return usage_error(e);
            }
        }
        Err(e) => return usage_error(e),
    }
    let settings = match settings::resolve(cli, &env) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    // Before any database is opened (files it creates belong to the user) and before any
    // other thread starts.
    if let Some(user) = &settings.user
        && let Err(e) = privileges::become_user(user)
    {
        return usage_error(e);
    }
    commands::run(&settings)
}
