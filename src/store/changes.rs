//! The change log replicas share: every write that can make another
//! replica's cached access, users or API keys stale appends a row in its
//! own transaction; each replica polls the log and drops what went stale.

use super::batch::Batch;
use super::entities::change_log;
use super::now_ms;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Set,
};

/// What a change made stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The account's model (roles, environments, mappings, settings) and its users.
    Account,
    /// Users, groups or memberships of the account.
    Users,
    /// API keys (revoked, expired by hand).
    ApiKeys,
    /// SCIM tokens (revoked).
    ScimTokens,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Account => "account",
            Change::Users => "users",
            Change::ApiKeys => "api_keys",
            Change::ScimTokens => "scim_tokens",
        }
    }

    /// Unknown kinds (written by a newer version) are treated as the widest.
    pub fn parse(s: &str) -> Change {
        match s {
            "users" => Change::Users,
            "api_keys" => Change::ApiKeys,
            "scim_tokens" => Change::ScimTokens,
            _ => Change::Account,
        }
    }
}

pub async fn record<C: ConnectionTrait>(
    db: &C,
    account_id: Option<&str>,
    change: Change,
) -> Result<(), DbErr> {
    let mut b = Batch::new(db.get_database_backend());
    push(&mut b, account_id, change);
    b.run(db).await
}

/// Adds the change's row to a batch the caller runs in its transaction.
pub fn push(b: &mut Batch, account_id: Option<&str>, change: Change) {
    let row = change_log::ActiveModel {
        account_id: Set(account_id.map(Into::into)),
        kind: Set(change.as_str().into()),
        at: Set(now_ms()),
        ..Default::default()
    };
    b.push(change_log::Entity::insert(row).build(b.backend()));
}

/// The newest sequence number (0 for an empty log).
pub async fn latest<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    Ok(change_log::Entity::find()
        .order_by_desc(change_log::Column::Seq)
        .one(db)
        .await?
        .map_or(0, |c| c.seq))
}

/// Changes after `seq`, oldest first.
pub async fn since<C: ConnectionTrait>(db: &C, seq: i64) -> Result<Vec<change_log::Model>, DbErr> {
    change_log::Entity::find()
        .filter(change_log::Column::Seq.gt(seq))
        .order_by_asc(change_log::Column::Seq)
        .limit(10_000)
        .all(db)
        .await
}

/// Drops entries older than `keep_ms`: every replica has long read them.
pub async fn prune<C: ConnectionTrait>(db: &C, keep_ms: i64) -> Result<(), DbErr> {
    change_log::Entity::delete_many()
        .filter(change_log::Column::At.lt(now_ms() - keep_ms))
        .exec(db)
        .await?;
    Ok(())
}
