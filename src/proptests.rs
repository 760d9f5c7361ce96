//! Property tests of everything that reads outside input: the file-name grammar, the directive
//! parser, database URLs and durations. None may panic, whatever the input; redaction never
//! lets a password through. Failing inputs are kept by proptest in `proptest-regressions/`
//! and run again first.

use proptest::prelude::*;

use crate::settings::{env as settings, pgurl, target};
use crate::source::{format, name};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn file_names_never_panic(s in "\\PC{0,40}", is_dir: bool) {
        let _ = name::parse(&s, is_dir);
        let _ = name::parse_script(&s);
    }

    #[test]
    fn versioned_names_keep_their_number(n in 0u64..u64::MAX, rest in "[a-z_]{0,12}") {
        let file = format!("{n}_{rest}.sql");
        match name::parse(&file, false) {
            name::Parsed::Migration(p) => {
                prop_assert_eq!(p.version, name::Version::parse(&n.to_string()).unwrap());
                prop_assert_eq!(p.name, file);
            }
            other => prop_assert!(false, "{file}: {other:?}"),
        }
    }

    #[test]
    fn layouts_never_panic_and_parts_lie_in_the_text(s in "((-- migrate:(up|down|no-transaction)|-- \\+goose (Up|Down|StatementBegin|StatementEnd|NO TRANSACTION)|-- \\+migrate (Up|Down|StatementBegin|StatementEnd)|---- create above / drop below ----)[ a-z:]*\\n|[^\\n]{0,20}\\n){0,10}") {
        let l = format::layout(&s);
        let parts = std::iter::once(&l.up).chain(l.down.as_ref());
        for p in parts {
            prop_assert!(p.range.start <= p.range.end && p.range.end <= s.len());
            prop_assert!(s.is_char_boundary(p.range.start) && s.is_char_boundary(p.range.end));
            for w in &p.whole {
                prop_assert!(w.start >= p.range.start && w.end <= p.range.end);
                let _ = format::slice(&s, p);
            }
        }
    }

    #[test]
    fn urls_never_panic(s in "\\PC{0,60}") {
        if let Ok(target::DbUrl::Postgres(u)) = target::parse(&s) {
            let _ = pgurl::parse(&u);
        }
        let _ = pgurl::redact(&s);
    }

    #[test]
    fn passwords_never_show(user in "[a-z]{1,8}", password in "[A-Za-z0-9@:/%!#;&=]{1,20}", host in "[a-z]{1,8}", params in "(&[a-z]{1,5}=[a-z0-9]{0,5}){0,3}") {
        let encoded: String = password
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        // The password is long enough and unusual enough not to appear by chance elsewhere.
        let secret = format!("Zz{encoded}Qq");
        for url in [
            format!("postgres://{user}:{secret}@{host}/db?x=1{params}"),
            format!("postgresql://{host}/db?password={secret}{params}"),
        ] {
            let shown = pgurl::redact(&url);
            prop_assert!(!shown.contains(&secret), "{url} -> {shown}");
            if let Err(e) = pgurl::parse(&url) {
                prop_assert!(!e.to_string().contains(&secret), "{e}");
            }
        }
    }

    #[test]
    fn statements_are_pieces_of_the_text_in_order(s in "([a-z ;'\"$*/\n-]|\\$\\$|--|/\\*|\\*/){0,40}") {
        let mut after = 0;
        for (at, piece) in crate::source::statements::split(&s) {
            prop_assert!(at >= after, "{s:?}");
            prop_assert_eq!(&s[at..at + piece.len()], piece);
            after = at + piece.len();
        }
    }

    #[test]
    fn declared_schemas_never_panic(s in "([A-Za-z_é€ ;,.()'\"`\\[\\]$*/\n-]|CREATE |TABLE |INDEX |ALTER |ON |UNIQUE |CONSTRAINT |REFERENCES |SEQUENCE |OWNED BY |SET DEFAULT |\\$\\$|--|/\\*|\\*/){0,60}") {
        let file = crate::schema::SchemaFile { label: "s.sql".into(), dialect: None, text: s.clone() };
        for dialect in [crate::source::Dialect::Postgres, crate::source::Dialect::Sqlite] {
            let m = crate::schema::Model::build(&[&file], dialect);
            // Whatever was recognised is the text's own.
            for t in &m.tables {
                prop_assert!(s.contains(t.create.as_str()));
                for c in &t.columns {
                    prop_assert!(t.create.contains(c.text.as_str()));
                }
            }
            let live = crate::schema::Live::default();
            let _ = crate::schema::diff::diff(&m, &live, &Default::default(), None, &Default::default(), dialect);
        }
        for (_, piece) in crate::source::statements::split(&s) {
            let _ = crate::schema::recognize::recognize(piece);
        }
    }

    #[test]
    fn declared_columns_are_read_back_as_written(cols in proptest::collection::vec(("[a-z][a-z0-9_]{0,8}", prop_oneof!["integer", "text", "varchar\\(10\\)", "numeric\\(10, 2\\)", "timestamptz"], prop_oneof!["", " NOT NULL", " DEFAULT 'a,b'", " DEFAULT (1 + 2)", " REFERENCES x(id)", " CHECK (a > 0)"]), 1..8), quoted: bool) {
        let defs: Vec<String> = cols
            .iter()
            .map(|(n, t, extra)| if quoted { format!("\"{n}\" {t}{extra}") } else { format!("{n} {t}{extra}") })
            .collect();
        let sql = format!("CREATE TABLE t (\n  {}\n)", defs.join(",\n  "));
        match crate::schema::recognize::recognize(&sql) {
            crate::schema::recognize::What::Table { columns, .. } => {
                prop_assert_eq!(columns.len(), cols.len());
                for (c, (d, (n, _, _))) in columns.iter().zip(defs.iter().zip(&cols)) {
                    prop_assert_eq!(&c.text, d);
                    prop_assert_eq!(&c.name, n);
                }
            }
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn durations_never_panic(s in "\\PC{0,20}") {
        let _ = settings::parse_duration(&s);
    }

    #[test]
    fn whole_seconds_read_as_seconds(n in 0u64..10_000_000) {
        prop_assert_eq!(settings::parse_duration(&n.to_string()), Ok(std::time::Duration::from_secs(n)));
    }
}
