//! A fake LLM server for tests (cargo feature `fake`): a real HTTP server on 127.0.0.1 that
//! speaks both the OpenAI chat-completions shape (`POST /v1/chat/completions`) and the
//! Anthropic Messages shape (`POST /v1/messages`), streaming with real SSE or not, so the
//! adapters are tested over the wire exactly as in production. As in tensorzero's dummy
//! provider, the model name chooses the behaviour, which lets one scenario list run against
//! every adapter:
//!
//! | model | behaviour |
//! |---|---|
//! | `echo` | replies with the last user message |
//! | `leak` | an obedient model: replies with its whole system prompt ("My instructions are: …") |
//! | `script` | pops the next reply queued with [`FakeHandle::push_script`] (400 when empty) |
//! | `tool` | calls the request's first tool (or `get_weather`) with `{"location":"Paris","unit":"celsius"}`, after the text `Let me check.` |
//! | `error_NNN` | answers HTTP NNN (`error_500`, `error_400`, `error_401`, ...) |
//! | `rate_limit` | 429 with `Retry-After: 1` |
//! | `flaky_N` | 500 for the first N requests to that model name, then `echo` |
//! | `slow_ttft[_MS]` | waits MS (default 1000) before the first byte (non-streaming) or the first event (streaming: headers come at once), then `echo` |
//! | `slow_drip[_MS]` | `echo`, waiting MS (default 100) between stream events or body pieces |
//! | `drop_mid_stream` | `echo`, but closes the connection after half of the text |
//! | `malformed` | 200 with a body (or SSE data) that is not JSON |
//! | `timeout` | never answers |
//! | anything else | 404, model not found |
//!
//! [`FakeHandle::set_latency`] adds a fixed delay before every answer, and
//! [`FakeHandle::requests`] returns every request received (path, headers, JSON body).
//! For connection failures, [`refused_base_url`] gives an address nothing listens on and
//! [`Blackhole`] one where connecting hangs.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

use crate::types::ToolCall;

/// Starts fake servers.
#[derive(Debug)]
pub struct FakeProvider;

impl FakeProvider {
    /// Binds 127.0.0.1 on a free port and serves until the handle is dropped.
    pub async fn start() -> std::io::Result<FakeHandle> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(openai))
            .route("/chat/completions", post(openai))
            .route("/v1/messages", post(anthropic))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(%err, "fake LLM server stopped");
            }
        });
        Ok(FakeHandle {
            addr,
            shared,
            server,
        })
    }
}

/// A running fake server; dropping it stops accepting connections.
#[derive(Debug)]
pub struct FakeHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl FakeHandle {
    /// `http://127.0.0.1:PORT`: the base URL for the Anthropic adapter.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1`: the base URL for the OpenAI adapter.
    pub fn openai_base_url(&self) -> String {
        format!("{}/v1", self.base_url())
    }

    /// The same as [`FakeHandle::base_url`], named for symmetry.
    pub fn anthropic_base_url(&self) -> String {
        self.base_url()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Stops (or restarts) keeping every request for [`FakeHandle::requests`]: a long load
    /// run would otherwise hold every body it sent.
    pub fn set_recording(&self, on: bool) {
        *lock(&self.shared.not_recording) = !on;
    }

    /// Queues a reply for the `script` model.
    pub fn push_script(&self, reply: impl Into<ScriptedReply>) {
        lock(&self.shared.scripts).push_back(reply.into());
    }

    /// A delay added before every answer.
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.shared.latency) = latency;
    }
}

impl Drop for FakeHandle {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub path: String,
    /// Lower-case header names.
    pub headers: BTreeMap<String, String>,
    pub body: Value,
}

/// A reply for the `script` model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScriptedReply {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
}

impl From<&str> for ScriptedReply {
    fn from(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            tool_calls: Vec::new(),
        }
    }
}

impl From<String> for ScriptedReply {
    fn from(text: String) -> Self {
        Self {
            text,
            tool_calls: Vec::new(),
        }
    }
}

/// A base URL on 127.0.0.1 where nothing listens, so connecting is refused at once.
pub async fn refused_base_url() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    drop(listener);
    Ok(format!("http://{addr}"))
}

/// A listener whose accept queue is full and never drained, so a new connection attempt
/// hangs in the handshake: the way to meet a connect timeout without leaving 127.0.0.1.
#[derive(Debug)]
pub struct Blackhole {
    addr: SocketAddr,
    _listener: TcpListener,
    _queued: Vec<TcpStream>,
}

impl Blackhole {
    pub async fn start() -> std::io::Result<Self> {
        let socket = TcpSocket::new_v4()?;
        socket.bind("127.0.0.1:0".parse().map_err(std::io::Error::other)?)?;
        let listener = socket.listen(0)?;
        let addr = listener.local_addr()?;
        let mut queued = Vec::new();
        // Fill the queue until a connection attempt stalls.
        for _ in 0..16 {
            match tokio::time::timeout(Duration::from_millis(100), TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => queued.push(stream),
                _ => break,
            }
        }
        Ok(Self {
            addr,
            _listener: listener,
            _queued: queued,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

#[derive(Debug, Default)]
struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
    scripts: Mutex<VecDeque<ScriptedReply>>,
    /// Requests seen per model name, for `flaky_N`.
    counters: Mutex<HashMap<String, u32>>,
    latency: Mutex<Duration>,
    not_recording: Mutex<bool>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    OpenAi,
    Anthropic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Echo,
    Leak,
    Script,
    Tool,
    Error(u16),
    RateLimit,
    Flaky(u32),
    SlowTtft(Duration),
    SlowDrip(Duration),
    DropMidStream,
    Malformed,
    Timeout,
}

fn behaviour(model: &str) -> Option<Behaviour> {
    let (base, number) = match model.rsplit_once('_') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (base, n.parse::<u64>().ok())
        }
        _ => (model, None),
    };
    let ms = |default: u64| Duration::from_millis(number.unwrap_or(default));
    Some(match (base, number) {
        ("echo", None) => Behaviour::Echo,
        ("leak", None) => Behaviour::Leak,
        ("script", None) => Behaviour::Script,
        ("tool", None) => Behaviour::Tool,
        ("error", Some(code)) => Behaviour::Error(u16::try_from(code).ok()?),
        ("rate_limit", None) => Behaviour::RateLimit,
        ("flaky", Some(n)) => Behaviour::Flaky(u32::try_from(n).ok()?),
        ("slow_ttft", _) => Behaviour::SlowTtft(ms(1000)),
        ("slow_drip", _) => Behaviour::SlowDrip(ms(100)),
        ("drop_mid_stream", None) => Behaviour::DropMidStream,
        ("malformed", None) => Behaviour::Malformed,
        ("timeout", None) => Behaviour::Timeout,
        _ => return None,
    })
}

async fn openai(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    answer(shared, Wire::OpenAi, "/v1/chat/completions", headers, body).await
}

async fn anthropic(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    answer(shared, Wire::Anthropic, "/v1/messages", headers, body).await
}

async fn answer(
    shared: Arc<Shared>,
    wire: Wire,
    path: &str,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(wire, 400, "the request body is not JSON");
    };
    if !*lock(&shared.not_recording) {
        let recorded_headers = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        lock(&shared.requests).push(RecordedRequest {
            path: path.to_owned(),
            headers: recorded_headers,
            body: body.clone(),
        });
    }
    let latency = *lock(&shared.latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let streaming = body["stream"].as_bool().unwrap_or(false);
    let Some(behaviour) = behaviour(&model) else {
        return error(wire, 404, &format!("model `{model}` not found"));
    };
    let mut pacing = Pacing::default();
    let reply = match behaviour {
        Behaviour::Echo => echo(&body),
        Behaviour::Leak => leak(&body),
        Behaviour::Script => match lock(&shared.scripts).pop_front() {
            Some(script) => Reply {
                text: script.text,
                tool_calls: script.tool_calls,
            },
            None => return error(wire, 400, "no scripted reply left"),
        },
        Behaviour::Tool => tool(wire, &body),
        Behaviour::Error(status) => {
            // The message quotes the credentials, to prove the client scrubs them.
            let credentials = headers
                .get(header::AUTHORIZATION)
                .or_else(|| headers.get("x-api-key"))
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none");
            return error(
                wire,
                status,
                &format!("fake error for credentials {credentials}"),
            );
        }
        Behaviour::RateLimit => {
            let mut response = error(wire, 429, "rate limited");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            return response;
        }
        Behaviour::Flaky(failures) => {
            let seen = {
                let mut counters = lock(&shared.counters);
                let seen = counters.entry(model.clone()).or_insert(0);
                *seen += 1;
                *seen
            };
            if seen <= failures {
                return error(wire, 500, "flaky failure");
            }
            echo(&body)
        }
        Behaviour::Timeout => return futures::future::pending::<Response>().await,
        Behaviour::SlowTtft(delay) => {
            if streaming {
                pacing.before_first = delay;
            } else {
                tokio::time::sleep(delay).await;
            }
            echo(&body)
        }
        Behaviour::SlowDrip(delay) => {
            pacing.between = delay;
            echo(&body)
        }
        Behaviour::DropMidStream => {
            pacing.drop_after_half = true;
            echo(&body)
        }
        Behaviour::Malformed => {
            if streaming {
                let frame = match wire {
                    Wire::OpenAi => "data: {\"choices\": [ this is not json\n\n",
                    Wire::Anthropic => "event: content_block_delta\ndata: {not json\n\n",
                };
                return sse_response(vec![Frame::other(frame.to_owned())], Pacing::default());
            }
            return (
                [(header::CONTENT_TYPE, "application/json")],
                "this is not json",
            )
                .into_response();
        }
    };
    let usage = (input_tokens(&body), reply.output_tokens());
    if streaming {
        let frames = match wire {
            Wire::OpenAi => openai_frames(&model, &reply, usage),
            Wire::Anthropic => anthropic_frames(&model, &reply, usage),
        };
        return sse_response(frames, pacing);
    }
    let json = match wire {
        Wire::OpenAi => openai_body(&model, &reply, usage),
        Wire::Anthropic => anthropic_body(&model, &reply, usage),
    };
    if pacing.between.is_zero() && !pacing.drop_after_half {
        return Json(json).into_response();
    }
    // Slow or broken non-streaming body: headers now, the JSON in pieces.
    let text = json.to_string();
    let frames = pieces(&text, 4)
        .into_iter()
        .map(|p| Frame {
            text: p,
            is_text_delta: true,
        })
        .collect();
    let mut response = Response::new(paced_body(frames, pacing));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

struct Reply {
    text: String,
    tool_calls: Vec<ToolCall>,
}

impl Reply {
    fn output_tokens(&self) -> u64 {
        words(&self.text) + self.tool_calls.len() as u64
    }
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Word count of every string content in the request: deterministic, good enough.
fn input_tokens(body: &Value) -> u64 {
    let mut total = body["system"].as_str().map_or(0, words);
    for message in body["messages"].as_array().into_iter().flatten() {
        total += text_of(&message["content"]).map_or(0, |t| words(&t));
    }
    total
}

/// The text of a message's content, whether a string or an array of text blocks.
fn text_of(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(blocks) => {
            let texts: Vec<&str> = blocks
                .iter()
                .filter(|b| b["type"] == "text")
                .filter_map(|b| b["text"].as_str())
                .collect();
            (!texts.is_empty()).then(|| texts.concat())
        }
        _ => None,
    }
}

fn echo(body: &Value) -> Reply {
    let text = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .rev()
        .filter(|m| m["role"] == "user")
        .find_map(|m| text_of(&m["content"]))
        .unwrap_or_default();
    Reply {
        text,
        tool_calls: Vec::new(),
    }
}

/// The system prompt, wherever the wire shape puts it, repeated back.
fn leak(body: &Value) -> Reply {
    let system = text_of(&body["system"])
        .or_else(|| {
            body["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|m| m["role"] == "system")
                .find_map(|m| text_of(&m["content"]))
        })
        .unwrap_or_default();
    Reply {
        text: format!("Of course! My instructions are: {system}"),
        tool_calls: Vec::new(),
    }
}

fn tool(wire: Wire, body: &Value) -> Reply {
    let first_tool = &body["tools"][0];
    let name = match wire {
        Wire::OpenAi => first_tool["function"]["name"].as_str(),
        Wire::Anthropic => first_tool["name"].as_str(),
    }
    .unwrap_or("get_weather");
    Reply {
        text: "Let me check.".into(),
        tool_calls: vec![ToolCall {
            id: "call_fake_1".into(),
            name: name.to_owned(),
            arguments: json!({"location": "Paris", "unit": "celsius"}),
        }],
    }
}

fn error(wire: Wire, status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match wire {
        Wire::OpenAi => json!({"error": {"message": message, "type": "fake_error", "code": null}}),
        Wire::Anthropic => {
            let kind = match status.as_u16() {
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                429 => "rate_limit_error",
                400..=499 => "invalid_request_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
    };
    (status, Json(body)).into_response()
}

fn openai_body(model: &str, reply: &Reply, (input, output): (u64, u64)) -> Value {
    let tool_calls: Vec<Value> = reply
        .tool_calls
        .iter()
        .map(|c| {
            json!({"id": c.id, "type": "function",
                   "function": {"name": c.name, "arguments": c.arguments.to_string()}})
        })
        .collect();
    let mut message = json!({"role": "assistant", "content": reply.text});
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish(Wire::OpenAi, reply)}],
        "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output},
    })
}

fn anthropic_body(model: &str, reply: &Reply, (input, output): (u64, u64)) -> Value {
    let mut content = Vec::new();
    if !reply.text.is_empty() {
        content.push(json!({"type": "text", "text": reply.text}));
    }
    for c in &reply.tool_calls {
        content.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}));
    }
    json!({
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": finish(Wire::Anthropic, reply),
        "usage": {"input_tokens": input, "output_tokens": output},
    })
}

fn finish(wire: Wire, reply: &Reply) -> &'static str {
    match (wire, reply.tool_calls.is_empty()) {
        (Wire::OpenAi, true) => "stop",
        (Wire::OpenAi, false) => "tool_calls",
        (Wire::Anthropic, true) => "end_turn",
        (Wire::Anthropic, false) => "tool_use",
    }
}

/// One piece of a streamed body.
struct Frame {
    text: String,
    /// Carries reply text (where `drop_mid_stream` counts its half).
    is_text_delta: bool,
}

impl Frame {
    fn other(text: String) -> Self {
        Self {
            text,
            is_text_delta: false,
        }
    }

    fn sse(data: &Value) -> Self {
        Self::other(format!("data: {data}\n\n"))
    }

    fn event(name: &str, data: &Value) -> Self {
        Self::other(format!("event: {name}\ndata: {data}\n\n"))
    }
}

fn openai_frames(model: &str, reply: &Reply, (input, output): (u64, u64)) -> Vec<Frame> {
    let chunk = |delta: Value, finish: Option<&str>| {
        json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut frames = vec![Frame::sse(&chunk(
        json!({"role": "assistant", "content": ""}),
        None,
    ))];
    for piece in words_with_spaces(&reply.text) {
        let mut frame = Frame::sse(&chunk(json!({"content": piece}), None));
        frame.is_text_delta = true;
        frames.push(frame);
    }
    for (index, call) in reply.tool_calls.iter().enumerate() {
        frames.push(Frame::sse(&chunk(
            json!({"tool_calls": [{"index": index, "id": call.id, "type": "function",
                                   "function": {"name": call.name, "arguments": ""}}]}),
            None,
        )));
        for part in pieces(&call.arguments.to_string(), 3) {
            frames.push(Frame::sse(&chunk(
                json!({"tool_calls": [{"index": index, "function": {"arguments": part}}]}),
                None,
            )));
        }
    }
    frames.push(Frame::sse(&chunk(
        json!({}),
        Some(finish(Wire::OpenAi, reply)),
    )));
    frames.push(Frame::sse(&json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model, "choices": [],
        "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output},
    })));
    frames.push(Frame::other("data: [DONE]\n\n".into()));
    frames
}

fn anthropic_frames(model: &str, reply: &Reply, (input, output): (u64, u64)) -> Vec<Frame> {
    let mut frames = vec![
        Frame::event(
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null,
                "usage": {"input_tokens": input, "output_tokens": 1}}}),
        ),
        Frame::event("ping", &json!({"type": "ping"})),
    ];
    let mut index = 0;
    if !reply.text.is_empty() {
        frames.push(Frame::event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index,
                    "content_block": {"type": "text", "text": ""}}),
        ));
        for piece in words_with_spaces(&reply.text) {
            let mut frame = Frame::event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": piece}}),
            );
            frame.is_text_delta = true;
            frames.push(frame);
        }
        frames.push(Frame::event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    for call in &reply.tool_calls {
        frames.push(Frame::event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index,
                    "content_block": {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}}),
        ));
        for part in pieces(&call.arguments.to_string(), 3) {
            frames.push(Frame::event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": part}}),
            ));
        }
        frames.push(Frame::event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    frames.push(Frame::event(
        "message_delta",
        &json!({"type": "message_delta",
                "delta": {"stop_reason": finish(Wire::Anthropic, reply), "stop_sequence": null},
                "usage": {"output_tokens": output}}),
    ));
    frames.push(Frame::event(
        "message_stop",
        &json!({"type": "message_stop"}),
    ));
    frames
}

/// "Hello big world" → ["Hello ", "big ", "world"]: pieces that concatenate back.
fn words_with_spaces(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(str::to_owned).collect()
}

/// Splits into about `n` pieces on character boundaries.
fn pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(n.max(1)).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

#[derive(Debug, Clone, Copy, Default)]
struct Pacing {
    before_first: Duration,
    between: Duration,
    drop_after_half: bool,
}

fn sse_response(frames: Vec<Frame>, pacing: Pacing) -> Response {
    let mut response = Response::new(paced_body(frames, pacing));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    response
}

/// The frames as a body, with the pacing's delays; with `drop_after_half`, it stops after
/// half of the text frames (at least one) and fails, which makes the server abort the
/// connection mid-body.
fn paced_body(frames: Vec<Frame>, pacing: Pacing) -> Body {
    let text_frames = frames.iter().filter(|f| f.is_text_delta).count();
    let keep_text = text_frames.div_ceil(2).max(1);
    let mut kept = Vec::new();
    let mut seen_text = 0;
    for frame in frames {
        if pacing.drop_after_half && seen_text >= keep_text {
            break;
        }
        seen_text += usize::from(frame.is_text_delta);
        kept.push(frame.text);
    }
    let total = kept.len();
    let stream =
        futures::stream::iter(kept.into_iter().enumerate()).then(move |(i, text)| async move {
            let delay = if i == 0 {
                pacing.before_first
            } else {
                pacing.between
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok::<_, std::io::Error>(Bytes::from(text))
        });
    let tail = futures::stream::once(async move {
        if pacing.drop_after_half {
            // Let the frames already sent reach the client before the connection drops.
            tokio::time::sleep(Duration::from_millis(30)).await;
            Some(Err(std::io::Error::other(format!(
                "fake connection dropped after {total} frames"
            ))))
        } else {
            None
        }
    })
    .filter_map(|item| async move { item });
    Body::from_stream(stream.chain(tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_choose_behaviours() {
        assert_eq!(behaviour("echo"), Some(Behaviour::Echo));
        assert_eq!(behaviour("error_401"), Some(Behaviour::Error(401)));
        assert_eq!(behaviour("flaky_2"), Some(Behaviour::Flaky(2)));
        assert_eq!(
            behaviour("slow_ttft"),
            Some(Behaviour::SlowTtft(Duration::from_millis(1000)))
        );
        assert_eq!(
            behaviour("slow_drip_20"),
            Some(Behaviour::SlowDrip(Duration::from_millis(20)))
        );
        assert_eq!(behaviour("drop_mid_stream"), Some(Behaviour::DropMidStream));
        assert_eq!(behaviour("gpt-4o"), None);
        assert_eq!(behaviour("error"), None);
    }

    #[test]
    fn pieces_concatenate_back() {
        assert_eq!(pieces("abcdefg", 3).concat(), "abcdefg");
        assert_eq!(words_with_spaces("a b c").concat(), "a b c");
    }
}
