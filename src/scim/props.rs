//! Property tests of the untrusted-input surface: the filter parser, PATCH
//! and list parameters never panic; printed filters parse back to the same
//! tree; a refused PATCH changes nothing; adding a member twice is adding it
//! once. (The SQL translation is checked against the in-memory evaluator
//! through HTTP in `tests/api/differential.rs`; the long-running mode is
//! `tests/fuzz.rs`.)

use super::filter::{parse_filter, parse_path, AttrPath, CompareOp, Filter};
use super::patch::apply_patch;
use super::query::ListParams;
use super::schema::ResourceKind;
use super::{ENTERPRISE_URN, USER_URN};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::HashMap;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z.:$]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn attr_path(subs: bool) -> impl Strategy<Value = AttrPath> {
    let names = prop::sample::select(vec![
        "userName",
        "displayName",
        "title",
        "active",
        "externalId",
        "id",
        "emails",
        "name",
        "nickName",
        "members",
        "meta",
    ]);
    let sub = prop::option::of(prop::sample::select(vec![
        "value",
        "type",
        "primary",
        "givenName",
        "familyName",
        "created",
        "lastModified",
    ]));
    let urn = prop::option::of(prop::sample::select(vec![USER_URN, ENTERPRISE_URN]));
    (names, sub, urn).prop_map(move |(attr, sub, urn)| AttrPath {
        urn: urn.map(String::from),
        attr: attr.to_string(),
        sub: if subs { sub.map(String::from) } else { None },
    })
}

fn compare_op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(vec![
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ])
}

fn comparison_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<String>().prop_map(Value::String),
    ]
}

fn leaf(subs: bool) -> impl Strategy<Value = Filter> {
    prop_oneof![
        (attr_path(subs), compare_op(), comparison_value())
            .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        attr_path(subs).prop_map(Filter::Present),
    ]
}

fn filter_tree() -> impl Strategy<Value = Filter> {
    let value_path = (attr_path(false), leaf(false)).prop_map(|(mut attr, f)| {
        attr.urn = None;
        // Inside brackets paths are relative: no URN.
        let f = match f {
            Filter::Compare {
                mut path,
                op,
                value,
            } => {
                path.urn = None;
                Filter::Compare { path, op, value }
            }
            Filter::Present(mut p) => {
                p.urn = None;
                Filter::Present(p)
            }
            other => other,
        };
        Filter::ValuePath {
            attr,
            filter: Box::new(f),
        }
    });
    prop_oneof![leaf(true), value_path].prop_recursive(4, 32, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|x| Filter::Not(Box::new(x))),
        ]
    })
}

/// Text made of the filter grammar's own pieces, in any order.
fn token_soup() -> impl Strategy<Value = String> {
    let tok = prop::sample::select(vec![
        "userName",
        "emails",
        "[",
        "]",
        "(",
        ")",
        "eq",
        "co",
        "pr",
        "and",
        "or",
        "not",
        "\"x\"",
        "\"",
        "\\",
        "true",
        "1e999",
        "-",
        ".",
        ":",
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "value",
        " ",
        "members[value eq \"a\"]",
        "ü",
        "\u{0}",
    ]);
    prop::collection::vec(tok, 0..24).prop_map(|v| v.concat())
}

fn patch_op() -> impl Strategy<Value = Value> {
    let op = prop::sample::select(vec![
        "add", "replace", "remove", "Add", "Replace", "Remove", "move",
    ]);
    let path = prop::option::of(prop::sample::select(vec![
        "emails",
        "emails[type eq \"work\"].value",
        "emails[value co \"@\"]",
        "name.givenName",
        "members",
        "members[value eq \"u1\"]",
        "active",
        "roles",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "displayName",
        "userName",
        "id",
        "bogus[",
    ]));
    (op, path, prop::option::of(json_value())).prop_map(|(op, path, value)| {
        let mut o = serde_json::Map::new();
        o.insert("op".into(), json!(op));
        if let Some(p) = path {
            o.insert("path".into(), json!(p));
        }
        if let Some(v) = value {
            o.insert("value".into(), v);
        }
        Value::Object(o)
    })
}

fn base_user() -> Value {
    json!({
        "schemas": [USER_URN],
        "userName": "ada@example.com",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
        "active": true,
        ENTERPRISE_URN: {"department": "Eng"}
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn filter_parser_never_panics(s in any::<String>(), soup in token_soup()) {
        let _ = parse_filter(&s);
        let _ = parse_filter(&soup);
        let _ = parse_path(&s);
        let _ = parse_path(&soup);
    }

    #[test]
    fn printed_filters_parse_to_the_same_tree(f in filter_tree()) {
        let text = f.to_string();
        let back = parse_filter(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back, f, "{}", text);
    }

    #[test]
    fn a_refused_patch_changes_nothing(ops in prop::collection::vec(patch_op(), 0..5)) {
        let mut user = base_user();
        let before = user.clone();
        if apply_patch(&mut user, ResourceKind::User, &ops).is_err() {
            prop_assert_eq!(user, before);
        }
    }

    #[test]
    fn adding_a_member_twice_is_adding_it_once(ids in prop::collection::vec("[a-f0-9]{1,6}", 1..6)) {
        let add = json!({"op": "add", "path": "members", "value": ids.iter().map(|i| json!({"value": i})).collect::<Vec<_>>()});
        let mut once = json!({"schemas": [super::GROUP_URN], "displayName": "g"});
        apply_patch(&mut once, ResourceKind::Group, std::slice::from_ref(&add)).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let mut twice = once.clone();
        apply_patch(&mut twice, ResourceKind::Group, &[add]).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn list_parameters_never_panic(
        q in prop::collection::hash_map(
            prop::sample::select(vec!["startIndex", "count", "filter", "sortBy", "sortOrder", "attributes", "excludedAttributes", "other"]),
            any::<String>(),
            0..6,
        ),
        body in json_value(),
    ) {
        let q: HashMap<String, String> = q.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let _ = ListParams::from_query(&q);
        let _ = ListParams::from_search(&body);
        let _ = super::patch_operations(&body);
    }

    #[test]
    fn stored_text_splits_into_its_members(
        m in prop::collection::btree_map(".{0,6}", json_value(), 0..6),
        noise in any::<String>(),
    ) {
        let want: Vec<(String, Value)> = m.clone().into_iter().collect();
        let text = Value::Object(m.into_iter().collect()).to_string();
        let got: Vec<(String, Value)> = super::json_text::members(&text)
            .ok_or_else(|| TestCaseError::fail(text.clone()))?
            .into_iter()
            .map(|(k, v)| (k.into_owned(), serde_json::from_str(v).unwrap_or(Value::Null)))
            .collect();
        prop_assert_eq!(got, want);
        // Whatever a column holds, splitting it never panics.
        let _ = super::json_text::members(&noise);
        let half: String = text.chars().take(text.chars().count() / 2).collect();
        let _ = super::json_text::members(&half);
    }

    #[test]
    fn a_rendered_user_keeps_what_it_stored(
        m in prop::collection::btree_map("[a-zA-Z]{1,8}", json_value(), 0..6),
        active in any::<bool>(),
    ) {
        let u = crate::store::scim::User {
            id: "u1".into(),
            account_id: "a".into(),
            user_name: "Ann@Example.com".into(),
            user_name_norm: "ann@example.com".into(),
            email_norm: None,
            external_id: Some("x\"1".into()),
            display_name: None,
            origin: crate::store::kinds::Origin::Idp,
            active,
            attributes: Value::Object(m.clone().into_iter().collect()).to_string(),
            password_hash: None,
            totp_secret: None,
            totp_last_step: None,
            version: 3,
            created_at: 0,
            updated_at: 1,
        };
        let groups = [("g1".to_string(), "Eng \"A\"".to_string())];
        let text = super::resource::user_text("http://h/scim/v2", &u, &groups, &[]);
        let v: Value = serde_json::from_slice(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (k, stored) in &m {
            if !["schemas", "id", "externalId", "userName", "active", "groups", "roles", "meta"].contains(&k.as_str()) {
                prop_assert_eq!(&v[k], stored);
            }
        }
        prop_assert_eq!(&v["id"], "u1");
        prop_assert_eq!(&v["externalId"], "x\"1");
        prop_assert_eq!(&v["userName"], "Ann@Example.com");
        prop_assert_eq!(&v["groups"][0]["display"], "Eng \"A\"");
        prop_assert_eq!(&v["meta"]["version"], "W/\"3\"");
        prop_assert_eq!(v.get("active").cloned(), (m.contains_key("active") || !active).then_some(Value::Bool(active)));
    }
}
