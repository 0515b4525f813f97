//! What a user types in a flow step, turned into a typed value or one friendly sentence
//! saying what the step expects. Each step has an [`InputType`] and optional
//! [`AnswerRules`]; [`check_answer`] reads the raw text against them, relative to the bot's
//! clock and time zone for dates. Pure: no I/O, no clock of its own (the caller passes
//! "now"), so every answer is reproducible in a test.
//!
//! Dates and times are read by hand-written parsers ([`parse_date`], [`parse_time`]; their
//! modules document the rules for ambiguous phrases). `interim` (the maintained fork of
//! `chrono-english`) was considered, but it reads neither "15th of January", "the 20th",
//! "in a week" nor a time set aside from a date, has no notion of the bot's time zone or of
//! refusing past dates, and reports a parse failure without saying whether the date was
//! unreadable or impossible — the difference between our "try 'next Monday'" and "that
//! date doesn't exist" re-prompts.

mod date;
mod phrase;
mod time;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::button::{find_by_answer, Button};

pub use date::{parse_date, DateOrder};
pub use time::parse_time;

use date::{read_date, DateMiss};

/// What kind of answer a flow step asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum InputType {
    #[default]
    Text,
    /// One of the step's buttons, tapped or typed.
    Select,
    Number,
    Email,
    Phone,
    Date,
    Time,
    /// `yes_no` on the wire.
    YesNo,
}

/// A step's constraints on its answer; every one optional. Which apply to which input
/// type is checked by [`AnswerRules::validate`] when the flow is saved.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnswerRules {
    /// Smallest number accepted (inclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest number accepted (inclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Fewest characters a text answer may have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<usize>,
    /// Most characters a text answer may have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// Whether a date before today (in the bot's time zone) is accepted; default true.
    /// When false, a day and month given without a year that has passed means next year's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_past: Option<bool>,
    /// How to read "03/04"; default day first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_order: Option<DateOrder>,
    /// Re-prompt sent instead of the generated reason whenever an answer is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl AnswerRules {
    /// Checks the rules make sense for a step of type `input`: bounds only where they
    /// apply, and in order. The error is one sentence naming the rule.
    pub fn validate(&self, input: InputType) -> Result<(), String> {
        let misplaced = |name: &str, applies_to: &str| {
            Err(format!(
                "`{name}` only applies to {applies_to} steps, not {} steps",
                input_name(input)
            ))
        };
        if input != InputType::Number {
            if self.min.is_some() {
                return misplaced("min", "number");
            }
            if self.max.is_some() {
                return misplaced("max", "number");
            }
        }
        if input != InputType::Text {
            if self.min_length.is_some() {
                return misplaced("min_length", "text");
            }
            if self.max_length.is_some() {
                return misplaced("max_length", "text");
            }
        }
        if input != InputType::Date {
            if self.allow_past.is_some() {
                return misplaced("allow_past", "date");
            }
            if self.date_order.is_some() {
                return misplaced("date_order", "date");
            }
        }
        for (name, bound) in [("min", self.min), ("max", self.max)] {
            if bound.is_some_and(|b| !b.is_finite()) {
                return Err(format!("`{name}` must be a finite number"));
            }
        }
        if let (Some(min), Some(max)) = (self.min, self.max) {
            if min > max {
                return Err(format!(
                    "`min` ({}) is greater than `max` ({})",
                    show_number(min),
                    show_number(max)
                ));
            }
        }
        if let (Some(min), Some(max)) = (self.min_length, self.max_length) {
            if min > max {
                return Err(format!(
                    "`min_length` ({min}) is greater than `max_length` ({max})"
                ));
            }
        }
        if self.max_length == Some(0) {
            return Err("`max_length` must be at least 1".to_string());
        }
        if self
            .error_message
            .as_deref()
            .is_some_and(|m| m.trim().is_empty())
        {
            return Err("`error_message` cannot be empty; leave it out instead".to_string());
        }
        Ok(())
    }
}

fn input_name(input: InputType) -> &'static str {
    match input {
        InputType::Text => "text",
        InputType::Select => "select",
        InputType::Number => "number",
        InputType::Email => "email",
        InputType::Phone => "phone",
        InputType::Date => "date",
        InputType::Time => "time",
        InputType::YesNo => "yes_no",
    }
}

/// An accepted answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The typed value stored in the session: a string, number or bool (see
    /// [`check_answer`] for each input type's form).
    pub value: serde_json::Value,
    /// A human form for confirmations: "Monday 23 November 2026", "15:30", "yes".
    pub display: String,
}

impl Answer {
    fn text(s: impl Into<String>) -> Answer {
        let s = s.into();
        Answer {
            value: serde_json::Value::String(s.clone()),
            display: s,
        }
    }
}

/// A refused answer: one friendly sentence telling the user what is expected, ready to
/// send as the re-prompt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Invalid {
    pub reason: String,
}

impl Invalid {
    fn new(reason: impl Into<String>) -> Invalid {
        Invalid {
            reason: reason.into(),
        }
    }
}

/// What an answer is read against besides its rules.
#[derive(Debug, Clone, Copy)]
pub struct AnswerContext<'a> {
    /// The current instant; dates are relative to its local date in `tz`.
    pub now: DateTime<Utc>,
    /// The bot's time zone.
    pub tz: chrono_tz::Tz,
    /// The buttons the step offered (for select steps).
    pub buttons: &'a [Button],
    /// The button the engine already matched (tapped, or its title typed), if any.
    pub chosen: Option<&'a Button>,
}

impl<'a> AnswerContext<'a> {
    /// A context with no buttons.
    pub fn new(now: DateTime<Utc>, tz: chrono_tz::Tz) -> AnswerContext<'a> {
        AnswerContext {
            now,
            tz,
            buttons: &[],
            chosen: None,
        }
    }

    /// The bot's local date at `now`.
    pub fn today(&self) -> NaiveDate {
        self.now.with_timezone(&self.tz).date_naive()
    }
}

/// Said when an e-mail or phone answer does not parse. Parley's own words, with example
/// values the output guard must let through (the engine trusts them).
pub const INVALID_EMAIL: &str = "Please enter an email address, like name@example.com.";
pub const INVALID_PHONE: &str =
    "Please enter a phone number of 7 to 15 digits, like +44 20 7946 0958.";
const DATE_EXAMPLES: &str = "for example 'tomorrow', 'next Monday' or 'Jan 15'";

/// Reads `text` as the answer to a step of type `input`.
///
/// Values by type: text → the trimmed string; select → the chosen button's title; number →
/// a JSON number (an integer when integral); email → the address with its domain
/// lower-cased; phone → digits only, with a leading `+` when international ("00" counts as
/// "+"); date → "YYYY-MM-DD"; time → "HH:MM" (24-hour); yes/no → a bool.
///
/// A refusal carries `rules.error_message` when the step sets one, else a generated reason.
pub fn check_answer(
    input: InputType,
    rules: &AnswerRules,
    text: &str,
    cx: &AnswerContext<'_>,
) -> Result<Answer, Invalid> {
    let checked = match input {
        InputType::Text => check_text(rules, text),
        InputType::Select => check_select(text, cx),
        InputType::Number => check_number(rules, text),
        InputType::Email => normalize_email(text)
            .map(Answer::text)
            .ok_or_else(|| Invalid::new(INVALID_EMAIL)),
        InputType::Phone => normalize_phone(text)
            .map(Answer::text)
            .ok_or_else(|| Invalid::new(INVALID_PHONE)),
        InputType::Date => check_date(rules, text, cx),
        InputType::Time => parse_time(text)
            .map(|t| Answer::text(t.format("%H:%M").to_string()))
            .ok_or_else(|| {
                Invalid::new("Please enter a time, for example '3pm', '15:30' or 'half past 9'.")
            }),
        InputType::YesNo => yes_or_no(text)
            .map(|yes| Answer {
                value: serde_json::Value::Bool(yes),
                display: if yes { "yes" } else { "no" }.to_string(),
            })
            .ok_or_else(|| Invalid::new("Please answer yes or no.")),
    };
    checked.map_err(|generated| match rules.error_message.as_deref() {
        Some(custom) if !custom.trim().is_empty() => Invalid::new(custom),
        _ => generated,
    })
}

fn check_text(rules: &AnswerRules, text: &str) -> Result<Answer, Invalid> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Invalid::new("Please type an answer."));
    }
    let len = text.chars().count();
    let too_short = rules.min_length.is_some_and(|min| len < min);
    let too_long = rules.max_length.is_some_and(|max| len > max);
    if too_short || too_long {
        let reason = match (rules.min_length, rules.max_length) {
            (Some(min), Some(max)) => format!("Please write between {min} and {max} characters."),
            (Some(min), None) => format!("Please write at least {}.", characters(min)),
            (None, Some(max)) => format!("Please keep it to {} or fewer.", characters(max)),
            (None, None) => "Please type an answer.".to_string(),
        };
        return Err(Invalid::new(reason));
    }
    Ok(Answer::text(text))
}

fn characters(n: usize) -> String {
    if n == 1 {
        "1 character".to_string()
    } else {
        format!("{n} characters")
    }
}

fn check_select(text: &str, cx: &AnswerContext<'_>) -> Result<Answer, Invalid> {
    let chosen = cx.chosen.or_else(|| find_by_answer(cx.buttons, text));
    match chosen {
        Some(button) => Ok(Answer::text(button.title.clone())),
        None if cx.buttons.is_empty() => Err(Invalid::new("Please choose one of the options.")),
        None => {
            let titles: Vec<&str> = cx.buttons.iter().map(|b| b.title.as_str()).collect();
            Err(Invalid::new(format!(
                "Please choose one of: {}.",
                titles.join(", ")
            )))
        }
    }
}

fn check_number(rules: &AnswerRules, text: &str) -> Result<Answer, Invalid> {
    let reason = || {
        Invalid::new(match (rules.min, rules.max) {
            (Some(min), Some(max)) => format!(
                "Please enter a number between {} and {}.",
                show_number(min),
                show_number(max)
            ),
            (Some(min), None) => format!("Please enter a number of at least {}.", show_number(min)),
            (None, Some(max)) => {
                format!(
                    "Please enter a number no greater than {}.",
                    show_number(max)
                )
            }
            (None, None) => "Please enter a number, like 7 or 7.5.".to_string(),
        })
    };
    let n = parse_number(text).ok_or_else(reason)?;
    if rules.min.is_some_and(|min| n < min) || rules.max.is_some_and(|max| n > max) {
        return Err(reason());
    }
    let value = if is_whole(n) {
        // Whole and within ±2^53, so the conversion is exact.
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(serde_json::Value::Number)
            .ok_or_else(reason)?
    };
    Ok(Answer {
        value,
        display: show_number(n),
    })
}

/// Integers up to 2^53 are exact in an f64; beyond that they are shown as floats.
fn is_whole(n: f64) -> bool {
    n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0
}

fn show_number(n: f64) -> String {
    if is_whole(n) {
        (n as i64).to_string()
    } else {
        n.to_string()
    }
}

/// A number as people type it: "7", "-3", "7.5", "1,000", "1,000.50", "7,5" (a decimal
/// comma when not followed by exactly three digits), "one" to "twenty", with "about" or
/// "please" around it. No exponents, no "inf"/"NaN".
fn parse_number(text: &str) -> Option<f64> {
    let lower = text.trim().to_lowercase();
    let words: Vec<&str> = lower
        .split_whitespace()
        .map(|w| w.trim_end_matches(['!', '?', ';']))
        .filter(|w| {
            !matches!(
                *w,
                "about" | "around" | "approx" | "approximately" | "roughly" | "please" | "maybe"
            )
        })
        .collect();
    let (negative, word) = match words.as_slice() {
        ["minus" | "negative", w] => (true, *w),
        [w] => (false, *w),
        _ => return None,
    };
    let word = word.trim_end_matches('.');
    if let Some(n) = phrase::number_word(word).filter(|n| *n <= 20) {
        let n = f64::from(n);
        return Some(if negative { -n } else { n });
    }
    let (sign, digits) = match word.strip_prefix(['-', '\u{2212}']) {
        Some(rest) => (-1.0, rest),
        None => (1.0, word.strip_prefix('+').unwrap_or(word)),
    };
    if negative && sign < 0.0 {
        return None;
    }
    let plain = plain_decimal(digits)?;
    let n: f64 = plain.parse().ok()?;
    let n = if negative { -n } else { sign * n };
    n.is_finite().then_some(n)
}

/// Digits with at most one decimal separator and optional thousands commas, rewritten as
/// a plain "1234.5" that `f64` parses. `None` for anything else.
fn plain_decimal(s: &str) -> Option<String> {
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
    {
        return None;
    }
    let (int, frac) = match (s.contains('.'), s.matches(',').count()) {
        // "1,000.50": commas group thousands.
        (true, _) => s.split_once('.')?,
        // "7,5": a decimal comma; "1,000" is a thousand.
        (false, 1) => match s.split_once(',')? {
            (int, frac) if frac.len() != 3 && !int.is_empty() => (int, frac),
            _ => (s, ""),
        },
        (false, _) => (s, ""),
    };
    if frac.contains(['.', ',']) || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    let int = if int.contains(',') {
        let mut groups = int.split(',');
        let head = groups.next()?;
        if head.is_empty() || head.len() > 3 || !groups.all(|g| g.len() == 3) {
            return None;
        }
        int.replace(',', "")
    } else {
        int.to_string()
    };
    let int = if int.is_empty() { "0" } else { &int };
    Some(if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    })
}

/// The address, trimmed and with its domain lower-cased. A short lead-in ("it's
/// bob@example.com", "my email is …") is allowed; any other word next to the address is
/// not, since "john smith@example.com" may be a mistyped address rather than a name.
fn normalize_email(text: &str) -> Option<String> {
    const LEAD_IN: &[&str] = &[
        "my", "email", "e-mail", "mail", "address", "is", "its", "it", "here", "sure", "ok",
        "okay", "please", "use", "thanks",
    ];
    let text = text.trim();
    email(text).or_else(|| {
        let (address, others): (Vec<&str>, Vec<&str>) =
            text.split_whitespace().partition(|w| w.contains('@'));
        let lead_in_only = others.iter().all(|w| {
            let w: String = w
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == '-')
                .flat_map(char::to_lowercase)
                .collect();
            w.is_empty() || LEAD_IN.contains(&w.as_str())
        });
        match address.as_slice() {
            [only] if lead_in_only => email(only),
            _ => None,
        }
    })
}

fn email(s: &str) -> Option<String> {
    // Brackets and quotes around the address, and sentence punctuation after it; a leading
    // dot stays, as it makes the address invalid.
    let s = s
        .trim_start_matches(['<', '(', '"', '\''])
        .trim_end_matches(['>', ')', '"', '\'', ',', ';', ':', '.', '!', '?']);
    let s = match s.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("mailto:") => s.get(7..)?,
        _ => s,
    };
    if s.chars().count() > 254 {
        return None;
    }
    let (local, domain) = s.split_once('@')?;
    let local_ok = (1..=64).contains(&local.chars().count())
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let domain = domain.to_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    let labels_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.chars().count())
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    let tld_ok = labels.last().is_some_and(|tld| {
        tld.starts_with("xn--")
            || (tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic))
    });
    (local_ok && labels_ok && tld_ok).then(|| format!("{local}@{domain}"))
}

/// E.164 ("+44 20 7946 0958", "0044 …") or a national number ("(555) 123-4567",
/// "0151 1234 5678"): 7–15 digits with spaces, dashes, dots, slashes or brackets between.
/// An international number's "(0)" trunk prefix is dropped.
fn normalize_phone(text: &str) -> Option<String> {
    let text = text.trim().trim_end_matches(['.', ',', ';', '!']);
    let text = match text.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("tel:") => text.get(4..)?.trim_start(),
        _ => text,
    };
    let (mut international, rest) = match text.strip_prefix('+') {
        Some(rest) => (true, rest.replace("(0)", "")),
        None => (false, text.to_string()),
    };
    let mut digits = String::new();
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}' | '\u{2010}'..='\u{2015}' => {}
            _ => return None,
        }
    }
    if !international {
        if let Some(after) = digits.strip_prefix("00") {
            digits = after.to_string();
            international = true;
        }
    }
    if international && digits.starts_with('0') {
        return None;
    }
    if !(7..=15).contains(&digits.len()) {
        return None;
    }
    Some(if international {
        format!("+{digits}")
    } else {
        digits
    })
}

const YES: &[&str] = &[
    "yes",
    "y",
    "ye",
    "yeah",
    "yea",
    "yep",
    "yup",
    "ya",
    "sure",
    "sure thing",
    "ok",
    "okay",
    "of course",
    "ofc",
    "correct",
    "true",
    "right",
    "thats right",
    "absolutely",
    "definitely",
    "certainly",
    "affirmative",
    "yes please",
    "yes thanks",
    "yes thank you",
    "👍",
    "✅",
    "✔",
    "✓",
    "👌",
    "si",
    "sí",
    "oui",
    "ja",
    "sim",
    "claro",
];

const NO: &[&str] = &[
    "no",
    "n",
    "nope",
    "nah",
    "naw",
    "not really",
    "not at all",
    "of course not",
    "false",
    "incorrect",
    "negative",
    "never",
    "no thanks",
    "no thank you",
    "👎",
    "❌",
    "✗",
    "✖",
    "non",
    "nein",
    "não",
    "nao",
    "nee",
];

/// The whole answer as yes or no, after case, punctuation and emoji modifiers are folded.
fn yes_or_no(text: &str) -> Option<bool> {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            c if c.is_alphanumeric() => folded.push(c),
            '\'' | '\u{2019}' => {}
            // Skin tones, variation selectors and joiners decorate an emoji.
            '\u{1F3FB}'..='\u{1F3FF}' | '\u{FE0E}' | '\u{FE0F}' | '\u{200D}' => {}
            '👍' | '👎' | '✅' | '❌' | '✔' | '✓' | '✗' | '✖' | '👌' => {
                folded.push(' ');
                folded.push(c);
                folded.push(' ');
            }
            _ => folded.push(' '),
        }
    }
    let folded = folded.split_whitespace().collect::<Vec<_>>().join(" ");
    if YES.contains(&folded.as_str()) {
        Some(true)
    } else if NO.contains(&folded.as_str()) {
        Some(false)
    } else {
        None
    }
}

fn check_date(rules: &AnswerRules, text: &str, cx: &AnswerContext<'_>) -> Result<Answer, Invalid> {
    let today = cx.today();
    let order = rules.date_order.unwrap_or_default();
    let allow_past = rules.allow_past.unwrap_or(true);
    let phrase = read_date(text, today, order).map_err(|miss| match miss {
        DateMiss::Unrecognised => Invalid::new(format!("Please enter a date — {DATE_EXAMPLES}.")),
        DateMiss::NoSuchDay => {
            Invalid::new("That date doesn't exist — please check the day and month.")
        }
        DateMiss::WrongWeekday { date, said } => Invalid::new(format!(
            "{} is a {}, not a {} — which did you mean?",
            date.format("%-d %B %Y"),
            date.format("%A"),
            weekday_name(said),
        )),
    })?;
    let mut date = phrase.date;
    if !allow_past && date < today && phrase.year_implied {
        if let Some(next) = date.with_year(date.year() + 1) {
            date = next;
        }
    }
    if !allow_past && date < today {
        return Err(Invalid::new(format!(
            "I need a date that hasn't passed yet — {DATE_EXAMPLES}."
        )));
    }
    Ok(Answer {
        value: serde_json::Value::String(date.format("%Y-%m-%d").to_string()),
        display: date.format("%A %-d %B %Y").to_string(),
    })
}

fn weekday_name(day: chrono::Weekday) -> &'static str {
    match day {
        chrono::Weekday::Mon => "Monday",
        chrono::Weekday::Tue => "Tuesday",
        chrono::Weekday::Wed => "Wednesday",
        chrono::Weekday::Thu => "Thursday",
        chrono::Weekday::Fri => "Friday",
        chrono::Weekday::Sat => "Saturday",
        chrono::Weekday::Sun => "Sunday",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde_json::json;

    /// Saturday 21 November 2026, 10:00 UTC.
    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap()
    }

    fn utc() -> AnswerContext<'static> {
        AnswerContext::new(now(), chrono_tz::UTC)
    }

    fn check(input: InputType, text: &str) -> Result<Answer, Invalid> {
        check_answer(input, &AnswerRules::default(), text, &utc())
    }

    fn value(input: InputType, text: &str) -> serde_json::Value {
        match check(input, text) {
            Ok(a) => a.value,
            Err(e) => panic!("{input:?} refused {text:?}: {e}"),
        }
    }

    fn reason(input: InputType, rules: &AnswerRules, text: &str) -> String {
        match check_answer(input, rules, text, &utc()) {
            Ok(a) => panic!("{input:?} accepted {text:?} as {:?}", a.value),
            Err(e) => e.reason,
        }
    }

    fn buttons() -> Vec<Button> {
        ["Excellent", "Good", "Poor"]
            .into_iter()
            .map(|t| Button {
                id: t.to_lowercase(),
                title: t.to_string(),
            })
            .collect()
    }

    #[test]
    fn text_is_trimmed_and_length_checked_in_characters() {
        assert_eq!(
            value(InputType::Text, "  hello there \n"),
            json!("hello there")
        );
        assert_eq!(
            reason(InputType::Text, &AnswerRules::default(), "   "),
            "Please type an answer."
        );
        let rules = AnswerRules {
            min_length: Some(2),
            max_length: Some(5),
            ..AnswerRules::default()
        };
        let cx = utc();
        assert!(check_answer(InputType::Text, &rules, "ééééé", &cx).is_ok());
        assert_eq!(
            reason(InputType::Text, &rules, "éééééé"),
            "Please write between 2 and 5 characters."
        );
        assert_eq!(
            reason(InputType::Text, &rules, "a"),
            "Please write between 2 and 5 characters."
        );
        let at_least = AnswerRules {
            min_length: Some(1),
            ..AnswerRules::default()
        };
        assert!(check_answer(InputType::Text, &at_least, "a", &cx).is_ok());
        let at_most = AnswerRules {
            max_length: Some(3),
            ..AnswerRules::default()
        };
        assert_eq!(
            reason(InputType::Text, &at_most, "abcd"),
            "Please keep it to 3 characters or fewer."
        );
    }

    #[test]
    fn select_takes_the_chosen_button_or_a_typed_title_or_id() {
        let buttons = buttons();
        let mut cx = utc();
        cx.buttons = &buttons;
        let rules = AnswerRules::default();
        let pick =
            |text: &str, cx: &AnswerContext<'_>| check_answer(InputType::Select, &rules, text, cx);
        assert_eq!(pick("  good ", &cx).unwrap().value, json!("Good"));
        assert_eq!(pick("EXCELLENT!", &cx).unwrap().value, json!("Excellent"));
        assert_eq!(pick("poor", &cx).unwrap().display, "Poor");
        assert_eq!(
            pick("meh", &cx).unwrap_err().reason,
            "Please choose one of: Excellent, Good, Poor."
        );
        cx.chosen = Some(&buttons[2]);
        assert_eq!(
            pick("whatever was typed", &cx).unwrap().value,
            json!("Poor")
        );
        assert_eq!(
            check(InputType::Select, "good").unwrap_err().reason,
            "Please choose one of the options."
        );
    }

    #[test]
    fn numbers_in_the_forms_people_type() {
        let cases: &[(&str, serde_json::Value)] = &[
            ("7", json!(7)),
            ("  42 ", json!(42)),
            ("-3", json!(-3)),
            ("+3", json!(3)),
            ("7.5", json!(7.5)),
            ("7,5", json!(7.5)),
            ("1,00", json!(1)),
            (".5", json!(0.5)),
            ("7.", json!(7)),
            ("1,000", json!(1000)),
            ("1,000,000", json!(1_000_000)),
            ("1,234.50", json!(1234.5)),
            ("10.0", json!(10)),
            ("one", json!(1)),
            ("Ten", json!(10)),
            ("twenty", json!(20)),
            ("zero", json!(0)),
            ("minus 4", json!(-4)),
            ("about 40", json!(40)),
            ("5!", json!(5)),
            ("−2", json!(-2)),
        ];
        for (text, want) in cases {
            assert_eq!(&value(InputType::Number, text), want, "{text:?}");
        }
        assert_eq!(check(InputType::Number, "1,000").unwrap().display, "1000");
        assert_eq!(check(InputType::Number, "7,5").unwrap().display, "7.5");
    }

    #[test]
    fn refuses_what_is_not_a_plain_number() {
        for text in [
            "", "abc", "7 apples", "1e5", "inf", "NaN", "infinity", ",5", "1.2.3", "1,000,00",
            "--3", "minus -3", "3-4", "0x10", "thirty", "one two", "1 000", ".",
        ] {
            assert!(check(InputType::Number, text).is_err(), "{text:?}");
        }
        let huge = "9".repeat(400);
        assert!(check(InputType::Number, &huge).is_err());
    }

    #[test]
    fn number_bounds_are_inclusive_and_named() {
        let rules = AnswerRules {
            min: Some(1.0),
            max: Some(10.0),
            ..AnswerRules::default()
        };
        let cx = utc();
        assert!(check_answer(InputType::Number, &rules, "1", &cx).is_ok());
        assert!(check_answer(InputType::Number, &rules, "10", &cx).is_ok());
        for text in ["0", "10.5", "eleven", "lots"] {
            assert_eq!(
                reason(InputType::Number, &rules, text),
                "Please enter a number between 1 and 10.",
                "{text:?}"
            );
        }
        let min = AnswerRules {
            min: Some(0.5),
            ..AnswerRules::default()
        };
        assert_eq!(
            reason(InputType::Number, &min, "0"),
            "Please enter a number of at least 0.5."
        );
        let max = AnswerRules {
            max: Some(100.0),
            ..AnswerRules::default()
        };
        assert_eq!(
            reason(InputType::Number, &max, "101"),
            "Please enter a number no greater than 100."
        );
        assert_eq!(
            reason(InputType::Number, &AnswerRules::default(), "x"),
            "Please enter a number, like 7 or 7.5."
        );
    }

    #[test]
    fn emails_keep_the_local_part_and_lower_case_the_domain() {
        let cases = [
            ("Bob.Smith@Example.COM", "Bob.Smith@example.com"),
            (
                "  ann+tag@mail.example.co.uk ",
                "ann+tag@mail.example.co.uk",
            ),
            ("<ann@example.org>", "ann@example.org"),
            ("mailto:ann@example.org", "ann@example.org"),
            ("it's ann@example.org", "ann@example.org"),
            ("My email is: ann@example.org", "ann@example.org"),
            ("ann@example.org.", "ann@example.org"),
            ("josé@bücher.de", "josé@bücher.de"),
        ];
        for (text, want) in cases {
            assert_eq!(value(InputType::Email, text), json!(want), "{text:?}");
        }
        for text in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@@example.com",
            "ann@exa mple.com",
            "an n@example.com",
            "ann@example.c",
            "ann@example.123",
            "ann@-example.com",
            "ann@example..com",
            ".ann@example.com",
            "ann..b@example.com",
            "a@b.com and c@d.com",
            "john smith@example.com",
        ] {
            assert!(check(InputType::Email, text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn phones_are_normalised_to_digits() {
        let cases = [
            ("+44 20 7946 0958", "+442079460958"),
            ("+44 (0)20 7946 0958", "+442079460958"),
            ("+49 151 12345678", "+4915112345678"),
            ("0049 151 12345678", "+4915112345678"),
            ("(555) 123-4567", "5551234567"),
            ("555-123-4567", "5551234567"),
            ("555.123.4567", "5551234567"),
            ("0151 1234 5678", "015112345678"),
            ("tel:+1-555-123-4567", "+15551234567"),
            ("1234567", "1234567"),
        ];
        for (text, want) in cases {
            assert_eq!(value(InputType::Phone, text), json!(want), "{text:?}");
        }
        for text in [
            "",
            "123456",
            "1234567890123456",
            "+0 151 1234567",
            "555-CALL-NOW",
            "call me",
            "555 1234 ext 12",
            "+44 +20 7946 0958",
        ] {
            assert!(check(InputType::Phone, text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn yes_and_no_in_many_forms() {
        for text in [
            "yes",
            "Y",
            "Yeah!",
            "yep",
            "sure",
            "OK",
            "okay",
            "of course",
            "Correct.",
            "true",
            "👍",
            "👍🏽",
            "yes please",
            "Sí",
            "si",
            "oui",
            "ja",
            "That's right",
        ] {
            assert_eq!(value(InputType::YesNo, text), json!(true), "{text:?}");
        }
        for text in [
            "no",
            "N",
            "nope",
            "nah",
            "Not really.",
            "false",
            "👎",
            "non",
            "nein",
            "no thanks",
        ] {
            assert_eq!(value(InputType::YesNo, text), json!(false), "{text:?}");
        }
        for text in [
            "",
            "maybe",
            "yes no",
            "yesterday",
            "not sure",
            "👍👎",
            "know",
        ] {
            assert_eq!(
                reason(InputType::YesNo, &AnswerRules::default(), text),
                "Please answer yes or no.",
                "{text:?}"
            );
        }
        assert_eq!(check(InputType::YesNo, "yup").unwrap().display, "yes");
    }

    #[test]
    fn dates_become_iso_values_with_a_readable_display() {
        let answer = check(InputType::Date, "next monday").unwrap();
        assert_eq!(answer.value, json!("2026-11-23"));
        assert_eq!(answer.display, "Monday 23 November 2026");
        let cases = [
            ("today", "2026-11-21"),
            ("tomorrow at 3pm", "2026-11-22"),
            ("Jan 15", "2026-01-15"),
            ("15 jan 2027", "2027-01-15"),
            ("the 20th", "2026-12-20"),
        ];
        for (text, want) in cases {
            assert_eq!(value(InputType::Date, text), json!(want), "{text:?}");
        }
    }

    #[test]
    fn dates_follow_the_bots_time_zone() {
        // 20:00 UTC is already Sunday 22 November, 05:00 in Tokyo.
        let late = Utc.with_ymd_and_hms(2026, 11, 21, 20, 0, 0).unwrap();
        let tokyo = AnswerContext::new(late, chrono_tz::Asia::Tokyo);
        let date = |text: &str, cx: &AnswerContext<'_>| {
            check_answer(InputType::Date, &AnswerRules::default(), text, cx)
                .unwrap()
                .value
        };
        assert_eq!(date("today", &tokyo), json!("2026-11-22"));
        assert_eq!(date("tomorrow", &tokyo), json!("2026-11-23"));
        assert_eq!(date("next monday", &tokyo), json!("2026-11-23"));
        assert_eq!(date("saturday", &tokyo), json!("2026-11-28"));
        assert_eq!(date("next week", &tokyo), json!("2026-11-23"));

        // 03:00 UTC is still Friday 20 November, 22:00 in New York.
        let early = Utc.with_ymd_and_hms(2026, 11, 21, 3, 0, 0).unwrap();
        let new_york = AnswerContext::new(early, chrono_tz::America::New_York);
        assert_eq!(date("today", &new_york), json!("2026-11-20"));
        assert_eq!(date("tomorrow", &new_york), json!("2026-11-21"));
        assert_eq!(date("friday", &new_york), json!("2026-11-20"));
        assert_eq!(date("next friday", &new_york), json!("2026-11-27"));

        // The same instant in UTC is already Saturday.
        assert_eq!(
            date("today", &AnswerContext::new(early, chrono_tz::UTC)),
            json!("2026-11-21")
        );

        let future = AnswerRules {
            allow_past: Some(false),
            ..AnswerRules::default()
        };
        // Yesterday in UTC is today in New York.
        assert_eq!(
            check_answer(InputType::Date, &future, "20 November 2026", &new_york)
                .unwrap()
                .value,
            json!("2026-11-20")
        );
        assert!(check_answer(InputType::Date, &future, "21 November 2026", &tokyo).is_err());
    }

    #[test]
    fn past_dates_roll_forward_or_are_refused_when_not_allowed() {
        let future = AnswerRules {
            allow_past: Some(false),
            ..AnswerRules::default()
        };
        let cx = utc();
        let date = |text: &str| check_answer(InputType::Date, &future, text, &cx);
        assert_eq!(date("Jan 15").unwrap().value, json!("2027-01-15"));
        assert_eq!(date("15/01").unwrap().value, json!("2027-01-15"));
        assert_eq!(date("Dec 25").unwrap().value, json!("2026-12-25"));
        assert_eq!(date("today").unwrap().value, json!("2026-11-21"));
        assert_eq!(date("21 Nov").unwrap().value, json!("2026-11-21"));
        assert_eq!(date("20 Nov").unwrap().value, json!("2027-11-20"));
        let past = "I need a date that hasn't passed yet — for example 'tomorrow', \
                    'next Monday' or 'Jan 15'.";
        for text in ["yesterday", "15/01/2026", "2026-11-20", "last friday"] {
            assert_eq!(date(text).unwrap_err().reason, past, "{text:?}");
        }
        // Allowed by default.
        assert_eq!(value(InputType::Date, "yesterday"), json!("2026-11-20"));
        assert_eq!(value(InputType::Date, "Jan 15"), json!("2026-01-15"));
    }

    #[test]
    fn date_refusals_say_what_went_wrong() {
        let rules = AnswerRules::default();
        assert_eq!(
            reason(InputType::Date, &rules, "Feb 30"),
            "That date doesn't exist — please check the day and month."
        );
        assert_eq!(
            reason(InputType::Date, &rules, "Monday 24 November 2026"),
            "24 November 2026 is a Tuesday, not a Monday — which did you mean?"
        );
        assert_eq!(
            reason(InputType::Date, &rules, "sometime soon"),
            "Please enter a date — for example 'tomorrow', 'next Monday' or 'Jan 15'."
        );
        let us = AnswerRules {
            date_order: Some(DateOrder::MonthFirst),
            ..AnswerRules::default()
        };
        let cx = utc();
        assert_eq!(
            check_answer(InputType::Date, &us, "03/04/2027", &cx)
                .unwrap()
                .value,
            json!("2027-03-04")
        );
    }

    #[test]
    fn times_become_24_hour_values() {
        let cases = [
            ("3pm", "15:00"),
            ("3:30pm", "15:30"),
            ("at 9am please", "09:00"),
            ("midnight", "00:00"),
            ("half past 3", "03:30"),
            ("quarter to 5 pm", "16:45"),
        ];
        for (text, want) in cases {
            let got = check(InputType::Time, text).unwrap();
            assert_eq!(got.value, json!(want), "{text:?}");
            assert_eq!(got.display, want);
        }
        for text in ["25:00", "13pm", "soon", ""] {
            assert_eq!(
                reason(InputType::Time, &AnswerRules::default(), text),
                "Please enter a time, for example '3pm', '15:30' or 'half past 9'.",
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_custom_error_message_replaces_every_generated_reason() {
        let rules = AnswerRules {
            error_message: Some("Pick a weekday, please.".into()),
            ..AnswerRules::default()
        };
        assert_eq!(
            reason(InputType::Date, &rules, "whenever"),
            "Pick a weekday, please."
        );
        assert_eq!(
            reason(InputType::Date, &rules, "Feb 30"),
            "Pick a weekday, please."
        );
        assert_eq!(
            reason(InputType::YesNo, &rules, "hm"),
            "Pick a weekday, please."
        );
        let blank = AnswerRules {
            error_message: Some("  ".into()),
            ..AnswerRules::default()
        };
        assert_eq!(
            reason(InputType::YesNo, &blank, "hm"),
            "Please answer yes or no."
        );
    }

    #[test]
    fn rules_are_checked_against_the_input_type() {
        let ok = |rules: AnswerRules, input| rules.validate(input);
        assert_eq!(ok(AnswerRules::default(), InputType::Email), Ok(()));
        assert_eq!(
            ok(
                AnswerRules {
                    min: Some(10.0),
                    max: Some(1.0),
                    ..AnswerRules::default()
                },
                InputType::Number
            ),
            Err("`min` (10) is greater than `max` (1)".to_string())
        );
        assert_eq!(
            ok(
                AnswerRules {
                    min: Some(1.0),
                    ..AnswerRules::default()
                },
                InputType::Text
            ),
            Err("`min` only applies to number steps, not text steps".to_string())
        );
        assert!(ok(
            AnswerRules {
                max_length: Some(5),
                ..AnswerRules::default()
            },
            InputType::YesNo
        )
        .unwrap_err()
        .contains("`max_length` only applies to text steps, not yes_no steps"));
        assert!(ok(
            AnswerRules {
                allow_past: Some(false),
                ..AnswerRules::default()
            },
            InputType::Time
        )
        .is_err());
        assert!(ok(
            AnswerRules {
                min_length: Some(4),
                max_length: Some(2),
                ..AnswerRules::default()
            },
            InputType::Text
        )
        .is_err());
        assert!(ok(
            AnswerRules {
                max_length: Some(0),
                ..AnswerRules::default()
            },
            InputType::Text
        )
        .is_err());
        assert!(ok(
            AnswerRules {
                error_message: Some(" ".into()),
                ..AnswerRules::default()
            },
            InputType::Text
        )
        .is_err());
        assert!(ok(
            AnswerRules {
                min: Some(f64::NAN),
                ..AnswerRules::default()
            },
            InputType::Number
        )
        .is_err());
        assert_eq!(
            ok(
                AnswerRules {
                    allow_past: Some(false),
                    date_order: Some(DateOrder::MonthFirst),
                    error_message: Some("When?".into()),
                    ..AnswerRules::default()
                },
                InputType::Date
            ),
            Ok(())
        );
    }

    #[test]
    fn wire_forms() {
        assert_eq!(json!(InputType::YesNo), json!("yes_no"));
        assert_eq!(
            serde_json::from_value::<InputType>(json!("select")).unwrap(),
            InputType::Select
        );
        let rules: AnswerRules =
            serde_json::from_value(json!({"allow_past": false, "date_order": "month_first"}))
                .unwrap();
        assert_eq!(rules.allow_past, Some(false));
        assert_eq!(rules.date_order, Some(DateOrder::MonthFirst));
        assert_eq!(json!(AnswerRules::default()), json!({}));
        assert_eq!(
            serde_json::from_value::<AnswerRules>(json!({})).unwrap(),
            AnswerRules::default()
        );
        assert!(serde_json::from_value::<AnswerRules>(json!({"minimum": 1})).is_err());
    }

    fn any_input() -> impl Strategy<Value = InputType> {
        prop::sample::select(vec![
            InputType::Text,
            InputType::Select,
            InputType::Number,
            InputType::Email,
            InputType::Phone,
            InputType::Date,
            InputType::Time,
            InputType::YesNo,
        ])
    }

    /// Words the parsers react to, so generated answers get past the first refusal.
    fn answer_like() -> impl Strategy<Value = String> {
        let word = prop::sample::select(vec![
            "next", "monday", "the", "20th", "in", "a", "week", "at", "3pm", "15/01", "2027",
            "half", "past", "quarter", "to", "noon", "jan", "of", "31", "-", ".", ":", "/", "+44",
            "(0)", "@", "1,000", "yes", "👍🏽", "tomorrow", "from", "now", "9999", "00", "oclock",
            "night", "ish", "é", "ⅷ", "٣",
        ]);
        prop::collection::vec(word, 0..8).prop_map(|w| w.join(" "))
    }

    proptest! {
        #[test]
        fn check_answer_never_panics(input in any_input(), text in any::<String>(), answer in answer_like()) {
            let buttons = buttons();
            let rules = AnswerRules {
                min: Some(-5.0),
                max: Some(5.0),
                min_length: Some(2),
                max_length: Some(8),
                allow_past: Some(false),
                ..AnswerRules::default()
            };
            let mut cx = AnswerContext::new(now(), chrono_tz::Pacific::Kiritimati);
            cx.buttons = &buttons;
            for text in [text.as_str(), answer.as_str()] {
                let _ = check_answer(input, &rules, text, &cx);
                let _ = check_answer(input, &AnswerRules::default(), text, &utc());
            }
        }

        #[test]
        fn dates_are_never_in_the_past_when_refused(answer in answer_like()) {
            let rules = AnswerRules { allow_past: Some(false), ..AnswerRules::default() };
            if let Ok(a) = check_answer(InputType::Date, &rules, &answer, &utc()) {
                let date = NaiveDate::parse_from_str(a.value.as_str().unwrap(), "%Y-%m-%d").unwrap();
                prop_assert!(date >= now().date_naive());
            }
        }

        #[test]
        fn accepted_times_round_trip(h in 0u32..24, m in 0u32..60) {
            let text = format!("{h:02}:{m:02}");
            let a = check_answer(InputType::Time, &AnswerRules::default(), &text, &utc()).unwrap();
            prop_assert_eq!(a.value, json!(text));
        }
    }
}
