//! The tracking table, once for both backends: its columns (with each dialect's types, for a
//! new table and for completing an older one), and a row read back into a `Record` from
//! whatever types an older table used.

use crate::plan::Record;
use crate::settings::Table;
use crate::source::Dialect;

/// One column of the tracking table.
struct Column {
    name: &'static str,
    /// Its definition in a new table: PostgreSQL, SQLite.
    create: [&'static str; 2],
    /// Its definition when added to an older table (`None`: never added).
    add: [Option<&'static str>; 2],
}

const COLUMNS: [Column; 8] = [
    // SQLite cannot add a primary key: rowid stands in for id there.
    Column {
        name: "id",
        create: ["BIGSERIAL PRIMARY KEY", "INTEGER PRIMARY KEY"],
        add: [Some("BIGSERIAL"), None],
    },
    // Without it the table is another tool's, and left alone.
    Column {
        name: "migration_name",
        create: ["VARCHAR(255) NOT NULL UNIQUE"; 2],
        add: [None, None],
    },
    // SQLite cannot add a column with a CURRENT_TIMESTAMP default: it is always written.
    Column {
        name: "applied_at",
        create: [
            "TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP",
            "TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP",
        ],
        add: [
            Some("TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP"),
            Some("TIMESTAMP"),
        ],
    },
    Column {
        name: "description",
        create: ["TEXT"; 2],
        add: [Some("TEXT"); 2],
    },
    Column {
        name: "checksum",
        create: ["VARCHAR(64)"; 2],
        add: [Some("VARCHAR(64)"); 2],
    },
    Column {
        name: "success",
        create: [
            "BOOLEAN NOT NULL DEFAULT TRUE",
            "BOOLEAN NOT NULL DEFAULT 1",
        ],
        add: [
            Some("BOOLEAN NOT NULL DEFAULT TRUE"),
            Some("BOOLEAN NOT NULL DEFAULT 1"),
        ],
    },
    Column {
        name: "error_message",
        create: ["TEXT"; 2],
        add: [Some("TEXT"); 2],
    },
    Column {
        name: "execution_time_ms",
        create: ["BIGINT", "INTEGER"],
        add: [Some("BIGINT"), Some("INTEGER")],
    },
];

fn slot(dialect: Dialect) -> usize {
    match dialect {
        Dialect::Postgres => 0,
        Dialect::Sqlite => 1,
    }
}

/// `CREATE TABLE IF NOT EXISTS` for the tracking table (`quoted`: its quoted name).
pub fn create_table(quoted: &str, dialect: Dialect) -> String {
    let i = slot(dialect);
    let cols: Vec<String> = COLUMNS
        .iter()
        .map(|c| format!("    {:<17} {}", c.name, c.create[i]))
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {quoted} (\n{}\n)",
        cols.join(",\n")
    )
}

/// The columns an older table lacks, with the definition to add each with.
pub fn missing_columns(existing: &[String], dialect: Dialect) -> Vec<(&'static str, &'static str)> {
    let i = slot(dialect);
    COLUMNS
        .iter()
        .filter(|c| !existing.iter().any(|e| e == c.name))
        .filter_map(|c| c.add[i].map(|ty| (c.name, ty)))
        .collect()
}

/// Adds the columns an older table (`existing`; `quoted`: its name as the backend quotes it)
/// lacks, one statement each through `exec` (which gives the database's message on failure),
/// and logs each.
pub fn complete(
    table: &Table,
    quoted: &str,
    existing: &[String],
    dialect: Dialect,
    database: &str,
    mut exec: impl FnMut(&str) -> Result<(), String>,
) -> Result<(), super::BackendError> {
    let name = table.display();
    for (col, ty) in missing_columns(existing, dialect) {
        exec(&format!("ALTER TABLE {quoted} ADD COLUMN {col} {ty}")).map_err(|e| {
            super::BackendError::Failed(format!("cannot add column {col} to {name}: {e}"))
        })?;
        tracing::info!(database, table = %name, column = col, "added the missing column {col} to the tracking table {name}");
    }
    Ok(())
}

/// The error for a table of this name whose shape is another tool's.
pub fn foreign_table(table: &Table) -> super::BackendError {
    super::BackendError::Failed(format!(
        "table {} has no migration_name column: it belongs to another tool \
         and is left alone; choose another table name with --table (MIGRATE_TABLE). When it is \
         dbmate's or golang-migrate's history, adopt it once: `migrate-entrypoint baseline \
         --from dbmate --table app_migrations` (or --from golang-migrate), then keep \
         MIGRATE_TABLE=app_migrations",
        table.display()
    ))
}

/// A value read from a tracking row, whatever the column's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    Text(String),
}

impl Cell {
    /// As text (`None` for NULL).
    pub fn text(self) -> Option<String> {
        match self {
            Cell::Null => None,
            Cell::Bool(b) => Some(b.to_string()),
            Cell::Int(i) => Some(i.to_string()),
            Cell::Real(r) => Some(r.to_string()),
            Cell::Text(t) => Some(t),
        }
    }

    /// As a whole number, when it is one.
    pub fn int(&self) -> Option<i64> {
        match self {
            Cell::Int(i) => Some(*i),
            Cell::Real(r) => Some(*r as i64),
            _ => None,
        }
    }

    /// As a boolean: older tables kept them as 0/1, 't'/'f' or 'true'/'false'; NULL (and
    /// anything unreadable) counts as the column's default, true.
    pub fn truth(&self) -> bool {
        match self {
            Cell::Bool(b) => *b,
            Cell::Int(i) => *i != 0,
            Cell::Real(r) => *r != 0.0,
            Cell::Text(t) => truth_of(t).unwrap_or(true),
            Cell::Null => true,
        }
    }
}

/// A boolean written as text by any of the tools whose tables are read: `t`/`f` (PostgreSQL's
/// text form) and the words the settings accept.
pub fn truth_of(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "t" => Some(true),
        "f" => Some(false),
        other => crate::settings::env::parse_bool(other),
    }
}

/// One tracking row from its cells by column name (`None`: the column is not there).
pub fn record(get: impl Fn(&str) -> Option<Cell>) -> Record {
    let cell = |name: &str| get(name).unwrap_or(Cell::Null);
    Record {
        name: cell("migration_name").text().unwrap_or_default(),
        applied_at: cell("applied_at").text().map(|t| utc(&t)),
        description: cell("description").text(),
        checksum: cell("checksum").text(),
        success: cell("success").truth(),
        error_message: cell("error_message").text(),
        execution_time_ms: cell("execution_time_ms").int(),
    }
}

/// A timestamp as either backend writes it (SQLite: `2026-11-29 04:11:45`, in UTC; PostgreSQL:
/// `2026-11-29T04:12:12.222609+00:00`, in the session's time zone) in one RFC 3339 UTC form,
/// `2026-11-29T04:12:12Z`. Text that is not such a time is kept as it is.
pub fn utc(text: &str) -> String {
    let t = text.trim();
    // The zone is what follows the time of day (after `HH:MM:SS` and any fraction).
    let zone_at = t
        .char_indices()
        .skip(19)
        .find(|(_, c)| matches!(c, 'Z' | 'z' | '+' | '-'))
        .map_or(t.len(), |(i, _)| i);
    let (local, zone) = t.split_at(zone_at);
    let offset_secs: i64 = match zone {
        "" | "Z" | "z" => 0,
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let digits: String = z[1..].chars().filter(char::is_ascii_digit).collect();
            let (h, m) = match digits.len() {
                2 => (digits.parse::<i64>().unwrap_or(0), 0),
                4 => (
                    digits[..2].parse::<i64>().unwrap_or(0),
                    digits[2..].parse::<i64>().unwrap_or(0),
                ),
                _ => return text.to_string(),
            };
            sign * (h * 3600 + m * 60)
        }
    };
    let Ok(at) = humantime::parse_rfc3339_weak(local) else {
        return text.to_string();
    };
    let shifted = if offset_secs >= 0 {
        at.checked_sub(std::time::Duration::from_secs(offset_secs as u64))
    } else {
        at.checked_add(std::time::Duration::from_secs((-offset_secs) as u64))
    };
    shifted.map_or_else(
        || text.to_string(),
        |at| humantime::format_rfc3339_seconds(at).to_string(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_in_one_utc_form() {
        for (given, want) in [
            ("2026-11-29 04:11:45", "2026-11-29T04:11:45Z"),
            ("2026-11-29T04:12:12.222609+00:00", "2026-11-29T04:12:12Z"),
            ("2026-11-29T05:12:12.5+01:00", "2026-11-29T04:12:12Z"),
            ("2026-11-28T23:12:12-05", "2026-11-29T04:12:12Z"),
            ("2026-11-29T04:12:12Z", "2026-11-29T04:12:12Z"),
            ("yesterday", "yesterday"),
        ] {
            assert_eq!(utc(given), want, "{given}");
        }
    }

    use super::*;

    #[test]
    fn new_and_older_tables() {
        let pg = create_table("\"t\"", Dialect::Postgres);
        assert!(
            pg.contains("id                BIGSERIAL PRIMARY KEY"),
            "{pg}"
        );
        assert!(pg.contains("success           BOOLEAN NOT NULL DEFAULT TRUE"));
        let lite = create_table("\"t\"", Dialect::Sqlite);
        assert!(
            lite.contains("id                INTEGER PRIMARY KEY,"),
            "{lite}"
        );
        let old = ["migration_name".to_string(), "applied_at".to_string()];
        let names = |d| -> Vec<&str> { missing_columns(&old, d).iter().map(|c| c.0).collect() };
        assert_eq!(
            names(Dialect::Postgres),
            [
                "id",
                "description",
                "checksum",
                "success",
                "error_message",
                "execution_time_ms"
            ]
        );
        assert_eq!(
            names(Dialect::Sqlite),
            [
                "description",
                "checksum",
                "success",
                "error_message",
                "execution_time_ms"
            ]
        );
    }

    #[test]
    fn cells_of_older_tables() {
        for (cell, want) in [
            (Cell::Null, true),
            (Cell::Int(0), false),
            (Cell::Text("f".into()), false),
            (Cell::Text("FALSE".into()), false),
            (Cell::Text("t".into()), true),
            (Cell::Text("1".into()), true),
            (Cell::Bool(false), false),
        ] {
            assert_eq!(cell.truth(), want, "{cell:?}");
        }
        let r = record(|c| match c {
            "migration_name" => Some(Cell::Text("1_a.sql".into())),
            "execution_time_ms" => Some(Cell::Real(7.9)),
            _ => None,
        });
        assert_eq!(r.name, "1_a.sql");
        assert!(r.success);
        assert_eq!(r.execution_time_ms, Some(7));
    }
}
