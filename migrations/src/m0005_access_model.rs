use sea_orm_migration::prelude::*;

// The rest of the platform's access model: account features that gate
// privileges, platform-wide settings (the support operator account),
// time-boxed support access grants, and account groups with the roles
// parent-account users hold in every child.
const UP: &str = "
ALTER TABLE accounts ADD COLUMN pii_data_insights BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE accounts ADD COLUMN datahub BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE platform_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE support_grants (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    role_ref TEXT NOT NULL,
    environments TEXT,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    granted_by TEXT NOT NULL,
    disabled_at BIGINT,
    disabled_by TEXT
);
CREATE INDEX support_grants_account ON support_grants (account_id, ends_at);
CREATE TABLE account_groups (
    id TEXT PRIMARY KEY,
    parent_account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_norm TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (parent_account_id, name_norm)
);
CREATE TABLE account_group_members (
    group_id TEXT NOT NULL REFERENCES account_groups(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, account_id)
);
CREATE INDEX account_group_members_child ON account_group_members (account_id);
CREATE TABLE account_group_roles (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES account_groups(id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    match_kind TEXT,
    match_value TEXT,
    match_value_norm TEXT,
    role_ref TEXT NOT NULL,
    environments TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX account_group_roles_group ON account_group_roles (group_id)
";

const DOWN: &str = "
DROP TABLE account_group_roles;
DROP TABLE account_group_members;
DROP TABLE account_groups;
DROP TABLE support_grants;
DROP TABLE platform_settings;
ALTER TABLE accounts DROP COLUMN datahub;
ALTER TABLE accounts DROP COLUMN pii_data_insights
";

crate::ddl_migration!("m0005_access_model");
