//! Database URLs: which backend a URL names, its password-free form for output, and the
//! expansion of SQLite globs into one target per file.

use std::fmt;
use std::path::{Path, PathBuf};

use super::pgurl::{self, PgUrl, PgUrlError, redact};

/// A database URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error(
        "unsupported database URL scheme '{scheme}' in {shown}: supported are postgres://, postgresql:// and sqlite:"
    )]
    Unsupported { scheme: String, shown: String },
    #[error(
        "not a database URL: '{0}' (expected postgres://..., sqlite:PATH, or a path ending in .db, .sqlite or .sqlite3)"
    )]
    Malformed(String),
    #[error(
        "{shown}: the folder {folder} does not exist (a missing SQLite file is created, its folder is not)"
    )]
    NoFolder { shown: String, folder: PathBuf },
    #[error("{0}: bad glob pattern: {1}")]
    BadGlob(String, String),
    #[error(transparent)]
    Postgres(#[from] PgUrlError),
}

/// One configured database URL, before glob expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    /// A SQLite path, possibly a glob.
    Sqlite(PathBuf),
    /// A PostgreSQL URL, as written (password included: never print it, print `redact`).
    Postgres(String),
}

/// One database to migrate.
#[derive(Clone)]
pub enum Target {
    Sqlite {
        path: PathBuf,
    },
    /// The URL as written (password included: never print it) and as read, once.
    Postgres {
        url: String,
        parsed: Box<PgUrl>,
    },
}

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Target::Sqlite { path: a }, Target::Sqlite { path: b }) => a == b,
            (Target::Postgres { url: a, .. }, Target::Postgres { url: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl Target {
    /// The URL as it may be printed: no password.
    pub fn redacted(&self) -> String {
        match self {
            Target::Sqlite { path } => format!("sqlite:{}", path.display()),
            Target::Postgres { url, .. } => redact(url),
        }
    }
}

/// Reads every URL, then expands each (so a bad one fails before any glob is listed).
pub fn resolve(urls: &[String]) -> Result<Vec<Target>, UrlError> {
    let parsed = urls
        .iter()
        .map(|u| parse(u))
        .collect::<Result<Vec<_>, _>>()?;
    let mut targets = Vec::new();
    for p in &parsed {
        targets.extend(expand(p)?);
    }
    Ok(targets)
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Debug output must not leak the password either.
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Reads one database URL.
pub fn parse(url: &str) -> Result<DbUrl, UrlError> {
    let url = url.trim();
    if let Some(rest) = url.strip_prefix("sqlite:") {
        // sqlite:///abs, sqlite://rel, sqlite:rel, sqlite:/abs
        let path = if let Some(abs) = rest.strip_prefix("///") {
            format!("/{abs}")
        } else if let Some(rel) = rest.strip_prefix("//") {
            rel.to_string()
        } else {
            rest.to_string()
        };
        if path.is_empty() {
            return Err(UrlError::Malformed(url.to_string()));
        }
        return Ok(DbUrl::Sqlite(PathBuf::from(path)));
    }
    // `postgres://` alone is libpq's "everything from the environment" (PGHOST, ...).
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(DbUrl::Postgres(url.to_string()));
    }
    if let Some((scheme, _)) = url.split_once(':')
        && !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && url[scheme.len()..].starts_with("://")
    {
        return Err(UrlError::Unsupported {
            scheme: scheme.to_string(),
            shown: redact(url),
        });
    }
    let lower = url.to_ascii_lowercase();
    if [".db", ".sqlite", ".sqlite3"]
        .iter()
        .any(|ext| lower.ends_with(ext))
    {
        return Ok(DbUrl::Sqlite(PathBuf::from(url)));
    }
    Err(UrlError::Malformed(redact(url)))
}

/// Whether a path holds glob characters.
fn is_glob(path: &Path) -> bool {
    path.to_string_lossy().contains(['*', '?', '['])
}

/// Expands one URL into targets: a SQLite glob into every matching file (sorted); a plain
/// SQLite path must have an existing folder.
pub fn expand(url: &DbUrl) -> Result<Vec<Target>, UrlError> {
    match url {
        DbUrl::Postgres(u) => Ok(vec![Target::Postgres {
            url: u.clone(),
            parsed: Box::new(pgurl::parse(u)?),
        }]),
        DbUrl::Sqlite(path) if is_glob(path) => {
            let pattern = path.to_string_lossy();
            let shown = format!("sqlite:{pattern}");
            let paths = glob::glob(&pattern)
                .map_err(|e| UrlError::BadGlob(shown.clone(), e.to_string()))?;
            let mut out: Vec<Target> = paths
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .map(|path| Target::Sqlite { path })
                .collect();
            out.sort_by_key(Target::redacted);
            if out.is_empty() {
                tracing::warn!(database = %shown, "glob matches no file: nothing to migrate there");
            }
            Ok(out)
        }
        DbUrl::Sqlite(path) => {
            let folder = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            if !folder.is_dir() {
                return Err(UrlError::NoFolder {
                    shown: format!("sqlite:{}", path.display()),
                    folder: folder.to_path_buf(),
                });
            }
            Ok(vec![Target::Sqlite { path: path.clone() }])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_forms() {
        let s = |p: &str| Ok(DbUrl::Sqlite(PathBuf::from(p)));
        assert_eq!(parse("sqlite:relative/path.db"), s("relative/path.db"));
        assert_eq!(parse("sqlite:///absolute/path.db"), s("/absolute/path.db"));
        assert_eq!(parse("sqlite://relative/path.db"), s("relative/path.db"));
        assert_eq!(parse("sqlite:/abs.db"), s("/abs.db"));
        assert_eq!(parse("data/app.db"), s("data/app.db"));
        assert_eq!(parse("/x/app.sqlite3"), s("/x/app.sqlite3"));
        assert_eq!(parse("x.SQLITE"), s("x.SQLITE"));
        assert_eq!(parse("sqlite:///app/data/*.db"), s("/app/data/*.db"));
    }

    #[test]
    fn postgres_and_bad_forms() {
        assert_eq!(
            parse("postgres://u:p@h/db"),
            Ok(DbUrl::Postgres("postgres://u:p@h/db".into()))
        );
        assert!(matches!(parse("postgresql://h/db"), Ok(DbUrl::Postgres(_))));
        match parse("mysql://root:hunter2@db/app") {
            Err(UrlError::Unsupported { scheme, shown }) => {
                assert_eq!(scheme, "mysql");
                assert!(!shown.contains("hunter2"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse("app.txt"), Err(UrlError::Malformed(_))));
        assert!(matches!(parse("sqlite:"), Err(UrlError::Malformed(_))));
        // libpq reads it as "all from the environment" (PGHOST, PGUSER, ...).
        assert!(matches!(parse("postgres://"), Ok(DbUrl::Postgres(_))));
        assert!(matches!(parse(""), Err(UrlError::Malformed(_))));
    }

    #[test]
    fn expand_globs_and_folders() {
        let d = tempfile::tempdir().unwrap();
        for f in ["b.db", "a.db", "c.txt"] {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        let got = expand(&DbUrl::Sqlite(d.path().join("*.db"))).unwrap();
        assert_eq!(
            got,
            vec![
                Target::Sqlite {
                    path: d.path().join("a.db")
                },
                Target::Sqlite {
                    path: d.path().join("b.db")
                },
            ]
        );
        assert!(
            expand(&DbUrl::Sqlite(d.path().join("none*.db")))
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            expand(&DbUrl::Sqlite(d.path().join("nope/app.db"))),
            Err(UrlError::NoFolder { .. })
        ));
        assert_eq!(expand(&DbUrl::Sqlite("app.db".into())).unwrap().len(), 1);
    }
}
