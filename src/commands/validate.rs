//! `validate`: what is wrong with the migration folders and, given databases, with their
//! records. The checks are pure: they take the catalog and the plan entries, and return
//! problems; `run` prints them.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use super::{Finished, Opened, fanout, open_options};
use crate::lint::{ASSUMED_VERSION, Finding, LintPolicy, version_shown};
use crate::plan::{self, Entry, State};
use crate::settings::{Format, Settings};
use crate::source::{Catalog, Dialect};

/// Checks the files and every database's records, and lints the PostgreSQL migrations that
/// are pending (all of them when no database is given); one line per problem on stdout, or
/// one JSON document.
pub fn run(s: &Settings, format: Format) -> Finished {
    let Some(catalog) = super::scan(s) else {
        return Finished::BadFolders;
    };
    let mut problems = check_files(&catalog);
    let (declared_problems, declared) = check_declared(s);
    problems.extend(declared_problems);
    let open = open_options(s, false);
    let linting = s.lint != LintPolicy::Off;
    let checked = fanout::map(&s.targets, s.jobs, |t| {
        let database = t.redacted();
        Some(match Opened::open(t, &open) {
            Ok(mut o) => {
                let postgres = o.backend.dialect() == Dialect::Postgres;
                let version = (linting && postgres)
                    .then(|| o.backend.server_version())
                    .flatten();
                let Opened {
                    backend, records, ..
                } = &mut o;
                let entries = plan::entries(&catalog, backend.dialect(), records);
                let mut found = check_records(&database, &entries);
                found.extend(check_declared_records(&database, records));
                let lint = (linting && postgres).then(|| {
                    let due = plan::due(&entries, None);
                    let files = due.iter().filter_map(|e| e.migration.zip(e.variant));
                    let ask = |c: &[(String, String)]| backend.column_types(c);
                    let (report, _) =
                        super::lint::run(files, version.unwrap_or(ASSUMED_VERSION), ask);
                    (report, version.is_none())
                });
                drop(entries);
                match o.history(s.adopt, &s.table) {
                    Ok(super::History::Refuse(why)) => {
                        found.push(problem(&database, why.to_string()))
                    }
                    Ok(_) => {}
                    Err(e) => found.push(problem(&database, format!("cannot read: {e}"))),
                }
                Ok((found, lint))
            }
            Err(e) => Err(problem(database, format!("cannot read: {e}"))),
        })
    });
    let mut unreadable = false;
    let mut reports = Vec::new();
    let mut notes = Vec::new();
    for c in checked {
        match c {
            Ok((p, lint)) => {
                // A difference kept from the last run without --schema-strict: said, but not a
                // problem.
                let (n, p): (Vec<_>, Vec<_>) = p.into_iter().partition(|p| p.note);
                notes.extend(n);
                problems.extend(p);
                reports.extend(lint);
            }
            Err(p) => {
                unreadable = true;
                problems.push(p);
            }
        }
    }
    // No database to say what is pending, or which version it runs: every PostgreSQL
    // migration, read as a current server runs it.
    if linting && s.targets.is_empty() {
        let files = catalog
            .migrations
            .iter()
            .filter_map(|m| Some(m).zip(m.for_dialect(Dialect::Postgres)));
        let (report, _) = super::lint::run(files, ASSUMED_VERSION, |_| HashMap::new());
        reports.push((report, true));
    }
    let assumed = reports.iter().any(|(_, a)| *a);
    let mut findings: Vec<Finding> = Vec::new();
    for (r, _) in reports {
        for f in r.findings {
            if !findings
                .iter()
                .any(|g| (g.rule, &g.file, g.line) == (f.rule, &f.file, f.line))
            {
                findings.push(f);
            }
        }
    }
    if s.lint == LintPolicy::Refuse {
        problems.extend(findings.iter().filter(|f| f.allowed.is_none()).map(|f| {
            problem(
                format!("{}:{}", f.file, f.line),
                format!("refused by --lint refuse: {}", f.rule),
            )
        }));
    }
    let mut out = std::io::stdout().lock();
    if format == Format::Json {
        let doc = serde_json::json!({
            "ok": problems.is_empty(),
            "problems": problems.iter().map(|p| serde_json::json!({"place": p.place, "what": p.what})).collect::<Vec<_>>(),
            "notes": notes.iter().map(|p| serde_json::json!({"place": p.place, "what": p.what})).collect::<Vec<_>>(),
            "findings": findings,
            "lint": {
                "policy": format!("{:?}", s.lint).to_lowercase(),
                "assumed_version": assumed.then(|| version_shown(ASSUMED_VERSION)),
            },
        });
        let _ = writeln!(out, "{doc}");
        return Finished::Validate {
            problems: problems.len(),
            unreadable,
        };
    }
    for p in &problems {
        let _ = writeln!(out, "{p}");
    }
    for n in &notes {
        let _ = writeln!(out, "note: {n}");
    }
    if assumed && !findings.is_empty() {
        let _ = writeln!(
            out,
            "lint: no PostgreSQL database to ask, so read as PostgreSQL {} runs them",
            version_shown(ASSUMED_VERSION)
        );
    }
    for f in &findings {
        let _ = match f.allowed_because() {
            Some(why) => writeln!(out, "allowed: {}:{}: {}: {why}", f.file, f.line, f.rule),
            None => writeln!(out, "warning: {f}"),
        };
    }
    if problems.is_empty() {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let declared = declared.map(|d| format!(", {d}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "ok: {} migrations in {}{declared}, {} checked",
            catalog.migrations.len(),
            plural(s.dirs.len(), "directory", "directories"),
            plural(s.targets.len(), "database", "databases"),
        );
    }
    Finished::Validate {
        problems: problems.len(),
        unreadable,
    }
}

/// One problem: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub place: String,
    pub what: String,
    /// Said, but not a problem (exit 0): a difference kept without `--schema-strict`.
    pub note: bool,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.place, self.what)
    }
}

fn problem(place: impl Into<String>, what: impl Into<String>) -> Problem {
    Problem {
        place: place.into(),
        what: what.into(),
        note: false,
    }
}

/// The declared schema's records as the last run left them: a change that failed, or a
/// difference under `--schema-strict`, is a problem; a difference kept without it, a note.
fn check_declared_records(database: &str, records: &[crate::plan::Record]) -> Vec<Problem> {
    records
        .iter()
        .filter(|r| crate::schema::is_change_record(&r.name))
        .filter_map(|r| {
            let error = r
                .error_message
                .as_deref()
                .unwrap_or("(no message recorded)");
            let difference = crate::schema::is_difference_record(&r.name);
            match (r.success, difference) {
                (false, _) => Some(problem(
                    format!("{database}: {}", r.name),
                    format!("failed at the last run: {error}"),
                )),
                (true, true) => Some(Problem {
                    note: true,
                    ..problem(
                        format!("{database}: {}", r.name),
                        format!("at the last run: {error}"),
                    )
                }),
                (true, false) => None,
            }
        })
        .collect()
}

/// What `validate` read of the declared schema, for its summary: `declared schema: 2 files,
/// 130 tables, 250 indexes, 4 functions, ...` (the PostgreSQL model's counts).
fn declared_summary(files: usize, m: &crate::schema::Model) -> String {
    use crate::schema::recognize::OtherKind;
    let indexes: usize = m.tables.iter().map(|t| t.indexes.len()).sum();
    let others = |k: OtherKind| m.others.iter().filter(|o| o.kind == k).count();
    let counts = [
        (files, "file", "files"),
        (m.tables.len(), "table", "tables"),
        (indexes, "index", "indexes"),
        (m.types.len(), "type", "types"),
        (m.sequences.len(), "sequence", "sequences"),
        (m.functions.len(), "function", "functions"),
        (m.views.len(), "view", "views"),
        (m.triggers.len(), "trigger", "triggers"),
        (m.policies.len(), "policy", "policies"),
        (others(OtherKind::Aggregate), "aggregate", "aggregates"),
        (
            others(OtherKind::Statistics),
            "statistics object",
            "statistics objects",
        ),
        (others(OtherKind::Rule), "rule", "rules"),
        (
            others(OtherKind::Publication),
            "publication",
            "publications",
        ),
        (
            others(OtherKind::EventTrigger),
            "event trigger",
            "event triggers",
        ),
        (m.comments.len(), "comment", "comments"),
    ];
    let listed: Vec<String> = counts
        .iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| format!("{n} {}", if *n == 1 { one } else { many }))
        .collect();
    format!("declared schema: {}", listed.join(", "))
}

/// Problems of the declared schema's files: unreadable, a table, column or index declared
/// twice, a statement not recognised; for SQLite (when a SQLite database is checked or a
/// `.sqlite.sql` variant exists) each table and index as SQLite itself reads it. With what it
/// read, for the summary (`None` without `--schema`, or when it cannot be read).
fn check_declared(s: &Settings) -> (Vec<Problem>, Option<String>) {
    use crate::schema::{Declared, Model, model};
    use crate::source::Dialect;
    if s.schema.is_empty() {
        return (Vec::new(), None);
    }
    let declared = match Declared::read(&s.schema) {
        Ok(d) => d,
        Err(e) => return (vec![problem("--schema", e.to_string())], None),
    };
    let mut out = Vec::new();
    let mut summary = None;
    let mut seen = std::collections::BTreeSet::new();
    for dialect in [Dialect::Postgres, Dialect::Sqlite] {
        let files = declared.for_dialect(dialect);
        let m = Model::build(&files, dialect);
        if dialect == Dialect::Postgres {
            summary = Some(declared_summary(declared.files.len(), &m));
        }
        let mut report = |place: &str, what: String| {
            if seen.insert((place.to_string(), what.clone())) {
                out.push(problem(place, what));
            }
        };
        let mut tables = std::collections::BTreeSet::new();
        let mut indexes = std::collections::BTreeSet::new();
        for t in &m.tables {
            let n = model::shown(&t.name, dialect);
            if !tables.insert(&t.name) {
                report(&t.file, format!("table {n} is declared twice"));
            }
            let mut cols = std::collections::BTreeSet::new();
            for c in &t.columns {
                if !cols.insert(&c.name) {
                    report(&t.file, format!("column {n}.{} is declared twice", c.name));
                }
            }
            for ix in &t.indexes {
                if !indexes.insert(&ix.name) {
                    report(
                        &ix.file,
                        format!(
                            "index {} is declared twice",
                            model::shown(&ix.name, dialect)
                        ),
                    );
                }
            }
        }
        for (file, what, line) in &m.not_managed {
            // Data (INSERT ...) is left to migrations, not a declaration gone wrong.
            if what != "data statement"
                && (what == "statement"
                    || what.ends_with(" statement")
                    || what.contains("not declared"))
            {
                let place = if file.is_empty() { "--schema" } else { file };
                report(
                    place,
                    format!("not recognised as a declaration ({what}): {line}"),
                );
            }
        }
        let wanted = s
            .targets
            .iter()
            .any(|t| matches!(t, crate::settings::Target::Sqlite { .. }))
            || declared.files.iter().any(|f| f.dialect == Some(dialect));
        if dialect == Dialect::Sqlite && wanted {
            for (file, why) in crate::backend::sqlite::check_declared(&m) {
                report(&file, format!("SQLite refuses it: {why}"));
            }
        }
    }
    (out, summary)
}

/// Problems of the files: versions used twice, conflicting copies, files passed over for want
/// of a version, unreadable or non-UTF-8 files, directives this tool does not know.
pub fn check_files(catalog: &Catalog) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut by_version: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for m in catalog.migrations.iter().filter(|m| !m.repeatable) {
        by_version
            .entry(m.version.to_string())
            .or_default()
            .push(&m.name);
    }
    for m in &catalog.migrations {
        let names = by_version
            .get(&m.version.to_string())
            .map_or(&[][..], |n| &n[..]);
        if names.len() > 1 && names[0] == m.name {
            out.push(problem(
                names.join(", "),
                format!(
                    "version {} is used by {} migrations",
                    m.version,
                    names.len()
                ),
            ));
        }
        for v in &m.variants {
            let place = v.path.display().to_string();
            for other in &v.conflicts {
                out.push(problem(
                    &place,
                    format!(
                        "differs from {} (same name, other content)",
                        other.display()
                    ),
                ));
            }
            match &v.content {
                Err(why) => out.push(problem(&place, why.clone())),
                Ok(c) if c.script.is_some() => {
                    if let Some(why) = crate::source::shebang::problem(&v.path) {
                        out.push(problem(&place, format!("cannot run: {why}")));
                    }
                }
                Ok(c) => {
                    if let Some(why) = &c.layout.refused {
                        out.push(problem(
                            &place,
                            format!("refused, not run as plain SQL: {why}"),
                        ));
                    }
                    for d in &c.layout.unknown {
                        out.push(problem(
                            &place,
                            format!("unknown directive `-- migrate:{d}`"),
                        ));
                    }
                    if let Err(e) = crate::lint::allowed(&c.layout.allow) {
                        out.push(problem(&place, e.to_string()));
                    }
                }
            }
        }
    }
    for (path, why) in super::passed_over(catalog) {
        out.push(problem(
            path.display().to_string(),
            format!("ignored: {why}"),
        ));
    }
    out
}

/// Problems of one database's records: changed files, missing files, failed migrations.
pub fn check_records(database: &str, entries: &[Entry<'_>]) -> Vec<Problem> {
    entries
        .iter()
        .filter_map(|e| {
            let what = match e.state {
                State::Changed => "changed since it was applied (checksum differs)".to_string(),
                State::Missing => match e.not_taken {
                    Some((path, why)) => format!(
                        "recorded, but its file {} is not taken as a migration: {why}",
                        path.display()
                    ),
                    None if e.record.is_some_and(|r| !r.success) => {
                        "recorded as failed, and no file has it any more".to_string()
                    }
                    None => "recorded as applied, but no file has it".to_string(),
                },
                State::Failed => format!(
                    "failed: {}",
                    e.record
                        .and_then(|r| r.error_message.as_deref())
                        .unwrap_or("(no message recorded)")
                ),
                _ => return None,
            };
            Some(problem(format!("{database}: {}", e.name), what))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{self, Record};
    use crate::source::{self, Dialect};

    #[test]
    fn finds_what_is_wrong_with_a_folder() {
        let d = tempfile::tempdir().unwrap();
        let w = |n: &str, t: &[u8]| std::fs::write(d.path().join(n), t).unwrap();
        w("1_a.sql", b"SELECT 1;");
        w("1_b.sql", b"SELECT 1;");
        w("2_c.sql", b"-- migrate:no-transactions\nSELECT 1;");
        w("3_d.sql", b"SELECT '\xff';");
        w("init.sql", b"SELECT 1;");
        w("R__views.sql", b"SELECT 1;");
        w("_template.sql", b"x");
        w("README.md", b"x");
        let catalog = source::scan(&[d.path().into()]).unwrap();
        let problems: Vec<String> = check_files(&catalog)
            .iter()
            .map(|p| p.what.clone())
            .collect();
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems.contains(&"version 1 is used by 2 migrations".to_string()));
        assert!(problems.contains(&"unknown directive `-- migrate:no-transactions`".to_string()));
        assert!(problems.iter().any(|p| p.contains("not UTF-8")));
        assert!(
            problems
                .contains(&"ignored: no leading version number (name it 4_init.sql)".to_string()),
            "{problems:?}"
        );
        // R__views.sql is a repeatable migration, not a problem.
        assert!(!problems.iter().any(|p| p.contains("R__")));
    }

    #[test]
    fn finds_what_is_wrong_with_records() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("1_a.sql"), "SELECT 1;").unwrap();
        std::fs::write(d.path().join("2_b.sql"), "SELECT 2;").unwrap();
        let catalog = source::scan(&[d.path().into()]).unwrap();
        let records = vec![
            Record {
                name: "1_a.sql".into(),
                success: true,
                checksum: Some("0".repeat(64)),
                ..Default::default()
            },
            Record {
                name: "2_b.sql".into(),
                success: false,
                error_message: Some("boom".into()),
                ..Default::default()
            },
            Record {
                name: "0_gone.sql".into(),
                success: true,
                ..Default::default()
            },
        ];
        let entries = plan::entries(&catalog, Dialect::Sqlite, &records);
        let problems: Vec<String> = check_records("db", &entries)
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            problems,
            [
                "db: 1_a.sql: changed since it was applied (checksum differs)",
                "db: 2_b.sql: failed: boom",
                "db: 0_gone.sql: recorded as applied, but no file has it",
            ]
        );
    }
}
