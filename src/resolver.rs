//! Role resolution served from memory.
//!
//! Accounts' models and users' resolved access are cached; every local write
//! that can change a decision calls [`Resolver::invalidate`]. Writes made by
//! another replica reach this one within `access_cache_ttl_secs`.

use crate::access::{Access, AccountModel};
use crate::store::{self, entities::account, entities::api_key, entities::user};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub struct CachedAccount {
    pub account: account::Model,
    pub model: AccountModel,
    loaded: Instant,
    users: RwLock<HashMap<String, Arc<ResolvedUser>>>,
    /// Bumped by every users-only invalidation; a load that started before
    /// a bump does not store its (possibly stale) result.
    users_gen: std::sync::atomic::AtomicU64,
}

pub struct ResolvedUser {
    pub user: user::Model,
    pub access: Access,
}

pub struct Resolver {
    ttl: Duration,
    accounts: RwLock<HashMap<String, Arc<CachedAccount>>>,
    /// Key rows by id; the presented secret is still checked against the hash every time.
    api_keys: RwLock<HashMap<String, (Instant, api_key::Model)>>,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}
fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl Resolver {
    pub fn new(ttl: Duration) -> Self {
        Resolver {
            ttl,
            accounts: RwLock::new(HashMap::new()),
            api_keys: RwLock::new(HashMap::new()),
        }
    }

    /// The live API key a bearer value stands for. Rows are cached for the
    /// cache TTL, so a key revoked in the database stops working within it.
    pub async fn api_key(
        &self,
        db: &DatabaseConnection,
        presented: &str,
    ) -> Result<Option<api_key::Model>, DbErr> {
        use crate::store::credentials::API_KEY_PREFIX;
        let Some((id, secret)) = crate::secrets::parse(API_KEY_PREFIX, presented) else {
            return Ok(None);
        };
        let cached = read(&self.api_keys)
            .get(id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, k)| k.clone());
        let key = match cached {
            Some(k) => k,
            None => {
                let Some(k) = api_key::Entity::find_by_id(id.to_string()).one(db).await? else {
                    return Ok(None);
                };
                let mut map = write(&self.api_keys);
                if map.len() > 10_000 {
                    map.clear();
                }
                map.insert(id.to_string(), (Instant::now(), k.clone()));
                k
            }
        };
        Ok(
            (key.revoked_at.is_none() && crate::secrets::verify_secret(secret, &key.secret_hash))
                .then_some(key),
        )
    }

    /// Forgets users' resolved access but keeps the account's model: enough
    /// after SCIM writes, which change users and memberships, not roles.
    pub fn invalidate_users(&self, account_id: &str) {
        if let Some(a) = read(&self.accounts).get(account_id) {
            let mut users = write(&a.users);
            a.users_gen
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            users.clear();
        }
    }

    pub fn invalidate(&self, account_id: &str) {
        write(&self.accounts).remove(account_id);
    }

    pub async fn account(
        &self,
        db: &DatabaseConnection,
        id: &str,
    ) -> Result<Option<Arc<CachedAccount>>, DbErr> {
        if let Some(a) = read(&self.accounts).get(id) {
            if a.loaded.elapsed() < self.ttl {
                return Ok(Some(a.clone()));
            }
        }
        let Some(acct) = store::model::account(db, id).await? else {
            return Ok(None);
        };
        let model = store::model::account_model(db, &acct).await?;
        let cached = Arc::new(CachedAccount {
            account: acct,
            model,
            loaded: Instant::now(),
            users: RwLock::new(HashMap::new()),
            users_gen: std::sync::atomic::AtomicU64::new(0),
        });
        write(&self.accounts).insert(id.to_string(), cached.clone());
        Ok(Some(cached))
    }

    /// A user's access from SCIM memberships and direct assignments, by id or email.
    pub async fn user(
        &self,
        db: &DatabaseConnection,
        acct: &CachedAccount,
        key: &str,
    ) -> Result<Option<Arc<ResolvedUser>>, DbErr> {
        let k = key.trim().to_lowercase();
        if let Some(u) = read(&acct.users).get(&k) {
            return Ok(Some(u.clone()));
        }
        let generation = acct.users_gen.load(std::sync::atomic::Ordering::SeqCst);
        let Some(user) = store::model::find_user(db, &acct.account.id, key).await? else {
            return Ok(None);
        };
        let grants = store::model::user_grants(db, &acct.account.id, &user.id, None).await?;
        let access = acct.model.resolve(&grants);
        let r = Arc::new(ResolvedUser { user, access });
        let mut users = write(&acct.users);
        if acct.users_gen.load(std::sync::atomic::Ordering::SeqCst) == generation {
            users.insert(k, r.clone());
        }
        drop(users);
        Ok(Some(r))
    }
}
