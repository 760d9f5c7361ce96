//! sqlx: `-- no-transaction` as the file's first line runs it outside a transaction (sqlx
//! reads it at the very start; here anywhere in the leading comment lines, as our own).

use super::Mark;

/// What a line says, when it is sqlx's directive.
pub fn mark(trimmed: &str) -> Option<Mark> {
    (trimmed == "-- no-transaction").then_some(Mark::HeaderNoTransaction)
}

#[cfg(test)]
mod tests {
    use super::super::layout;

    #[test]
    fn no_transaction() {
        assert!(
            layout("-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);\n")
                .up
                .no_transaction
        );
        assert!(!layout("SELECT 1;\n-- no-transaction\n").up.no_transaction);
    }
}
