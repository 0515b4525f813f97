//! LLM provider clients for Parley's AI replies: the provider-neutral request and reply
//! types ([`ChatRequest`], [`ChatResponse`], [`StreamEvent`]), the [`Provider`] trait with
//! one adapter per wire protocol ([`openai`] for every OpenAI-compatible endpoint,
//! [`anthropic`] for the Messages API), and the resilience layered over them: per-attempt
//! [`Timeouts`] (connect, first token, total), retries with full-jitter backoff that honour
//! `Retry-After` ([`retry`]), a circuit breaker per provider ([`breaker`]) and ordered
//! fallback with a record of every attempt ([`chain`]). [`config`] builds named providers
//! from the server's `[providers.NAME]` tables and [`pricing`] turns usage into cost.
//! With the `fake` feature, `fake` is an in-process server speaking both wire shapes
//! whose behaviour (echo, tool calls, every kind of fault) is chosen by the model name.
//!
//! This crate depends on no other Parley crate: the engine depends on it, never the
//! reverse. It never logs or returns an API key: keys are `SecretString`s, sent in headers
//! marked sensitive, and scrubbed from any provider message kept in an error.
//!
//! # Why not a client crate
//!
//! We talk to providers with a thin layer of our own over `reqwest` (already in the
//! workspace), `eventsource-stream` for SSE framing, and `backon` for the retry loop,
//! rather than a client crate such as `async-openai` or `genai`. What Parley needs from the
//! wire is small: two request shapes, two response shapes and two streaming vocabularies,
//! a few hundred lines per adapter. What it needs to control is exactly what those crates
//! decide for us. `async-openai` speaks only OpenAI's shape (Anthropic would need a second
//! crate with a second error type), retries rate-limited requests itself with its own
//! backoff (which would stack with ours and ignore our fallback), and its strictly typed
//! responses are brittle against the OpenAI-compatible servers (Ollama, vLLM, llama.cpp)
//! that deviate in small ways. `genai` covers both shapes, but it is pre-1.0 and moving
//! fast, its errors are organised around its adapters rather than around what to do next,
//! and it carries response bodies in its error text, which we would have to scrub. With
//! either, the things the style guide asks for would still have to be built around the
//! crate from outside: a first-token deadline distinct from the total one (applied to
//! response headers and to the first stream event), `Retry-After` in seconds or as an HTTP
//! date, one classification of statuses into retryable or not, circuit breaking per
//! provider, and a broken stream that hands back the text already delivered. Owning the
//! HTTP layer makes each of those a few lines in one place (`http.rs` and `stream.rs`),
//! testable against the `fake` server, and keeps a provider's API change a change to one
//! adapter file.

pub mod anthropic;
pub mod breaker;
pub mod chain;
pub mod config;
pub mod error;
mod http;
pub mod openai;
pub mod pricing;
pub mod provider;
pub mod retry;
mod stream;
pub mod types;

#[cfg(feature = "fake")]
pub mod fake;

pub use anthropic::AnthropicProvider;
pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker, Clock, ManualClock, SystemClock};
pub use chain::{Attempt, CommittedStream, ModelChain, Outcome, Target};
pub use config::{
    ConfigError, ProviderConfig, ProviderEntry, ProviderKind, Providers, TimeoutsConfig,
};
pub use error::{LlmError, TimeoutPhase};
pub use openai::OpenAiProvider;
pub use pricing::{ModelPrice, PriceTable};
pub use provider::{EventStream, Provider, Timeouts};
pub use retry::RetryPolicy;
pub use types::{
    ChatMessage, ChatRequest, ChatResponse, FinishReason, Role, StreamEvent, ToolCall, ToolSpec,
    Usage,
};
