//! morph (Mattermost): `-- morph:nontransactional` in the leading comment lines runs the file
//! outside a transaction, as our `-- migrate:no-transaction` does.

use super::Mark;

/// What a line says, when it is morph's directive.
pub fn mark(trimmed: &str) -> Option<Mark> {
    let rest = trimmed.strip_prefix("--")?.trim();
    (rest == "morph:nontransactional").then_some(Mark::HeaderNoTransaction)
}

#[cfg(test)]
mod tests {
    use super::super::layout;

    #[test]
    fn nontransactional() {
        let l = layout(
            "-- morph:nontransactional\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx ON posts (x);\n",
        );
        assert!(l.up.no_transaction);
        assert!(
            !layout("SELECT 1;\n-- morph:nontransactional\n")
                .up
                .no_transaction
        );
    }
}
