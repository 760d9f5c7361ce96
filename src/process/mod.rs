//! The process edge: signals while migrating, exec of CMD, the user switch, and script
//! migrations run as child processes. Knows no SQL.

pub mod exec;
pub mod init;
pub mod privileges;
pub mod script;
pub mod signals;
