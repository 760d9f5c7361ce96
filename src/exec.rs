//! Replacing this process with the container's CMD: the signal state the process started with
//! restored, no descriptor but 0, 1 and 2 passed on, output flushed, then execvp.

use std::ffi::{CString, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::sys::signal::{SigHandler, Signal, signal};

use crate::signals::{self, OriginalMask};

/// Why CMD could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{0}: command not found")]
    NotFound(String),
    #[error("{0}: cannot execute: {1}")]
    NotExecutable(String, Errno),
    #[error("{0}: argument contains a NUL byte")]
    Nul(String),
}

impl ExecError {
    /// 127 for not found, 126 for found but not executable (as shells do).
    pub fn exit_code(&self) -> i32 {
        match self {
            ExecError::NotFound(_) => 127,
            ExecError::NotExecutable(..) | ExecError::Nul(_) => 126,
        }
    }
}

/// Replaces this process with `cmd` (searched in PATH). Returns only on failure.
pub fn exec(cmd: &[OsString], mask: Option<&OriginalMask>) -> ExecError {
    let shown = cmd[0].to_string_lossy().into_owned();
    let args: Result<Vec<CString>, _> = cmd
        .iter()
        .map(|a| CString::new(a.as_bytes().to_vec()))
        .collect();
    let Ok(args) = args else {
        return ExecError::Nul(shown);
    };
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    if let Some(mask) = mask {
        let _ = signals::restore(mask);
    }
    // Rust's runtime ignores SIGPIPE at start-up; an ignored disposition would survive exec.
    // SAFETY: setting a default disposition installs no handler.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    close_inherited_fds();
    let err = match nix::unistd::execvp(&args[0], &args) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    match err {
        Errno::ENOENT | Errno::ENOTDIR => ExecError::NotFound(shown),
        e => ExecError::NotExecutable(shown, e),
    }
}

/// Marks every descriptor above 2 close-on-exec, so CMD inherits only stdin, stdout, stderr.
fn close_inherited_fds() {
    let fds: Vec<i32> = match std::fs::read_dir("/proc/self/fd") {
        Ok(rd) => rd
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&fd| fd > 2)
            .collect(),
        // Without /proc, fall back to a fixed range.
        Err(_) => (3..1024).collect(),
    };
    for fd in fds {
        // SAFETY: fcntl on a descriptor number; one that is not open just fails with EBADF.
        unsafe {
            nix::libc::fcntl(fd, nix::libc::F_SETFD, nix::libc::FD_CLOEXEC);
        }
    }
}
