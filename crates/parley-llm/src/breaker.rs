//! A circuit breaker per provider, so a provider that is down costs one fast
//! [`LlmError::CircuitOpen`](crate::LlmError::CircuitOpen) instead of a timeout per
//! conversation. Closed → open after `failure_threshold` consecutive provider faults →
//! half-open once `cooldown` has passed, letting exactly one probe through → closed if the
//! probe succeeds, open again (for another cooldown) if it fails. Time comes from a
//! [`Clock`] so tests can move it by hand ([`ManualClock`]).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Where the breaker gets the time.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to, for tests.
#[derive(Debug)]
pub struct ManualClock {
    origin: Instant,
    offset: Mutex<Duration>,
}

impl ManualClock {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }

    pub fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.origin + *self.offset.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// When a breaker opens and how long it rests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive provider faults that open the circuit.
    pub failure_threshold: u32,
    /// How long the circuit stays open before one probe is let through.
    pub cooldown: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cooldown: Duration::from_secs(30),
        }
    }
}

/// What the breaker currently allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Calls are refused until the cooldown ends.
    Open,
    /// The cooldown ended: the next call is the probe (or the probe is in flight).
    HalfOpen,
}

#[derive(Debug)]
enum Inner {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// One provider's breaker; share it (`Arc`) between every chain that uses the provider.
#[derive(Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    pub fn new(config: BreakerConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    pub fn with_clock(config: BreakerConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            config,
            clock,
            inner: Mutex::new(Inner::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { until } if self.clock.now() < until => BreakerState::Open,
            Inner::Open { .. } | Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Asks to make a call. `None` means the circuit is open (or a half-open probe is
    /// already in flight). The permit reports the outcome; dropping it unreported (the
    /// caller was cancelled) frees the probe slot without judging the provider.
    pub fn try_acquire(&self) -> Option<BreakerPermit<'_>> {
        let mut inner = self.lock();
        let probe = match *inner {
            Inner::Closed { .. } => false,
            Inner::Open { until } if self.clock.now() < until => return None,
            Inner::Open { .. } | Inner::HalfOpen { probing: false } => {
                *inner = Inner::HalfOpen { probing: true };
                true
            }
            Inner::HalfOpen { probing: true } => return None,
        };
        Some(BreakerPermit {
            breaker: self,
            probe,
            reported: false,
        })
    }

    fn on_success(&self) {
        *self.lock() = Inner::Closed { failures: 0 };
    }

    fn on_failure(&self, probe: bool) {
        let mut inner = self.lock();
        let open = Inner::Open {
            until: self.clock.now() + self.config.cooldown,
        };
        match *inner {
            Inner::Closed { failures } => {
                let failures = failures.saturating_add(1);
                *inner = if failures >= self.config.failure_threshold {
                    tracing::warn!(failures, "circuit breaker opened");
                    open
                } else {
                    Inner::Closed { failures }
                };
            }
            // Only the probe's verdict counts while half-open; a straggler from before the
            // circuit opened says nothing new.
            Inner::HalfOpen { .. } if probe => *inner = open,
            Inner::HalfOpen { .. } | Inner::Open { .. } => {}
        }
    }

    fn on_abandoned(&self) {
        let mut inner = self.lock();
        if let Inner::HalfOpen { probing: true } = *inner {
            *inner = Inner::HalfOpen { probing: false };
        }
    }
}

/// Leave to make one call; report how it went.
#[derive(Debug)]
pub struct BreakerPermit<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    reported: bool,
}

impl BreakerPermit<'_> {
    /// The provider answered properly (a rejected request counts: it is alive).
    pub fn success(mut self) {
        self.reported = true;
        self.breaker.on_success();
    }

    /// The provider failed in a way that says it is unhealthy.
    pub fn failure(mut self) {
        self.reported = true;
        self.breaker.on_failure(self.probe);
    }
}

impl Drop for BreakerPermit<'_> {
    fn drop(&mut self) {
        if !self.reported && self.probe {
            self.breaker.on_abandoned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> (CircuitBreaker, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new());
        let config = BreakerConfig {
            failure_threshold: 2,
            cooldown: Duration::from_secs(10),
        };
        (CircuitBreaker::with_clock(config, clock.clone()), clock)
    }

    #[test]
    fn opens_after_consecutive_failures_and_a_success_resets_the_count() {
        let (b, _) = breaker();
        b.try_acquire().unwrap().failure();
        b.try_acquire().unwrap().success();
        b.try_acquire().unwrap().failure();
        assert_eq!(b.state(), BreakerState::Closed);
        b.try_acquire().unwrap().failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.try_acquire().is_none());
    }

    #[test]
    fn half_open_admits_one_probe_and_its_verdict_decides() {
        let (b, clock) = breaker();
        b.try_acquire().unwrap().failure();
        b.try_acquire().unwrap().failure();
        clock.advance(Duration::from_secs(10));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_none(), "only one probe at a time");
        probe.failure();
        assert_eq!(b.state(), BreakerState::Open);

        clock.advance(Duration::from_secs(10));
        b.try_acquire().unwrap().success();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn an_abandoned_probe_frees_the_slot() {
        let (b, clock) = breaker();
        b.try_acquire().unwrap().failure();
        b.try_acquire().unwrap().failure();
        clock.advance(Duration::from_secs(11));
        drop(b.try_acquire().unwrap());
        assert!(b.try_acquire().is_some());
    }
}
