//! Platform-wide settings, one row each.

use super::entities::platform_setting;
use super::now_ms;
use sea_orm::{sea_query::OnConflict, ConnectionTrait, DbErr, EntityTrait, Set};

/// The account whose users are the platform's support staff.
pub const SUPPORT_ACCOUNT: &str = "support_account";

pub async fn get<C: ConnectionTrait>(db: &C, name: &str) -> Result<Option<String>, DbErr> {
    Ok(platform_setting::Entity::find_by_id(name.to_string())
        .one(db)
        .await?
        .map(|s| s.value))
}

pub async fn set<C: ConnectionTrait>(db: &C, name: &str, value: &str) -> Result<(), DbErr> {
    platform_setting::Entity::insert(platform_setting::ActiveModel {
        name: Set(name.into()),
        value: Set(value.into()),
        updated_at: Set(now_ms()),
    })
    .on_conflict(
        OnConflict::column(platform_setting::Column::Name)
            .update_columns([
                platform_setting::Column::Value,
                platform_setting::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}
