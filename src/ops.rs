//! Operations: health, readiness, the metrics endpoint, request spans.

use crate::state::State;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{get, HttpMessage, HttpResponse};
use std::time::Instant;

/// Middleware: records each request under its route pattern (not its raw
/// path, so ids do not explode the label set).
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let state = req.app_data::<State>().cloned();
    let mut res = next.call(req).await?;
    // Echo the request id of the tracing span so clients can quote it.
    let rid = res
        .request()
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|r| r.to_string());
    if let Some(v) = rid.and_then(|r| actix_web::http::header::HeaderValue::from_str(&r).ok()) {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-request-id"),
            v,
        );
    }
    if let Some(s) = state {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        tracing::Span::current().record("http.route", route.as_str());
        s.metrics.observe(
            res.request().method().as_str(),
            &route,
            res.status().as_u16(),
            start.elapsed(),
        );
    }
    Ok(res)
}

#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Ready when the database answers.
#[get("/readyz")]
pub async fn readyz(state: State) -> HttpResponse {
    if state.draining.load(std::sync::atomic::Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "unavailable", "reason": "shutting down"}));
    }
    match state.db.ping().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ready"})),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            HttpResponse::ServiceUnavailable().json(
                serde_json::json!({"status": "unavailable", "reason": "database not reachable"}),
            )
        }
    }
}

#[get("/metrics")]
pub async fn metrics(state: State) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// The request span, without the query string: OIDC callbacks carry the
/// authorization `code` and `state` there, and logs must not. Client-sent
/// values are Debug-formatted so they cannot forge log lines.
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        let user_agent = request
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            // Recorded by `track`: finding the pattern runs the router's regexes again.
            http.route = tracing::field::Empty,
            http.target = ?request.path(),
            http.client_ip = ?request.connection_info().realip_remote_addr().unwrap_or(""),
            http.user_agent = ?user_agent,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
            request_id = %request_id,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
