//! What one statement does, as far as the lint's rules care, recognised from its keywords over
//! the schema lexer's tokens. No grammar of SQL: what is not recognised is `Other`, and no rule
//! looks at it. Pure.

use crate::schema::lex::{self, Kind, Token};

/// One statement of a migration file: its text, the line of the file it starts on, and what
/// it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub text: String,
    pub line: usize,
    pub shape: Shape,
}

/// What a statement does. Names are folded as PostgreSQL folds them, without their schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    CreateTable {
        table: String,
    },
    CreateIndex {
        name: Option<String>,
        table: String,
        concurrently: bool,
    },
    DropIndex {
        names: Vec<String>,
        concurrently: bool,
    },
    DropTable {
        tables: Vec<String>,
    },
    AlterTable {
        table: String,
        actions: Vec<Action>,
    },
    Reindex {
        /// What follows `REINDEX` as written (`INDEX users_email`, `TABLE users`).
        target: String,
        concurrently: bool,
    },
    /// `VACUUM FULL`, of one table or (`None`) all of them.
    VacuumFull {
        table: Option<String>,
    },
    Cluster {
        table: Option<String>,
    },
    Other,
}

/// One action of an `ALTER TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    AddColumn(ColumnAdd),
    AlterType {
        column: String,
        /// The new type as written, lower case.
        ty: String,
        /// A `USING` expression converts the values.
        using: bool,
    },
    SetNotNull {
        column: String,
    },
    AddConstraint {
        name: Option<String>,
        kind: Constraint,
        not_valid: bool,
        using_index: bool,
        /// For `CHECK (c IS NOT NULL)`: the column.
        not_null_of: Option<String>,
    },
    ValidateConstraint {
        name: String,
    },
    RenameColumn {
        from: String,
        to: String,
    },
    RenameTo {
        to: String,
    },
    DropColumn {
        column: String,
    },
    Other,
}

/// `ADD COLUMN`: the parts the rules look at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ColumnAdd {
    pub column: String,
    /// The type as written, lower case.
    pub ty: String,
    /// The `DEFAULT` expression as written.
    pub default: Option<String>,
    /// `GENERATED ... AS IDENTITY` or `GENERATED ALWAYS AS (...) STORED`: every row is
    /// written.
    pub generated: bool,
    pub not_null: bool,
    pub references: bool,
    /// `UNIQUE` or `PRIMARY KEY` on the column.
    pub unique: bool,
}

/// The kind of a table constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    Check,
    ForeignKey,
    Unique,
    PrimaryKey,
    Exclude,
}

/// The statements of `sql`, whose first byte is on line `first_line` of its file.
pub fn statements(
    sql: &str,
    whole: &[std::ops::Range<usize>],
    first_line: usize,
) -> Vec<Statement> {
    let mut line = first_line;
    let mut at = 0;
    crate::source::statements::split_keeping(sql, whole)
        .into_iter()
        .map(|(start, text)| {
            // The line of its first token, not of the white space and comments before it.
            let toks = lex::tokens(text);
            let lead = toks.first().map_or(0, |t| t.start);
            let begin = start + lead;
            line += sql.as_bytes()[at..begin]
                .iter()
                .filter(|&&c| c == b'\n')
                .count();
            at = begin;
            let text = text[lead..].trim_end();
            Statement {
                text: text.to_string(),
                line,
                shape: shape(text),
            }
        })
        .collect()
}

/// What one statement (without its semicolon) does.
pub fn shape(sql: &str) -> Shape {
    let t = lex::tokens(sql);
    let p = P { sql, t: &t };
    match (p.upper(0).as_deref(), p.upper(1).as_deref()) {
        (Some("CREATE"), _) => p.create(),
        (Some("DROP"), Some("INDEX")) => p.drop_index(),
        (Some("DROP"), Some("TABLE")) => p.drop_table(),
        (Some("ALTER"), Some("TABLE")) => p.alter_table(),
        (Some("REINDEX"), _) => p.reindex(),
        (Some("VACUUM"), _) if p.has_word_before_name(1, "FULL") => Shape::VacuumFull {
            table: p.first_name(1),
        },
        (Some("CLUSTER"), _) => Shape::Cluster {
            table: p.first_name(1),
        },
        _ => Shape::Other,
    }
}

/// Words that end a column's type and start its constraints.
const COLUMN_CONSTRAINT: &[&str] = &[
    "CONSTRAINT",
    "NOT",
    "NULL",
    "DEFAULT",
    "CHECK",
    "UNIQUE",
    "PRIMARY",
    "REFERENCES",
    "GENERATED",
    "COLLATE",
];

/// A statement's tokens, read by position.
struct P<'a> {
    sql: &'a str,
    t: &'a [Token],
}

impl P<'_> {
    fn upper(&self, k: usize) -> Option<String> {
        self.t
            .get(k)
            .filter(|x| x.kind == Kind::Word)
            .map(|x| x.text(self.sql).to_ascii_uppercase())
    }

    fn is(&self, k: usize, kw: &str) -> bool {
        self.t.get(k).is_some_and(|x| x.is(self.sql, kw))
    }

    /// Skips the keywords `kws` in order when they are all there.
    fn skip(&self, k: usize, kws: &[&str]) -> usize {
        if kws.iter().enumerate().all(|(i, kw)| self.is(k + i, kw)) {
            k + kws.len()
        } else {
            k
        }
    }

    /// The last part of a dotted name at `k`, folded, and the index after the name.
    fn name(&self, k: usize) -> Option<(String, usize)> {
        let mut k = k;
        let mut last = self.t.get(k)?.folded(self.sql)?;
        k += 1;
        while self.t.get(k).map(|x| x.kind) == Some(Kind::Punct(b'.')) {
            last = self.t.get(k + 1)?.folded(self.sql)?;
            k += 2;
        }
        Some((last, k))
    }

    /// Names separated by commas from `k`.
    fn names(&self, k: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut k = k;
        while let Some((n, next)) = self.name(k) {
            out.push(n);
            if self.t.get(next).map(|x| x.kind) != Some(Kind::Punct(b',')) {
                break;
            }
            k = next + 1;
        }
        out
    }

    /// Whether `kw` comes after `from`, in a parenthesised option list or as a keyword, before
    /// the first name that is not a keyword of the statement's head.
    fn has_word_before_name(&self, from: usize, kw: &str) -> bool {
        let mut k = from;
        if self.t.get(k).map(|x| x.kind) == Some(Kind::Punct(b'(')) {
            let close = lex::matching(self.t, k);
            if (k..close).any(|i| self.is(i, kw)) {
                return true;
            }
            k = close + 1;
        }
        (k..self.t.len())
            .take_while(|&i| {
                self.t[i].kind == Kind::Word
                    && ["FULL", "FREEZE", "VERBOSE", "ANALYZE", "CONCURRENTLY"]
                        .iter()
                        .any(|w| self.is(i, w))
            })
            .any(|i| self.is(i, kw))
    }

    /// The first name after `from` past an option list and the head's keywords.
    fn first_name(&self, from: usize) -> Option<String> {
        let mut k = from;
        if self.t.get(k).map(|x| x.kind) == Some(Kind::Punct(b'(')) {
            k = lex::matching(self.t, k) + 1;
        }
        while ["FULL", "FREEZE", "VERBOSE", "ANALYZE"]
            .iter()
            .any(|w| self.is(k, w))
        {
            k += 1;
        }
        self.name(k).map(|(n, _)| n)
    }

    fn text(&self, from: usize, to: usize) -> String {
        if from >= to || from >= self.t.len() {
            return String::new();
        }
        let end = self.t[to.min(self.t.len()) - 1].end;
        self.sql[self.t[from].start..end].to_string()
    }

    fn create(&self) -> Shape {
        let mut k = 1;
        k = self.skip(k, &["OR", "REPLACE"]);
        while ["GLOBAL", "LOCAL", "TEMP", "TEMPORARY", "UNLOGGED", "UNIQUE"]
            .iter()
            .any(|w| self.is(k, w))
        {
            k += 1;
        }
        if self.is(k, "TABLE") {
            let k = self.skip(k + 1, &["IF", "NOT", "EXISTS"]);
            return match self.name(k) {
                Some((table, _)) => Shape::CreateTable { table },
                None => Shape::Other,
            };
        }
        if !self.is(k, "INDEX") {
            return Shape::Other;
        }
        k += 1;
        let concurrently = self.is(k, "CONCURRENTLY");
        if concurrently {
            k += 1;
        }
        k = self.skip(k, &["IF", "NOT", "EXISTS"]);
        let mut name = None;
        if !self.is(k, "ON") {
            name = self.name(k).map(|(n, next)| {
                k = next;
                n
            });
        }
        if !self.is(k, "ON") {
            return Shape::Other;
        }
        k = self.skip(k + 1, &["ONLY"]);
        match self.name(k) {
            Some((table, _)) => Shape::CreateIndex {
                name,
                table,
                concurrently,
            },
            None => Shape::Other,
        }
    }

    fn drop_index(&self) -> Shape {
        let mut k = 2;
        let concurrently = self.is(k, "CONCURRENTLY");
        if concurrently {
            k += 1;
        }
        k = self.skip(k, &["IF", "EXISTS"]);
        Shape::DropIndex {
            names: self.names(k),
            concurrently,
        }
    }

    fn drop_table(&self) -> Shape {
        let k = self.skip(2, &["IF", "EXISTS"]);
        Shape::DropTable {
            tables: self.names(k),
        }
    }

    fn reindex(&self) -> Shape {
        let concurrently = self.t.iter().any(|x| x.is(self.sql, "CONCURRENTLY"));
        let mut k = 1;
        if self.t.get(k).map(|x| x.kind) == Some(Kind::Punct(b'(')) {
            k = lex::matching(self.t, k) + 1;
        }
        let target = self
            .text(k, self.t.len())
            .split_whitespace()
            .filter(|w| !w.eq_ignore_ascii_case("CONCURRENTLY"))
            .collect::<Vec<_>>()
            .join(" ");
        Shape::Reindex {
            target,
            concurrently,
        }
    }

    fn alter_table(&self) -> Shape {
        let mut k = self.skip(2, &["IF", "EXISTS"]);
        k = self.skip(k, &["ONLY"]);
        let Some((table, mut k)) = self.name(k) else {
            return Shape::Other;
        };
        if self.t.get(k).map(|x| x.kind) == Some(Kind::Punct(b'*')) {
            k += 1;
        }
        let actions = lex::split_commas(self.t, k, self.t.len())
            .into_iter()
            .map(|(a, b)| self.action(a, b))
            .collect();
        Shape::AlterTable { table, actions }
    }

    /// One `ALTER TABLE` action, tokens `a..b`.
    fn action(&self, a: usize, b: usize) -> Action {
        let word = |k: usize| if k < b { self.upper(k) } else { None };
        match word(a).as_deref() {
            Some("ADD") => {
                let k = a + 1;
                match word(k).as_deref() {
                    Some("CONSTRAINT" | "CHECK" | "FOREIGN" | "UNIQUE" | "PRIMARY" | "EXCLUDE") => {
                        self.add_constraint(k, b)
                    }
                    _ => {
                        let k = self.skip(k, &["COLUMN"]);
                        let k = self.skip(k, &["IF", "NOT", "EXISTS"]);
                        self.add_column(k, b)
                    }
                }
            }
            Some("ALTER") => {
                let k = self.skip(a + 1, &["COLUMN"]);
                let Some(column) = self.t.get(k).and_then(|x| x.folded(self.sql)) else {
                    return Action::Other;
                };
                let k = k + 1;
                let ty_at = if self.is(k, "TYPE") {
                    Some(k + 1)
                } else if self.is(k, "SET") && self.is(k + 1, "DATA") && self.is(k + 2, "TYPE") {
                    Some(k + 3)
                } else {
                    None
                };
                if let Some(from) = ty_at {
                    let end = (from..b)
                        .find(|&i| self.is(i, "USING") || self.is(i, "COLLATE"))
                        .unwrap_or(b);
                    return Action::AlterType {
                        column,
                        ty: self.text(from, end).to_lowercase(),
                        using: (from..b).any(|i| self.is(i, "USING")),
                    };
                }
                if self.is(k, "SET") && self.is(k + 1, "NOT") && self.is(k + 2, "NULL") {
                    return Action::SetNotNull { column };
                }
                Action::Other
            }
            Some("VALIDATE") if self.is(a + 1, "CONSTRAINT") => {
                match self.t.get(a + 2).and_then(|x| x.folded(self.sql)) {
                    Some(name) => Action::ValidateConstraint { name },
                    None => Action::Other,
                }
            }
            Some("RENAME") => {
                let k = a + 1;
                if self.is(k, "TO") {
                    return match self.t.get(k + 1).and_then(|x| x.folded(self.sql)) {
                        Some(to) => Action::RenameTo { to },
                        None => Action::Other,
                    };
                }
                if self.is(k, "CONSTRAINT") {
                    return Action::Other;
                }
                let k = self.skip(k, &["COLUMN"]);
                let from = self.t.get(k).and_then(|x| x.folded(self.sql));
                let to = self.t.get(k + 2).and_then(|x| x.folded(self.sql));
                match (from, self.is(k + 1, "TO"), to) {
                    (Some(from), true, Some(to)) => Action::RenameColumn { from, to },
                    _ => Action::Other,
                }
            }
            Some("DROP") => {
                let k = a + 1;
                if ["CONSTRAINT", "DEFAULT", "NOT", "IDENTITY", "EXPRESSION"]
                    .iter()
                    .any(|w| self.is(k, w))
                {
                    return Action::Other;
                }
                let k = self.skip(k, &["COLUMN"]);
                let k = self.skip(k, &["IF", "EXISTS"]);
                match self.t.get(k).and_then(|x| x.folded(self.sql)) {
                    Some(column) if k < b => Action::DropColumn { column },
                    _ => Action::Other,
                }
            }
            _ => Action::Other,
        }
    }

    fn add_constraint(&self, a: usize, b: usize) -> Action {
        let mut k = a;
        let mut name = None;
        if self.is(k, "CONSTRAINT") {
            name = self.t.get(k + 1).and_then(|x| x.folded(self.sql));
            k += 2;
        }
        let kind = match self.upper(k).as_deref() {
            Some("CHECK") => Constraint::Check,
            Some("FOREIGN") => Constraint::ForeignKey,
            Some("UNIQUE") => Constraint::Unique,
            Some("PRIMARY") => Constraint::PrimaryKey,
            Some("EXCLUDE") => Constraint::Exclude,
            _ => return Action::Other,
        };
        let not_valid = (k..b).any(|i| self.is(i, "NOT") && self.is(i + 1, "VALID"));
        let using_index = (k..b).any(|i| self.is(i, "USING") && self.is(i + 1, "INDEX"));
        let paren = |i: usize, c: u8| self.t.get(i).map(|x| x.kind) == Some(Kind::Punct(c));
        let not_null_of = (kind == Constraint::Check
            && paren(k + 1, b'(')
            && self.is(k + 3, "IS")
            && self.is(k + 4, "NOT")
            && self.is(k + 5, "NULL")
            && paren(k + 6, b')'))
        .then(|| self.t.get(k + 2).and_then(|x| x.folded(self.sql)))
        .flatten();
        Action::AddConstraint {
            name,
            kind,
            not_valid,
            using_index,
            not_null_of,
        }
    }

    fn add_column(&self, a: usize, b: usize) -> Action {
        let Some(column) = self.t.get(a).and_then(|x| x.folded(self.sql)) else {
            return Action::Other;
        };
        let mut depth = 0usize;
        let mut ty_end = b;
        for i in a + 1..b {
            match self.t[i].kind {
                Kind::Punct(b'(') => depth += 1,
                Kind::Punct(b')') => depth = depth.saturating_sub(1),
                Kind::Word if depth == 0 && COLUMN_CONSTRAINT.iter().any(|w| self.is(i, w)) => {
                    ty_end = i;
                    break;
                }
                _ => {}
            }
        }
        let mut add = ColumnAdd {
            column,
            ty: self.text(a + 1, ty_end).to_lowercase(),
            ..ColumnAdd::default()
        };
        // The constraints: each starts at one of their keywords, outside parentheses.
        let mut starts = Vec::new();
        let mut depth = 0usize;
        for i in ty_end..b {
            match self.t[i].kind {
                Kind::Punct(b'(') => depth += 1,
                Kind::Punct(b')') => depth = depth.saturating_sub(1),
                // `NOT NULL`'s `NULL` belongs to its `NOT`.
                Kind::Word
                    if depth == 0
                        && COLUMN_CONSTRAINT.iter().any(|w| self.is(i, w))
                        && !(self.is(i, "NULL") && i > 0 && self.is(i - 1, "NOT")) =>
                {
                    starts.push(i);
                }
                _ => {}
            }
        }
        for (n, &s) in starts.iter().enumerate() {
            let end = starts.get(n + 1).copied().unwrap_or(b);
            match self.upper(s).as_deref() {
                Some("DEFAULT") => add.default = Some(self.text(s + 1, end)),
                Some("NOT") if self.is(s + 1, "NULL") => add.not_null = true,
                Some("REFERENCES") => add.references = true,
                Some("UNIQUE") => add.unique = true,
                Some("PRIMARY") => {
                    add.unique = true;
                    add.not_null = true;
                }
                Some("GENERATED") => add.generated = true,
                _ => {}
            }
        }
        Action::AddColumn(add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(
            shape("create unique index concurrently if not exists ix on only public.\"Users\" (a)"),
            Shape::CreateIndex {
                name: Some("ix".into()),
                table: "Users".into(),
                concurrently: true
            }
        );
        assert_eq!(
            shape("CREATE INDEX ON t (a)"),
            Shape::CreateIndex {
                name: None,
                table: "t".into(),
                concurrently: false
            }
        );
        assert_eq!(
            shape("DROP INDEX IF EXISTS a, s.b CASCADE"),
            Shape::DropIndex {
                names: vec!["a".into(), "b".into()],
                concurrently: false
            }
        );
        assert_eq!(
            shape("CREATE TEMP TABLE IF NOT EXISTS x (a int)"),
            Shape::CreateTable { table: "x".into() }
        );
        let full = |t: Option<&str>| Shape::VacuumFull {
            table: t.map(Into::into),
        };
        assert_eq!(shape("VACUUM (FULL, ANALYZE) t"), full(Some("t")));
        assert_eq!(shape("VACUUM FULL s.t"), full(Some("t")));
        assert_eq!(shape("VACUUM full"), full(None));
        assert_eq!(shape("VACUUM t"), Shape::Other);
        assert_eq!(shape("VACUUM full_names"), Shape::Other);
        let Shape::AlterTable { table, actions } = shape(
            "ALTER TABLE ONLY users ADD COLUMN IF NOT EXISTS n numeric(10, 2) NOT NULL DEFAULT 0 CHECK (n > 0), \
             ALTER COLUMN a TYPE varchar(20) USING a::varchar(20), ALTER b SET NOT NULL, \
             ADD CONSTRAINT fk FOREIGN KEY (x) REFERENCES y (id) NOT VALID, ADD UNIQUE USING INDEX u, \
             VALIDATE CONSTRAINT fk, RENAME COLUMN c TO d, DROP COLUMN IF EXISTS e, DROP CONSTRAINT z",
        ) else {
            panic!()
        };
        assert_eq!(table, "users");
        assert_eq!(
            actions,
            [
                Action::AddColumn(ColumnAdd {
                    column: "n".into(),
                    ty: "numeric(10, 2)".into(),
                    default: Some("0".into()),
                    not_null: true,
                    ..ColumnAdd::default()
                }),
                Action::AlterType {
                    column: "a".into(),
                    ty: "varchar(20)".into(),
                    using: true
                },
                Action::SetNotNull { column: "b".into() },
                Action::AddConstraint {
                    name: Some("fk".into()),
                    kind: Constraint::ForeignKey,
                    not_valid: true,
                    using_index: false,
                    not_null_of: None
                },
                Action::AddConstraint {
                    name: None,
                    kind: Constraint::Unique,
                    not_valid: false,
                    using_index: true,
                    not_null_of: None
                },
                Action::ValidateConstraint { name: "fk".into() },
                Action::RenameColumn {
                    from: "c".into(),
                    to: "d".into()
                },
                Action::DropColumn { column: "e".into() },
                Action::Other,
            ]
        );
        assert_eq!(
            shape("ALTER TABLE a RENAME TO b"),
            Shape::AlterTable {
                table: "a".into(),
                actions: vec![Action::RenameTo { to: "b".into() }]
            }
        );
    }

    #[test]
    fn lines_of_statements() {
        let sql = "-- a note\nCREATE TABLE t (a int);\n\n  /* x */ CREATE INDEX i\n ON t (a);\nSELECT ';\n';\nSELECT 2;";
        let lines: Vec<usize> = statements(sql, &[], 3).iter().map(|s| s.line).collect();
        assert_eq!(lines, [4, 6, 8, 10]);
        assert_eq!(statements(sql, &[], 1)[1].text, "CREATE INDEX i\n ON t (a)");
    }
}
