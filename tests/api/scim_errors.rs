//! Every SCIM error case: status, scimType, and stored data unchanged.

use crate::helpers::TestApp;
use serde_json::{json, Value};

both_backends!(
    error_bodies_and_unchanged_data,
    break_glass_is_untouchable,
    tokens_and_isolation,
    no_500_for_client_input,
    group_names_are_unique
);

/// Entra's validator: a second group with the same displayName (any case)
/// is 409 `uniqueness`, on create and on rename, and changes nothing.
async fn group_names_are_unique(app: &TestApp) {
    let (s, g, _) = app
        .scim("POST", "/Groups", Some(json!({"displayName": "Finance"})))
        .await;
    assert_eq!(s, 201);
    let (s, b, _) = app
        .scim("POST", "/Groups", Some(json!({"displayName": "FINANCE"})))
        .await;
    assert_eq!(
        (s, b["scimType"].clone()),
        (409, json!("uniqueness")),
        "{b}"
    );
    let (s, other, _) = app
        .scim("POST", "/Groups", Some(json!({"displayName": "Legal"})))
        .await;
    assert_eq!(s, 201);
    let oid = other["id"].as_str().unwrap();
    let (s, b, _) = app
        .scim(
            "PATCH",
            &format!("/Groups/{oid}"),
            Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "finance"}]})),
        )
        .await;
    assert_eq!(
        (s, b["scimType"].clone()),
        (409, json!("uniqueness")),
        "{b}"
    );
    // Renaming a group to its own name in another case is fine.
    let gid = g["id"].as_str().unwrap();
    let (s, _, _) = app
        .scim(
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "FINANCE"}]})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, found, _) = app
        .scim(
            "GET",
            "/Groups?filter=displayName%20eq%20%22finance%22",
            None,
        )
        .await;
    assert_eq!(found["totalResults"], json!(1));
}

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn esc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn assert_error(status: u16, body: &Value, want_status: u16, want_type: Option<&str>) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{body}"
    );
    assert_eq!(
        body["status"],
        json!(want_status.to_string()),
        "status is a string"
    );
    assert_eq!(body["scimType"].as_str(), want_type, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

async fn error_bodies_and_unchanged_data(app: &TestApp) {
    let (_, u, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"userName": "ada@acme.test", "active": true, "title": "Countess"})),
        )
        .await;
    let id = u["id"].as_str().unwrap().to_string();
    let (_, g, _) = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Analysts", "members": [{"value": id}]})),
        )
        .await;
    let gid = g["id"].as_str().unwrap().to_string();
    let snapshot = || async {
        let (_, u, _) = app.scim("GET", &format!("/Users/{id}"), None).await;
        let (_, g, _) = app.scim("GET", &format!("/Groups/{gid}"), None).await;
        let (_, all, _) = app.scim("GET", "/Users", None).await;
        (u, g, all["totalResults"].clone())
    };
    let before = snapshot().await;

    for f in [
        "userName eq",
        "userName xx \"a\"",
        "(userName eq \"a\"",
        "userName eq \"a\" junk",
        "emails[type eq \"w\"",
    ] {
        let (s, b, _) = app
            .scim("GET", &format!("/Users?filter={}", esc(f)), None)
            .await;
        assert_error(s, &b, 400, Some("invalidFilter"));
    }
    let r = app
        .client
        .post(format!("{}/scim/v2/Users", app.base))
        .bearer_auth(&app.scim_token)
        .header("content-type", "application/scim+json")
        .body("{\"userName\": ")
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    assert_error(s, &r.json().await.unwrap(), 400, Some("invalidSyntax"));
    let cases: Vec<(&str, String, Value, u16, Option<&str>)> = vec![
        (
            "POST",
            "/Users".into(),
            json!({"userName": "ADA@acme.test"}),
            409,
            Some("uniqueness"),
        ),
        (
            "POST",
            "/Users".into(),
            json!({"name": {"givenName": "x"}}),
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users".into(),
            json!({"userName": "r@acme.test", "roles": [{"value": "Wizard"}]}),
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users".into(),
            json!({"userName": "r@acme.test", "roles": [{"value": "Administrator"}]}),
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users".into(),
            json!({"userName": "r@acme.test", "roles": [{"value": "Support"}]}),
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users".into(),
            json!({"userName": "r@acme.test", "schemas": ["urn:nope"]}),
            400,
            Some("invalidValue"),
        ),
        (
            "PUT",
            format!("/Users/{id}"),
            json!({"userName": "ada@acme.test", "active": "perhaps"}),
            400,
            Some("invalidValue"),
        ),
        (
            "PATCH",
            format!("/Users/{id}"),
            json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "x"}, {"op": "replace", "path": "shoeSize", "value": 9}]}),
            400,
            Some("invalidPath"),
        ),
        (
            "PATCH",
            format!("/Users/{id}"),
            json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": "emails[type eq \"fax\"]"}]}),
            400,
            Some("noTarget"),
        ),
        (
            "PATCH",
            format!("/Users/{id}"),
            json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": "maybe"}]}),
            400,
            Some("invalidValue"),
        ),
        (
            "PATCH",
            format!("/Users/{id}"),
            json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "id", "value": "mine"}]}),
            400,
            Some("mutability"),
        ),
        (
            "PATCH",
            format!("/Users/{id}"),
            json!({"schemas": [PATCH], "Operations": [{"op": "frobnicate", "path": "title"}]}),
            400,
            Some("invalidSyntax"),
        ),
        (
            "PATCH",
            format!("/Users/{id}"),
            json!({"schemas": [PATCH]}),
            400,
            Some("invalidSyntax"),
        ),
        (
            "PATCH",
            format!("/Users/{id}"),
            json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "roles", "value": [{"value": "Administrator"}]}]}),
            400,
            Some("invalidValue"),
        ),
        (
            "PATCH",
            format!("/Groups/{gid}"),
            json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}, {"op": "add", "path": "members[value eq \"x\"].nope", "value": 1}]}),
            400,
            Some("invalidPath"),
        ),
        (
            "PUT",
            format!("/Groups/{gid}"),
            json!({"displayName": ""}),
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Groups".into(),
            json!({"displayName": "Nested", "members": [{"value": gid, "type": "Group"}]}),
            400,
            Some("invalidValue"),
        ),
        (
            "GET",
            "/Users/does-not-exist".into(),
            Value::Null,
            404,
            None,
        ),
        (
            "PATCH",
            "/Groups/does-not-exist".into(),
            json!({"Operations": [{"op": "add", "path": "members", "value": []}]}),
            404,
            None,
        ),
        (
            "GET",
            "/Users?count=many".into(),
            Value::Null,
            400,
            Some("invalidValue"),
        ),
        ("GET", "/Nowhere".into(), Value::Null, 404, None),
        ("DELETE", "/ResourceTypes".into(), Value::Null, 405, None),
        ("PUT", "/ServiceProviderConfig".into(), json!({}), 405, None),
    ];
    for (method, path, body, status, scim_type) in cases {
        let body = (!body.is_null()).then_some(body);
        let (s, b, _) = app.scim(method, &path, body.clone()).await;
        assert_eq!(s, status, "{method} {path} {body:?} -> {b}");
        assert_error(s, &b, status, scim_type);
    }
    // Versions: a stale If-Match is 412 and changes nothing.
    let stale = [("if-match", "W/\"999\"")];
    let (s, b, _) = app
        .scim_with(
            "PUT",
            &format!("/Users/{id}"),
            Some(json!({"userName": "changed@acme.test"})),
            &stale,
        )
        .await;
    assert_error(s, &b, 412, Some("invalidVers"));
    let (s, b, _) = app
        .scim_with("DELETE", &format!("/Groups/{gid}"), None, &stale)
        .await;
    assert_error(s, &b, 412, Some("invalidVers"));
    // Oversized bodies: 413 with a SCIM body.
    let big = "x".repeat(300 * 1024);
    let (s, b, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"userName": "big@acme.test", "title": big})),
        )
        .await;
    assert_error(s, &b, 413, None);

    assert_eq!(snapshot().await, before, "refused requests changed nothing");
    // And a matching If-Match works.
    let tag = before.0["meta"]["version"].as_str().unwrap().to_string();
    let (s, _, _) = app
        .scim_with(
            "PATCH",
            &format!("/Users/{id}"),
            Some(json!({"Operations": [{"op": "replace", "path": "title", "value": "Analyst"}]})),
            &[("if-match", &tag)],
        )
        .await;
    assert_eq!(s, 200);
}

async fn break_glass_is_untouchable(app: &TestApp) {
    let bg = &app.break_glass;
    let before = app
        .scim("GET", &format!("/Users/{}", bg.user_id), None)
        .await
        .1;
    assert_eq!(before["userName"], json!(bg.email));
    for (method, body) in [
        ("PUT", Some(json!({"userName": bg.email, "active": false}))),
        (
            "PATCH",
            Some(json!({"Operations": [{"op": "replace", "path": "active", "value": false}]})),
        ),
        ("DELETE", None),
    ] {
        let (s, b, _) = app
            .scim(method, &format!("/Users/{}", bg.user_id), body)
            .await;
        assert_error(s, &b, 403, Some("mutability"));
    }
    let (s, b, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"userName": bg.email.to_uppercase()})),
        )
        .await;
    assert_error(s, &b, 409, Some("uniqueness"));
    assert_eq!(
        app.scim("GET", &format!("/Users/{}", bg.user_id), None)
            .await
            .1,
        before
    );
    // Still an administrator.
    let (_, r) = app
        .admin(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/users/{}/roles", bg.user_id),
            None,
        )
        .await;
    assert_eq!(r["roles"], json!(["ADMINISTRATOR"]));
}

async fn tokens_and_isolation(app: &TestApp) {
    let (_, u, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"userName": "mine@acme.test"})),
        )
        .await;
    let id = u["id"].as_str().unwrap().to_string();
    // A second account with its own token sees none of the first one's resources.
    let (other, _) = idbridge::store::accounts::create(&app.db, "Other", "root@other.test")
        .await
        .unwrap();
    let (t, _) = idbridge::store::credentials::create_scim_token(&app.db, &other.id, Some(1))
        .await
        .unwrap();
    let token = t.token.unwrap();
    let call = |method: &str, path: String, token: String| {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let req = app
            .client
            .request(m, format!("{}/scim/v2{path}", app.base))
            .bearer_auth(token);
        async move {
            let r = req.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (s, b) = call("GET", format!("/Users/{id}"), token.clone()).await;
    assert_error(s, &b, 404, None);
    let (s, _) = call("DELETE", format!("/Users/{id}"), token.clone()).await;
    assert_eq!(s, 404);
    let (_, b) = call(
        "GET",
        "/Users?filter=userName%20eq%20%22mine@acme.test%22".into(),
        token.clone(),
    )
    .await;
    assert_eq!(b["totalResults"], json!(0));
    // Bad, tampered, revoked and expired tokens: 401.
    for bad in ["", "nope", &format!("{}x", app.scim_token)] {
        let (s, b) = call("GET", "/Users".into(), bad.to_string()).await;
        assert_error(s, &b, 401, None);
    }
    // Revoked behind the server's back (straight in the database): the
    // change log tells the server within a second.
    idbridge::store::credentials::revoke_scim_token(&app.db, &other.id, &t.id)
        .await
        .unwrap();
    let mut s = 0;
    for _ in 0..20 {
        s = call("GET", "/Users".into(), token.clone()).await.0;
        if s == 401 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(s, 401);
    let (t2, _) = idbridge::store::credentials::create_scim_token(&app.db, &other.id, Some(0))
        .await
        .unwrap();
    let (s, _) = call("GET", "/Users".into(), t2.token.unwrap()).await;
    assert_eq!(
        s, 401,
        "a token expiring after zero days is already expired"
    );
    assert!(app.scim("GET", &format!("/Users/{id}"), None).await.0 == 200);
}

async fn no_500_for_client_input(app: &TestApp) {
    let (_, u, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"userName": "fuzz@acme.test"})),
        )
        .await;
    let id = u["id"].as_str().unwrap().to_string();
    let bodies = [
        json!([]),
        json!("string"),
        json!({"userName": {"nested": true}}),
        json!({"userName": "x", "emails": [1, 2]}),
        json!({"userName": "x", "emails": [{"value": 5}]}),
        json!({"userName": "x", "name": [1]}),
        json!({"userName": "x", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "dept"}),
        json!({"userName": "x", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": 5}}),
        json!({"Operations": "all"}),
        json!({"Operations": [1]}),
        json!({"Operations": [{"op": "add", "path": 7, "value": 1}]}),
        json!({"Operations": [{"op": "add", "path": "emails[value eq \"x\"]", "value": 1}]}),
        json!({"Operations": [{"op": "add", "path": "name.givenName.x", "value": 1}]}),
        json!({"Operations": [{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": 3}]}),
    ];
    for body in bodies {
        for (m, p) in [
            ("POST", "/Users".to_string()),
            ("PUT", format!("/Users/{id}")),
            ("PATCH", format!("/Users/{id}")),
            ("POST", "/Groups".to_string()),
            ("POST", "/Bulk".to_string()),
            ("POST", "/Users/.search".to_string()),
        ] {
            let (s, b, _) = app.scim(m, &p, Some(body.clone())).await;
            assert!(s < 500, "{m} {p} {body} -> {s} {b}");
        }
    }
    for f in ["a eq 1e999999", "meta.lastModified gt \"not a date\"", "emails[value pr] or not (x pr)", "\"", "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((a pr))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))"] {
        let (s, _, _) = app.scim("GET", &format!("/Users?filter={}", esc(f)), None).await;
        assert!(s < 500, "{f} -> {s}");
    }
}
