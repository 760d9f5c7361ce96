//! `require-concurrent-index-deletion`: `DROP INDEX` without `CONCURRENTLY`.

use crate::lint::statement::{Shape, Statement};
use crate::lint::{Context, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "require-concurrent-index-deletion",
    catches: "`DROP INDEX` without `CONCURRENTLY`, of an index this run does not create",
    lock: "ACCESS EXCLUSIVE on the index's table",
    blocks: "every read and write of that table, and everything queued behind it",
    advice: "`DROP INDEX CONCURRENTLY`, in a migration of its own with `-- migrate:no-transaction`",
    check,
};

fn check(st: &Statement, cx: &Context<'_>) -> Vec<Hit> {
    match &st.shape {
        Shape::DropIndex {
            names,
            concurrently: false,
        } => names
            .iter()
            .filter(|n| !cx.new_indexes.contains(*n))
            .map(|n| Hit::new(format!("drops index {n} without CONCURRENTLY")))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test::{TX, lines};

    #[test]
    fn finds_a_plain_drop_index() {
        assert_eq!(
            lines(super::RULE.name, "DROP INDEX IF EXISTS users_email;", TX),
            [1]
        );
        assert!(lines(super::RULE.name, "DROP INDEX CONCURRENTLY users_email;", TX).is_empty());
    }

    #[test]
    fn an_index_created_by_this_run_is_safe() {
        let files = ["CREATE INDEX tmp_ix ON t (a);", "DROP INDEX tmp_ix;"];
        assert!(crate::lint::test::lines_in(super::RULE.name, &files, TX).is_empty());
    }
}
