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

/// Which entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// `user:<id>`, `staff:<id>` or `system`.
    pub actor: Option<String>,
    /// e.g. `access.changed`.
    pub kind: Option<String>,
    /// From this time (ms), inclusive.
    pub from: Option<i64>,
    /// Up to this time (ms), exclusive.
    pub to: Option<i64>,
}

/// Entries of a contract matching `filter`, newest first, after the cursor `before_id`, and
/// how many match in all.
pub async fn for_contract<'c, E: Executor<'c, Database = Any>>(
    db: E,
    contract_id: i64,
    filter: &AuditFilter,
    before_id: i64,
    limit: i64,
) -> StoreResult<(Vec<AuditRow>, i64)> {
    let rows: Vec<AuditPageRow> = sqlx::query_as(
        "SELECT id, contract_id, actor, kind, detail, at, total FROM ( \
         SELECT id, contract_id, actor, kind, detail, at, COUNT(*) OVER () AS total FROM audit_log \
         WHERE contract_id = $1 AND ($2 IS NULL OR actor = $2) AND ($3 IS NULL OR kind = $3) \
         AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at < $5)) matching \
         WHERE id < $6 ORDER BY id DESC LIMIT $7",
    )
    .bind(contract_id)
    .bind(filter.actor.clone())
    .bind(filter.kind.clone())
    .bind(filter.from)
    .bind(filter.to)
    .bind(before_id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    Ok((rows.into_iter().map(|r| r.row).collect(), total))
}

#[derive(sqlx::FromRow)]
struct AuditPageRow {
    #[sqlx(flatten)]
    row: AuditRow,
    total: i64,
}
