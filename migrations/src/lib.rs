//! One set of migrations for SQLite and PostgreSQL.
//!
//! DDL is written once with a few per-backend substitutions (`{id}` for an
//! auto-increment key); constraints are declared inside CREATE TABLE because
//! SQLite cannot add them later.

pub use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

mod m0001_initial;
mod m0002_list_order_indexes;
mod m0003_api_key_expiry;
mod m0004_replicas;
mod m0005_access_model;
mod m0006_account_parent;
mod m0007_connections;
mod m0008_test_sign_ins;
mod m0009_credential_use;
mod m0010_events;
mod m0011_delivery_queue_index;
mod m0012_events_sweep_by_seq;
mod m0013_memberships_by_user_cover;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_initial::Migration),
            Box::new(m0002_list_order_indexes::Migration),
            Box::new(m0003_api_key_expiry::Migration),
            Box::new(m0004_replicas::Migration),
            Box::new(m0005_access_model::Migration),
            Box::new(m0006_account_parent::Migration),
            Box::new(m0007_connections::Migration),
            Box::new(m0008_test_sign_ins::Migration),
            Box::new(m0009_credential_use::Migration),
            Box::new(m0010_events::Migration),
            Box::new(m0011_delivery_queue_index::Migration),
            Box::new(m0012_events_sweep_by_seq::Migration),
            Box::new(m0013_memberships_by_user_cover::Migration),
        ]
    }
}

/// A migration made of raw DDL: `UP` and `DOWN` statements in the module.
macro_rules! ddl_migration {
    ($name:literal) => {
        pub struct Migration;

        impl MigrationName for Migration {
            fn name(&self) -> &str {
                $name
            }
        }

        #[async_trait::async_trait]
        impl MigrationTrait for Migration {
            async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
                crate::run_ddl(manager, UP).await
            }
            async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
                crate::run_ddl(manager, DOWN).await
            }
        }
    };
}
pub(crate) use ddl_migration;

/// Runs each `;`-separated statement, adapting the few backend differences.
pub(crate) async fn run_ddl(manager: &SchemaManager<'_>, ddl: &str) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    let serial = match manager.get_database_backend() {
        DatabaseBackend::Postgres => "BIGSERIAL PRIMARY KEY",
        _ => "INTEGER PRIMARY KEY AUTOINCREMENT",
    };
    for stmt in ddl.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        conn.execute_unprepared(&stmt.replace("{serial}", serial))
            .await?;
    }
    Ok(())
}
