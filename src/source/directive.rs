//! The `-- migrate:...` comment directives of a SQL file, and the part of the file that runs.
//!
//! Pure: takes the file's text, returns a value.

/// What a SQL file's directives say, and the SQL to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// The SQL to send to the database: the whole file, or a dbmate file's up section.
    pub sql: String,
    /// `-- migrate:no-transaction`, or dbmate's `-- migrate:up transaction:false`.
    pub no_transaction: bool,
    /// `-- migrate:...` directives this tool does not know, as written (for `validate`).
    pub unknown: Vec<String>,
    /// A dbmate file's `-- migrate:down` section: the SQL that undoes it, and whether that runs
    /// outside a transaction.
    pub down: Option<(String, bool)>,
}

/// Reads the directives of a SQL file's text (a leading byte-order mark already removed).
pub fn parse(text: &str) -> Body {
    let mut no_transaction = false;
    let mut unknown = Vec::new();
    let mut up: Option<(usize, usize)> = None; // byte range of the up section
    let mut down: Option<(usize, bool)> = None; // where the down section starts
    let mut offset = 0;
    let mut in_header = true;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim();
        let directive = trimmed
            .strip_prefix("--")
            .map(str::trim_start)
            .and_then(|c| c.strip_prefix("migrate:"));
        match directive {
            Some(d) => {
                let mut words = d.split_whitespace();
                match words.next().unwrap_or("") {
                    "up" if up.is_none() => {
                        up = Some((offset, text.len()));
                        for opt in words {
                            match opt {
                                "transaction:false" => no_transaction = true,
                                "transaction:true" => {}
                                other => unknown.push(format!("migrate:up {other}")),
                            }
                        }
                    }
                    "down" if up.is_some() && down.is_none() => {
                        if let Some((s, _)) = up {
                            up = Some((s, start));
                        }
                        // dbmate puts nothing after the down section that belongs to up.
                        down = Some((offset, words.any(|w| w == "transaction:false")));
                    }
                    "down" | "up" => {}
                    "no-transaction" if in_header => no_transaction = true,
                    _ if in_header => unknown.push(d.trim().to_string()),
                    _ => {}
                }
            }
            None => {
                if !(trimmed.is_empty() || trimmed.starts_with("--")) {
                    in_header = false;
                }
            }
        }
    }
    let sql = match up {
        Some((s, e)) => text[s..e].to_string(),
        None => text.to_string(),
    };
    Body {
        sql,
        no_transaction,
        unknown,
        down: down.map(|(at, no_tx)| (text[at..].to_string(), no_tx)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_file_runs_whole() {
        let b = parse("-- just a comment\nCREATE TABLE t (id int);\n");
        assert_eq!(b.sql, "-- just a comment\nCREATE TABLE t (id int);\n");
        assert!(!b.no_transaction);
        assert!(b.unknown.is_empty());
    }

    #[test]
    fn no_transaction_in_header() {
        let b =
            parse("\n-- a note\n-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t(x);\n");
        assert!(b.no_transaction);
        let b = parse("--migrate:no-transaction\nVACUUM;\n");
        assert!(b.no_transaction);
    }

    #[test]
    fn directive_after_first_statement_is_just_a_comment() {
        let b = parse("SELECT 1;\n-- migrate:no-transaction\n");
        assert!(!b.no_transaction);
        assert!(b.unknown.is_empty());
    }

    #[test]
    fn unknown_directive_is_named() {
        let b = parse("-- migrate:no-transactions\nSELECT 1;\n");
        assert!(!b.no_transaction);
        assert_eq!(b.unknown, vec!["no-transactions".to_string()]);
    }

    #[test]
    fn dbmate_sections() {
        let text = "-- migrate:up\nCREATE TABLE t (id int);\n\n-- migrate:down\nDROP TABLE t;\n";
        let b = parse(text);
        assert_eq!(b.sql, "CREATE TABLE t (id int);\n\n");
        assert!(!b.no_transaction);
        assert_eq!(b.down, Some(("DROP TABLE t;\n".to_string(), false)));

        let b = parse(
            "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t(x);\n-- migrate:down\nDROP INDEX i;\n",
        );
        assert_eq!(b.sql, "CREATE INDEX CONCURRENTLY i ON t(x);\n");
        assert!(b.no_transaction);
        assert_eq!(b.down, Some(("DROP INDEX i;\n".to_string(), false)));
        let b = parse("-- migrate:up\nSELECT 1;\n-- migrate:down transaction:false\nSELECT 2;\n");
        assert_eq!(b.down, Some(("SELECT 2;\n".to_string(), true)));

        let b = parse("-- migrate:up\nSELECT 1;\n");
        assert_eq!(b.sql, "SELECT 1;\n");
    }
}
