use crate::config::Settings;
use crate::resolver::Resolver;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

/// Shared by every request handler.
pub struct AppState {
    /// Writes, and reads that must see a write's own transaction.
    pub db: DatabaseConnection,
    /// Reads outside a write (on SQLite, a pool of its own beside the writer).
    pub read: DatabaseConnection,
    /// The hot reads (SCIM resources): on a SQLite file, on the request's
    /// own thread (`store::reads`); otherwise `read`.
    pub reads: crate::store::reads::Reads,
    /// Writes committed together with others in flight (group commit).
    pub commits: crate::store::commits::Commits,
    pub settings: Settings,
    pub resolver: Resolver,
    pub metrics: crate::metrics::Metrics,
    pub throttle: crate::store::signin_attempts::Throttles,
    pub oidc: crate::sso::client::ProviderCache,
    pub sealer: crate::secrets::Sealer,
    /// Bounded argon2 checks, so sign-in floods cannot exhaust memory.
    pub password_checks: crate::sso::password_checks::PasswordChecks,
    pub scim_rate: crate::scim::rate_limit::RateLimit,
    /// Set on SIGTERM: `/readyz` fails while requests drain.
    pub draining: std::sync::atomic::AtomicBool,
}

pub type State = actix_web::web::Data<AppState>;

impl AppState {
    pub fn new(
        db: DatabaseConnection,
        read: DatabaseConnection,
        reads: crate::store::reads::Reads,
        commits: crate::store::commits::Commits,
        settings: Settings,
    ) -> Result<Arc<Self>, crate::secrets::SealError> {
        let sealer = crate::secrets::Sealer::new(settings.sealing_key())?;
        if !sealer.has_key() {
            tracing::warn!(
                "IDBRIDGE_SECRETS_KEY is not set: IdP client secrets are stored unsealed"
            );
        }
        // Made once, now, rather than on a worker thread during the first sign-in.
        if crate::secrets::dummy_password_hash().is_none() {
            tracing::error!("could not prepare the dummy password hash: local sign-in will refuse");
        }
        let ttl = std::time::Duration::from_secs(settings.access_cache_ttl_secs);
        let scim_rate = crate::scim::rate_limit::RateLimit::new(settings.scim_requests_per_sec);
        let checks = match settings.max_concurrent_password_checks {
            0 => std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            n => n,
        };
        let resolver = Resolver::new(ttl, db.clone());
        Ok(Arc::new(AppState {
            db,
            read,
            reads,
            commits,
            settings,
            resolver,
            metrics: Default::default(),
            throttle: Default::default(),
            oidc: Default::default(),
            sealer,
            password_checks: crate::sso::password_checks::PasswordChecks::new(checks, checks * 8),
            scim_rate,
            draining: std::sync::atomic::AtomicBool::new(false),
        }))
    }
}
