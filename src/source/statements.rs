//! The statements of a SQL text: split at the semicolons that end them, not at those inside
//! strings, quoted names, dollar-quoted bodies or comments. Pure.
//!
//! Used where PostgreSQL needs each statement sent on its own: a `-- migrate:no-transaction`
//! file (several statements in one query string run as one implicit transaction, where
//! `CREATE INDEX CONCURRENTLY` is refused).

/// Each statement with its byte offset in `sql`, without the semicolon that ends it; pieces
/// that hold only white space and comments are left out.
pub fn split(sql: &str) -> Vec<(usize, &str)> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut code = false; // the piece holds something besides white space and comments
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                i = quoted(b, i, b[i]);
                code = true;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |n| i + n + 1);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => i = block_comment(b, i),
            b'$' => match dollar_end(b, i) {
                Some(end) => {
                    i = end;
                    code = true;
                }
                None => {
                    i += 1;
                    code = true;
                }
            },
            b';' => {
                if code {
                    out.push((start, &sql[start..i]));
                }
                i += 1;
                start = i;
                code = false;
            }
            c => {
                code |= !c.is_ascii_whitespace();
                i += 1;
            }
        }
    }
    if code {
        out.push((start, &sql[start..]));
    }
    out
}

/// As `split`, but the `whole` ranges (statements the file marks to be sent whole, such as
/// goose's `StatementBegin` / `StatementEnd`) are never cut: each is one statement, and the
/// text between them is split as usual.
pub fn split_keeping<'a>(sql: &'a str, whole: &[std::ops::Range<usize>]) -> Vec<(usize, &'a str)> {
    let mut out = Vec::new();
    let mut at = 0;
    for w in whole {
        if w.start < at || w.end > sql.len() {
            continue;
        }
        out.extend(
            split(&sql[at..w.start])
                .into_iter()
                .map(|(i, s)| (at + i, s)),
        );
        let text = sql[w.clone()].trim_end();
        let text = text.strip_suffix(';').unwrap_or(text);
        if !text.trim().is_empty() {
            out.push((w.start, text));
        }
        at = w.end;
    }
    out.extend(split(&sql[at..]).into_iter().map(|(i, s)| (at + i, s)));
    out
}

/// The end (past the closing quote) of a quoted string or name opened at `i`; a doubled quote
/// stays inside, and so does a backslash escape in an `E'...'` string.
pub(crate) fn quoted(b: &[u8], i: usize, q: u8) -> usize {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let escapes =
        q == b'\'' && i > 0 && matches!(b[i - 1], b'E' | b'e') && (i == 1 || !word(b[i - 2]));
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' if escapes => j += 2,
            c if c == q && b.get(j + 1) == Some(&q) => j += 2,
            c if c == q => return j + 1,
            _ => j += 1,
        }
    }
    b.len()
}

/// The end of a block comment opened at `i` (PostgreSQL nests them).
pub(crate) fn block_comment(b: &[u8], i: usize) -> usize {
    let mut depth = 0;
    let mut j = i;
    while j + 1 < b.len() {
        match (b[j], b[j + 1]) {
            (b'/', b'*') => {
                depth += 1;
                j += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return j;
                }
            }
            _ => j += 1,
        }
    }
    b.len()
}

/// The end of a dollar-quoted body opened at `i` (past its closing tag), or `None` when no
/// `$tag$` opens there (`$1` is a parameter, not a tag).
pub(crate) fn dollar_end(b: &[u8], i: usize) -> Option<usize> {
    let rest = &b[i + 1..];
    let n = rest
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))?;
    if rest[n] != b'$' || rest.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let tag = &b[i..i + n + 2];
    let body = i + tag.len();
    Some(
        b[body..]
            .windows(tag.len())
            .position(|w| w == tag)
            .map_or(b.len(), |p| body + p + tag.len()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        split(sql).into_iter().map(|(_, s)| s.trim()).collect()
    }

    #[test]
    fn statements() {
        let cases: &[(&str, &[&str])] = &[
            ("SELECT 1; SELECT 2;", &["SELECT 1", "SELECT 2"]),
            ("SELECT 1", &["SELECT 1"]),
            ("  ;; -- only a comment; here\n/* and; this */", &[]),
            (
                "SELECT 'a;b'; SELECT 'it''s;'",
                &["SELECT 'a;b'", "SELECT 'it''s;'"],
            ),
            ("SELECT E'\\';'; SELECT 2", &["SELECT E'\\';'", "SELECT 2"]),
            (
                "SELECT \"we;ird\" FROM t; x",
                &["SELECT \"we;ird\" FROM t", "x"],
            ),
            (
                "DO $$ BEGIN PERFORM 1; END $$; SELECT 2;",
                &["DO $$ BEGIN PERFORM 1; END $$", "SELECT 2"],
            ),
            (
                "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;",
                &["CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql"],
            ),
            ("SELECT $1; SELECT 2", &["SELECT $1", "SELECT 2"]),
            (
                "/* a /* nested; */ c; */ SELECT 1; x",
                &["/* a /* nested; */ c; */ SELECT 1", "x"],
            ),
            (
                "-- migrate:no-transaction\nCREATE TABLE t (x int);\nCREATE INDEX CONCURRENTLY i ON t (x);\n",
                &[
                    "-- migrate:no-transaction\nCREATE TABLE t (x int)",
                    "CREATE INDEX CONCURRENTLY i ON t (x)",
                ],
            ),
        ];
        for (sql, want) in cases {
            assert_eq!(texts(sql), *want, "{sql}");
        }
        let sql = "SELECT 1; SELECT 2;\nBEGIN ATOMIC SELECT 3; SELECT 4; END;\nSELECT 5;";
        let start = sql.find("BEGIN").unwrap();
        let end = sql.find("\nSELECT 5").unwrap();
        let whole = std::iter::once(start..end).collect::<Vec<_>>();
        let got: Vec<&str> = split_keeping(sql, &whole)
            .into_iter()
            .map(|(_, s)| s.trim())
            .collect();
        assert_eq!(
            got,
            [
                "SELECT 1",
                "SELECT 2",
                "BEGIN ATOMIC SELECT 3; SELECT 4; END",
                "SELECT 5"
            ]
        );
        let sql = "SELECT 1;\nSELECT 2;";
        assert_eq!(split(sql)[1].0, 9);
        assert_eq!(&sql[split(sql)[1].0..], "\nSELECT 2;");
    }
}
