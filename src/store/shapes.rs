//! The hottest SCIM reads as statements built once.
//!
//! A statement's SQL depends only on its shape, not on the values bound to
//! it. Building a sea-query select (every column of the entity, its
//! condition tree, then the SQL text) cost about an eighth of a `userName
//! eq` lookup's CPU in the profile of issue 14, for SQL that never changes.
//! A [`Shape`] builds its SQL with sea-query the first time it is used on a
//! backend and afterwards only binds the values; its tests check that the
//! result equals what sea-query builds with those values.

use super::entities::user;
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QueryTrait};
use sea_orm::{Statement, Value};
use std::sync::OnceLock;

/// A statement whose SQL is fixed and whose values are bound per use.
pub struct Shape {
    build: fn(DbBackend, &[Value]) -> Statement,
    sqlite: OnceLock<String>,
    postgres: OnceLock<String>,
}

impl Shape {
    const fn new(build: fn(DbBackend, &[Value]) -> Statement) -> Self {
        Shape {
            build,
            sqlite: OnceLock::new(),
            postgres: OnceLock::new(),
        }
    }

    /// The statement with `values` bound, in the order the builder binds them.
    pub fn statement(&self, backend: DbBackend, values: Vec<Value>) -> Statement {
        let cell = match backend {
            DbBackend::Sqlite => &self.sqlite,
            _ => &self.postgres,
        };
        let sql = cell.get_or_init(|| (self.build)(backend, &values).sql);
        Statement::from_sql_and_values(backend, sql.clone(), values)
    }
}

fn text(v: &[Value], i: usize) -> String {
    match v.get(i) {
        Some(Value::String(Some(s))) => s.clone(),
        _ => String::new(),
    }
}

/// A user of an account by id: `[id, account_id]`.
pub static USER_BY_ID: Shape = Shape::new(|b, v| {
    user::Entity::find_by_id(text(v, 0))
        .filter(user::Column::AccountId.eq(text(v, 1)))
        .build(b)
});

/// [`USER_BY_ID`] with the user's groups and roles (`store::parted`).
pub static PARTED_USER_BY_ID: Shape = Shape::new(|b, v| {
    super::parted::with_parts(
        user::Entity::find_by_id(text(v, 0)).filter(user::Column::AccountId.eq(text(v, 1))),
        b,
    )
    .build(b)
});

/// A user of an account by folded userName, as a `userName eq` filter
/// finds it (in list order), with its groups and roles (`store::parted`):
/// `[account_id, user_name_norm]`.
pub static PARTED_USER_BY_NAME: Shape = Shape::new(|b, v| {
    super::parted::with_parts(
        user::Entity::find()
            .filter(user::Column::AccountId.eq(text(v, 0)))
            .filter(user::Column::UserNameNorm.eq(text(v, 1)))
            .order_by_asc(user::Column::CreatedAt)
            .order_by_asc(user::Column::Id),
        b,
    )
    .build(b)
});

#[cfg(test)]
mod tests {
    use super::*;

    fn values(v: &[&str]) -> Vec<Value> {
        v.iter().map(|s| Value::from(s.to_string())).collect()
    }

    /// The shape's statement for `later` equals a fresh build with those
    /// values: same SQL, values in the same places. Checked after the SQL
    /// was first built with other values.
    fn same_as_built(shape: &Shape, later: &[&str]) {
        for b in [DbBackend::Sqlite, DbBackend::Postgres] {
            let first: Vec<String> = (0..later.len()).map(|i| format!("first-{i}")).collect();
            let first: Vec<&str> = first.iter().map(String::as_str).collect();
            shape.statement(b, values(&first));
            let cached = shape.statement(b, values(later));
            let built = (shape.build)(b, &values(later));
            assert_eq!(cached.sql, built.sql, "{b:?}");
            assert_eq!(cached.values, built.values, "{b:?}");
        }
    }

    #[test]
    fn shapes_equal_their_fresh_builds() {
        same_as_built(&USER_BY_ID, &["an-id-'\"?$1", "an-account"]);
        same_as_built(&PARTED_USER_BY_ID, &["an-id", "an-account"]);
        same_as_built(&PARTED_USER_BY_NAME, &["an-account", "ann@acme.test"]);
    }

    #[test]
    fn values_are_bound_where_the_builder_binds_them() {
        let s = USER_BY_ID.statement(DbBackend::Postgres, values(&["the-id", "the-account"]));
        // The id is compared first, then the account.
        let id_at = s.sql.find("\"id\" = $1").expect(&s.sql);
        let acct_at = s.sql.find("\"account_id\" = $2").expect(&s.sql);
        assert!(id_at < acct_at, "{}", s.sql);
    }
}
