//! The tokens of one SQL statement, as much as the recognizer needs: words, quoted names,
//! strings, numbers and single punctuation characters, each with its place in the text.
//! Comments and white space are skipped. Pure. Strings, quoted names, comments and dollar
//! quotes end where the statement splitter says they do (its scanners are shared).

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A keyword or an unquoted name.
    Word,
    /// A quoted name: `"x"`, and in SQLite also `` `x` `` and `[x]`.
    Quoted,
    /// A string, `E'...'` or dollar-quoted body.
    Str,
    Number,
    /// One character of anything else: `(`, `)`, `,`, `.`, `:`, `=`, ...
    Punct(u8),
}

/// One token: its kind and where it is in the statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// The token's text.
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        &sql[self.start..self.end]
    }

    /// Whether it is the keyword `kw` (any case).
    pub fn is(&self, sql: &str, kw: &str) -> bool {
        self.kind == Kind::Word && self.text(sql).eq_ignore_ascii_case(kw)
    }

    /// The name it stands for as PostgreSQL folds it: unquoted in lower case, quoted as
    /// written.
    pub fn folded(&self, sql: &str) -> Option<String> {
        let (name, quoted) = self.name(sql)?;
        Some(if quoted { name } else { name.to_lowercase() })
    }

    /// The name it stands for: an unquoted word as it is (the caller folds case), a quoted
    /// name without its quotes (a doubled quote made one).
    pub fn name(&self, sql: &str) -> Option<(String, bool)> {
        let t = self.text(sql);
        match self.kind {
            Kind::Word => Some((t.to_string(), false)),
            // SQLite takes a string where a name is expected.
            Kind::Quoted | Kind::Str if t.len() >= 2 && !t.starts_with(['E', 'e', '$']) => {
                let q = &t[..1];
                let close = if q == "[" { "]" } else { q };
                // An unterminated quote runs to the end of the statement.
                let inner = t[1..].strip_suffix(close).unwrap_or(&t[1..]);
                Some((inner.replace(&format!("{q}{q}"), q), true))
            }
            _ => None,
        }
    }
}

use crate::source::statements::{block_comment, dollar_end, quoted};

/// The tokens of `sql`.
pub fn tokens(sql: &str) -> Vec<Token> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let kind = match c {
            _ if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |n| i + n + 1);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = block_comment(b, i);
                continue;
            }
            b'\'' => {
                i = quoted(b, i, b'\'');
                Kind::Str
            }
            b'"' | b'`' => {
                i = quoted(b, i, c);
                Kind::Quoted
            }
            b'[' => {
                i = b[i..]
                    .iter()
                    .position(|&c| c == b']')
                    .map_or(b.len(), |n| i + n + 1);
                Kind::Quoted
            }
            b'$' => match dollar_end(b, i) {
                Some(end) => {
                    i = end;
                    Kind::Str
                }
                None => {
                    i += 1;
                    Kind::Punct(b'$')
                }
            },
            _ if c.is_ascii_digit() => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                    i += 1;
                }
                Kind::Number
            }
            _ if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'_'
                        || b[i] == b'$'
                        || b[i] >= 0x80)
                {
                    i += 1;
                }
                // `E'...'`: the prefix belongs to the string.
                if i - start == 1 && matches!(c, b'E' | b'e') && b.get(i) == Some(&b'\'') {
                    i = quoted(b, i, b'\'');
                    Kind::Str
                } else {
                    Kind::Word
                }
            }
            _ => {
                i += 1;
                Kind::Punct(c)
            }
        };
        out.push(Token {
            kind,
            start,
            end: i,
        });
    }
    out
}

/// The index of the `)` that closes the `(` at `open`, or the last token when none does.
pub fn matching(toks: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(open) {
        match t.kind {
            Kind::Punct(b'(') => depth += 1,
            Kind::Punct(b')') => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    toks.len().saturating_sub(1)
}

/// The tokens between `from` and `to` (exclusive) split at commas outside parentheses.
pub fn split_commas(toks: &[Token], from: usize, to: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = from;
    for (k, t) in toks.iter().enumerate().take(to).skip(from) {
        match t.kind {
            Kind::Punct(b'(') => depth += 1,
            Kind::Punct(b')') => depth = depth.saturating_sub(1),
            Kind::Punct(b',') if depth == 0 => {
                out.push((start, k));
                start = k + 1;
            }
            _ => {}
        }
    }
    if start < to {
        out.push((start, to));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        tokens(sql).iter().map(|t| t.text(sql)).collect()
    }

    #[test]
    fn tokens_of_statements() {
        assert_eq!(
            texts("CREATE TABLE \"a\"\"b\".x (id int) -- c\n/* d /* e */ */"),
            [
                "CREATE",
                "TABLE",
                "\"a\"\"b\"",
                ".",
                "x",
                "(",
                "id",
                "int",
                ")"
            ]
        );
        assert_eq!(
            texts("DEFAULT E'it\\'s' || 'a''b' || $f$ x; $f$::text"),
            [
                "DEFAULT",
                "E'it\\'s'",
                "|",
                "|",
                "'a''b'",
                "|",
                "|",
                "$f$ x; $f$",
                ":",
                ":",
                "text"
            ]
        );
        assert_eq!(texts("[my col] `x` 1.5e3"), ["[my col]", "`x`", "1.5e3"]);
        let t = tokens("\"a\"\"b\"");
        assert_eq!(t[0].name("\"a\"\"b\""), Some(("a\"b".into(), true)));
    }

    #[test]
    fn commas_outside_parentheses() {
        let sql = "(a int, b numeric(10, 2), c text)";
        let t = tokens(sql);
        let close = matching(&t, 0);
        assert_eq!(close, t.len() - 1);
        let parts: Vec<String> = split_commas(&t, 1, close)
            .into_iter()
            .map(|(a, b)| sql[t[a].start..t[b - 1].end].to_string())
            .collect();
        assert_eq!(parts, ["a int", "b numeric(10, 2)", "c text"]);
    }
}
