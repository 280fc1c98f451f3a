use sea_orm_migration::prelude::*;

// A child account names the parent it accepts: only then may that parent
// put it in account groups and give its own users roles there.
const UP: &str = "ALTER TABLE accounts ADD COLUMN parent_account_id TEXT";

const DOWN: &str = "ALTER TABLE accounts DROP COLUMN parent_account_id";

crate::ddl_migration!("m0006_account_parent");
