use sea_orm_migration::prelude::*;

// Timestamps are milliseconds since the epoch (BIGINT) so both backends
// compare and sort them the same way. Role references are either a built-in
// role key (e.g. ADMINISTRATOR) or a custom role id.
const UP: &str = r#"
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    advanced_user_security BOOLEAN NOT NULL DEFAULT FALSE,
    environment_scoping TEXT NOT NULL DEFAULT 'additive',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    user_name TEXT NOT NULL,
    user_name_norm TEXT NOT NULL,
    email_norm TEXT,
    external_id TEXT,
    display_name TEXT,
    origin TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    attributes TEXT NOT NULL DEFAULT '{}',
    password_hash TEXT,
    totp_secret TEXT,
    totp_last_step BIGINT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (account_id, user_name_norm)
);
CREATE INDEX users_account_external ON users (account_id, external_id);
CREATE INDEX users_account_email ON users (account_id, email_norm);
CREATE INDEX users_account_updated ON users (account_id, updated_at);
CREATE TABLE scim_groups (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    display_name_norm TEXT NOT NULL,
    external_id TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX groups_account_name ON scim_groups (account_id, display_name_norm);
CREATE INDEX groups_account_external ON scim_groups (account_id, external_id);
CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES scim_groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);
CREATE TABLE custom_roles (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_norm TEXT NOT NULL,
    inherits TEXT,
    description TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (account_id, name_norm)
);
CREATE TABLE custom_role_privileges (
    role_id TEXT NOT NULL REFERENCES custom_roles(id) ON DELETE CASCADE,
    privilege TEXT NOT NULL,
    PRIMARY KEY (role_id, privilege)
);
CREATE TABLE environments (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_norm TEXT NOT NULL,
    classification TEXT NOT NULL DEFAULT 'test',
    created_at BIGINT NOT NULL,
    UNIQUE (account_id, name_norm)
);
CREATE TABLE environment_roles (
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    role_ref TEXT NOT NULL,
    PRIMARY KEY (environment_id, role_ref)
);
CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_ref TEXT NOT NULL,
    PRIMARY KEY (user_id, role_ref)
);
CREATE TABLE group_mappings (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    match_kind TEXT NOT NULL,
    match_value TEXT NOT NULL,
    match_value_norm TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX group_mappings_account ON group_mappings (account_id);
CREATE TABLE group_mapping_roles (
    mapping_id TEXT NOT NULL REFERENCES group_mappings(id) ON DELETE CASCADE,
    role_ref TEXT NOT NULL,
    environments TEXT,
    PRIMARY KEY (mapping_id, role_ref)
);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE scim_tokens (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX scim_tokens_account ON scim_tokens (account_id);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    amr TEXT NOT NULL,
    claim_groups TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE TABLE audit_events (
    id {serial},
    account_id TEXT,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_account ON audit_events (account_id, id);
CREATE TABLE sso_settings (
    account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    issuer TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret TEXT NOT NULL,
    scopes TEXT NOT NULL DEFAULT '',
    groups_claim TEXT NOT NULL DEFAULT 'groups',
    role_source TEXT NOT NULL DEFAULT 'scim',
    mode TEXT NOT NULL DEFAULT 'off',
    jit BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at BIGINT NOT NULL
);
CREATE TABLE oidc_states (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    browser_hash TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_to TEXT,
    expires_at BIGINT NOT NULL
);
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_der TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
)
"#;

const DOWN: &str = "
DROP TABLE signing_keys; DROP TABLE oidc_states; DROP TABLE sso_settings; DROP TABLE audit_events;
DROP TABLE sessions; DROP TABLE scim_tokens; DROP TABLE api_keys; DROP TABLE group_mapping_roles;
DROP TABLE group_mappings; DROP TABLE user_roles; DROP TABLE environment_roles; DROP TABLE environments;
DROP TABLE custom_role_privileges; DROP TABLE custom_roles; DROP TABLE group_members; DROP TABLE scim_groups;
DROP TABLE users; DROP TABLE accounts
";

crate::ddl_migration!("m0001_initial");
