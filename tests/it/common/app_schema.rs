//! A real application's schema for the round-trip tests: Zabbix 6.0's, 170-odd tables and
//! 230-odd indexes, for PostgreSQL and for SQLite, as Debian ships them in
//! `zabbix-server-pgsql` and `zabbix-proxy-sqlite3`. Fetched once with `apt-get download` (the
//! packages are only unpacked, never installed) into the target folder; not kept in this
//! repository.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The two schema files: (PostgreSQL, SQLite).
pub fn zabbix() -> &'static (PathBuf, PathBuf) {
    static FILES: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    FILES.get_or_init(fetch)
}

fn fetch() -> (PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("zabbix-schema");
    let pg = dir.join("postgres.sql");
    let sqlite = dir.join("sqlite.sql");
    if pg.exists() && sqlite.exists() {
        return (pg, sqlite);
    }
    let work = tempfile::tempdir().unwrap();
    let download = Command::new("apt-get")
        .args([
            "-q",
            "download",
            "zabbix-server-pgsql",
            "zabbix-proxy-sqlite3",
        ])
        .current_dir(work.path())
        .output()
        .expect("apt-get");
    assert!(
        download.status.success(),
        "cannot fetch the Zabbix schema (apt-get download zabbix-server-pgsql \
         zabbix-proxy-sqlite3; .ci/run refreshes the package lists): {}",
        String::from_utf8_lossy(&download.stderr)
    );
    let unpacked = work.path().join("x");
    for deb in std::fs::read_dir(work.path()).unwrap() {
        let deb = deb.unwrap().path();
        if deb.extension().is_some_and(|e| e == "deb") {
            let ok = Command::new("dpkg-deb")
                .arg("-x")
                .arg(&deb)
                .arg(&unpacked)
                .status()
                .unwrap();
            assert!(ok.success(), "dpkg-deb -x {}", deb.display());
        }
    }
    std::fs::create_dir_all(&dir).unwrap();
    for (from, to) in [
        ("usr/share/zabbix-server-pgsql/schema.sql.gz", &pg),
        ("usr/share/zabbix-proxy-sqlite3/schema.sql.gz", &sqlite),
    ] {
        let out = Command::new("gzip")
            .arg("-dc")
            .arg(unpacked.join(from))
            .output()
            .unwrap();
        assert!(out.status.success(), "gzip -dc {from}");
        // Written whole, then renamed: a test process killed halfway leaves no half file.
        let part = to.with_extension("part");
        std::fs::write(&part, &out.stdout).unwrap();
        std::fs::rename(&part, to).unwrap();
    }
    (pg, sqlite)
}

/// How many tables a schema text creates (the tracking table and SQLite's own left out: a
/// dump of a migrated database has them).
pub fn tables_in(sql: &str) -> usize {
    sql.lines()
        .filter(|l| l.to_ascii_uppercase().starts_with("CREATE TABLE"))
        .filter(|l| !l.contains("schema_migrations") && !l.contains("sqlite_"))
        .count()
}
