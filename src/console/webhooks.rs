//! Webhooks: the endpoints that receive the account's events (secret shown
//! once), each one's deliveries with every attempt, redelivery, and
//! re-enabling an endpoint disabled after sustained failure.

use super::forms::{self, alert, csrf, field, FormError};
use super::{check_form, layout, ok, see_other, url_escape, ConsoleError, Viewer};
use crate::state::State;
use actix_web::{get, http::StatusCode, post, web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::{json, Value};

async fn list_body(
    state: &State,
    v: &Viewer,
    secret: Option<&str>,
    err: Option<&FormError>,
    typed: &[(String, String)],
) -> Result<Markup, ConsoleError> {
    let a = v.api(state)?.get(&v.path("/webhooks")).await?;
    let eps = a.body.as_array().cloned().unwrap_or_default();
    Ok(html! {
        h1 { "Webhooks" }
        p { "Each event (a user provisioned, a group changed, someone's access changed, a sign-in...) is signed per Standard Webhooks and delivered at least once, in order, retried for up to three days." }
        @if !a.ok() { p class="error" role="alert" { (a.message()) } }
        @if let Some(s) = secret {
            p class="ok" role="status" { "Endpoint added. Its signing secret — copy it now, it is shown only once:" }
            p { code id="webhook-secret" { (s) } " " button type="button" class="copy" data-copy="webhook-secret" { "Copy" } }
        }
        table id="webhooks" {
            thead { tr { th scope="col" { "URL" } th scope="col" { "Events" } th scope="col" { "State" } th scope="col" { span class="sr-only" { "Actions" } } } }
            tbody { @for e in &eps {
                @let id = e["id"].as_str().unwrap_or_default();
                tr {
                    td { a href=(format!("/console/webhooks/{}", url_escape(id))) { (e["url"].as_str().unwrap_or_default()) } }
                    td { @let t = e["types"].as_array().cloned().unwrap_or_default(); @if t.is_empty() { "all" } @else { (t.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")) } }
                    td { @if e["enabled"] == json!(true) { "enabled" } @else {
                        "disabled: " (e["disabled_reason"].as_str().unwrap_or_default()) " "
                        form method="post" action=(format!("/console/webhooks/{}/enable", url_escape(id))) class="inline" { (csrf(v)) button type="submit" { "Enable" } }
                    } }
                    td { form method="post" action=(format!("/console/webhooks/{}/remove", url_escape(id))) class="inline danger" { (csrf(v)) button type="submit" { "Remove" } } }
                }
            } }
        }
        h2 { "New endpoint" }
        form method="post" action="/console/webhooks" novalidate {
            (csrf(v))
            (alert(err))
            (field("URL", "url", "url", &forms::one(typed, "url"), err, Some("https, reachable from idbridge; internal addresses are refused.")))
            (field("Event types", "types", "text", &forms::one(typed, "types"), err, Some("Comma-separated, e.g. user.created, user.access_changed; empty for all.")))
            button type="submit" { "Add endpoint" }
        }
    })
}

#[get("/console/webhooks")]
pub async fn page(state: State, v: Viewer) -> Result<HttpResponse, ConsoleError> {
    let b = list_body(&state, &v, None, None, &[]).await?;
    Ok(ok(layout(Some(&v), "Webhooks", "/console/webhooks", b)))
}

#[post("/console/webhooks")]
pub async fn create(
    state: State,
    req: HttpRequest,
    v: Viewer,
    raw: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let p = forms::pairs(&raw);
    check_form(&state, &req, &v, &forms::one(&p, "_csrf"))?;
    let types: Vec<String> = forms::one(&p, "types")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect();
    let a = v
        .api(&state)?
        .send(
            "POST",
            &v.path("/webhooks"),
            &json!({"url": forms::one(&p, "url"), "types": types}),
        )
        .await?;
    if a.ok() {
        let b = list_body(&state, &v, a.body["secret"].as_str(), None, &[]).await?;
        return Ok(ok(layout(Some(&v), "Webhooks", "/console/webhooks", b)));
    }
    let err = FormError::from_message(a.message(), &["url", "types"]);
    let mut r = ok(layout(
        Some(&v),
        "Webhooks",
        "/console/webhooks",
        list_body(&state, &v, None, Some(&err), &p).await?,
    ));
    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(r)
}

/// One endpoint's deliveries, newest first, with every attempt.
#[get("/console/webhooks/{id}")]
pub async fn detail(
    state: State,
    v: Viewer,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let a = v
        .api(&state)?
        .get(&v.path(&format!("/webhooks/{}/deliveries", url_escape(&id))))
        .await?;
    let ds = a.body.as_array().cloned().unwrap_or_default();
    Ok(ok(layout(
        Some(&v),
        "Webhook deliveries",
        "/console/webhooks",
        html! {
            h1 { "Deliveries" }
            @if !a.ok() { p class="error" role="alert" { (a.message()) } }
            table id="deliveries" {
                thead { tr { th scope="col" { "Event" } th scope="col" { "Status" } th scope="col" { "Attempts" } th scope="col" { "Last answer" } th scope="col" { span class="sr-only" { "Actions" } } } }
                tbody { @for d in &ds { tr {
                    td { (d["event"]["type"].as_str().unwrap_or_default()) " #" (d["event"]["seq"].to_string()) }
                    td { (d["status"].as_str().unwrap_or_default()) }
                    td { details { summary { (d["attempts"].to_string()) }
                        ul { @for l in d["log"].as_array().into_iter().flatten() { li { (l["at"].as_str().unwrap_or_default()) ": " (l["status"].to_string()) " " (l["error"].as_str().unwrap_or_default()) } } } } }
                    td { (d["last_error"].as_str().unwrap_or("ok")) }
                    td { form method="post" action=(format!("/console/webhooks/{}/deliveries/{}/redeliver", url_escape(&id), d["id"])) class="inline" { (csrf(&v)) button type="submit" { "Redeliver" } } }
                } } }
            }
            p { a href="/console/webhooks" { "Back to webhooks" } }
        },
    )))
}

/// Endpoint actions post here and come back to the list (or the message).
async fn act(
    state: &State,
    req: &HttpRequest,
    v: &Viewer,
    raw: &web::Bytes,
    (method, path, body): (&str, String, Value),
    back: String,
) -> Result<HttpResponse, ConsoleError> {
    check_form(state, req, v, &forms::one(&forms::pairs(raw), "_csrf"))?;
    let a = v.api(state)?.send(method, &path, &body).await?;
    if a.ok() {
        return Ok(see_other(&back));
    }
    let err = FormError {
        field: None,
        message: a.message(),
    };
    let mut r = ok(layout(
        Some(v),
        "Webhooks",
        "/console/webhooks",
        list_body(state, v, None, Some(&err), &[]).await?,
    ));
    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(r)
}

#[post("/console/webhooks/{id}/enable")]
pub async fn enable(
    state: State,
    req: HttpRequest,
    v: Viewer,
    id: web::Path<String>,
    raw: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let path = v.path(&format!("/webhooks/{}", url_escape(&id)));
    act(
        &state,
        &req,
        &v,
        &raw,
        ("PATCH", path, json!({"enabled": true})),
        "/console/webhooks".into(),
    )
    .await
}

#[post("/console/webhooks/{id}/remove")]
pub async fn remove(
    state: State,
    req: HttpRequest,
    v: Viewer,
    id: web::Path<String>,
    raw: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let path = v.path(&format!("/webhooks/{}", url_escape(&id)));
    act(
        &state,
        &req,
        &v,
        &raw,
        ("DELETE", path, Value::Null),
        "/console/webhooks".into(),
    )
    .await
}

#[post("/console/webhooks/{id}/deliveries/{d}/redeliver")]
pub async fn redeliver(
    state: State,
    req: HttpRequest,
    v: Viewer,
    path: web::Path<(String, i64)>,
    raw: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let (id, d) = path.into_inner();
    let api_path = v.path(&format!(
        "/webhooks/{}/deliveries/{d}/redeliver",
        url_escape(&id)
    ));
    let back = format!("/console/webhooks/{}", url_escape(&id));
    act(&state, &req, &v, &raw, ("POST", api_path, json!({})), back).await
}
