//! Running one piece of work per database, up to `jobs` at once, on scoped threads.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Applies `f` to every item, up to `jobs` at once; results come back in the items' order
/// (`None` from `f` leaves that item out). `jobs` 0 means the number of CPUs. With one job, or
/// one item, no thread is started.
pub fn map<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> Option<R> + Sync,
) -> Vec<R> {
    let jobs = match jobs {
        // Asked only here: finding the CPU quota reads cgroup files, a cost a start with one
        // database need not pay.
        0 if items.len() > 1 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let workers = jobs.clamp(1, items.len().max(1));
    if workers == 1 {
        return items.iter().filter_map(&f).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(i) else { break };
                    if let Some(r) = f(item) {
                        results
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((i, r));
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_runs_at_once() {
        let items: Vec<u64> = (0..20).collect();
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let out = map(&items, 4, |&i| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(10));
            running.fetch_sub(1, Ordering::SeqCst);
            (i % 5 != 0).then_some(i * 2)
        });
        let want: Vec<u64> = (0..20).filter(|i| i % 5 != 0).map(|i| i * 2).collect();
        assert_eq!(out, want);
        let peak = peak.load(Ordering::SeqCst);
        assert!(peak > 1 && peak <= 4, "peak {peak}");
        assert_eq!(map(&items, 1, |&i| Some(i)).len(), 20);
        assert!(map(&Vec::<u8>::new(), 8, |_| Some(1)).is_empty());
    }
}
