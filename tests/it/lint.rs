//! The lint on a real PostgreSQL server: `warn` names a dangerous statement and runs it,
//! `refuse` records its migration as refused and goes on, `-- migrate:allow` lets it run with
//! its reason in the log, what the run itself creates is not reported, `validate --format
//! json` carries the findings, and a start with nothing to do reads no statement.

use crate::common::{Case, Kind, bare, run};

/// A PostgreSQL case whose `users` table is there already (applied by an earlier run).
fn with_users() -> Case {
    let c = Case::new(Kind::Postgres);
    c.write(
        "001_users.sql",
        "CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);\n",
    );
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    c
}

fn indexes(c: &Case) -> Vec<String> {
    c.column("SELECT indexname FROM pg_indexes WHERE tablename = 'users' ORDER BY 1")
}

fn error_of(c: &Case, name: &str) -> String {
    c.value(&format!(
        "SELECT coalesce(error_message, '') FROM schema_migrations WHERE migration_name = '{name}'"
    ))
}

#[test]
fn warn_names_the_finding_and_runs_it() {
    let c = with_users();
    c.write(
        "002_email.sql",
        "-- a note\nCREATE INDEX users_email ON users (email);\n",
    );
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("002_email.sql:2: require-concurrent-index-creation: builds an index on users without CONCURRENTLY; it takes SHARE on the table"),
        "{err}"
    );
    assert!(err.contains("Safe: `CREATE INDEX CONCURRENTLY`"), "{err}");
    assert!(indexes(&c).contains(&"users_email".to_string()));
    assert_eq!(c.records().len(), 2);
}

#[test]
fn the_json_log_carries_the_finding_as_data() {
    let c = with_users();
    c.write("002_drop.sql", "DROP TABLE IF EXISTS users;\n");
    let mut plan = bare();
    plan.args(["plan", "--log-format", "json", "-d", &c.url, "-m"])
        .arg(&c.migrations);
    let (code, _, err) = run(plan);
    assert_eq!(code, 0, "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("ban-drop-table"))
        .unwrap_or_else(|| panic!("{err}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let f = &v;
    assert_eq!(f["rule"], "ban-drop-table", "{v}");
    assert_eq!(f["line"], 1, "{v}");
    assert_eq!(f["migration"], "002_drop.sql", "{v}");
    assert!(
        f["blocks"].as_str().unwrap().contains("previous release"),
        "{v}"
    );
    assert!(
        f["advice"].as_str().unwrap().contains("expand/contract"),
        "{v}"
    );
    assert!(c.has_table("users"), "plan changed nothing");
    // `plan --lint refuse` says what `up` would not run.
    let mut plan = bare();
    plan.args(["plan", "--lint", "refuse", "-d", &c.url, "-m"])
        .arg(&c.migrations);
    let (_, out, err) = run(plan);
    assert!(
        out.contains("note: would not run 002_drop.sql: refused by --lint refuse: ban-drop-table"),
        "{out}{err}"
    );
    assert!(c.has_table("users"));
}

#[test]
fn refuse_records_the_migration_as_refused_and_the_rest_goes_on() {
    let c = with_users();
    c.write(
        "002_email.sql",
        "CREATE INDEX users_email ON users (email);\n",
    );
    c.write("003_orders.sql", "CREATE TABLE orders (id bigint);\n");
    let mut up = c.up();
    up.args(["--lint", "refuse"]);
    let (code, _, err) = run(up);
    assert_eq!(code, 1, "{err}");
    let why = error_of(&c, "002_email.sql");
    assert!(
        why.starts_with("refused by --lint refuse: require-concurrent-index-creation at ")
            && why.contains("002_email.sql:1"),
        "{why}"
    );
    assert!(!indexes(&c).contains(&"users_email".to_string()));
    assert!(c.has_table("orders"), "the rest did not go on: {err}");
    // `status` shows it as failed, with why; it is still due.
    let mut status = bare();
    status
        .args(["status", "-d", &c.url, "-m"])
        .arg(&c.migrations);
    let (_, out, _) = run(status);
    let lines: Vec<&str> = out.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("failed") && l.contains("002_email.sql"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        lines[at + 1].contains("error: refused by --lint refuse"),
        "{out}"
    );
    // The env variable does the same as the flag; `warn` runs it.
    let mut up = c.up();
    up.env("MIGRATE_LINT", "warn");
    let (code, _, err) = run(up);
    assert_eq!(code, 0, "{err}");
    assert!(indexes(&c).contains(&"users_email".to_string()));
}

#[test]
fn allow_with_a_reason_lets_it_run_and_the_reason_is_in_the_log() {
    let c = with_users();
    c.write(
        "002_email.sql",
        "-- migrate:allow require-concurrent-index-creation,ban-drop-column users has 12 rows\n\
         CREATE INDEX users_email ON users (email);\n\
         ALTER TABLE users DROP COLUMN name;\n",
    );
    let mut up = c.up();
    up.args(["--lint", "refuse"]);
    let (code, _, err) = run(up);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("002_email.sql:2: require-concurrent-index-creation allowed by `-- migrate:allow`: users has 12 rows"),
        "{err}"
    );
    assert!(
        err.contains("002_email.sql:3: ban-drop-column allowed"),
        "{err}"
    );
    assert!(indexes(&c).contains(&"users_email".to_string()));
    assert!(!c.columns("users").contains(&"name".to_string()));
}

#[test]
fn what_the_run_creates_and_a_no_transaction_file_are_not_reported() {
    let c = with_users();
    c.write(
        "002_sessions.sql",
        "CREATE TABLE sessions (id bigint, user_id bigint);\n",
    );
    c.write(
        "003_sessions_index.sql",
        "CREATE INDEX sessions_user ON sessions (user_id);\n\
         ALTER TABLE sessions ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);\n",
    );
    c.write(
        "004_email.sql",
        "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY users_email ON users (email);\n",
    );
    let mut up = c.up();
    up.args(["--lint", "refuse"]);
    let (code, _, err) = run(up);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("WARN"), "{err}");
    assert!(indexes(&c).contains(&"users_email".to_string()));
    assert_eq!(c.records().len(), 4);
}

#[test]
fn a_type_change_is_judged_from_the_column_the_database_has() {
    let c = with_users();
    c.execute("CREATE TABLE accounts (code varchar(20), n integer)");
    c.write(
        "002_widen.sql",
        "ALTER TABLE accounts ALTER COLUMN code TYPE varchar(50);\n",
    );
    c.write(
        "003_n.sql",
        "ALTER TABLE accounts ALTER COLUMN n TYPE text;\n",
    );
    let mut up = c.up();
    up.args(["--lint", "refuse"]);
    let (code, _, err) = run(up);
    assert_eq!(code, 1, "{err}");
    assert_eq!(error_of(&c, "002_widen.sql"), "", "{err}");
    let why = error_of(&c, "003_n.sql");
    assert!(why.contains("changing-column-type at "), "{why}");
    assert!(
        err.contains("changes the type of accounts.n from integer to text"),
        "{err}"
    );
}

#[test]
fn validate_json_carries_the_findings() {
    let c = with_users();
    c.write(
        "002_type.sql",
        "ALTER TABLE users ALTER COLUMN id TYPE numeric;\n",
    );
    let mut v = bare();
    v.args(["validate", "--format", "json", "-d", &c.url, "-m"])
        .arg(&c.migrations);
    let (code, out, err) = run(v);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let f = &doc["findings"][0];
    assert_eq!(f["rule"], "changing-column-type", "{doc}");
    assert_eq!(f["line"], 1);
    assert!(f["file"].as_str().unwrap().ends_with("002_type.sql"));
    assert!(f["lock"].as_str().unwrap().starts_with("ACCESS EXCLUSIVE"));
    assert!(
        f["blocks"]
            .as_str()
            .unwrap()
            .contains("every read and write")
    );
    assert!(f["advice"].as_str().unwrap().contains("expand/contract"));
    // The server said its version: none was assumed.
    assert!(doc["lint"]["assumed_version"].is_null(), "{doc}");
    assert_eq!(doc["findings"].as_array().unwrap().len(), 1, "{doc}");
    // An allow that names no rule is a problem.
    c.write(
        "003_x.sql",
        "-- migrate:allow changing-colum-type typo\nSELECT 1;\n",
    );
    let mut v = bare();
    v.args(["validate", "-d", &c.url, "-m"]).arg(&c.migrations);
    let (code, out, _) = run(v);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "no rule is called `changing-colum-type` (did you mean `changing-column-type`?)"
        ),
        "{out}"
    );
}

#[test]
fn a_no_op_start_reads_no_statement() {
    let c = with_users();
    c.write(
        "002_email.sql",
        "CREATE INDEX users_email ON users (email);\n",
    );
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("require-concurrent-index-creation"), "{err}");
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("require-concurrent-index-creation"), "{err}");
    // Seen from outside: each file opened once (by the scan), no version asked.
    let log = crate::noop::traced(&c.cmd(), c.dir.path());
    let lines = crate::noop::ours(&log);
    for name in ["001_users.sql", "002_email.sql"] {
        let opens = lines
            .iter()
            .filter(|l| l.contains("open") && l.contains(name) && !l.contains("= -1"))
            .count();
        assert_eq!(opens, 1, "{name} opened {opens} times");
    }
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("sendto(") && l.contains("server_version")),
        "a no-op asked the server's version"
    );
}

/// squawk itself (squawk-cli from PyPI, in a venv of the test's own, pinned) beside our lint on
/// `scripts/squawk-compare`'s 21 cases: on the shared rules we flag what squawk flags (with
/// `--assume-in-transaction`, as we run a file); on what only the runner knows (a table this
/// run creates, a no-transaction file, a type change that rewrites nothing) we do not.
#[test]
fn squawk_itself_agrees_on_the_shared_rules() {
    let tmp = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let venv = tmp.join("squawk-venv");
    let squawk = venv.join("bin/squawk");
    if !squawk.exists() {
        let ok = std::process::Command::new("/usr/bin/python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap();
        assert!(ok.success(), "python3 -m venv (Debian: python3-venv)");
        let out = std::process::Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "squawk-cli==2.70.0"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pip install squawk-cli: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = std::process::Command::new("/usr/bin/python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/squawk-compare"
        ))
        .arg(&squawk)
        .arg(crate::common::BIN)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && report.contains("21 of 21 cases as expected"),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
