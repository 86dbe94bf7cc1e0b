//! What the HTTP handlers share, and who a request's bearer token says is asking. Both the
//! GraphQL endpoint (`http`) and the exports (`export`) use it; it uses neither.

use crate::graphql::context::{Ctx, Shared};
use crate::graphql::{RosterSchema, errors};
use crate::sessions::Who;
use roster_domain::policy::Principal;
use roster_store::{auth, secret};
use std::sync::Arc;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub schema: RosterSchema,
    /// Parsed and persisted documents, for every request the schema runs.
    pub documents: crate::graphql::documents::Documents,
    pub shared: Shared,
    /// The Redis queue, where the queue is separate from the database (for `/readyz`).
    pub redis: Option<redis::Client>,
}

/// The token of an `Authorization` value `Bearer <token>`. The scheme is matched without
/// regard to case (RFC 9110, 11.1) and may be followed by more than one space.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= 128)
        .then_some(token)
}

/// Resolves `Bearer <token>` (or nothing: anonymous) to the request's context: from the
/// session cache when it knows the token (no statement), else from the database.
pub async fn authenticate_bearer(
    shared: &Shared,
    bearer: Option<&str>,
) -> Result<Ctx, async_graphql::Error> {
    let mut ctx = Ctx::anonymous(shared);
    let Some(value) = bearer else {
        return Ok(ctx);
    };
    let token = bearer_token(value).ok_or_else(errors::unauthenticated)?;
    let key = secret::hash(token);
    let who = match shared.sessions.get(&key) {
        Ok(who) => who,
        Err(ticket) => {
            let pool = shared.store.pool();
            let (who, expires_at) = if token.starts_with(secret::STAFF_PREFIX) {
                let id = auth::staff_key(pool, token)
                    .await
                    .map_err(errors::store)?
                    .ok_or_else(errors::unauthenticated)?;
                (Who::Staff(id), None)
            } else {
                let (user, expires_at) = auth::session_user_until(pool, token)
                    .await
                    .map_err(errors::store)?
                    .ok_or_else(errors::unauthenticated)?;
                (Who::User(Arc::new(user)), Some(expires_at))
            };
            shared.sessions.put(ticket, key, who.clone(), expires_at);
            who
        }
    };
    match who {
        Who::Staff(id) => {
            ctx.principal = Principal::Staff;
            ctx.staff_key = Some(id);
        }
        Who::User(user) => {
            ctx.principal = Principal::User;
            ctx.user = Some(user);
        }
    }
    ctx.token = Some(token.to_string());
    Ok(ctx)
}

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// An error about the whole request, found before the document runs (a token that is not
/// valid): it belongs to no place in the document, so it carries no `locations`. (Building it
/// with `Error::into_server_error(Pos::default())` answered `locations: [{line: 0, column: 0}]`,
/// which names no place either and is not a valid GraphQL location.)
pub(crate) fn request_error(e: async_graphql::Error) -> async_graphql::ServerError {
    let mut error = async_graphql::ServerError::new(e.message, None);
    error.source = e.source;
    error.extensions = e.extensions;
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        for value in [
            "Bearer abc",
            "bearer abc",
            "BEARER abc",
            "bEaReR abc",
            "Bearer   abc ",
            "Bearer\tabc",
        ] {
            assert_eq!(bearer_token(value), Some("abc"), "{value:?}");
        }
        for value in ["Basic abc", "Bearer", "Bearer ", "Bearerabc", "abc", ""] {
            assert_eq!(bearer_token(value), None, "{value:?}");
        }
        assert_eq!(bearer_token(&format!("Bearer {}", "x".repeat(129))), None);
    }
}
