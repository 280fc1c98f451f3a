//! Users read together with what a SCIM rendering of them needs besides
//! their row (their groups and direct roles), in the same statement.
//!
//! Why: on PostgreSQL every statement is a round trip, and a lookup and a
//! GET were two each (the user, then its groups and roles). Two correlated
//! subqueries return the user's groups and roles as JSON arrays beside its
//! columns, found by the membership and role tables' `user_id` indexes:
//! lookups and GETs ran ~60 % faster there, unchanged on SQLite.
//!
//! Not for list pages: measured, a page of 100 so ran a third slower on
//! both databases than its rows followed by one query for all their parts
//! (`store::scim::groups_and_roles_of_users`); PostgreSQL also evaluates
//! the subqueries for every row an `OFFSET` skips.

use super::entities::user;
use super::point_reads::Key;
use super::reads::ReadConn;
use sea_orm::sea_query::Expr;
use sea_orm::{DbBackend, DbErr, QuerySelect, Select, Statement};
use serde::de::DeserializeOwned;

/// A user, its groups `(id, displayName)` and its direct role references.
#[derive(Clone, Debug, PartialEq)]
pub struct Parted {
    pub user: user::Model,
    pub groups: Vec<(String, String)>,
    pub roles: Vec<String>,
}

const GROUPS: &str = "parts_groups";
const ROLES: &str = "parts_roles";
/// The computed columns, in the order [`with_parts`] adds them.
const EXTRA: &[&str] = &[GROUPS, ROLES];

/// `q` (a select of users) with each user's groups and roles beside it.
pub fn with_parts(q: Select<user::Entity>, backend: DbBackend) -> Select<user::Entity> {
    // No rows: SQLite's aggregate gives `[]`, PostgreSQL's NULL (read as none).
    let (groups, roles) = match backend {
        DbBackend::Postgres => (
            r#"(SELECT json_agg(json_build_array(g.id, g.display_name))::text FROM group_members m JOIN scim_groups g ON g.id = m.group_id WHERE m.user_id = "users"."id")"#,
            r#"(SELECT json_agg(r.role_ref)::text FROM user_roles r WHERE r.user_id = "users"."id")"#,
        ),
        _ => (
            r#"(SELECT json_group_array(json_array(g.id, g.display_name)) FROM group_members m JOIN scim_groups g ON g.id = m.group_id WHERE m.user_id = "users"."id")"#,
            r#"(SELECT json_group_array(r.role_ref) FROM user_roles r WHERE r.user_id = "users"."id")"#,
        ),
    };
    q.expr_as(Expr::cust(groups), GROUPS)
        .expr_as(Expr::cust(roles), ROLES)
}

/// The users a statement built by [`with_parts`] returns.
pub async fn read<C: ReadConn>(db: &C, stmt: Statement) -> Result<Vec<Parted>, DbErr> {
    parted(db.models_with::<user::Entity>(stmt, EXTRA).await?)
}

/// The users in the rows of a statement built by [`with_parts`].
pub fn from_rows(rows: &[sea_orm::QueryResult]) -> Result<Vec<Parted>, DbErr> {
    parted(super::reads::extended::<user::Entity>(rows, EXTRA)?)
}

fn parted(found: Vec<super::reads::Extended<user::Entity>>) -> Result<Vec<Parted>, DbErr> {
    found
        .into_iter()
        .map(|(user, extra)| {
            let mut extra = extra.into_iter();
            Ok(Parted {
                user,
                groups: list(extra.next().flatten())?,
                roles: list(extra.next().flatten())?,
            })
        })
        .collect()
}

fn list<T: DeserializeOwned>(text: Option<String>) -> Result<Vec<T>, DbErr> {
    match text {
        None => Ok(vec![]),
        Some(t) => serde_json::from_str(&t).map_err(|e| DbErr::Type(format!("user parts: {e}"))),
    }
}

/// A user of an account by id, with its parts.
pub async fn by_id<C: ReadConn>(
    db: &C,
    account_id: &str,
    id: &str,
) -> Result<Option<Parted>, DbErr> {
    if let Some(points) = db.point_reads() {
        let found = points.read(account_id, Key::Id(id.to_string())).await?;
        return Ok(found.into_iter().next());
    }
    let stmt = super::shapes::PARTED_USER_BY_ID
        .statement(db.backend(), vec![id.into(), account_id.into()]);
    Ok(read(db, stmt).await?.into_iter().next())
}

/// The users of an account with this folded userName (at most one), with
/// their parts, in list order.
pub async fn by_name<C: ReadConn>(
    db: &C,
    account_id: &str,
    user_name_norm: &str,
) -> Result<Vec<Parted>, DbErr> {
    if let Some(points) = db.point_reads() {
        return points
            .read(account_id, Key::Name(user_name_norm.to_string()))
            .await;
    }
    let stmt = super::shapes::PARTED_USER_BY_NAME
        .statement(db.backend(), vec![account_id.into(), user_name_norm.into()]);
    read(db, stmt).await
}
