//! The changes admins make to a contract's people (R4-R14, R28), each in one transaction with
//! its audit entries (R25) and the emails it owes (R5, R9, R12, R14).
//!
//! Each function locks the contract first, checks what the domain rules need from the data,
//! and either commits everything or nothing; a refused rule comes back as [`DomainError`]s that
//! name the input entry concerned.

use crate::audit::{self, Actor};
use crate::contracts::{self, ContractProductRow, ContractRow};
use crate::emails::{self, NewEmail};
use crate::members::{self, Member};
use crate::users::{self, UserRow};
use crate::{Store, StoreError, Tx, secret};
use roster_domain::email_kind::EmailKind;
use roster_domain::{DomainError, Person, SupportLevel, UserErrorCode, rules};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// Access to grant or revoke (API.md `AccessInput`), already resolved to ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessSpec {
    pub contract_products: BTreeSet<i64>,
    pub web_support: Option<bool>,
    pub cloud_services: BTreeSet<String>,
}

impl AccessSpec {
    pub fn is_empty(&self) -> bool {
        self.contract_products.is_empty()
            && self.web_support.is_none()
            && self.cloud_services.is_empty()
    }
}

/// Refusals of one request, each naming its entry.
pub type Refusals = Vec<DomainError>;

fn refuse<T>(e: DomainError) -> Result<T, Outcome> {
    Err(Outcome::Refused(vec![e]))
}

/// Why a change did not happen.
#[derive(Debug)]
pub enum Outcome {
    Refused(Refusals),
    Failed(StoreError),
}

impl From<StoreError> for Outcome {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => Outcome::Refused(vec![d]),
            other => Outcome::Failed(other),
        }
    }
}

impl From<sqlx::Error> for Outcome {
    fn from(e: sqlx::Error) -> Self {
        Outcome::Failed(e.into())
    }
}

pub type ChangeResult<T> = Result<T, Outcome>;

struct Scope {
    tx: Tx,
    contract: ContractRow,
    support: SupportLevel,
    products: BTreeMap<i64, ContractProductRow>,
    /// Distinguishes this request's emails from any other's (idempotency keys).
    event: String,
}

impl Scope {
    async fn open(store: &Store, contract_id: i64) -> ChangeResult<Scope> {
        let mut tx = store.begin().await?;
        members::lock_contract(&mut tx, contract_id).await?;
        let contract = contracts::by_id(&mut *tx, contract_id)
            .await?
            .ok_or_else(|| Outcome::Refused(vec![DomainError::not_found("contract")]))?;
        let support = contract
            .support_level
            .parse()
            .map_err(|e: DomainError| Outcome::Failed(StoreError::Corrupt(e.message)))?;
        let products = contracts::products(&mut *tx, contract_id)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        Ok(Scope {
            tx,
            contract,
            support,
            products,
            event: secret::code(12),
        })
    }

    fn names(&self) -> BTreeMap<i64, String> {
        self.products
            .iter()
            .map(|(id, p)| (*id, p.product_name.clone()))
            .collect()
    }

    fn require_active(&self) -> ChangeResult<()> {
        if self.contract.status != "ACTIVE" {
            return refuse(DomainError::new(
                UserErrorCode::ContractNotActive,
                format!(
                    "contract {} is {}; benefits can change only while it is ACTIVE",
                    self.contract.number, self.contract.status
                ),
            ));
        }
        Ok(())
    }

    async fn member(&mut self, user_id: i64) -> ChangeResult<Option<Member>> {
        Ok(members::get(&mut self.tx, self.contract.id, user_id).await?)
    }

    async fn all_members(&mut self) -> ChangeResult<Vec<Member>> {
        Ok(members::all(&mut self.tx, self.contract.id).await?)
    }

    fn params(&self, user: &UserRow) -> serde_json::Value {
        json!({
            "contractNumber": self.contract.number,
            "company": self.contract.company_name,
            "firstName": user.first_name,
            "lastName": user.last_name,
        })
    }

    /// R9: a newly named user gets Get Started (with an activation link if the User ID is new).
    async fn owe_get_started(&mut self, user: &UserRow, role: &str) -> ChangeResult<Option<i64>> {
        let mut params = self.params(user);
        params["role"] = role.into();
        Ok(emails::enqueue(
            &mut self.tx,
            NewEmail {
                kind: EmailKind::GetStarted,
                idem_key: format!(
                    "get-started:contract:{}:user:{}:event:{}",
                    self.contract.id, user.id, self.event
                ),
                contract_id: Some(self.contract.id),
                user_id: Some(user.id),
                recipient: user.email.clone(),
                params,
            },
        )
        .await?)
    }

    /// R12, R14: one Permissions Changed per user per request, listing what they now have.
    async fn owe_permissions_changed(&mut self, user_id: i64) -> ChangeResult<Option<i64>> {
        let Some(user) = users::by_id(&mut *self.tx, user_id).await? else {
            return Ok(None);
        };
        let benefits = match self.member(user_id).await? {
            Some(m) => members::benefits(&m, self.support, &self.names()),
            None => vec![],
        };
        let mut params = self.params(&user);
        params["benefits"] = json!(benefits);
        Ok(emails::enqueue(
            &mut self.tx,
            NewEmail {
                kind: EmailKind::PermissionsChanged,
                idem_key: format!(
                    "permissions-changed:contract:{}:user:{}:event:{}",
                    self.contract.id, user.id, self.event
                ),
                contract_id: Some(self.contract.id),
                user_id: Some(user.id),
                recipient: user.email.clone(),
                params,
            },
        )
        .await?)
    }

    async fn audit(
        &mut self,
        actor: &Actor,
        kind: &str,
        detail: serde_json::Value,
    ) -> ChangeResult<()> {
        audit::record(&mut self.tx, Some(self.contract.id), actor, kind, &detail).await?;
        Ok(())
    }

    fn describe(&self, m: Option<&Member>) -> serde_json::Value {
        match m {
            None => json!(null),
            Some(m) => json!({
                "benefits": members::benefits(m, self.support, &self.names()),
                "roles": m.roles(self.support).iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            }),
        }
    }

    async fn commit(self) -> ChangeResult<ContractRow> {
        self.tx.commit().await?;
        Ok(self.contract)
    }
}

/// Applies `grant` then `revoke` to one member; returns whether anything changed.
async fn apply_access(
    scope: &mut Scope,
    user_id: i64,
    grant: &AccessSpec,
    revoke: &AccessSpec,
) -> ChangeResult<bool> {
    let Some(before) = scope.member(user_id).await? else {
        return Ok(false);
    };
    for cp in &revoke.contract_products {
        members::revoke_product(&mut scope.tx, *cp, user_id).await?;
    }
    for cp in &grant.contract_products {
        let name = scope.products[cp].product_name.clone();
        members::grant_product(&mut scope.tx, scope.contract.id, *cp, &name, user_id, false)
            .await?;
    }
    let mut web = before.access.web_support;
    if revoke.web_support == Some(true) {
        web = false;
    }
    if grant.web_support == Some(true) {
        web = true;
    }
    let mut cloud = before.access.cloud_services.clone();
    cloud.retain(|s| !revoke.cloud_services.contains(s));
    cloud.extend(grant.cloud_services.iter().cloned());
    if web != before.access.web_support || cloud != before.access.cloud_services {
        members::set_contract_access(&mut scope.tx, scope.contract.id, user_id, web, &cloud)
            .await?;
    }
    let after = scope.member(user_id).await?;
    Ok(after.map(|a| a.access) != Some(before.access))
}

/// R9, R10, R11: names up to 50 people at once, all or nothing, optionally granting them all
/// the same access. With `dry_run` everything is checked and nothing is kept.
pub async fn add_users(
    store: &Store,
    actor: &Actor,
    contract_id: i64,
    people: &[Person],
    access: &AccessSpec,
    dry_run: bool,
) -> ChangeResult<Vec<UserRow>> {
    let mut scope = Scope::open(store, contract_id).await?;
    scope.require_active()?;
    rules::check_bulk_size(people.len()).map_err(|e| Outcome::Refused(vec![e.under(["input"])]))?;
    let entry = |i: usize| ["input".to_string(), "users".to_string(), i.to_string()];
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let existing: BTreeSet<String> = scope
        .all_members()
        .await?
        .into_iter()
        .map(|m| m.row.email.to_lowercase())
        .collect();
    for (i, p) in people.iter().enumerate() {
        if !seen.insert(p.email.clone()) {
            problems.push(
                DomainError::new(
                    UserErrorCode::DuplicateEntry,
                    format!("{} is named twice in this request", p.email),
                )
                .at(["email"])
                .under(entry(i)),
            );
        } else if existing.contains(p.email.as_str()) {
            problems.push(
                DomainError::new(
                    UserErrorCode::AlreadyMember,
                    format!("{} is already on this contract", p.email),
                )
                .at(["email"])
                .under(entry(i)),
            );
        }
    }
    for cp in &access.contract_products {
        let p = &scope.products[cp];
        let free = (p.seats - p.seats_assigned).max(0) as usize;
        for (i, person) in people.iter().enumerate().skip(free) {
            problems.push(
                DomainError::new(
                    UserErrorCode::SeatLimitReached,
                    format!(
                        "no seat of {} is left for {} ({} free)",
                        p.product_name, person.email, free
                    ),
                )
                .under(entry(i)),
            );
        }
    }
    if !problems.is_empty() {
        return Err(Outcome::Refused(problems));
    }
    let mut added = Vec::new();
    for (i, person) in people.iter().enumerate() {
        let (user, _) = users::find_or_create(&mut scope.tx, person).await?;
        members::add(&mut scope.tx, contract_id, user.id).await?;
        apply_access(&mut scope, user.id, access, &AccessSpec::default())
            .await
            .map_err(|o| match o {
                Outcome::Refused(errs) => {
                    Outcome::Refused(errs.into_iter().map(|e| e.under(entry(i))).collect())
                }
                other => other,
            })?;
        let mut caused = vec![scope.owe_get_started(&user, "USER").await?];
        if !access.is_empty() {
            caused.push(scope.owe_permissions_changed(user.id).await?);
        }
        let after = scope.member(user.id).await?;
        let detail = json!({
            "user": user.id, "email": user.email,
            "before": null, "after": scope.describe(after.as_ref()),
            "emails": caused.into_iter().flatten().collect::<Vec<_>>(),
        });
        scope.audit(actor, "member.added", detail).await?;
        added.push(user);
    }
    if dry_run {
        scope.tx.rollback().await?;
    } else {
        scope.commit().await?;
    }
    Ok(added)
}

/// R28: removes a member; the CM cannot be removed.
pub async fn remove_user(
    store: &Store,
    actor: &Actor,
    contract_id: i64,
    user_id: i64,
) -> ChangeResult<()> {
    let mut scope = Scope::open(store, contract_id).await?;
    let Some(before) = scope.member(user_id).await? else {
        return refuse(
            DomainError::new(
                UserErrorCode::NotAMember,
                "that user is not on this contract",
            )
            .at(["input", "userId"]),
        );
    };
    if before.is_manager() {
        return refuse(
            DomainError::new(
                UserErrorCode::ContractManagerRequired,
                "the Contract Manager cannot be removed; change the Contract Manager first",
            )
            .at(["input", "userId"]),
        );
    }
    let described = scope.describe(Some(&before));
    members::remove(&mut scope.tx, contract_id, user_id).await?;
    let email = scope.owe_permissions_changed(user_id).await?;
    let detail = json!({
        "user": user_id, "email": before.row.email,
        "before": described, "after": null,
        "emails": email.into_iter().collect::<Vec<_>>(),
    });
    scope.audit(actor, "member.removed", detail).await?;
    scope.commit().await?;
    Ok(())
}

/// R11, R12: grants and revokes access for several members, all or nothing; each member whose
/// access changed gets one Permissions Changed email.
pub async fn set_user_access(
    store: &Store,
    actor: &Actor,
    contract_id: i64,
    user_ids: &[i64],
    grant: &AccessSpec,
    revoke: &AccessSpec,
) -> ChangeResult<Vec<i64>> {
    let mut scope = Scope::open(store, contract_id).await?;
    if !grant.is_empty() {
        scope.require_active()?;
    }
    let mut changed = Vec::new();
    for (i, uid) in user_ids.iter().enumerate() {
        let at = ["input".to_string(), "userIds".to_string(), i.to_string()];
        let Some(before) = scope.member(*uid).await? else {
            return refuse(
                DomainError::new(
                    UserErrorCode::NotAMember,
                    "that user is not on this contract",
                )
                .under(at),
            );
        };
        let described = scope.describe(Some(&before));
        let did = apply_access(&mut scope, *uid, grant, revoke)
            .await
            .map_err(|o| match o {
                Outcome::Refused(errs) => {
                    Outcome::Refused(errs.into_iter().map(|e| e.under(at.clone())).collect())
                }
                other => other,
            })?;
        if did {
            let email = scope.owe_permissions_changed(*uid).await?;
            let after = scope.member(*uid).await?;
            let detail = json!({
                "user": uid, "email": before.row.email,
                "before": described, "after": scope.describe(after.as_ref()),
                "emails": email.into_iter().collect::<Vec<_>>(),
            });
            scope.audit(actor, "access.changed", detail).await?;
            changed.push(*uid);
        }
    }
    scope.commit().await?;
    Ok(changed)
}

/// R4, R5, R6: makes `person` the Software Coordinator of `products`. They are named if they
/// were not (Get Started), take a seat of each product if one is free, and are told by a
/// Permissions Changed email; a coordinator they replace is told too.
pub async fn assign_coordinator(
    store: &Store,
    actor: &Actor,
    contract_id: i64,
    products: &BTreeSet<i64>,
    person: &Person,
) -> ChangeResult<UserRow> {
    let mut scope = Scope::open(store, contract_id).await?;
    scope.require_active()?;
    let (user, _) = users::find_or_create(&mut scope.tx, person).await?;
    let before = scope.member(user.id).await?;
    let newly_named = members::add(&mut scope.tx, contract_id, user.id).await?;
    let mut replaced = BTreeSet::new();
    for cp in products {
        if let Some(prev) = scope.products[cp]
            .coordinator_user_id
            .filter(|p| *p != user.id)
        {
            replaced.insert(prev);
        }
        members::set_coordinator(&mut scope.tx, *cp, Some(user.id)).await?;
        let name = scope.products[cp].product_name.clone();
        // R5: a seat if one is free; without one the SC is still assigned.
        match members::grant_product(&mut scope.tx, contract_id, *cp, &name, user.id, true).await {
            Ok(_) | Err(StoreError::Domain(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut caused = Vec::new();
    if newly_named {
        caused.push(scope.owe_get_started(&user, "SOFTWARE_COORDINATOR").await?);
    }
    caused.push(scope.owe_permissions_changed(user.id).await?);
    for prev in &replaced {
        caused.push(scope.owe_permissions_changed(*prev).await?);
    }
    let after = scope.member(user.id).await?;
    let detail = json!({
        "user": user.id, "email": user.email,
        "products": products, "replaced": replaced,
        "before": scope.describe(before.as_ref()), "after": scope.describe(after.as_ref()),
        "emails": caused.into_iter().flatten().collect::<Vec<_>>(),
    });
    scope.audit(actor, "coordinator.assigned", detail).await?;
    scope.commit().await?;
    Ok(user)
}

/// R4, R6: removes the Software Coordinator of `products`; they fall back to the CM.
pub async fn remove_coordinator(
    store: &Store,
    actor: &Actor,
    contract_id: i64,
    products: &BTreeSet<i64>,
) -> ChangeResult<()> {
    let mut scope = Scope::open(store, contract_id).await?;
    let mut former = BTreeSet::new();
    for cp in products {
        if let Some(prev) = scope.products[cp].coordinator_user_id {
            former.insert(prev);
        }
        members::set_coordinator(&mut scope.tx, *cp, None).await?;
    }
    let mut caused = Vec::new();
    for prev in &former {
        caused.push(scope.owe_permissions_changed(*prev).await?);
    }
    let detail = json!({
        "products": products, "former": former,
        "emails": caused.into_iter().flatten().collect::<Vec<_>>(),
    });
    scope.audit(actor, "coordinator.removed", detail).await?;
    scope.commit().await?;
    Ok(())
}

/// R13, R14: designates (or un-designates) Named Callers.
pub async fn set_named_callers(
    store: &Store,
    actor: &Actor,
    contract_id: i64,
    user_ids: &[i64],
    designate: bool,
) -> ChangeResult<Vec<i64>> {
    let mut scope = Scope::open(store, contract_id).await?;
    if designate {
        scope.require_active()?;
        if scope.support != SupportLevel::Advanced {
            rules::check_named_callers(scope.support, 0, 1, 0)
                .map_err(|e| Outcome::Refused(vec![e.at(["input", "contractId"])]))?;
        }
    }
    let all = scope.all_members().await?;
    let by_id: BTreeMap<i64, &Member> = all.iter().map(|m| (m.row.user_id, m)).collect();
    let support = scope.support;
    let mut to_change = Vec::new();
    for (i, uid) in user_ids.iter().enumerate() {
        let at = ["input".to_string(), "userIds".to_string(), i.to_string()];
        let Some(m) = by_id.get(uid) else {
            let code = if designate {
                UserErrorCode::NotANamedUser
            } else {
                UserErrorCode::NotAMember
            };
            return refuse(
                DomainError::new(
                    code,
                    "a Named Caller must be a Named User of the contract first",
                )
                .under(at),
            );
        };
        let change = if designate {
            !m.is_named_caller(support)
        } else {
            m.is_designated_caller(support)
        };
        if change && !to_change.contains(uid) {
            to_change.push(*uid);
        }
    }
    if designate {
        let designated_now = all
            .iter()
            .filter(|m| m.is_designated_caller(support))
            .count() as i64;
        let seats = scope.products.values().map(|p| p.seats).sum();
        rules::check_named_callers(support, designated_now, to_change.len() as i64, seats)
            .map_err(|e| Outcome::Refused(vec![e.at(["input", "userIds"])]))?;
    }
    for uid in &to_change {
        members::set_designated_caller(&mut scope.tx, contract_id, *uid, designate).await?;
        let email = scope.owe_permissions_changed(*uid).await?;
        let detail = json!({
            "user": uid, "namedCaller": { "before": !designate, "after": designate },
            "emails": email.into_iter().collect::<Vec<_>>(),
        });
        scope
            .audit(
                actor,
                if designate {
                    "named_caller.added"
                } else {
                    "named_caller.removed"
                },
                detail,
            )
            .await?;
    }
    scope.commit().await?;
    Ok(to_change)
}

/// An admin sends a member their Get Started or Permissions Changed email again. A Get
/// Started for a User ID not activated yet carries a fresh activation link; issuing it voids
/// the old one.
pub async fn resend(
    store: &Store,
    actor: &Actor,
    contract_id: i64,
    user_id: i64,
    kind: EmailKind,
) -> ChangeResult<()> {
    let mut scope = Scope::open(store, contract_id).await?;
    let Some(member) = scope.member(user_id).await? else {
        return refuse(DomainError::new(
            UserErrorCode::NotAMember,
            "that user is not on this contract",
        ));
    };
    let email = match kind {
        EmailKind::GetStarted => {
            let user = users::by_id(&mut *scope.tx, user_id)
                .await?
                .ok_or_else(|| {
                    Outcome::Failed(StoreError::Corrupt("member without user".into()))
                })?;
            let role = if member.is_manager() {
                "CONTRACT_MANAGER"
            } else {
                "USER"
            };
            scope.owe_get_started(&user, role).await?
        }
        _ => scope.owe_permissions_changed(user_id).await?,
    };
    scope
        .audit(actor, "email.resent", json!({ "user": user_id, "kind": kind.as_str(), "emails": email.into_iter().collect::<Vec<_>>() }))
        .await?;
    scope.commit().await?;
    Ok(())
}
