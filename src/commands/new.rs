//! `new DESCRIPTION`: the next migration file's name, in the style the folder already uses
//! (zero-padded numbers, UTC timestamps, or Flyway's `V`), and creating it without ever
//! overwriting.

use std::path::{Path, PathBuf};

use super::Finished;
use crate::settings::Settings;
use crate::source::name::{self, Parsed};

/// Creates the next migration file in `dir`, else the first migrations directory; prints its
/// path.
pub fn run(s: &Settings, description: &str, dir: Option<&Path>) -> Finished {
    let dir = dir
        .or(s.dirs.first().map(|d| d.as_path()))
        .unwrap_or(Path::new(crate::settings::DEFAULT_DIR));
    let created = create(dir, description);
    match &created {
        Ok(path) => println!("{}", path.display()),
        Err(e) => tracing::error!("{e}"),
    }
    Finished::New(created)
}

/// Why no file was created.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    #[error("the description '{0}' has no letters or digits to name the file with")]
    EmptySlug(String),
    #[error("cannot read {0}: {1}")]
    Unreadable(PathBuf, std::io::Error),
    #[error("cannot create {0}: {1}")]
    Uncreatable(PathBuf, std::io::Error),
}

/// How the folder's migrations are numbered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Style {
    /// `001_x.sql`: numbers zero-padded to this width.
    Padded { width: usize, last: u128 },
    /// `20260210000000_x.sql`: UTC timestamps.
    Timestamp { last: u128 },
    /// `V3__x.sql`.
    Flyway { last: u128 },
}

/// Reads the numbering style from the names in a folder (`001` style when there are none).
pub fn style(names: &[String]) -> Style {
    let mut plain: Vec<&str> = Vec::new();
    let mut flyway = Vec::new();
    for n in names {
        if !matches!(name::parse(n, false), Parsed::Migration(_))
            && !matches!(name::parse(n, true), Parsed::Migration(_))
        {
            continue;
        }
        if let Some(rest) = n.strip_prefix('V') {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() && rest[digits.len()..].starts_with("__") {
                flyway.push(digits.parse::<u128>().unwrap_or(0));
                continue;
            }
        }
        let len = n.bytes().take_while(u8::is_ascii_digit).count();
        if len > 0 {
            plain.push(&n[..len]);
        }
    }
    if flyway.len() > plain.len() {
        return Style::Flyway {
            last: flyway.into_iter().max().unwrap_or(0),
        };
    }
    let last = plain
        .iter()
        .filter_map(|d| d.parse::<u128>().ok())
        .max()
        .unwrap_or(0);
    if plain
        .iter()
        .any(|d| d.len() == 14 && (d.starts_with("19") || d.starts_with("20")))
    {
        return Style::Timestamp { last };
    }
    let width = plain.iter().map(|d| d.len()).max().unwrap_or(3).max(1);
    Style::Padded { width, last }
}

/// `Add user e-mail!` → `add_user_e_mail`.
pub fn slug(description: &str) -> String {
    let mut out = String::new();
    for c in description.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// The next file name. `now` is the UTC time as `YYYYMMDDHHMMSS`.
pub fn next_name(style: &Style, slug: &str, now: u128) -> String {
    match style {
        Style::Padded { width, last } => format!("{:0width$}_{slug}.sql", last + 1),
        // Two in the same second still come out in order.
        Style::Timestamp { last } => format!("{}_{slug}.sql", now.max(last + 1)),
        Style::Flyway { last } => format!("V{}__{slug}.sql", last + 1),
    }
}

/// The current UTC time as a `YYYYMMDDHHMMSS` number.
fn utc_now() -> u128 {
    let text = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    text.chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}

/// Creates the next migration file in `dir` (and `dir` itself when missing); returns its path.
pub fn create(dir: &Path, description: &str) -> Result<PathBuf, NewError> {
    let slug = slug(description);
    if slug.is_empty() {
        return Err(NewError::EmptySlug(description.to_string()));
    }
    std::fs::create_dir_all(dir).map_err(|e| NewError::Uncreatable(dir.to_path_buf(), e))?;
    let names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| NewError::Unreadable(dir.to_path_buf(), e))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    let path = dir.join(next_name(&style(&names), &slug, utc_now()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| NewError::Uncreatable(path.clone(), e))?;
    use std::io::Write;
    writeln!(file, "-- {}", description.trim())
        .map_err(|e| NewError::Uncreatable(path.clone(), e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn styles() {
        assert_eq!(style(&[]), Style::Padded { width: 3, last: 0 });
        assert_eq!(
            style(&names(&[
                "001_a.sql",
                "002_b.sql",
                "_template.sql",
                "README.md"
            ])),
            Style::Padded { width: 3, last: 2 }
        );
        assert_eq!(
            style(&names(&["1_a.sql", "9_b.sql"])),
            Style::Padded { width: 1, last: 9 }
        );
        assert_eq!(
            style(&names(&["0001_users.up.sql", "0001_users.down.sql"])),
            Style::Padded { width: 4, last: 1 }
        );
        assert_eq!(
            style(&names(&[
                "20260210000000_add_hostname",
                "20260101000000_init.sql"
            ])),
            Style::Timestamp {
                last: 20260210000000
            }
        );
        assert_eq!(
            style(&names(&["V1__a.sql", "V12__b.sql"])),
            Style::Flyway { last: 12 }
        );
    }

    #[test]
    fn names_and_slugs() {
        assert_eq!(slug("Add user e-mail!"), "add_user_e_mail");
        assert_eq!(slug("  --  "), "");
        assert_eq!(slug("Ünïcode Wörds"), "ünïcode_wörds");
        let now = 20261121044500;
        assert_eq!(
            next_name(&Style::Padded { width: 3, last: 0 }, "x", now),
            "001_x.sql"
        );
        assert_eq!(
            next_name(
                &Style::Padded {
                    width: 3,
                    last: 999
                },
                "x",
                now
            ),
            "1000_x.sql"
        );
        assert_eq!(
            next_name(&Style::Timestamp { last: 1 }, "x", now),
            "20261121044500_x.sql"
        );
        assert_eq!(
            next_name(
                &Style::Timestamp {
                    last: 20261121044500
                },
                "x",
                now
            ),
            "20261121044501_x.sql"
        );
        assert_eq!(
            next_name(&Style::Flyway { last: 12 }, "x", now),
            "V13__x.sql"
        );
    }

    #[test]
    fn creates_and_never_overwrites() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("migrations");
        let a = create(&dir, "Create users").unwrap();
        assert_eq!(a.file_name().unwrap(), "001_create_users.sql");
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "-- Create users\n");
        let b = create(&dir, "Add email").unwrap();
        assert_eq!(b.file_name().unwrap(), "002_add_email.sql");
        assert!(matches!(create(&dir, "!!!"), Err(NewError::EmptySlug(_))));
        let now = utc_now().to_string();
        assert_eq!(now.len(), 14, "{now}");
    }
}
