//! tern (PostgreSQL only): the part above `---- create above / drop below ----` is the up
//! part, the part below the down part; `---- tern: disable-tx ----`; its one-row
//! `schema_version` table.

use super::{cmd, ours, up_down_up, up_ok, valid_index};
use crate::common::{Case, Kind, run};

fn folder(c: &Case) {
    // As `tern new` names them: %03d_name.sql.
    c.write(
        "001_create_widgets.sql",
        "create table widgets (id int primary key, name text);\n\n---- create above / drop below ----\n\ndrop table widgets;\n",
    );
    c.write(
        "002_create_parts.sql",
        "create table parts (id int, widget int);\n---- create above / drop below ----\ndrop table parts;\n",
    );
}

#[test]
fn up_above_down_below() {
    let c = Case::new(Kind::Postgres);
    folder(&c);
    up_down_up(&c, "parts", "widgets");
}

#[test]
fn baseline_from_schema_version() {
    let c = Case::new(Kind::Postgres);
    folder(&c);
    c.write(
        "003_create_bins.sql",
        "create table bins (id int);\n---- create above / drop below ----\ndrop table bins;\n",
    );
    // tern's table (migrate.go) and its one row: how many migrations are applied.
    c.execute(
        "create table if not exists public.schema_version(version int4 not null primary key); \
         insert into public.schema_version(version) values (2); \
         create table widgets (id int primary key, name text); create table parts (id int, widget int);",
    );
    let (code, _, err) = run(cmd(&c, &["up"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("tern's history (schema_version)"), "{err}");
    let (code, _, err) = run(cmd(&c, &["baseline", "--from", "tern"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(ours(&c), ["001_create_widgets.sql", "002_create_parts.sql"]);
    let err = up_ok(&c);
    assert!(
        err.contains("applied 003_create_bins.sql") && err.contains("applied 1,"),
        "{err}"
    );
}

#[test]
fn disable_tx_lets_concurrent_index_through() {
    let c = Case::new(Kind::Postgres);
    folder(&c);
    c.write(
        "003_index.sql",
        "---- tern: disable-tx ----\ncreate index concurrently parts_widget on parts (widget);\n---- create above / drop below ----\ndrop index parts_widget;\n",
    );
    up_ok(&c);
    assert!(valid_index(&c, "parts_widget"));
}

#[test]
fn templates_are_refused_not_run() {
    let c = Case::new(Kind::Postgres);
    c.write(
        "001_t.sql",
        "create table {{.prefix}}widgets (id int);\n---- create above / drop below ----\ndrop table {{.prefix}}widgets;\n",
    );
    let (code, _, err) = run(cmd(&c, &["up"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("tern's templates"), "{err}");
    let (code, out, _) = run(cmd(&c, &["validate"]));
    assert_eq!(code, 1);
    assert!(
        out.contains("001_t.sql: refused, not run as plain SQL: it uses tern's templates"),
        "{out}"
    );
}
