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

/// Calls `$m!` with every copied table, in foreign-key order.
macro_rules! each_table {
    ($m:ident) => {
        $m!(
            "accounts", account::Entity, account::Column::Id;
            "users", user::Entity, user::Column::Id;
            "scim_groups", group::Entity, group::Column::Id;
            "group_members", group_member::Entity, group_member::Column::GroupId;
            "custom_roles", custom_role::Entity, custom_role::Column::Id;
            "custom_role_privileges", custom_role_privilege::Entity, custom_role_privilege::Column::RoleId;
            "environments", environment::Entity, environment::Column::Id;
            "environment_roles", environment_role::Entity, environment_role::Column::EnvironmentId;
            "user_roles", user_role::Entity, user_role::Column::UserId;
            "group_mappings", group_mapping::Entity, group_mapping::Column::Id;
            "group_mapping_roles", group_mapping_role::Entity, group_mapping_role::Column::MappingId;
            "api_keys", api_key::Entity, api_key::Column::Id;
            "scim_tokens", scim_token::Entity, scim_token::Column::Id;
            "sessions", session::Entity, session::Column::Id;
            "audit_events", audit_event::Entity, audit_event::Column::Id;
            "signing_keys", signing_key::Entity, signing_key::Column::Kid;
            "sso_connections", sso_connection::Entity, sso_connection::Column::Id;
            "sso_policies", sso_policy::Entity, sso_policy::Column::AccountId;
            "connection_domains", connection_domain::Entity, connection_domain::Column::Domain;
            "saml_requests", saml_request::Entity, saml_request::Column::Id;
            "saml_seen_assertions", saml_seen_assertion::Entity, saml_seen_assertion::Column::Id;
            "oidc_states", oidc_state::Entity, oidc_state::Column::Id;
            "platform_settings", platform_setting::Entity, platform_setting::Column::Name;
            "support_grants", support_grant::Entity, support_grant::Column::Id;
            "account_groups", account_group::Entity, account_group::Column::Id;
            "account_group_members", account_group_member::Entity, account_group_member::Column::GroupId;
            "account_group_roles", account_group_role::Entity, account_group_role::Column::Id;
            "events", event::Entity, event::Column::Seq;
            "webhook_endpoints", webhook_endpoint::Entity, webhook_endpoint::Column::Id;
            "webhook_deliveries", webhook_delivery::Entity, webhook_delivery::Column::Id;
            "webhook_attempts", webhook_attempt::Entity, webhook_attempt::Column::Id
        )
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
    each_table!(copy_all);
    if txn.get_database_backend() == DbBackend::Postgres {
        // Serial columns continue after the copied ids.
        for (table, column) in [
            ("audit_events", "id"),
            ("events", "seq"),
            ("webhook_deliveries", "id"),
            ("webhook_attempts", "id"),
        ] {
            txn.execute_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT setval(pg_get_serial_sequence('{table}', '{column}'), COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"),
            ))
            .await?;
        }
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
    each_table!(verify);
    Ok(report)
}
