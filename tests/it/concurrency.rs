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

/// `--shard K/N`: N runners at once over M databases (a glob's files) migrate each database
/// exactly once between them; their shares make up every database; databases added later go
/// to a shard without moving the others.
#[test]
fn shards_split_the_databases_between_runners() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    std::fs::write(
        migrations.join("1_count.sql"),
        "CREATE TABLE runs (n INTEGER); INSERT INTO runs VALUES (1);",
    )
    .unwrap();
    let make = |range: std::ops::Range<usize>| {
        for i in range {
            std::fs::write(dir.path().join(format!("tenant{i:03}.db")), "").unwrap();
        }
    };
    make(0..30);
    let glob = format!("sqlite://{}/tenant*.db", dir.path().display());
    // Which databases each shard migrated, from its log.
    let shares = |n: u32| -> Vec<std::collections::BTreeSet<String>> {
        let children: Vec<_> = (0..n)
            .map(|k| {
                let mut c = crate::common::bare();
                c.args(["up", "-d", &glob, "-m"])
                    .arg(&migrations)
                    .args(["--shard", &format!("{k}/{n}")])
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        children
            .into_iter()
            .map(|c| {
                let out = c.wait_with_output().unwrap();
                let err = String::from_utf8_lossy(&out.stderr).into_owned();
                assert_eq!(out.status.code(), Some(0), "{err}");
                err.lines()
                    .filter(|l| l.contains("applied 1_count.sql"))
                    .filter_map(|l| l.split("tenant").nth(1))
                    .map(|t| t[..3].to_string())
                    .collect()
            })
            .collect()
    };
    let first = shares(3);
    let all: std::collections::BTreeSet<String> = first.iter().flatten().cloned().collect();
    assert_eq!(all.len(), 30, "{first:?}");
    assert_eq!(
        first.iter().map(|s| s.len()).sum::<usize>(),
        30,
        "each once: {first:?}"
    );
    for i in 0..30 {
        let db = dir.path().join(format!("tenant{i:03}.db"));
        assert_eq!(
            crate::common::query(&db, "SELECT count(*) FROM runs"),
            [["1"]]
        );
    }
    // Ten more: each goes to one shard, and the thirty stay where they were (nothing of
    // theirs is applied again, anywhere).
    make(30..40);
    let second = shares(3);
    let added: std::collections::BTreeSet<String> = second.iter().flatten().cloned().collect();
    let want: std::collections::BTreeSet<String> = (30..40).map(|i| format!("{i:03}")).collect();
    assert_eq!(added, want, "{second:?}");
    // The same split for the same databases, run again by name.
    for (k, share) in first.iter().enumerate() {
        let mut c = crate::common::bare();
        c.args(["plan", "-d", &glob, "-m"])
            .arg(&migrations)
            .env("MIGRATE_SHARDS", "3")
            .env("JOB_COMPLETION_INDEX", k.to_string());
        let (code, out, err) = crate::common::run(c);
        assert_eq!(code, 0, "{err}");
        for t in share {
            assert!(
                out.contains(&format!("tenant{t}.db")),
                "shard {k} keeps tenant{t}: {out}"
            );
        }
    }
}
