//! The outbox relay: hands committed outbox rows to the queue.
//!
//! Rows are claimed in a transaction (PostgreSQL relays skip each other's rows), pushed to
//! apalis, and given back if the push fails, so a queue outage delays work but loses none.

use crate::{Deps, JsonStorage, POLL};
use roster_store::Store;
use roster_store::outbox::{self, Envelope};
use std::sync::Arc;
use tokio::sync::{Notify, watch};

/// Rows handed over per round.
const BATCH: i64 = 200;

/// Relays until `stop` turns true.
pub async fn run<S: JsonStorage<Envelope>>(
    deps: Arc<Deps>,
    mut storage: S,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        match relay_once(&deps.store, &mut storage, deps.redeliver_after_ms()).await {
            // A full batch: there may be more right now.
            Ok(n) if n as i64 == BATCH => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox relay round failed; will retry"),
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => return Ok(()),
        }
        if *stop.borrow() {
            return Ok(());
        }
    }
}

/// Hands over the rows due now; returns how many.
pub async fn relay_once<S: JsonStorage<Envelope>>(
    store: &Store,
    storage: &mut S,
    redeliver_after_ms: i64,
) -> anyhow::Result<usize> {
    let due = outbox::claim_due(store, BATCH, redeliver_after_ms).await?;
    let n = due.len();
    let mut failed = Vec::new();
    let mut first_error = None;
    for envelope in due {
        if let Err(e) = storage.push(envelope.clone()).await {
            failed.push(envelope);
            first_error.get_or_insert_with(|| e.to_string());
        }
    }
    if let Some(e) = first_error {
        outbox::release(store, &failed).await?;
        anyhow::bail!("queue refused {} job(s): {e}", failed.len());
    }
    Ok(n)
}
