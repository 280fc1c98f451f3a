//! Environments of an account and the roles that reach each.

use super::entities::*;
use super::kinds::Classification;
use super::now_ms;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};

/// An environment with the role references assigned to it.
pub struct EnvironmentRow {
    pub id: String,
    pub name: String,
    pub classification: Classification,
    pub roles: Vec<String>,
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
) -> Result<Vec<EnvironmentRow>, DbErr> {
    let envs = environment::Entity::find()
        .filter(environment::Column::AccountId.eq(account_id))
        .all(db)
        .await?;
    let ids: Vec<String> = envs.iter().map(|e| e.id.clone()).collect();
    let roles = environment_role::Entity::find()
        .filter(environment_role::Column::EnvironmentId.is_in(ids))
        .all(db)
        .await?;
    Ok(envs
        .into_iter()
        .map(|e| EnvironmentRow {
            roles: roles
                .iter()
                .filter(|r| r.environment_id == e.id)
                .map(|r| r.role_ref.clone())
                .collect(),
            id: e.id,
            name: e.name,
            classification: e.classification,
        })
        .collect())
}

/// Inserts (`is_new`) or replaces an environment and its roles.
pub async fn save<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    env: &EnvironmentRow,
    is_new: bool,
) -> Result<(), DbErr> {
    let am = environment::ActiveModel {
        id: Set(env.id.clone()),
        account_id: Set(account_id.into()),
        name: Set(env.name.trim().into()),
        name_norm: Set(env.name.trim().to_lowercase()),
        classification: Set(env.classification),
        created_at: if is_new {
            Set(now_ms())
        } else {
            sea_orm::ActiveValue::NotSet
        },
    };
    if is_new {
        am.insert(db).await?;
    } else {
        am.update(db).await?;
        environment_role::Entity::delete_many()
            .filter(environment_role::Column::EnvironmentId.eq(&env.id))
            .exec(db)
            .await?;
    }
    let mut seen = std::collections::BTreeSet::new();
    for r in env.roles.iter().filter(|r| seen.insert(r.as_str())) {
        environment_role::ActiveModel {
            environment_id: Set(env.id.clone()),
            role_ref: Set(r.clone()),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

pub async fn delete<C: ConnectionTrait>(db: &C, id: &str) -> Result<(), DbErr> {
    environment::Entity::delete_by_id(id.to_string())
        .exec(db)
        .await?;
    Ok(())
}
