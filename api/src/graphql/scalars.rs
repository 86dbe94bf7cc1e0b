//! The GraphQL scalars, enums and shapes every other module shares: dates, the domain's
//! enums, `UserError`, and connection paging. A leaf: it depends on no other module here.

use async_graphql::connection::{Connection, CursorType, Edge};
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

/// The connection a cursor belongs to: a cursor of one connection is refused by another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `Contract.members`: the position of the member in the sorted, filtered list.
    Members,
    /// `Contract.supportCases`: the position of the case in the search's order.
    SupportCases,
    /// `Contract.auditLog`: the id of the last entry seen.
    AuditLog,
    /// `Contract.emails`: the id of the last email seen.
    Emails,
    /// `contracts`, `viewer.contracts`: the id of the last contract seen.
    Contracts,
}

impl Paging {
    const ALL: [Paging; 5] = [
        Paging::Members,
        Paging::SupportCases,
        Paging::AuditLog,
        Paging::Emails,
        Paging::Contracts,
    ];

    fn tag(self) -> &'static str {
        match self {
            Paging::Members => "members",
            Paging::SupportCases => "supportCases",
            Paging::AuditLog => "auditLog",
            Paging::Emails => "emails",
            Paging::Contracts => "contracts",
        }
    }

    /// The opaque cursor of position or id `n` (base64url of `tag:n`).
    pub fn cursor(self, n: i64) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}:{n}", self.tag()))
    }

    /// The position or id a cursor of this connection names: only a cursor this connection
    /// issued (canonical form, positive number) is accepted.
    pub fn decode(self, cursor: &str) -> Option<i64> {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor.as_bytes())
            .ok()?;
        let raw = std::str::from_utf8(&raw).ok()?;
        let (tag, n) = raw.split_once(':')?;
        let n: i64 = n.parse().ok()?;
        (tag == self.tag() && n > 0 && self.cursor(n) == cursor).then_some(n)
    }
}

/// What a connection field may cost: `first` items (the default page when not given, at
/// most [`MAX_PAGE`]) of what each item's selection costs, plus the field itself. Used as the
/// `complexity` of every connection field, so 40 aliases of `members(first: 100)` count as
/// the 4,000 nodes they may return.
pub fn page_cost(first: Option<i32>, child_complexity: usize) -> usize {
    let first = first.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE) as usize;
    first.saturating_mul(child_complexity).saturating_add(1)
}

/// Checks `first` and decodes `after` for the connection `paging`: `(first, n)` where `n` is
/// the position or id `after` names, 0 without `after`. A cursor this connection did not issue
/// is an error that says so.
pub fn page_args(paging: Paging, first: Option<i32>, after: Option<&str>) -> Result<(i64, i64)> {
    let first = first.unwrap_or(DEFAULT_PAGE);
    if !(0..=MAX_PAGE).contains(&first) {
        return Err(async_graphql::Error::new(format!(
            "first must be between 0 and {MAX_PAGE}"
        )));
    }
    let after = match after {
        None => 0,
        Some(c) => paging.decode(c).ok_or_else(|| {
            async_graphql::Error::new(format!(
                "after is not a cursor of this connection ({}): pass an endCursor or cursor it returned",
                paging.tag()
            ))
        })?,
    };
    Ok((i64::from(first), after))
}

/// An edge's cursor: encoded ([`Paging::cursor`]) only when the client asks for it, which a
/// page of 50 members rarely does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    paging: Paging,
    n: i64,
}

impl CursorType for Cursor {
    type Error = &'static str;

    fn decode_cursor(s: &str) -> std::result::Result<Self, Self::Error> {
        Paging::ALL
            .into_iter()
            .find_map(|paging| paging.decode(s).map(|n| Cursor { paging, n }))
            .ok_or("not a cursor this server issued")
    }

    fn encode_cursor(&self) -> String {
        self.paging.cursor(self.n)
    }
}

/// Builds a connection from one page fetched with `limit + 1` rows, each with the position or
/// id its cursor carries.
pub fn connection<N: async_graphql::OutputType>(
    paging: Paging,
    mut rows: Vec<(i64, N)>,
    limit: i64,
    has_previous: bool,
    total: i64,
) -> Connection<Cursor, N, ConnectionFields> {
    let has_next = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let mut conn = Connection::with_additional_fields(
        has_previous,
        has_next,
        ConnectionFields { total_count: total },
    );
    conn.edges.extend(
        rows.into_iter()
            .map(|(n, node)| Edge::new(Cursor { paging, n }, node)),
    );
    conn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_opaque_and_belong_to_one_connection() {
        let c = Paging::Members.cursor(5);
        let edge = Cursor {
            paging: Paging::Members,
            n: 5,
        };
        assert_eq!(edge.encode_cursor(), c);
        assert_eq!(Cursor::decode_cursor(&c), Ok(edge));
        assert!(Cursor::decode_cursor("bWVtYmVyczotNQ").is_err());
        assert_eq!(Paging::Members.decode(&c), Some(5));
        assert_eq!(Paging::SupportCases.decode(&c), None);
        for bad in [
            "5",
            "-5",
            "",
            "bWVtYmVyczotNQ",
            "bWVtYmVyczowNQ",
            "bWVtYmVyczow",
        ] {
            // "5", "-5", "members:-5", "members:05", "members:0"
            assert_eq!(Paging::Members.decode(bad), None, "{bad}");
            assert!(
                page_args(Paging::Members, None, Some(bad)).is_err(),
                "{bad}"
            );
        }
        assert_eq!(
            page_args(Paging::Members, Some(10), Some(&c)).unwrap(),
            (10, 5)
        );
        assert!(page_args(Paging::Members, Some(101), None).is_err());
    }

    #[test]
    fn a_connection_costs_what_it_may_return() {
        assert_eq!(page_cost(Some(100), 5), 501);
        assert_eq!(page_cost(None, 5), 101);
        assert_eq!(page_cost(Some(100_000), 1), 101);
        assert_eq!(page_cost(Some(-3), 2), 3);
    }
}
