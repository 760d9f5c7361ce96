//! `plan --rehearse`: each pending migration's statements run one by one in a transaction that
//! is always rolled back, each followed by what it did: the locks our session took on tables
//! and indexes (`pg_locks`), the relations it rewrote (`relfilenode` changed), how long it took.
//! A migration that needs what an earlier pending one makes (it fails on its own) is rehearsed
//! again after those, in the same rolled-back transaction: it sees what they made, and a lock
//! they took already is not listed again for it (said in its report).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use postgres::{Client, SimpleQueryMessage};

use crate::backend::{Rehearsal, Rehearsed};
use crate::source::Body;

/// Rehearses the migrations; the database is left as it was.
pub fn rehearse(
    client: &mut Client,
    migrations: &[(String, Body)],
    limits: &str,
) -> Result<Vec<Rehearsal>, String> {
    let fail = |e: postgres::Error| super::message(&e, "");
    let mut out = Vec::new();
    for (k, (name, body)) in migrations.iter().enumerate() {
        client
            .batch_execute(&format!("BEGIN;{limits}"))
            .map_err(fail)?;
        let mut held = locks(client);
        let (mut statements, mut failed) = statements(client, body, &mut held);
        client.batch_execute("ROLLBACK").map_err(fail)?;
        let mut after_earlier = false;
        if failed && k > 0 {
            // Perhaps it needs what the earlier pending ones make: after them, then.
            client
                .batch_execute(&format!("BEGIN;{limits}"))
                .map_err(fail)?;
            let mut quiet = locks(client);
            let earlier_ok = migrations[..k]
                .iter()
                .all(|(_, b)| !self::statements(client, b, &mut quiet).1);
            if earlier_ok {
                let (again, still) = self::statements(client, body, &mut quiet);
                if !still {
                    (statements, failed, after_earlier) = (again, false, true);
                }
            }
            client.batch_execute("ROLLBACK").map_err(fail)?;
        }
        // What this one took (in a real run each migration commits, letting go of its own).
        let mine: BTreeSet<String> = statements.iter().flat_map(|s| s.locks.clone()).collect();
        out.push(Rehearsal {
            name: name.clone(),
            statements,
            held: mine.into_iter().collect(),
            after_earlier,
        });
        if failed {
            break;
        }
    }
    Ok(out)
}

/// One migration's statements, each with what it did; true when one failed.
fn statements(
    client: &mut Client,
    body: &Body,
    held: &mut BTreeSet<String>,
) -> (Vec<Rehearsed>, bool) {
    let mut out = Vec::new();
    for (_, statement) in crate::source::statements::split_keeping(&body.sql, &body.whole) {
        let before = files(client);
        let started = Instant::now();
        let ran = client.batch_execute(statement);
        let elapsed = started.elapsed();
        let shown = shown(statement);
        if let Err(e) = ran {
            out.push(Rehearsed {
                statement: shown,
                locks: Vec::new(),
                rewrote: Vec::new(),
                elapsed,
                error: Some(super::message(&e, statement)),
            });
            return (out, true);
        }
        let now = locks(client);
        let taken: Vec<String> = now.difference(held).cloned().collect();
        *held = now;
        let after = files(client);
        let rewrote = before
            .iter()
            .filter(|(oid, (_, file))| after.get(*oid).is_some_and(|(_, f)| f != file))
            .map(|(_, (name, _))| name.clone())
            .collect();
        out.push(Rehearsed {
            statement: shown,
            locks: taken,
            rewrote,
            elapsed,
            error: None,
        });
    }
    (out, false)
}

fn rows(client: &mut Client, sql: &str) -> Vec<Vec<String>> {
    client
        .simple_query(sql)
        .map(|m| {
            m.iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(r) => Some(
                        (0..r.len())
                            .map(|i| r.get(i).unwrap_or_default().to_string())
                            .collect(),
                    ),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The locks our session holds on relations outside the system catalogs: `mode on name`.
fn locks(client: &mut Client) -> BTreeSet<String> {
    rows(
        client,
        "SELECT l.mode || ' on ' || c.oid::regclass::text FROM pg_locks l \
         JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE l.pid = pg_backend_pid() AND l.granted AND l.locktype = 'relation' \
         AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'",
    )
    .into_iter()
    .filter_map(|r| r.into_iter().next())
    .collect()
}

/// Every user relation's storage file: oid → (name, relfilenode).
fn files(client: &mut Client) -> BTreeMap<String, (String, String)> {
    rows(
        client,
        "SELECT c.oid::text, c.oid::regclass::text, c.relfilenode::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm', 'p', 'i') \
         AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'",
    )
    .into_iter()
    .filter_map(|r| match r.as_slice() {
        [oid, name, file] => Some((oid.clone(), (name.clone(), file.clone()))),
        _ => None,
    })
    .collect()
}

/// A statement as a report line shows it: white space folded, at most 100 characters.
fn shown(statement: &str) -> String {
    let folded = statement.split_whitespace().collect::<Vec<_>>().join(" ");
    match folded.char_indices().nth(100) {
        Some((at, _)) => format!("{}…", &folded[..at]),
        None => folded,
    }
}
