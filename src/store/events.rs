//! The outbox: events written in the transaction of the change they
//! describe, and the webhook deliveries they fan out to.

use super::entities::{event, webhook_delivery, webhook_endpoint};
use super::now_ms;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use serde_json::Value;

pub use event::Model as Event;
pub use webhook_endpoint::Model as Endpoint;

/// Whether an endpoint subscribed to this type (no list: every type).
pub fn wants(types: &str, kind: &str) -> bool {
    let types = types.trim();
    types.is_empty() || types.split(',').map(str::trim).any(|t| t == kind)
}

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
    let last = event::Entity::find()
        .filter(event::Column::AccountId.eq(account))
        .order_by_desc(event::Column::AccountSeq)
        .one(db)
        .await?
        .map_or(0, |e| e.account_seq);
    let row = event::ActiveModel {
        id: Set(format!("evt_{}", uuid::Uuid::now_v7().simple())),
        account_id: Set(account.into()),
        account_seq: Set(last + 1),
        r#type: Set(kind.into()),
        subject: Set(subject.into()),
        occurred_at: Set(now_ms()),
        payload: Set(payload.to_string()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::AccountId.eq(account))
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .all(db)
        .await?;
    for ep in endpoints.iter().filter(|e| wants(&e.types, kind)) {
        webhook_delivery::ActiveModel {
            endpoint_id: Set(ep.id.clone()),
            event_seq: Set(row.seq),
            status: Set("pending".into()),
            attempts: Set(0),
            next_attempt_at: Set(now_ms()),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
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
