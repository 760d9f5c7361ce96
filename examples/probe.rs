//! A test CMD for the container tests: reports, as one JSON object on stdout, what a process
//! started by migrate-entrypoint sees (PID, ids, groups, argv, environment, signal state, open
//! descriptors). `PROBE_MODE` selects other behaviour: `exit:N` exits with N, `cat` copies
//! stdin to stdout, `sleep` waits (for `docker exec` tests), `setuid0` tries to regain root;
//! for init mode: `term0` exits 0 on SIGTERM, `int5` 5 on SIGINT, `segv` dies of a real SIGSEGV, `orphan` leaves
//! an orphan that ends, then reports the zombies left (`nap` is that orphan).

use std::io::{Read, Write};

fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

fn main() {
    let mode = std::env::var("PROBE_MODE").unwrap_or_default();
    if let Some(code) = mode.strip_prefix("exit:") {
        std::process::exit(code.parse().unwrap_or(1));
    }
    match mode.as_str() {
        "segv" => {
            // SAFETY: not safe at all: a real invalid write, which is the point.
            unsafe { std::ptr::null_mut::<u8>().write_volatile(1) };
        }
        "term0" | "int5" => {
            extern "C" fn bye(sig: i32) {
                let code = if sig == nix::libc::SIGINT { 5 } else { 0 };
                // SAFETY: _exit is async-signal-safe.
                unsafe { nix::libc::_exit(code) };
            }
            let sig = if mode == "int5" {
                nix::sys::signal::Signal::SIGINT
            } else {
                nix::sys::signal::Signal::SIGTERM
            };
            // SAFETY: installs a handler that only calls _exit.
            unsafe {
                nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::Handler(bye)).unwrap();
            }
            println!("ready");
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        "nap" => {
            std::thread::sleep(std::time::Duration::from_millis(300));
            return;
        }
        "orphan-parent" => {
            let me = std::env::current_exe().unwrap();
            // Not waited for on purpose: it is to become an orphan.
            #[allow(clippy::zombie_processes)]
            std::process::Command::new(me)
                .env("PROBE_MODE", "nap")
                .spawn()
                .unwrap();
            return;
        }
        "orphan" => {
            let me = std::env::current_exe().unwrap();
            std::process::Command::new(me)
                .env("PROBE_MODE", "orphan-parent")
                .status()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(1500));
            let zombies = std::fs::read_dir("/proc")
                .unwrap()
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
                .filter(|stat| {
                    stat.rsplit(')')
                        .next()
                        .is_some_and(|r| r.trim_start().starts_with('Z'))
                })
                .count();
            println!("{}", serde_json::json!({ "zombies": zombies }));
            return;
        }
        _ => {}
    }
    if mode == "cat" {
        let mut input = Vec::new();
        std::io::stdin().read_to_end(&mut input).unwrap();
        std::io::stdout().write_all(&input).unwrap();
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mut fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    fds.sort();
    // The descriptor read_dir itself holds is not one the process was given.
    fds.pop_if(|fd| *fd > 2 && fds_of_readdir(*fd));
    let setuid0 = if mode == "setuid0" {
        // SAFETY: a plain system call; its result is reported.
        let r = unsafe { nix::libc::setuid(0) };
        Some(r == 0)
    } else {
        None
    };
    let report = serde_json::json!({
        "pid": std::process::id(),
        "uid": status_field(&status, "Uid:"),
        "gid": status_field(&status, "Gid:"),
        "groups": status_field(&status, "Groups:"),
        "sigblk": status_field(&status, "SigBlk:"),
        "sigign": status_field(&status, "SigIgn:"),
        "sigcgt": status_field(&status, "SigCgt:"),
        "fds": fds,
        "args": std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>(),
        "env": std::env::vars_os()
            .map(|(k, v)| (k.to_string_lossy().into_owned(), serde_json::Value::String(v.to_string_lossy().into_owned())))
            .collect::<serde_json::Map<_, _>>(),
        "setuid0": setuid0,
    });
    println!("{report}");
    if mode == "sleep" {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

/// Whether `fd` is the directory handle that listing /proc/self/fd opened (it points at
/// /proc/<pid>/fd and is closed by now).
fn fds_of_readdir(fd: i32) -> bool {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).is_err()
}
