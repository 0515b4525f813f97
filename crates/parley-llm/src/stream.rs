//! Turning an SSE response into the [`Provider::stream`](crate::Provider::stream) contract.
//! Each adapter supplies an [`SseDecoder`] for its event vocabulary; this module does the
//! rest the same way for all of them: SSE framing (`eventsource-stream`), the first-token
//! and total deadlines, and converting any failure after the first delivered event into
//! [`LlmError::StreamBroken`] with the text so far.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Instant;

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use reqwest::Response;

use crate::error::{LlmError, TimeoutPhase};
use crate::http::{first_deadline, transport_error};
use crate::provider::{EventStream, Timeouts};
use crate::types::{ChatResponse, StreamEvent};

/// One provider's streaming vocabulary.
pub(crate) trait SseDecoder: Send + 'static {
    /// Handles one SSE event, pushing the reply events it completes (often none).
    fn on_event(&mut self, event: &Event, out: &mut Vec<StreamEvent>) -> Result<(), LlmError>;

    /// The connection closed without the provider's end marker. A decoder that already saw
    /// the reply finish may still produce the final response (some OpenAI-compatible
    /// servers omit `[DONE]`).
    fn on_end(&mut self) -> Option<ChatResponse>;
}

/// The reply events of an SSE response, with deadlines and broken-stream handling applied.
pub(crate) fn decode<D: SseDecoder>(
    response: Response,
    decoder: D,
    start: Instant,
    timeouts: Timeouts,
) -> EventStream {
    let sse = response.bytes_stream().eventsource();
    let events = futures::stream::unfold(
        Decoding {
            sse: Box::pin(sse),
            decoder,
            pending: VecDeque::new(),
            ended: false,
        },
        |mut state| async move {
            loop {
                if let Some(event) = state.pending.pop_front() {
                    return Some((Ok(event), state));
                }
                if state.ended {
                    return None;
                }
                let item = match state.sse.next().await {
                    None => {
                        state.ended = true;
                        if let Some(response) = state.decoder.on_end() {
                            state.pending.push_back(StreamEvent::Done(response));
                        }
                        continue;
                    }
                    Some(item) => item,
                };
                let event = match item {
                    Ok(event) => event,
                    Err(err) => {
                        state.ended = true;
                        return Some((Err(sse_error(err)), state));
                    }
                };
                let mut out = Vec::new();
                if let Err(err) = state.decoder.on_event(&event, &mut out) {
                    state.ended = true;
                    return Some((Err(err), state));
                }
                state.pending.extend(out);
            }
        },
    );
    guard(events, start, timeouts)
}

type SseStream =
    Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<reqwest::Error>>> + Send + 'static>>;

struct Decoding<D> {
    sse: SseStream,
    decoder: D,
    pending: VecDeque<StreamEvent>,
    ended: bool,
}

fn sse_error(err: EventStreamError<reqwest::Error>) -> LlmError {
    match err {
        EventStreamError::Transport(err) => transport_error(&err),
        EventStreamError::Utf8(err) => LlmError::Malformed(format!("stream is not UTF-8: {err}")),
        EventStreamError::Parser(err) => LlmError::Malformed(format!("invalid SSE: {err}")),
    }
}

/// Applies the deadlines and the "after the first event, every failure is a broken
/// stream" rule, and stops after `Done`.
pub(crate) fn guard<S>(inner: S, start: Instant, timeouts: Timeouts) -> EventStream
where
    S: Stream<Item = Result<StreamEvent, LlmError>> + Send + 'static,
{
    let state = Guard {
        inner: Box::pin(inner),
        start,
        timeouts,
        partial: String::new(),
        delivered: false,
        finished: false,
    };
    futures::stream::unfold(state, |mut g| async move {
        if g.finished {
            return None;
        }
        let (deadline, phase) = if g.delivered {
            (g.start + g.timeouts.total, TimeoutPhase::Total)
        } else {
            first_deadline(&g.timeouts, g.start)
        };
        let item = match tokio::time::timeout_at(deadline.into(), g.inner.next()).await {
            Err(_) => Some(Err(LlmError::Timeout { phase })),
            Ok(item) => item,
        };
        let out = match item {
            Some(Ok(event)) => {
                match &event {
                    StreamEvent::Delta(text) => {
                        g.partial.push_str(text);
                        g.delivered = true;
                    }
                    StreamEvent::ToolCall(_) => g.delivered = true,
                    StreamEvent::Done(_) => g.finished = true,
                }
                Ok(event)
            }
            Some(Err(err)) => {
                g.finished = true;
                Err(g.broken(err))
            }
            None => {
                g.finished = true;
                Err(g.broken(LlmError::Connect(
                    "the stream closed before the reply was complete".into(),
                )))
            }
        };
        Some((out, g))
    })
    .boxed()
}

struct Guard {
    inner: Pin<Box<dyn Stream<Item = Result<StreamEvent, LlmError>> + Send>>,
    start: Instant,
    timeouts: Timeouts,
    partial: String,
    delivered: bool,
    finished: bool,
}

impl Guard {
    fn broken(&self, cause: LlmError) -> LlmError {
        if !self.delivered || matches!(cause, LlmError::StreamBroken { .. }) {
            return cause;
        }
        LlmError::StreamBroken {
            partial: self.partial.clone(),
            cause: Box::new(cause),
        }
    }
}

/// A complete response replayed as a stream, for servers that answer a streaming request
/// with plain JSON.
pub(crate) fn replay(response: ChatResponse) -> EventStream {
    let mut events = Vec::new();
    if !response.text.is_empty() {
        events.push(Ok(StreamEvent::Delta(response.text.clone())));
    }
    for call in &response.tool_calls {
        events.push(Ok(StreamEvent::ToolCall(call.clone())));
    }
    events.push(Ok(StreamEvent::Done(response)));
    futures::stream::iter(events).boxed()
}

/// Whether a streaming request got a JSON body instead of an event stream.
pub(crate) fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::types::Usage;

    fn timeouts(first_token_ms: u64, total_ms: u64) -> Timeouts {
        Timeouts {
            connect: Duration::from_millis(100),
            first_token: Duration::from_millis(first_token_ms),
            total: Duration::from_millis(total_ms),
        }
    }

    fn done() -> StreamEvent {
        StreamEvent::Done(ChatResponse {
            text: "ab".into(),
            tool_calls: vec![],
            usage: Usage::default(),
            model: "m".into(),
            finish_reason: None,
        })
    }

    #[tokio::test]
    async fn an_error_after_text_becomes_a_broken_stream_with_the_partial_text() {
        let inner = futures::stream::iter(vec![
            Ok(StreamEvent::Delta("a".into())),
            Ok(StreamEvent::Delta("b".into())),
            Err(LlmError::Connect("reset".into())),
        ]);
        let events: Vec<_> = guard(inner, Instant::now(), timeouts(1000, 1000))
            .collect()
            .await;
        assert_eq!(events.len(), 3);
        match &events[2] {
            Err(LlmError::StreamBroken { partial, cause }) => {
                assert_eq!(partial, "ab");
                assert!(matches!(**cause, LlmError::Connect(_)));
            }
            other => panic!("expected StreamBroken, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_error_before_any_event_is_passed_through() {
        let inner = futures::stream::iter(vec![Err(LlmError::Server { status: 503 })]);
        let events: Vec<_> = guard(inner, Instant::now(), timeouts(1000, 1000))
            .collect()
            .await;
        assert!(matches!(
            events[..],
            [Err(LlmError::Server { status: 503 })]
        ));
    }

    #[tokio::test]
    async fn nothing_is_read_after_done() {
        let inner = futures::stream::iter(vec![Ok(done()), Err(LlmError::Connect("x".into()))]);
        let events: Vec<_> = guard(inner, Instant::now(), timeouts(1000, 1000))
            .collect()
            .await;
        assert_eq!(events.len(), 1);
    }

    #[tokio::test]
    async fn a_silent_stream_hits_the_first_token_deadline() {
        let inner = futures::stream::pending::<Result<StreamEvent, LlmError>>();
        let events: Vec<_> = guard(inner, Instant::now(), timeouts(20, 1000))
            .collect()
            .await;
        assert!(matches!(
            events[..],
            [Err(LlmError::Timeout {
                phase: TimeoutPhase::FirstToken
            })]
        ));
    }
}
