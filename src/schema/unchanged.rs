//! The declared tables, triggers and policies a probe may leave out: those whose declaration,
//! and what the database has of them, are as they were after the last run that found no
//! difference on them. Their digests are kept in the state row, on the line after the live
//! schema's fingerprint, so that a change to one table of many probes that table alone. Pure.

use std::collections::BTreeSet;

use super::diff::Diff;
use super::model::{Live, Model, Table, Trigger};

/// A table's digest: its declaration (its statements and indexes), the database's columns and
/// indexes of it, and where names without a schema go.
pub fn digest(t: &Table, live: &Live) -> String {
    let indexes: Vec<_> = live
        .indexes
        .iter()
        .filter(|(_, i)| i.table == t.name)
        .map(|(n, i)| (n, &i.definition, i.valid))
        .collect();
    let text = format!(
        "{t:?}\n{:?}\n{indexes:?}\n{:?}",
        live.tables.get(&t.name),
        live.default_schema
    );
    crate::source::checksum(text.as_bytes())[..16].to_string()
}

/// A trigger's or a policy's digest: its declaration and the database's definition of it.
fn on_table_digest(
    t: &Trigger,
    defs: &std::collections::BTreeMap<(super::Name, String), String>,
) -> String {
    let def = defs.get(&(t.table.clone(), t.name.clone()));
    let text = format!("{}\n{def:?}", t.sql);
    crate::source::checksum(text.as_bytes())[..16].to_string()
}

/// The state row's description: the fingerprint, then the digests on a line of their own.
pub fn state(fingerprint: &str, digests: &[String]) -> String {
    if digests.is_empty() {
        return fingerprint.to_string();
    }
    format!("{fingerprint}\n{}", digests.join(" "))
}

/// The fingerprint a state row's description holds.
pub fn fingerprint_of(description: &str) -> &str {
    description.split('\n').next().unwrap_or("")
}

/// The digests a state row's description holds.
pub fn digests_of(description: &str) -> BTreeSet<&str> {
    description
        .split_once('\n')
        .map(|(_, d)| d.split(' ').filter(|d| !d.is_empty()).collect())
        .unwrap_or_default()
}

/// `model` with only the tables, triggers and policies a probe must build: those there whose
/// digest is not `kept`.
pub fn to_probe(model: &Model, live: &Live, kept: &BTreeSet<&str>) -> Model {
    let mut m = model.clone();
    m.tables
        .retain(|t| live.tables.contains_key(&t.name) && !kept.contains(digest(t, live).as_str()));
    m.triggers
        .retain(|t| !kept.contains(on_table_digest(t, &live.trigger_defs).as_str()));
    m.policies
        .retain(|t| !kept.contains(on_table_digest(t, &live.policy_defs).as_str()));
    m
}

/// The digests to keep after a run: each declared table, trigger and policy that is there and
/// has no difference.
pub fn to_keep(model: &Model, live: &Live, diff: &Diff) -> Vec<String> {
    model
        .tables
        .iter()
        .filter(|t| live.tables.contains_key(&t.name))
        .filter(|t| {
            !diff
                .differences
                .iter()
                .any(|d| d.table.as_ref() == Some(&t.name))
        })
        .map(|t| digest(t, live))
        .chain(on_table_kept(
            &model.triggers,
            "trigger",
            &live.trigger_defs,
            diff,
        ))
        .chain(on_table_kept(
            &model.policies,
            "policy",
            &live.policy_defs,
            diff,
        ))
        .collect()
}

/// The digests of the triggers or policies there without a difference (`kind {name} on ...`).
fn on_table_kept<'a>(
    objects: &'a [Trigger],
    kind: &'a str,
    defs: &'a std::collections::BTreeMap<(super::Name, String), String>,
    diff: &'a Diff,
) -> impl Iterator<Item = String> + 'a {
    objects
        .iter()
        .filter(|t| defs.contains_key(&(t.table.clone(), t.name.clone())))
        .filter(move |t| {
            let object = format!("{kind} {} on ", t.name);
            !diff
                .differences
                .iter()
                .any(|d| d.object.starts_with(&object))
        })
        .map(|t| on_table_digest(t, defs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::diff::Difference;
    use crate::schema::model::LiveColumn;

    fn column(name: &str) -> LiveColumn {
        LiveColumn {
            name: name.into(),
            data_type: "integer".into(),
            not_null: false,
            default: None,
            primary_key: false,
            generated: None,
        }
    }

    #[test]
    fn only_what_changed_is_probed_again() {
        let m = Model::of_postgres(
            "CREATE TABLE a (x int);\nCREATE TABLE b (x int);\nCREATE TABLE c (x int);",
        );
        let mut live = Live::default();
        for t in &m.tables[..2] {
            live.tables.insert(t.name.clone(), vec![column("x")]);
        }
        let mut diff = Diff::default();
        diff.differences.push(Difference {
            file: "s.sql".into(),
            object: "column b.x".into(),
            text: String::new(),
            table: Some(m.tables[1].name.clone()),
        });
        // `a` is kept; `b` differs and `c` is not there: neither is.
        let kept = to_keep(&m, &live, &diff);
        assert_eq!(kept, [digest(&m.tables[0], &live)]);
        let description = state("pg:1:2", &kept);
        assert_eq!(fingerprint_of(&description), "pg:1:2");
        let set = digests_of(&description);
        let names = |m: &Model| {
            m.tables
                .iter()
                .map(|t| t.name.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&to_probe(&m, &live, &set)), ["b"]);
        // The database's `a` changes: probed again; so is a changed declaration of it.
        live.tables
            .get_mut(&m.tables[0].name)
            .unwrap()
            .push(column("y"));
        assert_eq!(names(&to_probe(&m, &live, &set)), ["a", "b"]);
        let m2 = Model::of_postgres("CREATE TABLE a (x int, z int);\nCREATE TABLE b (x int);");
        live.tables.get_mut(&m.tables[0].name).unwrap().pop();
        assert_eq!(names(&to_probe(&m2, &live, &set)), ["a", "b"]);
        assert_eq!(fingerprint_of("pg:1:2"), "pg:1:2");
        assert!(digests_of("pg:1:2").is_empty());
    }
}
