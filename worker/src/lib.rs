//! Roster's worker: the outbox relay, the job handlers and email delivery.
//!
//! Changes write outbox rows in their own transaction ([`roster_store::outbox`]); the relay
//! hands committed rows to apalis (SQLite embedded, Redis in production), and one apalis worker
//! runs each job. Jobs are idempotent, so a row handed over twice changes nothing.

pub mod held;
pub mod jobs;
pub mod mail;
pub mod poll;
pub mod relay;
pub mod samples;
pub mod templates;

use apalis::layers::retry::backoff::{ExponentialBackoffMaker, MakeBackoff as _};
use apalis::layers::retry::{HasherRng, RetryPolicy};
use apalis::prelude::*;
use apalis_codec::json::JsonCodec;
use apalis_core::backend::finalize::Durable;
use apalis_core::backend::persistence::TaskPersistLayer;
use apalis_core::backend::{BackendConfig, WireFormatBackend};
use lettre::message::Mailbox;
use roster_store::Store;
use roster_store::outbox::Envelope;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The queue every job goes through.
pub const QUEUE: &str = "jobs";
/// How often an idle worker and the relay look for new work.
pub const POLL: Duration = Duration::from_millis(100);
/// Jobs one worker runs at once (emails share an SMTP pool of 8 connections).
pub const JOB_CONCURRENCY: usize = 32;
/// When the renewal pass runs: hourly, so a missed run is caught up within the hour (the pass
/// is idempotent, so running it more often than daily costs nothing but a few queries).
pub const RENEWAL_SCHEDULE: &str = "0 5 * * * *";

/// Where jobs are queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queue {
    /// apalis-sqlite in a file of its own (embedded mode).
    Sqlite { path: PathBuf },
    /// apalis-redis, keys under `{namespace}:jobs` (production).
    Redis { url: String, namespace: String },
}

/// What job handlers share.
pub struct Deps {
    pub store: Store,
    pub mailer: mail::Mailer,
    pub from: Mailbox,
    /// Base of the links in emails, e.g. `https://roster.example.com`.
    pub public_url: String,
    /// A job handed over but not done after this long is handed over again.
    pub redeliver_after: Duration,
}

impl Deps {
    pub fn redeliver_after_ms(&self) -> i64 {
        i64::try_from(self.redeliver_after.as_millis()).unwrap_or(i64::MAX)
    }
}

/// How long a sender's claim on an email lasts unless renewed: the claims of a worker that
/// died lapse this long after its last renewal, and another worker may then send.
pub const EMAIL_LEASE: Duration = Duration::from_secs(20);
/// How often a sender renews its claim while it composes, sends and records an email (four
/// renewals per lease, so a database hiccup of a few seconds does not cost the claim).
pub const EMAIL_LEASE_RENEWAL: Duration = Duration::from_secs(5);

/// The worker's settings.
pub struct WorkerConfig {
    pub queue: Queue,
    /// Unique per process, so apalis can recover the jobs of a worker that died.
    pub name: String,
}

/// Bounds met by both apalis storages with their default JSON codec.
pub trait JsonStorage<J>:
    Backend<Task = Task<Vec<u8>>>
    + BackendConfig<
        Args = J,
        Kind = Durable,
        Layer = TaskPersistLayer<JsonCodec<serde_json::Value>, serde_json::Value>,
    > + WireFormatBackend<Codec = JsonCodec<Vec<u8>>, Compact = Vec<u8>>
    + TaskSink<J, Durable>
    + Clone
    + Send
    + Sync
    + Unpin
    + 'static
{
}

impl<J, B> JsonStorage<J> for B where
    B: Backend<Task = Task<Vec<u8>>>
        + BackendConfig<
            Args = J,
            Kind = Durable,
            Layer = TaskPersistLayer<JsonCodec<serde_json::Value>, serde_json::Value>,
        > + WireFormatBackend<Codec = JsonCodec<Vec<u8>>, Compact = Vec<u8>>
        + TaskSink<J, Durable>
        + Clone
        + Send
        + Sync
        + Unpin
        + 'static
{
}

/// Runs the relay and the job worker until `shutdown` resolves, then lets in-flight jobs
/// finish. `wake` is notified by in-process writers so the relay need not wait for its poll.
pub async fn run(
    deps: Arc<Deps>,
    config: WorkerConfig,
    wake: Arc<Notify>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    match open_queue(&config.queue).await? {
        QueueStorage::Sqlite(storage) => run_with(storage, deps, config.name, wake, shutdown).await,
        QueueStorage::Redis(storage) => run_with(storage, deps, config.name, wake, shutdown).await,
    }
}

/// The job queue's storage, opened (for the worker, and for tests that look into the queue).
#[derive(Clone)]
pub enum QueueStorage {
    Sqlite(apalis_sqlite::SqliteStorage<Envelope>),
    Redis(apalis_redis::RedisStorage<Envelope>),
}

impl Queue {
    /// The queue's name in its storage: `jobs`, or `{namespace}:jobs` in Redis.
    pub fn name(&self) -> String {
        match self {
            Queue::Sqlite { .. } => QUEUE.to_string(),
            Queue::Redis { namespace, .. } => format!("{namespace}:{QUEUE}"),
        }
    }
}

/// Connects to the queue (creating the SQLite queue's tables when they are missing).
pub async fn open_queue(queue: &Queue) -> anyhow::Result<QueueStorage> {
    match queue {
        Queue::Sqlite { path } => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true);
            let pool = apalis_sqlite::SqlitePool::connect_with(options).await?;
            // Two processes starting at once race to set the queue up; the loser retries and
            // finds it done.
            let mut tries = 0;
            while let Err(e) = apalis_sqlite::SqliteStorage::setup(&pool).await {
                tries += 1;
                if tries >= 10 {
                    return Err(e.into());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(QueueStorage::Sqlite(
                apalis_sqlite::SqliteStorage::<Envelope>::new(&pool).with_config(
                    apalis_sqlite::Config::default()
                        .queue(queue.name())
                        // Beats every 5 s, not every 30 s: besides finding out a vanished
                        // worker sooner, a beat wakes a worker that missed a wake-up.
                        .heartbeat_interval(HEARTBEAT)
                        .missed_heartbeats(MISSED_HEARTBEATS),
                ),
            ))
        }
        Queue::Redis { url, .. } => {
            let conn = apalis_redis::connect(url.as_str()).await?;
            Ok(QueueStorage::Redis(
                apalis_redis::RedisStorage::<Envelope>::new(conn)
                    .with_config(redis_config(&queue.name())),
            ))
        }
    }
}

/// Jobs one fetch takes from Redis; acknowledgements are sent in batches of up to four times
/// this. apalis-redis's default (10) costs a round trip and a Lua call per 10 jobs each way.
pub const REDIS_BATCH: usize = 64;

/// apalis-redis's settings for Roster's queue `name` (the worker's, and the jobs benchmark's).
pub fn redis_config(name: &str) -> apalis_redis::Config {
    apalis_redis::Config::default()
        .queue(name)
        .batch_size(REDIS_BATCH)
        // apalis-redis's lease costs an LREM over the whole waiting list per job (O(queue
        // length): 200 µs a job with 40,000 waiting). Nothing relies on it: the ledger's claim
        // keeps a send single and the relay hands a lost job over again.
        .lock_tasks(false)
        // A publish per finished job, to a channel nobody in Roster listens to (the jobs
        // board reads the database).
        .emit_events(false)
        // A worker that vanished without giving its jobs back (a killed process) is found
        // out after 30 s, not apalis's default 5 minutes.
        .heartbeat_interval(HEARTBEAT)
        .missed_heartbeats(MISSED_HEARTBEATS)
}

async fn run_with<S: JsonStorage<Envelope> + held::GiveBack>(
    storage: S,
    deps: Arc<Deps>,
    name: String,
    wake: Arc<Notify>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let relay = tokio::spawn(relay::run(
        deps.clone(),
        storage.clone(),
        wake,
        stopped.clone(),
    ));
    // A worker that stops by itself (its queue lost its registration in a Redis restart, a
    // backend error) would leave the process running and consuming nothing: apalis's monitor
    // waits for the shutdown signal. So a dead worker stops the monitor, and a new one starts
    // after a pause that grows while the failures go on.
    // A process that ran under this name before (a supervisor restarting a crashed worker)
    // may have left jobs it fetched and never ran.
    held::give_back(&storage, &name).await;
    let mut pause = RESTART_PAUSE_MIN;
    let mut generation = 0u32;
    let result = loop {
        // A restarted worker takes a name of its own: apalis refuses to register a name whose
        // heartbeat is recent, and the old name's jobs must be recoverable if giving them
        // back below failed.
        let worker_name = match generation {
            0 => name.clone(),
            n => format!("{name}~{n}"),
        };
        generation += 1;
        let (died, mut has_died) = tokio::sync::watch::channel(false);
        let monitor = monitor(&storage, &deps, &worker_name).should_restart(move |worker, error| {
            tracing::warn!(worker = worker.name(), error = %error, "a worker stopped; restarting the workers");
            let _ = died.send(true);
            false
        });
        let mut signal = stopped.clone();
        let started = std::time::Instant::now();
        let result = monitor
            .run_with_signal(async move {
                tokio::select! {
                    _ = signal.wait_for(|s| *s) => {}
                    _ = has_died.wait_for(|d| *d) => {}
                }
                Ok(())
            })
            .await;
        held::give_back(&storage, &worker_name).await;
        if *stopped.borrow() {
            break result;
        }
        if started.elapsed() > RESTART_PAUSE_MAX {
            pause = RESTART_PAUSE_MIN;
        }
        let mut signal = stopped.clone();
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = signal.wait_for(|s| *s) => break Ok(()),
        }
        pause = (pause * 2).min(RESTART_PAUSE_MAX);
    };
    relay.await??;
    result.map_err(|e| anyhow::anyhow!("worker stopped with an error: {e}"))
}

/// How often a worker tells the queue it is alive, and how many beats it may miss before other
/// workers take back the jobs it held.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
pub const MISSED_HEARTBEATS: usize = 6;

/// Pauses before restarting workers that stopped by themselves.
const RESTART_PAUSE_MIN: Duration = Duration::from_millis(250);
const RESTART_PAUSE_MAX: Duration = Duration::from_secs(10);

/// The job worker and the renewal schedule.
fn monitor<S: JsonStorage<Envelope>>(storage: &S, deps: &Arc<Deps>, name: &str) -> Monitor {
    let storage = storage.clone();
    let worker_deps = deps.clone();
    let cron_deps = deps.clone();
    let name = name.to_string();
    let cron_name = format!("{name}-renewals");
    let schedule = <cron::Schedule as std::str::FromStr>::from_str(RENEWAL_SCHEDULE)
        .expect("the renewal schedule is a valid cron expression");
    Monitor::new()
        .shutdown_timeout(Duration::from_secs(30))
        .register(move |_restarts| {
            let backoff = ExponentialBackoffMaker::new(
                Duration::from_millis(200),
                Duration::from_secs(60),
                0.5,
                HasherRng::default(),
            )
            .expect("backoff bounds are valid")
            .make_backoff();
            WorkerBuilder::new(name.clone())
                .backend(storage.clone().poll_with_strategy(poll::Every::new(POLL)))
                .data(worker_deps.clone())
                .concurrency(JOB_CONCURRENCY)
                .retry(RetryPolicy::retries(5).with_backoff(backoff))
                .build(jobs::handle)
        })
        .register(move |_restarts| {
            WorkerBuilder::new(cron_name.clone())
                .backend(apalis_cron::CronScheduler::new(schedule.clone()))
                .data(cron_deps.clone())
                .build(jobs::renewal_tick)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 18, finding 5: the settings that make Roster's worker drain faster than BullMQ
    /// (`cargo bench -p roster-bench --bench jobs`): jobs fetched and acknowledged in batches,
    /// no per-job lease (an LREM over the waiting list) and no per-job publish.
    #[test]
    fn the_redis_queue_fetches_in_batches_without_per_job_leases_or_events() {
        let config = redis_config("roster:jobs");
        assert_eq!(config.queue.to_string(), "roster:jobs");
        assert!(config.batch_size >= 64, "batch of {}", config.batch_size);
        assert!(!config.lock_tasks);
        assert!(!config.emit_events);
        assert_eq!(config.heartbeat_interval, HEARTBEAT);
        assert_eq!(config.missed_heartbeats, MISSED_HEARTBEATS);
    }
}
