//! Refused writes are audited too.
//!
//! Handlers audit what they decide; requests refused before a handler runs
//! (a body that does not parse, an unknown target, another account's path)
//! or refused by a SCIM rule are recorded here, once, as `api.rejected` or
//! `scim.rejected`. Only authenticated callers are recorded: anonymous
//! refusals could be sent by anyone and would only grow the log.

use crate::state::State;
use crate::store::audit::{self, Event};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};
use std::sync::atomic::Ordering;

pub use crate::caller::Caller;

/// The account named in a management path (`/api/v1/accounts/{id}/...`).
fn path_account(path: &str) -> Option<&str> {
    path.strip_prefix("/api/v1/accounts/")?
        .split('/')
        .next()
        .filter(|s| !s.is_empty())
}

fn worth_recording(req: &HttpRequest, status: StatusCode, caller: Option<&Caller>) -> bool {
    if !status.is_client_error()
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        return false;
    }
    // `/authorize` is a question, not a write, and is asked at volume.
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && req.path() != "/api/v1/authorize";
    let cross_account =
        caller.is_some_and(|c| path_account(req.path()).is_some_and(|a| a != c.account_id));
    write || cross_account
}

/// Finds the caller when the extractor did not get to record it (a body
/// error can end extraction first).
async fn caller_of(req: &HttpRequest) -> Option<Caller> {
    if let Some(c) = req.extensions().get::<Caller>().cloned() {
        return Some(c);
    }
    if req.path().starts_with("/scim/") {
        crate::scim::caller(req).await
    } else {
        crate::api::auth::caller(req).await
    }
}

pub async fn audit_rejections(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let managed = req.path().starts_with("/api/v1/") || req.path().starts_with("/scim/v2/");
    let res = next.call(req).await?;
    if !managed || !res.status().is_client_error() {
        return Ok(res);
    }
    let http = res.request().clone();
    let Some(caller) = caller_of(&http).await else {
        return Ok(res);
    };
    if caller.audited.load(Ordering::SeqCst) || !worth_recording(&http, res.status(), Some(&caller))
    {
        return Ok(res);
    }
    let Some(state) = http.app_data::<State>() else {
        return Ok(res);
    };
    let action = if http.path().starts_with("/scim/") {
        "scim.rejected"
    } else {
        "api.rejected"
    };
    let reason = res
        .response()
        .error()
        .map(|e| e.to_string())
        .unwrap_or_default();
    let details = serde_json::json!({
        "method": http.method().as_str(),
        "path": http.path(),
        "status": res.status().as_u16(),
        "reason": reason.chars().take(500).collect::<String>(),
        "credential": caller.credential,
    });
    let event = Event::new(
        Some(&caller.account_id),
        caller.actor.clone(),
        action,
        http.path(),
    )
    .outcome(if res.status() == StatusCode::FORBIDDEN {
        "denied"
    } else {
        "rejected"
    })
    .details(details);
    if let Err(e) = audit::record(&state.db, event).await {
        tracing::error!(error = %e, "could not record a refused request");
    }
    caller.mark_audited();
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::path_account;

    #[test]
    fn finds_the_account_in_management_paths() {
        assert_eq!(path_account("/api/v1/accounts/abc/roles"), Some("abc"));
        assert_eq!(path_account("/api/v1/accounts/abc"), Some("abc"));
        assert_eq!(path_account("/api/v1/accounts/"), None);
        assert_eq!(path_account("/api/v1/authorize"), None);
        assert_eq!(path_account("/scim/v2/Users"), None);
    }
}
