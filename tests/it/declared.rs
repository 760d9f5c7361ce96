//! The declared schema (`--schema`), against a real SQLite file and a real PostgreSQL server:
//! each kind of change and refusal with its record, log line, schema and exit code; warnings;
//! plan, status and validate; two runners; a SIGKILL; `schema dump`.

use std::path::PathBuf;
use std::process::Command;

use crate::common::{Case, Kind, Running, run};

both!(
    missing_table_column_and_index_are_added_each_with_its_record,
    a_no_op_start_changes_nothing_and_a_dropped_index_is_noticed,
    a_not_null_column_on_a_table_with_rows_is_refused_then_retried,
    an_index_name_used_elsewhere_is_refused,
    differences_and_a_likely_rename_are_warnings_and_fail_when_strict,
    plan_shows_changes_and_refusals_and_changes_nothing,
    nothing_undeclared_is_dropped_and_data_is_not_managed,
    schema_first_runs_before_the_migrations,
    two_runners_apply_each_change_once,
    schema_dump_round_trips_with_no_differences,
    validate_checks_the_declared_files,
    on_error_stop_and_abort_hold_for_declared_changes,
);

impl Case {
    /// Writes the declared schema file `name` beside the migrations.
    pub(crate) fn declare(&self, name: &str, sql: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, sql).unwrap();
        p
    }

    /// `up` with `--schema schema.sql`.
    pub(crate) fn up_declared(&self) -> Command {
        let mut c = self.up();
        c.arg("--schema").arg(self.dir.path().join("schema.sql"));
        c
    }

    pub(crate) fn has_index(&self, name: &str) -> bool {
        let sql = match self.kind {
            Kind::Sqlite => {
                format!("SELECT name FROM sqlite_master WHERE type = 'index' AND name = '{name}'")
            }
            Kind::Postgres => {
                format!("SELECT indexname FROM pg_indexes WHERE indexname = '{name}'")
            }
        };
        !self.column(&sql).is_empty()
    }

    /// The declared schema's records: (name, success), the state row left out.
    pub(crate) fn declared_records(&self) -> Vec<(String, bool)> {
        self.records()
            .into_iter()
            .filter(|(n, _)| n.contains('#') && n != "#schema-state")
            .collect()
    }
}

const USERS: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\nINSERT INTO users (id, name) VALUES (1, 'ada');\n";

fn missing_table_column_and_index_are_added_each_with_its_record(kind: Kind) {
    let c = Case::new(kind);
    c.write("001_users.sql", USERS);
    c.declare(
        "schema.sql",
        "CREATE TABLE users (\n  id INTEGER PRIMARY KEY,\n  name TEXT,\n  email TEXT,\n  age INTEGER NOT NULL DEFAULT 0\n);\n\
         CREATE INDEX users_email ON users (email);\n\
         CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id), body TEXT);\n\
         CREATE INDEX posts_user ON posts (user_id);\n",
    );
    let mut cmd = c.cmd();
    cmd.arg("--schema").arg(c.dir.path().join("schema.sql"));
    cmd.args(["--", "echo", "cmd ran"]);
    let (code, out, err) = run(cmd);
    assert_eq!((code, out.as_str()), (0, "cmd ran\n"), "{err}");
    // The migration first, then the declared changes in order.
    assert_eq!(
        c.records()
            .into_iter()
            .filter(|(n, _)| n != "#schema-state")
            .collect::<Vec<_>>(),
        [
            ("001_users.sql".into(), true),
            ("schema.sql#column:users.email".into(), true),
            ("schema.sql#column:users.age".into(), true),
            ("schema.sql#index:users.users_email".into(), true),
            ("schema.sql#table:posts".into(), true),
        ]
    );
    assert!(
        err.contains("declared schema: add column users.email in "),
        "{err}"
    );
    assert!(
        err.contains("declared schema: create table posts in "),
        "{err}"
    );
    assert!(err.contains("applied 5, failed 0, pending 0"), "{err}");
    assert_eq!(c.columns("users"), ["id", "name", "email", "age"]);
    assert_eq!(c.value("SELECT age FROM users"), "0");
    assert!(c.has_index("users_email") && c.has_index("posts_user"));
    assert_eq!(c.columns("posts"), ["id", "user_id", "body"]);
    // The record says what it did.
    assert_eq!(
        c.value("SELECT description FROM schema_migrations WHERE migration_name = 'schema.sql#column:users.email'"),
        "add column users.email"
    );
    if kind == Kind::Postgres {
        // On a table with rows, the index is built concurrently (outside a transaction).
        assert!(
            err.contains("create index users_email on users (concurrently)"),
            "{err}"
        );
    }
}

fn a_no_op_start_changes_nothing_and_a_dropped_index_is_noticed(kind: Kind) {
    let c = Case::new(kind);
    c.write("001_users.sql", USERS);
    c.declare("schema.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT);\nCREATE INDEX users_email ON users (email);\n");
    assert_eq!(run(c.up_declared()).0, 0);
    let before = c.records();
    let mut cmd = c.up_declared();
    cmd.env("MIGRATE_LOG", "migrate_entrypoint=debug");
    let (code, _, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("applied 0, failed 0, pending 0"), "{err}");
    // No lock, no introspection: the state row matched.
    assert!(!err.contains("declared schema worked out"), "{err}");
    assert_eq!(c.records(), before);

    // Someone drops the index: the live fingerprint differs, the index is built again (its
    // record updated, not doubled).
    c.execute("DROP INDEX users_email");
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("declared schema: create index users_email on users"),
        "{err}"
    );
    assert!(c.has_index("users_email"));
    assert_eq!(c.records().len(), before.len());

    // Another declared file (checksum differs) is compared again; nothing to add.
    c.declare("schema.sql", "-- the same schema, another text\nCREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT);\nCREATE INDEX users_email ON users (email);\n");
    let mut cmd = c.up_declared();
    cmd.env("MIGRATE_LOG", "migrate_entrypoint=debug");
    let (code, _, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("declared schema worked out"), "{err}");
    assert!(
        !err.contains("declared schema: create") && !err.contains("differs"),
        "{err}"
    );
}

fn a_not_null_column_on_a_table_with_rows_is_refused_then_retried(kind: Kind) {
    let c = Case::new(kind);
    c.write("001_users.sql", USERS);
    c.declare("schema.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, token TEXT NOT NULL, note TEXT);\nCREATE TABLE empty (id INTEGER PRIMARY KEY);\n");
    let mut cmd = c.cmd();
    cmd.arg("--schema").arg(c.dir.path().join("schema.sql"));
    cmd.args(["--", "echo", "cmd ran"]);
    let (code, out, err) = run(cmd);
    // continue: CMD still runs; the refusal is recorded, the other changes made.
    assert_eq!((code, out.as_str()), (0, "cmd ran\n"), "{err}");
    assert!(err.contains("declared schema: refused add column users.token: NOT NULL without a default on a table with rows"), "{err}");
    assert_eq!(
        c.declared_records(),
        [
            ("schema.sql#column:users.token".into(), false),
            ("schema.sql#column:users.note".into(), true),
            ("schema.sql#table:empty".into(), true),
        ]
    );
    assert_eq!(c.columns("users"), ["id", "name", "note"]);
    // up says so with exit 1, and tries again (still refused).
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("applied 0, failed 1, pending 0"), "{err}");
    // status shows the record as a failed declared change.
    let mut status = c.cmd();
    status.args(["status", "--format", "json"]);
    let (_, out, _) = run(status);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = v["databases"][0]["migrations"].as_array().unwrap();
    let token = rows
        .iter()
        .find(|r| r["name"] == "schema.sql#column:users.token")
        .unwrap();
    assert_eq!(token["state"], "failed");
    assert_eq!(token["declared"], "add column users.token");
    assert!(rows.iter().all(|r| r["state"] != "missing"), "{out}");

    // The declaration fixed (a default): added, the same row now a success.
    c.declare("schema.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, token TEXT NOT NULL DEFAULT 'x', note TEXT);\nCREATE TABLE empty (id INTEGER PRIMARY KEY);\n");
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert_eq!(c.value("SELECT token FROM users"), "x");
    assert_eq!(
        c.declared_records(),
        [
            ("schema.sql#column:users.token".into(), true),
            ("schema.sql#column:users.note".into(), true),
            ("schema.sql#table:empty".into(), true),
        ]
    );
    // On an empty table the same NOT NULL column is added.
    c.declare("schema.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, token TEXT NOT NULL DEFAULT 'x', note TEXT);\nCREATE TABLE empty (id INTEGER PRIMARY KEY, must TEXT NOT NULL);\n");
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert_eq!(c.columns("empty"), ["id", "must"]);
    if kind == Kind::Sqlite {
        // SQLite never adds a UNIQUE column, rows or not.
        c.declare("schema.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, token TEXT NOT NULL DEFAULT 'x', note TEXT);\nCREATE TABLE empty (id INTEGER PRIMARY KEY, must TEXT NOT NULL, code TEXT UNIQUE);\n");
        let (code, _, err) = run(c.up_declared());
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains(
                "refused add column empty.code: SQLite cannot add a PRIMARY KEY or UNIQUE column"
            ),
            "{err}"
        );
    }
}

fn an_index_name_used_elsewhere_is_refused(kind: Kind) {
    let c = Case::new(kind);
    c.write(
        "001_users.sql",
        &format!("{USERS}CREATE TABLE other (x INTEGER);\nCREATE INDEX by_name ON other (x);\n"),
    );
    c.declare("schema.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\nCREATE INDEX by_name ON users (name);\n");
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("refused create index by_name on users: cannot create index by_name: the name is used by an index on other"), "{err}");
    assert_eq!(
        c.declared_records(),
        [("schema.sql#index:users.by_name".into(), false)]
    );
    let msg = c.value("SELECT error_message FROM schema_migrations WHERE migration_name = 'schema.sql#index:users.by_name'");
    assert!(msg.contains("used by an index on other"), "{msg}");
}

fn differences_and_a_likely_rename_are_warnings_and_fail_when_strict(kind: Kind) {
    let c = Case::new(kind);
    c.write("001_users.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, fullname TEXT, email VARCHAR(255), score INTEGER);\nCREATE INDEX users_email ON users (email);\nCREATE INDEX users_score ON users (score);\n");
    c.declare("schema.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, full_name TEXT, email VARCHAR(100), score INTEGER NOT NULL DEFAULT 0);\nCREATE INDEX users_email ON users (lower(email));\nCREATE INDEX IF NOT EXISTS users_score ON users ( score );\n");
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("declared schema: column users.email differs: type"),
        "{err}"
    );
    assert!(
        err.contains("VARCHAR(100)") || err.contains("character varying(100)"),
        "{err}"
    );
    assert!(
        err.contains(
            "column users.score differs: nullable (declared NOT NULL), default none (declared 0)"
        ),
        "{err}"
    );
    assert!(
        err.contains("column users.full_name looks like a rename of users.fullname"),
        "{err}"
    );
    // The new column is still added; nothing is altered.
    assert_eq!(
        c.columns("users"),
        ["id", "fullname", "email", "score", "full_name"]
    );
    // Strict: the same differences fail the run (and are checked again next time).
    let mut strict = c.up_declared();
    strict.arg("--schema-strict");
    let (code, _, err) = run(strict);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("ERROR") && err.contains("column users.email differs"),
        "{err}"
    );
    let mut strict = c.up_declared();
    strict.env("MIGRATE_SCHEMA_STRICT", "1");
    assert_eq!(run(strict).0, 1);
}

fn plan_shows_changes_and_refusals_and_changes_nothing(kind: Kind) {
    let c = Case::new(kind);
    c.write("001_users.sql", USERS);
    assert_eq!(run(c.up()).0, 0);
    c.declare("schema.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT, token TEXT NOT NULL);\nCREATE TABLE posts (id INTEGER PRIMARY KEY);\nCREATE VIEW names AS SELECT name FROM users;\n");
    let before = c.records();
    let mut plan = c.cmd();
    plan.arg("plan")
        .arg("--schema")
        .arg(c.dir.path().join("schema.sql"));
    let (code, out, err) = run(plan);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(": 4 to apply"), "{out}");
    assert!(
        out.contains("  add column users.email  [schema.sql#column:users.email]\n"),
        "{out}"
    );
    assert!(out.contains("  add column users.token  [schema.sql#column:users.token]  (refused: NOT NULL without a default"), "{out}");
    assert!(
        out.contains("  create table posts  [schema.sql#table:posts]\n"),
        "{out}"
    );
    assert!(
        out.contains("  create view names  [schema.sql#view:names]\n"),
        "{out}"
    );
    assert_eq!(c.records(), before);
    assert_eq!(c.columns("users"), ["id", "name"]);
    assert!(!c.has_table("posts"));
    // --dry-run says the same in the log.
    let mut dry = c.up_declared();
    dry.arg("--dry-run");
    let (code, _, err) = run(dry);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("would apply add column users.email"), "{err}");
    assert_eq!(c.records(), before);
}

fn nothing_undeclared_is_dropped_and_data_is_not_managed(kind: Kind) {
    let c = Case::new(kind);
    c.write("001_users.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, legacy TEXT);\nCREATE TABLE other_tool (v INTEGER);\nCREATE INDEX users_legacy ON users (legacy);\n");
    c.declare("schema.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\nCREATE VIEW v AS SELECT 1 AS one;\nINSERT INTO users (name) VALUES ('x');\n");
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert_eq!(c.columns("users"), ["id", "name", "legacy"]);
    assert!(c.has_table("other_tool") && c.has_index("users_legacy"));
    assert!(err.contains("1 statement(s) not managed"), "{err}");
    assert!(err.contains("INSERT INTO users"), "{err}");
    // The data statement did not run; the view was made.
    assert_eq!(c.value("SELECT count(*) FROM users"), "0");
    assert_eq!(c.value("SELECT one FROM v"), "1");
    assert_eq!(
        c.declared_records(),
        [("schema.sql#view:v".to_string(), true)]
    );
}

fn schema_first_runs_before_the_migrations(kind: Kind) {
    let c = Case::new(kind);
    // The migration needs a table only the declared schema makes.
    c.write(
        "001_seed.sql",
        "INSERT INTO settings (k) VALUES ('theme');\n",
    );
    c.declare("schema.sql", "CREATE TABLE settings (k TEXT);\n");
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 1, "{err}");
    let c = Case::new(kind);
    c.write(
        "001_seed.sql",
        "INSERT INTO settings (k) VALUES ('theme');\n",
    );
    c.declare("schema.sql", "CREATE TABLE settings (k TEXT);\n");
    let mut first = c.up_declared();
    first.env("MIGRATE_SCHEMA_FIRST", "true");
    let (code, _, err) = run(first);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        c.records()
            .into_iter()
            .filter(|(n, _)| n != "#schema-state")
            .collect::<Vec<_>>(),
        [
            ("schema.sql#table:settings".into(), true),
            ("001_seed.sql".into(), true)
        ]
    );
    assert_eq!(c.value("SELECT k FROM settings"), "theme");
}

fn two_runners_apply_each_change_once(kind: Kind) {
    let c = Case::new(kind);
    c.write("001_users.sql", USERS);
    let mut sql =
        String::from("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT);\n");
    for i in 0..40 {
        sql.push_str(&format!("CREATE TABLE t{i} (id INTEGER PRIMARY KEY, v TEXT);\nCREATE INDEX t{i}_v ON t{i} (v);\n"));
    }
    c.declare("schema.sql", &sql);
    let a = Running::start(c.up_declared());
    let b = Running::start(c.up_declared());
    let (ca, _, ea) = a.finish();
    let (cb, _, eb) = b.finish();
    assert_eq!((ca, cb), (0, 0), "{ea}\n{eb}");
    let records = c.declared_records();
    assert_eq!(records.len(), 41, "{records:?}");
    let mut names: Vec<&String> = records.iter().map(|(n, _)| n).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 41, "a change recorded twice: {records:?}");
    assert!(records.iter().all(|(_, ok)| *ok));
    // Between them, each change was made once.
    let made = |e: &str| {
        e.matches("declared schema: create table").count()
            + e.matches("declared schema: add column").count()
    };
    assert_eq!(made(&ea) + made(&eb), 41, "{ea}\n{eb}");
}

fn schema_dump_round_trips_with_no_differences(kind: Kind) {
    let c = Case::new(kind);
    c.write("001_users.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT 'x', email VARCHAR(100));\nCREATE UNIQUE INDEX users_email ON users (email);\nCREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id), body TEXT);\nCREATE INDEX posts_user ON posts (user_id) WHERE user_id IS NOT NULL;\n");
    assert_eq!(run(c.up()).0, 0);
    let mut dump = c.cmd();
    dump.args(["schema", "dump"]);
    let (code, out, err) = run(dump);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("schema_migrations"), "{out}");
    assert!(
        out.contains("users_email") && out.contains("posts_user"),
        "{out}"
    );
    // Declared into an empty database: the same tables and indexes, and then nothing to do.
    let fresh = Case::new(kind);
    let path = fresh.declare("schema.sql", &out);
    let (code, _, err) = run(fresh.up_declared());
    assert_eq!(code, 0, "{err}");
    assert_eq!(fresh.columns("users"), ["id", "name", "email"]);
    assert!(fresh.has_index("users_email") && fresh.has_index("posts_user"));
    assert!(!err.contains("differs"), "{err}");
    // Against the database it came from: nothing to add, no difference.
    let mut again = c.up();
    again.arg("--schema").arg(&path);
    let (code, _, err) = run(again);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("applied 0, failed 0, pending 0"), "{err}");
    assert!(
        !err.contains("differs") && !err.contains("declared schema: create"),
        "{err}"
    );
}

fn validate_checks_the_declared_files(kind: Kind) {
    let c = Case::new(kind);
    c.write("001_users.sql", USERS);
    c.declare("schema.sql", "CREATE TABLE users (id INTEGER, id TEXT);\nCREATE TABLE users (x INTEGER);\nCREATE INDEX i ON users (id);\nCREATE INDEX i ON users (id);\nFROBNICATE users;\n");
    let mut v = c.cmd();
    v.arg("validate")
        .arg("--schema")
        .arg(c.dir.path().join("schema.sql"));
    let (code, out, err) = run(v);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("schema.sql: table users is declared twice"),
        "{out}"
    );
    assert!(
        out.contains("schema.sql: column users.id is declared twice"),
        "{out}"
    );
    assert!(
        out.contains("schema.sql: index i is declared twice"),
        "{out}"
    );
    assert!(
        out.contains("schema.sql: not recognised as a declaration (statement): FROBNICATE users"),
        "{out}"
    );
    if kind == Kind::Sqlite {
        assert!(out.contains("SQLite refuses it"), "{out}");
    }
    // A missing --schema path is a configuration error.
    let mut up = c.up();
    up.args(["--schema", "nope.sql"]);
    let (code, _, err) = run(up);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--schema nope.sql: no such file or folder"),
        "{err}"
    );
}

#[test]
fn postgres_schemas_extensions_types_and_sequences_are_created() {
    let c = Case::new(Kind::Postgres);
    c.declare(
        "schema.sql",
        "CREATE SCHEMA app;\nCREATE EXTENSION IF NOT EXISTS citext;\nCREATE TYPE app.mood AS ENUM ('happy', 'sad');\n\
         CREATE SEQUENCE app.counter START WITH 10;\n\
         CREATE TABLE app.things (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, mood app.mood, n bigint DEFAULT nextval('app.counter'), name citext);\n",
    );
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        c.declared_records(),
        [
            ("schema.sql#schema:app".into(), true),
            ("schema.sql#extension:citext".into(), true),
            ("schema.sql#type:app.mood".into(), true),
            ("schema.sql#sequence:app.counter".into(), true),
            ("schema.sql#table:app.things".into(), true),
        ]
    );
    c.execute("INSERT INTO app.things (mood, name) VALUES ('sad', 'X')");
    assert_eq!(c.value("SELECT n FROM app.things WHERE name = 'x'"), "10");
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("applied 0, failed 0, pending 0"), "{err}");
}

#[test]
fn postgres_a_failed_concurrent_index_is_reported_invalid_and_never_dropped() {
    let c = Case::new(Kind::Postgres);
    c.write("001_users.sql", "CREATE TABLE users (id int PRIMARY KEY, email text);\nINSERT INTO users VALUES (1, 'a'), (2, 'a');\n");
    c.declare("schema.sql", "CREATE TABLE users (id int PRIMARY KEY, email text);\nCREATE UNIQUE INDEX users_email ON users (email);\n");
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 1, "{err}");
    // Built concurrently (the table has rows); the duplicates make it fail, as recorded.
    assert!(
        err.contains("failed create index users_email on users (concurrently)"),
        "{err}"
    );
    assert!(err.contains("23505"), "{err}");
    assert_eq!(
        c.declared_records(),
        [("schema.sql#index:users.users_email".into(), false)]
    );
    // PostgreSQL leaves an INVALID index behind: reported with the fix, not dropped.
    assert_eq!(
        c.value("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email'::regclass"),
        "0"
    );
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("index users_email is INVALID"), "{err}");
    assert!(
        err.contains("DROP INDEX CONCURRENTLY \"public\".\"users_email\""),
        "{err}"
    );
    assert!(c.has_index("users_email"));
    // Fixed as told: built again.
    c.execute("DROP INDEX CONCURRENTLY users_email");
    c.execute("UPDATE users SET email = 'b' WHERE id = 2");
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        c.value("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email'::regclass"),
        "1"
    );
    assert_eq!(
        c.declared_records(),
        [("schema.sql#index:users.users_email".into(), true)]
    );
}

#[test]
fn postgres_a_pg_dump_serial_column_is_added_to_a_table_with_rows() {
    let c = Case::new(Kind::Postgres);
    c.write(
        "001_users.sql",
        "CREATE TABLE users (email text);\nINSERT INTO users VALUES ('a'), ('b');\n",
    );
    // As pg_dump writes a serial: NOT NULL in the table, the sequence and its default apart.
    c.declare(
        "schema.sql",
        "CREATE TABLE public.users (\n    email text,\n    id integer NOT NULL\n);\n\
         CREATE SEQUENCE public.users_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;\n\
         ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;\n\
         ALTER TABLE ONLY public.users ALTER COLUMN id SET DEFAULT nextval('public.users_id_seq'::regclass);\n",
    );
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert_eq!(c.column("SELECT id FROM users ORDER BY id"), ["1", "2"]);
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("differs"), "{err}");
}

fn on_error_stop_and_abort_hold_for_declared_changes(kind: Kind) {
    let c = Case::new(kind);
    c.write("001_users.sql", USERS);
    // The first change is refused; the table after it is another change.
    c.declare("schema.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, token TEXT NOT NULL);\nCREATE TABLE later (id INTEGER PRIMARY KEY);\n");
    let mut stop = c.up_declared();
    stop.args(["--on-error", "stop"]);
    let (code, _, err) = run(stop);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--on-error stop: 1 later declared change(s) of this database not tried"),
        "{err}"
    );
    assert!(err.contains("applied 1, failed 1, pending 1"), "{err}");
    assert!(!c.has_table("later"));
    // abort: CMD is not run.
    let mut abort = c.cmd();
    abort.arg("--schema").arg(c.dir.path().join("schema.sql"));
    abort.args(["--on-error", "abort", "--", "echo", "cmd ran"]);
    let (code, out, err) = run(abort);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(!c.has_table("later"));
    // continue (the default): the rest is made.
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 1, "{err}");
    assert!(c.has_table("later"));
}

#[test]
fn postgres_names_without_a_schema_follow_the_search_path() {
    let c = Case::new(Kind::Postgres);
    c.execute("CREATE SCHEMA app");
    c.write(
        "001_app.sql",
        "CREATE TABLE app.users (id int PRIMARY KEY);\n",
    );
    c.declare(
        "schema.sql",
        "CREATE TABLE users (id int PRIMARY KEY, email text);\n",
    );
    let url = format!("{}&options=-csearch_path%3Dapp", c.url);
    let mut up = crate::common::bare();
    // The table lock mode: a lease table of ours beside the tracking table.
    up.args(["up", "--lock-mode", "table", "-d", &url, "-m"])
        .arg(&c.migrations);
    up.arg("--schema").arg(c.dir.path().join("schema.sql"));
    let (code, _, err) = run(up);
    assert_eq!(code, 0, "{err}");
    // The table of the search path got the column; none was made in public.
    assert!(
        err.contains("declared schema: add column app.users.email"),
        "{err}"
    );
    assert_eq!(
        c.value("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'app' AND table_name = 'users'"),
        "2"
    );
    assert!(!c.has_table("users"), "a users table in public");
    // A dump leaves our own tables out, where the search path put them.
    assert_eq!(
        c.value("SELECT count(*) FROM pg_tables WHERE schemaname = 'app' AND tablename LIKE 'schema_migrations%'"),
        "2"
    );
    let mut dump = crate::common::bare();
    dump.args(["schema", "dump", "-d", &url]);
    let (code, out, err) = run(dump);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("CREATE TABLE \"app\".\"users\""), "{out}");
    assert!(!out.contains("schema_migrations"), "{out}");
}

#[test]
fn postgres_foreign_keys_of_new_tables_come_after_every_new_table() {
    let c = Case::new(Kind::Postgres);
    // pg_dump's order: the referencing table first, its key and foreign key apart, at the end.
    c.declare(
        "schema.sql",
        "CREATE TABLE public.posts (id integer NOT NULL, user_id integer);\n\
         CREATE TABLE public.users (id integer NOT NULL);\n\
         ALTER TABLE ONLY public.posts ADD CONSTRAINT posts_pkey PRIMARY KEY (id);\n\
         ALTER TABLE ONLY public.users ADD CONSTRAINT users_pkey PRIMARY KEY (id);\n\
         ALTER TABLE ONLY public.posts ADD CONSTRAINT posts_user_fk FOREIGN KEY (user_id) REFERENCES public.users(id);\n",
    );
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        c.declared_records(),
        [
            ("schema.sql#table:posts".into(), true),
            ("schema.sql#table:users".into(), true),
            ("schema.sql#constraint:posts.posts_user_fk".into(), true),
        ]
    );
    assert!(
        err.contains("declared schema: add constraint posts_user_fk to posts in "),
        "{err}"
    );
    assert_eq!(
        c.value("SELECT count(*) FROM pg_constraint WHERE conname IN ('posts_pkey', 'users_pkey', 'posts_user_fk')"),
        "3"
    );
    // On a table that was there already, a declared constraint is a warning, not a change.
    c.declare(
        "schema.sql",
        "CREATE TABLE public.posts (id integer NOT NULL, user_id integer);\n\
         CREATE TABLE public.users (id integer NOT NULL);\n\
         ALTER TABLE ONLY public.users ADD CONSTRAINT users_pkey PRIMARY KEY (id);\n\
         ALTER TABLE ONLY public.posts ADD CONSTRAINT posts_user_positive CHECK (user_id > 0);\n",
    );
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("constraint posts_user_positive on posts is declared but not there"),
        "{err}"
    );
    assert_eq!(
        c.value("SELECT count(*) FROM pg_constraint WHERE conname = 'posts_user_positive'"),
        "0"
    );
}

fn a_table_name_taken_by_a_view_is_refused(kind: Kind) {
    let c = Case::new(kind);
    c.write("001_view.sql", "CREATE VIEW reports AS SELECT 1 AS one;\n");
    c.declare(
        "schema.sql",
        "CREATE TABLE reports (id INTEGER PRIMARY KEY);\n",
    );
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "refused create table reports: cannot create table reports: the name is taken by a view"
        ),
        "{err}"
    );
    assert_eq!(
        c.declared_records(),
        [("schema.sql#table:reports".into(), false)]
    );
}

both!(a_table_name_taken_by_a_view_is_refused);
