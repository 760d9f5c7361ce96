//! sql-migrate: `-- +migrate Up` / `Down` in one file, `notransaction`, `StatementBegin` /
//! `StatementEnd`; its `gorp_migrations` table, keyed by file name.

use super::{cmd, ours, up_down_up, up_ok, valid_index};
use crate::common::{Case, Kind, run};

both!(up_and_down_sections, baseline_from_gorp_migrations);

fn folder(c: &Case) {
    c.write(
        "1_initial.sql",
        "-- +migrate Up\nCREATE TABLE people (id INTEGER);\n\n-- +migrate Down\nDROP TABLE people;\n",
    );
    c.write(
        "2_record.sql",
        "-- +migrate Up\nCREATE TABLE records (id INTEGER, person INTEGER);\n-- +migrate Down\nDROP TABLE records;\n",
    );
}

fn up_and_down_sections(kind: Kind) {
    let c = Case::new(kind);
    folder(&c);
    up_down_up(&c, "records", "people");
}

fn baseline_from_gorp_migrations(kind: Kind) {
    let c = Case::new(kind);
    folder(&c);
    c.write(
        "3_more.sql",
        "-- +migrate Up\nCREATE TABLE more (id INTEGER);\n-- +migrate Down\nDROP TABLE more;\n",
    );
    // gorp's DDL for sql-migrate's MigrationRecord, per dialect.
    let ddl = match kind {
        Kind::Postgres => {
            r#"create table if not exists "gorp_migrations" ("id" text not null primary key, "applied_at" timestamp with time zone);"#
        }
        Kind::Sqlite => {
            r#"create table if not exists "gorp_migrations" ("id" varchar(255) not null primary key, "applied_at" datetime);"#
        }
    };
    c.execute(&format!(
        "{ddl} INSERT INTO gorp_migrations (id, applied_at) VALUES ('1_initial.sql', CURRENT_TIMESTAMP), ('2_record.sql', CURRENT_TIMESTAMP);"
    ));
    c.execute(
        "CREATE TABLE people (id INTEGER); CREATE TABLE records (id INTEGER, person INTEGER);",
    );
    let (code, _, err) = run(cmd(&c, &["up"]));
    assert_eq!(code, 1, "refused before baseline: {err}");
    assert!(
        err.contains("sql-migrate's history (gorp_migrations)"),
        "{err}"
    );
    let (code, _, err) = run(cmd(&c, &["baseline", "--from", "sql-migrate"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(ours(&c), ["1_initial.sql", "2_record.sql"]);
    let err = up_ok(&c);
    assert!(
        err.contains("applied 3_more.sql") && err.contains("applied 1,"),
        "{err}"
    );
}

/// `-- +migrate Up notransaction`, and a file that ends sql-migrate's transaction itself
/// around a concurrent index (as Nakama's do): both work as they do under sql-migrate, whose
/// statements go one at a time.
#[test]
fn notransaction_and_own_commit() {
    let c = Case::new(Kind::Postgres);
    folder(&c);
    c.write(
        "3_index.sql",
        "-- +migrate Up notransaction\nCREATE INDEX CONCURRENTLY people_id ON people (id);\n\n-- +migrate Down\nDROP INDEX people_id;\n",
    );
    c.write(
        "4_own_commit.sql",
        "-- +migrate Up\nCREATE TABLE tagged (id INTEGER);\n\nCOMMIT;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS records_person ON records (person);\nBEGIN;\n\n-- +migrate Down\nDROP INDEX IF EXISTS records_person;\n",
    );
    let err = up_ok(&c);
    assert!(err.contains("applied 4, failed 0"), "{err}");
    assert!(valid_index(&c, "people_id") && valid_index(&c, "records_person"));
    assert!(c.has_table("tagged"));
}
