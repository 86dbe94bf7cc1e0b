//! Cloud credits (R36) and phone support (R35): a contract's shared credit balance, the
//! purchases that add to it (idempotent by order number), the usage the vendor's cloud
//! reports, and the Express Service ID of an ADVANCED contract.
//!
//! The balance is `contracts.cloud_credits`; its `CHECK (cloud_credits >= 0)` is the last line
//! against overdraft. Writes take the pipeline's [`Authorized`] proof (the contract is locked,
//! so concurrent usage records queue on it) and ask the rules in `roster_domain::support`.

use crate::audit;
use crate::change::Authorized;
use crate::error::ConstraintExt as _;
use crate::{StoreResult, Tx, now_ms, secret};
use roster_domain::support::{self, CreditPurchase};
use roster_domain::{DomainError, UserErrorCode};
use serde_json::json;
use sqlx::{Any, Executor};

/// A contract's credits: what is left and what was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credits {
    pub balance: i64,
    pub used: i64,
}

pub async fn credits<'c, E: Executor<'c, Database = Any>>(
    db: E,
    contract_id: i64,
) -> StoreResult<Credits> {
    let (balance, used): (i64, i64) = sqlx::query_as(
        "SELECT c.cloud_credits, \
         CAST(COALESCE((SELECT SUM(u.credits) FROM cloud_usage u WHERE u.contract_id = c.id), 0) AS BIGINT) \
         FROM contracts c WHERE c.id = $1",
    )
    .bind(contract_id)
    .fetch_one(db)
    .await?;
    Ok(Credits { balance, used })
}

async fn balance(tx: &mut Tx, contract_id: i64) -> StoreResult<i64> {
    let (b,): (i64,) = sqlx::query_as("SELECT cloud_credits FROM contracts WHERE id = $1")
        .bind(contract_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(b)
}

/// Staff add purchased credits (R36). The same order number again adds nothing.
pub async fn add_credits(
    auth: Authorized,
    order_number: &str,
    credits: i64,
) -> StoreResult<Credits> {
    let contract_id = auth.contract_id();
    let (mut tx, actor) = (auth.tx, auth.actor);
    let earlier: Option<(i64, i64)> = sqlx::query_as(
        "SELECT contract_id, credits FROM cloud_credit_purchases WHERE order_number = $1",
    )
    .bind(order_number)
    .fetch_optional(&mut *tx)
    .await?;
    if support::add_credits(contract_id, credits, earlier)? == CreditPurchase::Add {
        sqlx::query(
            "INSERT INTO cloud_credit_purchases (contract_id, order_number, credits, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(contract_id)
        .bind(order_number)
        .bind(credits)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .on_constraint("cloud_credit_purchases_order_key", || {
            DomainError::new(UserErrorCode::OrderConflict, "order processed concurrently")
                .at(["input", "orderNumber"])
        })?;
        sqlx::query("UPDATE contracts SET cloud_credits = cloud_credits + $1 WHERE id = $2")
            .bind(credits)
            .bind(contract_id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            Some(contract_id),
            &actor,
            "cloud_credits.added",
            &json!({ "orderNumber": order_number, "credits": credits }),
        )
        .await?;
    }
    let now = self::credits(&mut *tx, contract_id).await?;
    tx.commit().await?;
    Ok(now)
}

/// One usage record as reported.
#[derive(Debug, Clone)]
pub struct Usage<'a> {
    pub user_id: i64,
    pub service: &'a str,
    pub credits: i64,
    /// When the credits were spent (ms).
    pub at: i64,
}

/// Staff record usage the vendor's cloud reports (R36): only for a member holding that cloud
/// service, never below zero. The contract is locked (the [`Authorized`] proof), so two
/// records at once are judged one after the other.
pub async fn record_usage(auth: Authorized, usage: Usage<'_>) -> StoreResult<Credits> {
    let contract_id = auth.contract_id();
    let member = auth.snapshot.members.get(&usage.user_id).cloned();
    let (mut tx, actor) = (auth.tx, auth.actor);
    let left = balance(&mut tx, contract_id).await?;
    let (service, _) = support::record_usage(left, member.as_ref(), usage.service, usage.credits)?;
    sqlx::query(
        "INSERT INTO cloud_usage (contract_id, user_id, service, credits, used_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(contract_id)
    .bind(usage.user_id)
    .bind(&service)
    .bind(usage.credits)
    .bind(usage.at)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE contracts SET cloud_credits = cloud_credits - $1 WHERE id = $2")
        .bind(usage.credits)
        .bind(contract_id)
        .execute(&mut *tx)
        .await
        // PostgreSQL names the unnamed CHECK so; SQLite reports its expression.
        .on_constraint("contracts_cloud_credits_check", exhausted)
        .on_constraint("cloud_credits >= 0", exhausted)?;
    audit::record(
        &mut tx,
        Some(contract_id),
        &actor,
        "cloud_usage.recorded",
        &json!({ "user": usage.user_id, "service": service, "credits": usage.credits }),
    )
    .await?;
    let now = self::credits(&mut *tx, contract_id).await?;
    tx.commit().await?;
    Ok(now)
}

fn exhausted() -> DomainError {
    DomainError::new(
        UserErrorCode::CloudCreditsExhausted,
        "the contract has too few cloud credits left",
    )
    .at(["input", "credits"])
}

/// Credits used per key (a user's email or a service's name) in `[from, to)` (ms).
pub async fn usage_by<'c, E: Executor<'c, Database = Any>>(
    db: E,
    contract_id: i64,
    by_user: bool,
    only_user: Option<i64>,
    from: Option<i64>,
    to: Option<i64>,
) -> StoreResult<Vec<(String, i64)>> {
    let rows: Vec<(String, i64)> = if by_user {
        sqlx::query_as(
            "SELECT us.email, CAST(SUM(u.credits) AS BIGINT) FROM cloud_usage u JOIN users us ON us.id = u.user_id \
             WHERE u.contract_id = $1 AND ($2 IS NULL OR u.user_id = $2) \
             AND ($3 IS NULL OR u.used_at >= $3) AND ($4 IS NULL OR u.used_at < $4) \
             GROUP BY us.email ORDER BY us.email",
        )
    } else {
        sqlx::query_as(
            "SELECT u.service, CAST(SUM(u.credits) AS BIGINT) FROM cloud_usage u \
             WHERE u.contract_id = $1 AND ($2 IS NULL OR u.user_id = $2) \
             AND ($3 IS NULL OR u.used_at >= $3) AND ($4 IS NULL OR u.used_at < $4) \
             GROUP BY u.service ORDER BY u.service",
        )
    }
    .bind(contract_id)
    .bind(only_user)
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// One usage record, as the CSV export lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UsageRow {
    pub used_at: i64,
    pub email: String,
    pub service: String,
    pub credits: i64,
}

/// Every usage record of the contract in `[from, to)` (ms), oldest first.
pub async fn usage_rows<'c, E: Executor<'c, Database = Any>>(
    db: E,
    contract_id: i64,
    from: Option<i64>,
    to: Option<i64>,
) -> StoreResult<Vec<UsageRow>> {
    Ok(sqlx::query_as(
        "SELECT u.used_at, us.email, u.service, u.credits FROM cloud_usage u \
         JOIN users us ON us.id = u.user_id WHERE u.contract_id = $1 \
         AND ($2 IS NULL OR u.used_at >= $2) AND ($3 IS NULL OR u.used_at < $3) \
         ORDER BY u.used_at, u.id",
    )
    .bind(contract_id)
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await?)
}

/// R35: gives an ADVANCED contract its Express Service ID (at order time); nothing for BASIC.
pub async fn give_express_service_id(
    tx: &mut Tx,
    contract_id: i64,
    support: roster_domain::SupportLevel,
) -> StoreResult<()> {
    if !support::has_phone_support(support) {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO express_service_ids (contract_id, express_service_id) VALUES ($1, $2) \
         ON CONFLICT (contract_id) DO NOTHING",
    )
    .bind(contract_id)
    .bind(format!("ES-{}-{}", secret::digits(4), secret::code(6)))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The contract's Express Service ID, if it has one (R35).
pub async fn express_service_id<'c, E: Executor<'c, Database = Any>>(
    db: E,
    contract_id: i64,
) -> StoreResult<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT express_service_id FROM express_service_ids WHERE contract_id = $1")
            .bind(contract_id)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(id,)| id))
}
