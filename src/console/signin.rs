//! `/`: the sign-in page (single sign-on by email, or the break-glass
//! administrator's password and one-time code), or on to the console.

use super::{layout, ok, see_other};
use crate::state::State;
use actix_web::{get, web, HttpRequest, HttpResponse};
use maud::html;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct HomeQuery {
    account: Option<String>,
    return_to: Option<String>,
}

#[get("/")]
pub async fn home(state: State, req: HttpRequest, q: web::Query<HomeQuery>) -> HttpResponse {
    let back = crate::sso::return_to::safe_return_to(q.return_to.as_deref())
        .ok()
        .flatten()
        .filter(|r| r.starts_with("/console"))
        .unwrap_or_else(|| "/console".into());
    if let Some(c) = req.cookie(crate::store::sessions::COOKIE) {
        if let Ok(Some(_)) = state.resolver.session_access(&state.db, c.value()).await {
            return see_other(&back);
        }
    }
    let account = q.account.clone().unwrap_or_default();
    ok(layout(
        None,
        "Sign in",
        "/",
        html! {
            h1 { "Sign in to idbridge" }
            section aria-labelledby="sso-h" {
                h2 id="sso-h" { "Single sign-on" }
                p { "Enter your work email: you are sent to your company's identity provider." }
                @if !account.is_empty() {
                p { a href=(format!("/sso/{}/login?return_to={}", super::url_escape(&account), super::url_escape(&back))) id="sso-account" { "Sign in with this account's identity provider" } }
            }
            form method="get" action="/sso/start" {
                    input type="hidden" name="return_to" value=(back);
                    div class="field" {
                        label for="sso-email" { "Work email" }
                        input id="sso-email" name="email" type="email" autocomplete="username" required;
                    }
                    button type="submit" { "Sign in with SSO" }
                }
            }
            section aria-labelledby="local-h" {
                h2 id="local-h" { "Administrator sign-in" }
                p { "For the account's break-glass administrator only: built-in Administrators never use single sign-on." }
                form method="post" action="/auth/local" {
                    input type="hidden" name="return_to" value=(back);
                    div class="field" { label for="account" { "Account" } input id="account" name="account" value=(account) required; }
                    div class="field" { label for="email" { "Email" } input id="email" name="email" type="email" autocomplete="username" required; }
                    div class="field" { label for="password" { "Password" } input id="password" name="password" type="password" autocomplete="current-password" required; }
                    div class="field" { label for="totp" { "One-time code" } input id="totp" name="totp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required; }
                    button type="submit" { "Sign in" }
                }
            }
        },
    ))
}
