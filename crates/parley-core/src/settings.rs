//! A bot's settings (seed 002's fields plus Parley's own) and the patch that `PUT
//! /bots/{id}/settings` applies: only the fields it names change, and the result is
//! validated as a whole before anything is stored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::button::{parse_buttons, Button, ButtonInput};
use crate::guard::{validate_guard, validate_texts_by_language, GuardSettings, LanguageTexts};
use crate::validation::ValidationError;

pub const MAX_MESSAGE_CHARS: usize = 4096;
pub const MAX_SYSTEM_PROMPT_CHARS: usize = 32_000;
pub const MAX_TRANSFER_KEYWORDS: usize = 50;

pub const DEFAULT_GREETING: &str = "Hello! How can I help you today?";
pub const DEFAULT_FALLBACK: &str = "Sorry, I didn't understand that. Could you rephrase it?";
pub const DEFAULT_RESUME_MESSAGE: &str =
    "You're back with the assistant. Is there anything else I can help you with?";
/// Said instead of the transfer message outside business hours; `{{next_open}}` is when
/// the team is back ("tomorrow at 09:00").
pub const DEFAULT_OFFLINE_MESSAGE: &str =
    "Our team is offline right now. We'll be back {{next_open}} and will pick up your conversation then.";
pub const DEFAULT_TRANSFER_MESSAGE: &str =
    "I'm connecting you with a member of our team. Someone will be with you shortly.";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Settings {
    /// When false the bot never replies: messages are stored, nothing is answered.
    pub chatbot_enabled: bool,
    pub ai_enabled: bool,
    pub ai_provider: Option<String>,
    pub ai_model: Option<String>,
    pub ai_temperature: f32,
    pub ai_max_tokens: u32,
    pub system_prompt: String,
    /// Sent when a conversation starts; empty means no greeting.
    pub greeting_message: String,
    pub greeting_buttons: Vec<Button>,
    /// Sent when nothing else answers; empty means the bot stays silent then.
    pub fallback_message: String,
    pub fallback_buttons: Vec<Button>,
    pub transfer_keywords: Vec<String>,
    /// Said when the conversation is handed to a human.
    pub transfer_message: String,
    /// Said when an agent gives the conversation back to the bot.
    pub resume_message: String,
    /// When the bot hands over on its own.
    pub escalation: EscalationSettings,
    pub business_hours_enabled: bool,
    pub business_hours: BusinessHours,
    /// Further provider/model pairs tried in order when the main one fails.
    pub ai_fallbacks: Vec<AiFallback>,
    /// The knowledge-base datasets the bot answers from (all in the bot's workspace).
    pub dataset_ids: Vec<Uuid>,
    /// The confidence (0–1) a knowledge-base answer needs before the bot gives it without
    /// an LLM; below it the fallback answers.
    pub knowledge_threshold: f32,
    /// IANA time zone the bot lives in (dates, business hours).
    pub timezone: String,
    pub widget: WidgetSettings,
    /// How flows behave: idle expiry and the words that leave a flow.
    pub flows: FlowSettings,
    /// Who the AI is (name, role, traits, tone, boundaries), rendered into the system prompt.
    pub persona: Persona,
    /// The most tokens (estimated) of context sent to the model per AI reply.
    pub ai_context_budget_tokens: u32,
    /// After this many user turns not yet covered by the conversation's summary, older turns
    /// are summarised by the model (0: never).
    pub ai_summary_threshold: u32,
    /// Said when every model in the chain failed; offers a human.
    pub ai_failure_message: String,
    /// The guard's policy: PII, abuse, prompt injection, the output check.
    pub guard: GuardSettings,
    /// Greeting and fallback per language code (`fr`, `de`, …), used once the user's
    /// language is known (detected from their messages, or the contact's `language` /
    /// `locale` attribute when the conversation starts).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub texts_by_language: BTreeMap<String, LanguageTexts>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            chatbot_enabled: true,
            ai_enabled: false,
            ai_provider: None,
            ai_model: None,
            ai_temperature: 0.7,
            ai_max_tokens: 500,
            system_prompt: String::new(),
            greeting_message: DEFAULT_GREETING.to_string(),
            greeting_buttons: Vec::new(),
            fallback_message: DEFAULT_FALLBACK.to_string(),
            fallback_buttons: Vec::new(),
            transfer_keywords: Vec::new(),
            transfer_message: DEFAULT_TRANSFER_MESSAGE.to_string(),
            resume_message: DEFAULT_RESUME_MESSAGE.to_string(),
            escalation: EscalationSettings::default(),
            business_hours_enabled: false,
            business_hours: BusinessHours::default(),
            ai_fallbacks: Vec::new(),
            dataset_ids: Vec::new(),
            knowledge_threshold: DEFAULT_KNOWLEDGE_THRESHOLD,
            timezone: "UTC".to_string(),
            widget: WidgetSettings::default(),
            flows: FlowSettings::default(),
            persona: Persona::default(),
            ai_context_budget_tokens: DEFAULT_AI_CONTEXT_BUDGET,
            ai_summary_threshold: DEFAULT_AI_SUMMARY_THRESHOLD,
            ai_failure_message: DEFAULT_AI_FAILURE_MESSAGE.to_string(),
            guard: GuardSettings::default(),
            texts_by_language: BTreeMap::new(),
        }
    }
}

impl Settings {
    /// The greeting in `language` when the bot has one for it, else the default greeting.
    pub fn greeting_in(&self, language: Option<&str>) -> &str {
        language
            .and_then(|l| self.texts_by_language.get(l))
            .map(|t| t.greeting_message.as_str())
            .filter(|t| !t.trim().is_empty())
            .unwrap_or(&self.greeting_message)
    }

    /// The fallback in `language` when the bot has one for it, else the default fallback.
    pub fn fallback_in(&self, language: Option<&str>) -> &str {
        language
            .and_then(|l| self.texts_by_language.get(l))
            .map(|t| t.fallback_message.as_str())
            .filter(|t| !t.trim().is_empty())
            .unwrap_or(&self.fallback_message)
    }
}

/// When the bot hands a conversation to a human without being asked by keyword.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EscalationSettings {
    /// Hand over when the user asks for a person in other words ("can I talk to someone").
    pub ask_for_human: bool,
    /// Hand over instead of the Nth fallback in a row (0: never).
    pub fallback_limit: u32,
    /// Hand over when a message's frustration score (0–1) reaches this (0: never).
    pub frustration_threshold: f32,
}

impl Default for EscalationSettings {
    fn default() -> Self {
        EscalationSettings {
            ask_for_human: true,
            fallback_limit: 3,
            frustration_threshold: 0.75,
        }
    }
}

pub const DEFAULT_AI_CONTEXT_BUDGET: u32 = 4000;
/// `knowledge_threshold` unless set: `parley_kb::DEFAULT_THRESHOLD`, chosen on the demo help
/// centre's labelled questions (the engine's tests check that the two agree).
pub const DEFAULT_KNOWLEDGE_THRESHOLD: f32 = 0.5;
pub const DEFAULT_AI_SUMMARY_THRESHOLD: u32 = 20;
pub const DEFAULT_AI_FAILURE_MESSAGE: &str = "Sorry, I can't answer that right now. \
    Would you like to talk to a member of our team?";
pub const MAX_PERSONA_ITEMS: usize = 20;

/// The assistant's persona (seed 004's PersonalityConfig, seed 003's persona framework).
/// Empty fields are left out of the system prompt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Persona {
    /// What users call the assistant ("Aria").
    pub name: String,
    /// "Customer Support Specialist".
    pub role: String,
    /// A few adjectives: helpful, concise, warm.
    pub traits: Vec<String>,
    /// `professional`, `friendly`, `casual`, `formal`, or a short description.
    pub tone: String,
    /// What it will not do ("Never promise refunds").
    pub boundaries: Vec<String>,
}

impl Persona {
    pub fn is_empty(&self) -> bool {
        self == &Persona::default()
    }
}

pub const DEFAULT_FLOW_CANCEL_MESSAGE: &str =
    "Okay, I've stopped that. Is there anything else I can help you with?";
pub const MAX_SESSION_TIMEOUT_SECONDS: u32 = 60 * 60 * 24 * 30;

/// Escape words inside a flow and when an idle flow is abandoned. Words match the whole
/// message (ignoring case and punctuation), so "cancel" ends a flow but "I want to cancel
/// my order" is an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowSettings {
    /// Seconds without a message after which a flow is abandoned (0: never; default 1800).
    pub session_timeout_seconds: u32,
    /// End the flow and say `cancel_message`.
    pub cancel_keywords: Vec<String>,
    pub cancel_message: String,
    /// End the flow and show the greeting with its buttons again.
    pub menu_keywords: Vec<String>,
}

impl Default for FlowSettings {
    fn default() -> Self {
        FlowSettings {
            session_timeout_seconds: 1800,
            cancel_keywords: vec!["cancel".into(), "stop".into()],
            cancel_message: DEFAULT_FLOW_CANCEL_MESSAGE.into(),
            menu_keywords: vec!["menu".into()],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AiFallback {
    pub provider: String,
    pub model: String,
}

/// Weekly opening hours; when `business_hours_enabled` and outside them, handoffs answer
/// with `offline_message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BusinessHours {
    /// Defaults to the bot's `timezone`.
    pub timezone: Option<String>,
    pub weekly: Vec<OpenInterval>,
    pub offline_message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpenInterval {
    /// `mon`, `tue`, `wed`, `thu`, `fri`, `sat` or `sun`.
    pub day: String,
    /// `HH:MM`, 24-hour clock.
    pub open: String,
    pub close: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WidgetSettings {
    pub title: String,
    pub welcome_text: String,
    /// `#rrggbb`.
    pub primary_color: String,
    /// `right` or `left`.
    pub position: String,
    pub avatar_url: Option<String>,
    /// Origins (`https://shop.example`) allowed to start conversations from the widget.
    /// Empty (the default) or `*` allows every origin; the Parley server's own pages
    /// (`/chat/{bot_id}`, `/demo`) are always allowed.
    pub allowed_origins: Vec<String>,
    /// The widget's own words, by key ([`WIDGET_TEXTS`]), for translation; keys left out
    /// keep their English default.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub texts: BTreeMap<String, String>,
}

/// Every text the widget shows, with its English default. `texts.talk_to_person` is both
/// the action's label and the message it sends, so a translated bot should list the
/// translation in its `transfer_keywords`.
pub const WIDGET_TEXTS: &[(&str, &str)] = &[
    ("open_chat", "Open chat"),
    ("close_chat", "Close chat"),
    ("input_placeholder", "Type a message…"),
    ("send", "Send"),
    ("typing", "Typing…"),
    ("talk_to_person", "Talk to a person"),
    ("bot_label", "Bot"),
    ("agent_label", "Agent"),
    ("you_label", "You"),
    ("helpful", "Helpful"),
    ("not_helpful", "Not helpful"),
    ("sources", "Sources"),
    ("rate_prompt", "How was this conversation?"),
    ("rate_thanks", "Thank you for your feedback!"),
    ("error", "Something went wrong. Please try again."),
    ("reconnecting", "Connection lost; reconnecting…"),
    ("closed", "This conversation has ended."),
    ("new_conversation", "Start a new conversation"),
];

const MAX_WIDGET_TEXT_CHARS: usize = 200;

/// The page a widget request comes from, as the browser's `Origin` header tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageOrigin {
    /// A page of the Parley server itself (`/chat/{bot_id}`, `/demo`).
    Own,
    /// Another site, e.g. `https://shop.example`.
    Other(String),
    /// No `Origin` header: not a browser's cross-site request.
    Missing,
}

impl WidgetSettings {
    /// May a page at `origin` use this bot's widget? Yes when `allowed_origins` is empty
    /// or holds `*`, for the server's own pages, and for a listed origin (compared without
    /// case or a trailing slash). A request without `Origin` is refused once a list is set.
    pub fn allows_origin(&self, origin: &PageOrigin) -> bool {
        if self.allowed_origins.is_empty() || self.allowed_origins.iter().any(|o| o == "*") {
            return true;
        }
        match origin {
            PageOrigin::Own => true,
            PageOrigin::Missing => false,
            PageOrigin::Other(origin) => {
                let origin = origin.trim_end_matches('/');
                self.allowed_origins
                    .iter()
                    .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
            }
        }
    }

    /// Every widget text: the English defaults with this bot's translations over them.
    pub fn texts_with_defaults(&self) -> BTreeMap<String, String> {
        let mut all: BTreeMap<String, String> = WIDGET_TEXTS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in &self.texts {
            if all.contains_key(k) && !v.trim().is_empty() {
                all.insert(k.clone(), v.clone());
            }
        }
        all
    }
}

impl Default for WidgetSettings {
    fn default() -> Self {
        WidgetSettings {
            title: "Chat with us".to_string(),
            welcome_text: String::new(),
            primary_color: "#2563eb".to_string(),
            position: "right".to_string(),
            avatar_url: None,
            allowed_origins: Vec::new(),
            texts: BTreeMap::new(),
        }
    }
}

/// `PUT /bots/{id}/settings`: every field optional; buttons as authors write them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SettingsPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chatbot_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai_enabled: Option<bool>,
    #[serde(
        default,
        deserialize_with = "explicit_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub ai_provider: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "explicit_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub ai_model: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai_temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai_max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub greeting_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub greeting_buttons: Option<Vec<ButtonInput>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_buttons: Option<Vec<ButtonInput>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_keywords: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation: Option<EscalationSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_hours_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<BusinessHours>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai_fallbacks: Option<Vec<AiFallback>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset_ids: Option<Vec<Uuid>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub knowledge_threshold: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub widget: Option<WidgetSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flows: Option<FlowSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persona: Option<Persona>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai_context_budget_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai_summary_threshold: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai_failure_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<GuardSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub texts_by_language: Option<BTreeMap<String, LanguageTexts>>,
}

impl From<&Settings> for SettingsPatch {
    /// The patch that sets every field to `s`'s value (the bot-as-code form).
    fn from(s: &Settings) -> Self {
        let buttons = |b: &[Button]| Some(b.iter().cloned().map(ButtonInput::from).collect());
        SettingsPatch {
            chatbot_enabled: Some(s.chatbot_enabled),
            ai_enabled: Some(s.ai_enabled),
            ai_provider: Some(s.ai_provider.clone()),
            ai_model: Some(s.ai_model.clone()),
            ai_temperature: Some(s.ai_temperature),
            ai_max_tokens: Some(s.ai_max_tokens),
            system_prompt: Some(s.system_prompt.clone()),
            greeting_message: Some(s.greeting_message.clone()),
            greeting_buttons: buttons(&s.greeting_buttons),
            fallback_message: Some(s.fallback_message.clone()),
            fallback_buttons: buttons(&s.fallback_buttons),
            transfer_keywords: Some(s.transfer_keywords.clone()),
            transfer_message: Some(s.transfer_message.clone()),
            resume_message: Some(s.resume_message.clone()),
            escalation: Some(s.escalation.clone()),
            business_hours_enabled: Some(s.business_hours_enabled),
            business_hours: Some(s.business_hours.clone()),
            ai_fallbacks: Some(s.ai_fallbacks.clone()),
            dataset_ids: Some(s.dataset_ids.clone()),
            knowledge_threshold: Some(s.knowledge_threshold),
            timezone: Some(s.timezone.clone()),
            widget: Some(s.widget.clone()),
            flows: Some(s.flows.clone()),
            persona: Some(s.persona.clone()),
            ai_context_budget_tokens: Some(s.ai_context_budget_tokens),
            ai_summary_threshold: Some(s.ai_summary_threshold),
            ai_failure_message: Some(s.ai_failure_message.clone()),
            guard: Some(s.guard.clone()),
            texts_by_language: Some(s.texts_by_language.clone()),
        }
    }
}

impl SettingsPatch {
    /// `current` with this patch applied, or every problem found. Nothing changes on error.
    pub fn apply(self, current: &Settings) -> Result<Settings, ValidationError> {
        let mut s = current.clone();
        let mut errors = ValidationError::new();

        if let Some(v) = self.chatbot_enabled {
            s.chatbot_enabled = v;
        }
        if let Some(v) = self.ai_enabled {
            s.ai_enabled = v;
        }
        if let Some(v) = self.ai_provider {
            s.ai_provider = v.map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
        }
        if let Some(v) = self.ai_model {
            s.ai_model = v.map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
        }
        if let Some(v) = self.ai_temperature {
            if !(0.0..=2.0).contains(&v) {
                errors.push("ai_temperature", "must be between 0 and 2");
            }
            s.ai_temperature = v;
        }
        if let Some(v) = self.ai_max_tokens {
            if !(1..=128_000).contains(&v) {
                errors.push("ai_max_tokens", "must be between 1 and 128000");
            }
            s.ai_max_tokens = v;
        }
        if let Some(v) = self.system_prompt {
            check_max(&mut errors, "system_prompt", &v, MAX_SYSTEM_PROMPT_CHARS);
            s.system_prompt = v;
        }
        if let Some(v) = self.greeting_message {
            check_max(&mut errors, "greeting_message", &v, MAX_MESSAGE_CHARS);
            s.greeting_message = v.trim().to_string();
        }
        if let Some(v) = self.greeting_buttons {
            match parse_buttons(v) {
                Ok(b) => s.greeting_buttons = b,
                Err(e) => errors.extend_prefixed("greeting_buttons", e),
            }
        }
        if let Some(v) = self.fallback_message {
            check_max(&mut errors, "fallback_message", &v, MAX_MESSAGE_CHARS);
            s.fallback_message = v.trim().to_string();
        }
        if let Some(v) = self.fallback_buttons {
            match parse_buttons(v) {
                Ok(b) => s.fallback_buttons = b,
                Err(e) => errors.extend_prefixed("fallback_buttons", e),
            }
        }
        if let Some(v) = self.transfer_keywords {
            if v.len() > MAX_TRANSFER_KEYWORDS {
                errors.push(
                    "transfer_keywords",
                    format!("at most {MAX_TRANSFER_KEYWORDS} keywords"),
                );
            }
            let mut kept = Vec::with_capacity(v.len());
            for (i, k) in v.into_iter().enumerate() {
                let k = k.trim().to_string();
                if crate::text::normalize_exact(&k).is_empty() || k.chars().count() > 100 {
                    errors.push(
                        format!("transfer_keywords[{i}]"),
                        "a keyword has 1 to 100 characters, with at least one letter or digit",
                    );
                }
                kept.push(k);
            }
            s.transfer_keywords = kept;
        }
        if let Some(v) = self.transfer_message {
            check_max(&mut errors, "transfer_message", &v, MAX_MESSAGE_CHARS);
            s.transfer_message = v.trim().to_string();
        }
        if let Some(v) = self.resume_message {
            check_max(&mut errors, "resume_message", &v, MAX_MESSAGE_CHARS);
            s.resume_message = v.trim().to_string();
        }
        if let Some(v) = self.escalation {
            if !(0.0..=1.0).contains(&v.frustration_threshold) {
                errors.push(
                    "escalation.frustration_threshold",
                    "between 0 and 1 (0 turns it off)",
                );
            }
            if v.fallback_limit > 100 {
                errors.push("escalation.fallback_limit", "at most 100 (0 turns it off)");
            }
            s.escalation = v;
        }
        if let Some(v) = self.business_hours_enabled {
            s.business_hours_enabled = v;
        }
        if let Some(v) = self.business_hours {
            validate_business_hours(&mut errors, &v);
            s.business_hours = v;
        }
        if let Some(v) = self.ai_fallbacks {
            for (i, f) in v.iter().enumerate() {
                if f.provider.trim().is_empty() || f.model.trim().is_empty() {
                    errors.push(
                        format!("ai_fallbacks[{i}]"),
                        "both provider and model are needed",
                    );
                }
            }
            s.ai_fallbacks = v;
        }
        if let Some(v) = self.dataset_ids {
            let mut seen = std::collections::HashSet::new();
            if v.iter().any(|id| !seen.insert(*id)) {
                errors.push("dataset_ids", "a dataset is listed twice");
            }
            s.dataset_ids = v;
        }
        if let Some(v) = self.knowledge_threshold {
            if !(0.0..=1.0).contains(&v) {
                errors.push("knowledge_threshold", "must be between 0 and 1");
            }
            s.knowledge_threshold = v;
        }
        if let Some(v) = self.timezone {
            if v.parse::<chrono_tz::Tz>().is_err() {
                errors.push(
                    "timezone",
                    format!("`{v}` is not an IANA time zone (e.g. `Europe/Berlin`)"),
                );
            }
            s.timezone = v;
        }
        if let Some(v) = self.widget {
            validate_widget(&mut errors, &v);
            s.widget = v;
        }
        if let Some(v) = self.flows {
            validate_flow_settings(&mut errors, &v);
            s.flows = v;
        }
        if let Some(v) = self.persona {
            validate_persona(&mut errors, &v);
            s.persona = v;
        }
        if let Some(v) = self.ai_context_budget_tokens {
            if !(256..=1_000_000).contains(&v) {
                errors.push(
                    "ai_context_budget_tokens",
                    "must be between 256 and 1000000",
                );
            }
            s.ai_context_budget_tokens = v;
        }
        if let Some(v) = self.ai_summary_threshold {
            if v > 1000 {
                errors.push("ai_summary_threshold", "at most 1000 turns; 0 means never");
            }
            s.ai_summary_threshold = v;
        }
        if let Some(v) = self.ai_failure_message {
            check_max(&mut errors, "ai_failure_message", &v, MAX_MESSAGE_CHARS);
            let v = v.trim().to_string();
            if v.is_empty() {
                errors.push(
                    "ai_failure_message",
                    "cannot be empty: a failed reply must say something",
                );
            }
            s.ai_failure_message = v;
        }
        if let Some(v) = self.guard {
            validate_guard(&mut errors, &v, MAX_MESSAGE_CHARS);
            s.guard = v;
        }
        if let Some(v) = self.texts_by_language {
            validate_texts_by_language(&mut errors, &v, MAX_MESSAGE_CHARS);
            s.texts_by_language = v;
        }
        for (field, text) in [
            ("greeting_message", &s.greeting_message),
            ("fallback_message", &s.fallback_message),
            ("transfer_message", &s.transfer_message),
            ("resume_message", &s.resume_message),
            (
                "business_hours.offline_message",
                &s.business_hours.offline_message,
            ),
            ("flows.cancel_message", &s.flows.cancel_message),
            ("ai_failure_message", &s.ai_failure_message),
        ] {
            if let Err(e) = crate::template::check(text) {
                errors.push(field, e);
            }
        }

        if s.greeting_message.is_empty() && !s.greeting_buttons.is_empty() {
            errors.push(
                "greeting_message",
                "greeting buttons need a greeting message",
            );
        }
        if s.fallback_message.is_empty() && !s.fallback_buttons.is_empty() {
            errors.push(
                "fallback_message",
                "fallback buttons need a fallback message",
            );
        }
        errors.into_result(s)
    }
}

/// Tells a field that is absent (`None`) from one set to `null` (`Some(None)`).
pub(crate) fn explicit_null<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn check_max(errors: &mut ValidationError, field: &str, v: &str, max: usize) {
    let n = v.chars().count();
    if n > max {
        errors.push(field, format!("at most {max} characters, got {n}"));
    }
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn validate_business_hours(errors: &mut ValidationError, b: &BusinessHours) {
    if let Some(tz) = &b.timezone {
        if tz.parse::<chrono_tz::Tz>().is_err() {
            errors.push(
                "business_hours.timezone",
                format!("`{tz}` is not an IANA time zone"),
            );
        }
    }
    check_max(
        errors,
        "business_hours.offline_message",
        &b.offline_message,
        MAX_MESSAGE_CHARS,
    );
    for (i, iv) in b.weekly.iter().enumerate() {
        let at = format!("business_hours.weekly[{i}]");
        if !DAYS.contains(&iv.day.to_ascii_lowercase().as_str()) {
            errors.push(
                format!("{at}.day"),
                "one of mon, tue, wed, thu, fri, sat, sun",
            );
        }
        let open = chrono::NaiveTime::parse_from_str(&iv.open, "%H:%M");
        let close = chrono::NaiveTime::parse_from_str(&iv.close, "%H:%M");
        match (open, close) {
            (Ok(o), Ok(c)) if o < c => {}
            (Ok(_), Ok(_)) => errors.push(at, "`open` must be before `close`"),
            _ => errors.push(at, "`open` and `close` are HH:MM times"),
        }
    }
}

fn validate_flow_settings(errors: &mut ValidationError, f: &FlowSettings) {
    if f.session_timeout_seconds > MAX_SESSION_TIMEOUT_SECONDS {
        errors.push(
            "flows.session_timeout_seconds",
            format!("at most {MAX_SESSION_TIMEOUT_SECONDS} (30 days); 0 means never"),
        );
    }
    for (name, words) in [
        ("cancel_keywords", &f.cancel_keywords),
        ("menu_keywords", &f.menu_keywords),
    ] {
        for (i, k) in words.iter().enumerate() {
            if crate::text::normalize_exact(k).is_empty() || k.chars().count() > 100 {
                errors.push(
                    format!("flows.{name}[{i}]"),
                    "a keyword has 1 to 100 characters, with at least one letter or digit",
                );
            }
        }
    }
    check_max(
        errors,
        "flows.cancel_message",
        &f.cancel_message,
        MAX_MESSAGE_CHARS,
    );
}

fn validate_persona(errors: &mut ValidationError, p: &Persona) {
    check_max(errors, "persona.name", &p.name, 100);
    check_max(errors, "persona.role", &p.role, 200);
    check_max(errors, "persona.tone", &p.tone, 200);
    for (field, items, max) in [
        ("traits", &p.traits, 100),
        ("boundaries", &p.boundaries, 500),
    ] {
        if items.len() > MAX_PERSONA_ITEMS {
            errors.push(
                format!("persona.{field}"),
                format!("at most {MAX_PERSONA_ITEMS} items"),
            );
        }
        for (i, item) in items.iter().enumerate() {
            let n = item.trim().chars().count();
            if n == 0 || n > max {
                errors.push(
                    format!("persona.{field}[{i}]"),
                    format!("1 to {max} characters"),
                );
            }
        }
    }
}

fn validate_widget(errors: &mut ValidationError, w: &WidgetSettings) {
    let hex = w.primary_color.len() == 7
        && w.primary_color.starts_with('#')
        && w.primary_color[1..].chars().all(|c| c.is_ascii_hexdigit());
    if !hex {
        errors.push("widget.primary_color", "a colour like `#2563eb`");
    }
    if w.position != "right" && w.position != "left" {
        errors.push("widget.position", "`right` or `left`");
    }
    if let Some(url) = &w.avatar_url {
        let ok =
            (url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/'))
                && !url.contains(|c: char| c.is_whitespace() || c == '"')
                && url.len() <= 2048;
        if !ok {
            errors.push(
                "widget.avatar_url",
                "an image URL starting with https://, http:// or /",
            );
        }
    }
    check_max(errors, "widget.title", &w.title, 100);
    check_max(errors, "widget.welcome_text", &w.welcome_text, 1000);
    for (key, text) in &w.texts {
        if !WIDGET_TEXTS.iter().any(|(k, _)| k == key) {
            let known: Vec<&str> = WIDGET_TEXTS.iter().map(|(k, _)| *k).collect();
            errors.push(
                format!("widget.texts.{key}"),
                format!("not a widget text; the texts are {}", known.join(", ")),
            );
        }
        check_max(
            errors,
            &format!("widget.texts.{key}"),
            text,
            MAX_WIDGET_TEXT_CHARS,
        );
    }
    for (i, o) in w.allowed_origins.iter().enumerate() {
        let ok = (o.starts_with("https://") || o.starts_with("http://"))
            && !o
                .trim_end_matches('/')
                .contains(|c: char| c.is_whitespace())
            && o.matches('/').count() <= 3;
        if !ok && o != "*" {
            errors.push(
                format!("widget.allowed_origins[{i}]"),
                "an origin like `https://shop.example`, or `*`",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_changes_only_named_fields() {
        let base = Settings::default();
        let patch: SettingsPatch = serde_json::from_str(
            r#"{"greeting_message": "Hi!", "greeting_buttons": [{"title": "Track Order"}]}"#,
        )
        .unwrap();
        let s = patch.apply(&base).unwrap();
        assert_eq!(s.greeting_message, "Hi!");
        assert_eq!(s.greeting_buttons[0].id, "track_order");
        assert_eq!(s.fallback_message, base.fallback_message);
    }

    #[test]
    fn patch_reports_every_bad_field() {
        let patch: SettingsPatch = serde_json::from_str(
            r#"{"ai_temperature": 3, "timezone": "Mars/Base", "fallback_buttons": [{"title": "This title is far too long"}]}"#,
        )
        .unwrap();
        let err = patch.apply(&Settings::default()).unwrap_err();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["ai_temperature", "fallback_buttons[0].title", "timezone"]
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let r: Result<SettingsPatch, _> = serde_json::from_str(r#"{"greting_message": "x"}"#);
        assert!(r.unwrap_err().to_string().contains("greting_message"));
    }

    #[test]
    fn null_clears_optional_provider() {
        let base = Settings {
            ai_provider: Some("openai".into()),
            ..Default::default()
        };
        let patch: SettingsPatch = serde_json::from_str(r#"{"ai_provider": null}"#).unwrap();
        assert_eq!(patch.apply(&base).unwrap().ai_provider, None);
    }

    #[test]
    fn widget_texts_are_known_keys_over_defaults() {
        let patch: SettingsPatch =
            serde_json::from_str(r#"{"widget": {"texts": {"send": "Senden", "sned": "x"}}}"#)
                .unwrap();
        let err = patch.apply(&Settings::default()).unwrap_err();
        assert_eq!(err.errors[0].field, "widget.texts.sned");
        let patch: SettingsPatch =
            serde_json::from_str(r#"{"widget": {"texts": {"send": "Senden"}}}"#).unwrap();
        let s = patch.apply(&Settings::default()).unwrap();
        let texts = s.widget.texts_with_defaults();
        assert_eq!(texts["send"], "Senden");
        assert_eq!(texts["typing"], "Typing…");
        assert_eq!(texts.len(), WIDGET_TEXTS.len());
    }

    #[test]
    fn allowed_origins_decide_who_may_embed() {
        let any = WidgetSettings::default();
        assert!(any.allows_origin(&PageOrigin::Other("https://evil.example".into())));
        assert!(any.allows_origin(&PageOrigin::Missing));
        let listed = WidgetSettings {
            allowed_origins: vec!["https://shop.example/".into()],
            ..Default::default()
        };
        assert!(listed.allows_origin(&PageOrigin::Other("https://SHOP.example".into())));
        assert!(listed.allows_origin(&PageOrigin::Own));
        assert!(!listed.allows_origin(&PageOrigin::Other("https://shop.example.evil".into())));
        assert!(!listed.allows_origin(&PageOrigin::Other("http://shop.example".into())));
        assert!(!listed.allows_origin(&PageOrigin::Missing));
        let star = WidgetSettings {
            allowed_origins: vec!["https://a.example".into(), "*".into()],
            ..Default::default()
        };
        assert!(star.allows_origin(&PageOrigin::Missing));
    }

    #[test]
    fn persona_and_ai_limits_are_checked() {
        let patch: SettingsPatch = serde_json::from_str(
            r#"{"persona": {"name": "Aria", "traits": ["warm", ""]}, "ai_context_budget_tokens": 10, "ai_summary_threshold": 5}"#,
        )
        .unwrap();
        let err = patch.apply(&Settings::default()).unwrap_err();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["persona.traits[1]", "ai_context_budget_tokens"]);
        let ok: SettingsPatch = serde_json::from_str(
            r#"{"persona": {"name": "Aria", "role": "Support", "traits": ["warm"], "tone": "friendly", "boundaries": ["No legal advice"]}, "ai_summary_threshold": 0}"#,
        )
        .unwrap();
        let s = ok.apply(&Settings::default()).unwrap();
        assert_eq!(s.persona.name, "Aria");
        assert_eq!(s.ai_summary_threshold, 0);
    }

    #[test]
    fn business_hours_are_checked() {
        let patch: SettingsPatch = serde_json::from_str(
            r#"{"business_hours": {"weekly": [{"day": "mon", "open": "17:00", "close": "09:00"}, {"day": "funday", "open": "09:00", "close": "10:00"}]}}"#,
        )
        .unwrap();
        let err = patch.apply(&Settings::default()).unwrap_err();
        assert_eq!(err.errors.len(), 2);
    }
}
