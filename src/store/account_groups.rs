//! Account groups: a parent account groups child accounts and gives its own
//! users roles that apply in every child (directly, or through the parent's
//! SCIM groups, i.e. its IdP's group mappings).

use super::entities::*;
use super::kinds::MatchKind;
use super::{new_id, now_ms};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};

pub use account_group::Model as AccountGroup;
pub use account_group_role::Model as GroupRole;

/// A group with its child accounts and role assignments.
pub struct GroupView {
    pub group: AccountGroup,
    pub children: Vec<String>,
    pub roles: Vec<GroupRole>,
}

pub async fn create<C: ConnectionTrait>(
    db: &C,
    parent: &str,
    name: &str,
) -> Result<AccountGroup, DbErr> {
    account_group::ActiveModel {
        id: Set(new_id()),
        parent_account_id: Set(parent.into()),
        name: Set(name.trim().into()),
        name_norm: Set(name.trim().to_lowercase()),
        created_at: Set(now_ms()),
    }
    .insert(db)
    .await
}

pub async fn named<C: ConnectionTrait>(
    db: &C,
    parent: &str,
    name: &str,
) -> Result<Option<AccountGroup>, DbErr> {
    account_group::Entity::find()
        .filter(account_group::Column::ParentAccountId.eq(parent))
        .filter(account_group::Column::NameNorm.eq(name.trim().to_lowercase()))
        .one(db)
        .await
}

/// A group of the parent by id or name.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    parent: &str,
    id_or_name: &str,
) -> Result<Option<AccountGroup>, DbErr> {
    let by_id = account_group::Entity::find_by_id(id_or_name.to_string())
        .filter(account_group::Column::ParentAccountId.eq(parent))
        .one(db)
        .await?;
    match by_id {
        Some(g) => Ok(Some(g)),
        None => named(db, parent, id_or_name).await,
    }
}

pub async fn list<C: ConnectionTrait>(db: &C, parent: &str) -> Result<Vec<GroupView>, DbErr> {
    let groups = account_group::Entity::find()
        .filter(account_group::Column::ParentAccountId.eq(parent))
        .order_by_asc(account_group::Column::CreatedAt)
        .all(db)
        .await?;
    let mut out = vec![];
    for g in groups {
        out.push(view(db, g).await?);
    }
    Ok(out)
}

pub async fn view<C: ConnectionTrait>(db: &C, group: AccountGroup) -> Result<GroupView, DbErr> {
    let children = account_group_member::Entity::find()
        .filter(account_group_member::Column::GroupId.eq(&group.id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.account_id)
        .collect();
    let roles = account_group_role::Entity::find()
        .filter(account_group_role::Column::GroupId.eq(&group.id))
        .order_by_asc(account_group_role::Column::CreatedAt)
        .all(db)
        .await?;
    Ok(GroupView {
        group,
        children,
        roles,
    })
}

pub async fn delete<C: ConnectionTrait>(db: &C, id: &str) -> Result<(), DbErr> {
    account_group::Entity::delete_by_id(id.to_string())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn add_child<C: ConnectionTrait>(db: &C, group: &str, child: &str) -> Result<(), DbErr> {
    let exists = account_group_member::Entity::find_by_id((group.to_string(), child.to_string()))
        .one(db)
        .await?
        .is_some();
    if !exists {
        account_group_member::ActiveModel {
            group_id: Set(group.into()),
            account_id: Set(child.into()),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

pub async fn remove_child<C: ConnectionTrait>(
    db: &C,
    group: &str,
    child: &str,
) -> Result<bool, DbErr> {
    let r = account_group_member::Entity::delete_by_id((group.to_string(), child.to_string()))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Who a role assignment is for: one parent user, or the members of the
/// parent's SCIM groups matching a group reference.
pub enum Subject {
    User(String),
    Group(MatchKind, String),
}

pub struct NewGroupRole {
    pub group_id: String,
    pub subject: Subject,
    pub roles: Vec<String>,
    /// Environment names, looked up in each child.
    pub environments: Option<Vec<String>>,
}

/// Stores one assignment row per role; returns their ids.
pub async fn assign<C: ConnectionTrait>(db: &C, a: NewGroupRole) -> Result<Vec<String>, DbErr> {
    let (user_id, kind, value, norm) = match a.subject {
        Subject::User(u) => (Some(u), None, None, None),
        Subject::Group(k, v) => {
            let norm = if k == MatchKind::DisplayName {
                v.to_lowercase()
            } else {
                v.clone()
            };
            (None, Some(k), Some(v), Some(norm))
        }
    };
    let envs = a.environments.map(|e| serde_json::json!(e).to_string());
    let mut ids = vec![];
    for role in a.roles {
        let id = new_id();
        account_group_role::ActiveModel {
            id: Set(id.clone()),
            group_id: Set(a.group_id.clone()),
            user_id: Set(user_id.clone()),
            match_kind: Set(kind),
            match_value: Set(value.clone()),
            match_value_norm: Set(norm.clone()),
            role_ref: Set(role),
            environments: Set(envs.clone()),
            created_at: Set(now_ms()),
        }
        .insert(db)
        .await?;
        ids.push(id);
    }
    Ok(ids)
}

pub async fn unassign<C: ConnectionTrait>(
    db: &C,
    group: &str,
    assignment: &str,
) -> Result<bool, DbErr> {
    let r = account_group_role::Entity::delete_many()
        .filter(account_group_role::Column::Id.eq(assignment))
        .filter(account_group_role::Column::GroupId.eq(group))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

/// The groups (with their roles) that contain `child`, of any parent.
pub async fn containing<C: ConnectionTrait>(db: &C, child: &str) -> Result<Vec<GroupView>, DbErr> {
    let ids: Vec<String> = account_group_member::Entity::find()
        .filter(account_group_member::Column::AccountId.eq(child))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.group_id)
        .collect();
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let groups = account_group::Entity::find()
        .filter(account_group::Column::Id.is_in(ids))
        .all(db)
        .await?;
    let mut out = vec![];
    for g in groups {
        out.push(view(db, g).await?);
    }
    Ok(out)
}

impl account_group_role::Model {
    /// Whether this assignment covers `user`, who is a member of `groups`.
    pub fn covers(&self, user: &user::Model, groups: &[group::Model]) -> bool {
        if let Some(u) = &self.user_id {
            return *u == user.id;
        }
        groups.iter().any(|g| self.covers_group(g))
    }

    /// Whether this assignment names the SCIM group `g` (of the parent;
    /// never when it names a user).
    pub fn covers_group(&self, g: &group::Model) -> bool {
        let (Some(kind), Some(value), Some(norm)) =
            (self.match_kind, &self.match_value, &self.match_value_norm)
        else {
            return false;
        };
        match kind {
            MatchKind::DisplayName => g.display_name_norm == *norm,
            MatchKind::ExternalId => g.external_id.as_deref() == Some(value.as_str()),
            MatchKind::Id => g.id == *value,
        }
    }

    /// Environment names; unreadable is an error, never "everywhere".
    pub fn environment_names(&self) -> Result<Option<Vec<String>>, DbErr> {
        match self.environments.as_deref() {
            None => Ok(None),
            Some(s) => serde_json::from_str(s).map(Some).map_err(|e| {
                DbErr::Custom(format!(
                    "account group role {}: unreadable environments: {e}",
                    self.id
                ))
            }),
        }
    }
}

/// The SCIM groups `user` belongs to in their own account.
pub async fn groups_of<C: ConnectionTrait>(
    db: &C,
    user: &user::Model,
) -> Result<Vec<group::Model>, DbErr> {
    let ids: Vec<String> = group_member::Entity::find()
        .filter(group_member::Column::UserId.eq(&user.id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.group_id)
        .collect();
    if ids.is_empty() {
        return Ok(vec![]);
    }
    group::Entity::find()
        .filter(group::Column::Id.is_in(ids))
        .filter(group::Column::AccountId.eq(&user.account_id))
        .all(db)
        .await
}
