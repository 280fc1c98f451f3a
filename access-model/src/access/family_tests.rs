//! Agent Garden roles (implied, assigned, inherited) and feature gates.

use super::*;
use crate::catalog::ADMINISTRATOR;
use std::collections::BTreeSet;

fn grant(role: &str) -> Grant {
    Grant {
        role: RoleRef::from_stored(role),
        via: Via::Direct,
        environments: None,
    }
}

fn model() -> AccountModel {
    let mut m = AccountModel {
        features: Features {
            advanced_user_security: true,
            ..Features::default()
        },
        ..AccountModel::default()
    };
    let sso_admin = CustomRole {
        id: RoleId("sso-admin".into()),
        name: "SSO_Admin".into(),
        parent: Some(RoleRef::ADMINISTRATOR),
        privileges: BTreeSet::new(),
    };
    let builder = CustomRole {
        id: RoleId("agent-builder".into()),
        name: "Agent Builder".into(),
        parent: Some(RoleRef::from_stored("AGENT_GARDEN_DEVELOPER")),
        privileges: BTreeSet::from(["BUILD_READ_ACCESS"]),
    };
    for r in [sso_admin, builder] {
        m.custom_roles.insert(r.id.clone(), r);
    }
    m
}

fn held<'a>(a: &'a Access, key: &str) -> Option<&'a HeldRole> {
    a.roles.iter().find(|r| r.role.as_str() == key)
}

#[test]
fn standard_users_and_administrators_hold_their_agent_garden_role_implied() {
    let m = model();
    let std = m.resolve(&[grant("STANDARD_USER")]);
    let ag = held(&std, "AGENT_GARDEN_USER").expect("implied");
    assert_eq!(
        ag.via,
        vec![Via::Implied {
            by: "Standard User".into()
        }]
    );
    assert!(held(&std, "AGENT_GARDEN_ADMINISTRATOR").is_none());
    let admin = m.resolve(&[grant(ADMINISTRATOR)]);
    assert!(held(&admin, "AGENT_GARDEN_ADMINISTRATOR").is_some());
    // Through inheritance too: SSO_Admin inherits Administrator.
    let sso_admin = m.resolve(&[grant("sso-admin")]);
    let ag = held(&sso_admin, "AGENT_GARDEN_ADMINISTRATOR").expect("implied");
    assert_eq!(
        ag.via,
        vec![Via::Implied {
            by: "SSO_Admin".into()
        }]
    );
    // Support implies nothing.
    assert_eq!(m.resolve(&[grant("SUPPORT")]).roles.len(), 1);
}

#[test]
fn control_tower_needs_developer_or_administrator() {
    let m = model();
    let ask = |roles: &[&str]| {
        let g: Vec<Grant> = roles.iter().map(|r| grant(r)).collect();
        m.decide(&m.resolve(&g), "AGENT_CONTROL_TOWER", None)
            .expect("known privilege")
    };
    let d = ask(&["STANDARD_USER"]);
    assert!(!d.allowed, "{d:?}");
    assert!(ask(&["STANDARD_USER", "AGENT_GARDEN_DEVELOPER"]).allowed);
    let d = ask(&[ADMINISTRATOR]);
    assert!(d.allowed);
    assert_eq!(d.via.privilege, ["Agent Garden Administrator"]);
    // A custom role inheriting Developer carries it, with its own additions.
    let d = ask(&["agent-builder"]);
    assert!(d.allowed, "{d:?}");
    assert_eq!(d.via.privilege, ["Agent Builder"]);
    // Using agents: every Standard User, by implication.
    let std = m.resolve(&[grant("STANDARD_USER")]);
    assert!(
        m.decide(&std, "Agent Garden - Use Agents", None)
            .expect("known")
            .allowed
    );
}

#[test]
fn a_disabled_feature_denies_and_says_so() {
    let mut m = model();
    let admin = m.resolve(&[grant(ADMINISTRATOR)]);
    let d = m
        .decide(&admin, "Data Detective Read Access", None)
        .expect("known");
    assert!(!d.allowed);
    assert!(d.reason.contains("pii_data_insights"), "{}", d.reason);
    assert_eq!(
        d.via.privilege,
        ["Administrator"],
        "the role still grants it"
    );
    assert!(!m
        .usable_privileges(&admin)
        .contains("DATA_DETECTIVE_READ_ACCESS"));
    let d = m
        .decide(&admin, "MDM_STEWARDSHIP_MANAGEMENT", None)
        .expect("known");
    assert!(!d.allowed && d.reason.contains("datahub"), "{}", d.reason);
    m.features.pii_data_insights = true;
    assert!(
        m.decide(&admin, "DATA_DETECTIVE_READ_ACCESS", None)
            .expect("known")
            .allowed
    );
    assert!(m
        .usable_privileges(&admin)
        .contains("DATA_DETECTIVE_READ_ACCESS"));
    // Custom roles may still be defined with a gated privilege.
    assert!(m
        .validate_custom_role(None, None, &["MDM - Stewardship Management".into()])
        .is_ok());
}
