//! The declared schema's part of a run, per database: whether anything can be missing (the
//! state row against the declared checksum and the live fingerprint: no lock, no parse), what
//! is missing (recognise, read the live schema, probe, diff), and, under the lock, each change
//! applied with its own record.

use std::sync::OnceLock;

use crate::backend::{Backend, BackendError, Failure, FailureKind, NewRecord, Then};
use crate::plan::{Record, State, Step};
use crate::schema::{
    self, Change, Declared, Diff, Live, Model, Name, STATE_ROW, is_change_record,
    is_difference_record,
};
use crate::settings::{Policy, Settings};
use crate::source::Dialect;

/// The declared schema of a run, read once with the migration files.
#[derive(Debug)]
pub struct DeclaredRun {
    pub declared: Declared,
    /// Before the migrations instead of after them.
    pub first: bool,
    /// Differences on existing objects fail.
    pub strict: bool,
    /// The tracking table, as a name (left out of the declaration).
    pub tracking: Name,
    /// `checksum` per dialect, worked out once (it is asked for at every check, and again
    /// between waits for the lock).
    checksums: [OnceLock<String>; 2],
}

/// What working out the changes found.
pub struct Worked {
    pub diff: Diff,
    /// The declaration as recognised (with the statements it does not manage).
    pub model: Model,
    /// The live schema it was compared with.
    pub live: Live,
}

impl Worked {
    /// The statements not managed, a line each: `view: CREATE VIEW v AS ... (schema.sql)`.
    pub fn not_managed(&self) -> Vec<String> {
        self.model
            .not_managed
            .iter()
            .map(|(file, what, line)| match file.as_str() {
                "" => format!("{what}: {line}"),
                file => format!("{what}: {line} ({file})"),
            })
            .collect()
    }

    /// What `plan` notes besides the steps: renames, differences, what is not managed.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = self.diff.renames.clone();
        notes.extend(self.diff.differences.iter().map(|d| d.text.clone()));
        notes.extend(
            self.not_managed()
                .into_iter()
                .map(|n| format!("not managed, {n}")),
        );
        notes
    }
}

/// How applying the changes to one database went.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub applied: usize,
    pub failed: usize,
    /// Not tried (a policy stop, abort).
    pub left: usize,
    /// The policy stops this database (or every database, under abort).
    pub stopped: bool,
}

impl DeclaredRun {
    /// Reads `--schema` (none: `None`).
    pub fn read(s: &Settings) -> Result<Option<DeclaredRun>, schema::SchemaError> {
        if s.schema.is_empty() {
            return Ok(None);
        }
        Ok(Some(DeclaredRun {
            declared: Declared::read(&s.schema)?,
            first: s.schema_first,
            strict: s.schema_strict,
            tracking: Name::from(&s.table),
            checksums: Default::default(),
        }))
    }

    /// What the state row records of the declaration: its files, and whether differences
    /// fail (turning `--schema-strict` on must compare again what a lenient run let pass).
    fn checksum(&self, dialect: Dialect) -> &str {
        let slot = match dialect {
            Dialect::Postgres => &self.checksums[0],
            Dialect::Sqlite => &self.checksums[1],
        };
        slot.get_or_init(|| {
            let files = self.declared.checksum(dialect);
            if self.strict {
                crate::source::checksum(format!("strict:{files}").as_bytes())
            } else {
                files
            }
        })
    }

    /// Whether this database may lack something: no state row yet, another declared checksum,
    /// another live fingerprint, or a change whose last attempt failed. One query at most.
    pub fn needed(
        &self,
        backend: &mut dyn Backend,
        records: &[Record],
    ) -> Result<bool, BackendError> {
        if records
            .iter()
            .any(|r| !r.success && is_change_record(&r.name))
        {
            return Ok(true);
        }
        let Some(state) = records.iter().find(|r| r.name == STATE_ROW) else {
            return Ok(true);
        };
        if state.checksum.as_deref() != Some(self.checksum(backend.dialect())) {
            return Ok(true);
        }
        let recorded = state
            .description
            .as_deref()
            .map(schema::unchanged::fingerprint_of);
        Ok(recorded != Some(backend.schema_fingerprint()?.as_str()))
    }

    /// What this database lacks of the declared schema, and how it differs, with the records
    /// as read (a change that failed is tried again until it is made).
    pub fn work_out(
        &self,
        backend: &mut dyn Backend,
        records: &[Record],
    ) -> Result<Worked, BackendError> {
        let dialect = backend.dialect();
        let started = std::time::Instant::now();
        let live = backend.live_schema()?;
        let read = started.elapsed();
        let mut model = Model::build_in(
            &self.declared.for_dialect(dialect),
            dialect,
            live.schema_of_unqualified(dialect),
        );
        // Our own tables are never the declaration's to change (a dump of a migrated database
        // declares them too).
        let ours = schema::model::ours(&self.tracking, dialect, &live);
        model.tables.retain(|t| !ours.contains(&t.name));
        let recognised = started.elapsed();
        let mut with_rows = std::collections::BTreeSet::new();
        for t in schema::diff::tables_to_count(&model, &live) {
            if backend.has_rows(&t)? {
                with_rows.insert(t);
            }
        }
        // The tables as they were after the last run that found them as declared are not
        // built again: only what changed since is.
        let description = records
            .iter()
            .find(|r| r.name == STATE_ROW)
            .and_then(|r| r.description.as_deref())
            .unwrap_or("");
        let to_probe =
            schema::unchanged::to_probe(&model, &live, &schema::unchanged::digests_of(description));
        let normalised = match backend.probe_schema(&to_probe, &live) {
            Ok(p) => Some(p),
            Err(e @ BackendError::Failed(_)) => {
                tracing::warn!(database = backend.shown(), "{e}: differences not checked");
                None
            }
            Err(e) => return Err(e),
        };
        let probed = started.elapsed();
        let failed = records
            .iter()
            .filter(|r| !r.success && is_change_record(&r.name))
            .map(|r| r.name.clone())
            .collect();
        let diff = schema::diff::diff(
            &model,
            &live,
            &with_rows,
            normalised.as_ref(),
            &failed,
            dialect,
        );
        tracing::debug!(
            database = backend.shown(),
            "declared schema worked out: live schema read in {read:?}, recognised by {recognised:?}, probed ({} of {} tables) by {probed:?}, compared by {:?}",
            to_probe.tables.len(),
            model.tables.len(),
            started.elapsed()
        );
        Ok(Worked { diff, model, live })
    }

    /// The steps `plan` shows for these changes.
    pub fn steps(&self, worked: &Worked, records: &[Record]) -> Vec<Step> {
        worked
            .diff
            .changes
            .iter()
            .map(|c| Step {
                name: c.record.clone(),
                state: if records.iter().any(|r| r.name == c.record && !r.success) {
                    State::Failed
                } else {
                    State::Pending
                },
                no_transaction: !c.transactional,
                script: false,
                unusable: c.refused.clone(),
                blocked_by: None,
                declared: Some(c.what.clone()),
            })
            .collect()
    }

    /// Logs the differences (warnings; errors with `--schema-strict`) and the statements not
    /// managed. Returns how many differences count as failures.
    pub fn report(&self, worked: &Worked, database: &str) -> usize {
        for r in &worked.diff.renames {
            tracing::warn!(database, "declared schema: {r}");
        }
        for d in &worked.diff.differences {
            if self.strict {
                tracing::error!(database, "declared schema: {}", d.text);
            } else {
                tracing::warn!(database, "declared schema: {}", d.text);
            }
        }
        let listed = worked.not_managed();
        if !listed.is_empty() {
            tracing::info!(
                database,
                "declared schema: {} statement(s) not managed (data, and what the declared schema does not make, are left to migrations): {}",
                listed.len(),
                listed.join("; ")
            );
        }
        if !self.strict {
            return 0;
        }
        // Strict: a statement on an object the files do not declare (a typo in an index's
        // table) is a declared object missing, as `validate` says.
        let undeclared: Vec<&String> = listed
            .iter()
            .filter(|l| {
                l.split_once(": ")
                    .is_some_and(|(what, _)| what.ends_with(" not declared"))
            })
            .collect();
        for l in &undeclared {
            tracing::error!(
                database,
                "declared schema: {l}: its object is not declared (--schema-strict)"
            );
        }
        worked.diff.differences.len() + undeclared.len()
    }

    /// Under the lock, with the records as read under it: applies each change with its record,
    /// under the policy; clears failed records of changes no longer needed; and records the
    /// state once nothing failed. `Err`: the database cannot go on (a signal, a lost connection).
    pub fn apply(
        &self,
        backend: &mut dyn Backend,
        records: &[Record],
        database: &str,
        policy: Policy,
        abort: &dyn Fn() -> bool,
    ) -> Result<Counts, BackendError> {
        let mut counts = Counts::default();
        if !self.needed(backend, records)? {
            return Ok(counts);
        }
        let worked = self.work_out(backend, records)?;
        for r in records.iter().filter(|r| {
            !r.success
                && is_change_record(&r.name)
                && !is_difference_record(&r.name)
                && !worked.diff.changes.iter().any(|c| c.record == r.name)
        }) {
            tracing::info!(
                database,
                migration = r.name,
                "{}: nothing left to do (declared object present or no longer declared): its failed record is removed",
                r.name
            );
            backend.forget(&r.name)?;
        }
        let changes = &worked.diff.changes;
        for (i, change) in changes.iter().enumerate() {
            if crate::process::signals::caught().is_some() {
                return Err(BackendError::Cancelled);
            }
            if abort() {
                counts.left = changes.len() - i;
                return Ok(counts);
            }
            if self.attempt(backend, change, records, database)? {
                counts.applied += 1;
                continue;
            }
            counts.failed += 1;
            if policy != Policy::Continue {
                counts.left = changes.len() - i - 1;
                counts.stopped = true;
                if counts.left > 0 {
                    tracing::warn!(
                        database,
                        "--on-error {}: {} later declared change(s) of this database not tried",
                        if policy == Policy::Stop {
                            "stop"
                        } else {
                            "abort"
                        },
                        counts.left
                    );
                }
                return Ok(counts);
            }
        }
        // Differences are judged on the schema as it is now: a probe made before a declared
        // type or schema existed could not build the tables that use it.
        // Only a new schema, extension, type or sequence can have kept the probe from building a
        // declared table that exists (a new table or column was made from its declaration).
        let enabling = changes.iter().any(|c| {
            ["#schema:", "#extension:", "#type:", "#sequence:"]
                .iter()
                .any(|k| c.record.contains(k))
        });
        let after = if counts.applied > 0 && enabling {
            let mut after = self.work_out(backend, records)?;
            // A rename is seen before the column is added, not after.
            after.diff.renames = worked.diff.renames;
            after
        } else {
            worked
        };
        counts.failed += self.report(&after, database);
        self.record_differences(backend, &after, records, database)?;
        if counts.failed == 0 {
            // The digests of what was found as declared, as it is now: after changes, read
            // again (what was just made or changed was made from its declaration).
            let live = if counts.applied > 0 {
                backend.live_schema()?
            } else {
                after.live
            };
            let kept = schema::unchanged::to_keep(&after.model, &live, &after.diff);
            let fingerprint = backend.schema_fingerprint()?;
            let checksum = self.checksum(backend.dialect());
            backend.record(&NewRecord {
                name: STATE_ROW,
                description: &schema::unchanged::state(&fingerprint, &kept),
                checksum: Some(checksum),
                success: true,
                error_message: None,
                execution_time_ms: None,
                row_exists: records.iter().any(|r| r.name == STATE_ROW),
            })?;
        }
        Ok(counts)
    }

    /// Each difference found is kept as a record while it lasts, so that `status` shows it
    /// after the run: a failed one under `--schema-strict` (every start then compares again,
    /// and `status --exit-code` says so), else a successful one that `status` shows as
    /// `changed`. A difference recorded before that is gone has its record removed.
    fn record_differences(
        &self,
        backend: &mut dyn Backend,
        worked: &Worked,
        records: &[Record],
        database: &str,
    ) -> Result<(), BackendError> {
        let now: Vec<(String, &str)> = worked
            .diff
            .differences
            .iter()
            .map(|d| (d.record(), d.text.as_str()))
            .collect();
        for r in records.iter().filter(|r| {
            is_difference_record(&r.name) && !now.iter().any(|(name, _)| *name == r.name)
        }) {
            tracing::info!(
                database,
                migration = r.name,
                "{}: it differs no more: its record is removed",
                r.name
            );
            backend.forget(&r.name)?;
        }
        for (name, text) in &now {
            let old = records.iter().find(|r| r.name == *name);
            if old.is_some_and(|r| {
                r.success != self.strict && r.error_message.as_deref() == Some(text)
            }) {
                continue;
            }
            let object = name.split_once("#difference:").map_or("", |(_, o)| o);
            backend.record(&NewRecord {
                name,
                description: &format!("{object} differs"),
                checksum: None,
                success: !self.strict,
                error_message: Some(text),
                execution_time_ms: None,
                row_exists: old.is_some(),
            })?;
        }
        Ok(())
    }

    /// Makes one change (or records its refusal). `Ok(true)`: made.
    fn attempt(
        &self,
        backend: &mut dyn Backend,
        change: &Change,
        records: &[Record],
        database: &str,
    ) -> Result<bool, BackendError> {
        let checksum = crate::source::checksum(change.sql.as_bytes());
        let row = NewRecord {
            name: &change.record,
            description: &change.what,
            checksum: Some(&checksum),
            success: true,
            error_message: None,
            execution_time_ms: None,
            row_exists: records.iter().any(|r| r.name == change.record),
        };
        let failure = match &change.refused {
            Some(why) => Failure::refused(why.clone()),
            None => match backend.apply(&change.body(), Then::Record(&row)) {
                Ok(elapsed) => {
                    let ms = elapsed.as_millis() as u64;
                    tracing::info!(
                        database,
                        migration = change.record,
                        duration_ms = ms,
                        "declared schema: {} in {ms} ms",
                        change.what
                    );
                    return Ok(true);
                }
                Err(f) => f,
            },
        };
        match failure.kind {
            FailureKind::Refused => {
                let verb = if change.refused.is_some() {
                    "refused"
                } else {
                    "failed"
                };
                tracing::error!(database, migration = change.record, error = %failure.message, "declared schema: {verb} {}: {}", change.what, failure.message);
                let failed = row.failed(&failure.message, Some(failure.elapsed));
                if let Err(e) = backend.record(&failed) {
                    tracing::error!(database, migration = change.record, error = %e, "cannot record the failure: {e}");
                }
                Ok(false)
            }
            FailureKind::Cancelled => {
                tracing::warn!(
                    database,
                    migration = change.record,
                    "cancelled {}: rolled back",
                    change.what
                );
                Err(BackendError::Cancelled)
            }
            FailureKind::ConnectionLost => Err(BackendError::Failed(format!(
                "the connection was lost during {}: {}",
                change.what, failure.message
            ))),
        }
    }
}
