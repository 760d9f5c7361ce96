//! What a SQLite database has, for the declared schema: tables and their columns
//! (`pragma_table_xinfo`), indexes (`pragma_index_list`), and the statements it stored; and the
//! declared tables as SQLite itself describes them (applied to an in-memory database).

use rusqlite::Connection;

use crate::schema::Name;
use crate::schema::lex::{self, Kind};
use crate::schema::model::{Live, LiveColumn, LiveIndex, Model, code_line, quoted};

fn main_name(n: &str) -> Name {
    Name {
        schema: Some("main".into()),
        name: n.to_lowercase(),
    }
}

/// The live schema of `conn`'s main database.
pub fn live(conn: &Connection) -> rusqlite::Result<Live> {
    let mut live = Live::default();
    let mut stmt = conn.prepare(
        "SELECT type, name, tbl_name, sql FROM sqlite_master \
         WHERE type IN ('table', 'index', 'view', 'trigger') ORDER BY rowid",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    // Virtual tables' shadow tables are their modules' (SQLite says which they are): not
    // declared, not dumped (the virtual table's statement makes them).
    let shadows: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'")?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    let mut tables = Vec::new();
    for row in rows {
        let (kind, name, table, sql) = row?;
        let n = main_name(&name);
        if kind == "trigger" {
            live.triggers
                .insert((main_name(&table), name.to_lowercase()));
            if let Some(sql) = sql {
                live.statements.push((n, sql));
            }
            continue;
        }
        let k = match kind.as_str() {
            "table" => 'r',
            "index" => 'i',
            _ => 'v',
        };
        live.relations.insert(n.clone(), k);
        match k {
            'r' if !name.starts_with("sqlite_") && !shadows.contains(&name) => {
                if let Some(sql) = &sql {
                    live.statements.push((n.clone(), sql.clone()));
                }
                tables.push((n, name));
            }
            'v' => {
                if let Some(sql) = sql {
                    live.statements.push((n, sql));
                }
            }
            'i' => {
                live.indexes.insert(
                    n,
                    LiveIndex {
                        table: main_name(&table),
                        valid: true,
                        definition: String::new(),
                        constraint: sql.is_none(),
                        sql: sql.unwrap_or_default(),
                    },
                );
            }
            _ => {}
        }
    }
    let mut cols = conn.prepare(
        "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1) ORDER BY cid",
    )?;
    for (n, raw) in tables {
        let columns = cols
            .query_map([&raw], |r| {
                Ok(LiveColumn {
                    name: r.get::<_, String>(0)?.to_lowercase(),
                    data_type: r.get(1)?,
                    not_null: r.get::<_, i64>(2)? != 0,
                    default: r.get(3)?,
                    primary_key: r.get::<_, i64>(4)? != 0,
                    generated: (r.get::<_, i64>(5)? >= 2).then(|| "GENERATED".to_string()),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        live.tables.insert(n, columns);
    }
    let mut unique = conn.prepare("SELECT name, \"unique\" FROM pragma_index_list(?1)")?;
    let tables: Vec<Name> = live.tables.keys().cloned().collect();
    for t in tables {
        let flags = unique
            .query_map([&t.name], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? != 0))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (ix, unique) in flags {
            if let Some(l) = live.indexes.get_mut(&main_name(&ix)) {
                l.definition = definition(&l.sql, unique);
            }
        }
    }
    Ok(live)
}

/// An index's definition without its name and table: what follows the table, names and
/// keywords in lower case (SQLite ignores their case), tokens one space apart but for
/// parentheses, commas and dots, with its uniqueness: `(user_id, lower(email)) where a > 0`.
fn definition(sql: &str, unique: bool) -> String {
    let t = lex::tokens(sql);
    let Some(on) = t.iter().position(|x| x.is(sql, "ON")) else {
        return String::new();
    };
    // The table's name: one word, or schema . word.
    let mut k = on + 2;
    if t.get(k).map(|x| x.kind) == Some(Kind::Punct(b'.')) {
        k += 2;
    }
    let mut rest = String::new();
    let mut glued = true;
    for x in &t[k.min(t.len())..] {
        let text = match x.kind {
            Kind::Word | Kind::Quoted => x
                .name(sql)
                .map(|(n, _)| n.to_lowercase())
                .unwrap_or_default(),
            _ => x.text(sql).to_string(),
        };
        let punct = |c: u8| x.kind == Kind::Punct(c);
        if !glued && !punct(b')') && !punct(b',') && !punct(b'.') {
            rest.push(' ');
        }
        glued = punct(b'(') || punct(b'.');
        rest.push_str(&text);
    }
    format!("{}{rest}", if unique { "UNIQUE " } else { "" })
}

/// A number that changes whenever the schema does (any DDL, ours included).
pub fn fingerprint(conn: &Connection) -> rusqlite::Result<String> {
    conn.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0))
        .map(|v| format!("sqlite:{v}"))
}

/// Whether the table holds a row.
pub fn has_rows(conn: &Connection, table: &Name) -> rusqlite::Result<bool> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", quoted(table));
    conn.query_row(&sql, [], |r| r.get(0))
}

/// The declared tables and indexes that exist in `live`, as SQLite describes them once
/// applied to an empty in-memory database (so that they compare with the live ones without
/// comparing texts). A statement SQLite refuses is left out.
pub fn probe(model: &Model, live: &Live) -> rusqlite::Result<Live> {
    let conn = Connection::open_in_memory()?;
    for t in model
        .tables
        .iter()
        .filter(|t| live.tables.contains_key(&t.name))
    {
        if conn.execute_batch(&t.create).is_err() {
            continue;
        }
        for ix in t
            .indexes
            .iter()
            .filter(|i| live.indexes.contains_key(&i.name))
        {
            let _ = conn.execute_batch(&ix.sql);
        }
    }
    self::live(&conn)
}

/// Each declared table and index applied to an empty in-memory database, in order: the ones
/// SQLite refuses, with its message (file, message).
pub fn check(model: &Model) -> Vec<(String, String)> {
    let Ok(conn) = Connection::open_in_memory() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for t in &model.tables {
        if let Err(e) = conn.execute_batch(&t.create) {
            out.push((t.file.clone(), format!("{}: {e}", code_line(&t.create))));
            continue;
        }
        for ix in &t.indexes {
            if let Err(e) = conn.execute_batch(&ix.sql) {
                out.push((ix.file.clone(), format!("{}: {e}", code_line(&ix.sql))));
            }
        }
    }
    out
}
