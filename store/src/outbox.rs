//! The outbox: jobs owed, written in the transaction that causes them.
//!
//! apalis pushes are not part of a database transaction, so a change writes an outbox row
//! beside its data; the worker's relay hands committed rows to the queue and a job marks its
//! row done when it finishes. A row handed over but not done within [`REDELIVER_AFTER_MS`]
//! (the queue lost it: a Redis restart, a killed worker) is handed over again; jobs are
//! idempotent, so a second delivery changes nothing.

use crate::{Backend, Store, StoreResult, Tx, now_ms};
use serde::{Deserialize, Serialize};

/// A row handed to the queue but not done after this long is handed over again.
pub const REDELIVER_AFTER_MS: i64 = 5 * 60 * 1000;

/// A unit of background work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// Deliver one email of the `emails` ledger.
    SendEmail { email_id: i64 },
    /// Make a PROCESSING contract ACTIVE and send its Get Started email (R19).
    Provision { contract_id: i64 },
}

impl Job {
    pub fn name(&self) -> &'static str {
        match self {
            Job::SendEmail { .. } => "send_email",
            Job::Provision { .. } => "provision",
        }
    }
}

/// What the queue carries: the job and the outbox row to mark done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub outbox_id: i64,
    pub job: Job,
}

/// Writes a job owed, due at `due_at` (ms), in the causing transaction.
pub async fn enqueue(tx: &mut Tx, job: &Job, due_at: i64) -> StoreResult<i64> {
    let payload =
        serde_json::to_string(job).map_err(|e| crate::StoreError::Corrupt(e.to_string()))?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO outbox (job, payload, due_at, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(job.name())
    .bind(payload)
    .bind(due_at)
    .bind(now_ms())
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

/// Takes up to `limit` rows due for handing over and marks them handed over, in one
/// transaction; on PostgreSQL concurrent relays skip each other's rows.
pub async fn claim_due(store: &Store, limit: i64) -> StoreResult<Vec<Envelope>> {
    let now = now_ms();
    let mut tx = store.begin().await?;
    let select = match store.backend() {
        Backend::Postgres => {
            "SELECT id, payload FROM outbox WHERE done_at IS NULL \
             AND ((relayed_at IS NULL AND due_at <= $1) OR relayed_at < $2) \
             ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED"
        }
        Backend::Sqlite => {
            "SELECT id, payload FROM outbox WHERE done_at IS NULL \
             AND ((relayed_at IS NULL AND due_at <= $1) OR relayed_at < $2) \
             ORDER BY id LIMIT $3"
        }
    };
    let rows: Vec<(i64, String)> = sqlx::query_as(select)
        .bind(now)
        .bind(now - REDELIVER_AFTER_MS)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, payload) in rows {
        sqlx::query("UPDATE outbox SET relayed_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        match serde_json::from_str::<Job>(&payload) {
            Ok(job) => out.push(Envelope { outbox_id: id, job }),
            Err(e) => {
                tracing::error!(outbox_id = id, error = %e, "outbox row holds no valid job; skipped")
            }
        }
    }
    tx.commit().await?;
    Ok(out)
}

/// Gives rows back to the relay when handing them to the queue failed.
pub async fn release(store: &Store, ids: &[i64]) -> StoreResult<()> {
    for id in ids {
        sqlx::query("UPDATE outbox SET relayed_at = NULL WHERE id = $1 AND done_at IS NULL")
            .bind(id)
            .execute(store.pool())
            .await?;
    }
    Ok(())
}

/// Marks a row done: its job finished (or will never succeed and was recorded as such).
pub async fn mark_done(store: &Store, outbox_id: i64) -> StoreResult<()> {
    sqlx::query("UPDATE outbox SET done_at = $1 WHERE id = $2 AND done_at IS NULL")
        .bind(now_ms())
        .bind(outbox_id)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Rows not done yet (for tests and `/metrics`).
pub async fn pending_count(store: &Store) -> StoreResult<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE done_at IS NULL")
        .fetch_one(store.pool())
        .await?;
    Ok(n)
}

/// The earliest due time of a row not handed over yet, if any.
pub async fn next_due(store: &Store) -> StoreResult<Option<i64>> {
    let (n,): (Option<i64>,) = sqlx::query_as(
        "SELECT MIN(due_at) FROM outbox WHERE done_at IS NULL AND relayed_at IS NULL",
    )
    .fetch_one(store.pool())
    .await?;
    Ok(n)
}
