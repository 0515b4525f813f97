//! [`LlmError`]: every way a model call can fail, with what a reader (or the retry loop)
//! needs to act on it. Retryability is decided here, once, by [`LlmError::is_retryable`].
//! No variant ever holds an API key: provider messages pass through a redaction step in
//! the adapters before they are stored here.

use std::fmt;
use std::time::Duration;

/// Which per-attempt deadline ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// Establishing the TCP/TLS connection.
    Connect,
    /// From sending the request to the response headers (non-streaming) or to the first
    /// text, tool call or completion event (streaming).
    FirstToken,
    /// The whole attempt, body included.
    Total,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::FirstToken => "first token",
            Self::Total => "total",
        })
    }
}

/// Why a model call failed.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("timed out ({phase} deadline)")]
    Timeout { phase: TimeoutPhase },

    #[error("rate limited by the provider{}", fmt_retry_after(*.retry_after))]
    RateLimited { retry_after: Option<Duration> },

    /// The provider failed (5xx, 408, or an overload/error event inside a stream).
    #[error("provider error (HTTP {status})")]
    Server { status: u16 },

    /// The provider rejected the request (400, 404, 422, ...): retrying will not help.
    #[error("request rejected (HTTP {status}): {message}")]
    Client { status: u16, message: String },

    /// The key is missing, wrong or lacks permission (401, 403). The provider's message is
    /// dropped on purpose: some echo part of the key back.
    #[error("authentication failed (HTTP {status})")]
    Auth { status: u16 },

    /// No connection, or it dropped before a response arrived.
    #[error("connection failed: {0}")]
    Connect(String),

    /// The provider answered with something that is not its documented shape.
    #[error("malformed response: {0}")]
    Malformed(String),

    /// A stream failed after text or tool calls were already delivered. `partial` is the
    /// text delivered so far; the caller keeps it and tells the user the reply was cut.
    #[error("stream broke after {} characters: {cause}", .partial.chars().count())]
    StreamBroken {
        partial: String,
        #[source]
        cause: Box<LlmError>,
    },

    /// The provider's circuit breaker is open: it failed repeatedly and is being rested.
    #[error("circuit open for provider {provider}")]
    CircuitOpen { provider: String },

    /// No provider or target was configured for this call.
    #[error("no LLM provider configured")]
    NotConfigured,
}

fn fmt_retry_after(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(" (retry after {} ms)", d.as_millis()),
        None => String::new(),
    }
}

impl LlmError {
    /// Whether the same request to the same target may succeed if tried again: rate limits,
    /// server errors, connection failures and timeouts. Client, auth and malformed-response
    /// errors are not (a [`crate::ModelChain`] still moves on to its next target for them).
    /// A broken stream is not: text already reached the user.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout { .. }
            | Self::RateLimited { .. }
            | Self::Server { .. }
            | Self::Connect(_) => true,
            Self::Client { .. }
            | Self::Auth { .. }
            | Self::Malformed(_)
            | Self::StreamBroken { .. }
            | Self::CircuitOpen { .. }
            | Self::NotConfigured => false,
        }
    }

    /// Whether this failure says something about the provider's health, and so counts
    /// towards opening its circuit breaker. A rejected request or a bad key does not: the
    /// provider answered correctly.
    pub fn is_provider_fault(&self) -> bool {
        match self {
            Self::Timeout { .. }
            | Self::RateLimited { .. }
            | Self::Server { .. }
            | Self::Connect(_)
            | Self::Malformed(_)
            | Self::StreamBroken { .. } => true,
            Self::Client { .. }
            | Self::Auth { .. }
            | Self::CircuitOpen { .. }
            | Self::NotConfigured => false,
        }
    }

    /// The wait the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}
