//! Behaviour that is the same on every backend, run against a real SQLite file and a real
//! PostgreSQL server: policies, retries, drift, records, older and foreign tracking tables.

use std::process::Stdio;

use crate::common::{Case, Kind, Running, bare, run};

both!(
    continue_records_the_failure_and_goes_on,
    a_failed_migration_leaves_nothing_half_applied,
    stop_skips_the_rest_and_still_runs_cmd,
    abort_exits_1_without_running_cmd,
    changed_file_is_warned_about_not_rerun,
    older_tracking_table_gets_the_missing_columns,
    foreign_tracking_table_is_left_alone,
    empty_file_is_a_recorded_no_op,
    dry_run_changes_nothing,
    names_are_bound_not_interpolated,
    nothing_pending_takes_no_lock,
    an_error_names_the_files_own_line,
);

fn continue_records_the_failure_and_goes_on(kind: Kind) {
    let c = Case::new(kind);
    c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    c.write("2_broken.sql", "CREATE TABLE broken (;");
    c.write("3_c.sql", "CREATE TABLE c (id INTEGER);");
    let mut cmd = c.cmd();
    cmd.args(["--", "echo", "cmd ran"]);
    let (code, out, err) = run(cmd);
    assert_eq!((code, out.as_str()), (0, "cmd ran\n"), "{err}");
    assert!(err.contains("failed 2_broken.sql: "), "{err}");
    assert!(err.contains("applied 2, failed 1, pending 0"), "{err}");
    assert_eq!(
        c.records(),
        [
            ("1_a.sql".into(), true),
            ("2_broken.sql".into(), false),
            ("3_c.sql".into(), true)
        ]
    );
    let msg = c
        .value("SELECT error_message FROM schema_migrations WHERE migration_name = '2_broken.sql'");
    let want = match kind {
        Kind::Sqlite => "near \";\": syntax error (line 1, column 22)",
        Kind::Postgres => "syntax error at or near \";\" (42601) at line 1",
    };
    assert_eq!(msg, want);
    assert!(c.has_table("c"));

    // `up` says the same with exit 1.
    assert_eq!(run(c.up()).0, 1);

    // Fixed: tried again, its row updated (not a second row), its error cleared.
    c.write("2_broken.sql", "CREATE TABLE broken (id INTEGER);");
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("applied 2_broken.sql"), "{err}");
    assert_eq!(
        c.records(),
        [
            ("1_a.sql".into(), true),
            ("2_broken.sql".into(), true),
            ("3_c.sql".into(), true)
        ]
    );
    assert_eq!(
        c.value(
            "SELECT error_message FROM schema_migrations WHERE migration_name = '2_broken.sql'"
        ),
        "NULL"
    );
}

fn an_error_names_the_files_own_line(kind: Kind) {
    // The error is the last character of line 2: a position counted in any text but the file's
    // own (PostgreSQL gets `BEGIN;` in front of it) would cross the newline into line 3.
    let c = Case::new(kind);
    c.write(
        "1_a.sql",
        "CREATE TABLE a (id INTEGER);\nSELECT (;\nSELECT 3;\n",
    );
    assert_eq!(run(c.up()).0, 1);
    let msg =
        c.value("SELECT error_message FROM schema_migrations WHERE migration_name = '1_a.sql'");
    let want = match kind {
        Kind::Sqlite => "near \";\": syntax error (line 2, column 9)",
        Kind::Postgres => "syntax error at or near \";\" (42601) at line 2",
    };
    assert_eq!(msg, want);
    assert!(!c.has_table("a"), "rolled back");
}

fn a_failed_migration_leaves_nothing_half_applied(kind: Kind) {
    let c = Case::new(kind);
    c.write(
        "1_half.sql",
        "CREATE TABLE half (id INTEGER);\nINSERT INTO half VALUES (1);\nINSERT INTO nowhere VALUES (1);",
    );
    let (code, _, err) = run(c.up());
    assert_eq!(code, 1, "{err}");
    assert!(
        !c.has_table("half"),
        "the first statements were rolled back"
    );
    assert_eq!(c.records(), [("1_half.sql".into(), false)]);
}

fn stop_skips_the_rest_and_still_runs_cmd(kind: Kind) {
    let c = Case::new(kind);
    c.write("1_broken.sql", "CREATE TABLE broken (;");
    c.write("2_b.sql", "CREATE TABLE b (id INTEGER);");
    let mut cmd = c.cmd();
    cmd.args(["--on-error", "stop", "--", "echo", "cmd ran"]);
    let (code, out, err) = run(cmd);
    assert_eq!((code, out.as_str()), (0, "cmd ran\n"), "{err}");
    assert!(err.contains("applied 0, failed 1, pending 1"), "{err}");
    assert!(!c.has_table("b"));
    assert_eq!(c.records(), [("1_broken.sql".into(), false)]);
}

fn abort_exits_1_without_running_cmd(kind: Kind) {
    let c = Case::new(kind);
    c.write("1_broken.sql", "CREATE TABLE broken (;");
    c.write("2_b.sql", "CREATE TABLE b (id INTEGER);");
    let mut cmd = c.cmd();
    cmd.env("MIGRATE_ON_ERROR", "abort")
        .args(["--", "echo", "should not run"]);
    let (code, out, err) = run(cmd);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(!c.has_table("b"));
}

fn changed_file_is_warned_about_not_rerun(kind: Kind) {
    let c = Case::new(kind);
    c.write(
        "1_count.sql",
        "CREATE TABLE runs (n INTEGER); INSERT INTO runs VALUES (1);",
    );
    assert_eq!(run(c.up()).0, 0);
    c.write(
        "1_count.sql",
        "CREATE TABLE runs (n INTEGER); INSERT INTO runs VALUES (2);",
    );
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("WARN") && err.contains("1_count.sql has changed since it was applied"),
        "{err}"
    );
    assert_eq!(c.value("SELECT count(*) FROM runs"), "1");
}

fn older_tracking_table_gets_the_missing_columns(kind: Kind) {
    let c = Case::new(kind);
    c.execute(
        "CREATE TABLE schema_migrations (id INTEGER PRIMARY KEY, \
         migration_name VARCHAR(255) UNIQUE NOT NULL, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, \
         description TEXT);
         CREATE TABLE users (id INTEGER);
         INSERT INTO schema_migrations (id, migration_name, description) VALUES (1, '001_users.sql', 'by the old runner');
         INSERT INTO schema_migrations (id, migration_name) VALUES (2, '002_add_desktop_type');",
    );
    c.write("001_users.sql", "CREATE TABLE users (id INTEGER);");
    c.write(
        "002_add_desktop_type.sql",
        "ALTER TABLE users ADD COLUMN desktop_type TEXT;",
    );
    c.write("003_posts.sql", "CREATE TABLE posts (id INTEGER);");
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    let cols = c.columns("schema_migrations");
    for col in [
        "id",
        "migration_name",
        "applied_at",
        "description",
        "checksum",
        "success",
        "error_message",
        "execution_time_ms",
    ] {
        assert!(cols.contains(&col.to_string()), "missing {col}: {cols:?}");
    }
    assert_eq!(
        c.column(
            "SELECT migration_name FROM schema_migrations WHERE success ORDER BY migration_name"
        ),
        ["001_users.sql", "002_add_desktop_type", "003_posts.sql"],
        "only 003 ran (002 was recorded without its extension by the old runner)"
    );
    assert!(c.has_table("posts"));
    assert!(!c.columns("users").contains(&"desktop_type".to_string()));
}

fn foreign_tracking_table_is_left_alone(kind: Kind) {
    let c = Case::new(kind);
    c.execute("CREATE TABLE schema_migrations (version VARCHAR(255) PRIMARY KEY); INSERT INTO schema_migrations VALUES ('20240101');");
    c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let (code, _, err) = run(c.up());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("table schema_migrations has no migration_name column")
            && err.contains("--table"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.contains("ERROR")).count(),
        2,
        "the error and the summary:\n{err}"
    );
    assert!(!c.has_table("a"));
    assert_eq!(c.columns("schema_migrations"), ["version"]);

    // With another table name, that history is not ignored: dbmate applied 20240101.
    let mut cmd = c.up();
    cmd.args(["--table", "app_migrations"]);
    let (code, _, err) = run(cmd);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("this database has dbmate's history (schema_migrations)")
            && err.contains("baseline --from dbmate"),
        "{err}"
    );
    assert!(!c.has_table("a") && !c.has_table("app_migrations"));

    // Also when that table is empty.
    c.execute("DELETE FROM schema_migrations");
    assert_eq!(run(c.up()).0, 1);

    // An empty history has nothing that could run twice: with another table name it goes ahead.
    let mut cmd = c.up();
    cmd.args(["--table", "app_migrations"]);
    let (code, _, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        c.value("SELECT migration_name FROM app_migrations"),
        "1_a.sql"
    );
}

fn empty_file_is_a_recorded_no_op(kind: Kind) {
    let c = Case::new(kind);
    c.write("1_empty.sql", "");
    c.write("2_comment_only.sql", "-- nothing yet\n");
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        c.records(),
        [
            ("1_empty.sql".into(), true),
            ("2_comment_only.sql".into(), true)
        ]
    );
}

fn dry_run_changes_nothing(kind: Kind) {
    let c = Case::new(kind);
    c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let mut cmd = c.up();
    cmd.arg("--dry-run");
    let (code, _, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("would apply 1_a.sql") && err.contains("pending 1"),
        "{err}"
    );
    match kind {
        Kind::Sqlite => assert!(!c.db.exists()),
        Kind::Postgres => assert!(!c.has_table("schema_migrations") && !c.has_table("a")),
    }
}

fn names_are_bound_not_interpolated(kind: Kind) {
    let c = Case::new(kind);
    let name = "1_it's; DROP TABLE schema_migrations; --.sql";
    c.write(name, "CREATE TABLE quoted (id INTEGER);");
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    assert_eq!(c.records(), [(name.to_string(), true)]);
}

/// An older image's container (whose migrations are all applied) starts while a newer one's
/// long migration holds the lock: it is not held up, because with nothing pending it takes no
/// lock at all.
fn nothing_pending_takes_no_lock(kind: Kind) {
    let c = Case::new(kind);
    c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    assert_eq!(run(c.up()).0, 0);
    let older = c.dir.path().join("older");
    std::fs::create_dir(&older).unwrap();
    std::fs::copy(c.migrations.join("1_a.sql"), older.join("1_a.sql")).unwrap();
    let slow = match kind {
        Kind::Sqlite => {
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n;"
        }
        Kind::Postgres => "SELECT pg_sleep(30);",
    };
    c.write("2_slow.sql", slow);
    let newer = c
        .up()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the newer runner holds the lock (flock on the SQLite file; an advisory lock).
    crate::common::wait_for(20, "the newer runner to take the lock", || lock_is_held(&c));
    let mut old = bare();
    old.args(["-d", &c.url, "-m"]).arg(&older).args([
        "--lock-timeout",
        "2s",
        "--",
        "echo",
        "old app",
    ]);
    let (code, out, err) = run(old);
    // It ended while the newer runner still held the lock: it never waited for it.
    let still_held = lock_is_held(&c);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(newer.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let _ = newer.wait_with_output();
    assert_eq!((code, out.as_str()), (0, "old app\n"), "{err}");
    assert!(still_held, "the newer runner held the lock throughout");
    assert!(!err.contains("waiting"), "{err}");
    assert!(err.contains("up to date"), "{err}");
}

/// Whether some runner holds the database's migration lock right now.
fn lock_is_held(c: &Case) -> bool {
    match c.kind {
        Kind::Sqlite => crate::common::sqlite_lock_held(&c.db),
        Kind::Postgres => {
            c.value("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())") != "0"
        }
    }
}

both!(
    down_undoes_the_newest_with_the_folders_down_parts,
    down_refuses_what_it_cannot_undo_and_changes_nothing,
    repair_fixes_records_and_says_what_they_were,
    resolve_records_or_clears_one_migration,
    up_stops_at_the_target,
    repeatable_migrations_run_after_the_versioned_ones_and_again_when_changed,
    wait_exits_0_when_every_database_answers,
);

/// `args` against this case's database and folder, with `-d` and `-m`.
fn cmd(c: &Case, args: &[&str]) -> std::process::Command {
    let mut cmd = bare();
    cmd.args(args).args(["-d", &c.url, "-m"]).arg(&c.migrations);
    cmd
}

fn down_undoes_the_newest_with_the_folders_down_parts(kind: Kind) {
    let c = Case::new(kind);
    // golang-migrate's twin, dbmate's section, Flyway's U file.
    c.write("1_a.up.sql", "CREATE TABLE a (id INTEGER);");
    c.write("1_a.down.sql", "DROP TABLE a;");
    c.write(
        "2_b.sql",
        "-- migrate:up\nCREATE TABLE b (id INTEGER);\n-- migrate:down\nDROP TABLE b;\n",
    );
    c.write("V3__c.sql", "CREATE TABLE c (id INTEGER);");
    c.write("U3__c.sql", "DROP TABLE c;");
    assert_eq!(run(c.up()).0, 0);
    assert_eq!(c.records().len(), 3);

    // A dry run says what it would undo and changes nothing.
    let (code, _, err) = run(cmd(&c, &["down", "--dry-run"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("would undo V3__c.sql"), "{err}");
    assert!(c.has_table("c") && c.records().len() == 3);

    let (code, _, err) = run(cmd(&c, &["down"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("undid V3__c.sql in"), "{err}");
    assert!(!c.has_table("c"));
    assert_eq!(
        c.records(),
        [("1_a.up.sql".into(), true), ("2_b.sql".into(), true)]
    );
    // `rollback` is the same command; --steps takes several, newest first.
    let (code, _, err) = run(cmd(&c, &["rollback", "--steps", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(!c.has_table("a") && !c.has_table("b"), "{err}");
    assert!(c.records().is_empty());
    // Pending again: `up` applies them all; then `down --to 1` keeps 1.
    assert_eq!(run(c.up()).0, 0);
    let (code, _, err) = run(cmd(&c, &["down", "--to", "1"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(c.records(), [("1_a.up.sql".into(), true)]);
    assert!(c.has_table("a") && !c.has_table("b") && !c.has_table("c"));
    // Nothing after 1: nothing to do.
    let (code, _, err) = run(cmd(&c, &["down", "--to", "1"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("nothing to do"), "{err}");
}

fn down_refuses_what_it_cannot_undo_and_changes_nothing(kind: Kind) {
    let c = Case::new(kind);
    c.write("1_a.up.sql", "CREATE TABLE a (id INTEGER);");
    c.write("1_a.down.sql", "DROP TABLE a;");
    c.write("2_b.sql", "CREATE TABLE b (id INTEGER);");
    c.write("3_c.up.sql", "CREATE TABLE c (id INTEGER);");
    c.write("3_c.down.sql", "DROP TABLE c;");
    assert_eq!(run(c.up()).0, 0);
    let before = c.records();
    // 2_b has no down part: undoing 3 and 2 is refused as a whole.
    let (code, _, err) = run(cmd(&c, &["down", "--steps", "2"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("2_b.sql: it has no down part"), "{err}");
    assert!(err.contains("nothing changed"), "{err}");
    assert_eq!(c.records(), before);
    assert!(c.has_table("c"));
    // A file changed since it was applied.
    c.write("3_c.up.sql", "CREATE TABLE c (id INTEGER, more TEXT);");
    let (code, _, err) = run(cmd(&c, &["down"]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("3_c.up.sql: its file changed since it was applied"),
        "{err}"
    );
    assert_eq!(c.records(), before);
    // A down part that fails is rolled back with its record kept.
    c.write("3_c.up.sql", "CREATE TABLE c (id INTEGER);");
    c.write("3_c.down.sql", "DROP TABLE c;\nDROP TABLE no_such_table;");
    let (code, _, err) = run(cmd(&c, &["down"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("its down part failed (rolled back)"), "{err}");
    assert!(c.has_table("c"));
    assert_eq!(c.records(), before);
}

fn repair_fixes_records_and_says_what_they_were(kind: Kind) {
    let c = Case::new(kind);
    c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    c.write("2_b.sql", "CREATE TABLE b (id INTEGER);");
    c.write("3_gone.sql", "CREATE TABLE gone (id INTEGER);");
    assert_eq!(run(c.up()).0, 0);
    std::fs::remove_file(c.migrations.join("3_gone.sql")).unwrap();
    c.write("2_b.sql", "CREATE TABLE b (id INTEGER); -- reformatted");
    c.execute(
        "INSERT INTO schema_migrations (migration_name, success) VALUES ('auto_schema_x', TRUE)",
    );
    let (code, _, _) = run(cmd(&c, &["validate"]));
    assert_eq!(code, 1);

    // Nothing asked: a usage error.
    assert_eq!(run(cmd(&c, &["repair"])).0, 2);
    // An unknown name refuses the whole repair.
    let (code, _, err) = run(cmd(
        &c,
        &["repair", "--forget-missing", "--forget", "nope.sql"],
    ));
    assert_eq!(code, 1, "{err}");
    assert_eq!(c.records().len(), 4);
    // A dry run changes nothing.
    let (code, _, err) = run(cmd(
        &c,
        &["repair", "--checksums", "--forget-missing", "--dry-run"],
    ));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("2_b.sql: would accept the file as it is now"),
        "{err}"
    );
    assert_eq!(c.records().len(), 4);

    let (code, _, err) = run(cmd(&c, &["repair", "--checksums", "--forget-missing"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("3_gone.sql: forget its record (was: applied at "),
        "the old row is logged: {err}"
    );
    assert!(err.contains("auto_schema_x: forget its record"), "{err}");
    assert_eq!(
        c.records(),
        [("1_a.sql".into(), true), ("2_b.sql".into(), true)]
    );
    let (code, out, _) = run(cmd(&c, &["validate"]));
    assert_eq!(code, 0, "{out}");

    // --forget NAME: that migration runs again.
    let (code, _, err) = run(cmd(&c, &["repair", "--forget", "1_a.sql"]));
    assert_eq!(code, 0, "{err}");
    c.execute("DROP TABLE a");
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("applied 1_a.sql"), "{err}");
}

fn resolve_records_or_clears_one_migration(kind: Kind) {
    let c = Case::new(kind);
    c.write(
        "20260205000001_thin_container.sql",
        "CREATE TABLE thin (id INTEGER);",
    );
    c.write("20260205000002_broken.sql", "CREATE TABLE broken (;");
    c.write(
        "20260205000003_later.sql",
        "CREATE TABLE later (id INTEGER);",
    );
    // The schema of the first is there already (made by hand).
    c.execute("CREATE TABLE thin (id INTEGER)");
    let (code, _, err) = run(cmd(
        &c,
        &["resolve", "--applied", "20260205000001_thin_container"],
    ));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("record as applied without running it"),
        "{err}"
    );
    let (code, _, err) = run(c.up());
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        c.records(),
        [
            ("20260205000001_thin_container.sql".into(), true),
            ("20260205000002_broken.sql".into(), false),
            ("20260205000003_later.sql".into(), true),
        ]
    );
    // Clearing the failed attempt: pending again, no row.
    let (code, _, err) = run(cmd(
        &c,
        &["resolve", "--rolled-back", "20260205000002_broken.sql"],
    ));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("clear its failed attempt"), "{err}");
    assert_eq!(c.records().len(), 2);
    // An applied one is not "rolled back": refused, nothing changed.
    let (code, _, err) = run(cmd(
        &c,
        &["resolve", "--rolled-back", "20260205000003_later.sql"],
    ));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("it is applied, not failed"), "{err}");
    assert_eq!(c.records().len(), 2);
    // Neither or both: usage errors.
    assert_eq!(run(cmd(&c, &["resolve"])).0, 2);

    // `baseline --through` takes a full name too.
    let d = Case::new(kind);
    d.write(
        "20260205000001_thin_container.sql",
        "CREATE TABLE thin (id INTEGER);",
    );
    d.write("20260205000002_next.sql", "CREATE TABLE next (id INTEGER);");
    // baseline is for a database that is there (it never creates one).
    d.execute("CREATE TABLE thin (id INTEGER)");
    let (code, _, err) = run(cmd(
        &d,
        &["baseline", "--through", "20260205000001_thin_container"],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        d.records(),
        [("20260205000001_thin_container.sql".into(), true)]
    );
    assert_eq!(
        run(cmd(&d, &["baseline", "--through", "no_such_migration"])).0,
        2
    );
}

fn up_stops_at_the_target(kind: Kind) {
    let c = Case::new(kind);
    for i in 1..=3 {
        c.write(
            &format!("{i}_t{i}.sql"),
            &format!("CREATE TABLE t{i} (id INTEGER);"),
        );
    }
    let (code, out, err) = run(cmd(&c, &["plan", "--on-error", "stop"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 to apply"), "{out}");
    let mut up = c.up();
    up.args(["--target", "2"]);
    let (code, _, err) = run(up);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 after --target left pending"), "{err}");
    assert_eq!(
        c.records(),
        [("1_t1.sql".into(), true), ("2_t2.sql".into(), true)]
    );
    // The variable, in entrypoint mode, by name.
    let mut entry = c.cmd();
    entry.env("MIGRATE_TARGET", "3_t3").args(["--", "true"]);
    let (code, _, err) = run(entry);
    assert_eq!(code, 0, "{err}");
    assert_eq!(c.records().len(), 3);
    c.write("4_t4.sql", "CREATE TABLE t4 (id INTEGER);");
    c.write("5_t5.sql", "CREATE TABLE t5 (id INTEGER);");
    let (code, out, err) = run(cmd(&c, &["plan", "--target", "4"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("1 to apply") && out.contains("apply 4_t4.sql") && !out.contains("5_t5"),
        "{out}"
    );
    let mut bad = c.up();
    bad.args(["--target", "no_such"]);
    assert_eq!(run(bad).0, 2);
}

fn repeatable_migrations_run_after_the_versioned_ones_and_again_when_changed(kind: Kind) {
    let c = Case::new(kind);
    c.write(
        "R__a_view.sql",
        "DROP VIEW IF EXISTS v;\nCREATE VIEW v AS SELECT id FROM t;",
    );
    c.write("1_t.sql", "CREATE TABLE t (id INTEGER, name TEXT);");
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        c.records(),
        [("1_t.sql".into(), true), ("R__a_view.sql".into(), true)]
    );
    // Unchanged: not run again.
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("up to date"), "{err}");
    // Changed: run again, its record's checksum updated; status says so before.
    c.write(
        "R__a_view.sql",
        "DROP VIEW IF EXISTS v;\nCREATE VIEW v AS SELECT id, name FROM t;",
    );
    let (_, out, _) = run(cmd(&c, &["status", "--format", "json"]));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let r = &doc["databases"][0]["migrations"][1];
    assert_eq!(
        (r["name"].as_str(), r["state"].as_str()),
        (Some("R__a_view.sql"), Some("pending"))
    );
    assert!(r["version"].is_null());
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("applied R__a_view.sql"), "{err}");
    assert_eq!(c.records().len(), 2);
    assert_eq!(c.columns("v"), ["id", "name"]);
}

fn wait_exits_0_when_every_database_answers(kind: Kind) {
    let c = Case::new(kind);
    let (code, _, err) = run(cmd(&c, &["wait", "--wait", "5s"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("answers"), "{err}");
    match kind {
        Kind::Sqlite => assert!(!c.db.exists(), "wait creates nothing"),
        Kind::Postgres => assert!(!c.has_table("schema_migrations"), "wait changes nothing"),
    }
}

both!(a_waiter_whose_work_was_done_meanwhile_stops_waiting);

/// A runner waiting for the lock re-reads the records between waits: when another runner has
/// applied what it waited to apply, it stops waiting, never having taken the lock.
fn a_waiter_whose_work_was_done_meanwhile_stops_waiting(kind: Kind) {
    let c = Case::new(kind);
    c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    assert_eq!(run(c.up()).0, 0);
    // The holder: on SQLite the test itself (a flock on the file, as a runner takes it); on
    // PostgreSQL a runner in a long migration from a folder of its own.
    let holder_dir = c.dir.path().join("holder");
    std::fs::create_dir(&holder_dir).unwrap();
    std::fs::copy(c.migrations.join("1_a.sql"), holder_dir.join("1_a.sql")).unwrap();
    std::fs::write(holder_dir.join("2_slow.sql"), "SELECT pg_sleep(60);").unwrap();
    let mut h = bare();
    h.args(["up", "-d", &c.url, "-m"]).arg(&holder_dir);
    let (holder, _flock) = match kind {
        Kind::Sqlite => {
            use nix::fcntl::{Flock, FlockArg};
            let f = std::fs::File::open(&c.db).unwrap();
            (None, Some(Flock::lock(f, FlockArg::LockExclusive).unwrap()))
        }
        Kind::Postgres => (Some(Running::start(h)), None),
    };
    crate::common::wait_for(20, "the holder to take the lock", || lock_is_held(&c));
    // The waiter has one migration due.
    c.write("3_new.sql", "CREATE TABLE new (id INTEGER);");
    let mut w = c.up();
    w.args(["--lock-timeout", "60s"]);
    let waiter = Running::start(w);
    waiter.wait_for_log(30, "waiting for the migration lock");
    // Someone else applies it (its record appears), while the holder still holds the lock.
    c.execute("CREATE TABLE new (id INTEGER)");
    c.execute("INSERT INTO schema_migrations (migration_name, success) VALUES ('3_new.sql', TRUE)");
    let (code, _, err) = waiter.finish();
    let still_held = lock_is_held(&c);
    if let Some(holder) = holder {
        holder.signal(nix::sys::signal::Signal::SIGTERM);
        let _ = holder.finish();
    }
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("another runner applied them meanwhile: nothing left to do"),
        "{err}"
    );
    assert!(still_held, "it never needed the lock");
}

both!(a_signal_during_down_rolls_the_undo_back_and_exits_128_plus_n);

fn a_signal_during_down_rolls_the_undo_back_and_exits_128_plus_n(kind: Kind) {
    let c = Case::new(kind);
    c.write("1_a.up.sql", "CREATE TABLE a (id INTEGER);");
    let slow = match kind {
        Kind::Sqlite => {
            "DROP TABLE a;\nWITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n;"
        }
        Kind::Postgres => "DROP TABLE a;\nSELECT pg_sleep(60);",
    };
    c.write("1_a.down.sql", slow);
    assert_eq!(run(c.up()).0, 0);
    let r = Running::start(cmd(&c, &["down"]));
    crate::common::wait_for(20, "the undo to hold the lock", || lock_is_held(&c));
    std::thread::sleep(std::time::Duration::from_millis(300));
    r.signal(nix::sys::signal::Signal::SIGTERM);
    let (code, _, err) = r.finish();
    assert_eq!(code, 143, "{err}");
    assert!(c.has_table("a"), "the undo was rolled back: {err}");
    assert_eq!(c.records(), [("1_a.up.sql".into(), true)]);
}

both!(a_down_file_pairs_with_a_plain_up_file);

/// `NNN_name.down.sql` is the down part of a plain `NNN_name.sql` (as of `NNN_name.up.sql`).
fn a_down_file_pairs_with_a_plain_up_file(kind: Kind) {
    let c = Case::new(kind);
    c.write("001_a.sql", "CREATE TABLE a (id INTEGER);");
    c.write("002_b.sql", "CREATE TABLE b (id INTEGER);");
    c.write("002_b.down.sql", "DROP TABLE b;");
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("whose up migration is not there"), "{err}");
    let (code, _, err) = run(cmd(&c, &["down"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("undid 002_b.sql"), "{err}");
    assert!(!c.has_table("b") && c.has_table("a"));
}

both!(a_failed_undo_is_summed_up);

/// `down`'s last line: how many it undid, which one failed, how many it did not attempt.
fn a_failed_undo_is_summed_up(kind: Kind) {
    let c = Case::new(kind);
    c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    c.write("1_a.down.sql", "DROP TABLE a;");
    c.write("2_b.sql", "CREATE TABLE b (id INTEGER);");
    c.write("2_b.down.sql", "DROP TABLE b;");
    c.write("3_c.sql", "CREATE TABLE c (id INTEGER);");
    c.write("3_c.down.sql", "DROP TABLE no_such_table;");
    c.write("4_d.sql", "CREATE TABLE d (id INTEGER);");
    c.write("4_d.down.sql", "DROP TABLE d;");
    assert_eq!(run(c.up()).0, 0);
    let (code, _, err) = run(cmd(&c, &["down", "--steps", "4"]));
    assert_eq!(code, 1, "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("ERROR") && last.contains("undid 1, failed 1 (3_c.sql), not attempted 2"),
        "{err}"
    );
    assert!(!c.has_table("d") && c.has_table("c") && c.has_table("a"));
}
