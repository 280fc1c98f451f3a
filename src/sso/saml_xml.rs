//! SAML documents without I/O: screening a response before its signature is
//! checked, the SP metadata document, and reading what a verified assertion
//! says about the person.

use super::pages::escape;
use quick_xml::events::Event;
use quick_xml::Reader;
use samael::schema::Assertion;

const ENTRA_GROUPS: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups";
/// Sent by Entra ID instead of groups when a person has too many.
const ENTRA_GROUPS_OVERAGE: &str = "http://schemas.microsoft.com/claims/groups.link";
const EMAIL_ATTRIBUTES: [&str; 5] = [
    "email",
    "mail",
    "emailaddress",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
];
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// Refuses, before any signature work, what no honest IdP sends: a DOCTYPE
/// (entity expansion) and anything but exactly one assertion. A second
/// assertion beside a signed one is the classic signature-wrapping attack.
pub fn screen(xml: &str) -> Result<(), &'static str> {
    let mut reader = Reader::from_str(xml);
    let mut assertions = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::DocType(_)) => return Err("the response carries a DOCTYPE"),
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let name = e.local_name();
                if matches!(name.as_ref(), b"Assertion" | b"EncryptedAssertion") {
                    assertions += 1;
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(_) => return Err("the response is not well-formed XML"),
        }
    }
    match assertions {
        1 => Ok(()),
        0 => Err("the response carries no assertion"),
        _ => Err("the response carries more than one assertion (signature wrapping)"),
    }
}

/// Whether the document's root (an assertion) carries its own Signature.
pub fn assertion_signed(xml: &str) -> bool {
    let mut reader = Reader::from_str(xml);
    let mut depth = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                if depth == 1 && e.local_name().as_ref() == b"Signature" {
                    return true;
                }
                depth += 1;
            }
            Ok(Event::Empty(e)) if depth == 1 && e.local_name().as_ref() == b"Signature" => {
                return true
            }
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Eof) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

/// The SP metadata an IdP imports: entity ID, ACS (HTTP-POST) and the
/// certificate for signing and encryption.
pub fn sp_metadata(entity_id: &str, acs: &str, certificate_pem: &str) -> String {
    let cert: String = certificate_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let key = |usage: &str| {
        format!(
            "<md:KeyDescriptor use=\"{usage}\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{e}\">\
<md:SPSSODescriptor AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"true\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
{signing}{encryption}\
<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>\
<md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"{a}\" index=\"0\" isDefault=\"true\"/>\
</md:SPSSODescriptor></md:EntityDescriptor>",
        e = escape(entity_id),
        a = escape(acs),
        signing = key("signing"),
        encryption = key("encryption"),
    )
}

/// The request a bearer confirmation answers, if any.
pub fn in_response_to(a: &Assertion) -> Option<String> {
    a.subject
        .as_ref()?
        .subject_confirmations
        .as_ref()?
        .iter()
        .filter(|c| c.method.as_deref() == Some(BEARER))
        .find_map(|c| c.subject_confirmation_data.as_ref()?.in_response_to.clone())
}

/// The latest moment the assertion could still be accepted (ms), for the
/// replay cache.
pub fn valid_until(a: &Assertion) -> Option<i64> {
    let conditions = a.conditions.as_ref().and_then(|c| c.not_on_or_after);
    let confirmations = a
        .subject
        .iter()
        .flat_map(|s| s.subject_confirmations.iter().flatten())
        .filter_map(|c| c.subject_confirmation_data.as_ref()?.not_on_or_after);
    conditions
        .into_iter()
        .chain(confirmations)
        .map(|t| t.timestamp_millis())
        .max()
}

/// What a verified assertion says about the person.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LoginAttributes {
    pub email: Option<String>,
    pub subject: String,
    pub groups: Vec<String>,
    pub groups_overage: bool,
}

fn looks_like_email(s: &str) -> bool {
    s.split_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
}

/// Email from an email attribute (else a NameID that is an address), groups
/// from the configured attribute (and Entra's groups claim when the default
/// `groups` is configured), and Entra's overage marker.
pub fn login_attributes(a: &Assertion, groups_attribute: &str) -> LoginAttributes {
    let attributes: Vec<_> = a
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| s.attributes.iter())
        .collect();
    let named = |wanted: &str| {
        let wanted = wanted.to_ascii_lowercase();
        attributes.iter().filter(move |at| {
            [at.name.as_deref(), at.friendly_name.as_deref()]
                .into_iter()
                .flatten()
                .any(|n| n.to_ascii_lowercase() == wanted)
        })
    };
    let values = |wanted: &str| -> Vec<String> {
        named(wanted)
            .flat_map(|at| at.values.iter().filter_map(|v| v.value.clone()))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    };
    let name_id = a
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .map(|n| n.value.trim().to_string())
        .unwrap_or_default();
    let email = EMAIL_ATTRIBUTES
        .iter()
        .flat_map(|n| values(n))
        .find(|v| looks_like_email(v))
        .or_else(|| looks_like_email(&name_id).then(|| name_id.clone()));
    let mut groups = values(groups_attribute);
    if groups_attribute.eq_ignore_ascii_case("groups") {
        groups.extend(values(ENTRA_GROUPS));
    }
    groups.dedup();
    LoginAttributes {
        email,
        subject: name_id,
        groups,
        groups_overage: named(ENTRA_GROUPS_OVERAGE).next().is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:Assertion ID="a"/></samlp:Response>"#;

    #[test]
    fn screening_wants_exactly_one_assertion_and_no_doctype() {
        assert_eq!(screen(ONE), Ok(()));
        let two = ONE.replace(
            "<saml:Assertion ID=\"a\"/>",
            "<saml:Assertion ID=\"a\"/><saml:Assertion ID=\"b\"/>",
        );
        assert!(screen(&two).unwrap_err().contains("wrapping"));
        let nested = ONE.replace(
            "<saml:Assertion ID=\"a\"/>",
            "<saml:Assertion ID=\"a\"><x:Extensions xmlns:x=\"urn:x\"><saml:Assertion ID=\"b\"/></x:Extensions></saml:Assertion>",
        );
        assert!(screen(&nested).is_err(), "a hidden assertion counts too");
        let encrypted = ONE.replace("saml:Assertion", "saml:EncryptedAssertion");
        assert_eq!(screen(&encrypted), Ok(()));
        assert!(screen(&format!("<!DOCTYPE r [<!ENTITY x \"y\">]>{ONE}")).is_err());
        assert!(screen("<samlp:Response").is_err());
        assert!(
            screen("<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>")
                .is_err()
        );
    }

    fn assertion(attrs: &str, name_id: &str) -> Assertion {
        format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" IssueInstant="2026-11-25T10:00:00Z" Version="2.0"><saml:Issuer>idp</saml:Issuer><saml:Subject><saml:NameID>{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="_req" NotOnOrAfter="2026-11-25T10:05:00Z" Recipient="acs"/></saml:SubjectConfirmation></saml:Subject><saml:AttributeStatement>{attrs}</saml:AttributeStatement></saml:Assertion>"#
        )
        .parse()
        .unwrap()
    }

    fn attr(name: &str, values: &[&str]) -> String {
        let v: String = values
            .iter()
            .map(|v| format!("<saml:AttributeValue>{v}</saml:AttributeValue>"))
            .collect();
        format!("<saml:Attribute Name=\"{name}\">{v}</saml:Attribute>")
    }

    #[test]
    fn reads_entra_and_okta_attributes() {
        let entra = assertion(
            &(attr(
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                &["Ann@Corp.example"],
            ) + &attr(ENTRA_GROUPS, &["7f1c-guid", "ops"])),
            "opaque-pairwise-id",
        );
        let got = login_attributes(&entra, "groups");
        assert_eq!(got.email.as_deref(), Some("Ann@Corp.example"));
        assert_eq!(got.groups, vec!["7f1c-guid", "ops"]);
        assert_eq!(got.subject, "opaque-pairwise-id");
        assert!(!got.groups_overage);
        assert_eq!(in_response_to(&entra).as_deref(), Some("_req"));
        assert!(valid_until(&entra).is_some());

        let okta = assertion(&attr("groups", &["Engineering"]), "bob@corp.example");
        let got = login_attributes(&okta, "groups");
        assert_eq!(
            got.email.as_deref(),
            Some("bob@corp.example"),
            "NameID as email"
        );
        assert_eq!(got.groups, vec!["Engineering"]);
        assert!(login_attributes(&okta, "memberOf").groups.is_empty());

        let overage = assertion(
            &attr(
                ENTRA_GROUPS_OVERAGE,
                &["https://graph.microsoft.com/v1.0/users/x/getMemberObjects"],
            ),
            "c@corp.example",
        );
        let got = login_attributes(&overage, "groups");
        assert!(got.groups_overage && got.groups.is_empty());
        assert_eq!(
            login_attributes(&assertion("", "not-an-email"), "groups").email,
            None
        );
    }

    #[test]
    fn metadata_names_entity_acs_and_certificate() {
        let m = sp_metadata(
            "https://idb/sso/saml/c1/metadata",
            "https://idb/sso/saml/c1/acs",
            "-----BEGIN CERTIFICATE-----\nMIIB\nAAA=\n-----END CERTIFICATE-----\n",
        );
        assert!(m.contains("entityID=\"https://idb/sso/saml/c1/metadata\""));
        assert!(m.contains("Location=\"https://idb/sso/saml/c1/acs\""));
        assert!(m.contains("<ds:X509Certificate>MIIBAAA=</ds:X509Certificate>"));
        let parsed: samael::metadata::EntityDescriptor = m.parse().unwrap();
        assert_eq!(
            parsed.entity_id.as_deref(),
            Some("https://idb/sso/saml/c1/metadata")
        );
    }
}
