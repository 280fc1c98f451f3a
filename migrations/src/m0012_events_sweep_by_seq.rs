use sea_orm_migration::prelude::*;

// Every event insert also wrote this index's page; the retention sweep was
// its only reader and now walks events in `seq` order, which follows time.
const UP: &str = "DROP INDEX events_time";

const DOWN: &str = "CREATE INDEX events_time ON events (occurred_at)";

crate::ddl_migration!("m0012_events_sweep_by_seq");
