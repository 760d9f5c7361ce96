//! Script migrations: a file with a `#!` line run as a process (itself when executable, else
//! through the interpreter its `#!` line names), in its own folder, with the database in its
//! environment, its output logged line by line as it is written, killed (with everything it
//! started) after `--script-timeout`, and sent SIGTERM when this process is.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::signals;
use crate::source::{Dialect, Script};

/// What the script is told about the database, through its environment.
#[derive(Clone)]
pub struct ScriptEnv {
    /// The database's URL, password included: in the environment, never on a command line.
    pub database_url: String,
    pub dialect: Dialect,
    /// For SQLite, the file's path.
    pub sqlite_path: Option<PathBuf>,
}

/// Why a script did not succeed.
#[derive(Debug)]
pub struct ScriptFailure {
    pub message: String,
    pub elapsed: Duration,
    /// Stopped because this process got a signal.
    pub cancelled: bool,
}

/// How many of the last output lines go into a failure's message.
const TAIL: usize = 5;

/// Runs the script at `path` for migration `name` of `database` (as printed in logs).
pub fn run(
    path: &Path,
    how: Script,
    name: &str,
    env: &ScriptEnv,
    database: &str,
    timeout: Duration,
) -> Result<Duration, ScriptFailure> {
    let started = Instant::now();
    let fail = |message: String, cancelled: bool| ScriptFailure {
        message,
        elapsed: started.elapsed(),
        cancelled,
    };
    // Started by its absolute path: it runs in its own folder.
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let (mut cmd, output) = command(&path, how, name, env).map_err(|why| fail(why, false))?;
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(cannot_start(&path, &e), false))?;
    // Our copies of the pipe's writing end go, so that its end is the script's.
    drop(cmd);
    let pgid = Pid::from_raw(child.id() as i32);
    let _forward = signals::on_cancel(move || {
        let _ = killpg(pgid, Signal::SIGTERM);
    });
    let log = Log {
        database: database.to_string(),
        name: name.to_string(),
    };
    let reader = output.map(|out| {
        let log = log.clone();
        std::thread::spawn(move || read_output(out, &log))
    });
    let status = wait(&mut child, pgid, started + timeout, timeout);
    // Whatever it started and left behind goes with it; then its output ends.
    let _ = killpg(pgid, Signal::SIGKILL);
    let output = reader.and_then(|r| r.join().ok()).unwrap_or_default();
    let cancelled = signals::caught().is_some();
    let succeeded = matches!(&status, Ok(s) if s.success()) && !cancelled;
    match status {
        _ if succeeded => Ok(started.elapsed()),
        Ok(s) => Err(fail(describe(s, &output.tail), cancelled)),
        Err(why) => Err(fail(why, cancelled)),
    }
}

/// Why the script could not be started: for a missing file named by its `#!` line, that
/// interpreter, not the script.
fn cannot_start(path: &Path, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound
        && let Some(problem) = crate::source::shebang::problem(path)
    {
        return format!("cannot start {}: {problem}", path.display());
    }
    format!("cannot start {}: {e}", path.display())
}

/// Where a script's lines are logged: with its database and name.
#[derive(Clone, Default)]
struct Log {
    database: String,
    name: String,
}

impl Log {
    fn line(&self, line: &str) {
        let (database, name) = (&self.database, &self.name);
        tracing::info!(database = %database, migration = %name, "{name}: {line}");
    }
}

/// What the output left to its caller: the last lines, for the failure's message.
#[derive(Default)]
struct Output {
    tail: Vec<String>,
}

/// Reads the script's output (stdout and stderr share one pipe, so lines come in the order
/// they were written) and logs each line as soon as it is whole, so that its timestamp is the
/// time it was written.
fn read_output(mut out: std::fs::File, log: &Log) -> Output {
    let mut o = Output::default();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = match out.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => 0,
        };
        buf.extend_from_slice(&chunk[..n]);
        for line in take_lines(&mut buf, n == 0) {
            remember(&mut o.tail, &line);
            log.line(&line);
        }
        if n == 0 {
            return o;
        }
    }
}

/// The whole lines in `buf` (and, at the end of the stream, what is left), taken out of it.
fn take_lines(buf: &mut Vec<u8>, end: bool) -> Vec<String> {
    let mut lines = Vec::new();
    while let Some(i) = buf.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = buf.drain(..=i).collect();
        lines.push(
            String::from_utf8_lossy(&line[..i])
                .trim_end_matches('\r')
                .to_string(),
        );
    }
    if end && !buf.is_empty() {
        lines.push(String::from_utf8_lossy(buf).into_owned());
        buf.clear();
    }
    lines
}

fn remember(tail: &mut Vec<String>, line: &str) {
    tail.push(line.to_string());
    if tail.len() > TAIL {
        tail.remove(0);
    }
}

/// The process: in its folder, the database in its environment, in its own process group (so
/// a timeout or a signal reaches what it started too), with the signal mask this process
/// started with. Its stdout and stderr are one pipe (returned: its reading end). Python writes
/// its output unbuffered, so that it is logged as it comes.
fn command(
    path: &Path,
    how: Script,
    name: &str,
    env: &ScriptEnv,
) -> Result<(Command, Option<std::fs::File>), String> {
    let folder = path.parent().unwrap_or(Path::new("/"));
    let mut cmd = match how {
        Script::Executable => Command::new(path),
        Script::Interpreted => interpreted(path, name)?,
    };
    cmd.current_dir(folder)
        .env("DATABASE_URL", &env.database_url)
        .env("MIGRATION_NAME", name)
        .env("MIGRATE_DIALECT", env.dialect.as_str())
        .stdin(Stdio::null())
        .process_group(0);
    let pipe = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ok();
    let reader = match pipe {
        Some((read, write)) => {
            if let Ok(also) = write.try_clone() {
                cmd.stderr(Stdio::from(also));
            }
            cmd.stdout(Stdio::from(write));
            Some(std::fs::File::from(read))
        }
        None => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
            None
        }
    };
    if std::env::var_os("PYTHONUNBUFFERED").is_none() {
        cmd.env("PYTHONUNBUFFERED", "1");
    }
    if let Some(p) = &env.sqlite_path {
        cmd.env("SQLITE_PATH", p);
    }
    if let Some(mask) = signals::original() {
        // SAFETY: only sets the signal mask (async-signal-safe) between fork and exec, so the
        // script does not inherit the signals this process blocks for its watcher thread.
        unsafe {
            cmd.pre_exec(move || {
                signals::restore(&mask).map_err(std::io::Error::from)?;
                Ok(())
            });
        }
    }
    Ok((cmd, reader))
}

/// A script that is not executable, run as the kernel would run it if it were: its `#!`
/// line's interpreter, that line's argument, then the script's path.
fn interpreted(path: &Path, name: &str) -> Result<Command, String> {
    let mut head = [0u8; 512];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let Some(line) = crate::source::shebang::parse(&head[..n]) else {
        return Err(format!("{} has no #! line", path.display()));
    };
    tracing::warn!(
        migration = name,
        "{name} is not executable: run through {} as its #! line says (chmod +x it to say so)",
        line.interpreter
    );
    let mut cmd = Command::new(&line.interpreter);
    cmd.args(line.arg).arg(path);
    Ok(cmd)
}

/// Waits for the script to end, killing it with its group at the deadline.
fn wait(
    child: &mut Child,
    pgid: Pid,
    deadline: Instant,
    timeout: Duration,
) -> Result<ExitStatus, String> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = killpg(pgid, Signal::SIGKILL);
                let _ = child.wait();
                return Err(format!(
                    "timed out after --script-timeout {}: killed with its process group",
                    humantime::format_duration(timeout)
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("cannot wait for the script: {e}")),
        }
    }
}

/// How a script that did not succeed ended, with its last lines of output.
fn describe(status: ExitStatus, tail: &[String]) -> String {
    let how = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "ended abnormally".to_string(),
    };
    let how = match signals::caught() {
        Some(n) => format!("stopped by signal {n} sent to this runner ({how})"),
        None => how,
    };
    if tail.is_empty() {
        how
    } else {
        format!("{how}; last output: {}", tail.join(" | "))
    }
}
