//! Ingestion throughput and search latency on a generated dataset.
//!
//! Generates `--chunks` chunks (default 100,000) of about 150 words (200 estimated tokens)
//! from a 30,000-word synthetic vocabulary with Zipf-like frequencies, ten chunks per
//! document, and indexes them with `KbIndex::upsert_documents` in commits of 10,000 chunks.
//! Then it times `--queries` BM25 searches (top 10, two to four words each) and
//! `--answers` full extractive answers, and, as a baseline in the same run, a naive linear
//! scan (lower-cased substring test of every query word against every chunk, top 10 by
//! words found) for `--baseline-queries` of the same queries. Prints chunks/s, p50/p99 and
//! the baseline/index ratio.
//!
//! ```text
//! cargo run -p parley-kb --example kb_speed --release [-- --chunks 100000 --queries 2000]
//! ```

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use parley_kb::{AnswerOptions, Chunk, ChunkKind, DocumentChunks, IndexOptions, KbIndex};

const DATASET: &str = "generated";
const WORDS_PER_CHUNK: usize = 150;
const CHUNKS_PER_DOC: usize = 10;
const VOCABULARY: usize = 30_000;

/// xorshift64*: deterministic, no dependency, good enough for synthetic text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Pronounceable distinct words: consonant-vowel syllables, two to four of them.
fn vocabulary() -> Vec<String> {
    const CONSONANTS: &[u8] = b"bcdfghjklmnprstvwz";
    const VOWELS: &[u8] = b"aeiou";
    let syllables: Vec<String> = CONSONANTS
        .iter()
        .flat_map(|c| {
            VOWELS
                .iter()
                .map(move |v| format!("{}{}", *c as char, *v as char))
        })
        .collect();
    let n = syllables.len();
    let mut words = Vec::with_capacity(VOCABULARY);
    let mut seen = std::collections::HashSet::new();
    let mut i = 0usize;
    while words.len() < VOCABULARY {
        let count = 2 + i % 3;
        let mut word = String::new();
        let mut k = i;
        for _ in 0..count {
            word.push_str(&syllables[k % n]);
            k = k / n + 7;
        }
        word.push_str(&syllables[i % n]);
        if seen.insert(word.clone()) {
            words.push(word);
        }
        i += 1;
    }
    words
}

/// Cumulative Zipf(1.0) weights, for sampling word ranks.
fn zipf_table(n: usize) -> Vec<f64> {
    let mut total = 0.0;
    let mut table = Vec::with_capacity(n);
    for rank in 1..=n {
        total += 1.0 / rank as f64;
        table.push(total);
    }
    table.iter().map(|w| w / total).collect()
}

fn sample(table: &[f64], rng: &mut Rng) -> usize {
    let u = rng.unit();
    table.partition_point(|&w| w < u).min(table.len() - 1)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() -> Result<()> {
    let mut total_chunks = 100_000usize;
    let mut query_count = 2_000usize;
    let mut answer_count = 500usize;
    let mut baseline_count = 50usize;
    let mut options = IndexOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || -> Result<usize> {
            Ok(args
                .next()
                .with_context(|| format!("{arg} needs a value"))?
                .parse()?)
        };
        match arg.as_str() {
            "--chunks" => total_chunks = value()?,
            "--queries" => query_count = value()?,
            "--answers" => answer_count = value()?,
            "--baseline-queries" => baseline_count = value()?,
            "--writer-threads" => options.writer_threads = value()?,
            other => bail!(
                "unknown argument {other:?} (--chunks N, --queries N, --answers N, \
                 --baseline-queries N, --writer-threads N)"
            ),
        }
    }

    let started = Instant::now();
    let words = vocabulary();
    let table = zipf_table(words.len());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

    let mut documents = Vec::new();
    let mut lowered: Vec<String> = Vec::with_capacity(total_chunks);
    let mut generated = 0usize;
    let mut doc_number = 0usize;
    while generated < total_chunks {
        let doc_id = format!("doc-{doc_number}");
        let title = (0..3)
            .map(|_| words[sample(&table, &mut rng)].as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let mut chunks = Vec::new();
        for position in 0..CHUNKS_PER_DOC.min(total_chunks - generated) {
            let mut text = String::with_capacity(WORDS_PER_CHUNK * 9);
            for w in 0..WORDS_PER_CHUNK {
                text.push_str(&words[sample(&table, &mut rng)]);
                text.push_str(if w % 15 == 14 { ". " } else { " " });
            }
            lowered.push(text.to_lowercase());
            chunks.push(Chunk {
                doc_id: doc_id.clone(),
                chunk_id: format!("{doc_id}:{position}"),
                title: title.clone(),
                heading_path: vec![words[rng.below(2_000)].clone()],
                url: None,
                position: position as u32,
                kind: ChunkKind::Passage,
                text: text.trim_end().to_owned(),
            });
            generated += 1;
        }
        documents.push(DocumentChunks {
            dataset_id: DATASET.to_owned(),
            doc_id,
            chunks,
        });
        doc_number += 1;
    }
    let text_bytes: usize = lowered.iter().map(String::len).sum();
    println!(
        "Generated {generated} chunks in {} documents ({:.0} MB of text) in {:.1} s",
        documents.len(),
        text_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    // Ingestion: commits of 10,000 chunks, as a bulk import would do.
    let dir = tempfile::tempdir()?;
    let index = KbIndex::open_or_create_with(dir.path().join("index"), options)?;
    let ingest_start = Instant::now();
    let batch_docs = 10_000 / CHUNKS_PER_DOC;
    let mut indexed = 0u64;
    let mut remaining = documents.into_iter().peekable();
    while remaining.peek().is_some() {
        let batch: Vec<DocumentChunks> = remaining.by_ref().take(batch_docs).collect();
        indexed += index.upsert_documents(batch)?;
    }
    let ingest = ingest_start.elapsed();
    println!(
        "Ingestion: {indexed} chunks in {:.2} s = {:.0} chunks/s (writer: {} thread(s), {} MB)",
        ingest.as_secs_f64(),
        indexed as f64 / ingest.as_secs_f64(),
        options.writer_threads,
        options.writer_memory_bytes / 1_000_000
    );
    assert_eq!(index.num_chunks(), indexed);

    // Queries: 2–4 words from ranks 20..5,000 (neither stop-word-like nor absent).
    let queries: Vec<Vec<String>> = (0..query_count.max(baseline_count).max(answer_count))
        .map(|_| {
            let n = 2 + rng.below(3);
            (0..n)
                .map(|_| words[20 + rng.below(4_980)].clone())
                .collect()
        })
        .collect();

    for query in queries.iter().take(50) {
        index.search(&[DATASET], &query.join(" "), 10)?;
    }
    let mut latencies = Vec::with_capacity(query_count);
    let mut empty = 0;
    for query in queries.iter().take(query_count) {
        let t = Instant::now();
        let hits = index.search(&[DATASET], &query.join(" "), 10)?;
        latencies.push(t.elapsed());
        if hits.is_empty() {
            empty += 1;
        }
    }
    latencies.sort();

    let answer_options = AnswerOptions::default();
    let mut answer_latencies = Vec::with_capacity(answer_count);
    for query in queries.iter().take(answer_count) {
        let t = Instant::now();
        let _ = index.answer(&[DATASET], &query.join(" "), &answer_options)?;
        answer_latencies.push(t.elapsed());
    }
    answer_latencies.sort();

    // Baseline: naive scan over the same chunks for the first queries.
    let mut baseline = Vec::with_capacity(baseline_count);
    let mut agree = 0;
    for query in queries.iter().take(baseline_count) {
        let t = Instant::now();
        let mut scored: Vec<(usize, usize)> = lowered
            .iter()
            .enumerate()
            .filter_map(|(i, text)| {
                let found = query.iter().filter(|w| text.contains(w.as_str())).count();
                (found > 0).then_some((found, i))
            })
            .collect();
        scored.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(10);
        baseline.push(t.elapsed());
        if !scored.is_empty() {
            agree += 1;
        }
    }
    baseline.sort();

    let p50 = percentile(&latencies, 0.50);
    let p99 = percentile(&latencies, 0.99);
    let b50 = percentile(&baseline, 0.50);
    let b99 = percentile(&baseline, 0.99);
    println!(
        "Search (tantivy BM25, top 10, {} queries, {empty} with no hit): p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        latencies.len(),
        micros(p50),
        micros(p99),
        micros(latencies.last().copied().unwrap_or_default())
    );
    println!(
        "Answer (search + idf + extraction, {} queries): p50 {:.0} µs, p99 {:.0} µs",
        answer_latencies.len(),
        micros(percentile(&answer_latencies, 0.50)),
        micros(percentile(&answer_latencies, 0.99))
    );
    println!(
        "Baseline (naive substring scan, top 10, {} queries, {agree} with a hit): p50 {:.0} µs, p99 {:.0} µs",
        baseline.len(),
        micros(b50),
        micros(b99)
    );
    println!(
        "Ratio baseline/index: p50 {:.0}x, p99 {:.0}x",
        b50.as_secs_f64() / p50.as_secs_f64().max(1e-9),
        b99.as_secs_f64() / p99.as_secs_f64().max(1e-9)
    );
    println!("Total run time {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
