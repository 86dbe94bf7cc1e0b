//! The GraphQL scalars, enums and shapes every other module shares: dates, the domain's
//! enums, `UserError`, and connection paging. A leaf: it depends on no other module here.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Enum, Result, SimpleObject};
use chrono::NaiveDate;

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
    SeatsInUse,
    MemberAlreadyActive,
    CloudCreditsExhausted,
    ResellerNotOnContract,
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
