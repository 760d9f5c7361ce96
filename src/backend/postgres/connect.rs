//! Connecting: retried with back-off while the server is not up yet (refused, starting up,
//! its name not resolving yet), not retried when it answers "no" (a wrong password, no such
//! database), which cannot be opened (exit 3).

use std::time::{Duration, Instant};

use postgres::Client;
use postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::message;
use crate::backend::{BackendError, Backoff};

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

/// Connects, retrying transient failures with back-off until `wait` has passed (zero: one
/// attempt). With `create`, a database that does not exist is created first.
pub fn connect(
    config: &postgres::Config,
    tls: &MakeRustlsConnect,
    shown: &str,
    wait: Duration,
    mut create: bool,
) -> Result<Client, BackendError> {
    let started = Instant::now();
    // Short pauses: a server that comes up is used within a fifth of a second (the log says
    // so once, then every few seconds, not at every retry).
    let mut backoff = Backoff::new(wait, Duration::from_millis(50), Duration::from_millis(200));
    let mut next_note = started;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let mut cfg = config.clone();
        // A probe's single attempt still gets a couple of seconds to be answered.
        cfg.connect_timeout(
            backoff
                .remaining()
                .clamp(Duration::from_secs(2), Duration::from_secs(10)),
        );
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
        if create && err.code() == Some(&SqlState::INVALID_CATALOG_NAME) {
            create_database(config, tls, shown)?;
            create = false;
            continue;
        }
        if !is_transient(&err) {
            let why = if err.code() == Some(&SqlState::INVALID_CATALOG_NAME) {
                format!("{why} (MIGRATE_CREATE_DATABASE=1, or --create-database, creates it)")
            } else if why.contains("password missing") {
                format!(
                    "{why}: the server asks for one; give it in the URL, in PGPASSWORD, or in a \
                     password file (PGPASSFILE, else ~/.pgpass, mode 0600)"
                )
            } else {
                why
            };
            return Err(BackendError::CannotOpen(why));
        }
        if backoff.remaining().is_zero() {
            let within = if wait.is_zero() {
                "on the one attempt made (pass --wait to retry)".to_string()
            } else {
                format!(
                    "within --wait {} ({attempts} attempts)",
                    humantime::format_duration(wait)
                )
            };
            return Err(BackendError::Unreachable(format!(
                "not reachable {within}: {why}"
            )));
        }
        if Instant::now() >= next_note {
            tracing::info!(
                database = shown,
                "database not ready ({why}); retrying in {} ms ({attempts} attempts so far, for up to --wait {})",
                backoff.next_pause().as_millis(),
                humantime::format_duration(wait)
            );
            next_note = Instant::now() + Duration::from_secs(5);
        }
        backoff.sleep().map_err(|_| BackendError::Cancelled)?;
    }
}

/// Creates the database `config` names, through the server's `postgres` database (as
/// `createdb` and `dbmate up` do).
fn create_database(
    config: &postgres::Config,
    tls: &MakeRustlsConnect,
    shown: &str,
) -> Result<(), BackendError> {
    let name = config.get_dbname().unwrap_or("postgres").to_string();
    let mut maintenance = config.clone();
    maintenance.dbname("postgres");
    let fail = |e: postgres::Error| {
        BackendError::CannotOpen(format!(
            "database {name} does not exist, and it cannot be created here: {} \
             (creating one needs the CREATEDB privilege; or create it first)",
            message(&e, "")
        ))
    };
    let mut client = maintenance.connect(tls.clone()).map_err(fail)?;
    let ddl = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
    match client.batch_execute(&ddl) {
        // Another runner created it meanwhile: as good.
        Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => Ok(()),
        Err(e) => Err(fail(e)),
        Ok(()) => {
            tracing::info!(database = shown, "created database {name}");
            Ok(())
        }
    }
}
