//! SAML 2.0 sign-in end to end against pysaml2's IdP (tests/e2e/saml_idp.py,
//! signing with Debian's xmlsec1), and the responses an attacker would
//! forge, each refused, audited, and leaving no session.

use crate::helpers::TestApp;
use serde_json::{json, Value};

both_backends!(saml_sign_in_end_to_end, forged_saml_responses_are_refused);

pub struct Idp {
    child: std::process::Child,
    pub base: String,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// The child is owned by `Idp`, whose Drop kills and waits for it.
#[allow(clippy::zombie_processes)]
pub async fn start_idp() -> Idp {
    let (python, script) = tokio::task::block_in_place(crate::peers::saml_idp);
    let (child, base) = crate::peers::serve_peer(
        || {
            let mut c = std::process::Command::new(&python);
            c.arg(&script);
            c
        },
        "/metadata",
    )
    .await
    .expect("the SAML IdP did not start");
    Idp { child, base }
}

impl Idp {
    pub async fn post(&self, path: &str, body: String) -> reqwest::Response {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "IdP {path}: {}", r.status());
        r
    }

    pub async fn user(&self, u: Value) {
        self.post("/user", u.to_string()).await;
    }
}

/// A SAML connection on the app's account whose IdP is `idp`, registered
/// with the IdP in turn. Returns the connection as shown by the API.
pub async fn connect(app: &TestApp, idp: &Idp, extra: Value) -> Value {
    let mut body = json!({"kind": "saml", "name": "Test SAML", "idp_metadata_url": format!("{}/metadata", idp.base)});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (s, c) = app
        .admin("POST", "/api/v1/accounts/{acct}/connections", Some(body))
        .await;
    assert_eq!(s, 201, "{c}");
    let md = reqwest::get(c["saml"]["metadata_url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(md.status(), 200);
    idp.post("/sp", md.text().await.unwrap()).await;
    c
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let pat = format!("{name}=\"");
    let i = tag.find(&pat)? + pat.len();
    Some(tag[i..].split('"').next()?.to_string())
}

/// Submits the auto-posting form of an IdP page; idbridge's answer.
async fn submit_form(browser: &reqwest::Client, html: &str) -> reqwest::Response {
    let start = html.find("<form").expect("a form");
    let tag = &html[start..start + html[start..].find('>').unwrap()];
    let action = attr(tag, "action").unwrap().replace("&amp;", "&");
    let fields: Vec<(String, String)> = html
        .match_indices("<input")
        .filter_map(|(i, _)| {
            let t = &html[i..i + html[i..].find('>').unwrap()];
            Some((attr(t, "name")?, attr(t, "value").unwrap_or_default()))
        })
        .collect();
    browser.post(action).form(&fields).send().await.unwrap()
}

/// SP-initiated: idbridge's redirect, the IdP's form, the ACS's answer.
pub async fn sign_in(app: &TestApp, start: &str) -> (u16, String, reqwest::Client) {
    let b = browser();
    let r = b.get(app.url(start)).send().await.unwrap();
    assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
    let to_idp = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to_idp.contains("SAMLRequest="), "{to_idp}");
    let page = b.get(&to_idp).send().await.unwrap();
    let ok = page.status() == 200;
    let page = page.text().await.unwrap();
    assert!(ok, "the IdP failed: {page}");
    let r = submit_form(&b, &page).await;
    let status = r.status().as_u16();
    let out = match r.headers().get("location") {
        Some(l) => l.to_str().unwrap().to_string(),
        None => r.text().await.unwrap(),
    };
    (status, out, b)
}

async fn session(app: &TestApp, b: &reqwest::Client) -> (u16, Value) {
    let r = b.get(app.url("/auth/session")).send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn saml_sign_in_end_to_end(app: &TestApp) {
    let dev_id = app.sso_fixture().await;
    let idp = start_idp().await;
    let c = connect(app, &idp, json!({"allow_idp_initiated": true})).await;
    assert_eq!(
        c["saml"]["idp"]["sso_url"],
        json!(format!("{}/sso", idp.base))
    );
    let start = format!("/sso/{}/login?return_to=/home", app.account_id);

    // SP-initiated: a provisioned user gets their SCIM group's roles.
    idp.user(json!({"email": "dev@acme.test", "groups": ["Engineers"]}))
        .await;
    let (s, loc, b) = sign_in(app, &start).await;
    assert_eq!(
        (s, loc.as_str()),
        (302, "/home"),
        "{}",
        last_denial(app).await
    );
    let (s, me) = session(app, &b).await;
    assert_eq!(s, 200);
    assert_eq!(me["roles"], json!(["Standard User"]), "{me}");
    assert_eq!(me["amr"], json!(["sso"]));

    // The built-in Administrator is sent to local sign-in; SSO_Admin is not.
    idp.user(json!({"email": app.break_glass.email, "groups": []}))
        .await;
    let (s, page, b) = sign_in(app, &start).await;
    assert_eq!(s, 403);
    assert!(page.contains("/auth/local"), "{page}");
    assert_eq!(session(app, &b).await.0, 401);
    idp.user(json!({"email": "lead@acme.test", "groups": []}))
        .await;
    let (s, _, b) = sign_in(app, &start).await;
    assert_eq!(s, 302);
    assert_eq!(session(app, &b).await.1["roles"], json!(["SSO_Admin"]));

    // IdP-initiated (this connection opts in): RelayState is where to go.
    idp.user(json!({"email": "dev@acme.test", "groups": []}))
        .await;
    let b = browser();
    let sp = c["saml"]["sp_entity_id"].as_str().unwrap();
    let page = b
        .get(format!("{}/idp-initiated", idp.base))
        .query(&[("sp", sp), ("relay", "/dashboard")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = submit_form(&b, &page).await;
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/dashboard");
    assert_eq!(session(app, &b).await.0, 200);

    // Encrypted assertions are decrypted with the connection's own key:
    // Okta's way (AES-128, the Response signed) and Entra's (AES-256, the
    // assertion signed before encryption).
    for how in ["response", "assertion"] {
        idp.user(json!({"email": "dev@acme.test", "groups": [], "encrypt": how}))
            .await;
        let (s, _, b) = sign_in(app, &start).await;
        assert_eq!(s, 302, "{how}: {}", last_denial(app).await);
        assert_eq!(session(app, &b).await.0, 200);
    }

    // Encrypted but signed by nobody: refused.
    idp.user(json!({"email": "dev@acme.test", "groups": [], "encrypt": "unsigned"}))
        .await;
    let (s, _, b) = sign_in(app, &start).await;
    assert_eq!(s, 403);
    assert_eq!(session(app, &b).await.0, 401);
    assert!(last_denial(app).await["details"]["reason"]
        .as_str()
        .unwrap()
        .contains("signed"));

    // A SHA-1 signature (pysaml2's old default) is refused.
    idp.user(json!({"email": "dev@acme.test", "groups": [], "sha1": true}))
        .await;
    let (s, _, b) = sign_in(app, &start).await;
    assert_eq!(s, 403);
    assert_eq!(session(app, &b).await.0, 401);
    assert!(last_denial(app).await["details"]["reason"]
        .as_str()
        .unwrap()
        .contains("signed"));

    // Entra's groups claim URI is read; its overage marker is reported.
    let cid = c["id"].as_str().unwrap();
    let (s, _) = app
        .admin(
            "PATCH",
            &format!("/api/v1/accounts/{{acct}}/connections/{cid}"),
            Some(json!({"role_source": "both"})),
        )
        .await;
    assert_eq!(s, 200);
    idp.user(json!({"email": "lead@acme.test", "groups": ["Engineers"], "entra": true}))
        .await;
    let (s, _, _) = sign_in(app, &start).await;
    assert_eq!(s, 302);
    idp.user(json!({"email": "lead@acme.test", "overage": true}))
        .await;
    let (s, _, _) = sign_in(app, &start).await;
    assert_eq!(s, 302);
    let logins: Vec<Value> = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e["action"] == "sso.login")
        .collect();
    assert_eq!(
        logins[0]["details"]["groups_overage"],
        json!(true),
        "{}",
        logins[0]
    );
    assert_eq!(
        logins[1]["details"]["groups"],
        json!(["Engineers"]),
        "{}",
        logins[1]
    );

    // Deactivated through SCIM: refused.
    app.scim(
        "PATCH",
        &format!("/Users/{dev_id}"),
        Some(json!({"Operations": [{"op": "replace", "path": "active", "value": false}]})),
    )
    .await;
    idp.user(json!({"email": "dev@acme.test", "groups": []}))
        .await;
    let (s, _, b) = sign_in(app, &start).await;
    assert_eq!(s, 403);
    assert_eq!(session(app, &b).await.0, 401);

    let events = app.audit().await;
    let saml_logins = events
        .iter()
        .filter(|e| e["action"] == "sso.login" && e["details"]["kind"] == "saml")
        .count();
    assert_eq!(
        saml_logins, 7,
        "dev, lead, dev IdP-initiated, dev encrypted twice, lead twice"
    );
    assert!(events.iter().any(|e| e["action"] == "sso.denied_admin"));
    assert!(events.iter().any(|e| e["action"] == "sso.denied_inactive"));
}

/// The latest refused SAML response's audit record, for failure messages.
async fn last_denial(app: &TestApp) -> Value {
    app.audit()
        .await
        .into_iter()
        .find(|e| e["action"] == "sso.denied_assertion")
        .unwrap_or(Value::Null)
}

/// Starts a sign-in in a fresh browser; the AuthnRequest's ID.
async fn pending_request(app: &TestApp, idp: &Idp) -> (reqwest::Client, String) {
    let b = browser();
    let r = b
        .get(app.url(&format!("/sso/{}/login", app.account_id)))
        .send()
        .await
        .unwrap();
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let req = loc
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .unwrap()
        .1
        .to_string();
    let parsed: Value = idp.post("/parse-request", req).await.json().await.unwrap();
    (b, parsed["id"].as_str().unwrap().to_string())
}

async fn forge(idp: &Idp, order: Value) -> String {
    let v: Value = idp
        .post("/forge", order.to_string())
        .await
        .json()
        .await
        .unwrap();
    v["SAMLResponse"].as_str().unwrap().to_string()
}

async fn post_acs(b: &reqwest::Client, acs: &str, resp: &str) -> u16 {
    b.post(acs)
        .form(&[("SAMLResponse", resp)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn forged_saml_responses_are_refused(app: &TestApp) {
    app.scim(
        "POST",
        "/Users",
        Some(json!({"userName": "ann@corp.example"})),
    )
    .await;
    let idp = start_idp().await;
    let c = connect(app, &idp, json!({})).await;
    let acs = c["saml"]["acs_url"].as_str().unwrap().to_string();
    let audience = c["saml"]["sp_entity_id"].as_str().unwrap().to_string();
    let base = json!({"recipient": acs, "destination": acs, "audience": audience, "email": "ann@corp.example"});
    let order = |irt: &str, change: Value| {
        let mut o = base.clone();
        o["in_response_to"] = json!(irt);
        for (k, v) in change.as_object().unwrap() {
            o[k] = v.clone();
        }
        o
    };

    // The forger's honest response is accepted: the refusals below are the checks'.
    let (b, id) = pending_request(app, &idp).await;
    let good = forge(&idp, order(&id, json!({}))).await;
    assert_eq!(post_acs(&b, &acs, &good).await, 302);
    assert_eq!(session(app, &b).await.0, 200);

    let cases = [
        ("unsigned", json!({"key": "none"}), "signed"),
        ("signed by another key", json!({"key": "other"}), "signed"),
        ("signature wrapping", json!({"wrap": true}), "wrapping"),
        (
            "wrong Audience",
            json!({"audience": "https://evil.example/sp"}),
            "Audience",
        ),
        (
            "wrong Recipient",
            json!({"recipient": "https://evil.example/acs"}),
            "Recipient",
        ),
        (
            "expired",
            json!({"issued": -900, "not_before": -960, "not_on_or_after": -600}),
            "expired",
        ),
        (
            "not yet valid",
            json!({"not_before": 900, "not_on_or_after": 1200}),
            "not valid until",
        ),
    ];
    for (name, change, reason) in cases {
        let (b, id) = pending_request(app, &idp).await;
        let resp = forge(&idp, order(&id, change)).await;
        assert_eq!(post_acs(&b, &acs, &resp).await, 403, "{name}");
        assert_eq!(session(app, &b).await.0, 401, "{name}: no session");
        let last = app
            .audit()
            .await
            .into_iter()
            .find(|e| e["action"] == "sso.denied_assertion")
            .unwrap_or_else(|| panic!("{name}: audited"));
        let why = last["details"]["reason"].as_str().unwrap().to_string();
        assert!(why.contains(reason), "{name}: {why}");
    }
    // Unknown InResponseTo, and a real one used twice.
    let (b, _) = pending_request(app, &idp).await;
    let resp = forge(&idp, order("_never-issued", json!({}))).await;
    assert_eq!(post_acs(&b, &acs, &resp).await, 403);
    let (b, id) = pending_request(app, &idp).await;
    let resp = forge(&idp, order(&id, json!({}))).await;
    assert_eq!(post_acs(&b, &acs, &resp).await, 302);
    let other = browser();
    assert_eq!(
        post_acs(&other, &acs, &resp).await,
        403,
        "replayed response"
    );
    assert_eq!(session(app, &other).await.0, 401);
    // A request started in another browser does not sign this one in.
    let (_, id) = pending_request(app, &idp).await;
    let resp = forge(&idp, order(&id, json!({}))).await;
    let thief = browser();
    assert_eq!(post_acs(&thief, &acs, &resp).await, 403, "browser binding");

    // Unsolicited responses: refused until the connection opts in; then an
    // assertion ID is accepted once only.
    let unsolicited = forge(&idp, json!({"recipient": acs, "destination": acs, "audience": audience, "email": "ann@corp.example", "assertion_id": "_fixed-assertion"})).await;
    assert_eq!(post_acs(&browser(), &acs, &unsolicited).await, 403);
    let cid = c["id"].as_str().unwrap();
    let (s, _) = app
        .admin(
            "PATCH",
            &format!("/api/v1/accounts/{{acct}}/connections/{cid}"),
            Some(json!({"allow_idp_initiated": true})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(post_acs(&browser(), &acs, &unsolicited).await, 302);
    let again = browser();
    assert_eq!(post_acs(&again, &acs, &unsolicited).await, 403);
    let events = app.audit().await;
    let replay = events
        .iter()
        .find(|e| e["action"] == "sso.denied_assertion")
        .unwrap();
    assert!(
        replay["details"]["reason"]
            .as_str()
            .unwrap()
            .contains("replay"),
        "{replay}"
    );
    // Garbage is a clear refusal too.
    assert_eq!(post_acs(&browser(), &acs, "%%%not-base64").await, 403);
    assert_eq!(
        browser()
            .post(&acs)
            .form(&[("RelayState", "x")])
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
}
