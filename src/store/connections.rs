//! SSO connections (OIDC or SAML sign-in configurations of an account), the
//! account's SSO mode, and the email domains each connection serves.

use super::entities::{
    connection_domain, saml_request, saml_seen_assertion, sso_connection, sso_policy,
};
use super::now_ms;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};

pub use super::kinds::{ConnectionKind, RoleSource, SsoMode};
pub use connection_domain::Model as Domain;
pub use saml_request::Model as PendingSamlRequest;
pub use sso_connection::Model as Connection;

/// A new enabled connection with every protocol field empty.
pub fn blank(account_id: &str, kind: ConnectionKind, name: &str) -> Connection {
    let now = now_ms();
    Connection {
        id: super::new_id(),
        account_id: account_id.into(),
        kind,
        name: name.into(),
        name_key: name.to_lowercase(),
        enabled: true,
        role_source: RoleSource::Scim,
        groups_attribute: "groups".into(),
        jit: false,
        issuer: String::new(),
        client_id: String::new(),
        client_secret: String::new(),
        scopes: String::new(),
        idp_metadata: String::new(),
        idp_metadata_url: String::new(),
        allow_idp_initiated: false,
        sp_private_key: String::new(),
        sp_certificate: String::new(),
        created_at: now,
        updated_at: now,
    }
}

/// The account's connections, oldest first.
pub async fn list<C: ConnectionTrait>(db: &C, account_id: &str) -> Result<Vec<Connection>, DbErr> {
    sso_connection::Entity::find()
        .filter(sso_connection::Column::AccountId.eq(account_id))
        .order_by_asc(sso_connection::Column::CreatedAt)
        .order_by_asc(sso_connection::Column::Id)
        .all(db)
        .await
}

/// One connection of the account (`None` when it belongs to another).
pub async fn get<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    id: &str,
) -> Result<Option<Connection>, DbErr> {
    Ok(by_id(db, id).await?.filter(|c| c.account_id == account_id))
}

pub async fn by_id<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<Connection>, DbErr> {
    sso_connection::Entity::find_by_id(id.to_string())
        .one(db)
        .await
}

pub async fn insert<C: ConnectionTrait>(db: &C, c: Connection) -> Result<Connection, DbErr> {
    c.into_active_model().reset_all().insert(db).await
}

/// Stores every field of `c` over the row with its id.
pub async fn update<C: ConnectionTrait>(db: &C, c: Connection) -> Result<Connection, DbErr> {
    let mut am = c.into_active_model().reset_all();
    am.updated_at = Set(now_ms());
    am.update(db).await
}

/// Removes the connection (its domains and pending sign-ins go with it).
pub async fn delete<C: ConnectionTrait>(db: &C, account_id: &str, id: &str) -> Result<bool, DbErr> {
    let gone = sso_connection::Entity::delete_many()
        .filter(sso_connection::Column::AccountId.eq(account_id))
        .filter(sso_connection::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(gone.rows_affected == 1)
}

/// The account's SSO mode. An account that never set one is `optional`:
/// with no connection that signs nobody in, and local sign-in stays open.
/// An unreadable stored value is an error, never a default.
pub async fn mode<C: ConnectionTrait>(db: &C, account_id: &str) -> Result<SsoMode, DbErr> {
    Ok(sso_policy::Entity::find_by_id(account_id.to_string())
        .one(db)
        .await?
        .map_or(SsoMode::Optional, |p| p.mode))
}

pub async fn set_mode<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    mode: SsoMode,
) -> Result<(), DbErr> {
    sso_policy::Entity::insert(sso_policy::ActiveModel {
        account_id: Set(account_id.into()),
        mode: Set(mode),
        updated_at: Set(now_ms()),
    })
    .on_conflict(
        OnConflict::column(sso_policy::Column::AccountId)
            .update_columns([sso_policy::Column::Mode, sso_policy::Column::UpdatedAt])
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// Whether SCIM group memberships give roles in this account: yes unless
/// every connection takes roles from the IdP's claims alone.
pub async fn scim_group_roles<C: ConnectionTrait>(db: &C, account_id: &str) -> Result<bool, DbErr> {
    let all = list(db, account_id).await?;
    Ok(all.is_empty() || all.iter().any(|c| c.role_source != RoleSource::Claims))
}

/// The domains a connection claims, verified or not.
pub async fn domains<C: ConnectionTrait>(
    db: &C,
    connection_id: &str,
) -> Result<Vec<Domain>, DbErr> {
    connection_domain::Entity::find()
        .filter(connection_domain::Column::ConnectionId.eq(connection_id))
        .order_by_asc(connection_domain::Column::Domain)
        .all(db)
        .await
}

pub async fn domain<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    domain: &str,
) -> Result<Option<Domain>, DbErr> {
    connection_domain::Entity::find_by_id((account_id.to_string(), domain.to_string()))
        .one(db)
        .await
}

pub async fn add_domain<C: ConnectionTrait>(db: &C, d: Domain) -> Result<Domain, DbErr> {
    d.into_active_model().reset_all().insert(db).await
}

/// Marks the domain verified. Fails with a unique violation when another
/// account verified it first: a domain routes to one account only.
pub async fn mark_verified<C: ConnectionTrait>(db: &C, d: Domain) -> Result<Domain, DbErr> {
    let mut am = d.into_active_model();
    am.verified_at = Set(Some(now_ms()));
    am.update(db).await
}

pub async fn remove_domain<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    connection_id: &str,
    domain: &str,
) -> Result<bool, DbErr> {
    let gone = connection_domain::Entity::delete_many()
        .filter(connection_domain::Column::AccountId.eq(account_id))
        .filter(connection_domain::Column::ConnectionId.eq(connection_id))
        .filter(connection_domain::Column::Domain.eq(domain))
        .exec(db)
        .await?;
    Ok(gone.rows_affected == 1)
}

/// The connection a verified domain routes to, whatever the account.
pub async fn route<C: ConnectionTrait>(db: &C, domain: &str) -> Result<Option<Connection>, DbErr> {
    let Some(d) = connection_domain::Entity::find()
        .filter(connection_domain::Column::Domain.eq(domain))
        .filter(connection_domain::Column::VerifiedAt.is_not_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    get(db, &d.account_id, &d.connection_id).await
}

/// Whether the connection serves this domain and has verified it.
pub async fn serves_verified<C: ConnectionTrait>(
    db: &C,
    connection_id: &str,
    domain: &str,
) -> Result<bool, DbErr> {
    Ok(connection_domain::Entity::find()
        .filter(connection_domain::Column::ConnectionId.eq(connection_id))
        .filter(connection_domain::Column::Domain.eq(domain))
        .filter(connection_domain::Column::VerifiedAt.is_not_null())
        .count(db)
        .await?
        == 1)
}

pub async fn save_saml_request<C: ConnectionTrait>(
    db: &C,
    row: PendingSamlRequest,
) -> Result<(), DbErr> {
    saml_request::Entity::delete_many()
        .filter(saml_request::Column::ExpiresAt.lt(now_ms()))
        .exec(db)
        .await?;
    row.into_active_model().reset_all().insert(db).await?;
    Ok(())
}

/// SAML sign-ins of the account started and not finished or expired.
pub async fn pending_saml<C: ConnectionTrait>(db: &C, account_id: &str) -> Result<u64, DbErr> {
    saml_request::Entity::find()
        .filter(saml_request::Column::AccountId.eq(account_id))
        .filter(saml_request::Column::ExpiresAt.gt(now_ms()))
        .count(db)
        .await
}

/// Removes and returns the request with this id; `Some` only for the one
/// caller whose delete took it, so a replayed InResponseTo loses the race.
pub async fn take_saml_request<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<PendingSamlRequest>, DbErr> {
    let Some(row) = saml_request::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let gone = saml_request::Entity::delete_many()
        .filter(saml_request::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok((gone.rows_affected == 1).then_some(row))
}

/// Records an assertion as consumed until it expires. `false` when it was
/// already recorded: a replay.
pub async fn first_use_of_assertion<C: ConnectionTrait>(
    db: &C,
    key: &str,
    expires_at: i64,
) -> Result<bool, DbErr> {
    saml_seen_assertion::Entity::delete_many()
        .filter(saml_seen_assertion::Column::ExpiresAt.lt(now_ms()))
        .exec(db)
        .await?;
    let inserted = saml_seen_assertion::Entity::insert(saml_seen_assertion::ActiveModel {
        id: Set(key.into()),
        expires_at: Set(expires_at),
    })
    .on_conflict(
        OnConflict::column(saml_seen_assertion::Column::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(inserted == 1)
}
