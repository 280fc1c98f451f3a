use sea_orm_migration::prelude::*;

// What replicas share beyond the data itself: a log of changes that make
// cached access stale (each replica polls it), and sign-in attempts, so
// throttling counts across replicas.
const UP: &str = "
CREATE TABLE change_log (
    seq {serial},
    account_id TEXT,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE TABLE signin_attempts (
    id {serial},
    bucket TEXT NOT NULL,
    at BIGINT NOT NULL,
    refused BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX signin_attempts_bucket ON signin_attempts (bucket, at)
";

const DOWN: &str = "DROP TABLE signin_attempts; DROP TABLE change_log";

crate::ddl_migration!("m0004_replicas");
