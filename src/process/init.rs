//! `--init`: run CMD as a child and stay PID 1 for it, as tini and dumb-init do: forward the
//! signals this process gets to CMD (or its process group), reap every child that ends
//! (orphans re-parented here included), and exit with CMD's code (128 + n when a signal n
//! killed it).
//!
//! CMD gets what exec would have given it: argv verbatim, the environment, the signal mask and
//! dispositions this process started with, the descriptors it inherited, the user of `--user`;
//! in a process group of its own that is the terminal's foreground group when there is one,
//! so that Ctrl-C reaches it.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, pthread_sigmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::exec::Resolved;
use super::signals;

/// Why CMD could not be started as a child.
#[derive(Debug, thiserror::Error)]
#[error("cannot start {0}: {1}")]
pub struct InitError(pub String, pub std::io::Error);

/// Signals that are a process's own faults, not news to pass on; and the two no one can catch.
const NOT_FORWARDED: [Signal; 9] = [
    Signal::SIGKILL,
    Signal::SIGSTOP,
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGFPE,
    Signal::SIGILL,
    Signal::SIGTRAP,
    Signal::SIGSYS,
    Signal::SIGCHLD,
];

/// Every signal this process waits for: the forwarded ones, and SIGCHLD.
fn waited() -> SigSet {
    let mut set = SigSet::empty();
    for sig in Signal::iterator() {
        if !NOT_FORWARDED.contains(&sig) {
            set.add(sig);
        }
    }
    set.add(Signal::SIGCHLD);
    set
}

/// Starts CMD as a child and serves it until it ends; returns its exit code.
pub fn run(cmd: Resolved, group: bool) -> Result<i32, InitError> {
    let original = signals::original().unwrap_or_else(signals::current);
    // Blocked before the child exists, so that none of them (SIGCHLD above all) is lost;
    // they are taken with sigtimedwait below.
    let set = waited();
    let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    become_subreaper();
    let child = spawn(&cmd, &original).map_err(|e| InitError(cmd.shown(), e))?;
    let pid = Pid::from_raw(child.id() as i32);
    // With --init-group, signals go to CMD's whole process group (a shell's background jobs).
    let to = if group {
        Pid::from_raw(-pid.as_raw())
    } else {
        pid
    };
    // The signal watcher of the migration (if there was one) forwards what it receives too;
    // one it took just before this is passed on now.
    signals::forward_to(to.as_raw());
    if let Some(n) = signals::caught().and_then(|n| Signal::try_from(n).ok()) {
        let _ = kill(to, n);
    }
    tracing::debug!("started {} as pid {pid} (init mode)", cmd.shown());
    loop {
        if let Some(code) = reap(pid) {
            return Ok(code);
        }
        match wait_signal(&set) {
            Some(Signal::SIGCHLD) | None => {}
            Some(sig) => {
                let _ = kill(to, sig);
            }
        }
    }
}

/// Reaps every child that has ended; CMD's exit code once it has.
fn reap(cmd: Pid) -> Option<i32> {
    let mut code = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, c)) if pid == cmd => code = Some(c),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == cmd => code = Some(128 + sig as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => return code,
            // An orphan that ended, or a stop or continue: reaped, or nothing to do.
            Ok(_) => {}
        }
    }
}

/// The next signal, or `None` after a second without one (the loop then reaps again).
fn wait_signal(set: &SigSet) -> Option<Signal> {
    let timeout = nix::libc::timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };
    // SAFETY: a valid signal set and timeout; no siginfo wanted.
    let n = unsafe { nix::libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &timeout) };
    Signal::try_from(n).ok()
}

/// Outside a container (not PID 1), orphans of CMD's are re-parented here, not to the real
/// init, so that they are reaped here too.
fn become_subreaper() {
    if std::process::id() != 1 {
        // SAFETY: prctl with an integer option; it only sets a flag on this process.
        unsafe { nix::libc::prctl(nix::libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    }
}

/// Starts CMD: its own process group, the terminal's foreground group when stdin is this
/// process's terminal in the foreground, then the original signal mask.
fn spawn(cmd: &Resolved, original: &signals::OriginalMask) -> std::io::Result<std::process::Child> {
    let args = cmd.args();
    let mut c = Command::new(cmd.path());
    c.arg0(OsStr::from_bytes(args[0].as_bytes()))
        .args(args[1..].iter().map(|a| OsStr::from_bytes(a.as_bytes())))
        .process_group(0);
    let foreground = terminal_foreground();
    let original = *original;
    // SAFETY: between fork and exec only async-signal-safe calls (sigprocmask, tcsetpgrp,
    // getpid).
    unsafe {
        c.pre_exec(move || {
            if foreground {
                // A background group that takes the terminal is sent SIGTTOU: blocked here.
                let mut ttou = SigSet::empty();
                ttou.add(Signal::SIGTTOU);
                let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&ttou), None);
                nix::libc::tcsetpgrp(0, nix::libc::getpid());
            }
            signals::restore(&original).map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    super::exec::prepare();
    c.spawn()
}

/// Whether stdin is a terminal whose foreground process group is this process's.
fn terminal_foreground() -> bool {
    // SAFETY: plain queries on descriptor 0 and this process.
    unsafe { nix::libc::isatty(0) == 1 && nix::libc::tcgetpgrp(0) == nix::libc::getpgrp() }
}
