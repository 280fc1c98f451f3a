use sea_orm_migration::prelude::*;

// The claim asks, per endpoint, whether an earlier delivery is still
// pending: without this index that is a scan of the endpoint's history for
// every candidate, which made a backlog of thousands drain at ~5/s.
const UP: &str =
    "CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (endpoint_id, status, event_seq)";

const DOWN: &str = "DROP INDEX webhook_deliveries_queue";

crate::ddl_migration!("m0011_delivery_queue_index");
