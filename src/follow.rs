//! Each replica follows the shared change log (`store::changes`) and drops
//! whatever a write made through any replica made stale.

use std::time::Duration;

/// Follows the shared change log so writes made through any replica reach
/// this one's caches within one poll interval. A failed poll drops every
/// cache (fail closed) and tries again.
pub async fn follow_changes(state: std::sync::Arc<crate::state::AppState>) {
    use crate::store::changes;
    let every = Duration::from_millis(state.settings.change_poll_ms.max(10));
    let mut last = loop {
        match changes::latest(&state.db).await {
            Ok(seq) => break seq,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the change log");
                state.resolver.forget_everything();
                tokio::time::sleep(every).await;
            }
        }
    };
    let mut polls: u64 = 0;
    loop {
        tokio::time::sleep(every).await;
        match changes::since(&state.db, last).await {
            Ok(rows) => {
                for c in &rows {
                    state.resolver.apply(c);
                    last = last.max(c.seq);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the change log; dropping caches");
                state.resolver.forget_everything();
            }
        }
        polls += 1;
        if polls.is_multiple_of(2400) {
            // About every 10 minutes: entries an hour old have been read by every live replica.
            if let Err(e) = changes::prune(&state.db, 3_600_000).await {
                tracing::warn!(error = %e, "could not prune the change log");
            }
        }
    }
}
