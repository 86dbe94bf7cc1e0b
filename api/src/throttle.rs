//! Throttling of sign-in and activation attempts, per account and per client address.
//!
//! Every attempt counts, whether it came alone, aliased several times in one query, or in a
//! batch, because the counting happens in the resolver. Windows are fixed; the table is per
//! process (behind a load balancer each replica throttles on its own, which still bounds an
//! attacker to replicas × limit) and is pruned as it grows.

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

/// The process's sign-in throttle.
#[derive(Default)]
pub struct Throttle {
    accounts: Mutex<Table>,
    addresses: Mutex<Table>,
}

impl Throttle {
    /// Counts an attempt from `addr`; `false` when that address is over its limit.
    pub fn attempt(&self, addr: Option<IpAddr>) -> bool {
        let Some(addr) = addr else { return true };
        let n = self
            .addresses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .hit(addr.to_string(), ADDRESS_WINDOW, Instant::now());
        n <= ADDRESS_ATTEMPTS
    }

    /// Whether `account` may try again (fewer than the allowed failures in the window).
    pub fn account_open(&self, account: &str) -> bool {
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .count(&account.to_lowercase(), ACCOUNT_WINDOW, Instant::now())
            < ACCOUNT_FAILURES
    }

    /// Records a failed sign-in for `account`.
    pub fn failed(&self, account: &str) {
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

    #[test]
    fn accounts_close_after_ten_failures_and_addresses_after_thirty_attempts() {
        let t = Throttle::default();
        for _ in 0..ACCOUNT_FAILURES {
            assert!(t.account_open("Ann@x.example"));
            t.failed("ann@x.example");
        }
        assert!(!t.account_open("ANN@x.example"));
        assert!(t.account_open("bob@x.example"));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..ADDRESS_ATTEMPTS {
            assert!(t.attempt(Some(ip)));
        }
        assert!(!t.attempt(Some(ip)));
        assert!(t.attempt(Some("10.0.0.2".parse().unwrap())));
    }
}
