//! Throttling of sign-in and activation attempts, per account and per client address.
//!
//! Every attempt counts, whether it came alone, aliased several times in one query, or in a
//! batch, because the counting happens in the resolver. Windows are fixed. In production the
//! counts live in Redis, under the queue's namespace, so every `roster serve` process sees the
//! same counts (one account is throttled at its 11th attempt however the attempts are spread);
//! embedded mode (no Redis) keeps them in a per-process table, pruned as it grows. When Redis
//! does not answer, the process counts on its own rather than letting every attempt through.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed sign-ins allowed per account in [`ACCOUNT_WINDOW`].
pub const ACCOUNT_FAILURES: u32 = 10;
pub const ACCOUNT_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Sign-in and activation attempts allowed per client address in [`ADDRESS_WINDOW`].
pub const ADDRESS_ATTEMPTS: u32 = 60;
pub const ADDRESS_WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Table(HashMap<String, (Instant, u32)>);

impl Table {
    /// Counts one more in `key`'s window; returns the count including this one.
    fn hit(&mut self, key: String, window: Duration, now: Instant) -> u32 {
        if self.0.len() > 100_000 {
            self.0
                .retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = self.0.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1
    }

    fn count(&self, key: &str, window: Duration, now: Instant) -> u32 {
        match self.0.get(key) {
            Some((start, n)) if now.duration_since(*start) < window => *n,
            _ => 0,
        }
    }
}

/// The sign-in throttle: shared through Redis in production, per process otherwise.
#[derive(Default)]
pub struct Throttle {
    accounts: Mutex<Table>,
    addresses: Mutex<Table>,
    shared: Option<SharedCounts>,
}

/// Counts every process sees: fixed windows as Redis keys that expire with their window.
struct SharedCounts {
    client: redis::Client,
    conn: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    prefix: String,
}

/// How long a throttle check waits for Redis before counting locally instead.
const REDIS_WAIT: Duration = Duration::from_secs(2);

impl SharedCounts {
    async fn conn(&self) -> redis::RedisResult<redis::aio::ConnectionManager> {
        self.conn
            .get_or_try_init(|| redis::aio::ConnectionManager::new(self.client.clone()))
            .await
            .cloned()
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}:throttle:{kind}:{id}", self.prefix)
    }

    /// Counts one more in the window of `key`; the count including this one.
    async fn hit(&self, key: String, window: Duration) -> redis::RedisResult<u32> {
        let mut conn = self.conn().await?;
        let (_, n): (Option<String>, u32) = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(&key)
            .arg(0)
            .arg("EX")
            .arg(window.as_secs())
            .arg("NX")
            .cmd("INCR")
            .arg(&key)
            .query_async(&mut conn)
            .await?;
        Ok(n)
    }

    async fn count(&self, key: String) -> redis::RedisResult<u32> {
        let mut conn = self.conn().await?;
        let n: Option<u32> = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
        Ok(n.unwrap_or(0))
    }
}

/// The shared count's answer, or `None` (count locally) when Redis failed or was slow.
async fn shared_or_local<T>(
    what: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Option<T> {
    match tokio::time::timeout(REDIS_WAIT, what).await {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the sign-in throttle cannot reach Redis; counting in this process");
            None
        }
        Err(_) => {
            tracing::warn!("the sign-in throttle's Redis is slow; counting in this process");
            None
        }
    }
}

impl Throttle {
    /// A throttle whose counts live in Redis under `prefix` (the queue's namespace).
    pub fn shared(client: redis::Client, prefix: String) -> Self {
        Self {
            shared: Some(SharedCounts {
                client,
                conn: tokio::sync::OnceCell::new(),
                prefix,
            }),
            ..Self::default()
        }
    }

    /// Counts an attempt from `addr`; `false` when that address is over its limit.
    pub async fn attempt(&self, addr: Option<IpAddr>) -> bool {
        let Some(addr) = addr else { return true };
        if let Some(shared) = &self.shared {
            let key = shared.key("address", &addr.to_string());
            if let Some(n) = shared_or_local(shared.hit(key, ADDRESS_WINDOW)).await {
                return n <= ADDRESS_ATTEMPTS;
            }
        }
        let n = self
            .addresses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .hit(addr.to_string(), ADDRESS_WINDOW, Instant::now());
        n <= ADDRESS_ATTEMPTS
    }

    /// Whether `account` may try again (fewer than the allowed failures in the window).
    pub async fn account_open(&self, account: &str) -> bool {
        if let Some(shared) = &self.shared {
            let key = shared.key("account", &account.to_lowercase());
            if let Some(n) = shared_or_local(shared.count(key)).await {
                return n < ACCOUNT_FAILURES;
            }
        }
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .count(&account.to_lowercase(), ACCOUNT_WINDOW, Instant::now())
            < ACCOUNT_FAILURES
    }

    /// Records a failed sign-in for `account`.
    pub async fn failed(&self, account: &str) {
        if let Some(shared) = &self.shared {
            let key = shared.key("account", &account.to_lowercase());
            if shared_or_local(shared.hit(key, ACCOUNT_WINDOW))
                .await
                .is_some()
            {
                return;
            }
        }
        self.accounts.lock().unwrap_or_else(|e| e.into_inner()).hit(
            account.to_lowercase(),
            ACCOUNT_WINDOW,
            Instant::now(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accounts_close_after_ten_failures_and_addresses_after_sixty_attempts() {
        let t = Throttle::default();
        for _ in 0..ACCOUNT_FAILURES {
            assert!(t.account_open("Ann@x.example").await);
            t.failed("ann@x.example").await;
        }
        assert!(!t.account_open("ANN@x.example").await);
        assert!(t.account_open("bob@x.example").await);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..ADDRESS_ATTEMPTS {
            assert!(t.attempt(Some(ip)).await);
        }
        assert!(!t.attempt(Some(ip)).await);
        assert!(t.attempt(Some("10.0.0.2".parse().unwrap())).await);
    }
}
