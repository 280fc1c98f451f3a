//! `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`: what is supported, truthfully.

use super::error::ScimError;
use super::{json_response, ScimCtx, ENTERPRISE_URN, GROUP_URN, LIST_URN, USER_URN};
use actix_web::{http::StatusCode, web, HttpResponse};
use serde_json::{json, Value};

pub fn routes(cfg: &mut web::ServiceConfig) {
    for (path, handler) in [
        (
            "/ServiceProviderConfig",
            web::get().to(service_provider_config),
        ),
        ("/ResourceTypes", web::get().to(resource_types)),
        ("/ResourceTypes/{name}", web::get().to(resource_type)),
        ("/Schemas", web::get().to(schemas)),
        ("/Schemas/{urn}", web::get().to(schema)),
    ] {
        // Discovery is read-only: every other method gets 405 with a SCIM body.
        cfg.service(
            web::resource(path)
                .route(handler)
                .default_service(web::to(method_not_allowed)),
        );
    }
}

async fn method_not_allowed() -> Result<HttpResponse, ScimError> {
    Err(ScimError::new(
        405,
        None,
        "discovery endpoints are read-only",
    ))
}

fn meta(ctx: &ScimCtx, kind: &str, path: &str) -> Value {
    json!({"resourceType": kind, "location": format!("{}{}", ctx.base(), path)})
}

async fn service_provider_config(ctx: ScimCtx) -> HttpResponse {
    let s = &ctx.state.settings;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/idbridge/idbridge#scim",
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": s.bulk_max_operations, "maxPayloadSize": s.max_body_bytes},
        "filter": {"supported": true, "maxResults": super::query::MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A per-account bearer token issued by idbridge (idbridge scim-token create).",
            "primary": true
        }],
        "meta": meta(&ctx, "ServiceProviderConfig", "/ServiceProviderConfig"),
    });
    json_response(StatusCode::OK, &body)
}

fn resource_type_json(ctx: &ScimCtx, name: &str) -> Option<Value> {
    let v = match name {
        "User" => json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User", "name": "User", "endpoint": "/Users", "description": "A person with access to the account",
            "schema": USER_URN,
            "schemaExtensions": [{"schema": ENTERPRISE_URN, "required": false}],
            "meta": meta(ctx, "ResourceType", "/ResourceTypes/User"),
        }),
        "Group" => json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group", "name": "Group", "endpoint": "/Groups", "description": "A set of users; mapped to roles by group mappings",
            "schema": GROUP_URN,
            "schemaExtensions": [],
            "meta": meta(ctx, "ResourceType", "/ResourceTypes/Group"),
        }),
        _ => return None,
    };
    Some(v)
}

fn list(items: Vec<Value>) -> Value {
    json!({"schemas": [LIST_URN], "totalResults": items.len(), "itemsPerPage": items.len(), "startIndex": 1, "Resources": items})
}

async fn resource_types(ctx: ScimCtx) -> HttpResponse {
    let items = ["User", "Group"]
        .iter()
        .filter_map(|n| resource_type_json(&ctx, n))
        .collect();
    json_response(StatusCode::OK, &list(items))
}

async fn resource_type(ctx: ScimCtx, name: web::Path<String>) -> Result<HttpResponse, ScimError> {
    let v = resource_type_json(&ctx, &name)
        .ok_or_else(|| ScimError::not_found(format!("no resource type {name}")))?;
    Ok(json_response(StatusCode::OK, &v))
}

fn schema_with_meta(ctx: &ScimCtx, mut s: Value) -> Value {
    let id = s
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    crate::json::set(
        &mut s,
        "meta",
        meta(ctx, "Schema", &format!("/Schemas/{id}")),
    );
    s
}

/// Roles the account accepts through SCIM: every role but the built-in
/// Administrator, minus those its edition does not allow.
async fn assignable_roles(ctx: &ScimCtx) -> Result<Vec<String>, ScimError> {
    let acct = ctx.account().await?;
    let m = &acct.model;
    Ok(m.all_roles()
        .filter(|r| !r.is_administrator() && m.check_assignable(r).is_ok())
        .map(|r| m.role_name(&r))
        .collect())
}

async fn schemas(ctx: ScimCtx) -> Result<HttpResponse, ScimError> {
    let roles = assignable_roles(&ctx).await?;
    let items = super::schema::all_schemas_json(&roles)
        .into_iter()
        .map(|s| schema_with_meta(&ctx, s))
        .collect();
    Ok(json_response(StatusCode::OK, &list(items)))
}

async fn schema(ctx: ScimCtx, urn: web::Path<String>) -> Result<HttpResponse, ScimError> {
    let roles = assignable_roles(&ctx).await?;
    let s = super::schema::all_schemas_json(&roles)
        .into_iter()
        .find(|s| {
            s["id"]
                .as_str()
                .is_some_and(|id| id.eq_ignore_ascii_case(&urn))
        })
        .ok_or_else(|| ScimError::not_found(format!("no schema {urn}")))?;
    Ok(json_response(StatusCode::OK, &schema_with_meta(&ctx, s)))
}
