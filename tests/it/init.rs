//! `--init`: CMD runs as a child of migrate-entrypoint, which forwards signals, reaps every
//! child (as a subreaper outside a container) and exits with CMD's code. Against tini's
//! behaviour as the reference; the container side is in `container`.

use nix::sys::signal::Signal;

use crate::common::{Case, Running, bare, run};

/// The binary in init mode, touching no database.
fn init(args: &[&str]) -> std::process::Command {
    let mut c = bare();
    c.args(["--skip", "--init", "--"]).args(args);
    c
}

#[test]
fn exit_codes_pass_through() {
    for (cmd, want) in [
        (&["true"][..], 0),
        (&["sh", "-c", "exit 42"], 42),
        // A real SIGSEGV.
        (
            &["python3", "-c", "import ctypes; ctypes.string_at(0)"],
            139,
        ),
    ] {
        let (code, _, err) = run(init(cmd));
        assert_eq!(code, want, "{cmd:?}: {err}");
    }
    // Without --init nothing changes: CMD replaces the process (same PID).
    let mut c = bare();
    c.args(["--skip", "--", "sh", "-c", "echo $$"]);
    let child = c.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), pid.to_string());
    // With it, CMD is a child: another PID, this process its parent.
    let mut c = init(&["sh", "-c", "echo $$ $PPID"]);
    let child = c.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let ids: Vec<&str> = text.split_whitespace().collect();
    assert_ne!(ids[0], pid.to_string(), "{text}");
    assert_eq!(ids[1], pid.to_string(), "{text}");
}

#[test]
fn signals_are_forwarded_and_the_exit_says_how_cmd_ended() {
    // No handler: SIGTERM ends CMD, and the run exits 143.
    let r = Running::start(init(&["sh", "-c", "echo ready; exec sleep 30"]));
    r.wait_for_stdout_line();
    r.signal(Signal::SIGTERM);
    let (code, _, err) = r.finish();
    assert_eq!(code, 143, "{err}");
    // A handler that exits 0: 0.
    let r = Running::start(init(&[
        "sh",
        "-c",
        "trap 'exit 0' TERM; echo ready; while :; do sleep 0.1; done",
    ]));
    r.wait_for_stdout_line();
    r.signal(Signal::SIGTERM);
    assert_eq!(r.finish().0, 0);
    // WINCH and USR1 reach CMD.
    let r = Running::start(init(&[
        "sh",
        "-c",
        "trap 'echo got WINCH' WINCH; trap 'echo got USR1' USR1; trap 'exit 7' TERM; \
         echo ready; while :; do sleep 0.1; done",
    ]));
    r.wait_for_stdout_line();
    r.signal(Signal::SIGWINCH);
    r.signal(Signal::SIGUSR1);
    r.wait_for_stdout("got USR1");
    r.signal(Signal::SIGTERM);
    let (code, out, err) = r.finish();
    assert_eq!(code, 7, "{err}");
    assert!(
        out.contains("got WINCH") && out.contains("got USR1"),
        "{out}"
    );
}

#[test]
fn init_group_reaches_a_shells_background_job() {
    for group in [false, true] {
        let d = tempfile::tempdir().unwrap();
        let pidfile = d.path().join("bg.pid");
        let mut c = bare();
        c.args(["--skip", "--init"]);
        if group {
            c.arg("--init-group");
        }
        c.args([
            "--",
            "sh",
            "-c",
            &format!(
                "sleep 30 & echo $! > {}; echo ready; wait",
                pidfile.display()
            ),
        ]);
        let r = Running::start(c);
        r.wait_for_stdout_line();
        let bg: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        r.signal(Signal::SIGTERM);
        let (code, _, err) = r.finish();
        assert_eq!(code, 143, "{err}");
        let alive = || {
            std::fs::read_to_string(format!("/proc/{bg}/stat")).is_ok_and(|s| {
                !s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
        };
        if group {
            crate::common::wait_for(10, "the background job to end", || !alive());
        } else {
            assert!(alive(), "without --init-group, only CMD gets the signal");
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(bg), Signal::SIGKILL);
        }
    }
}

#[test]
fn orphans_are_reaped_as_a_subreaper() {
    // Not PID 1 here: the orphan (its parent shell exits at once) is re-parented to
    // migrate-entrypoint, which reaps it when it ends: no zombie is left.
    let d = tempfile::tempdir().unwrap();
    let pidfile = d.path().join("orphan.pid");
    let script = format!(
        "sh -c 'sleep 2 & echo $! > {p}'; o=$(cat {p}); \
         echo parent=$(awk '{{print $4}}' /proc/$o/stat) me=$PPID; \
         sleep 3.5; if [ -e /proc/$o ]; then echo left=$(awk '{{print $3}}' /proc/$o/stat); else echo left=none; fi",
        p = pidfile.display()
    );
    let (code, out, err) = run(init(&["sh", "-c", &script]));
    assert_eq!(code, 0, "{err}");
    let fields: std::collections::HashMap<&str, &str> = out
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .collect();
    assert_eq!(fields["parent"], fields["me"], "re-parented to us: {out}");
    assert_eq!(fields["left"], "none", "reaped, no zombie: {out}");
}

#[test]
fn a_signal_while_migrating_still_ends_the_run_before_cmd() {
    let p = Case::sqlite();
    p.write(
        "1_endless.sql",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;",
    );
    let mut c = p.cmd();
    c.args(["--init", "--", "echo", "cmd ran"]);
    let r = Running::start(c);
    crate::common::wait_for(20, "the migration to hold the lock", || {
        crate::common::sqlite_lock_held(&p.db)
    });
    r.signal(Signal::SIGTERM);
    let (code, out, err) = r.finish();
    assert_eq!((code, out.as_str()), (143, ""), "{err}");
}

#[test]
fn ctrl_c_on_a_terminal_reaches_an_interactive_cmd() {
    // `script` gives the run a terminal; ^C typed there goes to the foreground process
    // group, which is CMD's.
    let cmd = format!(
        "{} --skip --init -- sh -c 'trap \"echo got INT; exit 5\" INT; awk \"{{print (\\$5 == \\$8) ? \\\"foreground\\\" : \\\"background\\\"}}\" /proc/$$/stat; echo ready; while :; do sleep 0.1; done'",
        crate::common::BIN
    );
    let mut s = std::process::Command::new("script");
    s.args(["-qfec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = s.spawn().unwrap();
    // Once CMD says it is ready (its trap is set), type ^C.
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    use std::io::{Read, Write};
    while !String::from_utf8_lossy(&seen).contains("ready") {
        assert_eq!(stdout.read(&mut byte).unwrap(), 1, "output ended: {seen:?}");
        seen.push(byte[0]);
    }
    child.stdin.as_mut().unwrap().write_all(b"\x03").unwrap();
    stdout.read_to_end(&mut seen).unwrap();
    let status = child.wait().unwrap();
    let text = String::from_utf8_lossy(&seen);
    assert!(
        text.contains("foreground"),
        "CMD's group has the terminal: {text}"
    );
    assert!(text.contains("got INT"), "{text}");
    assert_eq!(status.code(), Some(5), "{text}");
}
