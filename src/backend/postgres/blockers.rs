//! Who keeps a migration's statement from its lock: a second connection watches
//! `pg_blocking_pids()` of ours while the statement waits, and names each blocker as the log
//! shows it (its query with string literals left out: a query can hold a secret).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::{Client, SimpleQueryMessage};

/// A watch over one attempt: started before the statement, finished after it.
pub struct Watch {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(Client, Vec<String>)>,
}

impl Watch {
    /// Watches session `pid` through `monitor` until finished.
    pub fn start(mut monitor: Client, pid: i32) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stopped.load(Ordering::SeqCst) {
                if let Some(now) = blockers(&mut monitor, pid).filter(|b| !b.is_empty()) {
                    seen = now;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            (monitor, seen)
        });
        Watch { stop, handle }
    }

    /// Ends the watch: the monitor connection back, and the blockers last seen.
    pub fn finish(self) -> Option<(Client, Vec<String>)> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().ok()
    }
}

/// The sessions `pid` waits for, each as a log names it.
fn blockers(client: &mut Client, pid: i32) -> Option<Vec<String>> {
    let sql = format!(
        "SELECT a.pid::text, coalesce(a.usename, ''), coalesce(a.application_name, ''), \
         coalesce(a.state, ''), coalesce(extract(epoch FROM now() - a.xact_start)::bigint::text, '?'), \
         coalesce(left(a.query, 2000), '') FROM pg_stat_activity a \
         WHERE a.pid = ANY (pg_blocking_pids({pid}))"
    );
    let rows = client.simple_query(&sql).ok()?;
    Some(
        rows.iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(format!(
                    "pid {} (user {}, application_name {:?}, {}, transaction open {} s: {})",
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    shown_query(r.get(5)?)
                )),
                _ => None,
            })
            .collect(),
    )
}

/// The first 100 characters of a query, white space folded, string literals as `'…'`.
pub fn shown_query(query: &str) -> String {
    let mut out = String::new();
    let mut chars = query.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                // To the closing quote; a doubled quote stays inside.
                while let Some(c) = chars.next() {
                    if c == '\'' {
                        if chars.peek() == Some(&'\'') {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
                out.push_str("'…'");
            }
            c if c.is_whitespace() => {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c => out.push(c),
        }
    }
    let out = out.trim();
    match out.char_indices().nth(100) {
        Some((at, _)) => format!("{}…", &out[..at]),
        None => out.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_shown_without_their_literals() {
        assert_eq!(
            shown_query("SELECT * FROM users\n  WHERE password = 's3cret' AND note = 'it''s'"),
            "SELECT * FROM users WHERE password = '…' AND note = '…'"
        );
        let long = format!("SELECT {}", "x, ".repeat(60));
        let shown = shown_query(&long);
        assert_eq!(shown.chars().count(), 101, "{shown}");
        assert!(shown.ends_with('…'));
        assert_eq!(shown_query("SELECT 'unterminated"), "SELECT '…'");
    }
}
