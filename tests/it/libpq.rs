//! libpq's conventions, against the test server: `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
//! `PGDATABASE`, `PGSSLMODE`, `PGAPPNAME` and the password file fill what a URL leaves out; the
//! URL wins; a password holding `@` is the password, and the host connected to is the one named.

use std::os::unix::fs::PermissionsExt;

use crate::common::pg::PASSWORD;
use crate::common::{Case, Kind, bare, run};

const LIBPQ: [&str; 10] = [
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGAPPNAME",
    "PGCONNECT_TIMEOUT",
    "PGPASSFILE",
];

/// The test server's port and this case's database.
fn parts(c: &Case) -> (String, String) {
    let db = c.pg.as_ref().unwrap();
    let port = db
        .url
        .split("127.0.0.1:")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    (port.to_string(), db.name.clone())
}

fn up_with(c: &Case, url: &str, vars: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = bare();
    for v in LIBPQ {
        cmd.env_remove(v);
    }
    cmd.args(["up", "-d", url, "-m"])
        .arg(&c.migrations)
        .envs(vars.iter().copied());
    run(cmd)
}

#[test]
fn libpq_variables_fill_what_the_url_leaves_out() {
    let c = Case::new(Kind::Postgres);
    c.write("1_a.sql", "CREATE TABLE a (who TEXT DEFAULT current_setting('application_name'));\nINSERT INTO a DEFAULT VALUES;");
    let (port, db) = parts(&c);
    let vars = [
        ("PGHOST", "127.0.0.1"),
        ("PGPORT", port.as_str()),
        ("PGUSER", "postgres"),
        ("PGPASSWORD", PASSWORD),
        ("PGDATABASE", db.as_str()),
        ("PGSSLMODE", "disable"),
        ("PGAPPNAME", "from-pgappname"),
        ("PGCONNECT_TIMEOUT", "5"),
    ];
    let (code, _, err) = up_with(&c, "postgres:///", &vars);
    assert_eq!(code, 0, "{err}");
    assert_eq!(c.value("SELECT who FROM a"), "from-pgappname");
    crate::common::assert_no_secret("log", &err);
    // What the URL says wins: here a database that is not there.
    let (code, _, err) = up_with(&c, "postgres:///no_such_db", &vars);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("no_such_db") && err.contains("--create-database"),
        "{err}"
    );
}

#[test]
fn the_password_file_is_read_when_no_one_else_may_read_it() {
    let c = Case::new(Kind::Postgres);
    c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let (port, db) = parts(&c);
    let file = c.dir.path().join("pgpass");
    std::fs::write(
        &file,
        format!("127.0.0.1:{port}:{db}:postgres:{PASSWORD}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{port}/{db}?sslmode=disable");
    let f = file.display().to_string();
    let (code, _, err) = up_with(&c, &url, &[("PGPASSFILE", f.as_str())]);
    assert_ne!(code, 0, "a file others may read is not used: {err}");
    assert!(err.contains("may be read by others"), "{err}");
    assert!(
        err.contains("PGPASSWORD") && err.contains("~/.pgpass"),
        "the sources named: {err}"
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, _, err) = up_with(&c, &url, &[("PGPASSFILE", f.as_str())]);
    assert_eq!(code, 0, "{err}");
    assert!(c.has_table("a"));
}

#[test]
fn a_password_with_an_at_sign_is_the_password() {
    let c = Case::new(Kind::Postgres);
    c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let (port, db) = parts(&c);
    let admin = c.pg.as_ref().unwrap();
    let mut client = admin.client();
    client
        .batch_execute("CREATE ROLE atuser LOGIN SUPERUSER PASSWORD 'p@ss:w/rd'")
        .ok();
    let url = format!("postgres://atuser:p@ss:w/rd@127.0.0.1:{port}/{db}?sslmode=disable");
    let (code, _, err) = up_with(&c, &url, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(c.has_table("a"));
    assert!(err.contains("percent-encode"), "{err}");
    assert!(!err.contains("p@ss") && !err.contains("w/rd"), "{err}");
}
