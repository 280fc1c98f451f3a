//! `/console`: the account at a glance.

use super::{layout, ok, ConsoleError, Viewer};
use crate::catalog::ACCOUNT_ADMINISTRATION;
use crate::state::State;
use actix_web::{get, HttpResponse};
use maud::html;
use serde_json::Value;

fn num(v: &Value, k: &str) -> String {
    v.get(k)
        .map(|x| x.to_string())
        .unwrap_or_else(|| "-".into())
}

#[get("/console")]
pub async fn page(state: State, v: Viewer) -> Result<HttpResponse, ConsoleError> {
    let api = v.api(&state)?;
    let account = api.get(&v.path("")).await?.body;
    let status = if v.may(ACCOUNT_ADMINISTRATION) {
        Some(api.get(&v.path("/status")).await?.body)
    } else {
        None
    };
    let name = account["name"].as_str().unwrap_or_default().to_string();
    Ok(ok(layout(
        Some(&v),
        "Overview",
        "/console",
        html! {
            h1 { (name) }
            p { "Account id " code { (v.account) } }
            @if let Some(s) = &status {
                @let bg = s["break_glass_last_24h"].as_array().cloned().unwrap_or_default();
                @if !bg.is_empty() {
                    p class="warning" role="alert" id="break-glass-banner" {
                        "Break-glass sign-in in the last 24 hours: " (bg.len()) " time(s), most recently at " (bg[0]["at"].as_str().unwrap_or_default()) " by " (bg[0]["actor"].as_str().unwrap_or_default()) "."
                    }
                }
                div class="cards" {
                    section class="card" {
                        h2 { "Single sign-on" }
                        p { "Mode: " strong { (s["sso"]["mode"].as_str().unwrap_or_default()) } }
                        p { (num(&s["sso"], "enabled")) " of " (num(&s["sso"], "connections")) " connection(s) enabled" }
                        a href="/console/connections" { "Identity provider settings" }
                    }
                    section class="card" {
                        h2 { "SCIM provisioning" }
                        p { "Last request from the IdP: " (s["scim"]["last_request_at"].as_str().unwrap_or("never")) }
                        p { (num(s, "users")) " users (" (num(s, "active_users")) " active), " (num(s, "groups")) " groups, " (num(&s["scim"], "tokens")) " live token(s)" }
                    }
                    section class="card" {
                        h2 { "Sessions" }
                        p { (num(s, "live_sessions")) " live session(s)" }
                    }
                }
                h2 { "Recent errors the IdP got from us" }
                @let errs = s["scim"]["recent_errors"].as_array().cloned().unwrap_or_default();
                @if errs.is_empty() { p { "None." } } @else {
                    table {
                        thead { tr { th scope="col" { "When" } th scope="col" { "Request" } th scope="col" { "Status" } th scope="col" { "Reason" } } }
                        tbody {
                            @for e in &errs {
                                tr {
                                    td { (e["at"].as_str().unwrap_or_default()) }
                                    td { code { (e["details"]["method"].as_str().unwrap_or_default()) " " (e["details"]["path"].as_str().unwrap_or_default()) } }
                                    td { (e["details"]["status"].to_string()) }
                                    td { (e["details"]["reason"].as_str().unwrap_or_default()) }
                                }
                            }
                        }
                    }
                }
            } @else {
                p { "Signed in as " (v.email) ". Use the navigation to see your roles, users and tokens." }
            }
        },
    )))
}
