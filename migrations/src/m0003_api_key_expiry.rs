use sea_orm_migration::prelude::*;

// API keys may expire; existing keys keep no expiry. Sign-in matches on
// email only: users provisioned with an address as userName and no email
// keep signing in, their userName standing as their email.
const UP: &str = "
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
CREATE INDEX api_keys_user ON api_keys (user_id);
UPDATE users SET email_norm = user_name_norm WHERE email_norm IS NULL AND user_name_norm LIKE '%@%'
";

const DOWN: &str = "DROP INDEX api_keys_user; ALTER TABLE api_keys DROP COLUMN expires_at";

crate::ddl_migration!("m0003_api_key_expiry");
