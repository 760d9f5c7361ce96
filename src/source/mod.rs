//! Finding migration files in the configured directories, reading them once, and turning them
//! into plain values: names, versions, checksums, directives. Knows nothing of databases.

pub mod diesel;
pub mod flyway;
pub mod format;
pub mod name;
pub mod shebang;
pub mod statements;
mod stream;

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub use format::{Layout, Part};
pub use name::{Dialect, Ignored, Version};

/// Errors that stop the scan as a whole (a configuration problem).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("migrations directory {0} does not exist (set --migrations-dir or MIGRATIONS_DIRS)")]
    MissingDir(PathBuf),
    #[error("migrations directory {0} is not a directory")]
    NotADir(PathBuf),
    #[error("cannot list migrations directory {0}: {1}")]
    Unlistable(PathBuf, std::io::Error),
}

/// Every migration found, in order, and every entry that was passed over.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Sorted by version, then by name.
    pub migrations: Vec<Migration>,
    /// Entries that are not migrations, with the reason.
    pub ignored: Vec<(PathBuf, Ignored)>,
    /// Configured folders that hold entries of which none is taken, with those entries' names.
    pub untaken: Vec<(PathBuf, Vec<String>)>,
}

/// One migration: one name, with one file per dialect it was written for.
#[derive(Debug, Clone)]
pub struct Migration {
    pub name: String,
    pub version: Version,
    pub description: String,
    /// At most one per dialect (`None` = applies to every backend).
    pub variants: Vec<Variant>,
    /// A Flyway repeatable migration: applied after the versioned ones whenever it changes.
    pub repeatable: bool,
}

/// One file of a migration.
#[derive(Debug, Clone)]
pub struct Variant {
    pub dialect: Option<Dialect>,
    pub path: PathBuf,
    /// The file's checksum and layout, or why it could not be read.
    pub content: Result<Content, String>,
    /// Other files with the same name and dialect but other bytes: the migration is not run.
    pub conflicts: Vec<PathBuf>,
    /// What undoes it, when its folder has a down part.
    pub down: Option<DownPart>,
}

/// The SQL to send for one part of a migration, read when it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub sql: String,
    pub no_transaction: bool,
    /// Statements to send whole, as byte ranges in `sql`.
    pub whole: Vec<Range<usize>>,
    /// Statements sent one at a time, also in a transaction (as goose and sql-migrate do).
    pub one_by_one: bool,
}

/// A migration's down part: a file of its own (`.down.sql`, Flyway's `U`, diesel's
/// `down.sql`), or a section of the migration's own file (dbmate, goose, sql-migrate, tern).
#[derive(Debug, Clone)]
pub struct DownPart {
    pub path: PathBuf,
    /// A section of the file: where it is.
    pub section: Option<Part>,
    /// Runs outside a transaction whatever the file says (diesel's `run_in_transaction`).
    pub no_transaction: bool,
}

impl DownPart {
    /// A down file of its own.
    fn file(path: PathBuf) -> DownPart {
        DownPart {
            path,
            section: None,
            no_transaction: false,
        }
    }

    /// The SQL that undoes the migration, and its directives.
    pub fn read(&self) -> Result<Body, String> {
        let text = stream::read_text(&self.path)?;
        let mut body = match &self.section {
            Some(part) => body_of(&text, part),
            None => {
                let layout = format::layout(&text);
                if let Some(why) = layout.refused {
                    return Err(format!("{}: {why}", self.path.display()));
                }
                body_of(&text, &layout.up)
            }
        };
        body.no_transaction |= self.no_transaction;
        Ok(body)
    }

    /// Why it is no down part after all: it holds nothing but comments.
    pub fn empty(&self) -> bool {
        self.section.as_ref().is_some_and(|p| p.empty)
    }
}

fn body_of(text: &str, part: &Part) -> Body {
    let (sql, whole) = format::slice(text, part);
    Body {
        sql,
        no_transaction: part.no_transaction,
        whole,
        one_by_one: part.one_by_one,
    }
}

/// A readable migration file, as the scan saw it.
#[derive(Debug, Clone)]
pub struct Content {
    /// SHA-256, lowercase hex, of the file with CRLF read as LF.
    pub checksum: String,
    /// For SQL: where its parts are and how they run. For a script: nothing to read.
    pub layout: Layout,
    /// Run as a process, not SQL.
    pub script: Option<Script>,
}

/// How a script migration is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// Executable: run itself.
    Executable,
    /// Not executable: run through the interpreter its `#!` line names.
    Interpreted,
}

impl Content {
    /// Whether its up part runs outside a transaction (a script always does).
    pub fn no_transaction(&self) -> bool {
        self.script.is_some() || self.layout.up.no_transaction
    }
}

impl Migration {
    /// The file that applies to a backend: its own dialect variant, else the generic one.
    pub fn for_dialect(&self, dialect: Dialect) -> Option<&Variant> {
        self.variants
            .iter()
            .find(|v| v.dialect == Some(dialect))
            .or_else(|| self.variants.iter().find(|v| v.dialect.is_none()))
    }
}

impl Variant {
    /// Why this file cannot be applied, if it cannot.
    pub fn why_unusable(&self) -> Option<String> {
        if !self.conflicts.is_empty() {
            return Some(format!(
                "conflict: {} differs from {}",
                self.path.display(),
                join_paths(&self.conflicts)
            ));
        }
        match &self.content {
            Err(why) => Some(why.clone()),
            Ok(c) => c
                .layout
                .refused
                .as_ref()
                .map(|why| format!("refused, not run as plain SQL: {why}")),
        }
    }

    /// The checksum, when the file could be read.
    pub fn checksum(&self) -> Option<&str> {
        self.content.as_ref().ok().map(|c| c.checksum.as_str())
    }

    /// The SQL of its up part, read now (the scan kept only where it is); refused when the
    /// file changed since the scan.
    pub fn body(&self) -> Result<Body, String> {
        self.body_from_line().map(|(body, _)| body)
    }

    /// As `body`, with the line of the file its SQL starts on (1 when it is the whole file).
    pub fn body_from_line(&self) -> Result<(Body, usize), String> {
        let content = self.content.as_ref().map_err(Clone::clone)?;
        let text = stream::read_text(&self.path)?;
        if checksum(text.as_bytes()) != content.checksum {
            return Err(format!(
                "{} changed while this run was going on: not applied",
                self.path.display()
            ));
        }
        let up = &content.layout.up;
        let start = up.range.start.min(text.len());
        let line = 1 + text.as_bytes()[..start]
            .iter()
            .filter(|&&c| c == b'\n')
            .count();
        Ok((body_of(&text, up), line))
    }
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// SHA-256 of the text with CRLF line ends read as LF, in lowercase hex.
pub fn checksum(bytes: &[u8]) -> String {
    let mut sum = stream::Checksum::default();
    sum.update(bytes);
    sum.finish()
}

/// A versioned file that is not SQL: a script migration (executable, or not executable with a
/// `#!` line), or nothing.
fn script_kind(path: &Path) -> Option<Script> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let mut head = [0u8; 2];
    let mut f = std::fs::File::open(path).ok()?;
    f.read_exact(&mut head).ok()?;
    if &head != b"#!" {
        return None;
    }
    let mode = f.metadata().ok()?.permissions().mode();
    Some(if mode & 0o111 != 0 {
        Script::Executable
    } else {
        Script::Interpreted
    })
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// A directory entry that counts: a migration (its name's parts, the file to read, how it
/// runs), or the down part of one.
enum Found {
    Migration(Box<Taken>),
    Down(name::DownOf, PathBuf),
}

/// A migration entry: its name's parts, the file to read, whether it is a script, and (for
/// diesel's folders) the down file and the transaction setting beside it.
struct Taken {
    parts: name::NameParts,
    file: PathBuf,
    script: Option<Script>,
    folder: Option<diesel::Folder>,
}

/// Gives each down file to the migration it undoes; one whose migration is not there is not
/// taken.
fn attach_downs(catalog: &mut Catalog, downs: Vec<(name::DownOf, PathBuf)>) {
    for (of, path) in downs {
        let target = catalog.migrations.iter_mut().find_map(|m| match &of {
            name::DownOf::Name(stem, dialect) if name::pairs_with(stem, &m.name) => {
                m.variants.iter_mut().find(|v| v.dialect == *dialect)
            }
            name::DownOf::Version(v) if m.version == *v && !m.repeatable => {
                m.variants.iter_mut().find(|v| v.dialect.is_none())
            }
            _ => None,
        });
        match target {
            Some(variant) => variant.down = Some(DownPart::file(path)),
            None => catalog.ignored.push((path, Ignored::Down)),
        }
    }
}

/// What a directory entry is: a migration, a down part, or not a migration, and why.
fn classify(file_name: &str, path: PathBuf, is_dir: bool) -> Result<Found, (PathBuf, Ignored)> {
    let taken = |parts, file, script, folder| {
        Ok(Found::Migration(Box::new(Taken {
            parts,
            file,
            script,
            folder,
        })))
    };
    if is_dir {
        if file_name.starts_with(['_', '.']) {
            return Err((path, Ignored::Hidden));
        }
        if path.join("migration.sql").is_file() {
            return match name::parse(file_name, true) {
                name::Parsed::Migration(parts) => {
                    taken(parts, path.join("migration.sql"), None, None)
                }
                name::Parsed::Ignored(why) => Err((path, why)),
                name::Parsed::Down(_) => Err((path, Ignored::Folder)),
            };
        }
        return match diesel::folder(file_name, &path) {
            Some(Ok((parts, folder))) => taken(parts, path.join("up.sql"), None, Some(folder)),
            Some(Err(why)) => Err((path, why)),
            None => Err((path, Ignored::Folder)),
        };
    }
    match name::parse(file_name, false) {
        name::Parsed::Migration(parts) => taken(parts, path, None, None),
        name::Parsed::Down(of) => Ok(Found::Down(of, path)),
        name::Parsed::Ignored(Ignored::NotSql) => match name::parse_script(file_name) {
            Some(_) if name::is_go(file_name) => Err((path, Ignored::GoMigration)),
            Some(parts) => match script_kind(&path) {
                Some(kind) => taken(parts, path, Some(kind), None),
                None => Err((path, Ignored::NotSql)),
            },
            // Only an executable file is opened to look for a `#!` line (a no-op start reads
            // no README).
            None if !file_name.starts_with(['_', '.'])
                && executable(&path)
                && script_kind(&path).is_some() =>
            {
                Err((path, Ignored::ScriptWithoutVersion))
            }
            None => Err((path, Ignored::NotSql)),
        },
        name::Parsed::Ignored(why) => Err((path, why)),
    }
}

/// A file already in the catalog: (index in migrations, index in variants, its checksum).
type Seen = (usize, usize, Option<String>);

/// Scans the directories, in order, into a catalog.
pub fn scan(dirs: &[PathBuf]) -> Result<Catalog, SourceError> {
    let mut catalog = Catalog::default();
    // (name, dialect) -> where that file went, and its checksum for dedup.
    let mut seen: HashMap<(String, Option<Dialect>), Seen> = HashMap::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut downs = Vec::new();
    let mut buffer = stream::Buffer::default();

    for dir in dirs {
        let entries = list_dir(dir)?;
        // Flyway's per-script `.conf` files, by the name of the script they configure.
        let confs: std::collections::HashSet<String> = entries
            .iter()
            .filter_map(|(n, _, _)| n.strip_suffix(".conf").map(str::to_string))
            .collect();
        // What the folder holds besides hidden entries, and whether any of it was taken.
        let mut shown = Vec::new();
        let mut any_taken = false;
        for (file_name, path, is_dir) in entries {
            let taken = match classify(&file_name, path, is_dir) {
                Ok(Found::Migration(taken)) => *taken,
                Ok(Found::Down(of, path)) => {
                    shown.push(file_name);
                    downs.push((of, path));
                    continue;
                }
                Err((path, why)) => {
                    if why != Ignored::Hidden {
                        shown.push(file_name);
                    }
                    tracing::debug!(file = %path.display(), reason = %why, "not a migration: {} ({why})", path.display());
                    catalog.ignored.push((path, why));
                    continue;
                }
            };
            any_taken = true;
            shown.push(file_name.clone());
            let Taken {
                parts,
                file,
                script,
                folder,
            } = taken;
            let mut content = stream::scan_file(&file, script, &mut buffer);
            if confs.contains(&file_name)
                && flyway::outside_transaction(&dir.join(format!("{file_name}.conf")))
                && let Ok(c) = content.as_mut()
            {
                c.layout.up.no_transaction = true;
            }
            let key = (parts.name.clone(), parts.dialect);
            if let Some((mi, vi, first)) = seen.get(&key) {
                let variant = &mut catalog.migrations[*mi].variants[*vi];
                match (&content, first) {
                    (Ok(c), Some(a)) if c.checksum == *a => {
                        tracing::debug!(file = %file.display(), same_as = %variant.path.display(), "{} is the same file as {}: one migration", file.display(), variant.path.display());
                    }
                    _ => variant.conflicts.push(file),
                }
                continue;
            }
            let mut down = content.as_ref().ok().and_then(|c| {
                c.layout.down.clone().map(|part| DownPart {
                    path: file.clone(),
                    section: Some(part),
                    no_transaction: false,
                })
            });
            if let Some(f) = folder {
                if let Ok(c) = content.as_mut() {
                    c.layout.up.no_transaction |= f.no_transaction;
                }
                down = f.down.map(|path| DownPart {
                    no_transaction: f.no_transaction,
                    ..DownPart::file(path)
                });
            }
            let checksum = content.as_ref().ok().map(|c| c.checksum.clone());
            let variant = Variant {
                dialect: parts.dialect,
                path: file,
                content,
                conflicts: Vec::new(),
                down,
            };
            let mi = *by_name.entry(parts.name.clone()).or_insert_with(|| {
                catalog.migrations.push(Migration {
                    name: parts.name.clone(),
                    version: parts.version.clone(),
                    description: parts.description.clone(),
                    variants: Vec::new(),
                    repeatable: parts.repeatable,
                });
                catalog.migrations.len() - 1
            });
            let m = &mut catalog.migrations[mi];
            m.variants.push(variant);
            seen.insert(key, (mi, m.variants.len() - 1, checksum));
        }
        if shown.is_empty() {
            tracing::info!(dir = %dir.display(), "migrations directory {} is empty: nothing to do there", dir.display());
        } else if !any_taken {
            catalog.untaken.push((dir.clone(), shown));
        }
    }
    // Repeatable migrations come after the versioned ones, by name.
    catalog.migrations.sort_by(|a, b| {
        (a.repeatable, &a.version, &a.name).cmp(&(b.repeatable, &b.version, &b.name))
    });
    attach_downs(&mut catalog, downs);
    Ok(catalog)
}

/// The entries of one directory, sorted by name: (file name, path, is a directory).
fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>, SourceError> {
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SourceError::MissingDir(dir.to_path_buf()));
        }
        Err(e) => return Err(SourceError::Unlistable(dir.to_path_buf(), e)),
    };
    if !meta.is_dir() {
        return Err(SourceError::NotADir(dir.to_path_buf()));
    }
    let rd = std::fs::read_dir(dir).map_err(|e| SourceError::Unlistable(dir.to_path_buf(), e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| SourceError::Unlistable(dir.to_path_buf(), e))?;
        let path = entry.path();
        let Some(file_name) = entry.file_name().to_str().map(str::to_string) else {
            tracing::debug!(file = %path.display(), "not a migration: {} (name is not UTF-8)", path.display());
            continue;
        };
        // The entry's type comes with the listing; only a symlink needs a look at what it points
        // to (a linked file or folder counts as what it points to).
        let is_dir = match entry.file_type() {
            Ok(t) if !t.is_symlink() => t.is_dir(),
            _ => std::fs::metadata(&path)
                .map(|m| m.is_dir())
                .unwrap_or(false),
        };
        out.push((file_name, path, is_dir));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_reads_crlf_as_lf() {
        assert_eq!(checksum(b"a\r\nb\r\n"), checksum(b"a\nb\n"));
        assert_ne!(checksum(b"a\rb"), checksum(b"ab"));
        assert_eq!(
            checksum(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // A lone CR at the very end is kept.
        assert_ne!(checksum(b"a\r"), checksum(b"a"));
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn scan_orders_dedups_and_flags_conflicts() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        write(a.path(), "10_ten.sql", "SELECT 10;");
        write(a.path(), "2_two.sql", "SELECT 2;");
        write(a.path(), "_template.sql", "-- template");
        write(a.path(), "notes.txt", "x");
        write(b.path(), "2_two.sql", "SELECT 2;");
        write(b.path(), "10_ten.sql", "SELECT 'other';");
        write(b.path(), "3_three.sqlite.sql", "SELECT 3;");
        let c = scan(&[a.path().into(), b.path().into()]).unwrap();
        let names: Vec<_> = c.migrations.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["2_two.sql", "3_three.sql", "10_ten.sql"]);
        assert!(c.migrations[0].variants[0].conflicts.is_empty());
        assert_eq!(c.migrations[0].variants.len(), 1);
        assert_eq!(c.migrations[2].variants[0].conflicts.len(), 1);
        assert!(
            c.migrations[2].variants[0]
                .why_unusable()
                .unwrap()
                .starts_with("conflict")
        );
        assert!(c.migrations[1].for_dialect(Dialect::Postgres).is_none());
        assert!(c.migrations[1].for_dialect(Dialect::Sqlite).is_some());
        assert_eq!(c.ignored.len(), 2);
    }

    #[test]
    fn missing_dir_is_an_error() {
        let e = scan(&["/no/such/dir".into()]).unwrap_err();
        assert!(matches!(e, SourceError::MissingDir(_)));
    }
}
