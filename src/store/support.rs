//! Support access: time-boxed grants an account's administrators give the
//! platform's support staff.

use super::entities::support_grant;
use super::{new_id, now_ms};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};

pub use support_grant::Model as SupportGrant;

/// A grant as an administrator gives it.
pub struct NewGrant {
    pub account_id: String,
    pub role_ref: String,
    /// Environment ids the grant is narrowed to; `None` for wherever the role reaches.
    pub environments: Option<Vec<String>>,
    pub ends_at: i64,
    pub granted_by: String,
}

pub async fn insert<C: ConnectionTrait>(db: &C, g: NewGrant) -> Result<SupportGrant, DbErr> {
    support_grant::ActiveModel {
        id: Set(new_id()),
        account_id: Set(g.account_id),
        role_ref: Set(g.role_ref),
        environments: Set(g.environments.map(|e| serde_json::json!(e).to_string())),
        starts_at: Set(now_ms()),
        ends_at: Set(g.ends_at),
        granted_by: Set(g.granted_by),
        disabled_at: Set(None),
        disabled_by: Set(None),
    }
    .insert(db)
    .await
}

/// Every grant of the account, newest first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
) -> Result<Vec<SupportGrant>, DbErr> {
    support_grant::Entity::find()
        .filter(support_grant::Column::AccountId.eq(account_id))
        .order_by_desc(support_grant::Column::StartsAt)
        .all(db)
        .await
}

/// The grants in force at `now`: started, not ended, not disabled.
pub async fn live<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    now: i64,
) -> Result<Vec<SupportGrant>, DbErr> {
    support_grant::Entity::find()
        .filter(support_grant::Column::AccountId.eq(account_id))
        .filter(support_grant::Column::DisabledAt.is_null())
        .filter(support_grant::Column::StartsAt.lte(now))
        .filter(support_grant::Column::EndsAt.gt(now))
        .all(db)
        .await
}

/// Ends a grant in force; false when there is none by that id.
pub async fn disable<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    id: &str,
    by: &str,
) -> Result<bool, DbErr> {
    let now = now_ms();
    let r = support_grant::Entity::update_many()
        .col_expr(
            support_grant::Column::DisabledAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .col_expr(
            support_grant::Column::DisabledBy,
            sea_orm::sea_query::Expr::value(by),
        )
        .filter(support_grant::Column::Id.eq(id))
        .filter(support_grant::Column::AccountId.eq(account_id))
        .filter(support_grant::Column::DisabledAt.is_null())
        .filter(support_grant::Column::EndsAt.gt(now))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

impl support_grant::Model {
    /// The narrowing; an unreadable one is an error, never "everywhere".
    pub fn environment_ids(&self) -> Result<Option<Vec<String>>, DbErr> {
        match self.environments.as_deref() {
            None => Ok(None),
            Some(s) => serde_json::from_str(s).map(Some).map_err(|e| {
                DbErr::Custom(format!(
                    "support grant {}: unreadable environments: {e}",
                    self.id
                ))
            }),
        }
    }

    pub fn is_live(&self, now: i64) -> bool {
        self.disabled_at.is_none() && self.starts_at <= now && now < self.ends_at
    }
}
