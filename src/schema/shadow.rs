//! SQLite's shadow tables: the plain tables a virtual table's module makes beside it
//! (`event_search_content` of an FTS4 table `event_search`), which `sqlite3 .schema` prints
//! as `CREATE TABLE IF NOT EXISTS`. They are the module's: never created or compared as
//! declared tables. Pure.

use super::model::Object;
use super::recognize::Name;

/// The shadow tables' suffixes each module makes, as SQLite 3.4x makes them.
fn suffixes(module: &str) -> &'static [&'static str] {
    match module {
        "fts3" | "fts4" => &["content", "segments", "segdir", "docsize", "stat"],
        "fts5" => &["data", "idx", "content", "docsize", "config"],
        "rtree" | "rtree_i32" | "geopoly" => &["rowid", "node", "parent"],
        _ => &[],
    }
}

/// Whether `table` is a shadow table of one of `virtual_tables` (same schema, named
/// `<virtual>_<suffix>`).
pub fn is_shadow(table: &Name, virtual_tables: &[(Object, String)]) -> bool {
    virtual_tables.iter().any(|(v, module)| {
        v.name.schema == table.schema
            && table
                .name
                .strip_prefix(&v.name.name)
                .and_then(|rest| rest.strip_prefix('_'))
                .is_some_and(|suffix| suffixes(module).contains(&suffix))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> Name {
        Name {
            schema: Some("main".into()),
            name: n.into(),
        }
    }

    #[test]
    fn each_modules_own_tables_only() {
        let vt = |n: &str, m: &str| {
            (
                Object {
                    name: name(n),
                    file: "schema.sql".into(),
                    sql: String::new(),
                },
                m.to_string(),
            )
        };
        let v = [
            vt("event_search", "fts4"),
            vt("notes", "fts5"),
            vt("boxes", "rtree"),
        ];
        for shadow in [
            "event_search_content",
            "event_search_segdir",
            "notes_config",
            "notes_idx",
            "boxes_node",
        ] {
            assert!(is_shadow(&name(shadow), &v), "{shadow}");
        }
        for plain in [
            "event_search",
            "event_search_extra",
            "notes_segdir",
            "boxes_content",
            "users",
        ] {
            assert!(!is_shadow(&name(plain), &v), "{plain}");
        }
    }
}
