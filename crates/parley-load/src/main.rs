//! `parley-load`: how fast Parley answers `POST /api/v1/conversations/{id}/complete`, measured
//! against an in-process minimal axum server that parses the same body and returns a fixed
//! reply in the same envelope, in the same run and with the same parameters, so the ratio
//! says what Parley's routing, auth, keyword matching and storage cost over a bare HTTP floor.
//!
//! For each target (baseline first, then Parley) it creates a bot with `--rules` synthetic
//! keyword rules plus one that matches the sent text, opens `--conversations` conversations,
//! then runs `--concurrency` closed-loop workers that send `complete` for `--warmup` seconds
//! (not recorded) and `--duration` seconds (recorded in an HDR histogram, microseconds).
//! Non-2xx answers, unreadable bodies, transport errors and timeouts count as errors, not
//! latencies. Every phase is bounded in time, so a run always ends by itself.
//!
//! ```text
//! cargo build --release -p parley
//! cargo run --release -p parley-load -- --spawn target/release/parley --duration 10
//! PARLEY_CONVERSATION_MESSAGES_PER_MINUTE=0 PARLEY_MAX_MESSAGES_PER_CONVERSATION=0 \
//!     PARLEY_MAX_CONNECTIONS=10000 parley serve    # a server for --url (as --spawn does)
//! cargo run --release -p parley-load -- --url http://127.0.0.1:8080 --key pk_... --json
//! cargo run --release -p parley-load --            # baseline only
//! ```
//!
//! The load generator, the baseline and a spawned Parley share the machine's cores: figures
//! are what this box does with the client competing for CPU, not the server's ceiling.

mod baseline;
mod load;
mod report;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;

use crate::load::{LoadParams, Target};
use crate::report::{Parameters, Report};
use crate::server::SpawnedParley;

/// Load harness for Parley's `complete` endpoint, with a minimal axum baseline in the same run.
#[derive(Debug, Parser)]
#[command(name = "parley-load", version)]
struct Args {
    /// Start this parley binary on a free port with a fresh temporary data dir, load it, and
    /// stop it (and remove the dir) at the end.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["url", "serve_baseline"])]
    spawn: Option<PathBuf>,

    /// Load an already-running Parley server at this base URL (with --key).
    #[arg(long, value_name = "URL", requires = "key")]
    url: Option<String>,

    /// Admin API key for --url.
    #[arg(long, value_name = "KEY", requires = "url")]
    key: Option<String>,

    /// Concurrent workers, each looping `complete` requests.
    #[arg(long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    concurrency: u32,

    /// Measured seconds per target.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    duration: u64,

    /// Unrecorded seconds of load before measuring, per target.
    #[arg(long, value_name = "SECS", default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(0..=600))]
    warmup: u64,

    /// Conversations to open per target [default: --concurrency]. Each worker sends to its own
    /// conversation(s) round-robin; with fewer conversations than workers, workers share them
    /// and Parley serializes messages to one conversation by design.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    conversations: Option<u32>,

    /// Synthetic keyword rules on the load bot, besides the one the sent text matches.
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(0..=10_000))]
    rules: u32,

    /// Per-request timeout; a request that takes longer counts as an error.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    timeout: u64,

    /// Worker threads of the baseline server's own tokio runtime, kept apart from the load
    /// generator's runtime.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    baseline_threads: u32,

    /// Also print the results as one JSON line.
    #[arg(long)]
    json: bool,

    /// Only serve the baseline at this address until Ctrl-C (to point another harness at it
    /// with --url; any --key is accepted).
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["spawn", "url"])]
    serve_baseline: Option<SocketAddr>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();

    // The baseline server gets its own runtime (its own worker threads) so it does not share
    // the load generator's task queues; both still share the machine's cores.
    let baseline_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.baseline_threads as usize)
        .thread_name("baseline-server")
        .enable_all()
        .build()
        .context("building the baseline server runtime")?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("load-client")
        .enable_all()
        .build()
        .context("building the load generator runtime")?;

    let outcome = client_rt.block_on(async {
        tokio::select! {
            outcome = run(&args, baseline_rt.handle()) => outcome,
            signal = tokio::signal::ctrl_c() => {
                signal.context("listening for Ctrl-C")?;
                // Returning drops `run`, which stops a spawned Parley and removes its data dir.
                bail!("interrupted")
            }
        }
    });
    client_rt.shutdown_timeout(Duration::from_secs(1));
    baseline_rt.shutdown_background();
    outcome
}

async fn run(args: &Args, baseline_rt: &tokio::runtime::Handle) -> anyhow::Result<()> {
    if let Some(addr) = args.serve_baseline {
        let addr = baseline::start(baseline_rt, addr)?;
        eprintln!("baseline serving on http://{addr} (Ctrl-C to stop)");
        std::future::pending::<()>().await;
    }

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let params = LoadParams {
        concurrency: args.concurrency as usize,
        conversations: args.conversations.unwrap_or(args.concurrency) as usize,
        rules: args.rules as usize,
        warmup: Duration::from_secs(args.warmup),
        duration: Duration::from_secs(args.duration),
        timeout: Duration::from_secs(args.timeout),
    };
    let parameters = Parameters {
        concurrency: params.concurrency,
        conversations: params.conversations,
        rules: params.rules,
        warmup_secs: args.warmup,
        duration_secs: args.duration,
        timeout_secs: args.timeout,
        cores,
        client_threads: cores,
        baseline_threads: args.baseline_threads as usize,
    };
    let mut report = Report::new(parameters);

    // Baseline first, then Parley, with identical parameters.
    let baseline_addr = baseline::start(baseline_rt, SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let baseline = Target {
        name: "baseline".into(),
        base_url: format!("http://{baseline_addr}"),
        key: "pk_baseline_accepts_any_key".into(),
    };
    eprintln!("baseline: axum on {} ...", baseline.base_url);
    report.push(
        load::run(&baseline, &params)
            .await
            .context("loading the baseline")?,
    );

    if let Some(binary) = &args.spawn {
        eprintln!("parley: starting {} ...", binary.display());
        let parley = SpawnedParley::start(binary).await?;
        let target = Target {
            name: "parley".into(),
            base_url: parley.base_url.clone(),
            key: parley.key.clone(),
        };
        eprintln!("parley: up on {}, loading ...", target.base_url);
        let result = load::run(&target, &params).await;
        // Stop the server before reporting; the guard would do it on any early return too.
        drop(parley);
        report.push(result.context("loading Parley")?);
    } else if let (Some(url), Some(key)) = (&args.url, &args.key) {
        let base = reqwest::Url::parse(url).with_context(|| format!("parsing --url {url}"))?;
        let target = Target {
            name: "parley".into(),
            base_url: base.as_str().trim_end_matches('/').to_owned(),
            key: key.clone(),
        };
        eprintln!("parley: loading {} ...", target.base_url);
        report.push(
            load::run(&target, &params)
                .await
                .context("loading Parley")?,
        );
    } else {
        report.note("no Parley target given (--spawn PATH or --url URL --key KEY): baseline only");
    }

    report.print(args.json)
}
