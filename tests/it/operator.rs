//! The operator commands through the binary: new, validate, baseline, plan, and the fan-out
//! over many databases with its progress line.

use std::time::{Duration, Instant};

use crate::common::{Case, Kind, bare, run};

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn new_numbers_across_every_folder_and_writes_scripts_from_the_template() {
    use std::os::unix::fs::PermissionsExt;
    let p = Case::sqlite();
    let a = p.dir.path().join("a");
    let b = p.dir.path().join("b");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(a.join("001_x.sql"), "").unwrap();
    std::fs::write(a.join("002_y.sql"), "").unwrap();
    let mut c = bare();
    c.args(["new", "z", "--dir"]).arg(&b).env(
        "MIGRATIONS_DIRS",
        format!("{}:{}", a.display(), b.display()),
    );
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{}\n", b.join("003_z.sql").display()));

    // A script, executable, with a body that shows how to reach the database; and from the
    // folder's template when there is one.
    let mut c = bare();
    c.args(["new", "backfill hosts", "--script", "py", "-m"])
        .arg(&a);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let py = std::path::PathBuf::from(out.trim_end());
    assert!(py.ends_with("003_backfill_hosts.py"), "{out}");
    let text = std::fs::read_to_string(&py).unwrap();
    assert!(
        text.starts_with("#!/usr/bin/env python3\n")
            && text.contains("SQLITE_PATH")
            && text.contains("DATABASE_URL")
    );
    assert_eq!(
        std::fs::metadata(&py).unwrap().permissions().mode() & 0o111,
        0o111
    );
    std::fs::write(a.join("_template.sh"), "#!/bin/sh\n# the team's template\n").unwrap();
    let mut c = bare();
    c.args(["new", "fix", "--script", "sh", "-m"]).arg(&a);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let sh = std::path::PathBuf::from(out.trim_end());
    assert!(sh.ends_with("004_fix.sh"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&sh).unwrap(),
        "#!/bin/sh\n# the team's template\n"
    );
    // The new script is a migration that runs (the template is not).
    let mut c = bare();
    c.args(["up", "-d", &p.url, "-m"]).arg(&a);
    std::fs::remove_file(&py).unwrap();
    let (code, _, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("applied 004_fix.sh"), "{err}");
    assert!(!err.contains("_template"), "{err}");
}

#[test]
fn new_creates_the_next_file_in_the_folders_style() {
    let p = Case::sqlite();
    let mut c = bare();
    c.args(["new", "Create users", "-m"]).arg(&p.migrations);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!("{}\n", p.migrations.join("001_create_users.sql").display())
    );
    p.write("002_keep_me.sql", "SELECT 'mine';");
    let mut c = bare();
    c.args(["new", "add", "e-mail!", "--dir"])
        .arg(&p.migrations);
    let (code, out, _) = run(c);
    assert_eq!(code, 0);
    assert!(out.trim_end().ends_with("003_add_e_mail.sql"), "{out}");
    assert_eq!(
        std::fs::read_to_string(p.migrations.join("002_keep_me.sql")).unwrap(),
        "SELECT 'mine';"
    );

    // Prisma folders: a timestamped folder with migration.sql.
    let ts = p.dir.path().join("prisma");
    std::fs::create_dir_all(ts.join("20260210000000_init")).unwrap();
    std::fs::write(ts.join("20260210000000_init/migration.sql"), "").unwrap();
    std::fs::write(ts.join("migration_lock.toml"), "").unwrap();
    let new_in = |dir: &std::path::Path, extra: &[&str]| -> Vec<String> {
        let mut c = bare();
        c.args(["new", "add hostname"])
            .args(extra)
            .arg("--dir")
            .arg(dir);
        let (code, out, err) = run(c);
        assert_eq!(code, 0, "{err}");
        out.lines()
            .map(|l| {
                l.strip_prefix(&format!("{}/", dir.display()))
                    .unwrap_or(l)
                    .to_string()
            })
            .collect()
    };
    let made = new_in(&ts, &[]);
    assert_eq!(made.len(), 1, "{made:?}");
    let (folder, file) = made[0].split_once('/').unwrap();
    assert_eq!(file, "migration.sql");
    assert!(
        folder.len() == "20261121044500_add_hostname".len()
            && folder.ends_with("_add_hostname")
            && folder > "20260210000000",
        "{folder}"
    );

    // golang-migrate pairs: both halves.
    let gm = p.dir.path().join("golang");
    std::fs::create_dir(&gm).unwrap();
    for f in ["000001_init.up.sql", "000001_init.down.sql"] {
        std::fs::write(gm.join(f), "").unwrap();
    }
    assert_eq!(
        new_in(&gm, &[]),
        ["000002_add_hostname.up.sql", "000002_add_hostname.down.sql"]
    );
    // dbmate: the two sections.
    let dm = p.dir.path().join("dbmate");
    std::fs::create_dir(&dm).unwrap();
    std::fs::write(
        dm.join("20151129054053_init.sql"),
        "-- migrate:up\nCREATE TABLE t (id int);\n-- migrate:down\nDROP TABLE t;\n",
    )
    .unwrap();
    let made = new_in(&dm, &[]);
    let text = std::fs::read_to_string(dm.join(&made[0])).unwrap();
    assert!(
        text.contains("-- migrate:up\n") && text.contains("-- migrate:down\n"),
        "{text}"
    );
    // Flyway.
    let fw = p.dir.path().join("flyway");
    std::fs::create_dir(&fw).unwrap();
    std::fs::write(fw.join("V7__init.sql"), "").unwrap();
    assert_eq!(new_in(&fw, &[]), ["V8__add_hostname.sql"]);

    let mut c = bare();
    c.args(["new", "!!!", "--dir"]).arg(&ts);
    assert_eq!(
        run(c).0,
        2,
        "a description without letters is a usage error"
    );
}

#[test]
fn validate_names_every_problem_and_is_quiet_when_clean() {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    p.write("2_b.sql", "CREATE TABLE b (id INTEGER);");
    let mut c = bare();
    c.args(["validate", "-m"]).arg(&p.migrations);
    let (code, out, _) = run(c);
    assert_eq!(
        (code, out.as_str()),
        (0, "ok: 2 migrations in 1 directory, 0 databases checked\n")
    );

    assert_eq!(run(p.up()).0, 0);
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER, x TEXT);");
    p.write("2_b2.sql", "SELECT 1;");
    p.write(
        "3_c.sql",
        "-- migrate:no-transactoin\nCREATE TABLE c (id INTEGER);",
    );
    p.write("setup.sql", "SELECT 1;");
    std::fs::write(p.migrations.join("4_latin1.sql"), b"SELECT '\xe9';").unwrap();
    let other = p.dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("3_c.sql"), "SELECT 'different';").unwrap();
    std::fs::remove_file(p.migrations.join("2_b.sql")).unwrap();
    let mut c = bare();
    c.args(["validate", "-d", &p.url.clone(), "-m"])
        .arg(&p.migrations)
        .arg("-m")
        .arg(&other);
    let (code, out, _) = run(c);
    assert_eq!(code, 1, "{out}");
    let m = p.migrations.display().to_string();
    let mut want = vec![
        format!(
            "{m}/3_c.sql: differs from {}/3_c.sql (same name, other content)",
            other.display()
        ),
        format!("{m}/3_c.sql: unknown directive `-- migrate:no-transactoin`"),
        format!("{m}/4_latin1.sql: file is not UTF-8 text (invalid byte at offset 8)"),
        format!("{m}/setup.sql: ignored: no leading version number (name it 5_setup.sql)"),
        format!(
            "{}: 1_a.sql: changed since it was applied (checksum differs)",
            p.url.clone()
        ),
        format!(
            "{}: 2_b.sql: recorded as applied, but no file has it",
            p.url.clone()
        ),
    ];
    let mut got: Vec<String> = out.lines().map(str::to_string).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn baseline_records_without_running_then_up_applies_only_the_rest() {
    for kind in [Kind::Sqlite, Kind::Postgres] {
        let c = Case::new(kind);
        // A database whose schema was made by hand before tracking began.
        c.execute("CREATE TABLE users (id INTEGER); CREATE TABLE posts (id INTEGER);");
        c.write("001_users.sql", "CREATE TABLE users (id INTEGER);");
        c.write("002_posts.sql", "CREATE TABLE posts (id INTEGER);");
        c.write("003_tags.sql", "CREATE TABLE tags (id INTEGER);");
        let mut cmd = bare();
        cmd.args(["baseline", "--through", "2", "-d", &c.url, "-m"])
            .arg(&c.migrations);
        let (code, _, err) = run(cmd);
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains("baseline: recorded 2 migration(s) as applied without running them"),
            "{err}"
        );
        assert_eq!(
            c.column(
                "SELECT migration_name || ' ' || description FROM schema_migrations ORDER BY id"
            ),
            ["001_users.sql baseline", "002_posts.sql baseline"]
        );
        assert_eq!(
            c.value(
                "SELECT count(*) FROM schema_migrations WHERE execution_time_ms IS NULL AND success"
            ),
            "2"
        );
        assert_eq!(
            c.value(
                "SELECT checksum FROM schema_migrations WHERE migration_name = '001_users.sql'"
            ),
            sha256_hex(b"CREATE TABLE users (id INTEGER);")
        );
        let (code, _, err) = run(c.up());
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains("applied 003_tags.sql") && err.contains("applied 1, failed 0"),
            "{err}"
        );

        // Applied records are left as they are; a failed one is replaced only with --force.
        c.write("004_broken.sql", "CREATE TABLE broken (;");
        assert_eq!(run(c.up()).0, 1);
        let mut cmd = bare();
        cmd.args(["baseline", "-d", &c.url, "-m"])
            .arg(&c.migrations);
        let (code, _, err) = run(cmd);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("cannot baseline 004_broken.sql: its last attempt failed; --force"),
            "{err}"
        );
        assert_eq!(
            c.records().last().unwrap(),
            &("004_broken.sql".to_string(), false)
        );
        let mut cmd = bare();
        cmd.args(["baseline", "--force", "-d", &c.url, "-m"])
            .arg(&c.migrations);
        let (code, _, err) = run(cmd);
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains("recorded 1 migration(s)") && err.contains("(3 already applied)"),
            "{err}"
        );
        assert!(c.records().iter().all(|r| r.1));
        assert_eq!(c.records().len(), 4);
    }
}

#[test]
fn plan_shows_no_transaction_retries_and_what_the_policy_blocks() {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    p.write("2_broken.sql", "CREATE TABLE broken (;");
    assert_eq!(run(p.up()).0, 1);
    p.write(
        "3_idx.sql",
        "-- migrate:no-transaction\nCREATE INDEX a_id ON a (id);",
    );
    std::os::unix::fs::symlink("/no/such/file.sql", p.migrations.join("4_gone.sql")).unwrap();
    p.write("5_e.sql", "CREATE TABLE e (id INTEGER);");
    let mut c = bare();
    c.args(["plan", "--on-error", "stop", "-d", &p.url.clone(), "-m"])
        .arg(&p.migrations);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let m = p.migrations.display();
    assert_eq!(
        out,
        format!(
            "{}: 4 to apply\n  apply 2_broken.sql  (retry of a failed attempt)\n  apply 3_idx.sql  (no transaction)\n  \
             apply 4_gone.sql  (will fail: cannot read {m}/4_gone.sql: No such file or directory (os error 2))\n  \
             apply 5_e.sql  (not tried: --on-error stops after 4_gone.sql fails)\n",
            p.url.clone()
        )
    );
    assert!(
        !err.contains("would apply"),
        "plan prints, it does not log each step: {err}"
    );
    assert_eq!(p.records().len(), 2, "plan changes nothing");
}

/// A migration of about 0.4 s.
const SLOWISH: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c;";

#[test]
fn fan_out_runs_databases_at_once_and_reports_each_and_the_total() {
    let p = Case::sqlite();
    // Each database records when its slow migration started and ended: with 3 jobs, intervals
    // of different databases overlap; with 1 job, none do. Proven by observation, not by the
    // clock of a busy machine.
    p.write(
        "1_slowish.sql",
        &format!(
            "CREATE TABLE span (at REAL);\nINSERT INTO span VALUES (unixepoch('subsec'));\n\
             {SLOWISH}\nINSERT INTO span VALUES (unixepoch('subsec'));"
        ),
    );
    p.write("2_a.sql", "CREATE TABLE a (id INTEGER);");
    let make = |name: &str| {
        let dir = p.dir.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        for i in 0..6 {
            rusqlite::Connection::open(dir.join(format!("app{i}.db")))
                .unwrap()
                .execute_batch("SELECT 1")
                .unwrap();
        }
        dir
    };
    let migrate = |jobs: &str, dir: &std::path::Path| {
        let mut c = bare();
        c.args([
            "up",
            "--jobs",
            jobs,
            "-d",
            &format!("sqlite://{}/*.db", dir.display()),
            "-m",
        ])
        .arg(&p.migrations);
        let (code, _, err) = run(c);
        assert_eq!(code, 0, "{err}");
        let spans: Vec<(f64, f64)> = (0..6)
            .map(|i| {
                let at = crate::common::query(
                    &dir.join(format!("app{i}.db")),
                    "SELECT at FROM span ORDER BY rowid",
                );
                (at[0][0].parse().unwrap(), at[1][0].parse().unwrap())
            })
            .collect();
        let overlapping = spans
            .iter()
            .enumerate()
            .flat_map(|(i, a)| spans[i + 1..].iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.0 < b.1 && b.0 < a.1)
            .count();
        (overlapping, err)
    };
    let (overlapping, _) = migrate("1", &make("data1"));
    assert_eq!(overlapping, 0, "one job: one database at a time");
    let data = make("data");
    let (overlapping, err) = migrate("3", &data);
    assert!(overlapping >= 3, "3 jobs: {overlapping} overlapping pairs");
    for i in 0..6 {
        assert!(
            err.contains(&format!("app{i}.db: applied 2, failed 0, pending 0")),
            "{err}"
        );
    }
    assert!(
        err.lines()
            .last()
            .unwrap()
            .contains("total: 6 databases (0 failed as a whole), applied 12"),
        "{err}"
    );

    // The exit code is the worst database's; the others are migrated all the same.
    std::fs::write(data.join("app9.db"), vec![9u8; 4096]).unwrap();
    p.write("3_b.sql", "CREATE TABLE b (id INTEGER);");
    let (code, _, err) = {
        let mut c = bare();
        c.args([
            "up",
            "-d",
            &format!("sqlite://{}/*.db", data.display()),
            "-m",
        ])
        .arg(&p.migrations);
        run(c)
    };
    // app9.db is not a database: it cannot be opened (3); the others are migrated.
    assert_eq!(code, 3, "{err}");
    assert_eq!(err.matches("applied 3_b.sql").count(), 6, "{err}");
}

#[test]
fn an_unreachable_database_does_not_hold_up_the_others() {
    let p = Case::sqlite();
    p.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let mut c = bare();
    c.args([
        "up",
        "--jobs",
        "2",
        "--wait",
        "3s",
        "-d",
        "postgres://u:pw@127.0.0.1:1/x",
    ]);
    for i in 0..4 {
        c.arg("-d").arg(p.dir.path().join(format!("db{i}.db")));
    }
    c.arg("-m").arg(&p.migrations);
    let (code, _, err) = run(c);
    assert_eq!(code, 3, "{err}");
    let unreachable_at = err.find("not reachable within --wait").unwrap();
    for i in 0..4 {
        let at = err
            .find(&format!("db{i}.db: applied 1_a.sql"))
            .unwrap_or_else(|| panic!("{err}"));
        assert!(
            at < unreachable_at,
            "db{i} waited for the unreachable one:\n{err}"
        );
    }
}

#[test]
fn progress_line_only_on_a_terminal() {
    let p = Case::sqlite();
    p.write("1_slow.sql", &SLOWISH.replace("3000000", "12000000"));
    let cmd = format!(
        "{} up -d {} -m {}",
        crate::common::BIN,
        p.url.clone(),
        p.migrations.display()
    );
    // `script` gives the run a terminal.
    let tty = |extra: &str| {
        let out = std::process::Command::new("script")
            .args(["-qfec", &format!("{cmd} {extra}"), "/dev/null"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = tty("");
    assert!(
        shown.contains("\r\x1b[Kmigrating: 0/1 databases done; 1_slow.sql on sqlite:"),
        "{shown:?}"
    );
    assert!(shown.contains("applied 1_slow.sql"), "{shown:?}");

    let p2 = Case::sqlite();
    p2.write("1_slow.sql", &SLOWISH.replace("3000000", "12000000"));
    let mut c = p2.up();
    c.env("MIGRATE_LOG_FORMAT", "text");
    let started = Instant::now();
    let (code, _, err) = run(c);
    assert!(started.elapsed() > Duration::from_secs(1));
    assert_eq!(code, 0);
    assert!(
        !err.contains("migrating:") && !err.contains('\r'),
        "not a terminal: {err:?}"
    );

    let p3 = Case::sqlite();
    p3.write("1_slow.sql", &SLOWISH.replace("3000000", "12000000"));
    let json = std::process::Command::new("script")
        .args([
            "-qfec",
            &format!(
                "{} up --log-format json -d {} -m {}",
                crate::common::BIN,
                p3.url.clone(),
                p3.migrations.display()
            ),
            "/dev/null",
        ])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&json.stdout).contains("migrating:"),
        "never in JSON mode"
    );
}
