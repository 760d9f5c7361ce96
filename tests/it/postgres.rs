//! PostgreSQL against a real server: TLS modes, waiting for the server, the advisory lock under
//! races and kills, cancellation, statements sent as written, schema-qualified tables.

use crate::common::wait_for;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::pg::{self, PASSWORD};
use crate::common::{Case, Kind, bare};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docker/example/migrations");

use crate::common::run;

fn spawn(mut c: std::process::Command) -> Child {
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> (i32, String, String) {
    let out = child.wait_with_output().unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    crate::common::assert_no_secret("stdout", &o);
    crate::common::assert_no_secret("stderr", &e);
    (out.status.code().unwrap_or(-1), o, e)
}

fn kill(child: &Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

fn advisory_locks(c: &Case) -> usize {
    c.value("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
        .parse()
        .unwrap()
}

#[test]
fn example_app_applies_with_its_postgres_variant() {
    let db = pg::server().new_db();
    let mut c = bare();
    c.args(["-d", &db.url, "-m", EXAMPLE, "--", "echo", "app started"]);
    let (code, out, err) = run(c);
    assert_eq!((code, out.as_str()), (0, "app started\n"), "{err}");
    assert!(err.contains("applied 5, failed 0, pending 0"), "{err}");
    assert_eq!(
        db.column("SELECT migration_name FROM schema_migrations WHERE success ORDER BY id"),
        [
            "001_create_users.sql",
            "002_create_projects.sql",
            "003_index_projects_owner.sql",
            "004_touch_projects_updated_at.sql",
            "005_seed_admin.sql"
        ]
    );
    assert_eq!(
        db.value("SELECT count(*) FROM pg_trigger WHERE tgname = 'projects_touch'"),
        "1"
    );
    assert_eq!(
        db.value("SELECT count(*) FROM schema_migrations WHERE applied_at IS NULL OR checksum IS NULL OR execution_time_ms IS NULL OR error_message IS NOT NULL"),
        "0"
    );
    let mut c = bare();
    c.args(["-d", &db.url, "-m", EXAMPLE, "--", "echo", "again"]);
    let (code, out, err) = run(c);
    assert_eq!((code, out.as_str()), (0, "again\n"));
    assert!(err.contains("up to date"), "{err}");
}

#[test]
fn tls_modes() {
    let server = pg::server();
    let Some(ca) = &server.ca else {
        eprintln!(
            "TEST_DATABASE_URL is set: TLS modes are tested only against the tests' own server"
        );
        return;
    };
    let db = server.new_db();
    let case = |params: String, host: &str| {
        let p = crate::common::Case::sqlite();
        p.write("1_ssl.sql", "CREATE TABLE IF NOT EXISTS seen (ssl BOOLEAN);\nINSERT INTO seen SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();");
        let url = server
            .url_with(&db.name, &params)
            .replace("127.0.0.1", host);
        let mut c = bare();
        c.args([
            "up",
            "--table",
            &format!("m_{}", rand_suffix()),
            "-d",
            &url,
            "-m",
        ])
        .arg(&p.migrations);
        run(c)
    };
    let ca = ca.display().to_string();

    let (code, _, err) = case("sslmode=require".into(), "127.0.0.1");
    assert_eq!(code, 0, "require: {err}");
    let (code, _, err) = case(format!("sslmode=verify-full&sslrootcert={ca}"), "localhost");
    assert_eq!(code, 0, "verify-full by name: {err}");
    let (code, _, err) = case(format!("sslmode=verify-ca&sslrootcert={ca}"), "127.0.0.1");
    assert_eq!(code, 0, "verify-ca ignores the name: {err}");
    let (code, _, err) = case("sslmode=prefer".into(), "127.0.0.1");
    assert_eq!(code, 0, "prefer: {err}");
    assert_eq!(
        db.column("SELECT DISTINCT ssl::text FROM seen"),
        ["true"],
        "every run above was encrypted"
    );

    let started = Instant::now();
    let (code, _, err) = case(format!("sslmode=verify-full&sslrootcert={ca}"), "127.0.0.1");
    assert_eq!(code, 3, "verify-full, wrong name: cannot be opened: {err}");
    assert!(
        err.contains("certificate") && err.to_lowercase().contains("name"),
        "{err}"
    );
    assert!(
        !err.contains("retrying"),
        "a certificate error is not retried: {err}"
    );
    eprintln!("a certificate error: {:?}", started.elapsed());
    let (code, _, err) = case("sslmode=verify-full".into(), "localhost");
    assert_eq!(code, 3, "verify-full against the bundled roots: {err}");
    assert!(
        err.contains("UnknownIssuer") || err.contains("unknown issuer"),
        "{err}"
    );
    let (code, _, err) = case(
        "sslmode=verify-full&sslrootcert=/no/such/ca.pem".into(),
        "localhost",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("sslrootcert /no/such/ca.pem"), "{err}");

    // A server without TLS: require fails at once and clearly; prefer falls back to plain.
    let plain = pg::plain_server();
    let pdb = plain.new_db();
    let p = crate::common::Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let mut c = bare();
    c.args([
        "up",
        "--wait",
        "30s",
        "-d",
        &plain.url_with(&pdb.name, "sslmode=require"),
        "-m",
    ])
    .arg(&p.migrations);
    let started = Instant::now();
    let (code, _, err) = run(c);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("server does not support TLS"), "{err}");
    assert!(!err.contains("retrying"), "not retried: {err}");
    eprintln!("a refused TLS: {:?}", started.elapsed());
    let mut c = bare();
    c.args([
        "up",
        "-d",
        &plain.url_with(&pdb.name, "sslmode=prefer"),
        "-m",
    ])
    .arg(&p.migrations);
    let (code, _, err) = run(c);
    assert_eq!(
        code, 0,
        "prefer falls back to plain when the server refuses TLS: {err}"
    );
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::SeqCst).to_string()
}

#[test]
fn wrong_password_and_missing_database_fail_at_once() {
    let server = pg::server();
    let db = server.new_db();
    let p = crate::common::Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let wrong = db.url.replace(PASSWORD, "not-the-password");
    for (url, needle) in [
        (wrong, "password authentication failed"),
        (
            server.url_with("no_such_database", "sslmode=disable"),
            "does not exist",
        ),
    ] {
        let mut c = bare();
        c.args(["up", "--wait", "30s", "-d", &url, "-m"])
            .arg(&p.migrations);
        let started = Instant::now();
        let (code, _, err) = run(c);
        // Could not be opened: 3, not 1 (which says a migration failed).
        assert_eq!(code, 3, "{err}");
        assert!(err.contains(needle), "{err}");
        assert!(err.contains("records not read"), "{err}");
        assert!(!err.contains("pending 0"), "{err}");
        assert!(!err.contains("retrying"), "{err}");
        eprintln!("{needle}: {:?}", started.elapsed());
        assert!(!err.contains("not-the-password"), "{err}");
    }
}

#[test]
fn unreachable_server_exits_3_after_wait_and_entrypoint_mode_goes_on() {
    let p = crate::common::Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let url = format!("postgres://app:{PASSWORD}@127.0.0.1:1/app");
    let mut c = bare();
    c.args(["up", "--wait", "1500ms", "-d", &url, "-m"])
        .arg(&p.migrations);
    let started = Instant::now();
    let (code, _, err) = run(c);
    let took = started.elapsed();
    assert_eq!(code, 3, "{err}");
    assert!(
        took >= Duration::from_millis(1400),
        "waited --wait out: {took:?}"
    );
    assert!(
        err.contains("not reachable within --wait 1s 500ms"),
        "{err}"
    );
    // Retried often (a server that comes up is used at once), logged seldom: the first
    // retry, then one line every 5 s, not one per attempt.
    let retries = err.lines().filter(|l| l.contains("retrying")).count();
    assert_eq!(retries, 1, "{err}");
    let attempts: u32 = err
        .split(" attempts): ")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    assert!(
        attempts >= 4,
        "retried more than the log says: {attempts}\n{err}"
    );
    assert!(err.contains("postgres://app:***@127.0.0.1:1/app"), "{err}");

    assert!(err.contains("(not reachable)"), "{err}");

    // A name that does not resolve (yet) is retried too, as a compose service still starting.
    let mut c = bare();
    c.args([
        "up",
        "--wait",
        "700ms",
        "-d",
        "postgres://app@no-such-host.invalid/app",
        "-m",
    ])
    .arg(&p.migrations);
    let (code, _, err) = run(c);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("retrying") && err.contains("lookup"), "{err}");

    let mut c = bare();
    c.args(["--wait", "200ms", "-d", &url, "-m"])
        .arg(&p.migrations)
        .args(["--", "echo", "app runs anyway"]);
    let (code, out, _) = run(c);
    assert_eq!(
        (code, out.as_str()),
        (0, "app runs anyway\n"),
        "continue policy runs CMD"
    );
}

#[test]
fn waits_for_a_server_that_comes_up_late() {
    let server = pg::own_server();
    server.stop();
    let p = crate::common::Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE late (id INTEGER);");
    let mut c = bare();
    c.args([
        "up",
        "--wait",
        "60s",
        "-d",
        &server.url_with("postgres", "sslmode=disable"),
        "-m",
    ])
    .arg(&p.migrations);
    let child = spawn(c);
    std::thread::sleep(Duration::from_millis(1500));
    server.start();
    let (code, _, err) = finish(child);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("database not ready") && err.contains("connected after"),
        "{err}"
    );
    server.stop();
}

#[test]
fn eight_runners_at_once_apply_each_migration_once_with_advisory_lock() {
    race("advisory");
}

#[test]
fn eight_runners_at_once_apply_each_migration_once_with_table_lock() {
    race("table");
}

/// Eight `up` processes started together on one database, ten times: every migration runs
/// exactly once (each inserts into a counter table) and has one row.
fn race(mode: &str) {
    for round in 0..10 {
        let c = Case::new(Kind::Postgres);
        c.write(
            "1_counter.sql",
            "CREATE TABLE counter (migration TEXT);\nINSERT INTO counter VALUES ('1');",
        );
        for i in 2..=5 {
            c.write(
                &format!("{i}_step.sql"),
                &format!("CREATE TABLE t{i} (id INTEGER);\nINSERT INTO counter VALUES ('{i}');"),
            );
        }
        let children: Vec<Child> = (0..8)
            .map(|_| {
                let mut cmd = c.up();
                cmd.env("MIGRATE_LOCK_MODE", mode);
                spawn(cmd)
            })
            .collect();
        for child in children {
            let (code, _, err) = finish(child);
            assert_eq!(code, 0, "round {round}: {err}");
        }
        assert_eq!(
            c.column("SELECT migration FROM counter ORDER BY migration"),
            ["1", "2", "3", "4", "5"],
            "round {round}"
        );
        assert_eq!(c.records().len(), 5, "round {round}");
        assert!(c.records().iter().all(|r| r.1));
    }
}

#[test]
fn lock_waiter_names_the_holder_and_gives_up_after_lock_timeout() {
    let c = Case::new(Kind::Postgres);
    c.write("1_slow.sql", "SELECT pg_sleep(20);");
    let holder = spawn(c.up());
    wait_for(20, "the holder to take the lock", || {
        advisory_locks(&c) == 1
    });
    let mut waiter = c.up();
    waiter.args(["--lock-timeout", "4s"]);
    let started = Instant::now();
    let (code, _, err) = run(waiter);
    let took = started.elapsed();
    kill(&holder, nix::sys::signal::Signal::SIGTERM);
    let _ = finish(holder);
    assert_eq!(code, 3, "{err}");
    assert!(
        took >= Duration::from_secs(4),
        "waited the timeout out: {took:?}"
    );
    assert!(
        err.contains("waiting for the migration lock, held by pid"),
        "{err}"
    );
    assert!(
        err.contains("migrate-entrypoint") && err.contains("pg_sleep"),
        "{err}"
    );
    assert!(
        err.contains("not acquired within --lock-timeout (4s)"),
        "{err}"
    );
}

#[test]
fn a_killed_runner_lets_go_of_its_lock_within_seconds() {
    let c = Case::new(Kind::Postgres);
    c.write(
        "1_slow.sql",
        "CREATE TABLE slow (id INTEGER);\nSELECT pg_sleep(60);",
    );
    let victim = spawn(c.up());
    wait_for(20, "the runner to be in pg_sleep", || {
        c.value("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND application_name = 'migrate-entrypoint' AND datname = current_database()") == "1"
    });
    kill(&victim, nix::sys::signal::Signal::SIGKILL);
    let _ = victim.wait_with_output();
    let killed = Instant::now();
    c.write("1_slow.sql", "CREATE TABLE slow (id INTEGER);");
    // The server notices the dead client within seconds: the next runner gets the lock
    // within its own --lock-timeout (not the 60 s the statement would have run).
    let mut next = c.up();
    next.args(["--lock-timeout", "30s"]);
    let (code, _, err) = run(next);
    eprintln!(
        "the next runner went ahead {:?} after the kill",
        killed.elapsed()
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(c.records(), [("1_slow.sql".into(), true)]);
}

#[test]
fn sigterm_cancels_the_statement_and_leaves_no_trace() {
    let c = Case::new(Kind::Postgres);
    c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    c.write(
        "2_slow.sql",
        "CREATE TABLE slow (id INTEGER);\nSELECT pg_sleep(60);",
    );
    let mut cmd = c.cmd();
    cmd.args(["--", "echo", "cmd ran"]);
    let child = spawn(cmd);
    wait_for(20, "the runner to be in pg_sleep", || {
        c.value("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND application_name = 'migrate-entrypoint' AND datname = current_database()") == "1"
    });
    let sent = Instant::now();
    kill(&child, nix::sys::signal::Signal::SIGTERM);
    let (code, out, err) = finish(child);
    assert_eq!(code, 143, "{err}");
    // Had the statement not been cancelled, pg_sleep would have finished and `slow` would
    // be there, recorded.
    eprintln!("stopped {:?} after the signal", sent.elapsed());
    assert_eq!(out, "", "CMD must not run");
    assert!(!c.has_table("slow"));
    assert_eq!(c.records(), [("1_a.sql".into(), true)]);
    assert_eq!(advisory_locks(&c), 0);
}

#[test]
fn no_transaction_migrations_run_outside_one() {
    let c = Case::new(Kind::Postgres);
    c.write("1_t.sql", "CREATE TABLE t (id INTEGER, email TEXT);");
    c.write(
        "2_idx.sql",
        "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY t_email ON t (email);\n",
    );
    c.write(
        "3_idx_in_tx.sql",
        "CREATE INDEX CONCURRENTLY t_id ON t (id);\n",
    );
    c.write(
        "4_bad_no_tx.sql",
        "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY nope ON missing (id);\n",
    );
    let (code, _, err) = run(c.up());
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        c.records(),
        [
            ("1_t.sql".into(), true),
            ("2_idx.sql".into(), true),
            ("3_idx_in_tx.sql".into(), false),
            ("4_bad_no_tx.sql".into(), false)
        ]
    );
    assert_eq!(
        c.value("SELECT count(*) FROM pg_indexes WHERE indexname = 't_email'"),
        "1"
    );
    let msg = c.value(
        "SELECT error_message FROM schema_migrations WHERE migration_name = '3_idx_in_tx.sql'",
    );
    assert!(
        msg.contains("cannot run inside a transaction block"),
        "{msg}"
    );
}

#[test]
fn statements_are_sent_as_written() {
    let c = Case::new(Kind::Postgres);
    c.write(
        "1_containers.sql",
        "CREATE TABLE containers (id SERIAL PRIMARY KEY, name TEXT);",
    );
    // The guarded ALTER of ../shared/background/1-add-missing-column-sql-migration.txt.
    let guarded = "DO $$ \nBEGIN\n    IF NOT EXISTS (\n        SELECT 1 FROM information_schema.columns \n        WHERE table_name = 'containers' \n        AND column_name = 'desktop_type'\n        AND table_schema = current_schema()\n    ) THEN\n        ALTER TABLE containers ADD COLUMN desktop_type VARCHAR(50);\n        RAISE NOTICE 'Added desktop_type column to containers table';\n    ELSE\n        RAISE NOTICE 'desktop_type column already exists in containers table';\n    END IF;\nEND $$;\n";
    c.write("2_add_desktop_type_column.sql", guarded);
    c.write(
        "3_function.sql",
        "-- a comment; with a semicolon\nCREATE FUNCTION greet(n TEXT) RETURNS TEXT AS $body$\nBEGIN\n  RETURN 'hello; ' || n; -- inside; too\nEND;\n$body$ LANGUAGE plpgsql;\n/* block; comment */ SELECT greet('x');\n",
    );
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    // A migration's notices are logged at info, with its name.
    assert!(
        err.contains(
            " INFO  postgres://postgres:***@127.0.0.1:"
        ) && err.contains(
            "2_add_desktop_type_column.sql: NOTICE: Added desktop_type column to containers table"
        ),
        "{err}"
    );
    // Our own statements' notices (`relation ... already exists, skipping` when the
    // tracking table is there) are not shown at info.
    c.write("4_more.sql", "SELECT 1;");
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("already exists"), "{err}");
    let mut cmd = c.up();
    cmd.args(["--log-level", "debug"]);
    c.write("5_more.sql", "SELECT 1;");
    let (code, _, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("already exists, skipping"),
        "shown at debug: {err}"
    );
    assert!(
        c.columns("containers")
            .contains(&"desktop_type".to_string())
    );
    assert_eq!(c.value("SELECT greet('y')"), "hello; y");
}

#[test]
fn schema_qualified_tracking_table() {
    let c = Case::new(Kind::Postgres);
    c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let mut cmd = c.up();
    cmd.args(["--table", "app.schema_migrations"]);
    let (code, _, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        c.value("SELECT migration_name FROM app.schema_migrations"),
        "1_a.sql"
    );
    assert_eq!(
        c.value("SELECT table_schema FROM information_schema.tables WHERE table_name = 'a'"),
        "public"
    );
    assert!(!c.has_table("schema_migrations"), "nothing in public");
    let mut cmd = c.up();
    cmd.env("MIGRATE_TABLE", "app.schema_migrations");
    let (_, _, err) = run(cmd);
    assert!(err.contains("up to date"), "{err}");
}

#[test]
fn lock_timeout_inside_a_migration_is_recorded_and_the_run_goes_on() {
    let c = Case::new(Kind::Postgres);
    c.execute("CREATE TABLE busy (id INTEGER);");
    c.write(
        "1_alter.sql",
        "SET lock_timeout = '300ms';\nALTER TABLE busy ADD COLUMN x INTEGER;",
    );
    c.write("2_next.sql", "CREATE TABLE next (id INTEGER);");
    let mut holder = c.pg.as_ref().unwrap().client();
    let mut tx = holder.transaction().unwrap();
    tx.batch_execute("LOCK TABLE busy IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    // The file's own lock_timeout holds; tried again, backing off, until the budget is spent.
    let mut up = c.up();
    up.args(["--ddl-retry-for", "1s"]);
    let (code, _, err) = run(up);
    tx.rollback().unwrap();
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("failed 1_alter.sql: canceling statement due to lock timeout (55P03)")
            && err.contains("times for --ddl-retry-for 1s"),
        "{err}"
    );
    assert_eq!(
        c.records(),
        [("1_alter.sql".into(), false), ("2_next.sql".into(), true)]
    );
}

#[test]
fn url_features_of_libpq() {
    let server = pg::server();
    let db = server.new_db();
    let mut admin = server.admin();
    admin
        .batch_execute(&format!(
            "CREATE ROLE \"odd_user_{0}\" LOGIN SUPERUSER PASSWORD 'p@ss/w:rd %{0}'",
            db.name
        ))
        .unwrap();
    let p = crate::common::Case::sqlite();
    p.write("1_who.sql", "CREATE TABLE who AS SELECT current_user::text AS u, current_setting('statement_timeout') AS st, current_setting('application_name') AS app;");
    let port = db
        .url
        .split(':')
        .nth(3)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    // A percent-encoded password, two hosts of which the first is down, options=, a custom
    // application_name.
    let url = format!(
        "postgresql://odd_user_{n}:p%40ss%2Fw%3Ard%20%25{n}@127.0.0.1:1,127.0.0.1:{port}/{n}?sslmode=disable&options=-c%20statement_timeout%3D4321&application_name=my-app",
        n = db.name
    );
    let mut c = bare();
    c.args(["up", "-d", &url, "-m"]).arg(&p.migrations);
    let (code, _, err) = crate::common::run(c);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("p@ss") && !err.contains("p%40ss"), "{err}");
    assert_eq!(
        db.value("SELECT u || ' ' || st || ' ' || app FROM who"),
        format!("odd_user_{} 4321ms my-app", db.name)
    );
}

#[test]
fn table_lock_takes_over_an_expired_lease_and_waits_for_a_live_one() {
    let c = Case::new(Kind::Postgres);
    c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    c.write("2_b.sql", "CREATE TABLE b (id INTEGER);");
    c.execute(
        "CREATE TABLE schema_migrations_lock (id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT NOT NULL, \
         acquired_at TIMESTAMPTZ NOT NULL DEFAULT now(), expires_at TIMESTAMPTZ NOT NULL);
         INSERT INTO schema_migrations_lock VALUES (1, 'a runner that died', now() - interval '5 minutes', now() - interval '4 minutes');",
    );
    let mut cmd = c.up();
    cmd.args(["--lock-mode", "table", "--lock-timeout", "5s"]);
    let (code, _, err) = run(cmd);
    assert_eq!(code, 0, "an expired lease is taken over: {err}");
    assert_eq!(
        c.value("SELECT count(*) FROM schema_migrations_lock"),
        "0",
        "released after the run"
    );

    // A live lease (not expired) is waited for, and its holder named.
    c.write("3_c.sql", "CREATE TABLE c (id INTEGER);");
    c.execute("INSERT INTO schema_migrations_lock VALUES (1, 'a live runner', now(), now() + interval '1 hour');");
    let mut cmd = c.up();
    cmd.args(["--lock-mode", "table", "--lock-timeout", "1s"]);
    let (code, _, err) = run(cmd);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("held by a live runner"), "{err}");
    assert!(!c.has_table("c"));
}

#[test]
fn wait_and_create_database() {
    let server = pg::server();
    let p = crate::common::Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let name = format!("created_{}", rand_suffix());
    let url = server.url_with(&name, "sslmode=disable");
    // `wait` on a server that is not there: 3 after --wait.
    let mut c = bare();
    c.args([
        "wait",
        "--wait",
        "1s",
        "-d",
        "postgres://a:hunter2@127.0.0.1:1/x",
    ]);
    assert_eq!(run(c).0, 3);
    // Without --create-database, a missing database cannot be opened: 3.
    let mut c = bare();
    c.args(["up", "-d", &url, "-m"]).arg(&p.migrations);
    let (code, _, err) = run(c);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("does not exist"), "{err}");
    // With it, it is created, then migrated.
    let mut c = bare();
    c.args(["up", "--create-database", "-d", &url, "-m"])
        .arg(&p.migrations);
    let (code, _, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("created database {name}")), "{err}");
    let created = pg::connect(&url);
    drop(created);
    // A role that may not create databases gets a clear error.
    let mut admin = server.admin();
    let role = format!("nocreate_{}", rand_suffix());
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{}' NOCREATEDB",
            pg::PASSWORD
        ))
        .unwrap();
    let other = format!(
        "{}/{}_x?sslmode=disable",
        server
            .base
            .replacen("://postgres:", &format!("://{role}:"), 1),
        name
    );
    let mut c = bare();
    c.args(["up", "--create-database", "-d", &other, "-m"])
        .env("MIGRATE_CREATE_DATABASE", "1")
        .arg(&p.migrations);
    let (code, _, err) = run(c);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("needs the CREATEDB privilege"), "{err}");
}

#[test]
fn a_no_transaction_file_may_hold_several_statements() {
    // As one query string, PostgreSQL would run these in one implicit transaction, where
    // CREATE INDEX CONCURRENTLY is refused (25001): each is sent on its own.
    let c = Case::new(Kind::Postgres);
    c.write(
        "1_concurrently.sql",
        "-- migrate:no-transaction\nCREATE TABLE t (x INTEGER); -- a table; then its index\n\
         CREATE INDEX CONCURRENTLY t_x ON t (x);\n\
         DO $$ BEGIN PERFORM 1; END $$;\n",
    );
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        c.value("SELECT indisvalid::text FROM pg_index WHERE indexrelid = 't_x'::regclass"),
        "true"
    );
    // An error names the file's own line.
    c.write(
        "2_broken.sql",
        "-- migrate:no-transaction\nCREATE TABLE u (x INTEGER);\nSELECT (;\n",
    );
    let (code, _, err) = run(c.up());
    assert_eq!(code, 1, "{err}");
    let msg = c
        .value("SELECT error_message FROM schema_migrations WHERE migration_name = '2_broken.sql'");
    assert_eq!(msg, "syntax error at or near \";\" (42601) at line 3");
}

/// What PostgreSQL says besides the message reaches the log: a notice's DETAIL and HINT, a
/// warning at warn level, a PL/pgSQL error's CONTEXT (the line of the `DO` block); and the
/// time a record holds is when it was written, not when its transaction began.
#[test]
fn notices_errors_and_record_times_keep_what_the_server_said() {
    let c = Case::new(Kind::Postgres);
    c.write(
        "1_notice.sql",
        "CREATE TABLE started (at timestamptz DEFAULT now());\nINSERT INTO started DEFAULT VALUES;\nSELECT pg_sleep(0.2);\n\
         DO $$ BEGIN\n  RAISE NOTICE 'backfilling' USING DETAIL = '42 rows to go', HINT = 'run it at night';\n  RAISE WARNING 'slow' USING HINT = 'index it';\nEND $$;\n",
    );
    c.write(
        "2_context.sql",
        "DO $$\nDECLARE n int;\nBEGIN\n  n := 1;\n  PERFORM 1 / (n - 1);\nEND $$;\n",
    );
    let (code, _, err) = run(c.up());
    assert_eq!(code, 1, "{err}");
    let notice = err
        .lines()
        .find(|l| l.contains("backfilling"))
        .unwrap_or_default();
    assert!(
        notice.contains(" INFO ")
            && notice.contains(
                "1_notice.sql: NOTICE: backfilling; detail: 42 rows to go; hint: run it at night"
            ),
        "{err}"
    );
    let warning = err.lines().find(|l| l.contains("slow")).unwrap_or_default();
    assert!(
        warning.contains(" WARN ") && warning.contains("hint: index it"),
        "{err}"
    );
    let failed = c.value(
        "SELECT error_message FROM schema_migrations WHERE migration_name = '2_context.sql'",
    );
    assert!(
        failed.contains("division by zero (22012)")
            && failed.contains("context: SQL statement \"SELECT 1 / (n - 1)\" / PL/pgSQL function inline_code_block line 5 at PERFORM"),
        "{failed}"
    );
    // Written after the migration's statements ran (clock_timestamp, not the transaction's now()).
    assert_eq!(
        c.value(
            "SELECT applied_at > (SELECT at FROM started) + interval '150 milliseconds' \
             FROM schema_migrations WHERE migration_name = '1_notice.sql'"
        ),
        "1"
    );
}
