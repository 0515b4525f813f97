//! Structure-aware chunking. A heading is a hard boundary: chunks never span two sections,
//! so every chunk has one heading path. Inside a section, whole paragraphs are packed
//! towards [`ChunkConfig::target_tokens`]; a paragraph too big for one chunk is split into
//! sentences, and a sentence too big into runs of words. Consecutive chunks of a section
//! share up to [`ChunkConfig::overlap_tokens`] of trailing sentences so that an answer
//! straddling a cut is still found whole in one of them. Q&A pairs are one chunk each,
//! whatever their size. Text is never dropped: every word of the document is in some chunk.
//!
//! Sizes use [`crate::text::estimate_tokens`] (`ceil(words × 4/3)`). A chunk exceeds the
//! target only when a single word does.

use serde::{Deserialize, Serialize};

use crate::parse::{DocBody, ParsedDoc, Section};
use crate::text::{estimate_tokens, split_sentences};

/// Chunk sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkConfig {
    /// Largest chunk to aim for, in estimated tokens.
    pub target_tokens: usize,
    /// Trailing sentences of a chunk repeated at the start of the next one (same section
    /// only), up to this many estimated tokens. 0 turns overlap off.
    pub overlap_tokens: usize,
}

impl Default for ChunkConfig {
    /// 200 tokens with 30 (15 %) of overlap: small enough that the best chunk is a focused
    /// answer, big enough to keep a policy and its exceptions together.
    fn default() -> Self {
        Self {
            target_tokens: 200,
            overlap_tokens: 30,
        }
    }
}

/// What a chunk holds, which decides how an answer is cut from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChunkKind {
    /// Part of an article.
    Passage,
    /// A whole FAQ pair: the question on the first line, the answer after it.
    QaPair,
}

/// A piece of a document, the unit that is indexed, retrieved and cited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// The document (record) this chunk belongs to.
    pub doc_id: String,
    /// `"{doc_id}:{position}"`: stable as long as the document's text is unchanged.
    pub chunk_id: String,
    /// The document's title.
    pub title: String,
    /// The headings above the chunk, outermost first.
    pub heading_path: Vec<String>,
    /// The document's URL, when known.
    pub url: Option<String>,
    /// 0-based order of the chunk in its document.
    pub position: u32,
    /// Passage or Q&A pair.
    pub kind: ChunkKind,
    /// The text. Paragraphs are separated by a blank line, lines of a list by `\n`.
    pub text: String,
}

/// The id of the chunk at `position` in document `doc_id`.
pub fn chunk_id(doc_id: &str, position: u32) -> String {
    format!("{doc_id}:{position}")
}

/// Splits a parsed document into chunks, in reading order.
pub fn chunk_document(doc_id: &str, doc: &ParsedDoc, config: &ChunkConfig) -> Vec<Chunk> {
    let target = config.target_tokens.max(1);
    let mut texts: Vec<(Vec<String>, String, ChunkKind)> = Vec::new();
    match &doc.body {
        DocBody::QaPair { question, answer } => {
            texts.push((
                Vec::new(),
                format!("{question}\n{}", answer.trim()),
                ChunkKind::QaPair,
            ));
        }
        DocBody::Sections(sections) => {
            for section in sections {
                for text in chunk_section(section, target, config.overlap_tokens) {
                    texts.push((section.heading_path.clone(), text, ChunkKind::Passage));
                }
            }
        }
    }
    texts
        .into_iter()
        .zip(0u32..)
        .map(|((heading_path, text, kind), position)| Chunk {
            doc_id: doc_id.to_owned(),
            chunk_id: chunk_id(doc_id, position),
            title: doc.title.clone(),
            heading_path,
            url: doc.url.clone(),
            position,
            kind,
            text,
        })
        .collect()
}

/// How a piece joins the one before it in a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    Paragraph,
    Line,
    Space,
}

#[derive(Debug, Clone)]
struct Piece<'a> {
    text: &'a str,
    tokens: usize,
    join: Join,
}

/// A section's paragraphs as pieces no bigger than `target` (unless one word is).
fn pieces<'a>(section: &'a Section, target: usize) -> Vec<Piece<'a>> {
    let mut out = Vec::new();
    for paragraph in &section.paragraphs {
        let tokens = estimate_tokens(paragraph);
        if tokens == 0 {
            continue;
        }
        if tokens <= target {
            out.push(Piece {
                text: paragraph,
                tokens,
                join: Join::Paragraph,
            });
            continue;
        }
        let mut first = true;
        for sentence in split_sentences(paragraph) {
            let join = if first {
                Join::Paragraph
            } else if sentence.starts_line {
                Join::Line
            } else {
                Join::Space
            };
            first = false;
            let tokens = estimate_tokens(sentence.text);
            if tokens <= target {
                out.push(Piece {
                    text: sentence.text,
                    tokens,
                    join,
                });
            } else {
                out.extend(word_runs(sentence.text, target, join));
            }
        }
    }
    out
}

/// Cuts an over-long sentence into runs of at most `target` estimated tokens, on spaces.
fn word_runs(sentence: &str, target: usize, first_join: Join) -> Vec<Piece<'_>> {
    let words_per_run = (target * 3 / 4).max(1);
    let mut out = Vec::new();
    let mut run_start: Option<usize> = None;
    let mut run_end = 0;
    let mut words = 0;
    let mut join = first_join;
    for (start, word) in word_spans(sentence) {
        if words == words_per_run {
            if let Some(begin) = run_start.take() {
                let text = &sentence[begin..run_end];
                out.push(Piece {
                    text,
                    tokens: estimate_tokens(text),
                    join,
                });
                join = Join::Space;
            }
            words = 0;
        }
        run_start.get_or_insert(start);
        run_end = start + word.len();
        words += 1;
    }
    if let Some(begin) = run_start {
        let text = &sentence[begin..run_end];
        out.push(Piece {
            text,
            tokens: estimate_tokens(text),
            join,
        });
    }
    out
}

/// The words of `text` with their byte offsets.
fn word_spans(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_whitespace().map(move |word| {
        // `split_whitespace` yields sub-slices of `text`, so the offset is the pointer gap.
        let offset = word.as_ptr() as usize - text.as_ptr() as usize;
        (offset, word)
    })
}

fn chunk_section(section: &Section, target: usize, overlap_tokens: usize) -> Vec<String> {
    let pieces = pieces(section, target);
    let mut chunks = Vec::new();
    let mut current: Vec<Piece<'_>> = Vec::new();
    let mut current_tokens = 0;
    // Whether `current` holds anything beyond the overlap carried from the previous chunk.
    let mut has_new = false;

    for piece in pieces {
        if has_new && current_tokens + piece.tokens > target {
            chunks.push(render(&current));
            current = overlap(&current, overlap_tokens);
            current_tokens = current.iter().map(|p| p.tokens).sum();
            if current_tokens + piece.tokens > target {
                current.clear();
                current_tokens = 0;
            }
        }
        current_tokens += piece.tokens;
        current.push(piece);
        has_new = true;
    }
    if has_new {
        chunks.push(render(&current));
    }
    chunks
}

/// The trailing sentences of a chunk that fit in `budget` tokens, oldest first.
fn overlap<'a>(pieces: &[Piece<'a>], budget: usize) -> Vec<Piece<'a>> {
    let mut sentences: Vec<Piece<'a>> = Vec::new();
    for piece in pieces {
        let parts = split_sentences(piece.text);
        for (index, sentence) in parts.iter().enumerate() {
            let join = match (index, sentence.starts_line) {
                (0, _) => piece.join,
                (_, true) => Join::Line,
                (_, false) => Join::Space,
            };
            sentences.push(Piece {
                text: sentence.text,
                tokens: estimate_tokens(sentence.text),
                join,
            });
        }
    }
    let mut kept = Vec::new();
    let mut used = 0;
    for sentence in sentences.into_iter().rev() {
        if used + sentence.tokens > budget {
            break;
        }
        used += sentence.tokens;
        kept.push(sentence);
    }
    kept.reverse();
    kept
}

fn render(pieces: &[Piece<'_>]) -> String {
    let mut out = String::new();
    for (index, piece) in pieces.iter().enumerate() {
        if index > 0 {
            out.push_str(match piece.join {
                Join::Paragraph => "\n\n",
                Join::Line => "\n",
                Join::Space => " ",
            });
        }
        out.push_str(piece.text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(paragraphs: &[&str]) -> Section {
        Section {
            heading_path: vec!["H".into()],
            paragraphs: paragraphs.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn small_paragraphs_share_a_chunk() {
        let chunks = chunk_section(&section(&["One two.", "Three four."]), 200, 30);
        assert_eq!(chunks, vec!["One two.\n\nThree four."]);
    }

    #[test]
    fn overlong_word_runs_are_cut_on_spaces() {
        let sentence = (0..20)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let runs = word_runs(&sentence, 8, Join::Paragraph);
        assert_eq!(runs.len(), 4);
        assert_eq!(runs[0].text, "w0 w1 w2 w3 w4 w5");
        assert_eq!(runs[3].text, "w18 w19");
        assert!(runs.iter().all(|r| r.tokens <= 8));
    }
}
