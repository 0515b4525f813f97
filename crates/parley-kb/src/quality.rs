//! Measuring retrieval and answer quality on a labelled question set, so tuning the
//! analyzer, boosts or threshold is judged by numbers rather than by a few hand-picked
//! questions. Each question names the document that answers it, or none when the knowledge
//! base cannot answer it; the evaluation reports recall@1, recall@5 and MRR@10 at document
//! level on the answerable ones, how often the bot answers (and answers from the right
//! document) at a threshold, and how often it honestly declines the unanswerable ones.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::answer::{best_passage, AnswerOptions};
use crate::index::{IndexError, KbIndex};
use crate::text::distinct_terms;

/// One line of a question file: `{"question": "...", "answer": "shipping.md"}`, with
/// `"answer": null` for a question the knowledge base cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelledQuestion {
    /// The question as a customer would type it.
    pub question: String,
    /// The id of the document that answers it, or `None`.
    pub answer: Option<String>,
}

/// Reads a JSON Lines question file; blank lines are skipped. The error names the line.
pub fn parse_questions(jsonl: &str) -> Result<Vec<LabelledQuestion>, String> {
    jsonl
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| {
            serde_json::from_str(line).map_err(|err| format!("line {}: {err}", number + 1))
        })
        .collect()
}

/// What happened to one question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionOutcome {
    /// The question.
    pub question: LabelledQuestion,
    /// 1-based rank of the first hit from the expected document within the top 10.
    pub rank: Option<usize>,
    /// The document of the top hit.
    pub top_doc: Option<String>,
    /// The document the answer (before the threshold) would be cut from.
    pub answer_doc: Option<String>,
    /// That answer's confidence.
    pub confidence: Option<f32>,
    /// That answer's text.
    pub answer_text: Option<String>,
    /// The question's terms (stemmed) missing from that answer's chunk, with their idf:
    /// what to add to the articles, or what the question is really about.
    pub unmatched_terms: Vec<(String, f32)>,
}

/// Aggregate figures at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    /// The threshold the answer figures use.
    pub threshold: f32,
    /// Questions with a labelled document.
    pub answerable: usize,
    /// Questions labelled unanswerable.
    pub unanswerable: usize,
    /// Share of answerable questions whose top hit is from the right document.
    pub recall_at_1: f64,
    /// Share whose right document is among the top 5 hits.
    pub recall_at_5: f64,
    /// Mean reciprocal rank of the right document within the top 10 (0 when absent).
    pub mrr_at_10: f64,
    /// Share of answerable questions that get an answer.
    pub answer_rate: f64,
    /// Share of answerable questions answered from the right document.
    pub correct_answer_rate: f64,
    /// Share of unanswerable questions that get no answer (an honest "I don't know").
    pub idk_rate: f64,
}

/// Runs every question against `datasets`: a top-10 search for the ranking figures and
/// [`best_passage`] for the answer, whose confidence is kept so reports at other thresholds
/// need no new searches (see [`report`]).
pub fn evaluate<S: AsRef<str>>(
    index: &KbIndex,
    datasets: &[S],
    questions: &[LabelledQuestion],
    options: &AnswerOptions,
) -> Result<Vec<QuestionOutcome>, IndexError> {
    let mut outcomes = Vec::with_capacity(questions.len());
    for question in questions {
        let hits = index.search(datasets, &question.question, 10)?;
        let rank = question.answer.as_ref().and_then(|expected| {
            hits.iter()
                .position(|hit| &hit.chunk.doc_id == expected)
                .map(|p| p + 1)
        });
        let terms = index.term_weights(&question.question)?;
        let answer = best_passage(&terms, &hits, options);
        let unmatched_terms = answer
            .as_ref()
            .and_then(|a| hits.iter().find(|h| h.chunk.chunk_id == a.source.chunk_id))
            .map(|hit| {
                let chunk = &hit.chunk;
                let mut present: HashSet<String> =
                    distinct_terms(&chunk.text).into_iter().collect();
                present.extend(distinct_terms(&chunk.title));
                present.extend(chunk.heading_path.iter().flat_map(|h| distinct_terms(h)));
                terms
                    .iter()
                    .filter(|t| !present.contains(&t.term))
                    .map(|t| (t.term.clone(), t.idf))
                    .collect()
            })
            .unwrap_or_default();
        outcomes.push(QuestionOutcome {
            question: question.clone(),
            rank,
            top_doc: hits.first().map(|hit| hit.chunk.doc_id.clone()),
            answer_doc: answer.as_ref().map(|a| a.source.doc_id.clone()),
            confidence: answer.as_ref().map(|a| a.confidence),
            answer_text: answer.map(|a| a.text),
            unmatched_terms,
        });
    }
    Ok(outcomes)
}

/// The figures for `outcomes` at `threshold`.
pub fn report(outcomes: &[QuestionOutcome], threshold: f32) -> QualityReport {
    let answered = |o: &QuestionOutcome| o.confidence.is_some_and(|c| c >= threshold);
    let (answerable, unanswerable): (Vec<_>, Vec<_>) =
        outcomes.iter().partition(|o| o.question.answer.is_some());
    let share = |count: usize, of: usize| {
        if of == 0 {
            0.0
        } else {
            count as f64 / of as f64
        }
    };
    let n = answerable.len();
    QualityReport {
        threshold,
        answerable: n,
        unanswerable: unanswerable.len(),
        recall_at_1: share(answerable.iter().filter(|o| o.rank == Some(1)).count(), n),
        recall_at_5: share(
            answerable
                .iter()
                .filter(|o| o.rank.is_some_and(|r| r <= 5))
                .count(),
            n,
        ),
        mrr_at_10: if n == 0 {
            0.0
        } else {
            answerable
                .iter()
                .map(|o| o.rank.map_or(0.0, |r| 1.0 / r as f64))
                .sum::<f64>()
                / n as f64
        },
        answer_rate: share(answerable.iter().filter(|o| answered(o)).count(), n),
        correct_answer_rate: share(
            answerable
                .iter()
                .filter(|o| answered(o) && o.answer_doc == o.question.answer)
                .count(),
            n,
        ),
        idk_rate: share(
            unanswerable.iter().filter(|o| !answered(o)).count(),
            unanswerable.len(),
        ),
    }
}
