//! Driving one target: create the load bot, its keyword rules and conversations through the
//! public API, then run closed-loop workers that send `complete` and record each latency.
//! The same code drives the baseline and Parley, so the two differ only in the server.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use hdrhistogram::Histogram;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Client;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{json, Value};

/// What every `complete` sends; the load bot's `hours` rule matches it (whole word "hours").
const COMPLETE_BODY: &str = r#"{"text":"what are your opening hours?"}"#;
/// The `hours` rule's answer, checked once per target before the load starts.
pub const EXPECTED_REPLY: &str = "We're open 9-5.";
const SYNTHETIC_MATCH_TYPES: [&str; 3] = ["contains", "starts_with", "exact"];

/// A server to load.
pub struct Target {
    pub name: String,
    pub base_url: String,
    pub key: String,
}

/// Identical for every target of a run.
pub struct LoadParams {
    pub concurrency: usize,
    pub conversations: usize,
    pub rules: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub timeout: Duration,
}

/// What one target did during the measured window.
pub struct TargetResult {
    pub target: String,
    /// Latencies of successful requests, microseconds.
    pub latencies: Histogram<u64>,
    /// Failed requests by kind (`HTTP 500`, `timeout`, ...).
    pub errors: BTreeMap<String, u64>,
    /// From the end of warmup to the last recorded completion.
    pub measured: Duration,
    /// `None` when the pre-load check saw the expected rule reply, else the texts it saw.
    pub unexpected_reply: Option<String>,
}

/// Sets up `target` and loads it; the load bot is deleted afterwards (best effort).
pub async fn run(target: &Target, params: &LoadParams) -> anyhow::Result<TargetResult> {
    let client = Client::builder()
        .timeout(params.timeout)
        .connect_timeout(params.timeout)
        .pool_max_idle_per_host(params.concurrency)
        .tcp_nodelay(true)
        .build()
        .context("building the HTTP client")?;
    let api = Api {
        client,
        base_url: target.base_url.clone(),
        auth: HeaderValue::try_from(format!("Bearer {}", target.key))
            .context("the key is not a valid header value")?,
    };
    let bot = api
        .post(
            "/api/v1/bots",
            &json!({ "name": format!("load-{:08x}", rand::random::<u32>()) }),
        )
        .await?;
    let bot_id = id_of(&bot, "bot")?;
    let outcome = set_up_and_load(&api, &bot_id, target, params).await;
    if let Err(error) = api.delete(&format!("/api/v1/bots/{bot_id}")).await {
        eprintln!(
            "{}: warning: could not delete load bot {bot_id}: {error:#}",
            target.name
        );
    }
    outcome
}

async fn set_up_and_load(
    api: &Api,
    bot_id: &str,
    target: &Target,
    params: &LoadParams,
) -> anyhow::Result<TargetResult> {
    let rules_path = format!("/api/v1/bots/{bot_id}/keywords");
    // Synthetic rules first, so the matching one is not trivially the first one stored.
    for i in 0..params.rules {
        let rule = json!({
            "name": format!("synthetic {i}"),
            "keywords": [format!("product{i}"), format!("order {i} status")],
            "match_type": SYNTHETIC_MATCH_TYPES[i % SYNTHETIC_MATCH_TYPES.len()],
            "response": format!("Synthetic answer {i}."),
            "priority": 1 + i % 4,
        });
        api.post(&rules_path, &rule)
            .await
            .with_context(|| format!("creating synthetic rule {i}"))?;
    }
    let hours = json!({
        "name": "hours",
        "keywords": ["hours", "open"],
        "match_type": "contains",
        "response": EXPECTED_REPLY,
        "priority": 5,
    });
    api.post(&rules_path, &hours)
        .await
        .context("creating the hours rule")?;

    let mut conversations = Vec::with_capacity(params.conversations);
    for _ in 0..params.conversations {
        let conversation = api
            .post("/api/v1/conversations", &json!({ "bot_id": bot_id }))
            .await?;
        conversations.push(id_of(&conversation, "conversation")?);
    }
    eprintln!(
        "{}: bot {bot_id}, {} rules, {} conversations; checking the reply ...",
        target.name,
        params.rules + 1,
        conversations.len()
    );

    let unexpected_reply = check_reply(api, &conversations[0]).await?;
    if let Some(seen) = &unexpected_reply {
        eprintln!(
            "{}: warning: expected the rule reply {EXPECTED_REPLY:?}, got {seen}",
            target.name
        );
    }
    eprintln!(
        "{}: {} workers, {} s warmup + {} s measured ...",
        target.name,
        params.concurrency,
        params.warmup.as_secs(),
        params.duration.as_secs()
    );
    let mut result = drive(api, &conversations, params).await?;
    result.target = target.name.clone();
    result.unexpected_reply = unexpected_reply;
    Ok(result)
}

/// One `complete` before the load: does the target answer with the `hours` rule?
async fn check_reply(api: &Api, conversation_id: &str) -> anyhow::Result<Option<String>> {
    let body: Value = serde_json::from_str(COMPLETE_BODY).context("parsing COMPLETE_BODY")?;
    let data = api
        .post(
            &format!("/api/v1/conversations/{conversation_id}/complete"),
            &body,
        )
        .await?;
    let texts: Vec<&str> = data
        .get("messages")
        .and_then(Value::as_array)
        .map(|messages| {
            messages
                .iter()
                .filter_map(|m| m.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if texts.contains(&EXPECTED_REPLY) {
        Ok(None)
    } else {
        Ok(Some(format!("{texts:?}")))
    }
}

/// When recording starts and when workers stop issuing requests.
#[derive(Clone, Copy)]
struct Window {
    measure_from: Instant,
    stop_at: Instant,
}

struct WorkerOutcome {
    latencies: Histogram<u64>,
    errors: BTreeMap<String, u64>,
    last_done: Instant,
}

async fn drive(
    api: &Api,
    conversations: &[String],
    params: &LoadParams,
) -> anyhow::Result<TargetResult> {
    // Up to twice the timeout in microseconds, 3 significant digits.
    let highest = (params.timeout.as_micros() as u64).saturating_mul(2).max(2);
    let empty = Histogram::<u64>::new_with_bounds(1, highest, 3)
        .map_err(|e| anyhow!("creating the latency histogram: {e:?}"))?;

    let start = Instant::now();
    let window = Window {
        measure_from: start + params.warmup,
        stop_at: start + params.warmup + params.duration,
    };
    let mut workers = Vec::with_capacity(params.concurrency);
    for worker in 0..params.concurrency {
        let urls = conversations_for(worker, params.concurrency, conversations)
            .into_iter()
            .map(|id| format!("{}/api/v1/conversations/{id}/complete", api.base_url))
            .collect();
        workers.push(tokio::spawn(run_worker(
            api.client.clone(),
            api.auth.clone(),
            urls,
            window,
            empty.clone(),
        )));
    }

    let mut latencies = empty;
    let mut errors = BTreeMap::new();
    let mut last_done = window.stop_at;
    for worker in workers {
        let outcome = worker.await.context("a load worker failed")?;
        latencies
            .add(&outcome.latencies)
            .map_err(|e| anyhow!("merging latency histograms: {e:?}"))?;
        for (kind, count) in outcome.errors {
            *errors.entry(kind).or_insert(0) += count;
        }
        last_done = last_done.max(outcome.last_done);
    }
    Ok(TargetResult {
        target: String::new(),
        latencies,
        errors,
        measured: last_done.duration_since(window.measure_from),
        unexpected_reply: None,
    })
}

/// Worker `worker` of `workers` owns conversations `worker`, `worker + workers`, ...; with
/// fewer conversations than workers it shares conversation `worker % len` with others.
fn conversations_for(worker: usize, workers: usize, ids: &[String]) -> Vec<&String> {
    let own: Vec<&String> = ids.iter().skip(worker).step_by(workers).collect();
    match ids.get(worker % ids.len().max(1)) {
        Some(shared) if own.is_empty() => vec![shared],
        _ => own,
    }
}

/// Sends `complete` in a loop until `stop_at`. Requests that start during warmup are not
/// recorded; a request started before `stop_at` is allowed to finish (bounded by the client
/// timeout), so the worker ends at most one timeout after `stop_at`.
async fn run_worker(
    client: Client,
    auth: HeaderValue,
    urls: Vec<String>,
    window: Window,
    mut latencies: Histogram<u64>,
) -> WorkerOutcome {
    let mut errors = BTreeMap::new();
    let mut last_done = window.stop_at;
    for url in urls.iter().cycle() {
        let started = Instant::now();
        if started >= window.stop_at {
            break;
        }
        let outcome = complete_once(&client, url, &auth).await;
        let done = Instant::now();
        if started < window.measure_from {
            continue;
        }
        last_done = done;
        match outcome {
            Ok(()) => {
                let micros = done.duration_since(started).as_micros() as u64;
                latencies.saturating_record(micros.max(1));
            }
            Err(failure) => *errors.entry(failure.to_string()).or_insert(0) += 1,
        }
    }
    WorkerOutcome {
        latencies,
        errors,
        last_done,
    }
}

/// Why a `complete` did not count as a success.
#[derive(Debug)]
enum Failure {
    Status(u16),
    Timeout,
    Connect,
    Transport,
    /// 2xx, but not `{"status":"success","data":{"messages":[...]}}` with a message.
    BadBody,
}

impl Failure {
    fn from_reqwest(error: &reqwest::Error) -> Failure {
        if error.is_timeout() {
            Failure::Timeout
        } else if error.is_connect() {
            Failure::Connect
        } else {
            Failure::Transport
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Status(code) => write!(f, "HTTP {code}"),
            Failure::Timeout => f.write_str("timeout"),
            Failure::Connect => f.write_str("connect error"),
            Failure::Transport => f.write_str("transport error"),
            Failure::BadBody => f.write_str("unexpected body"),
        }
    }
}

#[derive(Deserialize)]
struct CompleteEnvelope {
    status: String,
    data: CompleteData,
}

#[derive(Deserialize)]
struct CompleteData {
    messages: Vec<IgnoredAny>,
}

async fn complete_once(client: &Client, url: &str, auth: &HeaderValue) -> Result<(), Failure> {
    let response = client
        .post(url)
        .header(AUTHORIZATION, auth.clone())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .body(COMPLETE_BODY)
        .send()
        .await
        .map_err(|e| Failure::from_reqwest(&e))?;
    let status = response.status();
    // Read the whole body either way: the latency covers the complete answer.
    let body = response
        .bytes()
        .await
        .map_err(|e| Failure::from_reqwest(&e))?;
    if !status.is_success() {
        return Err(Failure::Status(status.as_u16()));
    }
    match serde_json::from_slice::<CompleteEnvelope>(&body) {
        Ok(envelope) if envelope.status == "success" && !envelope.data.messages.is_empty() => {
            Ok(())
        }
        _ => Err(Failure::BadBody),
    }
}

/// The setup calls, which fail the run loudly rather than count as errors.
struct Api {
    client: Client,
    base_url: String,
    auth: HeaderValue,
}

impl Api {
    /// POSTs `body` to `path` and returns the envelope's `data`.
    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.base_url))
            .header(AUTHORIZATION, self.auth.clone())
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("reading the answer to POST {path}"))?;
        if !status.is_success() {
            bail!("POST {path} answered {status}: {}", clip(&text));
        }
        let mut envelope: Value = serde_json::from_str(&text)
            .with_context(|| format!("POST {path} answered non-JSON: {}", clip(&text)))?;
        envelope
            .get_mut("data")
            .map(Value::take)
            .with_context(|| format!("POST {path} answered without `data`: {}", clip(&text)))
    }

    async fn delete(&self, path: &str) -> anyhow::Result<()> {
        let response = self
            .client
            .delete(format!("{}{path}", self.base_url))
            .header(AUTHORIZATION, self.auth.clone())
            .send()
            .await
            .with_context(|| format!("DELETE {path}"))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            bail!("DELETE {path} answered {status}: {}", clip(&text));
        }
        Ok(())
    }
}

fn id_of(data: &Value, what: &str) -> anyhow::Result<String> {
    data.get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| {
            format!(
                "the new {what} has no string `id`: {}",
                clip(&data.to_string())
            )
        })
}

/// At most 300 characters of an answer, for error messages.
fn clip(text: &str) -> String {
    match text.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| i.to_string()).collect()
    }

    #[test]
    fn workers_own_disjoint_conversations_when_there_are_enough() {
        let ids = ids(6);
        assert_eq!(conversations_for(0, 3, &ids), vec!["0", "3"]);
        assert_eq!(conversations_for(2, 3, &ids), vec!["2", "5"]);
    }

    #[test]
    fn workers_share_when_there_are_fewer_conversations() {
        let ids = ids(2);
        assert_eq!(conversations_for(1, 4, &ids), vec!["1"]);
        assert_eq!(conversations_for(3, 4, &ids), vec!["1"]);
    }

    #[test]
    fn the_request_body_is_json_with_only_text() {
        let body: Value = serde_json::from_str(COMPLETE_BODY).unwrap_or_default();
        assert_eq!(body, json!({ "text": "what are your opening hours?" }));
    }
}
