//! `ban-concurrent-index-creation-in-transaction`: `CONCURRENTLY` in a file we run in a
//! transaction, where PostgreSQL refuses it.

use crate::lint::statement::{Shape, Statement};
use crate::lint::{Context, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "ban-concurrent-index-creation-in-transaction",
    catches: "`CREATE INDEX CONCURRENTLY` (or `DROP INDEX` / `REINDEX ... CONCURRENTLY`) in a file that runs in a transaction",
    lock: "nothing: PostgreSQL refuses it (25001: cannot run inside a transaction block)",
    blocks: "the migration, which fails",
    advice: "put `-- migrate:no-transaction` at the top of the file (goose: `-- +goose NO TRANSACTION`), best with that statement alone in its file",
    check,
};

fn check(st: &Statement, cx: &Context<'_>) -> Vec<Hit> {
    if !cx.in_transaction {
        return Vec::new();
    }
    let what = match &st.shape {
        Shape::CreateIndex {
            concurrently: true,
            table,
            ..
        } => format!("builds an index on {table} CONCURRENTLY"),
        Shape::DropIndex {
            concurrently: true, ..
        } => "drops an index CONCURRENTLY".into(),
        Shape::Reindex {
            concurrently: true, ..
        } => "reindexes CONCURRENTLY".into(),
        _ => return Vec::new(),
    };
    vec![Hit::new(format!(
        "{what} in a file that runs in a transaction"
    ))]
}

#[cfg(test)]
mod tests {
    use crate::lint::test::{NO_TX, TX, lines};

    #[test]
    fn finds_concurrently_in_a_transaction() {
        let sql = "CREATE INDEX CONCURRENTLY i ON t (a);\nDROP INDEX CONCURRENTLY j;";
        assert_eq!(lines(super::RULE.name, sql, TX), [1, 2]);
    }

    #[test]
    fn a_no_transaction_file_is_safe() {
        let sql = "CREATE INDEX CONCURRENTLY i ON t (a);\nREINDEX INDEX CONCURRENTLY i;";
        assert!(lines(super::RULE.name, sql, NO_TX).is_empty());
    }
}
