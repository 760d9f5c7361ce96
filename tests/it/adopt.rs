//! `baseline --from TOOL`: folders laid out as each tool lays them out, each tool's table made
//! with the DDL that tool uses (cited), rows as the tool writes them; then `baseline --from`
//! once, and `up` applies only what is new.

use crate::common::{Case, Kind, bare, run};

/// Our tracking table in these tests (dbmate and golang-migrate use `schema_migrations`).
const OURS: &str = "app_migrations";

fn baseline_from(c: &Case, tool: &str) -> (i32, String, String) {
    let mut cmd = bare();
    cmd.args([
        "baseline", "--from", tool, "--table", OURS, "-d", &c.url, "-m",
    ])
    .arg(&c.migrations);
    run(cmd)
}

fn up(c: &Case) -> (i32, String, String) {
    let mut cmd = c.up();
    cmd.args(["--table", OURS]);
    run(cmd)
}

fn ours(c: &Case) -> Vec<String> {
    c.column(&format!(
        "SELECT migration_name FROM {OURS} WHERE success ORDER BY migration_name"
    ))
}

fn dir(c: &Case, name: &str, sql: &str) {
    let d = c.migrations.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("migration.sql"), sql).unwrap();
}

fn dbmate(kind: Kind) {
    let c = Case::new(kind);
    // dbmate's layout: db/migrations/<timestamp>_<name>.sql with up and down sections.
    c.write(
        "20151129054053_create_users.sql",
        "-- migrate:up\nCREATE TABLE users (id INTEGER);\n\n-- migrate:down\nDROP TABLE users;\n",
    );
    c.write("20151129054054_add_email.sql", "-- migrate:up\nALTER TABLE users ADD COLUMN email TEXT;\n\n-- migrate:down\nALTER TABLE users DROP COLUMN email;\n");
    // dbmate, pkg/driver/postgres/postgres.go and pkg/driver/sqlite/sqlite.go,
    // CreateMigrationsTable: "create table if not exists %s (version varchar(128) primary key)";
    // InsertMigration: "insert into %s (version) values ($1)".
    c.execute(
        "create table if not exists schema_migrations (version varchar(128) primary key);
         CREATE TABLE users (id INTEGER, email TEXT);
         insert into schema_migrations (version) values ('20151129054053');
         insert into schema_migrations (version) values ('20151129054054');",
    );
    // The names collide: --table is required, and says so.
    let mut cmd = bare();
    cmd.args(["baseline", "--from", "dbmate", "-d", &c.url, "-m"])
        .arg(&c.migrations);
    let (code, _, err) = run(cmd);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "dbmate keeps its history in a table of that name too: name ours with --table"
        ),
        "{err}"
    );

    let (code, _, err) = baseline_from(&c, "dbmate");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        ours(&c),
        [
            "20151129054053_create_users.sql",
            "20151129054054_add_email.sql"
        ]
    );
    c.write("20151129054055_add_name.sql", "-- migrate:up\nALTER TABLE users ADD COLUMN name TEXT;\n\n-- migrate:down\nALTER TABLE users DROP COLUMN name;\n");
    let (code, _, err) = up(&c);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("applied 1, failed 0, pending 0")
            && err.contains("applied 20151129054055_add_name.sql"),
        "{err}"
    );
    assert_eq!(
        c.value("SELECT count(*) FROM schema_migrations"),
        "2",
        "dbmate's table is only read"
    );
    assert!(
        c.columns("users").contains(&"name".to_string()),
        "only the up section ran"
    );
}

#[test]
fn dbmate_on_postgres() {
    dbmate(Kind::Postgres);
}

#[test]
fn dbmate_on_sqlite() {
    dbmate(Kind::Sqlite);
}

fn golang_migrate(kind: Kind) {
    let c = Case::new(kind);
    // golang-migrate's layout: <version>_<title>.up.sql and .down.sql.
    for (v, up_sql, down_sql) in [
        (
            "000001_create_users",
            "CREATE TABLE users (id INTEGER);",
            "DROP TABLE users;",
        ),
        (
            "000002_add_email",
            "ALTER TABLE users ADD COLUMN email TEXT;",
            "ALTER TABLE users DROP COLUMN email;",
        ),
        (
            "000003_add_name",
            "ALTER TABLE users ADD COLUMN name TEXT;",
            "ALTER TABLE users DROP COLUMN name;",
        ),
    ] {
        c.write(&format!("{v}.up.sql"), up_sql);
        c.write(&format!("{v}.down.sql"), down_sql);
    }
    let ddl = match kind {
        // golang-migrate, database/postgres/postgres.go, ensureVersionTable:
        // "CREATE TABLE IF NOT EXISTS " + table + " (version bigint not null primary key, dirty boolean not null)"
        Kind::Postgres => {
            "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint not null primary key, dirty boolean not null);"
        }
        // golang-migrate, database/sqlite3/sqlite3.go, ensureVersionTable:
        // "CREATE TABLE IF NOT EXISTS %s (version uint64,dirty bool); CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON %s (version);"
        Kind::Sqlite => {
            "CREATE TABLE IF NOT EXISTS schema_migrations (version uint64,dirty bool); CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON schema_migrations (version);"
        }
    };
    let (t, f) = match kind {
        Kind::Postgres => ("true", "false"),
        Kind::Sqlite => ("1", "0"),
    };
    // It keeps one row: the current version.
    c.execute(&format!("{ddl} CREATE TABLE users (id INTEGER, email TEXT); INSERT INTO schema_migrations (version, dirty) VALUES (2, {t});"));

    // Dirty at 2: 1 is adopted, 2 is reported (exit 1), nothing else happens.
    let (code, _, err) = baseline_from(&c, "golang-migrate");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("golang-migrate is dirty at version 2"),
        "{err}"
    );
    assert_eq!(ours(&c), ["000001_create_users.up.sql"]);

    // Clean (after `migrate force 2`): 2 is adopted too, and `up` applies only 3.
    c.execute(&format!("UPDATE schema_migrations SET dirty = {f}"));
    let (code, _, err) = baseline_from(&c, "golang-migrate");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        ours(&c),
        ["000001_create_users.up.sql", "000002_add_email.up.sql"]
    );
    let (code, _, err) = up(&c);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("applied 000003_add_name.up.sql") && err.contains("applied 1, failed 0"),
        "{err}"
    );
}

#[test]
fn golang_migrate_on_postgres() {
    golang_migrate(Kind::Postgres);
}

#[test]
fn golang_migrate_on_sqlite() {
    golang_migrate(Kind::Sqlite);
}

#[test]
fn flyway_on_postgres() {
    let c = Case::new(Kind::Postgres);
    // Flyway's layout: V<version>__<description>.sql (here db/migration).
    c.write(
        "V1__Create_person_table.sql",
        "CREATE TABLE person (id INT NOT NULL, name VARCHAR(100) NOT NULL);",
    );
    c.write(
        "V1_1__Add_people.sql",
        "INSERT INTO person (id, name) VALUES (1, 'Axel');",
    );
    c.write("V2__Broken.sql", "CREATE TABLE broken (id INT);");
    c.write(
        "V3__Add_email.sql",
        "ALTER TABLE person ADD COLUMN email TEXT;",
    );
    // Flyway, flyway-core/src/main/resources/org/flywaydb/core/internal/database/postgresql/
    // createMetaDataTable.sql (with ${schema} = public, ${table} = flyway_schema_history):
    c.execute(
        "CREATE TABLE \"public\".\"flyway_schema_history\" (
            \"installed_rank\" INT NOT NULL,
            \"version\" VARCHAR(50),
            \"description\" VARCHAR(200) NOT NULL,
            \"type\" VARCHAR(20) NOT NULL,
            \"script\" VARCHAR(1000) NOT NULL,
            \"checksum\" INTEGER,
            \"installed_by\" VARCHAR(100) NOT NULL,
            \"installed_on\" TIMESTAMP NOT NULL DEFAULT now(),
            \"execution_time\" INTEGER NOT NULL,
            \"success\" BOOLEAN NOT NULL
        );
        ALTER TABLE \"public\".\"flyway_schema_history\" ADD CONSTRAINT \"flyway_schema_history_pk\" PRIMARY KEY (\"installed_rank\");
        CREATE INDEX \"flyway_schema_history_s_idx\" ON \"public\".\"flyway_schema_history\" (\"success\");
        CREATE TABLE person (id INT NOT NULL, name VARCHAR(100) NOT NULL);
        INSERT INTO person VALUES (1, 'Axel');
        INSERT INTO flyway_schema_history VALUES
          (1, '1', 'Create person table', 'SQL', 'V1__Create_person_table.sql', 1027366093, 'app', now(), 6, true),
          (2, '1.1', 'Add people', 'SQL', 'V1_1__Add_people.sql', -1587412531, 'app', now(), 2, true),
          (3, '2', 'Broken', 'SQL', 'V2__Broken.sql', 12345, 'app', now(), 1, false);",
    );
    let (code, _, err) = baseline_from(&c, "flyway");
    assert_eq!(code, 1, "a failed row is reported: {err}");
    assert!(
        err.contains("flyway recorded V2__Broken.sql (version 2) as failed: not adopted"),
        "{err}"
    );
    assert_eq!(
        ours(&c),
        ["V1_1__Add_people.sql", "V1__Create_person_table.sql"]
    );
    let (code, _, err) = up(&c);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("applied V2__Broken.sql")
            && err.contains("applied V3__Add_email.sql")
            && err.contains("applied 2, failed 0"),
        "{err}"
    );
    assert_eq!(
        c.value("SELECT count(*) FROM person"),
        "1",
        "V1.1 was not run again"
    );
}

#[test]
fn sqlx_on_postgres() {
    let c = Case::new(Kind::Postgres);
    // sqlx's layout: migrations/<version>_<description>.sql.
    c.write(
        "20220101000000_init.sql",
        "CREATE TABLE users (id BIGSERIAL PRIMARY KEY);",
    );
    c.write(
        "20220102000000_add_email.sql",
        "ALTER TABLE users ADD COLUMN email TEXT;",
    );
    c.write(
        "20220103000000_add_name.sql",
        "ALTER TABLE users ADD COLUMN name TEXT;",
    );
    // sqlx, sqlx-postgres/src/migrate.rs, ensure_migrations_table.
    c.execute(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
            version BIGINT PRIMARY KEY,
            description TEXT NOT NULL,
            installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
            success BOOLEAN NOT NULL,
            checksum BYTEA NOT NULL,
            execution_time BIGINT NOT NULL
        );
        CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT);
        INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES
          (20220101000000, 'init', true, '\\x00ff', 1000),
          (20220102000000, 'add email', true, '\\x00ff', 1000);",
    );
    let (code, _, err) = baseline_from(&c, "sqlx");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        ours(&c),
        ["20220101000000_init.sql", "20220102000000_add_email.sql"]
    );
    let (code, _, err) = up(&c);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("applied 20220103000000_add_name.sql") && err.contains("applied 1, failed 0"),
        "{err}"
    );
}

#[test]
fn prisma_on_postgres() {
    let c = Case::new(Kind::Postgres);
    // Prisma's layout: prisma/migrations/<timestamp>_<name>/migration.sql, migration_lock.toml.
    dir(
        &c,
        "20210101000000_init",
        "-- CreateTable\nCREATE TABLE \"User\" (\"id\" SERIAL NOT NULL, CONSTRAINT \"User_pkey\" PRIMARY KEY (\"id\"));\n",
    );
    dir(
        &c,
        "20210102000000_add_email",
        "-- AlterTable\nALTER TABLE \"User\" ADD COLUMN \"email\" TEXT;\n",
    );
    dir(
        &c,
        "20210103000000_add_name",
        "-- AlterTable\nALTER TABLE \"User\" ADD COLUMN \"name\" TEXT;\n",
    );
    std::fs::write(
        c.migrations.join("migration_lock.toml"),
        "provider = \"postgresql\"\n",
    )
    .unwrap();
    // Prisma, prisma-engines: schema-engine/connectors/sql-schema-connector/src/flavour/postgres.rs
    // creates this _prisma_migrations table (as it appears in databases Prisma migrated).
    c.execute(
        "CREATE TABLE \"_prisma_migrations\" (
            \"id\" VARCHAR(36) NOT NULL,
            \"checksum\" VARCHAR(64) NOT NULL,
            \"finished_at\" TIMESTAMPTZ,
            \"migration_name\" VARCHAR(255) NOT NULL,
            \"logs\" TEXT,
            \"rolled_back_at\" TIMESTAMPTZ,
            \"started_at\" TIMESTAMPTZ NOT NULL DEFAULT now(),
            \"applied_steps_count\" INTEGER NOT NULL DEFAULT 0,
            CONSTRAINT \"_prisma_migrations_pkey\" PRIMARY KEY (\"id\")
        );
        CREATE TABLE \"User\" (\"id\" SERIAL NOT NULL, \"email\" TEXT, CONSTRAINT \"User_pkey\" PRIMARY KEY (\"id\"));
        INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, applied_steps_count) VALUES
          ('0b9a8c1e-0000-4000-8000-000000000001', repeat('a', 64), now(), '20210101000000_init', 1),
          ('0b9a8c1e-0000-4000-8000-000000000002', repeat('b', 64), now(), '20210102000000_add_email', 1);
        INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, applied_steps_count) VALUES
          ('0b9a8c1e-0000-4000-8000-000000000003', repeat('c', 64), NULL, '20210103000000_add_name', 'error: column exists', 0);",
    );
    let (code, _, err) = baseline_from(&c, "prisma");
    assert_eq!(code, 1, "the failed row is reported: {err}");
    assert!(
        err.contains("prisma recorded 20210103000000_add_name as started but not finished"),
        "{err}"
    );
    assert_eq!(
        ours(&c),
        ["20210101000000_init", "20210102000000_add_email"]
    );
    let (code, _, err) = up(&c);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("applied 20210103000000_add_name") && err.contains("applied 1, failed 0"),
        "{err}"
    );
}

#[test]
fn a_tool_whose_table_is_not_there() {
    let c = Case::new(Kind::Sqlite);
    c.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    c.execute("CREATE TABLE unrelated (x INTEGER);");
    let (code, _, err) = baseline_from(&c, "flyway");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("no flyway_schema_history table here: nothing to adopt from flyway"),
        "{err}"
    );
    let mut cmd = bare();
    cmd.args(["baseline", "--from", "liquibase", "-d", &c.url, "-m"])
        .arg(&c.migrations);
    let (code, _, err) = run(cmd);
    assert_eq!(code, 2);
    assert!(
        err.contains("[possible values: dbmate, golang-migrate, flyway, sqlx, prisma, goose, sql-migrate, tern, diesel]"),
        "{err}"
    );
}

#[test]
fn dbmate_transaction_false_runs_outside_a_transaction() {
    let c = Case::new(Kind::Postgres);
    c.write("20200101000000_users.sql", "-- migrate:up\nCREATE TABLE users (id INTEGER, email TEXT);\n\n-- migrate:down\nDROP TABLE users;\n");
    c.write(
        "20200101000001_index.sql",
        "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY users_email ON users (email);\n\n-- migrate:down\nDROP INDEX users_email;\n",
    );
    let (code, _, err) = up(&c);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        c.value("SELECT count(*) FROM pg_indexes WHERE indexname = 'users_email'"),
        "1"
    );
}

/// Prisma's history before `baseline`: `plan`, `validate` and `up` refuse the database (every
/// Prisma migration would run again). Then a row whose checksum differs from the file is
/// adopted and shows as changed; an empty `_prisma_migrations` adopts nothing, with a warning.
#[test]
fn prisma_drift_and_an_empty_history() {
    use sha2::Digest;
    let c = Case::new(Kind::Postgres);
    let init = "-- CreateTable\nCREATE TABLE \"User\" (\"id\" SERIAL NOT NULL);\n";
    dir(&c, "20210101000000_init", init);
    dir(
        &c,
        "20210102000000_add_email",
        "-- AlterTable\nALTER TABLE \"User\" ADD COLUMN \"email\" TEXT;\n",
    );
    dir(
        &c,
        "20210103000000_add_name",
        "ALTER TABLE \"User\" ADD COLUMN \"name\" TEXT;\n",
    );
    c.execute(
        "CREATE TABLE \"_prisma_migrations\" (\"id\" VARCHAR(36) PRIMARY KEY NOT NULL, \"checksum\" VARCHAR(64) NOT NULL, \
         \"finished_at\" TIMESTAMPTZ, \"migration_name\" VARCHAR(255) NOT NULL, \"logs\" TEXT, \"rolled_back_at\" TIMESTAMPTZ, \
         \"started_at\" TIMESTAMPTZ NOT NULL DEFAULT now(), \"applied_steps_count\" INTEGER NOT NULL DEFAULT 0);",
    );
    // Empty: nothing to adopt, and said so.
    let (code, _, err) = baseline_from(&c, "prisma");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "nothing to adopt: _prisma_migrations holds no row (is this the right database?)"
        ),
        "{err}"
    );
    c.execute(&format!("DROP TABLE {OURS}"));
    // What Prisma applied: init with the file's own checksum, add_email with another.
    let sum = hex(&sha2::Sha256::digest(init.as_bytes()));
    c.execute(&format!(
        "CREATE TABLE \"User\" (\"id\" SERIAL NOT NULL, \"email\" TEXT); \
         INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, applied_steps_count) VALUES \
         ('1', '{sum}', now(), '20210101000000_init', 1), ('2', repeat('b', 64), now(), '20210102000000_add_email', 1);"
    ));
    for args in [&["plan"][..], &["up"][..]] {
        let mut cmd = bare();
        cmd.args(args)
            .args(["--table", OURS, "-d", &c.url, "-m"])
            .arg(&c.migrations);
        let (code, _, err) = run(cmd);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.contains("this database has prisma's history (_prisma_migrations)")
                && err.contains("baseline --from prisma"),
            "{err}"
        );
    }
    let mut v = bare();
    v.args(["validate", "--table", OURS, "-d", &c.url, "-m"])
        .arg(&c.migrations);
    let (code, out, _) = run(v);
    assert_eq!(code, 1);
    assert!(out.contains("prisma's history"), "{out}");
    assert!(!c.has_table(OURS), "nothing written before baseline");

    let (code, _, err) = baseline_from(&c, "prisma");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("20210102000000_add_email: prisma recorded another checksum for it"),
        "{err}"
    );
    let mut s = bare();
    s.args(["status", "--table", OURS, "-d", &c.url, "-m"])
        .arg(&c.migrations);
    let (_, out, _) = run(s);
    assert!(out.contains("applied   20210101000000_init"), "{out}");
    assert!(out.contains("changed   20210102000000_add_email"), "{out}");
    assert!(out.contains("pending   20210103000000_add_name"), "{out}");
    let (code, _, err) = up(&c);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("applied 20210103000000_add_name"), "{err}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
