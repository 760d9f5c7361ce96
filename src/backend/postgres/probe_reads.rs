//! The probe: the declared tables, indexes, functions, views, triggers, policies and comments
//! built (or marked) in a transaction that is rolled back, and read back through the same
//! catalog queries as the live schema, so that the server describes the declared definitions
//! as it describes the live ones (statements in `schema::probe`).

use postgres::Client;

use super::introspect::{
    ColumnsAs, EVENT_TRIGGER_DEF, FUNCTION_BODY, POLICY_DEF, TRIGGER_DEF, column, columns_where,
    definition, rows, text, trigger_def, truth,
};
use crate::schema::model::{Live, LiveIndex, Model, quoted};
use crate::schema::recognize::OtherKind;
use crate::schema::{Name, probe};

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
    out.event_trigger_defs = probe_event_triggers(client, model, live)?;
    Ok(out)
}

/// Each declared event trigger that is there, made again under another name (last: nothing
/// is made after it; a superuser's statement, else left out), by the declared one's name.
fn probe_event_triggers(
    client: &mut Client,
    model: &Model,
    live: &Live,
) -> Result<std::collections::BTreeMap<String, String>, postgres::Error> {
    let mut made = std::collections::HashMap::new();
    for (i, o) in model.others.iter().enumerate() {
        if o.kind != OtherKind::EventTrigger || !live.event_trigger_defs.contains_key(&o.name.name)
        {
            continue;
        }
        let temp = format!("probe_e{i}");
        if let Some(sql) = probe::event_trigger(&o.sql, &temp)
            && attempt(client, &sql)?
        {
            made.insert(temp, o.name.name.clone());
        }
    }
    let mut out = std::collections::BTreeMap::new();
    if made.is_empty() {
        return Ok(out);
    }
    let defs = format!(
        "SELECT g.evtname, {EVENT_TRIGGER_DEF} FROM pg_event_trigger g \
         WHERE g.evtname LIKE 'probe\\_e%'"
    );
    for r in rows(client, &defs)? {
        if let Some(name) = made.remove(&text(&r, 0)) {
            out.insert(name, text(&r, 1));
        }
    }
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
