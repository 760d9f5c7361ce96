//! `down` (alias `rollback`): undo applied migrations, newest first, with the down part their
//! folder has; each undo runs in its own transaction with the removal of its record, so the
//! migration is pending again. Refused, changing nothing, when one in range cannot be undone.

use super::{Changes, Finished, change_each};
use crate::backend::{Backend, BackendError, FailureKind, Then};
use crate::plan::{self, Entry};
use crate::settings::{Mark, Settings};

/// Undoes the last `steps` applied migrations, or every one after `to`, in every database.
pub fn run(s: &Settings, steps: usize, to: Option<&Mark>) -> Finished {
    let Some(catalog) = super::scan(s) else {
        return Finished::BadFolders;
    };
    let to = match to.map(|m| plan::version_of(&catalog, m)).transpose() {
        Ok(to) => to,
        Err(why) => {
            tracing::error!("--to: {why}");
            return Finished::BadInput;
        }
    };
    change_each(s, &catalog, |b, entries, c| {
        undo(b, entries, steps, to.as_ref(), s.dry_run, c)
    })
}

fn undo(
    b: &mut dyn Backend,
    entries: &[Entry<'_>],
    steps: usize,
    to: Option<&crate::source::Version>,
    dry_run: bool,
    c: &mut Changes,
) -> Result<(), BackendError> {
    let undos = match plan::undo(entries, steps, to) {
        Ok(u) => u,
        Err(refused) => {
            c.refused = refused;
            return Ok(());
        }
    };
    let total = undos.len();
    let mut undone = 0;
    let result = undo_each(b, &undos, dry_run, c, &mut undone);
    if !dry_run && total > 0 {
        let failed = c.failed.is_some();
        let left = total - undone - usize::from(failed);
        c.summary = Some(match &c.failed {
            None => format!("undid {undone} migration(s)"),
            Some(_) => format!(
                "undid {undone}, failed 1 ({}), not attempted {left}",
                undos[undone].entry.name
            ),
        });
    }
    result
}

/// Undoes each in turn, counting what was undone; stops at the first that fails.
fn undo_each(
    b: &mut dyn Backend,
    undos: &[plan::Undo<'_>],
    dry_run: bool,
    c: &mut Changes,
    undone: &mut usize,
) -> Result<(), BackendError> {
    for u in undos {
        let name = u.entry.name;
        if dry_run {
            c.done
                .push(format!("would undo {name} ({})", u.down.path.display()));
            continue;
        }
        let body = match u.down.read() {
            Ok(body) => body,
            Err(why) => {
                c.failed = Some(format!("cannot undo {name}: {why}"));
                return Ok(());
            }
        };
        let forget = Then::Forget(u.entry.record_name());
        match b.apply(&body, forget) {
            Ok(took) => {
                *undone += 1;
                c.done.push(format!(
                    "undid {name} in {} ms: it is pending again",
                    took.as_millis()
                ))
            }
            Err(f) => {
                return match f.kind {
                    FailureKind::Refused => {
                        c.failed = Some(format!(
                            "cannot undo {name}: its down part failed (rolled back): {}",
                            f.message
                        ));
                        Ok(())
                    }
                    FailureKind::Cancelled => Err(BackendError::Cancelled),
                    FailureKind::ConnectionLost => Err(BackendError::Failed(format!(
                        "the connection was lost while undoing {name}: {}",
                        f.message
                    ))),
                };
            }
        }
    }
    Ok(())
}
