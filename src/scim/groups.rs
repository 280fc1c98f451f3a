//! `/Groups`: membership changes are applied as set operations in one
//! transaction with the group row locked, so concurrent PATCHes lose nothing.

use super::error::ScimError;
use super::handlers::{Created, Resource, Written};
use super::query::Projection;
use super::resource::{group_input, group_json, GroupInput};
use super::{check_if_match, schema::ResourceKind, ScimCtx};
use crate::store::batch::Batch;
use crate::store::{account_write_txn, new_id, scim as db};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The `/Groups` resource type.
pub(super) struct Groups;

impl Resource for Groups {
    const KIND: ResourceKind = ResourceKind::Group;
    const PATH: &'static str = "/Groups";
    const BULK_ECHO: bool = false;

    async fn read(
        ctx: &ScimCtx,
        id: &str,
        projection: &Projection,
    ) -> Result<(i64, Vec<u8>), ScimError> {
        let g = find(ctx, id).await?;
        let version = g.version;
        let text = super::render::group_texts(ctx, &[g], projection)
            .await?
            .pop()
            .ok_or_else(ScimError::internal)?;
        Ok((version, text))
    }

    /// Creates a group; returns its id.
    async fn create(ctx: &ScimCtx, body: Value) -> Result<Created, ScimError> {
        let input = group_input(body)?;
        let id = new_id();
        let txn = account_write_txn(&ctx.state.db, &ctx.account_id).await?;
        unique_name(ctx, &txn, &input.display_name, None).await?;
        let (members, ignored) =
            known_members(ctx, &txn, &input.members.clone().unwrap_or_default()).await?;
        let fields = db::GroupFields {
            display_name: &input.display_name,
            external_id: input.external_id.clone(),
            attributes: &input.attributes,
        };
        db::insert_group(&txn, &id, &ctx.account_id, fields).await?;
        db::add_members(&txn, &id, &members).await?;
        let mut journal = ctx.journal(
            txn.get_database_backend(),
            "scim.group.create",
            &id,
            json!({"displayName": input.display_name, "members_added": members.len(), "ignored_members": ignored}),
        );
        let state = json!({"id": id, "displayName": input.display_name, "members": members});
        ctx.event(&mut journal, "group.created", &id, state);
        journal.run(&txn).await?;
        access_changed(ctx, &txn, &id, members.clone(), "scim.group.create").await?;
        txn.commit().await?;
        ctx.changed();
        Ok(Created { id, body: None })
    }

    async fn replace(
        ctx: &ScimCtx,
        id: &str,
        body: Value,
        version: Option<String>,
    ) -> Result<Option<Written>, ScimError> {
        let input = group_input(body)?;
        let (txn, current, before) = lock(ctx, id, version).await?;
        // A PUT without members replaces them with none (RFC 7644 §3.5.1).
        let input = GroupInput {
            members: Some(input.members.clone().unwrap_or_default()),
            ..input
        };
        store(ctx, txn, &current, input, &before, "scim.group.replace").await?;
        Ok(None)
    }

    async fn patch(
        ctx: &ScimCtx,
        id: &str,
        body: Value,
        version: Option<String>,
    ) -> Result<Option<Written>, ScimError> {
        let ops = super::patch_operations(&body)?;
        let (txn, current, before) = lock(ctx, id, version).await?;
        let members: Vec<String> = before.iter().cloned().collect();
        let mut v = group_json(&ctx.base(), &current, Some(&members));
        super::patch::apply_patch(&mut v, ResourceKind::Group, &ops).map_err(super::patch_error)?;
        let mut input = group_input(v)?;
        input.members = Some(input.members.unwrap_or_default());
        store(ctx, txn, &current, input, &before, "scim.group.patch").await?;
        Ok(None)
    }

    async fn delete(ctx: &ScimCtx, id: &str, version: Option<String>) -> Result<(), ScimError> {
        let g = find(ctx, id).await?;
        check_if_match(version.as_deref(), &super::etag(g.version))?;
        let txn = account_write_txn(&ctx.state.db, &ctx.account_id).await?;
        let members = db::member_ids(&txn, &g.id).await?;
        let mapped = crate::store::model::group_is_mapped(&txn, &ctx.account_id, &[&g]).await?;
        db::delete_group(&txn, &g.id).await?;
        let mut journal = ctx.journal(
            txn.get_database_backend(),
            "scim.group.delete",
            &g.id,
            json!({"displayName": g.display_name}),
        );
        let gone = json!({"id": g.id, "displayName": g.display_name});
        ctx.event(&mut journal, "group.deleted", &g.id, gone);
        journal.run(&txn).await?;
        if mapped {
            access_changed(ctx, &txn, "", members, "scim.group.delete").await?;
        }
        txn.commit().await?;
        ctx.changed();
        Ok(())
    }
}

async fn find(ctx: &ScimCtx, id: &str) -> Result<db::Group, ScimError> {
    db::group(&ctx.state.reads, &ctx.account_id, id)
        .await?
        .ok_or_else(|| ScimError::not_found(format!("Group {id} not found")))
}

/// Splits member ids into users of the account and unknown ids. Unknown ids
/// are skipped (and audited), not refused: a user whose provisioning failed
/// must not make the whole group update fail (Entra quarantines apps that
/// keep failing), and ids are ours, so an unknown one can never become valid.
async fn known_members(
    ctx: &ScimCtx,
    txn: &DatabaseTransaction,
    ids: &[String],
) -> Result<(Vec<String>, Vec<String>), ScimError> {
    if ids.is_empty() {
        return Ok((vec![], vec![]));
    }
    let found = db::existing_users(txn, &ctx.account_id, ids).await?;
    Ok(ids.iter().cloned().partition(|i| found.contains(i)))
}

/// Group displayNames are unique per account ignoring case (Entra's
/// validator expects 409 `uniqueness`, and `displayName eq` lookups must
/// find one group).
async fn unique_name(
    ctx: &ScimCtx,
    txn: &DatabaseTransaction,
    display_name: &str,
    except: Option<&str>,
) -> Result<(), ScimError> {
    if db::other_group_named(txn, &ctx.account_id, display_name, except).await? {
        return Err(ScimError::uniqueness(format!(
            "a group named {display_name:?} already exists"
        )));
    }
    Ok(())
}

/// Writes the group's own attributes and the membership difference.
async fn store(
    ctx: &ScimCtx,
    txn: DatabaseTransaction,
    current: &db::Group,
    input: GroupInput,
    before: &BTreeSet<String>,
    action: &str,
) -> Result<(), ScimError> {
    let (added, removed): (Vec<String>, Vec<String>) = match &input.members {
        None => (vec![], vec![]),
        Some(after) => {
            let after: BTreeSet<String> = after.iter().cloned().collect();
            (
                after.difference(before).cloned().collect(),
                before.difference(&after).cloned().collect(),
            )
        }
    };
    if input.display_name.to_lowercase() != current.display_name_norm {
        unique_name(ctx, &txn, &input.display_name, Some(&current.id)).await?;
    }
    let (added, ignored) = known_members(ctx, &txn, &added).await?;
    let fields = db::GroupFields {
        display_name: &input.display_name,
        external_id: input.external_id.clone(),
        attributes: &input.attributes,
    };
    db::update_group(&txn, current, fields).await?;
    db::add_members(&txn, &current.id, &added).await?;
    db::remove_members(&txn, &current.id, &removed).await?;
    let details = json!({"displayName": input.display_name, "members_added": added, "members_removed": removed, "ignored_members": ignored});
    let journal = ctx.journal(txn.get_database_backend(), action, &current.id, details);
    let changes = (&added[..], &removed[..]);
    group_events(ctx, &txn, journal, current, &input.display_name, changes).await?;
    // A rename can change what mappings match: every member, before and after.
    let was_mapped =
        crate::store::model::group_is_mapped(&txn, &ctx.account_id, &[current]).await?;
    if was_mapped || current.display_name != input.display_name {
        let touched = before.iter().cloned().chain(added.iter().cloned());
        access_changed(ctx, &txn, &current.id, touched.collect(), action).await?;
    }
    txn.commit().await?;
    ctx.changed();
    Ok(())
}

/// `user.access_changed` for the users a group write touches.
/// Only when a mapping matches the group (as it is after the write, given
/// by id; or as it was, checked by the caller): otherwise memberships give
/// no roles and access cannot change, which keeps big unmapped groups cheap.
async fn access_changed(
    ctx: &ScimCtx,
    txn: &DatabaseTransaction,
    group_id: &str,
    users: Vec<String>,
    cause: &str,
) -> Result<(), ScimError> {
    if !group_id.is_empty() {
        let Some(now) = db::group(txn, &ctx.account_id, group_id).await? else {
            return Ok(());
        };
        if !crate::store::model::group_is_mapped(txn, &ctx.account_id, &[&now]).await? {
            return Ok(());
        }
    }
    let acct = ctx.account().await?;
    crate::store::access_events::emit(txn, &ctx.state.read, &acct, users, cause).await?;
    Ok(())
}

/// Runs a write's journal with the events of a group write added: a
/// rename, and each membership added or removed (many rows per statement:
/// a PATCH adding 10k members is 10k events).
async fn group_events(
    ctx: &ScimCtx,
    txn: &DatabaseTransaction,
    mut journal: Batch,
    current: &db::Group,
    name: &str,
    (added, removed): (&[String], &[String]),
) -> Result<(), ScimError> {
    if current.display_name != name {
        let d = json!({"id": current.id, "displayName": name, "previous": current.display_name});
        ctx.event(&mut journal, "group.renamed", &current.id, d);
    }
    let members: Vec<(&str, &str, Value)> = added
        .iter()
        .map(|u| ("group.member_added", u))
        .chain(removed.iter().map(|u| ("group.member_removed", u)))
        .map(|(kind, u)| {
            let d = json!({"group": current.id, "displayName": name, "user": u});
            (kind, current.id.as_str(), d)
        })
        .collect();
    crate::store::events::push_many(&mut journal, &ctx.account_id, members);
    Ok(journal.run(txn).await?)
}

/// Opens the write transaction with the group row locked and checks the
/// version; returns the group and its members before the change.
async fn lock(
    ctx: &ScimCtx,
    id: &str,
    version: Option<String>,
) -> Result<(DatabaseTransaction, db::Group, BTreeSet<String>), ScimError> {
    let txn = account_write_txn(&ctx.state.db, &ctx.account_id).await?;
    let current = db::group_for_update(&txn, &ctx.account_id, id)
        .await?
        .ok_or_else(|| ScimError::not_found(format!("Group {id} not found")))?;
    check_if_match(version.as_deref(), &super::etag(current.version))?;
    let before = db::member_ids(&txn, &current.id)
        .await?
        .into_iter()
        .collect();
    Ok((txn, current, before))
}
