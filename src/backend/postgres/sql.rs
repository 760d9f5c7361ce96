//! Quoting for the SQL this backend writes itself (names are validated identifiers; values
//! that are not bound parameters are literals).

use crate::settings::Table;

/// `"schema"."table"` or `"table"`, with `suffix` added to the table's name.
pub fn table(t: &Table, suffix: &str) -> String {
    match &t.schema {
        Some(s) => format!("\"{s}\".\"{}{suffix}\"", t.name),
        None => format!("\"{}{suffix}\"", t.name),
    }
}

/// A SQL string literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        let t = Table::parse("app.migs").unwrap();
        assert_eq!(table(&t, ""), "\"app\".\"migs\"");
        assert_eq!(table(&t, "_lock"), "\"app\".\"migs_lock\"");
        assert_eq!(literal("it's"), "'it''s'");
    }
}
