//! `renaming-column`: the previous release, still running while the new one starts, names
//! the old column.

use super::{OLD_RELEASE, per_action};
use crate::lint::statement::{Action, Statement};
use crate::lint::{Context, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "renaming-column",
    catches: "`ALTER TABLE ... RENAME COLUMN` on an existing table",
    lock: "ACCESS EXCLUSIVE on the table (briefly)",
    blocks: OLD_RELEASE,
    advice: "expand/contract: add the new column, write both from the application, fill it, move the readers, drop the old one in a later release",
    check,
};

fn check(st: &Statement, cx: &Context<'_>) -> Vec<Hit> {
    per_action(st, cx, |table, a| match a {
        Action::RenameColumn { from, to } => {
            Some(Hit::new(format!("renames column {table}.{from} to {to}")))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use crate::lint::test::{TX, lines};

    #[test]
    fn finds_a_renamed_column() {
        assert_eq!(
            lines(super::RULE.name, "ALTER TABLE t RENAME COLUMN a TO b;", TX),
            [1]
        );
        assert_eq!(
            lines(super::RULE.name, "ALTER TABLE t RENAME a TO b;", TX),
            [1]
        );
    }

    #[test]
    fn a_new_table_is_safe() {
        let sql = "CREATE TABLE t (a int);\nALTER TABLE t RENAME COLUMN a TO b;";
        assert!(lines(super::RULE.name, sql, TX).is_empty());
    }
}
