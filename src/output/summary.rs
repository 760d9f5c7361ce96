//! What a run prints: the summary line of each database, and the `plan` listing.

use std::io::Write;

use tracing::Level;

use crate::backend::BackendError;
use crate::commands::{DbStatus, NotStarted, Outcome};
use crate::plan::{State, StatusRow};

/// Logs one summary line per database (and a total when there are several); `signal`: the
/// one that stopped the run, if one did.
pub fn log_summaries(outcomes: &[Outcome], signal: Option<i32>) {
    for o in outcomes {
        let ms = o.elapsed.as_millis() as u64;
        let (level, line) = summary_line(o, ms, signal.is_some());
        let error = o.error.as_ref().map(|e| e.to_string());
        // The level of a tracing event is part of its static metadata: one call per level.
        macro_rules! summary {
            ($level:ident) => {
                tracing::$level!(
                    database = o.database.as_str(),
                    applied = o.applied,
                    failed = o.failed,
                    pending = o.pending,
                    duration_ms = ms,
                    error = error.as_deref(),
                    "{line}"
                )
            };
        }
        match level {
            Level::ERROR => summary!(error),
            Level::WARN => summary!(warn),
            _ => summary!(info),
        }
    }
    if outcomes.len() > 1 {
        let sum = |f: fn(&Outcome) -> usize| outcomes.iter().map(f).sum::<usize>();
        let (a, f, p) = (sum(|o| o.applied), sum(|o| o.failed), sum(|o| o.pending));
        let bad = outcomes.iter().filter(|o| o.error.is_some()).count();
        tracing::info!(
            applied = a,
            failed = f,
            pending = p,
            databases = outcomes.len(),
            "total: {} databases ({bad} failed as a whole), applied {a}, failed {f}, pending {p}",
            outcomes.len()
        );
    }
}

/// A database's summary line and its level.
fn summary_line(o: &Outcome, ms: u64, signalled: bool) -> (Level, String) {
    let counts = format!("applied {}, failed {}", o.applied, o.failed);
    if let Some(why) = o.not_started {
        let why = match why {
            NotStarted::Aborted => "--on-error abort after a failure",
            NotStarted::Signalled => "stopped by a signal",
        };
        return (Level::WARN, format!("not started ({why})"));
    }
    if let Some(e) = &o.error
        && !o.read
    {
        let why = match e {
            BackendError::Unreachable(_) => "not reachable",
            _ => "could not be opened",
        };
        return (
            Level::ERROR,
            format!("{counts}, records not read in {ms} ms ({why})"),
        );
    }
    let mut line = format!("{counts}, pending {} in {ms} ms", o.pending);
    if o.beyond_target > 0 {
        line.push_str(&format!(
            "; {} after --target left pending",
            o.beyond_target
        ));
    }
    if signalled && o.pending > 0 {
        (Level::WARN, format!("{line} (stopped by a signal)"))
    } else if let Some(e) = &o.error {
        let why = match e {
            BackendError::LockTimeout(_) => "lock not acquired",
            _ => "database failed",
        };
        (Level::ERROR, format!("{line} ({why})"))
    } else if o.dry_run && o.pending > 0 {
        (Level::INFO, format!("{line} (dry run: nothing applied)"))
    } else if o.applied == 0 && o.failed == 0 && o.pending == 0 {
        (Level::INFO, format!("{line} (up to date)"))
    } else if o.failed > 0 {
        (Level::WARN, line)
    } else {
        (Level::INFO, line)
    }
}

/// Prints what `up` would do, per database, to `w` (stdout for `plan`).
pub fn write_plan(w: &mut dyn Write, outcomes: &[Outcome]) -> std::io::Result<()> {
    for o in outcomes {
        if let Some(e) = &o.error {
            writeln!(w, "{}: cannot plan: {e}", o.database)?;
            continue;
        }
        if o.steps.is_empty() {
            writeln!(w, "{}: up to date", o.database)?;
        } else {
            writeln!(w, "{}: {} to apply", o.database, o.steps.len())?;
        }
        for s in &o.steps {
            let mut notes = Vec::new();
            if s.state == State::Failed {
                notes.push("retry of a failed attempt".to_string());
            }
            if s.script {
                notes.push("script".to_string());
            } else if s.no_transaction {
                notes.push("no transaction".to_string());
            }
            if let Some(why) = &s.unusable {
                notes.push(format!(
                    "{}: {why}",
                    if s.declared.is_some() {
                        "refused"
                    } else {
                        "will fail"
                    }
                ));
            }
            if let Some(first) = &s.blocked_by {
                notes.push(format!("not tried: --on-error stops after {first} fails"));
            }
            let what = match &s.declared {
                Some(what) => format!("{what}  [{}]", s.name),
                None => format!("apply {}", s.name),
            };
            if notes.is_empty() {
                writeln!(w, "  {what}")?;
            } else {
                writeln!(w, "  {what}  ({})", notes.join("; "))?;
            }
        }
        for note in &o.notes {
            writeln!(w, "  note: {note}")?;
        }
    }
    Ok(())
}

/// The words of each state, in the order summaries list them.
const SUMMARY_ORDER: [State; 6] = [
    State::Applied,
    State::Pending,
    State::Failed,
    State::Changed,
    State::Missing,
    State::Conflict,
];

/// `5 applied, 1 pending, 1 failed` (applied and pending always, the others when present).
pub fn status_summary(rows: &[StatusRow]) -> String {
    SUMMARY_ORDER
        .iter()
        .filter_map(|s| {
            let n = rows.iter().filter(|r| r.state == *s).count();
            (n > 0 || matches!(s, State::Applied | State::Pending))
                .then(|| format!("{n} {}", s.as_str()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn colour_of(state: State) -> &'static str {
    match state {
        State::Applied => "32",
        State::Pending => "33",
        State::Failed | State::Conflict => "31",
        State::Changed => "35",
        State::Missing => "90",
    }
}

/// The longest migration name shown whole in the text table (the table then fits 80 columns).
const NAME_WIDTH: usize = 37;

fn fit(name: &str, width: usize) -> String {
    if name.chars().count() <= width {
        return name.to_string();
    }
    let mut s: String = name.chars().take(width - 1).collect();
    s.push('…');
    s
}

/// `2026-11-21 04:07:32` from either backend's timestamp text.
fn short_time(t: &str) -> String {
    t.replace('T', " ").chars().take(19).collect()
}

/// Writes `status` as one aligned table per database.
pub fn write_status_text(w: &mut dyn Write, dbs: &[DbStatus], colour: bool) -> std::io::Result<()> {
    for (i, db) in dbs.iter().enumerate() {
        if i > 0 {
            writeln!(w)?;
        }
        if let Some(e) = &db.error {
            writeln!(w, "{}: cannot read: {e}", db.database)?;
            continue;
        }
        writeln!(w, "{}", db.database)?;
        let width = db
            .rows
            .iter()
            .map(|r| r.name.chars().count())
            .max()
            .unwrap_or(9)
            .clamp(9, NAME_WIDTH);
        writeln!(
            w,
            "  {:<8}  {:<width$}  {:<19}  TIME",
            // A failed migration's time is its last attempt's.
            "STATE",
            "MIGRATION",
            "APPLIED/TRIED AT"
        )?;
        for r in &db.rows {
            let state = format!("{:<8}", r.state.as_str());
            let state = if colour {
                format!("\x1b[{}m{state}\x1b[0m", colour_of(r.state))
            } else {
                state
            };
            let at = r.applied_at.as_deref().map(short_time).unwrap_or_default();
            let time = r
                .execution_time_ms
                .map(|ms| format!("{ms} ms"))
                .unwrap_or_default();
            let line = format!(
                "  {state}  {:<width$}  {at:<19}  {time}",
                fit(&r.name, width)
            );
            writeln!(w, "{}", line.trim_end())?;
            if let Some(e) = &r.error {
                // A declared object that is there but differs is no error unless strict.
                let label = if r.state == State::Changed {
                    "differs"
                } else {
                    "error"
                };
                writeln!(w, "            {label}: {e}")?;
            }
        }
        writeln!(w, "  {}", status_summary(&db.rows))?;
    }
    Ok(())
}

/// `status --format json`: one document, a list of databases with their migrations.
pub fn status_json(dbs: &[DbStatus]) -> serde_json::Value {
    let databases: Vec<serde_json::Value> = dbs
        .iter()
        .map(|db| {
            let count = |s: State| db.rows.iter().filter(|r| r.state == s).count();
            serde_json::json!({
                "database": db.database,
                "error": db.error.as_ref().map(|e| e.to_string()),
                "summary": {
                    "applied": count(State::Applied),
                    "pending": count(State::Pending),
                    "failed": count(State::Failed),
                    "changed": count(State::Changed),
                    "missing": count(State::Missing),
                    "conflict": count(State::Conflict),
                },
                "migrations": db.rows,
            })
        })
        .collect();
    serde_json::json!({ "databases": databases })
}
