//! The results: the parameters, one table row per target, the Parley/baseline ratios, error
//! breakdowns and caveats; optionally the same as one JSON line for scripts.

use std::collections::BTreeMap;

use anyhow::Context;
use serde::Serialize;
use serde_json::json;

use crate::load::TargetResult;

/// The run's parameters, printed with the results.
#[derive(Serialize)]
pub struct Parameters {
    pub concurrency: usize,
    pub conversations: usize,
    pub rules: usize,
    pub warmup_secs: u64,
    pub duration_secs: u64,
    pub timeout_secs: u64,
    pub cores: usize,
    pub client_threads: usize,
    pub baseline_threads: usize,
}

pub struct Report {
    parameters: Parameters,
    rows: Vec<Row>,
    notes: Vec<String>,
}

/// One target's figures.
#[derive(Serialize)]
struct Row {
    target: String,
    /// Requests started in the measured window (successes and errors).
    requests: u64,
    errors: u64,
    /// Successful `complete` calls (one user message each) per second.
    msgs_per_sec: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_ms: Option<f64>,
    measured_secs: f64,
    errors_by_kind: BTreeMap<String, u64>,
    reply_matched_rule: bool,
}

impl Row {
    fn from_result(result: TargetResult) -> Row {
        let ok = result.latencies.len();
        let errors: u64 = result.errors.values().sum();
        let secs = result.measured.as_secs_f64();
        let ms = |micros: u64| (ok > 0).then(|| micros as f64 / 1000.0);
        Row {
            requests: ok + errors,
            errors,
            msgs_per_sec: if secs > 0.0 { ok as f64 / secs } else { 0.0 },
            p50_ms: ms(result.latencies.value_at_quantile(0.50)),
            p99_ms: ms(result.latencies.value_at_quantile(0.99)),
            max_ms: ms(result.latencies.max()),
            measured_secs: secs,
            reply_matched_rule: result.unexpected_reply.is_none(),
            errors_by_kind: result.errors,
            target: result.target,
        }
    }
}

impl Report {
    pub fn new(parameters: Parameters) -> Report {
        Report {
            parameters,
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn push(&mut self, result: TargetResult) {
        self.rows.push(Row::from_result(result));
    }

    pub fn note(&mut self, note: &str) {
        self.notes.push(note.to_owned());
    }

    /// Parley's figures over the baseline's: throughput, p50, p99.
    fn ratios(&self) -> Option<(f64, Option<f64>, Option<f64>)> {
        let baseline = self.rows.iter().find(|r| r.target == "baseline")?;
        let parley = self.rows.iter().find(|r| r.target == "parley")?;
        let over = |p: Option<f64>, b: Option<f64>| match (p, b) {
            (Some(p), Some(b)) if b > 0.0 => Some(p / b),
            _ => None,
        };
        let throughput = if baseline.msgs_per_sec > 0.0 {
            parley.msgs_per_sec / baseline.msgs_per_sec
        } else {
            0.0
        };
        Some((
            throughput,
            over(parley.p50_ms, baseline.p50_ms),
            over(parley.p99_ms, baseline.p99_ms),
        ))
    }

    pub fn print(&self, as_json: bool) -> anyhow::Result<()> {
        let p = &self.parameters;
        println!(
            "parameters: concurrency {}, conversations {}, rules {} (+1 matching), \
             warmup {} s, duration {} s, request timeout {} s",
            p.concurrency, p.conversations, p.rules, p.warmup_secs, p.duration_secs, p.timeout_secs
        );
        println!(
            "machine: {} cores (std::thread::available_parallelism); load client runtime {} \
             worker threads, baseline server runtime {} worker thread(s)",
            p.cores, p.client_threads, p.baseline_threads
        );
        println!();
        println!(
            "{:<10} {:>10} {:>8} {:>10} {:>9} {:>9} {:>9}",
            "target", "requests", "errors", "msgs/s", "p50 ms", "p99 ms", "max ms"
        );
        for row in &self.rows {
            println!(
                "{:<10} {:>10} {:>8} {:>10.0} {:>9} {:>9} {:>9}",
                row.target,
                row.requests,
                row.errors,
                row.msgs_per_sec,
                millis(row.p50_ms),
                millis(row.p99_ms),
                millis(row.max_ms),
            );
        }
        if let Some((throughput, p50, p99)) = self.ratios() {
            println!(
                "ratio parley/baseline: msgs/s {}, p50 {}, p99 {}",
                times(Some(throughput)),
                times(p50),
                times(p99)
            );
        }
        println!();
        for row in &self.rows {
            if !row.errors_by_kind.is_empty() {
                let kinds: Vec<String> = row
                    .errors_by_kind
                    .iter()
                    .map(|(kind, count)| format!("{count} × {kind}"))
                    .collect();
                println!("{} errors: {}", row.target, kinds.join(", "));
            }
            if !row.reply_matched_rule {
                println!(
                    "{}: WARNING the reply did not come from the `hours` rule; \
                     these figures do not measure rule matching",
                    row.target
                );
            }
        }
        for note in &self.notes {
            println!("note: {note}");
        }
        println!(
            "note: the load client, the baseline and a local Parley share these {} cores, so \
             client and server compete for CPU; absolute figures understate a dedicated \
             server, and the ratio is the figure to compare across runs",
            p.cores
        );

        if as_json {
            let ratios = self.ratios().map(|(throughput, p50, p99)| {
                json!({ "msgs_per_sec": throughput, "p50": p50, "p99": p99 })
            });
            let line = json!({
                "parameters": self.parameters,
                "results": self.rows,
                "ratio_parley_over_baseline": ratios,
                "notes": self.notes,
            });
            println!(
                "{}",
                serde_json::to_string(&line).context("serializing the JSON results")?
            );
        }
        Ok(())
    }
}

fn millis(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |ms| format!("{ms:.2}"))
}

fn times(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |x| format!("{x:.2}×"))
}
