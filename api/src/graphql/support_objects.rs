//! Object types of R34-R37: case topics and comment authors, phone support, cloud credits and
//! usage. `objects` answers `Contract`'s and `SupportCase`'s fields with these; this module
//! uses no object type of `objects`, so the two do not depend on each other in a circle.

use super::context::Ctx;
use super::errors::Result;
use super::scalars::Date;
use async_graphql::{Context, Enum, SimpleObject};
use roster_store::cloud;

/// What a case is about (R34); CHANGE_CONTRACT_MANAGER is R15's request.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(name = "SupportCaseTopic", remote = "roster_domain::CaseTopic")]
pub enum SupportCaseTopic {
    General,
    Installation,
    Licensing,
    Account,
    Technical,
    ChangeContractManager,
}

/// How `Contract.cloudUsage` totals usage (R36).
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum CloudUsageGrouping {
    /// By the user who spent the credits (`key` is their email).
    User,
    /// By cloud service (`key` is its name).
    Service,
}

/// Who wrote a case comment.
#[derive(SimpleObject, Clone, Debug)]
pub struct CommentAuthor {
    /// The author's User ID; `null` for the vendor's staff.
    pub email: Option<String>,
    /// Written by the vendor's support staff.
    pub staff: bool,
}

/// How a Named Caller reaches phone support (R35).
#[derive(SimpleObject, Clone, Debug)]
pub struct PhoneSupport {
    pub express_service_id: String,
    pub phone_numbers: Vec<String>,
}

/// A contract's shared cloud credits (R36).
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct CloudCredits {
    /// Credits left to spend.
    pub balance: i64,
    /// Credits spent so far.
    pub used: i64,
}

impl From<cloud::Credits> for CloudCredits {
    fn from(c: cloud::Credits) -> Self {
        CloudCredits {
            balance: c.balance,
            used: c.used,
        }
    }
}

/// Credits spent by one user or on one service (R36).
#[derive(SimpleObject, Clone, Debug)]
pub struct CloudUsageTotal {
    /// The user's email or the service's name.
    pub key: String,
    pub credits: i64,
}

/// The first millisecond of `d` (UTC).
pub fn day_start_ms(d: chrono::NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp_millis()
}

/// `[from, to]` as milliseconds `[from, to + 1 day)`.
pub fn day_range(from: Option<Date>, to: Option<Date>) -> (Option<i64>, Option<i64>) {
    (
        from.map(|d| day_start_ms(d.0)),
        to.map(|d| day_start_ms(d.0) + 24 * 3600 * 1000),
    )
}

/// R35: the Express Service ID and phone numbers, for a reader the policy allowed.
pub async fn phone_support(ctx: &Context<'_>, contract_id: i64) -> Result<Option<PhoneSupport>> {
    let c = ctx.data_unchecked::<Ctx>();
    let Some(id) = cloud::express_service_id(c.store.pool(), contract_id).await? else {
        return Ok(None);
    };
    Ok(Some(PhoneSupport {
        express_service_id: id,
        phone_numbers: c.support_phones.as_ref().clone(),
    }))
}

/// R36: the balance and what was used, for a reader the policy allowed.
pub async fn credits(ctx: &Context<'_>, contract_id: i64) -> Result<CloudCredits> {
    let c = ctx.data_unchecked::<Ctx>();
    Ok(cloud::credits(c.store.pool(), contract_id).await?.into())
}

/// R36: usage totals over a date range, everyone's or `only_user`'s.
pub async fn usage(
    ctx: &Context<'_>,
    contract_id: i64,
    only_user: Option<i64>,
    from: Option<Date>,
    to: Option<Date>,
    group_by: CloudUsageGrouping,
) -> Result<Vec<CloudUsageTotal>> {
    let c = ctx.data_unchecked::<Ctx>();
    let (from, to) = day_range(from, to);
    Ok(cloud::usage_by(
        c.store.pool(),
        contract_id,
        group_by == CloudUsageGrouping::User,
        only_user,
        from,
        to,
    )
    .await?
    .into_iter()
    .map(|(key, credits)| CloudUsageTotal { key, credits })
    .collect())
}
