//! Custom roles CRUD; built-in roles are listed and read-only.

use super::{audited, auth::Actor, error::ApiError};
use crate::access::{AccountModel, RoleId, RoleRef};
use crate::catalog::{self, USER_MANAGEMENT, USER_MANAGEMENT_LIMITED};
use crate::state::State;
use crate::store::custom_roles;
use crate::store::new_id;
use actix_web::{delete, get, post, put, web, HttpResponse};
use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Serialize, utoipa::ToSchema)]
pub struct RoleView {
    id: String,
    name: String,
    builtin: bool,
    inherits: Option<String>,
    description: Option<String>,
    privileges: Vec<String>,
    effective_privileges: Vec<String>,
}

pub(crate) fn view(
    model: &AccountModel,
    role: &RoleRef,
    description: Option<String>,
) -> Option<RoleView> {
    let effective: Vec<String> = model
        .effective_privileges(role)
        .ok()?
        .into_iter()
        .map(String::from)
        .collect();
    if let Some(b) = role.builtin() {
        return Some(RoleView {
            id: b.key.into(),
            name: b.name.into(),
            builtin: true,
            inherits: None,
            description: Some(b.description.into()),
            privileges: effective.clone(),
            effective_privileges: effective,
        });
    }
    let r = model.custom_role(role)?;
    Some(RoleView {
        id: r.id.as_str().to_string(),
        name: r.name.clone(),
        builtin: false,
        inherits: r.parent.as_ref().map(ToString::to_string),
        description,
        privileges: r.privileges.iter().map(|s| s.to_string()).collect(),
        effective_privileges: effective,
    })
}

#[utoipa::path(responses((status = 200, body = [RoleView])), tag = "roles")]
#[get("/accounts/{id}/roles")]
pub async fn list(
    state: State,
    actor: Actor,
    _path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let model = &actor.account.model;
    let desc = crate::store::custom_roles::descriptions(&state.db, actor.account_id()).await?;
    let out: Vec<RoleView> = model
        .all_roles()
        .filter_map(|r| view(model, &r, desc.get(r.as_str()).cloned().flatten()))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

fn find(actor: &Actor, role: &str) -> Result<RoleRef, ApiError> {
    actor
        .account
        .model
        .find_role(role)
        .ok_or_else(|| ApiError::NotFound(format!("unknown role: {role}")))
}

#[utoipa::path(responses((status = 200, body = RoleView), (status = 404)), tag = "roles")]
#[get("/accounts/{id}/roles/{role}")]
pub async fn get(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, role) = path.into_inner();
    let r = find(&actor, &role)?;
    let desc = crate::store::custom_roles::descriptions(&state.db, &id)
        .await?
        .remove(r.as_str())
        .flatten();
    Ok(HttpResponse::Ok().json(view(&actor.account.model, &r, desc)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    name: String,
    inherits: Option<String>,
    #[serde(default)]
    privileges: Vec<String>,
    description: Option<String>,
}

/// Validates a definition and checks the actor may create it; returns (parent, own privileges).
fn check(
    actor: &Actor,
    id: Option<&RoleId>,
    b: &RoleBody,
) -> Result<(Option<RoleRef>, BTreeSet<&'static str>), ApiError> {
    actor.require_any(&[USER_MANAGEMENT, USER_MANAGEMENT_LIMITED])?;
    let name = b.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::BadRequest(
            "role name must be 1 to 200 characters".into(),
        ));
    }
    if catalog::builtin_role(name).is_some() {
        return Err(ApiError::Conflict(format!(
            "{name} is the name of a built-in role"
        )));
    }
    let model = &actor.account.model;
    let (parent, own) = model.validate_custom_role(id, b.inherits.as_deref(), &b.privileges)?;
    let mut effective = own.clone();
    if let Some(p) = &parent {
        effective.extend(model.effective_privileges(p)?);
    }
    // Limited user managers can only build roles out of privileges they hold.
    actor.access.may_assign(&effective)?;
    Ok((parent, own))
}

async fn save(
    txn: &DatabaseTransaction,
    account_id: &str,
    id: &RoleId,
    b: &RoleBody,
    parent: Option<RoleRef>,
    own: &BTreeSet<&'static str>,
    is_new: bool,
) -> Result<(), ApiError> {
    let row = custom_roles::RoleRow {
        id: id.as_str(),
        account_id,
        name: &b.name,
        inherits: parent.map(|p| p.to_string()),
        description: b.description.clone(),
        privileges: own,
    };
    Ok(custom_roles::save(txn, row, is_new).await?)
}

async fn reloaded(state: &State, account_id: &str, id: &RoleId) -> Result<HttpResponse, ApiError> {
    state.resolver.invalidate(account_id);
    let acct = state
        .resolver
        .account(&state.db, account_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("account".into()))?;
    let desc = crate::store::custom_roles::descriptions(&state.db, account_id)
        .await?
        .remove(id.as_str())
        .flatten();
    let role = RoleRef::Custom(id.clone());
    Ok(HttpResponse::Ok().json(view(&acct.model, &role, desc)))
}

#[utoipa::path(request_body = RoleBody, responses((status = 201, body = RoleView), (status = 400), (status = 403), (status = 409)), tag = "roles")]
#[post("/accounts/{id}/roles")]
pub async fn create(
    state: State,
    actor: Actor,
    _path: web::Path<String>,
    body: web::Json<RoleBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let id = RoleId(new_id());
    let details =
        serde_json::json!({"name": b.name, "inherits": b.inherits, "privileges": b.privileges});
    audited(
        &state,
        &actor,
        "role.create",
        id.as_str(),
        details,
        async |txn| {
            let (parent, own) = check(&actor, None, &b)?;
            save(txn, actor.account_id(), &id, &b, parent, &own, true).await
        },
    )
    .await?;
    let mut res = reloaded(&state, actor.account_id(), &id).await?;
    *res.status_mut() = actix_web::http::StatusCode::CREATED;
    Ok(res)
}

#[utoipa::path(request_body = RoleBody, responses((status = 200, body = RoleView), (status = 409)), tag = "roles")]
#[put("/accounts/{id}/roles/{role}")]
pub async fn update(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Json<RoleBody>,
) -> Result<HttpResponse, ApiError> {
    let (acct, role) = path.into_inner();
    let b = body.into_inner();
    let rid = find(&actor, &role)?;
    let details =
        serde_json::json!({"name": b.name, "inherits": b.inherits, "privileges": b.privileges});
    let target = rid.to_string();
    let own_id = audited(
        &state,
        &actor,
        "role.update",
        &target,
        details,
        async |txn| {
            let RoleRef::Custom(own_id) = &rid else {
                return Err(ApiError::Conflict(format!(
                    "built-in role {} is read-only",
                    actor.account.model.role_name(&rid)
                )));
            };
            // Editing needs the right to hand out the role as it is now, too.
            actor
                .access
                .may_assign(&actor.account.model.effective_privileges(&rid)?)?;
            let (parent, own) = check(&actor, Some(own_id), &b)?;
            save(txn, &acct, own_id, &b, parent, &own, false).await?;
            crate::store::access_events::emit_for_account(
                txn,
                &state.read,
                &actor.account,
                "role.update",
            )
            .await?;
            Ok(own_id.clone())
        },
    )
    .await?;
    reloaded(&state, &acct, &own_id).await
}

#[utoipa::path(responses((status = 204), (status = 409)), tag = "roles")]
#[delete("/accounts/{id}/roles/{role}")]
pub async fn delete(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_acct, role) = path.into_inner();
    let rid = find(&actor, &role)?;
    let target = rid.to_string();
    audited(
        &state,
        &actor,
        "role.delete",
        &target,
        serde_json::json!({"name": actor.account.model.role_name(&rid)}),
        async |txn| {
            let model = &actor.account.model;
            let RoleRef::Custom(own_id) = &rid else {
                return Err(ApiError::Conflict(format!(
                    "built-in role {} is read-only",
                    model.role_name(&rid)
                )));
            };
            actor.require_any(&[USER_MANAGEMENT, USER_MANAGEMENT_LIMITED])?;
            actor
                .access
                .may_assign(&model.effective_privileges(&rid)?)?;
            if let Some(child) = model
                .custom_roles
                .values()
                .find(|r| r.parent.as_ref() == Some(&rid))
            {
                return Err(ApiError::Conflict(format!(
                    "role {} inherits it; change or delete that role first",
                    child.name
                )));
            }
            custom_roles::delete(txn, own_id.as_str()).await?;
            crate::store::access_events::emit_for_account(
                txn,
                &state.read,
                &actor.account,
                "role.delete",
            )
            .await?;
            Ok(())
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
