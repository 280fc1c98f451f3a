//! The HTTP skeleton every SCIM resource type shares (RFC 7644 §3): list,
//! search, get with If-None-Match, create, replace, patch and delete with
//! If-Match, and Bulk dispatch. A resource type supplies only its storage
//! operations, through [`Resource`].

use super::error::ScimError;
use super::query::Projection;
use super::schema::ResourceKind;
use super::{if_match, not_modified, ScimBody, ScimCtx};
use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use std::collections::HashMap;

/// A created resource: its id and, when the type can render it from what it
/// just wrote, its representation (saving a read back).
pub(super) struct Created {
    pub id: String,
    pub body: Option<Written>,
}

/// A resource rendered from what a write just stored: its version (the
/// ETag) and its JSON text.
pub(super) struct Written {
    pub version: i64,
    pub text: Vec<u8>,
}

impl Written {
    fn value(&self) -> Option<Value> {
        serde_json::from_slice(&self.text).ok()
    }
}

/// What a SCIM resource type (Users, Groups) does with its stored rows.
pub(super) trait Resource: 'static {
    const KIND: ResourceKind;
    /// The collection's path under `/scim/v2`, e.g. `/Users`.
    const PATH: &'static str;
    /// Bulk echoes the written resource (users); groups answer with their id
    /// only, since a rendered member list can be huge.
    const BULK_ECHO: bool;

    /// The stored version and the resource rendered under `projection`, as
    /// JSON text.
    async fn read(
        ctx: &ScimCtx,
        id: &str,
        projection: &Projection,
    ) -> Result<(i64, Vec<u8>), ScimError>;
    /// Creates a resource.
    async fn create(ctx: &ScimCtx, body: Value) -> Result<Created, ScimError>;
    /// Replaces a resource; answers with it when it can render it from what
    /// it wrote (otherwise it is read back).
    async fn replace(
        ctx: &ScimCtx,
        id: &str,
        body: Value,
        version: Option<String>,
    ) -> Result<Option<Written>, ScimError>;
    /// Patches a resource; answers like `replace`.
    async fn patch(
        ctx: &ScimCtx,
        id: &str,
        body: Value,
        version: Option<String>,
    ) -> Result<Option<Written>, ScimError>;
    async fn delete(ctx: &ScimCtx, id: &str, version: Option<String>) -> Result<(), ScimError>;
}

pub(super) fn routes<R: Resource>(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(R::PATH)
            .route(web::get().to(list::<R>))
            .route(web::post().to(create::<R>)),
    )
    .service(web::resource(format!("{}/.search", R::PATH)).route(web::post().to(search::<R>)))
    .service(
        web::resource(format!("{}/{{id}}", R::PATH))
            .route(web::get().to(get::<R>))
            .route(web::put().to(
                |ctx: ScimCtx,
                 req: HttpRequest,
                 id: web::Path<String>,
                 body: ScimBody,
                 q: Query| { write::<R>(ctx, req, id, body, q, false) },
            ))
            .route(web::patch().to(
                |ctx: ScimCtx,
                 req: HttpRequest,
                 id: web::Path<String>,
                 body: ScimBody,
                 q: Query| { write::<R>(ctx, req, id, body, q, true) },
            ))
            .route(web::delete().to(delete::<R>)),
    );
}

type Query = web::Query<HashMap<String, String>>;

async fn list<R: Resource>(ctx: ScimCtx, q: Query) -> Result<HttpResponse, ScimError> {
    super::list::list_answer(&ctx, R::KIND, &q).await
}

async fn search<R: Resource>(ctx: ScimCtx, body: ScimBody) -> Result<HttpResponse, ScimError> {
    super::list::search_answer(&ctx, R::KIND, &body.0).await
}

async fn get<R: Resource>(
    ctx: ScimCtx,
    req: HttpRequest,
    id: web::Path<String>,
    q: Query,
) -> Result<HttpResponse, ScimError> {
    let projection = Projection::from_query(&q)?;
    let (version, text) = R::read(&ctx, &id, &projection).await?;
    let tag = super::etag(version);
    if not_modified(&req, &tag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((actix_web::http::header::ETAG, tag))
            .finish());
    }
    Ok(answer::<R>(&ctx, &id, StatusCode::OK, version, text))
}

/// One resource's answer: its ETag from the stored version, and on 201
/// where it is.
fn answer<R: Resource>(
    ctx: &ScimCtx,
    id: &str,
    status: StatusCode,
    version: i64,
    text: Vec<u8>,
) -> HttpResponse {
    let location =
        (status == StatusCode::CREATED).then(|| format!("{}{}/{id}", ctx.base(), R::PATH));
    super::stored_response(status, &super::etag(version), location, text)
}

/// The written resource, read back under the request's projection.
async fn written<R: Resource>(
    ctx: &ScimCtx,
    id: &str,
    q: &Query,
    status: StatusCode,
) -> Result<HttpResponse, ScimError> {
    let (version, text) = R::read(ctx, id, &Projection::from_query(q)?).await?;
    Ok(answer::<R>(ctx, id, status, version, text))
}

async fn create<R: Resource>(
    ctx: ScimCtx,
    body: ScimBody,
    q: Query,
) -> Result<HttpResponse, ScimError> {
    let projection = Projection::from_query(&q)?;
    match R::create(&ctx, body.0).await? {
        Created { id, body: Some(w) } => {
            let text = projection.apply_text(w.text);
            Ok(answer::<R>(&ctx, &id, StatusCode::CREATED, w.version, text))
        }
        Created { id, body: None } => written::<R>(&ctx, &id, &q, StatusCode::CREATED).await,
    }
}

/// PUT (`patch` false) or PATCH. RFC 7644 allows 204 after a PATCH, but
/// Entra and Okta expect the resource back.
async fn write<R: Resource>(
    ctx: ScimCtx,
    req: HttpRequest,
    id: web::Path<String>,
    body: ScimBody,
    q: Query,
    patch: bool,
) -> Result<HttpResponse, ScimError> {
    let projection = Projection::from_query(&q)?;
    let stored = if patch {
        R::patch(&ctx, &id, body.0, if_match(&req)).await?
    } else {
        R::replace(&ctx, &id, body.0, if_match(&req)).await?
    };
    match stored {
        Some(w) => {
            let text = projection.apply_text(w.text);
            Ok(answer::<R>(&ctx, &id, StatusCode::OK, w.version, text))
        }
        None => written::<R>(&ctx, &id, &q, StatusCode::OK).await,
    }
}

async fn delete<R: Resource>(
    ctx: ScimCtx,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    R::delete(&ctx, &id, if_match(&req)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What a Bulk write answers: the written resource when the type echoes it
/// (rendered by the write, or else read back), nothing otherwise.
async fn bulk_answer<R: Resource>(
    written: Option<Written>,
    read_back: impl std::future::Future<Output = Result<Option<Value>, ScimError>>,
) -> Result<Option<Value>, ScimError> {
    match (R::BULK_ECHO, written) {
        (false, _) => Ok(None),
        (true, Some(w)) => Ok(w.value()),
        (true, None) => read_back.await,
    }
}

/// One Bulk operation on a resource of type `R`: (status, location, response).
pub(super) async fn bulk_op<R: Resource>(
    ctx: &ScimCtx,
    method: &str,
    path: &str,
    id: Option<String>,
    data: Value,
    version: Option<String>,
) -> Result<(u16, Option<String>, Option<Value>), ScimError> {
    let location = |id: &str| Some(format!("{}{}/{id}", ctx.base(), R::PATH));
    let echo = |id: String| async move {
        if R::BULK_ECHO {
            let (_, text) = R::read(ctx, &id, &Projection::default()).await?;
            Ok(serde_json::from_slice(&text).ok())
        } else {
            Ok(None)
        }
    };
    match (method, id) {
        ("POST", None) => {
            let Created { id, body } = R::create(ctx, data).await?;
            let body = match (body, R::BULK_ECHO) {
                (Some(w), true) => w.value().unwrap_or_else(|| json!({"id": id})),
                (_, true) => echo(id.clone()).await?.unwrap_or_else(|| json!({"id": id})),
                (_, false) => json!({"id": id}),
            };
            Ok((201, location(&id), Some(body)))
        }
        ("PUT", Some(id)) => {
            let answer = R::replace(ctx, &id, data, version).await?;
            Ok((
                200,
                location(&id),
                bulk_answer::<R>(answer, echo(id.clone())).await?,
            ))
        }
        ("PATCH", Some(id)) => {
            let answer = R::patch(ctx, &id, data, version).await?;
            Ok((
                200,
                location(&id),
                bulk_answer::<R>(answer, echo(id.clone())).await?,
            ))
        }
        ("DELETE", Some(id)) => {
            R::delete(ctx, &id, version).await?;
            Ok((204, location(&id), None))
        }
        (m, _) => Err(ScimError::invalid_syntax(format!(
            "unsupported bulk operation {m} {path}"
        ))),
    }
}
