//! Roster's domain: the rules of `DOMAIN.md` as plain functions over plain data.
//!
//! Nothing here touches a database, a queue or the network, so every rule can be tested on its
//! own. Transport (GraphQL) and storage translate to and from these types and call these rules.

pub mod advice;
pub mod change;
pub mod correction;
pub mod email;
pub mod email_kind;
pub mod error;
pub mod lifecycle;
pub mod orders;
pub mod policy;
pub mod rules;
pub mod support;
pub mod types;

pub use error::{DomainError, UserErrorCode};
pub use types::*;
