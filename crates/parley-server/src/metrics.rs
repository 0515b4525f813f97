//! `GET /metrics`: Prometheus text, from the `prometheus-client` crate. Every request is
//! counted and timed by method, route template (not the raw path, so ids do not explode
//! the label space) and status.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::error::ApiError;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram>,
}

impl Metrics {
    /// The HTTP metrics plus the engine's per-stage turn timings.
    pub fn new(turn_stages: &parley_engine::timing::Timings) -> Self {
        let mut registry = Registry::with_prefix("parley");
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            // 100 µs to ~52 s.
            Histogram::new(exponential_buckets(0.0001, 2.0, 20))
        });
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            durations.clone(),
        );
        registry.register(
            "turn_stage_seconds",
            "Time a turn spent in each stage of the engine (lock_wait, load, guard, route, \
             ai_context, ai_model, output_check, commit; turn is the whole of a complete)",
            turn_stages.family(),
        );
        registry.register(
            "template_failures",
            "Author templates that failed to render (the customer got the fallback text), \
             by kind: syntax, fuel, memory, too_long, unavailable, failed",
            parley_engine::templating::failures(),
        );
        Metrics {
            registry,
            requests,
            durations,
        }
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let labels = RequestLabels {
            method: method.to_string(),
            route: route.to_string(),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.durations.get_or_create(&labels).observe(seconds);
    }

    fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Middleware: counts and times every request.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let resp = next.run(req).await;
    metrics.observe(
        &method,
        &route,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

/// # `GET /metrics`
pub async fn serve(State(metrics): State<Arc<Metrics>>) -> Response {
    match metrics.render() {
        Ok(text) => (
            [(
                CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => ApiError::Internal("metrics could not be encoded".into()).into_response(),
    }
}
