//! Regression tests for the adversarial review (issue 7): each reproduces an
//! attack through HTTP and checks it now fails.

use crate::helpers::TestApp;
use crate::sso::{browser, claims, configure, finish, local, mock_idp, session, sign, start, totp};
use serde_json::{json, Value};

both_backends!(
    lookup_keys_never_poison_the_cache,
    deactivation_always_succeeds,
    sign_in_floods_are_bounded,
    sso_sessions_never_carry_administrator,
    sso_matches_verified_email_only,
    unauthenticated_input_is_bounded,
    api_keys_list_revoke_expire,
    multi_valued_attributes_are_capped,
    claims_role_source_everywhere,
    refused_writes_are_audited,
    filters_are_bounded_and_honour_urns,
    reading_roles_is_self_or_user_management,
    break_glass_is_never_a_group_member,
    sign_in_posts_are_same_site,
    odd_scim_input_and_pending_sign_ins
);

async fn scim_user(app: &TestApp, body: Value) -> String {
    let (s, u, _) = app.scim("POST", "/Users", Some(body)).await;
    assert_eq!(s, 201, "{u}");
    u["id"].as_str().unwrap().to_string()
}

fn actions(events: &[Value], action: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect()
}

/// Item 1: an IdP sets an Administrator's email to another user's id; a
/// lookup by that id (in upper case) must not make the other user act as the
/// Administrator, and a key naming two users is refused.
async fn lookup_keys_never_poison_the_cache(app: &TestApp) {
    let (alice_id, alice_key) = app
        .user_with_roles("alice@acme.test", &["Standard User"])
        .await;
    let upper = alice_id.to_uppercase();
    // The IdP gives Dave (soon an Administrator) Alice's id as his email.
    let dave = scim_user(
        app,
        json!({"userName": "dave@acme.test", "emails": [{"value": upper, "primary": true}]}),
    )
    .await;
    let (s, b) = app
        .admin(
            "PUT",
            &format!("/api/v1/accounts/{{acct}}/users/{dave}/roles"),
            Some(json!({"roles": ["Administrator"]})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    // The lookup by the upper-case id finds Dave (by email)...
    let (s, b) = app
        .admin(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/users/{upper}/access"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["roles"][0]["role"], json!("Administrator"));
    // ...and Alice, right after, still acts as herself.
    for path in [
        "/api/v1/accounts/{acct}/audit",
        "/api/v1/accounts/{acct}/scim-tokens",
    ] {
        let (s, b) = app.json("GET", path, &alice_key, None).await;
        assert_eq!(s, 403, "{path}: {b}");
    }
    let (s, _) = app
        .json(
            "PATCH",
            "/api/v1/accounts/{acct}",
            &alice_key,
            Some(json!({"name": "Pwned"})),
        )
        .await;
    assert_eq!(s, 403);
    // Alice's exact id is both her id and Dave's email: ambiguous, refused.
    let (s, b) = app
        .admin(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/users/{alice_id}/access"),
            None,
        )
        .await;
    assert_eq!(s, 409, "{b}");
    let (s, b) = app
        .admin(
            "POST",
            "/api/v1/authorize",
            Some(json!({"account": app.account_id, "user": alice_id, "privilege": "ACCOUNT_ADMINISTRATION"})),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    // And Alice's own key still authenticates as Alice, with her own access.
    let (s, me) = app
        .json(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/users/{alice_id}/roles"),
            &alice_key,
            None,
        )
        .await;
    assert_eq!(s, 403, "ambiguous, and she may not read others: {me}");
    let (s, b) = app
        .json(
            "GET",
            "/api/v1/accounts/{acct}/users/alice@acme.test/roles",
            &alice_key,
            None,
        )
        .await;
    assert_eq!((s, b["roles"].clone()), (200, json!(["STANDARD_USER"])));
}

/// Item 2: deactivating a user who holds a role SCIM may not assign.
async fn deactivation_always_succeeds(app: &TestApp) {
    app.enable_aus().await;
    let id = scim_user(
        app,
        json!({"userName": "ops@acme.test", "emails": [{"value": "ops@acme.test"}]}),
    )
    .await;
    let (s, _) = app
        .admin(
            "PUT",
            &format!("/api/v1/accounts/{{acct}}/users/{id}/roles"),
            Some(json!({"roles": ["Administrator", "Production Support"]})),
        )
        .await;
    assert_eq!(s, 200);
    // Production Support is no longer assignable once AUS is off.
    let (s, _) = app
        .admin(
            "PATCH",
            "/api/v1/accounts/{acct}",
            Some(json!({"advanced_user_security": false})),
        )
        .await;
    assert_eq!(s, 200);
    let key = idbridge::store::credentials::create_api_key(&app.db, &app.account_id, &id)
        .await
        .unwrap()
        .key
        .unwrap();
    assert_eq!(
        app.json("GET", "/api/v1/accounts/{acct}/roles", &key, None)
            .await
            .0,
        200
    );
    // Entra's deactivation: capitalised op, string boolean.
    let (s, b, _) = app
        .scim(
            "PATCH",
            &format!("/Users/{id}"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["active"], json!(false));
    assert_eq!(
        app.json("GET", "/api/v1/accounts/{acct}/roles", &key, None)
            .await
            .0,
        401
    );
    let (s, d) = app
        .admin(
            "POST",
            "/api/v1/authorize",
            Some(json!({"account": app.account_id, "user": id, "privilege": "ACCOUNT_ADMINISTRATION"})),
        )
        .await;
    assert_eq!((s, d["allowed"].clone()), (200, json!(false)));
    // Adding a role SCIM may not assign is still refused, and audited.
    let (s, b, _) = app
        .scim(
            "PATCH",
            &format!("/Users/{id}"),
            Some(json!({"Operations": [{"op": "add", "path": "roles", "value": [{"value": "Support"}]}]})),
        )
        .await;
    assert_eq!((s, b["scimType"].clone()), (400, json!("invalidValue")));
    let rejected = actions(&app.audit().await, "scim.rejected");
    assert!(
        rejected
            .iter()
            .any(|e| e["details"]["status"] == 400 && e["target"] == format!("/scim/v2/Users/{id}")),
        "{rejected:?}"
    );
}

/// Item 3 and 13: concurrent wrong passwords cannot exceed the window; one
/// user is one bucket whatever name they are addressed by; ids do not sign in.
async fn sign_in_floods_are_bounded(app: &TestApp) {
    let bg = &app.break_glass;
    let c = browser();
    let attempts = (0..25).map(|i| {
        let c = c.clone();
        let email = if i % 2 == 0 {
            bg.email.clone()
        } else {
            format!("  {}  ", bg.email.to_uppercase())
        };
        async move { local(app, &c, &email, "wrong-password", "000000").await.0 }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let evaluated = statuses.iter().filter(|s| **s == 401).count();
    assert!(evaluated <= 5, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [401, 429, 503].contains(s)),
        "{statuses:?}"
    );
    // Throttled: even the right credential waits.
    let (s, _) = local(app, &c, &bg.email, &bg.password, &totp(&bg.totp_secret, 0)).await;
    assert_eq!(s, 429);
    // Only the first refusal of the window is audited, not the flood.
    let throttled: Vec<Value> = actions(&app.audit().await, "local.denied")
        .into_iter()
        .filter(|e| e["details"]["reason"] == "throttled")
        .collect();
    assert_eq!(throttled.len(), 1, "{throttled:?}");
    // A user id is not a login name, even with the right credential.
    let (other, obg) = idbridge::store::accounts::create(&app.db, "Other", "root@other.test")
        .await
        .unwrap();
    let r = c
        .post(app.url("/auth/local"))
        .json(&json!({"account": other.id, "email": obg.user_id, "password": obg.password, "totp": totp(&obg.totp_secret, 0)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

/// Item 4: granting Administrator ends SSO sessions; an SSO session never
/// acts with Administrator whoever grants it.
async fn sso_sessions_never_carry_administrator(app: &TestApp) {
    let idp = mock_idp().await;
    configure(app, &idp, "scim").await;
    let lead = scim_user(app, json!({"userName": "lead@acme.test"})).await;
    let (s, _) = app
        .admin(
            "PUT",
            &format!("/api/v1/accounts/{{acct}}/users/{lead}/roles"),
            Some(json!({"roles": ["Standard User"]})),
        )
        .await;
    assert_eq!(s, 200);
    let sign_in = |email: &'static str| {
        let idp = &idp;
        async move {
            let f = start(app).await;
            *idp.next_token.lock().unwrap() =
                sign(&claims(idp, email, &f.nonce, &[]), "idp_key1.pem", "key1");
            let (s, _) = finish(app, &f, "").await;
            assert_eq!(s, 302, "{email} signs in");
            f.browser
        }
    };
    // Granted through the API: the session ends with the grant.
    let b = sign_in("lead@acme.test").await;
    assert_eq!(session(app, &b).await.0, 200);
    let (s, _) = app
        .admin(
            "PUT",
            &format!("/api/v1/accounts/{{acct}}/users/{lead}/roles"),
            Some(json!({"roles": ["Standard User", "Administrator"]})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(session(app, &b).await.0, 401);
    let r = b
        .patch(app.url("/api/v1/accounts/{acct}"))
        .json(&json!({"name": "Pwned"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Granted behind the API's back (a direct row, as another tool might):
    // the session is refused and ended on its next use, and that is audited.
    let pat = scim_user(app, json!({"userName": "pat@acme.test"})).await;
    let b = sign_in("pat@acme.test").await;
    assert_eq!(session(app, &b).await.0, 200);
    use sea_orm::{ActiveModelTrait, Set};
    idbridge::store::entities::user_role::ActiveModel {
        user_id: Set(pat.clone()),
        role_ref: Set("ADMINISTRATOR".into()),
    }
    .insert(&app.db)
    .await
    .unwrap();
    app.admin("PATCH", "/api/v1/accounts/{acct}", Some(json!({})))
        .await; // any write drops the cached model
    let r = b
        .get(app.url("/api/v1/accounts/{acct}/roles"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(session(app, &b).await.0, 401);
    let ended = actions(&app.audit().await, "session.ended_admin");
    assert!(
        ended.iter().any(|e| e["details"]["user"] == json!(pat)),
        "{ended:?}"
    );
}

/// Item 5: only a verified email identifies a person, never an id or a username.
async fn sso_matches_verified_email_only(app: &TestApp) {
    let idp = mock_idp().await;
    let (s, b) = app
        .admin("PUT", "/api/v1/accounts/{acct}/sso", Some(json!({"issuer": idp.base, "client_id": "idbridge-client", "client_secret": "shh", "mode": "optional", "jit": true})))
        .await;
    assert_eq!(s, 200, "{b}");
    let (victim, _) = app
        .user_with_roles("victim@acme.test", &["Standard User"])
        .await;
    let attempt = |claims: Value| {
        let idp = &idp;
        async move {
            let f = start(app).await;
            let mut c = claims;
            c["nonce"] = json!(f.nonce);
            *idp.next_token.lock().unwrap() = sign(&c, "idp_key1.pem", "key1");
            let (s, _) = finish(app, &f, "").await;
            (s, session(app, &f.browser).await.0)
        }
    };
    let base = |email: Option<&str>| {
        let mut c = claims(&idp, email.unwrap_or("x"), "", &[]);
        match email {
            Some(_) => {}
            None => {
                c.as_object_mut().unwrap().remove("email");
            }
        }
        c
    };
    // email_verified false: refused even though the user exists.
    let mut c = base(Some("victim@acme.test"));
    c["email_verified"] = json!(false);
    assert_eq!(attempt(c).await, (403, 401));
    // The email claim is another user's id: no match (and no JIT user either).
    let mut c = base(Some(&victim));
    c["email_verified"] = json!(false);
    assert_eq!(attempt(c).await, (403, 401));
    assert_eq!(
        attempt(base(Some(&victim))).await,
        (403, 401),
        "not an email address"
    );
    // No email, only preferred_username: refused.
    let mut c = base(None);
    c["preferred_username"] = json!("victim@acme.test");
    assert_eq!(attempt(c).await, (403, 401));
    // JIT creates users only for verified emails.
    let mut c = base(Some("new@acme.test"));
    c.as_object_mut().unwrap().remove("email_verified");
    assert_eq!(attempt(c).await, (403, 401));
    assert_eq!(attempt(base(Some("new@acme.test"))).await, (302, 200));
    // The real victim, verified, still signs in.
    assert_eq!(attempt(base(Some("victim@acme.test"))).await, (302, 200));
    let events = app.audit().await;
    assert!(!actions(&events, "sso.denied_unverified").is_empty());
}

/// Item 6: oversized and unknown-account sign-ins store nothing unbounded.
async fn unauthenticated_input_is_bounded(app: &TestApp) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let rows = || async {
        idbridge::store::entities::audit_event::Entity::find()
            .count(&app.db)
            .await
            .unwrap()
    };
    let before = rows().await;
    let c = browser();
    let huge = "a".repeat(400 * 1024);
    let r = c
        .post(app.url("/auth/local"))
        .json(&json!({"account": app.account_id, "email": huge, "password": "x", "totp": "1"}))
        .send()
        .await
        .unwrap();
    assert!([400, 413].contains(&r.status().as_u16()), "{}", r.status());
    for i in 0..5 {
        let (s, _) = {
            let r = c
                .post(app.url("/auth/local"))
                .json(&json!({"account": format!("no-such-account-{i}"), "email": "x@y.test", "password": "x", "totp": "1"}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), ())
        };
        assert_eq!(s, 401);
    }
    assert_eq!(rows().await, before, "nothing stored for either");
    // Over-long fields are refused before anything is looked up or stored.
    let long = format!("{}@acme.test", "z".repeat(400));
    assert_eq!(local(app, &c, &long, "x", "000000").await.0, 400);
    assert_eq!(rows().await, before);
    // A newline in the email is kept as data in the audit log.
    let forged = "x@y.test\nbreak_glass.login outcome=success";
    let (s, _) = local(app, &c, forged, "x", "000000").await;
    assert_eq!(s, 401);
    let events = actions(&app.audit().await, "local.denied");
    assert!(
        events.iter().any(|e| e["actor"] == json!(forged)),
        "{events:?}"
    );
}

/// Item 7: keys are listed, revoked, expire, and die with reset or deactivation.
async fn api_keys_list_revoke_expire(app: &TestApp) {
    let (uid, ukey) = app
        .user_with_roles("svc@acme.test", &["Standard User"])
        .await;
    // A user sees only their own keys and can issue one for themselves.
    let (s, mine) = app
        .json("GET", "/api/v1/accounts/{acct}/api-keys", &ukey, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["user_id"], json!(uid));
    let (s, issued) = app
        .json(
            "POST",
            "/api/v1/accounts/{acct}/api-keys",
            &ukey,
            Some(json!({"expires_in_days": 7})),
        )
        .await;
    assert_eq!(s, 201, "{issued}");
    let second = issued["key"].as_str().unwrap().to_string();
    let (s, b) = app
        .json(
            "POST",
            "/api/v1/accounts/{acct}/api-keys",
            &ukey,
            Some(json!({"expires_in_days": 9999})),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    // The administrator sees every key; the user cannot revoke the admin's.
    let (_, all) = app
        .admin("GET", "/api/v1/accounts/{acct}/api-keys", None)
        .await;
    assert!(all.as_array().unwrap().len() >= 3);
    let admin_key_id = all
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["user_id"] == json!(app.admin_user_id))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _) = app
        .json(
            "DELETE",
            &format!("/api/v1/accounts/{{acct}}/api-keys/{admin_key_id}"),
            &ukey,
            None,
        )
        .await;
    assert_eq!(s, 404);
    // Revoked: stops at once.
    let second_id = issued["id"].as_str().unwrap();
    assert_eq!(
        app.json("GET", "/api/v1/accounts/{acct}/roles", &second, None)
            .await
            .0,
        200
    );
    let (s, _) = app
        .json(
            "DELETE",
            &format!("/api/v1/accounts/{{acct}}/api-keys/{second_id}"),
            &ukey,
            None,
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        app.json("GET", "/api/v1/accounts/{acct}/roles", &second, None)
            .await
            .0,
        401
    );
    // Expired: stops.
    use idbridge::store::entities::api_key;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let k = idbridge::store::credentials::create_api_key_expiring(
        &app.db,
        &app.account_id,
        &uid,
        Some(1),
    )
    .await
    .unwrap();
    api_key::Entity::update_many()
        .col_expr(
            api_key::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(1_i64),
        )
        .filter(api_key::Column::Id.eq(k.id.clone()))
        .exec(&app.db)
        .await
        .unwrap();
    assert_eq!(
        app.json(
            "GET",
            "/api/v1/accounts/{acct}/roles",
            k.key.as_deref().unwrap(),
            None
        )
        .await
        .0,
        401
    );
    // Deactivation through SCIM revokes the user's keys.
    let sid = scim_user(app, json!({"userName": "gone@acme.test"})).await;
    let sk = idbridge::store::credentials::create_api_key(&app.db, &app.account_id, &sid)
        .await
        .unwrap();
    app.scim(
        "PATCH",
        &format!("/Users/{sid}"),
        Some(json!({"Operations": [{"op": "replace", "path": "active", "value": false}]})),
    )
    .await;
    let row = api_key::Entity::find_by_id(sk.id.clone())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.revoked_at.is_some());
    let events = actions(&app.audit().await, "api_key.revoke");
    assert!(
        events.iter().any(|e| e["target"] == json!(second_id)),
        "{events:?}"
    );
    // Break-glass reset revokes the break-glass user's keys.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idbridge"))
        .args([
            "break-glass",
            "reset",
            "--account",
            &app.account_id,
            "--email",
            &app.break_glass.email,
            "--json",
        ])
        .env("IDBRIDGE_DATABASE_URL", &app.settings.database_url)
        .env("IDBRIDGE_LOG_LEVEL", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = api_key::Entity::find_by_id(admin_key_id.clone())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        row.revoked_at.is_some(),
        "the leaked key dies with the reset"
    );
}

/// Item 8: a PATCH with thousands of emails is refused, quickly and cleanly.
async fn multi_valued_attributes_are_capped(app: &TestApp) {
    let id = scim_user(
        app,
        json!({"userName": "many@acme.test", "emails": [{"value": "many@acme.test"}]}),
    )
    .await;
    let emails: Vec<Value> = (0..5_000)
        .map(|i| json!({"value": format!("e{i}@acme.test"), "type": "work"}))
        .collect();
    let (s, b, _) = app
        .scim(
            "PATCH",
            &format!("/Users/{id}"),
            Some(json!({"Operations": [{"op": "add", "path": "emails", "value": emails}]})),
        )
        .await;
    assert_eq!(
        (s, b["scimType"].clone()),
        (400, json!("invalidValue")),
        "{b}"
    );
    let (_, u, _) = app.scim("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(u["emails"].as_array().unwrap().len(), 1);
    // Within the cap, adds merge by value and type.
    let some: Vec<Value> = (0..50)
        .map(|i| json!({"value": format!("e{i}@acme.test"), "type": "work"}))
        .collect();
    for _ in 0..2 {
        let (s, b, _) = app
            .scim(
                "PATCH",
                &format!("/Users/{id}"),
                Some(json!({"Operations": [{"op": "add", "path": "emails", "value": some}]})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["emails"].as_array().unwrap().len(), 51);
    }
    let (_, schema, _) = app
        .scim(
            "GET",
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            None,
        )
        .await;
    let emails_attr = schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "emails")
        .unwrap()
        .clone();
    assert!(emails_attr["description"]
        .as_str()
        .unwrap()
        .contains("At most 100 values"));
}

/// Item 9: with role_source claims, SCIM group roles do not count for anyone.
async fn claims_role_source_everywhere(app: &TestApp) {
    let idp = mock_idp().await;
    configure(app, &idp, "claims").await;
    app.enable_aus().await;
    let (s, b) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/roles",
            Some(json!({"name": "Helpdesk", "privileges": ["USER_MANAGEMENT_LIMITED", "VIEW_AUDIT_LOGS"]})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let uid = scim_user(app, json!({"userName": "lim@acme.test"})).await;
    app.scim(
        "POST",
        "/Groups",
        Some(json!({"displayName": "Helpdesk", "members": [{"value": uid}]})),
    )
    .await;
    let (s, b) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/group-mappings",
            Some(json!({"group": {"displayName": "Helpdesk"}, "roles": ["Helpdesk"]})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let f = start(app).await;
    *idp.next_token.lock().unwrap() = sign(
        &claims(&idp, "lim@acme.test", &f.nonce, &[]),
        "idp_key1.pem",
        "key1",
    );
    assert_eq!(finish(app, &f, "").await.0, 302);
    let (_, me) = session(app, &f.browser).await;
    assert_eq!(me["roles"], json!([]), "the token shows no roles");
    // The management API agrees: no privilege from the SCIM group.
    let r = f
        .browser
        .post(app.url("/api/v1/accounts/{acct}/group-mappings"))
        .json(&json!({"group": {"displayName": "Anything"}, "roles": ["Helpdesk"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let (_, d) = app
        .admin(
            "POST",
            "/api/v1/authorize",
            Some(json!({"account": app.account_id, "user": uid, "privilege": "VIEW_AUDIT_LOGS"})),
        )
        .await;
    assert_eq!(d["allowed"], json!(false), "{d}");
}

/// Item 10: refusals before or inside handlers leave an audit trace.
async fn refused_writes_are_audited(app: &TestApp) {
    let bg = &app.break_glass;
    let (s, _, _) = app
        .scim(
            "PATCH",
            &format!("/Users/{}", bg.user_id),
            Some(json!({"Operations": [{"op": "replace", "path": "active", "value": false}]})),
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = app
        .admin(
            "PUT",
            "/api/v1/accounts/{acct}/users/nobody@acme.test/roles",
            Some(json!({"roles": []})),
        )
        .await;
    assert_eq!(s, 404);
    let r = app
        .client
        .post(app.url("/api/v1/accounts/{acct}/roles"))
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let (s, _) = app
        .admin("GET", "/api/v1/accounts/someone-elses/roles", None)
        .await;
    assert_eq!(s, 404);
    let events = app.audit().await;
    let scim = actions(&events, "scim.rejected");
    assert!(
        scim.iter()
            .any(|e| e["details"]["status"] == 403 && e["outcome"] == "denied"),
        "{scim:?}"
    );
    let api = actions(&events, "api.rejected");
    for (method, path, status) in [
        (
            "PUT",
            "/api/v1/accounts/{acct}/users/nobody@acme.test/roles"
                .replace("{acct}", &app.account_id),
            404,
        ),
        (
            "POST",
            format!("/api/v1/accounts/{}/roles", app.account_id),
            400,
        ),
        (
            "GET",
            "/api/v1/accounts/someone-elses/roles".to_string(),
            404,
        ),
    ] {
        assert!(
            api.iter().any(|e| e["details"]["method"] == method
                && e["details"]["path"] == path
                && e["details"]["status"] == status),
            "{method} {path}: {api:?}"
        );
    }
}

/// Items 11 and 12.
async fn filters_are_bounded_and_honour_urns(app: &TestApp) {
    scim_user(app, json!({"userName": "x@acme.test"})).await;
    let huge = vec!["id pr"; 1000].join(" or ");
    let (s, b, _) = app
        .scim("GET", &format!("/Users?filter={}", urlencode(&huge)), None)
        .await;
    assert_eq!(
        (s, b["scimType"].clone()),
        (400, json!("invalidFilter")),
        "{b}"
    );
    let (s, b, _) = app
        .scim(
            "GET",
            &format!(
                "/Users?filter={}",
                urlencode("urn:foo:bar:userName eq \"x@acme.test\"")
            ),
            None,
        )
        .await;
    assert_eq!((s, b["totalResults"].clone()), (200, json!(0)), "{b}");
    let (s, b, _) = app
        .scim(
            "GET",
            &format!(
                "/Users?filter={}",
                urlencode("urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"x@acme.test\"")
            ),
            None,
        )
        .await;
    assert_eq!((s, b["totalResults"].clone()), (200, json!(1)), "{b}");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Item 14: no one reads another user's roles without User Management, and
/// unknown users look the same as known ones.
async fn reading_roles_is_self_or_user_management(app: &TestApp) {
    let (me, key) = app
        .user_with_roles("plain@acme.test", &["Standard User"])
        .await;
    for path in ["roles", "access"] {
        let (s, _) = app
            .json(
                "GET",
                &format!(
                    "/api/v1/accounts/{{acct}}/users/{}/{path}",
                    app.break_glass.user_id
                ),
                &key,
                None,
            )
            .await;
        assert_eq!(s, 403, "{path} of the break-glass user");
        let (s, _) = app
            .json(
                "GET",
                &format!("/api/v1/accounts/{{acct}}/users/ghost@acme.test/{path}"),
                &key,
                None,
            )
            .await;
        assert_eq!(s, 403, "{path} of an unknown user");
        let (s, _) = app
            .json(
                "GET",
                &format!("/api/v1/accounts/{{acct}}/users/{me}/{path}"),
                &key,
                None,
            )
            .await;
        assert_eq!(s, 200, "own {path}");
        let (s, _) = app
            .admin(
                "GET",
                &format!("/api/v1/accounts/{{acct}}/users/ghost@acme.test/{path}"),
                None,
            )
            .await;
        assert_eq!(s, 404, "an administrator learns it is unknown");
    }
}

/// Item 16: the IdP cannot put the break-glass user in a group.
async fn break_glass_is_never_a_group_member(app: &TestApp) {
    let bg = app.break_glass.user_id.clone();
    let (s, g, _) = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Ops", "members": [{"value": bg}]})),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    assert!(g["members"].as_array().is_none_or(|m| m.is_empty()), "{g}");
    let gid = g["id"].as_str().unwrap();
    let (s, g, _) = app
        .scim(
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(
                json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": bg}]}]}),
            ),
        )
        .await;
    assert_eq!(s, 200);
    assert!(g["members"].as_array().is_none_or(|m| m.is_empty()), "{g}");
    app.admin(
        "POST",
        "/api/v1/accounts/{acct}/group-mappings",
        Some(json!({"group": {"displayName": "Ops"}, "roles": ["Support"]})),
    )
    .await;
    let (_, access) = app
        .admin(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/users/{bg}/access"),
            None,
        )
        .await;
    // Administrator (and the Agent Garden role it implies); nothing through the group.
    let roles: Vec<&str> = access["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["Administrator", "Agent Garden Administrator"],
        "{access}"
    );
}

/// Item 17: sign-in and sign-out cannot be driven from another site.
async fn sign_in_posts_are_same_site(app: &TestApp) {
    let bg = &app.break_glass;
    let c = browser();
    let body = json!({"account": app.account_id, "email": bg.email, "password": bg.password, "totp": totp(&bg.totp_secret, 0)}).to_string();
    let r = c
        .post(app.url("/auth/local"))
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    let r = c
        .post(app.url("/auth/local"))
        .header("content-type", "application/json")
        .header("origin", "https://evil.example")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = c
        .post(app.url("/auth/local"))
        .header("content-type", "application/json")
        .header("origin", &app.base)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = c
        .post(app.url("/auth/logout"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(session(app, &c).await.0, 200, "still signed in");
    let r = c
        .post(app.url("/auth/logout"))
        .header("origin", &app.base)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(session(app, &c).await.0, 401);
}

/// The review's "check if real" list: NUL bytes, the break-glass email taken
/// by a SCIM user, and unbounded pending sign-ins.
async fn odd_scim_input_and_pending_sign_ins(app: &TestApp) {
    let (s, b, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"userName": "nul\u{0}@acme.test"})),
        )
        .await;
    assert_eq!(
        (s, b["scimType"].clone()),
        (400, json!("invalidValue")),
        "{b}"
    );
    // A SCIM user claiming the break-glass email never shadows it.
    let (s, _, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"userName": app.break_glass.email.to_uppercase()})),
        )
        .await;
    assert_eq!(s, 409);
    scim_user(
        app,
        json!({"userName": "lookalike@acme.test", "emails": [{"value": app.break_glass.email}]}),
    )
    .await;
    let bg = &app.break_glass;
    let (s, b) = local(
        app,
        &browser(),
        &bg.email,
        &bg.password,
        &totp(&bg.totp_secret, 0),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // Pending sign-ins per account are bounded (the test server allows 20).
    let idp = mock_idp().await;
    configure(app, &idp, "scim").await;
    let mut codes = vec![];
    for _ in 0..23 {
        let r = browser()
            .get(app.url(&format!("/sso/{}/login", app.account_id)))
            .send()
            .await
            .unwrap();
        codes.push(r.status().as_u16());
    }
    let mut expected = vec![302; 20];
    expected.extend([429; 3]);
    assert_eq!(codes, expected);
}
