//! How failures reach GraphQL clients, mapped in one place.
//!
//! - A refused business rule ([`DomainError`]) is a `userErrors` entry of the mutation's
//!   payload: the request changed nothing and the client can show the message.
//! - Not being signed in is a top-level error with `extensions.code = "UNAUTHENTICATED"`; not
//!   being allowed is `FORBIDDEN`. An object the caller may not see is not found (`null`).
//! - Anything else is logged here, once, with its chain, and reaches the client only as
//!   `INTERNAL` with no detail.

use async_graphql::{Error, ErrorExtensions as _};
use roster_domain::DomainError;
use roster_store::StoreError;
use roster_store::change::ChangeError;

use super::scalars::UserError;

fn coded(message: &str, code: &'static str) -> Error {
    Error::new(message).extend_with(|_, e| e.set("code", code))
}

pub fn unauthenticated() -> Error {
    coded(
        "sign in first: send Authorization: Bearer <token>",
        "UNAUTHENTICATED",
    )
}

pub fn forbidden() -> Error {
    coded("you are not allowed to do this", "FORBIDDEN")
}

pub fn internal(err: &dyn std::fmt::Display) -> Error {
    tracing::error!(error = %err, "request failed");
    coded("internal error", "INTERNAL")
}

/// A store failure where no userError is possible (queries).
pub fn store(err: StoreError) -> Error {
    internal(&err)
}

/// Splits a store failure into userErrors (a refused rule) or a top-level error.
pub fn user_errors(err: StoreError) -> Result<Vec<UserError>, Error> {
    match err {
        StoreError::Domain(e) => Ok(vec![e.into()]),
        other => Err(internal(&other)),
    }
}

/// The outcome of a refused change (one conversion for every mutation on the pipeline): not
/// signed in and not allowed are top-level errors; a contract the requester may not know of is
/// NOT_FOUND, like one that does not exist; refused rules are userErrors; a failure is logged
/// once here and is INTERNAL.
pub fn change_refusals(err: ChangeError) -> Result<Vec<UserError>, Error> {
    match err {
        ChangeError::Unauthenticated => Err(unauthenticated()),
        ChangeError::Forbidden => Err(forbidden()),
        ChangeError::NotFound => Ok(vec![
            DomainError::not_found("contract")
                .at(["input", "contractId"])
                .into(),
        ]),
        ChangeError::Refused(errs) => Ok(errs.into_iter().map(Into::into).collect()),
        ChangeError::Failed(e) => Err(internal(&e)),
    }
}

/// What a resolver fails with. Every failure becomes a GraphQL error through this one
/// conversion: a store or database failure is logged here, once, and reaches the client as
/// `INTERNAL`; a GraphQL error (UNAUTHENTICATED, FORBIDDEN, a bad argument) passes as it is.
/// It has no `Display`, so nothing can turn it into a client message by accident.
#[derive(Debug)]
pub struct ApiError(Error);

/// The result of a resolver: `?` on a store call converts through [`ApiError`].
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        e.0
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError(store(e))
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError(internal(&e))
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError(internal(&format!("{e:#}")))
    }
}

impl From<DomainError> for UserError {
    fn from(e: DomainError) -> Self {
        UserError {
            code: e.code.into(),
            field: e.field,
            message: e.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_domain::UserErrorCode;

    fn code_of(e: &Error) -> String {
        let ext = e.extensions.as_ref().expect("extensions");
        ext.get("code").unwrap().to_string()
    }

    #[test]
    fn top_level_errors_carry_their_codes() {
        assert_eq!(code_of(&unauthenticated()), "\"UNAUTHENTICATED\"");
        assert_eq!(code_of(&forbidden()), "\"FORBIDDEN\"");
        assert_eq!(code_of(&internal(&"boom")), "\"INTERNAL\"");
        assert_eq!(internal(&"secret detail").message, "internal error");
    }

    #[test]
    fn store_failures_reach_the_client_as_internal_without_their_detail() {
        let e: Error = ApiError::from(StoreError::Corrupt("secret detail".into())).into();
        assert_eq!(code_of(&e), "\"INTERNAL\"");
        assert_eq!(e.message, "internal error");
        let passed: Error = ApiError::from(forbidden()).into();
        assert_eq!(code_of(&passed), "\"FORBIDDEN\"");
    }

    #[test]
    fn refused_changes_map_to_top_level_errors_or_user_errors() {
        use roster_store::change::ChangeError;
        assert_eq!(
            code_of(&change_refusals(ChangeError::Forbidden).unwrap_err()),
            "\"FORBIDDEN\""
        );
        assert_eq!(
            code_of(&change_refusals(ChangeError::Unauthenticated).unwrap_err()),
            "\"UNAUTHENTICATED\""
        );
        let not_found = change_refusals(ChangeError::NotFound).unwrap();
        assert_eq!(
            not_found[0].code,
            super::super::scalars::UserErrorCodeGql::NotFound
        );
        let internal = change_refusals(ChangeError::Failed(StoreError::Corrupt("x".into())));
        assert_eq!(code_of(&internal.unwrap_err()), "\"INTERNAL\"");
    }

    #[test]
    fn refused_rules_become_user_errors_with_their_code_and_field() {
        let errs = user_errors(StoreError::Domain(
            DomainError::new(UserErrorCode::SeatLimitReached, "full").at(["input", "x"]),
        ))
        .unwrap();
        assert_eq!(
            errs[0].code,
            super::super::scalars::UserErrorCodeGql::SeatLimitReached
        );
        assert_eq!(
            errs[0].field.as_deref(),
            Some(&["input".to_string(), "x".to_string()][..])
        );
        assert!(user_errors(StoreError::Corrupt("x".into())).is_err());
    }
}
