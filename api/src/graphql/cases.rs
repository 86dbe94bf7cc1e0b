//! Support cases, resellers and the Contract Manager change (R15-R18).

use super::context::{Ctx, contract_standing};
use super::errors;
use super::events::Event;
use super::ids::{self, Kind};
use super::mutation::PersonInput;
use super::roles::{Gate, gate};
use super::types::{
    ConnectionFields, Contract, ContractProduct, Date, User, UserError, connection, page_args,
};
use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use roster_domain::policy::{Action, Decision, Principal, decide};
use roster_domain::{DomainError, MAX_TEXT_LEN, parse_multiline, parse_text};
use roster_store::cases::{self, CaseRow, CaseSearch, NewCase};
use roster_store::{contracts, resellers};
use std::sync::Arc;

/// Where a case stands.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(name = "SupportCaseStatus")]
pub enum CaseStatus {
    Open,
    InProgress,
    Resolved,
    Closed,
}

impl CaseStatus {
    fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "OPEN",
            CaseStatus::InProgress => "IN_PROGRESS",
            CaseStatus::Resolved => "RESOLVED",
            CaseStatus::Closed => "CLOSED",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "IN_PROGRESS" => CaseStatus::InProgress,
            "RESOLVED" => CaseStatus::Resolved,
            "CLOSED" => CaseStatus::Closed,
            _ => CaseStatus::Open,
        }
    }
}

/// What a case is about.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(name = "SupportCaseKind")]
pub enum CaseKind {
    General,
    ChangeContractManager,
}

/// A support case (R17).
#[derive(Clone)]
pub struct SupportCase {
    pub row: Arc<CaseRow>,
}

/// A comment on a case.
#[derive(SimpleObject, Clone)]
pub struct CaseComment {
    /// `staff:<id>` or `user:<id>`.
    pub author: String,
    pub body: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Who opened a case.
#[derive(SimpleObject, Clone)]
pub struct CaseSubmitter {
    pub email: String,
}

fn time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[Object]
impl SupportCase {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::SupportCase, self.row.id)
    }
    /// The human-friendly case ID, e.g. `RC-7KQ2-M9XD`.
    async fn case_id(&self) -> &str {
        &self.row.case_id
    }
    async fn kind(&self) -> CaseKind {
        if self.row.kind == "CHANGE_CONTRACT_MANAGER" {
            CaseKind::ChangeContractManager
        } else {
            CaseKind::General
        }
    }
    async fn subject(&self) -> &str {
        &self.row.subject
    }
    async fn description(&self) -> &str {
        &self.row.description
    }
    async fn status(&self) -> CaseStatus {
        CaseStatus::parse(&self.row.status)
    }
    async fn submitter(&self) -> CaseSubmitter {
        CaseSubmitter {
            email: self.row.submitter_email.clone(),
        }
    }
    async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        time(self.row.created_at)
    }
    async fn updated_at(&self) -> chrono::DateTime<chrono::Utc> {
        time(self.row.updated_at)
    }
    /// The product the case is about, if any.
    async fn contract_product(&self, ctx: &Context<'_>) -> Result<Option<ContractProduct>> {
        let Some(id) = self.row.contract_product_id else {
            return Ok(None);
        };
        let store = &ctx.data_unchecked::<Ctx>().store;
        let Some(row) = contracts::product_by_id(store.pool(), id)
            .await
            .map_err(errors::store)?
        else {
            return Ok(None);
        };
        // What the reader may see of the product is what they may see on its contract.
        let Some(contract) = super::query::contract_by_id(ctx, row.contract_id).await? else {
            return Ok(None);
        };
        Ok(Some(ContractProduct {
            secrets: contract.allows(
                ctx,
                &Action::ViewProductSecrets {
                    contract_product: row.id,
                },
            ),
            people: !contract.reader_only(),
            row: Arc::new(row),
        }))
    }
    async fn comments(&self, ctx: &Context<'_>) -> Result<Vec<CaseComment>> {
        let store = &ctx.data_unchecked::<Ctx>().store;
        Ok(cases::comments(store.pool(), self.row.id)
            .await
            .map_err(errors::store)?
            .into_iter()
            .map(|c| CaseComment {
                author: c.author,
                body: c.body,
                created_at: time(c.created_at),
            })
            .collect())
    }
    /// The contract of the case.
    async fn contract(&self, ctx: &Context<'_>) -> Result<Option<Contract>> {
        let store = &ctx.data_unchecked::<Ctx>().store;
        match contracts::by_id(store.pool(), self.row.contract_id)
            .await
            .map_err(errors::store)?
        {
            Some(row) => Contract::visible(ctx, row).await,
            None => Ok(None),
        }
    }
}

/// A reseller.
#[derive(SimpleObject, Clone)]
pub struct Reseller {
    pub id: ID,
    pub name: String,
}

impl From<resellers::ResellerRow> for Reseller {
    fn from(r: resellers::ResellerRow) -> Self {
        Reseller {
            id: ids::encode(Kind::Reseller, r.id),
            name: r.name,
        }
    }
}

/// Whether a reseller may read a contract's cases (R18).
#[derive(SimpleObject, Clone)]
pub struct ResellerCaseAccess {
    pub reseller: Reseller,
    pub can_view_cases: bool,
}

/// How to search a contract's cases (R17).
#[derive(InputObject, Clone, Default)]
pub struct SupportCaseSearch {
    /// Submitted on or after this day.
    pub from: Option<Date>,
    /// Submitted on or before this day.
    pub to: Option<Date>,
    /// Words in the subject or description.
    pub keyword: Option<String>,
    pub case_id: Option<String>,
    /// Only cases I created.
    pub only_mine: Option<bool>,
}

fn day_ms(d: chrono::NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp_millis()
}

/// `Contract.supportCases`: for whoever may see the contract's cases (R17, R18).
pub async fn contract_cases(
    ctx: &Context<'_>,
    contract: &Contract,
    search: Option<SupportCaseSearch>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Option<Connection<String, SupportCase, ConnectionFields>>> {
    if !contract.allows(ctx, &Action::ViewCases) {
        return Ok(None);
    }
    let c = ctx.data_unchecked::<Ctx>();
    let (limit, offset) = page_args(first, after.as_deref())?;
    let search = search.unwrap_or_default();
    let keyword = match search.keyword.as_deref().map(str::trim) {
        Some(k) if k.chars().count() > 100 => {
            return Err(async_graphql::Error::new(
                "keyword is at most 100 characters",
            ));
        }
        Some(k) if !k.is_empty() => Some(k.to_string()),
        _ => None,
    };
    let query = CaseSearch {
        from: search.from.map(|d| day_ms(d.0)),
        to: search.to.map(|d| day_ms(d.0) + 24 * 3600 * 1000),
        keyword,
        case_id: search
            .case_id
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        submitter: if search.only_mine.unwrap_or(false) {
            Some(c.user.as_ref().map_or(0, |u| u.id))
        } else {
            None
        },
    };
    let (rows, total) = cases::search(c.store.pool(), contract.row.id, &query, offset, limit + 1)
        .await
        .map_err(errors::store)?;
    let nodes = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| (offset + i as i64 + 1, SupportCase { row: Arc::new(r) }))
        .collect();
    Ok(Some(connection(nodes, limit, offset > 0, total)))
}

/// A case by its case ID, if the caller may see its contract's cases.
pub async fn case_by_case_id(ctx: &Context<'_>, case_id: &str) -> Result<Option<SupportCase>> {
    let c = ctx.data_unchecked::<Ctx>();
    let Some(row) = cases::by_case_id(c.store.pool(), case_id.trim())
        .await
        .map_err(errors::store)?
    else {
        return Ok(None);
    };
    visible_case(ctx, row).await
}

/// The case, if the caller may read its contract's cases.
pub async fn visible_case(ctx: &Context<'_>, row: CaseRow) -> Result<Option<SupportCase>> {
    let c = ctx.data_unchecked::<Ctx>();
    let Some(contract) = contracts::by_id(c.store.pool(), row.contract_id)
        .await
        .map_err(errors::store)?
    else {
        return Ok(None);
    };
    let standing = contract_standing(ctx, &contract).await?;
    match decide(c.principal, standing.as_ref(), &Action::ViewCases) {
        Decision::Allow => Ok(Some(SupportCase { row: Arc::new(row) })),
        Decision::Unauthenticated => Err(errors::unauthenticated()),
        _ => Ok(None),
    }
}

#[derive(InputObject)]
pub struct CreateSupportCaseInput {
    pub contract_id: ID,
    pub subject: String,
    pub description: String,
    pub contract_product_id: Option<ID>,
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

/// The View Cases settings of a contract, for admins.
pub async fn reseller_access_of(
    ctx: &Context<'_>,
    contract_id: i64,
) -> Result<Vec<ResellerCaseAccess>> {
    let store = &ctx.data_unchecked::<Ctx>().store;
    Ok(resellers::case_access(store.pool(), contract_id)
        .await
        .map_err(errors::store)?
        .into_iter()
        .map(|(r, can_view_cases)| ResellerCaseAccess {
            reseller: r.into(),
            can_view_cases,
        })
        .collect())
}

/// The reseller a global ID names, if it exists.
pub async fn find_reseller(ctx: &Context<'_>, id: &ID) -> Result<Option<resellers::ResellerRow>> {
    let Some(n) = ids::decode(Kind::Reseller, id) else {
        return Ok(None);
    };
    let store = &ctx.data_unchecked::<Ctx>().store;
    resellers::by_id(store.pool(), n)
        .await
        .map_err(errors::store)
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

async fn staff_case(ctx: &Context<'_>, id: &ID, action: Action) -> Result<Option<CaseRow>> {
    let c = ctx.data_unchecked::<Ctx>();
    c.allow(&action)?;
    let Some(pk) = ids::decode(Kind::SupportCase, id) else {
        return Ok(None);
    };
    cases::by_pk(c.store.pool(), pk)
        .await
        .map_err(errors::store)
}

async fn reload_contract(ctx: &Context<'_>, id: i64) -> Result<Option<Contract>> {
    let store = &ctx.data_unchecked::<Ctx>().store;
    match contracts::by_id(store.pool(), id)
        .await
        .map_err(errors::store)?
    {
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
                kind: "GENERAL",
                subject: &subject,
                description: &description,
                contract_product_id: product,
                proposed_manager: None,
            },
        )
        .await
        .map_err(errors::store)?;
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
        let Some(row) = staff_case(ctx, &input.support_case_id, Action::UpdateSupportCase).await?
        else {
            return Ok(case_payload(one(
                DomainError::not_found("support case").at(["input", "supportCaseId"])
            )));
        };
        let comment = match input
            .comment
            .as_deref()
            .map(|s| parse_multiline("comment", s, 10_000))
        {
            Some(Err(e)) => return Ok(case_payload(one(e.under(["input"])))),
            Some(Ok(s)) => Some(s),
            None => None,
        };
        let row = cases::update(
            &c.store,
            &c.actor(),
            row.id,
            input.status.map(CaseStatus::as_str),
            comment.as_deref(),
        )
        .await
        .map_err(errors::store)?;
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
                cases::auto_renew_refusal().at(["input", "contractId"])
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
                kind: "CHANGE_CONTRACT_MANAGER",
                subject: &subject,
                description: &reason,
                contract_product_id: None,
                proposed_manager: Some(&person),
            },
        )
        .await
        .map_err(errors::store)?;
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
        let Some(row) = staff_case(
            ctx,
            &input.support_case_id,
            Action::ResolveContractManagerChange,
        )
        .await?
        else {
            return Ok(case_payload(one(
                DomainError::not_found("support case").at(["input", "supportCaseId"])
            )));
        };
        match cases::resolve_manager_change(&c.store, &c.actor(), row.id, input.approve).await {
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
        resellers::set_case_access(auth, reseller.id, input.can_view_cases)
            .await
            .map_err(errors::store)?;
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
        match roster_store::renewals::renew_by_hand(auth, today).await {
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
        let name = match parse_text("name", &input.name, MAX_TEXT_LEN) {
            Ok(n) => n,
            Err(e) => {
                return Ok(ResellerPayload {
                    reseller: None,
                    user: None,
                    user_errors: one(e.under(["input"])),
                });
            }
        };
        let r = resellers::create(c.store.pool(), &name)
            .await
            .map_err(errors::store)?;
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
        let user = resellers::add_user(&c.store, &c.actor(), &reseller, &person)
            .await
            .map_err(errors::store)?;
        c.wake.notify_one();
        Ok(ResellerPayload {
            reseller: Some(reseller.into()),
            user: Some(User(Arc::new(user))),
            user_errors: vec![],
        })
    }
}

/// Checks that the caller is not anonymous (for subscriptions and staff-or-user queries).
pub fn signed_in(ctx: &Context<'_>) -> Result<()> {
    if ctx.data_unchecked::<Ctx>().principal == Principal::Anonymous {
        return Err(errors::unauthenticated());
    }
    Ok(())
}
