//! Jobs a worker took from the queue and did not finish, given back when it stops.
//!
//! apalis fetches jobs in batches into a worker's hands (Redis: the worker's inflight set;
//! SQLite: rows locked by the worker). A worker that stops (a shutdown, or a worker that died
//! and is restarted) can leave some of them there unrun: a fetch cut by the shutdown signal,
//! a job waiting for a concurrency slot. apalis hands such jobs back only once the worker's
//! heartbeat has expired, and a worker that restarts under the same name never expires. So
//! every stop gives back what the stopping worker holds, and the relay's redelivery (see
//! [`roster_store::outbox`]) stays the last resort it is meant to be.
//!
//! Giving back a job that did finish but whose acknowledgement was not flushed runs it again;
//! jobs are idempotent, so that changes nothing.

use roster_store::outbox::Envelope;

/// Gives back the jobs held by one worker of a queue.
pub trait GiveBack {
    /// Returns every job worker `name` holds to the queue's waiting jobs and forgets the
    /// worker; returns how many jobs went back.
    fn give_back(&self, name: &str) -> impl Future<Output = anyhow::Result<u64>> + Send;
}

/// Gives back what worker `name` holds, logging the outcome: a failure (the queue is away)
/// leaves the jobs to apalis's recovery of workers whose heartbeat expired.
pub async fn give_back<S: GiveBack>(storage: &S, name: &str) {
    match storage.give_back(name).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(worker = name, jobs = n, "gave unrun jobs back to the queue"),
        Err(e) => tracing::warn!(
            worker = name,
            error = %e,
            "could not give unrun jobs back; they return when the worker's heartbeat expires"
        ),
    }
}

/// Moves a worker's inflight set back onto the active list and unregisters the worker, in one
/// atomic script, as apalis-redis's own `release_leases` does for a shutdown's buffered jobs.
const REDIS_GIVE_BACK: &str = r#"
local ids = redis.call("smembers", KEYS[1])
for _, id in ipairs(ids) do
    redis.call("rpush", KEYS[2], id)
    redis.call("hset", KEYS[5] .. ":" .. id, "status", "Pending")
    redis.call("hdel", KEYS[5] .. ":" .. id, "locked_at", "locked_by")
end
redis.call("del", KEYS[1])
redis.call("zrem", KEYS[4], ARGV[1])
if #ids > 0 then
    redis.call("del", KEYS[3])
    redis.call("lpush", KEYS[3], 1)
end
return #ids
"#;

impl GiveBack for apalis_redis::RedisStorage<Envelope> {
    async fn give_back(&self, name: &str) -> anyhow::Result<u64> {
        let config = self.get_config();
        let keys = [
            format!("{}:{name}", config.inflight_jobs_set()),
            config.active_jobs_list(),
            config.signal_list(),
            config.workers_set(),
            config.job_meta_hash(),
        ];
        let mut conn = self.clone().get_connection().clone();
        let script = redis::Script::new(REDIS_GIVE_BACK);
        let mut invocation = script.prepare_invoke();
        for key in &keys {
            invocation.key(key);
        }
        Ok(invocation.arg(name).invoke_async::<u64>(&mut conn).await?)
    }
}

impl GiveBack for apalis_sqlite::SqliteStorage<Envelope> {
    async fn give_back(&self, name: &str) -> anyhow::Result<u64> {
        let done = sqlx::query(
            "UPDATE Jobs SET status = 'Pending', lock_by = NULL, lock_at = NULL \
             WHERE lock_by = ?1 AND status IN ('Queued', 'Running')",
        )
        .bind(name)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}
