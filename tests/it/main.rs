//! The built binary end to end: against real SQLite files, a real PostgreSQL server the tests
//! start themselves, and real containers. One crate, a module per topic, one fixture.

#[macro_use]
mod common;

mod adopt;
mod arch;
mod bad_input;
mod both;
mod concurrency;
mod container;
mod crash;
mod declared;
mod declared_app;
mod declared_fidelity;
mod docs;
mod door;
mod faults;
mod formats;
mod hostile;
mod init;
mod libpq;
mod lint;
mod live;
mod noop;
mod operator;
mod postgres;
mod scripts;
mod sqlite_up;
mod status;
mod waiting;
