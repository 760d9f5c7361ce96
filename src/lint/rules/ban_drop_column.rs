//! `ban-drop-column`: the previous release, still running while the new one starts, reads and
//! writes the column.

use super::{OLD_RELEASE, per_action};
use crate::lint::statement::{Action, Statement};
use crate::lint::{Context, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "ban-drop-column",
    catches: "`ALTER TABLE ... DROP COLUMN` on an existing table",
    lock: "ACCESS EXCLUSIVE on the table (briefly)",
    blocks: OLD_RELEASE,
    advice: "expand/contract: stop reading and writing the column in one release, drop it in a later one (and allow this rule there)",
    check,
};

fn check(st: &Statement, cx: &Context<'_>) -> Vec<Hit> {
    per_action(st, cx, |table, a| match a {
        Action::DropColumn { column } => Some(Hit::new(format!("drops column {table}.{column}"))),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use crate::lint::test::{TX, lines};

    #[test]
    fn finds_a_dropped_column() {
        let sql = "ALTER TABLE t DROP COLUMN a, DROP b;\nALTER TABLE t DROP CONSTRAINT c;";
        assert_eq!(lines(super::RULE.name, sql, TX), [1, 1]);
    }

    #[test]
    fn a_new_table_is_safe() {
        let sql = "CREATE TABLE t (a int, b int);\nALTER TABLE t DROP COLUMN a;";
        assert!(lines(super::RULE.name, sql, TX).is_empty());
    }
}
