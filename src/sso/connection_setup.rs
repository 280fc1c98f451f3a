//! What an administrator sends to create or change a connection, how it is
//! checked and turned into a stored row, and what is shown back (never a
//! secret or a private key).

use super::saml::{acs_url, sp_entity_id};
use super::saml_setup::{self, IdpSummary};
use crate::secrets::Sealer;
use crate::store::connections::{self, Connection, ConnectionKind, Domain, RoleSource};
use serde::{Deserialize, Serialize};

/// A connection as sent. On update, omitted fields keep their value (the
/// client secret included); `kind` cannot change.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionInput {
    /// `oidc` or `saml` (required on create).
    pub kind: Option<String>,
    pub name: Option<String>,
    pub enabled: Option<bool>,
    /// `scim`, `claims` or `both`.
    pub role_source: Option<String>,
    /// The ID-token claim or SAML attribute carrying group names.
    pub groups_attribute: Option<String>,
    pub jit: Option<bool>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// The IdP's SAML metadata document.
    pub idp_metadata_xml: Option<String>,
    /// Where to fetch it instead (fetched on every save).
    pub idp_metadata_url: Option<String>,
    pub allow_idp_initiated: Option<bool>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OidcView {
    pub issuer: String,
    pub client_id: String,
    pub client_secret_set: bool,
    pub scopes: Vec<String>,
    pub redirect_uri: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SamlView {
    /// What to give the IdP.
    pub sp_entity_id: String,
    pub acs_url: String,
    pub metadata_url: String,
    pub sp_certificate: String,
    /// What the IdP's metadata says.
    pub idp: Option<IdpSummary>,
    pub idp_metadata_url: Option<String>,
    pub allow_idp_initiated: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DomainView {
    pub domain: String,
    pub verified: bool,
    /// The DNS record that proves the domain: a TXT record at `txt_name`
    /// whose value is `txt_value`.
    pub txt_name: String,
    pub txt_value: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionView {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub enabled: bool,
    pub role_source: String,
    pub groups_attribute: String,
    pub jit: bool,
    /// Starts a sign-in on this connection.
    pub login_url: String,
    pub oidc: Option<OidcView>,
    pub saml: Option<SamlView>,
    pub domains: Vec<DomainView>,
}

pub const TXT_PREFIX: &str = "idbridge-verification=";

pub fn domain_view(d: &Domain) -> DomainView {
    DomainView {
        domain: d.domain.clone(),
        verified: d.verified_at.is_some(),
        txt_name: d.domain.clone(),
        txt_value: format!("{TXT_PREFIX}{}", d.token),
    }
}

pub fn view(c: &Connection, domains: &[Domain], public_url: &str) -> ConnectionView {
    let base = public_url.trim_end_matches('/');
    let oidc = (c.kind == ConnectionKind::Oidc).then(|| OidcView {
        issuer: c.issuer.clone(),
        client_id: c.client_id.clone(),
        client_secret_set: !c.client_secret.is_empty(),
        scopes: c.scopes.split_whitespace().map(String::from).collect(),
        redirect_uri: crate::store::sso_settings::redirect_uri(public_url),
    });
    let saml = (c.kind == ConnectionKind::Saml).then(|| SamlView {
        sp_entity_id: sp_entity_id(public_url, &c.id),
        acs_url: acs_url(public_url, &c.id),
        metadata_url: sp_entity_id(public_url, &c.id),
        sp_certificate: c.sp_certificate.clone(),
        idp: saml_setup::check_idp_metadata(&c.idp_metadata).ok(),
        idp_metadata_url: Some(c.idp_metadata_url.clone()).filter(|u| !u.is_empty()),
        allow_idp_initiated: c.allow_idp_initiated,
    });
    ConnectionView {
        id: c.id.clone(),
        kind: c.kind.to_string(),
        name: c.name.clone(),
        enabled: c.enabled,
        role_source: c.role_source.to_string(),
        groups_attribute: c.groups_attribute.clone(),
        jit: c.jit,
        login_url: format!("{base}/sso/{}/login?connection={}", c.account_id, c.id),
        oidc,
        saml,
        domains: domains.iter().map(domain_view).collect(),
    }
}

fn parse_enum<T>(
    v: &str,
    parse: fn(&str) -> Option<T>,
    field: &str,
    choices: String,
) -> Result<T, String> {
    parse(v).ok_or_else(|| format!("{field} must be one of {choices}; not {v:?}"))
}

/// The IdP's issuer: https, or plain http on loopback for development.
fn check_issuer(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|e| format!("issuer is not a URL: {e}"))?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if url.scheme() != "https" && !(url.scheme() == "http" && local) {
        return Err("issuer must use https (http is allowed for localhost only)".into());
    }
    Ok(())
}

fn apply_common(c: &mut Connection, input: &ConnectionInput) -> Result<(), String> {
    if let Some(name) = &input.name {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err("name must be 1 to 100 characters".into());
        }
        c.name = name.into();
        c.name_key = name.to_lowercase();
    }
    if let Some(e) = input.enabled {
        c.enabled = e;
    }
    if let Some(r) = &input.role_source {
        c.role_source = parse_enum(r, RoleSource::parse, "role_source", RoleSource::choices())?;
    }
    if let Some(g) = &input.groups_attribute {
        if g.trim().is_empty() {
            return Err("groups_attribute must not be empty".into());
        }
        c.groups_attribute = g.trim().into();
    }
    if let Some(j) = input.jit {
        c.jit = j;
    }
    Ok(())
}

fn apply_oidc(c: &mut Connection, input: &ConnectionInput, sealer: &Sealer) -> Result<(), String> {
    if input.idp_metadata_xml.is_some()
        || input.idp_metadata_url.is_some()
        || input.allow_idp_initiated.is_some()
    {
        return Err("SAML fields do not apply to an OIDC connection".into());
    }
    if let Some(i) = &input.issuer {
        check_issuer(i.trim())?;
        // Kept exactly: the ID token `iss` must equal it.
        c.issuer = i.trim().into();
    }
    if let Some(id) = &input.client_id {
        c.client_id = id.trim().into();
    }
    if let Some(s) = input.client_secret.as_deref().filter(|s| !s.is_empty()) {
        c.client_secret = sealer.seal(s).map_err(|e| e.to_string())?;
    }
    if let Some(scopes) = &input.scopes {
        if scopes
            .iter()
            .any(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            return Err("scopes must be single words".into());
        }
        c.scopes = scopes.join(" ");
    }
    if c.issuer.is_empty() || c.client_id.is_empty() {
        return Err("an OIDC connection needs issuer and client_id".into());
    }
    if c.client_secret.is_empty() {
        return Err("client_secret is required the first time".into());
    }
    Ok(())
}

/// SAML fields; the IdP metadata comes from the upload, or else the URL
/// (fetched by the caller into `fetched`).
fn apply_saml(
    c: &mut Connection,
    input: &ConnectionInput,
    fetched: Option<String>,
    sealer: &Sealer,
) -> Result<(), String> {
    if input.issuer.is_some()
        || input.client_id.is_some()
        || input.client_secret.is_some()
        || input.scopes.is_some()
    {
        return Err("OIDC fields do not apply to a SAML connection".into());
    }
    if let Some(url) = &input.idp_metadata_url {
        c.idp_metadata_url = url.trim().into();
    }
    if let Some(xml) = input.idp_metadata_xml.clone().or(fetched) {
        saml_setup::check_idp_metadata(&xml)?;
        c.idp_metadata = xml;
    }
    if c.idp_metadata.is_empty() {
        return Err("a SAML connection needs idp_metadata_xml or idp_metadata_url".into());
    }
    if let Some(a) = input.allow_idp_initiated {
        c.allow_idp_initiated = a;
    }
    if c.sp_private_key.is_empty() {
        let (key, cert) = saml_setup::sp_key_pair(&format!("idbridge SAML SP {}", c.id))?;
        c.sp_private_key = sealer.seal(&key).map_err(|e| e.to_string())?;
        c.sp_certificate = cert;
    }
    Ok(())
}

/// The row to store: a new connection of `account` when `existing` is
/// `None`, else `existing` with the input applied. Err is a 400 message.
pub async fn build(
    account: &str,
    existing: Option<Connection>,
    input: &ConnectionInput,
    sealer: &Sealer,
) -> Result<Connection, String> {
    let mut c = match existing {
        Some(c) => {
            if let Some(k) = &input.kind {
                if k != c.kind.as_str() {
                    return Err("a connection's kind cannot change".into());
                }
            }
            c
        }
        None => {
            let kind = input
                .kind
                .as_deref()
                .ok_or("kind is required: oidc or saml")?;
            let kind = parse_enum(
                kind,
                ConnectionKind::parse,
                "kind",
                ConnectionKind::choices(),
            )?;
            let name = input.name.as_deref().unwrap_or(kind.as_str());
            connections::blank(account, kind, name)
        }
    };
    apply_common(&mut c, input)?;
    match c.kind {
        ConnectionKind::Oidc => apply_oidc(&mut c, input, sealer)?,
        ConnectionKind::Saml => {
            // An upload wins; a URL is fetched whenever no upload comes with it.
            let url = input
                .idp_metadata_url
                .clone()
                .or_else(|| Some(c.idp_metadata_url.clone()).filter(|u| !u.is_empty()));
            let fetched = match (&input.idp_metadata_xml, url) {
                (None, Some(u)) => Some(saml_setup::fetch_idp_metadata(&u).await?),
                _ => None,
            };
            apply_saml(&mut c, input, fetched, sealer)?
        }
    }
    Ok(c)
}
