//! The operator listener (`ROSTER_ADMIN_LISTEN`): the apalis jobs board and `/metrics`.
//!
//! The board's web UI asks for `/` and `/api/v1` on its own origin, so it gets a listener of
//! its own rather than a prefix on the API. Neither has authentication: the listener is off
//! unless configured and should be bound to loopback (or put behind a proxy that checks).

use anyhow::Context as _;
use apalis_board::axum::framework::{ApiBuilder, RegisterRoute as _};
use apalis_board::axum::ui::ServeUI;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use roster_store::Store;
use roster_worker::{Queue, QueueStorage};
use std::net::SocketAddr;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Binds the operator listener on `addr` and serves until `stopped` turns true.
pub async fn start(
    addr: SocketAddr,
    queue: &Queue,
    store: Store,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, JoinHandle<anyhow::Result<()>>)> {
    if !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "the admin listener (jobs board, /metrics) has no authentication and is not bound to loopback"
        );
    }
    let router = router(queue, store).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("ROSTER_ADMIN_LISTEN: cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
            .context("the admin listener failed")
    });
    tracing::info!(%addr, "jobs board and /metrics are served");
    Ok((addr, server))
}

/// `/metrics`, the board's API under `/api/v1`, and its UI for every other path.
async fn router(queue: &Queue, store: Store) -> anyhow::Result<Router> {
    let name = queue.name();
    let api = match roster_worker::open_queue(queue)
        .await
        .context("the jobs board cannot open the queue")?
    {
        QueueStorage::Sqlite(storage) => ApiBuilder::new(Router::new())
            .register(&name, storage)
            .build(),
        QueueStorage::Redis(storage) => ApiBuilder::new(Router::new())
            .register(&name, storage)
            .build(),
    };
    Ok(Router::new()
        .route("/metrics", get(metrics))
        .with_state(store)
        .nest("/api/v1", api)
        .fallback_service(ServeUI::new()))
}

async fn metrics(State(store): State<Store>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(&store).await,
    )
}
