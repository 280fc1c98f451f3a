//! Account groups (Account Group Management in the parent): child accounts
//! grouped under a parent, and roles the parent's users hold in every child.
//! A child's administrators see those users read-only (`inherited-users`).

use super::{audited, auth::Actor, error::ApiError};
use crate::access::RoleRef;
use crate::catalog::{USER_MANAGEMENT, USER_MANAGEMENT_LIMITED};
use crate::state::State;
use crate::store::account_groups::{self, GroupView, NewGroupRole, Subject};
use crate::store::kinds::MatchKind;
use crate::store::model::Lookup;
use actix_web::{delete, get, post, put, web, HttpResponse};
use serde::{Deserialize, Serialize};

const ACCOUNT_GROUP_MANAGEMENT: &str = crate::catalog::PrivilegeKey::AccountGroupManagement.key();

#[derive(Serialize, utoipa::ToSchema)]
pub struct AccountGroupView {
    id: String,
    name: String,
    /// Child account ids.
    accounts: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    roles: Vec<serde_json::Value>,
}

fn view(v: GroupView) -> AccountGroupView {
    let roles = v
        .roles
        .iter()
        .map(|r| {
            let who = match (&r.user_id, r.match_kind, &r.match_value) {
                (Some(u), _, _) => serde_json::json!({"user": u}),
                (None, Some(k), Some(val)) => serde_json::json!({"group": {k.as_str(): val}}),
                _ => serde_json::json!({}),
            };
            let role = RoleRef::from_stored(&r.role_ref);
            let name = role.builtin().map_or(r.role_ref.as_str(), |b| b.name);
            serde_json::json!({"id": r.id, "for": who, "role": name,
                "environments": r.environment_names().ok().flatten()})
        })
        .collect();
    AccountGroupView {
        id: v.group.id,
        name: v.group.name,
        accounts: v.children,
        roles,
    }
}

/// Managing groups: Account Group Management in the parent, acting there.
fn require_manager(actor: &Actor) -> Result<(), ApiError> {
    if actor.outside.is_some() {
        return Err(ApiError::Forbidden(vec![
            "Account Group Management (in the parent account itself)".into(),
        ]));
    }
    actor.require(ACCOUNT_GROUP_MANAGEMENT)
}

async fn group(state: &State, actor: &Actor, g: &str) -> Result<GroupView, ApiError> {
    let found = account_groups::find(&state.db, actor.account_id(), g)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("unknown account group: {g}")))?;
    Ok(account_groups::view(&state.db, found).await?)
}

#[utoipa::path(responses((status = 200, body = [AccountGroupView])), tag = "account-groups")]
#[get("/accounts/{id}/account-groups")]
pub async fn list(
    state: State,
    actor: Actor,
    _path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&actor)?;
    let groups = account_groups::list(&state.db, actor.account_id()).await?;
    Ok(HttpResponse::Ok().json(groups.into_iter().map(view).collect::<Vec<_>>()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    name: String,
}

#[utoipa::path(request_body = GroupBody, responses((status = 201, body = AccountGroupView), (status = 403), (status = 409)), tag = "account-groups")]
#[post("/accounts/{id}/account-groups")]
pub async fn create(
    state: State,
    actor: Actor,
    _path: web::Path<String>,
    body: web::Json<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    let name = body.into_inner().name;
    let details = serde_json::json!({"name": name});
    let g = audited(
        &state,
        &actor,
        "account_group.create",
        &name,
        details,
        async |txn| {
            require_manager(&actor)?;
            if name.trim().is_empty() || name.len() > 200 {
                return Err(ApiError::BadRequest(
                    "account group name must be 1 to 200 characters".into(),
                ));
            }
            if account_groups::named(txn, actor.account_id(), &name)
                .await?
                .is_some()
            {
                return Err(ApiError::Conflict(format!("account group {name:?} exists")));
            }
            Ok(account_groups::create(txn, actor.account_id(), &name).await?)
        },
    )
    .await?;
    let v = account_groups::view(&state.db, g).await?;
    Ok(HttpResponse::Created().json(view(v)))
}

#[utoipa::path(responses((status = 200, body = AccountGroupView), (status = 404)), tag = "account-groups")]
#[get("/accounts/{id}/account-groups/{g}")]
pub async fn get(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&actor)?;
    Ok(HttpResponse::Ok().json(view(group(&state, &actor, &path.1).await?)))
}

#[utoipa::path(responses((status = 204), (status = 404)), tag = "account-groups")]
#[delete("/accounts/{id}/account-groups/{g}")]
pub async fn remove(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let g = group(&state, &actor, &path.1).await?.group;
    audited(
        &state,
        &actor,
        "account_group.delete",
        &g.id,
        serde_json::json!({"name": g.name}),
        async |txn| {
            require_manager(&actor)?;
            Ok(account_groups::delete(txn, &g.id).await?)
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Adds a child account to the group.
#[utoipa::path(responses((status = 204), (status = 400), (status = 404)), tag = "account-groups")]
#[put("/accounts/{id}/account-groups/{g}/accounts/{child}")]
pub async fn add_child(
    state: State,
    actor: Actor,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (parent, g, child) = path.into_inner();
    let g = group(&state, &actor, &g).await?.group;
    audited(
        &state,
        &actor,
        "account_group.add_account",
        &g.id,
        serde_json::json!({"account": child}),
        async |txn| {
            require_manager(&actor)?;
            if child == parent {
                return Err(ApiError::BadRequest(
                    "an account cannot be its own child".into(),
                ));
            }
            // Only a child that accepted this parent; any other answers the
            // same as an unknown account, so account ids cannot be probed.
            crate::store::model::account(txn, &child)
                .await?
                .filter(|c| c.parent_account_id.as_deref() == Some(parent.as_str()))
                .ok_or_else(|| {
                    ApiError::NotFound(format!(
                        "no account {child} has accepted this account as its parent"
                    ))
                })?;
            Ok(account_groups::add_child(txn, &g.id, &child).await?)
        },
    )
    .await?;
    state.resolver.invalidate(&child);
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(responses((status = 204), (status = 404)), tag = "account-groups")]
#[delete("/accounts/{id}/account-groups/{g}/accounts/{child}")]
pub async fn remove_child(
    state: State,
    actor: Actor,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_parent, g, child) = path.into_inner();
    let g = group(&state, &actor, &g).await?.group;
    audited(
        &state,
        &actor,
        "account_group.remove_account",
        &g.id,
        serde_json::json!({"account": child}),
        async |txn| {
            require_manager(&actor)?;
            if account_groups::remove_child(txn, &g.id, &child).await? {
                Ok(())
            } else {
                Err(ApiError::NotFound(format!("{child} is not in the group")))
            }
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRef {
    #[serde(rename = "displayName")]
    display_name: Option<String>,
    #[serde(rename = "externalId")]
    external_id: Option<String>,
    id: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// A user of the parent account (email or id)...
    user: Option<String>,
    /// ...or the members of one of its SCIM groups.
    group: Option<GroupRef>,
    /// Built-in roles (custom roles belong to one account).
    roles: Vec<String>,
    /// Environment names, looked up in each child.
    environments: Option<Vec<String>>,
}

async fn subject(state: &State, actor: &Actor, b: &AssignBody) -> Result<Subject, ApiError> {
    match (&b.user, &b.group) {
        (Some(u), None) => {
            match crate::store::model::find_user(&state.db, actor.account_id(), u).await? {
                Lookup::One(user) => Ok(Subject::User(user.id)),
                _ => Err(ApiError::BadRequest(format!(
                    "unknown user of this account: {u}"
                ))),
            }
        }
        (None, Some(g)) => match (&g.display_name, &g.external_id, &g.id) {
            (Some(v), None, None) => Ok(Subject::Group(MatchKind::DisplayName, v.clone())),
            (None, Some(v), None) => Ok(Subject::Group(MatchKind::ExternalId, v.clone())),
            (None, None, Some(v)) => Ok(Subject::Group(MatchKind::Id, v.clone())),
            _ => Err(ApiError::BadRequest(
                "group must name exactly one of displayName, externalId or id".into(),
            )),
        },
        _ => Err(ApiError::BadRequest(
            "give exactly one of user or group".into(),
        )),
    }
}

/// Built-in roles only, never the built-in Administrator.
fn group_roles(actor: &Actor, names: &[String]) -> Result<Vec<String>, ApiError> {
    if names.is_empty() {
        return Err(ApiError::BadRequest("name at least one role".into()));
    }
    let mut out = vec![];
    for n in names {
        let b = crate::catalog::builtin_role(n).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{n} is not a built-in role: account groups give built-in roles, since custom roles belong to one account"
            ))
        })?;
        let role = RoleRef::Builtin(b.key);
        crate::access::check_mappable(&role)?;
        actor
            .access
            .may_assign(&actor.account.model.effective_privileges(&role)?)?;
        out.push(b.key.to_string());
    }
    Ok(out)
}

/// Gives a parent user (or a parent SCIM group's members) roles in every child.
#[utoipa::path(request_body = AssignBody, responses((status = 201, description = "{ids}"), (status = 400), (status = 403)), tag = "account-groups")]
#[post("/accounts/{id}/account-groups/{g}/roles")]
pub async fn assign(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Json<AssignBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let g = group(&state, &actor, &path.1).await?.group;
    let details = serde_json::json!({"user": b.user, "group": b.group.as_ref().map(|_| "scim group"), "roles": b.roles, "environments": b.environments});
    let who = subject(&state, &actor, &b).await;
    let ids = audited(
        &state,
        &actor,
        "account_group.assign",
        &g.id,
        details,
        async |txn| {
            require_manager(&actor)?;
            let roles = group_roles(&actor, &b.roles)?;
            let new = NewGroupRole {
                group_id: g.id.clone(),
                subject: who?,
                roles,
                environments: b.environments.clone(),
            };
            Ok(account_groups::assign(txn, new).await?)
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(serde_json::json!({"ids": ids})))
}

#[utoipa::path(responses((status = 204), (status = 404)), tag = "account-groups")]
#[delete("/accounts/{id}/account-groups/{g}/roles/{assignment}")]
pub async fn unassign(
    state: State,
    actor: Actor,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_parent, g, a) = path.into_inner();
    let g = group(&state, &actor, &g).await?.group;
    audited(
        &state,
        &actor,
        "account_group.unassign",
        &a,
        serde_json::json!({"group": g.id}),
        async |txn| {
            require_manager(&actor)?;
            if account_groups::unassign(txn, &g.id, &a).await? {
                Ok(())
            } else {
                Err(ApiError::NotFound(format!("unknown assignment: {a}")))
            }
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Users of parent accounts who hold roles here through account groups:
/// shown to the account's user managers, read-only.
#[utoipa::path(responses((status = 200, description = "[{user_id, email, account, via, roles}]")), tag = "account-groups")]
#[get("/accounts/{id}/inherited-users")]
pub async fn inherited(
    state: State,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    actor.require_any(&[USER_MANAGEMENT, USER_MANAGEMENT_LIMITED])?;
    let rows = crate::store::cross_account::inherited_users(
        &state.db,
        &actor.account.model,
        &path,
        crate::store::now_ms(),
    )
    .await?;
    let out: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|(u, access)| {
            serde_json::json!({
                "user_id": u.id, "email": u.user_name, "account": u.account_id, "read_only": true,
                "roles": access.roles.iter().map(|r| serde_json::json!({"role": r.name, "via": r.via})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}
