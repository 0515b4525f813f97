//! Retrieval and answer quality on the demo help centre.
//!
//! Indexes `examples/help-centre/*.md` (document id = file name) in a temporary directory,
//! runs every question of `examples/help-centre-questions.jsonl` and prints recall@1,
//! recall@5, MRR@10, the answer rate on answerable questions and the honest "I don't know"
//! rate on unanswerable ones at the default threshold, then the same figures for a sweep
//! of thresholds.
//!
//! ```text
//! cargo run -p parley-kb --example kb_quality --release [-- --threshold 0.6] [--verbose]
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use parley_kb::quality::{evaluate, parse_questions, report, QualityReport};
use parley_kb::{
    chunk_document, parse, AnswerOptions, ChunkConfig, DocumentChunks, KbIndex, ParseLimits,
};

const DATASET: &str = "help-centre";

fn main() -> Result<()> {
    let mut threshold = parley_kb::DEFAULT_THRESHOLD;
    let mut verbose = false;
    let mut options = AnswerOptions::default();
    let mut chunking = ChunkConfig::default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut dir = root.join("help-centre");
    let mut questions_path = root.join("help-centre-questions.jsonl");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threshold" => {
                threshold = args.next().context("--threshold needs a value")?.parse()?;
            }
            "--verbose" => verbose = true,
            "--rank-penalty" => {
                options.rank_penalty = args
                    .next()
                    .context("--rank-penalty needs a value")?
                    .parse()?;
            }
            "--target-tokens" => {
                chunking.target_tokens = args
                    .next()
                    .context("--target-tokens needs a value")?
                    .parse()?;
            }
            "--overlap-tokens" => {
                chunking.overlap_tokens = args
                    .next()
                    .context("--overlap-tokens needs a value")?
                    .parse()?;
            }
            "--candidates" => {
                options.candidates = args.next().context("--candidates needs a value")?.parse()?;
            }
            "--dir" => dir = PathBuf::from(args.next().context("--dir needs a path")?),
            "--questions" => {
                questions_path = PathBuf::from(args.next().context("--questions needs a path")?);
            }
            other => bail!(
                "unknown argument {other:?} (try --threshold X, --verbose, --dir D, --questions F)"
            ),
        }
    }

    let tmp = tempfile::tempdir()?;
    let index = KbIndex::open_or_create(tmp.path().join("index"))?;
    let mut documents = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        for doc in parse(&bytes, &name, None, &ParseLimits::default())? {
            let chunks = chunk_document(&name, &doc, &chunking);
            documents.push(DocumentChunks {
                dataset_id: DATASET.to_owned(),
                doc_id: name.clone(),
                chunks,
            });
        }
    }
    let docs = documents.len();
    let chunks = index.rebuild(documents)?;

    let questions = parse_questions(
        &std::fs::read_to_string(&questions_path)
            .with_context(|| format!("reading {}", questions_path.display()))?,
    )
    .map_err(anyhow::Error::msg)?;
    options.threshold = threshold;
    let outcomes = evaluate(&index, &[DATASET], &questions, &options)?;
    let main = report(&outcomes, threshold);

    println!(
        "Knowledge-base quality: {docs} documents, {chunks} chunks, {} questions",
        questions.len()
    );
    println!("  dataset:   {}", dir.display());
    println!("  questions: {}", questions_path.display());
    println!();
    print_report(&main);
    println!();
    println!("Threshold sweep (retrieval figures do not depend on it):");
    println!(
        "  threshold | answered (answerable) | answered from right doc | honest IDK (unanswerable)"
    );
    for step in 0..=10 {
        let t = 0.3 + 0.05 * step as f32;
        let r = report(&outcomes, t);
        println!(
            "  {:>9.2} | {:>21.1}% | {:>23.1}% | {:>24.1}%",
            t,
            r.answer_rate * 100.0,
            r.correct_answer_rate * 100.0,
            r.idk_rate * 100.0
        );
    }

    if verbose {
        println!();
        println!("Per question (rank of the right document, top document, answer confidence):");
        for o in &outcomes {
            let answered = o.confidence.is_some_and(|c| c >= threshold);
            let mark = match (&o.question.answer, answered) {
                (Some(expected), true) if o.answer_doc.as_ref() == Some(expected) => "ok  ",
                (Some(_), true) => "WRNG",
                (Some(_), false) => "MISS",
                (None, false) => "idk ",
                (None, true) => "FAKE",
            };
            println!(
                "{mark} rank={:<4} conf={:.2} q={:?} expected={:?} top={:?} answer_doc={:?}",
                o.rank.map_or("-".to_owned(), |r| r.to_string()),
                o.confidence.unwrap_or(0.0),
                o.question.question,
                o.question.answer.as_deref().unwrap_or("-"),
                o.top_doc.as_deref().unwrap_or("-"),
                o.answer_doc.as_deref().unwrap_or("-"),
            );
            if !o.unmatched_terms.is_empty() {
                let missing: Vec<String> = o
                    .unmatched_terms
                    .iter()
                    .map(|(t, idf)| format!("{t}({idf:.1})"))
                    .collect();
                println!("       unmatched: {}", missing.join(" "));
            }
            if answered {
                if let Some(text) = &o.answer_text {
                    println!("       → {}", text.replace('\n', " / "));
                }
            }
        }
    }
    Ok(())
}

fn print_report(r: &QualityReport) {
    println!(
        "Retrieval ({} answerable questions, document level):",
        r.answerable
    );
    println!("  recall@1  {:.3}", r.recall_at_1);
    println!("  recall@5  {:.3}", r.recall_at_5);
    println!("  MRR@10    {:.3}", r.mrr_at_10);
    println!("Answers at threshold {:.2}:", r.threshold);
    println!(
        "  answered (answerable questions)         {:.1}%",
        r.answer_rate * 100.0
    );
    println!(
        "  answered from the right document        {:.1}%",
        r.correct_answer_rate * 100.0
    );
    println!(
        "  honest \"I don't know\" ({} unanswerable)  {:.1}%",
        r.unanswerable,
        r.idk_rate * 100.0
    );
}
