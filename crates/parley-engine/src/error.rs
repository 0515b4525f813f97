//! Engine errors: what went wrong in a turn or an admin operation, in terms the edge can
//! map to a status without guessing.

use parley_core::{MatcherError, ValidationError};
use parley_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The thing named does not exist in the caller's workspace.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("invalid input: {0}")]
    Validation(#[from] ValidationError),
    /// The caller may not do this (an agent outside its queues, a role that cannot).
    #[error("{0}")]
    Forbidden(String),
    /// The request is valid but the resource's state refuses it.
    #[error("{0}")]
    Conflict(String),
    /// A web page at `origin` (`None`: the request named no origin) may not use this
    /// bot's widget: it is not in the bot's `widget.allowed_origins`.
    #[error("this page's origin may not use the bot's widget")]
    OriginNotAllowed { origin: Option<String> },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored rule set did not compile; it was validated on the way in, so this is a bug
    /// or a hand-edited database.
    #[error("the bot's keyword rules could not be compiled: {0}")]
    Matcher(#[from] MatcherError),
    /// A knowledge-base operation failed (a file or URL that cannot be ingested, the index).
    #[error(transparent)]
    Knowledge(#[from] crate::knowledge::KnowledgeError),
    /// A sealed PII original was asked for, but the server has no vault keys
    /// (`[guard] pii_keys`).
    #[error("the server has no PII vault keys configured ([guard] pii_keys)")]
    VaultNotConfigured,
    /// The conversation took more messages than its rate allows (`Limits::conversation_messages`).
    #[error("too many messages in this conversation; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// The conversation holds `limit` user messages, the most it may
    /// (`Limits::max_messages_per_conversation`).
    #[error(
        "this conversation has reached its limit of {limit} messages; start a new conversation"
    )]
    ConversationFull { limit: u32 },
    /// A sealed original did not open (its key is no longer configured, or it was altered).
    #[error(transparent)]
    Vault(#[from] parley_guard::VaultError),
}

impl EngineError {
    pub fn not_found(what: &'static str) -> Self {
        EngineError::NotFound { what }
    }

    /// Worth retrying the same request unchanged?
    pub fn is_retryable(&self) -> bool {
        match self {
            EngineError::Store(e) => e.is_retryable(),
            EngineError::Knowledge(e) => e.is_retryable(),
            EngineError::NotFound { .. }
            | EngineError::Validation(_)
            | EngineError::Conflict(_)
            | EngineError::Forbidden(_)
            | EngineError::OriginNotAllowed { .. }
            | EngineError::Matcher(_)
            | EngineError::VaultNotConfigured
            | EngineError::RateLimited { .. }
            | EngineError::ConversationFull { .. }
            | EngineError::Vault(_) => false,
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
