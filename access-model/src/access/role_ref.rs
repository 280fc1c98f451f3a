//! What a role reference names: a built-in role or one of the account's
//! custom roles. Stored as one string (a built-in key or a custom id); typed
//! here so the two cannot be confused with each other or with other ids.

use crate::catalog::{self, BuiltinRole};
use serde::{Serialize, Serializer};
use std::fmt;

/// A custom role's id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleId(pub String);

impl RoleId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An environment's id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvId(pub String);

impl EnvId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A role as grants, environments and inheritance name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoleRef {
    /// A built-in role, by its catalog key.
    Builtin(&'static str),
    Custom(RoleId),
}

impl RoleRef {
    pub const ADMINISTRATOR: RoleRef = RoleRef::Builtin(catalog::ADMINISTRATOR);

    /// Reads a stored reference: a built-in key exactly, else a custom id.
    pub fn from_stored(s: &str) -> Self {
        match catalog::BUILTIN_ROLES.iter().find(|r| r.key == s) {
            Some(b) => RoleRef::Builtin(b.key),
            None => RoleRef::Custom(RoleId(s.to_string())),
        }
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        match self {
            RoleRef::Builtin(k) => k,
            RoleRef::Custom(id) => id.as_str(),
        }
    }

    pub fn builtin(&self) -> Option<&'static BuiltinRole> {
        match self {
            RoleRef::Builtin(k) => catalog::builtin_role(k),
            RoleRef::Custom(_) => None,
        }
    }

    pub fn is_administrator(&self) -> bool {
        *self == Self::ADMINISTRATOR
    }
}

impl fmt::Display for RoleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RoleRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Test models name roles by their stored strings.
#[cfg(test)]
impl From<&str> for RoleRef {
    fn from(s: &str) -> Self {
        RoleRef::from_stored(s)
    }
}

#[cfg(test)]
impl From<&str> for RoleId {
    fn from(s: &str) -> Self {
        RoleId(s.to_string())
    }
}

#[cfg(test)]
impl PartialEq<&str> for RoleRef {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_references_read_back() {
        assert_eq!(
            RoleRef::from_stored("ADMINISTRATOR"),
            RoleRef::ADMINISTRATOR
        );
        assert!(RoleRef::from_stored("STANDARD_USER").builtin().is_some());
        // A display name is not a stored reference: only exact keys are built-in.
        let r = RoleRef::from_stored("Standard User");
        assert_eq!(r, RoleRef::Custom(RoleId("Standard User".into())));
        assert_eq!(r.as_str(), "Standard User");
        assert!(!RoleRef::from_stored("0192-custom").is_administrator());
    }
}
