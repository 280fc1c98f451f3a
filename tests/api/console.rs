//! The console in a real browser: Debian's Chromium driven by
//! tests/e2e/console_journey.mjs (playwright-core, no browser download)
//! through the journey of a new administrator, against this server and the
//! oidc-provider peer. Screenshots go to IDBRIDGE_CONSOLE_SHOTS (docs/console
//! when refreshing the README's pictures) or a temporary directory.

use crate::helpers::{spawn, Backend};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_administrator_sets_everything_up_in_the_console() {
    let app = spawn(Backend::Sqlite).await.expect("app");
    let script = tokio::task::block_in_place(crate::peers::oidc_provider);
    let chromium = tokio::task::block_in_place(crate::peers::chromium);
    let accounts =
        json!({"dev@acme.test": {"groups": ["Engineers"]}, "lim@acme.test": {"groups": []}});
    let op = crate::e2e_oidc::start_provider(
        &script.display().to_string(),
        &app.url("/sso/callback"),
        accounts,
    )
    .await;
    let shots_dir = tempfile::tempdir().unwrap();
    let shots = std::env::var("IDBRIDGE_CONSOLE_SHOTS")
        .unwrap_or_else(|_| shots_dir.path().display().to_string());
    let journey = script.with_file_name("console_journey.mjs");
    // The server runs on this runtime's other worker while node drives the browser.
    let out = tokio::task::block_in_place(|| {
        std::process::Command::new("node")
            .arg(&journey)
            .env("BASE", app.url(""))
            .env("ACCOUNT", &app.account_id)
            .env("EMAIL", &app.break_glass.email)
            .env("PASSWORD", &app.break_glass.password)
            .env("TOTP_SECRET", &app.break_glass.totp_secret)
            .env("ISSUER", &op.issuer)
            .env("SHOTS", &shots)
            .env("CHROMIUM", &chromium)
            .output()
    })
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "journey failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("findings");

    // The test sign-in showed what the IdP sent, and started no session for it.
    assert_eq!(f["test_email"], json!("dev@acme.test"));
    assert_eq!(f["test_groups"], json!("Engineers"));
    assert!(f["issuer_error"].as_str().unwrap().contains("https"), "{f}");
    // Every action of the journey is in the audit log, as the API recorded it.
    let actions: Vec<&str> = f["audit_actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for a in [
        "break_glass.login",
        "sso.connection.create",
        "sso.test",
        "role.create",
        "group_mapping.create",
        "scim_token.create",
        "scim_token.revoke",
    ] {
        assert!(
            actions.contains(&a),
            "{a} missing from the audit view: {actions:?}"
        );
    }
    // The wizard's token pushed the SCIM user: its last use is shown.
    let last_used: Vec<&str> = f["tokens_last_used"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(last_used.iter().any(|u| *u != "never"), "{last_used:?}");
    // Forged forms changed nothing.
    assert_eq!(f["missing_token_status"], json!(403));
    let (_, roles) = app
        .admin("GET", "/api/v1/accounts/{acct}/roles", None)
        .await;
    assert!(!roles.to_string().contains("Forged Role"));
    assert!(roles.to_string().contains("Integration Developer"));
    // The Limited user's console offers and allows only what the API does.
    let nav = f["limited_nav"].as_str().unwrap();
    assert!(
        !nav.contains("Audit log") && !nav.contains("Identity provider"),
        "{nav}"
    );
    assert_eq!(f["limited_audit"], json!(true));
    assert_eq!(f["limited_token_button"], json!(0));
    assert_eq!(
        f["limited_token_post"],
        json!({"status": 422, "refused": true})
    );
    let (_, tokens) = app
        .admin("GET", "/api/v1/accounts/{acct}/scim-tokens", None)
        .await;
    assert_eq!(
        tokens.as_array().unwrap().len(),
        3,
        "the spawn's, the wizard's and the revoked one: {tokens}"
    );
    // The test sign-in left no session: only the two real sign-ins did.
    let sessions = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e["action"] == "sso.login")
        .count();
    assert_eq!(sessions, 1, "only the Limited user's real sign-in");
}
