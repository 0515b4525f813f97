//! Agent transfers (seed 002): a conversation handed from the bot to a human agent or a
//! team's queue. A conversation has at most one open (`active`) transfer; transferring it
//! again updates that one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TransferStatus {
    /// Waiting for or with an agent; the bot is silent.
    #[default]
    Active,
    /// Given back to the bot.
    Resumed,
}

impl TransferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Active => "active",
            TransferStatus::Resumed => "resumed",
        }
    }
}

/// What started a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TransferSource {
    /// The user wrote one of the bot's transfer keywords.
    Keyword,
    /// A flow reached a transfer step, or gave up after too many invalid answers.
    Flow,
    /// An admin or agent called `POST /transfers`.
    Api,
    /// An escalation rule: asked for a human, repeated fallbacks, frustration.
    Escalation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transfer {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub contact_id: Uuid,
    pub bot_id: Uuid,
    pub status: TransferStatus,
    pub source: TransferSource,
    /// `None`: the general queue.
    pub team_id: Option<Uuid>,
    pub agent_id: Option<Uuid>,
    pub notes: String,
    pub transferred_at: DateTime<Utc>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub resumed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}
