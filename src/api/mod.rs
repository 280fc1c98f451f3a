//! Management API (`/api/v1`): thin handlers over the access engine and the store.

pub(crate) mod accounts;
pub(crate) mod api_keys;
pub(crate) mod audit_log;
pub mod auth;
pub(crate) mod authorize;
pub(crate) mod environments;
pub mod error;
pub(crate) mod mappings;
pub(crate) mod roles;
pub(crate) mod sso_settings;
pub(crate) mod tokens;
pub(crate) mod users;

use crate::state::AppState;
use crate::store::audit::{self, Event};
use actix_web::web;
use auth::Actor;
use error::ApiError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .service(accounts::privileges)
            .service(accounts::get_account)
            .service(accounts::patch_account)
            .service(roles::list)
            .service(roles::create)
            .service(roles::get)
            .service(roles::update)
            .service(roles::delete)
            .service(environments::list)
            .service(environments::create)
            .service(environments::get)
            .service(environments::update)
            .service(environments::delete)
            .service(mappings::list)
            .service(mappings::create)
            .service(mappings::delete)
            .service(users::get_roles)
            .service(users::put_roles)
            .service(users::access)
            .service(authorize::authorize)
            .service(audit_log::list)
            .service(tokens::list)
            .service(tokens::create)
            .service(tokens::revoke)
            .service(api_keys::list)
            .service(api_keys::create)
            .service(api_keys::revoke)
            .service(sso_settings::get)
            .service(sso_settings::put),
    );
}

/// Records the outcome of a management write, success or not, then returns it.
pub(crate) async fn audited<T>(
    state: &AppState,
    actor: &Actor,
    action: &str,
    target: &str,
    details: serde_json::Value,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    let outcome = match &result {
        Ok(_) => "success".to_string(),
        Err(ApiError::Forbidden(_)) => "denied".to_string(),
        Err(ApiError::Internal(_)) => "error".to_string(),
        Err(e) => format!("rejected: {e}"),
    };
    if result.is_ok() {
        state.resolver.invalidate(actor.account_id());
    }
    let mut d = details;
    crate::json::set(&mut d, "credential", serde_json::json!(actor.credential));
    let ev = Event::new(
        Some(actor.account_id()),
        actor.email.clone(),
        action,
        target,
    )
    .outcome(&outcome)
    .details(d);
    if let Err(e) = audit::record(&state.db, ev).await {
        // A write whose audit event cannot be stored is reported as failed.
        return Err(ApiError::internal(e));
    }
    actor.caller.mark_audited();
    result
}
