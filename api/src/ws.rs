//! `/graphql/ws` (graphql-transport-ws) held to the rules of `/graphql`: every operation over
//! a socket is authorised against the session as it is at that moment (the bearer given in
//! `connection_init` is looked up again through [`authenticate_bearer`], the lookup HTTP uses),
//! and so is every event of a subscription, which ends with `UNAUTHENTICATED` once the
//! session has ended (`signOut`, `changePassword`); operations carry the client's address, so
//! the per-address sign-in throttle counts them; a message larger than HTTP's body limit
//! ([`MAX_BODY_BYTES`]) closes the socket without being read.

use crate::graphql::RosterSchema;
use crate::graphql::context::Shared;
use crate::graphql::documents::{self, Documents};
use crate::state::{AppState, authenticate_bearer};
use crate::state::{MAX_BODY_BYTES, request_error};
use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, Request, Response};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use futures::StreamExt as _;
use futures::stream::BoxStream;
use std::any::TypeId;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// What a socket keeps from its `connection_init`: the bearer, never the actor it named then.
struct Session {
    bearer: Option<String>,
}

/// The schema as a socket runs it: each operation and each event authorised afresh.
#[derive(Clone)]
struct SocketExecutor {
    schema: RosterSchema,
    documents: Documents,
    shared: Shared,
    client: IpAddr,
}

impl SocketExecutor {
    fn bearer(session: Option<&Arc<Data>>) -> Option<String> {
        session
            .and_then(|d| d.get(&TypeId::of::<Session>()))
            .and_then(|s| s.downcast_ref::<Session>())
            .and_then(|s| s.bearer.clone())
    }
}

/// Whether the operation `request` runs is a subscription (its events are then authorised
/// one by one; a query's or mutation's single answer is not held back, so `signOut` over a
/// socket still answers).
fn is_subscription(request: &mut Request) -> bool {
    let name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false;
    };
    matches!(
        documents::selected(document, name.as_deref()),
        Some((_, OperationType::Subscription))
    )
}

impl Executor for SocketExecutor {
    async fn execute(&self, request: Request) -> Response {
        self.execute_stream(request, None)
            .next()
            .await
            .unwrap_or_default()
    }

    fn execute_stream(
        &self,
        request: Request,
        session: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let this = self.clone();
        let bearer = Self::bearer(session.as_ref());
        let start = async move {
            // The document as HTTP gets it (persisted, cached or parsed now).
            let mut request = match this.documents.prepare(request).await {
                Ok(request) => request,
                Err(e) => {
                    let refused = Response::from_errors(vec![e]);
                    return futures::stream::once(async { refused }).boxed();
                }
            };
            let subscription = is_subscription(&mut request);
            let mut ctx = match authenticate_bearer(&this.shared, bearer.as_deref()).await {
                Ok(ctx) => ctx,
                Err(e) => {
                    let refused = Response::from_errors(vec![request_error(e)]);
                    return futures::stream::once(async { refused }).boxed();
                }
            };
            ctx.client = Some(this.client);
            let responses = this
                .schema
                .execute_stream_with_session_data(request.data(ctx), session.unwrap_or_default());
            if !subscription {
                return responses;
            }
            // Each event is let through only while the session still stands; the first
            // refusal is sent and ends the stream.
            let shared = this.shared;
            futures::stream::unfold(Some(responses), move |state| {
                let shared = shared.clone();
                let bearer = bearer.clone();
                async move {
                    let mut responses = state?;
                    let response = responses.next().await?;
                    match authenticate_bearer(&shared, bearer.as_deref()).await {
                        Ok(_) => Some((response, Some(responses))),
                        Err(e) => Some((Response::from_errors(vec![request_error(e)]), None)),
                    }
                }
            })
            .boxed()
        };
        futures::stream::once(start).flatten().boxed()
    }
}

/// GraphQL over a websocket (graphql-transport-ws). The token travels in the connection_init
/// payload as `{"Authorization": "Bearer <token>"}` (or `{"token": "<token>"}`); a token that
/// is not valid then refuses the connection.
pub async fn graphql_ws(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> axum::response::Response {
    let executor = SocketExecutor {
        schema: state.schema.clone(),
        documents: state.documents.clone(),
        shared: state.shared.clone(),
        client: peer.ip(),
    };
    let shared = state.shared.clone();
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(MAX_BODY_BYTES)
        .max_frame_size(MAX_BODY_BYTES)
        .on_upgrade(move |stream| {
            GraphQLWebSocket::new(stream, executor, protocol)
                .on_connection_init(move |payload| async move {
                    // Header names are case-insensitive, and so is this key.
                    let bearer = payload
                        .as_object()
                        .and_then(|o| {
                            o.iter()
                                .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                        })
                        .and_then(|(_, v)| v.as_str())
                        .map(str::to_string)
                        .or_else(|| {
                            payload
                                .get("token")
                                .and_then(|v| v.as_str())
                                .map(|t| format!("Bearer {t}"))
                        });
                    authenticate_bearer(&shared, bearer.as_deref()).await?;
                    let mut data = Data::default();
                    data.insert(Session { bearer });
                    Ok(data)
                })
                .serve()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_subscriptions_have_their_events_held_back() {
        assert!(is_subscription(&mut Request::new(
            "subscription { contractChanged(contractId: \"x\") { kind } }"
        )));
        assert!(!is_subscription(&mut Request::new("mutation { signOut }")));
        assert!(!is_subscription(&mut Request::new("{ me { id } }")));
        let two = "query A { me { id } } subscription B { x }";
        assert!(is_subscription(&mut Request::new(two).operation_name("B")));
        assert!(!is_subscription(&mut Request::new(two).operation_name("A")));
        // A lone named subscription runs without an operationName, so it is held back too.
        assert!(is_subscription(&mut Request::new(
            "subscription S { contractChanged(contractId: \"x\") { kind } }"
        )));
    }
}
