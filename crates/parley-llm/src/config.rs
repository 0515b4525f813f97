//! Provider configuration as it appears in the server's config file, and [`Providers`], the
//! named set of ready clients built from it. A `[providers.NAME]` table:
//!
//! ```toml
//! [providers.openai]
//! kind = "openai"                       # or "anthropic"
//! base_url = "https://api.openai.com/v1"
//! api_key_env = "OPENAI_API_KEY"        # omitted for keyless local servers
//! max_retries = 2                       # optional
//! timeouts = { connect_ms = 3000, first_token_ms = 15000, total_ms = 90000 }  # optional
//! ```
//!
//! Keys are read from the environment variable the config names, never from the file, and
//! live in `SecretString`s from then on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::anthropic::AnthropicProvider;
use crate::breaker::{BreakerConfig, CircuitBreaker};
use crate::chain::{ModelChain, Target};
use crate::openai::OpenAiProvider;
use crate::provider::{Provider, Timeouts};
use crate::retry::RetryPolicy;

/// Which wire protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Any OpenAI-compatible chat-completions endpoint.
    Openai,
    /// Anthropic's Messages API.
    Anthropic,
}

/// One `[providers.NAME]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    /// For `openai`, the API root with its version (`https://api.openai.com/v1`); for
    /// `anthropic`, the host root (`https://api.anthropic.com`).
    pub base_url: String,
    /// The environment variable holding the API key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub timeouts: TimeoutsConfig,
    /// Retries per target after the first attempt.
    #[serde(default)]
    pub max_retries: Option<u32>,
}

/// Optional overrides of [`Timeouts::default`], in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsConfig {
    pub connect_ms: Option<u64>,
    pub first_token_ms: Option<u64>,
    pub total_ms: Option<u64>,
}

impl TimeoutsConfig {
    pub fn resolve(&self) -> Timeouts {
        let defaults = Timeouts::default();
        Timeouts {
            connect: self
                .connect_ms
                .map_or(defaults.connect, Duration::from_millis),
            first_token: self
                .first_token_ms
                .map_or(defaults.first_token, Duration::from_millis),
            total: self.total_ms.map_or(defaults.total, Duration::from_millis),
        }
    }
}

/// Why the providers could not be built. Every variant names the provider.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("provider `{provider}`: environment variable `{var}` (its api_key_env) is not set")]
    MissingApiKey { provider: String, var: String },

    #[error("provider `{provider}`: base_url `{url}` is not an http(s) URL")]
    InvalidBaseUrl { provider: String, url: String },

    #[error("provider `{provider}`: timeouts must be non-zero ({field})")]
    InvalidTimeout {
        provider: String,
        field: &'static str,
    },

    #[error("provider `{provider}`: could not build its HTTP client: {message}")]
    HttpClient { provider: String, message: String },

    #[error("no provider named `{name}` is configured")]
    UnknownProvider { name: String },
}

/// A provider ready for use, with what every target on it shares.
#[derive(Clone)]
pub struct ProviderEntry {
    pub provider: Arc<dyn Provider>,
    pub retry: RetryPolicy,
    pub breaker: Arc<CircuitBreaker>,
}

impl ProviderEntry {
    /// An entry with the default retry policy and a default breaker on the system clock.
    pub fn new(provider: Arc<dyn Provider>) -> Self {
        Self {
            provider,
            retry: RetryPolicy::default(),
            breaker: Arc::new(CircuitBreaker::new(BreakerConfig::default())),
        }
    }
}

impl std::fmt::Debug for ProviderEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderEntry")
            .field("provider", &self.provider.name())
            .field("retry", &self.retry)
            .field("breaker", &self.breaker.state())
            .finish()
    }
}

/// The configured providers, by name.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    entries: BTreeMap<String, ProviderEntry>,
}

impl Providers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds every configured provider, reading keys through `env_lookup` (pass
    /// `|name| std::env::var(name).ok()` in production). An empty variable counts as unset.
    pub fn from_config<'a, I, K>(
        configs: I,
        env_lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, &'a ProviderConfig)>,
        K: AsRef<str>,
    {
        let mut providers = Self::new();
        for (name, config) in configs {
            let name = name.as_ref();
            let provider = build_provider(name, config, &env_lookup)?;
            let mut entry = ProviderEntry::new(provider);
            if let Some(max_retries) = config.max_retries {
                entry.retry.max_retries = max_retries;
            }
            providers.insert(name, entry);
        }
        Ok(providers)
    }

    pub fn insert(&mut self, name: impl Into<String>, entry: ProviderEntry) {
        self.entries.insert(name.into(), entry);
    }

    pub fn get(&self, name: &str) -> Option<&ProviderEntry> {
        self.entries.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// A target on the named provider, sharing its retry policy and breaker.
    pub fn target(&self, provider: &str, model: &str) -> Result<Target, ConfigError> {
        let entry = self
            .get(provider)
            .ok_or_else(|| ConfigError::UnknownProvider {
                name: provider.to_owned(),
            })?;
        Ok(Target::new(entry.provider.clone(), model)
            .with_retry(entry.retry)
            .with_breaker(entry.breaker.clone()))
    }

    /// A chain over `(provider, model)` pairs, in order.
    pub fn chain(&self, targets: &[(&str, &str)]) -> Result<ModelChain, ConfigError> {
        let targets = targets
            .iter()
            .map(|(provider, model)| self.target(provider, model))
            .collect::<Result<_, _>>()?;
        Ok(ModelChain::new(targets))
    }
}

fn build_provider(
    name: &str,
    config: &ProviderConfig,
    env_lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Provider>, ConfigError> {
    let url_ok =
        reqwest::Url::parse(&config.base_url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !url_ok {
        return Err(ConfigError::InvalidBaseUrl {
            provider: name.to_owned(),
            url: config.base_url.clone(),
        });
    }
    let api_key = match &config.api_key_env {
        None => None,
        Some(var) => match env_lookup(var).filter(|v| !v.trim().is_empty()) {
            Some(key) => Some(SecretString::from(key.trim().to_owned())),
            None => {
                return Err(ConfigError::MissingApiKey {
                    provider: name.to_owned(),
                    var: var.clone(),
                })
            }
        },
    };
    let timeouts = config.timeouts.resolve();
    for (field, value) in [
        ("connect_ms", timeouts.connect),
        ("first_token_ms", timeouts.first_token),
        ("total_ms", timeouts.total),
    ] {
        if value.is_zero() {
            return Err(ConfigError::InvalidTimeout {
                provider: name.to_owned(),
                field,
            });
        }
    }
    Ok(match config.kind {
        ProviderKind::Openai => Arc::new(OpenAiProvider::new(
            name,
            &config.base_url,
            api_key,
            timeouts,
        )?),
        ProviderKind::Anthropic => Arc::new(AnthropicProvider::new(
            name,
            &config.base_url,
            api_key,
            timeouts,
        )?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(kind: ProviderKind, env: Option<&str>) -> ProviderConfig {
        ProviderConfig {
            kind,
            base_url: "http://127.0.0.1:9/v1".into(),
            api_key_env: env.map(str::to_owned),
            timeouts: TimeoutsConfig::default(),
            max_retries: Some(4),
        }
    }

    #[test]
    fn a_missing_key_names_the_provider_and_the_variable() {
        let mut map = BTreeMap::new();
        map.insert(
            "main".to_owned(),
            config(ProviderKind::Openai, Some("MAIN_KEY")),
        );
        let err = Providers::from_config(&map, |_| None).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`main`") && text.contains("`MAIN_KEY`"),
            "{text}"
        );
    }

    #[test]
    fn providers_are_built_by_name_with_their_retry_settings() {
        let mut map = BTreeMap::new();
        map.insert("oa".to_owned(), config(ProviderKind::Openai, Some("K")));
        map.insert("local".to_owned(), config(ProviderKind::Anthropic, None));
        let providers =
            Providers::from_config(&map, |v| (v == "K").then(|| "sk-1".into())).unwrap();
        assert_eq!(providers.names().collect::<Vec<_>>(), ["local", "oa"]);
        assert_eq!(providers.get("oa").unwrap().retry.max_retries, 4);
        assert_eq!(providers.get("oa").unwrap().provider.name(), "oa");
        assert!(matches!(
            providers.target("nope", "m"),
            Err(ConfigError::UnknownProvider { .. })
        ));
    }

    #[test]
    fn a_bad_base_url_is_rejected() {
        let mut c = config(ProviderKind::Openai, None);
        c.base_url = "api.openai.com".into();
        let err = Providers::from_config([("x", &c)], |_| None).unwrap_err();
        assert!(matches!(err, ConfigError::InvalidBaseUrl { .. }));
    }
}
