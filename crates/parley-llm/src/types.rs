//! The provider-neutral conversation shape: what Parley asks a model ([`ChatRequest`]) and
//! what comes back ([`ChatResponse`], or [`StreamEvent`]s when streaming). Each adapter
//! translates these to and from its wire format, so nothing above this crate sees a
//! provider's JSON.

use serde::{Deserialize, Serialize};

/// One request to a chat model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The provider's model name (`gpt-4o-mini`, `claude-sonnet-4-5`, `llama3.2`). A
    /// [`crate::ModelChain`] overwrites it with each target's model.
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub temperature: Option<f32>,
    /// Upper bound on generated tokens. Anthropic requires one, so its adapter falls back to
    /// [`crate::anthropic::DEFAULT_MAX_TOKENS`] when this is `None`.
    pub max_tokens: Option<u32>,
    /// Tools the model may call. Empty means none are offered.
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
}

impl ChatRequest {
    /// A request with default sampling and no tools.
    pub fn new(model: impl Into<String>, messages: Vec<ChatMessage>) -> Self {
        Self {
            model: model.into(),
            messages,
            temperature: None,
            max_tokens: None,
            tools: Vec::new(),
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
    /// The result of a tool call, sent back to the model; carries `tool_call_id`.
    Tool,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// Tool calls the assistant made in this turn (assistant messages only).
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
    /// Which call this message answers (tool messages only).
    #[serde(default)]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    fn plain(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    pub fn system(content: impl Into<String>) -> Self {
        Self::plain(Role::System, content)
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self::plain(Role::User, content)
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self::plain(Role::Assistant, content)
    }

    /// An assistant turn that called tools (its text may be empty).
    pub fn assistant_with_tools(content: impl Into<String>, tool_calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls,
            ..Self::plain(Role::Assistant, content)
        }
    }

    /// The result of the tool call `tool_call_id`.
    pub fn tool_result(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(tool_call_id.into()),
            ..Self::plain(Role::Tool, content)
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}

/// A call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id for the call; echo it back in [`ChatMessage::tool_result`].
    pub id: String,
    pub name: String,
    /// The arguments as JSON. When a model produces arguments that are not valid JSON they
    /// are kept verbatim as a JSON string rather than failing the whole reply, so the caller
    /// can answer the model with a tool error.
    pub arguments: serde_json::Value,
}

/// Token counts as the provider reported them (zero when it reported none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Why the model stopped, normalised across providers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// A natural end of turn (OpenAI `stop`, Anthropic `end_turn` / `stop_sequence`).
    Stop,
    /// The token limit was reached (`length`, `max_tokens`).
    Length,
    /// The model wants tool results (`tool_calls`, `tool_use`).
    ToolCalls,
    /// The provider filtered the output (`content_filter`, `refusal`).
    ContentFilter,
    /// Anything else, verbatim.
    Other(String),
}

impl FinishReason {
    /// Maps both providers' vocabularies.
    pub(crate) fn from_wire(raw: &str) -> Self {
        match raw {
            "stop" | "end_turn" | "stop_sequence" => Self::Stop,
            "length" | "max_tokens" => Self::Length,
            "tool_calls" | "tool_use" | "function_call" => Self::ToolCalls,
            "content_filter" | "refusal" => Self::ContentFilter,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// A complete reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    /// The model that answered, as the provider named it (may carry a version suffix).
    pub model: String,
    pub finish_reason: Option<FinishReason>,
}

/// One item of a streamed reply. A healthy stream is any number of `Delta` and `ToolCall`
/// events followed by exactly one `Done`, whose response holds the whole text and every
/// tool call again (so a caller may ignore the deltas).
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The next piece of text.
    Delta(String),
    /// A tool call, once its arguments are complete.
    ToolCall(ToolCall),
    /// The end of the reply.
    Done(ChatResponse),
}

/// Parses tool-call arguments; see [`ToolCall::arguments`] for why invalid JSON is kept.
pub(crate) fn parse_arguments(raw: &str) -> serde_json::Value {
    if raw.trim().is_empty() {
        return serde_json::Value::Object(serde_json::Map::new());
    }
    serde_json::from_str(raw).unwrap_or_else(|_| serde_json::Value::String(raw.to_owned()))
}
