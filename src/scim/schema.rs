//! Attribute definitions of the core User, Enterprise User and Group schemas
//! (RFC 7643 §4, §8.7): types, case rules, mutability; and `/Schemas` JSON.

use super::{ENTERPRISE_URN, GROUP_URN, USER_URN};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    String,
    Boolean,
    DateTime,
    Reference,
    Complex,
    Binary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadWrite,
    ReadOnly,
    Immutable,
    WriteOnly,
}

#[derive(Debug)]
pub struct Attr {
    pub name: &'static str,
    pub ty: Type,
    pub multi: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: &'static str,
    pub uniqueness: &'static str,
    pub required: bool,
    pub description: &'static str,
    pub sub: &'static [Attr],
}

const fn a(name: &'static str, ty: Type, description: &'static str) -> Attr {
    Attr {
        name,
        ty,
        multi: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: "default",
        uniqueness: "none",
        required: false,
        description,
        sub: &[],
    }
}

const fn multi(name: &'static str, description: &'static str, sub: &'static [Attr]) -> Attr {
    Attr {
        multi: true,
        sub,
        ..a(name, Type::Complex, description)
    }
}

const fn complex(name: &'static str, description: &'static str, sub: &'static [Attr]) -> Attr {
    Attr {
        sub,
        ..a(name, Type::Complex, description)
    }
}

const VALUE_TYPE_PRIMARY: &[Attr] = &[
    a("value", Type::String, "The value"),
    a("display", Type::String, "A human-readable name"),
    a("type", Type::String, "A label such as work or home"),
    a(
        "primary",
        Type::Boolean,
        "Whether this is the preferred value",
    ),
];

const ADDRESS: &[Attr] = &[
    a("formatted", Type::String, "The full mailing address"),
    a("streetAddress", Type::String, "Street"),
    a("locality", Type::String, "City or locality"),
    a("region", Type::String, "State or region"),
    a("postalCode", Type::String, "Postal code"),
    a("country", Type::String, "Country"),
    a("type", Type::String, "work, home or other"),
    a(
        "primary",
        Type::Boolean,
        "Whether this is the preferred address",
    ),
];

const NAME: &[Attr] = &[
    a("formatted", Type::String, "The full name"),
    a("familyName", Type::String, "Family name"),
    a("givenName", Type::String, "Given name"),
    a("middleName", Type::String, "Middle name"),
    a("honorificPrefix", Type::String, "Honorific prefix"),
    a("honorificSuffix", Type::String, "Honorific suffix"),
];

const GROUP_REF: &[Attr] = &[
    Attr {
        mutability: Mutability::ReadOnly,
        ..a("value", Type::String, "Group id")
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..a("$ref", Type::Reference, "Group URI")
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..a("display", Type::String, "Group name")
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..a("type", Type::String, "direct or indirect")
    },
];

const META: &[Attr] = &[
    Attr {
        case_exact: true,
        mutability: Mutability::ReadOnly,
        ..a("resourceType", Type::String, "User or Group")
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..a("created", Type::DateTime, "When created")
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..a("lastModified", Type::DateTime, "When last changed")
    },
    Attr {
        case_exact: true,
        mutability: Mutability::ReadOnly,
        ..a("location", Type::Reference, "The resource's URI")
    },
    Attr {
        case_exact: true,
        mutability: Mutability::ReadOnly,
        ..a("version", Type::String, "The resource's weak ETag")
    },
];

const COMMON: &[Attr] = &[
    Attr {
        case_exact: true,
        mutability: Mutability::ReadOnly,
        returned: "always",
        uniqueness: "server",
        ..a("id", Type::String, "Identifier assigned by idbridge")
    },
    Attr {
        case_exact: true,
        ..a(
            "externalId",
            Type::String,
            "Identifier assigned by the identity provider",
        )
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..complex("meta", "Resource metadata", META)
    },
];

pub const USER: &[Attr] = &[
    Attr {
        required: true,
        uniqueness: "server",
        ..a(
            "userName",
            Type::String,
            "Unique sign-in name, usually the email; unique per account ignoring case",
        )
    },
    complex("name", "The person's name", NAME),
    a("displayName", Type::String, "Name to display"),
    a("nickName", Type::String, "Casual name"),
    a("profileUrl", Type::Reference, "Profile page"),
    a("title", Type::String, "Job title"),
    a("userType", Type::String, "Kind of user"),
    a("preferredLanguage", Type::String, "Preferred language"),
    a("locale", Type::String, "Locale"),
    a("timezone", Type::String, "Time zone"),
    a(
        "active",
        Type::Boolean,
        "False blocks sign-in and ends sessions",
    ),
    Attr {
        mutability: Mutability::WriteOnly,
        returned: "never",
        ..a(
            "password",
            Type::String,
            "Accepted and discarded: people sign in through their identity provider",
        )
    },
    multi("emails", "Email addresses", VALUE_TYPE_PRIMARY),
    multi("phoneNumbers", "Phone numbers", VALUE_TYPE_PRIMARY),
    multi("ims", "Instant messaging addresses", VALUE_TYPE_PRIMARY),
    multi("photos", "Photo URLs", VALUE_TYPE_PRIMARY),
    multi("addresses", "Addresses", ADDRESS),
    Attr {
        mutability: Mutability::ReadOnly,
        ..multi(
            "groups",
            "Groups the user belongs to (read-only: change group members instead)",
            GROUP_REF,
        )
    },
    multi("entitlements", "Entitlements", VALUE_TYPE_PRIMARY),
    multi(
        "roles",
        "Directly assigned platform roles, by name (built-in Administrator refused)",
        VALUE_TYPE_PRIMARY,
    ),
    multi("x509Certificates", "Certificates", VALUE_TYPE_PRIMARY),
];

const MANAGER: &[Attr] = &[
    a("value", Type::String, "The manager's id"),
    a("$ref", Type::Reference, "The manager's URI"),
    Attr {
        mutability: Mutability::ReadOnly,
        ..a("displayName", Type::String, "The manager's name")
    },
];

pub const ENTERPRISE: &[Attr] = &[
    a("employeeNumber", Type::String, "Employee number"),
    a("costCenter", Type::String, "Cost center"),
    a("organization", Type::String, "Organization"),
    a("division", Type::String, "Division"),
    a("department", Type::String, "Department"),
    complex("manager", "The user's manager", MANAGER),
];

const MEMBER: &[Attr] = &[
    Attr {
        case_exact: true,
        mutability: Mutability::Immutable,
        ..a("value", Type::String, "Member user id")
    },
    Attr {
        mutability: Mutability::Immutable,
        ..a("$ref", Type::Reference, "Member URI")
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..a("display", Type::String, "Member userName")
    },
    Attr {
        mutability: Mutability::Immutable,
        ..a(
            "type",
            Type::String,
            "User (nested groups are not supported)",
        )
    },
];

pub const GROUP: &[Attr] = &[
    Attr {
        required: true,
        ..a("displayName", Type::String, "Group name")
    },
    multi("members", "Member users", MEMBER),
];

fn find<'a>(list: &'a [Attr], name: &str) -> Option<&'a Attr> {
    list.iter().find(|x| x.name.eq_ignore_ascii_case(name))
}

/// Looks an attribute (and optional sub-attribute) up case-insensitively.
/// `urn` selects the enterprise extension; core URNs and none mean the core schema.
pub fn lookup(
    kind: ResourceKind,
    urn: Option<&str>,
    attr: &str,
    sub: Option<&str>,
) -> Option<&'static Attr> {
    let top = match (kind, urn) {
        (ResourceKind::User, Some(u)) if u.eq_ignore_ascii_case(ENTERPRISE_URN) => {
            find(ENTERPRISE, attr)?
        }
        (ResourceKind::User, _) => find(USER, attr).or_else(|| find(COMMON, attr))?,
        (ResourceKind::Group, _) => find(GROUP, attr).or_else(|| find(COMMON, attr))?,
    };
    match sub {
        None => Some(top),
        Some(s) => find(top.sub, s),
    }
}

fn attr_json(x: &Attr) -> Value {
    let mut v = json!({
        "name": x.name,
        "type": match x.ty { Type::String => "string", Type::Boolean => "boolean", Type::DateTime => "dateTime", Type::Reference => "reference", Type::Complex => "complex", Type::Binary => "binary" },
        "multiValued": x.multi,
        "description": if x.multi && x.name != "members" {
            format!("{} At most {} values.", x.description, super::resource::MAX_MULTI_VALUES)
        } else {
            x.description.to_string()
        },
        "required": x.required,
        "caseExact": x.case_exact,
        "mutability": match x.mutability { Mutability::ReadWrite => "readWrite", Mutability::ReadOnly => "readOnly", Mutability::Immutable => "immutable", Mutability::WriteOnly => "writeOnly" },
        "returned": x.returned,
        "uniqueness": x.uniqueness,
    });
    if x.ty == Type::Reference {
        crate::json::set(&mut v, "referenceTypes", json!(["external", "uri"]));
    }
    if !x.sub.is_empty() {
        crate::json::set(
            &mut v,
            "subAttributes",
            Value::Array(x.sub.iter().map(attr_json).collect()),
        );
    }
    v
}

/// Sets a schema characteristic on `attr[.sub]` of a schema JSON.
fn annotate(schema: &mut Value, attr: &str, sub: Option<&str>, key: &str, v: Value) {
    let Some(list) = schema.get_mut("attributes").and_then(Value::as_array_mut) else {
        return;
    };
    let Some(a) = list.iter_mut().find(|x| x["name"] == attr) else {
        return;
    };
    let target = match sub {
        None => a,
        Some(s) => match a
            .get_mut("subAttributes")
            .and_then(Value::as_array_mut)
            .and_then(|l| l.iter_mut().find(|x| x["name"] == s))
        {
            Some(t) => t,
            None => return,
        },
    };
    crate::json::set(target, key, v);
}

/// The `/Schemas` resources (without meta, which needs the base URL).
/// `roles` lists the role names this account accepts in the User `roles` attribute.
pub fn all_schemas_json(roles: &[String]) -> Vec<Value> {
    let [mut user, mut enterprise, mut group] = base_schemas();
    annotate(
        &mut user,
        "roles",
        Some("value"),
        "canonicalValues",
        json!(roles),
    );
    annotate(
        &mut user,
        "groups",
        Some("$ref"),
        "referenceTypes",
        json!(["Group"]),
    );
    annotate(
        &mut enterprise,
        "manager",
        Some("$ref"),
        "referenceTypes",
        json!(["User"]),
    );
    annotate(
        &mut group,
        "members",
        Some("$ref"),
        "referenceTypes",
        json!(["User"]),
    );
    annotate(
        &mut group,
        "members",
        Some("type"),
        "canonicalValues",
        json!(["User"]),
    );
    vec![user, enterprise, group]
}

fn base_schemas() -> [Value; 3] {
    let schema = |id: &str, name: &str, desc: &str, attrs: &[&[Attr]]| {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": id, "name": name, "description": desc,
               "attributes": attrs.iter().flat_map(|l| l.iter()).filter(|x| !matches!(x.name, "id" | "meta")).map(attr_json).collect::<Vec<_>>()})
    };
    // `meta`-less common attributes: externalId only.
    let common = COMMON.get(1..2).unwrap_or(&[]);
    [
        schema(
            USER_URN,
            "User",
            "A person with access to the account",
            &[USER, common],
        ),
        schema(
            ENTERPRISE_URN,
            "EnterpriseUser",
            "Enterprise attributes of a user",
            &[ENTERPRISE],
        ),
        schema(
            GROUP_URN,
            "Group",
            "A set of users, mapped to roles by group mappings",
            &[GROUP, common],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_case_insensitive_and_know_case_rules() {
        assert!(
            !lookup(ResourceKind::User, None, "USERNAME", None)
                .unwrap()
                .case_exact
        );
        assert!(
            lookup(ResourceKind::User, None, "id", None)
                .unwrap()
                .case_exact
        );
        assert!(
            lookup(ResourceKind::User, None, "externalId", None)
                .unwrap()
                .case_exact
        );
        assert!(
            !lookup(ResourceKind::User, None, "emails", Some("Value"))
                .unwrap()
                .case_exact
        );
        assert!(
            lookup(ResourceKind::Group, None, "members", Some("value"))
                .unwrap()
                .case_exact
        );
        assert_eq!(
            lookup(ResourceKind::User, Some(ENTERPRISE_URN), "department", None)
                .unwrap()
                .name,
            "department"
        );
        assert!(lookup(ResourceKind::User, None, "department", None).is_none());
        assert_eq!(
            lookup(ResourceKind::User, None, "meta", Some("lastmodified"))
                .unwrap()
                .ty,
            Type::DateTime
        );
    }

    #[test]
    fn schemas_json_lists_three() {
        let s = all_schemas_json(&["Standard User".into()]);
        assert_eq!(
            s[0]["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["name"] == "roles")
                .unwrap()["subAttributes"][0]["canonicalValues"],
            json!(["Standard User"])
        );
        assert_eq!(s.len(), 3);
        let user = &s[0]["attributes"];
        let un = user
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "userName")
            .unwrap();
        assert_eq!(un["uniqueness"], "server");
        assert!(user
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "emails" && a["subAttributes"].is_array()));
    }
}
