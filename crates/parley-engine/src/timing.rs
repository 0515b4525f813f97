//! Where a turn's time goes: one histogram per stage of the pipeline (waiting for the
//! conversation's lock, loading its state, the guard's screen, routing, assembling the AI
//! context, the model call, the output check, the commit, and the whole turn). The server
//! registers them on `GET /metrics` as `parley_turn_stage_seconds{stage="…"}`, so an
//! operator sees which stage grew, and the AI overhead benchmark reads them to attribute
//! Parley's own time per turn.

use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

/// The stages a turn is timed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Waiting for the conversation's turn lock (another turn of the same conversation).
    LockWait,
    /// Reading the conversation, contact and session (and the compiled bot).
    Load,
    /// The input guard's screen: language, abuse, injection, PII masking.
    Guard,
    /// The responder chain, the model call included.
    Route,
    /// Assembling what is sent to the model (contexts, knowledge, summary, history).
    AiContext,
    /// The model call, retries and fallbacks included.
    AiModel,
    /// The output guard over the turn's replies.
    OutputCheck,
    /// Writing the turn (messages, session, events) in one transaction.
    Commit,
    /// The whole turn, from the inbound message to the committed replies.
    Turn,
}

impl Stage {
    pub const ALL: [Stage; 9] = [
        Stage::LockWait,
        Stage::Load,
        Stage::Guard,
        Stage::Route,
        Stage::AiContext,
        Stage::AiModel,
        Stage::OutputCheck,
        Stage::Commit,
        Stage::Turn,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::LockWait => "lock_wait",
            Stage::Load => "load",
            Stage::Guard => "guard",
            Stage::Route => "route",
            Stage::AiContext => "ai_context",
            Stage::AiModel => "ai_model",
            Stage::OutputCheck => "output_check",
            Stage::Commit => "commit",
            Stage::Turn => "turn",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    pub stage: &'static str,
}

/// The per-stage histograms; cheap to clone (shared).
#[derive(Clone)]
pub struct Timings {
    family: Family<StageLabels, Histogram>,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            family: Family::new_with_constructor(|| {
                // 25 µs to ~7 s, each bucket 1.5 times the last.
                Histogram::new(exponential_buckets(0.000_025, 1.5, 32))
            }),
        }
    }
}

impl std::fmt::Debug for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Timings")
    }
}

impl Timings {
    pub fn observe(&self, stage: Stage, took: Duration) {
        self.family
            .get_or_create(&StageLabels {
                stage: stage.name(),
            })
            .observe(took.as_secs_f64());
    }

    /// Times `stage` from now until the returned guard is dropped.
    pub fn start(&self, stage: Stage) -> StageTimer<'_> {
        StageTimer {
            timings: self,
            stage,
            started: Instant::now(),
        }
    }

    /// The histograms, to register with a metrics registry.
    pub fn family(&self) -> Family<StageLabels, Histogram> {
        self.family.clone()
    }
}

/// Records its stage's time when dropped, so early returns are timed too.
pub struct StageTimer<'a> {
    timings: &'a Timings,
    stage: Stage,
    started: Instant,
}

impl Drop for StageTimer<'_> {
    fn drop(&mut self) {
        self.timings.observe(self.stage, self.started.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;

    #[test]
    fn a_timer_records_its_stage_when_dropped() {
        let timings = Timings::default();
        {
            let _t = timings.start(Stage::Guard);
        }
        timings.observe(Stage::Commit, Duration::from_millis(3));
        let mut registry = Registry::with_prefix("parley");
        registry.register("turn_stage_seconds", "stages", timings.family());
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).expect("encodes");
        assert!(
            out.contains(r#"parley_turn_stage_seconds_count{stage="guard"} 1"#),
            "{out}"
        );
        assert!(
            out.contains(r#"parley_turn_stage_seconds_sum{stage="commit"} 0.003"#),
            "{out}"
        );
        assert!(!out.contains(r#"stage="load""#), "{out}");
    }
}
