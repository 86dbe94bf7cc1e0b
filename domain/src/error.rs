//! Refusals of business rules.
//!
//! A [`DomainError`] is what a rule of DOMAIN.md answers when it refuses a request: a stable
//! [`UserErrorCode`], the input field it concerns (as a path, so a bulk entry can be named), and
//! a sentence for a person. It reaches GraphQL clients as a `userErrors` entry; nothing in it is
//! internal, so it is always safe to show.

use std::fmt;

/// The stable codes of refused business rules (API.md, "GraphQL conventions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserErrorCode {
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
    /// R31: a seat count below the seats held.
    SeatsInUse,
    /// R32: correcting someone who signed in, or whose User ID another contract created.
    MemberAlreadyActive,
    /// R36: usage would take the contract's cloud-credit balance below zero.
    CloudCreditsExhausted,
    /// R18: View Cases only for a reseller the contract is attached to.
    ResellerNotOnContract,
}

impl UserErrorCode {
    /// Every code, for exhaustive tests and the GraphQL enum.
    pub const ALL: &'static [UserErrorCode] = &[
        Self::InvalidEmail,
        Self::InvalidInput,
        Self::NotFound,
        Self::SeatLimitReached,
        Self::NamedCallerLimitReached,
        Self::NotANamedUser,
        Self::BasicSupportContract,
        Self::AutoRenewContract,
        Self::BulkLimitExceeded,
        Self::DuplicateEntry,
        Self::TermsNotAccepted,
        Self::RenewalWindowNotOpen,
        Self::ContractManagerRequired,
        Self::OrderConflict,
        Self::InvalidCredentials,
        Self::InvalidToken,
        Self::WeakPassword,
        Self::AlreadyMember,
        Self::NotAMember,
        Self::ContractNotActive,
        Self::TooManyAttempts,
        Self::SeatsInUse,
        Self::MemberAlreadyActive,
        Self::CloudCreditsExhausted,
        Self::ResellerNotOnContract,
    ];
}

/// A refused business rule: safe to show to the client as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainError {
    pub code: UserErrorCode,
    /// Path of the input field concerned, e.g. `["input", "users", "3", "email"]`.
    pub field: Option<Vec<String>>,
    pub message: String,
}

impl DomainError {
    pub fn new(code: UserErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            field: None,
            message: message.into(),
        }
    }

    /// Names the input field the refusal concerns.
    pub fn at<I, S>(mut self, path: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.field = Some(path.into_iter().map(Into::into).collect());
        self
    }

    /// Puts `prefix` in front of the field path (used to name a bulk entry).
    pub fn under<I, S>(mut self, prefix: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut path: Vec<String> = prefix.into_iter().map(Into::into).collect();
        path.extend(self.field.take().unwrap_or_default());
        self.field = Some(path);
        self
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(UserErrorCode::NotFound, format!("{what} not found"))
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for DomainError {}

/// Several refusals at once, as a bulk request reports them (R10).
pub type DomainResult<T> = Result<T, Vec<DomainError>>;
