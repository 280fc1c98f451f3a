//! idbridge: SCIM 2.0 and OpenID Connect bridge for a Boomi-style access model.
//!
//! This file wires the parts together; each module stays on its side:
//! `catalog` and `access` are pure (the `access-model` crate), `store` is the database edge, `api`,
//! `scim` and `sso` are the HTTP edges.

// No request may reach a panic: errors are values all the way to a response.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub use access_model::{access, catalog};
pub mod api;
pub mod caller;
pub mod config;
pub mod console;
pub mod follow;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod rejections;
pub mod resolver;
pub mod scim;
pub mod secrets;
pub mod sso;
pub mod state;
pub mod store;
pub mod webhooks;

use actix_web::{dev::Server, middleware, web, App, HttpServer};
use state::AppState;
use std::net::TcpListener;

/// A bound, migrated, ready-to-run server (tests bind port 0).
pub struct Application {
    port: u16,
    server: Server,
    state: std::sync::Arc<AppState>,
}

impl Application {
    pub async fn build(settings: config::Settings) -> Result<Self, StartError> {
        let listener = TcpListener::bind(&settings.listen)?;
        Self::build_on(settings, listener).await
    }

    /// Like [`Application::build`] on an already bound listener (tests bind
    /// first so the public URL can carry the port).
    pub async fn build_on(
        settings: config::Settings,
        listener: TcpListener,
    ) -> Result<Self, StartError> {
        settings.validate()?;
        let db = store::connect_with(
            &settings.database_url,
            std::time::Duration::from_millis(settings.slow_query_ms),
        )
        .await?;
        store::migrate(&db).await?;
        let read = store::connect_reads(
            &settings.database_url,
            &db,
            std::time::Duration::from_millis(settings.slow_query_ms),
        )
        .await?;
        let points = store::connect_point_reads(
            &settings.database_url,
            std::time::Duration::from_millis(settings.slow_query_ms),
        )
        .await?;
        let reads = store::reads::Reads::open(&read)
            .await?
            .with_point_reads(points);
        store::spawn_checkpoints(&settings.database_url).await?;
        let port = listener.local_addr()?.port();
        let commits = store::commits::Commits::start(&db);
        let shared = AppState::new(db, read, reads, commits, settings)?;
        tokio::spawn(follow::follow_changes(shared.clone()));
        tokio::spawn(webhooks::deliver(shared.clone()));
        let state = web::Data::from(shared.clone());
        let server = run(listener, state)?;
        Ok(Application {
            port,
            server,
            state: shared,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully: `/readyz`
    /// answers 503 at once (load balancers stop sending), requests keep
    /// being served for `shutdown_drain_ms`, then the listener closes and
    /// in-flight requests finish (up to 30 s) before the process exits.
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let state = self.state.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            state
                .draining
                .store(true, std::sync::atomic::Ordering::SeqCst);
            tracing::info!(
                drain_ms = state.settings.shutdown_drain_ms,
                "shutting down: not ready, draining"
            );
            tokio::time::sleep(std::time::Duration::from_millis(
                state.settings.shutdown_drain_ms,
            ))
            .await;
            handle.stop(true).await;
        });
        self.server.await
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            tracing::error!("cannot listen for shutdown signals; stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

pub fn run(listener: TcpListener, state: web::Data<AppState>) -> std::io::Result<Server> {
    let limit = state.settings.max_body_bytes;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(api::error::json_config(limit))
            .app_data(api::error::path_config())
            .app_data(api::error::query_config())
            .app_data(web::PayloadConfig::new(limit))
            // SAML responses arrive as forms and run to tens of kilobytes.
            .app_data(web::FormConfig::default().limit(limit))
            .wrap(middleware::from_fn(rejections::audit_rejections))
            .wrap(middleware::from_fn(ops::track))
            .wrap(tracing_actix_web::TracingLogger::<ops::RequestSpan>::new())
            .service(ops::healthz)
            .service(ops::readyz)
            .service(ops::metrics)
            .route(
                "/openapi.json",
                web::get().to(|| async { actix_web::HttpResponse::Ok().json(openapi::document()) }),
            )
            .service(
                <utoipa_scalar::Scalar<_> as utoipa_scalar::Servable<_>>::with_url(
                    "/docs",
                    openapi::document(),
                ),
            )
            .configure(api::routes)
            .configure(scim::routes)
            .configure(sso::routes)
            .configure(console::routes)
    })
    // Signals are handled by `run_until_signalled`, which drains first.
    .disable_signals()
    .shutdown_timeout(30)
    .listen(listener)?
    .run();
    Ok(server)
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("settings: {0}")]
    Settings(#[from] config::SettingsError),
    #[error("listener: {0}")]
    Listen(#[from] std::io::Error),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("sealing key: {0}")]
    SealingKey(#[from] secrets::SealError),
}
