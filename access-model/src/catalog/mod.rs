//! Privileges and built-in roles: data compiled into the binary, one source of truth.

mod data;

use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

pub use data::{PrivilegeKey, BUILTIN_ROLES, PRIVILEGES};

/// A named right, identified by a stable machine key.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Privilege {
    #[serde(skip)]
    pub id: PrivilegeKey,
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// Former display names that still resolve to this privilege.
    pub aliases: &'static [&'static str],
    /// Never grantable in a new or edited custom role.
    pub deprecated: bool,
    /// Acts inside an environment (execution, data, deployment, runtimes).
    pub environment_scoped: bool,
    /// False for privileges the platform reserves to its own non-extendable roles.
    #[serde(skip)]
    pub custom_role_allowed: bool,
}

/// An immutable role shipped with the platform.
#[derive(Debug, Clone)]
pub struct BuiltinRole {
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// `None` means every privilege in the catalog (Administrator).
    privileges: Option<&'static [PrivilegeKey]>,
    /// Custom roles may inherit it.
    pub extendable: bool,
    /// Only accounts with Advanced User Security may assign it.
    pub requires_advanced_user_security: bool,
}

pub const ADMINISTRATOR: &str = "ADMINISTRATOR";
pub const USER_MANAGEMENT: &str = PrivilegeKey::UserManagement.key();
pub const USER_MANAGEMENT_LIMITED: &str = PrivilegeKey::UserManagementLimited.key();
pub const ENVIRONMENT_MANAGEMENT: &str = PrivilegeKey::EnvironmentManagement.key();
pub const ACCOUNT_ADMINISTRATION: &str = PrivilegeKey::AccountAdministration.key();
pub const VIEW_AUDIT_LOGS: &str = PrivilegeKey::ViewAuditLogs.key();
pub const API_ACCESS: &str = PrivilegeKey::ApiAccess.key();

impl BuiltinRole {
    pub fn privileges(&self) -> BTreeSet<&'static str> {
        match self.privileges {
            Some(list) => list.iter().map(|p| p.key()).collect(),
            None => PRIVILEGES.iter().map(|p| p.key).collect(),
        }
    }
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Every spelling a privilege answers to (key, display name, legacy
/// aliases), normalised, built once: a lookup is one hash, not a scan.
static SPELLINGS: LazyLock<HashMap<String, PrivilegeKey>> = LazyLock::new(|| {
    let mut m = HashMap::new();
    for p in PRIVILEGES {
        for s in [p.key, p.name].iter().chain(p.aliases) {
            m.insert(norm(s), p.id);
        }
    }
    m
});

impl PrivilegeKey {
    /// Parses a key, display name or legacy alias (case-insensitive).
    pub fn parse(name_or_key: &str) -> Option<Self> {
        SPELLINGS.get(&norm(name_or_key)).copied()
    }
}

/// Finds a privilege by key, display name or legacy alias (case-insensitive).
pub fn privilege(name_or_key: &str) -> Option<&'static Privilege> {
    PrivilegeKey::parse(name_or_key).map(PrivilegeKey::def)
}

/// Finds a built-in role by key or display name (case-insensitive).
pub fn builtin_role(name_or_key: &str) -> Option<&'static BuiltinRole> {
    let n = norm(name_or_key);
    BUILTIN_ROLES
        .iter()
        .find(|r| r.key.eq_ignore_ascii_case(&n) || norm(r.name) == n)
}

#[derive(Serialize)]
pub struct RoleView {
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub extendable: bool,
    pub requires_advanced_user_security: bool,
    pub privileges: Vec<&'static str>,
}

pub fn roles_view() -> Vec<RoleView> {
    BUILTIN_ROLES
        .iter()
        .map(|r| RoleView {
            key: r.key,
            name: r.name,
            description: r.description,
            extendable: r.extendable,
            requires_advanced_user_security: r.requires_advanced_user_security,
            privileges: r.privileges().into_iter().collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_names_are_unique_and_aliases_do_not_collide() {
        let mut seen = BTreeSet::new();
        for p in PRIVILEGES {
            assert!(seen.insert(norm(p.key)), "dup key {}", p.key);
            assert!(seen.insert(norm(p.name)) || norm(p.name) == norm(p.key));
            for a in p.aliases {
                assert!(seen.insert(norm(a)), "alias {a} collides");
            }
        }
        assert!(PRIVILEGES.len() >= 50, "catalog has {}", PRIVILEGES.len());
    }

    #[test]
    fn the_generated_enum_and_the_table_agree() {
        for (i, p) in PRIVILEGES.iter().enumerate() {
            assert_eq!(p.id as usize, i, "{}", p.key);
            assert_eq!(p.id.key(), p.key);
            assert_eq!(p.id.def().name, p.name);
            assert_eq!(PrivilegeKey::parse(p.name), Some(p.id));
            assert_eq!(PrivilegeKey::parse(&p.key.to_lowercase()), Some(p.id));
        }
    }

    #[test]
    fn every_builtin_privilege_exists() {
        for r in BUILTIN_ROLES {
            for k in r.privileges() {
                assert!(privilege(k).is_some(), "{} names unknown {k}", r.key);
            }
        }
    }

    #[test]
    fn legacy_names_resolve() {
        assert_eq!(
            privilege("Atom Management").unwrap().key,
            "RUNTIME_MANAGEMENT"
        );
        assert_eq!(
            privilege("atom management read access").unwrap().key,
            "RUNTIME_MANAGEMENT_READ_ACCESS"
        );
        assert_eq!(
            privilege("Process Deployment").unwrap().key,
            "PACKAGED_COMPONENT_DEPLOYMENT"
        );
        assert_eq!(
            privilege("Cloud Management").unwrap().key,
            "PRIVATE_CLOUD_MANAGEMENT"
        );
        assert!(privilege("No Such Thing").is_none());
    }

    #[test]
    fn seed_000_matrix_spot_checks() {
        let std = builtin_role("Standard User").unwrap().privileges();
        assert!(std.contains("ENVIRONMENT_MANAGEMENT"));
        assert!(!std.contains("USER_MANAGEMENT"));
        assert!(!std.contains("BUILD_READ_ACCESS"));
        let sup = builtin_role("SUPPORT").unwrap().privileges();
        assert_eq!(sup.len(), 6);
        assert!(sup.contains("BOOMI_ASSURE") && !sup.contains("SCHEDULING"));
        let ps = builtin_role("Production Support").unwrap().privileges();
        assert!(ps.contains("SCHEDULING") && !ps.contains("BOOMI_ASSURE"));
        let admin = builtin_role(ADMINISTRATOR).unwrap().privileges();
        assert_eq!(admin.len(), PRIVILEGES.len());
        assert!(
            !builtin_role("API Control Plane Administrator")
                .unwrap()
                .extendable
        );
    }

    #[test]
    fn deprecated_are_flagged() {
        assert!(privilege("API Management - Roles").unwrap().deprecated);
        assert!(privilege("API Management - Testing").unwrap().deprecated);
        assert!(!privilege("Execute").unwrap().deprecated);
    }
}
