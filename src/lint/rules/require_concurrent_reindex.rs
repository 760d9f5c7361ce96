//! `require-concurrent-reindex`: `REINDEX` without `CONCURRENTLY`.

use crate::lint::statement::{Shape, Statement};
use crate::lint::{Context, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "require-concurrent-reindex",
    catches: "`REINDEX` without `CONCURRENTLY`, of an index or table this run does not create",
    lock: "ACCESS EXCLUSIVE on the index and SHARE on its table while it is rebuilt",
    blocks: "writes to the table, and reads that use the index",
    advice: "`REINDEX ... CONCURRENTLY` (PostgreSQL 12 and later) in a migration of its own with `-- migrate:no-transaction`",
    check,
};

fn check(st: &Statement, cx: &Context<'_>) -> Vec<Hit> {
    let Shape::Reindex {
        target,
        concurrently: false,
    } = &st.shape
    else {
        return Vec::new();
    };
    let name = target.split_whitespace().last().map(|n| {
        n.rsplit('.')
            .next()
            .unwrap_or(n)
            .trim_matches('"')
            .to_lowercase()
    });
    if name.is_some_and(|n| cx.new_indexes.contains(&n) || cx.new_table(&n)) {
        return Vec::new();
    }
    let advice = (cx.version < 120000).then(|| {
        format!(
            "PostgreSQL {} has no REINDEX CONCURRENTLY: `CREATE INDEX CONCURRENTLY` a copy, then `DROP INDEX CONCURRENTLY` the old one (`-- migrate:no-transaction`)",
            crate::lint::version_shown(cx.version)
        )
    });
    vec![Hit {
        what: format!("reindexes {target} without CONCURRENTLY"),
        advice,
    }]
}

#[cfg(test)]
mod tests {
    use crate::lint::test::{NO_TX, TX, lines, lines_in};

    #[test]
    fn finds_a_plain_reindex() {
        assert_eq!(
            lines(super::RULE.name, "REINDEX INDEX users_email;", TX),
            [1]
        );
        assert!(
            lines(
                super::RULE.name,
                "REINDEX INDEX CONCURRENTLY users_email;",
                NO_TX
            )
            .is_empty()
        );
    }

    #[test]
    fn an_index_created_by_this_run_is_safe() {
        let files = ["CREATE INDEX ix ON t (a);", "REINDEX INDEX public.ix;"];
        assert!(lines_in(super::RULE.name, &files, TX).is_empty());
    }
}
