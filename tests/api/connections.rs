//! SSO connections: the management API, choosing among several, the move
//! from the single OIDC setting, and home-realm discovery by email domains
//! proven with DNS TXT records served by a real DNS server (dnsmasq).

use crate::helpers::{spawn_with, Backend, TestApp};
use crate::saml::{browser, connect, start_idp};
use serde_json::{json, Value};

both_backends!(connections_are_managed_and_chosen);

const NO_CERT_METADATA: &str = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example/"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#;

async fn connections_are_managed_and_chosen(app: &TestApp) {
    let path = "/api/v1/accounts/{acct}/connections";
    let oidc = json!({"kind": "oidc", "name": "Entra OIDC", "issuer": "http://127.0.0.1:9/", "client_id": "idb", "client_secret": "s3cret-value"});
    let (s, o) = app.admin("POST", path, Some(oidc.clone())).await;
    assert_eq!(s, 201, "{o}");
    assert_eq!(o["oidc"]["client_secret_set"], json!(true));
    assert!(!o.to_string().contains("s3cret-value"), "never shown");
    // Refusals leave nothing behind.
    for (bad, why) in [
        (json!({"name": "x"}), "kind"),
        (json!({"kind": "ldap"}), "kind"),
        (json!({"kind": "saml", "name": "No metadata"}), "metadata"),
        (
            json!({"kind": "saml", "idp_metadata_xml": NO_CERT_METADATA}),
            "certificate",
        ),
        (
            json!({"kind": "saml", "idp_metadata_xml": "<not-saml/>"}),
            "metadata",
        ),
        (
            json!({"kind": "oidc", "issuer": "http://idp.example/", "client_id": "c", "client_secret": "s"}),
            "https",
        ),
        (
            json!({"kind": "oidc", "issuer": "https://idp.example/", "client_id": "c", "client_secret": "s", "idp_metadata_url": "https://x"}),
            "SAML fields",
        ),
    ] {
        let (s, b) = app.admin("POST", path, Some(bad.clone())).await;
        assert_eq!(s, 400, "{bad}: {b}");
        assert!(b.to_string().contains(why), "{bad}: {b}");
    }
    let (s, _) = app
        .admin("POST", path, Some(json!({"kind": "oidc", "name": "ENTRA oidc", "issuer": "https://idp.example/", "client_id": "c", "client_secret": "s"})))
        .await;
    assert_eq!(s, 409, "names are unique per account, ignoring case");
    let (_, all) = app.admin("GET", path, None).await;
    assert_eq!(all.as_array().unwrap().len(), 1);

    let idp = start_idp().await;
    let saml = connect(app, &idp, json!({"name": "Okta SAML"})).await;
    let (saml_id, oidc_id) = (saml["id"].as_str().unwrap(), o["id"].as_str().unwrap());
    assert!(saml["saml"]["sp_certificate"]
        .as_str()
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    assert!(!saml.to_string().contains("PRIVATE KEY"));
    let (s, b) = app
        .admin(
            "PATCH",
            &format!("{path}/{saml_id}"),
            Some(json!({"kind": "oidc"})),
        )
        .await;
    assert_eq!(s, 400, "{b}");

    // Two enabled connections: /sso/{account}/login asks which one.
    let login = format!("/sso/{}/login", app.account_id);
    let r = browser().get(app.url(&login)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Okta SAML") && page.contains("Entra OIDC"),
        "{page}"
    );
    assert!(page.contains(&format!("connection={saml_id}")));
    let r = browser()
        .get(app.url(&format!("{login}?connection={saml_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with(&format!("{}/sso?SAMLRequest=", idp.base)));
    // One disabled: the other starts straight away; the disabled one is gone.
    let (s, _) = app
        .admin(
            "PATCH",
            &format!("{path}/{oidc_id}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(s, 200);
    let r = browser().get(app.url(&login)).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let r = browser()
        .get(app.url(&format!("{login}?connection={oidc_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Mode off: nothing signs in; the SAML ACS refuses too.
    let (s, _) = app
        .admin(
            "PUT",
            "/api/v1/accounts/{acct}/sso/mode",
            Some(json!({"mode": "off"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        browser()
            .get(app.url(&login))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let acs = saml["saml"]["acs_url"].as_str().unwrap();
    let r = browser()
        .post(acs)
        .form(&[("SAMLResponse", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let (s, _) = app
        .admin(
            "PUT",
            "/api/v1/accounts/{acct}/sso/mode",
            Some(json!({"mode": "sometimes"})),
        )
        .await;
    assert_eq!(s, 400);

    // Account Administration only.
    let (_, key) = app
        .user_with_roles("std@acme.test", &["Standard User"])
        .await;
    let (s, _) = app.json("GET", path, &key, None).await;
    assert_eq!(s, 403);
    let (s, _) = app.json("POST", path, &key, Some(oidc)).await;
    assert_eq!(s, 403);

    let (s, _) = app
        .admin("DELETE", &format!("{path}/{oidc_id}"), None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = app.admin("GET", &format!("{path}/{oidc_id}"), None).await;
    assert_eq!(s, 404);
    let events = app.audit().await;
    for action in [
        "sso.connection.create",
        "sso.connection.update",
        "sso.connection.delete",
        "sso.mode.update",
    ] {
        assert!(
            events
                .iter()
                .any(|e| e["action"] == action && e["outcome"] == "success"),
            "{action}"
        );
    }
    assert!(!serde_json::to_string(&events)
        .unwrap()
        .contains("s3cret-value"));
}

/// The single OIDC setting of an older installation becomes one connection
/// with the same values, and its mode the account's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oidc_setting_moves_into_a_connection() {
    use migrations::MigratorTrait;
    use sea_orm::ConnectionTrait;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let db = idbridge::store::connect(&url).await.unwrap();
    migrations::Migrator::up(&db, Some(6)).await.unwrap();
    db.execute_unprepared(
        "INSERT INTO accounts (id, name, created_at, updated_at) VALUES ('acct1', 'Old', 0, 0);
         INSERT INTO sso_settings (account_id, issuer, client_id, client_secret, scopes, groups_claim, role_source, mode, jit, updated_at)
         VALUES ('acct1', 'https://login.example/', 'cid', 'v1:sealed', 'groups', 'roles', 'both', 'required', TRUE, 5)",
    )
    .await
    .unwrap();
    migrations::Migrator::up(&db, None).await.unwrap();
    let s = idbridge::sso::settings::get(&db, "acct1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            s.issuer.as_str(),
            s.client_id.as_str(),
            s.client_secret.as_str(),
            s.scopes.as_str(),
            s.groups_claim.as_str()
        ),
        (
            "https://login.example/",
            "cid",
            "v1:sealed",
            "groups",
            "roles"
        )
    );
    assert_eq!(s.role_source.as_str(), "both");
    assert_eq!(s.mode.as_str(), "required");
    assert!(s.jit);
    let all = idbridge::store::connections::list(&db, "acct1")
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].kind.as_str(), "oidc");
    // And back down: the setting is restored from the connection.
    let after_m0006 = migrations::Migrator::migrations().len() as u32 - 6;
    migrations::Migrator::down(&db, Some(after_m0006))
        .await
        .unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT issuer, mode FROM sso_settings WHERE account_id = 'acct1'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.try_get::<String>("", "issuer").unwrap(),
        "https://login.example/"
    );
    assert_eq!(row.try_get::<String>("", "mode").unwrap(), "required");
}

/// dnsmasq answering TXT records on a loopback port.
struct Dns {
    child: std::process::Child,
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free for both UDP and TCP (dnsmasq listens on both).
fn free_dns_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

// The child is owned by `Dns`, whose Drop kills and waits for it.
#[allow(clippy::zombie_processes)]
async fn dns(port: u16, records: &[(&str, String)]) -> Dns {
    let mut cmd = std::process::Command::new(crate::peers::dnsmasq());
    cmd.args([
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--pid-file=",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--no-resolv",
        "--no-hosts",
    ])
    .arg(format!("--port={port}"))
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    for (name, value) in records {
        cmd.arg(format!("--txt-record={name},{value}"));
    }
    cmd.stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("dnsmasq runs");
    // Ready once it answers on TCP too.
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Dns { child };
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!("dnsmasq exited ({status}): {err}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("dnsmasq did not start");
}

fn txt(domain: &Value) -> String {
    domain["txt_value"].as_str().unwrap().to_string()
}

async fn add_domain(app: &TestApp, conn: &str, domain: &str) -> Value {
    let (s, d) = app
        .admin(
            "POST",
            &format!("/api/v1/accounts/{{acct}}/connections/{conn}/domains"),
            Some(json!({"domain": domain})),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["verified"], json!(false));
    d
}

async fn verify(app: &TestApp, conn: &str, domain: &str) -> (u16, Value) {
    app.admin(
        "POST",
        &format!("/api/v1/accounts/{{acct}}/connections/{conn}/domains/{domain}/verify"),
        None,
    )
    .await
}

async fn start(app: &TestApp, email: &str) -> (u16, String) {
    let r = browser()
        .get(app.url("/sso/start"))
        .query(&[("email", email)])
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    let loc = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default();
    (s, loc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domains_route_once_verified_sqlite() {
    domains_route_once_verified(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domains_route_once_verified_postgres() {
    domains_route_once_verified(Backend::Postgres).await;
}

async fn domains_route_once_verified(backend: Backend) {
    let port = free_dns_port();
    let app = spawn_with(backend, |s| s.dns_resolver = format!("127.0.0.1:{port}"))
        .await
        .expect("app");
    let app = &app;
    let script = tokio::task::block_in_place(crate::peers::oidc_provider)
        .display()
        .to_string();
    let op = crate::e2e_oidc::start_provider(&script, &app.url("/sso/callback"), json!({})).await;
    let (s, oidc) = app
        .admin("POST", "/api/v1/accounts/{acct}/connections", Some(json!({"kind": "oidc", "name": "Acme OIDC", "issuer": op.issuer, "client_id": "idbridge", "client_secret": "e2e-secret"})))
        .await;
    assert_eq!(s, 201, "{oidc}");
    let idp = start_idp().await;
    let saml = connect(app, &idp, json!({"name": "Corp SAML", "jit": true})).await;
    let (oidc_id, saml_id) = (oidc["id"].as_str().unwrap(), saml["id"].as_str().unwrap());
    let corp = add_domain(app, saml_id, "Corp.Example").await;
    assert_eq!(corp["domain"], json!("corp.example"));
    add_domain(app, saml_id, "never-proven.example").await;
    add_domain(app, oidc_id, "acme.test").await;
    let acme = add_domain(app, oidc_id, "acme.example").await;
    // Another account claims corp.example too: claiming is allowed, proving is what counts.
    let other = app.other_account("Rival").await;
    let (s, c) = app
        .json("POST", &format!("/api/v1/accounts/{}/connections", other.id), &other.admin_key, Some(json!({"kind": "oidc", "issuer": op.issuer, "client_id": "x", "client_secret": "y"})))
        .await;
    assert_eq!(s, 201, "{c}");
    let rival = c["id"].as_str().unwrap();
    let (s, rival_corp) = app
        .json(
            "POST",
            &format!("/api/v1/accounts/{}/connections/{rival}/domains", other.id),
            &other.admin_key,
            Some(json!({"domain": "corp.example"})),
        )
        .await;
    assert_eq!(s, 201);

    // Unverified domains route nowhere.
    assert_eq!(start(app, "ann@corp.example").await.0, 404);
    // Published: both accounts' records for corp.example, a wrong one for
    // acme.test, the right one for acme.example, none for never-proven.example.
    let _server = dns(
        port,
        &[
            ("corp.example", txt(&corp)),
            ("corp.example", txt(&rival_corp)),
            ("acme.test", "idbridge-verification=wrong".into()),
            ("acme.example", txt(&acme)),
        ],
    )
    .await;
    let (s, d) = verify(app, saml_id, "corp.example").await;
    assert_eq!((s, &d["verified"]), (200, &json!(true)), "{d}");
    let (s, d) = verify(app, oidc_id, "acme.test").await;
    assert_eq!(s, 422, "{d}");
    assert_eq!(d["found"], json!(["idbridge-verification=wrong"]));
    let (s, _) = verify(app, oidc_id, "acme.example").await;
    assert_eq!(s, 200);
    let (s, _) = verify(app, saml_id, "never-proven.example").await;
    assert_eq!(s, 422, "no record at all");
    // The domain stays with the account that proved it first.
    let (s, b) = app
        .json(
            "POST",
            &format!(
                "/api/v1/accounts/{}/connections/{rival}/domains/corp.example/verify",
                other.id
            ),
            &other.admin_key,
            None,
        )
        .await;
    assert_eq!(s, 409, "{b}");

    // Each email goes to the connection that proved its domain.
    let (s, loc) = start(app, "Ann@Corp.Example").await;
    assert_eq!(s, 302);
    assert!(
        loc.starts_with(&format!("{}/sso?SAMLRequest=", idp.base)),
        "{loc}"
    );
    let (s, loc) = start(app, "bob@acme.example").await;
    assert_eq!(s, 302);
    assert!(loc.starts_with(&op.issuer), "{loc}");
    assert_eq!(
        start(app, "bob@acme.test").await.0,
        404,
        "refused proof: no route"
    );
    assert_eq!(start(app, "eve@never-proven.example").await.0, 404);
    assert_eq!(start(app, "eve@elsewhere.example").await.0, 404);
    assert_eq!(start(app, "not-an-email").await.0, 400);

    // JIT only for a verified domain of the connection.
    idp.post(
        "/user",
        json!({"email": "new@corp.example", "groups": []}).to_string(),
    )
    .await;
    let (s, _, _) = crate::saml::sign_in(app, "/sso/start?email=new@corp.example").await;
    assert_eq!(s, 302, "created just in time");
    idp.post(
        "/user",
        json!({"email": "new@never-proven.example", "groups": []}).to_string(),
    )
    .await;
    let (s, _, _) = crate::saml::sign_in(
        app,
        &format!("/sso/{}/login?connection={saml_id}", app.account_id),
    )
    .await;
    assert_eq!(s, 403, "unverified domain: no JIT");

    let (_, listed) = app
        .admin(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/connections/{saml_id}"),
            None,
        )
        .await;
    let verified: Vec<&Value> = listed["domains"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["verified"] == json!(true))
        .collect();
    assert_eq!(verified.len(), 1);
    let (s, _) = app
        .admin(
            "DELETE",
            &format!("/api/v1/accounts/{{acct}}/connections/{saml_id}/domains/corp.example"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        start(app, "ann@corp.example").await.0,
        404,
        "removed: routes nowhere"
    );
}
