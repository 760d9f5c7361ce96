//! diesel's folder form: `2019-02-26-002946_create_user/` holding `up.sql` and `down.sql`, and
//! optionally `metadata.toml` with `run_in_transaction = false`. The version is the folder
//! name's part before its first `_`, without its dashes (`20190226002946`), as diesel reads it.
//! diesel orders versions as text: since 2025 it names folders `2025-01-03-193224-0000_x`, and
//! such a version sorts among the older 14-digit ones by its date, so the part after the time
//! is a version group of its own here (`20250103193224.0`), which orders the same way.

use std::path::{Path, PathBuf};

use super::name::{self, Ignored, NameParts};

/// What a diesel folder holds besides its `up.sql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// Its `down.sql`, when there is one.
    pub down: Option<PathBuf>,
    /// `metadata.toml` says `run_in_transaction = false`.
    pub no_transaction: bool,
}

/// A folder holding `up.sql`: its name's parts and what it holds; `None` when it holds no
/// `up.sql` (not diesel's form).
pub fn folder(file_name: &str, path: &Path) -> Option<Result<(NameParts, Folder), Ignored>> {
    if !path.join("up.sql").is_file() {
        return None;
    }
    let Some(parts) = parse(file_name) else {
        return Some(Err(Ignored::NoVersion));
    };
    let down = path.join("down.sql");
    let metadata = std::fs::read_to_string(path.join("metadata.toml")).ok();
    Some(Ok((
        parts,
        Folder {
            down: down.is_file().then_some(down),
            no_transaction: !runs_in_transaction(metadata.as_deref()),
        },
    )))
}

/// The parts of a diesel folder's name: `2019-02-26-002946_create_user` is version
/// 20190226002946, and the folder's name is the migration's name.
pub fn parse(file_name: &str) -> Option<NameParts> {
    let (version, rest) = file_name.split_once('_').unwrap_or((file_name, ""));
    let parts: Vec<&str> = version.split('-').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    // The date and time (four parts, or one run of digits) first, then any later part.
    let cut = if parts.len() >= 4 { 4 } else { parts.len() };
    let head = parts[..cut].concat();
    let groups = std::iter::once(head.as_str()).chain(parts[cut..].iter().copied());
    Some(NameParts {
        name: file_name.to_string(),
        version: name::Version::from_groups(groups),
        description: rest.replace('_', " "),
        dialect: None,
        repeatable: false,
    })
}

/// The version diesel writes in its table for a folder of this name: the digits before the
/// first `_`.
pub fn digits(file_name: &str) -> String {
    let version = file_name.split('_').next().unwrap_or(file_name);
    version.replace('-', "")
}

/// Whether the migration runs in a transaction, as diesel reads `metadata.toml`: yes without
/// the file; with it, only when it says `run_in_transaction = true` (serde's default for a
/// missing key is false). Only this one key is read, so a TOML parser is not worth its size.
fn runs_in_transaction(metadata: Option<&str>) -> bool {
    let Some(metadata) = metadata else {
        return true;
    };
    metadata.lines().any(|line| {
        let line = line.split('#').next().unwrap_or("");
        match line.split_once('=') {
            Some((k, v)) => k.trim() == "run_in_transaction" && v.trim() == "true",
            None => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_the_digits_before_the_name() {
        let p = parse("2019-02-26-002946_create_user").unwrap();
        assert_eq!(p.version.to_string(), "20190226002946");
        assert_eq!(p.name, "2019-02-26-002946_create_user");
        assert_eq!(p.description, "create user");
        assert_eq!(
            parse("00000000000000_diesel_initial_setup")
                .unwrap()
                .version
                .to_string(),
            "0"
        );
        assert_eq!(
            parse("20240101120000_x").unwrap().version.to_string(),
            "20240101120000"
        );
        // diesel's newer names, ordered as diesel orders them (as text).
        let new = parse("2025-01-10-120000-0000_a").unwrap().version;
        let old_later = parse("2025-01-15-120000_b").unwrap().version;
        let old_same = parse("2025-01-10-120000_c").unwrap().version;
        assert!(new < old_later && old_same < new);
        assert_eq!(digits("2025-01-10-120000-0000_a"), "202501101200000000");
        assert_eq!(parse("create_user"), None);
        assert_eq!(parse("2019-02-26-x_y"), None);
    }

    #[test]
    fn metadata() {
        assert!(runs_in_transaction(None));
        assert!(runs_in_transaction(Some("run_in_transaction = true\n")));
        assert!(!runs_in_transaction(Some("run_in_transaction = false\n")));
        assert!(!runs_in_transaction(Some(
            "  run_in_transaction=false # for CONCURRENTLY\n"
        )));
        // A file without the key: serde's default, false.
        assert!(!runs_in_transaction(Some("# run_in_transaction = true\n")));
    }

    #[test]
    fn a_folder_with_up_sql() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("2019-02-26-002946_create_user");
        std::fs::create_dir(&f).unwrap();
        assert!(folder("2019-02-26-002946_create_user", &f).is_none());
        std::fs::write(f.join("up.sql"), "CREATE TABLE users (id int);").unwrap();
        let (_, got) = folder("2019-02-26-002946_create_user", &f)
            .unwrap()
            .unwrap();
        assert_eq!(
            got,
            Folder {
                down: None,
                no_transaction: false
            }
        );
        std::fs::write(f.join("down.sql"), "DROP TABLE users;").unwrap();
        std::fs::write(f.join("metadata.toml"), "run_in_transaction = false\n").unwrap();
        let (_, got) = folder("2019-02-26-002946_create_user", &f)
            .unwrap()
            .unwrap();
        assert_eq!(got.down, Some(f.join("down.sql")));
        assert!(got.no_transaction);
    }
}
