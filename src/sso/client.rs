//! The OIDC client side, free of actix: provider discovery (cached per
//! issuer), the configured client, the algorithms accepted and what a
//! verified login carries.

use crate::store::connections::Connection;
use crate::store::StoreError;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, ClientId, ClientSecret, EmptyExtraTokenFields, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl, RedirectUrl, StandardErrorResponse,
    StandardTokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
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

/// The claims of a verified ID token beyond the standard ones, by name:
/// the groups claim's name is configured per account.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExtraClaims {
    #[serde(flatten)]
    claims: serde_json::Map<String, Value>,
}

impl AdditionalClaims for ExtraClaims {}

impl ExtraClaims {
    /// The named claim as a list of group names (a single string counts as one).
    pub fn groups(&self, claim: &str) -> Vec<String> {
        match self.claims.get(claim) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|g| g.as_str().map(String::from))
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => vec![],
        }
    }

    /// Entra ID's group overage: too many groups for the token, so it names
    /// a Graph endpoint (`_claim_names.groups`) instead of listing them.
    pub fn groups_overage(&self) -> bool {
        self.claims
            .get("_claim_names")
            .and_then(|n| n.get("groups"))
            .is_some()
            || self.claims.contains_key("hasgroups")
    }
}

type IdTokenWithExtras = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// A client after discovery: authorization and token endpoints set; ID
/// tokens carry [`ExtraClaims`].
pub type Client = openidconnect::Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<IdTokenWithExtras, CoreTokenType>,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

pub fn client_for(
    meta: CoreProviderMetadata,
    cfg: &Connection,
    secret: &str,
    redirect: RedirectUrl,
) -> Client {
    openidconnect::Client::from_provider_metadata(
        meta,
        ClientId::new(cfg.client_id.clone()),
        Some(ClientSecret::new(secret.to_string())),
    )
    .set_redirect_uri(redirect)
}

pub struct VerifiedLogin {
    pub email: String,
    /// The IdP's `email_verified`, when it sends one.
    pub email_verified: Option<bool>,
    pub subject: String,
    pub groups: Vec<String>,
    /// The IdP said the person has more groups than it could send.
    pub groups_overage: bool,
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
