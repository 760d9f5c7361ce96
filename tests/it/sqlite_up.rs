//! The binary end to end against real SQLite files: applying, recording, policies, drift,
//! older tables, exec.

use crate::common::{Case, bare, run};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docker/example/migrations");

#[test]
fn example_app_is_applied_recorded_and_cmd_keeps_the_pid() {
    let p = Case::sqlite();
    let pid_file = p.dir.path().join("pid");
    let mut c = bare();
    c.args([
        "-d",
        &p.url.clone(),
        "-m",
        EXAMPLE,
        "--",
        "sh",
        "-c",
        "echo $$ > \"$0\"; echo app started",
    ])
    .arg(&pid_file);
    let child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "app started\n");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        pid.to_string()
    );

    // The new file, one log line per migration, then the summary.
    let mut lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 7, "{stderr}");
    assert!(
        lines.remove(0).contains(" INFO  "),
        "created at info: {stderr}"
    );
    assert!(
        lines[0].contains("applied 001_create_users.sql in "),
        "{stderr}"
    );
    assert!(
        lines[3].contains("applied 004_touch_projects_updated_at.sql"),
        "{stderr}"
    );
    assert!(
        lines[5].contains("applied 5, failed 0, pending 0 in "),
        "{stderr}"
    );

    let rows = p.query(
        "SELECT id, migration_name, applied_at, description, checksum, success, error_message, execution_time_ms \
         FROM schema_migrations ORDER BY id",
    );
    let names: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        names,
        [
            "001_create_users.sql",
            "002_create_projects.sql",
            "003_index_projects_owner.sql",
            "004_touch_projects_updated_at.sql",
            "005_seed_admin.sql"
        ]
    );
    for r in &rows {
        assert_ne!(r[2], "NULL", "applied_at");
        assert_eq!(r[4].len(), 64, "checksum");
        assert_eq!(r[5], "1", "success");
        assert_eq!(r[6], "NULL", "error_message");
        assert_ne!(r[7], "NULL", "execution_time_ms");
    }
    assert_eq!(rows[0][3], "create users");
    let expected = {
        let bytes = std::fs::read(format!("{EXAMPLE}/001_create_users.sqlite.sql")).unwrap();
        use sha2::Digest;
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert_eq!(rows[0][4], expected);
    // The SQLite variant of 004 ran: its trigger works, and the seed row is there.
    assert_eq!(
        p.value("SELECT count(*) FROM users WHERE email = 'admin@example.com'"),
        "1"
    );
    assert_eq!(
        p.value(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'projects_touch'"
        ),
        "1"
    );

    // Again: nothing applied, the summary says so, CMD runs.
    let mut c = bare();
    c.args([
        "-d",
        &p.url.clone(),
        "-m",
        EXAMPLE,
        "--",
        "echo",
        "app started",
    ]);
    let (code, out, err) = run(c);
    assert_eq!((code, out.as_str()), (0, "app started\n"), "{err}");
    assert!(
        err.contains("applied 0, failed 0, pending 0") && err.contains("up to date"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(p.records().len(), 5);
}

#[test]
fn numeric_order_and_ignored_files() {
    let p = Case::sqlite();
    p.write("10_ten.sql", "CREATE TABLE ten (id INTEGER);");
    p.write("2_two.sql", "CREATE TABLE two (id INTEGER);");
    p.write("_template.sql", "this is not SQL");
    p.write(".2_two.sql.swp", "junk");
    p.write("README.md", "# notes");
    p.write("setup.sql", "this is not SQL either");
    let mut c = p.up();
    c.args(["--log-level", "debug"]);
    let (code, _, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let names: Vec<String> = p.records().into_iter().map(|r| r.0).collect();
    assert_eq!(names, ["2_two.sql", "10_ten.sql"]);
    for ignored in ["_template.sql", ".2_two.sql.swp", "README.md", "setup.sql"] {
        assert!(
            err.lines()
                .any(|l| l.contains(ignored) && l.contains("not a migration")),
            "{ignored} not named in the debug log:\n{err}"
        );
    }
}

#[test]
fn several_dirs_dedup_identical_and_refuse_conflicts() {
    let p = Case::sqlite();
    let other = p.dir.path().join("more");
    std::fs::create_dir(&other).unwrap();
    p.write("1_users.sql", "CREATE TABLE users (id INTEGER);");
    std::fs::write(
        other.join("1_users.sql"),
        "CREATE TABLE users (id INTEGER);",
    )
    .unwrap();
    p.write("2_posts.sql", "CREATE TABLE posts (id INTEGER);");
    std::fs::write(
        other.join("2_posts.sql"),
        "CREATE TABLE posts (id INTEGER, title TEXT);",
    )
    .unwrap();
    std::fs::write(other.join("3_tags.sql"), "CREATE TABLE tags (id INTEGER);").unwrap();

    let mut c = bare();
    c.arg("up").args(["-d", &p.url.clone()]).env(
        "MIGRATIONS_DIRS",
        format!("{}:{}", p.migrations.display(), other.display()),
    );
    let (code, _, err) = run(c);
    assert_eq!(code, 1, "a conflict counts as a failed migration:\n{err}");
    assert!(err.contains("failed 2_posts.sql: conflict"), "{err}");
    assert_eq!(
        p.records(),
        [
            ("1_users.sql".to_string(), true),
            ("3_tags.sql".to_string(), true)
        ]
    );
    assert!(!p.has_table("posts"));
}

#[test]
fn abort_stops_the_other_databases_too() {
    let p = Case::sqlite();
    p.write("1_broken.sql", "CREATE TABLE broken (;");
    let second = p.dir.path().join("second.db");
    let mut c = p.up();
    // One at a time: with more jobs the second would already be under way (and would stop
    // before its next migration instead).
    c.arg("-d")
        .arg(&second)
        .args(["--on-error", "abort", "--jobs", "1"]);
    let (code, _, err) = run(c);
    assert_eq!(code, 1, "{err}");
    assert!(
        !second.exists(),
        "the second database was not touched:\n{err}"
    );
}

#[test]
fn crlf_checkout_is_not_a_change() {
    let p = Case::sqlite();
    p.write(
        "1_a.sql",
        "CREATE TABLE a (id INTEGER);\nINSERT INTO a VALUES (1);\n",
    );
    assert_eq!(run(p.up()).0, 0);
    p.write(
        "1_a.sql",
        "CREATE TABLE a (id INTEGER);\r\nINSERT INTO a VALUES (1);\r\n",
    );
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0);
    assert!(!err.contains("changed"), "{err}");
}

/// The journal mode of a database as a new connection sees it.
fn journal_mode(db: &std::path::Path) -> String {
    crate::common::query(db, "PRAGMA journal_mode")[0][0].clone()
}

#[test]
fn a_run_leaves_no_journal_and_keeps_the_journal_mode() {
    // A rollback-journal database: commits keep the journal file while the run holds the lock;
    // it is gone afterwards, and the mode other connections see is still `delete`.
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    p.write("2_b.sql", "CREATE TABLE b (id INTEGER);");
    assert_eq!(run(p.up()).0, 0);
    let journal = p.dir.path().join("app.db-journal");
    assert!(!journal.exists(), "a journal file was left behind");
    assert_eq!(journal_mode(&p.db), "delete");
    // The migrations ran, each with its record, in the same transaction.
    assert_eq!(
        p.records(),
        [("1_a.sql".into(), true), ("2_b.sql".into(), true)]
    );

    // A failing migration rolls back through that kept journal like any other.
    p.write(
        "3_bad.sql",
        "CREATE TABLE c (id INTEGER);\nINSERT INTO nowhere VALUES (1);",
    );
    assert_eq!(run(p.up()).0, 1);
    assert!(
        !p.has_table("c"),
        "the failed migration was not rolled back"
    );
    assert!(!journal.exists());

    // A WAL database (the mode is kept in the file) is left in WAL.
    let w = Case::sqlite();
    w.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    {
        let conn = rusqlite::Connection::open(&w.db).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
    assert_eq!(run(w.up()).0, 0);
    assert_eq!(journal_mode(&w.db), "wal");

    // A migration that switches the database to WAL is not undone at the end of the run.
    let m = Case::sqlite();
    m.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    m.write(
        "2_wal.sql",
        "-- migrate:no-transaction\nPRAGMA journal_mode = WAL;",
    );
    m.write("3_b.sql", "CREATE TABLE b (id INTEGER);");
    let (code, _, err) = run(m.up());
    assert_eq!(code, 0, "{err}");
    assert_eq!(journal_mode(&m.db), "wal");
    assert_eq!(m.records().len(), 3);
    assert!(!m.dir.path().join("app.db-journal").exists());
}

#[test]
fn no_transaction_directive_runs_outside_a_transaction() {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    p.write(
        "2_vacuum.sql",
        "-- Compact the file.\n-- migrate:no-transaction\nVACUUM;\n",
    );
    p.write("3_vacuum_in_tx.sql", "VACUUM;\n");
    let (code, _, err) = run(p.up());
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        p.records(),
        [
            ("1_a.sql".into(), true),
            ("2_vacuum.sql".into(), true),
            ("3_vacuum_in_tx.sql".into(), false)
        ]
    );
    let msg = p.value(
        "SELECT error_message FROM schema_migrations WHERE migration_name = '3_vacuum_in_tx.sql'",
    );
    assert!(msg.contains("within a transaction"), "{msg}");
}

#[test]
fn multi_statement_files_with_triggers_and_semicolons_in_comments() {
    let p = Case::sqlite();
    p.write(
        "1_all.sql",
        "-- a comment; with a semicolon\n\
         CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); /* block; comment */\n\
         CREATE TABLE audit (v TEXT);\n\
         CREATE TRIGGER t_audit AFTER INSERT ON t BEGIN\n  INSERT INTO audit VALUES (NEW.v);\n  INSERT INTO audit VALUES ('; not a split');\nEND;\n\
         INSERT INTO t (v) VALUES ('x;y');\n\
         PRAGMA user_version = 7;\n",
    );
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        p.value("SELECT group_concat(v, '|') FROM audit"),
        "x;y|; not a split"
    );
    assert_eq!(p.value("PRAGMA user_version"), "7");
}

#[test]
fn a_file_that_commits_itself_is_recorded_with_a_warning() {
    let p = Case::sqlite();
    p.write("1_own_tx.sql", "CREATE TABLE a (id INTEGER);\nCOMMIT;\n");
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("ends its own transaction"), "{err}");
    assert!(p.has_table("a"));
    assert_eq!(p.records(), [("1_own_tx.sql".into(), true)]);
}

#[test]
fn database_url_file_and_json_logs() {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let secret = p.dir.path().join("db_url");
    std::fs::write(&secret, format!("{}\n", p.url.clone())).unwrap();
    let mut c = bare();
    c.arg("up")
        .arg("-m")
        .arg(&p.migrations)
        .env("DATABASE_URL_FILE", &secret)
        .env("MIGRATE_LOG_FORMAT", "json");
    let (code, _, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let events: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        events[0]["message"],
        format!("created {}", p.db.display()),
        "{err}"
    );
    let applied = &events[1];
    assert_eq!(applied["level"], "INFO");
    assert_eq!(applied["migration"], "1_a.sql");
    assert_eq!(applied["database"], p.url.clone());
    assert!(applied["duration_ms"].is_u64());
    assert!(applied["timestamp"].is_string());
    assert_eq!(events.last().unwrap()["applied"], 1);

    // Both forms at once is a usage error.
    let mut c = bare();
    c.arg("up")
        .arg("-m")
        .arg(&p.migrations)
        .env("DATABASE_URL_FILE", &secret)
        .env("DATABASE_URL", p.url.clone())
        .env("MIGRATE_LOG_FORMAT", "json");
    let (code, _, err) = run(c);
    assert_eq!(code, 2, "{err}");
    let line: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(line["level"], "ERROR");
    assert_eq!(
        line["message"],
        "DATABASE_URL and DATABASE_URL_FILE are both set: set one of them"
    );

    // Once the format is known, every stderr line is JSON: a bad flag, a bad `new`, a CMD
    // that cannot be run.
    for args in [
        &["up", "--no-such-flag", "--log-format", "json"][..],
        &["new", "!!!", "--log-format", "json"],
        &["--log-format", "json", "--", "/no/such/program"],
    ] {
        let mut c = bare();
        c.args(args).arg("-m").arg(&p.migrations);
        c.env("DATABASE_URL", p.url.clone());
        let (code, _, err) = run(c);
        assert_ne!(code, 0, "{args:?}: {err}");
        for l in err.lines() {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{args:?}: {e}: {l}"));
            assert!(v["message"].is_string(), "{l}");
        }
    }
}

#[test]
fn dry_run_and_plan_change_nothing() {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    p.write(
        "2_idx.sql",
        "-- migrate:no-transaction\nCREATE INDEX a_id ON a (id);",
    );
    let mut c = p.cmd();
    c.args(["--dry-run", "--", "echo", "cmd ran"]);
    let (code, out, err) = run(c);
    assert_eq!((code, out.as_str()), (0, "cmd ran\n"), "{err}");
    assert!(err.contains("would apply 1_a.sql"), "{err}");
    assert!(!p.db.exists(), "a dry run creates no database file");

    let mut c = bare();
    c.args(["plan", "-d", &p.url.clone(), "-m"])
        .arg(&p.migrations);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!(
            "{}: 2 to apply\n  apply 1_a.sql\n  apply 2_idx.sql  (no transaction)\n",
            p.url.clone()
        )
    );
    assert!(!p.db.exists());

    assert_eq!(run(p.up()).0, 0);
    let mut c = bare();
    c.args(["plan", "-d", &p.url.clone(), "-m"])
        .arg(&p.migrations);
    let (_, out, _) = run(c);
    assert_eq!(out, format!("{}: up to date\n", p.url.clone()));
}

#[test]
fn glob_migrates_every_matching_file() {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let data = p.dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for name in ["one.db", "two.db"] {
        rusqlite::Connection::open(data.join(name))
            .unwrap()
            .execute_batch("CREATE TABLE x (id INTEGER);")
            .unwrap();
    }
    let mut c = bare();
    c.arg("up")
        .arg("-d")
        .arg(format!("sqlite://{}/*.db", data.display()))
        .arg("-m")
        .arg(&p.migrations);
    let (code, _, err) = run(c);
    assert_eq!(code, 0, "{err}");
    for name in ["one.db", "two.db"] {
        assert_eq!(
            crate::common::query(&data.join(name), "SELECT count(*) FROM a").len(),
            1
        );
        assert!(
            err.contains(&format!(
                "{}: applied 1, failed 0",
                data.join(name).display()
            )),
            "{err}"
        );
    }

    let mut c = bare();
    c.arg("up")
        .arg("-d")
        .arg(format!("sqlite:{}/none-*.db", data.display()))
        .arg("-m")
        .arg(&p.migrations);
    let (code, _, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("WARN") && err.contains("glob matches no file"),
        "{err}"
    );
}

#[test]
fn exec_exit_codes_args_and_environment() {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");

    let mut c = p.cmd();
    c.args(["--", "no-such-program-xyz", "arg"]);
    let (code, _, err) = run(c);
    assert_eq!(code, 127);
    assert!(
        err.contains("no-such-program-xyz: command not found"),
        "{err}"
    );

    let noexec = p.dir.path().join("script");
    std::fs::write(&noexec, "#!/bin/sh\necho hi\n").unwrap();
    let mut c = p.cmd();
    c.arg("--").arg(&noexec);
    let (code, _, err) = run(c);
    assert_eq!(code, 126, "{err}");
    assert!(err.contains("cannot execute"), "{err}");

    let mut c = p.cmd();
    c.arg("--").arg(p.dir.path());
    assert_eq!(run(c).0, 126, "a directory as CMD");

    let mut c = p.cmd();
    c.args(["--", "sh", "-c", "exit 42"]);
    assert_eq!(run(c).0, 42);

    // Arguments verbatim (an empty one, spaces, a literal --, a $), environment unchanged.
    let mut c = p.cmd();
    c.env("SOME_VALUE", "a b$c").args([
        "--",
        "sh",
        "-c",
        "printf '[%s]' \"$@\" \"$SOME_VALUE\"",
        "sh",
        "",
        "a b",
        "--",
        "$HOME",
        "é",
    ]);
    let (code, out, _) = run(c);
    assert_eq!((code, out.as_str()), (0, "[][a b][--][$HOME][é][a b$c]"));

    // The bare form: the first word that is not a subcommand starts CMD, flags included.
    let mut c = p.cmd();
    c.args(["sh", "-c", "echo bare \"$1\"", "sh", "--"]);
    let (code, out, _) = run(c);
    assert_eq!((code, out.as_str()), (0, "bare --\n"));
}

#[test]
fn skip_touches_no_database() {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let mut c = p.cmd();
    c.env("MIGRATE_SKIP", "true")
        .args(["--", "echo", "skipped"]);
    let (code, out, _) = run(c);
    assert_eq!((code, out.as_str()), (0, "skipped\n"));
    assert!(!p.db.exists());
}

#[test]
fn help_names_every_setting_and_its_variable() {
    let mut c = bare();
    c.arg("--help");
    let (code, out, _) = run(c);
    assert_eq!(code, 0);
    for s in [
        "--database-url",
        "DATABASE_URL",
        "--migrations-dir",
        "MIGRATIONS_DIRS",
        "--table",
        "MIGRATE_TABLE",
        "--on-error",
        "MIGRATE_ON_ERROR",
        "--wait",
        "MIGRATE_WAIT",
        "--lock-timeout",
        "MIGRATE_LOCK_TIMEOUT",
        "--dry-run",
        "MIGRATE_DRY_RUN",
        "--skip",
        "MIGRATE_SKIP",
        "--log-format",
        "MIGRATE_LOG_FORMAT",
        "--log-level",
        "MIGRATE_LOG",
        "NAME_FILE",
        "Exit codes",
    ] {
        assert!(out.contains(s), "--help lacks {s}:\n{out}");
    }
}
