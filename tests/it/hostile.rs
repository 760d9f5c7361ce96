//! Hostile and odd input: odd names recorded verbatim, a 50 MB file, 10,000 files, symlinks and
//! a symlink loop, a file deleted while a run is under way, CRLF and a byte-order mark.

use std::process::Stdio;
use std::time::Instant;

use crate::common::{Case, bare, run};

#[test]
fn odd_names_are_recorded_verbatim() {
    let p = Case::sqlite();
    let names = [
        "1_quote's.sql",
        "2_double\"quote.sql",
        "3_with space.sql",
        "4_ünïcødé_日本.sql",
        "5_x'); DROP TABLE schema_migrations; --.sql",
        "6_back\\slash.sql",
    ];
    for (i, n) in names.iter().enumerate() {
        p.write(n, &format!("CREATE TABLE t{i} (id INTEGER);"));
    }
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0, "{err}");
    let got: Vec<String> = p.records().into_iter().map(|r| r.0).collect();
    assert_eq!(got, names);
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0);
    assert!(err.contains("up to date"), "{err}");
}

#[test]
fn a_50_mb_migration_file() {
    let p = Case::sqlite_on_tmpfs();
    let mut sql = String::from("CREATE TABLE big (id INTEGER, v TEXT);\n");
    let row = format!("INSERT INTO big VALUES (1, '{}');\n", "x".repeat(1000));
    while sql.len() < 50 * 1024 * 1024 {
        sql.push_str(&row);
    }
    let rows = (sql.len() - 40) / row.len();
    p.write("1_big.sql", &sql);
    p.write("2_after.sql", "CREATE TABLE after_big (id INTEGER);");
    let started = Instant::now();
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0, "{err}");
    eprintln!("50 MB file applied in {:?}", started.elapsed());
    assert!(
        p.value("SELECT count(*) FROM big")
            .parse::<usize>()
            .unwrap()
            >= rows
    );
    assert_eq!(p.records().len(), 2);
}

#[test]
fn ten_thousand_files_in_a_folder() {
    let p = Case::sqlite_on_tmpfs();
    for i in 1..=10_000 {
        p.write(
            &format!("{i:05}_m.sql"),
            &format!("INSERT INTO seen VALUES ({i});"),
        );
    }
    p.write("00000_seen.sql", "CREATE TABLE seen (n INTEGER);");
    let started = Instant::now();
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0, "{}", err.lines().last().unwrap_or(""));
    eprintln!("10,001 migrations applied in {:?}", started.elapsed());
    assert_eq!(p.value("SELECT count(*) FROM seen"), "10000");
    assert_eq!(p.value("SELECT max(n) FROM seen"), "10000");
    let started = Instant::now();
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0);
    assert!(err.contains("up to date"), "{err}");
    eprintln!("10,001 applied: no-op run in {:?}", started.elapsed());
}

#[test]
fn symlinked_files_folders_and_a_loop() {
    let p = Case::sqlite();
    let real = p.dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::write(real.join("1_a.sql"), "CREATE TABLE a (id INTEGER);").unwrap();
    std::fs::write(
        p.dir.path().join("elsewhere.sql"),
        "CREATE TABLE b (id INTEGER);",
    )
    .unwrap();
    std::os::unix::fs::symlink(p.dir.path().join("elsewhere.sql"), real.join("2_b.sql")).unwrap();
    // A folder that loops back to itself, once named like a migration directory.
    std::os::unix::fs::symlink(&real, real.join("loop")).unwrap();
    std::os::unix::fs::symlink(&real, real.join("3_loop")).unwrap();
    let linked = p.dir.path().join("linked-migrations");
    std::os::unix::fs::symlink(&real, &linked).unwrap();
    let mut c = bare();
    c.args(["up", "-d", &p.url.clone(), "-m"]).arg(&linked);
    let started = Instant::now();
    let (code, _, err) = run(c);
    assert_eq!(code, 0, "{err}");
    eprintln!(
        "a symlink loop in the folder: done in {:?}",
        started.elapsed()
    );
    let got: Vec<String> = p.records().into_iter().map(|r| r.0).collect();
    assert_eq!(got, ["1_a.sql", "2_b.sql"]);
}

#[test]
fn a_file_deleted_or_changed_during_the_run_is_not_applied() {
    let p = Case::sqlite();
    p.write(
        "1_slow.sql",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 8000000) SELECT count(*) FROM c;",
    );
    let second = p.write("2_b.sql", "CREATE TABLE b (id INTEGER);");
    let third = p.write("3_c.sql", "CREATE TABLE c (id INTEGER);");
    let child = p
        .up()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A file's text is read when it runs (the scan keeps only its checksum and layout): one
    // deleted, or changed, since the scan is not applied, and fails with its record.
    crate::common::wait_for(10, "the run to start migrating", || {
        crate::common::sqlite_lock_held(&p.db)
    });
    std::fs::remove_file(&second).unwrap();
    std::fs::write(&third, "CREATE TABLE c_changed (id INTEGER);").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("failed 2_b.sql: cannot read"), "{err}");
    assert!(
        err.contains("failed 3_c.sql:") && err.contains("changed while this run was going on"),
        "{err}"
    );
    assert!(!p.has_table("b") && !p.has_table("c") && !p.has_table("c_changed"));
    // The next run knows the file is gone, and applies the changed one as it is now.
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0, "{err}");
    assert!(p.has_table("c_changed"));
    let mut c = bare();
    c.args(["status", "-d", &p.url.clone(), "-m"])
        .arg(&p.migrations);
    let (_, status, _) = run(c);
    assert!(status.contains("missing   2_b.sql"), "{status}");
}

#[test]
fn crlf_and_byte_order_mark() {
    let p = Case::sqlite();
    std::fs::write(
        p.migrations.join("1_bom.sql"),
        b"\xEF\xBB\xBFCREATE TABLE bom (id INTEGER);\r\nINSERT INTO bom VALUES (1);\r\n",
    )
    .unwrap();
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0, "{err}");
    assert_eq!(p.value("SELECT count(*) FROM bom"), "1");
    // The same file with LF line ends and no mark is the same migration.
    std::fs::write(
        p.migrations.join("1_bom.sql"),
        b"CREATE TABLE bom (id INTEGER);\nINSERT INTO bom VALUES (1);\n",
    )
    .unwrap();
    let (code, _, err) = run(p.up());
    assert_eq!(code, 0);
    assert!(!err.contains("changed"), "{err}");
}
