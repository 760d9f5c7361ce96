//! `wait`: wait until every database answers (up to `--wait`), the command dbmate users put
//! in front of other tools. Reads nothing, creates nothing.

use super::{Finished, fanout, open_options};
use crate::backend;
use crate::settings::Settings;

/// Opens every database (retrying up to `--wait`); all answered, or not.
pub fn run(s: &Settings) -> Finished {
    let open = open_options(s, false);
    let answered = fanout::map(&s.targets, s.jobs, |t| {
        let database = t.redacted();
        Some(match backend::open(t, &open) {
            Ok(_) => {
                tracing::info!(database, "answers");
                true
            }
            Err(e) => {
                tracing::error!(database, error = %e, "{e}");
                false
            }
        })
    });
    Finished::Waited {
        all_answered: answered.iter().all(|a| *a),
    }
}

/// How one database stands for `wait --migrated`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Every migration applied (and the declared schema in place).
    Ready,
    /// A migration's last attempt failed: waiting would not end it.
    Failed(Vec<String>),
    /// `--wait` ended first: how many were still pending, or why it could not be read.
    NotYet(String),
}

/// `wait --migrated` (and the entrypoint's `--wait-only`): polls every database, up to
/// `--wait`, until each has every migration of the folders applied. Migrates nothing, takes
/// no lock, creates nothing.
pub fn migrated(s: &Settings) -> Finished {
    let ready = wait_migrated(s);
    Finished::WaitedMigrated(ready, crate::process::signals::caught())
}

/// Each database's readiness, in order (logged).
pub fn wait_migrated(s: &Settings) -> Vec<Readiness> {
    let Some(catalog) = super::scan(s) else {
        return vec![Readiness::NotYet(
            "the migration folders cannot be read".into(),
        )];
    };
    let declared = match super::declare::DeclaredRun::read(s) {
        Ok(d) => d,
        Err(e) => return vec![Readiness::NotYet(e.to_string())],
    };
    if let Err(e) = crate::process::signals::install() {
        tracing::warn!("cannot watch for signals ({e})");
    }
    let deadline = std::time::Instant::now() + s.wait;
    fanout::map(&s.targets, s.jobs, |t| {
        let database = t.redacted();
        let mut logged = false;
        let r = loop {
            // Whole milliseconds: the log names what is left.
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let left = std::time::Duration::from_millis(left.as_millis() as u64);
            let open = crate::backend::OpenOptions {
                wait: left,
                ..open_options(s, false)
            };
            let seen = super::Opened::open(t, &open).and_then(|mut o| {
                let entries = o.entries(&catalog);
                let failed: Vec<String> = entries
                    .iter()
                    .filter(|e| e.state == crate::plan::State::Failed)
                    .map(|e| e.name.to_string())
                    .collect();
                let due = crate::plan::due(&entries, None).len();
                drop(entries);
                let schema = match &declared {
                    Some(d) => d.needed(o.backend.as_mut(), &o.records)?,
                    None => false,
                };
                Ok((failed, due, schema))
            });
            match seen {
                Ok((failed, _, _)) if !failed.is_empty() => break Readiness::Failed(failed),
                Ok((_, 0, false)) => break Readiness::Ready,
                Ok((_, due, schema)) => {
                    let what = match (due, schema) {
                        (0, _) => "the declared schema not in place".to_string(),
                        (n, false) => format!("{n} migration(s) pending"),
                        (n, true) => {
                            format!("{n} migration(s) pending and the declared schema not in place")
                        }
                    };
                    if left.is_zero() {
                        break Readiness::NotYet(what);
                    }
                    if !logged {
                        tracing::info!(database, "waiting until it is migrated: {what}");
                        logged = true;
                    }
                }
                Err(e) if left.is_zero() => break Readiness::NotYet(e.to_string()),
                Err(_) => {}
            }
            if crate::process::signals::caught().is_some() {
                break Readiness::NotYet("stopped by a signal".into());
            }
            let pause = std::time::Duration::from_millis(250).min(left);
            std::thread::sleep(pause);
        };
        match &r {
            Readiness::Ready => tracing::info!(database, "migrated"),
            Readiness::Failed(names) => tracing::error!(
                database,
                "{} failed: waiting will not make it migrated (see `status`)",
                names.join(", ")
            ),
            Readiness::NotYet(why) => tracing::error!(
                database,
                "not migrated within --wait {}: {why}",
                humantime::format_duration(s.wait)
            ),
        }
        Some(r)
    })
}
