//! The one place where errors become HTTP statuses and the error envelope
//! `{"status": "error", "error": {"code", "message", "details"}}`. The match over
//! [`EngineError`] has no catch-all arm, so a new variant cannot slip out as a 500.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_core::ValidationError;
use parley_engine::knowledge::KnowledgeError;
use parley_engine::EngineError;
use parley_kb::ParseError;
use parley_store::StoreError;
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    /// 403 for a web page whose origin is not in the bot's `widget.allowed_origins`.
    #[error("{}", origin_refusal(.origin.as_deref()))]
    OriginNotAllowed { origin: Option<String> },
    /// 429, with `Retry-After` in whole seconds; `limit` says which limit was reached.
    #[error("{}; try again in {retry_after_secs} s", .limit.sentence())]
    RateLimited {
        retry_after_secs: u64,
        limit: RateLimit,
    },
    /// 409: the conversation holds as many user messages as it may.
    #[error(
        "this conversation has reached its limit of {limit} messages; start a new conversation"
    )]
    ConversationFull { limit: u32 },
    /// 408: the request body did not arrive in time.
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Validation(ValidationError),
    /// 422: a URL given to fetch a document from could not be fetched.
    #[error("{url} could not be fetched: {reason}")]
    UrlUnreachable { url: String, reason: String },
    /// 422: a URL given to fetch a document from points at an address the server's
    /// outbound policy refuses (private, loopback, metadata…); nothing was fetched.
    #[error("{url} is not an allowed address: {reason}")]
    UrlRefused { url: String, reason: String },
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::OriginNotAllowed { .. } => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ConversationFull { .. } => StatusCode::CONFLICT,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_)
            | ApiError::UrlUnreachable { .. }
            | ApiError::UrlRefused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::OriginNotAllowed { .. } => "forbidden",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::ConversationFull { .. } => "conversation_full",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Validation(_)
            | ApiError::UrlUnreachable { .. }
            | ApiError::UrlRefused { .. } => "validation_failed",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn details(&self) -> Value {
        match self {
            ApiError::Validation(v) => json!({ "fields": v.errors }),
            ApiError::UrlUnreachable { url, reason } => json!({
                "reason": "url_unreachable",
                "url": url,
                "fields": [{ "field": "url", "message": reason }],
            }),
            ApiError::UrlRefused { url, reason } => json!({
                "reason": "url_refused",
                "url": url,
                "fields": [{ "field": "url", "message": reason }],
            }),
            ApiError::OriginNotAllowed { origin } => {
                json!({ "reason": "origin_not_allowed", "origin": origin })
            }
            ApiError::RateLimited {
                retry_after_secs,
                limit,
            } => {
                json!({ "retry_after_seconds": retry_after_secs, "limit": limit.name() })
            }
            ApiError::ConversationFull { limit } => json!({ "limit": limit }),
            _ => json!({}),
        }
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Validation(ValidationError::single(field, message))
    }

    /// The `Retry-After` this error's answer carries, in seconds.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            ApiError::Unavailable(_) => Some(1),
            _ => None,
        }
    }
}

/// Which rate limit a 429 is about (`details.limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// Widget conversation starts per client address.
    WidgetStarts,
    /// User messages per conversation.
    Conversation,
    /// User messages per client address (conversation tokens).
    Client,
}

impl RateLimit {
    pub fn name(self) -> &'static str {
        match self {
            RateLimit::WidgetStarts => "widget_starts",
            RateLimit::Conversation => "conversation",
            RateLimit::Client => "client",
        }
    }

    fn sentence(self) -> &'static str {
        match self {
            RateLimit::WidgetStarts => "too many conversations started from this address",
            RateLimit::Conversation => "too many messages in this conversation",
            RateLimit::Client => "too many messages from this address",
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NotFound { what } => ApiError::NotFound(format!("no such {what}")),
            EngineError::Validation(v) => ApiError::Validation(v),
            EngineError::Conflict(m) => ApiError::Conflict(m),
            EngineError::Forbidden(m) => ApiError::Forbidden(m),
            EngineError::OriginNotAllowed { origin } => ApiError::OriginNotAllowed { origin },
            EngineError::Store(s) => s.into(),
            EngineError::Matcher(m) => {
                tracing::error!(error = %m, "stored rules failed to compile");
                ApiError::Internal("the bot's rules could not be compiled".into())
            }
            EngineError::Knowledge(k) => k.into(),
            EngineError::VaultNotConfigured => ApiError::Unavailable(
                "this server has no PII vault keys configured ([guard] pii_keys), so sealed originals cannot be opened".into(),
            ),
            EngineError::RateLimited { retry_after_secs } => ApiError::RateLimited {
                retry_after_secs,
                limit: RateLimit::Conversation,
            },
            EngineError::ConversationFull { limit } => ApiError::ConversationFull { limit },
            EngineError::Vault(v) => {
                tracing::error!(error = %v, "a sealed PII original did not open");
                ApiError::Internal(format!("the sealed original could not be opened: {v}"))
            }
        }
    }
}

impl From<KnowledgeError> for ApiError {
    fn from(e: KnowledgeError) -> Self {
        match e {
            KnowledgeError::NotConfigured => ApiError::Unavailable(e.to_string()),
            KnowledgeError::Parse(p) => match p {
                ParseError::UnsupportedType { .. } => ApiError::UnsupportedMediaType(p.to_string()),
                ParseError::TooLarge { .. } => ApiError::PayloadTooLarge(p.to_string()),
                ParseError::Malformed { .. } | ParseError::NoText { .. } => {
                    ApiError::validation("file", p.to_string())
                }
            },
            KnowledgeError::Fetch { url, reason } => ApiError::UrlUnreachable { url, reason },
            KnowledgeError::UrlRefused { url, reason } => ApiError::UrlRefused { url, reason },
            KnowledgeError::IndexBusy { .. } => {
                tracing::warn!(error = %e, "knowledge-base index busy");
                ApiError::Unavailable("the knowledge base is busy; try again shortly".into())
            }
            KnowledgeError::Store(s) => s.into(),
            KnowledgeError::Index(_)
            | KnowledgeError::Embed(_)
            | KnowledgeError::Task(_)
            | KnowledgeError::Encode(_) => {
                tracing::error!(error = %e, "knowledge-base failure");
                if e.is_retryable() {
                    ApiError::Unavailable("the knowledge base is busy; try again shortly".into())
                } else {
                    ApiError::Internal("an internal error occurred; it has been logged".into())
                }
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::BadCursor(c) => {
                ApiError::BadRequest(format!("the cursor `{c}` is not one this list gave out"))
            }
            e if e.is_retryable() => {
                tracing::warn!(error = %e, "database busy");
                ApiError::Unavailable("the database is busy; try again shortly".into())
            }
            e => {
                tracing::error!(error = %e, "storage failure");
                ApiError::Internal("an internal error occurred; it has been logged".into())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = json!({
            "status": "error",
            "error": {
                "code": self.code(),
                "message": self.to_string(),
                "details": self.details(),
            }
        });
        let mut resp = (status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after() {
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

fn origin_refusal(origin: Option<&str>) -> String {
    match origin {
        Some(o) => format!(
            "this bot's widget may not be used on {o}: add that origin to the bot's \
             `widget.allowed_origins` setting"
        ),
        None => "this bot's widget accepts only the origins in its `widget.allowed_origins` \
             setting, and this request named none (no Origin header)"
            .to_string(),
    }
}
