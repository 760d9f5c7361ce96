//! What is never run as something it is not: files with other tools' markers we do not read,
//! folders where nothing is taken, an empty down section, and commands that never create a
//! database.

use super::cmd;
use crate::common::{Case, Kind, bare, run};

both!(
    an_empty_down_section_is_no_down_part,
    commands_that_change_records_never_create_a_database
);

fn an_empty_down_section_is_no_down_part(kind: Kind) {
    let c = Case::new(kind);
    // Supabase writes every dbmate file this way; goose and sql-migrate files can be so too.
    c.write(
        "20220101000000_a.sql",
        "-- migrate:up\nCREATE TABLE a (id INTEGER);\n\n-- migrate:down\n\n",
    );
    c.write(
        "20220101000001_b.sql",
        "-- +goose Up\nCREATE TABLE b (id INTEGER);\n-- +goose Down\n-- nothing to undo\n",
    );
    super::up_ok(&c);
    for args in [&["down"][..], &["down", "--dry-run"][..]] {
        let (code, _, err) = run(cmd(&c, args));
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.contains("refused: 20220101000001_b.sql: its down section is empty"),
            "{err}"
        );
    }
    assert!(c.has_table("b"));
    assert_eq!(super::ours(&c).len(), 2, "nothing forgotten");
}

fn commands_that_change_records_never_create_a_database(kind: Kind) {
    let c = Case::new(kind);
    c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let missing = match kind {
        Kind::Sqlite => format!("sqlite:{}", c.dir.path().join("typo.db").display()),
        Kind::Postgres => format!("{}_typo", c.url.split('?').next().unwrap()),
    };
    for args in [
        &["down"][..],
        &["repair", "--forget-missing"][..],
        &["resolve", "--applied", "1_a.sql"][..],
        &["baseline"][..],
    ] {
        let mut cmd = bare();
        cmd.args(args)
            .args(["-d", &missing, "-m"])
            .arg(&c.migrations);
        let (code, _, err) = run(cmd);
        match kind {
            Kind::Sqlite => {
                assert_eq!(code, 1, "{args:?}: {err}");
                assert!(
                    err.contains("no database file at") && err.contains("typo.db"),
                    "{err}"
                );
                assert!(
                    !c.dir.path().join("typo.db").exists(),
                    "{args:?} created it"
                );
            }
            // A database that is not there cannot be reached: exit 3, as for every command.
            Kind::Postgres => assert_eq!(code, 3, "{args:?}: {err}"),
        }
    }
}

#[test]
fn other_tools_markers_are_refused_by_validate_plan_and_up() {
    let c = Case::sqlite();
    c.write(
        "1_liquibase.sql",
        "--liquibase formatted sql\n--changeset alice:1\nCREATE TABLE l (id INTEGER);\n",
    );
    c.write(
        "2_envsub.sql",
        "-- +goose Up\n-- +goose ENVSUB ON\nCREATE TABLE ${TABLE} (id INTEGER);\n",
    );
    c.write("3_ok.sql", "CREATE TABLE ok (id INTEGER);");
    let (code, out, _) = run(cmd(&c, &["validate"]));
    assert_eq!(code, 1);
    assert!(
        out.contains(
            "1_liquibase.sql: refused, not run as plain SQL: it is Liquibase formatted SQL"
        ),
        "{out}"
    );
    assert!(
        out.contains("2_envsub.sql: refused, not run as plain SQL: it turns on goose's ENVSUB"),
        "{out}"
    );
    let (_, out, _) = run(cmd(&c, &["plan"]));
    assert!(
        out.contains("1_liquibase.sql  (will fail: refused, not run as plain SQL"),
        "{out}"
    );
    let (code, _, err) = run(cmd(&c, &["up"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("applied 1, failed 2"), "{err}");
    assert!(!c.has_table("l") && c.has_table("ok"));
}

#[test]
fn a_folder_where_nothing_is_taken_is_named() {
    let c = Case::sqlite();
    // Authelia's names, and a goose Go migration: versioned-looking, in no form we read.
    c.write(
        "V0001.Initial_Schema.up.sql",
        "CREATE TABLE a (id INTEGER);",
    );
    c.write("V0001.Initial_Schema.down.sql", "DROP TABLE a;");
    c.write("00002_add_users.go", "package migrations\n");
    let (code, _, err) = run(cmd(&c, &["up"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("WARN")
            && err.contains("none is a migration in a form migrate-entrypoint reads"),
        "{err}"
    );
    assert!(err.contains("V0001.Initial_Schema.up.sql: not a migration, not applied: it starts like a Flyway version (`V0001`)"), "{err}");
    assert!(
        err.contains(
            "00002_add_users.go: not a migration, not applied: a goose migration written in Go"
        ),
        "{err}"
    );
    let (code, out, _) = run(cmd(&c, &["validate"]));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("holds 3 entries (00002_add_users.go, V0001.Initial_Schema.down.sql, V0001.Initial_Schema.up.sql)"), "{out}");
    // A folder that is really empty (but for hidden files) is only an info line.
    let e = Case::sqlite();
    std::fs::write(e.migrations.join(".gitkeep"), "").unwrap();
    let (code, _, err) = run(cmd(&e, &["up"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("is empty: nothing to do there") && !err.contains("WARN"),
        "{err}"
    );
}

#[test]
fn an_option_given_as_cmd_names_its_variable() {
    let c = Case::sqlite();
    let mut e = bare();
    e.args(["-d", &c.url, "-m"])
        .arg(&c.migrations)
        .args(["--", "--dry-run"]);
    let (code, _, err) = run(e);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("set MIGRATE_DRY_RUN=1 instead"), "{err}");
}
