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

    /// The statements, in order (guards aside).
    #[cfg(test)]
    pub(super) fn statements(&self) -> &[Statement] {
        &self.statements
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

    /// Independent writes as one batch for one transaction. On SQLite they
    /// follow one another (a batch is one string there anyway). On
    /// PostgreSQL, where every statement is a round trip, writes of the same
    /// shape (the same statements in the same order: sixteen creates) run
    /// position by position: the same row lock is taken once, and
    /// single-row inserts of the same SQL become one multi-row insert. Each
    /// write's own statements keep their order; writes are independent, so
    /// their interleaving is free.
    pub fn merged(backend: DbBackend, writes: Vec<Batch>) -> Batch {
        let mut out = Batch::new(backend);
        if backend != DbBackend::Postgres {
            for w in writes {
                out.append(w);
            }
            return out;
        }
        // Writes by shape, in order of first appearance.
        let mut shapes: Vec<Vec<Batch>> = Vec::new();
        for w in writes {
            match shapes
                .iter_mut()
                .find(|s| s.first().is_some_and(|f| f.same_shape(&w)))
            {
                Some(s) => s.push(w),
                None => shapes.push(vec![w]),
            }
        }
        for same in shapes {
            let width = same.first().map_or(0, |w| w.statements.len());
            let mut columns: Vec<Vec<Statement>> = vec![Vec::with_capacity(same.len()); width];
            for w in same {
                for (column, st) in columns.iter_mut().zip(w.statements) {
                    column.push(st);
                }
                out.guards.extend(w.guards);
            }
            for column in columns {
                out.statements.extend(merge_position(column));
            }
        }
        out
    }

    fn same_shape(&self, other: &Batch) -> bool {
        self.statements.len() == other.statements.len()
            && self
                .statements
                .iter()
                .zip(&other.statements)
                .all(|(a, b)| a.sql == b.sql)
    }

    /// Runs the statements: one round trip on SQLite (two with guards); on
    /// PostgreSQL one per run of independent inserts and one per other
    /// statement or guard. The first failure stops the rest and is
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
            (DbBackend::Postgres, _) => {
                for s in super::pg_chain::chained(self.statements) {
                    db.execute_raw(s).await?;
                }
                Ok(())
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

/// PostgreSQL's limit of bound values in one statement.
pub(super) const PG_VALUES_MAX: usize = 65_535;

/// The statements at one position of same-shaped writes (equal SQL), as
/// fewer statements with the same effect.
fn merge_position(column: Vec<Statement>) -> Vec<Statement> {
    let Some(first) = column.first() else {
        return column;
    };
    if first.sql.trim_end().ends_with("FOR UPDATE") {
        // A row lock the transaction already holds is a no-op.
        let mut out: Vec<Statement> = Vec::new();
        for st in column {
            if !out.iter().any(|o| o.values == st.values) {
                out.push(st);
            }
        }
        return out;
    }
    if first.sql == super::events::PUSH_PG {
        return super::events::merge_pg(column);
    }
    let Some((head, width)) = single_row_insert(&first.sql) else {
        return column;
    };
    let head = head.to_owned();
    let rows_max = (PG_VALUES_MAX / width.max(1)).max(1);
    let mut out = Vec::new();
    let mut rest = column.into_iter().peekable();
    while rest.peek().is_some() {
        let chunk: Vec<Statement> = rest.by_ref().take(rows_max).collect();
        if chunk.len() == 1 {
            out.extend(chunk);
            continue;
        }
        let mut sql = head.clone();
        let mut values = Vec::with_capacity(chunk.len() * width);
        for (r, st) in chunk.into_iter().enumerate() {
            sql.push_str(if r == 0 { " (" } else { ", (" });
            for c in 0..width {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push('$');
                sql.push_str(&(r * width + c + 1).to_string());
            }
            sql.push(')');
            values.extend(st.values.map(|v| v.0).unwrap_or_default());
        }
        out.push(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ));
    }
    out
}

/// `INSERT INTO … VALUES ($1, …, $n)` and nothing after: the text up to and
/// including `VALUES`, and `n`. Anything else (a conflict clause, a select,
/// a literal in the row) is not merged.
fn single_row_insert(sql: &str) -> Option<(&str, usize)> {
    if !sql.starts_with("INSERT INTO ") {
        return None;
    }
    let at = sql.rfind(" VALUES (")?;
    let row = sql.get(at + " VALUES (".len()..)?.strip_suffix(')')?;
    let mut n = 0;
    for (i, p) in row.split(", ").enumerate() {
        if p != format!("${}", i + 1) {
            return None;
        }
        n += 1;
    }
    Some((sql.get(..at + " VALUES".len())?, n))
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

    fn pg(sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }

    const LOCK: &str = "SELECT id FROM accounts WHERE id = $1 FOR UPDATE";
    const ROW: &str = r#"INSERT INTO "t" ("a", "b") VALUES ($1, $2)"#;

    fn create(acct: &str, a: i64, b: &str) -> Batch {
        let mut w = Batch::new(DbBackend::Postgres);
        w.push(pg(LOCK, vec![acct.into()]));
        w.push(pg(ROW, vec![a.into(), b.into()]));
        w
    }

    #[test]
    fn only_plain_single_row_inserts_are_merged() {
        assert_eq!(
            single_row_insert(ROW),
            Some((r#"INSERT INTO "t" ("a", "b") VALUES"#, 2))
        );
        for other in [
            r#"INSERT INTO "t" ("a") VALUES ($1) ON CONFLICT DO NOTHING"#,
            r#"INSERT INTO "t" ("a", "b") VALUES ($1, 'x')"#,
            r#"INSERT INTO "t" ("a", "b") VALUES ($2, $1)"#,
            r#"INSERT INTO "t" ("a") SELECT $1"#,
            r#"UPDATE "t" SET "a" = $1"#,
        ] {
            assert_eq!(single_row_insert(other), None, "{other}");
        }
    }

    #[test]
    fn same_shaped_writes_merge_position_by_position_on_postgres() {
        let mut odd = Batch::new(DbBackend::Postgres);
        odd.push(pg(r#"UPDATE "t" SET "b" = $1"#, vec!["z".into()]));
        odd.push_guard(pg(r#"UPDATE "t" SET "a" = $1"#, vec![9i64.into()]));
        let writes = vec![
            create("acct-1", 1, "one"),
            odd,
            create("acct-1", 2, "two"),
            create("acct-2", 3, "three"),
        ];
        let m = Batch::merged(DbBackend::Postgres, writes);
        let sql: Vec<&str> = m.statements.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            sql,
            [
                LOCK,
                LOCK,
                r#"INSERT INTO "t" ("a", "b") VALUES ($1, $2), ($3, $4), ($5, $6)"#,
                r#"UPDATE "t" SET "b" = $1"#,
            ]
        );
        // One lock per account; the rows' values in the writes' order.
        let values = |i: usize| m.statements[i].values.clone().unwrap().0;
        assert_eq!(values(0), vec![Value::from("acct-1")]);
        assert_eq!(values(1), vec![Value::from("acct-2")]);
        assert_eq!(
            values(2),
            vec![
                1i64.into(),
                "one".into(),
                2i64.into(),
                "two".into(),
                3i64.into(),
                "three".into()
            ]
        );
        assert_eq!(m.guards.len(), 1);
    }

    #[test]
    fn on_sqlite_merged_writes_just_follow_one_another() {
        let w = |n: i64| {
            let mut b = Batch::new(DbBackend::Sqlite);
            b.push(insert(n, "x"));
            b
        };
        let m = Batch::merged(DbBackend::Sqlite, vec![w(1), w(2)]);
        assert_eq!(m.statements.len(), 2);
        assert_eq!(m.values(), 4);
    }
}
