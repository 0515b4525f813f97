//! What the AI stage stores: AI contexts, conversation summaries, and usage totals read from
//! the AI messages' `meta`. A separate trait so the AI work stays in its own files;
//! [`crate::Store`] requires it, so every store has it and `dyn Store` reaches it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parley_core::{AiContext, Message};
use serde::Serialize;
use uuid::Uuid;

use crate::{Page, PageRequest, Result};

/// The model's summary of a conversation's turns up to `upto_seq`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationSummary {
    pub conversation_id: Uuid,
    pub text: String,
    /// The last message the summary covers.
    pub upto_seq: i64,
    pub model: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// Totals over AI messages (`meta.source == "ai"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AiUsage {
    /// AI messages, cached and failed ones included.
    pub ai_messages: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    /// Sum of `meta.cost` (messages whose model has no price add nothing).
    pub cost: f64,
    /// Answered from the response cache.
    pub cached: i64,
    /// Replies that carry an `ai_error` (apologies, cut streams, removed transfer claims).
    pub failed: i64,
    /// Mean `latency_ms` of the messages a model answered.
    pub avg_latency_ms: Option<f64>,
}

#[async_trait]
pub trait AiStore: Send + Sync {
    /// False when the bot is not in `ws`.
    async fn insert_ai_context(&self, ws: Uuid, ctx: &AiContext) -> Result<bool>;
    async fn get_ai_context(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<Option<AiContext>>;
    async fn list_ai_contexts(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<AiContext>>;
    /// The bot's enabled contexts, highest priority first (the engine's read).
    async fn enabled_ai_contexts(&self, bot_id: Uuid) -> Result<Vec<AiContext>>;
    async fn update_ai_context(&self, ws: Uuid, ctx: &AiContext) -> Result<bool>;
    async fn delete_ai_context(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<bool>;

    /// The last `limit` messages with `after_seq < seq <= upto_seq`, oldest first.
    async fn recent_messages(
        &self,
        conversation_id: Uuid,
        after_seq: i64,
        upto_seq: i64,
        limit: u32,
    ) -> Result<Vec<Message>>;
    /// Messages with `after_seq < seq <= upto_seq`, oldest first, at most `limit`.
    async fn messages_between(
        &self,
        conversation_id: Uuid,
        after_seq: i64,
        upto_seq: i64,
        limit: u32,
    ) -> Result<Vec<Message>>;
    /// User messages with `after_seq < seq <= upto_seq`.
    async fn count_user_messages(
        &self,
        conversation_id: Uuid,
        after_seq: i64,
        upto_seq: i64,
    ) -> Result<i64>;
    async fn get_summary(&self, conversation_id: Uuid) -> Result<Option<ConversationSummary>>;
    /// Stores the summary unless one covering more (`upto_seq`) is already there.
    async fn put_summary(&self, summary: &ConversationSummary) -> Result<()>;

    async fn conversation_usage(&self, ws: Uuid, conversation_id: Uuid) -> Result<AiUsage>;
    async fn bot_usage(&self, ws: Uuid, bot_id: Uuid) -> Result<AiUsage>;

    /// The newest active conversation of `bot_id` whose contact has `external_id`.
    async fn find_user_conversation(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        external_id: &str,
    ) -> Result<Option<Uuid>>;
}
