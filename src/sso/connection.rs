//! Choosing the connection a sign-in goes through: `/sso/{account}/login`
//! (the account's only enabled connection, a named one, or a choice page)
//! and `/sso/start?email=` (home-realm discovery by verified email domain).

use super::error::SsoError;
use super::pages;
use super::return_to::safe_return_to;
use crate::state::State;
use crate::store::connections::{self, Connection, ConnectionKind, SsoMode};
use actix_web::{get, http::StatusCode, web, HttpRequest, HttpResponse};
use serde::Deserialize;

fn not_enabled() -> SsoError {
    SsoError::refused(
        StatusCode::NOT_FOUND,
        "Single sign-on is not enabled",
        "This account does not sign in through an identity provider.",
    )
}

/// The connection a sign-in may use: it exists in the account, is enabled,
/// and the account's mode is not `off`. `id: None` picks the account's only
/// enabled connection (the oldest OIDC one for sign-ins started before
/// connections existed). An unreadable mode or row refuses.
pub async fn usable(
    state: &State,
    account: &str,
    id: Option<&str>,
) -> Result<Connection, SsoError> {
    if connections::mode(&state.db, account).await? == SsoMode::Off {
        return Err(not_enabled());
    }
    let found = match id {
        Some(id) => connections::get(&state.db, account, id).await?,
        None => connections::list(&state.db, account)
            .await?
            .into_iter()
            .find(|c| c.enabled && c.kind == ConnectionKind::Oidc),
    };
    found.filter(|c| c.enabled).ok_or_else(not_enabled)
}

/// Starts a sign-in on the connection, whatever its kind.
pub async fn begin(
    state: &State,
    c: &Connection,
    return_to: Option<String>,
) -> Result<HttpResponse, SsoError> {
    start_kind(state, c, return_to, false).await
}

async fn start_kind(
    state: &State,
    c: &Connection,
    return_to: Option<String>,
    test: bool,
) -> Result<HttpResponse, SsoError> {
    match c.kind {
        ConnectionKind::Oidc => super::oidc::begin(state, c, return_to, test).await,
        ConnectionKind::Saml => super::saml::begin(state, c, return_to, test).await,
    }
}

/// A test sign-in may be started only by an administrator of the account,
/// signed in here (the console's "test connection" button).
async fn may_test(state: &State, req: &HttpRequest, account: &str) -> Result<(), SsoError> {
    let refused = || {
        SsoError::refused(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Only an administrator of this account, signed in to the console, can test its connections.",
        )
    };
    let cookie = req
        .cookie(crate::store::sessions::COOKIE)
        .ok_or_else(refused)?;
    let live = state
        .resolver
        .session_access(&state.db, cookie.value())
        .await?
        .ok_or_else(refused)?;
    let admin = live
        .account
        .model
        .usable_privileges(&live.access)
        .contains(&crate::catalog::ACCOUNT_ADMINISTRATION);
    if live.session.account_id != account || !admin {
        return Err(refused());
    }
    Ok(())
}

fn checked_return_to(r: Option<&str>) -> Result<Option<String>, SsoError> {
    safe_return_to(r).map_err(|_| {
        SsoError::refused(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "return_to must be a path on this site.",
        )
    })
}

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
    connection: Option<String>,
    /// `1`: a test of the connection (no session; shows what the IdP sent).
    test: Option<String>,
}

#[get("/sso/{account}/login")]
pub async fn login(
    state: State,
    req: HttpRequest,
    account: web::Path<String>,
    q: web::Query<LoginQuery>,
) -> Result<HttpResponse, SsoError> {
    let account = account.into_inner();
    let return_to = checked_return_to(q.return_to.as_deref())?;
    if let Some(id) = q.connection.as_deref() {
        let test = q.test.as_deref() == Some("1");
        if test {
            may_test(&state, &req, &account).await?;
        }
        let c = usable(&state, &account, Some(id)).await?;
        return start_kind(&state, &c, return_to, test).await;
    }
    if connections::mode(&state.db, &account).await? == SsoMode::Off {
        return Err(not_enabled());
    }
    let enabled: Vec<Connection> = connections::list(&state.db, &account)
        .await?
        .into_iter()
        .filter(|c| c.enabled)
        .collect();
    match enabled.as_slice() {
        [] => Err(not_enabled()),
        [only] => begin(&state, only, return_to).await,
        several => Ok(choice_page(&account, several, return_to.as_deref())),
    }
}

/// Several connections and no email to route by: the person picks one.
fn choice_page(account: &str, cs: &[Connection], return_to: Option<&str>) -> HttpResponse {
    let back = return_to
        .map(|r| format!("&amp;return_to={}", pages::escape(&url_escape(r))))
        .unwrap_or_default();
    let items: String = cs
        .iter()
        .map(|c| {
            format!(
                "<li><a href=\"/sso/{a}/login?connection={id}{back}\">{name}</a> ({kind})</li>",
                a = pages::escape(&url_escape(account)),
                id = pages::escape(&url_escape(&c.id)),
                name = pages::escape(&c.name),
                kind = c.kind
            )
        })
        .collect();
    pages::info(
        "Choose how to sign in",
        &format!(
            "<p>This account signs in through several identity providers.</p><ul>{items}</ul>"
        ),
    )
}

fn url_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Deserialize)]
pub struct StartQuery {
    email: Option<String>,
    return_to: Option<String>,
}

/// The domain part of an email address, lowercased; `None` if it has none.
pub fn email_domain(email: &str) -> Option<String> {
    let (local, domain) = email.trim().rsplit_once('@')?;
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    (!local.is_empty() && domain.contains('.') && !domain.contains(char::is_whitespace))
        .then_some(domain)
}

/// Home-realm discovery: the connection that verified the email's domain.
/// Unverified or unknown domains route nowhere.
#[get("/sso/start")]
pub async fn start(state: State, q: web::Query<StartQuery>) -> Result<HttpResponse, SsoError> {
    let return_to = checked_return_to(q.return_to.as_deref())?;
    let Some(domain) = q.email.as_deref().and_then(email_domain) else {
        return Err(SsoError::refused(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "Enter an email address to sign in with single sign-on.",
        ));
    };
    let routed = connections::route(&state.db, &domain).await?;
    let Some(c) = routed else {
        tracing::info!(%domain, "no connection serves this email domain");
        return Err(SsoError::refused(
            StatusCode::NOT_FOUND,
            "No single sign-on for this domain",
            "No identity provider is set up for your email domain. Ask your administrator, or sign in another way.",
        ));
    };
    let c = usable(&state, &c.account_id, Some(&c.id)).await?;
    begin(&state, &c, return_to).await
}

#[cfg(test)]
mod tests {
    use super::email_domain;

    #[test]
    fn email_domains_are_lowercased_and_need_a_dot() {
        assert_eq!(
            email_domain("Ann@Example.COM").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            email_domain("a@b@corp.example.").as_deref(),
            Some("corp.example")
        );
        assert_eq!(email_domain("ann@localhost"), None);
        assert_eq!(email_domain("@example.com"), None);
        assert_eq!(email_domain("no-at-sign"), None);
    }
}
