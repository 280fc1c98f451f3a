//! The management API's error type and its one mapping to HTTP responses.

use crate::access::AccessError;
use actix_web::{http::StatusCode, HttpResponse, ResponseError};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required")]
    Unauthorized,
    #[error("missing privilege: {}", .0.join(", "))]
    Forbidden(Vec<String>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Well-formed but not possible now (422); `extra` fields join the body.
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: String,
        extra: serde_json::Value,
    },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError::Internal(Box::new(e))
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        if crate::store::is_unique_violation(&e) {
            return ApiError::Conflict("a resource with that name already exists".into());
        }
        ApiError::internal(e)
    }
}

impl From<crate::resolver::ResolveError> for ApiError {
    fn from(e: crate::resolver::ResolveError) -> Self {
        match e {
            crate::resolver::ResolveError::Ambiguous(_) => ApiError::Conflict(e.to_string()),
            crate::resolver::ResolveError::Db(e) => e.into(),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::Forbidden { missing } => ApiError::Forbidden(missing),
            AccessError::UnknownRole(_)
            | AccessError::UnknownPrivilege(_)
            | AccessError::UnknownEnvironment(_) => ApiError::BadRequest(e.to_string()),
            _ => ApiError::BadRequest(e.to_string()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let code = match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Unprocessable { code, .. } => code,
            ApiError::Internal(e) => {
                // Internals are logged, never sent.
                tracing::error!(error = %e, "internal error");
                "internal"
            }
        };
        let mut body = json!({"error": code, "message": self.to_string()});
        if let ApiError::Forbidden(missing) = self {
            crate::json::set(&mut body, "missing_privilege", json!(missing));
        }
        if let ApiError::Unprocessable { extra, .. } = self {
            for (k, v) in extra.as_object().into_iter().flatten() {
                crate::json::set(&mut body, k, v.clone());
            }
        }
        let mut res = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Unauthorized) {
            res.insert_header(("WWW-Authenticate", "Bearer"));
        }
        res.json(body)
    }
}

/// JSON body errors (malformed JSON, wrong types) answer 400 with the reason.
pub fn json_config(limit: usize) -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default()
        .limit(limit)
        .content_type_required(false)
        .error_handler(|err, _req| {
            let msg = err.to_string();
            let e = match err {
                actix_web::error::JsonPayloadError::Overflow { .. } | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                    actix_web::error::InternalError::from_response(err, HttpResponse::PayloadTooLarge().json(json!({"error": "too_large", "message": msg}))).into()
                }
                _ => actix_web::error::InternalError::from_response(err, HttpResponse::BadRequest().json(json!({"error": "bad_request", "message": format!("invalid JSON body: {msg}")}))).into(),
            };
            e
        })
}

pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default().error_handler(|err, _| {
        let msg = err.to_string();
        actix_web::error::InternalError::from_response(
            err,
            HttpResponse::BadRequest().json(json!({"error": "bad_request", "message": msg})),
        )
        .into()
    })
}

pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|err, _| {
        let msg = err.to_string();
        actix_web::error::InternalError::from_response(
            err,
            HttpResponse::BadRequest().json(json!({"error": "bad_request", "message": msg})),
        )
        .into()
    })
}
