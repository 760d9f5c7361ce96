//! Deploying to a live PostgreSQL: a migration statement waits at most `--ddl-lock-timeout`
//! for its lock, so that the queries queued behind it go ahead, and is tried again until the
//! lock is had. Proved by observation: a reader's answer while the blocker is still open, the
//! log naming the blocker, one record and one index at the end; no clock is read.

use crate::common::{Case, Kind, Running};

fn blocker(c: &Case, name: &str, hold: &str) -> postgres::Client {
    let mut b = c.pg.as_ref().unwrap().client();
    b.batch_execute(&format!("SET application_name = '{name}'; BEGIN; {hold}"))
        .unwrap();
    b
}

#[test]
fn readers_go_ahead_while_a_migration_waits_and_it_applies_once_the_blocker_ends() {
    let c = Case::new(Kind::Postgres);
    c.execute("CREATE TABLE users (id INTEGER); INSERT INTO users VALUES (1), (2);");
    c.write("1_email.sql", "ALTER TABLE users ADD COLUMN email TEXT;");
    // A report whose transaction stays open, holding users' ACCESS SHARE lock.
    let mut report = blocker(&c, "nightly-report", "SELECT count(*) FROM users;");
    let running = Running::start(c.up());
    running.wait_for_log(30, "gave up waiting for a lock");
    // Behind a migration that waited for ever, this query would queue until the report ends
    // (and fail at its statement_timeout): it is answered while the report is still open.
    let mut reader = c.pg.as_ref().unwrap().client();
    reader
        .batch_execute("SET statement_timeout = '20s'")
        .unwrap();
    let n: i64 = reader
        .query_one("SELECT count(*) FROM users", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    assert_eq!(
        c.value(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'nightly-report' \
             AND state = 'idle in transaction'"
        ),
        "1",
        "the report is still open"
    );
    // Who is in the way is named, its query without literals.
    running.wait_for_log(
        30,
        "application_name \"nightly-report\", idle in transaction",
    );
    report.batch_execute("COMMIT").unwrap();
    let (code, _, err) = running.finish();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("applied 1_email.sql"), "{err}");
    assert!(c.columns("users").contains(&"email".to_string()));
    assert_eq!(c.records(), [("1_email.sql".into(), true)]);
}

#[test]
fn an_interrupted_concurrent_index_is_built_again_and_leaves_one_valid_index() {
    let c = Case::new(Kind::Postgres);
    c.execute(
        "CREATE TABLE users (id INTEGER, email TEXT); \
         INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 1000) g; \
         CREATE TABLE other (x INTEGER);",
    );
    c.write(
        "1_index.sql",
        "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY users_email ON users (email);\n",
    );
    // A report reading users in an older snapshot: the concurrent build waits for it after
    // building (and leaves an INVALID index when it gives up), and so does the drop of that
    // index (the report holds a lock on users): the statement is not tried again while the
    // index is there.
    let mut old = c.pg.as_ref().unwrap().client();
    old.batch_execute(
        "SET application_name = 'old-snapshot'; BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM users;",
    )
    .unwrap();
    let running = Running::start(c.up());
    running.wait_for_log(30, "is not dropped yet");
    old.batch_execute("COMMIT").unwrap();
    running.wait_for_log(30, "dropped the INVALID index");
    let (code, _, err) = running.finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        c.column(
            "SELECT c.relname || ' ' || i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE i.indrelid = 'users'::regclass"
        ),
        ["users_email true"],
        "{err}"
    );
    assert_eq!(c.records(), [("1_index.sql".into(), true)]);
}

#[test]
fn a_signal_while_backing_off_ends_the_run_with_143() {
    let c = Case::new(Kind::Postgres);
    c.execute("CREATE TABLE busy (id INTEGER);");
    c.write("1_alter.sql", "ALTER TABLE busy ADD COLUMN x INTEGER;");
    let mut holder = blocker(&c, "holder", "LOCK TABLE busy IN ACCESS EXCLUSIVE MODE;");
    let running = Running::start(c.up());
    running.wait_for_log(30, "gave up waiting for a lock");
    running.signal(nix::sys::signal::Signal::SIGTERM);
    let (code, _, err) = running.finish();
    holder.batch_execute("ROLLBACK").unwrap();
    assert_eq!(code, 143, "{err}");
    assert_eq!(c.columns("busy"), ["id"]);
    assert!(c.records().is_empty(), "{err}");
}

#[test]
fn zero_waits_for_ever_as_before() {
    let c = Case::new(Kind::Postgres);
    c.execute("CREATE TABLE busy (id INTEGER);");
    c.write("1_alter.sql", "ALTER TABLE busy ADD COLUMN x INTEGER;");
    let mut holder = blocker(&c, "holder", "LOCK TABLE busy IN ACCESS EXCLUSIVE MODE;");
    let mut up = c.up();
    up.env("MIGRATE_DDL_LOCK_TIMEOUT", "0");
    let running = Running::start(up);
    // Waiting in the server's lock queue, not giving up.
    crate::common::wait_for(30, "the migration to wait for its lock", || {
        c.value("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'busy'::regclass")
            == "1"
    });
    holder.batch_execute("ROLLBACK").unwrap();
    let (code, _, err) = running.finish();
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("gave up waiting"), "{err}");
}

/// `plan --rehearse`: what each statement of a pending migration would lock and rewrite, read
/// from a transaction that is rolled back; the database is left as it was.
#[test]
fn a_rehearsal_names_locks_and_rewrites_and_changes_nothing() {
    let c = Case::new(Kind::Postgres);
    c.execute("CREATE TABLE users (id INTEGER, name TEXT); INSERT INTO users VALUES (1, 'a');");
    c.write(
        "1_change.sql",
        "ALTER TABLE users ADD COLUMN email TEXT;\nALTER TABLE users ALTER COLUMN id TYPE BIGINT;\n",
    );
    c.write(
        "2_index.sql",
        "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY users_name ON users (name);\n",
    );
    let mut plan = crate::common::bare();
    plan.args(["plan", "--rehearse", "-d", &c.url, "-m"])
        .arg(&c.migrations);
    let (code, out, err) = crate::common::run(plan);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle}: {out}"))
    };
    let add = at("ALTER TABLE users ADD COLUMN email TEXT");
    assert!(
        lines[add + 1].contains("took AccessExclusiveLock on users"),
        "{out}"
    );
    assert!(
        !lines[add + 1..add + 2]
            .iter()
            .any(|l| l.contains("rewrote")),
        "{out}"
    );
    let change = at("ALTER TABLE users ALTER COLUMN id TYPE BIGINT");
    assert!(
        lines[change + 1..]
            .iter()
            .take(2)
            .any(|l| l.contains("rewrote users")),
        "{out}"
    );
    assert!(
        out.contains("held until its commit: AccessExclusiveLock on users"),
        "{out}"
    );
    assert!(
        out.contains("rehearsed 1_change.sql (rolled back):"),
        "{out}"
    );
    assert!(
        out.contains("not rehearsed: 2_index.sql (it runs outside a transaction"),
        "{out}"
    );
    // Nothing stays: no column, no type change, no table of ours.
    assert_eq!(c.columns("users"), ["id", "name"]);
    assert_eq!(
        c.value("SELECT data_type FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'id'"),
        "integer"
    );
    assert!(!c.has_table("schema_migrations"));
}

/// `--statement-timeout`: a statement that runs longer fails like any failed migration
/// (recorded, `--on-error` decides), not as if a signal had stopped the run.
#[test]
fn a_statement_timeout_is_a_recorded_failure() {
    let c = Case::new(Kind::Postgres);
    c.write("1_slow.sql", "SELECT pg_sleep(5);");
    c.write("2_next.sql", "CREATE TABLE next (id INTEGER);");
    let mut up = c.up();
    up.args(["--statement-timeout", "200ms"]);
    let (code, _, err) = crate::common::run(up);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("failed 1_slow.sql: canceling statement due to statement timeout (57014)"),
        "{err}"
    );
    assert_eq!(
        c.records(),
        [("1_slow.sql".into(), false), ("2_next.sql".into(), true)]
    );
}

/// A rehearsal that fails makes `plan --rehearse` fail, and says what it did not rehearse.
#[test]
fn a_failed_rehearsal_fails_the_plan() {
    let c = Case::new(Kind::Postgres);
    c.write("1_bad.sql", "SELEC 1;");
    c.write("2_ok.sql", "CREATE TABLE ok (id INTEGER);");
    let mut plan = crate::common::bare();
    plan.args(["plan", "--rehearse", "-d", &c.url, "-m"])
        .arg(&c.migrations);
    let (code, out, err) = crate::common::run(plan);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("failed: syntax error"), "{out}");
    assert!(
        out.contains("not rehearsed: 2_ok.sql (the rehearsal stopped at the failure before it)"),
        "{out}"
    );
}
