//! What a database lacks of its declared schema: the changes that add it, in the order they
//! can run, those refused before trying, and the differences on objects it already has
//! (warnings). Additive only: nothing here ever drops or alters what is there. Pure.

use std::collections::BTreeSet;

use super::lex::{self, Kind};
use super::model::{Index, Live, LiveColumn, Model, Table, quoted, shown};
use super::other_objects::{comments, others};
use super::recognize::{Name, OtherKind};
use crate::source::Dialect;

/// One change to make (or refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Its tracking row's name: `schema.sql#column:users.last_login`.
    pub record: String,
    /// What it does, for logs and the row's description: `add column users.last_login`.
    pub what: String,
    pub sql: String,
    /// False for `CREATE INDEX CONCURRENTLY` (PostgreSQL refuses it in a transaction).
    pub transactional: bool,
    /// Why it is not tried: recorded as failed as it is.
    pub refused: Option<String>,
}

impl Change {
    /// What the backend runs.
    pub fn body(&self) -> crate::source::Body {
        crate::source::Body {
            sql: self.sql.clone(),
            no_transaction: !self.transactional,
            whole: Vec::new(),
            one_by_one: false,
        }
    }
}

/// The name of a declared change's tracking row: the file, the kind, the object
/// (`schema.sql#column:users.last_login`).
pub(super) fn record(file: &str, kind: &str, object: &str) -> String {
    format!("{file}#{kind}:{object}")
}

/// How an object that is there differs from its declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The declared file.
    pub file: String,
    /// The object: `column users.email`, `index users_email`, `constraint users.c`.
    pub object: String,
    /// What differs, for the log.
    pub text: String,
    /// The table it is on (a column, an index or a constraint of it).
    pub table: Option<Name>,
}

impl Difference {
    /// The tracking row that holds it as a failure under `--schema-strict`:
    /// `schema.sql#difference:column users.email`.
    pub fn record(&self) -> String {
        record(&self.file, "difference", &self.object)
    }
}

/// What comparing a declared schema with a live one found.
#[derive(Debug, Clone, Default)]
pub struct Diff {
    pub changes: Vec<Change>,
    /// Differences on objects that are there (warnings; failures with `--schema-strict`).
    pub differences: Vec<Difference>,
    /// Likely renames: a declared column missing where an undeclared one of its type is
    /// (warnings: the column is still added).
    pub renames: Vec<String>,
}

/// The existing tables whose emptiness decides a change (a column's refusal, an index built
/// concurrently): the backend is asked about these only.
pub fn tables_to_count(model: &Model, live: &Live) -> Vec<Name> {
    model
        .tables
        .iter()
        .filter(|t| live.tables.contains_key(&t.name))
        .filter(|t| {
            t.columns
                .iter()
                .any(|c| !has_column(&live.tables[&t.name], &c.name))
                || t.indexes
                    .iter()
                    .any(|i| !live.indexes.contains_key(&i.name))
        })
        .map(|t| t.name.clone())
        .collect()
}

fn has_column(cols: &[LiveColumn], name: &str) -> bool {
    cols.iter().any(|c| c.name == name)
}

/// The changes that give `live` what `model` declares. `with_rows`: the tables of
/// `tables_to_count` that hold rows. `normalised`: the declared tables and indexes as the
/// database itself describes them (for the differences), when it could be had. `failed`: the
/// records of declared changes whose last attempt failed (such a change is tried again until
/// it is made, even where a new one would not be made: a foreign key of a table that was
/// created while the table it references failed).
pub fn diff(
    model: &Model,
    live: &Live,
    with_rows: &BTreeSet<Name>,
    normalised: Option<&Live>,
    failed: &BTreeSet<String>,
    dialect: Dialect,
) -> Diff {
    let mut d = Diff::default();
    for o in &model.schemas {
        if !live.schemas.contains(&o.name.name) && o.name.name != "public" {
            d.changes.push(plain(
                record(&o.file, "schema", &o.name.name),
                format!("create schema {}", o.name.name),
                &o.sql,
            ));
        }
    }
    for o in &model.extensions {
        if !live.extensions.contains(&o.name.name) {
            d.changes.push(plain(
                record(&o.file, "extension", &o.name.name),
                format!("create extension {}", o.name.name),
                &o.sql,
            ));
        }
    }
    for o in &model.types {
        if !live.types.contains(&o.name) {
            let n = shown(&o.name, dialect);
            d.changes.push(plain(
                record(&o.file, "type", &n),
                format!("create type {n}"),
                &o.sql,
            ));
        }
    }
    for o in &model.sequences {
        if !live.relations.contains_key(&o.name) {
            let n = shown(&o.name, dialect);
            d.changes.push(plain(
                record(&o.file, "sequence", &n),
                format!("create sequence {n}"),
                &o.sql,
            ));
        }
    }
    functions(&mut d, model, live, normalised, dialect);
    // Aggregates on the functions, before the views that may use them.
    others(
        &mut d,
        model,
        live,
        normalised,
        OtherKind::Aggregate,
        dialect,
    );
    for (o, module) in &model.virtual_tables {
        if !live.relations.contains_key(&o.name) {
            let n = shown(&o.name, dialect);
            d.changes.push(plain(
                record(&o.file, "table", &n),
                format!("create virtual table {n} ({module})"),
                &o.sql,
            ));
        }
    }
    let mut foreign = Vec::new();
    for t in &model.tables {
        let n = shown(&t.name, dialect);
        match live.tables.get(&t.name) {
            None => {
                if let Some(kind) = live.relations.get(&t.name) {
                    d.changes.push(refused(
                        record(&t.file, "table", &n),
                        format!("create table {n}"),
                        &t.create,
                        format!(
                            "cannot create table {n}: the name is taken by a {}",
                            relkind(*kind)
                        ),
                    ));
                    continue;
                }
                d.changes
                    .push(new_table(t, live, &n, record(&t.file, "table", &n)));
                foreign.extend(attaches(t, live, &n, dialect));
                for (i, (name, sql)) in t.foreign.iter().enumerate() {
                    let c = name.clone().unwrap_or_else(|| format!("foreign{}", i + 1));
                    foreign.push(plain(
                        record(&t.file, "constraint", &format!("{n}.{c}")),
                        format!("add constraint {c} to {n}"),
                        sql,
                    ));
                }
            }
            Some(cols) => {
                let retried = retried_foreign(t, live, failed, &n);
                existing_table(
                    &mut d,
                    t,
                    cols,
                    live,
                    with_rows.contains(&t.name),
                    normalised,
                    &retried,
                    dialect,
                );
                foreign.extend(retried);
                foreign.extend(attaches(t, live, &n, dialect));
            }
        }
    }
    d.changes.extend(foreign);
    views_and_triggers(&mut d, model, live, normalised, dialect);
    for kind in [
        OtherKind::Statistics,
        OtherKind::Rule,
        OtherKind::Publication,
    ] {
        others(&mut d, model, live, normalised, kind, dialect);
    }
    comments(&mut d, model, normalised, false);
    // Last: an event trigger fires on the DDL made after it.
    others(
        &mut d,
        model,
        live,
        normalised,
        OtherKind::EventTrigger,
        dialect,
    );
    comments(&mut d, model, normalised, true);
    d
}

/// Each declared view (in the order declared: one may use another) and trigger that is not
/// there, after every table. One that is there is never replaced.
fn views_and_triggers(
    d: &mut Diff,
    model: &Model,
    live: &Live,
    normalised: Option<&Live>,
    dialect: Dialect,
) {
    for view in &model.views {
        let (v, materialized) = (&view.object, &view.materialized);
        let n = shown(&v.name, dialect);
        let kind = if *materialized {
            "materialized view"
        } else {
            "view"
        };
        let what = format!("create {kind} {n}");
        let record = record(&v.file, "view", &n);
        match live.relations.get(&v.name) {
            Some('v' | 'm') => {
                let want = normalised.and_then(|p| p.view_queries.get(&v.name));
                if let (Some(want), Some(have)) = (want, live.view_queries.get(&v.name))
                    && want != have
                {
                    d.differences.push(Difference {
                        file: v.file.clone(),
                        table: None,
                        object: format!("{kind} {n}"),
                        text: format!(
                            "{kind} {n} differs from its declaration (its query): not replaced (write a migration: {})",
                            if *materialized {
                                "DROP MATERIALIZED VIEW, then CREATE MATERIALIZED VIEW"
                            } else {
                                "CREATE OR REPLACE VIEW"
                            }
                        ),
                    });
                }
            }
            Some(k) => d.changes.push(refused(
                record,
                what,
                &v.sql,
                format!(
                    "cannot create {kind} {n}: the name is taken by a {}",
                    relkind(*k)
                ),
            )),
            None => d.changes.push(plain(record, what, &v.sql)),
        }
    }
    for (kind, objects, there, defs) in [
        (
            "trigger",
            &model.triggers,
            &live.triggers,
            normalised.map(|p| (&p.trigger_defs, &live.trigger_defs)),
        ),
        (
            "policy",
            &model.policies,
            &live.policies,
            normalised.map(|p| (&p.policy_defs, &live.policy_defs)),
        ),
    ] {
        for t in objects {
            let table = shown(&t.table, dialect);
            let key = (t.table.clone(), t.name.clone());
            if there.contains(&key) {
                // There: never replaced, but a definition that differs is said.
                if let Some((want, have)) = defs
                    && let (Some(want), Some(have)) = (want.get(&key), have.get(&key))
                    && want != have
                {
                    let object = format!("{kind} {} on {table}", t.name);
                    d.differences.push(Difference {
                        file: t.file.clone(),
                        text: format!(
                            "{object} differs from its declaration: {have} (declared {want}); not replaced (write a migration)"
                        ),
                        object,
                        table: None,
                    });
                }
                continue;
            }
            d.changes.push(plain(
                record(&t.file, kind, &format!("{table}.{}", t.name)),
                format!("create {kind} {} on {table}", t.name),
                &t.sql,
            ));
        }
    }
    // A partitioned index's partitions, once every index is made.
    for (file, index, partition, sql) in &model.index_attaches {
        if live.partition_of.get(partition) != Some(index) {
            let (i, p) = (shown(index, dialect), shown(partition, dialect));
            d.changes.push(plain(
                record(file, "partition", &format!("{i}.{p}")),
                format!("attach index {p} to {i}"),
                sql,
            ));
        }
    }
    // Row level security declared on a table that is there without it (a new table gets it
    // with its creation).
    for t in model
        .tables
        .iter()
        .filter(|t| live.tables.contains_key(&t.name))
    {
        let have = live.row_security.get(&t.name);
        for (force, sql) in &t.row_security {
            let missing = match have {
                None => true,
                Some(forced) => *force && !forced,
            };
            if missing {
                let n = shown(&t.name, dialect);
                let what = if *force { "force" } else { "enable" };
                d.changes.push(plain(
                    record(&t.file, "rls", &format!("{n}.{what}")),
                    format!("{what} row level security on {n}"),
                    sql,
                ));
            }
        }
    }
}

/// Each declared function that is not there (by its name and its arguments' types, as the
/// probe had the server read them; by its name alone when the probe could not make it):
/// made with `check_function_bodies` off, as pg_dump does (a body may use a table made later).
/// One that is there is never replaced.
fn functions(
    d: &mut Diff,
    model: &Model,
    live: &Live,
    normalised: Option<&Live>,
    dialect: Dialect,
) {
    for (i, f) in model.functions.iter().enumerate() {
        let have = live.functions.get(&f.name);
        let probed = normalised.and_then(|p| p.function_identities.get(i).cloned().flatten());
        let (args, body) = match probed {
            Some((args, body)) => (Some(args), Some(body)),
            None => (None, None),
        };
        let present = match (&args, have) {
            (Some(args), Some(have)) => have.contains(args),
            (None, Some(_)) => true,
            (_, None) => false,
        };
        let n = shown(&f.name, dialect);
        if present {
            // There: never replaced, but a definition that differs is said.
            if let (Some(args), Some(want)) = (&args, &body)
                && let Some(have) = live.function_bodies.get(&(f.name.clone(), args.clone()))
                && have != want
            {
                d.differences.push(Difference {
                    file: f.file.clone(),
                    table: None,
                    object: format!("function {n}({args})"),
                    text: format!(
                        "function {n}({args}) differs from its declaration (its result, language, attributes or body): not replaced (write a migration: CREATE OR REPLACE FUNCTION)"
                    ),
                });
            }
            continue;
        }
        let object = match &args {
            Some(args) => format!("{n}({args})"),
            None => n,
        };
        d.changes.push(plain(
            record(&f.file, "function", &object),
            format!("create function {object}"),
            &format!("SET LOCAL check_function_bodies = off;\n{}", f.sql),
        ));
    }
}

/// A table's declared partitions that are not attached to it yet: attached after every new
/// table exists (pg_dump writes each partition as a table of its own, then attaches it).
fn attaches(t: &Table, live: &Live, n: &str, dialect: Dialect) -> Vec<Change> {
    t.attaches
        .iter()
        .filter(|(p, _)| live.partition_of.get(p) != Some(&t.name))
        .map(|(p, sql)| {
            let p = shown(p, dialect);
            plain(
                record(&t.file, "partition", &format!("{n}.{p}")),
                format!("attach partition {p} to {n}"),
                sql,
            )
        })
        .collect()
}

/// The foreign keys of an existing table whose adding failed before and that are still not
/// there: tried again (the table was created by a run in which they failed).
fn retried_foreign(t: &Table, live: &Live, failed: &BTreeSet<String>, n: &str) -> Vec<Change> {
    t.foreign
        .iter()
        .enumerate()
        .filter(|(_, (name, _))| {
            name.as_ref()
                .is_none_or(|c| !live.constraints.contains(&(t.name.clone(), c.clone())))
        })
        .map(|(i, (name, sql))| {
            let c = name.clone().unwrap_or_else(|| format!("foreign{}", i + 1));
            plain(
                record(&t.file, "constraint", &format!("{n}.{c}")),
                format!("add constraint {c} to {n}"),
                sql,
            )
        })
        .filter(|c| failed.contains(&c.record))
        .collect()
}

/// A change that runs its declared statement as it is.
pub(super) fn plain(record: String, what: String, sql: &str) -> Change {
    Change {
        record,
        what,
        sql: sql.to_string(),
        transactional: true,
        refused: None,
    }
}

fn refused(record: String, what: String, sql: &str, why: String) -> Change {
    Change {
        refused: Some(why),
        ..plain(record, what, sql)
    }
}

fn relkind(k: char) -> &'static str {
    match k {
        'r' | 'p' => "table",
        'i' | 'I' => "index",
        'S' => "sequence",
        'v' => "view",
        'm' => "materialized view",
        'f' => "foreign table",
        _ => "relation",
    }
}

/// A missing table: its `CREATE TABLE`, the statements that belong to it, its indexes (those
/// whose names are free), in one transaction.
fn new_table(t: &Table, live: &Live, n: &str, record: String) -> Change {
    let mut sql = vec![t.create.clone()];
    sql.extend(t.extras.iter().cloned());
    sql.extend(t.row_security.iter().map(|(_, s)| s.clone()));
    sql.extend(
        t.indexes
            .iter()
            .filter(|i| !live.relations.contains_key(&i.name))
            .map(|i| i.sql.clone()),
    );
    Change {
        record,
        what: format!("create table {n}"),
        sql: sql.join(";\n") + ";",
        transactional: true,
        refused: None,
    }
}

/// What an existing table lacks: columns, then indexes; and how it differs (`retried`: its
/// foreign keys tried again, not differences).
#[allow(clippy::too_many_arguments)]
fn existing_table(
    d: &mut Diff,
    t: &Table,
    cols: &[LiveColumn],
    live: &Live,
    has_rows: bool,
    normalised: Option<&Live>,
    retried: &[Change],
    dialect: Dialect,
) {
    let n = shown(&t.name, dialect);
    let record = |kind: &str, object: &str| record(&t.file, kind, &format!("{n}.{object}"));
    let missing: Vec<_> = t
        .columns
        .iter()
        .filter(|c| !has_column(cols, &c.name))
        .collect();
    for c in &missing {
        // pg_dump sets a serial's default separately: it goes into the ADD COLUMN, or a
        // NOT NULL column could never be added to a table with rows.
        let mut text = c.text.clone();
        let flags = Flags::of(&text);
        if let (false, Some(expr)) = (flags.default, t.defaults.get(&c.name)) {
            text = format!("{text} DEFAULT {expr}");
        }
        let sql = format!("ALTER TABLE {} ADD COLUMN {text}", quoted(&t.name));
        let what = format!("add column {n}.{}", c.name);
        let why = match dialect {
            Dialect::Postgres => Flags::of(&text).refused_by_postgres(has_rows),
            Dialect::Sqlite => Flags::of(&text).refused_by_sqlite(has_rows),
        };
        d.changes.push(Change {
            record: record("column", &c.name),
            what,
            sql,
            transactional: true,
            refused: why,
        });
    }
    for ix in &t.indexes {
        if let Some(c) = index_change(
            ix,
            live,
            has_rows,
            &n,
            &record("index", &ix.name.name),
            dialect,
        ) {
            d.changes.push(c);
        }
    }
    differences(
        d,
        t,
        cols,
        live,
        normalised,
        &missing.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        retried,
        dialect,
    );
}

/// A declared index on an existing table: nothing when it is there and valid, else its
/// creation (concurrently on a PostgreSQL table with rows) or its refusal.
fn index_change(
    ix: &Index,
    live: &Live,
    has_rows: bool,
    table: &str,
    record: &str,
    dialect: Dialect,
) -> Option<Change> {
    let name = shown(&ix.name, dialect);
    let what = format!("create index {name} on {table}");
    let taken = |why: String| Some(refused(record.into(), what.clone(), &ix.sql, why));
    match (live.indexes.get(&ix.name), live.relations.get(&ix.name)) {
        (Some(l), _) if l.table != ix.table => taken(format!(
            "cannot create index {name}: the name is used by an index on {}",
            shown(&l.table, dialect)
        )),
        (Some(l), _) if !l.valid => taken(format!(
            "index {name} is INVALID (a concurrent build failed, or is still running elsewhere): \
             it is not used by queries; drop it with DROP INDEX CONCURRENTLY {}; and it is built again on the next start",
            quoted(&ix.name)
        )),
        (Some(_), _) => None,
        (None, Some(kind)) => taken(format!(
            "cannot create index {name}: the name is taken by a {}",
            relkind(*kind)
        )),
        (None, None) => {
            let concurrent = dialect == Dialect::Postgres && has_rows;
            let sql = match (concurrent, ix.concurrently_at) {
                (true, Some(at)) => format!("{} CONCURRENTLY{}", &ix.sql[..at], &ix.sql[at..]),
                _ => ix.sql.clone(),
            };
            let concurrent = concurrent || ix.concurrently_at.is_none();
            Some(Change {
                record: record.into(),
                what: if concurrent {
                    format!("{what} (concurrently)")
                } else {
                    what
                },
                sql,
                transactional: !(concurrent && dialect == Dialect::Postgres),
                refused: None,
            })
        }
    }
}

/// Differences between an existing table and its declaration: warnings, never changes.
#[allow(clippy::too_many_arguments)]
fn differences(
    d: &mut Diff,
    t: &Table,
    cols: &[LiveColumn],
    live: &Live,
    normalised: Option<&Live>,
    missing: &[&str],
    retried: &[Change],
    dialect: Dialect,
) {
    let n = shown(&t.name, dialect);
    let declared = normalised.and_then(|p| p.tables.get(&t.name));
    if let Some(declared) = declared {
        for want in declared {
            let Some(have) = cols.iter().find(|c| c.name == want.name) else {
                continue;
            };
            let mut what = Vec::new();
            if !want.data_type.eq_ignore_ascii_case(&have.data_type) {
                what.push(format!(
                    "type {} (declared {})",
                    have.data_type, want.data_type
                ));
            }
            if want.not_null != have.not_null {
                what.push(if have.not_null {
                    "NOT NULL (declared nullable)".into()
                } else {
                    "nullable (declared NOT NULL)".into()
                });
            }
            if comparable_default(&want.default) != comparable_default(&have.default) {
                what.push(format!(
                    "default {} (declared {})",
                    have.default.as_deref().unwrap_or("none"),
                    want.default.as_deref().unwrap_or("none")
                ));
            }
            if !what.is_empty() {
                d.differences.push(Difference {
                    file: t.file.clone(),
                    table: Some(t.name.clone()),
                    object: format!("column {n}.{}", want.name),
                    text: format!(
                        "column {n}.{} differs: {}; not changed (write a migration)",
                        want.name,
                        what.join(", ")
                    ),
                });
            }
        }
        // A likely rename: one declared column missing, one live column undeclared, same type.
        let undeclared: Vec<_> = cols
            .iter()
            .filter(|c| !t.columns.iter().any(|d| d.name == c.name))
            .collect();
        if let ([gone], [old]) = (missing, undeclared.as_slice()) {
            let same_type = declared
                .iter()
                .find(|c| c.name == *gone)
                .is_some_and(|c| c.data_type.eq_ignore_ascii_case(&old.data_type));
            if same_type {
                d.renames.push(format!(
                    "column {n}.{gone} looks like a rename of {n}.{}: {gone} is added empty; for a rename, write a versioned migration (ALTER TABLE ... RENAME COLUMN)",
                    old.name
                ));
            }
        }
    }
    if let Some(p) = normalised {
        for ix in &t.indexes {
            let (Some(want), Some(have)) = (p.indexes.get(&ix.name), live.indexes.get(&ix.name))
            else {
                continue;
            };
            if have.table == ix.table && have.valid && want.definition != have.definition {
                d.differences.push(Difference {
                    file: t.file.clone(),
                    table: Some(t.name.clone()),
                    object: format!("index {}", shown(&ix.name, dialect)),
                    text: format!(
                        "index {} differs: {} (declared {}); not changed (write a migration)",
                        shown(&ix.name, dialect),
                        have.definition,
                        want.definition
                    ),
                });
            }
        }
    }
    if dialect == Dialect::Postgres {
        for c in &t.constraint_names {
            let retrying = retried
                .iter()
                .any(|r| r.record.ends_with(&format!("#constraint:{n}.{c}")));
            if !retrying && !live.constraints.contains(&(t.name.clone(), c.clone())) {
                d.differences.push(Difference {
                    file: t.file.clone(),
                    table: Some(t.name.clone()),
                    object: format!("constraint {n}.{c}"),
                    text: format!("constraint {c} on {n} is declared but not there: not added to an existing table (write a migration)"),
                });
            }
        }
    }
}

/// A default as compared: a sequence's `nextval` is the same whichever sequence it names (a
/// probe's temporary table has its own).
fn comparable_default(d: &Option<String>) -> Option<String> {
    d.as_ref().map(|d| {
        if d.starts_with("nextval(") {
            "nextval".into()
        } else {
            d.clone()
        }
    })
}

/// What a column definition says, as far as adding it is concerned.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Flags {
    not_null: bool,
    primary_key: bool,
    unique: bool,
    default: bool,
    /// DEFAULT NULL, or no default.
    default_null: bool,
    /// A default that is an expression, not a constant.
    default_expression: bool,
    generated: bool,
    stored: bool,
    references: bool,
    serial: bool,
}

impl Flags {
    fn of(text: &str) -> Flags {
        let t = lex::tokens(text);
        let mut f = Flags {
            serial: t.get(1).is_some_and(|x| {
                [
                    "serial",
                    "bigserial",
                    "smallserial",
                    "serial4",
                    "serial8",
                    "serial2",
                ]
                .iter()
                .any(|s| x.is(text, s))
            }),
            ..Flags::default()
        };
        let mut depth = 0usize;
        for (k, x) in t.iter().enumerate() {
            match x.kind {
                Kind::Punct(b'(') => depth += 1,
                Kind::Punct(b')') => depth = depth.saturating_sub(1),
                _ if depth > 0 || k == 0 => {}
                Kind::Word => {
                    let next = t.get(k + 1);
                    let w = x.text(text).to_ascii_uppercase();
                    match w.as_str() {
                        "NOT" if next.is_some_and(|n| n.is(text, "NULL")) => f.not_null = true,
                        "PRIMARY" => f.primary_key = true,
                        "UNIQUE" => f.unique = true,
                        "GENERATED" => f.generated = true,
                        "STORED" => f.stored = true,
                        "REFERENCES" => f.references = true,
                        "DEFAULT" => {
                            f.default = true;
                            f.default_null = next.is_some_and(|n| n.is(text, "NULL"));
                            f.default_expression = next.is_some_and(|n| {
                                n.kind == Kind::Punct(b'(')
                                    || ["CURRENT_TIME", "CURRENT_DATE", "CURRENT_TIMESTAMP"]
                                        .iter()
                                        .any(|c| n.is(text, c))
                                    || (n.kind == Kind::Word
                                        && t.get(k + 2)
                                            .is_some_and(|p| p.kind == Kind::Punct(b'(')))
                            });
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        f
    }

    /// PostgreSQL fills a new column with its default: NOT NULL without one fails on rows.
    fn refused_by_postgres(self, has_rows: bool) -> Option<String> {
        let fills = (self.default && !self.default_null) || self.generated || self.serial;
        ((self.not_null || self.primary_key) && !fills && has_rows).then(|| {
            "NOT NULL without a default on a table with rows (give it a DEFAULT, or add it nullable and fill it in a migration)".into()
        })
    }

    /// SQLite's `ADD COLUMN` restrictions, some only on a table with rows.
    fn refused_by_sqlite(self, has_rows: bool) -> Option<String> {
        if self.primary_key || self.unique {
            return Some(
                "SQLite cannot add a PRIMARY KEY or UNIQUE column (create a unique index instead)"
                    .into(),
            );
        }
        if !has_rows {
            return None;
        }
        let why = if self.not_null && (!self.default || self.default_null) {
            "NOT NULL without a default on a table with rows"
        } else if self.default_expression {
            "SQLite cannot add a column whose default is not a constant to a table with rows"
        } else if self.references && self.default && !self.default_null {
            "SQLite cannot add a REFERENCES column with a non-NULL default to a table with rows"
        } else if self.generated && self.stored {
            "SQLite cannot add a STORED generated column to a table with rows"
        } else {
            return None;
        };
        Some(why.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::SchemaFile;
    use crate::schema::model::LiveIndex;

    fn model(sql: &str, dialect: Dialect) -> Model {
        let f = SchemaFile {
            label: "schema.sql".into(),
            dialect: None,
            text: sql.into(),
        };
        Model::build(&[&f], dialect)
    }

    fn name(s: &str, n: &str) -> Name {
        Name {
            schema: Some(s.into()),
            name: n.into(),
        }
    }

    fn col(n: &str) -> LiveColumn {
        LiveColumn {
            name: n.into(),
            data_type: "integer".into(),
            not_null: false,
            default: None,
            primary_key: false,
            generated: None,
        }
    }

    fn records(d: &Diff) -> Vec<(&str, Option<&str>)> {
        d.changes
            .iter()
            .map(|c| (c.record.as_str(), c.refused.as_deref()))
            .collect()
    }

    #[test]
    fn an_empty_database_gets_everything_in_order() {
        let m = model(
            "CREATE TABLE posts (id int, user_id int);\nALTER TABLE posts ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users(id);\n\
             CREATE SCHEMA app; CREATE TABLE users (id int PRIMARY KEY); CREATE INDEX posts_user ON posts (user_id);\
             CREATE EXTENSION citext; CREATE TYPE mood AS ENUM ('a');",
            Dialect::Postgres,
        );
        let d = diff(
            &m,
            &Live::default(),
            &BTreeSet::new(),
            None,
            &BTreeSet::new(),
            Dialect::Postgres,
        );
        let r: Vec<&str> = d.changes.iter().map(|c| c.record.as_str()).collect();
        assert_eq!(
            r,
            [
                "schema.sql#schema:app",
                "schema.sql#extension:citext",
                "schema.sql#type:mood",
                "schema.sql#table:posts",
                "schema.sql#table:users",
                "schema.sql#constraint:posts.fk",
            ]
        );
        assert!(d.changes[3].sql.contains("CREATE INDEX posts_user"));
        assert!(d.changes.iter().all(|c| c.transactional));
    }

    #[test]
    fn columns_and_indexes_of_an_existing_table() {
        let m = model(
            "CREATE TABLE users (id int, email text NOT NULL, age int NOT NULL DEFAULT 0, code text UNIQUE);\n\
             CREATE INDEX users_email ON users (email);",
            Dialect::Postgres,
        );
        let mut live = Live::default();
        live.tables.insert(name("public", "users"), vec![col("id")]);
        live.relations.insert(name("public", "users"), 'r');
        let empty = diff(
            &m,
            &live,
            &BTreeSet::new(),
            None,
            &BTreeSet::new(),
            Dialect::Postgres,
        );
        assert_eq!(
            records(&empty),
            [
                ("schema.sql#column:users.email", None),
                ("schema.sql#column:users.age", None),
                ("schema.sql#column:users.code", None),
                ("schema.sql#index:users.users_email", None),
            ]
        );
        assert_eq!(
            empty.changes[0].sql,
            "ALTER TABLE \"public\".\"users\" ADD COLUMN email text NOT NULL"
        );
        let rows: BTreeSet<Name> = [name("public", "users")].into();
        let full = diff(&m, &live, &rows, None, &BTreeSet::new(), Dialect::Postgres);
        assert!(
            full.changes[0]
                .refused
                .as_deref()
                .unwrap()
                .contains("NOT NULL without a default")
        );
        assert_eq!(full.changes[1].refused, None);
        let ix = &full.changes[3];
        assert_eq!(
            ix.sql,
            "CREATE INDEX CONCURRENTLY users_email ON users (email)"
        );
        assert!(!ix.transactional);
        // SQLite: UNIQUE is always refused; NOT NULL without default only with rows.
        let s = model(
            "CREATE TABLE users (id int, email text NOT NULL, code text UNIQUE, at text DEFAULT CURRENT_TIMESTAMP);",
            Dialect::Sqlite,
        );
        let mut live = Live::default();
        live.tables.insert(name("main", "users"), vec![col("id")]);
        let empty = diff(
            &s,
            &live,
            &BTreeSet::new(),
            None,
            &BTreeSet::new(),
            Dialect::Sqlite,
        );
        let refused: Vec<bool> = empty.changes.iter().map(|c| c.refused.is_some()).collect();
        assert_eq!(refused, [false, true, false]);
        let rows: BTreeSet<Name> = [name("main", "users")].into();
        let full = diff(&s, &live, &rows, None, &BTreeSet::new(), Dialect::Sqlite);
        let refused: Vec<bool> = full.changes.iter().map(|c| c.refused.is_some()).collect();
        assert_eq!(refused, [true, true, true]);
    }

    #[test]
    fn index_names_taken_and_invalid_leftovers_are_refused() {
        let m = model(
            "CREATE TABLE t (x int); CREATE INDEX a ON t (x); CREATE INDEX b ON t (x); CREATE INDEX c ON t (x); CREATE INDEX d ON t (x);",
            Dialect::Postgres,
        );
        let mut live = Live::default();
        live.tables.insert(name("public", "t"), vec![col("x")]);
        let def = |table: &str, valid| LiveIndex {
            table: name("public", table),
            valid,
            definition: "USING btree (x)".into(),
            sql: String::new(),
            constraint: false,
        };
        live.indexes.insert(name("public", "a"), def("other", true));
        live.indexes.insert(name("public", "b"), def("t", false));
        live.indexes.insert(name("public", "c"), def("t", true));
        live.relations.insert(name("public", "d"), 'S');
        let d = diff(
            &m,
            &live,
            &BTreeSet::new(),
            None,
            &BTreeSet::new(),
            Dialect::Postgres,
        );
        let why: Vec<&str> = d
            .changes
            .iter()
            .map(|c| c.refused.as_deref().unwrap())
            .collect();
        assert_eq!(why.len(), 3);
        assert!(why[0].contains("used by an index on other"));
        assert!(
            why[1].contains("INVALID")
                && why[1].contains("DROP INDEX CONCURRENTLY \"public\".\"b\"")
        );
        assert!(why[2].contains("taken by a sequence"));
    }

    #[test]
    fn differences_and_renames_are_warnings() {
        let m = model(
            "CREATE TABLE t (id int, full_name text, email varchar(100) NOT NULL);",
            Dialect::Postgres,
        );
        let t = name("public", "t");
        let mut live = Live::default();
        let lc = |n: &str, ty: &str, nn: bool| LiveColumn {
            name: n.into(),
            data_type: ty.into(),
            not_null: nn,
            default: None,
            primary_key: false,
            generated: None,
        };
        live.tables.insert(
            t.clone(),
            vec![
                lc("id", "integer", false),
                lc("name", "text", false),
                lc("email", "character varying(255)", true),
            ],
        );
        let mut probe = Live::default();
        probe.tables.insert(
            t.clone(),
            vec![
                lc("id", "integer", false),
                lc("full_name", "text", false),
                lc("email", "character varying(100)", true),
            ],
        );
        let d = diff(
            &m,
            &live,
            &BTreeSet::new(),
            Some(&probe),
            &BTreeSet::new(),
            Dialect::Postgres,
        );
        assert_eq!(records(&d), [("schema.sql#column:t.full_name", None)]);
        assert_eq!(d.differences.len(), 1, "{:?}", d.differences);
        assert!(
            d.differences[0]
                .text
                .contains("character varying(255) (declared character varying(100))")
        );
        assert!(d.renames[0].contains("looks like a rename of t.name"));
        // The same schema as declared: nothing at all.
        let d = diff(
            &m,
            &probe,
            &BTreeSet::new(),
            Some(&probe),
            &BTreeSet::new(),
            Dialect::Postgres,
        );
        assert!(d.changes.is_empty() && d.differences.is_empty() && d.renames.is_empty());
    }
}
