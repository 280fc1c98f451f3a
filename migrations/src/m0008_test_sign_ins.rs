use sea_orm_migration::prelude::*;

// A sign-in started to test a connection: the callback shows what the IdP
// sent and what it would mean, and starts no session.
const UP: &str = "
ALTER TABLE oidc_states ADD COLUMN test BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE saml_requests ADD COLUMN test BOOLEAN NOT NULL DEFAULT FALSE
";

const DOWN: &str = "
ALTER TABLE saml_requests DROP COLUMN test;
ALTER TABLE oidc_states DROP COLUMN test
";

crate::ddl_migration!("m0008_test_sign_ins");
