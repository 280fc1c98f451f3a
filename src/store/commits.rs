//! Group commit: independent writes sent by concurrent requests committed
//! together in one transaction.
//!
//! Why: SQLite has one writer, and under sqlx every statement of a write
//! (BEGIN, the batch, COMMIT) is a hand-off to the connection's thread and
//! back. Sixteen creates in flight paid for three hand-offs each, one after
//! another; a group pays three for all of them.
//!
//! A write is acknowledged (its future resolves `Ok`) only after the
//! transaction holding it has committed, so an answer sent on `Ok` survives
//! a `kill -9` (WAL with `synchronous=NORMAL`: the commit is in the OS's
//! hands before COMMIT returns). When a group fails, nothing of it is kept
//! and each of its writes is retried alone, so one write's error (a
//! duplicate userName) is its own and never its neighbours'.
//!
//! On PostgreSQL the same holds for a different reason: writes of one
//! account that record events queue on the account's row lock (events are
//! numbered in commit order) through each COMMIT's WAL flush, so sixteen
//! creates in flight ran no faster than one; a group flushes once. There
//! every statement is a round trip, so same-shaped writes are merged
//! ([`Batch::merged`]: one lock, multi-row inserts).
//!
//! Only writes that need nothing from the database before they are built go
//! here: a [`Batch`] of statements.

use super::batch::Batch;
use super::write_txn;
use sea_orm::{DatabaseConnection, DbErr, RuntimeErr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Writes taken into one group at most.
const GROUP_MAX: usize = 64;
/// Bound values in one group at most (SQLite allows 32,766 per statement,
/// and there a group is one statement string).
const VALUES_MAX: usize = 16_000;
/// Writes waiting for the committer before senders wait too.
const QUEUE: usize = 1_024;

struct Job {
    batch: Batch,
    done: oneshot::Sender<Result<(), DbErr>>,
}

/// Where a write's batch goes to be committed: to the group committer (a
/// default `Commits`, as in tests of other parts, commits each alone).
#[derive(Clone, Debug, Default)]
pub struct Commits {
    grouped: Option<mpsc::Sender<Job>>,
    /// Transactions the committer has run (groups and writes retried alone).
    transactions: Arc<AtomicU64>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl Commits {
    /// Starts the committer task on the current runtime; it ends when the
    /// last `Commits` is dropped.
    pub fn start(db: &DatabaseConnection) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let transactions = Arc::new(AtomicU64::new(0));
        tokio::spawn(committer(db.clone(), rx, transactions.clone()));
        Commits {
            grouped: Some(tx),
            transactions,
        }
    }

    /// Commits `batch` in a transaction, alone or with others; `Ok` once it
    /// is committed. The error is this batch's own (a constraint it broke)
    /// or the database's.
    pub async fn commit(&self, db: &DatabaseConnection, batch: Batch) -> Result<(), DbErr> {
        let Some(tx) = &self.grouped else {
            return alone(db, batch).await;
        };
        let (done, answer) = oneshot::channel();
        tx.send(Job { batch, done }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Transactions the group committer has run so far.
    pub fn transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }
}

fn stopped() -> DbErr {
    DbErr::Conn(RuntimeErr::Internal(
        "the group committer has stopped".into(),
    ))
}

async fn alone(db: &DatabaseConnection, batch: Batch) -> Result<(), DbErr> {
    let txn = write_txn(db).await?;
    batch.run(&txn).await?;
    txn.commit().await
}

async fn committer(db: DatabaseConnection, mut rx: mpsc::Receiver<Job>, count: Arc<AtomicU64>) {
    while let Some(first) = rx.recv().await {
        let mut values = first.batch.values();
        let mut group = vec![first];
        // Whatever queued while the last group committed goes in this one.
        while group.len() < GROUP_MAX && values < VALUES_MAX {
            match rx.try_recv() {
                Ok(j) => {
                    values += j.batch.values();
                    group.push(j);
                }
                Err(_) => break,
            }
        }
        let n = run_group(&db, group).await;
        count.fetch_add(n, Ordering::Relaxed);
    }
}

/// Commits a group; returns the transactions it took.
async fn run_group(db: &DatabaseConnection, group: Vec<Job>) -> u64 {
    if group.len() == 1 {
        for j in group {
            let _ = j.done.send(alone(db, j.batch).await);
        }
        return 1;
    }
    let all = Batch::merged(
        db.get_database_backend(),
        group.iter().map(|j| j.batch.clone()).collect(),
    );
    let size = group.len();
    match together(db, all).await {
        Ok(()) => {
            tracing::debug!(size, "group committed");
            for j in group {
                let _ = j.done.send(Ok(()));
            }
            1
        }
        Err(e) => {
            // Rolled back whole: each write again, on its own, so each gets
            // its own answer.
            tracing::debug!(size, error = %e, "group failed; committing its writes one by one");
            for j in group {
                let _ = j.done.send(alone(db, j.batch).await);
            }
            1 + size as u64
        }
    }
}

async fn together(db: &DatabaseConnection, all: Batch) -> Result<(), DbErr> {
    let txn = write_txn(db).await?;
    all.run(&txn).await?;
    txn.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    async fn file_db() -> (tempfile::TempDir, DatabaseConnection) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
        let db = crate::store::connect(&url).await.unwrap();
        db.execute_unprepared("CREATE TABLE t (name TEXT NOT NULL UNIQUE)")
            .await
            .unwrap();
        (dir, db)
    }

    fn insert(name: &str) -> Batch {
        let mut b = Batch::new(DbBackend::Sqlite);
        b.push(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "INSERT INTO t (name) VALUES (?)",
            [name.into()],
        ));
        b
    }

    async fn names(db: &DatabaseConnection) -> Vec<String> {
        db.query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT name FROM t ORDER BY name",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect()
    }

    #[tokio::test]
    async fn concurrent_writes_commit_and_a_bad_one_fails_alone() {
        let (_dir, db) = file_db().await;
        let commits = Commits::start(&db);
        // 40 writes at once, one of them a duplicate of another: they queue
        // together, the group fails, and only the duplicate is refused.
        let mut names_sent: Vec<String> = (0..40).map(|i| format!("n{i:02}")).collect();
        names_sent.push("n07".into());
        let tasks: Vec<_> = names_sent
            .iter()
            .map(|n| {
                let (c, db, b) = (commits.clone(), db.clone(), insert(n));
                tokio::spawn(async move { c.commit(&db, b).await })
            })
            .collect();
        let mut refused = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => {}
                Err(e) => {
                    assert!(crate::store::is_unique_violation(&e), "{e}");
                    refused += 1;
                }
            }
        }
        assert_eq!(refused, 1);
        // More transactions than writes: a group held the duplicate, failed
        // whole, and its writes were retried alone (one by one would be 41).
        let t = commits.transactions();
        assert!(t > 41, "{t}");
        let expected: Vec<String> = (0..40).map(|i| format!("n{i:02}")).collect();
        assert_eq!(names(&db).await, expected);
    }

    #[tokio::test]
    async fn a_group_larger_than_the_limit_is_split_and_all_committed() {
        let (_dir, db) = file_db().await;
        let commits = Commits::start(&db);
        let tasks: Vec<_> = (0..(GROUP_MAX * 3))
            .map(|i| {
                let (c, db, b) = (commits.clone(), db.clone(), insert(&format!("m{i:04}")));
                tokio::spawn(async move { c.commit(&db, b).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(names(&db).await.len(), GROUP_MAX * 3);
        // 192 writes in a handful of transactions, none over the limit.
        let t = commits.transactions();
        assert!((3..=8).contains(&t), "{t} transactions");
    }

    #[tokio::test]
    async fn acknowledged_means_visible_to_another_connection() {
        let (dir, db) = file_db().await;
        let commits = Commits::start(&db);
        commits.commit(&db, insert("seen")).await.unwrap();
        let url = format!("sqlite://{}?mode=ro", dir.path().join("c.db").display());
        let other = crate::store::connect(&url).await.unwrap();
        assert_eq!(names(&other).await, vec!["seen".to_string()]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_groups_of_creates_merge_without_falling_back() {
        let (admin, db, name) = crate::store::test_pg::fresh("commits").await;
        let (acct, _) = crate::store::accounts::create(&db, "Acme", "admin@acme.test")
            .await
            .unwrap();
        let commits = Commits::start(&db);
        let n = 48;
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let mut b = Batch::new(DbBackend::Postgres);
                crate::store::audit::push(
                    &mut b,
                    crate::store::audit::Event::new(
                        Some(&acct.id),
                        "test",
                        "merge.test",
                        format!("t{i}"),
                    ),
                );
                crate::store::events::push(
                    &mut b,
                    &acct.id,
                    "user.created",
                    &format!("u{i}"),
                    serde_json::json!({"i": i}),
                );
                let (c, db) = (commits.clone(), db.clone());
                tokio::spawn(async move { c.commit(&db, b).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        // Grouped and never retried alone: fewer transactions than writes.
        let t = commits.transactions();
        assert!(t < n, "{t} transactions for {n} writes");
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT account_seq, subject FROM events WHERE account_id = $1 ORDER BY account_seq",
                [acct.id.clone().into()],
            ))
            .await
            .unwrap();
        let seqs: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get_by_index(0).unwrap())
            .collect();
        let first = seqs.first().copied().unwrap_or(1);
        let want: Vec<i64> = (first..first + n as i64).collect();
        assert_eq!(seqs, want, "numbered without gaps or repeats");
        let mut subjects: Vec<String> = rows
            .iter()
            .map(|r| r.try_get_by_index(1).unwrap())
            .collect();
        subjects.sort();
        let mut expected: Vec<String> = (0..n).map(|i| format!("u{i}")).collect();
        expected.sort();
        assert_eq!(subjects, expected);
        drop(db);
        admin
            .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
            .await
            .unwrap();
    }
}
