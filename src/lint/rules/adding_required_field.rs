//! `adding-required-field`: `ADD COLUMN ... NOT NULL` without a default.

use super::per_action;
use crate::lint::statement::{Action, Statement};
use crate::lint::{Context, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "adding-required-field",
    catches: "`ADD COLUMN ... NOT NULL` without a `DEFAULT` on an existing table",
    lock: "ACCESS EXCLUSIVE on the table",
    blocks: "every read and write while it runs; it fails on a table with rows, and the previous release's INSERTs, which do not name the column, fail after it",
    advice: "add it with a constant `DEFAULT` (no rewrite on PostgreSQL 11 and later), or nullable, filled in batches, then made NOT NULL through a validated CHECK",
    check,
};

fn check(st: &Statement, cx: &Context<'_>) -> Vec<Hit> {
    per_action(st, cx, |table, a| match a {
        Action::AddColumn(c)
            if c.not_null && c.default.is_none() && !c.generated && !c.ty.contains("serial") =>
        {
            Some(Hit::new(format!(
                "adds column {table}.{} NOT NULL without a default",
                c.column
            )))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use crate::lint::test::{TX, lines};

    #[test]
    fn finds_a_required_column() {
        let sql = "ALTER TABLE t ADD COLUMN a int NOT NULL;\nALTER TABLE t ADD COLUMN b int NOT NULL DEFAULT 0;";
        assert_eq!(lines(super::RULE.name, sql, TX), [1]);
    }

    #[test]
    fn a_new_table_is_safe() {
        let files = [
            "CREATE TABLE t (id int);",
            "ALTER TABLE t ADD COLUMN a int NOT NULL;",
        ];
        assert!(crate::lint::test::lines_in(super::RULE.name, &files, TX).is_empty());
    }
}
