//! The IdPs' own SCIM validators, step by step as they publish them: Okta's
//! "SCIM 2.0 SPEC Test" and Microsoft Entra's SCIM validator.

use crate::helpers::TestApp;
use serde_json::{json, Value};

both_backends!(okta_spec_test, entra_validator);

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

fn enc(s: &str) -> String {
    crate::helpers::url_escape(s)
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

/// The fields Okta requires of every user it reads.
fn okta_fields(u: &Value) {
    for (what, v) in [
        ("id", &u["id"]),
        ("userName", &u["userName"]),
        ("name.givenName", &u["name"]["givenName"]),
        ("name.familyName", &u["name"]["familyName"]),
        ("emails[0].value", &u["emails"][0]["value"]),
    ] {
        assert!(v.is_string(), "{what} missing in {u}");
    }
    assert!(u["active"].is_boolean(), "active missing in {u}");
}

fn assert_scim_error(b: &Value, status: &str) {
    assert_eq!(b["schemas"], json!([ERROR]), "{b}");
    assert_eq!(b["status"], status, "status is a string: {b}");
    assert!(b["detail"].is_string(), "{b}");
}

async fn okta_spec_test(app: &TestApp) {
    // 1. The first user listed has the fields Okta needs, whoever it is (the
    //    account's break-glass administrator is listed first).
    let (s, b, _) = app.scim("GET", "/Users?count=1&startIndex=1", None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["startIndex"], 1);
    let first = &b["Resources"][0];
    okta_fields(first);
    // 2. That user by id.
    let id = first["id"].as_str().expect("id");
    let (s, u, _) = app.scim("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(s, 200, "{u}");
    okta_fields(&u);
    // 3. A filter that matches nobody.
    let (s, b, _) = app
        .scim(
            "GET",
            &format!(
                "/Users?filter={}",
                enc("userName eq \"nobody-0f3a@example.com\"")
            ),
            None,
        )
        .await;
    assert_eq!((s, b["totalResults"].clone()), (200, json!(0)));
    assert!(b["Resources"].as_array().is_none_or(|r| r.is_empty()));
    // 4. An unknown id: 404 with a SCIM error body.
    let (s, b, _) = app
        .scim("GET", "/Users/010101010101-no-such-user", None)
        .await;
    assert_eq!(s, 404);
    assert_scim_error(&b, "404");
    // 5. Create.
    let body = json!({"schemas": [USER], "userName": "Runscope.Test@okta-spec.test",
        "name": {"givenName": "Runscope", "familyName": "Test"},
        "emails": [{"primary": true, "value": "Runscope.Test@okta-spec.test", "type": "work"}],
        "active": true, "password": "S3cret-Runscope!"});
    let (s, u, _) = app.scim("POST", "/Users", Some(body.clone())).await;
    assert_eq!(s, 201, "{u}");
    okta_fields(&u);
    assert_eq!(u["active"], true);
    // 6. The same user again: 409 uniqueness.
    let (s, b, _) = app.scim("POST", "/Users", Some(body)).await;
    assert_eq!(s, 409, "{b}");
    assert_scim_error(&b, "409");
    assert_eq!(b["scimType"], "uniqueness");
    // 7. userName filters ignore case.
    let (s, b, _) = app
        .scim(
            "GET",
            &format!(
                "/Users?filter={}",
                enc("userName eq \"RUNSCOPE.TEST@OKTA-SPEC.TEST\"")
            ),
            None,
        )
        .await;
    assert_eq!((s, b["totalResults"].clone()), (200, json!(1)));
    assert_eq!(b["Resources"][0]["id"], u["id"]);
    // 8. Groups answer within 600 ms.
    let t = std::time::Instant::now();
    let (s, b, _) = app.scim("GET", "/Groups", None).await;
    assert_eq!(s, 200, "{b}");
    assert!(
        t.elapsed() < std::time::Duration::from_millis(600),
        "{:?}",
        t.elapsed()
    );
    // 9. A bad token: 401 with a SCIM body whose status is "401".
    let r = app
        .client
        .get(format!("{}/scim/v2/Users", app.base))
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 401);
    let b: Value = r.json().await.expect("json body");
    assert_scim_error(&b, "401");
}

async fn entra_validator(app: &TestApp) {
    // Users: create with the enterprise extension.
    let (s, boss, _) = app
        .scim(
            "POST",
            "/Users",
            Some(
                json!({"schemas": [USER], "userName": "boss@contoso.test", "active": true,
                "name": {"givenName": "Big", "familyName": "Boss"}}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{boss}");
    let (s, boss2, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"schemas": [USER], "userName": "boss2@contoso.test", "active": true})),
        )
        .await;
    assert_eq!(s, 201, "{boss2}");
    let (s, u, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"schemas": [USER, ENT], "externalId": "aad-1", "userName": "val@contoso.test", "active": true,
                "displayName": "Val Idator",
                "name": {"givenName": "Val", "familyName": "Idator", "formatted": "Val Idator"},
                "emails": [{"primary": true, "type": "work", "value": "val@contoso.test"}],
                "addresses": [{"type": "work", "locality": "Redmond", "country": "US", "primary": true}],
                "phoneNumbers": [{"type": "work", "value": "+1 555 0100"}],
                ENT: {"department": "QA", "employeeNumber": "42"}})),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    let uid = u["id"].as_str().expect("id").to_string();
    let path = format!("/Users/{uid}");
    // Get, and filter by userName and by externalId.
    let (s, got, _) = app.scim("GET", &path, None).await;
    assert_eq!((s, got[ENT]["department"].clone()), (200, json!("QA")));
    for f in [
        "userName eq \"val@contoso.test\"",
        "externalId eq \"aad-1\"",
    ] {
        let (s, b, _) = app
            .scim("GET", &format!("/Users?filter={}", enc(f)), None)
            .await;
        assert_eq!((s, b["totalResults"].clone()), (200, json!(1)), "{f}");
    }
    // Update attributes by PATCH, as Entra words it.
    let (s, b, _) = app
        .scim(
            "PATCH",
            &path,
            Some(patch(json!([
                {"op": "Replace", "path": "displayName", "value": "Val I."},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "val.i@contoso.test"},
                {"op": "Replace", "path": "name.givenName", "value": "Valerie"},
                {"op": "Replace", "path": "addresses[type eq \"work\"].locality", "value": "Seattle"},
                {"op": "Add", "path": format!("{ENT}:employeeNumber"), "value": "43"}
            ]))),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["displayName"], "Val I.");
    assert_eq!(b["emails"][0]["value"], "val.i@contoso.test");
    assert_eq!(b["name"]["givenName"], "Valerie");
    assert_eq!(b["addresses"][0]["locality"], "Seattle");
    assert_eq!(b[ENT]["employeeNumber"], "43");
    // Manager: add, replace, remove.
    let manager_path = format!("{ENT}:manager");
    let (s, b, _) = app
        .scim(
            "PATCH",
            &path,
            Some(patch(
                json!([{"op": "add", "path": manager_path, "value": boss["id"]}]),
            )),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b[ENT]["manager"]["value"], boss["id"], "{b}");
    let (s, b, _) = app
        .scim(
            "PATCH",
            &path,
            Some(patch(
                json!([{"op": "replace", "path": manager_path, "value": {"value": boss2["id"]}}]),
            )),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b[ENT]["manager"]["value"], boss2["id"], "{b}");
    let (s, b, _) = app
        .scim(
            "PATCH",
            &path,
            Some(patch(json!([{"op": "remove", "path": manager_path}]))),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(b[ENT]["manager"].is_null(), "{b}");
    // Multiple operations on the same attribute, applied in order.
    let (s, b, _) = app
        .scim(
            "PATCH",
            &path,
            Some(patch(json!([
                {"op": "replace", "path": "displayName", "value": "First"},
                {"op": "replace", "path": "displayName", "value": "Second"},
                {"op": "add", "path": "nickName", "value": "V"},
                {"op": "remove", "path": "nickName"}
            ]))),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["displayName"], "Second");
    assert!(b["nickName"].is_null(), "{b}");
    // The answer to a write is the resource as stored: a GET shows the same.
    let (_, again, _) = app.scim("GET", &path, None).await;
    assert_eq!(again, b);
    // Disable, then a filter shows active false.
    let (s, b, _) = app
        .scim(
            "PATCH",
            &path,
            Some(patch(
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
            )),
        )
        .await;
    assert_eq!((s, b["active"].clone()), (200, json!(false)), "{b}");
    let (_, b, _) = app
        .scim(
            "GET",
            &format!("/Users?filter={}", enc("userName eq \"val@contoso.test\"")),
            None,
        )
        .await;
    assert_eq!(b["Resources"][0]["active"], false, "{b}");
    // Groups: create, duplicate name (any case) 409, filter, members, rename.
    let (s, g, _) = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Validators", "externalId": "aad-g1"})),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().expect("id").to_string();
    let (s, b, _) = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "VALIDATORS"})),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["scimType"], "uniqueness");
    let (s, b, _) = app
        .scim(
            "GET",
            &format!(
                "/Groups?filter={}&excludedAttributes=members",
                enc("displayName eq \"Validators\"")
            ),
            None,
        )
        .await;
    assert_eq!((s, b["totalResults"].clone()), (200, json!(1)));
    let gpath = format!("/Groups/{gid}");
    let (s, b, _) = app
        .scim(
            "PATCH",
            &gpath,
            Some(patch(
                json!([{"op": "Add", "path": "members", "value": [{"value": uid}, {"value": boss["id"]}]}]),
            )),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    // A member with a role: the user's PATCH answer carries its groups and
    // roles exactly as a GET does.
    let (s, b, _) = app
        .scim(
            "PATCH",
            &path,
            Some(patch(json!([
                {"op": "replace", "path": "displayName", "value": "Grouped"},
                {"op": "add", "path": "roles", "value": [{"value": "Standard User"}]}
            ]))),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["groups"][0]["display"], "Validators", "{b}");
    assert_eq!(b["roles"][0]["value"], "Standard User", "{b}");
    let (_, again, _) = app.scim("GET", &path, None).await;
    assert_eq!(again, b);
    let (s, b, _) = app
        .scim(
            "PATCH",
            &gpath,
            Some(patch(json!([
                {"op": "Remove", "path": "members", "value": [{"value": boss["id"]}]},
                {"op": "Replace", "path": "displayName", "value": "Validators 2"}
            ]))),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["displayName"], "Validators 2");
    assert_eq!(b["members"].as_array().map(Vec::len), Some(1), "{b}");
    // Delete, then delete again: 404.
    for p in [gpath.as_str(), path.as_str()] {
        let (s, _, _) = app.scim("DELETE", p, None).await;
        assert_eq!(s, 204, "{p}");
        let (s, b, _) = app.scim("DELETE", p, None).await;
        assert_eq!(s, 404, "{p}");
        assert_scim_error(&b, "404");
        let (s, _, _) = app.scim("GET", p, None).await;
        assert_eq!(s, 404);
    }
}
