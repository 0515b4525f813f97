//! `spawn_app()`: a Parley server on 127.0.0.1:0 over a temp data dir, with an admin key,
//! and small request helpers that return the status and the parsed JSON body.

use std::net::SocketAddr;
use std::sync::Arc;

use parley_engine::knowledge::{EmbeddingConfig, Knowledge};
use parley_engine::outbound::{OutboundConfig, OutboundHttp};
use parley_engine::{Engine, Limits};
use parley_server::{auth, AppState, HttpConfig};
use parley_store::{SqliteStore, Store};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub const ADMIN_KEY: &str = "pk_test_admin_key_0123456789abcdef";

pub struct TestApp {
    pub addr: SocketAddr,
    pub key: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    /// The engine's knowledge base (to run the server's periodic sync on demand).
    pub knowledge: Arc<Knowledge>,
    _dir: Option<tempfile::TempDir>,
    _shutdown: oneshot::Sender<()>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(HttpConfig::default(), Limits::default()).await
}

pub async fn spawn_app_with(http: HttpConfig, limits: Limits) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut app = spawn_app_at(dir.path(), http, limits).await;
    app._dir = Some(dir);
    app
}

/// A server over an existing data dir (to restart on the same data); stops when dropped.
pub async fn spawn_app_at(data_dir: &std::path::Path, http: HttpConfig, limits: Limits) -> TestApp {
    spawn_engine(data_dir, http, limits, None, None, None).await
}

/// A server whose knowledge base fuses BM25 with embeddings from `embeddings`, over an
/// existing data dir.
pub async fn spawn_app_with_embeddings_at(
    data_dir: &std::path::Path,
    embeddings: EmbeddingConfig,
) -> TestApp {
    spawn_engine(
        data_dir,
        HttpConfig::default(),
        Limits::default(),
        None,
        None,
        Some(embeddings),
    )
    .await
}

/// A server whose engine answers with LLMs through `ai` (fresh temp data dir).
pub async fn spawn_app_with_ai(ai: parley_engine::ai::AiRuntime) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut app = spawn_engine(
        dir.path(),
        HttpConfig::default(),
        Limits::default(),
        Some(Arc::new(ai)),
        None,
        None,
    )
    .await;
    app._dir = Some(dir);
    app
}

/// A server with LLMs through `ai` (optional) and PII originals sealed with `vault`.
pub async fn spawn_app_with_guard(
    ai: Option<parley_engine::ai::AiRuntime>,
    vault: Option<parley_guard::Keyring>,
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut app = spawn_engine(
        dir.path(),
        HttpConfig::default(),
        Limits::default(),
        ai.map(Arc::new),
        vault,
        None,
    )
    .await;
    app._dir = Some(dir);
    app
}

/// The outbound policy of test servers: the local endpoints tests start (127.0.0.1) may
/// be reached; every other private address is refused as in production.
pub fn test_outbound() -> OutboundConfig {
    OutboundConfig {
        allow_private_networks: vec![parley_engine::outbound::parse_network("127.0.0.1").unwrap()],
        ..OutboundConfig::default()
    }
}

/// A server with `outbound` as its outbound policy (and LLMs through `ai`, optional).
pub async fn spawn_app_with_outbound(
    outbound: OutboundConfig,
    ai: Option<parley_engine::ai::AiRuntime>,
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut app = spawn_engine_with(
        dir.path(),
        HttpConfig::default(),
        Limits::default(),
        ai.map(Arc::new),
        None,
        None,
        outbound,
    )
    .await;
    app._dir = Some(dir);
    app
}

async fn spawn_engine(
    data_dir: &std::path::Path,
    http: HttpConfig,
    limits: Limits,
    ai: Option<Arc<parley_engine::ai::AiRuntime>>,
    vault: Option<parley_guard::Keyring>,
    embeddings: Option<EmbeddingConfig>,
) -> TestApp {
    spawn_engine_with(
        data_dir,
        http,
        limits,
        ai,
        vault,
        embeddings,
        test_outbound(),
    )
    .await
}

async fn spawn_engine_with(
    data_dir: &std::path::Path,
    http: HttpConfig,
    limits: Limits,
    ai: Option<Arc<parley_engine::ai::AiRuntime>>,
    vault: Option<parley_guard::Keyring>,
    embeddings: Option<EmbeddingConfig>,
    outbound: OutboundConfig,
) -> TestApp {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(data_dir).await.unwrap());
    let ws = store.default_workspace().await.unwrap();
    auth::ensure_key(store.as_ref(), ws.id, "test", ADMIN_KEY)
        .await
        .unwrap();
    let mut knowledge = Knowledge::new(data_dir, store.clone()).with_limits(
        parley_engine::knowledge::KnowledgeLimits {
            max_file_bytes: http.max_upload_bytes,
            ..Default::default()
        },
    );
    if let Some(embeddings) = embeddings {
        knowledge = knowledge.with_embeddings(embeddings).unwrap();
    }
    let knowledge = Arc::new(knowledge);
    let mut engine = Engine::new(store.clone(), limits)
        .with_knowledge(knowledge.clone())
        .with_outbound(OutboundHttp::new(outbound).unwrap());
    if let Some(ai) = ai {
        engine = engine.with_ai(ai);
    }
    if let Some(vault) = vault {
        engine = engine.with_vault(vault);
    }
    let engine = Arc::new(engine);
    let state = AppState::new(engine, http).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(parley_server::serve(listener, state, async {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        key: ADMIN_KEY.to_string(),
        client: reqwest::Client::new(),
        store,
        knowledge,
        _dir: None,
        _shutdown: tx,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A request with this app's admin key.
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.req_as(&self.key, method, path)
    }

    pub fn req_as(
        &self,
        credential: &str,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(credential)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        send(self.req(reqwest::Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        send(self.req(reqwest::Method::POST, path).json(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        send(self.req(reqwest::Method::PUT, path).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        send(self.req(reqwest::Method::DELETE, path)).await
    }

    pub async fn create_bot(&self, name: &str) -> String {
        let (status, body) = self.post("/api/v1/bots", json!({ "name": name })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"]["id"].as_str().unwrap().to_string()
    }

    /// Creates a bot and puts `settings` on it (which must be accepted).
    pub async fn create_bot_with(&self, name: &str, settings: Value) -> String {
        let bot = self.create_bot(name).await;
        let (status, body) = self
            .put(&format!("/api/v1/bots/{bot}/settings"), settings)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        bot
    }

    pub async fn create_rule(&self, bot: &str, rule: Value) -> Value {
        let (status, body) = self
            .post(&format!("/api/v1/bots/{bot}/keywords"), rule)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"].clone()
    }

    /// Starts a conversation and returns its `data` (with the greeting in `messages`).
    pub async fn start(&self, bot: &str) -> Value {
        let (status, body) = self
            .post("/api/v1/conversations", json!({ "bot_id": bot }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"].clone()
    }

    /// `complete` with text; returns the bot's replies.
    pub async fn say(&self, conversation: &str, text: &str) -> Vec<Value> {
        let (status, body) = self
            .post(
                &format!("/api/v1/conversations/{conversation}/complete"),
                json!({ "text": text }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["data"]["messages"].as_array().unwrap().clone()
    }

    pub async fn history(&self, conversation: &str) -> Vec<Value> {
        let (status, body) = self
            .get(&format!(
                "/api/v1/conversations/{conversation}/messages?limit=200"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["data"]["items"].as_array().unwrap().clone()
    }
}

pub async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// Asserts the error envelope with `code`, and returns its `error` object.
pub fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) -> Value {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(message.len() > 5, "the error needs a sentence: {body}");
    body["error"].clone()
}

/// The fields named in a 422's details.
pub fn bad_fields(error: &Value) -> Vec<String> {
    error["details"]["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["field"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// An AI runtime with one provider, `fake` (OpenAI shape), on `fake`; deadlines short
/// enough for tests.
pub fn fake_ai(fake: &parley_llm::fake::FakeHandle) -> parley_engine::ai::AiRuntime {
    use parley_llm::{OpenAiProvider, PriceTable, ProviderEntry, Providers, Timeouts};
    use std::time::Duration;
    let timeouts = Timeouts {
        connect: Duration::from_secs(1),
        first_token: Duration::from_secs(2),
        total: Duration::from_secs(5),
    };
    let mut providers = Providers::new();
    providers.insert(
        "fake",
        ProviderEntry::new(Arc::new(
            OpenAiProvider::new("fake", &fake.openai_base_url(), None, timeouts).unwrap(),
        )),
    );
    parley_engine::ai::AiRuntime::new(Arc::new(providers), PriceTable::new())
}
