//! Finding migration files in the configured directories, reading them once, and turning them
//! into plain values: names, versions, checksums, directives. Knows nothing of databases.

pub mod directive;
pub mod name;
pub mod shebang;
pub mod statements;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use directive::Body;
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
    /// The file's checksum and body, or why it could not be read.
    pub content: Result<Content, String>,
    /// Other files with the same name and dialect but other bytes: the migration is not run.
    pub conflicts: Vec<PathBuf>,
    /// What undoes it, when its folder has a down part.
    pub down: Option<DownPart>,
}

/// A migration's down part: a file of its own (`.down.sql`, Flyway's `U`), read when it is
/// needed, or the `-- migrate:down` section of its dbmate file.
#[derive(Debug, Clone)]
pub struct DownPart {
    pub path: PathBuf,
    /// dbmate: the section's SQL, and whether it runs outside a transaction.
    pub section: Option<(String, bool)>,
}

impl DownPart {
    /// The SQL that undoes the migration, and its directives.
    pub fn read(&self) -> Result<Body, String> {
        match &self.section {
            Some((sql, no_transaction)) => Ok(Body {
                sql: sql.clone(),
                no_transaction: *no_transaction,
                unknown: Vec::new(),
                down: None,
            }),
            None => {
                let bytes = read_whole(&self.path)
                    .map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
                read_content(&bytes).map(|c| c.body)
            }
        }
    }
}

/// A readable migration file.
#[derive(Debug, Clone)]
pub struct Content {
    /// SHA-256, lowercase hex, of the file with CRLF read as LF.
    pub checksum: String,
    /// For SQL: the statements to send and the directives. For a script: empty, no transaction.
    pub body: Body,
    /// An executable run as a process, not SQL.
    pub script: bool,
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
        self.content.as_ref().err().cloned()
    }

    /// The checksum, when the file could be read.
    pub fn checksum(&self) -> Option<&str> {
        self.content.as_ref().ok().map(|c| c.checksum.as_str())
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
    let mut hasher = Sha256::new();
    let mut rest = bytes;
    // Feed the bytes in runs between CRs, dropping each CR that precedes an LF.
    while let Some(i) = rest.iter().position(|&b| b == b'\r') {
        hasher.update(&rest[..i]);
        if rest.get(i + 1) != Some(&b'\n') {
            hasher.update(b"\r");
        }
        rest = &rest[i + 1..];
    }
    hasher.update(rest);
    hex(&hasher.finalize())
}

/// Lowercase hex, by table (`write!` per byte was a tenth of a no-op start's instructions).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Reads a migration file's bytes into its checksum and body.
pub fn read_content(bytes: &[u8]) -> Result<Content, String> {
    // A byte-order mark is an editor's artefact, not SQL.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "file is not UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        )
    })?;
    Ok(Content {
        checksum: checksum(bytes),
        body: directive::parse(text),
        script: false,
    })
}

/// A script migration's checksum (its text is not read: any bytes may run).
pub fn script_content(bytes: &[u8]) -> Content {
    Content {
        checksum: checksum(bytes),
        body: Body {
            sql: String::new(),
            no_transaction: true,
            unknown: Vec::new(),
            down: None,
        },
        script: true,
    }
}

/// What a versioned file that is not SQL is: a script migration (executable, `#!` first), a
/// script that cannot run (not executable), or nothing.
fn script_kind(path: &Path) -> Option<bool> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let mut head = [0u8; 2];
    let mut f = std::fs::File::open(path).ok()?;
    f.read_exact(&mut head).ok()?;
    if &head != b"#!" {
        return None;
    }
    let mode = f.metadata().ok()?.permissions().mode();
    Some(mode & 0o111 != 0)
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// A directory entry that counts: a migration (its name's parts, the file to read, whether it
/// is a script), or the down part of one.
enum Found {
    Migration(name::NameParts, PathBuf, bool),
    Down(name::DownOf, PathBuf),
}

/// Gives each down file to the migration it undoes; one whose migration is not there is not
/// taken.
fn attach_downs(catalog: &mut Catalog, downs: Vec<(name::DownOf, PathBuf)>) {
    for (of, path) in downs {
        let target = catalog.migrations.iter_mut().find_map(|m| match &of {
            name::DownOf::Name(up, dialect) if m.name == *up => {
                m.variants.iter_mut().find(|v| v.dialect == *dialect)
            }
            name::DownOf::Version(v) if m.version == *v && !m.repeatable => {
                m.variants.iter_mut().find(|v| v.dialect.is_none())
            }
            _ => None,
        });
        match target {
            Some(variant) => {
                variant.down = Some(DownPart {
                    path,
                    section: None,
                })
            }
            None => catalog.ignored.push((path, Ignored::Down)),
        }
    }
}

/// What a directory entry is: a migration (its name's parts, the file to read, whether it is
/// a script), or not, and why.
fn classify(file_name: &str, path: PathBuf, is_dir: bool) -> Result<Found, (PathBuf, Ignored)> {
    if is_dir && !path.join("migration.sql").is_file() {
        return Err((path, Ignored::Folder));
    }
    let migration = |parts, file, script| Ok(Found::Migration(parts, file, script));
    match name::parse(file_name, is_dir) {
        name::Parsed::Migration(parts) if is_dir => {
            migration(parts, path.join("migration.sql"), false)
        }
        name::Parsed::Migration(parts) => migration(parts, path, false),
        name::Parsed::Down(of) => Ok(Found::Down(of, path)),
        name::Parsed::Ignored(Ignored::NotSql) if !is_dir => match name::parse_script(file_name) {
            Some(parts) => match script_kind(&path) {
                Some(true) => migration(parts, path, true),
                Some(false) => Err((path, Ignored::NotExecutable)),
                None => Err((path, Ignored::NotSql)),
            },
            // Only an executable file is opened to look for a `#!` line (a no-op start reads
            // no README).
            None if !file_name.starts_with(['_', '.'])
                && executable(&path)
                && script_kind(&path) == Some(true) =>
            {
                Err((path, Ignored::ScriptWithoutVersion))
            }
            None => Err((path, Ignored::NotSql)),
        },
        name::Parsed::Ignored(why) => Err((path, why)),
    }
}

/// A file already in the catalog: (index in migrations, index in variants, its bytes).
type Seen = (usize, usize, Option<Vec<u8>>);

/// Scans the directories, in order, into a catalog.
pub fn scan(dirs: &[PathBuf]) -> Result<Catalog, SourceError> {
    let mut catalog = Catalog::default();
    // (name, dialect) -> where that file went, and its raw bytes for dedup.
    let mut seen: HashMap<(String, Option<Dialect>), Seen> = HashMap::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut downs = Vec::new();

    for dir in dirs {
        let entries = list_dir(dir)?;
        if entries.is_empty() {
            tracing::info!(dir = %dir.display(), "migrations directory {} is empty: nothing to do there", dir.display());
        }
        for (file_name, path, is_dir) in entries {
            let (parts, file, script) = match classify(&file_name, path, is_dir) {
                Ok(Found::Migration(parts, file, script)) => (parts, file, script),
                Ok(Found::Down(of, path)) => {
                    downs.push((of, path));
                    continue;
                }
                Err((path, why)) => {
                    tracing::debug!(file = %path.display(), reason = %why, "not a migration: {} ({why})", path.display());
                    catalog.ignored.push((path, why));
                    continue;
                }
            };
            let raw = read_whole(&file);
            let key = (parts.name.clone(), parts.dialect);
            if let Some((mi, vi, first_raw)) = seen.get(&key) {
                let variant = &mut catalog.migrations[*mi].variants[*vi];
                match (&raw, first_raw) {
                    (Ok(b), Some(a)) if a == b => {
                        tracing::debug!(file = %file.display(), same_as = %variant.path.display(), "{} is the same file as {}: one migration", file.display(), variant.path.display());
                    }
                    _ => variant.conflicts.push(file),
                }
                continue;
            }
            let content = match &raw {
                Ok(bytes) if script => Ok(script_content(bytes)),
                Ok(bytes) => read_content(bytes),
                Err(e) => Err(format!("cannot read {}: {e}", file.display())),
            };
            // A dbmate file holds its own down section.
            let down = content
                .as_ref()
                .ok()
                .and_then(|c| c.body.down.clone())
                .map(|section| DownPart {
                    path: file.clone(),
                    section: Some(section),
                });
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
            seen.insert(key, (mi, m.variants.len() - 1, raw.ok()));
        }
    }
    // Repeatable migrations come after the versioned ones, by name.
    catalog.migrations.sort_by(|a, b| {
        (a.repeatable, &a.version, &a.name).cmp(&(b.repeatable, &b.version, &b.name))
    });
    attach_downs(&mut catalog, downs);
    Ok(catalog)
}

/// The whole file. Unlike `std::fs::read`, no `fstat` for a size hint: migrations are small, and
/// a no-op start reads every one of them.
fn read_whole(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    // A plain read loop: `read_to_end` on a File asks fstat and lseek for a size hint first.
    let mut buf = vec![0u8; 8192];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    // Kept until the run ends (for dedup): at its own size, so 200 files do not hold 200 pages
    // (each a page fault); the 8 KiB block is then reused by the next file.
    buf.shrink_to_fit();
    Ok(buf)
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

    #[test]
    fn bom_is_not_part_of_the_text() {
        let with = read_content(b"\xEF\xBB\xBFSELECT 1;").unwrap();
        let without = read_content(b"SELECT 1;").unwrap();
        assert_eq!(with.checksum, without.checksum);
        assert_eq!(with.body.sql, "SELECT 1;");
    }

    #[test]
    fn non_utf8_is_an_error_of_that_file() {
        let e = read_content(b"SELECT '\xff';").unwrap_err();
        assert!(e.contains("not UTF-8"), "{e}");
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
