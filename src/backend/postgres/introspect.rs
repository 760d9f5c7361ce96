//! What a PostgreSQL database has, for the declared schema, read from the catalogs, and the
//! fingerprint that tells a no-op start nothing changed. What only `schema dump` reads is in
//! `dump_reads`, the probe in `probe_reads`; both read through the queries here.

use postgres::{Client, SimpleQueryMessage};

use crate::schema::Name;
use crate::schema::model::{Live, LiveColumn, LiveIndex, quoted};
use crate::schema::recognize::OtherKind;

/// The schemas that are the user's (not the system's, not temporary).
pub(super) const USER: &str = "n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'";

pub(super) type Rows = Vec<Vec<Option<String>>>;

pub(super) fn rows(client: &mut Client, sql: &str) -> Result<Rows, postgres::Error> {
    Ok(client
        .simple_query(sql)?
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect())
}

pub(super) fn text(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

pub(super) fn truth(row: &[Option<String>], i: usize) -> bool {
    text(row, i) == "t"
}

pub(super) fn name(row: &[Option<String>], schema: usize, name: usize) -> Name {
    Name {
        schema: Some(text(row, schema)),
        name: text(row, name),
    }
}

/// One query over the catalogs whose answer changes when a relation, a column (its name, type,
/// nullability, default, being dropped), an index (or its validity), a constraint, a schema, an
/// extension or a type is added, dropped or changed. Only objects made after the cluster's own
/// (`oid >= 16384`, FirstNormalObjectId) are read, through their indexes, and no temporary
/// ones (an application's temp tables are not schema changes). Statistics (`reltuples`,
/// `relpages`, written by VACUUM and ANALYZE) are left out: rows written to a table must not
/// look like a schema change. Each catalog gives a count and a sum of per-row numbers (no sort,
/// no text built per row): a change changes a count or a sum.
pub fn fingerprint(client: &mut Client) -> Result<String, postgres::Error> {
    const SQL: &str = "SELECT 'pg:' \
        || (SELECT count(*) || ':' || coalesce(sum(hashtext(c.relname) + c.oid::int8 \
              + ascii(c.relkind::text) + c.relnamespace::int8), 0) \
            FROM pg_class c WHERE c.oid >= 16384 AND c.relpersistence <> 't') \
        || ':' || (SELECT count(*) || ':' || coalesce(sum(hashtext(a.attname) + a.attrelid::int8 * 7 \
              + a.attnum * 31 + a.atttypid::int8 * 17 + a.atttypmod + a.attnotnull::int * 3 \
              + a.atthasdef::int * 5 + a.attisdropped::int * 11), 0) \
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
            WHERE a.attrelid >= 16384 AND a.attnum > 0 AND c.relpersistence <> 't' \
              AND c.relkind IN ('r', 'p')) \
        || ':' || (SELECT count(*) || ':' || coalesce(sum(i.indexrelid::int8 * 3 + i.indisvalid::int), 0) \
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
            WHERE i.indexrelid >= 16384 AND c.relpersistence <> 't') \
        || ':' || (SELECT count(*) || ':' || coalesce(sum(k.oid::int8 + hashtext(k.conname)), 0) \
            FROM pg_constraint k LEFT JOIN pg_class c ON c.oid = k.conrelid \
            WHERE k.oid >= 16384 AND coalesce(c.relpersistence, 'p') <> 't') \
        || ':' || (SELECT count(*) || ':' || coalesce(sum(n.oid::int8 + hashtext(n.nspname)), 0) \
            FROM pg_namespace n WHERE n.nspname !~ '^pg_(toast_)?temp') \
        || ':' || (SELECT count(*) || ':' || coalesce(sum(e.oid::int8), 0) FROM pg_extension e) \
        || ':' || (SELECT count(*) || ':' || coalesce(sum(t.oid::int8 + hashtext(t.typname)), 0) \
            FROM pg_type t WHERE t.oid >= 16384 AND t.typtype IN ('e', 'd')) \
        || ':' || (SELECT count(*) || ':' || coalesce(sum(p.oid::int8 + hashtext(p.proname) \
              + hashtext(p.prosrc)), 0) \
            FROM pg_proc p WHERE p.oid >= 16384) \
        || ':' || (SELECT count(*) || ':' || coalesce(sum(hashtext(r.ev_action::text)), 0) \
            FROM pg_rewrite r WHERE r.oid >= 16384) \
        || ':' || (SELECT count(*) || ':' || coalesce(sum(t.oid::int8 + hashtext(t.tgname)), 0) \
            FROM pg_trigger t WHERE NOT t.tgisinternal) \
        || ':' || (SELECT count(*) || ':' || coalesce(sum(p.oid::int8 + hashtext(p.polname)), 0) \
            FROM pg_policy p) \
        || ':' || (SELECT count(*) || ':' || coalesce(sum(c.oid::int8 \
              + c.relforcerowsecurity::int), 0) \
            FROM pg_class c WHERE c.relrowsecurity) \
        || ':' || (SELECT count(*) || ':' || coalesce(sum(i.inhrelid::int8 * 3 + i.inhparent::int8), 0) \
            FROM pg_inherits i) \
        || ':' || (SELECT count(*) || ':' || coalesce(sum(d.objoid::int8 + d.objsubid * 7 \
              + hashtext(d.description)), 0) FROM pg_description d WHERE d.objoid >= 16384) \
        || ':' || (SELECT count(*) || ':' || coalesce(sum(e.oid::int8 + ascii(e.evtenabled::text) \
              + hashtext(e.evtname)), 0) FROM pg_event_trigger e) \
        || ':' || (SELECT count(*) || ':' || coalesce(sum(p.oid::int8 + hashtext(p.pubname)), 0) \
            FROM pg_publication p) \
        || ':' || (SELECT count(*) || ':' || coalesce(sum(r.oid::int8), 0) FROM pg_publication_rel r) \
        || ':' || (SELECT count(*) || ':' || coalesce(sum(s.oid::int8 + hashtext(s.stxname)), 0) \
            FROM pg_statistic_ext s)";
    Ok(rows(client, SQL)?
        .first()
        .map(|r| text(r, 0))
        .unwrap_or_default())
}

/// The live schema.
pub fn live(client: &mut Client) -> Result<Live, postgres::Error> {
    let mut live = Live {
        default_schema: rows(client, "SELECT current_schema()")?
            .first()
            .and_then(|r| r.first().cloned().flatten()),
        ..Live::default()
    };
    for r in rows(
        client,
        &format!("SELECT n.nspname FROM pg_namespace n WHERE {USER}"),
    )? {
        live.schemas.insert(text(&r, 0));
    }
    for r in rows(client, "SELECT extname FROM pg_extension")? {
        live.extensions.insert(text(&r, 0));
    }
    read_types(client, &mut live)?;
    read_relations(client, &mut live)?;
    read_columns(client, &mut live)?;
    read_indexes(client, &mut live)?;
    read_constraints(client, &mut live)?;
    read_functions(client, &mut live)?;
    read_views(client, &mut live)?;
    read_triggers(client, &mut live)?;
    read_others(client, &mut live)?;
    Ok(live)
}

/// An event trigger's definition as compared (`g` is `pg_event_trigger`): its event, tags and
/// function (whether it is enabled is an `ALTER`'s, not the declaration's).
pub(super) const EVENT_TRIGGER_DEF: &str = "g.evtevent || ' ' || coalesce(g.evttags::text, '') \
     || ' ' || g.evtfoid::regprocedure::text";

/// Event triggers, publications, statistics objects, aggregates and rules, by kind and name.
fn read_others(client: &mut Client, live: &mut Live) -> Result<(), postgres::Error> {
    let defs = format!("SELECT g.evtname, {EVENT_TRIGGER_DEF} FROM pg_event_trigger g");
    for r in rows(client, &defs)? {
        live.event_trigger_defs.insert(text(&r, 0), text(&r, 1));
    }
    let others = format!(
        "SELECT 'e', NULL, evtname FROM pg_event_trigger \
         UNION ALL SELECT 'p', NULL, pubname FROM pg_publication \
         UNION ALL SELECT 's', n.nspname, s.stxname FROM pg_statistic_ext s \
           JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE {USER} \
         UNION ALL SELECT 'a', n.nspname, p.proname FROM pg_proc p \
           JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {USER} AND p.prokind = 'a' \
         UNION ALL SELECT 'r', n.nspname, c.relname || '.' || r.rulename FROM pg_rewrite r \
           JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace \
           WHERE {USER} AND r.rulename <> '_RETURN'"
    );
    for r in rows(client, &others)? {
        let kind = match text(&r, 0).as_str() {
            "e" => OtherKind::EventTrigger,
            "p" => OtherKind::Publication,
            "s" => OtherKind::Statistics,
            "a" => OtherKind::Aggregate,
            _ => OtherKind::Rule,
        };
        let n = Name {
            schema: r.get(1).cloned().flatten(),
            name: text(&r, 2),
        };
        live.others.insert((kind, n));
    }
    Ok(())
}

/// How a definition is made of a row's columns from the one given.
pub(super) type ColumnsAs = fn(&[Option<String>], usize) -> String;

/// A trigger's definition, its name and its table (`t` is `pg_trigger`): read by
/// [`trigger_def`].
pub(super) const TRIGGER_DEF: &str = "pg_get_triggerdef(t.oid), quote_ident(t.tgname), \
     (SELECT quote_ident(tn.nspname) || '.' || quote_ident(tc.relname) FROM pg_class tc \
      JOIN pg_namespace tn ON tn.oid = tc.relnamespace WHERE tc.oid = t.tgrelid)";

/// A trigger's definition as compared, from the three columns of [`TRIGGER_DEF`] at `at`:
/// without its name and its table, which `pg_get_triggerdef` qualifies (a probe's copy has
/// others).
pub(super) fn trigger_def(r: &[Option<String>], at: usize) -> String {
    let (def, name, table) = (text(r, at), text(r, at + 1), text(r, at + 2));
    // A temporary table's schema is printed as `pg_temp`.
    let table = match table.split_once('.') {
        Some((schema, rel)) if schema.starts_with("pg_temp_") => format!("pg_temp.{rel}"),
        _ => table,
    };
    def.replacen(&format!("TRIGGER {name} "), "TRIGGER - ", 1)
        .replacen(&format!(" ON {table} "), " ON - ", 1)
}

/// A policy's definition as compared (`p` is `pg_policy`): permissive or not, its command,
/// its roles and its expressions.
pub(super) const POLICY_DEF: &str = "CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END \
     || ' for ' || p.polcmd::text || ' to ' || coalesce((SELECT string_agg(CASE WHEN r = 0 \
          THEN 'public' ELSE quote_ident(pg_get_userbyid(r)) END, ', ' ORDER BY 1) \
          FROM unnest(p.polroles) r), '') \
     || ' using ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '-') \
     || ' check ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-')";

/// The user's triggers (not a constraint's), by table.
fn read_triggers(client: &mut Client, live: &mut Live) -> Result<(), postgres::Error> {
    let triggers = format!(
        "SELECT n.nspname, c.relname, t.tgname, {TRIGGER_DEF} FROM pg_trigger t \
           JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {USER} AND NOT t.tgisinternal"
    );
    for r in rows(client, &triggers)? {
        let key = (name(&r, 0, 1), text(&r, 2));
        live.trigger_defs.insert(key.clone(), trigger_def(&r, 3));
        live.triggers.insert(key);
    }
    let partitions = format!(
        "SELECT n.nspname, c.relname, pn.nspname, p.relname FROM pg_inherits i \
           JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
           JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace \
         WHERE {USER} AND c.relispartition"
    );
    for r in rows(client, &partitions)? {
        live.partition_of.insert(name(&r, 0, 1), name(&r, 2, 3));
    }
    let policies = format!(
        "SELECT n.nspname, c.relname, p.polname, {POLICY_DEF} FROM pg_policy p \
           JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {USER}"
    );
    for r in rows(client, &policies)? {
        let key = (name(&r, 0, 1), text(&r, 2));
        live.policy_defs.insert(key.clone(), text(&r, 3));
        live.policies.insert(key);
    }
    let secured = format!(
        "SELECT n.nspname, c.relname, c.relforcerowsecurity FROM pg_class c \
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER} AND c.relrowsecurity"
    );
    for r in rows(client, &secured)? {
        live.row_security.insert(name(&r, 0, 1), truth(&r, 2));
    }
    Ok(())
}

/// A function's definition as compared with its declaration: what it returns, its language,
/// volatility, strictness and security, and its body (the same query for live functions and
/// the probe's, so that both are described alike).
pub(super) const FUNCTION_BODY: &str = "coalesce(pg_get_function_result(p.oid), 'procedure') \
     || ' language ' || (SELECT l.lanname FROM pg_language l WHERE l.oid = p.prolang) \
     || ' ' || p.provolatile::text || p.proisstrict::text || p.prosecdef::text || ': ' \
     || btrim(p.prosrc, E' \\n\\t')";

/// Whether the catalog row `oid` of `class` belongs to an extension.
pub(super) fn extension_member(class: &str, oid: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{class}'::regclass \
         AND e.objid = {oid} AND e.deptype = 'e')"
    )
}

/// The user's views' and materialized views' queries.
fn read_views(client: &mut Client, live: &mut Live) -> Result<(), postgres::Error> {
    let views = format!(
        "SELECT n.nspname, c.relname, pg_get_viewdef(c.oid) FROM pg_class c \
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER} AND c.relkind IN ('v', 'm')"
    );
    for r in rows(client, &views)? {
        live.view_queries.insert(name(&r, 0, 1), text(&r, 2));
    }
    Ok(())
}

/// The user's functions and procedures (not an extension's), with their arguments' types.
fn read_functions(client: &mut Client, live: &mut Live) -> Result<(), postgres::Error> {
    let functions = format!(
        "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), {FUNCTION_BODY} \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE {USER} AND p.prokind IN ('f', 'p') AND NOT {}",
        extension_member("pg_proc", "p.oid")
    );
    for r in rows(client, &functions)? {
        let n = name(&r, 0, 1);
        live.functions
            .entry(n.clone())
            .or_default()
            .push(text(&r, 2));
        live.function_bodies.insert((n, text(&r, 2)), text(&r, 3));
    }
    Ok(())
}

/// The user's enums and domains (their definitions) and composite types.
fn read_types(client: &mut Client, live: &mut Live) -> Result<(), postgres::Error> {
    let types = format!(
        "SELECT n.nspname, t.typname, t.typtype::text, \
           (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) \
              FROM pg_enum e WHERE e.enumtypid = t.oid), \
           format_type(t.typbasetype, t.typtypmod) \
             || coalesce(' DEFAULT ' || t.typdefault, '') \
             || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END \
             || coalesce((SELECT string_agg(' CONSTRAINT ' || quote_ident(k.conname) || ' ' \
                  || pg_get_constraintdef(k.oid), '' ORDER BY k.conname) \
                FROM pg_constraint k WHERE k.contypid = t.oid), '') \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE {USER} AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND \
           (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')) \
         ORDER BY n.nspname, t.typname"
    );
    for r in rows(client, &types)? {
        let n = name(&r, 0, 1);
        match text(&r, 2).as_str() {
            "e" => live.type_defs.push(format!(
                "CREATE TYPE {} AS ENUM ({})",
                quoted(&n),
                text(&r, 3)
            )),
            "d" => live
                .type_defs
                .push(format!("CREATE DOMAIN {} AS {}", quoted(&n), text(&r, 4))),
            _ => {}
        }
        live.types.insert(n);
    }
    Ok(())
}

/// Every relation of the user's schemas, by kind (`q`: a sequence an identity column owns).
fn read_relations(client: &mut Client, live: &mut Live) -> Result<(), postgres::Error> {
    // Sequences an identity column owns are not declared on their own: kind 'q'.
    let relations = format!(
        "SELECT n.nspname, c.relname, c.relkind::text, \
           EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
             AND d.objid = c.oid AND d.deptype = 'i') \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {USER} AND c.relpersistence <> 't' AND c.relkind <> 't' AND c.relkind <> 'c' \
         ORDER BY n.nspname, c.relname"
    );
    for r in rows(client, &relations)? {
        let kind = text(&r, 2).chars().next().unwrap_or('r');
        let kind = if kind == 'S' && truth(&r, 3) {
            'q'
        } else {
            kind
        };
        live.relations.insert(name(&r, 0, 1), kind);
    }
    Ok(())
}

/// The columns of every table.
fn read_columns(client: &mut Client, live: &mut Live) -> Result<(), postgres::Error> {
    let columns = columns_where(&format!(
        "{USER} AND c.relkind IN ('r', 'p') AND c.relpersistence <> 't'"
    ));
    for r in rows(client, &columns)? {
        let col = column(&r);
        live.tables.entry(name(&r, 0, 1)).or_default().push(col);
    }
    Ok(())
}

/// Every index, with its table, validity, definition, and whether a constraint owns it.
fn read_indexes(client: &mut Client, live: &mut Live) -> Result<(), postgres::Error> {
    let indexes = format!(
        "SELECT n.nspname, ic.relname, tn.nspname, tc.relname, i.indisvalid, \
           pg_get_indexdef(i.indexrelid), \
           EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid \
             AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')) \
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
           JOIN pg_namespace n ON n.oid = ic.relnamespace \
           JOIN pg_class tc ON tc.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = tc.relnamespace \
         WHERE {USER} AND ic.relpersistence <> 't'"
    );
    for r in rows(client, &indexes)? {
        let sql = text(&r, 5);
        live.indexes.insert(
            name(&r, 0, 1),
            LiveIndex {
                table: name(&r, 2, 3),
                valid: truth(&r, 4),
                definition: definition(&sql),
                sql,
                constraint: truth(&r, 6),
            },
        );
    }
    Ok(())
}

/// Every constraint but NOT NULL, with its definition (foreign keys last).
fn read_constraints(client: &mut Client, live: &mut Live) -> Result<(), postgres::Error> {
    // NOT NULL constraints (PostgreSQL 18 lists them) are the columns' own.
    let constraints = format!(
        "SELECT n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid) \
         FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {USER} AND k.contype <> 'n' AND c.relpersistence <> 't' \
         ORDER BY k.contype = 'f', n.nspname, c.relname, k.conname"
    );
    for r in rows(client, &constraints)? {
        let table = name(&r, 0, 1);
        live.constraints.insert((table.clone(), text(&r, 2)));
        live.constraint_defs.push((table, text(&r, 2), text(&r, 3)));
    }
    Ok(())
}

/// The columns of the tables `filter` picks, as `column` reads them, in order (the same query
/// for the live tables and the probe's, so that both are described alike).
pub(super) fn columns_where(filter: &str) -> String {
    format!(
        "SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), \
           a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE {filter} AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY n.nspname, c.relname, a.attnum"
    )
}

/// One row of `columns_where`.
pub(super) fn column(r: &[Option<String>]) -> LiveColumn {
    let default = r.get(5).cloned().flatten();
    let generated = match (text(r, 6).as_str(), text(r, 7).as_str()) {
        ("a", _) => Some("GENERATED ALWAYS AS IDENTITY".to_string()),
        ("d", _) => Some("GENERATED BY DEFAULT AS IDENTITY".to_string()),
        (_, "s") => Some(format!(
            "GENERATED ALWAYS AS ({}) STORED",
            default.clone().unwrap_or_default()
        )),
        _ => None,
    };
    LiveColumn {
        name: text(r, 2),
        data_type: text(r, 3),
        not_null: truth(r, 4),
        // A generated column's expression is not a default.
        default: if text(r, 7) == "s" { None } else { default },
        primary_key: false,
        generated,
    }
}

/// `pg_get_indexdef` without the index's name and table: uniqueness, method, keys, predicate.
pub(super) fn definition(indexdef: &str) -> String {
    let unique = indexdef.starts_with("CREATE UNIQUE INDEX");
    let rest = indexdef
        .find(" USING ")
        .map_or(indexdef, |at| &indexdef[at + 1..]);
    format!("{}{rest}", if unique { "UNIQUE " } else { "" })
}

/// Whether the table holds a row.
pub fn has_rows(client: &mut Client, table: &Name) -> Result<bool, postgres::Error> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", quoted(table));
    Ok(rows(client, &sql)?.first().is_some_and(|r| truth(r, 0)))
}
