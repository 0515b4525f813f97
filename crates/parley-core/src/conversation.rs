//! Contacts, conversations, messages and sessions: what a conversation is made of.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::button::{Button, ButtonLayout};
use crate::validation::ValidationError;

/// Where a conversation happens. Channels are thin adapters; this tells the render stage
/// how to format replies for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Channel {
    #[default]
    Api,
    Widget,
    Cli,
    Sms,
    Whatsapp,
    Slack,
    Telegram,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Api => "api",
            Channel::Widget => "widget",
            Channel::Cli => "cli",
            Channel::Sms => "sms",
            Channel::Whatsapp => "whatsapp",
            Channel::Slack => "slack",
            Channel::Telegram => "telegram",
        }
    }
}

/// An end user, identified per channel by `external_id` (a phone number, a Slack user id…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contact {
    pub id: Uuid,
    pub external_id: Option<String>,
    pub channel: Channel,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub attributes: Map<String, Value>,
    pub created_at: DateTime<Utc>,
}

/// A contact as clients describe it when starting a conversation. A known `external_id` on
/// the same channel reuses that contact (and updates the fields given).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactInput {
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub attributes: Option<Map<String, Value>>,
}

impl ContactInput {
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut errors = ValidationError::new();
        let fields = [
            ("contact.external_id", &self.external_id),
            ("contact.name", &self.name),
            ("contact.email", &self.email),
            ("contact.phone", &self.phone),
        ];
        for (field, value) in fields {
            if let Some(v) = value {
                if v.chars().count() > 256 {
                    errors.push(field, "at most 256 characters");
                }
            }
        }
        if let Some(a) = &self.attributes {
            if serde_json::to_string(a)
                .map(|s| s.len())
                .unwrap_or(usize::MAX)
                > 16 * 1024
            {
                errors.push("contact.attributes", "at most 16 KiB of JSON");
            }
        }
        errors.into_result(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ConversationStatus {
    #[default]
    Active,
    /// Closed conversations keep their history but take no new messages.
    Closed,
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Active => "active",
            ConversationStatus::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conversation {
    pub id: Uuid,
    pub bot_id: Uuid,
    pub contact_id: Uuid,
    pub channel: Channel,
    pub status: ConversationStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MessageRole {
    User,
    Bot,
    Agent,
    System,
}

impl MessageRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageRole::User => "user",
            MessageRole::Bot => "bot",
            MessageRole::Agent => "agent",
            MessageRole::System => "system",
        }
    }
}

/// What produced a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MessageSource {
    Greeting,
    Rule,
    Flow,
    Ai,
    Knowledge,
    Fallback,
    Transfer,
    Agent,
    System,
    /// The guard's own replies: the PII warning, the calm answer to abuse, a refusal.
    Guard,
}

/// Why a message says what it says. Absent fields are left out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<MessageSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<Uuid>,
    /// The keyword of the rule that matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_in: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_out: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// On an agent's message: who wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<Uuid>,
    /// On an agent's message: the agent's display name, as the user sees it (the widget
    /// labels the bubble with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// AI replies: the provider that answered (a configured provider's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// AI replies: what the tokens cost, from the server's price table (absent when the
    /// model has no price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    /// AI replies: answered from the response cache, not by a model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached: Option<bool>,
    /// AI replies that did not go as planned: `timeout`, `rate_limited`, `provider_error`,
    /// `unreachable`, `malformed`, `rejected`, `circuit_open`, `stream_broken`,
    /// `transfer_claim` (a claimed handoff that did not happen was removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_error: Option<String>,
    /// On a user message: the button it answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_id: Option<String>,
    /// On a message with buttons: how the channel lays them out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<ButtonLayout>,
    /// Knowledge answers and AI replies built on retrieved chunks: where the answer came
    /// from, for citations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<crate::knowledge::KnowledgeSource>,
    /// On a user message: its language (ISO 639-1), when it was long enough to tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// What the guard masked, flagged or blocked (kinds and counts, never values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<crate::guard::MessageGuard>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub role: MessageRole,
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    pub created_at: DateTime<Utc>,
    pub meta: MessageMeta,
    /// Position in the conversation (1, 2, …); orders history and pages it.
    #[serde(skip)]
    pub seq: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SessionMode {
    /// The bot answers.
    #[default]
    Bot,
    /// A flow is running; the next message answers its current step.
    Flow,
    /// A human has the conversation; the bot stays silent.
    Human,
}

impl SessionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionMode::Bot => "bot",
            SessionMode::Flow => "flow",
            SessionMode::Human => "human",
        }
    }
}

/// A conversation's live state. `handled_seq` records how far the engine has answered, so
/// `receive` knows which user messages still wait for a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub contact_id: Uuid,
    pub mode: SessionMode,
    pub current_flow_id: Option<Uuid>,
    pub current_step: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub variables: Map<String, Value>,
    /// Buttons of the last bot message; a `button_id` answer must be one of them.
    pub offered_buttons: Vec<Button>,
    /// Fallback replies in a row (reset by any other reply).
    pub consecutive_fallbacks: u32,
    pub started_at: DateTime<Utc>,
    pub last_activity: DateTime<Utc>,
    /// When an idle flow is abandoned (set while in a flow with a timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Flow bookkeeping: the version being run, invalid answers so far, the last flow.
    #[serde(default)]
    pub flow_state: FlowState,
    #[serde(skip)]
    pub handled_seq: i64,
}

/// A session's place in its flow beyond `current_flow_id` / `current_step`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowState {
    /// The version of the flow this conversation started on; it finishes on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Invalid answers to the current step.
    pub attempts: u32,
    /// The current `api_fetch` step failed and offered "Try again".
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_retry: bool,
    /// The flow this conversation ran last (for the agent panel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_flow_id: Option<Uuid>,
}

impl Session {
    pub fn new(conversation_id: Uuid, contact_id: Uuid, now: DateTime<Utc>) -> Session {
        Session {
            id: conversation_id,
            conversation_id,
            contact_id,
            mode: SessionMode::Bot,
            current_flow_id: None,
            current_step: None,
            variables: Map::new(),
            offered_buttons: Vec::new(),
            consecutive_fallbacks: 0,
            started_at: now,
            last_activity: now,
            expires_at: None,
            flow_state: FlowState::default(),
            handled_seq: 0,
        }
    }
}
