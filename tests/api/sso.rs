//! Sign-in: local break-glass, sessions and tokens, and the OIDC callback
//! against an identity provider this test controls (it signs the ID tokens).

use crate::helpers::TestApp;
use actix_web::{web, App, HttpResponse, HttpServer};
use base64::Engine;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

both_backends!(
    local_sign_in,
    throttling_and_sso_required,
    session_tokens_verify_independently,
    oidc_callback_checks,
    oidc_sign_in_rules
);

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(crate) fn totp(secret: &str, offset: i64) -> String {
    idbridge::secrets::totp_now(secret, (now() + offset) as u64).unwrap()
}

/// Waits until at least `secs` remain in the current 30 s TOTP step. A code
/// for the step before (`totp(_, -30)`) is accepted only while the server is
/// still in this step: made in a step's last second and checked in the next,
/// it is two steps old and refused.
pub(crate) async fn clear_of_step_end(secs: u64) {
    let ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default();
    let left = 30_000 - ms % 30_000;
    if left < secs * 1000 {
        tokio::time::sleep(std::time::Duration::from_millis(left + 50)).await;
    }
}

pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) async fn local(
    app: &TestApp,
    c: &reqwest::Client,
    email: &str,
    password: &str,
    code: &str,
) -> (u16, Value) {
    let r = c
        .post(app.url("/auth/local"))
        .json(
            &json!({"account": app.account_id, "email": email, "password": password, "totp": code}),
        )
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn session(app: &TestApp, c: &reqwest::Client) -> (u16, Value) {
    let r = c.get(app.url("/auth/session")).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn local_sign_in(app: &TestApp) {
    let bg = &app.break_glass;
    let c = browser();
    let code = totp(&bg.totp_secret, 0);
    let (s, b) = local(app, &c, &bg.email, &bg.password, &code).await;
    assert_eq!(s, 200, "{b}");
    let (s, me) = session(app, &c).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["amr"], json!(["pwd", "otp"]));
    assert_eq!(me["roles"], json!(["Administrator"]));
    assert_eq!(me["email"], json!(bg.email));
    assert!(me["token"].as_str().unwrap().split('.').count() == 3);
    // The same code cannot be used again, even right away.
    let other = browser();
    let (s, b) = local(app, &other, &bg.email, &bg.password, &code).await;
    assert_eq!((s, b["message"].clone()), (401, json!("sign-in failed")));
    // Wrong password, wrong code, unknown user: the same 401.
    for (email, pw, code) in [
        (bg.email.as_str(), "wrong", totp(&bg.totp_secret, 30)),
        (
            bg.email.as_str(),
            bg.password.as_str(),
            "000000".to_string(),
        ),
        ("ghost@acme.test", "x", "123456".to_string()),
    ] {
        let (s, b) = local(app, &other, email, pw, &code).await;
        assert_eq!(
            (s, b.clone()),
            (
                401,
                json!({"error": "unauthorized", "message": "sign-in failed"})
            ),
            "{email}"
        );
    }
    assert_eq!(session(app, &other).await.0, 401);
    // Logout ends the session.
    let r = c.post(app.url("/auth/logout")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(session(app, &c).await.0, 401);
    let events = app.audit().await;
    assert!(events.iter().any(|e| e["action"] == "break_glass.login"));
    assert!(events.iter().any(|e| e["action"] == "local.login"));
    let denied: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "local.denied")
        .collect();
    assert!(denied
        .iter()
        .any(|e| e["details"]["reason"] == "one-time code replayed"));
    assert!(denied.len() >= 4);
    // A session works on the management API too.
    let c2 = browser();
    let (s, _) = local(
        app,
        &c2,
        &bg.email,
        &bg.password,
        &totp(&bg.totp_secret, 30),
    )
    .await;
    assert_eq!(s, 200, "the next step's code is accepted");
    let r = c2
        .get(app.url("/api/v1/accounts/{acct}/roles"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Cookie-authenticated writes must be JSON (no cross-site form posts).
    let path = app.url("/api/v1/accounts/{acct}");
    let r = c2
        .patch(&path)
        .header("content-type", "text/plain")
        .body(r#"{"name":"Pwned"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = c2
        .patch(&path)
        .json(&json!({"name": "Acme Renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // The form page renders.
    let r = c.get(app.url("/auth/local")).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("name=\"totp\""));
}

async fn throttling_and_sso_required(app: &TestApp) {
    let bg = &app.break_glass;
    let c = browser();
    for _ in 0..5 {
        assert_eq!(local(app, &c, &bg.email, "nope", "000000").await.0, 401);
    }
    let r = c.post(app.url("/auth/local")).json(&json!({"account": app.account_id, "email": bg.email, "password": bg.password, "totp": totp(&bg.totp_secret, 0)})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 429, "even the right credential waits");
    let wait: u64 = r
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= 300);
    assert!(app
        .audit()
        .await
        .iter()
        .any(|e| e["action"] == "local.denied" && e["details"]["reason"] == "throttled"));
    // Another account's users are not affected.
    let (other, obg) = idbridge::store::accounts::create(&app.db, "Other", "x@other.test")
        .await
        .unwrap();
    let c = browser();
    let login = |code: String| {
        let c = c.clone();
        let (acct, email, pw) = (other.id.clone(), obg.email.clone(), obg.password.clone());
        async move {
            c.post(app.url("/auth/local"))
                .json(&json!({"account": acct, "email": email, "password": pw, "totp": code}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // SSO settings: the secret is write-only and never logged.
    let (s, b) = app
        .admin("PUT", "/api/v1/accounts/{acct}/sso", Some(json!({"issuer": "https://idp.example", "client_id": "idb", "client_secret": "s3cret", "mode": "required"})))
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("client_secret").is_none() && b["client_secret_set"] == json!(true));
    let (_, ev) = app
        .admin(
            "GET",
            "/api/v1/accounts/{acct}/audit?action=sso.settings.update",
            None,
        )
        .await;
    assert!(
        !ev.to_string().contains("s3cret"),
        "the secret is never logged"
    );
    let stored = idbridge::sso::settings::get(&app.db, &app.account_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.client_secret.starts_with("v1:") && !stored.client_secret.contains("s3cret"),
        "sealed at rest"
    );
    let (s, b) = app
        .admin(
            "PUT",
            "/api/v1/accounts/{acct}/sso",
            Some(json!({"issuer": "http://idp.example", "client_id": "idb", "mode": "required"})),
        )
        .await;
    assert_eq!(s, 400, "plain http only for loopback: {b}");
    let (s, _) = app
        .admin(
            "PUT",
            "/api/v1/accounts/{acct}/sso",
            Some(json!({"issuer": "https://idp.example", "client_id": "idb", "mode": "sometimes"})),
        )
        .await;
    assert_eq!(s, 400);
    // With SSO required, the built-in Administrator still signs in locally ...
    let input = idbridge::sso::settings::SsoInput {
        issuer: "https://idp.example".into(),
        client_id: "idb".into(),
        client_secret: Some("x".into()),
        scopes: None,
        groups_claim: None,
        role_source: None,
        mode: Some("required".into()),
        jit: None,
    };
    idbridge::sso::settings::put(
        &app.db,
        &idbridge::secrets::Sealer::new(app.settings.sealing_key()).unwrap(),
        &other.id,
        input,
    )
    .await
    .unwrap();
    assert_eq!(login(totp(&obg.totp_secret, 0)).await, 200);
    // ... but a local user without that role is refused.
    idbridge::store::scim::set_user_roles(&app.db, &obg.user_id, &["STANDARD_USER".to_string()])
        .await
        .unwrap();
    assert_eq!(login(totp(&obg.totp_secret, 30)).await, 403);
    let q = idbridge::store::audit::Query {
        action: Some("local.denied".into()),
        limit: 10,
        ..Default::default()
    };
    let (events, _) = idbridge::store::audit::list(&app.db, &other.id, q)
        .await
        .unwrap();
    assert!(events
        .iter()
        .any(|e| e.details["reason"] == "account requires SSO"));
}

async fn session_tokens_verify_independently(app: &TestApp) {
    let python = tokio::task::block_in_place(crate::peers::python);
    let bg = &app.break_glass;
    let c = browser();
    assert_eq!(
        local(app, &c, &bg.email, &bg.password, &totp(&bg.totp_secret, 0))
            .await
            .0,
        200
    );
    let check = |token: String| {
        let jwks_url = app.url("/.well-known/jwks.json");
        let py = python.clone();
        let iss = app.base.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(py)
                    .arg(format!("{}/tests/jwt_check.py", env!("CARGO_MANIFEST_DIR")))
                    .args([jwks_url, token, iss, "platform".to_string()])
                    .output()
                    .expect("python runs")
            })
            .await
            .unwrap()
        }
    };
    let (_, me) = session(app, &c).await;
    let t1 = me["token"].as_str().unwrap().to_string();
    let out = check(t1.clone()).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let claims: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(claims["sub"], json!(bg.user_id));
    assert_eq!(claims["acct"], json!(app.account_id));
    assert_eq!(claims["amr"], json!(["pwd", "otp"]));
    assert_eq!(claims["aud"], json!("platform"));
    assert!(claims["privs"].as_array().unwrap().len() >= 50);
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 300);
    // Rotate: the old token still verifies, the new one uses the new key.
    let sealer = idbridge::secrets::Sealer::new(app.settings.sealing_key()).unwrap();
    let kid = idbridge::store::signing_keys::rotate(&app.db, &sealer)
        .await
        .unwrap();
    // Private keys are sealed at rest.
    use sea_orm::EntityTrait;
    for k in idbridge::store::entities::signing_key::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
    {
        assert!(
            k.private_der.starts_with("v1:"),
            "sealed: {}",
            k.private_der
        );
    }
    let out = check(t1.clone()).await;
    assert!(
        out.status.success(),
        "old token after rotation: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, me) = session(app, &c).await;
    let t2 = me["token"].as_str().unwrap().to_string();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t2.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], json!(kid));
    assert_eq!(header["alg"], json!("EdDSA"));
    assert!(check(t2).await.status.success());
    // A tampered token fails the independent check.
    let mut parts: Vec<String> = t1.split('.').map(String::from).collect();
    parts[1] = b64(br#"{"sub":"someone-else"}"#);
    assert!(!check(parts.join(".")).await.status.success());
}

/// An identity provider under the test's control.
pub(crate) struct MockIdp {
    pub(crate) base: String,
    pub(crate) next_token: Arc<Mutex<String>>,
    key2_active: Arc<Mutex<bool>>,
}

fn jwk(kid: &str, modulus_hex: &str) -> Value {
    let n = hex::decode(modulus_hex.trim()).unwrap();
    json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(&n), "e": "AQAB"})
}

pub(crate) async fn mock_idp() -> MockIdp {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let next_token = Arc::new(Mutex::new(String::new()));
    let key2_active = Arc::new(Mutex::new(false));
    let (b, t, k2) = (base.clone(), next_token.clone(), key2_active.clone());
    let server = HttpServer::new(move || {
        let (b, t, k2) = (b.clone(), t.clone(), k2.clone());
        let b2 = b.clone();
        App::new()
            .route(
                "/.well-known/openid-configuration",
                web::get().to(move || {
                    let b = b2.clone();
                    async move {
                        HttpResponse::Ok().json(json!({
                            "issuer": b, "authorization_endpoint": format!("{b}/authorize"), "token_endpoint": format!("{b}/token"),
                            "jwks_uri": format!("{b}/jwks"), "response_types_supported": ["code"], "subject_types_supported": ["public"],
                            "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"]
                        }))
                    }
                }),
            )
            .route(
                "/jwks",
                web::get().to(move || {
                    let k2 = *k2.lock().unwrap();
                    async move {
                        let mut keys = vec![jwk("key1", &fixture("idp_key1.modulus.hex"))];
                        if k2 {
                            keys.push(jwk("key2", &fixture("idp_key2.modulus.hex")));
                        }
                        HttpResponse::Ok().json(json!({"keys": keys}))
                    }
                }),
            )
            .route(
                "/token",
                web::post().to(move || {
                    let tok = t.lock().unwrap().clone();
                    async move { HttpResponse::Ok().json(json!({"access_token": "at", "token_type": "Bearer", "expires_in": 60, "id_token": tok})) }
                }),
            )
    })
    .listen(listener)
    .unwrap()
    .workers(1)
    .run();
    tokio::spawn(server);
    MockIdp {
        base,
        next_token,
        key2_active,
    }
}

pub(crate) fn sign(claims: &Value, key_file: &str, kid: &str) -> String {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(fixture(key_file).as_bytes()).unwrap();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some(kid.into());
    jsonwebtoken::encode(&h, claims, &key).unwrap()
}

fn hs256_with_public_key(claims: &Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(fixture("idp_key1.pub.pem").as_bytes());
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    h.kid = Some("key1".into());
    jsonwebtoken::encode(&h, claims, &key).unwrap()
}

fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    )
}

pub(crate) struct Flow {
    pub(crate) browser: reqwest::Client,
    state: String,
    pub(crate) nonce: String,
}

pub(crate) async fn start(app: &TestApp) -> Flow {
    let browser = browser();
    let r = browser
        .get(app.url(&format!("/sso/{}/login?return_to=/welcome", app.account_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let loc = url::Url::parse(r.headers().get("location").unwrap().to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<String, String> = loc.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["scope"].contains("openid") && q["scope"].contains("email"));
    assert_eq!(q["redirect_uri"], app.url("/sso/callback"));
    Flow {
        browser,
        state: q["state"].clone(),
        nonce: q["nonce"].clone(),
    }
}

pub(crate) async fn finish(app: &TestApp, f: &Flow, extra: &str) -> (u16, String) {
    let r = f
        .browser
        .get(app.url(&format!("/sso/callback?code=abc&state={}{extra}", f.state)))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    let loc = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default();
    (
        s,
        if s == 302 {
            loc
        } else {
            r.text().await.unwrap()
        },
    )
}

pub(crate) fn claims(idp: &MockIdp, email: &str, nonce: &str, groups: &[&str]) -> Value {
    json!({"iss": idp.base, "sub": format!("sub-{email}"), "aud": "idbridge-client", "email": email, "email_verified": true, "nonce": nonce,
           "iat": now(), "exp": now() + 300, "groups": groups})
}

pub(crate) async fn configure(app: &TestApp, idp: &MockIdp, role_source: &str) {
    let (s, b) = app
        .admin("PUT", "/api/v1/accounts/{acct}/sso", Some(json!({"issuer": idp.base, "client_id": "idbridge-client", "client_secret": "shh", "mode": "optional", "role_source": role_source})))
        .await;
    assert_eq!(s, 200, "{b}");
}

async fn oidc_callback_checks(app: &TestApp) {
    let idp = mock_idp().await;
    configure(app, &idp, "scim").await;
    app.scim(
        "POST",
        "/Users",
        Some(json!({"userName": "ok@acme.test", "roles": [{"value": "Standard User"}]})),
    )
    .await;
    let set = |t: String| *idp.next_token.lock().unwrap() = t;
    type Mutator = fn(&mut Value);
    let cases: Vec<(&str, Mutator)> = vec![
        ("wrong nonce", |c| c["nonce"] = json!("not-the-nonce")),
        ("wrong aud", |c| c["aud"] = json!("someone-else")),
        ("wrong iss", |c| c["iss"] = json!("https://evil.example")),
        ("expired", |c| {
            c["iat"] = json!(now() - 7200);
            c["exp"] = json!(now() - 3600);
        }),
    ];
    for (what, mutate) in cases {
        let f = start(app).await;
        let mut c = claims(&idp, "ok@acme.test", &f.nonce, &[]);
        mutate(&mut c);
        set(sign(&c, "idp_key1.pem", "key1"));
        let (s, body) = finish(app, &f, "").await;
        assert_eq!(s, 403, "{what}: {body}");
        assert_eq!(
            session(app, &f.browser).await.0,
            401,
            "{what} started no session"
        );
    }
    // Unsigned, unknown key, HS256 keyed with the public key.
    let f = start(app).await;
    set(unsigned(&claims(&idp, "ok@acme.test", &f.nonce, &[])));
    assert_eq!(finish(app, &f, "").await.0, 403, "alg none");
    let f = start(app).await;
    set(sign(
        &claims(&idp, "ok@acme.test", &f.nonce, &[]),
        "idp_key2.pem",
        "key2",
    ));
    assert_eq!(finish(app, &f, "").await.0, 403, "unknown key");
    let f = start(app).await;
    set(hs256_with_public_key(&claims(
        &idp,
        "ok@acme.test",
        &f.nonce,
        &[],
    )));
    assert_eq!(
        finish(app, &f, "").await.0,
        403,
        "HS256 with the public key as secret"
    );
    // RFC 9207 iss parameter: tolerated when right, refused when wrong.
    let f = start(app).await;
    set(sign(
        &claims(&idp, "ok@acme.test", &f.nonce, &[]),
        "idp_key1.pem",
        "key1",
    ));
    assert_eq!(
        finish(app, &f, "&iss=https%3A%2F%2Fevil.example").await.0,
        400
    );
    // Wrong state, state from another browser, then a good sign-in and its replay.
    let f = start(app).await;
    set(sign(
        &claims(&idp, "ok@acme.test", &f.nonce, &[]),
        "idp_key1.pem",
        "key1",
    ));
    let forged = Flow {
        browser: f.browser.clone(),
        state: "forged".into(),
        nonce: f.nonce.clone(),
    };
    assert_eq!(finish(app, &forged, "").await.0, 400);
    let stranger = Flow {
        browser: browser(),
        state: f.state.clone(),
        nonce: f.nonce.clone(),
    };
    assert_eq!(
        finish(app, &stranger, "").await.0,
        400,
        "state bound to the browser"
    );
    let f = start(app).await;
    set(sign(
        &claims(&idp, "ok@acme.test", &f.nonce, &[]),
        "idp_key1.pem",
        "key1",
    ));
    let (s, loc) = finish(
        app,
        &f,
        &format!("&iss={}", idp.base.replace(':', "%3A").replace('/', "%2F")),
    )
    .await;
    assert_eq!((s, loc.as_str()), (302, "/welcome"));
    let (s, me) = session(app, &f.browser).await;
    assert_eq!(
        (s, me["amr"].clone(), me["roles"].clone()),
        (200, json!(["sso"]), json!(["Standard User"]))
    );
    assert_eq!(finish(app, &f, "").await.0, 400, "a state is good once");
    // Key rotation at the IdP: a token under a new key triggers one re-discovery.
    *idp.key2_active.lock().unwrap() = true;
    let f = start(app).await;
    set(sign(
        &claims(&idp, "ok@acme.test", &f.nonce, &[]),
        "idp_key2.pem",
        "key2",
    ));
    assert_eq!(
        finish(app, &f, "").await.0,
        302,
        "new IdP key accepted after refresh"
    );
    // return_to must stay on this site.
    let r = browser()
        .get(app.url(&format!(
            "/sso/{}/login?return_to=https://evil.example",
            app.account_id
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let events = app.audit().await;
    let denied_token = events
        .iter()
        .filter(|e| e["action"] == "sso.denied_token")
        .count();
    assert!(denied_token >= 8, "{denied_token} token refusals audited");
    assert!(
        events.iter().any(|e| e["action"] == "sso.denied_state"),
        "a foreign browser's state is audited on the account"
    );
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let anonymous = idbridge::store::entities::audit_event::Entity::find()
        .filter(idbridge::store::entities::audit_event::Column::Action.eq("sso.denied_state"))
        .filter(idbridge::store::entities::audit_event::Column::AccountId.is_null())
        .count(&app.db)
        .await
        .unwrap();
    assert!(anonymous >= 2, "forged and replayed states are audited too");
}

async fn oidc_sign_in_rules(app: &TestApp) {
    let idp = mock_idp().await;
    configure(app, &idp, "both").await;
    app.enable_aus().await;
    let (s, _) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/roles",
            Some(json!({"name": "SSO_Admin", "inherits": "Administrator", "privileges": []})),
        )
        .await;
    assert_eq!(s, 201);
    let (_, u, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"userName": "lead@acme.test", "roles": [{"value": "SSO_Admin"}]})),
        )
        .await;
    let (_, gone, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"userName": "gone@acme.test", "active": false})),
        )
        .await;
    let _ = gone;
    let (_, dev, _) = app
        .scim("POST", "/Users", Some(json!({"userName": "dev@acme.test"})))
        .await;
    let dev_id = dev["id"].as_str().unwrap().to_string();
    let (_, g, _) = app.scim("POST", "/Groups", Some(json!({"displayName": "Developers", "externalId": "grp-guid-1", "members": [{"value": dev_id}]}))).await;
    let _ = g;
    app.admin(
        "POST",
        "/api/v1/accounts/{acct}/group-mappings",
        Some(json!({"group": {"displayName": "Developers"}, "roles": ["Standard User"]})),
    )
    .await;
    app.admin(
        "POST",
        "/api/v1/accounts/{acct}/group-mappings",
        Some(json!({"group": {"externalId": "claims-only-guid"}, "roles": ["API Manager"]})),
    )
    .await;
    let login = |email: &'static str, groups: Vec<&'static str>| {
        let idp = &idp;
        async move {
            let f = start(app).await;
            *idp.next_token.lock().unwrap() = sign(
                &claims(idp, email, &f.nonce, &groups),
                "idp_key1.pem",
                "key1",
            );
            let (s, body) = finish(app, &f, "").await;
            (s, body, f)
        }
    };
    // Built-in Administrator: refused, pointed to local sign-in.
    let (s, body, f) = login("BreakGlass@acme.test", vec![]).await;
    assert_eq!(s, 403);
    assert!(body.contains("/auth/local"), "{body}");
    assert_eq!(session(app, &f.browser).await.0, 401);
    // A custom role inheriting Administrator signs in.
    let (s, _, f) = login("lead@acme.test", vec![]).await;
    assert_eq!(s, 302);
    let (_, me) = session(app, &f.browser).await;
    assert_eq!(me["roles"], json!(["SSO_Admin"]));
    assert!(me["privileges"]
        .as_array()
        .unwrap()
        .contains(&json!("USER_MANAGEMENT")));
    let _ = u;
    // Unprovisioned and deactivated users are refused.
    assert_eq!(login("stranger@acme.test", vec![]).await.0, 403);
    assert_eq!(login("gone@acme.test", vec![]).await.0, 403);
    // Roles from SCIM groups and from the groups claim (role_source both).
    let (s, _, f) = login("dev@acme.test", vec!["claims-only-guid"]).await;
    assert_eq!(s, 302);
    let (_, me) = session(app, &f.browser).await;
    let mut roles: Vec<String> = me["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    roles.sort();
    assert_eq!(roles, vec!["API Manager", "Standard User"]);
    // Deactivation through SCIM ends the session at once.
    app.scim(
        "PATCH",
        &format!("/Users/{dev_id}"),
        Some(json!({"Operations": [{"op": "replace", "path": "active", "value": false}]})),
    )
    .await;
    assert_eq!(session(app, &f.browser).await.0, 401);
    let events = app.audit().await;
    for a in [
        "sso.denied_admin",
        "sso.denied_unknown",
        "sso.denied_inactive",
        "sso.login",
    ] {
        assert!(events.iter().any(|e| e["action"] == a), "{a} audited");
    }
}
