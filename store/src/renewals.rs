//! The renewal pass (R20, R22), renewing by hand (R20) and new-release notices (R23).
//!
//! The pass is set-based: one statement per notice threshold owes every notice due, keyed by
//! contract, term and threshold, so it costs the same whether one contract or a million is
//! due, and running it twice (or on two workers at once) owes nothing new. End-of-term work
//! (auto-renewal, expiry) goes contract by contract, each guarded by its end date so two
//! passes cannot both apply it.

use crate::audit::{self, Actor};
use crate::change::Authorized;
use crate::contracts::{self, ContractRow};
use crate::emails::{self, NewEmail};
use crate::members;
use crate::{Store, StoreError, StoreResult, Tx, now_ms};
use chrono::{Days, NaiveDate};
use roster_domain::email::Email;
use roster_domain::rules::{self, NOTICE_THRESHOLDS};
use roster_domain::{BillingPeriod, ContractStatus, DomainError, RenewalKind, UserErrorCode};
use serde_json::json;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    pub notices: u64,
    pub renewed: u64,
    pub expired: u64,
}

/// Contracts handled per round of end-of-term work.
const BATCH: i64 = 500;

/// Runs one renewal pass as of `today`.
pub async fn run_pass(store: &Store, today: NaiveDate) -> StoreResult<PassReport> {
    let mut report = PassReport {
        notices: owe_notices(store, today).await?,
        ..PassReport::default()
    };
    loop {
        let due: Vec<ContractRow> = sqlx::query_as(concat!(
            "SELECT c.id, c.number, c.order_number, c.company_id, co.name AS company_name, \
             c.status, c.support_level, c.renewal_kind, c.billing_period, c.start_date, \
             c.end_date, c.reseller_id, c.cloud_credits, c.created_at \
             FROM contracts c JOIN companies co ON co.id = c.company_id ",
            "WHERE c.status = 'ACTIVE' AND c.end_date <= $1 ORDER BY c.id LIMIT $2"
        ))
        .bind(today.to_string())
        .bind(BATCH)
        .fetch_all(store.pool())
        .await?;
        if due.is_empty() {
            break;
        }
        for contract in due {
            if contract.renewal_kind == RenewalKind::Auto {
                if renew(store, &Actor::System, &contract, true)
                    .await?
                    .is_some()
                {
                    report.renewed += 1;
                }
            } else if expire(store, &contract).await? {
                report.expired += 1;
            }
        }
    }
    Ok(report)
}

/// Owes every renewal notice due on `today`: for each threshold, the contracts whose latest
/// threshold passed is that one (R20: late but never stale). The three thresholds cover
/// disjoint ranges of end dates, so their statements run at once on separate connections.
async fn owe_notices(store: &Store, today: NaiveDate) -> StoreResult<u64> {
    let now = now_ms();
    let mut sorted = NOTICE_THRESHOLDS;
    sorted.sort_unstable();
    // 4 covers days left 1..=4, 30 covers 5..=30, 45 covers 31..=45.
    let mut ranges = Vec::new();
    let mut lower = 0u64;
    for t in sorted {
        let from = today.checked_add_days(Days::new(lower)).unwrap_or(today);
        let to = today
            .checked_add_days(Days::new(u64::from(t)))
            .unwrap_or(today);
        debug_assert_eq!(rules::due_renewal_notice(today, to), Some(t));
        ranges.push((from, to, t));
        lower = u64::from(t);
    }
    let statements = ranges.into_iter().map(|(from, to, t)| async move {
        let (kind, before, after) = notice_around_term_end(t);
        let done = sqlx::query(
            "INSERT INTO emails (idem_key, kind, contract_id, user_id, recipient, params, created_at) \
             SELECT 'renewal-notice:contract:' || CAST(c.id AS TEXT) || ':term:' || c.end_date \
             || ':days:' || $3, $5, c.id, u.id, u.email, $6 || c.end_date || $7, $4 \
             FROM contracts c JOIN memberships m ON m.contract_id = c.id AND m.is_manager = 1 \
             JOIN users u ON u.id = m.user_id \
             WHERE c.status = 'ACTIVE' AND c.end_date > $1 AND c.end_date <= $2 \
             ON CONFLICT DO NOTHING",
        )
        .bind(from.to_string())
        .bind(to.to_string())
        .bind(t.to_string())
        .bind(now)
        .bind(kind)
        .bind(before)
        .bind(after)
        .execute(store.pool())
        .await?;
        Ok::<u64, StoreError>(done.rows_affected())
    });
    Ok(futures::future::try_join_all(statements)
        .await?
        .into_iter()
        .sum())
}

/// A Renewal Notice of `days` as one statement owes it to many contracts: its kind and its
/// params (the typed email's own serialisation) split where each contract's end date goes.
fn notice_around_term_end(days: u32) -> (&'static str, String, String) {
    let marker = NaiveDate::from_ymd_opt(1, 1, 1).expect("0001-01-01 is a date");
    let email = Email::RenewalNotice {
        days,
        term_end: marker,
    };
    let params = email.params().to_string();
    let (before, after) = params
        .split_once(&marker.to_string())
        .expect("the params hold the term end");
    (email.kind().as_str(), before.to_string(), after.to_string())
}

/// Extends the term by its billing period (R20 by hand, R22 automatically): ACTIVE again, seats
/// of an expired term restored, the CM owed a Renewal Confirmation. Returns the renewed
/// contract, or `None` when someone else renewed this term first.
pub async fn renew(
    store: &Store,
    actor: &Actor,
    contract: &ContractRow,
    automatic: bool,
) -> StoreResult<Option<ContractRow>> {
    let mut tx = store.begin().await?;
    members::lock_contract(&mut tx, contract.id).await?;
    let term = (*contract.end_date, contract.billing_period);
    if !renew_in(
        &mut tx,
        actor,
        contract.id,
        contract.status,
        term,
        automatic,
    )
    .await?
    {
        return Ok(None);
    }
    let row = contracts::by_id(&mut *tx, contract.id).await?;
    tx.commit().await?;
    Ok(row)
}

/// The renewal's writes in the caller's transaction, which holds the contract's lock. `false`
/// when the term ending on `term.0` was renewed meanwhile.
async fn renew_in(
    tx: &mut Tx,
    actor: &Actor,
    contract_id: i64,
    status: ContractStatus,
    term: (NaiveDate, BillingPeriod),
    automatic: bool,
) -> StoreResult<bool> {
    let (end, period) = term;
    let next = rules::next_term_end(end, period);
    let done = sqlx::query(
        "UPDATE contracts SET start_date = end_date, end_date = $1, status = 'ACTIVE' \
         WHERE id = $2 AND end_date = $3",
    )
    .bind(next.to_string())
    .bind(contract_id)
    .bind(end.to_string())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    let restored = restore_access(tx, contract_id).await?;
    let cm = contracts::manager(&mut **tx, contract_id).await?;
    let email = emails::enqueue(
        tx,
        NewEmail {
            email: Email::RenewalConfirmation {
                end_date: next,
                automatic,
            },
            idem_key: format!(
                "renewal-confirmation:contract:{}:term:{}",
                contract_id, next
            ),
            contract_id: Some(contract_id),
            user_id: Some(cm.id),
            recipient: cm.email.clone(),
        },
    )
    .await?;
    audit::record(
        tx,
        Some(contract_id),
        actor,
        "contract.renewed",
        &json!({
            "automatic": automatic,
            "endDate": { "before": end.to_string(), "after": next.to_string() },
            "status": { "before": status, "after": "ACTIVE" },
            "seatsRestored": restored,
            "emails": email.into_iter().collect::<Vec<_>>(),
        }),
    )
    .await?;
    Ok(true)
}

/// R22: a contract not renewed by its end date expires; its members lose product access, and
/// the seats are kept aside so a later renewal restores them.
async fn expire(store: &Store, contract: &ContractRow) -> StoreResult<bool> {
    let mut tx = store.begin().await?;
    members::lock_contract(&mut tx, contract.id).await?;
    let done = sqlx::query(
        "UPDATE contracts SET status = 'EXPIRED' WHERE id = $1 AND status = 'ACTIVE' AND end_date = $2",
    )
    .bind(contract.id)
    .bind(contract.end_date.to_string())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    let moved = sqlx::query(
        "INSERT INTO expired_access (contract_product_id, user_id, contract_id, granted_at, by_default) \
         SELECT contract_product_id, user_id, contract_id, granted_at, by_default FROM product_access \
         WHERE contract_id = $1 ON CONFLICT DO NOTHING",
    )
    .bind(contract.id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query("DELETE FROM product_access WHERE contract_id = $1")
        .bind(contract.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE contract_products SET seats_assigned = 0 WHERE contract_id = $1")
        .bind(contract.id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        Some(contract.id),
        &Actor::System,
        "contract.expired",
        &json!({ "status": { "before": "ACTIVE", "after": "EXPIRED" }, "endDate": contract.end_date, "seatsSuspended": moved }),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

async fn restore_access(tx: &mut Tx, contract_id: i64) -> StoreResult<u64> {
    let restored = sqlx::query(
        "INSERT INTO product_access (contract_product_id, user_id, contract_id, granted_at, by_default) \
         SELECT e.contract_product_id, e.user_id, e.contract_id, e.granted_at, e.by_default FROM expired_access e \
         JOIN memberships m ON m.contract_id = e.contract_id AND m.user_id = e.user_id \
         WHERE e.contract_id = $1 ON CONFLICT DO NOTHING",
    )
    .bind(contract_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    sqlx::query("DELETE FROM expired_access WHERE contract_id = $1")
        .bind(contract_id)
        .execute(&mut **tx)
        .await?;
    if restored > 0 {
        sqlx::query(
            "UPDATE contract_products SET seats_assigned = \
             (SELECT COUNT(*) FROM product_access pa WHERE pa.contract_product_id = contract_products.id) \
             WHERE contract_id = $1",
        )
        .bind(contract_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(restored)
}

/// R20: the CM renews from 90 days before the end date, in the transaction the policy's
/// decision holds.
pub async fn renew_by_hand(mut auth: Authorized, today: NaiveDate) -> StoreResult<ContractRow> {
    let c = auth.snapshot.contract.clone();
    if !rules::renewal_window_open(today, c.end_date) {
        let opens = c
            .end_date
            .checked_sub_days(Days::new(rules::RENEWAL_WINDOW_DAYS))
            .unwrap_or(c.end_date);
        return Err(DomainError::new(
            UserErrorCode::RenewalWindowNotOpen,
            format!("contract {} can be renewed from {opens}", c.number),
        )
        .at(["input", "contractId"])
        .into());
    }
    let term = (c.end_date, c.billing_period);
    renew_in(&mut auth.tx, &auth.actor, c.id, c.status, term, false).await?;
    let row = contracts::by_id(&mut *auth.tx, c.id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("renewed contract vanished".into()))?;
    auth.tx.commit().await?;
    Ok(row)
}

/// R23: staff publish a release; the effective SC of every active contract product of that
/// product is owed a New Release notice, once per contract product and release. Returns how
/// many notices were owed.
pub async fn publish_release(
    store: &Store,
    actor: &Actor,
    product_code: &str,
    version: &str,
) -> StoreResult<u64> {
    let product: Option<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM products WHERE upper(code) = upper($1)")
            .bind(product_code)
            .fetch_optional(store.pool())
            .await?;
    let Some((product_id, product_name)) = product else {
        return Err(DomainError::not_found("product")
            .at(["input", "productCode"])
            .into());
    };
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO releases (product_id, version, published_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(product_id)
    .bind(version)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    let (release_id,): (i64,) =
        sqlx::query_as("SELECT id FROM releases WHERE product_id = $1 AND version = $2")
            .bind(product_id)
            .bind(version)
            .fetch_one(&mut *tx)
            .await?;
    // One email, the same for every contract product: the SQL only addresses it.
    let email = Email::NewRelease {
        product_name,
        version: version.to_string(),
    };
    let owed = sqlx::query(
        "INSERT INTO emails (idem_key, kind, contract_id, user_id, recipient, params, created_at) \
         SELECT 'new-release:contract-product:' || CAST(cp.id AS TEXT) || ':release:' || CAST($2 AS TEXT), \
         $5, c.id, u.id, u.email, $3, $4 \
         FROM contract_products cp JOIN contracts c ON c.id = cp.contract_id \
         JOIN users u ON u.id = COALESCE(cp.coordinator_user_id, \
              (SELECT m.user_id FROM memberships m WHERE m.contract_id = c.id AND m.is_manager = 1)) \
         WHERE cp.product_id = $1 AND c.status = 'ACTIVE' ON CONFLICT DO NOTHING",
    )
    .bind(product_id)
    .bind(release_id)
    .bind(email.params().to_string())
    .bind(now_ms())
    .bind(email.kind().as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    audit::record(
        &mut tx,
        None,
        actor,
        "release.published",
        &json!({ "product": product_id, "version": version, "notices": owed }),
    )
    .await?;
    tx.commit().await?;
    Ok(owed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r20_a_notice_spliced_around_an_end_date_is_the_typed_email() {
        for days in NOTICE_THRESHOLDS {
            let (kind, before, after) = notice_around_term_end(days);
            // What the statement builds from `c.end_date`, the stored `YYYY-MM-DD`.
            let params = format!("{before}2027-03-31{after}");
            assert_eq!(
                Email::from_stored(kind, &params).unwrap(),
                Email::RenewalNotice {
                    days,
                    term_end: NaiveDate::from_ymd_opt(2027, 3, 31).unwrap(),
                }
            );
        }
    }
}
