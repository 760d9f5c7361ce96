//! `ban-vacuum-full`: `VACUUM FULL` rewrites the table under its strongest lock.

use crate::lint::statement::{Shape, Statement};
use crate::lint::{Context, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "ban-vacuum-full",
    catches: "`VACUUM FULL`",
    lock: "ACCESS EXCLUSIVE on each table while it is rewritten",
    blocks: "every read and write of the table",
    advice: "plain `VACUUM` (it blocks no reads or writes), or pg_repack / pg_squeeze to give the space back online",
    check,
};

fn check(st: &Statement, cx: &Context<'_>) -> Vec<Hit> {
    match &st.shape {
        Shape::VacuumFull { table } if !table.as_ref().is_some_and(|t| cx.new_table(t)) => {
            vec![Hit::new("rewrites the table with VACUUM FULL")]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test::{NO_TX, lines};

    #[test]
    fn finds_vacuum_full() {
        assert_eq!(
            lines(super::RULE.name, "VACUUM (FULL, VERBOSE) t;", NO_TX),
            [1]
        );
    }

    #[test]
    fn plain_vacuum_or_a_new_table_is_safe() {
        assert!(lines(super::RULE.name, "VACUUM (ANALYZE) t;\nVACUUM t;", NO_TX).is_empty());
        let sql = "CREATE TABLE t (a int);\nVACUUM FULL t;";
        assert!(lines(super::RULE.name, sql, NO_TX).is_empty());
    }
}
