//! `disallowed-unique-constraint`: `UNIQUE` or `PRIMARY KEY` added without `USING INDEX`: the
//! index is built under the table's strongest lock.

use super::per_action;
use crate::lint::statement::{Action, Constraint, Statement};
use crate::lint::{Context, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "disallowed-unique-constraint",
    catches: "`ADD CONSTRAINT ... UNIQUE` or `PRIMARY KEY` (or a column added `UNIQUE`) without `USING INDEX` on an existing table",
    lock: "ACCESS EXCLUSIVE on the table while the unique index is built",
    blocks: "every read and write of the table",
    advice: "`CREATE UNIQUE INDEX CONCURRENTLY` in a `-- migrate:no-transaction` migration, then `ADD CONSTRAINT ... UNIQUE USING INDEX` (or `PRIMARY KEY USING INDEX`)",
    check,
};

fn check(st: &Statement, cx: &Context<'_>) -> Vec<Hit> {
    per_action(st, cx, |table, a| match a {
        Action::AddConstraint {
            kind: kind @ (Constraint::Unique | Constraint::PrimaryKey),
            using_index: false,
            ..
        } => Some(Hit::new(format!(
            "adds a {} to {table} without USING INDEX",
            if *kind == Constraint::Unique {
                "UNIQUE constraint"
            } else {
                "PRIMARY KEY"
            }
        ))),
        Action::AddColumn(c) if c.unique => Some(Hit::new(format!(
            "adds column {table}.{} with a unique index",
            c.column
        ))),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use crate::lint::test::{TX, lines};

    #[test]
    fn finds_a_unique_constraint_built_under_the_lock() {
        let sql = "ALTER TABLE t ADD CONSTRAINT u UNIQUE (a);\n\
                   ALTER TABLE t ADD PRIMARY KEY (id);\n\
                   ALTER TABLE t ADD CONSTRAINT u2 UNIQUE USING INDEX u2_ix;";
        assert_eq!(lines(super::RULE.name, sql, TX), [1, 2]);
    }

    #[test]
    fn a_new_table_is_safe() {
        let sql = "CREATE TABLE t (a int);\nALTER TABLE t ADD CONSTRAINT u UNIQUE (a);";
        assert!(lines(super::RULE.name, sql, TX).is_empty());
    }
}
