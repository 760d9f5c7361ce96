//! Exit codes, decided in one place from what happened.

use crate::backend::BackendError;
use crate::runner::Outcome;

pub const OK: i32 = 0;
pub const FAILED: i32 = 1;
pub const USAGE: i32 = 2;
pub const UNREACHABLE: i32 = 3;

/// The exit code of `status`: 3 when a database could not be read; with `--exit-code`, 1 when
/// any migration is pending, failed or in conflict; else 0.
pub fn for_status(dbs: &[crate::runner::DbStatus], exit_code: bool) -> i32 {
    use crate::plan::State;
    if dbs.iter().any(|d| d.error.is_some()) {
        return UNREACHABLE;
    }
    let due = dbs
        .iter()
        .flat_map(|d| &d.rows)
        .any(|r| matches!(r.state, State::Pending | State::Failed | State::Conflict));
    if exit_code && due { FAILED } else { OK }
}

/// The exit code of `baseline`: 3 when a database could not be reached or locked, 1 when one
/// refused or failed, else 0.
pub fn for_baseline(outcomes: &[crate::runner::BaselineOutcome]) -> i32 {
    if outcomes.iter().any(|o| {
        matches!(
            o.error,
            Some(BackendError::Unreachable(_) | BackendError::LockTimeout(_))
        )
    }) {
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

/// The exit code of a migrating run: 128+n, then 3, then 1, then 0 (2 is decided before).
pub fn for_outcomes(outcomes: &[Outcome]) -> i32 {
    if let Some(n) = outcomes.iter().find_map(|o| o.cancelled) {
        return 128 + n;
    }
    let unreachable = outcomes.iter().any(|o| {
        matches!(
            o.error,
            Some(BackendError::Unreachable(_) | BackendError::LockTimeout(_))
        )
    });
    if unreachable {
        return UNREACHABLE;
    }
    if outcomes.iter().any(Outcome::is_failure) {
        return FAILED;
    }
    OK
}
