//! Pending OIDC sign-ins: one row per `state`, stored by hash, single use.

use super::entities::oidc_state;
use super::now_ms;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, Set,
};

pub use oidc_state::Model as PendingSignIn;

/// Sign-ins of the account started and not yet finished or expired.
pub async fn pending<C: ConnectionTrait>(db: &C, account_id: &str) -> Result<u64, DbErr> {
    oidc_state::Entity::find()
        .filter(oidc_state::Column::AccountId.eq(account_id))
        .filter(oidc_state::Column::ExpiresAt.gt(now_ms()))
        .count(db)
        .await
}

pub async fn insert<C: ConnectionTrait>(db: &C, row: PendingSignIn) -> Result<(), DbErr> {
    oidc_state::ActiveModel {
        id: Set(row.id),
        account_id: Set(row.account_id),
        browser_hash: Set(row.browser_hash),
        nonce: Set(row.nonce),
        pkce_verifier: Set(row.pkce_verifier),
        return_to: Set(row.return_to),
        expires_at: Set(row.expires_at),
        connection_id: Set(row.connection_id),
        test: Set(row.test),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Expired rows go (swept on new sign-ins rather than by a timer).
pub async fn sweep<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    oidc_state::Entity::delete_many()
        .filter(oidc_state::Column::ExpiresAt.lt(now_ms()))
        .exec(db)
        .await?;
    Ok(())
}

/// Removes and returns the row with this id hash. `Some((row, true))` only
/// for the one caller whose delete took it: a replayed state loses the race.
pub async fn take<C: ConnectionTrait>(
    db: &C,
    id_hash: &str,
) -> Result<Option<(PendingSignIn, bool)>, DbErr> {
    let Some(row) = oidc_state::Entity::find_by_id(id_hash.to_string())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let gone = oidc_state::Entity::delete_many()
        .filter(oidc_state::Column::Id.eq(id_hash))
        .exec(db)
        .await?;
    Ok(Some((row, gone.rows_affected == 1)))
}
