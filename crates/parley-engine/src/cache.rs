//! Compiled bots, cached by bot id and version. Every change to a bot, its settings or its
//! rules bumps the version in the same transaction, so a turn that sees a newer version
//! recompiles once and every later turn reuses the result: rules are never compiled per
//! message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use parley_core::{Bot, KeywordMatcher, Settings};
use parley_store::Store;
use uuid::Uuid;

use crate::error::{EngineError, Result};

/// A bot ready to answer: settings and the matcher built from its enabled rules.
#[derive(Debug)]
pub struct CompiledBot {
    pub bot: Bot,
    pub settings: Settings,
    pub matcher: KeywordMatcher,
    pub version: i64,
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
        let compiled = Arc::new(CompiledBot {
            matcher: KeywordMatcher::compile(snap.rules)?,
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
