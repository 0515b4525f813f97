//! The [`Provider`] trait every adapter implements, and the per-attempt [`Timeouts`] they
//! all enforce the same way (in `http.rs` and `stream.rs`).

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::error::LlmError;
use crate::types::{ChatRequest, ChatResponse, StreamEvent};

/// A stream of reply events, as returned by [`Provider::stream`].
pub type EventStream = BoxStream<'static, Result<StreamEvent, LlmError>>;

/// One LLM API (one base URL and key). Adapters make exactly one HTTP attempt per call:
/// retries, circuit breaking and fallback are layered on top by [`crate::ModelChain`].
///
/// Stream contract: `Delta`/`ToolCall` events, then exactly one `Done`, then the end. An
/// error before the first event is the plain cause (so a caller can still fall back); an
/// error after it is [`LlmError::StreamBroken`] carrying the text delivered so far.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The name this provider was configured under (used in logs, attempts and breakers).
    fn name(&self) -> &str;

    async fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError>;

    async fn stream(&self, req: &ChatRequest) -> Result<EventStream, LlmError>;
}

/// Deadlines for one attempt, all measured from when the attempt starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP (and TLS) connection establishment.
    pub connect: Duration,
    /// Until the response headers (non-streaming) or the first event (streaming). Users
    /// notice a silent bot long before a slow one, so this is much shorter than `total`.
    /// Most servers send a non-streaming response's headers only once the whole reply is
    /// generated, so for `complete` this bounds the generation: prefer `stream` for long
    /// replies rather than raising it.
    pub first_token: Duration,
    /// The whole attempt, reading the full body or stream included.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            first_token: Duration::from_secs(20),
            total: Duration::from_secs(120),
        }
    }
}
