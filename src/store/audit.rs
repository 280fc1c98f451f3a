//! The audit log: append-only events, read newest first with a cursor.

use super::batch::Batch;
use super::entities::audit_event;
use super::now_ms;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Set,
};
use serde::Serialize;

/// One security-relevant fact: who did what to what, and how it ended.
#[derive(Debug, Clone)]
pub struct Event {
    pub account_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub details: serde_json::Value,
}

impl Event {
    pub fn new(
        account_id: Option<&str>,
        actor: impl Into<String>,
        action: impl Into<String>,
        target: impl Into<String>,
    ) -> Self {
        Event {
            account_id: account_id.map(Into::into),
            actor: bounded(actor.into()),
            action: action.into(),
            target: bounded(target.into()),
            outcome: "success".into(),
            details: serde_json::json!({}),
        }
    }
    pub fn outcome(mut self, o: &str) -> Self {
        self.outcome = o.into();
        self
    }
    pub fn details(mut self, d: serde_json::Value) -> Self {
        self.details = d;
        self
    }
}

/// Longest actor or target kept: they come from requests, so an unbounded
/// value would let anyone grow the log.
const MAX_FIELD: usize = 320;
/// Longest details kept, as JSON text.
const MAX_DETAILS: usize = 16 * 1024;

fn bounded(mut s: String) -> String {
    if s.len() > MAX_FIELD {
        let mut end = MAX_FIELD;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

pub async fn record<C: ConnectionTrait>(db: &C, e: Event) -> Result<(), DbErr> {
    let mut b = Batch::new(db.get_database_backend());
    push(&mut b, e);
    b.run(db).await
}

/// Adds the event's row to a batch the caller runs in its transaction.
pub fn push(b: &mut Batch, e: Event) {
    // Debug formatting escapes control characters: a value cannot forge a log line.
    tracing::info!(target: "audit", actor = ?e.actor, action = ?e.action, target_id = ?e.target, outcome = ?e.outcome, "audit");
    let mut details = e.details.to_string();
    if details.len() > MAX_DETAILS {
        details = serde_json::json!({"truncated": true, "bytes": details.len()}).to_string();
    }
    let row = audit_event::ActiveModel {
        account_id: Set(e.account_id),
        at: Set(now_ms()),
        actor: Set(e.actor),
        action: Set(e.action),
        target: Set(e.target),
        outcome: Set(e.outcome),
        details: Set(details),
        ..Default::default()
    };
    b.push(audit_event::Entity::insert(row).build(b.backend()));
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[derive(Default)]
pub struct Query {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// `success`, `denied`, `error`, or `rejected` (any rejection).
    pub outcome: Option<String>,
    pub before_id: Option<i64>,
    pub limit: u64,
}

/// Newest first; `before_id` is the cursor (exclusive).
pub async fn list<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    q: Query,
) -> Result<(Vec<EventView>, Option<i64>), DbErr> {
    let mut s = audit_event::Entity::find().filter(audit_event::Column::AccountId.eq(account_id));
    if let Some(a) = q.action {
        s = s.filter(audit_event::Column::Action.eq(a));
    }
    if let Some(a) = q.actor {
        s = s.filter(audit_event::Column::Actor.eq(a));
    }
    if let Some(t) = q.since_ms {
        s = s.filter(audit_event::Column::At.gte(t));
    }
    if let Some(t) = q.until_ms {
        s = s.filter(audit_event::Column::At.lt(t));
    }
    match q.outcome.as_deref() {
        None => {}
        Some("rejected") => s = s.filter(audit_event::Column::Outcome.starts_with("rejected")),
        Some(o) => s = s.filter(audit_event::Column::Outcome.eq(o)),
    }
    if let Some(c) = q.before_id {
        s = s.filter(audit_event::Column::Id.lt(c));
    }
    let rows = s
        .order_by_desc(audit_event::Column::Id)
        .limit(q.limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > q.limit;
    let events: Vec<EventView> = rows
        .into_iter()
        .take(q.limit as usize)
        .map(|r| EventView {
            id: r.id,
            at: super::credentials::iso(r.at),
            actor: r.actor,
            action: r.action,
            target: r.target,
            outcome: r.outcome,
            details: serde_json::from_str(&r.details).unwrap_or_default(),
        })
        .collect();
    let next = if more {
        events.last().map(|e| e.id)
    } else {
        None
    };
    Ok((events, next))
}

/// When the latest event whose action starts with `prefix` happened.
pub async fn last_at<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    prefix: &str,
) -> Result<Option<String>, DbErr> {
    Ok(audit_event::Entity::find()
        .filter(audit_event::Column::AccountId.eq(account_id))
        .filter(audit_event::Column::Action.starts_with(prefix))
        .order_by_desc(audit_event::Column::Id)
        .one(db)
        .await?
        .map(|e| super::credentials::iso(e.at)))
}
