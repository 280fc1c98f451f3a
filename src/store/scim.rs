//! SCIM persistence: users, groups and memberships.
//!
//! Membership changes are set operations (insert-if-absent, delete-if-present)
//! inside the caller's transaction, so concurrent PATCHes never lose members.

use super::entities::*;
use super::reads::{Col, ReadConn};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, RelationTrait, Select, Statement,
    TryIntoModel,
};
use std::collections::{BTreeSet, HashMap};

const BATCH: usize = 500;

fn is_pg<C: ConnectionTrait>(db: &C) -> bool {
    db.get_database_backend() == DatabaseBackend::Postgres
}

pub async fn user_by_name<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    user_name: &str,
) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::AccountId.eq(account_id))
        .filter(user::Column::UserNameNorm.eq(user_name.trim().to_lowercase()))
        .one(db)
        .await
}

/// Another group of the account with this displayName (ignoring case).
pub async fn other_group_named<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    display_name: &str,
    except_id: Option<&str>,
) -> Result<bool, DbErr> {
    let mut q = group::Entity::find()
        .filter(group::Column::AccountId.eq(account_id))
        .filter(group::Column::DisplayNameNorm.eq(display_name.to_lowercase()));
    if let Some(id) = except_id {
        q = q.filter(group::Column::Id.ne(id));
    }
    Ok(q.one(db).await?.is_some())
}

pub async fn group<C: ReadConn>(
    db: &C,
    account_id: &str,
    id: &str,
) -> Result<Option<group::Model>, DbErr> {
    db.one(
        group::Entity::find_by_id(id.to_string()).filter(group::Column::AccountId.eq(account_id)),
    )
    .await
}

/// Reads a group and, on PostgreSQL, locks its row until the transaction ends,
/// so read-modify-write of one group is serialised (SQLite's IMMEDIATE
/// transactions already serialise writers).
pub async fn group_for_update<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    id: &str,
) -> Result<Option<group::Model>, DbErr> {
    let q =
        group::Entity::find_by_id(id.to_string()).filter(group::Column::AccountId.eq(account_id));
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        q.lock_exclusive().one(db).await
    } else {
        q.one(db).await
    }
}

/// Groups each user belongs to: user id -> [(group id, displayName)].
pub async fn groups_of_users<C: ReadConn>(
    db: &C,
    user_ids: &[String],
) -> Result<HashMap<String, Vec<(String, String)>>, DbErr> {
    let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for chunk in user_ids.chunks(BATCH) {
        let q = group_member::Entity::find()
            .select_only()
            .column(group_member::Column::UserId)
            .column(group_member::Column::GroupId)
            .column_as(
                Expr::col((group::Entity, group::Column::DisplayName)),
                "display_name",
            )
            .join(
                sea_orm::JoinType::InnerJoin,
                group_member::Relation::Group.def(),
            )
            .filter(group_member::Column::UserId.is_in(chunk.to_vec()))
            .into_query();
        for r in db.rows(q, &[Col::Text; 3]).await? {
            out.entry(r.get(0)?)
                .or_default()
                .push((r.get(1)?, r.get(2)?));
        }
    }
    Ok(out)
}

/// Groups (id, displayName) and direct role references of each user, in
/// one round trip: a rendered user needs both.
#[allow(clippy::type_complexity)]
pub async fn groups_and_roles_of_users<C: ReadConn>(
    db: &C,
    user_ids: &[String],
) -> Result<
    (
        HashMap<String, Vec<(String, String)>>,
        HashMap<String, Vec<String>>,
    ),
    DbErr,
> {
    let (mut groups, mut roles): (HashMap<String, Vec<(String, String)>>, HashMap<_, Vec<_>>) =
        (HashMap::new(), HashMap::new());
    if user_ids.is_empty() {
        return Ok((groups, roles));
    }
    for mut row in db
        .rows_of(
            groups_and_roles_statement(db.backend(), user_ids),
            &[Col::Text; 4],
        )
        .await?
    {
        let kind: String = row.take(0)?;
        let user: String = row.take(1)?;
        let id: String = row.take(2)?;
        if kind == "g" {
            groups.entry(user).or_default().push((id, row.take(3)?));
        } else {
            roles.entry(user).or_default().push(id);
        }
    }
    Ok((groups, roles))
}

/// The groups `('g', user, group id, displayName)` and direct roles
/// `('r', user, role ref, role ref)` of these users, the ids bound as one
/// array (twice). Why not `user_id IN (?, ?, …)`: SQLite evaluates such a
/// list into a temporary b-tree, whose pager it allocates and frees on every
/// run; the profile of list pages showed glibc handing that memory back to
/// the kernel each time (`madvise`, with a TLB flush on the other core).
/// Walking `json_each` and probing each id by index needs no temporary
/// table, and the statement text is the same whatever the number of ids.
pub(super) fn groups_and_roles_statement(
    backend: DatabaseBackend,
    user_ids: &[String],
) -> Statement {
    if backend == DatabaseBackend::Postgres {
        let ids: sea_orm::Value = user_ids.to_vec().into();
        return Statement::from_sql_and_values(backend, GROUPS_AND_ROLES_PG, [ids.clone(), ids]);
    }
    let ids = json_ids(user_ids);
    Statement::from_sql_and_values(
        backend,
        GROUPS_AND_ROLES_SQLITE,
        [ids.clone().into(), ids.into()],
    )
}

const GROUPS_AND_ROLES_SQLITE: &str = "SELECT 'g', m.user_id, g.id, g.display_name \
     FROM json_each(?) j CROSS JOIN group_members m ON m.user_id = j.value \
     JOIN scim_groups g ON g.id = m.group_id \
     UNION ALL SELECT 'r', r.user_id, r.role_ref, r.role_ref \
     FROM json_each(?) j CROSS JOIN user_roles r ON r.user_id = j.value";

const GROUPS_AND_ROLES_PG: &str = "SELECT 'g', m.user_id, g.id, g.display_name \
     FROM group_members m JOIN scim_groups g ON g.id = m.group_id WHERE m.user_id = ANY($1) \
     UNION ALL SELECT 'r', r.user_id, r.role_ref, r.role_ref \
     FROM user_roles r WHERE r.user_id = ANY($2)";

/// Direct role references of each user.
pub async fn roles_of_users<C: ReadConn>(
    db: &C,
    user_ids: &[String],
) -> Result<HashMap<String, Vec<String>>, DbErr> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in user_ids.chunks(BATCH) {
        for r in db
            .all(user_role::Entity::find().filter(user_role::Column::UserId.is_in(chunk.to_vec())))
            .await?
        {
            out.entry(r.user_id).or_default().push(r.role_ref);
        }
    }
    Ok(out)
}

/// Member user ids of each group.
pub async fn members_of_groups<C: ReadConn>(
    db: &C,
    group_ids: &[String],
) -> Result<HashMap<String, Vec<String>>, DbErr> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in group_ids.chunks(BATCH) {
        let q = group_member::Entity::find()
            .select_only()
            .column(group_member::Column::GroupId)
            .column(group_member::Column::UserId)
            .filter(group_member::Column::GroupId.is_in(chunk.to_vec()))
            .order_by_asc(group_member::Column::UserId)
            .into_query();
        for r in db.rows(q, &[Col::Text; 2]).await? {
            out.entry(r.get(0)?).or_default().push(r.get(1)?);
        }
    }
    Ok(out)
}

/// The subset of `ids` that are IdP-managed users of the account: local
/// (break-glass) users are never group members, so an IdP cannot change
/// their roles through mappings.
pub async fn existing_users<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    ids: &[String],
) -> Result<BTreeSet<String>, DbErr> {
    let mut out = BTreeSet::new();
    if is_pg(db) {
        // One array parameter: PostgreSQL spends ~0.1 ms per bind parameter.
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT id FROM users WHERE account_id = $1 AND id = ANY($2) AND origin <> 'local'",
                [account_id.into(), ids.to_vec().into()],
            ))
            .await?;
        for r in rows {
            out.insert(r.try_get::<String>("", "id")?);
        }
        return Ok(out);
    }
    // The ids as one JSON array, each probed by primary key (`CROSS JOIN`
    // keeps that order): with `id IN (…)` beside `account_id = ?`, SQLite's
    // planner walked the account's index instead, reading every user of the
    // account for each chunk of ids.
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            EXISTING_USERS_SQLITE,
            [json_ids(ids).into(), account_id.into()],
        ))
        .await?;
    for r in rows {
        out.insert(r.try_get::<String>("", "id")?);
    }
    Ok(out)
}

const EXISTING_USERS_SQLITE: &str = "SELECT u.id FROM json_each(?) j CROSS JOIN users u \
     ON u.id = j.value WHERE u.account_id = ? AND u.origin <> 'local'";

/// Ids as one JSON array text: one parameter, whatever their number.
fn json_ids(ids: &[String]) -> String {
    serde_json::Value::from(ids.to_vec()).to_string()
}

/// A PostgreSQL membership statement with the ids as one array parameter.
async fn pg_members<C: ConnectionTrait>(
    db: &C,
    sql: &str,
    group_id: &str,
    user_ids: &[String],
) -> Result<(), DbErr> {
    if !user_ids.is_empty() {
        db.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            sql,
            [group_id.into(), user_ids.to_vec().into()],
        ))
        .await?;
    }
    Ok(())
}

pub async fn add_members<C: ConnectionTrait>(
    db: &C,
    group_id: &str,
    user_ids: &[String],
) -> Result<(), DbErr> {
    if is_pg(db) {
        return pg_members(db, "INSERT INTO group_members (group_id, user_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING", group_id, user_ids).await;
    }
    if user_ids.is_empty() {
        return Ok(());
    }
    // `WHERE true`: an upsert's SELECT needs a WHERE to parse.
    db.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Sqlite,
        "INSERT INTO group_members (group_id, user_id) SELECT ?, value FROM json_each(?) \
         WHERE true ON CONFLICT DO NOTHING",
        [group_id.into(), json_ids(user_ids).into()],
    ))
    .await?;
    Ok(())
}

pub async fn remove_members<C: ConnectionTrait>(
    db: &C,
    group_id: &str,
    user_ids: &[String],
) -> Result<(), DbErr> {
    if is_pg(db) {
        return pg_members(
            db,
            "DELETE FROM group_members WHERE group_id = $1 AND user_id = ANY($2)",
            group_id,
            user_ids,
        )
        .await;
    }
    if user_ids.is_empty() {
        return Ok(());
    }
    db.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Sqlite,
        "DELETE FROM group_members WHERE group_id = ? AND user_id IN (SELECT value FROM json_each(?))",
        [group_id.into(), json_ids(user_ids).into()],
    ))
    .await?;
    Ok(())
}

pub async fn clear_members<C: ConnectionTrait>(db: &C, group_id: &str) -> Result<(), DbErr> {
    group_member::Entity::delete_many()
        .filter(group_member::Column::GroupId.eq(group_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn member_ids<C: ConnectionTrait>(db: &C, group_id: &str) -> Result<Vec<String>, DbErr> {
    group_member::Entity::find()
        .select_only()
        .column(group_member::Column::UserId)
        .filter(group_member::Column::GroupId.eq(group_id))
        .into_tuple()
        .all(db)
        .await
}

pub async fn set_user_roles<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    roles: &[String],
) -> Result<(), DbErr> {
    user_role::Entity::delete_many()
        .filter(user_role::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    if !roles.is_empty() {
        let rows = roles.iter().map(|r| user_role::ActiveModel {
            user_id: sea_orm::Set(user_id.into()),
            role_ref: sea_orm::Set(r.clone()),
        });
        user_role::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Adds a new user's direct role assignments to a write's batch (each once).
pub fn push_new_user_roles(b: &mut super::batch::Batch, user_id: &str, roles: &[String]) {
    let roles: BTreeSet<&String> = roles.iter().collect();
    if roles.is_empty() {
        return;
    }
    let rows = roles.into_iter().map(|r| user_role::ActiveModel {
        user_id: sea_orm::Set(user_id.into()),
        role_ref: sea_orm::Set(r.clone()),
    });
    b.push(user_role::Entity::insert_many(rows).build(b.backend()));
}

/// One page of a filtered, ordered query and the total count. `from`, when
/// given, is `q` narrowed to the rows after an anchor and how many rows of
/// `q` that skips: the page's rows are read from there.
pub async fn page<C, E>(
    db: &C,
    q: Select<E>,
    from: Option<(Select<E>, u64)>,
    w: Window,
) -> Result<(Vec<E::Model>, u64), DbErr>
where
    C: ReadConn,
    E: EntityTrait,
    E::Model: Send + Sync,
    E::ActiveModel: TryIntoModel<E::Model>,
{
    page_of(db, q, from, w, |rows_q| db.all(rows_q)).await
}

/// [`page`], its rows read by `fetch`.
async fn page_of<C, E, T, F, Fut>(
    db: &C,
    q: Select<E>,
    from: Option<(Select<E>, u64)>,
    w: Window,
    fetch: F,
) -> Result<(Vec<T>, u64), DbErr>
where
    C: ReadConn,
    E: EntityTrait,
    E::Model: Send + Sync,
    F: FnOnce(Select<E>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, DbErr>>,
{
    let Window {
        offset,
        limit,
        known_total,
        ..
    } = w;
    if limit == 0 {
        let total = match known_total {
            Some(t) => t,
            None => db.count(q).await?,
        };
        return Ok((vec![], total));
    }
    let (rows_q, skipped) = match from {
        Some((r, skipped)) if skipped <= offset => (r, skipped),
        _ => (q.clone(), 0),
    };
    let rows = fetch(rows_q.offset(offset - skipped).limit(limit)).await?;
    // A page that is neither full nor past the end tells the total itself
    // (a `userName eq` lookup, say): no second query.
    let total = match (rows.len() as u64, known_total) {
        (n, _) if n < limit && (n > 0 || offset == 0) => offset + n,
        (_, Some(t)) => t,
        _ => db.count(q).await?,
    };
    Ok((rows, total))
}

/// Rows between anchors: a deep page of an unfiltered list in creation order
/// starts from the nearest anchor before it instead of stepping over every
/// row before it (`OFFSET` walks the index one entry at a time). From 1,000
/// to 200, a page of 100 at a random `startIndex` (20k users) went from
/// 3,176 / 3,616 to 3,909 / 4,068 req/s; 1M users make 5,000 anchors.
pub const ANCHOR_STEP: u64 = 200;

/// A row's place in creation order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub created_at: i64,
    pub id: String,
}

/// Where the rows after the `n`th anchor start (`n` from 1): the anchor,
/// and the rows up to and including it.
pub fn start_after(anchors: &[Anchor], offset: u64) -> Option<(Anchor, u64)> {
    let n = usize::try_from(offset / ANCHOR_STEP)
        .unwrap_or(usize::MAX)
        .min(anchors.len());
    let a = anchors.get(n.checked_sub(1)?)?;
    Some((a.clone(), n as u64 * ANCHOR_STEP))
}

/// Every [`ANCHOR_STEP`]th row of the account's users (or groups), in
/// creation order; `None` where neither the database nor inline reads can
/// step over rows (in-memory SQLite, which pages with `OFFSET`).
pub async fn anchors(
    db: &super::reads::Reads,
    account_id: &str,
    groups: bool,
) -> Result<Option<Vec<Anchor>>, DbErr> {
    if db.backend() == DatabaseBackend::Postgres {
        return pg_anchors(db, account_id, groups).await.map(Some);
    }
    // The list's own query and order, down to the two columns of its key.
    let q = if groups {
        keys(
            groups_query(account_id, None),
            group::Column::CreatedAt,
            group::Column::Id,
        )
    } else {
        keys(
            users_query(account_id, None),
            user::Column::CreatedAt,
            user::Column::Id,
        )
    };
    let step = usize::try_from(ANCHOR_STEP).unwrap_or(usize::MAX);
    let Some(rows) = db.every_nth(q, step, &[Col::BigInt, Col::Text]).await? else {
        return Ok(None);
    };
    rows.iter()
        .map(|r| {
            Ok(Anchor {
                created_at: r.get(0)?,
                id: r.get(1)?,
            })
        })
        .collect::<Result<_, DbErr>>()
        .map(Some)
}

/// [`anchors`] on PostgreSQL: the server numbers the rows in list order
/// (walking the `(account_id, created_at, id)` index) and sends only every
/// [`ANCHOR_STEP`]th. With `OFFSET`, a page at a random `startIndex` of 10k
/// users read 5,000 rows on average to skip them.
async fn pg_anchors(
    db: &super::reads::Reads,
    account_id: &str,
    groups: bool,
) -> Result<Vec<Anchor>, DbErr> {
    let table = if groups { "scim_groups" } else { "users" };
    let sql = format!(
        "SELECT created_at, id FROM (SELECT created_at, id, \
         row_number() OVER (ORDER BY created_at, id) AS n FROM {table} WHERE account_id = $1) t \
         WHERE n % {ANCHOR_STEP} = 0 ORDER BY n"
    );
    let stmt = Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, [account_id.into()]);
    db.rows_of(stmt, &[Col::BigInt, Col::Text])
        .await?
        .iter()
        .map(|r| {
            Ok(Anchor {
                created_at: r.get(0)?,
                id: r.get(1)?,
            })
        })
        .collect()
}

/// `q` in creation order, selecting only `(created, id)`.
fn keys<E: EntityTrait>(
    q: Select<E>,
    created: E::Column,
    id: E::Column,
) -> sea_orm::sea_query::SelectStatement {
    let order = ListOrder {
        by: None,
        descending: false,
    };
    listed(q, order, created, id)
        .select_only()
        .column(created)
        .column(id)
        .into_query()
}

/// `q` narrowed to the rows after `a` in creation order.
fn after<E: EntityTrait>(
    q: &Select<E>,
    a: &Anchor,
    created: E::Column,
    id: E::Column,
) -> Select<E> {
    use sea_orm::sea_query::ExprTrait;
    q.clone().filter(
        Expr::tuple([Expr::col(created), Expr::col(id)])
            .gt(Expr::tuple([a.created_at.into(), a.id.clone().into()])),
    )
}

pub fn users_query(account_id: &str, cond: Option<Condition>) -> Select<user::Entity> {
    let mut q = user::Entity::find().filter(user::Column::AccountId.eq(account_id));
    if let Some(c) = cond {
        q = q.filter(c);
    }
    q
}

pub fn groups_query(account_id: &str, cond: Option<Condition>) -> Select<group::Entity> {
    let mut q = group::Entity::find().filter(group::Column::AccountId.eq(account_id));
    if let Some(c) = cond {
        q = q.filter(c);
    }
    q
}

pub use group::Model as Group;
pub use user::Model as User;

/// A user's or group's attributes as a write sets them.
pub struct UserFields<'a> {
    pub user_name: &'a str,
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub attributes: &'a serde_json::Value,
}

/// Writes the user over `current` if it is still at `current.version`
/// (optimistic concurrency); the row as written, or `None` when another
/// write got there first.
pub async fn update_user_versioned<C: ConnectionTrait>(
    db: &C,
    current: &user::Model,
    f: UserFields<'_>,
) -> Result<Option<user::Model>, DbErr> {
    let (update, written) = user_update(db.get_database_backend(), current, f);
    let updated = db.execute_raw(update).await?;
    Ok((updated.rows_affected() == 1).then_some(written))
}

/// The write of [`update_user_versioned`] as a statement that changes one
/// row while the user is still at `current.version` (none after another
/// write), and the row it writes.
pub fn user_update(
    backend: sea_orm::DbBackend,
    current: &user::Model,
    f: UserFields<'_>,
) -> (Statement, user::Model) {
    let written = user::Model {
        user_name: f.user_name.to_string(),
        user_name_norm: f.user_name.to_lowercase(),
        email_norm: f.email.clone(),
        external_id: f.external_id.clone(),
        display_name: f.display_name.clone(),
        active: f.active,
        attributes: f.attributes.to_string(),
        version: current.version + 1,
        updated_at: super::now_ms().max(current.updated_at + 1),
        ..current.clone()
    };
    let mut am: user::ActiveModel = current.clone().into();
    am.user_name = sea_orm::Set(f.user_name.to_string());
    am.user_name_norm = sea_orm::Set(f.user_name.to_lowercase());
    am.email_norm = sea_orm::Set(f.email);
    am.external_id = sea_orm::Set(f.external_id);
    am.display_name = sea_orm::Set(f.display_name);
    am.active = sea_orm::Set(f.active);
    am.attributes = sea_orm::Set(f.attributes.to_string());
    am.version = sea_orm::Set(written.version);
    am.updated_at = sea_orm::Set(written.updated_at);
    let update = user::Entity::update_many()
        .set(am)
        .filter(user::Column::Id.eq(current.id.clone()))
        .filter(user::Column::Version.eq(current.version))
        .build(backend);
    (update, written)
}

/// Deletes a user; sessions, memberships and direct roles go with the row
/// (foreign keys cascade).
pub async fn delete_user<C: ConnectionTrait>(db: &C, id: &str) -> Result<(), DbErr> {
    user::Entity::delete_by_id(id.to_string()).exec(db).await?;
    Ok(())
}

pub struct GroupFields<'a> {
    pub display_name: &'a str,
    pub external_id: Option<String>,
    pub attributes: &'a serde_json::Value,
}

pub async fn insert_group<C: ConnectionTrait>(
    db: &C,
    id: &str,
    account_id: &str,
    f: GroupFields<'_>,
) -> Result<(), DbErr> {
    let now = super::now_ms();
    group::ActiveModel {
        id: sea_orm::Set(id.into()),
        account_id: sea_orm::Set(account_id.into()),
        display_name: sea_orm::Set(f.display_name.into()),
        display_name_norm: sea_orm::Set(f.display_name.to_lowercase()),
        external_id: sea_orm::Set(f.external_id),
        attributes: sea_orm::Set(f.attributes.to_string()),
        version: sea_orm::Set(1),
        created_at: sea_orm::Set(now),
        updated_at: sea_orm::Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Writes a group's own attributes (the caller holds its row lock).
pub async fn update_group<C: ConnectionTrait>(
    db: &C,
    current: &group::Model,
    f: GroupFields<'_>,
) -> Result<(), DbErr> {
    let mut am: group::ActiveModel = current.clone().into();
    am.display_name = sea_orm::Set(f.display_name.into());
    am.display_name_norm = sea_orm::Set(f.display_name.to_lowercase());
    am.external_id = sea_orm::Set(f.external_id);
    am.attributes = sea_orm::Set(f.attributes.to_string());
    am.version = sea_orm::Set(current.version + 1);
    am.updated_at = sea_orm::Set(super::now_ms().max(current.updated_at + 1));
    am.update(db).await?;
    Ok(())
}

pub async fn delete_group<C: ConnectionTrait>(db: &C, id: &str) -> Result<(), DbErr> {
    group::Entity::delete_by_id(id.to_string()).exec(db).await?;
    Ok(())
}

/// The order of a list: an optional attribute first, then creation order
/// (the default: creation order only).
#[derive(Default)]
pub struct ListOrder {
    pub by: Option<sea_orm::sea_query::SimpleExpr>,
    pub descending: bool,
}

/// Which rows of a list a page holds, and the list's total when the caller
/// already knows it (a cached count of an unfiltered list).
pub struct Window {
    pub offset: u64,
    pub limit: u64,
    pub known_total: Option<u64>,
    /// For an unfiltered list in creation order: the anchor to start after
    /// and the rows up to and including it (see [`ANCHOR_STEP`]).
    pub after: Option<(Anchor, u64)>,
}

/// One page of the account's users matching `cond`, and the total.
pub async fn users_page<C: ReadConn>(
    db: &C,
    account_id: &str,
    cond: Option<Condition>,
    order: ListOrder,
    w: Window,
) -> Result<(Vec<ListedUser>, u64), DbErr> {
    let (created, id) = (user::Column::CreatedAt, user::Column::Id);
    let q = listed(users_query(account_id, cond), order, created, id);
    let from = w
        .after
        .as_ref()
        .map(|(a, n)| (after(&q, a, created, id), *n));
    let backend = db.backend();
    page_of(db, q, from, w, |rows_q| {
        db.direct(super::reads::direct_statement::<_, ListedUser>(
            rows_q, backend,
        ))
    })
    .await
}

/// What a listed user is rendered from: the columns of its SCIM resource,
/// read straight from the row (see [`super::reads::Direct`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedUser {
    pub id: String,
    pub external_id: Option<String>,
    pub user_name: String,
    pub origin: super::kinds::Origin,
    pub active: bool,
    pub attributes: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl super::reads::Direct for ListedUser {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "external_id",
        "user_name",
        "origin",
        "active",
        "attributes",
        "version",
        "created_at",
        "updated_at",
    ];

    fn decode(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        let origin = row.get_ref(3)?.as_str()?;
        Ok(ListedUser {
            id: row.get(0)?,
            external_id: row.get(1)?,
            user_name: row.get(2)?,
            // An origin no version writes fails the read, as the entity's does.
            origin: super::kinds::Origin::parse(origin).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    3,
                    rusqlite::types::Type::Text,
                    format!("unknown origin {origin:?}").into(),
                )
            })?,
            active: row.get(4)?,
            attributes: row.get(5)?,
            version: row.get(6)?,
            created_at: row.get(7)?,
            updated_at: row.get(8)?,
        })
    }

    fn from_pooled(r: &sea_orm::QueryResult) -> Result<Self, DbErr> {
        Ok(ListedUser {
            id: r.try_get_by_index(0)?,
            external_id: r.try_get_by_index(1)?,
            user_name: r.try_get_by_index(2)?,
            origin: r.try_get_by_index(3)?,
            active: r.try_get_by_index(4)?,
            attributes: r.try_get_by_index(5)?,
            version: r.try_get_by_index(6)?,
            created_at: r.try_get_by_index(7)?,
            updated_at: r.try_get_by_index(8)?,
        })
    }
}

/// One page of the account's groups matching `cond`, and the total.
pub async fn groups_page<C: ReadConn>(
    db: &C,
    account_id: &str,
    cond: Option<Condition>,
    order: ListOrder,
    w: Window,
) -> Result<(Vec<group::Model>, u64), DbErr> {
    let (created, id) = (group::Column::CreatedAt, group::Column::Id);
    let q = listed(groups_query(account_id, cond), order, created, id);
    let from = w
        .after
        .as_ref()
        .map(|(a, n)| (after(&q, a, created, id), *n));
    page(db, q, from, w).await
}

/// A list's order: the requested attribute first, then creation order (stable pages).
fn listed<E: EntityTrait>(
    q: Select<E>,
    order: ListOrder,
    created: E::Column,
    id: E::Column,
) -> Select<E> {
    let q = match order.by {
        Some(e) => q.order_by(e, direction(order.descending)),
        None => q,
    };
    q.order_by(created, sea_orm::Order::Asc)
        .order_by(id, sea_orm::Order::Asc)
}

fn direction(descending: bool) -> sea_orm::Order {
    if descending {
        sea_orm::Order::Desc
    } else {
        sea_orm::Order::Asc
    }
}

/// Up to `limit` users matching `cond`, in creation order.
pub async fn users_matching<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    cond: Option<Condition>,
    limit: u64,
) -> Result<Vec<user::Model>, DbErr> {
    listed(
        users_query(account_id, cond),
        ListOrder::default(),
        user::Column::CreatedAt,
        user::Column::Id,
    )
    .limit(limit)
    .all(db)
    .await
}

/// Up to `limit` groups matching `cond`, in creation order.
pub async fn groups_matching<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    cond: Option<Condition>,
    limit: u64,
) -> Result<Vec<group::Model>, DbErr> {
    listed(
        groups_query(account_id, cond),
        ListOrder::default(),
        group::Column::CreatedAt,
        group::Column::Id,
    )
    .limit(limit)
    .all(db)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ActiveModelTrait, Set};

    /// A migrated SQLite file (reads on it run inline); keep the folder.
    async fn file_db() -> (tempfile::TempDir, sea_orm::DatabaseConnection) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = crate::store::connect(&url).await.unwrap();
        crate::store::migrate(&db).await.unwrap();
        (dir, db)
    }

    fn sample(n: usize) -> Vec<Anchor> {
        (0..n)
            .map(|i| Anchor {
                created_at: i as i64,
                id: format!("a{i}"),
            })
            .collect()
    }

    #[test]
    fn a_deep_page_starts_after_the_nearest_anchor_before_it() {
        let (a, step) = (sample(3), ANCHOR_STEP);
        assert_eq!(start_after(&a, 0), None);
        assert_eq!(start_after(&a, step - 1), None);
        assert_eq!(start_after(&a, step), Some((a[0].clone(), step)));
        assert_eq!(
            start_after(&a, 3 * step - 1),
            Some((a[1].clone(), 2 * step))
        );
        // Past the last anchor: the last one, the rest by OFFSET.
        assert_eq!(start_after(&a, 50 * step), Some((a[2].clone(), 3 * step)));
        assert_eq!(start_after(&[], 5 * step), None);
    }

    /// Which of many ids are the account's IdP users is one probe per id by
    /// primary key, never a walk over the account's users.
    #[tokio::test]
    async fn existing_users_probe_each_id_by_key() {
        let db = crate::store::connect("sqlite::memory:").await.unwrap();
        crate::store::migrate(&db).await.unwrap();
        let (acct, _) = crate::store::accounts::create(&db, "Acme", "admin@acme.test")
            .await
            .unwrap();
        let (other, _) = crate::store::accounts::create(&db, "Other", "admin@other.test")
            .await
            .unwrap();
        for (id, account) in [("u1", &acct.id), ("u2", &acct.id), ("u3", &other.id)] {
            db.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                "INSERT INTO users (id, account_id, user_name, user_name_norm, origin, active, attributes, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, 'scim', 1, '{}', 0, 0)",
                [id.into(), account.clone().into(), id.into(), id.into()],
            ))
            .await
            .unwrap();
        }
        let local = user_by_name(&db, &acct.id, "admin@acme.test")
            .await
            .unwrap()
            .unwrap();
        let ids: Vec<String> = ["u2", "nope", "u3", "u1", "u2", local.id.as_str()]
            .map(String::from)
            .to_vec();
        let found = existing_users(&db, &acct.id, &ids).await.unwrap();
        // Another account's user and the local administrator are not members to be.
        assert_eq!(found, BTreeSet::from(["u1".to_string(), "u2".to_string()]));
        let plan = db
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                format!("EXPLAIN QUERY PLAN {EXISTING_USERS_SQLITE}"),
            ))
            .await
            .unwrap();
        let steps: Vec<String> = plan
            .iter()
            .map(|r| r.try_get::<String>("", "detail").unwrap())
            .collect();
        assert!(
            steps
                .iter()
                .any(|s| s.starts_with("SEARCH u USING INDEX sqlite_autoindex_users")),
            "{steps:?}"
        );
        assert!(!steps.iter().any(|s| s.starts_with("SCAN u")), "{steps:?}");
    }

    /// A page's groups and roles come from one statement that probes each
    /// id by index, with no temporary b-tree (SQLite builds one for an
    /// `IN (…)` list and frees it on every run), read inline on a file.
    #[tokio::test]
    async fn groups_and_roles_of_users_probe_each_id_without_a_temporary_table() {
        let (_dir, db) = file_db().await;
        let (acct, _) = crate::store::accounts::create(&db, "Acme", "admin@acme.test")
            .await
            .unwrap();
        let run = |sql: &str| {
            db.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                sql,
                [acct.id.clone().into()],
            ))
        };
        run("INSERT INTO users (id, account_id, user_name, user_name_norm, origin, active, attributes, created_at, updated_at) \
             SELECT 'u' || value, ?, 'u' || value, 'u' || value, 'scim', 1, '{}', 0, 0 FROM json_each('[1,2,3]')")
            .await
            .unwrap();
        run("INSERT INTO scim_groups (id, account_id, display_name, display_name_norm, created_at, updated_at) \
             SELECT 'g' || value, ?, 'Group ' || value, 'group ' || value, 0, 0 FROM json_each('[1,2]')")
            .await
            .unwrap();
        for sql in [
            "INSERT INTO group_members (group_id, user_id) VALUES ('g1', 'u1'), ('g2', 'u1'), ('g2', 'u2')",
            "INSERT INTO user_roles (user_id, role_ref) VALUES ('u2', 'builtin:administrator'), ('u3', 'custom:x')",
        ] {
            db.execute_unprepared(sql).await.unwrap();
        }
        let reads = crate::store::reads::Reads::open(&db).await.unwrap();
        let ids: Vec<String> = ["u1", "u2", "nope"].map(String::from).to_vec();
        let (groups, roles) = groups_and_roles_of_users(&reads, &ids).await.unwrap();
        let mut u1 = groups["u1"].clone();
        u1.sort();
        assert_eq!(
            u1,
            [("g1", "Group 1"), ("g2", "Group 2")].map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(groups["u2"], [("g2".to_string(), "Group 2".to_string())]);
        assert_eq!(groups.len(), 2, "{groups:?}");
        // u3's role is not asked for.
        assert_eq!(
            roles,
            HashMap::from([("u2".to_string(), vec!["builtin:administrator".to_string()])])
        );
        let stmt = groups_and_roles_statement(DatabaseBackend::Sqlite, &ids);
        let explain = |prefix: &str| {
            db.query_all_raw(Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                format!("{prefix} {}", stmt.sql),
                stmt.values.clone().unwrap().0,
            ))
        };
        let ops: Vec<String> = explain("EXPLAIN")
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String>("", "opcode").unwrap())
            .collect();
        assert!(!ops.iter().any(|o| o == "OpenEphemeral"), "{ops:?}");
        let plan: Vec<String> = explain("EXPLAIN QUERY PLAN")
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String>("", "detail").unwrap())
            .collect();
        for step in [
            "SEARCH m USING COVERING INDEX group_members_user_group (user_id=?)",
            "SEARCH r USING COVERING INDEX sqlite_autoindex_user_roles_1 (user_id=?)",
        ] {
            assert!(plan.iter().any(|d| d.starts_with(step)), "{plan:?}");
        }
    }

    /// A listed user read straight from the row (inline on a SQLite file,
    /// pooled on SQLite and PostgreSQL) holds what its model holds.
    #[tokio::test]
    async fn listed_users_are_read_as_their_models() {
        let (_dir, db) = file_db().await;
        let acct = listed_users_seeded(&db).await;
        let inline = crate::store::reads::Reads::open(&db).await.unwrap();
        assert!(matches!(inline, crate::store::reads::Reads::Inline(_)));
        listed_users_match_models(&inline, &db, &acct).await;
        listed_users_match_models(&db, &db, &acct).await;
        let (admin, pg, name) = crate::store::test_pg::fresh("listed").await;
        let acct = listed_users_seeded(&pg).await;
        listed_users_match_models(&pg, &pg, &acct).await;
        crate::store::test_pg::drop(admin, pg, &name).await;
    }

    async fn listed_users_seeded(db: &sea_orm::DatabaseConnection) -> String {
        let (acct, _) = crate::store::accounts::create(db, "Acme", "admin@acme.test")
            .await
            .unwrap();
        for (i, (ext, active, attrs)) in [
            (
                Some("ext-1"),
                true,
                r#"{"name":{"givenName":"Ann \"Q\""},"active":true}"#,
            ),
            (None, false, "{}"),
        ]
        .into_iter()
        .enumerate()
        {
            user::ActiveModel {
                id: Set(format!("listed{i}")),
                account_id: Set(acct.id.clone()),
                user_name: Set(format!("Listed{i}@acme.test")),
                user_name_norm: Set(format!("listed{i}@acme.test")),
                external_id: Set(ext.map(String::from)),
                origin: Set(crate::store::kinds::Origin::Idp),
                active: Set(active),
                attributes: Set(attrs.into()),
                version: Set(7 + i as i64),
                created_at: Set(5_000_000_000_000 + i as i64),
                updated_at: Set(6_000_000_000_000 + i as i64),
                ..Default::default()
            }
            .insert(db)
            .await
            .unwrap();
        }
        acct.id
    }

    async fn listed_users_match_models<C: ReadConn>(
        reads: &C,
        db: &sea_orm::DatabaseConnection,
        acct: &str,
    ) {
        let w = Window {
            offset: 0,
            limit: 10,
            known_total: None,
            after: None,
        };
        let order = ListOrder {
            by: None,
            descending: false,
        };
        let (listed, total) = users_page(reads, acct, None, order, w).await.unwrap();
        let models = users_query(acct, None)
            .order_by_asc(user::Column::CreatedAt)
            .order_by_asc(user::Column::Id)
            .all(db)
            .await
            .unwrap();
        assert_eq!(
            (total, listed.len()),
            (3, 3),
            "two and the break-glass user"
        );
        for (l, m) in listed.iter().zip(&models) {
            let want = ListedUser {
                id: m.id.clone(),
                external_id: m.external_id.clone(),
                user_name: m.user_name.clone(),
                origin: m.origin,
                active: m.active,
                attributes: m.attributes.clone(),
                version: m.version,
                created_at: m.created_at,
                updated_at: m.updated_at,
            };
            assert_eq!(l, &want);
        }
    }

    /// 2,500 users, three to each `created_at` (ties ordered by id), on a
    /// SQLite file so reads run inline; pages from anchors equal `OFFSET`'s.
    #[tokio::test]
    async fn anchored_pages_equal_offset_pages() {
        let (_dir, db) = file_db().await;
        anchored_pages_match_offset_pages(&db).await;
    }

    /// The same on PostgreSQL, whose anchors the server numbers.
    #[tokio::test]
    async fn postgres_anchored_pages_equal_offset_pages() {
        let (admin, db, name) = crate::store::test_pg::fresh("anchors").await;
        anchored_pages_match_offset_pages(&db).await;
        crate::store::test_pg::drop(admin, db, &name).await;
    }

    async fn anchored_pages_match_offset_pages(db: &sea_orm::DatabaseConnection) {
        let (acct, _) = crate::store::accounts::create(db, "Acme", "admin@acme.test")
            .await
            .unwrap();
        let backend = db.get_database_backend();
        let seed = match backend {
            DatabaseBackend::Postgres => "INSERT INTO users (id, account_id, user_name, user_name_norm, origin, active, attributes, created_at, updated_at) \
             SELECT 'u' || lpad((2500 - i)::text, 5, '0'), $1, 'u' || i, 'u' || i, 'scim', true, '{}', 4000000000000 + i / 3, 0 \
             FROM generate_series(0, 2499) i",
            _ => "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 2499) \
             INSERT INTO users (id, account_id, user_name, user_name_norm, origin, active, attributes, created_at, updated_at) \
             SELECT printf('u%05d', 2500 - i), ?, 'u' || i, 'u' || i, 'scim', 1, '{}', 4000000000000 + i / 3, 0 FROM n",
        };
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            seed,
            [acct.id.clone().into()],
        ))
        .await
        .unwrap();
        let reads = crate::store::reads::Reads::open(db).await.unwrap();
        let list = anchors(&reads, &acct.id, false).await.unwrap().unwrap();
        assert_eq!(
            list.len() as u64,
            2_501 / ANCHOR_STEP,
            "2,501 users: an anchor every ANCHOR_STEP"
        );
        for offset in [1_000, 1_001, 1_499, 1_999, 2_000, 2_450, 2_501] {
            let w = |after| Window {
                offset,
                limit: 100,
                known_total: None,
                after,
            };
            let order = || ListOrder {
                by: None,
                descending: false,
            };
            let after = start_after(&list, offset);
            assert!(after.is_some());
            let (plain, t1) = users_page(&reads, &acct.id, None, order(), w(None))
                .await
                .unwrap();
            let (anchored, t2) = users_page(&reads, &acct.id, None, order(), w(after))
                .await
                .unwrap();
            let ids = |v: &[ListedUser]| v.iter().map(|u| u.id.clone()).collect::<Vec<_>>();
            assert_eq!(ids(&anchored), ids(&plain), "offset {offset}");
            assert_eq!(t1, t2);
            assert_eq!(t1, 2_501);
        }
    }
}
