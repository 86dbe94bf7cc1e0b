//! Sessions, activation tokens and staff keys, stored only as hashes (see [`crate::secret`]).

use crate::secret::{self, ACTIVATION_PREFIX, SESSION_PREFIX, STAFF_PREFIX};
use crate::{StoreResult, Tx, now_ms};
use sqlx::{Any, Executor};

/// How long a session lasts without signing in again.
pub const SESSION_TTL_MS: i64 = 30 * 24 * 3600 * 1000;
/// How long an activation link stays valid.
pub const ACTIVATION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// Starts a session for `user_id`; the token is returned once and stored hashed.
pub async fn create_session(tx: &mut Tx, user_id: i64) -> StoreResult<String> {
    let token = secret::generate(SESSION_PREFIX);
    let now = now_ms();
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(secret::hash(&token))
    .bind(user_id)
    .bind(now)
    .bind(now + SESSION_TTL_MS)
    .execute(&mut **tx)
    .await?;
    Ok(token)
}

/// The user of a live session token (not revoked, not expired), in one statement.
pub async fn session_user<'c, E: Executor<'c, Database = Any>>(
    db: E,
    token: &str,
) -> StoreResult<Option<crate::users::UserRow>> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.email, u.first_name, u.last_name, u.language, u.password_hash, \
         u.subscriber_terms_at, u.coordinator_terms_at, u.first_sign_in_at, u.reseller_id, \
         u.created_at FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
    )
    .bind(secret::hash(token))
    .bind(now_ms())
    .fetch_optional(db)
    .await?)
}

/// A live session's user and when the session expires (ms since the epoch), in one statement.
pub async fn session_user_until<'c, E: Executor<'c, Database = Any>>(
    db: E,
    token: &str,
) -> StoreResult<Option<(crate::users::UserRow, i64)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: crate::users::UserRow,
        expires_at: i64,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT u.id, u.email, u.first_name, u.last_name, u.language, u.password_hash, \
         u.subscriber_terms_at, u.coordinator_terms_at, u.first_sign_in_at, u.reseller_id, \
         u.created_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
    )
    .bind(secret::hash(token))
    .bind(now_ms())
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.user, r.expires_at)))
}

/// Revokes a session token at once. Returns whether a live session was revoked.
pub async fn revoke_session<'c, E: Executor<'c, Database = Any>>(
    db: E,
    token: &str,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(secret::hash(token))
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Revokes every session of a user but `keep` (after a password change).
pub async fn revoke_other_sessions(tx: &mut Tx, user_id: i64, keep: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND token_hash <> $3 \
         AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(user_id)
    .bind(secret::hash(keep))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Issues a fresh activation token for `user_id`, voiding any earlier unused one.
pub async fn issue_activation_token(tx: &mut Tx, user_id: i64) -> StoreResult<String> {
    let now = now_ms();
    sqlx::query("UPDATE activation_tokens SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    let token = secret::generate(ACTIVATION_PREFIX);
    sqlx::query(
        "INSERT INTO activation_tokens (token_hash, user_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(secret::hash(&token))
    .bind(user_id)
    .bind(now)
    .bind(now + ACTIVATION_TTL_MS)
    .execute(&mut **tx)
    .await?;
    Ok(token)
}

/// Uses up an activation token: single-use and expiring. Returns its user.
pub async fn consume_activation_token(tx: &mut Tx, token: &str) -> StoreResult<Option<i64>> {
    let now = now_ms();
    let row: Option<(i64,)> = sqlx::query_as(
        "UPDATE activation_tokens SET used_at = $1 \
         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
    )
    .bind(now)
    .bind(secret::hash(token))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(u,)| u))
}

/// Creates a staff API key named `name`; the key is returned once and stored hashed.
pub async fn create_staff_key<'c, E: Executor<'c, Database = Any>>(
    db: E,
    name: &str,
) -> StoreResult<(i64, String)> {
    let key = secret::generate(STAFF_PREFIX);
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO staff_keys (name, key_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(name)
    .bind(secret::hash(&key))
    .bind(now_ms())
    .fetch_one(db)
    .await?;
    Ok((id, key))
}

/// The id of a live staff key.
pub async fn staff_key<'c, E: Executor<'c, Database = Any>>(
    db: E,
    key: &str,
) -> StoreResult<Option<i64>> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM staff_keys WHERE key_hash = $1 AND revoked_at IS NULL")
            .bind(secret::hash(key))
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(id,)| id))
}

/// What an activation link is now, for the page it opens: its user, or why it no longer works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivationLink {
    /// Usable: the user it activates, and their language.
    Valid { user_id: i64, language: String },
    /// Used already, or voided by a newer link (each new Get Started email voids the old one).
    Used { language: String },
    /// Older than [`ACTIVATION_TTL_MS`].
    Expired { language: String },
    /// No such token.
    Unknown,
}

/// Looks an activation token up without using it.
pub async fn activation_link<'c, E: Executor<'c, Database = Any>>(
    db: E,
    token: &str,
) -> StoreResult<ActivationLink> {
    let row: Option<(i64, Option<i64>, i64, String)> = sqlx::query_as(
        "SELECT t.user_id, t.used_at, t.expires_at, u.language FROM activation_tokens t \
         JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
    )
    .bind(secret::hash(token))
    .fetch_optional(db)
    .await?;
    Ok(match row {
        None => ActivationLink::Unknown,
        Some((_, Some(_), _, language)) => ActivationLink::Used { language },
        Some((_, None, expires, language)) if expires <= now_ms() => {
            ActivationLink::Expired { language }
        }
        Some((user_id, None, _, language)) => ActivationLink::Valid { user_id, language },
    })
}
