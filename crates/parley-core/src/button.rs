//! Buttons offered with a bot message: a title of 1–20 characters (WhatsApp's limit) and an
//! id the client answers with. At most 10 per message; 1–3 render as quick replies and 4–10
//! as a list menu. Ids are generated from the title when the author gives none.

use serde::{Deserialize, Serialize};

use crate::validation::ValidationError;

pub const MAX_BUTTONS: usize = 10;
pub const MAX_TITLE_CHARS: usize = 20;
pub const MAX_ID_CHARS: usize = 64;
/// Up to this many buttons show as quick replies; more show as a list menu.
pub const QUICK_REPLY_MAX: usize = 3;

/// A validated button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Button {
    pub id: String,
    pub title: String,
}

/// A button as authors write it: the id may be left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ButtonInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub title: String,
}

impl From<Button> for ButtonInput {
    fn from(b: Button) -> Self {
        ButtonInput {
            id: Some(b.id),
            title: b.title,
        }
    }
}

/// How a channel should lay a set of buttons out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ButtonLayout {
    QuickReplies,
    List,
}

impl ButtonLayout {
    pub fn for_count(n: usize) -> Option<ButtonLayout> {
        match n {
            0 => None,
            1..=QUICK_REPLY_MAX => Some(ButtonLayout::QuickReplies),
            _ => Some(ButtonLayout::List),
        }
    }
}

/// Validates a list of buttons: count, title length, unique ids; fills in missing ids.
/// Errors name the offending element (`[2].title`).
pub fn parse_buttons(inputs: Vec<ButtonInput>) -> Result<Vec<Button>, ValidationError> {
    let mut errors = ValidationError::new();
    if inputs.len() > MAX_BUTTONS {
        errors.push(
            "",
            format!(
                "at most {MAX_BUTTONS} buttons are allowed, got {}",
                inputs.len()
            ),
        );
    }
    let mut out: Vec<Button> = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.into_iter().enumerate() {
        let title = input.title.trim().to_string();
        let len = title.chars().count();
        if len == 0 {
            errors.push(format!("[{i}].title"), "a button title cannot be empty");
        } else if len > MAX_TITLE_CHARS {
            errors.push(
                format!("[{i}].title"),
                format!(
                    "a button title has at most {MAX_TITLE_CHARS} characters, this one has {len}"
                ),
            );
        }
        let id = match input.id {
            Some(id) => {
                let id = id.trim().to_string();
                if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
                    errors.push(
                        format!("[{i}].id"),
                        format!("a button id has 1 to {MAX_ID_CHARS} characters"),
                    );
                }
                if out.iter().any(|b| b.id == id) {
                    errors.push(format!("[{i}].id"), format!("the id `{id}` is used twice"));
                }
                id
            }
            None => unique_id(&slug(&title), &out),
        };
        out.push(Button { id, title });
    }
    errors.into_result(out)
}

/// The button of `buttons` a typed answer names: its id or its title, ignoring case and
/// surrounding punctuation.
pub fn find_by_answer<'a>(buttons: &'a [Button], answer: &str) -> Option<&'a Button> {
    let wanted = crate::text::normalize_exact(answer);
    buttons.iter().find(|b| {
        crate::text::normalize_exact(&b.title) == wanted || b.id.eq_ignore_ascii_case(answer.trim())
    })
}

fn slug(title: &str) -> String {
    let mut s = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('_') && !s.is_empty() {
            s.push('_');
        }
    }
    let s = s.trim_end_matches('_').to_string();
    if s.is_empty() {
        "button".to_string()
    } else {
        s
    }
}

fn unique_id(base: &str, taken: &[Button]) -> String {
    if !taken.iter().any(|b| b.id == base) {
        return base.to_string();
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|candidate| !taken.iter().any(|b| &b.id == candidate))
        .unwrap_or_else(|| crate::new_id().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(title: &str) -> ButtonInput {
        ButtonInput {
            id: None,
            title: title.into(),
        }
    }

    #[test]
    fn generates_readable_unique_ids() {
        let buttons = parse_buttons(vec![
            input("Track Order"),
            input("Track order!"),
            input("¿Qué?"),
        ])
        .unwrap();
        let ids: Vec<_> = buttons.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["track_order", "track_order_2", "qué"]);
    }

    #[test]
    fn keeps_given_ids_and_rejects_duplicates() {
        let ok = parse_buttons(vec![ButtonInput {
            id: Some("excellent".into()),
            title: "Excellent".into(),
        }])
        .unwrap();
        assert_eq!(ok[0].id, "excellent");
        let dup = parse_buttons(vec![
            ButtonInput {
                id: Some("a".into()),
                title: "A".into(),
            },
            ButtonInput {
                id: Some("a".into()),
                title: "B".into(),
            },
        ])
        .unwrap_err();
        assert_eq!(dup.errors[0].field, "[1].id");
    }

    #[test]
    fn enforces_title_length_in_characters_not_bytes() {
        assert!(parse_buttons(vec![input("ééééééééééééééééééééé")]).is_err()); // 21 chars
        assert!(parse_buttons(vec![input("éééééééééééééééééééé")]).is_ok()); // 20 chars
        let err = parse_buttons(vec![input("  ")]).unwrap_err();
        assert_eq!(err.errors[0].field, "[0].title");
    }

    #[test]
    fn enforces_ten_buttons() {
        let eleven: Vec<_> = (0..11).map(|i| input(&format!("B{i}"))).collect();
        let err = parse_buttons(eleven).unwrap_err();
        assert!(err.errors[0].message.contains("at most 10"));
        assert!(parse_buttons((0..10).map(|i| input(&format!("B{i}"))).collect()).is_ok());
    }

    #[test]
    fn layout_follows_count() {
        assert_eq!(ButtonLayout::for_count(0), None);
        assert_eq!(ButtonLayout::for_count(3), Some(ButtonLayout::QuickReplies));
        assert_eq!(ButtonLayout::for_count(4), Some(ButtonLayout::List));
    }

    #[test]
    fn finds_button_by_typed_title_or_id() {
        let buttons = parse_buttons(vec![input("Track Order"), input("Returns")]).unwrap();
        assert_eq!(
            find_by_answer(&buttons, "track order!").unwrap().id,
            "track_order"
        );
        assert_eq!(find_by_answer(&buttons, "RETURNS").unwrap().id, "returns");
        assert!(find_by_answer(&buttons, "track").is_none());
    }
}
