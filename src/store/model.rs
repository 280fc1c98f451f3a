//! Builds the access engine's inputs (account model, a user's grants) from the database.

use super::entities::*;
use crate::access::{AccountModel, CustomRole, Environment, Grant, Scoping, Via};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
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
    let roles = custom_role::Entity::find()
        .filter(custom_role::Column::AccountId.eq(&acct.id))
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
    let mut custom_roles: BTreeMap<String, CustomRole> = roles
        .into_iter()
        .map(|r| {
            (
                r.id.clone(),
                CustomRole {
                    id: r.id,
                    name: r.name,
                    parent: r.inherits,
                    privileges: BTreeSet::new(),
                },
            )
        })
        .collect();
    for p in privs {
        if let (Some(role), Some(def)) = (
            custom_roles.get_mut(&p.role_id),
            crate::catalog::privilege(&p.privilege),
        ) {
            role.privileges.insert(def.key);
        }
    }
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
            id: e.id,
            name: e.name,
            roles: BTreeSet::new(),
        })
        .collect();
    for er in env_roles {
        if let Some(e) = environments.iter_mut().find(|e| e.id == er.environment_id) {
            e.roles.insert(er.role_ref);
        }
    }
    Ok(AccountModel {
        advanced_user_security: acct.advanced_user_security,
        scoping: Scoping::parse(&acct.environment_scoping).unwrap_or_default(),
        custom_roles,
        environments,
    })
}

/// Finds a user of the account by id or by email / userName (case-insensitive).
pub async fn find_user<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    id_or_email: &str,
) -> Result<Option<user::Model>, DbErr> {
    let by_id = user::Entity::find_by_id(id_or_email.to_string())
        .filter(user::Column::AccountId.eq(account_id))
        .one(db)
        .await?;
    if by_id.is_some() {
        return Ok(by_id);
    }
    let n = id_or_email.trim().to_lowercase();
    user::Entity::find()
        .filter(user::Column::AccountId.eq(account_id))
        .filter(
            Condition::any()
                .add(user::Column::UserNameNorm.eq(n.clone()))
                .add(user::Column::EmailNorm.eq(n)),
        )
        .one(db)
        .await
}

fn mapping_grants(
    mappings: &[(group_mapping::Model, Vec<group_mapping_role::Model>)],
    matches: impl Fn(&group_mapping::Model) -> Option<Via>,
    out: &mut Vec<Grant>,
) {
    for (m, roles) in mappings {
        if let Some(via) = matches(m) {
            for r in roles {
                let environments = r
                    .environments
                    .as_deref()
                    .and_then(|s| serde_json::from_str::<BTreeSet<String>>(s).ok());
                out.push(Grant {
                    role: r.role_ref.clone(),
                    via: via.clone(),
                    environments,
                });
            }
        }
    }
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
    match m.match_kind.as_str() {
        "displayName" => m.match_value_norm == g.display_name_norm,
        "externalId" => g.external_id.as_deref() == Some(m.match_value.as_str()),
        "id" => g.id == m.match_value,
        _ => false,
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
            role: r.role_ref,
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
            );
        }
    }
    if let Some(claims) = claim_groups {
        // A claim value matches a mapping directly, or through the SCIM group it names.
        let known = if claims.is_empty() {
            vec![]
        } else {
            let norms: Vec<String> = claims.iter().map(|c| c.to_lowercase()).collect();
            group::Entity::find()
                .filter(group::Column::AccountId.eq(account_id))
                .filter(
                    Condition::any()
                        .add(group::Column::Id.is_in(claims.to_vec()))
                        .add(group::Column::ExternalId.is_in(claims.to_vec()))
                        .add(group::Column::DisplayNameNorm.is_in(norms)),
                )
                .all(db)
                .await?
        };
        for c in claims {
            let cn = c.to_lowercase();
            mapping_grants(
                &maps,
                |m| {
                    let direct = if m.match_kind == "displayName" {
                        m.match_value_norm == cn
                    } else {
                        &m.match_value == c
                    };
                    let through = known.iter().any(|g| {
                        (g.id == *c
                            || g.external_id.as_deref() == Some(c)
                            || g.display_name_norm == cn)
                            && group_matches(m, g)
                    });
                    (direct || through).then(|| Via::Claims { group: c.clone() })
                },
                &mut out,
            );
        }
    }
    Ok(out)
}
