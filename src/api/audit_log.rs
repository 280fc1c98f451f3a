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
    /// RFC 3339 timestamp.
    since: Option<String>,
    cursor: Option<i64>,
    limit: Option<u64>,
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
    let since_ms = match q.since {
        None => None,
        Some(s) => Some(
            chrono::DateTime::parse_from_rfc3339(&s)
                .map_err(|_| {
                    ApiError::BadRequest(format!("since must be an RFC 3339 timestamp, not {s:?}"))
                })?
                .timestamp_millis(),
        ),
    };
    let query = audit::Query {
        action: q.action,
        actor: q.actor,
        since_ms,
        before_id: q.cursor,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    let (events, next) = audit::list(&state.db, &path, query).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"events": events, "next_cursor": next})))
}
