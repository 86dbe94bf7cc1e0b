//! The outbox relay: hands committed outbox rows to the queue.
//!
//! Rows are claimed in a transaction (PostgreSQL relays skip each other's rows), pushed to
//! apalis, and given back if the push fails, so a queue outage delays work but loses none.
//!
//! The relay keeps the queue's backlog bounded ([`MAX_HANDED_OVER`]): what is owed waits in
//! the database, not in the queue. apalis-redis 1.0 moves every waiting job into its active
//! list with one Lua `rpush(unpack(ids))`, which Redis refuses beyond about 8,000 ids; a
//! backlog that large (workers busy with a slow SMTP server while the relay keeps pushing)
//! would make every fetch fail from then on.

use crate::{Deps, JsonStorage, POLL};
use roster_store::Store;
use roster_store::outbox::{self, Envelope};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Rows handed over per round (outbox rows and emails, each).
pub const BATCH: i64 = 200;
/// Jobs the relays keep in the queue at most (each relay may overshoot by one round).
pub const MAX_HANDED_OVER: i64 = 1_000;
/// A job handed over this long ago and not done (an email: and claimed by no sender) is
/// handed over again (a worker killed with the job in its hands, an email's retries spent
/// while the mail server was away)...
pub const UNCLAIMED_AFTER: Duration = Duration::from_secs(30);
/// ...while at most this many handed-over jobs wait unclaimed: beyond it they may well be
/// waiting their turn in a long queue, and pushing them again would only grow it. Lost jobs
/// then wait until the queue has drained below it (they go first, the oldest handed over
/// first), or for `ROSTER_REDELIVER_AFTER`.
pub const UNCLAIMED_REDELIVERY_MAX: i64 = BATCH;

/// Relays until `stop` turns true.
pub async fn run<S: JsonStorage<Envelope>>(
    deps: Arc<Deps>,
    mut storage: S,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        match relay_once(&deps.store, &mut storage, deps.redeliver_after_ms()).await {
            // Rows went over: there may be more right now, and room for them.
            Ok(n) if n > 0 => continue,
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
    let room = MAX_HANDED_OVER - outbox::handed_over(store, redeliver_after_ms).await?;
    if room <= 0 {
        return Ok(0);
    }
    let unclaimed_after = (outbox::unclaimed_handed_over(store).await? <= UNCLAIMED_REDELIVERY_MAX)
        .then_some(UNCLAIMED_AFTER.as_millis() as i64);
    let due =
        outbox::claim_due(store, room.min(BATCH), redeliver_after_ms, unclaimed_after).await?;
    let n = due.len();
    if n == 0 {
        return Ok(0);
    }
    // One round trip for the whole batch. If the queue refuses it, every row goes back: a
    // row that did reach the queue is then handed over twice, which an idempotent job
    // shrugs off.
    if let Err(e) = storage.push_bulk(due.clone()).await {
        outbox::release(store, &due).await?;
        anyhow::bail!("queue refused {n} job(s): {e}");
    }
    Ok(n)
}
