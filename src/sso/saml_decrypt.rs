//! Encrypted assertions (XML Encryption): finding the EncryptedAssertion's
//! parts and decrypting it with the connection's own key.
//!
//! samael decrypts AES-128 only and insists on an `xmlns:ds` spelling, while
//! Entra ID encrypts with AES-256-CBC under a default-namespace KeyInfo, so
//! the decryption itself is here (openssl primitives; no signature logic):
//! the signatures are still verified by samael over libxmlsec1, on the
//! Response that carries the EncryptedAssertion or on the assertion inside.

use base64::Engine;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Padding;
use openssl::symm::{Cipher, Crypter, Mode};
use quick_xml::events::Event;
use quick_xml::Reader;

/// The parts of an EncryptedAssertion, and where it sits in the document.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Encrypted {
    pub data_algorithm: String,
    pub data: Vec<u8>,
    pub key_algorithm: String,
    pub key: Vec<u8>,
    /// Byte range of the `<EncryptedAssertion>` element.
    pub span: (usize, usize),
}

fn local(name: &[u8]) -> &[u8] {
    name.rsplit(|b| *b == b':').next().unwrap_or(name)
}

fn b64(text: &str) -> Result<Vec<u8>, &'static str> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| "a CipherValue is not base64")
}

/// The response's EncryptedAssertion, if it has one. The key may sit in the
/// EncryptedData's KeyInfo or beside the EncryptedData (both are used).
pub fn find(xml: &str) -> Result<Option<Encrypted>, &'static str> {
    let mut r = Reader::from_str(xml);
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut found: Option<Encrypted> = None;
    loop {
        let before = usize::try_from(r.buffer_position()).unwrap_or(usize::MAX);
        let event = r
            .read_event()
            .map_err(|_| "the response is not well-formed XML")?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = local(e.name().as_ref()).to_vec();
                if name == b"EncryptedAssertion" {
                    if found.is_some() {
                        return Err("more than one encrypted assertion");
                    }
                    found = Some(Encrypted {
                        span: (before, before),
                        ..Default::default()
                    });
                }
                if name == b"EncryptionMethod" {
                    let alg = e
                        .attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == b"Algorithm")
                        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
                        .unwrap_or_default();
                    if let Some(enc) = found.as_mut() {
                        if path.last().is_some_and(|p| p == b"EncryptedKey") {
                            enc.key_algorithm = alg;
                        } else if path.last().is_some_and(|p| p == b"EncryptedData") {
                            enc.data_algorithm = alg;
                        }
                    }
                }
                if matches!(event, Event::Start(_)) {
                    path.push(name);
                }
            }
            Event::Text(t) if path.last().is_some_and(|p| p == b"CipherValue") => {
                let text = t
                    .decode()
                    .map_err(|_| "unreadable CipherValue")?
                    .into_owned();
                if let Some(enc) = found.as_mut() {
                    let bytes = b64(&text)?;
                    if path.iter().any(|p| p == b"EncryptedKey") {
                        enc.key = bytes;
                    } else if path.iter().any(|p| p == b"EncryptedData") {
                        enc.data = bytes;
                    }
                }
            }
            Event::End(e) => {
                if local(e.name().as_ref()) == b"EncryptedAssertion" {
                    if let Some(enc) = found.as_mut() {
                        enc.span.1 = usize::try_from(r.buffer_position()).unwrap_or(usize::MAX);
                    }
                }
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(found)
}

fn aes(alg: &str) -> Option<(Cipher, bool)> {
    Some(match alg {
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => (Cipher::aes_128_cbc(), false),
        "http://www.w3.org/2001/04/xmlenc#aes192-cbc" => (Cipher::aes_192_cbc(), false),
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => (Cipher::aes_256_cbc(), false),
        "http://www.w3.org/2009/xmlenc11#aes128-gcm" => (Cipher::aes_128_gcm(), true),
        "http://www.w3.org/2009/xmlenc11#aes192-gcm" => (Cipher::aes_192_gcm(), true),
        "http://www.w3.org/2009/xmlenc11#aes256-gcm" => (Cipher::aes_256_gcm(), true),
        _ => return None,
    })
}

/// The plaintext assertion. Every failure is one uniform error: the caller
/// answers the same refusal whatever went wrong (no padding oracle).
pub fn decrypt(enc: &Encrypted, key: &PKey<Private>) -> Result<String, String> {
    // RSA-OAEP (MGF1 with SHA-1, the XML Encryption default) only: PKCS#1
    // v1.5 key transport is refused (Bleichenbacher).
    match enc.key_algorithm.as_str() {
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
        | "http://www.w3.org/2009/xmlenc11#rsa-oaep" => {}
        other => return Err(format!("key transport {other:?} is not accepted")),
    }
    let (cipher, gcm) = aes(&enc.data_algorithm).ok_or_else(|| {
        format!(
            "content encryption {:?} is not accepted",
            enc.data_algorithm
        )
    })?;
    let fail = || "the encrypted assertion could not be decrypted".to_string();
    let rsa = key.rsa().map_err(|_| fail())?;
    let mut session = vec![0u8; rsa.size() as usize];
    let n = rsa
        .private_decrypt(&enc.key, &mut session, Padding::PKCS1_OAEP)
        .map_err(|_| fail())?;
    session.truncate(n);
    if session.len() != cipher.key_len() {
        return Err(fail());
    }
    let iv_len = cipher.iv_len().unwrap_or(16);
    let tag_len = if gcm { 16 } else { 0 };
    if enc.data.len() < iv_len + tag_len + 1 {
        return Err(fail());
    }
    let (iv, rest) = enc.data.split_at(iv_len);
    let (body, tag) = rest.split_at(rest.len() - tag_len);
    let mut c = Crypter::new(cipher, Mode::Decrypt, &session, Some(iv)).map_err(|_| fail())?;
    c.pad(false);
    if gcm {
        c.set_tag(tag).map_err(|_| fail())?;
    }
    let mut out = vec![0u8; body.len() + cipher.block_size()];
    let mut len = c.update(body, &mut out).map_err(|_| fail())?;
    let tail = out.get_mut(len..).ok_or_else(fail)?;
    len += c.finalize(tail).map_err(|_| fail())?;
    out.truncate(len);
    if !gcm {
        // XML Encryption padding: the last byte says how many bytes to drop.
        let pad = usize::from(*out.last().ok_or_else(fail)?);
        if pad == 0 || pad > cipher.block_size() || pad > out.len() {
            return Err(fail());
        }
        out.truncate(out.len() - pad);
    }
    String::from_utf8(out).map_err(|_| "the decrypted assertion is not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::rsa::Rsa;
    use openssl::symm::encrypt;

    const AES256: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
    const OAEP: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";

    /// An EncryptedAssertion as Entra ID shapes it (default-namespace KeyInfo).
    fn encrypted(key: &PKey<Private>, plain: &str, key_alg: &str) -> String {
        let session = [7u8; 32];
        let iv = [9u8; 16];
        // XML Encryption padding, as PKCS#7 happens to satisfy it.
        let mut data = iv.to_vec();
        data.extend(encrypt(Cipher::aes_256_cbc(), &session, Some(&iv), plain.as_bytes()).unwrap());
        let rsa = key.rsa().unwrap();
        let mut wrapped = vec![0u8; rsa.size() as usize];
        let n = rsa
            .public_encrypt(&session, &mut wrapped, Padding::PKCS1_OAEP)
            .unwrap();
        wrapped.truncate(n);
        let b = |v: &[u8]| base64::engine::general_purpose::STANDARD.encode(v);
        format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><EncryptedAssertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="{AES256}"/><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><e:EncryptedKey xmlns:e="http://www.w3.org/2001/04/xmlenc#"><e:EncryptionMethod Algorithm="{key_alg}"><DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></e:EncryptionMethod><e:CipherData><e:CipherValue>{}</e:CipherValue></e:CipherData></e:EncryptedKey></KeyInfo><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></EncryptedAssertion></samlp:Response>"#,
            b(&wrapped),
            b(&data)
        )
    }

    #[test]
    fn entra_shaped_aes256_assertions_decrypt_and_tampering_fails() {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let plain = "<saml:Assertion ID=\"_a\"/>";
        let xml = encrypted(&key, plain, OAEP);
        let enc = find(&xml).unwrap().unwrap();
        assert_eq!(
            (enc.data_algorithm.as_str(), enc.key_algorithm.as_str()),
            (AES256, OAEP)
        );
        assert!(xml[enc.span.0..enc.span.1].starts_with("<EncryptedAssertion"));
        assert!(xml[enc.span.0..enc.span.1].ends_with("</EncryptedAssertion>"));
        assert_eq!(decrypt(&enc, &key).unwrap(), plain);

        let mut bad = find(&xml).unwrap().unwrap();
        if let Some(b) = bad.data.last_mut() {
            *b ^= 0xff;
        }
        assert!(decrypt(&bad, &key).is_err(), "tampered ciphertext");
        let other = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        assert!(decrypt(&enc, &other).is_err(), "another key");
        let v15 = find(&encrypted(
            &key,
            plain,
            "http://www.w3.org/2001/04/xmlenc#rsa-1_5",
        ))
        .unwrap()
        .unwrap();
        assert!(decrypt(&v15, &key).unwrap_err().contains("not accepted"));
        assert_eq!(find("<Response><Assertion/></Response>").unwrap(), None);
        let two = xml.replace("</samlp:Response>", "")
            + &xml[enc.span.0..enc.span.1]
            + "</samlp:Response>";
        assert!(find(&two).is_err());
    }
}
