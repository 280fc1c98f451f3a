//! The outbox: events written in the transaction of the change they
//! describe, and the webhook deliveries they fan out to.

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
    if db.get_database_backend() == DbBackend::Postgres {
        // One writer of the account's events at a time: sequence numbers are
        // taken in commit order, so a reader never sees 7 before 6 commits.
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM accounts WHERE id = $1 FOR UPDATE",
            [account.into()],
        ))
        .await?;
    }
    // Two statements whatever the endpoints: the event numbered from the
    // account's last one, then its deliveries (endpoint types are stored
    // comma-joined: `,types,` contains `,kind,` when subscribed).
    let (insert, fan_out) = match db.get_database_backend() {
        DbBackend::Postgres => (
            "INSERT INTO events (id, account_id, account_seq, type, subject, occurred_at, payload) \
             SELECT $1, $2, COALESCE(MAX(account_seq), 0) + 1, $3, $4, $5, $6 FROM events WHERE account_id = $2 RETURNING seq",
            "INSERT INTO webhook_deliveries (endpoint_id, event_seq, status, attempts, next_attempt_at) \
             SELECT id, $1, 'pending', 0, $2 FROM webhook_endpoints \
             WHERE account_id = $3 AND enabled = TRUE AND (types = '' OR strpos(',' || types || ',', $4) > 0)",
        ),
        _ => (
            "INSERT INTO events (id, account_id, account_seq, type, subject, occurred_at, payload) \
             SELECT ?1, ?2, COALESCE(MAX(account_seq), 0) + 1, ?3, ?4, ?5, ?6 FROM events WHERE account_id = ?2 RETURNING seq",
            "INSERT INTO webhook_deliveries (endpoint_id, event_seq, status, attempts, next_attempt_at) \
             SELECT id, ?1, 'pending', 0, ?2 FROM webhook_endpoints \
             WHERE account_id = ?3 AND enabled = TRUE AND (types = '' OR instr(',' || types || ',', ?4) > 0)",
        ),
    };
    let backend = db.get_database_backend();
    let now = now_ms();
    let id = format!("evt_{}", uuid::Uuid::now_v7().simple());
    let values: Vec<sea_orm::Value> = vec![
        id.into(),
        account.into(),
        kind.into(),
        subject.into(),
        now.into(),
        payload.to_string().into(),
    ];
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, insert, values))
        .await?
        .ok_or_else(|| DbErr::RecordNotInserted)?;
    let seq: i64 = row.try_get("", "seq")?;
    let values: Vec<sea_orm::Value> = vec![
        seq.into(),
        now.into(),
        account.into(),
        format!(",{kind},").into(),
    ];
    db.execute_raw(Statement::from_sql_and_values(backend, fan_out, values))
        .await?;
    Ok(())
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
pub async fn sweep<C: ConnectionTrait>(db: &C, retention_ms: i64) -> Result<u64, DbErr> {
    Ok(event::Entity::delete_many()
        .filter(event::Column::OccurredAt.lt(now_ms() - retention_ms))
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
