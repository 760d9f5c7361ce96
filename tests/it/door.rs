//! Safe at the door: a typo or another tool's verb never migrates, `-- SUBCOMMAND` runs ours,
//! a signal is never lost whatever the phase, a probe makes one attempt, CMD gets what the
//! process inherited, and each command's `--help` lists its own options.

use std::os::unix::fs::PermissionsExt;

use nix::sys::signal::Signal;

use crate::common::{BIN, Case, Kind, Running, bare, is_root, run};

/// A project with one pending migration whose SQLite file does not exist yet.
fn pending() -> Case {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    p
}

#[test]
fn a_typo_or_another_tools_verb_never_migrates() {
    for (word, hint) in [
        ("stauts", Some("status")),
        ("migrate", Some("up")),
        ("info", Some("status")),
        ("create", Some("new")),
        ("undo", Some("down")),
        ("dump", Some("schema dump")),
        ("drop", None),
    ] {
        let p = pending();
        // The bare form and the `--` form alike.
        for dash in [false, true] {
            let mut c = p.cmd();
            if dash {
                c.arg("--");
            }
            c.arg(word);
            let (code, out, err) = run(c);
            assert_eq!((code, out.as_str()), (127, ""), "{word}: {err}");
            assert!(err.contains(&format!("{word}: command not found")), "{err}");
            match hint {
                Some(h) => assert!(
                    err.contains(&format!("did you mean `migrate-entrypoint {h}`?")),
                    "{err}"
                ),
                None => assert!(!err.contains("did you mean"), "{err}"),
            }
            assert!(!p.db.exists(), "{word}: no database opened or created");
        }
    }
}

#[test]
fn a_cmd_that_cannot_be_executed_migrates_nothing() {
    let p = pending();
    let script = p.dir.path().join("not-executable");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut c = p.cmd();
    c.arg("--").arg(&script);
    let (code, _, err) = run(c);
    assert_eq!(code, 126, "{err}");
    assert!(!p.db.exists(), "no database opened or created");
}

#[test]
fn a_subcommand_as_cmd_runs_ours_unless_a_program_has_its_name() {
    let p = pending();
    // `-- up` (a Kubernetes Job from the app image's ENTRYPOINT): our `up`.
    let mut c = p.cmd();
    c.args(["--", "up"]);
    let (code, out, err) = run(c);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert_eq!(p.records(), [("1_a.sql".to_string(), true)]);
    // `-- status --format json`: our status, with its own options.
    let mut c = p.cmd();
    c.args(["--", "status", "--format", "json"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["databases"][0]["summary"]["applied"], 1);
    let mut c = p.cmd();
    c.args(["--", "validate"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok: 1 migrations"), "{out}");

    // A program of that name on PATH wins.
    let bin = p.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let status = bin.join("status");
    std::fs::write(&status, "#!/bin/sh\necho \"the image's own status $*\"\n").unwrap();
    std::fs::set_permissions(&status, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = p.cmd();
    c.env(
        "PATH",
        format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
    )
    .args(["--", "status", "x"]);
    let (code, out, err) = run(c);
    assert_eq!(
        (code, out.as_str()),
        (0, "the image's own status x\n"),
        "{err}"
    );
}

#[test]
fn a_signal_while_waiting_for_the_database_ends_the_run() {
    let p = pending();
    let mut c = bare();
    c.args([
        "-d",
        "postgres://app:hunter2@127.0.0.1:1/app",
        "--wait",
        "60s",
        "-m",
    ])
    .arg(&p.migrations)
    .args(["--", "echo", "cmd ran"]);
    let r = Running::start(c);
    r.wait_for_log(30, "retrying in");
    r.signal(Signal::SIGTERM);
    let (code, out, err) = r.finish();
    assert_eq!((code, out.as_str()), (143, ""), "{err}");
    assert!(err.contains("not running CMD"), "{err}");
}

#[test]
fn a_signal_while_the_files_are_read_ends_the_run() {
    // A migration that is a FIFO: reading it waits until the test writes to it.
    let p = pending();
    let fifo = p.migrations.join("2_fifo.sql");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let mut c = p.up();
    c.args(["--log-level", "debug"]);
    let r = Running::start(c);
    // A writer can open the FIFO without blocking once a reader has it open: then the run is
    // reading the files (its signal watcher is up by then), and cannot go past this one.
    let writer = loop {
        use nix::fcntl::{OFlag, open};
        match open(
            &fifo,
            OFlag::O_WRONLY | OFlag::O_NONBLOCK,
            nix::sys::stat::Mode::empty(),
        ) {
            Ok(fd) => break std::fs::File::from(fd),
            Err(nix::errno::Errno::ENXIO) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(e) => panic!("{e}"),
        }
    };
    r.signal(Signal::SIGTERM);
    r.wait_for_log(30, "SIGTERM: stopping");
    std::io::Write::write_all(&mut &writer, b"CREATE TABLE f (id INTEGER);").unwrap();
    drop(writer);
    let (code, _, err) = r.finish();
    assert_eq!(code, 143, "{err}");
    assert!(err.contains("not started (stopped by a signal)"), "{err}");
    assert!(!p.db.exists() || p.records().is_empty(), "nothing applied");
}

#[test]
fn a_signal_while_waiting_for_the_lock_and_in_the_queue_ends_the_run() {
    use nix::fcntl::{Flock, FlockArg};
    let p = pending();
    let data = p.dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for i in 1..=2 {
        rusqlite::Connection::open(data.join(format!("app{i}.db")))
            .unwrap()
            .execute_batch("SELECT 1")
            .unwrap();
    }
    // Another runner holds the first database's lock; the second waits for its turn.
    let held = Flock::lock(
        std::fs::File::open(data.join("app1.db")).unwrap(),
        FlockArg::LockExclusive,
    )
    .unwrap();
    let mut c = bare();
    c.args(["--jobs", "1", "--lock-timeout", "60s", "-d"])
        .arg(format!("sqlite://{}/*.db", data.display()))
        .arg("-m")
        .arg(&p.migrations)
        .args(["--", "echo", "cmd ran"]);
    let r = Running::start(c);
    r.wait_for_log(
        30,
        "waiting for the migration lock, held by another migrate-entrypoint",
    );
    r.signal(Signal::SIGTERM);
    let (code, out, err) = r.finish();
    drop(held);
    assert_eq!((code, out.as_str()), (143, ""), "{err}");
    assert!(
        err.contains("app2.db: not started (stopped by a signal)"),
        "{err}"
    );
    for i in 1..=2 {
        let db = data.join(format!("app{i}.db"));
        assert!(
            crate::common::query(&db, "SELECT name FROM sqlite_master WHERE name = 'a'").is_empty()
        );
    }
}

#[test]
fn probes_make_one_attempt_unless_told_to_wait() {
    let p = pending();
    for probe in [&["status", "--exit-code"][..], &["plan"], &["validate"]] {
        let mut c = bare();
        c.args(probe)
            .args(["-d", "postgres://app:hunter2@127.0.0.1:1/app", "-m"])
            .arg(&p.migrations)
            .env("MIGRATE_WAIT", "30s");
        let (code, out, err) = run(c);
        assert_eq!(code, 3, "{probe:?}: {err}");
        assert!(
            format!("{out}{err}").contains("on the one attempt made"),
            "{probe:?}: {out}{err}"
        );
        assert!(!err.contains("retrying"), "{probe:?}: {err}");
    }
    // Given on its own command line, it waits (here: retries until the short wait is over).
    let mut c = bare();
    c.args(["status", "--wait", "1s"])
        .args(["-d", "postgres://app:hunter2@127.0.0.1:1/app", "-m"])
        .arg(&p.migrations);
    let (code, _, err) = run(c);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("retrying in"), "{err}");
}

#[test]
fn cmd_inherits_the_descriptors_this_process_inherited() {
    use std::os::unix::process::CommandExt;
    let p = pending();
    let passed = tempfile::tempfile().unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&passed);
    // The descriptors a command sees, started with one more (7, as socket activation hands a
    // listening socket on) through migrate-entrypoint or directly.
    let seen = |mut c: std::process::Command| -> Vec<String> {
        // SAFETY: dup2 or fcntl between fork and exec. When the file already is descriptor 7,
        // dup2 would keep its close-on-exec flag: it is cleared instead.
        unsafe {
            c.pre_exec(move || {
                let r = if fd == 7 {
                    nix::libc::fcntl(7, nix::libc::F_SETFD, 0)
                } else {
                    nix::libc::dup2(fd, 7)
                };
                if r < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let (code, out, err) = run(c);
        assert_eq!(code, 0, "{err}");
        let mut fds: Vec<String> = out.split_whitespace().map(str::to_string).collect();
        fds.sort();
        fds
    };
    let mut through = p.cmd();
    through.args(["--", "ls", "/proc/self/fd"]);
    let mut direct = std::process::Command::new("ls");
    direct.arg("/proc/self/fd");
    let (through, direct) = (seen(through), seen(direct));
    assert!(through.contains(&"7".to_string()), "{through:?}");
    assert_eq!(through, direct, "CMD sees what it would see run directly");
}

#[test]
fn a_uid_the_image_does_not_know_gets_home_slash() {
    if !is_root() {
        eprintln!("skipped: needs root to switch users");
        return;
    }
    let mut c = bare();
    c.args([
        "--skip",
        "--user",
        "4242",
        "--",
        "sh",
        "-c",
        "echo $HOME; id -u",
    ])
    .env("HOME", "/root");
    let (code, out, err) = run(c);
    assert_eq!((code, out.as_str()), (0, "/\n4242\n"), "{err}");
}

#[test]
fn each_command_lists_its_own_options() {
    let help = |args: &[&str]| {
        let mut c = bare();
        c.args(args);
        let (code, out, err) = run(c);
        assert_eq!(code, 0, "{err}");
        out
    };
    let status = help(&["status", "--help"]);
    assert!(status.contains("--exit-code") && status.contains("--database-url"));
    for foreign in [
        "--on-error",
        "--dry-run",
        "--script-timeout",
        "--skip",
        "--through",
    ] {
        assert!(!status.contains(foreign), "status --help lists {foreign}");
    }
    let up = help(&["up", "--help"]);
    for own in [
        "--on-error",
        "--dry-run",
        "--lock-timeout",
        "--script-timeout",
    ] {
        assert!(up.contains(own), "up --help lacks {own}");
    }
    assert!(!up.contains("--exit-code") && !up.contains("--skip"));
    let new = help(&["new", "--help"]);
    assert!(new.contains("--migrations-dir") && !new.contains("--database-url"));
    let top = help(&["--help"]);
    assert!(top.contains("--skip"));
    assert!(top.contains("CMD is looked up on PATH"), "{top}");
}

#[test]
fn status_times_are_rfc3339_utc_on_both_backends() {
    for kind in [Kind::Sqlite, Kind::Postgres] {
        let c = Case::new(kind);
        c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
        assert_eq!(run(c.up()).0, 0);
        let mut s = bare();
        s.args(["status", "--format", "json", "-d", &c.url, "-m"])
            .arg(&c.migrations);
        let (code, out, err) = run(s);
        assert_eq!(code, 0, "{err}");
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        let at = doc["databases"][0]["migrations"][0]["applied_at"]
            .as_str()
            .unwrap()
            .to_string();
        // 2026-11-29T04:12:12Z
        assert_eq!(at.len(), 20, "{kind:?}: {at}");
        assert!(
            at.as_bytes()[10] == b'T' && at.ends_with('Z') && humantime::parse_rfc3339(&at).is_ok(),
            "{kind:?}: {at}"
        );
    }
}

#[test]
fn no_color_set_but_empty_keeps_colour() {
    let p = pending();
    assert_eq!(run(p.up()).0, 0);
    let cmd = format!("{BIN} status -d {} -m {}", p.url, p.migrations.display());
    let tty = |value: &str| {
        let out = std::process::Command::new("script")
            .args(["-qfec", &cmd, "/dev/null"])
            .env("NO_COLOR", value)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(tty("").contains("\x1b[32mapplied"), "empty: colour");
    assert!(!tty("1").contains('\x1b'), "set: no colour");
}

/// The example Kubernetes manifests in docker/k8s name only variables and commands the binary
/// has (as its `--help` lists them).
#[test]
fn kubernetes_examples_name_what_the_binary_has() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/k8s");
    let mut help = String::new();
    for args in [
        &["--help"][..],
        &["up", "--help"][..],
        &["status", "--help"][..],
        &["wait", "--help"][..],
    ] {
        let mut c = bare();
        c.args(args);
        help.push_str(&run(c).1);
    }
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            let ours = word.starts_with("MIGRATE_") || word == "DATABASE_URL";
            if ours {
                seen += 1;
                assert!(
                    help.contains(word),
                    "{}: {word} is in no --help",
                    path.display()
                );
            }
        }
        for line in text
            .lines()
            .filter(|l| l.contains("[\"migrate-entrypoint\""))
        {
            let sub = line.split('"').nth(3).unwrap();
            assert!(
                help.contains(&format!("  {sub} ")) || help.contains(&format!("{sub}\n")),
                "{}: {sub}",
                path.display()
            );
        }
    }
    assert!(seen > 5, "{seen}");
}
