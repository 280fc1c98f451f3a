//! Sign-in outcomes (the SSO rule, local break-glass sign-in), sessions,
//! `/auth/session` tokens and the JWKS.

use super::client::VerifiedLogin;
use super::error::SsoError;
use super::pages::local_form;
use crate::secrets;
use crate::state::State;
use crate::store::audit::{self, Event};
use crate::store::connections::{self, Connection, RoleSource, SsoMode};
use crate::store::users::{self, User};
use crate::store::{model, new_id, now_ms};
use crate::store::{sessions, signing_keys};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{get, http::StatusCode, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Records a sign-in event; failures to record are logged (the response is already decided).
pub async fn audit(
    state: &State,
    account: Option<&str>,
    actor: &str,
    action: &str,
    target: &str,
    details: Value,
) {
    if let Err(e) = audit::record(
        &state.db,
        Event::new(account, actor, action, target)
            .outcome(if action.contains("denied") {
                "denied"
            } else {
                "success"
            })
            .details(details),
    )
    .await
    {
        tracing::error!(error = %e, action, "could not record a sign-in audit event");
    }
}

fn session_cookie(state: &State, value: String) -> Cookie<'static> {
    Cookie::build(sessions::COOKIE, value)
        .path("/")
        .http_only(true)
        .secure(state.settings.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(
            state.settings.session_ttl_secs,
        ))
        .finish()
}

/// Does the user hold the built-in Administrator role (directly or by SCIM group)?
pub(crate) async fn holds_builtin_admin(
    state: &State,
    account_id: &str,
    user_id: &str,
) -> Result<bool, crate::store::StoreError> {
    let grants = model::user_grants(&state.db, account_id, user_id, None).await?;
    Ok(grants.iter().any(|g| g.role.is_administrator()))
}

/// `local@domain`, nothing else: an ID token's `email` is free text at some IdPs.
fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

fn admin_refusal(account: &str) -> SsoError {
    SsoError::Refused {
        status: StatusCode::FORBIDDEN,
        title: "Administrators sign in locally",
        detail: "Your account holds the built-in Administrator role, which never signs in through single sign-on.".into(),
        extra_html: format!("<p><a href=\"/auth/local?account={}\">Sign in with your administrator credential</a></p>", super::pages::escape(account)),
    }
}

/// Applies the SSO rule to a verified IdP login and starts a session.
pub async fn complete_sso(
    state: &State,
    cfg: &Connection,
    login: VerifiedLogin,
    return_to: Option<String>,
) -> Result<HttpResponse, SsoError> {
    let acct = cfg.account_id.as_str();
    let user = sso_user(state, cfg, &login).await?;
    let email = login.email.as_str();
    let details =
        json!({"email": email, "sub": login.subject, "groups": login.groups, "connection": cfg.id});
    // SCIM is authoritative: a deactivated user stays out whatever the IdP says.
    if !user.active {
        audit(
            state,
            Some(acct),
            email,
            "sso.denied_inactive",
            &user.id,
            details,
        )
        .await;
        return Err(SsoError::refused(
            StatusCode::FORBIDDEN,
            "Account deactivated",
            "Your user is deactivated in this account.",
        ));
    }
    if holds_builtin_admin(state, acct, &user.id).await? {
        audit(
            state,
            Some(acct),
            email,
            "sso.denied_admin",
            &user.id,
            details,
        )
        .await;
        return Err(admin_refusal(acct));
    }
    // Under group overage the IdP sent no groups: roles come from SCIM
    // groups alone (role_source = scim is the lasting fix), and the audit says so.
    let claims = (cfg.role_source != RoleSource::Scim && !login.groups_overage)
        .then(|| login.groups.clone());
    let (cookie, _) = start_session(state, acct, &user.id, &["sso"], claims, |s| {
        let mut d = json!({"session": s.id, "sub": login.subject, "groups": login.groups, "connection": cfg.id, "kind": cfg.kind});
        if login.groups_overage {
            crate::json::set(&mut d, "groups_overage", json!(true));
            crate::json::set(&mut d, "note", json!("the IdP sent a groups overage marker instead of groups: roles from SCIM groups only"));
        }
        vec![Event::new(Some(acct), email, "sso.login", &user.id).details(d)]
    })
    .await?;
    Ok(HttpResponse::Found()
        .insert_header(("Location", return_to.unwrap_or_else(|| "/".into())))
        .insert_header(("Cache-Control", "no-store"))
        .cookie(session_cookie(state, cookie))
        .finish())
}

/// The one user a verified login names: matched on the email only (never an
/// id or a userName), which must name exactly one user; created just in time
/// only for an email the IdP vouches for. Refusals are audited.
async fn sso_user(
    state: &State,
    cfg: &Connection,
    login: &VerifiedLogin,
) -> Result<User, SsoError> {
    let acct = cfg.account_id.as_str();
    let email = login.email.as_str();
    let deny = |action: &'static str, title: &'static str, text: &'static str| async move {
        let details = json!({"email": email, "sub": login.subject, "groups": login.groups, "email_verified": login.email_verified});
        audit(state, Some(acct), email, action, email, details).await;
        SsoError::refused(StatusCode::FORBIDDEN, title, text)
    };
    if !looks_like_email(email) {
        return Err(deny(
            "sso.denied_token",
            "Sign-in refused",
            "Your identity provider did not send an email address.",
        )
        .await);
    }
    if login.email_verified == Some(false) {
        return Err(deny("sso.denied_unverified", "Email not verified", "Your identity provider says your email address is not verified, so it cannot identify you here.").await);
    }
    match model::user_by_email(&state.db, acct, email).await? {
        model::Lookup::One(u) => Ok(*u),
        model::Lookup::Ambiguous => Err(deny("sso.denied_ambiguous", "Sign-in refused", "More than one user in this account has your email address. Ask your administrator to fix the directory.").await),
        model::Lookup::None if cfg.jit && may_create(state, cfg, login).await? => {
            Ok(jit_user(state, acct, email).await?)
        }
        model::Lookup::None => Err(deny("sso.denied_unknown", "Not provisioned", "Your identity provider signed you in, but no user with your email exists in this account.").await),
    }
}

/// Whether a sign-in may create its user. A connection that claims email
/// domains creates users only for the ones it verified; one that claims
/// none (as set up before domains existed) relies on the IdP vouching for
/// the address (`email_verified`), which SAML cannot express.
async fn may_create(
    state: &State,
    cfg: &Connection,
    login: &VerifiedLogin,
) -> Result<bool, crate::store::StoreError> {
    let Some(domain) = super::connection::email_domain(&login.email) else {
        return Ok(false);
    };
    if connections::serves_verified(&state.db, &cfg.id, &domain).await? {
        return Ok(true);
    }
    Ok(connections::domains(&state.db, &cfg.id).await?.is_empty()
        && login.email_verified == Some(true))
}

async fn jit_user(
    state: &State,
    acct: &str,
    email: &str,
) -> Result<User, crate::store::StoreError> {
    let txn = crate::store::write_txn(&state.db).await?;
    let u = users::insert(
        &txn,
        users::NewUser {
            id: new_id(),
            account_id: acct.into(),
            user_name: email.into(),
            email: Some(email.into()),
            external_id: None,
            display_name: None,
            origin: users::Origin::Idp,
            active: true,
            attributes: json!({"userName": email, "emails": [{"value": email, "primary": true}], "active": true}),
            credential: None,
        },
    )
    .await?;
    audit::record(
        &txn,
        Event::new(Some(acct), email, "sso.jit_create", &u.id).details(json!({"email": email})),
    )
    .await?;
    let created = json!({"id": u.id, "userName": email, "active": true, "attributes": serde_json::from_str::<serde_json::Value>(&u.attributes).unwrap_or_default(), "created_by": "jit"});
    crate::store::events::emit(&txn, acct, "user.created", &u.id, created).await?;
    crate::store::changes::record(&txn, Some(acct), crate::store::changes::Change::Users).await?;
    txn.commit().await?;
    state.resolver.invalidate(acct);
    Ok(u)
}

/// Starts a session and records the events describing it in one
/// transaction: no session exists without its audit trail.
async fn start_session(
    state: &State,
    acct: &str,
    user_id: &str,
    amr: &[&str],
    claim_groups: Option<Vec<String>>,
    events: impl FnOnce(&sessions::Session) -> Vec<Event>,
) -> Result<(String, sessions::Session), crate::store::StoreError> {
    let txn = crate::store::write_txn(&state.db).await?;
    let (cookie, s) = sessions::create(
        &txn,
        acct,
        user_id,
        amr,
        claim_groups,
        state.settings.session_ttl_secs,
    )
    .await?;
    let started = serde_json::json!({"session": s.id, "user": user_id, "amr": amr, "expires_at": crate::store::credentials::iso(s.expires_at)});
    crate::store::events::emit(&txn, acct, "session.started", user_id, started.clone()).await?;
    for e in events(&s) {
        if e.action == "break_glass.login" {
            crate::store::events::emit(&txn, acct, "break_glass.signin", user_id, started.clone())
                .await?;
        }
        audit::record(&txn, e).await?;
    }
    txn.commit().await?;
    Ok((cookie, s))
}

#[derive(Deserialize)]
pub struct LocalQuery {
    account: Option<String>,
}

#[get("/auth/local")]
pub async fn local_page(q: web::Query<LocalQuery>) -> HttpResponse {
    local_form(q.account.as_deref().unwrap_or_default(), None)
}

#[derive(Deserialize)]
pub struct LocalLogin {
    account: String,
    email: String,
    password: String,
    totp: String,
    return_to: Option<String>,
}

impl LocalLogin {
    /// Every field is bounded before anything is looked up, hashed or stored.
    fn check_lengths(&self) -> Result<(), &'static str> {
        let fits = self.account.len() <= 64
            && self.email.len() <= 320
            && self.password.len() <= 1024
            && self.totp.len() <= 16
            && self.return_to.as_ref().is_none_or(|r| r.len() <= 2048);
        fits.then_some(()).ok_or("a field is too long")
    }
}

fn unauthorized(json_client: bool, account: &str) -> HttpResponse {
    if json_client {
        HttpResponse::Unauthorized()
            .json(json!({"error": "unauthorized", "message": "sign-in failed"}))
    } else {
        let mut r = local_form(account, Some("Sign-in failed."));
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        r
    }
}

/// A browser request sent from another site (login CSRF, forced logout).
/// Clients that send no `Origin` (curl, services) are not browsers posting
/// across sites; browsers always send it on POST.
pub(crate) fn cross_site(req: &HttpRequest, public_url: &str) -> bool {
    use actix_web::http::header::ORIGIN;
    if req
        .headers()
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return true;
    }
    let Some(origin) = req.headers().get(ORIGIN) else {
        return false;
    };
    let ours = url::Url::parse(public_url)
        .map(|u| u.origin().ascii_serialization())
        .ok();
    origin.to_str().ok() != ours.as_deref()
}

/// Only JSON and form bodies: a `text/plain` post is what a cross-site form
/// can send without a preflight.
fn body_kind(req: &HttpRequest) -> Option<bool> {
    let ct = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ct.starts_with("application/json") {
        Some(true)
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        Some(false)
    } else {
        None
    }
}

/// A sign-in post this server will look at: JSON or a form (true for
/// JSON), from this site, with every field within its length.
fn admit(
    state: &State,
    req: &HttpRequest,
    body: web::Either<web::Json<LocalLogin>, web::Form<LocalLogin>>,
) -> Result<(LocalLogin, bool), SsoError> {
    let json_client = body_kind(req).ok_or_else(|| {
        SsoError::json(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/json or application/x-www-form-urlencoded",
        )
    })?;
    if cross_site(req, &state.settings.public_url) {
        return Err(SsoError::json(
            StatusCode::FORBIDDEN,
            "cross_site",
            "sign-in must come from this site",
        ));
    }
    let b = match body {
        web::Either::Left(j) => j.into_inner(),
        web::Either::Right(f) => f.into_inner(),
    };
    b.check_lengths()
        .map_err(|m| SsoError::json(StatusCode::BAD_REQUEST, "bad_request", m))?;
    Ok((b, json_client))
}

/// Local sign-in with password + TOTP. Every failure looks the same (401).
#[post("/auth/local")]
pub async fn local_login(
    state: State,
    req: HttpRequest,
    body: web::Either<web::Json<LocalLogin>, web::Form<LocalLogin>>,
) -> Result<HttpResponse, SsoError> {
    let (b, json_client) = admit(&state, &req, body)?;
    let acct = b.account.trim().to_string();
    let client_key = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    if state.resolver.account(&state.db, &acct).await?.is_none() {
        return unknown_account(&state, &acct, &client_key, json_client).await;
    }
    let user = match model::local_user(&state.db, &acct, &b.email).await? {
        model::Lookup::One(u) => Some(*u),
        // Two local users answering one login cannot be told apart: neither signs in.
        model::Lookup::None | model::Lookup::Ambiguous => None,
    };
    // One bucket per user whatever name they were addressed by.
    let user_key = match &user {
        Some(u) => format!("{acct}\n{}", u.id),
        None => format!("{acct}\n{}", b.email.trim().to_lowercase()),
    };
    let email = b.email.trim().to_string();
    // Throttling that cannot be checked refuses the attempt (`?`).
    let reserved = state
        .throttle
        .reserve(&state.db, &user_key, &client_key)
        .await?;
    let reservation = match reserved {
        Ok(r) => r,
        Err(t) => return Ok(throttled(&state, &acct, &email, &client_key, t).await),
    };
    let outcome = match check_local_credential(&state, user, &b).await {
        Ok(o) => o,
        Err(resp) => {
            // Not checked at all (overload, internal error): the attempt does not count.
            if let Err(e) = state.throttle.release(&state.db, reservation).await {
                tracing::error!(error = %e, "could not hand back a sign-in reservation");
            }
            return Err(resp);
        }
    };
    let u = match outcome {
        Ok(u) => u,
        Err(reason) => {
            audit(
                &state,
                Some(&acct),
                &email,
                "local.denied",
                &email,
                json!({"reason": reason, "client": client_key}),
            )
            .await;
            return Ok(unauthorized(json_client, &acct));
        }
    };
    state
        .throttle
        .succeeded(&state.db, &user_key, reservation)
        .await?;
    start_local_session(
        &state,
        &acct,
        u,
        &client_key,
        json_client,
        b.return_to.as_deref(),
    )
    .await
}

/// 429 with `Retry-After`; only the first refusal of a window is audited.
/// Unknown accounts get the same 401, count against the client, and leave
/// no row behind (anyone could send them).
async fn unknown_account(
    state: &State,
    acct: &str,
    client_key: &str,
    json_client: bool,
) -> Result<HttpResponse, SsoError> {
    let throttled = state
        .throttle
        .reserve_client(&state.db, client_key)
        .await?
        .is_err();
    tracing::info!(account = ?acct, client = ?client_key, throttled, "local sign-in for an unknown account");
    Ok(unauthorized(json_client, acct))
}

async fn throttled(
    state: &State,
    acct: &str,
    email: &str,
    client_key: &str,
    t: crate::store::signin_attempts::Throttled,
) -> HttpResponse {
    if t.first {
        audit(
            state,
            Some(acct),
            email,
            "local.denied",
            email,
            json!({"reason": "throttled", "client": client_key}),
        )
        .await;
    }
    HttpResponse::TooManyRequests()
        .insert_header(("Retry-After", t.retry_after.as_secs().max(1).to_string()))
        .json(json!({"error": "too_many_requests", "message": "too many failed sign-ins; try again later"}))
}

/// The hash a password is checked against: the user's, or for unknown users a
/// dummy that takes as long, so timing says nothing. `None` (refuse) when
/// there is no dummy: unknown users must never answer faster.
fn hash_to_check(user_hash: Option<String>, dummy: Option<&str>) -> Option<String> {
    user_hash.or_else(|| dummy.map(String::from))
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_dummy_hash_means_no_check() {
        use super::hash_to_check;
        assert_eq!(hash_to_check(Some("h".into()), None).as_deref(), Some("h"));
        assert_eq!(hash_to_check(None, Some("d")).as_deref(), Some("d"));
        assert_eq!(hash_to_check(None, None), None);
    }
}

/// Password (argon2, bounded concurrency), active flag and TOTP claim.
/// `Ok(Err(reason))` is a failed sign-in; `Err(response)` means no check happened.
async fn check_local_credential(
    state: &State,
    user: Option<User>,
    b: &LocalLogin,
) -> Result<Result<User, &'static str>, SsoError> {
    let Some(hash) = hash_to_check(
        user.as_ref().and_then(|u| u.password_hash.clone()),
        secrets::dummy_password_hash(),
    ) else {
        return Err(SsoError::internal("could not prepare the password check"));
    };
    let Ok(password_ok) = state.password_checks.verify(b.password.clone(), hash).await else {
        return Err(SsoError::Busy);
    };
    let Some(u) = user else {
        return Ok(Err("unknown user"));
    };
    if !password_ok {
        return Ok(Err("wrong password"));
    }
    if !u.active {
        return Ok(Err("deactivated"));
    }
    let secs = u64::try_from(now_ms() / 1000).unwrap_or_default();
    let Some(step) = u
        .totp_secret
        .as_deref()
        .and_then(|s| secrets::check_totp(s, &b.totp, secs))
    else {
        return Ok(Err("wrong one-time code"));
    };
    // Claim the step atomically: a code is good once, and none older than the last.
    match users::claim_totp_step(&state.db, &u.id, step).await {
        Ok(true) => Ok(Ok(u)),
        Ok(false) => Ok(Err("one-time code replayed")),
        Err(e) => Err(SsoError::internal(e)),
    }
}

/// The `required` SSO mode check, then the session, its audit and the answer.
async fn start_local_session(
    state: &State,
    acct: &str,
    u: User,
    client_key: &str,
    json_client: bool,
    return_to: Option<&str>,
) -> Result<HttpResponse, SsoError> {
    let is_admin = holds_builtin_admin(state, acct, &u.id)
        .await
        .map_err(SsoError::internal)?;
    // An unreadable mode refuses: `required` must never silently become `off`.
    let mode = connections::mode(&state.db, acct).await?;
    if mode == SsoMode::Required && !is_admin {
        audit(
            state,
            Some(acct),
            &u.user_name,
            "local.denied",
            &u.id,
            json!({"reason": "account requires SSO", "client": client_key}),
        )
        .await;
        return Ok(HttpResponse::Forbidden().json(json!({"error": "sso_required", "message": "this account signs in through its identity provider", "login": format!("/sso/{acct}/login")})));
    }
    let started = start_session(state, acct, &u.id, &["pwd", "otp"], None, |s| {
        let d = json!({"session": s.id, "client": client_key});
        let mut events = vec![
            Event::new(Some(acct), u.user_name.clone(), "local.login", &u.id).details(d.clone()),
        ];
        if is_admin {
            events.push(
                Event::new(Some(acct), u.user_name.clone(), "break_glass.login", &u.id).details(d),
            );
        }
        events
    })
    .await;
    let (cookie, s) = started.map_err(SsoError::internal)?;
    if is_admin {
        tracing::warn!(account = ?acct, user = ?u.user_name, client = ?client_key, "break-glass administrator signed in");
    }
    let c = session_cookie(state, cookie);
    if json_client {
        return Ok(HttpResponse::Ok().cookie(c).json(json!({"user_id": u.id, "email": u.user_name, "account": acct, "amr": ["pwd", "otp"], "expires_at": crate::store::credentials::iso(s.expires_at)})));
    }
    {
        // Same rule as SSO: a path on this site (no `//`, no backslash tricks).
        let to = super::return_to::safe_return_to(return_to)
            .ok()
            .flatten()
            .unwrap_or_else(|| "/".into());
        Ok(HttpResponse::SeeOther()
            .insert_header(("Location", to))
            .cookie(c)
            .finish())
    }
}

#[derive(Serialize)]
struct SessionClaims {
    iss: String,
    /// Who the token is for: the platform services that verify it.
    aud: String,
    sub: String,
    email: String,
    acct: String,
    roles: Vec<String>,
    /// Agent Garden roles, implied ones included.
    ag_roles: Vec<String>,
    privs: Vec<String>,
    envs: Vec<String>,
    amr: Vec<String>,
    sid: String,
    iat: i64,
    exp: i64,
}

/// The live session: who, with which roles now, and a fresh short-lived JWT.
#[get("/auth/session")]
pub async fn current_session(state: State, req: HttpRequest) -> Result<HttpResponse, SsoError> {
    let unauthorized = || {
        HttpResponse::Unauthorized()
            .json(json!({"error": "unauthorized", "message": "no live session"}))
    };
    let Some(c) = req.cookie(sessions::COOKIE) else {
        return Ok(unauthorized());
    };
    let live = match state.resolver.session_access(&state.db, c.value()).await {
        Ok(Some(l)) => l,
        Ok(None) => return Ok(unauthorized()),
        Err(e) => return Err(SsoError::internal(e)),
    };
    let (s, u, acct, access, amr) = (live.session, live.user, live.account, live.access, live.amr);
    let roles = access.role_names(crate::catalog::Family::Platform);
    let ag_roles = access.role_names(crate::catalog::Family::AgentGarden);
    // Only privileges the account's features let the user use.
    let privs: Vec<String> = acct
        .model
        .usable_privileges(&access)
        .into_iter()
        .map(String::from)
        .collect();
    let envs: Vec<String> = access
        .environments()
        .iter()
        .map(|e| acct.model.env_name(e))
        .collect();
    let iat = now_ms() / 1000;
    let claims = SessionClaims {
        iss: state.settings.public_url.clone(),
        aud: state.settings.token_audience.clone(),
        sub: u.id.clone(),
        email: u.user_name.clone(),
        acct: s.account_id.clone(),
        roles: roles.clone(),
        ag_roles: ag_roles.clone(),
        privs: privs.clone(),
        envs: envs.clone(),
        amr: amr.clone(),
        sid: s.id.clone(),
        iat,
        // Never outlives the session.
        exp: (iat + state.settings.token_ttl_secs).min(s.expires_at / 1000),
    };
    let key = signing_keys::current(&state.db, &state.sealer)
        .await
        .map_err(SsoError::internal)?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    let token =
        jsonwebtoken::encode(&header, &claims, &key.encoding).map_err(SsoError::internal)?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(json!({
        "user_id": u.id, "email": u.user_name, "account": s.account_id, "roles": roles, "agent_garden_roles": ag_roles, "privileges": privs,
        "environments": envs, "amr": amr, "expires_at": crate::store::credentials::iso(s.expires_at), "token": token
    })))
}

#[post("/auth/logout")]
pub async fn logout(state: State, req: HttpRequest) -> Result<HttpResponse, SsoError> {
    if cross_site(&req, &state.settings.public_url) {
        return Err(SsoError::json(
            StatusCode::FORBIDDEN,
            "cross_site",
            "sign-out must come from this site",
        ));
    }
    if let Some(c) = req.cookie(sessions::COOKIE) {
        if let Ok(Some(s)) = sessions::lookup(&state.db, c.value()).await {
            let ended = async {
                let txn = crate::store::write_txn(&state.db).await?;
                sessions::revoke(&txn, &s.id).await?;
                audit::record(
                    &txn,
                    Event::new(Some(&s.account_id), &s.user_id, "session.logout", &s.id),
                )
                .await?;
                let ended =
                    serde_json::json!({"session": s.id, "user": s.user_id, "reason": "logout"});
                crate::store::events::emit(&txn, &s.account_id, "session.ended", &s.user_id, ended)
                    .await?;
                txn.commit().await
            }
            .await;
            if let Err(e) = ended {
                return Err(SsoError::internal(e));
            }
        }
    }
    let mut gone = session_cookie(&state, String::new());
    gone.make_removal();
    Ok(HttpResponse::NoContent().cookie(gone).finish())
}

#[get("/.well-known/jwks.json")]
pub async fn jwks(state: State) -> Result<HttpResponse, SsoError> {
    // Retired keys stay published while tokens they signed may still be valid.
    let keys = signing_keys::jwks(
        &state.db,
        &state.sealer,
        state.settings.token_ttl_secs * 1000 + 60_000,
    )
    .await
    .map_err(SsoError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=60"))
        .json(keys))
}
