//! The outbox: events written in the transaction of the change they
//! describe, and the webhook deliveries they fan out to.

use super::batch::Batch;
use super::entities::{event, webhook_endpoint};
use super::now_ms;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use serde_json::Value;

pub use event::Model as Event;
pub use webhook_endpoint::Model as Endpoint;

/// Records an event for `account` in the caller's transaction, with its
/// next per-account sequence number and a pending delivery for every
/// enabled endpoint that wants it.
pub async fn emit<C: ConnectionTrait>(
    db: &C,
    account: &str,
    kind: &str,
    subject: &str,
    payload: Value,
) -> Result<(), DbErr> {
    let mut b = Batch::new(db.get_database_backend());
    push(&mut b, account, kind, subject, payload);
    b.run(db).await
}

/// One event and its deliveries on PostgreSQL, in one statement: the
/// deliveries are fanned out from the inserted row itself (each statement
/// is a round trip there). Values: id, account, type, subject, time, payload.
pub(super) const PUSH_PG: &str =
    "WITH e AS (INSERT INTO events (id, account_id, account_seq, type, subject, occurred_at, payload) \
     SELECT $1, $2, COALESCE(MAX(account_seq), 0) + 1, $3, $4, $5, $6 FROM events WHERE account_id = $2 \
     RETURNING seq, account_id, type, occurred_at) \
     INSERT INTO webhook_deliveries (endpoint_id, event_seq, status, attempts, next_attempt_at) \
     SELECT w.id, e.seq, 'pending', 0, e.occurred_at FROM e JOIN webhook_endpoints w ON w.account_id = e.account_id \
     WHERE w.enabled = TRUE AND (w.types = '' OR strpos(',' || w.types || ',', ',' || e.type || ',') > 0)";

/// How a merged event statement ([`merge_pg`]) starts.
const MERGED_PG_HEAD: &str =
    "WITH m AS (SELECT COALESCE(MAX(account_seq), 0) AS last FROM events WHERE account_id = $1), e AS (INSERT INTO events ";

/// The tables a PostgreSQL event statement reads, if `sql` is one: the
/// account's last event (its number) and the endpoints it fans out to.
pub(super) fn reads_pg(sql: &str) -> Option<&'static [&'static str]> {
    const READS: &[&str] = &["events", "webhook_endpoints"];
    (sql == PUSH_PG || sql.starts_with(MERGED_PG_HEAD)).then_some(READS)
}

/// Events of [`PUSH_PG`] statements (of independent writes, in this order)
/// as one statement per account: numbered on from the account's last event
/// in the order given, their deliveries fanned out from the inserted rows.
pub(super) fn merge_pg(pushes: Vec<Statement>) -> Vec<Statement> {
    const ROWS: usize = 500;
    let mut by_account: Vec<(sea_orm::Value, Vec<Vec<sea_orm::Value>>)> = Vec::new();
    let mut out = Vec::new();
    for st in pushes {
        let v = match &st.values {
            Some(v) if v.0.len() == 6 => v.0.clone(),
            // Not the statement this merges: run as it is.
            _ => {
                out.push(st);
                continue;
            }
        };
        let account = v.get(1).cloned().unwrap_or(sea_orm::Value::String(None));
        match by_account.iter_mut().find(|(a, _)| *a == account) {
            Some((_, rows)) => rows.push(v),
            None => by_account.push((account, vec![v])),
        }
    }
    for (account, rows) in by_account {
        for chunk in rows.chunks(ROWS) {
            let mut p = Params::new(DbBackend::Postgres);
            let acct = p.next(account.clone());
            let mut tuples = Vec::with_capacity(chunk.len());
            for (n, v) in chunk.iter().enumerate() {
                // id, account, type, subject, time, payload
                let at = |i: usize| v.get(i).cloned().unwrap_or(sea_orm::Value::String(None));
                let row = [
                    p.next(at(0)),
                    (n + 1).to_string(),
                    p.next(at(2)),
                    p.next(at(3)),
                    format!("{}::BIGINT", p.next(at(4))),
                    p.next(at(5)),
                ];
                tuples.push(format!("({})", row.join(", ")));
            }
            out.push(p.statement(format!(
                "WITH m AS (SELECT COALESCE(MAX(account_seq), 0) AS last FROM events WHERE account_id = {acct}), \
                 e AS (INSERT INTO events (id, account_id, account_seq, type, subject, occurred_at, payload) \
                 SELECT v.id, {acct}, m.last + v.n, v.type, v.subject, v.at, v.payload \
                 FROM m, (VALUES {}) AS v(id, n, type, subject, at, payload) ORDER BY v.n \
                 RETURNING seq, account_id, type, occurred_at) \
                 INSERT INTO webhook_deliveries (endpoint_id, event_seq, status, attempts, next_attempt_at) \
                 SELECT w.id, e.seq, 'pending', 0, e.occurred_at FROM e JOIN webhook_endpoints w ON w.account_id = e.account_id \
                 WHERE w.enabled = TRUE AND (w.types = '' OR strpos(',' || w.types || ',', ',' || e.type || ',') > 0) \
                 ORDER BY e.seq",
                tuples.join(", ")
            )));
        }
    }
    out
}

/// Adds an event and its deliveries to a batch the caller runs in its
/// transaction: a fixed number of statements whatever the endpoints.
pub fn push(b: &mut Batch, account: &str, kind: &str, subject: &str, payload: Value) {
    let backend = b.backend();
    if backend == DbBackend::Postgres {
        // One writer of the account's events at a time: sequence numbers are
        // taken in commit order, so a reader never sees 7 before 6 commits.
        // First in the batch: locked after the batch's other rows, two
        // writes could each wait on what the other holds.
        b.push_front(Statement::from_sql_and_values(
            backend,
            "SELECT id FROM accounts WHERE id = $1 FOR UPDATE",
            [account.into()],
        ));
    }
    // The event, numbered from the account's last one; then its deliveries,
    // found by the event's id (endpoint types are stored comma-joined:
    // `,types,` contains `,kind,` when subscribed). Plain `?` on SQLite: a
    // batch binds its values in order across statements.
    let (insert, fan_out) = match backend {
        // One statement: the deliveries are fanned out from the inserted
        // row itself (each statement is a round trip on PostgreSQL).
        DbBackend::Postgres => (PUSH_PG, ""),
        _ => (
            "INSERT INTO events (id, account_id, account_seq, type, subject, occurred_at, payload) \
             SELECT ?, ?, COALESCE(MAX(account_seq), 0) + 1, ?, ?, ?, ? FROM events WHERE account_id = ?",
            "INSERT INTO webhook_deliveries (endpoint_id, event_seq, status, attempts, next_attempt_at) \
             SELECT w.id, e.seq, 'pending', 0, e.occurred_at FROM events e JOIN webhook_endpoints w ON w.account_id = e.account_id \
             WHERE e.id = ? AND w.enabled = 1 AND (w.types = '' OR instr(',' || w.types || ',', ',' || e.type || ',') > 0)",
        ),
    };
    let id = format!("evt_{}", uuid::Uuid::now_v7().simple());
    let mut values: Vec<sea_orm::Value> = vec![
        id.clone().into(),
        account.into(),
        kind.into(),
        subject.into(),
        now_ms().into(),
        payload.to_string().into(),
    ];
    if backend != DbBackend::Postgres {
        values.push(account.into());
    }
    b.push(Statement::from_sql_and_values(backend, insert, values));
    if !fan_out.is_empty() {
        b.push(Statement::from_sql_and_values(
            backend,
            fan_out,
            [id.into()],
        ));
    }
}

/// Adds many events of one account to a batch (a big membership change):
/// one insert per chunk of rows, numbered on from the account's last event
/// in the order given, and one fan-out per chunk; not one pair of
/// statements per event.
pub fn push_many(b: &mut Batch, account: &str, events: Vec<(&str, &str, Value)>) {
    const ROWS: usize = 500;
    let backend = b.backend();
    if events.is_empty() {
        return;
    }
    if backend == DbBackend::Postgres {
        b.push_front(Statement::from_sql_and_values(
            backend,
            "SELECT id FROM accounts WHERE id = $1 FOR UPDATE",
            [account.into()],
        ));
    }
    let now = now_ms();
    let mut rest = events.into_iter().peekable();
    while rest.peek().is_some() {
        let chunk: Vec<_> = rest.by_ref().take(ROWS).collect();
        // Each chunk numbers on from what the previous one inserted.
        let mut done = 0i64;
        let mut p = Params::new(backend);
        let (acct, at, acct2) = (p.next(account), p.next(now), p.next(account));
        let mut rows = Vec::with_capacity(chunk.len());
        let mut ids = Vec::with_capacity(chunk.len());
        for (kind, subject, payload) in chunk {
            done += 1;
            let id = format!("evt_{}", uuid::Uuid::now_v7().simple());
            ids.push(id.clone());
            let row = [
                p.next(id),
                p.next(done),
                p.next(kind),
                p.next(subject),
                p.next(payload.to_string()),
            ];
            rows.push(format!("({})", row.join(", ")));
        }
        let insert = format!(
            "INSERT INTO events (id, account_id, account_seq, type, subject, occurred_at, payload) \
             SELECT v.column1, {acct}, m.last + v.column2, v.column3, v.column4, {at}, v.column5 \
             FROM (SELECT COALESCE(MAX(account_seq), 0) AS last FROM events WHERE account_id = {acct2}) m, \
             (VALUES {}) v ORDER BY v.column2",
            rows.join(", ")
        );
        b.push(p.statement(insert));
        let mut p = Params::new(backend);
        let list: Vec<String> = ids.into_iter().map(|id| p.next(id)).collect();
        let (enabled, contains) = match backend {
            DbBackend::Postgres => ("TRUE", "strpos"),
            _ => ("1", "instr"),
        };
        let fan_out = format!(
            "INSERT INTO webhook_deliveries (endpoint_id, event_seq, status, attempts, next_attempt_at) \
             SELECT w.id, e.seq, 'pending', 0, e.occurred_at FROM events e JOIN webhook_endpoints w ON w.account_id = e.account_id \
             WHERE e.id IN ({}) AND w.enabled = {enabled} AND (w.types = '' OR {contains}(',' || w.types || ',', ',' || e.type || ',') > 0) \
             ORDER BY e.seq",
            list.join(", ")
        );
        b.push(p.statement(fan_out));
    }
}

/// Placeholders in the backend's style, with their values in order.
struct Params {
    backend: DbBackend,
    values: Vec<sea_orm::Value>,
}

impl Params {
    fn new(backend: DbBackend) -> Self {
        Params {
            backend,
            values: Vec::new(),
        }
    }
    fn next(&mut self, v: impl Into<sea_orm::Value>) -> String {
        self.values.push(v.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".into(),
        }
    }
    fn statement(self, sql: String) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, self.values)
    }
}

pub async fn by_seq<C: ConnectionTrait>(db: &C, seq: i64) -> Result<Option<Event>, DbErr> {
    event::Entity::find_by_id(seq).one(db).await
}

/// An account's events after `after` (its sequence number), oldest first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    account: &str,
    after: i64,
    types: &[String],
    limit: u64,
) -> Result<Vec<Event>, DbErr> {
    let mut q = event::Entity::find()
        .filter(event::Column::AccountId.eq(account))
        .filter(event::Column::AccountSeq.gt(after));
    if !types.is_empty() {
        q = q.filter(event::Column::Type.is_in(types.to_vec()));
    }
    q.order_by_asc(event::Column::AccountSeq)
        .limit(limit)
        .all(db)
        .await
}

/// Drops events older than the retention (their deliveries go with them).
/// Events are numbered in time order, so the old ones are a prefix of
/// `seq`: the first young event bounds the delete, found by walking from
/// the oldest (no index on the time; the walk is as long as what goes).
pub async fn sweep<C: ConnectionTrait>(db: &C, retention_ms: i64) -> Result<u64, DbErr> {
    let cutoff = now_ms() - retention_ms;
    let first_young = event::Entity::find()
        .select_only()
        .column(event::Column::Seq)
        .filter(event::Column::OccurredAt.gte(cutoff))
        .order_by_asc(event::Column::Seq)
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or(i64::MAX);
    Ok(event::Entity::delete_many()
        .filter(event::Column::Seq.lt(first_young))
        .filter(event::Column::OccurredAt.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected)
}

/// The JSON an event is delivered and listed as.
pub fn view(e: &Event) -> Value {
    serde_json::json!({
        "id": e.id,
        "seq": e.account_seq,
        "type": e.r#type,
        "account": e.account_id,
        "subject": e.subject,
        "timestamp": super::credentials::iso(e.occurred_at),
        "data": serde_json::from_str::<Value>(&e.payload).unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, DatabaseConnection};

    #[test]
    fn merging_keeps_every_event_and_passes_anything_else_through() {
        let push = |acct: &str, n: i64| {
            let mut b = Batch::new(DbBackend::Postgres);
            push(
                &mut b,
                acct,
                "user.created",
                &format!("u{n}"),
                serde_json::json!({}),
            );
            b
        };
        let odd = Statement::from_sql_and_values(DbBackend::Postgres, PUSH_PG, ["x".into()]);
        let mut stmts: Vec<Statement> = Vec::new();
        for b in [push("a1", 1), push("a2", 2), push("a1", 3)] {
            // The account lock, then the event.
            stmts.extend(b.statements().iter().filter(|s| s.sql == PUSH_PG).cloned());
        }
        stmts.push(odd.clone());
        let out = merge_pg(stmts);
        // The odd one as it was; one statement per account, rows in order.
        assert_eq!(out.len(), 3, "{out:?}");
        assert!(reads_pg(&out[1].sql).is_some(), "{}", out[1].sql);
        assert!(reads_pg(&out[2].sql).is_some(), "{}", out[2].sql);
        assert_eq!(out[0].values, odd.values);
        let subjects = |st: &Statement| -> Vec<sea_orm::Value> {
            st.values
                .clone()
                .unwrap()
                .0
                .into_iter()
                .filter(|v| matches!(v, sea_orm::Value::String(Some(s)) if s.len() == 2 && s.starts_with('u')))
                .collect()
        };
        assert_eq!(subjects(&out[1]), vec!["u1".into(), "u3".into()]);
        assert_eq!(subjects(&out[2]), vec!["u2".into()]);
    }

    /// A migrated in-memory database with one account.
    async fn account() -> (DatabaseConnection, crate::store::entities::account::Model) {
        let db = crate::store::connect("sqlite::memory:").await.unwrap();
        crate::store::migrate(&db).await.unwrap();
        let (acct, _) = crate::store::accounts::create(&db, "Acme", "admin@acme.test")
            .await
            .unwrap();
        (db, acct)
    }

    #[tokio::test]
    async fn sweep_drops_the_old_prefix_and_keeps_the_rest() {
        let (db, acct) = account().await;
        for i in 0..6 {
            emit(&db, &acct.id, "user.created", &format!("u{i}"), Value::Null)
                .await
                .unwrap();
        }
        let day = 86_400_000;
        // The first three are 40 days old, the others fresh.
        db.execute_unprepared(&format!(
            "UPDATE events SET occurred_at = occurred_at - {} WHERE account_seq <= 3",
            40 * day
        ))
        .await
        .unwrap();
        assert_eq!(sweep(&db, 30 * day).await.unwrap(), 3);
        let left: Vec<i64> = list(&db, &acct.id, 0, &[], 100)
            .await
            .unwrap()
            .iter()
            .map(|e| e.account_seq)
            .collect();
        assert_eq!(left, vec![4, 5, 6]);
        // Nothing young left: everything old goes.
        assert_eq!(sweep(&db, -day).await.unwrap(), 3);
        assert!(list(&db, &acct.id, 0, &[], 100).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn many_events_are_numbered_in_order_across_chunks() {
        let (db, acct) = account().await;
        emit(&db, &acct.id, "group.renamed", "g", Value::Null)
            .await
            .unwrap();
        let subjects: Vec<String> = (0..1201).map(|i| format!("u{i}")).collect();
        let many = subjects
            .iter()
            .map(|s| {
                (
                    "group.member_added",
                    s.as_str(),
                    serde_json::json!({"user": s}),
                )
            })
            .collect();
        let mut b = Batch::new(db.get_database_backend());
        push_many(&mut b, &acct.id, many);
        b.run(&db).await.unwrap();
        let all = list(&db, &acct.id, 1, &[], 2000).await.unwrap();
        assert_eq!(
            all.iter().map(|e| e.account_seq).collect::<Vec<_>>(),
            (2..=1202).collect::<Vec<i64>>()
        );
        assert_eq!(
            all.iter().map(|e| e.subject.clone()).collect::<Vec<_>>(),
            subjects
        );
        // Global order follows the account's order.
        assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    }
}
