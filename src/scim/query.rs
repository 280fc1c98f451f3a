//! List parameters (RFC 7644 §3.4.2) and attribute projection (§3.4.2.5).

use super::error::ScimError;
use super::{ENTERPRISE_URN, GROUP_URN, USER_URN};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Largest page served, whatever `count` asks.
pub const MAX_RESULTS: u64 = 1000;
pub const DEFAULT_COUNT: u64 = 100;

#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    /// 1-based.
    pub start_index: u64,
    pub count: u64,
    pub sort_by: Option<String>,
    pub descending: bool,
    pub projection: Projection,
}

#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect()
}

fn number(name: &str, v: &str) -> Result<i64, ScimError> {
    v.trim()
        .parse::<i64>()
        .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, not {v:?}")))
}

impl ListParams {
    fn build(
        filter: Option<String>,
        start: Option<i64>,
        count: Option<i64>,
        sort_by: Option<String>,
        order: Option<String>,
        projection: Projection,
    ) -> Result<Self, ScimError> {
        let descending = match order.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("ascending") => false,
            Some("descending") => true,
            Some(o) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be ascending or descending, not {o:?}"
                )))
            }
        };
        Ok(ListParams {
            filter: filter.filter(|f| !f.trim().is_empty()),
            // RFC 7644: values below 1 are read as 1; negative counts as 0.
            start_index: start.unwrap_or(1).max(1) as u64,
            count: (count.unwrap_or(DEFAULT_COUNT as i64).max(0) as u64).min(MAX_RESULTS),
            sort_by: sort_by.filter(|s| !s.trim().is_empty()),
            descending,
            projection,
        })
    }

    /// From a GET query string; parameter names are matched case-insensitively.
    pub fn from_query(q: &HashMap<String, String>) -> Result<Self, ScimError> {
        let get = |k: &str| {
            q.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        let start = get("startIndex")
            .map(|v| number("startIndex", &v))
            .transpose()?;
        let count = get("count").map(|v| number("count", &v)).transpose()?;
        Self::build(
            get("filter"),
            start,
            count,
            get("sortBy"),
            get("sortOrder"),
            Projection::from_query(q)?,
        )
    }

    /// From a POST `.search` body.
    pub fn from_search(body: &Value) -> Result<Self, ScimError> {
        let get = |k: &str| {
            body.as_object().and_then(|o| {
                o.iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v.clone())
            })
        };
        let int = |k: &str| -> Result<Option<i64>, ScimError> {
            match get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => n
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| ScimError::invalid_value(format!("{k} must be an integer"))),
                Some(Value::String(s)) => number(k, &s).map(Some),
                Some(_) => Err(ScimError::invalid_value(format!("{k} must be an integer"))),
            }
        };
        let string = |k: &str| -> Result<Option<String>, ScimError> {
            match get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(ScimError::invalid_value(format!("{k} must be a string"))),
            }
        };
        let strings = |k: &str| -> Result<Vec<String>, ScimError> {
            match get(k) {
                None | Some(Value::Null) => Ok(vec![]),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str().map(String::from).ok_or_else(|| {
                            ScimError::invalid_value(format!("{k} must list strings"))
                        })
                    })
                    .collect(),
                Some(Value::String(s)) => Ok(split_list(&s)),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "{k} must be an array of strings"
                ))),
            }
        };
        let projection = Projection::new(strings("attributes")?, strings("excludedAttributes")?)?;
        Self::build(
            string("filter")?,
            int("startIndex")?,
            int("count")?,
            string("sortBy")?,
            string("sortOrder")?,
            projection,
        )
    }
}

impl Projection {
    pub fn new(attributes: Vec<String>, excluded: Vec<String>) -> Result<Self, ScimError> {
        if !attributes.is_empty() && !excluded.is_empty() {
            return Err(ScimError::invalid_value(
                "attributes and excludedAttributes cannot be combined",
            ));
        }
        Ok(Projection {
            attributes,
            excluded,
        })
    }

    pub fn from_query(q: &HashMap<String, String>) -> Result<Self, ScimError> {
        let get = |k: &str| {
            q.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| split_list(v))
                .unwrap_or_default()
        };
        Self::new(get("attributes"), get("excludedAttributes"))
    }

    pub fn excludes(&self, attr: &str) -> bool {
        let hit = |list: &[String]| {
            list.iter().any(|a| {
                path_of(a)
                    .first()
                    .is_some_and(|p| p.eq_ignore_ascii_case(attr))
                    && path_of(a).len() == 1
            })
        };
        if !self.attributes.is_empty() {
            return !self.attributes.iter().any(|a| {
                path_of(a)
                    .first()
                    .is_some_and(|p| p.eq_ignore_ascii_case(attr))
            });
        }
        hit(&self.excluded)
    }

    /// Applies the projection to a resource's JSON text: as it is when
    /// nothing is left out (the usual request), else through a `Value`.
    pub fn apply_text(&self, text: Vec<u8>) -> Vec<u8> {
        if self.attributes.is_empty() && self.excluded.is_empty() {
            return text;
        }
        match serde_json::from_slice(&text) {
            Ok(v) => serde_json::to_vec(&self.apply(v)).unwrap_or_default(),
            Err(_) => text,
        }
    }

    /// Applies attributes / excludedAttributes; `id` and `schemas` always stay.
    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(src) = resource else {
            return resource;
        };
        if !self.attributes.is_empty() {
            let mut out = Map::new();
            for keep in ["schemas", "id"] {
                if let Some(v) = src.get(keep) {
                    out.insert(keep.into(), v.clone());
                }
            }
            for a in &self.attributes {
                copy_path(&src, &mut out, &path_of(a));
            }
            return Value::Object(out);
        }
        let mut out = src;
        for a in &self.excluded {
            let p = path_of(a);
            if let [only] = p.as_slice() {
                if only.eq_ignore_ascii_case("id") || only.eq_ignore_ascii_case("schemas") {
                    continue;
                }
            }
            remove_path(&mut out, &p);
        }
        Value::Object(out)
    }
}

/// `urn:...:User:name.givenName` -> ["name", "givenName"]; enterprise paths
/// start with the extension URN key.
pub fn path_of(attr: &str) -> Vec<String> {
    let a = attr.trim();
    let lower = a.to_ascii_lowercase();
    if lower.starts_with(&ENTERPRISE_URN.to_ascii_lowercase()) {
        let rest = a[ENTERPRISE_URN.len()..].trim_start_matches(':');
        let mut p = vec![ENTERPRISE_URN.to_string()];
        p.extend(rest.split('.').filter(|s| !s.is_empty()).map(String::from));
        return p;
    }
    let rest = [USER_URN, GROUP_URN]
        .iter()
        .find(|u| lower.starts_with(&format!("{}:", u.to_ascii_lowercase())))
        .map(|u| &a[u.len() + 1..])
        .unwrap_or(a);
    rest.split('.')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn find_key<'a>(m: &'a Map<String, Value>, k: &str) -> Option<(&'a String, &'a Value)> {
    m.iter().find(|(n, _)| n.eq_ignore_ascii_case(k))
}

fn copy_path(src: &Map<String, Value>, out: &mut Map<String, Value>, path: &[String]) {
    let Some((head, rest)) = path.split_first() else {
        return;
    };
    let Some((key, v)) = find_key(src, head) else {
        return;
    };
    if rest.is_empty() {
        out.insert(key.clone(), v.clone());
        return;
    }
    match v {
        Value::Object(inner) => {
            let slot = out
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(o) = slot {
                copy_path(inner, o, rest);
            }
        }
        Value::Array(items) => {
            let picked: Vec<Value> = items
                .iter()
                .filter_map(|i| i.as_object())
                .map(|i| {
                    let mut o = Map::new();
                    copy_path(i, &mut o, rest);
                    Value::Object(o)
                })
                .filter(|o| o.as_object().is_some_and(|m| !m.is_empty()))
                .collect();
            if !picked.is_empty() {
                out.insert(key.clone(), Value::Array(picked));
            }
        }
        _ => {}
    }
}

fn remove_path(m: &mut Map<String, Value>, path: &[String]) {
    let Some((head, rest)) = path.split_first() else {
        return;
    };
    let Some(key) = m.keys().find(|k| k.eq_ignore_ascii_case(head)).cloned() else {
        return;
    };
    if rest.is_empty() {
        m.remove(&key);
        return;
    }
    match m.get_mut(&key) {
        Some(Value::Object(inner)) => remove_path(inner, rest),
        Some(Value::Array(items)) => {
            for i in items.iter_mut() {
                if let Value::Object(o) = i {
                    remove_path(o, rest);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn paging_defaults_and_bounds() {
        let p = ListParams::from_query(&q(&[])).unwrap();
        assert_eq!((p.start_index, p.count), (1, DEFAULT_COUNT));
        let p = ListParams::from_query(&q(&[("startindex", "0"), ("COUNT", "-5")])).unwrap();
        assert_eq!((p.start_index, p.count), (1, 0));
        let p = ListParams::from_query(&q(&[("count", "100000")])).unwrap();
        assert_eq!(p.count, MAX_RESULTS);
        assert_eq!(
            ListParams::from_query(&q(&[("count", "ten")]))
                .unwrap_err()
                .scim_type,
            Some("invalidValue")
        );
        assert!(ListParams::from_query(&q(&[("sortOrder", "sideways")])).is_err());
        let p = ListParams::from_search(&json!({"startIndex": 3, "count": "2", "attributes": ["userName"], "sortOrder": "descending"})).unwrap();
        assert_eq!((p.start_index, p.count, p.descending), (3, 2, true));
        assert!(ListParams::from_search(&json!({"count": true})).is_err());
        assert!(ListParams::from_search(
            &json!({"attributes": ["a"], "excludedAttributes": ["b"]})
        )
        .is_err());
    }

    #[test]
    fn projection() {
        let r = json!({"schemas": ["s"], "id": "1", "userName": "a", "name": {"givenName": "G", "familyName": "F"},
            "emails": [{"value": "a@x", "type": "work"}], ENTERPRISE_URN: {"department": "D", "costCenter": "C"}, "meta": {"version": "W/\"1\""}});
        let p = Projection::new(
            vec![
                "USERNAME".into(),
                "name.givenName".into(),
                format!("{USER_URN}:emails.value"),
                format!("{ENTERPRISE_URN}:department"),
            ],
            vec![],
        )
        .unwrap();
        assert_eq!(
            p.apply(r.clone()),
            json!({"schemas": ["s"], "id": "1", "userName": "a", "name": {"givenName": "G"}, "emails": [{"value": "a@x"}], ENTERPRISE_URN: {"department": "D"}})
        );
        let p = Projection::new(
            vec![],
            vec![
                "emails".into(),
                "id".into(),
                "name.familyName".into(),
                ENTERPRISE_URN.into(),
            ],
        )
        .unwrap();
        let out = p.apply(r);
        assert_eq!(out["id"], "1");
        assert!(out.get("emails").is_none() && out.get(ENTERPRISE_URN).is_none());
        assert_eq!(out["name"], json!({"givenName": "G"}));
        assert!(Projection::new(vec![], vec!["members".into()])
            .unwrap()
            .excludes("members"));
        assert!(Projection::new(vec!["displayName".into()], vec![])
            .unwrap()
            .excludes("members"));
        assert!(!Projection::default().excludes("members"));
    }
}
