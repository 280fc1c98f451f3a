//! User rows: the one place a user is built and a few targeted updates.

use super::batch::Batch;
use super::entities::user;
use super::now_ms;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryTrait,
};
use serde_json::Value;

pub use user::Model as User;

pub use super::kinds::Origin;

/// What a new user is made of.
pub struct NewUser {
    pub id: String,
    pub account_id: String,
    pub user_name: String,
    /// The email sign-in matches (lowercased here).
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub origin: Origin,
    pub active: bool,
    /// The SCIM representation as stored.
    pub attributes: Value,
    /// A local credential: argon2 hash and TOTP secret.
    pub credential: Option<(String, String)>,
}

pub async fn insert<C: ConnectionTrait>(db: &C, u: NewUser) -> Result<User, DbErr> {
    let row = new_row(u);
    let mut b = Batch::new(db.get_database_backend());
    push_insert(&mut b, &row);
    b.run(db).await?;
    Ok(row)
}

/// The row a new user is stored as: what an insert writes and answers with.
pub fn new_row(u: NewUser) -> User {
    let now = now_ms();
    let (password_hash, totp_secret) = match u.credential {
        Some((h, t)) => (Some(h), Some(t)),
        None => (None, None),
    };
    User {
        id: u.id,
        account_id: u.account_id,
        user_name_norm: u.user_name.to_lowercase(),
        user_name: u.user_name,
        email_norm: u.email.map(|e| e.trim().to_lowercase()),
        external_id: u.external_id,
        display_name: u.display_name,
        origin: u.origin,
        active: u.active,
        attributes: u.attributes.to_string(),
        password_hash,
        totp_secret,
        totp_last_step: None,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// Adds the insert of a new user's row to a batch.
pub fn push_insert(b: &mut Batch, row: &User) {
    let am = row.clone().into_active_model().reset_all();
    b.push(user::Entity::insert(am).build(b.backend()));
}

/// Claims a TOTP time step for the user: true once per step, and never for
/// a step at or before the last one claimed (no replay, no going back).
pub async fn claim_totp_step<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    step: i64,
) -> Result<bool, DbErr> {
    let r = user::Entity::update_many()
        .col_expr(
            user::Column::TotpLastStep,
            sea_orm::sea_query::Expr::value(step),
        )
        .filter(user::Column::Id.eq(user_id))
        .filter(
            sea_orm::Condition::any()
                .add(user::Column::TotpLastStep.is_null())
                .add(user::Column::TotpLastStep.lt(step)),
        )
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

/// The user's direct role assignments (role references).
pub async fn direct_roles<C: ConnectionTrait>(db: &C, user_id: &str) -> Result<Vec<String>, DbErr> {
    Ok(super::scim::roles_of_users(db, &[user_id.to_string()])
        .await?
        .remove(user_id)
        .unwrap_or_default())
}
