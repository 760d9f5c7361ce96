//! The progress line: on a terminal, when a run takes more than a second, one line on stderr
//! (databases done / total, the migration in flight), redrawn in place and gone when done.
//! Log lines clear it before they are written; it is redrawn on the next tick.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
static ENABLED: AtomicBool = AtomicBool::new(false);
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
    ENABLED.store(true, Ordering::SeqCst);
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
        ENABLED.store(false, Ordering::SeqCst);
        if SHOWN.swap(false, Ordering::SeqCst) {
            let _ = std::io::stderr().write_all(b"\r\x1b[K");
        }
    }
}

/// A migration of `database` starts.
pub fn migration_started(database: &str, name: &str) {
    if ENABLED.load(Ordering::Relaxed) {
        let mut s = STATE.lock().unwrap_or_else(|p| p.into_inner());
        s.current = Some((database.to_string(), name.to_string()));
    }
}

/// One more database is done.
pub fn database_done() {
    if ENABLED.load(Ordering::Relaxed) {
        let mut s = STATE.lock().unwrap_or_else(|p| p.into_inner());
        s.done += 1;
    }
}

/// Whether a progress line is on screen (and so must be cleared before a log line); it is
/// considered cleared from then on.
pub fn take_shown() -> bool {
    SHOWN.swap(false, Ordering::SeqCst)
}
