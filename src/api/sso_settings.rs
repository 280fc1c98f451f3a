//! `GET, PUT /accounts/{id}/sso` (Account Administration). The client secret is write-only.

use super::{audited, auth::Actor, error::ApiError};
use crate::catalog::ACCOUNT_ADMINISTRATION;
use crate::sso::settings::{self, SsoInput, SsoView};
use crate::state::State;
use actix_web::{get, put, web, HttpResponse};

#[utoipa::path(responses((status = 200, body = SsoView), (status = 404)), tag = "sso")]
#[get("/accounts/{id}/sso")]
pub async fn get(
    state: State,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    actor.require(ACCOUNT_ADMINISTRATION)?;
    let s = settings::get(&state.db, &path)
        .await?
        .ok_or_else(|| ApiError::NotFound("SSO is not configured".into()))?;
    Ok(HttpResponse::Ok().json(settings::view(&s, &state.settings.public_url)))
}

#[utoipa::path(request_body = SsoInput, responses((status = 200, body = SsoView), (status = 400), (status = 403)), tag = "sso")]
#[put("/accounts/{id}/sso")]
pub async fn put(
    state: State,
    actor: Actor,
    path: web::Path<String>,
    body: web::Json<SsoInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.into_inner();
    // The secret never reaches the audit log.
    let details = serde_json::json!({"issuer": input.issuer, "client_id": input.client_id, "mode": input.mode, "role_source": input.role_source, "jit": input.jit, "client_secret_changed": input.client_secret.is_some()});
    let saved = audited(
        &state,
        &actor,
        "sso.settings.update",
        &path,
        details,
        async |txn| {
            actor.require(ACCOUNT_ADMINISTRATION)?;
            settings::put(txn, &state.sealer, &path, input)
                .await
                .map_err(|e| match e {
                    settings::SsoSettingsError::Database(db) => ApiError::from(db),
                    settings::SsoSettingsError::Invalid(msg) => ApiError::BadRequest(msg),
                })
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(settings::view(&saved, &state.settings.public_url)))
}
