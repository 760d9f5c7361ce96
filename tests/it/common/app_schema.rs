//! Real applications' schemas for the round-trip tests, each for PostgreSQL and for SQLite,
//! fetched once into the target folder, not kept in this repository:
//!
//! - Zabbix 6.0's, 170-odd tables and 230-odd indexes, as Debian ships them in
//!   `zabbix-server-pgsql` and `zabbix-proxy-sqlite3` (`apt-get download`: the packages are
//!   only unpacked, never installed);
//! - Synapse's (the Matrix server) full schema 72 of its main database, 130-odd tables,
//!   sequences, a trigger function, and on SQLite an FTS4 table, as its wheel on PyPI ships
//!   them (`pip download` into a venv of its own: the wheel is only read, never installed).

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

/// The Synapse release whose schema files the tests know.
const SYNAPSE: &str = "matrix-synapse==1.163.2";

/// Synapse's two full schema files: (PostgreSQL, SQLite).
pub fn synapse() -> &'static (PathBuf, PathBuf) {
    static FILES: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    FILES.get_or_init(fetch_synapse)
}

fn fetch_synapse() -> (PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("synapse-schema");
    let pg = dir.join("full.sql.postgres");
    let sqlite = dir.join("full.sql.sqlite");
    if pg.exists() && sqlite.exists() {
        return (pg, sqlite);
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("synapse-venv");
    if !venv.join("bin/pip").exists() {
        let ok = Command::new("/usr/bin/python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv");
        assert!(ok.success(), "python3 -m venv (Debian: python3-venv)");
    }
    let work = tempfile::tempdir().unwrap();
    let download = Command::new(venv.join("bin/pip"))
        .args([
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            SYNAPSE,
            "-d",
        ])
        .arg(work.path())
        .output()
        .expect("pip");
    assert!(
        download.status.success(),
        "cannot fetch Synapse's schema (pip download {SYNAPSE}): {}",
        String::from_utf8_lossy(&download.stderr)
    );
    std::fs::create_dir_all(&dir).unwrap();
    // The wheel is a zip: Python's zipfile reads the two files out of it.
    let extract = format!(
        "import glob, os, zipfile\n\
         z = zipfile.ZipFile(glob.glob(os.path.join({work:?}, '*.whl'))[0])\n\
         for ext in ('postgres', 'sqlite'):\n\
         \x20   data = z.read('synapse/storage/schema/main/full_schemas/72/full.sql.' + ext)\n\
         \x20   part = os.path.join({dir:?}, 'full.sql.' + ext + '.part')\n\
         \x20   open(part, 'wb').write(data)\n\
         \x20   os.rename(part, part[:-5])\n",
        work = work.path().display().to_string(),
        dir = dir.display().to_string(),
    );
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", &extract])
        .status()
        .unwrap();
    assert!(ok.success(), "reading Synapse's wheel");
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
