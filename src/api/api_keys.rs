//! Management API keys: list, issue (for oneself), revoke.
//!
//! A key acts as the user it was issued to, so the API only issues keys to
//! the caller themselves: no one can mint a key that acts as someone else.
//! User Management sees and revokes every key of the account.

use super::{audited, auth::Actor, error::ApiError};
use crate::catalog::USER_MANAGEMENT;
use crate::state::State;
use crate::store::credentials::{self, ApiKeyView};
use actix_web::{delete, get, post, web, HttpResponse};
use serde::Deserialize;

/// The user whose keys the actor may see and revoke (`None`: every user's).
fn scope(actor: &Actor) -> Option<&str> {
    (!actor.access.has(USER_MANAGEMENT)).then_some(actor.user_id.as_str())
}

#[utoipa::path(responses((status = 200, body = [ApiKeyView])), tag = "api-keys")]
#[get("/accounts/{id}/api-keys")]
pub async fn list(
    state: State,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let keys = credentials::list_api_keys(&state.db, &path, scope(&actor)).await?;
    Ok(HttpResponse::Ok().json(keys.iter().map(ApiKeyView::from).collect::<Vec<_>>()))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyBody {
    /// 1 to 365; keys issued over the API always expire (default 90 days).
    expires_in_days: Option<u32>,
}

/// Issues a key acting as the caller; the answer is the only time it is shown.
#[utoipa::path(request_body = ApiKeyBody, responses((status = 201, description = "{id, key}")), tag = "api-keys")]
#[post("/accounts/{id}/api-keys")]
pub async fn create(
    state: State,
    actor: Actor,
    path: web::Path<String>,
    body: Option<web::Json<ApiKeyBody>>,
) -> Result<HttpResponse, ApiError> {
    let days = body.and_then(|b| b.into_inner().expires_in_days);
    let key = crate::secrets::issue(credentials::API_KEY_PREFIX);
    let target = key.id.clone();
    let issued = audited(
        &state,
        &actor,
        "api_key.create",
        &target,
        serde_json::json!({"user": actor.user_id, "expires_in_days": days}),
        async |txn| {
            let days = days.unwrap_or(90);
            if !(1..=365).contains(&days) {
                return Err(ApiError::BadRequest(
                    "expires_in_days must be between 1 and 365".into(),
                ));
            }
            Ok(credentials::insert_api_key(txn, &path, &actor.user_id, key, Some(days)).await?)
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(issued))
}

#[utoipa::path(responses((status = 204), (status = 404)), tag = "api-keys")]
#[delete("/accounts/{id}/api-keys/{k}")]
pub async fn revoke(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (acct, k) = path.into_inner();
    audited(
        &state,
        &actor,
        "api_key.revoke",
        &k,
        serde_json::json!({}),
        async |txn| {
            if credentials::revoke_api_key(txn, &acct, &k, scope(&actor)).await? {
                crate::store::changes::record(
                    txn,
                    Some(&acct),
                    crate::store::changes::Change::ApiKeys,
                )
                .await?;
                Ok(())
            } else {
                Err(ApiError::NotFound(format!("no live API key {k}")))
            }
        },
    )
    .await?;
    state.resolver.forget_api_keys();
    Ok(HttpResponse::NoContent().finish())
}
