//! Stage 1 of a turn, the guard: what a message must be before anything else looks at it.
//! Today: size and encoding limits. The abuse, prompt-injection and PII stages (the
//! guarding issue) slot in here, before the message is stored.

use parley_core::ValidationError;

/// Limits on what a user may send.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest message text accepted, in characters.
    pub max_message_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_chars: 4096,
        }
    }
}

/// Checks a user's text against the limits and strips control characters that no channel
/// can show (keeping newlines and tabs). The text is otherwise kept exactly as sent.
pub fn check_text(limits: &Limits, text: &str) -> Result<String, ValidationError> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect();
    if cleaned.trim().is_empty() {
        return Err(ValidationError::single("text", "a message needs some text"));
    }
    let n = cleaned.chars().count();
    if n > limits.max_message_chars {
        return Err(ValidationError::single(
            "text",
            format!(
                "a message has at most {} characters, this one has {n}",
                limits.max_message_chars
            ),
        ));
    }
    Ok(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_empty_and_too_long_text() {
        let limits = Limits {
            max_message_chars: 5,
        };
        assert!(check_text(&limits, " \n ").is_err());
        assert!(check_text(&limits, "\u{0}\u{7}").is_err());
        assert!(check_text(&limits, "ééééé").is_ok());
        let err = check_text(&limits, "éééééé").unwrap_err();
        assert!(err.errors[0].message.contains("at most 5"));
    }

    #[test]
    fn strips_control_characters_but_keeps_newlines() {
        let limits = Limits::default();
        assert_eq!(check_text(&limits, "a\u{0}b\nc\u{1b}").unwrap(), "ab\nc");
    }
}
