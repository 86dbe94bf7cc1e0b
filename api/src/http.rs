//! HTTP: GraphQL, GraphiQL, health, readiness and metrics (API.md, "HTTP").
//!
//! Every request gets an `x-request-id` (the client's, or a fresh UUID), echoed on the
//! response and carried by the `request` span that every log line of the request sits in.

use crate::graphql::context::{Ctx, Shared};
use crate::graphql::errors;
use crate::state::{AppState, authenticate_bearer};
use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use std::sync::Arc;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .route("/graphql/ws", get(crate::ws::graphql_ws))
        .route(
            "/contracts/{number}/{file}",
            get(crate::export::contract_file),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(crate::metrics::track_http))
        // Outermost last: the id is set, then the span opens with it, then the response
        // carries it back.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(Arc::new(state))
}

/// The span around one request: its id, method and path (never the query string, which may
/// carry a token, nor any header but the id).
fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    )
}

async fn graphiql() -> impl IntoResponse {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
}

async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    if let Err(e) = state.shared.store.ping().await {
        tracing::warn!(error = %e, "database is not answering");
        return (StatusCode::SERVICE_UNAVAILABLE, "database is not answering");
    }
    if let Some(client) = &state.redis {
        let pong = async {
            let mut conn = client.get_multiplexed_async_connection().await?;
            redis::cmd("PING").query_async::<String>(&mut conn).await
        };
        match tokio::time::timeout(std::time::Duration::from_secs(2), pong).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the queue is not answering");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the queue (Redis) is not answering",
                );
            }
            Err(_) => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the queue (Redis) is not answering",
                );
            }
        }
    }
    (StatusCode::OK, "ready")
}

/// Prometheus text format: this process's counters and histograms (see [`crate::metrics`]),
/// then jobs pending, outbox lag and emails by status from the database.
async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(&state.shared.store).await,
    )
}

async fn graphql(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    metrics::counter!(crate::metrics::GRAPHQL_REQUESTS).increment(1);
    let ctx = match authenticate(&state.shared, &headers).await {
        Ok(mut ctx) => {
            ctx.client = Some(peer.ip());
            ctx
        }
        Err(e) => return async_graphql::Response::from_errors(vec![request_error(e)]).into(),
    };
    state
        .schema
        .execute(request.into_inner().data(ctx))
        .await
        .into()
}

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

/// Resolves the bearer token to an actor; a token that is not valid is refused outright
/// rather than treated as anonymous, so a client learns its session ended.
async fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Ctx, async_graphql::Error> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(Ctx::anonymous(shared));
    };
    let value = value.to_str().map_err(|_| errors::unauthenticated())?;
    authenticate_bearer(shared, Some(value)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_errors_carry_their_code_and_no_locations() {
        let json = serde_json::to_value(request_error(errors::unauthenticated())).unwrap();
        assert_eq!(json["extensions"]["code"], "UNAUTHENTICATED");
        assert!(json.get("locations").is_none(), "{json}");
    }
}
