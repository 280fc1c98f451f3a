//! sea-orm entities, one module per table (see migrations/ for the DDL).

macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}
        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod account {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub advanced_user_security: bool,
        pub pii_data_insights: bool,
        pub datahub: bool,
        /// The parent this account accepted for account groups.
        pub parent_account_id: Option<String>,
        pub environment_scoping: String,
        pub created_at: i64,
        pub updated_at: i64,
    }
    no_relations!();
}

pub mod user {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_id: String,
        pub user_name: String,
        pub user_name_norm: String,
        pub email_norm: Option<String>,
        pub external_id: Option<String>,
        pub display_name: Option<String>,
        pub origin: crate::store::kinds::Origin,
        pub active: bool,
        pub attributes: String,
        pub password_hash: Option<String>,
        pub totp_secret: Option<String>,
        pub totp_last_step: Option<i64>,
        pub version: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }
    no_relations!();
}

pub mod group {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scim_groups")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_id: String,
        pub display_name: String,
        pub display_name_norm: String,
        pub external_id: Option<String>,
        pub attributes: String,
        pub version: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }
    no_relations!();
}

pub mod group_member {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "group_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub group_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::group::Entity",
            from = "Column::GroupId",
            to = "super::group::Column::Id"
        )]
        Group,
        #[sea_orm(
            belongs_to = "super::user::Entity",
            from = "Column::UserId",
            to = "super::user::Column::Id"
        )]
        User,
    }
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod custom_role {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "custom_roles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_id: String,
        pub name: String,
        pub name_norm: String,
        pub inherits: Option<String>,
        pub description: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
    }
    no_relations!();
}

pub mod custom_role_privilege {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "custom_role_privileges")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub role_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub privilege: String,
    }
    no_relations!();
}

pub mod environment {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "environments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_id: String,
        pub name: String,
        pub name_norm: String,
        pub classification: crate::store::kinds::Classification,
        pub created_at: i64,
    }
    no_relations!();
}

pub mod environment_role {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "environment_roles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub environment_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub role_ref: String,
    }
    no_relations!();
}

pub mod user_role {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "user_roles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub role_ref: String,
    }
    no_relations!();
}

pub mod group_mapping {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "group_mappings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_id: String,
        pub match_kind: crate::store::kinds::MatchKind,
        pub match_value: String,
        pub match_value_norm: String,
        pub created_at: i64,
    }
    no_relations!();
}

pub mod group_mapping_role {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "group_mapping_roles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub mapping_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub role_ref: String,
        /// JSON array of environment ids, or NULL for "wherever the role reaches".
        pub environments: Option<String>,
    }
    no_relations!();
}

pub mod api_key {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_id: String,
        pub user_id: String,
        pub secret_hash: String,
        pub created_at: i64,
        pub revoked_at: Option<i64>,
        pub expires_at: Option<i64>,
        /// Last use, recorded at most once a minute per credential.
        pub last_used_at: Option<i64>,
    }
    no_relations!();
}

pub mod scim_token {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scim_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_id: String,
        pub secret_hash: String,
        pub created_at: i64,
        pub expires_at: Option<i64>,
        pub revoked_at: Option<i64>,
        /// Last use, recorded at most once a minute per credential.
        pub last_used_at: Option<i64>,
    }
    no_relations!();
}

pub mod session {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_id: String,
        pub user_id: String,
        pub secret_hash: String,
        pub amr: String,
        pub claim_groups: Option<String>,
        pub created_at: i64,
        pub expires_at: i64,
        pub revoked_at: Option<i64>,
    }
    no_relations!();
}

pub mod audit_event {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub account_id: Option<String>,
        pub at: i64,
        pub actor: String,
        pub action: String,
        pub target: String,
        pub outcome: String,
        pub details: String,
    }
    no_relations!();
}

pub mod signing_key {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "signing_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub kid: String,
        pub alg: String,
        /// PKCS#8 DER, base64url.
        pub private_der: String,
        pub public_jwk: String,
        pub created_at: i64,
        pub retired_at: Option<i64>,
    }
    no_relations!();
}

pub mod sso_connection {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sso_connections")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_id: String,
        pub kind: crate::store::kinds::ConnectionKind,
        pub name: String,
        /// The name lowercased: names are unique per account ignoring case.
        pub name_key: String,
        pub enabled: bool,
        pub role_source: crate::store::kinds::RoleSource,
        /// The ID-token claim or SAML attribute that carries group names.
        pub groups_attribute: String,
        pub jit: bool,
        pub issuer: String,
        pub client_id: String,
        /// Sealed.
        pub client_secret: String,
        pub scopes: String,
        /// The IdP's SAML metadata (as uploaded, or as last fetched from the URL).
        pub idp_metadata: String,
        pub idp_metadata_url: String,
        pub allow_idp_initiated: bool,
        /// The service provider's own key (PEM, sealed) and certificate (PEM).
        pub sp_private_key: String,
        pub sp_certificate: String,
        pub created_at: i64,
        pub updated_at: i64,
    }
    no_relations!();
}

pub mod sso_policy {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sso_policies")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub account_id: String,
        pub mode: crate::store::kinds::SsoMode,
        pub updated_at: i64,
    }
    no_relations!();
}

pub mod connection_domain {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "connection_domains")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub account_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub domain: String,
        pub connection_id: String,
        /// The value the TXT record must carry (not a secret: it is published).
        pub token: String,
        pub verified_at: Option<i64>,
        pub created_at: i64,
    }
    no_relations!();
}

pub mod saml_request {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "saml_requests")]
    pub struct Model {
        /// The AuthnRequest's ID, which the IdP echoes as InResponseTo.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub connection_id: String,
        pub account_id: String,
        /// SHA-256 of the browser-binding cookie.
        pub browser_hash: String,
        pub return_to: Option<String>,
        pub expires_at: i64,
        /// Started to test the connection: no session at the end.
        pub test: bool,
    }
    no_relations!();
}

pub mod saml_seen_assertion {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "saml_seen_assertions")]
    pub struct Model {
        /// SHA-256 of the connection id and the assertion's ID.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub expires_at: i64,
    }
    no_relations!();
}

pub mod oidc_state {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oidc_states")]
    pub struct Model {
        /// SHA-256 of the `state` value.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_id: String,
        /// SHA-256 of the browser-binding cookie.
        pub browser_hash: String,
        pub nonce: String,
        pub pkce_verifier: String,
        pub return_to: Option<String>,
        pub expires_at: i64,
        /// The connection the sign-in started on (empty only for rows
        /// written before connections existed, which expire in minutes).
        pub connection_id: Option<String>,
        /// Started to test the connection: no session at the end.
        pub test: bool,
    }
    no_relations!();
}

pub mod change_log {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "change_log")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        pub account_id: Option<String>,
        pub kind: String,
        pub at: i64,
    }
    no_relations!();
}

pub mod signin_attempt {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "signin_attempts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub bucket: String,
        pub at: i64,
        pub refused: bool,
    }
    no_relations!();
}

pub mod platform_setting {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "platform_settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub value: String,
        pub updated_at: i64,
    }
    no_relations!();
}

pub mod support_grant {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "support_grants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_id: String,
        pub role_ref: String,
        /// JSON list of environment ids, or none for every environment the role reaches.
        pub environments: Option<String>,
        pub starts_at: i64,
        pub ends_at: i64,
        pub granted_by: String,
        pub disabled_at: Option<i64>,
        pub disabled_by: Option<String>,
    }
    no_relations!();
}

pub mod account_group {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "account_groups")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub parent_account_id: String,
        pub name: String,
        pub name_norm: String,
        pub created_at: i64,
    }
    no_relations!();
}

pub mod account_group_member {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "account_group_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub group_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub account_id: String,
    }
    no_relations!();
}

pub mod account_group_role {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "account_group_roles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub group_id: String,
        /// A parent-account user, or else a parent SCIM group matched below.
        pub user_id: Option<String>,
        pub match_kind: Option<crate::store::kinds::MatchKind>,
        pub match_value: Option<String>,
        pub match_value_norm: Option<String>,
        pub role_ref: String,
        /// JSON list of environment names, matched in each child account.
        pub environments: Option<String>,
        pub created_at: i64,
    }
    no_relations!();
}

pub mod event {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        pub id: String,
        pub account_id: String,
        /// Monotonic per account, in commit order.
        pub account_seq: i64,
        pub r#type: String,
        pub subject: String,
        pub occurred_at: i64,
        pub payload: String,
    }
    no_relations!();
}

pub mod webhook_endpoint {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_endpoints")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_id: String,
        pub url: String,
        /// Comma-separated event types; empty for all.
        pub types: String,
        /// `whsec_...`, sealed.
        pub secret: String,
        pub enabled: bool,
        pub failing_since: Option<i64>,
        pub disabled_reason: Option<String>,
        pub created_at: i64,
    }
    no_relations!();
}

pub mod webhook_delivery {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub endpoint_id: String,
        pub event_seq: i64,
        /// `pending`, `delivered` or `failed` (given up).
        pub status: String,
        pub attempts: i32,
        pub next_attempt_at: i64,
        /// A replica working on it until then.
        pub claimed_until: Option<i64>,
        pub delivered_at: Option<i64>,
        pub last_status: Option<i32>,
        pub last_error: Option<String>,
    }
    no_relations!();
}

pub mod webhook_attempt {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_attempts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub delivery_id: i64,
        pub at: i64,
        pub status_code: Option<i32>,
        pub error: Option<String>,
        pub response: Option<String>,
    }
    no_relations!();
}
