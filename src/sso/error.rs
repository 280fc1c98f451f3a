//! Sign-in's error type and its one mapping to responses: refusal pages for
//! browsers, JSON for scripts, a generic page for internal errors (logged,
//! never shown).

use super::pages::refusal;
use actix_web::{http::StatusCode, HttpResponse, ResponseError};

#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// Something failed on our side.
    #[error("sign-in failed internally: {0}")]
    Internal(String),
    /// A refusal shown as a page.
    #[error("{title}: {detail}")]
    Refused {
        status: StatusCode,
        title: &'static str,
        detail: String,
        /// Escaped HTML appended to the page (a link onwards).
        extra_html: String,
    },
    /// Too many sign-ins at once: try again in a second.
    #[error("too many sign-ins at once")]
    Busy,
    /// A refusal answered as JSON.
    #[error("{message}")]
    Json {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
}

impl SsoError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        SsoError::Internal(e.to_string())
    }

    pub fn refused(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        SsoError::Refused {
            status,
            title,
            detail: detail.into(),
            extra_html: String::new(),
        }
    }

    pub fn json(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        SsoError::Json {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<sea_orm::DbErr> for SsoError {
    fn from(e: sea_orm::DbErr) -> Self {
        SsoError::internal(e)
    }
}

impl ResponseError for SsoError {
    fn status_code(&self) -> StatusCode {
        match self {
            SsoError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            SsoError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            SsoError::Refused { status, .. } | SsoError::Json { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            SsoError::Internal(e) => {
                tracing::error!(error = %e, "sign-in failed internally");
                refusal(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Sign-in failed",
                    "Something went wrong on our side.",
                    "",
                )
            }
            SsoError::Refused {
                status,
                title,
                detail,
                extra_html,
            } => refusal(*status, title, detail, extra_html),
            SsoError::Busy => HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", "1"))
                .json(serde_json::json!({"error": "busy", "message": "too many sign-ins at once; try again"})),
            SsoError::Json {
                status,
                code,
                message,
            } => HttpResponse::build(*status)
                .json(serde_json::json!({"error": code, "message": message})),
        }
    }
}
