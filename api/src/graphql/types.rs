//! GraphQL object types. Each wraps stored rows and asks the policy before revealing anything.

use super::context::{Ctx, contract_standing};
use super::errors;
use super::ids::{self, Kind};
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::NaiveDate;
use roster_domain::policy::{Action, Decision, Standing, decide};
use roster_domain::rules;
use roster_store::contracts::{self, ContractProductRow, ContractRow};
use roster_store::users::UserRow;
use std::sync::Arc;

/// A calendar date written `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

#[async_graphql::Scalar(name = "Date")]
impl async_graphql::ScalarType for Date {
    fn parse(value: async_graphql::Value) -> async_graphql::InputValueResult<Self> {
        match &value {
            async_graphql::Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| {
                    async_graphql::InputValueError::custom("a Date is written YYYY-MM-DD")
                }),
            _ => Err(async_graphql::InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

/// Support level of a contract (R13).
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(name = "SupportLevel", remote = "roster_domain::SupportLevel")]
pub enum SupportLevelGql {
    Basic,
    Advanced,
}

/// How a contract renews (R20, R22).
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(name = "RenewalKind", remote = "roster_domain::RenewalKind")]
pub enum RenewalKindGql {
    Auto,
    Reseller,
    Manual,
}

/// Length of one term.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(name = "BillingPeriod", remote = "roster_domain::BillingPeriod")]
pub enum BillingPeriodGql {
    Monthly,
    Quarterly,
    Annual,
    MultiYear,
}

/// Lifecycle of a contract (R19, R22).
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(name = "ContractStatus", remote = "roster_domain::ContractStatus")]
pub enum ContractStatusGql {
    Processing,
    Active,
    Expired,
}

/// The four roles of R1.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(name = "Role", remote = "roster_domain::Role")]
pub enum RoleGql {
    ContractManager,
    SoftwareCoordinator,
    User,
    NamedCaller,
}

/// Membership status (R21).
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(name = "MemberStatus", remote = "roster_domain::MemberStatus")]
pub enum MemberStatusGql {
    Pending,
    Active,
}

/// Terms a user accepts (R5).
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(name = "TermsKind", remote = "roster_domain::TermsKind")]
pub enum TermsKindGql {
    Subscriber,
    Coordinator,
}

/// Why a mutation refused: the rule of DOMAIN.md it names.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(name = "UserErrorCode", remote = "roster_domain::UserErrorCode")]
pub enum UserErrorCodeGql {
    InvalidEmail,
    InvalidInput,
    NotFound,
    SeatLimitReached,
    NamedCallerLimitReached,
    NotANamedUser,
    BasicSupportContract,
    AutoRenewContract,
    BulkLimitExceeded,
    DuplicateEntry,
    TermsNotAccepted,
    RenewalWindowNotOpen,
    ContractManagerRequired,
    OrderConflict,
    InvalidCredentials,
    InvalidToken,
    WeakPassword,
    AlreadyMember,
    NotAMember,
    ContractNotActive,
    TooManyAttempts,
}

/// A refused business rule: the request changed nothing.
#[derive(SimpleObject, Debug, Clone)]
pub struct UserError {
    pub code: UserErrorCodeGql,
    /// Path of the input field concerned, e.g. `["input", "users", "3", "email"]`.
    pub field: Option<Vec<String>>,
    pub message: String,
}

/// Extra fields of every connection.
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct ConnectionFields {
    pub total_count: i64,
}

/// Largest page a connection returns.
pub const MAX_PAGE: i32 = 100;
/// Page size when `first` is not given.
pub const DEFAULT_PAGE: i32 = 20;

/// Checks `first` and decodes `after` (a cursor is the decimal id of the last row seen).
pub fn page_args(first: Option<i32>, after: Option<&str>) -> Result<(i64, i64)> {
    let first = first.unwrap_or(DEFAULT_PAGE);
    if !(0..=MAX_PAGE).contains(&first) {
        return Err(async_graphql::Error::new(format!(
            "first must be between 0 and {MAX_PAGE}"
        )));
    }
    let after = match after {
        None => 0,
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| async_graphql::Error::new("after is not a cursor of this connection"))?,
    };
    Ok((i64::from(first), after))
}

/// Builds a connection from one page fetched with `limit + 1` rows.
pub fn connection<N: async_graphql::OutputType>(
    mut rows: Vec<(i64, N)>,
    limit: i64,
    has_previous: bool,
    total: i64,
) -> Connection<String, N, ConnectionFields> {
    let has_next = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let mut conn = Connection::with_additional_fields(
        has_previous,
        has_next,
        ConnectionFields { total_count: total },
    );
    conn.edges.extend(
        rows.into_iter()
            .map(|(id, node)| Edge::new(id.to_string(), node)),
    );
    conn
}

/// A customer organisation.
#[derive(SimpleObject, Clone, Debug)]
pub struct Company {
    pub id: ID,
    pub name: String,
}

/// A contract term.
#[derive(SimpleObject, Clone, Debug)]
pub struct Term {
    pub start_date: Date,
    pub end_date: Date,
    pub billing_period: BillingPeriodGql,
}

/// A User ID.
#[derive(Clone, Debug)]
pub struct User(pub Arc<UserRow>);

#[Object]
impl User {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::User, self.0.id)
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn first_name(&self) -> &str {
        &self.0.first_name
    }
    async fn last_name(&self) -> &str {
        &self.0.last_name
    }
    async fn language(&self) -> &str {
        &self.0.language
    }
}

/// A contract, as seen by one actor (its standing decides which fields resolve).
#[derive(Clone)]
pub struct Contract {
    pub row: Arc<ContractRow>,
    pub standing: Arc<Option<Standing>>,
    /// The contract's products, loaded once per request by whichever field needs them first.
    products: Arc<tokio::sync::OnceCell<Vec<ContractProductRow>>>,
}

impl Contract {
    /// Loads the contract if `ctx`'s actor may see it; otherwise it does not exist for them.
    pub async fn visible(ctx: &Context<'_>, row: ContractRow) -> Result<Option<Contract>> {
        let standing = contract_standing(ctx, &row).await?;
        let c = ctx.data_unchecked::<Ctx>();
        match decide(c.principal, standing.as_ref(), &Action::ViewContract) {
            Decision::Allow => Ok(Some(Contract::with_standing(row, standing))),
            Decision::Unauthenticated => Err(errors::unauthenticated()),
            _ => Ok(None),
        }
    }

    /// Wraps a contract whose standing was already judged visible (lists load standings in
    /// bulk).
    pub fn with_standing(row: ContractRow, standing: Option<Standing>) -> Contract {
        Contract {
            row: Arc::new(row),
            standing: Arc::new(standing),
            products: Arc::default(),
        }
    }

    /// The contract's products, from the database the first time a request asks.
    pub async fn product_rows(&self, ctx: &Context<'_>) -> Result<&[ContractProductRow]> {
        let store = &ctx.data_unchecked::<Ctx>().store;
        let rows = self
            .products
            .get_or_try_init(|| contracts::products(store.pool(), self.row.id))
            .await
            .map_err(errors::store)?;
        Ok(rows)
    }

    pub fn allows(&self, ctx: &Context<'_>, action: &Action) -> bool {
        decide(
            ctx.data_unchecked::<Ctx>().principal,
            self.standing.as_ref().as_ref(),
            action,
        )
        .is_allowed()
    }
}

#[Object]
impl Contract {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Contract, self.row.id)
    }
    async fn number(&self) -> &str {
        &self.row.number
    }
    /// `null` for a reseller reading cases: they see number, company and products only (R18).
    async fn status(&self) -> Result<Option<ContractStatusGql>> {
        if self.reader_only() {
            return Ok(None);
        }
        Ok(Some(self.row.status.into()))
    }
    async fn support_level(&self) -> Result<Option<SupportLevelGql>> {
        if self.reader_only() {
            return Ok(None);
        }
        Ok(Some(self.row.support_level.into()))
    }
    async fn renewal_kind(&self) -> Result<Option<RenewalKindGql>> {
        if self.reader_only() {
            return Ok(None);
        }
        Ok(Some(self.row.renewal_kind.into()))
    }
    /// The current term. Billing is the Contract Manager's (R8), but every member sees the dates.
    async fn term(&self) -> Result<Option<Term>> {
        if self.reader_only() {
            return Ok(None);
        }
        Ok(Some(Term {
            start_date: Date(*self.row.start_date),
            end_date: Date(*self.row.end_date),
            billing_period: self.row.billing_period.into(),
        }))
    }
    async fn company(&self) -> Company {
        Company {
            id: ids::encode(Kind::Company, self.row.company_id),
            name: self.row.company_name.clone(),
        }
    }
    /// The Contract Manager (R2).
    async fn contract_manager(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        if !self.allows(ctx, &Action::ViewMembers) && !self.is_member(ctx) {
            return Ok(None);
        }
        let store = &ctx.data_unchecked::<Ctx>().store;
        let cm = contracts::manager(store.pool(), self.row.id)
            .await
            .map_err(errors::store)?;
        Ok(Some(User(Arc::new(cm))))
    }
    /// The contract's products; serial numbers, keys and seats only for those who may see them.
    async fn products(&self, ctx: &Context<'_>) -> Result<Vec<ContractProduct>> {
        let rows = self.product_rows(ctx).await?;
        Ok(rows
            .iter()
            .cloned()
            .map(|row| {
                let secrets = self.allows(
                    ctx,
                    &Action::ViewProductSecrets {
                        contract_product: row.id,
                    },
                );
                ContractProduct {
                    row: Arc::new(row),
                    secrets,
                    people: !self.reader_only(),
                }
            })
            .collect())
    }
    /// Members, sorted by name, filtered and searched by name or email (R21, R27); admins
    /// only (`null` for others).
    async fn members(
        &self,
        ctx: &Context<'_>,
        filter: Option<MemberFilter>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<String, super::roles::Member, ConnectionFields>>> {
        if !self.allows(ctx, &Action::ViewMembers) {
            return Ok(None);
        }
        let (limit, offset) = page_args(first, after.as_deref())?;
        let filter = filter.unwrap_or_default();
        let support = self.row.support_level;
        let contract_products = filter.contract_product_ids.as_ref().map(|ids_in| {
            ids_in
                .iter()
                .filter_map(|id| ids::decode(Kind::ContractProduct, id))
                .collect()
        });
        let search = match search.as_deref().map(str::trim) {
            Some(s) if s.chars().count() > 100 => {
                return Err(async_graphql::Error::new(
                    "search is at most 100 characters",
                ));
            }
            Some(s) if !s.is_empty() => Some(s.to_string()),
            _ => None,
        };
        let store_filter = roster_store::members::MemberFilter {
            contract_products,
            web_support: filter.web_support,
            status: filter
                .status
                .map(|s| roster_domain::MemberStatus::from(s).as_str().to_string()),
            role: filter.role.map(Into::into),
            search,
        };
        let store = &ctx.data_unchecked::<Ctx>().store;
        let mut conn = store
            .pool()
            .acquire()
            .await
            .map_err(|e| errors::internal(&e))?;
        let (rows, total) = roster_store::members::page(
            &mut conn,
            self.row.id,
            support,
            &store_filter,
            offset,
            limit + 1,
        )
        .await
        .map_err(errors::store)?;
        drop(conn);
        let members = super::roles::Member::wrap(ctx, self, rows).await?;
        let nodes = members
            .into_iter()
            .enumerate()
            .map(|(i, m)| (offset + i as i64 + 1, m))
            .collect();
        Ok(Some(connection(nodes, limit, offset > 0, total)))
    }

    /// Every change to roles, access, Named Callers and contract state, newest first (R25);
    /// admins only (`null` for others).
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditLogFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<String, AuditEntry, ConnectionFields>>> {
        if !self.allows(ctx, &Action::ViewMembers) {
            return Ok(None);
        }
        let (limit, after_id) = page_args(first, after.as_deref())?;
        let before = if after_id > 0 { after_id } else { i64::MAX };
        let filter = filter.unwrap_or_default();
        let actor = match &filter.actor {
            None => None,
            Some(id) => Some(match ids::decode(Kind::User, id) {
                Some(n) => format!("user:{n}"),
                None if id.as_str() == "system" || id.starts_with("staff:") => id.to_string(),
                None => {
                    return Err(async_graphql::Error::new(
                        "actor is a user ID, staff:<id> or system",
                    ));
                }
            }),
        };
        let store_filter = roster_store::audit::AuditFilter {
            actor,
            kind: filter.kind.clone(),
            from: filter.from.map(|t| t.timestamp_millis()),
            to: filter.to.map(|t| t.timestamp_millis()),
        };
        let store = &ctx.data_unchecked::<Ctx>().store;
        let (rows, total) = roster_store::audit::for_contract(
            store.pool(),
            self.row.id,
            &store_filter,
            before,
            limit + 1,
        )
        .await
        .map_err(errors::store)?;
        let nodes = rows
            .into_iter()
            .map(|r| {
                let entry = AuditEntry {
                    id: ids::encode(Kind::AuditEntry, r.id),
                    actor: r.actor,
                    kind: r.kind,
                    detail: async_graphql::Json(
                        serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
                    ),
                    at: chrono::DateTime::from_timestamp_millis(r.at).unwrap_or_default(),
                };
                (r.id, entry)
            })
            .collect();
        Ok(Some(connection(nodes, limit, after_id > 0, total)))
    }

    /// The contract's cases, newest first, searched by submission date range, keyword, case ID
    /// and "only mine" (R17); for members who may use Web Support, staff, and resellers with
    /// View Cases (R18). `null` for others.
    async fn support_cases(
        &self,
        ctx: &Context<'_>,
        search: Option<super::cases::SupportCaseSearch>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<String, super::cases::SupportCase, ConnectionFields>>> {
        super::cases::contract_cases(ctx, self, search, first, after).await
    }

    /// Which resellers may read the cases (R18); admins only.
    async fn reseller_case_access(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<super::cases::ResellerCaseAccess>>> {
        if !self.allows(ctx, &Action::ViewMembers) {
            return Ok(None);
        }
        Ok(Some(
            super::cases::reseller_access_of(ctx, self.row.id).await?,
        ))
    }

    /// The reseller the contract was bought through, if any.
    async fn reseller(&self, ctx: &Context<'_>) -> Result<Option<super::cases::Reseller>> {
        let Some(id) = self.row.reseller_id else {
            return Ok(None);
        };
        if self.reader_only() {
            return Ok(None);
        }
        let store = &ctx.data_unchecked::<Ctx>().store;
        Ok(roster_store::resellers::by_id(store.pool(), id)
            .await
            .map_err(errors::store)?
            .map(Into::into))
    }

    /// Risks the contract's admins should act on, recomputed on every read; empty for
    /// those who are not admins.
    async fn advice(&self, ctx: &Context<'_>) -> Result<Vec<Advice>> {
        if !self.allows(ctx, &Action::ViewMembers) {
            return Ok(vec![]);
        }
        let store = &ctx.data_unchecked::<Ctx>().store;
        let mut conn = store
            .pool()
            .acquire()
            .await
            .map_err(|e| errors::internal(&e))?;
        let facts = roster_store::members::advice_facts(&mut conn, self.row.id)
            .await
            .map_err(errors::store)?;
        Ok(roster_domain::advice::advice(&facts)
            .into_iter()
            .map(|(code, message)| Advice {
                code: code.as_str().to_string(),
                message,
            })
            .collect())
    }

    /// Every email the contract caused and how its delivery went, newest first; admins only.
    async fn emails(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<String, EmailDelivery, ConnectionFields>>> {
        if !self.allows(ctx, &Action::ViewMembers) {
            return Ok(None);
        }
        let (limit, after_id) = page_args(first, after.as_deref())?;
        let before = if after_id > 0 { after_id } else { i64::MAX };
        let store = &ctx.data_unchecked::<Ctx>().store;
        let rows = roster_store::emails::for_contract(store.pool(), self.row.id, before, limit + 1)
            .await
            .map_err(errors::store)?;
        let total = roster_store::emails::count_for_contract(store.pool(), self.row.id)
            .await
            .map_err(errors::store)?;
        let time = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
        let nodes = rows
            .into_iter()
            .map(|e| {
                let node = EmailDelivery {
                    id: ids::encode(Kind::Email, e.id),
                    kind: e.kind,
                    recipient: e.recipient,
                    status: e.status,
                    attempts: e.attempts,
                    last_error: e.last_error,
                    created_at: time(e.created_at),
                    sent_at: e.sent_at.map(time),
                };
                (e.id, node)
            })
            .collect();
        Ok(Some(connection(nodes, limit, after_id > 0, total)))
    }

    /// Designated Named Callers allowed (R13): max(2, floor(seats / 10)) on ADVANCED, 0 on BASIC.
    async fn named_caller_limit(&self, ctx: &Context<'_>) -> Result<Option<i64>> {
        if self.reader_only() {
            return Ok(None);
        }
        if self.row.support_level != roster_domain::SupportLevel::Advanced {
            return Ok(Some(0));
        }
        let rows = self.product_rows(ctx).await?;
        Ok(Some(rules::named_caller_limit(
            rows.iter().map(|p| p.seats).sum(),
        )))
    }
}

/// Filters of `Contract.members` (R27).
#[derive(async_graphql::InputObject, Clone, Debug, Default)]
pub struct MemberFilter {
    /// Members holding any of these contract products.
    pub contract_product_ids: Option<Vec<ID>>,
    pub web_support: Option<bool>,
    pub status: Option<MemberStatusGql>,
    pub role: Option<RoleGql>,
}

/// Which audit entries to read (R25).
#[derive(async_graphql::InputObject, Clone, Debug, Default)]
pub struct AuditLogFilter {
    /// A user's ID, `staff:<key id>` or `system`.
    pub actor: Option<ID>,
    /// e.g. `member.added`, `access.changed`, `contract.renewed`.
    pub kind: Option<String>,
    /// From this time, inclusive.
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Up to this time, exclusive.
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

/// A risk an admin should act on (API.md `Advice`).
#[derive(SimpleObject, Clone, Debug)]
pub struct Advice {
    /// `SOLE_ADMINISTRATOR`, `PENDING_MEMBERS` or `IDLE_ADMIN_SEATS`.
    pub code: String,
    pub message: String,
}

/// One email of the contract's delivery log (R24).
#[derive(SimpleObject, Clone, Debug)]
pub struct EmailDelivery {
    pub id: ID,
    /// The `X-Roster-Kind`, e.g. `get-started`.
    pub kind: String,
    pub recipient: String,
    /// QUEUED, SENT, FAILED (given up; an operator can replay it) or CANCELLED (no longer
    /// applied, e.g. a notice for a term already renewed).
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// One change on a contract (R25).
#[derive(SimpleObject, Clone, Debug)]
pub struct AuditEntry {
    pub id: ID,
    /// `user:<id>`, `staff:<key id>` or `system`.
    pub actor: String,
    /// What changed, e.g. `member.added`, `access.changed`, `coordinator.assigned`.
    pub kind: String,
    /// Before, after, and the ids of the emails the change caused.
    pub detail: async_graphql::Json<serde_json::Value>,
    pub at: chrono::DateTime<chrono::Utc>,
}

impl Contract {
    fn is_member(&self, _ctx: &Context<'_>) -> bool {
        self.standing.as_ref().as_ref().is_some_and(|s| s.member)
    }

    /// A reseller's user reading cases: not a member, not staff (R18).
    pub fn reader_only(&self) -> bool {
        self.standing.as_ref().as_ref().is_some_and(|s| !s.member)
    }
}

/// A product on a contract.
#[derive(Clone)]
pub struct ContractProduct {
    pub row: Arc<ContractProductRow>,
    /// Whether the actor may see serial number, product key and seats (R7).
    pub secrets: bool,
    /// Whether the actor may see who coordinates it: not a reseller reading cases, who sees
    /// number, company and products only (R18).
    pub people: bool,
}

#[Object]
impl ContractProduct {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::ContractProduct, self.row.id)
    }
    async fn product_code(&self) -> &str {
        &self.row.product_code
    }
    async fn product_name(&self) -> &str {
        &self.row.product_name
    }
    async fn serial_number(&self) -> Option<&str> {
        self.secrets.then_some(self.row.serial_number.as_str())
    }
    async fn product_key(&self) -> Option<&str> {
        self.secrets.then_some(self.row.product_key.as_str())
    }
    async fn seats(&self) -> Option<i64> {
        self.secrets.then_some(self.row.seats)
    }
    async fn seats_assigned(&self) -> Option<i64> {
        self.secrets.then_some(self.row.seats_assigned)
    }
    /// The assigned Software Coordinator, if any (R4).
    async fn software_coordinator(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(id) = self.row.coordinator_user_id.filter(|_| self.people) else {
            return Ok(None);
        };
        load_user(ctx, id).await
    }
    /// The Software Coordinator in effect: the assigned one, else the Contract Manager (R4).
    async fn effective_software_coordinator(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        if !self.people {
            return Ok(None);
        }
        if let Some(id) = self.row.coordinator_user_id {
            return load_user(ctx, id).await;
        }
        let store = &ctx.data_unchecked::<Ctx>().store;
        let cm = contracts::manager(store.pool(), self.row.contract_id)
            .await
            .map_err(errors::store)?;
        Ok(Some(User(Arc::new(cm))))
    }
}

async fn load_user(ctx: &Context<'_>, id: i64) -> Result<Option<User>> {
    let store = &ctx.data_unchecked::<Ctx>().store;
    Ok(roster_store::users::by_id(store.pool(), id)
        .await
        .map_err(errors::store)?
        .map(|u| User(Arc::new(u))))
}

/// Who is asking, and what they can see.
pub struct Viewer;

#[Object]
impl Viewer {
    /// The signed-in user; `null` for a staff key.
    async fn user(&self, ctx: &Context<'_>) -> Option<User> {
        ctx.data_unchecked::<Ctx>().user.clone().map(User)
    }
    /// Whether the caller holds a staff API key.
    async fn is_staff(&self, ctx: &Context<'_>) -> bool {
        ctx.data_unchecked::<Ctx>().staff_key.is_some()
    }
    /// The contracts the caller can see: their own as a member, every contract for staff.
    async fn contracts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Contract, ConnectionFields>> {
        super::query::list_contracts(ctx, first, after).await
    }
}
