//! `constraint-missing-not-valid`: a `CHECK` or `FOREIGN KEY` added without `NOT VALID` (every
//! row checked under the lock), or validated in the same transaction that added it.

use super::per_action;
use crate::lint::statement::{Action, Constraint, Statement};
use crate::lint::{Context, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "constraint-missing-not-valid",
    catches: "`ADD CONSTRAINT ... CHECK` or `FOREIGN KEY` without `NOT VALID` on an existing table, or `VALIDATE CONSTRAINT` in the transaction that added it `NOT VALID`",
    lock: "ACCESS EXCLUSIVE (CHECK) or SHARE ROW EXCLUSIVE (FOREIGN KEY) on the table while every row is checked",
    blocks: "writes to the table (for CHECK reads too) for the whole scan",
    advice: "add it `NOT VALID`, then `ALTER TABLE ... VALIDATE CONSTRAINT` in a later migration: validating takes SHARE UPDATE EXCLUSIVE, which blocks no reads or writes",
    check,
};

fn check(st: &Statement, cx: &Context<'_>) -> Vec<Hit> {
    per_action(st, cx, |table, a| match a {
        Action::AddConstraint {
            kind: kind @ (Constraint::Check | Constraint::ForeignKey),
            not_valid: false,
            ..
        } => Some(Hit::new(format!(
            "adds a {} to {table} without NOT VALID",
            if *kind == Constraint::Check {
                "CHECK constraint"
            } else {
                "foreign key"
            }
        ))),
        Action::ValidateConstraint { name }
            if cx.in_transaction && cx.not_valid_here.contains(name) =>
        {
            Some(Hit::new(format!(
                "validates {name} in the transaction that added it NOT VALID, so the lock taken to add it is held through the scan"
            )))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use crate::lint::test::{NO_TX, TX, lines};

    #[test]
    fn finds_a_constraint_checked_under_the_lock() {
        let sql = "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);\n\
                   ALTER TABLE t ADD CONSTRAINT d CHECK (a > 1) NOT VALID;\n\
                   ALTER TABLE t VALIDATE CONSTRAINT d;";
        assert_eq!(lines(super::RULE.name, sql, TX), [1, 3]);
    }

    #[test]
    fn a_new_table_or_a_validation_in_its_own_transaction_is_safe() {
        let sql = "CREATE TABLE t (a int);\nALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);";
        assert!(lines(super::RULE.name, sql, TX).is_empty());
        let sql = "ALTER TABLE t ADD CONSTRAINT d CHECK (a > 1) NOT VALID;\n\
                   ALTER TABLE t VALIDATE CONSTRAINT d;";
        assert!(lines(super::RULE.name, sql, NO_TX).is_empty());
    }
}
