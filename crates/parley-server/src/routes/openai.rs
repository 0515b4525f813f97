//! The OpenAI-compatible front door: `POST /v1/chat/completions` with `model` = a bot's id
//! (or name) runs the whole Parley pipeline (rules, flows, AI, handoff) on the last user
//! message, so any OpenAI client or chat UI can talk to a Parley bot, streaming included.
//! Parley keeps the conversation itself: by the `X-Parley-Conversation` header (a
//! conversation id, echoed on every answer), else by the `user` field (the contact's
//! `external_id`), else a new conversation per request. Earlier messages in `messages` are
//! not replayed: Parley already has them.
//!
//! Unlike the rest of the API, unknown request fields are accepted (clients send
//! `temperature`, `stream_options`, ... which the bot's own settings decide) and errors use
//! OpenAI's shape, `{"error": {"message", "type", "code"}}`, so clients report them.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};
use parley_core::{Channel, Message, MessageSource};
use parley_engine::Inbound;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::live::{self, LiveStart};
use crate::auth::AdminKey;
use crate::error::ApiError;
use crate::AppState;

pub const CONVERSATION_HEADER: &str = "x-parley-conversation";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(chat_completions))
        .routes(routes!(models))
}

/// An error as OpenAI clients expect it.
struct OpenAiError(ApiError);

impl From<ApiError> for OpenAiError {
    fn from(e: ApiError) -> Self {
        OpenAiError(e)
    }
}

impl From<parley_engine::EngineError> for OpenAiError {
    fn from(e: parley_engine::EngineError) -> Self {
        OpenAiError(e.into())
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let kind = match status {
            StatusCode::UNAUTHORIZED => "authentication_error",
            StatusCode::FORBIDDEN => "permission_error",
            StatusCode::NOT_FOUND => "not_found_error",
            s if s.is_server_error() => "api_error",
            _ => "invalid_request_error",
        };
        let body = json!({"error": {"message": self.0.to_string(), "type": kind,
                                    "param": null, "code": self.0.code()}});
        let mut resp = (status, axum::Json(body)).into_response();
        if let Some(secs) = self.0.retry_after() {
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        resp
    }
}

#[derive(Debug, Deserialize)]
struct ChatCompletionRequest {
    model: String,
    messages: Vec<InMessage>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    user: Option<String>,
}

#[derive(Debug, Deserialize)]
struct InMessage {
    role: String,
    #[serde(default)]
    content: Value,
}

/// The text of a message's `content`: a string, or an array of `{"type": "text"}` parts.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| p["type"] == "text")
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn completion_id() -> String {
    format!("chatcmpl-{}", parley_core::new_id().simple())
}

/// What an OpenAI client sees of the turn's replies: their texts, one paragraph each.
fn reply_text(messages: &[Message]) -> String {
    messages
        .iter()
        .map(|m| m.text.trim())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn usage(messages: &[Message]) -> Value {
    let (mut input, mut output) = (0u64, 0u64);
    for m in messages
        .iter()
        .filter(|m| m.meta.source == Some(MessageSource::Ai))
    {
        input += u64::from(m.meta.tokens_in.unwrap_or(0));
        output += u64::from(m.meta.tokens_out.unwrap_or(0));
    }
    json!({"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output})
}

/// # `POST /v1/chat/completions`
///
/// OpenAI's chat completions, answered by the bot named in `model` (its id or name) with
/// the full pipeline. `stream: true` answers with `chat.completion.chunk` events and
/// `data: [DONE]`. Needs an admin key: the door speaks as the customer, which agent keys
/// never do (403), and it picks conversations by id or contact. The conversation is kept by the
/// `X-Parley-Conversation` header or the `user` field; the answer carries the header, and
/// `parley.conversation_id` and `parley.messages` (with their `meta`) in the body.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai",
    responses((status = 200, description = "a `chat.completion`, or `chat.completion.chunk` events"),
        (status = 401), (status = 403), (status = 404, description = "no bot with that id or name")))]
async fn chat_completions(
    State(state): State<AppState>,
    admin: Result<AdminKey, ApiError>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OpenAiError> {
    let ws = admin?.ws;
    let req: ChatCompletionRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!("the request is not a chat completion request: {e}"))
    })?;
    let text = req
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(|m| content_text(&m.content))
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::validation("messages", "needs a user message with text"))?;
    let bot = state
        .engine
        .find_bot(ws, req.model.trim())
        .await
        .map_err(|_| {
            ApiError::NotFound(format!(
                "no bot `{}` (model is a bot id or name)",
                req.model
            ))
        })?;
    let conversation = match headers
        .get(CONVERSATION_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        Some(raw) => {
            let id: Uuid = raw.trim().parse().map_err(|_| {
                ApiError::BadRequest("X-Parley-Conversation must be a conversation id".into())
            })?;
            let view = state.engine.get_conversation(ws, id).await?;
            if view.conversation.bot_id != bot.id {
                return Err(
                    ApiError::Conflict("that conversation belongs to another bot".into()).into(),
                );
            }
            id
        }
        None => {
            state
                .engine
                .conversation_for_user(ws, bot.id, req.user.as_deref(), Channel::Api)
                .await?
        }
    };
    let model = req.model.clone();
    let created = chrono::Utc::now().timestamp();
    let id = completion_id();
    let inbound = Inbound::Text(text);
    let header = HeaderValue::from_str(&conversation.to_string())
        .map_err(|_| ApiError::Internal("an id did not fit in a header".into()))?;

    if !req.stream {
        let messages = state.engine.complete(ws, conversation, inbound).await?;
        let body = json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply_text(&messages)},
                         "finish_reason": "stop"}],
            "usage": usage(&messages),
            "parley": {"conversation_id": conversation, "messages": messages},
        });
        let mut resp = axum::Json(body).into_response();
        resp.headers_mut().insert(CONVERSATION_HEADER, header);
        return Ok(resp);
    }

    let chunk = move |delta: Value, finish: Option<&str>| {
        SseEvent::default().data(
            json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            .to_string(),
        )
    };
    let start = live::start(&state, ws, conversation, inbound).await?;
    let opening = chunk(json!({"role": "assistant", "content": ""}), None);
    let (streamed, turn) = match start {
        LiveStart::Finished(messages) => {
            let events = vec![
                opening,
                chunk(json!({"content": reply_text(&messages)}), None),
                chunk(json!({}), Some("stop")),
                SseEvent::default().data("[DONE]"),
            ];
            let mut resp =
                Sse::new(stream::iter(events.into_iter().map(Ok::<_, Infallible>))).into_response();
            resp.headers_mut().insert(CONVERSATION_HEADER, header);
            return Ok(resp);
        }
        LiveStart::Streaming { first, turn } => (first, turn),
    };
    let head = stream::iter(vec![
        opening,
        chunk(json!({"content": streamed.clone()}), None),
    ]);
    let rest = stream::unfold(Some((turn, streamed, chunk)), |state| async move {
        let (mut turn, mut streamed, chunk) = state?;
        match turn.deltas.recv().await {
            Some(d) => {
                streamed.push_str(&d);
                let event = chunk(json!({"content": d}), None);
                Some((vec![event], Some((turn, streamed, chunk))))
            }
            None => {
                let events = match turn.finish().await {
                    Ok(messages) => {
                        // What the model streamed is the AI reply; other replies of the
                        // turn (and any correction of the streamed text) follow it.
                        let full = reply_text(&messages);
                        let tail = match full.strip_prefix(streamed.trim_end()) {
                            Some(rest) => rest.to_string(),
                            None => format!("\n\n{full}"),
                        };
                        let mut events = Vec::new();
                        if !tail.trim().is_empty() {
                            events.push(chunk(json!({"content": tail}), None));
                        }
                        events.push(chunk(json!({}), Some("stop")));
                        events.push(SseEvent::default().data("[DONE]"));
                        events
                    }
                    Err(e) => vec![SseEvent::default().data(
                        json!({"error": {"message": e.to_string(), "type": "api_error", "code": e.code()}})
                            .to_string(),
                    )],
                };
                Some((events, None))
            }
        }
    });
    let events = head
        .chain(rest.flat_map(stream::iter))
        .map(Ok::<_, Infallible>);
    let mut resp = Sse::new(events).into_response();
    resp.headers_mut().insert(CONVERSATION_HEADER, header);
    Ok(resp)
}

/// # `GET /v1/models`
///
/// The workspace's bots as OpenAI models (`id` = bot id), for chat UIs that list models.
/// Admin keys, like the door itself.
#[utoipa::path(get, path = "/v1/models", tag = "openai", responses((status = 200), (status = 401), (status = 403)))]
async fn models(
    State(state): State<AppState>,
    admin: Result<AdminKey, ApiError>,
) -> Result<Response, OpenAiError> {
    let ws = admin?.ws;
    let page = state
        .engine
        .list_bots(
            ws,
            &parley_store::PageRequest {
                limit: Some(parley_store::MAX_PAGE),
                cursor: None,
            },
        )
        .await?;
    let data: Vec<Value> = page
        .items
        .iter()
        .map(|b| {
            json!({"id": b.id, "object": "model", "created": b.created_at.timestamp(),
                   "owned_by": "parley", "name": b.name})
        })
        .collect();
    Ok(axum::Json(json!({"object": "list", "data": data})).into_response())
}
