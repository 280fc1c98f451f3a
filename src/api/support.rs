//! Support access (seed 000: "Grant or disable support access" is for
//! administrators): time-boxed grants that let the platform's support staff
//! act in the account with one role, optionally in some environments only.

use super::{audited, auth::Actor, error::ApiError};
use crate::access::RoleRef;
use crate::catalog::{ACCOUNT_ADMINISTRATION, USER_MANAGEMENT};
use crate::state::State;
use crate::store::credentials::iso;
use crate::store::support::{self, SupportGrant};
use crate::store::{now_ms, platform};
use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};

/// The longest a grant may last.
const MAX_DAYS: i64 = 30;
const DAY_MS: i64 = 24 * 3600 * 1000;

#[derive(Serialize, utoipa::ToSchema)]
pub struct GrantView {
    id: String,
    role: String,
    /// Environment names the grant is narrowed to; absent for wherever the role reaches.
    environments: Option<Vec<String>>,
    starts_at: String,
    ends_at: String,
    granted_by: String,
    disabled_at: Option<String>,
    disabled_by: Option<String>,
    live: bool,
}

fn view(actor: &Actor, g: &SupportGrant) -> Result<GrantView, ApiError> {
    let model = &actor.account.model;
    let environments = g.environment_ids()?.map(|ids| {
        ids.into_iter()
            .map(|id| model.env_name(&crate::access::EnvId(id)))
            .collect()
    });
    Ok(GrantView {
        id: g.id.clone(),
        role: model.role_name(&RoleRef::from_stored(&g.role_ref)),
        environments,
        starts_at: iso(g.starts_at),
        ends_at: iso(g.ends_at),
        granted_by: g.granted_by.clone(),
        disabled_at: g.disabled_at.map(iso),
        disabled_by: g.disabled_by.clone(),
        live: g.is_live(now_ms()),
    })
}

/// Administrators only: account configuration and user administration both.
fn require_administrator(actor: &Actor) -> Result<(), ApiError> {
    if actor.outside.is_some() {
        // Support staff cannot extend their own access.
        return Err(ApiError::Forbidden(vec![
            "an administrator of this account".into(),
        ]));
    }
    actor.require(ACCOUNT_ADMINISTRATION)?;
    actor.require(USER_MANAGEMENT)
}

#[utoipa::path(responses((status = 200, body = [GrantView])), tag = "support-access")]
#[get("/accounts/{id}/support-access")]
pub async fn list(
    state: State,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    actor.require(ACCOUNT_ADMINISTRATION)?;
    let grants = support::list(&state.db, &path).await?;
    let out = grants
        .iter()
        .map(|g| view(&actor, g))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    /// When the grant ends (RFC 3339), at most 30 days out. Or `days`.
    ends_at: Option<String>,
    /// Length in days (1 to 30), instead of `ends_at`.
    days: Option<u32>,
    /// The role support staff act with; default Support.
    role: Option<String>,
    /// Environment names or ids; default: wherever the role reaches.
    environments: Option<Vec<String>>,
}

fn end_of(b: &GrantBody, now: i64) -> Result<i64, ApiError> {
    let ends = match (&b.ends_at, b.days) {
        (Some(t), None) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| ApiError::BadRequest(format!("ends_at is not an RFC 3339 time: {e}")))?
            .timestamp_millis(),
        (None, Some(d)) => now + i64::from(d) * DAY_MS,
        (None, None) => return Err(ApiError::BadRequest("give ends_at or days".into())),
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "give ends_at or days, not both".into(),
            ))
        }
    };
    if ends <= now {
        return Err(ApiError::BadRequest(
            "the grant must end in the future".into(),
        ));
    }
    if ends > now + MAX_DAYS * DAY_MS {
        return Err(ApiError::BadRequest(format!(
            "support access lasts at most {MAX_DAYS} days"
        )));
    }
    Ok(ends)
}

/// The grant's role and environments, checked against the account.
fn scope(actor: &Actor, b: &GrantBody) -> Result<(RoleRef, Option<Vec<String>>), ApiError> {
    let model = &actor.account.model;
    let name = b.role.as_deref().unwrap_or("SUPPORT");
    let role = model
        .find_role(name)
        .ok_or_else(|| ApiError::BadRequest(format!("unknown role: {name}")))?;
    if model.is_or_inherits_administrator(&role) {
        return Err(ApiError::BadRequest(
            "support access cannot carry the built-in Administrator role, or a role inheriting it"
                .into(),
        ));
    }
    model.check_assignable(&role)?;
    let environments = match &b.environments {
        None => None,
        Some(names) => Some(
            names
                .iter()
                .map(|n| {
                    model
                        .find_environment(n)
                        .map(|e| e.id.as_str().to_string())
                        .ok_or_else(|| ApiError::BadRequest(format!("unknown environment: {n}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    Ok((role, environments))
}

/// Grants support access (an administrator only).
#[utoipa::path(request_body = GrantBody, responses((status = 201, body = GrantView), (status = 400), (status = 403), (status = 409)), tag = "support-access")]
#[post("/accounts/{id}/support-access")]
pub async fn grant(
    state: State,
    actor: Actor,
    path: web::Path<String>,
    body: web::Json<GrantBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let details = serde_json::json!({"ends_at": b.ends_at, "days": b.days, "role": b.role, "environments": b.environments});
    let g = audited(
        &state,
        &actor,
        "support.grant",
        &path,
        details,
        async |txn| {
            require_administrator(&actor)?;
            let ends_at = end_of(&b, now_ms())?;
            let (role, environments) = scope(&actor, &b)?;
            if platform::get(txn, platform::SUPPORT_ACCOUNT)
                .await?
                .is_none()
            {
                return Err(ApiError::Conflict(
                    "no support account is configured (idbridge support-account set)".into(),
                ));
            }
            let new = support::NewGrant {
                account_id: path.to_string(),
                role_ref: role.to_string(),
                environments,
                ends_at,
                granted_by: actor.email.clone(),
            };
            Ok(support::insert(txn, new).await?)
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(view(&actor, &g)?))
}

/// Ends a grant at once (an administrator only).
#[utoipa::path(responses((status = 204), (status = 403), (status = 404)), tag = "support-access")]
#[delete("/accounts/{id}/support-access/{grant}")]
pub async fn disable(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (acct, id) = path.into_inner();
    audited(
        &state,
        &actor,
        "support.disable",
        &id,
        serde_json::json!({}),
        async |txn| {
            require_administrator(&actor)?;
            if support::disable(txn, &acct, &id, &actor.email).await? {
                Ok(())
            } else {
                Err(ApiError::NotFound(format!("no live support grant {id}")))
            }
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
