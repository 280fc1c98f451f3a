//! The web console at `/`: server-rendered pages for the account's
//! administrators and the customer's IT admin. It holds no authority of its
//! own: every read and write goes through the management API as the
//! signed-in person (`api.rs`), so it shows and does exactly what the API
//! lets them. Forms carry a CSRF token bound to the session and are refused
//! from other sites; pages are sent with a strict Content-Security-Policy
//! and load nothing but the two embedded assets.

// Pages read API answers as `serde_json::Value`, whose `value["key"]` gives
// Null for anything missing and never panics; slices and vectors are not
// indexed here.
#![allow(clippy::indexing_slicing)]

pub mod api;
mod audit;
mod connections;
mod credentials;
mod forms;
mod mappings;
mod overview;
mod roles;
mod signin;
mod users;
mod webhooks;

use crate::state::State;
use actix_web::{
    dev::Payload, get, http::StatusCode, FromRequest, HttpRequest, HttpResponse, ResponseError,
};
use maud::{html, Markup, DOCTYPE};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::pin::Pin;

pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(signin::home)
        .service(assets)
        .service(overview::page)
        .service(connections::list)
        .service(connections::wizard)
        .service(connections::create)
        .service(connections::verify_domain)
        .service(connections::add_domain)
        .service(connections::remove)
        .service(connections::mint_token)
        .service(roles::page)
        .service(roles::create)
        .service(roles::environment_create)
        .service(roles::enable_aus)
        .service(mappings::page)
        .service(mappings::submit)
        .service(mappings::remove)
        .service(users::list)
        .service(users::detail)
        .service(users::end_sessions)
        .service(credentials::page)
        .service(credentials::create_token)
        .service(credentials::revoke_token)
        .service(credentials::create_key)
        .service(credentials::revoke_key)
        .service(webhooks::page)
        .service(webhooks::create)
        .service(webhooks::detail)
        .service(webhooks::enable)
        .service(webhooks::remove)
        .service(webhooks::redeliver)
        .service(audit::page)
        .service(audit::export);
}

/// The person behind the session cookie, as far as the console needs to
/// know for its navigation; what they may do is decided by the API.
pub struct Viewer {
    pub cookie: String,
    pub email: String,
    pub account: String,
    pub privileges: Vec<String>,
    pub break_glass: bool,
    pub csrf: String,
}

impl Viewer {
    pub fn api(&self, state: &State) -> Result<api::Api, ConsoleError> {
        Ok(api::Api::new(state, &self.cookie)?)
    }

    pub fn may(&self, privilege: &str) -> bool {
        self.privileges.iter().any(|p| p == privilege)
    }

    /// `/api/v1/accounts/{account}` + `rest`.
    pub fn path(&self, rest: &str) -> String {
        format!("/api/v1/accounts/{}{rest}", self.account)
    }
}

/// The form token: a hash of the session cookie, so only a page this
/// session loaded can carry it, and every replica computes the same one.
fn csrf_token(cookie: &str) -> String {
    hex::encode(Sha256::digest(format!("idbridge console form\n{cookie}")))
}

impl FromRequest for Viewer {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let back = req.uri().path().to_string();
            let state = req
                .app_data::<State>()
                .cloned()
                .ok_or_else(|| ConsoleError::Internal("no state".into()))?;
            let Some(cookie) = req.cookie(crate::store::sessions::COOKIE) else {
                return Err(ConsoleError::SignIn(back));
            };
            let live = state
                .resolver
                .session_access(&state.db, cookie.value())
                .await
                .map_err(|e| ConsoleError::Internal(e.to_string()))?
                .ok_or(ConsoleError::SignIn(back))?;
            let privileges = live
                .account
                .model
                .usable_privileges(&live.access)
                .into_iter()
                .map(String::from)
                .collect();
            Ok(Viewer {
                csrf: csrf_token(cookie.value()),
                cookie: cookie.value().to_string(),
                email: live.user.user_name.clone(),
                account: live.session.account_id.clone(),
                privileges,
                break_glass: !live.is_sso(),
            })
        })
    }
}

/// Checks a console form: from this site, with this session's token.
pub fn check_form(
    state: &State,
    req: &HttpRequest,
    viewer: &Viewer,
    token: &str,
) -> Result<(), ConsoleError> {
    let same = subtle::ConstantTimeEq::ct_eq(token.as_bytes(), viewer.csrf.as_bytes());
    if crate::sso::signin::cross_site(req, &state.settings.public_url) || !bool::from(same) {
        tracing::warn!(account = %viewer.account, "console form refused: cross-site or bad token");
        return Err(ConsoleError::Forged);
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No live session: to the sign-in page, then back.
    #[error("sign in first")]
    SignIn(String),
    #[error("this form did not come from the console")]
    Forged,
    #[error(transparent)]
    Api(#[from] api::Unreachable),
    #[error("{0}")]
    Internal(String),
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn(_) => StatusCode::SEE_OTHER,
            ConsoleError::Forged => StatusCode::FORBIDDEN,
            ConsoleError::Api(_) | ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ConsoleError::SignIn(back) => {
                let to = format!("/?return_to={}", url_escape(back));
                HttpResponse::SeeOther()
                    .insert_header(("Location", to))
                    .finish()
            }
            ConsoleError::Forged => respond(
                StatusCode::FORBIDDEN,
                layout(
                    None,
                    "Refused",
                    "",
                    html! {
                        h1 { "Refused" }
                        p role="alert" { "This form did not come from the console in this session, so nothing was changed. Reload the page and try again." }
                    },
                ),
            ),
            e => {
                tracing::error!(error = %e, "console error");
                respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    layout(
                        None,
                        "Something went wrong",
                        "",
                        html! {
                            h1 { "Something went wrong" }
                            p role="alert" { "The page could not be shown. Nothing was changed. Try again shortly." }
                        },
                    ),
                )
            }
        }
    }
}

pub fn url_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Every console response: strict CSP, no framing, no caching.
pub fn respond(status: StatusCode, body: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "same-origin"))
        .insert_header(("Cache-Control", "no-store"))
        .body(body.into_string())
}

pub fn ok(body: Markup) -> HttpResponse {
    respond(StatusCode::OK, body)
}

pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", to.to_string()))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

const NAV: [(&str, &str, Option<&str>); 8] = [
    ("/console", "Overview", None),
    (
        "/console/connections",
        "Identity provider",
        Some(crate::catalog::ACCOUNT_ADMINISTRATION),
    ),
    ("/console/roles", "Roles & environments", None),
    ("/console/mappings", "Group mappings", None),
    ("/console/users", "Users", None),
    ("/console/credentials", "Tokens & keys", None),
    (
        "/console/webhooks",
        "Webhooks",
        Some(crate::catalog::ACCOUNT_ADMINISTRATION),
    ),
    (
        "/console/audit",
        "Audit log",
        Some(crate::catalog::VIEW_AUDIT_LOGS),
    ),
];

/// The page frame: skip link, navigation (only what the viewer may use),
/// the break-glass banner, and the content.
pub fn layout(viewer: Option<&Viewer>, title: &str, current: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · idbridge" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                @if let Some(v) = viewer {
                    header {
                        span class="brand" { "idbridge" }
                        nav aria-label="Console" {
                            ul {
                                @for (href, label, needs) in NAV {
                                    @if needs.is_none_or(|p| v.may(p)) {
                                        li { a href=(href) aria-current=[(href == current).then_some("page")] { (label) } }
                                    }
                                }
                            }
                        }
                        form method="post" action="/auth/logout" class="signout" {
                            span { (v.email) }
                            button type="submit" { "Sign out" }
                        }
                    }
                    @if v.break_glass {
                        p class="banner" role="status" { "You are signed in with the break-glass credential. Every action is audited; use single sign-on for day-to-day work." }
                    }
                }
                main id="main" { (content) }
            }
        }
    }
}

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

#[get("/console/assets/{name}")]
async fn assets(name: actix_web::web::Path<String>) -> HttpResponse {
    let (body, ct) = match name.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return HttpResponse::NotFound().finish(),
    };
    HttpResponse::Ok()
        .content_type(ct)
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}
