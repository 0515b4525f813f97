//! The HTTP plumbing both adapters share: one `reqwest` client per provider, the
//! first-token and total deadlines around sending and reading, the mapping from HTTP
//! statuses and transport errors to [`LlmError`], and key redaction. Keeping it in one
//! place is what makes "a 503 from OpenAI" and "a 503 from Anthropic" the same error.

use std::error::Error as _;
use std::time::{Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{RequestBuilder, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use crate::error::{LlmError, TimeoutPhase};
use crate::provider::Timeouts;
use crate::retry::parse_retry_after;

/// Longest provider error message kept in an [`LlmError`].
const MAX_MESSAGE_CHARS: usize = 500;

/// One provider's HTTP client, deadlines and key. `Debug` shows the key as redacted
/// (that is `SecretString`'s own `Debug`).
#[derive(Debug)]
pub(crate) struct Transport {
    client: reqwest::Client,
    pub(crate) timeouts: Timeouts,
    api_key: Option<SecretString>,
}

impl Transport {
    pub(crate) fn new(
        timeouts: Timeouts,
        api_key: Option<SecretString>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .build()?;
        Ok(Self {
            client,
            timeouts,
            api_key,
        })
    }

    pub(crate) fn post(&self, url: &str) -> RequestBuilder {
        self.client.post(url)
    }

    /// The key as a header value marked sensitive, so `reqwest`/`hyper` never print it.
    /// `prefix` is `"Bearer "` for OpenAI-style auth and empty for `x-api-key`.
    pub(crate) fn auth_header(&self, name: HeaderName, prefix: &str) -> Option<HeaderMap> {
        let key = self.api_key.as_ref()?;
        let mut value = HeaderValue::from_str(&format!("{prefix}{}", key.expose_secret())).ok()?;
        value.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(name, value);
        Some(headers)
    }

    /// Sends the request within the first-token deadline (the response headers count as the
    /// first sign of life) and turns a non-2xx answer into the matching error.
    pub(crate) async fn send(
        &self,
        request: RequestBuilder,
        start: Instant,
    ) -> Result<Response, LlmError> {
        let (deadline, phase) = first_deadline(&self.timeouts, start);
        let response = match tokio::time::timeout_at(deadline.into(), request.send()).await {
            Err(_) => return Err(LlmError::Timeout { phase }),
            Ok(Err(err)) => return Err(transport_error(&err)),
            Ok(Ok(response)) => response,
        };
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.status_error(response, start).await)
    }

    /// Reads and parses a whole JSON body within the total deadline.
    pub(crate) async fn read_json<T: DeserializeOwned>(
        &self,
        response: Response,
        start: Instant,
    ) -> Result<T, LlmError> {
        let deadline = start + self.timeouts.total;
        let body = match tokio::time::timeout_at(deadline.into(), response.bytes()).await {
            Err(_) => {
                return Err(LlmError::Timeout {
                    phase: TimeoutPhase::Total,
                })
            }
            Ok(Err(err)) => return Err(transport_error(&err)),
            Ok(Ok(body)) => body,
        };
        serde_json::from_slice(&body).map_err(|err| {
            let snippet = truncate(&String::from_utf8_lossy(&body), 200);
            LlmError::Malformed(self.redact(format!("{err}; body starts: {snippet}")))
        })
    }

    async fn status_error(&self, response: Response, start: Instant) -> LlmError {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        // The body is only for the message; a slow or broken one must not hide the status.
        let deadline = start + self.timeouts.total;
        let body = match tokio::time::timeout_at(deadline.into(), response.bytes()).await {
            Ok(Ok(body)) => String::from_utf8_lossy(&body).into_owned(),
            _ => String::new(),
        };
        status_error(status, retry_after, self.redact(error_message(&body)))
    }

    /// Removes the key from text that came from (or may echo) the provider.
    pub(crate) fn redact(&self, text: String) -> String {
        match &self.api_key {
            Some(key) if !key.expose_secret().is_empty() && text.contains(key.expose_secret()) => {
                text.replace(key.expose_secret(), "[REDACTED]")
            }
            _ => text,
        }
    }
}

/// When the first sign of life must arrive, and which deadline that is.
pub(crate) fn first_deadline(timeouts: &Timeouts, start: Instant) -> (Instant, TimeoutPhase) {
    if timeouts.first_token <= timeouts.total {
        (start + timeouts.first_token, TimeoutPhase::FirstToken)
    } else {
        (start + timeouts.total, TimeoutPhase::Total)
    }
}

/// The error for a non-2xx status.
pub(crate) fn status_error(
    status: u16,
    retry_after: Option<std::time::Duration>,
    message: String,
) -> LlmError {
    match status {
        429 => LlmError::RateLimited { retry_after },
        401 | 403 => LlmError::Auth { status },
        408 | 500..=599 => LlmError::Server { status },
        _ => LlmError::Client { status, message },
    }
}

/// Both providers put the human-readable text at `error.message`; anything else is kept
/// raw (truncated).
fn error_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.pointer("/error/message"))
        .and_then(|v| v.as_str())
        .unwrap_or(body);
    truncate(message.trim(), MAX_MESSAGE_CHARS)
}

/// Maps a `reqwest` failure (connect, timeout, body read) to our vocabulary, keeping the
/// cause chain in the message because reqwest's own text ("error sending request") says
/// little on its own.
pub(crate) fn transport_error(err: &reqwest::Error) -> LlmError {
    if err.is_connect() && err.is_timeout() {
        return LlmError::Timeout {
            phase: TimeoutPhase::Connect,
        };
    }
    if err.is_timeout() {
        return LlmError::Timeout {
            phase: TimeoutPhase::Total,
        };
    }
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    LlmError::Connect(message)
}

pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// Joins a configured base URL and a path without doubling or losing the slash.
pub(crate) fn join_url(base_url: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base_url.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_documented_variants() {
        assert!(matches!(
            status_error(429, None, String::new()),
            LlmError::RateLimited { .. }
        ));
        assert!(matches!(
            status_error(401, None, String::new()),
            LlmError::Auth { status: 401 }
        ));
        assert!(matches!(
            status_error(403, None, String::new()),
            LlmError::Auth { status: 403 }
        ));
        assert!(matches!(
            status_error(529, None, String::new()),
            LlmError::Server { status: 529 }
        ));
        assert!(matches!(
            status_error(422, None, "bad".into()),
            LlmError::Client { status: 422, .. }
        ));
    }

    #[test]
    fn error_message_prefers_the_json_message() {
        assert_eq!(
            error_message(r#"{"error":{"message":"model not found","type":"x"}}"#),
            "model not found"
        );
        assert_eq!(error_message("plain text"), "plain text");
    }

    #[test]
    fn urls_join_with_one_slash() {
        assert_eq!(join_url("http://a/v1/", "/chat"), "http://a/v1/chat");
        assert_eq!(join_url("http://a/v1", "chat"), "http://a/v1/chat");
    }

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hi", 5), "hi");
    }
}
