//! The declared schema loses nothing silently: a change that failed stays failed until it is
//! made, whatever else the run made meanwhile. Against a real PostgreSQL server.

use crate::common::{Case, Kind, run};

/// A foreign key whose table was created while the table it references failed is added once
/// that table is there, on a later start; its failed record stays until then.
#[test]
fn a_foreign_key_waits_for_the_table_it_references() {
    let c = Case::new(Kind::Postgres);
    std::fs::create_dir_all(&c.migrations).unwrap();
    c.declare(
        "schema.sql",
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
    let c = Case::new(Kind::Postgres);
    std::fs::create_dir_all(&c.migrations).unwrap();
    c.declare("schema.sql", schema);
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
    let built = Case::new(Kind::Postgres);
    std::fs::create_dir_all(&built.migrations).unwrap();
    built.execute(schema);
    assert_eq!(indexes(&built), indexes(&c));
    built.declare("schema.sql", schema);
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
