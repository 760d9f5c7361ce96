//! `status`: the text table checked against expected text, the JSON document against its
//! shape, the exit codes, and that it changes nothing.

use crate::common::{Case, Kind, bare, run};
use serde_json::Value;

/// A database with one migration in every state but conflict, record times pinned.
fn scenario(kind: Kind) -> Case {
    let c = Case::new(kind);
    c.write("001_users.sql", "CREATE TABLE users (id INTEGER);");
    c.write("002_index.sql", "CREATE INDEX users_id ON users (id);");
    c.write("003_broken.sql", "CREATE TABLE broken (;");
    c.write(
        "004_a_migration_with_a_very_long_descriptive_name.sql",
        "CREATE TABLE long (id INTEGER);",
    );
    c.write("005_gone.sql", "CREATE TABLE gone (id INTEGER);");
    assert_eq!(run(c.up()).0, 1);
    c.write(
        "002_index.sql",
        "CREATE INDEX users_id ON users (id); -- edited",
    );
    std::fs::remove_file(c.migrations.join("005_gone.sql")).unwrap();
    c.write("006_pending.sql", "CREATE TABLE later (id INTEGER);");
    c.execute(
        "UPDATE schema_migrations SET applied_at = '2026-01-02 03:04:05', execution_time_ms = 7",
    );
    c
}

fn status(c: &Case, extra: &[&str]) -> (i32, String, String) {
    let mut cmd = bare();
    cmd.arg("status")
        .args(["-d", &c.url, "-m"])
        .arg(&c.migrations)
        .args(extra);
    run(cmd)
}

#[test]
fn text_table_per_database() {
    let c = scenario(Kind::Sqlite);
    let (code, out, err) = status(&c, &[]);
    assert_eq!(code, 0, "{err}");
    let want = format!(
        "{url}
  STATE     MIGRATION                              APPLIED/TRIED AT     TIME
  applied   001_users.sql                          2026-01-02 03:04:05  7 ms
  changed   002_index.sql                          2026-01-02 03:04:05  7 ms
  failed    003_broken.sql                         2026-01-02 03:04:05  7 ms
            error: near \";\": syntax error (line 1, column 22)
  applied   004_a_migration_with_a_very_long_des…  2026-01-02 03:04:05  7 ms
  pending   006_pending.sql
  missing   005_gone.sql                           2026-01-02 03:04:05  7 ms
  2 applied, 1 pending, 1 failed, 1 changed, 1 missing
",
        url = c.url
    );
    assert_eq!(out, want);
    assert!(
        out.lines().skip(1).all(|l| l.chars().count() <= 80),
        "fits 80 columns"
    );
    assert!(
        !out.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn json_document_shape() {
    for kind in [Kind::Sqlite, Kind::Postgres] {
        let c = scenario(kind);
        let (code, out, err) = status(&c, &["--format", "json"]);
        assert_eq!(code, 0, "{err}");
        let doc: Value = serde_json::from_str(&out).unwrap();
        check_shape(&doc);
        let db = &doc["databases"][0];
        assert_eq!(
            db["database"],
            c.url.replace(crate::common::pg::PASSWORD, "***")
        );
        let states: Vec<&str> = db["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["state"].as_str().unwrap())
            .collect();
        assert_eq!(
            states,
            [
                "applied", "changed", "failed", "applied", "pending", "missing"
            ],
            "{kind:?}"
        );
        assert_eq!(db["summary"]["failed"], 1);
        assert_eq!(db["summary"]["pending"], 1);
        let failed = &db["migrations"][2];
        assert_eq!(failed["name"], "003_broken.sql");
        assert_eq!(failed["version"], "3");
        assert!(failed["error"].as_str().unwrap().contains("syntax error"));
        assert_eq!(failed["execution_time_ms"], 7);
        assert!(
            failed["applied_at"]
                .as_str()
                .unwrap()
                .starts_with("2026-01-02")
        );
        assert_eq!(
            db["migrations"][5]["version"],
            Value::Null,
            "a missing file has no version"
        );
        assert_eq!(db["migrations"][4]["applied_at"], Value::Null, "pending");
    }
}

/// The document's shape: every field with its type.
fn check_shape(doc: &Value) {
    let obj = |v: &Value, keys: &[&str]| {
        let o = v
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {v}"));
        let mut got: Vec<&str> = o.keys().map(String::as_str).collect();
        got.sort();
        let mut want = keys.to_vec();
        want.sort();
        assert_eq!(got, want, "{v}");
    };
    let str_or_null = |v: &Value| assert!(v.is_string() || v.is_null(), "{v}");
    obj(doc, &["databases"]);
    for db in doc["databases"].as_array().unwrap() {
        obj(db, &["database", "error", "summary", "migrations"]);
        assert!(db["database"].is_string());
        str_or_null(&db["error"]);
        obj(
            &db["summary"],
            &[
                "applied", "pending", "failed", "changed", "missing", "conflict",
            ],
        );
        for n in db["summary"].as_object().unwrap().values() {
            assert!(n.is_u64(), "{n}");
        }
        for m in db["migrations"].as_array().unwrap() {
            obj(
                m,
                &[
                    "name",
                    "version",
                    "state",
                    "applied_at",
                    "checksum",
                    "execution_time_ms",
                    "error",
                    "file",
                ],
            );
            assert!(m["name"].is_string());
            for k in ["version", "applied_at", "checksum", "error", "file"] {
                str_or_null(&m[k]);
            }
            assert!(m["execution_time_ms"].is_i64() || m["execution_time_ms"].is_null());
            let state = m["state"].as_str().unwrap();
            assert!(
                [
                    "applied", "pending", "failed", "changed", "missing", "conflict"
                ]
                .contains(&state)
            );
            if let Some(sum) = m["checksum"].as_str() {
                assert!(
                    sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{sum}"
                );
            }
        }
    }
}

#[test]
fn exit_codes() {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let mut c = bare();
    c.args(["status", "--exit-code", "-d", &p.url.clone(), "-m"])
        .arg(&p.migrations);
    let (code, out, _) = run(c);
    assert_eq!(code, 1, "pending, with --exit-code");
    assert!(out.contains("pending   1_a.sql"), "{out}");
    assert!(!p.db.exists(), "status creates no database");

    assert_eq!(run(p.up()).0, 0);
    let mut c = bare();
    c.args(["status", "--exit-code", "-d", &p.url.clone(), "-m"])
        .arg(&p.migrations);
    assert_eq!(run(c).0, 0, "all applied");

    // A database that cannot be read: exit 3, the others still shown.
    let bad = p.dir.path().join("corrupt.db");
    std::fs::write(&bad, vec![7u8; 4096]).unwrap();
    let mut c = bare();
    c.args(["status", "-d", &p.url.clone(), "-d"])
        .arg(&bad)
        .arg("-m")
        .arg(&p.migrations);
    let (code, out, _) = run(c);
    assert_eq!(code, 3);
    assert!(out.contains("applied   1_a.sql"), "{out}");
    assert!(
        out.contains(&format!("sqlite:{}: cannot read: ", bad.display())),
        "{out}"
    );

    let mut c = bare();
    c.args([
        "status",
        "--wait",
        "200ms",
        "-d",
        "postgres://u:pw@127.0.0.1:1/x",
        "-m",
    ])
    .arg(&p.migrations);
    assert_eq!(run(c).0, 3);
}

#[test]
fn colour_on_a_terminal_unless_no_color() {
    let c = scenario(Kind::Sqlite);
    let cmd = format!(
        "{} status -d {} -m {}",
        crate::common::BIN,
        c.url,
        c.migrations.display()
    );
    let tty = |env: &[(&str, &str)]| {
        let mut s = std::process::Command::new("script");
        s.args(["-qfec", &cmd, "/dev/null"]).env_remove("NO_COLOR");
        for (k, v) in env {
            s.env(k, v);
        }
        String::from_utf8_lossy(&s.output().unwrap().stdout).into_owned()
    };
    let coloured = tty(&[]);
    assert!(coloured.contains("\x1b[31mfailed  \x1b[0m"), "{coloured:?}");
    assert!(coloured.contains("\x1b[32mapplied \x1b[0m"), "{coloured:?}");
    let plain = tty(&[("NO_COLOR", "1")]);
    assert!(
        plain.contains("failed") && !plain.contains('\x1b'),
        "{plain:?}"
    );
}
