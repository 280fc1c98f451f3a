//! `/Users`: create, read, list/search, replace, patch, delete.

use super::error::ScimError;
use super::handlers::{Created, Resource, Written};
use super::query::Projection;
use super::render::UserParts;
use super::resource::{user_input, UserInput};
use super::{check_if_match, schema::ResourceKind, ScimCtx};
use crate::access::RoleRef;
use crate::store::batch::Batch;
use crate::store::{account_write_txn, new_id, scim as db};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

/// The `/Users` resource type.
pub(super) struct Users;

impl Resource for Users {
    const KIND: ResourceKind = ResourceKind::User;
    const PATH: &'static str = "/Users";
    const BULK_ECHO: bool = true;

    async fn read(
        ctx: &ScimCtx,
        id: &str,
        projection: &Projection,
    ) -> Result<(i64, Vec<u8>), ScimError> {
        let (u, parts) = one_with_parts(ctx, id).await?;
        let text = super::resource::user_text(&ctx.base(), &u, &parts.groups, &parts.roles);
        Ok((u.version, projection.apply_text(text)))
    }

    async fn create(ctx: &ScimCtx, body: Value) -> Result<Created, ScimError> {
        let mut input = user_input(body)?;
        // A new user is active unless told otherwise, and says so.
        crate::json::set(&mut input.attributes, "active", Value::Bool(input.active));
        let roles = match &input.roles {
            Some(r) => Some(resolve_roles(ctx, r, &[]).await?),
            None => None,
        };
        let id = new_id();
        let user = crate::store::users::new_row(crate::store::users::NewUser {
            id: id.clone(),
            account_id: ctx.account_id.clone(),
            user_name: input.user_name.clone(),
            email: input.primary_email.clone(),
            external_id: input.external_id.clone(),
            display_name: input.display_name.clone(),
            origin: crate::store::users::Origin::Idp,
            active: input.active,
            attributes: input.attributes.clone(),
            credential: None,
        });
        // Everything the write sends is built before its transaction opens
        // (SQLite has one writer: the less it waits, the more creates pass);
        // then the row, audit event, change-log row and outbox event go in
        // one round trip.
        let journal = ctx.journal(
            ctx.state.db.get_database_backend(),
            "scim.user.create",
            &id,
            json!({"userName": input.user_name, "active": input.active, "roles": roles}),
        );
        let mut write = Batch::new(journal.backend());
        crate::store::users::push_insert(&mut write, &user);
        write.append(journal);
        let state = user_state(&id, &input.user_name, input.active, &input.attributes);
        ctx.event(&mut write, "user.created", &id, state);
        if let Some(r) = &roles {
            db::push_new_user_roles(&mut write, &id, r);
        }
        // The unique index on (account, userName ignoring case) decides: no
        // lookup first, and no race between a lookup and the insert. The
        // row's insert runs first, so its violation is the batch's error.
        // Committed with whatever other creates are in flight.
        match ctx.state.commits.commit(&ctx.state.db, write).await {
            Err(e) if crate::store::is_unique_violation(&e) => {
                return Err(ScimError::uniqueness(format!(
                    "userName {} is already taken",
                    input.user_name
                )))
            }
            other => other?,
        };
        ctx.changed();
        // Rendered from what was just written: a new user has no groups yet.
        let names = named_roles(ctx, roles.unwrap_or_default()).await?;
        let text = super::resource::user_text(&ctx.base(), &user, &[], &names);
        Ok(Created {
            id,
            body: Some(Written {
                version: user.version,
                text,
            }),
        })
    }

    async fn replace(
        ctx: &ScimCtx,
        id: &str,
        body: Value,
        version: Option<String>,
    ) -> Result<Option<Written>, ScimError> {
        modify(ctx, id, version, "scim.user.replace", |current, _| {
            let mut body = body.clone();
            // Okta's wizard apps PUT without `active`: that must not suspend the user.
            if let Value::Object(o) = &mut body {
                if !o.keys().any(|k| k.eq_ignore_ascii_case("active")) {
                    o.insert("active".into(), Value::Bool(current.active));
                }
            }
            user_input(body)
        })
        .await
        .map(Some)
    }

    async fn patch(
        ctx: &ScimCtx,
        id: &str,
        body: Value,
        version: Option<String>,
    ) -> Result<Option<Written>, ScimError> {
        let ops = super::patch_operations(&body)?;
        modify(ctx, id, version, "scim.user.patch", |_, mut v| {
            let had_roles = v.get("roles").is_some();
            super::patch::apply_patch(&mut v, ResourceKind::User, &ops)
                .map_err(super::patch_error)?;
            let mut input = user_input(v)?;
            // Removing `roles` by PATCH removes the direct assignments.
            if had_roles && input.roles.is_none() {
                input.roles = Some(vec![]);
            }
            Ok(input)
        })
        .await
        .map(Some)
    }

    async fn delete(ctx: &ScimCtx, id: &str, version: Option<String>) -> Result<(), ScimError> {
        let (current, _) = one_with_parts(ctx, id).await?;
        refuse_local(&current)?;
        check_if_match(version.as_deref(), &super::etag(current.version))?;
        // Sessions, memberships and direct roles go with the row (foreign keys cascade).
        let txn = account_write_txn(&ctx.state.db, &ctx.account_id).await?;
        db::delete_user(&txn, &current.id).await?;
        let mut journal = ctx.journal(
            txn.get_database_backend(),
            "scim.user.delete",
            &current.id,
            json!({"userName": current.user_name}),
        );
        let gone = json!({"id": current.id, "userName": current.user_name});
        ctx.event(&mut journal, "user.deleted", &current.id, gone);
        journal.run(&txn).await?;
        txn.commit().await?;
        ctx.changed();
        Ok(())
    }
}

/// A user and the parts it is rendered from.
async fn one_with_parts(ctx: &ScimCtx, id: &str) -> Result<(db::User, UserParts), ScimError> {
    // The row and its groups and roles, in one statement.
    let p = crate::store::parted::by_id(&ctx.state.reads, &ctx.account_id, id)
        .await?
        .ok_or_else(|| ScimError::not_found(format!("User {id} not found")))?;
    let parts = super::render::UserParts {
        roles: super::render::role_names(ctx, &p.roles).await?,
        groups: p.groups,
    };
    Ok((p.user, parts))
}

/// Resolves SCIM `roles` values to role references. Only roles the request
/// adds are checked (the built-in Administrator and unassignable roles are
/// refused); roles the user already holds directly pass through, so a write
/// that does not touch them (a deactivation, say) always succeeds.
async fn resolve_roles(
    ctx: &ScimCtx,
    values: &[String],
    held: &[String],
) -> Result<Vec<String>, ScimError> {
    let held: Vec<RoleRef> = held.iter().map(|r| RoleRef::from_stored(r)).collect();
    let acct = ctx.account().await?;
    let mut out = vec![];
    for v in values {
        let r = acct
            .model
            .find_role(v)
            .ok_or_else(|| ScimError::invalid_value(format!("unknown role: {v}")))?;
        if held.contains(&r) {
            if !out.contains(&r) {
                out.push(r);
            }
            continue;
        }
        if r.is_administrator() {
            return Err(ScimError::invalid_value("the built-in Administrator role cannot be assigned through SCIM: administrators sign in locally"));
        }
        acct.model
            .check_assignable(&r)
            .map_err(|e| ScimError::invalid_value(e.to_string()))?;
        if !out.contains(&r) {
            out.push(r);
        }
    }
    Ok(out.iter().map(ToString::to_string).collect())
}

/// Stored role references with their names, as a rendered user shows them.
async fn named_roles(ctx: &ScimCtx, refs: Vec<String>) -> Result<Vec<(String, String)>, ScimError> {
    let acct = ctx.account().await?;
    Ok(refs
        .into_iter()
        .map(|r| {
            let name = acct.model.role_name(&RoleRef::from_stored(&r));
            (r, name)
        })
        .collect())
}

/// Deactivation ends everything the user could still act with: their API
/// keys (every replica drops cached ones) and sessions; returns how many
/// sessions ended.
async fn end_access(
    ctx: &ScimCtx,
    txn: &sea_orm::DatabaseTransaction,
    user_id: &str,
) -> Result<u64, ScimError> {
    crate::store::credentials::revoke_user_api_keys(txn, user_id).await?;
    crate::store::changes::record(
        txn,
        Some(&ctx.account_id),
        crate::store::changes::Change::ApiKeys,
    )
    .await?;
    Ok(crate::store::sessions::revoke_user(txn, user_id).await?)
}

/// The event of a user write: updated, deactivated or reactivated.
fn user_changed(ctx: &ScimCtx, journal: &mut Batch, current: &db::User, input: &UserInput) {
    let state = user_state(
        &current.id,
        &input.user_name,
        input.active,
        &input.attributes,
    );
    let kind = match (current.active, input.active) {
        (true, false) => "user.deactivated",
        (false, true) => "user.reactivated",
        _ => "user.updated",
    };
    ctx.event(journal, kind, &current.id, state);
}

/// A user's new state, as events carry it.
fn user_state(id: &str, user_name: &str, active: bool, attributes: &Value) -> Value {
    json!({"id": id, "userName": user_name, "active": active, "attributes": attributes})
}

fn refuse_local(u: &db::User) -> Result<(), ScimError> {
    if u.origin == crate::store::kinds::Origin::Local {
        return Err(ScimError::mutability(
            "this is the account's break-glass user; it cannot be changed through SCIM",
        ));
    }
    Ok(())
}

/// Stores a validated representation and answers with it, rendered from the
/// row as written (its groups as read before: a user write does not change
/// them); `None` when another write changed the user first.
async fn store(
    ctx: &ScimCtx,
    (current, parts): (&db::User, UserParts),
    input: UserInput,
    action: &str,
) -> Result<Option<Written>, ScimError> {
    let deactivated = current.active && !input.active;
    let renamed = input.user_name.to_lowercase() != current.user_name_norm;
    if input.roles.is_none() && !deactivated && !renamed {
        return store_grouped(ctx, (current, parts), input, action).await;
    }
    let roles = match &input.roles {
        Some(r) => {
            // What the user holds directly, as read together with `current`.
            let held: Vec<String> = parts.roles.iter().map(|(r, _)| r.clone()).collect();
            Some(resolve_roles(ctx, r, &held).await?)
        }
        None => None,
    };
    let txn = account_write_txn(&ctx.state.db, &ctx.account_id).await?;
    if input.user_name.to_lowercase() != current.user_name_norm
        && db::user_by_name(&txn, &ctx.account_id, &input.user_name)
            .await?
            .is_some()
    {
        return Err(ScimError::uniqueness(format!(
            "userName {} is already taken",
            input.user_name
        )));
    }
    // Optimistic: the row must still be the version this write was computed from.
    let fields = fields_of(&input);
    let Some(written) = db::update_user_versioned(&txn, current, fields).await? else {
        return Ok(None);
    };
    if let Some(r) = &roles {
        db::set_user_roles(&txn, &current.id, r).await?;
    }
    let revoked = if deactivated {
        end_access(ctx, &txn, &current.id).await?
    } else {
        0
    };
    let details = json!({"userName": input.user_name, "active": input.active, "roles": roles, "sessions_revoked": revoked});
    let mut journal = ctx.journal(txn.get_database_backend(), action, &current.id, details);
    user_changed(ctx, &mut journal, current, &input);
    journal.run(&txn).await?;
    if roles.is_some() {
        let acct = ctx.account().await?;
        let who = [current.id.clone()];
        crate::store::access_events::emit(&txn, &ctx.state.read, &acct, who, action).await?;
    }
    if deactivated {
        ctx.audit(
            &txn,
            "scim.user.deactivate",
            &current.id,
            json!({"sessions_revoked": revoked}),
        )
        .await?;
    }
    txn.commit().await?;
    ctx.changed();
    if deactivated {
        ctx.state.resolver.forget_api_keys();
    }
    let role_pairs = match roles {
        None => parts.roles,
        Some(refs) => named_roles(ctx, refs).await?,
    };
    Ok(Some(Written {
        version: written.version,
        text: super::resource::user_text(&ctx.base(), &written, &parts.groups, &role_pairs),
    }))
}

/// The stored columns a validated representation writes.
fn fields_of(input: &UserInput) -> db::UserFields<'_> {
    db::UserFields {
        user_name: &input.user_name,
        email: input.primary_email.clone(),
        external_id: input.external_id.clone(),
        display_name: input.display_name.clone(),
        active: input.active,
        attributes: &input.attributes,
    }
}

/// The usual write (attributes only: no roles, userName or deactivation,
/// which need reads or revocations inside a transaction) committed with
/// whatever other writes are in flight. The row changes only while it is
/// still the version read: a guard, whose miss fails the write alone.
async fn store_grouped(
    ctx: &ScimCtx,
    (current, parts): (&db::User, UserParts),
    input: UserInput,
    action: &str,
) -> Result<Option<Written>, ScimError> {
    let backend = ctx.state.db.get_database_backend();
    let fields = fields_of(&input);
    let (update, written) = db::user_update(backend, current, fields);
    let details = json!({"userName": input.user_name, "active": input.active, "roles": null, "sessions_revoked": 0});
    let mut write = ctx.journal(backend, action, &current.id, details);
    write.push_guard(update);
    user_changed(ctx, &mut write, current, &input);
    match ctx.state.commits.commit(&ctx.state.db, write).await {
        Err(sea_orm::DbErr::RecordNotUpdated) => return Ok(None),
        other => other?,
    }
    ctx.changed();
    Ok(Some(Written {
        version: written.version,
        text: super::resource::user_text(&ctx.base(), &written, &parts.groups, &parts.roles),
    }))
}

/// Read, transform, store; recomputed when a concurrent write got in between.
async fn modify(
    ctx: &ScimCtx,
    id: &str,
    version: Option<String>,
    action: &str,
    transform: impl Fn(&db::User, Value) -> Result<UserInput, ScimError>,
) -> Result<Written, ScimError> {
    for attempt in 0..50u64 {
        if attempt > 0 {
            // Back off a little, with jitter, so contending writers take turns.
            let ms = rand::random::<u64>() % (2 + attempt.min(20) * 2);
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        let (current, parts) = one_with_parts(ctx, id).await?;
        refuse_local(&current)?;
        check_if_match(version.as_deref(), &super::etag(current.version))?;
        let v = super::resource::user_json(&ctx.base(), &current, &parts.groups, &parts.roles);
        let input = transform(&current, v)?;
        if let Some(written) = store(ctx, (&current, parts), input, action).await? {
            return Ok(written);
        }
    }
    Err(ScimError::new(
        409,
        None,
        "the user kept changing during this write; retry",
    ))
}
