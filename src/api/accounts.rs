use super::{audited, auth::Actor, error::ApiError};
use crate::access::Scoping;
use crate::catalog::{self, ACCOUNT_ADMINISTRATION};
use crate::state::State;
use crate::store::accounts;
use actix_web::{delete, get, patch, put, web, HttpResponse};
use serde::{Deserialize, Serialize};

/// The privilege catalog.
#[utoipa::path(responses((status = 200, body = [catalog::Privilege])), tag = "catalog")]
#[get("/privileges")]
pub async fn privileges(_actor: Actor) -> HttpResponse {
    HttpResponse::Ok().json(catalog::PRIVILEGES)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AccountView {
    id: String,
    name: String,
    advanced_user_security: bool,
    /// Data Detective privileges usable.
    pii_data_insights: bool,
    /// DataHub stewardship usable.
    datahub: bool,
    /// The parent account this account accepted for account groups.
    parent_account: Option<String>,
    environment_scoping: String,
}

impl From<&accounts::Account> for AccountView {
    fn from(a: &accounts::Account) -> Self {
        AccountView {
            id: a.id.clone(),
            name: a.name.clone(),
            advanced_user_security: a.advanced_user_security,
            pii_data_insights: a.pii_data_insights,
            datahub: a.datahub,
            parent_account: a.parent_account_id.clone(),
            environment_scoping: a.environment_scoping.clone(),
        }
    }
}

#[utoipa::path(responses((status = 200, body = AccountView)), tag = "accounts")]
#[get("/accounts/{id}")]
pub async fn get_account(actor: Actor, _path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(AccountView::from(&actor.account.account)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    name: Option<String>,
    advanced_user_security: Option<bool>,
    pii_data_insights: Option<bool>,
    datahub: Option<bool>,
    environment_scoping: Option<String>,
}

/// Account settings and features (Account Administration).
#[utoipa::path(request_body = AccountPatch, responses((status = 200, body = AccountView), (status = 403)), tag = "accounts")]
#[patch("/accounts/{id}")]
pub async fn patch_account(
    state: State,
    actor: Actor,
    _path: web::Path<String>,
    body: web::Json<AccountPatch>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let details = serde_json::json!({"name": b.name, "advanced_user_security": b.advanced_user_security, "pii_data_insights": b.pii_data_insights, "datahub": b.datahub, "environment_scoping": b.environment_scoping});
    let a = audited(
        &state,
        &actor,
        "account.update",
        &actor.account.account.id,
        details,
        async |txn| {
            actor.require(ACCOUNT_ADMINISTRATION)?;
            let mut change = accounts::AccountChange {
                advanced_user_security: b.advanced_user_security,
                pii_data_insights: b.pii_data_insights,
                datahub: b.datahub,
                ..Default::default()
            };
            if let Some(n) = b.name {
                if n.trim().is_empty() {
                    return Err(ApiError::BadRequest("name must not be empty".into()));
                }
                change.name = Some(n.trim().to_string());
            }
            if let Some(s) = b.environment_scoping {
                let s = Scoping::parse(&s).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "environment_scoping must be \"additive\" or \"strict\", not {s:?}"
                    ))
                })?;
                change.environment_scoping = Some(s.as_str().into());
            }
            let updated = accounts::update(txn, &actor.account.account, change).await?;
            crate::store::access_events::emit_for_account(
                txn,
                &state.read,
                &actor.account,
                "account.update",
            )
            .await?;
            Ok(updated)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(AccountView::from(&a)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParentBody {
    parent_account: String,
}

/// Accepts a parent account: it may then put this account in its account
/// groups and give its own users roles here (Account Administration).
#[utoipa::path(request_body = ParentBody, responses((status = 200, body = AccountView), (status = 400), (status = 403)), tag = "account-groups")]
#[put("/accounts/{id}/parent")]
pub async fn set_parent(
    state: State,
    actor: Actor,
    _path: web::Path<String>,
    body: web::Json<ParentBody>,
) -> Result<HttpResponse, ApiError> {
    let parent = body.into_inner().parent_account;
    let details = serde_json::json!({"parent_account": parent});
    let a = audited(
        &state,
        &actor,
        "account.parent.set",
        &parent,
        details,
        async |txn| {
            actor.require(ACCOUNT_ADMINISTRATION)?;
            if parent == actor.account_id() {
                return Err(ApiError::BadRequest(
                    "an account cannot be its own parent".into(),
                ));
            }
            crate::store::model::account(txn, &parent)
                .await?
                .ok_or_else(|| ApiError::BadRequest(format!("unknown account: {parent}")))?;
            let change = accounts::AccountChange {
                parent_account_id: Some(Some(parent.clone())),
                ..Default::default()
            };
            Ok(accounts::update(txn, &actor.account.account, change).await?)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(AccountView::from(&a)))
}

/// Withdraws the acceptance: the parent's users lose every role here at once.
#[utoipa::path(responses((status = 200, body = AccountView), (status = 403)), tag = "account-groups")]
#[delete("/accounts/{id}/parent")]
pub async fn clear_parent(
    state: State,
    actor: Actor,
    _path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let target = actor.account_id().to_string();
    let a = audited(
        &state,
        &actor,
        "account.parent.clear",
        &target,
        serde_json::json!({}),
        async |txn| {
            actor.require(ACCOUNT_ADMINISTRATION)?;
            let change = accounts::AccountChange {
                parent_account_id: Some(None),
                ..Default::default()
            };
            Ok(accounts::update(txn, &actor.account.account, change).await?)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(AccountView::from(&a)))
}

/// What the console's overview shows: counts, SSO and SCIM status, recent
/// SCIM refusals and break-glass sign-ins (Account Administration).
#[utoipa::path(responses((status = 200, description = "{users, groups, sessions, sso, scim, break_glass}")), tag = "accounts")]
#[get("/accounts/{id}/status")]
pub async fn status(
    state: crate::state::State,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    actor.require(crate::catalog::ACCOUNT_ADMINISTRATION)?;
    use crate::store::{audit, connections, credentials, model};
    let db = &state.read;
    let counts = model::account_counts(db, &path).await?;
    let conns = connections::list(db, &path).await?;
    let mode = connections::mode(db, &path).await?;
    let recent = |action: &str, limit: u64, since_ms: Option<i64>| audit::Query {
        action: Some(action.into()),
        since_ms,
        limit,
        ..Default::default()
    };
    let (scim_errors, _) = audit::list(db, &path, recent("scim.rejected", 5, None)).await?;
    let day_ago = crate::store::now_ms() - 24 * 3600 * 1000;
    let (break_glass, _) =
        audit::list(db, &path, recent("break_glass.login", 10, Some(day_ago))).await?;
    let tokens = credentials::list_scim_tokens(db, &path).await?;
    let live_tokens = tokens.iter().filter(|t| t.revoked_at.is_none()).count();
    let last_push = audit::last_at(db, &path, "scim.").await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "users": counts.users, "active_users": counts.active_users, "groups": counts.groups,
        "live_sessions": counts.live_sessions,
        "sso": {"mode": mode, "connections": conns.len(), "enabled": conns.iter().filter(|c| c.enabled).count()},
        "scim": {"tokens": live_tokens, "last_request_at": last_push, "recent_errors": scim_errors},
        "break_glass_last_24h": break_glass,
    })))
}
