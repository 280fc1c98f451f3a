use sea_orm_migration::prelude::*;

// When each API key and SCIM token was last used (to the minute), shown to
// administrators so stale credentials can be found and revoked.
const UP: &str = "
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;
ALTER TABLE scim_tokens ADD COLUMN last_used_at BIGINT
";

const DOWN: &str = "
ALTER TABLE scim_tokens DROP COLUMN last_used_at;
ALTER TABLE api_keys DROP COLUMN last_used_at
";

crate::ddl_migration!("m0009_credential_use");
