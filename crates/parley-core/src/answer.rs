//! Interim: the input types of flow steps. Replaced by the full answer module (being
//! written on branch wt/answer) before this lands.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::button::Button;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum InputType {
    #[default]
    Text,
    Select,
    Number,
    Email,
    Phone,
    Date,
    Time,
    YesNo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DateOrder {
    #[default]
    DayFirst,
    MonthFirst,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnswerRules {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub allow_past: Option<bool>,
    pub date_order: Option<DateOrder>,
    pub error_message: Option<String>,
}

impl AnswerRules {
    pub fn validate(&self, _input: InputType) -> Result<(), String> {
        Ok(())
    }
}

pub struct Answer {
    pub value: serde_json::Value,
    pub display: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct Invalid {
    pub reason: String,
}

pub struct AnswerContext<'a> {
    pub now: DateTime<Utc>,
    pub tz: chrono_tz::Tz,
    pub buttons: &'a [Button],
    pub chosen: Option<&'a Button>,
}

pub fn check_answer(
    input: InputType,
    _rules: &AnswerRules,
    text: &str,
    cx: &AnswerContext<'_>,
) -> Result<Answer, Invalid> {
    let t = text.trim();
    match input {
        InputType::Select => cx
            .chosen
            .map(|b| Answer {
                value: b.title.clone().into(),
                display: b.title.clone(),
            })
            .ok_or(Invalid {
                reason: "Please choose one of the options.".into(),
            }),
        _ if t.is_empty() => Err(Invalid {
            reason: "Please type an answer.".into(),
        }),
        _ => Ok(Answer {
            value: t.into(),
            display: t.into(),
        }),
    }
}

pub fn parse_date(_text: &str, _today: NaiveDate, _order: DateOrder) -> Option<NaiveDate> {
    None
}

pub fn parse_time(_text: &str) -> Option<NaiveTime> {
    None
}
