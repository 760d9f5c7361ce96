//! `renaming-table`: the previous release, still running while the new one starts, names the
//! old table.

use super::{OLD_RELEASE, per_action};
use crate::lint::statement::{Action, Statement};
use crate::lint::{Context, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "renaming-table",
    catches: "`ALTER TABLE ... RENAME TO` of an existing table",
    lock: "ACCESS EXCLUSIVE on the table (briefly)",
    blocks: OLD_RELEASE,
    advice: "expand/contract: create the new table (or a view under the new name), move writers and readers in one release, drop the old name in a later one",
    check,
};

fn check(st: &Statement, cx: &Context<'_>) -> Vec<Hit> {
    per_action(st, cx, |table, a| match a {
        Action::RenameTo { to } => Some(Hit::new(format!("renames table {table} to {to}"))),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use crate::lint::test::{TX, lines};

    #[test]
    fn finds_a_renamed_table() {
        assert_eq!(
            lines(super::RULE.name, "ALTER TABLE IF EXISTS t RENAME TO u;", TX),
            [1]
        );
    }

    #[test]
    fn a_new_table_is_safe() {
        let sql = "CREATE TABLE t_new (a int);\nALTER TABLE t_new RENAME TO t2;\nALTER TABLE t2 ADD COLUMN b int NOT NULL;";
        assert!(lines(super::RULE.name, sql, TX).is_empty());
        assert!(lines("adding-required-field", sql, TX).is_empty());
    }
}
