//! Seed 003's scenario: seven custom roles, three environments.
//!
//! The seed's privilege table lost its column headers; the assignment below
//! matches every row's count of marks and the prose describing each role
//! (Prod_Support, Test and Dev "run processes", so they also get Execute).

use super::*;
use std::collections::BTreeSet;

fn role(id: &str, parent: Option<&str>, privs: &[&'static str]) -> CustomRole {
    CustomRole {
        id: id.into(),
        name: id.into(),
        parent: parent.map(RoleRef::from_stored),
        privileges: privs.iter().copied().collect(),
    }
}

/// The seed's seven custom roles.
fn seed_roles() -> Vec<CustomRole> {
    vec![
        role(
            "SSO_Admin",
            Some("ADMINISTRATOR"),
            &[
                "RUNTIME_MANAGEMENT",
                "ACCOUNT_ADMINISTRATION",
                "RUNTIME_MANAGEMENT_READ_ACCESS",
                "BUILD_READ_ACCESS",
                "BUILD_READ_AND_WRITE_ACCESS",
                "PACKAGED_COMPONENT_DEPLOYMENT",
                "VIEW_AUDIT_LOGS",
                "VIEW_DATA",
                "VIEW_RESULTS",
                "USER_MANAGEMENT",
            ],
        ),
        role(
            "Release_Management",
            None,
            &[
                "RUNTIME_MANAGEMENT",
                "RUNTIME_MANAGEMENT_READ_ACCESS",
                "BUILD_READ_ACCESS",
                "PACKAGED_COMPONENT_DEPLOYMENT",
                "VIEW_AUDIT_LOGS",
                "VIEW_RESULTS",
                "SCHEDULING",
            ],
        ),
        role(
            "Prod_Support",
            None,
            &[
                "RUNTIME_MANAGEMENT_READ_ACCESS",
                "BUILD_READ_ACCESS",
                "VIEW_DATA",
                "VIEW_RESULTS",
                "EXECUTE",
            ],
        ),
        role(
            "Test",
            None,
            &[
                "RUNTIME_MANAGEMENT_READ_ACCESS",
                "BUILD_READ_ACCESS",
                "VIEW_DATA",
                "VIEW_RESULTS",
                "EXECUTE",
            ],
        ),
        role(
            "Dev",
            None,
            &[
                "RUNTIME_MANAGEMENT_READ_ACCESS",
                "BUILD_READ_ACCESS",
                "BUILD_READ_AND_WRITE_ACCESS",
                "PACKAGED_COMPONENT_DEPLOYMENT",
                "VIEW_DATA",
                "VIEW_RESULTS",
                "EXECUTE",
            ],
        ),
        role("Production_Read_Only", None, &["VIEW_RESULTS"]),
        role("Test_Read_Only", None, &["VIEW_RESULTS"]),
    ]
}

fn model(scoping: Scoping) -> AccountModel {
    let roles = seed_roles();
    let env = |name: &str, roles: &[&str]| Environment {
        id: EnvId(format!("env-{name}")),
        name: name.into(),
        roles: roles.iter().map(|s| RoleRef::from_stored(s)).collect(),
    };
    AccountModel {
        features: Features {
            advanced_user_security: true,
            ..Features::default()
        },
        scoping,
        custom_roles: roles.into_iter().map(|r| (r.id.clone(), r)).collect(),
        environments: vec![
            env("Development", &["Dev"]),
            env("Test", &["Test", "Test_Read_Only", "Release_Management"]),
            env(
                "Production",
                &["Prod_Support", "Production_Read_Only", "Release_Management"],
            ),
        ],
    }
}

fn direct(roles: &[&str]) -> Vec<Grant> {
    roles
        .iter()
        .map(|r| Grant {
            role: RoleRef::from_stored(r),
            via: Via::Direct,
            environments: None,
        })
        .collect()
}

#[test]
fn every_role_in_every_environment() {
    // role, privilege, expected in Development / Test / Production
    let table: &[(&str, &str, [bool; 3])] = &[
        ("SSO_Admin", "VIEW_DATA", [true, true, true]),
        ("SSO_Admin", "Process Deployment", [true, true, true]),
        ("Release_Management", "VIEW_DATA", [false, false, false]),
        (
            "Release_Management",
            "PACKAGED_COMPONENT_DEPLOYMENT",
            [false, true, true],
        ),
        ("Release_Management", "VIEW_RESULTS", [false, true, true]),
        ("Prod_Support", "VIEW_DATA", [false, false, true]),
        ("Prod_Support", "EXECUTE", [false, false, true]),
        (
            "Prod_Support",
            "PACKAGED_COMPONENT_DEPLOYMENT",
            [false, false, false],
        ),
        ("Test", "VIEW_DATA", [false, true, false]),
        ("Test", "EXECUTE", [false, true, false]),
        ("Dev", "VIEW_DATA", [true, false, false]),
        ("Dev", "PACKAGED_COMPONENT_DEPLOYMENT", [true, false, false]),
        ("Production_Read_Only", "VIEW_RESULTS", [false, false, true]),
        ("Production_Read_Only", "VIEW_DATA", [false, false, false]),
        ("Test_Read_Only", "VIEW_RESULTS", [false, true, false]),
        ("Test_Read_Only", "VIEW_DATA", [false, false, false]),
    ];
    for scoping in [Scoping::Additive, Scoping::Strict] {
        let m = model(scoping);
        for (role, privilege, expected) in table {
            let access = m.resolve(&direct(&[role]));
            for (env, want) in ["Development", "Test", "Production"].iter().zip(expected) {
                let d = m.decide(&access, privilege, Some(env)).unwrap();
                assert_eq!(
                    d.allowed, *want,
                    "{role} {privilege} in {env} ({scoping:?}): {}",
                    d.reason
                );
                assert!(!d.additive_only, "a single role never mixes");
            }
        }
    }
}

#[test]
fn production_data_through_additive_mixing_only() {
    // Dev grants View Data but only reaches Development; Production_Read_Only
    // reaches Production but only grants View Results.
    let m = model(Scoping::Additive);
    let access = m.resolve(&direct(&["Dev", "Production_Read_Only"]));
    let d = m.decide(&access, "View Data", Some("Production")).unwrap();
    assert!(d.allowed);
    assert!(d.additive_only, "{}", d.reason);
    assert_eq!(d.via.privilege, vec!["Dev"]);
    assert_eq!(d.via.environment, vec!["Production_Read_Only"]);

    let strict = model(Scoping::Strict);
    let access = strict.resolve(&direct(&["Dev", "Production_Read_Only"]));
    let d = strict
        .decide(&access, "View Data", Some("Production"))
        .unwrap();
    assert!(!d.allowed, "{}", d.reason);
    assert!(d.reason.contains("strict"));
}

#[test]
fn sso_admin_inherits_administrator_but_is_not_the_builtin_role() {
    let m = model(Scoping::Additive);
    let access = m.resolve(&direct(&["SSO_Admin"]));
    assert!(access.has("ENVIRONMENT_MANAGEMENT"));
    assert!(!access.holds_builtin_admin());
    assert_eq!(access.environments().len(), 3);
    let admin = m.resolve(&direct(&["ADMINISTRATOR"]));
    assert!(admin.holds_builtin_admin());
}

#[test]
fn non_environment_privilege_ignores_environment() {
    let m = model(Scoping::Strict);
    let access = m.resolve(&direct(&["Release_Management"]));
    assert!(
        m.decide(&access, "View Audit Logs", Some("Development"))
            .unwrap()
            .allowed
    );
    assert!(
        !m.decide(&access, "Account Administration", None)
            .unwrap()
            .allowed
    );
    assert_eq!(
        m.decide(&access, "Nope", None),
        Err(AccessError::UnknownPrivilege("Nope".into()))
    );
    assert_eq!(
        m.decide(&access, "EXECUTE", Some("Staging")),
        Err(AccessError::UnknownEnvironment("Staging".into()))
    );
}

#[test]
fn custom_role_rules() {
    let mut m = model(Scoping::Additive);
    assert_eq!(
        m.validate_custom_role(None, Some("API Control Plane Administrator"), &[]),
        Err(AccessError::NotExtendable(
            "API Control Plane Administrator".into()
        ))
    );
    assert_eq!(
        m.validate_custom_role(None, None, &["API Management - Roles".into()]),
        Err(AccessError::Deprecated("API Management - Roles".into()))
    );
    assert_eq!(
        m.validate_custom_role(None, None, &["API Control Plane User".into()]),
        Err(AccessError::NotForCustomRoles(
            "API Control Plane User".into()
        ))
    );
    assert_eq!(
        m.validate_custom_role(None, None, &["Flying".into()]),
        Err(AccessError::UnknownPrivilege("Flying".into()))
    );
    assert_eq!(
        m.validate_custom_role(None, Some("Ghost"), &[]),
        Err(AccessError::UnknownRole("Ghost".into()))
    );
    // Dev -> Test_Read_Only is fine; then Test_Read_Only -> Dev would close a loop.
    let (parent, own) = m
        .validate_custom_role(
            Some(&"Dev".into()),
            Some("Test_Read_Only"),
            &["Atom Management".into()],
        )
        .unwrap();
    assert_eq!(parent.as_ref().map(RoleRef::as_str), Some("Test_Read_Only"));
    assert_eq!(own, BTreeSet::from(["RUNTIME_MANAGEMENT"]));
    m.custom_roles.get_mut(&"Dev".into()).unwrap().parent = Some("Test_Read_Only".into());
    assert_eq!(
        m.validate_custom_role(Some(&"Test_Read_Only".into()), Some("Dev"), &[]),
        Err(AccessError::Cycle("Dev".into()))
    );
    // Inherited privileges flow down.
    assert!(m
        .effective_privileges(&"Dev".into())
        .unwrap()
        .contains("VIEW_RESULTS"));
    m.features.advanced_user_security = false;
    assert!(matches!(
        m.validate_custom_role(None, None, &[]),
        Err(AccessError::AdvancedUserSecurityRequired(_))
    ));
    assert!(matches!(
        m.check_assignable(&"SUPPORT".into()),
        Err(AccessError::AdvancedUserSecurityRequired(_))
    ));
    assert!(m.check_assignable(&"STANDARD_USER".into()).is_ok());
}

#[test]
fn limited_user_management() {
    let m = model(Scoping::Additive);
    let cp_admin = m.resolve(&direct(&["API_CONTROL_PLANE_ADMINISTRATOR", "Dev"]));
    let dev = m.effective_privileges(&"Dev".into()).unwrap();
    assert_eq!(cp_admin.may_assign(&dev), Ok(()));
    let release = m
        .effective_privileges(&"Release_Management".into())
        .unwrap();
    match cp_admin.may_assign(&release) {
        Err(AccessError::Forbidden { missing }) => {
            assert!(missing.contains(&"View Audit Logs".to_string()))
        }
        other => panic!("{other:?}"),
    }
    let full = m.resolve(&direct(&["SSO_Admin"]));
    assert_eq!(
        full.may_assign(&m.effective_privileges(&"ADMINISTRATOR".into()).unwrap()),
        Ok(())
    );
    let none = m.resolve(&direct(&["Dev"]));
    assert_eq!(
        none.may_assign(&dev),
        Err(AccessError::Forbidden {
            missing: vec!["User Management".into()]
        })
    );
    assert_eq!(
        check_mappable(&"ADMINISTRATOR".into()),
        Err(AccessError::AdministratorMapping)
    );
}

#[test]
fn group_grants_carry_provenance_and_narrowing() {
    let m = model(Scoping::Additive);
    let grants = vec![
        Grant {
            role: "STANDARD_USER".into(),
            via: Via::Group {
                group: "eng".into(),
            },
            environments: Some(BTreeSet::from([EnvId("env-Test".to_string())])),
        },
        Grant {
            role: "Dev".into(),
            via: Via::Direct,
            environments: None,
        },
        Grant {
            role: "Dev".into(),
            via: Via::Claims {
                group: "devs".into(),
            },
            environments: None,
        },
    ];
    let access = m.resolve(&grants);
    let std = access
        .roles
        .iter()
        .find(|r| r.role == "STANDARD_USER")
        .unwrap();
    // Standard User holds Environment Management (all environments) but the mapping narrows it.
    assert_eq!(
        std.environments,
        BTreeSet::from([EnvId("env-Test".to_string())])
    );
    let dev = access.roles.iter().find(|r| r.role == "Dev").unwrap();
    assert_eq!(dev.via.len(), 2);
}
