use sea_orm_migration::prelude::*;

// The outbox: every change that matters to the platform becomes an event,
// written in the change's own transaction. `account_seq` orders an
// account's events in commit order (writers of one account take the
// account row's lock first on PostgreSQL). Webhook endpoints get one
// delivery row per matching event, written in the same transaction too, so
// nothing acknowledged can miss its deliveries.
const UP: &str = "
CREATE TABLE events (
    seq {serial},
    id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    account_seq BIGINT NOT NULL,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    payload TEXT NOT NULL,
    UNIQUE (account_id, account_seq)
);
CREATE INDEX events_time ON events (occurred_at);
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    types TEXT NOT NULL DEFAULT '',
    secret TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    failing_since BIGINT,
    disabled_reason TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id);
CREATE TABLE webhook_deliveries (
    id {serial},
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_seq BIGINT NOT NULL REFERENCES events(seq) ON DELETE CASCADE,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    delivered_at BIGINT,
    last_status INTEGER,
    last_error TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, event_seq);
CREATE TABLE webhook_attempts (
    id {serial},
    delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    status_code INTEGER,
    error TEXT,
    response TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id)
";

const DOWN: &str = "
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE events
";

crate::ddl_migration!("m0010_events");
