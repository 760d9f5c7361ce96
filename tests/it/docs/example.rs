//! The examples of a Markdown page: each ```console block's `$ ` commands (with their `> `
//! continuation lines) and the output written under each, and the rule by which a run's output
//! matches what the page shows.
//!
//! The page's conventions, as cargo's and trycmd's: a line `...` stands for any number of
//! lines, `[..]` inside a line for any text. Times vary from run to run and are compared as
//! such without a wildcard: an RFC 3339 timestamp, a `YYYY-MM-DD HH:MM:SS` time and a
//! `N ms` duration match any other of their kind; a log line shown without its leading
//! timestamp matches the line with one.

use std::sync::OnceLock;

use regex::Regex;

/// One command of a page and the output the page shows for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The 1-based line of the `$ ` in the page.
    pub line: usize,
    /// The command as `sh -c` runs it (continuation lines joined with newlines).
    pub command: String,
    /// The lines the page shows under it.
    pub expected: Vec<String>,
    /// The 0-based index range of those lines in the page (for rewriting them).
    pub output_lines: std::ops::Range<usize>,
}

/// Every example of a page, in order.
pub fn examples(page: &str) -> Vec<Example> {
    let lines: Vec<&str> = page.lines().collect();
    let mut out = Vec::new();
    let mut in_block = false;
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if !in_block {
            in_block = l.trim_start() == "```console";
            i += 1;
            continue;
        }
        if l.trim_start().starts_with("```") {
            in_block = false;
            i += 1;
            continue;
        }
        let Some(first) = l.strip_prefix("$ ") else {
            // Output before any command: a page error the runner reports.
            out.push(Example {
                line: i + 1,
                command: String::new(),
                expected: vec![l.to_string()],
                output_lines: i..i + 1,
            });
            i += 1;
            continue;
        };
        let line = i + 1;
        let mut command = first.to_string();
        i += 1;
        while let Some(more) = lines.get(i).and_then(|l| {
            l.strip_prefix("> ")
                .or(l.strip_prefix(">").filter(|r| r.is_empty()))
        }) {
            command.push('\n');
            command.push_str(more);
            i += 1;
        }
        let start = i;
        while i < lines.len()
            && !lines[i].starts_with("$ ")
            && !lines[i].trim_start().starts_with("```")
        {
            i += 1;
        }
        out.push(Example {
            line,
            command,
            expected: lines[start..i].iter().map(|s| s.to_string()).collect(),
            output_lines: start..i,
        });
    }
    out
}

/// A line with its times made alike (see the module's doc).
fn normalized(line: &str) -> String {
    static TIMES: OnceLock<[(Regex, &str); 3]> = OnceLock::new();
    let times = TIMES.get_or_init(|| {
        [
            (
                Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z").unwrap(),
                "{timestamp}",
            ),
            (
                Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").unwrap(),
                "{time}",
            ),
            (Regex::new(r"\b\d+ ms\b").unwrap(), "{N} ms"),
        ]
    });
    let mut s = line.trim_end().to_string();
    for (re, with) in times {
        s = re.replace_all(&s, *with).into_owned();
    }
    s
}

/// Whether one output line matches one line of the page (`[..]` is any text).
fn line_matches(expected: &str, actual: &str) -> bool {
    let (expected, mut actual) = (normalized(expected), normalized(actual));
    if !expected.starts_with("{timestamp} ") && actual.starts_with("{timestamp} ") {
        actual.replace_range(.."{timestamp} ".len(), "");
    }
    let mut parts = expected.split("[..]");
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = actual.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (n, part) in parts.iter().enumerate() {
        if n + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Whether a run's output matches what the page shows (`...` is any number of lines).
pub fn matches(expected: &[String], actual: &str) -> bool {
    let actual: Vec<&str> = actual.lines().collect();
    fn go(e: &[String], a: &[&str]) -> bool {
        match e.split_first() {
            None => a.is_empty(),
            Some((first, rest)) if first.trim() == "..." => {
                (0..=a.len()).any(|k| go(rest, &a[k..]))
            }
            Some((first, rest)) => a
                .split_first()
                .is_some_and(|(x, more)| line_matches(first, x) && go(rest, more)),
        }
    }
    go(expected, &actual)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn blocks_commands_continuations_and_output() {
        let page =
            "text\n```sh\n$ not run\n```\n```console\n$ echo a\na\n$ cat <<X\n> b\n> X\nb\n```\n";
        let ex = examples(page);
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[0].command, "echo a");
        assert_eq!(ex[0].expected, lines(&["a"]));
        assert_eq!(ex[0].line, 6);
        assert_eq!(ex[1].command, "cat <<X\nb\nX");
        assert_eq!(ex[1].expected, lines(&["b"]));
        assert_eq!(ex[1].output_lines, 10..11);
    }

    #[test]
    fn wildcards_and_times() {
        assert!(matches(&lines(&["a [..] c"]), "a b c\n"));
        assert!(!matches(&lines(&["a [..] c"]), "a b d\n"));
        assert!(matches(&lines(&["x", "...", "z"]), "x\n1\n2\nz\n"));
        assert!(matches(&lines(&["x", "...", "z"]), "x\nz\n"));
        assert!(!matches(&lines(&["x", "z"]), "x\ny\nz\n"));
        assert!(!matches(&lines(&["x"]), "x\ny\n"));
        assert!(matches(
            &lines(&["2026-11-21T04:07:32.249315Z INFO  applied 1 in 0 ms"]),
            "2027-01-01T00:00:00.1Z INFO  applied 1 in 17 ms\n"
        ));
        assert!(!matches(
            &lines(&["INFO  applied 1 in 0 ms"]),
            "INFO  applied 2 in 0 ms\n"
        ));
        assert!(matches(
            &lines(&["INFO  applied 1 in 0 ms"]),
            "2026-01-01T00:00:00Z INFO  applied 1 in 3 ms\n"
        ));
        assert!(!matches(
            &lines(&["2026-01-01T00:00:00Z INFO  x"]),
            "INFO  x\n"
        ));
        assert!(matches(
            &lines(&["  applied   001  2026-01-02 03:04:05  7 ms"]),
            "  applied   001  2026-12-02 17:00:01  12 ms\n"
        ));
    }
}
