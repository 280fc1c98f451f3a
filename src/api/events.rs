//! `GET /accounts/{id}/events`: the account's events after a sequence
//! number, oldest first (View Audit Logs or API Access).

use super::{auth::Actor, error::ApiError};
use crate::catalog::{API_ACCESS, VIEW_AUDIT_LOGS};
use crate::state::State;
use crate::store::events;
use actix_web::{get, web, HttpResponse};
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct EventsQuery {
    /// The last sequence number already seen (0 or absent: from the oldest kept).
    after: Option<i64>,
    /// Comma-separated event types.
    types: Option<String>,
    limit: Option<u64>,
}

#[utoipa::path(params(EventsQuery), responses((status = 200, description = "{events: [{id, seq, type, account, subject, timestamp, data}], next_after}")), tag = "events")]
#[get("/accounts/{id}/events")]
pub async fn list(
    state: State,
    actor: Actor,
    path: web::Path<String>,
    q: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    actor.require_any(&[VIEW_AUDIT_LOGS, API_ACCESS])?;
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::BadRequest("after must be 0 or more".into()));
    }
    let types: Vec<String> = q
        .types
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect();
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let found = events::list(&state.db, &path, after, &types, limit).await?;
    let next = found.last().map_or(after, |e| e.account_seq);
    let out: Vec<serde_json::Value> = found.iter().map(events::view).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"events": out, "next_after": next})))
}
