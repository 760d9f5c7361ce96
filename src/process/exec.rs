//! Replacing this process with the container's CMD: found on PATH before any database is
//! touched, then exec'd with the signal state the process started with, the descriptors it
//! inherited (and none it opened itself), output flushed.

use std::ffi::{CString, OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nix::errno::Errno;
use nix::sys::signal::{SigHandler, Signal, signal};
use nix::unistd::{AccessFlags, access};

use super::signals;

/// execvp's search path when PATH is unset (musl's and glibc's default).
const DEFAULT_PATH: &str = "/usr/local/bin:/bin:/usr/bin";

/// Why CMD cannot be started.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{0}: command not found{1}")]
    NotFound(String, String),
    #[error("{0}: cannot execute: {1}")]
    NotExecutable(String, Errno),
    #[error("{0}: argument contains a NUL byte")]
    Nul(String),
}

/// CMD, found: the file to exec and its argv.
#[derive(Debug)]
pub struct Resolved {
    path: PathBuf,
    args: Vec<CString>,
}

impl Resolved {
    /// The file that runs.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// argv, as given.
    pub fn args(&self) -> &[CString] {
        &self.args
    }

    /// How it is named in messages.
    pub fn shown(&self) -> String {
        self.path.display().to_string()
    }
}

/// Before CMD starts (exec'd or as a child): output flushed, and no descriptor this process
/// opened left for it.
pub fn prepare() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    close_own_fds();
}

/// Finds CMD as execvp will: a name with a `/` as it is, any other through PATH (an entry
/// that is there but not executable is passed over, and reported when nothing else is found).
/// `hint` is added to a not-found message (what the word was likely meant as).
pub fn resolve(cmd: &[OsString], hint: Option<String>) -> Result<Resolved, ExecError> {
    let shown = cmd[0].to_string_lossy().into_owned();
    let args = cmd
        .iter()
        .map(|a| CString::new(a.as_bytes().to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ExecError::Nul(shown.clone()))?;
    let not_found = || {
        let hint = hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default();
        ExecError::NotFound(shown.clone(), hint)
    };
    let name = cmd[0].as_os_str();
    if name.is_empty() {
        return Err(not_found());
    }
    if name.as_bytes().contains(&b'/') {
        return match check(Path::new(name)) {
            Ok(()) => Ok(Resolved {
                path: name.into(),
                args,
            }),
            Err(Errno::ENOENT | Errno::ENOTDIR) => Err(not_found()),
            Err(e) => Err(ExecError::NotExecutable(shown, e)),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    let mut denied = None;
    for dir in std::env::split_paths(&path) {
        let candidate = if dir.as_os_str().is_empty() {
            PathBuf::from(name)
        } else {
            dir.join(name)
        };
        match check(&candidate) {
            Ok(()) => {
                return Ok(Resolved {
                    path: candidate,
                    args,
                });
            }
            Err(e @ Errno::EACCES) => denied = Some(e),
            Err(_) => {}
        }
    }
    match denied {
        Some(e) => Err(ExecError::NotExecutable(shown, e)),
        None => Err(not_found()),
    }
}

/// Whether a program of this name is on PATH (a CMD word that could be ours).
pub fn on_path(name: &OsStr) -> bool {
    resolve(&[name.to_os_string()], None).is_ok()
}

/// Whether `path` is a file this process may execute.
fn check(path: &Path) -> Result<(), Errno> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(nix::libc::ENOENT)))?;
    if meta.is_dir() {
        return Err(Errno::EACCES);
    }
    access(path, AccessFlags::X_OK)
}

/// The descriptors open when the process started (the ones CMD inherits).
static INHERITED: OnceLock<Vec<i32>> = OnceLock::new();

/// Notes the descriptors this process inherited. Call first thing in `main`.
pub fn note_inherited() {
    let _ = INHERITED.set(open_fds().unwrap_or_default());
}

fn open_fds() -> Option<Vec<i32>> {
    let rd = std::fs::read_dir("/proc/self/fd").ok()?;
    Some(
        rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
    )
}

/// Replaces this process with CMD. Returns only on failure.
pub fn exec(cmd: Resolved) -> ExecError {
    let shown = cmd.path.display().to_string();
    let Ok(path) = CString::new(cmd.path.as_os_str().as_bytes().to_vec()) else {
        return ExecError::Nul(shown);
    };
    prepare();
    if let Some(mask) = signals::original() {
        let _ = signals::restore(&mask);
    }
    // Rust's runtime ignores SIGPIPE at start-up; an ignored disposition would survive exec.
    // SAFETY: setting a default disposition installs no handler.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    let err = match nix::unistd::execv(&path, &cmd.args) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    match err {
        Errno::ENOENT | Errno::ENOTDIR => ExecError::NotFound(shown, String::new()),
        e => ExecError::NotExecutable(shown, e),
    }
}

/// Marks every descriptor this process opened (and did not inherit) close-on-exec. What it
/// opened is close-on-exec already (std, SQLite and sockets ask for it); this is the net under
/// any library that does not.
fn close_own_fds() {
    let inherited = INHERITED.get().map(Vec::as_slice).unwrap_or(&[0, 1, 2]);
    for fd in open_fds().unwrap_or_default() {
        if !inherited.contains(&fd) {
            // SAFETY: fcntl on a descriptor number; one that is not open just fails with EBADF.
            unsafe {
                nix::libc::fcntl(fd, nix::libc::F_SETFD, nix::libc::FD_CLOEXEC);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn finds_as_execvp_does() {
        assert!(resolve(&os(&["sh", "-c", "true"]), None).is_ok());
        assert!(resolve(&os(&["/bin/sh"]), None).is_ok());
        let e = resolve(
            &os(&["no-such-program-xyz"]),
            Some("did you mean `migrate-entrypoint status`?".into()),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no-such-program-xyz: command not found (did you mean `migrate-entrypoint status`?)"
        );
        assert!(matches!(
            resolve(&os(&["/no/such/dir/x"]), None),
            Err(ExecError::NotFound(..))
        ));
        let d = tempfile::tempdir().unwrap();
        let plain = d.path().join("plain");
        std::fs::write(&plain, "x").unwrap();
        assert!(matches!(
            resolve(&[plain.into_os_string()], None),
            Err(ExecError::NotExecutable(_, Errno::EACCES))
        ));
        assert!(matches!(
            resolve(&[d.path().as_os_str().to_os_string()], None),
            Err(ExecError::NotExecutable(_, Errno::EACCES))
        ));
        assert!(matches!(
            resolve(&os(&["a\0b"]), None),
            Err(ExecError::Nul(_))
        ));
    }
}
