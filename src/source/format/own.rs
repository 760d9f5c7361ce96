//! Our own directives: `-- migrate:no-transaction` in the leading comment lines.

use super::Mark;

/// The words after `-- migrate:` (any spaces after `--`), when the line is one of ours.
pub(super) fn directive(trimmed: &str) -> Option<&str> {
    trimmed
        .strip_prefix("--")
        .map(str::trim_start)
        .and_then(|c| c.strip_prefix("migrate:"))
}

/// What a line says, when it is one of our directives (dbmate's `up` / `down` are dbmate's).
pub fn mark(trimmed: &str) -> Option<Mark> {
    let d = directive(trimmed)?;
    let word = d.split_whitespace().next().unwrap_or("");
    match word {
        "up" | "down" => None,
        // dbmate reads only `up` and `down`, as written: a file with `-- migrate:UP` has no up
        // section for it, and would run whole here.
        w if w.eq_ignore_ascii_case("up") || w.eq_ignore_ascii_case("down") => {
            Some(Mark::Refuse(format!(
                "`{trimmed}` is not dbmate's marker (dbmate reads `-- migrate:up` and `-- migrate:down`, in lower case)"
            )))
        }
        "no-transaction" => Some(Mark::HeaderNoTransaction),
        "allow" => Some(Mark::Allow(d["allow".len()..].trim().to_string())),
        _ => Some(Mark::Unknown(d.trim().to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::super::layout;

    #[test]
    fn no_transaction_in_header() {
        let l = layout(
            "\n-- a note\n-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t(x);\n",
        );
        assert!(l.up.no_transaction);
        assert!(
            layout("--migrate:no-transaction\nVACUUM;\n")
                .up
                .no_transaction
        );
    }

    #[test]
    fn directive_after_first_statement_is_just_a_comment() {
        let l = layout("SELECT 1;\n-- migrate:no-transaction\n");
        assert!(!l.up.no_transaction);
        assert!(l.unknown.is_empty());
    }

    #[test]
    fn allow_in_header() {
        let l = layout(
            "-- migrate:allow ban-drop-column,renaming-table the old app is gone\nSELECT 1;\n-- migrate:allow x\n",
        );
        assert_eq!(
            l.allow,
            ["ban-drop-column,renaming-table the old app is gone"]
        );
        assert!(l.unknown.is_empty());
    }

    #[test]
    fn unknown_directive_is_named() {
        let l = layout("-- migrate:no-transactions\nSELECT 1;\n");
        assert!(!l.up.no_transaction);
        assert_eq!(l.unknown, ["no-transactions"]);
    }
}
