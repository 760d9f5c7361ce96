//! Waiting with back-off until a deadline, cut short by a signal: for a server that does not
//! answer yet and for another runner's lock.

use std::time::{Duration, Instant};

use crate::process::signals;

/// Pauses that double from `first` up to `max`, never past the deadline.
#[derive(Debug)]
pub struct Backoff {
    deadline: Instant,
    pause: Duration,
    max: Duration,
}

/// A signal asked to stop while waiting.
#[derive(Debug)]
pub struct Stopped;

impl Backoff {
    /// Waits of `first`, doubling up to `max`, for at most `timeout` from now.
    pub fn new(timeout: Duration, first: Duration, max: Duration) -> Backoff {
        Backoff {
            deadline: Instant::now() + timeout,
            pause: first,
            max,
        }
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The next pause (at most what is left).
    pub fn next_pause(&self) -> Duration {
        self.pause.min(self.remaining())
    }

    /// Sleeps the next pause in short steps, returning early when a signal asks to stop.
    pub fn sleep(&mut self) -> Result<(), Stopped> {
        self.sleep_for(self.next_pause())
    }

    /// As `sleep`, but a random half to whole of the next pause: runners retrying against
    /// the same lock do not come back in step.
    pub fn sleep_jittered(&mut self) -> Result<(), Stopped> {
        use std::hash::{BuildHasher, Hasher};
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let share = 0.5 + (random % 1000) as f64 / 2000.0;
        self.sleep_for(self.next_pause().mul_f64(share))
    }

    fn sleep_for(&mut self, pause: Duration) -> Result<(), Stopped> {
        let until = Instant::now() + pause;
        self.pause = (self.pause * 2).min(self.max);
        loop {
            if signals::caught().is_some() {
                return Err(Stopped);
            }
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            std::thread::sleep((until - now).min(Duration::from_millis(50)));
        }
    }
}
