//! The declared schema loses nothing silently: a change that failed stays failed until it is
//! made, whatever else the run made meanwhile. Against a real PostgreSQL server.

use crate::common::{Case, Kind, run};

/// `schema dump` of a case's database: (exit code, stdout, stderr).
fn schema_dump(c: &Case) -> (i32, String, String) {
    let mut dump = c.cmd();
    dump.args(["schema", "dump"]);
    run(dump)
}

/// A case of `kind` with an empty migrations folder and `schema` declared as `schema.sql`.
fn declared(kind: Kind, schema: &str) -> Case {
    let c = Case::new(kind);
    std::fs::create_dir_all(&c.migrations).unwrap();
    c.declare("schema.sql", schema);
    c
}

/// A foreign key whose table was created while the table it references failed is added once
/// that table is there, on a later start; its failed record stays until then.
#[test]
fn a_foreign_key_waits_for_the_table_it_references() {
    let c = declared(
        Kind::Postgres,
        "CREATE TABLE parent (id integer PRIMARY KEY, code text DEFAULT public.new_code());\n\
         CREATE TABLE child (id integer PRIMARY KEY, parent_id integer);\n\
         ALTER TABLE ONLY child ADD CONSTRAINT child_parent_fkey FOREIGN KEY (parent_id) REFERENCES parent (id);\n",
    );
    // The function the parent's default calls is not there yet: the parent fails, the child is
    // made, its foreign key fails.
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 1, "{err}");
    let failed = |c: &Case| {
        c.declared_records()
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(n, _)| n)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        failed(&c),
        [
            "schema.sql#table:parent",
            "schema.sql#constraint:child.child_parent_fkey"
        ],
        "{err}"
    );
    // A start with the function still missing keeps both failures (nothing is forgotten).
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 1, "{err}");
    assert_eq!(failed(&c).len(), 2, "{err}");
    assert!(!err.contains("nothing left to do"), "{err}");
    // Once the function is there, the next start makes the parent, then the foreign key.
    c.execute("CREATE FUNCTION public.new_code() RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$");
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(failed(&c).is_empty(), "{err}");
    assert_eq!(
        c.value(
            "SELECT count(*) FROM pg_constraint WHERE conname = 'child_parent_fkey' AND contype = 'f'"
        ),
        "1"
    );
    // And the start after that has nothing to do, and no warning.
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("WARN"), "{err}");
}

/// An index declared without a name is made under the name PostgreSQL gives it (and two alike
/// under its numbered names), recorded, and found there on the next start; a database that
/// psql built from the same file has nothing to add.
#[test]
fn an_unnamed_index_gets_postgres_own_name() {
    let schema = "CREATE TABLE t (a integer, b integer, email text);\n\
                  CREATE UNIQUE INDEX ON t (a, b);\n\
                  CREATE INDEX ON t (a, b) WHERE a > 0;\n\
                  CREATE INDEX ON t (lower(email));\n";
    let c = declared(Kind::Postgres, schema);
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    let indexes = |c: &Case| {
        c.column(
            "SELECT indexname || ' ' || (indexdef LIKE '%UNIQUE%') FROM pg_indexes WHERE tablename = 't' ORDER BY 1",
        )
    };
    assert_eq!(
        indexes(&c),
        ["t_a_b_idx true", "t_a_b_idx1 false", "t_lower_idx false"],
        "{err}"
    );
    assert!(
        c.declared_records()
            .contains(&("schema.sql#table:t".to_string(), true)),
        "{err}"
    );
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(
        !err.contains("WARN") && !err.contains("not managed"),
        "{err}"
    );

    // The same file through psql's rules: the names agree, nothing is added or differs.
    let built = declared(Kind::Postgres, schema);
    built.execute(schema);
    assert_eq!(indexes(&built), indexes(&c));
    let mut plan = built.cmd();
    plan.arg("plan")
        .arg("--schema")
        .arg(built.dir.path().join("schema.sql"));
    let (code, out, err) = run(plan);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("up to date") || out.contains("nothing to"),
        "{out}\n{err}"
    );
    assert!(!err.contains("WARN"), "{err}");
}

/// A composite primary key and an enum column, applied from the declaration: no difference
/// on the fresh database (the key's columns are NOT NULL in the declaration too), strict passes.
#[test]
fn a_fresh_apply_with_a_composite_key_and_an_enum_has_no_difference() {
    let c = declared(
        Kind::Postgres,
        "CREATE TYPE mood AS ENUM ('a', 'b');\n\
         CREATE TABLE t (a integer, b integer, m mood, PRIMARY KEY (a, b));\n",
    );
    let mut strict = c.up_declared();
    strict.arg("--schema-strict");
    let (code, _, err) = run(strict);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("differs"), "{err}");
}

both!(a_difference_shows_for_as_long_as_it_exists);

/// A difference on an object that is there: `plan` shows it on every run; after a start,
/// `status` shows it (`changed`), and under `--schema-strict` as a failure that stays (every
/// start compares again, `status --exit-code` is 1) until the difference is gone.
fn a_difference_shows_for_as_long_as_it_exists(kind: Kind) {
    let c = declared(
        kind,
        "CREATE TABLE t (a integer, b integer);\nCREATE INDEX t_i ON t (a);\n",
    );
    assert_eq!(run(c.up_declared()).0, 0);
    c.execute("DROP INDEX t_i; CREATE INDEX t_i ON t (b);");
    let plan = || {
        let mut p = c.cmd();
        p.arg("plan")
            .arg("--schema")
            .arg(c.dir.path().join("schema.sql"));
        run(p).1
    };
    let status = || {
        let mut s = c.cmd();
        s.args(["status", "--exit-code"]);
        let (code, out, _) = run(s);
        (code, out)
    };
    for _ in 0..2 {
        assert!(plan().contains("index t_i differs"));
    }
    // Lenient: a warning on the start that compares, then shown by status, exit code 0.
    for _ in 0..2 {
        let (code, _, err) = run(c.up_declared());
        assert_eq!(code, 0, "{err}");
        let (code, out) = status();
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains("changed   schema.sql#difference:index t_i")
                && out.contains("differs: index t_i differs"),
            "{out}"
        );
    }
    let validate = || {
        let mut v = c.cmd();
        v.arg("validate")
            .arg("--schema")
            .arg(c.dir.path().join("schema.sql"));
        let (code, out, _) = run(v);
        (code, out)
    };
    let (code, out) = validate();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("note: ")
            && out.contains("schema.sql#difference:index t_i: at the last run: index t_i differs")
            && out.contains("declared schema: 1 file, 1 table, 1 index"),
        "{out}"
    );
    // Strict: a failure on every start while it lasts.
    for _ in 0..2 {
        let mut strict = c.up_declared();
        strict.arg("--schema-strict");
        let (code, _, err) = run(strict);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("index t_i differs"), "{err}");
        let (code, out) = status();
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains("failed    schema.sql#difference:index t_i"),
            "{out}"
        );
    }
    let (code, out) = validate();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("schema.sql#difference:index t_i: failed at the last run"),
        "{out}"
    );
    // Made as declared: the record goes, strict passes, status is clean.
    c.execute("DROP INDEX t_i; CREATE INDEX t_i ON t (a);");
    let mut strict = c.up_declared();
    strict.arg("--schema-strict");
    let (code, _, err) = run(strict);
    assert_eq!(code, 0, "{err}");
    let (code, out) = status();
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("difference"), "{out}");
    assert!(!plan().contains("differs"));
}

/// SQLite's virtual tables (FTS4, FTS5, R*Tree) declared from `sqlite3 .schema` output, shadow
/// tables and all: each virtual table is made by its module (its shadow tables with it, none
/// made as a plain table), the next start has nothing to do, and `schema dump` writes the
/// virtual tables without their shadows, a schema that rebuilds the same database.
#[test]
fn sqlite_virtual_tables_are_made_by_their_modules() {
    let source = Case::sqlite();
    source.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT);\n\
         CREATE VIRTUAL TABLE event_search USING fts4 (event_id, body);\n\
         CREATE VIRTUAL TABLE notes_fts USING fts5 (title, body);\n\
         CREATE VIRTUAL TABLE boxes USING rtree (id, minx, maxx);",
    );
    let dot_schema = std::process::Command::new("sqlite3")
        .arg(&source.db)
        .arg(".schema")
        .output()
        .unwrap();
    let dot_schema = String::from_utf8(dot_schema.stdout).unwrap();
    assert!(dot_schema.contains("event_search_segdir"), "{dot_schema}");
    let schema_of = |c: &Case| {
        let mut s = c.column(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'schema_migrations%' ORDER BY name",
        );
        s.sort();
        s
    };

    let c = declared(Kind::Sqlite, &dot_schema);
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert_eq!(schema_of(&c), schema_of(&source), "{err}");
    let records: Vec<String> = c.declared_records().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        records,
        [
            "schema.sql#table:event_search",
            "schema.sql#table:notes_fts",
            "schema.sql#table:boxes",
            "schema.sql#table:events"
        ],
        "{err}"
    );
    c.execute("INSERT INTO event_search (event_id, body) VALUES ('e1', 'hello world')");
    assert_eq!(
        c.value("SELECT event_id FROM event_search WHERE body MATCH 'hello'"),
        "e1"
    );
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("up to date") && !err.contains("WARN"), "{err}");

    // schema dump: the virtual tables, not their shadows; it rebuilds the same schema.
    let (code, dumped, err) = schema_dump(&c);
    assert_eq!(code, 0, "{err}");
    assert!(
        dumped.contains("CREATE VIRTUAL TABLE event_search USING fts4")
            && !dumped.contains("event_search_content"),
        "{dumped}"
    );
    let rebuilt = declared(Kind::Sqlite, &dumped);
    let (code, _, err) = run(rebuilt.up_declared());
    assert_eq!(code, 0, "{err}");
    assert_eq!(schema_of(&rebuilt), schema_of(&source), "{err}");
}

/// `pg_dump --schema-only` of a database, without ownership, privileges and our own table.
fn pg_dump(c: &Case) -> String {
    pg_dump_raw(c)
        .lines()
        .filter(|l| !l.starts_with("--") && !l.is_empty() && !l.starts_with("\\"))
        .collect::<Vec<_>>()
        .join("\n")
}
/// `schema dump` writes a schema that rebuilds the database: extensions in their own schema,
/// expressions and types with their schemas, sequences with every option and their owners;
/// `pg_dump` of the rebuilt database is the original's. What it cannot write yet (a function,
/// a view, a policy, row level security) is named in a warning and in the dump, never left
/// out silently.
#[test]
fn postgres_schema_dump_rebuilds_the_database() {
    let source = Case::new(Kind::Postgres);
    source.execute(
        "CREATE SCHEMA ext;\n\
         CREATE EXTENSION \"uuid-ossp\" WITH SCHEMA ext;\n\
         CREATE SCHEMA app;\n\
         CREATE TYPE app.mood AS ENUM ('a', 'b');\n\
         CREATE SEQUENCE app.counter AS integer INCREMENT BY 5 MINVALUE 10 MAXVALUE 1000 START 10 CYCLE;\n\
         CREATE TABLE app.items (id uuid DEFAULT ext.uuid_generate_v4() PRIMARY KEY, \
           n integer DEFAULT nextval('app.counter'), m app.mood, serial_col serial);\n\
         ALTER SEQUENCE app.counter OWNED BY app.items.n;\n\
         CREATE INDEX ON app.items (m);\n\
         CREATE FUNCTION app.slug(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(t) $$;\n\
         CREATE TABLE app.tags (item uuid REFERENCES app.items, tag text NOT NULL, \
           slug text DEFAULT app.slug('x'));",
    );
    let dump = |c: &Case| {
        let (code, out, err) = schema_dump(c);
        assert_eq!(code, 0, "{err}");
        (out, err)
    };
    let (dumped, err) = dump(&source);
    assert!(!err.contains("not written"), "{err}");
    assert!(
        dumped.contains("WITH SCHEMA \"ext\"") && dumped.contains("ext.uuid_generate_v4()"),
        "{dumped}"
    );
    let rebuilt = declared(Kind::Postgres, &dumped);
    let (code, _, err) = run(rebuilt.up_declared());
    assert_eq!(code, 0, "{err}");
    assert_eq!(pg_dump(&rebuilt), pg_dump(&source));
    let (code, _, err) = run(rebuilt.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("up to date") && !err.contains("WARN"), "{err}");

    // Views, row level security, policies and statistics objects are written too (and
    // rebuild the same); what it cannot write yet (a foreign table, its server and wrapper)
    // is named.
    source.execute(
        "CREATE VIEW app.v AS SELECT id FROM app.items;\n\
         ALTER TABLE app.items ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE app.items FORCE ROW LEVEL SECURITY;\n\
         CREATE POLICY p ON app.items USING (true);\n\
         CREATE POLICY own ON app.tags AS RESTRICTIVE FOR UPDATE TO PUBLIC USING (tag <> 'x') WITH CHECK (tag <> 'y');\n\
         CREATE STATISTICS app.st ON n, m FROM app.items;\n\
         CREATE FOREIGN DATA WRAPPER w;\n\
         CREATE SERVER far FOREIGN DATA WRAPPER w;\n\
         CREATE FOREIGN TABLE app.f (a int) SERVER far;",
    );
    let (dumped, err) = dump(&source);
    assert!(
        dumped.contains("CREATE VIEW app.v AS")
            && dumped.contains("CREATE POLICY own ON app.tags AS RESTRICTIVE FOR UPDATE")
            && dumped.contains("CREATE STATISTICS app.st ON n, m FROM app.items"),
        "{dumped}"
    );
    for item in [
        "foreign table app.f",
        "foreign server far",
        "foreign-data wrapper w",
    ] {
        assert!(err.contains(item), "{item}: {err}");
        assert!(
            dumped.contains(&format!("-- not written: {item}")),
            "{item}: {dumped}"
        );
    }
    source.execute("DROP FOREIGN TABLE app.f; DROP SERVER far; DROP FOREIGN DATA WRAPPER w");
    let (dumped, err) = dump(&source);
    assert!(!err.contains("not written"), "{err}");
    let again = declared(Kind::Postgres, &dumped);
    let (code, _, err) = run(again.up_declared());
    assert_eq!(code, 0, "{err}");
    assert_eq!(pg_dump(&again), pg_dump(&source));
    let (code, _, err) = run(again.up_declared());
    assert!(code == 0 && err.contains("up to date"), "{err}");
}

/// Row level security and policies declared on a table that is there without them: enabled
/// (forced) and made, once; one dropped is made again.
#[test]
fn postgres_row_level_security_and_policies_are_declared() {
    let c = Case::new(Kind::Postgres);
    c.write(
        "001_notes.sql",
        "CREATE TABLE notes (id int PRIMARY KEY, owner text);",
    );
    assert_eq!(run(c.up()).0, 0);
    c.declare(
        "schema.sql",
        "CREATE TABLE notes (id int PRIMARY KEY, owner text);\n\
         ALTER TABLE notes ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE notes FORCE ROW LEVEL SECURITY;\n\
         CREATE POLICY mine ON notes USING (owner = current_user);\n",
    );
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("enable row level security on notes")
            && err.contains("force row level security on notes")
            && err.contains("create policy mine on notes"),
        "{err}"
    );
    assert_eq!(
        c.value("SELECT relrowsecurity::text || relforcerowsecurity::text FROM pg_class WHERE relname = 'notes'"),
        "truetrue"
    );
    let (code, _, err) = run(c.up_declared());
    assert!(code == 0 && err.contains("up to date"), "{err}");
    c.execute("DROP POLICY mine ON notes");
    let (code, _, err) = run(c.up_declared());
    assert!(code == 0 && err.contains("applied 1,"), "{err}");
}

/// Functions and procedures are declared: each one missing is made (before the tables whose
/// defaults call it, its body not checked), overloads apart by their arguments' types as the
/// server reads them; one that is there is never replaced; one dropped is made again.
#[test]
fn postgres_functions_are_declared_by_name_and_arguments() {
    let schema = "CREATE TABLE public.t (id integer PRIMARY KEY, code text DEFAULT public.new_code(), \
                    n integer DEFAULT public.twice(21));\n\
                  CREATE FUNCTION public.new_code() RETURNS text LANGUAGE sql AS $$ SELECT 'x' || count(*) FROM public.t $$;\n\
                  CREATE FUNCTION public.twice(integer) RETURNS integer LANGUAGE sql AS $$ SELECT $1 * 2 $$;\n\
                  CREATE FUNCTION public.twice(v character varying) RETURNS text LANGUAGE sql AS $$ SELECT v || v $$;\n\
                  CREATE PROCEDURE public.reset() LANGUAGE sql AS $$ DELETE FROM public.t $$;\n";
    let c = declared(Kind::Postgres, schema);
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    let functions = |c: &Case| {
        c.column(
            "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1",
        )
    };
    assert_eq!(
        functions(&c),
        [
            "new_code()",
            "reset()",
            "twice(character varying)",
            "twice(integer)"
        ],
        "{err}"
    );
    assert!(
        err.contains("declared schema: create function twice(v character varying)")
            && err.contains("declared schema: create function twice(integer)"),
        "{err}"
    );
    c.execute("INSERT INTO t (id) VALUES (1)");
    assert_eq!(c.value("SELECT n FROM t"), "42");
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("up to date") && !err.contains("WARN"), "{err}");
    // Never replaced: a body changed by hand stays; one dropped is made again, alone.
    c.execute(
        "CREATE OR REPLACE FUNCTION public.new_code() RETURNS text LANGUAGE sql AS $$ SELECT 'mine' $$;\n\
         DROP FUNCTION public.twice(character varying);",
    );
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("applied 1,"), "{err}");
    assert_eq!(functions(&c).len(), 4);
    assert_eq!(c.value("SELECT public.new_code()"), "mine");
    // ... and is said to differ, while the others do not.
    assert!(
        err.contains("function new_code() differs from its declaration")
            && !err.contains("twice(integer) differs"),
        "{err}"
    );

    // The same file through psql: nothing to make.
    let built = declared(Kind::Postgres, schema);
    // (psql needs the functions before the table whose defaults call them.)
    let (table, functions) = schema.split_once('\n').unwrap();
    built.execute(&format!(
        "SET check_function_bodies = off;\n{functions}\n{table}"
    ));
    let (code, _, err) = run(built.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("applied 0,") && !err.contains("WARN"), "{err}");
}

/// Lemmy's schema, as its own migrations make it (diesel's folder, 318 of its 346 on
/// PostgreSQL 15: the others need 16's syntax): its `pg_dump --schema-only` declared on an
/// empty database gives the same `pg_dump`, and so does `schema dump` of it; the next start on
/// each is a no-op without a warning.
#[test]
fn lemmy_schema_round_trips() {
    let source = Case::new(Kind::Postgres);
    let mut up = crate::common::bare();
    up.args(["up", "-d", &source.url, "-m"])
        .arg(crate::common::real_folders::lemmy());
    let (_, _, err) = run(up);
    assert!(err.contains("applied 318, failed 28"), "{err}");
    let by_pg_dump = pg_dump_raw(&source);
    let (code, dumped, err) = schema_dump(&source);
    assert_eq!(code, 0, "{err}");
    for schema in [by_pg_dump.as_str(), dumped.as_str()] {
        let c = declared(Kind::Postgres, schema);
        let (code, _, err) = run(c.up_declared());
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("failed 0"), "{err}");
        assert_eq!(pg_dump(&c), pg_dump(&source));
        let (code, _, err) = run(c.up_declared());
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("up to date") && !err.contains("WARN"), "{err}");
    }
}

/// `pg_dump --schema-only` as it is (the file a team would declare).
fn pg_dump_raw(c: &Case) -> String {
    let out = std::process::Command::new("pg_dump")
        .args([
            "--schema-only",
            "--no-owner",
            "--no-privileges",
            "--exclude-table=public.schema_migrations*",
        ])
        .arg(&c.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

both!(views_and_triggers_are_declared);

/// Views (materialized on PostgreSQL, `WITH NO DATA`) and triggers are made when missing,
/// after the tables, in the order declared; the next start has nothing to do; one dropped is
/// made again; `schema dump` writes them and rebuilds the same database.
fn views_and_triggers_are_declared(kind: Kind) {
    let schema = match kind {
        Kind::Sqlite => {
            "CREATE VIEW active AS SELECT id FROM users WHERE active;\n\
             CREATE VIEW active_ids AS SELECT id FROM active;\n\
             CREATE TABLE users (id INTEGER PRIMARY KEY, active INTEGER, touched INTEGER DEFAULT 0);\n\
             CREATE TRIGGER users_touch AFTER UPDATE OF active ON users BEGIN\n\
               UPDATE users SET touched = touched + 1 WHERE id = NEW.id;\n\
             END;\n"
        }
        Kind::Postgres => {
            "CREATE VIEW public.active AS SELECT id FROM public.users WHERE active;\n\
             CREATE MATERIALIZED VIEW public.active_ids AS SELECT id FROM public.active WITH NO DATA;\n\
             CREATE TABLE public.users (id integer PRIMARY KEY, active boolean, touched integer DEFAULT 0);\n\
             CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$\n\
             BEGIN NEW.touched := OLD.touched + 1; RETURN NEW; END; $$;\n\
             CREATE TRIGGER users_touch BEFORE UPDATE OF active ON public.users\n\
               FOR EACH ROW EXECUTE FUNCTION public.touch();\n"
        }
    };
    let c = declared(kind, schema);
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("not managed"), "{err}");
    c.execute("INSERT INTO users (id, active) VALUES (1, TRUE); UPDATE users SET active = FALSE");
    assert_eq!(c.value("SELECT touched FROM users"), "1");
    assert_eq!(c.value("SELECT count(*) FROM active"), "0");
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("up to date") && !err.contains("WARN"), "{err}");
    let drop = match kind {
        Kind::Sqlite => "DROP TRIGGER users_touch; DROP VIEW active_ids;",
        Kind::Postgres => "DROP TRIGGER users_touch ON users; DROP MATERIALIZED VIEW active_ids;",
    };
    c.execute(drop);
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("applied 2,"), "{err}");
    if kind == Kind::Postgres {
        // A view whose query was changed by hand is said to differ, and kept.
        c.execute(
            "CREATE OR REPLACE VIEW public.active AS SELECT id FROM public.users WHERE NOT active",
        );
        let (code, _, err) = run(c.up_declared());
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains("view active differs from its declaration"),
            "{err}"
        );
        c.execute(
            "CREATE OR REPLACE VIEW public.active AS SELECT id FROM public.users WHERE active",
        );
        let (code, _, err) = run(c.up_declared());
        assert!(code == 0 && !err.contains("WARN"), "{err}");
    }

    let (code, dumped, err) = schema_dump(&c);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("not written"), "{err}");
    let rebuilt = declared(kind, &dumped);
    let (code, _, err) = run(rebuilt.up_declared());
    assert_eq!(code, 0, "{err}\n{dumped}");
    if kind == Kind::Postgres {
        assert_eq!(pg_dump(&rebuilt), pg_dump(&c));
    } else {
        let objects = |c: &Case| {
            c.column("SELECT type || ' ' || name FROM sqlite_master WHERE name NOT LIKE 'schema_migrations%' ORDER BY 1")
        };
        assert_eq!(objects(&rebuilt), objects(&c));
    }
}

/// Synapse's full PostgreSQL schema (sequences, a trigger function, 130-odd tables): declared
/// into an empty database it gives the `pg_dump` that psql's run of the same file gives, and
/// the next start is a no-op without a warning.
#[test]
fn synapse_postgres_schema_is_what_psql_makes() {
    let (schema, _) = crate::common::app_schema::synapse();
    let text = std::fs::read_to_string(schema).unwrap();
    let by_psql = Case::new(Kind::Postgres);
    by_psql.execute(&text);
    let c = declared(Kind::Postgres, &text);
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(
        !err.contains("WARN") && only_data_not_managed(&err),
        "{err}"
    );
    assert_eq!(pg_dump(&c), pg_dump(&by_psql));
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("up to date") && !err.contains("WARN"), "{err}");
    // The third database: built from our `schema dump` of the first.
    let (code, dumped, err) = schema_dump(&by_psql);
    assert!(code == 0 && !err.contains("not written"), "{err}");
    let rebuilt = declared(Kind::Postgres, &dumped);
    let (code, _, err) = run(rebuilt.up_declared());
    assert!(code == 0 && err.contains("failed 0"), "{err}");
    assert_eq!(pg_dump(&rebuilt), pg_dump(&by_psql));
    let (code, _, err) = run(rebuilt.up_declared());
    assert!(
        code == 0 && err.contains("up to date") && !err.contains("WARN"),
        "{err}"
    );
}

/// Synapse's full SQLite schema (with its FTS4 `event_search`): declared into an empty file it
/// makes what `sqlite3` makes of the same file, every table, index, virtual table and shadow
/// table (the stored statements equal but for trailing white space).
#[test]
fn synapse_sqlite_schema_is_what_sqlite3_makes() {
    let (_, schema) = crate::common::app_schema::synapse();
    let text = std::fs::read_to_string(schema).unwrap();
    let by_sqlite3 = Case::sqlite();
    by_sqlite3.execute(&text);
    let c = declared(Kind::Sqlite, &text);
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(
        !err.contains("WARN") && only_data_not_managed(&err),
        "{err}"
    );
    let objects = |c: &Case| {
        c.column(
            "SELECT type || ' ' || name || ' ' || coalesce(rtrim(sql), '') FROM sqlite_master \
             WHERE name NOT LIKE 'schema_migrations%' AND name NOT LIKE 'sqlite_autoindex_schema_migrations%' ORDER BY name",
        )
    };
    let made = objects(&c);
    assert!(made.len() > 300, "{}", made.len());
    assert_eq!(made, objects(&by_sqlite3));
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("up to date") && !err.contains("WARN"), "{err}");
    // The third file: built from our `schema dump` of the first.
    let (code, dumped, err) = schema_dump(&by_sqlite3);
    assert_eq!(code, 0, "{err}");
    let rebuilt = declared(Kind::Sqlite, &dumped);
    let (code, _, err) = run(rebuilt.up_declared());
    assert!(code == 0 && err.contains("failed 0"), "{err}");
    assert_eq!(objects(&rebuilt), made);
    let (code, _, err) = run(rebuilt.up_declared());
    assert!(
        code == 0 && err.contains("up to date") && !err.contains("WARN"),
        "{err}"
    );
}

/// Whether what a run lists as not managed is its data statements only (the schema's own rows,
/// left to migrations).
fn only_data_not_managed(err: &str) -> bool {
    err.lines()
        .filter_map(|l| l.split_once(" statement(s) not managed"))
        .all(|(before, after)| {
            let n: usize = before
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(usize::MAX);
            after.matches("data statement: ").count() == n
        })
}

/// Partitioned tables (range with a default partition, list), a primary key and an index on
/// the partitioned table, and domains with NOT NULL, DEFAULT and CHECK: the database's
/// `pg_dump` declared into an empty database, and our `schema dump` of it, each give the same
/// `pg_dump` (partitions attached as declared, the partitioned indexes' trees linked).
#[test]
fn postgres_partitions_and_domains_round_trip() {
    let source = Case::new(Kind::Postgres);
    source.execute(
        "CREATE DOMAIN positive AS integer NOT NULL CHECK (VALUE > 0);\n\
         CREATE DOMAIN email AS text CONSTRAINT email_at CHECK (VALUE LIKE '%@%') DEFAULT 'a@b';\n\
         CREATE TABLE events (id bigint NOT NULL, at date NOT NULL, n positive, who email) PARTITION BY RANGE (at);\n\
         CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');\n\
         CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');\n\
         CREATE TABLE events_rest PARTITION OF events DEFAULT;\n\
         ALTER TABLE events ADD PRIMARY KEY (id, at);\n\
         CREATE INDEX events_who ON events (who);\n\
         CREATE TABLE logs (id int, kind text) PARTITION BY LIST (kind);\n\
         CREATE TABLE logs_a PARTITION OF logs FOR VALUES IN ('a');",
    );
    let (code, dumped, err) = schema_dump(&source);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("not written"), "{err}");
    for schema in [pg_dump_raw(&source), dumped] {
        let c = declared(Kind::Postgres, &schema);
        let (code, _, err) = run(c.up_declared());
        assert_eq!(code, 0, "{err}");
        assert_eq!(pg_dump(&c), pg_dump(&source), "{schema}");
        let (code, _, err) = run(c.up_declared());
        assert!(
            code == 0 && err.contains("up to date") && !err.contains("WARN"),
            "{err}"
        );
    }
}

/// Whether a run warned, beyond the server's word that a publication has nothing to publish
/// (the test server's `wal_level` is not `logical`).
fn warned(err: &str) -> bool {
    err.lines()
        .any(|l| l.contains("WARN") && !l.contains("wal_level is insufficient"))
}

/// Supabase's own dump of its schema (tests/fixtures/supabase), without what Debian's
/// PostgreSQL cannot build: four extensions it does not package, their comments, and the view
/// on one's table. Each left-out part is a pg_dump entry (`-- Name: ...` and its statements).
fn supabase_schema() -> String {
    let text = include_str!("../fixtures/supabase/schema-15.sql");
    let missing = ["pgsodium", "pg_graphql", "pgjwt", "supabase_vault"];
    let entries: Vec<&str> = text.split("\n--\n-- Name: ").collect();
    let kept: Vec<&str> = entries
        .iter()
        .copied()
        .filter(|e| {
            let head = e.lines().next().unwrap_or("");
            !missing.iter().any(|x| {
                head.starts_with(&format!("{x}; Type: EXTENSION"))
                    || head.starts_with(&format!("EXTENSION {x}; Type: COMMENT"))
            }) && !head.starts_with("decrypted_secrets; Type: VIEW")
        })
        .collect();
    assert_eq!(entries.len() - kept.len(), 9, "the entries left out");
    kept.join("\n--\n-- Name: ")
}

/// Supabase's schema (schemas, extensions in their own schema, functions for its event
/// triggers, row level security, a publication, six event triggers, comments on extensions,
/// functions and tables): declared into an empty database it gives the `pg_dump` that running
/// the file gives; so does our `schema dump` of that database, declared into another; each
/// next start is a no-op without a warning. (Its `public.schema_migrations` is dbmate's: the
/// name of our own table, which the declaration never touches.)
#[test]
fn supabase_schema_round_trips() {
    let text = supabase_schema();
    let source = Case::new(Kind::Postgres);
    source.execute(&text);
    let event_triggers = source.column("SELECT count(*) FROM pg_event_trigger");
    assert_eq!(event_triggers, ["6"]);
    let (code, dumped, err) = schema_dump(&source);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("not written"), "{err}");
    for schema in [text, dumped] {
        let c = declared(Kind::Postgres, &schema);
        let (code, _, err) = run(c.up_declared());
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("failed 0") && !warned(&err), "{err}");
        assert!(!err.contains("not managed"), "{err}");
        assert_eq!(pg_dump(&c), pg_dump(&source));
        let (code, _, err) = run(c.up_declared());
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("up to date") && !err.contains("WARN"), "{err}");
    }
}

/// Aggregates, statistics objects, rules, publications, event triggers and comments (on a
/// table, a column, a function, an aggregate, a view, a constraint and an index) are declared:
/// made when missing, in an order that works (the aggregate before the view that uses it, the
/// event trigger last); `pg_dump` of the result is that of the file run as it is, and so is
/// our `schema dump`'s rebuild. A comment changed by hand is a difference, not replaced; an
/// object dropped by hand is made again.
#[test]
fn postgres_comments_and_named_objects_are_declared() {
    let schema = "CREATE FUNCTION add_int(state integer, x integer) RETURNS integer \
             LANGUAGE sql IMMUTABLE AS $$ SELECT state + x $$;\n\
         CREATE TABLE items (id int PRIMARY KEY, a int, b int, note text);\n\
         CREATE VIEW item_totals AS SELECT total(a) AS a FROM items;\n\
         CREATE AGGREGATE total(integer) (SFUNC = add_int, STYPE = integer, INITCOND = '0');\n\
         CREATE STATISTICS items_ab (dependencies) ON a, b FROM items;\n\
         CREATE TABLE items_log (id int, at timestamptz DEFAULT now());\n\
         CREATE RULE items_log_kept AS ON DELETE TO items_log DO INSTEAD NOTHING;\n\
         CREATE PUBLICATION items_pub FOR TABLE items WITH (publish = 'insert, update');\n\
         CREATE FUNCTION audit() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;\n\
         CREATE EVENT TRIGGER audit_ddl ON ddl_command_end WHEN TAG IN ('CREATE TABLE') \
             EXECUTE FUNCTION audit();\n\
         COMMENT ON TABLE items IS 'What is sold';\n\
         COMMENT ON COLUMN items.note IS E'Free text,\\nany length';\n\
         COMMENT ON FUNCTION add_int(integer, integer) IS 'A step of total';\n\
         COMMENT ON AGGREGATE total(integer) IS 'The sum';\n\
         COMMENT ON VIEW item_totals IS $$It's the totals$$;\n\
         COMMENT ON CONSTRAINT items_pkey ON items IS 'The key';\n\
         COMMENT ON INDEX items_pkey IS 'Its index';\n\
         COMMENT ON EVENT TRIGGER audit_ddl IS 'Audits';\n\
         COMMENT ON STATISTICS items_ab IS 'a with b';\n";
    let source = Case::new(Kind::Postgres);
    // Run as it is, the view needs the aggregate first.
    let view = "CREATE VIEW item_totals AS SELECT total(a) AS a FROM items;\n";
    let aggregate =
        "CREATE AGGREGATE total(integer) (SFUNC = add_int, STYPE = integer, INITCOND = '0');\n";
    source.execute(
        &schema
            .replace(view, "")
            .replace(aggregate, &format!("{aggregate}{view}")),
    );
    let c = declared(Kind::Postgres, schema);
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("failed 0"), "{err}");
    for made in [
        "create aggregate total",
        "create statistics object items_ab",
        "create rule items_log.items_log_kept",
        "create publication items_pub",
        "create event trigger audit_ddl",
        "comment on COLUMN items.note",
    ] {
        assert!(err.contains(made), "{made}: {err}");
    }
    assert!(!err.contains("not managed") && !warned(&err), "{err}");
    assert_eq!(pg_dump(&c), pg_dump(&source));
    let (code, _, err) = run(c.up_declared());
    assert!(
        code == 0 && err.contains("up to date") && !err.contains("WARN"),
        "{err}"
    );

    let (code, dumped, err) = schema_dump(&source);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("not written"), "{err}\n{dumped}");
    let rebuilt = declared(Kind::Postgres, &dumped);
    let (code, _, err) = run(rebuilt.up_declared());
    assert!(code == 0 && err.contains("failed 0"), "{err}\n{dumped}");
    assert_eq!(pg_dump(&rebuilt), pg_dump(&source));

    // An event trigger replaced by hand on another event is a difference, not replaced.
    c.execute(
        "DROP EVENT TRIGGER audit_ddl; CREATE EVENT TRIGGER audit_ddl ON sql_drop EXECUTE FUNCTION audit(); \
         COMMENT ON EVENT TRIGGER audit_ddl IS 'Audits'",
    );
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "event trigger audit_ddl differs from its declaration: sql_drop  audit() (declared ddl_command_end {\"CREATE TABLE\"} audit())"
        ),
        "{err}"
    );
    c.execute("DROP EVENT TRIGGER audit_ddl");
    let (code, _, err) = run(c.up_declared());
    assert!(code == 0 && err.contains("differs no more"), "{err}");
    c.execute(
        "COMMENT ON TABLE items IS 'Changed'; DROP EVENT TRIGGER audit_ddl; DROP STATISTICS items_ab",
    );
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "the comment on TABLE items differs from its declaration: 'Changed' (declared 'What is sold'); not replaced"
        ),
        "{err}"
    );
    assert!(
        err.contains("create event trigger audit_ddl")
            && err.contains("create statistics object items_ab")
            && err.contains("comment on EVENT TRIGGER audit_ddl")
            && err.contains("comment on STATISTICS items_ab")
            && err.contains("applied 4,"),
        "{err}"
    );
    assert_eq!(
        c.column("SELECT obj_description('items'::regclass, 'pg_class')"),
        ["Changed"]
    );

    // A comment on what the files do not declare (a typo, another's table) is not made:
    // listed as not managed, and refused by `validate`.
    c.execute("CREATE TABLE legacy (id int)");
    let typos = format!(
        "{schema}COMMENT ON TABLE itemz IS 'typo';\nCOMMENT ON COLUMN items.nte IS 'typo';\n\
         COMMENT ON TABLE legacy IS 'not ours';\n"
    );
    c.declare("schema.sql", &typos);
    let (code, _, err) = run(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("3 statement(s) not managed")
            && err.matches("comment on an object not declared: ").count() == 3,
        "{err}"
    );
    assert_eq!(
        c.column("SELECT count(*) FROM pg_description WHERE objoid = 'legacy'::regclass"),
        ["0"]
    );
    let mut validate = c.cmd();
    validate
        .arg("validate")
        .arg("--schema")
        .arg(c.dir.path().join("schema.sql"));
    let (code, out, err) = run(validate);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("COMMENT ON TABLE itemz"), "{out}");
    // Strict: each is a failure, on every start, until the file is mended.
    for _ in 0..2 {
        let mut strict = c.up_declared();
        strict.arg("--schema-strict");
        let (code, _, err) = run(strict);
        assert_eq!(code, 1, "{err}");
        assert_eq!(
            err.matches("its object is not declared (--schema-strict)")
                .count(),
            3,
            "{err}"
        );
    }
}

both!(a_change_to_one_table_probes_that_table_alone);

/// After a run that found the tables as declared, a start probes only the tables whose
/// declaration or definition changed since (the debug log says how many it built), and still
/// adds what is missing and shows what differs; a table that differs is probed on every
/// comparison while it does.
fn a_change_to_one_table_probes_that_table_alone(kind: Kind) {
    let tables = |c_type: &str| {
        format!(
            "CREATE TABLE a (id integer, n integer);\nCREATE INDEX a_n ON a (n);\n\
             CREATE TABLE b (id integer, n integer);\n\
             CREATE TABLE c (id integer, n {c_type});\n\
             CREATE TABLE d (id integer, n integer);\n"
        )
    };
    let c = declared(kind, &tables("integer"));
    assert_eq!(run(c.up_declared()).0, 0);
    let debug = |mut cmd: std::process::Command| {
        cmd.args(["--log-level", "migrate_entrypoint=debug"]);
        run(cmd)
    };
    c.execute("ALTER TABLE b DROP COLUMN n");
    let (code, _, err) = debug(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("probed (1 of 4 tables)") && err.contains("add column b.n"),
        "{err}"
    );
    // The declaration of `c` changes: `c` alone is built, and its difference is said.
    c.declare("schema.sql", &tables("bigint"));
    let (code, _, err) = debug(c.up_declared());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("probed (1 of 4 tables)"), "{err}");
    assert!(err.contains("column c.n differs"), "{err}");
    let mut plan = c.cmd();
    plan.arg("plan")
        .arg("--schema")
        .arg(c.dir.path().join("schema.sql"));
    let (_, out, err) = debug(plan);
    assert!(err.contains("probed (1 of 4 tables)"), "{err}");
    assert!(out.contains("column c.n differs"), "{out}");
}

/// A trigger, a policy and a materialized view that are there are compared with their
/// declarations through the server (a trigger or a policy made again on a copy of its table in
/// the probe, a materialized view's query as a temporary view's): a database built from the
/// file shows no difference; one replaced by hand is a difference, said on every comparison
/// and never replaced, until it is as declared again.
#[test]
fn postgres_trigger_policy_and_materialized_view_definitions_are_compared() {
    let c = declared(
        Kind::Postgres,
        "CREATE TABLE t (a integer, b integer);\n\
         CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n\
         CREATE TRIGGER t_touch BEFORE UPDATE OF a ON t FOR EACH ROW EXECUTE FUNCTION touch();\n\
         ALTER TABLE t ENABLE ROW LEVEL SECURITY;\n\
         CREATE POLICY t_positive ON t FOR SELECT USING (a > 0);\n\
         CREATE MATERIALIZED VIEW t_sums (total) AS SELECT sum(a) FROM t WITH NO DATA;\n",
    );
    let (code, _, err) = run(c.up_declared());
    assert!(code == 0 && !err.contains("WARN"), "{err}");
    c.execute(
        "DROP TRIGGER t_touch ON t;\n\
         CREATE TRIGGER t_touch BEFORE UPDATE OF b ON t FOR EACH ROW EXECUTE FUNCTION touch();\n\
         DROP POLICY t_positive ON t;\n\
         CREATE POLICY t_positive ON t FOR SELECT USING (a > 1);\n\
         DROP MATERIALIZED VIEW t_sums;\n\
         CREATE MATERIALIZED VIEW t_sums (total) AS SELECT sum(b) FROM t;",
    );
    let plan = || {
        let mut p = c.cmd();
        p.arg("plan")
            .arg("--schema")
            .arg(c.dir.path().join("schema.sql"));
        run(p).1
    };
    for _ in 0..2 {
        let (code, _, err) = run(c.up_declared());
        assert_eq!(code, 0, "{err}");
        let out = plan();
        for object in [
            "trigger t_touch on t",
            "policy t_positive on t",
            "materialized view t_sums",
        ] {
            assert!(
                out.contains(&format!("{object} differs from its declaration")),
                "{object}: {out}"
            );
        }
    }
    assert_eq!(
        c.column(
            "SELECT CASE WHEN pg_get_triggerdef(oid) LIKE '%OF b ON%' THEN 'on b' END \
             FROM pg_trigger WHERE tgname = 't_touch'"
        ),
        ["on b"]
    );
    c.execute(
        "DROP TRIGGER t_touch ON t;\n\
         CREATE TRIGGER t_touch BEFORE UPDATE OF a ON t FOR EACH ROW EXECUTE FUNCTION touch();\n\
         DROP POLICY t_positive ON t;\n\
         CREATE POLICY t_positive ON t FOR SELECT USING (a > 0);\n\
         DROP MATERIALIZED VIEW t_sums;\n\
         CREATE MATERIALIZED VIEW t_sums (total) AS SELECT sum(a) FROM t;",
    );
    let (code, _, err) = run(c.up_declared());
    assert!(
        code == 0 && err.contains("differs no more") && !err.contains("WARN"),
        "{err}"
    );
    assert!(!plan().contains("differs"));
}
