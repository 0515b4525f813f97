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

/// The name and description of something named (a bot, a dataset) after an update: given
/// fields trimmed and replacing the current ones, then checked: the name 1 to `max_name`
/// characters, the description at most `max_description`.
pub fn name_and_description(
    name: Option<String>,
    description: Option<String>,
    current: (&str, &str),
    max_name: usize,
    max_description: usize,
) -> Result<(String, String), ValidationError> {
    let mut errors = ValidationError::new();
    let name = name.map_or_else(|| current.0.to_string(), |n| n.trim().to_string());
    let n = name.chars().count();
    if n == 0 || n > max_name {
        errors.push("name", format!("1 to {max_name} characters"));
    }
    let description = description.map_or_else(|| current.1.to_string(), |d| d.trim().to_string());
    if description.chars().count() > max_description {
        errors.push(
            "description",
            format!("at most {max_description} characters"),
        );
    }
    errors.into_result((name, description))
}
