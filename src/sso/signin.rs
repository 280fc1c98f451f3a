//! Sign-in outcomes (the SSO rule, local break-glass sign-in), sessions,
//! `/auth/session` tokens and the JWKS.

use super::pages::{local_form, refusal};
use super::{keys, oidc::VerifiedLogin, session};
use crate::access::Via;
use crate::catalog::ADMINISTRATOR;
use crate::secrets;
use crate::state::State;
use crate::store::audit::{self, Event};
use crate::store::entities::{sso_settings, user};
use crate::store::{model, new_id, now_ms};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{get, http::StatusCode, post, web, HttpRequest, HttpResponse};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
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
    Cookie::build(session::COOKIE, value)
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
async fn holds_builtin_admin(
    state: &State,
    account_id: &str,
    user_id: &str,
) -> Result<bool, crate::store::StoreError> {
    let grants = model::user_grants(&state.db, account_id, user_id, None).await?;
    Ok(grants.iter().any(|g| g.role == ADMINISTRATOR))
}

/// By email or userName; the store's lookup also takes ids, which never look like emails.
async fn find_user(
    state: &State,
    account_id: &str,
    email: &str,
) -> Result<Option<user::Model>, crate::store::StoreError> {
    model::find_user(&state.db, account_id, email).await
}

fn admin_page(account: &str) -> HttpResponse {
    refusal(
        StatusCode::FORBIDDEN,
        "Administrators sign in locally",
        "Your account holds the built-in Administrator role, which never signs in through single sign-on.",
        &format!("<p><a href=\"/auth/local?account={}\">Sign in with your administrator credential</a></p>", super::pages::escape(account)),
    )
}

/// Applies the SSO rule to a verified IdP login and starts a session.
pub async fn complete_sso(
    state: &State,
    cfg: &sso_settings::Model,
    login: VerifiedLogin,
    return_to: Option<String>,
) -> HttpResponse {
    let acct = cfg.account_id.as_str();
    let email = login.email.clone();
    let details = json!({"email": email, "sub": login.subject, "groups": login.groups});
    let user = match find_user(state, acct, &email).await {
        Ok(u) => u,
        Err(e) => return internal(e),
    };
    let user = match user {
        Some(u) => u,
        None if cfg.jit => match jit_user(state, acct, &email).await {
            Ok(u) => u,
            Err(e) => return internal(e),
        },
        None => {
            audit(
                state,
                Some(acct),
                &email,
                "sso.denied_unknown",
                &email,
                details,
            )
            .await;
            return refusal(StatusCode::FORBIDDEN, "Not provisioned", "Your identity provider signed you in, but no user with your email exists in this account.", "");
        }
    };
    // SCIM is authoritative: a deactivated user stays out whatever the IdP says.
    if !user.active {
        audit(
            state,
            Some(acct),
            &email,
            "sso.denied_inactive",
            &user.id,
            details,
        )
        .await;
        return refusal(
            StatusCode::FORBIDDEN,
            "Account deactivated",
            "Your user is deactivated in this account.",
            "",
        );
    }
    match holds_builtin_admin(state, acct, &user.id).await {
        Ok(true) => {
            audit(
                state,
                Some(acct),
                &email,
                "sso.denied_admin",
                &user.id,
                details,
            )
            .await;
            return admin_page(acct);
        }
        Ok(false) => {}
        Err(e) => return internal(e),
    }
    let claims = (cfg.role_source != "scim").then(|| login.groups.clone());
    let (cookie, s) = match session::create(
        &state.db,
        acct,
        &user.id,
        &["sso"],
        claims,
        state.settings.session_ttl_secs,
    )
    .await
    {
        Ok(x) => x,
        Err(e) => return internal(e),
    };
    audit(
        state,
        Some(acct),
        &email,
        "sso.login",
        &user.id,
        json!({"session": s.id, "sub": login.subject, "groups": login.groups}),
    )
    .await;
    HttpResponse::Found()
        .insert_header(("Location", return_to.unwrap_or_else(|| "/".into())))
        .insert_header(("Cache-Control", "no-store"))
        .cookie(session_cookie(state, cookie))
        .finish()
}

async fn jit_user(
    state: &State,
    acct: &str,
    email: &str,
) -> Result<user::Model, crate::store::StoreError> {
    let now = now_ms();
    let u = user::ActiveModel {
        id: Set(new_id()),
        account_id: Set(acct.into()),
        user_name: Set(email.into()),
        user_name_norm: Set(email.to_lowercase()),
        email_norm: Set(Some(email.to_lowercase())),
        external_id: Set(None),
        display_name: Set(None),
        origin: Set("scim".into()),
        active: Set(true),
        attributes: Set(
            json!({"userName": email, "emails": [{"value": email, "primary": true}]}).to_string(),
        ),
        password_hash: Set(None),
        totp_secret: Set(None),
        totp_last_step: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    audit(
        state,
        Some(acct),
        email,
        "sso.jit_create",
        &u.id,
        json!({"email": email}),
    )
    .await;
    state.resolver.invalidate(acct);
    Ok(u)
}

pub(super) fn internal(e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "sign-in failed internally");
    refusal(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Sign-in failed",
        "Something went wrong on our side.",
        "",
    )
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

/// Local sign-in with password + TOTP. Every failure looks the same (401).
#[post("/auth/local")]
pub async fn local_login(
    state: State,
    req: HttpRequest,
    body: web::Either<web::Json<LocalLogin>, web::Form<LocalLogin>>,
) -> HttpResponse {
    let json_client = matches!(body, web::Either::Left(_));
    let b = match body {
        web::Either::Left(j) => j.into_inner(),
        web::Either::Right(f) => f.into_inner(),
    };
    let acct = b.account.trim().to_string();
    let user_key = format!("{acct}\n{}", b.email.trim().to_lowercase());
    let client_key = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let throttled = state
        .throttle
        .per_user
        .check(&user_key)
        .and(state.throttle.per_client.check(&client_key));
    if let Err(wait) = throttled {
        audit(
            &state,
            Some(&acct),
            b.email.trim(),
            "local.denied",
            b.email.trim(),
            json!({"reason": "throttled", "client": client_key}),
        )
        .await;
        return HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", wait.as_secs().max(1).to_string()))
            .json(json!({"error": "too_many_requests", "message": "too many failed sign-ins; try again later"}));
    }
    let fail = |reason: &'static str| {
        state.throttle.per_user.fail(&user_key);
        state.throttle.per_client.fail(&client_key);
        reason
    };
    let user = match find_user(&state, &acct, &b.email).await {
        Ok(u) => u,
        Err(e) => return internal(e),
    };
    // Hash work happens whether or not the user exists, so timing says nothing.
    let hash = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| secrets::dummy_password_hash().to_string());
    let password = b.password.clone();
    let password_ok =
        tokio::task::spawn_blocking(move || secrets::verify_password(&password, &hash))
            .await
            .unwrap_or(false);
    let outcome: Result<user::Model, &'static str> = match user {
        None => Err(fail("unknown user")),
        Some(u) if u.password_hash.is_none() => Err(fail("no local credential")),
        Some(_) if !password_ok => Err(fail("wrong password")),
        Some(u) if !u.active => Err(fail("deactivated")),
        Some(u) => {
            let secs = u64::try_from(now_ms() / 1000).unwrap_or_default();
            match u
                .totp_secret
                .as_deref()
                .and_then(|s| secrets::check_totp(s, &b.totp, secs))
            {
                None => Err(fail("wrong one-time code")),
                Some(step) => {
                    // Claim the step atomically: a code is good once, and none older than the last.
                    let claimed = user::Entity::update_many()
                        .col_expr(
                            user::Column::TotpLastStep,
                            sea_orm::sea_query::Expr::value(step),
                        )
                        .filter(user::Column::Id.eq(u.id.clone()))
                        .filter(
                            sea_orm::Condition::any()
                                .add(user::Column::TotpLastStep.is_null())
                                .add(user::Column::TotpLastStep.lt(step)),
                        )
                        .exec(&state.db)
                        .await;
                    match claimed {
                        Ok(r) if r.rows_affected == 1 => Ok(u),
                        Ok(_) => Err(fail("one-time code replayed")),
                        Err(e) => return internal(e),
                    }
                }
            }
        }
    };
    let u = match outcome {
        Ok(u) => u,
        Err(reason) => {
            audit(
                &state,
                Some(&acct),
                b.email.trim(),
                "local.denied",
                b.email.trim(),
                json!({"reason": reason, "client": client_key}),
            )
            .await;
            return unauthorized(json_client, &acct);
        }
    };
    let is_admin = match holds_builtin_admin(&state, &acct, &u.id).await {
        Ok(a) => a,
        Err(e) => return internal(e),
    };
    let mode = super::settings::get(&state.db, &acct)
        .await
        .ok()
        .flatten()
        .map(|c| c.mode)
        .unwrap_or_else(|| "off".into());
    if mode == "required" && !is_admin {
        audit(
            &state,
            Some(&acct),
            &u.user_name,
            "local.denied",
            &u.id,
            json!({"reason": "account requires SSO", "client": client_key}),
        )
        .await;
        return HttpResponse::Forbidden().json(json!({"error": "sso_required", "message": "this account signs in through its identity provider", "login": format!("/sso/{acct}/login")}));
    }
    state.throttle.per_user.clear(&user_key);
    let (cookie, s) = match session::create(
        &state.db,
        &acct,
        &u.id,
        &["pwd", "otp"],
        None,
        state.settings.session_ttl_secs,
    )
    .await
    {
        Ok(x) => x,
        Err(e) => return internal(e),
    };
    audit(
        &state,
        Some(&acct),
        &u.user_name,
        "local.login",
        &u.id,
        json!({"session": s.id, "client": client_key}),
    )
    .await;
    if is_admin {
        tracing::warn!(account = %acct, user = %u.user_name, client = %client_key, "break-glass administrator signed in");
        audit(
            &state,
            Some(&acct),
            &u.user_name,
            "break_glass.login",
            &u.id,
            json!({"session": s.id, "client": client_key}),
        )
        .await;
    }
    let c = session_cookie(&state, cookie);
    if json_client {
        HttpResponse::Ok().cookie(c).json(json!({"user_id": u.id, "email": u.user_name, "account": acct, "amr": ["pwd", "otp"], "expires_at": crate::store::credentials::iso(s.expires_at)}))
    } else {
        // Same rule as SSO: a path on this site (no `//`, no backslash tricks).
        let to = super::oidc::safe_return_to(b.return_to.as_deref())
            .ok()
            .flatten()
            .unwrap_or_else(|| "/".into());
        HttpResponse::SeeOther()
            .insert_header(("Location", to))
            .cookie(c)
            .finish()
    }
}

#[derive(Serialize)]
struct SessionClaims {
    iss: String,
    sub: String,
    email: String,
    acct: String,
    roles: Vec<String>,
    privs: Vec<String>,
    envs: Vec<String>,
    amr: Vec<String>,
    sid: String,
    iat: i64,
    exp: i64,
}

/// The live session: who, with which roles now, and a fresh short-lived JWT.
#[get("/auth/session")]
pub async fn current_session(state: State, req: HttpRequest) -> HttpResponse {
    let unauthorized = || {
        HttpResponse::Unauthorized()
            .json(json!({"error": "unauthorized", "message": "no live session"}))
    };
    let Some(c) = req.cookie(session::COOKIE) else {
        return unauthorized();
    };
    let s = match session::lookup(&state.db, c.value()).await {
        Ok(Some(s)) => s,
        Ok(None) => return unauthorized(),
        Err(e) => return internal(e),
    };
    let u = match user::Entity::find_by_id(s.user_id.clone())
        .one(&state.db)
        .await
    {
        Ok(Some(u)) if u.active => u,
        Ok(_) => return unauthorized(),
        Err(e) => return internal(e),
    };
    let acct = match state.resolver.account(&state.db, &s.account_id).await {
        Ok(Some(a)) => a,
        Ok(None) => return unauthorized(),
        Err(e) => return internal(e),
    };
    let claims_groups: Option<Vec<String>> = s
        .claim_groups
        .as_deref()
        .and_then(|g| serde_json::from_str(g).ok());
    let role_source = super::settings::get(&state.db, &s.account_id)
        .await
        .ok()
        .flatten()
        .map(|c| c.role_source)
        .unwrap_or_else(|| "scim".into());
    let mut grants =
        match model::user_grants(&state.db, &s.account_id, &u.id, claims_groups.as_deref()).await {
            Ok(g) => g,
            Err(e) => return internal(e),
        };
    if role_source == "claims" {
        grants.retain(|g| !matches!(g.via, Via::Group { .. }));
    }
    let access = acct.model.resolve(&grants);
    let amr: Vec<String> = serde_json::from_str(&s.amr).unwrap_or_default();
    let roles: Vec<String> = access.roles.iter().map(|r| r.name.clone()).collect();
    let privs: Vec<String> = access.privileges().into_iter().map(String::from).collect();
    let envs: Vec<String> = access
        .environments()
        .iter()
        .map(|e| acct.model.env_name(e))
        .collect();
    let iat = now_ms() / 1000;
    let claims = SessionClaims {
        iss: state.settings.public_url.clone(),
        sub: u.id.clone(),
        email: u.user_name.clone(),
        acct: s.account_id.clone(),
        roles: roles.clone(),
        privs: privs.clone(),
        envs: envs.clone(),
        amr: amr.clone(),
        sid: s.id.clone(),
        iat,
        // Never outlives the session.
        exp: (iat + state.settings.token_ttl_secs).min(s.expires_at / 1000),
    };
    let key = match keys::current(&state.db).await {
        Ok(k) => k,
        Err(e) => return internal(e),
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    let token = match jsonwebtoken::encode(&header, &claims, &key.encoding) {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(json!({
        "user_id": u.id, "email": u.user_name, "account": s.account_id, "roles": roles, "privileges": privs,
        "environments": envs, "amr": amr, "expires_at": crate::store::credentials::iso(s.expires_at), "token": token
    }))
}

#[post("/auth/logout")]
pub async fn logout(state: State, req: HttpRequest) -> HttpResponse {
    if let Some(c) = req.cookie(session::COOKIE) {
        if let Ok(Some(s)) = session::lookup(&state.db, c.value()).await {
            if let Err(e) = session::revoke(&state.db, &s.id).await {
                return internal(e);
            }
            audit(
                &state,
                Some(&s.account_id),
                &s.user_id,
                "session.logout",
                &s.id,
                json!({}),
            )
            .await;
        }
    }
    let mut gone = session_cookie(&state, String::new());
    gone.make_removal();
    HttpResponse::NoContent().cookie(gone).finish()
}

#[get("/.well-known/jwks.json")]
pub async fn jwks(state: State) -> HttpResponse {
    // Retired keys stay published while tokens they signed may still be valid.
    match keys::jwks(&state.db, state.settings.token_ttl_secs * 1000 + 60_000).await {
        Ok(v) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "public, max-age=60"))
            .json(v),
        Err(e) => internal(e),
    }
}
