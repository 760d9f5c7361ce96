//! The rules, one a file, each with its tests: a case it finds, and a case that the run's
//! context makes safe.

mod adding_field_with_default;
mod adding_foreign_key_constraint;
mod adding_not_nullable_field;
mod adding_required_field;
mod ban_cluster;
mod ban_concurrent_index_creation_in_transaction;
mod ban_drop_column;
mod ban_drop_table;
mod ban_vacuum_full;
mod changing_column_type;
mod constraint_missing_not_valid;
mod disallowed_unique_constraint;
mod renaming_column;
mod renaming_table;
mod require_concurrent_index_creation;
mod require_concurrent_index_deletion;
mod require_concurrent_reindex;

use super::Rule;
use super::statement::{Action, Shape, Statement};

/// Every rule, in the order findings of one statement are given.
pub static ALL: &[Rule] = &[
    require_concurrent_index_creation::RULE,
    require_concurrent_index_deletion::RULE,
    ban_concurrent_index_creation_in_transaction::RULE,
    constraint_missing_not_valid::RULE,
    adding_foreign_key_constraint::RULE,
    adding_not_nullable_field::RULE,
    changing_column_type::RULE,
    adding_field_with_default::RULE,
    adding_required_field::RULE,
    disallowed_unique_constraint::RULE,
    renaming_column::RULE,
    renaming_table::RULE,
    ban_drop_column::RULE,
    ban_drop_table::RULE,
    require_concurrent_reindex::RULE,
    ban_vacuum_full::RULE,
    ban_cluster::RULE,
];

/// What `hit` finds in each action of an `ALTER TABLE` on a table this run does not create
/// (given the table's name and the action); nothing for any other statement.
fn per_action(
    st: &Statement,
    cx: &super::Context<'_>,
    hit: impl Fn(&str, &Action) -> Option<super::Hit>,
) -> Vec<super::Hit> {
    match &st.shape {
        Shape::AlterTable { table, actions } if !cx.new_table(table) => {
            actions.iter().filter_map(|a| hit(table, a)).collect()
        }
        _ => Vec::new(),
    }
}

/// What the rules that break the previous release say about it.
const OLD_RELEASE: &str = "nothing in the database for long, but the replicas still running the previous release fail: their queries name what it changes";
