//! Accounts and their break-glass Administrator.

use super::entities::*;
use super::{new_id, now_ms};
use crate::secrets;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct BreakGlass {
    pub user_id: String,
    pub email: String,
    pub password: String,
    pub totp_secret: String,
    pub otpauth_uri: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn fresh_credential(email: &str) -> Result<(String, String, secrets::TotpSecret), AccountError> {
    let password = secrets::generate_password();
    let hash =
        secrets::hash_password(&password).map_err(|e| AccountError::Invalid(e.to_string()))?;
    Ok((password, hash, secrets::new_totp(email)))
}

pub fn valid_email(email: &str) -> bool {
    let e = email.trim();
    matches!(e.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.') && !e.contains(char::is_whitespace))
}

/// Creates an account and its break-glass service user holding the built-in
/// Administrator role. The credential is returned once and stored hashed.
pub async fn create(
    db: &sea_orm::DatabaseConnection,
    name: &str,
    admin_email: &str,
) -> Result<(account::Model, BreakGlass), AccountError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AccountError::Invalid(
            "account name must not be empty".into(),
        ));
    }
    if !valid_email(admin_email) {
        return Err(AccountError::Invalid(format!(
            "not an email address: {admin_email}"
        )));
    }
    let email = admin_email.trim().to_string();
    let (password, hash, totp) = fresh_credential(&email)?;
    let now = now_ms();
    let txn = db.begin().await?;
    let acct = account::ActiveModel {
        id: Set(new_id()),
        name: Set(name.to_string()),
        advanced_user_security: Set(false),
        pii_data_insights: Set(false),
        datahub: Set(false),
        parent_account_id: Set(None),
        environment_scoping: Set("additive".into()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let user = super::users::insert(
        &txn,
        super::users::NewUser {
            id: new_id(),
            account_id: acct.id.clone(),
            user_name: email.clone(),
            email: Some(email.clone()),
            external_id: None,
            display_name: Some("Break-glass administrator".into()),
            origin: super::users::Origin::Local,
            active: true,
            attributes: serde_json::json!({
                "name": {"givenName": "Break-glass", "familyName": "Administrator"},
                "emails": [{"value": email, "primary": true}],
                "active": true
            }),
            credential: Some((hash, totp.base32.clone())),
        },
    )
    .await?;
    user_role::ActiveModel {
        user_id: Set(user.id.clone()),
        role_ref: Set(crate::catalog::ADMINISTRATOR.into()),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok((
        acct,
        BreakGlass {
            user_id: user.id,
            email,
            password,
            totp_secret: totp.base32,
            otpauth_uri: totp.otpauth_uri,
        },
    ))
}

/// Rotates a local user's password and TOTP secret.
pub async fn reset_break_glass<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    email: &str,
) -> Result<BreakGlass, AccountError> {
    let user = user::Entity::find()
        .filter(user::Column::AccountId.eq(account_id))
        .filter(user::Column::UserNameNorm.eq(email.trim().to_lowercase()))
        .filter(user::Column::Origin.eq(super::kinds::Origin::Local))
        .one(db)
        .await?
        .ok_or_else(|| {
            AccountError::NotFound(format!("no local user {email} in account {account_id}"))
        })?;
    let (password, hash, totp) = fresh_credential(&user.user_name)?;
    let mut am: user::ActiveModel = user.clone().into();
    am.password_hash = Set(Some(hash));
    am.totp_secret = Set(Some(totp.base32.clone()));
    am.totp_last_step = Set(None);
    am.updated_at = Set(now_ms());
    am.update(db).await?;
    // A reset is what one does after a leak: the old keys go with the old password.
    super::credentials::revoke_user_api_keys(db, &user.id).await?;
    Ok(BreakGlass {
        user_id: user.id,
        email: user.user_name,
        password,
        totp_secret: totp.base32,
        otpauth_uri: totp.otpauth_uri,
    })
}

pub use account::Model as Account;

/// Account settings to change; `None` leaves a setting as it is.
#[derive(Default)]
pub struct AccountChange {
    pub name: Option<String>,
    pub environment_scoping: Option<String>,
    pub advanced_user_security: Option<bool>,
    pub pii_data_insights: Option<bool>,
    pub datahub: Option<bool>,
    /// `Some(None)` clears the accepted parent.
    pub parent_account_id: Option<Option<String>>,
}

pub async fn update<C: ConnectionTrait>(
    db: &C,
    current: &account::Model,
    change: AccountChange,
) -> Result<account::Model, DbErr> {
    let mut am: account::ActiveModel = current.clone().into();
    if let Some(n) = change.name {
        am.name = Set(n);
    }
    if let Some(s) = change.environment_scoping {
        am.environment_scoping = Set(s);
    }
    if let Some(a) = change.advanced_user_security {
        am.advanced_user_security = Set(a);
    }
    if let Some(a) = change.pii_data_insights {
        am.pii_data_insights = Set(a);
    }
    if let Some(a) = change.datahub {
        am.datahub = Set(a);
    }
    if let Some(p) = change.parent_account_id {
        am.parent_account_id = Set(p);
    }
    am.updated_at = Set(now_ms());
    am.update(db).await
}
