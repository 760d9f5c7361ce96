//! The declared schema as objects (what the files create, each with the statements that belong
//! to it), and the live schema as a backend reads it. Pure.

use std::collections::{BTreeMap, BTreeSet};

use super::SchemaFile;
use super::recognize::{Alter, ColumnDef, Name, OtherKind, What, recognize, string_value};
use crate::source::{Dialect, statements};

/// A declared schema, extension, type or sequence.
#[derive(Debug, Clone)]
pub struct Object {
    pub name: Name,
    pub file: String,
    pub sql: String,
}

/// A declared function or procedure.
#[derive(Debug, Clone)]
pub struct Function {
    pub name: Name,
    pub file: String,
    pub sql: String,
    /// Where its name is in `sql`.
    pub name_span: (usize, usize),
}

/// A declared view.
#[derive(Debug, Clone)]
pub struct View {
    pub object: Object,
    pub materialized: bool,
    /// Where its name is in its statement.
    pub name_span: (usize, usize),
}

/// A declared trigger or policy: an object known by its table and its name.
#[derive(Debug, Clone)]
pub struct Trigger {
    pub name: String,
    pub table: Name,
    pub file: String,
    pub sql: String,
}

/// A declared object known by its kind and name alone (event trigger, publication, statistics
/// object, aggregate, rule).
#[derive(Debug, Clone)]
pub struct Other {
    pub kind: OtherKind,
    pub name: Name,
    pub file: String,
    pub sql: String,
}

/// A declared `COMMENT ON`.
#[derive(Debug, Clone)]
pub struct Comment {
    /// What it is on, as written (`TABLE auth.users`).
    pub target: String,
    /// The comment (`None`: its value is not one string literal, so it is set when missing but
    /// never compared).
    pub value: Option<String>,
    pub file: String,
    pub sql: String,
}

/// A declared index.
#[derive(Debug, Clone)]
pub struct Index {
    pub name: Name,
    pub table: Name,
    pub file: String,
    pub sql: String,
    /// Where `CONCURRENTLY` goes in `sql`, when it is not there.
    pub concurrently_at: Option<usize>,
    /// Where its parts are in `sql`.
    pub spans: super::recognize::Spans,
}

/// A declared table and what belongs to it.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: Name,
    pub file: String,
    /// Its `CREATE TABLE` statement.
    pub create: String,
    pub columns: Vec<ColumnDef>,
    /// `PARTITION OF`: its columns are its parent's.
    pub partition: bool,
    /// `ALTER TABLE` statements run with it when it is created (keys, defaults, identity),
    /// and `ALTER SEQUENCE ... OWNED BY` it.
    pub extras: Vec<String>,
    /// Its foreign keys added by `ALTER TABLE` (run after every new table exists).
    pub foreign: Vec<(Option<String>, String)>,
    /// Constraint names its statements give (for "a new constraint on an existing table").
    pub constraint_names: Vec<String>,
    /// Its `ALTER TABLE ... ATTACH PARTITION` statements, with the partition (run after every
    /// new table exists).
    pub attaches: Vec<(Name, String)>,
    /// Its `ALTER TABLE ... ENABLE / FORCE ROW LEVEL SECURITY` statements, with `force`.
    pub row_security: Vec<(bool, String)>,
    /// Its `CREATE TABLE`'s own `PRIMARY KEY (...)` constraint, as written (it makes its
    /// columns NOT NULL, which a probe must see).
    pub primary_key: Option<String>,
    /// Column defaults set by `ALTER TABLE ... SET DEFAULT` (pg_dump's serials).
    pub defaults: BTreeMap<String, String>,
    pub indexes: Vec<Index>,
}

/// Everything the declared files create, for one dialect.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub schemas: Vec<Object>,
    pub extensions: Vec<Object>,
    pub types: Vec<Object>,
    pub sequences: Vec<Object>,
    /// PostgreSQL: functions and procedures (made before the tables, whose defaults may call
    /// them).
    pub functions: Vec<Function>,
    pub tables: Vec<Table>,
    /// Views (made after every table).
    pub views: Vec<View>,
    /// Triggers (made after the views).
    pub triggers: Vec<Trigger>,
    /// PostgreSQL: `ALTER INDEX ... ATTACH PARTITION`: (file, index, partition, statement), run
    /// last.
    pub index_attaches: Vec<(String, Name, Name, String)>,
    /// PostgreSQL: row level security policies (made after the triggers).
    pub policies: Vec<Trigger>,
    /// SQLite's virtual tables, with their modules (their shadow tables are not in `tables`).
    pub virtual_tables: Vec<(Object, String)>,
    /// PostgreSQL: event triggers, publications, statistics objects, aggregates, rules.
    pub others: Vec<Other>,
    /// PostgreSQL: comments (set after everything else is made).
    pub comments: Vec<Comment>,
    /// Statements not managed: (file, what, its first line).
    pub not_managed: Vec<(String, String, String)>,
}

/// The schema a name without one is in.
pub fn default_schema(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "public",
        Dialect::Sqlite => "main",
    }
}

/// A name with its schema filled in (`default` when it has none; PostgreSQL: the first schema
/// of the search path) and, for SQLite, folded: it ignores case even in quotes.
pub fn qualify_in(n: &Name, dialect: Dialect, default: &str) -> Name {
    Name {
        schema: Some(fold(n.schema.as_deref().unwrap_or(default), dialect)),
        name: fold(&n.name, dialect),
    }
}

/// A name as the dialect compares it: SQLite ignores case, even in quotes.
fn fold(name: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite => name.to_lowercase(),
        Dialect::Postgres => name.to_string(),
    }
}

/// Our own relations in a database, never the declaration's and never dumped: the tracking
/// table, its lease table (`--lock-mode table`) and the tracking table's `id` sequence, in the
/// schema where a name without one goes there (`live.default_schema`).
pub fn ours(tracking: &Name, dialect: Dialect, live: &Live) -> Vec<Name> {
    let table = qualify_in(tracking, dialect, live.schema_of_unqualified(dialect));
    let beside = |suffix: &str| Name {
        name: format!("{}{suffix}", table.name),
        ..table.clone()
    };
    vec![beside("_lock"), beside("_id_seq"), table]
}

/// A name as logs and record names show it: without the default schema.
pub fn shown(n: &Name, dialect: Dialect) -> String {
    match n.schema.as_deref() {
        Some(s) if s != default_schema(dialect) => format!("{s}.{}", n.name),
        _ => n.name.clone(),
    }
}

/// A name as SQL: each part double-quoted.
pub fn quoted(n: &Name) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    match &n.schema {
        Some(s) => format!("{}.{}", q(s), q(&n.name)),
        None => q(&n.name),
    }
}

/// Lines that are client commands, not SQL: pg_dump's `\restrict`, psql's `\connect`.
fn without_meta_lines(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim_start().starts_with('\\') {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first line of a statement that has code, for listing it.
fn first_line(sql: &str) -> String {
    code_line(sql).chars().take(80).collect()
}

/// The first line of a statement that is not blank or a comment.
pub fn code_line(sql: &str) -> &str {
    sql.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("--"))
        .unwrap_or("")
}

impl Model {
    /// Recognises every statement of the files (names without a schema in the dialect's
    /// default one).
    pub fn build(files: &[&SchemaFile], dialect: Dialect) -> Model {
        Model::build_in(files, dialect, default_schema(dialect))
    }

    /// Recognises every statement of the files; names without a schema are in `default`.
    pub fn build_in(files: &[&SchemaFile], dialect: Dialect, default: &str) -> Model {
        let mut gathered = Gathered {
            dialect,
            default,
            m: Model::default(),
            alters: Vec::new(),
            owned: Vec::new(),
            indexes: Vec::new(),
        };
        for f in files {
            gathered.file(f);
        }
        gathered.attached()
    }
}

/// The declared files as read so far: the model, and what belongs to a table but is attached
/// only when every file is read (ALTERs and indexes may come before or after their table).
struct Gathered<'a> {
    dialect: Dialect,
    /// The schema of a name without one.
    default: &'a str,
    m: Model,
    /// `ALTER TABLE`s: (table, what it does, the statement).
    alters: Vec<(Name, Alter, String)>,
    /// `ALTER SEQUENCE ... OWNED BY`: (table, the statement).
    owned: Vec<(Name, String)>,
    indexes: Vec<Index>,
}

impl Gathered<'_> {
    fn qualify(&self, n: &Name) -> Name {
        qualify_in(n, self.dialect, self.default)
    }

    /// Recognises every statement of one file.
    fn file(&mut self, f: &SchemaFile) {
        let text = without_meta_lines(&f.text);
        let pieces = statements::split(&text);
        let mut i = 0;
        while i < pieces.len() {
            let (start, piece) = pieces[i];
            i += 1;
            let what = recognize(piece.trim());
            if matches!(what, What::Trigger { .. }) && self.dialect == Dialect::Sqlite {
                // A SQLite trigger's body holds semicolons: the statement runs to its END.
                i = past_trigger(&pieces, i);
                let (last, text_of_last) = pieces[i - 1];
                let whole = text[start..last + text_of_last.len()].trim();
                self.statement(&f.label, whole, recognize(whole));
                continue;
            }
            self.statement(&f.label, piece.trim(), what);
        }
    }

    /// Files one recognised statement: as an object of the model, as what attaches to a table
    /// later, or as not managed.
    fn statement(&mut self, file: &str, sql: &str, what: What) {
        // An index without a name gets the one PostgreSQL would give it, written into its
        // statement, so that it is made, recorded and compared under that name.
        if let What::Index {
            name: None,
            unnamed: Some((at, columns)),
            table,
            ..
        } = &what
            && self.dialect == Dialect::Postgres
        {
            let table = self.qualify(table);
            let name = super::index_name::choose(&table.name, columns, |n| {
                self.relation_declared(&Name {
                    schema: table.schema.clone(),
                    name: n.to_string(),
                })
            });
            let named = format!(
                "{}{} {}",
                &sql[..*at],
                quoted(&Name { schema: None, name }),
                &sql[*at..]
            );
            let what = recognize(&named);
            return self.statement(file, &named, what);
        }
        let file = file.to_string();
        let object = |name: Name| Object {
            name: self.qualify(&name),
            file: file.clone(),
            sql: sql.to_string(),
        };
        match what {
            What::Schema(s) => self.m.schemas.push(object(Name {
                schema: None,
                name: s,
            })),
            What::Extension(e) => self.m.extensions.push(object(Name {
                schema: None,
                name: e,
            })),
            What::Type(n) => self.m.types.push(object(n)),
            What::Sequence(n) => self.m.sequences.push(object(n)),
            What::Table {
                name,
                columns,
                constraints,
            } => self
                .m
                .tables
                .push(self.table(&name, columns, &constraints, file, sql)),
            What::Index {
                name: Some(name),
                table,
                concurrently_at,
                spans,
                ..
            } => self.indexes.push(Index {
                spans,
                name: self.qualify(&name),
                table: self.qualify(&table),
                file,
                sql: sql.to_string(),
                concurrently_at,
            }),
            What::Index { name: None, .. } => {
                self.m
                    .not_managed
                    .push((file, "index without a name".into(), first_line(sql)))
            }
            What::Function { name, name_span } if self.dialect == Dialect::Postgres => {
                let name = self.qualify(&name);
                self.m.functions.push(Function {
                    name,
                    file,
                    sql: sql.to_string(),
                    name_span,
                })
            }
            What::Function { .. } => {
                self.m
                    .not_managed
                    .push((file, "function".into(), first_line(sql)))
            }
            What::View {
                name,
                materialized,
                name_span,
            } => {
                let o = object(name);
                self.m.views.push(View {
                    object: o,
                    materialized,
                    name_span,
                })
            }
            What::Trigger { name, table } => {
                let table = self.qualify(&table);
                self.m.triggers.push(Trigger {
                    name: fold(&name, self.dialect),
                    table,
                    file,
                    sql: sql.to_string(),
                })
            }
            What::IndexAttach { index, partition } => {
                let (index, partition) = (self.qualify(&index), self.qualify(&partition));
                self.m
                    .index_attaches
                    .push((file, index, partition, sql.to_string()))
            }
            What::Policy { name, table } if self.dialect == Dialect::Postgres => {
                let table = self.qualify(&table);
                self.m.policies.push(Trigger {
                    name,
                    table,
                    file,
                    sql: sql.to_string(),
                })
            }
            What::Policy { .. } => {
                self.m
                    .not_managed
                    .push((file, "policy".into(), first_line(sql)))
            }
            What::VirtualTable { name, module } if self.dialect == Dialect::Sqlite => {
                let o = object(name);
                self.m.virtual_tables.push((o, module))
            }
            What::VirtualTable { .. } => {
                self.m
                    .not_managed
                    .push((file, "virtual table".into(), first_line(sql)))
            }
            What::AlterTable { table, action } => {
                self.alters
                    .push((self.qualify(&table), action, sql.to_string()))
            }
            What::SequenceOwnedBy { table, .. } => {
                self.owned.push((self.qualify(&table), sql.to_string()))
            }
            What::Other { kind, name } if self.dialect == Dialect::Postgres => {
                let name = if kind.global() {
                    name
                } else {
                    self.qualify(&name)
                };
                self.m.others.push(Other {
                    kind,
                    name,
                    file,
                    sql: sql.to_string(),
                })
            }
            What::Other { kind, .. } => {
                self.m
                    .not_managed
                    .push((file, kind.shown().into(), first_line(sql)))
            }
            // A declared NULL comment asks for nothing: comments are never removed.
            What::Comment { value, .. } if value.eq_ignore_ascii_case("NULL") => {}
            What::Comment { target, value } if self.dialect == Dialect::Postgres => {
                self.m.comments.push(Comment {
                    target,
                    value: string_value(&value),
                    file,
                    sql: sql.to_string(),
                })
            }
            What::Comment { .. } => {
                self.m
                    .not_managed
                    .push((file, "comment (SQLite has none)".into(), first_line(sql)))
            }
            What::Skipped => {}
            What::NotManaged(what) => self
                .m
                .not_managed
                .push((file, what.into(), first_line(sql))),
        }
    }

    /// Whether a table, sequence or index of this name is declared so far (the names an
    /// index's would collide with).
    fn relation_declared(&self, n: &Name) -> bool {
        self.m.tables.iter().any(|t| &t.name == n)
            || self.m.sequences.iter().any(|s| &s.name == n)
            || self.indexes.iter().any(|i| &i.name == n)
    }

    /// A declared table, from its `CREATE TABLE`; what `ALTER`s add comes later.
    fn table(
        &self,
        name: &Name,
        columns: Vec<ColumnDef>,
        constraints: &[String],
        file: String,
        sql: &str,
    ) -> Table {
        let constraint_names = constraints
            .iter()
            .filter_map(|c| constraint_name(c))
            .collect();
        Table {
            name: self.qualify(name),
            file,
            create: sql.to_string(),
            partition: columns.is_empty(),
            columns: columns
                .into_iter()
                .map(|c| ColumnDef {
                    name: fold(&c.name, self.dialect),
                    text: c.text,
                })
                .collect(),
            extras: Vec::new(),
            foreign: Vec::new(),
            constraint_names,
            attaches: Vec::new(),
            row_security: Vec::new(),
            primary_key: constraints
                .iter()
                .find(|c| {
                    let t = super::lex::tokens(c);
                    t.windows(2)
                        .any(|w| w[0].is(c, "PRIMARY") && w[1].is(c, "KEY"))
                })
                .cloned(),
            defaults: BTreeMap::new(),
            indexes: Vec::new(),
        }
    }

    /// The model with each ALTER, owned sequence and index attached to its table (or listed
    /// as not managed when its table is not declared).
    fn attached(self) -> Model {
        let Gathered {
            dialect,
            default,
            mut m,
            alters,
            owned,
            indexes,
        } = self;
        for (table, action, sql) in alters {
            attach_alter(&mut m, &table, action, sql, dialect);
        }
        for (table, sql) in owned {
            if let Some(t) = find(&m.tables, &table) {
                m.tables[t].extras.push(sql);
            }
        }
        // A virtual table's shadow tables (which `.schema` prints) are its module's to make.
        let shadows: Vec<Name> = m
            .tables
            .iter()
            .filter(|t| super::shadow::is_shadow(&t.name, &m.virtual_tables))
            .map(|t| t.name.clone())
            .collect();
        m.tables.retain(|t| !shadows.contains(&t.name));
        for ix in indexes {
            match find(&m.tables, &ix.table) {
                Some(t) => m.tables[t].indexes.push(ix),
                None => m.not_managed.push((
                    ix.file.clone(),
                    "index on a table not declared".into(),
                    first_line(&ix.sql),
                )),
            }
        }
        // A comment only on what the files declare.
        let (declared, not): (Vec<Comment>, Vec<Comment>) = std::mem::take(&mut m.comments)
            .into_iter()
            .partition(|c| super::comment_target::declared(&m, &c.target, default));
        m.comments = declared;
        for c in not {
            m.not_managed.push((
                c.file,
                "comment on an object not declared".into(),
                first_line(&c.sql),
            ));
        }
        m
    }
}

/// Where the table of that name is in `tables`.
fn find(tables: &[Table], n: &Name) -> Option<usize> {
    tables.iter().position(|t| &t.name == n)
}

/// Attaches one `ALTER TABLE` to its table: a constraint (a foreign key to run after every new
/// table exists), a default, or another change run with it.
fn attach_alter(m: &mut Model, table: &Name, action: Alter, sql: String, dialect: Dialect) {
    let Some(t) = find(&m.tables, table) else {
        if action != Alter::Owner {
            m.not_managed.push((
                String::new(),
                "change to a table not declared".into(),
                first_line(&sql),
            ));
        }
        return;
    };
    let t = &mut m.tables[t];
    match action {
        Alter::Owner => {}
        Alter::AddConstraint { name, foreign } => {
            if let Some(n) = &name {
                t.constraint_names.push(n.clone());
            }
            if foreign {
                t.foreign.push((name, sql));
            } else {
                t.extras.push(sql);
            }
        }
        Alter::SetDefault { column, expr } => {
            t.defaults.insert(fold(&column, dialect), expr);
            t.extras.push(sql);
        }
        Alter::RowSecurity { force } => t.row_security.push((force, sql)),
        Alter::AttachPartition { partition } => {
            let partition = qualify_in(
                &partition,
                dialect,
                &t.name.schema.clone().unwrap_or_default(),
            );
            t.attaches.push((partition, sql))
        }
        Alter::Other => t.extras.push(sql),
    }
}

/// The piece after a SQLite trigger: its body holds semicolons, so its pieces up to the one
/// that ends in END go with it. `i` is the piece after its first.
fn past_trigger(pieces: &[(usize, &str)], mut i: usize) -> usize {
    while i < pieces.len()
        && !pieces[i - 1]
            .1
            .trim_end()
            .to_ascii_uppercase()
            .ends_with("END")
    {
        i += 1;
    }
    i
}

/// The name a table constraint gives itself (`CONSTRAINT x ...`).
fn constraint_name(text: &str) -> Option<String> {
    let t = super::lex::tokens(text);
    if !t.first()?.is(text, "CONSTRAINT") {
        return None;
    }
    t.get(1)?.folded(text)
}

/// A live column as the database describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveColumn {
    pub name: String,
    /// The type as the database spells it (`character varying(255)`, `TEXT`).
    pub data_type: String,
    pub not_null: bool,
    pub default: Option<String>,
    /// Part of the primary key (SQLite).
    pub primary_key: bool,
    /// PostgreSQL: `GENERATED ... AS IDENTITY` or `GENERATED ALWAYS AS (...) STORED`.
    pub generated: Option<String>,
}

/// A live index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveIndex {
    pub table: Name,
    /// PostgreSQL: false for a concurrent build that failed.
    pub valid: bool,
    /// Its definition without its name and table, for comparing.
    pub definition: String,
    /// Its whole `CREATE INDEX` statement (for `schema dump`).
    pub sql: String,
    /// It backs a constraint (dumped with the constraint, not on its own).
    pub constraint: bool,
}

/// What a database has, as far as the declared schema is concerned. Names are qualified.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub schemas: BTreeSet<String>,
    pub extensions: BTreeSet<String>,
    pub types: BTreeSet<Name>,
    /// Every relation by name (tables, views, indexes, sequences) with its kind.
    pub relations: BTreeMap<Name, char>,
    /// Every table's columns, in order.
    pub tables: BTreeMap<Name, Vec<LiveColumn>>,
    pub indexes: BTreeMap<Name, LiveIndex>,
    /// Every named constraint of every table.
    pub constraints: BTreeSet<(Name, String)>,
    /// SQLite: the statement of each table as stored (for `schema dump`).
    pub statements: Vec<(Name, String)>,
    /// PostgreSQL: each type's `CREATE TYPE` (for `schema dump`).
    pub type_defs: Vec<String>,
    /// PostgreSQL: each constraint as `ALTER TABLE ... ADD CONSTRAINT` (for `schema dump`).
    pub constraint_defs: Vec<(Name, String, String)>,
    /// Where a name without a schema goes (PostgreSQL: `current_schema()`); `None`: the
    /// dialect's default.
    pub default_schema: Option<String>,
    /// Every trigger: (its table, its name).
    pub triggers: BTreeSet<(Name, String)>,
    /// PostgreSQL: each partition (table or index) and what it is a partition of.
    pub partition_of: BTreeMap<Name, Name>,
    /// PostgreSQL: every policy, (its table, its name).
    pub policies: BTreeSet<(Name, String)>,
    /// PostgreSQL: each trigger's definition as compared (`pg_get_triggerdef` without its name
    /// and table), by (its table, its name); a probe's: by the declared trigger's.
    pub trigger_defs: BTreeMap<(Name, String), String>,
    /// PostgreSQL: each policy's definition as compared (permissive, command, roles, its
    /// expressions), by (its table, its name); a probe's: by the declared policy's.
    pub policy_defs: BTreeMap<(Name, String), String>,
    /// PostgreSQL: the tables with row level security on, and whether it is forced.
    pub row_security: BTreeMap<Name, bool>,
    /// PostgreSQL: each function's and procedure's argument types
    /// (`pg_get_function_identity_arguments`), by name.
    pub functions: BTreeMap<Name, Vec<String>>,
    /// PostgreSQL: each (not materialized) view's query as the server prints it (a probe's:
    /// by the declared view's name).
    pub view_queries: BTreeMap<Name, String>,
    /// PostgreSQL: each function's definition as compared (its result, language, volatility
    /// and body), by (name, arguments' types).
    pub function_bodies: BTreeMap<(Name, String), String>,
    /// A probe's: the argument types of each declared function, in the model's order, as the
    /// server read them (`None`: it could not make that function), with its definition as
    /// compared.
    pub function_identities: Vec<Option<(String, String)>>,
    /// PostgreSQL: every event trigger, publication, statistics object, aggregate and rule (a
    /// rule as `table.rule` in its table's schema).
    pub others: BTreeSet<(OtherKind, Name)>,
    /// PostgreSQL: each event trigger's definition as compared (its event, tags, function
    /// and whether it is enabled), by name; a probe's: by the declared one's.
    pub event_trigger_defs: BTreeMap<String, String>,
    /// A probe's: for each declared comment, in the model's order, the comment its object has
    /// (`None`: the object is not there; `Some(None)`: it has none).
    pub comments: Vec<Option<Option<String>>>,
    /// PostgreSQL, read for `schema dump` only.
    pub dump: DumpExtras,
}

/// What `schema dump` writes beyond what the declared schema compares (PostgreSQL).
#[derive(Debug, Clone, Default)]
pub struct DumpExtras {
    /// Each extension's schema.
    pub extension_schemas: BTreeMap<String, String>,
    /// Each sequence's `CREATE SEQUENCE`, every option written.
    pub sequence_defs: BTreeMap<Name, String>,
    /// Each `ALTER SEQUENCE ... OWNED BY` (sequence, `table.column` quoted).
    pub sequence_owners: Vec<(Name, String)>,
    /// Each function's and procedure's `CREATE OR REPLACE FUNCTION` (`pg_get_functiondef`).
    pub function_defs: Vec<String>,
    /// Each partitioned table's `PARTITION BY` key (`RANGE (at)`).
    pub partition_keys: BTreeMap<Name, String>,
    /// Each partition's `ALTER TABLE ONLY parent ATTACH PARTITION child bound`.
    pub attaches: Vec<String>,
    /// Each view's `CREATE [MATERIALIZED] VIEW`, then each trigger's `CREATE TRIGGER`.
    pub view_defs: Vec<String>,
    /// Each statistics object, rule, publication, comment and event trigger, in that order.
    pub late_defs: Vec<String>,
    /// The objects it cannot write yet (`view public.v`, `trigger t on public.x`).
    pub not_written: Vec<String>,
}

#[cfg(test)]
impl Model {
    /// The PostgreSQL model of one file, `s.sql`, holding `text`.
    pub fn of_postgres(text: &str) -> Model {
        let f = SchemaFile {
            label: "s.sql".into(),
            dialect: None,
            text: text.into(),
        };
        Model::build(&[&f], Dialect::Postgres)
    }
}

impl Live {
    /// The schema a name without one is in, here.
    pub fn schema_of_unqualified(&self, dialect: Dialect) -> &str {
        self.default_schema
            .as_deref()
            .unwrap_or(default_schema(dialect))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SchemaFile {
        SchemaFile {
            label: "schema.sql".into(),
            dialect: None,
            text: text.into(),
        }
    }

    #[test]
    fn pg_dump_statements_are_gathered_by_table() {
        let f = file(
            "\\restrict abc\nSET x = 1;\nCREATE TABLE public.users (\n    id integer NOT NULL,\n    email text\n);\n\
             ALTER TABLE public.users OWNER TO app;\n\
             CREATE SEQUENCE public.users_id_seq START WITH 1;\n\
             ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;\n\
             ALTER TABLE ONLY public.users ALTER COLUMN id SET DEFAULT nextval('public.users_id_seq'::regclass);\n\
             ALTER TABLE ONLY public.users ADD CONSTRAINT users_pkey PRIMARY KEY (id);\n\
             CREATE INDEX users_email ON public.users USING btree (email);\n\
             CREATE INDEX other_idx ON public.other (x);\n\
             ALTER TABLE ONLY public.users ADD CONSTRAINT users_self FOREIGN KEY (id) REFERENCES public.users(id);\n\
             CREATE VIEW v AS SELECT 1;\n\\unrestrict abc\n",
        );
        let m = Model::build(&[&f], Dialect::Postgres);
        assert_eq!(m.tables.len(), 1);
        let t = &m.tables[0];
        assert_eq!(shown(&t.name, Dialect::Postgres), "users");
        assert_eq!(t.columns.len(), 2);
        assert_eq!(t.extras.len(), 3, "{:?}", t.extras);
        assert_eq!(t.foreign.len(), 1);
        assert_eq!(t.defaults["id"], "nextval('public.users_id_seq'::regclass)");
        assert_eq!(t.indexes.len(), 1);
        assert_eq!(m.sequences.len(), 1);
        let listed: Vec<&str> = m.not_managed.iter().map(|n| n.1.as_str()).collect();
        assert_eq!(listed, ["index on a table not declared"]);
        assert_eq!(m.views.len(), 1);
    }

    #[test]
    fn sqlite_trigger_bodies_stay_whole() {
        let f = file(
            "CREATE TABLE t (x);\nCREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = 1; DELETE FROM t; END;\nCREATE INDEX i ON t (x);",
        );
        let m = Model::build(&[&f], Dialect::Sqlite);
        assert!(m.not_managed.is_empty());
        assert_eq!(m.triggers.len(), 1);
        assert!(
            m.triggers[0].sql.ends_with("DELETE FROM t; END"),
            "{:?}",
            m.triggers
        );
        assert_eq!(m.tables[0].indexes.len(), 1);
    }
}
