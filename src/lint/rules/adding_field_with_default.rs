//! `adding-field-with-default`: `ADD COLUMN` whose default is computed row by row (a volatile
//! function, a serial, a generated or identity column), or any default before PostgreSQL 11:
//! every row is rewritten.

use super::per_action;
use crate::lint::statement::{Action, ColumnAdd, Statement};
use crate::lint::{Context, Hit, Rule};
use crate::schema::lex::{self, Kind};

pub const RULE: Rule = Rule {
    name: "adding-field-with-default",
    catches: "`ADD COLUMN` with a volatile default (`gen_random_uuid()`, `clock_timestamp()`, a serial, a generated or identity column) on an existing table, or with any default before PostgreSQL 11",
    lock: "ACCESS EXCLUSIVE on the table while every row is rewritten",
    blocks: "every read and write of the table",
    advice: "add the column without the default (or with a constant one, on PostgreSQL 11 and later), fill it in batches, then `ALTER COLUMN ... SET DEFAULT`",
    check,
};

/// Functions a default may call without rewriting the table (stable or immutable).
const NOT_VOLATILE: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtime",
    "localtimestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "current_user",
    "current_schema",
    "lower",
    "upper",
    "coalesce",
    "nullif",
    "greatest",
    "least",
    "concat",
    "length",
    "abs",
    "round",
    "to_json",
    "to_jsonb",
    "json_build_object",
    "jsonb_build_object",
    "json_build_array",
    "jsonb_build_array",
    "array",
    "make_interval",
    "make_date",
    "make_timestamp",
    "make_timestamptz",
    "date_trunc",
    "to_char",
    "to_timestamp",
    "interval",
    "timezone",
];

fn check(st: &Statement, cx: &Context<'_>) -> Vec<Hit> {
    per_action(st, cx, |table, a| match a {
        Action::AddColumn(c) => rewrites(c, cx.version)
            .map(|why| Hit::new(format!("adds column {table}.{} {why}", c.column))),
        _ => None,
    })
}

/// Why adding the column writes every row, if it does.
fn rewrites(c: &ColumnAdd, version: u32) -> Option<String> {
    let ty = c.ty.trim();
    if [
        "serial",
        "bigserial",
        "smallserial",
        "serial4",
        "serial8",
        "serial2",
    ]
    .contains(&ty)
    {
        return Some(format!("as {ty}, whose nextval() default is volatile"));
    }
    if c.generated {
        return Some("as a generated or identity column, computed for every row".into());
    }
    let default = c.default.as_deref()?;
    if version < 110000 {
        return Some(format!(
            "with a default, on PostgreSQL {} (before 11 every default rewrites the table)",
            crate::lint::version_shown(version)
        ));
    }
    volatile_call(default).map(|f| format!("with the volatile default {f}()"))
}

/// The first function `expr` calls that is not known to be stable or immutable.
fn volatile_call(expr: &str) -> Option<String> {
    let t = lex::tokens(expr);
    t.iter().enumerate().find_map(|(k, tok)| {
        let call = tok.kind == Kind::Word
            && t.get(k + 1).map(|x| x.kind) == Some(Kind::Punct(b'('))
            // A type's modifiers after a cast: `::numeric(10, 2)`.
            && !(k > 0 && t[k - 1].kind == Kind::Punct(b':'));
        let name = tok.text(expr).to_ascii_lowercase();
        (call && !NOT_VOLATILE.contains(&name.as_str())).then_some(name)
    })
}

#[cfg(test)]
mod tests {
    use crate::lint::test::{Run, TX, lines};

    #[test]
    fn finds_a_volatile_default() {
        let sql = "ALTER TABLE t ADD COLUMN id uuid DEFAULT gen_random_uuid();\n\
                   ALTER TABLE t ADD COLUMN n bigserial;\n\
                   ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a + 1) STORED;\n\
                   ALTER TABLE t ADD COLUMN at timestamptz DEFAULT now();\n\
                   ALTER TABLE t ADD COLUMN s text DEFAULT 'x'::varchar(3);";
        assert_eq!(lines(super::RULE.name, sql, TX), [1, 2, 3]);
        let old = Run {
            version: 100023,
            ..TX
        };
        assert_eq!(
            lines(
                super::RULE.name,
                "ALTER TABLE t ADD COLUMN a int DEFAULT 0;",
                old
            ),
            [1]
        );
    }

    #[test]
    fn a_new_table_or_a_current_server_is_safe() {
        let sql =
            "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN id uuid DEFAULT gen_random_uuid();";
        assert!(lines(super::RULE.name, sql, TX).is_empty());
        assert!(
            lines(
                super::RULE.name,
                "ALTER TABLE t ADD COLUMN a int DEFAULT 0;",
                TX
            )
            .is_empty()
        );
    }
}
