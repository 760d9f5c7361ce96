//! The declared schema on a real application's schema (Zabbix 6.0: 170-odd tables, 230-odd
//! indexes, foreign keys, functions and triggers), on a real PostgreSQL server and a real
//! SQLite file: declared into an empty database, then a no-op with zero differences; the same
//! from that database's own `pg_dump --schema-only` / `.schema` output; an older copy upgraded
//! gets exactly the additive part. And a SIGKILL in the middle leaves no change without its
//! record.

use std::collections::BTreeSet;
use std::process::Command;

use crate::common::app_schema::{tables_in, zabbix};
use crate::common::{Case, Kind, Running, pg, run};

/// The user tables of the case's database (the tracking table left out).
fn tables(c: &Case) -> BTreeSet<String> {
    let sql = match c.kind {
        Kind::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        }
        Kind::Postgres => "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
    };
    c.column(sql)
        .into_iter()
        .filter(|t| t != "schema_migrations")
        .collect()
}

fn indexes(c: &Case) -> BTreeSet<String> {
    let sql = match c.kind {
        Kind::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
        Kind::Postgres => "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'",
    };
    c.column(sql).into_iter().collect()
}

/// Every (table, column) of the user tables.
fn columns(c: &Case) -> BTreeSet<(String, String)> {
    tables(c)
        .into_iter()
        .flat_map(|t| c.columns(&t).into_iter().map(move |col| (t.clone(), col)))
        .collect()
}

fn up_with(c: &Case, schema: &std::path::Path) -> Command {
    let mut up = c.up();
    up.arg("--schema").arg(schema);
    up
}

/// The declared changes a run's log says it made.
fn made(err: &str) -> Vec<String> {
    err.lines()
        .filter_map(|l| l.split_once("declared schema: ").map(|(_, r)| r))
        .filter(|r| r.starts_with("create ") || r.starts_with("add "))
        .filter_map(|r| r.rsplit_once(" in ").map(|(what, _)| what.to_string()))
        .collect()
}

/// Declared into an empty database, then a second run: no change, no difference. Returns
/// the first run's log.
fn declared_then_no_op(c: &Case, schema: &std::path::Path) -> String {
    let text = std::fs::read_to_string(schema).unwrap();
    let want = tables_in(&text);
    let (code, _, err) = run(up_with(c, schema));
    assert_eq!(code, 0, "{err}");
    assert!(
        !err.contains("refused") && err.contains(", failed 0, pending 0"),
        "{err}"
    );
    assert_eq!(tables(c).len(), want, "{err}");
    let (code, _, again) = run(up_with(c, schema));
    assert_eq!(code, 0, "{again}");
    assert!(again.contains("applied 0, failed 0, pending 0"), "{again}");
    assert!(
        !again.contains("differs") && !again.contains("rename") && made(&again).is_empty(),
        "{again}"
    );
    err
}

#[test]
fn postgres_a_real_schema_round_trips() {
    let (schema, _) = zabbix();
    let text = std::fs::read_to_string(schema).unwrap();
    assert!(tables_in(&text) >= 100);
    let c = Case::new(Kind::Postgres);
    let err = declared_then_no_op(&c, schema);
    // Its functions and triggers are made; its data statements are listed, not run.
    assert!(!err.contains("trigger: "), "{err}");
    let triggers = text.to_lowercase().matches("create trigger").count();
    assert!(triggers > 0);
    assert_eq!(
        c.value("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"),
        triggers.to_string()
    );
    let functions = text
        .to_lowercase()
        .matches("create or replace function")
        .count();
    assert!(functions > 0);
    assert_eq!(c.value("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"), functions.to_string());
    let (from, to) = (tables(&c), indexes(&c));

    // The database's own pg_dump output, declared into another empty database.
    let dump = pg::dump_schema(&c.url);
    assert!(
        dump.contains("\nALTER TABLE ONLY public."),
        "not pg_dump's output"
    );
    let fresh = Case::new(Kind::Postgres);
    let dumped = fresh.declare("schema.sql", &dump);
    declared_then_no_op(&fresh, &dumped);
    assert_eq!(tables(&fresh), from);
    assert_eq!(indexes(&fresh), to);
    assert_eq!(columns(&fresh), columns(&c));
    // And the original declaration against it: nothing to add, nothing differs.
    let (code, _, err) = run(up_with(&fresh, schema));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("differs") && made(&err).is_empty(), "{err}");
}

#[test]
fn sqlite_a_real_schema_round_trips() {
    let (_, schema) = zabbix();
    let text = std::fs::read_to_string(schema).unwrap();
    assert!(tables_in(&text) >= 100);
    let c = Case::sqlite_on_tmpfs();
    declared_then_no_op(&c, schema);

    // sqlite3's own .schema output, declared into another empty file.
    let out = Command::new("sqlite3")
        .arg(&c.db)
        .arg(".schema")
        .output()
        .expect("sqlite3");
    assert!(out.status.success());
    let dot_schema = String::from_utf8(out.stdout).unwrap();
    let fresh = Case::sqlite_on_tmpfs();
    let dumped = fresh.declare("schema.sql", &dot_schema);
    declared_then_no_op(&fresh, &dumped);
    assert_eq!(tables(&fresh), tables(&c));
    assert_eq!(indexes(&fresh), indexes(&c));
    assert_eq!(columns(&fresh), columns(&c));
    let (code, _, err) = run(up_with(&fresh, schema));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("differs") && made(&err).is_empty(), "{err}");
}

/// An older copy: tables, columns and indexes the newer declaration has are dropped; the
/// upgrade adds exactly those (and the dropped tables' own foreign keys), nothing else.
fn older_copy_gets_exactly_the_additive_part(kind: Kind) {
    let (pg_schema, sqlite_schema) = zabbix();
    let schema = match kind {
        Kind::Postgres => pg_schema,
        Kind::Sqlite => sqlite_schema,
    };
    let c = match kind {
        Kind::Postgres => Case::new(kind),
        Kind::Sqlite => Case::sqlite_on_tmpfs(),
    };
    assert_eq!(run(up_with(&c, schema)).0, 0);
    let (all_tables, all_indexes, all_columns) = (tables(&c), indexes(&c), columns(&c));
    // Tables no foreign key points at, columns in no index, key or trigger, indexes that back
    // no constraint: what an older release would not have had yet.
    let (old_tables, old_columns, old_indexes): (Vec<String>, Vec<(String, String)>, Vec<String>) = match kind {
        Kind::Postgres => (
            c.column("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                      WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'schema_migrations' \
                      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.confrelid = c.oid) \
                      AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid) ORDER BY 1 LIMIT 5"),
            c.column("SELECT c.relname || '.' || a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                      JOIN pg_namespace n ON n.oid = c.relnamespace \
                      WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped \
                      AND c.relname <> 'schema_migrations' \
                      AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND a.attnum = ANY (i.indkey::int2[])) \
                      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND a.attnum = ANY (k.conkey)) \
                      AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid) \
                      ORDER BY 1")
                .into_iter()
                .map(|s| {
                    let (t, col) = s.split_once('.').unwrap();
                    (t.to_string(), col.to_string())
                })
                .collect(),
            c.column("SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
                      JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
                      WHERE n.nspname = 'public' AND t.relname <> 'schema_migrations' \
                      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid) \
                      ORDER BY t.relname DESC, 1 LIMIT 5"),
        ),
        Kind::Sqlite => sqlite_older(&c),
    };
    // Columns of other tables than those dropped, one per table.
    let mut seen = BTreeSet::new();
    let old_columns: Vec<(String, String)> = old_columns
        .into_iter()
        .filter(|(t, _)| !old_tables.contains(t) && seen.insert(t.clone()))
        .take(5)
        .collect();
    let old_indexes: Vec<String> = old_indexes.into_iter().take(5).collect();
    assert_eq!(
        (old_tables.len(), old_columns.len(), old_indexes.len()),
        (5, 5, 5)
    );
    for i in &old_indexes {
        c.execute(&format!("DROP INDEX \"{i}\""));
    }
    for (t, col) in &old_columns {
        c.execute(&format!("ALTER TABLE \"{t}\" DROP COLUMN \"{col}\""));
    }
    for t in &old_tables {
        c.execute(&format!("DROP TABLE \"{t}\""));
    }
    let (code, _, err) = run(up_with(&c, schema));
    assert_eq!(code, 0, "{err}");
    let mut got = made(&err);
    got.sort();
    let mut want: Vec<String> = old_tables
        .iter()
        .map(|t| format!("create table {t}"))
        .collect();
    want.extend(
        old_columns
            .iter()
            .map(|(t, col)| format!("add column {t}.{col}")),
    );
    for i in &old_indexes {
        // Its table is named in the log line.
        let line = got
            .iter()
            .find(|g| g.starts_with(&format!("create index {i} on ")));
        assert!(line.is_some(), "index {i} not rebuilt: {err}");
        want.push(line.unwrap().clone());
    }
    // The dropped tables' own foreign keys come back with them, as their own changes.
    want.extend(
        got.iter()
            .filter(|g| g.starts_with("add constraint "))
            .cloned(),
    );
    want.sort();
    assert_eq!(got, want, "{err}");
    assert!(
        got.iter()
            .filter(|g| g.starts_with("add constraint "))
            .all(|g| old_tables.iter().any(|t| g.ends_with(&format!(" to {t}")))),
        "{got:?}"
    );
    assert_eq!(tables(&c), all_tables);
    assert_eq!(indexes(&c), all_indexes);
    assert_eq!(columns(&c), all_columns);
    assert!(!err.contains("differs"), "{err}");
}

/// The SQLite side of an older copy: the same kinds of objects, read through the pragmas.
fn sqlite_older(c: &Case) -> (Vec<String>, Vec<(String, String)>, Vec<String>) {
    let all = tables(c);
    let referenced: BTreeSet<String> = all
        .iter()
        .flat_map(|t| {
            c.column(&format!(
                "SELECT \"table\" FROM pragma_foreign_key_list('{t}')"
            ))
        })
        .collect();
    let free: Vec<String> = all
        .iter()
        .filter(|t| !referenced.contains(*t))
        .cloned()
        .collect();
    let old_tables: Vec<String> = free.iter().take(5).cloned().collect();
    let mut old_columns = Vec::new();
    for t in free.iter().skip(5) {
        let keyed: BTreeSet<String> = c
            .column(&format!(
                "SELECT ii.name FROM pragma_index_list('{t}') il, pragma_index_info(il.name) ii \
                 UNION SELECT \"from\" FROM pragma_foreign_key_list('{t}') \
                 UNION SELECT name FROM pragma_table_info('{t}') WHERE pk > 0"
            ))
            .into_iter()
            .collect();
        if let Some(col) = c.columns(t).into_iter().find(|col| !keyed.contains(col)) {
            old_columns.push((t.clone(), col));
        }
        if old_columns.len() == 5 {
            break;
        }
    }
    let old_indexes = c.column(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
         ORDER BY tbl_name DESC, name LIMIT 5",
    );
    (old_tables, old_columns, old_indexes)
}

#[test]
fn postgres_an_older_copy_gets_exactly_the_additive_part() {
    older_copy_gets_exactly_the_additive_part(Kind::Postgres);
}

#[test]
fn sqlite_an_older_copy_gets_exactly_the_additive_part() {
    older_copy_gets_exactly_the_additive_part(Kind::Sqlite);
}

/// SIGKILL while the changes are being made: every table there has its record, every record
/// its table; the next run makes the rest.
fn a_sigkill_leaves_no_change_without_its_record(kind: Kind) {
    let c = Case::new(kind);
    let mut sql = String::new();
    for i in 0..300 {
        sql.push_str(&format!("CREATE TABLE t{i} (id INTEGER PRIMARY KEY, v TEXT);\nCREATE INDEX t{i}_v ON t{i} (v);\n"));
    }
    c.declare("schema.sql", &sql);
    let running = Running::start(c.up_declared());
    running.wait_for_log(60, "declared schema: create table t20 ");
    running.signal(nix::sys::signal::Signal::SIGKILL);
    let (code, _, _) = running.finish();
    assert_eq!(code, -1, "killed");
    let made: BTreeSet<String> = tables(&c);
    let recorded: BTreeSet<String> = c
        .declared_records()
        .into_iter()
        .map(|(n, ok)| {
            assert!(ok, "{n}");
            n.trim_start_matches("schema.sql#table:").to_string()
        })
        .collect();
    assert!(made.len() >= 21 && made.len() < 300, "{}", made.len());
    assert_eq!(made, recorded);
    for t in &made {
        assert!(c.has_index(&format!("{t}_v")), "{t} without its index");
    }
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert_eq!(tables(&c).len(), 300);
    assert_eq!(c.declared_records().len(), 300);
}

#[test]
fn sqlite_a_sigkill_leaves_no_change_without_its_record() {
    a_sigkill_leaves_no_change_without_its_record(Kind::Sqlite);
}

#[test]
fn postgres_a_sigkill_leaves_no_change_without_its_record() {
    a_sigkill_leaves_no_change_without_its_record(Kind::Postgres);
}
