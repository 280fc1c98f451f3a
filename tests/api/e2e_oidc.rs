//! End to end against a real OpenID provider: panva's oidc-provider (npm),
//! run on loopback by tests/e2e/provider.mjs. Its development login form is
//! plain HTML, so the test drives the whole sign-in without a browser.
//! The provider is installed by `peers::oidc_provider` on first use.

use crate::helpers::TestApp;
use serde_json::{json, Value};

both_backends!(real_provider_sign_in);

pub(crate) struct Provider {
    child: std::process::Child,
    pub(crate) issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// The child is owned by `Provider`, whose Drop kills and waits for it.
#[allow(clippy::zombie_processes)]
pub(crate) async fn start_provider(script: &str, redirect_uri: &str, accounts: Value) -> Provider {
    let (child, issuer) = crate::peers::serve_peer(
        || {
            let mut c = std::process::Command::new("node");
            c.arg(script)
                .env("REDIRECT_URI", redirect_uri)
                .env("ACCOUNTS", accounts.to_string());
            c
        },
        "/.well-known/openid-configuration",
    )
    .await
    .expect("oidc-provider did not start");
    Provider { child, issuer }
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let pat = format!("{name}=\"");
    let i = tag.find(&pat)? + pat.len();
    Some(tag[i..].split('"').next()?.to_string())
}

/// Follows the IdP's redirects and submits its login and consent forms;
/// returns idbridge's final answer to the callback.
async fn sign_in(app: &TestApp, email: &str) -> (u16, String, reqwest::Client) {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut next = app.url(&format!("/sso/{}/login?return_to=/home", app.account_id));
    let mut form: Option<(String, Vec<(String, String)>)> = None;
    for _ in 0..20 {
        let r = match form.take() {
            Some((action, fields)) => {
                next = url::Url::parse(&next)
                    .unwrap()
                    .join(&action)
                    .unwrap()
                    .to_string();
                browser.post(&next).form(&fields).send().await.unwrap()
            }
            None => browser.get(&next).send().await.unwrap(),
        };
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        let at_callback = next.starts_with(&app.url("/sso/callback"));
        if at_callback {
            return (status, location.unwrap_or(r.text().await.unwrap()), browser);
        }
        if let Some(l) = location {
            next = url::Url::parse(&next)
                .unwrap()
                .join(&l)
                .unwrap()
                .to_string();
            continue;
        }
        let html = r.text().await.unwrap();
        let start = html.find("<form").expect("a form");
        let tag = &html[start..html[start..].find('>').unwrap() + start];
        let action = attr(tag, "action").unwrap();
        let mut fields: Vec<(String, String)> = html
            .match_indices("<input")
            .filter_map(|(i, _)| {
                let t = &html[i..html[i..].find('>').unwrap() + i];
                Some((attr(t, "name")?, attr(t, "value").unwrap_or_default()))
            })
            .collect();
        for f in fields.iter_mut() {
            match f.0.as_str() {
                "login" => f.1 = email.to_string(),
                "password" => f.1 = "any".to_string(),
                _ => {}
            }
        }
        form = Some((action, fields));
    }
    panic!("sign-in did not reach idbridge");
}

async fn real_provider_sign_in(app: &TestApp) {
    let script = tokio::task::block_in_place(crate::peers::oidc_provider)
        .display()
        .to_string();
    let dev_id = app.sso_fixture().await;
    let accounts =
        json!({"dev@acme.test": {"groups": ["Engineers"]}, "lead@acme.test": {"groups": []}});
    let idp = start_provider(&script, &app.url("/sso/callback"), accounts).await;
    let (s, b) = app
        .admin("PUT", "/api/v1/accounts/{acct}/sso", Some(json!({"issuer": idp.issuer, "client_id": "idbridge", "client_secret": "e2e-secret", "scopes": ["groups"], "mode": "optional", "role_source": "scim"})))
        .await;
    assert_eq!(s, 200, "{b}");

    // A provisioned user signs in; roles come from their SCIM group's mapping.
    let (s, loc, browser) = sign_in(app, "dev@acme.test").await;
    assert_eq!((s, loc.as_str()), (302, "/home"));
    let me: Value = browser
        .get(app.url("/auth/session"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["roles"], json!(["Standard User"]), "{me}");
    assert_eq!(me["amr"], json!(["sso"]));
    // The built-in Administrator is refused; a role inheriting it is not.
    let (s, page, _) = sign_in(app, &app.break_glass.email).await;
    assert_eq!(s, 403);
    assert!(page.contains("/auth/local"));
    let (s, _, lead) = sign_in(app, "lead@acme.test").await;
    assert_eq!(s, 302);
    let me: Value = lead
        .get(app.url("/auth/session"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["roles"], json!(["SSO_Admin"]));
    // Unprovisioned: refused.
    assert_eq!(sign_in(app, "stranger@acme.test").await.0, 403);
    // Deactivating the signed-in user through SCIM ends their session at once.
    app.scim(
        "PATCH",
        &format!("/Users/{dev_id}"),
        Some(json!({"Operations": [{"op": "replace", "path": "active", "value": false}]})),
    )
    .await;
    assert_eq!(
        browser
            .get(app.url("/auth/session"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        sign_in(app, "dev@acme.test").await.0,
        403,
        "and they cannot sign in again"
    );
}
