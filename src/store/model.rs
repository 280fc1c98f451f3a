//! Builds the access engine's inputs (account model, a user's grants) from the database.

use super::entities::*;
use super::kinds::MatchKind;
use crate::access::{
    AccountModel, CustomRole, EnvId, Environment, Features, Grant, RoleId, RoleRef, Scoping, Via,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use std::collections::{BTreeMap, BTreeSet};

pub async fn account<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<account::Model>, DbErr> {
    account::Entity::find_by_id(id.to_string()).one(db).await
}

pub async fn account_model<C: ConnectionTrait>(
    db: &C,
    acct: &account::Model,
) -> Result<AccountModel, DbErr> {
    let custom_roles = custom_roles(db, &acct.id).await?;
    let envs = environment::Entity::find()
        .filter(environment::Column::AccountId.eq(&acct.id))
        .all(db)
        .await?;
    let env_ids: Vec<String> = envs.iter().map(|e| e.id.clone()).collect();
    let env_roles = if env_ids.is_empty() {
        vec![]
    } else {
        environment_role::Entity::find()
            .filter(environment_role::Column::EnvironmentId.is_in(env_ids))
            .all(db)
            .await?
    };
    let mut environments: Vec<Environment> = envs
        .into_iter()
        .map(|e| Environment {
            id: EnvId(e.id),
            name: e.name,
            roles: BTreeSet::new(),
        })
        .collect();
    for er in env_roles {
        if let Some(e) = environments
            .iter_mut()
            .find(|e| e.id.as_str() == er.environment_id)
        {
            e.roles.insert(RoleRef::from_stored(&er.role_ref));
        }
    }
    Ok(AccountModel {
        features: Features {
            advanced_user_security: acct.advanced_user_security,
            pii_data_insights: acct.pii_data_insights,
            datahub: acct.datahub,
        },
        // Unreadable is refused, never read as the permissive `additive`.
        scoping: Scoping::parse(&acct.environment_scoping).ok_or_else(|| {
            DbErr::Custom(format!(
                "account {}: unreadable environment_scoping {:?}",
                acct.id, acct.environment_scoping
            ))
        })?,
        custom_roles,
        environments,
    })
}

/// The account's custom roles with their own privileges.
async fn custom_roles<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
) -> Result<BTreeMap<RoleId, CustomRole>, DbErr> {
    let roles = custom_role::Entity::find()
        .filter(custom_role::Column::AccountId.eq(account_id))
        .all(db)
        .await?;
    let ids: Vec<String> = roles.iter().map(|r| r.id.clone()).collect();
    let privs = if ids.is_empty() {
        vec![]
    } else {
        custom_role_privilege::Entity::find()
            .filter(custom_role_privilege::Column::RoleId.is_in(ids))
            .all(db)
            .await?
    };
    let mut custom_roles: BTreeMap<RoleId, CustomRole> = roles
        .into_iter()
        .map(|r| {
            (
                RoleId(r.id.clone()),
                CustomRole {
                    id: RoleId(r.id),
                    name: r.name,
                    parent: r.inherits.as_deref().map(RoleRef::from_stored),
                    privileges: BTreeSet::new(),
                },
            )
        })
        .collect();
    for p in privs {
        if let (Some(role), Some(def)) = (
            custom_roles.get_mut(&RoleId(p.role_id)),
            crate::catalog::privilege(&p.privilege),
        ) {
            role.privileges.insert(def.key);
        }
    }
    Ok(custom_roles)
}

/// How a user key (an id, a userName or an email) resolved.
#[derive(Debug)]
pub enum Lookup {
    None,
    One(Box<user::Model>),
    /// The key names more than one user (say one's id and another's email):
    /// refused rather than guessed.
    Ambiguous,
}

impl Lookup {
    fn from_rows(mut rows: Vec<user::Model>) -> Self {
        match rows.len() {
            0 => Lookup::None,
            1 => rows
                .pop()
                .map_or(Lookup::None, |u| Lookup::One(Box::new(u))),
            _ => Lookup::Ambiguous,
        }
    }
}

/// A user of the account by exact id: how sessions and keys authenticate.
pub async fn user_by_id<C: crate::store::reads::ReadConn>(
    db: &C,
    account_id: &str,
    id: &str,
) -> Result<Option<user::Model>, DbErr> {
    let stmt = crate::store::shapes::USER_BY_ID
        .statement(db.backend(), vec![id.into(), account_id.into()]);
    Ok(db.models::<user::Entity>(stmt).await?.into_iter().next())
}

/// Finds the one user of the account a key names: exact id, or userName /
/// email ignoring case. Every match is considered at once, so a key that is
/// one user's id and another's email is [`Lookup::Ambiguous`].
pub async fn find_user<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    key: &str,
) -> Result<Lookup, DbErr> {
    let n = key.trim().to_lowercase();
    let keys = [
        user::Column::Id.eq(key),
        user::Column::UserNameNorm.eq(n.clone()),
        user::Column::EmailNorm.eq(n),
    ];
    lookup(db, account_id, keys, None).await
}

/// The account's users matching any of `keys` (each also matching `also`):
/// none, one, or more than one. Each key is its own indexed lookup, the
/// lookups joined by `UNION`: as one `OR`, SQLite without table statistics
/// walked every user of the account (245 ms at 100k users: `/authorize`
/// stalled each time its cache reloaded after a burst of creates).
async fn lookup<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    keys: impl IntoIterator<Item = sea_orm::sea_query::SimpleExpr>,
    also: Option<Condition>,
) -> Result<Lookup, DbErr> {
    let Some(stmt) = lookup_statement(db.get_database_backend(), account_id, keys, also) else {
        return Ok(Lookup::None);
    };
    let rows = user::Entity::find().from_raw_sql(stmt).all(db).await?;
    Ok(Lookup::from_rows(rows))
}

/// [`lookup`]'s statement: up to two users, one indexed branch per key.
fn lookup_statement(
    backend: sea_orm::DbBackend,
    account_id: &str,
    keys: impl IntoIterator<Item = sea_orm::sea_query::SimpleExpr>,
    also: Option<Condition>,
) -> Option<sea_orm::Statement> {
    let base = user::Entity::find().filter(user::Column::AccountId.eq(account_id));
    let base = match also {
        Some(a) => base.filter(a),
        None => base,
    };
    let mut q = any_of(base, keys)?;
    // After the unions, the limit bounds the whole result.
    q.limit(2);
    Some(backend.build(&q))
}

/// The rows of `base` matching any of `keys`, as one indexed branch per key
/// joined with `UNION` (distinct: a row two keys match is one row). Written
/// as one `OR`, SQLite without table statistics walks the account instead.
fn any_of<E: EntityTrait>(
    base: sea_orm::Select<E>,
    keys: impl IntoIterator<Item = sea_orm::sea_query::SimpleExpr>,
) -> Option<sea_orm::sea_query::SelectStatement> {
    use sea_orm::sea_query::UnionType;
    use sea_orm::QueryTrait;
    let mut keys = keys.into_iter();
    let mut q = base.clone().filter(keys.next()?).into_query();
    for k in keys {
        q.union(UnionType::Distinct, base.clone().filter(k).into_query());
    }
    Some(q)
}

/// The account's users holding a local credential, by userName or email:
/// only they can sign in locally, so IdP-provisioned look-alikes never shadow them.
pub async fn local_user<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    login: &str,
) -> Result<Lookup, DbErr> {
    let n = login.trim().to_lowercase();
    let keys = [
        user::Column::UserNameNorm.eq(n.clone()),
        user::Column::EmailNorm.eq(n),
    ];
    let local = Condition::all().add(user::Column::PasswordHash.is_not_null());
    lookup(db, account_id, keys, Some(local)).await
}

/// The account's users whose (primary) email is `email`, ignoring case:
/// the only thing an IdP's verified email claim is matched on.
pub async fn user_by_email<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    email: &str,
) -> Result<Lookup, DbErr> {
    let by = user::Column::EmailNorm.eq(email.trim().to_lowercase());
    lookup(db, account_id, [by], None).await
}

fn mapping_grants(
    mappings: &[(group_mapping::Model, Vec<group_mapping_role::Model>)],
    matches: impl Fn(&group_mapping::Model) -> Option<Via>,
    out: &mut Vec<Grant>,
) -> Result<(), DbErr> {
    for (m, roles) in mappings {
        if let Some(via) = matches(m) {
            for r in roles {
                // An unreadable narrowing is refused: read as "none" it
                // would grant the role in every environment.
                let environments = match r.environments.as_deref() {
                    None => None,
                    Some(s) => Some(serde_json::from_str::<BTreeSet<String>>(s).map_err(|e| {
                        DbErr::Custom(format!(
                            "group mapping {}: unreadable environments: {e}",
                            m.id
                        ))
                    })?),
                };
                out.push(Grant {
                    role: RoleRef::from_stored(&r.role_ref),
                    via: via.clone(),
                    environments: environments.map(|e| e.into_iter().map(EnvId).collect()),
                });
            }
        }
    }
    Ok(())
}

pub async fn mappings<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
) -> Result<Vec<(group_mapping::Model, Vec<group_mapping_role::Model>)>, DbErr> {
    let maps = group_mapping::Entity::find()
        .filter(group_mapping::Column::AccountId.eq(account_id))
        .all(db)
        .await?;
    if maps.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<String> = maps.iter().map(|m| m.id.clone()).collect();
    let roles = group_mapping_role::Entity::find()
        .filter(group_mapping_role::Column::MappingId.is_in(ids))
        .all(db)
        .await?;
    Ok(maps
        .into_iter()
        .map(|m| {
            let mine = roles
                .iter()
                .filter(|r| r.mapping_id == m.id)
                .cloned()
                .collect();
            (m, mine)
        })
        .collect())
}

fn group_matches(m: &group_mapping::Model, g: &group::Model) -> bool {
    match m.match_kind {
        MatchKind::DisplayName => m.match_value_norm == g.display_name_norm,
        MatchKind::ExternalId => g.external_id.as_deref() == Some(m.match_value.as_str()),
        MatchKind::Id => g.id == m.match_value,
    }
}

/// A user's grants: direct assignments and roles mapped from SCIM group
/// memberships, plus (when given) roles mapped from an ID token's groups claim.
pub async fn user_grants<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    user_id: &str,
    claim_groups: Option<&[String]>,
) -> Result<Vec<Grant>, DbErr> {
    let mut out: Vec<Grant> = user_role::Entity::find()
        .filter(user_role::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|r| Grant {
            role: RoleRef::from_stored(&r.role_ref),
            via: Via::Direct,
            environments: None,
        })
        .collect();
    let maps = mappings(db, account_id).await?;
    if maps.is_empty() {
        return Ok(out);
    }
    let member_of: Vec<String> = group_member::Entity::find()
        .filter(group_member::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.group_id)
        .collect();
    if !member_of.is_empty() {
        let groups = group::Entity::find()
            .filter(group::Column::Id.is_in(member_of))
            .all(db)
            .await?;
        for g in &groups {
            mapping_grants(
                &maps,
                |m| {
                    group_matches(m, g).then(|| Via::Group {
                        group: g.display_name.clone(),
                    })
                },
                &mut out,
            )?;
        }
    }
    if let Some(claims) = claim_groups {
        claim_grants(db, account_id, claims, &maps, &mut out).await?;
    }
    Ok(out)
}

/// The account's groups a claim value names by id, externalId or name.
fn claimed_groups_statement(
    backend: sea_orm::DbBackend,
    account_id: &str,
    claims: &[String],
) -> Option<sea_orm::Statement> {
    let norms: Vec<String> = claims.iter().map(|c| c.to_lowercase()).collect();
    let keys = [
        group::Column::Id.is_in(claims.to_vec()),
        group::Column::ExternalId.is_in(claims.to_vec()),
        group::Column::DisplayNameNorm.is_in(norms),
    ];
    let base = group::Entity::find().filter(group::Column::AccountId.eq(account_id));
    Some(backend.build(&any_of(base, keys)?))
}

/// Grants from an ID token's groups claim: a claim value matches a mapping
/// directly, or through the SCIM group it names (id, externalId or name).
async fn claim_grants<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    claims: &[String],
    maps: &[(group_mapping::Model, Vec<group_mapping_role::Model>)],
    out: &mut Vec<Grant>,
) -> Result<(), DbErr> {
    // A claim value matches a mapping directly, or through the SCIM group it names.
    let known = if claims.is_empty() {
        vec![]
    } else {
        match claimed_groups_statement(db.get_database_backend(), account_id, claims) {
            Some(stmt) => group::Entity::find().from_raw_sql(stmt).all(db).await?,
            None => vec![],
        }
    };
    for c in claims {
        let cn = c.to_lowercase();
        mapping_grants(
            maps,
            |m| {
                let direct = if m.match_kind == MatchKind::DisplayName {
                    m.match_value_norm == cn
                } else {
                    &m.match_value == c
                };
                let through = known.iter().any(|g| {
                    (g.id == *c || g.external_id.as_deref() == Some(c) || g.display_name_norm == cn)
                        && group_matches(m, g)
                });
                (direct || through).then(|| Via::Claims { group: c.clone() })
            },
            out,
        )?;
    }
    Ok(())
}

/// Users who are members of a SCIM group the mapping matches.
pub async fn members_of_mapped_groups<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    mapping_id: &str,
) -> Result<Vec<user::Model>, DbErr> {
    let Some(m) = group_mapping::Entity::find_by_id(mapping_id.to_string())
        .one(db)
        .await?
    else {
        return Ok(vec![]);
    };
    let groups: Vec<String> = group::Entity::find()
        .filter(group::Column::AccountId.eq(account_id))
        .all(db)
        .await?
        .into_iter()
        .filter(|g| group_matches(&m, g))
        .map(|g| g.id)
        .collect();
    if groups.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<String> = group_member::Entity::find()
        .filter(group_member::Column::GroupId.is_in(groups))
        .all(db)
        .await?
        .into_iter()
        .map(|gm| gm.user_id)
        .collect();
    user::Entity::find()
        .filter(user::Column::AccountId.eq(account_id))
        .filter(user::Column::Id.is_in(ids))
        .order_by_asc(user::Column::UserNameNorm)
        .all(db)
        .await
}

/// Users whose userName contains `q` (ignoring case), by userName.
pub async fn search_users<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    q: &str,
    limit: u64,
) -> Result<Vec<user::Model>, DbErr> {
    let mut s = user::Entity::find().filter(user::Column::AccountId.eq(account_id));
    let q = q.trim().to_lowercase();
    if !q.is_empty() {
        s = s.filter(user::Column::UserNameNorm.contains(q));
    }
    s.order_by_asc(user::Column::UserNameNorm)
        .limit(limit)
        .all(db)
        .await
}

/// What the console's overview counts.
pub struct AccountCounts {
    pub users: u64,
    pub active_users: u64,
    pub groups: u64,
    pub live_sessions: u64,
}

pub async fn account_counts<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
) -> Result<AccountCounts, DbErr> {
    let users = user::Entity::find().filter(user::Column::AccountId.eq(account_id));
    Ok(AccountCounts {
        users: users.clone().count(db).await?,
        active_users: users
            .filter(user::Column::Active.eq(true))
            .count(db)
            .await?,
        groups: group::Entity::find()
            .filter(group::Column::AccountId.eq(account_id))
            .count(db)
            .await?,
        live_sessions: session::Entity::find()
            .filter(session::Column::AccountId.eq(account_id))
            .filter(session::Column::ExpiresAt.gt(super::now_ms()))
            .count(db)
            .await?,
    })
}

/// Up to `limit` ids of the account's users.
pub async fn user_ids<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    limit: usize,
) -> Result<Vec<String>, DbErr> {
    Ok(user::Entity::find()
        .filter(user::Column::AccountId.eq(account_id))
        .limit(limit as u64)
        .all(db)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect())
}

/// Whether any group mapping matches one of these versions of a group (as
/// it was, as it is now): only then can its memberships change access.
pub async fn group_is_mapped<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    versions: &[&group::Model],
) -> Result<bool, DbErr> {
    let maps = group_mapping::Entity::find()
        .filter(group_mapping::Column::AccountId.eq(account_id))
        .all(db)
        .await?;
    Ok(maps
        .iter()
        .any(|m| versions.iter().any(|g| group_matches(m, g))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{DbBackend, Statement};

    /// Without table statistics (a new database, or one that grew since its
    /// last ANALYZE) each branch of a user lookup still searches by its own
    /// key, never walks the account's users.
    #[tokio::test]
    async fn user_lookups_search_by_their_key_without_statistics() {
        let db = crate::store::connect("sqlite::memory:").await.unwrap();
        crate::store::migrate(&db).await.unwrap();
        let n = "someone@acme.test".to_string();
        let local = Condition::all().add(user::Column::PasswordHash.is_not_null());
        let cases = [
            (
                vec![
                    user::Column::Id.eq(n.clone()),
                    user::Column::UserNameNorm.eq(n.clone()),
                    user::Column::EmailNorm.eq(n.clone()),
                ],
                None,
            ),
            (
                vec![
                    user::Column::UserNameNorm.eq(n.clone()),
                    user::Column::EmailNorm.eq(n.clone()),
                ],
                Some(local),
            ),
        ];
        for (keys, also) in cases {
            let branches = keys.len();
            let stmt = lookup_statement(DbBackend::Sqlite, "acct", keys, also).unwrap();
            let plan = plan_of(&db, stmt).await;
            assert_eq!(plan.len(), branches, "{plan:?}");
            for d in &plan {
                assert!(
                    d.starts_with("SEARCH")
                        && ["(id=?)", "user_name_norm=?", "email_norm=?"]
                            .iter()
                            .any(|k| d.contains(k)),
                    "a branch that does not search by its key: {d}"
                );
            }
        }
    }

    #[tokio::test]
    async fn group_claims_search_each_key_without_statistics() {
        let db = crate::store::connect("sqlite::memory:").await.unwrap();
        crate::store::migrate(&db).await.unwrap();
        let claims = vec!["Engineers".to_string(), "0f1e".to_string()];
        let stmt = claimed_groups_statement(DbBackend::Sqlite, "acct", &claims).unwrap();
        let plan = plan_of(&db, stmt).await;
        assert_eq!(plan.len(), 3, "{plan:?}");
        for d in &plan {
            assert!(
                d.starts_with("SEARCH")
                    && ["(id=?)", "external_id=?", "display_name_norm=?"]
                        .iter()
                        .any(|k| d.contains(k)),
                "a branch that does not search by its key: {d}"
            );
        }
    }

    /// The plan lines of `stmt` that read a table.
    async fn plan_of(db: &sea_orm::DatabaseConnection, stmt: Statement) -> Vec<String> {
        let explain = Statement::from_sql_and_values(
            DbBackend::Sqlite,
            format!("EXPLAIN QUERY PLAN {}", stmt.sql),
            stmt.values.unwrap().0,
        );
        db.query_all_raw(explain)
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String>("", "detail").unwrap())
            .filter(|d| d.starts_with("SEARCH") || d.starts_with("SCAN"))
            .collect()
    }

    #[tokio::test]
    async fn a_user_found_by_several_keys_is_one_user() {
        let db = crate::store::connect("sqlite::memory:").await.unwrap();
        crate::store::migrate(&db).await.unwrap();
        let (acct, admin) = crate::store::accounts::create(&db, "Acme", "Admin@Acme.test")
            .await
            .unwrap();
        // The email is both the userName and the email: two branches, one user.
        for key in [" admin@acme.TEST", admin.user_id.as_str()] {
            match find_user(&db, &acct.id, key).await.unwrap() {
                Lookup::One(u) => assert_eq!(u.id, admin.user_id),
                _ => panic!("{key} should name the admin alone"),
            }
        }
        assert!(matches!(
            find_user(&db, &acct.id, "nobody@acme.test").await.unwrap(),
            Lookup::None
        ));
        assert!(matches!(
            local_user(&db, &acct.id, "admin@acme.test").await.unwrap(),
            Lookup::One(_)
        ));
    }
}
