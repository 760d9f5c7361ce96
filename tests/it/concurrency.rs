//! Exactly-once under races, and signals while migrating, against real SQLite files.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{Case, run};

/// Four `up` processes started together on one new file, twenty times: every migration runs
/// exactly once (each inserts into a counter table) and has exactly one row.
#[test]
fn four_runners_at_once_apply_each_migration_once() {
    const ROUNDS: usize = 20;
    const RUNNERS: usize = 4;
    for round in 0..ROUNDS {
        let p = Case::sqlite();
        p.write(
            "1_counter.sql",
            "CREATE TABLE counter (migration TEXT);\nINSERT INTO counter VALUES ('1');",
        );
        for i in 2..=6 {
            p.write(
                &format!("{i}_step.sql"),
                &format!("CREATE TABLE t{i} (id INTEGER);\nINSERT INTO counter VALUES ('{i}');"),
            );
        }
        let children: Vec<_> = (0..RUNNERS)
            .map(|_| {
                p.up()
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(
            p.value("SELECT group_concat(migration, ',') FROM (SELECT migration FROM counter ORDER BY migration)"),
            "1,2,3,4,5,6",
            "round {round}"
        );
        let records = p.records();
        assert_eq!(records.len(), 6, "round {round}: {records:?}");
        assert!(records.iter().all(|r| r.1), "round {round}: {records:?}");
    }
}

/// A migration that runs until interrupted: a table, then an endless recursive count.
const ENDLESS: &str = "CREATE TABLE started (id INTEGER);\n\
    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;\n";

fn signal_while_migrating(sig: nix::sys::signal::Signal) {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    p.write("2_endless.sql", ENDLESS);
    let mut c = p.cmd();
    c.args(["--", "echo", "cmd ran"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    // Wait until the endless migration is running (the first one is recorded by then).
    crate::common::wait_for(20, "the first migration to land", || {
        p.db.exists() && std::panic::catch_unwind(|| p.records()).is_ok_and(|r| r.len() == 1)
    });
    std::thread::sleep(Duration::from_millis(200));
    let sent = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
    let out = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(128 + sig as i32), "{err}");
    // The migration is endless: ending at all means it was cancelled.
    eprintln!("stopped {took:?} after the signal");
    assert!(out.stdout.is_empty(), "CMD must not run");
    assert!(
        !p.has_table("started"),
        "the interrupted migration was rolled back"
    );
    assert_eq!(
        p.records(),
        [("1_a.sql".into(), true)],
        "no row for the cancelled one"
    );

    // The lock was let go: the next run goes ahead (and is interrupted-free with a fixed file).
    p.write("2_endless.sql", "CREATE TABLE started (id INTEGER);");
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0, "{err}");
    assert_eq!(p.records().len(), 2);
}

#[test]
fn sigterm_cancels_the_statement_and_exits_143() {
    signal_while_migrating(nix::sys::signal::Signal::SIGTERM);
}

#[test]
fn sigint_cancels_the_statement_and_exits_130() {
    signal_while_migrating(nix::sys::signal::Signal::SIGINT);
}

/// A runner waiting for another's lock gives up after --lock-timeout with exit 3.
#[test]
fn lock_timeout_exits_3() {
    let p = Case::sqlite();
    p.write("1_endless.sql", ENDLESS);
    let holder = p
        .up()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the holder has the lock (a flock on the database file).
    crate::common::wait_for(20, "the holder to take the lock", || {
        crate::common::sqlite_lock_held(&p.db)
    });
    let mut c = p.up();
    c.args(["--lock-timeout", "700ms"]);
    let started = Instant::now();
    let (code, _, err) = run(c);
    let took = started.elapsed();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(holder.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let _ = holder.wait_with_output();
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("not acquired within --lock-timeout (700ms)"),
        "{err}"
    );
    // It waited the timeout out (a lower bound holds on any machine).
    assert!(took >= Duration::from_millis(700), "{took:?}");
}
