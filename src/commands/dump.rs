//! `schema dump`: prints each database's tables, columns and indexes as SQL that `--schema`
//! accepts. Reads only: no lock, nothing created.

use std::io::Write;

use super::{Finished, fanout, open_options};
use crate::backend;
use crate::schema::{Name, dump};
use crate::settings::Settings;

/// Reads every database's schema and prints it (our own tables left out).
pub fn run(s: &Settings) -> Finished {
    let open = open_options(s, false);
    let several = s.targets.len() > 1;
    let dumps = fanout::map(&s.targets, s.jobs, |t| {
        let database = t.redacted();
        let read = backend::open(t, &open).and_then(|mut b| {
            let live = b.dump_schema()?;
            if !live.dump.not_written.is_empty() {
                tracing::warn!(
                    database,
                    "schema dump: {} object(s) not written (the declared schema does not make them yet: keep them in migrations): {}",
                    live.dump.not_written.len(),
                    live.dump.not_written.join("; ")
                );
            }
            let dialect = b.dialect();
            let ours = crate::schema::model::ours(&Name::from(&s.table), dialect, &live);
            Ok(dump::render(&live, dialect, &ours))
        });
        Some(match read {
            Ok(sql) => Some((database, sql)),
            Err(e) => {
                tracing::error!(database, error = %e, "{e}");
                None
            }
        })
    });
    let mut out = std::io::stdout().lock();
    for (database, sql) in dumps.iter().flatten() {
        if several {
            let _ = writeln!(out, "-- {database}");
        }
        let _ = write!(out, "{sql}");
    }
    Finished::Dumped {
        all_read: dumps.iter().all(Option::is_some),
    }
}
