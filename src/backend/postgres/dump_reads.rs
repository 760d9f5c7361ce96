//! What `schema dump` reads beyond the declared schema's comparison: the live schema read with
//! an empty search path, and the definitions only the dump writes (sequences' options,
//! functions, views, triggers, row level security, policies, partitions, aggregates,
//! statistics objects, rules, publications, comments, event triggers), and what it cannot
//! write yet.

use postgres::Client;

use super::introspect::{USER, extension_member, live, name, rows, text, truth};
use crate::schema::model::{DumpExtras, Live, quoted};

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
    // Each with whether it is on an event trigger (written after them).
    let comments = "SELECT o.type = 'event trigger', 'COMMENT ON ' || CASE \
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
              AND e.objid = d.objoid AND e.deptype = 'e') \
         ORDER BY d.classoid, d.objoid, d.objsubid";
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
    for sql in [&statistics, &rules, publications] {
        for r in rows(client, sql)? {
            d.late_defs.push(text(&r, 0));
        }
    }
    let (on_event_triggers, on_the_rest): (Vec<_>, Vec<_>) = rows(client, comments)?
        .into_iter()
        .partition(|r| truth(r, 0));
    d.late_defs.extend(on_the_rest.iter().map(|r| text(r, 1)));
    for r in rows(client, &event_triggers)? {
        d.late_defs.push(text(&r, 0));
    }
    d.late_defs
        .extend(on_event_triggers.iter().map(|r| text(r, 1)));
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
