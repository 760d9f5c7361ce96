//! Given the migration files and a database's records: each migration's state, and what `up`
//! does next. Pure: no files, no database.

use std::path::Path;

use crate::cli::Policy;
use crate::settings::Mark;
use crate::source::name;
use crate::source::{Catalog, Dialect, DownPart, Ignored, Migration, Variant, Version};

/// One row of the tracking table, as read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub name: String,
    pub applied_at: Option<String>,
    pub description: Option<String>,
    pub checksum: Option<String>,
    pub success: bool,
    pub error_message: Option<String>,
    pub execution_time_ms: Option<i64>,
}

/// A migration's state in one database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Recorded as successful, file unchanged.
    Applied,
    /// Not recorded yet.
    Pending,
    /// Its last attempt failed: it is tried again.
    Failed,
    /// Recorded as successful, but the file's checksum differs: not re-run.
    Changed,
    /// Recorded as successful, but no file has it any more.
    Missing,
    /// Files of that name in two directories differ: not applied.
    Conflict,
}

impl State {
    /// The word used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Failed => "failed",
            State::Changed => "changed",
            State::Missing => "missing",
            State::Conflict => "conflict",
        }
    }
}

/// One line of `status`: a migration's state and what its record says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatusRow {
    pub name: String,
    pub version: Option<String>,
    pub state: State,
    pub applied_at: Option<String>,
    pub checksum: Option<String>,
    pub execution_time_ms: Option<i64>,
    /// The recorded error of a failed attempt, or why the file cannot be used.
    pub error: Option<String>,
    pub file: Option<String>,
    /// A declared schema's change: what it did (`add column users.last_login`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub declared: Option<String>,
}

/// A migration known from its files, its record, or both.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub name: &'a str,
    pub migration: Option<&'a Migration>,
    /// The file that applies to this database's dialect.
    pub variant: Option<&'a Variant>,
    pub record: Option<&'a Record>,
    pub state: State,
    /// For a recorded migration no migration file has: a file of its name that is there but
    /// not taken as a migration, and why.
    pub not_taken: Option<(&'a Path, &'a Ignored)>,
}

impl Entry<'_> {
    /// The owned `status` line of this entry.
    pub fn row(&self) -> StatusRow {
        let r = self.record;
        let error = match (self.state, self.not_taken) {
            (State::Conflict, _) => self.variant.and_then(|v| v.why_unusable()),
            (State::Missing, Some((path, why))) => Some(format!(
                "its file {} is there but not taken as a migration: {why}",
                path.display()
            )),
            _ => r
                .filter(|r| !r.success)
                .and_then(|r| r.error_message.clone()),
        };
        StatusRow {
            name: self.name.to_string(),
            version: self
                .migration
                .filter(|m| !m.repeatable)
                .map(|m| m.version.to_string()),
            state: self.state,
            applied_at: r.and_then(|r| r.applied_at.clone()),
            checksum: r
                .and_then(|r| r.checksum.clone())
                .or_else(|| self.variant.and_then(|v| v.checksum().map(str::to_string))),
            execution_time_ms: r.and_then(|r| r.execution_time_ms),
            error,
            file: self.variant.map(|v| v.path.display().to_string()),
            declared: None,
        }
    }

    /// Whether `up` attempts this migration (a conflict is attempted only to be reported as failed).
    pub fn is_due(&self) -> bool {
        match self.state {
            State::Pending | State::Failed => true,
            State::Conflict => !self.record.is_some_and(|r| r.success),
            State::Applied | State::Changed | State::Missing => false,
        }
    }

    /// The name to write in the tracking table: the existing row's, or the migration's.
    pub fn record_name(&self) -> &str {
        self.record.map(|r| r.name.as_str()).unwrap_or(self.name)
    }
}

/// Whether a recorded name stands for a migration: the same name, or (for tables written by
/// the in-house runners this replaces) the name without its file extension.
pub fn same_migration(record: &str, name: &str) -> bool {
    record == name
        || name
            .rsplit_once('.')
            .is_some_and(|(stem, _)| !stem.is_empty() && stem == record)
}

/// Whether a recorded checksum is one of ours (SHA-256 hex) and so can be compared.
fn comparable(checksum: &str) -> bool {
    checksum.len() == 64 && checksum.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every migration of one database, in order: first the files (by version, then name), then the
/// records that no file has.
pub fn entries<'a>(
    catalog: &'a Catalog,
    dialect: Dialect,
    records: &'a [Record],
) -> Vec<Entry<'a>> {
    let migrations = &catalog.migrations;
    let mut used = vec![false; records.len()];
    let mut out = Vec::with_capacity(migrations.len());
    // Records by exact name first, so an exact match wins over a match without extension.
    let index: std::collections::HashMap<&str, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.as_str(), i))
        .collect();
    for m in migrations {
        let Some(variant) = m.for_dialect(dialect) else {
            continue; // written only for another backend
        };
        let ri = index.get(m.name.as_str()).copied().or_else(|| {
            m.name
                .rsplit_once('.')
                .and_then(|(stem, _)| index.get(stem).copied())
                .filter(|&i| same_migration(&records[i].name, &m.name))
        });
        let record = ri.map(|i| {
            used[i] = true;
            &records[i]
        });
        let state = if !variant.conflicts.is_empty() {
            State::Conflict
        } else {
            match record {
                None => State::Pending,
                Some(r) if !r.success => State::Failed,
                Some(r) => match (r.checksum.as_deref(), variant.checksum()) {
                    // A repeatable migration that changed is due again, as Flyway does.
                    (Some(old), Some(new)) if comparable(old) && !old.eq_ignore_ascii_case(new) => {
                        if m.repeatable {
                            State::Pending
                        } else {
                            State::Changed
                        }
                    }
                    _ => State::Applied,
                },
            }
        };
        out.push(Entry {
            name: &m.name,
            migration: Some(m),
            variant: Some(variant),
            record,
            state,
            not_taken: None,
        });
    }
    for (r, used) in records.iter().zip(used) {
        // The declared schema's rows are not migrations (`status` shows them apart).
        if !used && !crate::schema::is_declared_record(&r.name) {
            out.push(Entry {
                name: &r.name,
                migration: None,
                variant: None,
                record: Some(r),
                // Also a failed attempt whose file is gone: there is nothing to retry.
                state: State::Missing,
                not_taken: catalog.ignored.iter().find_map(|(path, why)| {
                    let file = path.file_name()?.to_str()?;
                    same_migration(&r.name, file).then_some((path.as_path(), why))
                }),
            });
        }
    }
    out
}

/// The `status` lines of the declared schema's changes (not its state row), from their records.
pub fn declared_rows(records: &[Record]) -> Vec<StatusRow> {
    records
        .iter()
        .filter(|r| crate::schema::is_change_record(&r.name))
        .map(|r| StatusRow {
            name: r.name.clone(),
            version: None,
            // A difference kept from the last run: the object is there, but not as declared.
            state: match (r.success, crate::schema::is_difference_record(&r.name)) {
                (true, true) => State::Changed,
                (true, false) => State::Applied,
                (false, _) => State::Failed,
            },
            applied_at: r.applied_at.clone(),
            checksum: r.checksum.clone(),
            execution_time_ms: r.execution_time_ms,
            error: r
                .error_message
                .clone()
                .filter(|_| !r.success || crate::schema::is_difference_record(&r.name)),
            file: r.name.split_once('#').map(|(f, _)| f.to_string()),
            declared: r.description.clone(),
        })
        .collect()
}

/// The migrations `up` attempts, in order; with `--target`, only those up to and including
/// it (and the repeatable ones).
pub fn due<'e, 'a>(entries: &'e [Entry<'a>], target: Option<&Version>) -> Vec<&'e Entry<'a>> {
    entries
        .iter()
        .filter(|e| e.is_due())
        .filter(|e| match (target, e.migration) {
            (Some(t), Some(m)) => m.repeatable || m.version <= *t,
            _ => true,
        })
        .collect()
}

/// The migration a mark names: by version, or by its full name (a file or folder name, with
/// or without `.sql`).
pub fn find<'c>(catalog: &'c Catalog, mark: &Mark) -> Option<&'c Migration> {
    catalog.migrations.iter().find(|m| match mark {
        Mark::Version(v) => !m.repeatable && m.version == *v,
        Mark::Name(n) => same_migration(n, &m.name),
    })
}

/// The version a mark stands for: its own, or that of the migration it names.
pub fn version_of(catalog: &Catalog, mark: &Mark) -> Result<Version, String> {
    match mark {
        Mark::Version(v) => Ok(v.clone()),
        Mark::Name(n) => find(catalog, mark)
            .map(|m| m.version.clone())
            .ok_or_else(|| format!("no migration is named {n}")),
    }
}

/// An applied migration `down` would undo.
#[derive(Debug, Clone)]
pub struct Undo<'a> {
    pub entry: &'a Entry<'a>,
    pub down: &'a DownPart,
}

/// The applied migrations `down` undoes, newest first: the last `steps`, or every one after
/// `to`. Refused (each reason given) when one in range has no down part, changed since it was
/// applied, has no file any more, or is a script.
pub fn undo<'e>(
    entries: &'e [Entry<'e>],
    steps: usize,
    to: Option<&Version>,
) -> Result<Vec<Undo<'e>>, Vec<String>> {
    let version = |e: &Entry<'_>| -> Option<Version> {
        match e.migration {
            Some(m) => Some(m.version.clone()),
            None => match name::parse(e.name, false) {
                name::Parsed::Migration(p) => Some(p.version),
                _ => name::parse_script(e.name).map(|p| p.version),
            },
        }
    };
    let mut applied: Vec<(Version, &Entry<'_>)> = entries
        .iter()
        .filter(|e| e.record.is_some_and(|r| r.success))
        .filter(|e| !e.migration.is_some_and(|m| m.repeatable))
        .filter_map(|e| Some((version(e)?, e)))
        .collect();
    // Newest first; two of one version are undone in the reverse of the order they ran in.
    applied.reverse();
    applied.sort_by(|a, b| b.0.cmp(&a.0));
    let in_range: Vec<&Entry<'_>> = match to {
        Some(t) => applied
            .into_iter()
            .filter(|(v, _)| v > t)
            .map(|(_, e)| e)
            .collect(),
        None => applied.into_iter().take(steps).map(|(_, e)| e).collect(),
    };
    let mut refused = Vec::new();
    let mut out = Vec::new();
    for e in in_range {
        let why = match (e.state, e.variant) {
            (State::Missing, _) | (_, None) => Some("its file is gone"),
            (State::Changed, _) => Some("its file changed since it was applied"),
            (_, Some(v)) if v.content.as_ref().is_ok_and(|c| c.script.is_some()) => {
                Some("it is a script migration, which cannot be undone")
            }
            (_, Some(v)) if v.down.as_ref().is_some_and(DownPart::empty) => Some(
                "its down section is empty: it says nothing about how to undo it (write the SQL \
                 that undoes it there, or leave it applied)",
            ),
            (_, Some(v)) if v.down.is_none() => Some(
                "it has no down part (a .down.sql twin, diesel's down.sql, a Flyway U file, or a \
                 down section: dbmate's -- migrate:down, goose's -- +goose Down, sql-migrate's \
                 -- +migrate Down, tern's part below ---- create above / drop below ----)",
            ),
            _ => None,
        };
        match (why, e.variant.and_then(|v| v.down.as_ref())) {
            (None, Some(down)) => out.push(Undo { entry: e, down }),
            (why, _) => refused.push(format!("{}: {}", e.name, why.unwrap_or("cannot be undone"))),
        }
    }
    if refused.is_empty() {
        Ok(out)
    } else {
        Err(refused)
    }
}

/// Applied migrations whose file has changed since (not re-run; `up` warns).
pub fn changed<'e, 'a>(entries: &'e [Entry<'a>]) -> impl Iterator<Item = &'e Entry<'a>> {
    entries.iter().filter(|e| e.state == State::Changed)
}

/// One migration `up` would attempt, for `plan` and `--dry-run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub state: State,
    pub no_transaction: bool,
    /// Run as a process, not SQL.
    pub script: bool,
    /// Why it would fail without running (conflict, unreadable file).
    pub unusable: Option<String>,
    /// The earlier migration after whose certain failure the policy tries no more.
    pub blocked_by: Option<String>,
    /// A declared schema's change: what it does (`add column users.last_login`).
    pub declared: Option<String>,
}

/// The steps `up` would take. Under `stop` or `abort`, those after a migration that is certain
/// to fail (a conflict, an unreadable file) are marked blocked.
pub fn steps(due: &[&Entry<'_>], policy: Policy) -> Vec<Step> {
    let mut blocker: Option<String> = None;
    due.iter()
        .map(|e| {
            let unusable = e.variant.and_then(|v| v.why_unusable());
            let content = e.variant.and_then(|v| v.content.as_ref().ok());
            let step = Step {
                name: e.name.to_string(),
                state: e.state,
                no_transaction: content.is_some_and(|c| c.no_transaction()),
                script: content.is_some_and(|c| c.script.is_some()),
                unusable: unusable.clone(),
                blocked_by: blocker.clone(),
                declared: None,
            };
            if unusable.is_some() && policy != Policy::Continue && blocker.is_none() {
                blocker = Some(e.name.to_string());
            }
            step
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Content, Script, Version, format};

    fn mig(name: &str, version: &str, body: &str) -> Migration {
        Migration {
            name: name.into(),
            version: Version::parse(version).unwrap(),
            description: String::new(),
            variants: vec![Variant {
                dialect: None,
                path: name.into(),
                content: Ok(Content {
                    checksum: crate::source::checksum(body.as_bytes()),
                    layout: format::layout(body),
                    script: None,
                }),
                conflicts: vec![],
                down: None,
            }],
            repeatable: false,
        }
    }

    fn with_down(mut m: Migration) -> Migration {
        m.variants[0].down = Some(DownPart {
            path: "x.down.sql".into(),
            section: None,
            no_transaction: false,
        });
        m
    }

    fn rec(name: &str, success: bool, body: Option<&str>) -> Record {
        Record {
            name: name.into(),
            success,
            checksum: body.map(|b| crate::source::checksum(b.as_bytes())),
            ..Default::default()
        }
    }

    fn cat(ms: &[Migration]) -> Catalog {
        Catalog {
            migrations: ms.to_vec(),
            ..Catalog::default()
        }
    }

    fn states(ms: &[Migration], rs: &[Record]) -> Vec<(String, State)> {
        entries(&cat(ms), Dialect::Sqlite, rs)
            .iter()
            .map(|e| (e.name.to_string(), e.state))
            .collect()
    }

    #[test]
    fn states_from_files_and_records() {
        let ms = [
            mig("1_a.sql", "1", "A"),
            mig("2_b.sql", "2", "B"),
            mig("3_c.sql", "3", "C"),
            mig("4_d.sql", "4", "D"),
            mig("5_e.sql", "5", "E"),
        ];
        let rs = [
            rec("1_a.sql", true, Some("A")),
            rec("2_b.sql", true, Some("B changed")),
            rec("3_c.sql", false, Some("C")),
            rec("4_d.sql", true, None), // an older table without checksums
            rec("0_gone.sql", true, Some("X")),
        ];
        use State::*;
        let got = states(&ms, &rs);
        let want: Vec<(String, State)> = [
            ("1_a.sql", Applied),
            ("2_b.sql", Changed),
            ("3_c.sql", Failed),
            ("4_d.sql", Applied),
            ("5_e.sql", Pending),
            ("0_gone.sql", Missing),
        ]
        .iter()
        .map(|(n, s)| (n.to_string(), *s))
        .collect();
        assert_eq!(got, want);
        let c = cat(&ms);
        let e = entries(&c, Dialect::Sqlite, &rs);
        let due: Vec<&str> = due(&e, None).iter().map(|e| e.name).collect();
        assert_eq!(due, ["3_c.sql", "5_e.sql"]);
    }

    #[test]
    fn legacy_record_without_extension_counts() {
        let ms = [mig("001_add_x.sql", "1", "A")];
        let rs = [rec("001_add_x", true, None)];
        let c = cat(&ms);
        let e = entries(&c, Dialect::Sqlite, &rs);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].state, State::Applied);
        assert_eq!(e[0].record_name(), "001_add_x");
    }

    #[test]
    fn foreign_checksum_is_not_a_change() {
        let ms = [mig("1_a.sql", "1", "A")];
        let mut r = rec("1_a.sql", true, None);
        r.checksum = Some("d41d8cd98f00b204e9800998ecf8427e".into()); // an MD5
        assert_eq!(states(&ms, &[r])[0].1, State::Applied);
    }

    #[test]
    fn steps_after_a_certain_failure_are_blocked_unless_continue() {
        let mut bad = mig("2_b.sql", "2", "B");
        bad.variants[0].content = Err("cannot read".into());
        let ms = [mig("1_a.sql", "1", "A"), bad, mig("3_c.sql", "3", "C")];
        let c = cat(&ms);
        let e = entries(&c, Dialect::Sqlite, &[]);
        let blocked = |p| -> Vec<Option<String>> {
            steps(&due(&e, None), p)
                .into_iter()
                .map(|s| s.blocked_by)
                .collect()
        };
        assert_eq!(blocked(Policy::Continue), [None, None, None]);
        assert_eq!(
            blocked(Policy::Stop),
            [None, None, Some("2_b.sql".to_string())]
        );
        assert_eq!(
            steps(&due(&e, None), Policy::Stop)[1].unusable.as_deref(),
            Some("cannot read")
        );
    }

    #[test]
    fn repeatables_are_due_again_when_they_change_and_target_stops_versions() {
        let mut r = mig("R__views.sql", "0", "V2");
        r.repeatable = true;
        r.version = Version::parse("0").unwrap();
        let ms = [mig("1_a.sql", "1", "A"), mig("2_b.sql", "2", "B"), r];
        let rs = [
            rec("1_a.sql", true, Some("A")),
            rec("R__views.sql", true, Some("V1")),
        ];
        let c = cat(&ms);
        let e = entries(&c, Dialect::Sqlite, &rs);
        assert_eq!(e[2].state, State::Pending, "changed repeatable: due again");
        assert_eq!(e[2].row().version, None);
        let names =
            |t: Option<&Version>| -> Vec<&str> { due(&e, t).iter().map(|e| e.name).collect() };
        assert_eq!(names(None), ["2_b.sql", "R__views.sql"]);
        assert_eq!(names(Some(&Version::parse("1").unwrap())), ["R__views.sql"]);
        let rs = [rec("R__views.sql", true, Some("V2"))];
        let e = entries(&c, Dialect::Sqlite, &rs);
        assert_eq!(e[2].state, State::Applied);
    }

    #[test]
    fn undo_takes_the_newest_and_refuses_what_cannot_be_undone() {
        let ms = [
            with_down(mig("1_a.sql", "1", "A")),
            mig("2_b.sql", "2", "B"),
            with_down(mig("3_c.sql", "3", "C")),
            with_down(mig("4_d.sql", "4", "D")),
        ];
        let rs = [
            rec("1_a.sql", true, Some("A")),
            rec("2_b.sql", true, Some("B")),
            rec("3_c.sql", true, Some("C")),
            rec("4_d.sql", false, Some("D")), // failed: not applied, not undone
        ];
        let c = cat(&ms);
        let e = entries(&c, Dialect::Sqlite, &rs);
        let names = |u: Vec<Undo<'_>>| -> Vec<String> {
            u.iter().map(|u| u.entry.name.to_string()).collect()
        };
        assert_eq!(names(undo(&e, 1, None).unwrap()), ["3_c.sql"]);
        let refused = undo(&e, 2, None).unwrap_err();
        assert_eq!(refused.len(), 1);
        assert!(
            refused[0].starts_with("2_b.sql: it has no down part"),
            "{refused:?}"
        );
        assert_eq!(
            names(undo(&e, 0, Some(&Version::parse("2").unwrap())).unwrap()),
            ["3_c.sql"]
        );
        // A script cannot be undone, down part or not.
        let mut script = with_down(mig("5_s.py", "5", "S"));
        if let Ok(c) = script.variants[0].content.as_mut() {
            c.script = Some(Script::Executable);
        }
        let ms5 = [script];
        let c5 = cat(&ms5);
        let rs5 = [rec("5_s.py", true, Some("S"))];
        let e5 = entries(&c5, Dialect::Sqlite, &rs5);
        let refused = undo(&e5, 1, None).unwrap_err();
        assert!(refused[0].contains("a script migration"), "{refused:?}");
        let rs = [
            rec("1_a.sql", true, Some("A changed")),
            rec("9_gone.sql", true, None),
        ];
        let e = entries(&c, Dialect::Sqlite, &rs);
        let refused = undo(&e, 5, None).unwrap_err();
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(
            refused[0].contains("9_gone.sql: its file is gone"),
            "{refused:?}"
        );
        assert!(
            refused[1].contains("1_a.sql: its file changed"),
            "{refused:?}"
        );
    }

    #[test]
    fn conflict_is_due_unless_applied() {
        let mut m = mig("1_a.sql", "1", "A");
        m.variants[0].conflicts.push("other/1_a.sql".into());
        let ms = [m];
        let c = cat(&ms);
        let e = entries(&c, Dialect::Sqlite, &[]);
        assert_eq!(e[0].state, State::Conflict);
        assert!(e[0].is_due());
        let rs = [rec("1_a.sql", true, Some("A"))];
        let c = cat(&ms);
        let e = entries(&c, Dialect::Sqlite, &rs);
        assert!(!e[0].is_due());
    }
}
