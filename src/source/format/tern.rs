//! tern: the part above `---- create above / drop below ----` is the up part, the part below
//! the down part. tern runs every file through Go's text/template: a file of this form that
//! uses `{{ ... }}` is refused (we do not expand templates).

use super::Mark;

/// tern's separator line.
pub const SEPARATOR: &str = "---- create above / drop below ----";

/// tern's line that runs the section it is in outside a transaction.
pub const DISABLE_TX: &str = "---- tern: disable-tx ----";

/// What a line says, when it is tern's separator or its no-transaction line.
pub fn mark(trimmed: &str) -> Option<Mark> {
    if trimmed.starts_with(SEPARATOR) {
        return Some(Mark::Down {
            no_transaction: false,
        });
    }
    (trimmed == DISABLE_TX).then_some(Mark::PartNoTransaction)
}

#[cfg(test)]
mod tests {
    use super::super::{Form, layout};

    #[test]
    fn above_and_below() {
        let t =
            "create table t (id int);\n\n---- create above / drop below ----\n\ndrop table t;\n";
        let l = layout(t);
        assert_eq!(l.form, Form::Tern);
        assert_eq!(&t[l.up.range.clone()], "create table t (id int);\n\n");
        assert_eq!(&t[l.down.unwrap().range], "\ndrop table t;\n");
        assert!(l.refused.is_none());
    }

    #[test]
    fn disable_tx_per_section() {
        let l = layout(
            "---- tern: disable-tx ----\ncreate index concurrently i on t (x);\n---- create above / drop below ----\ndrop index i;\n",
        );
        assert!(l.up.no_transaction);
        assert!(!l.down.as_ref().unwrap().no_transaction);
        let l = layout(
            "create table t (x int);\n---- create above / drop below ----\n---- tern: disable-tx ----\ndrop index concurrently i;\n",
        );
        assert!(!l.up.no_transaction);
        assert!(l.down.unwrap().no_transaction);
    }

    #[test]
    fn templates_are_refused() {
        let l =
            layout("create table {{.prefix}}t (id int);\n---- create above / drop below ----\n");
        assert!(l.refused.unwrap().contains("templates"));
    }
}
