//! SCIM JSON <-> stored rows for Users and Groups (pure: no I/O).
//!
//! Incoming bodies are normalised once here (attribute-name case, IdP
//! habits like "True" strings and bare-string managers) and validated; the
//! same path serves POST, PUT and the result of a PATCH.

use super::error::ScimError;
use super::json_text::{self, Object};
use super::{ENTERPRISE_URN, GROUP_URN, USER_URN};
use crate::store::credentials::iso;
use crate::store::scim::{Group, User};
use serde_json::{json, Map, Value};

const USER_ATTRS: &[&str] = &[
    "userName",
    "name",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "entitlements",
    "x509Certificates",
    "externalId",
];
const MULTI: &[&str] = &[
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "entitlements",
    "x509Certificates",
    "roles",
    "members",
];
const GROUP_ATTRS: &[&str] = &["displayName", "externalId"];
/// Read-only or computed attributes clients may echo back; never stored.
const IGNORED: &[&str] = &["id", "meta", "schemas", "groups", "password"];

fn canonical(key: &str, known: &'static [&'static str]) -> Option<&'static str> {
    known
        .iter()
        .chain(MULTI)
        .chain(IGNORED)
        .chain(["roles", "members"].iter())
        .find(|k| k.eq_ignore_ascii_case(key))
        .copied()
}

/// "True"/"false" strings (Entra) become booleans.
pub fn coerce_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn expect_string(name: &str, v: &Value) -> Result<Option<String>, ScimError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(ScimError::invalid_value(format!("{name} must be a string"))),
    }
}

/// Multi-valued complex attributes: an array of objects; `primary` coerced.
/// Most values a user's multi-valued attribute (emails, phoneNumbers,
/// roles...) may hold; advertised in `/Schemas`. Group members are not capped.
pub const MAX_MULTI_VALUES: usize = 100;

fn normalise_multi(name: &str, v: Value) -> Result<Value, ScimError> {
    let items = match v {
        Value::Null => return Ok(Value::Null),
        Value::Array(a) => a,
        _ => return Err(ScimError::invalid_value(format!("{name} must be an array"))),
    };
    if items.len() > MAX_MULTI_VALUES && name != "members" {
        return Err(ScimError::invalid_value(format!(
            "{name} holds at most {MAX_MULTI_VALUES} values"
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(mut o) = item else {
            return Err(ScimError::invalid_value(format!(
                "each {name} entry must be an object"
            )));
        };
        if let Some(p) = o.get("primary").cloned() {
            let b = coerce_bool(&p).ok_or_else(|| {
                ScimError::invalid_value(format!("{name}.primary must be a boolean"))
            })?;
            o.insert("primary".into(), Value::Bool(b));
        }
        if let Some(val) = o.get("value") {
            if !(val.is_string() || val.is_null()) && name != "x509Certificates" {
                return Err(ScimError::invalid_value(format!(
                    "{name}.value must be a string"
                )));
            }
        }
        out.push(Value::Object(o));
    }
    Ok(Value::Array(out))
}

fn normalise_enterprise(v: Value) -> Result<Value, ScimError> {
    let Value::Object(mut o) = v else {
        return Err(ScimError::invalid_value(
            "the enterprise extension must be an object",
        ));
    };
    for k in [
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
    ] {
        if let Some(key) = o
            .keys()
            .find(|x| x.eq_ignore_ascii_case(k) && *x != k)
            .cloned()
        {
            if let Some(val) = o.remove(&key) {
                o.insert(k.into(), val);
            }
        }
        if let Some(val) = o.get(k) {
            expect_string(k, val)?;
        }
    }
    if let Some(key) = o
        .keys()
        .find(|x| x.eq_ignore_ascii_case("manager"))
        .cloned()
    {
        let m = o.remove(&key).unwrap_or(Value::Null);
        // Entra sends the manager as a bare id; store {value} or it re-sends it every cycle.
        let m = match m {
            Value::String(s) if s.is_empty() => Value::Null,
            Value::String(s) => json!({"value": s}),
            Value::Object(_) | Value::Null => m,
            _ => {
                return Err(ScimError::invalid_value(
                    "manager must be an object or a string",
                ))
            }
        };
        if !m.is_null() {
            o.insert("manager".into(), m);
        }
    }
    Ok(Value::Object(o))
}

/// Checks `schemas` when given: it must name the core schema.
fn check_schemas(body: &Map<String, Value>, core: &str) -> Result<(), ScimError> {
    match body
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .map(|(_, v)| v)
    {
        None => Ok(()),
        Some(Value::Array(a))
            if a.iter()
                .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(core))) =>
        {
            Ok(())
        }
        Some(_) => Err(ScimError::invalid_value(format!(
            "schemas must include {core}"
        ))),
    }
}

pub struct UserInput {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub primary_email: Option<String>,
    /// Role values from the SCIM `roles` attribute, when the body carries it.
    pub roles: Option<Vec<String>>,
    /// What is stored in `users.attributes`.
    pub attributes: Value,
}

/// Validates and normalises a User body (POST, PUT, or a PATCH result).
pub fn user_input(body: Value) -> Result<UserInput, ScimError> {
    let Value::Object(src) = body else {
        return Err(ScimError::invalid_syntax("a User must be a JSON object"));
    };
    check_schemas(&src, USER_URN)?;
    let mut attrs = Map::new();
    let mut roles = None;
    for (k, v) in src {
        if k.eq_ignore_ascii_case(ENTERPRISE_URN) {
            if !v.is_null() {
                attrs.insert(ENTERPRISE_URN.into(), normalise_enterprise(v)?);
            }
            continue;
        }
        let Some(name) = canonical(&k, USER_ATTRS) else {
            continue;
        };
        if IGNORED.contains(&name) || name == "members" {
            continue;
        }
        if name == "roles" {
            let list = normalise_multi("roles", v)?;
            roles = Some(role_values(&list));
            // Kept as sent (display, type, primary) so reads echo it back.
            attrs.insert("roles".into(), list);
            continue;
        }
        let v = user_attribute(name, v)?;
        if !v.is_null() {
            attrs.insert(name.into(), v);
        }
    }
    let user_name = checked_user_name(&attrs)?;
    attrs.insert("userName".into(), Value::String(user_name.clone()));
    let active = attrs.get("active").and_then(Value::as_bool).unwrap_or(true);
    let primary_email = primary_email(&attrs, &user_name);
    Ok(UserInput {
        external_id: attrs
            .get("externalId")
            .and_then(Value::as_str)
            .map(String::from),
        display_name: attrs
            .get("displayName")
            .and_then(Value::as_str)
            .map(String::from),
        user_name,
        active,
        primary_email,
        roles,
        attributes: Value::Object(attrs),
    })
}

/// The role names or keys a `roles` list asks for (`value`, else `display`).
fn role_values(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| {
                    r.get("value")
                        .and_then(Value::as_str)
                        .or_else(|| r.get("display").and_then(Value::as_str))
                        .map(String::from)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One core User attribute, type-checked and normalised.
fn user_attribute(name: &'static str, v: Value) -> Result<Value, ScimError> {
    if MULTI.contains(&name) {
        return normalise_multi(name, v);
    }
    match name {
        "active" => {
            Ok(Value::Bool(coerce_bool(&v).ok_or_else(|| {
                ScimError::invalid_value("active must be a boolean")
            })?))
        }
        "name" => match v {
            Value::Object(_) | Value::Null => Ok(v),
            _ => Err(ScimError::invalid_value("name must be an object")),
        },
        _ => {
            expect_string(name, &v)?;
            Ok(v)
        }
    }
}

/// The trimmed userName: required, at most 512 characters.
fn checked_user_name(attrs: &Map<String, Value>) -> Result<String, ScimError> {
    let user_name = attrs
        .get("userName")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    if user_name.is_empty() {
        return Err(ScimError::invalid_value("userName is required"));
    }
    if user_name.len() > 512 {
        return Err(ScimError::invalid_value(
            "userName is longer than 512 characters",
        ));
    }
    Ok(user_name)
}

/// The email sign-in matches: the primary (else first) email; for a user
/// provisioned without one, a userName that is an address (Okta and Entra
/// commonly send only that).
fn primary_email(attrs: &Map<String, Value>, user_name: &str) -> Option<String> {
    attrs
        .get("emails")
        .and_then(Value::as_array)
        .and_then(|emails| {
            emails
                .iter()
                .find(|e| e.get("primary") == Some(&Value::Bool(true)))
                .or_else(|| emails.first())
                .and_then(|e| e.get("value").and_then(Value::as_str))
                .map(|s| s.trim().to_lowercase())
        })
        .or_else(|| {
            user_name
                .contains('@')
                .then(|| user_name.trim().to_lowercase())
        })
}

fn group_meta(base: &str, g: &Group) -> Value {
    json!({"resourceType": "Group", "created": iso(g.created_at), "lastModified": iso(g.updated_at), "location": format!("{base}/Groups/{}", g.id), "version": super::etag(g.version)})
}

/// What a user's SCIM resource is written from: its row's shown columns.
pub struct Shown<'a> {
    pub id: &'a str,
    pub external_id: Option<&'a str>,
    pub user_name: &'a str,
    pub origin: crate::store::kinds::Origin,
    pub active: bool,
    /// The stored attributes, as serde_json wrote them.
    pub attributes: &'a str,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A stored user, read whole or as listed.
pub trait Shows {
    fn shown(&self) -> Shown<'_>;
}

/// Both stored shapes of a user name their shown columns alike.
macro_rules! shows {
    ($($t:ty),+) => {$(
        impl Shows for $t {
            fn shown(&self) -> Shown<'_> {
                Shown {
                    id: &self.id,
                    external_id: self.external_id.as_deref(),
                    user_name: &self.user_name,
                    origin: self.origin,
                    active: self.active,
                    attributes: &self.attributes,
                    version: self.version,
                    created_at: self.created_at,
                    updated_at: self.updated_at,
                }
            }
        }
    )+};
}

shows!(User, crate::store::scim::ListedUser);

/// Stored members a rendered user takes from its row or computes instead.
const COMPUTED: &[&str] = &[
    "schemas",
    "id",
    "externalId",
    "userName",
    "active",
    "groups",
    "roles",
    "meta",
];

/// A stored user as SCIM JSON text, written straight from its row: the
/// stored attributes are copied member by member, not parsed. `groups` are
/// (id, displayName); `roles` are the user's direct roles as (reference,
/// name).
pub fn user_text(
    base: &str,
    u: &impl Shows,
    groups: &[(String, String)],
    roles: &[(String, String)],
) -> Vec<u8> {
    let u = u.shown();
    // Stored attributes are serde_json's text; anything else renders as none.
    let stored = json_text::members(u.attributes).unwrap_or_default();
    let has = |k: &str| stored.iter().any(|(n, _)| n == k);
    let mut out = Vec::with_capacity(u.attributes.len() + 320);
    let mut o = Object::open(&mut out);
    if has(ENTERPRISE_URN) {
        o.strs("schemas", &[USER_URN, ENTERPRISE_URN]);
    } else {
        o.strs("schemas", &[USER_URN]);
    }
    o.str("id", u.id);
    if let Some(e) = u.external_id {
        o.str("externalId", e);
    }
    o.str("userName", u.user_name);
    for (k, v) in &stored {
        if !COMPUTED.contains(&k.as_ref()) {
            o.raw(k, v);
        }
    }
    // `active` is shown unless a client removed it (then only when false);
    // local users always show it. Created users get it (see `Users::create`),
    // so Okta's validator finds it on every user it lists.
    if has("active") || !u.active || u.origin == crate::store::kinds::Origin::Local {
        o.raw("active", if u.active { "true" } else { "false" });
    }
    if !groups.is_empty() {
        let list = o.key("groups");
        list.push(b'[');
        for (i, (id, name)) in groups.iter().enumerate() {
            if i > 0 {
                list.push(b',');
            }
            let mut g = Object::open(list);
            g.str("value", id);
            g.str("display", name);
            g.str_of("$ref", &[base, "/Groups/", id]);
            g.str("type", "direct");
            g.close();
        }
        list.push(b']');
    }
    if !roles.is_empty() {
        let sent = stored
            .iter()
            .find(|(k, _)| k == "roles")
            .and_then(|(_, v)| serde_json::from_str::<Vec<Value>>(v).ok())
            .unwrap_or_default();
        let _ = serde_json::to_writer(o.key("roles"), &role_entries(&sent, roles));
    }
    let m = o.key("meta");
    let mut meta = Object::open(m);
    meta.str("resourceType", "User");
    meta.time("created", u.created_at);
    meta.time("lastModified", u.updated_at);
    meta.str_of("location", &[base, "/Users/", u.id]);
    meta.str("version", &super::etag(u.version));
    meta.close();
    o.close();
    out
}

/// Roles are the direct assignments: entries as the IdP sent them while
/// they still name a held role, plus any assigned through the management API.
fn role_entries(sent: &[Value], roles: &[(String, String)]) -> Vec<Value> {
    let names = |v: &Value| {
        v["value"]
            .as_str()
            .or(v["display"].as_str())
            .map(str::to_lowercase)
    };
    roles
        .iter()
        .map(|(id, name)| {
            sent.iter()
                .find(|e| {
                    names(e).is_some_and(|n| n == id.to_lowercase() || n == name.to_lowercase())
                })
                .cloned()
                .unwrap_or_else(|| json!({"value": name, "display": name}))
        })
        .collect()
}

/// A stored user as SCIM JSON (see [`user_text`], which it parses: one
/// renderer for both).
pub fn user_json(
    base: &str,
    u: &User,
    groups: &[(String, String)],
    roles: &[(String, String)],
) -> Value {
    serde_json::from_slice(&user_text(base, u, groups, roles)).unwrap_or_default()
}

pub struct GroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    /// Member user ids, when the body carries `members`.
    pub members: Option<Vec<String>>,
    pub attributes: Value,
}

/// Validates and normalises a Group body. Extra schema URNs (Entra adds one) are accepted.
pub fn group_input(body: Value) -> Result<GroupInput, ScimError> {
    let Value::Object(src) = body else {
        return Err(ScimError::invalid_syntax("a Group must be a JSON object"));
    };
    check_schemas(&src, GROUP_URN)?;
    let mut attrs = Map::new();
    let mut members = None;
    for (k, v) in src {
        let Some(name) = canonical(&k, GROUP_ATTRS) else {
            continue;
        };
        if IGNORED.contains(&name) {
            continue;
        }
        match name {
            "members" => {
                let list = normalise_multi("members", v)?;
                let mut ids = vec![];
                let mut seen = std::collections::HashSet::new();
                for m in list.as_array().into_iter().flatten() {
                    let id = m["value"]
                        .as_str()
                        .ok_or_else(|| ScimError::invalid_value("each member needs a value"))?;
                    // Nested groups are not supported; other type labels carry no meaning here.
                    if m["type"]
                        .as_str()
                        .is_some_and(|t| t.eq_ignore_ascii_case("Group"))
                    {
                        return Err(ScimError::invalid_value(
                            "nested groups are not supported: members must be Users",
                        ));
                    }
                    if seen.insert(id.to_string()) {
                        ids.push(id.to_string());
                    }
                }
                members = Some(ids);
            }
            "displayName" | "externalId" => {
                if let Some(s) = expect_string(name, &v)? {
                    attrs.insert(name.into(), Value::String(s));
                }
            }
            _ => {}
        }
    }
    let display_name = attrs
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    if display_name.is_empty() {
        return Err(ScimError::invalid_value("displayName is required"));
    }
    Ok(GroupInput {
        external_id: attrs
            .get("externalId")
            .and_then(Value::as_str)
            .map(String::from),
        display_name,
        members,
        attributes: Value::Object(attrs),
    })
}

/// A stored group as SCIM JSON; `members` are (user id, userName), or None to omit.
pub fn group_json(base: &str, g: &Group, members: Option<&[String]>) -> Value {
    let mut o = Map::new();
    o.insert("schemas".into(), json!([GROUP_URN]));
    o.insert("id".into(), json!(g.id));
    o.insert("displayName".into(), json!(g.display_name));
    if let Some(e) = &g.external_id {
        o.insert("externalId".into(), json!(e));
    }
    if let Some(m) = members {
        o.insert(
            "members".into(),
            Value::Array(m.iter().map(|id| json!({"value": id, "type": "User", "$ref": format!("{base}/Users/{id}")})).collect()),
        );
    }
    o.insert("meta".into(), group_meta(base, g));
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_input_normalises_idp_habits() {
        let u = user_input(json!({
            "schemas": [USER_URN, ENTERPRISE_URN],
            "USERNAME": " Ada@Example.com ",
            "Active": "False",
            "password": "secret",
            "groups": [{"value": "g"}],
            "emails": [{"value": "ADA@example.com", "primary": "True", "type": "work"}],
            ENTERPRISE_URN: {"Department": "Eng", "manager": "boss-id"},
            "roles": [{"value": "Standard User"}],
            "unknownThing": 1
        }))
        .unwrap();
        assert_eq!(u.user_name, "Ada@Example.com");
        assert!(!u.active);
        assert_eq!(u.primary_email.as_deref(), Some("ada@example.com"));
        assert_eq!(u.roles, Some(vec!["Standard User".to_string()]));
        let a = &u.attributes;
        assert!(
            a.get("password").is_none()
                && a.get("groups").is_none()
                && a.get("unknownThing").is_none()
        );
        assert_eq!(a["emails"][0]["primary"], json!(true));
        assert_eq!(a[ENTERPRISE_URN]["manager"], json!({"value": "boss-id"}));
        assert_eq!(a[ENTERPRISE_URN]["department"], json!("Eng"));
    }

    #[test]
    fn user_input_rejects_bad_values() {
        for (body, msg) in [
            (json!({}), "userName is required"),
            (json!({"userName": 5}), "userName must be a string"),
            (json!({"userName": "a", "active": "maybe"}), "active"),
            (
                json!({"userName": "a", "emails": "a@b"}),
                "emails must be an array",
            ),
            (
                json!({"userName": "a", "schemas": ["urn:wrong"]}),
                "schemas",
            ),
            (
                json!({"userName": "a", "name": "Ada"}),
                "name must be an object",
            ),
        ] {
            let e = user_input(body.clone())
                .err()
                .unwrap_or_else(|| panic!("{body} accepted"));
            assert_eq!(e.status, 400);
            assert!(e.detail.contains(msg), "{body}: {}", e.detail);
        }
    }

    #[test]
    fn group_input_accepts_entra_schema_and_members() {
        let g = group_input(json!({
            "schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "displayName": "Eng", "externalId": "e1",
            "members": [{"value": "u1"}, {"value": "u2", "type": "User"}, {"value": "u1"}]
        }))
        .unwrap();
        assert_eq!(g.members, Some(vec!["u1".to_string(), "u2".to_string()]));
        assert_eq!(g.external_id.as_deref(), Some("e1"));
        assert!(group_input(json!({"displayName": ""})).is_err());
        assert!(group_input(
            json!({"displayName": "x", "members": [{"value": "g", "type": "Group"}]})
        )
        .is_err());
    }
}
