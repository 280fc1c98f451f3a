//! `/accounts/{id}/connections`: the account's SSO connections (OIDC or
//! SAML), the email domains each serves and their DNS verification, and
//! the account's SSO mode (Account Administration).

use super::{audited, auth::Actor, error::ApiError};
use crate::catalog::ACCOUNT_ADMINISTRATION;
use crate::sso::connection_setup::{self, ConnectionInput, ConnectionView, DomainView};
use crate::sso::domain_check;
use crate::state::State;
use crate::store::connections::{self, Connection, Domain, SsoMode};
use crate::store::now_ms;
use actix_web::{delete, get, patch, post, put, web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;

async fn view(state: &State, c: &Connection) -> Result<ConnectionView, ApiError> {
    let domains = connections::domains(&state.db, &c.id).await?;
    Ok(connection_setup::view(
        c,
        &domains,
        &state.settings.public_url,
    ))
}

async fn existing(state: &State, account: &str, id: &str) -> Result<Connection, ApiError> {
    connections::get(&state.db, account, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("unknown connection: {id}")))
}

/// The `connection.changed` event, in the change's transaction.
async fn changed(
    txn: &sea_orm::DatabaseTransaction,
    c: &Connection,
    change: &str,
) -> Result<(), ApiError> {
    let d = json!({"id": c.id, "change": change, "kind": c.kind, "name": c.name, "enabled": c.enabled, "role_source": c.role_source});
    Ok(crate::store::events::emit(txn, &c.account_id, "connection.changed", &c.id, d).await?)
}

/// What an audit event says of a connection input: never the secret or
/// the metadata document itself.
fn input_details(i: &ConnectionInput) -> serde_json::Value {
    json!({"kind": i.kind, "name": i.name, "enabled": i.enabled, "role_source": i.role_source,
           "groups_attribute": i.groups_attribute, "jit": i.jit, "issuer": i.issuer, "client_id": i.client_id,
           "client_secret_changed": i.client_secret.is_some(), "idp_metadata_uploaded": i.idp_metadata_xml.is_some(),
           "idp_metadata_url": i.idp_metadata_url, "allow_idp_initiated": i.allow_idp_initiated})
}

#[utoipa::path(responses((status = 200, body = [ConnectionView])), tag = "sso")]
#[get("/accounts/{id}/connections")]
pub async fn list(
    state: State,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    actor.require(ACCOUNT_ADMINISTRATION)?;
    let mut out = Vec::new();
    for c in connections::list(&state.db, &path).await? {
        out.push(view(&state, &c).await?);
    }
    Ok(HttpResponse::Ok().json(out))
}

#[utoipa::path(responses((status = 200, body = ConnectionView), (status = 404)), tag = "sso")]
#[get("/accounts/{id}/connections/{connection}")]
pub async fn get(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    actor.require(ACCOUNT_ADMINISTRATION)?;
    let (acct, id) = path.into_inner();
    let c = existing(&state, &acct, &id).await?;
    Ok(HttpResponse::Ok().json(view(&state, &c).await?))
}

#[utoipa::path(request_body = ConnectionInput, responses((status = 201, body = ConnectionView), (status = 400), (status = 409)), tag = "sso")]
#[post("/accounts/{id}/connections")]
pub async fn create(
    state: State,
    actor: Actor,
    path: web::Path<String>,
    body: web::Json<ConnectionInput>,
) -> Result<HttpResponse, ApiError> {
    actor.require(ACCOUNT_ADMINISTRATION)?;
    let input = body.into_inner();
    // Built (metadata fetched, keys made) before the write transaction opens.
    let built = connection_setup::build(&path, None, &input, &state.sealer).await;
    let saved = audited(
        &state,
        &actor,
        "sso.connection.create",
        &path,
        input_details(&input),
        async |txn| {
            let c = built.map_err(ApiError::BadRequest)?;
            let c = connections::insert(txn, c).await?;
            changed(txn, &c, "created").await?;
            Ok(c)
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(view(&state, &saved).await?))
}

#[utoipa::path(request_body = ConnectionInput, responses((status = 200, body = ConnectionView), (status = 400), (status = 404)), tag = "sso")]
#[patch("/accounts/{id}/connections/{connection}")]
pub async fn update(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Json<ConnectionInput>,
) -> Result<HttpResponse, ApiError> {
    actor.require(ACCOUNT_ADMINISTRATION)?;
    let (acct, id) = path.into_inner();
    let input = body.into_inner();
    let before = existing(&state, &acct, &id).await?;
    let built = connection_setup::build(&acct, Some(before), &input, &state.sealer).await;
    let saved = audited(
        &state,
        &actor,
        "sso.connection.update",
        &id,
        input_details(&input),
        async |txn| {
            let c = built.map_err(ApiError::BadRequest)?;
            let c = connections::update(txn, c).await?;
            changed(txn, &c, "updated").await?;
            Ok(c)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(view(&state, &saved).await?))
}

#[utoipa::path(responses((status = 204), (status = 404)), tag = "sso")]
#[delete("/accounts/{id}/connections/{connection}")]
pub async fn remove(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (acct, id) = path.into_inner();
    audited(
        &state,
        &actor,
        "sso.connection.delete",
        &id,
        json!({}),
        async |txn| {
            actor.require(ACCOUNT_ADMINISTRATION)?;
            if connections::delete(txn, &acct, &id).await? {
                let d = json!({"id": id, "change": "deleted"});
                crate::store::events::emit(txn, &acct, "connection.changed", &id, d).await?;
                Ok(())
            } else {
                Err(ApiError::NotFound(format!("unknown connection: {id}")))
            }
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainInput {
    domain: String,
}

#[utoipa::path(request_body = DomainInput, responses((status = 201, body = DomainView), (status = 400), (status = 409)), tag = "sso")]
#[post("/accounts/{id}/connections/{connection}/domains")]
pub async fn add_domain(
    state: State,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Json<DomainInput>,
) -> Result<HttpResponse, ApiError> {
    let (acct, id) = path.into_inner();
    let domain = domain_check::normalise(&body.domain);
    let details = json!({"connection": id, "domain": body.domain});
    let added = audited(
        &state,
        &actor,
        "sso.domain.add",
        &id,
        details,
        async |txn| {
            actor.require(ACCOUNT_ADMINISTRATION)?;
            let domain = domain.map_err(ApiError::BadRequest)?;
            connections::get(txn, &acct, &id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("unknown connection: {id}")))?;
            if connections::domain(txn, &acct, &domain).await?.is_some() {
                return Err(ApiError::Conflict(format!(
                    "{domain} is already claimed by a connection of this account"
                )));
            }
            let row = Domain {
                account_id: acct.clone(),
                domain,
                connection_id: id.clone(),
                token: crate::secrets::random_token(),
                verified_at: None,
                created_at: now_ms(),
            };
            Ok(connections::add_domain(txn, row).await?)
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(connection_setup::domain_view(&added)))
}

#[utoipa::path(responses((status = 200, body = DomainView), (status = 404), (status = 409), (status = 422)), tag = "sso")]
#[post("/accounts/{id}/connections/{connection}/domains/{domain}/verify")]
pub async fn verify_domain(
    state: State,
    actor: Actor,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    actor.require(ACCOUNT_ADMINISTRATION)?;
    let (acct, id, domain) = path.into_inner();
    let domain = domain_check::normalise(&domain).map_err(ApiError::BadRequest)?;
    let row = connections::domain(&state.db, &acct, &domain)
        .await?
        .filter(|d| d.connection_id == id)
        .ok_or_else(|| ApiError::NotFound(format!("{domain} is not claimed by this connection")))?;
    // The lookup runs before the write transaction: DNS can be slow.
    let looked_up = domain_check::txt_records(&domain, &state.settings.dns_resolver).await;
    let details = json!({"connection": id, "domain": domain});
    let verified = audited(
        &state,
        &actor,
        "sso.domain.verify",
        &id,
        details,
        async |txn| {
            let wanted = format!("{}{}", connection_setup::TXT_PREFIX, row.token);
            let not_verified = |message: String, found: Vec<String>| ApiError::Unprocessable {
                code: "not_verified",
                message,
                extra: json!({"domain": connection_setup::domain_view(&row), "found": found}),
            };
            let records = looked_up.map_err(|e| not_verified(e, vec![]))?;
            if !domain_check::proves(&records, &row.token) {
                return Err(not_verified(
                    format!("no TXT record {wanted} at {domain}"),
                    records,
                ));
            }
            connections::mark_verified(txn, row.clone())
                .await
                .map_err(|e| {
                    if crate::store::is_unique_violation(&e) {
                        ApiError::Conflict(format!("{domain} is verified by another account"))
                    } else {
                        ApiError::from(e)
                    }
                })
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(connection_setup::domain_view(&verified)))
}

#[utoipa::path(responses((status = 204), (status = 404)), tag = "sso")]
#[delete("/accounts/{id}/connections/{connection}/domains/{domain}")]
pub async fn remove_domain(
    state: State,
    actor: Actor,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (acct, id, domain) = path.into_inner();
    let details = json!({"connection": id, "domain": domain});
    audited(
        &state,
        &actor,
        "sso.domain.remove",
        &id,
        details,
        async |txn| {
            actor.require(ACCOUNT_ADMINISTRATION)?;
            let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
            if connections::remove_domain(txn, &acct, &id, &d).await? {
                Ok(())
            } else {
                Err(ApiError::NotFound(format!(
                    "{d} is not claimed by this connection"
                )))
            }
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeBody {
    /// `off`, `optional` or `required`.
    mode: String,
}

#[utoipa::path(responses((status = 200, body = ModeBody)), tag = "sso")]
#[get("/accounts/{id}/sso/mode")]
pub async fn get_mode(
    state: State,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    actor.require(ACCOUNT_ADMINISTRATION)?;
    let mode = connections::mode(&state.db, &path).await?;
    Ok(HttpResponse::Ok().json(ModeBody {
        mode: mode.to_string(),
    }))
}

#[utoipa::path(request_body = ModeBody, responses((status = 200, body = ModeBody), (status = 400)), tag = "sso")]
#[put("/accounts/{id}/sso/mode")]
pub async fn put_mode(
    state: State,
    actor: Actor,
    path: web::Path<String>,
    body: web::Json<ModeBody>,
) -> Result<HttpResponse, ApiError> {
    let wanted = body.into_inner().mode;
    audited(
        &state,
        &actor,
        "sso.mode.update",
        &path,
        json!({"mode": wanted}),
        async |txn| {
            actor.require(ACCOUNT_ADMINISTRATION)?;
            let mode = SsoMode::parse(&wanted).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "mode must be one of {}; not {wanted:?}",
                    SsoMode::choices()
                ))
            })?;
            connections::set_mode(txn, &path, mode).await?;
            Ok(())
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(ModeBody { mode: wanted }))
}
