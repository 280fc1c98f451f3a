//! Sign-in: single sign-on through OIDC or SAML connections, local break-glass sign-in, sessions and the JWKS.

pub mod client;
pub mod connection;
pub mod connection_setup;
pub mod domain_check;
pub mod error;
pub mod oidc;
pub mod pages;
pub mod password_checks;
pub mod return_to;
pub mod saml;
pub mod saml_decrypt;
pub mod saml_setup;
pub mod saml_xml;
pub mod signin;
pub mod test_result;

/// SSO settings live in the store; kept reachable under their old name.
pub use crate::store::sso_settings as settings;

pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(connection::login)
        .service(connection::start)
        .service(oidc::callback)
        .service(saml::metadata)
        .service(saml::acs)
        .service(signin::local_page)
        .service(signin::local_login)
        .service(signin::current_session)
        .service(signin::logout)
        .service(signin::jwks);
}
