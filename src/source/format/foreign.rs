//! Markers of tools whose files we do not read: a file that carries them is refused, naming
//! the tool, rather than run as plain SQL.

use super::Mark;

/// What a line says, when it is another tool's marker that we do not read.
pub fn mark(trimmed: &str) -> Option<Mark> {
    let rest = trimmed.strip_prefix("--")?.trim_start();
    let lower = rest.to_ascii_lowercase();
    if lower.starts_with("liquibase formatted sql") || lower.starts_with("changeset ") {
        return Some(Mark::Refuse(
            "it is Liquibase formatted SQL (`--liquibase formatted sql`, `--changeset`), \
             which migrate-entrypoint does not read"
                .into(),
        ));
    }
    if lower.starts_with("+micrate") {
        return Some(Mark::Refuse(
            "it carries micrate's markers (`-- +micrate Up`), which migrate-entrypoint does not read"
                .into(),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::layout;

    #[test]
    fn other_tools_are_refused() {
        for t in [
            "--liquibase formatted sql\n--changeset nvoxland:1\ncreate table t (id int);\n",
            "-- +micrate Up\nCREATE TABLE t (id int);\n",
        ] {
            assert!(layout(t).refused.is_some(), "{t}");
        }
    }
}
