//! `schema dump`: a live schema as SQL that `--schema` accepts, so a team can start from the
//! schema it already has. Pure.

use std::fmt::Write;

use super::model::{Live, default_schema, quoted};
use crate::source::Dialect;

/// The tables, columns, indexes (and on PostgreSQL schemas, extensions, types, sequences and
/// constraints) of `live`, as statements. `skip`: our own relations (`model::ours`), left out.
pub fn render(live: &Live, dialect: Dialect, skip: &[super::Name]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- The schema of this database as migrate-entrypoint read it (schema dump).\n"
    );
    match dialect {
        Dialect::Sqlite => {
            for (name, sql) in live.statements.iter().filter(|(n, _)| !skip.contains(n)) {
                let _ = writeln!(out, "{sql};\n");
                let mut indexes: Vec<_> = live
                    .indexes
                    .values()
                    .filter(|i| &i.table == name && !i.sql.is_empty())
                    .collect();
                indexes.sort_by(|a, b| a.sql.cmp(&b.sql));
                for i in indexes {
                    let _ = writeln!(out, "{};", i.sql);
                }
                if live
                    .indexes
                    .values()
                    .any(|i| &i.table == name && !i.sql.is_empty())
                {
                    out.push('\n');
                }
            }
        }
        Dialect::Postgres => postgres(&mut out, live, skip),
    }
    out
}

fn postgres(out: &mut String, live: &Live, skip: &[super::Name]) {
    for s in live
        .schemas
        .iter()
        .filter(|s| *s != default_schema(Dialect::Postgres))
    {
        let _ = writeln!(
            out,
            "CREATE SCHEMA IF NOT EXISTS \"{}\";",
            s.replace('"', "\"\"")
        );
    }
    for item in &live.dump.not_written {
        let _ = writeln!(out, "-- not written: {item}");
    }
    for e in live.extensions.iter().filter(|e| *e != "plpgsql") {
        let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        match live.dump.extension_schemas.get(e) {
            Some(s) => {
                let _ = writeln!(
                    out,
                    "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {};",
                    q(e),
                    q(s)
                );
            }
            None => {
                let _ = writeln!(out, "CREATE EXTENSION IF NOT EXISTS {};", q(e));
            }
        }
    }
    for t in &live.type_defs {
        let _ = writeln!(out, "{t};");
    }
    for f in &live.dump.function_defs {
        let _ = writeln!(out, "{f};\n");
    }
    for (n, kind) in &live.relations {
        if *kind == 'S' && !skip.contains(n) {
            match live.dump.sequence_defs.get(n) {
                Some(sql) => {
                    let _ = writeln!(out, "{sql};");
                }
                None => {
                    let _ = writeln!(out, "CREATE SEQUENCE {};", quoted(n));
                }
            }
        }
    }
    out.push('\n');
    for (name, cols) in live.tables.iter().filter(|(n, _)| !skip.contains(n)) {
        let _ = writeln!(out, "CREATE TABLE {} (", quoted(name));
        let lines: Vec<String> = cols
            .iter()
            .map(|c| {
                let mut l = format!("    \"{}\" {}", c.name.replace('"', "\"\""), c.data_type);
                if let Some(g) = &c.generated {
                    let _ = write!(l, " {g}");
                }
                if let Some(d) = &c.default {
                    let _ = write!(l, " DEFAULT {d}");
                }
                if c.not_null {
                    l.push_str(" NOT NULL");
                }
                l
            })
            .collect();
        match live.dump.partition_keys.get(name) {
            Some(key) => {
                let _ = writeln!(out, "{}\n) PARTITION BY {key};\n", lines.join(",\n"));
            }
            None => {
                let _ = writeln!(out, "{}\n);\n", lines.join(",\n"));
            }
        }
    }
    for (table, name, def) in live
        .constraint_defs
        .iter()
        .filter(|(t, _, _)| !skip.contains(t))
    {
        let _ = writeln!(
            out,
            "ALTER TABLE {} ADD CONSTRAINT \"{}\" {def};",
            quoted(table),
            name.replace('"', "\"\"")
        );
    }
    out.push('\n');
    for i in live
        .indexes
        .values()
        .filter(|i| !i.constraint && !skip.contains(&i.table))
    {
        let _ = writeln!(out, "{};", i.sql);
    }
    for (sequence, column) in live
        .dump
        .sequence_owners
        .iter()
        .filter(|(s, _)| !skip.contains(s))
    {
        let _ = writeln!(
            out,
            "ALTER SEQUENCE {} OWNED BY {column};",
            quoted(sequence)
        );
    }
    for a in &live.dump.attaches {
        let _ = writeln!(out, "{a};");
    }
    for v in live.dump.view_defs.iter().chain(&live.dump.late_defs) {
        let _ = writeln!(out, "\n{v};");
    }
}
