//! Provisioning cycles as Microsoft Entra ID and Okta send them, and
//! concurrent membership changes.

use crate::helpers::TestApp;
use serde_json::{json, Value};

both_backends!(
    entra_cycle,
    okta_cycle,
    memberships_drive_roles_live,
    concurrent_member_adds,
    concurrent_creates,
    deep_pages,
    bulk_with_references,
    lists_sorting_and_projection,
    list_totals_follow_writes,
    every_read_renders_the_same_parts
);

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn q(filter: &str) -> String {
    crate::helpers::url_escape(filter)
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

async fn entra_cycle(app: &TestApp) {
    // Entra looks users up before creating them; a miss is 200 with no results.
    let (s, b, _) = app
        .scim(
            "GET",
            &format!("/Users?filter={}", q("userName eq \"grace@contoso.test\"")),
            None,
        )
        .await;
    assert_eq!((s, b["totalResults"].clone()), (200, json!(0)));
    let (s, u, h) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({
                "schemas": [USER, ENT],
                "externalId": "0b1c-aad-object-id",
                "userName": "Grace@contoso.test",
                "active": true,
                "displayName": "Grace Hopper",
                "emails": [{"primary": true, "type": "work", "value": "grace@contoso.test"}],
                "name": {"formatted": "Grace Hopper", "familyName": "Hopper", "givenName": "Grace"},
                ENT: {"department": "Navy"}
            })),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    let uid = u["id"].as_str().unwrap().to_string();
    assert_eq!(
        h.get("location").unwrap().to_str().unwrap(),
        u["meta"]["location"].as_str().unwrap()
    );
    assert_eq!(
        h.get("etag").unwrap().to_str().unwrap(),
        u["meta"]["version"].as_str().unwrap()
    );
    assert_eq!(
        h.get("content-type").unwrap().to_str().unwrap(),
        "application/scim+json"
    );
    let (_, b, _) = app
        .scim(
            "GET",
            &format!(
                "/Users?filter={}",
                q("externalId eq \"0b1c-aad-object-id\"")
            ),
            None,
        )
        .await;
    assert_eq!(b["Resources"][0]["id"], json!(uid));
    let (_, b, _) = app
        .scim(
            "GET",
            &format!("/Users?filter={}", q("userName eq \"GRACE@CONTOSO.TEST\"")),
            None,
        )
        .await;
    assert_eq!(
        b["totalResults"],
        json!(1),
        "userName matches ignoring case"
    );

    // Entra's PATCH habits.
    let (s, u, _) = app
        .scim(
            "PATCH",
            &format!("/Users/{uid}"),
            Some(patch(json!([
                {"op": "Replace", "path": "displayName", "value": "Rear Admiral Hopper"},
                {"op": "Add", "path": "emails[type eq \"home\"].value", "value": "grace@home.test"},
                {"op": "Replace", "path": format!("{ENT}:manager"), "value": "boss-object-id"},
                {"op": "Replace", "value": {"name.givenName": "Amazing Grace", (format!("{ENT}:department")): "Computing"}},
                {"op": "Replace", "path": "active", "value": "True"}
            ]))),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["displayName"], "Rear Admiral Hopper");
    assert_eq!(u["name"]["givenName"], "Amazing Grace");
    assert_eq!(
        u[ENT]["manager"],
        json!({"value": "boss-object-id"}),
        "bare manager stored as {{value}}"
    );
    assert_eq!(u[ENT]["department"], "Computing");
    assert_eq!(u["active"], json!(true));
    assert!(u["emails"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "home" && e["value"] == "grace@home.test"));

    // Groups: extra schema URN accepted; lookups with excludedAttributes=members.
    let (s, g, _) = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"], "displayName": "Engineers", "externalId": "aad-group-1"})),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    let (_, b, _) = app
        .scim(
            "GET",
            &format!(
                "/Groups?excludedAttributes=members&filter={}",
                q("displayName eq \"engineers\"")
            ),
            None,
        )
        .await;
    assert_eq!(b["totalResults"], json!(1));
    assert!(b["Resources"][0].get("members").is_none());
    let (s, _, _) = app
        .scim(
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(patch(
                json!([{"op": "Add", "path": "members", "value": [{"value": uid}]}]),
            )),
        )
        .await;
    assert_eq!(s, 200);
    let probe = format!(
        "/Groups?excludedAttributes=members&filter={}",
        q(&format!("id eq \"{gid}\" and members eq \"{uid}\""))
    );
    let (_, b, _) = app.scim("GET", &probe, None).await;
    assert_eq!(b["totalResults"], json!(1));
    let (_, u, _) = app.scim("GET", &format!("/Users/{uid}"), None).await;
    assert_eq!(u["groups"][0]["value"], json!(gid));
    // Remove with path "members" and the member in value: only that one goes.
    let (s, _, _) = app
        .scim(
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(patch(
                json!([{"op": "Remove", "path": "members", "value": [{"value": uid}]}]),
            )),
        )
        .await;
    assert_eq!(s, 200);
    let (_, b, _) = app.scim("GET", &probe, None).await;
    assert_eq!(b["totalResults"], json!(0));

    // Deactivation keeps the user, blocks sign-in and ends sessions at once.
    let (cookie, _) =
        idbridge::store::sessions::create(&app.db, &app.account_id, &uid, &["sso"], None, 3600)
            .await
            .unwrap();
    assert!(idbridge::store::sessions::lookup(&app.db, &cookie)
        .await
        .unwrap()
        .is_some());
    let (s, u, _) = app
        .scim(
            "PATCH",
            &format!("/Users/{uid}"),
            Some(patch(
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
            )),
        )
        .await;
    assert_eq!((s, u["active"].clone()), (200, json!(false)));
    assert!(
        idbridge::store::sessions::lookup(&app.db, &cookie)
            .await
            .unwrap()
            .is_none(),
        "session revoked"
    );
    let (s, _, _) = app.scim("DELETE", &format!("/Users/{uid}"), None).await;
    assert_eq!(s, 204);
    let (s, b, _) = app.scim("GET", &format!("/Users/{uid}"), None).await;
    assert_eq!(
        (s, b["scimType"].clone(), b["status"].clone()),
        (404, Value::Null, json!("404"))
    );
    let events = app.audit().await;
    for action in [
        "scim.user.create",
        "scim.user.patch",
        "scim.user.deactivate",
        "scim.user.delete",
        "scim.group.create",
        "scim.group.patch",
    ] {
        let e = events
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("{action} audited"));
        assert!(e["actor"].as_str().unwrap().starts_with("scim:"));
        assert!(e["details"]["token_id"].is_string());
    }
}

async fn okta_cycle(app: &TestApp) {
    // Okta's "test connection".
    let (s, b, _) = app.scim("GET", "/Users?startIndex=1&count=2", None).await;
    assert_eq!(s, 200);
    assert!(
        b["totalResults"].is_u64() && b["startIndex"] == json!(1) && b["itemsPerPage"].is_u64()
    );
    let mut ids = vec![];
    for n in ["ann", "bob", "cy"] {
        let (s, u, _) = app
            .scim(
                "POST",
                "/Users",
                Some(json!({"schemas": [USER], "userName": format!("{n}@okta.test"), "name": {"givenName": n, "familyName": "X"},
                    "emails": [{"primary": true, "value": format!("{n}@okta.test"), "type": "work"}], "active": true,
                    "password": "Sup3rSecret!", "groups": []})),
            )
            .await;
        assert_eq!(s, 201, "{u}");
        assert!(u.get("password").is_none(), "password never returned");
        ids.push(u["id"].as_str().unwrap().to_string());
    }
    let stored: Vec<String> = idbridge::store::scim::users_query(&app.account_id, None)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.attributes)
        .collect();
    assert!(
        stored.iter().all(|a| !a.contains("Sup3rSecret")),
        "password never stored"
    );
    // Wizard apps update with a full PUT that omits `active`: the user stays active.
    let (s, u, _) = app
        .scim("PUT", &format!("/Users/{}", ids[0]), Some(json!({"schemas": [USER], "userName": "ann@okta.test", "name": {"givenName": "Ann", "familyName": "Y"}, "emails": [{"primary": true, "value": "ann@okta.test", "type": "work"}]})))
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(
        (u["active"].clone(), u["name"]["familyName"].clone()),
        (json!(true), json!("Y"))
    );

    // Group push: members inside POST, adds without type, removal by filter, rename, empty replace.
    let (s, g, _) = app.scim("POST", "/Groups", Some(json!({"schemas": [GROUP], "displayName": "Sales", "members": [{"value": ids[0], "display": "ann@okta.test"}]}))).await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    assert_eq!(g["members"].as_array().unwrap().len(), 1);
    let (s, g, _) = app
        .scim("PATCH", &format!("/Groups/{gid}"), Some(patch(json!([{"op": "add", "path": "members", "value": [{"value": ids[1]}, {"value": ids[2]}]}]))))
        .await;
    assert_eq!((s, g["members"].as_array().unwrap().len()), (200, 3));
    let (s, g, _) = app
        .scim(
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(patch(
                json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[1])}]),
            )),
        )
        .await;
    assert_eq!(s, 200);
    let members: Vec<&str> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members.len(), 2);
    assert!(!members.contains(&ids[1].as_str()));
    let (s, g, _) = app
        .scim(
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(patch(
                json!([{"op": "replace", "value": {"id": gid, "displayName": "Sales EMEA"}}]),
            )),
        )
        .await;
    assert_eq!(
        (
            s,
            g["displayName"].clone(),
            g["members"].as_array().unwrap().len()
        ),
        (200, json!("Sales EMEA"), 2)
    );
    let (s, g, _) = app
        .scim(
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(patch(
                json!([{"op": "replace", "path": "members", "value": []}]),
            )),
        )
        .await;
    assert_eq!(s, 200);
    assert!(g["members"].as_array().is_none_or(|m| m.is_empty()), "{g}");
    // Full PUT of a group with members.
    let (s, g, _) = app.scim("PUT", &format!("/Groups/{gid}"), Some(json!({"schemas": [GROUP], "displayName": "Sales EMEA", "members": [{"value": ids[2]}]}))).await;
    assert_eq!((s, g["members"][0]["value"].clone()), (200, json!(ids[2])));
    // Deprovisioning is active=false through PUT.
    let (s, u, _) = app
        .scim("PUT", &format!("/Users/{}", ids[2]), Some(json!({"schemas": [USER], "userName": "cy@okta.test", "active": false, "emails": [{"primary": true, "value": "cy@okta.test", "type": "work"}]})))
        .await;
    assert_eq!((s, u["active"].clone()), (200, json!(false)));
    let (_, b, _) = app
        .scim(
            "GET",
            &format!("/Users?filter={}", q("active eq false")),
            None,
        )
        .await;
    assert_eq!(b["totalResults"], json!(1));
}

async fn memberships_drive_roles_live(app: &TestApp) {
    let (_, u, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"userName": "dev@acme.test", "roles": [{"value": "API Manager"}]})),
        )
        .await;
    let uid = u["id"].as_str().unwrap().to_string();
    assert_eq!(u["roles"], json!([{"value": "API Manager"}]));
    let (_, g, _) = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Builders", "externalId": "okta-00g1"})),
        )
        .await;
    let gid = g["id"].as_str().unwrap().to_string();
    let (s, _) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/group-mappings",
            Some(json!({"group": {"externalId": "okta-00g1"}, "roles": ["Standard User"]})),
        )
        .await;
    assert_eq!(s, 201);
    let ask = json!({"account": app.account_id, "user": "dev@acme.test", "privilege": "Build Read and Write Access"});
    let (_, d) = app
        .admin("POST", "/api/v1/authorize", Some(ask.clone()))
        .await;
    assert_eq!(d["allowed"], json!(false));
    app.scim(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(patch(
            json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]),
        )),
    )
    .await;
    let (_, d) = app
        .admin("POST", "/api/v1/authorize", Some(ask.clone()))
        .await;
    assert_eq!(
        d["allowed"],
        json!(true),
        "membership grants the mapped role at once: {d}"
    );
    let (_, acc) = app
        .admin(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/users/{uid}/access"),
            None,
        )
        .await;
    assert!(
        acc["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["role"] == "Standard User"
                && r["via"] == json!([{"source": "group", "group": "Builders"}])),
        "{acc}"
    );
    assert!(acc["roles"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["role"] == "API Manager" && r["via"] == json!([{"source": "direct"}])));
    app.scim(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(patch(
            json!([{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]),
        )),
    )
    .await;
    let (_, d) = app
        .admin("POST", "/api/v1/authorize", Some(ask.clone()))
        .await;
    assert_eq!(
        d["allowed"],
        json!(false),
        "removal takes the role away at once"
    );
    // SCIM roles set direct assignments; removing them removes the assignment.
    let (_, r) = app
        .admin(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/users/{uid}/roles"),
            None,
        )
        .await;
    assert_eq!(r["roles"], json!(["API_MANAGER"]));
    app.scim(
        "PATCH",
        &format!("/Users/{uid}"),
        Some(patch(json!([{"op": "remove", "path": "roles"}]))),
    )
    .await;
    let (_, r) = app
        .admin(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/users/{uid}/roles"),
            None,
        )
        .await;
    assert_eq!(r["roles"], json!([]));
    // Deactivated users are denied whatever their roles.
    app.scim("PATCH", &format!("/Users/{uid}"), Some(patch(json!([{"op": "replace", "path": "roles", "value": [{"value": "Standard User"}]}, {"op": "replace", "path": "active", "value": false}])))).await;
    let (_, d) = app.admin("POST", "/api/v1/authorize", Some(ask)).await;
    assert_eq!(
        (d["allowed"].clone(), d["reason"].clone()),
        (json!(false), json!("the user is deactivated"))
    );
}

async fn concurrent_member_adds(app: &TestApp) {
    let (_, g, _) = app
        .scim("POST", "/Groups", Some(json!({"displayName": "Crowd"})))
        .await;
    let gid = g["id"].as_str().unwrap().to_string();
    let mut ids = vec![];
    for i in 0..20 {
        let (s, u, _) = app
            .scim(
                "POST",
                "/Users",
                Some(json!({"userName": format!("c{i}@acme.test")})),
            )
            .await;
        assert_eq!(s, 201);
        ids.push(u["id"].as_str().unwrap().to_string());
    }
    let calls = ids.iter().map(|uid| {
        let path = format!("/Groups/{gid}");
        let body = patch(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
        async move { app.scim("PATCH", &path, Some(body)).await.0 }
    });
    let statuses = futures_util::future::join_all(calls).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let (_, g, _) = app.scim("GET", &format!("/Groups/{gid}"), None).await;
    let mut got: Vec<String> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids, "no member lost");
    assert_eq!(
        g["meta"]["version"],
        json!("W/\"21\""),
        "every PATCH was applied in turn"
    );
    // Concurrent PATCHes on one user: each adds an email, none is lost.
    let uid = ids[0].clone();
    let calls = (0..10).map(|i| {
        let path = format!("/Users/{uid}");
        let body = patch(json!([{"op": "add", "path": "emails", "value": [{"value": format!("alias{i}@acme.test"), "type": "other"}]}]));
        async move { app.scim("PATCH", &path, Some(body)).await.0 }
    });
    let statuses = futures_util::future::join_all(calls).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let (_, u, _) = app.scim("GET", &format!("/Users/{uid}"), None).await;
    assert_eq!(u["emails"].as_array().map(Vec::len), Some(10), "{u}");
    // Each write landed once, on the version before it (committed in
    // groups, a write that lost the race is recomputed, not applied twice).
    assert_eq!(u["meta"]["version"], json!("W/\"11\""), "{u}");
    let (_, page) = app
        .admin(
            "GET",
            "/api/v1/accounts/{acct}/events?types=user.updated&limit=1000",
            None,
        )
        .await;
    let mine: Vec<&Value> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject"] == json!(uid))
        .collect();
    assert_eq!(mine.len(), 10, "one event per write: {page}");
    let last = mine.iter().max_by_key(|e| e["seq"].as_i64()).unwrap();
    assert_eq!(
        last["data"]["attributes"]["emails"]
            .as_array()
            .map(Vec::len),
        Some(10),
        "the last event carries every email: {last}"
    );
}

/// Creates sent at once (committed together on SQLite): every 201 is stored
/// with its event, and of two names differing only in case exactly one wins.
async fn concurrent_creates(app: &TestApp) {
    let names: Vec<String> = (0..24)
        .map(|i| format!("crowd{i}@acme.test"))
        .chain((0..8).map(|i| format!("CROWD{i}@acme.test")))
        .collect();
    let calls = names.iter().map(|n| async move {
        let (s, body, _) = app
            .scim("POST", "/Users", Some(json!({"userName": n})))
            .await;
        (n.clone(), s, body)
    });
    let answers = futures_util::future::join_all(calls).await;
    let mut created = std::collections::BTreeMap::new();
    for (name, status, body) in &answers {
        match status {
            201 => {
                created.insert(
                    name.to_lowercase(),
                    body["id"].as_str().unwrap().to_string(),
                );
            }
            409 => assert_eq!(body["scimType"], json!("uniqueness"), "{body}"),
            s => panic!("{name}: {s} {body}"),
        }
    }
    let conflicts = answers.iter().filter(|a| a.1 == 409).count();
    assert_eq!((created.len(), conflicts), (24, 8), "{answers:?}");
    for (name, id) in &created {
        let (s, u, _) = app.scim("GET", &format!("/Users/{id}"), None).await;
        assert_eq!(s, 200);
        assert_eq!(
            u["userName"].as_str().map(str::to_lowercase).as_deref(),
            Some(name.as_str())
        );
    }
    let (_, page) = app
        .admin(
            "GET",
            "/api/v1/accounts/{acct}/events?types=user.created&limit=1000",
            None,
        )
        .await;
    let mut evented: Vec<String> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["data"]["userName"].as_str().map(str::to_lowercase))
        .filter(|n| n.starts_with("crowd"))
        .collect();
    evented.sort();
    let stored: Vec<String> = created.keys().cloned().collect();
    assert_eq!(
        evented, stored,
        "one event per stored user, none for the refused"
    );
    // Creates committed together (merged into multi-row statements on
    // PostgreSQL) are numbered without gaps or repeats (their deliveries:
    // `webhooks::concurrent_creates_fan_out_once`).
    let (_, all) = app
        .admin("GET", "/api/v1/accounts/{acct}/events?limit=1000", None)
        .await;
    let seqs: Vec<i64> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "gapless: {seqs:?}"
    );
}

/// Ids of a page of users, unfiltered or with a filter every user matches
/// (which pages with plain `OFFSET`, never from an anchor).
async fn page_ids(
    app: &TestApp,
    start: usize,
    count: usize,
    all_filter: bool,
) -> (u64, Vec<String>) {
    let filter = if all_filter {
        format!("&filter={}", q("userName pr"))
    } else {
        String::new()
    };
    let (s, b, _) = app
        .scim(
            "GET",
            &format!("/Users?startIndex={start}&count={count}&attributes=id{filter}"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let ids = b["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    (b["totalResults"].as_u64().unwrap(), ids)
}

/// Past the first `ANCHOR_STEP` users (200) an unfiltered page starts from an anchor
/// (SQLite): every page equals the one `OFFSET` gives, across anchor
/// boundaries, and still after a delete before the anchors moves them.
async fn deep_pages(app: &TestApp) {
    let names: Vec<String> = (0..2_030)
        .map(|i| format!("deep{i:04}@acme.test"))
        .collect();
    for chunk in names.chunks(32) {
        let calls = chunk.iter().map(|n| async move {
            app.scim("POST", "/Users", Some(json!({"userName": n})))
                .await
                .0
        });
        let statuses = futures_util::future::join_all(calls).await;
        assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    }
    let check = |label: &'static str| async move {
        for (start, count) in [
            (990, 30),
            (1_000, 5),
            (1_001, 100),
            (1_999, 3),
            (2_001, 50),
            (2_030, 10),
        ] {
            let anchored = page_ids(app, start, count, false).await;
            let offset = page_ids(app, start, count, true).await;
            assert_eq!(anchored, offset, "{label}: startIndex {start}");
            assert!(!anchored.1.is_empty(), "{label}: startIndex {start}");
        }
    };
    check("first").await;
    let (_, early) = page_ids(app, 20, 1, false).await;
    let (s, _, _) = app
        .scim("DELETE", &format!("/Users/{}", early[0]), None)
        .await;
    assert_eq!(s, 204);
    // Past the anchors' rebuild interval, so the next deep page finds them again.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    check("after a delete").await;
    let (total, _) = page_ids(app, 2_030, 10, false).await;
    assert_eq!(
        total, 2_030,
        "2,030 created + the administrator - 1 deleted"
    );
}

async fn bulk_with_references(app: &TestApp) {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "failOnErrors": 2,
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"schemas": [USER], "userName": "bulk1@acme.test"}},
            {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {"schemas": [GROUP], "displayName": "Bulkers", "members": [{"value": "bulkId:u1"}]}},
            {"method": "PATCH", "path": "/Users/bulkId:u1", "data": {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "B1"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "dup", "data": {"userName": "BULK1@acme.test"}},
            {"method": "DELETE", "path": "/Users/nope"},
            {"method": "POST", "path": "/Users", "data": {"userName": "never@acme.test"}}
        ]
    });
    let (s, b, _) = app.scim("POST", "/Bulk", Some(body)).await;
    assert_eq!(s, 200, "{b}");
    let ops = b["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        vec!["201", "201", "200", "409", "404"],
        "stopped after two errors: {b}"
    );
    assert_eq!(ops[3]["response"]["scimType"], "uniqueness");
    let gloc = ops[1]["location"].as_str().unwrap();
    let gid = gloc.rsplit('/').next().unwrap();
    let (_, g, _) = app.scim("GET", &format!("/Groups/{gid}"), None).await;
    let uid = ops[0]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    assert_eq!(
        g["members"][0]["value"],
        json!(uid),
        "bulkId reference resolved"
    );
    let (_, b, _) = app
        .scim(
            "GET",
            &format!("/Users?filter={}", q("userName eq \"never@acme.test\"")),
            None,
        )
        .await;
    assert_eq!(b["totalResults"], json!(0));
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
        .collect();
    let (s, b, _) = app.scim("POST", "/Bulk", Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": too_many}))).await;
    assert_eq!(s, 413, "{b}");
    let (_, spc, _) = app.scim("GET", "/ServiceProviderConfig", None).await;
    assert_eq!(spc["bulk"]["maxOperations"], json!(1000));
}

async fn lists_sorting_and_projection(app: &TestApp) {
    for (n, title) in [("zed", "b"), ("amy", "a"), ("Max", "c")] {
        app.scim("POST", "/Users", Some(json!({"userName": format!("{n}@acme.test"), "title": title, "emails": [{"value": format!("{n}@acme.test")}, {"value": format!("{n}@alt.test")}]}))).await;
    }
    let (_, b, _) = app
        .scim(
            "GET",
            &format!(
                "/Users?sortBy=userName&sortOrder=descending&attributes=userName&filter={}",
                q("title pr")
            ),
            None,
        )
        .await;
    let names: Vec<&str> = b["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["zed@acme.test", "Max@acme.test", "amy@acme.test"]
    );
    assert!(b["Resources"][0].get("emails").is_none() && b["Resources"][0]["id"].is_string());
    // Filters outside the indexed columns are evaluated exactly too.
    let (_, b, _) = app
        .scim(
            "GET",
            &format!(
                "/Users?sortBy=title&filter={}",
                q("title pr and (emails.value ew \"alt.test\" or not (title eq \"c\"))")
            ),
            None,
        )
        .await;
    let names: Vec<&str> = b["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["amy@acme.test", "zed@acme.test", "Max@acme.test"]
    );
    let (_, b, _) = app
        .scim(
            "GET",
            &format!("/Users?filter={}", q("emails eq \"max@alt.test\"")),
            None,
        )
        .await;
    assert_eq!(b["totalResults"], json!(1), "secondary email found");
    // Paging: count=0 gives totals only; startIndex is 1-based.
    let (_, b, _) = app.scim("GET", "/Users?count=0", None).await;
    assert_eq!(
        (
            b["totalResults"].clone(),
            b["Resources"].as_array().unwrap().len()
        ),
        (json!(4), 0)
    );
    let (_, b, _) = app
        .scim("GET", "/Users?startIndex=2&count=2&sortBy=userName", None)
        .await;
    assert_eq!(
        (b["startIndex"].clone(), b["itemsPerPage"].clone()),
        (json!(2), json!(2))
    );
    // POST .search behaves like GET.
    let (s, b, _) = app.scim("POST", "/Users/.search", Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName sw \"AM\"", "excludedAttributes": ["emails"]}))).await;
    assert_eq!((s, b["totalResults"].clone()), (200, json!(1)));
    assert!(b["Resources"][0].get("emails").is_none());
    let (s, b, _) = app
        .scim(
            "POST",
            "/.search",
            Some(json!({"filter": "userName sw \"amy\" or displayName pr"})),
        )
        .await;
    assert_eq!((s, b["totalResults"].clone()), (200, json!(1)));
    // ETags: If-None-Match answers 304.
    let (_, u, h) = app
        .scim(
            "GET",
            &format!("/Users?filter={}", q("userName eq \"amy@acme.test\"")),
            None,
        )
        .await;
    let id = u["Resources"][0]["id"].as_str().unwrap().to_string();
    let _ = h;
    let (_, one, h) = app.scim("GET", &format!("/Users/{id}"), None).await;
    let tag = h.get("etag").unwrap().to_str().unwrap().to_string();
    assert_eq!(json!(tag), one["meta"]["version"]);
    let (s, _, _) = app
        .scim_with(
            "GET",
            &format!("/Users/{id}"),
            None,
            &[("if-none-match", &tag)],
        )
        .await;
    assert_eq!(s, 304);
    let (s, one, _) = app
        .scim(
            "GET",
            &format!("/Users/{id}?attributes=name.givenName"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert!(one.get("userName").is_none() && one["id"] == json!(id));
}

/// Unfiltered totals are counted once per users change (cached): every
/// create and delete must show in the next list at once.
async fn list_totals_follow_writes(app: &TestApp) {
    let total = |path: &'static str| async move {
        let (s, b, _) = app.scim("GET", path, None).await;
        assert_eq!(s, 200, "{b}");
        b["totalResults"].as_u64().expect("total")
    };
    let before = total("/Users?count=1").await;
    assert_eq!(
        total("/Users?count=1").await,
        before,
        "stable while nothing changes"
    );
    let (s, u, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"schemas": [USER], "userName": "count@acme.test"})),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    assert_eq!(total("/Users?count=1").await, before + 1);
    assert_eq!(total("/Users?count=0").await, before + 1);
    let groups = total("/Groups?count=1").await;
    let (s, g, _) = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Counted"})),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    assert_eq!(total("/Groups?count=1").await, groups + 1);
    let (s, _, _) = app
        .scim(
            "DELETE",
            &format!("/Users/{}", u["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(total("/Users?count=1").await, before);
}

/// A user's groups and roles come with its row (one statement) on a GET, a
/// lookup and a list page, and separately where a filter is checked in
/// memory: every path renders the same groups, names and roles.
async fn every_read_renders_the_same_parts(app: &TestApp) {
    let (_, a, _) = app
        .scim("POST", "/Users", Some(json!({"userName": "ann@acme.test", "title": "x", "roles": [{"value": "API Manager"}]})))
        .await;
    let (_, b, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"userName": "bob@acme.test", "title": "x"})),
        )
        .await;
    let (aid, bid) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let odd = "Beta \"quoted\" \\ \u{e9}quipe";
    let mut want = vec![];
    for name in ["Alpha", odd] {
        let (s, g, _) = app
            .scim(
                "POST",
                "/Groups",
                Some(json!({"schemas": [GROUP], "displayName": name, "members": [{"value": aid}]})),
            )
            .await;
        assert_eq!(s, 201, "{g}");
        want.push((g["id"].as_str().unwrap().to_string(), name.to_string()));
    }
    want.sort();
    let groups = |u: &Value| {
        let mut g: Vec<(String, String)> = u["groups"]
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|g| {
                        (
                            g["value"].as_str().unwrap().into(),
                            g["display"].as_str().unwrap().into(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        g.sort();
        g
    };
    let find = |list: &Value, id: &str| -> Value {
        list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == json!(id))
            .cloned()
            .unwrap_or_else(|| panic!("{id} not in {list}"))
    };
    let (_, got, _) = app.scim("GET", &format!("/Users/{aid}"), None).await;
    let (_, lookup, _) = app
        .scim(
            "GET",
            &format!("/Users?filter={}", q("userName eq \"ANN@acme.test\"")),
            None,
        )
        .await;
    let (_, page, _) = app.scim("GET", "/Users?startIndex=1&count=10", None).await;
    // `title` is not a column: checked in memory, parts loaded per page.
    let (_, memory, _) = app
        .scim(
            "GET",
            &format!("/Users?filter={}", q("title eq \"x\"")),
            None,
        )
        .await;
    let reads = [
        ("GET", got),
        ("lookup", find(&lookup, aid)),
        ("page", find(&page, aid)),
        ("in memory", find(&memory, aid)),
    ];
    for (how, u) in &reads {
        assert_eq!(groups(u), want, "{how}: {u}");
        assert_eq!(u["roles"], json!([{"value": "API Manager"}]), "{how}: {u}");
    }
    // A user with neither renders alike on every path, with no group.
    let (_, got_b, _) = app.scim("GET", &format!("/Users/{bid}"), None).await;
    for u in [find(&page, bid), find(&memory, bid)] {
        assert_eq!(u, got_b);
    }
    assert!(
        groups(&got_b).is_empty() && got_b.get("roles").is_none_or(|r| r == &json!([])),
        "{got_b}"
    );
}
