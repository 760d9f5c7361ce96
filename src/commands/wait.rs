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
