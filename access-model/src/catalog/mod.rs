//! Privileges and built-in roles: data compiled into the binary, one source of truth.

mod data;

use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

pub use data::{PrivilegeKey, BUILTIN_ROLES, IMPLIED_ROLES, PRIVILEGES};

/// Which product a privilege or role belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// The integration platform's own privileges and roles.
    Platform,
    /// Agent Garden's capabilities and its three roles (seed 001).
    AgentGarden,
}

/// An account feature (an edition or add-on) that privileges and roles
/// may need before they can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// Production Support, Support and custom roles.
    AdvancedUserSecurity,
    /// The Data Detective privileges.
    PiiDataInsights,
    /// DataHub stewardship.
    Datahub,
}

impl Feature {
    pub const ALL: [Feature; 3] = [
        Feature::AdvancedUserSecurity,
        Feature::PiiDataInsights,
        Feature::Datahub,
    ];

    pub const fn key(self) -> &'static str {
        match self {
            Feature::AdvancedUserSecurity => "advanced_user_security",
            Feature::PiiDataInsights => "pii_data_insights",
            Feature::Datahub => "datahub",
        }
    }
}

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
    /// Usable only in accounts with this feature on.
    pub feature: Option<Feature>,
    pub family: Family,
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
    pub family: Family,
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
            // Every privilege of its own family: the Administrator's Agent
            // Garden rights come with the role it implies.
            None => PRIVILEGES
                .iter()
                .filter(|p| p.family == self.family)
                .map(|p| p.key)
                .collect(),
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

/// The roles holding `role` implies (Standard User → Agent Garden User,
/// Administrator → Agent Garden Administrator).
pub fn implied_by(role_key: &str) -> impl Iterator<Item = &'static BuiltinRole> + '_ {
    IMPLIED_ROLES
        .iter()
        .filter(move |(from, _)| *from == role_key)
        .filter_map(|(_, to)| builtin_role(to))
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
    pub family: Family,
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
            family: r.family,
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
        let platform = PRIVILEGES
            .iter()
            .filter(|p| p.family == Family::Platform)
            .count();
        assert_eq!(admin.len(), platform);
        assert!(!admin.contains("AGENT_CONTROL_TOWER"));
        assert!(admin.contains("MDM_STEWARDSHIP_MANAGEMENT"));
        assert!(
            !builtin_role("API Control Plane Administrator")
                .unwrap()
                .extendable
        );
    }

    #[test]
    fn agent_garden_family_and_implications() {
        let dev = builtin_role("Agent Garden Developer").unwrap();
        assert_eq!(dev.family, Family::AgentGarden);
        assert!(dev.privileges().contains("AGENT_CONTROL_TOWER"));
        assert!(!builtin_role("AGENT_GARDEN_USER")
            .unwrap()
            .privileges()
            .contains("AGENT_CONTROL_TOWER"));
        let implied: Vec<&str> = implied_by("STANDARD_USER").map(|r| r.key).collect();
        assert_eq!(implied, ["AGENT_GARDEN_USER"]);
        let implied: Vec<&str> = implied_by(ADMINISTRATOR).map(|r| r.key).collect();
        assert_eq!(implied, ["AGENT_GARDEN_ADMINISTRATOR"]);
        assert_eq!(implied_by("SUPPORT").count(), 0);
        for p in PRIVILEGES
            .iter()
            .filter(|p| p.family == Family::AgentGarden)
        {
            assert!(!p.custom_role_allowed, "{} is reached through roles", p.key);
        }
    }

    #[test]
    fn gated_privileges_name_their_feature() {
        assert_eq!(
            privilege("Data Detective Read Access").unwrap().feature,
            Some(Feature::PiiDataInsights)
        );
        assert_eq!(
            privilege("MDM - Stewardship Management").unwrap().feature,
            Some(Feature::Datahub)
        );
        assert_eq!(privilege("Execute").unwrap().feature, None);
    }

    #[test]
    fn deprecated_are_flagged() {
        assert!(privilege("API Management - Roles").unwrap().deprecated);
        assert!(privilege("API Management - Testing").unwrap().deprecated);
        assert!(!privilege("Execute").unwrap().deprecated);
    }
}
