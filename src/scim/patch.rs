//! RFC 7644 §3.5.2 PATCH, applied to a resource's SCIM JSON.
//!
//! All operations apply to a copy; the resource changes only if every one
//! succeeds. Accepts what real IdPs send: op names in any case, pathless
//! add/replace whose keys are paths (dotted or URN-prefixed), Entra's
//! `emails[type eq "work"].value` upsert and `remove members` with a value
//! list, Okta's `replace members []`. Type coercion ("True" strings, bare
//! manager ids) happens afterwards in `resource`, in one place.

use super::filter::{element_matches, get_ci, parse_path, AttrPath, CompareOp, Filter, PatchPath};
use super::schema::{self, Mutability, ResourceKind, Type};
use super::ENTERPRISE_URN;
use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatchError {
    #[error("{0}")]
    InvalidPath(String),
    #[error("{0}")]
    NoTarget(String),
    #[error("{0}")]
    InvalidValue(String),
    #[error("{0}")]
    Mutability(String),
    #[error("{0}")]
    InvalidSyntax(String),
}

impl PatchError {
    pub fn scim_type(&self) -> &'static str {
        match self {
            PatchError::InvalidPath(_) => "invalidPath",
            PatchError::NoTarget(_) => "noTarget",
            PatchError::InvalidValue(_) => "invalidValue",
            PatchError::Mutability(_) => "mutability",
            PatchError::InvalidSyntax(_) => "invalidSyntax",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// Keys a pathless value may carry that are not the client's to change (Okta sends `id`).
const SKIP_PATHLESS: &[&str] = &["id", "meta", "schemas"];

pub fn apply_patch(
    resource: &mut Value,
    kind: ResourceKind,
    ops: &[Value],
) -> Result<(), PatchError> {
    let mut work = resource.clone();
    for (i, raw) in ops.iter().enumerate() {
        apply_one(&mut work, kind, raw).map_err(|e| match e {
            PatchError::InvalidPath(m) => {
                PatchError::InvalidPath(format!("operation {}: {m}", i + 1))
            }
            PatchError::NoTarget(m) => PatchError::NoTarget(format!("operation {}: {m}", i + 1)),
            PatchError::InvalidValue(m) => {
                PatchError::InvalidValue(format!("operation {}: {m}", i + 1))
            }
            PatchError::Mutability(m) => {
                PatchError::Mutability(format!("operation {}: {m}", i + 1))
            }
            PatchError::InvalidSyntax(m) => {
                PatchError::InvalidSyntax(format!("operation {}: {m}", i + 1))
            }
        })?;
    }
    *resource = work;
    Ok(())
}

fn apply_one(res: &mut Value, kind: ResourceKind, raw: &Value) -> Result<(), PatchError> {
    let op = match get_ci(raw, "op")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("add") => Op::Add,
        Some("replace") => Op::Replace,
        Some("remove") => Op::Remove,
        Some(o) => return Err(PatchError::InvalidSyntax(format!("unknown op {o:?}"))),
        None => {
            return Err(PatchError::InvalidSyntax(
                "each operation needs an op".into(),
            ))
        }
    };
    let value = get_ci(raw, "value").cloned();
    let path = match get_ci(raw, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(PatchError::InvalidPath("path must be a string".into())),
    };
    match path {
        Some(p) => {
            let parsed = parse_path(&p).map_err(|e| PatchError::InvalidPath(e.to_string()))?;
            if op != Op::Remove && value.is_none() {
                return Err(PatchError::InvalidValue(format!(
                    "{p}: a value is required"
                )));
            }
            at_path(res, kind, op, &parsed, value)
        }
        None => {
            if op == Op::Remove {
                return Err(PatchError::NoTarget("remove needs a path".into()));
            }
            let Some(Value::Object(map)) = value else {
                return Err(PatchError::InvalidValue(
                    "without a path, the value must be an object".into(),
                ));
            };
            for (k, v) in map {
                if SKIP_PATHLESS.iter().any(|s| s.eq_ignore_ascii_case(&k)) {
                    continue;
                }
                let parsed = parse_path(&k).map_err(|e| PatchError::InvalidPath(e.to_string()))?;
                at_path(res, kind, op, &parsed, Some(v))?;
            }
            Ok(())
        }
    }
}

fn obj(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => m,
        // Unreachable: just made an object.
        _ => unreachable_object(),
    }
}

#[allow(clippy::panic)]
fn unreachable_object() -> ! {
    panic!("value was just made an object")
}

/// The key under which `name` is stored (existing spelling, else canonical).
fn key_in(m: &Map<String, Value>, canonical: &str) -> String {
    m.keys()
        .find(|k| k.eq_ignore_ascii_case(canonical))
        .cloned()
        .unwrap_or_else(|| canonical.to_string())
}

fn check_writable(def: &schema::Attr, what: &str) -> Result<(), PatchError> {
    if def.mutability == Mutability::ReadOnly {
        return Err(PatchError::Mutability(format!("{what} is read-only")));
    }
    Ok(())
}

fn as_list(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        Value::Null => vec![],
        other => vec![other],
    }
}

/// What makes two items of a multi-valued attribute the same item: their
/// value and type, or the whole item when it has no value.
fn item_identity(it: &Value) -> String {
    match it.get("value") {
        Some(v) => format!("v{v}\u{0}{}", it.get("type").unwrap_or(&Value::Null)),
        None => format!("i{it}"),
    }
}

/// Keeps at most one `primary: true` in a multi-valued attribute: the newest.
fn one_primary(items: &mut [Value], newest: &[Value]) {
    if !newest
        .iter()
        .any(|n| n.get("primary").and_then(super::resource::coerce_bool) == Some(true))
    {
        return;
    }
    // Compared as JSON text in a set: linear in the list, whatever its size.
    let newest: std::collections::HashSet<String> = newest.iter().map(Value::to_string).collect();
    for it in items.iter_mut() {
        let is_new = newest.contains(&it.to_string());
        if !is_new {
            if let Some(o) = it.as_object_mut() {
                if o.contains_key("primary") {
                    o.insert("primary".into(), Value::Bool(false));
                }
            }
        }
    }
}

/// Applies one operation at a path: checks the schema, then hands the work
/// to the function for the path's shape.
fn at_path(
    res: &mut Value,
    kind: ResourceKind,
    op: Op,
    p: &PatchPath,
    value: Option<Value>,
) -> Result<(), PatchError> {
    let a: &AttrPath = &p.attr;
    let enterprise = check_schema(a, kind)?;
    // The bare extension URN addresses the whole extension object.
    if a.attr.is_empty() {
        if !enterprise {
            return Err(PatchError::InvalidPath("a path needs an attribute".into()));
        }
        return whole_extension(res, kind, op, value);
    }
    let def = schema::lookup(kind, a.urn.as_deref(), &a.attr, None)
        .ok_or_else(|| PatchError::InvalidPath(format!("unknown attribute {}", a.attr)))?;
    check_writable(def, def.name)?;
    let root = obj(res);
    let scope: &mut Map<String, Value> = if enterprise {
        let k = key_in(root, ENTERPRISE_URN);
        if op == Op::Remove && !root.contains_key(&k) {
            return Ok(());
        }
        obj(root.entry(k).or_insert_with(|| Value::Object(Map::new())))
    } else {
        root
    };
    let key = key_in(scope, def.name);
    if let Some(sub) = &a.sub {
        let sdef = sub_definition(kind, a, def, sub)?;
        return sub_attribute(scope, key, sdef, op, value);
    }
    if let Some(f) = &p.filter {
        if !def.multi {
            return Err(PatchError::InvalidPath(format!(
                "{} is not multi-valued",
                def.name
            )));
        }
        if let Some(sub) = &p.sub_after {
            sub_definition(kind, a, def, sub)?;
        }
        let items = list_at(scope, key)?;
        let hits: Vec<usize> = items
            .iter()
            .enumerate()
            .filter(|(_, it)| element_matches(f, it, kind, a))
            .map(|(i, _)| i)
            .collect();
        return match op {
            Op::Remove => remove_filtered(items, def, &hits, p.sub_after.as_deref()),
            Op::Add | Op::Replace => {
                let v = value.unwrap_or(Value::Null);
                set_filtered(items, def, f, &hits, p.sub_after.as_deref(), v)
            }
        };
    }
    match op {
        Op::Remove => {
            remove_whole(scope, &key, def, value);
            Ok(())
        }
        Op::Add | Op::Replace => {
            let v = value.unwrap_or(Value::Null);
            if def.multi {
                set_multi(scope, key, def, op, v)
            } else if def.ty == Type::Complex {
                set_complex(scope, key, def, v)
            } else {
                set_simple(scope, key, def, v)
            }
        }
    }
}

/// A path's schema URN must be the resource's own or (users) the enterprise
/// extension; true for the enterprise extension.
fn check_schema(a: &AttrPath, kind: ResourceKind) -> Result<bool, PatchError> {
    let enterprise = a
        .urn
        .as_deref()
        .is_some_and(|u| u.eq_ignore_ascii_case(ENTERPRISE_URN));
    if let Some(u) = &a.urn {
        let core = [super::USER_URN, super::GROUP_URN]
            .iter()
            .any(|c| c.eq_ignore_ascii_case(u));
        if !enterprise && !core {
            return Err(PatchError::InvalidPath(format!("unknown schema {u}")));
        }
        if enterprise && kind != ResourceKind::User {
            return Err(PatchError::InvalidPath(
                "groups have no enterprise extension".into(),
            ));
        }
    }
    Ok(enterprise)
}

/// The enterprise extension object as a whole: removed, or each key applied.
fn whole_extension(
    res: &mut Value,
    kind: ResourceKind,
    op: Op,
    value: Option<Value>,
) -> Result<(), PatchError> {
    let root = obj(res);
    let key = key_in(root, ENTERPRISE_URN);
    match (op, value) {
        (Op::Remove, _) => {
            root.remove(&key);
            Ok(())
        }
        (_, Some(Value::Object(m))) => {
            for (k, v) in m
                .into_iter()
                .filter(|(k, _)| !SKIP_PATHLESS.iter().any(|s| s.eq_ignore_ascii_case(k)))
            {
                let sub = PatchPath {
                    attr: AttrPath {
                        urn: Some(ENTERPRISE_URN.into()),
                        attr: k,
                        sub: None,
                    },
                    filter: None,
                    sub_after: None,
                };
                at_path(res, kind, op, &sub, Some(v))?;
            }
            Ok(())
        }
        _ => Err(PatchError::InvalidValue(
            "the enterprise extension value must be an object".into(),
        )),
    }
}

/// The definition of `attr.sub`, which must exist and be writable.
fn sub_definition(
    kind: ResourceKind,
    a: &AttrPath,
    def: &schema::Attr,
    sub: &str,
) -> Result<&'static schema::Attr, PatchError> {
    let sdef = schema::lookup(kind, a.urn.as_deref(), &a.attr, Some(sub))
        .ok_or_else(|| PatchError::InvalidPath(format!("unknown attribute {}.{sub}", a.attr)))?;
    check_writable(sdef, &format!("{}.{}", def.name, sdef.name))?;
    Ok(sdef)
}

/// `attr.sub` without a filter: on the object, or on every item of a list.
fn sub_attribute(
    scope: &mut Map<String, Value>,
    key: String,
    sdef: &schema::Attr,
    op: Op,
    value: Option<Value>,
) -> Result<(), PatchError> {
    if op == Op::Remove {
        match scope.get_mut(&key) {
            Some(Value::Object(o)) => {
                let k = key_in(o, sdef.name);
                o.remove(&k);
            }
            Some(Value::Array(items)) => {
                for it in items.iter_mut().filter_map(Value::as_object_mut) {
                    let k = key_in(it, sdef.name);
                    it.remove(&k);
                }
            }
            _ => {}
        }
        return Ok(());
    }
    let v = value.unwrap_or(Value::Null);
    match scope
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
    {
        Value::Array(items) => {
            for it in items.iter_mut().filter_map(Value::as_object_mut) {
                let k = key_in(it, sdef.name);
                it.insert(k, v.clone());
            }
        }
        target => {
            let o = obj(target);
            let k = key_in(o, sdef.name);
            o.insert(k, v);
        }
    }
    Ok(())
}

/// The list stored under `key`, made one if it is missing or not a list.
fn list_at(scope: &mut Map<String, Value>, key: String) -> Result<&mut Vec<Value>, PatchError> {
    let slot = scope.entry(key).or_insert_with(|| Value::Array(vec![]));
    if !slot.is_array() {
        *slot = Value::Array(vec![]);
    }
    slot.as_array_mut()
        .ok_or_else(|| PatchError::InvalidValue("not a list".into()))
}

/// `remove attr[filter](.sub)`.
fn remove_filtered(
    items: &mut Vec<Value>,
    def: &schema::Attr,
    hits: &[usize],
    sub_after: Option<&str>,
) -> Result<(), PatchError> {
    if hits.is_empty() {
        // Removing a member who is not there is a no-op (idempotent for retrying IdPs).
        return if def.name == "members" {
            Ok(())
        } else {
            Err(PatchError::NoTarget(format!(
                "no {} value matches the filter",
                def.name
            )))
        };
    }
    match sub_after {
        Some(sub) => {
            for &i in hits {
                if let Some(o) = items.get_mut(i).and_then(Value::as_object_mut) {
                    let k = key_in(o, sub);
                    o.remove(&k);
                }
            }
        }
        None => {
            let hits: std::collections::HashSet<usize> = hits.iter().copied().collect();
            let mut i = 0;
            items.retain(|_| {
                let keep = !hits.contains(&i);
                i += 1;
                keep
            });
        }
    }
    Ok(())
}

/// `add|replace attr[filter](.sub)`: on the matching items, or (Entra's
/// `emails[type eq "work"].value` on a user without one) a new item seeded
/// from the filter.
fn set_filtered(
    items: &mut Vec<Value>,
    def: &schema::Attr,
    f: &Filter,
    hits: &[usize],
    sub_after: Option<&str>,
    v: Value,
) -> Result<(), PatchError> {
    let objects_only = || PatchError::InvalidValue(format!("{} values are objects", def.name));
    if hits.is_empty() {
        let Some(seed) = seed_from_filter(f) else {
            return Err(PatchError::NoTarget(format!(
                "no {} value matches the filter",
                def.name
            )));
        };
        let new = match (sub_after, v) {
            (Some(sub), v) => {
                let mut o = seed;
                o.insert(sub.to_string(), v);
                Value::Object(o)
            }
            (None, Value::Object(mut o)) => {
                for (k, sv) in seed {
                    o.entry(k).or_insert(sv);
                }
                Value::Object(o)
            }
            (None, _) => return Err(objects_only()),
        };
        items.push(new.clone());
        one_primary(items, &[new]);
        return Ok(());
    }
    let mut changed = vec![];
    for &i in hits {
        let Some(item) = items.get_mut(i) else {
            continue;
        };
        match sub_after {
            Some(sub) => {
                let o = obj(item);
                let k = key_in(o, sub);
                o.insert(k, v.clone());
            }
            None if v.is_object() => *item = v.clone(),
            None => return Err(objects_only()),
        }
        changed.push(item.clone());
    }
    one_primary(items, &changed);
    Ok(())
}

/// `remove attr`: the whole attribute, or (Entra, multi-valued with a
/// value) only the items listed.
fn remove_whole(
    scope: &mut Map<String, Value>,
    key: &str,
    def: &schema::Attr,
    value: Option<Value>,
) {
    match (def.multi, value) {
        (true, Some(v)) if !v.is_null() => {
            let gone = as_list(v);
            if let Some(Value::Array(items)) = scope.get_mut(key) {
                let gone: std::collections::HashSet<&str> = gone
                    .iter()
                    .filter_map(|g| g.get("value").and_then(Value::as_str))
                    .collect();
                items.retain(|it| {
                    !it.get("value")
                        .and_then(Value::as_str)
                        .is_some_and(|v| gone.contains(v))
                });
            }
        }
        _ => {
            scope.remove(key);
        }
    }
}

/// `add|replace` of a multi-valued attribute: replace sets the list; add
/// merges (members by id, others by value and type), linear in both lists.
fn set_multi(
    scope: &mut Map<String, Value>,
    key: String,
    def: &schema::Attr,
    op: Op,
    v: Value,
) -> Result<(), PatchError> {
    let new = as_list(v);
    if new
        .iter()
        .any(|n| def.ty == Type::Complex && !n.is_object())
    {
        return Err(PatchError::InvalidValue(format!(
            "{} values are objects",
            def.name
        )));
    }
    if op == Op::Replace {
        let mut new = new;
        let last: Vec<Value> = new.last().cloned().into_iter().collect();
        one_primary(&mut new, &last);
        scope.insert(key, Value::Array(new));
        return Ok(());
    }
    let items = list_at(scope, key)?;
    if def.name == "members" {
        merge_by_value(items, &new);
    } else {
        merge_by_identity(items, &new);
    }
    one_primary(items, &new);
    Ok(())
}

/// Members are matched by id with a set: groups hold thousands.
fn merge_by_value(items: &mut Vec<Value>, new: &[Value]) {
    let mut present: std::collections::HashSet<String> = items
        .iter()
        .filter_map(|i| i.get("value").and_then(Value::as_str).map(String::from))
        .collect();
    for n in new {
        let fresh = n
            .get("value")
            .and_then(Value::as_str)
            .is_none_or(|v| present.insert(v.to_string()));
        if fresh {
            items.push(n.clone());
        }
    }
}

/// Indexed by item identity, so a merge stays linear.
fn merge_by_identity(items: &mut Vec<Value>, new: &[Value]) {
    let mut at: std::collections::HashMap<String, usize> = items
        .iter()
        .enumerate()
        .map(|(i, it)| (item_identity(it), i))
        .collect();
    for n in new {
        match at.get(&item_identity(n)) {
            Some(&i) => {
                if let Some(existing) = items.get_mut(i) {
                    *existing = n.clone();
                }
            }
            None => {
                at.insert(item_identity(n), items.len());
                items.push(n.clone());
            }
        }
    }
}

/// `add|replace` of a complex single-valued attribute: sub-attributes given
/// replace or add, others stay (RFC 7644 §3.5.2.3).
fn set_complex(
    scope: &mut Map<String, Value>,
    key: String,
    def: &schema::Attr,
    v: Value,
) -> Result<(), PatchError> {
    // Entra's bare-string manager: kept as given, stored as {value} by `resource`.
    if def.name == "manager" && v.is_string() {
        scope.insert(key, v);
        return Ok(());
    }
    let Value::Object(m) = v else {
        return Err(PatchError::InvalidValue(format!(
            "{} must be an object",
            def.name
        )));
    };
    let target = obj(scope
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new())));
    for (k, sv) in m {
        let k = key_in(target, &k);
        target.insert(k, sv);
    }
    Ok(())
}

/// `add|replace` of a simple attribute, type-checked.
fn set_simple(
    scope: &mut Map<String, Value>,
    key: String,
    def: &schema::Attr,
    v: Value,
) -> Result<(), PatchError> {
    if def.ty == Type::Boolean && super::resource::coerce_bool(&v).is_none() && !v.is_null() {
        return Err(PatchError::InvalidValue(format!(
            "{} must be a boolean",
            def.name
        )));
    }
    if matches!(def.ty, Type::String | Type::Reference | Type::DateTime)
        && !(v.is_string() || v.is_null())
        && def.name != "manager"
    {
        return Err(PatchError::InvalidValue(format!(
            "{} must be a string",
            def.name
        )));
    }
    scope.insert(key, v);
    Ok(())
}

/// For an upsert through `attr[type eq "work"]`, the element to create.
fn seed_from_filter(f: &Filter) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    fn walk(f: &Filter, out: &mut Map<String, Value>) -> bool {
        match f {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.sub.is_none() => {
                out.insert(path.attr.clone(), value.clone());
                true
            }
            Filter::And(a, b) => walk(a, out) && walk(b, out),
            _ => false,
        }
    }
    walk(f, &mut out).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({"schemas": [super::super::USER_URN], "id": "u1", "userName": "ada", "active": true,
               "name": {"givenName": "Ada", "familyName": "L"},
               "emails": [{"value": "a@work", "type": "work", "primary": true}]})
    }

    fn run(v: &mut Value, kind: ResourceKind, ops: Value) -> Result<(), PatchError> {
        apply_patch(v, kind, ops.as_array().unwrap())
    }

    #[test]
    fn entra_habits() {
        let mut u = user();
        run(
            &mut u,
            ResourceKind::User,
            json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Add", "value": {"name.givenName": "Augusta", (format!("{ENTERPRISE_URN}:department")): "Math", "id": "ignored"}},
                {"op": "replace", "path": "emails[type eq \"home\"].value", "value": "a@home"},
                {"op": "Replace", "path": format!("{ENTERPRISE_URN}:manager"), "value": "boss"},
            ]),
        )
        .unwrap();
        assert_eq!(
            u["active"],
            json!("False"),
            "coerced later by resource::user_input"
        );
        assert_eq!(
            u["name"],
            json!({"givenName": "Augusta", "familyName": "L"})
        );
        assert_eq!(
            u[ENTERPRISE_URN],
            json!({"department": "Math", "manager": "boss"})
        );
        assert_eq!(u["emails"][1], json!({"type": "home", "value": "a@home"}));
        assert_eq!(u["id"], "u1");
    }

    #[test]
    fn value_filter_replace_updates_in_place() {
        let mut u = user();
        run(&mut u, ResourceKind::User, json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@work"}])).unwrap();
        assert_eq!(
            u["emails"],
            json!([{"value": "new@work", "type": "work", "primary": true}])
        );
    }

    #[test]
    fn members() {
        let mut g = json!({"id": "g", "displayName": "Eng", "members": [{"value": "a"}, {"value": "b"}, {"value": "c"}]});
        let k = ResourceKind::Group;
        run(
            &mut g,
            k,
            json!([{"op": "add", "path": "members", "value": [{"value": "b"}, {"value": "d"}]}]),
        )
        .unwrap();
        assert_eq!(g["members"].as_array().unwrap().len(), 4);
        run(&mut g, k, json!([{"op": "Remove", "path": "members", "value": [{"value": "a"}, {"value": "zz"}]}])).unwrap();
        run(
            &mut g,
            k,
            json!([{"op": "remove", "path": "members[value eq \"c\"]"}]),
        )
        .unwrap();
        run(
            &mut g,
            k,
            json!([{"op": "remove", "path": "members[value eq \"not-there\"]"}]),
        )
        .unwrap();
        let vals: Vec<&str> = g["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap())
            .collect();
        assert_eq!(vals, vec!["b", "d"]);
        run(
            &mut g,
            k,
            json!([{"op": "replace", "value": {"id": "g", "displayName": "Renamed"}}]),
        )
        .unwrap();
        assert_eq!(g["displayName"], "Renamed");
        run(
            &mut g,
            k,
            json!([{"op": "replace", "path": "members", "value": []}]),
        )
        .unwrap();
        assert_eq!(g["members"], json!([]));
        run(&mut g, k, json!([{"op": "add", "path": "members", "value": [{"value": "x"}]}, {"op": "remove", "path": "members"}])).unwrap();
        assert!(g.get("members").is_none());
    }

    #[test]
    fn errors_are_typed_and_atomic() {
        let mut u = user();
        let before = u.clone();
        let e = run(&mut u, ResourceKind::User, json!([{"op": "replace", "path": "userName", "value": "changed"}, {"op": "replace", "path": "nope", "value": 1}])).unwrap_err();
        assert_eq!(e.scim_type(), "invalidPath");
        assert_eq!(u, before, "first op rolled back");
        let cases = [
            (
                json!([{"op": "jump", "path": "userName", "value": "x"}]),
                "invalidSyntax",
            ),
            (json!([{"op": "remove"}]), "noTarget"),
            (
                json!([{"op": "replace", "path": "id", "value": "x"}]),
                "mutability",
            ),
            (
                json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
                "mutability",
            ),
            (
                json!([{"op": "remove", "path": "emails[type eq \"fax\"]"}]),
                "noTarget",
            ),
            (
                json!([{"op": "replace", "path": "emails[type eq \"work\"", "value": "x"}]),
                "invalidPath",
            ),
            (
                json!([{"op": "replace", "path": "active", "value": "maybe"}]),
                "invalidValue",
            ),
            (
                json!([{"op": "replace", "path": "userName", "value": 5}]),
                "invalidValue",
            ),
            (
                json!([{"op": "replace", "path": "name", "value": "Ada"}]),
                "invalidValue",
            ),
            (json!([{"op": "replace", "value": "x"}]), "invalidValue"),
            (json!([{"op": "add", "path": "userName"}]), "invalidValue"),
            (
                json!([{"op": "add", "path": "urn:example:other:thing", "value": 1}]),
                "invalidPath",
            ),
        ];
        for (ops, t) in cases {
            let mut u = user();
            let e = run(&mut u, ResourceKind::User, ops.clone()).unwrap_err();
            assert_eq!(e.scim_type(), t, "{ops}: {e}");
            assert_eq!(u, user());
        }
    }

    #[test]
    fn multi_valued_add_merges_and_primary_is_unique() {
        let mut u = user();
        run(&mut u, ResourceKind::User, json!([{"op": "add", "path": "emails", "value": [{"value": "b@home", "type": "home", "primary": true}, {"value": "a@work", "type": "work", "primary": true}]}])).unwrap();
        let emails = u["emails"].as_array().unwrap();
        assert_eq!(emails.len(), 2);
        run(
            &mut u,
            ResourceKind::User,
            json!([{"op": "add", "path": "emails", "value": [{"value": "c@x", "primary": true}]}]),
        )
        .unwrap();
        let primaries = u["emails"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["primary"] == json!(true))
            .count();
        assert_eq!(primaries, 1);
        run(&mut u, ResourceKind::User, json!([{"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "emails[value eq \"c@x\"].primary"}])).unwrap();
        assert_eq!(u["name"], json!({"familyName": "L"}));
    }
}
