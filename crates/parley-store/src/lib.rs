//! Parley's storage. [`Store`] is the one interface the engine and the server use; the
//! SQLite implementation ([`SqliteStore`]) is the embedded default. Nothing above this
//! crate knows which database is behind it: every query is scoped by workspace, ids are
//! UUIDs, times are UTC, and a turn is committed through [`Store::commit_turn`] in one
//! transaction, so a PostgreSQL implementation can slot in beside it.

pub mod ai;
mod error;
pub mod guard;
pub mod kb;
mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parley_core::bot::ParsedBotDefinition;
use parley_core::flow::FlowSpec;
use parley_core::rule::RuleSpec;
use parley_core::{
    Agent, ApiKey, Bot, Contact, ContactInput, Conversation, ConversationStatus, Feedback, Flow,
    KeywordRule, Message, Session, SessionMode, Settings, Team, Transfer, TransferStatus,
    Workspace,
};
use serde::Serialize;
use uuid::Uuid;

pub use ai::{AiStore, AiUsage, ConversationSummary};
pub use error::StoreError;
pub use guard::{GuardStore, SafetyEventFilter, SealedOriginal};
pub use kb::{ChunkRow, ChunkToEmbed, EmbeddedRecord, KbStore, RecordChunks, RecordWrite};
pub use sqlite::{
    SqliteStore, Synchronous, TRANSFER_ASSIGNED, TRANSFER_CREATED, TRANSFER_RESUMED,
    TRANSFER_UPDATED,
};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

/// `?limit=&cursor=` of a list request. The cursor is opaque to clients.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
    }
}

/// One page of a list: `next_cursor` is `None` on the last page.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Everything the engine needs about a bot to answer for it; `version` changes whenever
/// any of it does.
#[derive(Debug, Clone)]
pub struct BotSnapshot {
    pub bot: Bot,
    pub settings: Settings,
    pub rules: Vec<KeywordRule>,
    pub flows: Vec<Flow>,
    pub version: i64,
}

/// A conversation's state at the start of a turn.
#[derive(Debug, Clone)]
pub struct TurnState {
    pub conversation: Conversation,
    pub contact: Contact,
    pub session: Session,
    pub bot_version: i64,
    /// The conversation's last message `seq`; above `session.handled_seq`, messages wait.
    pub last_seq: i64,
}

impl TurnState {
    /// Are there user messages that no turn has answered yet?
    pub fn has_pending(&self) -> bool {
        self.last_seq > self.session.handled_seq
    }
}

/// A message not yet stored: the store gives it its place (`seq`) in the conversation.
#[derive(Debug, Clone)]
pub struct NewMessage(pub Message);

/// An outbox event to write with a turn.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: String,
    pub payload: serde_json::Value,
}

/// A stored outbox event.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub seq: i64,
    pub conversation_id: Option<Uuid>,
    pub kind: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// What one turn changes, written atomically: messages (in order), the session, events.
#[derive(Debug, Clone)]
pub struct TurnCommit {
    pub workspace_id: Uuid,
    pub conversation_id: Uuid,
    pub messages: Vec<Message>,
    /// Saved when given, with `handled_seq` set to the conversation's last message: a
    /// turn that saves the session has answered everything up to and including it.
    pub session: Option<Session>,
    /// Built from the stored messages (which then have their `seq`), one per message.
    pub message_event_kind: Option<&'static str>,
    /// Further outbox events (`flow.completed`, `transfer.created`, …), after the messages'.
    pub events: Vec<NewEvent>,
    /// A transfer this turn opens; it updates the conversation's open one if there is one.
    pub transfer: Option<Transfer>,
    /// Marks this (open) transfer resumed: the bot has the conversation again.
    pub resume_transfer: Option<Uuid>,
    /// When false the session keeps its `handled_seq` (a turn that answered nothing, such
    /// as an idle flow expiring, must not mark waiting messages as answered).
    pub answered: bool,
    /// The guard's decisions in this turn, recorded with it.
    pub safety_events: Vec<parley_core::SafetyEvent>,
    /// Sealed originals of this turn's user messages (the messages are in `messages`).
    pub sealed_originals: Vec<SealedOriginal>,
    /// Closes the conversation with this turn (the guard's `abuse.action: close`).
    pub close_conversation: bool,
    pub now: DateTime<Utc>,
}

impl TurnCommit {
    /// A commit of `messages` that answers everything before them.
    pub fn new(ws: Uuid, conversation_id: Uuid, now: DateTime<Utc>) -> TurnCommit {
        TurnCommit {
            workspace_id: ws,
            conversation_id,
            messages: Vec::new(),
            session: None,
            message_event_kind: None,
            events: Vec::new(),
            transfer: None,
            resume_transfer: None,
            answered: true,
            safety_events: Vec::new(),
            sealed_originals: Vec::new(),
            close_conversation: false,
            now,
        }
    }
}

/// The messages and events a committed turn stored.
#[derive(Debug, Clone, Default)]
pub struct CommittedTurn {
    pub messages: Vec<Message>,
    pub events: Vec<Event>,
    /// The conversation's last message `seq` after the commit.
    pub last_seq: i64,
    /// The transfer as stored (a new one, or the open one it updated).
    pub transfer: Option<Transfer>,
}

/// Which queue: the general one (no team), one team's, or several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queue {
    General,
    Team(Uuid),
    /// The general queue and these teams' (an agent's queues).
    GeneralAnd(Vec<Uuid>),
}

/// The transfers that put a conversation within an agent's reach, as the engine's
/// `access` rule defines them: active ones in the general queue or one of `teams`, and
/// any (active or resumed) assigned to `agent_id`. The store only turns this into SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentReach {
    pub teams: Vec<Uuid>,
    pub agent_id: Uuid,
}

#[derive(Debug, Clone, Default)]
pub struct TransferFilter {
    pub status: Option<TransferStatus>,
    pub queue: Option<Queue>,
    pub agent_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    /// Only transfers within this agent's reach (combined with the other fields).
    pub reach: Option<AgentReach>,
}

/// A transfer with the names an inbox shows, and how long the user waited.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransferView {
    #[serde(flatten)]
    pub transfer: Transfer,
    pub contact_name: Option<String>,
    pub phone_number: Option<String>,
    pub team_name: Option<String>,
    pub agent_name: Option<String>,
    /// Seconds from the transfer to its pickup (or until now while it waits).
    pub wait_seconds: i64,
}

/// `GET /transfers`: a page of transfers and the queue sizes (unassigned active ones).
#[derive(Debug, Clone, Serialize)]
pub struct TransferList {
    pub transfers: Vec<TransferView>,
    pub next_cursor: Option<String>,
    pub general_queue_count: i64,
    pub team_queue_counts: std::collections::BTreeMap<Uuid, i64>,
}

/// A new conversation with its contact, session and first messages (the greeting).
#[derive(Debug, Clone)]
pub struct NewConversation {
    pub workspace_id: Uuid,
    pub conversation: Conversation,
    pub contact: ContactInput,
    pub session: Session,
    pub messages: Vec<Message>,
    pub message_event_kind: Option<&'static str>,
}

#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub bot_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub status: Option<ConversationStatus>,
}

#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub bot_id: Option<Uuid>,
    pub mode: Option<SessionMode>,
}

/// Whether an import created the bot or updated one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportOutcome {
    Created,
    Updated,
}

#[async_trait]
pub trait Store: AiStore + GuardStore + KbStore + Send + Sync + 'static {
    /// Is the database reachable and answering?
    async fn ping(&self) -> Result<()>;

    // --- workspaces and keys ---
    /// The workspace created on first start (created now if there is none).
    async fn default_workspace(&self) -> Result<Workspace>;
    async fn create_workspace(&self, name: &str) -> Result<Workspace>;
    async fn list_workspaces(&self) -> Result<Vec<Workspace>>;
    async fn insert_key(&self, key: &ApiKey, key_hash: &[u8]) -> Result<()>;
    async fn key_by_hash(&self, key_hash: &[u8]) -> Result<Option<ApiKey>>;
    async fn list_keys(&self, ws: Uuid, page: &PageRequest) -> Result<Page<ApiKey>>;
    async fn delete_key(&self, ws: Uuid, id: Uuid) -> Result<bool>;
    /// Keys in every workspace (0 means first start).
    async fn count_keys(&self) -> Result<i64>;
    /// A named server secret, generated by `generate` and stored on first use.
    async fn secret(&self, name: &str, generate: &(dyn Fn() -> Vec<u8> + Sync)) -> Result<Vec<u8>>;

    // --- bots, settings, rules ---
    async fn insert_bot(&self, ws: Uuid, bot: &Bot, settings: &Settings) -> Result<()>;
    async fn get_bot(&self, ws: Uuid, id: Uuid) -> Result<Option<Bot>>;
    async fn find_bot_by_name(&self, ws: Uuid, name: &str) -> Result<Option<Bot>>;
    async fn list_bots(&self, ws: Uuid, page: &PageRequest) -> Result<Page<Bot>>;
    /// Name, description and `updated_at`; false when there is no such bot.
    async fn update_bot(&self, ws: Uuid, bot: &Bot) -> Result<bool>;
    async fn delete_bot(&self, ws: Uuid, id: Uuid) -> Result<bool>;
    async fn get_settings(&self, ws: Uuid, bot_id: Uuid) -> Result<Option<Settings>>;
    async fn put_settings(&self, ws: Uuid, bot_id: Uuid, settings: &Settings) -> Result<bool>;
    async fn bot_snapshot(&self, ws: Uuid, bot_id: Uuid) -> Result<Option<BotSnapshot>>;
    /// The bot's current version (`None`: no such bot in `ws`); cheap, for cache checks.
    async fn bot_version(&self, ws: Uuid, bot_id: Uuid) -> Result<Option<i64>>;
    /// The workspace a bot belongs to, from its id alone. Only for public entry points (the
    /// web widget) that have no key to name a workspace; everything else is scoped by one.
    async fn bot_workspace(&self, bot_id: Uuid) -> Result<Option<Uuid>>;
    /// Creates or updates a whole bot from its definition, in one transaction.
    async fn import_bot(
        &self,
        ws: Uuid,
        def: &ParsedBotDefinition,
        now: DateTime<Utc>,
    ) -> Result<(Bot, ImportOutcome)>;

    /// False when the bot is not in this workspace.
    async fn insert_rule(&self, ws: Uuid, rule: &KeywordRule) -> Result<bool>;
    async fn get_rule(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<Option<KeywordRule>>;
    async fn list_rules(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<KeywordRule>>;
    async fn update_rule(&self, ws: Uuid, rule: &KeywordRule) -> Result<bool>;
    async fn delete_rule(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<bool>;

    // --- flows ---
    /// Stores a new flow (version 1); false when the bot is not in `ws`.
    async fn insert_flow(&self, ws: Uuid, flow: &Flow) -> Result<bool>;
    async fn get_flow(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<Option<Flow>>;
    async fn list_flows(&self, ws: Uuid, bot_id: Uuid, page: &PageRequest) -> Result<Page<Flow>>;
    /// Replaces a flow's definition as a new version; the flow as stored, or `None`.
    async fn update_flow(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        id: Uuid,
        spec: &FlowSpec,
        now: DateTime<Utc>,
    ) -> Result<Option<Flow>>;
    async fn delete_flow(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<bool>;
    /// A past (or current) version of a flow, kept for conversations that started on it.
    async fn flow_version(&self, bot_id: Uuid, flow_id: Uuid, version: i64)
        -> Result<Option<Flow>>;

    // --- teams, agents, transfers ---
    async fn insert_team(&self, ws: Uuid, team: &Team) -> Result<()>;
    async fn get_team(&self, ws: Uuid, id: Uuid) -> Result<Option<Team>>;
    async fn list_teams(&self, ws: Uuid, page: &PageRequest) -> Result<Page<Team>>;
    async fn update_team(&self, ws: Uuid, team: &Team) -> Result<bool>;
    async fn delete_team(&self, ws: Uuid, id: Uuid) -> Result<bool>;
    /// Stores the agent with its key (one transaction); false when a team is not in `ws`.
    async fn insert_agent(
        &self,
        ws: Uuid,
        agent: &Agent,
        key: &ApiKey,
        key_hash: &[u8],
    ) -> Result<bool>;
    async fn get_agent(&self, ws: Uuid, id: Uuid) -> Result<Option<Agent>>;
    async fn agent_by_key(&self, key_id: Uuid) -> Result<Option<Agent>>;
    async fn list_agents(&self, ws: Uuid, page: &PageRequest) -> Result<Page<Agent>>;
    /// Name, e-mail and teams; false when it or a team is not in `ws`.
    async fn update_agent(&self, ws: Uuid, agent: &Agent) -> Result<bool>;
    /// Deletes the agent and its key.
    async fn delete_agent(&self, ws: Uuid, id: Uuid) -> Result<bool>;
    async fn get_transfer(&self, ws: Uuid, id: Uuid) -> Result<Option<TransferView>>;
    async fn list_transfers(
        &self,
        ws: Uuid,
        filter: &TransferFilter,
        page: &PageRequest,
    ) -> Result<TransferList>;
    /// Atomically assigns the oldest unassigned active transfer of `queue` to `agent_id`
    /// (and writes a `transfer.assigned` event); `None` when the queue is empty.
    async fn pickup(
        &self,
        ws: Uuid,
        queue: &Queue,
        agent_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<(Transfer, Event)>>;
    /// Assigns an active transfer to an agent (reassigning is allowed).
    async fn assign(
        &self,
        ws: Uuid,
        id: Uuid,
        agent_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<(Transfer, Event)>>;
    /// Every outbox event of the workspace after `after_seq` (the agent stream).
    async fn workspace_events_after(
        &self,
        ws: Uuid,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Event>>;

    // --- contacts, conversations, turns ---
    /// Stores the conversation, its contact (found by `external_id` or new), session and
    /// first messages in one transaction.
    async fn create_conversation(
        &self,
        new: NewConversation,
    ) -> Result<(Conversation, Contact, CommittedTurn)>;
    async fn get_conversation(&self, ws: Uuid, id: Uuid) -> Result<Option<Conversation>>;
    /// A conversation's workspace and bot, from its id alone (the widget's CORS check, which
    /// runs before any credential is read).
    async fn conversation_home(&self, id: Uuid) -> Result<Option<(Uuid, Uuid)>>;
    async fn get_contact(&self, ws: Uuid, id: Uuid) -> Result<Option<Contact>>;
    async fn list_conversations(
        &self,
        ws: Uuid,
        filter: &ConversationFilter,
        page: &PageRequest,
    ) -> Result<Page<Conversation>>;
    /// Erases the conversation with its messages, session and events.
    async fn delete_conversation(&self, ws: Uuid, id: Uuid) -> Result<bool>;
    async fn set_conversation_status(
        &self,
        ws: Uuid,
        id: Uuid,
        status: ConversationStatus,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    async fn load_turn(&self, ws: Uuid, conversation_id: Uuid) -> Result<Option<TurnState>>;
    /// User messages after `after_seq`, oldest first: what `receive` still has to answer.
    async fn pending_user_messages(
        &self,
        conversation_id: Uuid,
        after_seq: i64,
    ) -> Result<Vec<Message>>;
    async fn commit_turn(&self, commit: TurnCommit) -> Result<CommittedTurn>;
    async fn list_messages(
        &self,
        ws: Uuid,
        conversation_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Message>>;
    async fn get_session(&self, ws: Uuid, conversation_id: Uuid) -> Result<Option<Session>>;
    async fn list_sessions(
        &self,
        ws: Uuid,
        filter: &SessionFilter,
        page: &PageRequest,
    ) -> Result<Page<Session>>;
    /// Stores feedback; false when its `message_id` is not a bot message of the conversation
    /// (the caller has checked the conversation is in the workspace).
    async fn insert_feedback(&self, feedback: &Feedback) -> Result<bool>;
    async fn list_feedback(
        &self,
        ws: Uuid,
        conversation_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Feedback>>;
    /// Sessions inside a flow whose idle deadline passed: `(workspace, conversation)`.
    async fn expired_sessions(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<(Uuid, Uuid)>>;
    /// The conversation's open transfer, if it has one.
    async fn open_transfer(&self, ws: Uuid, conversation_id: Uuid) -> Result<Option<Transfer>>;

    /// Outbox events of a conversation after `after_seq`, oldest first.
    async fn events_after(
        &self,
        ws: Uuid,
        conversation_id: Uuid,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Event>>;
}

/// A rule built from its validated spec.
pub fn rule_from_spec(
    id: Uuid,
    bot_id: Uuid,
    spec: RuleSpec,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> KeywordRule {
    KeywordRule {
        id,
        bot_id,
        name: spec.name,
        keywords: spec.keywords,
        match_type: spec.match_type,
        response_type: spec.response_type,
        response: spec.response,
        buttons: spec.buttons,
        priority: spec.priority,
        enabled: spec.enabled,
        created_at,
        updated_at: now,
    }
}
