//! Database edge: connection set-up, migrations and queries (sea-orm).

pub mod access_events;
pub mod account_groups;
pub mod accounts;
pub mod audit;
pub mod batch;
pub mod changes;
pub mod commits;
pub mod connections;
pub mod copy;
pub mod credentials;
pub mod cross_account;
pub mod custom_roles;
pub mod entities;
pub mod environments;
pub mod events;
pub mod kinds;
pub mod mappings;
pub mod model;
pub mod oidc_states;
pub mod parted;
pub mod pg_chain;
pub mod platform;
pub mod point_reads;
pub mod reads;
pub mod scim;
pub mod scim_filter;
pub mod sessions;
pub mod shapes;
pub mod signin_attempts;
pub mod signing_keys;
pub mod sso_settings;
pub mod support;
pub mod users;
pub mod webhooks;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use std::time::Duration;

pub use sea_orm::DbErr as StoreError;

/// Milliseconds since the epoch: the one time unit stored.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// A pooled connection idle this long is pinged before use. sqlx pings on
/// every acquire by default: on PostgreSQL that was a round trip before
/// each statement (the profile of a lookup showed the ping's TLS write and
/// the pool's return as much as the query), and on SQLite a hand-off to the
/// connection's thread. A connection the server dropped while busy fails
/// that one statement, which is refused, and sqlx drops the connection.
const PING_IF_IDLE: Duration = Duration::from_secs(30);

/// What every request pool shares: statements logged at TRACE (slower than
/// `slow` at WARN), a 10 s wait for a connection, a ping only after idling,
/// and on PostgreSQL the session `settings` and [`pg_tls`].
fn pool_options(
    url: &str,
    slow: Duration,
    settings: &'static [(&'static str, &'static str)],
) -> ConnectOptions {
    let mut opts = ConnectOptions::new(url.to_string());
    opts.sqlx_logging(true)
        .sqlx_logging_level(log::LevelFilter::Trace)
        .sqlx_slow_statements_logging_settings(log::LevelFilter::Warn, slow)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire_if_idle_for(PING_IF_IDLE);
    if is_postgres(url) {
        let tls_chosen = tls_chosen(url);
        // sea-orm keeps one mapping function: everything PostgreSQL needs goes in it.
        opts.map_sqlx_postgres_opts(move |o| {
            let o = if settings.is_empty() {
                o
            } else {
                o.options(settings.iter().copied())
            };
            pg_tls(o, tls_chosen)
        });
    }
    opts
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

/// Whether the operator chose PostgreSQL's TLS mode: `sslmode` in the URL,
/// or `PGSSLMODE` in the environment.
fn tls_chosen(url: &str) -> bool {
    url_chooses_tls(url) || std::env::var_os("PGSSLMODE").is_some()
}

fn url_chooses_tls(url: &str) -> bool {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .any(|p| p.starts_with("sslmode=") || p.starts_with("ssl-mode="))
}

/// Whether `host` names this machine's loopback interface.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A database on this machine's loopback, with no TLS mode chosen, is
/// reached without TLS. Why: the default (`prefer`) encrypts when the server
/// offers TLS, and traffic on loopback never leaves the kernel, so there it
/// only costs (about 8% of the SCIM lookups PostgreSQL served at 16
/// connections; `prefer` also gives way to anyone in the path, so it never
/// guarded against more than reading loopback, which takes root). A chosen
/// mode, and every other host, keep sqlx's behaviour.
fn pg_tls(
    o: sea_orm::sqlx::postgres::PgConnectOptions,
    tls_chosen: bool,
) -> sea_orm::sqlx::postgres::PgConnectOptions {
    if tls_chosen || o.get_socket().is_some() || !is_loopback(o.get_host()) {
        return o;
    }
    o.ssl_mode(sea_orm::sqlx::postgres::PgSslMode::Disable)
}

/// Opens a pool. SQLite gets WAL, foreign keys, a busy timeout and NORMAL sync.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, Duration::from_millis(500)).await
}

/// Like [`connect`]; statements slower than `slow` are logged at WARN.
pub async fn connect_with(url: &str, slow: Duration) -> Result<DatabaseConnection, DbErr> {
    let mut opts = pool_options(url, slow, &[]);
    if url.starts_with("sqlite:") {
        // One connection: SQLite has a single writer anyway, and waiting in the
        // pool's queue is fair and immediate where SQLite's busy handler sleeps
        // and retries. No code path holds a transaction while acquiring again.
        opts.max_connections(1)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    // Checkpoints run beside the writer (`spawn_checkpoints`);
                    // this only bounds the WAL should they fall behind.
                    .pragma("wal_autocheckpoint", CHECKPOINT_FALLBACK_PAGES)
            });
    } else {
        opts.max_connections(16);
    }
    Database::connect(opts).await
}

/// A pool for reads. On a SQLite file it is its own read-only pool, so
/// readers run beside the one writer (WAL lets them) instead of queueing on
/// its connection; elsewhere (PostgreSQL, in-memory SQLite) it is `db`.
pub async fn connect_reads(
    url: &str,
    db: &DatabaseConnection,
    slow: Duration,
) -> Result<DatabaseConnection, DbErr> {
    if !is_sqlite_file(url) {
        return Ok(db.clone());
    }
    // Each connection is a thread that sqlx hands statements to; with more of
    // them than cores, requests overlap those hand-offs (measured: 4 → 8 took
    // SCIM lookups from ~4.9k to ~6.4k req/s on 2 cores; 16 added nothing).
    let readers = std::thread::available_parallelism().map_or(2, |n| n.get()) * 4;
    let mut opts = pool_options(url, slow, &[]);
    opts.max_connections(readers as u32)
        .min_connections(1)
        .map_sqlx_sqlite_opts(|o| {
            o.read_only(true)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Database::connect(opts).await
}

/// On PostgreSQL, the pool of batched point reads (`store::point_reads`):
/// its own few connections, whose sessions plan prepared statements once
/// (`plan_cache_mode = force_generic_plan`) instead of at every execution.
/// Elsewhere none.
pub async fn connect_point_reads(
    url: &str,
    slow: Duration,
) -> Result<Option<DatabaseConnection>, DbErr> {
    if !is_postgres(url) {
        return Ok(None);
    }
    let mut opts = pool_options(url, slow, &[("plan_cache_mode", "force_generic_plan")]);
    opts.max_connections(point_reads::RUNNING as u32)
        .min_connections(1);
    Database::connect(opts).await.map(Some)
}

/// WAL pages after which the writer checkpoints itself (SQLite's default
/// is 1,000; the background checkpoints normally keep it far below this).
const CHECKPOINT_FALLBACK_PAGES: &str = "20000";

fn is_sqlite_file(url: &str) -> bool {
    url.starts_with("sqlite:") && !url.contains(":memory:") && !url.contains("mode=memory")
}

/// On a SQLite file, checkpoints the WAL every 200 ms from a connection of
/// its own. Left to the writer, every thousandth commit copied the WAL back
/// into the database and synced it while holding the one write lock; a
/// PASSIVE checkpoint beside it takes no lock writers wait for.
pub async fn spawn_checkpoints(url: &str) -> Result<(), DbErr> {
    if !is_sqlite_file(url) {
        return Ok(());
    }
    let mut opts = ConnectOptions::new(url.to_string());
    opts.sqlx_logging(false)
        .max_connections(1)
        .min_connections(1)
        .map_sqlx_sqlite_opts(|o| o.busy_timeout(Duration::from_secs(10)));
    let db = Database::connect(opts).await?;
    tokio::spawn(async move {
        use sea_orm::ConnectionTrait;
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = db
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await
            {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_means_this_machine_only() {
        for h in [
            "127.0.0.1",
            "127.8.9.1",
            "::1",
            "[::1]",
            "localhost",
            "LOCALHOST",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "10.0.0.1",
            "db",
            "localhost.example.com",
            "::2",
            "0.0.0.0",
            "",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn a_tls_mode_in_the_url_is_a_choice() {
        assert!(!url_chooses_tls("postgres://u@127.0.0.1:5432/db"));
        assert!(!url_chooses_tls(
            "postgres://u@127.0.0.1/db?application_name=sslmode"
        ));
        assert!(url_chooses_tls("postgres://u@127.0.0.1/db?sslmode=prefer"));
        assert!(url_chooses_tls(
            "postgres://u@h/db?application_name=x&ssl-mode=require"
        ));
    }

    #[test]
    fn only_an_unchosen_mode_on_loopback_turns_tls_off() {
        use sea_orm::sqlx::postgres::{PgConnectOptions, PgSslMode};
        // (mode as parsed, mode after `pg_tls`)
        let modes = |url: &str| {
            let o: PgConnectOptions = url.parse().expect("url");
            let parsed = format!("{:?}", o.get_ssl_mode());
            let used = format!("{:?}", pg_tls(o, url_chooses_tls(url)).get_ssl_mode());
            (parsed, used)
        };
        let off = format!("{:?}", PgSslMode::Disable);
        assert_eq!(modes("postgres://u@127.0.0.1:5432/db").1, off);
        assert_eq!(modes("postgres://u@localhost/db").1, off);
        assert_eq!(modes("postgres://u@[::1]:5432/db").1, off);
        let (parsed, used) = modes("postgres://u@db.internal:5432/db");
        assert_eq!(used, parsed, "another host keeps sqlx's mode");
        assert_eq!(
            modes("postgres://u@127.0.0.1/db?sslmode=require").1,
            format!("{:?}", PgSslMode::Require)
        );
    }
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    use migrations::MigratorTrait;
    migrations::Migrator::up(db, None).await
}

/// Starts a write transaction. On SQLite it is IMMEDIATE so two writers queue
/// on the busy timeout instead of failing when a read lock upgrades.
pub async fn write_txn(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// A write transaction of one account's data. On PostgreSQL it takes the
/// account's row lock first: a write that records an event takes it anyway
/// (events are numbered in commit order), and taking it anywhere later
/// deadlocked two creates of names differing only in case (each waiting on
/// the other's unique-index entry while holding or wanting the lock).
pub async fn account_write_txn(
    db: &DatabaseConnection,
    account_id: &str,
) -> Result<DatabaseTransaction, DbErr> {
    let txn = write_txn(db).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM accounts WHERE id = $1 FOR UPDATE",
            [account_id.into()],
        ))
        .await?;
    }
    Ok(txn)
}

pub fn is_unique_violation(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// PostgreSQL databases for the store's own tests.
#[cfg(test)]
pub(crate) mod test_pg {
    use sea_orm::{ConnectionTrait, DatabaseConnection};

    /// A fresh migrated database on IDBRIDGE_TEST_POSTGRES_URL's server (as
    /// the API tests use): (admin connection, the database, its name), for
    /// the caller to drop.
    pub async fn fresh(tag: &str) -> (DatabaseConnection, DatabaseConnection, String) {
        let admin_url = server_url();
        let admin = super::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url}: {e}"));
        let name = format!("idb_{tag}_{}", super::new_id());
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        let db = super::connect(&url_of(&name)).await.unwrap();
        super::migrate(&db).await.unwrap();
        (admin, db, name)
    }

    fn server_url() -> String {
        std::env::var("IDBRIDGE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    /// The URL of database `name` on the test server.
    pub fn url_of(name: &str) -> String {
        let admin_url = server_url();
        let base = admin_url.rsplit_once('/').unwrap().0;
        format!("{base}/{name}")
    }

    /// Drops what [`fresh`] made.
    pub async fn drop(admin: DatabaseConnection, db: DatabaseConnection, name: &str) {
        db.close().await.ok();
        admin
            .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
            .await
            .unwrap();
    }
}
