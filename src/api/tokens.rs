//! SCIM bearer tokens of an account (Account Administration).

use super::{audited, auth::Actor, error::ApiError};
use crate::catalog::ACCOUNT_ADMINISTRATION;
use crate::state::State;
use crate::store::credentials::{self, TokenView};
use actix_web::{delete, get, post, web, HttpResponse};
use serde::Deserialize;

#[utoipa::path(responses((status = 200, body = [TokenView])), tag = "scim-tokens")]
#[get("/accounts/{id}/scim-tokens")]
pub async fn list(
    state: State,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    actor.require(ACCOUNT_ADMINISTRATION)?;
    let tokens = credentials::list_scim_tokens(&state.db, &path).await?;
    Ok(HttpResponse::Ok().json(tokens.iter().map(TokenView::from).collect::<Vec<_>>()))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    expires_in_days: Option<u32>,
}

/// Creates a token; the answer is the only time it is shown.
#[utoipa::path(request_body = TokenBody, responses((status = 201, description = "{id, token}")), tag = "scim-tokens")]
#[post("/accounts/{id}/scim-tokens")]
pub async fn create(
    state: State,
    actor: Actor,
    path: web::Path<String>,
    body: Option<web::Json<TokenBody>>,
) -> Result<HttpResponse, ApiError> {
    let days = body.and_then(|b| b.into_inner().expires_in_days);
    let token = crate::secrets::issue(credentials::SCIM_TOKEN_PREFIX);
    let target = token.id.clone();
    let issued = audited(
        &state,
        &actor,
        "scim_token.create",
        &target,
        serde_json::json!({"expires_in_days": days}),
        async |txn| {
            actor.require(ACCOUNT_ADMINISTRATION)?;
            Ok(credentials::insert_scim_token(txn, &path, token, days)
                .await?
                .0)
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(issued))
}

#[utoipa::path(responses((status = 204), (status = 404)), tag = "scim-tokens")]
#[delete("/accounts/{id}/scim-tokens/{t}")]
pub async fn revoke(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (acct, t) = path.into_inner();
    audited(
        &state,
        &actor,
        "scim_token.revoke",
        &t,
        serde_json::json!({}),
        async |txn| {
            actor.require(ACCOUNT_ADMINISTRATION)?;
            if credentials::revoke_scim_token(txn, &acct, &t).await? {
                Ok(())
            } else {
                Err(ApiError::NotFound(format!("no live SCIM token {t}")))
            }
        },
    )
    .await?;
    state.resolver.forget_scim_tokens();
    Ok(HttpResponse::NoContent().finish())
}
