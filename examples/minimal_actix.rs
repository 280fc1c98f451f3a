//! The baseline for bench/authorize.sh: actix-web's smallest JSON handler,
//! same runtime and worker count as idbridge.

use actix_web::{post, web, App, HttpResponse, HttpServer};

#[post("/authorize")]
async fn authorize(body: web::Json<serde_json::Value>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"allowed": true, "echo": body.0["privilege"]}))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:18090".into());
    HttpServer::new(|| App::new().service(authorize))
        .bind(listen)?
        .run()
        .await
}
