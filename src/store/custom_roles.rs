//! Custom roles of an account: rows, their own privileges, deletion with the
//! references role keys hold (built-in roles live in code, so role references
//! are not foreign keys).

use super::entities::*;
use super::now_ms;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};
use std::collections::{BTreeSet, HashMap};

/// A custom role as written.
pub struct RoleRow<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub name: &'a str,
    pub inherits: Option<String>,
    pub description: Option<String>,
    pub privileges: &'a BTreeSet<&'static str>,
}

/// Inserts (`is_new`) or replaces a custom role and its own privileges.
pub async fn save<C: ConnectionTrait>(db: &C, r: RoleRow<'_>, is_new: bool) -> Result<(), DbErr> {
    let now = now_ms();
    let am = custom_role::ActiveModel {
        id: Set(r.id.into()),
        account_id: Set(r.account_id.into()),
        name: Set(r.name.trim().into()),
        name_norm: Set(r.name.trim().to_lowercase()),
        inherits: Set(r.inherits),
        description: Set(r.description),
        created_at: if is_new {
            Set(now)
        } else {
            sea_orm::ActiveValue::NotSet
        },
        updated_at: Set(now),
    };
    if is_new {
        am.insert(db).await?;
    } else {
        am.update(db).await?;
        custom_role_privilege::Entity::delete_many()
            .filter(custom_role_privilege::Column::RoleId.eq(r.id))
            .exec(db)
            .await?;
    }
    for p in r.privileges {
        custom_role_privilege::ActiveModel {
            role_id: Set(r.id.into()),
            privilege: Set(p.to_string()),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// Deletes a custom role and every assignment, environment grant and
/// group-mapping grant of it.
pub async fn delete<C: ConnectionTrait>(db: &C, role_id: &str) -> Result<(), DbErr> {
    user_role::Entity::delete_many()
        .filter(user_role::Column::RoleRef.eq(role_id))
        .exec(db)
        .await?;
    environment_role::Entity::delete_many()
        .filter(environment_role::Column::RoleRef.eq(role_id))
        .exec(db)
        .await?;
    group_mapping_role::Entity::delete_many()
        .filter(group_mapping_role::Column::RoleRef.eq(role_id))
        .exec(db)
        .await?;
    custom_role::Entity::delete_by_id(role_id.to_string())
        .exec(db)
        .await?;
    Ok(())
}

/// Descriptions of the account's custom roles, by role id.
pub async fn descriptions<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
) -> Result<HashMap<String, Option<String>>, DbErr> {
    Ok(custom_role::Entity::find()
        .filter(custom_role::Column::AccountId.eq(account_id))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.id, r.description))
        .collect())
}
