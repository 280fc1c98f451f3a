//! Differential check of the SQL translation (issue 8): for generated
//! filters over the attributes idbridge turns into SQL, the server's answer
//! equals the in-memory evaluator's verdict on every user of the account.

use crate::helpers::TestApp;
use idbridge::scim::filter::{matches, parse_filter};
use idbridge::scim::schema::ResourceKind;
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::BTreeSet;

both_backends!(sql_agrees_with_the_evaluator);

const WORDS: [&str; 6] = ["ada", "Ada", "bob", "b_b", "c%d", "eve"];
const DOMAINS: [&str; 3] = ["example.com", "Example.org", "x.test"];

fn word(r: &mut StdRng) -> &'static str {
    WORDS[r.gen_range(0..WORDS.len())]
}

fn leaf(r: &mut StdRng, created: &[String]) -> String {
    let op = ["eq", "ne", "co", "sw", "ew"][r.gen_range(0..5)];
    match r.gen_range(0..9) {
        0 => format!("userName {op} \"{}\"", word(r)),
        1 => format!(
            "userName {op} \"{}@{}\"",
            word(r),
            DOMAINS[r.gen_range(0..3)]
        ),
        2 => format!("externalId {op} \"{}\"", word(r)),
        3 => format!("active eq {}", r.gen_bool(0.5)),
        4 => format!("emails {op} \"{}\"", DOMAINS[r.gen_range(0..3)]),
        5 => format!("emails.value {op} \"{}\"", word(r)),
        6 => {
            ["externalId pr", "emails pr", "userName pr", "title pr"][r.gen_range(0..4)].to_string()
        }
        7 => format!(
            "meta.created {} \"{}\"",
            ["gt", "ge", "lt", "le"][r.gen_range(0..4)],
            created[r.gen_range(0..created.len())]
        ),
        _ => format!("title {op} \"{}\"", word(r)),
    }
}

fn filter(r: &mut StdRng, depth: u32, created: &[String]) -> String {
    if depth == 0 || r.gen_bool(0.4) {
        return leaf(r, created);
    }
    match r.gen_range(0..3) {
        0 => format!(
            "({} and {})",
            filter(r, depth - 1, created),
            filter(r, depth - 1, created)
        ),
        1 => format!(
            "({} or {})",
            filter(r, depth - 1, created),
            filter(r, depth - 1, created)
        ),
        _ => format!("not ({})", filter(r, depth - 1, created)),
    }
}

async fn sql_agrees_with_the_evaluator(app: &TestApp) {
    let mut r = StdRng::seed_from_u64(7);
    for i in 0..40 {
        let w = word(&mut r);
        let d = DOMAINS[r.gen_range(0..3)];
        let mut u = json!({"userName": format!("{w}{i}@{d}"), "active": r.gen_bool(0.7)});
        if r.gen_bool(0.6) {
            u["externalId"] = json!(format!("{}{}", word(&mut r), i % 5));
        }
        if r.gen_bool(0.7) {
            u["emails"] = json!([{"value": format!("{}.{i}@{}", word(&mut r), DOMAINS[r.gen_range(0..3)]), "type": "work"}]);
        }
        if r.gen_bool(0.5) {
            u["title"] = json!(word(&mut r));
        }
        let (s, b, _) = app.scim("POST", "/Users", Some(u)).await;
        assert_eq!(s, 201, "{b}");
    }
    let (_, all, _) = app.scim("GET", "/Users?count=1000", None).await;
    let users: Vec<Value> = all["Resources"].as_array().expect("users").clone();
    let created: Vec<String> = users
        .iter()
        .filter_map(|u| u["meta"]["created"].as_str().map(String::from))
        .collect();
    let mut checked = 0;
    for _ in 0..150 {
        let text = filter(&mut r, 3, &created);
        let parsed = parse_filter(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let expected: BTreeSet<String> = users
            .iter()
            .filter(|u| matches(&parsed, u, ResourceKind::User))
            .filter_map(|u| u["id"].as_str().map(String::from))
            .collect();
        let q: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
        let (s, b, _) = app
            .scim(
                "GET",
                &format!("/Users?count=1000&attributes=id&filter={q}"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{text}: {b}");
        let got: BTreeSet<String> = b["Resources"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|u| u["id"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(got, expected, "filter {text}");
        checked += 1;
    }
    assert_eq!(checked, 150);
}
