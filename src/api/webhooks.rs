//! `/accounts/{id}/webhooks`: endpoints that receive the account's events
//! (Account Administration), their delivery log and manual redelivery.

use super::{audited, auth::Actor, error::ApiError};
use crate::catalog::ACCOUNT_ADMINISTRATION;
use crate::state::State;
use crate::store::{credentials::iso, events, new_id, now_ms, webhooks};
use crate::webhooks::{guard, sign};
use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

fn view(e: &webhooks::Endpoint) -> Value {
    json!({"id": e.id, "url": e.url, "types": types_of(&e.types), "enabled": e.enabled,
           "failing_since": e.failing_since.map(iso), "disabled_reason": e.disabled_reason,
           "created_at": iso(e.created_at)})
}

fn types_of(s: &str) -> Vec<&str> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    url: Option<String>,
    /// Event types to receive; empty or absent: all.
    types: Option<Vec<String>>,
    enabled: Option<bool>,
}

/// Checks a URL where deliveries will go (again at every delivery: DNS can change).
async fn checked_url(state: &State, url: &str) -> Result<String, ApiError> {
    let parsed =
        url::Url::parse(url.trim()).map_err(|e| ApiError::BadRequest(format!("url: {e}")))?;
    guard::resolve(&parsed, state.settings.webhook_allow_internal)
        .await
        .map_err(|e| ApiError::BadRequest(format!("url: {e}")))?;
    Ok(parsed.to_string())
}

fn checked_types(types: Option<Vec<String>>) -> Result<String, ApiError> {
    let types = types.unwrap_or_default();
    if types.iter().any(|t| t.trim().is_empty() || t.contains(',')) {
        return Err(ApiError::BadRequest("types are event type names".into()));
    }
    Ok(types.join(","))
}

#[utoipa::path(responses((status = 200, description = "[endpoint]")), tag = "webhooks")]
#[get("/accounts/{id}/webhooks")]
pub async fn list(
    state: State,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    actor.require(ACCOUNT_ADMINISTRATION)?;
    let all = webhooks::endpoints(&state.db, &path).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(view).collect::<Vec<_>>()))
}

/// Creates an endpoint; the answer carries its signing secret, shown once.
#[utoipa::path(request_body = EndpointInput, responses((status = 201, description = "endpoint + secret"), (status = 400)), tag = "webhooks")]
#[post("/accounts/{id}/webhooks")]
pub async fn create(
    state: State,
    actor: Actor,
    path: web::Path<String>,
    body: web::Json<EndpointInput>,
) -> Result<HttpResponse, ApiError> {
    actor.require(ACCOUNT_ADMINISTRATION)?;
    let b = body.into_inner();
    let url = match &b.url {
        Some(u) => checked_url(&state, u).await,
        None => Err(ApiError::BadRequest("url is required".into())),
    };
    let secret = sign::new_secret();
    let sealed = state.sealer.seal(&secret).map_err(ApiError::internal);
    let details = json!({"url": b.url, "types": b.types});
    let saved = audited(
        &state,
        &actor,
        "webhook.create",
        &path,
        details,
        async |txn| {
            let e = webhooks::Endpoint {
                id: new_id(),
                account_id: path.to_string(),
                url: url?,
                types: checked_types(b.types)?,
                secret: sealed?,
                enabled: b.enabled.unwrap_or(true),
                failing_since: None,
                disabled_reason: None,
                created_at: now_ms(),
            };
            Ok(webhooks::insert_endpoint(txn, e).await?)
        },
    )
    .await?;
    let mut v = view(&saved);
    crate::json::set(&mut v, "secret", json!(secret));
    Ok(HttpResponse::Created().json(v))
}

/// Changes the URL, the types, or re-enables a disabled endpoint.
#[utoipa::path(request_body = EndpointInput, responses((status = 200), (status = 404)), tag = "webhooks")]
#[patch("/accounts/{id}/webhooks/{w}")]
pub async fn update(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Json<EndpointInput>,
) -> Result<HttpResponse, ApiError> {
    actor.require(ACCOUNT_ADMINISTRATION)?;
    let (acct, wid) = path.into_inner();
    let b = body.into_inner();
    let url = match &b.url {
        Some(u) => Some(checked_url(&state, u).await?),
        None => None,
    };
    let current = webhooks::endpoint(&state.db, &acct, &wid)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("unknown webhook: {wid}")))?;
    let details = json!({"url": b.url, "types": b.types, "enabled": b.enabled});
    let saved = audited(
        &state,
        &actor,
        "webhook.update",
        &wid,
        details,
        async |txn| {
            let mut e = current;
            if let Some(u) = url {
                e.url = u;
            }
            if b.types.is_some() {
                e.types = checked_types(b.types)?;
            }
            if let Some(en) = b.enabled {
                if en && !e.enabled {
                    e.failing_since = None;
                    e.disabled_reason = None;
                }
                e.enabled = en;
            }
            Ok(webhooks::update_endpoint(txn, e).await?)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(view(&saved)))
}

#[utoipa::path(responses((status = 204), (status = 404)), tag = "webhooks")]
#[delete("/accounts/{id}/webhooks/{w}")]
pub async fn remove(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (acct, wid) = path.into_inner();
    audited(
        &state,
        &actor,
        "webhook.delete",
        &wid,
        json!({}),
        async |txn| {
            actor.require(ACCOUNT_ADMINISTRATION)?;
            if webhooks::delete_endpoint(txn, &acct, &wid).await? {
                Ok(())
            } else {
                Err(ApiError::NotFound(format!("unknown webhook: {wid}")))
            }
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The endpoint's latest deliveries, each with every attempt's status and response.
#[utoipa::path(responses((status = 200), (status = 404)), tag = "webhooks")]
#[get("/accounts/{id}/webhooks/{w}/deliveries")]
pub async fn deliveries(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    actor.require(ACCOUNT_ADMINISTRATION)?;
    let (acct, wid) = path.into_inner();
    webhooks::endpoint(&state.db, &acct, &wid)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("unknown webhook: {wid}")))?;
    let rows = webhooks::deliveries(&state.db, &wid, 200).await?;
    let out: Vec<Value> = rows
        .iter()
        .map(|(d, e, attempts)| json!({
            "id": d.id, "status": d.status, "attempts": d.attempts,
            "next_attempt_at": iso(d.next_attempt_at), "delivered_at": d.delivered_at.map(iso),
            "last_status": d.last_status, "last_error": d.last_error,
            "event": e.as_ref().map(events::view),
            "log": attempts.iter().map(|a| json!({"at": iso(a.at), "status": a.status_code, "error": a.error, "response": a.response})).collect::<Vec<_>>(),
        }))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

#[utoipa::path(responses((status = 202), (status = 404)), tag = "webhooks")]
#[post("/accounts/{id}/webhooks/{w}/deliveries/{d}/redeliver")]
pub async fn redeliver(
    state: State,
    actor: Actor,
    path: web::Path<(String, String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (acct, wid, did) = path.into_inner();
    let known = webhooks::endpoint(&state.db, &acct, &wid).await?.is_some();
    audited(
        &state,
        &actor,
        "webhook.redeliver",
        &wid,
        json!({"delivery": did}),
        async |txn| {
            actor.require(ACCOUNT_ADMINISTRATION)?;
            if known && webhooks::redeliver(txn, &wid, did).await? {
                Ok(())
            } else {
                Err(ApiError::NotFound(format!("unknown delivery: {did}")))
            }
        },
    )
    .await?;
    Ok(HttpResponse::Accepted().finish())
}
