use sea_orm_migration::prelude::*;

// SSO connections replace the one OIDC setting per account: an account has
// zero or more connections (OIDC or SAML), each serving the email domains it
// has proven with a DNS record. The account-wide mode (off / optional /
// required) moves to a table of its own. Every existing setting becomes one
// OIDC connection with the same values.
const UP: &str = "
CREATE TABLE sso_connections (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    role_source TEXT NOT NULL DEFAULT 'scim',
    groups_attribute TEXT NOT NULL DEFAULT 'groups',
    jit BOOLEAN NOT NULL DEFAULT FALSE,
    issuer TEXT NOT NULL DEFAULT '',
    client_id TEXT NOT NULL DEFAULT '',
    client_secret TEXT NOT NULL DEFAULT '',
    scopes TEXT NOT NULL DEFAULT '',
    idp_metadata TEXT NOT NULL DEFAULT '',
    idp_metadata_url TEXT NOT NULL DEFAULT '',
    allow_idp_initiated BOOLEAN NOT NULL DEFAULT FALSE,
    sp_private_key TEXT NOT NULL DEFAULT '',
    sp_certificate TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (account_id, name_key)
);
CREATE INDEX sso_connections_account ON sso_connections (account_id, created_at);
CREATE TABLE sso_policies (
    account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    mode TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE connection_domains (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    connection_id TEXT NOT NULL REFERENCES sso_connections(id) ON DELETE CASCADE,
    token TEXT NOT NULL,
    verified_at BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, domain)
);
CREATE UNIQUE INDEX connection_domains_verified ON connection_domains (domain) WHERE verified_at IS NOT NULL;
CREATE INDEX connection_domains_connection ON connection_domains (connection_id);
CREATE TABLE saml_requests (
    id TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES sso_connections(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    browser_hash TEXT NOT NULL,
    return_to TEXT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX saml_requests_expiry ON saml_requests (expires_at);
CREATE TABLE saml_seen_assertions (
    id TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX saml_seen_assertions_expiry ON saml_seen_assertions (expires_at);
ALTER TABLE oidc_states ADD COLUMN connection_id TEXT;
INSERT INTO sso_connections (id, account_id, kind, name, name_key, enabled, role_source, groups_attribute, jit, issuer, client_id, client_secret, scopes, created_at, updated_at)
    SELECT 'oidc-' || account_id, account_id, 'oidc', 'OIDC', 'oidc', TRUE, role_source, groups_claim, jit, issuer, client_id, client_secret, scopes, updated_at, updated_at FROM sso_settings;
INSERT INTO sso_policies (account_id, mode, updated_at) SELECT account_id, mode, updated_at FROM sso_settings;
DROP TABLE sso_settings
";

// Back to one OIDC setting per account: the oldest OIDC connection of each
// account and its mode; SAML connections and domains cannot be kept.
const DOWN: &str = "
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
INSERT INTO sso_settings (account_id, issuer, client_id, client_secret, scopes, groups_claim, role_source, mode, jit, updated_at)
    SELECT c.account_id, c.issuer, c.client_id, c.client_secret, c.scopes, c.groups_attribute, c.role_source,
           COALESCE((SELECT p.mode FROM sso_policies p WHERE p.account_id = c.account_id), 'optional'), c.jit, c.updated_at
    FROM sso_connections c
    WHERE c.kind = 'oidc' AND c.id = (SELECT c2.id FROM sso_connections c2 WHERE c2.account_id = c.account_id AND c2.kind = 'oidc' ORDER BY c2.created_at, c2.id LIMIT 1);
ALTER TABLE oidc_states DROP COLUMN connection_id;
DROP TABLE saml_seen_assertions;
DROP TABLE saml_requests;
DROP TABLE connection_domains;
DROP TABLE sso_policies;
DROP TABLE sso_connections
";

crate::ddl_migration!("m0007_connections");
