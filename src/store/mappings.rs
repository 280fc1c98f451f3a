//! Group-to-role mappings (reading them for decisions is in `model`).

use super::entities::*;
use super::kinds::MatchKind;
use super::now_ms;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Set};

pub use group_mapping::Model as Mapping;
pub use group_mapping_role::Model as MappingRole;

/// A mapping as written: which group it matches and the roles it grants,
/// optionally only in some environments.
pub struct MappingRow {
    pub id: String,
    pub account_id: String,
    pub match_kind: MatchKind,
    pub match_value: String,
    pub roles: Vec<String>,
    pub environments: Option<Vec<String>>,
}

pub async fn insert<C: ConnectionTrait>(db: &C, m: MappingRow) -> Result<(), DbErr> {
    // Display names match ignoring case; ids as given.
    let norm = if m.match_kind == MatchKind::DisplayName {
        m.match_value.to_lowercase()
    } else {
        m.match_value.clone()
    };
    group_mapping::ActiveModel {
        id: Set(m.id.clone()),
        account_id: Set(m.account_id),
        match_kind: Set(m.match_kind),
        match_value: Set(m.match_value),
        match_value_norm: Set(norm),
        created_at: Set(now_ms()),
    }
    .insert(db)
    .await?;
    let envs = m
        .environments
        .as_ref()
        .map(|e| serde_json::json!(e).to_string());
    for r in m.roles {
        group_mapping_role::ActiveModel {
            mapping_id: Set(m.id.clone()),
            role_ref: Set(r),
            environments: Set(envs.clone()),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

pub async fn delete<C: ConnectionTrait>(db: &C, id: &str) -> Result<(), DbErr> {
    group_mapping::Entity::delete_by_id(id.to_string())
        .exec(db)
        .await?;
    Ok(())
}
