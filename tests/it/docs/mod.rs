//! Every command example of `README.md` and `docs/` that shows output runs as shown: each
//! ```console block's `$ ` lines run through `sh` with the built binary first on PATH, one page
//! in a sandbox of its own (a new folder as working directory, holding a link to the
//! repository's `docker/`, a clean environment; `$DATABASE_URL` a new database on the test
//! server when the page uses it), the commands of a page in order, so that a page's examples
//! build on each other as a reader's would. `cargo test` fails when an output changes;
//! `DOCS_BLESS=1 cargo test --test it docs::` writes what ran into the pages instead (then put
//! back the `[..]` and `...` that a run varies on).
//!
//! Why not trycmd: its Markdown form runs a command without a shell (no `VAR=value` in front, no
//! pipes, no heredoc to write a migration file), and each example apart, so a page could not
//! create a file in one example and migrate it in the next.

mod example;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{BIN, pg, run};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// README.md and every page of docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(Path::new(REPO).join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages.insert(0, Path::new(REPO).join("README.md"));
    pages
}

/// The folders of one page's run: `bin/` (the binary) and `work/` (the working directory).
struct Sandbox {
    root: tempfile::TempDir,
    database_url: Option<String>,
}

impl Sandbox {
    fn new(page: &str) -> Sandbox {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("bin")).unwrap();
        std::fs::create_dir(root.path().join("work")).unwrap();
        std::os::unix::fs::symlink(BIN, root.path().join("bin/migrate-entrypoint")).unwrap();
        std::os::unix::fs::symlink(
            Path::new(REPO).join("docker"),
            root.path().join("work/docker"),
        )
        .unwrap();
        let database_url = page
            .contains("$DATABASE_URL")
            .then(|| pg::server().new_db().url);
        Sandbox { root, database_url }
    }

    /// `sh -c COMMAND` in the sandbox, stderr on stdout (in the order written).
    fn command(&self, command: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(format!("exec 2>&1\n{command}"));
        c.current_dir(self.root.path().join("work"));
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("MIGRATE")
                || k.starts_with("DATABASE_URL")
                || k.starts_with("MIGRATIONS_DIRS")
                || k.starts_with("PG")
                || k == "NO_COLOR"
            {
                c.env_remove(&k);
            }
        }
        let path = std::env::var("PATH").unwrap_or_default();
        c.env(
            "PATH",
            format!("{}:{path}", self.root.path().join("bin").display()),
        );
        c.env("HOME", self.root.path());
        if let Some(url) = &self.database_url {
            c.env("DATABASE_URL", url);
        }
        c
    }
}

/// Runs a page's examples; returns what did not match, and rewrites the page under DOCS_BLESS.
fn check(page: &Path) -> (usize, Vec<String>) {
    let text = std::fs::read_to_string(page).unwrap();
    let name = page.strip_prefix(REPO).unwrap().display().to_string();
    let examples = example::examples(&text);
    let sandbox = Sandbox::new(&text);
    let mut failures = Vec::new();
    let mut blessed: Vec<(std::ops::Range<usize>, Vec<String>)> = Vec::new();
    for ex in &examples {
        if ex.command.is_empty() {
            failures.push(format!(
                "{name}:{}: output before any `$ ` command",
                ex.line
            ));
            continue;
        }
        let (_, out, _) = run(sandbox.command(&ex.command));
        if !example::matches(&ex.expected, &out) {
            failures.push(format!(
                "{name}:{}: $ {}\n--- the page shows:\n{}\n--- it printed:\n{}",
                ex.line,
                ex.command,
                ex.expected.join("\n"),
                out.trim_end()
            ));
            blessed.push((
                ex.output_lines.clone(),
                out.lines().map(str::to_string).collect(),
            ));
        }
    }
    if std::env::var_os("DOCS_BLESS").is_some() && !blessed.is_empty() {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        for (range, new) in blessed.into_iter().rev() {
            lines.splice(range, new);
        }
        std::fs::write(page, lines.join("\n") + "\n").unwrap();
    }
    (examples.len(), failures)
}

#[test]
fn every_example_in_the_readme_and_docs_runs_as_shown() {
    let mut failures = Vec::new();
    let mut total = 0;
    for page in pages() {
        let (n, f) = check(&page);
        total += n;
        failures.extend(f);
    }
    // Enough examples that the pages cannot have lost theirs unnoticed.
    assert!(
        total >= 30,
        "only {total} examples found in README.md and docs/"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every docs/ page is reached from the README (linked from it, or from a page it reaches),
/// and every docs/ link of a page names a page.
#[test]
fn the_readme_links_every_page_and_every_link_holds() {
    let readme = std::fs::read_to_string(Path::new(REPO).join("README.md")).unwrap();
    let texts: Vec<(String, String)> = pages()
        .into_iter()
        .skip(1)
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    let mut reached: Vec<&str> = texts
        .iter()
        .filter(|(name, _)| readme.contains(&format!("(docs/{name}")))
        .map(|(name, _)| name.as_str())
        .collect();
    let mut i = 0;
    while i < reached.len() {
        let from = &texts.iter().find(|(n, _)| n == reached[i]).unwrap().1;
        for (name, _) in &texts {
            if !reached.contains(&name.as_str()) && from.contains(&format!("]({name}")) {
                reached.push(name);
            }
        }
        i += 1;
    }
    for (name, _) in &texts {
        assert!(
            reached.contains(&name.as_str()),
            "README.md does not link docs/{name}, nor does a page it reaches"
        );
    }
    let links = regex::Regex::new(r"\]\(([^)#\s]+\.md)?(#[^)]*)?\)").unwrap();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for cap in links.captures_iter(&text) {
            let target = match cap.get(1) {
                Some(file) => page.parent().unwrap().join(file.as_str()),
                None => page.clone(),
            };
            assert!(
                target.exists(),
                "{}: the link {} names no file",
                page.display(),
                &cap[0]
            );
            if let Some(anchor) = cap.get(2) {
                let anchors = anchors(&std::fs::read_to_string(&target).unwrap());
                assert!(
                    anchors.iter().any(|a| *a == anchor.as_str()[1..]),
                    "{}: the link {} names no heading of {} (it has: {anchors:?})",
                    page.display(),
                    &cap[0],
                    target.display()
                );
            }
        }
    }
}

/// The anchors GitHub makes of a page's headings: lower case, spaces to `-`, punctuation
/// other than `-` and `_` dropped.
fn anchors(page: &str) -> Vec<String> {
    let mut in_code = false;
    page.lines()
        .filter(|l| {
            if l.starts_with("```") {
                in_code = !in_code;
            }
            !in_code && l.starts_with('#')
        })
        .map(|l| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect()
}
