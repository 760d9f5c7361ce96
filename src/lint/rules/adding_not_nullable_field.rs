//! `adding-not-nullable-field`: `SET NOT NULL` without a validated `CHECK (c IS NOT NULL)`.

use super::per_action;
use crate::lint::statement::{Action, Statement};
use crate::lint::{Context, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "adding-not-nullable-field",
    catches: "`ALTER COLUMN ... SET NOT NULL` on an existing table, without a validated `CHECK (column IS NOT NULL)` added by this run",
    lock: "ACCESS EXCLUSIVE on the table while every row is scanned",
    blocks: "every read and write of the table",
    advice: "`ADD CONSTRAINT c CHECK (column IS NOT NULL) NOT VALID`; `VALIDATE CONSTRAINT c` in a later migration; then `SET NOT NULL` (PostgreSQL 12 and later use the check and skip the scan) and `DROP CONSTRAINT c`",
    check,
};

fn check(st: &Statement, cx: &Context<'_>) -> Vec<Hit> {
    per_action(st, cx, |table, a| match a {
        Action::SetNotNull { column }
            if cx.version < 120000
                || !cx
                    .checked_not_null
                    .contains(&(table.to_string(), column.clone())) =>
        {
            Some(Hit::new(format!("sets {table}.{column} NOT NULL")))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use crate::lint::test::{NO_TX, TX, lines, lines_in};

    #[test]
    fn finds_set_not_null() {
        assert_eq!(
            lines(
                super::RULE.name,
                "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
                TX
            ),
            [1]
        );
    }

    #[test]
    fn a_validated_check_or_a_new_table_is_safe() {
        let files = [
            "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;",
            "ALTER TABLE users VALIDATE CONSTRAINT email_nn;",
            "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
        ];
        assert!(lines_in(super::RULE.name, &files, NO_TX).is_empty());
        let sql = "CREATE TABLE users (email text);\nALTER TABLE users ALTER email SET NOT NULL;";
        assert!(lines(super::RULE.name, sql, TX).is_empty());
    }
}
