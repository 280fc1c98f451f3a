//! Rows a write records beside its change (its audit event, its change-log
//! entry, its outbox event and deliveries), sent to the database together.
//!
//! Why: sqlx's SQLite driver runs every statement on the connection's worker
//! thread, and each hand-off to that thread and back costs more than the
//! insert itself (the profiles of issue 14). A multi-statement string is one
//! hand-off: SQLite prepares and steps each statement in turn, binding plain
//! `?` parameters in order across them. PostgreSQL's extended protocol takes
//! one statement per query, so there they run one after another.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

/// Statements to run in order, in the caller's transaction.
#[derive(Clone, Debug)]
pub struct Batch {
    backend: DbBackend,
    statements: Vec<Statement>,
    /// Statements that must change exactly one row (see [`Batch::push_guard`]).
    guards: Vec<Statement>,
}

impl Batch {
    pub fn new(backend: DbBackend) -> Self {
        Batch {
            backend,
            statements: Vec::new(),
            guards: Vec::new(),
        }
    }

    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    /// Adds a statement. On SQLite its placeholders must be plain `?`
    /// (sea-query's, or written so): numbered ones would index the values of
    /// the whole batch.
    pub fn push(&mut self, statement: Statement) {
        self.statements.push(statement);
    }

    /// Adds a write that must change exactly one row (and can change no more:
    /// it names its row by key), else the batch fails
    /// with [`DbErr::RecordNotUpdated`] (and its transaction rolls back): an
    /// optimistic `UPDATE … WHERE version = ?` that another write got ahead of.
    /// Guards run before the other statements on SQLite (as one string of
    /// their own, whose row count is theirs; the rest stay one string) and
    /// after them elsewhere
    /// (the account's event lock comes first there, see `events::push`); so
    /// a guard must neither depend on nor be depended on by the batch's
    /// other statements.
    pub fn push_guard(&mut self, statement: Statement) {
        self.guards.push(statement);
    }

    /// Adds a statement to run before those already added.
    pub fn push_front(&mut self, statement: Statement) {
        self.statements.insert(0, statement);
    }

    pub fn len(&self) -> usize {
        self.statements.len() + self.guards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values bound across the statements.
    pub fn values(&self) -> usize {
        self.statements
            .iter()
            .chain(&self.guards)
            .map(|s| s.values.as_ref().map_or(0, |v| v.0.len()))
            .sum()
    }

    pub fn append(&mut self, other: Batch) {
        self.statements.extend(other.statements);
        self.guards.extend(other.guards);
    }

    /// Runs the statements: one round trip on SQLite (two with guards),
    /// one per statement elsewhere. The first failure stops the rest and is
    /// returned; the caller's transaction then rolls everything back.
    pub async fn run<C: ConnectionTrait>(mut self, db: &C) -> Result<(), DbErr> {
        let guards = std::mem::take(&mut self.guards);
        if self.backend == DbBackend::Sqlite {
            // All guards in one string: each changes at most one row (it
            // names one by key), so their total says whether every one hit.
            let n = guards.len() as u64;
            if n > 0 && db.execute_raw(joined(guards)).await?.rows_affected() != n {
                return Err(DbErr::RecordNotUpdated);
            }
            return self.run_statements(db).await;
        }
        self.run_statements(db).await?;
        for g in guards {
            if db.execute_raw(g).await?.rows_affected() != 1 {
                return Err(DbErr::RecordNotUpdated);
            }
        }
        Ok(())
    }

    async fn run_statements<C: ConnectionTrait>(self, db: &C) -> Result<(), DbErr> {
        match (self.backend, self.statements.len()) {
            (_, 0) => Ok(()),
            (DbBackend::Sqlite, n) if n > 1 => {
                db.execute_raw(joined(self.statements)).await.map(drop)
            }
            _ => {
                for s in self.statements {
                    db.execute_raw(s).await?;
                }
                Ok(())
            }
        }
    }
}

/// One SQLite statement string of all of them, values in order.
fn joined(statements: Vec<Statement>) -> Statement {
    let mut sql = String::new();
    let mut values: Vec<Value> = Vec::new();
    for s in statements {
        sql.push_str(s.sql.trim_end().trim_end_matches(';'));
        sql.push_str(";\n");
        if let Some(v) = s.values {
            values.extend(v.0);
        }
    }
    Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{Database, DatabaseConnection};

    async fn db() -> DatabaseConnection {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        db.execute_unprepared("CREATE TABLE t (a INTEGER, b TEXT)")
            .await
            .unwrap();
        db
    }

    fn insert(a: i64, b: &str) -> Statement {
        Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "INSERT INTO t (a, b) VALUES (?, ?)",
            [a.into(), b.into()],
        )
    }

    async fn rows(db: &DatabaseConnection) -> Vec<(i64, String)> {
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT a, b FROM t ORDER BY rowid",
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|r| (r.try_get("", "a").unwrap(), r.try_get("", "b").unwrap()))
            .collect()
    }

    #[tokio::test]
    async fn values_bind_in_order_across_statements() {
        let db = db().await;
        let mut b = Batch::new(DbBackend::Sqlite);
        b.push(insert(1, "one"));
        b.push(Statement::from_string(
            DbBackend::Sqlite,
            "INSERT INTO t (a, b) VALUES (2, 'two');",
        ));
        b.push(insert(3, "three"));
        b.run(&db).await.unwrap();
        assert_eq!(
            rows(&db).await,
            vec![(1, "one".into()), (2, "two".into()), (3, "three".into())]
        );
    }

    #[tokio::test]
    async fn a_failing_statement_fails_the_batch_and_its_transaction() {
        use sea_orm::TransactionTrait;
        let db = db().await;
        db.execute_unprepared("CREATE UNIQUE INDEX t_a ON t (a)")
            .await
            .unwrap();
        let txn = db.begin().await.unwrap();
        let mut b = Batch::new(DbBackend::Sqlite);
        b.push(insert(1, "one"));
        b.push(insert(1, "again"));
        b.push(insert(2, "two"));
        assert!(b.run(&txn).await.is_err());
        txn.rollback().await.unwrap();
        assert!(rows(&db).await.is_empty());
    }

    fn set_b(a: i64, b: &str) -> Statement {
        Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "UPDATE t SET b = ? WHERE a = ?",
            [b.into(), a.into()],
        )
    }

    #[tokio::test]
    async fn a_guard_that_changes_no_row_fails_the_batch_and_nothing_is_kept() {
        use sea_orm::TransactionTrait;
        let db = db().await;
        let mut seed = Batch::new(DbBackend::Sqlite);
        seed.push(insert(1, "one"));
        seed.push(insert(2, "two"));
        seed.run(&db).await.unwrap();
        // Guards that hit their rows: they and the rest are written.
        let txn = db.begin().await.unwrap();
        let mut b = Batch::new(DbBackend::Sqlite);
        b.push(insert(3, "three"));
        b.push_guard(set_b(1, "uno"));
        b.push_guard(set_b(2, "deux"));
        b.run(&txn).await.unwrap();
        txn.commit().await.unwrap();
        // A guard that misses (no row 9), beside one that hits: the error
        // says so, and the transaction keeps nothing of the batch.
        let txn = db.begin().await.unwrap();
        let mut b = Batch::new(DbBackend::Sqlite);
        b.push(insert(4, "four"));
        b.push_guard(set_b(2, "dos"));
        b.push_guard(set_b(9, "nueve"));
        assert_eq!(b.len(), 3);
        assert!(matches!(b.run(&txn).await, Err(DbErr::RecordNotUpdated)));
        txn.rollback().await.unwrap();
        assert_eq!(
            rows(&db).await,
            vec![(1, "uno".into()), (2, "deux".into()), (3, "three".into())]
        );
    }
}
