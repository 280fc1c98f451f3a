//! The end of a test sign-in: what the IdP sent, whom it names here, what
//! the rules would decide and which roles it would map to. No session is
//! started, whoever it is (an Administrator included).

use super::client::VerifiedLogin;
use super::error::SsoError;
use super::signin;
use crate::state::State;
use crate::store::connections::{Connection, RoleSource};
use crate::store::model;
use actix_web::HttpResponse;
use maud::html;
use serde_json::json;

/// What signing in would have done, in words.
async fn verdict(
    state: &State,
    c: &Connection,
    login: &VerifiedLogin,
) -> Result<(String, Option<String>), SsoError> {
    let acct = c.account_id.as_str();
    Ok(match model::user_by_email(&state.db, acct, &login.email).await? {
        model::Lookup::One(u) if !u.active => ("Refused: the user is deactivated.".into(), Some(u.id)),
        model::Lookup::One(u) if signin::holds_builtin_admin(state, acct, &u.id).await? => (
            "Refused: the user holds the built-in Administrator role and must use local sign-in.".into(),
            Some(u.id),
        ),
        model::Lookup::One(u) => ("Would sign in.".into(), Some(u.id)),
        model::Lookup::Ambiguous => ("Refused: more than one user has this email.".into(), None),
        model::Lookup::None if c.jit => ("Would create the user just in time, if the domain rules allow it.".into(), None),
        model::Lookup::None => ("Refused: no user with this email is provisioned.".into(), None),
    })
}

pub async fn page(
    state: &State,
    c: &Connection,
    login: VerifiedLogin,
) -> Result<HttpResponse, SsoError> {
    let acct = c.account_id.as_str();
    let (decision, user_id) = verdict(state, c, &login).await?;
    let claims = (c.role_source != RoleSource::Scim && !login.groups_overage)
        .then_some(login.groups.as_slice());
    let grants = model::user_grants(
        &state.db,
        acct,
        user_id.as_deref().unwrap_or_default(),
        claims,
    )
    .await?;
    let cached = state
        .resolver
        .account(&state.db, acct)
        .await?
        .ok_or_else(|| SsoError::internal("account vanished"))?;
    let access = cached.access(grants);
    let roles = access.role_names(crate::catalog::Family::Platform);
    let privileges: Vec<&str> = cached
        .model
        .usable_privileges(&access)
        .into_iter()
        .collect();
    signin::audit(
        state,
        Some(acct),
        &login.email,
        "sso.test",
        &c.id,
        json!({"connection": c.id, "email": login.email, "groups": login.groups, "groups_overage": login.groups_overage, "decision": decision}),
    )
    .await;
    let body = html! {
        h1 { "Connection test: " (c.name) }
        p class="ok" role="status" { "The identity provider answered and its answer verified. No session was started." }
        h2 { "Decision" }
        p id="decision" { (decision) }
        h2 { "What the identity provider sent" }
        dl {
            dt { "Email" } dd id="claim-email" { (login.email) }
            dt { "Email verified" } dd { (login.email_verified.map_or("not stated".to_string(), |v| v.to_string())) }
            dt { "Subject" } dd { (login.subject) }
            dt { "Groups" } dd id="claim-groups" {
                @if login.groups.is_empty() { "none" } @else { (login.groups.join(", ")) }
            }
        }
        @if login.groups_overage {
            p class="warning" role="alert" {
                "Group overage: the IdP said this person has too many groups to list. Roles come from SCIM groups only; set the connection's role source to scim, or filter the groups in the IdP."
            }
        }
        h2 { "Roles it maps to (role source: " (c.role_source) ")" }
        ul id="mapped-roles" { @for r in &roles { li { (r) } } @if roles.is_empty() { li { "none" } } }
        details { summary { "Privileges (" (privileges.len()) ")" } ul { @for p in &privileges { li { (p) } } } }
        p { a href="/console/connections" { "Back to the console" } }
    };
    Ok(crate::console::ok(crate::console::layout(
        None,
        "Connection test",
        "",
        body,
    )))
}
