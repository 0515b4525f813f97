//! Configuration, layered: built-in defaults < a TOML file (`--config`) < `PARLEY_*`
//! environment variables (`__` for nesting) < command-line flags. Unknown keys are
//! refused by name, so a typo cannot silently fall back to a default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Where the SQLite database (and later the search index) live.
    pub data_dir: PathBuf,
    /// An admin key to accept (and create if missing) in the default workspace.
    pub admin_key: Option<SecretString>,
    /// Largest request body, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Largest knowledge-base document: an uploaded file or a JSON record (413 above it).
    pub max_upload_bytes: usize,
    /// Longest user message, in characters (422 above it).
    pub max_message_chars: usize,
    /// Default lifetime of conversation tokens, in seconds.
    pub token_ttl_seconds: i64,
    /// Conversations one client address may start through the web widget per minute
    /// (0: unlimited).
    pub widget_starts_per_minute: u32,
    /// Behind a reverse proxy: the header it sets to the client's address (`X-Real-IP`,
    /// `X-Forwarded-For`: the last address in it counts). Unset: the TCP peer counts.
    pub client_ip_header: Option<String>,
    /// User messages one conversation may take per minute, whoever sends them (0: no
    /// limit); `conversation_message_burst` of them at once. Over it: 429 with `Retry-After`.
    pub conversation_messages_per_minute: u32,
    pub conversation_message_burst: u32,
    /// User messages one client address may send per minute with conversation tokens,
    /// across its conversations (0: no limit); `client_message_burst` at once. API keys are
    /// limited per conversation only.
    pub client_messages_per_minute: u32,
    pub client_message_burst: u32,
    /// User messages one conversation may hold (0: no cap); past it, 409
    /// `conversation_full`.
    pub max_messages_per_conversation: u32,
    /// Time a client has to send a request's head (also an idle keep-alive's life), in ms.
    pub header_read_timeout_ms: u64,
    /// Time a request's body has to arrive whole, in ms (408 after it).
    pub body_read_timeout_ms: u64,
    /// Connections open at once; more wait to be accepted (each is a file descriptor).
    pub max_connections: usize,
    /// A second listener serving only `GET /metrics` (e.g. `127.0.0.1:9100`) for
    /// Prometheus. Unset: no metrics listener.
    pub metrics_listen: Option<SocketAddr>,
    /// Serve `GET /metrics` on the API listener too (off by default: it is public there).
    pub metrics_public: bool,
    /// SQLite's `synchronous`: `full` (default: commits are on disk before they are
    /// acknowledged) or `normal` (they survive a process kill, not a power cut).
    pub sqlite_synchronous: parley_store::Synchronous,
    /// Log filter (`info`, `parley=debug,info`, …); `RUST_LOG` wins when set.
    pub log: String,
    /// LLM providers by name (`[providers.NAME]`: `kind`, `base_url`, `api_key_env`,
    /// optional `timeouts` and `max_retries`); a bot's `ai_provider` names one. Keys are read
    /// from the environment variables named, never from this file.
    #[serde(default)]
    pub providers: BTreeMap<String, parley_llm::ProviderConfig>,
    /// Prices per million tokens by model (`[pricing."gpt-4o-mini"]`), for `meta.cost`.
    #[serde(default)]
    pub pricing: parley_llm::PriceTable,
    /// How long identical, conversation-independent AI answers are reused (0: never).
    pub ai_cache_ttl_seconds: u64,
    /// The guard's server-side settings (bots set their policies in their settings).
    #[serde(default)]
    pub guard: GuardConfig,
    /// The knowledge base's server-side settings.
    #[serde(default)]
    pub knowledge: KnowledgeConfig,
    /// Requests made on a user's or an author's behalf (`api_fetch`, `api` AI contexts,
    /// dataset URLs).
    #[serde(default)]
    pub outbound: OutboundSection,
}

/// `[outbound]`: the policy for requests Parley makes on a user's or an author's behalf.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundSection {
    /// Networks that may be reached although they are private, loopback or link-local
    /// (`["10.1.2.0/24", "127.0.0.1"]`; also one string, comma-separated, from
    /// `PARLEY_OUTBOUND__ALLOW_PRIVATE_NETWORKS`). Empty: only public addresses.
    #[serde(default)]
    pub allow_private_networks: Networks,
    /// Longest an outbound request may take, connection to last byte (a step or context
    /// may ask for less).
    #[serde(default = "default_outbound_timeout_ms")]
    pub timeout_ms: u64,
    /// Largest response body read (`api_fetch` reads at most 1 MiB, `api` contexts 64 KiB
    /// and dataset pages 2 MiB whatever this says).
    #[serde(default = "default_outbound_max_response_bytes")]
    pub max_response_bytes: usize,
}

impl Default for OutboundSection {
    fn default() -> Self {
        OutboundSection {
            allow_private_networks: Networks::default(),
            timeout_ms: default_outbound_timeout_ms(),
            max_response_bytes: default_outbound_max_response_bytes(),
        }
    }
}

/// A list of networks, written as a list or as one comma-separated string.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "OneOrMany")]
pub struct Networks(pub Vec<String>);

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<String>),
    One(String),
}

impl From<OneOrMany> for Networks {
    fn from(v: OneOrMany) -> Self {
        Networks(match v {
            OneOrMany::Many(v) => v,
            OneOrMany::One(s) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
}

fn default_outbound_timeout_ms() -> u64 {
    parley_engine::outbound::DEFAULT_TIMEOUT.as_millis() as u64
}

fn default_outbound_max_response_bytes() -> usize {
    parley_engine::outbound::DEFAULT_MAX_RESPONSE_BYTES
}

/// `[knowledge]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeConfig {
    /// An OpenAI-compatible embeddings endpoint; without it, search is BM25 alone.
    pub embeddings: Option<EmbeddingsConfig>,
}

/// `[knowledge.embeddings]`: `base_url`, `model`, `api_key_env`, `timeout_ms`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingsConfig {
    /// Base URL, e.g. `https://api.openai.com/v1`; `/embeddings` is appended.
    pub base_url: String,
    /// The model every chunk and query is embedded with (vectors are stored per model).
    pub model: String,
    /// The environment variable holding the API key, if the endpoint wants one.
    pub api_key_env: Option<String>,
    /// Whole-request timeout for ingestion calls (queries wait 2 s at most).
    #[serde(default = "default_embeddings_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_embeddings_timeout_ms() -> u64 {
    30_000
}

/// `[guard]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardConfig {
    /// The vault keys that seal PII originals for bots with `mask_and_seal`:
    /// `[guard.pii_keys] active = { id = "2025-06", key = "<32 bytes, base64>" }` and
    /// `retired = [{ id, key }, …]`. The active key seals; every key opens. Without it,
    /// originals are always dropped.
    pub pii_keys: Option<parley_guard::vault::KeyringConfig>,
}

/// The defaults, as a serializable layer (secrets have no default).
#[derive(Debug, Serialize)]
struct Defaults {
    listen: String,
    data_dir: String,
    max_body_bytes: usize,
    max_upload_bytes: usize,
    max_message_chars: usize,
    token_ttl_seconds: i64,
    widget_starts_per_minute: u32,
    conversation_messages_per_minute: u32,
    conversation_message_burst: u32,
    client_messages_per_minute: u32,
    client_message_burst: u32,
    max_messages_per_conversation: u32,
    header_read_timeout_ms: u64,
    body_read_timeout_ms: u64,
    max_connections: usize,
    metrics_public: bool,
    sqlite_synchronous: String,
    log: String,
    ai_cache_ttl_seconds: u64,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            listen: "127.0.0.1:8080".into(),
            data_dir: "./data".into(),
            max_body_bytes: 64 * 1024,
            max_upload_bytes: parley_server::DEFAULT_MAX_UPLOAD_BYTES,
            max_message_chars: 4096,
            token_ttl_seconds: 24 * 3600,
            widget_starts_per_minute: parley_server::DEFAULT_WIDGET_STARTS_PER_MINUTE,
            conversation_messages_per_minute: parley_engine::DEFAULT_CONVERSATION_MESSAGES
                .per_minute,
            conversation_message_burst: parley_engine::DEFAULT_CONVERSATION_MESSAGES.burst,
            client_messages_per_minute: parley_server::DEFAULT_CLIENT_MESSAGES.per_minute,
            client_message_burst: parley_server::DEFAULT_CLIENT_MESSAGES.burst,
            max_messages_per_conversation: parley_engine::DEFAULT_MAX_MESSAGES_PER_CONVERSATION,
            header_read_timeout_ms: duration_ms(parley_server::DEFAULT_HEADER_READ_TIMEOUT),
            body_read_timeout_ms: duration_ms(parley_server::DEFAULT_BODY_READ_TIMEOUT),
            max_connections: parley_server::DEFAULT_MAX_CONNECTIONS,
            metrics_public: false,
            sqlite_synchronous: "full".into(),
            log: "info".into(),
            ai_cache_ttl_seconds: 0,
        }
    }
}

fn duration_ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Values given as flags; only those set override the other layers.
#[derive(Debug, Default, Serialize)]
pub struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
}

impl Config {
    pub fn load(file: Option<&Path>, flags: FlagOverrides) -> anyhow::Result<Config> {
        Self::figment(file, flags)?
            .extract::<Config>()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?
            .validate()
    }

    fn figment(file: Option<&Path>, flags: FlagOverrides) -> anyhow::Result<Figment> {
        let mut figment = Figment::from(Serialized::defaults(Defaults::default()));
        if let Some(path) = file {
            if !path.is_file() {
                bail!("the config file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        Ok(figment
            // PARLEY_CONFIG names the file itself (read by the CLI), not a key in it;
            // PARLEY_BROWSER_TESTS and PARLEY_PEER_TESTS steer the test suite, not the server.
            .merge(
                Env::prefixed("PARLEY_")
                    .ignore(&["config", "browser_tests", "peer_tests"])
                    .split("__"),
            )
            .merge(Serialized::defaults(flags)))
    }

    fn validate(self) -> anyhow::Result<Config> {
        if !(1024..=64 * 1024 * 1024).contains(&self.max_body_bytes) {
            bail!("max_body_bytes must be between 1024 and 67108864");
        }
        if !(1024..=256 * 1024 * 1024).contains(&self.max_upload_bytes) {
            bail!("max_upload_bytes must be between 1024 and 268435456");
        }
        if !(1..=100_000).contains(&self.max_message_chars) {
            bail!("max_message_chars must be between 1 and 100000");
        }
        if !(60..=30 * 24 * 3600).contains(&self.token_ttl_seconds) {
            bail!("token_ttl_seconds must be between 60 and 2592000");
        }
        if !(100..=600_000).contains(&self.header_read_timeout_ms) {
            bail!("header_read_timeout_ms must be between 100 and 600000");
        }
        if !(100..=3_600_000).contains(&self.body_read_timeout_ms) {
            bail!("body_read_timeout_ms must be between 100 and 3600000");
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            bail!("max_connections must be between 1 and 1000000");
        }
        if let Some(name) = &self.client_ip_header {
            if parley_server::HeaderName::from_bytes(name.trim().as_bytes()).is_err() {
                bail!("client_ip_header must be an HTTP header name, like `X-Real-IP`");
            }
        }
        self.pii_keyring()?;
        if let Some(e) = &self.knowledge.embeddings {
            let url = e.base_url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("knowledge.embeddings.base_url must be an http(s) URL");
            }
            if e.model.trim().is_empty() {
                bail!("knowledge.embeddings.model must not be empty");
            }
            if !(100..=600_000).contains(&e.timeout_ms) {
                bail!("knowledge.embeddings.timeout_ms must be between 100 and 600000");
            }
        }
        self.outbound()?;
        if let Some(key) = &self.admin_key {
            use secrecy::ExposeSecret;
            if key.expose_secret().trim().len() < 16 {
                bail!("admin_key (PARLEY_ADMIN_KEY) must be at least 16 characters");
            }
        }
        Ok(self)
    }

    /// The PII vault keyring, when `[guard] pii_keys` is configured; errors name the key.
    pub fn pii_keyring(&self) -> anyhow::Result<Option<parley_guard::Keyring>> {
        self.guard
            .pii_keys
            .as_ref()
            .map(|c| {
                parley_guard::Keyring::from_config(c)
                    .map_err(|e| anyhow::anyhow!("invalid [guard] pii_keys: {e}"))
            })
            .transpose()
    }

    /// The outbound policy, checked: errors name the key.
    pub fn outbound(&self) -> anyhow::Result<parley_engine::outbound::OutboundConfig> {
        let o = &self.outbound;
        let allow_private_networks = o
            .allow_private_networks
            .0
            .iter()
            .map(|n| parley_engine::outbound::parse_network(n))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("outbound.allow_private_networks: {e}"))?;
        if !(100..=600_000).contains(&o.timeout_ms) {
            bail!("outbound.timeout_ms must be between 100 and 600000");
        }
        if !(1024..=1024 * 1024 * 1024).contains(&o.max_response_bytes) {
            bail!("outbound.max_response_bytes must be between 1024 and 1073741824");
        }
        Ok(parley_engine::outbound::OutboundConfig {
            allow_private_networks,
            timeout: std::time::Duration::from_millis(o.timeout_ms),
            max_response_bytes: o.max_response_bytes,
        })
    }

    /// The engine's limits on what users send.
    pub fn engine_limits(&self) -> parley_engine::Limits {
        parley_engine::Limits {
            max_message_chars: self.max_message_chars,
            conversation_messages: parley_engine::rate::Rate {
                per_minute: self.conversation_messages_per_minute,
                burst: self.conversation_message_burst,
            },
            max_messages_per_conversation: self.max_messages_per_conversation,
        }
    }

    /// The HTTP edge's settings.
    pub fn http(&self) -> parley_server::HttpConfig {
        use std::time::Duration;
        parley_server::HttpConfig {
            max_body_bytes: self.max_body_bytes,
            token_ttl: chrono::Duration::seconds(self.token_ttl_seconds),
            widget_starts_per_minute: self.widget_starts_per_minute,
            client_ip_header: self.client_ip_header(),
            max_upload_bytes: self.max_upload_bytes,
            client_messages: parley_engine::rate::Rate {
                per_minute: self.client_messages_per_minute,
                burst: self.client_message_burst,
            },
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
            body_read_timeout: Duration::from_millis(self.body_read_timeout_ms),
            max_connections: self.max_connections,
            metrics_public: self.metrics_public,
        }
    }

    /// The client address header as the server takes it (checked by `validate`).
    pub fn client_ip_header(&self) -> Option<parley_server::HeaderName> {
        self.client_ip_header
            .as_deref()
            .and_then(|n| parley_server::HeaderName::from_bytes(n.trim().as_bytes()).ok())
    }

    /// The configured LLM providers, ready to call. A provider whose `api_key_env` names an
    /// unset variable is an error naming both; the keys themselves are never logged.
    pub fn providers(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<parley_llm::Providers> {
        parley_llm::Providers::from_config(&self.providers, env)
            .map_err(|e| anyhow::anyhow!("invalid provider configuration: {e}"))
    }

    /// The embeddings endpoint, when `[knowledge.embeddings]` is configured. An
    /// `api_key_env` naming an unset variable is an error naming it; the key itself is
    /// never logged.
    pub fn embeddings(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Option<parley_engine::knowledge::EmbeddingConfig>> {
        let Some(e) = &self.knowledge.embeddings else {
            return Ok(None);
        };
        let api_key = match &e.api_key_env {
            Some(name) => Some(SecretString::from(env(name).with_context(|| {
                format!("knowledge.embeddings.api_key_env names `{name}`, which is not set")
            })?)),
            None => None,
        };
        Ok(Some(parley_engine::knowledge::EmbeddingConfig {
            base_url: e.base_url.trim().to_string(),
            model: e.model.trim().to_string(),
            api_key,
            timeout: std::time::Duration::from_millis(e.timeout_ms),
        }))
    }

    /// Makes sure the data directory exists; says which one when it cannot be made.
    pub fn ensure_data_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating the data directory {}", self.data_dir.display()))
    }
}

#[cfg(test)]
// figment's Jail returns its own (large) error type; that is its API, not ours.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn layers_override_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "parley.toml",
                "listen = \"127.0.0.1:9000\"\ndata_dir = \"/from-file\"\nmax_message_chars = 100",
            )?;
            jail.set_env("PARLEY_DATA_DIR", "/from-env");
            let c = Config::load(
                Some(Path::new("parley.toml")),
                FlagOverrides {
                    listen: Some("127.0.0.1:9100".into()),
                    data_dir: None,
                },
            )
            .map_err(|e| e.to_string())?;
            assert_eq!(c.listen.port(), 9100); // flag beats file
            assert_eq!(c.data_dir, PathBuf::from("/from-env")); // env beats file
            assert_eq!(c.max_message_chars, 100); // file beats default
            assert_eq!(c.max_body_bytes, 65536); // default
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("parley.toml", "lisen = \"127.0.0.1:9000\"")?;
            let err = Config::load(Some(Path::new("parley.toml")), FlagOverrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("lisen"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn the_config_file_variable_is_not_a_key() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("p.toml", "log = \"debug\"")?;
            jail.set_env("PARLEY_CONFIG", "p.toml");
            let c = Config::load(Some(Path::new("p.toml")), FlagOverrides::default())
                .map_err(|e| e.to_string())?;
            assert_eq!(c.log, "debug");
            Ok(())
        });
    }

    #[test]
    fn the_widget_limit_and_proxy_header_are_read_and_checked() {
        figment::Jail::expect_with(|jail| {
            let c = Config::load(None, FlagOverrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(c.widget_starts_per_minute, 10);
            assert!(c.client_ip_header().is_none());
            jail.set_env("PARLEY_WIDGET_STARTS_PER_MINUTE", "0");
            jail.set_env("PARLEY_CLIENT_IP_HEADER", "X-Real-IP");
            let c = Config::load(None, FlagOverrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(c.widget_starts_per_minute, 0);
            assert_eq!(c.client_ip_header().unwrap().as_str(), "x-real-ip");
            jail.set_env("PARLEY_CLIENT_IP_HEADER", "not a header");
            let err = Config::load(None, FlagOverrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("client_ip_header"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn edge_limits_have_safe_defaults_and_are_read() {
        figment::Jail::expect_with(|jail| {
            let c = Config::load(None, FlagOverrides::default()).map_err(|e| e.to_string())?;
            let http = c.http();
            assert!(!http.metrics_public, "metrics are not public by default");
            assert!(c.metrics_listen.is_none());
            assert_eq!(http.header_read_timeout.as_secs(), 10);
            assert_eq!(http.max_connections, 512);
            assert_eq!(http.client_messages.per_minute, 120);
            let limits = c.engine_limits();
            assert_eq!(limits.conversation_messages.per_minute, 60);
            assert_eq!(limits.max_messages_per_conversation, 1000);
            jail.create_file(
                "p.toml",
                "conversation_messages_per_minute = 0\nmax_connections = 8\n\
                 metrics_listen = \"127.0.0.1:9100\"\n",
            )?;
            jail.set_env("PARLEY_BODY_READ_TIMEOUT_MS", "1500");
            let c = Config::load(Some(Path::new("p.toml")), FlagOverrides::default())
                .map_err(|e| e.to_string())?;
            assert_eq!(c.engine_limits().conversation_messages.per_minute, 0);
            assert_eq!(c.http().max_connections, 8);
            assert_eq!(c.http().body_read_timeout.as_millis(), 1500);
            assert_eq!(c.metrics_listen.map(|a| a.port()), Some(9100));
            jail.set_env("PARLEY_HEADER_READ_TIMEOUT_MS", "5");
            let err = Config::load(None, FlagOverrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("header_read_timeout_ms"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn providers_come_from_the_file_and_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "p.toml",
                "ai_cache_ttl_seconds = 60\n\
                 [providers.openai]\nkind = \"openai\"\nbase_url = \"https://api.openai.com/v1\"\n\
                 api_key_env = \"TEST_OPENAI_KEY\"\n\
                 [pricing.\"gpt-4o-mini\"]\ninput_per_million = 0.15\noutput_per_million = 0.6\n",
            )?;
            jail.set_env("PARLEY_PROVIDERS__LOCAL__KIND", "openai");
            jail.set_env(
                "PARLEY_PROVIDERS__LOCAL__BASE_URL",
                "http://127.0.0.1:11434/v1",
            );
            jail.set_env("PARLEY_PROVIDERS__OPENAI__MAX_RETRIES", "4");
            let c = Config::load(Some(Path::new("p.toml")), FlagOverrides::default())
                .map_err(|e| e.to_string())?;
            assert_eq!(c.ai_cache_ttl_seconds, 60);
            assert_eq!(c.providers["openai"].max_retries, Some(4));
            assert_eq!(c.providers["local"].base_url, "http://127.0.0.1:11434/v1");
            assert!(c.pricing.get("gpt-4o-mini").is_some());
            let err = c.providers(|_| None).unwrap_err().to_string();
            assert!(
                err.contains("`openai`") && err.contains("`TEST_OPENAI_KEY`"),
                "{err}"
            );
            let providers = c
                .providers(|v| (v == "TEST_OPENAI_KEY").then(|| "sk-test".to_string()))
                .map_err(|e| e.to_string())?;
            assert_eq!(providers.names().collect::<Vec<_>>(), ["local", "openai"]);
            Ok(())
        });
    }

    #[test]
    fn outbound_networks_come_from_the_file_and_the_environment() {
        figment::Jail::expect_with(|jail| {
            let c = Config::load(None, FlagOverrides::default()).map_err(|e| e.to_string())?;
            let o = c.outbound().map_err(|e| e.to_string())?;
            assert!(o.allow_private_networks.is_empty());
            assert_eq!(o.timeout, parley_engine::outbound::DEFAULT_TIMEOUT);
            jail.create_file(
                "o.toml",
                "[outbound]\nallow_private_networks = [\"10.1.2.0/24\", \"127.0.0.1\"]\ntimeout_ms = 2000\n",
            )?;
            let c = Config::load(Some(Path::new("o.toml")), FlagOverrides::default())
                .map_err(|e| e.to_string())?;
            let o = c.outbound().map_err(|e| e.to_string())?;
            let nets: Vec<String> = o
                .allow_private_networks
                .iter()
                .map(|n| n.to_string())
                .collect();
            assert_eq!(nets, ["10.1.2.0/24", "127.0.0.1/32"]);
            assert_eq!(o.timeout.as_millis(), 2000);
            jail.set_env(
                "PARLEY_OUTBOUND__ALLOW_PRIVATE_NETWORKS",
                "127.0.0.0/8, 192.168.0.0/16",
            );
            let c = Config::load(None, FlagOverrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(
                c.outbound()
                    .map_err(|e| e.to_string())?
                    .allow_private_networks
                    .len(),
                2
            );
            jail.set_env("PARLEY_OUTBOUND__ALLOW_PRIVATE_NETWORKS", "[\"::1\"]");
            let c = Config::load(None, FlagOverrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(
                c.outbound()
                    .map_err(|e| e.to_string())?
                    .allow_private_networks
                    .len(),
                1
            );
            // A typo stops the start, naming the key.
            jail.set_env("PARLEY_OUTBOUND__ALLOW_PRIVATE_NETWORKS", "10.0.0.0/33");
            let err = Config::load(None, FlagOverrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("outbound.allow_private_networks"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn pii_keys_come_from_the_file_and_the_environment() {
        figment::Jail::expect_with(|jail| {
            let old = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
            let new = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
            jail.create_file(
                "g.toml",
                &format!("[guard.pii_keys]\nretired = [{{ id = \"2024\", key = \"{old}\" }}]\n"),
            )?;
            jail.set_env("PARLEY_GUARD__PII_KEYS__ACTIVE__ID", "2025");
            jail.set_env("PARLEY_GUARD__PII_KEYS__ACTIVE__KEY", new);
            let c = Config::load(Some(Path::new("g.toml")), FlagOverrides::default())
                .map_err(|e| e.to_string())?;
            let ring = c.pii_keyring().map_err(|e| e.to_string())?;
            assert_eq!(
                ring.map(|r| r.active_key_id().to_string()).as_deref(),
                Some("2025")
            );
            // A key of the wrong length stops the start, naming the key.
            jail.set_env("PARLEY_GUARD__PII_KEYS__ACTIVE__KEY", "c2hvcnQ=");
            let err = Config::load(Some(Path::new("g.toml")), FlagOverrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("pii_keys") && err.contains("2025"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn short_admin_keys_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PARLEY_ADMIN_KEY", "short");
            assert!(Config::load(None, FlagOverrides::default()).is_err());
            Ok(())
        });
    }

    #[test]
    fn embeddings_come_from_the_file_and_the_environment() {
        figment::Jail::expect_with(|jail| {
            let none = Config::load(None, FlagOverrides::default()).map_err(|e| e.to_string())?;
            assert!(none
                .embeddings(|_| None)
                .map_err(|e| e.to_string())?
                .is_none());

            jail.create_file(
                "p.toml",
                "[knowledge.embeddings]\nbase_url = \"http://localhost:11434/v1\"\nmodel = \"nomic-embed-text\"\n",
            )?;
            jail.set_env("PARLEY_KNOWLEDGE__EMBEDDINGS__TIMEOUT_MS", "5000");
            jail.set_env("PARLEY_KNOWLEDGE__EMBEDDINGS__API_KEY_ENV", "EMBED_KEY");
            let c = Config::load(Some(Path::new("p.toml")), FlagOverrides::default())
                .map_err(|e| e.to_string())?;
            let err = c.embeddings(|_| None).map(|_| ()).unwrap_err().to_string();
            assert!(err.contains("EMBED_KEY"), "{err}");
            let e = c
                .embeddings(|name| (name == "EMBED_KEY").then(|| "sk-test".to_string()))
                .map_err(|e| e.to_string())?
                .ok_or("configured")?;
            assert_eq!(e.base_url, "http://localhost:11434/v1");
            assert_eq!(e.model, "nomic-embed-text");
            assert_eq!(e.timeout, std::time::Duration::from_secs(5));
            assert!(e.api_key.is_some());
            assert!(!format!("{e:?}").contains("sk-test"));

            jail.set_env("PARLEY_KNOWLEDGE__EMBEDDINGS__BASE_URL", "localhost:11434");
            let err = Config::load(Some(Path::new("p.toml")), FlagOverrides::default())
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(err.contains("knowledge.embeddings.base_url"), "{err}");
            jail.set_env(
                "PARLEY_KNOWLEDGE__EMBEDDINGS__BASE_URL",
                "https://api.openai.com/v1",
            );
            jail.set_env("PARLEY_KNOWLEDGE__EMBEDDINGS__MODLE", "x");
            let err = Config::load(Some(Path::new("p.toml")), FlagOverrides::default())
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(err.contains("modle"), "{err}");
            Ok(())
        });
    }
}
