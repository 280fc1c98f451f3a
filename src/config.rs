//! Settings: defaults, then an optional TOML file, then `IDBRIDGE_*` variables.

use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub database_url: String,
    pub listen: String,
    /// Base URL browsers and IdPs use to reach idbridge (redirect URIs, cookie Secure flag).
    pub public_url: String,
    /// `text` or `json`.
    pub log_format: String,
    pub log_level: String,
    /// Largest accepted request body, in bytes (SCIM answers 413 above it).
    pub max_body_bytes: usize,
    /// Largest number of operations in one SCIM Bulk request.
    pub bulk_max_operations: usize,
    pub session_ttl_secs: i64,
    pub token_ttl_secs: i64,
    /// How long another replica's change may take to reach this replica's access cache.
    pub access_cache_ttl_secs: u64,
    /// 32 bytes, base64: seals stored IdP client secrets (see `secrets::Sealer`).
    /// Redacted in `Debug`, never serialized, exposed only to the sealer.
    #[serde(skip_serializing)]
    pub secrets_key: Option<SecretString>,
    /// Database statements slower than this are logged at WARN.
    pub slow_query_ms: u64,
    /// `aud` of the session JWTs: the platform services that verify them.
    pub token_audience: String,
    /// Password checks (argon2, ~19 MiB each) allowed to run at once; 0 means
    /// one per CPU. Up to 8 times as many wait; sign-ins beyond that get 503.
    pub max_concurrent_password_checks: usize,
    /// SSO sign-ins an account may have started and not finished (each holds
    /// a state row for 10 minutes); more answer 429.
    pub max_pending_sign_ins: u64,
    /// How often each replica reads the shared change log (ms): another
    /// replica's change reaches this one's caches within about this long.
    pub change_poll_ms: u64,
    /// Most resources a SCIM filter that cannot run as SQL may check in
    /// memory; beyond it the filter answers 400 `tooMany`.
    pub max_filter_scan: u64,
    /// SCIM requests per second each token may send (bursts of twice that);
    /// more answer 429 with `Retry-After`. 0 turns limiting off.
    pub scim_requests_per_sec: u32,
    /// After SIGTERM, how long (ms) requests are still served while `/readyz`
    /// fails, before the listener closes.
    pub shutdown_drain_ms: u64,
    /// DNS server (`ip:port`) asked for domain-verification TXT records;
    /// empty uses the system's resolvers (`/etc/resolv.conf`).
    pub dns_resolver: String,
    /// How long events are kept for `GET .../events` and redelivery.
    pub event_retention_days: u64,
    /// Allow webhook deliveries to loopback, private and link-local
    /// addresses (off: such URLs are refused, at creation and at delivery).
    pub webhook_allow_internal: bool,
    /// First retry delay (ms); doubles per attempt, at most an hour, ±20 %.
    pub webhook_retry_base_ms: u64,
    /// An endpoint failing for longer than this (s) is disabled.
    pub webhook_give_up_secs: u64,
    /// How often each replica looks for due deliveries (ms).
    pub webhook_poll_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: "sqlite://idbridge.db?mode=rwc".into(),
            listen: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            log_format: "text".into(),
            log_level: "info".into(),
            max_body_bytes: 1_048_576,
            bulk_max_operations: 1000,
            session_ttl_secs: 8 * 3600,
            token_ttl_secs: 300,
            access_cache_ttl_secs: 5,
            secrets_key: None,
            slow_query_ms: 500,
            token_audience: "platform".into(),
            max_concurrent_password_checks: 0,
            max_pending_sign_ins: 10_000,
            change_poll_ms: 250,
            max_filter_scan: 10_000,
            scim_requests_per_sec: 1000,
            shutdown_drain_ms: 5000,
            dns_resolver: String::new(),
            event_retention_days: 30,
            webhook_allow_internal: false,
            webhook_retry_base_ms: 5000,
            webhook_give_up_secs: 3 * 24 * 3600,
            webhook_poll_ms: 500,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("IDBRIDGE_PUBLIC_URL {0:?} is not an http(s) URL")]
    PublicUrl(String),
}

impl Settings {
    /// Checked once at start: every redirect URI, cookie flag and origin
    /// check is derived from the public URL.
    pub fn validate(&self) -> Result<(), SettingsError> {
        match url::Url::parse(&self.public_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
            _ => Err(SettingsError::PublicUrl(self.public_url.clone())),
        }
    }

    pub fn load(file: Option<&std::path::Path>) -> Result<Self, Box<figment::Error>> {
        let mut f = figment::Figment::from(Serialized::defaults(Settings::default()));
        if let Some(p) = file {
            f = f.merge(Toml::file_exact(p));
        }
        f.merge(Env::prefixed("IDBRIDGE_"))
            .extract()
            .map_err(Box::new)
    }

    /// The sealing key, for [`crate::secrets::Sealer`] only.
    pub fn sealing_key(&self) -> Option<&str> {
        self.secrets_key.as_ref().map(|k| k.expose_secret())
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::Settings;

    #[test]
    fn public_url_is_checked_and_the_key_never_printed() {
        let mut s = Settings {
            secrets_key: Some("c2VjcmV0LWtleS1ub3QtZm9yLWxvZ3MtMTIzNDU2Nzg=".into()),
            ..Settings::default()
        };
        assert!(s.validate().is_ok());
        let shown = format!("{s:?}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
        for bad in ["", "127.0.0.1:8080", "ftp://x.example", "https://"] {
            s.public_url = bad.into();
            assert!(s.validate().is_err(), "{bad}");
        }
    }
}
