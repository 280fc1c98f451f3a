//! The OIDC client side, free of actix: provider discovery (cached per
//! issuer), the configured client, the algorithms accepted and what a
//! verified login carries.

use crate::store::sso_settings::SsoSettings;
use crate::store::StoreError;
use openidconnect::core::{CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, RedirectUrl};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const METADATA_TTL: Duration = Duration::from_secs(3600);

/// Provider metadata (with its JWKS) per issuer.
#[derive(Default)]
pub struct ProviderCache {
    entries: Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>,
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("identity provider unavailable: {0}")]
    Provider(String),
    #[error(transparent)]
    Db(#[from] StoreError),
}

pub fn http_client() -> Result<reqwest::Client, OidcError> {
    // No redirects: a discovery or token URL must not bounce us elsewhere (SSRF).
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| OidcError::Provider(e.to_string()))
}

impl ProviderCache {
    pub async fn metadata(
        &self,
        issuer: &str,
        refresh: bool,
    ) -> Result<CoreProviderMetadata, OidcError> {
        if !refresh {
            if let Ok(map) = self.entries.lock() {
                if let Some((at, m)) = map.get(issuer) {
                    if at.elapsed() < METADATA_TTL {
                        return Ok(m.clone());
                    }
                }
            }
        }
        let url =
            IssuerUrl::new(issuer.to_string()).map_err(|e| OidcError::Provider(e.to_string()))?;
        let m = CoreProviderMetadata::discover_async(url, &http_client()?)
            .await
            .map_err(|e| OidcError::Provider(format!("discovery failed: {e}")))?;
        if let Ok(mut map) = self.entries.lock() {
            map.insert(issuer.to_string(), (Instant::now(), m.clone()));
        }
        Ok(m)
    }
}

/// A client after discovery: authorization and token endpoints set.
pub type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

pub fn client_for(
    meta: CoreProviderMetadata,
    cfg: &SsoSettings,
    secret: &str,
    redirect: RedirectUrl,
) -> Client {
    CoreClient::from_provider_metadata(
        meta,
        ClientId::new(cfg.client_id.clone()),
        Some(ClientSecret::new(secret.to_string())),
    )
    .set_redirect_uri(redirect)
}

/// Reads the groups claim from a verified ID token's payload.
pub fn groups_claim(id_token: &str, claim: &str) -> Vec<String> {
    use base64::Engine;
    let Some(payload) = id_token.split('.').nth(1) else {
        return vec![];
    };
    let Ok(bytes) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
    else {
        return vec![];
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return vec![];
    };
    match v.get(claim).unwrap_or(&serde_json::Value::Null) {
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|g| g.as_str().map(String::from))
            .collect(),
        serde_json::Value::String(s) => vec![s.clone()],
        _ => vec![],
    }
}

pub struct VerifiedLogin {
    pub email: String,
    /// The IdP's `email_verified`, when it sends one.
    pub email_verified: Option<bool>,
    pub subject: String,
    pub groups: Vec<String>,
}

pub const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];
