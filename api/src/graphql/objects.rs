//! The GraphQL object types: contracts, their products, members and cases, users, resellers,
//! and the lookups that answer them as the caller may see them. Mutations and the roots use
//! these; these use no mutation.

use super::context::{Ctx, contract_standing};
use super::errors;
use super::errors::Result;
use super::ids::{self, Kind};
use super::scalars::*;
use super::support_objects as so;
use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use roster_domain::SupportLevel;
use roster_domain::policy::{Action, Decision, Principal, Standing, decide};
use roster_domain::rules;
use roster_store::cases::{self, CaseRow, CaseSearch};
use roster_store::contracts::{self, ContractProductRow, ContractRow};
use roster_store::members::Member as StoredMember;
use roster_store::resellers;
use roster_store::users::UserRow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A customer organisation: the vendor's customer account (R30).
#[derive(Clone, Debug)]
pub struct Company {
    pub pk: i64,
    pub name: String,
}

#[Object]
impl Company {
    async fn id(&self) -> ID {
        ids::encode(Kind::Company, self.pk)
    }
    async fn name(&self) -> &str {
        &self.name
    }
    /// Every contract of the company (R30), for staff and for the Contract Manager of any of
    /// them; `null` for anyone else. Each contract resolves its fields as the caller may see
    /// them: a CM reads the others' number, status, term, products, seats and admins.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn contracts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Cursor, Contract, ConnectionFields>>> {
        let c = ctx.data_unchecked::<Ctx>();
        let (limit, after_id) = page_args(Paging::Contracts, first, after.as_deref())?;
        let pool = c.store.pool();
        let reads = match (c.principal, &c.user) {
            (Principal::Staff, _) => true,
            (Principal::User, Some(user)) => {
                roster_store::companies::is_manager_in(pool, user.id, self.pk).await?
            }
            _ => false,
        };
        if !reads {
            return Ok(None);
        }
        let (rows, total) =
            roster_store::companies::contracts(pool, self.pk, after_id, limit + 1).await?;
        let mut standings = match &c.user {
            Some(user) => {
                let mut conn = pool.acquire().await?;
                contracts::standings(&mut conn, user, &rows).await?
            }
            None => Default::default(),
        };
        let nodes = rows
            .into_iter()
            .filter_map(|row| {
                let standing = standings.remove(&row.id);
                decide(c.principal, standing.as_ref(), &Action::ViewContract)
                    .is_allowed()
                    .then(|| (row.id, Contract::with_standing(row, standing)))
            })
            .collect::<Vec<_>>();
        Ok(Some(connection(
            Paging::Contracts,
            nodes,
            limit,
            after_id > 0,
            total,
        )))
    }
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
            Decision::Unauthenticated => Err(errors::unauthenticated().into()),
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
            .await?;
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
            pk: self.row.company_id,
            name: self.row.company_name.clone(),
        }
    }
    /// The Contract Manager (R2).
    async fn contract_manager(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        if !self.allows(ctx, &Action::ViewMembers) && !self.is_member(ctx) && !self.company_reader()
        {
            return Ok(None);
        }
        let store = &ctx.data_unchecked::<Ctx>().store;
        let cm = contracts::manager(store.pool(), self.row.id).await?;
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
                    seats: secrets || self.company_reader(),
                }
            })
            .collect())
    }
    /// Members, sorted by name, filtered and searched by name or email (R21, R27); admins
    /// only (`null` for others).
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        filter: Option<MemberFilter>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Cursor, Member, ConnectionFields>>> {
        if !self.allows(ctx, &Action::ViewMembers) {
            return Ok(None);
        }
        let (limit, offset) = page_args(Paging::Members, first, after.as_deref())?;
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
                return Err(async_graphql::Error::new("search is at most 100 characters").into());
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
        // Seats are read only for a page that shows them.
        let with_access = {
            let connection = ctx.look_ahead();
            connection
                .field("edges")
                .field("node")
                .field("access")
                .exists()
                || connection.field("nodes").field("access").exists()
        };
        let products = self.product_rows(ctx).await?;
        let store = &ctx.data_unchecked::<Ctx>().store;
        let mut conn = store.pool().acquire().await?;
        let (rows, total) = roster_store::members::page(
            store.backend(),
            &mut conn,
            roster_store::members::PageOf {
                contract_id: self.row.id,
                support,
                products,
            },
            &store_filter,
            with_access,
            offset,
            limit + 1,
        )
        .await?;
        drop(conn);
        let members = Member::wrap(ctx, self, rows).await?;
        let nodes = members
            .into_iter()
            .enumerate()
            .map(|(i, m)| (offset + i as i64 + 1, m))
            .collect();
        Ok(Some(connection(
            Paging::Members,
            nodes,
            limit,
            offset > 0,
            total,
        )))
    }

    /// Every change to roles, access, Named Callers and contract state, newest first (R25);
    /// admins only (`null` for others).
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditLogFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Cursor, AuditEntry, ConnectionFields>>> {
        if !self.allows(ctx, &Action::ViewMembers) {
            return Ok(None);
        }
        let (limit, after_id) = page_args(Paging::AuditLog, first, after.as_deref())?;
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
                    )
                    .into());
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
        .await?;
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
        Ok(Some(connection(
            Paging::AuditLog,
            nodes,
            limit,
            after_id > 0,
            total,
        )))
    }

    /// The contract's cases, newest first, searched by submission date range, keyword, case ID
    /// and "only mine" (R17); for members who may use Web Support, staff, and resellers with
    /// View Cases (R18). `null` for others.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn support_cases(
        &self,
        ctx: &Context<'_>,
        search: Option<SupportCaseSearch>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Cursor, SupportCase, ConnectionFields>>> {
        contract_cases(ctx, self, search, first, after).await
    }

    /// Which resellers may read the cases (R18); admins only.
    async fn reseller_case_access(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<ResellerCaseAccess>>> {
        if !self.allows(ctx, &Action::ViewMembers) {
            return Ok(None);
        }
        Ok(Some(reseller_access_of(ctx, self.row.id).await?))
    }

    /// The reseller the contract was bought through, if any.
    async fn reseller(&self, ctx: &Context<'_>) -> Result<Option<Reseller>> {
        let Some(id) = self.row.reseller_id else {
            return Ok(None);
        };
        if self.reader_only() {
            return Ok(None);
        }
        let store = &ctx.data_unchecked::<Ctx>().store;
        Ok(roster_store::resellers::by_id(store.pool(), id)
            .await?
            .map(Into::into))
    }

    /// Risks the contract's admins should act on, recomputed on every read; empty for
    /// those who are not admins.
    async fn advice(&self, ctx: &Context<'_>) -> Result<Vec<Advice>> {
        if !self.allows(ctx, &Action::ViewMembers) {
            return Ok(vec![]);
        }
        let store = &ctx.data_unchecked::<Ctx>().store;
        let mut conn = store.pool().acquire().await?;
        let facts = roster_store::members::advice_facts(&mut conn, self.row.id).await?;
        Ok(roster_domain::advice::advice(&facts)
            .into_iter()
            .map(|(code, message)| Advice {
                code: code.as_str().to_string(),
                message,
            })
            .collect())
    }

    /// Every email the contract caused and how its delivery went, newest first; admins only.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn emails(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Cursor, EmailDelivery, ConnectionFields>>> {
        if !self.allows(ctx, &Action::ViewMembers) {
            return Ok(None);
        }
        let (limit, after_id) = page_args(Paging::Emails, first, after.as_deref())?;
        let before = if after_id > 0 { after_id } else { i64::MAX };
        let store = &ctx.data_unchecked::<Ctx>().store;
        let rows = roster_store::emails::for_contract(store.pool(), self.row.id, before, limit + 1)
            .await?;
        let total = roster_store::emails::count_for_contract(store.pool(), self.row.id).await?;
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
        Ok(Some(connection(
            Paging::Emails,
            nodes,
            limit,
            after_id > 0,
            total,
        )))
    }

    /// Designated Named Callers allowed (R13): max(2, floor(seats / 10)) on ADVANCED, 0 on BASIC.
    /// The order number that created the contract; `null` for whoever reads only (resellers,
    /// R18; the company's other CMs, R30).
    async fn order_number(&self) -> Option<&str> {
        (!self.reader_only() && !self.company_reader()).then_some(self.row.order_number.as_str())
    }
    /// The viewer's own membership: roles, access, status, Named Caller standing (R33);
    /// `null` when the viewer is not a member.
    async fn viewer_membership(&self, ctx: &Context<'_>) -> Result<Option<Member>> {
        let c = ctx.data_unchecked::<Ctx>();
        let (Some(user), true) = (&c.user, self.is_member(ctx)) else {
            return Ok(None);
        };
        let mut conn = c.store.pool().acquire().await?;
        let Some(mine) = roster_store::members::get(&mut conn, self.row.id, user.id).await? else {
            return Ok(None);
        };
        drop(conn);
        Ok(Member::wrap(ctx, self, vec![mine]).await?.pop())
    }
    /// What the viewer may do here (R33), each flag the policy's answer to the action the
    /// matching mutations ask for, so trying would give the same answer.
    async fn viewer_can(&self, ctx: &Context<'_>) -> Result<ViewerCan> {
        let ids: Vec<i64> = self.product_rows(ctx).await?.iter().map(|p| p.id).collect();
        let can = roster_domain::policy::viewer_can(
            ctx.data_unchecked::<Ctx>().principal,
            self.standing.as_ref().as_ref(),
            ids,
        );
        Ok(ViewerCan {
            manage_members: can.manage_members,
            manage_coordinators: can.manage_coordinators,
            manage_named_callers: can.manage_named_callers,
            manage_reseller_access: can.manage_reseller_access,
            renew: can.renew,
            view_secrets: can.view_secrets,
            open_cases: can.open_cases,
        })
    }
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

    // Added for R35-R36 (issue 17); the types and reads live in `support_objects`.

    /// The Express Service ID and support phone numbers of an ADVANCED contract (R35), for
    /// its Named Callers and admins; `null` for everyone else.
    async fn phone_support(&self, ctx: &Context<'_>) -> Result<Option<so::PhoneSupport>> {
        if !self.allows(ctx, &Action::ViewPhoneSupport) {
            return Ok(None);
        }
        so::phone_support(ctx, self.row.id).await
    }

    /// The shared cloud-credit balance and what was used (R36); admins and staff, `null`
    /// for others.
    async fn cloud_credits(&self, ctx: &Context<'_>) -> Result<Option<so::CloudCredits>> {
        if !self.allows(ctx, &Action::ViewCloudUsage) {
            return Ok(None);
        }
        Ok(Some(so::credits(ctx, self.row.id).await?))
    }

    /// Credits used from `from` to `to` (days, inclusive) by user or by service (R36);
    /// admins and staff, `null` for others.
    async fn cloud_usage(
        &self,
        ctx: &Context<'_>,
        from: Option<Date>,
        to: Option<Date>,
        group_by: so::CloudUsageGrouping,
    ) -> Result<Option<Vec<so::CloudUsageTotal>>> {
        if !self.allows(ctx, &Action::ViewCloudUsage) {
            return Ok(None);
        }
        Ok(Some(
            so::usage(ctx, self.row.id, None, from, to, group_by).await?,
        ))
    }

    /// The viewer's own cloud usage on this contract by service (R36); `null` for whoever is
    /// not a member.
    async fn viewer_cloud_usage(
        &self,
        ctx: &Context<'_>,
        from: Option<Date>,
        to: Option<Date>,
    ) -> Result<Option<Vec<so::CloudUsageTotal>>> {
        let user = ctx.data_unchecked::<Ctx>().user.as_ref().map(|u| u.id);
        let Some(user) = user.filter(|_| self.allows(ctx, &Action::ViewOwnCloudUsage)) else {
            return Ok(None);
        };
        Ok(Some(
            so::usage(
                ctx,
                self.row.id,
                Some(user),
                from,
                to,
                so::CloudUsageGrouping::Service,
            )
            .await?,
        ))
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
        self.standing
            .as_ref()
            .as_ref()
            .is_some_and(|s| !s.member && !s.company_manager)
    }

    /// The CM of another contract of the company, who reads number, status, term, products,
    /// seat counts and who holds the CM and SC roles, and nothing else (R30).
    pub fn company_reader(&self) -> bool {
        self.standing
            .as_ref()
            .as_ref()
            .is_some_and(|s| !s.member && s.company_manager)
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
    /// Whether the actor may see the seat counts: who sees the secrets, and the company's
    /// other Contract Managers (R30).
    pub seats: bool,
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
        self.seats.then_some(self.row.seats)
    }
    async fn seats_assigned(&self) -> Option<i64> {
        self.seats.then_some(self.row.seats_assigned)
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
        let cm = contracts::manager(store.pool(), self.row.contract_id).await?;
        Ok(Some(User(Arc::new(cm))))
    }
}

async fn load_user(ctx: &Context<'_>, id: i64) -> Result<Option<User>> {
    let store = &ctx.data_unchecked::<Ctx>().store;
    Ok(roster_store::users::by_id(store.pool(), id)
        .await?
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
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn contracts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<Cursor, Contract, ConnectionFields>> {
        list_contracts(ctx, first, after).await
    }
    /// The companies where the viewer is the Contract Manager of a contract (R30); empty for
    /// staff and resellers.
    async fn companies(&self, ctx: &Context<'_>) -> Result<Vec<Company>> {
        let c = ctx.data_unchecked::<Ctx>();
        let Some(user) = &c.user else {
            return Ok(vec![]);
        };
        Ok(roster_store::companies::managed_by(c.store.pool(), user.id)
            .await?
            .into_iter()
            .map(|co| Company {
                pk: co.id,
                name: co.name,
            })
            .collect())
    }
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
    async fn status(&self) -> MemberStatusGql {
        self.member.row.status.into()
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
                seats: self.contract.allows(
                    ctx,
                    &Action::ViewProductSecrets {
                        contract_product: row.id,
                    },
                ) || self.contract.company_reader(),
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
        let support = contract.row.support_level;
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

/// Where a case stands.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(name = "SupportCaseStatus", remote = "roster_domain::CaseStatus")]
pub enum CaseStatus {
    Open,
    InProgress,
    Resolved,
    Closed,
}

/// What a case is about.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(name = "SupportCaseKind", remote = "roster_domain::CaseKind")]
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
    /// Who wrote it (R34).
    pub author: so::CommentAuthor,
    pub body: String,
    /// When it was written.
    pub at: chrono::DateTime<chrono::Utc>,
    /// The same as `at`.
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
        self.row.kind.into()
    }
    /// What the case is about (R34).
    async fn topic(&self) -> so::SupportCaseTopic {
        self.row.topic.into()
    }
    async fn subject(&self) -> &str {
        &self.row.subject
    }
    async fn description(&self) -> &str {
        &self.row.description
    }
    async fn status(&self) -> CaseStatus {
        self.row.status.into()
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
        let Some(row) = contracts::product_by_id(store.pool(), id).await? else {
            return Ok(None);
        };
        // What the reader may see of the product is what they may see on its contract.
        let Some(contract) = contract_by_id(ctx, row.contract_id).await? else {
            return Ok(None);
        };
        let secrets = contract.allows(
            ctx,
            &Action::ViewProductSecrets {
                contract_product: row.id,
            },
        );
        Ok(Some(ContractProduct {
            secrets,
            people: !contract.reader_only(),
            seats: secrets || contract.company_reader(),
            row: Arc::new(row),
        }))
    }
    async fn comments(&self, ctx: &Context<'_>) -> Result<Vec<CaseComment>> {
        let store = &ctx.data_unchecked::<Ctx>().store;
        Ok(cases::comments(store.pool(), self.row.id)
            .await?
            .into_iter()
            .map(|c| CaseComment {
                author: so::CommentAuthor {
                    staff: c.author.starts_with("staff:"),
                    email: c.author_email,
                },
                body: c.body,
                at: time(c.created_at),
                created_at: time(c.created_at),
            })
            .collect())
    }
    /// The contract of the case.
    async fn contract(&self, ctx: &Context<'_>) -> Result<Option<Contract>> {
        let store = &ctx.data_unchecked::<Ctx>().store;
        match contracts::by_id(store.pool(), self.row.contract_id).await? {
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
    /// How to reach the reseller (R37), shown to the contract's members.
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
}

impl From<resellers::ResellerRow> for Reseller {
    fn from(r: resellers::ResellerRow) -> Self {
        Reseller {
            id: ids::encode(Kind::Reseller, r.id),
            name: r.name,
            email: r.email,
            phone: r.phone,
            website: r.website,
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
) -> Result<Option<Connection<Cursor, SupportCase, ConnectionFields>>> {
    if !contract.allows(ctx, &Action::ViewCases) {
        return Ok(None);
    }
    let c = ctx.data_unchecked::<Ctx>();
    let (limit, offset) = page_args(Paging::SupportCases, first, after.as_deref())?;
    let search = search.unwrap_or_default();
    let keyword = match search.keyword.as_deref().map(str::trim) {
        Some(k) if k.chars().count() > 100 => {
            return Err(async_graphql::Error::new("keyword is at most 100 characters").into());
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
    let (rows, total) =
        cases::search(c.store.pool(), contract.row.id, &query, offset, limit + 1).await?;
    let nodes = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| (offset + i as i64 + 1, SupportCase { row: Arc::new(r) }))
        .collect();
    Ok(Some(connection(
        Paging::SupportCases,
        nodes,
        limit,
        offset > 0,
        total,
    )))
}

/// A case by its case ID, if the caller may see its contract's cases.
pub async fn case_by_case_id(ctx: &Context<'_>, case_id: &str) -> Result<Option<SupportCase>> {
    let c = ctx.data_unchecked::<Ctx>();
    let Some(row) = cases::by_case_id(c.store.pool(), case_id.trim()).await? else {
        return Ok(None);
    };
    visible_case(ctx, row).await
}

/// The case, if the caller may read its contract's cases.
pub async fn visible_case(ctx: &Context<'_>, row: CaseRow) -> Result<Option<SupportCase>> {
    let c = ctx.data_unchecked::<Ctx>();
    let Some(contract) = contracts::by_id(c.store.pool(), row.contract_id).await? else {
        return Ok(None);
    };
    let standing = contract_standing(ctx, &contract).await?;
    match decide(c.principal, standing.as_ref(), &Action::ViewCases) {
        Decision::Allow => Ok(Some(SupportCase { row: Arc::new(row) })),
        Decision::Unauthenticated => Err(errors::unauthenticated().into()),
        _ => Ok(None),
    }
}

/// The View Cases settings of a contract, for admins.
pub async fn reseller_access_of(
    ctx: &Context<'_>,
    contract_id: i64,
) -> Result<Vec<ResellerCaseAccess>> {
    let store = &ctx.data_unchecked::<Ctx>().store;
    Ok(resellers::case_access(store.pool(), contract_id)
        .await?
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
    Ok(resellers::by_id(store.pool(), n).await?)
}

/// Checks that the caller is not anonymous (for subscriptions and staff-or-user queries).
pub fn signed_in(ctx: &Context<'_>) -> Result<()> {
    if ctx.data_unchecked::<Ctx>().principal == Principal::Anonymous {
        return Err(errors::unauthenticated().into());
    }
    Ok(())
}

pub(crate) async fn contract_by_id(ctx: &Context<'_>, id: i64) -> Result<Option<Contract>> {
    let c = ctx.data_unchecked::<Ctx>();
    let Some(row) = contracts::by_id(c.store.pool(), id).await? else {
        return Ok(None);
    };
    Contract::visible(ctx, row).await
}

/// Contracts visible to the caller: staff see all, users those they are members of.
pub async fn list_contracts(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<Cursor, Contract, ConnectionFields>> {
    let c = ctx.data_unchecked::<Ctx>();
    let (limit, after_id) = page_args(Paging::Contracts, first, after.as_deref())?;
    let pool = c.store.pool();
    let (rows, total) = match (c.principal, &c.user) {
        (Principal::Staff, _) => contracts::all(pool, after_id, limit + 1).await,
        (Principal::User, Some(user)) => {
            contracts::for_user(pool, user.id, user.reseller_id, after_id, limit + 1).await
        }
        _ => return Err(errors::unauthenticated().into()),
    }?;
    let mut standings = match &c.user {
        Some(user) => {
            let mut conn = pool.acquire().await?;
            contracts::standings(&mut conn, user, &rows).await?
        }
        None => Default::default(),
    };
    let nodes = rows
        .into_iter()
        .map(|row| {
            let standing = standings.remove(&row.id);
            (row.id, Contract::with_standing(row, standing))
        })
        .collect();
    Ok(connection(
        Paging::Contracts,
        nodes,
        limit,
        after_id > 0,
        total,
    ))
}

/// What the viewer may do on a contract (R33).
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct ViewerCan {
    /// Name and remove users, Web Support and cloud services, correct members.
    pub manage_members: bool,
    /// Assign and remove Software Coordinators.
    pub manage_coordinators: bool,
    /// Designate and remove Named Callers.
    pub manage_named_callers: bool,
    /// Give resellers View Cases.
    pub manage_reseller_access: bool,
    /// Renew the contract.
    pub renew: bool,
    /// See the serial numbers and product keys of at least one product.
    pub view_secrets: bool,
    /// Open support cases.
    pub open_cases: bool,
}
