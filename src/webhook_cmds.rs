//! `idbridge webhook ...`: an account's webhook endpoints from the command
//! line, audited like the API.

use crate::{emit, open, Result};
use clap::Subcommand;
use idbridge::config::Settings;
use idbridge::store::{self, audit, webhooks};
use serde_json::json;

#[derive(Subcommand)]
pub enum WebhookCmd {
    /// Add an endpoint; prints its signing secret, once.
    Add {
        #[arg(long)]
        account: String,
        #[arg(long)]
        url: String,
        /// An event type to receive (repeatable); none: every type.
        #[arg(long = "type")]
        types: Vec<String>,
    },
    /// An account's endpoints.
    List {
        #[arg(long)]
        account: String,
    },
    /// Remove an endpoint (its pending deliveries go with it).
    Remove {
        #[arg(long)]
        account: String,
        #[arg(long)]
        id: String,
    },
}

pub async fn run(settings: &Settings, j: bool, cmd: WebhookCmd) -> Result<()> {
    let db = open(settings).await?;
    match cmd {
        WebhookCmd::Add {
            account,
            url,
            types,
        } => {
            store::model::account(&db, &account)
                .await?
                .ok_or_else(|| format!("no account {account}"))?;
            let parsed = url::Url::parse(url.trim())?;
            idbridge::webhooks::guard::resolve(&parsed, settings.webhook_allow_internal).await?;
            let secret = idbridge::webhooks::sign::new_secret();
            let sealer = idbridge::secrets::Sealer::new(settings.sealing_key())?;
            let txn = store::write_txn(&db).await?;
            let e = webhooks::insert_endpoint(
                &txn,
                webhooks::Endpoint {
                    id: store::new_id(),
                    account_id: account.clone(),
                    url: parsed.to_string(),
                    types: types.join(","),
                    secret: sealer.seal(&secret)?,
                    enabled: true,
                    failing_since: None,
                    disabled_reason: None,
                    created_at: store::now_ms(),
                },
            )
            .await?;
            audit::record(
                &txn,
                audit::Event::new(Some(&account), "cli", "webhook.create", &e.id)
                    .details(json!({"url": e.url, "types": types})),
            )
            .await?;
            txn.commit().await?;
            let text = format!(
                "webhook {} → {}\n  signing secret (shown once): {secret}",
                e.id, e.url
            );
            emit(
                j,
                json!({"id": e.id, "url": e.url, "types": types, "secret": secret}),
                text,
            );
        }
        WebhookCmd::List { account } => {
            let all = webhooks::endpoints(&db, &account).await?;
            let lines: Vec<String> = all
                .iter()
                .map(|e| {
                    let state = if e.enabled {
                        "enabled".to_string()
                    } else {
                        format!(
                            "disabled: {}",
                            e.disabled_reason.clone().unwrap_or_default()
                        )
                    };
                    format!(
                        "{}  {}  [{}]  {state}",
                        e.id,
                        e.url,
                        if e.types.is_empty() { "all" } else { &e.types }
                    )
                })
                .collect();
            let v: Vec<_> = all.iter().map(|e| json!({"id": e.id, "url": e.url, "types": e.types, "enabled": e.enabled, "disabled_reason": e.disabled_reason})).collect();
            emit(j, json!(v), lines.join("\n"));
        }
        WebhookCmd::Remove { account, id } => {
            let txn = store::write_txn(&db).await?;
            if !webhooks::delete_endpoint(&txn, &account, &id).await? {
                return Err(format!("no webhook {id} in account {account}").into());
            }
            audit::record(
                &txn,
                audit::Event::new(Some(&account), "cli", "webhook.delete", &id),
            )
            .await?;
            txn.commit().await?;
            emit(j, json!({"removed": id}), format!("webhook {id} removed"));
        }
    }
    Ok(())
}
