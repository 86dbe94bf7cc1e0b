//! Support cases (R17) and the Contract Manager change they carry (R15, R16).

use crate::audit::{self, Actor};
use crate::change::Authorized;
use crate::contracts;
use crate::emails::{self, NewEmail};
use crate::members;
use crate::users::{self, UserRow};
use crate::{Store, StoreError, StoreResult, Tx, now_ms, secret};
use roster_domain::change::Benefit;
use roster_domain::email::{Email, StartedAs};
use roster_domain::{
    CaseKind, CaseStatus, DomainError, Person, RenewalKind, Role, SupportLevel, UserErrorCode,
};
use serde_json::json;
use sqlx::{Any, Executor};
use std::collections::BTreeMap;

/// A stored case with its submitter's email.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaseRow {
    pub id: i64,
    pub case_id: String,
    pub contract_id: i64,
    pub submitter_user_id: i64,
    pub submitter_email: String,
    #[sqlx(try_from = "String")]
    pub kind: CaseKind,
    pub subject: String,
    pub description: String,
    pub contract_product_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub status: CaseStatus,
    pub proposed_manager: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! case_select {
    ($tail:literal) => {
        concat!(
            "SELECT s.id, s.case_id, s.contract_id, s.submitter_user_id, u.email AS submitter_email, \
             s.kind, s.subject, s.description, s.contract_product_id, s.status, s.proposed_manager, \
             s.created_at, s.updated_at FROM support_cases s JOIN users u ON u.id = s.submitter_user_id ",
            $tail
        )
    };
}

/// A comment on a case.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommentRow {
    pub id: i64,
    pub author: String,
    pub body: String,
    pub created_at: i64,
}

/// What a new case says.
pub struct NewCase<'a> {
    pub kind: CaseKind,
    pub subject: &'a str,
    pub description: &'a str,
    pub contract_product_id: Option<i64>,
    pub proposed_manager: Option<&'a Person>,
}

/// Opens a case: it gets its case ID at once and the submitter is owed a Support Case
/// Received email carrying it (R17).
pub async fn open(
    auth: Authorized,
    submitter: &UserRow,
    case: NewCase<'_>,
) -> StoreResult<CaseRow> {
    let Authorized {
        mut tx,
        snapshot,
        actor,
        ..
    } = auth;
    let contract = &snapshot.contract;
    let actor = &actor;
    let now = now_ms();
    let case_id = format!("RC-{}-{}", secret::code(4), secret::code(4));
    let proposed = case.proposed_manager.map(|p| {
        json!({ "email": p.email.as_str(), "firstName": p.first_name, "lastName": p.last_name, "language": p.language.as_str() })
            .to_string()
    });
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO support_cases (case_id, contract_id, submitter_user_id, kind, subject, \
         description, contract_product_id, proposed_manager, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
    )
    .bind(&case_id)
    .bind(contract.id)
    .bind(submitter.id)
    .bind(case.kind.as_str())
    .bind(case.subject)
    .bind(case.description)
    .bind(case.contract_product_id)
    .bind(proposed)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let email = emails::enqueue(
        &mut tx,
        NewEmail {
            email: Email::SupportCaseReceived {
                case_id: case_id.clone(),
                subject: case.subject.to_string(),
                contract_number: contract.number.clone(),
                company: contract.company.clone(),
                first_name: submitter.first_name.clone(),
            },
            idem_key: format!("support-case-received:case:{id}"),
            contract_id: Some(contract.id),
            user_id: Some(submitter.id),
            recipient: submitter.email.clone(),
        },
    )
    .await?;
    audit::record(
        &mut tx,
        Some(contract.id),
        actor,
        "case.opened",
        &json!({ "caseId": case_id, "kind": case.kind, "emails": email.into_iter().collect::<Vec<_>>() }),
    )
    .await?;
    let row = by_pk(&mut *tx, id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("case vanished".into()))?;
    tx.commit().await?;
    Ok(row)
}

pub async fn by_pk<'c, E: Executor<'c, Database = Any>>(
    db: E,
    id: i64,
) -> StoreResult<Option<CaseRow>> {
    Ok(sqlx::query_as(case_select!("WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?)
}

pub async fn by_case_id<'c, E: Executor<'c, Database = Any>>(
    db: E,
    case_id: &str,
) -> StoreResult<Option<CaseRow>> {
    Ok(sqlx::query_as(case_select!("WHERE s.case_id = $1"))
        .bind(case_id)
        .fetch_optional(db)
        .await?)
}

/// How to search a contract's cases (R17).
#[derive(Debug, Clone, Default)]
pub struct CaseSearch {
    /// Submitted on or after (ms).
    pub from: Option<i64>,
    /// Submitted before (ms).
    pub to: Option<i64>,
    /// In subject or description, case-insensitively.
    pub keyword: Option<String>,
    pub case_id: Option<String>,
    /// Only cases this user submitted.
    pub submitter: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct CasePageRow {
    #[sqlx(flatten)]
    case: CaseRow,
    total: i64,
}

/// One page of a contract's cases matching `search`, newest first, and the total (the same
/// on every page: a page past the end counts again rather than answering 0).
pub async fn search(
    pool: &sqlx::AnyPool,
    contract_id: i64,
    search: &CaseSearch,
    offset: i64,
    limit: i64,
) -> StoreResult<(Vec<CaseRow>, i64)> {
    let rows = search_page(pool, contract_id, search, offset.max(0), limit).await?;
    let total = match rows.first() {
        Some(r) => r.total,
        None if offset > 0 => search_page(pool, contract_id, search, 0, 1)
            .await?
            .first()
            .map_or(0, |r| r.total),
        None => 0,
    };
    Ok((rows.into_iter().map(|r| r.case).collect(), total))
}

async fn search_page(
    db: &sqlx::AnyPool,
    contract_id: i64,
    search: &CaseSearch,
    offset: i64,
    limit: i64,
) -> StoreResult<Vec<CasePageRow>> {
    let keyword = search.keyword.as_ref().map(|k| {
        let escaped = k
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let rows: Vec<CasePageRow> = sqlx::query_as(
        "SELECT s.id, s.case_id, s.contract_id, s.submitter_user_id, u.email AS submitter_email, \
         s.kind, s.subject, s.description, s.contract_product_id, s.status, s.proposed_manager, \
         s.created_at, s.updated_at, COUNT(*) OVER () AS total \
         FROM support_cases s JOIN users u ON u.id = s.submitter_user_id \
         WHERE s.contract_id = $1 \
         AND ($2 IS NULL OR s.created_at >= $2) \
         AND ($3 IS NULL OR s.created_at < $3) \
         AND ($4 IS NULL OR lower(s.subject) LIKE $4 ESCAPE '\\' OR lower(s.description) LIKE $4 ESCAPE '\\') \
         AND ($5 IS NULL OR upper(s.case_id) = upper($5)) \
         AND ($6 IS NULL OR s.submitter_user_id = $6) \
         ORDER BY s.created_at DESC, s.id DESC LIMIT $7 OFFSET $8",
    )
    .bind(contract_id)
    .bind(search.from)
    .bind(search.to)
    .bind(keyword)
    .bind(search.case_id.clone())
    .bind(search.submitter)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await?;
    Ok(rows)
}

pub async fn comments<'c, E: Executor<'c, Database = Any>>(
    db: E,
    case_pk: i64,
) -> StoreResult<Vec<CommentRow>> {
    Ok(sqlx::query_as(
        "SELECT id, author, body, created_at FROM case_comments WHERE case_id = $1 ORDER BY id",
    )
    .bind(case_pk)
    .fetch_all(db)
    .await?)
}

async fn add_comment(tx: &mut Tx, case_pk: i64, actor: &Actor, body: &str) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO case_comments (case_id, author, body, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(case_pk)
    .bind(actor.label())
    .bind(body)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Staff change a case's status and add a comment (R17).
pub async fn update(
    store: &Store,
    actor: &Actor,
    case_pk: i64,
    status: Option<CaseStatus>,
    comment: Option<&str>,
) -> StoreResult<CaseRow> {
    let mut tx = store.begin().await?;
    let before = by_pk(&mut *tx, case_pk)
        .await?
        .ok_or_else(|| DomainError::not_found("support case"))?;
    if let Some(status) = status {
        sqlx::query("UPDATE support_cases SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(now_ms())
            .bind(case_pk)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(body) = comment {
        add_comment(&mut tx, case_pk, actor, body).await?;
        sqlx::query("UPDATE support_cases SET updated_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(case_pk)
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut tx,
        Some(before.contract_id),
        actor,
        "case.updated",
        &json!({ "caseId": before.case_id, "status": { "before": before.status, "after": status.unwrap_or(before.status) }, "commented": comment.is_some() }),
    )
    .await?;
    let row = by_pk(&mut *tx, case_pk)
        .await?
        .ok_or_else(|| StoreError::Corrupt("case vanished".into()))?;
    tx.commit().await?;
    Ok(row)
}

/// Staff approve or decline a Contract Manager change (R15, R16). On approval the role moves
/// in one step, the old CM stays as a user with the access they had, and both are owed a
/// Contract Manager Changed email. On an ADVANCED contract the Named Caller standing the CM
/// holds by role moves with it (R13): whichever of the two gains or loses a benefit is also
/// owed one Permissions Changed email listing what they now have (R12, R14).
pub async fn resolve_manager_change(
    store: &Store,
    actor: &Actor,
    case_pk: i64,
    approve: bool,
) -> StoreResult<CaseRow> {
    let mut tx = store.begin().await?;
    let case = by_pk(&mut *tx, case_pk)
        .await?
        .ok_or_else(|| DomainError::not_found("support case"))?;
    members::lock_contract(&mut tx, case.contract_id).await?;
    let case = by_pk(&mut *tx, case_pk)
        .await?
        .ok_or_else(|| DomainError::not_found("support case"))?;
    if case.kind != CaseKind::ChangeContractManager {
        return Err(DomainError::new(
            UserErrorCode::InvalidInput,
            "this case is not a Contract Manager change",
        )
        .at(["input", "supportCaseId"])
        .into());
    }
    if matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed) {
        return Err(DomainError::new(
            UserErrorCode::InvalidInput,
            format!("case {} is already {}", case.case_id, case.status),
        )
        .at(["input", "supportCaseId"])
        .into());
    }
    let contract = contracts::by_id(&mut *tx, case.contract_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("case without contract".into()))?;
    if !approve {
        sqlx::query("UPDATE support_cases SET status = 'CLOSED', updated_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(case_pk)
            .execute(&mut *tx)
            .await?;
        add_comment(&mut tx, case_pk, actor, "Contract Manager change declined.").await?;
        audit::record(
            &mut tx,
            Some(contract.id),
            actor,
            "contract_manager.declined",
            &json!({ "caseId": case.case_id }),
        )
        .await?;
        let row = by_pk(&mut *tx, case_pk)
            .await?
            .ok_or_else(|| StoreError::Corrupt("case vanished".into()))?;
        tx.commit().await?;
        return Ok(row);
    }
    if contract.renewal_kind == RenewalKind::Auto {
        return Err(auto_renew_refusal().into());
    }
    let proposed: serde_json::Value =
        serde_json::from_str(case.proposed_manager.as_deref().unwrap_or("null"))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let person = Person::parse(
        proposed["email"].as_str().unwrap_or_default(),
        proposed["firstName"].as_str().unwrap_or_default(),
        proposed["lastName"].as_str().unwrap_or_default(),
        proposed["language"].as_str(),
    )?;
    let old = contracts::manager(&mut *tx, contract.id).await?;
    let (new, _) = users::find_or_create(&mut tx, &person).await?;
    if new.id == old.id {
        return Err(DomainError::new(
            UserErrorCode::InvalidInput,
            "that person is already the Contract Manager",
        )
        .at(["input", "supportCaseId"])
        .into());
    }
    // R14: what each of the two has before the change (the CM is a Named Caller by role on
    // ADVANCED contracts, so the role moving moves that standing too).
    let support: SupportLevel = contract.support_level;
    let names: BTreeMap<i64, String> = contracts::products(&mut *tx, contract.id)
        .await?
        .into_iter()
        .map(|p| (p.id, p.product_name))
        .collect();
    let mut before = Vec::new();
    for who in [&old, &new] {
        before.push(benefits_of(&mut tx, contract.id, who.id, support, &names).await?);
    }
    let newly_named = members::add(&mut tx, contract.id, new.id).await?;
    // One step: the partial unique index allows at most one CM, the transaction at least one.
    sqlx::query("UPDATE memberships SET is_manager = 0 WHERE contract_id = $1 AND user_id = $2")
        .bind(contract.id)
        .bind(old.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE memberships SET is_manager = 1 WHERE contract_id = $1 AND user_id = $2")
        .bind(contract.id)
        .bind(new.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE support_cases SET status = 'RESOLVED', updated_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(case_pk)
        .execute(&mut *tx)
        .await?;
    add_comment(&mut tx, case_pk, actor, "Contract Manager change approved.").await?;
    let mut caused = Vec::new();
    let told = |to: &UserRow| Email::ContractManagerChanged {
        contract_number: contract.number.clone(),
        company: contract.company_name.clone(),
        first_name: to.first_name.clone(),
        new_manager_name: format!("{} {}", new.first_name, new.last_name),
        new_manager_email: new.email.clone(),
        previous_manager_name: format!("{} {}", old.first_name, old.last_name),
    };
    for to in [&old, &new] {
        caused.push(
            emails::enqueue(
                &mut tx,
                NewEmail {
                    email: told(to),
                    idem_key: format!("contract-manager-changed:case:{case_pk}:user:{}", to.id),
                    contract_id: Some(contract.id),
                    user_id: Some(to.id),
                    recipient: to.email.clone(),
                },
            )
            .await?,
        );
    }
    // R12, R14: whoever's benefits (Named Caller standing) changed is told what they now have,
    // once for this case.
    let mut permissions_changed = Vec::new();
    for (to, had) in [&old, &new].into_iter().zip(before) {
        let has = benefits_of(&mut tx, contract.id, to.id, support, &names).await?;
        if has == had {
            continue;
        }
        let labels = |benefits: &[Benefit]| benefits.iter().map(Benefit::label).collect::<Vec<_>>();
        permissions_changed.push(json!({
            "user": to.id,
            "benefits": { "before": labels(&had), "after": labels(&has) },
        }));
        caused.push(
            emails::enqueue(
                &mut tx,
                NewEmail {
                    email: Email::PermissionsChanged {
                        contract_number: contract.number.clone(),
                        company: contract.company_name.clone(),
                        first_name: to.first_name.clone(),
                        benefits: has,
                        removed: false,
                    },
                    idem_key: format!(
                        "permissions-changed:contract:{}:user:{}:case:{case_pk}",
                        contract.id, to.id
                    ),
                    contract_id: Some(contract.id),
                    user_id: Some(to.id),
                    recipient: to.email.clone(),
                },
            )
            .await?,
        );
    }
    if newly_named {
        caused.push(
            emails::enqueue(
                &mut tx,
                NewEmail {
                    email: Email::GetStarted {
                        contract_number: Some(contract.number.clone()),
                        company: contract.company_name.clone(),
                        first_name: new.first_name.clone(),
                        role: StartedAs::Member(Role::ContractManager),
                        products: Vec::new(),
                    },
                    idem_key: format!(
                        "get-started:contract:{}:user:{}:case:{case_pk}",
                        contract.id, new.id
                    ),
                    contract_id: Some(contract.id),
                    user_id: Some(new.id),
                    recipient: new.email.clone(),
                },
            )
            .await?,
        );
    }
    audit::record(
        &mut tx,
        Some(contract.id),
        actor,
        "contract_manager.changed",
        &json!({
            "caseId": case.case_id,
            "contractManager": { "before": old.id, "after": new.id },
            "permissionsChanged": permissions_changed,
            "emails": caused.into_iter().flatten().collect::<Vec<_>>(),
        }),
    )
    .await?;
    let row = by_pk(&mut *tx, case_pk)
        .await?
        .ok_or_else(|| StoreError::Corrupt("case vanished".into()))?;
    tx.commit().await?;
    Ok(row)
}

/// What `user_id` has on the contract, as a Permissions Changed email lists it (nothing when
/// they are not a member).
async fn benefits_of(
    tx: &mut Tx,
    contract_id: i64,
    user_id: i64,
    support: SupportLevel,
    names: &BTreeMap<i64, String>,
) -> StoreResult<Vec<Benefit>> {
    Ok(members::get(tx, contract_id, user_id)
        .await?
        .map(|m| members::benefits(&m, support, names))
        .unwrap_or_default())
}

/// R15: an AUTO contract's manager cannot change; it must lapse and a new one be bought.
pub fn auto_renew_refusal() -> DomainError {
    DomainError::new(
        UserErrorCode::AutoRenewContract,
        "this contract renews automatically from the online store: its Contract Manager cannot change; \
         let it lapse and buy a new subscription",
    )
}
