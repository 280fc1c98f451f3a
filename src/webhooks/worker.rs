//! Delivery: claims due deliveries, signs and posts them, records what
//! happened, and retries with exponential backoff and jitter. Every replica
//! runs one; claims keep them from sending the same delivery twice.

use super::{guard, sign};
use crate::state::AppState;
use crate::store::{self, events, webhooks};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LEASE_MS: i64 = 60_000;
const RESPONSE_KEPT: usize = 1024;
const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Waits `base · 2^(attempts-1)`, at most an hour, ±20 % so that many
/// failing deliveries do not come back in step.
pub fn backoff_ms(base_ms: u64, attempts: i32) -> i64 {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let wait = base_ms.saturating_mul(1u64 << exp).min(3_600_000);
    let jitter = 0.8 + rand::random::<f64>() * 0.4;
    (wait as f64 * jitter) as i64
}

pub async fn deliver(state: Arc<AppState>) {
    let poll = Duration::from_millis(state.settings.webhook_poll_ms.max(10));
    let mut swept = Instant::now();
    let mut busy = false;
    loop {
        // Sleep only when idle: an endpoint's queue moves one delivery per
        // round (its order), so a backlog goes out as fast as rounds go.
        if !busy {
            tokio::time::sleep(poll).await;
        }
        busy = match webhooks::claim(&state.db, 16, LEASE_MS).await {
            Ok(due) => {
                let found = !due.is_empty();
                let sends = due.into_iter().map(|d| attempt(&state, d));
                futures_util::future::join_all(sends).await;
                found
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not claim webhook deliveries");
                false
            }
        };
        if swept.elapsed() > SWEEP_EVERY {
            swept = Instant::now();
            let keep =
                i64::try_from(state.settings.event_retention_days).unwrap_or(30) * 86_400_000;
            if let Err(e) = events::sweep(&state.db, keep).await {
                tracing::warn!(error = %e, "could not sweep old events");
            }
        }
    }
}

/// One attempt at one delivery.
async fn attempt(state: &AppState, d: webhooks::Delivery) {
    let id = d.id;
    let outcome = send(state, &d).await;
    let s = &state.settings;
    let retry = backoff_ms(s.webhook_retry_base_ms, d.attempts + 1);
    let give_up = i64::try_from(s.webhook_give_up_secs).unwrap_or(259_200) * 1000;
    match webhooks::finish(&state.db, d, outcome, retry, give_up).await {
        Ok(true) => tracing::warn!(
            delivery = id,
            "webhook endpoint disabled after sustained failure"
        ),
        Ok(false) => {}
        Err(e) => tracing::error!(error = %e, delivery = id, "could not record a webhook attempt"),
    }
}

fn failed(error: String) -> webhooks::Outcome {
    webhooks::Outcome {
        status_code: None,
        error: Some(error),
        response: None,
        delivered: false,
    }
}

async fn send(state: &AppState, d: &webhooks::Delivery) -> webhooks::Outcome {
    let loaded = async {
        let e = events::by_seq(&state.db, d.event_seq)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("event gone")?;
        let ep = store::entities::webhook_endpoint::Entity::find_by_id(d.endpoint_id.clone())
            .one(&state.db)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("endpoint gone")?;
        Ok::<_, String>((e, ep))
    };
    let (e, ep) = match loaded.await {
        Ok(x) => x,
        Err(err) => return failed(err),
    };
    match post(state, &e, &ep).await {
        Ok(o) => o,
        Err(err) => failed(err),
    }
}

use sea_orm::EntityTrait;

/// One client per (host, checked address), reused: building a client (TLS
/// roots, pool) per delivery costs more than the delivery. Each is pinned to
/// the checked address, follows no redirects and is bounded in time.
fn client_for(host: &str, addr: std::net::SocketAddr) -> Result<reqwest::Client, String> {
    static CLIENTS: std::sync::OnceLock<
        std::sync::Mutex<
            std::collections::HashMap<(String, std::net::SocketAddr), reqwest::Client>,
        >,
    > = std::sync::OnceLock::new();
    let clients = CLIENTS.get_or_init(Default::default);
    let key = (host.to_string(), addr);
    if let Some(c) = clients.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Ok(c);
    }
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .resolve(host, addr)
        .build()
        .map_err(|e| e.to_string())?;
    if let Ok(mut m) = clients.lock() {
        if m.len() > 1_000 {
            m.clear();
        }
        m.insert(key, c.clone());
    }
    Ok(c)
}

async fn post(
    state: &AppState,
    e: &events::Event,
    ep: &webhooks::Endpoint,
) -> Result<webhooks::Outcome, String> {
    let url = url::Url::parse(&ep.url).map_err(|e| e.to_string())?;
    let (host, addr) = guard::resolve(&url, state.settings.webhook_allow_internal).await?;
    let secret = state.sealer.open(&ep.secret).map_err(|e| e.to_string())?;
    let body = events::view(e).to_string();
    let ts = store::now_ms() / 1000;
    let signature = sign::signature(&secret, &e.id, ts, &body)?;
    let client = client_for(&host, addr)?;
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &e.id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = resp.status();
    let mut resp = resp;
    let mut kept = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        kept.extend_from_slice(&chunk);
        if kept.len() >= RESPONSE_KEPT {
            kept.truncate(RESPONSE_KEPT);
            break;
        }
    }
    Ok(webhooks::Outcome {
        status_code: Some(i32::from(status.as_u16())),
        error: (!status.is_success()).then(|| format!("answered {status}")),
        response: Some(String::from_utf8_lossy(&kept).into_owned()),
        delivered: status.is_success(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        for (attempts, base) in [(1, 1000), (2, 2000), (3, 4000), (6, 32_000)] {
            let w = super::backoff_ms(1000, attempts);
            assert!(w >= base * 8 / 10 && w <= base * 12 / 10, "{attempts}: {w}");
        }
        assert!(super::backoff_ms(5000, 40) <= 3_600_000 * 12 / 10);
    }
}
