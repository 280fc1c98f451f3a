//! Access from outside an account: the platform's support staff under a
//! live support grant, and parent-account users through account groups.
//! Both are computed from current rows on every use, never copied: a grant
//! that ends or a role that is removed stops applying at once.

use super::entities::user;
use super::{account_groups, platform, support};
use crate::access::{AccountModel, EnvId, Grant, RoleRef, Via};
use sea_orm::{ConnectionTrait, DbErr};

/// What `user` (of another account) holds in the account `target_id`.
pub async fn grants<C: ConnectionTrait>(
    db: &C,
    target: &AccountModel,
    target_id: &str,
    user: &user::Model,
    now: i64,
) -> Result<Vec<Grant>, DbErr> {
    if user.account_id == target_id || !user.active {
        return Ok(vec![]);
    }
    let mut out = vec![];
    let support_account = platform::get(db, platform::SUPPORT_ACCOUNT).await?;
    if support_account.as_deref() == Some(user.account_id.as_str()) {
        for g in support::live(db, target_id, now).await? {
            out.push(Grant {
                role: RoleRef::from_stored(&g.role_ref),
                via: Via::Support {
                    grant: g.id.clone(),
                },
                environments: g
                    .environment_ids()?
                    .map(|ids| ids.into_iter().map(EnvId).collect()),
            });
        }
    }
    let groups: Vec<_> = linked_groups(db, target_id)
        .await?
        .into_iter()
        .filter(|v| v.group.parent_account_id == user.account_id)
        .collect();
    if groups.iter().any(|v| !v.roles.is_empty()) {
        let member_of = account_groups::groups_of(db, user).await?;
        for v in &groups {
            for r in v.roles.iter().filter(|r| r.covers(user, &member_of)) {
                // Environments are named: each child has its own ids.
                let environments = r.environment_names()?.map(|names| {
                    names
                        .iter()
                        .filter_map(|n| target.find_environment(n).map(|e| e.id.clone()))
                        .collect()
                });
                out.push(Grant {
                    role: RoleRef::from_stored(&r.role_ref),
                    via: Via::AccountGroup {
                        group: v.group.name.clone(),
                        parent_account: v.group.parent_account_id.clone(),
                    },
                    environments,
                });
            }
        }
    }
    // A role the account's features do not allow does not apply here, and
    // the built-in Administrator never comes from outside.
    out.retain(|g| {
        !target.is_or_inherits_administrator(&g.role) && target.check_assignable(&g.role).is_ok()
    });
    Ok(out)
}

/// The account groups containing `child_id` whose parent the child has
/// accepted (`PUT /accounts/{child}/parent`): a parent the child did not
/// accept, or no longer accepts, reaches nothing.
async fn linked_groups<C: ConnectionTrait>(
    db: &C,
    child_id: &str,
) -> Result<Vec<account_groups::GroupView>, DbErr> {
    let Some(parent) = super::model::account(db, child_id)
        .await?
        .and_then(|a| a.parent_account_id)
    else {
        return Ok(vec![]);
    };
    Ok(account_groups::containing(db, child_id)
        .await?
        .into_iter()
        .filter(|v| v.group.parent_account_id == parent)
        .collect())
}

/// The accounts whose users may reach `target_id` from outside now: the
/// support account while a grant is live, and parents of its account groups.
pub async fn outside_accounts<C: ConnectionTrait>(
    db: &C,
    target_id: &str,
    now: i64,
) -> Result<Vec<String>, DbErr> {
    let mut out = vec![];
    if let Some(s) = platform::get(db, platform::SUPPORT_ACCOUNT).await? {
        if s != target_id && !support::live(db, target_id, now).await?.is_empty() {
            out.push(s);
        }
    }
    for v in linked_groups(db, target_id).await? {
        if !out.contains(&v.group.parent_account_id) {
            out.push(v.group.parent_account_id);
        }
    }
    Ok(out)
}

/// Parent-account users holding roles in `child_id` through account
/// groups, with what they hold there.
pub async fn inherited_users<C: ConnectionTrait>(
    db: &C,
    child: &AccountModel,
    child_id: &str,
    now: i64,
) -> Result<Vec<(user::Model, crate::access::Access)>, DbErr> {
    use super::entities::{group, group_member};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let mut ids: Vec<String> = vec![];
    for v in linked_groups(db, child_id).await? {
        let parent_groups = group::Entity::find()
            .filter(group::Column::AccountId.eq(&v.group.parent_account_id))
            .all(db)
            .await?;
        for r in &v.roles {
            if let Some(u) = &r.user_id {
                ids.push(u.clone());
                continue;
            }
            let matching: Vec<String> = parent_groups
                .iter()
                .filter(|g| r.covers_group(g))
                .map(|g| g.id.clone())
                .collect();
            if matching.is_empty() {
                continue;
            }
            ids.extend(
                group_member::Entity::find()
                    .filter(group_member::Column::GroupId.is_in(matching))
                    .all(db)
                    .await?
                    .into_iter()
                    .map(|m| m.user_id),
            );
        }
    }
    ids.sort();
    ids.dedup();
    let mut out = vec![];
    for u in user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
    {
        let g = grants(db, child, child_id, &u, now).await?;
        if !g.is_empty() {
            out.push((u, child.resolve(&g)));
        }
    }
    Ok(out)
}
