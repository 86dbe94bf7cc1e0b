//! Starting Roster: the store, the HTTP server and (unless told not to) the worker.

use crate::config::{Config, QueueConfig};
use crate::graphql::events::EventBus;
use crate::graphql::{self, context::Shared};
use crate::http;
use crate::state::AppState;
use crate::throttle::Throttle;
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
        Some(url) => Mailer::smtp(url, config.smtp_rate).map_err(|e| anyhow::anyhow!(e))?,
        None => Mailer::file(config.mail_dir.clone()).with_context(|| {
            format!(
                "ROSTER_DATA_DIR: cannot create {}",
                config.mail_dir.display()
            )
        })?,
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
            queue: queue(config),
            name: config.worker_name.clone(),
        },
    ))
}

/// The worker's view of the configured queue.
pub fn queue(config: &Config) -> Queue {
    match &config.queue {
        QueueConfig::Sqlite { path } => Queue::Sqlite { path: path.clone() },
        QueueConfig::Redis { url, namespace } => Queue::Redis {
            url: url.clone(),
            namespace: namespace.clone(),
        },
    }
}

/// The operator listener (jobs board and `/metrics`) when `ROSTER_ADMIN_LISTEN` is set.
async fn start_admin(
    config: &Config,
    store: &Store,
    stopped: &watch::Receiver<bool>,
) -> anyhow::Result<(Option<SocketAddr>, Option<JoinHandle<anyhow::Result<()>>>)> {
    let Some(at) = config.admin_listen else {
        return Ok((None, None));
    };
    let (addr, handle) = crate::admin::start(at, store.clone(), stopped.clone()).await?;
    Ok((Some(addr), Some(handle)))
}

/// A running Roster: its address, store, and the handle to stop it.
pub struct Running {
    pub addr: SocketAddr,
    /// The operator listener's address, when one was configured.
    pub admin_addr: Option<SocketAddr>,
    pub store: Store,
    pub wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    server: JoinHandle<anyhow::Result<()>>,
    admin: Option<JoinHandle<anyhow::Result<()>>>,
    worker: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    /// Stops accepting requests, lets in-flight requests and jobs finish, and waits.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.server.await??;
        if let Some(admin) = self.admin {
            admin.await??;
        }
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
    crate::metrics::install();
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

    let redis = match &config.queue {
        QueueConfig::Redis { url, namespace } => Some((
            redis::Client::open(url.as_str()).context("REDIS_URL is not a valid Redis URL")?,
            namespace,
        )),
        QueueConfig::Sqlite { .. } => None,
    };
    let events = match &redis {
        // Every API process on this Redis hears every change (subscriptions, R17).
        Some((client, namespace)) => {
            EventBus::shared(client.clone(), format!("{namespace}:events"))
        }
        None => EventBus::new(),
    };
    let sessions = match &redis {
        // Every API process forgets a session the moment any of them ends it.
        Some((client, namespace)) => {
            crate::sessions::SessionCache::shared(client.clone(), format!("{namespace}:sessions"))
        }
        None => crate::sessions::SessionCache::local(),
    };
    let documents = graphql::documents::Documents::default();
    let throttle = match &redis {
        // Every API process on this Redis counts the same sign-in attempts.
        Some((client, namespace)) => Throttle::shared(client.clone(), namespace.to_string()),
        None => Throttle::default(),
    };
    let state = AppState {
        schema: graphql::schema(config.introspection),
        documents,
        shared: Shared {
            store: store.clone(),
            provisioning_delay: config.provisioning_delay,
            wake: wake.clone(),
            events,
            throttle: Arc::new(throttle),
            support_phones: std::sync::Arc::new(config.support_phones.clone()),
            sessions,
        },
        redis: redis.map(|(client, _)| client),
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("ROSTER_LISTEN: cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (admin_addr, admin) = start_admin(config, &store, &stopped).await?;
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
        admin_addr,
        store,
        wake,
        stop,
        server,
        admin,
        worker,
    })
}

/// A running `roster worker`: the worker and, when configured, the operator listener.
/// Dropped without [`shutdown`](Self::shutdown), it stops the worker at once (as a killed
/// process would).
pub struct RunningWorker {
    /// The operator listener's address, when one was configured.
    pub admin_addr: Option<SocketAddr>,
    pub store: Store,
    stop: watch::Sender<bool>,
    worker: Option<JoinHandle<anyhow::Result<()>>>,
    admin: Option<JoinHandle<anyhow::Result<()>>>,
}

impl RunningWorker {
    /// Stops taking jobs, lets in-flight jobs finish, and waits.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let worker = match self.worker.take() {
            Some(w) => w.await,
            None => Ok(Ok(())),
        };
        if let Some(admin) = self.admin.take() {
            admin.await??;
        }
        self.store.close().await;
        worker?
    }

    /// Waits until the worker stops by itself (an error) or `signal` fires.
    pub async fn wait(mut self, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Some(worker) = self.worker.as_mut() else {
            return Ok(());
        };
        tokio::select! {
            _ = signal => {}
            r = worker => {
                self.worker = None;
                r??;
                anyhow::bail!("the worker stopped");
            }
        }
        self.shutdown().await
    }
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        if let Some(worker) = &self.worker {
            worker.abort();
        }
    }
}

/// Starts the worker alone (and the operator listener, when configured).
pub async fn start_worker(config: &Config) -> anyhow::Result<RunningWorker> {
    crate::metrics::install();
    let store = open_store(config, 8).await?;
    let (deps, worker_config) = worker_parts(config, store.clone())?;
    let (stop, stopped) = watch::channel(false);
    let (admin_addr, admin) = start_admin(config, &store, &stopped).await?;
    let mut worker_stopped = stopped;
    let worker = tokio::spawn(roster_worker::run(
        deps,
        worker_config,
        Arc::new(Notify::new()),
        async move {
            let _ = worker_stopped.wait_for(|s| *s).await;
        },
    ));
    Ok(RunningWorker {
        admin_addr,
        store,
        stop,
        worker: Some(worker),
        admin,
    })
}

/// Runs the worker alone until `signal` fires.
pub async fn run_worker(
    config: &Config,
    signal: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    start_worker(config).await?.wait(signal).await
}
