//! The one path every change to a contract's people takes (STYLE.md, "One change, one path"):
//!
//! requester -> one transaction: lock the contract and load its [`Snapshot`] -> the policy
//! decides the command's action on that snapshot -> the pure rule
//! ([`roster_domain::change::plan`]) returns a plan or refusals -> the plan's writes, emails
//! and audit entries in the same transaction -> commit. The caller then runs the effects
//! (wake the relay, publish the event).
//!
//! Nothing here decides a rule: the store reads, writes, and maps a constraint to the code the
//! rule would have given.

use crate::audit::{self, Actor};
use crate::emails::{self, NewEmail};
use crate::error::ConstraintExt as _;
use crate::{Backend, Store, StoreError, Tx, flag, now_ms, secret};
use roster_domain::change::{
    Command, ContractFacts, MemberFacts, Named, Notice, Plan, ProductFacts, Snapshot, Step, Who,
};
use roster_domain::email::{Email, StartedAs};
use roster_domain::policy::{Action, Decision, Principal, decide};
use roster_domain::{DomainError, UserErrorCode};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// Who asks for a change, as the request's token resolved it.
#[derive(Debug, Clone)]
pub struct Requester {
    pub principal: Principal,
    /// The signed-in user's id and reseller, if any.
    pub user: Option<(i64, Option<i64>)>,
    pub actor: Actor,
}

/// Why a change did not happen.
#[derive(Debug)]
pub enum ChangeError {
    Unauthenticated,
    Forbidden,
    /// The contract does not exist, or the requester may not know that it does.
    NotFound,
    /// Rules refused the command; each refusal names its input field.
    Refused(Vec<DomainError>),
    Failed(StoreError),
}

impl From<StoreError> for ChangeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => ChangeError::Refused(vec![d]),
            other => ChangeError::Failed(other),
        }
    }
}

impl From<sqlx::Error> for ChangeError {
    fn from(e: sqlx::Error) -> Self {
        ChangeError::Failed(e.into())
    }
}

/// What a committed change did.
#[derive(Debug, Clone)]
pub struct Applied {
    pub contract_id: i64,
    /// The users the change concerns (added, changed), in the order the command named them.
    pub users: Vec<i64>,
    /// True when nothing was kept (a dry run).
    pub dry_run: bool,
}

/// Proof that the policy allowed an action on a contract: the transaction holding the
/// contract's lock, and the snapshot the decision was made on. Only [`authorize`] makes one,
/// so a store function that takes it cannot run without the policy having been asked.
#[non_exhaustive]
pub struct Authorized {
    pub tx: Tx,
    pub snapshot: Snapshot,
    pub actor: Actor,
}

impl Authorized {
    pub fn contract_id(&self) -> i64 {
        self.snapshot.contract.id
    }
}

/// Steps 1-3 of every change: the requester, the contract locked and loaded once (with the
/// User IDs `emails` name), and the policy's decision on `action`, judged on that snapshot.
pub async fn authorize(
    store: &Store,
    who: &Requester,
    contract_id: i64,
    mut named: Named,
    action: impl FnOnce(&Snapshot) -> Action,
) -> Result<Authorized, ChangeError> {
    if who.principal == Principal::Anonymous {
        return Err(ChangeError::Unauthenticated);
    }
    named.users.extend(who.user.map(|(id, _)| id));
    let mut tx = store.begin_change().await?;
    let Some(snapshot) = load(store.backend(), &mut tx, contract_id, &named).await? else {
        return Err(ChangeError::NotFound);
    };
    let standing = match who.user {
        Some((user, reseller)) => {
            let reads = match reseller {
                Some(r) if !snapshot.members.contains_key(&user) => {
                    let row: Option<(i64,)> = sqlx::query_as(
                        "SELECT can_view FROM reseller_case_access \
                         WHERE contract_id = $1 AND reseller_id = $2",
                    )
                    .bind(contract_id)
                    .bind(r)
                    .fetch_optional(&mut *tx)
                    .await?;
                    row.is_some_and(|(v,)| flag(v))
                }
                _ => false,
            };
            // R30: the CM of another contract of the company reads this one; a change here
            // is then FORBIDDEN rather than NOT_FOUND (they know it exists).
            let company = if snapshot.members.contains_key(&user) {
                false
            } else {
                let row: Option<(i64,)> = sqlx::query_as(
                    "SELECT m.contract_id FROM memberships m \
                     JOIN contracts c2 ON c2.id = m.contract_id \
                     JOIN contracts c ON c.company_id = c2.company_id \
                     WHERE c.id = $1 AND m.user_id = $2 AND m.is_manager = 1 LIMIT 1",
                )
                .bind(contract_id)
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
                row.is_some()
            };
            Some(snapshot.standing(user, reads).with_company(company))
        }
        None => None,
    };
    match decide(who.principal, standing.as_ref(), &action(&snapshot)) {
        Decision::Allow => Ok(Authorized {
            tx,
            snapshot,
            actor: who.actor.clone(),
        }),
        Decision::Unauthenticated => Err(ChangeError::Unauthenticated),
        Decision::NotFound => Err(ChangeError::NotFound),
        Decision::Forbidden => Err(ChangeError::Forbidden),
        Decision::TermsNotAccepted => Err(ChangeError::Refused(vec![DomainError::new(
            UserErrorCode::TermsNotAccepted,
            "accept the Software Coordinator terms (acceptTerms with kind COORDINATOR) first",
        )])),
    }
}

/// Runs `command` on contract `contract_id` for `who`: the whole path, in one transaction.
/// `input_errors` are problems found while reading the input; they are told only to a
/// requester the policy allowed, so a stranger learns nothing from them.
pub async fn run(
    store: &Store,
    who: &Requester,
    contract_id: i64,
    command: Command,
    input_errors: Vec<DomainError>,
    dry_run: bool,
) -> Result<Applied, ChangeError> {
    let mut auth = authorize(store, who, contract_id, command.named(), |snap| {
        command.action(snap)
    })
    .await?;
    if !input_errors.is_empty() {
        return Err(ChangeError::Refused(input_errors));
    }
    let plan =
        roster_domain::change::plan(&auth.snapshot, &command).map_err(ChangeError::Refused)?;
    if dry_run {
        auth.tx.rollback().await?;
        return Ok(Applied {
            contract_id,
            users: vec![],
            dry_run: true,
        });
    }
    let users = apply(&mut auth.tx, &auth.snapshot.contract, &plan, &auth.actor).await?;
    auth.tx.commit().await?;
    Ok(Applied {
        contract_id,
        users,
        dry_run: false,
    })
}

#[derive(sqlx::FromRow)]
struct ContractLine {
    id: i64,
    number: String,
    company_name: String,
    status: String,
    support_level: String,
    renewal_kind: String,
    billing_period: String,
    end_date: String,
}

#[derive(sqlx::FromRow)]
struct ProductLine {
    id: i64,
    name: String,
    seats: i64,
    seats_assigned: i64,
    coordinator_user_id: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct MemberLine {
    user_id: i64,
    email: String,
    first_name: String,
    last_name: String,
    language: String,
    status: String,
    is_manager: i64,
    designated_caller: i64,
    web_support: i64,
    cloud_services: String,
    terms: i64,
    products: String,
    member: i64,
}

/// A stored value no rule knows is corruption: logged by whoever handles it, never the
/// client's INVALID_INPUT.
fn typed<T: std::str::FromStr<Err = DomainError>>(what: &str, raw: &str) -> Result<T, StoreError> {
    raw.parse()
        .map_err(|_| StoreError::Corrupt(format!("unknown stored {what} {raw:?}")))
}

/// PostgreSQL runs this as a prepared statement, planned for the values given or, after a few
/// executions, generically. Written as a join of the contract's memberships to users it was
/// planned as a hash join over a sequential scan of every user (4 ms at 45,000 users, most of
/// a mutation's database time, and growing with the user table); here users are read by
/// primary key, row by row (`LATERAL ... OFFSET 0` keeps the planner from turning it back into
/// a join), and emails are looked up with `= ANY(ARRAY(...))`, which is answered from the
/// `lower(email)` index (`IN (SELECT ...)` hashed the whole table). `tests/tests/plans.rs`
/// holds both plans to no sequential scan of users.
pub const MEMBERS_PG: &str = "SELECT m.user_id, u.email, u.first_name, u.last_name, u.language, m.status, \
     m.is_manager, m.designated_caller, m.web_support, m.cloud_services, \
     CASE WHEN u.coordinator_terms_at IS NULL THEN CAST(0 AS BIGINT) ELSE CAST(1 AS BIGINT) END AS terms, \
     COALESCE((SELECT string_agg(CAST(pa.contract_product_id AS TEXT), ',') FROM product_access pa \
               WHERE pa.contract_id = m.contract_id AND pa.user_id = m.user_id), '') AS products, \
     CAST(1 AS BIGINT) AS member \
     FROM memberships m \
     CROSS JOIN LATERAL (SELECT u.email, u.first_name, u.last_name, u.language, \
                         u.coordinator_terms_at FROM users u WHERE u.id = m.user_id OFFSET 0) u \
     WHERE m.contract_id = $1 \
     AND (m.is_manager = 1 OR m.designated_caller = 1 \
          OR m.user_id IN (SELECT CAST(json_array_elements_text(CAST($3 AS json)) AS BIGINT)) \
          OR m.user_id IN (SELECT e.id FROM users e WHERE lower(e.email) \
                           = ANY(ARRAY(SELECT json_array_elements_text(CAST($2 AS json))))) \
          OR m.user_id IN (SELECT cp.coordinator_user_id FROM contract_products cp \
                           WHERE cp.contract_id = $1)) \
     UNION ALL SELECT u.id, u.email, u.first_name, u.last_name, u.language, 'PENDING', \
     0, 0, 0, '', CASE WHEN u.coordinator_terms_at IS NULL THEN 0 ELSE 1 END, '', 0 \
     FROM users u \
     WHERE lower(u.email) = ANY(ARRAY(SELECT json_array_elements_text(CAST($2 AS json)))) \
     AND NOT EXISTS (SELECT 1 FROM memberships m2 WHERE m2.contract_id = $1 AND m2.user_id = u.id)";

const MEMBERS_SQLITE: &str = "SELECT m.user_id, u.email, u.first_name, u.last_name, u.language, m.status, \
     m.is_manager, m.designated_caller, m.web_support, m.cloud_services, \
     CASE WHEN u.coordinator_terms_at IS NULL THEN 0 ELSE 1 END AS terms, \
     COALESCE((SELECT group_concat(pa.contract_product_id, ',') FROM product_access pa \
               WHERE pa.contract_id = m.contract_id AND pa.user_id = m.user_id), '') AS products, \
     1 AS member \
     FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.contract_id = $1 \
     AND (m.is_manager = 1 OR m.designated_caller = 1 \
          OR m.user_id IN (SELECT value FROM json_each($3)) \
          OR lower(u.email) IN (SELECT value FROM json_each($2)) \
          OR EXISTS (SELECT 1 FROM contract_products cp WHERE cp.contract_id = m.contract_id \
                     AND cp.coordinator_user_id = m.user_id)) \
     UNION ALL SELECT u.id, u.email, u.first_name, u.last_name, u.language, 'PENDING', \
     0, 0, 0, '', CASE WHEN u.coordinator_terms_at IS NULL THEN 0 ELSE 1 END, '', 0 \
     FROM users u WHERE lower(u.email) IN (SELECT value FROM json_each($2)) \
     AND NOT EXISTS (SELECT 1 FROM memberships m2 WHERE m2.contract_id = $1 AND m2.user_id = u.id)";

/// Locks the contract and loads what the rules read, in three statements: the contract (its
/// row lock taken by the same statement), its products, and the members the change concerns
/// with their seats (those `named` names by id or email, the CM, every SC and every designated
/// Named Caller, so the limits can be checked) together with the User IDs `named` names by
/// email. A contract's other members are not read: a change costs the same whatever its size.
pub async fn load(
    backend: Backend,
    tx: &mut Tx,
    contract_id: i64,
    named: &Named,
) -> Result<Option<Snapshot>, StoreError> {
    let line: Option<ContractLine> = sqlx::query_as(
        "UPDATE contracts SET id = id WHERE id = $1 RETURNING id, number, status, support_level, \
         renewal_kind, billing_period, end_date, (SELECT name FROM companies WHERE companies.id = contracts.company_id) \
         AS company_name",
    )
    .bind(contract_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(c) = line else {
        return Ok(None);
    };
    let contract = ContractFacts {
        id: c.id,
        number: c.number,
        company: c.company_name,
        status: typed("contract status", &c.status)?,
        support: typed("support level", &c.support_level)?,
        renewal: typed("renewal kind", &c.renewal_kind)?,
        billing_period: typed("billing period", &c.billing_period)?,
        end_date: roster_domain::parse_date("end_date", &c.end_date)
            .map_err(|_| StoreError::Corrupt(format!("bad end date {:?}", c.end_date)))?,
    };
    let products: Vec<ProductLine> = sqlx::query_as(
        "SELECT cp.id, p.name, cp.seats, cp.seats_assigned, cp.coordinator_user_id \
         FROM contract_products cp JOIN products p ON p.id = cp.product_id \
         WHERE cp.contract_id = $1 ORDER BY cp.id",
    )
    .bind(contract_id)
    .fetch_all(&mut **tx)
    .await?;
    let products = products
        .into_iter()
        .map(|p| {
            (
                p.id,
                ProductFacts {
                    id: p.id,
                    name: p.name,
                    seats: p.seats,
                    seats_assigned: p.seats_assigned,
                    coordinator: p.coordinator_user_id,
                },
            )
        })
        .collect();
    let sql = match backend {
        Backend::Postgres => MEMBERS_PG,
        Backend::Sqlite => MEMBERS_SQLITE,
    };
    let lowered: Vec<String> = named.emails.iter().map(|e| e.to_lowercase()).collect();
    let lines: Vec<MemberLine> = sqlx::query_as(sql)
        .bind(contract_id)
        .bind(serde_json::to_string(&lowered).unwrap_or_else(|_| "[]".into()))
        .bind(serde_json::to_string(&named.users).unwrap_or_else(|_| "[]".into()))
        .fetch_all(&mut **tx)
        .await?;
    let (mut members, mut known) = (BTreeMap::new(), BTreeMap::new());
    for l in lines {
        let facts = MemberFacts {
            user_id: l.user_id,
            email: l.email,
            first_name: l.first_name,
            last_name: l.last_name,
            language: l.language,
            status: typed("membership status", &l.status)?,
            is_manager: flag(l.is_manager),
            designated: flag(l.designated_caller),
            web_support: flag(l.web_support),
            cloud: l
                .cloud_services
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            products: l
                .products
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse()
                        .map_err(|_| StoreError::Corrupt(format!("bad product id {s:?}")))
                })
                .collect::<Result<BTreeSet<i64>, _>>()?,
            coordinator_terms_accepted: flag(l.terms),
        };
        if flag(l.member) {
            members.insert(facts.user_id, facts);
        } else {
            known.insert(facts.email.to_lowercase(), facts);
        }
    }
    Ok(Some(Snapshot {
        contract,
        products,
        members,
        known,
    }))
}

fn seat_limit() -> DomainError {
    DomainError::new(
        UserErrorCode::SeatLimitReached,
        "every seat of that product is taken",
    )
}

/// Writes `plan` in `tx`; returns the ids of the users the plan concerns.
async fn apply(
    tx: &mut Tx,
    contract: &ContractFacts,
    plan: &Plan,
    actor: &Actor,
) -> Result<Vec<i64>, ChangeError> {
    let cid = contract.id;
    let now = now_ms();
    let mut created: Vec<i64> = Vec::with_capacity(plan.people.len());
    let id = |created: &Vec<i64>, who: Who| -> i64 {
        match who {
            Who::User(id) => id,
            Who::Person(i) => created[i],
        }
    };
    for step in &plan.steps {
        match step {
            Step::CreateUser { person } => {
                let p = &plan.people[*person];
                let inserted: Option<(i64,)> = sqlx::query_as(
                    "INSERT INTO users (email, first_name, last_name, language, created_at, \
                     created_by_contract) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT DO NOTHING RETURNING id",
                )
                .bind(p.email.as_str())
                .bind(&p.first_name)
                .bind(&p.last_name)
                .bind(p.language.as_str())
                .bind(now)
                .bind(cid)
                .fetch_optional(&mut **tx)
                .await?;
                let user = match inserted {
                    Some((id,)) => id,
                    // Created by another request since the snapshot: link that User ID.
                    None => {
                        let (id,): (i64,) =
                            sqlx::query_as("SELECT id FROM users WHERE lower(email) = $1")
                                .bind(p.email.as_str())
                                .fetch_one(&mut **tx)
                                .await?;
                        id
                    }
                };
                created.push(user);
            }
            Step::Name { who, typed } => {
                sqlx::query(
                    "INSERT INTO memberships (contract_id, user_id, status, created_at, \
                     typed_first_name, typed_last_name, typed_language) \
                     VALUES ($1, $2, 'PENDING', $3, $4, $5, $6)",
                )
                .bind(cid)
                .bind(id(&created, *who))
                .bind(now)
                .bind(typed.as_ref().map(|p| p.first_name.clone()))
                .bind(typed.as_ref().map(|p| p.last_name.clone()))
                .bind(typed.as_ref().map(|p| p.language.as_str().to_string()))
                .execute(&mut **tx)
                .await
                .on_constraint("memberships_pkey", || {
                    DomainError::new(UserErrorCode::AlreadyMember, "already on this contract")
                })?;
            }
            Step::GrantSeat {
                product,
                who,
                by_default,
            } => {
                let taken = sqlx::query(
                    "UPDATE contract_products SET seats_assigned = seats_assigned + 1 \
                     WHERE id = $1 AND contract_id = $2 AND seats_assigned < seats",
                )
                .bind(product)
                .bind(cid)
                .execute(&mut **tx)
                .await
                .on_constraint("contract_products_seat_limit", seat_limit)?;
                if taken.rows_affected() == 0 {
                    return Err(ChangeError::Refused(vec![seat_limit()]));
                }
                sqlx::query(
                    "INSERT INTO product_access (contract_product_id, user_id, contract_id, \
                     granted_at, by_default) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(product)
                .bind(id(&created, *who))
                .bind(cid)
                .bind(now)
                .bind(i64::from(*by_default))
                .execute(&mut **tx)
                .await?;
            }
            Step::RevokeSeat { product, who } => {
                sqlx::query(
                    "DELETE FROM product_access WHERE contract_product_id = $1 AND user_id = $2",
                )
                .bind(product)
                .bind(id(&created, *who))
                .execute(&mut **tx)
                .await?;
                sqlx::query(
                    "UPDATE contract_products SET seats_assigned = seats_assigned - 1 WHERE id = $1",
                )
                .bind(product)
                .execute(&mut **tx)
                .await?;
            }
            Step::SetContractAccess {
                who,
                web_support,
                cloud,
            } => {
                sqlx::query(
                    "UPDATE memberships SET web_support = $1, cloud_services = $2 \
                     WHERE contract_id = $3 AND user_id = $4",
                )
                .bind(i64::from(*web_support))
                .bind(cloud.iter().cloned().collect::<Vec<_>>().join(","))
                .bind(cid)
                .bind(id(&created, *who))
                .execute(&mut **tx)
                .await?;
            }
            Step::SetCoordinator { product, who } => {
                sqlx::query("UPDATE contract_products SET coordinator_user_id = $1 WHERE id = $2")
                    .bind(who.map(|w| id(&created, w)))
                    .bind(product)
                    .execute(&mut **tx)
                    .await?;
            }
            Step::SetDesignated { who, designated } => {
                sqlx::query(
                    "UPDATE memberships SET designated_caller = $1 \
                     WHERE contract_id = $2 AND user_id = $3",
                )
                .bind(i64::from(*designated))
                .bind(cid)
                .bind(id(&created, *who))
                .execute(&mut **tx)
                .await?;
            }
            Step::Unname { user } => {
                sqlx::query(
                    "DELETE FROM memberships WHERE contract_id = $1 AND user_id = $2 \
                     AND is_manager = 0",
                )
                .bind(cid)
                .bind(user)
                .execute(&mut **tx)
                .await?;
            }
        }
    }

    // Emails: one key per person, kind and request, so a retried job never sends twice.
    let event = secret::code(12);
    let mut sent: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for owed in &plan.emails {
        let user = id(&created, owed.to);
        let email = match &owed.notice {
            Notice::GetStarted {
                role,
                benefits,
                admin,
            } => Email::GetStarted {
                contract_number: Some(contract.number.clone()),
                company: contract.company.clone(),
                first_name: owed.first_name.clone(),
                role: StartedAs::Member(*role),
                products: Vec::new(),
                benefits: benefits.clone(),
                admin: admin.clone(),
            },
            Notice::PermissionsChanged { benefits, removed } => Email::PermissionsChanged {
                contract_number: contract.number.clone(),
                company: contract.company.clone(),
                first_name: owed.first_name.clone(),
                benefits: benefits.clone(),
                removed: *removed,
                reason: roster_domain::email::PermissionsReason::Change,
            },
        };
        let idem_key = format!(
            "{}:contract:{cid}:user:{user}:event:{event}",
            email.kind().as_str()
        );
        let email = emails::enqueue(
            tx,
            NewEmail {
                email,
                idem_key,
                contract_id: Some(cid),
                user_id: Some(user),
                recipient: owed.email.clone(),
            },
        )
        .await?;
        sent.entry(user).or_default().extend(email);
    }
    for entry in &plan.audit {
        let mut detail = entry.detail.clone();
        if let Some(Who::Person(i)) = entry.subject {
            detail["user"] = json!(created[i]);
        }
        let ids: Vec<i64> = entry
            .emails_to
            .iter()
            .flat_map(|w| sent.get(&id(&created, *w)).cloned().unwrap_or_default())
            .collect();
        detail["emails"] = json!(ids);
        audit::record(tx, Some(cid), actor, entry.kind, &detail).await?;
    }
    Ok(plan.concerned.iter().map(|w| id(&created, *w)).collect())
}
