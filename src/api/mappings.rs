//! Group-to-role mappings. The built-in Administrator role is never mappable.

use super::{audited, auth::Actor, error::ApiError};
use crate::access::check_mappable;
use crate::catalog::{USER_MANAGEMENT, USER_MANAGEMENT_LIMITED};
use crate::state::State;
use crate::store::kinds::MatchKind;
use crate::store::mappings;
use crate::store::new_id;
use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize, utoipa::ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct GroupRef {
    #[serde(rename = "displayName", skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(rename = "externalId", skip_serializing_if = "Option::is_none")]
    external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingBody {
    group: GroupRef,
    roles: Vec<String>,
    /// Narrow the mapped roles to these environments (names or ids).
    environments: Option<Vec<String>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MappingView {
    id: String,
    group: GroupRef,
    roles: Vec<String>,
    environments: Option<Vec<String>>,
}

fn view(m: &mappings::Mapping, roles: &[mappings::MappingRole]) -> MappingView {
    let v = Some(m.match_value.clone());
    let group = match m.match_kind {
        MatchKind::DisplayName => GroupRef {
            display_name: v,
            external_id: None,
            id: None,
        },
        MatchKind::ExternalId => GroupRef {
            display_name: None,
            external_id: v,
            id: None,
        },
        MatchKind::Id => GroupRef {
            display_name: None,
            external_id: None,
            id: v,
        },
    };
    let environments = roles
        .first()
        .and_then(|r| r.environments.as_deref())
        .and_then(|s| serde_json::from_str(s).ok());
    MappingView {
        id: m.id.clone(),
        group,
        roles: roles.iter().map(|r| r.role_ref.clone()).collect(),
        environments,
    }
}

#[utoipa::path(responses((status = 200, body = [MappingView])), tag = "group-mappings")]
#[get("/accounts/{id}/group-mappings")]
pub async fn list(
    state: State,
    _actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let maps = crate::store::model::mappings(&state.db, &path).await?;
    Ok(HttpResponse::Ok().json(maps.iter().map(|(m, r)| view(m, r)).collect::<Vec<_>>()))
}

/// A mapping the actor may create: exactly one group key, known roles the
/// actor may hand out (never the built-in Administrator), known environments.
fn checked_mapping(
    actor: &Actor,
    b: &MappingBody,
    id: &str,
    account_id: &str,
) -> Result<mappings::MappingRow, ApiError> {
    actor.require_any(&[USER_MANAGEMENT, USER_MANAGEMENT_LIMITED])?;
    let model = &actor.account.model;
    let (kind, value) = match (&b.group.display_name, &b.group.external_id, &b.group.id) {
        (Some(v), None, None) => (MatchKind::DisplayName, v.clone()),
        (None, Some(v), None) => (MatchKind::ExternalId, v.clone()),
        (None, None, Some(v)) => (MatchKind::Id, v.clone()),
        _ => {
            return Err(ApiError::BadRequest(
                "group must name exactly one of displayName, externalId or id".into(),
            ))
        }
    };
    if value.trim().is_empty() {
        return Err(ApiError::BadRequest("group value must not be empty".into()));
    }
    if b.roles.is_empty() {
        return Err(ApiError::BadRequest(
            "a mapping names at least one role".into(),
        ));
    }
    let mut roles = vec![];
    for r in &b.roles {
        let rid = model
            .find_role(r)
            .ok_or_else(|| ApiError::BadRequest(format!("unknown role: {r}")))?;
        check_mappable(&rid)?;
        model.check_assignable(&rid)?;
        actor
            .access
            .may_assign(&model.effective_privileges(&rid)?)?;
        if !roles.contains(&rid) {
            roles.push(rid);
        }
    }
    let environments = match &b.environments {
        None => None,
        Some(names) => Some(
            names
                .iter()
                .map(|e| {
                    model
                        .find_environment(e)
                        .map(|x| x.id.clone())
                        .ok_or_else(|| ApiError::BadRequest(format!("unknown environment: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    Ok(mappings::MappingRow {
        id: id.to_string(),
        account_id: account_id.to_string(),
        match_kind: kind,
        match_value: value,
        roles: roles.iter().map(ToString::to_string).collect(),
        environments: environments.map(|e| e.into_iter().map(|x| x.0).collect()),
    })
}

#[utoipa::path(request_body = MappingBody, responses((status = 201, body = MappingView), (status = 400), (status = 403)), tag = "group-mappings")]
#[post("/accounts/{id}/group-mappings")]
pub async fn create(
    state: State,
    actor: Actor,
    path: web::Path<String>,
    body: web::Json<MappingBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let id = new_id();
    let details =
        serde_json::json!({"group": b.group, "roles": b.roles, "environments": b.environments});
    audited(
        &state,
        &actor,
        "group_mapping.create",
        &id,
        details,
        async |txn| {
            let row = checked_mapping(&actor, &b, &id, &path)?;
            mappings::insert(txn, row).await?;
            let members = crate::store::model::members_of_mapped_groups(txn, &path, &id).await?;
            let ids = members.into_iter().map(|u| u.id);
            crate::store::access_events::emit(
                txn,
                &state.read,
                &actor.account,
                ids,
                "group_mapping.create",
            )
            .await?;
            Ok(())
        },
    )
    .await?;
    let maps = crate::store::model::mappings(&state.db, &path).await?;
    let (m, r) = maps
        .iter()
        .find(|(m, _)| m.id == id)
        .ok_or_else(|| ApiError::NotFound("mapping".into()))?;
    Ok(HttpResponse::Created().json(view(m, r)))
}

#[utoipa::path(responses((status = 204), (status = 404)), tag = "group-mappings")]
#[delete("/accounts/{id}/group-mappings/{m}")]
pub async fn delete(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (acct, mid) = path.into_inner();
    let maps = crate::store::model::mappings(&state.db, &acct).await?;
    let (_, roles) = maps
        .iter()
        .find(|(m, _)| m.id == mid)
        .ok_or_else(|| ApiError::NotFound(format!("unknown group mapping: {mid}")))?;
    audited(
        &state,
        &actor,
        "group_mapping.delete",
        &mid,
        serde_json::json!({}),
        async |txn| {
            actor.require_any(&[USER_MANAGEMENT, USER_MANAGEMENT_LIMITED])?;
            for r in roles {
                let role = crate::access::RoleRef::from_stored(&r.role_ref);
                if let Ok(p) = actor.account.model.effective_privileges(&role) {
                    actor.access.may_assign(&p)?;
                }
            }
            let members = crate::store::model::members_of_mapped_groups(txn, &acct, &mid).await?;
            mappings::delete(txn, &mid).await?;
            let ids = members.into_iter().map(|u| u.id);
            crate::store::access_events::emit(
                txn,
                &state.read,
                &actor.account,
                ids,
                "group_mapping.delete",
            )
            .await?;
            Ok(())
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What a new mapping would change, before it is saved: for every user in
/// the groups it matches, the roles and privileges they would gain. The
/// mapping is written in a transaction that is rolled back, and access is
/// computed by the same resolution as for real.
#[utoipa::path(request_body = MappingBody, responses((status = 200, description = "{members: [{id, userName, gains_roles, gains_privileges}]}")), tag = "group-mappings")]
#[post("/accounts/{id}/group-mappings/preview")]
pub async fn preview(
    state: State,
    actor: Actor,
    path: web::Path<String>,
    body: web::Json<MappingBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let id = new_id();
    let row = checked_mapping(&actor, &b, &id, &path)?;
    let acct = &actor.account;
    let txn = crate::store::write_txn(&state.db).await?;
    mappings::insert(&txn, row).await?;
    let members = crate::store::model::members_of_mapped_groups(&txn, &path, &id).await?;
    let mut out = Vec::new();
    for u in members {
        let after_grants = crate::store::model::user_grants(&txn, &path, &u.id, None).await?;
        let before_grants =
            crate::store::model::user_grants(&state.read, &path, &u.id, None).await?;
        let (before, after) = (acct.access(before_grants), acct.access(after_grants));
        let names = |a: &crate::access::Access| -> std::collections::BTreeSet<String> {
            a.role_names(crate::catalog::Family::Platform)
                .into_iter()
                .collect()
        };
        let privs = |a: &crate::access::Access| -> std::collections::BTreeSet<String> {
            acct.model
                .usable_privileges(a)
                .into_iter()
                .map(String::from)
                .collect()
        };
        out.push(serde_json::json!({
            "id": u.id, "userName": u.user_name,
            "gains_roles": names(&after).difference(&names(&before)).collect::<Vec<_>>(),
            "gains_privileges": privs(&after).difference(&privs(&before)).collect::<Vec<_>>(),
        }));
    }
    txn.rollback().await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"members": out})))
}
