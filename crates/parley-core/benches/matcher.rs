//! Keyword matching benchmarks: the compiled [`KeywordMatcher`] against a naive per-rule
//! scan (what a bot without a compiled matcher does for every message), measured in the
//! same run, plus the one-off cost of compiling a bot's rules.
//!
//! Run with `cargo bench -p parley-core --bench matcher`. After criterion's groups
//! (`find/compiled/N`, `find/naive_scan/N`, `compile/N`) a short summary table of mean
//! ns/message is printed to stdout.
//!
//! Rule sets of 10, 1,000 and 10,000 rules are generated deterministically (no RNG): the
//! match types cycle through a fixed 20-slot pattern (70% contains, 15% starts_with, 10%
//! exact, 5% regex) and keywords are synthetic words made of three syllables, distinct for
//! every keyword slot, so large sets do not collapse into a few shared patterns.

// Fixtures are built from constants checked at start-up; a failed `expect` is a bug in
// the bench itself, so panicking there is what we want.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{criterion_group, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use parley_core::{KeywordMatcher, KeywordRule, MatchType, ResponseType};
use regex::{Regex, RegexBuilder};
use uuid::Uuid;

const SIZES: [usize; 3] = [10, 1_000, 10_000];

/// Match type of rule `i` is `MIX[i % 20]`: 14 contains, 3 starts_with, 2 exact, 1 regex.
/// Interleaved so that even the 10-rule set holds every type.
const MIX: [MatchType; 20] = {
    use MatchType::{Contains as C, Exact as X, Regex as R, StartsWith as S};
    [C, C, C, S, C, C, X, C, C, R, C, C, S, C, C, X, C, S, C, C]
};

const SYLLABLES: [&str; 32] = [
    "ba", "ke", "di", "fo", "gu", "ha", "ji", "ko", "lu", "ma", "ne", "pi", "ro", "su", "ta", "vi",
    "wo", "xa", "ye", "zu", "bre", "cla", "dro", "fle", "gri", "plo", "qua", "sny", "tra", "vek",
    "zor", "kly",
];

/// Second words of two-word `contains` keywords ("<word> refund").
const TAILS: [&str; 6] = [
    "plan", "refund", "delivery", "support", "pricing", "account",
];

/// Messages that match no rule in any generated set.
const MISSES: [&str; 2] = [
    "Hello, could you tell me what time your downtown store closes on Saturday evenings, please?",
    "I was charged twice for my subscription this month and would like the extra payment refunded.",
];

/// Synthetic word for keyword slot `g`; distinct for every `g < 32_768` (an odd multiplier
/// permutes the 15-bit slot space, and each 5-bit digit picks a syllable).
fn word(g: usize) -> String {
    let p = (g as u32).wrapping_mul(0x5BD1).wrapping_add(0x1234) & 0x7FFF;
    let mut w = String::with_capacity(9);
    for shift in [0, 5, 10] {
        w.push_str(SYLLABLES[((p >> shift) & 31) as usize]);
    }
    w
}

/// Deterministic pseudo-random bits for rule `i` (one LCG step from the index).
fn lcg(i: usize) -> u64 {
    (i as u64)
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407)
        >> 33
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Variant of the regex for rule `i` (only meaningful for regex rules).
fn regex_variant(i: usize) -> usize {
    (i / 20) % 3
}

/// Rules that higher-priority ones must not hide; everything else is priority 0.
fn priority(i: usize) -> i32 {
    if i % 50 == 25 {
        5
    } else {
        0
    }
}

fn make_rules(n: usize) -> Vec<KeywordRule> {
    let bot_id = parley_core::new_id();
    (0..n)
        .map(|i| {
            let match_type = MIX[i % 20];
            let keywords: Vec<String> = if match_type == MatchType::Regex {
                let w = word(3 * i);
                vec![match regex_variant(i) {
                    0 => format!(r"{w}\s*#?\d{{5,}}"),
                    1 => format!(r"{w}[-_ ]?(?:id|ref)\s*:?\s*\d{{4,8}}"),
                    _ => format!(r"(?:order|ticket)\s+{w}-?\d{{3,}}"),
                }]
            } else {
                let count = 1 + (lcg(i) % 3) as usize;
                (0..count)
                    .map(|j| {
                        let w = word(3 * i + j);
                        match (match_type, j) {
                            (MatchType::Contains, 1) => {
                                format!("{w} {}", TAILS[(lcg(i) >> 8) as usize % TAILS.len()])
                            }
                            (_, 0) if i % 4 == 0 => capitalize(&w),
                            _ => w,
                        }
                    })
                    .collect()
            };
            KeywordRule {
                // v7 ids are monotonic within the process, so rank order is index order
                // among rules of equal priority.
                id: parley_core::new_id(),
                bot_id,
                name: format!("rule {i}"),
                keywords,
                match_type,
                response_type: ResponseType::Text,
                response: format!("Reply for rule {i}."),
                buttons: vec![],
                priority: priority(i),
                enabled: true,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            }
        })
        .collect()
}

/// The baseline: every enabled rule in winner order (priority desc, id asc), every
/// keyword checked against the lower-cased message with a whole-word test; the first hit
/// wins. Keywords are lower-cased and regexes compiled once up front, which favours the
/// baseline (a truly naive bot would redo that per message).
struct NaiveMatcher {
    rules: Vec<NaiveRule>,
}

struct NaiveRule {
    id: Uuid,
    match_type: MatchType,
    keywords: Vec<String>,
    regexes: Vec<Regex>,
}

impl NaiveMatcher {
    fn new(rules: &[KeywordRule]) -> Self {
        let mut sorted: Vec<&KeywordRule> = rules.iter().filter(|r| r.enabled).collect();
        sorted.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
        let rules = sorted
            .into_iter()
            .map(|r| NaiveRule {
                id: r.id,
                match_type: r.match_type,
                keywords: r.keywords.iter().map(|k| k.to_lowercase()).collect(),
                regexes: if r.match_type == MatchType::Regex {
                    r.keywords
                        .iter()
                        .map(|k| {
                            RegexBuilder::new(k)
                                .case_insensitive(true)
                                .build()
                                .expect("generated regexes are valid")
                        })
                        .collect()
                } else {
                    Vec::new()
                },
            })
            .collect();
        NaiveMatcher { rules }
    }

    /// Id of the winning rule, if any.
    fn find(&self, message: &str) -> Option<Uuid> {
        let lower = message.to_lowercase();
        let trimmed = lower.trim_matches(|c: char| !c.is_alphanumeric());
        for rule in &self.rules {
            let hit = match rule.match_type {
                MatchType::Exact => rule.keywords.iter().any(|k| trimmed == k),
                MatchType::Contains => rule.keywords.iter().any(|k| contains_word(&lower, k)),
                MatchType::StartsWith => rule
                    .keywords
                    .iter()
                    .any(|k| trimmed.starts_with(k.as_str()) && word_edge_after(trimmed, k.len())),
                MatchType::Regex => rule.regexes.iter().any(|re| re.is_match(message.trim())),
            };
            if hit {
                return Some(rule.id);
            }
        }
        None
    }
}

fn word_edge_before(text: &str, i: usize) -> bool {
    text[..i]
        .chars()
        .next_back()
        .is_none_or(|c| !c.is_alphanumeric())
}

fn word_edge_after(text: &str, i: usize) -> bool {
    text[i..]
        .chars()
        .next()
        .is_none_or(|c| !c.is_alphanumeric())
}

fn contains_word(text: &str, keyword: &str) -> bool {
    text.match_indices(keyword)
        .any(|(i, _)| word_edge_before(text, i) && word_edge_after(text, i + keyword.len()))
}

/// One rule-set size: the rules, both matchers, and the messages to match.
struct Fixture {
    rules: Vec<KeywordRule>,
    compiled: KeywordMatcher,
    naive: NaiveMatcher,
    messages: Vec<String>,
}

impl Fixture {
    fn new(n: usize) -> Self {
        let rules = make_rules(n);
        let compiled = KeywordMatcher::compile(rules.clone()).expect("generated rules compile");
        let naive = NaiveMatcher::new(&rules);

        // Targets: the first contains rule (near the top of the rank order), and the last
        // priority-0 rule of each kind (at the bottom: the naive scan's worst case).
        let last = |pred: &dyn Fn(usize) -> bool| {
            (0..n)
                .rev()
                .find(|&i| priority(i) == 0 && pred(i))
                .expect("every set holds each rule type")
        };
        let first_contains = (0..n)
            .find(|&i| MIX[i % 20] == MatchType::Contains)
            .expect("contains rules exist");
        let deep_contains = last(&|i| MIX[i % 20] == MatchType::Contains);
        let deep_starts = last(&|i| MIX[i % 20] == MatchType::StartsWith);
        let deep_regex = last(&|i| MIX[i % 20] == MatchType::Regex && regex_variant(i) == 0);
        let kw = |i: usize| rules[i].keywords[0].to_lowercase();

        let mut expected = vec![
            (
                format!(
                    "Hi! Can you tell me a bit more about {}? A colleague said it would suit our team.",
                    kw(first_contains)
                ),
                Some(first_contains),
            ),
            (
                format!(
                    "I bought the {} last Tuesday and it arrived with a cracked lid. How do I get a replacement?",
                    kw(deep_contains)
                ),
                Some(deep_contains),
            ),
            (
                format!(
                    "{}: I need to change the delivery address on my order before it ships tomorrow.",
                    capitalize(&kw(deep_starts))
                ),
                Some(deep_starts),
            ),
            (
                format!(
                    "Hello, where is my {} #4829173? The tracking page has not updated since Monday.",
                    word(3 * deep_regex)
                ),
                Some(deep_regex),
            ),
        ];
        expected.extend(MISSES.iter().map(|m| (m.to_string(), None)));

        // Both matchers must agree with each other and pick the intended rule, or the
        // comparison would be meaningless.
        for (message, want) in &expected {
            let want = want.map(|i| rules[i].id);
            let got = compiled.find(message).map(|m| m.rule.id);
            assert_eq!(
                got, want,
                "compiled matcher, {n} rules, message {message:?}"
            );
            assert_eq!(
                naive.find(message),
                want,
                "naive scan, {n} rules, message {message:?}"
            );
        }

        Fixture {
            rules,
            compiled,
            naive,
            messages: expected.into_iter().map(|(m, _)| m).collect(),
        }
    }

    fn run_compiled(&self) {
        for m in &self.messages {
            black_box(self.compiled.find(black_box(m)));
        }
    }

    fn run_naive(&self) {
        for m in &self.messages {
            black_box(self.naive.find(black_box(m)));
        }
    }
}

fn bench_find(c: &mut Criterion) {
    let mut group = c.benchmark_group("find");
    for n in SIZES {
        let f = Fixture::new(n);
        // One iteration matches every message once; throughput is per message.
        group.throughput(Throughput::Elements(f.messages.len() as u64));
        group.bench_with_input(BenchmarkId::new("compiled", n), &f, |b, f| {
            b.iter(|| f.run_compiled())
        });
        group.bench_with_input(BenchmarkId::new("naive_scan", n), &f, |b, f| {
            b.iter(|| f.run_naive())
        });
    }
    group.finish();
}

fn bench_compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    // Compiling 10,000 rules takes hundreds of milliseconds; flat sampling and fewer
    // samples keep the run short.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    for n in SIZES {
        let rules = make_rules(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &rules, |b, rules| {
            b.iter_batched(
                || rules.clone(),
                KeywordMatcher::compile,
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_find, bench_compile
}

/// Mean wall time of one call of `run`: calibrated for ~200 ms, then a fixed number of
/// iterations chosen to fill about one second, timed as one block.
fn mean_time(mut run: impl FnMut()) -> Duration {
    let calib = Instant::now();
    let mut calib_iters = 0u32;
    while calib.elapsed() < Duration::from_millis(200) {
        run();
        calib_iters += 1;
    }
    let per_iter = calib.elapsed() / calib_iters;
    let iters = (Duration::from_secs(1).as_nanos() / per_iter.as_nanos().max(1))
        .clamp(5, 10_000_000) as u32;
    let start = Instant::now();
    for _ in 0..iters {
        run();
    }
    start.elapsed() / iters
}

/// Mean time to compile `rules`, the clone of the input left out of the timing.
fn mean_compile_time(rules: &[KeywordRule]) -> Duration {
    let mut total = Duration::ZERO;
    let mut iters = 0u32;
    while iters < 5 || total < Duration::from_secs(1) {
        let input = rules.to_vec();
        let start = Instant::now();
        let matcher = KeywordMatcher::compile(black_box(input));
        total += start.elapsed();
        black_box(matcher.is_ok());
        iters += 1;
    }
    total / iters
}

/// Only a real benchmark run (`cargo bench`) gets the summary; `cargo test --benches` and
/// `--list` do not.
fn summary_wanted() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    has("--bench") && !has("--test") && !has("--list") && !has("--profile-time")
}

fn print_summary() {
    println!();
    println!(
        "Keyword matching summary (std::time::Instant, ~1 s per cell, mean over the message set)"
    );
    println!(
        "{:>7} | {:>9} | {:>16} | {:>18} | {:>14} | {:>11}",
        "rules", "messages", "compiled ns/msg", "naive_scan ns/msg", "naive/compiled", "compile ms"
    );
    for n in SIZES {
        let f = Fixture::new(n);
        let msgs = f.messages.len() as f64;
        let compiled = mean_time(|| f.run_compiled()).as_nanos() as f64 / msgs;
        let naive = mean_time(|| f.run_naive()).as_nanos() as f64 / msgs;
        let compile = mean_compile_time(&f.rules);
        println!(
            "{:>7} | {:>9} | {:>16.0} | {:>18.0} | {:>13.1}x | {:>11.3}",
            n,
            f.messages.len(),
            compiled,
            naive,
            naive / compiled,
            compile.as_secs_f64() * 1e3
        );
    }
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if summary_wanted() {
        print_summary();
    }
}
