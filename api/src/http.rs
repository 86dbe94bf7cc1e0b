//! HTTP: GraphQL, GraphiQL, health and readiness (API.md, "HTTP").

use crate::graphql::context::{Ctx, Shared};
use crate::graphql::{RosterSchema, errors};
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::extract::State;
use axum::extract::{ConnectInfo, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use roster_domain::policy::Principal;
use roster_store::{auth, secret, users};
use std::sync::Arc;
use tower_http::limit::RequestBodyLimitLayer;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub schema: RosterSchema,
    pub shared: Shared,
    /// The Redis queue, where the queue is separate from the database (for `/readyz`).
    pub redis: Option<redis::Client>,
    /// GraphQL requests served by this process (for `/metrics`).
    pub requests: Arc<std::sync::atomic::AtomicU64>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .route("/graphql/ws", get(graphql_ws))
        .route(
            "/contracts/{number}/{file}",
            get(crate::export::contract_file),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .with_state(Arc::new(state))
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

/// Prometheus text format: requests served, jobs pending, emails by status.
async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let store = &state.shared.store;
    let pending = roster_store::outbox::pending_count(store).await.ok();
    let emails = roster_store::emails::count_by_status(store.pool())
        .await
        .unwrap_or_default();
    let mut out = String::new();
    out.push_str("# HELP roster_graphql_requests_total GraphQL requests served by this process.\n");
    out.push_str("# TYPE roster_graphql_requests_total counter\n");
    out.push_str(&format!(
        "roster_graphql_requests_total {}\n",
        state.requests.load(std::sync::atomic::Ordering::Relaxed)
    ));
    if let Some(n) = pending {
        out.push_str(
            "# HELP roster_jobs_pending Jobs owed and not done: outbox rows and queued emails.\n",
        );
        out.push_str("# TYPE roster_jobs_pending gauge\n");
        out.push_str(&format!("roster_jobs_pending {n}\n"));
    }
    out.push_str("# HELP roster_emails Emails in the ledger by delivery status.\n");
    out.push_str("# TYPE roster_emails gauge\n");
    for (status, n) in emails {
        out.push_str(&format!("roster_emails{{status=\"{status}\"}} {n}\n"));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

async fn graphql(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    let ctx = match authenticate(&state.shared, &headers).await {
        Ok(mut ctx) => {
            ctx.client = Some(peer.ip());
            ctx
        }
        Err(e) => {
            return async_graphql::Response::from_errors(vec![
                e.into_server_error(async_graphql::Pos::default()),
            ])
            .into();
        }
    };
    state
        .schema
        .execute(request.into_inner().data(ctx))
        .await
        .into()
}

/// GraphQL subscriptions (graphql-transport-ws). The token travels in the connection_init
/// payload as `{"Authorization": "Bearer <token>"}` (or `{"token": "<token>"}`).
async fn graphql_ws(
    State(state): State<Arc<AppState>>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> axum::response::Response {
    let schema = state.schema.clone();
    let shared = state.shared.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            GraphQLWebSocket::new(stream, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let bearer = payload
                        .get("Authorization")
                        .or_else(|| payload.get("authorization"))
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                        .or_else(|| {
                            payload
                                .get("token")
                                .and_then(|v| v.as_str())
                                .map(|t| format!("Bearer {t}"))
                        });
                    let ctx = authenticate_bearer(&shared, bearer.as_deref()).await?;
                    let mut data = async_graphql::Data::default();
                    data.insert(ctx);
                    Ok(data)
                })
                .serve()
        })
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

/// Resolves `Bearer <token>` (or nothing: anonymous) to the request's context.
pub async fn authenticate_bearer(
    shared: &Shared,
    bearer: Option<&str>,
) -> Result<Ctx, async_graphql::Error> {
    let mut ctx = Ctx::anonymous(shared);
    let Some(value) = bearer else {
        return Ok(ctx);
    };
    let token = value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .ok_or_else(errors::unauthenticated)?;
    let pool = shared.store.pool();
    if token.starts_with(secret::STAFF_PREFIX) {
        let id = auth::staff_key(pool, token)
            .await
            .map_err(errors::store)?
            .ok_or_else(errors::unauthenticated)?;
        ctx.principal = Principal::Staff;
        ctx.staff_key = Some(id);
    } else {
        let user_id = auth::session_user(pool, token)
            .await
            .map_err(errors::store)?
            .ok_or_else(errors::unauthenticated)?;
        let user = users::by_id(pool, user_id)
            .await
            .map_err(errors::store)?
            .ok_or_else(errors::unauthenticated)?;
        ctx.principal = Principal::User;
        ctx.user = Some(Arc::new(user));
    }
    ctx.token = Some(token.to_string());
    Ok(ctx)
}
