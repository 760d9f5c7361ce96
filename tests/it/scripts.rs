//! Script migrations: executables with a `#!` line, run as processes with the database in
//! their environment, against real SQLite files and a real PostgreSQL.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use crate::common::{Case, Kind, run};

fn script(p: &Case, name: &str, text: &str) -> PathBuf {
    let path = p.write(name, text);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_python_script_migrates_sqlite_with_the_documented_environment() {
    let p = Case::sqlite();
    p.write("001_users.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, hostname TEXT);\nINSERT INTO users (name) VALUES ('a'), ('b');");
    let out = p.dir.path().join("env.txt");
    script(
        &p,
        "002_backfill_hostnames.py",
        &format!(
            r#"#!/usr/bin/python3
import os, sqlite3
with open({out:?}, "w") as f:
    for k in ("DATABASE_URL", "MIGRATION_NAME", "MIGRATE_DIALECT", "SQLITE_PATH"):
        f.write(k + "=" + os.environ.get(k, "") + "\n")
    f.write("cwd=" + os.getcwd() + "\n")
    import sys
    f.write("argv=" + repr(sys.argv[1:]) + "\n")
db = sqlite3.connect(os.environ["SQLITE_PATH"])
db.execute("UPDATE users SET hostname = 'host-' || name")
db.commit()
print("backfilled", db.execute("SELECT count(*) FROM users").fetchone()[0], "users")
"#
        ),
    );
    p.write("003_after.sql", "CREATE TABLE after_script (id INTEGER);");
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("002_backfill_hostnames.py: backfilled 2 users"),
        "output is logged with the migration's name:\n{err}"
    );
    assert!(
        err.contains("applied 002_backfill_hostnames.py in"),
        "{err}"
    );
    assert_eq!(
        p.value("SELECT group_concat(hostname) FROM users"),
        "host-a,host-b"
    );
    let env = std::fs::read_to_string(&out).unwrap();
    let want = format!(
        "DATABASE_URL={url}\nMIGRATION_NAME=002_backfill_hostnames.py\nMIGRATE_DIALECT=sqlite\nSQLITE_PATH={db}\ncwd={cwd}\nargv=[]\n",
        url = p.url.clone(),
        db = p.db.display(),
        cwd = p.migrations.display()
    );
    assert_eq!(env, want);
    let rows = p.query("SELECT migration_name, success, length(checksum), execution_time_ms IS NOT NULL FROM schema_migrations ORDER BY id");
    assert_eq!(rows[1], ["002_backfill_hostnames.py", "1", "64", "1"]);
    assert_eq!(rows.len(), 3);
    // Applied scripts are not run again.
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0);
    assert!(
        err.contains("up to date") && !err.contains("backfilled"),
        "{err}"
    );
}

#[test]
fn a_failing_script_is_recorded_with_its_output_and_the_run_goes_on() {
    let p = Case::sqlite();
    script(
        &p,
        "1_fails.sh",
        "#!/bin/sh\necho 'checking rows'\necho 'no such column' >&2\nexit 3\n",
    );
    p.write("2_next.sql", "CREATE TABLE next (id INTEGER);");
    let (code, _, err) = run(p.up());
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        p.records(),
        [("1_fails.sh".into(), false), ("2_next.sql".into(), true)]
    );
    let msg =
        p.value("SELECT error_message FROM schema_migrations WHERE migration_name = '1_fails.sh'");
    assert!(
        msg.starts_with("exited with status 3; last output: "),
        "{msg}"
    );
    assert!(
        msg.contains("checking rows") && msg.contains("no such column"),
        "{msg}"
    );
}

#[test]
fn a_script_that_runs_too_long_is_killed_with_what_it_started() {
    let p = Case::sqlite();
    let pidfile = p.dir.path().join("child.pid");
    script(
        &p,
        "1_hangs.sh",
        &format!(
            "#!/bin/sh\nsleep 300 &\necho $! > {}\nwait\n",
            pidfile.display()
        ),
    );
    let mut c = p.up();
    c.args(["--script-timeout", "1s"]);
    let started = Instant::now();
    let (code, _, err) = run(c);
    assert_eq!(code, 1, "{err}");
    eprintln!("killed after {:?}", started.elapsed());
    let msg =
        p.value("SELECT error_message FROM schema_migrations WHERE migration_name = '1_hangs.sh'");
    assert!(
        msg.starts_with("timed out after --script-timeout 1s"),
        "{msg}"
    );
    let child: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Gone, or dead and waiting to be reaped by its new parent (a zombie).
    let alive = || {
        std::fs::read_to_string(format!("/proc/{child}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()
                    .map(|r| r.trim_start().starts_with('Z'))
                    .map(|z| !z)
            })
            .unwrap_or(false)
    };
    crate::common::wait_for(5, "the script's own child to end", || !alive());
}

#[test]
fn sigterm_is_forwarded_to_the_script_which_is_retried_next_time() {
    let p = Case::sqlite();
    let marker = p.dir.path().join("got-term");
    let started = p.dir.path().join("started");
    script(
        &p,
        "1_long.sh",
        &format!(
            "#!/bin/sh\ntrap 'echo term > {m}; exit 143' TERM\ntouch {s}\nwhile true; do sleep 0.1; done\n",
            m = marker.display(),
            s = started.display()
        ),
    );
    let mut c = p.cmd();
    c.args(["--", "echo", "cmd ran"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    crate::common::wait_for(20, "the script to start", || started.exists());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(out.stdout.is_empty(), "CMD must not run");
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "term\n",
        "the script got SIGTERM"
    );
    assert_eq!(
        p.records(),
        [("1_long.sh".into(), false)],
        "reported as failed, tried again next time"
    );
    let msg = p.value("SELECT error_message FROM schema_migrations");
    assert!(
        msg.starts_with("stopped by signal 15 sent to this runner"),
        "{msg}"
    );
}

#[test]
fn files_that_are_not_runnable_scripts_are_not_migrations() {
    let p = Case::sqlite();
    p.write("1_not_executable.sh", "#!/bin/sh\nexit 0\n");
    script(&p, "2_no_shebang.py", "print('hi')\n");
    script(&p, "helper.py", "#!/usr/bin/python3\nprint('no version')\n");
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0, "{err}");
    assert!(!p.has_table("schema_migrations"), "nothing ran: {err}");
    let mut c = crate::common::bare();
    c.args(["validate", "-m"]).arg(&p.migrations);
    let (code, out, _) = run(c);
    assert_eq!(code, 1);
    assert_eq!(
        out,
        format!(
            "{}/1_not_executable.sh: ignored: has a #! line but is not executable (chmod +x to run it as a script)\n",
            p.migrations.display()
        )
    );
}

#[test]
fn a_python_script_with_psycopg_migrates_postgres() {
    let ok = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import psycopg"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "these tests need psycopg for /usr/bin/python3: install Debian's python3-psycopg"
    );
    let c = Case::new(Kind::Postgres);
    c.write(
        "001_users.sql",
        "CREATE TABLE users (id SERIAL PRIMARY KEY, email TEXT);",
    );
    let path = c.write(
        "002_seed.py",
        r#"#!/usr/bin/python3
import os, psycopg
assert os.environ["MIGRATE_DIALECT"] == "postgres"
assert "SQLITE_PATH" not in os.environ
with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
    conn.execute("INSERT INTO users (email) VALUES (%s), (%s)", ("a@example.com", "b@example.com"))
print("seeded")
"#,
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("002_seed.py: seeded"), "{err}");
    assert_eq!(c.value("SELECT count(*) FROM users"), "2");
    assert_eq!(
        c.records(),
        [("001_users.sql".into(), true), ("002_seed.py".into(), true)]
    );
}
