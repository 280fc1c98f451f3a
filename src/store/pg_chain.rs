//! PostgreSQL: a write's independent inserts as one statement of
//! data-modifying CTEs, so they cost one round trip instead of one each.
//!
//! Why: a group commit of creates was seven round trips (BEGIN, the
//! account's lock, users, audit, change log, events, COMMIT) at about 0.7 ms
//! each on two cores, while the cores sat 29% idle (issue 14's profile).
//! Chained, it is four: BEGIN, the lock, one statement, COMMIT.
//!
//! What may be chained: the parts of one statement all see the snapshot
//! taken when it starts, not one another's rows, so only writes that do not
//! read what another part writes go together:
//! - plain inserts (`INSERT INTO t (…) VALUES ($1, …), …`: no select, no
//!   conflict clause), which read nothing;
//! - at most one event statement ([`super::events`]), which reads `events`
//!   and `webhook_endpoints`, and so never beside a plain insert into those.
//!
//! Everything else (the account's lock, whose wait must come before the
//! snapshot that numbers events; guards, whose row counts are checked one by
//! one; updates and deletes) runs as its own statement, in order.
//! Foreign keys still hold: PostgreSQL checks them when the whole statement
//! ends, after every part has written.

use sea_orm::{DbBackend, Statement, Value};

use super::batch::PG_VALUES_MAX as VALUES_MAX;

/// What a statement is, as far as chaining goes.
enum Kind<'a> {
    /// A plain insert into this table.
    Insert(&'a str),
    /// An event statement: a `WITH` query reading these tables.
    Events(&'static [&'static str]),
    Other,
}

fn kind(sql: &str) -> Kind<'_> {
    if let Some(reads) = super::events::reads_pg(sql) {
        return Kind::Events(reads);
    }
    match plain_insert_table(sql) {
        Some(t) => Kind::Insert(t),
        None => Kind::Other,
    }
}

/// The statements, in order, with each run of chainable ones made one.
pub fn chained(statements: Vec<Statement>) -> Vec<Statement> {
    let mut out = Vec::with_capacity(statements.len());
    let mut run = Run::default();
    for st in statements {
        let values = st.values.as_ref().map_or(0, |v| v.0.len());
        if run.values + values > VALUES_MAX {
            run.flush(&mut out);
        }
        match kind(&st.sql) {
            Kind::Insert(table) => {
                if run.reads.contains(&table) {
                    run.flush(&mut out);
                }
                run.tables.push(table.to_owned());
                run.inserts.push(st);
            }
            Kind::Events(reads) => {
                if run.events.is_some() || run.tables.iter().any(|t| reads.contains(&t.as_str())) {
                    run.flush(&mut out);
                }
                run.reads = reads;
                run.events = Some(st);
            }
            Kind::Other => {
                run.flush(&mut out);
                out.push(st);
                continue;
            }
        }
        run.values += values;
    }
    run.flush(&mut out);
    out
}

/// Chainable statements gathered so far.
#[derive(Default)]
struct Run {
    inserts: Vec<Statement>,
    /// The tables `inserts` write.
    tables: Vec<String>,
    events: Option<Statement>,
    /// The tables `events` reads.
    reads: &'static [&'static str],
    values: usize,
}

impl Run {
    fn flush(&mut self, out: &mut Vec<Statement>) {
        let run = std::mem::take(self);
        let mut parts = run.inserts;
        parts.extend(run.events);
        if parts.len() < 2 {
            out.extend(parts);
            return;
        }
        out.push(chain(parts));
    }
}

/// `parts` as one statement: all but the last as CTEs, the last as the main
/// query (its own `WITH` list, if it has one, continues the list).
fn chain(parts: Vec<Statement>) -> Statement {
    let mut sql = String::from("WITH ");
    let mut values: Vec<Value> = Vec::new();
    let last = parts.len() - 1;
    for (i, st) in parts.into_iter().enumerate() {
        let offset = values.len();
        let text = renumbered(&st.sql, offset);
        if i < last {
            sql.push_str(&format!("chained_{i} AS ({text}), "));
        } else if let Some(rest) = text.strip_prefix("WITH ") {
            sql.push_str(rest);
        } else {
            // Trim the ", " a CTE list ends with before the main query.
            sql.truncate(sql.len() - 2);
            sql.push(' ');
            sql.push_str(&text);
        }
        values.extend(st.values.map(|v| v.0).unwrap_or_default());
    }
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// `sql` with every placeholder `$n` made `$(n + offset)`; string literals
/// are left alone.
fn renumbered(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            // A doubled quote inside a literal closes and reopens it: the
            // same toggling keeps it inside.
            quoted = !quoted;
            out.push(c);
            continue;
        }
        if c != '$' || quoted || !chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push(c);
            continue;
        }
        let mut n = 0usize;
        while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
            n = n * 10 + d as usize;
            chars.next();
        }
        out.push('$');
        out.push_str(&(n + offset).to_string());
    }
    out
}

/// The table of `INSERT INTO t (cols) VALUES ($1, …), ($k, …)` and nothing
/// else (no select, no literal, no conflict or returning clause).
fn plain_insert_table(sql: &str) -> Option<&str> {
    let rest = sql.strip_prefix("INSERT INTO ")?;
    let (table, rest) = rest.split_once(" (")?;
    let table = table.trim_matches('"');
    if table.is_empty() || !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let (columns, rows) = rest.split_once(") VALUES ")?;
    if columns.contains(['(', ')', '\'', '$']) {
        return None;
    }
    for (i, row) in rows.split("), (").enumerate() {
        let row = if i == 0 { row.strip_prefix('(')? } else { row };
        let row = row.strip_suffix(')').unwrap_or(row);
        for p in row.split(", ") {
            let digits = p.strip_prefix('$')?;
            if digits.is_empty() || !digits.chars().all(|d| d.is_ascii_digit()) {
                return None;
            }
        }
    }
    rows.ends_with(')').then_some(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }

    fn vals(st: &Statement) -> Vec<Value> {
        st.values.clone().map(|v| v.0).unwrap_or_default()
    }

    #[test]
    fn plain_inserts_are_told_from_the_rest() {
        for (sql, table) in [
            (
                r#"INSERT INTO "users" ("id", "name") VALUES ($1, $2)"#,
                "users",
            ),
            (r#"INSERT INTO "t" ("a") VALUES ($1), ($2), ($3)"#, "t"),
            (
                "INSERT INTO audit_events (a, b) VALUES ($3, $4)",
                "audit_events",
            ),
        ] {
            assert_eq!(plain_insert_table(sql), Some(table), "{sql}");
        }
        for sql in [
            r#"INSERT INTO "t" ("a") VALUES ($1) ON CONFLICT DO NOTHING"#,
            r#"INSERT INTO "t" ("a") VALUES ($1) RETURNING "id""#,
            r#"INSERT INTO "t" ("a", "b") VALUES ($1, 'x')"#,
            r#"INSERT INTO "t" ("a") SELECT $1"#,
            "INSERT INTO group_members (group_id, user_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
            r#"INSERT INTO "t" ("a") VALUES ($1), ($2) ON CONFLICT DO NOTHING"#,
            r#"UPDATE "t" SET "a" = $1"#,
            "SELECT id FROM accounts WHERE id = $1 FOR UPDATE",
        ] {
            assert_eq!(plain_insert_table(sql), None, "{sql}");
        }
    }

    #[test]
    fn placeholders_are_renumbered_outside_literals() {
        assert_eq!(
            renumbered("SELECT $1, '$2', 'it''s $3', $10 || '$'", 5),
            "SELECT $6, '$2', 'it''s $3', $15 || '$'"
        );
        assert_eq!(renumbered("SELECT $1", 0), "SELECT $1");
    }

    const LOCK: &str = "SELECT id FROM accounts WHERE id = $1 FOR UPDATE";

    #[test]
    fn a_create_is_its_lock_and_one_statement() {
        let events = super::super::events::PUSH_PG;
        let statements = vec![
            pg(LOCK, vec!["acct".into()]),
            pg(
                r#"INSERT INTO "users" ("id", "n") VALUES ($1, $2)"#,
                vec!["u1".into(), "a".into()],
            ),
            pg(
                r#"INSERT INTO "audit_events" ("x") VALUES ($1)"#,
                vec!["audit".into()],
            ),
            pg(
                events,
                (0..6).map(|i| Value::from(format!("e{i}"))).collect(),
            ),
            pg(
                r#"INSERT INTO "user_roles" ("u", "r") VALUES ($1, $2)"#,
                vec!["u1".into(), "r".into()],
            ),
        ];
        let out = chained(statements);
        assert_eq!(out.len(), 2, "{out:#?}");
        assert_eq!(out[0].sql, LOCK);
        let sql = &out[1].sql;
        assert!(
            sql.starts_with(
                r#"WITH chained_0 AS (INSERT INTO "users" ("id", "n") VALUES ($1, $2)), chained_1 AS (INSERT INTO "audit_events" ("x") VALUES ($3)), chained_2 AS (INSERT INTO "user_roles" ("u", "r") VALUES ($4, $5)), e AS (INSERT INTO events"#
            ),
            "{sql}"
        );
        // The event's own placeholders follow the inserts'.
        assert!(sql.contains("SELECT $6, $7, COALESCE"), "{sql}");
        assert!(sql.contains("WHERE account_id = $7"), "{sql}");
        assert!(!sql.contains("$12"), "{sql}");
        let mut want: Vec<Value> = vec![
            "u1".into(),
            "a".into(),
            "audit".into(),
            "u1".into(),
            "r".into(),
        ];
        want.extend((0..6).map(|i| Value::from(format!("e{i}"))));
        assert_eq!(vals(&out[1]), want);
    }

    #[test]
    fn what_reads_or_is_read_by_a_neighbour_stays_apart() {
        let events = super::super::events::PUSH_PG;
        let ev = || pg(events, (0..6).map(|i| Value::from(i as i64)).collect());
        let endpoint = || {
            pg(
                r#"INSERT INTO "webhook_endpoints" ("id") VALUES ($1)"#,
                vec!["w".into()],
            )
        };
        let audit = || {
            pg(
                r#"INSERT INTO "audit_events" ("x") VALUES ($1)"#,
                vec!["a".into()],
            )
        };
        let update = || pg(r#"UPDATE "users" SET "a" = $1"#, vec!["x".into()]);
        // A new endpoint must be seen by the event's fan-out: apart.
        let out = chained(vec![endpoint(), ev()]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].sql, events);
        // And after it too: an event beside a later endpoint insert.
        let out = chained(vec![audit(), ev(), endpoint()]);
        assert_eq!(out.len(), 2);
        assert!(out[0]
            .sql
            .starts_with("WITH chained_0 AS (INSERT INTO \"audit_events\""));
        assert!(out[1].sql.starts_with("INSERT INTO \"webhook_endpoints\""));
        // Two events number from the same snapshot: apart.
        let out = chained(vec![ev(), ev()]);
        assert_eq!(out.len(), 2);
        // Anything else ends a run and keeps its place.
        let out = chained(vec![audit(), update(), audit(), audit()]);
        let sql: Vec<&str> = out.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            sql,
            [
                r#"INSERT INTO "audit_events" ("x") VALUES ($1)"#,
                r#"UPDATE "users" SET "a" = $1"#,
                r#"WITH chained_0 AS (INSERT INTO "audit_events" ("x") VALUES ($1)) INSERT INTO "audit_events" ("x") VALUES ($2)"#,
            ]
        );
    }

    #[test]
    fn a_run_stops_short_of_the_values_limit() {
        let wide = |n: usize| {
            let row: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
            let cols: Vec<String> = (1..=n).map(|i| format!("c{i}")).collect();
            pg(
                &format!(
                    "INSERT INTO t ({}) VALUES ({})",
                    cols.join(", "),
                    row.join(", ")
                ),
                (0..n).map(|i| Value::from(i as i64)).collect(),
            )
        };
        let out = chained(vec![wide(40_000), wide(30_000), wide(20_000)]);
        let sizes: Vec<usize> = out.iter().map(|s| vals(s).len()).collect();
        assert_eq!(sizes, [40_000, 50_000]);
    }

    /// The shapes above, run on a real PostgreSQL: dependent rows (a role of
    /// the user inserted beside it), the event's numbering and fan-out, and
    /// a duplicate's error, as the writes' one-by-one statements gave them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_runs_chained_writes_as_it_ran_them_one_by_one() {
        use crate::store::batch::Batch;
        use sea_orm::{ConnectionTrait, DbErr, TransactionTrait};
        let (admin, db, name) = crate::store::test_pg::fresh("chain").await;
        let (acct, _) = crate::store::accounts::create(&db, "Acme", "admin@acme.test")
            .await
            .unwrap();
        let user = |id: &str, name: &str| {
            pg(
                r#"INSERT INTO "users" ("id", "account_id", "user_name", "user_name_norm", "origin", "active", "attributes", "created_at", "updated_at") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"#,
                vec![
                    id.into(),
                    acct.id.clone().into(),
                    name.into(),
                    name.to_lowercase().into(),
                    "scim".into(),
                    true.into(),
                    "{}".into(),
                    1i64.into(),
                    1i64.into(),
                ],
            )
        };
        let role = |id: &str| {
            pg(
                r#"INSERT INTO "user_roles" ("user_id", "role_ref") VALUES ($1, $2)"#,
                vec![id.into(), "builtin:standard-user".into()],
            )
        };
        let endpoint = pg(
            r#"INSERT INTO "webhook_endpoints" ("id", "account_id", "url", "secret", "created_at") VALUES ($1, $2, $3, $4, $5)"#,
            vec![
                "wh1".into(),
                acct.id.clone().into(),
                "https://hooks.test/".into(),
                "s".into(),
                1i64.into(),
            ],
        );
        let create = |id: &str, name: &str, with_endpoint: bool| {
            let mut b = Batch::new(DbBackend::Postgres);
            if with_endpoint {
                b.push(endpoint.clone());
            }
            b.push(user(id, name));
            b.push(role(id));
            crate::store::audit::push(
                &mut b,
                crate::store::audit::Event::new(Some(&acct.id), "test", "chain.test", id),
            );
            crate::store::events::push(&mut b, &acct.id, "user.created", id, serde_json::json!({}));
            b
        };
        let run = |b: Batch| {
            let db = db.clone();
            async move {
                let txn = db.begin().await?;
                b.run(&txn).await?;
                txn.commit().await
            }
        };
        // The lock, then the rest as one (the endpoint kept apart from the
        // event that must see it).
        let first = create("u1", "Ann", true);
        assert_eq!(chained(first.statements().to_vec()).len(), 3);
        assert_eq!(
            chained(create("u2", "Bob", false).statements().to_vec()).len(),
            2
        );
        run(first).await.unwrap();
        run(create("u2", "Bob", false)).await.unwrap();
        // A duplicate userName (ignoring case) is still the write's own
        // error, and nothing of it is kept.
        let err: DbErr = run(create("u3", "ANN", false)).await.unwrap_err();
        assert!(crate::store::is_unique_violation(&err), "{err}");
        let q = |sql: &str| {
            let db = db.clone();
            let sql = sql.to_owned();
            let acct = acct.id.clone();
            async move {
                db.query_all_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    sql,
                    [acct.into()],
                ))
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get_by_index::<String>(0).unwrap())
                .collect::<Vec<String>>()
            }
        };
        assert_eq!(
            q("SELECT r.user_id FROM user_roles r JOIN users u ON u.id = r.user_id WHERE u.account_id = $1 AND r.role_ref = 'builtin:standard-user' ORDER BY 1").await,
            ["u1", "u2"]
        );
        assert_eq!(
            q("SELECT target FROM audit_events WHERE account_id = $1 AND action = 'chain.test' ORDER BY id").await,
            ["u1", "u2"]
        );
        // Numbered on from the account's events, in order; each delivered
        // to the endpoint, the first one included.
        assert_eq!(
            q("SELECT subject || ':' || (account_seq - (SELECT MIN(account_seq) FROM events WHERE account_id = $1 AND type = 'user.created'))::text \
               FROM events WHERE account_id = $1 AND type = 'user.created' ORDER BY account_seq").await,
            ["u1:0", "u2:1"]
        );
        assert_eq!(
            q("SELECT e.subject FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq WHERE e.account_id = $1 AND e.type = 'user.created' ORDER BY e.seq").await,
            ["u1", "u2"]
        );
        crate::store::test_pg::drop(admin, db, &name).await;
    }
}
