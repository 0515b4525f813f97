//! Parley's HTTP edge: the axum routes of the API contract, authentication, the error
//! envelope and the OpenAPI document. Handlers are thin: they extract typed input, call one
//! engine function and wrap the result; no SQL and no business rules live here.

pub mod auth;
mod body;
mod conn;
pub mod error;
pub mod extract;
mod metrics;
mod openapi;
mod routes;
pub mod widget;

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use parley_engine::rate::Rate;
use parley_engine::Engine;
use serde::Serialize;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use auth::TokenKeys;
pub use axum::http::HeaderName;
pub use error::{ApiError, ApiResult};

/// Settings of the HTTP edge.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request body accepted (413 above it).
    pub max_body_bytes: usize,
    /// Lifetime of conversation tokens when the request names none.
    pub token_ttl: chrono::Duration,
    /// Conversations one client address may start through the widget per minute
    /// (0: unlimited).
    pub widget_starts_per_minute: u32,
    /// A header the reverse proxy in front of Parley sets to the client's address
    /// (`x-real-ip`, `x-forwarded-for`); without it, the TCP peer's address counts.
    pub client_ip_header: Option<HeaderName>,
    /// Largest document accepted by the dataset record routes (a file upload or a JSON
    /// record; 413 above it).
    pub max_upload_bytes: usize,
    /// User messages one client address may send with conversation tokens, across its
    /// conversations (API keys are limited per conversation only, by the engine).
    pub client_messages: Rate,
    /// Time a client has to send a request's whole head (line and headers); also how long
    /// an idle keep-alive connection stays open.
    pub header_read_timeout: std::time::Duration,
    /// Time a request's body has to arrive whole, from when its head was read.
    pub body_read_timeout: std::time::Duration,
    /// Connections open at once; more wait to be accepted.
    pub max_connections: usize,
    /// Serve `GET /metrics` on this (the API) listener. Off: `/metrics` is only on the
    /// listener given to [`serve_metrics`], if any.
    pub metrics_public: bool,
}

/// `max_upload_bytes` unless configured: 10 MiB, as `parley-kb` accepts.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

/// Widget conversation starts per client address and minute, unless configured.
pub const DEFAULT_WIDGET_STARTS_PER_MINUTE: u32 = 10;

/// User messages per client address (conversation tokens) unless configured.
pub const DEFAULT_CLIENT_MESSAGES: Rate = Rate {
    per_minute: 120,
    burst: 60,
};

/// `header_read_timeout` unless configured.
pub const DEFAULT_HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `body_read_timeout` unless configured.
pub const DEFAULT_BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// `max_connections` unless configured: room under the usual 1,024 descriptors a process
/// may open, next to the database's and the search index's.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: 64 * 1024,
            token_ttl: chrono::Duration::hours(24),
            widget_starts_per_minute: DEFAULT_WIDGET_STARTS_PER_MINUTE,
            client_ip_header: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            client_messages: DEFAULT_CLIENT_MESSAGES,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            metrics_public: false,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub tokens: TokenKeys,
    pub http: Arc<HttpConfig>,
    /// Widget conversation starts per client address.
    pub widget_starts: Arc<widget::StartLimiter>,
    /// User messages per client address (conversation tokens).
    pub client_messages: Arc<widget::ClientLimiter>,
    /// Request counts and timings, shared by the API listener and the metrics one.
    metrics: Arc<metrics::Metrics>,
}

impl AppState {
    /// State for `engine`, with the token signing key read (or made) from the store.
    pub async fn new(
        engine: Arc<Engine>,
        http: HttpConfig,
    ) -> Result<AppState, parley_store::StoreError> {
        let secret = engine
            .store()
            .secret("conversation_token_key", &|| {
                let mut b = vec![0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut b);
                b
            })
            .await?;
        Ok(AppState {
            metrics: Arc::new(metrics::Metrics::new(engine.timings())),
            engine,
            tokens: TokenKeys::new(&secret),
            widget_starts: Arc::new(widget::StartLimiter::per_minute(
                http.widget_starts_per_minute,
            )),
            client_messages: Arc::new(widget::ClientLimiter::new(http.client_messages)),
            http: Arc::new(http),
        })
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Parley API",
        description = "Conversations, bots, keyword rules and settings. Every success is \
            `{\"status\": \"success\", \"data\": ...}`; every error is \
            `{\"status\": \"error\", \"error\": {\"code\", \"message\", \"details\"}}`."
    ),
    // Schemas only named by query parameters, which utoipa-axum does not collect.
    components(schemas(parley_core::TransferStatus)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key (`pk_…`) or a conversation token"))
                    .build(),
            ),
        );
    }
}

/// The whole application: API routes, health, the OpenAPI document, the web widget.
pub fn router(state: AppState) -> Router {
    let (api, browser, openapi) = route_parts();
    let openapi = Arc::new(openapi);
    // The widget's CORS wraps the browser routes only, and goes on after their 405
    // answer, so a preflight `OPTIONS` reaches it instead of the 405.
    let browser = browser
        .method_not_allowed_fallback(method_not_allowed)
        .layer(widget::browser_cors(Some(state.engine.clone())));
    let max_body = state.http.max_body_bytes;
    let metrics = state.metrics.clone();
    let mut app = api
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = openapi.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(method_not_allowed)
        .merge(browser);
    if state.http.metrics_public {
        app = app.route(
            "/metrics",
            axum::routing::get(metrics::serve).with_state(metrics.clone()),
        );
    }
    app.layer(DefaultBodyLimit::max(max_body))
        .route_layer(axum::middleware::from_fn_with_state(
            state.http.clone(),
            body::guard,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("an internal error occurred; it has been logged".into())
                .into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /metrics` alone, for a listener of its own (`metrics_listen`).
pub fn metrics_router(state: &AppState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(metrics::serve))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .with_state(state.metrics.clone())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed("this route does not take that method".into())
}

/// The OpenAPI document, as served at `/openapi.json`.
pub fn openapi() -> serde_json::Value {
    route_parts().2
}

/// The routes for keys and the public pages; the routes a browser calls from other sites
/// (conversation tokens and the widget's public endpoints); and the document of both.
fn route_parts() -> (Router<AppState>, Router<AppState>, serde_json::Value) {
    let (api, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::system::routes())
        .merge(routes::keys::routes())
        .merge(routes::bots::routes())
        .merge(routes::keywords::routes())
        .merge(routes::flows::routes())
        .merge(routes::conversations::routes())
        .merge(routes::sessions::routes())
        .merge(routes::teams::routes())
        .merge(routes::transfers::routes())
        .merge(routes::ai::routes())
        .merge(routes::datasets::routes())
        .merge(routes::guard::routes())
        .merge(routes::live::routes())
        .merge(routes::openai::routes())
        .merge(routes::widget::pages())
        .split_for_parts();
    let (browser, browser_doc) = OpenApiRouter::new()
        .merge(routes::conversations::token_routes())
        .merge(routes::widget::routes())
        .split_for_parts();
    doc.merge(browser_doc);
    (api, browser, openapi::finish(doc))
}

/// Serves until `shutdown` completes, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(expire_idle_flows(state.engine.clone()));
    let indexer = tokio::spawn(index_pending_records(state.engine.clone()));
    let limits = conn::ConnLimits {
        header_read_timeout: state.http.header_read_timeout,
        max_connections: state.http.max_connections,
    };
    let served = conn::run(listener, router(state), limits, shutdown).await;
    sweeper.abort();
    indexer.abort();
    served
}

/// Serves `GET /metrics` alone on `listener` (a private address for Prometheus) until
/// `shutdown` completes.
pub async fn serve_metrics(
    listener: TcpListener,
    state: &AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = conn::ConnLimits {
        header_read_timeout: state.http.header_read_timeout,
        max_connections: METRICS_CONNECTIONS,
    };
    conn::run(listener, metrics_router(state), limits, shutdown).await
}

/// Connections the metrics listener takes at once (scrapers, not the public).
const METRICS_CONNECTIONS: usize = 16;

/// How often idle flows are looked for.
const EXPIRY_SWEEP: std::time::Duration = std::time::Duration::from_secs(30);

/// Ends flows idle past their bot's `flows.session_timeout_seconds`, until aborted.
async fn expire_idle_flows(engine: Arc<Engine>) {
    let mut tick = tokio::time::interval(EXPIRY_SWEEP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match engine.expire_idle_flows(chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(ended = n, "idle flows abandoned"),
            Err(e) => tracing::warn!(error = %e, "expiring idle flows failed"),
        }
    }
}

/// Indexes knowledge-base records another process (`parley dataset import` while the
/// server runs) stored but could not index, every sweep, until aborted.
async fn index_pending_records(engine: Arc<Engine>) {
    let Some(knowledge) = engine.knowledge_base().cloned() else {
        return;
    };
    let mut tick = tokio::time::interval(EXPIRY_SWEEP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match knowledge.sync().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(records = n, "knowledge-base records indexed"),
            Err(e) => tracing::warn!(error = %e, "indexing stored knowledge-base records failed"),
        }
    }
}

/// `{"status": "success", "data": data}` with `status`.
pub(crate) fn success<T: Serialize>(status: StatusCode, data: T) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "status": "success", "data": data })),
    )
        .into_response()
}
