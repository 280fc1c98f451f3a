//! `user.access_changed`: what a change did to people's access, computed in
//! the change's own transaction (after) against the committed state (before),
//! with the same resolution `/authorize` uses, and written with the change.

use crate::access::{Access, AccountModel, Via};
use crate::catalog::Family;
use crate::resolver::CachedAccount;
use crate::store::{events, model};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use serde_json::json;
use std::collections::BTreeSet;

/// Past this many users, a change to the whole account's model is announced
/// once (`account.access_model_changed`) instead of user by user.
pub const PER_USER_LIMIT: usize = 5_000;

fn resolve(
    model: &AccountModel,
    scim_group_roles: bool,
    mut grants: Vec<crate::access::Grant>,
) -> Access {
    if !scim_group_roles {
        grants.retain(|g| !matches!(g.via, Via::Group { .. }));
    }
    model.resolve(&grants)
}

fn summary(model: &AccountModel, a: &Access) -> (BTreeSet<String>, BTreeSet<String>) {
    let roles = a
        .role_names(Family::Platform)
        .into_iter()
        .chain(a.role_names(Family::AgentGarden))
        .collect();
    let privs = model
        .usable_privileges(a)
        .into_iter()
        .map(String::from)
        .collect();
    (roles, privs)
}

/// Emits an event for each of `users` whose roles or usable privileges the
/// transaction changes. `before` is the committed state (a read outside the
/// transaction); `txn` holds the change.
pub async fn emit<C: ConnectionTrait>(
    txn: &C,
    before: &DatabaseConnection,
    acct: &CachedAccount,
    users: impl IntoIterator<Item = String>,
    cause: &str,
) -> Result<(), DbErr> {
    let id = acct.account.id.as_str();
    let Some(row) = model::account(txn, id).await? else {
        return Ok(());
    };
    let after_model = model::account_model(txn, &row).await?;
    let after_scim = crate::store::connections::scim_group_roles(txn, id).await?;
    let users: BTreeSet<String> = users.into_iter().collect();
    if users.len() > PER_USER_LIMIT {
        let d = json!({"cause": cause, "users": users.len(), "note": "too many users to list each change; re-read access with /authorize or the access explanation"});
        return events::emit(txn, id, "account.access_model_changed", id, d).await;
    }
    for u in users {
        let was = acct.access(model::user_grants(before, id, &u, None).await?);
        let now = resolve(
            &after_model,
            after_scim,
            model::user_grants(txn, id, &u, None).await?,
        );
        let (r0, p0) = summary(&acct.model, &was);
        let (r1, p1) = summary(&after_model, &now);
        if (r0.clone(), p0.clone()) == (r1.clone(), p1.clone()) {
            continue;
        }
        let d = json!({
            "user": u, "cause": cause,
            "gained_roles": r1.difference(&r0).collect::<Vec<_>>(), "lost_roles": r0.difference(&r1).collect::<Vec<_>>(),
            "gained_privileges": p1.difference(&p0).collect::<Vec<_>>(), "lost_privileges": p0.difference(&p1).collect::<Vec<_>>(),
            "roles": r1, "privileges": p1,
        });
        events::emit(txn, id, "user.access_changed", &u, d).await?;
    }
    Ok(())
}

/// For changes to the account's model (a custom role, a feature, scoping):
/// every user, or one account-wide event past [`PER_USER_LIMIT`].
pub async fn emit_for_account<C: ConnectionTrait>(
    txn: &C,
    before: &DatabaseConnection,
    acct: &CachedAccount,
    cause: &str,
) -> Result<(), DbErr> {
    let id = acct.account.id.as_str();
    let all = model::user_ids(before, id, PER_USER_LIMIT + 1).await?;
    if all.len() > PER_USER_LIMIT {
        let d = json!({"cause": cause, "note": "too many users to list each change; re-read access with /authorize or the access explanation"});
        return events::emit(txn, id, "account.access_model_changed", id, d).await;
    }
    emit(txn, before, acct, all, cause).await
}
