//! Feedback from the person in a conversation: a 1–5 rating of the whole conversation, or
//! of one bot message (a widget's thumbs up / down are 5 / 1), with an optional comment.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::validation::ValidationError;

pub const MAX_COMMENT_CHARS: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Feedback {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// The bot message rated; absent for the conversation as a whole.
    pub message_id: Option<Uuid>,
    pub rating: u8,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `POST /conversations/{id}/feedback`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedbackInput {
    /// 1 (bad) to 5 (good).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 5))]
    pub rating: i64,
    pub message_id: Option<Uuid>,
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub comment: Option<String>,
}

impl FeedbackInput {
    /// Checks the rating and comment; the message is checked against the store.
    pub fn parse(
        self,
        conversation_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Feedback, ValidationError> {
        let mut errors = ValidationError::new();
        let rating = match u8::try_from(self.rating) {
            Ok(r @ 1..=5) => r,
            _ => {
                errors.push("rating", "a whole number from 1 to 5");
                0
            }
        };
        let comment = self
            .comment
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty());
        if let Some(c) = &comment {
            let n = c.chars().count();
            if n > MAX_COMMENT_CHARS {
                errors.push(
                    "comment",
                    format!("at most {MAX_COMMENT_CHARS} characters, got {n}"),
                );
            }
        }
        errors.into_result(Feedback {
            id: crate::new_id(),
            conversation_id,
            message_id: self.message_id,
            rating,
            comment,
            created_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(rating: i64, comment: Option<&str>) -> FeedbackInput {
        FeedbackInput {
            rating,
            message_id: None,
            comment: comment.map(String::from),
        }
    }

    #[test]
    fn ratings_are_one_to_five() {
        for ok in 1..=5 {
            assert!(input(ok, None).parse(Uuid::nil(), Utc::now()).is_ok());
        }
        for bad in [0, 6, -1, 300] {
            let err = input(bad, None).parse(Uuid::nil(), Utc::now()).unwrap_err();
            assert_eq!(err.errors[0].field, "rating");
        }
    }

    #[test]
    fn comments_are_trimmed_and_bounded() {
        let f = input(4, Some("  ")).parse(Uuid::nil(), Utc::now()).unwrap();
        assert_eq!(f.comment, None);
        let long = "x".repeat(MAX_COMMENT_CHARS + 1);
        assert!(input(4, Some(&long))
            .parse(Uuid::nil(), Utc::now())
            .is_err());
    }
}
