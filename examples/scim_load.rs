//! SCIM load benchmark (run by bench/scim.sh against a release server):
//! creates N users and G groups, then measures userName lookups, a list page
//! of 100, and one PATCH adding 10k members to a group.
//!
//! Usage: scim_load <base url> <scim token> [users] [groups]

use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let base = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080/scim/v2".into());
    let token = args.get(2).cloned().ok_or("token required")?;
    let users: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let groups: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(5_000);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(32)
        .build()?;
    let post = |path: String, body: Value| {
        let c = client.clone();
        let t = token.clone();
        let url = format!("{base}{path}");
        async move {
            let r = c
                .post(url)
                .bearer_auth(t)
                .header("content-type", "application/scim+json")
                .body(body.to_string())
                .send()
                .await?;
            let s = r.status();
            let v: Value = r.json().await?;
            if !s.is_success() {
                return Err(format!("{s}: {v}").into());
            }
            Ok::<Value, Box<dyn std::error::Error + Send + Sync>>(v)
        }
    };

    // Users, 16 in flight.
    let start = Instant::now();
    let mut ids: Vec<String> = Vec::with_capacity(users);
    for chunk in (0..users).collect::<Vec<_>>().chunks(16) {
        let batch = chunk.iter().map(|i| {
            post(
                "/Users".into(),
                json!({"userName": format!("user{i}@load.test"), "externalId": format!("ext-{i}"), "name": {"givenName": "U", "familyName": format!("{i}")},
                       "emails": [{"value": format!("user{i}@load.test"), "type": "work", "primary": true}], "active": true}),
            )
        });
        for r in futures_util::future::join_all(batch).await {
            ids.push(
                r.map_err(|e| e.to_string())?["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    let user_secs = start.elapsed().as_secs_f64();
    println!(
        "create users: {users} in {user_secs:.1}s = {:.0} users/s",
        users as f64 / user_secs
    );

    let start = Instant::now();
    let mut gids = vec![];
    for chunk in (0..groups).collect::<Vec<_>>().chunks(16) {
        let batch = chunk.iter().map(|i| {
            post(
                "/Groups".into(),
                json!({"displayName": format!("group-{i}"), "externalId": format!("gext-{i}")}),
            )
        });
        for r in futures_util::future::join_all(batch).await {
            gids.push(
                r.map_err(|e| e.to_string())?["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    println!(
        "create groups: {groups} in {:.1}s",
        start.elapsed().as_secs_f64()
    );

    // userName eq lookups, sequential so each latency is one request's.
    let mut lat = vec![];
    for k in 0..2000usize {
        let i = (k * 7919) % users;
        let url = format!("{base}/Users?filter=userName%20eq%20%22USER{i}@load.test%22");
        let t = Instant::now();
        let v: Value = client
            .get(url)
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        lat.push(t.elapsed());
        if v["totalResults"] != json!(1) {
            return Err(format!("lookup {i} found {}", v["totalResults"]).into());
        }
    }
    lat.sort();
    println!(
        "userName eq lookup at {users} users: p50 {:.2} ms, p99 {:.2} ms (n={})",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.len()
    );

    let mut lat = vec![];
    for k in 0..200usize {
        let start_index = 1 + (k * 397) % (users - 100);
        let url = format!("{base}/Users?startIndex={start_index}&count=100");
        let t = Instant::now();
        let v: Value = client
            .get(url)
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        lat.push(t.elapsed());
        if v["Resources"].as_array().map(|a| a.len()) != Some(100) {
            return Err("short page".into());
        }
    }
    lat.sort();
    println!(
        "list page of 100: p50 {:.2} ms, p99 {:.2} ms (n={})",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.len()
    );

    let members: Vec<Value> = ids
        .iter()
        .take(10_000)
        .map(|id| json!({"value": id}))
        .collect();
    let n = members.len();
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": members}]});
    let t = Instant::now();
    let r = client
        .patch(format!(
            "{base}/Groups/{}?excludedAttributes=members",
            gids[0]
        ))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await?;
    let status = r.status();
    let _ = r.bytes().await?;
    println!(
        "PATCH adding {n} members to one group: {:.0} ms (status {status})",
        t.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}
