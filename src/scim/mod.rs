//! SCIM 2.0 service provider (RFC 7643 / RFC 7644) under `/scim/v2`.
//!
//! Pure parts: `schema`, `filter`, `patch`, `resource`, `query`, `sql`.
//! HTTP edges: `handlers` (one skeleton for every resource type, which
//! `users` and `groups` fill in), `discovery`, `bulk`. Database: `store::scim`.

pub mod error;
pub mod filter;
mod json_text;
pub mod list;
pub mod patch;
#[cfg(test)]
mod props;
pub mod query;
pub mod rate_limit;
mod render;
pub mod resource;
pub mod schema;

mod bulk;
mod discovery;
mod groups;
mod handlers;
mod users;

use crate::state::State;
use crate::store::audit::{self, Event};
use crate::store::batch::Batch;
use crate::store::changes::{self, Change};
use actix_web::{dev::Payload, web, FromRequest, HttpRequest, HttpResponse};
use error::{ScimError, CONTENT_TYPE};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/scim/v2")
            // Users and Groups first: the router tries routes in order.
            .configure(handlers::routes::<users::Users>)
            .configure(handlers::routes::<groups::Groups>)
            .configure(discovery::routes)
            .configure(bulk::routes)
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(ScimError::not_found("no such SCIM endpoint"))
            })),
    );
}

/// The account a SCIM bearer token stands for.
pub struct ScimCtx {
    pub state: State,
    pub account_id: String,
    pub token_id: String,
    pub caller: crate::caller::Caller,
}

impl ScimCtx {
    pub fn base(&self) -> String {
        format!(
            "{}/scim/v2",
            self.state.settings.public_url.trim_end_matches('/')
        )
    }

    pub fn actor(&self) -> String {
        format!("scim:{}", self.token_id)
    }

    /// Records a SCIM write's audit event on `db`: the write's own
    /// transaction, so the change and its record commit together.
    pub async fn audit(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        action: &str,
        target: &str,
        details: Value,
    ) -> Result<(), ScimError> {
        let b = self.journal(db.get_database_backend(), action, target, details);
        Ok(b.run(db).await?)
    }

    /// A write's audit event and change-log row as one batch, which the
    /// write adds its outbox events to and runs in its transaction.
    pub fn journal(
        &self,
        backend: sea_orm::DbBackend,
        action: &str,
        target: &str,
        details: Value,
    ) -> Batch {
        let mut d = details;
        crate::json::set(&mut d, "token_id", Value::String(self.token_id.clone()));
        let mut b = Batch::new(backend);
        audit::push(
            &mut b,
            Event::new(Some(&self.account_id), self.actor(), action, target).details(d),
        );
        // Other replicas drop their cached users of the account.
        changes::push(&mut b, Some(&self.account_id), Change::Users);
        b
    }

    /// Adds an event of this account to a write's batch.
    pub fn event(&self, b: &mut Batch, kind: &str, subject: &str, payload: Value) {
        crate::store::events::push(b, &self.account_id, kind, subject, payload);
    }

    /// The token's account as the resolver has it (model included).
    /// Read through the read pool: SCIM writes ask for it inside their write
    /// transaction, and on SQLite the writer is one connection that
    /// transaction holds; with the account's cache just dropped (a change
    /// seen in the log), asking the writer waited out the pool's timeout and
    /// the write failed with a 500.
    pub async fn account(
        &self,
    ) -> Result<std::sync::Arc<crate::resolver::CachedAccount>, ScimError> {
        self.state
            .resolver
            .account(&self.state.read, &self.account_id)
            .await?
            .ok_or_else(ScimError::internal)
    }

    /// After a commit: cached role resolutions of the account are stale.
    pub fn changed(&self) {
        self.state.resolver.invalidate_users(&self.account_id);
    }
}

async fn authenticate(req: HttpRequest) -> Result<ScimCtx, ScimError> {
    let state = req
        .app_data::<State>()
        .cloned()
        .ok_or_else(ScimError::internal)?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let token = match header.split_once(' ') {
        Some((scheme, v)) if scheme.eq_ignore_ascii_case("bearer") => v.trim(),
        _ => return Err(ScimError::unauthorized()),
    };
    let t = state
        .resolver
        .scim_token(&state.read, token)
        .await?
        .ok_or_else(ScimError::unauthorized)?;
    if !state.scim_rate.allow(&t.id) {
        return Err(ScimError::too_many_requests(1));
    }
    let caller = crate::caller::Caller::new(
        &t.account_id,
        &format!("scim:{}", t.id),
        &format!("scim_token:{}", t.id),
    );
    Ok(ScimCtx {
        state,
        account_id: t.account_id,
        token_id: t.id,
        caller,
    })
}

/// The caller of a SCIM request, for auditing a refusal.
pub async fn caller(req: &HttpRequest) -> Option<crate::caller::Caller> {
    authenticate(req.clone()).await.ok().map(|c| c.caller)
}

impl FromRequest for ScimCtx {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let ctx = authenticate(req.clone()).await?;
            ctx.caller.attach(&req);
            Ok(ctx)
        })
    }
}

/// A JSON body read under the configured size limit, with SCIM errors
/// (413 when too large, 400 invalidSyntax when not JSON).
pub struct ScimBody(pub Value);

/// Reads the body with actix's JSON reader; its errors become SCIM errors.
async fn read_body(req: HttpRequest, mut payload: Payload) -> Result<ScimBody, ScimError> {
    let limit = req
        .app_data::<State>()
        .map(|s| s.settings.max_body_bytes)
        .unwrap_or(1 << 20);
    // SCIM clients send application/scim+json (or nothing useful): no type check.
    let v: Value = web::JsonBody::new(&req, &mut payload, None, false)
        .limit(limit)
        .await
        .map_err(|e| body_error(e, limit))?;
    if !v.is_object() {
        return Err(ScimError::invalid_syntax("body must be a JSON object"));
    }
    if holds_nul(&v) {
        // PostgreSQL text cannot store NUL; no SCIM attribute needs one.
        return Err(ScimError::invalid_value(
            "strings may not contain the NUL character",
        ));
    }
    Ok(ScimBody(v))
}

fn body_error(e: actix_web::error::JsonPayloadError, limit: usize) -> ScimError {
    use actix_web::error::JsonPayloadError as E;
    match e {
        E::Overflow { .. } | E::OverflowKnownLength { .. } => {
            ScimError::new(413, None, format!("request body exceeds {limit} bytes"))
        }
        E::Deserialize(e) => ScimError::invalid_syntax(format!("body is not valid JSON: {e}")),
        e => ScimError::invalid_syntax(format!("could not read the body: {e}")),
    }
}

fn holds_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(holds_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

impl FromRequest for ScimBody {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;
    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        Box::pin(read_body(req.clone(), payload.take()))
    }
}

pub fn json_response(status: actix_web::http::StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(CONTENT_TYPE)
        .body(to_bytes(body))
}

/// A single resource answer from its JSON text: the ETag is its stored
/// version (as in its `meta.version`), and a 201 says where it is.
pub fn stored_response(
    status: actix_web::http::StatusCode,
    etag: &str,
    location: Option<String>,
    body: Vec<u8>,
) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.content_type(CONTENT_TYPE)
        .insert_header((actix_web::http::header::ETAG, etag.to_string()));
    if let Some(l) = location {
        res.insert_header((actix_web::http::header::LOCATION, l));
    }
    res.body(body)
}

/// An answer whose body is JSON text already.
pub fn text_response(status: actix_web::http::StatusCode, body: Vec<u8>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(CONTENT_TYPE)
        .body(body)
}

/// A body's bytes: straight into a buffer (`to_string` goes through
/// `fmt::Write`, a call per fragment).
fn to_bytes(body: &Value) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_default()
}

/// `W/"<n>"` for a stored version counter.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

fn etag_matches(header: &str, current: &str) -> bool {
    let strip = |s: &str| {
        s.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_string()
    };
    header
        .split(',')
        .any(|h| h.trim() == "*" || strip(h) == strip(current))
}

pub fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::IF_MATCH)
        .and_then(|h| h.to_str().ok())
        .map(String::from)
}

/// If-Match on writes: a mismatch is 412 and nothing changes.
pub fn check_if_match(given: Option<&str>, current: &str) -> Result<(), ScimError> {
    match given {
        Some(h) if !etag_matches(h, current) => Err(ScimError::new(
            412,
            Some("invalidVers"),
            "the resource changed since the given version",
        )),
        _ => Ok(()),
    }
}

/// The `Operations` of a PatchOp body (key matched case-insensitively).
pub fn patch_operations(body: &Value) -> Result<Vec<Value>, ScimError> {
    let ops = body
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("Operations")))
        .map(|(_, v)| v);
    match ops {
        Some(Value::Array(a)) if !a.is_empty() => Ok(a.clone()),
        Some(Value::Array(_)) => Err(ScimError::invalid_syntax("Operations must not be empty")),
        _ => Err(ScimError::invalid_syntax(
            "a PatchOp body needs an Operations array",
        )),
    }
}

pub fn patch_error(e: patch::PatchError) -> ScimError {
    ScimError::bad(e.scim_type(), e.to_string())
}

/// If-None-Match on reads: a match answers 304.
pub fn not_modified(req: &HttpRequest, current: &str) -> bool {
    req.headers()
        .get(actix_web::http::header::IF_NONE_MATCH)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| etag_matches(h, current))
}
