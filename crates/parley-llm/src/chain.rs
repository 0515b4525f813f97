//! Fallback: a [`ModelChain`] is an ordered list of (provider, model) [`Target`]s. Each
//! target is tried with its own retry policy behind its provider's circuit breaker; when it
//! gives up (retries exhausted, or an error that retrying cannot fix, or the breaker is
//! open) the next target is tried. Every attempt, failed or not, is recorded as an
//! [`Attempt`] in the [`Outcome`] so the caller can store what happened.
//!
//! Streams are peeked: an attempt counts as a success only once its first event arrived,
//! so a provider that fails before its first token still falls back. After that the stream
//! is committed to the caller; a later failure is [`LlmError::StreamBroken`] from the
//! stream itself, not a fallback.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::breaker::CircuitBreaker;
use crate::error::LlmError;
use crate::provider::{EventStream, Provider};
use crate::retry::RetryPolicy;
use crate::types::{ChatRequest, ChatResponse, StreamEvent};

/// One place a request can go.
#[derive(Clone)]
pub struct Target {
    pub provider: Arc<dyn Provider>,
    /// Replaces [`ChatRequest::model`] for this target.
    pub model: String,
    pub retry: RetryPolicy,
    /// Shared with every other target of the same provider.
    pub breaker: Option<Arc<CircuitBreaker>>,
}

impl Target {
    /// A target with the default retry policy and no breaker.
    pub fn new(provider: Arc<dyn Provider>, model: impl Into<String>) -> Self {
        Self {
            provider,
            model: model.into(),
            retry: RetryPolicy::default(),
            breaker: None,
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_breaker(mut self, breaker: Arc<CircuitBreaker>) -> Self {
        self.breaker = Some(breaker);
        self
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("provider", &self.provider.name())
            .field("model", &self.model)
            .field("retry", &self.retry)
            .field("breaker", &self.breaker.as_ref().map(|b| b.state()))
            .finish()
    }
}

/// One call to one target, for the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub provider: String,
    pub model: String,
    /// `None` if the attempt succeeded (for a stream: its first event arrived).
    pub error: Option<String>,
    /// Until the answer (for a stream: until its first event), or until the failure.
    pub latency: Duration,
}

/// A result and every attempt made to get it, in order.
#[derive(Debug)]
pub struct Outcome<T> {
    /// The success, or the last target's last error.
    pub result: Result<T, LlmError>,
    pub attempts: Vec<Attempt>,
}

/// A stream that produced its first event and is now the caller's.
pub struct CommittedStream {
    pub provider: String,
    pub model: String,
    /// Starts with the peeked first event.
    pub events: EventStream,
}

impl fmt::Debug for CommittedStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommittedStream")
            .field("provider", &self.provider)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// An ordered list of targets tried in turn.
#[derive(Debug, Clone, Default)]
pub struct ModelChain {
    targets: Vec<Target>,
}

impl ModelChain {
    pub fn new(targets: Vec<Target>) -> Self {
        Self { targets }
    }

    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// A complete reply from the first target that gives one.
    pub async fn complete(&self, req: &ChatRequest) -> Outcome<ChatResponse> {
        self.run(req, |target, req| async move {
            target.provider.complete(&req).await
        })
        .await
    }

    /// A stream from the first target that produces a first event.
    pub async fn stream(&self, req: &ChatRequest) -> Outcome<CommittedStream> {
        self.run(req, |target, req| async move {
            let mut events = target.provider.stream(&req).await?;
            let first = match events.next().await {
                Some(Ok(first)) => first,
                Some(Err(err)) => return Err(err),
                None => {
                    return Err(LlmError::Connect(
                        "the stream ended before its first event".into(),
                    ))
                }
            };
            let events: EventStream =
                futures::stream::once(async move { Ok::<StreamEvent, LlmError>(first) })
                    .chain(events)
                    .boxed();
            Ok(CommittedStream {
                provider: target.provider.name().to_owned(),
                model: target.model.clone(),
                events,
            })
        })
        .await
    }

    async fn run<'a, T, F, Fut>(&'a self, req: &ChatRequest, call: F) -> Outcome<T>
    where
        F: Fn(&'a Target, ChatRequest) -> Fut,
        Fut: Future<Output = Result<T, LlmError>>,
    {
        let attempts = Mutex::new(Vec::new());
        let mut last_error = LlmError::NotConfigured;
        for target in &self.targets {
            let mut req = req.clone();
            req.model.clone_from(&target.model);
            let (req, call, log) = (&req, &call, &attempts);
            let result = target
                .retry
                .run(move || async move { attempt(target, log, call(target, req.clone())).await })
                .await;
            match result {
                Ok(value) => {
                    return Outcome {
                        result: Ok(value),
                        attempts: attempts
                            .into_inner()
                            .unwrap_or_else(PoisonError::into_inner),
                    }
                }
                Err(err) => last_error = err,
            }
        }
        Outcome {
            result: Err(last_error),
            attempts: attempts
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner),
        }
    }
}

/// One attempt at one target: ask its breaker, call, record, report to the breaker.
async fn attempt<T>(
    target: &Target,
    attempts: &Mutex<Vec<Attempt>>,
    call: impl Future<Output = Result<T, LlmError>>,
) -> Result<T, LlmError> {
    let provider = target.provider.name();
    let record = |error: Option<&LlmError>, latency: Duration| {
        attempts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Attempt {
                provider: provider.to_owned(),
                model: target.model.clone(),
                error: error.map(ToString::to_string),
                latency,
            });
    };
    let permit = match &target.breaker {
        None => None,
        Some(breaker) => match breaker.try_acquire() {
            Some(permit) => Some(permit),
            None => {
                let err = LlmError::CircuitOpen {
                    provider: provider.to_owned(),
                };
                record(Some(&err), Duration::ZERO);
                return Err(err);
            }
        },
    };
    let start = Instant::now();
    let result = call.await;
    record(result.as_ref().err(), start.elapsed());
    if let Err(err) = &result {
        tracing::warn!(provider, model = %target.model, error = %err, "LLM attempt failed");
    }
    if let Some(permit) = permit {
        match &result {
            Err(err) if err.is_provider_fault() => permit.failure(),
            _ => permit.success(),
        }
    }
    result
}
