//! Command-line parts of the access model: account features, the support
//! account, support grants and account groups (read side).

use crate::{emit, open, Result};
use clap::Subcommand;
use idbridge::config::Settings;
use idbridge::store::{self, account_groups, audit, platform, support};
use serde_json::json;

#[derive(Subcommand)]
pub enum SupportAccountCmd {
    /// Make this account's users the platform's support staff.
    Set {
        #[arg(long)]
        account: String,
    },
    /// Which account that is.
    Show,
}

#[derive(Subcommand)]
pub enum SupportAccessCmd {
    /// An account's support grants, newest first.
    List {
        #[arg(long)]
        account: String,
    },
}

#[derive(Subcommand)]
pub enum AccountGroupCmd {
    /// A parent account's groups, children and role assignments.
    List {
        #[arg(long)]
        account: String,
    },
}

/// `account features`: show, or change and show.
pub struct FeatureChange {
    pub account: String,
    pub advanced_user_security: Option<bool>,
    pub pii_data_insights: Option<bool>,
    pub datahub: Option<bool>,
}

pub async fn features(settings: &Settings, j: bool, c: FeatureChange) -> Result<()> {
    let db = open(settings).await?;
    let current = store::model::account(&db, &c.account)
        .await?
        .ok_or_else(|| format!("unknown account: {}", c.account))?;
    let changing =
        c.advanced_user_security.is_some() || c.pii_data_insights.is_some() || c.datahub.is_some();
    let a = if changing {
        let txn = store::write_txn(&db).await?;
        let change = store::accounts::AccountChange {
            advanced_user_security: c.advanced_user_security,
            pii_data_insights: c.pii_data_insights,
            datahub: c.datahub,
            ..Default::default()
        };
        let a = store::accounts::update(&txn, &current, change).await?;
        store::changes::record(&txn, Some(&a.id), store::changes::Change::Account).await?;
        let details = json!({"advanced_user_security": c.advanced_user_security, "pii_data_insights": c.pii_data_insights, "datahub": c.datahub});
        audit::record(
            &txn,
            audit::Event::new(Some(&a.id), "cli", "account.update", &a.id).details(details),
        )
        .await?;
        txn.commit().await?;
        a
    } else {
        current
    };
    let v = json!({"account": a.id, "advanced_user_security": a.advanced_user_security, "pii_data_insights": a.pii_data_insights, "datahub": a.datahub});
    emit(j, v.clone(), format!("features of {}: {v}", a.id));
    Ok(())
}

pub async fn support_account(settings: &Settings, j: bool, cmd: SupportAccountCmd) -> Result<()> {
    let db = open(settings).await?;
    match cmd {
        SupportAccountCmd::Set { account } => {
            store::model::account(&db, &account)
                .await?
                .ok_or_else(|| format!("unknown account: {account}"))?;
            let txn = store::write_txn(&db).await?;
            platform::set(&txn, platform::SUPPORT_ACCOUNT, &account).await?;
            audit::record(
                &txn,
                audit::Event::new(Some(&account), "cli", "support.account.set", &account),
            )
            .await?;
            txn.commit().await?;
            emit(
                j,
                json!({"support_account": account}),
                format!("support staff are the users of {account}"),
            );
        }
        SupportAccountCmd::Show => {
            let a = platform::get(&db, platform::SUPPORT_ACCOUNT).await?;
            let text = match &a {
                Some(a) => format!("support staff are the users of {a}"),
                None => "no support account is set".into(),
            };
            emit(j, json!({"support_account": a}), text);
        }
    }
    Ok(())
}

pub async fn support_access(settings: &Settings, j: bool, cmd: SupportAccessCmd) -> Result<()> {
    let db = open(settings).await?;
    let SupportAccessCmd::List { account } = cmd;
    let now = store::now_ms();
    let grants: Vec<serde_json::Value> = support::list(&db, &account)
        .await?
        .iter()
        .map(|g| json!({"id": g.id, "role": g.role_ref, "ends_at": store::credentials::iso(g.ends_at), "granted_by": g.granted_by, "live": g.is_live(now)}))
        .collect();
    let text = grants
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    emit(j, json!({"grants": grants}), text);
    Ok(())
}

pub async fn account_group(settings: &Settings, j: bool, cmd: AccountGroupCmd) -> Result<()> {
    let db = open(settings).await?;
    let AccountGroupCmd::List { account } = cmd;
    let groups: Vec<serde_json::Value> = account_groups::list(&db, &account)
        .await?
        .into_iter()
        .map(|v| json!({"id": v.group.id, "name": v.group.name, "accounts": v.children, "assignments": v.roles.len()}))
        .collect();
    let text = groups
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    emit(j, json!({"groups": groups}), text);
    Ok(())
}
