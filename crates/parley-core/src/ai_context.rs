//! AI contexts (seed 002): extra knowledge given to the model when a message mentions one of
//! a context's trigger keywords. `static` contexts carry their text; `api` contexts name a
//! URL fetched (with a timeout) when they trigger. Input is parsed into an
//! [`AiContextSpec`] here, so a stored context is always a usable one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::flow::HttpMethod;
use crate::validation::ValidationError;

pub const MAX_CONTEXT_CHARS: usize = 32_000;
pub const MAX_TRIGGER_KEYWORDS: usize = 50;
pub const DEFAULT_API_TIMEOUT_MS: u32 = 3000;
pub const MAX_API_TIMEOUT_MS: u32 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AiContextType {
    /// `content` is the text given to the model.
    #[default]
    Static,
    /// The text is fetched from `api.url` when the context triggers.
    Api,
}

/// Where an `api` context's text comes from. The response body is used as text (a JSON
/// body as its compact JSON), cut to [`MAX_CONTEXT_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AiContextApi {
    pub url: String,
    #[serde(default)]
    pub method: HttpMethod,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Milliseconds, 1 to 10000 (default 3000). A context that does not answer in time is
    /// left out of the prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
}

impl AiContextApi {
    pub fn timeout_ms(&self) -> u32 {
        self.timeout_ms.unwrap_or(DEFAULT_API_TIMEOUT_MS)
    }
}

/// A validated context definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AiContextSpec {
    pub name: String,
    /// Matched like `contains` keyword rules (whole words, any case). Empty: always used.
    pub trigger_keywords: Vec<String>,
    pub context_type: AiContextType,
    #[serde(default)]
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<AiContextApi>,
    /// Higher first; when the token budget runs out, lower ones are left out.
    pub priority: i32,
    pub enabled: bool,
}

/// A stored AI context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AiContext {
    pub id: Uuid,
    pub bot_id: Uuid,
    #[serde(flatten)]
    pub spec: AiContextSpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST` and `PUT /bots/{id}/ai-contexts[/{id}]`, and an entry of the bot file's
/// `ai_contexts:`. Every field is optional on update; `name` is needed to create.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AiContextInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_keywords: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_type: Option<AiContextType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::settings::explicit_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub api: Option<Option<AiContextApi>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl From<AiContextSpec> for AiContextInput {
    fn from(s: AiContextSpec) -> Self {
        AiContextInput {
            name: Some(s.name),
            trigger_keywords: Some(s.trigger_keywords),
            context_type: Some(s.context_type),
            content: Some(s.content),
            api: s.api.map(Some),
            priority: Some(s.priority),
            enabled: Some(s.enabled),
        }
    }
}

impl AiContextInput {
    /// For creation: `name` is required.
    pub fn parse_new(self) -> Result<AiContextSpec, ValidationError> {
        if self.name.is_none() {
            return Err(ValidationError::single("name", "a context needs a name"));
        }
        self.apply(&AiContextSpec {
            name: String::new(),
            trigger_keywords: Vec::new(),
            context_type: AiContextType::Static,
            content: String::new(),
            api: None,
            priority: 0,
            enabled: true,
        })
    }

    /// For update: only the fields given change; the result is checked as a whole.
    pub fn apply(self, current: &AiContextSpec) -> Result<AiContextSpec, ValidationError> {
        let mut errors = ValidationError::new();
        let mut s = current.clone();
        let sent_too_long = self
            .name
            .as_deref()
            .is_some_and(|v| crate::validation::too_long(v, 200));
        if let Some(v) = self.name {
            s.name = crate::validation::clean_name(&v);
        }
        let n = s.name.chars().count();
        if n == 0 || n > 200 || sent_too_long {
            errors.push("name", "1 to 200 characters");
        }
        if let Some(v) = self.trigger_keywords {
            s.trigger_keywords = v.into_iter().map(|k| k.trim().to_string()).collect();
        }
        if s.trigger_keywords.len() > MAX_TRIGGER_KEYWORDS {
            errors.push(
                "trigger_keywords",
                format!("at most {MAX_TRIGGER_KEYWORDS} keywords"),
            );
        }
        for (i, k) in s.trigger_keywords.iter().enumerate() {
            if crate::text::normalize_exact(k).is_empty() || k.chars().count() > 100 {
                errors.push(
                    format!("trigger_keywords[{i}]"),
                    "a keyword has 1 to 100 characters, with at least one letter or digit",
                );
            }
        }
        if let Some(v) = self.context_type {
            s.context_type = v;
        }
        if let Some(v) = self.content {
            s.content = v;
        }
        if s.content.chars().count() > MAX_CONTEXT_CHARS {
            errors.push("content", format!("at most {MAX_CONTEXT_CHARS} characters"));
        }
        if let Some(v) = self.api {
            s.api = v;
        }
        if let Some(v) = self.priority {
            s.priority = v;
        }
        if let Some(v) = self.enabled {
            s.enabled = v;
        }
        match (s.context_type, &s.api) {
            (AiContextType::Static, _) if s.content.trim().is_empty() => {
                errors.push("content", "a static context needs content");
            }
            (AiContextType::Api, None) => {
                errors.push("api", "an api context needs `api: {url, method, headers}`");
            }
            (AiContextType::Api, Some(api)) => {
                let url_ok = (api.url.starts_with("http://") || api.url.starts_with("https://"))
                    && !api.url.contains(char::is_whitespace);
                if !url_ok {
                    errors.push("api.url", "an http(s) URL");
                }
                if !(1..=MAX_API_TIMEOUT_MS).contains(&api.timeout_ms()) {
                    errors.push(
                        "api.timeout_ms",
                        format!("between 1 and {MAX_API_TIMEOUT_MS}"),
                    );
                }
            }
            (AiContextType::Static, _) => {}
        }
        errors.into_result(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_static_context_needs_content_and_an_api_one_a_url() {
        let input: AiContextInput =
            serde_json::from_str(r#"{"name": "Shipping", "trigger_keywords": ["shipping"]}"#)
                .unwrap();
        let err = input.parse_new().unwrap_err();
        assert_eq!(err.errors[0].field, "content");
        let input: AiContextInput = serde_json::from_str(
            r#"{"name": "Stock", "context_type": "api", "api": {"url": "ftp://x"}}"#,
        )
        .unwrap();
        assert_eq!(input.parse_new().unwrap_err().errors[0].field, "api.url");
        let input: AiContextInput = serde_json::from_str(
            r#"{"name": "Shipping", "trigger_keywords": ["shipping"], "content": "Free over $50", "priority": 5}"#,
        )
        .unwrap();
        let spec = input.parse_new().unwrap();
        assert!(spec.enabled);
        assert_eq!(spec.priority, 5);
    }
}
