use sea_orm_migration::prelude::*;

// A user's groups are read by `user_id` on every lookup, GET and list page.
// The old index held only `user_id`, so each membership cost a second seek
// into the table for its `group_id`; with both columns the index answers
// alone (SQLite's covering index, PostgreSQL's index-only scan). It still
// serves the `ON DELETE CASCADE` from users.
const UP: &str = "CREATE INDEX group_members_user_group ON group_members (user_id, group_id);
DROP INDEX group_members_user";

const DOWN: &str = "CREATE INDEX group_members_user ON group_members (user_id);
DROP INDEX group_members_user_group";

crate::ddl_migration!("m0013_memberships_by_user_cover");
