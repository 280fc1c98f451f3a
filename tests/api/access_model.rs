//! The rest of the platform's access model, through the HTTP API: Agent
//! Garden roles, account features, support access, account groups.

use crate::helpers::TestApp;
use serde_json::{json, Value};

both_backends!(
    agent_garden_roles,
    account_features,
    support_access,
    account_groups
);

/// `POST /authorize` with `key`: (status, decision).
async fn authorize(
    app: &TestApp,
    key: &str,
    account: &str,
    user: &str,
    privilege: &str,
) -> (u16, Value) {
    app.json(
        "POST",
        "/api/v1/authorize",
        key,
        Some(json!({"account": account, "user": user, "privilege": privilege})),
    )
    .await
}

fn role<'a>(access: &'a Value, name: &str) -> Option<&'a Value> {
    access["roles"]
        .as_array()?
        .iter()
        .find(|r| r["role"] == name)
}

async fn agent_garden_roles(app: &TestApp) {
    let acct = app.account_id.clone();
    let (std_id, _) = app
        .user_with_roles("std@acme.test", &["Standard User"])
        .await;
    // Standard User implies Agent Garden User: shown as implied, not stored.
    let (s, access) = app
        .admin(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/users/{std_id}/access"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{access}");
    let ag = role(&access, "Agent Garden User").expect("implied role");
    assert_eq!(
        ag["via"],
        json!([{"source": "implied", "by": "Standard User"}])
    );
    assert_eq!(ag["family"], "agent_garden");
    let (s, direct) = app
        .admin(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/users/{std_id}/roles"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(direct["roles"], json!(["STANDARD_USER"]), "never stored");
    let (_, d) = authorize(
        app,
        &app.admin_key,
        &acct,
        "std@acme.test",
        "AGENT_GARDEN_USE",
    )
    .await;
    assert_eq!(d["allowed"], true, "{d}");
    let (_, d) = authorize(
        app,
        &app.admin_key,
        &acct,
        "std@acme.test",
        "Agent Control Tower",
    )
    .await;
    assert_eq!(d["allowed"], false, "{d}");
    // Developer, assigned directly.
    app.user_with_roles(
        "dev@acme.test",
        &["Standard User", "Agent Garden Developer"],
    )
    .await;
    let (_, d) = authorize(
        app,
        &app.admin_key,
        &acct,
        "dev@acme.test",
        "AGENT_CONTROL_TOWER",
    )
    .await;
    assert_eq!(d["allowed"], true, "{d}");
    assert_eq!(d["via"]["privilege"], json!(["Agent Garden Developer"]));
    // Developer through a group mapping, for a user provisioned over SCIM.
    let (s, b) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/group-mappings",
            Some(json!({"group": {"displayName": "agent-builders"}, "roles": ["Agent Garden Developer"]})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, u, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ana@acme.test"})),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    let (_, d) = authorize(
        app,
        &app.admin_key,
        &acct,
        "ana@acme.test",
        "AGENT_CONTROL_TOWER",
    )
    .await;
    assert_eq!(d["allowed"], false, "not yet in the group: {d}");
    let (s, g, _) = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "agent-builders", "members": [{"value": u["id"]}]})),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let (_, d) = authorize(
        app,
        &app.admin_key,
        &acct,
        "ana@acme.test",
        "AGENT_CONTROL_TOWER",
    )
    .await;
    assert_eq!(d["allowed"], true, "{d}");
    // Developer through a custom role that inherits it.
    app.enable_aus().await;
    let (s, b) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/roles",
            Some(json!({"name": "Agent Builder", "inherits": "Agent Garden Developer", "privileges": ["Build Read Access"]})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    app.user_with_roles("ab@acme.test", &["Agent Builder"])
        .await;
    let (_, d) = authorize(
        app,
        &app.admin_key,
        &acct,
        "ab@acme.test",
        "AGENT_CONTROL_TOWER",
    )
    .await;
    assert_eq!(d["allowed"], true, "{d}");
    // Agent Garden capabilities are reached through roles, not added one by one.
    let (s, b) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/roles",
            Some(json!({"name": "Sneaky", "privileges": ["AGENT_CONTROL_TOWER"]})),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    // SCIM offers the family as canonical role values.
    let (s, schema, _) = app
        .scim(
            "GET",
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert!(
        schema.to_string().contains("Agent Garden Developer"),
        "{schema}"
    );
    // The session token carries them: the break-glass Administrator holds
    // Agent Garden Administrator, implied.
    let bg = &app.break_glass;
    let c = crate::sso::browser();
    let code = crate::sso::totp(&bg.totp_secret, 0);
    let (s, b) = crate::sso::local(app, &c, &bg.email, &bg.password, &code).await;
    assert_eq!(s, 200, "{b}");
    let (s, me) = crate::sso::session(app, &c).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(
        me["agent_garden_roles"],
        json!(["Agent Garden Administrator"])
    );
    assert_eq!(me["roles"], json!(["Administrator"]));
    let token = me["token"].as_str().expect("token");
    let payload = token.split('.').nth(1).expect("payload");
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64"),
    )
    .expect("json");
    assert_eq!(claims["ag_roles"], json!(["Agent Garden Administrator"]));
    assert!(claims["privs"]
        .as_array()
        .expect("privs")
        .contains(&json!("AGENT_GARDEN_ADMINISTRATION")));
}

async fn account_features(app: &TestApp) {
    let acct = app.account_id.clone();
    let (_, b) = app.admin("GET", "/api/v1/accounts/{acct}", None).await;
    assert_eq!(b["pii_data_insights"], false);
    assert_eq!(b["datahub"], false);
    // The Administrator holds the Data Detective privileges, but the account
    // has not enabled PII data insights.
    let bg = app.break_glass.email.clone();
    let (s, d) = authorize(
        app,
        &app.admin_key,
        &acct,
        &bg,
        "Data Detective Read Access",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(d["allowed"], false);
    assert!(
        d["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("pii_data_insights"),
        "{d}"
    );
    let (_, d) = authorize(
        app,
        &app.admin_key,
        &acct,
        &bg,
        "MDM - Stewardship Management",
    )
    .await;
    assert_eq!(d["allowed"], false);
    assert!(
        d["reason"].as_str().unwrap_or_default().contains("datahub"),
        "{d}"
    );
    // The explanation shows the gate.
    let (_, access) = app
        .admin(
            "GET",
            &format!(
                "/api/v1/accounts/{{acct}}/users/{}/access",
                app.admin_user_id
            ),
            None,
        )
        .await;
    let p = access["privileges"]
        .as_array()
        .expect("privileges")
        .iter()
        .find(|p| p["key"] == "DATA_DETECTIVE_READ_ACCESS")
        .expect("held");
    assert_eq!(p["usable"], false);
    assert_eq!(p["gated_by"], "pii_data_insights");
    // Only Account Administration changes features; a refusal changes nothing.
    let (_, std_key) = app
        .user_with_roles("std@acme.test", &["Standard User"])
        .await;
    let (s, b) = app
        .json(
            "PATCH",
            "/api/v1/accounts/{acct}",
            &std_key,
            Some(json!({"pii_data_insights": true})),
        )
        .await;
    assert_eq!(s, 403, "{b}");
    assert!(b.to_string().contains("Account Administration"), "{b}");
    let (_, d) = authorize(
        app,
        &app.admin_key,
        &acct,
        &bg,
        "DATA_DETECTIVE_READ_ACCESS",
    )
    .await;
    assert_eq!(d["allowed"], false, "unchanged");
    let (s, b) = app
        .admin(
            "PATCH",
            "/api/v1/accounts/{acct}",
            Some(json!({"pii_data_insights": true})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["pii_data_insights"], true);
    let (_, d) = authorize(
        app,
        &app.admin_key,
        &acct,
        &bg,
        "DATA_DETECTIVE_READ_ACCESS",
    )
    .await;
    assert_eq!(d["allowed"], true, "{d}");
    // Still gated: DataHub.
    let (_, d) = authorize(
        app,
        &app.admin_key,
        &acct,
        &bg,
        "MDM_STEWARDSHIP_MANAGEMENT",
    )
    .await;
    assert_eq!(d["allowed"], false);
    // Roles may be defined with a gated privilege while the feature is off.
    app.enable_aus().await;
    let (s, b) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/roles",
            Some(json!({"name": "Hub Steward", "inherits": "Standard User", "privileges": ["MDM - Stewardship Management"]})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    // Audited, with the change.
    let events = app.audit().await;
    let changed = events
        .iter()
        .find(|e| e["action"] == "account.update" && e["outcome"] == "success")
        .expect("audited");
    assert!(changed["details"].to_string().contains("pii_data_insights"));
    assert!(events
        .iter()
        .any(|e| e["action"] == "account.update" && e["outcome"] == "denied"));
    // The command line shows and changes them too.
    let (ok, v, err) = crate::cli::run(
        app,
        &[
            "account",
            "features",
            "--account",
            &acct,
            "--datahub",
            "true",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(v["datahub"], true);
    assert_eq!(v["pii_data_insights"], true);
    // The CLI wrote to the database behind the server's cache: wait for the change log.
    let mut allowed = false;
    for _ in 0..40 {
        let (_, d) = authorize(
            app,
            &app.admin_key,
            &acct,
            &bg,
            "MDM_STEWARDSHIP_MANAGEMENT",
        )
        .await;
        if d["allowed"] == true {
            allowed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(allowed, "a feature turned on by the CLI takes effect");
}

async fn support_access(app: &TestApp) {
    let customer = app.account_id.clone();
    app.enable_aus().await;
    let ops = app.other_account("Operator").await;
    let (_, sam_key) = app
        .user_in(
            &ops.id,
            &ops.admin_key,
            "sam@operator.test",
            &["Standard User"],
        )
        .await;
    // Nothing reaches the customer before a grant.
    let (s, _) = app
        .json("GET", "/api/v1/accounts/{acct}/roles", &sam_key, None)
        .await;
    assert_eq!(s, 404);
    // No support account yet: a grant would reach no one.
    let (s, b) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/support-access",
            Some(json!({"days": 7})),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    let (ok, v, err) = crate::cli::run(app, &["support-account", "set", "--account", &ops.id]);
    assert!(ok, "{err}");
    assert_eq!(v["support_account"], ops.id);
    let (ok, v, _) = crate::cli::run(app, &["support-account", "show"]);
    assert!(ok);
    assert_eq!(v["support_account"], ops.id);
    // A non-Administrator cannot grant it.
    let (_, std_key) = app
        .user_with_roles("std@acme.test", &["Standard User"])
        .await;
    let (s, b) = app
        .json(
            "POST",
            "/api/v1/accounts/{acct}/support-access",
            &std_key,
            Some(json!({"days": 7})),
        )
        .await;
    assert_eq!(s, 403, "{b}");
    // Bounds: at most 30 days; never the built-in Administrator.
    for (body, why) in [
        (json!({"days": 31}), "too long"),
        (json!({"days": 0}), "not in the future"),
        (json!({"days": 3, "role": "Administrator"}), "administrator"),
        (
            json!({"days": 3, "environments": ["Nowhere"]}),
            "unknown environment",
        ),
        (json!({"ends_at": "2020-01-01T00:00:00Z"}), "past"),
    ] {
        let (s, b) = app
            .admin("POST", "/api/v1/accounts/{acct}/support-access", Some(body))
            .await;
        assert_eq!(s, 400, "{why}: {b}");
    }
    // Support (the default role) for a week.
    let (s, g) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/support-access",
            Some(json!({"days": 7})),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    assert_eq!(g["role"], "Support");
    assert_eq!(g["live"], true);
    // Support staff can now read the account, and every read is audited in both.
    let (s, b) = app
        .json("GET", "/api/v1/accounts/{acct}/roles", &sam_key, None)
        .await;
    assert_eq!(s, 200, "{b}");
    // ...and act only as Support: creating an environment needs Environment Management.
    let (s, b) = app
        .json(
            "POST",
            "/api/v1/accounts/{acct}/environments",
            &sam_key,
            Some(json!({"name": "Sandbox", "roles": []})),
        )
        .await;
    assert_eq!(s, 403, "{b}");
    // They cannot extend their own access.
    let (s, _) = app
        .json(
            "POST",
            "/api/v1/accounts/{acct}/support-access",
            &sam_key,
            Some(json!({"days": 30, "role": "Standard User"})),
        )
        .await;
    assert_eq!(s, 403);
    // Platform services ask about them like anyone else.
    let (s, d) = authorize(
        app,
        &app.admin_key,
        &customer,
        "sam@operator.test",
        "Execute",
    )
    .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["allowed"], true, "Support executes: {d}");
    assert_eq!(d["via"]["privilege"], json!(["Support"]));
    let (_, d) = authorize(
        app,
        &app.admin_key,
        &customer,
        "sam@operator.test",
        "Scheduling",
    )
    .await;
    assert_eq!(d["allowed"], false);
    // A grant with a role that can write: the write is audited in both accounts.
    let (s, g2) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/support-access",
            Some(json!({"days": 1, "role": "Standard User"})),
        )
        .await;
    assert_eq!(s, 201, "{g2}");
    let (s, b) = app
        .json(
            "POST",
            "/api/v1/accounts/{acct}/environments",
            &sam_key,
            Some(json!({"name": "Sandbox", "roles": []})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let here = app.audit().await;
    let write = here
        .iter()
        .find(|e| e["action"] == "environment.create" && e["outcome"] == "success")
        .expect("audited in the customer account");
    assert_eq!(write["actor"], "sam@operator.test");
    assert_eq!(write["details"]["via"], "support access");
    assert!(here
        .iter()
        .any(|e| e["action"] == "support.read" && e["actor"] == "sam@operator.test"));
    let (s, there) = app
        .json(
            "GET",
            &format!("/api/v1/accounts/{}/audit?limit=1000", ops.id),
            &ops.admin_key,
            None,
        )
        .await;
    assert_eq!(s, 200, "{there}");
    let mirrored = there["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["action"] == "environment.create")
        .expect("audited in the operator account");
    assert_eq!(mirrored["details"]["via"], "support access");
    assert_eq!(mirrored["details"]["account"], customer);
    // Whatever the grant's role, support staff never mint credentials,
    // change SSO, account settings or roles, or widen the grant.
    let (s, b) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/roles",
            Some(json!({"name": "Support Admin", "inherits": "Standard User", "privileges": ["Account Administration", "User Management"]})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, g4) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/support-access",
            Some(json!({"days": 1, "role": "Support Admin"})),
        )
        .await;
    assert_eq!(s, 201, "{g4}");
    for (method, path, body) in [
        ("POST", "/api/v1/accounts/{acct}/scim-tokens", json!({})),
        ("POST", "/api/v1/accounts/{acct}/api-keys", json!({})),
        ("PATCH", "/api/v1/accounts/{acct}", json!({"datahub": true})),
        (
            "PUT",
            "/api/v1/accounts/{acct}/roles/Support%20Admin",
            json!({"name": "Support Admin", "inherits": "Administrator", "privileges": []}),
        ),
        (
            "POST",
            "/api/v1/accounts/{acct}/roles",
            json!({"name": "Mine", "privileges": ["Execute"]}),
        ),
        (
            "PUT",
            "/api/v1/accounts/{acct}/sso",
            json!({"issuer": "https://idp.example", "client_id": "c", "client_secret": "s"}),
        ),
    ] {
        let (s, b) = app.json(method, path, &sam_key, Some(body)).await;
        assert_eq!(s, 403, "{method} {path}: {b}");
    }
    let (_, d) = authorize(
        app,
        &app.admin_key,
        &customer,
        "sam@operator.test",
        "Account Administration",
    )
    .await;
    assert_eq!(d["allowed"], true, "the grant itself still works: {d}");
    // A role inheriting Administrator is refused like Administrator itself.
    let (s, b) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/roles",
            Some(json!({"name": "SSO_Admin", "inherits": "Administrator", "privileges": []})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/support-access",
            Some(json!({"days": 1, "role": "SSO_Admin"})),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    let g4_id = g4["id"].as_str().expect("id").to_string();
    let (s, _) = app
        .admin(
            "DELETE",
            &format!("/api/v1/accounts/{{acct}}/support-access/{g4_id}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    // Disabling ends their reach at once.
    for g in [&g, &g2] {
        let id = g["id"].as_str().expect("id");
        let (s, b) = app
            .admin(
                "DELETE",
                &format!("/api/v1/accounts/{{acct}}/support-access/{id}"),
                None,
            )
            .await;
        assert_eq!(s, 204, "{b}");
    }
    let (s, _) = app
        .json("GET", "/api/v1/accounts/{acct}/roles", &sam_key, None)
        .await;
    assert_eq!(s, 404);
    let (s, _) = authorize(
        app,
        &app.admin_key,
        &customer,
        "sam@operator.test",
        "Execute",
    )
    .await;
    assert_eq!(s, 404);
    // Expiry ends it with no one acting.
    let (s, g3) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/support-access",
            Some(json!({"days": 2})),
        )
        .await;
    assert_eq!(s, 201, "{g3}");
    let (s, _) = app
        .json("GET", "/api/v1/accounts/{acct}/roles", &sam_key, None)
        .await;
    assert_eq!(s, 200);
    let past = idbridge::store::now_ms() - 1;
    sea_orm::ConnectionTrait::execute_unprepared(
        &app.db,
        &format!(
            "UPDATE support_grants SET ends_at = {past} WHERE id = '{}'",
            g3["id"].as_str().expect("id")
        ),
    )
    .await
    .expect("expire");
    let (s, _) = app
        .json("GET", "/api/v1/accounts/{acct}/roles", &sam_key, None)
        .await;
    assert_eq!(s, 404, "an expired grant allows nothing");
    let (s, _) = authorize(
        app,
        &app.admin_key,
        &customer,
        "sam@operator.test",
        "Execute",
    )
    .await;
    assert_eq!(s, 404);
    let (s, list) = app
        .admin("GET", "/api/v1/accounts/{acct}/support-access", None)
        .await;
    assert_eq!(s, 200);
    assert!(list
        .as_array()
        .expect("grants")
        .iter()
        .all(|g| g["live"] == false));
    // Granting and disabling are audited.
    let here = app.audit().await;
    assert!(here
        .iter()
        .any(|e| e["action"] == "support.grant" && e["outcome"] == "success"));
    assert!(here
        .iter()
        .any(|e| e["action"] == "support.grant" && e["outcome"] == "denied"));
    assert!(here.iter().any(|e| e["action"] == "support.disable"));
}

async fn account_groups(app: &TestApp) {
    let parent = app.account_id.clone();
    let child = app.other_account("Child").await;
    let (pat_id, pat_key) = app
        .user_with_roles("pat@acme.test", &["Standard User"])
        .await;
    // Managing groups needs Account Group Management in the parent.
    let (s, b) = app
        .json(
            "POST",
            "/api/v1/accounts/{acct}/account-groups",
            &pat_key,
            Some(json!({"name": "EMEA"})),
        )
        .await;
    assert_eq!(s, 403, "{b}");
    assert!(b.to_string().contains("Account Group Management"), "{b}");
    let (s, g) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/account-groups",
            Some(json!({"name": "EMEA"})),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().expect("id").to_string();
    let (s, _) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/account-groups",
            Some(json!({"name": "emea"})),
        )
        .await;
    assert_eq!(s, 409);
    // A child that has not accepted the parent cannot be added: it answers
    // like an unknown account (no probing of account ids).
    let add_child = || async {
        app.admin(
            "PUT",
            &format!(
                "/api/v1/accounts/{{acct}}/account-groups/{gid}/accounts/{}",
                child.id
            ),
            None,
        )
        .await
    };
    let (s, b) = add_child().await;
    assert_eq!(s, 404, "{b}");
    let (s, b) = app
        .admin(
            "PUT",
            &format!("/api/v1/accounts/{{acct}}/account-groups/{gid}/accounts/no-such-account"),
            None,
        )
        .await;
    assert_eq!(s, 404, "{b}");
    // The child's administrator accepts the parent.
    let (s, b) = app
        .json(
            "PUT",
            &format!("/api/v1/accounts/{}/parent", child.id),
            &child.admin_key,
            Some(json!({"parent_account": parent})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["parent_account"], parent);
    let (s, b) = add_child().await;
    assert_eq!(s, 204, "{b}");
    // The child has a Production environment; the role applies only there.
    let (s, b) = app
        .json(
            "POST",
            &format!("/api/v1/accounts/{}/environments", child.id),
            &child.admin_key,
            Some(json!({"name": "Production", "classification": "production", "roles": ["Standard User"]})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = app
        .json(
            "POST",
            &format!("/api/v1/accounts/{}/environments", child.id),
            &child.admin_key,
            Some(json!({"name": "Test", "roles": ["Standard User"]})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    for (body, why) in [
        (
            json!({"user": "pat@acme.test", "roles": ["Administrator"]}),
            "administrator",
        ),
        (
            json!({"user": "nobody@acme.test", "roles": ["Standard User"]}),
            "unknown user",
        ),
        (
            json!({"user": "pat@acme.test", "group": {"displayName": "x"}, "roles": ["Standard User"]}),
            "both",
        ),
    ] {
        let (s, b) = app
            .admin(
                "POST",
                &format!("/api/v1/accounts/{{acct}}/account-groups/{gid}/roles"),
                Some(body),
            )
            .await;
        assert_eq!(s, 400, "{why}: {b}");
    }
    let (s, b) = app
        .admin(
            "POST",
            &format!("/api/v1/accounts/{{acct}}/account-groups/{gid}/roles"),
            Some(json!({"user": "pat@acme.test", "roles": ["Standard User"], "environments": ["Production"]})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    // `/authorize` on the child includes them, and says via the account group.
    let ask = |user: &'static str, privilege: &'static str, env: Option<&'static str>| {
        let child_id = child.id.clone();
        let key = child.admin_key.clone();
        async move {
            app.json(
                "POST",
                "/api/v1/authorize",
                &key,
                Some(json!({"account": child_id, "user": user, "privilege": privilege, "environment": env})),
            )
            .await
        }
    };
    let (s, d) = ask("pat@acme.test", "Execute", Some("Production")).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["allowed"], true, "{d}");
    let (_, d) = ask("pat@acme.test", "Execute", Some("Test")).await;
    assert_eq!(d["allowed"], false, "narrowed to Production: {d}");
    // The child's administrators see them, read-only.
    let (s, inherited) = app
        .json(
            "GET",
            &format!("/api/v1/accounts/{}/inherited-users", child.id),
            &child.admin_key,
            None,
        )
        .await;
    assert_eq!(s, 200, "{inherited}");
    let pat = inherited
        .as_array()
        .expect("list")
        .iter()
        .find(|u| u["email"] == "pat@acme.test")
        .expect("pat is listed");
    assert_eq!(pat["read_only"], true);
    assert_eq!(pat["account"], parent);
    let std = pat["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["role"] == "Standard User")
        .expect("the group's role");
    assert_eq!(std["via"][0]["source"], "account_group");
    assert_eq!(std["via"][0]["group"], "EMEA");
    let (s, _) = app
        .json(
            "PUT",
            &format!("/api/v1/accounts/{}/users/{pat_id}/roles", child.id),
            &child.admin_key,
            Some(json!({"roles": ["Administrator"]})),
        )
        .await;
    assert_eq!(s, 404, "not the child's user to change");
    // The child's own SCIM token cannot touch them.
    let r = app
        .client
        .get(format!("{}/scim/v2/Users/{pat_id}", app.base))
        .bearer_auth(&child.scim_token)
        .send()
        .await
        .expect("scim");
    assert_eq!(r.status().as_u16(), 404);
    let r = app
        .client
        .delete(format!("{}/scim/v2/Users/{pat_id}", app.base))
        .bearer_auth(&child.scim_token)
        .send()
        .await
        .expect("scim");
    assert_eq!(r.status().as_u16(), 404);
    let r: Value = app
        .client
        .get(format!(
            "{}/scim/v2/Users?filter=userName%20eq%20%22pat@acme.test%22",
            app.base
        ))
        .bearer_auth(&child.scim_token)
        .send()
        .await
        .expect("scim")
        .json()
        .await
        .expect("json");
    assert_eq!(r["totalResults"], 0);
    // Pat acts in the child with those roles; the write is audited there.
    let (s, b) = app
        .json(
            "GET",
            &format!("/api/v1/accounts/{}/environments", child.id),
            &pat_key,
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    // Roles through the parent's IdP groups: a SCIM group of the parent.
    let (s, ops, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ops@acme.test"})),
        )
        .await;
    assert_eq!(s, 201, "{ops}");
    let (s, grp, _) = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "emea-api", "members": [{"value": ops["id"]}]})),
        )
        .await;
    assert_eq!(s, 201, "{grp}");
    let (s, b) = app
        .admin(
            "POST",
            &format!("/api/v1/accounts/{{acct}}/account-groups/{gid}/roles"),
            Some(json!({"group": {"displayName": "EMEA-API"}, "roles": ["API Manager"]})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (_, d) = ask("ops@acme.test", "API Management - APIs", None).await;
    assert_eq!(d["allowed"], true, "{d}");
    // Leaving the group ends it at once.
    let gpath = format!("/Groups/{}", grp["id"].as_str().expect("id"));
    let (s, b, _) = app
        .scim(
            "PATCH",
            &gpath,
            Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove", "path": format!("members[value eq \"{}\"]", ops["id"].as_str().expect("id"))}]})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, _) = ask("ops@acme.test", "API Management - APIs", None).await;
    assert_eq!(s, 404, "no longer reaches the child");
    // A built-in Administrator of the parent gets nothing in the child beyond
    // the group's roles: the Administrator never comes from outside.
    let (_, d) = ask("breakglass@acme.test", "Execute", None).await;
    assert!(d["allowed"] != true, "{d}");
    // The Administrator rule holds for inherited users: the parent's built-in
    // Administrator, given a role in the child's group, still signs in
    // locally only.
    let (s, b) = app
        .admin(
            "POST",
            &format!("/api/v1/accounts/{{acct}}/account-groups/{gid}/roles"),
            Some(json!({"user": "breakglass@acme.test", "roles": ["Standard User"]})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (_, d) = ask("breakglass@acme.test", "Execute", Some("Production")).await;
    assert_eq!(
        d["allowed"], true,
        "the group's role applies in the child: {d}"
    );
    let idp = crate::sso::mock_idp().await;
    crate::sso::configure(app, &idp, "scim").await;
    let f = crate::sso::start(app).await;
    *idp.next_token.lock().expect("lock") = crate::sso::sign(
        &crate::sso::claims(&idp, "breakglass@acme.test", &f.nonce, &[]),
        "idp_key1.pem",
        "key1",
    );
    let (s, body) = crate::sso::finish(app, &f, "").await;
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("/auth/local"), "{body}");
    // An outside actor whose reach is narrowed to environments cannot touch
    // environments (a rename would move the narrowing), nor mint credentials.
    let envs = app
        .json(
            "GET",
            &format!("/api/v1/accounts/{}/environments", child.id),
            &pat_key,
            None,
        )
        .await
        .1;
    let prod = envs
        .as_array()
        .expect("environments")
        .iter()
        .find(|e| e["name"] == "Production")
        .expect("production")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let (s, b) = app
        .json(
            "PUT",
            &format!("/api/v1/accounts/{}/environments/{prod}", child.id),
            &pat_key,
            Some(json!({"name": "Prod-old", "roles": ["Standard User"]})),
        )
        .await;
    assert_eq!(s, 403, "{b}");
    let (s, b) = app
        .json(
            "POST",
            &format!("/api/v1/accounts/{}/api-keys", child.id),
            &pat_key,
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 403, "{b}");
    // Withdrawing the acceptance ends every reach at once; accepting again restores it.
    let (s, b) = app
        .json(
            "DELETE",
            &format!("/api/v1/accounts/{}/parent", child.id),
            &child.admin_key,
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, _) = ask("pat@acme.test", "Execute", Some("Production")).await;
    assert_eq!(s, 404);
    let (s, b) = app
        .json(
            "PUT",
            &format!("/api/v1/accounts/{}/parent", child.id),
            &child.admin_key,
            Some(json!({"parent_account": parent})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, _) = ask("pat@acme.test", "Execute", Some("Production")).await;
    assert_eq!(s, 200);
    // Removing the child ends every reach.
    let (s, _) = app
        .admin(
            "DELETE",
            &format!(
                "/api/v1/accounts/{{acct}}/account-groups/{gid}/accounts/{}",
                child.id
            ),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = ask("pat@acme.test", "Execute", Some("Production")).await;
    assert_eq!(s, 404);
    // Audited, and listed.
    let events = app.audit().await;
    for action in [
        "account_group.create",
        "account_group.add_account",
        "account_group.assign",
        "account_group.remove_account",
    ] {
        assert!(events.iter().any(|e| e["action"] == action), "{action}");
    }
    let (ok, v, err) = crate::cli::run(app, &["account-group", "list", "--account", &parent]);
    assert!(ok, "{err}");
    assert_eq!(v["groups"][0]["name"], "EMEA");
}
