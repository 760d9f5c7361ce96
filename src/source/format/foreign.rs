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

/// A comment line that looks like a marker of a form we read but is not written as its tool
/// reads it (`--+migrate Up`, `-- +GOOSE Up`, `--- create above / drop below ---`): run as
/// plain SQL, the file's down part would run too. Refused.
pub fn near_miss(trimmed: &str) -> Option<Mark> {
    let lower = trimmed.to_ascii_lowercase();
    let words = lower.trim_start_matches('-').trim();
    let (tool, form) = if words.starts_with("+goose") {
        ("goose", "-- +goose Up / -- +goose Down")
    } else if words.starts_with("+migrate") {
        (
            "sql-migrate",
            "-- +migrate Up / -- +migrate Down, exactly so",
        )
    } else if words.starts_with("migrate:") {
        ("dbmate", "-- migrate:up / -- migrate:down")
    } else if words.contains("create above / drop below") {
        ("tern", "---- create above / drop below ----, exactly so")
    } else {
        return None;
    };
    Some(Mark::Refuse(format!(
        "`{trimmed}` looks like a {tool} marker but is not one as {tool} reads it ({form}): \
         run as plain SQL, its down part would run too"
    )))
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

    #[test]
    fn near_misses_of_markers_we_read_are_refused() {
        for t in [
            "-- +migrate UP\nCREATE TABLE a (x int);\n-- +migrate DOWN\nDROP TABLE a;\n",
            "--+migrate Up\nCREATE TABLE a (x int);\n--+migrate Down\nDROP TABLE a;\n",
            "-- migrate:UP\nCREATE TABLE a (x int);\n-- migrate:DOWN\nDROP TABLE a;\n",
            "-- +GOOSE Up\nCREATE TABLE a (x int);\n-- +GOOSE Down\nDROP TABLE a;\n",
            "create table a (x int);\n--- create above / drop below ---\ndrop table a;\n",
        ] {
            let l = layout(t);
            assert!(l.refused.is_some(), "{t}: {l:?}");
        }
        // Plain comments that mention a tool are plain comments.
        assert!(
            layout("-- moved from goose last year\nSELECT 1;\n")
                .refused
                .is_none()
        );
    }
}
