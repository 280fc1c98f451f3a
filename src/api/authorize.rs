//! `POST /authorize`: may user U use privilege P (in environment E), and why.

use super::{auth::Actor, error::ApiError};
use crate::access::{AccessError, Decision};
use crate::catalog::API_ACCESS;
use crate::state::State;
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
    let u = state
        .resolver
        .user(&state.db, acct, &body.user)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("unknown user: {}", body.user)))?;
    let decision = if !u.user.active {
        Decision {
            allowed: false,
            reason: "the user is deactivated".into(),
            via: Default::default(),
            additive_only: false,
        }
    } else {
        match acct
            .model
            .decide(&u.access, &body.privilege, body.environment.as_deref())
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
