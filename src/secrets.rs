//! Random secrets, their hashes, passwords (argon2id) and TOTP (RFC 6238).

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A bearer credential as handed out: `<prefix>_<id>_<secret>`. The id finds
/// the row; the secret is compared by hash in constant time.
pub struct IssuedToken {
    pub id: String,
    pub token: String,
    pub hash: String,
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of a presented secret with a stored hash. The
/// hex is written to the stack: this runs on every API-key request.
pub fn verify_secret(secret: &str, stored_hash: &str) -> bool {
    let mut hex = [0u8; 64];
    if hex::encode_to_slice(Sha256::digest(secret.as_bytes()), &mut hex).is_err() {
        return false;
    }
    hex.as_slice().ct_eq(stored_hash.as_bytes()).into()
}

pub fn issue(prefix: &str) -> IssuedToken {
    let id = crate::store::new_id();
    let secret = random_b64(32);
    IssuedToken {
        token: format!("{prefix}_{id}_{secret}"),
        hash: hash_secret(&secret),
        id,
    }
}

/// Splits a presented token into (id, secret) when it has the expected prefix.
pub fn parse<'a>(prefix: &str, token: &'a str) -> Option<(&'a str, &'a str)> {
    let rest = token.strip_prefix(prefix)?.strip_prefix('_')?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 32 && !secret.is_empty()).then_some((id, secret))
}

/// An opaque random value (session cookies, OIDC state).
pub fn random_token() -> String {
    random_b64(32)
}

/// A generated password: 24 characters of URL-safe base64 (144 bits).
pub fn generate_password() -> String {
    random_b64(18)
}

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .map(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash that takes as long to check as a real one, for unknown users.
/// `None` if it could not be made: the caller refuses rather than answering
/// unknown users faster than known ones.
pub fn dummy_password_hash() -> Option<&'static str> {
    static H: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("not-a-real-password").ok())
        .as_deref()
}

pub struct TotpSecret {
    pub base32: String,
    pub otpauth_uri: String,
}

fn totp(secret_b32: &str, account_name: &str) -> Option<totp_rs::TOTP> {
    let bytes = totp_rs::Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .ok()?;
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        Some("idbridge".into()),
        account_name.to_string(),
    )
    .ok()
}

pub fn new_totp(account_name: &str) -> TotpSecret {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let base32 = totp_rs::Secret::Raw(bytes.to_vec())
        .to_encoded()
        .to_string();
    let otpauth_uri = totp(&base32, account_name)
        .map(|t| t.get_url())
        .unwrap_or_default();
    TotpSecret {
        base32,
        otpauth_uri,
    }
}

/// Checks a TOTP code within ±1 step. Returns the matched time step so the
/// caller can refuse any code at or before the last one used (no replay).
pub fn check_totp(secret_b32: &str, code: &str, now_secs: u64) -> Option<i64> {
    let t = totp(secret_b32, "x")?;
    let step = now_secs / 30;
    for s in [step.saturating_sub(1), step, step + 1] {
        let expected = t.generate(s * 30);
        if expected.as_bytes().ct_eq(code.trim().as_bytes()).into() {
            return Some(s as i64);
        }
    }
    None
}

/// The current code for a secret (tests and the demo use it).
pub fn totp_now(secret_b32: &str, now_secs: u64) -> Option<String> {
    Some(totp(secret_b32, "x")?.generate(now_secs))
}

/// Secrets idbridge must send on (an IdP client secret) cannot be hashed;
/// with `IDBRIDGE_SECRETS_KEY` (32 bytes, base64) they are sealed with
/// ChaCha20-Poly1305 as `v1:<base64(nonce || ciphertext)>`.
pub struct Sealer {
    key: Option<[u8; 32]>,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("IDBRIDGE_SECRETS_KEY must be 32 bytes in base64")]
    BadKey,
    #[error("a sealed secret could not be opened (wrong IDBRIDGE_SECRETS_KEY?)")]
    Open,
    #[error("a sealed secret is stored but IDBRIDGE_SECRETS_KEY is not set")]
    NoKey,
}

impl Sealer {
    pub fn new(key_b64: Option<&str>) -> Result<Self, SealError> {
        let key = match key_b64.map(str::trim).filter(|k| !k.is_empty()) {
            None => None,
            Some(k) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(k)
                    .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(k))
                    .map_err(|_| SealError::BadKey)?;
                Some(<[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| SealError::BadKey)?)
            }
        };
        Ok(Sealer { key })
    }

    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// Seals with the key when there is one; otherwise stores as given.
    pub fn seal(&self, secret: &str) -> Result<String, SealError> {
        use chacha20poly1305::aead::{Aead, KeyInit};
        let Some(key) = &self.key else {
            return Ok(secret.to_string());
        };
        let cipher = chacha20poly1305::ChaCha20Poly1305::new_from_slice(key)
            .map_err(|_| SealError::BadKey)?;
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(
                chacha20poly1305::Nonce::from_slice(&nonce),
                secret.as_bytes(),
            )
            .map_err(|_| SealError::BadKey)?;
        let mut out = nonce.to_vec();
        out.extend(ct);
        Ok(format!(
            "v1:{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        ))
    }

    pub fn open(&self, stored: &str) -> Result<String, SealError> {
        use chacha20poly1305::aead::{Aead, KeyInit};
        let Some(body) = stored.strip_prefix("v1:") else {
            return Ok(stored.to_string());
        };
        let key = self.key.as_ref().ok_or(SealError::NoKey)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| SealError::Open)?;
        let Some((nonce, sealed)) = bytes.split_at_checked(12) else {
            return Err(SealError::Open);
        };
        let cipher = chacha20poly1305::ChaCha20Poly1305::new_from_slice(key)
            .map_err(|_| SealError::BadKey)?;
        let pt = cipher
            .decrypt(chacha20poly1305::Nonce::from_slice(nonce), sealed)
            .map_err(|_| SealError::Open)?;
        String::from_utf8(pt).map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sealing() {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let s = Sealer::new(Some(&key)).unwrap();
        let sealed = s.seal("client-secret").unwrap();
        assert!(sealed.starts_with("v1:") && !sealed.contains("client-secret"));
        assert_eq!(s.open(&sealed).unwrap(), "client-secret");
        assert_ne!(
            s.seal("client-secret").unwrap(),
            sealed,
            "fresh nonce each time"
        );
        let other = Sealer::new(Some(
            &base64::engine::general_purpose::STANDARD.encode([8u8; 32]),
        ))
        .unwrap();
        assert!(other.open(&sealed).is_err());
        assert!(matches!(
            Sealer::new(None).unwrap().open(&sealed),
            Err(SealError::NoKey)
        ));
        assert_eq!(Sealer::new(None).unwrap().seal("x").unwrap(), "x");
        assert!(Sealer::new(Some("short")).is_err());
    }

    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let t = issue("idbs");
        let (id, secret) = parse("idbs", &t.token).unwrap();
        assert_eq!(id, t.id);
        assert!(verify_secret(secret, &t.hash));
        assert!(!verify_secret("x", &t.hash));
        assert!(parse("idbk", &t.token).is_none());
        assert!(parse("idbs", "idbs_short_x").is_none());
    }

    #[test]
    fn passwords() {
        let h = hash_password("hunter2").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("hunter2", &h));
        assert!(!verify_password("hunter3", &h));
        assert!(!verify_password("hunter2", "garbage"));
    }

    #[test]
    fn totp_window() {
        let s = new_totp("a@b.c");
        assert!(s.otpauth_uri.starts_with("otpauth://totp/"));
        let now = 1_700_000_000;
        let code = totp_now(&s.base32, now).unwrap();
        assert_eq!(check_totp(&s.base32, &code, now), Some((now / 30) as i64));
        assert!(check_totp(&s.base32, &code, now + 30).is_some());
        assert!(check_totp(&s.base32, &code, now + 90).is_none());
        assert!(check_totp(&s.base32, "000000x", now).is_none());
    }
}
