//! Users: search, one user's access explained (each privilege, the role it
//! comes through, and how that role was given), and ending their sessions.

use super::forms::{self, csrf};
use super::{check_form, layout, ok, see_other, url_escape, ConsoleError, Viewer};
use crate::state::State;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
pub struct Search {
    q: Option<String>,
}

#[get("/console/users")]
pub async fn list(
    state: State,
    v: Viewer,
    q: web::Query<Search>,
) -> Result<HttpResponse, ConsoleError> {
    let term = q.q.clone().unwrap_or_default();
    let a = v
        .api(&state)?
        .get(&format!("{}?q={}", v.path("/users"), url_escape(&term)))
        .await?;
    let users = a.body.as_array().cloned().unwrap_or_default();
    Ok(ok(layout(
        Some(&v),
        "Users",
        "/console/users",
        html! {
            h1 { "Users" }
            form method="get" action="/console/users" role="search" {
                label for="q" { "Find a user " }
                input id="q" name="q" type="search" value=(term);
                button type="submit" { "Search" }
            }
            @if !a.ok() {
                p class="error" role="alert" { (a.message()) }
                p { a href=(format!("/console/users/{}", url_escape(&v.email))) { "See your own access" } }
            } @else {
                table {
                    thead { tr { th scope="col" { "userName" } th scope="col" { "Active" } th scope="col" { "Origin" } } }
                    tbody { @for u in &users { tr {
                        td { a href=(format!("/console/users/{}", url_escape(u["id"].as_str().unwrap_or_default()))) { (u["userName"].as_str().unwrap_or_default()) } }
                        td { (if u["active"] == Value::Bool(true) { "yes" } else { "no" }) }
                        td { (u["origin"].as_str().unwrap_or_default()) }
                    } } }
                }
            }
        },
    )))
}

/// "through the SCIM group Engineers", "assigned directly", ... for each
/// way the role is held.
fn via(v: &Value) -> String {
    v.as_array()
        .map(|all| all.iter().map(one_via).collect::<Vec<_>>().join("; "))
        .unwrap_or_else(|| one_via(v))
}

fn one_via(v: &Value) -> String {
    match v["source"].as_str().unwrap_or_default() {
        "direct" => "assigned directly".into(),
        "group" => format!(
            "through the SCIM group {}",
            v["group"].as_str().unwrap_or_default()
        ),
        "claims" => format!(
            "through the sign-in's group {}",
            v["group"].as_str().unwrap_or_default()
        ),
        "implied" => format!("implied by {}", v["by"].as_str().unwrap_or_default()),
        "support" => "through support access".into(),
        "account_group" => "through an account group".into(),
        other => other.to_string(),
    }
}

fn explanation(access: &Value) -> Markup {
    let roles = access["roles"].as_array().cloned().unwrap_or_default();
    let privs = access["privileges"].as_array().cloned().unwrap_or_default();
    let envs = access["environments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    html! {
        h2 { "Roles" }
        ul id="roles" { @for r in &roles { li { strong { (r["role"].as_str().unwrap_or_default()) } " — " (via(&r["via"])) } } }
        h2 { "Privileges" }
        table id="privileges" {
            thead { tr { th scope="col" { "Privilege" } th scope="col" { "Through roles" } th scope="col" { "Usable" } } }
            tbody { @for p in &privs { tr {
                td { (p["key"].as_str().unwrap_or_default()) }
                td { (p["via"].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")) }
                td { @if p["usable"] == Value::Bool(true) { "yes" } @else { "no: needs the account feature " (p["gated_by"].as_str().unwrap_or_default()) } }
            } } }
        }
        @let additive = access["additive_only"].as_array().cloned().unwrap_or_default();
        @if !additive.is_empty() {
            h2 { "Allowed only by additive scoping" }
            p class="warning" role="note" { "These are allowed because one role grants the privilege and another reaches the environment. Accounts with strict scoping refuse them." }
            ul id="additive" { @for a in &additive { li { (a["privilege"].as_str().unwrap_or_default()) " in " (a["environment"].as_str().unwrap_or_default()) ": " (a["reason"].as_str().unwrap_or_default()) } } }
        }
        h2 { "Environments" }
        @if envs.is_empty() { p { "None." } }
        ul { @for e in &envs { li { (e["name"].as_str().unwrap_or_default()) " — through " (e["via"].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")) } } }
    }
}

#[get("/console/users/{user}")]
pub async fn detail(
    state: State,
    v: Viewer,
    user: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let a = v
        .api(&state)?
        .get(&v.path(&format!("/users/{}/access", url_escape(&user))))
        .await?;
    Ok(ok(layout(
        Some(&v),
        "User access",
        "/console/users",
        html! {
            h1 { "Access of " (user.as_str()) }
            @if a.ok() {
                (explanation(&a.body))
                form method="post" action=(format!("/console/users/{}/sessions/end", url_escape(&user))) {
                    (csrf(&v)) button type="submit" { "End this user's sessions" }
                }
            } @else {
                p class="error" role="alert" { (a.message()) }
            }
        },
    )))
}

#[post("/console/users/{user}/sessions/end")]
pub async fn end_sessions(
    state: State,
    req: HttpRequest,
    v: Viewer,
    user: web::Path<String>,
    raw: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    check_form(&state, &req, &v, &forms::one(&forms::pairs(&raw), "_csrf"))?;
    let a = v
        .api(&state)?
        .send(
            "DELETE",
            &v.path(&format!("/users/{}/sessions", url_escape(&user))),
            &Value::Null,
        )
        .await?;
    if a.ok() {
        return Ok(see_other(&format!("/console/users/{}", url_escape(&user))));
    }
    let mut r = ok(layout(
        Some(&v),
        "User access",
        "/console/users",
        html! {
            h1 { "Access of " (user.as_str()) }
            p class="error" role="alert" { (a.message()) }
        },
    ));
    *r.status_mut() = actix_web::http::StatusCode::from_u16(a.status)
        .unwrap_or(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY);
    Ok(r)
}
