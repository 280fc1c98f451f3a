//! RFC 7644 §3.12 error bodies: the one mapping from SCIM failures to responses.

use actix_web::{http::StatusCode, HttpResponse, ResponseError};
use serde_json::json;

pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const CONTENT_TYPE: &str = "application/scim+json";

#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad("invalidValue", detail)
    }
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad("invalidSyntax", detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some("uniqueness"), detail)
    }
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::new(403, Some("mutability"), detail)
    }
    pub fn unauthorized() -> Self {
        Self::new(401, None, "a valid SCIM bearer token is required")
    }
    pub fn internal() -> Self {
        Self::new(500, None, "internal error")
    }
    /// 429: the token sent more than its rate; `Retry-After` says when to resume.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self::new(
            429,
            None,
            format!("too many requests for this token; retry after {retry_after_secs} s"),
        )
    }
}

impl From<sea_orm::DbErr> for ScimError {
    fn from(e: sea_orm::DbErr) -> Self {
        if crate::store::is_unique_violation(&e) {
            return ScimError::uniqueness("a resource with that unique attribute already exists");
        }
        // Internals are logged, never sent.
        tracing::error!(error = %e, "database error on a SCIM route");
        ScimError::internal()
    }
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = json!({"schemas": [ERROR_URN], "status": self.status.to_string(), "detail": self.detail});
        if let Some(t) = self.scim_type {
            crate::json::set(&mut body, "scimType", json!(t));
        }
        let mut res = HttpResponse::build(self.status_code());
        res.content_type(CONTENT_TYPE);
        if self.status == 401 {
            res.insert_header(("WWW-Authenticate", "Bearer realm=\"idbridge-scim\""));
        }
        if self.status == 429 {
            // Entra and Okta back off on 429 and honour Retry-After.
            res.insert_header(("Retry-After", "1"));
        }
        res.body(body.to_string())
    }
}
