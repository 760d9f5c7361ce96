//! Script migrations: an executable file run as a process, in its own folder, with the
//! database in its environment, its output logged line by line, killed (with everything it
//! started) after `--script-timeout`, and sent SIGTERM when this process is.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::signals;
use crate::source::Dialect;

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
    let mut child = command(&path, name, env)
        .spawn()
        .map_err(|e| fail(format!("cannot start {}: {e}", path.display()), false))?;
    let pgid = Pid::from_raw(child.id() as i32);
    let _forward = signals::on_cancel(move || {
        let _ = killpg(pgid, Signal::SIGTERM);
    });
    let readers = read_output(&mut child, database, name);
    let status = wait(&mut child, pgid, started + timeout, timeout);
    // Whatever it started and left behind goes with it; then its output ends.
    let _ = killpg(pgid, Signal::SIGKILL);
    let tail: Vec<String> = readers
        .into_iter()
        .flat_map(|r| r.join().unwrap_or_default())
        .collect();
    let cancelled = signals::caught().is_some();
    match status {
        Ok(s) if s.success() && !cancelled => Ok(started.elapsed()),
        Ok(s) => Err(fail(describe(s, &tail), cancelled)),
        Err(why) => Err(fail(why, cancelled)),
    }
}

/// The process: in its folder, the database in its environment, in its own process group (so
/// a timeout or a signal reaches what it started too), with the signal mask this process
/// started with.
fn command(path: &Path, name: &str, env: &ScriptEnv) -> Command {
    let folder = path.parent().unwrap_or(Path::new("/"));
    let mut cmd = Command::new(path);
    cmd.current_dir(folder)
        .env("DATABASE_URL", &env.database_url)
        .env("MIGRATION_NAME", name)
        .env("MIGRATE_DIALECT", env.dialect.as_str())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
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
    cmd
}

/// Logs each stream line by line, each on its own thread (so that neither fills its pipe and
/// stalls); each thread ends with the stream's last lines.
fn read_output(child: &mut Child, database: &str, name: &str) -> Vec<JoinHandle<Vec<String>>> {
    let streams: [Option<Box<dyn Read + Send>>; 2] = [
        child.stdout.take().map(|s| Box::new(s) as _),
        child.stderr.take().map(|s| Box::new(s) as _),
    ];
    streams
        .into_iter()
        .flatten()
        .map(|stream| {
            let (database, name) = (database.to_string(), name.to_string());
            std::thread::spawn(move || {
                let mut tail: Vec<String> = Vec::new();
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    tracing::info!(database = %database, migration = %name, "{name}: {line}");
                    tail.push(line);
                    if tail.len() > TAIL {
                        tail.remove(0);
                    }
                }
                tail
            })
        })
        .collect()
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
