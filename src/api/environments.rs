//! Environments and the roles that reach them (Environment Management).

use super::{audited, auth::Actor, error::ApiError};
use crate::catalog::ENVIRONMENT_MANAGEMENT;
use crate::state::State;
use crate::store::environments;
use crate::store::kinds::Classification;
use crate::store::new_id;
use actix_web::{delete, get, post, put, web, HttpResponse};
use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};

#[derive(Serialize, utoipa::ToSchema)]
pub struct EnvironmentView {
    id: String,
    name: String,
    classification: String,
    roles: Vec<String>,
}

async fn load(state: &State, account_id: &str) -> Result<Vec<EnvironmentView>, ApiError> {
    Ok(environments::list(&state.db, account_id)
        .await?
        .into_iter()
        .map(|e| EnvironmentView {
            id: e.id,
            name: e.name,
            classification: e.classification.to_string(),
            roles: e.roles,
        })
        .collect())
}

async fn one(state: &State, account_id: &str, key: &str) -> Result<EnvironmentView, ApiError> {
    let n = key.to_lowercase();
    load(state, account_id)
        .await?
        .into_iter()
        .find(|e| e.id == key || e.name.to_lowercase() == n)
        .ok_or_else(|| ApiError::NotFound(format!("unknown environment: {key}")))
}

#[utoipa::path(responses((status = 200, body = [EnvironmentView])), tag = "environments")]
#[get("/accounts/{id}/environments")]
pub async fn list(
    state: State,
    _actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(load(&state, &path).await?))
}

#[utoipa::path(responses((status = 200, body = EnvironmentView), (status = 404)), tag = "environments")]
#[get("/accounts/{id}/environments/{env}")]
pub async fn get(
    state: State,
    _actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (acct, env) = path.into_inner();
    Ok(HttpResponse::Ok().json(one(&state, &acct, &env).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentBody {
    name: String,
    classification: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

fn check(actor: &Actor, b: &EnvironmentBody) -> Result<(Classification, Vec<String>), ApiError> {
    actor.require(ENVIRONMENT_MANAGEMENT)?;
    if b.name.trim().is_empty() || b.name.len() > 200 {
        return Err(ApiError::BadRequest(
            "environment name must be 1 to 200 characters".into(),
        ));
    }
    let class = match &b.classification {
        None => Classification::Test,
        Some(c) => Classification::parse(c).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "classification must be \"test\" or \"production\", not {c:?}"
            ))
        })?,
    };
    let roles: Vec<crate::access::RoleRef> = super::role_refs(&actor.account.model, &b.roles)?;
    let roles = roles.iter().map(ToString::to_string).collect();
    Ok((class, roles))
}

async fn save(
    txn: &DatabaseTransaction,
    account_id: &str,
    id: &str,
    b: &EnvironmentBody,
    class: Classification,
    roles: &[String],
    is_new: bool,
) -> Result<(), ApiError> {
    let row = environments::EnvironmentRow {
        id: id.into(),
        name: b.name.clone(),
        classification: class,
        roles: roles.to_vec(),
    };
    Ok(environments::save(txn, account_id, &row, is_new).await?)
}

#[utoipa::path(request_body = EnvironmentBody, responses((status = 201, body = EnvironmentView), (status = 403), (status = 409)), tag = "environments")]
#[post("/accounts/{id}/environments")]
pub async fn create(
    state: State,
    actor: Actor,
    path: web::Path<String>,
    body: web::Json<EnvironmentBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let id = new_id();
    audited(
        &state,
        &actor,
        "environment.create",
        &id,
        serde_json::json!({"name": b.name, "roles": b.roles}),
        async |txn| {
            let (class, roles) = check(&actor, &b)?;
            save(txn, &path, &id, &b, class, &roles, true).await
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(one(&state, &path, &id).await?))
}

#[utoipa::path(request_body = EnvironmentBody, responses((status = 200, body = EnvironmentView)), tag = "environments")]
#[put("/accounts/{id}/environments/{env}")]
pub async fn update(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Json<EnvironmentBody>,
) -> Result<HttpResponse, ApiError> {
    let (acct, env) = path.into_inner();
    let current = one(&state, &acct, &env).await?;
    let b = body.into_inner();
    audited(
        &state,
        &actor,
        "environment.update",
        &current.id,
        serde_json::json!({"name": b.name, "roles": b.roles}),
        async |txn| {
            let (class, roles) = check(&actor, &b)?;
            save(txn, &acct, &current.id, &b, class, &roles, false).await
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(one(&state, &acct, &current.id).await?))
}

#[utoipa::path(responses((status = 204)), tag = "environments")]
#[delete("/accounts/{id}/environments/{env}")]
pub async fn delete(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (acct, env) = path.into_inner();
    let current = one(&state, &acct, &env).await?;
    audited(
        &state,
        &actor,
        "environment.delete",
        &current.id,
        serde_json::json!({"name": current.name}),
        async |txn| {
            actor.require(ENVIRONMENT_MANAGEMENT)?;
            environments::delete(txn, &current.id).await?;
            Ok(())
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
