//! Language detection with `lingua`. Lingua was chosen over `whatlang` because support
//! messages are short: on one-sentence messages whatlang named "Bonjour, je voudrais
//! annuler ma commande" Portuguese and "Hello, how are you doing today?" Norwegian, while
//! lingua got both right, with a clear margin. Its cost is size and time: each language's
//! n-gram models add a few MB to the binary and a detection takes well under a millisecond
//! in release builds. Only the languages in [`LANGUAGES`] are compiled in (see the crate's
//! `Cargo.toml`); adding one means adding its cargo feature and its entry here.
//!
//! Fewer than [`MIN_WORDS`] words is too little to tell ("ok", "thanks!", "hi there"): the
//! answer is `None`, not a guess, and the caller keeps the conversation's last language.

use std::sync::LazyLock;

use lingua::{Language, LanguageDetector, LanguageDetectorBuilder};
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// Languages the detector chooses among.
pub const LANGUAGES: [Language; 17] = [
    Language::English,
    Language::French,
    Language::German,
    Language::Spanish,
    Language::Italian,
    Language::Portuguese,
    Language::Dutch,
    Language::Polish,
    Language::Swedish,
    Language::Russian,
    Language::Ukrainian,
    Language::Turkish,
    Language::Arabic,
    Language::Chinese,
    Language::Japanese,
    Language::Korean,
    Language::Hindi,
];

/// Messages with fewer words than this get no language.
pub const MIN_WORDS: usize = 3;

/// A detected language: ISO 639-1 code and lingua's confidence (0–1) in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectedLanguage {
    pub code: String,
    pub confidence: f32,
}

static DETECTOR: LazyLock<LanguageDetector> =
    LazyLock::new(|| LanguageDetectorBuilder::from_languages(&LANGUAGES).build());

/// Words that carry language: Unicode words with at least one letter (numbers, card
/// numbers and placeholders' digits do not count; each CJK ideograph is a word).
fn word_count(text: &str) -> usize {
    text.unicode_words()
        .filter(|w| w.chars().any(char::is_alphabetic))
        .count()
}

/// The language of `text`, or `None` when it is too short or has no letters.
pub fn detect_language(text: &str) -> Option<DetectedLanguage> {
    if word_count(text) < MIN_WORDS {
        return None;
    }
    let (language, confidence) = DETECTOR
        .compute_language_confidence_values(text)
        .into_iter()
        .next()?;
    Some(DetectedLanguage {
        code: language.iso_code_639_1().to_string(),
        confidence: confidence as f32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_language_of_support_messages() {
        let cases = [
            (
                "Where is my order? It was supposed to arrive yesterday.",
                "en",
            ),
            ("Bonjour, je voudrais annuler ma commande", "fr"),
            ("Wo ist meine Bestellung?", "de"),
            ("¿Dónde está mi pedido? Debía llegar ayer.", "es"),
            ("Vorrei cancellare il mio abbonamento", "it"),
            ("Quero cancelar minha assinatura", "pt"),
            ("Mijn pakket is nog niet aangekomen", "nl"),
            ("Где мой заказ?", "ru"),
            ("我的订单在哪里？", "zh"),
        ];
        for (text, code) in cases {
            let got = detect_language(text);
            assert_eq!(
                got.as_ref().map(|d| d.code.as_str()),
                Some(code),
                "{text:?}: {got:?}"
            );
            assert!(got.is_some_and(|d| d.confidence > 0.5 && d.confidence <= 1.0));
        }
    }

    #[test]
    fn short_or_letterless_text_gets_none() {
        for text in [
            "hi",
            "ok thanks",
            "",
            "4111 1111 1111 1111",
            "👍👍👍",
            "[EMAIL_REDACTED] 12",
        ] {
            assert_eq!(detect_language(text), None, "{text:?}");
        }
    }
}
