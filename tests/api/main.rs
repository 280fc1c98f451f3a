//! Integration tests: the real server on a random port with a fresh database,
//! spoken to over HTTP. Each test runs on SQLite and on PostgreSQL (the
//! machine's, or IDBRIDGE_TEST_POSTGRES_URL); outside peers are set up by
//! `peers` on first use.

#[macro_use]
mod helpers;
mod access_model;
mod binary;
mod cli;
mod connections;
mod console;
mod db_copy;
mod differential;
mod e2e_oidc;
mod events;
mod fail_closed;
mod limits;
mod management;
mod peers;
mod replicas;
mod saml;
mod scim_cycles;
mod scim_errors;
mod security;
mod sso;
mod validators;
mod webhooks;
