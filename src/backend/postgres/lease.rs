//! `--lock-mode table` for PostgreSQL: a lease row in a small lock table, for servers reached
//! through a transaction-pooling PgBouncer, where a session advisory lock does not hold (the
//! next statement may run on another server connection).
//!
//! Taking, renewing and releasing are single autocommit statements on the simple-query
//! protocol, so they mean the same whichever server connection runs them. The lease expires
//! unless renewed; a second connection renews it while the run lives, so a runner that dies
//! frees it within one lease period.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::{Client, SimpleQueryMessage};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::sql::{self, literal};
use crate::settings::Table;

/// How long a lease lasts without renewal.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often a live run renews it.
const RENEW_EVERY: Duration = Duration::from_secs(10);

/// The lock table beside the tracking table: `schema_migrations_lock`.
pub fn lock_table(table: &Table) -> String {
    sql::table(table, "_lock")
}

/// Creates the lock table when it is missing.
pub fn create(client: &mut Client, lock: &str) -> Result<(), postgres::Error> {
    let ddl = format!(
        "CREATE TABLE IF NOT EXISTS {lock} (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    holder      TEXT NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL
)"
    );
    match client.batch_execute(&ddl) {
        // Two runners creating it at once: the other one won, which is as good. IF NOT EXISTS
        // does not cover that race; which error the loser gets depends on which catalog entry
        // it collides on (the row type's: "type ... already exists", seen in CI).
        Err(e)
            if [
                postgres::error::SqlState::UNIQUE_VIOLATION,
                postgres::error::SqlState::DUPLICATE_TABLE,
                postgres::error::SqlState::DUPLICATE_OBJECT,
            ]
            .iter()
            .any(|c| e.code() == Some(c)) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Takes the lease when it is free or expired; true when this runner holds it now.
pub fn try_take(client: &mut Client, lock: &str, holder: &str) -> Result<bool, postgres::Error> {
    let secs = LEASE.as_secs();
    let h = literal(holder);
    let sql = format!(
        "INSERT INTO {lock} AS l (id, holder, acquired_at, expires_at) \
         VALUES (1, {h}, now(), now() + interval '{secs} seconds') \
         ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, acquired_at = now(), \
         expires_at = EXCLUDED.expires_at WHERE l.expires_at < now() OR l.holder = EXCLUDED.holder \
         RETURNING holder"
    );
    let rows = client.simple_query(&sql)?;
    Ok(rows.iter().any(|m| matches!(m, SimpleQueryMessage::Row(_))))
}

/// Who holds the lease, for the log line while waiting.
pub fn holder(client: &mut Client, lock: &str) -> Option<String> {
    let sql = format!(
        "SELECT holder, extract(epoch FROM now() - acquired_at)::bigint::text, \
         extract(epoch FROM expires_at - now())::bigint::text FROM {lock} WHERE id = 1"
    );
    let rows = client.simple_query(&sql).ok()?;
    rows.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => Some(format!(
            "{} (for {} s, lease ends in {} s)",
            r.get(0)?,
            r.get(1)?,
            r.get(2)?
        )),
        _ => None,
    })
}

/// Gives the lease back (only this runner's).
pub fn release(client: &mut Client, lock: &str, holder: &str) -> Result<(), postgres::Error> {
    client.batch_execute(&format!(
        "DELETE FROM {lock} WHERE id = 1 AND holder = {}",
        literal(holder)
    ))
}

/// A name for this runner: who it is, from where, and a nonce so two are never alike.
pub fn holder_name() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown host".into());
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "migrate-entrypoint pid {} on {host} ({nonce:x})",
        std::process::id()
    )
}

/// Renews the lease from a connection of its own until dropped.
pub struct Renewer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Renewer {
    /// Starts renewing `holder`'s lease every few seconds.
    pub fn start(
        config: postgres::Config,
        tls: MakeRustlsConnect,
        lock: String,
        holder: String,
        database: String,
    ) -> Renewer {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("lease".into())
            .spawn(move || {
                let mut client = match config.connect(tls) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(database = %database, "cannot renew the migration lease ({e}): it ends in {} s", LEASE.as_secs());
                        return;
                    }
                };
                let sql = format!(
                    "UPDATE {lock} SET expires_at = now() + interval '{} seconds' \
                     WHERE id = 1 AND holder = {}",
                    LEASE.as_secs(),
                    literal(&holder)
                );
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(RENEW_EVERY) {
                    if let Err(e) = client.batch_execute(&sql) {
                        tracing::warn!(database = %database, "cannot renew the migration lease: {e}");
                    }
                }
            })
            .ok();
        Renewer {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Renewer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
