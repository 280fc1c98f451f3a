//! `/accounts/{id}/sso`, the single-OIDC view from before connections: it
//! reads and writes the account's oldest OIDC connection and its SSO mode.

use super::connections::{self, Connection, ConnectionKind};

use sea_orm::{ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};

/// The account's first OIDC connection with the account's mode.
#[derive(Debug, Clone)]
pub struct SsoSettings {
    pub account_id: String,
    pub connection_id: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: String,
    pub groups_claim: String,
    pub role_source: RoleSource,
    pub mode: SsoMode,
    pub jit: bool,
}

pub use super::kinds::{RoleSource, SsoMode};

/// Settings that cannot be stored: the reason, or the database's error.
#[derive(Debug, thiserror::Error)]
pub enum SsoSettingsError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// What an administrator sends; `client_secret` may be omitted to keep the stored one.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoInput {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub groups_claim: Option<String>,
    pub role_source: Option<String>,
    pub mode: Option<String>,
    pub jit: Option<bool>,
}

/// What is shown: never the secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SsoView {
    pub issuer: String,
    pub client_id: String,
    pub client_secret_set: bool,
    pub scopes: Vec<String>,
    pub groups_claim: String,
    pub role_source: String,
    pub mode: String,
    pub jit: bool,
    pub redirect_uri: String,
}

pub fn view(m: &SsoSettings, public_url: &str) -> SsoView {
    SsoView {
        issuer: m.issuer.clone(),
        client_id: m.client_id.clone(),
        client_secret_set: !m.client_secret.is_empty(),
        scopes: scopes(m),
        groups_claim: m.groups_claim.clone(),
        role_source: m.role_source.to_string(),
        mode: m.mode.to_string(),
        jit: m.jit,
        redirect_uri: redirect_uri(public_url),
    }
}

pub fn redirect_uri(public_url: &str) -> String {
    format!("{}/sso/callback", public_url.trim_end_matches('/'))
}

pub fn scopes(m: &SsoSettings) -> Vec<String> {
    m.scopes.split_whitespace().map(String::from).collect()
}

/// The account's oldest OIDC connection: the one `/sso` reads and writes.
async fn first_oidc<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
) -> Result<Option<Connection>, DbErr> {
    Ok(connections::list(db, account_id)
        .await?
        .into_iter()
        .find(|c| c.kind == ConnectionKind::Oidc))
}

pub async fn get<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
) -> Result<Option<SsoSettings>, DbErr> {
    let Some(c) = first_oidc(db, account_id).await? else {
        return Ok(None);
    };
    let mode = connections::mode(db, account_id).await?;
    Ok(Some(SsoSettings {
        account_id: c.account_id,
        connection_id: c.id,
        issuer: c.issuer,
        client_id: c.client_id,
        client_secret: c.client_secret,
        scopes: c.scopes,
        groups_claim: c.groups_attribute,
        role_source: c.role_source,
        mode,
        jit: c.jit,
    }))
}

/// Validates and stores settings; returns the stored row.
pub async fn put<C: ConnectionTrait>(
    db: &C,
    sealer: &crate::secrets::Sealer,
    account_id: &str,
    input: SsoInput,
) -> Result<SsoSettings, SsoSettingsError> {
    use SsoSettingsError::Invalid;
    let url = url::Url::parse(input.issuer.trim())
        .map_err(|e| Invalid(format!("issuer is not a URL: {e}")))?;
    let local = matches!(
        url.host_str(),
        Some("localhost" | "127.0.0.1" | "::1" | "[::1]")
    );
    if url.scheme() != "https" && !(url.scheme() == "http" && local) {
        return Err(Invalid(
            "issuer must use https (http is allowed for localhost only)".into(),
        ));
    }
    if input.client_id.trim().is_empty() {
        return Err(Invalid("client_id must not be empty".into()));
    }
    let mode = match input.mode {
        None => SsoMode::Optional,
        Some(m) => SsoMode::parse(&m).ok_or_else(|| {
            Invalid(format!(
                "mode must be one of {}; not {m:?}",
                SsoMode::choices()
            ))
        })?,
    };
    let role_source = match input.role_source {
        None => RoleSource::Scim,
        Some(r) => RoleSource::parse(&r).ok_or_else(|| {
            Invalid(format!(
                "role_source must be one of {}; not {r:?}",
                RoleSource::choices()
            ))
        })?,
    };
    let existing = first_oidc(db, account_id).await?;
    let secret = match (input.client_secret, &existing) {
        (Some(s), _) if !s.is_empty() => sealer.seal(&s).map_err(|e| Invalid(e.to_string()))?,
        (_, Some(e)) if !e.client_secret.is_empty() => e.client_secret.clone(),
        _ => return Err(Invalid("client_secret is required the first time".into())),
    };
    let scopes = input.scopes.unwrap_or_default();
    if scopes
        .iter()
        .any(|s| s.is_empty() || s.contains(char::is_whitespace))
    {
        return Err(Invalid("scopes must be single words".into()));
    }
    let mut c = existing
        .clone()
        .unwrap_or_else(|| connections::blank(account_id, ConnectionKind::Oidc, "OIDC"));
    // Kept exactly: the ID token `iss` must equal it (some IdPs end it with a slash).
    c.issuer = input.issuer.trim().to_string();
    c.client_id = input.client_id.trim().into();
    c.client_secret = secret;
    c.scopes = scopes.join(" ");
    c.groups_attribute = input
        .groups_claim
        .filter(|g| !g.trim().is_empty())
        .unwrap_or_else(|| "groups".into());
    c.role_source = role_source;
    c.jit = input.jit.unwrap_or(false);
    if existing.is_some() {
        connections::update(db, c).await?;
    } else {
        connections::insert(db, c).await?;
    }
    connections::set_mode(db, account_id, mode).await?;
    get(db, account_id)
        .await?
        .ok_or_else(|| SsoSettingsError::Invalid("the settings were not stored".into()))
}
