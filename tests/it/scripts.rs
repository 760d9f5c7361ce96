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
fn files_that_look_like_migrations_but_are_not_taken_are_named() {
    let p = Case::sqlite();
    // A versioned script with a #! line runs whether or not it is executable (teams' Python
    // migrations often are not).
    p.write(
        "1_not_executable.sh",
        "#!/bin/sh\nsqlite3 \"$SQLITE_PATH\" 'CREATE TABLE ran (x INTEGER);'\n",
    );
    script(&p, "2_no_shebang.py", "print('hi')\n");
    script(
        &p,
        "add_custom_sql_to_saved_search.py",
        "#!/usr/bin/python3\nprint('no version')\n",
    );
    p.write("setup.sql", "CREATE TABLE s (id INTEGER);");
    p.write("README.md", "notes");
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0, "{err}");
    assert!(p.has_table("ran"), "{err}");
    assert!(
        err.contains("1_not_executable.sh is not executable: run through /bin/sh as its #! line says (chmod +x it"),
        "{err}"
    );
    assert!(!p.has_table("s"), "{err}");
    // Named at warn level by `up`, once each, with the next free name; a README or a file
    // without `#!` is not.
    for (file, why) in [
        (
            "add_custom_sql_to_saved_search.py",
            "without a leading version number (name it 2_add_custom_sql_to_saved_search.py)",
        ),
        (
            "setup.sql",
            "no leading version number (name it 2_setup.sql)",
        ),
    ] {
        let lines: Vec<&str> = err.lines().filter(|l| l.contains(file)).collect();
        assert_eq!(lines.len(), 1, "{file}: {err}");
        assert!(
            lines[0].contains(" WARN ")
                && lines[0].contains("not a migration")
                && lines[0].contains(why),
            "{}",
            lines[0]
        );
    }
    assert!(
        !err.contains("README") && !err.contains("2_no_shebang"),
        "{err}"
    );
    let mut c = crate::common::bare();
    c.args(["validate", "-m"]).arg(&p.migrations);
    let (code, out, _) = run(c);
    assert_eq!(code, 1);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(!out.contains("1_not_executable.sh"), "{out}");

    // A record an older runner wrote for a file that is there but not taken: `status` and
    // `validate` say why, not "no file has it".
    p.execute(
        "INSERT INTO schema_migrations (migration_name, success) VALUES ('add_custom_sql_to_saved_search.py', 1);",
    );
    let mut c = crate::common::bare();
    c.args(["validate", "-d", &p.url, "-m"]).arg(&p.migrations);
    let (_, out, _) = run(c);
    assert!(
        out.contains("add_custom_sql_to_saved_search.py: recorded, but its file")
            && out.contains(
                "is not taken as a migration: an executable script without a leading version"
            ),
        "{out}"
    );
    assert!(!out.contains("no file has it"), "{out}");
    let mut c = crate::common::bare();
    c.args(["status", "-d", &p.url, "-m"]).arg(&p.migrations);
    let (_, out, _) = run(c);
    assert!(
        out.contains("is there but not taken as a migration"),
        "{out}"
    );
}

/// A Python and a shell script migration, each recording what they were told, for every way
/// of naming the folder and the database.
fn scripts_in(p: &Case, folder: &std::path::Path) {
    std::fs::create_dir_all(folder).unwrap();
    let write = |name: &str, text: &str| {
        let path = folder.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    std::fs::write(
        folder.join("001_seen.sql"),
        "CREATE TABLE seen (who TEXT, url TEXT, path TEXT);",
    )
    .unwrap();
    write(
        "002_python.py",
        r#"#!/usr/bin/python3
import os
url, path = os.environ["DATABASE_URL"], os.environ.get("SQLITE_PATH", "")
row = ("python", url, path)
if os.environ["MIGRATE_DIALECT"] == "sqlite":
    import sqlite3
    db = sqlite3.connect(path)
    db.execute("INSERT INTO seen VALUES (?, ?, ?)", row)
    db.commit()
else:
    import psycopg
    with psycopg.connect(url) as db:
        db.execute("INSERT INTO seen VALUES (%s, %s, %s)", row)
print("python done")
"#,
    );
    write(
        "003_shell.sh",
        "#!/bin/sh\nset -eu\nif [ \"$MIGRATE_DIALECT\" = sqlite ]; then\n  sqlite3 \"$SQLITE_PATH\" \"INSERT INTO seen VALUES ('shell', '$DATABASE_URL', '$SQLITE_PATH')\"\nelse\n  psql -q \"$DATABASE_URL\" -v ON_ERROR_STOP=1 -c \"INSERT INTO seen VALUES ('shell', 'pg', '')\"\nfi\necho shell done\n",
    );
    let _ = p;
}

#[test]
fn scripts_work_from_relative_and_absolute_folders_against_relative_and_absolute_databases() {
    for (m, db, kind) in [
        (None, "sqlite:app.db", Kind::Sqlite), // the default ./migrations
        (Some("m"), "ABS", Kind::Sqlite),      // a relative -m
        (Some("ABS"), "app.db", Kind::Sqlite), // an absolute -m, a bare relative path
        (Some("./m"), "PG", Kind::Postgres),   // PostgreSQL
    ] {
        let p = Case::new(kind);
        let folder = match m {
            None => p.dir.path().join("migrations"),
            Some("ABS") => p.dir.path().join("abs-migrations"),
            Some(rel) => p.dir.path().join(rel),
        };
        scripts_in(&p, &folder);
        let url = match db {
            "ABS" => format!("sqlite:{}", p.db.display()),
            "PG" => p.url.clone(),
            rel => rel.to_string(),
        };
        let mut c = crate::common::bare();
        c.current_dir(p.dir.path()).args(["up", "-d", &url]);
        match m {
            None => {}
            Some("ABS") => {
                c.arg("-m").arg(&folder);
            }
            Some(rel) => {
                c.args(["-m", rel]);
            }
        }
        let (code, _, err) = run(c);
        assert_eq!(code, 0, "{m:?} {db}: {err}");
        assert!(
            err.contains("002_python.py: python done") && err.contains("003_shell.sh: shell done"),
            "{err}"
        );
        let rows = p.column("SELECT who || ' ' || url || ' ' || path FROM seen ORDER BY who");
        match kind {
            Kind::Sqlite => {
                let abs = p.db.display().to_string();
                assert_eq!(
                    rows,
                    [
                        format!("python sqlite:{abs} {abs}"),
                        format!("shell sqlite:{abs} {abs}")
                    ],
                    "{m:?} {db}: the scripts wrote into the database that was migrated"
                );
                assert!(
                    !folder.join("app.db").exists(),
                    "no stray database in the folder"
                );
            }
            Kind::Postgres => assert_eq!(rows.len(), 2, "{rows:?}"),
        }
        assert_eq!(p.records().len(), 3, "{m:?} {db}");
    }
}

#[test]
fn a_missing_interpreter_is_named_not_the_script() {
    let p = Case::sqlite();
    script(&p, "1_py9.py", "#!/usr/bin/python9\nprint('x')\n");
    script(&p, "2_crlf.sh", "#!/bin/sh\r\necho hi\r\n");
    script(&p, "3_env.py", "#!/usr/bin/env python9\nprint('x')\n");
    let (code, _, err) = run(p.up());
    assert_eq!(code, 1, "{err}");
    let msg = |name: &str| {
        p.value(&format!(
            "SELECT error_message FROM schema_migrations WHERE migration_name = '{name}'"
        ))
    };
    assert!(
        msg("1_py9.py")
            .contains("the interpreter /usr/bin/python9 named by its #! line is not there"),
        "{}",
        msg("1_py9.py")
    );
    assert!(
        msg("2_crlf.sh").contains("ends in a carriage return"),
        "{}",
        msg("2_crlf.sh")
    );
    // `env` itself is there and runs: it says what it could not find.
    assert!(msg("3_env.py").contains("python9"), "{}", msg("3_env.py"));
    // `validate` finds all three before anything runs.
    let mut c = crate::common::bare();
    c.args(["validate", "-m"]).arg(&p.migrations);
    let (code, out, _) = run(c);
    assert_eq!(code, 1);
    assert!(
        out.contains("1_py9.py: cannot run: the interpreter /usr/bin/python9"),
        "{out}"
    );
    assert!(
        out.contains("2_crlf.sh: cannot run: its #! line ends in a carriage return"),
        "{out}"
    );
    assert!(out.contains("3_env.py: cannot run: `python9`"), "{out}");
}

#[test]
fn output_is_logged_as_it_is_written_in_the_order_written() {
    let p = Case::sqlite();
    // The script writes `second` only once `first` is in the log (the test creates `seen`
    // when it reads it there), and keeps writing while it waits: output held back while more
    // comes (as it once was, until a second passed without output) leaves it waiting, and
    // failing.
    script(
        &p,
        "1_live.py",
        "#!/usr/bin/python3\nimport os, time\nprint('first')\nfor _ in range(300):\n    if os.path.exists('seen'):\n        print('second')\n        raise SystemExit(0)\n    print('waiting')\n    time.sleep(0.1)\nraise SystemExit('first was not logged before it wrote more')\n",
    );
    // Written with no pause between the streams: the log keeps the order.
    script(
        &p,
        "2_fails.py",
        "#!/usr/bin/python3\nimport sys\nprint('step one')\nprint('note on stderr', file=sys.stderr)\nprint('step two')\nraise SystemExit('it broke')\n",
    );
    script(
        &p,
        "3_ok.sh",
        "#!/bin/sh\necho 'progress on stderr' >&2\necho done\n",
    );
    let running = crate::common::Running::start(p.up());
    running.wait_for_log(30, "1_live.py: first");
    std::fs::write(p.migrations.join("seen"), "").unwrap();
    let (code, _, err) = running.finish();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("applied 1_live.py"), "{err}");
    // The script's own lines (the failure's summary line aside).
    let of = |name: &str| -> Vec<&str> {
        err.lines()
            .filter(|l| l.contains(name) && !l.contains(&format!("failed {name}")))
            .collect()
    };
    let texts = |name: &str| -> Vec<String> {
        of(name)
            .iter()
            .map(|l| l.split(name).nth(1).unwrap().to_string())
            .collect()
    };
    let live = texts("1_live.py: ");
    assert_eq!(live.first().map(String::as_str), Some("first"), "{err}");
    assert_eq!(live.last().map(String::as_str), Some("second"), "{err}");
    assert_eq!(
        texts("2_fails.py: "),
        ["step one", "note on stderr", "step two", "it broke"],
        "{err}"
    );
    assert!(
        of("2_fails.py: ").iter().all(|l| l.contains(" INFO ")),
        "{err}"
    );
    // The failure names the lines it ended with.
    assert!(
        err.contains("failed 2_fails.py: exited with status 1; last output: step one | note on stderr | step two | it broke"),
        "{err}"
    );
    let ok = of("3_ok.sh: ");
    assert_eq!(ok.len(), 2, "{err}");
    assert!(
        ok.iter().all(|l| l.contains(" INFO ")),
        "a success: info: {err}"
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
