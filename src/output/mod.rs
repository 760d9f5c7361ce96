//! What a run shows: the stderr log, the progress line (fed by run events), summaries, status
//! tables and JSON, and the exit code (decided here alone). It decides nothing else. The
//! commands reach it only through `Terminal`, their `Show`, which `main` hands them.

pub mod exit;
pub mod log;
pub mod progress;
pub mod summary;

use std::io::{IsTerminal, Write};

use crate::commands::{DbStatus, Event, Outcome, Show};
use crate::settings::Format;

/// This process's stderr and stdout: how the commands' findings are shown.
pub struct Terminal;

impl Show for Terminal {
    fn progress(&self, total: usize) -> Box<dyn Fn(&Event<'_>) + Sync> {
        let line = progress::start(total);
        Box::new(move |e| line.event(e))
    }

    fn summaries(&self, outcomes: &[Outcome], signal: Option<i32>) {
        summary::log_summaries(outcomes, signal);
    }

    fn plan(&self, outcomes: &[Outcome]) -> std::io::Result<()> {
        summary::write_plan(&mut std::io::stdout().lock(), outcomes)
    }

    fn status(&self, dbs: &[DbStatus], format: Format) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        match format {
            Format::Json => writeln!(out, "{:#}", summary::status_json(dbs)),
            Format::Text => {
                let colour = std::io::stdout().is_terminal() && log::colour_wanted();
                summary::write_status_text(&mut out, dbs, colour)
            }
        }
    }
}
