//! The privilege catalog and the built-in roles, compiled into the binary.
//!
//! Facts (names, which built-in role holds which privilege) come from the
//! platform documentation in `shared/seeds/000..002`; descriptions are ours.

use super::{BuiltinRole, Family, Feature, Privilege};
use PrivilegeKey as P;

/// Generates [`PrivilegeKey`] (one variant a privilege, so the compiler
/// checks every reference) and the [`PRIVILEGES`] table from one list. An
/// entry may end with `gate=Feature` (usable only when the account has the
/// feature) and `family=Family` (default: the platform's own privileges).
macro_rules! catalog {
    ($($id:ident: $key:literal, $name:literal, $desc:literal, [$($alias:literal),*], dep=$dep:literal, env=$env:literal, custom=$custom:literal $(, gate=$gate:ident)? $(, family=$fam:ident)?;)*) => {
        /// A privilege's identity; its machine key is [`PrivilegeKey::key`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum PrivilegeKey { $($id),* }

        impl PrivilegeKey {
            pub const fn key(self) -> &'static str {
                match self { $(Self::$id => $key),* }
            }
            pub fn def(self) -> &'static Privilege {
                match self { $(Self::$id => &entry!($id, $key, $name, $desc, [$($alias),*], $dep, $env, $custom, [$($gate)?], [$($fam)?])),* }
            }
        }

        pub static PRIVILEGES: &[Privilege] = &[
            $(entry!($id, $key, $name, $desc, [$($alias),*], $dep, $env, $custom, [$($gate)?], [$($fam)?])),*
        ];
    };
}

macro_rules! entry {
    ($id:ident, $key:literal, $name:literal, $desc:literal, [$($alias:literal),*], $dep:literal, $env:literal, $custom:literal, [$($gate:ident)?], [$($fam:ident)?]) => {
        Privilege {
            id: PrivilegeKey::$id,
            key: $key,
            name: $name,
            description: $desc,
            aliases: &[$($alias),*],
            deprecated: $dep,
            environment_scoped: $env,
            custom_role_allowed: $custom,
            feature: gate!($($gate)?),
            family: family!($($fam)?),
        }
    };
}

macro_rules! gate {
    () => {
        None
    };
    ($f:ident) => {
        Some(Feature::$f)
    };
}

macro_rules! family {
    () => {
        Family::Platform
    };
    ($f:ident) => {
        Family::$f
    };
}

catalog! {
    ApiAccess: "API_ACCESS", "API Access", "Call the platform's programmatic API on behalf of the account.", [], dep=false, env=false, custom=true;
    ApiManagementAccess: "API_MANAGEMENT_ACCESS", "API Management - Access", "Enter the API Management area; changing deployments inside an environment still needs access to that environment.", [], dep=false, env=false, custom=true;
    ApiManagementApis: "API_MANAGEMENT_APIS", "API Management - APIs", "Create and change APIs: deployed APIs, their lifecycle and API definitions.", [], dep=false, env=false, custom=true;
    ApiManagementApplications: "API_MANAGEMENT_APPLICATIONS", "API Management - Applications", "Create and change API applications and subscriptions, and approve access requests.", [], dep=false, env=false, custom=true;
    ApiManagementDashboard: "API_MANAGEMENT_DASHBOARD", "API Management - Dashboard", "Open the API Management dashboard, with read access to deployed APIs.", [], dep=false, env=false, custom=true;
    ApiManagementGateway: "API_MANAGEMENT_GATEWAY", "API Management - Gateway", "Configure and administer API gateways.", [], dep=false, env=false, custom=true;
    ApiManagementPlans: "API_MANAGEMENT_PLANS", "API Management - Plans", "Create and change API plans.", [], dep=false, env=false, custom=true;
    ApiManagementAuthentication: "API_MANAGEMENT_AUTHENTICATION", "API Management - Authentication", "Create and change API authentication sources.", [], dep=false, env=false, custom=true;
    ApiManagementDeveloperPortalPublishing: "API_MANAGEMENT_DEVELOPER_PORTAL_PUBLISHING", "API Management - Developer Portal Publishing", "Publish the developer portal.", [], dep=false, env=false, custom=true;
    ApiManagementReadApis: "API_MANAGEMENT_READ_APIS", "API Management - Read APIs", "See APIs, their lifecycle and definitions without changing them.", [], dep=false, env=false, custom=true;
    ApiManagementReadApplications: "API_MANAGEMENT_READ_APPLICATIONS", "API Management - Read Applications", "See API applications and approval requests without changing them.", [], dep=false, env=false, custom=true;
    ApiManagementReadGateway: "API_MANAGEMENT_READ_GATEWAY", "API Management - Read Gateway", "See gateway configuration and environment migration status without acting on it.", [], dep=false, env=false, custom=true;
    ApiManagementReadPlans: "API_MANAGEMENT_READ_PLANS", "API Management - Read Plans", "See API plans without changing them.", [], dep=false, env=false, custom=true;
    ApiManagementReadAuthentication: "API_MANAGEMENT_READ_AUTHENTICATION", "API Management - Read authentication", "See API authentication sources without changing them.", [], dep=false, env=false, custom=true;
    ApiManagementReadDeveloperPortal: "API_MANAGEMENT_READ_DEVELOPER_PORTAL", "API Management - Read Developer Portal", "See developer portal publishing without changing it.", [], dep=false, env=false, custom=true;
    ApiManagementRoles: "API_MANAGEMENT_ROLES", "API Management - Roles", "Former way to manage API Management roles; kept only so existing grants still resolve.", [], dep=true, env=false, custom=false;
    ApiManagementTesting: "API_MANAGEMENT_TESTING", "API Management - Testing", "Former API testing right; kept only so existing grants still resolve.", [], dep=true, env=false, custom=false;
    ApiControlPlaneUser: "API_CONTROL_PLANE_USER", "API Control Plane User", "Open the API Control Plane administrator and developer portals.", [], dep=false, env=false, custom=false;
    CloudApiManagementUser: "CLOUD_API_MANAGEMENT_USER", "Cloud API Management User", "Open Cloud API Management.", [], dep=false, env=false, custom=false;
    AccountAdministration: "ACCOUNT_ADMINISTRATION", "Account Administration", "Change account-wide configuration such as its name, SSO and tokens.", [], dep=false, env=false, custom=true;
    AccountGroupManagement: "ACCOUNT_GROUP_MANAGEMENT", "Account Group Management", "Manage account groups and the restrictions placed on them.", [], dep=false, env=false, custom=true;
    RuntimeManagement: "RUNTIME_MANAGEMENT", "Runtime Management", "Configure runtimes and clusters, change their properties and download installers.", ["Atom Management"], dep=false, env=true, custom=true;
    RuntimeManagementReadAccess: "RUNTIME_MANAGEMENT_READ_ACCESS", "Runtime Management Read Access", "See runtime properties and settings without changing them.", ["Atom Management Read Access"], dep=false, env=true, custom=true;
    BoomiAssure: "BOOMI_ASSURE", "Boomi Assure", "Administer regression-test (Assure) data.", [], dep=false, env=false, custom=true;
    BranchCreateAndModifyAccess: "BRANCH_CREATE_AND_MODIFY_ACCESS", "Branch Create & Modify Access", "Create and update branches, including hotfix branches from deployments.", [], dep=false, env=false, custom=true;
    BranchDeleteAccess: "BRANCH_DELETE_ACCESS", "Branch Delete Access", "Delete branches.", [], dep=false, env=false, custom=true;
    BranchReadAndWriteAccess: "BRANCH_READ_AND_WRITE_ACCESS", "Branch Read and Write Access", "Read components on every branch and change them on every branch except main.", [], dep=false, env=false, custom=true;
    BuildReadAccess: "BUILD_READ_ACCESS", "Build Read Access", "See processes and components on all branches without changing them.", [], dep=false, env=false, custom=true;
    BuildReadAndWriteAccess: "BUILD_READ_AND_WRITE_ACCESS", "Build Read and Write Access", "Design, build and change processes and components.", [], dep=false, env=false, custom=true;
    Dashboard: "DASHBOARD", "Dashboard", "Open the account, HTML status and real-time dashboards.", [], dep=false, env=false, custom=true;
    DedicatedCloudsManagement: "DEDICATED_CLOUDS_MANAGEMENT", "Dedicated Clouds Management", "Configure and administer dedicated clouds.", [], dep=false, env=false, custom=true;
    PrivateCloudManagement: "PRIVATE_CLOUD_MANAGEMENT", "Private Cloud Management", "Configure and administer private clouds.", ["Cloud Management"], dep=false, env=false, custom=true;
    Developer: "DEVELOPER", "Developer", "Build and publish new connectors with the integration SDKs.", [], dep=false, env=false, custom=true;
    EnvironmentManagement: "ENVIRONMENT_MANAGEMENT", "Environment Management", "Manage every environment and decide which roles reach each one; reaches all environments.", [], dep=false, env=false, custom=true;
    Execute: "EXECUTE", "Execute", "Run or retry processes.", [], dep=false, env=true, custom=true;
    IntegrationPack: "INTEGRATION_PACK", "Integration Pack", "Release integration packs and manage their versions.", [], dep=false, env=false, custom=true;
    Licensing: "LICENSING", "Licensing", "See deployed connections and runtime cloud usage.", [], dep=false, env=false, custom=true;
    PackagedComponentManagement: "PACKAGED_COMPONENT_MANAGEMENT", "Packaged Component Management", "Create and manage deployable packaged components.", [], dep=false, env=false, custom=true;
    PackagedComponentDeployment: "PACKAGED_COMPONENT_DEPLOYMENT", "Packaged Component Deployment", "Deploy packaged components (or, in legacy deployment, processes) to environments.", ["Process Deployment"], dep=false, env=true, custom=true;
    PersistedProcessPropertyReadAndWriteAccess: "PERSISTED_PROCESS_PROPERTY_READ_AND_WRITE_ACCESS", "Persisted Process Property Read and Write Access", "See and change persisted process properties.", [], dep=false, env=true, custom=true;
    ProcessLibrary: "PROCESS_LIBRARY", "Process Library", "Publish processes to the library and manage published versions.", [], dep=false, env=false, custom=true;
    Scheduling: "SCHEDULING", "Scheduling", "Manage process schedules.", [], dep=false, env=true, custom=true;
    TradingPartnerManagement: "TRADING_PARTNER_MANAGEMENT", "Trading Partner Management", "Create and change trading partners and their groups.", [], dep=false, env=false, custom=true;
    UserManagement: "USER_MANAGEMENT", "User Management", "Manage users and give them any role.", [], dep=false, env=false, custom=true;
    UserManagementLimited: "USER_MANAGEMENT_LIMITED", "User Management - Limited", "Manage users, but only give them roles made entirely of privileges the acting user holds.", [], dep=false, env=false, custom=true;
    ViewAuditLogs: "VIEW_AUDIT_LOGS", "View Audit Logs", "Read the account's audit log.", [], dep=false, env=false, custom=true;
    ViewData: "VIEW_DATA", "View Data", "See the documents processed by executions.", [], dep=false, env=true, custom=true;
    ViewResults: "VIEW_RESULTS", "View Results", "Follow execution activity and logs, without the processed documents.", [], dep=false, env=true, custom=true;
    DataDetectiveReadAccess: "DATA_DETECTIVE_READ_ACCESS", "Data Detective Read Access", "See where personal data flows (processes, fields, connectors, countries).", [], dep=false, env=false, custom=true, gate=PiiDataInsights;
    DataDetectiveReadAndWriteAccess: "DATA_DETECTIVE_READ_AND_WRITE_ACCESS", "Data Detective Read & Write Access", "See where personal data flows and propose new or changed data fields.", [], dep=false, env=false, custom=true, gate=PiiDataInsights;
    MdmStewardshipManagement: "MDM_STEWARDSHIP_MANAGEMENT", "MDM - Stewardship Management", "Manage DataHub stewardship: the hub's user and role entitlements.", [], dep=false, env=false, custom=true, gate=Datahub;
    AgentGardenUse: "AGENT_GARDEN_USE", "Agent Garden - Use Agents", "Talk to deployed agents in the conversational interface and list them.", [], dep=false, env=false, custom=false, family=AgentGarden;
    AgentGardenDevelop: "AGENT_GARDEN_DEVELOP", "Agent Garden - Develop Agents", "Create, edit and test agents.", [], dep=false, env=false, custom=false, family=AgentGarden;
    AgentControlTower: "AGENT_CONTROL_TOWER", "Agent Control Tower", "Manage agents across their providers in the Agent Control Tower.", [], dep=false, env=false, custom=false, family=AgentGarden;
    AgentGardenAdministration: "AGENT_GARDEN_ADMINISTRATION", "Agent Garden - Administration", "Administer the account's Agent Garden.", [], dep=false, env=false, custom=false, family=AgentGarden;
}

/// Standard User privileges (seed 000 matrix).
const STANDARD_USER: &[PrivilegeKey] = &[
    P::ApiManagementGateway,
    P::RuntimeManagement,
    P::RuntimeManagementReadAccess,
    P::BoomiAssure,
    P::BranchCreateAndModifyAccess,
    P::BranchDeleteAccess,
    P::BuildReadAndWriteAccess,
    P::Developer,
    P::EnvironmentManagement,
    P::Execute,
    P::IntegrationPack,
    P::Licensing,
    P::PackagedComponentManagement,
    P::PackagedComponentDeployment,
    P::ProcessLibrary,
    P::Scheduling,
    P::TradingPartnerManagement,
    P::ViewData,
    P::ViewResults,
];

/// Production Support privileges (seed 000 matrix).
const PRODUCTION_SUPPORT: &[PrivilegeKey] = &[
    P::RuntimeManagement,
    P::RuntimeManagementReadAccess,
    P::Developer,
    P::Execute,
    P::Licensing,
    P::PackagedComponentDeployment,
    P::Scheduling,
    P::ViewData,
    P::ViewResults,
];

/// Support privileges (seed 000 matrix).
const SUPPORT: &[PrivilegeKey] = &[
    P::BoomiAssure,
    P::Developer,
    P::Execute,
    P::Licensing,
    P::ViewData,
    P::ViewResults,
];

pub static BUILTIN_ROLES: &[BuiltinRole] = &[
    BuiltinRole {
        key: "ADMINISTRATOR",
        name: "Administrator",
        description: "Every privilege. Holders sign in locally, never through SSO.",
        privileges: None,
        extendable: true,
        requires_advanced_user_security: false,
        family: Family::Platform,
    },
    BuiltinRole {
        key: "STANDARD_USER",
        name: "Standard User",
        description: "Builds, deploys and runs integrations; no user or account administration.",
        privileges: Some(STANDARD_USER),
        extendable: true,
        requires_advanced_user_security: false,
        family: Family::Platform,
    },
    BuiltinRole {
        key: "PRODUCTION_SUPPORT",
        name: "Production Support",
        description: "Operates deployed integrations: runtimes, deployment, schedules, executions.",
        privileges: Some(PRODUCTION_SUPPORT),
        extendable: true,
        requires_advanced_user_security: true,
        family: Family::Platform,
    },
    BuiltinRole {
        key: "SUPPORT",
        name: "Support",
        description: "Watches executions and their data and reruns processes.",
        privileges: Some(SUPPORT),
        extendable: true,
        requires_advanced_user_security: true,
        family: Family::Platform,
    },
    BuiltinRole {
        key: "API_MANAGER",
        name: "API Manager",
        description: "Works on APIs and API applications.",
        privileges: Some(&[P::ApiManagementApis, P::ApiManagementApplications]),
        extendable: true,
        requires_advanced_user_security: false,
        family: Family::Platform,
    },
    BuiltinRole {
        key: "API_INFRASTRUCTURE_MANAGER",
        name: "API Infrastructure Manager",
        description: "Works on gateways, plans, authentication sources and the developer portal.",
        privileges: Some(&[
            P::ApiManagementPlans,
            P::ApiManagementAuthentication,
            P::ApiManagementDeveloperPortalPublishing,
            P::ApiManagementGateway,
        ]),
        extendable: true,
        requires_advanced_user_security: false,
        family: Family::Platform,
    },
    BuiltinRole {
        key: "API_CONTROL_PLANE_ADMINISTRATOR",
        name: "API Control Plane Administrator",
        description: "Administers the API Control Plane and its users; cannot be extended.",
        privileges: Some(&[P::UserManagementLimited, P::ApiControlPlaneUser]),
        extendable: false,
        requires_advanced_user_security: false,
        family: Family::Platform,
    },
    BuiltinRole {
        key: "CLOUD_API_MANAGEMENT_ADMINISTRATOR",
        name: "Cloud API Management Administrator",
        description: "Administers Cloud API Management and its users; cannot be extended.",
        privileges: Some(&[P::UserManagementLimited, P::CloudApiManagementUser]),
        extendable: false,
        requires_advanced_user_security: false,
        family: Family::Platform,
    },
    BuiltinRole {
        key: "AGENT_GARDEN_USER",
        name: "Agent Garden User",
        description: "Uses deployed agents. Every Standard User holds it, implied.",
        privileges: Some(&[P::AgentGardenUse]),
        extendable: true,
        requires_advanced_user_security: false,
        family: Family::AgentGarden,
    },
    BuiltinRole {
        key: "AGENT_GARDEN_DEVELOPER",
        name: "Agent Garden Developer",
        description: "Builds and tests agents and works in the Agent Control Tower.",
        privileges: Some(&[
            P::AgentGardenUse,
            P::AgentGardenDevelop,
            P::AgentControlTower,
        ]),
        extendable: true,
        requires_advanced_user_security: false,
        family: Family::AgentGarden,
    },
    BuiltinRole {
        key: "AGENT_GARDEN_ADMINISTRATOR",
        name: "Agent Garden Administrator",
        description: "Administers Agent Garden. Every Administrator holds it, implied.",
        privileges: Some(&[
            P::AgentGardenUse,
            P::AgentGardenDevelop,
            P::AgentControlTower,
            P::AgentGardenAdministration,
        ]),
        extendable: true,
        requires_advanced_user_security: false,
        family: Family::AgentGarden,
    },
];

/// Roles of another family every holder of a platform role has, implied
/// (seed 001): (platform role, implied role).
pub static IMPLIED_ROLES: &[(&str, &str)] = &[
    ("STANDARD_USER", "AGENT_GARDEN_USER"),
    ("ADMINISTRATOR", "AGENT_GARDEN_ADMINISTRATOR"),
];
