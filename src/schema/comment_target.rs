//! What a `COMMENT ON` is on, and whether the declaration makes that object: a comment is
//! managed on a declared object only, never on one the files do not declare (a typo in its
//! target included). Pure.

use super::lex::{self, Kind};
use super::model::{Model, qualify_in};
use super::recognize::{Name, OtherKind};
use crate::source::Dialect;

/// Whether `target` (`TABLE auth.users`, `COLUMN t.c`, `FUNCTION f(int)`, `TRIGGER t ON x`)
/// is on an object `model` declares; a name without a schema is in `default`. A kind of
/// object the declaration does not make (an operator, a cast, ...) is never declared.
pub fn declared(model: &Model, target: &str, default: &str) -> bool {
    let t = lex::tokens(target);
    let word = |k: usize| {
        t.get(k)
            .filter(|x| x.kind == Kind::Word)
            .map(|x| x.text(target).to_ascii_uppercase())
            .unwrap_or_default()
    };
    let (kind, at) = match (word(0).as_str(), word(1).as_str()) {
        ("MATERIALIZED", "VIEW") => ("VIEW".to_string(), 2),
        ("FOREIGN", "TABLE") => ("TABLE".to_string(), 2),
        ("EVENT", "TRIGGER") => ("EVENT TRIGGER".to_string(), 2),
        (w, _) => (w.to_string(), 1),
    };
    let dotted = |at: usize| super::recognize::dotted(target, &t, at).unwrap_or((Vec::new(), at));
    let (parts, next) = dotted(at);
    let q = |parts: &[String]| -> Option<Name> {
        let (name, schema) = parts.split_last()?;
        Some(qualify_in(
            &Name {
                schema: schema.last().cloned(),
                name: name.clone(),
            },
            Dialect::Postgres,
            default,
        ))
    };
    // `name ON [DOMAIN] table`: the object, and what it is on.
    let on = || {
        if !t.get(next).is_some_and(|x| x.is(target, "ON")) {
            return None;
        }
        let at = if t.get(next + 1).is_some_and(|x| x.is(target, "DOMAIN")) {
            next + 2
        } else {
            next + 1
        };
        Some((parts.first()?.clone(), q(&dotted(at).0)?))
    };
    let Some(name) = q(&parts) else {
        return false;
    };
    let table = |n: &Name| model.tables.iter().find(|t| &t.name == n);
    let other = |kind: OtherKind, n: &Name| {
        model.others.iter().any(|o| {
            o.kind == kind
                && if kind.global() {
                    o.name.name == n.name
                } else {
                    &o.name == n
                }
        })
    };
    match kind.as_str() {
        "TABLE" => table(&name).is_some(),
        "VIEW" => model.views.iter().any(|v| v.object.name == name),
        "SEQUENCE" => {
            model.sequences.iter().any(|s| s.name == name) || implicit(model, &name, &["_seq"])
        }
        "INDEX" => {
            model
                .tables
                .iter()
                .any(|t| t.indexes.iter().any(|i| i.name == name))
                || implicit(model, &name, &["_pkey", "_key", "_excl", "_idx"])
        }
        "TYPE" | "DOMAIN" => model.types.iter().any(|o| o.name == name),
        "SCHEMA" => name.name == "public" || model.schemas.iter().any(|o| o.name.name == name.name),
        "EXTENSION" => model.extensions.iter().any(|o| o.name.name == name.name),
        "FUNCTION" | "PROCEDURE" | "ROUTINE" => model.functions.iter().any(|f| f.name == name),
        "AGGREGATE" => other(OtherKind::Aggregate, &name),
        "STATISTICS" => other(OtherKind::Statistics, &name),
        "PUBLICATION" => other(OtherKind::Publication, &name),
        "EVENT TRIGGER" => other(OtherKind::EventTrigger, &name),
        "COLUMN" => {
            let (Some(column), Some(of)) = (parts.last(), q(&parts[..parts.len().max(1) - 1]))
            else {
                return false;
            };
            table(&of).is_some_and(|t| t.partition || t.columns.iter().any(|c| &c.name == column))
        }
        "CONSTRAINT" => on().is_some_and(|(_, of)| {
            table(&of).is_some() || model.types.iter().any(|o| o.name == of)
        }),
        "TRIGGER" => {
            on().is_some_and(|(n, of)| model.triggers.iter().any(|t| t.table == of && t.name == n))
        }
        "POLICY" => {
            on().is_some_and(|(n, of)| model.policies.iter().any(|t| t.table == of && t.name == n))
        }
        "RULE" => on().is_some_and(|(n, of)| {
            let rule = Name {
                name: format!("{}.{n}", of.name),
                ..of
            };
            other(OtherKind::Rule, &rule)
        }),
        _ => false,
    }
}

/// Whether `name` is one PostgreSQL gives an object a declared table makes without naming it
/// (its key's index `t_pkey`, a serial's sequence `t_id_seq`): `{table}_..{suffix}`.
fn implicit(model: &Model, name: &Name, suffixes: &[&str]) -> bool {
    model.tables.iter().any(|t| {
        t.name.schema == name.schema
            && name.name.starts_with(&format!("{}_", t.name.name))
            && suffixes.iter().any(|s| name.name.ends_with(s))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comment_is_managed_on_a_declared_object_only() {
        let m = Model::of_postgres(
            "CREATE SCHEMA auth;\n\
             CREATE TABLE auth.users (id int PRIMARY KEY, email text);\n\
             CREATE INDEX users_email ON auth.users (email);\n\
             CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS $$ SELECT a $$;\n\
             CREATE VIEW v AS SELECT 1;\n\
             CREATE TRIGGER tr BEFORE UPDATE ON auth.users FOR EACH ROW EXECUTE FUNCTION g();\n\
             CREATE EVENT TRIGGER watch ON ddl_command_end EXECUTE FUNCTION w();\n\
             CREATE STATISTICS auth.st ON id, email FROM auth.users;",
        );
        for (target, want) in [
            ("TABLE auth.users", true),
            ("TABLE auth.userz", false),
            ("TABLE users", false),
            ("COLUMN auth.users.email", true),
            ("COLUMN auth.users.emial", false),
            ("INDEX auth.users_email", true),
            ("INDEX auth.users_pkey", true),
            ("INDEX auth.other_pkey", false),
            ("FUNCTION f(integer)", true),
            ("FUNCTION legacy(integer)", false),
            ("MATERIALIZED VIEW v", true),
            ("TRIGGER tr ON auth.users", true),
            ("TRIGGER tr ON public.users", false),
            ("EVENT TRIGGER watch", true),
            ("STATISTICS auth.st", true),
            ("CONSTRAINT users_pkey ON auth.users", true),
            ("SCHEMA auth", true),
            ("SCHEMA public", true),
            ("EXTENSION pgcrypto", false),
            ("OPERATOR +(int, int)", false),
        ] {
            assert_eq!(declared(&m, target, "public"), want, "{target}");
        }
    }
}
