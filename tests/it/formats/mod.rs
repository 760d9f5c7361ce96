//! Other tools' folders, read as each tool reads them: each format in a file of its own, on
//! both backends where the tool supports both. For each: `up` keeps what the Up part makes,
//! `down` runs the Down part, `up` again; `baseline --from` on a table shaped exactly as the
//! tool creates it (DDL from the tool's own source), then `up` applies the rest; the
//! no-transaction directive lets `CREATE INDEX CONCURRENTLY` through.

mod diesel;
mod flyway;
mod goose;
mod morph;
mod refused;
mod sql_migrate;
mod tern;

use crate::common::{Case, bare, run};

/// Our tracking table here, so that a tool's own `schema_migrations` never collides.
pub const OURS: &str = "app_migrations";

/// `args` against this case's database and folder, with our table.
pub fn cmd(c: &Case, args: &[&str]) -> std::process::Command {
    let mut cmd = bare();
    cmd.args(args)
        .args(["--table", OURS, "-d", &c.url, "-m"])
        .arg(&c.migrations);
    cmd
}

/// `up` with our table: exit 0, its log.
pub fn up_ok(c: &Case) -> String {
    let (code, _, err) = run(cmd(c, &["up"]));
    assert_eq!(code, 0, "{err}");
    err
}

/// What the Up parts make stays; `down` runs the Down part of the newest; `up` makes it
/// again. `newest` is the table the newest migration creates.
pub fn up_down_up(c: &Case, newest: &str, first: &str) {
    up_ok(c);
    assert!(
        c.has_table(newest) && c.has_table(first),
        "the Up parts ran"
    );
    let (code, _, err) = run(cmd(c, &["down"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("undid 1 migration(s)"), "{err}");
    assert!(!c.has_table(newest), "the Down part ran: {err}");
    assert!(c.has_table(first), "only the newest was undone");
    let err = up_ok(c);
    assert!(err.contains("applied 1, failed 0"), "{err}");
    assert!(c.has_table(newest));
}

/// The names our table records as applied, in order.
pub fn ours(c: &Case) -> Vec<String> {
    c.column(&format!(
        "SELECT migration_name FROM {OURS} WHERE success ORDER BY id"
    ))
}

/// Whether the database has an index of this name that is valid (PostgreSQL).
pub fn valid_index(c: &Case, name: &str) -> bool {
    c.column(&format!(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('{name}')"
    )) == ["1"]
}
