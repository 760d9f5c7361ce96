//! `baseline`: record migrations as applied without running them, for a database that
//! already has their schema, or as another tool recorded them (`--from`). Under the lock, and
//! all or nothing per database.

use std::time::Duration;

use super::adopt::{self, Tool};
use super::{Finished, fanout, open_options};
use crate::backend::{self, Backend, BackendError, NewRecord, OpenOptions};
use crate::plan::{self, State};
use crate::settings::{Mark, Settings, Target};
use crate::source::{Catalog, Version};

/// Records what is due as applied in every database, and logs what each did.
pub fn run(s: &Settings, through: Option<&Mark>, from: Option<Tool>, force: bool) -> Finished {
    let Some(catalog) = super::scan(s) else {
        return Finished::BadFolders;
    };
    // A full migration name (`20260205000001_thin_container`) stands for its version.
    let through = match through.map(|m| plan::version_of(&catalog, m)).transpose() {
        Ok(t) => t,
        Err(why) => {
            tracing::error!("--through: {why}");
            return Finished::BadInput;
        }
    };
    let through = through.as_ref();
    if let Some(t) = through
        && !catalog.migrations.iter().any(|m| m.version == *t)
    {
        tracing::warn!("no migration has version {t}: recording those before it");
    }
    let open = OpenOptions {
        must_exist: true,
        ..open_options(s, true)
    };
    let outcomes = fanout::map(&s.targets, s.jobs, |t| {
        Some(baseline(
            t,
            &catalog,
            &open,
            through,
            from,
            force,
            s.lock_timeout,
        ))
    });
    for o in &outcomes {
        log(o);
    }
    Finished::Baseline(outcomes)
}

/// Logs what `baseline` (or an adoption on first start) did to one database.
pub(super) fn log(o: &BaselineOutcome) {
    let database = o.database.as_str();
    for why in &o.warned {
        tracing::warn!(database, "{why}");
    }
    for why in &o.reported {
        tracing::error!(database, "{why}");
    }
    for why in &o.refused {
        tracing::error!(database, "cannot baseline {why}");
    }
    if !o.refused.is_empty() {
        tracing::error!(database, "baseline refused: nothing recorded");
    } else if o.error.is_none() {
        tracing::info!(
            database,
            recorded = o.recorded.len(),
            already = o.already,
            "baseline: recorded {} migration(s) as applied without running them ({} already applied)",
            o.recorded.len(),
            o.already
        );
    }
}

/// What `baseline` did to one database.
#[derive(Debug, Clone)]
pub struct BaselineOutcome {
    pub database: String,
    /// Recorded as applied without running them.
    pub recorded: Vec<String>,
    /// Already recorded as applied: left as they are.
    pub already: usize,
    /// Why nothing was written (a failed record without `--force`, a conflict, an unreadable file).
    pub refused: Vec<String>,
    /// What another tool's history holds that is not adopted (a dirty state, failed rows).
    pub reported: Vec<String>,
    /// What is adopted but worth a look: an empty history, a file that changed since.
    pub warned: Vec<String>,
    pub error: Option<BackendError>,
}

impl BaselineOutcome {
    fn new(database: String) -> BaselineOutcome {
        BaselineOutcome {
            database,
            recorded: Vec::new(),
            already: 0,
            refused: Vec::new(),
            reported: Vec::new(),
            warned: Vec::new(),
            error: None,
        }
    }
}

/// Records the migrations up to `through` (all when `None`) as applied, without running them,
/// for a database that already has their schema. Refuses, writing nothing, when a migration in
/// range failed before (unless `force`) or its file cannot be used.
fn baseline(
    target: &Target,
    catalog: &Catalog,
    open: &OpenOptions,
    through: Option<&Version>,
    from: Option<Tool>,
    force: bool,
    lock_timeout: Duration,
) -> BaselineOutcome {
    let database = target.redacted();
    let mut out = BaselineOutcome::new(database.clone());
    let result = backend::open(target, open).and_then(|mut b| {
        b.lock(lock_timeout)?;
        let done = baseline_locked(b.as_mut(), catalog, through, from, force, &mut out);
        let unlocked = b.unlock();
        done.and(unlocked)
    });
    if let Err(e) = result {
        tracing::error!(database, error = %e, "{e}");
        out.error = Some(e);
    }
    out
}

/// What another tool's history table says (an error when there is none).
fn adoption(b: &mut dyn Backend, tool: Tool) -> Result<adopt::Adoption, BackendError> {
    let rows = b.read_table(tool.table(), tool.columns())?.ok_or_else(|| {
        BackendError::Failed(format!(
            "no {} table here: nothing to adopt from {}",
            tool.table(),
            tool.name()
        ))
    })?;
    Ok(adopt::read(tool, &rows))
}

/// Under the lock: records what `tool` applied as applied, as `baseline --from TOOL` does.
pub(super) fn adopt(
    b: &mut dyn Backend,
    catalog: &Catalog,
    tool: Tool,
) -> Result<BaselineOutcome, BackendError> {
    let mut out = BaselineOutcome::new(b.shown().to_string());
    baseline_locked(b, catalog, None, Some(tool), false, &mut out)?;
    Ok(out)
}

fn baseline_locked(
    b: &mut dyn Backend,
    catalog: &Catalog,
    through: Option<&Version>,
    from: Option<Tool>,
    force: bool,
    out: &mut BaselineOutcome,
) -> Result<(), BackendError> {
    let adoption = match from {
        None => None,
        Some(tool) => {
            let a = adoption(b, tool)?;
            out.reported = a.reported.clone();
            if a.empty {
                out.warned.push(format!(
                    "nothing to adopt: {} holds no row (is this the right database?)",
                    tool.table()
                ));
            }
            Some(a)
        }
    };
    b.prepare_table()?;
    let records = b.read_records()?.unwrap_or_default();
    let entries = plan::entries(catalog, b.dialect(), &records);
    let mut rows = Vec::new();
    for e in &entries {
        let (Some(m), Some(v)) = (e.migration, e.variant) else {
            continue;
        };
        // Repeatable migrations are not baselined: they run when they change.
        if m.repeatable
            || through.is_some_and(|t| m.version > *t)
            || adoption
                .as_ref()
                .is_some_and(|a| !a.applied(&m.version, &m.name))
        {
            continue;
        }
        match e.state {
            State::Applied | State::Changed => out.already += 1,
            State::Failed if !force => out.refused.push(format!(
                "{}: its last attempt failed; --force records it as applied anyway",
                e.name
            )),
            State::Conflict | State::Pending | State::Failed => match v.why_unusable() {
                Some(why) => out.refused.push(format!("{}: {why}", e.name)),
                None => {
                    // The tool's own checksum of the file, when it differs: the file changed
                    // since the tool applied it (adopted, and `status` says `changed`).
                    let theirs = adoption
                        .as_ref()
                        .and_then(|a| a.checksums.get(&m.name))
                        .filter(|sum| v.checksum().is_some_and(|ours| ours != sum.as_str()));
                    if let (Some(_), Some(tool)) = (theirs, from) {
                        out.warned.push(format!(
                            "{}: {} recorded another checksum for it: its file changed since {} \
                             applied it (adopted; `status` shows it as changed)",
                            e.name,
                            tool.name(),
                            tool.name()
                        ));
                    }
                    let sum = theirs.map(String::as_str).or(v.checksum());
                    rows.push((e.record_name(), sum, e.record.is_some()));
                }
            },
            State::Missing => {}
        }
    }
    if !out.refused.is_empty() {
        return Ok(());
    }
    for (name, checksum, row_exists) in rows {
        b.record(&NewRecord {
            name,
            description: "baseline",
            checksum,
            success: true,
            error_message: None,
            execution_time_ms: None,
            row_exists,
        })?;
        out.recorded.push(name.to_string());
    }
    Ok(())
}
