//! Flyway: `V<version>__name.sql`, its `U` undo files, and the per-script `.conf` whose
//! `executeInTransaction=false` runs that script outside a transaction.

use super::{cmd, up_ok, valid_index};
use crate::common::{Case, Kind, run};

#[test]
fn execute_in_transaction_false_lets_concurrent_index_through() {
    let c = Case::new(Kind::Postgres);
    c.write(
        "V1__create_person.sql",
        "CREATE TABLE person (id INTEGER, name TEXT);",
    );
    c.write(
        "V2__index_person.sql",
        "CREATE INDEX CONCURRENTLY person_name ON person (name);",
    );
    std::fs::write(
        c.migrations.join("V2__index_person.sql.conf"),
        "executeInTransaction=false\n",
    )
    .unwrap();
    c.write("U2__index_person.sql", "DROP INDEX person_name;");
    up_ok(&c);
    assert!(valid_index(&c, "person_name"));
    let (code, _, err) = run(cmd(&c, &["down"]));
    assert_eq!(code, 0, "{err}");
    assert!(!valid_index(&c, "person_name"));
}
