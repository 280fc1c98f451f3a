//! Role resolution served from memory.
//!
//! Accounts' models and users' resolved access are cached; every local write
//! that can change a decision calls [`Resolver::invalidate`]. Writes made by
//! another replica reach this one within `access_cache_ttl_secs`.

use crate::access::{Access, AccountModel, Grant, Via};
use crate::store::model::Lookup;
use crate::store::{
    self, entities::account, entities::api_key, entities::scim_token, entities::session,
    entities::user,
};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub struct CachedAccount {
    pub account: account::Model,
    pub model: AccountModel,
    /// Whether roles mapped from SCIM group memberships count (`role_source`
    /// `scim` or `both`); with `claims` only the ID token's groups do.
    pub scim_group_roles: bool,
    loaded: Instant,
    /// Resolved users by their exact id: the only key a resolution is stored under.
    users: RwLock<HashMap<String, Arc<ResolvedUser>>>,
    /// Lookup keys (as given) to the one user id the database said they name.
    /// Cleared with `users`, so a key never outlives the data it was resolved from.
    keys: RwLock<HashMap<String, String>>,
    /// Its list caches and users generation, shared with the reloads that
    /// follow within [`LISTS_KEPT`].
    lists: Arc<Lists>,
}

/// List caches (unfiltered totals, anchors) are kept across the account's
/// TTL reloads for up to this long: every users write bumps the generation
/// (here, and on other replicas through the change log), so a reload alone
/// does not make them stale, and recounting a million users every few
/// seconds stalled deep pages. The bound covers a write nothing recorded.
const LISTS_KEPT: Duration = Duration::from_secs(60);

/// An account's list caches, one object shared by the account's reloads:
/// an anchor walk or count that finishes after a reload lands where the
/// reloaded account sees it, and a walk in flight stays claimed.
struct Lists {
    /// Bumped by every users-only invalidation; a load that started before
    /// a bump does not store its (possibly stale) result.
    users_gen: std::sync::atomic::AtomicU64,
    /// Unfiltered list totals by resource type, tagged with the `users_gen`
    /// they were counted under (so a count never outlives a users change).
    counts: RwLock<HashMap<&'static str, (u64, u64)>>,
    /// Deep-page anchors of unfiltered lists by resource type, likewise tagged.
    anchors: RwLock<HashMap<&'static str, Anchors>>,
    /// Told when an anchor walk ends, found or not.
    walked: tokio::sync::Notify,
    /// When these caches started.
    since: Instant,
    /// The anchors the lists before these had found, kept for deep pages
    /// while a walk finds new ones (see [`Lists::after`]).
    carried: HashMap<&'static str, Anchors>,
    /// Likewise their totals `(generation, total)`, while a recount runs.
    carried_counts: HashMap<&'static str, (u64, u64)>,
    /// The kinds whose recount is in flight.
    recounting: std::sync::Mutex<std::collections::HashSet<&'static str>>,
    /// Told when a recount ends, counted or not.
    counted: tokio::sync::Notify,
}

/// How long carried anchors may serve after [`LISTS_KEPT`] ran out: the
/// first deep page starts a walk behind it, which takes ~1.4 s at 1M users.
pub const CARRIED_FOR: Duration = Duration::from_secs(10);

impl Lists {
    /// Fresh lists that follow `prev` once it is [`LISTS_KEPT`] old: the
    /// users generation goes on, and its current anchors are carried.
    /// Why: starting from nothing stalled every deep page for a whole walk
    /// once a minute (at 1M users, a page p99 of 84 ms even at one
    /// connection). Carried anchors serve only while no users change is
    /// recorded and for [`CARRIED_FOR`], so the bound on a write nothing
    /// recorded grows by that much, not more.
    fn after(prev: &Lists) -> Lists {
        let generation = prev.users_gen.load(std::sync::atomic::Ordering::SeqCst);
        let carried = read(&prev.anchors)
            .iter()
            .filter(|(_, a)| a.generation == generation)
            .map(|(k, a)| (*k, a.clone()))
            .collect();
        let carried_counts = read(&prev.counts)
            .iter()
            .filter(|(_, (g, _))| *g == generation)
            .map(|(k, c)| (*k, *c))
            .collect();
        Lists {
            users_gen: std::sync::atomic::AtomicU64::new(generation),
            carried,
            carried_counts,
            ..Lists::default()
        }
    }

    /// The carried total of `kind`, on the terms of [`Self::carried_anchors`].
    fn carried_count(&self, kind: &str, max: Duration) -> Option<u64> {
        let now = self.users_gen.load(std::sync::atomic::Ordering::SeqCst);
        self.carried_counts
            .get(kind)
            .filter(|(g, _)| *g == now && self.since.elapsed() < max)
            .map(|(_, c)| *c)
    }

    /// The carried anchors of `kind`, if users are unchanged since they were
    /// found and these lists are younger than `max`.
    fn carried_anchors(&self, kind: &str, max: Duration) -> Option<Arc<Vec<store::scim::Anchor>>> {
        let now = self.users_gen.load(std::sync::atomic::Ordering::SeqCst);
        self.carried
            .get(kind)
            .filter(|a| a.generation == now && self.since.elapsed() < max)
            .map(|a| a.list.clone())
    }
}

impl Default for Lists {
    fn default() -> Self {
        Lists {
            users_gen: std::sync::atomic::AtomicU64::new(0),
            counts: RwLock::new(HashMap::new()),
            anchors: RwLock::new(HashMap::new()),
            walked: tokio::sync::Notify::new(),
            since: Instant::now(),
            carried: HashMap::new(),
            carried_counts: HashMap::new(),
            recounting: std::sync::Mutex::default(),
            counted: tokio::sync::Notify::new(),
        }
    }
}

/// Anchors (`store::scim::ANCHOR_STEP`) found under one users generation.
#[derive(Clone)]
struct Anchors {
    generation: u64,
    found: Instant,
    list: Arc<Vec<store::scim::Anchor>>,
}

impl CachedAccount {
    /// The users generation now: read before counting, to tag the count.
    pub fn users_generation(&self) -> u64 {
        self.lists
            .users_gen
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// An unfiltered list's total, if counted since the last users change.
    pub fn cached_count(&self, kind: &'static str) -> Option<u64> {
        let now = self.users_generation();
        read(&self.lists.counts)
            .get(kind)
            .filter(|(g, _)| *g == now)
            .map(|(_, c)| *c)
    }

    /// A list's anchors, if found since the last users change.
    pub fn cached_anchors(&self, kind: &'static str) -> Option<Arc<Vec<store::scim::Anchor>>> {
        let now = self.users_generation();
        read(&self.lists.anchors)
            .get(kind)
            .filter(|a| a.generation == now)
            .map(|a| a.list.clone())
    }

    /// Anchors carried from before the last [`LISTS_KEPT`] renewal, while
    /// still usable ([`Lists::after`]): a deep page uses them rather than
    /// wait for the walk that replaces them.
    pub fn carried_anchors(&self, kind: &'static str) -> Option<Arc<Vec<store::scim::Anchor>>> {
        self.lists.carried_anchors(kind, CARRIED_FOR)
    }

    /// A total carried from before the last [`LISTS_KEPT`] renewal, while
    /// still usable: pages show it rather than each count the list again
    /// (at 1M users, 16 pages counting at once made the page p99 39 ms).
    pub fn carried_count(&self, kind: &'static str) -> Option<u64> {
        self.lists.carried_count(kind, CARRIED_FOR)
    }

    /// Claims the recount of `kind`: false while one is in flight. The
    /// claimant calls [`Self::end_recount`] when done, however it ends.
    pub fn claim_recount(&self, kind: &'static str) -> bool {
        lock(&self.lists.recounting).insert(kind)
    }

    /// Ends the recount of `kind` and tells the pages waiting in
    /// [`Self::recount_ended`] (what it counted, if anything, is remembered first).
    pub fn end_recount(&self, kind: &'static str) {
        lock(&self.lists.recounting).remove(kind);
        self.lists.counted.notify_waiters();
    }

    /// Waits, at most `max`, for a recount of `kind` in flight to end; at
    /// once when none is.
    pub async fn recount_ended(&self, kind: &'static str, max: Duration) {
        let counting = || lock(&self.lists.recounting).contains(kind);
        ended(&self.lists.counted, counting, max).await;
    }

    /// Claims the search for a list's anchors: false when one started within
    /// `within` (done or not, current or not). Under a stream of writes they
    /// would be stale at once, and while one request walks the list the
    /// others should not: those pages wait for it ([`Self::anchor_walk_ended`]),
    /// or use `OFFSET`. The claimant calls [`Self::end_anchor_walk`] when done.
    pub fn claim_anchor_search(&self, kind: &'static str, within: Duration) -> bool {
        let mut anchors = write(&self.lists.anchors);
        if anchors
            .get(kind)
            .is_some_and(|a| a.found.elapsed() < within)
        {
            return false;
        }
        // A placeholder no generation matches, until the anchors are found.
        anchors.insert(
            kind,
            Anchors {
                generation: u64::MAX,
                found: Instant::now(),
                list: Arc::new(Vec::new()),
            },
        );
        true
    }

    /// Tells the pages waiting in [`Self::anchor_walk_ended`] that a walk
    /// ended (what it found, if anything, is remembered first).
    pub fn end_anchor_walk(&self) {
        self.lists.walked.notify_waiters();
    }

    /// Waits, at most `max`, for a walk of `kind`'s anchors that is in
    /// flight to end; at once when none is. Measured at 1M users: the pages
    /// that scanned with `OFFSET` beside the first walk took the cores from
    /// it, and made the list's p99 (98 ms).
    pub async fn anchor_walk_ended(&self, kind: &'static str, max: Duration) {
        let walking = || {
            read(&self.lists.anchors)
                .get(kind)
                .is_some_and(|a| a.generation == u64::MAX && a.found.elapsed() < max)
        };
        ended(&self.lists.walked, walking, max).await;
    }

    /// Keeps anchors found under generation `found_at` (used only while it is current).
    pub fn remember_anchors(
        &self,
        kind: &'static str,
        found_at: u64,
        list: Vec<store::scim::Anchor>,
    ) -> Arc<Vec<store::scim::Anchor>> {
        let list = Arc::new(list);
        write(&self.lists.anchors).insert(
            kind,
            Anchors {
                generation: found_at,
                found: Instant::now(),
                list: list.clone(),
            },
        );
        list
    }

    /// Keeps a total counted under generation `counted_at`, unless users changed since.
    pub fn remember_count(&self, kind: &'static str, counted_at: u64, total: u64) {
        if counted_at == self.users_generation() {
            write(&self.lists.counts).insert(kind, (counted_at, total));
        }
    }
}

pub struct ResolvedUser {
    pub user: user::Model,
    /// Shared, not copied, by every request that acts as this user.
    pub access: Arc<Access>,
}

const USE_RECORD_EVERY: Duration = Duration::from_secs(60);

/// Locks that account loads are spread over.
const LOAD_LOCKS: usize = 16;

pub struct Resolver {
    ttl: Duration,
    accounts: RwLock<HashMap<String, Arc<CachedAccount>>>,
    /// Bumped by every invalidation of accounts, under `accounts`' lock.
    accounts_gen: std::sync::atomic::AtomicU64,
    /// Held while an account loads (see [`Resolver::account`]).
    loads: Vec<tokio::sync::Mutex<()>>,
    /// Key rows by id; the presented secret is still checked against the hash every time.
    api_keys: RwLock<HashMap<String, (Instant, api_key::Model)>>,
    /// SCIM token rows by id, likewise.
    scim_tokens: RwLock<HashMap<String, (Instant, scim_token::Model)>>,
    /// When each credential's use was last recorded.
    uses: RwLock<HashMap<String, Instant>>,
    writer: DatabaseConnection,
    /// Bumped whenever credentials are forgotten: a row read before a
    /// revocation is never cached after it.
    credentials_gen: std::sync::atomic::AtomicU64,
}

/// Waits, at most `max`, for `told` to be told that what `in_flight` looks
/// at has ended; at once when it is not in flight.
async fn ended(told: &tokio::sync::Notify, in_flight: impl FnOnce() -> bool, max: Duration) {
    let ended = told.notified();
    tokio::pin!(ended);
    // Registered before looking, so an end between the look and the wait
    // is not missed.
    ended.as_mut().enable();
    if in_flight() {
        let _ = tokio::time::timeout(max, ended).await;
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}
fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}
fn lock<T>(l: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|p| p.into_inner())
}

impl Resolver {
    /// `writer` records credential uses (reads may come from a read-only pool).
    pub fn new(ttl: Duration, writer: DatabaseConnection) -> Self {
        Resolver {
            ttl,
            writer,
            accounts: RwLock::new(HashMap::new()),
            accounts_gen: std::sync::atomic::AtomicU64::new(0),
            loads: (0..LOAD_LOCKS)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            api_keys: RwLock::new(HashMap::new()),
            scim_tokens: RwLock::new(HashMap::new()),
            uses: RwLock::new(HashMap::new()),
            credentials_gen: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn credentials_generation(&self) -> u64 {
        self.credentials_gen
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The live SCIM token a bearer value stands for; rows are cached like
    /// API keys, and every revocation (here or on another replica, through
    /// the change log) drops them.
    pub async fn scim_token(
        &self,
        db: &DatabaseConnection,
        presented: &str,
    ) -> Result<Option<scim_token::Model>, DbErr> {
        use crate::store::credentials::SCIM_TOKEN_PREFIX;
        let Some((id, secret)) = crate::secrets::parse(SCIM_TOKEN_PREFIX, presented) else {
            return Ok(None);
        };
        let cached = read(&self.scim_tokens)
            .get(id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, t)| t.clone());
        let t = match cached {
            Some(t) => t,
            None => {
                let read_at = self.credentials_generation();
                let Some(t) = scim_token::Entity::find_by_id(id.to_string())
                    .one(db)
                    .await?
                else {
                    return Ok(None);
                };
                let mut map = write(&self.scim_tokens);
                if map.len() > 10_000 {
                    map.clear();
                }
                // Checked under the lock `forget` takes: no revocation slips between.
                if read_at == self.credentials_generation() {
                    map.insert(id.to_string(), (Instant::now(), t.clone()));
                }
                t
            }
        };
        let live = t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > store::now_ms());
        let ok = live && crate::secrets::verify_secret(secret, &t.secret_hash);
        if ok {
            self.note_use(store::credentials::Credential::ScimToken, &t.id);
        }
        Ok(ok.then_some(t))
    }

    pub fn forget_scim_tokens(&self) {
        let mut map = write(&self.scim_tokens);
        self.credentials_gen
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        map.clear();
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
                let read_at = self.credentials_generation();
                let Some(k) = api_key::Entity::find_by_id(id.to_string()).one(db).await? else {
                    return Ok(None);
                };
                let mut map = write(&self.api_keys);
                if map.len() > 10_000 {
                    map.clear();
                }
                if read_at == self.credentials_generation() {
                    map.insert(id.to_string(), (Instant::now(), k.clone()));
                }
                k
            }
        };
        let ok = crate::store::credentials::api_key_live(&key)
            && crate::secrets::verify_secret(secret, &key.secret_hash);
        if ok {
            self.note_use(store::credentials::Credential::ApiKey, &key.id);
        }
        Ok(ok.then_some(key))
    }

    /// Records a credential's use, at most once a minute per credential and
    /// off the request's path: a failed write is logged, never felt.
    fn note_use(&self, kind: store::credentials::Credential, id: &str) {
        let key = format!("{kind:?}:{id}");
        // The hot path (recorded within the minute) takes only the read lock.
        if read(&self.uses)
            .get(&key)
            .is_some_and(|at| at.elapsed() < USE_RECORD_EVERY)
        {
            return;
        }
        {
            let mut seen = write(&self.uses);
            if seen
                .get(&key)
                .is_some_and(|at| at.elapsed() < USE_RECORD_EVERY)
            {
                return;
            }
            if seen.len() > 10_000 {
                seen.clear();
            }
            seen.insert(key, Instant::now());
        }
        let (db, id) = (self.writer.clone(), id.to_string());
        tokio::spawn(async move {
            if let Err(e) = store::credentials::record_use(&db, kind, &id).await {
                tracing::warn!(error = %e, credential = %id, "could not record a credential's use");
            }
        });
    }

    /// Drops cached key rows: a revocation made here takes effect at once.
    pub fn forget_api_keys(&self) {
        let mut map = write(&self.api_keys);
        self.credentials_gen
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        map.clear();
    }

    /// Forgets users' resolved access but keeps the account's model: enough
    /// after SCIM writes, which change users and memberships, not roles.
    pub fn invalidate_users(&self, account_id: &str) {
        if let Some(a) = read(&self.accounts).get(account_id) {
            let mut users = write(&a.users);
            let mut keys = write(&a.keys);
            a.lists
                .users_gen
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            users.clear();
            keys.clear();
        }
    }

    pub fn invalidate(&self, account_id: &str) {
        let mut accounts = write(&self.accounts);
        self.accounts_gen
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        accounts.remove(account_id);
    }

    pub async fn account(
        &self,
        db: &DatabaseConnection,
        id: &str,
    ) -> Result<Option<Arc<CachedAccount>>, DbErr> {
        if let Some(a) = self.fresh_account(id) {
            return Ok(Some(a));
        }
        // One load of an account at a time: requests that find it missing or
        // stale wait for that load instead of each making its own copy (at
        // 1M users, sixteen first list pages each started an anchor walk of
        // their own, and the server's memory doubled).
        let _loading = match self.loading(id) {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        if let Some(a) = self.fresh_account(id) {
            return Ok(Some(a));
        }
        let read_at = self.accounts_gen.load(std::sync::atomic::Ordering::SeqCst);
        let Some(acct) = store::model::account(db, id).await? else {
            return Ok(None);
        };
        let model = match store::model::account_model(db, &acct).await {
            Ok(m) => m,
            Err(e) => {
                // A corrupt security setting refuses every decision of the
                // account until fixed; say so where operators look.
                if matches!(e, DbErr::Custom(_)) {
                    let event = store::audit::Event::new(
                        Some(&acct.id),
                        "idbridge",
                        "security.setting_unreadable",
                        &acct.id,
                    )
                    .outcome("error")
                    .details(serde_json::json!({"error": e.to_string()}));
                    if let Err(a) = store::audit::record(db, event).await {
                        tracing::error!(error = %a, "could not audit an unreadable setting");
                    }
                }
                tracing::error!(account = ?acct.id, error = %e, "account model unreadable: refusing");
                return Err(e);
            }
        };
        let scim_group_roles = store::connections::scim_group_roles(db, &acct.id).await?;
        let mut accounts = write(&self.accounts);
        // An invalidation while this loaded may have changed what it read:
        // answer with it, but keep it only if none came.
        let keep = read_at == self.accounts_gen.load(std::sync::atomic::Ordering::SeqCst);
        let lists = match accounts.get(id) {
            Some(prev) if prev.lists.since.elapsed() < LISTS_KEPT => prev.lists.clone(),
            // Only an account kept in the map hears later users changes, so
            // only one kept carries anchors.
            Some(prev) if keep => Arc::new(Lists::after(&prev.lists)),
            _ => Arc::default(),
        };
        let cached = Arc::new(CachedAccount {
            account: acct,
            model,
            scim_group_roles,
            loaded: Instant::now(),
            users: RwLock::new(HashMap::new()),
            keys: RwLock::new(HashMap::new()),
            lists,
        });
        if keep {
            accounts.insert(id.to_string(), cached.clone());
        }
        Ok(Some(cached))
    }

    fn fresh_account(&self, id: &str) -> Option<Arc<CachedAccount>> {
        read(&self.accounts)
            .get(id)
            .filter(|a| a.loaded.elapsed() < self.ttl)
            .cloned()
    }

    /// The lock an account's loads take (accounts share a fixed set).
    fn loading(&self, id: &str) -> Option<&tokio::sync::Mutex<()>> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let h = BuildHasherDefault::<DefaultHasher>::default().hash_one(id);
        self.loads.get(usize::try_from(h % LOAD_LOCKS as u64).ok()?)
    }

    /// The user a key (id, userName or email) names, with their access.
    /// `Err(Ambiguous)` when the key names more than one user.
    pub async fn user(
        &self,
        db: &DatabaseConnection,
        acct: &CachedAccount,
        key: &str,
    ) -> Result<Option<Arc<ResolvedUser>>, ResolveError> {
        let known = read(&acct.keys).get(key).cloned();
        if let Some(id) = known {
            return Ok(self.user_by_id(db, acct, &id).await?);
        }
        let generation = acct
            .lists
            .users_gen
            .load(std::sync::atomic::Ordering::SeqCst);
        let user = match store::model::find_user(db, &acct.account.id, key).await? {
            Lookup::None => return Ok(None),
            Lookup::Ambiguous => return Err(ResolveError::Ambiguous(key.to_string())),
            Lookup::One(u) => *u,
        };
        let id = user.id.clone();
        let r = self.resolve(db, acct, user, generation).await?;
        let mut keys = write(&acct.keys);
        if acct
            .lists
            .users_gen
            .load(std::sync::atomic::Ordering::SeqCst)
            == generation
        {
            if keys.len() > 100_000 {
                keys.clear();
            }
            keys.insert(key.to_string(), id);
        }
        Ok(Some(r))
    }

    /// The user with exactly this id, with their access: how sessions and
    /// API keys authenticate (no fallback to names or emails).
    pub async fn user_by_id(
        &self,
        db: &DatabaseConnection,
        acct: &CachedAccount,
        id: &str,
    ) -> Result<Option<Arc<ResolvedUser>>, DbErr> {
        if let Some(u) = read(&acct.users).get(id) {
            return Ok(Some(u.clone()));
        }
        let generation = acct
            .lists
            .users_gen
            .load(std::sync::atomic::Ordering::SeqCst);
        let Some(user) = store::model::user_by_id(db, &acct.account.id, id).await? else {
            return Ok(None);
        };
        Ok(Some(self.resolve(db, acct, user, generation).await?))
    }

    async fn resolve(
        &self,
        db: &DatabaseConnection,
        acct: &CachedAccount,
        user: user::Model,
        generation: u64,
    ) -> Result<Arc<ResolvedUser>, DbErr> {
        let grants = store::model::user_grants(db, &acct.account.id, &user.id, None).await?;
        let access = acct.access(grants);
        let r = Arc::new(ResolvedUser {
            user,
            access: Arc::new(access),
        });
        let mut users = write(&acct.users);
        if acct
            .lists
            .users_gen
            .load(std::sync::atomic::Ordering::SeqCst)
            == generation
        {
            if users.len() > 100_000 {
                users.clear();
            }
            users.insert(r.user.id.clone(), r.clone());
        }
        Ok(r)
    }
}

impl CachedAccount {
    /// Access from grants, following the account's `role_source`: the one
    /// resolution every caller (API key, session, `/authorize`) goes through.
    pub fn access(&self, mut grants: Vec<Grant>) -> Access {
        if !self.scim_group_roles {
            grants.retain(|g| !matches!(g.via, Via::Group { .. }));
        }
        self.model.resolve(&grants)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0:?} names more than one user; use the user id")]
    Ambiguous(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// A live session with the access its user has now.
pub struct SessionAccess {
    pub session: session::Model,
    pub account: Arc<CachedAccount>,
    pub user: user::Model,
    pub access: Arc<Access>,
    pub amr: Vec<String>,
}

impl SessionAccess {
    /// Signed in through an IdP (anything but the local password + TOTP).
    pub fn is_sso(&self) -> bool {
        self.amr.iter().any(|m| m == "sso")
    }
}

impl Resolver {
    /// Who a session cookie stands for, and with which access now: the one
    /// resolution `/auth/session` and the management API share. `None` for a
    /// dead, foreign or deactivated session. A session started through SSO
    /// never carries the built-in Administrator: when that role arrives later
    /// the session is ended here (and audited), whoever granted it.
    pub async fn session_access(
        &self,
        db: &DatabaseConnection,
        cookie: &str,
    ) -> Result<Option<SessionAccess>, DbErr> {
        let Some(s) = crate::store::sessions::lookup(db, cookie).await? else {
            return Ok(None);
        };
        let Some(account) = self.account(db, &s.account_id).await? else {
            return Ok(None);
        };
        let Some(resolved) = self.user_by_id(db, &account, &s.user_id).await? else {
            return Ok(None);
        };
        if !resolved.user.active {
            return Ok(None);
        }
        // Our own JSON; an unreadable value is treated as SSO, the stricter kind.
        let amr: Vec<String> =
            serde_json::from_str(&s.amr).unwrap_or_else(|_| vec!["sso".to_string()]);
        let claim_groups: Option<Vec<String>> = match s.claim_groups.as_deref() {
            None => None,
            Some(g) => Some(serde_json::from_str(g).map_err(|e| DbErr::Json(e.to_string()))?),
        };
        let access = match claim_groups.filter(|g| !g.is_empty()) {
            None => resolved.access.clone(),
            Some(groups) => {
                let grants =
                    store::model::user_grants(db, &account.account.id, &s.user_id, Some(&groups))
                        .await?;
                Arc::new(account.access(grants))
            }
        };
        let live = SessionAccess {
            session: s,
            account,
            user: resolved.user.clone(),
            access,
            amr,
        };
        if live.is_sso() && live.access.holds_builtin_admin() {
            end_admin_sso_session(db, &live).await?;
            return Ok(None);
        }
        Ok(Some(live))
    }
}

async fn end_admin_sso_session(db: &DatabaseConnection, live: &SessionAccess) -> Result<(), DbErr> {
    use sea_orm::TransactionTrait;
    let txn = db.begin().await?;
    crate::store::sessions::revoke(&txn, &live.session.id).await?;
    store::audit::record(
        &txn,
        store::audit::Event::new(
            Some(&live.account.account.id),
            live.user.user_name.clone(),
            "session.ended_admin",
            &live.session.id,
        )
        .outcome("denied")
        .details(serde_json::json!({
            "reason": "the user now holds the built-in Administrator role, which never uses an SSO session",
            "user": live.user.id,
        })),
    )
    .await?;
    txn.commit().await?;
    tracing::warn!(account = ?live.account.account.id, user = ?live.user.user_name, "ended an SSO session that gained the built-in Administrator role");
    Ok(())
}

impl Resolver {
    /// Drops whatever a change logged by any replica made stale.
    pub fn apply(&self, change: &crate::store::entities::change_log::Model) {
        use crate::store::changes::Change;
        let Some(account) = change.account_id.as_deref() else {
            self.forget_everything();
            return;
        };
        match Change::parse(&change.kind) {
            Change::Account => self.invalidate(account),
            Change::Users => self.invalidate_users(account),
            Change::ApiKeys => self.forget_api_keys(),
            Change::ScimTokens => self.forget_scim_tokens(),
        }
    }

    /// When freshness cannot be confirmed, nothing cached is trusted.
    pub fn forget_everything(&self) {
        {
            let mut accounts = write(&self.accounts);
            self.accounts_gen
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            accounts.clear();
        }
        self.forget_api_keys();
        self.forget_scim_tokens();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn one_account() -> (DatabaseConnection, String) {
        let db = store::connect("sqlite::memory:").await.unwrap();
        store::migrate(&db).await.unwrap();
        let (acct, _) = store::accounts::create(&db, "Acme", "admin@acme.test")
            .await
            .unwrap();
        (db, acct.id)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_first_loads_share_one_account() {
        let (db, id) = one_account().await;
        let r = Arc::new(Resolver::new(Duration::from_secs(60), db.clone()));
        let loads: Vec<_> = (0..16)
            .map(|_| {
                let (r, db, id) = (r.clone(), db.clone(), id.clone());
                tokio::spawn(async move { r.account(&db, &id).await.unwrap().unwrap() })
            })
            .collect();
        let mut got = Vec::new();
        for l in loads {
            got.push(l.await.unwrap());
        }
        let first = got.first().unwrap();
        assert!(
            got.iter().all(|a| Arc::ptr_eq(a, first)),
            "every request got the one loaded account"
        );
    }

    #[tokio::test]
    async fn an_anchor_walk_started_before_a_reload_lands_after_it() {
        let (db, id) = one_account().await;
        let r = Resolver::new(Duration::ZERO, db.clone());
        let a = r.account(&db, &id).await.unwrap().unwrap();
        let within = Duration::from_secs(60);
        assert!(a.claim_anchor_search("users", within));
        let b = r.account(&db, &id).await.unwrap().unwrap();
        assert!(!Arc::ptr_eq(&a, &b), "reloaded");
        assert!(
            !b.claim_anchor_search("users", within),
            "the walk in flight is still claimed after the reload"
        );
        let anchor = store::scim::Anchor {
            created_at: 1,
            id: "u1".into(),
        };
        a.remember_anchors("users", a.users_generation(), vec![anchor.clone()]);
        assert_eq!(
            b.cached_anchors("users").as_deref(),
            Some(&vec![anchor]),
            "what the walk found reaches the reloaded account"
        );
    }

    /// Lists renewed after `LISTS_KEPT` carry the anchors found under the
    /// current users generation, usable until users change or for
    /// `CARRIED_FOR`; a placeholder of a walk in flight is not carried.
    #[test]
    fn renewed_lists_carry_current_anchors_until_users_change() {
        let anchor = store::scim::Anchor {
            created_at: 1,
            id: "u1".into(),
        };
        let prev = Lists::default();
        prev.users_gen.store(5, std::sync::atomic::Ordering::SeqCst);
        let found = |generation| Anchors {
            generation,
            found: Instant::now(),
            list: Arc::new(vec![anchor.clone()]),
        };
        write(&prev.anchors).insert("users", found(5));
        write(&prev.anchors).insert("groups", found(4));
        write(&prev.anchors).insert("walking", found(u64::MAX));
        let next = Lists::after(&prev);
        let long = Duration::from_secs(60);
        assert_eq!(next.users_gen.load(std::sync::atomic::Ordering::SeqCst), 5);
        assert_eq!(
            next.carried_anchors("users", long).as_deref(),
            Some(&vec![anchor.clone()])
        );
        assert!(
            next.carried_anchors("groups", long).is_none(),
            "stale before the renewal"
        );
        assert!(next.carried_anchors("walking", long).is_none());
        assert!(read(&next.anchors).is_empty(), "a walk is still needed");
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            next.carried_anchors("users", Duration::from_millis(10))
                .is_none(),
            "bounded in time"
        );
        next.users_gen
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        assert!(
            next.carried_anchors("users", long).is_none(),
            "not after a users change"
        );
    }

    /// Totals are carried on the same terms, and a recount is claimed once.
    #[tokio::test]
    async fn renewed_lists_carry_current_totals_and_one_recount() {
        let prev = Lists::default();
        prev.users_gen.store(3, std::sync::atomic::Ordering::SeqCst);
        write(&prev.counts).insert("users", (3, 1_000_000));
        write(&prev.counts).insert("groups", (2, 10));
        let next = Lists::after(&prev);
        let long = Duration::from_secs(60);
        assert_eq!(next.carried_count("users", long), Some(1_000_000));
        assert_eq!(
            next.carried_count("groups", long),
            None,
            "stale before the renewal"
        );
        assert!(read(&next.counts).is_empty(), "a recount is still needed");
        next.users_gen
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            next.carried_count("users", long),
            None,
            "not after a users change"
        );

        let (db, id) = one_account().await;
        let r = Resolver::new(Duration::from_secs(60), db.clone());
        let a = r.account(&db, &id).await.unwrap().unwrap();
        assert!(a.claim_recount("users"));
        assert!(!a.claim_recount("users"), "one recount at a time");
        assert!(a.claim_recount("groups"), "per kind");
        a.end_recount("users");
        assert!(a.claim_recount("users"), "claimable again once ended");
    }

    #[tokio::test]
    async fn deep_pages_wait_for_an_anchor_walk_in_flight() {
        let (db, id) = one_account().await;
        let r = Resolver::new(Duration::from_secs(60), db.clone());
        let a = r.account(&db, &id).await.unwrap().unwrap();
        let long = Duration::from_secs(5);
        let started = Instant::now();
        a.anchor_walk_ended("users", long).await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "no walk: no wait"
        );
        assert!(a.claim_anchor_search("users", Duration::from_secs(60)));
        let waiter = {
            let a = a.clone();
            tokio::spawn(async move {
                a.anchor_walk_ended("users", long).await;
                a.cached_anchors("users")
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiter.is_finished(), "waits while the walk is in flight");
        let anchor = store::scim::Anchor {
            created_at: 1,
            id: "u1".into(),
        };
        a.remember_anchors("users", a.users_generation(), vec![anchor.clone()]);
        a.end_anchor_walk();
        let got = tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken when the walk ended")
            .unwrap();
        assert_eq!(got.as_deref(), Some(&vec![anchor]));
        // A walk that never ends holds a page up for `max` only.
        assert!(a.claim_anchor_search("groups", Duration::from_secs(60)));
        let started = Instant::now();
        a.anchor_walk_ended("groups", Duration::from_millis(200))
            .await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(150) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
    }

    /// Pages that find no total wait for the one count in flight (at 1M
    /// users, 16 pages counting at once held each other up ~300 ms), and
    /// are woken with its total; a count that never ends holds them `max`.
    #[tokio::test]
    async fn pages_wait_for_a_count_in_flight() {
        let (db, id) = one_account().await;
        let r = Resolver::new(Duration::from_secs(60), db.clone());
        let a = r.account(&db, &id).await.unwrap().unwrap();
        let long = Duration::from_secs(5);
        let started = Instant::now();
        a.recount_ended("users", long).await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "no count: no wait"
        );
        assert!(a.claim_recount("users"));
        let waiter = {
            let a = a.clone();
            tokio::spawn(async move {
                a.recount_ended("users", long).await;
                a.cached_count("users")
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiter.is_finished(), "waits while the count is in flight");
        a.remember_count("users", a.users_generation(), 1_000_000);
        a.end_recount("users");
        let got = tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken when the count ended")
            .unwrap();
        assert_eq!(got, Some(1_000_000));
        assert!(a.claim_recount("groups"));
        let started = Instant::now();
        a.recount_ended("groups", Duration::from_millis(200)).await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(150) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn an_invalidation_during_a_load_is_not_undone_by_it() {
        use sea_orm::TransactionTrait;
        let (db, id) = one_account().await;
        let r = Arc::new(Resolver::new(Duration::from_secs(60), db.clone()));
        // The pool's one connection, held: the load starts, then waits on it.
        let hold = db.begin().await.unwrap();
        let load = {
            let (r, db, id) = (r.clone(), db.clone(), id.clone());
            tokio::spawn(async move { r.account(&db, &id).await.unwrap().unwrap() })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        r.invalidate(&id);
        drop(hold);
        let loaded = load.await.unwrap();
        assert_eq!(loaded.account.id, id, "the load still answers");
        assert!(
            r.fresh_account(&id).is_none(),
            "but what it read before the invalidation is not kept"
        );
    }

    #[tokio::test]
    async fn list_caches_outlive_a_reload_but_not_a_users_change() {
        let db = store::connect("sqlite::memory:").await.unwrap();
        store::migrate(&db).await.unwrap();
        let (acct, _) = store::accounts::create(&db, "Acme", "admin@acme.test")
            .await
            .unwrap();
        // A zero TTL: every `account` call reloads.
        let r = Resolver::new(Duration::ZERO, db.clone());
        let a = r.account(&db, &acct.id).await.unwrap().unwrap();
        a.remember_count("users", a.users_generation(), 42);
        let b = r.account(&db, &acct.id).await.unwrap().unwrap();
        assert!(!Arc::ptr_eq(&a, &b), "reloaded");
        assert_eq!(b.cached_count("users"), Some(42), "carried over");
        r.invalidate_users(&acct.id);
        assert_eq!(b.cached_count("users"), None);
        let c = r.account(&db, &acct.id).await.unwrap().unwrap();
        assert_eq!(
            c.cached_count("users"),
            None,
            "a users change is not undone by a reload"
        );
        c.remember_count("users", c.users_generation(), 7);
        r.invalidate(&acct.id);
        let d = r.account(&db, &acct.id).await.unwrap().unwrap();
        assert_eq!(
            d.cached_count("users"),
            None,
            "a full invalidation drops the lists"
        );
    }
}
