//! The lint's edges: the due PostgreSQL migrations read for it, and its findings logged.

use std::collections::HashMap;

use crate::lint::{self, File, LintPolicy, Report};
use crate::source::{Body, Migration, Variant};

/// One migration file read for the lint.
struct Read {
    path: String,
    body: Body,
    first_line: usize,
    in_transaction: bool,
    allow: Vec<String>,
}

/// The SQL migrations among `due` (in order), read now; scripts and files that cannot be read
/// are left out (running them reports why).
fn read<'a>(due: impl Iterator<Item = (&'a Migration, &'a Variant)>) -> Vec<(String, Read)> {
    due.filter_map(|(m, v)| {
        let content = v.content.as_ref().ok()?;
        if content.script.is_some() || v.why_unusable().is_some() {
            return None;
        }
        let (body, first_line) = v.body_from_line().ok()?;
        Some((
            m.name.clone(),
            Read {
                path: v.path.display().to_string(),
                in_transaction: !(body.no_transaction || content.no_transaction()),
                body,
                first_line,
                allow: content.layout.allow.clone(),
            },
        ))
    })
    .collect()
}

/// The lint of these migrations, run in this order on a server of `version`, with each
/// finding's migration name (by file). `ask` gives the database's types of the columns whose
/// type they change (asked only when some do).
pub fn run<'a>(
    due: impl Iterator<Item = (&'a Migration, &'a Variant)>,
    version: u32,
    ask: impl FnOnce(&[(String, String)]) -> HashMap<(String, String), String>,
) -> (Report, HashMap<String, String>) {
    let read = read(due);
    let files: Vec<File<'_>> = read
        .iter()
        .map(|(_, r)| File {
            path: r.path.clone(),
            sql: &r.body.sql,
            whole: &r.body.whole,
            first_line: r.first_line,
            in_transaction: r.in_transaction,
            allow: &r.allow,
        })
        .collect();
    let changes = lint::type_changes(&files);
    let mut server = lint::Server::of(version);
    if !changes.is_empty() {
        server.column_types = ask(&changes);
    }
    let report = lint::lint(&files, &server);
    let names = read.into_iter().map(|(name, r)| (r.path, name)).collect();
    (report, names)
}

/// Logs the findings (allowed ones at info, with their reason) and returns, for `refuse`,
/// each migration that must not run with why.
pub fn log(
    report: &Report,
    names: &HashMap<String, String>,
    database: &str,
    policy: LintPolicy,
) -> HashMap<String, String> {
    let mut refused: HashMap<String, String> = HashMap::new();
    for (file, e) in &report.problems {
        tracing::warn!(database, file, "{file}: {e}");
    }
    for f in &report.findings {
        let migration = names.get(&f.file).map_or("", String::as_str);
        if let Some(why) = f.allowed_because() {
            tracing::info!(
                database,
                migration,
                rule = f.rule,
                file = f.file,
                line = f.line,
                reason = why,
                "{}:{}: {} allowed by `-- migrate:allow`: {why}",
                f.file,
                f.line,
                f.rule
            );
            continue;
        }
        tracing::warn!(
            database,
            migration,
            rule = f.rule,
            file = f.file,
            line = f.line,
            statement = f.statement,
            lock = f.lock,
            blocks = f.blocks,
            advice = f.advice,
            "{f}"
        );
        if policy == LintPolicy::Refuse {
            let why = format!(
                "refused by --lint refuse: {} at {}:{} (allow it with `-- migrate:allow {}` and a reason)",
                f.rule, f.file, f.line, f.rule
            );
            refused.entry(migration.to_string()).or_insert(why);
        }
    }
    refused
}
