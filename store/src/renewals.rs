//! The renewal pass (R20, R22), renewing by hand (R20) and new-release notices (R23).
//!
//! Whether and how a contract renews, expires or is told is decided by the pure rules of
//! `roster_domain::lifecycle`; this module loads their snapshot under the contract's lock and
//! writes their plans. The notice pass is set-based: one statement per notice threshold owes
//! every notice due (the rule's thresholds, mirrored in SQL and checked against it), keyed by
//! contract, term and threshold, so it costs the same whether one contract or a million is
//! due, and running it twice (or on two workers at once) owes nothing new. End-of-term work
//! (auto-renewal, expiry) goes contract by contract, each under the contract's lock with the
//! rule re-asked on what is locked, so two passes cannot both apply it.

use crate::audit::{self, Actor};
use crate::change::{self, Authorized};
use crate::contracts::{self, ContractRow};
use crate::emails::{self, NewEmail};
use crate::members;
use crate::{Backend, Store, StoreError, StoreResult, Tx, now_ms};
use chrono::{Days, NaiveDate};
use roster_domain::change::{Named, Snapshot};
use roster_domain::email::Email;
use roster_domain::email_kind::EmailKind;
use roster_domain::lifecycle::{self, EndOfTerm, Expiry, LifecycleEmail, Renewal, RenewedBy};
use roster_domain::rules::NOTICE_THRESHOLDS;
use roster_domain::{BillingPeriod, ContractStatus, DomainError, RenewalKind};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

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
    let mut after = 0i64;
    loop {
        let due: Vec<(i64,)> = sqlx::query_as(
            "SELECT id FROM contracts WHERE status = 'ACTIVE' AND end_date <= $1 AND id > $2 \
             ORDER BY id LIMIT $3",
        )
        .bind(today.to_string())
        .bind(after)
        .bind(BATCH)
        .fetch_all(store.pool())
        .await?;
        let Some((last,)) = due.last() else {
            break;
        };
        after = *last;
        for (id,) in due {
            match end_of_term(store, id, today).await? {
                Some(EndOfTerm::Renew(_)) => report.renewed += 1,
                Some(EndOfTerm::Expire(_)) => report.expired += 1,
                None => {}
            }
        }
    }
    Ok(report)
}

/// Owes every renewal notice due on `today`, as [`lifecycle::due_notice`] decides it, one
/// statement per threshold: the contracts whose latest threshold passed is that one (R20: late
/// but never stale). The 45/30/4 notices go to MANUAL and RESELLER contracts; an AUTO contract
/// of a year or more gets its one 30-day reminder; other AUTO contracts none. The ranges of end
/// dates are disjoint, so the statements run at once on separate connections.
async fn owe_notices(store: &Store, today: NaiveDate) -> StoreResult<u64> {
    let now = now_ms();
    let mut ranges = Vec::new();
    let mut lower = 0u64;
    let mut sorted = NOTICE_THRESHOLDS;
    sorted.sort_unstable();
    for t in sorted {
        let from = today.checked_add_days(Days::new(lower)).unwrap_or(today);
        let to = today
            .checked_add_days(Days::new(u64::from(t)))
            .unwrap_or(today);
        debug_assert_eq!(
            lifecycle::due_notice(
                ContractStatus::Active,
                RenewalKind::Manual,
                BillingPeriod::Annual,
                to,
                today
            ),
            Some(t)
        );
        ranges.push((from, to, t, false));
        lower = u64::from(t);
    }
    // AUTO, a year or more: one reminder, days left 1..=30.
    for t in lifecycle::notice_thresholds(RenewalKind::Auto, BillingPeriod::Annual) {
        let to = today
            .checked_add_days(Days::new(u64::from(*t)))
            .unwrap_or(today);
        ranges.push((today, to, *t, true));
    }
    let backend = store.backend();
    let statements = ranges.into_iter().map(|(from, to, t, auto)| async move {
        let [p0, p1, p2] = notice_params_around(t);
        let sql = match (backend, auto) {
            (Backend::Postgres, false) => NOTICES_PG,
            (Backend::Postgres, true) => AUTO_REMINDERS_PG,
            (Backend::Sqlite, false) => NOTICES_SQLITE,
            (Backend::Sqlite, true) => AUTO_REMINDERS_SQLITE,
        };
        let done = sqlx::query(sql)
            .bind(from.to_string())
            .bind(to.to_string())
            .bind(t.to_string())
            .bind(now)
            .bind(EmailKind::RenewalNotice.as_str())
            .bind(p0)
            .bind(p1)
            .bind(p2)
            .bind(today.to_string())
            .execute(store.pool())
            .await?;
        Ok::<u64, StoreError>(done.rows_affected())
    });
    Ok(futures::future::try_join_all(statements)
        .await?
        .into_iter()
        .sum())
}

/// The notice statements: the params are the typed email's serialisation spliced around each
/// contract's real days left on the pass's day and its end date (`$6 || days || $7 || end ||
/// $8`); the days left are a date difference, which each backend spells its own way.
macro_rules! notice_sql {
    ($days:literal, $which:literal) => {
        concat!(
            "INSERT INTO emails (idem_key, kind, contract_id, user_id, recipient, params, created_at) \
             SELECT 'renewal-notice:contract:' || CAST(c.id AS TEXT) || ':term:' || c.end_date \
             || ':days:' || $3, $5, c.id, u.id, u.email, $6 || ",
            $days,
            " || $7 || c.end_date || $8, $4 \
             FROM contracts c JOIN memberships m ON m.contract_id = c.id AND m.is_manager = 1 \
             JOIN users u ON u.id = m.user_id \
             WHERE c.status = 'ACTIVE' AND c.end_date > $1 AND c.end_date <= $2 AND ",
            $which,
            " ON CONFLICT DO NOTHING"
        )
    };
}
const NOTICES_PG: &str = notice_sql!(
    "CAST(CAST(c.end_date AS DATE) - CAST($9 AS DATE) AS TEXT)",
    "c.renewal_kind <> 'AUTO'"
);
const AUTO_REMINDERS_PG: &str = notice_sql!(
    "CAST(CAST(c.end_date AS DATE) - CAST($9 AS DATE) AS TEXT)",
    "c.renewal_kind = 'AUTO' AND c.billing_period IN ('ANNUAL', 'MULTI_YEAR')"
);
const NOTICES_SQLITE: &str = notice_sql!(
    "CAST(CAST(julianday(c.end_date) - julianday($9) AS INTEGER) AS TEXT)",
    "c.renewal_kind <> 'AUTO'"
);
const AUTO_REMINDERS_SQLITE: &str = notice_sql!(
    "CAST(CAST(julianday(c.end_date) - julianday($9) AS INTEGER) AS TEXT)",
    "c.renewal_kind = 'AUTO' AND c.billing_period IN ('ANNUAL', 'MULTI_YEAR')"
);

/// A Renewal Notice of threshold `days` as one statement owes it to many contracts: the
/// typed email's own serialisation, split where each contract's days left and end date go (in
/// that order: serde_json writes keys sorted, `daysLeft` before `termEnd`; the unit test below
/// fails if that ever changes).
fn notice_params_around(days: u32) -> [String; 3] {
    const LEFT_MARKER: i64 = 987_654_321;
    let end_marker = NaiveDate::from_ymd_opt(1, 1, 1).expect("0001-01-01 is a date");
    let email = Email::RenewalNotice {
        days,
        term_end: end_marker,
        days_left: Some(LEFT_MARKER),
    };
    let params = email.params().to_string();
    let (p0, rest) = params
        .split_once(&LEFT_MARKER.to_string())
        .expect("the params hold the days left");
    let (p1, p2) = rest
        .split_once(&end_marker.to_string())
        .expect("the params hold the term end, after the days left");
    [p0.to_string(), p1.to_string(), p2.to_string()]
}

/// The members who hold a seat, or held one when the contract expired, with those seats.
async fn holders(
    tx: &mut Tx,
    contract_id: i64,
) -> StoreResult<(Vec<i64>, BTreeMap<i64, BTreeSet<i64>>)> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT user_id, contract_product_id, 0 FROM product_access WHERE contract_id = $1 \
         UNION ALL SELECT user_id, contract_product_id, 1 FROM expired_access WHERE contract_id = $1",
    )
    .bind(contract_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut users: Vec<i64> = rows.iter().map(|(u, _, _)| *u).collect();
    users.sort_unstable();
    users.dedup();
    let mut suspended: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for (user, product, set_aside) in rows {
        if set_aside == 1 {
            suspended.entry(user).or_default().insert(product);
        }
    }
    Ok((users, suspended))
}

/// Locks the contract and loads its lifecycle snapshot: the contract, its products, and every
/// member who holds or held a seat (besides the CM and SCs). `None` when it does not exist.
async fn lifecycle_snapshot(
    store: &Store,
    tx: &mut Tx,
    contract_id: i64,
) -> StoreResult<Option<(Snapshot, BTreeMap<i64, BTreeSet<i64>>)>> {
    members::lock_contract(tx, contract_id).await?;
    let (users, suspended) = holders(tx, contract_id).await?;
    let named = Named {
        emails: vec![],
        users,
    };
    Ok(change::load(store.backend(), tx, contract_id, &named)
        .await?
        .map(|snap| (snap, suspended)))
}

/// The end of one contract's term (R22), as [`lifecycle::end_of_term`] plans it, in one
/// transaction. `None` when nothing was due (another pass did it).
async fn end_of_term(
    store: &Store,
    contract_id: i64,
    today: NaiveDate,
) -> StoreResult<Option<EndOfTerm>> {
    let mut tx = store.begin().await?;
    let Some((snap, _)) = lifecycle_snapshot(store, &mut tx, contract_id).await? else {
        return Ok(None);
    };
    let Some(plan) = lifecycle::end_of_term(&snap, today) else {
        return Ok(None);
    };
    match &plan {
        EndOfTerm::Renew(r) => write_renewal(&mut tx, &Actor::System, &snap, r).await?,
        EndOfTerm::Expire(x) => write_expiry(&mut tx, &snap, x).await?,
    }
    tx.commit().await?;
    Ok(Some(plan))
}

/// Owes a plan's emails; returns their ids.
async fn owe(tx: &mut Tx, contract_id: i64, emails: &[LifecycleEmail]) -> StoreResult<Vec<i64>> {
    let mut ids = Vec::new();
    for e in emails {
        ids.extend(
            emails::enqueue(
                tx,
                NewEmail {
                    email: e.email.clone(),
                    idem_key: e.idem_key.clone(),
                    contract_id: Some(contract_id),
                    user_id: Some(e.user_id),
                    recipient: e.recipient.clone(),
                },
            )
            .await?,
        );
    }
    Ok(ids)
}

/// Writes a renewal's plan in the caller's transaction, which holds the contract's lock.
async fn write_renewal(
    tx: &mut Tx,
    actor: &Actor,
    snap: &Snapshot,
    r: &Renewal,
) -> StoreResult<()> {
    let c = &snap.contract;
    let done = sqlx::query(
        "UPDATE contracts SET start_date = $1, end_date = $2, status = 'ACTIVE' \
         WHERE id = $3 AND end_date = $4",
    )
    .bind(r.start.to_string())
    .bind(r.end.to_string())
    .bind(c.id)
    .bind(r.old_end.to_string())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Corrupt("a locked contract's term moved".into()));
    }
    let restored = if r.restores {
        restore_access(tx, c.id).await?
    } else {
        0
    };
    let emails = owe(tx, c.id, &r.emails).await?;
    audit::record(
        tx,
        Some(c.id),
        actor,
        "contract.renewed",
        &json!({
            "automatic": r.by == RenewedBy::Itself,
            "startDate": r.start.to_string(),
            "endDate": { "before": r.old_end.to_string(), "after": r.end.to_string() },
            "status": { "before": c.status, "after": "ACTIVE" },
            "seatsRestored": restored,
            "emails": emails,
        }),
    )
    .await?;
    Ok(())
}

/// R22: a contract not renewed by its end date expires; its members lose product access, and
/// the seats are kept aside so a later renewal restores them.
async fn write_expiry(tx: &mut Tx, snap: &Snapshot, x: &Expiry) -> StoreResult<()> {
    let c = &snap.contract;
    sqlx::query("UPDATE contracts SET status = 'EXPIRED' WHERE id = $1 AND status = 'ACTIVE'")
        .bind(c.id)
        .execute(&mut **tx)
        .await?;
    let moved = sqlx::query(
        "INSERT INTO expired_access (contract_product_id, user_id, contract_id, granted_at, by_default) \
         SELECT contract_product_id, user_id, contract_id, granted_at, by_default FROM product_access \
         WHERE contract_id = $1 ON CONFLICT DO NOTHING",
    )
    .bind(c.id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    sqlx::query("DELETE FROM product_access WHERE contract_id = $1")
        .bind(c.id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE contract_products SET seats_assigned = 0 WHERE contract_id = $1")
        .bind(c.id)
        .execute(&mut **tx)
        .await?;
    let emails = owe(tx, c.id, &x.emails).await?;
    audit::record(
        tx,
        Some(c.id),
        &Actor::System,
        "contract.expired",
        &json!({ "status": { "before": "ACTIVE", "after": "EXPIRED" }, "endDate": x.end_date, "seatsSuspended": moved, "emails": emails }),
    )
    .await?;
    Ok(())
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

/// R20, R20a: the CM renews, in the transaction the policy's decision holds; the rule
/// ([`lifecycle::renew`]) decides whether and until when.
pub async fn renew_by_hand(
    store: &Store,
    mut auth: Authorized,
    today: NaiveDate,
) -> StoreResult<ContractRow> {
    let id = auth.snapshot.contract.id;
    // The snapshot the policy saw, widened to everyone who holds or held a seat.
    let (users, suspended) = holders(&mut auth.tx, id).await?;
    let named = Named {
        emails: vec![],
        users,
    };
    let snap = change::load(store.backend(), &mut auth.tx, id, &named)
        .await?
        .ok_or_else(|| StoreError::Corrupt("a locked contract vanished".into()))?;
    let renewal = lifecycle::renew(&snap, &suspended, today, RenewedBy::Hand)?;
    write_renewal(&mut auth.tx, &auth.actor, &snap, &renewal).await?;
    let row = contracts::by_id(&mut *auth.tx, id)
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
    fn r20_a_notice_spliced_around_an_end_date_and_days_left_is_the_typed_email() {
        for days in NOTICE_THRESHOLDS {
            let [p0, p1, p2] = notice_params_around(days);
            // What the statement builds from the days left it computes and `c.end_date`, the
            // stored `YYYY-MM-DD`.
            let params = format!("{p0}35{p1}2027-03-31{p2}");
            assert_eq!(
                Email::from_stored(EmailKind::RenewalNotice.as_str(), &params).unwrap(),
                Email::RenewalNotice {
                    days,
                    term_end: NaiveDate::from_ymd_opt(2027, 3, 31).unwrap(),
                    days_left: Some(35),
                }
            );
        }
    }
}
