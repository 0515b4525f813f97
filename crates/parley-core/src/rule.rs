//! Keyword rules (seed 002): keywords, a match type, and the reply they produce. Input is
//! parsed into a [`KeywordRule`] here, so a rule that exists is a rule that compiles.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::button::{parse_buttons, Button, ButtonInput};
use crate::validation::ValidationError;

pub const MAX_KEYWORDS: usize = 100;
pub const MAX_KEYWORD_CHARS: usize = 200;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_RESPONSE_CHARS: usize = 4096;
/// Longest regex source accepted.
pub const MAX_REGEX_CHARS: usize = 500;
/// Compiled-size ceiling for one regex (the regex crate's `size_limit`), so a rule cannot
/// make matching slow or memory-hungry.
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MatchType {
    /// The whole message equals a keyword, ignoring case, surrounding whitespace and punctuation.
    Exact,
    /// A keyword appears in the message as whole words.
    Contains,
    /// The message begins with a keyword as whole words.
    StartsWith,
    /// A keyword is a regular expression (case-insensitive) found in the message.
    Regex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ResponseType {
    #[default]
    Text,
    Buttons,
}

/// A stored keyword rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeywordRule {
    pub id: Uuid,
    pub bot_id: Uuid,
    pub name: String,
    pub keywords: Vec<String>,
    pub match_type: MatchType,
    pub response_type: ResponseType,
    pub response: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    pub priority: i32,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A rule as clients create it (`POST /bots/{id}/keywords`) and as bot YAML holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeywordRuleInput {
    pub name: String,
    pub keywords: Vec<String>,
    pub match_type: MatchType,
    /// Defaults to `buttons` when buttons are given, `text` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_type: Option<ResponseType>,
    pub response: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<ButtonInput>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_true() -> bool {
    true
}

/// `PUT /bots/{id}/keywords/{rule_id}`: only the named fields change.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeywordRulePatch {
    pub name: Option<String>,
    pub keywords: Option<Vec<String>>,
    pub match_type: Option<MatchType>,
    pub response_type: Option<ResponseType>,
    pub response: Option<String>,
    pub buttons: Option<Vec<ButtonInput>>,
    pub priority: Option<i32>,
    pub enabled: Option<bool>,
}

/// The validated content of a rule, before it has an id and timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    pub name: String,
    pub keywords: Vec<String>,
    pub match_type: MatchType,
    pub response_type: ResponseType,
    pub response: String,
    pub buttons: Vec<Button>,
    pub priority: i32,
    pub enabled: bool,
}

impl KeywordRuleInput {
    /// Checks every field; a regex that does not compile within the limits is refused here.
    pub fn parse(self) -> Result<RuleSpec, ValidationError> {
        let mut errors = ValidationError::new();
        let name = crate::validation::clean_name(&self.name);
        if crate::validation::too_long(&self.name, MAX_NAME_CHARS) {
            errors.push("name", format!("at most {MAX_NAME_CHARS} characters"));
        } else {
            check_len(&mut errors, "name", &name, MAX_NAME_CHARS);
        }
        let response = self.response.trim().to_string();
        check_len(&mut errors, "response", &response, MAX_RESPONSE_CHARS);
        if let Err(e) = crate::template::check(&response) {
            errors.push("response", e);
        }

        let mut keywords = Vec::with_capacity(self.keywords.len());
        if self.keywords.is_empty() {
            errors.push("keywords", "give at least one keyword");
        }
        if self.keywords.len() > MAX_KEYWORDS {
            errors.push(
                "keywords",
                format!("at most {MAX_KEYWORDS} keywords per rule"),
            );
        }
        for (i, k) in self.keywords.into_iter().enumerate() {
            let field = format!("keywords[{i}]");
            let k = k.trim().to_string();
            if k.is_empty() || crate::text::normalize_words(&k).is_empty() {
                errors.push(field, "a keyword cannot be empty");
                continue;
            }
            let limit = if self.match_type == MatchType::Regex {
                MAX_REGEX_CHARS
            } else {
                MAX_KEYWORD_CHARS
            };
            if k.chars().count() > limit {
                errors.push(field, format!("a keyword has at most {limit} characters"));
                continue;
            }
            if self.match_type == MatchType::Regex {
                if let Err(reason) = validate_regex(&k) {
                    errors.push(field, reason);
                    continue;
                }
            } else if self.match_type == MatchType::Exact
                && crate::text::normalize_exact(&k).is_empty()
            {
                errors.push(field, "an exact keyword needs at least one letter or digit");
                continue;
            }
            keywords.push(k);
        }

        let buttons = match parse_buttons(self.buttons) {
            Ok(b) => b,
            Err(e) => {
                errors.extend_prefixed("buttons", e);
                Vec::new()
            }
        };
        let response_type = self.response_type.unwrap_or(if buttons.is_empty() {
            ResponseType::Text
        } else {
            ResponseType::Buttons
        });
        match response_type {
            ResponseType::Buttons if buttons.is_empty() && errors.is_empty() => {
                errors.push("buttons", "a `buttons` response needs at least one button")
            }
            ResponseType::Text if !buttons.is_empty() => errors.push(
                "response_type",
                "buttons were given, so the response type must be `buttons`",
            ),
            _ => {}
        }

        errors.into_result(RuleSpec {
            name,
            keywords,
            match_type: self.match_type,
            response_type,
            response,
            buttons,
            priority: self.priority,
            enabled: self.enabled,
        })
    }
}

impl KeywordRulePatch {
    /// The rule with this patch applied, validated as a whole.
    pub fn apply(self, rule: &KeywordRule) -> Result<RuleSpec, ValidationError> {
        let buttons_given = self.buttons.is_some();
        let input = KeywordRuleInput {
            name: self.name.unwrap_or_else(|| rule.name.clone()),
            keywords: self.keywords.unwrap_or_else(|| rule.keywords.clone()),
            match_type: self.match_type.unwrap_or(rule.match_type),
            response_type: match (self.response_type, buttons_given) {
                (Some(t), _) => Some(t),
                // New buttons without a type: infer it from them.
                (None, true) => None,
                (None, false) => Some(rule.response_type),
            },
            response: self.response.unwrap_or_else(|| rule.response.clone()),
            buttons: self
                .buttons
                .unwrap_or_else(|| rule.buttons.iter().cloned().map(Into::into).collect()),
            priority: self.priority.unwrap_or(rule.priority),
            enabled: self.enabled.unwrap_or(rule.enabled),
        };
        input.parse()
    }
}

impl From<&KeywordRule> for KeywordRuleInput {
    fn from(r: &KeywordRule) -> Self {
        KeywordRuleInput {
            name: r.name.clone(),
            keywords: r.keywords.clone(),
            match_type: r.match_type,
            response_type: Some(r.response_type),
            response: r.response.clone(),
            buttons: r.buttons.iter().cloned().map(Into::into).collect(),
            priority: r.priority,
            enabled: r.enabled,
        }
    }
}

/// Compiles `pattern` the way the matcher will (case-insensitive, size-limited) and says
/// why it is refused, in words a bot author can act on.
pub fn validate_regex(pattern: &str) -> Result<(), String> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(|_| ())
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => format!(
                "the regular expression is too large once compiled (limit {limit} bytes); simplify it"
            ),
            other => format!("invalid regular expression: {other}"),
        })
}

fn check_len(errors: &mut ValidationError, field: &str, value: &str, max: usize) {
    let n = value.chars().count();
    if n == 0 {
        errors.push(field, "cannot be empty");
    } else if n > max {
        errors.push(field, format!("at most {max} characters, got {n}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(match_type: MatchType, keywords: &[&str]) -> KeywordRuleInput {
        KeywordRuleInput {
            name: "r".into(),
            keywords: keywords.iter().map(|s| s.to_string()).collect(),
            match_type,
            response_type: None,
            response: "ok".into(),
            buttons: vec![],
            priority: 0,
            enabled: true,
        }
    }

    #[test]
    fn refuses_invalid_regex_with_reason() {
        let err = input(MatchType::Regex, &["(unclosed"]).parse().unwrap_err();
        assert_eq!(err.errors[0].field, "keywords[0]");
        assert!(err.errors[0].message.contains("invalid regular expression"));
    }

    #[test]
    fn refuses_oversized_regex() {
        let err = input(MatchType::Regex, &[r"(\w{1,50}){1,50}"])
            .parse()
            .unwrap_err();
        assert!(err.errors[0].message.contains("too large"), "{err}");
        let long = "a".repeat(MAX_REGEX_CHARS + 1);
        assert!(input(MatchType::Regex, &[&long]).parse().is_err());
    }

    #[test]
    fn infers_response_type_from_buttons() {
        let mut i = input(MatchType::Contains, &["menu"]);
        i.buttons = vec![ButtonInput {
            id: None,
            title: "Orders".into(),
        }];
        let spec = i.parse().unwrap();
        assert_eq!(spec.response_type, ResponseType::Buttons);
        assert_eq!(spec.buttons[0].id, "orders");
    }

    #[test]
    fn refuses_empty_keywords_and_response() {
        let mut i = input(MatchType::Contains, &[]);
        i.response = " ".into();
        let err = i.parse().unwrap_err();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"keywords") && fields.contains(&"response"));
        assert!(input(MatchType::Exact, &["?!"]).parse().is_err());
    }
}
