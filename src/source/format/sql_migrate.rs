//! sql-migrate: `-- +migrate Up` / `-- +migrate Down` sections in one file (each may say
//! `notransaction`), `StatementBegin` / `StatementEnd` around a statement to send whole.

use super::Mark;

/// What a line says, when it is a sql-migrate command (`-- +migrate ` exactly, as
/// sql-migrate matches it). Commands and options it does not know, it ignores; so do we.
pub fn mark(trimmed: &str) -> Option<Mark> {
    let rest = trimmed.strip_prefix("-- +migrate ")?;
    let mut words = rest.split_whitespace();
    let command = words.next()?;
    let no_transaction = words.any(|w| w == "notransaction");
    match command {
        "Up" => Some(Mark::Up { no_transaction }),
        "Down" => Some(Mark::Down { no_transaction }),
        "StatementBegin" => Some(Mark::Begin),
        "StatementEnd" => Some(Mark::End),
        _ => Some(Mark::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Form, layout};

    #[test]
    fn up_down_and_notransaction() {
        let t = "-- +migrate Up\nCREATE TABLE people (id int);\n\n-- +migrate Down\nDROP TABLE people;\n";
        let l = layout(t);
        assert_eq!(l.form, Form::SqlMigrate);
        assert_eq!(&t[l.up.range.clone()], "CREATE TABLE people (id int);\n\n");
        assert_eq!(&t[l.down.unwrap().range], "DROP TABLE people;\n");
        let l = layout(
            "-- +migrate Up notransaction\nCREATE INDEX CONCURRENTLY i ON t (x);\n-- +migrate Down\nDROP INDEX i;\n",
        );
        assert!(l.up.no_transaction);
        assert!(!l.down.unwrap().no_transaction);
    }

    #[test]
    fn statement_blocks() {
        let t = "-- +migrate Up\n-- +migrate StatementBegin\nCREATE FUNCTION f() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql;\n-- +migrate StatementEnd\n";
        let l = layout(t);
        assert_eq!(l.up.whole.len(), 1);
        assert!(t[l.up.whole[0].clone()].starts_with("CREATE FUNCTION"));
    }

    #[test]
    fn as_sql_migrate_reads_them() {
        // Text before the first section belongs to none, and does not run.
        let t = "SELECT 0;\n-- +migrate Up\nSELECT 1;\n";
        let l = layout(t);
        assert!(l.refused.is_none());
        assert_eq!(&t[l.up.range.clone()], "SELECT 1;\n");
        // A file with no Up it refuses.
        assert!(
            layout("-- +migrate up\nSELECT 1;\n-- +migrate down\nDROP TABLE t;\n")
                .refused
                .is_some()
        );
        // Commands it does not know, it ignores.
        assert!(
            layout("-- +migrate Up\n-- +migrate Sideways\nSELECT 1;\n")
                .refused
                .is_none()
        );
        assert!(layout("-- +migrate Down\nSELECT 1;\n").refused.is_some());
    }
}
