//! Provisioning events: written with the change that causes them, read back
//! in order through `GET /accounts/{id}/events`.

use crate::helpers::TestApp;
use serde_json::{json, Value};

both_backends!(changes_become_ordered_events);

pub async fn events(app: &TestApp, query: &str) -> Vec<Value> {
    let (s, b) = app
        .admin(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/events?limit=1000{query}"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b["events"].as_array().unwrap().clone()
}

async fn changes_become_ordered_events(app: &TestApp) {
    let (_, u, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"userName": "ev@acme.test", "name": {"givenName": "Eve"}})),
        )
        .await;
    let uid = u["id"].as_str().unwrap().to_string();
    let (_, g, _) = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Ops", "members": [{"value": uid}]})),
        )
        .await;
    let gid = g["id"].as_str().unwrap().to_string();
    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    app.scim(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(patch(
            json!([{"op": "replace", "path": "displayName", "value": "Operations"}]),
        )),
    )
    .await;
    app.scim(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(patch(
            json!([{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]),
        )),
    )
    .await;
    app.scim(
        "PATCH",
        &format!("/Users/{uid}"),
        Some(patch(
            json!([{"op": "replace", "path": "active", "value": false}]),
        )),
    )
    .await;
    app.scim(
        "PATCH",
        &format!("/Users/{uid}"),
        Some(patch(
            json!([{"op": "replace", "path": "active", "value": true}]),
        )),
    )
    .await;
    app.scim(
        "PATCH",
        &format!("/Users/{uid}"),
        Some(patch(
            json!([{"op": "replace", "path": "displayName", "value": "Eve E."}]),
        )),
    )
    .await;
    app.scim("DELETE", &format!("/Groups/{gid}"), None).await;
    app.scim("DELETE", &format!("/Users/{uid}"), None).await;
    // A refused write leaves no event.
    let (s, _, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"userName": "admin-clash", "roles": [{"value": "No Such Role"}]})),
        )
        .await;
    assert_eq!(s, 400);

    let all = events(app, "").await;
    let types: Vec<&str> = all.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "user.created",
            "group.created",
            "group.renamed",
            "group.member_removed",
            "user.deactivated",
            "user.reactivated",
            "user.updated",
            "group.deleted",
            "user.deleted"
        ],
        "{all:?}"
    );
    let seqs: Vec<i64> = all.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "gapless and increasing: {seqs:?}"
    );
    let created = &all[0];
    assert!(created["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(created["subject"], json!(uid));
    assert_eq!(created["data"]["userName"], json!("ev@acme.test"));
    assert_eq!(
        created["data"]["attributes"]["name"]["givenName"],
        json!("Eve"),
        "the new state"
    );
    assert_eq!(all[2]["data"]["previous"], json!("Ops"));
    assert_eq!(all[3]["data"]["user"], json!(uid));
    assert_eq!(all[4]["data"]["active"], json!(false));

    // Resuming after a seen sequence number, and filtering by type.
    let after = events(app, &format!("&after={}", seqs[6])).await;
    assert_eq!(after.len(), 2);
    let only = events(app, "&types=user.deactivated,user.reactivated").await;
    assert_eq!(only.len(), 2);
    // A local sign-in is an event too (a break-glass one, twice over).
    let bg = &app.break_glass;
    let (s, _) = crate::sso::local(
        app,
        &crate::sso::browser(),
        &bg.email,
        &bg.password,
        &crate::sso::totp(&bg.totp_secret, 0),
    )
    .await;
    assert_eq!(s, 200);
    let signin = events(app, "&types=session.started,break_glass.signin").await;
    assert_eq!(signin.len(), 2, "{signin:?}");

    // Readable with View Audit Logs or API Access only.
    let (_, std_key) = app
        .user_with_roles("std@acme.test", &["Standard User"])
        .await;
    let (s, _) = app
        .json("GET", "/api/v1/accounts/{acct}/events", &std_key, None)
        .await;
    assert_eq!(s, 403);
    let (s, _) = app
        .admin("GET", "/api/v1/accounts/{acct}/events?after=-1", None)
        .await;
    assert_eq!(s, 400);
}

both_backends!(access_changes_are_events);

/// What a mapping, a membership, a custom-role edit or a direct assignment
/// does to someone's access is an event, with what was gained and lost.
async fn access_changes_are_events(app: &TestApp) {
    app.enable_aus().await;
    let (s, _) = app
        .admin("POST", "/api/v1/accounts/{acct}/roles", Some(json!({"name": "Ops Role", "inherits": "Standard User", "privileges": ["Dashboard"]})))
        .await;
    assert_eq!(s, 201);
    let (_, u, _) = app
        .scim("POST", "/Users", Some(json!({"userName": "ops@acme.test"})))
        .await;
    let uid = u["id"].as_str().unwrap().to_string();
    let (_, g, _) = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Ops", "members": [{"value": uid}]})),
        )
        .await;
    let gid = g["id"].as_str().unwrap().to_string();
    let changed = || async { events(app, "&types=user.access_changed").await };
    assert!(
        changed().await.is_empty(),
        "an unmapped group gives nothing"
    );

    let (s, m) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/group-mappings",
            Some(json!({"group": {"displayName": "Ops"}, "roles": ["Ops Role"]})),
        )
        .await;
    assert_eq!(s, 201, "{m}");
    let e = changed().await;
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0]["subject"], json!(uid));
    assert_eq!(e[0]["data"]["cause"], json!("group_mapping.create"));
    assert!(e[0]["data"]["gained_roles"]
        .as_array()
        .unwrap()
        .contains(&json!("Ops Role")));
    assert!(e[0]["data"]["gained_privileges"]
        .as_array()
        .unwrap()
        .contains(&json!("DASHBOARD")));

    let (s, _) = app
        .admin("PUT", "/api/v1/accounts/{acct}/roles/Ops Role", Some(json!({"name": "Ops Role", "inherits": "Standard User", "privileges": ["Dashboard", "Build Read Access"]})))
        .await;
    assert_eq!(s, 200);
    let e = changed().await;
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(e[1]["data"]["cause"], json!("role.update"));
    assert_eq!(
        e[1]["data"]["gained_privileges"],
        json!(["BUILD_READ_ACCESS"])
    );
    assert_eq!(e[1]["data"]["lost_privileges"], json!([]));

    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]});
    app.scim("PATCH", &format!("/Groups/{gid}"), Some(patch))
        .await;
    let e = changed().await;
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e[2]["data"]["lost_roles"]
        .as_array()
        .unwrap()
        .contains(&json!("Ops Role")));

    let (s, _) = app
        .admin(
            "PUT",
            &format!("/api/v1/accounts/{{acct}}/users/{uid}/roles"),
            Some(json!({"roles": ["Production Support"]})),
        )
        .await;
    assert_eq!(s, 200);
    let e = changed().await;
    assert_eq!(e.len(), 4, "{e:?}");
    assert!(e[3]["data"]["gained_roles"]
        .as_array()
        .unwrap()
        .contains(&json!("Production Support")));
    // A change that changes nothing for anyone says nothing.
    app.admin(
        "PUT",
        &format!("/api/v1/accounts/{{acct}}/users/{uid}/roles"),
        Some(json!({"roles": ["Production Support"]})),
    )
    .await;
    assert_eq!(changed().await.len(), 4);
}
