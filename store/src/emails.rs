//! The email ledger: every email owed, keyed by a deterministic idempotency key (R24).
//!
//! A change enqueues an email in its own transaction ([`enqueue`]); the same key twice is a
//! no-op, so re-running a change never owes an email twice. The sender claims a row before
//! sending and marks it SENT after, so two deliveries of the same job send once.

use crate::{StoreResult, Tx, now_ms};
use roster_domain::email_kind::EmailKind;
use sqlx::{Any, Executor};

/// How long a sender may hold a claimed email before another may try.
pub const CLAIM_MS: i64 = 60_000;

/// An email to owe.
#[derive(Debug, Clone)]
pub struct NewEmail {
    pub kind: EmailKind,
    /// Deterministic key of the event, e.g. `order-processed:contract:42`.
    pub idem_key: String,
    pub contract_id: Option<i64>,
    pub user_id: Option<i64>,
    pub recipient: String,
    /// What the template needs, captured when the event happened.
    pub params: serde_json::Value,
}

/// Owes an email; returns its id, or `None` when this event's email is already owed or
/// sent. The QUEUED row is what the relay hands to the queue.
pub async fn enqueue(tx: &mut Tx, email: NewEmail) -> StoreResult<Option<i64>> {
    let now = now_ms();
    let id: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO emails (idem_key, kind, contract_id, user_id, recipient, params, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(&email.idem_key)
    .bind(email.kind.as_str())
    .bind(email.contract_id)
    .bind(email.user_id)
    .bind(&email.recipient)
    .bind(email.params.to_string())
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(id.map(|(id,)| id))
}

/// A stored email.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EmailRow {
    pub id: i64,
    pub idem_key: String,
    pub kind: String,
    pub contract_id: Option<i64>,
    pub user_id: Option<i64>,
    pub recipient: String,
    pub params: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub message_id: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

pub async fn by_id<'c, E: Executor<'c, Database = Any>>(
    db: E,
    id: i64,
) -> StoreResult<Option<EmailRow>> {
    Ok(sqlx::query_as(
        "SELECT id, idem_key, kind, contract_id, user_id, recipient, params, status, attempts, \
         last_error, message_id, created_at, sent_at FROM emails WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// Claims a QUEUED email for sending; `false` when it is sent, failed, or held by another
/// sender right now.
pub async fn claim<'c, E: Executor<'c, Database = Any>>(db: E, id: i64) -> StoreResult<bool> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE emails SET claimed_until = $1, attempts = attempts + 1 WHERE id = $2 \
         AND status = 'QUEUED' AND (claimed_until IS NULL OR claimed_until < $3)",
    )
    .bind(now + CLAIM_MS)
    .bind(id)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn mark_sent<'c, E: Executor<'c, Database = Any>>(
    db: E,
    id: i64,
    message_id: &str,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE emails SET status = 'SENT', sent_at = $1, message_id = $2, last_error = NULL, \
         claimed_until = NULL WHERE id = $3",
    )
    .bind(now_ms())
    .bind(message_id)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Cancels a queued email that no longer applies (a renewal notice for a term already
/// renewed).
pub async fn cancel<'c, E: Executor<'c, Database = Any>>(
    db: E,
    id: i64,
    why: &str,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE emails SET status = 'CANCELLED', last_error = $1, claimed_until = NULL \
         WHERE id = $2 AND status = 'QUEUED'",
    )
    .bind(why)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Records a failed attempt; `permanent` marks the email FAILED, otherwise it may be retried.
pub async fn mark_failed<'c, E: Executor<'c, Database = Any>>(
    db: E,
    id: i64,
    error: &str,
    permanent: bool,
) -> StoreResult<()> {
    let q = if permanent {
        "UPDATE emails SET status = 'FAILED', last_error = $1, claimed_until = NULL WHERE id = $2"
    } else {
        "UPDATE emails SET last_error = $1, claimed_until = NULL WHERE id = $2"
    };
    sqlx::query(q).bind(error).bind(id).execute(db).await?;
    Ok(())
}

/// Emails of a contract, newest first, after the cursor `before_id`.
pub async fn for_contract<'c, E: Executor<'c, Database = Any>>(
    db: E,
    contract_id: i64,
    before_id: i64,
    limit: i64,
) -> StoreResult<Vec<EmailRow>> {
    Ok(sqlx::query_as(
        "SELECT id, idem_key, kind, contract_id, user_id, recipient, params, status, attempts, \
         last_error, message_id, created_at, sent_at FROM emails \
         WHERE contract_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(contract_id)
    .bind(before_id)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

pub async fn count_for_contract<'c, E: Executor<'c, Database = Any>>(
    db: E,
    contract_id: i64,
) -> StoreResult<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM emails WHERE contract_id = $1")
        .bind(contract_id)
        .fetch_one(db)
        .await?;
    Ok(n)
}
