//! The PostgreSQL backend (the `postgres` crate, TLS by rustls).
//!
//! Connecting waits for a server that is not up yet; the runner lock is a session-level
//! advisory lock whose key comes from the database and the tracking table's name; a statement
//! in flight is cancelled through the cancel token when a signal comes.

use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::{Client, SimpleQueryMessage};
use sha2::{Digest, Sha256};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{
    Backend, BackendError, Failure, NewRecord, OpenOptions, foreign_table, pg_lease, pg_tls,
};
use crate::pgurl::{self, PgUrl};
use crate::plan::Record;
use crate::settings::{LockMode, Table};
use crate::signals;
use crate::source::Dialect;
use crate::target::redact;

/// One PostgreSQL database.
pub struct Postgres {
    client: Client,
    /// Kept to open the lease renewer's connection in `table` lock mode.
    config: postgres::Config,
    lock_mode: LockMode,
    /// This runner's lease, while it holds one.
    lease: Option<(String, pg_lease::Renewer)>,
    tls: MakeRustlsConnect,
    shown: String,
    table: Table,
    lock_key: i64,
    locked: bool,
    session_ready: bool,
    /// An older table's `id` without a default: rows are numbered by us (under the lock).
    explicit_id: bool,
}

impl Postgres {
    /// Connects, retrying a server that is not up yet until `opts.wait` has passed.
    pub fn open(url: &str, opts: &OpenOptions) -> Result<Postgres, BackendError> {
        let shown = redact(url);
        let pg: PgUrl = pgurl::parse(url).map_err(|e| BackendError::Failed(e.why))?;
        let tls =
            pg_tls::connector(pg.tls, pg.root_cert.as_deref()).map_err(BackendError::Failed)?;
        let mut config = pg.config.clone();
        // The server should notice a dead client, and we a dead server, in seconds, not hours.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3);
        let notice_db = shown.clone();
        config.notice_callback(move |n| {
            tracing::debug!(database = %notice_db, "notice: {}", n.message());
        });
        let client = connect(&config, &tls, &shown, opts.wait)?;
        let lock_key = lock_key(&pg.dbname, &opts.table);
        Ok(Postgres {
            client,
            config,
            lock_mode: opts.lock_mode,
            lease: None,
            tls,
            shown,
            table: opts.table.clone(),
            lock_key,
            locked: false,
            session_ready: false,
            explicit_id: false,
        })
    }

    fn quoted_table(&self) -> String {
        quote(&self.table)
    }

    fn fail(&self, what: &str, e: &postgres::Error) -> BackendError {
        BackendError::Failed(format!("{what}: {}", message(e, "")))
    }

    /// The tracking table's columns (empty when it does not exist).
    fn columns(&mut self) -> Result<Vec<String>, BackendError> {
        let sql = format!(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass({}) \
             AND attnum > 0 AND NOT attisdropped",
            literal(&self.quoted_table())
        );
        let rows = self
            .client
            .simple_query(&sql)
            .map_err(|e| self.fail("cannot read the schema", &e))?;
        Ok(rows
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            })
            .collect())
    }

    /// Settings for a session that is about to change things (not needed on the no-op path).
    fn prepare_session(&mut self) {
        if self.session_ready {
            return;
        }
        self.session_ready = true;
        // PostgreSQL 14 and later check a client's socket while a statement runs, so a runner
        // killed in the middle of a long migration does not keep its lock and statement alive.
        let version = self
            .client
            .simple_query("SHOW server_version_num")
            .ok()
            .and_then(|m| first_value(&m))
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0);
        if version >= 140000 {
            let _ = self
                .client
                .batch_execute("SET client_connection_check_interval = '2s'");
        }
    }

    /// Whether the table's `id` fills itself (a default, a serial or an identity column).
    fn id_has_default(&mut self, quoted: &str) -> bool {
        let sql = format!(
            "SELECT (a.atthasdef OR a.attidentity <> '')::text FROM pg_attribute a \
             WHERE a.attrelid = to_regclass({}) AND a.attname = 'id'",
            literal(quoted)
        );
        let v = self
            .client
            .simple_query(&sql)
            .ok()
            .and_then(|m| first_value(&m));
        v.as_deref() != Some("false")
    }

    /// Who holds the lock, for the log line while waiting.
    fn lock_holder(&mut self) -> Option<String> {
        let k = self.lock_key;
        let sql = format!(
            "SELECT a.pid::text, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local socket'), \
             coalesce(a.state, ''), coalesce(extract(epoch FROM now() - a.query_start)::bigint::text, '?'), \
             coalesce(left(regexp_replace(a.query, '\\s+', ' ', 'g'), 120), '') \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.database = \
             (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND l.classid = (({k}::bigint >> 32) & 4294967295)::oid \
             AND l.objid = ({k}::bigint & 4294967295)::oid AND l.objsubid = 1"
        );
        let rows = self.client.simple_query(&sql).ok()?;
        rows.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(format!(
                "pid {} ({}, from {}, {} for {} s: {})",
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?
            )),
            _ => None,
        })
    }
}

/// `"schema"."table"` or `"table"` (the names are validated identifiers).
fn quote(t: &Table) -> String {
    match &t.schema {
        Some(s) => format!("\"{s}\".\"{}\"", t.name),
        None => format!("\"{}\"", t.name),
    }
}

/// A SQL string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn first_value(messages: &[SimpleQueryMessage]) -> Option<String> {
    messages.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    })
}

/// The advisory lock key: from the database's name and the tracking table's, so runners of
/// the same table serialize and other tables (other apps in one database) do not.
fn lock_key(dbname: &str, table: &Table) -> i64 {
    let digest = Sha256::digest(format!("migrate-entrypoint\0{dbname}\0{}", table.display()));
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// Whether a connection error means "not up yet" (retried) rather than "wrong" (not retried).
fn is_transient(e: &postgres::Error) -> bool {
    if let Some(code) = e.code() {
        return [
            SqlState::CANNOT_CONNECT_NOW,   // the database system is starting up
            SqlState::ADMIN_SHUTDOWN,       // a restart in progress
            SqlState::TOO_MANY_CONNECTIONS, // full for now
        ]
        .contains(code);
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionRefused
                    | ConnectionReset
                    | ConnectionAborted
                    | NotConnected
                    | TimedOut
                    | AddrNotAvailable
                    | HostUnreachable
                    | NetworkUnreachable
                    | UnexpectedEof
                    | BrokenPipe
                    | NotFound
            ) {
                return true;
            }
            // A name that does not resolve yet (a compose service still starting).
            let text = io.to_string();
            return text.contains("lookup address")
                || text.contains("Name or service not known")
                || text.contains("Temporary failure in name resolution")
                || text.contains("No address associated");
        }
        source = s.source();
    }
    e.is_closed()
}

/// Connects, retrying transient failures with backoff until `wait` has passed.
fn connect(
    config: &postgres::Config,
    tls: &MakeRustlsConnect,
    shown: &str,
    wait: Duration,
) -> Result<Client, BackendError> {
    let started = Instant::now();
    let deadline = started + wait;
    let mut pause = Duration::from_millis(100);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let mut cfg = config.clone();
        let left = deadline.saturating_duration_since(Instant::now());
        cfg.connect_timeout(left.clamp(Duration::from_secs(1), Duration::from_secs(10)));
        let err = match cfg.connect(tls.clone()) {
            Ok(client) => {
                if attempts > 1 {
                    tracing::info!(
                        database = shown,
                        "connected after {attempts} attempts in {} ms",
                        started.elapsed().as_millis()
                    );
                }
                return Ok(client);
            }
            Err(e) => e,
        };
        let why = message(&err, "");
        if !is_transient(&err) {
            return Err(BackendError::Failed(why));
        }
        if signals::caught().is_some() {
            return Err(BackendError::Cancelled);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(BackendError::Unreachable(format!(
                "not reachable within --wait {} ({attempts} attempts): {why}",
                humantime::format_duration(wait)
            )));
        }
        // The last try comes at the deadline itself.
        let pause_now = pause.min(deadline - now);
        tracing::info!(
            database = shown,
            "database not ready ({why}); retrying in {} ms",
            pause_now.as_millis()
        );
        sleep_unless_signalled(pause_now);
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// Sleeps in short steps, returning early when a signal asks to stop.
fn sleep_unless_signalled(d: Duration) {
    let until = Instant::now() + d;
    while signals::caught().is_none() {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

/// The server's message (with its SQLSTATE and, for a statement in `sql`, the line), or the
/// client's.
fn message(e: &postgres::Error, sql: &str) -> String {
    let Some(db) = e.as_db_error() else {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            let more = s.to_string();
            if !text.contains(&more) {
                text = format!("{text}: {more}");
            }
            source = s.source();
        }
        return text;
    };
    let mut text = format!("{} ({})", db.message(), db.code().code());
    if let Some(postgres::error::ErrorPosition::Original(pos)) = db.position() {
        let before: String = sql
            .chars()
            .take((*pos as usize).saturating_sub(1))
            .collect();
        text.push_str(&format!(" at line {}", before.matches('\n').count() + 1));
    }
    if let Some(detail) = db.detail() {
        text.push_str(&format!("; {detail}"));
    }
    if let Some(hint) = db.hint() {
        text.push_str(&format!("; hint: {hint}"));
    }
    text
}

fn json_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Older tables kept booleans in other types; NULL counts as the default (true).
fn json_truth(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::Number(n) => n.as_f64() != Some(0.0),
        serde_json::Value::String(s) => !matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "0" | "f" | "false" | "no" | "off"
        ),
        _ => true,
    }
}

impl Backend for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn read_records(&mut self) -> Result<Option<Vec<Record>>, BackendError> {
        // One round trip on the common path: every column of every row, whatever the shape.
        let sql = format!("SELECT to_jsonb(t)::text FROM {} t", self.quoted_table());
        let messages = match self.client.simple_query(&sql) {
            Ok(m) => m,
            Err(e)
                if e.code() == Some(&SqlState::UNDEFINED_TABLE)
                    || e.code() == Some(&SqlState::INVALID_SCHEMA_NAME) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(self.fail("cannot read the tracking table", &e)),
        };
        let mut rows: Vec<(i64, Record)> = Vec::new();
        for m in &messages {
            let SimpleQueryMessage::Row(r) = m else {
                continue;
            };
            let Some(text) = r.get(0) else { continue };
            let v: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| BackendError::Failed(format!("unreadable tracking row: {e}")))?;
            let Some(name) = v.get("migration_name") else {
                return Err(foreign_table(&self.table));
            };
            let get = |k: &str| v.get(k).unwrap_or(&serde_json::Value::Null);
            rows.push((
                get("id").as_i64().unwrap_or(i64::MAX),
                Record {
                    name: json_text(name).unwrap_or_default(),
                    applied_at: json_text(get("applied_at")),
                    description: json_text(get("description")),
                    checksum: json_text(get("checksum")),
                    success: json_truth(get("success")),
                    error_message: json_text(get("error_message")),
                    execution_time_ms: get("execution_time_ms").as_i64(),
                },
            ));
        }
        if rows.is_empty() && !self.columns()?.iter().any(|c| c == "migration_name") {
            return Err(foreign_table(&self.table));
        }
        rows.sort_by_key(|(id, _)| *id);
        Ok(Some(rows.into_iter().map(|(_, r)| r).collect()))
    }

    fn lock(&mut self, timeout: Duration) -> Result<(), BackendError> {
        self.prepare_session();
        let lease_table = pg_lease::lock_table(&self.table);
        let holder_name = pg_lease::holder_name();
        if self.lock_mode == LockMode::Table {
            pg_lease::create(&mut self.client, &lease_table)
                .map_err(|e| self.fail("cannot create the lock table", &e))?;
        }
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(20);
        let mut next_note = Instant::now() + Duration::from_secs(3);
        let advisory = format!("SELECT pg_try_advisory_lock({})", self.lock_key);
        loop {
            let got = match self.lock_mode {
                LockMode::Advisory => self
                    .client
                    .simple_query(&advisory)
                    .map(|m| first_value(&m).as_deref() == Some("t")),
                LockMode::Table => pg_lease::try_take(&mut self.client, &lease_table, &holder_name),
            }
            .map_err(|e| self.fail("cannot take the migration lock", &e))?;
            if got {
                if self.lock_mode == LockMode::Table {
                    let renewer = pg_lease::Renewer::start(
                        self.config.clone(),
                        self.tls.clone(),
                        lease_table,
                        holder_name.clone(),
                        self.shown.clone(),
                    );
                    self.lease = Some((holder_name, renewer));
                }
                self.locked = true;
                return Ok(());
            }
            if signals::caught().is_some() {
                return Err(BackendError::Cancelled);
            }
            let now = Instant::now();
            let holder = |me: &mut Self| match me.lock_mode {
                LockMode::Advisory => me.lock_holder(),
                LockMode::Table => pg_lease::holder(&mut me.client, &lease_table),
            };
            if now >= deadline {
                let holder = holder(self)
                    .map(|h| format!(", held by {h}"))
                    .unwrap_or_default();
                return Err(BackendError::LockTimeout(format!(
                    "the migration lock was not had within --lock-timeout ({}){holder}",
                    humantime::format_duration(timeout)
                )));
            }
            if now >= next_note {
                let holder = holder(self).unwrap_or_else(|| "another session".into());
                tracing::info!(database = %self.shown, "waiting for the migration lock, held by {holder}");
                next_note = now + Duration::from_secs(5);
            }
            sleep_unless_signalled(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    fn unlock(&mut self) -> Result<(), BackendError> {
        if !self.locked {
            return Ok(());
        }
        self.locked = false;
        match self.lease.take() {
            Some((holder, renewer)) => {
                drop(renewer);
                let lease_table = pg_lease::lock_table(&self.table);
                pg_lease::release(&mut self.client, &lease_table, &holder)
                    .map_err(|e| self.fail("cannot release the migration lease", &e))
            }
            None => {
                let sql = format!("SELECT pg_advisory_unlock({})", self.lock_key);
                self.client
                    .simple_query(&sql)
                    .map(|_| ())
                    .map_err(|e| self.fail("cannot release the advisory lock", &e))
            }
        }
    }

    fn prepare_table(&mut self) -> Result<(), BackendError> {
        let t = self.quoted_table();
        let mut ddl = String::new();
        if let Some(schema) = &self.table.schema {
            ddl.push_str(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\";\n"));
        }
        ddl.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {t} (
    id                BIGSERIAL PRIMARY KEY,
    migration_name    VARCHAR(255) NOT NULL UNIQUE,
    applied_at        TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    description       TEXT,
    checksum          VARCHAR(64),
    success           BOOLEAN NOT NULL DEFAULT TRUE,
    error_message     TEXT,
    execution_time_ms BIGINT
);"
        ));
        self.client
            .batch_execute(&ddl)
            .map_err(|e| self.fail(&format!("cannot create table {}", self.table.display()), &e))?;
        let cols = self.columns()?;
        if !cols.iter().any(|c| c == "migration_name") {
            return Err(foreign_table(&self.table));
        }
        let wanted = [
            ("id", "BIGSERIAL"),
            (
                "applied_at",
                "TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP",
            ),
            ("description", "TEXT"),
            ("checksum", "VARCHAR(64)"),
            ("success", "BOOLEAN NOT NULL DEFAULT TRUE"),
            ("error_message", "TEXT"),
            ("execution_time_ms", "BIGINT"),
        ];
        if cols.iter().any(|c| c == "id") {
            self.explicit_id = !self.id_has_default(&t);
        }
        for (col, ty) in wanted {
            if !cols.iter().any(|c| c == col) {
                self.client
                    .batch_execute(&format!(
                        "ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {col} {ty}"
                    ))
                    .map_err(|e| {
                        self.fail(
                            &format!("cannot add column {col} to {}", self.table.display()),
                            &e,
                        )
                    })?;
                tracing::info!(database = %self.shown, table = %self.table.display(), column = col, "added the missing column {col} to the tracking table {}", self.table.display());
            }
        }
        Ok(())
    }

    fn apply(
        &mut self,
        sql: &str,
        transactional: bool,
        row: &NewRecord<'_>,
    ) -> Result<Duration, Failure> {
        let token = self.client.cancel_token();
        let tls = self.tls.clone();
        let _cancel = signals::on_cancel(move || {
            let _ = token.cancel_query(tls.clone());
        });
        let t = self.quoted_table();
        // BEGIN goes with the file, in one round trip: the server runs the statements of one
        // query string in order and stops at the first error (the transaction is then aborted,
        // and rolled back below). No newline after it, so an error's position (counted in this
        // text) still gives the file's line.
        let batch: std::borrow::Cow<'_, str> = if transactional {
            format!("BEGIN;{sql}").into()
        } else {
            sql.into()
        };
        let started = Instant::now();
        let fail = |e: &postgres::Error, started: Instant| Failure {
            cancelled: signals::caught().is_some() || e.code() == Some(&SqlState::QUERY_CANCELED),
            // Closed, or the server ending sessions (terminated, shutting down, restarting).
            lost: e.is_closed()
                || [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                ]
                .iter()
                .any(|c| e.code() == Some(c)),
            message: message(e, &batch),
            elapsed: started.elapsed(),
        };
        let client = &mut self.client;
        if transactional {
            let done = client.batch_execute(&batch).map(|_| started.elapsed());
            let elapsed = match done {
                Ok(el) => el,
                Err(e) => {
                    let failure = fail(&e, started);
                    let _ = client.batch_execute("ROLLBACK");
                    return Err(failure);
                }
            };
            let row = row.timed(elapsed);
            let done = write_record(client, &t, self.explicit_id, &row)
                .and_then(|_| client.batch_execute("COMMIT"));
            if let Err(e) = done {
                let failure = fail(&e, started);
                let _ = client.batch_execute("ROLLBACK");
                return Err(failure);
            }
            Ok(elapsed)
        } else {
            client
                .batch_execute(&batch)
                .map_err(|e| fail(&e, started))?;
            let elapsed = started.elapsed();
            let row = row.timed(elapsed);
            write_record(client, &t, self.explicit_id, &row).map_err(|e| fail(&e, started))?;
            Ok(elapsed)
        }
    }

    fn read_table(
        &mut self,
        table: &str,
        columns: &[&str],
    ) -> Result<Option<Vec<Vec<Option<String>>>>, BackendError> {
        let cols: Vec<String> = columns.iter().map(|c| format!("\"{c}\"::text")).collect();
        let sql = format!("SELECT {} FROM \"{table}\"", cols.join(", "));
        let messages = match self.client.simple_query(&sql) {
            Ok(m) => m,
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(None),
            Err(e) => return Err(self.fail(&format!("cannot read {table}"), &e)),
        };
        Ok(Some(
            messages
                .iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(r) => Some(
                        (0..columns.len())
                            .map(|i| r.get(i).map(str::to_string))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect(),
        ))
    }

    fn record(&mut self, row: &NewRecord<'_>) -> Result<(), BackendError> {
        let t = self.quoted_table();
        write_record(&mut self.client, &t, self.explicit_id, row)
            .map_err(|e| self.fail("cannot write the tracking record", &e))
    }
}

/// Updates the row of that name, or inserts one. Values are bound parameters, sent with the
/// unnamed statement in one round trip (which a transaction-pooling PgBouncer also accepts),
/// and cast so that older tables with other column types take them.
fn write_record(
    client: &mut Client,
    table: &str,
    explicit_id: bool,
    r: &NewRecord<'_>,
) -> Result<(), postgres::Error> {
    use postgres::types::{ToSql, Type};
    let params: [(&(dyn ToSql + Sync), Type); 6] = [
        (&r.name, Type::TEXT),
        (&r.description, Type::TEXT),
        (&r.checksum, Type::TEXT),
        (&r.success, Type::BOOL),
        (&r.error_message, Type::TEXT),
        (&r.execution_time_ms, Type::INT8),
    ];
    let (id_col, id_val) = if explicit_id {
        (
            "id, ",
            format!("(SELECT coalesce(max(id), 0) + 1 FROM {table}), "),
        )
    } else {
        ("", String::new())
    };
    let insert = format!(
        "INSERT INTO {table} ({id_col}migration_name, applied_at, description, checksum, \
         success, error_message, execution_time_ms) SELECT {id_val}$1, CURRENT_TIMESTAMP, \
         $2, $3, $4, $5, $6"
    );
    let sql = if r.earlier {
        // Update the row of the earlier attempt, or insert one if it went meanwhile: a single
        // statement, so a single round trip (no unique constraint needed, as an adopted table
        // may lack it).
        format!(
            "WITH updated AS (UPDATE {table} SET applied_at = CURRENT_TIMESTAMP, description = $2, \
             checksum = $3, success = $4, error_message = $5, execution_time_ms = $6 \
             WHERE migration_name = $1 RETURNING 1) \
             {insert} WHERE NOT EXISTS (SELECT 1 FROM updated)"
        )
    } else {
        // No row was there under the lock: the insert alone (pgbench here: 0.23 ms against
        // 0.37 ms for the statement above, per migration).
        insert
    };
    client.execute_typed(&sql, &params)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_key_depends_on_database_and_table() {
        let t = Table::parse("schema_migrations").unwrap();
        let other = Table::parse("app.schema_migrations").unwrap();
        assert_eq!(lock_key("app", &t), lock_key("app", &t));
        assert_ne!(lock_key("app", &t), lock_key("billing", &t));
        assert_ne!(lock_key("app", &t), lock_key("app", &other));
    }
}
