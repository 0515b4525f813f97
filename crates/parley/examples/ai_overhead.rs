//! What Parley adds to an AI turn, measured against the fake LLM provider with a fixed
//! latency, in one process and one run:
//!
//! - **parley**: N workers each drive their own conversation's `complete` on an in-process
//!   Parley server whose bot answers with that fake (rules checked first, context assembled,
//!   the model called, the turn committed to SQLite); for each turn it also reports the
//!   server's own time, the latency minus the model call as the server timed it;
//! - **baseline**: then N workers call the fake's `/v1/chat/completions` directly with the
//!   request Parley sent it on a turn at the end of that run (the same history);
//! - **time to first token**, unloaded: the fake streaming directly vs. Parley's SSE `delta`.
//!
//! The added p99 is Parley's p99 minus the baseline's; the ratio is Parley's over the
//! baseline's. Load generator, fake and server share the machine's cores.
//!
//! With `THINK_MS` 0 (the default) every worker sends its next message as soon as the last
//! is answered: a closed loop that saturates the machine, so latency there is mostly
//! queueing (concurrency / throughput). With `THINK_MS` > 0 each conversation waits that
//! long between messages, like a person typing (starts staggered over one think time), so
//! both runs get the same offered load below saturation and the difference is what Parley
//! adds to one turn.
//!
//! ```text
//! cargo run --release -p parley --example ai_overhead -- [CONCURRENCY] [SECONDS] [LATENCY_MS] [full|normal] [THINK_MS]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_engine::ai::AiRuntime;
use parley_engine::{Engine, Limits};
use parley_llm::fake::FakeProvider;
use parley_llm::{OpenAiProvider, PriceTable, ProviderEntry, Providers, Timeouts};
use parley_server::{auth, AppState, HttpConfig};
use parley_store::{SqliteStore, Store, Synchronous};
use serde_json::{json, Value};

const KEY: &str = "pk_bench_admin_key_0123456789abcdef";

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

struct Run {
    name: &'static str,
    latencies_us: Vec<u64>,
    /// Per request: the latency minus the model call's own time as the server timed it
    /// (`meta.latency_ms`), i.e. what the server itself spent on the turn.
    own_us: Vec<u64>,
    errors: u64,
    seconds: f64,
}

impl Run {
    fn line(&mut self) -> (f64, f64) {
        self.latencies_us.sort_unstable();
        let (p50, p99) = (
            percentile(&self.latencies_us, 0.50),
            percentile(&self.latencies_us, 0.99),
        );
        println!(
            "{:<9} requests {:>7}  errors {:>4}  rps {:>8.1}  p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms",
            self.name,
            self.latencies_us.len(),
            self.errors,
            self.latencies_us.len() as f64 / self.seconds,
            p50,
            p99,
            percentile(&self.latencies_us, 1.0),
        );
        (p50, p99)
    }

    /// The server's own time per turn: latency minus the model call inside it.
    fn own_line(&mut self) {
        self.own_us.sort_unstable();
        println!(
            "{:<9} own time per turn (latency minus the model call, meta.latency_ms, whole ms): p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            self.name,
            percentile(&self.own_us, 0.50),
            percentile(&self.own_us, 0.99),
            percentile(&self.own_us, 1.0),
        );
    }
}

/// `workers` loops of `call(worker)` for `duration` after `warmup`, each waiting `think`
/// between calls (starts staggered over one `think`).
async fn drive<F, Fut>(
    name: &'static str,
    workers: usize,
    warmup: Duration,
    duration: Duration,
    think: Duration,
    call: F,
) -> Run
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    // `None`: the call failed; `Some(model_us)`: it succeeded, and the model call inside it
    // took `model_us` (0 when there is none).
    Fut: std::future::Future<Output = Option<u64>> + Send,
{
    let call = Arc::new(call);
    let start = Instant::now();
    let record_from = start + warmup;
    let end = record_from + duration;
    let mut handles = Vec::new();
    for w in 0..workers {
        let call = call.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut own = Vec::new();
            let mut errors = 0u64;
            if !think.is_zero() {
                tokio::time::sleep(think.mul_f64(w as f64 / workers as f64)).await;
            }
            while Instant::now() < end {
                let t = Instant::now();
                let result = call(w).await;
                let took = t.elapsed().as_micros() as u64;
                if t >= record_from && Instant::now() <= end + Duration::from_secs(5) {
                    match result {
                        Some(model_us) => {
                            lat.push(took);
                            own.push(took.saturating_sub(model_us));
                        }
                        None => errors += 1,
                    }
                }
                if !think.is_zero() {
                    tokio::time::sleep(think).await;
                }
            }
            (lat, own, errors)
        }));
    }
    let mut run = Run {
        name,
        latencies_us: Vec::new(),
        own_us: Vec::new(),
        errors: 0,
        seconds: duration.as_secs_f64(),
    };
    for h in handles {
        let (lat, own, errors) = h.await.unwrap();
        run.latencies_us.extend(lat);
        run.own_us.extend(own);
        run.errors += errors;
    }
    run
}

/// One stage's histogram as read from `GET /metrics`: (upper bound in seconds, cumulative
/// count) per bucket, plus sum and count.
#[derive(Default, Clone)]
struct StageHistogram {
    buckets: Vec<(f64, u64)>,
    sum: f64,
    count: u64,
}

/// `parley_turn_stage_seconds` per stage, parsed from the Prometheus text.
fn stage_histograms(text: &str) -> std::collections::BTreeMap<String, StageHistogram> {
    fn label<'a>(line: &'a str, name: &str) -> Option<&'a str> {
        let at = line.find(&format!("{name}=\""))? + name.len() + 2;
        let rest = &line[at..];
        Some(&rest[..rest.find('"')?])
    }
    let mut out = std::collections::BTreeMap::<String, StageHistogram>::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("parley_turn_stage_seconds_") else {
            continue;
        };
        let (Some(stage), Some(value)) = (label(line, "stage"), line.rsplit(' ').next()) else {
            continue;
        };
        let h = out.entry(stage.to_string()).or_default();
        let value: f64 = value.parse().unwrap_or(0.0);
        if rest.starts_with("bucket") {
            let le =
                label(line, "le").map_or(f64::INFINITY, |l| l.parse().unwrap_or(f64::INFINITY));
            h.buckets.push((le, value as u64));
        } else if rest.starts_with("sum") {
            h.sum = value;
        } else if rest.starts_with("count") {
            h.count = value as u64;
        }
    }
    out
}

/// The bucket bound (seconds) below which `q` of the observations between two scrapes fell.
fn quantile_bound(before: &StageHistogram, after: &StageHistogram, q: f64) -> f64 {
    let total = after.count.saturating_sub(before.count);
    let want = (total as f64 * q).ceil() as u64;
    for (i, (le, n)) in after.buckets.iter().enumerate() {
        let earlier = before.buckets.get(i).map_or(0, |b| b.1);
        if n.saturating_sub(earlier) >= want {
            return *le;
        }
    }
    f64::INFINITY
}

/// Mean per stage (exact: sum / count) and the p50 / p99 bucket bounds, between two scrapes.
fn stage_report(before: &str, after: &str) {
    let (before, after) = (stage_histograms(before), stage_histograms(after));
    println!("stages (server's per-stage histograms over the parley run; p50/p99 are bucket upper bounds):");
    for (stage, a) in &after {
        let b = before.get(stage).cloned().unwrap_or_default();
        let n = a.count.saturating_sub(b.count);
        if n == 0 {
            continue;
        }
        println!(
            "  {:<13} n {:>7}  mean {:>8.3} ms  p50 <= {:>7.3} ms  p99 <= {:>7.3} ms",
            stage,
            n,
            (a.sum - b.sum) / n as f64 * 1000.0,
            quantile_bound(&b, a, 0.50) * 1000.0,
            quantile_bound(&b, a, 0.99) * 1000.0,
        );
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let concurrency: usize = args.get(1).map_or(256, |a| a.parse().unwrap());
    let seconds: u64 = args.get(2).map_or(10, |a| a.parse().unwrap());
    let latency_ms: u64 = args.get(3).map_or(50, |a| a.parse().unwrap());
    let synchronous = match args.get(4).map(String::as_str) {
        Some("normal") => Synchronous::Normal,
        _ => Synchronous::Full,
    };
    let think = Duration::from_millis(args.get(5).map_or(0, |a| a.parse().unwrap()));
    let warmup = Duration::from_secs(2).max(think);
    let duration = Duration::from_secs(seconds);

    let fake = FakeProvider::start().await.unwrap();
    fake.set_latency(Duration::from_millis(latency_ms));
    fake.set_recording(false);
    let timeouts = Timeouts {
        connect: Duration::from_secs(5),
        first_token: Duration::from_secs(30),
        total: Duration::from_secs(60),
    };
    let mut providers = Providers::new();
    providers.insert(
        "fake",
        ProviderEntry::new(Arc::new(
            OpenAiProvider::new("fake", &fake.openai_base_url(), None, timeouts).unwrap(),
        )),
    );
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open_with(dir.path(), synchronous)
            .await
            .unwrap(),
    );
    let ws = store.default_workspace().await.unwrap();
    auth::ensure_key(store.as_ref(), ws.id, "bench", KEY)
        .await
        .unwrap();
    // A load generator drives each conversation far faster than a person, and reads
    // `/metrics` on the API listener: rate limits and the message cap off, metrics on.
    let limits = Limits {
        conversation_messages: parley_engine::rate::Rate::OFF,
        max_messages_per_conversation: 0,
        ..Limits::default()
    };
    let engine = Engine::new(store.clone(), limits).with_ai(Arc::new(AiRuntime::new(
        Arc::new(providers),
        PriceTable::new(),
    )));
    let http = HttpConfig {
        metrics_public: true,
        ..HttpConfig::default()
    };
    let state = AppState::new(Arc::new(engine), http).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(parley_server::serve(
        listener,
        state,
        std::future::pending(),
    ));

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let api = |path: &str| format!("http://{addr}/api/v1{path}");
    let bot: Value = client
        .post(api("/bots"))
        .bearer_auth(KEY)
        .json(&json!({"name": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bot = bot["data"]["id"].as_str().unwrap().to_string();
    client
        .put(api(&format!("/bots/{bot}/settings")))
        .bearer_auth(KEY)
        .json(
            &json!({"ai_enabled": true, "ai_provider": "fake", "ai_model": "echo",
                      "ai_summary_threshold": 0}),
        )
        .send()
        .await
        .unwrap();
    for i in 0..50 {
        client
            .post(api(&format!("/bots/{bot}/keywords")))
            .bearer_auth(KEY)
            .json(
                &json!({"name": format!("rule {i}"), "keywords": [format!("zzkeyword{i}")],
                          "match_type": "contains", "response": "x"}),
            )
            .send()
            .await
            .unwrap();
    }
    let mut conversations = Vec::new();
    for _ in 0..concurrency {
        let c: Value = client
            .post(api("/conversations"))
            .bearer_auth(KEY)
            .json(&json!({"bot_id": bot}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        conversations.push(c["data"]["id"].as_str().unwrap().to_string());
    }
    println!(
        "AI turn overhead: {concurrency} concurrent conversations, {seconds} s measured after {} s warm-up, \
         fake provider latency {latency_ms} ms, sqlite_synchronous {synchronous:?}, {}",
        warmup.as_secs_f64(),
        if think.is_zero() {
            "closed loop (no think time)".to_string()
        } else {
            format!(
                "think time {} ms (offered about {:.0} messages/s)",
                think.as_millis(),
                concurrency as f64 / (think.as_secs_f64() + latency_ms as f64 / 1000.0)
            )
        }
    );

    // Parley: the whole AI turn through `complete`.
    let urls: Arc<Vec<String>> = Arc::new(
        conversations
            .iter()
            .map(|c| api(&format!("/conversations/{c}/complete")))
            .collect(),
    );
    let metrics_url = format!("http://{addr}/metrics");
    let scrape = |c: reqwest::Client, url: String| async move {
        c.get(url).send().await.unwrap().text().await.unwrap()
    };
    // The stages are read when the measured window opens (after warm-up) and after it.
    let stages_before = tokio::spawn({
        let (c, url) = (client.clone(), metrics_url.clone());
        async move {
            tokio::time::sleep(warmup).await;
            scrape(c, url).await
        }
    });
    let c = client.clone();
    let mut parley = drive("parley", concurrency, warmup, duration, think, move |w| {
        let (c, urls) = (c.clone(), urls.clone());
        async move {
            match c
                .post(&urls[w])
                .bearer_auth(KEY)
                .json(&json!({"text": "hello there, how are you"}))
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => {
                    let v = r.json::<Value>().await.ok()?;
                    let meta = &v["data"]["messages"][0]["meta"];
                    (meta["source"] == "ai")
                        .then(|| meta["latency_ms"].as_u64())
                        .flatten()
                        .map(|ms| ms * 1000)
                }
                _ => None,
            }
        }
    })
    .await;
    let stages_after = scrape(client.clone(), metrics_url.clone()).await;
    let (p50, p99) = parley.line();
    parley.own_line();
    stage_report(&stages_before.await.unwrap(), &stages_after);
    // Baseline: the fake alone, sent the request Parley sent it on a turn at the end of the
    // run (full history), so both sides make the model parse and answer the same thing.
    fake.set_recording(true);
    client
        .post(api(&format!(
            "/conversations/{}/complete",
            conversations[0]
        )))
        .bearer_auth(KEY)
        .json(&json!({"text": "hello there, how are you"}))
        .send()
        .await
        .unwrap();
    fake.set_recording(false);
    let replayed = fake.requests().last().unwrap().body.clone();
    println!(
        "baseline request: Parley's own, {} messages, {} bytes",
        replayed["messages"].as_array().map_or(0, Vec::len),
        replayed.to_string().len()
    );
    let fake_url = format!("{}/chat/completions", fake.openai_base_url());
    let c = client.clone();
    let mut baseline = drive(
        "baseline",
        concurrency,
        warmup,
        duration,
        think,
        move |_| {
            let (c, url, body) = (c.clone(), fake_url.clone(), replayed.clone());
            async move {
                match c.post(&url).json(&body).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.ok().map(|_| 0),
                    _ => None,
                }
            }
        },
    )
    .await;
    let (b50, b99) = baseline.line();
    println!(
        "added by Parley: p50 {:+.2} ms, p99 {:+.2} ms; p99 ratio parley/baseline {:.3}",
        p50 - b50,
        p99 - b99,
        p99 / b99
    );

    // Time to first token, unloaded.
    let rounds = 30;
    let mut direct = Vec::new();
    let mut through = Vec::new();
    let fresh: Value = client
        .post(api("/conversations"))
        .bearer_auth(KEY)
        .json(&json!({"bot_id": bot}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let conv = fresh["data"]["id"].as_str().unwrap().to_string();
    for _ in 0..rounds {
        let t = Instant::now();
        let mut r = client
            .post(format!("{}/chat/completions", fake.openai_base_url()))
            .json(&json!({"model": "echo", "stream": true,
                          "messages": [{"role": "user", "content": "hello there, how are you"}]}))
            .send()
            .await
            .unwrap();
        let mut seen = String::new();
        while let Some(chunk) = r.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("\"content\":\"hello") {
                break;
            }
        }
        direct.push(t.elapsed().as_micros() as u64);
        drop(r);

        let t = Instant::now();
        let mut r = client
            .post(api(&format!("/conversations/{conv}/complete")))
            .bearer_auth(KEY)
            .json(&json!({"text": "hello there, how are you", "stream": true}))
            .send()
            .await
            .unwrap();
        let mut seen = String::new();
        let mut first = None;
        while let Some(chunk) = r.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if first.is_none() && seen.contains("event: delta") {
                first = Some(t.elapsed());
            }
        }
        through.push(first.expect("a delta").as_micros() as u64);
    }
    direct.sort_unstable();
    through.sort_unstable();
    println!(
        "time to first token ({rounds} sequential streams): fake direct p50 {:.2} ms p99 {:.2} ms; \
         through Parley SSE p50 {:.2} ms p99 {:.2} ms (added p50 {:+.2} ms)",
        percentile(&direct, 0.5),
        percentile(&direct, 0.99),
        percentile(&through, 0.5),
        percentile(&through, 0.99),
        percentile(&through, 0.5) - percentile(&direct, 0.5),
    );
}
