//! `baseline --from TOOL`: reading the history another migration tool kept, to record the same
//! migrations as applied in our table without running them. Pure: takes the rows, returns what
//! counts as applied and what is reported instead.

use std::collections::HashSet;

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
        }
    }

    /// The table the tool keeps its history in (by default).
    pub fn table(self) -> &'static str {
        match self {
            Tool::Dbmate | Tool::GolangMigrate => "schema_migrations",
            Tool::Flyway => "flyway_schema_history",
            Tool::Sqlx => "_sqlx_migrations",
            Tool::Prisma => "_prisma_migrations",
        }
    }

    /// The columns read from it, in the order `read` expects them.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Tool::Dbmate => &["version"],
            Tool::GolangMigrate => &["version", "dirty"],
            Tool::Flyway => &["version", "script", "success"],
            Tool::Sqlx => &["version", "description", "success"],
            Tool::Prisma => &["migration_name", "finished_at", "rolled_back_at"],
        }
    }
}

/// What the tool's history says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Adoption {
    /// Versions the tool applied.
    pub versions: HashSet<Version>,
    /// Every version up to and including this one was applied (golang-migrate keeps only the
    /// latest).
    pub through: Option<Version>,
    /// Names the tool applied (Prisma names its migrations by their directory).
    pub names: HashSet<String>,
    /// What is not adopted, and why: a dirty state, failed rows.
    pub reported: Vec<String>,
}

fn truthy(v: Option<&str>) -> bool {
    v.and_then(crate::backend::tracking::truth_of) == Some(true)
}

/// Reads the tool's rows (each value as text, `None` for NULL) in the order of `columns`.
pub fn read(tool: Tool, rows: &[Vec<Option<String>>]) -> Adoption {
    let mut a = Adoption::default();
    let version = |v: Option<&String>| v.and_then(|s| Version::parse(s.trim()));
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
                    }
                    (None, None) => a.reported.push(format!(
                        "prisma recorded {name} as started but not finished (failed): not adopted"
                    )),
                }
            }
        }
    }
    a
}

/// The version just before `v` among whole numbers (golang-migrate versions are integers).
fn previous(v: &Version) -> Option<Version> {
    let n: u128 = v.to_string().parse().ok()?;
    n.checked_sub(1)
        .map(|p| Version::parse(&p.to_string()).expect("digits"))
}

impl Adoption {
    /// Whether the tool applied the migration of this version and name.
    pub fn applied(&self, version: &Version, name: &str) -> bool {
        self.versions.contains(version)
            || self.through.as_ref().is_some_and(|t| version <= t)
            || self.names.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        use clap::ValueEnum;
        assert_eq!(Tool::from_str("migrate", true), Ok(Tool::GolangMigrate));
        assert!(Tool::from_str("liquibase", true).is_err());
    }
}
