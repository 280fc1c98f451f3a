use super::role_ref::{EnvId, RoleId, RoleRef};
use crate::catalog::{
    self, Feature, ENVIRONMENT_MANAGEMENT, USER_MANAGEMENT, USER_MANAGEMENT_LIMITED,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessError {
    #[error("unknown role: {0}")]
    UnknownRole(String),
    #[error("unknown privilege: {0}")]
    UnknownPrivilege(String),
    #[error("unknown environment: {0}")]
    UnknownEnvironment(String),
    #[error("inheriting {0} would create an inheritance cycle")]
    Cycle(String),
    #[error("role {0} cannot be extended by a custom role")]
    NotExtendable(String),
    #[error("privilege {0} is deprecated and cannot be granted in a custom role")]
    Deprecated(String),
    #[error(
        "privilege {0} is reserved to the platform's own roles and cannot be used in a custom role"
    )]
    NotForCustomRoles(String),
    #[error("{0} needs Advanced User Security, which this account does not have")]
    AdvancedUserSecurityRequired(String),
    #[error("the built-in Administrator role cannot be granted through a group mapping: the identity provider must not mint administrators who bypass SSO")]
    AdministratorMapping,
    #[error("missing privilege: {}", .missing.join(", "))]
    Forbidden { missing: Vec<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Scoping {
    #[default]
    Additive,
    Strict,
}

impl Scoping {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "additive" => Some(Self::Additive),
            "strict" => Some(Self::Strict),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Additive => "additive",
            Self::Strict => "strict",
        }
    }
}

#[derive(Debug, Clone)]
pub struct CustomRole {
    pub id: RoleId,
    pub name: String,
    pub parent: Option<RoleRef>,
    pub privileges: BTreeSet<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Environment {
    pub id: EnvId,
    pub name: String,
    /// The roles that reach this environment.
    pub roles: BTreeSet<RoleRef>,
}

/// The account's features (editions and add-ons) that gate roles and privileges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Features {
    pub advanced_user_security: bool,
    pub pii_data_insights: bool,
    pub datahub: bool,
}

impl Features {
    pub fn has(&self, f: Feature) -> bool {
        match f {
            Feature::AdvancedUserSecurity => self.advanced_user_security,
            Feature::PiiDataInsights => self.pii_data_insights,
            Feature::Datahub => self.datahub,
        }
    }
}

/// Everything about one account the engine needs.
#[derive(Debug, Clone, Default)]
pub struct AccountModel {
    pub features: Features,
    pub scoping: Scoping,
    pub custom_roles: BTreeMap<RoleId, CustomRole>,
    pub environments: Vec<Environment>,
}

/// Where a role held by a user comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Via {
    Direct,
    Group {
        group: String,
    },
    Claims {
        group: String,
    },
    /// Held because another role held implies it (Standard User → Agent
    /// Garden User); never stored.
    Implied {
        by: String,
    },
    /// A live support-access grant of the account, acting for the
    /// platform's support staff.
    Support {
        grant: String,
    },
    /// A role given in an account group of the parent account.
    AccountGroup {
        group: String,
        parent_account: String,
    },
}

/// One role held by a user through one source.
#[derive(Debug, Clone)]
pub struct Grant {
    pub role: RoleRef,
    pub via: Via,
    /// Environment ids this grant is narrowed to (group mappings may narrow).
    pub environments: Option<BTreeSet<EnvId>>,
}

#[derive(Debug, Clone)]
pub struct HeldRole {
    pub role: RoleRef,
    pub name: String,
    pub builtin: bool,
    pub via: Vec<Via>,
    pub privileges: BTreeSet<&'static str>,
    /// Environments this role reaches for this user.
    pub environments: BTreeSet<EnvId>,
}

/// A user's resolved access in one account.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub roles: Vec<HeldRole>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
    pub via: DecisionVia,
    pub additive_only: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct DecisionVia {
    pub privilege: Vec<String>,
    pub environment: Vec<String>,
}

impl AccountModel {
    /// Resolves a role given by built-in key/name, custom id or custom name.
    pub fn find_role(&self, name_or_id: &str) -> Option<RoleRef> {
        if let Some(b) = catalog::builtin_role(name_or_id) {
            return Some(RoleRef::Builtin(b.key));
        }
        let id = RoleId(name_or_id.to_string());
        if self.custom_roles.contains_key(&id) {
            return Some(RoleRef::Custom(id));
        }
        let n = name_or_id.trim().to_lowercase();
        self.custom_roles
            .values()
            .find(|r| r.name.to_lowercase() == n)
            .map(|r| RoleRef::Custom(r.id.clone()))
    }

    /// Whether `role` is the built-in Administrator or inherits from it.
    pub fn is_or_inherits_administrator(&self, role: &RoleRef) -> bool {
        let mut cur = Some(role.clone());
        let mut seen = BTreeSet::new();
        while let Some(r) = cur {
            if r.is_administrator() {
                return true;
            }
            if !seen.insert(r.clone()) {
                return false;
            }
            cur = self.custom_role(&r).and_then(|c| c.parent.clone());
        }
        false
    }

    /// Every role of the account: the built-in ones, then its custom roles.
    pub fn all_roles(&self) -> impl Iterator<Item = RoleRef> + '_ {
        catalog::BUILTIN_ROLES
            .iter()
            .map(|b| RoleRef::Builtin(b.key))
            .chain(self.custom_roles.keys().cloned().map(RoleRef::Custom))
    }

    pub fn custom_role(&self, role: &RoleRef) -> Option<&CustomRole> {
        match role {
            RoleRef::Custom(id) => self.custom_roles.get(id),
            RoleRef::Builtin(_) => None,
        }
    }

    pub fn role_name(&self, role: &RoleRef) -> String {
        role.builtin()
            .map(|b| b.name.to_string())
            .or_else(|| self.custom_role(role).map(|r| r.name.clone()))
            .unwrap_or_else(|| role.to_string())
    }

    pub fn find_environment(&self, name_or_id: &str) -> Option<&Environment> {
        let n = name_or_id.trim().to_lowercase();
        self.environments
            .iter()
            .find(|e| e.id.as_str() == name_or_id || e.name.to_lowercase() == n)
    }

    /// Parent's privileges (recursively) plus the role's own.
    pub fn effective_privileges(
        &self,
        role: &RoleRef,
    ) -> Result<BTreeSet<&'static str>, AccessError> {
        let mut out = BTreeSet::new();
        let mut cur = Some(role.clone());
        let mut seen = BTreeSet::new();
        while let Some(r) = cur {
            if !seen.insert(r.clone()) {
                return Err(AccessError::Cycle(self.role_name(&r)));
            }
            if let Some(b) = r.builtin() {
                out.extend(b.privileges());
                cur = None;
            } else if let Some(c) = self.custom_role(&r) {
                out.extend(c.privileges.iter().copied());
                cur = c.parent.clone();
            } else {
                return Err(AccessError::UnknownRole(r.to_string()));
            }
        }
        Ok(out)
    }

    /// Checks a custom role definition; `id` is the role being edited, if any.
    /// Returns the parent's reference and the role's own privilege keys.
    pub fn validate_custom_role(
        &self,
        id: Option<&RoleId>,
        parent: Option<&str>,
        privileges: &[String],
    ) -> Result<(Option<RoleRef>, BTreeSet<&'static str>), AccessError> {
        if !self.features.advanced_user_security {
            return Err(AccessError::AdvancedUserSecurityRequired(
                "Custom roles".into(),
            ));
        }
        let parent = match parent {
            None => None,
            Some(p) => {
                let r = self
                    .find_role(p)
                    .ok_or_else(|| AccessError::UnknownRole(p.to_string()))?;
                if let Some(b) = r.builtin() {
                    if !b.extendable {
                        return Err(AccessError::NotExtendable(b.name.into()));
                    }
                    if b.requires_advanced_user_security && !self.features.advanced_user_security {
                        return Err(AccessError::AdvancedUserSecurityRequired(b.name.into()));
                    }
                }
                // Walk up from the parent: meeting the edited role means a cycle.
                if let Some(me) = id {
                    let mut cur = Some(r.clone());
                    while let Some(c) = cur {
                        if matches!(&c, RoleRef::Custom(cid) if cid == me) {
                            return Err(AccessError::Cycle(self.role_name(&r)));
                        }
                        cur = self.custom_role(&c).and_then(|x| x.parent.clone());
                    }
                }
                Some(r)
            }
        };
        let mut own = BTreeSet::new();
        for p in privileges {
            let def =
                catalog::privilege(p).ok_or_else(|| AccessError::UnknownPrivilege(p.clone()))?;
            if def.deprecated {
                return Err(AccessError::Deprecated(def.name.into()));
            }
            if !def.custom_role_allowed {
                return Err(AccessError::NotForCustomRoles(def.name.into()));
            }
            own.insert(def.key);
        }
        Ok((parent, own))
    }

    /// Checks that a role may be held in this account at all.
    pub fn check_assignable(&self, role: &RoleRef) -> Result<(), AccessError> {
        if let Some(b) = role.builtin() {
            if b.requires_advanced_user_security && !self.features.advanced_user_security {
                return Err(AccessError::AdvancedUserSecurityRequired(b.name.into()));
            }
            Ok(())
        } else if self.custom_role(role).is_some() {
            Ok(())
        } else {
            Err(AccessError::UnknownRole(role.to_string()))
        }
    }

    fn reach(
        &self,
        role: &RoleRef,
        privs: &BTreeSet<&'static str>,
        narrow: Option<&BTreeSet<EnvId>>,
    ) -> BTreeSet<EnvId> {
        let all = privs.contains(ENVIRONMENT_MANAGEMENT);
        self.environments
            .iter()
            .filter(|e| all || e.roles.contains(role))
            .filter(|e| narrow.is_none_or(|n| n.contains(&e.id)))
            .map(|e| e.id.clone())
            .collect()
    }

    /// Resolves grants into held roles with provenance. Grants naming roles
    /// that no longer exist are skipped: roles are computed, never copied.
    pub fn resolve(&self, grants: &[Grant]) -> Access {
        let mut by_role: BTreeMap<RoleRef, HeldRole> = BTreeMap::new();
        self.hold(&mut by_role, grants);
        let implied = self.implied_grants(by_role.values());
        self.hold(&mut by_role, &implied);
        Access {
            roles: by_role.into_values().collect(),
        }
    }

    /// Roles implied by held ones, through their inheritance too (a custom
    /// role inheriting Standard User implies Agent Garden User).
    fn implied_grants<'a>(&self, held: impl Iterator<Item = &'a HeldRole>) -> Vec<Grant> {
        let mut out = vec![];
        for h in held {
            let mut cur = Some(h.role.clone());
            let mut seen = BTreeSet::new();
            while let Some(r) = cur {
                if !seen.insert(r.clone()) {
                    break;
                }
                if let RoleRef::Builtin(key) = &r {
                    for implied in catalog::implied_by(key) {
                        out.push(Grant {
                            role: RoleRef::Builtin(implied.key),
                            via: Via::Implied { by: h.name.clone() },
                            environments: None,
                        });
                    }
                }
                cur = self.custom_role(&r).and_then(|c| c.parent.clone());
            }
        }
        out
    }

    fn hold(&self, by_role: &mut BTreeMap<RoleRef, HeldRole>, grants: &[Grant]) {
        for g in grants {
            let Ok(privs) = self.effective_privileges(&g.role) else {
                continue;
            };
            let reach = self.reach(&g.role, &privs, g.environments.as_ref());
            let held = by_role.entry(g.role.clone()).or_insert_with(|| HeldRole {
                role: g.role.clone(),
                name: self.role_name(&g.role),
                builtin: g.role.builtin().is_some(),
                via: vec![],
                privileges: privs,
                environments: BTreeSet::new(),
            });
            if !held.via.contains(&g.via) {
                held.via.push(g.via.clone());
            }
            held.environments.extend(reach);
        }
    }

    /// The privileges `access` may actually use here: those whose feature
    /// gate is open in this account.
    pub fn usable_privileges(&self, access: &Access) -> BTreeSet<&'static str> {
        access
            .privileges()
            .into_iter()
            .filter(|p| self.gate(p).is_none())
            .collect()
    }

    /// The feature a privilege needs and this account lacks, if any.
    pub fn gate(&self, privilege: &str) -> Option<Feature> {
        catalog::privilege(privilege)
            .and_then(|p| p.feature)
            .filter(|f| !self.features.has(*f))
    }

    pub fn env_name(&self, id: &EnvId) -> String {
        self.environments
            .iter()
            .find(|e| e.id == *id)
            .map(|e| e.name.clone())
            .unwrap_or_else(|| id.as_str().to_string())
    }

    /// May the user holding `access` use `privilege` (in `environment`)?
    pub fn decide(
        &self,
        access: &Access,
        privilege: &str,
        environment: Option<&str>,
    ) -> Result<Decision, AccessError> {
        let p = catalog::privilege(privilege)
            .ok_or_else(|| AccessError::UnknownPrivilege(privilege.into()))?;
        let holders: Vec<&HeldRole> = access
            .roles
            .iter()
            .filter(|r| r.privileges.contains(p.key))
            .collect();
        let via_priv: Vec<String> = holders.iter().map(|r| r.name.clone()).collect();
        let reason = if let Some(f) = self.gate(p.key) {
            Some(format!(
                "{} needs the account feature {}, which is off in this account",
                p.name,
                f.key()
            ))
        } else if environment.is_none() {
            Some(if holders.is_empty() {
                format!("no role held grants {}", p.name)
            } else {
                format!("{} is granted by {}", p.name, via_priv.join(", "))
            })
        } else {
            None
        };
        // Gated, or asked without an environment: decided by the privilege alone.
        let (Some(env), None) = (environment, &reason) else {
            return Ok(Decision {
                allowed: self.gate(p.key).is_none() && !holders.is_empty(),
                reason: reason.unwrap_or_default(),
                via: DecisionVia {
                    privilege: via_priv,
                    environment: vec![],
                },
                additive_only: false,
            });
        };
        let e = self
            .find_environment(env)
            .ok_or_else(|| AccessError::UnknownEnvironment(env.into()))?;
        let reachers: Vec<&HeldRole> = access
            .roles
            .iter()
            .filter(|r| r.environments.contains(&e.id))
            .collect();
        let via_env: Vec<String> = reachers.iter().map(|r| r.name.clone()).collect();
        let via = DecisionVia {
            privilege: via_priv,
            environment: via_env,
        };
        let (allowed, additive_only, reason) = if p.environment_scoped {
            self.in_environment(p, e, &holders, &reachers)
        } else {
            Self::account_level(p, e, &via.privilege)
        };
        Ok(Decision {
            allowed,
            reason,
            via,
            additive_only,
        })
    }

    /// An account-level privilege asked about in an environment: the
    /// environment does not restrict it.
    fn account_level(
        p: &catalog::Privilege,
        e: &Environment,
        holders: &[String],
    ) -> (bool, bool, String) {
        if holders.is_empty() {
            return (false, false, format!("no role held grants {}", p.name));
        }
        let reason = format!(
            "{} is granted by {}; it is not environment-scoped, so {} does not restrict it",
            p.name,
            holders.join(", "),
            e.name
        );
        (true, false, reason)
    }

    /// An environment-scoped privilege in an environment: one role granting
    /// both (allowed), or — additive scoping only — privilege and reach from
    /// different roles (allowed, flagged); otherwise refused, with the reason.
    fn in_environment(
        &self,
        p: &catalog::Privilege,
        e: &Environment,
        holders: &[&HeldRole],
        reachers: &[&HeldRole],
    ) -> (bool, bool, String) {
        let names = |rs: &[&HeldRole]| {
            rs.iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let single = holders.iter().any(|h| h.environments.contains(&e.id));
        let additive = !holders.is_empty() && !reachers.is_empty();
        match (self.scoping, single, additive) {
            (_, true, _) => (true, false, format!("{} is granted in {} by a role that reaches it", p.name, e.name)),
            (Scoping::Additive, false, true) => (
                true,
                true,
                format!(
                    "allowed only by additive mixing: {} comes from {} while {} is reached through {}",
                    p.name,
                    names(holders),
                    e.name,
                    names(reachers)
                ),
            ),
            (Scoping::Strict, false, true) => (
                false,
                false,
                format!("strict scoping: no single role both grants {} and reaches {}", p.name, e.name),
            ),
            (_, false, false) if holders.is_empty() => (false, false, format!("no role held grants {}", p.name)),
            _ => (false, false, format!("no role held reaches environment {}", e.name)),
        }
    }
}

impl HeldRole {
    /// Built-in roles belong to their family; custom roles to the platform.
    pub fn family(&self) -> catalog::Family {
        self.role
            .builtin()
            .map_or(catalog::Family::Platform, |b| b.family)
    }
}

impl Access {
    /// Names of the held roles of one family.
    pub fn role_names(&self, family: catalog::Family) -> Vec<String> {
        self.roles
            .iter()
            .filter(|r| r.family() == family)
            .map(|r| r.name.clone())
            .collect()
    }

    pub fn privileges(&self) -> BTreeSet<&'static str> {
        self.roles
            .iter()
            .flat_map(|r| r.privileges.iter().copied())
            .collect()
    }
    pub fn has(&self, privilege: &str) -> bool {
        self.roles.iter().any(|r| r.privileges.contains(privilege))
    }
    pub fn holds_builtin_admin(&self) -> bool {
        self.roles.iter().any(|r| r.role.is_administrator())
    }
    pub fn environments(&self) -> BTreeSet<EnvId> {
        self.roles
            .iter()
            .flat_map(|r| r.environments.iter().cloned())
            .collect()
    }
    /// Requires `privilege`; the error names it.
    pub fn require(&self, privilege: &str) -> Result<(), AccessError> {
        if self.has(privilege) {
            Ok(())
        } else {
            Err(AccessError::Forbidden {
                missing: vec![catalog::privilege(privilege)
                    .map(|p| p.name)
                    .unwrap_or(privilege)
                    .to_string()],
            })
        }
    }

    /// User Management may assign anything; User Management - Limited only
    /// roles made entirely of privileges the actor holds.
    pub fn may_assign(&self, role_privileges: &BTreeSet<&'static str>) -> Result<(), AccessError> {
        if self.has(USER_MANAGEMENT) {
            return Ok(());
        }
        if !self.has(USER_MANAGEMENT_LIMITED) {
            return Err(AccessError::Forbidden {
                missing: vec!["User Management".into()],
            });
        }
        let mine = self.privileges();
        let missing: Vec<String> = role_privileges
            .difference(&mine)
            .map(|k| {
                catalog::privilege(k)
                    .map(|p| p.name)
                    .unwrap_or(k)
                    .to_string()
            })
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(AccessError::Forbidden { missing })
        }
    }
}

/// A group mapping may never hand out the built-in Administrator role.
pub fn check_mappable(role: &RoleRef) -> Result<(), AccessError> {
    if role.is_administrator() {
        Err(AccessError::AdministratorMapping)
    } else {
        Ok(())
    }
}
