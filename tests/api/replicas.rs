//! Two `idbridge serve` replicas on one PostgreSQL database agree: sign-in
//! throttling counts across them, and a change made through one reaches the
//! other's decisions within a second (issue 8).

use crate::helpers::{spawn, Backend, TestApp};
use crate::sso::{browser, local};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A second server on the app's database, on a port of its own.
pub(crate) async fn replica(app: &TestApp) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let settings = idbridge::config::Settings {
        listen: format!("127.0.0.1:{port}"),
        public_url: format!("http://127.0.0.1:{port}"),
        ..app.settings.clone()
    };
    let server = idbridge::Application::build_on(settings, listener)
        .await
        .expect("replica");
    tokio::spawn(server.run_until_stopped());
    format!("http://127.0.0.1:{port}")
}

async fn authorize(app: &TestApp, base: &str, user: &str, privilege: &str) -> Value {
    let r = app
        .client
        .post(format!("{base}/api/v1/authorize"))
        .bearer_auth(&app.admin_key)
        .json(&json!({"account": app.account_id, "user": user, "privilege": privilege}))
        .send()
        .await
        .expect("authorize");
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.expect("json")
}

/// Waits until `check` holds, for at most one second; returns how long it took.
async fn within_a_second<F, Fut>(mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        if check().await {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the other replica did not see the change within a second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_agree_at_once() {
    let app = spawn(Backend::Postgres).await.expect("postgres app");
    let b = replica(&app).await;

    // Throttling counts across replicas: five failures through A, the sixth through B.
    let bg = &app.break_glass;
    let c = browser();
    for _ in 0..5 {
        assert_eq!(local(&app, &c, &bg.email, "wrong", "000000").await.0, 401);
    }
    let r = c
        .post(format!("{b}/auth/local"))
        .json(&json!({"account": app.account_id, "email": bg.email, "password": "wrong", "totp": "000000"}))
        .send()
        .await
        .expect("sign-in through B");
    assert_eq!(r.status().as_u16(), 429);

    // A user provisioned through A, with a role from a group mapping.
    app.enable_aus().await;
    let (s, u, _) = app
        .scim("POST", "/Users", Some(json!({"userName": "rep@acme.test"})))
        .await;
    assert_eq!(s, 201);
    let uid = u["id"].as_str().expect("id").to_string();
    assert_eq!(
        authorize(&app, &b, &uid, "EXECUTE").await["allowed"],
        json!(false)
    );
    // Role granted over SCIM through A: allowed by B within a second.
    let (s, _, _) = app
        .scim(
            "PATCH",
            &format!("/Users/{uid}"),
            Some(json!({"Operations": [{"op": "add", "path": "roles", "value": [{"value": "Standard User"}]}]})),
        )
        .await;
    assert_eq!(s, 200);
    let took = within_a_second(|| async {
        authorize(&app, &b, &uid, "EXECUTE").await["allowed"] == json!(true)
    })
    .await;
    eprintln!("role grant reached the replica in {took:?}");
    // Deactivated through A: denied by B within a second.
    let (s, _, _) = app
        .scim(
            "PATCH",
            &format!("/Users/{uid}"),
            Some(json!({"Operations": [{"op": "replace", "path": "active", "value": false}]})),
        )
        .await;
    assert_eq!(s, 200);
    within_a_second(|| async {
        authorize(&app, &b, &uid, "EXECUTE").await["allowed"] == json!(false)
    })
    .await;
    // A custom role's privileges change through A's management API: B follows.
    let (s, role) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/roles",
            Some(json!({"name": "Auditor", "privileges": ["VIEW_AUDIT_LOGS"]})),
        )
        .await;
    assert_eq!(s, 201, "{role}");
    let (aid, _) = app.user_with_roles("aud@acme.test", &["Auditor"]).await;
    within_a_second(|| async {
        authorize(&app, &b, &aid, "VIEW_AUDIT_LOGS").await["allowed"] == json!(true)
    })
    .await;
    let (s, _) = app
        .admin(
            "PUT",
            &format!(
                "/api/v1/accounts/{{acct}}/roles/{}",
                role["id"].as_str().expect("id")
            ),
            Some(json!({"name": "Auditor", "privileges": ["EXECUTE"]})),
        )
        .await;
    assert_eq!(s, 200);
    within_a_second(|| async {
        authorize(&app, &b, &aid, "VIEW_AUDIT_LOGS").await["allowed"] == json!(false)
    })
    .await;
    // An API key revoked through A stops working at B within a second.
    let (_, key) = app
        .user_with_roles("svc@acme.test", &["Standard User"])
        .await;
    let call_b = || async {
        app.client
            .get(format!("{b}/api/v1/accounts/{}/roles", app.account_id))
            .bearer_auth(&key)
            .send()
            .await
            .expect("call B")
            .status()
            .as_u16()
    };
    assert_eq!(call_b().await, 200);
    let (_, keys) = app
        .json("GET", "/api/v1/accounts/{acct}/api-keys", &key, None)
        .await;
    let kid = keys[0]["id"].as_str().expect("key id").to_string();
    let (s, _) = app
        .json(
            "DELETE",
            &format!("/api/v1/accounts/{{acct}}/api-keys/{kid}"),
            &key,
            None,
        )
        .await;
    assert_eq!(s, 204);
    within_a_second(|| async { call_b().await == 401 }).await;
    // A SCIM token revoked through A is refused by A at once and by B within
    // a second (B drops its cached token rows when the change log says so).
    let (t, _) = idbridge::store::credentials::create_scim_token(&app.db, &app.account_id, None)
        .await
        .expect("token");
    let (tid, token) = (t.id.clone(), t.token.expect("token"));
    let scim_b = || async {
        app.client
            .get(format!("{b}/scim/v2/Users?count=1"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("scim B")
            .status()
            .as_u16()
    };
    assert_eq!(scim_b().await, 200);
    let (s, _) = app
        .admin(
            "DELETE",
            &format!("/api/v1/accounts/{{acct}}/scim-tokens/{tid}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let at_a = app
        .client
        .get(app.url("/scim/v2/Users?count=1"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("scim A");
    assert_eq!(at_a.status().as_u16(), 401);
    within_a_second(|| async { scim_b().await == 401 }).await;
    // A session ended through A is dead at B at once.
    let (cookie, _) = idbridge::store::sessions::create(
        &app.db,
        &app.account_id,
        &app.break_glass.user_id,
        &["pwd", "otp"],
        None,
        3600,
    )
    .await
    .expect("session");
    let me_at_b = || async {
        app.client
            .get(format!("{b}/auth/session"))
            .header("cookie", format!("idbridge_session={cookie}"))
            .send()
            .await
            .expect("session at B")
            .status()
            .as_u16()
    };
    assert_eq!(me_at_b().await, 200);
    let r = app
        .client
        .post(app.url("/auth/logout"))
        .header("cookie", format!("idbridge_session={cookie}"))
        .send()
        .await
        .expect("logout at A");
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(me_at_b().await, 401);
}
