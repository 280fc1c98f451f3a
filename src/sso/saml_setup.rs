//! Setting a SAML connection up: the service provider's own key pair, and
//! checking (or fetching) the IdP's metadata before it is stored.

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509NameBuilder, X509};
use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING};
use samael::service_provider::ServiceProviderBuilder;
use std::time::Duration;

const METADATA_MAX_BYTES: usize = 1 << 20;

/// A fresh RSA-2048 key (PEM) and a self-signed certificate for it (PEM),
/// valid ten years: IdPs pin SP certificates, they do not chain them.
pub fn sp_key_pair(common_name: &str) -> Result<(String, String), String> {
    let build = || -> Result<(String, String), openssl::error::ErrorStack> {
        let key = PKey::from_rsa(Rsa::generate(2048)?)?;
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_text("CN", common_name)?;
        let name = name.build();
        let mut serial = BigNum::new()?;
        serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
        let mut cert = X509::builder()?;
        cert.set_version(2)?;
        let serial = serial.to_asn1_integer()?;
        cert.set_serial_number(&serial)?;
        cert.set_subject_name(&name)?;
        cert.set_issuer_name(&name)?;
        cert.set_pubkey(&key)?;
        let (from, until) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(3650)?);
        cert.set_not_before(&from)?;
        cert.set_not_after(&until)?;
        cert.sign(&key, MessageDigest::sha256())?;
        let key_pem = String::from_utf8_lossy(&key.private_key_to_pem_pkcs8()?).into_owned();
        let cert_pem = String::from_utf8_lossy(&cert.build().to_pem()?).into_owned();
        Ok((key_pem, cert_pem))
    };
    build().map_err(|e| format!("could not create the SP key pair: {e}"))
}

/// What an administrator sees of the IdP's metadata.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct IdpSummary {
    pub entity_id: String,
    pub sso_url: String,
    pub signing_certificates: usize,
}

/// Metadata idbridge can sign people in with: an entity ID, an
/// HTTP-Redirect sign-on service and at least one signing certificate
/// (without one, nothing could be verified, so it is refused).
pub fn check_idp_metadata(xml: &str) -> Result<IdpSummary, String> {
    if xml.len() > METADATA_MAX_BYTES {
        return Err("IdP metadata is larger than 1 MiB".into());
    }
    if xml.contains("<!DOCTYPE") {
        return Err("IdP metadata must not carry a DOCTYPE".into());
    }
    let md: EntityDescriptor = xml
        .parse()
        .map_err(|e| format!("IdP metadata is not SAML metadata: {e}"))?;
    let entity_id = md
        .entity_id
        .clone()
        .filter(|e| !e.trim().is_empty())
        .ok_or("IdP metadata has no entityID")?;
    if md.idp_sso_descriptors.as_ref().is_none_or(|d| d.is_empty()) {
        return Err("the metadata describes no identity provider (IDPSSODescriptor)".into());
    }
    let sp = ServiceProviderBuilder::default()
        .idp_metadata(md)
        .build()
        .map_err(|e| e.to_string())?;
    let sso_url = sp
        .sso_binding_location(HTTP_REDIRECT_BINDING)
        .ok_or("the IdP offers no HTTP-Redirect SingleSignOnService")?;
    let certs = sp
        .idp_signing_certs()
        .map_err(|e| format!("IdP certificate unreadable: {e}"))?
        .unwrap_or_default();
    if certs.is_empty() {
        return Err("IdP metadata has no signing certificate".into());
    }
    Ok(IdpSummary {
        entity_id,
        sso_url,
        signing_certificates: certs.len(),
    })
}

/// Fetches IdP metadata: https (plain http for loopback only), no redirects,
/// a timeout and a size limit.
pub async fn fetch_idp_metadata(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("idp_metadata_url: {e}"))?;
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
        return Err("idp_metadata_url must use https (http is allowed for localhost only)".into());
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let mut resp = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| format!("could not fetch the IdP metadata: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("the IdP metadata URL answered {}", resp.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        body.extend_from_slice(&chunk);
        if body.len() > METADATA_MAX_BYTES {
            return Err("IdP metadata is larger than 1 MiB".into());
        }
    }
    String::from_utf8(body).map_err(|_| "IdP metadata is not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_pair_is_a_matching_self_signed_certificate() {
        let (key, cert) = sp_key_pair("idbridge test").unwrap();
        let key = PKey::private_key_from_pem(key.as_bytes()).unwrap();
        let cert = X509::from_pem(cert.as_bytes()).unwrap();
        assert!(cert.public_key().unwrap().public_eq(&key));
        assert!(cert.verify(&key).unwrap());
    }

    #[test]
    fn metadata_needs_a_redirect_service_and_a_certificate() {
        let (_, cert) = sp_key_pair("idp").unwrap();
        let b64: String = cert.lines().filter(|l| !l.starts_with("-----")).collect();
        let md = |key: &str, binding: &str| {
            format!(
                r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example/"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{key}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:{binding}" Location="https://idp.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
            )
        };
        let key = format!(
            r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
        );
        let ok = check_idp_metadata(&md(&key, "HTTP-Redirect")).unwrap();
        assert_eq!(ok.entity_id, "https://idp.example/");
        assert_eq!(ok.sso_url, "https://idp.example/sso");
        assert_eq!(ok.signing_certificates, 1);
        assert!(check_idp_metadata(&md("", "HTTP-Redirect"))
            .unwrap_err()
            .contains("certificate"));
        assert!(check_idp_metadata(&md(&key, "HTTP-POST"))
            .unwrap_err()
            .contains("Redirect"));
        assert!(check_idp_metadata("<html/>").is_err());
    }
}
