//! The lint: dangerous PostgreSQL statements named before they run, with what only the runner
//! knows (the tables this run creates, how each file runs, the server's version). Pure: files
//! in, findings out; reading the server's version and printing are the callers'.
//!
//! Hand-written over the schema lexer rather than the squawk-linter crate: the crate added
//! 0.7 MB to the static binary for rules that need only leading keywords (bench/README.md).

pub mod rules;
pub mod statement;

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use serde::Serialize;

pub use crate::cli::LintPolicy;
use statement::{Shape, Statement};

/// The version assumed when no database tells us its own (`validate` without a database).
pub const ASSUMED_VERSION: u32 = 170000;

/// Errors of the lint's input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LintError {
    #[error("`-- migrate:allow {0}`: no rule is called `{0}`{1}")]
    UnknownRule(String, String),
    #[error("`-- migrate:allow` names no rule")]
    NoRule,
}

/// One rule: its name (squawk's where it means the same), what it catches, the lock the
/// statement takes and what that blocks, and the safe way; `check` finds it in a statement.
pub struct Rule {
    pub name: &'static str,
    /// For docs/lint.md's table (a test checks that it is there).
    #[cfg_attr(not(test), allow(dead_code))]
    pub catches: &'static str,
    pub lock: &'static str,
    pub blocks: &'static str,
    pub advice: &'static str,
    pub check: fn(&Statement, &Context<'_>) -> Vec<Hit>,
}

/// One place a rule found: what the statement does there, and advice when it differs from
/// the rule's own (an older server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub what: String,
    pub advice: Option<String>,
}

impl Hit {
    fn new(what: impl Into<String>) -> Hit {
        Hit {
            what: what.into(),
            advice: None,
        }
    }
}

/// What the rules know about a statement's surroundings, as it was just before it.
#[derive(Debug)]
pub struct Context<'a> {
    /// The file runs in a transaction.
    pub in_transaction: bool,
    /// `server_version_num`.
    pub version: u32,
    /// Tables this run creates (earlier in this file, or in an earlier pending migration).
    pub new_tables: &'a HashSet<String>,
    /// Indexes this run creates.
    pub new_indexes: &'a HashSet<String>,
    /// Constraints added `NOT VALID` earlier in this file (a transaction of its own).
    pub not_valid_here: &'a HashSet<String>,
    /// (table, column) pairs with a validated `CHECK (column IS NOT NULL)` added by this run.
    pub checked_not_null: &'a HashSet<(String, String)>,
    /// The types of columns this run added to existing tables, as written, lower case.
    pub column_types: &'a HashMap<(String, String), String>,
}

impl Context<'_> {
    /// Whether this run creates the table (so nothing else uses it yet).
    pub fn new_table(&self, table: &str) -> bool {
        self.new_tables.contains(table)
    }
}

/// A migration file, as the lint reads it.
#[derive(Debug, Clone)]
pub struct File<'a> {
    /// As it is shown: the path.
    pub path: String,
    /// The SQL that runs (its up part), the statements to keep whole, and the file's line
    /// that SQL starts on.
    pub sql: &'a str,
    pub whole: &'a [Range<usize>],
    pub first_line: usize,
    pub in_transaction: bool,
    /// What its `-- migrate:allow` lines say after `allow`.
    pub allow: &'a [String],
}

/// A dangerous statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub file: String,
    pub line: usize,
    /// The statement's start, on one line.
    pub statement: String,
    pub what: String,
    pub lock: &'static str,
    pub blocks: &'static str,
    pub advice: String,
    /// The reason given in the file's `-- migrate:allow` line, when it allows this rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<String>,
}

impl Finding {
    /// Why the file allows it, as logged: its `-- migrate:allow` reason, or that none was
    /// given (`None`: not allowed).
    pub fn allowed_because(&self) -> Option<&str> {
        self.allowed
            .as_deref()
            .map(|r| if r.is_empty() { "no reason given" } else { r })
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}; it takes {}, which blocks {}. Safe: {}",
            self.file, self.line, self.rule, self.what, self.lock, self.blocks, self.advice
        )
    }
}

/// What the lint says about a set of files.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// In file order; allowed ones too, with their reason.
    pub findings: Vec<Finding>,
    /// `-- migrate:allow` lines that name no rule we have, by file.
    pub problems: Vec<(String, LintError)>,
}

/// A file's `-- migrate:allow` lines: the rules each allows, with its reason.
pub fn allowed(lines: &[String]) -> Result<HashMap<&'static str, String>, LintError> {
    let mut out = HashMap::new();
    for line in lines {
        // The rules: the first word, and more words while one ends in a comma.
        let mut words = line.split_whitespace().peekable();
        let mut list = String::new();
        while let Some(w) = words.next() {
            list.push_str(w);
            if !w.ends_with(',') && !words.peek().is_some_and(|n| n.starts_with(',')) {
                break;
            }
        }
        let reason = words.collect::<Vec<_>>().join(" ");
        let names: Vec<&str> = list.split(',').filter(|n| !n.is_empty()).collect();
        if names.is_empty() {
            return Err(LintError::NoRule);
        }
        for n in names {
            let rule = rules::ALL.iter().find(|r| r.name == n).ok_or_else(|| {
                let near = rules::ALL
                    .iter()
                    .map(|r| (strsim::osa_distance(r.name, n), r.name))
                    .min()
                    .filter(|(d, _)| *d <= 3)
                    .map(|(_, name)| format!(" (did you mean `{name}`?)"))
                    .unwrap_or_else(|| " (docs/lint.md lists the rules)".into());
                LintError::UnknownRule(n.to_string(), near)
            })?;
            out.insert(rule.name, reason.clone());
        }
    }
    Ok(out)
}

/// What the database says before the run: its version, and the types of the columns whose
/// type the files change (`type_changes`).
#[derive(Debug, Clone, Default)]
pub struct Server {
    pub version: u32,
    pub column_types: HashMap<(String, String), String>,
}

impl Server {
    /// A server of this version that told us nothing more.
    pub fn of(version: u32) -> Server {
        Server {
            version,
            column_types: HashMap::new(),
        }
    }
}

/// The (table, column) pairs whose type the files change: what to ask the database.
pub fn type_changes(files: &[File<'_>]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for file in files {
        for st in statement::statements(file.sql, file.whole, file.first_line) {
            if let Shape::AlterTable { table, actions } = &st.shape {
                for a in actions {
                    if let statement::Action::AlterType { column, .. } = a {
                        let pair = (table.clone(), column.clone());
                        if !out.contains(&pair) {
                            out.push(pair);
                        }
                    }
                }
            }
        }
    }
    out
}

/// The findings of `files`, read in order as one run applies them, on `server`.
pub fn lint(files: &[File<'_>], server: &Server) -> Report {
    let version = server.version;
    let mut report = Report::default();
    let mut new_tables = HashSet::new();
    let mut new_indexes = HashSet::new();
    let mut checked_not_null = HashSet::new();
    // Seeded with what the database says; what the run does to a column comes after.
    let mut column_types = server.column_types.clone();
    // Constraints added NOT VALID by this run that check `column IS NOT NULL`.
    let mut not_null_checks: HashMap<String, (String, String)> = HashMap::new();
    for file in files {
        let allow = match allowed(file.allow) {
            Ok(a) => a,
            Err(e) => {
                report.problems.push((file.path.clone(), e));
                HashMap::new()
            }
        };
        let mut not_valid_here = HashSet::new();
        for st in statement::statements(file.sql, file.whole, file.first_line) {
            let cx = Context {
                in_transaction: file.in_transaction,
                version,
                new_tables: &new_tables,
                new_indexes: &new_indexes,
                not_valid_here: &not_valid_here,
                checked_not_null: &checked_not_null,
                column_types: &column_types,
            };
            for rule in rules::ALL {
                for hit in (rule.check)(&st, &cx) {
                    report.findings.push(Finding {
                        rule: rule.name,
                        file: file.path.clone(),
                        line: st.line,
                        statement: one_line(&st.text),
                        what: hit.what,
                        lock: rule.lock,
                        blocks: rule.blocks,
                        advice: hit.advice.unwrap_or_else(|| rule.advice.to_string()),
                        allowed: allow.get(rule.name).cloned(),
                    });
                }
            }
            // What this statement leaves for the ones after it.
            match &st.shape {
                Shape::CreateTable { table } => {
                    new_tables.insert(table.clone());
                }
                Shape::CreateIndex { name: Some(n), .. } => {
                    new_indexes.insert(n.clone());
                }
                Shape::AlterTable { table, actions } => {
                    for a in actions {
                        match a {
                            statement::Action::RenameTo { to } if new_tables.contains(table) => {
                                new_tables.insert(to.clone());
                            }
                            statement::Action::AddConstraint {
                                name,
                                not_valid,
                                not_null_of,
                                ..
                            } => {
                                if let Some(n) = name.as_ref().filter(|_| *not_valid) {
                                    not_valid_here.insert(n.clone());
                                }
                                if let Some(c) = not_null_of {
                                    let pair = (table.clone(), c.clone());
                                    match name {
                                        Some(n) if *not_valid => {
                                            not_null_checks.insert(n.clone(), pair);
                                        }
                                        _ if !*not_valid => {
                                            checked_not_null.insert(pair);
                                        }
                                        _ => {}
                                    }
                                }
                            }
                            statement::Action::AddColumn(c) => {
                                column_types
                                    .insert((table.clone(), c.column.clone()), c.ty.clone());
                            }
                            statement::Action::AlterType { column, ty, .. } => {
                                column_types.insert((table.clone(), column.clone()), ty.clone());
                            }
                            statement::Action::ValidateConstraint { name } => {
                                if let Some(pair) = not_null_checks.get(name) {
                                    checked_not_null.insert(pair.clone());
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
    report
}

/// The statement's start on one line, at most 80 characters.
fn one_line(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &flat[..i]),
        None => flat,
    }
}

/// The server version as people say it: 170002 → "17", 90624 → "9.6".
pub fn version_shown(num: u32) -> String {
    if num >= 100000 {
        (num / 10000).to_string()
    } else {
        format!("{}.{}", num / 10000, num / 100 % 100)
    }
}

#[cfg(test)]
pub(crate) mod test {
    use super::*;

    /// How a test file runs.
    #[derive(Clone, Copy)]
    pub struct Run {
        pub in_transaction: bool,
        pub version: u32,
    }

    pub const TX: Run = Run {
        in_transaction: true,
        version: ASSUMED_VERSION,
    };

    pub const NO_TX: Run = Run {
        in_transaction: false,
        version: ASSUMED_VERSION,
    };

    /// The lines where `rule` finds something in the files (one run, in order).
    pub fn lines_in(rule: &str, files: &[&str], run: Run) -> Vec<usize> {
        lines_on(rule, files, run, &Server::of(run.version))
    }

    /// As `lines_in`, on a server that told us more than its version.
    pub fn lines_on(rule: &str, files: &[&str], run: Run, server: &Server) -> Vec<usize> {
        let files: Vec<File<'_>> = files
            .iter()
            .map(|sql| File {
                path: "m.sql".into(),
                sql,
                whole: &[],
                first_line: 1,
                in_transaction: run.in_transaction,
                allow: &[],
            })
            .collect();
        lint(&files, server)
            .findings
            .iter()
            .filter(|f| f.rule == rule)
            .map(|f| f.line)
            .collect()
    }

    /// As `lines_in`, for one file.
    pub fn lines(rule: &str, sql: &str, run: Run) -> Vec<usize> {
        lines_in(rule, &[sql], run)
    }

    #[test]
    fn allow_lines() {
        let a =
            allowed(&["ban-drop-column,renaming-table the old release is gone".into()]).unwrap();
        assert_eq!(a["ban-drop-column"], "the old release is gone");
        assert_eq!(a["renaming-table"], "the old release is gone");
        let a = allowed(&["ban-drop-table, ban-cluster".into()]).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a["ban-cluster"], "");
        assert!(matches!(
            allowed(&["ban-drop-colum oops".into()]),
            Err(LintError::UnknownRule(n, _)) if n == "ban-drop-colum"
        ));
        assert_eq!(allowed(&[String::new()]), Err(LintError::NoRule));
    }

    #[test]
    fn the_columns_whose_type_changes_are_asked_for() {
        let sql = "ALTER TABLE s.users ALTER COLUMN name TYPE varchar(50), ALTER id TYPE bigint;\n\
                   ALTER TABLE users ALTER name TYPE text;";
        let f = File {
            path: "m.sql".into(),
            sql,
            whole: &[],
            first_line: 1,
            in_transaction: true,
            allow: &[],
        };
        assert_eq!(
            type_changes(&[f]),
            [
                ("users".into(), "name".into()),
                ("users".into(), "id".into())
            ]
        );
    }

    #[test]
    fn allowed_findings_carry_their_reason() {
        let allow = ["ban-drop-column no release reads it".to_string()];
        let f = File {
            path: "migrations/3_x.sql".into(),
            sql: "\nALTER TABLE t DROP COLUMN a;",
            whole: &[],
            first_line: 2,
            in_transaction: true,
            allow: &allow,
        };
        let r = lint(&[f], &Server::of(ASSUMED_VERSION));
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].line, 3);
        assert_eq!(
            r.findings[0].allowed.as_deref(),
            Some("no release reads it")
        );
        assert!(r.problems.is_empty());
    }

    #[test]
    fn every_rule_has_a_unique_name() {
        let names: HashSet<&str> = rules::ALL.iter().map(|r| r.name).collect();
        assert_eq!(names.len(), rules::ALL.len());
        assert!(!names.contains("require-lock-timeout"));
    }

    /// docs/lint.md's table of the rules, as the rules say it.
    fn rules_table() -> String {
        let mut t = String::from(
            "| rule | catches | lock, and what it blocks | the safe way |\n| --- | --- | --- | --- |\n",
        );
        for r in rules::ALL {
            t.push_str(&format!(
                "| `{}` | {} | {}; blocks {} | {} |\n",
                r.name, r.catches, r.lock, r.blocks, r.advice
            ));
        }
        t
    }

    #[test]
    fn docs_list_every_rule() {
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/lint.md"))
            .unwrap_or_default();
        let table = rules_table();
        assert!(
            docs.contains(&table),
            "docs/lint.md should hold this table:\n{table}"
        );
    }

    #[test]
    fn versions_shown() {
        assert_eq!(version_shown(170002), "17");
        assert_eq!(version_shown(90624), "9.6");
    }
}
