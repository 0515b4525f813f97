//! Conversation flows (seed 002): multi-step dialogues declared as data. A flow starts when
//! a message matches one of its `trigger_keywords`, sends `initial_message`, then runs its
//! steps in `step_order` (or where a step's `next_step` / `branch` points), storing answers
//! in session variables, and ends with `completion_message`.
//!
//! [`FlowInput`] is seed 002's flow object as clients post it (plus Parley's optional
//! fields); [`FlowInput::parse`] turns it into a [`FlowSpec`] whose every step, branch and
//! template has been checked, so a stored flow is a flow that runs.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::answer::{AnswerRules, InputType};
use crate::button::{parse_buttons, Button, ButtonInput};
use crate::template;
use crate::validation::ValidationError;

pub const MAX_STEPS: usize = 50;
pub const MAX_TRIGGERS: usize = 50;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_STEP_NAME_CHARS: usize = 64;
pub const MAX_MESSAGE_CHARS: usize = 4096;
pub const MAX_FETCH_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_FETCH_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
pub const MAX_WHATSAPP_FIELDS: usize = 20;
/// `next_step` / branch target that ends the flow (completion message) instead of a step.
pub const END: &str = "end";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StepType {
    /// Sends `message`; waits for an answer when the step has `input_type` or `store_as`.
    Text,
    /// Sends `message` with `buttons` and waits for a choice.
    Buttons,
    /// Calls an HTTP endpoint, maps its JSON into variables, then sends `message`.
    ApiFetch,
    /// A native WhatsApp Flow; elsewhere its fields are asked one by one as plain steps.
    WhatsappFlow,
    /// Sends `message`, ends the flow and hands the conversation to a human.
    Transfer,
}

/// What happens after a step's `max_attempts` invalid answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OnFailure {
    /// End the flow with the bot's fallback message.
    #[default]
    Fallback,
    /// End the flow and transfer the conversation to the general queue.
    Transfer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransferConfig {
    /// Target team; omitted for the general queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// Internal notes for agents; `{{variable}}` placeholders are filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum HttpMethod {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// An `api_fetch` step's request and what to take from the response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiFetchConfig {
    /// `http(s)://…`; `{{var}}` placeholders are filled in (URL-encoded).
    pub url: String,
    #[serde(default)]
    pub method: HttpMethod,
    /// Header values may hold placeholders.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// JSON body; placeholders in its strings are filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub body: Option<serde_json::Value>,
    /// Milliseconds, 1 to 30000 (default 5000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Session variable ← dotted path into the JSON response (`data.slots`, `items.0.name`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub response_mapping: BTreeMap<String, String>,
    /// Said when the call fails (default: a short apology), with "Try again"/"Cancel".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// On failure go to this step instead of offering a retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<String>,
}

impl ApiFetchConfig {
    pub fn timeout_ms(&self) -> u64 {
        self.timeout_ms.unwrap_or(DEFAULT_FETCH_TIMEOUT_MS)
    }
}

/// One field of a WhatsApp Flow; on other channels, one question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhatsappField {
    /// The session variable the answer is stored under.
    pub name: String,
    /// The question asked when the field is asked as a plain step.
    pub label: String,
    #[serde(default)]
    pub input_type: InputType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<ButtonInput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhatsappFlowConfig {
    /// The flow's id in WhatsApp Business Manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    /// Call-to-action button text on WhatsApp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cta: Option<String>,
    pub fields: Vec<WhatsappField>,
}

/// Branching: pick the next step by a variable's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepBranch {
    /// The variable to look at; defaults to the step's `store_as`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    /// Value → step name. Values compare case-insensitively with the variable, or with the
    /// chosen button's id.
    pub cases: BTreeMap<String, String>,
    /// Where to go when no case matches; the next step in order when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// A step as authors write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowStepInput {
    pub step_name: String,
    pub step_order: i32,
    #[serde(default)]
    pub message: String,
    pub message_type: StepType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_type: Option<InputType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<ButtonInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_as: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<AnswerRules>,
    /// Invalid answers allowed before the flow gives up (default: the flow's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_config: Option<TransferConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_config: Option<ApiFetchConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_flow: Option<WhatsappFlowConfig>,
    /// The step after this one (or `end`); the next in `step_order` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<StepBranch>,
}

/// A validated step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowStep {
    pub step_name: String,
    pub step_order: i32,
    pub message: String,
    pub message_type: StepType,
    /// Set when the step waits for an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_type: Option<InputType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_as: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<AnswerRules>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_config: Option<TransferConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_config: Option<ApiFetchConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_flow: Option<WhatsappFlowConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<StepBranch>,
}

impl FlowStep {
    /// Does the flow pause at this step for the user's answer?
    pub fn waits(&self) -> bool {
        self.input_type.is_some()
    }
}

/// Contact Info Panel layout (seed 002): which session variables agents see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PanelConfig {
    pub sections: Vec<PanelSection>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PanelSection {
    pub id: String,
    pub label: String,
    /// 1 or 2.
    #[serde(default = "one")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 2))]
    pub columns: u8,
    #[serde(default)]
    pub collapsible: bool,
    #[serde(default)]
    pub default_collapsed: bool,
    #[serde(default)]
    pub order: i32,
    #[serde(default)]
    pub fields: Vec<PanelField>,
}

fn one() -> u8 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DisplayType {
    #[default]
    Text,
    Badge,
    Tag,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PanelColor {
    #[default]
    Default,
    Success,
    Warning,
    Error,
    Info,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PanelField {
    /// Session variable name (from `store_as` or a response mapping).
    pub key: String,
    pub label: String,
    #[serde(default)]
    pub order: i32,
    #[serde(default)]
    pub display_type: DisplayType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<PanelColor>,
}

/// `POST /bots/{id}/flows`: seed 002's flow object, plus Parley's optional fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowInput {
    pub name: String,
    #[serde(default)]
    pub trigger_keywords: Vec<String>,
    #[serde(default)]
    pub initial_message: String,
    #[serde(default)]
    pub completion_message: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panel_config: Option<PanelConfig>,
    pub steps: Vec<FlowStepInput>,
    /// Invalid answers allowed per step before the flow gives up (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// What giving up means (default `fallback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<OnFailure>,
}

fn yes() -> bool {
    true
}

/// `PUT /bots/{id}/flows/{flow_id}`: the fields given replace the stored ones (`steps`
/// as a whole).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowPatch {
    pub name: Option<String>,
    pub trigger_keywords: Option<Vec<String>>,
    pub initial_message: Option<String>,
    pub completion_message: Option<String>,
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "crate::settings::explicit_null")]
    pub panel_config: Option<Option<PanelConfig>>,
    pub steps: Option<Vec<FlowStepInput>>,
    pub max_attempts: Option<u32>,
    pub on_failure: Option<OnFailure>,
}

/// A validated flow before it has an id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowSpec {
    pub name: String,
    pub trigger_keywords: Vec<String>,
    pub initial_message: String,
    pub completion_message: String,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panel_config: Option<PanelConfig>,
    /// In `step_order`.
    pub steps: Vec<FlowStep>,
    pub max_attempts: u32,
    pub on_failure: OnFailure,
}

/// A stored flow. `version` grows with every edit; a conversation inside the flow keeps
/// running the version it started on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Flow {
    pub id: Uuid,
    pub bot_id: Uuid,
    #[serde(flatten)]
    pub spec: FlowSpec,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Flow {
    pub fn step(&self, name: &str) -> Option<(usize, &FlowStep)> {
        self.spec
            .steps
            .iter()
            .enumerate()
            .find(|(_, s)| s.step_name == name)
    }
}

impl From<&FlowSpec> for FlowInput {
    /// The input that recreates `spec` (bot-as-code export).
    fn from(spec: &FlowSpec) -> Self {
        FlowInput {
            name: spec.name.clone(),
            trigger_keywords: spec.trigger_keywords.clone(),
            initial_message: spec.initial_message.clone(),
            completion_message: spec.completion_message.clone(),
            enabled: spec.enabled,
            panel_config: spec.panel_config.clone(),
            steps: spec.steps.iter().map(FlowStepInput::from).collect(),
            max_attempts: Some(spec.max_attempts),
            on_failure: Some(spec.on_failure),
        }
    }
}

impl From<&FlowStep> for FlowStepInput {
    fn from(s: &FlowStep) -> Self {
        FlowStepInput {
            step_name: s.step_name.clone(),
            step_order: s.step_order,
            message: s.message.clone(),
            message_type: s.message_type,
            input_type: s.input_type,
            buttons: s.buttons.iter().cloned().map(ButtonInput::from).collect(),
            store_as: s.store_as.clone(),
            validation: s.validation.clone(),
            max_attempts: s.max_attempts,
            transfer_config: s.transfer_config.clone(),
            api_config: s.api_config.clone(),
            whatsapp_flow: s.whatsapp_flow.clone(),
            next_step: s.next_step.clone(),
            branch: s.branch.clone(),
        }
    }
}

impl FlowPatch {
    /// `current` with the patch applied, validated as a whole.
    pub fn apply(self, current: &FlowSpec) -> Result<FlowSpec, ValidationError> {
        let mut input = FlowInput::from(current);
        if let Some(v) = self.name {
            input.name = v;
        }
        if let Some(v) = self.trigger_keywords {
            input.trigger_keywords = v;
        }
        if let Some(v) = self.initial_message {
            input.initial_message = v;
        }
        if let Some(v) = self.completion_message {
            input.completion_message = v;
        }
        if let Some(v) = self.enabled {
            input.enabled = v;
        }
        if let Some(v) = self.panel_config {
            input.panel_config = v;
        }
        if let Some(v) = self.steps {
            input.steps = v;
        }
        if let Some(v) = self.max_attempts {
            input.max_attempts = Some(v);
        }
        if let Some(v) = self.on_failure {
            input.on_failure = Some(v);
        }
        input.parse()
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_step_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= MAX_STEP_NAME_CHARS
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

fn check_template(errors: &mut ValidationError, field: &str, text: &str) {
    if let Err(e) = template::check(text) {
        errors.push(field, e);
    }
}

fn check_message(errors: &mut ValidationError, field: &str, text: &str) {
    if text.chars().count() > MAX_MESSAGE_CHARS {
        errors.push(field, format!("at most {MAX_MESSAGE_CHARS} characters"));
    }
    check_template(errors, field, text);
}

/// Variable names the engine sets itself and authors must not overwrite.
const RESERVED_VARIABLES: &[&str] = &["contact", "flow", "session"];

fn check_variable(errors: &mut ValidationError, field: &str, name: &str) {
    if !is_identifier(name) || name.len() > 64 {
        errors.push(
            field,
            "a variable name has letters, digits and `_`, starts with a letter, 64 at most",
        );
    } else if RESERVED_VARIABLES.contains(&name) {
        errors.push(field, format!("`{name}` is reserved"));
    }
}

impl FlowInput {
    /// Checks the whole flow and returns every problem, each naming its step.
    pub fn parse(self) -> Result<FlowSpec, ValidationError> {
        let mut errors = ValidationError::new();
        let name = crate::validation::clean_name(&self.name);
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || crate::validation::too_long(&self.name, MAX_NAME_CHARS)
        {
            errors.push("name", format!("1 to {MAX_NAME_CHARS} characters"));
        }
        if self.trigger_keywords.len() > MAX_TRIGGERS {
            errors.push(
                "trigger_keywords",
                format!("at most {MAX_TRIGGERS} trigger keywords"),
            );
        }
        let mut trigger_keywords = Vec::with_capacity(self.trigger_keywords.len());
        for (i, k) in self.trigger_keywords.into_iter().enumerate() {
            let k = k.trim().to_string();
            if crate::text::normalize_words(&k).is_empty() || k.chars().count() > 200 {
                errors.push(
                    format!("trigger_keywords[{i}]"),
                    "a keyword has 1 to 200 characters, with at least one letter or digit",
                );
            }
            trigger_keywords.push(k);
        }
        check_message(&mut errors, "initial_message", &self.initial_message);
        check_message(&mut errors, "completion_message", &self.completion_message);
        let max_attempts = self.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if !(1..=10).contains(&max_attempts) {
            errors.push("max_attempts", "between 1 and 10");
        }
        if let Some(panel) = &self.panel_config {
            validate_panel(&mut errors, panel);
        }

        if self.steps.is_empty() {
            errors.push("steps", "a flow needs at least one step");
        }
        if self.steps.len() > MAX_STEPS {
            errors.push("steps", format!("at most {MAX_STEPS} steps"));
        }
        // Steps run in `step_order`; errors keep the index the author wrote them at.
        let mut indexed: Vec<(usize, FlowStepInput)> = self.steps.into_iter().enumerate().collect();
        indexed.sort_by_key(|(_, s)| s.step_order);
        let mut names = HashSet::new();
        let mut orders = HashSet::new();
        for (i, s) in &indexed {
            if !names.insert(s.step_name.trim().to_string()) {
                errors.push(
                    format!("steps[{i}].step_name"),
                    format!("the step name `{}` is used twice", s.step_name),
                );
            }
            if !orders.insert(s.step_order) {
                errors.push(
                    format!("steps[{i}].step_order"),
                    format!(
                        "step `{}`: step_order {} is used twice",
                        s.step_name, s.step_order
                    ),
                );
            }
        }
        let last = indexed.len().saturating_sub(1);
        let mut steps = Vec::with_capacity(indexed.len());
        for (pos, (i, input)) in indexed.into_iter().enumerate() {
            let prefix = format!("steps[{i}]");
            match parse_step(input, pos == last, &names) {
                Ok(step) => steps.push(step),
                Err(e) => errors.extend_prefixed(&prefix, e),
            }
        }
        errors.into_result(FlowSpec {
            name,
            trigger_keywords,
            initial_message: self.initial_message.trim().to_string(),
            completion_message: self.completion_message.trim().to_string(),
            enabled: self.enabled,
            panel_config: self.panel_config,
            steps,
            max_attempts,
            on_failure: self.on_failure.unwrap_or_default(),
        })
    }
}

fn parse_step(
    s: FlowStepInput,
    is_last: bool,
    names: &HashSet<String>,
) -> Result<FlowStep, ValidationError> {
    let mut errors = ValidationError::new();
    let step_name = s.step_name.trim().to_string();
    let who = format!("step `{step_name}`");
    if !is_step_name(&step_name) || step_name == END {
        errors.push(
            "step_name",
            format!(
                "{who}: a step name has 1 to {MAX_STEP_NAME_CHARS} letters, digits, `_` or `-`, and is not `{END}`"
            ),
        );
    }
    check_message(&mut errors, "message", &s.message);
    let buttons = match parse_buttons(s.buttons) {
        Ok(b) => b,
        Err(e) => {
            errors.extend_prefixed("buttons", e);
            Vec::new()
        }
    };
    if let Some(v) = &s.store_as {
        check_variable(&mut errors, "store_as", v);
    }
    if let Some(n) = s.max_attempts {
        if !(1..=10).contains(&n) {
            errors.push("max_attempts", format!("{who}: between 1 and 10"));
        }
    }

    // The input a step waits for: explicit, or implied by buttons / store_as.
    let mut input_type = s.input_type;
    match s.message_type {
        StepType::Buttons => {
            if buttons.is_empty() {
                errors.push("buttons", format!("{who}: a buttons step needs buttons"));
            }
            input_type.get_or_insert(InputType::Select);
        }
        StepType::Text | StepType::ApiFetch => {
            if input_type.is_none() && (s.store_as.is_some() || !buttons.is_empty()) {
                input_type = Some(if buttons.is_empty() {
                    InputType::Text
                } else {
                    InputType::Select
                });
            }
        }
        StepType::Transfer | StepType::WhatsappFlow => {
            if input_type.is_some() || s.store_as.is_some() {
                errors.push(
                    "input_type",
                    format!(
                        "{who}: a {} step does not take an answer",
                        step_kind(s.message_type)
                    ),
                );
            }
            input_type = None;
        }
    }
    if input_type == Some(InputType::Select) && buttons.is_empty() {
        errors.push(
            "buttons",
            format!("{who}: a select step needs buttons to choose from"),
        );
    }
    if let (Some(t), Some(rules)) = (input_type, &s.validation) {
        if let Err(e) = rules.validate(t) {
            errors.push("validation", format!("{who}: {e}"));
        }
        if let Some(m) = &rules.error_message {
            check_message(&mut errors, "validation.error_message", m);
        }
    }

    match s.message_type {
        StepType::Transfer => {
            if !is_last {
                errors.push(
                    "message_type",
                    format!("{who}: a transfer step ends the flow, so it must be the last step"),
                );
            }
            if let Some(t) = &s.transfer_config {
                if let Some(n) = &t.notes {
                    check_message(&mut errors, "transfer_config.notes", n);
                }
            }
        }
        _ if s.transfer_config.is_some() => errors.push(
            "transfer_config",
            format!("{who}: only transfer steps take a transfer_config"),
        ),
        _ => {}
    }

    match (s.message_type, &s.api_config) {
        (StepType::ApiFetch, None) => errors.push(
            "api_config",
            format!("{who}: an api_fetch step needs api_config with at least a url"),
        ),
        (StepType::ApiFetch, Some(api)) => validate_api(&mut errors, &who, api, names),
        (_, Some(_)) => errors.push(
            "api_config",
            format!("{who}: only api_fetch steps take an api_config"),
        ),
        _ => {}
    }

    match (s.message_type, &s.whatsapp_flow) {
        (StepType::WhatsappFlow, None) => errors.push(
            "whatsapp_flow",
            format!("{who}: a whatsapp_flow step needs whatsapp_flow.fields"),
        ),
        (StepType::WhatsappFlow, Some(wa)) => validate_whatsapp(&mut errors, &who, wa),
        (_, Some(_)) => errors.push(
            "whatsapp_flow",
            format!("{who}: only whatsapp_flow steps take a whatsapp_flow config"),
        ),
        _ => {}
    }

    let target_ok = |t: &str| t == END || names.contains(t);
    if let Some(next) = &s.next_step {
        if !target_ok(next) {
            errors.push(
                "next_step",
                format!("{who}: there is no step `{next}` to go to"),
            );
        }
        if s.branch.is_some() {
            errors.push(
                "next_step",
                format!("{who}: give either next_step or branch, not both"),
            );
        }
    }
    if let Some(b) = &s.branch {
        if input_type.is_none() && b.variable.is_none() {
            errors.push(
                "branch.variable",
                format!("{who}: this step takes no answer, so the branch must name a variable"),
            );
        }
        if let Some(v) = &b.variable {
            if !v.split('.').all(is_identifier) {
                errors.push("branch.variable", format!("{who}: not a variable name"));
            }
        }
        if b.cases.is_empty() {
            errors.push("branch.cases", format!("{who}: a branch needs cases"));
        }
        for (value, target) in &b.cases {
            if !target_ok(target) {
                errors.push(
                    format!("branch.cases.{value}"),
                    format!("{who}: there is no step `{target}` to branch to"),
                );
            }
        }
        if let Some(d) = &b.default {
            if !target_ok(d) {
                errors.push(
                    "branch.default",
                    format!("{who}: there is no step `{d}` to branch to"),
                );
            }
        }
    }

    errors.into_result(FlowStep {
        step_name,
        step_order: s.step_order,
        message: s.message.trim().to_string(),
        message_type: s.message_type,
        input_type,
        buttons,
        store_as: s.store_as,
        validation: s.validation,
        max_attempts: s.max_attempts,
        transfer_config: s.transfer_config,
        api_config: s.api_config,
        whatsapp_flow: s.whatsapp_flow,
        next_step: s.next_step,
        branch: s.branch,
    })
}

fn step_kind(t: StepType) -> &'static str {
    match t {
        StepType::Text => "text",
        StepType::Buttons => "buttons",
        StepType::ApiFetch => "api_fetch",
        StepType::WhatsappFlow => "whatsapp_flow",
        StepType::Transfer => "transfer",
    }
}

fn validate_api(
    errors: &mut ValidationError,
    who: &str,
    api: &ApiFetchConfig,
    names: &HashSet<String>,
) {
    let url = api.url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        errors.push(
            "api_config.url",
            format!("{who}: the url must start with http:// or https://"),
        );
    }
    check_template(errors, "api_config.url", url);
    for (k, v) in &api.headers {
        if k.is_empty()
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            errors.push(
                format!("api_config.headers.{k}"),
                format!("{who}: not a valid header name"),
            );
        }
        check_template(errors, &format!("api_config.headers.{k}"), v);
    }
    if let Some(body) = &api.body {
        check_json_templates(errors, "api_config.body", body);
    }
    if let Some(t) = api.timeout_ms {
        if !(1..=MAX_FETCH_TIMEOUT_MS).contains(&t) {
            errors.push(
                "api_config.timeout_ms",
                format!("{who}: between 1 and {MAX_FETCH_TIMEOUT_MS} milliseconds"),
            );
        }
    }
    for (var, path) in &api.response_mapping {
        check_variable(errors, &format!("api_config.response_mapping.{var}"), var);
        if path.trim().is_empty() {
            errors.push(
                format!("api_config.response_mapping.{var}"),
                format!("{who}: give a path into the response, like `data.slots`"),
            );
        }
    }
    if let Some(m) = &api.error_message {
        check_message(errors, "api_config.error_message", m);
    }
    if let Some(step) = &api.on_error {
        if !names.contains(step) {
            errors.push(
                "api_config.on_error",
                format!("{who}: there is no step `{step}` to go to"),
            );
        }
    }
}

fn check_json_templates(errors: &mut ValidationError, field: &str, v: &serde_json::Value) {
    match v {
        serde_json::Value::String(s) => check_template(errors, field, s),
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| check_json_templates(errors, &format!("{field}[{i}]"), v)),
        serde_json::Value::Object(o) => o
            .iter()
            .for_each(|(k, v)| check_json_templates(errors, &format!("{field}.{k}"), v)),
        _ => {}
    }
}

fn validate_whatsapp(errors: &mut ValidationError, who: &str, wa: &WhatsappFlowConfig) {
    if wa.fields.is_empty() || wa.fields.len() > MAX_WHATSAPP_FIELDS {
        errors.push(
            "whatsapp_flow.fields",
            format!("{who}: 1 to {MAX_WHATSAPP_FIELDS} fields"),
        );
    }
    let mut seen = HashSet::new();
    for (i, f) in wa.fields.iter().enumerate() {
        let field = format!("whatsapp_flow.fields[{i}]");
        check_variable(errors, &format!("{field}.name"), &f.name);
        if !seen.insert(f.name.as_str()) {
            errors.push(
                format!("{field}.name"),
                format!("{who}: the field `{}` is used twice", f.name),
            );
        }
        if f.label.trim().is_empty() {
            errors.push(
                format!("{field}.label"),
                format!("{who}: a field needs a label to ask"),
            );
        }
        check_message(errors, &format!("{field}.label"), &f.label);
        match parse_buttons(f.buttons.clone()) {
            Ok(b) if b.is_empty() && f.input_type == InputType::Select => errors.push(
                format!("{field}.buttons"),
                format!("{who}: a select field needs buttons"),
            ),
            Ok(_) => {}
            Err(e) => errors.extend_prefixed(&format!("{field}.buttons"), e),
        }
    }
}

fn validate_panel(errors: &mut ValidationError, panel: &PanelConfig) {
    let mut ids = HashSet::new();
    for (i, s) in panel.sections.iter().enumerate() {
        let f = format!("panel_config.sections[{i}]");
        if s.id.trim().is_empty() {
            errors.push(format!("{f}.id"), "a section needs an id");
        } else if !ids.insert(s.id.as_str()) {
            errors.push(
                format!("{f}.id"),
                format!("the section id `{}` is used twice", s.id),
            );
        }
        if s.label.trim().is_empty() {
            errors.push(format!("{f}.label"), "a section needs a label");
        }
        if !(1..=2).contains(&s.columns) {
            errors.push(format!("{f}.columns"), "1 or 2 columns");
        }
        for (j, field) in s.fields.iter().enumerate() {
            if field.key.trim().is_empty() {
                errors.push(
                    format!("{f}.fields[{j}].key"),
                    "a field needs the key of a variable",
                );
            }
            if field.label.trim().is_empty() {
                errors.push(format!("{f}.fields[{j}].label"), "a field needs a label");
            }
        }
    }
}

/// `GET /conversations/{id}/panel`: the panel of the conversation's flow, filled with its
/// session's values, sections and fields in their `order`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PanelView {
    pub flow_id: Option<Uuid>,
    pub flow_name: Option<String>,
    pub sections: Vec<PanelSectionView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PanelSectionView {
    pub id: String,
    pub label: String,
    pub columns: u8,
    pub collapsible: bool,
    pub default_collapsed: bool,
    pub order: i32,
    pub fields: Vec<PanelFieldView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PanelFieldView {
    pub key: String,
    pub label: String,
    pub order: i32,
    pub display_type: DisplayType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<PanelColor>,
    /// The session variable's value; `null` when the conversation has not set it.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub value: serde_json::Value,
}

impl PanelConfig {
    /// The panel with each field's value taken from `variables` (dotted keys reach in).
    pub fn fill(
        &self,
        variables: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<PanelSectionView> {
        let mut sections: Vec<PanelSectionView> = self
            .sections
            .iter()
            .map(|s| {
                let mut fields: Vec<PanelFieldView> = s
                    .fields
                    .iter()
                    .map(|f| PanelFieldView {
                        key: f.key.clone(),
                        label: f.label.clone(),
                        order: f.order,
                        display_type: f.display_type,
                        color: f.color,
                        value: lookup_dotted(variables, &f.key),
                    })
                    .collect();
                fields.sort_by_key(|f| f.order);
                PanelSectionView {
                    id: s.id.clone(),
                    label: s.label.clone(),
                    columns: s.columns,
                    collapsible: s.collapsible,
                    default_collapsed: s.default_collapsed,
                    order: s.order,
                    fields,
                }
            })
            .collect();
        sections.sort_by_key(|s| s.order);
        sections
    }
}

fn lookup_dotted(
    variables: &serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> serde_json::Value {
    let mut parts = key.split('.');
    let Some(first) = parts.next() else {
        return serde_json::Value::Null;
    };
    let mut at = variables.get(first);
    for p in parts {
        at = at.and_then(|v| v.get(p));
    }
    at.cloned().unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Seed 002's example, verbatim.
    pub(crate) fn feedback_collection() -> serde_json::Value {
        json!({ "name": "Feedback Collection", "trigger_keywords": ["feedback", "review"], "initial_message": "Hi! I'd like to collect your feedback.", "completion_message": "Thank you for your feedback!", "enabled": true, "panel_config": { "sections": [ { "id": "customer", "label": "Customer Info", "columns": 1, "collapsible": true, "default_collapsed": false, "order": 1, "fields": [ {"key": "rating", "label": "Rating", "order": 1}, {"key": "comment", "label": "Comment", "order": 2} ] } ] }, "steps": [ { "step_name": "rating", "step_order": 1, "message": "How would you rate your experience?", "message_type": "buttons", "input_type": "select", "buttons": [ {"id": "excellent", "title": "Excellent"}, {"id": "good", "title": "Good"}, {"id": "poor", "title": "Poor"} ], "store_as": "rating" }, { "step_name": "comment", "step_order": 2, "message": "Any additional comments?", "message_type": "text", "input_type": "text", "store_as": "comment" }, { "step_name": "transfer", "step_order": 3, "message": "Connecting you with our team...", "message_type": "transfer", "transfer_config": { "team_id": "uuid", "notes": "Rating: {{rating}}" } } ]})
    }

    fn parse(v: serde_json::Value) -> Result<FlowSpec, ValidationError> {
        serde_json::from_value::<FlowInput>(v).unwrap().parse()
    }

    fn fields(e: &ValidationError) -> Vec<String> {
        e.errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    }

    #[test]
    fn seed_example_parses() {
        let spec = parse(feedback_collection()).unwrap();
        assert_eq!(spec.steps.len(), 3);
        assert_eq!(spec.steps[0].input_type, Some(InputType::Select));
        assert_eq!(spec.steps[2].message_type, StepType::Transfer);
        assert!(!spec.steps[2].waits());
        // Round trip through the export form.
        let again = FlowInput::from(&spec).parse().unwrap();
        assert_eq!(again, spec);
    }

    #[test]
    fn steps_run_in_step_order_whatever_order_they_are_written_in() {
        let mut v = feedback_collection();
        v["steps"].as_array_mut().unwrap().swap(0, 1);
        let spec = parse(v).unwrap();
        assert_eq!(spec.steps[0].step_name, "rating");
    }

    #[test]
    fn invalid_definitions_name_the_step() {
        let mut v = feedback_collection();
        v["steps"][1]["step_name"] = json!("rating");
        let e = fields(&parse(v).unwrap_err());
        assert!(
            e.iter()
                .any(|m| m.starts_with("steps[1].step_name") && m.contains("`rating`")),
            "{e:?}"
        );

        let mut v = feedback_collection();
        v["steps"][0]["buttons"] = json!([]);
        v["steps"][0]["message_type"] = json!("text");
        let e = fields(&parse(v).unwrap_err());
        assert!(
            e.iter()
                .any(|m| m.starts_with("steps[0].buttons") && m.contains("step `rating`")),
            "{e:?}"
        );

        let mut v = feedback_collection();
        v["steps"][0]["branch"] = json!({"cases": {"poor": "nowhere"}});
        let e = fields(&parse(v).unwrap_err());
        assert!(
            e.iter()
                .any(|m| m.contains("no step `nowhere`") && m.contains("step `rating`")),
            "{e:?}"
        );

        let mut v = feedback_collection();
        v["steps"][2]["step_order"] = json!(0);
        let e = fields(&parse(v).unwrap_err());
        assert!(
            e.iter()
                .any(|m| m.starts_with("steps[2].message_type") && m.contains("must be the last")),
            "{e:?}"
        );
    }

    #[test]
    fn templates_are_checked() {
        let mut v = feedback_collection();
        v["completion_message"] = json!("Thanks {{ rating");
        let e = fields(&parse(v).unwrap_err());
        assert!(
            e.iter().any(|m| m.starts_with("completion_message")),
            "{e:?}"
        );
    }

    #[test]
    fn panel_config_is_checked() {
        let mut v = feedback_collection();
        v["panel_config"]["sections"][0]["columns"] = json!(3);
        let e = fields(&parse(v).unwrap_err());
        assert!(
            e.iter()
                .any(|m| m.starts_with("panel_config.sections[0].columns")),
            "{e:?}"
        );
        let mut v = feedback_collection();
        v["panel_config"]["sections"][0]["fields"][0]["color"] = json!("purple");
        assert!(serde_json::from_value::<FlowInput>(v).is_err());
    }

    #[test]
    fn api_fetch_and_whatsapp_need_their_config() {
        let v = json!({"name": "x", "steps": [
            {"step_name": "a", "step_order": 1, "message": "m", "message_type": "api_fetch"},
            {"step_name": "b", "step_order": 2, "message_type": "whatsapp_flow"},
            {"step_name": "c", "step_order": 3, "message": "m", "message_type": "api_fetch",
             "api_config": {"url": "ftp://x", "timeout_ms": 0, "on_error": "zz"}}
        ]});
        let e = fields(&parse(v).unwrap_err());
        assert!(
            e.iter().any(|m| m.starts_with("steps[0].api_config")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m.starts_with("steps[1].whatsapp_flow")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m.starts_with("steps[2].api_config.url")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.starts_with("steps[2].api_config.timeout_ms")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.starts_with("steps[2].api_config.on_error")),
            "{e:?}"
        );
    }

    #[test]
    fn panel_fills_values_in_order() {
        let spec = parse(feedback_collection()).unwrap();
        let vars = json!({"comment": "Quick!", "rating": "Good"});
        let sections = spec.panel_config.unwrap().fill(vars.as_object().unwrap());
        assert_eq!(sections[0].fields[0].key, "rating");
        assert_eq!(sections[0].fields[0].value, json!("Good"));
        assert_eq!(sections[0].fields[1].value, json!("Quick!"));
        let empty = parse(feedback_collection())
            .unwrap()
            .panel_config
            .unwrap()
            .fill(&serde_json::Map::new());
        assert_eq!(empty[0].fields[0].value, serde_json::Value::Null);
    }

    #[test]
    fn patch_replaces_given_fields_only() {
        let spec = parse(feedback_collection()).unwrap();
        let patched = FlowPatch {
            enabled: Some(false),
            ..Default::default()
        }
        .apply(&spec)
        .unwrap();
        assert!(!patched.enabled);
        assert_eq!(patched.steps, spec.steps);
    }
}
