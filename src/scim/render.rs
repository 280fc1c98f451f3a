//! Stored users and groups rendered as SCIM resources, with what they
//! reference (groups, roles, members) loaded for a whole page at once.

use super::error::ScimError;
use super::query::Projection;
use super::resource::{group_json, user_text, Shows};
use super::ScimCtx;
use crate::access::RoleRef;
use crate::store::parted::Parted;
use crate::store::reads::Reads;
use crate::store::scim as db;
use serde_json::Value;
use std::collections::HashMap;

/// (reference, name) of stored role references.
pub(super) async fn role_names(
    ctx: &ScimCtx,
    refs: &[String],
) -> Result<Vec<(String, String)>, ScimError> {
    if refs.is_empty() {
        return Ok(vec![]);
    }
    let acct = ctx.account().await?;
    Ok(refs
        .iter()
        .map(|r| (r.clone(), acct.model.role_name(&RoleRef::from_stored(r))))
        .collect())
}

/// Renders stored users as JSON text under `projection`, loading groups and
/// roles for all of them at once (none of what `projection` leaves out).
pub(super) async fn user_texts(
    ctx: &ScimCtx,
    reads: &Reads,
    rows: &[impl Shows],
    projection: &Projection,
) -> Result<Vec<Vec<u8>>, ScimError> {
    let ids: Vec<String> = rows.iter().map(|u| u.shown().id.to_string()).collect();
    let (groups, roles) = match (projection.excludes("groups"), projection.excludes("roles")) {
        (true, true) => (HashMap::new(), HashMap::new()),
        (true, false) => (HashMap::new(), db::roles_of_users(reads, &ids).await?),
        (false, true) => (db::groups_of_users(reads, &ids).await?, HashMap::new()),
        // The usual case: both, in one round trip.
        (false, false) => db::groups_and_roles_of_users(reads, &ids).await?,
    };
    let base = ctx.base();
    let mut out = Vec::with_capacity(rows.len());
    for u in rows {
        let id = u.shown().id;
        let groups = groups.get(id).map(Vec::as_slice).unwrap_or_default();
        let roles = roles.get(id).map(Vec::as_slice).unwrap_or_default();
        out.push(text(ctx, &base, u, groups, roles, projection).await?);
    }
    Ok(out)
}

/// Renders users read with their parts (`store::parted`) as JSON text.
pub(super) async fn parted_texts(
    ctx: &ScimCtx,
    rows: &[Parted],
    projection: &Projection,
) -> Result<Vec<Vec<u8>>, ScimError> {
    let base = ctx.base();
    let mut out = Vec::with_capacity(rows.len());
    for p in rows {
        out.push(text(ctx, &base, &p.user, &p.groups, &p.roles, projection).await?);
    }
    Ok(out)
}

/// One user as JSON text under `projection`.
async fn text(
    ctx: &ScimCtx,
    base: &str,
    u: &impl Shows,
    groups: &[(String, String)],
    role_refs: &[String],
    projection: &Projection,
) -> Result<Vec<u8>, ScimError> {
    let names = role_names(ctx, role_refs).await?;
    Ok(projection.apply_text(user_text(base, u, groups, &names)))
}

/// Renders stored users as JSON values (for filtering and sorting in memory).
pub(super) async fn users(
    ctx: &ScimCtx,
    reads: &Reads,
    rows: &[db::User],
    projection: &Projection,
) -> Result<Vec<Value>, ScimError> {
    let texts = user_texts(ctx, reads, rows, projection).await?;
    Ok(texts
        .iter()
        .map(|t| serde_json::from_slice(t).unwrap_or_default())
        .collect())
}

/// What a rendered user is made of besides its row: its groups and its
/// direct roles, each as (reference, name).
pub(super) struct UserParts {
    pub groups: Vec<(String, String)>,
    pub roles: Vec<(String, String)>,
}

/// Renders stored groups, loading members for all of them at once.
pub(super) async fn groups(
    ctx: &ScimCtx,
    rows: &[db::Group],
    projection: &Projection,
) -> Result<Vec<Value>, ScimError> {
    let base = ctx.base();
    // Entra asks with excludedAttributes=members: skip loading them at all.
    if projection.excludes("members") {
        return Ok(rows.iter().map(|g| group_json(&base, g, None)).collect());
    }
    let ids: Vec<String> = rows.iter().map(|g| g.id.clone()).collect();
    let members = db::members_of_groups(&ctx.state.reads, &ids).await?;
    Ok(rows
        .iter()
        .map(|g| {
            group_json(
                &base,
                g,
                Some(members.get(&g.id).map(Vec::as_slice).unwrap_or_default()),
            )
        })
        .collect())
}

/// Renders stored groups as JSON text under `projection`.
pub(super) async fn group_texts(
    ctx: &ScimCtx,
    rows: &[db::Group],
    projection: &Projection,
) -> Result<Vec<Vec<u8>>, ScimError> {
    let rendered = groups(ctx, rows, projection).await?;
    Ok(super::list::texts(
        rendered.into_iter().map(|v| projection.apply(v)),
    ))
}
