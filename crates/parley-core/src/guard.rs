//! The guard's domain: a bot's guard policy (`settings.guard`: what happens to PII, abuse,
//! prompt injection and unsafe replies), what the guard writes on a message
//! (`meta.guard`), and the safety events it records for review. The detection itself lives
//! in `parley-guard`; the engine applies these policies to its verdicts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::validation::ValidationError;

/// The PII kinds the guard detects, by their names in settings and `meta.guard.masked`.
pub const PII_KINDS: [&str; 7] = [
    "credit_card",
    "ssn",
    "email",
    "phone",
    "iban",
    "ip_address",
    "date_of_birth",
];

pub const DEFAULT_PII_WARN_MESSAGE: &str = "For your safety, please don't share card numbers, \
    ID numbers or other personal details in this chat. I've hidden what you sent.";
pub const DEFAULT_CALM_MESSAGE: &str = "I understand this is frustrating, and I want to help. \
    Could you tell me what went wrong?";
pub const DEFAULT_CLOSE_MESSAGE: &str = "I'm ending this conversation now. You're welcome to \
    start a new one whenever you're ready.";
pub const DEFAULT_REFUSE_MESSAGE: &str =
    "Sorry, I can't help with that. Is there something about your order or account I can help with?";
pub const DEFAULT_BLOCKED_MESSAGE: &str =
    "Sorry, I can't share that. Is there anything else I can help you with?";
/// Measured on the injection corpus (BENCHMARKS.md): detection 0.91, false positives 0.01.
pub const DEFAULT_INJECTION_THRESHOLD: f32 = 0.5;
pub const DEFAULT_ABUSE_LIMIT: u32 = 3;
const MAX_SECRETS: usize = 100;
const MAX_LINK_DOMAINS: usize = 200;

/// What happens to one kind of PII in a user's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PiiAction {
    /// Replaced by a placeholder everywhere; the original is dropped.
    #[default]
    Mask,
    /// Replaced everywhere; the original is kept encrypted for an admin to read.
    MaskAndSeal,
    /// Left as written.
    Off,
}

/// What repeated abuse leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AbuseAction {
    /// Hand the conversation to a human (a transfer, source `escalation`).
    #[default]
    Escalate,
    /// Say `close_message` and close the conversation.
    Close,
    /// Only the calm reply; never escalate.
    Off,
}

/// What happens to a message flagged as a prompt-injection attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum InjectionPolicy {
    /// Answer with `refuse_message`; nothing else sees the message.
    Refuse,
    /// Rules, flows and the fallback still answer; the AI is skipped for that message.
    #[default]
    NoLlm,
    /// Answer as usual, with a hardening notice in the AI's system prompt.
    Pass,
}

/// `settings.guard`: the bot's guard policy. Every part is on by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GuardSettings {
    pub pii: PiiGuard,
    pub abuse: AbuseGuard,
    pub injection: InjectionGuard,
    pub output: OutputGuard,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PiiGuard {
    /// For every kind not named in `kinds` (default `mask`).
    pub action: PiiAction,
    /// Per kind (`credit_card`, `ssn`, `email`, `phone`, `iban`, `ip_address`,
    /// `date_of_birth`): overrides `action`.
    pub kinds: BTreeMap<String, PiiAction>,
    /// Said once per conversation, the first time the user shares PII (empty: never).
    pub warn_message: String,
}

impl Default for PiiGuard {
    fn default() -> Self {
        PiiGuard {
            action: PiiAction::Mask,
            kinds: BTreeMap::new(),
            warn_message: DEFAULT_PII_WARN_MESSAGE.into(),
        }
    }
}

impl PiiGuard {
    /// The action for a kind (by its name in [`PII_KINDS`]).
    pub fn action_for(&self, kind: &str) -> PiiAction {
        self.kinds.get(kind).copied().unwrap_or(self.action)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AbuseGuard {
    /// What the `limit`-th abusive message in a conversation leads to.
    pub action: AbuseAction,
    /// Abusive messages in a conversation before `action` (default 3; 0: never).
    pub limit: u32,
    /// The bot's reply to an abusive message (never mirroring it).
    pub calm_message: String,
    /// Said when `action: close` closes the conversation.
    pub close_message: String,
}

impl Default for AbuseGuard {
    fn default() -> Self {
        AbuseGuard {
            action: AbuseAction::Escalate,
            limit: DEFAULT_ABUSE_LIMIT,
            calm_message: DEFAULT_CALM_MESSAGE.into(),
            close_message: DEFAULT_CLOSE_MESSAGE.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InjectionGuard {
    pub policy: InjectionPolicy,
    /// Score (0–1) at which a message counts as an injection attempt (default 0.5).
    pub threshold: f32,
    /// The reply under `policy: refuse`.
    pub refuse_message: String,
}

impl Default for InjectionGuard {
    fn default() -> Self {
        InjectionGuard {
            policy: InjectionPolicy::NoLlm,
            threshold: DEFAULT_INJECTION_THRESHOLD,
            refuse_message: DEFAULT_REFUSE_MESSAGE.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutputGuard {
    /// Check every reply before it leaves (default true).
    pub enabled: bool,
    /// Hosts AI replies may link to (a host allows its subdomains). Links the bot's own
    /// texts contain are always allowed in its author-written replies.
    pub allowed_link_domains: Vec<String>,
    /// Turn the link check off.
    pub allow_all_links: bool,
    /// Strings no reply may contain (internal URLs, codes), in any disguise.
    pub secrets: Vec<String>,
    /// Replaces a reply that fails the check.
    pub blocked_message: String,
}

impl Default for OutputGuard {
    fn default() -> Self {
        OutputGuard {
            enabled: true,
            allowed_link_domains: Vec::new(),
            allow_all_links: false,
            secrets: Vec::new(),
            blocked_message: DEFAULT_BLOCKED_MESSAGE.into(),
        }
    }
}

/// Greeting and fallback in one language (`settings.texts_by_language.<code>`); an empty
/// text keeps the bot's default one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LanguageTexts {
    pub greeting_message: String,
    pub fallback_message: String,
}

/// A language code as settings take it: `fr`, `pt`, or a locale such as `fr-CA` / `fr_CA`,
/// reduced to its lower-case language part. `None` when it is not one.
pub fn language_code(raw: &str) -> Option<String> {
    let lang = raw.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    ((2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase())).then_some(lang)
}

pub(crate) fn validate_guard(errors: &mut ValidationError, g: &GuardSettings, max_chars: usize) {
    for kind in g.pii.kinds.keys() {
        if !PII_KINDS.contains(&kind.as_str()) {
            errors.push(
                format!("guard.pii.kinds.{kind}"),
                format!("not a PII kind; one of {}", PII_KINDS.join(", ")),
            );
        }
    }
    if g.abuse.limit > 100 {
        errors.push("guard.abuse.limit", "at most 100 (0: never escalate)");
    }
    if !(0.0..=1.0).contains(&g.injection.threshold) || g.injection.threshold == 0.0 {
        errors.push(
            "guard.injection.threshold",
            "above 0 and at most 1 (use policy `pass` to let everything through)",
        );
    }
    for (field, text, required) in [
        ("guard.pii.warn_message", &g.pii.warn_message, false),
        ("guard.abuse.calm_message", &g.abuse.calm_message, true),
        ("guard.abuse.close_message", &g.abuse.close_message, true),
        (
            "guard.injection.refuse_message",
            &g.injection.refuse_message,
            true,
        ),
        (
            "guard.output.blocked_message",
            &g.output.blocked_message,
            true,
        ),
    ] {
        let n = text.chars().count();
        if n > max_chars {
            errors.push(field, format!("at most {max_chars} characters, got {n}"));
        }
        if required && text.trim().is_empty() {
            errors.push(field, "cannot be empty: the bot must say something");
        }
        if let Err(e) = crate::template::check(text) {
            errors.push(field, e);
        }
    }
    if g.output.secrets.len() > MAX_SECRETS {
        errors.push(
            "guard.output.secrets",
            format!("at most {MAX_SECRETS} secrets"),
        );
    }
    for (i, s) in g.output.secrets.iter().enumerate() {
        if s.trim().chars().count() < 4 || s.chars().count() > 500 {
            errors.push(
                format!("guard.output.secrets[{i}]"),
                "a secret has 4 to 500 characters",
            );
        }
    }
    if g.output.allowed_link_domains.len() > MAX_LINK_DOMAINS {
        errors.push(
            "guard.output.allowed_link_domains",
            format!("at most {MAX_LINK_DOMAINS} domains"),
        );
    }
    for (i, d) in g.output.allowed_link_domains.iter().enumerate() {
        let d = d.trim().trim_start_matches("*.");
        let ok = !d.is_empty()
            && d.len() <= 253
            && d.contains('.')
            && d.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
        if !ok {
            errors.push(
                format!("guard.output.allowed_link_domains[{i}]"),
                "a host name such as `example.com` (no scheme or path)",
            );
        }
    }
}

pub(crate) fn validate_texts_by_language(
    errors: &mut ValidationError,
    texts: &BTreeMap<String, LanguageTexts>,
    max_chars: usize,
) {
    for (code, t) in texts {
        if language_code(code).as_deref() != Some(code.as_str()) {
            errors.push(
                format!("texts_by_language.{code}"),
                "keys are lower-case ISO 639-1 language codes such as `fr`",
            );
        }
        for (name, text) in [
            ("greeting_message", &t.greeting_message),
            ("fallback_message", &t.fallback_message),
        ] {
            let field = format!("texts_by_language.{code}.{name}");
            let n = text.chars().count();
            if n > max_chars {
                errors.push(
                    field.clone(),
                    format!("at most {max_chars} characters, got {n}"),
                );
            }
            if let Err(e) = crate::template::check(text) {
                errors.push(field, e);
            }
        }
    }
}

/// What the guard did to or found in a message (`meta.guard`). Never holds a PII value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageGuard {
    /// PII masked in this (user) message: kind → count.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub masked: BTreeMap<String, u32>,
    /// The original is kept encrypted (`GET …/messages/{id}/original`, admin only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sealed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injection: Option<InjectionMark>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abuse: Option<AbuseMark>,
    /// On a bot reply the output guard replaced: why (`canary`, `secret`, `pii:<kind>`,
    /// `link:<host>`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<String>,
    /// On a reply the guard itself gave: to what (`pii_warning`, `abuse`, `abuse_escalated`,
    /// `abuse_closed`, `injection_refused`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

impl MessageGuard {
    pub fn is_empty(&self) -> bool {
        self == &MessageGuard::default()
    }
}

/// A prompt-injection screen's verdict on a user message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InjectionMark {
    pub score: f32,
    /// At or above the bot's threshold.
    pub flagged: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The policy applied when flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<InjectionPolicy>,
}

/// The abuse score of a user message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AbuseMark {
    pub score: f32,
    pub abusive: bool,
}

/// What a safety event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SafetyKind {
    /// PII was masked (and maybe sealed, or the user warned).
    Pii,
    /// An abusive message (calm reply, escalation or closing).
    Abuse,
    /// A flagged prompt-injection attempt.
    Injection,
    /// A reply the output guard stopped.
    Output,
}

impl SafetyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SafetyKind::Pii => "pii",
            SafetyKind::Abuse => "abuse",
            SafetyKind::Injection => "injection",
            SafetyKind::Output => "output",
        }
    }

    pub fn parse(s: &str) -> Option<SafetyKind> {
        [
            SafetyKind::Pii,
            SafetyKind::Abuse,
            SafetyKind::Injection,
            SafetyKind::Output,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One guard decision, recorded for review (`GET /bots/{id}/safety-events`). `detail`
/// holds kinds, counts, scores and reasons, never a PII value or a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SafetyEvent {
    pub id: Uuid,
    pub bot_id: Uuid,
    pub conversation_id: Uuid,
    /// The user message it is about, or the reply that was replaced.
    pub message_id: Option<Uuid>,
    pub kind: SafetyKind,
    /// `masked`, `sealed`, `warned`, `calm_reply`, `escalated`, `closed`, `refused`,
    /// `no_llm`, `passed`, `replaced`.
    pub action: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_codes_reduce_locales() {
        assert_eq!(language_code("fr").as_deref(), Some("fr"));
        assert_eq!(language_code("fr-CA").as_deref(), Some("fr"));
        assert_eq!(language_code("PT_br").as_deref(), Some("pt"));
        assert_eq!(language_code("french"), None);
        assert_eq!(language_code(""), None);
        assert_eq!(language_code("1x"), None);
    }

    #[test]
    fn per_kind_actions_override_the_default() {
        let mut p = PiiGuard::default();
        p.kinds.insert("email".into(), PiiAction::Off);
        assert_eq!(p.action_for("email"), PiiAction::Off);
        assert_eq!(p.action_for("credit_card"), PiiAction::Mask);
    }

    #[test]
    fn validation_names_each_bad_field() {
        let mut g = GuardSettings::default();
        g.pii.kinds.insert("passport".into(), PiiAction::Mask);
        g.injection.threshold = 1.5;
        g.abuse.calm_message = " ".into();
        g.output.allowed_link_domains = vec!["https://x.com/".into(), "help.example.com".into()];
        g.output.secrets = vec!["ab".into()];
        let mut errors = ValidationError::new();
        validate_guard(&mut errors, &g, 4096);
        let fields: Vec<&str> = errors.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "guard.pii.kinds.passport",
                "guard.injection.threshold",
                "guard.abuse.calm_message",
                "guard.output.secrets[0]",
                "guard.output.allowed_link_domains[0]",
            ]
        );
        let mut ok = ValidationError::new();
        validate_guard(&mut ok, &GuardSettings::default(), 4096);
        assert!(ok.errors.is_empty());
    }
}
