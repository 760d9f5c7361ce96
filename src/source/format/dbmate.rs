//! dbmate: `-- migrate:up` and `-- migrate:down` sections in one file, each with its
//! `transaction:false` option. Only the up section runs; the down section is what `down` runs.

use super::Mark;

/// What a line says, when it is one of dbmate's section markers.
pub fn mark(trimmed: &str) -> Option<Mark> {
    let d = super::own::directive(trimmed)?;
    let mut words = d.split_whitespace();
    let up = match words.next()? {
        "up" => true,
        "down" => false,
        _ => return None,
    };
    let mut no_transaction = false;
    for opt in words {
        match opt {
            "transaction:false" => no_transaction = true,
            "transaction:true" => {}
            other => {
                return Some(Mark::Refuse(format!(
                    "unknown option `{other}` on its `-- migrate:{}` line",
                    if up { "up" } else { "down" }
                )));
            }
        }
    }
    Some(if up {
        Mark::Up { no_transaction }
    } else {
        Mark::Down { no_transaction }
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Form, layout};

    #[test]
    fn sections() {
        let t = "-- migrate:up\nCREATE TABLE t (id int);\n\n-- migrate:down\nDROP TABLE t;\n";
        let l = layout(t);
        assert_eq!(l.form, Form::Dbmate);
        assert_eq!(&t[l.up.range.clone()], "CREATE TABLE t (id int);\n\n");
        assert!(!l.up.no_transaction);
        let down = l.down.unwrap();
        assert_eq!(&t[down.range.clone()], "DROP TABLE t;\n");
        assert!(!down.no_transaction && !down.empty);

        let t = "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t(x);\n-- migrate:down\nDROP INDEX i;\n";
        let l = layout(t);
        assert_eq!(
            &t[l.up.range.clone()],
            "CREATE INDEX CONCURRENTLY i ON t(x);\n"
        );
        assert!(l.up.no_transaction);
        assert!(!l.down.unwrap().no_transaction);
        let l = layout("-- migrate:up\nSELECT 1;\n-- migrate:down transaction:false\nSELECT 2;\n");
        assert!(l.down.unwrap().no_transaction);
        let t = "-- migrate:up\nSELECT 1;\n";
        let l = layout(t);
        assert_eq!(&t[l.up.range.clone()], "SELECT 1;\n");
        assert!(l.down.is_none());
    }

    #[test]
    fn an_empty_down_section_is_empty() {
        // Supabase writes every file this way.
        let l = layout("-- migrate:up\nCREATE TABLE t ();\n\n-- migrate:down\n\n-- nothing\n");
        assert!(l.down.unwrap().empty);
    }

    #[test]
    fn refused_as_dbmate_refuses_them() {
        let l = layout("SELECT 0;\n-- migrate:up\nSELECT 1;\n");
        assert!(l.refused.unwrap().contains("SQL before"));
        let l = layout("-- migrate:down\nSELECT 1;\n-- migrate:up\nSELECT 2;\n");
        assert!(l.refused.is_some());
        let l = layout("-- migrate:up transaction:maybe\nSELECT 1;\n");
        assert!(l.refused.unwrap().contains("transaction:maybe"));
    }
}
