//! Human handoff, the pure parts: teams and agents, business hours (open now? when next?),
//! and the escalation signals (asking for a human in other words, frustration).

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::settings::BusinessHours;
use crate::text::normalize_words;
use crate::validation::ValidationError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Team {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /teams` (name required) and `PUT /teams/{id}` (fields given change).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamInput {
    /// 1 to 100 characters, not only spaces (required to create).
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 100, pattern = r"\S")
    )]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_length = 1000))]
    pub description: Option<String>,
}

impl TeamInput {
    /// The team with this input applied over `current` (or a new one).
    pub fn apply(self, current: Option<&Team>) -> Result<(String, String), ValidationError> {
        let mut errors = ValidationError::new();
        let sent_too_long = self
            .name
            .as_deref()
            .is_some_and(|n| crate::validation::too_long(n, 100));
        let name = match (self.name, current) {
            (Some(n), _) => crate::validation::clean_name(&n),
            (None, Some(t)) => t.name.clone(),
            (None, None) => String::new(),
        };
        if name.is_empty() || name.chars().count() > 100 || sent_too_long {
            errors.push("name", "a team needs a name of 1 to 100 characters");
        }
        if self
            .description
            .as_deref()
            .is_some_and(|d| crate::validation::too_long(d, 1000))
        {
            errors.push("description", "at most 1000 characters");
        }
        let description = self
            .description
            .map(|d| crate::validation::clean_text(&d))
            .or_else(|| current.map(|t| t.description.clone()))
            .unwrap_or_default();
        errors.into_result((name, description))
    }
}

/// A human agent: a person with an `agent` API key, in zero or more teams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agent {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub team_ids: Vec<Uuid>,
    /// The agent's API key (its id; the secret is shown once, at creation).
    pub key_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentInput {
    /// 1 to 100 characters, not only spaces (required to create).
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 100, pattern = r"\S")
    )]
    pub name: Option<String>,
    pub email: Option<String>,
    pub team_ids: Option<Vec<Uuid>>,
}

impl AgentInput {
    pub fn apply(
        self,
        current: Option<&Agent>,
    ) -> Result<(String, Option<String>, Vec<Uuid>), ValidationError> {
        let mut errors = ValidationError::new();
        let sent_too_long = self
            .name
            .as_deref()
            .is_some_and(|n| crate::validation::too_long(n, 100));
        let name = match (self.name, current) {
            (Some(n), _) => crate::validation::clean_name(&n),
            (None, Some(a)) => a.name.clone(),
            (None, None) => String::new(),
        };
        if name.is_empty() || name.chars().count() > 100 || sent_too_long {
            errors.push("name", "an agent needs a name of 1 to 100 characters");
        }
        let email = match self.email {
            Some(e) => Some(e.trim().to_string()).filter(|e| !e.is_empty()),
            None => current.and_then(|a| a.email.clone()),
        };
        if let Some(e) = &email {
            if !e.contains('@') || e.chars().count() > 254 {
                errors.push("email", "not an e-mail address");
            }
        }
        let mut team_ids = self
            .team_ids
            .or_else(|| current.map(|a| a.team_ids.clone()))
            .unwrap_or_default();
        team_ids.sort();
        team_ids.dedup();
        errors.into_result((name, email, team_ids))
    }
}

fn weekday(day: &str) -> Option<Weekday> {
    Some(match day.to_ascii_lowercase().as_str() {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

/// Opening intervals of one local date.
fn intervals_on(hours: &BusinessHours, date: chrono::NaiveDate) -> Vec<(NaiveTime, NaiveTime)> {
    let mut out: Vec<(NaiveTime, NaiveTime)> = hours
        .weekly
        .iter()
        .filter(|iv| weekday(&iv.day) == Some(date.weekday()))
        .filter_map(|iv| {
            let open = NaiveTime::parse_from_str(&iv.open, "%H:%M").ok()?;
            let close = NaiveTime::parse_from_str(&iv.close, "%H:%M").ok()?;
            (open < close).then_some((open, close))
        })
        .collect();
    out.sort();
    out
}

impl BusinessHours {
    /// The time zone the hours are in: their own, else the bot's.
    pub fn zone(&self, bot_zone: Tz) -> Tz {
        self.timezone
            .as_deref()
            .and_then(|t| t.parse().ok())
            .unwrap_or(bot_zone)
    }

    /// Is `now` inside an opening interval?
    pub fn is_open(&self, now: DateTime<Utc>, tz: Tz) -> bool {
        let local = now.with_timezone(&tz);
        let t = local.time();
        intervals_on(self, local.date_naive())
            .iter()
            .any(|(open, close)| *open <= t && t < *close)
    }

    /// When the team is next open (now, if open), within two weeks; `None` when the
    /// schedule has no opening at all.
    pub fn next_open(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Tz>> {
        let local = now.with_timezone(&tz);
        for days in 0..15 {
            let date = local.date_naive() + Duration::days(days);
            for (open, close) in intervals_on(self, date) {
                let opens = tz.from_local_datetime(&date.and_time(open)).earliest()?;
                let closes = tz.from_local_datetime(&date.and_time(close)).earliest()?;
                if closes <= local {
                    continue;
                }
                return Some(if opens <= local { local } else { opens });
            }
        }
        None
    }
}

/// "Monday at 09:00" (or "today at 14:00", "tomorrow at 09:00"): when the team is back.
pub fn describe_next_open(next: DateTime<Tz>, now: DateTime<Utc>) -> String {
    let today = now.with_timezone(&next.timezone()).date_naive();
    let day = next.date_naive();
    let when = if day == today {
        "today".to_string()
    } else if day == today + Duration::days(1) {
        "tomorrow".to_string()
    } else {
        next.format("%A").to_string()
    };
    format!("{when} at {}", next.format("%H:%M"))
}

/// Phrases of someone asking for a human without the bot's transfer keywords.
const HUMAN_PATTERNS: &[&str] = &[
    r"\b(talk|speak|chat|connect|transfer)\b.{0,20}\b(to|with|me to)\b.{0,15}\b(a |an |the |some |real |live |actual )*(human|person|people|agent|someone|somebody|representative|rep|operator|staff|employee|manager|advisor|adviser)\b",
    r"\b(real|live|actual)\s+(person|human|agent)\b",
    r"\bcustomer\s+(service|support|care)\s+(agent|representative|rep|person)\b",
    r"\b(human|agent|operator|representative)\s+please\b",
    r"\bi\s+(want|need|would like)\s+(a|an|to talk to a|to speak to a)?\s*(human|person|agent|representative)\b",
    r"\bare\s+you\s+a\s+(bot|robot|machine)\b.{0,30}\b(human|person)\b",
];

/// Lexicon for frustration: words and their weight (0–1).
const FRUSTRATION_WORDS: &[(&str, f32)] = &[
    ("useless", 0.5),
    ("ridiculous", 0.45),
    ("terrible", 0.4),
    ("awful", 0.4),
    ("horrible", 0.4),
    ("worst", 0.45),
    ("pathetic", 0.5),
    ("joke", 0.25),
    ("stupid", 0.45),
    ("incompetent", 0.5),
    ("unacceptable", 0.45),
    ("furious", 0.55),
    ("angry", 0.4),
    ("annoyed", 0.3),
    ("frustrated", 0.45),
    ("frustrating", 0.45),
    ("fed up", 0.5),
    ("sick of", 0.45),
    ("waste of time", 0.5),
    ("not helpful", 0.35),
    ("doesn't help", 0.35),
    ("does not help", 0.35),
    ("you don't understand", 0.45),
    ("you dont understand", 0.45),
    ("not listening", 0.4),
    ("again and again", 0.3),
    ("for the third time", 0.45),
    ("already told you", 0.45),
    ("scam", 0.45),
    ("complaint", 0.3),
    ("refund now", 0.4),
    ("lawyer", 0.4),
    ("cancel my account", 0.3),
];

/// Is the user asking for a person in words the bot's transfer keywords may not cover?
pub fn asks_for_human(text: &str) -> bool {
    use std::sync::OnceLock;
    static SET: OnceLock<Option<regex::RegexSet>> = OnceLock::new();
    let set = SET.get_or_init(|| {
        regex::RegexSetBuilder::new(HUMAN_PATTERNS)
            .case_insensitive(true)
            .build()
            .ok()
    });
    let words = normalize_words(text);
    set.as_ref().is_some_and(|s| s.is_match(&words))
}

/// A frustration score in 0–1 from a lexicon and typographic signals (shouting, "!!!",
/// "???"), combined as independent evidence: `1 − Π(1 − wᵢ)`.
pub fn frustration_score(text: &str) -> f32 {
    // Words only: punctuation becomes a space, so "useless!!!" is the word "useless".
    let cleaned: String = normalize_words(text)
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' {
                c
            } else {
                ' '
            }
        })
        .collect();
    let words = format!(
        " {} ",
        cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    let mut keep = 1.0_f32;
    for (phrase, weight) in FRUSTRATION_WORDS {
        if words.contains(&format!(" {phrase} ")) {
            keep *= 1.0 - weight;
        }
    }
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.len() >= 12 {
        let upper = letters.iter().filter(|c| c.is_uppercase()).count();
        if upper * 10 >= letters.len() * 7 {
            keep *= 1.0 - 0.35;
        }
    }
    if text.contains("!!") {
        keep *= 1.0 - 0.2;
    }
    if text.contains("??") {
        keep *= 1.0 - 0.15;
    }
    1.0 - keep
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::settings::OpenInterval;

    fn hours() -> BusinessHours {
        let iv = |day: &str, open: &str, close: &str| OpenInterval {
            day: day.into(),
            open: open.into(),
            close: close.into(),
        };
        BusinessHours {
            timezone: Some("Europe/London".into()),
            weekly: vec![
                iv("mon", "09:00", "17:00"),
                iv("tue", "09:00", "12:00"),
                iv("tue", "13:00", "17:00"),
                iv("fri", "09:00", "17:00"),
            ],
            offline_message: String::new(),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn open_and_next_open_with_a_fixed_clock() {
        let h = hours();
        let tz: Tz = h.zone(chrono_tz::UTC);
        // Monday 2026-11-23 10:00 London (= UTC in winter).
        assert!(h.is_open(at("2026-11-23T10:00:00Z"), tz));
        assert!(
            !h.is_open(at("2026-11-23T17:00:00Z"), tz),
            "close is exclusive"
        );
        // Tuesday lunch: next open 13:00 the same day.
        let now = at("2026-11-24T12:30:00Z");
        assert!(!h.is_open(now, tz));
        let next = h.next_open(now, tz).unwrap();
        assert_eq!(describe_next_open(next, now), "today at 13:00");
        // Tuesday evening: next is Friday 09:00.
        let now = at("2026-11-24T18:00:00Z");
        assert_eq!(
            describe_next_open(h.next_open(now, tz).unwrap(), now),
            "Friday at 09:00"
        );
        // Sunday night: tomorrow (Monday) 09:00.
        let now = at("2026-11-22T22:00:00Z");
        assert_eq!(
            describe_next_open(h.next_open(now, tz).unwrap(), now),
            "tomorrow at 09:00"
        );
        // Summer time: 08:30 UTC is 09:30 in London.
        assert!(h.is_open(at("2026-06-22T08:30:00Z"), tz));
        assert!(BusinessHours::default().next_open(now, tz).is_none());
    }

    #[test]
    fn asking_for_a_human_in_other_words() {
        for yes in [
            "can I talk to a person",
            "Can I speak with a real human please?",
            "connect me to an agent",
            "I want to talk to someone",
            "I need a human",
            "real person please",
            "customer service representative",
            "is there a live agent?",
        ] {
            assert!(asks_for_human(yes), "{yes}");
        }
        for no in [
            "what's the person limit for the table",
            "talk about shipping",
            "my agent code is 123",
            "how do I return a shirt",
        ] {
            assert!(!asks_for_human(no), "{no}");
        }
    }

    #[test]
    fn frustration_scores() {
        assert!(
            frustration_score("This is useless!!! Worst service ever, I'm so frustrated") > 0.8
        );
        assert!(frustration_score("I ALREADY TOLD YOU MY ORDER NUMBER") > 0.5);
        assert!(frustration_score("Where is my order?") < 0.1);
        assert!(frustration_score("Thanks, that was helpful!") < 0.1);
        assert!(frustration_score("") < 0.01);
    }
}
