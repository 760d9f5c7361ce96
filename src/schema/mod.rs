//! The declared schema: SQL files that say which tables, columns and indexes a database should
//! have. What the database lacks is added after the migrations; nothing is ever dropped.
//!
//! Data flows one way: the files are read (`Declared`), recognised statement by statement into
//! a `Model` per dialect, compared with what a backend reads of the live database (`Live`) into
//! a list of `Change`s, which the run applies and records.

pub mod comment_target;
pub mod diff;
pub mod dump;
pub mod index_name;
pub mod lex;
pub mod model;
pub mod other_objects;
pub mod probe;
pub mod recognize;
pub mod shadow;
pub mod unchanged;

use std::path::{Path, PathBuf};

use crate::source::Dialect;

pub use diff::{Change, Diff};
pub use model::{Live, Model};
pub use recognize::Name;

/// The name of the tracking row that holds the declared files' checksum (`checksum`) and the
/// live schema's fingerprint after the last run (`description`).
pub const STATE_ROW: &str = "#schema-state";

/// The kinds of change a record name can hold after `#`.
const KINDS: [&str; 21] = [
    "schema",
    "extension",
    "type",
    "sequence",
    "function",
    "table",
    "column",
    "index",
    "constraint",
    "view",
    "trigger",
    "policy",
    "rls",
    "partition",
    "difference",
    "comment",
    "event-trigger",
    "publication",
    "statistics",
    "aggregate",
    "rule",
];

/// Whether a tracking row is one of the declared schema's (a change, or the state row), not a
/// migration's.
pub fn is_declared_record(name: &str) -> bool {
    name == STATE_ROW || is_change_record(name)
}

/// Whether a tracking row is one of the declared schema's changes
/// (`schema.sql#column:users.last_login`).
pub fn is_change_record(name: &str) -> bool {
    name.split_once('#').is_some_and(|(file, rest)| {
        !file.is_empty()
            && rest
                .split_once(':')
                .is_some_and(|(kind, _)| KINDS.contains(&kind))
    })
}

/// Whether a tracking row holds a difference that `--schema-strict` made a failure
/// (`schema.sql#difference:column users.email`).
pub fn is_difference_record(name: &str) -> bool {
    is_change_record(name) && name.contains("#difference:")
}

/// The tracking table as a name (to leave it out of declarations and dumps).
impl From<&crate::settings::Table> for Name {
    fn from(t: &crate::settings::Table) -> Name {
        Name {
            schema: t.schema.clone(),
            name: t.name.clone(),
        }
    }
}

/// Why the declared schema cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("--schema {0}: no such file or folder")]
    Missing(PathBuf),
    #[error("--schema {0}: {1}")]
    Unreadable(PathBuf, std::io::Error),
    #[error("--schema {0}: no .sql file in it")]
    Empty(PathBuf),
}

/// One declared file.
#[derive(Debug, Clone)]
pub struct SchemaFile {
    /// Its name without a dialect part: what its records are named after (`schema.sql`).
    pub label: String,
    /// `Some` for `schema.postgres.sql` / `schema.sqlite.sql`.
    pub dialect: Option<Dialect>,
    pub text: String,
}

/// Every declared file, in the order given (a folder's files by name).
#[derive(Debug, Clone, Default)]
pub struct Declared {
    pub files: Vec<SchemaFile>,
}

impl Declared {
    /// Reads the files and folders `--schema` names.
    pub fn read(paths: &[PathBuf]) -> Result<Declared, SchemaError> {
        let mut files = Vec::new();
        for path in paths {
            let meta = std::fs::metadata(path).map_err(|_| SchemaError::Missing(path.clone()))?;
            if meta.is_dir() {
                let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                    .map_err(|e| SchemaError::Unreadable(path.clone(), e))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "sql") && p.is_file())
                    .collect();
                if found.is_empty() {
                    return Err(SchemaError::Empty(path.clone()));
                }
                found.sort();
                for p in found {
                    files.push(read_file(&p)?);
                }
            } else {
                files.push(read_file(path)?);
            }
        }
        Ok(Declared { files })
    }

    /// The files that apply to `dialect`: a variant replaces the plain file of its name.
    pub fn for_dialect(&self, dialect: Dialect) -> Vec<&SchemaFile> {
        self.files
            .iter()
            .filter(|f| match f.dialect {
                Some(d) => d == dialect,
                None => !self
                    .files
                    .iter()
                    .any(|v| v.dialect == Some(dialect) && v.label == f.label),
            })
            .collect()
    }

    /// The SHA-256 of the files that apply to `dialect` (names and texts).
    pub fn checksum(&self, dialect: Dialect) -> String {
        let mut all = Vec::new();
        for f in self.for_dialect(dialect) {
            all.extend_from_slice(f.label.as_bytes());
            all.push(0);
            all.extend_from_slice(f.text.as_bytes());
            all.push(0);
        }
        crate::source::checksum(&all)
    }
}

fn read_file(path: &Path) -> Result<SchemaFile, SchemaError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SchemaError::Unreadable(path.to_path_buf(), e))?;
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (stem, ext) = file.rsplit_once('.').unwrap_or((&file, ""));
    let (stem, dialect) = crate::source::name::strip_dialect(stem);
    let label = if ext.is_empty() {
        stem
    } else {
        format!("{stem}.{ext}")
    };
    Ok(SchemaFile {
        label,
        dialect,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_records_are_told_from_migrations() {
        assert!(is_declared_record("schema.sql#column:users.last_login"));
        assert!(is_declared_record("schema.sql#table:app.users"));
        assert!(is_declared_record(STATE_ROW));
        assert!(!is_change_record(STATE_ROW));
        assert!(is_change_record("schema.sql#index:users.users_email"));
        assert!(!is_declared_record("001_init.sql"));
        assert!(!is_declared_record("002_a#b.sql"));
        assert!(!is_declared_record("#column:x"));
    }

    #[test]
    fn a_dialect_variant_replaces_the_plain_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("schema.sql"), "CREATE TABLE a (x int);").unwrap();
        std::fs::write(
            dir.path().join("schema.sqlite.sql"),
            "CREATE TABLE a (x integer);",
        )
        .unwrap();
        std::fs::write(dir.path().join("extra.sql"), "CREATE TABLE b (x int);").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not sql").unwrap();
        let d = Declared::read(&[dir.path().to_path_buf()]).unwrap();
        let files = |dialect| -> Vec<(String, Option<Dialect>)> {
            d.for_dialect(dialect)
                .iter()
                .map(|f| (f.label.clone(), f.dialect))
                .collect()
        };
        assert_eq!(
            files(Dialect::Sqlite),
            [
                ("extra.sql".into(), None),
                ("schema.sql".into(), Some(Dialect::Sqlite))
            ]
        );
        assert_eq!(
            files(Dialect::Postgres),
            [("extra.sql".into(), None), ("schema.sql".into(), None)]
        );
        assert_ne!(d.checksum(Dialect::Sqlite), d.checksum(Dialect::Postgres));
        assert!(matches!(
            Declared::read(&[dir.path().join("nope.sql")]),
            Err(SchemaError::Missing(_))
        ));
    }
}
