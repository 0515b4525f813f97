//! Compiled bots, cached by bot id and version. Every change to a bot, its settings or its
//! rules bumps the version in the same transaction, so a turn that sees a newer version
//! recompiles once and every later turn reuses the result: rules are never compiled per
//! message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::Utc;
use dashmap::DashMap;
use parley_core::{Bot, Flow, KeywordMatcher, KeywordRule, MatchType, ResponseType, Settings};
use parley_store::Store;
use uuid::Uuid;

use crate::error::{EngineError, Result};

/// A bot ready to answer: settings, the matcher built from its enabled rules, its flows
/// with a matcher over their trigger keywords, and one over its transfer keywords.
#[derive(Debug)]
pub struct CompiledBot {
    pub bot: Bot,
    pub settings: Settings,
    pub matcher: KeywordMatcher,
    /// Every flow at its current version (disabled ones too: conversations inside them
    /// finish); keyed in `flow_triggers` by flow id.
    pub flows: Vec<Arc<Flow>>,
    /// Enabled flows' trigger keywords, matched like `contains` rules.
    pub flow_triggers: KeywordMatcher,
    /// The settings' `transfer_keywords`, matched like a `contains` rule.
    pub transfer_words: KeywordMatcher,
    pub timezone: chrono_tz::Tz,
    /// PII and link hosts in the texts the bot's author wrote (settings, rules, flows): the
    /// output guard lets the bot repeat its own support line or help-centre link.
    pub trusted: parley_guard::TrustedValues,
    pub version: i64,
}

impl CompiledBot {
    pub fn flow(&self, id: Uuid) -> Option<&Arc<Flow>> {
        self.flows.iter().find(|f| f.id == id)
    }
}

/// A `contains` rule standing in for a keyword list, so flow triggers and transfer words
/// match exactly like keyword rules (whole words, case- and accent-aware).
fn word_list(id: Uuid, bot_id: Uuid, keywords: Vec<String>) -> KeywordRule {
    let now = Utc::now();
    KeywordRule {
        id,
        bot_id,
        name: String::new(),
        keywords,
        match_type: MatchType::Contains,
        response_type: ResponseType::Text,
        response: String::new(),
        buttons: Vec::new(),
        priority: 0,
        enabled: true,
        created_at: now,
        updated_at: now,
    }
}

/// What the output guard may let the bot say of its author's own texts. The settings are
/// read without the guard's secrets (never "trusted") and the system prompt (which only the
/// model sees).
fn author_texts(
    settings: &Settings,
    rules: &[KeywordRule],
    flows: &[Flow],
) -> parley_guard::TrustedValues {
    let mut public = settings.clone();
    public.guard.output.secrets.clear();
    public.system_prompt.clear();
    let mut texts = vec![
        serde_json::to_string(&public).unwrap_or_default(),
        // Parley's own re-ask texts carry example values.
        parley_core::answer::INVALID_EMAIL.to_string(),
        parley_core::answer::INVALID_PHONE.to_string(),
    ];
    texts.extend(rules.iter().map(|r| r.response.clone()));
    texts.extend(
        flows
            .iter()
            .map(|f| serde_json::to_string(&f.spec).unwrap_or_default()),
    );
    parley_guard::TrustedValues::from_texts(texts.iter().map(String::as_str))
}

#[derive(Debug, Default)]
pub struct BotCache {
    bots: DashMap<Uuid, Arc<CompiledBot>>,
    compiles: AtomicU64,
}

impl BotCache {
    /// The compiled bot at `version`, compiling it if the cache holds an older one.
    pub async fn get(
        &self,
        store: &dyn Store,
        ws: Uuid,
        bot_id: Uuid,
        version: i64,
    ) -> Result<Arc<CompiledBot>> {
        if let Some(hit) = self.bots.get(&bot_id) {
            if hit.version == version {
                return Ok(hit.clone());
            }
        }
        self.load(store, ws, bot_id).await
    }

    /// The bot as stored now, compiled and cached.
    pub async fn load(
        &self,
        store: &dyn Store,
        ws: Uuid,
        bot_id: Uuid,
    ) -> Result<Arc<CompiledBot>> {
        let snap = store
            .bot_snapshot(ws, bot_id)
            .await?
            .ok_or_else(|| EngineError::not_found("bot"))?;
        self.compiles.fetch_add(1, Ordering::Relaxed);
        let bot_id = snap.bot.id;
        let flow_triggers = KeywordMatcher::compile(
            snap.flows
                .iter()
                .filter(|f| f.spec.enabled && !f.spec.trigger_keywords.is_empty())
                .map(|f| word_list(f.id, bot_id, f.spec.trigger_keywords.clone())),
        )?;
        let transfer_words = KeywordMatcher::compile(
            (!snap.settings.transfer_keywords.is_empty())
                .then(|| word_list(bot_id, bot_id, snap.settings.transfer_keywords.clone())),
        )?;
        let timezone = snap.settings.timezone.parse().unwrap_or(chrono_tz::UTC);
        let trusted = author_texts(&snap.settings, &snap.rules, &snap.flows);
        let compiled = Arc::new(CompiledBot {
            trusted,
            matcher: KeywordMatcher::compile(snap.rules)?,
            flows: snap.flows.into_iter().map(Arc::new).collect(),
            flow_triggers,
            transfer_words,
            timezone,
            bot: snap.bot,
            settings: snap.settings,
            version: snap.version,
        });
        // Two turns may race to compile; keep whichever is newer.
        self.bots
            .entry(bot_id)
            .and_modify(|old| {
                if old.version < compiled.version {
                    *old = compiled.clone();
                }
            })
            .or_insert_with(|| compiled.clone());
        Ok(compiled)
    }

    /// How many times a bot has been compiled since start (hits cost nothing).
    pub fn compiles(&self) -> u64 {
        self.compiles.load(Ordering::Relaxed)
    }

    pub fn forget(&self, bot_id: Uuid) {
        self.bots.remove(&bot_id);
    }
}
