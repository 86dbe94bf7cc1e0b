//! Support cases, resellers and the Contract Manager change (R15-R18).

use super::context::Ctx;
use super::errors;
use super::errors::Result;
use super::events::Event;
use super::ids::{self, Kind};
use super::mutation::{Gate, PersonInput, gate};
use super::objects::{
    CaseStatus, Contract, Reseller, ResellerCaseAccess, SupportCase, User, find_reseller,
    reseller_access_of,
};
use super::scalars::UserError;
use super::support::{CaseGate, case_gate};
use super::support_objects::SupportCaseTopic;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use roster_domain::policy::Action;
use roster_domain::{DomainError, MAX_TEXT_LEN, parse_multiline, parse_text};
use roster_store::cases::{self, CaseRow, NewCase};
use roster_store::{contracts, resellers};
use std::sync::Arc;

#[derive(InputObject)]
pub struct CreateSupportCaseInput {
    pub contract_id: ID,
    pub subject: String,
    pub description: String,
    pub contract_product_id: Option<ID>,
    /// What the case is about (R34); GENERAL when absent. CHANGE_CONTRACT_MANAGER cases are
    /// opened with `requestContractManagerChange`.
    pub topic: Option<SupportCaseTopic>,
}

#[derive(InputObject)]
pub struct UpdateSupportCaseInput {
    pub support_case_id: ID,
    pub status: Option<CaseStatus>,
    pub comment: Option<String>,
}

#[derive(InputObject)]
pub struct RequestContractManagerChangeInput {
    pub contract_id: ID,
    pub new_manager: PersonInput,
    pub reason: Option<String>,
}

#[derive(InputObject)]
pub struct ResolveContractManagerChangeInput {
    pub support_case_id: ID,
    pub approve: bool,
}

#[derive(InputObject)]
pub struct SetResellerCaseAccessInput {
    pub contract_id: ID,
    pub reseller_id: ID,
    pub can_view_cases: bool,
}

#[derive(InputObject)]
pub struct CreateResellerInput {
    pub name: String,
    /// Contact details (R37), shown to the contract's members and named in RESELLER renewal
    /// notices.
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
}

#[derive(InputObject)]
pub struct AddResellerUserInput {
    pub reseller_id: ID,
    pub person: PersonInput,
}

#[derive(SimpleObject)]
pub struct SupportCasePayload {
    pub support_case: Option<SupportCase>,
    pub contract: Option<Contract>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct ResellerPayload {
    pub reseller: Option<Reseller>,
    pub user: Option<User>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct SetResellerCaseAccessPayload {
    pub contract: Option<Contract>,
    pub reseller_case_access: Vec<ResellerCaseAccess>,
    pub user_errors: Vec<UserError>,
}

fn case_payload(errs: Vec<UserError>) -> SupportCasePayload {
    SupportCasePayload {
        support_case: None,
        contract: None,
        user_errors: errs,
    }
}

fn one(e: DomainError) -> Vec<UserError> {
    vec![e.into()]
}

/// After a case was opened or changed: tell subscribers and answer with it.
fn case_changed(c: &Ctx, row: CaseRow, contract: Option<Contract>) -> SupportCasePayload {
    c.committed(Event::CaseUpdated {
        contract_id: row.contract_id,
        case_pk: row.id,
    });
    SupportCasePayload {
        support_case: Some(SupportCase { row: Arc::new(row) }),
        contract,
        user_errors: vec![],
    }
}

async fn reload_contract(ctx: &Context<'_>, id: i64) -> Result<Option<Contract>> {
    let store = &ctx.data_unchecked::<Ctx>().store;
    match contracts::by_id(store.pool(), id).await? {
        Some(row) => Contract::visible(ctx, row).await,
        None => Ok(None),
    }
}

#[derive(InputObject)]
pub struct RenewContractInput {
    pub contract_id: ID,
}

#[derive(InputObject)]
pub struct PublishReleaseInput {
    pub product_code: String,
    pub version: String,
}

#[derive(SimpleObject)]
pub struct PublishReleasePayload {
    /// New Release notices owed by this call (0 when the release was already published).
    pub notices: i64,
    pub user_errors: Vec<UserError>,
}

#[derive(Default)]
pub struct CasesMutation;

#[Object]
impl CasesMutation {
    /// Opens a support case (R17): admins and users granted Web Support. The case ID is given
    /// at once and the submitter gets a Support Case Received email with it.
    async fn create_support_case(
        &self,
        ctx: &Context<'_>,
        input: CreateSupportCaseInput,
    ) -> Result<SupportCasePayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let auth = match gate(ctx, &input.contract_id, |_| Action::OpenCase).await? {
            Gate::Open(auth) => auth,
            Gate::Refused(e) => return Ok(case_payload(e)),
        };
        let topic: roster_domain::CaseTopic =
            input.topic.unwrap_or(SupportCaseTopic::General).into();
        if topic == roster_domain::CaseTopic::ChangeContractManager {
            return Ok(case_payload(one(DomainError::new(
                roster_domain::UserErrorCode::InvalidInput,
                "ask for a new Contract Manager with requestContractManagerChange",
            )
            .at(["input", "topic"]))));
        }
        let mut product = None;
        if let Some(id) = &input.contract_product_id {
            match ids::decode(Kind::ContractProduct, id)
                .filter(|id| auth.snapshot.products.contains_key(id))
            {
                Some(id) => product = Some(id),
                None => {
                    return Ok(case_payload(one(DomainError::not_found(
                        "contract product",
                    )
                    .at(["input", "contractProductId"]))));
                }
            }
        }
        let user = c.require_user()?.clone();
        let subject = match parse_text("subject", &input.subject, MAX_TEXT_LEN) {
            Ok(s) => s,
            Err(e) => return Ok(case_payload(one(e.under(["input"])))),
        };
        let description = match parse_multiline("description", &input.description, 10_000) {
            Ok(s) => s,
            Err(e) => return Ok(case_payload(one(e.under(["input"])))),
        };
        let contract_id = auth.contract_id();
        let row = cases::open(
            auth,
            &user,
            NewCase {
                kind: roster_domain::CaseKind::General,
                topic,
                subject: &subject,
                description: &description,
                contract_product_id: product,
                proposed_manager: None,
            },
        )
        .await?;
        Ok(case_changed(
            c,
            row,
            reload_contract(ctx, contract_id).await?,
        ))
    }

    /// Staff change a case's status and comment on it (R17).
    async fn update_support_case(
        &self,
        ctx: &Context<'_>,
        input: UpdateSupportCaseInput,
    ) -> Result<SupportCasePayload> {
        let c = ctx.data_unchecked::<Ctx>();
        c.allow(&Action::UpdateSupportCase)?;
        let comment = match input
            .comment
            .as_deref()
            .map(|s| parse_multiline("comment", s, roster_domain::support::MAX_COMMENT_LEN))
        {
            Some(Err(e)) => return Ok(case_payload(one(e.under(["input"])))),
            Some(Ok(s)) => Some(s),
            None => None,
        };
        let (auth, row) =
            match case_gate(ctx, &input.support_case_id, |_| Action::UpdateSupportCase).await? {
                CaseGate::Open(open) => *open,
                CaseGate::Refused(e) => return Ok(case_payload(e)),
            };
        let row = match cases::update(
            auth,
            row.id,
            roster_domain::support::CaseAuthor::Staff,
            input.status.map(Into::into),
            comment.as_deref(),
        )
        .await
        {
            Ok(row) => row,
            Err(e) => return Ok(case_payload(errors::user_errors(e)?)),
        };
        Ok(case_changed(c, row, None))
    }

    /// Asks for a new Contract Manager (R15), as the current CM or as the proposed one. Opens a
    /// case of kind CHANGE_CONTRACT_MANAGER for staff to approve. Refused on AUTO contracts.
    //
    // Both ways go through the policy: proposing someone else is `RequestManagerChange` (the
    // CM), proposing yourself is `ProposeSelfAsManager` (any member). Everyone else is told what
    // a stranger is told about any contract (NOT_FOUND), and only after the policy allowed is
    // the contract's renewal kind looked at, so the AUTO refusal tells a stranger nothing.
    async fn request_contract_manager_change(
        &self,
        ctx: &Context<'_>,
        input: RequestContractManagerChangeInput,
    ) -> Result<SupportCasePayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let person = match input.new_manager.parse(&["input", "newManager"]) {
            Ok(p) => p,
            Err(e) => return Ok(case_payload(one(e))),
        };
        let proposes_self = c
            .user
            .as_ref()
            .is_some_and(|u| u.email.eq_ignore_ascii_case(person.email.as_str()));
        let action = if proposes_self {
            Action::ProposeSelfAsManager
        } else {
            Action::RequestManagerChange
        };
        let auth = match gate(ctx, &input.contract_id, |_| action).await? {
            Gate::Open(auth) => auth,
            Gate::Refused(e) => return Ok(case_payload(e)),
        };
        let user = c.require_user()?.clone();
        if auth.snapshot.contract.renewal == roster_domain::RenewalKind::Auto {
            return Ok(case_payload(one(
                roster_domain::support::auto_renew_refusal().at(["input", "contractId"]),
            )));
        }
        let reason = match input
            .reason
            .as_deref()
            .map(|r| parse_multiline("reason", r, 2_000))
        {
            Some(Err(e)) => return Ok(case_payload(one(e.under(["input"])))),
            Some(Ok(r)) => r,
            None => "No reason given.".to_string(),
        };
        let subject = format!("Change the Contract Manager to {}", person.email);
        let row = cases::open(
            auth,
            &user,
            NewCase {
                kind: roster_domain::CaseKind::ChangeContractManager,
                topic: roster_domain::CaseTopic::ChangeContractManager,
                subject: &subject,
                description: &reason,
                contract_product_id: None,
                proposed_manager: Some(&person),
            },
        )
        .await?;
        Ok(case_changed(c, row, None))
    }

    /// Staff approve or decline a Contract Manager change (R16): on approval the role moves in
    /// one step and both people get a Contract Manager Changed email.
    async fn resolve_contract_manager_change(
        &self,
        ctx: &Context<'_>,
        input: ResolveContractManagerChangeInput,
    ) -> Result<SupportCasePayload> {
        let c = ctx.data_unchecked::<Ctx>();
        c.allow(&Action::ResolveContractManagerChange)?;
        let (auth, row) = match case_gate(ctx, &input.support_case_id, |_| {
            Action::ResolveContractManagerChange
        })
        .await?
        {
            CaseGate::Open(open) => *open,
            CaseGate::Refused(e) => return Ok(case_payload(e)),
        };
        match cases::resolve_manager_change(auth, row.id, input.approve).await {
            Ok(row) => {
                c.committed(Event::CaseUpdated {
                    contract_id: row.contract_id,
                    case_pk: row.id,
                });
                c.events.publish(Event::ContractChanged {
                    contract_id: row.contract_id,
                    kind: "contract_manager".into(),
                });
                Ok(SupportCasePayload {
                    contract: reload_contract(ctx, row.contract_id).await?,
                    support_case: Some(SupportCase { row: Arc::new(row) }),
                    user_errors: vec![],
                })
            }
            Err(e) => Ok(case_payload(errors::user_errors(e)?)),
        }
    }

    /// Lets a reseller read this contract's cases, or stops it at once (R18). CM or any SC.
    async fn set_reseller_case_access(
        &self,
        ctx: &Context<'_>,
        input: SetResellerCaseAccessInput,
    ) -> Result<SetResellerCaseAccessPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let refused = |errs| SetResellerCaseAccessPayload {
            contract: None,
            reseller_case_access: vec![],
            user_errors: errs,
        };
        let auth = match gate(ctx, &input.contract_id, |_| Action::ManageContractSettings).await? {
            Gate::Open(auth) => auth,
            Gate::Refused(e) => return Ok(refused(e)),
        };
        let reseller = find_reseller(ctx, &input.reseller_id).await?;
        let Some(reseller) = reseller else {
            return Ok(refused(one(
                DomainError::not_found("reseller").at(["input", "resellerId"])
            )));
        };
        let contract_id = auth.contract_id();
        if let Err(e) = resellers::set_case_access(auth, &reseller, input.can_view_cases).await {
            return Ok(refused(errors::user_errors(e)?));
        }
        c.committed(Event::ContractChanged {
            contract_id,
            kind: "reseller_access".into(),
        });
        Ok(SetResellerCaseAccessPayload {
            reseller_case_access: reseller_access_of(ctx, contract_id).await?,
            contract: reload_contract(ctx, contract_id).await?,
            user_errors: vec![],
        })
    }

    /// Renews the contract for another billing period (R20): the CM only, from 90 days before
    /// the end date. An expired contract becomes ACTIVE again with its members' seats.
    async fn renew_contract(
        &self,
        ctx: &Context<'_>,
        input: RenewContractInput,
    ) -> Result<SupportCasePayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let auth = match gate(ctx, &input.contract_id, |_| Action::ManageBilling).await? {
            Gate::Open(auth) => auth,
            Gate::Refused(e) => return Ok(case_payload(e)),
        };
        let today = chrono::Utc::now().date_naive();
        match roster_store::renewals::renew_by_hand(&c.store, auth, today).await {
            Ok(row) => {
                c.committed(Event::ContractChanged {
                    contract_id: row.id,
                    kind: "renewed".into(),
                });
                Ok(SupportCasePayload {
                    support_case: None,
                    contract: Contract::visible(ctx, row).await?,
                    user_errors: vec![],
                })
            }
            Err(e) => Ok(case_payload(errors::user_errors(e)?)),
        }
    }

    /// Staff publish a release (R23): the effective SC of every active contract product of the
    /// product gets a New Release notice, once per contract product and release.
    async fn publish_release(
        &self,
        ctx: &Context<'_>,
        input: PublishReleaseInput,
    ) -> Result<PublishReleasePayload> {
        let c = ctx.data_unchecked::<Ctx>();
        c.allow(&Action::PublishRelease)?;
        let refused = |e: DomainError| PublishReleasePayload {
            notices: 0,
            user_errors: one(e.under(["input"])),
        };
        let code = match roster_domain::parse_code("productCode", &input.product_code) {
            Ok(v) => v,
            Err(e) => return Ok(refused(e)),
        };
        let version = match roster_domain::parse_code("version", &input.version) {
            Ok(v) => v,
            Err(e) => return Ok(refused(e)),
        };
        match roster_store::renewals::publish_release(&c.store, &c.actor(), &code, &version).await {
            Ok(n) => {
                c.wake.notify_one();
                Ok(PublishReleasePayload {
                    notices: n as i64,
                    user_errors: vec![],
                })
            }
            Err(e) => Ok(PublishReleasePayload {
                notices: 0,
                user_errors: errors::user_errors(e)?,
            }),
        }
    }

    /// Staff register a reseller.
    async fn create_reseller(
        &self,
        ctx: &Context<'_>,
        input: CreateResellerInput,
    ) -> Result<ResellerPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        c.allow(&Action::ManageResellers)?;
        let refused = |e: DomainError| ResellerPayload {
            reseller: None,
            user: None,
            user_errors: one(e.under(["input"])),
        };
        let name = match parse_text("name", &input.name, MAX_TEXT_LEN) {
            Ok(n) => n,
            Err(e) => return Ok(refused(e)),
        };
        let email = match input.email.as_deref().map(roster_domain::Email::parse) {
            Some(Err(e)) => return Ok(refused(e.at(["email"]))),
            Some(Ok(e)) => Some(e.as_str().to_string()),
            None => None,
        };
        let contact =
            |field: &'static str,
             raw: &Option<String>,
             parse: fn(&str) -> std::result::Result<String, String>| {
                raw.as_deref()
                    .map(|r| {
                        parse(r).map_err(|m| {
                            DomainError::new(roster_domain::UserErrorCode::InvalidInput, m)
                                .at([field])
                        })
                    })
                    .transpose()
            };
        let phone = match contact("phone", &input.phone, roster_domain::support::parse_phone) {
            Ok(p) => p,
            Err(e) => return Ok(refused(e)),
        };
        let website = match contact(
            "website",
            &input.website,
            roster_domain::support::parse_website,
        ) {
            Ok(w) => w,
            Err(e) => return Ok(refused(e)),
        };
        let r = resellers::create(
            c.store.pool(),
            &resellers::NewReseller {
                name,
                email,
                phone,
                website,
            },
        )
        .await?;
        Ok(ResellerPayload {
            reseller: Some(r.into()),
            user: None,
            user_errors: vec![],
        })
    }

    /// Staff add a user to a reseller; they get a Get Started email and sign in like anyone.
    async fn add_reseller_user(
        &self,
        ctx: &Context<'_>,
        input: AddResellerUserInput,
    ) -> Result<ResellerPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        c.allow(&Action::ManageResellers)?;
        let refused = |errs| ResellerPayload {
            reseller: None,
            user: None,
            user_errors: errs,
        };
        let reseller = find_reseller(ctx, &input.reseller_id).await?;
        let Some(reseller) = reseller else {
            return Ok(refused(one(
                DomainError::not_found("reseller").at(["input", "resellerId"])
            )));
        };
        let person = match input.person.parse(&["input", "person"]) {
            Ok(p) => p,
            Err(e) => return Ok(refused(one(e))),
        };
        let user = resellers::add_user(&c.store, &c.actor(), &reseller, &person).await?;
        // Now a reseller's user: what their sessions may see changed.
        c.sessions.forget_user(user.id).await;
        c.wake.notify_one();
        Ok(ResellerPayload {
            reseller: Some(reseller.into()),
            user: Some(User(Arc::new(user))),
            user_errors: vec![],
        })
    }
}
