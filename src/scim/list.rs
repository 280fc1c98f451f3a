//! The list/search algorithm: a filter runs as SQL where it can (see
//! `store::scim_filter`); otherwise the SQL condition is a superset
//! prefilter and every candidate is checked against the parsed filter in
//! memory, so answers are always exact.

use super::error::ScimError;
use super::filter;
use super::json_text::Object;
use super::query::ListParams;
use super::schema::ResourceKind;
use super::{ScimCtx, LIST_URN};
use crate::resolver::CachedAccount;
use crate::store::reads::Reads;
use crate::store::scim as db;
use crate::store::scim_filter::{order_column, translate, Translation};
use actix_web::HttpResponse;
use serde_json::Value;
use std::sync::Arc;

/// A list answer: its total, where it starts, and its page of resources as
/// JSON text (written into the ListResponse as they are).
pub(crate) struct Listed {
    pub total: u64,
    pub start: u64,
    pub resources: Vec<Vec<u8>>,
}

impl Listed {
    /// The ListResponse body.
    pub fn body(&self) -> Vec<u8> {
        let size: usize = self.resources.iter().map(|r| r.len() + 1).sum();
        let mut out = Vec::with_capacity(size + 160);
        let mut o = Object::open(&mut out);
        o.strs("schemas", &[LIST_URN]);
        o.raw("totalResults", &self.total.to_string());
        o.raw("itemsPerPage", &self.resources.len().to_string());
        o.raw("startIndex", &self.start.to_string());
        let list = o.key("Resources");
        list.push(b'[');
        for (i, r) in self.resources.iter().enumerate() {
            if i > 0 {
                list.push(b',');
            }
            list.extend_from_slice(r);
        }
        list.push(b']');
        o.close();
        out
    }
}

/// Resources as JSON text.
pub(super) fn texts(values: impl IntoIterator<Item = Value>) -> Vec<Vec<u8>> {
    values
        .into_iter()
        .map(|v| serde_json::to_vec(&v).unwrap_or_default())
        .collect()
}

/// A sort key from a rendered resource: the (primary) value, case-folded.
fn sort_key(v: &Value, sort_by: &str) -> String {
    let mut cur = v;
    for seg in super::query::path_of(sort_by) {
        let next = match cur {
            Value::Object(o) => o
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&seg))
                .map(|(_, v)| v),
            Value::Array(a) => a
                .iter()
                .find(|i| i["primary"] == Value::Bool(true))
                .or_else(|| a.first())
                .and_then(|i| i.get(&seg)),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.to_lowercase(),
        Value::Array(a) => a
            .first()
            .map(|x| x["value"].as_str().unwrap_or_default().to_lowercase())
            .unwrap_or_default(),
        other => other.to_string(),
    }
}

/// Answers a list or search request (RFC 7644 §3.4.2).
pub(crate) async fn list(
    ctx: &ScimCtx,
    kind: ResourceKind,
    p: &ListParams,
) -> Result<Listed, ScimError> {
    let parsed = match &p.filter {
        Some(f) => Some(
            filter::parse_filter(f).map_err(|e| ScimError::bad("invalidFilter", e.to_string()))?,
        ),
        None => None,
    };
    let named = parsed
        .as_ref()
        .and_then(|f| crate::store::scim_filter::user_name_eq(kind, f));
    if let (Some(name), None) = (named, &p.sort_by) {
        return named_page(ctx, &name, p).await;
    }
    let t = parsed
        .as_ref()
        .map(|f| translate(kind, f))
        .unwrap_or(Translation {
            cond: None,
            exact: true,
        });
    let order = p.sort_by.as_deref().map(|s| order_column(kind, s));
    if t.exact && !matches!(order, Some(None)) {
        let order = db::ListOrder {
            by: order.flatten(),
            descending: p.descending,
        };
        return sql_page(ctx, kind, p, t, order).await;
    }
    let mut candidates = candidates(ctx, kind, t).await?;
    if let Some(f) = &parsed {
        candidates.retain(|v| filter::matches(f, v, kind));
    }
    if let Some(s) = &p.sort_by {
        candidates.sort_by_cached_key(|v| sort_key(v, s));
        if p.descending {
            candidates.reverse();
        }
    }
    let total = candidates.len() as u64;
    let page = candidates
        .into_iter()
        .skip((p.start_index - 1) as usize)
        .take(p.count as usize)
        .map(|v| p.projection.apply(v));
    Ok(Listed {
        total,
        start: p.start_index,
        resources: texts(page),
    })
}

/// The exact case: the database filters, orders and pages.
fn kind_key(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "users",
        ResourceKind::Group => "groups",
    }
}

async fn sql_page(
    ctx: &ScimCtx,
    kind: ResourceKind,
    p: &ListParams,
    t: Translation,
    order: db::ListOrder,
) -> Result<Listed, ScimError> {
    // An unfiltered list's total is counted once per users change, not per page.
    let unfiltered = t.cond.is_none();
    let acct = ctx.account().await?;
    let (key, counted_at) = (kind_key(kind), acct.users_generation());
    let offset = p.start_index - 1;
    let anchor = async {
        if unfiltered && order.by.is_none() && offset >= db::ANCHOR_STEP {
            anchor_before(ctx, &acct, kind, offset).await
        } else {
            Ok(None)
        }
    };
    // (total, whether it is remembered already: carried past the list
    // caches' renewal, or counted for every page)
    let known = async {
        if !unfiltered {
            return Ok((None, false));
        }
        if let Some(t) = acct.cached_count(key) {
            return Ok((Some(t), false));
        }
        if let Some(t) = known_after_renewal(ctx, &acct, kind) {
            return Ok((Some(t), true));
        }
        Ok::<_, ScimError>((counted_once(ctx, &acct, kind).await?, true))
    };
    // A cold deep page both walks the list and counts it: side by side.
    let (after, (known_total, remembered)) = tokio::try_join!(anchor, known)?;
    let w = db::Window {
        offset,
        limit: p.count,
        known_total,
        after,
    };
    // A page, its total and what its resources reference, as of one moment.
    let db = &ctx.state.reads.snapshot()?;
    let (total, page) = match kind {
        ResourceKind::User => {
            let (rows, total) = db::users_page(db, &ctx.account_id, t.cond, order, w).await?;
            (
                total,
                super::render::user_texts(ctx, db, &rows, &p.projection).await?,
            )
        }
        ResourceKind::Group => {
            let (rows, total) = db::groups_page(db, &ctx.account_id, t.cond, order, w).await?;
            (
                total,
                super::render::group_texts(ctx, &rows, &p.projection).await?,
            )
        }
    };
    // A carried total is not remembered: only a recount renews it.
    if unfiltered && !remembered {
        acct.remember_count(key, counted_at, total);
    }
    Ok(Listed {
        total,
        start: p.start_index,
        resources: page,
    })
}

/// An unfiltered list's total carried past the list caches' renewal, with
/// a recount started behind this page (one at a time); `None` to count.
fn known_after_renewal(
    ctx: &ScimCtx,
    acct: &Arc<CachedAccount>,
    kind: ResourceKind,
) -> Option<u64> {
    let key = kind_key(kind);
    let total = acct.carried_count(key)?;
    if let Some(recount) = claimed_recount(ctx, acct, kind) {
        tokio::spawn(async move {
            if let Err(e) = recount.await {
                tracing::warn!(error = %e, "could not count a list");
            }
        });
    }
    Some(total)
}

/// An unfiltered list's total when nothing counted it since the list
/// caches were renewed and nothing was carried (a restart, a users change,
/// carried values out of date): one page counts, the pages that come
/// meanwhile wait for its count. Why: at 1M users, 16 pages that each
/// counted the list at once held each other up for ~300 ms. `None` when no
/// count came in time, or users changed since: the page counts itself.
async fn counted_once(
    ctx: &ScimCtx,
    acct: &Arc<CachedAccount>,
    kind: ResourceKind,
) -> Result<Option<u64>, ScimError> {
    let key = kind_key(kind);
    match claimed_recount(ctx, acct, kind) {
        Some(recount) => {
            recount.await?;
        }
        None => acct.recount_ended(key, COUNT_WAIT).await,
    }
    Ok(acct.cached_count(key))
}

/// How long a page waits for another page's count of the list (a count of
/// 1M users takes ~0.1 s) before it counts itself.
const COUNT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The recount of `kind`'s list, if this request claimed it (one at a time).
fn claimed_recount(
    ctx: &ScimCtx,
    acct: &Arc<CachedAccount>,
    kind: ResourceKind,
) -> Option<impl std::future::Future<Output = Result<u64, sea_orm::DbErr>> + Send + 'static> {
    let key = kind_key(kind);
    acct.claim_recount(key).then(|| {
        let end = RecountEnd(acct.clone(), key);
        recount(end, ctx.state.reads.clone(), ctx.account_id.clone(), kind)
    })
}

/// Counts an unfiltered list and remembers its total under the users
/// generation it started in. The recount was claimed: `end` ends it,
/// however this ends.
async fn recount(
    end: RecountEnd,
    reads: Reads,
    account_id: String,
    kind: ResourceKind,
) -> Result<u64, sea_orm::DbErr> {
    let counted_at = end.0.users_generation();
    let r = reads.clone();
    let total = off_worker(&reads, move || async move {
        let all = db::Window {
            offset: 0,
            limit: 0,
            known_total: None,
            after: None,
        };
        let order = db::ListOrder::default();
        match kind {
            ResourceKind::User => db::users_page(&r, &account_id, None, order, all)
                .await
                .map(|(_, t)| t),
            ResourceKind::Group => db::groups_page(&r, &account_id, None, order, all)
                .await
                .map(|(_, t)| t),
        }
    })
    .await?;
    end.0.remember_count(end.1, counted_at, total);
    Ok(total)
}

/// Runs a count of a whole list where it holds up no other request: inline
/// reads run on the calling thread, and counting 1M users there held up
/// every request on this worker (page p99 80 ms; lookups beside the first
/// deep pages, p99 31–57 ms). Anchor walks step off it themselves
/// (`Reads::every_nth`).
async fn off_worker<T, F, Fut>(reads: &Reads, read: F) -> Result<T, sea_orm::DbErr>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, sea_orm::DbErr>>,
    T: Send + 'static,
{
    if !matches!(reads, Reads::Inline(_)) {
        return read().await;
    }
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || rt.block_on(read()))
        .await
        .unwrap_or_else(|e| Err(sea_orm::DbErr::Custom(format!("list read: {e}"))))
}

/// Ends a recount when dropped: done, failed or abandoned.
struct RecountEnd(Arc<CachedAccount>, &'static str);

impl Drop for RecountEnd {
    fn drop(&mut self) {
        self.0.end_recount(self.1);
    }
}

/// `userName eq "x"`: at most one user, found by its own statement.
async fn named_page(ctx: &ScimCtx, name: &str, p: &ListParams) -> Result<Listed, ScimError> {
    let rows = crate::store::parted::by_name(&ctx.state.reads, &ctx.account_id, name).await?;
    let total = rows.len() as u64;
    let rows: Vec<_> = rows
        .into_iter()
        .skip((p.start_index - 1) as usize)
        .take(p.count as usize)
        .collect();
    let page = super::render::parted_texts(ctx, &rows, &p.projection).await?;
    Ok(Listed {
        total,
        start: p.start_index,
        resources: page,
    })
}

/// The inexact case: candidates from the prefilter, rendered in full, to be
/// checked in memory. Bounded: past `max_filter_scan` candidates the filter
/// is refused (RFC 7644 `tooMany`) rather than loading the account into memory.
async fn candidates(
    ctx: &ScimCtx,
    kind: ResourceKind,
    t: Translation,
) -> Result<Vec<Value>, ScimError> {
    let (db, cap) = (&ctx.state.read, ctx.state.settings.max_filter_scan);
    let too_many = || {
        ScimError::bad(
            "tooMany",
            format!("this filter needs more than {cap} resources checked one by one; narrow it with userName, externalId, id, emails, displayName or members"),
        )
    };
    let full = super::query::Projection::default();
    match kind {
        ResourceKind::User => {
            let rows = db::users_matching(db, &ctx.account_id, t.cond, cap + 1).await?;
            if rows.len() as u64 > cap {
                return Err(too_many());
            }
            super::render::users(ctx, &ctx.state.reads, &rows, &full).await
        }
        ResourceKind::Group => {
            let rows = db::groups_matching(db, &ctx.account_id, t.cond, cap + 1).await?;
            if rows.len() as u64 > cap {
                return Err(too_many());
            }
            super::render::groups(ctx, &rows, &full).await
        }
    }
}

/// `GET /Users|/Groups`: a list answer for `kind`.
pub(crate) async fn list_answer(
    ctx: &ScimCtx,
    kind: ResourceKind,
    q: &std::collections::HashMap<String, String>,
) -> Result<HttpResponse, ScimError> {
    let params = ListParams::from_query(q)?;
    Ok(super::text_response(
        actix_web::http::StatusCode::OK,
        list(ctx, kind, &params).await?.body(),
    ))
}

/// `POST /Users/.search|/Groups/.search`.
pub(crate) async fn search_answer(
    ctx: &ScimCtx,
    kind: ResourceKind,
    body: &Value,
) -> Result<HttpResponse, ScimError> {
    let params = ListParams::from_search(body)?;
    Ok(super::text_response(
        actix_web::http::StatusCode::OK,
        list(ctx, kind, &params).await?.body(),
    ))
}

/// Anchors are looked for again at most this often while writes keep
/// making them stale.
const ANCHORS_AGAIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Ends an anchor walk when dropped: found, failed or abandoned (the
/// request gone), the pages waiting for it go on.
struct WalkEnd<'a>(&'a CachedAccount);

impl Drop for WalkEnd<'_> {
    fn drop(&mut self) {
        self.0.end_anchor_walk();
    }
}

/// How long a deep page waits for an anchor walk in flight before paging
/// with `OFFSET` instead (a walk of 1M users takes well under this).
const WALK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The anchor a deep page of an unfiltered list starts after, and the rows
/// up to it; `None` to page with `OFFSET`.
async fn anchor_before(
    ctx: &ScimCtx,
    acct: &Arc<CachedAccount>,
    kind: ResourceKind,
    offset: u64,
) -> Result<Option<(db::Anchor, u64)>, ScimError> {
    let key = kind_key(kind);
    let list = match acct.cached_anchors(key) {
        Some(l) => l,
        // Renewed lists: the carried anchors serve while a walk behind
        // this page finds new ones, or while another page's walk does.
        None => match (
            acct.claim_anchor_search(key, ANCHORS_AGAIN),
            acct.carried_anchors(key),
        ) {
            (true, Some(old)) => {
                walk_behind(ctx, acct.clone(), kind);
                old
            }
            (false, Some(old)) => old,
            (claimed, None) => match walk_or_wait(ctx, acct, kind, claimed).await? {
                Some(l) => l,
                None => return Ok(None),
            },
        },
    };
    Ok(db::start_after(&list, offset))
}

/// Finds new anchors for `kind` off this request, and ends the walk however
/// it ends.
fn walk_behind(ctx: &ScimCtx, acct: Arc<CachedAccount>, kind: ResourceKind) {
    let (reads, account_id) = (ctx.state.reads.clone(), ctx.account_id.clone());
    tokio::spawn(async move {
        if let Err(e) = walk(&reads, &account_id, &acct, kind).await {
            tracing::warn!(error = %e, "could not find list anchors");
        }
    });
}

/// With no anchors to use: walks (when this page `claimed` the walk) or
/// waits for the walk in flight; `None` to page with `OFFSET`.
async fn walk_or_wait(
    ctx: &ScimCtx,
    acct: &CachedAccount,
    kind: ResourceKind,
    claimed: bool,
) -> Result<Option<Arc<Vec<db::Anchor>>>, ScimError> {
    if !claimed {
        let key = kind_key(kind);
        acct.anchor_walk_ended(key, WALK_WAIT).await;
        return Ok(acct.cached_anchors(key));
    }
    Ok(walk(&ctx.state.reads, &ctx.account_id, acct, kind).await?)
}

/// The claimed walk of `kind`'s anchors: remembers what it finds, and tells
/// the waiting pages when it ends, however it ends.
async fn walk(
    reads: &Reads,
    account_id: &str,
    acct: &CachedAccount,
    kind: ResourceKind,
) -> Result<Option<Arc<Vec<db::Anchor>>>, sea_orm::DbErr> {
    let found_at = acct.users_generation();
    let _end = WalkEnd(acct);
    Ok(db::anchors(reads, account_id, kind == ResourceKind::Group)
        .await?
        .map(|list| acct.remember_anchors(kind_key(kind), found_at, list)))
}
