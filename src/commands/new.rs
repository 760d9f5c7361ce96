//! `new DESCRIPTION`: the next migration, numbered after every configured folder's last one,
//! in the style and layout the folder already uses (zero-padded numbers, UTC timestamps or
//! Flyway's `V`; plain files, golang-migrate `.up`/`.down` pairs, dbmate sections or Prisma
//! folders), from the folder's `_template.*` when it has one; never overwriting.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::Finished;
use crate::cli::ScriptKind;
use crate::settings::Settings;
use crate::source::format::{self, Form};
use crate::source::name::{self, Parsed};

/// Creates the next migration in `dir`, else the first migrations directory; prints the path
/// of each file it created.
pub fn run(
    s: &Settings,
    description: &str,
    dir: Option<&Path>,
    script: Option<ScriptKind>,
) -> Finished {
    let dir = dir
        .or(s.dirs.first().map(|d| d.as_path()))
        .unwrap_or(Path::new(crate::settings::DEFAULT_DIR));
    let others: Vec<&Path> = s.dirs.iter().map(PathBuf::as_path).collect();
    let created = create(dir, &others, description, script, utc_now());
    match &created {
        Ok(paths) => {
            for p in paths {
                println!("{}", p.display());
            }
        }
        Err(e) => tracing::error!("{e}"),
    }
    Finished::New(created.map(|mut p| p.remove(0)))
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

/// How the folder lays its migrations out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One `.sql` file each.
    Plain,
    /// golang-migrate and sqlx: `NNN_x.up.sql` with its `NNN_x.down.sql`.
    UpDown,
    /// One file with up and down sections, in this tool's form (dbmate, goose, sql-migrate,
    /// tern).
    Sections(Form),
    /// Prisma: a `<timestamp>_x/` folder holding `migration.sql`.
    Folder,
    /// diesel: a `YYYY-MM-DD-HHMMSS_x/` folder holding `up.sql` and `down.sql`.
    Diesel,
}

/// One entry of a migrations folder: its name, whether it is a folder, and (for a `.sql`
/// file) the form its sections are in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub name: String,
    pub is_dir: bool,
    pub form: Form,
    /// A folder holding `up.sql` (diesel's form).
    pub diesel: bool,
}

/// The version number a name starts with, when it names a migration (`V3__x.sql`: 3).
fn number(e: &Seen) -> Option<(u128, bool, usize)> {
    if e.diesel {
        let v = crate::source::diesel::parse(&e.name)?.version.to_string();
        let digits = v.split('.').next()?;
        return Some((digits.parse().ok()?, false, digits.len()));
    }
    let migration = matches!(name::parse(&e.name, e.is_dir), Parsed::Migration(_))
        || (!e.is_dir && name::parse_script(&e.name).is_some());
    if !migration {
        return None;
    }
    let (rest, flyway) = match e.name.strip_prefix('V') {
        Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => (r, true),
        _ => (e.name.as_str(), false),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((digits.parse().ok()?, flyway, digits.len()))
}

/// The numbering of a folder (`seen`), continuing after the last number in any of the
/// configured folders (`all`). `001` style when there are none.
pub fn style(seen: &[Seen], all: &[Seen]) -> Style {
    let numbers: Vec<(u128, bool, usize)> = seen.iter().filter_map(number).collect();
    let last = all
        .iter()
        .chain(seen)
        .filter_map(number)
        .map(|n| n.0)
        .max()
        .unwrap_or(0);
    let flyway = numbers.iter().filter(|n| n.1).count();
    if flyway * 2 > numbers.len() {
        return Style::Flyway { last };
    }
    let timestamps = numbers
        .iter()
        .any(|(n, _, len)| *len == 14 && (19..=20).contains(&(n / 10u128.pow(12))));
    if timestamps || matches!(layout(seen), Layout::Folder | Layout::Diesel) {
        return Style::Timestamp { last };
    }
    let width = numbers.iter().map(|n| n.2).max().unwrap_or(3).max(1);
    Style::Padded { width, last }
}

/// The layout most of the folder's migrations use.
pub fn layout(seen: &[Seen]) -> Layout {
    let migrations: Vec<&Seen> = seen.iter().filter(|e| number(e).is_some()).collect();
    let count = |f: fn(&Seen) -> bool| migrations.iter().filter(|e| f(e)).count();
    let (folders, diesel, pairs) = (
        count(|e| e.is_dir && !e.diesel),
        count(|e| e.diesel),
        count(|e| e.name.ends_with(".up.sql")),
    );
    let (sections, form) = [Form::Dbmate, Form::Goose, Form::SqlMigrate, Form::Tern]
        .into_iter()
        .map(|f| (migrations.iter().filter(|e| e.form == f).count(), f))
        .max_by_key(|(n, _)| *n)
        .unwrap_or((0, Form::Plain));
    let most = folders.max(diesel).max(pairs).max(sections);
    match most {
        0 => Layout::Plain,
        n if n == diesel => Layout::Diesel,
        n if n == folders => Layout::Folder,
        n if n == pairs => Layout::UpDown,
        _ => Layout::Sections(form),
    }
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

/// The next migration's name without extension. `now` is the UTC time as `YYYYMMDDHHMMSS`.
pub fn next_name(style: &Style, slug: &str, now: u128) -> String {
    match style {
        Style::Padded { width, last } => format!("{:0width$}_{slug}", last + 1),
        // Two in the same second still come out in order.
        Style::Timestamp { last } => format!("{}_{slug}", now.max(last + 1)),
        Style::Flyway { last } => format!("V{}__{slug}", last + 1),
    }
}

/// The name `new` would give a file now named `file_name` (`setup.sql`, `backfill.py`): the
/// next free version of the catalog, in its style, with the file's own words and extension.
pub fn free_name(catalog: &crate::source::Catalog, file_name: &str) -> String {
    let seen: Vec<Seen> = catalog
        .migrations
        .iter()
        .filter(|m| !m.repeatable)
        .map(|m| Seen {
            name: m.name.clone(),
            is_dir: false,
            form: Form::Plain,
            diesel: m.variants.iter().any(|v| v.path.ends_with("up.sql")),
        })
        .collect();
    let (stem, ext) = file_name.rsplit_once('.').unwrap_or((file_name, "sql"));
    let base = next_name(&style(&seen, &seen), &slug(stem), utc_now());
    format!("{base}.{ext}")
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

/// The entries of a folder (none when it does not exist yet).
fn entries(dir: &Path) -> Result<Vec<Seen>, NewError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(NewError::Unreadable(dir.to_path_buf(), e)),
    };
    Ok(rd
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            let is_dir = e.path().is_dir();
            let diesel = is_dir && e.path().join("up.sql").is_file();
            let form = match std::fs::read_to_string(e.path()) {
                Ok(text) if name.ends_with(".sql") && !is_dir => format::layout(&text).form,
                _ => Form::Plain,
            };
            Some(Seen {
                name,
                is_dir,
                form,
                diesel,
            })
        })
        .collect())
}

/// The files of the next migration: (path, content, executable).
pub fn files(
    dir: &Path,
    base: &str,
    layout: Layout,
    script: Option<ScriptKind>,
    template: Option<String>,
    description: &str,
) -> Vec<(PathBuf, String, bool)> {
    let header = format!("-- {}\n", description.trim());
    if let Some(kind) = script {
        let body = template.unwrap_or_else(|| kind.body(description));
        return vec![(dir.join(format!("{base}.{}", kind.extension())), body, true)];
    }
    let body = template.unwrap_or(header);
    match layout {
        Layout::Plain => vec![(dir.join(format!("{base}.sql")), body, false)],
        Layout::UpDown => vec![
            (dir.join(format!("{base}.up.sql")), body.clone(), false),
            (dir.join(format!("{base}.down.sql")), body, false),
        ],
        Layout::Sections(form) => vec![(
            dir.join(format!("{base}.sql")),
            format!("{body}{}", sections(form)),
            false,
        )],
        Layout::Folder => vec![(dir.join(base).join("migration.sql"), body, false)],
        // diesel's own name for the folder: the timestamp with its dashes.
        Layout::Diesel => {
            let folder = dir.join(diesel_name(base));
            vec![
                (folder.join("up.sql"), body, false),
                (
                    folder.join("down.sql"),
                    "-- This file should undo anything in `up.sql`\n".into(),
                    false,
                ),
            ]
        }
    }
}

/// An empty migration's up and down sections, as each tool's own `create` writes them.
fn sections(form: Form) -> &'static str {
    match form {
        Form::Goose => {
            "-- +goose Up\n-- +goose StatementBegin\n\n-- +goose StatementEnd\n\n-- +goose Down\n-- +goose StatementBegin\n\n-- +goose StatementEnd\n"
        }
        Form::SqlMigrate => "-- +migrate Up\n\n\n-- +migrate Down\n\n",
        Form::Tern => "\n\n---- create above / drop below ----\n\n",
        Form::Dbmate | Form::Plain => "-- migrate:up\n\n\n-- migrate:down\n\n",
    }
}

/// `20260102030405_x` as diesel names it: `2026-01-02-030405_x`.
fn diesel_name(base: &str) -> String {
    let (ts, rest) = base.split_once('_').unwrap_or((base, ""));
    if ts.len() != 14 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return base.to_string();
    }
    format!(
        "{}-{}-{}-{}_{rest}",
        &ts[..4],
        &ts[4..6],
        &ts[6..8],
        &ts[8..]
    )
}

/// Creates the next migration in `dir` (and `dir` itself when missing), numbered after the
/// last one of every folder in `all`; returns the paths created.
pub fn create(
    dir: &Path,
    all: &[&Path],
    description: &str,
    script: Option<ScriptKind>,
    now: u128,
) -> Result<Vec<PathBuf>, NewError> {
    let slug = slug(description);
    if slug.is_empty() {
        return Err(NewError::EmptySlug(description.to_string()));
    }
    std::fs::create_dir_all(dir).map_err(|e| NewError::Uncreatable(dir.to_path_buf(), e))?;
    let seen = entries(dir)?;
    let mut everywhere = Vec::new();
    for d in all {
        everywhere.extend(entries(d)?);
    }
    let layout = layout(&seen);
    let base = next_name(&style(&seen, &everywhere), &slug, now);
    let extension = script.map_or("sql", |k| k.extension());
    let template = std::fs::read_to_string(dir.join(format!("_template.{extension}"))).ok();
    let planned = files(dir, &base, layout, script, template, description);
    let mut created = Vec::new();
    for (path, text, executable) in planned {
        write_new(&path, &text, executable)?;
        created.push(path);
    }
    Ok(created)
}

/// Writes a file that must not exist yet.
fn write_new(path: &Path, text: &str, executable: bool) -> Result<(), NewError> {
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e| NewError::Uncreatable(path.to_path_buf(), e);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if executable { 0o755 } else { 0o644 })
        .open(path)
        .map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)
}

impl ScriptKind {
    /// The file's extension.
    pub fn extension(self) -> &'static str {
        match self {
            ScriptKind::Py => "py",
            ScriptKind::Sh => "sh",
        }
    }

    /// A starting body: the `#!` line, and how to reach the database.
    pub fn body(self, description: &str) -> String {
        let d = description.trim();
        match self {
            ScriptKind::Py => format!(
                "#!/usr/bin/env python3\n\
                 # {d}\n\
                 # Runs once, in this folder, outside any transaction; exit status 0 is success.\n\
                 # The database: DATABASE_URL (postgres://... or sqlite:/abs/path.db), and for\n\
                 # SQLite its file in SQLITE_PATH; MIGRATE_DIALECT is postgres or sqlite.\n\
                 import os\n\
                 import sqlite3\n\
                 \n\
                 if os.environ[\"MIGRATE_DIALECT\"] == \"sqlite\":\n\
                 \x20   db = sqlite3.connect(os.environ[\"SQLITE_PATH\"])\n\
                 else:\n\
                 \x20   import psycopg  # pip install psycopg\n\
                 \x20   db = psycopg.connect(os.environ[\"DATABASE_URL\"])\n\
                 \n\
                 with db:\n\
                 \x20   pass  # db.execute(\"UPDATE ...\")\n\
                 print(\"done\")\n"
            ),
            ScriptKind::Sh => format!(
                "#!/bin/sh\n\
                 # {d}\n\
                 # Runs once, in this folder, outside any transaction; exit status 0 is success.\n\
                 # The database: DATABASE_URL (postgres://... or sqlite:/abs/path.db), and for\n\
                 # SQLite its file in SQLITE_PATH; MIGRATE_DIALECT is postgres or sqlite.\n\
                 set -eu\n\
                 if [ \"$MIGRATE_DIALECT\" = sqlite ]; then\n\
                 \x20 sqlite3 \"$SQLITE_PATH\" 'SELECT 1;'\n\
                 else\n\
                 \x20 psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 -c 'SELECT 1;'\n\
                 fi\n"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(v: &[&str]) -> Vec<Seen> {
        v.iter()
            .map(|s| Seen {
                name: s.trim_end_matches('/').to_string(),
                is_dir: s.ends_with('/'),
                form: Form::Plain,
                diesel: false,
            })
            .collect()
    }

    #[test]
    fn styles() {
        assert_eq!(style(&[], &[]), Style::Padded { width: 3, last: 0 });
        assert_eq!(
            style(
                &seen(&["001_a.sql", "002_b.sql", "_template.sql", "README.md"]),
                &[]
            ),
            Style::Padded { width: 3, last: 2 }
        );
        assert_eq!(
            style(&seen(&["1_a.sql", "9_b.sql"]), &[]),
            Style::Padded { width: 1, last: 9 }
        );
        assert_eq!(
            style(&seen(&["0001_users.up.sql", "0001_users.down.sql"]), &[]),
            Style::Padded { width: 4, last: 1 }
        );
        assert_eq!(
            style(
                &seen(&["20260210000000_add_hostname/", "20260101000000_init.sql"]),
                &[]
            ),
            Style::Timestamp {
                last: 20260210000000
            }
        );
        assert_eq!(
            style(&seen(&["V1__a.sql", "V12__b.sql"]), &[]),
            Style::Flyway { last: 12 }
        );
        // Numbered after every folder's last migration.
        assert_eq!(
            style(&[], &seen(&["001_a.sql", "002_b.py"])),
            Style::Padded { width: 3, last: 2 }
        );
    }

    #[test]
    fn layouts() {
        assert_eq!(layout(&seen(&["001_a.sql"])), Layout::Plain);
        assert_eq!(
            layout(&seen(&["1_a.up.sql", "1_a.down.sql"])),
            Layout::UpDown
        );
        assert_eq!(
            layout(&seen(&["20260101000000_init/", "migration_lock.toml"])),
            Layout::Folder
        );
        let mut dbmate = seen(&["20260101000000_a.sql"]);
        dbmate[0].form = Form::Dbmate;
        assert_eq!(layout(&dbmate), Layout::Sections(Form::Dbmate));
        let mut goose = seen(&["00001_a.sql", "00002_b.sql"]);
        goose[0].form = Form::Goose;
        goose[1].form = Form::Goose;
        assert_eq!(layout(&goose), Layout::Sections(Form::Goose));
    }

    #[test]
    fn names_and_slugs() {
        assert_eq!(slug("Add user e-mail!"), "add_user_e_mail");
        assert_eq!(slug("  --  "), "");
        assert_eq!(slug("Ünïcode Wörds"), "ünïcode_wörds");
        let now = 20261121044500;
        let p = |width, last| Style::Padded { width, last };
        assert_eq!(next_name(&p(3, 0), "x", now), "001_x");
        assert_eq!(next_name(&p(3, 999), "x", now), "1000_x");
        let t = |last| Style::Timestamp { last };
        assert_eq!(next_name(&t(1), "x", now), "20261121044500_x");
        assert_eq!(next_name(&t(now), "x", now), "20261121044501_x");
        assert_eq!(next_name(&Style::Flyway { last: 12 }, "x", now), "V13__x");
    }

    #[test]
    fn creates_in_the_folders_layout_and_never_overwrites() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("migrations");
        let now = 20261121044500;
        let a = create(&dir, &[], "Create users", None, now).unwrap();
        assert_eq!(a, [dir.join("001_create_users.sql")]);
        assert_eq!(std::fs::read_to_string(&a[0]).unwrap(), "-- Create users\n");
        let b = create(&dir, &[], "Add email", Some(ScriptKind::Py), now).unwrap();
        assert_eq!(b, [dir.join("002_add_email.py")]);
        assert!(
            std::fs::read_to_string(&b[0])
                .unwrap()
                .starts_with("#!/usr/bin/env python3\n")
        );
        assert!(matches!(
            create(&dir, &[], "!!!", None, now),
            Err(NewError::EmptySlug(_))
        ));
        assert_eq!(utc_now().to_string().len(), 14);
    }
}
