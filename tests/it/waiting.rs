//! Pods that wait for the schema: `wait --migrated` and the entrypoint's `--wait-only` exit (or
//! run CMD) once every migration is applied, exit 3 when `--wait` ends first, 1 once a failed
//! migration is seen; they never migrate.

use crate::common::{Case, Kind, Running, bare, run};

both!(
    waits_until_another_runner_has_migrated,
    a_failed_migration_ends_the_wait
);

fn wait_cmd(c: &Case, wait: &str) -> std::process::Command {
    let mut cmd = bare();
    cmd.args(["wait", "--migrated", "--wait", wait, "-d", &c.url, "-m"])
        .arg(&c.migrations);
    cmd
}

fn waits_until_another_runner_has_migrated(kind: Kind) {
    let c = Case::new(kind);
    c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    if kind == Kind::Sqlite {
        c.execute("SELECT 1"); // the file exists (waiting creates nothing)
    }
    let waiting = Running::start(wait_cmd(&c, "60s"));
    waiting.wait_for_log(30, "waiting until it is migrated: 1 migration(s) pending");
    assert!(
        !c.has_table("schema_migrations"),
        "waiting migrates nothing"
    );
    // The app pod waits the same way, then runs its CMD.
    let mut app = bare();
    app.args(["--wait", "60s", "-d", &c.url, "-m"])
        .arg(&c.migrations)
        .env("MIGRATE_WAIT_ONLY", "1")
        .args(["--", "echo", "app started"]);
    let app = Running::start(app);
    app.wait_for_log(30, "waiting until it is migrated");
    let (code, _, err) = run(c.up());
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = waiting.finish();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("migrated"), "{err}");
    let (code, out, err) = app.finish();
    assert_eq!((code, out.as_str()), (0, "app started\n"), "{err}");
}

fn a_failed_migration_ends_the_wait(kind: Kind) {
    let c = Case::new(kind);
    c.write("1_broken.sql", "CREATE TABLE broken (;");
    assert_eq!(run(c.up()).0, 1);
    let (code, _, err) = run(wait_cmd(&c, "60s"));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("1_broken.sql failed: waiting will not make it migrated"),
        "{err}"
    );
}

#[test]
fn the_wait_ends_with_3_and_cmd_does_not_run() {
    let c = Case::new(Kind::Sqlite);
    c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    c.execute("SELECT 1");
    let (code, _, err) = run(wait_cmd(&c, "1s"));
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("not migrated within --wait 1s: 1 migration(s) pending"),
        "{err}"
    );
    let mut app = bare();
    app.args(["--wait-only", "--wait", "1s", "-d", &c.url, "-m"])
        .arg(&c.migrations)
        .args(["--", "echo", "app started"]);
    let (code, out, err) = run(app);
    assert_eq!((code, out.as_str()), (3, ""), "{err}");
    assert!(!c.has_table("a") && !c.has_table("schema_migrations"));
}

#[test]
fn a_signal_while_waiting_exits_128_plus_n() {
    let c = Case::new(Kind::Sqlite);
    c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    c.execute("SELECT 1");
    let waiting = Running::start(wait_cmd(&c, "60s"));
    waiting.wait_for_log(30, "waiting until it is migrated");
    waiting.signal(nix::sys::signal::Signal::SIGTERM);
    let (code, _, err) = waiting.finish();
    assert_eq!(code, 143, "{err}");
}
