//! `ban-drop-table`: the previous release, still running while the new one starts, uses the
//! table.

use super::OLD_RELEASE;
use crate::lint::statement::{Shape, Statement};
use crate::lint::{Context, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "ban-drop-table",
    catches: "`DROP TABLE` of a table this run does not create",
    lock: "ACCESS EXCLUSIVE on the table (briefly)",
    blocks: OLD_RELEASE,
    advice: "expand/contract: stop using the table in one release, drop it in a later one (and allow this rule there)",
    check,
};

fn check(st: &Statement, cx: &Context<'_>) -> Vec<Hit> {
    match &st.shape {
        Shape::DropTable { tables } => tables
            .iter()
            .filter(|t| !cx.new_table(t))
            .map(|t| Hit::new(format!("drops table {t}")))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test::{TX, lines};

    #[test]
    fn finds_a_dropped_table() {
        assert_eq!(
            lines(super::RULE.name, "DROP TABLE IF EXISTS a, b CASCADE;", TX),
            [1, 1]
        );
    }

    #[test]
    fn a_table_created_by_this_run_is_safe() {
        let sql = "CREATE TABLE scratch (a int);\nDROP TABLE scratch;";
        assert!(lines(super::RULE.name, sql, TX).is_empty());
    }
}
