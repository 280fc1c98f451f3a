//! Webhook endpoints, their deliveries (one per endpoint and event, written
//! with the event) and the attempts log.

use super::entities::{event, webhook_attempt, webhook_delivery, webhook_endpoint};
use super::now_ms;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};

pub use webhook_attempt::Model as Attempt;
pub use webhook_delivery::Model as Delivery;
pub use webhook_endpoint::Model as Endpoint;

pub async fn endpoints<C: ConnectionTrait>(db: &C, account: &str) -> Result<Vec<Endpoint>, DbErr> {
    webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::AccountId.eq(account))
        .order_by_asc(webhook_endpoint::Column::CreatedAt)
        .all(db)
        .await
}

pub async fn endpoint<C: ConnectionTrait>(
    db: &C,
    account: &str,
    id: &str,
) -> Result<Option<Endpoint>, DbErr> {
    Ok(webhook_endpoint::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .filter(|e| e.account_id == account))
}

pub async fn insert_endpoint<C: ConnectionTrait>(db: &C, e: Endpoint) -> Result<Endpoint, DbErr> {
    e.into_active_model().reset_all().insert(db).await
}

pub async fn update_endpoint<C: ConnectionTrait>(db: &C, e: Endpoint) -> Result<Endpoint, DbErr> {
    e.into_active_model().reset_all().update(db).await
}

pub async fn delete_endpoint<C: ConnectionTrait>(
    db: &C,
    account: &str,
    id: &str,
) -> Result<bool, DbErr> {
    Ok(webhook_endpoint::Entity::delete_many()
        .filter(webhook_endpoint::Column::AccountId.eq(account))
        .filter(webhook_endpoint::Column::Id.eq(id))
        .exec(db)
        .await?
        .rows_affected
        == 1)
}

/// An endpoint's latest deliveries with their events and attempts, newest first.
pub async fn deliveries<C: ConnectionTrait>(
    db: &C,
    endpoint_id: &str,
    limit: u64,
) -> Result<Vec<(Delivery, Option<event::Model>, Vec<Attempt>)>, DbErr> {
    let ds = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id))
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let mut out = Vec::new();
    for d in ds {
        let e = event::Entity::find_by_id(d.event_seq).one(db).await?;
        let attempts = webhook_attempt::Entity::find()
            .filter(webhook_attempt::Column::DeliveryId.eq(d.id))
            .order_by_asc(webhook_attempt::Column::Id)
            .all(db)
            .await?;
        out.push((d, e, attempts));
    }
    Ok(out)
}

/// Puts a delivery back in the queue, to be sent again at once.
pub async fn redeliver<C: ConnectionTrait>(
    db: &C,
    endpoint_id: &str,
    id: i64,
) -> Result<bool, DbErr> {
    let Some(d) = webhook_delivery::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|d| d.endpoint_id == endpoint_id)
    else {
        return Ok(false);
    };
    let mut am = d.into_active_model();
    am.status = Set("pending".into());
    am.next_attempt_at = Set(now_ms());
    am.claimed_until = Set(None);
    am.update(db).await?;
    Ok(true)
}

/// Claims up to `n` due deliveries for `lease_ms`: for each enabled
/// endpoint only the oldest pending one (so an endpoint receives its events
/// in order), none another replica holds (`SKIP LOCKED` on PostgreSQL).
pub async fn claim(db: &DatabaseConnection, n: u64, lease_ms: i64) -> Result<Vec<Delivery>, DbErr> {
    let now = now_ms();
    let backend = db.get_database_backend();
    let (p, lock) = match backend {
        DbBackend::Postgres => (["$1", "$2", "$3"], " FOR UPDATE OF d SKIP LOCKED"),
        _ => (["?", "?", "?"], ""),
    };
    let sql = format!(
        "UPDATE webhook_deliveries SET claimed_until = {} WHERE id IN (\
         SELECT d.id FROM webhook_deliveries d \
         WHERE d.status = 'pending' AND d.next_attempt_at <= {} \
         AND (d.claimed_until IS NULL OR d.claimed_until < {}) \
         AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.id = d.endpoint_id AND w.enabled = TRUE) \
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.endpoint_id = d.endpoint_id \
                         AND e.status = 'pending' AND e.event_seq < d.event_seq) \
         ORDER BY d.id LIMIT {}{lock}) RETURNING id",
        p[0], p[1], p[1], p[2]
    );
    let values: Vec<sea_orm::Value> = match backend {
        DbBackend::Postgres => vec![(now + lease_ms).into(), now.into(), (n as i64).into()],
        _ => vec![
            (now + lease_ms).into(),
            now.into(),
            now.into(),
            (n as i64).into(),
        ],
    };
    let txn = super::write_txn(db).await?;
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    txn.commit().await?;
    let ids: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.try_get::<i64>("", "id").ok())
        .collect();
    if ids.is_empty() {
        return Ok(vec![]);
    }
    webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Id.is_in(ids))
        .order_by_asc(webhook_delivery::Column::Id)
        .all(db)
        .await
}

/// What one attempt came to.
pub struct Outcome {
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub response: Option<String>,
    pub delivered: bool,
}

/// Records an attempt; on failure the delivery waits `retry_in_ms`, and an
/// endpoint failing for longer than `give_up_ms` is disabled (with an event
/// saying so). Returns whether the endpoint was disabled now.
pub async fn finish(
    db: &DatabaseConnection,
    d: Delivery,
    o: Outcome,
    retry_in_ms: i64,
    give_up_ms: i64,
) -> Result<bool, DbErr> {
    let now = now_ms();
    let txn = super::write_txn(db).await?;
    webhook_attempt::ActiveModel {
        delivery_id: Set(d.id),
        at: Set(now),
        status_code: Set(o.status_code),
        error: Set(o.error.clone()),
        response: Set(o.response),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let endpoint = webhook_endpoint::Entity::find_by_id(d.endpoint_id.clone())
        .one(&txn)
        .await?;
    let attempts = d.attempts + 1;
    let mut am = d.into_active_model();
    am.attempts = Set(attempts);
    am.claimed_until = Set(None);
    am.last_status = Set(o.status_code);
    am.last_error = Set(o.error.clone());
    let mut disabled = false;
    if o.delivered {
        am.status = Set("delivered".into());
        am.delivered_at = Set(Some(now));
        if let Some(e) = endpoint.filter(|e| e.failing_since.is_some()) {
            let mut e = e.into_active_model();
            e.failing_since = Set(None);
            e.update(&txn).await?;
        }
    } else {
        am.next_attempt_at = Set(now + retry_in_ms);
        if let Some(e) = endpoint {
            let since = e.failing_since.unwrap_or(now);
            let (account, id) = (e.account_id.clone(), e.id.clone());
            let mut em = e.into_active_model();
            em.failing_since = Set(Some(since));
            if now - since > give_up_ms {
                em.enabled = Set(false);
                em.disabled_reason = Set(Some(format!(
                    "failing since {} ({})",
                    super::credentials::iso(since),
                    o.error.unwrap_or_default()
                )));
                disabled = true;
            }
            em.update(&txn).await?;
            if disabled {
                let d = serde_json::json!({"endpoint": id, "failing_since": super::credentials::iso(since)});
                super::events::emit(&txn, &account, "webhook.endpoint_disabled", &id, d).await?;
            }
        }
    }
    am.update(&txn).await?;
    txn.commit().await?;
    Ok(disabled)
}
