//! Companies as their Contract Managers read them (R30): a company is the vendor's customer
//! account; the CM of any of its contracts reads all of them.

use crate::contracts::ContractRow;
use crate::{StoreResult, flag};
use sqlx::AnyPool;

/// A company.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CompanyRow {
    pub id: i64,
    pub name: String,
}

/// The companies where `user_id` is the Contract Manager of at least one contract, by id.
pub async fn managed_by(db: &AnyPool, user_id: i64) -> StoreResult<Vec<CompanyRow>> {
    Ok(sqlx::query_as(
        "SELECT co.id, co.name FROM companies co WHERE co.id IN \
         (SELECT c.company_id FROM contracts c JOIN memberships m ON m.contract_id = c.id \
          WHERE m.user_id = $1 AND m.is_manager = 1) ORDER BY co.id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?)
}

/// Whether `user_id` is the Contract Manager of a contract of `company_id`.
pub async fn is_manager_in(db: &AnyPool, user_id: i64, company_id: i64) -> StoreResult<bool> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM contracts c JOIN memberships m ON m.contract_id = c.id \
         WHERE m.user_id = $1 AND m.is_manager = 1 AND c.company_id = $2",
    )
    .bind(user_id)
    .bind(company_id)
    .fetch_one(db)
    .await?;
    Ok(flag(n.min(1)))
}

/// The contracts of a company, by id, after the cursor `after_id`, with how many it has.
pub async fn contracts(
    db: &AnyPool,
    company_id: i64,
    after_id: i64,
    limit: i64,
) -> StoreResult<(Vec<ContractRow>, i64)> {
    let rows: Vec<ContractRow> = sqlx::query_as(
        "SELECT c.id, c.number, c.order_number, c.company_id, co.name AS company_name, \
         c.status, c.support_level, c.renewal_kind, c.billing_period, c.start_date, \
         c.end_date, c.reseller_id, c.cloud_credits, c.created_at \
         FROM contracts c JOIN companies co ON co.id = c.company_id \
         WHERE c.company_id = $1 AND c.id > $2 ORDER BY c.id LIMIT $3",
    )
    .bind(company_id)
    .bind(after_id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM contracts WHERE company_id = $1")
        .bind(company_id)
        .fetch_one(db)
        .await?;
    Ok((rows, total))
}
