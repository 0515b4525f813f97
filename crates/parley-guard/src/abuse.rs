//! Abuse and profanity scoring. The word list is `rustrict`'s (maintained, ~3,000 entries
//! graded profane / offensive / sexual / mean at mild, moderate and severe), whose matcher
//! already sees through "f*ck", "sh1t", "f u c k", repeated letters, accents and look-alike
//! characters, and avoids the classic false positives ("assassin", "Scunthorpe"). On top of
//! it this module adds what a support bot needs and a profanity filter does not know:
//! whether the words are *aimed at someone*. "You are stupid" and "you're useless" are
//! insults to the agent; "this printer is stupid" and "damn, it's late again" are a
//! frustrated customer.
//!
//! # Score
//!
//! `score` is in 0–1:
//!
//! | what | score |
//! |---|---|
//! | nothing found | 0 |
//! | mild swearing ("damn", "hell", "crap") | 0.2 |
//! | moderate swearing or sexual language ("shit", "f*ck this") | 0.45 |
//! | severe or offensive (slurs, "kys") | 0.75 |
//! | any insult aimed at the reader ("you are stupid", "fuck you", "you're useless") | ≥ 0.6 |
//!
//! Each further distinct term adds 0.05. [`ABUSIVE_THRESHOLD`] (0.5) is where a message
//! counts towards the engine's "repeated abuse" escalation; anything above 0 means the bot
//! must not mirror the language.

use std::sync::LazyLock;

use regex::Regex;
use rustrict::{Censor, Type};
use serde::{Deserialize, Serialize};

use crate::constant_regex;
use crate::normalize::normalize;

/// Score at and above which a message is abusive rather than merely salty.
pub const ABUSIVE_THRESHOLD: f32 = 0.5;

/// How abusive a message is and which words made it so (as written, lowercased).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbuseScore {
    pub score: f32,
    pub terms: Vec<String>,
    /// An insult or profanity is aimed at the reader ("you …").
    pub targeted: bool,
}

impl AbuseScore {
    pub fn is_abusive(&self) -> bool {
        self.score >= ABUSIVE_THRESHOLD
    }
}

/// Words that are insults when said *of someone* but too common to flag on their own
/// ("this app is useless" is a complaint). Matched on normalised text, so "u5ele55" counts.
const PERSON_INSULTS: &[&str] = &[
    "useless",
    "worthless",
    "pathetic",
    "incompetent",
    "clueless",
    "brainless",
    "hopeless",
    "garbage",
    "trash",
    "rubbish",
    "joke",
    "clown",
    "clowns",
    "idiot",
    "idiots",
    "moron",
    "morons",
    "stupid",
    "dumb",
    "imbecile",
    "loser",
    "losers",
    "scum",
    "disgrace",
    "fool",
    "fools",
    "dense",
    "thick",
    "dimwit",
    "halfwit",
    "nitwit",
    "cretin",
    "ignorant",
    "liar",
    "liars",
    "parasite",
    "parasites",
    "waste",
    "disgusting",
    "braindead",
    "dumbass",
    "jackass",
    "asshole",
    "assholes",
    "bastard",
    "bastards",
    "bitch",
    "prick",
    "dick",
    "jerk",
    "retard",
    "retarded",
    "scammer",
    "scammers",
    "thief",
    "thieves",
    "crook",
    "crooks",
    "hate",
    "suck",
    "sucks",
];

/// "you are X", "you're a X", "you X", "your X service", "screw you", "f you".
static AIMED_AT_READER: LazyLock<Regex> = LazyLock::new(|| {
    let insults = PERSON_INSULTS.join("|");
    constant_regex(&format!(
        r"\b(?:you|u|ya|youre|you're|ur|your|yall|y'all)\b(?:\s+(?:are|r|re|is|really|so|such|just|a|an|the|bunch|of|complete|total|absolute|utter|fucking|freaking|bloody|damn|fking|effing|all|guys|people|bot|lot)\b)*\s+(?:{insults})\b|\b(?:{insults})\s+(?:bot|agent|assistant|robot|machine)\b|\b(?:screw|f|fk|fuck|fck|damn|hate|go\s+to\s+hell|shut\s+up)\s+(?:you|u|ya|yourself)\b|\b(?:shut\s+up|kys|kill\s+yourself|go\s+die|drop\s+dead)\b"
    ))
});

/// What `rustrict` counts as abuse here: anything inappropriate, and mean words.
fn abusive(typ: Type) -> bool {
    typ.is(Type::INAPPROPRIATE | (Type::MEAN & Type::MILD_OR_HIGHER))
}

/// The words of `text` that are abusive on their own, as written (lowercased, edge
/// punctuation trimmed). Runs of single letters ("f u c k") are judged joined.
fn flagged_terms(text: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    let mut add = |term: &str| {
        let term = term
            .trim_matches(|c: char| !c.is_alphanumeric() && c != '*')
            .to_lowercase();
        if !term.is_empty() && !terms.contains(&term) {
            terms.push(term);
        }
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut i = 0;
    while i < words.len() {
        let single = |w: &str| w.chars().count() == 1;
        if single(words[i]) {
            let run_end = (i..words.len())
                .find(|&j| !single(words[j]))
                .unwrap_or(words.len());
            if run_end - i >= 3 {
                let joined: String = words[i..run_end].concat();
                if abusive(Censor::from_str(&joined).analyze()) {
                    add(&words[i..run_end].join(" "));
                }
                i = run_end;
                continue;
            }
        }
        if abusive(Censor::from_str(words[i]).analyze()) {
            add(words[i]);
        }
        i += 1;
    }
    terms
}

/// Scores `text` for abuse. Cheap enough for every message (a few µs for chat-sized text).
pub fn score_abuse(text: &str) -> AbuseScore {
    let analysis = Censor::from_str(text).analyze();
    let mut terms = if abusive(analysis) {
        flagged_terms(text)
    } else {
        Vec::new()
    };

    let severe = analysis.is((Type::PROFANE | Type::OFFENSIVE | Type::SEXUAL) & Type::SEVERE)
        || analysis.is(Type::OFFENSIVE & Type::MODERATE_OR_HIGHER)
        || analysis.is(Type::MEAN & Type::SEVERE);
    let moderate = analysis.is((Type::PROFANE | Type::SEXUAL) & Type::MODERATE_OR_HIGHER);
    let mild = analysis.is((Type::PROFANE | Type::SEXUAL | Type::OFFENSIVE) & Type::MILD_OR_HIGHER);
    let mean = analysis.is(Type::MEAN & Type::MILD_OR_HIGHER);

    let normalized = normalize(text);
    let aimed = AIMED_AT_READER.find(&normalized);
    let targeted = aimed.is_some();
    if let Some(m) = aimed {
        let phrase = m.as_str().to_owned();
        if terms.is_empty() {
            terms.push(phrase);
        }
    }

    let mut score: f32 = if severe {
        0.75
    } else if moderate {
        0.45
    } else if mild {
        0.2
    } else if mean {
        0.1
    } else {
        0.0
    };
    if targeted {
        score = (score + 0.35).max(0.6);
    }
    if score > 0.0 {
        score += 0.05 * terms.len().saturating_sub(1) as f32;
    } else {
        terms.clear();
    }
    AbuseScore {
        score: score.min(1.0),
        terms,
        targeted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_support_text_scores_zero() {
        for text in [
            "Where is my order? It was due yesterday.",
            "I need to cancel my subscription",
            "Can you help me assess the class assignment?",
            "I live in Scunthorpe",
            "push it to the next day please",
            "this app is useless on my old phone",
        ] {
            let s = score_abuse(text);
            assert!(s.score < 0.2, "{text:?} scored {s:?}");
            assert!(!s.is_abusive(), "{text:?}");
        }
    }

    #[test]
    fn severity_orders_the_scores() {
        let mild = score_abuse("damn, my parcel is late again");
        let moderate = score_abuse("this shit never works");
        let targeted = score_abuse("you are stupid");
        let harsh = score_abuse("fuck you, you useless bot");
        assert!(mild.score > 0.0 && !mild.is_abusive(), "{mild:?}");
        assert!(moderate.score > mild.score, "{moderate:?} vs {mild:?}");
        assert!(
            targeted.score > moderate.score,
            "{targeted:?} vs {moderate:?}"
        );
        assert!(targeted.is_abusive() && targeted.targeted);
        assert!(harsh.score > targeted.score, "{harsh:?} vs {targeted:?}");
    }

    #[test]
    fn obfuscated_swearing_is_caught() {
        for (text, term) in [
            ("what the f*ck is this", "f*ck"),
            ("this is sh1t", "sh1t"),
            ("f u c k this service", "f u c k"),
            ("you are a m0r0n", "m0r0n"),
        ] {
            let s = score_abuse(text);
            assert!(s.score > 0.0, "{text:?}: {s:?}");
            assert!(
                s.terms.iter().any(|t| t.contains(term)),
                "{text:?}: terms {:?} lack {term:?}",
                s.terms
            );
        }
    }

    #[test]
    fn insults_aimed_at_the_reader_are_targeted() {
        for text in [
            "you are stupid",
            "you're useless",
            "You are a complete idiot",
            "ur so dumb",
            "screw you",
            "useless bot",
            "y o u  a r e  u s e l e s s",
        ] {
            let s = score_abuse(text);
            assert!(s.targeted && s.is_abusive(), "{text:?}: {s:?}");
        }
        for text in ["the manual is stupid", "I hate waiting"] {
            let s = score_abuse(text);
            assert!(!s.targeted && !s.is_abusive(), "{text:?}: {s:?}");
        }
    }
}
