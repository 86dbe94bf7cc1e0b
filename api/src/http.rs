//! HTTP: GraphQL, GraphiQL, health, readiness and metrics (API.md, "HTTP").
//!
//! Every request gets an `x-request-id` (the client's, or a fresh UUID), echoed on the
//! response and carried by the `request` span that every log line of the request sits in.

use crate::graphql::context::{Ctx, Shared};
use crate::graphql::errors;
use crate::over_http;
pub use crate::state::MAX_BODY_BYTES;
use crate::state::request_error;
use crate::state::{AppState, authenticate_bearer};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::{ConnectInfo, RawQuery};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphiql/assets/{name}", get(crate::graphiql::asset))
        .route("/graphql/ws", get(crate::ws::graphql_ws))
        .route(
            "/contracts/{number}/{file}",
            get(crate::export::contract_file),
        )
        .route(
            "/activate",
            get(crate::pages::activate_page).post(crate::pages::activate_submit),
        )
        .route(
            "/sign-in",
            get(crate::pages::sign_in_page).post(crate::pages::sign_in_submit),
        )
        .route("/account", get(crate::pages::account_page))
        .route("/confirm-email", get(crate::confirm_email::confirm_email))
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

/// `GET /graphql`: GraphiQL for a browser that asks for a page without a query; otherwise a
/// query per the GraphQL over HTTP specification (a mutation is refused with 405).
async fn graphql_get(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let has_query = url::form_urlencoded::parse(raw.as_bytes()).any(|(k, _)| k == "query");
    if !has_query && over_http::wants_html(&headers) {
        return crate::graphiql::page();
    }
    let Some(media) = over_http::negotiate(&headers) else {
        return over_http::not_acceptable();
    };
    let params = match over_http::Params::from_query_string(&raw) {
        Ok(p) => p,
        Err(refusal) => return over_http::refuse(media, refusal),
    };
    let mutation = match params.persisted_hash() {
        // A persisted query this process knows: judged by its document.
        Some(hash) => match state.documents.by_hash(hash).await {
            Some(doc) => params.runs_mutation(&doc),
            None => false,
        },
        None => params.is_mutation(),
    };
    if mutation {
        return over_http::mutation_over_get(media);
    }
    run(&state, peer, &headers, media, params).await
}

/// `POST /graphql` with an `application/json` body.
async fn graphql_post(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(media) = over_http::negotiate(&headers) else {
        return over_http::not_acceptable();
    };
    if !over_http::is_json_body(&headers) {
        return over_http::unsupported_media(media);
    }
    let params = match over_http::Params::from_body(&body) {
        Ok(p) => p,
        Err(refusal) => return over_http::refuse(media, refusal),
    };
    run(&state, peer, &headers, media, params).await
}

async fn run(
    state: &AppState,
    peer: std::net::SocketAddr,
    headers: &HeaderMap,
    media: over_http::MediaType,
    params: over_http::Params,
) -> Response {
    metrics::counter!(crate::metrics::GRAPHQL_REQUESTS).increment(1);
    let ctx = match authenticate(&state.shared, headers).await {
        Ok(mut ctx) => {
            ctx.client = Some(peer.ip());
            ctx
        }
        Err(e) => {
            return over_http::respond(
                media,
                async_graphql::Response::from_errors(vec![request_error(e)]),
            );
        }
    };
    let request = params.into_request().data(ctx);
    let response = crate::graphql::execute(&state.schema, &state.documents, request).await;
    over_http::respond(media, response)
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
