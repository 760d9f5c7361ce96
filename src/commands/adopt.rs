//! `baseline --from TOOL`: reading the history another migration tool kept, to record the same
//! migrations as applied in our table without running them. Pure: takes the rows, returns what
//! counts as applied and what is reported instead.

use std::collections::{HashMap, HashSet};

use crate::source::Version;

pub use crate::cli::Tool;

impl Tool {
    /// The tool's name, as `--from` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Dbmate => "dbmate",
            Tool::GolangMigrate => "golang-migrate",
            Tool::Flyway => "flyway",
            Tool::Sqlx => "sqlx",
            Tool::Prisma => "prisma",
            Tool::Goose => "goose",
            Tool::SqlMigrate => "sql-migrate",
            Tool::Tern => "tern",
            Tool::Diesel => "diesel",
        }
    }

    /// The table the tool keeps its history in (by default).
    pub fn table(self) -> &'static str {
        match self {
            Tool::Dbmate | Tool::GolangMigrate => "schema_migrations",
            Tool::Flyway => "flyway_schema_history",
            Tool::Sqlx => "_sqlx_migrations",
            Tool::Prisma => "_prisma_migrations",
            Tool::Goose => "goose_db_version",
            Tool::SqlMigrate => "gorp_migrations",
            Tool::Tern => "schema_version",
            Tool::Diesel => "__diesel_schema_migrations",
        }
    }

    /// The columns read from it, in the order `read` expects them.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Tool::Dbmate => &["version"],
            Tool::GolangMigrate => &["version", "dirty"],
            Tool::Flyway => &["version", "script", "success"],
            Tool::Sqlx => &["version", "description", "success"],
            Tool::Prisma => &[
                "migration_name",
                "finished_at",
                "rolled_back_at",
                "checksum",
            ],
            Tool::Goose => &["version_id", "is_applied", "id"],
            Tool::SqlMigrate => &["id"],
            Tool::Tern => &["version"],
            Tool::Diesel => &["version"],
        }
    }

    /// The columns the tool's own table has (as each tool creates it): a table of that name
    /// is the tool's only when it has all of them (and, where `exactly`, no others).
    fn shape(self) -> (&'static [&'static str], bool) {
        match self {
            Tool::Dbmate => (&["version"], true),
            Tool::GolangMigrate => (&["version", "dirty"], true),
            Tool::Flyway => (
                &["installed_rank", "version", "script", "checksum", "success"],
                false,
            ),
            Tool::Sqlx => (
                &[
                    "version",
                    "description",
                    "installed_on",
                    "success",
                    "checksum",
                    "execution_time",
                ],
                false,
            ),
            Tool::Prisma => (
                &[
                    "id",
                    "checksum",
                    "finished_at",
                    "migration_name",
                    "rolled_back_at",
                    "started_at",
                    "applied_steps_count",
                ],
                false,
            ),
            Tool::Goose => (&["id", "version_id", "is_applied", "tstamp"], false),
            Tool::SqlMigrate => (&["id", "applied_at"], true),
            Tool::Tern => (&["version"], true),
            Tool::Diesel => (&["version", "run_on"], true),
        }
    }
}

/// Every tool whose history `baseline --from` adopts.
pub const TOOLS: [Tool; 9] = [
    Tool::Prisma,
    Tool::Goose,
    Tool::Diesel,
    Tool::SqlMigrate,
    Tool::Tern,
    Tool::Flyway,
    Tool::Sqlx,
    Tool::GolangMigrate,
    Tool::Dbmate,
];

/// The tool whose history table this is, by its name and its columns (a table that only
/// shares the name, such as an app's own `schema_version`, is no tool's).
pub fn recognize(table: &str, columns: &[String]) -> Option<Tool> {
    TOOLS.into_iter().find(|t| {
        let (needed, exactly) = t.shape();
        t.table() == table
            && needed.iter().all(|c| columns.iter().any(|have| have == c))
            && (!exactly || columns.len() == needed.len())
    })
}

/// The history tables to look for: every tool's, once.
pub fn history_table_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = TOOLS.iter().map(|t| t.table()).collect();
    names.dedup();
    names.sort_unstable();
    names.dedup();
    names
}

/// What the tool's history says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Adoption {
    /// Versions the tool applied.
    pub versions: HashSet<Version>,
    /// Every version up to and including this one was applied (golang-migrate keeps only the
    /// latest).
    pub through: Option<Version>,
    /// Names the tool applied (Prisma names its migrations by their directory, sql-migrate by
    /// their file).
    pub names: HashSet<String>,
    /// The checksum the tool recorded for a name, where it is ours too (Prisma's SHA-256 of
    /// `migration.sql`): a file that differs is adopted, and shows as changed.
    pub checksums: HashMap<String, String>,
    /// The table held no row at all.
    pub empty: bool,
    /// diesel's versions as it wrote them (its digits, compared as diesel compares them).
    pub diesel: HashSet<String>,
    /// What is not adopted, and why: a dirty state, failed rows.
    pub reported: Vec<String>,
}

fn truthy(v: Option<&str>) -> bool {
    v.and_then(crate::backend::tracking::truth_of) == Some(true)
}

/// Reads the tool's rows (each value as text, `None` for NULL) in the order of `columns`.
pub fn read(tool: Tool, rows: &[Vec<Option<String>>]) -> Adoption {
    let mut a = Adoption {
        empty: rows.is_empty(),
        ..Adoption::default()
    };
    let version = |v: Option<&String>| v.and_then(|s| Version::parse(s.trim()));
    if tool == Tool::Goose {
        a.versions = goose_applied(rows);
        return a;
    }
    for row in rows {
        let col = |i: usize| row.get(i).and_then(|v| v.as_ref());
        match tool {
            Tool::Dbmate => {
                if let Some(v) = version(col(0)) {
                    a.versions.insert(v);
                }
            }
            Tool::GolangMigrate => {
                let Some(v) = version(col(0)) else { continue };
                if truthy(col(1).map(String::as_str)) {
                    a.reported.push(format!(
                        "golang-migrate is dirty at version {v}: that migration failed half-way \
                         (fix the schema, then `migrate force` a clean version); versions before \
                         it are adopted"
                    ));
                    // Everything before the dirty version was applied.
                    a.through = previous(&v);
                } else {
                    a.through = Some(v);
                }
            }
            Tool::Flyway => {
                // Baseline and repeatable rows have no version (or are no migration of ours).
                let Some(v) = version(col(0)) else { continue };
                if truthy(col(2).map(String::as_str)) {
                    a.versions.insert(v);
                } else {
                    a.reported.push(format!(
                        "flyway recorded {} (version {v}) as failed: not adopted",
                        col(1).map(String::as_str).unwrap_or("?")
                    ));
                }
            }
            Tool::Sqlx => {
                let Some(v) = version(col(0)) else { continue };
                if truthy(col(2).map(String::as_str)) {
                    a.versions.insert(v);
                } else {
                    a.reported.push(format!(
                        "sqlx recorded version {v} ({}) as failed (dirty): not adopted",
                        col(1).map(String::as_str).unwrap_or("?")
                    ));
                }
            }
            Tool::Prisma => {
                let Some(name) = col(0) else { continue };
                match (col(1), col(2)) {
                    (_, Some(_)) => {} // rolled back: as if never applied
                    (Some(_), None) => {
                        a.names.insert(name.clone());
                        if let Some(sum) = col(3) {
                            a.checksums.insert(name.clone(), sum.to_ascii_lowercase());
                        }
                    }
                    (None, None) => a.reported.push(format!(
                        "prisma recorded {name} as started but not finished (failed): not adopted"
                    )),
                }
            }
            Tool::SqlMigrate => {
                if let Some(name) = col(0) {
                    a.names.insert(name.clone());
                }
            }
            // tern keeps one row: how many migrations (numbered 1, 2, ...) are applied.
            Tool::Tern => {
                if let Some(v) = version(col(0)).filter(|v| v.to_string() != "0") {
                    a.through = Some(v);
                }
            }
            Tool::Diesel => {
                if let Some(v) = col(0) {
                    a.diesel.insert(v.trim().to_string());
                }
            }
            Tool::Goose => unreachable!("read above"),
        }
    }
    a
}

/// goose's applied versions: the newest row (by `id`) of each version decides, and
/// `is_applied = false` means rolled back (older goose wrote such rows); version 0 is the
/// row goose writes when it creates the table.
fn goose_applied(rows: &[Vec<Option<String>>]) -> HashSet<Version> {
    let mut newest: HashMap<Version, (i64, bool)> = HashMap::new();
    for row in rows {
        let col = |i: usize| row.get(i).and_then(|v| v.as_deref());
        let Some(v) = col(0).and_then(|s| Version::parse(s.trim())) else {
            continue;
        };
        let id = col(2)
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(i64::MIN);
        let applied = truthy(col(1));
        let e = newest.entry(v).or_insert((id, applied));
        if id >= e.0 {
            *e = (id, applied);
        }
    }
    newest
        .into_iter()
        .filter(|(v, (_, applied))| *applied && v.to_string() != "0")
        .map(|(v, _)| v)
        .collect()
}

/// The version just before `v` among whole numbers (golang-migrate versions are integers).
fn previous(v: &Version) -> Option<Version> {
    let n: u128 = v.to_string().parse().ok()?;
    n.checked_sub(1)
        .map(|p| Version::parse(&p.to_string()).expect("digits"))
}

impl Adoption {
    /// Whether the history holds anything the tool applied, or reports.
    pub fn anything(&self) -> bool {
        !(self.versions.is_empty()
            && self.through.is_none()
            && self.names.is_empty()
            && self.diesel.is_empty()
            && self.reported.is_empty())
    }

    /// Whether the tool applied the migration of this version and name.
    pub fn applied(&self, version: &Version, name: &str) -> bool {
        self.versions.contains(version)
            || self.through.as_ref().is_some_and(|t| version <= t)
            || self.names.contains(name)
            || self.diesel.contains(&crate::source::diesel::digits(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_tables_are_known_by_name_and_columns() {
        let cols = |c: &[&str]| -> Vec<String> { c.iter().map(|s| s.to_string()).collect() };
        assert_eq!(
            recognize("schema_migrations", &cols(&["version"])),
            Some(Tool::Dbmate)
        );
        assert_eq!(
            recognize("schema_migrations", &cols(&["version", "dirty"])),
            Some(Tool::GolangMigrate)
        );
        assert_eq!(
            recognize(
                "goose_db_version",
                &cols(&["id", "version_id", "is_applied", "tstamp"])
            ),
            Some(Tool::Goose)
        );
        assert_eq!(
            recognize("schema_version", &cols(&["version"])),
            Some(Tool::Tern)
        );
        // An app's own table of that name is no tool's.
        assert_eq!(
            recognize("schema_version", &cols(&["version", "installed_on"])),
            None
        );
        assert_eq!(
            recognize("__diesel_schema_migrations", &cols(&["version", "run_on"])),
            Some(Tool::Diesel)
        );
        assert_eq!(
            recognize("gorp_migrations", &cols(&["id", "applied_at"])),
            Some(Tool::SqlMigrate)
        );
        assert_eq!(recognize("gorp_migrations", &cols(&["id"])), None);
        assert!(history_table_names().contains(&"_prisma_migrations"));
    }

    fn rows(v: &[&[Option<&str>]]) -> Vec<Vec<Option<String>>> {
        v.iter()
            .map(|r| r.iter().map(|c| c.map(str::to_string)).collect())
            .collect()
    }

    fn ver(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn each_tool() {
        let a = read(
            Tool::Dbmate,
            &rows(&[&[Some("20151129054053")], &[Some("20151129054054")]]),
        );
        assert!(a.applied(&ver("20151129054053"), "x"));
        assert!(!a.applied(&ver("20151129054055"), "x"));

        let a = read(Tool::GolangMigrate, &rows(&[&[Some("3"), Some("f")]]));
        assert!(
            a.applied(&ver("1"), "x") && a.applied(&ver("3"), "x") && !a.applied(&ver("4"), "x")
        );
        assert!(a.reported.is_empty());
        let a = read(Tool::GolangMigrate, &rows(&[&[Some("3"), Some("true")]]));
        assert!(a.applied(&ver("2"), "x") && !a.applied(&ver("3"), "x"));
        assert_eq!(a.reported.len(), 1);

        let a = read(
            Tool::Flyway,
            &rows(&[
                &[None, Some("<< Flyway Baseline >>"), Some("t")],
                &[Some("1"), Some("V1__init.sql"), Some("t")],
                &[Some("1.1"), Some("V1_1__more.sql"), Some("true")],
                &[Some("2"), Some("V2__broken.sql"), Some("f")],
            ]),
        );
        assert!(
            a.applied(&ver("1"), "x") && a.applied(&ver("1.1"), "x") && !a.applied(&ver("2"), "x")
        );
        assert_eq!(
            a.reported,
            ["flyway recorded V2__broken.sql (version 2) as failed: not adopted"]
        );

        let a = read(
            Tool::Sqlx,
            &rows(&[
                &[Some("20220101000000"), Some("init"), Some("1")],
                &[Some("20220102000000"), Some("next"), Some("0")],
            ]),
        );
        assert!(a.applied(&ver("20220101000000"), "x"));
        assert_eq!(a.reported.len(), 1);

        let a = read(
            Tool::Prisma,
            &rows(&[
                &[Some("20210101000000_init"), Some("2021-01-01"), None],
                &[
                    Some("20210102000000_undone"),
                    Some("2021-01-02"),
                    Some("2021-01-03"),
                ],
                &[Some("20210103000000_failed"), None, None],
            ]),
        );
        assert!(a.applied(&ver("0"), "20210101000000_init"));
        assert!(!a.applied(&ver("0"), "20210102000000_undone"));
        assert_eq!(a.reported.len(), 1);
        let a = read(
            Tool::Goose,
            &rows(&[
                &[Some("0"), Some("true"), Some("1")],
                &[Some("1"), Some("t"), Some("2")],
                &[Some("2"), Some("t"), Some("3")],
                &[Some("2"), Some("f"), Some("4")], // rolled back, as older goose wrote it
                &[Some("3"), Some("1"), Some("5")],
            ]),
        );
        assert!(a.applied(&ver("1"), "x") && a.applied(&ver("3"), "x"));
        assert!(!a.applied(&ver("2"), "x") && !a.applied(&ver("0"), "x"));

        let a = read(Tool::SqlMigrate, &rows(&[&[Some("1_init.sql")]]));
        assert!(a.applied(&ver("1"), "1_init.sql") && !a.applied(&ver("1"), "1_other.sql"));

        let a = read(Tool::Tern, &rows(&[&[Some("3")]]));
        assert!(a.applied(&ver("3"), "x") && !a.applied(&ver("4"), "x"));
        let a = read(Tool::Tern, &rows(&[&[Some("0")]]));
        assert!(!a.applied(&ver("1"), "x"));

        let a = read(
            Tool::Diesel,
            &rows(&[&[Some("00000000000000")], &[Some("20190226002946")]]),
        );
        assert!(a.applied(&ver("20190226002946"), "2019-02-26-002946_create_user"));
        assert!(a.applied(&ver("0"), "00000000000000_diesel_initial_setup"));
        assert!(!a.applied(&ver("20190226002947"), "2019-02-26-002947_x"));
        assert!(read(Tool::Diesel, &[]).empty);

        let a = read(
            Tool::Prisma,
            &rows(&[&[Some("1_init"), Some("2021-01-01"), None, Some("ABC")]]),
        );
        assert_eq!(a.checksums.get("1_init").map(String::as_str), Some("abc"));
        use clap::ValueEnum;
        assert_eq!(Tool::from_str("migrate", true), Ok(Tool::GolangMigrate));
        assert!(Tool::from_str("liquibase", true).is_err());
    }
}
