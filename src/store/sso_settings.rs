//! Per-account OIDC settings: validation and persistence.

use super::entities::sso_settings;
use super::now_ms;

use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Set};
use serde::{Deserialize, Serialize};
pub use sso_settings::Model as SsoSettings;

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

pub fn view(m: &sso_settings::Model, public_url: &str) -> SsoView {
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

pub fn scopes(m: &sso_settings::Model) -> Vec<String> {
    m.scopes.split_whitespace().map(String::from).collect()
}

pub async fn get<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
) -> Result<Option<sso_settings::Model>, DbErr> {
    sso_settings::Entity::find_by_id(account_id.to_string())
        .one(db)
        .await
}

/// Validates and stores settings; returns the stored row.
pub async fn put<C: ConnectionTrait>(
    db: &C,
    sealer: &crate::secrets::Sealer,
    account_id: &str,
    input: SsoInput,
) -> Result<sso_settings::Model, SsoSettingsError> {
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
    let existing = get(db, account_id).await?;
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
    let am = sso_settings::ActiveModel {
        account_id: Set(account_id.into()),
        // Kept exactly: the ID token `iss` must equal it (some IdPs end it with a slash).
        issuer: Set(input.issuer.trim().to_string()),
        client_id: Set(input.client_id.trim().into()),
        client_secret: Set(secret),
        scopes: Set(scopes.join(" ")),
        groups_claim: Set(input
            .groups_claim
            .filter(|g| !g.trim().is_empty())
            .unwrap_or_else(|| "groups".into())),
        role_source: Set(role_source),
        mode: Set(mode),
        jit: Set(input.jit.unwrap_or(false)),
        updated_at: Set(now_ms()),
    };
    let saved = if existing.is_some() {
        am.update(db).await
    } else {
        am.insert(db).await
    };
    Ok(saved?)
}
