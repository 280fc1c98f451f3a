//! Sign-in throttling: a sliding window of attempts per bucket, kept in the
//! database so every replica counts the same attempts.
//!
//! An attempt is *reserved* before its credential is checked, inside one
//! write transaction that also counts the window (serialised per bucket:
//! SQLite's write lock, a PostgreSQL advisory lock), so concurrent attempts
//! cannot all slip past the check, whichever replica they reach. A
//! successful sign-in hands its reservation back. After `limit` attempts
//! within `window`, further ones are refused until the oldest ages out.
//! Any database error refuses the attempt: throttling never turns off.

use crate::store::entities::signin_attempt;
use crate::store::{now_ms, write_txn};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, QueryFilter, QueryOrder, Set, Statement,
};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: Duration,
    /// The first refusal of this bucket in its window: worth an audit
    /// event; the rest of a flood is not.
    pub first: bool,
}

/// A held attempt: handed back with [`Throttles::release`].
#[derive(Debug, Clone, Copy)]
pub struct Reservation {
    user: i64,
    client: i64,
}

#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub attempts: usize,
    pub window: Duration,
}

pub struct Throttles {
    pub per_user: Limit,
    pub per_client: Limit,
}

impl Default for Throttles {
    fn default() -> Self {
        Throttles {
            per_user: Limit {
                attempts: 5,
                window: Duration::from_secs(300),
            },
            per_client: Limit {
                attempts: 30,
                window: Duration::from_secs(300),
            },
        }
    }
}

impl Throttles {
    /// Reserves one attempt in the user's and the client's buckets, or
    /// says how long to wait.
    pub async fn reserve(
        &self,
        db: &DatabaseConnection,
        user_bucket: &str,
        client_bucket: &str,
    ) -> Result<Result<Reservation, Throttled>, DbErr> {
        let user = match reserve(db, &format!("u:{user_bucket}"), self.per_user).await? {
            Ok(id) => id,
            Err(t) => return Ok(Err(t)),
        };
        match reserve(db, &format!("c:{client_bucket}"), self.per_client).await? {
            Ok(client) => Ok(Ok(Reservation { user, client })),
            Err(t) => {
                release(db, user).await?;
                Ok(Err(t))
            }
        }
    }

    /// Counts an attempt against the client alone (an unknown account).
    pub async fn reserve_client(
        &self,
        db: &DatabaseConnection,
        client_bucket: &str,
    ) -> Result<Result<(), Throttled>, DbErr> {
        Ok(reserve(db, &format!("c:{client_bucket}"), self.per_client)
            .await?
            .map(|_| ()))
    }

    /// Hands both reservations back (the attempt was not made).
    pub async fn release(&self, db: &DatabaseConnection, r: Reservation) -> Result<(), DbErr> {
        release(db, r.user).await?;
        release(db, r.client).await
    }

    /// A successful sign-in: the user's window starts over and the
    /// client's attempt does not count.
    pub async fn succeeded(
        &self,
        db: &DatabaseConnection,
        user_bucket: &str,
        r: Reservation,
    ) -> Result<(), DbErr> {
        signin_attempt::Entity::delete_many()
            .filter(signin_attempt::Column::Bucket.eq(format!("u:{user_bucket}")))
            .exec(db)
            .await?;
        release(db, r.client).await
    }
}

async fn release(db: &DatabaseConnection, id: i64) -> Result<(), DbErr> {
    signin_attempt::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

async fn reserve(
    db: &DatabaseConnection,
    bucket: &str,
    limit: Limit,
) -> Result<Result<i64, Throttled>, DbErr> {
    let window_ms = i64::try_from(limit.window.as_millis()).unwrap_or(i64::MAX);
    let now = now_ms();
    let txn = write_txn(db).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        // Serialises reservations of one bucket across replicas.
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            [bucket.into()],
        ))
        .await?;
    }
    signin_attempt::Entity::delete_many()
        .filter(signin_attempt::Column::Bucket.eq(bucket))
        .filter(signin_attempt::Column::At.lte(now - window_ms))
        .exec(&txn)
        .await?;
    let rows = signin_attempt::Entity::find()
        .filter(signin_attempt::Column::Bucket.eq(bucket))
        .order_by_asc(signin_attempt::Column::At)
        .all(&txn)
        .await?;
    let attempts: Vec<&signin_attempt::Model> = rows.iter().filter(|r| !r.refused).collect();
    if attempts.len() >= limit.attempts {
        let oldest = attempts.first().map_or(now, |r| r.at);
        let reported = rows.iter().any(|r| r.refused);
        if !reported {
            insert(&txn, bucket, now, true).await?;
        }
        txn.commit().await?;
        let wait_ms = (oldest + window_ms - now).max(1000);
        return Ok(Err(Throttled {
            retry_after: Duration::from_millis(u64::try_from(wait_ms).unwrap_or(1000)),
            first: !reported,
        }));
    }
    let id = insert(&txn, bucket, now, false).await?;
    txn.commit().await?;
    Ok(Ok(id))
}

async fn insert<C: ConnectionTrait>(
    db: &C,
    bucket: &str,
    at: i64,
    refused: bool,
) -> Result<i64, DbErr> {
    Ok(signin_attempt::ActiveModel {
        bucket: Set(bucket.into()),
        at: Set(at),
        refused: Set(refused),
        ..Default::default()
    }
    .insert(db)
    .await?
    .id)
}
