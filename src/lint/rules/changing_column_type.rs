//! `changing-column-type`: `ALTER COLUMN ... TYPE` that rewrites the table. Not a change
//! PostgreSQL makes without a rewrite: to `text` or an unbounded `varchar` from a string,
//! widening a `varchar(n)` or a `numeric(p, s)`.

use super::per_action;
use crate::lint::statement::{Action, Statement};
use crate::lint::{Context, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "changing-column-type",
    catches: "`ALTER COLUMN ... TYPE` on an existing table, except changes that need no rewrite (varchar → text, widening varchar(n) or numeric(p, s))",
    lock: "ACCESS EXCLUSIVE on the table while it and its indexes are rewritten",
    blocks: "every read and write of the table",
    advice: "expand/contract: add a column of the new type, fill it in batches (and from a trigger or the application), switch readers to it, drop the old one in a later release",
    check,
};

fn check(st: &Statement, cx: &Context<'_>) -> Vec<Hit> {
    per_action(st, cx, |table, a| match a {
        Action::AlterType { column, ty, using } => {
            let old = cx.column_types.get(&(table.to_string(), column.clone()));
            let unknown_string_to_text = old.is_none() && !using && is_unbounded_string(ty);
            if unknown_string_to_text || old.is_some_and(|o| !*using && coercible(o, ty)) {
                return None;
            }
            let from = old.map(|o| format!(" from {o}")).unwrap_or_default();
            Some(Hit::new(format!(
                "changes the type of {table}.{column}{from} to {ty}"
            )))
        }
        _ => None,
    })
}

/// A type as a name and its modifiers: `character varying(20)` → ("varchar", [20]).
fn parts(ty: &str) -> (String, Vec<u32>) {
    let (name, mods) = match ty.split_once('(') {
        Some((n, m)) => (n, m.trim_end_matches(')')),
        None => (ty, ""),
    };
    let name = match name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .as_str()
    {
        "character varying" => "varchar".to_string(),
        "decimal" => "numeric".to_string(),
        n => n.to_string(),
    };
    let mods = mods
        .split(',')
        .filter_map(|m| m.trim().parse().ok())
        .collect();
    (name, mods)
}

fn is_unbounded_string(ty: &str) -> bool {
    let (name, mods) = parts(ty);
    name == "text" || (name == "varchar" && mods.is_empty())
}

/// Whether PostgreSQL changes `old` to `new` without rewriting the table.
fn coercible(old: &str, new: &str) -> bool {
    let (o, om) = parts(old);
    let (n, nm) = parts(new);
    match (o.as_str(), n.as_str()) {
        ("varchar" | "text", _) if is_unbounded_string(new) => true,
        ("varchar", "varchar") => matches!((om.first(), nm.first()), (Some(a), Some(b)) if b >= a),
        ("numeric", "numeric") => match (om.as_slice(), nm.as_slice()) {
            (_, []) => true,
            ([p, s], [p2, s2]) => s == s2 && p2 >= p,
            ([p], [p2]) => p2 >= p,
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test::{TX, lines, lines_in};

    #[test]
    fn finds_a_rewriting_type_change() {
        let sql = "ALTER TABLE t ALTER COLUMN a TYPE bigint;\n\
                   ALTER TABLE t ALTER COLUMN b TYPE text USING b::text;\n\
                   ALTER TABLE t ALTER COLUMN c SET DATA TYPE varchar(10);";
        assert_eq!(lines(super::RULE.name, sql, TX), [1, 2, 3]);
        let files = [
            "ALTER TABLE t ADD COLUMN a varchar(50);",
            "ALTER TABLE t ALTER a TYPE varchar(20);",
        ];
        assert_eq!(lines_in(super::RULE.name, &files, TX), [1]);
    }

    #[test]
    fn a_change_without_rewrite_or_a_new_table_is_safe() {
        let files = [
            "ALTER TABLE t ADD COLUMN a varchar(20);\nALTER TABLE t ADD COLUMN n numeric(10, 2);",
            "ALTER TABLE t ALTER a TYPE character varying(50), ALTER n TYPE numeric(12, 2);",
            "ALTER TABLE t ALTER a TYPE text;\nALTER TABLE t ALTER COLUMN b TYPE varchar;",
        ];
        assert!(lines_in(super::RULE.name, &files, TX).is_empty());
        let sql = "CREATE TABLE t (a int);\nALTER TABLE t ALTER a TYPE bigint;";
        assert!(lines(super::RULE.name, sql, TX).is_empty());
    }

    #[test]
    fn the_database_says_what_the_column_is() {
        let server = |ty: &str| crate::lint::Server {
            column_types: [(("t".into(), "a".into()), ty.into())].into(),
            ..crate::lint::Server::of(TX.version)
        };
        let files = ["ALTER TABLE t ALTER COLUMN a TYPE varchar(50);"];
        let on = |ty| crate::lint::test::lines_on(super::RULE.name, &files, TX, &server(ty));
        assert!(on("character varying(20)").is_empty());
        assert_eq!(on("character varying(80)"), [1]);
        assert_eq!(on("integer"), [1]);
        let files = ["ALTER TABLE t ALTER COLUMN a TYPE text;"];
        let on = |ty| crate::lint::test::lines_on(super::RULE.name, &files, TX, &server(ty));
        assert!(on("character varying(20)").is_empty());
        assert_eq!(on("integer"), [1]);
    }
}
