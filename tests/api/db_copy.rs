//! `idbridge db copy` moves a SQLite deployment to PostgreSQL: everything
//! arrives, credentials keep working, counts are verified (issue 8).

use crate::helpers::{spawn, Backend};
use crate::sso::{browser, local, totp};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_round_trip() {
    let app = spawn(Backend::Sqlite).await.expect("sqlite app");
    app.enable_aus().await;
    let (_, u, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"userName": "ada@acme.test", "emails": [{"value": "ada@acme.test"}]})),
        )
        .await;
    let uid = u["id"].as_str().expect("id").to_string();
    app.scim(
        "POST",
        "/Groups",
        Some(json!({"displayName": "Eng", "members": [{"value": uid}]})),
    )
    .await;
    app.admin("POST", "/api/v1/accounts/{acct}/roles", Some(json!({"name": "Deployer", "inherits": "Standard User", "privileges": ["VIEW_AUDIT_LOGS"]})))
        .await;
    app.admin(
        "POST",
        "/api/v1/accounts/{acct}/environments",
        Some(json!({"name": "Production", "roles": ["Deployer"]})),
    )
    .await;
    let (s, _) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/group-mappings",
            Some(json!({"group": {"displayName": "Eng"}, "roles": ["Deployer"]})),
        )
        .await;
    assert_eq!(s, 201);
    let bg = &app.break_glass;
    let c = browser();
    assert_eq!(
        local(&app, &c, &bg.email, &bg.password, &totp(&bg.totp_secret, 0))
            .await
            .0,
        200
    );
    let before: Value = app
        .admin("POST", "/api/v1/authorize", Some(json!({"account": app.account_id, "user": uid, "privilege": "VIEW_AUDIT_LOGS", "environment": "Production"})))
        .await
        .1;
    assert_eq!(before["allowed"], json!(true));

    let admin = crate::peers::postgres_url();
    let name = format!("idb_copy_{}", uuid::Uuid::new_v4().simple());
    let pg = idbridge::store::connect(&admin).await.expect("postgres");
    pg.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create");
    let to = format!("{}/{name}", admin.rsplit_once('/').expect("path").0);
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_idbridge"))
            .args(args)
            .env("IDBRIDGE_LOG_LEVEL", "warn")
            .output()
            .expect("idbridge runs")
    };
    let out = run(&[
        "db",
        "copy",
        "--from",
        &app.settings.database_url,
        "--to",
        &to,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["verified"], json!(true));
    for (table, at_least) in [
        ("accounts", 1),
        ("users", 2),
        ("scim_groups", 1),
        ("group_members", 1),
        ("custom_roles", 1),
        ("environments", 1),
        ("group_mappings", 1),
        ("api_keys", 1),
        ("scim_tokens", 1),
        ("sessions", 1),
        ("audit_events", 5),
        ("signing_keys", 0),
    ] {
        assert!(
            report["copied"][table].as_u64().expect(table) >= at_least,
            "{table}: {report}"
        );
    }
    // A second copy into the same database is refused.
    let again = run(&[
        "db",
        "copy",
        "--from",
        &app.settings.database_url,
        "--to",
        &to,
    ]);
    assert!(!again.status.success());

    // A server on the copy: the same keys, tokens and decisions.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let settings = idbridge::config::Settings {
        database_url: to.clone(),
        listen: format!("127.0.0.1:{port}"),
        public_url: format!("http://127.0.0.1:{port}"),
        ..app.settings.clone()
    };
    let server = idbridge::Application::build_on(settings, listener)
        .await
        .expect("server");
    tokio::spawn(server.run_until_stopped());
    let base = format!("http://127.0.0.1:{port}");
    let after: Value = app
        .client
        .post(format!("{base}/api/v1/authorize"))
        .bearer_auth(&app.admin_key)
        .json(&json!({"account": app.account_id, "user": uid, "privilege": "VIEW_AUDIT_LOGS", "environment": "Production"}))
        .send()
        .await
        .expect("authorize")
        .json()
        .await
        .expect("json");
    assert_eq!(after, before);
    let r = app
        .client
        .get(format!(
            "{base}/scim/v2/Users?filter=userName%20eq%20%22ada@acme.test%22"
        ))
        .bearer_auth(&app.scim_token)
        .send()
        .await
        .expect("scim");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["totalResults"], json!(1));
    // New audit events continue after the copied ones.
    let r = app
        .client
        .patch(format!("{base}/api/v1/accounts/{}", app.account_id))
        .bearer_auth(&app.admin_key)
        .json(&json!({"name": "Acme on PostgreSQL"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status().as_u16(), 200);
    drop(pg);
    let pg = idbridge::store::connect(&admin).await.expect("postgres");
    let _ = pg
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await;
}
