//! Management API (`/api/v1`): thin handlers over the access engine and the store.

pub(crate) mod account_groups;
pub(crate) mod accounts;
pub(crate) mod api_keys;
pub(crate) mod audit_log;
pub mod auth;
pub(crate) mod authorize;
pub(crate) mod connections;
pub(crate) mod environments;
pub mod error;
pub(crate) mod events;
pub(crate) mod mappings;
pub(crate) mod roles;
pub(crate) mod sso_settings;
pub(crate) mod support;
pub(crate) mod tokens;
pub(crate) mod users;
pub(crate) mod webhooks;

use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::batch::Batch;
use crate::store::changes::{self, Change};
use crate::store::write_txn;
use actix_web::web;
use auth::Actor;
use error::ApiError;
use sea_orm::{ConnectionTrait, DatabaseTransaction};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            // The hot path first: the router tries routes in order, and every
            // `{id}` route before it costs a regex match.
            .service(authorize::authorize)
            .service(accounts::privileges)
            .service(accounts::status)
            .service(accounts::get_account)
            .service(accounts::patch_account)
            .service(accounts::set_parent)
            .service(accounts::clear_parent)
            .service(roles::list)
            .service(roles::create)
            .service(roles::get)
            .service(roles::update)
            .service(roles::delete)
            .service(environments::list)
            .service(environments::create)
            .service(environments::get)
            .service(environments::update)
            .service(environments::delete)
            .service(mappings::list)
            .service(mappings::preview)
            .service(mappings::create)
            .service(mappings::delete)
            .service(users::search)
            .service(users::end_sessions)
            .service(users::get_roles)
            .service(users::put_roles)
            .service(users::access)
            .service(audit_log::list)
            .service(events::list)
            .service(webhooks::list)
            .service(webhooks::create)
            .service(webhooks::update)
            .service(webhooks::remove)
            .service(webhooks::deliveries)
            .service(webhooks::redeliver)
            .service(tokens::list)
            .service(tokens::create)
            .service(tokens::revoke)
            .service(api_keys::list)
            .service(api_keys::create)
            .service(api_keys::revoke)
            .service(sso_settings::get)
            .service(sso_settings::put)
            .service(connections::get_mode)
            .service(connections::put_mode)
            .service(connections::list)
            .service(connections::create)
            .service(connections::get)
            .service(connections::update)
            .service(connections::remove)
            .service(connections::add_domain)
            .service(connections::verify_domain)
            .service(connections::remove_domain)
            .service(support::list)
            .service(support::grant)
            .service(support::disable)
            .service(account_groups::list)
            .service(account_groups::create)
            .service(account_groups::get)
            .service(account_groups::remove)
            .service(account_groups::add_child)
            .service(account_groups::remove_child)
            .service(account_groups::assign)
            .service(account_groups::unassign)
            .service(account_groups::inherited),
    );
}

/// Runs a management write and records its outcome. The work runs in one
/// write transaction and a successful change commits together with its
/// audit event, so neither exists without the other; a refused or failed
/// write is rolled back and its refusal recorded on its own.
/// All database access inside `work` must use the transaction it is given.
pub(crate) async fn audited<T>(
    state: &AppState,
    actor: &Actor,
    action: &str,
    target: &str,
    details: serde_json::Value,
    work: impl AsyncFnOnce(&DatabaseTransaction) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut details = details;
    crate::json::set(
        &mut details,
        "credential",
        serde_json::json!(actor.credential),
    );
    if let Some(o) = &actor.outside {
        crate::json::set(&mut details, "via", serde_json::json!(o.label()));
        crate::json::set(
            &mut details,
            "home_account",
            serde_json::json!(o.home_account),
        );
    }
    let event = |outcome: &str| {
        Event::new(
            Some(actor.account_id()),
            actor.email.clone(),
            action,
            target,
        )
        .outcome(outcome)
        .details(details.clone())
    };
    let txn = write_txn(&state.db).await?;
    let outcome = match &actor.outside {
        Some(o) if !o.may(action) => Err(ApiError::Forbidden(vec![format!(
            "an actor of this account itself ({} cannot {action})",
            o.label()
        )])),
        _ => work(&txn).await,
    };
    let result = match outcome {
        Ok(v) => {
            // One round trip for the records of the change (see `store::batch`).
            let mut records = Batch::new(txn.get_database_backend());
            audit::push(&mut records, event("success"));
            if let Some(o) = &actor.outside {
                audit::push(&mut records, mirrored(actor, o, action, target, "success"));
            }
            changes::push(&mut records, Some(actor.account_id()), Change::Account);
            records.run(&txn).await?;
            txn.commit().await?;
            state.resolver.invalidate(actor.account_id());
            Ok(v)
        }
        Err(e) => {
            txn.rollback().await?;
            let outcome = match &e {
                ApiError::Forbidden(_) => "denied".to_string(),
                ApiError::Internal(_) => "error".to_string(),
                e => format!("rejected: {e}"),
            };
            // A refusal changed nothing; its record stands alone.
            audit::record(&state.db, event(&outcome)).await?;
            if let Some(o) = &actor.outside {
                audit::record(&state.db, mirrored(actor, o, action, target, &outcome)).await?;
            }
            Err(e)
        }
    };
    actor.caller.mark_audited();
    result
}

/// The record an outside actor's action leaves in their own account.
fn mirrored(actor: &Actor, o: &auth::Outside, action: &str, target: &str, outcome: &str) -> Event {
    Event::new(Some(&o.home_account), actor.email.clone(), action, target)
        .outcome(outcome)
        .details(serde_json::json!({
            "via": o.label(),
            "account": actor.account_id(),
            "credential": actor.credential,
        }))
}

/// Records an outside actor's read in both accounts.
pub(crate) async fn record_outside(
    state: &AppState,
    actor: &Actor,
    action: &str,
    target: &str,
) -> Result<(), ApiError> {
    let Some(o) = &actor.outside else {
        return Ok(());
    };
    let here = Event::new(Some(actor.account_id()), actor.email.clone(), action, target)
        .details(serde_json::json!({"via": o.label(), "home_account": o.home_account, "credential": actor.credential}));
    let txn = write_txn(&state.db).await?;
    audit::record(&txn, here).await?;
    audit::record(&txn, mirrored(actor, o, action, target, "success")).await?;
    txn.commit().await?;
    Ok(())
}

/// Role references for role names or ids; an unknown one is a 400 naming it.
pub(crate) fn role_refs<B: FromIterator<crate::access::RoleRef>>(
    model: &crate::access::AccountModel,
    names: &[String],
) -> Result<B, ApiError> {
    names
        .iter()
        .map(|r| {
            model
                .find_role(r)
                .ok_or_else(|| ApiError::BadRequest(format!("unknown role: {r}")))
        })
        .collect()
}
