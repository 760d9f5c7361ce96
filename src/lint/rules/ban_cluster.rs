//! `ban-cluster`: `CLUSTER` rewrites the table under its strongest lock.

use crate::lint::statement::{Shape, Statement};
use crate::lint::{Context, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "ban-cluster",
    catches: "`CLUSTER`",
    lock: "ACCESS EXCLUSIVE on the table while it is rewritten in index order",
    blocks: "every read and write of the table",
    advice: "pg_repack (`--order-by`) reorders a table online",
    check,
};

fn check(st: &Statement, cx: &Context<'_>) -> Vec<Hit> {
    match &st.shape {
        Shape::Cluster { table } if !table.as_ref().is_some_and(|t| cx.new_table(t)) => {
            vec![Hit::new("rewrites the table with CLUSTER")]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test::{TX, lines};

    #[test]
    fn finds_cluster() {
        assert_eq!(
            lines(super::RULE.name, "CLUSTER users USING users_pkey;", TX),
            [1]
        );
    }

    #[test]
    fn a_new_table_or_a_comment_is_safe() {
        assert!(lines(super::RULE.name, "-- CLUSTER t;\nSELECT 'CLUSTER t';", TX).is_empty());
        let sql = "CREATE TABLE t (a int);\nCLUSTER t USING t_a;";
        assert!(lines(super::RULE.name, sql, TX).is_empty());
    }
}
