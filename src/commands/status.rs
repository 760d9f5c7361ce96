//! `status`: every migration of every database and its state, to stdout. Reads only: no lock,
//! nothing created.

use super::{Finished, Opened, Show, fanout, open_options};
use crate::backend::BackendError;
use crate::plan::{self, Entry, StatusRow};
use crate::settings::{Format, Settings};

/// What `status` found in one database.
#[derive(Debug, Clone)]
pub struct DbStatus {
    pub database: String,
    /// Every migration known from files or records, in order.
    pub rows: Vec<StatusRow>,
    /// The database could not be read.
    pub error: Option<BackendError>,
}

/// Reads every database's records and prints each migration's state.
pub fn run(s: &Settings, show: &dyn Show, format: Format, exit_code: bool) -> Finished {
    let Some(catalog) = super::scan(s) else {
        return Finished::BadFolders;
    };
    let open = open_options(s, false);
    let dbs = fanout::map(&s.targets, s.jobs, |target| {
        let database = target.redacted();
        let rows = Opened::open(target, &open).map(|mut o| {
            // Pending here means "would run again": said on stderr, the table stays as it is.
            if let Ok(super::History::Refuse(why)) = o.history(s.adopt, &s.table) {
                tracing::warn!(database, "{why}");
            }
            let mut rows: Vec<StatusRow> = o.entries(&catalog).iter().map(Entry::row).collect();
            rows.extend(plan::declared_rows(&o.records));
            rows
        });
        Some(match rows {
            Ok(rows) => DbStatus {
                database,
                rows,
                error: None,
            },
            Err(e) => {
                tracing::error!(database, error = %e, "{e}");
                DbStatus {
                    database,
                    rows: Vec::new(),
                    error: Some(e),
                }
            }
        })
    });
    if let Err(e) = show.status(&dbs, format) {
        tracing::error!("cannot write the status: {e}");
    }
    Finished::Status { dbs, exit_code }
}
