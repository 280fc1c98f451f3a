//! OpenID Connect sign-in: the redirect to the IdP and `/sso/callback`.
//!
//! Authorization code flow with PKCE (S256), a single-use `state` bound to
//! the browser by a cookie, a `nonce`, and full ID-token validation by the
//! openidconnect crate (signature from the IdP's JWKS, `iss`, `aud`, `exp`,
//! `nonce`; asymmetric algorithms only). Provider metadata and keys are
//! cached; a token signed by an unknown key triggers one re-discovery.

use super::client::{client_for, http_client, Client, VerifiedLogin, ALLOWED_ALGS};
use super::error::SsoError;
use super::{settings, signin};
use crate::secrets;
use crate::state::State;
use crate::store::connections::Connection;
use crate::store::now_ms;
use crate::store::oidc_states;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{get, http::StatusCode, web, HttpRequest, HttpResponse};
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use serde::Deserialize;
use serde_json::json;

const BINDING_COOKIE: &str = "idbridge_oidc";
const STATE_TTL_MS: i64 = 10 * 60 * 1000;
/// Sends the browser to the connection's IdP (authorization code + PKCE).
pub async fn begin(
    state: &State,
    cfg: &Connection,
    return_to: Option<String>,
    test: bool,
) -> Result<HttpResponse, SsoError> {
    let account = cfg.account_id.clone();
    let client = oidc_client(state, cfg, false).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for s in ["email", "profile"]
        .into_iter()
        .map(String::from)
        .chain(cfg.scopes.split_whitespace().map(String::from))
    {
        req = req.add_scope(Scope::new(s));
    }
    // Anyone can start sign-ins: bound the pending ones per account so an
    // unauthenticated loop cannot fill the table.
    if oidc_states::pending(&state.db, &account).await? >= state.settings.max_pending_sign_ins {
        tracing::warn!(account = ?account, "too many pending SSO sign-ins");
        return Err(SsoError::refused(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-ins",
            "Too many sign-ins are in progress for this account. Try again in a few minutes.",
        ));
    }
    let (url, csrf, nonce) = req.url();
    let binding = secrets::random_token();
    let row = oidc_states::PendingSignIn {
        id: secrets::hash_secret(csrf.secret()),
        account_id: account.clone(),
        browser_hash: secrets::hash_secret(&binding),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        return_to,
        expires_at: now_ms() + STATE_TTL_MS,
        connection_id: Some(cfg.id.clone()),
        test,
    };
    oidc_states::insert(&state.db, row).await?;
    if let Err(e) = oidc_states::sweep(&state.db).await {
        tracing::warn!(error = %e, "could not sweep expired sign-in states");
    }
    let cookie = Cookie::build(BINDING_COOKIE, binding)
        .path("/sso")
        .http_only(true)
        .secure(state.settings.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::minutes(10))
        .finish();
    Ok(HttpResponse::Found()
        .insert_header(("Location", url.to_string()))
        .insert_header(("Cache-Control", "no-store"))
        .cookie(cookie)
        .finish())
}

/// The configured IdP's client (discovery cached; `refresh` re-discovers).
async fn oidc_client(state: &State, cfg: &Connection, refresh: bool) -> Result<Client, SsoError> {
    let meta = state
        .oidc
        .metadata(&cfg.issuer, refresh)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, issuer = ?cfg.issuer, "OIDC discovery failed");
            SsoError::refused(
                StatusCode::BAD_GATEWAY,
                "Identity provider unavailable",
                "The identity provider could not be reached. Try again shortly.",
            )
        })?;
    let redirect = RedirectUrl::new(settings::redirect_uri(&state.settings.public_url))
        .map_err(|_| SsoError::internal("IDBRIDGE_PUBLIC_URL is not a URL"))?;
    let secret = state
        .sealer
        .open(&cfg.client_secret)
        .map_err(SsoError::internal)?;
    Ok(client_for(meta, cfg, &secret, redirect))
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Takes the state row (single use) if it exists, is fresh and belongs to
/// this browser; otherwise the refusal is audited (on the account when the
/// state was real) and answered.
async fn take_state(
    state: &State,
    req: &HttpRequest,
    value: &str,
) -> Result<oidc_states::PendingSignIn, SsoError> {
    // Deleting first makes a replayed state fail even when two requests race.
    let taken = oidc_states::take(&state.db, &secrets::hash_secret(value)).await?;
    let refused_on = match taken {
        None => None,
        Some((row, taken)) => {
            let bound = req
                .cookie(BINDING_COOKIE)
                .is_some_and(|c| secrets::verify_secret(c.value(), &row.browser_hash));
            if taken && row.expires_at >= now_ms() && bound {
                return Ok(row);
            }
            Some(row.account_id)
        }
    };
    signin::audit(
        state,
        refused_on.as_deref(),
        "anonymous",
        "sso.denied_state",
        "callback",
        json!({"reason": "unknown, reused, expired or foreign state"}),
    )
    .await;
    Err(SsoError::refused(
        StatusCode::BAD_REQUEST,
        "Sign-in expired",
        "This sign-in link is no longer valid. Start again.",
    ))
}

/// Audits a refused callback on the account and answers with a page.
async fn refuse_callback(
    state: &State,
    acct: &str,
    action: &str,
    details: serde_json::Value,
    status: StatusCode,
    title: &'static str,
    detail: impl Into<String>,
) -> SsoError {
    signin::audit(state, Some(acct), "anonymous", action, "callback", details).await;
    SsoError::refused(status, title, detail)
}

/// Exchanges the code and verifies the ID token. Err is a reason for the audit log.
async fn exchange(
    state: &State,
    cfg: &Connection,
    code: String,
    row: &oidc_states::PendingSignIn,
) -> Result<VerifiedLogin, String> {
    let http = http_client().map_err(|e| e.to_string())?;
    let redirect = RedirectUrl::new(settings::redirect_uri(&state.settings.public_url))
        .map_err(|e| e.to_string())?;
    let meta = state
        .oidc
        .metadata(&cfg.issuer, false)
        .await
        .map_err(|e| e.to_string())?;
    let secret = state
        .sealer
        .open(&cfg.client_secret)
        .map_err(|e| e.to_string())?;
    let client = client_for(meta, cfg, &secret, redirect.clone());
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| format!("token endpoint: {e}"))?
        .set_pkce_verifier(PkceCodeVerifier::new(row.pkce_verifier.clone()))
        .request_async(&http)
        .await
        .map_err(|e| format!("code exchange failed: {e}"))?;
    let id_token = tokens
        .id_token()
        .ok_or("no ID token in the token response")?;
    let nonce = Nonce::new(row.nonce.clone());
    let verified = {
        let verifier = client.id_token_verifier().set_allowed_algs(ALLOWED_ALGS);
        match id_token.claims(&verifier, &nonce) {
            Ok(c) => Ok(c.clone()),
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            )) => Err(true),
            Err(e) => return Err(format!("ID token rejected: {e}")),
        }
    };
    let claims = match verified {
        Ok(c) => c,
        Err(_) => {
            // The IdP may have rotated its keys: re-discover once.
            let meta = state
                .oidc
                .metadata(&cfg.issuer, true)
                .await
                .map_err(|e| e.to_string())?;
            let client = client_for(meta, cfg, &secret, redirect);
            let verifier = client.id_token_verifier().set_allowed_algs(ALLOWED_ALGS);
            id_token
                .claims(&verifier, &nonce)
                .map_err(|e| format!("ID token rejected: {e}"))?
                .clone()
        }
    };
    // Only the email identifies the person: never preferred_username, which
    // IdPs let users or admins set to anything.
    let email = claims
        .email()
        .map(|e| e.as_str().to_string())
        .ok_or("the ID token carries no email")?;
    Ok(VerifiedLogin {
        email,
        email_verified: claims.email_verified(),
        subject: claims.subject().as_str().to_string(),
        groups: claims.additional_claims().groups(&cfg.groups_attribute),
        groups_overage: claims.additional_claims().groups_overage(),
    })
}

#[get("/sso/callback")]
pub async fn callback(
    state: State,
    req: HttpRequest,
    q: web::Query<CallbackQuery>,
) -> Result<HttpResponse, SsoError> {
    let q = q.into_inner();
    let state_value = q.state.as_deref().ok_or_else(|| {
        SsoError::refused(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The sign-in request is missing its state.",
        )
    })?;
    let row = take_state(&state, &req, state_value).await?;
    let acct = row.account_id.clone();
    let cfg = super::connection::usable(&state, &acct, row.connection_id.as_deref()).await?;
    if let Some(err) = q.error {
        let detail = q.error_description.unwrap_or_default();
        let details = json!({"error": err, "description": detail});
        let text = format!("The identity provider answered: {err}");
        return Err(refuse_callback(
            &state,
            &acct,
            "sso.denied_idp",
            details,
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            text,
        )
        .await);
    }
    // RFC 9207: when the IdP names itself, it must be the configured issuer.
    if q.iss.as_deref().is_some_and(|i| i != cfg.issuer) {
        let details = json!({"reason": "iss parameter does not match the issuer"});
        return Err(refuse_callback(
            &state,
            &acct,
            "sso.denied_token",
            details,
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The response came from an unexpected identity provider.",
        )
        .await);
    }
    let code = q.code.ok_or_else(|| {
        SsoError::refused(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The identity provider sent no code.",
        )
    })?;
    let verified = match exchange(&state, &cfg, code, &row).await {
        Ok(l) => l,
        Err(reason) => {
            tracing::warn!(account = %acct, %reason, "ID token or code exchange refused");
            let details = json!({"reason": reason});
            return Err(refuse_callback(
                &state,
                &acct,
                "sso.denied_token",
                details,
                StatusCode::FORBIDDEN,
                "Sign-in refused",
                "The identity provider's answer could not be verified.",
            )
            .await);
        }
    };
    if row.test {
        return super::test_result::page(&state, &cfg, verified).await;
    }
    signin::complete_sso(&state, &cfg, verified, row.return_to).await
}
