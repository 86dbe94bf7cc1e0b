//! Starting Roster: the store, the HTTP server and (unless told not to) the worker.

use crate::config::{Config, QueueConfig};
use crate::graphql::{self, context::Shared};
use crate::http::{self, AppState};
use anyhow::Context as _;
use roster_store::Store;
use roster_worker::mail::Mailer;
use roster_worker::{Deps, Queue, WorkerConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// Opens the database and applies migrations.
pub async fn open_store(config: &Config, max_connections: u32) -> anyhow::Result<Store> {
    if config.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "ROSTER_DATA_DIR: cannot create {}",
                config.data_dir.display()
            )
        })?;
    }
    let store = Store::connect(&config.database_url, max_connections).await?;
    store.migrate().await?;
    Ok(store)
}

/// The worker's dependencies from configuration.
pub fn worker_parts(config: &Config, store: Store) -> anyhow::Result<(Arc<Deps>, WorkerConfig)> {
    let mailer = match &config.smtp_url {
        Some(url) => Mailer::smtp(url).map_err(|e| anyhow::anyhow!(e))?,
        None => Mailer::file(config.mail_dir.clone()).with_context(|| {
            format!(
                "ROSTER_DATA_DIR: cannot create {}",
                config.mail_dir.display()
            )
        })?,
    };
    let queue = match &config.queue {
        QueueConfig::Sqlite { path } => Queue::Sqlite { path: path.clone() },
        QueueConfig::Redis { url, namespace } => Queue::Redis {
            url: url.clone(),
            namespace: namespace.clone(),
        },
    };
    Ok((
        Arc::new(Deps {
            store,
            mailer,
            from: config.mail_from.clone(),
            public_url: config.public_url.clone(),
            redeliver_after: config.redeliver_after,
        }),
        WorkerConfig {
            queue,
            name: config.worker_name.clone(),
        },
    ))
}

/// A running Roster: its address, store, and the handle to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub store: Store,
    pub wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    server: JoinHandle<anyhow::Result<()>>,
    worker: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    /// Stops accepting requests, lets in-flight requests and jobs finish, and waits.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.server.await??;
        if let Some(worker) = self.worker {
            worker.await??;
        }
        self.store.close().await;
        Ok(())
    }

    /// Waits until the server or the worker stops by itself (an error) or `signal` fires.
    pub async fn wait(mut self, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        tokio::select! {
            _ = signal => {}
            r = &mut self.server => { r??; anyhow::bail!("the server stopped"); }
        }
        tracing::info!("shutting down");
        self.shutdown().await
    }
}

/// Starts the API (and the worker in-process when `with_worker`) on `config.listen`.
pub async fn start(config: &Config, with_worker: bool) -> anyhow::Result<Running> {
    let store = open_store(config, 16).await?;
    let wake = Arc::new(Notify::new());
    let (stop, stopped) = watch::channel(false);

    let worker = if with_worker {
        let (deps, worker_config) = worker_parts(config, store.clone())?;
        let mut stopped = stopped.clone();
        Some(tokio::spawn(roster_worker::run(
            deps,
            worker_config,
            wake.clone(),
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        )))
    } else {
        None
    };

    let state = AppState {
        schema: graphql::schema(config.introspection),
        shared: Shared {
            store: store.clone(),
            provisioning_delay: config.provisioning_delay,
            wake: wake.clone(),
            events: crate::graphql::events::EventBus::new(),
            throttle: Default::default(),
        },
        redis: match &config.queue {
            QueueConfig::Redis { url, .. } => Some(
                redis::Client::open(url.as_str()).context("REDIS_URL is not a valid Redis URL")?,
            ),
            QueueConfig::Sqlite { .. } => None,
        },
        requests: Default::default(),
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("ROSTER_LISTEN: cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let mut stopped = stopped;
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            http::router(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
        .await
        .context("the HTTP server failed")
    });
    tracing::info!(%addr, worker = with_worker, "roster is serving");
    Ok(Running {
        addr,
        store,
        wake,
        stop,
        server,
        worker,
    })
}

/// Runs the worker alone until `signal` fires.
pub async fn run_worker(
    config: &Config,
    signal: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = open_store(config, 8).await?;
    let (deps, worker_config) = worker_parts(config, store.clone())?;
    roster_worker::run(deps, worker_config, Arc::new(Notify::new()), signal).await?;
    store.close().await;
    Ok(())
}
