//! The hot read paths (SCIM resources) on the request's own thread.
//!
//! sqlx's SQLite driver hands every statement to its connection's worker
//! thread and back. For a point read that hand-off costs more than the read
//! itself: profiled under load, a SCIM lookup spent most of its time in the
//! kernel switching threads. On a SQLite file these reads run through
//! rusqlite on the calling thread, from a few read-only connections (WAL
//! lets them read beside the writer); on PostgreSQL they go to the sea-orm
//! pool. The statements are the same sea-query builds either way.

use super::point_reads::PointReads;
use rusqlite::types::ValueRef;
use sea_orm::sea_query::{Expr, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ColumnType, ConnectionTrait, DatabaseConnection, DbBackend,
    DbErr, EntityTrait, Iterable, PaginatorTrait, QueryResult, QuerySelect, QueryTrait, RuntimeErr,
    Select, Statement, TryIntoModel, Value,
};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A column's type, as a read decodes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Col {
    Text,
    Int,
    BigInt,
    Bool,
}

impl Col {
    fn of(t: &ColumnType) -> Self {
        match t {
            ColumnType::Integer | ColumnType::SmallInteger | ColumnType::TinyInteger => Col::Int,
            ColumnType::BigInteger => Col::BigInt,
            ColumnType::Boolean => Col::Bool,
            _ => Col::Text,
        }
    }

    fn null(self) -> Value {
        match self {
            Col::Text => Value::String(None),
            Col::Int => Value::Int(None),
            Col::BigInt => Value::BigInt(None),
            Col::Bool => Value::Bool(None),
        }
    }
}

/// One row of [`ReadConn::rows`], by position.
#[derive(Debug)]
pub struct Row(Vec<Value>);

impl Row {
    pub fn get<T: sea_orm::sea_query::ValueType>(&self, i: usize) -> Result<T, DbErr> {
        let v = self
            .0
            .get(i)
            .cloned()
            .ok_or_else(|| DbErr::Type(format!("no column {i}")))?;
        T::try_from(v).map_err(|e| DbErr::Type(format!("column {i}: {e}")))
    }

    /// [`Row::get`] without a copy: the column is moved out (read again, it
    /// is NULL). For rows read once, text by text, such as a page's groups.
    pub fn take<T: sea_orm::sea_query::ValueType>(&mut self, i: usize) -> Result<T, DbErr> {
        let v = self
            .0
            .get_mut(i)
            .map(|v| {
                let null = v.as_null();
                std::mem::replace(v, null)
            })
            .ok_or_else(|| DbErr::Type(format!("no column {i}")))?;
        T::try_from(v).map_err(|e| DbErr::Type(format!("column {i}: {e}")))
    }
}

/// Reads that run on a sea-orm connection or transaction, or inline.
pub trait ReadConn: Sync {
    fn backend(&self) -> DbBackend;

    fn all<E>(&self, q: Select<E>) -> impl Future<Output = Result<Vec<E::Model>, DbErr>> + Send
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>;

    fn one<E>(&self, q: Select<E>) -> impl Future<Output = Result<Option<E::Model>, DbErr>> + Send
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>;

    /// Rows of a count of `q` (its order and window ignored).
    fn count<E>(&self, q: Select<E>) -> impl Future<Output = Result<u64, DbErr>> + Send
    where
        E: EntityTrait,
        E::Model: Send + Sync;

    /// Rows of any select, each column decoded as `cols` says.
    fn rows(
        &self,
        q: SelectStatement,
        cols: &[Col],
    ) -> impl Future<Output = Result<Vec<Row>, DbErr>> + Send;

    /// An entity's rows from a built statement (a [`super::shapes::Shape`]).
    fn models<E>(
        &self,
        stmt: Statement,
    ) -> impl Future<Output = Result<Vec<E::Model>, DbErr>> + Send
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>;

    /// Rows of a built statement, each column decoded as `cols` says.
    fn rows_of(
        &self,
        stmt: Statement,
        cols: &[Col],
    ) -> impl Future<Output = Result<Vec<Row>, DbErr>> + Send;

    /// Like [`ReadConn::models`], with the text columns named `extra` (not
    /// the entity's: computed by the statement) beside each model, in order.
    fn models_with<E>(
        &self,
        stmt: Statement,
        extra: &'static [&'static str],
    ) -> impl Future<Output = Result<Vec<Extended<E>>, DbErr>> + Send
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>;

    /// Rows of a [`direct_statement`] as `T`.
    fn direct<T: Direct>(
        &self,
        stmt: Statement,
    ) -> impl Future<Output = Result<Vec<T>, DbErr>> + Send;

    /// Point reads of users that this connection batches, if it does
    /// (`store::point_reads`).
    fn point_reads(&self) -> Option<&Arc<PointReads>> {
        None
    }
}

/// A model and the extra text columns read with it.
pub type Extended<E> = (<E as EntityTrait>::Model, Vec<Option<String>>);

/// Pooled rows as `E`'s models, each with the text columns named `extra`.
pub fn extended<E: EntityTrait>(
    found: &[sea_orm::QueryResult],
    extra: &[&str],
) -> Result<Vec<Extended<E>>, DbErr> {
    use sea_orm::FromQueryResult;
    found
        .iter()
        .map(|r| {
            let extras = extra
                .iter()
                .map(|n| r.try_get::<Option<String>>("", n))
                .collect::<Result<_, _>>()?;
            Ok((E::Model::from_query_result(r, "")?, extras))
        })
        .collect()
}

/// A row read by position, straight from the database's own row: what a
/// hot read needs of a table and no more, without an entity's model, its
/// active model and a sea-orm value per column. Why: decoding a list
/// page's users as models, every column of every row, was about a sixth
/// of the page's CPU.
pub trait Direct: Sized + Send {
    /// The columns read, in the order [`Direct::decode`] reads them.
    const COLUMNS: &'static [&'static str];

    /// The row of an inline read.
    fn decode(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;

    /// The row of a pooled read.
    fn from_pooled(r: &QueryResult) -> Result<Self, DbErr>;
}

/// `q` selecting exactly `T`'s columns, in order (its conditions, order and
/// window kept), built for `backend`.
pub fn direct_statement<E: EntityTrait, T: Direct>(q: Select<E>, backend: DbBackend) -> Statement {
    let mut q = q.into_query();
    q.clear_selects();
    for c in T::COLUMNS {
        q.column((E::default(), sea_orm::sea_query::Alias::new(*c)));
    }
    backend.build(&q)
}

impl<C: ConnectionTrait> ReadConn for C {
    fn backend(&self) -> DbBackend {
        self.get_database_backend()
    }

    async fn all<E>(&self, q: Select<E>) -> Result<Vec<E::Model>, DbErr>
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        q.all(self).await
    }

    async fn one<E>(&self, q: Select<E>) -> Result<Option<E::Model>, DbErr>
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        q.one(self).await
    }

    async fn count<E>(&self, q: Select<E>) -> Result<u64, DbErr>
    where
        E: EntityTrait,
        E::Model: Send + Sync,
    {
        PaginatorTrait::count(q, self).await
    }

    async fn rows(&self, q: SelectStatement, cols: &[Col]) -> Result<Vec<Row>, DbErr> {
        self.rows_of(self.get_database_backend().build(&q), cols)
            .await
    }

    async fn models<E>(&self, stmt: Statement) -> Result<Vec<E::Model>, DbErr>
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        E::find().from_raw_sql(stmt).all(self).await
    }

    async fn models_with<E>(
        &self,
        stmt: Statement,
        extra: &'static [&'static str],
    ) -> Result<Vec<Extended<E>>, DbErr>
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        extended::<E>(&self.query_all_raw(stmt).await?, extra)
    }

    async fn rows_of(&self, stmt: Statement, cols: &[Col]) -> Result<Vec<Row>, DbErr> {
        let found = self.query_all_raw(stmt).await?;
        found
            .iter()
            .map(|r| {
                let values = cols
                    .iter()
                    .enumerate()
                    .map(|(i, c)| pooled_value(r, i, *c))
                    .collect::<Result<_, _>>()?;
                Ok(Row(values))
            })
            .collect()
    }

    async fn direct<T: Direct>(&self, stmt: Statement) -> Result<Vec<T>, DbErr> {
        let found = self.query_all_raw(stmt).await?;
        found.iter().map(T::from_pooled).collect()
    }
}

fn pooled_value(r: &QueryResult, i: usize, c: Col) -> Result<Value, DbErr> {
    Ok(match c {
        Col::Text => Value::String(r.try_get_by_index(i)?),
        Col::Int => Value::Int(r.try_get_by_index(i)?),
        Col::BigInt => Value::BigInt(r.try_get_by_index(i)?),
        Col::Bool => Value::Bool(r.try_get_by_index(i)?),
    })
}

/// Where the hot reads go: inline on a SQLite file, else the read pool.
#[derive(Clone, Debug)]
pub enum Reads {
    Inline(Arc<Inline>),
    /// One connection in one read transaction (see [`Reads::snapshot`]).
    Held(Arc<Held>),
    /// A pool, with its batched point reads on PostgreSQL.
    Pool(DatabaseConnection, Option<Arc<PointReads>>),
}

impl Reads {
    /// Inline when `read` is a pool on a SQLite file (asked of SQLite
    /// itself, so the path is the one the pool opened), else `read`.
    pub async fn open(read: &DatabaseConnection) -> Result<Self, DbErr> {
        if read.get_database_backend() != DbBackend::Sqlite {
            return Ok(Self::Pool(read.clone(), None));
        }
        let list = Statement::from_string(DbBackend::Sqlite, "PRAGMA database_list");
        let mut file = String::new();
        for r in read.query_all_raw(list).await? {
            if r.try_get::<String>("", "name")? == "main" {
                file = r.try_get::<Option<String>>("", "file")?.unwrap_or_default();
            }
        }
        if file.is_empty() {
            // In-memory: no other connection can see it.
            return Ok(Self::Pool(read.clone(), None));
        }
        let inline = Inline {
            path: PathBuf::from(file),
            idle: Mutex::new(Vec::new()),
        };
        // Opened now, so a file that cannot be read fails at start.
        inline.with(|_| Ok(()))?;
        Ok(Self::Inline(Arc::new(inline)))
    }

    /// These reads, with point reads of users batched on `points` (a pool of
    /// [`super::connect_point_reads`]) when they go to a pool.
    pub fn with_point_reads(self, points: Option<DatabaseConnection>) -> Self {
        match (self, points) {
            (Reads::Pool(db, _), Some(p)) => Reads::Pool(db, Some(PointReads::new(p))),
            (other, _) => other,
        }
    }
}

impl ReadConn for Reads {
    fn point_reads(&self) -> Option<&Arc<PointReads>> {
        match self {
            Reads::Pool(_, points) => points.as_ref(),
            _ => None,
        }
    }

    fn backend(&self) -> DbBackend {
        match self {
            Reads::Inline(_) | Reads::Held(_) => DbBackend::Sqlite,
            Reads::Pool(db, _) => db.get_database_backend(),
        }
    }

    async fn all<E>(&self, q: Select<E>) -> Result<Vec<E::Model>, DbErr>
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        match self {
            Reads::Inline(i) => i.models::<E>(&q.build(DbBackend::Sqlite)),
            Reads::Held(h) => h.models::<E>(&q.build(DbBackend::Sqlite)),
            Reads::Pool(db, _) => q.all(db).await,
        }
    }

    async fn one<E>(&self, q: Select<E>) -> Result<Option<E::Model>, DbErr>
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        match self {
            Reads::Inline(i) => Ok(i
                .models::<E>(&q.limit(1).build(DbBackend::Sqlite))?
                .into_iter()
                .next()),
            Reads::Held(h) => Ok(h
                .models::<E>(&q.limit(1).build(DbBackend::Sqlite))?
                .into_iter()
                .next()),
            Reads::Pool(db, _) => q.one(db).await,
        }
    }

    async fn count<E>(&self, q: Select<E>) -> Result<u64, DbErr>
    where
        E: EntityTrait,
        E::Model: Send + Sync,
    {
        match self {
            Reads::Inline(i) => i.count(q),
            Reads::Held(h) => h.count(q),
            Reads::Pool(db, _) => PaginatorTrait::count(q, db).await,
        }
    }

    async fn rows(&self, q: SelectStatement, cols: &[Col]) -> Result<Vec<Row>, DbErr> {
        match self {
            Reads::Inline(i) => i.rows(&DbBackend::Sqlite.build(&q), cols),
            Reads::Held(h) => h.rows(&DbBackend::Sqlite.build(&q), cols),
            Reads::Pool(db, _) => db.rows(q, cols).await,
        }
    }

    async fn models<E>(&self, stmt: Statement) -> Result<Vec<E::Model>, DbErr>
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        match self {
            Reads::Inline(i) => i.models::<E>(&stmt),
            Reads::Held(h) => h.models::<E>(&stmt),
            Reads::Pool(db, _) => db.models::<E>(stmt).await,
        }
    }

    async fn rows_of(&self, stmt: Statement, cols: &[Col]) -> Result<Vec<Row>, DbErr> {
        match self {
            Reads::Inline(i) => i.rows(&stmt, cols),
            Reads::Held(h) => h.rows(&stmt, cols),
            Reads::Pool(db, _) => db.rows_of(stmt, cols).await,
        }
    }

    async fn models_with<E>(
        &self,
        stmt: Statement,
        extra: &'static [&'static str],
    ) -> Result<Vec<Extended<E>>, DbErr>
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        match self {
            Reads::Inline(i) => i.models_with::<E>(&stmt, extra),
            Reads::Held(h) => h.models_with::<E>(&stmt, extra),
            Reads::Pool(db, _) => db.models_with::<E>(stmt, extra).await,
        }
    }

    async fn direct<T: Direct>(&self, stmt: Statement) -> Result<Vec<T>, DbErr> {
        match self {
            Reads::Inline(i) => i.direct(&stmt),
            Reads::Held(h) => h.direct(&stmt),
            Reads::Pool(db, _) => db.direct(stmt).await,
        }
    }
}

impl Reads {
    /// Reads that see one state of the database: on a SQLite file, one
    /// connection in one read transaction until the last clone is dropped,
    /// so a resource and its groups and roles are read together, and a
    /// request pays for one transaction's locks instead of one per
    /// statement (a sixth of a lookup's CPU in the profile). Elsewhere, the
    /// same reads as `self`.
    pub fn snapshot(&self) -> Result<Reads, DbErr> {
        let Reads::Inline(i) = self else {
            return Ok(self.clone());
        };
        let conn = i.take()?;
        // Deferred: the transaction starts at the first read.
        conn.prepare_cached("BEGIN")
            .and_then(|mut s| s.execute([]))
            .map_err(sqlite_err)?;
        Ok(Reads::Held(Arc::new(Held {
            inline: i.clone(),
            conn: Mutex::new(Some(conn)),
        })))
    }

    /// Every `n`th row of `q` (the `n`th, `2n`th, ...), each decoded as
    /// `cols` says; `None` on the pool, where stepping over rows would
    /// fetch them all. Runs off the request threads: it walks every row.
    pub async fn every_nth(
        &self,
        q: SelectStatement,
        n: usize,
        cols: &[Col],
    ) -> Result<Option<Vec<Row>>, DbErr> {
        let Reads::Inline(i) = self else {
            return Ok(None);
        };
        let (i, cols) = (i.clone(), cols.to_vec());
        let stmt = DbBackend::Sqlite.build(&q);
        tokio::task::spawn_blocking(move || i.every_nth(&stmt, n.max(1), &cols))
            .await
            .map_err(|e| DbErr::Custom(format!("anchor scan: {e}")))?
            .map(Some)
    }
}

/// Read-only rusqlite connections to one SQLite file, used on the caller's
/// thread and returned for the next read.
#[derive(Debug)]
pub struct Inline {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

/// Connections kept between reads; more are opened under a burst and closed after.
const IDLE_MAX: usize = 32;
/// Distinct statements (shapes of query) kept prepared per connection.
const PREPARED: usize = 64;
/// Page cache per inline connection, in KiB (SQLite's default is 2,000).
/// The OS caches the file for all of them; a private cache per connection
/// saves a `pread` per page. Sized by `bench/scale.sh` at 1M users: while
/// SQLite kept every connection's cache in one process-wide group, 2 MB
/// each took the server from 74 to 185 MB (512 KiB: 113 MB). Built without
/// that group (`.cargo/config.toml`), requests hold fewer connections at
/// once; with 4 MiB, list pages of 100 ran 11% faster at 100k users (a
/// quarter of the page's SQLite time had been `pread`) and the whole
/// benchmark at 1M peaked at 106 MB.
pub const INLINE_CACHE_KIB: i64 = 4096;

fn sqlite_err(e: rusqlite::Error) -> DbErr {
    DbErr::Query(RuntimeErr::Internal(format!("sqlite: {e}")))
}

impl Inline {
    fn open(&self) -> Result<rusqlite::Connection, DbErr> {
        use rusqlite::OpenFlags;
        let c = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite_err)?;
        c.busy_timeout(Duration::from_secs(10))
            .map_err(sqlite_err)?;
        // Without the planner's stability guarantee, SQLite re-prepares a
        // statement whenever a new binding might change its plan: the
        // profile of a lookup spent 29% of the server's CPU re-parsing.
        c.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(sqlite_err)?;
        c.set_prepared_statement_cache_capacity(PREPARED);
        c.pragma_update(None, "cache_size", -INLINE_CACHE_KIB)
            .map_err(sqlite_err)?;
        Ok(c)
    }

    /// An idle connection, or a new one.
    fn take(&self) -> Result<rusqlite::Connection, DbErr> {
        // A poisoned list only means a panic elsewhere: open a fresh connection.
        match self.idle.lock().ok().and_then(|mut v| v.pop()) {
            Some(c) => Ok(c),
            None => self.open(),
        }
    }

    fn give_back(&self, conn: rusqlite::Connection) {
        if let Ok(mut v) = self.idle.lock() {
            if v.len() < IDLE_MAX {
                v.push(conn);
            }
        }
    }
}

impl Source for Inline {
    fn with<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T, DbErr>,
    ) -> Result<T, DbErr> {
        let conn = self.take()?;
        let out = f(&conn);
        self.give_back(conn);
        out
    }
}

/// A connection held in a read transaction by a [`Reads::snapshot`].
#[derive(Debug)]
pub struct Held {
    inline: Arc<Inline>,
    conn: Mutex<Option<rusqlite::Connection>>,
}

impl Source for Held {
    fn with<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T, DbErr>,
    ) -> Result<T, DbErr> {
        let guard = self
            .conn
            .lock()
            .map_err(|_| DbErr::Custom("a read snapshot's connection was poisoned".into()))?;
        match guard.as_ref() {
            Some(c) => f(c),
            None => Err(DbErr::Custom("a read snapshot has ended".into())),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(conn) = self.conn.get_mut().ok().and_then(Option::take) else {
            return;
        };
        // Ends the read transaction; a connection that cannot is closed.
        let ended = conn
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]))
            .is_ok();
        if ended {
            self.inline.give_back(conn);
        }
    }
}

/// Where inline reads get a connection, and what they do with it.
trait Source {
    fn with<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T, DbErr>,
    ) -> Result<T, DbErr>;

    /// Runs `stmt`, handing each row to `each` (its statement, through
    /// `row.as_ref()`, names the columns).
    fn query(
        &self,
        stmt: &Statement,
        mut each: impl FnMut(&rusqlite::Row<'_>) -> Result<(), DbErr>,
    ) -> Result<(), DbErr> {
        self.with(|c| {
            let mut s = c.prepare_cached(&stmt.sql).map_err(sqlite_err)?;
            if let Some(values) = &stmt.values {
                for (i, v) in values.0.iter().enumerate() {
                    bind(&mut s, i + 1, v)?;
                }
            }
            let mut rows = s.raw_query();
            while let Some(row) = rows.next().map_err(sqlite_err)? {
                each(row)?;
            }
            Ok(())
        })
    }

    /// Rows of an entity's select as its models: each column set on an
    /// active model by name, decoded as the entity declares it.
    fn models<E>(&self, stmt: &Statement) -> Result<Vec<E::Model>, DbErr>
    where
        E: EntityTrait,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        let rows = self.models_with::<E>(stmt, &[])?;
        Ok(rows.into_iter().map(|(m, _)| m).collect())
    }

    /// [`Source::models`] with the text columns named `extra` beside each.
    fn models_with<E>(&self, stmt: &Statement, extra: &[&str]) -> Result<Vec<Extended<E>>, DbErr>
    where
        E: EntityTrait,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        let mut layout = layouts::find::<E>(&stmt.sql, extra);
        let mut checked = false;
        let mut out = Vec::new();
        self.query(stmt, |row| {
            // A kept layout holds while the statement names the same columns
            // (a schema changed under the same text would move them).
            if !checked {
                checked = true;
                if layout.as_ref().is_some_and(|l| !l.2.same_as(row.as_ref())) {
                    layout = None;
                }
            }
            let layout = layout.get_or_insert_with(|| {
                let names = row.as_ref().column_names();
                layouts::keep::<E>(
                    &stmt.sql,
                    extra,
                    (
                        names.iter().map(|n| column::<E>(n)).collect(),
                        extra
                            .iter()
                            .map(|x| names.iter().position(|n| n == x))
                            .collect(),
                        Names(names.iter().map(|n| n.to_string()).collect()),
                    ),
                )
            });
            let (columns, at, _) = &**layout;
            let mut m = E::ActiveModel::default();
            for (i, c) in columns.iter().enumerate() {
                if let Some((c, col)) = c {
                    m.try_set(*c, value(row, i, *col)?)?;
                }
            }
            let extras = at
                .iter()
                .zip(extra)
                .map(|(i, name)| match i {
                    Some(i) => row.get::<_, Option<String>>(*i).map_err(sqlite_err),
                    None => Err(DbErr::Type(format!("no column {name}"))),
                })
                .collect::<Result<_, _>>()?;
            out.push((m.try_into_model()?, extras));
            Ok(())
        })?;
        Ok(out)
    }

    fn direct<T: Direct>(&self, stmt: &Statement) -> Result<Vec<T>, DbErr> {
        let mut out = Vec::new();
        self.query(stmt, |row| {
            out.push(T::decode(row).map_err(sqlite_err)?);
            Ok(())
        })?;
        Ok(out)
    }

    fn count<E: EntityTrait>(&self, q: Select<E>) -> Result<u64, DbErr> {
        let inner = q
            .into_query()
            .reset_limit()
            .reset_offset()
            .clear_order_by()
            .to_owned();
        let outer = SelectStatement::new()
            .expr(Expr::cust("COUNT(*)"))
            .from_subquery(inner, "sub_query")
            .to_owned();
        let rows = self.rows(&DbBackend::Sqlite.build(&outer), &[Col::BigInt])?;
        let n: i64 = rows.first().map_or(Ok(0), |r| r.get(0))?;
        u64::try_from(n).map_err(|e| DbErr::Type(e.to_string()))
    }

    fn every_nth(&self, stmt: &Statement, n: usize, cols: &[Col]) -> Result<Vec<Row>, DbErr> {
        let (mut out, mut seen) = (Vec::new(), 0usize);
        self.query(stmt, |row| {
            seen += 1;
            if seen % n == 0 {
                out.push(decoded(row, cols)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    fn rows(&self, stmt: &Statement, cols: &[Col]) -> Result<Vec<Row>, DbErr> {
        let mut out = Vec::new();
        self.query(stmt, |row| {
            out.push(decoded(row, cols)?);
            Ok(())
        })?;
        Ok(out)
    }
}

/// A result's columns as the entity's, by position (`None`: not the entity's).
type Columns<E> = Vec<Option<(<E as EntityTrait>::Column, Col)>>;

/// Where a statement's entity columns and extra columns are.
type Layout<E> = (Columns<E>, Vec<Option<usize>>, Names);

/// The column names a layout was worked out for.
struct Names(Vec<String>);

impl Names {
    /// Whether `s` names these columns, in this order.
    fn same_as(&self, s: &rusqlite::Statement<'_>) -> bool {
        s.column_count() == self.0.len()
            && self
                .0
                .iter()
                .enumerate()
                .all(|(i, n)| s.column_name(i).is_ok_and(|c| c == n))
    }
}

/// Statements' layouts, worked out once per thread. Why: a lookup reads one
/// row, and naming its columns and matching them to the entity's on every
/// execution was a third of the decoding in a lookup's profile.
mod layouts {
    use super::Layout;
    use sea_orm::EntityTrait;
    use std::any::{Any, TypeId};
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;

    /// Statement texts kept; past this the map starts again (ad hoc filters
    /// make texts without bound).
    const KEPT: usize = 256;

    type Entry = (TypeId, Vec<String>, Rc<dyn Any>);

    thread_local! {
        static KNOWN: RefCell<HashMap<String, Vec<Entry>>> = RefCell::new(HashMap::new());
    }

    /// The layout kept for `sql` read as `E` with `extra`, if any.
    pub(super) fn find<E: EntityTrait>(sql: &str, extra: &[&str]) -> Option<Rc<Layout<E>>> {
        KNOWN.with_borrow(|k| {
            k.get(sql)?
                .iter()
                .find(|(t, x, _)| *t == TypeId::of::<E>() && x.iter().eq(extra.iter()))
                .and_then(|(_, _, l)| Rc::clone(l).downcast().ok())
        })
    }

    /// Keeps `layout` for `sql` read as `E` with `extra`, and hands it back.
    pub(super) fn keep<E: EntityTrait>(
        sql: &str,
        extra: &[&str],
        layout: Layout<E>,
    ) -> Rc<Layout<E>> {
        let layout = Rc::new(layout);
        KNOWN.with_borrow_mut(|k| {
            if k.len() >= KEPT && !k.contains_key(sql) {
                k.clear();
            }
            let kept = k.entry(sql.to_string()).or_default();
            // One layout per entity and extras: a newer one replaces it.
            kept.retain(|(t, x, _)| !(*t == TypeId::of::<E>() && x.iter().eq(extra.iter())));
            kept.push((
                TypeId::of::<E>(),
                extra.iter().map(|x| x.to_string()).collect(),
                Rc::clone(&layout) as Rc<dyn Any>,
            ));
        });
        layout
    }
}

/// An entity's column by name, with its decoding.
fn column<E: EntityTrait>(name: &str) -> Option<(E::Column, Col)> {
    use sea_orm::IdenStatic;
    E::Column::iter()
        .find(|c| c.as_str() == name)
        .map(|c| (c, Col::of(c.def().get_column_type())))
}

fn bind(s: &mut rusqlite::CachedStatement<'_>, i: usize, v: &Value) -> Result<(), DbErr> {
    let r = match v {
        Value::Bool(b) => s.raw_bind_parameter(i, b.map(i64::from)),
        Value::TinyInt(n) => s.raw_bind_parameter(i, n.map(i64::from)),
        Value::SmallInt(n) => s.raw_bind_parameter(i, n.map(i64::from)),
        Value::Int(n) => s.raw_bind_parameter(i, n.map(i64::from)),
        Value::BigInt(n) => s.raw_bind_parameter(i, *n),
        Value::TinyUnsigned(n) => s.raw_bind_parameter(i, n.map(i64::from)),
        Value::SmallUnsigned(n) => s.raw_bind_parameter(i, n.map(i64::from)),
        Value::Unsigned(n) => s.raw_bind_parameter(i, n.map(i64::from)),
        Value::BigUnsigned(n) => {
            let n = n
                .map(i64::try_from)
                .transpose()
                .map_err(|e| DbErr::Type(e.to_string()))?;
            s.raw_bind_parameter(i, n)
        }
        Value::Float(f) => s.raw_bind_parameter(i, f.map(f64::from)),
        Value::Double(f) => s.raw_bind_parameter(i, *f),
        Value::String(t) => s.raw_bind_parameter(i, t.as_deref()),
        Value::Char(c) => s.raw_bind_parameter(i, c.map(String::from)),
        Value::Bytes(b) => s.raw_bind_parameter(i, b.as_deref()),
        other => return Err(DbErr::Type(format!("an inline read cannot bind {other:?}"))),
    };
    r.map_err(sqlite_err)
}

/// A row's columns by position, each decoded as `cols` says.
fn decoded(row: &rusqlite::Row<'_>, cols: &[Col]) -> Result<Row, DbErr> {
    let values = cols
        .iter()
        .enumerate()
        .map(|(i, c)| value(row, i, *c))
        .collect::<Result<_, _>>()?;
    Ok(Row(values))
}

fn value(row: &rusqlite::Row<'_>, i: usize, c: Col) -> Result<Value, DbErr> {
    let v = row.get_ref(i).map_err(sqlite_err)?;
    let wrong = || DbErr::Type(format!("column {i}: {v:?} read as {c:?}"));
    Ok(match (c, v) {
        (c, ValueRef::Null) => c.null(),
        (Col::Text, ValueRef::Text(t)) => Value::String(Some(
            std::str::from_utf8(t).map_err(|_| wrong())?.to_owned(),
        )),
        (Col::Text, ValueRef::Integer(n)) => Value::String(Some(n.to_string())),
        (Col::Int, ValueRef::Integer(n)) => {
            Value::Int(Some(i32::try_from(n).map_err(|_| wrong())?))
        }
        (Col::BigInt, ValueRef::Integer(n)) => Value::BigInt(Some(n)),
        (Col::Bool, ValueRef::Integer(n)) => Value::Bool(Some(n != 0)),
        _ => return Err(wrong()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::entities::user;
    use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, QueryOrder, Set};

    /// SQLite is built as `.cargo/config.toml` asks: without the options
    /// that made concurrent inline readers queue on process-wide mutexes.
    #[test]
    fn sqlite_is_built_without_process_wide_read_locks() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let mut s = c.prepare("PRAGMA compile_options").unwrap();
        let options: Vec<String> = s
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }

    /// A migrated SQLite file with one account and one extra user; removed on drop.
    struct FileDb {
        path: PathBuf,
        db: DatabaseConnection,
        account_id: String,
    }

    impl Drop for FileDb {
        fn drop(&mut self) {
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", self.path.display()));
            }
        }
    }

    async fn file_db() -> FileDb {
        let path =
            std::env::temp_dir().join(format!("idbridge-reads-{}.db", crate::store::new_id()));
        let db = crate::store::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        crate::store::migrate(&db).await.unwrap();
        let (acct, _) = crate::store::accounts::create(&db, "Acme", "admin@acme.test")
            .await
            .unwrap();
        add_user(&db, &acct.id, "ann@acme.test", false).await;
        FileDb {
            path,
            db,
            account_id: acct.id,
        }
    }

    async fn add_user(db: &DatabaseConnection, account_id: &str, name: &str, active: bool) {
        let now = crate::store::now_ms();
        user::ActiveModel {
            id: Set(crate::store::new_id()),
            account_id: Set(account_id.into()),
            user_name: Set(name.into()),
            user_name_norm: Set(name.to_lowercase()),
            email_norm: Set(None),
            external_id: Set(Some("ext-1".into())),
            display_name: Set(None),
            origin: Set(crate::store::kinds::Origin::Idp),
            active: Set(active),
            attributes: Set("{\"name\":{\"givenName\":\"Ann\"}}".into()),
            password_hash: Set(None),
            totp_secret: Set(None),
            totp_last_step: Set(Some(-7)),
            version: Set(3),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
    }

    fn users(account_id: &str) -> Select<user::Entity> {
        user::Entity::find()
            .filter(user::Column::AccountId.eq(account_id))
            .order_by_asc(user::Column::CreatedAt)
            .order_by_asc(user::Column::Id)
    }

    #[tokio::test]
    async fn inline_reads_decode_exactly_as_the_pool_does() {
        let f = file_db().await;
        let reads = Reads::open(&f.db).await.unwrap();
        assert!(
            matches!(reads, Reads::Inline(_)),
            "a SQLite file reads inline"
        );
        let pooled = users(&f.account_id).all(&f.db).await.unwrap();
        assert_eq!(pooled.len(), 2, "the break-glass administrator and Ann");
        assert_eq!(reads.all(users(&f.account_id)).await.unwrap(), pooled);
        // Bound parameters of each kind: text, boolean, integer.
        let q = || {
            users(&f.account_id)
                .filter(user::Column::Active.eq(false))
                .filter(user::Column::Version.eq(3i64))
        };
        let inactive = reads.one(q()).await.unwrap().unwrap();
        assert_eq!(Some(inactive.clone()), q().one(&f.db).await.unwrap());
        assert_eq!(inactive.user_name, "ann@acme.test");
        assert_eq!(inactive.totp_last_step, Some(-7));
        assert_eq!(reads.count(users(&f.account_id)).await.unwrap(), 2);
        assert_eq!(reads.count(q()).await.unwrap(), 1);
        assert!(reads
            .one(users(&f.account_id).filter(user::Column::Id.eq("nobody")))
            .await
            .unwrap()
            .is_none());
    }

    /// A statement's layout is kept per thread and reused only for the same
    /// entity and extra columns: the same text read with other extras, or
    /// after many other texts, still decodes every column where it is.
    #[tokio::test]
    async fn kept_layouts_serve_only_their_own_reads() {
        let f = file_db().await;
        let reads = Reads::open(&f.db).await.unwrap();
        let sql = "SELECT users.*, 'x-' || user_name AS tag, 'y' AS other FROM users \
                   WHERE account_id = ? ORDER BY created_at, id";
        let stmt = || {
            Statement::from_sql_and_values(DbBackend::Sqlite, sql, [f.account_id.clone().into()])
        };
        let pooled = users(&f.account_id).all(&f.db).await.unwrap();
        let read =
            |extra: &'static [&'static str]| reads.models_with::<user::Entity>(stmt(), extra);
        for _ in 0..2 {
            let plain = read(&[]).await.unwrap();
            assert_eq!(
                plain.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>(),
                pooled
            );
            assert!(plain.iter().all(|(_, x)| x.is_empty()));
            let tagged = read(&["tag"]).await.unwrap();
            let tags: Vec<_> = tagged.iter().map(|(_, x)| x.clone()).collect();
            let want: Vec<_> = pooled
                .iter()
                .map(|m| vec![Some(format!("x-{}", m.user_name))])
                .collect();
            assert_eq!(tags, want);
            let swapped = read(&["other", "tag"]).await.unwrap();
            assert_eq!(swapped[0].1[0].as_deref(), Some("y"));
            assert_eq!(swapped[0].1[1], want[0][0]);
        }
        // Past the bound the kept layouts start again; reads stay right.
        for n in 0..300 {
            let other = Statement::from_sql_and_values(
                DbBackend::Sqlite,
                format!("SELECT users.*, '{n}' AS n FROM users WHERE account_id = ?"),
                [f.account_id.clone().into()],
            );
            let got = reads
                .models_with::<user::Entity>(other, &["n"])
                .await
                .unwrap();
            assert_eq!(got[0].1, vec![Some(n.to_string())]);
        }
        assert_eq!(read(&["tag"]).await.unwrap()[0].0, pooled[0]);
    }

    /// A kept layout is not used once the same statement text names other
    /// columns: a view recreated with two text columns in the other order
    /// still reads each into its own field.
    #[tokio::test]
    async fn kept_layouts_follow_a_schema_change() {
        let f = file_db().await;
        let reads = Reads::open(&f.db).await.unwrap();
        let cols = "id, account_id, user_name, user_name_norm, email_norm, external_id, \
                    display_name, origin, active, attributes, password_hash, totp_secret, \
                    totp_last_step, version, created_at, updated_at";
        let swapped = cols.replace("user_name, user_name_norm", "user_name_norm, user_name");
        let view = |select: &str| {
            format!("DROP VIEW IF EXISTS v; CREATE VIEW v AS SELECT {select} FROM users")
        };
        let sql = "SELECT * FROM v WHERE account_id = ? ORDER BY created_at, id";
        let read = || {
            reads.models_with::<user::Entity>(
                Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    sql,
                    [f.account_id.clone().into()],
                ),
                &[],
            )
        };
        f.db.execute_unprepared(&view(cols)).await.unwrap();
        let first = read().await.unwrap();
        assert_eq!(first[1].0.user_name, "ann@acme.test");
        // The same text, its columns in another order.
        f.db.execute_unprepared(
            "UPDATE users SET user_name = 'Ann@Acme.test' WHERE user_name = 'ann@acme.test'",
        )
        .await
        .unwrap();
        f.db.execute_unprepared(&view(&swapped)).await.unwrap();
        let m = &read().await.unwrap()[1].0;
        assert_eq!(
            (m.user_name.as_str(), m.user_name_norm.as_str()),
            ("Ann@Acme.test", "ann@acme.test")
        );
    }

    #[tokio::test]
    async fn rows_decode_by_position_on_both_paths() {
        let f = file_db().await;
        let reads = Reads::open(&f.db).await.unwrap();
        let q_again = |account: &str| {
            users(account)
                .select_only()
                .column(user::Column::UserName)
                .column(user::Column::Active)
                .column(user::Column::TotpSecret)
                .column(user::Column::Version)
                .into_query()
        };
        let q = q_again(&f.account_id);
        let cols = [Col::Text, Col::Bool, Col::Text, Col::BigInt];
        let read = |rows: Vec<Row>| -> Vec<(String, bool, Option<String>, i64)> {
            rows.iter()
                .map(|r| {
                    (
                        r.get(0).unwrap(),
                        r.get(1).unwrap(),
                        r.get(2).unwrap(),
                        r.get(3).unwrap(),
                    )
                })
                .collect()
        };
        let inline = read(reads.rows(q.clone(), &cols).await.unwrap());
        assert_eq!(inline, read(f.db.rows(q, &cols).await.unwrap()));
        assert_eq!(inline.len(), 2);
        assert_eq!(inline[1], ("ann@acme.test".into(), false, None, 3));
        // Taking moves the value out: the same as `get`, then NULL.
        let mut rows = f.db.rows(q_again(&f.account_id), &cols).await.unwrap();
        let last = rows.last_mut().unwrap();
        assert_eq!(last.take::<String>(0).unwrap(), "ann@acme.test");
        assert_eq!(last.take::<i64>(3).unwrap(), 3);
        assert_eq!(last.take::<Option<String>>(0).unwrap(), None);
        assert!(last.take::<String>(4).is_err());
    }

    #[tokio::test]
    async fn inline_reads_see_every_commit_at_once() {
        let f = file_db().await;
        let reads = Reads::open(&f.db).await.unwrap();
        assert_eq!(reads.count(users(&f.account_id)).await.unwrap(), 2);
        add_user(&f.db, &f.account_id, "bob@acme.test", true).await;
        assert_eq!(reads.count(users(&f.account_id)).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_snapshot_reads_one_state_until_it_is_dropped() {
        let f = file_db().await;
        let reads = Reads::open(&f.db).await.unwrap();
        let Reads::Inline(inline) = &reads else {
            panic!("a file reads inline");
        };
        let snap = reads.snapshot().unwrap();
        assert!(matches!(snap, Reads::Held(_)));
        assert_eq!(snap.count(users(&f.account_id)).await.unwrap(), 2);
        // Committed after the snapshot's first read: not in it, seen beside it.
        add_user(&f.db, &f.account_id, "bob@acme.test", true).await;
        assert_eq!(snap.count(users(&f.account_id)).await.unwrap(), 2);
        assert_eq!(snap.all(users(&f.account_id)).await.unwrap().len(), 2);
        assert_eq!(reads.count(users(&f.account_id)).await.unwrap(), 3);
        let idle = inline.idle.lock().unwrap().len();
        drop(snap);
        // Its transaction ended and its connection went back for the next read.
        assert_eq!(inline.idle.lock().unwrap().len(), idle + 1);
        let again = reads.snapshot().unwrap();
        assert_eq!(again.count(users(&f.account_id)).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn inline_connections_keep_a_bounded_page_cache() {
        let f = file_db().await;
        let Reads::Inline(inline) = Reads::open(&f.db).await.unwrap() else {
            panic!("a file reads inline");
        };
        let size: i64 = inline
            .with(|c| {
                c.pragma_query_value(None, "cache_size", |r| r.get(0))
                    .map_err(sqlite_err)
            })
            .unwrap();
        assert_eq!(size, -INLINE_CACHE_KIB);
    }

    #[tokio::test]
    async fn a_snapshot_of_the_pool_is_the_pool() {
        let db = crate::store::connect("sqlite::memory:").await.unwrap();
        let reads = Reads::open(&db).await.unwrap();
        assert!(matches!(reads.snapshot().unwrap(), Reads::Pool(..)));
    }

    #[tokio::test]
    async fn an_in_memory_database_reads_through_its_pool() {
        let db = crate::store::connect("sqlite::memory:").await.unwrap();
        assert!(matches!(Reads::open(&db).await.unwrap(), Reads::Pool(..)));
    }
}
