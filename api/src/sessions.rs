//! Who a bearer token names, cached so that a request costs no SQL statement to authenticate,
//! while `signOut`, `changePassword` and every change to a user's own row still take effect at
//! once in every process.
//!
//! - The cache maps a token's hash to the user row (or staff key id) it names, for at most
//!   [`TTL`] and never past the session's own expiry.
//! - A change that ends a session or changes a user's row calls [`SessionCache::forget_user`]
//!   after its commit and before it answers. In production (Redis) that also publishes the user
//!   id on `{namespace}:sessions`, which every API process subscribes to; `PUBLISH` returns once
//!   Redis has handed the message to every subscriber's connection.
//! - A process uses its cache only while its subscription is live: before it subscribed, and
//!   from the moment it loses Redis until it has subscribed again (its cache emptied), every
//!   request reads the database. So a missed invalidation can never leave a session alive.
//! - A generation number closes the race between a request that read the database before an
//!   invalidation and stores its row after it: a row read under an older generation is not kept.
//! - Embedded mode (one process): the same cache, always live, invalidated in-process.

use roster_store::users::UserRow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest a cached answer is used (a safety net; invalidation is what ends a session).
pub const TTL: Duration = Duration::from_secs(60);
/// Entries kept before the cache starts over.
const CAPACITY: usize = 100_000;

/// What a token names.
#[derive(Clone, Debug)]
pub enum Who {
    User(Arc<UserRow>),
    Staff(i64),
}

#[derive(Clone)]
struct Entry {
    who: Who,
    until: Instant,
    /// The session's own expiry, ms since the epoch (staff keys: none).
    expires_at_ms: Option<i64>,
}

/// The per-process cache; see the module documentation.
pub struct SessionCache {
    entries: Mutex<HashMap<String, Entry>>,
    generation: AtomicU64,
    live: AtomicBool,
    publish: Option<(redis::Client, String)>,
    conn: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
}

/// A lookup's ticket: the generation it started under, to store what it read.
#[derive(Clone, Copy)]
pub struct Ticket(u64);

impl SessionCache {
    /// One process, nothing to share: always live.
    pub fn local() -> Arc<Self> {
        Arc::new(Self::with(None, true))
    }

    /// Shared through Redis: live once subscribed to `channel`, and only while subscribed.
    pub fn shared(client: redis::Client, channel: String) -> Arc<Self> {
        let cache = Arc::new(Self::with(Some((client.clone(), channel.clone())), false));
        let weak = Arc::downgrade(&cache);
        tokio::spawn(async move { listen(client, channel, weak).await });
        cache
    }

    fn with(publish: Option<(redis::Client, String)>, live: bool) -> Self {
        Self {
            entries: Mutex::default(),
            generation: AtomicU64::new(0),
            live: AtomicBool::new(live),
            publish,
            conn: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached answer for `token_hash`, or a ticket to store the one read from the database.
    pub fn get(&self, token_hash: &str) -> Result<Who, Ticket> {
        let ticket = Ticket(self.generation.load(Ordering::SeqCst));
        if !self.live.load(Ordering::SeqCst) {
            return Err(ticket);
        }
        let entries = self.entries.lock().expect("session cache lock");
        match entries.get(token_hash) {
            Some(e)
                if e.until > Instant::now()
                    && e.expires_at_ms.is_none_or(|x| x > roster_store::now_ms()) =>
            {
                Ok(e.who.clone())
            }
            _ => Err(ticket),
        }
    }

    /// Keeps what a lookup under `ticket` read, unless an invalidation came in between.
    pub fn put(&self, ticket: Ticket, token_hash: String, who: Who, expires_at_ms: Option<i64>) {
        if !self.live.load(Ordering::SeqCst) {
            return;
        }
        let mut entries = self.entries.lock().expect("session cache lock");
        // Checked under the lock that invalidations take, so none slips between.
        if self.generation.load(Ordering::SeqCst) != ticket.0 {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(
            token_hash,
            Entry {
                who,
                until: Instant::now() + TTL,
                expires_at_ms,
            },
        );
    }

    /// Forgets every cached session of `user_id` here, and in every other process.
    pub async fn forget_user(&self, user_id: i64) {
        self.forget_locally(Some(user_id));
        let Some((client, channel)) = &self.publish else {
            return;
        };
        let mut conn = self.conn.lock().await;
        for _ in 0..2 {
            if conn.is_none() {
                *conn = client.get_multiplexed_async_connection().await.ok();
            }
            let Some(c) = conn.as_mut() else { break };
            let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(channel)
                .arg(user_id.to_string())
                .query_async(c)
                .await;
            match sent {
                Ok(_) => return,
                Err(_) => *conn = None,
            }
        }
        // Other processes could not be told: they lost Redis too, so their caches are off
        // (see `listen`), or they will be within their TTL.
        tracing::warn!(
            "could not publish a session invalidation; other processes' caches expire within their TTL"
        );
    }

    /// Forgets `user_id`'s sessions (or every session) in this process.
    fn forget_locally(&self, user_id: Option<i64>) {
        let mut entries = self.entries.lock().expect("session cache lock");
        self.generation.fetch_add(1, Ordering::SeqCst);
        match user_id {
            Some(id) => entries.retain(|_, e| !matches!(&e.who, Who::User(u) if u.id == id)),
            None => entries.clear(),
        }
    }

    fn set_live(&self, live: bool) {
        // Emptied both ways: whatever was cached before may have missed an invalidation.
        self.forget_locally(None);
        self.live.store(live, Ordering::SeqCst);
        if !live {
            self.forget_locally(None);
        }
    }

    /// Whether the cache is in use (for tests and metrics).
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }
}

/// Follows the invalidations of other processes; the cache is live only while subscribed.
async fn listen(client: redis::Client, channel: String, cache: std::sync::Weak<SessionCache>) {
    use futures::StreamExt as _;
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    let Some(c) = cache.upgrade() else { return };
                    c.set_live(true);
                    drop(c);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Some(c) = cache.upgrade() else { return };
                        match message
                            .get_payload::<String>()
                            .ok()
                            .and_then(|p| p.parse().ok())
                        {
                            Some(user_id) => c.forget_locally(Some(user_id)),
                            None => c.forget_locally(None),
                        }
                    }
                    tracing::warn!("lost the session invalidation subscription; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "cannot subscribe to session invalidations"),
            },
            Err(e) => tracing::warn!(error = %e, "cannot reach Redis for session invalidations"),
        }
        match cache.upgrade() {
            Some(c) => c.set_live(false),
            None => return,
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> Who {
        Who::User(Arc::new(UserRow {
            id,
            email: format!("u{id}@example.com"),
            first_name: "U".into(),
            last_name: "Ser".into(),
            language: "en".into(),
            password_hash: None,
            subscriber_terms_at: None,
            coordinator_terms_at: None,
            first_sign_in_at: None,
            reseller_id: None,
            created_at: 0,
        }))
    }

    #[tokio::test]
    async fn a_forgotten_user_is_read_again_and_a_stale_read_is_not_kept() {
        let cache = SessionCache::local();
        let Err(t) = cache.get("a") else { panic!() };
        cache.put(t, "a".into(), user(1), None);
        cache.put(t, "b".into(), user(2), None);
        assert!(cache.get("a").is_ok());
        cache.forget_user(1).await;
        assert!(cache.get("a").is_err(), "user 1's session is read again");
        assert!(cache.get("b").is_ok(), "user 2's is not concerned");
        // A lookup that began before an invalidation does not store what it read.
        let Err(t) = cache.get("c") else { panic!() };
        cache.forget_user(3).await;
        cache.put(t, "c".into(), user(3), None);
        assert!(cache.get("c").is_err());
        // Nor is an expired session served.
        let Err(t) = cache.get("d") else { panic!() };
        cache.put(t, "d".into(), user(4), Some(roster_store::now_ms() - 1));
        assert!(cache.get("d").is_err());
    }

    #[test]
    fn a_cache_that_is_not_live_is_not_used() {
        let cache = SessionCache::with(None, false);
        let Err(t) = cache.get("a") else { panic!() };
        cache.put(t, "a".into(), user(1), None);
        assert!(cache.get("a").is_err());
    }
}
