//! `resolve`: record one migration as applied without running it, or clear its failed
//! attempt (as `prisma migrate resolve` does). Refused, changing nothing, where that would
//! not be true to the records.

use super::repair::describe;
use super::{Finished, change_each};
use crate::backend::NewRecord;
use crate::plan::{Entry, State, same_migration};
use crate::settings::{Resolve, Settings};

/// Resolves one migration in every database.
pub fn run(s: &Settings, how: &Resolve) -> Finished {
    let Some(catalog) = super::scan(s) else {
        return Finished::BadFolders;
    };
    let would = if s.dry_run { "would " } else { "" };
    change_each(s, &catalog, |b, entries, c| {
        let named = |name: &str| -> Option<&Entry<'_>> {
            entries.iter().find(|e| {
                same_migration(name, e.name)
                    || e.record.is_some_and(|r| same_migration(&r.name, name))
            })
        };
        match how {
            Resolve::Applied(name) => {
                let Some(e) = named(name) else {
                    c.refused
                        .push(format!("--applied {name}: no migration file of that name"));
                    return Ok(());
                };
                let (Some(m), Some(v)) = (e.migration, e.variant) else {
                    c.refused
                        .push(format!("--applied {name}: its file is gone"));
                    return Ok(());
                };
                if let Some(why) = v.why_unusable() {
                    c.refused.push(format!("--applied {name}: {why}"));
                    return Ok(());
                }
                if matches!(e.state, State::Applied | State::Changed) {
                    c.done.push(format!("{}: already applied", e.name));
                    return Ok(());
                }
                if !s.dry_run {
                    b.record(&NewRecord {
                        name: e.record_name(),
                        description: &m.description,
                        checksum: v.checksum(),
                        success: true,
                        error_message: None,
                        execution_time_ms: None,
                        row_exists: e.record.is_some(),
                    })?;
                }
                c.done.push(format!(
                    "{}: {would}record as applied without running it",
                    e.name
                ));
            }
            Resolve::RolledBack(name) => {
                let Some(r) = named(name).and_then(|e| e.record) else {
                    c.refused.push(format!(
                        "--rolled-back {name}: there is no record of that name"
                    ));
                    return Ok(());
                };
                if r.success {
                    c.refused.push(format!(
                        "--rolled-back {name}: it is applied, not failed (`down` undoes it)"
                    ));
                    return Ok(());
                }
                if !s.dry_run {
                    b.forget(&r.name)?;
                }
                c.done.push(format!(
                    "{}: {would}clear its failed attempt, it is pending again (was: {})",
                    r.name,
                    describe(r)
                ));
            }
        }
        Ok(())
    })
}
