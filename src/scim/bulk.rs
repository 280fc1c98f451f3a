//! `POST /Bulk` (RFC 7644 §3.7) and the root `POST /.search`.

use super::error::ScimError;
use super::groups::Groups;
use super::handlers::bulk_op;
use super::query::ListParams;
use super::schema::ResourceKind;
use super::users::Users;
use super::{json_response, text_response, ScimBody, ScimCtx};
use actix_web::{http::StatusCode, web, HttpResponse};
use serde_json::{json, Value};
use std::collections::HashMap;

const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/Bulk").route(web::post().to(bulk)))
        .service(web::resource("/.search").route(web::post().to(search_all)));
}

/// Searches Users and Groups together; paging spans both lists, Users first.
async fn search_all(ctx: ScimCtx, body: ScimBody) -> Result<HttpResponse, ScimError> {
    let p = ListParams::from_search(&body.0)?;
    let everything = ListParams {
        start_index: 1,
        count: super::query::MAX_RESULTS,
        ..p.clone()
    };
    let mut all = vec![];
    let mut total = 0;
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let r = super::list::list(&ctx, kind, &everything).await?;
        total += r.total;
        all.extend(r.resources);
    }
    let page = super::list::Listed {
        total,
        start: p.start_index,
        resources: all
            .into_iter()
            .skip((p.start_index - 1) as usize)
            .take(p.count as usize)
            .collect(),
    };
    Ok(text_response(StatusCode::OK, page.body()))
}

fn field<'a>(v: &'a Value, k: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(k))
        .map(|(_, v)| v)
}

/// Replaces `"bulkId:x"` references with the ids created earlier in the request.
fn resolve_refs(data: &Value, created: &HashMap<String, String>) -> Result<Value, ScimError> {
    Ok(match data {
        Value::String(s) => match s.strip_prefix("bulkId:") {
            Some(b) => Value::String(created.get(b).cloned().ok_or_else(|| {
                ScimError::new(
                    409,
                    Some("invalidValue"),
                    format!("bulkId {b} does not refer to an earlier operation"),
                )
            })?),
            None => data.clone(),
        },
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| resolve_refs(x, created))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), resolve_refs(v, created)?)))
                .collect::<Result<_, ScimError>>()?,
        ),
        other => other.clone(),
    })
}

/// Runs one operation; returns (status, location, response body).
async fn run(
    ctx: &ScimCtx,
    op: &Value,
    created: &HashMap<String, String>,
) -> Result<(u16, Option<String>, Option<Value>), ScimError> {
    let method = field(op, "method")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax("each operation needs a method"))?
        .to_ascii_uppercase();
    let path = field(op, "path")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax("each operation needs a path"))?;
    let version = field(op, "version")
        .and_then(Value::as_str)
        .map(String::from);
    let data = resolve_refs(field(op, "data").unwrap_or(&Value::Null), created)?;
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let id = segs
        .get(1)
        .map(|s| resolve_refs(&json!(s), created))
        .transpose()?
        .and_then(|v| v.as_str().map(String::from));
    match segs.first().copied() {
        Some("Users") => bulk_op::<Users>(ctx, &method, path, id, data, version).await,
        Some("Groups") => bulk_op::<Groups>(ctx, &method, path, id, data, version).await,
        _ => Err(ScimError::invalid_syntax(format!(
            "unsupported bulk operation {method} {path}"
        ))),
    }
}

async fn bulk(ctx: ScimCtx, body: ScimBody) -> Result<HttpResponse, ScimError> {
    let body = body.0;
    let (ops, fail_on_errors) = bulk_request(&ctx, &body)?;
    let mut created: HashMap<String, String> = HashMap::new();
    let mut results = vec![];
    let mut errors = 0;
    for op in ops {
        if errors >= fail_on_errors {
            break;
        }
        let bulk_id = field(op, "bulkId")
            .and_then(Value::as_str)
            .map(String::from);
        let method = field(op, "method")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_uppercase();
        let mut entry = json!({"method": method});
        if let Some(b) = &bulk_id {
            crate::json::set(&mut entry, "bulkId", json!(b));
        }
        match run(&ctx, op, &created).await {
            Ok((status, location, response)) => {
                if let (Some(b), Some(loc), 201) = (&bulk_id, &location, status) {
                    if let Some(id) = loc.rsplit('/').next() {
                        created.insert(b.clone(), id.to_string());
                    }
                }
                succeeded(&mut entry, status, location, response.as_ref());
            }
            Err(e) => {
                errors += 1;
                failed(&mut entry, &e);
            }
        }
        results.push(entry);
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({"schemas": [BULK_RESPONSE_URN], "Operations": results}),
    ))
}

/// The operations of a BulkRequest and how many errors end it.
fn bulk_request<'a>(ctx: &ScimCtx, body: &'a Value) -> Result<(&'a Vec<Value>, usize), ScimError> {
    if let Some(s) = field(body, "schemas") {
        if !s
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == BULK_REQUEST_URN))
        {
            return Err(ScimError::invalid_syntax(format!(
                "schemas must include {BULK_REQUEST_URN}"
            )));
        }
    }
    let ops = field(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("a BulkRequest needs an Operations array"))?;
    let max = ctx.state.settings.bulk_max_operations;
    if ops.len() > max {
        return Err(ScimError::new(
            413,
            None,
            format!("at most {max} operations per bulk request"),
        ));
    }
    let fail_on_errors = match field(body, "failOnErrors") {
        None | Some(Value::Null) => usize::MAX,
        Some(v) => v
            .as_u64()
            .filter(|n| *n > 0)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| ScimError::invalid_value("failOnErrors must be a positive integer"))?,
    };
    Ok((ops, fail_on_errors))
}

/// A successful operation's entry: status, location, version.
fn succeeded(entry: &mut Value, status: u16, location: Option<String>, response: Option<&Value>) {
    crate::json::set(entry, "status", json!(status.to_string()));
    if let Some(l) = location {
        crate::json::set(entry, "location", json!(l));
    }
    if let Some(v) = response.and_then(|r| crate::json::str_at(r, "/meta/version")) {
        crate::json::set(entry, "version", json!(v));
    }
}

/// A failed operation's entry: status and the SCIM error body.
fn failed(entry: &mut Value, e: &ScimError) {
    let mut r = json!({"schemas": [super::error::ERROR_URN], "status": e.status.to_string(), "detail": e.detail});
    if let Some(t) = e.scim_type {
        crate::json::set(&mut r, "scimType", json!(t));
    }
    crate::json::set(entry, "status", json!(e.status.to_string()));
    crate::json::set(entry, "response", r);
}
