//! Bad input: each gives one clear error line and changes no database.

use crate::common::{Case, bare, run, unprivileged};

/// Asserts a usage error: exit 2, one error line naming the problem, nothing on stdout.
fn usage_error(args: &[&str], needle: &'static str) {
    let mut c = bare();
    c.args(args);
    let (code, out, err) = run(c);
    assert_eq!((code, out.as_str()), (2, ""), "{args:?}: {err}");
    // The first line is the error (the log's, or clap's), and it names the problem.
    let first = err.lines().next().unwrap_or("");
    assert!(
        (first.contains(" ERROR ") || first.starts_with("error:")) && first.contains(needle),
        "{args:?}: {err}"
    );
}

fn sha(path: &std::path::Path) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}

#[test]
fn usage_errors_exit_2() {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let db = p.url.clone();
    let m = p.migrations.to_str().unwrap();
    usage_error(&["up", "--no-such-flag"], "--no-such-flag");
    usage_error(
        &["up", "-d", &db, "-m", m, "--wait", "soon"],
        "invalid --wait 'soon'",
    );
    usage_error(
        &["up", "-d", &db, "-m", m, "--lock-timeout", "5 parsecs"],
        "invalid --lock-timeout",
    );
    usage_error(
        &["up", "-d", &db, "-m", m, "--on-error", "sometimes"],
        "sometimes",
    );
    usage_error(&["up", "-d", "app.txt", "-m", m], "not a database URL");
    usage_error(
        &["up", "-d", "mysql://root:hunter2@db/app", "-m", m],
        "unsupported database URL scheme 'mysql'",
    );
    usage_error(&["up", "-d", "sqlite:", "-m", m], "not a database URL");
    usage_error(&["up", "-m", m], "no database configured");
    usage_error(
        &["up", "-d", &db, "-m", "/no/such/migrations"],
        "migrations directory /no/such/migrations does not exist",
    );
    usage_error(
        &["up", "-d", &db, "-m", m, "--table", "x; DROP TABLE y"],
        "invalid --table",
    );
    usage_error(
        &["up", "-d", &db, "-m", m, "--", "echo"],
        "'up' takes no command",
    );
    usage_error(
        &["up", "-d", "sqlite:/no/such/folder/app.db", "-m", m],
        "the folder /no/such/folder does not exist",
    );
    usage_error(
        &[
            "up",
            "-d",
            &db,
            "-m",
            m,
            "--log-level",
            "migrate_entrypoint=loud",
        ],
        "invalid log filter",
    );
    assert!(!p.db.exists(), "no usage error created the database");

    // Variables are checked as strictly as flags.
    let mut c = p.up();
    c.env("MIGRATE_DRY_RUN", "maybe");
    let (code, _, err) = run(c);
    assert_eq!(code, 2);
    assert!(err.contains("MIGRATE_DRY_RUN"), "{err}");
    // The password of a bad URL is never printed (run() checks every output for it), in
    // either form a URL can carry it.
    let mut c = bare();
    c.args(["up", "-d", "mysql://root:hunter2@db/app"]);
    assert_eq!(run(c).0, 2);
    let mut c = bare();
    c.args([
        "up",
        "--wait",
        "200ms",
        "-m",
        m,
        "-d",
        "postgres://app@127.0.0.1:1/x?sslmode=disable&password=hunter2",
    ]);
    let (code, _, err) = run(c);
    assert_eq!(code, 3);
    assert!(err.contains("password=***"), "{err}");
}

#[test]
fn empty_migrations_dir_is_nothing_to_do() {
    let p = Case::sqlite();
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("is empty: nothing to do"), "{err}");
    assert!(err.contains("up to date"), "{err}");
}

#[test]
fn unreadable_file_fails_that_migration_only() {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    // A dangling link cannot be read, whoever runs the test (root reads any mode).
    std::os::unix::fs::symlink("/no/such/target.sql", p.migrations.join("2_gone.sql")).unwrap();
    p.write("3_c.sql", "CREATE TABLE c (id INTEGER);");
    let (code, _, err) = run(p.up());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("failed 2_gone.sql: cannot read"), "{err}");
    assert_eq!(
        p.records(),
        [
            ("1_a.sql".into(), true),
            ("2_gone.sql".into(), false),
            ("3_c.sql".into(), true)
        ]
    );
}

#[test]
fn unreadable_by_mode_fails_that_migration_only() {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let f = p.write("2_secret.sql", "CREATE TABLE secret (id INTEGER);");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(p.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, _, err) = run(unprivileged(p.up()));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("failed 2_secret.sql: cannot read") && err.contains("ermission denied"),
        "{err}"
    );
    assert!(p.has_table("a"));
}

#[test]
fn non_utf8_file_fails_that_migration_only() {
    let p = Case::sqlite();
    std::fs::write(
        p.migrations.join("1_latin1.sql"),
        b"INSERT INTO t VALUES ('caf\xe9');",
    )
    .unwrap();
    p.write("2_b.sql", "CREATE TABLE b (id INTEGER);");
    let (code, _, err) = run(p.up());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("failed 1_latin1.sql: file is not UTF-8 text"),
        "{err}"
    );
    assert!(p.has_table("b"));
}

#[test]
fn corrupt_database_file_is_reported_and_left_as_is() {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    std::fs::write(&p.db, vec![0x5a_u8; 8192]).unwrap();
    let before = sha(&p.db);
    let (code, _, err) = run(p.up());
    // Not a database file: it cannot be opened (3), as an unreachable server.
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("not a database"), "{err}");
    assert!(err.contains("records not read"), "{err}");
    assert!(!err.contains("pending 0"), "{err}");
    assert_eq!(sha(&p.db), before);
    assert_eq!(
        err.lines().filter(|l| l.contains("ERROR")).count(),
        2,
        "the error and the summary:\n{err}"
    );
}

#[test]
fn read_only_database_file_is_reported_and_left_as_is() {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    rusqlite::Connection::open(&p.db)
        .unwrap()
        .execute_batch("CREATE TABLE existing (id INTEGER);")
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p.db, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(p.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let before = sha(&p.db);
    let (code, _, err) = run(unprivileged(p.up()));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("readonly") || err.contains("read-only"),
        "{err}"
    );
    assert_eq!(sha(&p.db), before);
}

#[test]
fn read_only_database_that_is_up_to_date_is_fine() {
    // The no-op path only reads: a read-only file that needs nothing is not an error.
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    assert_eq!(run(p.up()).0, 0);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p.db, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(p.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, _, err) = run(unprivileged(p.up()));
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_panic_ends_with_exit_1_not_101() {
    let p = Case::sqlite();
    let mut c = p.cmd();
    c.env("MIGRATE_TEST_PANIC", "1")
        .args(["--", "echo", "not run"]);
    let (code, out, err) = run(c);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains(" ERROR internal error:"), "{err}");
    // With JSON logs, the panic is a JSON line too.
    let mut c = p.cmd();
    c.env("MIGRATE_TEST_PANIC", "1")
        .env("MIGRATE_LOG_FORMAT", "json")
        .args(["--", "echo", "not run"]);
    let (code, _, err) = run(c);
    assert_eq!(code, 1, "{err}");
    let line: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert!(
        line["message"]
            .as_str()
            .unwrap()
            .starts_with("internal error:"),
        "{err}"
    );
}

#[test]
fn user_switch_needs_root() {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut c = p.cmd();
    c.args(["--user", "4242:4242", "--", "echo", "not run"]);
    let (code, out, err) = run(crate::common::unprivileged(c));
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.contains("--user 4242:4242: not running as root"),
        "{err}"
    );
    assert!(!p.db.exists(), "nothing touched");
}
