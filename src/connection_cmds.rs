//! `idbridge connection ...`: an account's SSO connections and their
//! email domains from the command line, audited like the API.

use crate::{emit, open, Result};
use clap::Subcommand;
use idbridge::config::Settings;
use idbridge::sso::connection_setup::{self, ConnectionInput};
use idbridge::sso::domain_check;
use idbridge::store::{self, audit, connections};
use serde_json::json;

#[derive(Subcommand)]
pub enum ConnectionCmd {
    /// Add an OIDC or SAML connection to an account.
    Add {
        #[arg(long)]
        account: String,
        /// oidc or saml.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        issuer: Option<String>,
        #[arg(long)]
        client_id: Option<String>,
        #[arg(long, env = "IDBRIDGE_SSO_CLIENT_SECRET")]
        client_secret: Option<String>,
        /// A file holding the IdP's SAML metadata.
        #[arg(long)]
        idp_metadata_file: Option<std::path::PathBuf>,
        #[arg(long)]
        idp_metadata_url: Option<String>,
        #[arg(long)]
        allow_idp_initiated: bool,
        /// scim, claims or both.
        #[arg(long)]
        role_source: Option<String>,
        #[arg(long)]
        groups_attribute: Option<String>,
        #[arg(long)]
        jit: bool,
        /// An email domain this connection serves (repeatable); verify it next.
        #[arg(long)]
        domain: Vec<String>,
    },
    /// An account's connections.
    List {
        #[arg(long)]
        account: String,
    },
    /// Remove a connection (its domains go with it).
    Remove {
        #[arg(long)]
        account: String,
        #[arg(long)]
        id: String,
    },
    /// Check a domain's TXT record and mark it verified.
    VerifyDomain {
        #[arg(long)]
        account: String,
        #[arg(long)]
        id: String,
        #[arg(long)]
        domain: String,
    },
}

pub async fn run(settings: &Settings, j: bool, cmd: ConnectionCmd) -> Result<()> {
    match cmd {
        ConnectionCmd::List { account } => list(settings, j, &account).await,
        ConnectionCmd::Remove { account, id } => remove(settings, j, &account, &id).await,
        ConnectionCmd::VerifyDomain {
            account,
            id,
            domain,
        } => verify(settings, j, &account, &id, &domain).await,
        add @ ConnectionCmd::Add { .. } => self::add(settings, j, add).await,
    }
}

async fn list(settings: &Settings, j: bool, account: &str) -> Result<()> {
    let db = open(settings).await?;
    let mut views = Vec::new();
    let mut lines = Vec::new();
    for c in connections::list(&db, account).await? {
        let domains = connections::domains(&db, &c.id).await?;
        let v = connection_setup::view(&c, &domains, &settings.public_url);
        let ds: Vec<String> = v
            .domains
            .iter()
            .map(|d| {
                format!(
                    "{}{}",
                    d.domain,
                    if d.verified { "" } else { " (unverified)" }
                )
            })
            .collect();
        lines.push(format!(
            "{}  {}  {}  {}  {}",
            v.id,
            v.kind,
            v.name,
            if v.enabled { "enabled" } else { "disabled" },
            ds.join(", ")
        ));
        views.push(v);
    }
    let mode = connections::mode(&db, account).await?;
    lines.push(format!("SSO mode: {mode}"));
    emit(
        j,
        json!({"mode": mode, "connections": views}),
        lines.join("\n"),
    );
    Ok(())
}

async fn add(settings: &Settings, j: bool, cmd: ConnectionCmd) -> Result<()> {
    let ConnectionCmd::Add {
        account,
        kind,
        name,
        issuer,
        client_id,
        client_secret,
        idp_metadata_file,
        idp_metadata_url,
        allow_idp_initiated,
        role_source,
        groups_attribute,
        jit,
        domain,
    } = cmd
    else {
        return Err("not an add command".into());
    };
    let db = open(settings).await?;
    store::model::account(&db, &account)
        .await?
        .ok_or_else(|| format!("no account {account}"))?;
    let saml = kind == "saml";
    let input = ConnectionInput {
        kind: Some(kind),
        name,
        role_source,
        groups_attribute,
        jit: Some(jit),
        issuer,
        client_id,
        client_secret,
        idp_metadata_xml: idp_metadata_file.map(std::fs::read_to_string).transpose()?,
        idp_metadata_url,
        allow_idp_initiated: saml.then_some(allow_idp_initiated),
        ..Default::default()
    };
    let domains = domain
        .iter()
        .map(|d| domain_check::normalise(d))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let sealer = idbridge::secrets::Sealer::new(settings.sealing_key())?;
    let c = connection_setup::build(&account, None, &input, &sealer).await?;
    let txn = store::write_txn(&db).await?;
    let c = connections::insert(&txn, c).await?;
    let rows = claim_domains(&txn, &c, domains).await?;
    audit::record(
        &txn,
        audit::Event::new(Some(&account), "cli", "sso.connection.create", &c.id)
            .details(json!({"kind": c.kind, "name": c.name, "domains": rows.iter().map(|d| &d.domain).collect::<Vec<_>>()})),
    )
    .await?;
    store::changes::record(&txn, Some(&account), store::changes::Change::Account).await?;
    txn.commit().await?;
    let v = connection_setup::view(&c, &rows, &settings.public_url);
    emit(j, json!(v), added_text(&account, &v));
    Ok(())
}

async fn claim_domains(
    txn: &sea_orm::DatabaseTransaction,
    c: &connections::Connection,
    domains: Vec<String>,
) -> Result<Vec<connections::Domain>> {
    let mut rows = Vec::new();
    for d in domains {
        let row = connections::Domain {
            account_id: c.account_id.clone(),
            domain: d,
            connection_id: c.id.clone(),
            token: idbridge::secrets::random_token(),
            verified_at: None,
            created_at: store::now_ms(),
        };
        rows.push(connections::add_domain(txn, row).await?);
    }
    Ok(rows)
}

/// What a person reads after `connection add`: what to give the IdP next.
fn added_text(account: &str, v: &connection_setup::ConnectionView) -> String {
    let mut text = format!("connection {} ({}) added to {account}", v.id, v.kind);
    if let Some(s) = &v.saml {
        text.push_str(&format!(
            "\n  give the IdP: entity ID {}  ACS {}",
            s.sp_entity_id, s.acs_url
        ));
    }
    if let Some(o) = &v.oidc {
        text.push_str(&format!("\n  redirect URI: {}", o.redirect_uri));
    }
    for d in &v.domains {
        text.push_str(&format!(
            "\n  publish TXT {} \"{}\" then run connection verify-domain",
            d.txt_name, d.txt_value
        ));
    }
    text
}

async fn remove(settings: &Settings, j: bool, account: &str, id: &str) -> Result<()> {
    let db = open(settings).await?;
    let txn = store::write_txn(&db).await?;
    if !connections::delete(&txn, account, id).await? {
        return Err(format!("no connection {id} in account {account}").into());
    }
    audit::record(
        &txn,
        audit::Event::new(Some(account), "cli", "sso.connection.delete", id),
    )
    .await?;
    store::changes::record(&txn, Some(account), store::changes::Change::Account).await?;
    txn.commit().await?;
    emit(
        j,
        json!({"removed": id}),
        format!("connection {id} removed"),
    );
    Ok(())
}

async fn verify(settings: &Settings, j: bool, account: &str, id: &str, domain: &str) -> Result<()> {
    let db = open(settings).await?;
    let domain = domain_check::normalise(domain)?;
    let row = connections::domain(&db, account, &domain)
        .await?
        .filter(|d| d.connection_id == id)
        .ok_or_else(|| format!("{domain} is not claimed by connection {id}"))?;
    let records = domain_check::txt_records(&domain, &settings.dns_resolver).await?;
    if !domain_check::proves(&records, &row.token) {
        return Err(format!(
            "no TXT record {}{} at {domain} (found: {records:?})",
            connection_setup::TXT_PREFIX,
            row.token
        )
        .into());
    }
    let txn = store::write_txn(&db).await?;
    let d = connections::mark_verified(&txn, row).await?;
    audit::record(
        &txn,
        audit::Event::new(Some(account), "cli", "sso.domain.verify", id)
            .details(json!({"domain": domain})),
    )
    .await?;
    txn.commit().await?;
    emit(
        j,
        json!(connection_setup::domain_view(&d)),
        format!("{domain} verified"),
    );
    Ok(())
}
