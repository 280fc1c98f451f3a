//! Who is calling the management API: an API key (acting as its user) or a session.

use super::error::ApiError;
use crate::access::Access;
use crate::caller::Caller;
use crate::resolver::CachedAccount;
use crate::state::State;
use actix_web::{dev::Payload, FromRequest, HttpRequest};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The caller of a management request. Taking an `Actor` authenticates the
/// request and scopes `/accounts/{id}/...` routes to the caller's account,
/// even in handlers that never read it (`_actor`).
pub struct Actor {
    pub account: Arc<CachedAccount>,
    pub user_id: String,
    pub email: String,
    pub access: Arc<Access>,
    /// How the actor authenticated, for the audit log (`api_key:<id>` or `session:<id>`).
    pub credential: String,
    /// The request's caller record, marked once its outcome is audited.
    pub caller: Caller,
    /// Set when the actor belongs to another account and reaches this one
    /// through support access or an account group.
    pub outside: Option<Outside>,
}

/// How an actor from another account reaches this one.
#[derive(Debug, Clone)]
pub struct Outside {
    /// The actor's own account.
    pub home_account: String,
    /// Through a support-access grant (audited in both accounts).
    pub support: bool,
    /// Some grant is narrowed to environments (matched by name for account groups).
    pub narrowed: bool,
}

impl Outside {
    /// Whether an outside actor may make this write. Never anything that
    /// mints credentials or changes who holds what: SCIM tokens, API keys,
    /// SSO, account settings and features, custom roles, support access,
    /// account groups — each would outlive or widen the grant. Nor, when
    /// their reach is narrowed to environments, environments themselves (a
    /// rename would move the narrowing).
    pub fn may(&self, action: &str) -> bool {
        const NEVER: [&str; 7] = [
            "scim_token.",
            "api_key.",
            "sso.",
            "account.",
            "role.",
            "support.",
            "account_group.",
        ];
        if NEVER.iter().any(|p| action.starts_with(p)) {
            return false;
        }
        !(self.narrowed && action.starts_with("environment."))
    }

    pub fn label(&self) -> &'static str {
        if self.support {
            "support access"
        } else {
            "account group"
        }
    }
}

impl Actor {
    pub fn account_id(&self) -> &str {
        &self.account.account.id
    }

    /// The actor may only touch its own account; others look absent.
    pub fn check_account(&self, id: &str) -> Result<(), ApiError> {
        if self.account_id() == id {
            Ok(())
        } else {
            Err(ApiError::NotFound(format!("account not found: {id}")))
        }
    }

    pub fn require(&self, privilege: &str) -> Result<(), ApiError> {
        Ok(self.access.require(privilege)?)
    }

    /// Passes with any one of the privileges; names all of them otherwise.
    pub fn require_any(&self, privileges: &[&str]) -> Result<(), ApiError> {
        if privileges.iter().any(|p| self.access.has(p)) {
            return Ok(());
        }
        Err(ApiError::Forbidden(
            privileges
                .iter()
                .map(|p| {
                    crate::catalog::privilege(p)
                        .map(|d| d.name)
                        .unwrap_or(p)
                        .to_string()
                })
                .collect(),
        ))
    }

    pub fn label(&self) -> String {
        format!("{} ({})", self.email, self.credential)
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let h = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, value) = h.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| value.trim().to_string())
}

async fn authenticate(req: HttpRequest) -> Result<Actor, ApiError> {
    let state = req
        .app_data::<State>()
        .cloned()
        .ok_or(ApiError::Unauthorized)?;
    if let Some(token) = bearer(&req) {
        let key = state
            .resolver
            .api_key(&state.db, &token)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        let account = state
            .resolver
            .account(&state.db, &key.account_id)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        // The key's user by exact id: no name or email can stand in for it.
        let user = state
            .resolver
            .user_by_id(&state.db, &account, &key.user_id)
            .await?
            .filter(|u| u.user.active)
            .ok_or(ApiError::Unauthorized)?;
        let credential = format!("api_key:{}", key.id);
        return Ok(Actor {
            caller: Caller::new(&account.account.id, &user.user.user_name, &credential),
            user_id: user.user.id.clone(),
            email: user.user.user_name.clone(),
            access: user.access.clone(),
            account,
            credential,
            outside: None,
        });
    }
    let Some(c) = req.cookie(crate::store::sessions::COOKIE) else {
        return Err(ApiError::Unauthorized);
    };
    // Cookies ride along on cross-site requests; a JSON content type
    // cannot be sent cross-origin without a CORS preflight (which we never grant).
    let safe = matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    let json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !safe && !json {
        return Err(ApiError::BadRequest(
            "requests authenticated by session cookie must send Content-Type: application/json"
                .into(),
        ));
    }
    let live = state
        .resolver
        .session_access(&state.db, c.value())
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let credential = format!("session:{}", live.session.id);
    Ok(Actor {
        caller: Caller::new(&live.account.account.id, &live.user.user_name, &credential),
        user_id: live.user.id.clone(),
        email: live.user.user_name.clone(),
        access: live.access,
        account: live.account,
        credential,
        outside: None,
    })
}

/// The actor acting in another account `target`: only with a live support
/// grant or an account-group role there; otherwise that account looks absent.
async fn reach(req: &HttpRequest, actor: Actor, target: &str) -> Result<Actor, ApiError> {
    let absent = || ApiError::NotFound(format!("account not found: {target}"));
    let state = req.app_data::<State>().cloned().ok_or_else(absent)?;
    let account = state
        .resolver
        .account(&state.db, target)
        .await?
        .ok_or_else(absent)?;
    let user = crate::store::model::user_by_id(&state.db, actor.account_id(), &actor.user_id)
        .await?
        .ok_or_else(absent)?;
    let now = crate::store::now_ms();
    let grants =
        crate::store::cross_account::grants(&state.db, &account.model, target, &user, now).await?;
    if grants.is_empty() {
        return Err(absent());
    }
    let support = grants
        .iter()
        .any(|g| matches!(g.via, crate::access::Via::Support { .. }));
    let outside = Outside {
        home_account: actor.account_id().to_string(),
        support,
        narrowed: grants.iter().any(|g| g.environments.is_some()),
    };
    let reached = Actor {
        access: Arc::new(account.model.resolve(&grants)),
        caller: Caller::new(target, &actor.email, &actor.credential),
        account,
        outside: Some(outside),
        ..actor
    };
    if support && req.method() == actix_web::http::Method::GET {
        // Support staff's reads are recorded too, in both accounts.
        super::record_outside(&state, &reached, "support.read", req.path()).await?;
    }
    Ok(reached)
}

impl FromRequest for Actor {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let mut actor = authenticate(req.clone()).await?;
            // Every `/accounts/{id}/...` route is scoped here, once: another
            // account's path looks absent, whatever the handler does, unless
            // support access or an account group reaches it.
            if let Some(id) = req.match_info().get("id") {
                if req.path().starts_with("/api/v1/accounts/") && id != actor.account_id() {
                    actor = reach(&req, actor, id).await?;
                }
            }
            actor.caller.attach(&req);
            Ok(actor)
        })
    }
}

/// The caller of a management request, for auditing a refusal.
pub async fn caller(req: &HttpRequest) -> Option<Caller> {
    authenticate(req.clone()).await.ok().map(|a| a.caller)
}
