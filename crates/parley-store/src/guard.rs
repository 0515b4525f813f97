//! What the guard stores: safety events (written with their turn by
//! [`crate::Store::commit_turn`], read here) and sealed PII originals. The store never
//! sees a PII value in clear: an original arrives already encrypted, as the JSON of the
//! guard's sealed record, and leaves the same way.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parley_core::{SafetyEvent, SafetyKind};
use uuid::Uuid;

use crate::{Page, PageRequest, Result};

/// A user message's original text, encrypted by the engine's vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedOriginal {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    /// The vault key that sealed it (for rotation: which records still need an old key).
    pub key_id: String,
    /// The sealed record as JSON (key id, nonce, ciphertext); opaque to the store.
    pub sealed: String,
    pub created_at: DateTime<Utc>,
}

/// `GET /bots/{id}/safety-events?kind=&conversation_id=`.
#[derive(Debug, Clone, Default)]
pub struct SafetyEventFilter {
    pub kind: Option<SafetyKind>,
    pub conversation_id: Option<Uuid>,
}

#[async_trait]
pub trait GuardStore: Send + Sync {
    /// The bot's safety events, newest first; empty when the bot is not in `ws`.
    async fn list_safety_events(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        filter: &SafetyEventFilter,
        page: &PageRequest,
    ) -> Result<Page<SafetyEvent>>;
    /// How many events of `kind` (and `action`, when given) the conversation has.
    async fn count_safety_events(
        &self,
        conversation_id: Uuid,
        kind: SafetyKind,
        action: Option<&str>,
    ) -> Result<i64>;
    /// The sealed original of a message of a conversation in `ws`, if one was kept.
    async fn sealed_original(
        &self,
        ws: Uuid,
        conversation_id: Uuid,
        message_id: Uuid,
    ) -> Result<Option<SealedOriginal>>;
}
