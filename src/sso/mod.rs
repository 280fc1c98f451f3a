//! Sign-in: OIDC single sign-on, local break-glass sign-in, sessions and the JWKS.

pub mod client;
pub mod error;
pub mod oidc;
pub mod pages;
pub mod password_checks;
pub mod return_to;
pub mod signin;

/// SSO settings live in the store; kept reachable under their old name.
pub use crate::store::sso_settings as settings;

pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(oidc::login)
        .service(oidc::callback)
        .service(signin::local_page)
        .service(signin::local_login)
        .service(signin::current_session)
        .service(signin::logout)
        .service(signin::jwks);
}
