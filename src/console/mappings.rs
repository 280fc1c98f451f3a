//! Group mappings: an IdP group gives roles (optionally only in some
//! environments), with a preview of who gains what before saving.

use super::forms::{self, alert, checkboxes, csrf, field, FormError};
use super::{check_form, layout, ok, see_other, url_escape, ConsoleError, Viewer};
use crate::state::State;
use actix_web::{get, http::StatusCode, post, web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::{json, Value};

struct Data {
    mappings: Vec<Value>,
    roles: Vec<String>,
    environments: Vec<String>,
}

async fn load(state: &State, v: &Viewer) -> Result<Data, ConsoleError> {
    let api = v.api(state)?;
    let arr = |a: super::api::Answer| a.body.as_array().cloned().unwrap_or_default();
    let names = |vals: Vec<Value>| {
        vals.iter()
            .filter_map(|x| x["name"].as_str().map(String::from))
            .collect()
    };
    Ok(Data {
        mappings: arr(api.get(&v.path("/group-mappings")).await?),
        roles: names(arr(api.get(&v.path("/roles")).await?)),
        environments: names(arr(api.get(&v.path("/environments")).await?)),
    })
}

fn group_label(g: &Value) -> String {
    for (k, label) in [
        ("displayName", "group"),
        ("externalId", "externalId"),
        ("id", "id"),
    ] {
        if let Some(x) = g[k].as_str() {
            return format!("{label} {x}");
        }
    }
    String::new()
}

fn body(
    v: &Viewer,
    d: &Data,
    typed: &[(String, String)],
    preview: Option<&Value>,
    err: Option<&FormError>,
) -> Markup {
    html! {
        h1 { "Group mappings" }
        p { "Members of an IdP group (pushed over SCIM, or named in the sign-in's groups claim) get these roles." }
        table {
            thead { tr { th scope="col" { "IdP group" } th scope="col" { "Roles" } th scope="col" { "Environments" } th scope="col" { span class="sr-only" { "Actions" } } } }
            tbody {
                @for m in &d.mappings {
                    tr {
                        td { (group_label(&m["group"])) }
                        td { (m["roles"].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")) }
                        td { (m["environments"].as_array().map_or("all".to_string(), |e| e.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))) }
                        td { form method="post" action=(format!("/console/mappings/{}/remove", url_escape(m["id"].as_str().unwrap_or_default()))) class="inline" { (csrf(v)) button type="submit" { "Remove" } } }
                    }
                }
            }
        }
        h2 { "New mapping" }
        form method="post" action="/console/mappings" novalidate {
            (csrf(v))
            (alert(err))
            (field("IdP group (displayName)", "group", "text", &forms::one(typed, "group"), err, Some("The group's name as the IdP sends it.")))
            (checkboxes("Roles", "roles", &d.roles, &forms::all(typed, "roles")))
            @if let Some(m) = err.filter(|e| e.field.as_deref() == Some("roles")) { p class="error" role="alert" { (m.message) } }
            (checkboxes("Only in these environments (none ticked: everywhere)", "environments", &d.environments, &forms::all(typed, "environments")))
            div class="buttons" {
                button type="submit" name="action" value="preview" { "Preview" }
                button type="submit" name="action" value="save" { "Save mapping" }
            }
        }
        @if let Some(p) = preview {
            section aria-labelledby="preview-h" id="preview" {
                h2 id="preview-h" { "Preview: who gains what" }
                @let members = p["members"].as_array().cloned().unwrap_or_default();
                @if members.is_empty() { p { "No provisioned user is in this group yet: nobody gains anything now." } }
                ul { @for m in &members { li {
                    strong { (m["userName"].as_str().unwrap_or_default()) } " gains roles: "
                    (m["gains_roles"].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                    "; privileges: "
                    (m["gains_privileges"].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                } } }
            }
        }
    }
}

#[get("/console/mappings")]
pub async fn page(state: State, v: Viewer) -> Result<HttpResponse, ConsoleError> {
    let d = load(&state, &v).await?;
    Ok(ok(layout(
        Some(&v),
        "Group mappings",
        "/console/mappings",
        body(&v, &d, &[], None, None),
    )))
}

#[post("/console/mappings")]
pub async fn submit(
    state: State,
    req: HttpRequest,
    v: Viewer,
    raw: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let p = forms::pairs(&raw);
    check_form(&state, &req, &v, &forms::one(&p, "_csrf"))?;
    let envs = forms::all(&p, "environments");
    let input = json!({"group": {"displayName": forms::one(&p, "group")}, "roles": forms::all(&p, "roles"),
        "environments": if envs.is_empty() { Value::Null } else { json!(envs) }});
    let api = v.api(&state)?;
    let preview = forms::one(&p, "action") == "preview";
    let path = if preview {
        v.path("/group-mappings/preview")
    } else {
        v.path("/group-mappings")
    };
    let a = api.send("POST", &path, &input).await?;
    if a.ok() && !preview {
        return Ok(see_other("/console/mappings"));
    }
    let d = load(&state, &v).await?;
    let (shown, err) = if a.ok() {
        (Some(a.body), None)
    } else {
        let e = FormError::from_message(a.message(), &["group", "role"]);
        let field = e
            .field
            .clone()
            .map(|f| if f == "role" { "roles".to_string() } else { f });
        (None, Some(FormError { field, ..e }))
    };
    let mut r = ok(layout(
        Some(&v),
        "Group mappings",
        "/console/mappings",
        body(&v, &d, &p, shown.as_ref(), err.as_ref()),
    ));
    if err.is_some() {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(r)
}

#[post("/console/mappings/{id}/remove")]
pub async fn remove(
    state: State,
    req: HttpRequest,
    v: Viewer,
    id: web::Path<String>,
    raw: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let p = forms::pairs(&raw);
    check_form(&state, &req, &v, &forms::one(&p, "_csrf"))?;
    let a = v
        .api(&state)?
        .send(
            "DELETE",
            &v.path(&format!("/group-mappings/{}", url_escape(&id))),
            &json!({}),
        )
        .await?;
    if a.ok() {
        return Ok(see_other("/console/mappings"));
    }
    let d = load(&state, &v).await?;
    let err = FormError {
        field: None,
        message: a.message(),
    };
    let mut r = ok(layout(
        Some(&v),
        "Group mappings",
        "/console/mappings",
        body(&v, &d, &[], None, Some(&err)),
    ));
    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(r)
}
