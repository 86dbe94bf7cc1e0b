//! The audit log (R25): who changed what on a contract, and when.

use crate::{StoreResult, Tx, now_ms};
use sqlx::{Any, Executor};

/// Who made a change, as the audit log names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Staff(i64),
    User(i64),
    System,
}

impl Actor {
    pub fn label(&self) -> String {
        match self {
            Actor::Staff(id) => format!("staff:{id}"),
            Actor::User(id) => format!("user:{id}"),
            Actor::System => "system".to_string(),
        }
    }
}

/// Records one change in the transaction that makes it.
pub async fn record(
    tx: &mut Tx,
    contract_id: Option<i64>,
    actor: &Actor,
    kind: &str,
    detail: &serde_json::Value,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (contract_id, actor, kind, detail, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(contract_id)
    .bind(actor.label())
    .bind(kind)
    .bind(detail.to_string())
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A stored audit entry.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub contract_id: Option<i64>,
    pub actor: String,
    pub kind: String,
    pub detail: String,
    pub at: i64,
}

/// Entries of a contract, newest first, after the cursor `before_id`.
pub async fn for_contract<'c, E: Executor<'c, Database = Any>>(
    db: E,
    contract_id: i64,
    before_id: i64,
    limit: i64,
) -> StoreResult<Vec<AuditRow>> {
    Ok(sqlx::query_as(
        "SELECT id, contract_id, actor, kind, detail, at FROM audit_log \
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
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE contract_id = $1")
        .bind(contract_id)
        .fetch_one(db)
        .await?;
    Ok(n)
}
