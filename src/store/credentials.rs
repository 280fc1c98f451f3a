//! API keys and SCIM bearer tokens: random, shown once, stored as hashes.

use super::entities::*;
use super::now_ms;
use crate::secrets;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};
use serde::Serialize;

pub const API_KEY_PREFIX: &str = "idbk";
pub const SCIM_TOKEN_PREFIX: &str = "idbs";

#[derive(Debug, Serialize)]
pub struct Issued {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

pub async fn create_api_key<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    user_id: &str,
) -> Result<Issued, DbErr> {
    create_api_key_expiring(db, account_id, user_id, None).await
}

/// An API key acting as `user_id`, expiring after `expires_in_days` if given.
pub async fn create_api_key_expiring<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    user_id: &str,
    expires_in_days: Option<u32>,
) -> Result<Issued, DbErr> {
    insert_api_key(
        db,
        account_id,
        user_id,
        secrets::issue(API_KEY_PREFIX),
        expires_in_days,
    )
    .await
}

/// Stores an issued key (issued first, so its id is known before the write).
pub async fn insert_api_key<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    user_id: &str,
    t: secrets::IssuedToken,
    expires_in_days: Option<u32>,
) -> Result<Issued, DbErr> {
    let now = now_ms();
    api_key::ActiveModel {
        id: Set(t.id.clone()),
        account_id: Set(account_id.into()),
        user_id: Set(user_id.into()),
        secret_hash: Set(t.hash),
        created_at: Set(now),
        revoked_at: Set(None),
        expires_at: Set(expires_in_days.map(|d| now + i64::from(d) * 86_400_000)),
        last_used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(Issued {
        id: t.id,
        key: Some(t.token),
        token: None,
    })
}

/// Returns the live key a presented bearer value stands for.
pub async fn verify_api_key<C: ConnectionTrait>(
    db: &C,
    presented: &str,
) -> Result<Option<api_key::Model>, DbErr> {
    let Some((id, secret)) = secrets::parse(API_KEY_PREFIX, presented) else {
        return Ok(None);
    };
    let Some(k) = api_key::Entity::find_by_id(id.to_string()).one(db).await? else {
        return Ok(None);
    };
    Ok((api_key_live(&k) && secrets::verify_secret(secret, &k.secret_hash)).then_some(k))
}

/// Not revoked and not expired.
pub fn api_key_live(k: &api_key::Model) -> bool {
    k.revoked_at.is_none() && k.expires_at.is_none_or(|e| e > now_ms())
}

/// The account's API keys, optionally only one user's, oldest first.
pub async fn list_api_keys<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    user_id: Option<&str>,
) -> Result<Vec<api_key::Model>, DbErr> {
    let mut q = api_key::Entity::find().filter(api_key::Column::AccountId.eq(account_id));
    if let Some(u) = user_id {
        q = q.filter(api_key::Column::UserId.eq(u));
    }
    q.order_by_asc(api_key::Column::CreatedAt).all(db).await
}

/// Revokes one live key of the account (of `user_id` when given); false when there is none.
pub async fn revoke_api_key<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    id: &str,
    user_id: Option<&str>,
) -> Result<bool, DbErr> {
    let mut q = api_key::Entity::update_many()
        .col_expr(
            api_key::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(now_ms()),
        )
        .filter(api_key::Column::Id.eq(id))
        .filter(api_key::Column::AccountId.eq(account_id))
        .filter(api_key::Column::RevokedAt.is_null());
    if let Some(u) = user_id {
        q = q.filter(api_key::Column::UserId.eq(u));
    }
    Ok(q.exec(db).await?.rows_affected == 1)
}

/// Revokes every live key of a user (deactivation, credential reset).
pub async fn revoke_user_api_keys<C: ConnectionTrait>(db: &C, user_id: &str) -> Result<u64, DbErr> {
    Ok(api_key::Entity::update_many()
        .col_expr(
            api_key::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(now_ms()),
        )
        .filter(api_key::Column::UserId.eq(user_id))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?
        .rows_affected)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    pub id: String,
    pub user_id: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    /// To the minute.
    pub last_used_at: Option<String>,
}

impl From<&api_key::Model> for ApiKeyView {
    fn from(k: &api_key::Model) -> Self {
        ApiKeyView {
            id: k.id.clone(),
            user_id: k.user_id.clone(),
            created_at: iso(k.created_at),
            expires_at: k.expires_at.map(iso),
            revoked_at: k.revoked_at.map(iso),
            last_used_at: k.last_used_at.map(iso),
        }
    }
}

pub async fn create_scim_token<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    expires_in_days: Option<u32>,
) -> Result<(Issued, scim_token::Model), DbErr> {
    insert_scim_token(
        db,
        account_id,
        secrets::issue(SCIM_TOKEN_PREFIX),
        expires_in_days,
    )
    .await
}

/// Stores an issued SCIM token (issued first, so its id is known before the write).
pub async fn insert_scim_token<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    t: secrets::IssuedToken,
    expires_in_days: Option<u32>,
) -> Result<(Issued, scim_token::Model), DbErr> {
    let now = now_ms();
    let m = scim_token::ActiveModel {
        id: Set(t.id.clone()),
        account_id: Set(account_id.into()),
        secret_hash: Set(t.hash),
        created_at: Set(now),
        expires_at: Set(expires_in_days.map(|d| now + i64::from(d) * 86_400_000)),
        revoked_at: Set(None),
        last_used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok((
        Issued {
            id: t.id,
            key: None,
            token: Some(t.token),
        },
        m,
    ))
}

pub async fn verify_scim_token<C: ConnectionTrait>(
    db: &C,
    presented: &str,
) -> Result<Option<scim_token::Model>, DbErr> {
    let Some((id, secret)) = secrets::parse(SCIM_TOKEN_PREFIX, presented) else {
        return Ok(None);
    };
    let Some(t) = scim_token::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let live = t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now_ms());
    Ok((live && secrets::verify_secret(secret, &t.secret_hash)).then_some(t))
}

pub async fn list_scim_tokens<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
) -> Result<Vec<scim_token::Model>, DbErr> {
    scim_token::Entity::find()
        .filter(scim_token::Column::AccountId.eq(account_id))
        .order_by_asc(scim_token::Column::CreatedAt)
        .all(db)
        .await
}

/// Marks a token revoked; false when the account has no such live token.
pub async fn revoke_scim_token<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    id: &str,
) -> Result<bool, DbErr> {
    let Some(t) = scim_token::Entity::find_by_id(id.to_string())
        .filter(scim_token::Column::AccountId.eq(account_id))
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    if t.revoked_at.is_some() {
        return Ok(false);
    }
    let mut am: scim_token::ActiveModel = t.into();
    am.revoked_at = Set(Some(now_ms()));
    am.update(db).await?;
    // Every replica drops its cached token rows: revocation works at once.
    super::changes::record(db, Some(account_id), super::changes::Change::ScimTokens).await?;
    Ok(true)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    /// To the minute.
    pub last_used_at: Option<String>,
}

pub fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

impl From<&scim_token::Model> for TokenView {
    fn from(t: &scim_token::Model) -> Self {
        TokenView {
            id: t.id.clone(),
            created_at: iso(t.created_at),
            expires_at: t.expires_at.map(iso),
            revoked_at: t.revoked_at.map(iso),
            last_used_at: t.last_used_at.map(iso),
        }
    }
}

/// Which credential table a use is recorded in.
#[derive(Debug, Clone, Copy)]
pub enum Credential {
    ApiKey,
    ScimToken,
}

/// Records that the credential was used now.
pub async fn record_use<C: ConnectionTrait>(
    db: &C,
    kind: Credential,
    id: &str,
) -> Result<(), DbErr> {
    let now = now_ms();
    match kind {
        Credential::ApiKey => {
            api_key::Entity::update_many()
                .col_expr(
                    api_key::Column::LastUsedAt,
                    sea_orm::sea_query::Expr::value(now),
                )
                .filter(api_key::Column::Id.eq(id))
                .exec(db)
                .await?;
        }
        Credential::ScimToken => {
            scim_token::Entity::update_many()
                .col_expr(
                    scim_token::Column::LastUsedAt,
                    sea_orm::sea_query::Expr::value(now),
                )
                .filter(scim_token::Column::Id.eq(id))
                .exec(db)
                .await?;
        }
    }
    Ok(())
}
