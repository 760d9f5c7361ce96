//! What a start with nothing to do must not do, seen from outside with strace: take the
//! migration lock, write to the database (so no table created or altered), read a migration
//! file twice, open a second connection, or start threads beyond the two it needs (the signal
//! watcher, and the one that opens the database while the files are read). Needs strace
//! (Debian: `apt-get install strace`; `.ci/run` installs it).

use std::path::Path;
use std::process::Command;

use crate::common::{Case, Kind, run};

const MIGRATIONS: usize = 30;

fn applied(kind: Kind) -> Case {
    let c = Case::new(kind);
    for i in 1..=MIGRATIONS {
        c.write(
            &format!("{i:03}_t{i}.sql"),
            &format!("CREATE TABLE t{i} (id INTEGER);\nINSERT INTO t{i} VALUES ({i});\n"),
        );
    }
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    c
}

/// Runs `cmd` (entrypoint mode, CMD `true`) under strace; returns strace's log.
pub(crate) fn traced(cmd: &Command, dir: &Path) -> String {
    let log = dir.join("strace.log");
    let mut s = Command::new("strace");
    s.args(["-f", "-s", "512", "-o"]).arg(&log);
    s.arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => s.env(k, v),
            None => s.env_remove(k),
        };
    }
    s.args(["--", "true"]);
    let out = match s.output() {
        Ok(o) => o,
        Err(e) => panic!("strace is needed for this test (apt-get install strace): {e}"),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&log).unwrap()
}

/// Log lines of the binary's own process tree before it exec'd CMD (`true` is not ours). The
/// first line is strace starting the binary.
pub(crate) fn ours(log: &str) -> Vec<&str> {
    log.lines()
        .skip(1)
        .take_while(|l| !(l.contains("execve(") && l.contains("true") && l.contains("= 0")))
        .collect()
}

/// Threads and processes started (a call line, finished or not; `<... resumed>` lines are not).
fn threads(lines: &[&str]) -> usize {
    lines
        .iter()
        .filter(|l| l.contains("clone(") || l.contains("clone3("))
        .count()
}

fn each_file_read_once(lines: &[&str]) {
    for i in 1..=MIGRATIONS {
        let name = format!("{i:03}_t{i}.sql");
        let opens = lines
            .iter()
            .filter(|l| l.contains("open") && l.contains(&name) && !l.contains("= -1"))
            .count();
        assert_eq!(
            opens,
            1,
            "{name} opened {opens} times:\n{}",
            lines.join("\n")
        );
    }
}

#[test]
fn sqlite_no_op_takes_no_lock_writes_nothing_and_reads_each_file_once() {
    let c = applied(Kind::Sqlite);
    let before = std::fs::read(&c.db).unwrap();
    let log = traced(&c.cmd(), c.dir.path());
    let lines = ours(&log);
    assert!(
        !lines.iter().any(|l| l.contains("flock(")),
        "the migration lock was taken:\n{}",
        lines.join("\n")
    );
    let db = c.db.display().to_string();
    let journal = format!("{db}-journal");
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("open") && l.contains(&journal) && !l.contains("= -1")),
        "a journal was opened: the database was written"
    );
    assert_eq!(
        std::fs::read(&c.db).unwrap(),
        before,
        "the database file changed"
    );
    each_file_read_once(&lines);
    let db_opens = lines
        .iter()
        .filter(|l| l.contains("open") && l.contains(&format!("\"{db}\"")) && !l.contains("= -1"))
        .count();
    assert_eq!(db_opens, 1, "the database was opened {db_opens} times");
    let t = threads(&lines);
    assert!(t <= 2, "{t} threads started:\n{}", lines.join("\n"));
}

#[test]
fn postgres_no_op_opens_one_connection_and_sends_no_lock_or_ddl() {
    let c = applied(Kind::Postgres);
    let log = traced(&c.cmd(), c.dir.path());
    let lines = ours(&log);
    let connects = lines
        .iter()
        .filter(|l| l.contains("connect(") && l.contains("sin_port"))
        .count();
    assert_eq!(connects, 1, "connections: {connects}\n{}", lines.join("\n"));
    let sent: Vec<&&str> = lines.iter().filter(|l| l.contains("sendto(")).collect();
    assert!(!sent.is_empty(), "strace saw nothing sent");
    for l in &sent {
        let upper = l.to_uppercase();
        for word in ["ADVISORY", "CREATE", "ALTER", "INSERT", "UPDATE", "BEGIN"] {
            assert!(!upper.contains(word), "a no-op sent {word}: {l}");
        }
    }
    each_file_read_once(&lines);
    let t = threads(&lines);
    assert!(t <= 2, "{t} threads started:\n{}", lines.join("\n"));
}

/// A case whose declared schema is all there (the migrations made it).
fn declared(kind: Kind) -> (Case, std::path::PathBuf) {
    let c = applied(kind);
    let schema = c.dir.path().join("schema.sql");
    let tables: String = (1..=MIGRATIONS)
        .map(|i| format!("CREATE TABLE t{i} (id INTEGER);\n"))
        .collect();
    std::fs::write(&schema, tables).unwrap();
    let mut up = c.up();
    up.arg("--schema").arg(&schema);
    let (code, _, err) = run(up);
    assert_eq!(code, 0, "{err}");
    (c, schema)
}

#[test]
fn sqlite_no_op_with_a_declared_schema_still_takes_no_lock_and_writes_nothing() {
    let (c, schema) = declared(Kind::Sqlite);
    let before = std::fs::read(&c.db).unwrap();
    let mut cmd = c.cmd();
    cmd.arg("--schema").arg(&schema);
    let log = traced(&cmd, c.dir.path());
    let lines = ours(&log);
    assert!(
        !lines.iter().any(|l| l.contains("flock(")),
        "the migration lock was taken"
    );
    assert_eq!(
        std::fs::read(&c.db).unwrap(),
        before,
        "the database file changed"
    );
    let reads = lines
        .iter()
        .filter(|l| l.contains("open") && l.contains("schema.sql") && !l.contains("= -1"))
        .count();
    assert_eq!(reads, 1, "the declared file was opened {reads} times");
    each_file_read_once(&lines);
}

#[test]
fn postgres_no_op_with_a_declared_schema_sends_one_query_more_and_no_lock() {
    let (c, schema) = declared(Kind::Postgres);
    let plain = ours(&traced(&c.cmd(), c.dir.path()))
        .iter()
        .filter(|l| l.contains("sendto("))
        .count();
    let mut cmd = c.cmd();
    cmd.arg("--schema").arg(&schema);
    let log = traced(&cmd, c.dir.path());
    let lines = ours(&log);
    let sent: Vec<&&str> = lines.iter().filter(|l| l.contains("sendto(")).collect();
    assert_eq!(sent.len(), plain + 1, "{}", lines.join("\n"));
    for l in &sent {
        let upper = l.to_uppercase();
        for word in [
            "ADVISORY", "CREATE", "ALTER", "INSERT", "UPDATE", "BEGIN", "TEMP",
        ] {
            assert!(!upper.contains(word), "a no-op sent {word}: {l}");
        }
    }
}
