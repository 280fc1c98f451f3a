//! Concurrent point reads of users (by id or by folded userName) sent to
//! PostgreSQL together, as one statement.
//!
//! Why: on PostgreSQL a SCIM lookup was one statement, so one round trip:
//! a wake-up of a server process, a parse-bind-execute and a wake-up of
//! ours, each costing more than the index probe it carries. With 16 lookups
//! in flight, the PostgreSQL backends and idbridge shared the two cores
//! about evenly. Here the reads that arrive while statements run wait for
//! one to end and then go together as the next, so the per-statement costs
//! are paid once per batch. A lone read goes at once: nothing waits for
//! company.
//!
//! The statements go through a pool of their own whose sessions use generic
//! plans (`store::connect_point_reads`). A statement taking arrays is
//! otherwise planned again at every execution: with batches, planning was
//! half of PostgreSQL's time and batching alone gained nothing. The
//! generic plans probe the primary key and `(account_id, user_name_norm)`,
//! as the custom ones did; PostgreSQL makes them again when the tables'
//! statistics change.
//!
//! The statements run on connections taken out of that pool for good
//! (`detach`): sqlx pings a pooled connection every time it goes back, a
//! second round trip per statement (a Sync and its ReadyForQuery, seen with
//! strace beside every Bind), which cost the backends and us as much as the
//! statement's own. A connection whose statement fails is dropped, and the
//! next statement opens a new one.
//!
//! SQLite does not need this: its reads run on the request's own thread
//! (`store::reads::Inline`).

use super::entities::user;
use super::parted::{self, Parted};
use sea_orm::sea_query::{extension::postgres::PgFunc, Expr, ExprTrait};
use sea_orm::sqlx::PgConnection;
use sea_orm::{
    DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QueryTrait,
    Statement,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// What a point read asks for, within one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    Id(String),
    /// A folded userName (`user_name_norm`).
    Name(String),
}

/// Statements in flight at once (and connections of their pool): batches
/// gather while others run. Measured at 16 lookups in flight: with 2 the
/// cores sat 20% idle; 4 and 8 ran alike.
pub const RUNNING: usize = 4;
/// Keys per statement at most.
const MAX_KEYS: usize = 64;

type Answer = Result<Vec<Parted>, String>;

struct Waiter {
    account: String,
    key: Key,
    tx: oneshot::Sender<Answer>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiter>,
    running: usize,
}

/// Point reads of one database, batched.
pub struct PointReads {
    db: DatabaseConnection,
    queue: Mutex<Queue>,
    /// Connections out of the pool between drains (at most [`RUNNING`]).
    idle: Mutex<Vec<PgConnection>>,
    /// Statements run so far.
    statements: AtomicU64,
}

impl std::fmt::Debug for PointReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PointReads").finish_non_exhaustive()
    }
}

/// Takes a running slot back when a drain ends, even by a panic (so later
/// reads still find a slot to start one).
struct Slot<'a>(&'a Mutex<Queue>);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Ok(mut q) = self.0.lock() {
            q.running -= 1;
        }
    }
}

impl PointReads {
    pub fn new(db: DatabaseConnection) -> Arc<Self> {
        Arc::new(PointReads {
            db,
            queue: Mutex::new(Queue::default()),
            idle: Mutex::new(Vec::new()),
            statements: AtomicU64::new(0),
        })
    }

    /// Statements run so far (each serving one or more reads).
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// The users of `account` that `key` names (at most one by id; by
    /// name, in list order), with their groups and roles. Sees every
    /// write committed before it was called.
    pub async fn read(self: &Arc<Self>, account: &str, key: Key) -> Result<Vec<Parted>, DbErr> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut q = self.lock()?;
            q.waiting.push(Waiter {
                account: account.to_string(),
                key,
                tx,
            });
            let start = q.running < RUNNING;
            if start {
                q.running += 1;
            }
            start
        };
        if start {
            let me = self.clone();
            tokio::spawn(async move { me.drain().await });
        }
        rx.await
            .map_err(|_| DbErr::Custom("batched read: abandoned".into()))?
            .map_err(DbErr::Custom)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Queue>, DbErr> {
        self.queue
            .lock()
            .map_err(|_| DbErr::Custom("batched reads: queue poisoned".into()))
    }

    /// Runs statements until no read is waiting.
    async fn drain(&self) {
        let _slot = Slot(&self.queue);
        let mut conn = self.idle.lock().ok().and_then(|mut v| v.pop());
        loop {
            let batch: Vec<Waiter> = match self.queue.lock() {
                Ok(mut q) if !q.waiting.is_empty() => {
                    let n = q.waiting.len().min(MAX_KEYS);
                    q.waiting.drain(..n).collect()
                }
                _ => break,
            };
            let found = self.run(&mut conn, &batch).await;
            answer(batch, found);
        }
        if let (Some(c), Ok(mut idle)) = (conn, self.idle.lock()) {
            if idle.len() < RUNNING {
                idle.push(c);
            }
        }
    }

    /// The users `batch` asks for, each once (a user asked for by id and by
    /// name is found by both statements).
    async fn run(
        &self,
        conn: &mut Option<PgConnection>,
        batch: &[Waiter],
    ) -> Result<Vec<Parted>, DbErr> {
        let mut rows: Vec<Parted> = vec![];
        for stmt in statements(batch) {
            self.statements.fetch_add(1, Ordering::Relaxed);
            let c = match conn {
                Some(c) => c,
                None => conn.insert(self.connect().await?),
            };
            let found = match query(c, &stmt).await {
                Ok(found) => found,
                Err(e) => {
                    // It may be broken: not reused.
                    *conn = None;
                    return Err(e);
                }
            };
            for p in found {
                if !rows.iter().any(|r| r.user.id == p.user.id) {
                    rows.push(p);
                }
            }
        }
        Ok(rows)
    }

    /// A connection of the point-read pool, taken out of it.
    async fn connect(&self) -> Result<PgConnection, DbErr> {
        if self.db.get_database_backend() != DbBackend::Postgres {
            return Err(DbErr::Custom("batched reads need PostgreSQL".into()));
        }
        let pool = self.db.get_postgres_connection_pool();
        let c = pool.acquire().await.map_err(point_err)?;
        Ok(c.detach())
    }
}

fn point_err(e: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("batched read: {e}"))
}

/// Runs a statement of [`statements`] (its values are texts and arrays of
/// texts) on `conn`.
async fn query(conn: &mut PgConnection, stmt: &Statement) -> Result<Vec<Parted>, DbErr> {
    use sea_orm::sqlx::{self, postgres::PgArguments, Arguments};
    use sea_orm::Value;
    let mut args = PgArguments::default();
    for v in stmt.values.iter().flat_map(|v| v.0.iter()) {
        let added = match v {
            Value::String(Some(s)) => args.add(s.as_str()),
            Value::Array(_, Some(items)) => {
                let texts = items
                    .iter()
                    .map(|i| match i {
                        Value::String(Some(s)) => Ok(s.as_str()),
                        other => Err(point_err(format!("unexpected value {other:?}"))),
                    })
                    .collect::<Result<Vec<&str>, DbErr>>()?;
                args.add(texts)
            }
            other => return Err(point_err(format!("unexpected value {other:?}"))),
        };
        added.map_err(point_err)?;
    }
    let rows = sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), args)
        .fetch_all(&mut *conn)
        .await
        .map_err(point_err)?;
    let rows: Vec<sea_orm::QueryResult> = rows.into_iter().map(Into::into).collect();
    parted::from_rows(&rows)
}

/// Each waiter's users out of one statement's rows.
fn answer(batch: Vec<Waiter>, found: Result<Vec<Parted>, DbErr>) {
    let rows = match found {
        Ok(rows) => rows,
        Err(e) => {
            let e = e.to_string();
            for w in batch {
                let _ = w.tx.send(Err(e.clone()));
            }
            return;
        }
    };
    for w in batch {
        let mine = rows
            .iter()
            .filter(|p| {
                p.user.account_id == w.account
                    && match &w.key {
                        Key::Id(id) => &p.user.id == id,
                        Key::Name(n) => &p.user.user_name_norm == n,
                    }
            })
            .cloned()
            .collect();
        // The reader may have gone (its request was dropped): nothing to do.
        let _ = w.tx.send(Ok(mine));
    }
}

/// The statements for `batch`: one for its ids, one for its names (each
/// probed by its own index; an `OR` of the two can make PostgreSQL walk the
/// account), reading users with their parts, in list order.
///
/// Ids are unique across accounts, so their statement names no account: with
/// `account_id = ANY(…)` beside `id = ANY(…)`, PostgreSQL chose the
/// `(account_id, created_at)` index and walked the whole account (2.9 ms at
/// 10k users, against 0.1 ms by primary key). Names are unique per account
/// and are probed with the accounts by `(account_id, user_name_norm)`. A
/// user can so match a key asked for in another account: [`answer`] gives
/// each reader only its own account's.
fn statements(batch: &[Waiter]) -> Vec<Statement> {
    let (mut accounts, mut ids, mut names) = (vec![], vec![], vec![]);
    for w in batch {
        match &w.key {
            Key::Id(id) => ids.push(id.clone()),
            Key::Name(n) => {
                names.push(n.clone());
                if !accounts.contains(&w.account) {
                    accounts.push(w.account.clone());
                }
            }
        }
    }
    let mut out = vec![];
    let listed = |q: sea_orm::Select<user::Entity>| {
        parted::with_parts(
            q.order_by_asc(user::Column::CreatedAt)
                .order_by_asc(user::Column::Id),
            DbBackend::Postgres,
        )
        .build(DbBackend::Postgres)
    };
    let col = |c: user::Column| Expr::col((user::Entity, c));
    if !ids.is_empty() {
        out.push(listed(
            user::Entity::find().filter(col(user::Column::Id).eq(PgFunc::any(ids))),
        ));
    }
    if !names.is_empty() {
        out.push(listed(
            user::Entity::find()
                .filter(col(user::Column::AccountId).eq(PgFunc::any(accounts)))
                .filter(col(user::Column::UserNameNorm).eq(PgFunc::any(names))),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(account: &str, key: Key) -> (Waiter, oneshot::Receiver<Answer>) {
        let (tx, rx) = oneshot::channel();
        let account = account.to_string();
        (Waiter { account, key, tx }, rx)
    }

    #[test]
    fn ids_and_names_go_as_arrays_in_a_statement_each() {
        let (a, _ra) = waiter("acct-1", Key::Name("ann@x.test".into()));
        let (b, _rb) = waiter("acct-2", Key::Id("u-2".into()));
        let (c, _rc) = waiter("acct-1", Key::Name("bob@x.test".into()));
        let [by_id, by_name] = &statements(&[a, b, c])[..] else {
            panic!("two statements")
        };
        assert!(
            by_id
                .sql
                .contains(r#"WHERE "users"."id" = ANY($1) ORDER BY"#),
            "{}",
            by_id.sql
        );
        let want = r#""users"."account_id" = ANY($1) AND "users"."user_name_norm" = ANY($2)"#;
        assert!(by_name.sql.contains(want), "{}", by_name.sql);
        let v = |s: &Statement| s.values.clone().expect("bound").0;
        let values = [v(by_id), v(by_name)].concat();
        let strings = |v: &sea_orm::Value| match v {
            sea_orm::Value::Array(_, Some(items)) => items
                .iter()
                .map(|i| match i {
                    sea_orm::Value::String(Some(s)) => s.to_string(),
                    other => panic!("{other:?}"),
                })
                .collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(values.len(), 3);
        assert_eq!(strings(&values[0]), ["u-2"]);
        assert_eq!(strings(&values[1]), ["acct-1"]);
        assert_eq!(strings(&values[2]), ["ann@x.test", "bob@x.test"]);
        // One kind of key, one statement.
        let (d, _rd) = waiter("acct-1", Key::Id("u-1".into()));
        assert_eq!(statements(&[d]).len(), 1);
    }

    /// Reads in flight together on PostgreSQL: each gets what an unbatched
    /// read gets (its own account's user, by id or by name, with groups and
    /// roles; none for a key of another account in the same batch), and they
    /// took fewer statements than reads.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reads_share_statements_and_get_their_own_users() {
        use sea_orm::ConnectionTrait;
        let (admin, db, name) = crate::store::test_pg::fresh("points").await;
        let mut accounts = vec![];
        for (n, email) in [("Acme", "admin@acme.test"), ("Beta", "admin@beta.test")] {
            let (acct, _) = crate::store::accounts::create(&db, n, email).await.unwrap();
            // The same 30 names in both accounts, under different ids.
            db.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO users (id, account_id, user_name, user_name_norm, origin, active, attributes, created_at, updated_at) \
                 SELECT $1 || '-u' || i, $1, 'u' || i || '@x.test', 'u' || i || '@x.test', 'scim', true, '{}', i, 0 \
                 FROM generate_series(0, 29) i",
                [acct.id.clone().into()],
            ))
            .await
            .unwrap();
            accounts.push(acct.id);
        }
        let a = &accounts[0];
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO scim_groups (id, account_id, display_name, display_name_norm, created_at, updated_at) \
             VALUES ('g1', $1, 'Group 1', 'group 1', 0, 0)",
            [a.clone().into()],
        ))
        .await
        .unwrap();
        db.execute_unprepared(&format!(
            "INSERT INTO group_members (group_id, user_id) VALUES ('g1', '{a}-u1'), ('g1', '{a}-u2'); \
             INSERT INTO user_roles (user_id, role_ref) VALUES ('{a}-u2', 'builtin:administrator')"
        ))
        .await
        .unwrap();
        let mut asks = vec![];
        for i in 0..30 {
            for (acct, other) in [(&accounts[0], &accounts[1]), (&accounts[1], &accounts[0])] {
                asks.push((acct.clone(), Key::Name(format!("u{i}@x.test"))));
                asks.push((acct.clone(), Key::Id(format!("{acct}-u{i}"))));
                asks.push((acct.clone(), Key::Id(format!("{other}-u{i}"))));
            }
        }
        asks.push((a.clone(), Key::Name("nobody@x.test".into())));
        let url = crate::store::test_pg::url_of(&name);
        let pool = crate::store::connect_point_reads(&url, std::time::Duration::from_secs(1))
            .await
            .unwrap()
            .expect("a pool on PostgreSQL");
        // Its sessions plan statements once.
        let mode = pool
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SHOW plan_cache_mode",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            mode.try_get_by_index::<String>(0).unwrap(),
            "force_generic_plan"
        );
        let points = PointReads::new(pool);
        let tasks: Vec<_> = asks
            .iter()
            .map(|(acct, key)| {
                let (p, acct, key) = (points.clone(), acct.clone(), key.clone());
                tokio::spawn(async move { p.read(&acct, key).await })
            })
            .collect();
        let mut found = 0;
        for ((acct, key), t) in asks.iter().zip(tasks) {
            let got = t.await.unwrap().unwrap();
            // `&DatabaseConnection` does not batch: the reads as they were.
            let want = match key {
                Key::Id(id) => parted::by_id(&db, acct, id)
                    .await
                    .unwrap()
                    .into_iter()
                    .collect(),
                Key::Name(n) => parted::by_name(&db, acct, n).await.unwrap(),
            };
            assert_eq!(got, want, "{acct} {key:?}");
            found += got.len();
        }
        // Each account's 30 users, by name and by id; nothing across accounts.
        assert_eq!(found, 120);
        let u2 = points.read(a, Key::Name("u2@x.test".into())).await.unwrap();
        assert_eq!(u2[0].groups, [("g1".to_string(), "Group 1".to_string())]);
        assert_eq!(u2[0].roles, ["builtin:administrator"]);
        let n = points.statements();
        assert!(
            n < asks.len() as u64,
            "{n} statements for {} reads",
            asks.len()
        );
        crate::store::test_pg::drop(admin, db, &name).await;
    }
}
