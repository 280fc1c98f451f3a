//! The long-running mode of the parser property tests (issue 8): ten
//! million generated inputs through the SCIM filter parser, the PATCH path
//! parser, the PATCH engine and the list parameters, none of which may
//! panic. Ignored by default (it takes minutes); run it with
//! `bench/fuzz.sh` (release build), which prints the figures quoted in the README.
//! `IDBRIDGE_FUZZ_INPUTS` changes the count.

use idbridge::scim::filter::{parse_filter, parse_path};
use idbridge::scim::patch::apply_patch;
use idbridge::scim::query::ListParams;
use idbridge::scim::schema::ResourceKind;
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Instant;

const PIECES: [&str; 40] = [
    "userName",
    "emails",
    "members",
    "name",
    "givenName",
    "meta",
    "lastModified",
    "active",
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "[",
    "]",
    "(",
    ")",
    ".",
    ":",
    " ",
    " ",
    "eq",
    "ne",
    "co",
    "sw",
    "ew",
    "gt",
    "le",
    "pr",
    "and",
    "or",
    "not",
    "\"",
    "\"x y\"",
    "\"\\u00e9\"",
    "\\",
    "true",
    "null",
    "12",
    "-3.5e9",
    "value",
    "type",
    "é",
];

fn soup(r: &mut StdRng) -> String {
    let n = r.gen_range(0..16);
    let mut s = String::new();
    for _ in 0..n {
        if r.gen_bool(0.05) {
            s.push(char::from_u32(r.gen_range(0..0x800)).unwrap_or('?'));
        } else {
            s.push_str(PIECES[r.gen_range(0..PIECES.len())]);
        }
    }
    s
}

/// A filter from the grammar, so the parser's deeper paths are exercised too.
fn grammar(r: &mut StdRng, depth: u32) -> String {
    let attrs = [
        "userName",
        "emails.value",
        "name.givenName",
        "meta.lastModified",
        "active",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    ];
    let ops = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"];
    let vals = [
        "\"x\"",
        "true",
        "null",
        "42",
        "\"2026-01-01T00:00:00Z\"",
        "\"a\\\"b\"",
    ];
    if depth == 0 || r.gen_bool(0.4) {
        return match r.gen_range(0..3) {
            0 => format!("{} pr", attrs[r.gen_range(0..attrs.len())]),
            1 => format!(
                "emails[type eq \"work\" and value {} {}]",
                ops[r.gen_range(0..ops.len())],
                vals[r.gen_range(0..vals.len())]
            ),
            _ => format!(
                "{} {} {}",
                attrs[r.gen_range(0..attrs.len())],
                ops[r.gen_range(0..ops.len())],
                vals[r.gen_range(0..vals.len())]
            ),
        };
    }
    match r.gen_range(0..3) {
        0 => format!("({} and {})", grammar(r, depth - 1), grammar(r, depth - 1)),
        1 => format!("{} or {}", grammar(r, depth - 1), grammar(r, depth - 1)),
        _ => format!("not ({})", grammar(r, depth - 1)),
    }
}

/// A valid filter, sometimes with one character dropped or a piece inserted.
fn filter_input(r: &mut StdRng) -> String {
    if r.gen_bool(0.3) {
        return soup(r);
    }
    let mut f: Vec<char> = grammar(r, 3).chars().collect();
    match r.gen_range(0..3) {
        0 if !f.is_empty() => {
            let i = r.gen_range(0..f.len());
            f.remove(i);
        }
        1 => {
            let i = r.gen_range(0..=f.len());
            let piece: Vec<char> = PIECES[r.gen_range(0..PIECES.len())].chars().collect();
            f.splice(i..i, piece);
        }
        _ => {}
    }
    f.into_iter().collect()
}

fn value(r: &mut StdRng, depth: u32) -> Value {
    match r.gen_range(0..if depth == 0 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(r.gen_bool(0.5)),
        2 => json!(r.gen_range(-5..5)),
        3 => json!(["True", "False", "x@y.z", "work", ""][r.gen_range(0..5)]),
        4 => json!(soup(r)),
        5 => Value::Array(
            (0..r.gen_range(0..4))
                .map(|_| value(r, depth - 1))
                .collect(),
        ),
        _ => {
            let keys = [
                "value",
                "type",
                "primary",
                "display",
                "givenName",
                "userName",
                "active",
                "emails[type eq \"work\"].value",
            ];
            Value::Object(
                (0..r.gen_range(0..4))
                    .map(|_| {
                        (
                            keys[r.gen_range(0..keys.len())].to_string(),
                            value(r, depth - 1),
                        )
                    })
                    .collect(),
            )
        }
    }
}

fn patch_ops(r: &mut StdRng) -> Vec<Value> {
    (0..r.gen_range(0..4))
        .map(|_| {
            let mut o = serde_json::Map::new();
            o.insert(
                "op".into(),
                json!(["add", "Replace", "remove", "copy"][r.gen_range(0..4)]),
            );
            if r.gen_bool(0.8) {
                o.insert("path".into(), json!(soup(r)));
            }
            if r.gen_bool(0.8) {
                o.insert("value".into(), value(r, 2));
            }
            Value::Object(o)
        })
        .collect()
}

#[test]
#[ignore = "long-running (minutes): run with bench/fuzz.sh"]
fn ten_million_generated_inputs() {
    let total: u64 = std::env::var("IDBRIDGE_FUZZ_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let mut r = StdRng::seed_from_u64(20261125);
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@b.c",
        "emails": [{"value": "a@b.c", "type": "work", "primary": true}], "name": {"givenName": "A"}, "active": true});
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g", "members": [{"value": "u1"}]});
    let start = Instant::now();
    let (mut filters_ok, mut paths_ok, mut patches_ok, mut lists_ok) = (0u64, 0u64, 0u64, 0u64);
    for i in 0..total {
        match i % 4 {
            0 => filters_ok += u64::from(parse_filter(&filter_input(&mut r)).is_ok()),
            1 => paths_ok += u64::from(parse_path(&soup(&mut r)).is_ok()),
            2 => {
                let (mut res, kind) = if r.gen_bool(0.5) {
                    (user.clone(), ResourceKind::User)
                } else {
                    (group.clone(), ResourceKind::Group)
                };
                let before = res.clone();
                let ops = patch_ops(&mut r);
                match apply_patch(&mut res, kind, &ops) {
                    Ok(()) => patches_ok += 1,
                    Err(_) => {
                        assert_eq!(res, before, "a refused PATCH changed the resource: {ops:?}")
                    }
                }
            }
            _ => {
                let mut q = HashMap::new();
                for k in ["startIndex", "count", "filter", "sortBy", "attributes"] {
                    if r.gen_bool(0.4) {
                        q.insert(k.to_string(), soup(&mut r));
                    }
                }
                lists_ok += u64::from(ListParams::from_query(&q).is_ok());
                let _ = ListParams::from_search(&value(&mut r, 2));
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{total} inputs in {secs:.1} s ({:.0}/s); accepted: filters {filters_ok}, paths {paths_ok}, patches {patches_ok}, list params {lists_ok}",
        total as f64 / secs
    );
}
