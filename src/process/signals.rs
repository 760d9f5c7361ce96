//! SIGTERM, SIGINT and SIGQUIT while migrating: turned into a cancellation that the runner and
//! the backends observe, never an exit from inside a library call.
//!
//! The signals are blocked in the main thread before any other thread exists (so every thread
//! inherits the block) and received by one watcher thread with `sigwait`. Dispositions are never
//! changed, so nothing of them needs undoing before exec; the mask is restored by `restore`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};

static CAUGHT: AtomicI32 = AtomicI32::new(0);
/// Init mode: where the watcher passes the signals it receives on (a pid, or minus a process
/// group), once CMD runs; 0 until then.
static FORWARD: AtomicI32 = AtomicI32::new(0);
static ORIGINAL: std::sync::OnceLock<OriginalMask> = std::sync::OnceLock::new();
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
type Canceller = Box<dyn Fn() + Send>;
static CANCELLERS: Mutex<Vec<(u64, Canceller)>> = Mutex::new(Vec::new());

fn handled() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set.add(Signal::SIGQUIT);
    set
}

/// The signal mask the process started with, to be restored before exec.
#[derive(Debug, Clone, Copy)]
pub struct OriginalMask(SigSet);

/// Starts watching. Call from the main thread before any other thread is started.
pub fn install() -> Result<(), nix::Error> {
    let set = handled();
    let mut old = SigSet::empty();
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))?;
    let _ = ORIGINAL.set(OriginalMask(old));
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || watch(set))
        .map_err(|_| nix::Error::EAGAIN)?;
    Ok(())
}

fn watch(set: SigSet) {
    loop {
        let Ok(sig) = set.wait() else { continue };
        let n = sig as i32;
        let to = FORWARD.load(Ordering::SeqCst);
        if to != 0 {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(to), sig);
            continue;
        }
        if CAUGHT
            .compare_exchange(0, n, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            // A second signal: the user insists. The database rolls back what is open.
            tracing::error!(signal = %sig, "{sig} again: exiting now");
            // SAFETY: _exit ends the process at once; nothing is left to run.
            unsafe { nix::libc::_exit(128 + n) };
        }
        tracing::warn!(signal = %sig, "{sig}: stopping, cancelling the statement in flight");
        let list = CANCELLERS.lock().unwrap_or_else(|p| p.into_inner());
        for (_, cancel) in list.iter() {
            cancel();
        }
    }
}

/// From now on, pass the signals the watcher receives on to `to` (init mode: CMD's pid, or
/// minus its process group).
pub fn forward_to(to: i32) {
    FORWARD.store(to, Ordering::SeqCst);
}

/// This thread's signal mask now (the original one when `install` never ran).
pub fn current() -> OriginalMask {
    let mut set = SigSet::empty();
    let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, None, Some(&mut set));
    OriginalMask(set)
}

/// The mask the process started with, once `install` has run (for exec and child processes).
pub fn original() -> Option<OriginalMask> {
    ORIGINAL.get().copied()
}

/// The signal that asked to stop, if one did.
pub fn caught() -> Option<i32> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => None,
        n => Some(n),
    }
}

/// Keeps a cancel action registered until dropped.
pub struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        let mut list = CANCELLERS.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|(id, _)| *id != self.0);
    }
}

/// Registers an action that cancels work in flight (an interrupt handle, a cancel token).
/// When a signal already came, it runs at once.
pub fn on_cancel(f: impl Fn() + Send + 'static) -> Registration {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut list = CANCELLERS.lock().unwrap_or_else(|p| p.into_inner());
    if caught().is_some() {
        f();
    }
    list.push((id, Box::new(f)));
    Registration(id)
}

/// Restores the calling thread's signal mask to what the process started with.
pub fn restore(mask: &OriginalMask) -> Result<(), nix::Error> {
    pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&mask.0), None)
}
