//! SCIM tokens (Account Administration) and the viewer's API keys: create
//! (the secret shown once), expiry, revoke.

use super::forms::{self, csrf, field, FormError};
use super::{check_form, layout, ok, see_other, url_escape, ConsoleError, Viewer};
use crate::state::State;
use actix_web::{get, http::StatusCode, post, web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::{json, Value};

async fn body(
    state: &State,
    v: &Viewer,
    shown: Option<(&str, &str)>,
    err: Option<&FormError>,
) -> Result<Markup, ConsoleError> {
    let api = v.api(state)?;
    let tokens = api.get(&v.path("/scim-tokens")).await?;
    let keys = api.get(&v.path("/api-keys")).await?;
    let rows = |a: &super::api::Answer| a.body.as_array().cloned().unwrap_or_default();
    let live = |x: &Value| x["revoked_at"].is_null();
    Ok(html! {
        h1 { "Tokens and keys" }
        @if let Some((what, secret)) = shown {
            p class="ok" role="status" { "New " (what) " — copy it now, it is shown only once:" }
            p { code id="new-secret" { (secret) } " " button type="button" class="copy" data-copy="new-secret" { "Copy" } }
        }
        @if let Some(e) = err { p class="error" role="alert" { (e.message) } }
        h2 { "SCIM tokens" }
        @if tokens.ok() {
            table id="scim-tokens" {
                thead { tr { th scope="col" { "Id" } th scope="col" { "Created" } th scope="col" { "Expires" } th scope="col" { "Last used" } th scope="col" { "State" } th scope="col" { span class="sr-only" { "Actions" } } } }
                tbody { @for t in rows(&tokens) { tr {
                    td { code { (t["id"].as_str().unwrap_or_default()) } }
                    td { (t["created_at"].as_str().unwrap_or_default()) }
                    td { (t["expires_at"].as_str().unwrap_or("never")) }
                    td { (t["last_used_at"].as_str().unwrap_or("never")) }
                    td { @if live(&t) { "live" } @else { "revoked " (t["revoked_at"].as_str().unwrap_or_default()) } }
                    td { @if live(&t) { form method="post" action=(format!("/console/credentials/scim-tokens/{}/revoke", url_escape(t["id"].as_str().unwrap_or_default()))) class="inline" { (csrf(v)) button type="submit" { "Revoke" } } } }
                } } }
            }
            form method="post" action="/console/credentials/scim-tokens" class="inline" {
                (csrf(v))
                (field("Expires in days (empty: never)", "expires_in_days", "number", "", err, None))
                button type="submit" { "Create SCIM token" }
            }
        } @else { p { (tokens.message()) } }
        h2 { "API keys" }
        table id="api-keys" {
            thead { tr { th scope="col" { "Id" } th scope="col" { "User" } th scope="col" { "Expires" } th scope="col" { "Last used" } th scope="col" { "State" } th scope="col" { span class="sr-only" { "Actions" } } } }
            tbody { @for k in rows(&keys) { tr {
                td { code { (k["id"].as_str().unwrap_or_default()) } }
                td { (k["user_id"].as_str().unwrap_or_default()) }
                td { (k["expires_at"].as_str().unwrap_or("never")) }
                td { (k["last_used_at"].as_str().unwrap_or("never")) }
                td { @if live(&k) { "live" } @else { "revoked" } }
                td { @if live(&k) { form method="post" action=(format!("/console/credentials/api-keys/{}/revoke", url_escape(k["id"].as_str().unwrap_or_default()))) class="inline" { (csrf(v)) button type="submit" { "Revoke" } } } }
            } } }
        }
        form method="post" action="/console/credentials/api-keys" class="inline" {
            (csrf(v))
            (field("Key expires in days (1–365)", "key_days", "number", "90", err, None))
            button type="submit" { "Create API key for me" }
        }
    })
}

#[get("/console/credentials")]
pub async fn page(state: State, v: Viewer) -> Result<HttpResponse, ConsoleError> {
    let b = body(&state, &v, None, None).await?;
    Ok(ok(layout(
        Some(&v),
        "Tokens and keys",
        "/console/credentials",
        b,
    )))
}

/// One API call a credentials form makes.
struct Call {
    method: &'static str,
    path: String,
    input: Value,
}

/// Runs the API call of a credentials form; shows the new secret or the refusal.
async fn act(
    state: &State,
    req: &HttpRequest,
    v: &Viewer,
    raw: &web::Bytes,
    call: Call,
    secret_field: Option<(&str, &str)>,
) -> Result<HttpResponse, ConsoleError> {
    let p = forms::pairs(raw);
    check_form(state, req, v, &forms::one(&p, "_csrf"))?;
    let a = v
        .api(state)?
        .send(call.method, &call.path, &call.input)
        .await?;
    if !a.ok() {
        let err = FormError::from_message(a.message(), &["expires_in_days"]);
        let mut r = ok(layout(
            Some(v),
            "Tokens and keys",
            "/console/credentials",
            body(state, v, None, Some(&err)).await?,
        ));
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(r);
    }
    match secret_field {
        Some((what, field)) => {
            let secret = a.body[field].as_str().unwrap_or_default().to_string();
            Ok(ok(layout(
                Some(v),
                "Tokens and keys",
                "/console/credentials",
                body(state, v, Some((what, &secret)), None).await?,
            )))
        }
        None => Ok(see_other("/console/credentials")),
    }
}

fn days(p: &[(String, String)], name: &str) -> Value {
    let d = forms::one(p, name);
    // A number stays a number; anything else goes to the API as typed, for its own message.
    d.parse::<u64>()
        .map(Value::from)
        .unwrap_or(if d.is_empty() {
            Value::Null
        } else {
            Value::String(d)
        })
}

#[post("/console/credentials/scim-tokens")]
pub async fn create_token(
    state: State,
    req: HttpRequest,
    v: Viewer,
    raw: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let input = json!({"expires_in_days": days(&forms::pairs(&raw), "expires_in_days")});
    let input = if input["expires_in_days"].is_null() {
        json!({})
    } else {
        input
    };
    act(
        &state,
        &req,
        &v,
        &raw,
        Call {
            method: "POST",
            path: v.path("/scim-tokens"),
            input,
        },
        Some(("SCIM token", "token")),
    )
    .await
}

#[post("/console/credentials/scim-tokens/{id}/revoke")]
pub async fn revoke_token(
    state: State,
    req: HttpRequest,
    v: Viewer,
    id: web::Path<String>,
    raw: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    act(
        &state,
        &req,
        &v,
        &raw,
        Call {
            method: "DELETE",
            path: v.path(&format!("/scim-tokens/{}", url_escape(&id))),
            input: Value::Null,
        },
        None,
    )
    .await
}

#[post("/console/credentials/api-keys")]
pub async fn create_key(
    state: State,
    req: HttpRequest,
    v: Viewer,
    raw: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let input = json!({"expires_in_days": days(&forms::pairs(&raw), "key_days")});
    act(
        &state,
        &req,
        &v,
        &raw,
        Call {
            method: "POST",
            path: v.path("/api-keys"),
            input,
        },
        Some(("API key", "key")),
    )
    .await
}

#[post("/console/credentials/api-keys/{id}/revoke")]
pub async fn revoke_key(
    state: State,
    req: HttpRequest,
    v: Viewer,
    id: web::Path<String>,
    raw: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    act(
        &state,
        &req,
        &v,
        &raw,
        Call {
            method: "DELETE",
            path: v.path(&format!("/api-keys/{}", url_escape(&id))),
            input: Value::Null,
        },
        None,
    )
    .await
}
