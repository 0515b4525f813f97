//! The one retry wrapper: [`RetryPolicy::run`] retries an operation on retryable errors
//! only ([`LlmError::is_retryable`]), waiting an exponential backoff with full jitter
//! (a uniform random wait between zero and the capped exponential step, so that many
//! conversations hitting the same outage do not retry in lockstep), or the provider's
//! `Retry-After` when it sent one, capped by [`RetryPolicy::max_retry_after`] so a
//! provider cannot park a user's reply for minutes. The loop itself is `backon`'s.

use std::future::Future;
use std::time::{Duration, SystemTime};

use backon::Retryable;
use rand::Rng;

use crate::error::LlmError;

/// How one target is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `max_retries + 1` attempts at most).
    pub max_retries: u32,
    /// The cap of the first backoff step; step `n` is capped at `initial_backoff * 2^n`.
    pub initial_backoff: Duration,
    /// No backoff step is capped higher than this.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; longer requests are shortened to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The backoff sequence: `max_retries` full-jitter waits.
    pub fn backoff(&self) -> FullJitterBackoff {
        FullJitterBackoff {
            policy: *self,
            step: 0,
        }
    }

    /// The wait before the next attempt after `err`, given the backoff's own proposal
    /// (`None` when retries are exhausted, which stays `None`).
    pub fn next_delay(&self, err: &LlmError, backoff: Option<Duration>) -> Option<Duration> {
        let backoff = backoff?;
        Some(match err.retry_after() {
            Some(wanted) => wanted.min(self.max_retry_after),
            None => backoff,
        })
    }

    /// Runs `op` until it succeeds, fails with a non-retryable error, or retries run out;
    /// returns the last result.
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T, LlmError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, LlmError>>,
    {
        op.retry(self.backoff())
            .when(LlmError::is_retryable)
            .adjust(|err, backoff| self.next_delay(err, backoff))
            .notify(|err, wait| {
                tracing::debug!(error = %err, wait_ms = wait.as_millis() as u64, "retrying LLM call");
            })
            .await
    }
}

/// Exponential backoff with full jitter; an iterator, as `backon` expects.
#[derive(Debug, Clone)]
pub struct FullJitterBackoff {
    policy: RetryPolicy,
    step: u32,
}

impl Iterator for FullJitterBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.step >= self.policy.max_retries {
            return None;
        }
        let factor = 2u32.saturating_pow(self.step.min(31));
        let cap = self
            .policy
            .initial_backoff
            .saturating_mul(factor)
            .min(self.policy.max_backoff);
        self.step += 1;
        Some(cap.mul_f64(rand::thread_rng().gen_range(0.0..=1.0)))
    }
}

/// Parses a `Retry-After` value: delay-seconds (`"2"`) or an HTTP date, which is turned
/// into the time left from `now` (zero if it has passed).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // Some providers send fractional seconds.
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn fast(max_retries: u32) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            max_retry_after: Duration::from_millis(30),
        }
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("0.5", now),
            Some(Duration::from_millis(500))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(7)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_is_full_jitter_under_a_growing_cap() {
        let policy = RetryPolicy {
            max_retries: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
            max_retry_after: Duration::from_secs(1),
        };
        let waits: Vec<_> = policy.backoff().collect();
        assert_eq!(waits.len(), 5);
        let caps = [100, 200, 300, 300, 300];
        for (wait, cap) in waits.iter().zip(caps) {
            assert!(*wait <= Duration::from_millis(cap), "{wait:?} > {cap} ms");
        }
    }

    #[test]
    fn retry_after_is_capped_and_replaces_the_backoff() {
        let policy = fast(3);
        let limited = LlmError::RateLimited {
            retry_after: Some(Duration::from_secs(60)),
        };
        assert_eq!(
            policy.next_delay(&limited, Some(Duration::from_millis(1))),
            Some(Duration::from_millis(30))
        );
        assert_eq!(policy.next_delay(&limited, None), None);
    }

    #[tokio::test]
    async fn only_retryable_errors_are_retried() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = fast(3)
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(LlmError::Auth { status: 401 })
            })
            .await;
        assert!(matches!(result, Err(LlmError::Auth { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicU32::new(0);
        let result = fast(3)
            .run(|| async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(LlmError::Server { status: 503 })
                } else {
                    Ok(7)
                }
            })
            .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
