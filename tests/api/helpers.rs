use idbridge::config::Settings;
use idbridge::store;
use reqwest::{Client, Response};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{json, Value};

/// Generates `sqlite` and `postgres` tests running the same async body.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = crate::helpers::spawn(crate::helpers::Backend::Sqlite).await.expect("sqlite app");
                super::$name(&app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app = crate::helpers::spawn(crate::helpers::Backend::Postgres).await.expect("postgres app");
                super::$name(&app).await;
            }
        }
    )*};
}

/// Percent-encodes a query value (SCIM filters carry quotes and spaces).
pub fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A second account of the same installation.
#[allow(dead_code)]
pub struct OtherAccount {
    pub id: String,
    pub admin_key: String,
    pub scim_token: String,
}

pub enum Backend {
    Sqlite,
    Postgres,
}

// Shared by every test module; not each one reads every field.
#[allow(dead_code)]
pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub db: DatabaseConnection,
    pub account_id: String,
    pub admin_key: String,
    pub admin_user_id: String,
    pub scim_token: String,
    pub break_glass: store::accounts::BreakGlass,
    pub settings: Settings,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg.take() {
            // Drop the per-test database on a thread of its own: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async {
                    if let Ok(db) = store::connect(&admin_url).await {
                        let _ = db
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

pub async fn spawn(backend: Backend) -> Option<TestApp> {
    spawn_with(backend, |_| {}).await
}

/// Like [`spawn`], with settings adjusted first.
pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    let dir = tempfile::tempdir().ok()?;
    let (url, pg) = match backend {
        Backend::Sqlite => (
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("idbridge.db").display()
            ),
            None,
        ),
        Backend::Postgres => {
            let admin = crate::peers::postgres_url();
            let name = format!("idb_test_{}", uuid::Uuid::new_v4().simple());
            let db = store::connect(&admin).await.unwrap_or_else(|e| {
                panic!("PostgreSQL is not reachable at {admin} ({e}): start it, or point IDBRIDGE_TEST_POSTGRES_URL at one")
            });
            db.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .expect("database url has a path");
            (format!("{base}/{name}"), Some((admin, name)))
        }
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut settings = Settings {
        database_url: url.clone(),
        listen: format!("127.0.0.1:{port}"),
        public_url: format!("http://127.0.0.1:{port}"),
        max_body_bytes: 256 * 1024,
        max_pending_sign_ins: 20,
        secrets_key: Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into()),
        ..Settings::default()
    };
    adjust(&mut settings);
    let app = idbridge::Application::build_on(settings.clone(), listener)
        .await
        .expect("build app");
    tokio::spawn(app.run_until_stopped());
    let db = store::connect(&url).await.expect("connect");
    let (acct, bg) = store::accounts::create(&db, "Acme", "breakglass@acme.test")
        .await
        .expect("account");
    let key = store::credentials::create_api_key(&db, &acct.id, &bg.user_id)
        .await
        .expect("key");
    let (scim, _) = store::credentials::create_scim_token(&db, &acct.id, None)
        .await
        .expect("scim token");
    Some(TestApp {
        base: format!("http://127.0.0.1:{port}"),
        client: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        db,
        account_id: acct.id,
        admin_key: key.key.expect("key"),
        admin_user_id: bg.user_id.clone(),
        scim_token: scim.token.expect("token"),
        break_glass: bg,
        settings,
        _dir: dir,
        pg,
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path.replace("{acct}", &self.account_id))
    }

    pub async fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> Response {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.client.request(m, self.url(path)).bearer_auth(key);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb.send().await.expect("request")
    }

    /// Status and JSON body (Null when the body is empty or not JSON).
    pub async fn json(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let r = self.call(method, path, key, body).await;
        let s = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (s, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.json(method, path, &self.admin_key, body).await
    }

    /// Inserts a provisioned user with direct roles and returns (user id, API key).
    pub async fn user_with_roles(&self, email: &str, roles: &[&str]) -> (String, String) {
        self.user_in(&self.account_id, &self.admin_key, email, roles)
            .await
    }

    /// A provisioned user of `account`, given direct roles through that
    /// account's API with `admin_key`: (user id, the user's own API key).
    pub async fn user_in(
        &self,
        account: &str,
        admin_key: &str,
        email: &str,
        roles: &[&str],
    ) -> (String, String) {
        let id = store::new_id();
        store::users::insert(
            &self.db,
            store::users::NewUser {
                id: id.clone(),
                account_id: account.into(),
                user_name: email.into(),
                email: Some(email.into()),
                external_id: None,
                display_name: None,
                origin: store::users::Origin::Idp,
                active: true,
                attributes: json!({}),
                credential: None,
            },
        )
        .await
        .expect("user");
        if !roles.is_empty() {
            let (s, b) = self
                .json(
                    "PUT",
                    &format!("/api/v1/accounts/{account}/users/{id}/roles"),
                    admin_key,
                    Some(json!({"roles": roles})),
                )
                .await;
            assert_eq!(s, 200, "{b}");
        }
        let key = store::credentials::create_api_key(&self.db, account, &id)
            .await
            .expect("key");
        (id, key.key.expect("key"))
    }

    /// Another account in the same database, with its break-glass
    /// administrator's API key and a SCIM token.
    pub async fn other_account(&self, name: &str) -> OtherAccount {
        let email = format!("breakglass@{}.test", name.to_lowercase());
        let (acct, bg) = store::accounts::create(&self.db, name, &email)
            .await
            .expect("account");
        let key = store::credentials::create_api_key(&self.db, &acct.id, &bg.user_id)
            .await
            .expect("key");
        let (scim, _) = store::credentials::create_scim_token(&self.db, &acct.id, None)
            .await
            .expect("scim token");
        OtherAccount {
            id: acct.id,
            admin_key: key.key.expect("key"),
            scim_token: scim.token.expect("token"),
        }
    }

    pub async fn audit(&self) -> Vec<Value> {
        let (s, b) = self
            .admin("GET", "/api/v1/accounts/{acct}/audit?limit=1000", None)
            .await;
        assert_eq!(s, 200, "{b}");
        b["events"].as_array().cloned().unwrap_or_default()
    }

    /// A SCIM call with the account's token: (status, JSON body, response headers).
    pub async fn scim(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        self.scim_with(method, path, body, &[]).await
    }

    pub async fn scim_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self
            .client
            .request(m, format!("{}/scim/v2{}", self.base, path))
            .bearer_auth(&self.scim_token);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let r = rb.send().await.expect("request");
        let s = r.status().as_u16();
        let h = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        (s, serde_json::from_str(&text).unwrap_or(Value::Null), h)
    }

    /// The sign-in tests' directory: SSO_Admin (inherits Administrator),
    /// dev@acme.test in SCIM group Engineers (mapped to Standard User) and
    /// lead@acme.test holding SSO_Admin. Returns dev's id.
    pub async fn sso_fixture(&self) -> String {
        self.enable_aus().await;
        self.admin(
            "POST",
            "/api/v1/accounts/{acct}/roles",
            Some(json!({"name": "SSO_Admin", "inherits": "Administrator", "privileges": []})),
        )
        .await;
        let (_, dev, _) = self
            .scim("POST", "/Users", Some(json!({"userName": "dev@acme.test"})))
            .await;
        let dev_id = dev["id"].as_str().expect("dev created").to_string();
        self.scim(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Engineers", "members": [{"value": dev_id}]})),
        )
        .await;
        self.admin(
            "POST",
            "/api/v1/accounts/{acct}/group-mappings",
            Some(json!({"group": {"displayName": "Engineers"}, "roles": ["Standard User"]})),
        )
        .await;
        self.scim(
            "POST",
            "/Users",
            Some(json!({"userName": "lead@acme.test", "roles": [{"value": "SSO_Admin"}]})),
        )
        .await;
        dev_id
    }

    pub async fn enable_aus(&self) {
        let (s, b) = self
            .admin(
                "PATCH",
                "/api/v1/accounts/{acct}",
                Some(json!({"advanced_user_security": true})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }
}
