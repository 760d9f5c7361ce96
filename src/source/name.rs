//! The file-name grammar: what a directory entry's name says about the migration it holds.
//!
//! Pure: takes a name (and whether it is a directory), returns a value. No file system.

use std::cmp::Ordering;
use std::fmt;

/// The database family a migration variant is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    /// The lowercase name used in logs and in `MIGRATE_DIALECT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A migration version: the groups of digits of its leading number, compared numerically.
///
/// `001` and `1` are equal; `2` comes before `10`; Flyway's `1.2` is the groups `[1, 2]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(Vec<String>);

impl Version {
    /// Builds a version from digit groups as written (leading zeros allowed).
    pub fn from_groups<'a>(groups: impl IntoIterator<Item = &'a str>) -> Version {
        Version(
            groups
                .into_iter()
                .map(|g| {
                    let t = g.trim_start_matches('0');
                    if t.is_empty() {
                        "0".to_string()
                    } else {
                        t.to_string()
                    }
                })
                .collect(),
        )
    }

    /// Parses `1`, `001`, `1.2`, `1_2` (the forms `--through` accepts).
    pub fn parse(text: &str) -> Option<Version> {
        let groups: Vec<&str> = text.split(['.', '_']).collect();
        if groups
            .iter()
            .any(|g| g.is_empty() || !g.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        Some(Version::from_groups(groups))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        // Groups are digit strings without leading zeros: a longer one is a bigger number.
        for (a, b) in self.0.iter().zip(&other.0) {
            let o = a.len().cmp(&b.len()).then_with(|| a.cmp(b));
            if o != Ordering::Equal {
                return o;
            }
        }
        self.0.len().cmp(&other.0.len())
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

/// What a directory entry's name makes of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A migration file (or, for the directory form, a migration directory).
    Migration(NameParts),
    /// The down part of a migration: what undoes it.
    Down(DownOf),
    /// Not a migration; the reason is logged at debug level and named by `validate`.
    Ignored(Ignored),
}

/// Why an entry is not a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// `_template.sql`, `.swp` files and the like.
    Hidden,
    /// A golang-migrate `.down.sql` or a Flyway `U` undo file.
    Down,
    /// A file that is not SQL (nor a script).
    NotSql,
    /// A SQL file without a leading version number.
    NoVersion,
    /// An executable file with a `#!` line but no leading version number.
    ScriptWithoutVersion,
    /// A folder without a `migration.sql` or an `up.sql` (not a directory form).
    Folder,
    /// A goose migration written in Go (compiled into the app by goose), not SQL.
    GoMigration,
    /// A `.sql` name that starts like a version but is in none of the forms we read.
    UnknownForm(String),
}

/// The forms of names we read, for messages about names that are in none of them.
pub const FORMS: &str = "001_name.sql, 001_name.up.sql + .down.sql, V1__name.sql, R__name.sql, \
     20190226002946_name/migration.sql, 2019-02-26-002946_name/up.sql";

impl Ignored {
    /// Whether a file ignored for this reason looks like a migration someone meant to run (it
    /// is then named at warn level, not passed over in silence).
    pub fn looks_like_a_migration(&self) -> bool {
        matches!(
            self,
            Ignored::NoVersion
                | Ignored::ScriptWithoutVersion
                | Ignored::Down
                | Ignored::GoMigration
                | Ignored::UnknownForm(_)
        )
    }
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ignored::Hidden => "name starts with '_' or '.'",
            Ignored::Down => {
                "a down migration whose up migration is not there (NNN_name.down.sql undoes \
                 NNN_name.up.sql or NNN_name.sql)"
            }
            Ignored::NotSql => "not a .sql file",
            Ignored::NoVersion => "no leading version number",
            Ignored::ScriptWithoutVersion => {
                "an executable script without a leading version number"
            }
            Ignored::Folder => "a folder without migration.sql (Prisma) or up.sql (diesel)",
            Ignored::GoMigration => {
                "a goose migration written in Go: goose compiles it into your program, \
                 migrate-entrypoint runs only SQL and scripts (port it to SQL or a script)"
            }
            Ignored::UnknownForm(why) => return write!(f, "{why}; the forms read are {FORMS}"),
        })
    }
}

/// Which migration a down file undoes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownOf {
    /// golang-migrate and sqlx: `0004_users.down.sql` undoes `0004_users.up.sql` or
    /// `0004_users.sql` (the stem `0004_users` here), of this dialect.
    Name(String, Option<Dialect>),
    /// Flyway: `U3__x.sql` undoes version 3.
    Version(Version),
}

/// The parts of a migration's file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameParts {
    /// The key in the tracking table: the file name without its dialect part.
    pub name: String,
    pub version: Version,
    /// Human words from the name: `add_desktop_type` becomes `add desktop type`.
    pub description: String,
    /// `Some` for a dialect variant (`005_x.postgres.sql`).
    pub dialect: Option<Dialect>,
    /// A Flyway repeatable migration (`R__views.sql`): no version, applied after the versioned
    /// ones whenever its checksum changes.
    pub repeatable: bool,
}

/// Parses the name of a directory entry. `is_dir` selects the directory (Prisma) form, whose
/// migration is the `migration.sql` inside it.
pub fn parse(file_name: &str, is_dir: bool) -> Parsed {
    if file_name.starts_with('_') || file_name.starts_with('.') {
        return Parsed::Ignored(Ignored::Hidden);
    }
    if is_dir {
        return match split_version(file_name) {
            Some((version, rest)) => Parsed::Migration(NameParts {
                name: file_name.to_string(),
                version,
                description: words(rest),
                dialect: None,
                repeatable: false,
            }),
            None => Parsed::Ignored(Ignored::NoVersion),
        };
    }
    let Some(stem) = file_name.strip_suffix(".sql") else {
        return Parsed::Ignored(Ignored::NotSql);
    };
    let (stem, dialect) = strip_dialect(stem);
    if let Some(up) = stem.strip_suffix(".down") {
        // `x.down.postgres.sql`, or the dialect before `.down`: `x.postgres.down.sql`.
        let (up, dialect) = match dialect {
            Some(d) => (up.to_string(), Some(d)),
            None => strip_dialect(up),
        };
        return Parsed::Down(DownOf::Name(up, dialect));
    }
    let name = match dialect {
        Some(_) => format!("{stem}.sql"),
        None => file_name.to_string(),
    };
    // golang-migrate's `.up` stays in the name (it is part of the file name) but not in the words.
    let words_stem = stem.strip_suffix(".up").unwrap_or(&stem);

    if let Some(rest) = words_stem.strip_prefix("R__") {
        return Parsed::Migration(NameParts {
            name,
            version: Version(Vec::new()),
            description: words(rest),
            dialect,
            repeatable: true,
        });
    }
    if let Some(rest) = words_stem.strip_prefix('U')
        && let Some((version, _)) = flyway_version(rest)
    {
        return Parsed::Down(DownOf::Version(version));
    }
    if let Some(rest) = words_stem.strip_prefix('V')
        && let Some((version, desc)) = flyway_version(rest)
    {
        return Parsed::Migration(NameParts {
            name,
            version,
            description: words(desc),
            dialect,
            repeatable: false,
        });
    }
    match split_version(words_stem) {
        Some((version, rest)) => Parsed::Migration(NameParts {
            name,
            version,
            description: words(rest),
            dialect,
            repeatable: false,
        }),
        None => Parsed::Ignored(unknown_form(words_stem)),
    }
}

/// Why a `.sql` name without a version we read is not a migration: a name that starts like a
/// version (`V0001.Initial_Schema.up.sql`, `1abc.sql`) is in a form we do not read.
fn unknown_form(stem: &str) -> Ignored {
    let flyway_like = stem
        .strip_prefix(['V', 'U'])
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()));
    if flyway_like {
        let v: String = stem
            .chars()
            .take_while(|c| *c != '_' && *c != '.')
            .collect();
        return Ignored::UnknownForm(format!(
            "it starts like a Flyway version (`{v}`) but Flyway's form is V<version>__<name>.sql, \
             with two underscores"
        ));
    }
    if stem.starts_with(|c: char| c.is_ascii_digit()) {
        let v: String = stem
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        return Ignored::UnknownForm(format!(
            "it starts with `{v}`, which is no version: the number must be followed by `_`, `-` or `.`"
        ));
    }
    Ignored::NoVersion
}

/// Whether a down file of this stem (`0004_users`) undoes the migration of this name.
pub fn pairs_with(stem: &str, name: &str) -> bool {
    name.strip_prefix(stem)
        .is_some_and(|rest| rest == ".up.sql" || rest == ".sql")
}

/// Whether a file is a goose migration written in Go (`00002_add_users.go`).
pub fn is_go(file_name: &str) -> bool {
    file_name.ends_with(".go")
}

/// Parses the name of a script migration (`006_backfill.py`, `007_fix.postgres.sh`, `8_x`):
/// the version and words come from the name without its extension; the name is the file name
/// without the dialect part. Whether the file is a script (executable, `#!`) is the caller's.
pub fn parse_script(file_name: &str) -> Option<NameParts> {
    if file_name.starts_with('_') || file_name.starts_with('.') {
        return None;
    }
    let (stem, ext) = match file_name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() && !e.bytes().all(|b| b.is_ascii_digit()) => (s, Some(e)),
        _ => (file_name, None),
    };
    let (stem, dialect) = strip_dialect(stem);
    let (version, rest) = split_version(&stem)?;
    let name = match ext {
        Some(e) => format!("{stem}.{e}"),
        None => stem.clone(),
    };
    Some(NameParts {
        name,
        version,
        description: words(rest),
        dialect,
        repeatable: false,
    })
}

/// Removes a `.postgres`/`.sqlite` part from the end of a stem (before or after `.up`).
pub(crate) fn strip_dialect(stem: &str) -> (String, Option<Dialect>) {
    const SUFFIXES: [(&str, Dialect); 5] = [
        (".postgres", Dialect::Postgres),
        (".postgresql", Dialect::Postgres),
        (".pg", Dialect::Postgres),
        (".sqlite", Dialect::Sqlite),
        (".sqlite3", Dialect::Sqlite),
    ];
    let (base, up) = match stem.strip_suffix(".up") {
        Some(b) => (b, ".up"),
        None => (stem, ""),
    };
    for (suffix, dialect) in SUFFIXES {
        if let Some(b) = base.strip_suffix(suffix) {
            return (format!("{b}{up}"), Some(dialect));
        }
    }
    (stem.to_string(), None)
}

/// `001_add_x` → (1, "add_x"); `20260210000000-x` → (20260210000000, "x"); `7` → (7, "");
/// diesel's `2019-02-26-002946_x` → (20190226002946, "x").
fn split_version(stem: &str) -> Option<(Version, &str)> {
    if let Some((v, rest)) = diesel_version(stem) {
        return Some((v, rest));
    }
    let digits = stem.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let (num, rest) = stem.split_at(digits);
    let rest = match rest.chars().next() {
        None => rest,
        Some('_' | '-' | '.') => &rest[1..],
        // `1abc.sql` is not a versioned name: the number must stand on its own.
        Some(_) => return None,
    };
    Some((Version::from_groups([num]), rest))
}

/// diesel's timestamp `YYYY-MM-DD-HHMMSS_`, read as its digits.
fn diesel_version(stem: &str) -> Option<(Version, &str)> {
    let b = stem.as_bytes();
    let shape = b"0000-00-00-000000_";
    if b.len() < shape.len() {
        return None;
    }
    let fits = shape.iter().zip(b).all(|(s, c)| match s {
        b'0' => c.is_ascii_digit(),
        other => other == c,
    });
    if !fits {
        return None;
    }
    let digits: String = stem[..shape.len() - 1]
        .chars()
        .filter(|c| *c != '-')
        .collect();
    Some((
        Version::from_groups([digits.as_str()]),
        &stem[shape.len()..],
    ))
}

/// Flyway's `1.2.3__desc` or `1_2__desc` (after the `V`): version groups, then `__`.
fn flyway_version(rest: &str) -> Option<(Version, &str)> {
    let sep = rest.find("__")?;
    let (ver, desc) = (&rest[..sep], &rest[sep + 2..]);
    let version = Version::parse(ver)?;
    Some((version, desc))
}

fn words(rest: &str) -> String {
    rest.split(['_', '-'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, version: &str, description: &str, dialect: Option<Dialect>) -> Parsed {
        Parsed::Migration(NameParts {
            name: name.into(),
            version: Version::parse(version).unwrap(),
            description: description.into(),
            dialect,
            repeatable: false,
        })
    }

    #[test]
    fn file_names() {
        use Dialect::*;
        let cases: Vec<(&str, Parsed)> = vec![
            (
                "001_add_desktop_type_column.sql",
                m(
                    "001_add_desktop_type_column.sql",
                    "1",
                    "add desktop type column",
                    None,
                ),
            ),
            (
                "20260210000000_add_hostname.sql",
                m(
                    "20260210000000_add_hostname.sql",
                    "20260210000000",
                    "add hostname",
                    None,
                ),
            ),
            ("7.sql", m("7.sql", "7", "", None)),
            ("2-x.sql", m("2-x.sql", "2", "x", None)),
            (
                "V3__add_index.sql",
                m("V3__add_index.sql", "3", "add index", None),
            ),
            ("V1.2__x.sql", m("V1.2__x.sql", "1.2", "x", None)),
            ("V1_2__x.sql", m("V1_2__x.sql", "1.2", "x", None)),
            (
                "0004_users.up.sql",
                m("0004_users.up.sql", "4", "users", None),
            ),
            (
                "0004_users.down.sql",
                Parsed::Down(DownOf::Name("0004_users".into(), None)),
            ),
            (
                "0004_users.postgres.down.sql",
                Parsed::Down(DownOf::Name("0004_users".into(), Some(Postgres))),
            ),
            (
                "0004_users.down.sqlite.sql",
                Parsed::Down(DownOf::Name("0004_users".into(), Some(Sqlite))),
            ),
            (
                "U3__undo.sql",
                Parsed::Down(DownOf::Version(Version::parse("3").unwrap())),
            ),
            (
                "R__views.sql",
                Parsed::Migration(NameParts {
                    name: "R__views.sql".into(),
                    version: Version(Vec::new()),
                    description: "views".into(),
                    dialect: None,
                    repeatable: true,
                }),
            ),
            (
                "005_search.postgres.sql",
                m("005_search.sql", "5", "search", Some(Postgres)),
            ),
            (
                "005_search.sqlite.sql",
                m("005_search.sql", "5", "search", Some(Sqlite)),
            ),
            (
                "006_x.postgres.up.sql",
                m("006_x.up.sql", "6", "x", Some(Postgres)),
            ),
            ("_template.sql", Parsed::Ignored(Ignored::Hidden)),
            (".001_x.sql.swp", Parsed::Ignored(Ignored::Hidden)),
            ("README.md", Parsed::Ignored(Ignored::NotSql)),
            ("001_x.py", Parsed::Ignored(Ignored::NotSql)),
            ("init.sql", Parsed::Ignored(Ignored::NoVersion)),
            ("Vx__y.sql", Parsed::Ignored(Ignored::NoVersion)),
            (
                "2019-02-26-002946_create_user.sql",
                m(
                    "2019-02-26-002946_create_user.sql",
                    "20190226002946",
                    "create user",
                    None,
                ),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input, false), want, "{input}");
        }
    }

    #[test]
    fn names_in_no_form_we_read_say_so() {
        for (name, says) in [
            ("V0001.Initial_Schema.up.sql", "`V0001`"),
            ("1abc.sql", "`1abc`"),
        ] {
            match parse(name, false) {
                Parsed::Ignored(why @ Ignored::UnknownForm(_)) => {
                    let text = why.to_string();
                    assert!(
                        text.contains(says) && text.contains("V1__name.sql"),
                        "{text}"
                    );
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(pairs_with("002_b", "002_b.sql"));
        assert!(pairs_with("002_b", "002_b.up.sql"));
        assert!(!pairs_with("002_b", "002_bc.sql"));
    }

    #[test]
    fn script_names() {
        assert_eq!(
            parse_script("006_backfill_hostnames.py"),
            Some(NameParts {
                name: "006_backfill_hostnames.py".into(),
                version: Version::parse("6").unwrap(),
                description: "backfill hostnames".into(),
                dialect: None,
                repeatable: false,
            })
        );
        let p = parse_script("007_fix.postgres.sh").unwrap();
        assert_eq!(
            (p.name.as_str(), p.dialect),
            ("007_fix.sh", Some(Dialect::Postgres))
        );
        assert_eq!(parse_script("8_plain").unwrap().name, "8_plain");
        assert_eq!(parse_script("backfill.py"), None);
        assert_eq!(parse_script("_template.py"), None);
    }

    #[test]
    fn directory_names() {
        assert_eq!(
            parse("20260210000000_add_hostname_fallback", true),
            m(
                "20260210000000_add_hostname_fallback",
                "20260210000000",
                "add hostname fallback",
                None
            )
        );
        assert_eq!(
            parse("migration_lock.toml", true),
            Parsed::Ignored(Ignored::NoVersion)
        );
        assert_eq!(parse("_drafts", true), Parsed::Ignored(Ignored::Hidden));
    }

    #[test]
    fn versions_compare_as_numbers() {
        let v = |s| Version::parse(s).unwrap();
        assert!(v("2") < v("10"));
        assert_eq!(v("001"), v("1"));
        assert!(v("0009") < v("10"));
        assert!(v("1.2") < v("1.10"));
        assert!(v("1") < v("1.0"));
        assert!(v("99999999999999999999999") > v("20260210000000"));
        assert_eq!(v("0").to_string(), "0");
        assert_eq!(Version::parse("1.x"), None);
        assert_eq!(Version::parse(""), None);
    }
}
