//! A signed-in user's change of their own address (R32): pending until the link sent to the
//! new address is followed; the old address stays in force until then and is told after.

use crate::audit::{self, Actor};
use crate::emails::{self, NewEmail};
use crate::error::ConstraintExt as _;
use crate::{StoreResult, Tx, now_ms, secret};
use roster_domain::email::Email;
use roster_domain::{DomainError, UserErrorCode};

/// Prefix of email-change confirmation tokens.
pub const EMAIL_CHANGE_PREFIX: &str = "re_";
/// How long a confirmation link stays valid.
pub const EMAIL_CHANGE_TTL_MS: i64 = 24 * 3600 * 1000;

/// Whether another User ID holds `email` (case-insensitively).
pub async fn taken(tx: &mut Tx, email: &str, user_id: i64) -> StoreResult<bool> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM users WHERE lower(email) = lower($1) AND id <> $2")
            .bind(email)
            .bind(user_id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.is_some())
}

/// Records a pending change (replacing any earlier one) and owes the confirmation email to the
/// new address; the worker issues its token as it sends it.
pub async fn request(
    tx: &mut Tx,
    user: &crate::users::UserRow,
    new_email: &roster_domain::Email,
) -> StoreResult<()> {
    let now = now_ms();
    sqlx::query("UPDATE email_changes SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(user.id)
        .execute(&mut **tx)
        .await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO email_changes (user_id, new_email, created_at, expires_at) \
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(user.id)
    .bind(new_email.as_str())
    .bind(now)
    .bind(now + EMAIL_CHANGE_TTL_MS)
    .fetch_one(&mut **tx)
    .await?;
    emails::enqueue(
        tx,
        NewEmail {
            email: Email::EmailChange {
                first_name: user.first_name.clone(),
                new_email: new_email.as_str().to_string(),
                confirmed: false,
                change_id: id,
            },
            idem_key: format!("email-change:user:{}:change:{id}", user.id),
            contract_id: None,
            user_id: Some(user.id),
            recipient: new_email.as_str().to_string(),
        },
    )
    .await?;
    audit::record(
        tx,
        None,
        &Actor::User(user.id),
        "user.email_change_requested",
        &serde_json::json!({ "user": user.id, "change": id }),
    )
    .await?;
    Ok(())
}

/// A fresh confirmation token for a pending change; `None` once it was confirmed, replaced or
/// expired. Only its hash is stored; a later token replaces an earlier one.
pub async fn issue_token(tx: &mut Tx, change_id: i64) -> StoreResult<Option<String>> {
    let token = secret::generate(EMAIL_CHANGE_PREFIX);
    let done = sqlx::query(
        "UPDATE email_changes SET token_hash = $1 \
         WHERE id = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(secret::hash(&token))
    .bind(change_id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok((done.rows_affected() == 1).then_some(token))
}

/// Confirms a change by its token: the new address is the User ID's from now on, and the old
/// one is told. `None` when the token is unknown, used or expired.
pub async fn confirm(tx: &mut Tx, token: &str) -> StoreResult<Option<(i64, String)>> {
    let now = now_ms();
    let row: Option<(i64, String)> = sqlx::query_as(
        "UPDATE email_changes SET used_at = $1 \
         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
         RETURNING user_id, new_email",
    )
    .bind(now)
    .bind(secret::hash(token))
    .fetch_optional(&mut **tx)
    .await?;
    let Some((user_id, new_email)) = row else {
        return Ok(None);
    };
    let Some(user) = crate::users::by_id(&mut **tx, user_id).await? else {
        return Ok(None);
    };
    sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
        .bind(&new_email)
        .bind(user_id)
        .execute(&mut **tx)
        .await
        .on_constraint("users_email_key", || {
            DomainError::new(
                UserErrorCode::DuplicateEntry,
                "that address cannot be used for your User ID any more",
            )
            .at(["input", "token"])
        })?;
    emails::enqueue(
        tx,
        NewEmail {
            email: Email::EmailChange {
                first_name: user.first_name.clone(),
                new_email: new_email.clone(),
                confirmed: true,
                change_id: 0,
            },
            idem_key: format!("email-change:user:{user_id}:changed:{}", secret::code(12)),
            contract_id: None,
            user_id: Some(user_id),
            recipient: user.email.clone(),
        },
    )
    .await?;
    audit::record(
        tx,
        None,
        &Actor::User(user_id),
        "user.email_changed",
        &serde_json::json!({ "user": user_id }),
    )
    .await?;
    Ok(Some((user_id, new_email)))
}
