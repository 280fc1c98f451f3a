//! Webhooks: every event delivered to a receiver the test runs, signed per
//! Standard Webhooks and verified by the `standardwebhooks` package, in
//! order despite failures; a receiver that was down gets everything when it
//! comes back; redelivery; disabling after sustained failure; no delivery
//! to internal addresses unless allowed.

use crate::events::events;
use crate::helpers::{spawn, spawn_with, Backend, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

struct Receiver {
    child: std::process::Child,
    port: u16,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// The child is owned by `Receiver`, whose Drop kills and waits for it.
#[allow(clippy::zombie_processes)]
async fn receiver(port: u16, secret: &str, fail_first: u32) -> Receiver {
    let python = tokio::task::block_in_place(crate::peers::python);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/webhook_receiver.py");
    let child = std::process::Command::new(python)
        .arg(script)
        .env("PORT", port.to_string())
        .env("SECRET", secret)
        .env("FAIL_FIRST", fail_first.to_string())
        .spawn()
        .expect("python runs");
    for _ in 0..100 {
        if reqwest::get(format!("http://127.0.0.1:{port}/"))
            .await
            .is_ok()
        {
            return Receiver { child, port };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the webhook receiver did not start");
}

async fn received(r: &Receiver) -> Value {
    reqwest::get(format!("http://127.0.0.1:{}/", r.port))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn quick(backend: Backend) -> TestApp {
    spawn_with(backend, |s| {
        s.webhook_allow_internal = true;
        s.webhook_retry_base_ms = 40;
        s.webhook_poll_ms = 30;
    })
    .await
    .expect("app")
}

async fn endpoint(app: &TestApp, url: &str) -> (String, String) {
    let (s, w) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/webhooks",
            Some(json!({"url": url})),
        )
        .await;
    assert_eq!(s, 201, "{w}");
    (
        w["id"].as_str().unwrap().into(),
        w["secret"].as_str().unwrap().into(),
    )
}

/// Changes that produce one event of each kind the directory has.
async fn churn(app: &TestApp) {
    let (_, u, _) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"userName": "hook@acme.test"})),
        )
        .await;
    let uid = u["id"].as_str().unwrap().to_string();
    let (_, g, _) = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Hooks", "members": [{"value": uid}]})),
        )
        .await;
    let gid = g["id"].as_str().unwrap().to_string();
    // A mapping on the group changes its member's access (user.access_changed).
    let (s, m) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/group-mappings",
            Some(json!({"group": {"displayName": "Hooks"}, "roles": ["Standard User"]})),
        )
        .await;
    assert_eq!(s, 201, "{m}");
    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    app.scim(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(patch(
            json!([{"op": "replace", "path": "displayName", "value": "Hookers"}]),
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
        &format!("/Groups/{gid}"),
        Some(patch(
            json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]),
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
            json!([{"op": "replace", "path": "displayName", "value": "H"}]),
        )),
    )
    .await;
    app.admin("POST", "/api/v1/accounts/{acct}/connections", Some(json!({"kind": "oidc", "issuer": "https://idp.example/", "client_id": "c", "client_secret": "s"}))).await;
    let bg = &app.break_glass;
    let b = crate::sso::browser();
    let (s, _) = crate::sso::local(
        app,
        &b,
        &bg.email,
        &bg.password,
        &crate::sso::totp(&bg.totp_secret, 0),
    )
    .await;
    assert_eq!(s, 200);
    b.post(app.url("/auth/logout")).send().await.unwrap();
    app.scim("DELETE", &format!("/Groups/{gid}"), None).await;
    app.scim("DELETE", &format!("/Users/{uid}"), None).await;
}

/// Waits until the receiver holds `n` distinct events.
async fn until_received(r: &Receiver, n: usize) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        last = received(r).await;
        let mut ids: Vec<&str> = last["received"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["id"].as_str())
            .collect();
        ids.dedup();
        if ids.len() >= n {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the receiver got {last} of {n}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_signed_and_in_order_sqlite() {
    every_event_arrives_signed_and_in_order(quick(Backend::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_signed_and_in_order_postgres() {
    every_event_arrives_signed_and_in_order(quick(Backend::Postgres).await).await;
}

async fn every_event_arrives_signed_and_in_order(app: TestApp) {
    let app = &app;
    let port = free_port();
    let (wid, secret) = endpoint(app, &format!("http://127.0.0.1:{port}/hook")).await;
    let r = receiver(port, &secret, 5).await;
    // An endpoint that wants two types only (nobody listens there).
    let (s, picky) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/webhooks",
            Some(json!({"url": format!("http://127.0.0.1:{}/picky", free_port()), "types": ["user.deleted", "group.renamed"]})),
        )
        .await;
    assert_eq!(s, 201, "{picky}");
    churn(app).await;
    let all = events(app, "").await;
    let want: std::collections::BTreeSet<&str> =
        all.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for t in [
        "user.created",
        "user.updated",
        "user.deactivated",
        "user.reactivated",
        "user.deleted",
        "group.created",
        "group.renamed",
        "group.deleted",
        "group.member_added",
        "group.member_removed",
        "session.started",
        "session.ended",
        "break_glass.signin",
        "connection.changed",
        "user.access_changed",
    ] {
        assert!(want.contains(t), "{t} is produced: {want:?}");
    }
    let got = until_received(&r, all.len()).await;
    let rec = got["received"].as_array().unwrap();
    assert!(
        rec.iter().all(|e| e["verified"] == json!(true)),
        "every signature verifies: {got}"
    );
    let order: Vec<&str> = rec.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let expected: Vec<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(
        order, expected,
        "each once, in the account's order, despite 5 failures"
    );
    assert!(
        rec.iter().all(|e| e["id"] == e["webhook_id"]),
        "webhook-id is the event id"
    );
    assert_eq!(got["calls"], json!(all.len() + 5));
    let (_, log) = app
        .admin(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/webhooks/{wid}/deliveries"),
            None,
        )
        .await;
    let first = log
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event"]["seq"] == json!(1))
        .unwrap();
    assert_eq!(first["status"], json!("delivered"));
    assert_eq!(first["attempts"], json!(6), "{first}");
    assert_eq!(first["log"][0]["status"], json!(500));
    assert_eq!(first["log"][5]["status"], json!(204));
    let pid = picky["id"].as_str().unwrap();
    let (_, picked) = app
        .admin(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/webhooks/{pid}/deliveries"),
            None,
        )
        .await;
    let mut types: Vec<&str> = picked
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event"]["type"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        ["group.renamed", "user.deleted"],
        "only what it subscribed to"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_gets_everything_when_back() {
    let app = spawn_with(Backend::Sqlite, |s| {
        s.webhook_allow_internal = true;
        s.webhook_retry_base_ms = 40;
        s.webhook_poll_ms = 30;
    })
    .await
    .expect("app");
    let app = &app;
    let port = free_port();
    let (wid, secret) = endpoint(app, &format!("http://127.0.0.1:{port}/hook")).await;
    churn(app).await;
    let all = events(app, "").await;
    // Nobody listens: attempts fail and are logged.
    let path = format!("/api/v1/accounts/{{acct}}/webhooks/{wid}/deliveries");
    let mut failing = Value::Null;
    for _ in 0..100 {
        let (_, log) = app.admin("GET", &path, None).await;
        failing = log
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["event"]["seq"] == json!(1))
            .cloned()
            .unwrap();
        if failing["attempts"].as_i64().unwrap() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(failing["attempts"].as_i64().unwrap() >= 2, "{failing}");
    assert!(
        failing["last_error"]
            .as_str()
            .unwrap()
            .contains("request failed"),
        "{failing}"
    );
    assert_eq!(failing["status"], json!("pending"));
    // Back: everything arrives, in order.
    let r = receiver(port, &secret, 0).await;
    let got = until_received(&r, all.len()).await;
    let order: Vec<&str> = got["received"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(order, expected);
    // A manual redelivery sends the same event (same webhook-id) again.
    let did = failing["id"].as_i64().unwrap();
    let (s, _) = app
        .admin("POST", &format!("{path}/{did}/redeliver"), None)
        .await;
    assert_eq!(s, 202);
    let again = until_received(&r, all.len()).await;
    for _ in 0..100 {
        let now = received(&r).await;
        if now["received"].as_array().unwrap().len() > all.len() {
            let last = now["received"].as_array().unwrap().last().unwrap().clone();
            assert_eq!(last["id"], json!(expected[0]));
            let actions: Vec<Value> = app
                .audit()
                .await
                .into_iter()
                .map(|e| e["action"].clone())
                .collect();
            assert!(actions.contains(&json!("webhook.redeliver")));
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no redelivery: {again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_failure_disables_and_internal_addresses_are_refused() {
    let app = spawn_with(Backend::Sqlite, |s| {
        s.webhook_allow_internal = true;
        s.webhook_retry_base_ms = 40;
        s.webhook_poll_ms = 30;
        s.webhook_give_up_secs = 1;
    })
    .await
    .expect("app");
    let app = &app;
    let (wid, _) = endpoint(app, &format!("http://127.0.0.1:{}/hook", free_port())).await;
    app.scim("POST", "/Users", Some(json!({"userName": "x@acme.test"})))
        .await;
    let mut disabled = Value::Null;
    for _ in 0..200 {
        let (_, list) = app
            .admin("GET", "/api/v1/accounts/{acct}/webhooks", None)
            .await;
        disabled = list[0].clone();
        if disabled["enabled"] == json!(false) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(disabled["enabled"], json!(false), "{disabled}");
    assert!(disabled["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("failing since"));
    let said = events(app, "&types=webhook.endpoint_disabled").await;
    assert_eq!(said.len(), 1);
    assert_eq!(said[0]["subject"], json!(wid));
    // Re-enabling clears the failure.
    let (s, w) = app
        .admin(
            "PATCH",
            &format!("/api/v1/accounts/{{acct}}/webhooks/{wid}"),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(s, 200);
    assert!(w["failing_since"].is_null());

    // Without the operator's leave, internal addresses are refused.
    let strict = spawn(Backend::Sqlite).await.expect("app");
    for url in [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest",
        "ftp://example.com/",
    ] {
        let (s, b) = strict
            .admin(
                "POST",
                "/api/v1/accounts/{acct}/webhooks",
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(s, 400, "{url}: {b}");
    }
    let (_, none) = strict
        .admin("GET", "/api/v1/accounts/{acct}/webhooks", None)
        .await;
    assert_eq!(none, json!([]));
}

/// Two replicas on one PostgreSQL database, both running the delivery loop:
/// each event reaches the receiver once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_deliver_each_event_once() {
    let app = quick(Backend::Postgres).await;
    let app = &app;
    let _b = crate::replicas::replica(app).await;
    let port = free_port();
    let (_, secret) = endpoint(app, &format!("http://127.0.0.1:{port}/hook")).await;
    let r = receiver(port, &secret, 0).await;
    churn(app).await;
    churn_more(app).await;
    let all = events(app, "").await;
    until_received(&r, all.len()).await;
    // Give a duplicate, were there one, time to arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = received(&r).await;
    let ids: Vec<&str> = got["received"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, expected, "once each, in order");
    assert_eq!(got["calls"], json!(all.len()));
}

/// More users, so both replicas' loops have work at the same time.
async fn churn_more(app: &TestApp) {
    for i in 0..30 {
        app.scim(
            "POST",
            "/Users",
            Some(json!({"userName": format!("bulk{i}@acme.test")})),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_membership_change_fans_out_every_event_sqlite() {
    big_membership_change(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_membership_change_fans_out_every_event_postgres() {
    big_membership_change(Backend::Postgres).await;
}

/// A group PATCH adding more members than one batch of records holds: one
/// event per member plus the rename, numbered without gaps, each with one
/// delivery to the endpoint that takes everything and none to the one that
/// only takes renames except the rename's.
async fn big_membership_change(backend: Backend) {
    // Nothing is delivered during the test: the rows are what is checked.
    let app = spawn_with(backend, |s| {
        s.webhook_allow_internal = true;
        s.webhook_poll_ms = 600_000;
    })
    .await
    .expect("app");
    let mut ids = Vec::new();
    for i in 0..150 {
        let (s, u, _) = app
            .scim(
                "POST",
                "/Users",
                Some(json!({"userName": format!("m{i}@acme.test")})),
            )
            .await;
        assert_eq!(s, 201, "{u}");
        ids.push(u["id"].as_str().unwrap().to_string());
    }
    let (_, g, _) = app
        .scim("POST", "/Groups", Some(json!({"displayName": "Big"})))
        .await;
    let gid = g["id"].as_str().unwrap().to_string();
    let closed = format!("http://127.0.0.1:{}/hook", free_port());
    let (all, _) = endpoint(&app, &closed).await;
    let (s, w) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/webhooks",
            Some(json!({"url": closed, "types": ["group.renamed"]})),
        )
        .await;
    assert_eq!(s, 201, "{w}");
    let renames = w["id"].as_str().unwrap().to_string();
    let before = events(&app, "").await.last().unwrap()["seq"]
        .as_i64()
        .unwrap();

    let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    let (s, b, _) = app
        .scim(
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "replace", "path": "displayName", "value": "Bigger"},
                    {"op": "add", "path": "members", "value": members},
                ],
            })),
        )
        .await;
    assert!(s == 200 || s == 204, "{s} {b}");

    let new = events(&app, &format!("&after={before}")).await;
    let seqs: Vec<i64> = new.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, ((before + 1)..=(before + 151)).collect::<Vec<_>>());
    assert_eq!(new[0]["type"], "group.renamed");
    let added: std::collections::BTreeSet<&str> = new[1..]
        .iter()
        .map(|e| {
            assert_eq!(e["type"], "group.member_added", "{e}");
            e["data"]["user"].as_str().unwrap()
        })
        .collect();
    assert_eq!(added, ids.iter().map(String::as_str).collect());

    let delivered = |w: String| {
        let app = &app;
        async move {
            let (s, d) = app
                .admin(
                    "GET",
                    &format!("/api/v1/accounts/{{acct}}/webhooks/{w}/deliveries"),
                    None,
                )
                .await;
            assert_eq!(s, 200, "{d}");
            let mut ids: Vec<String> = d
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["event"]["id"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            ids
        }
    };
    let mut want: Vec<String> = new
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    want.sort();
    assert_eq!(delivered(all).await, want);
    assert_eq!(
        delivered(renames).await,
        vec![new[0]["id"].as_str().unwrap().to_string()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_fan_out_once_sqlite() {
    concurrent_creates_fan_out_once(quick(Backend::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_fan_out_once_postgres() {
    concurrent_creates_fan_out_once(quick(Backend::Postgres).await).await;
}

/// Creates in flight together commit together (on PostgreSQL merged into
/// multi-row statements, their events into one): each `user.created` still
/// fans out to the one endpoint that wants it, once, and nothing else does.
async fn concurrent_creates_fan_out_once(app: TestApp) {
    let app = &app;
    // Nothing listens there: deliveries stay, failing, to be counted.
    let url = format!("http://127.0.0.1:{}/hook", free_port());
    let (s, hook) = app
        .admin(
            "POST",
            "/api/v1/accounts/{acct}/webhooks",
            Some(json!({"url": url, "types": ["user.created"]})),
        )
        .await;
    assert_eq!(s, 201, "{hook}");
    let hook = hook["id"].as_str().unwrap().to_string();
    let names: Vec<String> = (0..20).map(|i| format!("fan{i}@acme.test")).collect();
    let calls = names.iter().map(|n| async move {
        app.scim("POST", "/Users", Some(json!({"userName": n})))
            .await
            .0
    });
    let statuses = futures_util::future::join_all(calls).await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let (s, _, _) = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Not wanted"})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, sent) = app
        .admin(
            "GET",
            &format!("/api/v1/accounts/{{acct}}/webhooks/{hook}/deliveries"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{sent}");
    let mut delivered: Vec<String> = sent
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["event"]["type"], json!("user.created"), "{d}");
            d["event"]["data"]["userName"].as_str().unwrap().to_string()
        })
        .collect();
    delivered.sort();
    let mut want = names.clone();
    want.sort();
    assert_eq!(delivered, want);
}
