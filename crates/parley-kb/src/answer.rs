//! Extractive answers without a language model: pick the retrieved chunk that covers the
//! question best, cut it down to the sentences that carry the question's terms, and say how
//! sure we are.
//!
//! Confidence is the idf-weighted share of the question's (stemmed, stop-word-free) terms
//! that the chosen chunk contains, in its text, title or headings. It lies in 0.0–1.0 and
//! means the same thing for every dataset, which is what makes one per-bot threshold
//! usable: a question whose distinctive words ("Antarctica", "crypto") appear nowhere in the
//! chunk scores low however well its common words ("ship", "pay") match — the usual shape of
//! a question the knowledge base cannot answer. Raw BM25 scores cannot do this: they grow
//! with query length and corpus statistics and have no fixed scale.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::chunk::ChunkKind;
use crate::index::{Hit, IndexError, KbIndex, TermWeight};
use crate::text::{distinct_terms, split_sentences};

/// The threshold [`AnswerOptions::default`] uses, chosen on the demo help centre's labelled
/// questions (see `BENCHMARKS.md`).
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// How answers are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnswerOptions {
    /// Minimum confidence (0.0–1.0) for an answer; below it the bot should fall back.
    pub threshold: f32,
    /// How many of the top hits compete to be the answer.
    pub candidates: usize,
    /// The most sentences an answer keeps from its chunk.
    pub max_sentences: usize,
    /// Coverage a candidate gives up per rank below the top hit when choosing which chunk
    /// to answer from: the ranking already weighs term frequency and chunk length, so a
    /// lower-ranked chunk must cover clearly more of the question to be preferred
    /// (cross-references such as "see Privacy and your data" cover a lot, answer nothing).
    pub rank_penalty: f32,
}

impl Default for AnswerOptions {
    fn default() -> Self {
        Self {
            threshold: DEFAULT_THRESHOLD,
            candidates: 5,
            max_sentences: 3,
            rank_penalty: 0.3,
        }
    }
}

/// Where an answer came from, for citations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerSource {
    /// The dataset.
    pub dataset_id: String,
    /// The document (record).
    pub doc_id: String,
    /// The chunk.
    pub chunk_id: String,
    /// The document's title.
    pub title: String,
    /// The document's URL, when known.
    pub url: Option<String>,
    /// The headings above the chunk.
    pub heading_path: Vec<String>,
}

/// An answer cut from the knowledge base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The sentences that answer the question, in their original order.
    pub text: String,
    /// 0.0–1.0; see the module documentation.
    pub confidence: f32,
    /// Where it came from.
    pub source: AnswerSource,
}

impl KbIndex {
    /// Searches `datasets` for `query` and returns the best extractive answer whose
    /// confidence reaches `options.threshold`, or `None` (the caller's fallback).
    /// Blocking, like [`KbIndex::search`].
    pub fn answer<S: AsRef<str>>(
        &self,
        datasets: &[S],
        query: &str,
        options: &AnswerOptions,
    ) -> Result<Option<Answer>, IndexError> {
        let hits = self.search(datasets, query, options.candidates.max(1))?;
        let terms = self.term_weights(query)?;
        Ok(extract_answer(&terms, &hits, options))
    }
}

/// [`best_passage`] if its confidence reaches `options.threshold`.
pub fn extract_answer(
    terms: &[TermWeight],
    hits: &[Hit],
    options: &AnswerOptions,
) -> Option<Answer> {
    best_passage(terms, hits, options).filter(|answer| answer.confidence >= options.threshold)
}

/// The best answer among the first `options.candidates` hits whatever its confidence: the
/// chunk covering most of the query's weight, less [`AnswerOptions::rank_penalty`] per rank
/// below the top hit, trimmed to its best run of sentences. `terms` come from [`KbIndex::term_weights`]; `hits` may come
/// from BM25 or from a fused list. `None` when there are no hits or no terms.
pub fn best_passage(terms: &[TermWeight], hits: &[Hit], options: &AnswerOptions) -> Option<Answer> {
    let total: f32 = terms.iter().map(|t| t.idf).sum();
    if total <= 0.0 {
        return None;
    }
    let mut best: Option<(f32, f32, &Hit)> = None;
    for (rank, hit) in hits.iter().take(options.candidates.max(1)).enumerate() {
        let chunk = &hit.chunk;
        let mut present: HashSet<String> = distinct_terms(&chunk.text).into_iter().collect();
        present.extend(distinct_terms(&chunk.title));
        for heading in &chunk.heading_path {
            present.extend(distinct_terms(heading));
        }
        let coverage = covered_weight(terms, &present) / total;
        let preference = coverage - options.rank_penalty * rank as f32;
        if best.is_none_or(|(score, _, _)| preference > score) {
            best = Some((preference, coverage, hit));
        }
    }
    let (_, confidence, hit) = best?;
    let chunk = &hit.chunk;
    let text = match chunk.kind {
        // The pair stays whole: the answer is everything after the question line.
        ChunkKind::QaPair => chunk
            .text
            .split_once('\n')
            .map_or(chunk.text.as_str(), |(_, answer)| answer)
            .trim()
            .to_owned(),
        ChunkKind::Passage => trim_to_matching_sentences(&chunk.text, terms, options.max_sentences),
    };
    Some(Answer {
        text,
        confidence: confidence.clamp(0.0, 1.0),
        source: AnswerSource {
            dataset_id: hit.dataset_id.clone(),
            doc_id: chunk.doc_id.clone(),
            chunk_id: chunk.chunk_id.clone(),
            title: chunk.title.clone(),
            url: chunk.url.clone(),
            heading_path: chunk.heading_path.clone(),
        },
    })
}

fn covered_weight(terms: &[TermWeight], present: &HashSet<String>) -> f32 {
    terms
        .iter()
        .filter(|t| present.contains(&t.term))
        .map(|t| t.idf)
        .sum()
}

/// The run of at most `max_sentences` consecutive sentences that covers the most query
/// weight (shorter wins a tie), plus the sentence before it when that one introduces a list
/// (ends with `:`). The whole text when nothing matches.
fn trim_to_matching_sentences(text: &str, terms: &[TermWeight], max_sentences: usize) -> String {
    let sentences: Vec<_> = text.split("\n\n").flat_map(split_sentences).collect();
    if sentences.is_empty() {
        return text.trim().to_owned();
    }
    let sentence_terms: Vec<HashSet<String>> = sentences
        .iter()
        .map(|s| distinct_terms(s.text).into_iter().collect())
        .collect();
    let max_sentences = max_sentences.max(1);
    let mut best: Option<(f32, usize, usize)> = None;
    for start in 0..sentences.len() {
        let mut present: HashSet<String> = HashSet::new();
        for (extra, sentence) in sentence_terms[start..]
            .iter()
            .take(max_sentences)
            .enumerate()
        {
            present.extend(sentence.iter().cloned());
            let end = start + extra;
            // A small cost per extra sentence: more text must buy more coverage.
            let score = covered_weight(terms, &present) - 0.01 * extra as f32;
            if best.is_none_or(|(s, _, _)| score > s) {
                best = Some((score, start, end));
            }
        }
    }
    let Some((score, start, end)) = best else {
        return text.trim().to_owned();
    };
    if score <= 0.0 {
        return text.trim().to_owned();
    }
    // A list item makes sense only with the sentence introducing its list.
    let mut intro = None;
    let mut before = start;
    while before > 0 && is_list_item(sentences[before].text) {
        before -= 1;
        if !is_list_item(sentences[before].text) && sentences[before].text.ends_with(':') {
            intro = Some(before);
        }
    }
    let mut out = String::new();
    if let Some(intro) = intro {
        out.push_str(sentences[intro].text);
    }
    for sentence in &sentences[start..=end] {
        if !out.is_empty() {
            out.push(if sentence.starts_line { '\n' } else { ' ' });
        }
        out.push_str(sentence.text);
    }
    out
}

fn is_list_item(sentence: &str) -> bool {
    let digits = sentence.chars().take_while(char::is_ascii_digit).count();
    sentence.starts_with("- ")
        || sentence.starts_with("* ")
        || sentence.starts_with('•')
        || (digits > 0 && matches!(sentence[digits..].chars().next(), Some('.' | ')')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::Chunk;

    fn weights(terms: &[(&str, f32)]) -> Vec<TermWeight> {
        terms
            .iter()
            .map(|(term, idf)| TermWeight {
                term: (*term).to_owned(),
                idf: *idf,
            })
            .collect()
    }

    fn hit(text: &str, kind: ChunkKind) -> Hit {
        Hit {
            dataset_id: "ds".into(),
            chunk: Chunk {
                doc_id: "d".into(),
                chunk_id: "d:0".into(),
                title: "Shipping".into(),
                heading_path: vec!["Costs".into()],
                url: None,
                position: 0,
                kind,
                text: text.into(),
            },
            score: 1.0,
        }
    }

    #[test]
    fn trims_to_the_matching_sentences() {
        let text = "We love parcels. Standard delivery costs $4.95 and takes 3-5 days. \
                    Our vans are green. Express costs $12.";
        let got =
            trim_to_matching_sentences(text, &weights(&[("standard", 2.0), ("cost", 1.0)]), 3);
        assert_eq!(got, "Standard delivery costs $4.95 and takes 3-5 days.");
    }

    #[test]
    fn keeps_a_list_with_its_introduction() {
        let text = "Intro.\n\nWe accept:\n- Visa\n- PayPal";
        let got = trim_to_matching_sentences(text, &weights(&[("paypal", 3.0)]), 1);
        assert_eq!(got, "We accept:\n- PayPal");
    }

    #[test]
    fn confidence_is_the_covered_share_of_query_weight() {
        let hits = [hit("Standard delivery costs $4.95.", ChunkKind::Passage)];
        let answer = best_passage(
            &weights(&[("standard", 1.0), ("antarctica", 3.0)]),
            &hits,
            &AnswerOptions::default(),
        )
        .unwrap();
        assert!((answer.confidence - 0.25).abs() < 1e-6);
        assert!(extract_answer(
            &weights(&[("standard", 1.0), ("antarctica", 3.0)]),
            &hits,
            &AnswerOptions::default()
        )
        .is_none());
    }

    #[test]
    fn qa_pairs_answer_whole() {
        let hits = [hit(
            "Do you ship abroad?\nYes. To 30 countries.",
            ChunkKind::QaPair,
        )];
        let answer =
            best_passage(&weights(&[("ship", 1.0)]), &hits, &AnswerOptions::default()).unwrap();
        assert_eq!(answer.text, "Yes. To 30 countries.");
        assert!((answer.confidence - 1.0).abs() < 1e-6);
    }
}
