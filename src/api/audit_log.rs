use super::{auth::Actor, error::ApiError};
use crate::catalog::VIEW_AUDIT_LOGS;
use crate::state::State;
use crate::store::audit;
use actix_web::{get, web, HttpResponse};
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    action: Option<String>,
    actor: Option<String>,
    /// RFC 3339 timestamp (inclusive).
    since: Option<String>,
    /// RFC 3339 timestamp (exclusive).
    until: Option<String>,
    /// `success`, `denied`, `error` or `rejected`.
    outcome: Option<String>,
    cursor: Option<i64>,
    limit: Option<u64>,
}

fn rfc3339(name: &str, v: Option<String>) -> Result<Option<i64>, ApiError> {
    match v.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => chrono::DateTime::parse_from_rfc3339(&s)
            .map(|t| Some(t.timestamp_millis()))
            .map_err(|_| {
                ApiError::BadRequest(format!("{name} must be an RFC 3339 timestamp, not {s:?}"))
            }),
    }
}

/// The account's audit log, newest first (View Audit Logs).
#[utoipa::path(params(AuditQuery), responses((status = 200, description = "{events, next_cursor}")), tag = "audit")]
#[get("/accounts/{id}/audit")]
pub async fn list(
    state: State,
    actor: Actor,
    path: web::Path<String>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    actor.require(VIEW_AUDIT_LOGS)?;
    let q = q.into_inner();
    let since_ms = rfc3339("since", q.since)?;
    let until_ms = rfc3339("until", q.until)?;
    let query = audit::Query {
        action: q.action.filter(|a| !a.is_empty()),
        actor: q.actor.filter(|a| !a.is_empty()),
        outcome: q.outcome.filter(|o| !o.is_empty()),
        since_ms,
        until_ms,
        before_id: q.cursor,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    let (events, next) = audit::list(&state.db, &path, query).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"events": events, "next_cursor": next})))
}
