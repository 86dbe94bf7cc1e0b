//! Mutations on a contract's people: coordinators, users, access, Named Callers (R4-R14,
//! R28), and the `Member` type that shows them.

use super::context::Ctx;
use super::errors;
use super::errors::Result;
use super::ids::{self, Kind};
use super::mutation::PersonInput;
use super::objects::{Contract, Member, User};
use super::scalars::UserError;
use async_graphql::{Context, ID, InputObject, Object};
use roster_domain::change::{AccessSpec, Command, Resend};
use roster_domain::{DomainError, UserErrorCode};
use roster_store::change::Applied;
use roster_store::contracts;
use roster_store::members;
use roster_store::users;
use std::collections::BTreeSet;
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

// Payload fields load on demand, so a client that asks only for `userErrors` costs no reload.
pub struct MembersPayload {
    applied: Option<Applied>,
    user_errors: Vec<UserError>,
}

/// Members a mutation added or changed.
#[Object]
impl MembersPayload {
    async fn contract(&self, ctx: &Context<'_>) -> Result<Option<Contract>> {
        contract_after(ctx, self.applied.as_ref()).await
    }
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<Member>> {
        members_after(ctx, self.applied.as_ref()).await
    }
    async fn user_errors(&self) -> &[UserError] {
        &self.user_errors
    }
}

pub struct AddUsersPayload {
    applied: Option<Applied>,
    dry_run: bool,
    user_errors: Vec<UserError>,
}

#[Object]
impl AddUsersPayload {
    async fn contract(&self, ctx: &Context<'_>) -> Result<Option<Contract>> {
        contract_after(ctx, self.applied.as_ref()).await
    }
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<Member>> {
        members_after(ctx, self.applied.as_ref()).await
    }
    /// True when `dryRun` was asked: nothing was kept.
    async fn dry_run(&self) -> bool {
        self.dry_run
    }
    async fn user_errors(&self) -> &[UserError] {
        &self.user_errors
    }
}

pub struct ContractPayload {
    applied: Option<Applied>,
    user_errors: Vec<UserError>,
}

#[Object]
impl ContractPayload {
    async fn contract(&self, ctx: &Context<'_>) -> Result<Option<Contract>> {
        contract_after(ctx, self.applied.as_ref()).await
    }
    async fn user_errors(&self) -> &[UserError] {
        &self.user_errors
    }
}

pub struct AssignSoftwareCoordinatorPayload {
    applied: Option<Applied>,
    user_errors: Vec<UserError>,
}

#[Object]
impl AssignSoftwareCoordinatorPayload {
    async fn contract(&self, ctx: &Context<'_>) -> Result<Option<Contract>> {
        contract_after(ctx, self.applied.as_ref()).await
    }
    async fn coordinator(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(id) = self.applied.as_ref().and_then(|a| a.users.first()) else {
            return Ok(None);
        };
        let store = &ctx.data_unchecked::<Ctx>().store;
        Ok(users::by_id(store.pool(), *id)
            .await?
            .map(|u| User(Arc::new(u))))
    }
    async fn user_errors(&self) -> &[UserError] {
        &self.user_errors
    }
}

/// The contract a change committed to, as the requester may see it now.
async fn contract_after(ctx: &Context<'_>, applied: Option<&Applied>) -> Result<Option<Contract>> {
    let Some(a) = applied.filter(|a| !a.dry_run) else {
        return Ok(None);
    };
    let store = &ctx.data_unchecked::<Ctx>().store;
    match contracts::by_id(store.pool(), a.contract_id).await? {
        Some(row) => Contract::visible(ctx, row).await,
        None => Ok(None),
    }
}

/// The members a change concerns, as they are now.
async fn members_after(ctx: &Context<'_>, applied: Option<&Applied>) -> Result<Vec<Member>> {
    let Some(contract) = contract_after(ctx, applied).await? else {
        return Ok(vec![]);
    };
    let ids = applied.map(|a| a.users.as_slice()).unwrap_or_default();
    load_members(ctx, &contract, ids).await
}

async fn load_members(
    ctx: &Context<'_>,
    contract: &Contract,
    ids_in: &[i64],
) -> Result<Vec<Member>> {
    let store = &ctx.data_unchecked::<Ctx>().store;
    let mut conn = store.pool().acquire().await?;
    let mut out = Vec::new();
    for id in ids_in {
        if let Some(m) = members::get(&mut conn, contract.row.id, *id).await? {
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

/// Reads an `AccessInput`: its contract product IDs in input order and its cloud service
/// names; problems name their entry under `field`.
fn access_spec(
    input: Option<&AccessInput>,
    field: &[&str],
    errs: &mut Vec<DomainError>,
) -> AccessSpec {
    let Some(input) = input else {
        return AccessSpec::default();
    };
    let mut product_field: Vec<&str> = field.to_vec();
    product_field.push("contractProductIds");
    let contract_products = decode_ids(
        Kind::ContractProduct,
        input.contract_product_ids.as_deref().unwrap_or_default(),
        &product_field,
        || DomainError::not_found("contract product"),
        errs,
    );
    let mut cloud = BTreeSet::new();
    for (i, s) in input.cloud_services.iter().flatten().enumerate() {
        match roster_domain::parse_code("cloudServices", s) {
            Ok(name) => {
                cloud.insert(name);
            }
            Err(e) => {
                let mut path: Vec<String> = field.iter().map(|s| s.to_string()).collect();
                path.extend(["cloudServices".to_string(), i.to_string()]);
                errs.push(DomainError {
                    field: Some(path),
                    ..e
                });
            }
        }
    }
    AccessSpec {
        contract_products,
        web_support: input.web_support,
        cloud_services: cloud,
    }
}

/// Decodes global IDs of one kind; an ID that is not one is refused at its entry of `field`.
fn decode_ids(
    kind: Kind,
    ids_in: &[ID],
    field: &[&str],
    refusal: impl Fn() -> DomainError,
    errs: &mut Vec<DomainError>,
) -> Vec<i64> {
    let mut out = Vec::new();
    for (i, id) in ids_in.iter().enumerate() {
        match ids::decode(kind, id) {
            Some(n) => out.push(n),
            None => {
                let mut path: Vec<String> = field.iter().map(|s| s.to_string()).collect();
                path.push(i.to_string());
                errs.push(refusal().at(path));
            }
        }
    }
    out
}

fn not_a_member() -> DomainError {
    DomainError::new(
        UserErrorCode::NotAMember,
        "that user is not on this contract",
    )
}

/// One user ID; one that is not a User's ID is refused as not a member.
fn decode_user(id: &ID, errs: &mut Vec<DomainError>) -> i64 {
    ids::decode(Kind::User, id).unwrap_or_else(|| {
        errs.push(not_a_member().at(["input", "userId"]));
        0
    })
}

/// Runs a change and splits its outcome into what the payload needs.
async fn change(
    ctx: &Context<'_>,
    contract_id: &ID,
    command: Command,
    input_errors: Vec<DomainError>,
    dry_run: bool,
) -> Result<(Option<Applied>, Vec<UserError>)> {
    let c = ctx.data_unchecked::<Ctx>();
    match c.change(contract_id, command, input_errors, dry_run).await {
        Ok(applied) => Ok((Some(applied), vec![])),
        Err(e) => Ok((None, errors::change_refusals(e)?)),
    }
}

#[derive(Default)]
pub struct RolesMutation;

#[Object]
impl RolesMutation {
    /// Names users on a contract, one or up to 50 at a time, all or nothing (R9, R10). Each gets
    /// a Get Started email; `access` is granted to all of them (R11).
    async fn add_users(&self, ctx: &Context<'_>, input: AddUsersInput) -> Result<AddUsersPayload> {
        let mut errs = Vec::new();
        let access = access_spec(input.access.as_ref(), &["input", "access"], &mut errs);
        let people = input.users.iter().map(|p| p.parse(&[])).collect();
        let dry_run = input.dry_run.unwrap_or(false);
        let command = Command::AddUsers { people, access };
        let (applied, user_errors) =
            change(ctx, &input.contract_id, command, errs, dry_run).await?;
        Ok(AddUsersPayload {
            applied,
            dry_run,
            user_errors,
        })
    }

    /// Removes a member (R28): seats, Named Caller status and SC assignments go with them.
    /// The Contract Manager cannot be removed.
    async fn remove_user(
        &self,
        ctx: &Context<'_>,
        input: RemoveUserInput,
    ) -> Result<ContractPayload> {
        let mut errs = Vec::new();
        let user = decode_user(&input.user_id, &mut errs);
        let (applied, user_errors) = change(
            ctx,
            &input.contract_id,
            Command::RemoveUser { user },
            errs,
            false,
        )
        .await?;
        Ok(ContractPayload {
            applied,
            user_errors,
        })
    }

    /// Grants and revokes access for members, all or nothing (R11); each member whose access
    /// changed gets one Permissions Changed email (R12).
    async fn set_user_access(
        &self,
        ctx: &Context<'_>,
        input: SetUserAccessInput,
    ) -> Result<MembersPayload> {
        let mut errs = Vec::new();
        let grant = access_spec(input.grant.as_ref(), &["input", "grant"], &mut errs);
        let revoke = access_spec(input.revoke.as_ref(), &["input", "revoke"], &mut errs);
        let users = decode_ids(
            Kind::User,
            &input.user_ids,
            &["input", "userIds"],
            not_a_member,
            &mut errs,
        );
        let command = Command::SetAccess {
            users,
            grant,
            revoke,
        };
        let (applied, user_errors) = change(ctx, &input.contract_id, command, errs, false).await?;
        Ok(MembersPayload {
            applied,
            user_errors,
        })
    }

    /// Makes a person the Software Coordinator of products (R4, R5); only the CM may (R6).
    async fn assign_software_coordinator(
        &self,
        ctx: &Context<'_>,
        input: AssignSoftwareCoordinatorInput,
    ) -> Result<AssignSoftwareCoordinatorPayload> {
        let mut errs = Vec::new();
        let products = decode_ids(
            Kind::ContractProduct,
            &input.contract_product_ids,
            &["input", "contractProductIds"],
            || DomainError::not_found("contract product"),
            &mut errs,
        );
        let (applied, user_errors) = match input.coordinator.parse(&["input", "coordinator"]) {
            Ok(person) => {
                let command = Command::AssignCoordinator { products, person };
                change(ctx, &input.contract_id, command, errs, false).await?
            }
            Err(e) => {
                // Still asked of the policy first: a stranger learns nothing from the input.
                errs.push(e);
                let command = Command::RemoveCoordinator { products: vec![] };
                change(ctx, &input.contract_id, command, errs, false).await?
            }
        };
        Ok(AssignSoftwareCoordinatorPayload {
            applied,
            user_errors,
        })
    }

    /// Removes the Software Coordinator of products; they fall back to the CM (R4, R6).
    async fn remove_software_coordinator(
        &self,
        ctx: &Context<'_>,
        input: RemoveSoftwareCoordinatorInput,
    ) -> Result<ContractPayload> {
        let mut errs = Vec::new();
        let products = decode_ids(
            Kind::ContractProduct,
            &input.contract_product_ids,
            &["input", "contractProductIds"],
            || DomainError::not_found("contract product"),
            &mut errs,
        );
        let command = Command::RemoveCoordinator { products };
        let (applied, user_errors) = change(ctx, &input.contract_id, command, errs, false).await?;
        Ok(ContractPayload {
            applied,
            user_errors,
        })
    }

    /// Sends a member their Get Started or Permissions Changed email again (admins).
    async fn resend_email(
        &self,
        ctx: &Context<'_>,
        input: ResendEmailInput,
    ) -> Result<ContractPayload> {
        let mut errs = Vec::new();
        let user = decode_user(&input.user_id, &mut errs);
        let kind = match input.kind {
            ResendKind::GetStarted => Resend::GetStarted,
            ResendKind::PermissionsChanged => Resend::PermissionsChanged,
        };
        let command = Command::Resend { user, kind };
        let (applied, user_errors) = change(ctx, &input.contract_id, command, errs, false).await?;
        Ok(ContractPayload {
            applied,
            user_errors,
        })
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
    let mut errs = Vec::new();
    let users = decode_ids(
        Kind::User,
        &input.user_ids,
        &["input", "userIds"],
        not_a_member,
        &mut errs,
    );
    let command = Command::NamedCallers { users, designate };
    let (applied, user_errors) = change(ctx, &input.contract_id, command, errs, false).await?;
    Ok(MembersPayload {
        applied,
        user_errors,
    })
}
