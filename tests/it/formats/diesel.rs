//! diesel: `<version>_<name>/up.sql` + `down.sql` folders (version: the digits before the
//! first `_`), `metadata.toml`'s `run_in_transaction = false`; its
//! `__diesel_schema_migrations` table. And a real project's folder, read whole.

use super::{OURS, cmd, ours, up_down_up, up_ok, valid_index};
use crate::common::{Case, Kind, run};

both!(folders_up_and_down, baseline_from_diesel_schema_migrations);

fn migration(c: &Case, name: &str, up: &str, down: &str) {
    let d = c.migrations.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("up.sql"), up).unwrap();
    std::fs::write(d.join("down.sql"), down).unwrap();
}

fn folder(c: &Case) {
    // As `diesel setup` and `diesel migration generate` lay them out (with diesel's own
    // files in the folder too).
    std::fs::write(c.migrations.join(".keep"), "").unwrap();
    migration(
        c,
        "00000000000000_diesel_initial_setup",
        "-- This file was automatically created by Diesel\nCREATE TABLE setup_done (id INTEGER);\n",
        "DROP TABLE setup_done;\n",
    );
    migration(
        c,
        "2019-02-26-002946_create_user",
        "CREATE TABLE user_ (id INTEGER PRIMARY KEY, name TEXT);\n",
        "DROP TABLE user_;\n",
    );
    // diesel's newer names carry a part after the time (2025 on).
    migration(
        c,
        "2025-01-03-193224-0000_create_post",
        "CREATE TABLE post (id INTEGER, creator INTEGER);\n",
        "DROP TABLE post;\n",
    );
}

fn folders_up_and_down(kind: Kind) {
    let c = Case::new(kind);
    folder(&c);
    let (_, out, _) = run(cmd(&c, &["plan"]));
    assert!(out.contains("3 to apply"), "{out}");
    up_down_up(&c, "post", "user_");
    assert_eq!(
        ours(&c),
        [
            "00000000000000_diesel_initial_setup",
            "2019-02-26-002946_create_user",
            "2025-01-03-193224-0000_create_post"
        ]
    );
    // `new` keeps diesel's layout.
    let mut new = crate::common::bare();
    new.args(["new", "add tags", "-m"]).arg(&c.migrations);
    let (code, out, err) = run(new);
    assert_eq!(code, 0, "{err}");
    let made: Vec<&str> = out.lines().collect();
    assert_eq!(made.len(), 2, "{out}");
    assert!(
        made[0].ends_with("_add_tags/up.sql") && made[1].ends_with("_add_tags/down.sql"),
        "{out}"
    );
    let dir = std::path::Path::new(made[0]).parent().unwrap();
    let name = dir.file_name().unwrap().to_str().unwrap();
    assert!(
        name.len() == "2026-01-01-000000_add_tags".len() && name.as_bytes()[4] == b'-',
        "{name}"
    );
}

fn baseline_from_diesel_schema_migrations(kind: Kind) {
    let c = Case::new(kind);
    folder(&c);
    // diesel's table (setup_migration_table.sql, the same on every backend), and the
    // versions it wrote: the digits of each folder's name.
    c.execute(
        "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP); \
         INSERT INTO __diesel_schema_migrations (version) VALUES ('00000000000000'), ('20190226002946'); \
         CREATE TABLE setup_done (id INTEGER); CREATE TABLE user_ (id INTEGER PRIMARY KEY, name TEXT);",
    );
    let (code, _, err) = run(cmd(&c, &["plan"]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("diesel's history (__diesel_schema_migrations)"),
        "{err}"
    );
    // The entrypoint adopts it by itself on its first start with --adopt (MIGRATE_ADOPT).
    let mut entry = crate::common::bare();
    entry
        .args(["--table", OURS, "-d", &c.url, "-m"])
        .arg(&c.migrations)
        .env("MIGRATE_ADOPT", "diesel")
        .args(["--", "echo", "app"]);
    let (code, out, err) = run(entry);
    assert_eq!((code, out.as_str()), (0, "app\n"), "{err}");
    assert!(err.contains("adopting diesel's history"), "{err}");
    assert!(
        err.contains("applied 2025-01-03-193224-0000_create_post"),
        "{err}"
    );
    assert!(
        !err.contains("applied 2019-02-26-002946_create_user"),
        "{err}"
    );
    assert_eq!(ours(&c).len(), 3);
    assert!(c.has_table("post"));
}

#[test]
fn run_in_transaction_false_lets_concurrent_index_through() {
    let c = Case::new(Kind::Postgres);
    folder(&c);
    migration(
        &c,
        "2025-02-01-000000-0000_index_post",
        "CREATE INDEX CONCURRENTLY post_creator ON post (creator);\n",
        "DROP INDEX CONCURRENTLY post_creator;\n",
    );
    std::fs::write(
        c.migrations
            .join("2025-02-01-000000-0000_index_post/metadata.toml"),
        "run_in_transaction = false\n",
    )
    .unwrap();
    up_ok(&c);
    assert!(valid_index(&c, "post_creator"));
    let (code, _, err) = run(cmd(&c, &["down"]));
    assert_eq!(code, 0, "{err}");
    assert!(!valid_index(&c, "post_creator"));
}

/// Lemmy's folder as its crate ships it (346 diesel migrations): read whole, in diesel's
/// order, each attempted once with its record, every down part found.
#[test]
fn lemmys_folder_is_read_whole() {
    let lemmy = crate::common::real_folders::lemmy();
    let folders = std::fs::read_dir(lemmy)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("up.sql").is_file())
        .count();
    assert!(folders >= 340, "{folders}");
    let mut v = crate::common::bare();
    v.arg("validate").arg("-m").arg(lemmy);
    let (code, out, err) = run(v);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("ok: {folders} migrations")), "{out}");
    let c = Case::new(Kind::Postgres);
    let mut up = crate::common::bare();
    up.args(["up", "-d", &c.url, "-m"]).arg(lemmy);
    let (_, _, err) = run(up);
    let attempted = err
        .lines()
        .filter(|l| l.contains(" applied ") && l.contains(" ms") || l.contains(" failed "))
        .count();
    assert!(attempted >= folders, "{err}");
    assert_eq!(
        c.value("SELECT count(*) FROM schema_migrations"),
        folders.to_string(),
        "{err}"
    );
    // Its first migrations made Lemmy's tables.
    assert!(c.has_table("person") || c.has_table("user_"), "{err}");
    let applied: usize = c
        .value("SELECT count(*) FROM schema_migrations WHERE success")
        .parse()
        .unwrap();
    assert!(applied > 250, "{applied} of {folders}: {err}");
}
