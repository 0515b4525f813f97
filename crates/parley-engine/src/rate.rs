//! Rate limits kept in process memory: a GCRA cell (`governor`) per key — a conversation,
//! a client address — refilling evenly over the minute, with a burst allowance. Idle keys
//! are swept every so many checks, so the table holds only recently active keys. Several
//! nodes would each count their own (a shared store is for later, with PostgreSQL).

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

/// Forget idle keys every this many checks, so the table stays small.
const SWEEP_EVERY: u64 = 1024;

/// `per_minute` requests a key may make, `burst` of them at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sustained rate; 0 turns the limit off.
    pub per_minute: u32,
    /// How many may come at once (at least 1; 0 means `per_minute`).
    pub burst: u32,
}

impl Rate {
    pub const OFF: Rate = Rate {
        per_minute: 0,
        burst: 0,
    };

    pub fn quota(&self) -> Option<Quota> {
        let per_minute = NonZeroU32::new(self.per_minute)?;
        let burst = NonZeroU32::new(self.burst).unwrap_or(per_minute);
        Some(Quota::per_minute(per_minute).allow_burst(burst))
    }
}

/// A keyed limiter at one [`Rate`]; with the rate off every check passes.
pub struct KeyedLimit<K: Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> KeyedLimit<K> {
    pub fn new(rate: Rate) -> KeyedLimit<K> {
        KeyedLimit {
            limiter: rate.quota().map(DefaultKeyedRateLimiter::keyed),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request for `key`; over the rate, how long until the next would pass.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }
}

/// A wait in whole seconds, rounded up and at least 1 (for `Retry-After`).
pub fn whole_seconds(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_waits_and_others_are_separate() {
        let limit = KeyedLimit::new(Rate {
            per_minute: 6,
            burst: 2,
        });
        assert!(limit.check(&1).is_ok());
        assert!(limit.check(&1).is_ok());
        let wait = limit.check(&1).unwrap_err();
        assert!(
            wait <= Duration::from_secs(10) && wait > Duration::ZERO,
            "{wait:?}"
        );
        assert!((1..=10).contains(&whole_seconds(wait)));
        assert!(limit.check(&2).is_ok());
        let off = KeyedLimit::new(Rate::OFF);
        assert!((0..1000).all(|_| off.check(&1).is_ok()));
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(3)), 3);
        assert_eq!(whole_seconds(Duration::ZERO), 1);
    }
}
