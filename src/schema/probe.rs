//! The statements of a PostgreSQL probe: each declared table as a `TEMP` table with the same
//! columns, each declared index built on that temporary table, run in a transaction
//! that is rolled back, so that the server describes the declared definitions exactly as it
//! describes the live ones. Pure.
//!
//! Temporary tables may only reference temporary tables: `REFERENCES` is left out, and so are
//! the constraints that do not change how a column reads (CHECK, UNIQUE, EXCLUDE).

use super::lex::{self, Kind};
use super::model::{Index, Table};

/// The `CREATE TEMP TABLE` (and its defaults set apart) that stands for `t`, or `None` for a
/// partition (its columns are its parent's).
pub fn table(t: &Table, temp: &str) -> Option<Vec<String>> {
    if t.partition {
        return None;
    }
    let mut parts: Vec<String> = t
        .columns
        .iter()
        .map(|c| without_references(&c.text))
        .collect();
    // A primary key makes its columns NOT NULL: kept, wherever it was declared.
    parts.extend(t.primary_key.as_deref().and_then(primary_key));
    for sql in &t.extras {
        if let Some(pk) = primary_key(sql) {
            parts.push(pk);
        }
    }
    let mut out = vec![format!(
        "CREATE TEMP TABLE \"{temp}\" ({})",
        parts.join(", ")
    )];
    for (column, expr) in &t.defaults {
        out.push(format!(
            "ALTER TABLE \"{temp}\" ALTER COLUMN \"{}\" SET DEFAULT {expr}",
            column.replace('"', "\"\"")
        ));
    }
    Some(out)
}

/// `ix` built under the name `temp_index` on the table `temp_table`, in a transaction.
pub fn index(ix: &Index, temp_index: &str, temp_table: &str) -> Option<String> {
    let s = &ix.spans;
    let (name_start, name_end) = s.name?;
    let sql = &ix.sql;
    let (mut head, rest) = (sql[..name_start].to_string(), &sql[name_end..s.table.0]);
    if let Some((a, b)) = s.concurrently {
        head = format!("{}{}", sql[..a].trim_end(), &sql[b..name_start]);
    }
    Some(format!(
        "{head}\"{temp_index}\"{rest}\"{temp_table}\"{}",
        &sql[s.table.1..]
    ))
}

/// A declared `CREATE ... TRIGGER name ... ON table` or `CREATE POLICY name ON table` (`kind`:
/// `TRIGGER` or `POLICY`) made under the name `temp_name` on the table `temp_table`.
pub fn on_table(sql: &str, kind: &str, temp_name: &str, temp_table: &str) -> Option<String> {
    let t = lex::tokens(sql);
    let at = t.iter().position(|x| x.is(sql, kind))?;
    let name = t.get(at + 1)?;
    let on = (at + 2..t.len()).find(|&k| t[k].is(sql, "ON"))?;
    let mut end = on + 1;
    t.get(end)?;
    while t.get(end + 1).map(|x| x.kind) == Some(Kind::Punct(b'.')) && t.get(end + 2).is_some() {
        end += 2;
    }
    Some(format!(
        "{}\"{temp_name}\"{}{temp_table}{}",
        &sql[..name.start],
        &sql[name.end..t[on + 1].start],
        &sql[t[end].end..]
    ))
}

/// A declared `CREATE EVENT TRIGGER name ...` made under the name `temp`.
pub fn event_trigger(sql: &str, temp: &str) -> Option<String> {
    let t = lex::tokens(sql);
    let at = t.iter().position(|x| x.is(sql, "TRIGGER"))?;
    let name = t.get(at + 1)?;
    Some(format!(
        "{}\"{temp}\"{}",
        &sql[..name.start],
        &sql[name.end..]
    ))
}

/// A declared `CREATE MATERIALIZED VIEW name [(columns)] [USING ..] [WITH (..)] [TABLESPACE
/// ..] AS query [WITH [NO] DATA]` as a temporary plain view `temp` of the same query, whose
/// query the server prints as it prints the materialized view's. `after`: where the name ends.
pub fn materialized_as_view(sql: &str, after: usize, temp: &str) -> Option<String> {
    let t: Vec<_> = lex::tokens(sql)
        .into_iter()
        .filter(|x| x.start >= after)
        .collect();
    let mut k = 0;
    let mut columns = "";
    if t.first()?.kind == Kind::Punct(b'(') {
        let close = lex::matching(&t, 0);
        columns = &sql[t[0].start..t.get(close)?.end];
        k = close + 1;
    }
    // USING, WITH (...) and TABLESPACE do not change the query.
    while let Some(x) = t.get(k) {
        if x.is(sql, "USING") || x.is(sql, "TABLESPACE") {
            k += 2;
        } else if x.is(sql, "WITH") && t.get(k + 1)?.kind == Kind::Punct(b'(') {
            k = lex::matching(&t, k + 1) + 1;
        } else {
            break;
        }
    }
    if !t.get(k)?.is(sql, "AS") {
        return None;
    }
    let start = t.get(k + 1)?.start;
    let n = t.len();
    let mut end = sql.len();
    if n >= 2 && t[n - 1].is(sql, "DATA") {
        let with = if t[n - 2].is(sql, "NO") { n - 3 } else { n - 2 };
        if t.get(with).is_some_and(|x| x.is(sql, "WITH")) {
            end = t[with].start;
        }
    }
    Some(format!(
        "CREATE TEMP VIEW \"{temp}\" {columns} AS {}",
        sql[start..end].trim_end()
    ))
}

/// `ALTER TABLE ... ADD [CONSTRAINT x] PRIMARY KEY (...)` as a table constraint.
fn primary_key(sql: &str) -> Option<String> {
    let t = lex::tokens(sql);
    let at = t.iter().position(|x| x.is(sql, "PRIMARY"))?;
    t.get(at + 1).filter(|x| x.is(sql, "KEY"))?;
    Some(sql[t[at].start..].to_string())
}

/// A column definition without its `REFERENCES` clause (and that clause's actions).
pub fn without_references(text: &str) -> String {
    let t = lex::tokens(text);
    let Some(at) = t.iter().position(|x| x.is(text, "REFERENCES")) else {
        return text.to_string();
    };
    let mut k = at + 1;
    // The table: name or schema.name.
    k += 1;
    while t.get(k).map(|x| x.kind) == Some(Kind::Punct(b'.')) {
        k += 2;
    }
    if t.get(k).map(|x| x.kind) == Some(Kind::Punct(b'(')) {
        k = lex::matching(&t, k) + 1;
    }
    loop {
        let w = |i: usize| {
            t.get(i)
                .map(|x| x.text(text).to_ascii_uppercase())
                .unwrap_or_default()
        };
        match w(k).as_str() {
            "MATCH" | "INITIALLY" => k += 2,
            "DEFERRABLE" => k += 1,
            "NOT" if w(k + 1) == "DEFERRABLE" => k += 2,
            "ON" => {
                k += 2; // ON DELETE / ON UPDATE
                match w(k).as_str() {
                    "NO" | "SET" => k += 2,
                    _ => k += 1,
                }
                if t.get(k).map(|x| x.kind) == Some(Kind::Punct(b'(')) {
                    k = lex::matching(&t, k) + 1;
                }
            }
            _ => break,
        }
    }
    let mut out = text[..t[at].start].trim_end().to_string();
    if let Some(next) = t.get(k) {
        out.push(' ');
        out.push_str(&text[next.start..]);
    }
    // A `CONSTRAINT name` left dangling before the clause goes too.
    let tt = lex::tokens(&out);
    if tt.len() >= 2 && tt[tt.len() - 2].is(&out, "CONSTRAINT") && k >= t.len() {
        out.truncate(tt[tt.len() - 2].start);
        out = out.trim_end().to_string();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::SchemaFile;
    use crate::schema::model::Model;
    use crate::source::Dialect;

    #[test]
    fn references_are_left_out() {
        let cases = [
            ("a int REFERENCES t", "a int"),
            (
                "a int REFERENCES s.t (id) ON DELETE SET NULL NOT NULL",
                "a int NOT NULL",
            ),
            (
                "a int NOT NULL REFERENCES t(id) ON UPDATE NO ACTION ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED DEFAULT 1",
                "a int NOT NULL DEFAULT 1",
            ),
            ("a int CONSTRAINT fk REFERENCES t", "a int"),
            ("a int DEFAULT 0", "a int DEFAULT 0"),
        ];
        for (text, want) in cases {
            assert_eq!(without_references(text), want, "{text}");
        }
    }

    #[test]
    fn triggers_and_policies_are_made_on_the_probe_table() {
        assert_eq!(
            on_table(
                "CREATE OR REPLACE TRIGGER \"T\" BEFORE UPDATE OF a ON public.items FOR EACH ROW EXECUTE FUNCTION f()",
                "TRIGGER",
                "probe_g1",
                "pg_temp.probe_gt1"
            )
            .unwrap(),
            "CREATE OR REPLACE TRIGGER \"probe_g1\" BEFORE UPDATE OF a ON pg_temp.probe_gt1 FOR EACH ROW EXECUTE FUNCTION f()"
        );
        assert_eq!(
            on_table(
                "CREATE POLICY own ON items AS RESTRICTIVE USING (true)",
                "POLICY",
                "probe_p0",
                "pg_temp.probe_pt0"
            )
            .unwrap(),
            "CREATE POLICY \"probe_p0\" ON pg_temp.probe_pt0 AS RESTRICTIVE USING (true)"
        );
    }

    #[test]
    fn an_event_trigger_is_probed_under_another_name() {
        assert_eq!(
            event_trigger(
                "CREATE EVENT TRIGGER watch ON ddl_command_end EXECUTE FUNCTION w()",
                "probe_e0"
            )
            .unwrap(),
            "CREATE EVENT TRIGGER \"probe_e0\" ON ddl_command_end EXECUTE FUNCTION w()"
        );
    }

    #[test]
    fn a_materialized_view_is_probed_as_a_view_of_its_query() {
        let sql = "CREATE MATERIALIZED VIEW IF NOT EXISTS s.m (a, b) USING heap WITH (fillfactor = 70) AS SELECT 1, 2 WITH NO DATA";
        let after = sql.find(" (a").unwrap();
        assert_eq!(
            materialized_as_view(sql, after, "probe_v0").unwrap(),
            "CREATE TEMP VIEW \"probe_v0\" (a, b) AS SELECT 1, 2"
        );
        let sql = "CREATE MATERIALIZED VIEW m AS SELECT x FROM t WITH DATA";
        assert_eq!(
            materialized_as_view(sql, sql.find(" AS").unwrap(), "p").unwrap(),
            "CREATE TEMP VIEW \"p\"  AS SELECT x FROM t"
        );
    }

    #[test]
    fn probe_statements() {
        let f = SchemaFile {
            label: "s.sql".into(),
            dialect: None,
            text: "CREATE TABLE public.t (id integer NOT NULL, u int REFERENCES x);\n\
                   ALTER TABLE ONLY public.t ALTER COLUMN id SET DEFAULT nextval('t_id_seq'::regclass);\n\
                   ALTER TABLE ONLY public.t ADD CONSTRAINT t_pkey PRIMARY KEY (id);\n\
                   CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_u ON ONLY public.t USING btree (u) WHERE (u > 0);"
                .into(),
        };
        let m = Model::build(&[&f], Dialect::Postgres);
        let t = &m.tables[0];
        assert_eq!(
            table(t, "p1").unwrap(),
            [
                "CREATE TEMP TABLE \"p1\" (id integer NOT NULL, u int, PRIMARY KEY (id))",
                "ALTER TABLE \"p1\" ALTER COLUMN \"id\" SET DEFAULT nextval('t_id_seq'::regclass)",
            ]
        );
        assert_eq!(
            index(&t.indexes[0], "pi1", "pt1").unwrap(),
            "CREATE UNIQUE INDEX IF NOT EXISTS \"pi1\" ON ONLY \"pt1\" USING btree (u) WHERE (u > 0)"
        );
    }
}
