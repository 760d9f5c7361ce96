//! What a database lacks of the declared objects known by their names alone (event triggers,
//! publications, statistics objects, aggregates, rules) and of the declared comments, and how
//! a comment that is there differs. Additive: nothing is replaced or dropped. Pure.

use super::diff::{Change, Diff, Difference, plain, record};
use super::model::{Live, Model, shown};
use super::recognize::OtherKind;
use crate::source::Dialect;

/// The changes that make the declared objects of `kind` that `live` lacks; an event trigger
/// that is there but differs from its declaration (`normalised`: the probe's) is a difference.
pub fn others(
    d: &mut Diff,
    model: &Model,
    live: &Live,
    normalised: Option<&Live>,
    kind: OtherKind,
    dialect: Dialect,
) {
    for o in model.others.iter().filter(|o| o.kind == kind) {
        if live.others.contains(&(kind, o.name.clone())) {
            let want = normalised
                .filter(|_| kind == OtherKind::EventTrigger)
                .and_then(|p| p.event_trigger_defs.get(&o.name.name));
            if let (Some(want), Some(have)) = (want, live.event_trigger_defs.get(&o.name.name))
                && want != have
            {
                let object = format!("event trigger {}", o.name.name);
                d.differences.push(Difference {
                    file: o.file.clone(),
                    text: format!(
                        "{object} differs from its declaration: {have} (declared {want}); not replaced (write a migration)"
                    ),
                    object,
                    table: None,
                });
            }
            continue;
        }
        let n = shown(&o.name, dialect);
        d.changes.push(plain(
            record(&o.file, kind.record(), &n),
            format!("create {} {n}", kind.shown()),
            &o.sql,
        ));
    }
}

/// Each declared comment whose object has none, or is not there yet (made by this run, or
/// failing until it is): set. One that differs is a difference, never replaced. Nothing is
/// known without a probe (`normalised`). `on_event_triggers`: the comments on event triggers
/// (set after them, as they are made last), else the others.
pub fn comments(d: &mut Diff, model: &Model, normalised: Option<&Live>, on_event_triggers: bool) {
    let Some(probed) = normalised else {
        return;
    };
    for (i, c) in model.comments.iter().enumerate() {
        let target = target(&c.target);
        if target.to_ascii_uppercase().starts_with("EVENT TRIGGER ") != on_event_triggers {
            continue;
        }
        match probed.comments.get(i).cloned().flatten() {
            Some(Some(have)) => {
                if c.value.as_ref().is_some_and(|want| *want != have) {
                    d.differences.push(Difference {
                        file: c.file.clone(),
                        table: None,
                        object: format!("comment on {target}"),
                        text: format!(
                            "the comment on {target} differs from its declaration: {} (declared {}); not replaced (write a migration: COMMENT ON)",
                            shown_text(&have),
                            shown_text(c.value.as_deref().unwrap_or_default())
                        ),
                    });
                }
            }
            Some(None) | None => d.changes.push(set_comment(&c.file, &target, &c.sql)),
        }
    }
}

/// A comment as a difference shows it: quoted, its first 60 characters.
fn shown_text(text: &str) -> String {
    let cut: String = text.chars().take(60).collect();
    let more = if cut.len() < text.len() { "..." } else { "" };
    format!("'{}{more}'", cut.replace('\n', " "))
}

fn set_comment(file: &str, target: &str, sql: &str) -> Change {
    plain(
        record(file, "comment", target),
        format!("comment on {target}"),
        sql,
    )
}

/// A comment's target as records and logs show it: its words, one space apart
/// (`TABLE auth.users`).
pub fn target(written: &str) -> String {
    written.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_known_by_name_are_made_when_missing() {
        let m = Model::of_postgres(
            "CREATE EVENT TRIGGER watch ON ddl_command_end EXECUTE FUNCTION w();\n\
             CREATE PUBLICATION pub FOR ALL TABLES;\n\
             CREATE STATISTICS IF NOT EXISTS s.st (dependencies) ON a, b FROM s.t;\n\
             CREATE AGGREGATE s.total (numeric) (sfunc = numeric_add, stype = numeric);\n\
             CREATE OR REPLACE RULE keep AS ON DELETE TO s.t DO INSTEAD NOTHING;",
        );
        let mut live = Live::default();
        live.others.insert((
            OtherKind::Publication,
            crate::schema::Name {
                schema: None,
                name: "pub".into(),
            },
        ));
        let mut d = Diff::default();
        for kind in [
            OtherKind::Aggregate,
            OtherKind::Statistics,
            OtherKind::Rule,
            OtherKind::Publication,
            OtherKind::EventTrigger,
        ] {
            others(&mut d, &m, &live, None, kind, Dialect::Postgres);
        }
        let made: Vec<_> = d.changes.iter().map(|c| c.record.as_str()).collect();
        assert_eq!(
            made,
            [
                "s.sql#aggregate:s.total",
                "s.sql#statistics:s.st",
                "s.sql#rule:s.t.keep",
                "s.sql#event-trigger:watch",
            ]
        );
    }

    #[test]
    fn a_comment_is_set_when_missing_and_a_different_one_is_a_difference() {
        let m = Model::of_postgres(
            "CREATE TABLE auth.users (id int);\n\
             CREATE FUNCTION f(a int, b text) RETURNS int LANGUAGE sql AS $$ SELECT a $$;\n\
             CREATE TABLE t (c text, d text);\n\
             COMMENT ON TABLE  auth.users IS 'Auth: it''s users';\n\
             COMMENT ON FUNCTION f(a int, b text) IS E'two\\nlines';\n\
             COMMENT ON COLUMN t.c IS $$same$$;\n\
             COMMENT ON COLUMN t.d IS NULL;",
        );
        assert_eq!(m.comments.len(), 3, "a NULL comment asks for nothing");
        assert_eq!(m.comments[0].value.as_deref(), Some("Auth: it's users"));
        assert_eq!(m.comments[1].value.as_deref(), Some("two\nlines"));
        let probed = Live {
            comments: vec![
                None,
                Some(Some("one line".into())),
                Some(Some("same".into())),
            ],
            ..Live::default()
        };
        let mut d = Diff::default();
        comments(&mut d, &m, Some(&probed), false);
        assert_eq!(d.changes.len(), 1);
        assert_eq!(d.changes[0].record, "s.sql#comment:TABLE auth.users");
        assert_eq!(d.differences.len(), 1);
        assert_eq!(
            d.differences[0].object,
            "comment on FUNCTION f(a int, b text)"
        );
        let mut unprobed = Diff::default();
        comments(&mut unprobed, &m, None, false);
        assert!(unprobed.changes.is_empty() && unprobed.differences.is_empty());
    }
}
