//! The compiled keyword matcher: all of a bot's enabled rules become one Aho-Corasick
//! automaton (for `contains` and `starts_with` keywords), one `RegexSet` (for `regex`
//! keywords) and one hash map (for `exact` keywords). Matching a message costs one pass
//! over its text whatever the number of rules; the engine compiles a bot's matcher once
//! and caches it until the bot changes.
//!
//! Winner: the highest `priority`; among equal priorities, the oldest rule (smallest id,
//! since ids are time-ordered). Rules are sorted into that order at compile time, so the
//! winner is simply the matched rule with the lowest rank.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Regex, RegexBuilder, RegexSet};
use uuid::Uuid;

use crate::rule::{KeywordRule, MatchType, REGEX_SIZE_LIMIT};
use crate::text::{first_word_char, normalize_exact, normalize_words, word_boundaries};

#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    #[error("building the keyword automaton failed: {0}")]
    Automaton(#[from] aho_corasick::BuildError),
    #[error("compiling the regex rules failed: {0}")]
    Regex(#[from] regex::Error),
}

/// Which rule matched, and on which keyword.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleMatch<'a> {
    pub rule: &'a KeywordRule,
    pub keyword: &'a str,
}

#[derive(Debug, Clone, Copy)]
struct WordPattern {
    rank: usize,
    keyword: usize,
    anchored: bool,
}

/// A bot's enabled rules, compiled for matching.
#[derive(Debug)]
pub struct KeywordMatcher {
    /// Enabled rules in rank order (priority desc, id asc).
    rules: Vec<KeywordRule>,
    words: Option<AhoCorasick>,
    /// For each automaton pattern, every (rule, keyword) that uses it.
    word_patterns: Vec<Vec<WordPattern>>,
    exact: HashMap<String, (usize, usize)>,
    /// All regexes at once: a cheap "does any regex match?" filter.
    regex_filter: Option<RegexSet>,
    /// The same regexes one by one, in rank order, with their (rank, keyword index):
    /// asking each in turn stops at the best match, where `RegexSet::matches` would have
    /// to run every pattern (1 ms a message at 500 regexes).
    regexes: Vec<(Regex, usize, usize)>,
}

impl KeywordMatcher {
    /// Compiles the enabled rules of `rules`; disabled ones are left out.
    pub fn compile(rules: impl IntoIterator<Item = KeywordRule>) -> Result<Self, MatcherError> {
        let mut rules: Vec<KeywordRule> = rules.into_iter().filter(|r| r.enabled).collect();
        rules.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));

        let mut word_index: HashMap<String, usize> = HashMap::new();
        let mut word_sources: Vec<String> = Vec::new();
        let mut word_patterns: Vec<Vec<WordPattern>> = Vec::new();
        let mut exact: HashMap<String, (usize, usize)> = HashMap::new();
        let mut regex_sources: Vec<String> = Vec::new();
        let mut regex_patterns = Vec::new();

        for (rank, rule) in rules.iter().enumerate() {
            for (k, keyword) in rule.keywords.iter().enumerate() {
                match rule.match_type {
                    MatchType::Exact => {
                        // Lower rank wins, and ranks only grow here, so keep the first.
                        exact.entry(normalize_exact(keyword)).or_insert((rank, k));
                    }
                    MatchType::Contains | MatchType::StartsWith => {
                        let norm = normalize_words(keyword);
                        let id = *word_index.entry(norm.clone()).or_insert_with(|| {
                            word_sources.push(norm);
                            word_patterns.push(Vec::new());
                            word_sources.len() - 1
                        });
                        word_patterns[id].push(WordPattern {
                            rank,
                            keyword: k,
                            anchored: rule.match_type == MatchType::StartsWith,
                        });
                    }
                    MatchType::Regex => {
                        regex_sources.push(keyword.clone());
                        regex_patterns.push((rank, k));
                    }
                }
            }
        }

        let words = if word_sources.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&word_sources)?,
            )
        };
        let regex_filter = if regex_sources.is_empty() {
            None
        } else {
            Some(
                regex::RegexSetBuilder::new(&regex_sources)
                    .case_insensitive(true)
                    .size_limit(REGEX_SIZE_LIMIT.saturating_mul(regex_sources.len().max(1)))
                    .build()?,
            )
        };
        let regexes = regex_sources
            .iter()
            .zip(regex_patterns)
            .map(|(source, (rank, k))| {
                RegexBuilder::new(source)
                    .case_insensitive(true)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map(|re| (re, rank, k))
            })
            .collect::<Result<Vec<_>, _>>()?;

        Ok(KeywordMatcher {
            rules,
            words,
            word_patterns,
            exact,
            regex_filter,
            regexes,
        })
    }

    /// Number of enabled rules compiled in.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The winning rule for `message`, if any rule matches.
    pub fn find(&self, message: &str) -> Option<RuleMatch<'_>> {
        let mut best: Option<(usize, usize)> = None;

        if !self.exact.is_empty() {
            if let Some(&(rank, k)) = self.exact.get(&normalize_exact(message)) {
                offer(&mut best, rank, k);
            }
        }

        if let Some(ac) = &self.words {
            let text = normalize_words(message);
            // Word boundaries are worked out only once the automaton has a hit.
            let mut boundaries: Option<Vec<usize>> = None;
            let mut lead: Option<usize> = None;
            for m in ac.find_overlapping_iter(&text) {
                let b = boundaries.get_or_insert_with(|| word_boundaries(&text));
                let is_boundary = |i: usize| b.binary_search(&i).is_ok();
                if !(is_boundary(m.start()) && is_boundary(m.end())) {
                    continue;
                }
                for p in &self.word_patterns[m.pattern().as_usize()] {
                    if p.anchored && m.start() > *lead.get_or_insert_with(|| first_word_char(&text))
                    {
                        continue;
                    }
                    offer(&mut best, p.rank, p.keyword);
                }
            }
        }

        if let Some(filter) = &self.regex_filter {
            let text = message.trim();
            if filter.is_match(text) {
                // In rank order: the first regex that matches is the best one, and none
                // ranked after an earlier keyword hit can win.
                for (re, rank, k) in &self.regexes {
                    if best.is_some_and(|(r, _)| *rank >= r) {
                        break;
                    }
                    if re.is_match(text) {
                        offer(&mut best, *rank, *k);
                        break;
                    }
                }
            }
        }

        best.map(|(rank, k)| {
            let rule = &self.rules[rank];
            RuleMatch {
                rule,
                keyword: &rule.keywords[k],
            }
        })
    }

    /// The compiled rule with this id, if enabled.
    pub fn rule(&self, id: Uuid) -> Option<&KeywordRule> {
        self.rules.iter().find(|r| r.id == id)
    }
}

/// Keeps the better (lower) rank.
fn offer(best: &mut Option<(usize, usize)>, rank: usize, keyword: usize) {
    if best.is_none_or(|(r, _)| rank < r) {
        *best = Some((rank, keyword));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::ResponseType;
    use chrono::Utc;

    fn rule(name: &str, match_type: MatchType, keywords: &[&str], priority: i32) -> KeywordRule {
        KeywordRule {
            id: crate::new_id(),
            bot_id: Uuid::nil(),
            name: name.into(),
            keywords: keywords.iter().map(|s| s.to_string()).collect(),
            match_type,
            response_type: ResponseType::Text,
            response: format!("{name} reply"),
            buttons: vec![],
            priority,
            enabled: true,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn winner(rules: Vec<KeywordRule>, msg: &str) -> Option<String> {
        let m = KeywordMatcher::compile(rules).unwrap();
        m.find(msg).map(|m| m.rule.name.clone())
    }

    #[test]
    fn contains_matches_whole_words_only() {
        let r = || vec![rule("greet", MatchType::Contains, &["hi"], 0)];
        assert_eq!(winner(r(), "hi there"), Some("greet".into()));
        assert_eq!(winner(r(), "oh, hi!"), Some("greet".into()));
        assert_eq!(winner(r(), "HI"), Some("greet".into()));
        assert_eq!(winner(r(), "this"), None);
        assert_eq!(winner(r(), "hijack"), None);
        assert_eq!(winner(r(), "chi"), None);
    }

    #[test]
    fn contains_finds_a_later_whole_word_after_a_partial_one() {
        let r = vec![rule("greet", MatchType::Contains, &["hi"], 0)];
        assert_eq!(winner(r, "this is me saying hi"), Some("greet".into()));
    }

    #[test]
    fn multi_word_keywords_tolerate_spacing_and_case() {
        let r = vec![rule("gm", MatchType::Contains, &["good morning"], 0)];
        assert_eq!(winner(r, "Well,   GOOD\tmorning to you"), Some("gm".into()));
    }

    #[test]
    fn starts_with_needs_the_first_words() {
        let r = || vec![rule("track", MatchType::StartsWith, &["track"], 0)];
        assert_eq!(winner(r(), "Track my order"), Some("track".into()));
        assert_eq!(winner(r(), "  ¿track order?"), Some("track".into()));
        assert_eq!(winner(r(), "please track my order"), None);
        assert_eq!(winner(r(), "tracking my order"), None);
    }

    #[test]
    fn exact_ignores_case_whitespace_and_punctuation() {
        let r = || vec![rule("yes", MatchType::Exact, &["yes please"], 0)];
        assert_eq!(winner(r(), "  Yes   please!! "), Some("yes".into()));
        assert_eq!(winner(r(), "yes please now"), None);
        assert_eq!(winner(r(), "yes"), None);
    }

    #[test]
    fn regex_is_case_insensitive() {
        let r = || vec![rule("order", MatchType::Regex, &[r"order\s*#?\d{5,}"], 0)];
        assert_eq!(winner(r(), "Where is ORDER #123456?"), Some("order".into()));
        assert_eq!(winner(r(), "order 12"), None);
    }

    #[test]
    fn unicode_words() {
        let r = || {
            vec![
                rule("cafe", MatchType::Contains, &["café"], 0),
                rule("privet", MatchType::Contains, &["привет"], 0),
                rule("strasse", MatchType::StartsWith, &["ÖFFNUNGSZEITEN"], 0),
            ]
        };
        assert_eq!(winner(r(), "Le CAFÉ est ouvert?"), Some("cafe".into()));
        assert_eq!(winner(r(), "cafés"), None);
        assert_eq!(winner(r(), "ПРИВЕТ, бот"), Some("privet".into()));
        assert_eq!(winner(r(), "öffnungszeiten bitte"), Some("strasse".into()));
    }

    #[test]
    fn highest_priority_wins_across_match_types() {
        let rules = vec![
            rule("low", MatchType::Contains, &["order"], 1),
            rule("high", MatchType::Regex, &["ord.r"], 9),
            rule("mid", MatchType::StartsWith, &["where"], 5),
        ];
        assert_eq!(winner(rules, "where is my order"), Some("high".into()));
    }

    #[test]
    fn the_best_ranked_regex_wins_and_loses_to_better_keywords() {
        let rules = || {
            vec![
                rule("any digits", MatchType::Regex, &[r"\d+"], 1),
                rule("order no", MatchType::Regex, &[r"order\s*\d+"], 7),
                rule("refund", MatchType::Contains, &["refund"], 5),
            ]
        };
        assert_eq!(winner(rules(), "order 123"), Some("order no".into()));
        assert_eq!(winner(rules(), "refund 123"), Some("refund".into()));
        assert_eq!(winner(rules(), "call 123"), Some("any digits".into()));
        assert_eq!(winner(rules(), "refund order 123"), Some("order no".into()));
    }

    #[test]
    fn priority_ties_go_to_the_oldest_rule() {
        let first = rule("first", MatchType::Contains, &["refund"], 3);
        let second = rule("second", MatchType::Contains, &["refund"], 3);
        // Whatever order they are given in.
        assert_eq!(
            winner(vec![second.clone(), first.clone()], "refund please"),
            Some("first".into())
        );
        assert_eq!(
            winner(vec![first, second], "refund please"),
            Some("first".into())
        );
    }

    #[test]
    fn disabled_rules_never_match() {
        let mut off = rule("off", MatchType::Contains, &["hello"], 100);
        off.enabled = false;
        let on = rule("on", MatchType::Contains, &["hello"], 0);
        assert_eq!(winner(vec![off.clone(), on], "hello"), Some("on".into()));
        assert_eq!(winner(vec![off], "hello"), None);
    }

    #[test]
    fn reports_the_keyword_that_matched() {
        let m = KeywordMatcher::compile(vec![rule(
            "hours",
            MatchType::Contains,
            &["hours", "open"],
            0,
        )])
        .unwrap();
        assert_eq!(m.find("are you open today").unwrap().keyword, "open");
    }

    #[test]
    fn empty_matcher_matches_nothing() {
        let m = KeywordMatcher::compile(Vec::new()).unwrap();
        assert!(m.is_empty());
        assert!(m.find("anything").is_none());
    }

    proptest::proptest! {
        #[test]
        fn never_matches_inside_a_longer_word(prefix in "[a-z]{1,6}", suffix in "[a-z]{0,6}") {
            let m = KeywordMatcher::compile(vec![rule("k", MatchType::Contains, &["hi"], 0)]).unwrap();
            let word = format!("{prefix}hi{suffix}");
            proptest::prop_assert!(m.find(&word).is_none());
            let spaced = format!("{word} hi");
            proptest::prop_assert!(m.find(&spaced).is_some());
        }

        #[test]
        fn never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
            let m = KeywordMatcher::compile(vec![
                rule("a", MatchType::Contains, &["ß", "i̇"], 0),
                rule("b", MatchType::StartsWith, &["x"], 1),
                rule("c", MatchType::Exact, &["y"], 2),
                rule("d", MatchType::Regex, &["z+"], 3),
            ]).unwrap();
            let _ = m.find(&text);
        }
    }
}
