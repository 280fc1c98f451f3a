//! Roles and environments: the built-in roles' privileges (read-only),
//! custom roles (inherit one role, add privileges), environments and the
//! roles that reach them.

use super::forms::{self, alert, checkboxes, csrf, field, select, FormError};
use super::{check_form, layout, ok, see_other, ConsoleError, Viewer};
use crate::state::State;
use actix_web::{get, http::StatusCode, post, web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::{json, Value};

struct Data {
    aus: bool,
    roles: Vec<Value>,
    catalog: Vec<Value>,
    environments: Vec<Value>,
}

async fn load(state: &State, v: &Viewer) -> Result<Data, ConsoleError> {
    let api = v.api(state)?;
    let arr = |a: super::api::Answer| a.body.as_array().cloned().unwrap_or_default();
    let account = api.get(&v.path("")).await?.body;
    Ok(Data {
        aus: account["advanced_user_security"] == json!(true),
        roles: arr(api.get(&v.path("/roles")).await?),
        catalog: arr(api.get("/api/v1/privileges").await?),
        environments: arr(api.get(&v.path("/environments")).await?),
    })
}

fn privilege_name(catalog: &[Value], key: &str) -> String {
    catalog
        .iter()
        .find(|p| p["key"] == json!(key))
        .and_then(|p| p["name"].as_str())
        .unwrap_or(key)
        .to_string()
}

fn matrix(d: &Data) -> Markup {
    let builtin: Vec<&Value> = d
        .roles
        .iter()
        .filter(|r| r["builtin"] == json!(true))
        .collect();
    html! {
        h2 { "Built-in roles" }
        p { "Built-in roles are defined by the platform and cannot be changed. Some cannot be extended by a custom role; privileges the account's features do not turn on are held but not usable." }
        div class="scroll" {
            table class="matrix" {
                caption { "Privileges of each built-in role" }
                thead { tr { th scope="col" { "Privilege" } @for r in &builtin { th scope="col" { (r["name"].as_str().unwrap_or_default()) } } } }
                tbody {
                    @for p in &d.catalog {
                        @let key = p["key"].as_str().unwrap_or_default();
                        tr {
                            th scope="row" { (p["name"].as_str().unwrap_or_default()) }
                            @for r in &builtin {
                                @let has = r["effective_privileges"].as_array().is_some_and(|a| a.iter().any(|x| x == key));
                                td { @if has { span aria-label="yes" { "✓" } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn custom(v: &Viewer, d: &Data, typed: &[(String, String)], err: Option<&FormError>) -> Markup {
    let custom: Vec<&Value> = d
        .roles
        .iter()
        .filter(|r| r["builtin"] == json!(false))
        .collect();
    let grantable: Vec<String> = d
        .catalog
        .iter()
        .filter(|p| p["deprecated"] != json!(true))
        .filter_map(|p| p["name"].as_str().map(String::from))
        .collect();
    let parents: Vec<(String, String)> = d
        .roles
        .iter()
        .filter_map(|r| r["name"].as_str().map(|n| (n.to_string(), n.to_string())))
        .collect();
    let inherits = Some(forms::one(typed, "inherits"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "Standard User".into());
    html! {
        h2 { "Custom roles" }
        @if custom.is_empty() { p { "None yet." } }
        ul class="roles" {
            @for r in &custom {
                li {
                    strong { (r["name"].as_str().unwrap_or_default()) }
                    " inherits " (r["inherits"].as_str().unwrap_or("nothing")) "; adds: "
                    (r["privileges"].as_array().into_iter().flatten().filter_map(Value::as_str).map(|k| privilege_name(&d.catalog, k)).collect::<Vec<_>>().join(", "))
                }
            }
        }
        h3 { "New custom role" }
        @if !d.aus {
            div class="warning" role="note" id="aus-note" {
                p { "Custom roles need the account feature Advanced User Security, which is off. Turning it on is audited and needs Account Administration." }
                form method="post" action="/console/account/aus" class="inline" { (csrf(v)) button type="submit" { "Turn on Advanced User Security" } }
            }
        }
        form method="post" action="/console/roles" novalidate {
            (csrf(v))
            (alert(err))
            (field("Name", "name", "text", &forms::one(typed, "name"), err, None))
            (select("Inherits", "inherits", &parents, &inherits))
            (checkboxes("Added privileges", "privileges", &grantable, &forms::all(typed, "privileges")))
            @if let Some(m) = err.filter(|e| e.field.as_deref() == Some("privileges")) { p class="error" role="alert" { (m.message) } }
            button type="submit" { "Create role" }
        }
    }
}

fn environments(
    v: &Viewer,
    d: &Data,
    typed: &[(String, String)],
    err: Option<&FormError>,
) -> Markup {
    html! {
        h2 { "Environments" }
        table {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Classification" } th scope="col" { "Roles that reach it" } } }
            tbody { @for e in &d.environments { tr {
                td { (e["name"].as_str().unwrap_or_default()) }
                td { (e["classification"].as_str().unwrap_or_default()) }
                td { (e["roles"].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")) }
            } } }
        }
        h3 { "New environment" }
        form method="post" action="/console/environments" novalidate {
            (csrf(v))
            (alert(err))
            (field("Name", "env_name", "text", &forms::one(typed, "env_name"), err, None))
            (select("Classification", "classification", &[("test".into(), "Test".into()), ("production".into(), "Production".into())], &forms::one(typed, "classification")))
            button type="submit" { "Create environment" }
        }
    }
}

fn body(
    v: &Viewer,
    d: &Data,
    typed: &[(String, String)],
    role_err: Option<&FormError>,
    env_err: Option<&FormError>,
) -> Markup {
    html! {
        h1 { "Roles and environments" }
        (matrix(d))
        (custom(v, d, typed, role_err))
        (environments(v, d, typed, env_err))
    }
}

#[get("/console/roles")]
pub async fn page(state: State, v: Viewer) -> Result<HttpResponse, ConsoleError> {
    let d = load(&state, &v).await?;
    Ok(ok(layout(
        Some(&v),
        "Roles and environments",
        "/console/roles",
        body(&v, &d, &[], None, None),
    )))
}

async fn refused(
    state: &State,
    v: &Viewer,
    typed: &[(String, String)],
    role: Option<FormError>,
    env: Option<FormError>,
) -> Result<HttpResponse, ConsoleError> {
    let d = load(state, v).await?;
    let mut r = ok(layout(
        Some(v),
        "Roles and environments",
        "/console/roles",
        body(v, &d, typed, role.as_ref(), env.as_ref()),
    ));
    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(r)
}

#[post("/console/roles")]
pub async fn create(
    state: State,
    req: HttpRequest,
    v: Viewer,
    body: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let p = forms::pairs(&body);
    check_form(&state, &req, &v, &forms::one(&p, "_csrf"))?;
    let input = json!({"name": forms::one(&p, "name"), "inherits": forms::one(&p, "inherits"), "privileges": forms::all(&p, "privileges")});
    let a = v
        .api(&state)?
        .send("POST", &v.path("/roles"), &input)
        .await?;
    if a.ok() {
        return Ok(see_other("/console/roles"));
    }
    let err = FormError::from_message(a.message(), &["name", "inherits", "privilege"]);
    let err = FormError {
        field: err.field.map(|f| {
            if f == "privilege" {
                "privileges".into()
            } else {
                f
            }
        }),
        ..err
    };
    refused(&state, &v, &p, Some(err), None).await
}

#[post("/console/environments")]
pub async fn environment_create(
    state: State,
    req: HttpRequest,
    v: Viewer,
    body: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let p = forms::pairs(&body);
    check_form(&state, &req, &v, &forms::one(&p, "_csrf"))?;
    let input = json!({"name": forms::one(&p, "env_name"), "classification": forms::one(&p, "classification")});
    let a = v
        .api(&state)?
        .send("POST", &v.path("/environments"), &input)
        .await?;
    if a.ok() {
        return Ok(see_other("/console/roles"));
    }
    let mut err = FormError::from_message(a.message(), &["name"]);
    if err.field.is_some() {
        err.field = Some("env_name".into());
    }
    refused(&state, &v, &p, None, Some(err)).await
}

#[post("/console/account/aus")]
pub async fn enable_aus(
    state: State,
    req: HttpRequest,
    v: Viewer,
    body: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let p = forms::pairs(&body);
    check_form(&state, &req, &v, &forms::one(&p, "_csrf"))?;
    let a = v
        .api(&state)?
        .send(
            "PATCH",
            &v.path(""),
            &json!({"advanced_user_security": true}),
        )
        .await?;
    if a.ok() {
        return Ok(see_other("/console/roles"));
    }
    refused(
        &state,
        &v,
        &[],
        Some(FormError {
            field: None,
            message: a.message(),
        }),
        None,
    )
    .await
}
