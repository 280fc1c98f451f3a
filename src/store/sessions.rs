//! Server-side sessions behind the `idbridge_session` cookie.

use crate::secrets;
use crate::store::entities::session;
use crate::store::{new_id, now_ms};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};

pub const COOKIE: &str = "idbridge_session";

pub use session::Model as Session;

/// Creates a session; returns the cookie value (`<id>.<secret>`) and the row.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    user_id: &str,
    amr: &[&str],
    claim_groups: Option<Vec<String>>,
    ttl_secs: i64,
) -> Result<(String, session::Model), DbErr> {
    let id = new_id();
    let secret = secrets::random_token();
    let now = now_ms();
    let m = session::ActiveModel {
        id: Set(id.clone()),
        account_id: Set(account_id.into()),
        user_id: Set(user_id.into()),
        secret_hash: Set(secrets::hash_secret(&secret)),
        amr: Set(serde_json::to_string(amr).unwrap_or_default()),
        claim_groups: Set(claim_groups.map(|g| serde_json::to_string(&g).unwrap_or_default())),
        created_at: Set(now),
        expires_at: Set(now + ttl_secs * 1000),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok((format!("{id}.{secret}"), m))
}

/// The live session a cookie value stands for.
pub async fn lookup<C: ConnectionTrait>(
    db: &C,
    cookie: &str,
) -> Result<Option<session::Model>, DbErr> {
    let Some((id, secret)) = cookie.split_once('.') else {
        return Ok(None);
    };
    let Some(s) = session::Entity::find_by_id(id.to_string()).one(db).await? else {
        return Ok(None);
    };
    let live = s.revoked_at.is_none() && s.expires_at > now_ms();
    Ok((live && secrets::verify_secret(secret, &s.secret_hash)).then_some(s))
}

/// Ends the live sessions matching `which`; how many ended.
async fn end_where<C: ConnectionTrait>(db: &C, which: sea_orm::Condition) -> Result<u64, DbErr> {
    let r = session::Entity::update_many()
        .col_expr(
            session::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(now_ms()),
        )
        .filter(which)
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(r.rows_affected)
}

pub async fn revoke<C: ConnectionTrait>(db: &C, id: &str) -> Result<(), DbErr> {
    end_where(
        db,
        sea_orm::Condition::all().add(session::Column::Id.eq(id)),
    )
    .await?;
    Ok(())
}

/// Ends every session of a user at once (deactivation, deletion).
pub async fn revoke_user<C: ConnectionTrait>(db: &C, user_id: &str) -> Result<u64, DbErr> {
    end_where(
        db,
        sea_orm::Condition::all().add(session::Column::UserId.eq(user_id)),
    )
    .await
}

/// Ends a user's sessions that were started through an IdP (the user just
/// became a built-in Administrator, who signs in locally only).
pub async fn revoke_sso<C: ConnectionTrait>(db: &C, user_id: &str) -> Result<u64, DbErr> {
    end_where(
        db,
        sea_orm::Condition::all()
            .add(session::Column::UserId.eq(user_id))
            .add(session::Column::Amr.contains("\"sso\"")),
    )
    .await
}
