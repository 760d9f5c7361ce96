//! Faults of the database: PostgreSQL restarted in the middle of a run, the connection dropped
//! mid-statement, SQLite's disk full, a SQLite file locked for longer than the busy timeout, a
//! database that answers slowly. Each fails cleanly with a clear message, changes nothing half
//! way, and the next run completes.

use crate::common::wait_for;

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::pg;
use crate::common::{Case, Kind, bare, run};

#[test]
fn postgres_restarted_mid_run() {
    let server = pg::own_server();
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    p.write(
        "2_slow.sql",
        "CREATE TABLE slow (id INTEGER);\nSELECT pg_sleep(30);",
    );
    let url = server.url_with("postgres", "sslmode=disable");
    let mut c = bare();
    c.args(["up", "--wait", "2s", "-d", &url, "-m"])
        .arg(&p.migrations);
    let child = c
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut admin = pg::connect(&url);
    wait_for(20, "the slow migration", || {
        admin
            .simple_query("SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND application_name = 'migrate-entrypoint'")
            .map(|m| m.iter().any(|x| matches!(x, postgres::SimpleQueryMessage::Row(_))))
            .unwrap_or(false)
    });
    drop(admin);
    server.stop();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    crate::common::assert_no_secret("stderr", &err);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the connection was lost while applying 2_slow.sql: "),
        "a clear cause:\n{err}"
    );
    server.start();
    let (code, _, err) = run({
        let mut c = bare();
        c.args(["up", "--wait", "30s", "-d", &url, "-m"])
            .arg(&p.migrations);
        c
    });
    assert_eq!(code, 0, "{err}");
    let db = pg::connect(&url)
        .simple_query("SELECT migration_name FROM schema_migrations WHERE success ORDER BY id")
        .unwrap()
        .iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert_eq!(db, ["1_a.sql", "2_slow.sql"], "each applied once");
    server.stop();
}

#[test]
fn postgres_connection_dropped_mid_statement() {
    let c = Case::new(Kind::Postgres);
    c.write(
        "1_slow.sql",
        "CREATE TABLE slow (id INTEGER);\nSELECT pg_sleep(30);",
    );
    c.write("2_b.sql", "CREATE TABLE b (id INTEGER);");
    let child = c
        .up()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(20, "the slow migration", || {
        c.value("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND application_name = 'migrate-entrypoint' AND datname = current_database()") == "1"
    });
    // Only this test's database: other tests share the server.
    c.value("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'migrate-entrypoint' AND datname = current_database()");
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    eprintln!("ended {:?} after the termination", started.elapsed());
    // The server's FATAL message, or just the closed socket, depending on timing.
    assert!(
        err.contains("the connection was lost while applying 1_slow.sql: ")
            && (err.contains("terminating connection due to administrator command")
                || err.contains("connection closed")),
        "{err}"
    );
    assert!(
        !err.contains("2_b.sql"),
        "nothing more is tried on a lost connection:\n{err}"
    );
    assert!(err.contains("(database failed)"), "{err}");
    assert!(!c.has_table("slow"), "rolled back");
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    assert!(c.records().iter().all(|r| r.1) && c.records().len() == 2);
}

#[test]
fn sqlite_disk_full() {
    if !crate::common::is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let p = Case::sqlite();
    let mnt = p.dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount a 1 MiB tmpfs");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.clone());
    let db = mnt.join("app.db");
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    p.write(
        "2_fill.sql",
        "CREATE TABLE big (b BLOB);\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400) INSERT INTO big SELECT randomblob(8000) FROM c;",
    );
    p.write("3_c.sql", "CREATE TABLE c (id INTEGER);");
    let mut c = bare();
    c.args(["up", "-d"]).arg(&db).arg("-m").arg(&p.migrations);
    let (code, _, err) = run(c);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("failed 2_fill.sql: database or disk is full"),
        "{err}"
    );
    let q = |sql: &str| crate::common::query(&db, sql);
    assert!(
        q("SELECT name FROM sqlite_master WHERE name = 'big'").is_empty(),
        "nothing half-written"
    );
    let rows = q("SELECT migration_name, success FROM schema_migrations ORDER BY id");
    assert_eq!(
        rows,
        [["1_a.sql", "1"], ["2_fill.sql", "0"], ["3_c.sql", "1"]]
            .map(|r| r.map(String::from).to_vec()),
        "the failure is recorded once the space is back, and the run went on"
    );
}

#[test]
fn sqlite_locked_longer_than_the_busy_timeout() {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    rusqlite::Connection::open(&p.db)
        .unwrap()
        .execute_batch("CREATE TABLE app (id INTEGER);")
        .unwrap();
    let holder = rusqlite::Connection::open(&p.db).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let mut c = p.up();
    c.args(["--lock-timeout", "1s"]);
    let started = Instant::now();
    let (code, _, err) = run(c);
    let took = started.elapsed();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("database is locked"), "{err}");
    assert!(
        took >= Duration::from_secs(1),
        "waited the busy timeout out: {took:?}"
    );
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0, "{err}");
    assert_eq!(p.records(), [("1_a.sql".into(), true)]);
}

#[test]
fn a_slow_database_is_waited_for_not_failed() {
    // The migration waits 3 s for a row lock another session holds: slow, not broken.
    let c = Case::new(Kind::Postgres);
    c.execute("CREATE TABLE busy (id INTEGER); INSERT INTO busy VALUES (1);");
    c.write("1_update.sql", "UPDATE busy SET id = 2;");
    let mut holder = c.pg.as_ref().unwrap().client();
    let mut tx = holder.transaction().unwrap();
    tx.batch_execute("SELECT * FROM busy FOR UPDATE").unwrap();
    let child = c
        .up()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    tx.commit().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(c.value("SELECT id FROM busy"), "2");
}
