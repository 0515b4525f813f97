//! The adapter for every OpenAI-compatible chat-completions endpoint: OpenAI itself,
//! OpenAI-compatible gateways (OpenRouter, Groq) and local servers (Ollama, vLLM,
//! llama.cpp). It sends `POST {base_url}/chat/completions`, so `base_url` includes the API
//! version prefix, exactly as the official SDKs expect: `https://api.openai.com/v1`,
//! `http://localhost:11434/v1` (Ollama), `https://openrouter.ai/api/v1`. The key is sent as
//! `Authorization: Bearer …` and is optional, for local servers that need none.
//!
//! Streaming uses SSE `data:` lines ending with `data: [DONE]`; tool-call fragments are
//! assembled by their `index` and emitted whole once the choice finishes, and
//! `stream_options.include_usage` asks for the final usage chunk.

use std::collections::BTreeMap;
use std::time::Instant;

use async_trait::async_trait;
use eventsource_stream::Event;
use reqwest::header::AUTHORIZATION;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::ConfigError;
use crate::error::LlmError;
use crate::http::{join_url, status_error, truncate, Transport};
use crate::provider::{EventStream, Provider, Timeouts};
use crate::stream::{decode, is_json, replay, SseDecoder};
use crate::types::{
    parse_arguments, ChatRequest, ChatResponse, FinishReason, Role, StreamEvent, ToolCall, Usage,
};

/// A client for one OpenAI-compatible endpoint.
#[derive(Debug)]
pub struct OpenAiProvider {
    name: String,
    url: String,
    transport: Transport,
}

impl OpenAiProvider {
    /// `base_url` is the API root including its version prefix (see the module docs).
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
            url: join_url(base_url, "chat/completions"),
            transport,
        })
    }

    fn request(&self, req: &ChatRequest, stream: bool) -> reqwest::RequestBuilder {
        let mut builder = self
            .transport
            .post(&self.url)
            .json(&wire_request(req, stream));
        if let Some(headers) = self.transport.auth_header(AUTHORIZATION, "Bearer ") {
            builder = builder.headers(headers);
        }
        builder
    }
}

#[async_trait]
impl Provider for OpenAiProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let start = Instant::now();
        let response = self.transport.send(self.request(req, false), start).await?;
        let wire: WireResponse = self.transport.read_json(response, start).await?;
        wire.into_response(&req.model)
    }

    async fn stream(&self, req: &ChatRequest) -> Result<EventStream, LlmError> {
        let start = Instant::now();
        let response = self.transport.send(self.request(req, true), start).await?;
        if is_json(&response) {
            let wire: WireResponse = self.transport.read_json(response, start).await?;
            return Ok(replay(wire.into_response(&req.model)?));
        }
        Ok(decode(
            response,
            Decoder::new(&req.model),
            start,
            self.transport.timeouts,
        ))
    }
}

/// The request body. `max_tokens` (not the newer `max_completion_tokens`) because every
/// compatible server understands it.
fn wire_request(req: &ChatRequest, stream: bool) -> Value {
    let messages: Vec<Value> = req
        .messages
        .iter()
        .map(|m| match m.role {
            Role::System => json!({"role": "system", "content": m.content}),
            Role::User => json!({"role": "user", "content": m.content}),
            Role::Assistant if m.tool_calls.is_empty() => {
                json!({"role": "assistant", "content": m.content})
            }
            Role::Assistant => {
                let calls: Vec<Value> = m
                    .tool_calls
                    .iter()
                    .map(|c| {
                        json!({
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": arguments_text(&c.arguments)},
                        })
                    })
                    .collect();
                let content = if m.content.is_empty() {
                    Value::Null
                } else {
                    Value::String(m.content.clone())
                };
                json!({"role": "assistant", "content": content, "tool_calls": calls})
            }
            Role::Tool => json!({
                "role": "tool",
                "tool_call_id": m.tool_call_id.as_deref().unwrap_or_default(),
                "content": m.content,
            }),
        })
        .collect();
    let mut body = json!({"model": req.model, "messages": messages, "stream": stream});
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(n) = req.max_tokens {
        body["max_tokens"] = json!(n);
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                json!({
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                })
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    body
}

/// OpenAI carries arguments as a JSON string; a raw string we kept verbatim goes back as is.
fn arguments_text(arguments: &Value) -> String {
    match arguments {
        Value::String(raw) => raw.clone(),
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
struct WireResponse {
    model: Option<String>,
    #[serde(default)]
    choices: Vec<WireChoice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    message: WireMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    id: Option<String>,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    /// A JSON string per the spec; some compatible servers send an object.
    arguments: Option<Value>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
        }
    }
}

impl WireResponse {
    fn into_response(self, requested_model: &str) -> Result<ChatResponse, LlmError> {
        let choice = self
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| LlmError::Malformed("the response has no choices".into()))?;
        let tool_calls = choice
            .message
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, c)| ToolCall {
                id: c.id.unwrap_or_else(|| format!("call_{i}")),
                name: c.function.name,
                arguments: match c.function.arguments {
                    Some(Value::String(raw)) => parse_arguments(&raw),
                    Some(Value::Null) | None => parse_arguments(""),
                    Some(other) => other,
                },
            })
            .collect();
        Ok(ChatResponse {
            text: choice.message.content.unwrap_or_default(),
            tool_calls,
            usage: self.usage.map(Usage::from).unwrap_or_default(),
            model: self.model.unwrap_or_else(|| requested_model.to_owned()),
            finish_reason: choice.finish_reason.as_deref().map(FinishReason::from_wire),
        })
    }
}

#[derive(Deserialize)]
struct WireChunk {
    model: Option<String>,
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    delta: Option<ChunkDelta>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ChunkDelta {
    content: Option<String>,
    tool_calls: Option<Vec<ToolDelta>>,
}

#[derive(Deserialize)]
struct ToolDelta {
    index: Option<u32>,
    id: Option<String>,
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Assembles one streamed reply.
struct Decoder {
    model: String,
    text: String,
    calls: BTreeMap<u32, PartialCall>,
    /// Calls already emitted as `StreamEvent::ToolCall`.
    emitted: Vec<ToolCall>,
    finish_reason: Option<String>,
    usage: Usage,
}

impl Decoder {
    fn new(requested_model: &str) -> Self {
        Self {
            model: requested_model.to_owned(),
            text: String::new(),
            calls: BTreeMap::new(),
            emitted: Vec::new(),
            finish_reason: None,
            usage: Usage::default(),
        }
    }

    /// Emits the assembled tool calls (once: the choice has finished).
    fn flush_calls(&mut self, out: &mut Vec<StreamEvent>) {
        for (index, call) in std::mem::take(&mut self.calls) {
            let call = ToolCall {
                id: if call.id.is_empty() {
                    format!("call_{index}")
                } else {
                    call.id
                },
                name: call.name,
                arguments: parse_arguments(&call.arguments),
            };
            out.push(StreamEvent::ToolCall(call.clone()));
            self.emitted.push(call);
        }
    }

    fn response(&mut self) -> ChatResponse {
        ChatResponse {
            text: std::mem::take(&mut self.text),
            tool_calls: std::mem::take(&mut self.emitted),
            usage: self.usage,
            model: self.model.clone(),
            finish_reason: self.finish_reason.as_deref().map(FinishReason::from_wire),
        }
    }
}

impl SseDecoder for Decoder {
    fn on_event(&mut self, event: &Event, out: &mut Vec<StreamEvent>) -> Result<(), LlmError> {
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(());
        }
        if data == "[DONE]" {
            self.flush_calls(out);
            out.push(StreamEvent::Done(self.response()));
            return Ok(());
        }
        let value: Value = serde_json::from_str(data).map_err(|e| {
            LlmError::Malformed(format!("invalid chunk: {e}; data: {}", truncate(data, 200)))
        })?;
        if let Some(error) = value.get("error") {
            return Err(stream_error(error));
        }
        let chunk: WireChunk = serde_json::from_value(value)
            .map_err(|e| LlmError::Malformed(format!("unexpected chunk shape: {e}")))?;
        if let Some(model) = chunk.model.filter(|m| !m.is_empty()) {
            self.model = model;
        }
        if let Some(usage) = chunk.usage {
            self.usage = usage.into();
        }
        for choice in chunk.choices {
            if let Some(delta) = choice.delta {
                if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                    self.text.push_str(&text);
                    out.push(StreamEvent::Delta(text));
                }
                for part in delta.tool_calls.unwrap_or_default() {
                    // Servers that omit `index` send calls one after another: a part with an
                    // id starts the next call, one without continues the last.
                    let index = part.index.unwrap_or_else(|| {
                        let count = u32::try_from(self.calls.len()).unwrap_or(u32::MAX);
                        if part.id.is_some() {
                            count
                        } else {
                            count.saturating_sub(1)
                        }
                    });
                    let call = self.calls.entry(index).or_default();
                    if let Some(id) = part.id {
                        call.id = id;
                    }
                    if let Some(function) = part.function {
                        if let Some(name) = function.name {
                            call.name.push_str(&name);
                        }
                        if let Some(arguments) = function.arguments {
                            call.arguments.push_str(&arguments);
                        }
                    }
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.finish_reason = Some(reason);
                self.flush_calls(out);
            }
        }
        Ok(())
    }

    fn on_end(&mut self) -> Option<ChatResponse> {
        self.finish_reason.as_ref()?;
        Some(self.response())
    }
}

/// An `{"error": …}` object sent inside a stream.
fn stream_error(error: &Value) -> LlmError {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("error inside the stream");
    let code = error
        .get("code")
        .and_then(|c| {
            c.as_u64()
                .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
        })
        .and_then(|c| u16::try_from(c).ok());
    let kind = error
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match (code, kind) {
        (Some(status), _) if (400..600).contains(&status) => {
            status_error(status, None, truncate(message, 500))
        }
        (_, "rate_limit_exceeded" | "rate_limit_error") => {
            LlmError::RateLimited { retry_after: None }
        }
        (_, "invalid_request_error") => LlmError::Client {
            status: 400,
            message: truncate(message, 500),
        },
        _ => LlmError::Server { status: 500 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ChatMessage, ToolSpec};

    fn sse(data: &str) -> Event {
        Event {
            event: "message".into(),
            data: data.into(),
            id: String::new(),
            retry: None,
        }
    }

    #[test]
    fn tool_call_fragments_are_assembled_by_index() {
        let mut decoder = Decoder::new("m");
        let mut out = Vec::new();
        for data in [
            r#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"b","function":{"name":"g","arguments":"{\"y\":"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":1}"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"function":{"arguments":"2}"}}]}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#,
            "[DONE]",
        ] {
            decoder.on_event(&sse(data), &mut out).unwrap();
        }
        assert_eq!(out.len(), 3, "{out:?}");
        let StreamEvent::Done(done) = &out[2] else {
            panic!("expected Done last: {out:?}");
        };
        assert_eq!(done.tool_calls[0].arguments, json!({"x": 1}));
        assert_eq!(done.tool_calls[1].name, "g");
        assert_eq!(done.tool_calls[1].arguments, json!({"y": 2}));
        assert_eq!(done.usage.output_tokens, 4);
        assert_eq!(done.finish_reason, Some(FinishReason::ToolCalls));
    }

    #[test]
    fn the_request_carries_tools_and_tool_results_in_openai_shape() {
        let mut req = ChatRequest::new(
            "m",
            vec![
                ChatMessage::system("be brief"),
                ChatMessage::user("weather?"),
                ChatMessage::assistant_with_tools(
                    "",
                    vec![ToolCall {
                        id: "c1".into(),
                        name: "weather".into(),
                        arguments: json!({"city": "Oslo"}),
                    }],
                ),
                ChatMessage::tool_result("c1", "rain"),
            ],
        );
        req.tools.push(ToolSpec {
            name: "weather".into(),
            description: "d".into(),
            parameters: json!({"type": "object"}),
        });
        let body = wire_request(&req, true);
        assert_eq!(body["stream_options"]["include_usage"], json!(true));
        assert_eq!(body["messages"][2]["content"], Value::Null);
        assert_eq!(
            body["messages"][2]["tool_calls"][0]["function"]["arguments"],
            json!("{\"city\":\"Oslo\"}")
        );
        assert_eq!(body["messages"][3]["tool_call_id"], json!("c1"));
        assert_eq!(body["tools"][0]["function"]["name"], json!("weather"));
    }

    #[test]
    fn tool_call_parts_without_an_index_follow_one_another() {
        let mut decoder = Decoder::new("m");
        let mut out = Vec::new();
        for data in [
            r#"{"choices":[{"delta":{"tool_calls":[{"id":"a","function":{"name":"f","arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"id":"b","function":{"name":"g","arguments":"{\"k\""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":":1}"}}]}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
        ] {
            decoder.on_event(&sse(data), &mut out).unwrap();
        }
        let names: Vec<_> = out
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ToolCall(c) => Some((c.id.as_str(), c.arguments.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(names, [("a", json!({})), ("b", json!({"k": 1}))]);
        // No [DONE]: the finished choice still yields the response at the end.
        assert!(decoder.on_end().is_some());
    }

    #[test]
    fn an_error_object_in_the_stream_is_classified() {
        let mut decoder = Decoder::new("m");
        let err = decoder
            .on_event(
                &sse(r#"{"error":{"message":"overloaded","code":503}}"#),
                &mut Vec::new(),
            )
            .unwrap_err();
        assert!(matches!(err, LlmError::Server { status: 503 }));
    }
}
