//! The adapter for Anthropic's Messages API. It sends `POST {base_url}/v1/messages`, so
//! `base_url` is the host root, as in Anthropic's own SDKs: `https://api.anthropic.com`
//! (a proxy that mounts the API elsewhere gives its own root). Headers: `x-api-key`
//! (marked sensitive) and `anthropic-version: 2023-06-01`.
//!
//! System messages become the top-level `system` field (joined by blank lines), tool calls
//! are `tool_use` content blocks, and tool results are `tool_result` blocks in a user turn
//! (consecutive results share one turn, as the API requires). Streaming follows the event
//! sequence `message_start`, `content_block_start`, `content_block_delta` (`text_delta`,
//! `input_json_delta`), `content_block_stop`, `message_delta`, `message_stop`; a tool call
//! is emitted when its block stops, and `error` events are classified like HTTP errors.

use std::collections::BTreeMap;
use std::time::Instant;

use async_trait::async_trait;
use eventsource_stream::Event;
use reqwest::header::HeaderName;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::ConfigError;
use crate::error::LlmError;
use crate::http::{join_url, truncate, Transport};
use crate::provider::{EventStream, Provider, Timeouts};
use crate::stream::{decode, is_json, replay, SseDecoder};
use crate::types::{
    parse_arguments, ChatRequest, ChatResponse, FinishReason, Role, StreamEvent, ToolCall, Usage,
};

/// The API version this adapter speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Sent when a request sets no `max_tokens` (the API requires one).
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

/// A client for the Anthropic Messages API.
#[derive(Debug)]
pub struct AnthropicProvider {
    name: String,
    url: String,
    transport: Transport,
}

impl AnthropicProvider {
    /// `base_url` is the host root (see the module docs).
    pub fn new(
        name: impl Into<String>,
        base_url: &str,
        api_key: Option<SecretString>,
        timeouts: Timeouts,
    ) -> Result<Self, ConfigError> {
        let name = name.into();
        let transport =
            Transport::new(timeouts, api_key).map_err(|err| ConfigError::HttpClient {
                provider: name.clone(),
                message: err.to_string(),
            })?;
        Ok(Self {
            name,
            url: join_url(base_url, "v1/messages"),
            transport,
        })
    }

    fn request(&self, req: &ChatRequest, stream: bool) -> reqwest::RequestBuilder {
        let mut builder = self
            .transport
            .post(&self.url)
            .header("anthropic-version", ANTHROPIC_VERSION)
            .json(&wire_request(req, stream));
        if let Some(headers) = self
            .transport
            .auth_header(HeaderName::from_static("x-api-key"), "")
        {
            builder = builder.headers(headers);
        }
        builder
    }
}

#[async_trait]
impl Provider for AnthropicProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let start = Instant::now();
        let response = self.transport.send(self.request(req, false), start).await?;
        let wire: WireResponse = self.transport.read_json(response, start).await?;
        Ok(wire.into_response(&req.model))
    }

    async fn stream(&self, req: &ChatRequest) -> Result<EventStream, LlmError> {
        let start = Instant::now();
        let response = self.transport.send(self.request(req, true), start).await?;
        if is_json(&response) {
            let wire: WireResponse = self.transport.read_json(response, start).await?;
            return Ok(replay(wire.into_response(&req.model)));
        }
        Ok(decode(
            response,
            Decoder::new(&req.model),
            start,
            self.transport.timeouts,
        ))
    }
}

fn wire_request(req: &ChatRequest, stream: bool) -> Value {
    let mut system: Vec<&str> = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    for m in &req.messages {
        match m.role {
            Role::System => system.push(&m.content),
            Role::User => messages.push(json!({"role": "user", "content": m.content})),
            Role::Assistant if m.tool_calls.is_empty() => {
                messages.push(json!({"role": "assistant", "content": m.content}));
            }
            Role::Assistant => {
                let mut blocks = Vec::new();
                if !m.content.is_empty() {
                    blocks.push(json!({"type": "text", "text": m.content}));
                }
                for call in &m.tool_calls {
                    blocks.push(json!({
                        "type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments,
                    }));
                }
                messages.push(json!({"role": "assistant", "content": blocks}));
            }
            Role::Tool => {
                let block = json!({
                    "type": "tool_result",
                    "tool_use_id": m.tool_call_id.as_deref().unwrap_or_default(),
                    "content": m.content,
                });
                match messages.last_mut() {
                    Some(last) if is_tool_result_turn(last) => {
                        if let Some(blocks) = last["content"].as_array_mut() {
                            blocks.push(block);
                        }
                    }
                    _ => messages.push(json!({"role": "user", "content": [block]})),
                }
            }
        }
    }
    let mut body = json!({
        "model": req.model,
        "max_tokens": req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "messages": messages,
        "stream": stream,
    });
    if !system.is_empty() {
        body["system"] = Value::String(system.join("\n\n"));
    }
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
        body["tools"] = Value::Array(tools);
    }
    body
}

fn is_tool_result_turn(message: &Value) -> bool {
    message["role"] == "user"
        && message["content"]
            .as_array()
            .is_some_and(|blocks| blocks.iter().all(|b| b["type"] == "tool_result"))
}

#[derive(Deserialize)]
struct WireResponse {
    model: Option<String>,
    #[serde(default)]
    content: Vec<Block>,
    stop_reason: Option<String>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    /// Thinking and other block kinds are not part of the reply text.
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct WireUsage {
    /// Uncached input tokens only; cache reads and writes are priced differently and are
    /// not counted here.
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

impl WireResponse {
    fn into_response(self, requested_model: &str) -> ChatResponse {
        let mut text = String::new();
        let mut tool_calls = Vec::new();
        for block in self.content {
            match block {
                Block::Text { text: t } => text.push_str(&t),
                Block::ToolUse { id, name, input } => tool_calls.push(ToolCall {
                    id,
                    name,
                    arguments: if input.is_null() { json!({}) } else { input },
                }),
                Block::Other => {}
            }
        }
        let usage = self.usage.unwrap_or_default();
        ChatResponse {
            text,
            tool_calls,
            usage: Usage {
                input_tokens: usage.input_tokens,
                output_tokens: usage.output_tokens,
            },
            model: self.model.unwrap_or_else(|| requested_model.to_owned()),
            finish_reason: self.stop_reason.as_deref().map(FinishReason::from_wire),
        }
    }
}

struct PartialCall {
    id: String,
    name: String,
    json: String,
}

/// Assembles one streamed reply.
struct Decoder {
    model: String,
    text: String,
    open_calls: BTreeMap<u64, PartialCall>,
    calls: Vec<ToolCall>,
    stop_reason: Option<String>,
    usage: Usage,
}

impl Decoder {
    fn new(requested_model: &str) -> Self {
        Self {
            model: requested_model.to_owned(),
            text: String::new(),
            open_calls: BTreeMap::new(),
            calls: Vec::new(),
            stop_reason: None,
            usage: Usage::default(),
        }
    }

    fn response(&mut self) -> ChatResponse {
        ChatResponse {
            text: std::mem::take(&mut self.text),
            tool_calls: std::mem::take(&mut self.calls),
            usage: self.usage,
            model: self.model.clone(),
            finish_reason: self.stop_reason.as_deref().map(FinishReason::from_wire),
        }
    }

    fn push_text(&mut self, text: &str, out: &mut Vec<StreamEvent>) {
        if !text.is_empty() {
            self.text.push_str(text);
            out.push(StreamEvent::Delta(text.to_owned()));
        }
    }
}

impl SseDecoder for Decoder {
    fn on_event(&mut self, event: &Event, out: &mut Vec<StreamEvent>) -> Result<(), LlmError> {
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(());
        }
        let value: Value = serde_json::from_str(data).map_err(|e| {
            LlmError::Malformed(format!("invalid event: {e}; data: {}", truncate(data, 200)))
        })?;
        let kind = value["type"].as_str().unwrap_or(event.event.as_str());
        match kind {
            "message_start" => {
                let message = &value["message"];
                if let Some(model) = message["model"].as_str() {
                    self.model = model.to_owned();
                }
                self.usage.input_tokens = message["usage"]["input_tokens"].as_u64().unwrap_or(0);
                self.usage.output_tokens = message["usage"]["output_tokens"].as_u64().unwrap_or(0);
            }
            "content_block_start" => {
                let index = block_index(&value)?;
                let block = &value["content_block"];
                match block["type"].as_str() {
                    Some("text") => self.push_text(block["text"].as_str().unwrap_or(""), out),
                    Some("tool_use") => {
                        self.open_calls.insert(
                            index,
                            PartialCall {
                                id: block["id"].as_str().unwrap_or_default().to_owned(),
                                name: block["name"].as_str().unwrap_or_default().to_owned(),
                                json: String::new(),
                            },
                        );
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let index = block_index(&value)?;
                let delta = &value["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => self.push_text(delta["text"].as_str().unwrap_or(""), out),
                    Some("input_json_delta") => {
                        let call = self.open_calls.get_mut(&index).ok_or_else(|| {
                            LlmError::Malformed(format!(
                                "input_json_delta for unknown block {index}"
                            ))
                        })?;
                        call.json
                            .push_str(delta["partial_json"].as_str().unwrap_or_default());
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some(call) = self.open_calls.remove(&block_index(&value)?) {
                    let call = ToolCall {
                        id: call.id,
                        name: call.name,
                        arguments: parse_arguments(&call.json),
                    };
                    out.push(StreamEvent::ToolCall(call.clone()));
                    self.calls.push(call);
                }
            }
            "message_delta" => {
                if let Some(reason) = value["delta"]["stop_reason"].as_str() {
                    self.stop_reason = Some(reason.to_owned());
                }
                // Counts here are cumulative for the whole message.
                if let Some(n) = value["usage"]["output_tokens"].as_u64() {
                    self.usage.output_tokens = n;
                }
                if let Some(n) = value["usage"]["input_tokens"].as_u64() {
                    self.usage.input_tokens = n;
                }
            }
            "message_stop" => out.push(StreamEvent::Done(self.response())),
            "error" => return Err(error_event(&value["error"])),
            // `ping` and event kinds added after this adapter was written.
            _ => {}
        }
        Ok(())
    }

    fn on_end(&mut self) -> Option<ChatResponse> {
        self.stop_reason.as_ref()?;
        Some(self.response())
    }
}

fn block_index(value: &Value) -> Result<u64, LlmError> {
    value["index"]
        .as_u64()
        .ok_or_else(|| LlmError::Malformed("content block event without an index".into()))
}

/// An `error` event inside a stream, classified by Anthropic's error type.
fn error_event(error: &Value) -> LlmError {
    let message = truncate(error["message"].as_str().unwrap_or("error event"), 500);
    match error["type"].as_str().unwrap_or_default() {
        "overloaded_error" => LlmError::Server { status: 529 },
        "rate_limit_error" => LlmError::RateLimited { retry_after: None },
        "authentication_error" => LlmError::Auth { status: 401 },
        "permission_error" => LlmError::Auth { status: 403 },
        "invalid_request_error" => LlmError::Client {
            status: 400,
            message,
        },
        "not_found_error" => LlmError::Client {
            status: 404,
            message,
        },
        "request_too_large" => LlmError::Client {
            status: 413,
            message,
        },
        _ => LlmError::Server { status: 500 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ChatMessage;

    fn sse(kind: &str, data: &str) -> Event {
        Event {
            event: kind.into(),
            data: data.into(),
            id: String::new(),
            retry: None,
        }
    }

    #[test]
    fn system_goes_top_level_and_tool_results_share_a_user_turn() {
        let req = ChatRequest::new(
            "claude",
            vec![
                ChatMessage::system("a"),
                ChatMessage::system("b"),
                ChatMessage::user("hi"),
                ChatMessage::assistant_with_tools(
                    "checking",
                    vec![
                        ToolCall {
                            id: "t1".into(),
                            name: "f".into(),
                            arguments: json!({}),
                        },
                        ToolCall {
                            id: "t2".into(),
                            name: "g".into(),
                            arguments: json!({"x": 1}),
                        },
                    ],
                ),
                ChatMessage::tool_result("t1", "one"),
                ChatMessage::tool_result("t2", "two"),
            ],
        );
        let body = wire_request(&req, false);
        assert_eq!(body["system"], json!("a\n\nb"));
        assert_eq!(body["max_tokens"], json!(DEFAULT_MAX_TOKENS));
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[1]["content"][2]["input"], json!({"x": 1}));
        assert_eq!(messages[2]["content"].as_array().unwrap().len(), 2);
        assert_eq!(messages[2]["content"][1]["tool_use_id"], json!("t2"));
    }

    #[test]
    fn a_streamed_tool_use_is_emitted_when_its_block_stops() {
        let mut decoder = Decoder::new("claude");
        let mut out = Vec::new();
        for (kind, data) in [
            (
                "message_start",
                r#"{"type":"message_start","message":{"model":"claude-x","usage":{"input_tokens":7,"output_tokens":1}}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me"}}"#,
            ),
            (
                "content_block_stop",
                r#"{"type":"content_block_stop","index":0}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"tu1","name":"weather","input":{}}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Oslo\"}"}}"#,
            ),
            (
                "content_block_stop",
                r#"{"type":"content_block_stop","index":1}"#,
            ),
            (
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":12}}"#,
            ),
            ("message_stop", r#"{"type":"message_stop"}"#),
        ] {
            decoder.on_event(&sse(kind, data), &mut out).unwrap();
        }
        assert_eq!(out.len(), 3, "{out:?}");
        let StreamEvent::Done(done) = &out[2] else {
            panic!("expected Done: {out:?}");
        };
        assert_eq!(done.text, "Let me");
        assert_eq!(done.tool_calls[0].arguments, json!({"city": "Oslo"}));
        assert_eq!(done.usage.input_tokens, 7);
        assert_eq!(done.usage.output_tokens, 12);
        assert_eq!(done.model, "claude-x");
        assert_eq!(done.finish_reason, Some(FinishReason::ToolCalls));
    }

    #[test]
    fn an_overloaded_event_is_a_retryable_server_error() {
        let err = Decoder::new("m")
            .on_event(
                &sse(
                    "error",
                    r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                ),
                &mut Vec::new(),
            )
            .unwrap_err();
        assert!(matches!(err, LlmError::Server { status: 529 }));
        assert!(err.is_retryable());
    }
}
