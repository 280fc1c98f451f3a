use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0003_api_key_expiry"
    }
}

// API keys may expire; existing keys keep no expiry. Sign-in matches on
// email only: users provisioned with an address as userName and no email
// keep signing in, their userName standing as their email.
const UP: &str = "
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
CREATE INDEX api_keys_user ON api_keys (user_id);
UPDATE users SET email_norm = user_name_norm WHERE email_norm IS NULL AND user_name_norm LIKE '%@%'
";

const DOWN: &str = "DROP INDEX api_keys_user; ALTER TABLE api_keys DROP COLUMN expires_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_ddl(manager, UP).await
    }
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_ddl(manager, DOWN).await
    }
}
