//! `adding-foreign-key-constraint`: a foreign key added without `NOT VALID`.

use super::per_action;
use crate::lint::statement::{Action, Constraint, Statement};
use crate::lint::{Context, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "adding-foreign-key-constraint",
    catches: "a foreign key (`ADD CONSTRAINT ... FOREIGN KEY`, `ADD COLUMN ... REFERENCES`) without `NOT VALID` on an existing table",
    lock: "SHARE ROW EXCLUSIVE on both tables while every row is checked",
    blocks: "writes to both tables",
    advice: "add it `NOT VALID` in one migration and `VALIDATE CONSTRAINT` it in a later one",
    check,
};

fn check(st: &Statement, cx: &Context<'_>) -> Vec<Hit> {
    per_action(st, cx, |table, a| match a {
        Action::AddConstraint {
            kind: Constraint::ForeignKey,
            not_valid: false,
            ..
        } => Some(Hit::new(format!("adds a foreign key to {table}"))),
        Action::AddColumn(c) if c.references => Some(Hit::new(format!(
            "adds column {}.{} with a foreign key",
            table, c.column
        ))),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use crate::lint::test::{TX, lines};

    #[test]
    fn finds_a_foreign_key() {
        let sql = "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);\n\
                   ALTER TABLE orders ADD COLUMN shop_id bigint REFERENCES shops (id);\n\
                   ALTER TABLE orders ADD CONSTRAINT fk2 FOREIGN KEY (x) REFERENCES y (id) NOT VALID;";
        assert_eq!(lines(super::RULE.name, sql, TX), [1, 2]);
    }

    #[test]
    fn a_new_table_is_safe() {
        let files = [
            "CREATE TABLE orders (id bigint, user_id bigint);",
            "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);",
        ];
        assert!(crate::lint::test::lines_in(super::RULE.name, &files, TX).is_empty());
    }
}
