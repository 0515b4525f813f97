//! Bots, and the bot-as-code definition (`parley bot import/export`): one YAML document
//! holding a bot's name, settings and keyword rules.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ai_context::{AiContextInput, AiContextSpec};
use crate::flow::{FlowInput, FlowSpec};
use crate::rule::{KeywordRuleInput, RuleSpec};
use crate::settings::{Settings, SettingsPatch};
use crate::validation::ValidationError;

pub const MAX_BOT_NAME_CHARS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 2000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bot {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /bots` and `PUT /bots/{id}` (where every field is optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotInput {
    /// 1 to 100 characters, not only spaces (required to create).
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 100, pattern = r"\S")
    )]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub description: Option<String>,
}

/// A bot's name and description, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct BotSpec {
    pub name: String,
    pub description: String,
}

impl BotInput {
    /// For creation: `name` is required.
    pub fn parse_new(self) -> Result<BotSpec, ValidationError> {
        if self.name.is_none() {
            return Err(ValidationError::single("name", "a bot needs a name"));
        }
        self.apply(&BotSpec {
            name: String::new(),
            description: String::new(),
        })
    }

    /// For update: only the fields given change.
    pub fn apply(self, current: &BotSpec) -> Result<BotSpec, ValidationError> {
        let (name, description) = crate::validation::name_and_description(
            self.name,
            self.description,
            (&current.name, &current.description),
            MAX_BOT_NAME_CHARS,
            MAX_DESCRIPTION_CHARS,
        )?;
        Ok(BotSpec { name, description })
    }
}

/// The bot-as-code file. `id` (written by export) makes re-import update that bot; without
/// it, the bot with the same name in the workspace is updated, or a new one created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotDefinition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Fields left out take their defaults: the file is the whole truth about the bot.
    #[serde(default)]
    pub settings: SettingsPatch,
    /// Matched to stored rules by name; stored rules missing from the file are removed.
    #[serde(default)]
    pub keywords: Vec<KeywordRuleInput>,
    /// Matched to stored flows by name, like rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<FlowInput>,
    /// Matched to stored AI contexts by name, like rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ai_contexts: Vec<AiContextInput>,
}

/// A definition that passed validation, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedBotDefinition {
    pub id: Option<Uuid>,
    pub bot: BotSpec,
    pub settings: Settings,
    pub rules: Vec<RuleSpec>,
    pub flows: Vec<FlowSpec>,
    pub ai_contexts: Vec<AiContextSpec>,
}

impl BotDefinition {
    pub fn parse(self) -> Result<ParsedBotDefinition, ValidationError> {
        let mut errors = ValidationError::new();
        let bot = BotInput {
            name: Some(self.name),
            description: Some(self.description),
        }
        .parse_new()
        .unwrap_or_else(|e| {
            errors.errors.extend(e.errors);
            BotSpec {
                name: String::new(),
                description: String::new(),
            }
        });
        let settings = self
            .settings
            .apply(&Settings::default())
            .unwrap_or_else(|e| {
                errors.extend_prefixed("settings", e);
                Settings::default()
            });
        let mut rules: Vec<RuleSpec> = Vec::with_capacity(self.keywords.len());
        for (i, input) in self.keywords.into_iter().enumerate() {
            match input.parse() {
                Ok(spec) => {
                    if rules.iter().any(|r| r.name == spec.name) {
                        errors.push(
                            format!("keywords[{i}].name"),
                            format!("the rule name `{}` is used twice; names identify rules on re-import", spec.name),
                        );
                    }
                    rules.push(spec);
                }
                Err(e) => errors.extend_prefixed(&format!("keywords[{i}]"), e),
            }
        }
        let mut flows: Vec<FlowSpec> = Vec::with_capacity(self.flows.len());
        for (i, input) in self.flows.into_iter().enumerate() {
            match input.parse() {
                Ok(spec) => {
                    if flows.iter().any(|f| f.name == spec.name) {
                        errors.push(
                            format!("flows[{i}].name"),
                            format!("the flow name `{}` is used twice; names identify flows on re-import", spec.name),
                        );
                    }
                    flows.push(spec);
                }
                Err(e) => errors.extend_prefixed(&format!("flows[{i}]"), e),
            }
        }
        let mut ai_contexts: Vec<AiContextSpec> = Vec::with_capacity(self.ai_contexts.len());
        for (i, input) in self.ai_contexts.into_iter().enumerate() {
            match input.parse_new() {
                Ok(spec) => {
                    if ai_contexts.iter().any(|c| c.name == spec.name) {
                        errors.push(
                            format!("ai_contexts[{i}].name"),
                            format!("the context name `{}` is used twice; names identify contexts on re-import", spec.name),
                        );
                    }
                    ai_contexts.push(spec);
                }
                Err(e) => errors.extend_prefixed(&format!("ai_contexts[{i}]"), e),
            }
        }
        errors.into_result(ParsedBotDefinition {
            id: self.id,
            bot,
            settings,
            rules,
            flows,
            ai_contexts,
        })
    }
}
