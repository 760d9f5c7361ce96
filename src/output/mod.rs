//! What a run shows: the stderr log, the progress line (fed by run events), summaries, status
//! tables and JSON, and the exit code (decided here alone). It decides nothing else.

pub mod exit;
pub mod log;
pub mod progress;
pub mod summary;
