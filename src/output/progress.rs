//! The progress line: on a terminal, when a run takes more than a second, one line on stderr
//! (databases done / total, the migration in flight), redrawn in place and gone when done.
//! Log lines clear it before they are written (through `Stderr`); it is redrawn on the next
//! tick. It learns what happens from the run's events.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::commands::Event;

struct State {
    total: usize,
    done: usize,
    current: Option<(String, String)>,
}

static STATE: Mutex<State> = Mutex::new(State {
    total: 0,
    done: 0,
    current: None,
});
static SHOWN: AtomicBool = AtomicBool::new(false);

/// After this long without finishing, the line appears.
const DELAY: Duration = Duration::from_secs(1);
const TICK: Duration = Duration::from_millis(200);

/// Keeps the progress line going until dropped.
pub struct Progress {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the progress line for `total` databases.
pub fn start(total: usize) -> Progress {
    {
        let mut s = STATE.lock().unwrap_or_else(|p| p.into_inner());
        s.total = total;
        s.done = 0;
        s.current = None;
    }
    let (stop, stopped) = mpsc::channel::<()>();
    let started = Instant::now();
    let thread = std::thread::Builder::new()
        .name("progress".into())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                if started.elapsed() >= DELAY {
                    draw();
                }
            }
        })
        .ok();
    Progress {
        stop: Some(stop),
        thread,
    }
}

fn draw() {
    let line = {
        let s = STATE.lock().unwrap_or_else(|p| p.into_inner());
        let mut line = format!("migrating: {}/{} databases done", s.done, s.total);
        if let Some((db, m)) = &s.current {
            line.push_str(&format!("; {m} on {db}"));
        }
        line.chars().take(100).collect::<String>()
    };
    let mut err = std::io::stderr().lock();
    // One write: the line never interleaves with a log line.
    let _ = err.write_all(format!("\r\x1b[K{line}").as_bytes());
    let _ = err.flush();
    SHOWN.store(true, Ordering::SeqCst);
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if SHOWN.swap(false, Ordering::SeqCst) {
            let _ = std::io::stderr().write_all(b"\r\x1b[K");
        }
    }
}

impl Progress {
    /// Takes in what the run says it is doing.
    pub fn event(&self, event: &Event) {
        let mut s = STATE.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            Event::MigrationStarted { database, name } => {
                s.current = Some((database.to_string(), name.to_string()));
            }
            Event::DatabaseDone => s.done += 1,
        }
    }
}

/// stderr for the log: a write first clears the progress line when one is on screen.
pub struct Stderr;

/// One writer per log line.
pub struct StderrLine;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = StderrLine;

    fn make_writer(&'a self) -> StderrLine {
        StderrLine
    }
}

impl Write for StderrLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut err = std::io::stderr().lock();
        if SHOWN.swap(false, Ordering::SeqCst) {
            err.write_all(b"\r\x1b[K")?;
        }
        err.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
