//! Flyway's per-script configuration: `V3__x.sql.conf` beside `V3__x.sql`, whose
//! `executeInTransaction=false` runs that migration outside a transaction.

use std::path::Path;

/// Whether the `.conf` file beside a migration says it runs outside a transaction.
pub fn outside_transaction(conf: &Path) -> bool {
    std::fs::read_to_string(conf).is_ok_and(|text| {
        text.lines().any(|line| {
            line.split_once('=').is_some_and(|(k, v)| {
                k.trim() == "executeInTransaction" && v.trim().eq_ignore_ascii_case("false")
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execute_in_transaction() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("V3__x.sql.conf");
        assert!(!outside_transaction(&p));
        std::fs::write(&p, "# a comment\nexecuteInTransaction=false\n").unwrap();
        assert!(outside_transaction(&p));
        std::fs::write(&p, "executeInTransaction = true\n").unwrap();
        assert!(!outside_transaction(&p));
    }
}
