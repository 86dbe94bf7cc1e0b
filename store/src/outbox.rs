//! The outbox: jobs owed, written in the transaction that causes them.
//!
//! Emails need no outbox row: their ledger row (`emails`, status QUEUED) is the record of what
//! is owed, and the relay hands queued emails over just like outbox rows.
//!
//! apalis pushes are not part of a database transaction, so a change writes an outbox row
//! beside its data; the worker's relay hands committed rows to the queue and a job marks its
//! row done when it finishes. A row handed over but not done within [`REDELIVER_AFTER_MS`]
//! (the queue lost it: a Redis restart, a killed worker) is handed over again; jobs are
//! idempotent, so a second delivery changes nothing. While the queue is short, a job not done
//! (an email: not claimed by a sender) is handed over again much sooner (see [`claim_due`]),
//! so a killed worker's jobs go out again within seconds.

use crate::{Backend, Store, StoreResult, Tx, now_ms};
use serde::{Deserialize, Serialize};

/// By default, a job handed to the queue but not done after this long is handed over again.
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

/// What the queue carries: the job and, for outbox jobs, the row to mark done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The outbox row of the job; `None` for emails, whose ledger row is their own record.
    pub outbox_id: Option<i64>,
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

/// Takes up to `limit` jobs due for handing over (outbox rows and queued emails) and marks
/// them handed over, one statement each; on PostgreSQL concurrent relays skip each other's
/// rows.
///
/// With `unclaimed_after_ms`, a job handed over that long ago and not done (an email: and
/// claimed by no sender now) is handed over again too: the worker that fetched it died before
/// running it, or an email's sender died and its claim lapsed, or its retries ran out while
/// the mail server was away. (A job still waiting in a long queue looks the same, so the
/// relay passes it only while few handed-over jobs wait: see [`unclaimed_handed_over`].)
///
/// Each statement reads what is owed through the partial indexes of what is owed, the rows
/// handed over too long ago first and then the fresh ones, so a round costs the same whether
/// the tables hold a thousand finished rows or millions (a scan in `id` order would step over
/// every finished row each round).
pub async fn claim_due(
    store: &Store,
    limit: i64,
    redeliver_after_ms: i64,
    unclaimed_after_ms: Option<i64>,
) -> StoreResult<Vec<Envelope>> {
    let now = now_ms();
    let stale = now - redeliver_after_ms;
    let (jobs_sql, emails_sql) = match store.backend() {
        Backend::Postgres => (
            "WITH stale AS (SELECT id FROM outbox WHERE done_at IS NULL \
             AND (relayed_at < $2 OR relayed_at < $4) ORDER BY relayed_at LIMIT $3 FOR UPDATE SKIP LOCKED), \
             fresh AS (SELECT id FROM outbox WHERE relayed_at IS NULL AND done_at IS NULL \
             AND due_at <= $1 ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             UPDATE outbox SET relayed_at = $1 WHERE id IN (SELECT id FROM \
             (SELECT id FROM stale UNION ALL SELECT id FROM fresh) due LIMIT $3) \
             RETURNING id, payload",
            "WITH stale AS (SELECT id FROM emails WHERE status = 'QUEUED' AND (relayed_at < $2 \
             OR (relayed_at < $4 AND (claimed_until IS NULL OR claimed_until < $1))) \
             ORDER BY relayed_at LIMIT $3 FOR UPDATE SKIP LOCKED), \
             fresh AS (SELECT id FROM emails WHERE status = 'QUEUED' AND relayed_at IS NULL \
             ORDER BY relayed_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             UPDATE emails SET relayed_at = $1 WHERE id IN (SELECT id FROM \
             (SELECT id FROM stale UNION ALL SELECT id FROM fresh) due LIMIT $3) \
             RETURNING id",
        ),
        Backend::Sqlite => (
            "WITH stale AS (SELECT id FROM outbox WHERE done_at IS NULL \
             AND (relayed_at < $2 OR relayed_at < $4) ORDER BY relayed_at LIMIT $3), \
             fresh AS (SELECT id FROM outbox WHERE relayed_at IS NULL AND done_at IS NULL \
             AND due_at <= $1 ORDER BY due_at LIMIT $3) \
             UPDATE outbox SET relayed_at = $1 WHERE id IN (SELECT id FROM \
             (SELECT id FROM stale UNION ALL SELECT id FROM fresh) LIMIT $3) \
             RETURNING id, payload",
            "WITH stale AS (SELECT id FROM emails WHERE status = 'QUEUED' AND (relayed_at < $2 \
             OR (relayed_at < $4 AND (claimed_until IS NULL OR claimed_until < $1))) \
             ORDER BY relayed_at LIMIT $3), \
             fresh AS (SELECT id FROM emails WHERE status = 'QUEUED' AND relayed_at IS NULL \
             ORDER BY relayed_at, id LIMIT $3) \
             UPDATE emails SET relayed_at = $1 WHERE id IN (SELECT id FROM \
             (SELECT id FROM stale UNION ALL SELECT id FROM fresh) LIMIT $3) \
             RETURNING id",
        ),
    };
    let unclaimed = unclaimed_after_ms.map_or(i64::MIN, |ms| now - ms);
    let jobs: Vec<(i64, String)> = sqlx::query_as(jobs_sql)
        .bind(now)
        .bind(stale)
        .bind(limit)
        .bind(unclaimed)
        .fetch_all(store.pool())
        .await?;
    let emails: Vec<(i64,)> = sqlx::query_as(emails_sql)
        .bind(now)
        .bind(stale)
        .bind(limit)
        .bind(unclaimed)
        .fetch_all(store.pool())
        .await?;
    let mut out = Vec::with_capacity(jobs.len() + emails.len());
    for (id, payload) in jobs {
        match serde_json::from_str::<Job>(&payload) {
            Ok(job) => out.push(Envelope {
                outbox_id: Some(id),
                job,
            }),
            Err(e) => {
                tracing::error!(outbox_id = id, error = %e, "outbox row holds no valid job; skipped")
            }
        }
    }
    out.extend(emails.into_iter().map(|(email_id,)| Envelope {
        outbox_id: None,
        job: Job::SendEmail { email_id },
    }));
    Ok(out)
}

/// Jobs handed to the queue and not done yet, not counting those handed over so long ago
/// that the queue is taken to have lost them (they will be handed over again).
pub async fn handed_over(store: &Store, redeliver_after_ms: i64) -> StoreResult<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM outbox WHERE done_at IS NULL AND relayed_at >= $1) \
         + (SELECT COUNT(*) FROM emails WHERE status = 'QUEUED' AND relayed_at >= $1)",
    )
    .bind(now_ms() - redeliver_after_ms)
    .fetch_one(store.pool())
    .await?;
    Ok(n)
}

/// Jobs handed over and not done, emails among them only when claimed by no sender now: what
/// waits in the queue (or was lost with a worker).
pub async fn unclaimed_handed_over(store: &Store) -> StoreResult<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM outbox WHERE done_at IS NULL AND relayed_at IS NOT NULL) \
         + (SELECT COUNT(*) FROM emails WHERE status = 'QUEUED' AND relayed_at IS NOT NULL \
         AND (claimed_until IS NULL OR claimed_until < $1))",
    )
    .bind(now_ms())
    .fetch_one(store.pool())
    .await?;
    Ok(n)
}

/// Gives jobs back to the relay when handing them to the queue failed.
pub async fn release(store: &Store, envelopes: &[Envelope]) -> StoreResult<()> {
    for e in envelopes {
        let (sql, id) = match (&e.outbox_id, &e.job) {
            (Some(id), _) => (
                "UPDATE outbox SET relayed_at = NULL WHERE id = $1 AND done_at IS NULL",
                *id,
            ),
            (None, Job::SendEmail { email_id }) => (
                "UPDATE emails SET relayed_at = NULL WHERE id = $1 AND status = 'QUEUED'",
                *email_id,
            ),
            (None, _) => continue,
        };
        sqlx::query(sql).bind(id).execute(store.pool()).await?;
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

/// The earliest due time of a row not handed over yet, if any.
pub async fn next_due(store: &Store) -> StoreResult<Option<i64>> {
    let (n,): (Option<i64>,) = sqlx::query_as(
        "SELECT MIN(due_at) FROM outbox WHERE done_at IS NULL AND relayed_at IS NULL",
    )
    .fetch_one(store.pool())
    .await?;
    Ok(n)
}

/// How far behind the workers are, for `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lag {
    /// Outbox jobs not done yet (due or not).
    pub jobs_pending: i64,
    /// When the oldest due outbox job not done yet was due (ms), if any.
    pub oldest_due_job: Option<i64>,
    /// Emails owed and not sent yet.
    pub emails_queued: i64,
    /// When the oldest of them was owed (ms), if any.
    pub oldest_queued_email: Option<i64>,
}

/// The lag in one statement (every part is answered by a partial index of what is owed).
pub async fn lag(store: &Store) -> StoreResult<Lag> {
    let (jobs_pending, oldest_due_job, emails_queued, oldest_queued_email): (
        i64,
        Option<i64>,
        i64,
        Option<i64>,
    ) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM outbox WHERE done_at IS NULL), \
         (SELECT MIN(due_at) FROM outbox WHERE done_at IS NULL AND due_at <= $1), \
         (SELECT COUNT(*) FROM emails WHERE status = 'QUEUED'), \
         (SELECT MIN(created_at) FROM emails WHERE status = 'QUEUED')",
    )
    .bind(now_ms())
    .fetch_one(store.pool())
    .await?;
    Ok(Lag {
        jobs_pending,
        oldest_due_job,
        emails_queued,
        oldest_queued_email,
    })
}
