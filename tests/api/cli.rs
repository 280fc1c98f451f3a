//! The command line: every creating command with `--json` prints exactly one
//! JSON object on stdout, shaped as the design says.

use crate::helpers::TestApp;
use serde_json::{json, Value};

both_backends!(cli_json_contract);

pub(crate) fn run(app: &TestApp, args: &[&str]) -> (bool, Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idbridge"))
        .args(args)
        .arg("--json")
        .env("IDBRIDGE_DATABASE_URL", &app.settings.database_url)
        .env(
            "IDBRIDGE_SECRETS_KEY",
            app.settings.sealing_key().unwrap_or_default(),
        )
        .env("IDBRIDGE_LOG_LEVEL", "warn")
        .output()
        .expect("idbridge runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.len() <= 1,
        "one JSON object on stdout, got {stdout:?}"
    );
    let v = lines
        .first()
        .map(|l| serde_json::from_str(l).expect("stdout is JSON"))
        .unwrap_or(Value::Null);
    (
        out.status.success(),
        v,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

async fn cli_json_contract(app: &TestApp) {
    let app_ref = app;
    let (ok, acct, err) = tokio::task::block_in_place(|| {
        run(
            app_ref,
            &[
                "account",
                "create",
                "--name",
                "CLI Co",
                "--admin-email",
                "root@cli.test",
            ],
        )
    });
    assert!(ok, "{err}");
    assert_eq!(keys(&acct), vec!["account_id", "break_glass"]);
    assert_eq!(
        keys(&acct["break_glass"]),
        vec!["email", "otpauth_uri", "password", "totp_secret", "user_id"]
    );
    let id = acct["account_id"].as_str().unwrap().to_string();
    let bg = &acct["break_glass"];
    // The printed credential works, and is stored only as a hash.
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let code = idbridge::secrets::totp_now(
        bg["totp_secret"].as_str().unwrap(),
        chrono::Utc::now().timestamp() as u64,
    )
    .unwrap();
    let r = c.post(app.url("/auth/local")).json(&json!({"account": id, "email": "root@cli.test", "password": bg["password"], "totp": code})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let idbridge::store::model::Lookup::One(stored) =
        idbridge::store::model::find_user(&app.db, &id, "root@cli.test")
            .await
            .unwrap()
    else {
        panic!("the break-glass user is found by email")
    };
    assert!(stored.password_hash.unwrap().starts_with("$argon2id$"));

    let (ok, reset, _) = tokio::task::block_in_place(|| {
        run(
            app_ref,
            &[
                "break-glass",
                "reset",
                "--account",
                &id,
                "--email",
                "root@cli.test",
            ],
        )
    });
    assert!(ok);
    assert_eq!(
        keys(&reset),
        vec!["email", "otpauth_uri", "password", "totp_secret"]
    );
    assert_ne!(reset["password"], bg["password"]);
    // The reset ended the session that was open.
    assert_eq!(
        c.get(app.url("/auth/session"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );

    let (ok, key, _) = tokio::task::block_in_place(|| {
        run(
            app_ref,
            &[
                "api-key",
                "create",
                "--account",
                &id,
                "--user",
                "ROOT@cli.test",
            ],
        )
    });
    assert!(ok);
    assert_eq!(keys(&key), vec!["id", "key"]);
    let r = app
        .client
        .get(app.url(&format!("/api/v1/accounts/{id}/roles")))
        .bearer_auth(key["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    let (ok, tok, _) = tokio::task::block_in_place(|| {
        run(
            app_ref,
            &[
                "scim-token",
                "create",
                "--account",
                &id,
                "--expires-in-days",
                "7",
            ],
        )
    });
    assert!(ok);
    assert_eq!(keys(&tok), vec!["id", "token"]);
    let (_, list, _) =
        tokio::task::block_in_place(|| run(app_ref, &["scim-token", "list", "--account", &id]));
    assert_eq!(list["tokens"][0]["id"], tok["id"]);
    assert!(!list.to_string().contains(tok["token"].as_str().unwrap()));
    let (ok, _, _) = tokio::task::block_in_place(|| {
        run(
            app_ref,
            &[
                "scim-token",
                "revoke",
                "--account",
                &id,
                "--id",
                tok["id"].as_str().unwrap(),
            ],
        )
    });
    assert!(ok);
    let (ok, _, err) = tokio::task::block_in_place(|| {
        run(
            app_ref,
            &[
                "scim-token",
                "revoke",
                "--account",
                &id,
                "--id",
                tok["id"].as_str().unwrap(),
            ],
        )
    });
    assert!(!ok && err.contains("no live SCIM token"));

    let (ok, cat, _) = tokio::task::block_in_place(|| run(app_ref, &["catalog", "privileges"]));
    assert!(ok);
    assert!(cat["privileges"].as_array().unwrap().len() >= 50);
    let (_, roles, _) = tokio::task::block_in_place(|| run(app_ref, &["catalog", "roles"]));
    // Eight platform roles and the three of Agent Garden.
    assert_eq!(roles["roles"].as_array().unwrap().len(), 11);

    let (ok, sso, err) = tokio::task::block_in_place(|| {
        run(
            app_ref,
            &[
                "sso",
                "set",
                "--account",
                &id,
                "--issuer",
                "https://login.example",
                "--client-id",
                "c",
                "--client-secret",
                "s",
                "--mode",
                "required",
                "--scope",
                "groups",
            ],
        )
    });
    assert!(ok, "{err}");
    assert_eq!(
        (
            sso["mode"].clone(),
            sso["scopes"].clone(),
            sso.get("client_secret")
        ),
        (json!("required"), json!(["groups"]), None)
    );
    let (ok, _, _) = tokio::task::block_in_place(|| {
        run(
            app_ref,
            &[
                "sso",
                "set",
                "--account",
                &id,
                "--issuer",
                "ftp://x",
                "--client-id",
                "c",
            ],
        )
    });
    assert!(!ok, "bad issuer refused");

    let sealer = idbridge::secrets::Sealer::new(app.settings.sealing_key()).unwrap();
    let before = idbridge::store::signing_keys::current(&app.db, &sealer)
        .await
        .unwrap()
        .kid;
    let (ok, rotated, _) = tokio::task::block_in_place(|| run(app_ref, &["keys", "rotate"]));
    assert!(ok);
    assert_ne!(rotated["kid"].as_str().unwrap(), before);
    let jwks: Value = reqwest::get(app.url("/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&before.as_str()) && kids.contains(&rotated["kid"].as_str().unwrap()),
        "both keys published"
    );
}

both_backends!(connection_and_webhook_commands);

/// `idbridge connection ...` and `idbridge webhook ...` do what the API does,
/// audited, and print one JSON object with `--json`.
async fn connection_and_webhook_commands(app: &TestApp) {
    let acct = app.account_id.as_str();
    let (ok, c, err) = run(
        app,
        &[
            "connection",
            "add",
            "--account",
            acct,
            "--kind",
            "oidc",
            "--name",
            "CLI OIDC",
            "--issuer",
            "https://idp.example/",
            "--client-id",
            "cid",
            "--client-secret",
            "shh",
            "--domain",
            "Corp.Example",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(c["oidc"]["client_secret_set"], json!(true));
    assert_eq!(c["domains"][0]["domain"], json!("corp.example"));
    assert!(c["domains"][0]["txt_value"]
        .as_str()
        .unwrap()
        .starts_with("idbridge-verification="));
    let id = c["id"].as_str().unwrap().to_string();
    let (_, listed, _) = run(app, &["connection", "list", "--account", acct]);
    assert_eq!(listed["connections"][0]["id"], json!(id));
    let (ok, _, err) = run(
        app,
        &["connection", "add", "--account", acct, "--kind", "saml"],
    );
    assert!(!ok && err.contains("metadata"), "{err}");
    let (ok, _, _) = run(
        app,
        &["connection", "remove", "--account", acct, "--id", &id],
    );
    assert!(ok);
    let (s, _) = app
        .admin(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/connections/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 404);

    let (ok, w, err) = run(
        app,
        &[
            "webhook",
            "add",
            "--account",
            acct,
            "--url",
            "https://93.184.216.34/hook",
            "--type",
            "user.created",
        ],
    );
    assert!(ok, "{err}");
    assert!(w["secret"].as_str().unwrap().starts_with("whsec_"));
    let (ok, _, err) = run(
        app,
        &[
            "webhook",
            "add",
            "--account",
            acct,
            "--url",
            "http://127.0.0.1:9/hook",
        ],
    );
    assert!(!ok && err.contains("internal"), "{err}");
    let (_, api) = app
        .admin("GET", "/api/v1/accounts/{acct}/webhooks", None)
        .await;
    assert_eq!(api[0]["types"], json!(["user.created"]));
    let wid = w["id"].as_str().unwrap();
    let (ok, _, _) = run(app, &["webhook", "remove", "--account", acct, "--id", wid]);
    assert!(ok);
    let actions: Vec<Value> = app
        .audit()
        .await
        .into_iter()
        .map(|e| e["action"].clone())
        .collect();
    for a in [
        "sso.connection.create",
        "sso.connection.delete",
        "webhook.create",
        "webhook.delete",
    ] {
        assert!(actions.contains(&json!(a)), "{a}");
    }
}
