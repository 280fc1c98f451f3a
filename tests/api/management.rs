use crate::helpers::TestApp;
use idbridge::store::{entities::*, new_id, now_ms};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{json, Value};

both_backends!(
    authentication_and_catalog,
    account_settings,
    custom_roles,
    custom_role_bad_input_changes_nothing,
    environments,
    group_mappings,
    limited_user_management,
    access_explain_and_authorize,
    audit_log,
    scim_tokens_api,
    operations,
);

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|r| r["name"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn authentication_and_catalog(app: &TestApp) {
    let (s, _) = app.json("GET", "/api/v1/privileges", "", None).await;
    assert_eq!(s, 401);
    let (s, _) = app
        .json(
            "GET",
            "/api/v1/privileges",
            "idbk_00000000000000000000000000000000_nope",
            None,
        )
        .await;
    assert_eq!(s, 401);
    let tampered = format!("{}x", app.admin_key);
    let (s, _) = app.json("GET", "/api/v1/privileges", &tampered, None).await;
    assert_eq!(s, 401);
    let (s, b) = app.admin("GET", "/api/v1/privileges", None).await;
    assert_eq!(s, 200);
    let list = b.as_array().unwrap();
    assert!(list.len() >= 50);
    let rm = list
        .iter()
        .find(|p| p["key"] == "RUNTIME_MANAGEMENT")
        .unwrap();
    assert_eq!(rm["aliases"], json!(["Atom Management"]));
    assert_eq!(rm["environment_scoped"], json!(true));
    assert!(list
        .iter()
        .any(|p| p["key"] == "API_MANAGEMENT_ROLES" && p["deprecated"] == json!(true)));
    // Another account's id looks absent.
    let (s, _) = app
        .admin("GET", "/api/v1/accounts/not-mine/roles", None)
        .await;
    assert_eq!(s, 404);
}

async fn account_settings(app: &TestApp) {
    let (_, std_key) = app
        .user_with_roles("std@acme.test", &["Standard User"])
        .await;
    let (s, b) = app
        .json(
            "PATCH",
            "/api/v1/accounts/{acct}",
            &std_key,
            Some(json!({"environment_scoping": "strict"})),
        )
        .await;
    assert_eq!(s, 403, "{b}");
    assert_eq!(b["missing_privilege"], json!(["Account Administration"]));
    let (s, b) = app
        .admin(
            "PATCH",
            "/api/v1/accounts/{acct}",
            Some(json!({"environment_scoping": "sideways"})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(b["message"].as_str().unwrap().contains("sideways"));
    let r = app
        .client
        .patch(app.url("/api/v1/accounts/{acct}"))
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let (s, b) = app.admin("GET", "/api/v1/accounts/{acct}", None).await;
    assert_eq!(
        (s, b["environment_scoping"].clone()),
        (200, json!("additive")),
        "failed writes changed nothing"
    );
    let (s, b) = app
        .admin(
            "PATCH",
            "/api/v1/accounts/{acct}",
            Some(json!({"environment_scoping": "strict", "advanced_user_security": true})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["environment_scoping"], "strict");
    assert_eq!(b["advanced_user_security"], true);
    let events = app.audit().await;
    assert!(events.iter().any(|e| e["action"] == "account.update"
        && e["outcome"] == "denied"
        && e["actor"] == "std@acme.test"));
    assert!(events.iter().any(|e| e["action"] == "account.update"
        && e["outcome"] == "success"
        && e["actor"] == "breakglass@acme.test"));
}

async fn custom_roles(app: &TestApp) {
    let (s, b) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/roles",
            Some(json!({"name": "Dev", "privileges": ["Execute"]})),
        )
        .await;
    assert_eq!(s, 400, "custom roles need Advanced User Security");
    assert!(b["message"]
        .as_str()
        .unwrap()
        .contains("Advanced User Security"));
    app.enable_aus().await;
    let (s, dev) = app.admin("POST", "/api/v1/accounts/{acct}/roles", Some(json!({"name": "Dev", "inherits": "Standard User", "privileges": ["Atom Management", "VIEW_AUDIT_LOGS"]}))).await;
    assert_eq!(s, 201, "{dev}");
    assert_eq!(dev["inherits"], "STANDARD_USER");
    assert_eq!(
        dev["privileges"],
        json!(["RUNTIME_MANAGEMENT", "VIEW_AUDIT_LOGS"])
    );
    let eff: Vec<&str> = dev["effective_privileges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        eff.contains(&"EXECUTE")
            && eff.contains(&"VIEW_AUDIT_LOGS")
            && !eff.contains(&"USER_MANAGEMENT")
    );
    // By name, case-insensitively.
    let (s, b) = app
        .admin("GET", "/api/v1/accounts/{acct}/roles/dev", None)
        .await;
    assert_eq!((s, b["id"].clone()), (200, dev["id"].clone()));
    let (s, b) = app
        .admin("GET", "/api/v1/accounts/{acct}/roles/Administrator", None)
        .await;
    assert_eq!((s, b["builtin"].clone()), (200, json!(true)));
    // Built-ins are read-only.
    let (s, _) = app
        .admin(
            "PUT",
            "/api/v1/accounts/{acct}/roles/Support",
            Some(json!({"name": "Support", "privileges": []})),
        )
        .await;
    assert_eq!(s, 409);
    let (s, _) = app
        .admin(
            "DELETE",
            "/api/v1/accounts/{acct}/roles/ADMINISTRATOR",
            None,
        )
        .await;
    assert_eq!(s, 409);
    // Update, child inheritance, delete order.
    let (s, lead) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/roles",
            Some(json!({"name": "Lead", "inherits": "Dev", "privileges": []})),
        )
        .await;
    assert_eq!(s, 201, "{lead}");
    let (s, b) = app
        .admin(
            "PUT",
            "/api/v1/accounts/{acct}/roles/Dev",
            Some(json!({"name": "Developer", "privileges": ["Execute"], "description": "builds"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (
            b["name"].clone(),
            b["inherits"].clone(),
            b["description"].clone()
        ),
        (json!("Developer"), Value::Null, json!("builds"))
    );
    let (s, b) = app
        .admin("DELETE", "/api/v1/accounts/{acct}/roles/Developer", None)
        .await;
    assert_eq!(s, 409, "Lead inherits it: {b}");
    let (s, _) = app
        .admin("DELETE", "/api/v1/accounts/{acct}/roles/Lead", None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = app
        .admin("GET", "/api/v1/accounts/{acct}/roles/Lead", None)
        .await;
    assert_eq!(s, 404);
    let (_, list) = app
        .admin("GET", "/api/v1/accounts/{acct}/roles", None)
        .await;
    let n = names(&list);
    assert!(
        n.contains(&"Developer".to_string())
            && n.contains(&"Administrator".to_string())
            && !n.contains(&"Lead".to_string())
    );
    let actions: Vec<String> = app
        .audit()
        .await
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["action"].as_str().unwrap(),
                &e["outcome"].as_str().unwrap()[..4]
            )
        })
        .collect();
    for want in [
        "role.create:succ",
        "role.update:succ",
        "role.delete:succ",
        "role.delete:reje",
    ] {
        assert!(actions.contains(&want.to_string()), "{want} in {actions:?}");
    }
}

async fn custom_role_bad_input_changes_nothing(app: &TestApp) {
    app.enable_aus().await;
    let (s, a) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/roles",
            Some(json!({"name": "A", "privileges": ["Execute"]})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/roles",
            Some(json!({"name": "B", "inherits": "A", "privileges": []})),
        )
        .await;
    assert_eq!(s, 201);
    let (_, before) = app
        .admin("GET", "/api/v1/accounts/{acct}/roles", None)
        .await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"name": "a", "privileges": []}),
            409,
            "already exists",
        ),
        (
            json!({"name": "Support", "privileges": []}),
            409,
            "built-in",
        ),
        (
            json!({"name": "C", "privileges": ["Teleport"]}),
            400,
            "unknown privilege: Teleport",
        ),
        (
            json!({"name": "C", "privileges": ["API Management - Roles"]}),
            400,
            "deprecated",
        ),
        (
            json!({"name": "C", "privileges": ["API_MANAGEMENT_TESTING"]}),
            400,
            "deprecated",
        ),
        (
            json!({"name": "C", "inherits": "API Control Plane Administrator", "privileges": []}),
            400,
            "cannot be extended",
        ),
        (
            json!({"name": "C", "inherits": "Cloud API Management Administrator", "privileges": []}),
            400,
            "cannot be extended",
        ),
        (
            json!({"name": "C", "privileges": ["Cloud API Management User"]}),
            400,
            "reserved",
        ),
        (
            json!({"name": "C", "inherits": "Nobody", "privileges": []}),
            400,
            "unknown role: Nobody",
        ),
        (json!({"name": "", "privileges": []}), 400, "1 to 200"),
        (
            json!({"name": "C", "privileges": "Execute"}),
            400,
            "invalid JSON",
        ),
        (json!({"name": "C", "colour": "red"}), 400, "unknown field"),
    ];
    for (body, status, msg) in cases {
        let (s, b) = app
            .admin("POST", "/api/v1/accounts/{acct}/roles", Some(body.clone()))
            .await;
        assert_eq!(s, status, "{body} -> {b}");
        assert!(
            b["message"].as_str().unwrap_or_default().contains(msg),
            "{body} -> {b}"
        );
    }
    // A inherits B would close the loop B -> A.
    let (s, b) = app
        .admin(
            "PUT",
            "/api/v1/accounts/{acct}/roles/A",
            Some(json!({"name": "A", "inherits": "B", "privileges": ["Execute"]})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(b["message"].as_str().unwrap().contains("cycle"), "{b}");
    let (s, _) = app
        .admin(
            "PUT",
            "/api/v1/accounts/{acct}/roles/A",
            Some(json!({"name": "A", "inherits": "A", "privileges": []})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = app
        .admin(
            "PUT",
            "/api/v1/accounts/{acct}/roles/Missing",
            Some(json!({"name": "x", "privileges": []})),
        )
        .await;
    assert_eq!(s, 404);
    let (_, after) = app
        .admin("GET", "/api/v1/accounts/{acct}/roles", None)
        .await;
    assert_eq!(before, after, "refused writes left the roles as they were");
    let (_, a2) = app
        .admin("GET", "/api/v1/accounts/{acct}/roles/A", None)
        .await;
    assert_eq!(a, a2);
}

async fn environments(app: &TestApp) {
    app.enable_aus().await;
    let (_, std_key) = app
        .user_with_roles("std@acme.test", &["Standard User"])
        .await;
    let (_, sup_key) = app.user_with_roles("sup@acme.test", &["Support"]).await;
    // Support lacks Environment Management; Standard User has it (seed 000).
    let (s, b) = app
        .json(
            "POST",
            "/api/v1/accounts/{acct}/environments",
            &sup_key,
            Some(json!({"name": "Dev", "roles": []})),
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(b["missing_privilege"], json!(["Environment Management"]));
    let (s, prod) = app
        .json(
            "POST",
            "/api/v1/accounts/{acct}/environments",
            &std_key,
            Some(
                json!({"name": "Production", "classification": "production", "roles": ["Support"]}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{prod}");
    assert_eq!(prod["roles"], json!(["SUPPORT"]));
    for (body, status) in [
        (json!({"name": "production", "roles": []}), 409),
        (json!({"name": "X", "roles": ["Ghost"]}), 400),
        (
            json!({"name": "X", "classification": "staging", "roles": []}),
            400,
        ),
    ] {
        let (s, b) = app
            .admin(
                "POST",
                "/api/v1/accounts/{acct}/environments",
                Some(body.clone()),
            )
            .await;
        assert_eq!(s, status, "{body} -> {b}");
    }
    let (s, list) = app
        .admin("GET", "/api/v1/accounts/{acct}/environments", None)
        .await;
    assert_eq!((s, names(&list)), (200, vec!["Production".to_string()]));
    let (s, b) = app.admin("PUT", "/api/v1/accounts/{acct}/environments/production", Some(json!({"name": "Prod", "classification": "production", "roles": ["Standard User", "SUPPORT"]}))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["name"], "Prod");
    assert_eq!(b["roles"].as_array().unwrap().len(), 2);
    let (s, _) = app
        .json(
            "DELETE",
            "/api/v1/accounts/{acct}/environments/Prod",
            &sup_key,
            None,
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = app
        .admin("DELETE", "/api/v1/accounts/{acct}/environments/Prod", None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = app
        .admin("GET", "/api/v1/accounts/{acct}/environments/Prod", None)
        .await;
    assert_eq!(s, 404);
    assert!(app
        .audit()
        .await
        .iter()
        .any(|e| e["action"] == "environment.create" && e["outcome"] == "denied"));
}

async fn group_mappings(app: &TestApp) {
    let (s, b) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/group-mappings",
            Some(json!({"group": {"displayName": "Admins"}, "roles": ["Administrator"]})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        b["message"].as_str().unwrap().contains("Administrator"),
        "{b}"
    );
    let (s, _) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/group-mappings",
            Some(json!({"group": {"displayName": "Eng"}, "roles": ["Nope"]})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/group-mappings",
            Some(json!({"group": {"displayName": "Eng", "id": "x"}, "roles": ["Standard User"]})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/group-mappings",
            Some(json!({"group": {"displayName": "Eng"}, "roles": ["Production Support"]})),
        )
        .await;
    assert_eq!(s, 400, "Production Support needs Advanced User Security");
    let (_, list) = app
        .admin("GET", "/api/v1/accounts/{acct}/group-mappings", None)
        .await;
    assert_eq!(list, json!([]), "refused mappings were not stored");
    let (s, m) = app.admin("POST", "/api/v1/accounts/{acct}/group-mappings", Some(json!({"group": {"externalId": "eng-1"}, "roles": ["Standard User", "API Manager"]}))).await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["group"], json!({"externalId": "eng-1"}));
    assert_eq!(m["roles"].as_array().unwrap().len(), 2);
    let (_, list) = app
        .admin("GET", "/api/v1/accounts/{acct}/group-mappings", None)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (s, _) = app
        .admin(
            "DELETE",
            &format!(
                "/api/v1/accounts/{{acct}}/group-mappings/{}",
                m["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = app
        .admin(
            "DELETE",
            &format!(
                "/api/v1/accounts/{{acct}}/group-mappings/{}",
                m["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(s, 404);
}

async fn limited_user_management(app: &TestApp) {
    app.enable_aus().await;
    let (s, _) = app.admin("POST", "/api/v1/accounts/{acct}/roles", Some(json!({"name": "Helpdesk", "privileges": ["User Management - Limited", "Execute", "View Results"]}))).await;
    assert_eq!(s, 201);
    let (s, _) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/roles",
            Some(json!({"name": "Runner", "privileges": ["Execute"]})),
        )
        .await;
    assert_eq!(s, 201);
    let (_, limited) = app
        .user_with_roles("helpdesk@acme.test", &["Helpdesk"])
        .await;
    let (target, _) = app.user_with_roles("worker@acme.test", &[]).await;
    let path = format!("/api/v1/accounts/{{acct}}/users/{target}/roles");
    // Within the actor's own privileges: allowed.
    let (s, b) = app
        .json("PUT", &path, &limited, Some(json!({"roles": ["Runner"]})))
        .await;
    assert_eq!(s, 200, "{b}");
    // Beyond them: 403 naming what is missing, nothing changed.
    let (s, b) = app
        .json(
            "PUT",
            &path,
            &limited,
            Some(json!({"roles": ["Runner", "Standard User"]})),
        )
        .await;
    assert_eq!(s, 403, "{b}");
    assert!(
        b["missing_privilege"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "Scheduling"),
        "{b}"
    );
    let (_, b) = app.admin("GET", &path, None).await;
    let runner = app
        .admin("GET", "/api/v1/accounts/{acct}/roles/Runner", None)
        .await
        .1["id"]
        .clone();
    assert_eq!(b["roles"], json!([runner]));
    // Limited may not map groups to roles beyond its privileges either.
    let (s, _) = app
        .json(
            "POST",
            "/api/v1/accounts/{acct}/group-mappings",
            &limited,
            Some(json!({"group": {"displayName": "Ops"}, "roles": ["Standard User"]})),
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = app
        .json(
            "POST",
            "/api/v1/accounts/{acct}/group-mappings",
            &limited,
            Some(json!({"group": {"displayName": "Ops"}, "roles": ["Runner"]})),
        )
        .await;
    assert_eq!(s, 201);
    // Nor build roles out of privileges it lacks.
    let (s, _) = app
        .json(
            "POST",
            "/api/v1/accounts/{acct}/roles",
            &limited,
            Some(json!({"name": "Sneaky", "privileges": ["Account Administration"]})),
        )
        .await;
    assert_eq!(s, 403);
    // Without any user management privilege.
    let (_, runner_key) = app.user_with_roles("runner@acme.test", &["Runner"]).await;
    let (s, b) = app
        .json("PUT", &path, &runner_key, Some(json!({"roles": []})))
        .await;
    assert_eq!(s, 403);
    assert_eq!(
        b["missing_privilege"],
        json!(["User Management", "User Management - Limited"])
    );
    // Unknown role / user.
    let (s, _) = app
        .admin("PUT", &path, Some(json!({"roles": ["Wizard"]})))
        .await;
    assert_eq!(s, 400);
    let (s, _) = app
        .admin(
            "PUT",
            "/api/v1/accounts/{acct}/users/nobody@acme.test/roles",
            Some(json!({"roles": []})),
        )
        .await;
    assert_eq!(s, 404);
    // Support needs Advanced User Security only when the account lacks it; here it has it.
    let (s, _) = app
        .admin("PUT", &path, Some(json!({"roles": ["Support"]})))
        .await;
    assert_eq!(s, 200);
}

/// Puts a user in a SCIM group (written directly: the SCIM API is tested elsewhere).
async fn member_of(app: &TestApp, user_id: &str, display: &str) -> String {
    let gid = new_id();
    let now = now_ms();
    group::ActiveModel {
        id: Set(gid.clone()),
        account_id: Set(app.account_id.clone()),
        display_name: Set(display.into()),
        display_name_norm: Set(display.to_lowercase()),
        external_id: Set(None),
        attributes: Set("{}".into()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&app.db)
    .await
    .unwrap();
    group_member::ActiveModel {
        group_id: Set(gid.clone()),
        user_id: Set(user_id.into()),
    }
    .insert(&app.db)
    .await
    .unwrap();
    gid
}

async fn access_explain_and_authorize(app: &TestApp) {
    app.enable_aus().await;
    for (name, privs) in [
        ("Dev", json!(["View Data", "Execute"])),
        ("Production_Read_Only", json!(["View Results"])),
    ] {
        let (s, _) = app
            .admin(
                "POST",
                "/api/v1/accounts/{acct}/roles",
                Some(json!({"name": name, "privileges": privs})),
            )
            .await;
        assert_eq!(s, 201);
    }
    for (env, role) in [
        ("Development", "Dev"),
        ("Production", "Production_Read_Only"),
    ] {
        let (s, _) = app
            .admin(
                "POST",
                "/api/v1/accounts/{acct}/environments",
                Some(json!({"name": env, "roles": [role]})),
            )
            .await;
        assert_eq!(s, 201);
    }
    let (uid, user_key) = app.user_with_roles("mixer@acme.test", &["Dev"]).await;
    member_of(app, &uid, "Prod Watchers").await;
    let (s, _) = app.admin("POST", "/api/v1/accounts/{acct}/group-mappings", Some(json!({"group": {"displayName": "prod watchers"}, "roles": ["Production_Read_Only"]}))).await;
    assert_eq!(s, 201);

    let (s, acc) = app
        .admin(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/users/{uid}/access"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{acc}");
    let roles = acc["roles"].as_array().unwrap();
    let dev = roles.iter().find(|r| r["role"] == "Dev").unwrap();
    assert_eq!(dev["via"], json!([{"source": "direct"}]));
    let pro = roles
        .iter()
        .find(|r| r["role"] == "Production_Read_Only")
        .unwrap();
    assert_eq!(
        pro["via"],
        json!([{"source": "group", "group": "Prod Watchers"}])
    );
    assert!(acc["privileges"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["key"] == "VIEW_DATA" && p["via"] == json!(["Dev"])));
    assert!(acc["environments"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["name"] == "Production" && e["via"] == json!(["Production_Read_Only"])));
    // The explanation flags what is allowed only by additive mixing.
    let flagged = acc["additive_only"].as_array().unwrap();
    assert!(
        flagged
            .iter()
            .any(|a| a["privilege"] == "VIEW_DATA" && a["environment"] == "Production"),
        "{acc}"
    );
    assert!(
        !flagged
            .iter()
            .any(|a| a["privilege"] == "VIEW_DATA" && a["environment"] == "Development"),
        "one role grants and reaches it: {acc}"
    );
    // A user may see their own access, not someone else's.
    let (s, _) = app
        .json(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/users/{uid}/access"),
            &user_key,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .json(
            "GET",
            &format!(
                "/api/v1/accounts/{{acct}}/users/{}/access",
                app.admin_user_id
            ),
            &user_key,
            None,
        )
        .await;
    assert_eq!(s, 403);

    let ask = |privilege: &str, env: Option<&str>| json!({"account": app.account_id, "user": "MIXER@acme.test", "privilege": privilege, "environment": env});
    let (s, d) = app
        .admin(
            "POST",
            "/api/v1/authorize",
            Some(ask("View Data", Some("Production"))),
        )
        .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(
        (d["allowed"].clone(), d["additive_only"].clone()),
        (json!(true), json!(true)),
        "{d}"
    );
    assert_eq!(
        d["via"],
        json!({"privilege": ["Dev"], "environment": ["Production_Read_Only"]})
    );
    let (_, d) = app
        .admin(
            "POST",
            "/api/v1/authorize",
            Some(ask("VIEW_DATA", Some("Development"))),
        )
        .await;
    assert_eq!(
        (d["allowed"].clone(), d["additive_only"].clone()),
        (json!(true), json!(false))
    );
    let (_, d) = app
        .admin("POST", "/api/v1/authorize", Some(ask("Scheduling", None)))
        .await;
    assert_eq!(d["allowed"], json!(false));
    // Strict scoping refuses the mixed decision; the change is seen at once.
    app.admin(
        "PATCH",
        "/api/v1/accounts/{acct}",
        Some(json!({"environment_scoping": "strict"})),
    )
    .await;
    let (_, d) = app
        .admin(
            "POST",
            "/api/v1/authorize",
            Some(ask("View Data", Some("Production"))),
        )
        .await;
    assert_eq!(d["allowed"], json!(false), "{d}");
    // Removing the direct role is seen at once too (cache invalidated).
    app.admin(
        "PUT",
        &format!("/api/v1/accounts/{{acct}}/users/{uid}/roles"),
        Some(json!({"roles": []})),
    )
    .await;
    let (_, d) = app
        .admin(
            "POST",
            "/api/v1/authorize",
            Some(ask("View Data", Some("Development"))),
        )
        .await;
    assert_eq!(d["allowed"], json!(false), "{d}");
    // Errors.
    let (s, _) = app.admin("POST", "/api/v1/authorize", Some(json!({"account": app.account_id, "user": "ghost@acme.test", "privilege": "Execute"}))).await;
    assert_eq!(s, 404);
    let (s, _) = app
        .admin("POST", "/api/v1/authorize", Some(ask("Levitate", None)))
        .await;
    assert_eq!(s, 400);
    let (s, _) = app
        .admin(
            "POST",
            "/api/v1/authorize",
            Some(ask("Execute", Some("Mars"))),
        )
        .await;
    assert_eq!(s, 404);
    let (s, b) = app
        .json(
            "POST",
            "/api/v1/authorize",
            &user_key,
            Some(ask("Execute", None)),
        )
        .await;
    assert_eq!(s, 403, "callers need API Access");
    assert_eq!(b["missing_privilege"], json!(["API Access"]));
}

async fn audit_log(app: &TestApp) {
    let (_, std_key) = app
        .user_with_roles("std@acme.test", &["Standard User"])
        .await;
    let (s, b) = app
        .json("GET", "/api/v1/accounts/{acct}/audit", &std_key, None)
        .await;
    assert_eq!(s, 403);
    assert_eq!(b["missing_privilege"], json!(["View Audit Logs"]));
    for i in 0..5 {
        app.admin(
            "PATCH",
            "/api/v1/accounts/{acct}",
            Some(json!({"name": format!("Acme {i}")})),
        )
        .await;
    }
    let (s, page1) = app
        .admin(
            "GET",
            "/api/v1/accounts/{acct}/audit?action=account.update&limit=3",
            None,
        )
        .await;
    assert_eq!(s, 200);
    let ev = page1["events"].as_array().unwrap();
    assert_eq!(ev.len(), 3);
    assert!(ev.iter().all(|e| e["action"] == "account.update"
        && e["actor"] == "breakglass@acme.test"
        && e["target"] == app.account_id.as_str()));
    assert_eq!(ev[0]["details"]["name"], "Acme 4", "newest first");
    let cursor = page1["next_cursor"].as_i64().unwrap();
    let (_, page2) = app
        .admin(
            "GET",
            &format!(
                "/api/v1/accounts/{{acct}}/audit?action=account.update&limit=3&cursor={cursor}"
            ),
            None,
        )
        .await;
    assert_eq!(page2["events"].as_array().unwrap().len(), 2);
    assert!(page2["next_cursor"].is_null());
    let (s, _) = app
        .admin("GET", "/api/v1/accounts/{acct}/audit?since=yesterday", None)
        .await;
    assert_eq!(s, 400);
    let (_, b) = app
        .admin(
            "GET",
            "/api/v1/accounts/{acct}/audit?since=2999-01-01T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(b["events"], json!([]));
}

async fn scim_tokens_api(app: &TestApp) {
    let (_, std_key) = app
        .user_with_roles("std@acme.test", &["Standard User"])
        .await;
    let (s, _) = app
        .json(
            "POST",
            "/api/v1/accounts/{acct}/scim-tokens",
            &std_key,
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 403);
    let (s, t) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/scim-tokens",
            Some(json!({"expires_in_days": 30})),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    let token = t["token"].as_str().unwrap();
    assert!(token.starts_with("idbs_"));
    let (_, list) = app
        .admin("GET", "/api/v1/accounts/{acct}/scim-tokens", None)
        .await;
    let listed = serde_json::to_string(&list).unwrap();
    // The secret is everything after the id (it may itself contain `_`).
    let secret = token.splitn(3, '_').nth(2).unwrap();
    assert!(!listed.contains(secret), "the secret is never listed");
    let mine = list
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == t["id"])
        .unwrap();
    assert!(mine["expires_at"].is_string());
    assert!(mine["last_used_at"].is_null(), "never used yet: {mine}");
    // Using it is recorded (off the request's path, so it may take a moment).
    let r = app
        .client
        .get(app.url("/scim/v2/Users?count=1"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut used = Value::Null;
    for _ in 0..50 {
        let (_, list) = app
            .admin("GET", "/api/v1/accounts/{acct}/scim-tokens", None)
            .await;
        used = list
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == t["id"])
            .unwrap()["last_used_at"]
            .clone();
        if used.is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(used.is_string(), "last use recorded");
    // Stored hashed: the secret does not appear in the database row.
    let row = idbridge::store::credentials::list_scim_tokens(&app.db, &app.account_id)
        .await
        .unwrap();
    assert!(row
        .iter()
        .all(|r| r.secret_hash != secret && !r.secret_hash.contains(secret)));
    let id = t["id"].as_str().unwrap();
    let (s, _) = app
        .admin(
            "DELETE",
            &format!("/api/v1/accounts/{{acct}}/scim-tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = app
        .admin(
            "DELETE",
            &format!("/api/v1/accounts/{{acct}}/scim-tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 404);
    assert!(
        idbridge::store::credentials::verify_scim_token(&app.db, token)
            .await
            .unwrap()
            .is_none()
    );
}

async fn operations(app: &TestApp) {
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    app.admin("GET", "/api/v1/privileges", None).await;
    let m = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("idbridge_http_requests_total{method=\"GET\",route=\"/api/v1/privileges\",status=\"200\"} 1"), "{m}");
    assert!(m.contains(
        "idbridge_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/privileges\"}"
    ));
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["paths"]["/api/v1/authorize"]["post"].is_object(),
        "{}",
        doc["paths"]
    );
    assert!(doc["paths"]["/api/v1/accounts/{id}/roles/{role}"]["put"].is_object());
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        r.headers()
            .get("x-request-id")
            .unwrap()
            .to_str()
            .unwrap()
            .len(),
        36,
        "request id echoed"
    );
    let r = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
}
