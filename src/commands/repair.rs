//! `repair`: fix the tracking records, each action only when asked by its flag, every change
//! logged with the old row's content. What it cannot do (a record that is not there) refuses
//! the whole repair of that database, changing nothing.

use super::{Changes, Finished, change_each};
use crate::backend::{Backend, BackendError};
use crate::plan::{Entry, Record, State, same_migration};
use crate::settings::Settings;

/// One change to a record.
enum Fix<'a> {
    /// Store the current file's checksum.
    Checksum { name: &'a str, new: &'a str },
    /// Remove the record.
    Forget { name: &'a str },
}

/// Repairs every database's records as asked.
pub fn run(s: &Settings, checksums: bool, forget_missing: bool, forget: &[String]) -> Finished {
    let Some(catalog) = super::scan(s) else {
        return Finished::BadFolders;
    };
    change_each(s, &catalog, |b, entries, c| {
        let (fixes, refused) = fixes(entries, checksums, forget_missing, forget);
        if !refused.is_empty() {
            c.refused = refused;
            return Ok(());
        }
        apply(b, fixes, s.dry_run, c)
    })
}

/// What was recorded, for the log line of a change.
pub fn describe(r: &Record) -> String {
    let state = if r.success { "applied" } else { "failed" };
    let mut text = format!("{state} at {}", r.applied_at.as_deref().unwrap_or("?"));
    if let Some(c) = &r.checksum {
        text.push_str(&format!(", checksum {c}"));
    }
    if let Some(e) = &r.error_message {
        text.push_str(&format!(", error: {e}"));
    }
    text
}

/// The changes asked for, and what cannot be done.
fn fixes<'a>(
    entries: &'a [Entry<'a>],
    checksums: bool,
    forget_missing: bool,
    forget: &[String],
) -> (Vec<(Fix<'a>, &'a Record)>, Vec<String>) {
    let mut out = Vec::new();
    let mut refused = Vec::new();
    for e in entries {
        let Some(r) = e.record else { continue };
        match e.state {
            State::Changed if checksums => {
                if let Some(new) = e.variant.and_then(|v| v.checksum()) {
                    out.push((Fix::Checksum { name: &r.name, new }, r));
                }
            }
            State::Missing if forget_missing => out.push((Fix::Forget { name: &r.name }, r)),
            _ => {}
        }
    }
    for name in forget {
        let found = entries
            .iter()
            .filter_map(|e| e.record)
            .find(|r| same_migration(&r.name, name) || same_migration(name, &r.name));
        match found {
            Some(r)
                if !out
                    .iter()
                    .any(|(f, _)| matches!(f, Fix::Forget { name } if *name == r.name)) =>
            {
                out.push((Fix::Forget { name: &r.name }, r))
            }
            Some(_) => {}
            None => refused.push(format!("--forget {name}: there is no record of that name")),
        }
    }
    (out, refused)
}

fn apply(
    b: &mut dyn Backend,
    fixes: Vec<(Fix<'_>, &Record)>,
    dry_run: bool,
    c: &mut Changes,
) -> Result<(), BackendError> {
    let would = if dry_run { "would " } else { "" };
    for (fix, old) in fixes {
        let was = describe(old);
        match fix {
            Fix::Checksum { name, new } => {
                if !dry_run {
                    b.set_checksum(name, new)?;
                }
                c.done.push(format!(
                    "{name}: {would}accept the file as it is now (checksum {new}; was: {was})"
                ));
            }
            Fix::Forget { name } => {
                if !dry_run {
                    b.forget(name)?;
                }
                c.done
                    .push(format!("{name}: {would}forget its record (was: {was})"));
            }
        }
    }
    Ok(())
}
