//! Closed sets of values stored as text columns. Reading a value that no
//! version of idbridge writes fails the query (sea-orm's `DeriveActiveEnum`
//! reports it), so an unreadable setting refuses the request instead of
//! being taken for a permissive default.

use sea_orm::entity::prelude::*;
use std::fmt;

/// One enum per column: the sea-orm mapping, its stored strings, parsing
/// of API input, and the same strings in JSON and text output.
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
        #[sea_orm(rs_type = "String", db_type = "Text")]
        pub enum $name {
            $($(#[$vm])* #[sea_orm(string_value = $s)] $v),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }

            /// `None` for anything but a stored spelling: callers refuse it.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }

            /// The accepted spellings, for error messages.
            pub fn choices() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// Where a user comes from: the IdP (SCIM or just-in-time sign-in) or
    /// this installation (the break-glass administrator).
    Origin { Idp = "scim", Local = "local" }
}

text_enum! {
    /// Whether and how an account signs in through its IdP.
    SsoMode {
        Off = "off",
        Optional = "optional",
        /// Local sign-in only for built-in Administrators.
        Required = "required",
    }
}

text_enum! {
    /// The protocol an SSO connection speaks.
    ConnectionKind { Oidc = "oidc", Saml = "saml" }
}

text_enum! {
    /// Where a user's roles come from at sign-in.
    RoleSource {
        /// Direct assignments and SCIM group mappings.
        Scim = "scim",
        /// Direct assignments and the ID token's groups claim.
        Claims = "claims",
        Both = "both",
    }
}

text_enum! {
    /// What a group mapping matches a group by.
    MatchKind { DisplayName = "displayName", ExternalId = "externalId", Id = "id" }
}

text_enum! {
    /// An environment's classification.
    Classification { Test = "test", Production = "production" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_and_strangers_are_refused() {
        for m in SsoMode::ALL {
            assert_eq!(SsoMode::parse(m.as_str()), Some(*m));
        }
        assert_eq!(SsoMode::parse("Required"), None);
        assert_eq!(
            MatchKind::parse("displayName"),
            Some(MatchKind::DisplayName)
        );
        assert_eq!(Origin::Idp.to_string(), "scim");
        assert_eq!(RoleSource::choices(), "scim, claims, both");
        assert_eq!(
            serde_json::to_value(Classification::Production).unwrap(),
            serde_json::json!("production")
        );
        // What the database answers for an unknown value is an error.
        assert!(SsoMode::try_from_value(&"bogus".to_string()).is_err());
    }
}
