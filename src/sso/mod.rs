//! Sign-in: OIDC single sign-on, local break-glass sign-in, sessions and the JWKS.

pub mod keys;
pub mod oidc;
pub mod pages;
pub mod password_checks;
pub mod session;
pub mod settings;
pub mod signin;
pub mod throttle;

pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(oidc::login)
        .service(oidc::callback)
        .service(signin::local_page)
        .service(signin::local_login)
        .service(signin::current_session)
        .service(signin::logout)
        .service(signin::jwks);
}
