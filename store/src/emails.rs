//! The email ledger: every email owed, keyed by a deterministic idempotency key (R24).
//!
//! A change enqueues an email in its own transaction ([`enqueue`]); the same key twice is a
//! no-op, so re-running a change never owes an email twice. The sender claims a row before
//! sending and marks it SENT after, so two deliveries of the same job send once.

use crate::{StoreResult, Tx, now_ms};
use roster_domain::email::{Email, EmailDecodeError};
use sqlx::{Any, Executor};

/// Attempts before an email is given up as FAILED (the dead letter an operator replays).
pub const MAX_ATTEMPTS: i64 = 8;

/// An email to owe.
#[derive(Debug, Clone)]
pub struct NewEmail {
    /// The email, typed by kind: what its templates need, captured when the event happened.
    pub email: Email,
    /// Deterministic key of the event, e.g. `order-processed:contract:42`.
    pub idem_key: String,
    pub contract_id: Option<i64>,
    pub user_id: Option<i64>,
    pub recipient: String,
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
    .bind(email.email.kind().as_str())
    .bind(email.contract_id)
    .bind(email.user_id)
    .bind(&email.recipient)
    .bind(email.email.params().to_string())
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

impl EmailRow {
    /// The typed email this row holds.
    pub fn email(&self) -> Result<Email, EmailDecodeError> {
        Email::from_stored(&self.kind, &self.params)
    }
}

/// The columns of an [`EmailRow`], for `concat!` into static SQL.
macro_rules! columns {
    () => {
        "id, idem_key, kind, contract_id, user_id, recipient, params, status, attempts, \
         last_error, message_id, created_at, sent_at"
    };
}

pub async fn by_id<'c, E: Executor<'c, Database = Any>>(
    db: E,
    id: i64,
) -> StoreResult<Option<EmailRow>> {
    Ok(
        sqlx::query_as(concat!("SELECT ", columns!(), " FROM emails WHERE id = $1"))
            .bind(id)
            .fetch_optional(db)
            .await?,
    )
}

/// Claims a QUEUED email for sending until `until` (ms) and returns it as claimed (its
/// attempts counting this one); `None` when it is not QUEUED or another sender's claim holds.
///
/// A claim is a short lease that its sender keeps renewing ([`renew_claim`]) while it works,
/// so the claims of a sender that died lapse within one lease.
pub async fn claim<'c, E: Executor<'c, Database = Any>>(
    db: E,
    id: i64,
    until: i64,
) -> StoreResult<Option<EmailRow>> {
    Ok(sqlx::query_as(concat!(
        "UPDATE emails SET claimed_until = $1, attempts = attempts + 1 WHERE id = $2 \
             AND status = 'QUEUED' AND (claimed_until IS NULL OR claimed_until < $3) RETURNING ",
        columns!()
    ))
    .bind(until)
    .bind(id)
    .bind(now_ms())
    .fetch_optional(db)
    .await?)
}

/// Extends a claim that still holds from `held_until` to `until` (ms); `false` when the claim
/// is no longer this sender's (it lapsed, or the email is no longer QUEUED).
///
/// `held_until` is the claim's current end as this sender last wrote it, so a sender whose
/// claim lapsed and was taken by another cannot extend the other's.
pub async fn renew_claim<'c, E: Executor<'c, Database = Any>>(
    db: E,
    id: i64,
    held_until: i64,
    until: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE emails SET claimed_until = $1 WHERE id = $2 AND status = 'QUEUED' \
         AND claimed_until = $3 AND claimed_until >= $4",
    )
    .bind(until)
    .bind(id)
    .bind(held_until)
    .bind(now_ms())
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
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM emails WHERE contract_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
    ))
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

/// Emails in `status` (FAILED: the dead letters; QUEUED: still owed), newest first.
pub async fn with_status<'c, E: Executor<'c, Database = Any>>(
    db: E,
    status: &str,
    limit: i64,
) -> StoreResult<Vec<EmailRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM emails WHERE status = $1 ORDER BY id DESC LIMIT $2"
    ))
    .bind(status)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Puts a FAILED email (or, with `None`, every FAILED email) back in the queue with fresh
/// attempts. Returns how many were replayed.
pub async fn replay<'c, E: Executor<'c, Database = Any>>(
    db: E,
    id: Option<i64>,
) -> StoreResult<u64> {
    let done = sqlx::query(
        "UPDATE emails SET status = 'QUEUED', attempts = 0, relayed_at = NULL, claimed_until = NULL \
         WHERE status = 'FAILED' AND ($1 IS NULL OR id = $1)",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// How many emails the ledger holds in each status.
pub async fn count_by_status<'c, E: Executor<'c, Database = Any>>(
    db: E,
) -> StoreResult<Vec<(String, i64)>> {
    Ok(
        sqlx::query_as("SELECT status, COUNT(*) FROM emails GROUP BY status ORDER BY status")
            .fetch_all(db)
            .await?,
    )
}
