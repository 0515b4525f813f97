//! Validation errors that name each bad field, so the API can answer 422 with details a
//! client can show next to the input that caused them.

use serde::Serialize;

/// One bad field: its path (`greeting_buttons[2].title`) and a sentence saying what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Every problem found in one input, not only the first.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.summary())]
pub struct ValidationError {
    pub errors: Vec<FieldError>,
}

impl ValidationError {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.push(field, message);
        e
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Folds another error's fields in, prefixing their paths.
    pub fn extend_prefixed(&mut self, prefix: &str, other: ValidationError) {
        for e in other.errors {
            let field = if e.field.is_empty() {
                prefix.to_string()
            } else if e.field.starts_with('[') {
                format!("{prefix}{}", e.field)
            } else {
                format!("{prefix}.{}", e.field)
            };
            self.errors.push(FieldError {
                field,
                message: e.message,
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok(value)` when nothing was pushed, the error otherwise.
    pub fn into_result<T>(self, value: T) -> Result<T, ValidationError> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    fn summary(&self) -> String {
        match self.errors.as_slice() {
            [] => "the input is invalid".to_string(),
            [one] => format!("{}: {}", one.field, one.message),
            [first, rest @ ..] => format!(
                "{}: {} (and {} more problem{})",
                first.field,
                first.message,
                rest.len(),
                if rest.len() == 1 { "" } else { "s" }
            ),
        }
    }
}

/// A name as stored: control characters dropped (line breaks and tabs become a space, NUL
/// and the rest disappear, as they do from messages), then trimmed. Every name an author
/// gives — bots, datasets, rules, flows, AI contexts, teams, agents, keys — goes through
/// this, so none can carry characters no screen shows.
pub fn clean_name(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// A description or other free text an author writes: control characters dropped except
/// line breaks and tabs (the rule for messages), then trimmed.
pub fn clean_text(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect::<String>()
        .trim()
        .to_string()
}

/// The name and description of something named (a bot, a dataset) after an update: given
/// fields cleaned ([`clean_name`], [`clean_text`]) and replacing the current ones, then checked: the name 1 to `max_name`
/// characters, the description at most `max_description`.
/// `raw` as sent is longer than `max` characters. Limits count what the client sent
/// (the document's `maxLength` does), before control characters are dropped.
pub fn too_long(raw: &str, max: usize) -> bool {
    raw.chars().count() > max
}

pub fn name_and_description(
    name: Option<String>,
    description: Option<String>,
    current: (&str, &str),
    max_name: usize,
    max_description: usize,
) -> Result<(String, String), ValidationError> {
    let mut errors = ValidationError::new();
    let raw_name_too_long = name.as_deref().is_some_and(|n| too_long(n, max_name));
    let name = name.map_or_else(|| current.0.to_string(), |n| clean_name(&n));
    let n = name.chars().count();
    if n == 0 || n > max_name || raw_name_too_long {
        errors.push("name", format!("1 to {max_name} characters"));
    }
    let raw_description_too_long = description
        .as_deref()
        .is_some_and(|d| too_long(d, max_description));
    let description = description.map_or_else(|| current.1.to_string(), |d| clean_text(&d));
    if description.chars().count() > max_description || raw_description_too_long {
        errors.push(
            "description",
            format!("at most {max_description} characters"),
        );
    }
    errors.into_result((name, description))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_control_characters_like_messages_do() {
        assert_eq!(clean_name("  Shop\u{0}bot \n"), "Shopbot");
        assert_eq!(
            clean_name("Two\nlines\tand\u{7} bell"),
            "Two lines and bell"
        );
        assert_eq!(clean_name("\u{0}"), "");
        assert_eq!(clean_text(" a\u{0}b\nc\r "), "ab\nc");
        let (name, _) =
            name_and_description(Some("Bot\u{0}".into()), None, ("", ""), 10, 10).unwrap();
        assert_eq!(name, "Bot");
        assert!(name_and_description(Some("\u{0}\u{1}".into()), None, ("", ""), 10, 10).is_err());
        // Limits count what was sent: 10 stars after a control character are 11 characters.
        let sent = format!("\u{86}{}", "*".repeat(10));
        assert!(name_and_description(Some(sent.clone()), None, ("", ""), 10, 10).is_err());
        assert!(name_and_description(None, Some(sent), ("a", ""), 10, 10).is_err());
    }
}
