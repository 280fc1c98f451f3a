//! Identity provider: the account's connections, and a wizard per IdP that
//! shows what to paste into the IdP, mints a SCIM token on the spot, takes
//! the IdP's details and offers a real test sign-in in a new tab.

use super::forms::{self, alert, csrf, field, select, FormError};
use super::{check_form, layout, ok, see_other, url_escape, ConsoleError, Viewer};
use crate::state::State;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

struct Idp {
    key: &'static str,
    name: &'static str,
    kind: &'static str,
    issuer_hint: &'static str,
    steps: &'static [&'static str],
}

const IDPS: [Idp; 6] = [
    Idp { key: "entra", name: "Microsoft Entra ID", kind: "oidc", issuer_hint: "https://login.microsoftonline.com/<tenant id>/v2.0",
        steps: &["In Entra admin center, App registrations → New registration; add a Web redirect URI (above).",
                 "Certificates & secrets → New client secret; copy its value.",
                 "Token configuration → Add groups claim (security groups). Many groups? Prefer role source scim: Entra sends an overage marker instead of groups.",
                 "Enterprise applications → your app → Provisioning: Tenant URL = SCIM base URL, Secret token = the SCIM token (step 3)."] },
    Idp { key: "okta", name: "Okta", kind: "oidc", issuer_hint: "https://<your org>.okta.com",
        steps: &["Applications → Create App Integration → OIDC, Web Application; Sign-in redirect URI (above).",
                 "Sign On tab → Groups claim: name groups, filter Matches regex .*",
                 "General tab → enable SCIM provisioning; Provisioning: SCIM connector base URL (above), unique identifier userName, HTTP Header auth with the SCIM token."] },
    Idp { key: "google", name: "Google", kind: "oidc", issuer_hint: "https://accounts.google.com",
        steps: &["Google Cloud console → APIs & Services → Credentials → Create OAuth client ID (Web application) with the redirect URI above.",
                 "Google sends no groups: give roles directly or through SCIM groups pushed by another tool (role source scim)."] },
    Idp { key: "keycloak", name: "Keycloak", kind: "oidc", issuer_hint: "https://<host>/realms/<realm>",
        steps: &["Clients → Create client (OpenID Connect), Client authentication on; Valid redirect URIs: the redirect URI above.",
                 "Client scopes → dedicated scope → Add mapper: Group Membership, token claim name groups, Full group path off."] },
    Idp { key: "oidc", name: "Another OpenID Connect provider", kind: "oidc", issuer_hint: "https://idp.example.com",
        steps: &["Register a confidential client using the authorization code flow (PKCE S256) with the redirect URI above.",
                 "The ID token must carry email (and email_verified); groups in a claim you name."] },
    Idp { key: "saml", name: "SAML 2.0 (Okta, Entra ID, ADFS, ...)", kind: "saml", issuer_hint: "",
        steps: &["Create a SAML app in the IdP; after saving here, give it this connection's entity ID and ACS URL (shown in the list, or import its metadata URL).",
                 "Send the email as NameID or an email attribute, and groups in an attribute named groups (Entra's groups claim is understood too)."] },
];

/// The IdP a wizard is for; unknown keys get the generic OIDC one.
fn idp(key: &str) -> &'static Idp {
    IDPS.iter()
        .find(|i| i.key == key)
        .or_else(|| IDPS.iter().find(|i| i.key == "oidc"))
        .unwrap_or(&GENERIC)
}

const GENERIC: Idp = Idp {
    key: "oidc",
    name: "OpenID Connect provider",
    kind: "oidc",
    issuer_hint: "",
    steps: &[],
};

fn urls(state: &State, v: &Viewer) -> Markup {
    let base = state.settings.public_url.trim_end_matches('/');
    let row = |label: &str, value: String, id: &str| {
        html! {
            div class="copyable" {
                dt { (label) }
                dd { code id=(id) { (value) } " " button type="button" class="copy" data-copy=(id) { "Copy" } }
            }
        }
    };
    html! {
        dl class="paste" {
            (row("Redirect URI (OIDC)", format!("{base}/sso/callback"), "redirect-uri"))
            (row("Sign-in URL", format!("{base}/sso/{}/login", v.account), "signin-url"))
            (row("SCIM base URL", format!("{base}/scim/v2"), "scim-url"))
        }
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    created: Option<String>,
}

#[get("/console/connections")]
pub async fn list(
    state: State,
    v: Viewer,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let api = v.api(&state)?;
    let answer = api.get(&v.path("/connections")).await?;
    Ok(ok(layout(
        Some(&v),
        "Identity provider",
        "/console/connections",
        list_body(&v, &answer, q.created.as_deref(), None),
    )))
}

fn list_body(
    v: &Viewer,
    answer: &super::api::Answer,
    created: Option<&str>,
    err: Option<&FormError>,
) -> Markup {
    let conns = answer.body.as_array().cloned().unwrap_or_default();
    html! {
        h1 { "Identity provider" }
        @if !answer.ok() { p class="error" role="alert" { (answer.message()) } }
        @if let Some(id) = created {
            p class="ok" role="status" { "Connection saved. "
                a href=(format!("/sso/{}/login?connection={}&test=1", url_escape(&v.account), url_escape(id))) target="_blank" rel="noopener" id="test-new" { "Test it now (opens a new tab)" } }
        }
        (alert(err))
        h2 { "Connect an identity provider" }
        ul class="idps" {
            @for i in &IDPS { li { a href=(format!("/console/connections/new?idp={}", i.key)) { (i.name) } } }
        }
        h2 { "Connections" }
        @if conns.is_empty() { p { "No connection yet: people can only sign in with the break-glass credential." } }
        @for c in &conns { (connection_card(v, c)) }
    }
}

fn connection_card(v: &Viewer, c: &Value) -> Markup {
    let id = c["id"].as_str().unwrap_or_default();
    html! {
        section class="card" aria-label=(c["name"].as_str().unwrap_or_default()) {
            h3 { (c["name"].as_str().unwrap_or_default()) " " small { "(" (c["kind"].as_str().unwrap_or_default()) @if c["enabled"] == json!(false) { ", disabled" } ")" } }
            p { "Role source " (c["role_source"].as_str().unwrap_or_default()) "; groups from " code { (c["groups_attribute"].as_str().unwrap_or_default()) } }
            @if let Some(s) = c.get("saml").filter(|s| !s.is_null()) {
                dl { dt { "Entity ID / metadata" } dd { code { (s["sp_entity_id"].as_str().unwrap_or_default()) } } dt { "ACS URL" } dd { code { (s["acs_url"].as_str().unwrap_or_default()) } } }
            }
            p { a href=(format!("/sso/{}/login?connection={}&test=1", url_escape(&v.account), url_escape(id))) target="_blank" rel="noopener" class="test-link" { "Test connection" } " (opens a new tab; no session is started)" }
            h4 { "Email domains" }
            ul {
                @for d in c["domains"].as_array().into_iter().flatten() {
                    li {
                        (d["domain"].as_str().unwrap_or_default()) " — "
                        @if d["verified"] == json!(true) { "verified" } @else {
                            "publish TXT " code { (d["txt_value"].as_str().unwrap_or_default()) } " at " code { (d["txt_name"].as_str().unwrap_or_default()) } " "
                            form method="post" action=(format!("/console/connections/{id}/domains/{}/verify", url_escape(d["domain"].as_str().unwrap_or_default()))) class="inline" { (csrf(v)) button type="submit" { "Verify" } }
                        }
                    }
                }
            }
            form method="post" action=(format!("/console/connections/{id}/domains")) class="inline" {
                (csrf(v))
                label for=(format!("domain-{id}")) { "Add domain " }
                input id=(format!("domain-{id}")) name="domain" required;
                button type="submit" { "Add" }
            }
            form method="post" action=(format!("/console/connections/{id}/remove")) class="inline danger" {
                (csrf(v)) button type="submit" { "Remove connection" }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct WizardQuery {
    idp: Option<String>,
}

/// The wizard page, with what was typed, a just-minted token, or an error.
fn wizard_page(
    state: &State,
    v: &Viewer,
    i: &Idp,
    typed: &[(String, String)],
    token: Option<&str>,
    err: Option<&FormError>,
) -> Markup {
    let val = |k: &str| forms::one(typed, k);
    let role_sources: Vec<(String, String)> = [
        ("scim", "SCIM groups (recommended)"),
        ("claims", "Groups claim of the IdP"),
        ("both", "Both"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let current_rs = Some(val("role_source"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "scim".into());
    html! {
        h1 { "Connect " (i.name) }
        h2 { "1. Paste these into " (i.name) }
        (urls(state, v))
        h2 { "2. Set it up there" }
        ol class="steps" { @for s in i.steps { li { (s) } } }
        h2 { "3. SCIM token" }
        @if let Some(t) = token {
            p class="ok" role="status" { "Copy it now: it is shown only once." }
            p { code id="scim-token" { (t) } " " button type="button" class="copy" data-copy="scim-token" { "Copy" } }
        } @else {
            form method="post" action=(format!("/console/connections/new/scim-token?idp={}", i.key)) class="inline" {
                (csrf(v)) button type="submit" { "Mint a SCIM token" }
            }
        }
        h2 { "4. Tell idbridge about it" }
        form method="post" action=(format!("/console/connections/new?idp={}", i.key)) novalidate {
            (csrf(v))
            (alert(err))
            (field("Name", "name", "text", &Some(val("name")).filter(|s| !s.is_empty()).unwrap_or_else(|| i.name.to_string()), err, None))
            @if i.kind == "oidc" {
                (field("Issuer", "issuer", "url", &val("issuer"), err, Some(i.issuer_hint)))
                (field("Client ID", "client_id", "text", &val("client_id"), err, None))
                (field("Client secret", "client_secret", "password", "", err, Some("Stored sealed; never shown again.")))
                (field("Extra scopes", "scopes", "text", &val("scopes"), err, Some("Besides openid, email and profile; space-separated (Okta and Keycloak often need groups).")))
            } @else {
                (field("IdP metadata URL", "idp_metadata_url", "url", &val("idp_metadata_url"), err, Some("Or paste the metadata XML below.")))
                div class="field" { label for="idp_metadata_xml" { "IdP metadata XML" } textarea id="idp_metadata_xml" name="idp_metadata_xml" rows="4" { (val("idp_metadata_xml")) } }
            }
            (field("Groups claim or attribute", "groups_attribute", "text", &Some(val("groups_attribute")).filter(|s| !s.is_empty()).unwrap_or_else(|| "groups".into()), err, None))
            (select("Roles come from", "role_source", &role_sources, &current_rs))
            div class="field" { label for="jit" { input type="checkbox" id="jit" name="jit" value="on" checked[val("jit") == "on"]; " Create users at first sign-in (only for verified domains)" } }
            button type="submit" { "Save connection" }
        }
    }
}

#[get("/console/connections/new")]
pub async fn wizard(
    state: State,
    v: Viewer,
    q: web::Query<WizardQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let i = idp(q.idp.as_deref().unwrap_or("oidc"));
    Ok(ok(layout(
        Some(&v),
        "Connect an identity provider",
        "/console/connections",
        wizard_page(&state, &v, i, &[], None, None),
    )))
}

#[post("/console/connections/new/scim-token")]
pub async fn mint_token(
    state: State,
    req: HttpRequest,
    v: Viewer,
    q: web::Query<WizardQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let p = forms::pairs(&body);
    check_form(&state, &req, &v, &forms::one(&p, "_csrf"))?;
    let i = idp(q.idp.as_deref().unwrap_or("oidc"));
    let a = v
        .api(&state)?
        .send("POST", &v.path("/scim-tokens"), &json!({}))
        .await?;
    let (token, err) = if a.ok() {
        (a.body["token"].as_str().map(String::from), None)
    } else {
        (
            None,
            Some(FormError {
                field: None,
                message: a.message(),
            }),
        )
    };
    Ok(ok(layout(
        Some(&v),
        "Connect an identity provider",
        "/console/connections",
        wizard_page(&state, &v, i, &[], token.as_deref(), err.as_ref()),
    )))
}

#[post("/console/connections/new")]
pub async fn create(
    state: State,
    req: HttpRequest,
    v: Viewer,
    q: web::Query<WizardQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let p = forms::pairs(&body);
    check_form(&state, &req, &v, &forms::one(&p, "_csrf"))?;
    let i = idp(q.idp.as_deref().unwrap_or("oidc"));
    let opt = |k: &str| Some(forms::one(&p, k)).filter(|s| !s.is_empty());
    let mut input = json!({"kind": i.kind, "name": opt("name"), "groups_attribute": opt("groups_attribute"),
        "role_source": opt("role_source"), "jit": forms::one(&p, "jit") == "on"});
    let extra = if i.kind == "oidc" {
        let scopes: Vec<String> = forms::one(&p, "scopes")
            .split_whitespace()
            .map(String::from)
            .collect();
        json!({"issuer": forms::one(&p, "issuer"), "client_id": forms::one(&p, "client_id"), "client_secret": opt("client_secret"), "scopes": scopes})
    } else {
        json!({"idp_metadata_url": opt("idp_metadata_url"), "idp_metadata_xml": opt("idp_metadata_xml")})
    };
    for (k, val) in extra.as_object().into_iter().flatten() {
        if !val.is_null() {
            crate::json::set(&mut input, k, val.clone());
        }
    }
    let a = v
        .api(&state)?
        .send("POST", &v.path("/connections"), &input)
        .await?;
    if a.ok() {
        let id = a.body["id"].as_str().unwrap_or_default();
        return Ok(see_other(&format!(
            "/console/connections?created={}",
            url_escape(id)
        )));
    }
    let fields = [
        "name",
        "issuer",
        "client_id",
        "client_secret",
        "idp_metadata_url",
        "groups_attribute",
        "role_source",
    ];
    let err = FormError::from_message(a.message(), &fields);
    let mut r = ok(layout(
        Some(&v),
        "Connect an identity provider",
        "/console/connections",
        wizard_page(&state, &v, i, &p, None, Some(&err)),
    ));
    *r.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
    Ok(r)
}

/// Domain and removal forms post here and come back to the list.
async fn act(
    state: &State,
    req: &HttpRequest,
    v: &Viewer,
    body: &web::Bytes,
    method: &str,
    path: String,
    payload: Value,
) -> Result<HttpResponse, ConsoleError> {
    let p = forms::pairs(body);
    check_form(state, req, v, &forms::one(&p, "_csrf"))?;
    let api = v.api(state)?;
    let a = api.send(method, &path, &payload).await?;
    if a.ok() {
        return Ok(see_other("/console/connections"));
    }
    let listed = api.get(&v.path("/connections")).await?;
    let err = FormError {
        field: None,
        message: a.message(),
    };
    let mut r = ok(layout(
        Some(v),
        "Identity provider",
        "/console/connections",
        list_body(v, &listed, None, Some(&err)),
    ));
    *r.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
    Ok(r)
}

#[post("/console/connections/{id}/domains")]
pub async fn add_domain(
    state: State,
    req: HttpRequest,
    v: Viewer,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let domain = forms::one(&forms::pairs(&body), "domain");
    let path = v.path(&format!("/connections/{}/domains", url_escape(&id)));
    act(
        &state,
        &req,
        &v,
        &body,
        "POST",
        path,
        json!({"domain": domain}),
    )
    .await
}

#[post("/console/connections/{id}/domains/{domain}/verify")]
pub async fn verify_domain(
    state: State,
    req: HttpRequest,
    v: Viewer,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let (id, domain) = path.into_inner();
    let p = v.path(&format!(
        "/connections/{}/domains/{}/verify",
        url_escape(&id),
        url_escape(&domain)
    ));
    act(&state, &req, &v, &body, "POST", p, json!({})).await
}

#[post("/console/connections/{id}/remove")]
pub async fn remove(
    state: State,
    req: HttpRequest,
    v: Viewer,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let p = v.path(&format!("/connections/{}", url_escape(&id)));
    act(&state, &req, &v, &body, "DELETE", p, json!({})).await
}
