//! Direct role assignments and the access explanation of a user.

use super::{audited, auth::Actor, error::ApiError};
use crate::access::RoleRef;
use crate::catalog::{USER_MANAGEMENT, USER_MANAGEMENT_LIMITED};
use crate::state::State;
use crate::store::users::User;
use actix_web::{get, put, web, HttpResponse};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

async fn user(state: &State, actor: &Actor, key: &str) -> Result<User, ApiError> {
    use crate::store::model::Lookup;
    match crate::store::model::find_user(&state.db, actor.account_id(), key).await? {
        Lookup::One(u) => Ok(*u),
        Lookup::None => Err(ApiError::NotFound(format!("unknown user: {key}"))),
        Lookup::Ambiguous => Err(ApiError::Conflict(format!(
            "{key:?} names more than one user; use the user id"
        ))),
    }
}

/// Reading a user's roles or access: oneself, or with User Management
/// (or Limited). Checked before the lookup, so without the privilege an
/// unknown user and another known user get the same 403.
async fn readable_user(
    state: &State,
    actor: &Actor,
    key: &str,
) -> Result<std::sync::Arc<crate::resolver::ResolvedUser>, ApiError> {
    let privileged = actor.require_any(&[USER_MANAGEMENT, USER_MANAGEMENT_LIMITED]);
    let found = state.resolver.user(&state.db, &actor.account, key).await;
    match (privileged, found) {
        (Ok(()), found) => found?.ok_or_else(|| ApiError::NotFound(format!("unknown user: {key}"))),
        (Err(_), Ok(Some(u))) if u.user.id == actor.user_id => Ok(u),
        (Err(denied), _) => Err(denied),
    }
}

async fn direct_roles(
    db: &impl sea_orm::ConnectionTrait,
    user_id: &str,
) -> Result<Vec<String>, ApiError> {
    Ok(crate::store::users::direct_roles(db, user_id).await?)
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesBody {
    roles: Vec<String>,
}

#[utoipa::path(responses((status = 200, body = RolesBody)), tag = "users")]
#[get("/accounts/{id}/users/{user}/roles")]
pub async fn get_roles(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_acct, key) = path.into_inner();
    let u = readable_user(&state, &actor, &key).await?;
    Ok(HttpResponse::Ok().json(RolesBody {
        roles: direct_roles(&state.db, &u.user.id).await?,
    }))
}

/// Replaces a user's direct roles. User Management assigns anything; Limited
/// only roles (added or removed) made of privileges the actor holds.
#[utoipa::path(request_body = RolesBody, responses((status = 200, body = RolesBody), (status = 403)), tag = "users")]
#[put("/accounts/{id}/users/{user}/roles")]
pub async fn put_roles(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Json<RolesBody>,
) -> Result<HttpResponse, ApiError> {
    let (_acct, key) = path.into_inner();
    let u = user(&state, &actor, &key).await?;
    let b = body.into_inner();
    let roles = audited(
        &state,
        &actor,
        "user.roles.set",
        &u.id,
        serde_json::json!({"user": u.user_name, "roles": b.roles}),
        async |txn| {
            actor.require_any(&[USER_MANAGEMENT, USER_MANAGEMENT_LIMITED])?;
            let model = &actor.account.model;
            let wanted: BTreeSet<RoleRef> = super::role_refs(model, &b.roles)?;
            let current: BTreeSet<RoleRef> = direct_roles(txn, &u.id)
                .await?
                .iter()
                .map(|r| RoleRef::from_stored(r))
                .collect();
            for r in wanted.symmetric_difference(&current) {
                if wanted.contains(r) {
                    model.check_assignable(r)?;
                }
                if let Ok(p) = model.effective_privileges(r) {
                    actor.access.may_assign(&p)?;
                }
            }
            let roles: Vec<String> = wanted.iter().map(ToString::to_string).collect();
            crate::store::scim::set_user_roles(txn, &u.id, &roles).await?;
            // Built-in administrators never hold an SSO session.
            let admin = RoleRef::ADMINISTRATOR;
            if wanted.contains(&admin) && !current.contains(&admin) {
                crate::store::sessions::revoke_sso(txn, &u.id).await?;
            }
            Ok(roles)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(RolesBody { roles }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AccessView {
    #[schema(value_type = Vec<Object>)]
    roles: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    privileges: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    environments: Vec<serde_json::Value>,
}

pub(crate) fn explain(
    model: &crate::access::AccountModel,
    acc: &crate::access::Access,
) -> AccessView {
    let roles = acc
        .roles
        .iter()
        .map(|r| serde_json::json!({"role": r.name, "id": r.role, "family": r.family(), "via": r.via}))
        .collect();
    let mut privs: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    let mut envs: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    for r in &acc.roles {
        for p in &r.privileges {
            privs.entry(p).or_default().push(&r.name);
        }
        for e in &r.environments {
            envs.entry(model.env_name(e)).or_default().push(&r.name);
        }
    }
    AccessView {
        roles,
        privileges: privs
            .into_iter()
            .map(|(k, v)| match model.gate(k) {
                // Held, but the account's features do not let it be used.
                Some(f) => serde_json::json!({"key": k, "via": v, "usable": false, "gated_by": f}),
                None => serde_json::json!({"key": k, "via": v, "usable": true}),
            })
            .collect(),
        environments: envs
            .into_iter()
            .map(|(k, v)| serde_json::json!({"name": k, "via": v}))
            .collect(),
    }
}

/// Effective roles, privileges and environments, each with where it comes from.
#[utoipa::path(responses((status = 200, body = AccessView)), tag = "users")]
#[get("/accounts/{id}/users/{user}/access")]
pub async fn access(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_acct, key) = path.into_inner();
    let u = readable_user(&state, &actor, &key).await?;
    Ok(HttpResponse::Ok().json(explain(&actor.account.model, &u.access)))
}
