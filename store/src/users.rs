//! User IDs: one identity per email across every contract (R2, R9, R21, R29).

use crate::{StoreResult, Tx, now_ms};
use roster_domain::{Email, Person};
use sqlx::{Any, AnyConnection, Executor};

/// A stored User ID.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub language: String,
    pub password_hash: Option<String>,
    pub subscriber_terms_at: Option<i64>,
    pub coordinator_terms_at: Option<i64>,
    pub first_sign_in_at: Option<i64>,
    pub reseller_id: Option<i64>,
    pub created_at: i64,
}

impl UserRow {
    /// Whether the user has set a password (activated the User ID).
    pub fn is_activated(&self) -> bool {
        self.password_hash.is_some()
    }
}

pub async fn by_id<'c, E: Executor<'c, Database = Any>>(
    db: E,
    id: i64,
) -> StoreResult<Option<UserRow>> {
    Ok(sqlx::query_as(
        "SELECT id, email, first_name, last_name, language, password_hash, subscriber_terms_at, \
         coordinator_terms_at, first_sign_in_at, reseller_id, created_at FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?)
}

pub async fn by_email<'c, E: Executor<'c, Database = Any>>(
    db: E,
    email: &Email,
) -> StoreResult<Option<UserRow>> {
    Ok(sqlx::query_as(
        "SELECT id, email, first_name, last_name, language, password_hash, subscriber_terms_at, \
         coordinator_terms_at, first_sign_in_at, reseller_id, created_at FROM users \
         WHERE lower(email) = $1",
    )
    .bind(email.as_str())
    .fetch_optional(db)
    .await?)
}

/// Links the User ID with this email, or creates it (R2, R9). Returns the user and whether it
/// was created. An existing user's name and language are theirs and are left as they are.
pub async fn find_or_create(
    conn: &mut AnyConnection,
    person: &Person,
) -> StoreResult<(UserRow, bool)> {
    if let Some(user) = by_email(&mut *conn, &person.email).await? {
        return Ok((user, false));
    }
    let inserted: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO users (email, first_name, last_name, language, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(person.email.as_str())
    .bind(&person.first_name)
    .bind(&person.last_name)
    .bind(person.language.as_str())
    .bind(now_ms())
    .fetch_optional(&mut *conn)
    .await?;
    let user = by_email(&mut *conn, &person.email)
        .await?
        .ok_or_else(|| crate::StoreError::Corrupt("user vanished after insert".into()))?;
    Ok((user, inserted.is_some()))
}

pub async fn set_password(tx: &mut Tx, user_id: i64, password_hash: &str) -> StoreResult<()> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records a sign-in: the first one is remembered, and every membership still PENDING becomes
/// ACTIVE (R21). Returns the contracts whose membership became ACTIVE.
pub async fn record_sign_in(tx: &mut Tx, user_id: i64) -> StoreResult<Vec<i64>> {
    let now = now_ms();
    sqlx::query(
        "UPDATE users SET first_sign_in_at = $1 WHERE id = $2 AND first_sign_in_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    let rows: Vec<(i64,)> = sqlx::query_as(
        "UPDATE memberships SET status = 'ACTIVE' WHERE user_id = $1 AND status = 'PENDING' \
         RETURNING contract_id",
    )
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|(c,)| c).collect())
}

/// Records that the user accepted the subscriber or coordinator terms (R5).
pub async fn accept_terms<'c, E: Executor<'c, Database = Any>>(
    db: E,
    user_id: i64,
    kind: roster_domain::TermsKind,
) -> StoreResult<()> {
    let q = match kind {
        roster_domain::TermsKind::Subscriber => {
            "UPDATE users SET subscriber_terms_at = $1 WHERE id = $2 AND subscriber_terms_at IS NULL"
        }
        roster_domain::TermsKind::Coordinator => {
            "UPDATE users SET coordinator_terms_at = $1 WHERE id = $2 AND coordinator_terms_at IS NULL"
        }
    };
    sqlx::query(q)
        .bind(now_ms())
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Updates name and language (R29); the email is the identity and does not change here.
pub async fn update_profile<'c, E: Executor<'c, Database = Any>>(
    db: E,
    user_id: i64,
    person: &Person,
) -> StoreResult<()> {
    sqlx::query("UPDATE users SET first_name = $1, last_name = $2, language = $3 WHERE id = $4")
        .bind(&person.first_name)
        .bind(&person.last_name)
        .bind(person.language.as_str())
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}
