//! Mutations on a contract's people: coordinators, users, access, Named Callers (R4-R14,
//! R28), and the `Member` type that shows them.

use super::context::{Ctx, contract_standing};
use super::errors;
use super::ids::{self, Kind};
use super::mutation::PersonInput;
use super::types::{Contract, ContractProduct, MemberStatusGql, RoleGql, User, UserError};
use async_graphql::{Context, ID, InputObject, MergedObject, Object, Result, SimpleObject};
use roster_domain::policy::{Action, Decision, decide};
use roster_domain::{DomainError, Person, SupportLevel, UserErrorCode};
use roster_store::contracts::{self, ContractProductRow};
use roster_store::members::{self, Member as StoredMember};
use roster_store::roles::{self, AccessSpec, Outcome};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Access to grant or revoke. Product access holds a seat of each product (R11); Web Support
/// and cloud services are per contract.
#[derive(InputObject, Clone, Debug, Default)]
pub struct AccessInput {
    pub contract_product_ids: Option<Vec<ID>>,
    pub web_support: Option<bool>,
    pub cloud_services: Option<Vec<String>>,
}

#[derive(InputObject)]
pub struct AddUsersInput {
    pub contract_id: ID,
    /// At most 50 (R10).
    pub users: Vec<PersonInput>,
    /// Access granted to every one of them.
    pub access: Option<AccessInput>,
    /// Check everything, change nothing.
    pub dry_run: Option<bool>,
}

#[derive(InputObject)]
pub struct RemoveUserInput {
    pub contract_id: ID,
    pub user_id: ID,
}

#[derive(InputObject)]
pub struct SetUserAccessInput {
    pub contract_id: ID,
    pub user_ids: Vec<ID>,
    pub grant: Option<AccessInput>,
    pub revoke: Option<AccessInput>,
}

#[derive(InputObject)]
pub struct AssignSoftwareCoordinatorInput {
    pub contract_id: ID,
    pub contract_product_ids: Vec<ID>,
    pub coordinator: PersonInput,
}

#[derive(InputObject)]
pub struct RemoveSoftwareCoordinatorInput {
    pub contract_id: ID,
    pub contract_product_ids: Vec<ID>,
}

#[derive(InputObject)]
pub struct NamedCallersInput {
    pub contract_id: ID,
    pub user_ids: Vec<ID>,
}

/// Members a mutation added or changed.
#[derive(SimpleObject)]
pub struct MembersPayload {
    pub contract: Option<Contract>,
    pub members: Vec<Member>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct AddUsersPayload {
    pub contract: Option<Contract>,
    pub members: Vec<Member>,
    /// True when `dryRun` was asked: nothing was kept.
    pub dry_run: bool,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct ContractPayload {
    pub contract: Option<Contract>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct AssignSoftwareCoordinatorPayload {
    pub contract: Option<Contract>,
    pub coordinator: Option<User>,
    pub user_errors: Vec<UserError>,
}

/// A person on a contract (R21, R27).
#[derive(Clone)]
pub struct Member {
    pub member: Arc<StoredMember>,
    pub contract: Contract,
    pub support: SupportLevel,
    pub products: Arc<BTreeMap<i64, ContractProductRow>>,
}

/// What a member may use.
#[derive(SimpleObject)]
pub struct MemberAccess {
    pub contract_products: Vec<ContractProduct>,
    pub web_support: bool,
    pub cloud_services: Vec<String>,
}

#[Object]
impl Member {
    async fn user(&self) -> User {
        let r = &self.member.row;
        User(Arc::new(roster_store::users::UserRow {
            id: r.user_id,
            email: r.email.clone(),
            first_name: r.first_name.clone(),
            last_name: r.last_name.clone(),
            language: r.language.clone(),
            password_hash: None,
            subscriber_terms_at: None,
            coordinator_terms_at: None,
            first_sign_in_at: None,
            reseller_id: None,
            created_at: 0,
        }))
    }
    async fn roles(&self) -> Vec<RoleGql> {
        self.member
            .roles(self.support)
            .into_iter()
            .map(Into::into)
            .collect()
    }
    async fn status(&self) -> Result<MemberStatusGql> {
        Ok(self
            .member
            .row
            .status
            .parse::<roster_domain::MemberStatus>()?
            .into())
    }
    /// Contract products this member coordinates (R4).
    async fn coordinates(&self, ctx: &Context<'_>) -> Vec<ContractProduct> {
        self.product_objects(ctx, &self.member.coordinates)
    }
    async fn access(&self, ctx: &Context<'_>) -> MemberAccess {
        let a = &self.member.access;
        MemberAccess {
            contract_products: self.product_objects(ctx, &a.products),
            web_support: a.web_support,
            cloud_services: a.cloud_services.iter().cloned().collect(),
        }
    }
}

impl Member {
    fn product_objects(&self, ctx: &Context<'_>, ids: &BTreeSet<i64>) -> Vec<ContractProduct> {
        ids.iter()
            .filter_map(|id| self.products.get(id))
            .map(|row| ContractProduct {
                secrets: self.contract.allows(
                    ctx,
                    &Action::ViewProductSecrets {
                        contract_product: row.id,
                    },
                ),
                row: Arc::new(row.clone()),
                people: !self.contract.reader_only(),
            })
            .collect()
    }

    /// Wraps stored members for output.
    pub async fn wrap(
        ctx: &Context<'_>,
        contract: &Contract,
        stored: Vec<StoredMember>,
    ) -> Result<Vec<Member>> {
        let products: BTreeMap<i64, ContractProductRow> = contract
            .product_rows(ctx)
            .await?
            .iter()
            .map(|p| (p.id, p.clone()))
            .collect();
        let products = Arc::new(products);
        let support = contract
            .row
            .support_level
            .parse::<SupportLevel>()
            .map_err(|e| errors::internal(&e))?;
        Ok(stored
            .into_iter()
            .map(|m| Member {
                member: Arc::new(m),
                contract: contract.clone(),
                support,
                products: products.clone(),
            })
            .collect())
    }
}

/// A contract a mutation may change, or why not.
pub enum Gate {
    Open(Contract),
    Refused(Vec<UserError>),
}

/// Loads the contract a mutation names and asks the policy about `action`: not visible is
/// NOT_FOUND (as a userError), not allowed is a top-level FORBIDDEN, an SC without the
/// coordinator terms is TERMS_NOT_ACCEPTED (R5).
pub async fn gate(
    ctx: &Context<'_>,
    contract_id: &ID,
    action: impl FnOnce(&BTreeMap<i64, ContractProductRow>) -> Result<Action, DomainError>,
) -> Result<Gate> {
    let c = ctx.data_unchecked::<Ctx>();
    let not_found = || {
        Gate::Refused(vec![
            DomainError::not_found("contract")
                .at(["input", "contractId"])
                .into(),
        ])
    };
    let Some(id) = ids::decode(Kind::Contract, contract_id) else {
        return Ok(not_found());
    };
    let Some(row) = contracts::by_id(c.store.pool(), id)
        .await
        .map_err(errors::store)?
    else {
        return Ok(not_found());
    };
    let standing = contract_standing(ctx, &row).await?;
    let seen = decide(c.principal, standing.as_ref(), &Action::ViewContract);
    match seen {
        Decision::Unauthenticated => return Err(errors::unauthenticated()),
        Decision::NotFound => return Ok(not_found()),
        _ => {}
    }
    let products: BTreeMap<i64, ContractProductRow> = contracts::products(c.store.pool(), id)
        .await
        .map_err(errors::store)?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let action = match action(&products) {
        Ok(a) => a,
        Err(e) => return Ok(Gate::Refused(vec![e.into()])),
    };
    match decide(c.principal, standing.as_ref(), &action) {
        Decision::Allow => Ok(Gate::Open(Contract::with_standing(row, standing))),
        Decision::Unauthenticated => Err(errors::unauthenticated()),
        Decision::NotFound => Ok(not_found()),
        Decision::Forbidden => Err(errors::forbidden()),
        Decision::TermsNotAccepted => Ok(Gate::Refused(vec![
            DomainError::new(
                UserErrorCode::TermsNotAccepted,
                "accept the Software Coordinator terms (acceptTerms with kind COORDINATOR) first",
            )
            .into(),
        ])),
    }
}

/// Resolves contract product IDs of this contract; an unknown one is NOT_FOUND at `field`.
pub fn product_ids(
    products: &BTreeMap<i64, ContractProductRow>,
    ids_in: &[ID],
    field: &[&str],
) -> Result<BTreeSet<i64>, DomainError> {
    let mut out = BTreeSet::new();
    for (i, id) in ids_in.iter().enumerate() {
        match ids::decode(Kind::ContractProduct, id).filter(|n| products.contains_key(n)) {
            Some(n) => {
                out.insert(n);
            }
            None => {
                let mut path: Vec<String> = field.iter().map(|s| s.to_string()).collect();
                path.push(i.to_string());
                return Err(DomainError::not_found("contract product").at(path));
            }
        }
    }
    Ok(out)
}

fn access_spec(
    products: &BTreeMap<i64, ContractProductRow>,
    input: Option<&AccessInput>,
    field: &[&str],
) -> Result<AccessSpec, DomainError> {
    let Some(input) = input else {
        return Ok(AccessSpec::default());
    };
    let mut product_field: Vec<&str> = field.to_vec();
    product_field.push("contractProductIds");
    let contract_products = product_ids(
        products,
        input.contract_product_ids.as_deref().unwrap_or_default(),
        &product_field,
    )?;
    let mut cloud = BTreeSet::new();
    for (i, s) in input.cloud_services.iter().flatten().enumerate() {
        let name = roster_domain::parse_code("cloudServices", s).map_err(|e| {
            let mut path: Vec<String> = field.iter().map(|s| s.to_string()).collect();
            path.extend(["cloudServices".to_string(), i.to_string()]);
            DomainError {
                field: Some(path),
                ..e
            }
        })?;
        cloud.insert(name);
    }
    Ok(AccessSpec {
        contract_products,
        web_support: input.web_support,
        cloud_services: cloud,
    })
}

/// The policy action for changing `spec`: products need the SC to coordinate them (R7);
/// anything contract-wide is open to any SC.
fn access_action(specs: &[&AccessSpec]) -> Action {
    let products: BTreeSet<i64> = specs
        .iter()
        .flat_map(|s| s.contract_products.iter().copied())
        .collect();
    if products.is_empty() {
        Action::ManageContractSettings
    } else {
        Action::ManageProductUsers {
            contract_products: products,
        }
    }
}

fn user_ids(ids_in: &[ID]) -> Result<Vec<i64>, DomainError> {
    ids_in
        .iter()
        .enumerate()
        .map(|(i, id)| {
            ids::decode(Kind::User, id).ok_or_else(|| {
                DomainError::new(
                    UserErrorCode::NotAMember,
                    "that user is not on this contract",
                )
                .at(["input".to_string(), "userIds".to_string(), i.to_string()])
            })
        })
        .collect()
}

fn outcome_errors(o: Outcome) -> Result<Vec<UserError>> {
    match o {
        Outcome::Refused(errs) => Ok(errs.into_iter().map(Into::into).collect()),
        Outcome::Failed(e) => Err(errors::internal(&e)),
    }
}

/// Reloads the contract after a change, for the payload.
async fn reload(ctx: &Context<'_>, contract: &Contract) -> Result<Option<Contract>> {
    let store = &ctx.data_unchecked::<Ctx>().store;
    match contracts::by_id(store.pool(), contract.row.id)
        .await
        .map_err(errors::store)?
    {
        Some(row) => Contract::visible(ctx, row).await,
        None => Ok(None),
    }
}

async fn load_members(
    ctx: &Context<'_>,
    contract: &Contract,
    ids_in: &[i64],
) -> Result<Vec<Member>> {
    let store = &ctx.data_unchecked::<Ctx>().store;
    let mut conn = store
        .pool()
        .acquire()
        .await
        .map_err(|e| errors::internal(&e))?;
    let mut out = Vec::new();
    for id in ids_in {
        if let Some(m) = members::get(&mut conn, contract.row.id, *id)
            .await
            .map_err(errors::store)?
        {
            out.push(m);
        }
    }
    drop(conn);
    Member::wrap(ctx, contract, out).await
}

/// Which lifecycle email an admin may send a member again.
#[derive(async_graphql::Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum ResendKind {
    /// With a fresh activation link for a User ID not activated yet (the old link stops working).
    GetStarted,
    PermissionsChanged,
}

#[derive(InputObject)]
pub struct ResendEmailInput {
    pub contract_id: ID,
    pub user_id: ID,
    pub kind: ResendKind,
}

#[derive(Default)]
pub struct RolesMutation;

#[Object]
impl RolesMutation {
    /// Names users on a contract, one or up to 50 at a time, all or nothing (R9, R10). Each gets
    /// a Get Started email; `access` is granted to all of them (R11).
    async fn add_users(&self, ctx: &Context<'_>, input: AddUsersInput) -> Result<AddUsersPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let dry_run = input.dry_run.unwrap_or(false);
        let refused = |errs: Vec<UserError>| AddUsersPayload {
            contract: None,
            members: vec![],
            dry_run,
            user_errors: errs,
        };
        let mut access = AccessSpec::default();
        let gate = gate(ctx, &input.contract_id, |products| {
            access = access_spec(products, input.access.as_ref(), &["input", "access"])?;
            Ok(access_action(&[&access]))
        })
        .await?;
        let contract = match gate {
            Gate::Open(c) => c,
            Gate::Refused(e) => return Ok(refused(e)),
        };
        if let Err(e) = roster_domain::rules::check_bulk_size(input.users.len()) {
            return Ok(refused(vec![e.under(["input"]).into()]));
        }
        let mut people: Vec<Person> = Vec::new();
        let mut problems: Vec<UserError> = Vec::new();
        for (i, p) in input.users.iter().enumerate() {
            match p.parse(&["input", "users", &i.to_string()]) {
                Ok(person) => people.push(person),
                Err(e) => problems.push(e.into()),
            }
        }
        if !problems.is_empty() {
            return Ok(refused(problems));
        }
        match roles::add_users(
            &c.store,
            &c.actor(),
            contract.row.id,
            &people,
            &access,
            dry_run,
        )
        .await
        {
            Ok(added) => {
                if !dry_run {
                    c.members_changed(contract.row.id);
                }
                let members = if dry_run {
                    vec![]
                } else {
                    let ids: Vec<i64> = added.iter().map(|u| u.id).collect();
                    load_members(ctx, &contract, &ids).await?
                };
                Ok(AddUsersPayload {
                    contract: reload(ctx, &contract).await?,
                    members,
                    dry_run,
                    user_errors: vec![],
                })
            }
            Err(o) => Ok(refused(outcome_errors(o)?)),
        }
    }

    /// Removes a member (R28): seats, Named Caller status and SC assignments go with them.
    /// The Contract Manager cannot be removed.
    async fn remove_user(
        &self,
        ctx: &Context<'_>,
        input: RemoveUserInput,
    ) -> Result<ContractPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let refused = |errs| ContractPayload {
            contract: None,
            user_errors: errs,
        };
        let Some(user_id) = ids::decode(Kind::User, &input.user_id) else {
            return Ok(refused(vec![
                DomainError::new(
                    UserErrorCode::NotAMember,
                    "that user is not on this contract",
                )
                .at(["input", "userId"])
                .into(),
            ]));
        };
        // An SC may remove only people whose products they all coordinate (R7).
        let held = {
            let mut conn = c
                .store
                .pool()
                .acquire()
                .await
                .map_err(|e| errors::internal(&e))?;
            match ids::decode(Kind::Contract, &input.contract_id) {
                Some(cid) => members::get(&mut conn, cid, user_id)
                    .await
                    .map_err(errors::store)?
                    .map(|m| m.access.products.clone())
                    .unwrap_or_default(),
                None => BTreeSet::new(),
            }
        };
        let gate = gate(ctx, &input.contract_id, |_| {
            Ok(if held.is_empty() {
                Action::ManageContractSettings
            } else {
                Action::ManageProductUsers {
                    contract_products: held.clone(),
                }
            })
        })
        .await?;
        let contract = match gate {
            Gate::Open(c) => c,
            Gate::Refused(e) => return Ok(refused(e)),
        };
        match roles::remove_user(&c.store, &c.actor(), contract.row.id, user_id).await {
            Ok(()) => {
                c.members_changed(contract.row.id);
                Ok(ContractPayload {
                    contract: reload(ctx, &contract).await?,
                    user_errors: vec![],
                })
            }
            Err(o) => Ok(refused(outcome_errors(o)?)),
        }
    }

    /// Grants and revokes access for members, all or nothing (R11); each member whose access
    /// changed gets one Permissions Changed email (R12).
    async fn set_user_access(
        &self,
        ctx: &Context<'_>,
        input: SetUserAccessInput,
    ) -> Result<MembersPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let refused = |errs| MembersPayload {
            contract: None,
            members: vec![],
            user_errors: errs,
        };
        let (mut grant, mut revoke) = (AccessSpec::default(), AccessSpec::default());
        let gate = gate(ctx, &input.contract_id, |products| {
            grant = access_spec(products, input.grant.as_ref(), &["input", "grant"])?;
            revoke = access_spec(products, input.revoke.as_ref(), &["input", "revoke"])?;
            Ok(access_action(&[&grant, &revoke]))
        })
        .await?;
        let contract = match gate {
            Gate::Open(c) => c,
            Gate::Refused(e) => return Ok(refused(e)),
        };
        let users = match user_ids(&input.user_ids) {
            Ok(u) => u,
            Err(e) => return Ok(refused(vec![e.into()])),
        };
        match roles::set_user_access(
            &c.store,
            &c.actor(),
            contract.row.id,
            &users,
            &grant,
            &revoke,
        )
        .await
        {
            Ok(_) => {
                c.members_changed(contract.row.id);
                Ok(MembersPayload {
                    contract: reload(ctx, &contract).await?,
                    members: load_members(ctx, &contract, &users).await?,
                    user_errors: vec![],
                })
            }
            Err(o) => Ok(refused(outcome_errors(o)?)),
        }
    }

    /// Makes a person the Software Coordinator of products (R4, R5); only the CM may (R6).
    async fn assign_software_coordinator(
        &self,
        ctx: &Context<'_>,
        input: AssignSoftwareCoordinatorInput,
    ) -> Result<AssignSoftwareCoordinatorPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let refused = |errs| AssignSoftwareCoordinatorPayload {
            contract: None,
            coordinator: None,
            user_errors: errs,
        };
        let mut products = BTreeSet::new();
        let gate = gate(ctx, &input.contract_id, |all| {
            products = product_ids(
                all,
                &input.contract_product_ids,
                &["input", "contractProductIds"],
            )?;
            Ok(Action::AssignCoordinator)
        })
        .await?;
        let contract = match gate {
            Gate::Open(c) => c,
            Gate::Refused(e) => return Ok(refused(e)),
        };
        if products.is_empty() {
            return Ok(refused(vec![
                DomainError::new(
                    UserErrorCode::InvalidInput,
                    "name at least one contract product",
                )
                .at(["input", "contractProductIds"])
                .into(),
            ]));
        }
        let person = match input.coordinator.parse(&["input", "coordinator"]) {
            Ok(p) => p,
            Err(e) => return Ok(refused(vec![e.into()])),
        };
        match roles::assign_coordinator(&c.store, &c.actor(), contract.row.id, &products, &person)
            .await
        {
            Ok(user) => {
                c.members_changed(contract.row.id);
                Ok(AssignSoftwareCoordinatorPayload {
                    contract: reload(ctx, &contract).await?,
                    coordinator: Some(User(Arc::new(user))),
                    user_errors: vec![],
                })
            }
            Err(o) => Ok(refused(outcome_errors(o)?)),
        }
    }

    /// Removes the Software Coordinator of products; they fall back to the CM (R4, R6).
    async fn remove_software_coordinator(
        &self,
        ctx: &Context<'_>,
        input: RemoveSoftwareCoordinatorInput,
    ) -> Result<ContractPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let refused = |errs| ContractPayload {
            contract: None,
            user_errors: errs,
        };
        let mut products = BTreeSet::new();
        let gate = gate(ctx, &input.contract_id, |all| {
            products = product_ids(
                all,
                &input.contract_product_ids,
                &["input", "contractProductIds"],
            )?;
            Ok(Action::AssignCoordinator)
        })
        .await?;
        let contract = match gate {
            Gate::Open(c) => c,
            Gate::Refused(e) => return Ok(refused(e)),
        };
        match roles::remove_coordinator(&c.store, &c.actor(), contract.row.id, &products).await {
            Ok(()) => {
                c.members_changed(contract.row.id);
                Ok(ContractPayload {
                    contract: reload(ctx, &contract).await?,
                    user_errors: vec![],
                })
            }
            Err(o) => Ok(refused(outcome_errors(o)?)),
        }
    }

    /// Sends a member their Get Started or Permissions Changed email again (admins).
    async fn resend_email(
        &self,
        ctx: &Context<'_>,
        input: ResendEmailInput,
    ) -> Result<ContractPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let refused = |errs| ContractPayload {
            contract: None,
            user_errors: errs,
        };
        let contract = match gate(ctx, &input.contract_id, |_| {
            Ok(Action::ManageContractSettings)
        })
        .await?
        {
            Gate::Open(c) => c,
            Gate::Refused(e) => return Ok(refused(e)),
        };
        let not_member = || {
            refused(vec![
                DomainError::new(
                    UserErrorCode::NotAMember,
                    "that user is not on this contract",
                )
                .at(["input", "userId"])
                .into(),
            ])
        };
        let Some(user_id) = ids::decode(Kind::User, &input.user_id) else {
            return Ok(not_member());
        };
        let kind = match input.kind {
            ResendKind::GetStarted => roster_domain::email_kind::EmailKind::GetStarted,
            ResendKind::PermissionsChanged => {
                roster_domain::email_kind::EmailKind::PermissionsChanged
            }
        };
        match roles::resend(&c.store, &c.actor(), contract.row.id, user_id, kind).await {
            Ok(()) => {
                c.wake.notify_one();
                Ok(ContractPayload {
                    contract: Some(contract),
                    user_errors: vec![],
                })
            }
            Err(Outcome::Refused(_)) => Ok(not_member()),
            Err(o) => Ok(refused(outcome_errors(o)?)),
        }
    }

    /// Designates Named Callers (R13, R14): ADVANCED only, members only, within the limit.
    async fn add_named_callers(
        &self,
        ctx: &Context<'_>,
        input: NamedCallersInput,
    ) -> Result<MembersPayload> {
        named_callers(ctx, input, true).await
    }

    /// Ends designations of Named Callers (R14). The CM and SCs stay Named Callers by role.
    async fn remove_named_callers(
        &self,
        ctx: &Context<'_>,
        input: NamedCallersInput,
    ) -> Result<MembersPayload> {
        named_callers(ctx, input, false).await
    }
}

async fn named_callers(
    ctx: &Context<'_>,
    input: NamedCallersInput,
    designate: bool,
) -> Result<MembersPayload> {
    let c = ctx.data_unchecked::<Ctx>();
    let refused = |errs| MembersPayload {
        contract: None,
        members: vec![],
        user_errors: errs,
    };
    let gate = gate(ctx, &input.contract_id, |_| {
        Ok(Action::ManageContractSettings)
    })
    .await?;
    let contract = match gate {
        Gate::Open(c) => c,
        Gate::Refused(e) => return Ok(refused(e)),
    };
    let users = match user_ids(&input.user_ids) {
        Ok(u) => u,
        Err(e) => return Ok(refused(vec![e.into()])),
    };
    match roles::set_named_callers(&c.store, &c.actor(), contract.row.id, &users, designate).await {
        Ok(_) => {
            c.members_changed(contract.row.id);
            Ok(MembersPayload {
                contract: reload(ctx, &contract).await?,
                members: load_members(ctx, &contract, &users).await?,
                user_errors: vec![],
            })
        }
        Err(o) => Ok(refused(outcome_errors(o)?)),
    }
}

/// Every mutation, merged.
#[derive(MergedObject, Default)]
pub struct Mutation(
    super::mutation::CoreMutation,
    RolesMutation,
    super::cases::CasesMutation,
);
