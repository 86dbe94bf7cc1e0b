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
