//! `POST /authorize`: may user U use privilege P (in environment E), and why.

use super::{auth::Actor, error::ApiError};
use crate::access::{Access, AccessError, Decision};
use crate::catalog::API_ACCESS;
use crate::resolver::CachedAccount;
use crate::state::State;
use crate::store::cross_account;
use actix_web::{post, web, HttpResponse};
use serde::Deserialize;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeBody {
    account: String,
    user: String,
    privilege: String,
    environment: Option<String>,
}

/// Answered from the in-memory role cache. The caller's key needs API Access.
#[utoipa::path(request_body = AuthorizeBody, responses((status = 200, description = "{allowed, reason, via, additive_only}"), (status = 404)), tag = "authorize")]
#[post("/authorize")]
pub async fn authorize(
    state: State,
    actor: Actor,
    body: web::Json<AuthorizeBody>,
) -> Result<HttpResponse, ApiError> {
    actor.check_account(&body.account)?;
    actor.require(API_ACCESS)?;
    let acct = &actor.account;
    let (active, access) = match state.resolver.user(&state.db, acct, &body.user).await? {
        // An Arc: the resolved access is shared, not copied.
        Some(u) => (u.user.active, u.access.clone()),
        // Support staff and parent-account users reach the account from outside.
        None => outside_user(&state, acct, &body.user)
            .await?
            .map(|a| (true, std::sync::Arc::new(a)))
            .ok_or_else(|| ApiError::NotFound(format!("unknown user: {}", body.user)))?,
    };
    let decision = if !active {
        Decision {
            allowed: false,
            reason: "the user is deactivated".into(),
            via: Default::default(),
            additive_only: false,
        }
    } else {
        match acct
            .model
            .decide(&access, &body.privilege, body.environment.as_deref())
        {
            Ok(d) => d,
            Err(AccessError::UnknownEnvironment(e)) => {
                return Err(ApiError::NotFound(format!("unknown environment: {e}")))
            }
            Err(e) => return Err(e.into()),
        }
    };
    Ok(HttpResponse::Ok().json(decision))
}

/// What a user of another account (named by email or id) holds here through
/// support access or account groups; `None` when nothing reaches.
async fn outside_user(
    state: &State,
    target: &CachedAccount,
    key: &str,
) -> Result<Option<Access>, ApiError> {
    let now = crate::store::now_ms();
    for home in cross_account::outside_accounts(&state.db, &target.account.id, now).await? {
        let Some(acct) = state.resolver.account(&state.db, &home).await? else {
            continue;
        };
        let Some(u) = state.resolver.user(&state.db, &acct, key).await? else {
            continue;
        };
        let grants =
            cross_account::grants(&state.db, &target.model, &target.account.id, &u.user, now)
                .await?;
        if !grants.is_empty() {
            return Ok(Some(target.model.resolve(&grants)));
        }
    }
    Ok(None)
}
