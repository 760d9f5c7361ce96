//! The binary in its home: real containers in a real Docker engine. A test image is built
//! `FROM scratch` from the static binary, a small static probe program as CMD, and migrations.
//! Containers are labelled and removed, images removed, when the test process exits.
//!
//! When `docker info` fails these tests fail, saying so; `MIGRATE_TEST_SKIP_DOCKER=1` skips them.

use crate::common::wait_for;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::common::pg;
use serde_json::Value;

const ENDLESS: &str = "CREATE TABLE started (id INTEGER);\n\
    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;\n";
/// About five seconds of work, then a row in the counter.
const SLOW: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 40000000) \
    SELECT count(*) FROM c;\nINSERT INTO counter VALUES ('slow');\n";
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n";
const GROUP: &str = "root:x:0:\napp:x:1000:\nextra:x:2000:app\n";

struct Images {
    /// The base test image (the example app's migrations baked in).
    base: String,
    /// The same with one more migration (a new release).
    next: String,
}

static IMAGES: OnceLock<Images> = OnceLock::new();
static CLEANUP: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn label() -> String {
    format!("migrate-entrypoint-test={}", std::process::id())
}

/// Whether to run; panics with a clear message when Docker is not there.
fn docker() -> bool {
    if std::env::var("MIGRATE_TEST_SKIP_DOCKER").is_ok_and(|v| v == "1") {
        eprintln!("skipped: MIGRATE_TEST_SKIP_DOCKER=1");
        return false;
    }
    let ok = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "`docker info` fails: these tests need a Docker engine (set MIGRATE_TEST_SKIP_DOCKER=1 to skip them)"
    );
    true
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Builds the static binary and the probe (cargo does nothing when they are fresh).
fn static_artifacts() -> (PathBuf, PathBuf) {
    for what in [
        &["--bin", "migrate-entrypoint"][..],
        &["--example", "probe"][..],
    ] {
        let out = Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "--target",
                "x86_64-unknown-linux-musl",
            ])
            .args(what)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "static build failed (needs musl-tools and `rustup target add x86_64-unknown-linux-musl`):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir = target_dir().join("x86_64-unknown-linux-musl/release");
    (dir.join("migrate-entrypoint"), dir.join("examples/probe"))
}

/// Runs a docker command, bounded in time so that a hang fails the test instead of CI.
fn sh(args: &[&str]) -> (i32, String, String) {
    let out = Command::new("timeout")
        .args(["-k", "5", "180", "docker"])
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    crate::common::assert_no_secret("docker's stdout", &stdout);
    crate::common::assert_no_secret("docker's stderr", &stderr);
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

fn build(context: &Path, tag: &str) {
    let (code, _, err) = sh(&["build", "-q", "-t", tag, context.to_str().unwrap()]);
    assert_eq!(code, 0, "docker build: {err}");
    CLEANUP.lock().unwrap().push(tag.to_string());
}

/// Removes what earlier test processes that were killed (and so could not clean up) left.
fn remove_leftovers() {
    let Ok(out) = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            "label=migrate-entrypoint-test",
            "--format",
            "{{.ID}} {{.Label \"migrate-entrypoint-test\"}}",
        ])
        .output()
    else {
        return;
    };
    let alive = |pid: i32| nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
    let stale: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, pid)| pid.parse::<i32>().is_ok_and(|p| !alive(p)))
        .map(|(id, _)| id.to_string())
        .collect();
    if !stale.is_empty() {
        let _ = Command::new("docker")
            .args(["rm", "-f"])
            .args(&stale)
            .output();
    }
    let Ok(out) = Command::new("docker")
        .args([
            "images",
            "migrate-entrypoint-test",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ])
        .output()
    else {
        return;
    };
    let stale: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|tag| {
            let pid = tag
                .rsplit(':')
                .next()
                .unwrap_or("")
                .trim_end_matches("-next");
            pid.parse::<i32>().is_ok_and(|p| !alive(p))
        })
        .map(str::to_string)
        .collect();
    if !stale.is_empty() {
        let _ = Command::new("docker")
            .args(["rmi", "-f"])
            .args(&stale)
            .output();
    }
}

fn images() -> &'static Images {
    IMAGES.get_or_init(|| {
        remove_leftovers();
        let (bin, probe) = static_artifacts();
        let ctx = tempfile::tempdir().unwrap();
        let c = ctx.path();
        std::fs::copy(&bin, c.join("migrate-entrypoint")).unwrap();
        std::fs::copy(&probe, c.join("probe")).unwrap();
        std::fs::write(c.join("passwd"), PASSWD).unwrap();
        std::fs::write(c.join("group"), GROUP).unwrap();
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/example/migrations");
        std::fs::create_dir(c.join("migrations")).unwrap();
        for f in std::fs::read_dir(example).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), c.join("migrations").join(f.file_name())).unwrap();
        }
        std::fs::write(
            c.join("Dockerfile"),
            "FROM scratch\n\
             COPY passwd group /etc/\n\
             COPY migrate-entrypoint probe /usr/local/bin/\n\
             COPY migrations/ /app/migrations/\n\
             ENV PATH=/usr/local/bin MIGRATIONS_DIRS=/app/migrations\n\
             WORKDIR /data\n\
             WORKDIR /\n\
             ENTRYPOINT [\"migrate-entrypoint\", \"--\"]\n\
             CMD [\"probe\"]\n",
        )
        .unwrap();
        let base = format!("migrate-entrypoint-test:{}", std::process::id());
        build(c, &base);
        let next_ctx = tempfile::tempdir().unwrap();
        std::fs::write(
            next_ctx.path().join("006_add_projects_archived.sql"),
            "ALTER TABLE projects ADD COLUMN archived BOOLEAN NOT NULL DEFAULT FALSE;\n",
        )
        .unwrap();
        std::fs::write(
            next_ctx.path().join("Dockerfile"),
            format!("FROM {base}\nCOPY 006_add_projects_archived.sql /app/migrations/\n"),
        )
        .unwrap();
        let next = format!("migrate-entrypoint-test:{}-next", std::process::id());
        build(next_ctx.path(), &next);
        // SAFETY: registers a plain function to run at process exit.
        unsafe { nix::libc::atexit(cleanup) };
        Images { base, next }
    })
}

extern "C" fn cleanup() {
    let label = label();
    if let Ok(out) = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label={label}")])
        .output()
    {
        let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&ids)
                .output();
        }
    }
    let tags = CLEANUP.lock().unwrap_or_else(|p| p.into_inner());
    let _ = Command::new("docker")
        .arg("rmi")
        .arg("-f")
        .args(tags.iter())
        .output();
}

/// A host folder mounted at /data, writable by anyone (the container may run as uid 1000).
fn volume() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    d
}

fn migrations(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, sql) in files {
        std::fs::write(d.path().join(name), sql).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// `docker run` arguments common to the tests: label, the volume, the database URL.
fn run_args(data: &Path) -> Vec<String> {
    vec![
        "run".into(),
        "--label".into(),
        label(),
        "-v".into(),
        format!("{}:/data", data.display()),
        "-e".into(),
        "DATABASE_URL=sqlite:///data/app.db".into(),
    ]
}

fn docker_run(args: &[String]) -> (i32, String, String) {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    sh(&a)
}

fn probe_report(stdout: &str) -> Value {
    serde_json::from_str(stdout.lines().next().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn records(db: &Path) -> Vec<(String, bool)> {
    crate::common::query(
        db,
        "SELECT migration_name, success FROM schema_migrations ORDER BY id",
    )
    .into_iter()
    .map(|r| (r[0].clone(), r[1] == "1"))
    .collect()
}

fn name() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "me-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn recorded(db: &Path, n: usize) -> bool {
    db.exists() && std::panic::catch_unwind(|| records(db).len() >= n).unwrap_or(false)
}

#[test]
fn migrates_a_sqlite_volume_then_cmd_is_pid_1_with_its_args_and_env() {
    if !docker() {
        return;
    }
    let img = images();
    let data = volume();
    let mut args = run_args(data.path());
    args.extend(
        [
            "--rm",
            "-e",
            "APP_SETTING=a b$c",
            &img.base,
            "probe",
            "first arg",
        ]
        .map(String::from),
    );
    let (code, out, err) = docker_run(&args);
    assert_eq!(code, 0, "{err}");
    let r = probe_report(&out);
    assert_eq!(r["pid"], 1, "CMD replaced migrate-entrypoint as PID 1");
    assert_eq!(r["args"], serde_json::json!(["first arg"]));
    assert_eq!(r["env"]["APP_SETTING"], "a b$c");
    assert_eq!(r["env"]["DATABASE_URL"], "sqlite:///data/app.db");
    assert!(err.contains("applied 5, failed 0, pending 0"), "{err}");
    assert_eq!(records(&data.path().join("app.db")).len(), 5);
}

#[test]
fn docker_stop_during_a_long_migration_is_prompt_and_leaves_no_trace() {
    if !docker() {
        return;
    }
    let img = images();
    let data = volume();
    let m = migrations(&[
        ("1_a.sql", "CREATE TABLE a (id INTEGER);"),
        ("2_endless.sql", ENDLESS),
    ]);
    let cname = name();
    let mut args = run_args(data.path());
    args.extend(
        [
            "-d",
            "--name",
            &cname,
            "-v",
            &format!("{}:/app/migrations:ro", m.path().display()),
            &img.base,
        ]
        .map(String::from),
    );
    let (code, _, err) = docker_run(&args);
    assert_eq!(code, 0, "{err}");
    let db = data.path().join("app.db");
    wait_for(30, "the first migration", || recorded(&db, 1));
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    // The migration is endless: had the SIGTERM not cancelled it, docker would kill it after
    // 30 s (exit 137).
    let (code, _, err) = sh(&["stop", "-t", "30", &cname]);
    assert_eq!(code, 0, "{err}");
    eprintln!("docker stop took {:?}", started.elapsed());
    let (_, exit, _) = sh(&["inspect", "-f", "{{.State.ExitCode}}", &cname]);
    assert_eq!(exit.trim(), "143");
    let (_, logs, _) = sh(&["logs", &cname]);
    assert!(!logs.contains("\"pid\""), "CMD must not have run: {logs}");
    assert_eq!(records(&db), [("1_a.sql".to_string(), true)]);
    assert!(
        crate::common::query(&db, "SELECT name FROM sqlite_master WHERE name = 'started'")
            .is_empty()
    );
}

#[test]
fn killed_mid_migration_then_started_again_completes_once() {
    if !docker() {
        return;
    }
    let img = images();
    let data = volume();
    let m = migrations(&[
        (
            "1_counter.sql",
            "CREATE TABLE counter (what TEXT);\nINSERT INTO counter VALUES ('counter');",
        ),
        ("2_slow.sql", SLOW),
    ]);
    let cname = name();
    let mut args = run_args(data.path());
    args.extend(
        [
            "-d",
            "--name",
            &cname,
            "-v",
            &format!("{}:/app/migrations:ro", m.path().display()),
            &img.base,
        ]
        .map(String::from),
    );
    assert_eq!(docker_run(&args).0, 0);
    let db = data.path().join("app.db");
    wait_for(30, "the first migration", || recorded(&db, 1));
    std::thread::sleep(Duration::from_millis(1000));
    let (code, _, err) = sh(&["kill", "-s", "KILL", &cname]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        records(&db),
        [("1_counter.sql".to_string(), true)],
        "killed before 2_slow finished"
    );
    let (code, out, err) = sh(&["start", "-a", &cname]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(probe_report(&out)["pid"], 1);
    assert_eq!(
        records(&db),
        [
            ("1_counter.sql".to_string(), true),
            ("2_slow.sql".to_string(), true)
        ]
    );
    assert_eq!(
        crate::common::query(&db, "SELECT what FROM counter ORDER BY what"),
        [vec!["counter".to_string()], vec!["slow".to_string()]]
    );
}

#[test]
fn a_redeploy_applies_only_the_new_migration() {
    if !docker() {
        return;
    }
    let img = images();
    let data = volume();
    let cname = name();
    let mut args = run_args(data.path());
    args.extend(["-d", "--name", &cname, "-e", "PROBE_MODE=sleep", &img.base].map(String::from));
    assert_eq!(docker_run(&args).0, 0);
    let db = data.path().join("app.db");
    wait_for(30, "the first release's migrations", || recorded(&db, 5));
    // As Watchtower does it: stop, remove, run the new image on the same volume.
    assert_eq!(sh(&["stop", "-t", "1", &cname]).0, 0);
    assert_eq!(sh(&["rm", &cname]).0, 0);
    let mut args = run_args(data.path());
    args.extend(["--rm", &img.next].map(String::from));
    let (code, _, err) = docker_run(&args);
    assert_eq!(code, 0, "{err}");
    let applied: Vec<&str> = err
        .lines()
        .filter(|l| {
            l.contains(": applied 0") || l.contains("applied 00") || l.contains("applied 006")
        })
        .collect();
    assert_eq!(applied.len(), 1, "{err}");
    assert!(
        err.contains("applied 006_add_projects_archived.sql")
            && err.contains("applied 1, failed 0, pending 0"),
        "{err}"
    );
    assert_eq!(records(&db).len(), 6);
}

#[test]
fn docker_exec_status_and_up_while_cmd_runs() {
    if !docker() {
        return;
    }
    let img = images();
    let data = volume();
    let m = migrations(&[("1_a.sql", "CREATE TABLE a (id INTEGER);")]);
    let cname = name();
    let mut args = run_args(data.path());
    args.extend(
        [
            "-d",
            "--name",
            &cname,
            "-e",
            "PROBE_MODE=sleep",
            "-v",
            &format!("{}:/app/migrations", m.path().display()),
            &img.base,
        ]
        .map(String::from),
    );
    assert_eq!(docker_run(&args).0, 0);
    let db = data.path().join("app.db");
    wait_for(30, "the migration", || recorded(&db, 1));
    let (code, out, err) = sh(&["exec", &cname, "migrate-entrypoint", "status"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1_a.sql") && out.contains("applied"), "{out}");
    // A new file appears (a hotfix mounted in); `up` through docker exec applies it.
    std::fs::write(m.path().join("2_b.sql"), "CREATE TABLE b (id INTEGER);").unwrap();
    let (code, out, _) = sh(&[
        "exec",
        &cname,
        "migrate-entrypoint",
        "status",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        doc["databases"][0]["migrations"][1]["state"], "pending",
        "{out}"
    );
    let (code, _, err) = sh(&["exec", &cname, "migrate-entrypoint", "up"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("applied 2_b.sql"), "{err}");
    // docker exec inherits the container's environment (PROBE_MODE=sleep): override it.
    let (_, pid1, _) = sh(&["exec", "-e", "PROBE_MODE=report", &cname, "probe"]);
    assert_ne!(
        probe_report(&pid1)["pid"],
        1,
        "docker exec runs beside PID 1"
    );
    let (_, state, _) = sh(&["inspect", "-f", "{{.State.Running}}", &cname]);
    assert_eq!(state.trim(), "true", "the app kept running");
}

#[test]
fn six_replicas_at_once_apply_each_migration_once() {
    if !docker() {
        return;
    }
    let img = images();
    let files = [
        (
            "1_counter.sql",
            "CREATE TABLE counter (what TEXT);\nINSERT INTO counter VALUES ('1');",
        ),
        (
            "2_b.sql",
            "CREATE TABLE b (id INTEGER);\nINSERT INTO counter VALUES ('2');",
        ),
        (
            "3_c.sql",
            "CREATE TABLE c (id INTEGER);\nINSERT INTO counter VALUES ('3');",
        ),
    ];
    let m = migrations(&files);
    let pgdb = pg::server().new_db();
    let data = volume();
    for url in [pgdb.url.clone(), "sqlite:///data/app.db".to_string()] {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let mut args = run_args(data.path());
                args.extend(
                    [
                        "--rm",
                        "--network",
                        "host",
                        // The probe would print its environment, password included: that is
                        // the CMD's business, not migrate-entrypoint's output.
                        "-e",
                        "PROBE_MODE=exit:0",
                        "-e",
                        &format!("DATABASE_URL={url}"),
                        "-v",
                        &format!("{}:/app/migrations:ro", m.path().display()),
                        &img.base,
                    ]
                    .map(String::from),
                );
                std::thread::spawn(move || docker_run(&args))
            })
            .collect();
        for h in handles {
            let (code, _, err) = h.join().unwrap();
            assert_eq!(code, 0, "{url}: {err}");
        }
    }
    assert_eq!(
        pgdb.column("SELECT what FROM counter ORDER BY what"),
        ["1", "2", "3"]
    );
    assert_eq!(
        pgdb.value("SELECT count(*) FROM schema_migrations WHERE success"),
        "3"
    );
    let db = data.path().join("app.db");
    assert_eq!(
        crate::common::query(&db, "SELECT what FROM counter ORDER BY what").len(),
        3
    );
    assert_eq!(records(&db).len(), 3);
}

#[test]
fn cmd_exit_codes_pass_through() {
    if !docker() {
        return;
    }
    let img = images();
    let data = volume();
    for (cmd, env, want, needle) in [
        (
            "no-such-program",
            "",
            127,
            "no-such-program: command not found",
        ),
        ("/etc", "", 126, "/etc: cannot execute"),
        ("probe", "PROBE_MODE=exit:42", 42, ""),
    ] {
        let mut args = run_args(data.path());
        args.extend(
            [
                "--rm",
                "-e",
                if env.is_empty() { "X=1" } else { env },
                &img.base,
                cmd,
            ]
            .map(String::from),
        );
        let (code, _, err) = docker_run(&args);
        assert_eq!(code, want, "{cmd}: {err}");
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn argv_stdin_signal_state_and_fds_are_as_if_run_directly() {
    if !docker() {
        return;
    }
    let img = images();
    let data = volume();
    let odd = ["", "a b", "--", "$HOME", "é"];
    let mut args = run_args(data.path());
    args.extend(["--rm", &img.base, "probe"].map(String::from));
    args.extend(odd.map(String::from));
    let (code, out, err) = docker_run(&args);
    assert_eq!(code, 0, "{err}");
    let via = probe_report(&out);
    assert_eq!(via["args"], serde_json::json!(odd));

    let (code, out, _) = sh(&[
        "run",
        "--rm",
        "--label",
        &label(),
        "--entrypoint",
        "probe",
        &img.base,
    ]);
    assert_eq!(code, 0);
    let direct = probe_report(&out);
    for key in ["sigblk", "sigign", "sigcgt", "fds"] {
        assert_eq!(
            via[key], direct[key],
            "{key}: through migrate-entrypoint vs direct"
        );
    }
    assert_eq!(via["fds"], serde_json::json!([0, 1, 2]));

    // stdin is the CMD's: not read by migrate-entrypoint.
    let mut args = run_args(data.path());
    args.extend(["--rm", "-i", "-e", "PROBE_MODE=cat", &img.base, "probe"].map(String::from));
    let mut child = Command::new("timeout")
        .args(["-k", "5", "180", "docker"])
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"hi\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hi\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn user_switch_owns_the_files_and_cmd_runs_as_that_user() {
    if !docker() {
        return;
    }
    let img = images();
    let data = volume();
    let m = migrations(&[
        (
            "1_wal.sql",
            "-- migrate:no-transaction\nPRAGMA journal_mode = WAL;",
        ),
        ("2_counter.sql", "CREATE TABLE counter (what TEXT);"),
        ("3_slow.sql", SLOW),
    ]);
    let cname = name();
    let mut args = run_args(data.path());
    // Options after the image would be CMD (ENTRYPOINT ends in `--`): use the variable.
    args.extend(
        [
            "--name",
            &cname,
            "-d",
            "-e",
            "MIGRATE_USER=1000:1000",
            "-v",
            &format!("{}:/app/migrations:ro", m.path().display()),
            &img.base,
        ]
        .map(String::from),
    );
    assert_eq!(docker_run(&args).0, 0);
    let db = data.path().join("app.db");
    use std::os::unix::fs::MetadataExt;
    wait_for(30, "the slow migration to run (WAL files present)", || {
        data.path().join("app.db-wal").exists() && data.path().join("app.db-shm").exists()
    });
    for f in ["app.db", "app.db-wal", "app.db-shm"] {
        let meta = std::fs::metadata(data.path().join(f)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (1000, 1000), "{f}");
    }
    let (code, _, _) = sh(&["wait", &cname]);
    assert_eq!(code, 0);
    let (_, out, err) = sh(&["logs", &cname]);
    let r = probe_report(&out);
    assert_eq!(r["uid"], "1000\t1000\t1000\t1000", "{err}");
    assert_eq!(r["gid"], "1000\t1000\t1000\t1000");
    assert_eq!(r["groups"], "", "no supplementary groups");
    assert_eq!(records(&db).len(), 3);

    // A named user gets HOME and its groups from the image's files.
    let mut args = run_args(data.path());
    args.extend(
        [
            "--rm",
            "-e",
            "MIGRATE_USER=app",
            "-e",
            "PROBE_MODE=setuid0",
            &img.base,
        ]
        .map(String::from),
    );
    let (code, out, err) = docker_run(&args);
    assert_eq!(code, 0, "{err}");
    let r = probe_report(&out);
    assert_eq!(r["env"]["HOME"], "/home/app");
    assert_eq!(r["groups"], "2000");
    assert_eq!(r["setuid0"], false, "root cannot be regained");

    // Without the capabilities to switch, it fails loudly and CMD never runs (as root or at all).
    let mut args = run_args(data.path());
    args.extend(
        [
            "--rm",
            "--cap-drop",
            "ALL",
            "-e",
            "MIGRATE_USER=1000:1000",
            &img.base,
        ]
        .map(String::from),
    );
    let (code, out, err) = docker_run(&args);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--user 1000:1000: setgroups failed"), "{err}");
    assert_eq!(out, "", "CMD must not run");
}

#[test]
fn read_only_root_filesystem_stays_unchanged() {
    if !docker() {
        return;
    }
    let img = images();
    let data = volume();
    let cname = name();
    let mut args = run_args(data.path());
    args.extend(["--name", &cname, "--read-only", &img.base].map(String::from));
    let (code, out, err) = docker_run(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(probe_report(&out)["pid"], 1);
    assert_eq!(records(&data.path().join("app.db")).len(), 5);
    let (code, diff, _) = sh(&["diff", &cname]);
    assert_eq!((code, diff.as_str()), (0, ""), "docker diff");
}

#[test]
fn database_url_file_from_a_mounted_secret() {
    if !docker() {
        return;
    }
    let img = images();
    let data = volume();
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("db_url"), "sqlite:///data/secret.db\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(secrets.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        secrets.path().join("db_url"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let cname = name();
    let args: Vec<String> = [
        "run",
        "-d",
        "--label",
        &label(),
        "--name",
        &cname,
        "-v",
        &format!("{}:/data", data.path().display()),
        "-v",
        &format!("{}:/run/secrets:ro", secrets.path().display()),
        "-e",
        "DATABASE_URL_FILE=/run/secrets/db_url",
        "-e",
        "PROBE_MODE=sleep",
        &img.base,
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(docker_run(&args).0, 0);
    let db = data.path().join("secret.db");
    wait_for(30, "the migrations", || recorded(&db, 5));
    let (code, out, err) = sh(&["exec", &cname, "migrate-entrypoint", "status"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("sqlite:/data/secret.db"), "{out}");
}

#[test]
fn docker_stop_while_waiting_for_the_database_is_not_lost() {
    if !docker() {
        return;
    }
    let img = images();
    let data = volume();
    let cname = name();
    // Nothing listens there: the entrypoint keeps retrying for a minute.
    let mut args = run_args(data.path());
    args.extend(
        [
            "-d",
            "--name",
            &cname,
            "--network",
            "none",
            "-e",
            "DATABASE_URL=postgres://app:hunter2@127.0.0.1:1/app",
            "-e",
            "MIGRATE_WAIT=60s",
            &img.base,
        ]
        .map(String::from),
    );
    let (code, _, err) = docker_run(&args);
    assert_eq!(code, 0, "{err}");
    wait_for(30, "a retry in the log", || {
        sh(&["logs", &cname]).2.contains("retrying in")
    });
    let started = Instant::now();
    // Had the SIGTERM been dropped, docker would kill it after 10 s: exit 137.
    let (code, _, err) = sh(&["stop", "-t", "10", &cname]);
    assert_eq!(code, 0, "{err}");
    eprintln!("docker stop during --wait took {:?}", started.elapsed());
    let (_, exit, _) = sh(&["inspect", "-f", "{{.State.ExitCode}}", &cname]);
    assert_eq!(exit.trim(), "143");
    let (_, out, logs) = sh(&["logs", &cname]);
    assert!(!out.contains("\"pid\""), "CMD must not have run: {out}");
    assert!(logs.contains("not running CMD"), "{logs}");
}

#[test]
fn docker_run_image_status_runs_ours_and_a_typo_migrates_nothing() {
    if !docker() {
        return;
    }
    let img = images();
    let data = volume();
    // `docker run IMAGE stauts`: not found, nothing migrated, the right word suggested.
    let mut args = run_args(data.path());
    args.extend(["--rm", &img.base, "stauts"].map(String::from));
    let (code, _, err) = docker_run(&args);
    assert_eq!(code, 127, "{err}");
    assert!(
        err.contains("did you mean `migrate-entrypoint status`?"),
        "{err}"
    );
    assert!(!data.path().join("app.db").exists(), "nothing migrated");
    // `docker run IMAGE up` (a Job from the app image), then `status --exit-code`.
    let mut args = run_args(data.path());
    args.extend(["--rm", &img.base, "up"].map(String::from));
    let (code, out, err) = docker_run(&args);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert_eq!(records(&data.path().join("app.db")).len(), 5);
    let mut args = run_args(data.path());
    args.extend(["--rm", &img.base, "status", "--exit-code"].map(String::from));
    let (code, out, err) = docker_run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("5 applied, 0 pending"), "{out}");
}

#[test]
fn init_mode_stays_pid_1_for_a_cmd_that_is_not_a_good_one() {
    if !docker() {
        return;
    }
    let img = images();
    let data = volume();
    let run_mode = |mode: &str, detach: bool| -> (String, i32, String) {
        let cname = name();
        let mut args = run_args(data.path());
        if detach {
            args.push("-d".into());
        }
        args.extend(
            [
                "--name",
                &cname,
                "-e",
                "MIGRATE_INIT=1",
                "-e",
                &format!("PROBE_MODE={mode}"),
                &img.base,
            ]
            .map(String::from),
        );
        let (code, out, err) = docker_run(&args);
        if !detach {
            let _ = sh(&["rm", "-f", &cname]);
        }
        assert!(detach || !err.contains("Error"), "{err}");
        (cname, code, out)
    };
    // Exit codes pass through: 0, 42, and 139 for a real SIGSEGV.
    for (mode, want) in [("exit:0", 0), ("exit:42", 42), ("segv", 139)] {
        let (_, code, _) = run_mode(mode, false);
        assert_eq!(code, want, "{mode}");
    }
    // An orphan that ends is reaped by PID 1: no zombie left.
    let (_, code, out) = run_mode("orphan", false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"zombies\":0"), "{out}");
    // `docker stop` of a CMD without a TERM handler: forwarded, 143 (as PID 1 itself the
    // probe would ignore it, and docker would kill it after 10 s: 137).
    for (mode, want) in [("sleep", "143"), ("term0", "0")] {
        let (cname, code, _) = run_mode(mode, true);
        assert_eq!(code, 0);
        wait_for(30, "CMD to start", || {
            sh(&["logs", &cname]).1.contains('{') || sh(&["logs", &cname]).1.contains("ready")
        });
        let started = Instant::now();
        let (code, _, err) = sh(&["stop", "-t", "10", &cname]);
        assert_eq!(code, 0, "{err}");
        eprintln!("docker stop ({mode}) took {:?}", started.elapsed());
        let (_, exit, _) = sh(&["inspect", "-f", "{{.State.ExitCode}}", &cname]);
        assert_eq!(exit.trim(), want, "{mode}");
    }
}

#[test]
fn init_mode_with_a_terminal_gets_ctrl_c() {
    if !docker() {
        return;
    }
    let img = images();
    let data = volume();
    let cname = name();
    let cmd = format!(
        "docker run -it --rm --name {cname} --label {} -v {}:/data -e DATABASE_URL=sqlite:///data/app.db -e MIGRATE_INIT=1 -e PROBE_MODE=int5 {}",
        label(),
        data.path().display(),
        img.base
    );
    let mut s = Command::new("timeout");
    s.args(["60", "script", "-qfec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = s.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    use std::io::{Read, Write};
    while !String::from_utf8_lossy(&seen).contains("ready") {
        assert_eq!(
            stdout.read(&mut byte).unwrap(),
            1,
            "{}",
            String::from_utf8_lossy(&seen)
        );
        seen.push(byte[0]);
    }
    child.stdin.as_mut().unwrap().write_all(b"\x03").unwrap();
    stdout.read_to_end(&mut seen).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(5), "{}", String::from_utf8_lossy(&seen));
}

/// An image of the base with a declared schema at /app/schema.sql (MIGRATE_SCHEMA).
fn declared_image(tag_suffix: &str, schema: &str) -> String {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("schema.sql"), schema).unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM {}\nCOPY schema.sql /app/schema.sql\nENV MIGRATE_SCHEMA=/app/schema.sql\n",
            images().base
        ),
    )
    .unwrap();
    let tag = format!(
        "migrate-entrypoint-test:{}-{tag_suffix}",
        std::process::id()
    );
    build(ctx.path(), &tag);
    tag
}

#[test]
fn a_declared_schema_in_the_image_gets_its_new_column_on_restart() {
    if !docker() {
        return;
    }
    let v1 = declared_image(
        "declared-1",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n",
    );
    let v2 = declared_image(
        "declared-2",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, title TEXT);\nCREATE INDEX notes_title ON notes (title);\n",
    );
    let data = volume();
    let db = data.path().join("app.db");
    // The first release: the migrations, then the declared table; CMD runs.
    let mut args = run_args(data.path());
    args.extend(["--rm", &v1].map(String::from));
    let (code, out, err) = docker_run(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(probe_report(&out)["pid"], 1, "{out}");
    assert!(err.contains("declared schema: create table notes"), "{err}");
    // Restarted with the models changed: the column and its index are added, nothing else.
    let mut args = run_args(data.path());
    args.extend(["--rm", &v2].map(String::from));
    let (code, _, err) = docker_run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("declared schema: add column notes.title"),
        "{err}"
    );
    assert!(err.contains("applied 2, failed 0, pending 0"), "{err}");
    let declared: Vec<String> = records(&db)
        .into_iter()
        .filter(|(n, _)| n.contains("#") && n != "#schema-state")
        .map(|(n, ok)| {
            assert!(ok, "{n}");
            n
        })
        .collect();
    assert_eq!(
        declared,
        [
            "schema.sql#table:notes",
            "schema.sql#column:notes.title",
            "schema.sql#index:notes.notes_title"
        ]
    );
    // The next start has nothing to add; `docker run IMAGE schema dump` prints the schema.
    let mut args = run_args(data.path());
    args.extend(["--rm", &v2].map(String::from));
    let (code, _, err) = docker_run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("applied 0, failed 0, pending 0"), "{err}");
    let mut args = run_args(data.path());
    args.extend(["--rm", &v2, "schema", "dump"].map(String::from));
    let (code, out, err) = docker_run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, title TEXT)"),
        "{out}"
    );
    assert!(
        out.contains("CREATE INDEX notes_title ON notes (title);"),
        "{out}"
    );
}
