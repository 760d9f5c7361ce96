//! Exit codes, decided in one place from how a run ended.

use crate::backend::BackendError;
use crate::commands::{BaselineOutcome, Changes, DbStatus, Finished, NewError, Outcome};
use crate::plan::State;
use crate::process::exec::ExecError;

pub const OK: i32 = 0;
pub const FAILED: i32 = 1;
pub const USAGE: i32 = 2;
pub const UNREACHABLE: i32 = 3;
pub const NOT_EXECUTABLE: i32 = 126;
pub const NOT_FOUND: i32 = 127;

/// The exit code of a command line clap could not read (`--help` and `--version` are 0).
pub fn for_clap(e: &clap::Error) -> i32 {
    e.exit_code()
}

/// The exit code of a run that ended as `f` says.
pub fn code(f: &Finished) -> i32 {
    match f {
        Finished::BadFolders | Finished::BadInput => USAGE,
        Finished::Changed(_, Some(n)) => 128 + n,
        Finished::Changed(all, None) => for_changes(all),
        Finished::WaitedMigrated(all, signal) => {
            use crate::commands::wait::Readiness;
            if let Some(n) = signal {
                128 + n
            } else if all.iter().any(|r| matches!(r, Readiness::NotYet(_))) {
                UNREACHABLE
            } else if all.iter().any(|r| matches!(r, Readiness::Failed(_))) {
                FAILED
            } else {
                OK
            }
        }
        Finished::Waited { all_answered: all } | Finished::Dumped { all_read: all } => {
            if *all {
                OK
            } else {
                UNREACHABLE
            }
        }
        Finished::Migrated { outcomes, signal } => for_outcomes(outcomes, *signal),
        Finished::Status { dbs, exit_code } => for_status(dbs, *exit_code),
        Finished::Baseline(outcomes) => for_baseline(outcomes),
        Finished::New(Ok(_)) => OK,
        Finished::New(Err(NewError::EmptySlug(_))) => USAGE,
        Finished::New(Err(_)) => FAILED,
        Finished::Validate {
            unreadable: true, ..
        } => UNREACHABLE,
        Finished::Validate { problems, .. } => {
            if *problems == 0 {
                OK
            } else {
                FAILED
            }
        }
        Finished::Exec(e) => for_exec(e),
        Finished::Child(Ok(code)) => *code,
        Finished::Child(Err(e)) => match e.1.kind() {
            std::io::ErrorKind::NotFound => NOT_FOUND,
            _ => NOT_EXECUTABLE,
        },
    }
}

/// 127 for a CMD not found, 126 for one found but not executable (as shells do).
pub fn for_exec(e: &ExecError) -> i32 {
    match e {
        ExecError::NotFound(..) => NOT_FOUND,
        ExecError::NotExecutable(..) | ExecError::Nul(_) => NOT_EXECUTABLE,
    }
}

/// Whether a database's error means it could not be opened or read (3) rather than failed (1).
fn unread(e: &Option<BackendError>) -> bool {
    e.as_ref().is_some_and(BackendError::unread)
}

/// `status`: 3 when a database could not be read; with `--exit-code`, 1 when any migration is
/// pending, failed or in conflict; else 0.
fn for_status(dbs: &[DbStatus], exit_code: bool) -> i32 {
    if dbs.iter().any(|d| d.error.is_some()) {
        return UNREACHABLE;
    }
    let due = dbs
        .iter()
        .flat_map(|d| &d.rows)
        .any(|r| matches!(r.state, State::Pending | State::Failed | State::Conflict));
    if exit_code && due { FAILED } else { OK }
}

/// `baseline`: 3 when a database could not be read or locked, 1 when one refused or failed,
/// else 0.
fn for_baseline(outcomes: &[BaselineOutcome]) -> i32 {
    if outcomes.iter().any(|o| unread(&o.error)) {
        return UNREACHABLE;
    }
    if outcomes
        .iter()
        .any(|o| o.error.is_some() || !o.refused.is_empty() || !o.reported.is_empty())
    {
        return FAILED;
    }
    OK
}

/// `down`, `repair`, `resolve`: 3 when a database could not be read or locked, 1 when one
/// refused or failed, else 0.
fn for_changes(all: &[Changes]) -> i32 {
    if all.iter().any(|c| unread(&c.error)) {
        UNREACHABLE
    } else if all
        .iter()
        .any(|c| c.error.is_some() || !c.refused.is_empty() || c.failed.is_some())
    {
        FAILED
    } else {
        OK
    }
}

/// A migrating run: 128+n, then 3, then 1, then 0 (2 is decided before).
fn for_outcomes(outcomes: &[Outcome], signal: Option<i32>) -> i32 {
    if let Some(n) = signal {
        return 128 + n;
    }
    if outcomes.iter().any(|o| unread(&o.error)) {
        return UNREACHABLE;
    }
    if outcomes.iter().any(Outcome::is_failure) {
        return FAILED;
    }
    OK
}
