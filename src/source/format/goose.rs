//! goose: `-- +goose Up` / `-- +goose Down` sections in one file, `StatementBegin` /
//! `StatementEnd` around a statement to send whole, `NO TRANSACTION` for the whole file.
//! Annotations are read case-insensitively, as goose reads them. `ENVSUB ON` (goose replaces
//! `${VAR}` from the environment) is refused: the file would not run as its author meant.

use super::Mark;

/// What a line says, when it is a goose annotation: as for goose, any `--` line that holds
/// `+goose` is one.
pub fn mark(trimmed: &str) -> Option<Mark> {
    if !trimmed.contains("+goose") {
        return None;
    }
    let rest = trimmed.replace("--", "").replacen("+goose", "", 1);
    let words: Vec<String> = rest
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    Some(match words.as_slice() {
        ["up"] => Mark::Up {
            no_transaction: false,
        },
        ["down"] => Mark::Down {
            no_transaction: false,
        },
        ["statementbegin"] => Mark::Begin,
        ["statementend"] => Mark::End,
        ["no", "transaction"] => Mark::NoTransaction,
        ["envsub", "off"] => Mark::Other,
        ["envsub", "on"] => Mark::Refuse(
            "it turns on goose's ENVSUB (`${VAR}` replaced from the environment), which \
             migrate-entrypoint does not do: write the values into the file, or keep goose for it"
                .into(),
        ),
        _ => Mark::Refuse(format!(
            "`{trimmed}` is no goose annotation that goose knows (goose refuses it too)"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Form, layout};

    #[test]
    fn up_and_down() {
        let t = "-- +goose Up\nCREATE TABLE post (id int);\n\n-- +goose Down\nDROP TABLE post;\n";
        let l = layout(t);
        assert_eq!(l.form, Form::Goose);
        assert_eq!(&t[l.up.range.clone()], "CREATE TABLE post (id int);\n\n");
        let down = l.down.unwrap();
        assert_eq!(&t[down.range.clone()], "DROP TABLE post;\n");
        assert!(l.refused.is_none() && !l.up.no_transaction);
        // Case does not matter, as for goose.
        let l = layout("-- +goose UP\nSELECT 1;\n--  +goose down\n");
        assert_eq!(l.form, Form::Goose);
        assert!(l.down.unwrap().empty);
    }

    #[test]
    fn statement_blocks_and_no_transaction() {
        let t = "-- +goose NO TRANSACTION\n-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\n-- +goose StatementEnd\nCREATE INDEX CONCURRENTLY i ON t (x);\n-- +goose Down\nDROP FUNCTION f;\n";
        let l = layout(t);
        assert!(l.up.no_transaction);
        assert!(l.down.as_ref().unwrap().no_transaction);
        assert_eq!(l.up.whole.len(), 1);
        assert_eq!(
            &t[l.up.whole[0].clone()],
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\n"
        );
    }

    #[test]
    fn refused_as_goose_refuses_them() {
        for (t, why) in [
            ("SELECT 1;\n-- +goose Down\nSELECT 2;\n", "no Up marker"),
            ("-- +goose Down\nSELECT 2;\n", "no Up marker"),
            ("SELECT 0;\n-- +goose Up\nSELECT 1;\n", "SQL before"),
            (
                "-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n",
                "never ended",
            ),
            (
                "-- +goose Up\n-- +goose StatementEnd\n",
                "without StatementBegin",
            ),
            (
                "-- +goose Up\n-- +goose ENVSUB ON\nSELECT '${X}';\n",
                "ENVSUB",
            ),
            ("-- +goose Up\n-- +goose Upgrade\n", "no goose annotation"),
            ("-- +goose Up foo\nSELECT 1;\n", "no goose annotation"),
            ("-- +goose Up\nSELECT 1;\n-- +goose Up\n", "two goose Up"),
        ] {
            let got = layout(t).refused.unwrap_or_default();
            assert!(got.contains(why), "{t:?}: {got}");
        }
        assert!(
            layout("-- +goose Up\n-- +goose ENVSUB OFF\nSELECT 1;\n")
                .refused
                .is_none()
        );
    }
}
