//! SAML 2.0 service provider (Web Browser SSO profile), one per connection:
//! metadata at `/sso/saml/{connection}/metadata`, SP-initiated sign-in by an
//! HTTP-Redirect AuthnRequest, and the assertion consumer service
//! (HTTP-POST) at `/sso/saml/{connection}/acs`; IdP-initiated sign-in only
//! where the connection opts in.
//!
//! XML signatures are checked by samael over libxmlsec1, with the IdP's
//! certificates from its metadata: only the signed element is consumed, a
//! response carrying more than one assertion is refused outright (signature
//! wrapping), and so is any DOCTYPE. Audience, Recipient, Destination,
//! validity window and Issuer are checked by samael; InResponseTo (single
//! use, bound to the browser) and assertion replay are checked here.

use super::client::VerifiedLogin;
use super::error::SsoError;
use super::saml_decrypt;
use super::saml_xml::{self, LoginAttributes};
use super::{return_to::safe_return_to, signin};
use crate::secrets;
use crate::state::State;
use crate::store::connections::{self, Connection, ConnectionKind, PendingSamlRequest, SsoMode};
use crate::store::now_ms;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{get, http::StatusCode, post, web, HttpRequest, HttpResponse};
use samael::crypto::AllowedSignatureAlgorithm as Alg;
use samael::crypto::{Crypto, CryptoProvider, ReduceMode};
use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING};
use samael::schema::Assertion;
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};
use serde::Deserialize;
use serde_json::json;

const BINDING_COOKIE: &str = "idbridge_saml";
const REQUEST_TTL_MS: i64 = 10 * 60 * 1000;
/// Clock difference tolerated on NotBefore / NotOnOrAfter.
const CLOCK_SKEW_SECS: i64 = 60;
/// How old an IssueInstant may be when the response arrives.
const MAX_ISSUE_DELAY_SECS: i64 = 180;

fn base(public_url: &str) -> &str {
    public_url.trim_end_matches('/')
}

/// The SP's entity ID: its metadata URL, as is usual.
pub fn sp_entity_id(public_url: &str, connection: &str) -> String {
    format!("{}/sso/saml/{connection}/metadata", base(public_url))
}

pub fn acs_url(public_url: &str, connection: &str) -> String {
    format!("{}/sso/saml/{connection}/acs", base(public_url))
}

/// No SHA-1 and no DSA.
fn allowed_algorithms() -> Vec<Alg> {
    vec![
        Alg::RsaSha256,
        Alg::RsaSha384,
        Alg::RsaSha512,
        Alg::EcdsaSha256,
        Alg::EcdsaSha384,
        Alg::EcdsaSha512,
    ]
}

/// A SAML connection samael can check responses for.
fn service_provider(state: &State, c: &Connection) -> Result<ServiceProvider, String> {
    let idp: EntityDescriptor = c
        .idp_metadata
        .parse()
        .map_err(|e| format!("stored IdP metadata unreadable: {e}"))?;
    let key_pem = state
        .sealer
        .open(&c.sp_private_key)
        .map_err(|e| e.to_string())?;
    let key = openssl::pkey::PKey::private_key_from_pem(key_pem.as_bytes())
        .map_err(|e| format!("SP key unreadable: {e}"))?;
    let cert = openssl::x509::X509::from_pem(c.sp_certificate.as_bytes())
        .and_then(|x| x.to_der())
        .map_err(|e| format!("SP certificate unreadable: {e}"))?;
    let public = &state.settings.public_url;
    ServiceProviderBuilder::default()
        .entity_id(sp_entity_id(public, &c.id))
        .acs_url(acs_url(public, &c.id))
        .key(key)
        .certificate(samael::crypto::CertificateDer::from(cert))
        .idp_metadata(idp)
        // InResponseTo is checked here (single use, bound to the browser);
        // samael would otherwise accept any listed id or, with this off, none.
        .allow_idp_initiated(true)
        .max_clock_skew(chrono::Duration::seconds(CLOCK_SKEW_SECS))
        .max_issue_delay(chrono::Duration::seconds(MAX_ISSUE_DELAY_SECS))
        .allowed_signature_algorithms(Some(allowed_algorithms()))
        .build()
        .map_err(|e| e.to_string())
}

fn binding_cookie(state: &State, value: String) -> Cookie<'static> {
    // The ACS is a cross-site POST from the IdP: a Lax cookie would not come
    // back with it, so over https the cookie is SameSite=None; Secure.
    let secure = state.settings.secure_cookies();
    Cookie::build(BINDING_COOKIE, value)
        .path("/sso/saml")
        .http_only(true)
        .secure(secure)
        .same_site(if secure {
            SameSite::None
        } else {
            SameSite::Lax
        })
        .max_age(actix_web::cookie::time::Duration::minutes(10))
        .finish()
}

/// SP-initiated sign-in: an AuthnRequest to the IdP over HTTP-Redirect.
pub async fn begin(
    state: &State,
    c: &Connection,
    return_to: Option<String>,
    test: bool,
) -> Result<HttpResponse, SsoError> {
    if connections::pending_saml(&state.db, &c.account_id).await?
        >= state.settings.max_pending_sign_ins
    {
        tracing::warn!(account = ?c.account_id, "too many pending SAML sign-ins");
        return Err(SsoError::refused(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-ins",
            "Too many sign-ins are in progress for this account. Try again in a few minutes.",
        ));
    }
    let sp = service_provider(state, c).map_err(SsoError::internal)?;
    let idp_url = sp
        .sso_binding_location(HTTP_REDIRECT_BINDING)
        .ok_or_else(|| {
            SsoError::internal("the IdP metadata has no HTTP-Redirect sign-on service")
        })?;
    let mut request = sp
        .make_authentication_request(&idp_url)
        .map_err(SsoError::internal)?;
    // samael's ids carry 32 random bits; these are unguessable.
    request.id = format!(
        "_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let url = request
        .redirect("")
        .map_err(SsoError::internal)?
        .ok_or_else(|| SsoError::internal("AuthnRequest without destination"))?;
    let binding = secrets::random_token();
    let row = PendingSamlRequest {
        id: request.id.clone(),
        connection_id: c.id.clone(),
        account_id: c.account_id.clone(),
        browser_hash: secrets::hash_secret(&binding),
        return_to,
        expires_at: now_ms() + REQUEST_TTL_MS,
        test,
    };
    connections::save_saml_request(&state.db, row).await?;
    Ok(HttpResponse::Found()
        .insert_header(("Location", url.to_string()))
        .insert_header(("Cache-Control", "no-store"))
        .cookie(binding_cookie(state, binding))
        .finish())
}

/// A SAML connection that may sign people in now; 404 otherwise.
async fn saml_connection(state: &State, id: &str) -> Result<Connection, SsoError> {
    let not_found = || {
        SsoError::refused(
            StatusCode::NOT_FOUND,
            "Single sign-on is not enabled",
            "This sign-in link does not lead to an identity provider.",
        )
    };
    let c = connections::by_id(&state.db, id)
        .await?
        .filter(|c| c.kind == ConnectionKind::Saml && c.enabled)
        .ok_or_else(not_found)?;
    if connections::mode(&state.db, &c.account_id).await? == SsoMode::Off {
        return Err(not_found());
    }
    Ok(c)
}

#[get("/sso/saml/{connection}/metadata")]
pub async fn metadata(state: State, id: web::Path<String>) -> Result<HttpResponse, SsoError> {
    let c = connections::by_id(&state.db, &id)
        .await?
        .filter(|c| c.kind == ConnectionKind::Saml)
        .ok_or_else(|| {
            SsoError::refused(
                StatusCode::NOT_FOUND,
                "Unknown connection",
                "No SAML connection has this id.",
            )
        })?;
    let public = &state.settings.public_url;
    let xml = saml_xml::sp_metadata(
        &sp_entity_id(public, &c.id),
        &acs_url(public, &c.id),
        &c.sp_certificate,
    );
    Ok(HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .body(xml))
}

#[derive(Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// A refused response: audited on the connection's account, no session.
async fn refuse(state: &State, c: &Connection, reason: String, status: StatusCode) -> SsoError {
    tracing::warn!(account = %c.account_id, connection = %c.id, %reason, "SAML response refused");
    signin::audit(
        state,
        Some(&c.account_id),
        "anonymous",
        "sso.denied_assertion",
        &c.id,
        json!({"reason": reason, "connection": c.id, "kind": "saml"}),
    )
    .await;
    SsoError::refused(
        status,
        "Sign-in refused",
        "The identity provider's answer could not be verified.",
    )
}

/// Decodes, screens and verifies the response; the assertion it carries.
async fn verified_assertion(
    state: &State,
    c: &Connection,
    encoded: &str,
) -> Result<Assertion, String> {
    let compact: String = encoded.chars().filter(|ch| !ch.is_whitespace()).collect();
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, compact)
        .map_err(|_| "SAMLResponse is not base64".to_string())?;
    let xml = String::from_utf8(bytes).map_err(|_| "SAMLResponse is not UTF-8".to_string())?;
    saml_xml::screen(&xml).map_err(str::to_string)?;
    let sp = service_provider(state, c)?;
    // libxmlsec1 work is CPU-bound and blocking: off the async workers.
    tokio::task::spawn_blocking(move || match saml_decrypt::find(&xml)? {
        None => sp.parse_xml_response(&xml, None).map_err(|e| e.to_string()),
        Some(enc) => open_encrypted(&sp, &xml, &enc),
    })
    .await
    .map_err(|e| e.to_string())?
}

/// An EncryptedAssertion: decrypted with the connection's key, then
/// verified either by its own signature (Entra ID signs the assertion, then
/// encrypts it) or by the Response's signature over the EncryptedAssertion
/// (Okta); neither signed is refused.
fn open_encrypted(
    sp: &ServiceProvider,
    xml: &str,
    enc: &saml_decrypt::Encrypted,
) -> Result<Assertion, String> {
    let key = sp.key.as_ref().ok_or("the connection has no SP key")?;
    let plain = saml_decrypt::decrypt(enc, key)?;
    saml_xml::screen(&plain).map_err(str::to_string)?;
    if saml_xml::assertion_signed(&plain) {
        return sp
            .parse_xml_response(&plain, None)
            .map_err(|e| e.to_string());
    }
    let certs = sp
        .idp_signing_certs()
        .map_err(|e| e.to_string())?
        .ok_or("the IdP metadata has no signing certificate")?;
    let algs = allowed_algorithms();
    let reduced = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        &certs,
        ReduceMode::default(),
        Some(&algs),
    )
    .map_err(|_| "SAML Response and all assertions must be signed".to_string())?;
    let covered = saml_decrypt::find(&reduced)?
        .ok_or("the signature does not cover the encrypted assertion")?;
    let body = plain.trim_start();
    let body = match body.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or("", |(_, b)| b),
        None => body,
    };
    let mut doc = reduced.clone();
    if covered.span.1 > doc.len() || covered.span.0 > covered.span.1 {
        return Err("the encrypted assertion could not be placed".into());
    }
    doc.replace_range(covered.span.0..covered.span.1, body);
    // Verified content only, with the decrypted assertion in place: samael
    // checks everything on it but signatures, already checked above.
    let mut checked = sp.clone();
    for d in checked
        .idp_metadata
        .idp_sso_descriptors
        .iter_mut()
        .flatten()
    {
        d.key_descriptors.clear();
    }
    checked
        .parse_xml_response(&doc, None)
        .map_err(|e| e.to_string())
}

/// Where the browser goes afterwards and whether the sign-in is a test,
/// when the response answers one of our requests (or may come unasked).
/// Err is the reason for the audit log.
async fn check_solicited(
    state: &State,
    req: &HttpRequest,
    c: &Connection,
    assertion: &Assertion,
    relay_state: Option<&str>,
) -> Result<(Option<String>, bool), String> {
    match saml_xml::in_response_to(assertion) {
        Some(id) => {
            let row = connections::take_saml_request(&state.db, &id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("InResponseTo names no outstanding request (unknown or already used)")?;
            let bound = req
                .cookie(BINDING_COOKIE)
                .is_some_and(|k| secrets::verify_secret(k.value(), &row.browser_hash));
            if row.connection_id != c.id || row.expires_at < now_ms() || !bound {
                return Err("InResponseTo names a request of another connection, an expired one, or one this browser did not start".into());
            }
            Ok((row.return_to, row.test))
        }
        None if c.allow_idp_initiated => Ok((safe_return_to(relay_state).ok().flatten(), false)),
        None => {
            Err("unsolicited response: IdP-initiated sign-in is off for this connection".into())
        }
    }
}

#[post("/sso/saml/{connection}/acs")]
pub async fn acs(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<AcsForm>,
) -> Result<HttpResponse, SsoError> {
    let c = saml_connection(&state, &id).await?;
    let form = form.into_inner();
    let Some(encoded) = form.saml_response.as_deref() else {
        return Err(refuse(
            &state,
            &c,
            "no SAMLResponse".into(),
            StatusCode::BAD_REQUEST,
        )
        .await);
    };
    let assertion = match verified_assertion(&state, &c, encoded).await {
        Ok(a) => a,
        Err(reason) => return Err(refuse(&state, &c, reason, StatusCode::FORBIDDEN).await),
    };
    let (return_to, test) =
        match check_solicited(&state, &req, &c, &assertion, form.relay_state.as_deref()).await {
            Ok(r) => r,
            Err(reason) => return Err(refuse(&state, &c, reason, StatusCode::FORBIDDEN).await),
        };
    let replay_key = secrets::hash_secret(&format!("{}\n{}", c.id, assertion.id));
    let keep_until = saml_xml::valid_until(&assertion)
        .map_or(now_ms() + 3_600_000, |t| t + CLOCK_SKEW_SECS * 1000);
    if !connections::first_use_of_assertion(&state.db, &replay_key, keep_until).await? {
        let reason = format!("assertion {} was already used (replay)", assertion.id);
        return Err(refuse(&state, &c, reason, StatusCode::FORBIDDEN).await);
    }
    let LoginAttributes {
        email,
        subject,
        groups,
        groups_overage,
    } = saml_xml::login_attributes(&assertion, &c.groups_attribute);
    let Some(email) = email else {
        let reason = "the assertion carries no email (attribute or NameID)".to_string();
        return Err(refuse(&state, &c, reason, StatusCode::FORBIDDEN).await);
    };
    let login = VerifiedLogin {
        email,
        email_verified: None,
        subject,
        groups,
        groups_overage,
    };
    if test {
        return super::test_result::page(&state, &c, login).await;
    }
    signin::complete_sso(&state, &c, login, return_to).await
}
