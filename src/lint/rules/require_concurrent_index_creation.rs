//! `require-concurrent-index-creation`: `CREATE INDEX` without `CONCURRENTLY`.

use crate::lint::statement::{Shape, Statement};
use crate::lint::{Context, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "require-concurrent-index-creation",
    catches: "`CREATE INDEX` without `CONCURRENTLY` on a table that already exists",
    lock: "SHARE on the table for the whole build",
    blocks: "every INSERT, UPDATE and DELETE on it",
    advice: "`CREATE INDEX CONCURRENTLY`, in a migration of its own with `-- migrate:no-transaction`",
    check,
};

fn check(st: &Statement, cx: &Context<'_>) -> Vec<Hit> {
    match &st.shape {
        Shape::CreateIndex {
            table,
            concurrently: false,
            ..
        } if !cx.new_table(table) => vec![Hit::new(format!(
            "builds an index on {table} without CONCURRENTLY"
        ))],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test::{TX, lines};

    #[test]
    fn finds_an_index_on_an_existing_table() {
        assert_eq!(
            lines(
                super::RULE.name,
                "SELECT 1;\nCREATE INDEX i ON users (email);",
                TX
            ),
            [2]
        );
        assert!(
            lines(
                super::RULE.name,
                "CREATE INDEX CONCURRENTLY i ON users (email);",
                TX
            )
            .is_empty()
        );
    }

    #[test]
    fn a_table_created_by_this_run_is_safe() {
        let sql = "CREATE TABLE users (email text);\nCREATE INDEX i ON users (email);";
        assert!(lines(super::RULE.name, sql, TX).is_empty());
        let files = [
            "CREATE TABLE public.users (email text);",
            "CREATE INDEX i ON users (email);",
        ];
        assert!(crate::lint::test::lines_in(super::RULE.name, &files, TX).is_empty());
    }
}
