//! Parley's guard: the pure detection layer behind the engine's guard stage and its output
//! check. It finds and masks PII ([`pii`]), seals originals for admin retrieval ([`vault`]),
//! scores abuse ([`abuse`]), screens for prompt injection ([`injection`]), checks replies
//! before they leave ([`output`]) and names the language of a message ([`lang`]). Nothing
//! here does I/O, keeps state between calls or depends on another Parley crate, so every
//! decision is a function of its input and is tested as such; the engine decides what to
//! do with the verdicts (refuse, escalate, record).

pub mod abuse;
pub mod injection;
pub mod lang;
mod normalize;
pub mod output;
pub mod pii;
pub mod vault;

pub use abuse::{score_abuse, AbuseScore};
pub use injection::{delimit_user_content, screen, InjectionVerdict};
pub use lang::{detect_language, DetectedLanguage};
pub use output::{
    check_output, make_canary, OutputPolicy, OutputVerdict, TrustedValues, Violation,
};
pub use pii::{detect, mask, Finding, Masked, PiiKind};
pub use vault::{Keyring, Sealed, VaultError, VaultKey};

/// Compiles a pattern that is a constant of this crate. Every such pattern is compiled by
/// the unit tests, so a typo fails `cargo test`, never a running server.
#[allow(clippy::expect_used)]
pub(crate) fn constant_regex(pattern: &str) -> regex::Regex {
    regex::Regex::new(pattern).expect("constant pattern compiles")
}
