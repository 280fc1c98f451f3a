//! `idbridge db copy`: moves everything from one database to another (the
//! embedded SQLite default to PostgreSQL, typically), table by table in
//! foreign-key order inside one destination transaction, then checks that
//! every table holds as many rows as the source.

use super::entities::*;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryOrder, Statement, TransactionTrait,
};

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("the destination already holds accounts; copy only into an empty database")]
    NotEmpty,
    #[error("table {table}: {source_rows} rows in the source, {copied} in the destination")]
    Mismatch {
        table: &'static str,
        source_rows: u64,
        copied: u64,
    },
}

/// Rows copied per table, in copy order.
pub type Report = Vec<(&'static str, u64)>;

const PAGE: u64 = 1000;

async fn table<E, C>(from: &DatabaseConnection, to: &C, order: E::Column) -> Result<u64, DbErr>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel> + Send + Sync,
    C: ConnectionTrait,
{
    let mut pages = E::find().order_by_asc(order).paginate(from, PAGE);
    let mut n = 0;
    while let Some(rows) = pages.fetch_and_next().await? {
        n += rows.len() as u64;
        if rows.is_empty() {
            break;
        }
        E::insert_many(rows.into_iter().map(IntoActiveModel::into_active_model))
            .exec_without_returning(to)
            .await?;
    }
    Ok(n)
}

async fn count<E, C>(db: &C) -> Result<u64, DbErr>
where
    E: EntityTrait,
    E::Model: Send + Sync,
    C: ConnectionTrait,
{
    E::find().count(db).await
}

macro_rules! tables {
    ($m:ident, $($name:literal => $e:ident :: $col:ident),* $(,)?) => {
        $m!($($name, $e::Entity, $e::Column::$col);*)
    };
}

/// Copies every table; refuses a destination that already has accounts.
pub async fn copy(from: &DatabaseConnection, to: &DatabaseConnection) -> Result<Report, CopyError> {
    super::migrate(to).await?;
    if count::<account::Entity, _>(to).await? > 0 {
        return Err(CopyError::NotEmpty);
    }
    let txn = to.begin().await?;
    let mut report = Report::new();
    macro_rules! copy_all {
        ($($name:literal, $e:ty, $col:expr);*) => {$(
            report.push(($name, table::<$e, _>(from, &txn, $col).await?));
        )*};
    }
    tables!(copy_all,
        "accounts" => account::Id,
        "users" => user::Id,
        "scim_groups" => group::Id,
        "group_members" => group_member::GroupId,
        "custom_roles" => custom_role::Id,
        "custom_role_privileges" => custom_role_privilege::RoleId,
        "environments" => environment::Id,
        "environment_roles" => environment_role::EnvironmentId,
        "user_roles" => user_role::UserId,
        "group_mappings" => group_mapping::Id,
        "group_mapping_roles" => group_mapping_role::MappingId,
        "api_keys" => api_key::Id,
        "scim_tokens" => scim_token::Id,
        "sessions" => session::Id,
        "audit_events" => audit_event::Id,
        "signing_keys" => signing_key::Kid,
        "sso_settings" => sso_settings::AccountId,
        "oidc_states" => oidc_state::Id,
    );
    if txn.get_database_backend() == DbBackend::Postgres {
        // Serial columns continue after the copied ids.
        txn.execute_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT setval(pg_get_serial_sequence('audit_events', 'id'), COALESCE((SELECT MAX(id) FROM audit_events), 0) + 1, false)",
        ))
        .await?;
    }
    txn.commit().await?;
    macro_rules! verify {
        ($($name:literal, $e:ty, $col:expr);*) => {$(
            let (a, b) = (count::<$e, _>(from).await?, count::<$e, _>(to).await?);
            if a != b {
                return Err(CopyError::Mismatch { table: $name, source_rows: a, copied: b });
            }
        )*};
    }
    tables!(verify,
        "accounts" => account::Id,
        "users" => user::Id,
        "scim_groups" => group::Id,
        "group_members" => group_member::GroupId,
        "custom_roles" => custom_role::Id,
        "custom_role_privileges" => custom_role_privilege::RoleId,
        "environments" => environment::Id,
        "environment_roles" => environment_role::EnvironmentId,
        "user_roles" => user_role::UserId,
        "group_mappings" => group_mapping::Id,
        "group_mapping_roles" => group_mapping_role::MappingId,
        "api_keys" => api_key::Id,
        "scim_tokens" => scim_token::Id,
        "sessions" => session::Id,
        "audit_events" => audit_event::Id,
        "signing_keys" => signing_key::Kid,
        "sso_settings" => sso_settings::AccountId,
        "oidc_states" => oidc_state::Id,
    );
    Ok(report)
}
