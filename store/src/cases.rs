//! Support cases (R17) and the Contract Manager change they carry (R15, R16).

use crate::audit::{self, Actor};
use crate::change::Authorized;
use crate::contracts;
use crate::emails::{self, NewEmail};
use crate::members;
use crate::users::{self, UserRow};
use crate::{StoreError, StoreResult, Tx, now_ms, secret};
use roster_domain::change::Benefit;
use roster_domain::email::{Email, StartedAs};
use roster_domain::support::{self, CaseAuthor, CaseFacts, ManagerChange};
use roster_domain::{CaseKind, CaseStatus, CaseTopic, DomainError, Person, Role, SupportLevel};
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
    /// R34.
    #[sqlx(try_from = "String")]
    pub topic: CaseTopic,
}

impl CaseRow {
    /// The case as the rules read it.
    pub fn facts(&self) -> CaseFacts {
        CaseFacts {
            case_id: self.case_id.clone(),
            kind: self.kind,
            status: self.status,
            submitter: self.submitter_user_id,
            proposed_manager: self.proposed_manager.clone(),
        }
    }
}

macro_rules! case_select {
    ($tail:literal) => {
        concat!(
            "SELECT s.id, s.case_id, s.contract_id, s.submitter_user_id, u.email AS submitter_email, \
             s.kind, s.subject, s.description, s.contract_product_id, s.status, s.proposed_manager, \
             s.created_at, s.updated_at, s.topic FROM support_cases s JOIN users u ON u.id = s.submitter_user_id ",
            $tail
        )
    };
}

/// A comment on a case.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommentRow {
    pub id: i64,
    /// `staff:<key>` or `user:<id>`.
    pub author: String,
    /// The author's User ID (email), when a user wrote it.
    pub author_email: Option<String>,
    pub body: String,
    pub created_at: i64,
}

/// What a new case says.
pub struct NewCase<'a> {
    pub kind: CaseKind,
    pub topic: CaseTopic,
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
         description, contract_product_id, proposed_manager, created_at, updated_at, topic) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) RETURNING id",
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
    .bind(case.topic.as_str())
    .fetch_one(&mut *tx)
    .await?;
    let mut owed = Vec::new();
    // R34: a request for a new Contract Manager also tells the current one.
    if let (Some(person), Some(cm)) = (
        case.proposed_manager,
        snapshot.members.values().find(|m| m.is_manager),
    ) {
        owed.push(
            emails::enqueue(
                &mut tx,
                NewEmail {
                    email: Email::ContractManagerChangeRequested {
                        case_id: case_id.clone(),
                        contract_number: contract.number.clone(),
                        company: contract.company.clone(),
                        first_name: cm.first_name.clone(),
                        proposed_name: format!("{} {}", person.first_name, person.last_name),
                        proposed_email: person.email.as_str().to_string(),
                        requested_by: format!("{} {}", submitter.first_name, submitter.last_name),
                    },
                    idem_key: format!("contract-manager-change-requested:case:{id}"),
                    contract_id: Some(contract.id),
                    user_id: Some(cm.user_id),
                    recipient: cm.email.clone(),
                },
            )
            .await?,
        );
    }
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
        &json!({ "caseId": case_id, "kind": case.kind, "topic": case.topic,
                 "emails": email.into_iter().chain(owed.into_iter().flatten()).collect::<Vec<_>>() }),
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
         s.created_at, s.updated_at, s.topic, COUNT(*) OVER () AS total \
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
        "SELECT c.id, c.author, u.email AS author_email, c.body, c.created_at \
         FROM case_comments c LEFT JOIN users u ON u.id = c.author_user_id \
         WHERE c.case_id = $1 ORDER BY c.id",
    )
    .bind(case_pk)
    .fetch_all(db)
    .await?)
}

async fn add_comment(tx: &mut Tx, case_pk: i64, actor: &Actor, body: &str) -> StoreResult<()> {
    let author_user = match actor {
        Actor::User(id) => Some(*id),
        _ => None,
    };
    sqlx::query(
        "INSERT INTO case_comments (case_id, author, body, created_at, author_user_id) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(case_pk)
    .bind(actor.label())
    .bind(body)
    .bind(now_ms())
    .bind(author_user)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The case `case_pk` of the authorized contract, read under its lock.
async fn locked_case(auth: &mut Authorized, case_pk: i64) -> StoreResult<CaseRow> {
    let contract_id = auth.contract_id();
    by_pk(&mut *auth.tx, case_pk)
        .await?
        .filter(|c| c.contract_id == contract_id)
        .ok_or_else(|| {
            DomainError::not_found("support case")
                .at(["input", "supportCaseId"])
                .into()
        })
}

/// A case update (R17, R34): staff change its status and comment, a user who may comment
/// comments. What the rule ([`support::update_case`]) says the submitter is owed, a Support
/// Case Updated email, is owed in the same transaction.
pub async fn update(
    mut auth: Authorized,
    case_pk: i64,
    by: CaseAuthor,
    status: Option<CaseStatus>,
    comment: Option<&str>,
) -> StoreResult<CaseRow> {
    let before = locked_case(&mut auth, case_pk).await?;
    let notice = support::update_case(&before.facts(), by, status, comment)?;
    let Authorized {
        mut tx,
        snapshot,
        actor,
        ..
    } = auth;
    let now = now_ms();
    if let Some(status) = status {
        sqlx::query("UPDATE support_cases SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(now)
            .bind(case_pk)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(body) = comment {
        add_comment(&mut tx, case_pk, &actor, body).await?;
        sqlx::query("UPDATE support_cases SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(case_pk)
            .execute(&mut *tx)
            .await?;
    }
    let mut owed = None;
    if let Some(notice) = notice {
        owed = tell_submitter(&mut tx, &snapshot.contract, &before, notice, now).await?;
    }
    audit::record(
        &mut tx,
        Some(before.contract_id),
        &actor,
        if by == CaseAuthor::Staff { "case.updated" } else { "case.commented" },
        &json!({ "caseId": before.case_id, "status": { "before": before.status, "after": status.unwrap_or(before.status) },
                 "commented": comment.is_some(), "emails": owed.into_iter().collect::<Vec<_>>() }),
    )
    .await?;
    let row = by_pk(&mut *tx, case_pk)
        .await?
        .ok_or_else(|| StoreError::Corrupt("case vanished".into()))?;
    tx.commit().await?;
    Ok(row)
}

/// Owes the submitter a Support Case Updated email (R34).
async fn tell_submitter(
    tx: &mut Tx,
    contract: &roster_domain::change::ContractFacts,
    case: &CaseRow,
    notice: support::CaseNotice,
    now: i64,
) -> StoreResult<Option<i64>> {
    let Some(submitter) = users::by_id(&mut **tx, case.submitter_user_id).await? else {
        return Ok(None);
    };
    emails::enqueue(
        tx,
        NewEmail {
            email: Email::SupportCaseUpdated {
                case_id: case.case_id.clone(),
                subject: case.subject.clone(),
                contract_number: contract.number.clone(),
                company: contract.company.clone(),
                first_name: submitter.first_name.clone(),
                status: notice.status,
                comment: notice.comment,
            },
            idem_key: format!(
                "support-case-updated:case:{}:{now}:{}",
                case.id,
                secret::code(8)
            ),
            contract_id: Some(contract.id),
            user_id: Some(submitter.id),
            recipient: submitter.email.clone(),
        },
    )
    .await
}

/// Staff approve or decline a Contract Manager change (R15, R16). On approval the role moves
/// in one step, the old CM stays as a user with the access they had, and both are owed a
/// Contract Manager Changed email. On an ADVANCED contract the Named Caller standing the CM
/// holds by role moves with it (R13): whichever of the two gains or loses a benefit is also
/// owed one Permissions Changed email listing what they now have (R12, R14).
pub async fn resolve_manager_change(
    mut auth: Authorized,
    case_pk: i64,
    approve: bool,
) -> StoreResult<CaseRow> {
    let case = locked_case(&mut auth, case_pk).await?;
    let step = support::resolve_manager_change(&case.facts(), &auth.snapshot.contract, approve)?;
    let Authorized {
        mut tx,
        snapshot,
        actor,
        ..
    } = auth;
    let actor = &actor;
    let contract = contracts::by_id(&mut *tx, case.contract_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("case without contract".into()))?;
    let now = now_ms();
    let person = match step {
        ManagerChange::Decline => {
            sqlx::query(
                "UPDATE support_cases SET status = 'CLOSED', updated_at = $1 WHERE id = $2",
            )
            .bind(now)
            .bind(case_pk)
            .execute(&mut *tx)
            .await?;
            let comment = "Contract Manager change declined.";
            add_comment(&mut tx, case_pk, actor, comment).await?;
            // R34: a status change and a staff comment tell the submitter.
            let notice = support::update_case(
                &case.facts(),
                CaseAuthor::Staff,
                Some(CaseStatus::Closed),
                Some(comment),
            )?;
            let mut owed = None;
            if let Some(notice) = notice {
                owed = tell_submitter(&mut tx, &snapshot.contract, &case, notice, now).await?;
            }
            audit::record(
                &mut tx,
                Some(contract.id),
                actor,
                "contract_manager.declined",
                &json!({ "caseId": case.case_id, "emails": owed.into_iter().collect::<Vec<_>>() }),
            )
            .await?;
            let row = by_pk(&mut *tx, case_pk)
                .await?
                .ok_or_else(|| StoreError::Corrupt("case vanished".into()))?;
            tx.commit().await?;
            return Ok(row);
        }
        ManagerChange::Approve(person) => person,
    };
    let old = contracts::manager(&mut *tx, contract.id).await?;
    let (new, _) = users::find_or_create(&mut tx, &person).await?;
    support::new_manager_differs(old.id, new.id)?;
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
        .bind(now)
        .bind(case_pk)
        .execute(&mut *tx)
        .await?;
    let comment = "Contract Manager change approved.";
    add_comment(&mut tx, case_pk, actor, comment).await?;
    let mut caused = Vec::new();
    // R34: the submitter is told the case was resolved.
    if let Some(notice) = support::update_case(
        &case.facts(),
        CaseAuthor::Staff,
        Some(CaseStatus::Resolved),
        Some(comment),
    )? {
        caused.push(tell_submitter(&mut tx, &snapshot.contract, &case, notice, now).await?);
    }
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
                        reason: roster_domain::email::PermissionsReason::Change,
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
                        benefits: Vec::new(),
                        admin: None,
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
