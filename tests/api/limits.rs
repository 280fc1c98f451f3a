//! Operational limits a deployment relies on (issue 8): SCIM rate limiting
//! per token, and the bounded in-memory filter fallback.

use crate::helpers::{spawn_with, Backend};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_rate_limit_is_per_token() {
    let app = spawn_with(Backend::Sqlite, |s| s.scim_requests_per_sec = 5)
        .await
        .expect("app");
    let mut statuses = vec![];
    for _ in 0..15 {
        let (s, b, h) = app.scim("GET", "/Users?count=1", None).await;
        if s == 429 {
            assert_eq!(b["status"], json!("429"), "{b}");
            assert_eq!(
                h.get("retry-after").and_then(|v| v.to_str().ok()),
                Some("1")
            );
        }
        statuses.push(s);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        5,
        "{statuses:?}"
    );
    // Another token of another account is unaffected.
    let (other, _) = idbridge::store::accounts::create(&app.db, "Other", "x@other.test")
        .await
        .expect("account");
    let (t, _) = idbridge::store::credentials::create_scim_token(&app.db, &other.id, None)
        .await
        .expect("token");
    let r = app
        .client
        .get(app.url("/scim/v2/Users"))
        .bearer_auth(t.token.expect("token"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
    // The limited token recovers within a second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(app.scim("GET", "/Users?count=1", None).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_filters_are_bounded() {
    let app = spawn_with(Backend::Sqlite, |s| s.max_filter_scan = 20)
        .await
        .expect("app");
    for i in 0..21 {
        let (s, _, _) = app
            .scim("POST", "/Users", Some(json!({"userName": format!("u{i}@acme.test"), "title": if i == 3 { "Boss" } else { "Staff" }})))
            .await;
        assert_eq!(s, 201);
    }
    // `title` has no column: every candidate would be checked in memory.
    let (s, b, _) = app
        .scim("GET", "/Users?filter=title%20eq%20%22Boss%22", None)
        .await;
    assert_eq!((s, b["scimType"].clone()), (400, json!("tooMany")), "{b}");
    // Narrowed by an indexed attribute, the same check runs.
    let (s, b, _) = app
        .scim(
            "GET",
            "/Users?filter=userName%20sw%20%22u3%22%20and%20title%20eq%20%22Boss%22",
            None,
        )
        .await;
    assert_eq!((s, b["totalResults"].clone()), (200, json!(1)), "{b}");
}
