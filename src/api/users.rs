//! Direct role assignments and the access explanation of a user.

use super::{audited, auth::Actor, error::ApiError};
use crate::access::RoleRef;
use crate::catalog::{USER_MANAGEMENT, USER_MANAGEMENT_LIMITED};
use crate::state::State;
use crate::store::users::User;
use actix_web::{delete, get, put, web, HttpResponse};
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
            let who = [u.id.clone()];
            crate::store::access_events::emit(
                txn,
                &state.read,
                &actor.account,
                who,
                "user.roles.set",
            )
            .await?;
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
    /// Environment-scoped privileges allowed in an environment only by
    /// additive mixing (the privilege from one role, the environment from
    /// another): flagged, as the platform's additive scoping allows them.
    #[schema(value_type = Vec<Object>)]
    additive_only: Vec<serde_json::Value>,
}

/// Every (privilege, environment) pair the user may use only additively.
fn additive_only(
    model: &crate::access::AccountModel,
    acc: &crate::access::Access,
    held: &[&str],
) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for e in &model.environments {
        for p in held {
            let scoped = crate::catalog::privilege(p).is_some_and(|c| c.environment_scoped);
            if !scoped {
                continue;
            }
            if let Ok(d) = model.decide(acc, p, Some(&e.name)) {
                if d.allowed && d.additive_only {
                    out.push(serde_json::json!({"privilege": p, "environment": e.name, "reason": d.reason}));
                }
            }
        }
    }
    out
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
    let held: Vec<&str> = privs.keys().copied().collect();
    let additive = additive_only(model, acc, &held);
    AccessView {
        additive_only: additive,
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

#[derive(Deserialize, utoipa::IntoParams)]
pub struct UserSearch {
    /// Part of the userName, any case.
    q: Option<String>,
    limit: Option<u64>,
}

/// The account's users whose userName contains `q` (User Management or Limited).
#[utoipa::path(params(UserSearch), responses((status = 200, description = "[{id, userName, active, origin}]")), tag = "users")]
#[get("/accounts/{id}/users")]
pub async fn search(
    state: State,
    actor: Actor,
    q: web::Query<UserSearch>,
) -> Result<HttpResponse, ApiError> {
    actor.require_any(&[USER_MANAGEMENT, USER_MANAGEMENT_LIMITED])?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let found = crate::store::model::search_users(
        &state.read,
        actor.account_id(),
        q.q.as_deref().unwrap_or_default(),
        limit,
    )
    .await?;
    let out: Vec<serde_json::Value> = found
        .into_iter()
        .map(|u| serde_json::json!({"id": u.id, "userName": u.user_name, "displayName": u.display_name, "active": u.active, "origin": u.origin}))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Ends every session of the user at once (User Management).
#[utoipa::path(responses((status = 200, description = "{ended}"), (status = 404)), tag = "users")]
#[delete("/accounts/{id}/users/{user}/sessions")]
pub async fn end_sessions(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_acct, key) = path.into_inner();
    // Privilege first, so an unknown user and a known one look alike.
    let found = match actor.require(USER_MANAGEMENT) {
        Ok(()) => Some(user(&state, &actor, &key).await?),
        Err(_) => None,
    };
    let ended = audited(
        &state,
        &actor,
        "user.sessions.end",
        &key,
        serde_json::json!({}),
        async |txn| {
            actor.require(USER_MANAGEMENT)?;
            let u = found.ok_or_else(|| ApiError::NotFound(format!("unknown user: {key}")))?;
            Ok(crate::store::sessions::revoke_user(txn, &u.id).await?)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"ended": ended})))
}
