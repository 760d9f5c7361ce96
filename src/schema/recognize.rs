//! What one DDL statement is: which kind of statement, which object, and for a table the exact
//! text of each column definition. No grammar of SQL: the leading keywords and the names are
//! enough to know what a statement creates, and the database itself judges the rest. Pure.

use super::lex::{self, Kind, Token};

/// A possibly schema-qualified name, folded as PostgreSQL folds it (unquoted: lower case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    pub schema: Option<String>,
    pub name: String,
}

/// One column definition of a `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    /// The definition as written, name included (`last_login timestamptz NOT NULL DEFAULT now()`).
    pub text: String,
}

/// What an `ALTER TABLE` does, as far as the declared schema cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alter {
    /// `ADD CONSTRAINT name ...` (or an unnamed `ADD PRIMARY KEY/UNIQUE/...`).
    AddConstraint { name: Option<String>, foreign: bool },
    /// `ALTER COLUMN c SET DEFAULT expr` (pg_dump writes serial defaults so).
    SetDefault { column: String, expr: String },
    /// `OWNER TO`: skipped.
    Owner,
    /// `ENABLE ROW LEVEL SECURITY` (`force`: `FORCE ROW LEVEL SECURITY`).
    RowSecurity { force: bool },
    /// `ATTACH PARTITION child ...` (pg_dump writes partitions as tables, then attaches them).
    AttachPartition { partition: Name },
    /// Anything else (identity, row level security, partitions): run with its new table only.
    Other,
}

/// Byte ranges of an index statement's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spans {
    pub name: Option<(usize, usize)>,
    pub table: (usize, usize),
    pub concurrently: Option<(usize, usize)>,
}

/// What a statement is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    Schema(String),
    Extension(String),
    /// `CREATE TYPE` (enums and the rest) and `CREATE DOMAIN`.
    Type(Name),
    Sequence(Name),
    Table {
        name: Name,
        /// Empty for `PARTITION OF` (the columns are the parent's).
        columns: Vec<ColumnDef>,
        /// Table constraints as written (`PRIMARY KEY (a, b)`, `CONSTRAINT x CHECK (...)`).
        constraints: Vec<String>,
    },
    Index {
        name: Option<Name>,
        table: Name,
        unique: bool,
        /// Where `CONCURRENTLY` goes (just after `INDEX`), when the text does not have it.
        concurrently_at: Option<usize>,
        /// Where the index's name, the table's name and `CONCURRENTLY` are in the text (a
        /// probe builds the same index under other names).
        spans: Spans,
        /// Without a name: where one goes (the `ON`), and the names PostgreSQL takes of its
        /// columns to make one (`index_name`).
        unnamed: Option<(usize, Vec<String>)>,
    },
    /// `CREATE [OR REPLACE] FUNCTION|PROCEDURE name (...)`: where its name is in the text (a
    /// probe makes the same function under another name, to learn its arguments' types).
    Function {
        name: Name,
        name_span: (usize, usize),
    },
    /// `CREATE [MATERIALIZED] VIEW`.
    View {
        name: Name,
        materialized: bool,
        /// Where its name is in the text (a probe makes the same view under another name).
        name_span: (usize, usize),
    },
    /// `CREATE TRIGGER name ... ON table` (SQLite: through its `END`).
    Trigger {
        name: String,
        table: Name,
    },
    /// `ALTER INDEX index ATTACH PARTITION partition`.
    IndexAttach {
        index: Name,
        partition: Name,
    },
    /// `CREATE POLICY name ON table ...` (PostgreSQL's row level security).
    Policy {
        name: String,
        table: Name,
    },
    /// SQLite's `CREATE VIRTUAL TABLE ... USING module`: the module makes its shadow tables.
    VirtualTable {
        name: Name,
        module: String,
    },
    AlterTable {
        table: Name,
        action: Alter,
    },
    /// `ALTER SEQUENCE s OWNED BY t.c`: belongs to the table.
    SequenceOwnedBy {
        sequence: Name,
        table: Name,
    },
    /// `COMMENT ON target IS value` (PostgreSQL): the target as written (`TABLE auth.users`)
    /// and the value's literal as written (`'Auth: users'`, `NULL`).
    Comment {
        target: String,
        value: String,
    },
    /// An object known by its kind and name alone: event triggers, publications, statistics
    /// objects, aggregates, rules (a rule's name is `table.rule`, in its table's schema).
    Other {
        kind: OtherKind,
        name: Name,
    },
    /// Meta, settings, ownership, grants, transaction control, SQLite's own tables.
    Skipped,
    /// Views, functions, triggers, policies, data: listed as not managed.
    NotManaged(&'static str),
}

/// The kinds of [`What::Other`]: made when missing, known by their names alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OtherKind {
    EventTrigger,
    Publication,
    Statistics,
    Aggregate,
    Rule,
}

impl OtherKind {
    /// Its part of a record's name (`schema.sql#event-trigger:name`).
    pub fn record(self) -> &'static str {
        match self {
            OtherKind::EventTrigger => "event-trigger",
            OtherKind::Publication => "publication",
            OtherKind::Statistics => "statistics",
            OtherKind::Aggregate => "aggregate",
            OtherKind::Rule => "rule",
        }
    }

    /// Its name in logs (`event trigger`).
    pub fn shown(self) -> &'static str {
        match self {
            OtherKind::EventTrigger => "event trigger",
            OtherKind::Publication => "publication",
            OtherKind::Statistics => "statistics object",
            OtherKind::Aggregate => "aggregate",
            OtherKind::Rule => "rule",
        }
    }

    /// Whether its name is the database's, not a schema's.
    pub fn global(self) -> bool {
        matches!(self, OtherKind::EventTrigger | OtherKind::Publication)
    }
}

/// What `sql` (one statement, without its semicolon) is.
pub fn recognize(sql: &str) -> What {
    let t = lex::tokens(sql);
    let word = |k: usize| {
        t.get(k)
            .filter(|x| x.kind == Kind::Word)
            .map(|x| x.text(sql).to_ascii_uppercase())
    };
    let Some(first) = word(0) else {
        return What::NotManaged("statement");
    };
    match first.as_str() {
        "COMMENT" => comment(sql, &t),
        "SET" | "RESET" | "GRANT" | "REVOKE" | "BEGIN" | "COMMIT" | "END" | "START"
        | "ROLLBACK" | "PRAGMA" | "ANALYZE" | "VACUUM" | "SECURITY" => What::Skipped,
        "SELECT"
            if t.get(1)
                .is_some_and(|x| x.text(sql).eq_ignore_ascii_case("pg_catalog")) =>
        {
            What::Skipped
        }
        "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "COPY" | "WITH" | "TRUNCATE" | "DO"
        | "CALL" => What::NotManaged("data statement"),
        "CREATE" => create(sql, &t),
        "ALTER" => alter(sql, &t),
        _ => What::NotManaged("statement"),
    }
}

/// The parts of a dotted name at `k` (`schema.table`, `schema.table.column`), folded, and the
/// index after it.
pub(super) fn dotted(sql: &str, t: &[Token], k: usize) -> Option<(Vec<String>, usize)> {
    let mut parts = Vec::new();
    let mut k = k;
    loop {
        parts.push(t.get(k)?.folded(sql)?);
        k += 1;
        if t.get(k).map(|x| x.kind) == Some(Kind::Punct(b'.'))
            && t.get(k + 1)
                .is_some_and(|x| matches!(x.kind, Kind::Word | Kind::Quoted))
        {
            k += 1;
        } else {
            return Some((parts, k));
        }
    }
}

/// Reads a (qualified) name at `k`: the name and the index after it.
fn name_at(sql: &str, t: &[Token], k: usize) -> Option<(Name, usize)> {
    let (mut parts, k) = dotted(sql, t, k)?;
    let name = parts.pop()?;
    // `db.schema.name` is rare; keep the innermost schema.
    Some((
        Name {
            schema: parts.pop(),
            name,
        },
        k,
    ))
}

/// Skips the keywords in `words` (in this order, each optional) from `k`.
fn skip(sql: &str, t: &[Token], mut k: usize, words: &[&str]) -> usize {
    for w in words {
        if t.get(k).is_some_and(|x| x.is(sql, w)) {
            k += 1;
        }
    }
    k
}

/// Skips `IF NOT EXISTS` / `IF EXISTS`.
fn skip_if_exists(sql: &str, t: &[Token], k: usize) -> usize {
    if t.get(k).is_some_and(|x| x.is(sql, "IF")) {
        skip(sql, t, k + 1, &["NOT", "EXISTS"])
    } else {
        k
    }
}

fn create(sql: &str, t: &[Token]) -> What {
    let mut k = 1;
    // Modifiers before the object's kind.
    k = skip(sql, t, k, &["OR", "REPLACE"]);
    let mut unique = false;
    while let Some(x) = t.get(k) {
        let w = x.text(sql).to_ascii_uppercase();
        match w.as_str() {
            "UNLOGGED" | "GLOBAL" | "LOCAL" | "TEMP" | "TEMPORARY" | "TRUSTED" | "PROCEDURAL"
            | "RECURSIVE" | "CONSTRAINT" => k += 1,
            "UNIQUE" => {
                unique = true;
                k += 1
            }
            _ => break,
        }
    }
    let Some(kind) = t.get(k).map(|x| x.text(sql).to_ascii_uppercase()) else {
        return What::NotManaged("statement");
    };
    let after = skip_if_exists(sql, t, k + 1);
    match kind.as_str() {
        "SCHEMA" => match t.get(after).and_then(|x| x.folded(sql)) {
            // `CREATE SCHEMA AUTHORIZATION role` names the schema after the role.
            Some(n) if !t[after].is(sql, "AUTHORIZATION") => What::Schema(n),
            _ => What::NotManaged("schema statement"),
        },
        "EXTENSION" => match t.get(after).and_then(|x| x.folded(sql)) {
            Some(n) => What::Extension(n),
            None => What::NotManaged("extension statement"),
        },
        "TYPE" | "DOMAIN" => match name_at(sql, t, after) {
            Some((n, _)) => What::Type(n),
            None => What::NotManaged("type statement"),
        },
        "SEQUENCE" => match name_at(sql, t, after) {
            Some((n, _)) => What::Sequence(n),
            None => What::NotManaged("sequence statement"),
        },
        "TABLE" => table(sql, t, after),
        "INDEX" => index(sql, t, k, unique),
        "VIEW" => view(sql, t, after, false),
        "MATERIALIZED" if t.get(after).is_some_and(|x| x.is(sql, "VIEW")) => {
            view(sql, t, skip_if_exists(sql, t, after + 1), true)
        }
        "FUNCTION" | "PROCEDURE" => match name_at(sql, t, after) {
            Some((name, next)) if t.get(next).is_some_and(|x| x.kind == Kind::Punct(b'(')) => {
                What::Function {
                    name,
                    name_span: (t[after].start, t[next - 1].end),
                }
            }
            _ => What::NotManaged("function statement"),
        },
        "AGGREGATE" => other(OtherKind::Aggregate, name_at(sql, t, after), "aggregate"),
        "STATISTICS" => other(OtherKind::Statistics, name_at(sql, t, after), "statistics"),
        "PUBLICATION" => other(
            OtherKind::Publication,
            name_at(sql, t, after),
            "publication",
        ),
        "TRIGGER" => trigger(sql, t, after),
        "EVENT" if t.get(after).is_some_and(|x| x.is(sql, "TRIGGER")) => other(
            OtherKind::EventTrigger,
            name_at(sql, t, after + 1),
            "event trigger",
        ),
        "POLICY" => match (name_at(sql, t, after), ()) {
            (Some((name, j)), ()) if t.get(j).is_some_and(|x| x.is(sql, "ON")) => {
                match name_at(sql, t, j + 1) {
                    Some((table, _)) => What::Policy {
                        name: name.name,
                        table,
                    },
                    None => What::NotManaged("policy"),
                }
            }
            _ => What::NotManaged("policy"),
        },
        "VIRTUAL" => virtual_table(sql, t, after),
        "RULE" => rule(sql, t, after),
        "ROLE" | "USER" | "DATABASE" | "TABLESPACE" => What::NotManaged("role or database"),
        _ => What::NotManaged("statement"),
    }
}

/// An object of `kind` by the name read (`None`: listed as not managed, as `what`).
fn other(kind: OtherKind, name: Option<(Name, usize)>, what: &'static str) -> What {
    match name {
        Some((name, _)) if !kind.global() || name.schema.is_none() => What::Other { kind, name },
        _ => What::NotManaged(what),
    }
}

/// `CREATE [OR REPLACE] RULE name AS ON event TO table ...`; `k` is at the name.
fn rule(sql: &str, t: &[Token], k: usize) -> What {
    let Some((rule, mut j)) = name_at(sql, t, k) else {
        return What::NotManaged("rule");
    };
    while j < t.len() && !t[j].is(sql, "TO") {
        j += 1;
    }
    match name_at(sql, t, j + 1) {
        Some((table, _)) => What::Other {
            kind: OtherKind::Rule,
            name: Name {
                schema: table.schema,
                name: format!("{}.{}", table.name, rule.name),
            },
        },
        None => What::NotManaged("rule"),
    }
}

/// `COMMENT ON target IS value`: the target is everything between `ON` and the `IS` outside
/// parentheses (a function's arguments may be in them).
fn comment(sql: &str, t: &[Token]) -> What {
    if !t.get(1).is_some_and(|x| x.is(sql, "ON")) {
        return What::NotManaged("comment");
    }
    let mut depth = 0i32;
    for k in 2..t.len() {
        match t[k].kind {
            Kind::Punct(b'(') => depth += 1,
            Kind::Punct(b')') => depth -= 1,
            Kind::Word if depth == 0 && k > 2 && t[k].is(sql, "IS") => {
                return match t.get(k + 1) {
                    Some(v) => What::Comment {
                        target: sql[t[2].start..t[k - 1].end].to_string(),
                        value: sql[v.start..].trim().to_string(),
                    },
                    None => What::NotManaged("comment"),
                };
            }
            _ => {}
        }
    }
    What::NotManaged("comment")
}

/// The text a comment's literal stands for (`None` for `NULL`, or what is not one string):
/// `'it''s'`, `E'a\nb'`, `$$x$$`.
pub fn string_value(literal: &str) -> Option<String> {
    let l = literal.trim();
    if let Some(body) = l.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
        return Some(body.replace("''", "'"));
    }
    if let Some(body) = l
        .strip_prefix(['E', 'e'])
        .and_then(|x| x.strip_prefix('\''))
        .and_then(|x| x.strip_suffix('\''))
    {
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(c) => out.push(c),
                    None => {}
                },
                '\'' => {
                    chars.next();
                    out.push('\'')
                }
                c => out.push(c),
            }
        }
        return Some(out);
    }
    if let Some(rest) = l.strip_prefix('$') {
        let end = rest.find('$')? + 2;
        let tag = &l[..end];
        return l[end..].strip_suffix(tag).map(str::to_string);
    }
    None
}

/// `CREATE [OR REPLACE] [MATERIALIZED] VIEW name ...`; `k` is at the name.
fn view(sql: &str, t: &[Token], k: usize, materialized: bool) -> What {
    match name_at(sql, t, k) {
        Some((name, next)) => What::View {
            name,
            materialized,
            name_span: (t[k].start, t[next - 1].end),
        },
        None => What::NotManaged("view"),
    }
}

/// `CREATE [OR REPLACE] TRIGGER name ... ON table ...`; `k` is at the name.
fn trigger(sql: &str, t: &[Token], k: usize) -> What {
    let Some((name, mut j)) = name_at(sql, t, k) else {
        return What::NotManaged("trigger");
    };
    while j < t.len() && !t[j].is(sql, "ON") {
        j += 1;
    }
    match name_at(sql, t, j + 1) {
        Some((table, _)) => What::Trigger {
            name: name.name,
            table: Name {
                schema: table.schema.or(name.schema),
                name: table.name,
            },
        },
        None => What::NotManaged("trigger"),
    }
}

/// `CREATE VIRTUAL TABLE [IF NOT EXISTS] name USING module (...)` (SQLite); `k` is at `TABLE`.
fn virtual_table(sql: &str, t: &[Token], k: usize) -> What {
    if !t.get(k).is_some_and(|x| x.is(sql, "TABLE")) {
        return What::NotManaged("virtual table");
    }
    let k = skip_if_exists(sql, t, k + 1);
    let Some((name, k)) = name_at(sql, t, k) else {
        return What::NotManaged("virtual table");
    };
    match (t.get(k), t.get(k + 1).and_then(|x| x.folded(sql))) {
        (Some(using), Some(module)) if using.is(sql, "USING") => What::VirtualTable {
            name,
            module: module.to_lowercase(),
        },
        _ => What::NotManaged("virtual table"),
    }
}

fn table(sql: &str, t: &[Token], k: usize) -> What {
    let Some((name, k)) = name_at(sql, t, k) else {
        return What::NotManaged("table statement");
    };
    if name.name.starts_with("sqlite_") {
        return What::Skipped;
    }
    if t.get(k)
        .is_some_and(|x| x.is(sql, "PARTITION") || x.is(sql, "OF"))
    {
        return What::Table {
            name,
            columns: Vec::new(),
            constraints: Vec::new(),
        };
    }
    if t.get(k).map(|x| x.kind) != Some(Kind::Punct(b'(')) {
        // `CREATE TABLE x AS SELECT ...`
        return What::NotManaged("table made from a query");
    }
    let close = lex::matching(t, k);
    let mut columns = Vec::new();
    let mut constraints = Vec::new();
    for (a, b) in lex::split_commas(t, k + 1, close) {
        let text = sql[t[a].start..t[b - 1].end].to_string();
        let head = t[a].text(sql).to_ascii_uppercase();
        // `unique text` is a column named unique: the constraint goes on with `(`, KEY or NULLS.
        let opens = t
            .get(a + 1)
            .is_some_and(|x| x.kind == Kind::Punct(b'(') || x.is(sql, "KEY") || x.is(sql, "NULLS"));
        let is_constraint = t[a].kind == Kind::Word
            && match head.as_str() {
                "CONSTRAINT" | "PRIMARY" | "FOREIGN" | "EXCLUDE" | "LIKE" => true,
                "UNIQUE" | "CHECK" => opens,
                _ => false,
            };
        if is_constraint {
            constraints.push(text);
        } else if let Some(name) = t[a].folded(sql) {
            columns.push(ColumnDef { name, text });
        }
    }
    What::Table {
        name,
        columns,
        constraints,
    }
}

fn index(sql: &str, t: &[Token], k: usize, unique: bool) -> What {
    // k is at INDEX.
    let mut j = k + 1;
    let concurrently = t.get(j).is_some_and(|x| x.is(sql, "CONCURRENTLY"));
    if concurrently {
        j += 1;
    }
    j = skip_if_exists(sql, t, j);
    let named = !t.get(j).is_some_and(|x| x.is(sql, "ON"));
    let name_start = j;
    let (name, j) = if named {
        match name_at(sql, t, j) {
            Some((n, j)) => (Some(n), j),
            None => return What::NotManaged("index statement"),
        }
    } else {
        (None, j)
    };
    let name_span = named.then(|| (t[name_start].start, t[j - 1].end));
    if !t.get(j).is_some_and(|x| x.is(sql, "ON")) {
        return What::NotManaged("index statement");
    }
    let j = skip(sql, t, j + 1, &["ONLY"]);
    let Some((table, after)) = name_at(sql, t, j) else {
        return What::NotManaged("index statement");
    };
    let spans = Spans {
        name: name_span,
        table: (t[j].start, t[after - 1].end),
        concurrently: concurrently.then(|| (t[k + 1].start, t[k + 1].end)),
    };
    let unnamed = (!named).then(|| {
        // The column list, after `USING method`, and the INCLUDE list.
        let mut lists = Vec::new();
        if let Some(open) = (after..t.len()).find(|&i| t[i].kind == Kind::Punct(b'(')) {
            let close = lex::matching(t, open);
            lists.push((open + 1, close));
            if t.get(close + 1).is_some_and(|x| x.is(sql, "INCLUDE"))
                && t.get(close + 2)
                    .is_some_and(|x| x.kind == Kind::Punct(b'('))
            {
                lists.push((close + 3, lex::matching(t, close + 2)));
            }
        }
        (
            t[name_start].start,
            super::index_name::column_names(sql, t, &lists),
        )
    });
    // An index lives in its table's schema.
    let name = name.map(|n| Name {
        schema: n.schema.or_else(|| table.schema.clone()),
        name: n.name,
    });
    What::Index {
        name,
        table,
        unique,
        concurrently_at: (!concurrently).then(|| t[k].end),
        spans,
        unnamed,
    }
}

fn alter(sql: &str, t: &[Token]) -> What {
    let word = |k: usize| {
        t.get(k)
            .map(|x| x.text(sql).to_ascii_uppercase())
            .unwrap_or_default()
    };
    match word(1).as_str() {
        "TABLE" => {}
        "SEQUENCE" => {
            let k = skip_if_exists(sql, t, 2);
            let Some((sequence, k)) = name_at(sql, t, k) else {
                return What::Skipped;
            };
            if word(k) == "OWNED"
                && word(k + 1) == "BY"
                && let Some(table) = owner_table(sql, t, k + 2)
            {
                return What::SequenceOwnedBy { sequence, table };
            }
            return What::Skipped;
        }
        // pg_dump's `ALTER INDEX parent ATTACH PARTITION child` (a partitioned index's tree).
        "INDEX" => {
            let k = skip_if_exists(sql, t, 2);
            return match name_at(sql, t, k) {
                Some((index, k)) if word(k) == "ATTACH" && word(k + 1) == "PARTITION" => {
                    match name_at(sql, t, k + 2) {
                        Some((partition, _)) => What::IndexAttach { index, partition },
                        None => What::Skipped,
                    }
                }
                _ => What::Skipped,
            };
        }
        _ => return What::Skipped,
    }
    let k = skip_if_exists(sql, t, 2);
    let k = skip(sql, t, k, &["ONLY"]);
    let Some((table, k)) = name_at(sql, t, k) else {
        return What::Skipped;
    };
    let action = match (word(k).as_str(), word(k + 1).as_str()) {
        ("OWNER", _) => Alter::Owner,
        ("ATTACH", "PARTITION") => match name_at(sql, t, k + 2) {
            Some((partition, _)) => Alter::AttachPartition { partition },
            None => Alter::Other,
        },
        ("ENABLE", "ROW") => Alter::RowSecurity { force: false },
        ("FORCE", "ROW") => Alter::RowSecurity { force: true },
        ("ADD", "CONSTRAINT") => {
            let name = t.get(k + 2).and_then(|x| x.folded(sql));
            let foreign = t[k..]
                .iter()
                .any(|x| x.is(sql, "FOREIGN") || x.is(sql, "REFERENCES"));
            Alter::AddConstraint { name, foreign }
        }
        ("ADD", "PRIMARY" | "UNIQUE" | "CHECK" | "FOREIGN" | "EXCLUDE") => Alter::AddConstraint {
            name: None,
            foreign: word(k + 1) == "FOREIGN",
        },
        ("ALTER", _) => {
            let c = if word(k + 1) == "COLUMN" {
                k + 2
            } else {
                k + 1
            };
            let column = t.get(c).and_then(|x| x.folded(sql));
            match (column, word(c + 1).as_str(), word(c + 2).as_str()) {
                (Some(column), "SET", "DEFAULT") if t.len() > c + 3 => Alter::SetDefault {
                    column,
                    expr: sql[t[c + 3].start..].trim().to_string(),
                },
                _ => Alter::Other,
            }
        }
        _ => Alter::Other,
    };
    What::AlterTable { table, action }
}

/// The table of `OWNED BY [schema.]table.column` at `k`.
fn owner_table(sql: &str, t: &[Token], k: usize) -> Option<Name> {
    let (mut parts, _) = dotted(sql, t, k)?;
    if parts.len() < 2 {
        return None; // OWNED BY NONE
    }
    parts.pop();
    let name = parts.pop()?;
    Some(Name {
        schema: parts.pop(),
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(schema: Option<&str>, name: &str) -> Name {
        Name {
            schema: schema.map(str::to_string),
            name: name.into(),
        }
    }

    #[test]
    fn statements_of_pg_dump() {
        let cases: Vec<(&str, What)> = vec![
            ("SET statement_timeout = 0", What::Skipped),
            (
                "SELECT pg_catalog.set_config('search_path', '', false)",
                What::Skipped,
            ),
            ("\n\nCREATE SCHEMA app", What::Schema("app".into())),
            (
                "CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public",
                What::Extension("pgcrypto".into()),
            ),
            (
                "CREATE TYPE public.mood AS ENUM ('a', 'b')",
                What::Type(n(Some("public"), "mood")),
            ),
            (
                "CREATE SEQUENCE public.users_id_seq AS integer START WITH 1",
                What::Sequence(n(Some("public"), "users_id_seq")),
            ),
            (
                "ALTER TABLE public.users OWNER TO app",
                What::AlterTable {
                    table: n(Some("public"), "users"),
                    action: Alter::Owner,
                },
            ),
            (
                "ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id",
                What::SequenceOwnedBy {
                    sequence: n(Some("public"), "users_id_seq"),
                    table: n(Some("public"), "users"),
                },
            ),
            (
                "ALTER TABLE ONLY public.users ALTER COLUMN id SET DEFAULT nextval('public.users_id_seq'::regclass)",
                What::AlterTable {
                    table: n(Some("public"), "users"),
                    action: Alter::SetDefault {
                        column: "id".into(),
                        expr: "nextval('public.users_id_seq'::regclass)".into(),
                    },
                },
            ),
            (
                "ALTER TABLE ONLY public.users ADD CONSTRAINT users_pkey PRIMARY KEY (id)",
                What::AlterTable {
                    table: n(Some("public"), "users"),
                    action: Alter::AddConstraint {
                        name: Some("users_pkey".into()),
                        foreign: false,
                    },
                },
            ),
            (
                "ALTER TABLE ONLY public.posts\n    ADD CONSTRAINT posts_user_fk FOREIGN KEY (user_id) REFERENCES public.users(id)",
                What::AlterTable {
                    table: n(Some("public"), "posts"),
                    action: Alter::AddConstraint {
                        name: Some("posts_user_fk".into()),
                        foreign: true,
                    },
                },
            ),
            (
                "ALTER TABLE public.t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME public.t_id_seq START WITH 1)",
                What::AlterTable {
                    table: n(Some("public"), "t"),
                    action: Alter::Other,
                },
            ),
            (
                "CREATE UNIQUE INDEX users_email_idx ON public.users USING btree (lower(email))",
                What::Index {
                    name: Some(n(Some("public"), "users_email_idx")),
                    table: n(Some("public"), "users"),
                    unique: true,
                    concurrently_at: Some(19),
                    spans: Spans {
                        name: Some((20, 35)),
                        table: (39, 51),
                        concurrently: None,
                    },
                    unnamed: None,
                },
            ),
            (
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS \"Odd\" ON ONLY \"App\".t (x)",
                What::Index {
                    name: Some(n(Some("App"), "Odd")),
                    table: n(Some("App"), "t"),
                    unique: false,
                    concurrently_at: None,
                    spans: Spans {
                        name: Some((40, 45)),
                        table: (54, 61),
                        concurrently: Some((13, 25)),
                    },
                    unnamed: None,
                },
            ),
            (
                "CREATE INDEX ON t (x)",
                What::Index {
                    name: None,
                    table: n(None, "t"),
                    unique: false,
                    concurrently_at: Some(12),
                    spans: Spans {
                        name: None,
                        table: (16, 17),
                        concurrently: None,
                    },
                    unnamed: Some((13, vec!["x".into()])),
                },
            ),
            (
                "CREATE VIEW v AS SELECT 1",
                What::View {
                    name: n(None, "v"),
                    materialized: false,
                    name_span: (12, 13),
                },
            ),
            (
                "CREATE MATERIALIZED VIEW IF NOT EXISTS s.m AS SELECT 1 WITH NO DATA",
                What::View {
                    name: n(Some("s"), "m"),
                    materialized: true,
                    name_span: (39, 42),
                },
            ),
            (
                "CREATE VIRTUAL TABLE IF NOT EXISTS event_search USING fts4 (event_id, body)\n/* event_search(event_id,body) */",
                What::VirtualTable {
                    name: n(None, "event_search"),
                    module: "fts4".into(),
                },
            ),
            (
                "CREATE OR REPLACE FUNCTION public.f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
                What::Function {
                    name: n(Some("public"), "f"),
                    name_span: (27, 35),
                },
            ),
            (
                "CREATE TRIGGER tr AFTER UPDATE OF a, b ON t BEGIN SELECT 1",
                What::Trigger {
                    name: "tr".into(),
                    table: n(None, "t"),
                },
            ),
            (
                "INSERT INTO t VALUES (1)",
                What::NotManaged("data statement"),
            ),
            ("CREATE TABLE sqlite_sequence(name,seq)", What::Skipped),
            ("PRAGMA foreign_keys=OFF", What::Skipped),
            ("GRANT ALL ON TABLE public.t TO app", What::Skipped),
            (
                "COMMENT ON TABLE public.t IS 'x; y'",
                What::Comment {
                    target: "TABLE public.t".into(),
                    value: "'x; y'".into(),
                },
            ),
            (
                "COMMENT ON CONSTRAINT c ON DOMAIN public.d IS NULL",
                What::Comment {
                    target: "CONSTRAINT c ON DOMAIN public.d".into(),
                    value: "NULL".into(),
                },
            ),
            (
                "CREATE EVENT TRIGGER w ON sql_drop EXECUTE FUNCTION f()",
                What::Other {
                    kind: OtherKind::EventTrigger,
                    name: n(None, "w"),
                },
            ),
            (
                "CREATE RULE r AS ON INSERT TO s.t DO ALSO NOTIFY t",
                What::Other {
                    kind: OtherKind::Rule,
                    name: n(Some("s"), "t.r"),
                },
            ),
            (
                "CREATE TABLE public.t_2024 PARTITION OF public.t FOR VALUES FROM (1) TO (2)",
                What::Table {
                    name: n(Some("public"), "t_2024"),
                    columns: vec![],
                    constraints: vec![],
                },
            ),
        ];
        for (sql, want) in cases {
            assert_eq!(recognize(sql), want, "{sql}");
        }
    }

    #[test]
    fn columns_and_constraints_of_a_table() {
        let sql = "CREATE TABLE IF NOT EXISTS \"Users\" (\n  id integer PRIMARY KEY,\n  \"E-mail\" varchar(255) NOT NULL DEFAULT 'a,b',\n  unique text,\n  price numeric(10, 2) CHECK (price > 0),\n  CONSTRAINT u UNIQUE (\"E-mail\"),\n  UNIQUE (id, price),\n  PRIMARY KEY (id),\n  FOREIGN KEY (id) REFERENCES x(id)\n)";
        let What::Table {
            name,
            columns,
            constraints,
        } = recognize(sql)
        else {
            panic!("not a table");
        };
        assert_eq!(name, n(None, "Users"));
        let cols: Vec<(&str, &str)> = columns
            .iter()
            .map(|c| (c.name.as_str(), c.text.as_str()))
            .collect();
        assert_eq!(
            cols,
            [
                ("id", "id integer PRIMARY KEY"),
                ("E-mail", "\"E-mail\" varchar(255) NOT NULL DEFAULT 'a,b'"),
                ("unique", "unique text"),
                ("price", "price numeric(10, 2) CHECK (price > 0)"),
            ]
        );
        assert_eq!(constraints.len(), 4);
    }

    #[test]
    fn sqlite_schema_output() {
        let sql = "CREATE TABLE [order items] (`id` INTEGER, 'name' TEXT)";
        let What::Table { name, columns, .. } = recognize(sql) else {
            panic!("not a table");
        };
        assert_eq!(name.name, "order items");
        assert_eq!(columns[0].name, "id");
        // A column named with a string (SQLite accepts it) is still a column.
        assert_eq!(columns[1].name, "name");
    }
}
