//! Integration tests: the real server on a random port with a fresh database,
//! spoken to over HTTP. Each test runs on SQLite, and on PostgreSQL too when
//! IDBRIDGE_TEST_POSTGRES_URL is set (CI sets it).

#[macro_use]
mod helpers;
mod binary;
mod cli;
mod e2e_oidc;
mod management;
mod scim_cycles;
mod scim_errors;
mod security;
mod sso;
