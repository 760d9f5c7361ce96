//! morph (Mattermost, PostgreSQL): `-- morph:nontransactional` runs the file outside a
//! transaction, so its `CREATE INDEX CONCURRENTLY` builds.

use super::{cmd, up_ok, valid_index};
use crate::common::{Case, Kind, run};

#[test]
fn nontransactional_lets_concurrent_index_through() {
    let c = Case::new(Kind::Postgres);
    c.write(
        "000001_create_posts.up.sql",
        "CREATE TABLE posts (id varchar(26), createat bigint);",
    );
    c.write("000001_create_posts.down.sql", "DROP TABLE posts;");
    // As Mattermost writes them.
    c.write(
        "000002_create_index_posts_createat.up.sql",
        "-- morph:nontransactional\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx_posts_create_at ON posts(createat);\n",
    );
    c.write(
        "000002_create_index_posts_createat.down.sql",
        "-- morph:nontransactional\nDROP INDEX CONCURRENTLY IF EXISTS idx_posts_create_at;\n",
    );
    let (_, out, _) = run(cmd(&c, &["plan"]));
    assert!(
        out.lines()
            .any(|l| l.contains("000002_create_index_posts_createat.up.sql")
                && l.ends_with("(no transaction)")),
        "{out}"
    );
    up_ok(&c);
    assert!(valid_index(&c, "idx_posts_create_at"));
    let (code, _, err) = run(cmd(&c, &["down"]));
    assert_eq!(code, 0, "{err}");
    assert!(!valid_index(&c, "idx_posts_create_at"));
}
