//! What a PostgreSQL database has, for the declared schema, read from the catalogs; the
//! fingerprint that tells a no-op start nothing changed; and the probe that has the server
//! describe the declared tables and indexes (see `schema::probe`).

use postgres::{Client, SimpleQueryMessage};

use crate::schema::model::{DumpExtras, Live, LiveColumn, LiveIndex, Model, quoted};
use crate::schema::recognize::OtherKind;
use crate::schema::{Name, probe};

/// The schemas that are the user's (not the system's, not temporary).
const USER: &str = "n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'";

type Rows = Vec<Vec<Option<String>>>;

fn rows(client: &mut Client, sql: &str) -> Result<Rows, postgres::Error> {
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

fn text(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

fn truth(row: &[Option<String>], i: usize) -> bool {
    text(row, i) == "t"
}

fn name(row: &[Option<String>], schema: usize, name: usize) -> Name {
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

/// Event triggers, publications, statistics objects, aggregates and rules, by kind and name.
fn read_others(client: &mut Client, live: &mut Live) -> Result<(), postgres::Error> {
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
type ColumnsAs = fn(&[Option<String>], usize) -> String;

/// A trigger's definition, its name and its table (`t` is `pg_trigger`): read by
/// [`trigger_def`].
const TRIGGER_DEF: &str = "pg_get_triggerdef(t.oid), quote_ident(t.tgname), \
     (SELECT quote_ident(tn.nspname) || '.' || quote_ident(tc.relname) FROM pg_class tc \
      JOIN pg_namespace tn ON tn.oid = tc.relnamespace WHERE tc.oid = t.tgrelid)";

/// A trigger's definition as compared, from the three columns of [`TRIGGER_DEF`] at `at`:
/// without its name and its table, which `pg_get_triggerdef` qualifies (a probe's copy has
/// others).
fn trigger_def(r: &[Option<String>], at: usize) -> String {
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
const POLICY_DEF: &str = "CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END \
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
const FUNCTION_BODY: &str = "coalesce(pg_get_function_result(p.oid), 'procedure') \
     || ' language ' || (SELECT l.lanname FROM pg_language l WHERE l.oid = p.prolang) \
     || ' ' || p.provolatile::text || p.proisstrict::text || p.prosecdef::text || ': ' \
     || btrim(p.prosrc, E' \\n\\t')";

/// Whether the catalog row `oid` of `class` belongs to an extension.
fn extension_member(class: &str, oid: &str) -> String {
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

/// What `schema dump` writes: the live schema read as pg_dump reads it, with an empty search
/// path (so every expression and type names its schema: `ext.uuid_generate_v4()`), and what
/// only the dump needs: extensions' schemas, sequences' options and owners, and the objects
/// it cannot write yet.
pub fn for_dump(client: &mut Client) -> Result<Live, postgres::Error> {
    // Where unqualified names go (our own tables among them) is the session's, not the dump's.
    let current = rows(client, "SELECT current_schema()")?
        .first()
        .and_then(|r| r.first().cloned().flatten());
    client.batch_execute("SET search_path = ''")?;
    let read = live(client).and_then(|mut live| {
        live.default_schema = current;
        read_dump_extras(client, &mut live)?;
        Ok(live)
    });
    client.batch_execute("RESET search_path")?;
    read
}

fn read_dump_extras(client: &mut Client, live: &mut Live) -> Result<(), postgres::Error> {
    let d = &mut live.dump;
    dump_sequences(client, d)?;
    dump_definitions(client, d)?;
    dump_partitions(client, d)?;
    dump_security(client, d)?;
    dump_late(client, d)?;
    dump_not_written(client, d)?;
    Ok(())
}

/// Extensions' schemas, sequences with every option, and the sequences columns own.
fn dump_sequences(client: &mut Client, d: &mut DumpExtras) -> Result<(), postgres::Error> {
    let extensions = "SELECT e.extname, n.nspname FROM pg_extension e \
         JOIN pg_namespace n ON n.oid = e.extnamespace";
    for r in rows(client, extensions)? {
        d.extension_schemas.insert(text(&r, 0), text(&r, 1));
    }
    let sequences = format!(
        "SELECT n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, \
           s.seqmax, s.seqstart, s.seqcache, s.seqcycle \
         FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER}"
    );
    for r in rows(client, &sequences)? {
        let n = name(&r, 0, 1);
        let cycle = if truth(&r, 8) { " CYCLE" } else { "" };
        let sql = format!(
            "CREATE SEQUENCE {} AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} \
             START WITH {} CACHE {}{cycle}",
            quoted(&n),
            text(&r, 2),
            text(&r, 3),
            text(&r, 4),
            text(&r, 5),
            text(&r, 6),
            text(&r, 7)
        );
        d.sequence_defs.insert(n, sql);
    }
    // 'a': a sequence a column owns (serial, OWNED BY); identity sequences ('i') go with
    // their column.
    let owners = format!(
        "SELECT n.nspname, s.relname, quote_ident(tn.nspname) || '.' || quote_ident(t.relname) \
           || '.' || quote_ident(a.attname) \
         FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' \
           JOIN pg_namespace n ON n.oid = s.relnamespace \
           JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace \
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid \
         WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass \
           AND d.deptype = 'a' AND {USER} ORDER BY 1, 2"
    );
    for r in rows(client, &owners)? {
        d.sequence_owners.push((name(&r, 0, 1), text(&r, 2)));
    }
    Ok(())
}

/// Functions and procedures, views (in the order made), triggers.
fn dump_definitions(client: &mut Client, d: &mut DumpExtras) -> Result<(), postgres::Error> {
    let own = |class: &str, oid: &str| format!("NOT {}", extension_member(class, oid));
    let functions = format!(
        "SELECT pg_get_functiondef(p.oid) FROM pg_proc p \
           JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE {USER} AND p.prokind IN ('f', 'p') AND {} ORDER BY n.nspname, p.proname, p.oid",
        own("pg_proc", "p.oid")
    );
    for r in rows(client, &functions)? {
        d.function_defs.push(text(&r, 0).trim_end().to_string());
    }
    // Views in the order they were made (one may use another), then triggers.
    let views = format!(
        "SELECT CASE c.relkind WHEN 'm' THEN 'CREATE MATERIALIZED VIEW ' ELSE 'CREATE VIEW ' END \
             || c.oid::regclass::text || ' AS\n' || rtrim(pg_get_viewdef(c.oid), ';') \
             || CASE c.relkind WHEN 'm' THEN '\nWITH NO DATA' ELSE '' END \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {USER} AND c.relkind IN ('v', 'm') AND {} ORDER BY c.oid",
        own("pg_class", "c.oid")
    );
    for r in rows(client, &views)? {
        d.view_defs.push(text(&r, 0));
    }
    let triggers = format!(
        "SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {USER} AND NOT t.tgisinternal ORDER BY c.oid, t.tgname"
    );
    for r in rows(client, &triggers)? {
        d.view_defs.push(text(&r, 0));
    }
    Ok(())
}

/// Partitioned tables' keys and each partition's bound.
fn dump_partitions(client: &mut Client, d: &mut DumpExtras) -> Result<(), postgres::Error> {
    // Partitioned tables' keys, and each partition's bound (written as pg_dump writes them:
    // the partition a table of its own, attached at the end).
    let keys = format!(
        "SELECT n.nspname, c.relname, pg_get_partkeydef(c.oid) FROM pg_class c \
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER} AND c.relkind = 'p'"
    );
    for r in rows(client, &keys)? {
        d.partition_keys.insert(name(&r, 0, 1), text(&r, 2));
    }
    let bounds = format!(
        "SELECT 'ALTER TABLE ONLY ' || i.inhparent::regclass::text || ' ATTACH PARTITION ' \
             || c.oid::regclass::text || ' ' || pg_get_expr(c.relpartbound, c.oid) \
         FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {USER} AND c.relispartition AND c.relkind IN ('r', 'p') ORDER BY c.oid"
    );
    for r in rows(client, &bounds)? {
        d.attaches.push(text(&r, 0));
    }
    Ok(())
}

/// Row level security and policies.
fn dump_security(client: &mut Client, d: &mut DumpExtras) -> Result<(), postgres::Error> {
    // Row level security, then each policy as pg_dump writes it.
    let secured = format!(
        "SELECT 'ALTER TABLE ' || c.oid::regclass::text || ' ENABLE ROW LEVEL SECURITY' \
             || CASE WHEN c.relforcerowsecurity THEN ';\nALTER TABLE ' || c.oid::regclass::text \
                  || ' FORCE ROW LEVEL SECURITY' ELSE '' END \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {USER} AND c.relrowsecurity ORDER BY c.oid"
    );
    for r in rows(client, &secured)? {
        d.view_defs.push(text(&r, 0));
    }
    let policies = format!(
        "SELECT 'CREATE POLICY ' || quote_ident(p.polname) || ' ON ' || c.oid::regclass::text \
             || CASE WHEN p.polpermissive THEN '' ELSE ' AS RESTRICTIVE' END \
             || ' FOR ' || CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' \
                  WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END \
             || CASE WHEN p.polroles = '{{0}}' THEN '' ELSE ' TO ' || \
                  (SELECT string_agg(quote_ident(r.rolname), ', ') FROM pg_roles r \
                   WHERE r.oid = ANY (p.polroles)) END \
             || coalesce(' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')', '') \
             || coalesce(' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')', '') \
         FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER} ORDER BY c.oid, p.polname"
    );
    for r in rows(client, &policies)? {
        d.view_defs.push(text(&r, 0));
    }
    Ok(())
}

/// Aggregates (with the functions), then statistics objects, rules, publications, comments and
/// event triggers, in that order (each on what is written before it; event triggers last, as
/// they fire on DDL).
fn dump_late(client: &mut Client, d: &mut DumpExtras) -> Result<(), postgres::Error> {
    let own = |class: &str, oid: &str| format!("NOT {}", extension_member(class, oid));
    let statistics = format!(
        "SELECT pg_get_statisticsobjdef(s.oid) FROM pg_statistic_ext s \
           JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE {USER} AND {} ORDER BY s.oid",
        own("pg_statistic_ext", "s.oid")
    );
    let rules = format!(
        "SELECT rtrim(pg_get_ruledef(r.oid), ';') FROM pg_rewrite r \
           JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {USER} AND r.rulename <> '_RETURN' AND {} ORDER BY r.oid",
        own("pg_class", "c.oid")
    );
    let publications = "SELECT 'CREATE PUBLICATION ' || quote_ident(p.pubname) \
         || CASE WHEN p.puballtables THEN ' FOR ALL TABLES' ELSE coalesce(' FOR TABLE ' \
              || (SELECT string_agg(r.prrelid::regclass::text, ', ' ORDER BY r.prrelid) \
                  FROM pg_publication_rel r WHERE r.prpubid = p.oid), '') END \
         || ' WITH (publish = ''' || concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END, \
              CASE WHEN p.pubupdate THEN 'update' END, CASE WHEN p.pubdelete THEN 'delete' END, \
              CASE WHEN p.pubtruncate THEN 'truncate' END) || '''' \
         || CASE WHEN p.pubviaroot THEN ', publish_via_partition_root = true' ELSE '' END || ')' \
         FROM pg_publication p ORDER BY p.pubname";
    // A comment as `COMMENT ON` names its object (pg_identify_object's type and identity);
    // not an extension's objects' (the extension makes them), nor the cluster's own.
    // Plain aggregates (not ordered-set, moving or with a sort operator: listed as not
    // written), as pg_dump writes them.
    let aggregates = format!(
        "SELECT 'CREATE AGGREGATE ' || p.oid::regproc::text \
             || '(' || pg_get_function_arguments(p.oid) || E') (\\n    SFUNC = ' \
             || a.aggtransfn::regproc::text \
             || E',\\n    STYPE = ' || format_type(a.aggtranstype, NULL) \
             || CASE WHEN a.aggtransspace <> 0 THEN E',\\n    SSPACE = ' || a.aggtransspace ELSE '' END \
             || CASE WHEN a.aggfinalfn <> 0 THEN E',\\n    FINALFUNC = ' || a.aggfinalfn::regproc::text ELSE '' END \
             || CASE WHEN a.aggfinalextra THEN E',\\n    FINALFUNC_EXTRA' ELSE '' END \
             || CASE WHEN a.aggcombinefn <> 0 THEN E',\\n    COMBINEFUNC = ' || a.aggcombinefn::regproc::text ELSE '' END \
             || CASE WHEN a.aggserialfn <> 0 THEN E',\\n    SERIALFUNC = ' || a.aggserialfn::regproc::text \
                  || E',\\n    DESERIALFUNC = ' || a.aggdeserialfn::regproc::text ELSE '' END \
             || coalesce(E',\\n    INITCOND = ' || quote_literal(a.agginitval), '') \
             || CASE p.proparallel WHEN 's' THEN E',\\n    PARALLEL = safe' \
                  WHEN 'r' THEN E',\\n    PARALLEL = restricted' ELSE '' END || E'\\n)' \
         FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid \
           JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE {USER} AND {PLAIN_AGGREGATE} AND {} ORDER BY p.oid",
        own("pg_proc", "p.oid")
    );
    let comments = |which: &str| {
        format!(
            "SELECT 'COMMENT ON ' || CASE \
              WHEN o.type LIKE '% column' THEN 'COLUMN' \
              WHEN o.type IN ('table constraint', 'domain constraint') THEN 'CONSTRAINT' \
              WHEN o.type = 'composite type' THEN 'TYPE' \
              WHEN o.type = 'statistics object' THEN 'STATISTICS' \
              WHEN o.type = 'foreign-data wrapper' THEN 'FOREIGN DATA WRAPPER' \
              ELSE upper(o.type) END || ' ' \
           || CASE o.type WHEN 'domain constraint' \
                THEN regexp_replace(o.identity, ' on ', ' ON DOMAIN ') ELSE o.identity END \
           || ' IS ' || quote_literal(d.description) \
         FROM pg_description d, pg_identify_object(d.classoid, d.objoid, d.objsubid) o \
         WHERE d.objoid >= 16384 AND (o.schema IS NULL OR o.schema !~ '^pg_' \
              AND o.schema <> 'information_schema') \
           AND o.type NOT IN ('foreign table', 'database', 'role', 'tablespace') \
           AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = d.classoid \
              AND e.objid = d.objoid AND e.deptype = 'e') AND o.type {which} 'event trigger' \
         ORDER BY d.classoid, d.objoid, d.objsubid"
        )
    };
    let event_triggers = format!(
        "SELECT 'CREATE EVENT TRIGGER ' || quote_ident(g.evtname) || ' ON ' || g.evtevent \
           || coalesce(E'\\n    WHEN TAG IN (' || (SELECT string_agg(quote_literal(x), ', ') \
              FROM unnest(g.evttags) x) || ')', '') \
           || E'\\n    EXECUTE FUNCTION ' || g.evtfoid::regproc::text || '()' \
           || CASE g.evtenabled WHEN 'D' THEN ';\nALTER EVENT TRIGGER ' \
                || quote_ident(g.evtname) || ' DISABLE' \
              WHEN 'R' THEN ';\nALTER EVENT TRIGGER ' || quote_ident(g.evtname) \
                || ' ENABLE REPLICA' \
              WHEN 'A' THEN ';\nALTER EVENT TRIGGER ' || quote_ident(g.evtname) \
                || ' ENABLE ALWAYS' ELSE '' END \
         FROM pg_event_trigger g WHERE {} ORDER BY g.evtname",
        own("pg_event_trigger", "g.oid")
    );
    // Aggregates go with the functions (before the tables and views that may use them).
    for r in rows(client, &aggregates)? {
        d.function_defs.push(text(&r, 0));
    }
    // Comments on event triggers after them.
    for sql in [
        &statistics,
        &rules,
        publications,
        &comments("<>"),
        &event_triggers,
        &comments("="),
    ] {
        for r in rows(client, sql)? {
            d.late_defs.push(text(&r, 0));
        }
    }
    Ok(())
}

/// The aggregates `schema dump` writes: not ordered-set, moving or with a sort operator.
const PLAIN_AGGREGATE: &str = "a.aggkind = 'n' AND a.aggmtransfn = 0 AND a.aggsortop = 0 \
     AND a.aggfinalmodify = 'r'";

/// What the dump cannot write yet, named.
fn dump_not_written(client: &mut Client, d: &mut DumpExtras) -> Result<(), postgres::Error> {
    let own = |class: &str, oid: &str| format!("NOT {}", extension_member(class, oid));
    let not_written = format!(
        "SELECT CASE p.prokind WHEN 'a' THEN 'aggregate ' ELSE 'window function ' END \
             || p.oid::regprocedure::text FROM pg_proc p \
           JOIN pg_namespace n ON n.oid = p.pronamespace \
           LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid \
           WHERE {USER} AND p.prokind IN ('a', 'w') AND {} \
             AND NOT coalesce({PLAIN_AGGREGATE}, false) \
         UNION ALL SELECT 'foreign table ' || c.oid::regclass::text FROM pg_class c \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
           WHERE {USER} AND c.relkind = 'f' AND {} \
         UNION ALL SELECT 'foreign server ' || quote_ident(s.srvname) \
           FROM pg_foreign_server s WHERE {} \
         UNION ALL SELECT 'foreign-data wrapper ' || quote_ident(w.fdwname) \
           FROM pg_foreign_data_wrapper w WHERE {} \
         ORDER BY 1",
        own("pg_proc", "p.oid"),
        own("pg_class", "c.oid"),
        own("pg_foreign_server", "s.oid"),
        own("pg_foreign_data_wrapper", "w.oid"),
    );
    for r in rows(client, &not_written)? {
        d.not_written.push(text(&r, 0));
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
fn columns_where(filter: &str) -> String {
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
fn column(r: &[Option<String>]) -> LiveColumn {
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
fn definition(indexdef: &str) -> String {
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

/// The declared tables and indexes that exist in `live`, built as temporary tables in a
/// transaction that is rolled back, and read back through the same catalog queries. A
/// declared statement the server refuses is left out (its savepoint rolled back).
pub fn probe(client: &mut Client, model: &Model, live: &Live) -> Result<Live, postgres::Error> {
    client.batch_execute("BEGIN")?;
    let result = probe_in(client, model, live);
    let _ = client.batch_execute("ROLLBACK");
    result
}

fn probe_in(client: &mut Client, model: &Model, live: &Live) -> Result<Live, postgres::Error> {
    let steps = probe_steps(model, live);
    client.batch_execute("SET LOCAL check_function_bodies = off")?;
    // The probe's DDL must not fire the database's event triggers (a superuser's setting:
    // elsewhere refused, and they fire in a transaction that is rolled back).
    attempt(client, "SET LOCAL session_replication_role = replica")?;
    // All at once (one round trip); statement by statement only when the server refuses one.
    let all: Vec<&str> = steps.iter().map(|(_, sql, _)| sql.as_str()).collect();
    let built: Vec<bool> = if attempt(client, &all.join(";\n"))? {
        vec![true; steps.len()]
    } else {
        let mut built = Vec::with_capacity(steps.len());
        for (_, sql, _) in &steps {
            built.push(attempt(client, sql)?);
        }
        built
    };
    let mut out = probed(client, model, steps, built)?;
    out.comments = probe_comments(client, model)?;
    Ok(out)
}

/// What a probe builds: each statement with what it stands for.
enum Built {
    Table(Name),
    Index(Name, Name),
    Function(usize),
    View(Name),
    /// A trigger or a policy: (its table, its name).
    Trigger((Name, String)),
    Policy((Name, String)),
}

/// A probe's statements: (temporary name, statement, what it stands for).
fn probe_steps(model: &Model, live: &Live) -> Vec<(String, String, Built)> {
    let mut steps: Vec<(String, String, Built)> = Vec::new();
    for (i, t) in model.tables.iter().enumerate() {
        if !live.tables.contains_key(&t.name) {
            continue;
        }
        let temp = format!("probe_t{i}");
        let Some(stmts) = probe::table(t, &temp) else {
            continue;
        };
        steps.push((
            temp.clone(),
            stmts.join(";\n"),
            Built::Table(t.name.clone()),
        ));
        // The declared indexes are built on the declared columns, as they would be.
        let live_indexes = t
            .indexes
            .iter()
            .filter(|ix| live.indexes.contains_key(&ix.name));
        for (j, ix) in live_indexes.enumerate() {
            let index = format!("probe_i{i}_{j}");
            if let Some(sql) = probe::index(ix, &index, &temp) {
                steps.push((index, sql, Built::Index(ix.name.clone(), t.name.clone())));
            }
        }
    }
    // Each declared function made in our temporary schema, to read its arguments' types as the
    // server spells them (bodies not checked: they may use what is not there yet).
    for (i, f) in model.functions.iter().enumerate() {
        let (a, b) = f.name_span;
        let temp = format!("probe_f{i}");
        let sql = format!("{}pg_temp.{temp}{}", &f.sql[..a], &f.sql[b..]);
        steps.push((temp, sql, Built::Function(i)));
    }
    // Each declared view that is there, made again in our temporary schema, to compare the
    // queries as the server prints them.
    for (i, v) in model.views.iter().enumerate() {
        let (a, b) = v.name_span;
        let temp = format!("probe_v{i}");
        let sql = &v.object.sql;
        let made = match live.relations.get(&v.object.name) {
            Some('v') if !v.materialized => format!("{}pg_temp.{temp}{}", &sql[..a], &sql[b..]),
            // A materialized view's query, as a view's (the server prints both alike).
            Some('m') if v.materialized => match probe::materialized_as_view(sql, b, &temp) {
                Some(made) => made,
                None => continue,
            },
            _ => continue,
        };
        steps.push((temp, made, Built::View(v.object.name.clone())));
    }
    // Each declared trigger and policy that is there, made on a copy of its table's columns.
    for (kind, objects, there) in [
        ("TRIGGER", &model.triggers, &live.triggers),
        ("POLICY", &model.policies, &live.policies),
    ] {
        for (i, t) in objects.iter().enumerate() {
            let key = (t.table.clone(), t.name.clone());
            if !there.contains(&key) {
                continue;
            }
            let (letter, built) = match kind {
                "TRIGGER" => ("g", Built::Trigger(key)),
                _ => ("p", Built::Policy(key)),
            };
            let (temp, table) = (format!("probe_{letter}{i}"), format!("probe_{letter}t{i}"));
            let Some(made) = probe::on_table(&t.sql, kind, &temp, &format!("pg_temp.\"{table}\""))
            else {
                continue;
            };
            let sql = format!(
                "CREATE TEMP TABLE \"{table}\" (LIKE {});\n{made}",
                quoted(&t.table)
            );
            steps.push((temp, sql, built));
        }
    }
    steps
}

/// What the probe built, read back through the same catalog queries as the live schema.
fn probed(
    client: &mut Client,
    model: &Model,
    steps: Vec<(String, String, Built)>,
    built: Vec<bool>,
) -> Result<Live, postgres::Error> {
    let mut out = Live {
        function_identities: vec![None; model.functions.len()],
        ..Live::default()
    };
    let mut by_temp = std::collections::HashMap::new();
    let mut indexes = std::collections::HashMap::new();
    let mut functions = std::collections::HashMap::new();
    let mut views = std::collections::HashMap::new();
    let mut triggers = std::collections::HashMap::new();
    let mut policies = std::collections::HashMap::new();
    for ((temp, _, what), ok) in steps.into_iter().zip(built) {
        match what {
            Built::Table(n) if ok => {
                by_temp.insert(temp, n);
            }
            Built::Index(ix, table) if ok => {
                indexes.insert(temp, (ix, table));
            }
            Built::Function(i) if ok => {
                functions.insert(temp, i);
            }
            Built::View(n) if ok => {
                views.insert(temp, n);
            }
            Built::Trigger(key) if ok => {
                triggers.insert(temp, key);
            }
            Built::Policy(key) if ok => {
                policies.insert(temp, key);
            }
            Built::Table(_)
            | Built::Index(..)
            | Built::Function(_)
            | Built::View(_)
            | Built::Trigger(_)
            | Built::Policy(_) => {}
        }
    }
    if !views.is_empty() {
        let queries = "SELECT c.relname, pg_get_viewdef(c.oid) FROM pg_class c \
             WHERE c.relnamespace = pg_my_temp_schema() AND c.relname LIKE 'probe\\_v%'";
        for r in rows(client, queries)? {
            if let Some(n) = views.get(&text(&r, 0)) {
                out.view_queries.insert(n.clone(), text(&r, 1));
            }
        }
    }
    // Triggers and policies: each read back by its temporary name, as the live ones are.
    let read: [(_, String, _, ColumnsAs); 2] = [
        (
            triggers,
            format!(
                "SELECT t.tgname, {TRIGGER_DEF} FROM pg_trigger t \
                   JOIN pg_class c ON c.oid = t.tgrelid \
                 WHERE c.relnamespace = pg_my_temp_schema() AND t.tgname LIKE 'probe\\_g%'"
            ),
            &mut out.trigger_defs,
            trigger_def,
        ),
        (
            policies,
            format!(
                "SELECT p.polname, {POLICY_DEF} FROM pg_policy p \
                   JOIN pg_class c ON c.oid = p.polrelid \
                 WHERE c.relnamespace = pg_my_temp_schema() AND p.polname LIKE 'probe\\_p%'"
            ),
            &mut out.policy_defs,
            text,
        ),
    ];
    for (mut made, query, defs, def) in read {
        if made.is_empty() {
            continue;
        }
        for r in rows(client, &query)? {
            if let Some(key) = made.remove(&text(&r, 0)) {
                defs.insert(key, def(&r, 1));
            }
        }
    }
    if !functions.is_empty() {
        let args = format!(
            "SELECT p.proname, pg_get_function_identity_arguments(p.oid), {FUNCTION_BODY} \
             FROM pg_proc p \
             WHERE p.pronamespace = pg_my_temp_schema() AND p.proname LIKE 'probe\\_f%'"
        );
        for r in rows(client, &args)? {
            if let Some(&i) = functions.get(&text(&r, 0)) {
                out.function_identities[i] = Some((text(&r, 1), text(&r, 2)));
            }
        }
    }
    let columns =
        columns_where("c.relnamespace = pg_my_temp_schema() AND c.relname LIKE 'probe\\_t%'");
    for r in rows(client, &columns)? {
        if let Some(n) = by_temp.get(&text(&r, 1)) {
            out.tables.entry(n.clone()).or_default().push(column(&r));
        }
    }
    let defs = "SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_class c \
         WHERE c.relnamespace = pg_my_temp_schema() AND c.relname LIKE 'probe\\_i%'";
    for r in rows(client, defs)? {
        if let Some((ix, table)) = indexes.remove(&text(&r, 0)) {
            let def = text(&r, 1);
            out.indexes.insert(
                ix,
                LiveIndex {
                    table,
                    valid: true,
                    definition: definition(&def),
                    sql: def,
                    constraint: false,
                },
            );
        }
    }
    Ok(out)
}

/// For each declared comment, the comment its object has now (`None`: no such object). Each
/// declared target is given a marked comment, which names its object in `pg_description`;
/// that object's comment before the marks is its answer.
fn probe_comments(
    client: &mut Client,
    model: &Model,
) -> Result<Vec<Option<Option<String>>>, postgres::Error> {
    let mut out = vec![None; model.comments.len()];
    if model.comments.is_empty() {
        return Ok(out);
    }
    client.batch_execute(
        "CREATE TEMP TABLE probe_comments AS \
         SELECT classoid, objoid, objsubid, description FROM pg_description",
    )?;
    let marks: Vec<String> = model
        .comments
        .iter()
        .enumerate()
        .map(|(i, c)| format!("COMMENT ON {} IS '{COMMENT_MARK}{i}'", c.target))
        .collect();
    // All at once (one round trip); one by one only when the server refuses one.
    if !attempt(client, &marks.join(";\n"))? {
        for sql in &marks {
            attempt(client, sql)?;
        }
    }
    let read = format!(
        "SELECT substr(d.description, {}), o.objoid IS NOT NULL, o.description \
         FROM pg_description d LEFT JOIN probe_comments o USING (classoid, objoid, objsubid) \
         WHERE d.description LIKE '{COMMENT_MARK}%'",
        COMMENT_MARK.len() + 1
    );
    for r in rows(client, &read)? {
        if let Some(slot) = text(&r, 0)
            .parse::<usize>()
            .ok()
            .and_then(|i| out.get_mut(i))
        {
            *slot = Some(truth(&r, 1).then(|| text(&r, 2)));
        }
    }
    Ok(out)
}

/// The comment a probe gives a declared comment's object, followed by its number.
const COMMENT_MARK: &str = "migrate-entrypoint probe ";

/// Runs `sql` under a savepoint: false (and rolled back to it) when the server refuses it.
/// A lost connection is an error.
fn attempt(client: &mut Client, sql: &str) -> Result<bool, postgres::Error> {
    client.batch_execute("SAVEPOINT probe")?;
    match client.batch_execute(sql) {
        Ok(()) => {
            client.batch_execute("RELEASE SAVEPOINT probe")?;
            Ok(true)
        }
        Err(e) if e.as_db_error().is_some() => {
            tracing::debug!("probe refused: {e}: {sql}");
            client.batch_execute("ROLLBACK TO SAVEPOINT probe")?;
            Ok(false)
        }
        Err(e) => Err(e),
    }
}
