//! The embedded SQLite store. One writer connection (SQLite allows one writer at a time, so
//! queueing writes in the pool beats retrying on `SQLITE_BUSY`) and a few read-only ones;
//! WAL journal so readers never block the writer, `synchronous = FULL` so a committed turn
//! is on disk before the API acknowledges it, foreign keys on so deletes cascade.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parley_core::bot::ParsedBotDefinition;
use parley_core::flow::FlowSpec;
use parley_core::{
    Agent, ApiKey, Bot, Contact, Conversation, ConversationStatus, Feedback, Flow, KeywordRule,
    Message, MessageMeta, MessageRole, Role, Session, SessionMode, Settings, Team, Transfer,
    TransferSource, TransferStatus, Workspace,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use uuid::Uuid;

use crate::error::Doing;
use crate::{
    rule_from_spec, AgentReach, BotSnapshot, CommittedTurn, ConversationFilter, Event,
    ImportOutcome, NewConversation, NewEvent, Page, PageRequest, Queue, Result, SessionFilter,
    Store, StoreError, TransferFilter, TransferList, TransferView, TurnCommit, TurnState,
};

mod ai;
mod commit;
mod guard;
mod kb;
mod key_cache;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

const DB_FILE: &str = "parley.db";
/// Outbox kinds the store writes itself, with the transfer as payload.
pub const TRANSFER_CREATED: &str = "transfer.created";
pub const TRANSFER_UPDATED: &str = "transfer.updated";
pub const TRANSFER_ASSIGNED: &str = "transfer.assigned";
pub const TRANSFER_RESUMED: &str = "transfer.resumed";
const READERS: u32 = 4;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Turns are committed through this (group commit, see `commit.rs`).
    committer: commit::Committer,
    /// API keys as recently looked up (see `key_cache.rs`).
    keys: std::sync::Arc<key_cache::KeyCache>,
}

/// How far a commit goes before the API may acknowledge it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Synchronous {
    /// fsync on every commit: an acknowledged message survives a process kill, an OS
    /// crash and a power cut. The default.
    #[default]
    Full,
    /// fsync at WAL checkpoints only: an acknowledged message survives a process kill
    /// (`kill -9`), but the last commits may be lost if the machine itself goes down.
    Normal,
}

impl SqliteStore {
    /// Opens (creating if needed) `<data_dir>/parley.db` with full durability and brings its
    /// schema up to date.
    pub async fn open(data_dir: &Path) -> Result<SqliteStore> {
        Self::open_with(data_dir, Synchronous::Full).await
    }

    pub async fn open_with(data_dir: &Path, synchronous: Synchronous) -> Result<SqliteStore> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join(DB_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match synchronous {
                Synchronous::Full => SqliteSynchronous::Full,
                Synchronous::Normal => SqliteSynchronous::Normal,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory");
        // Checkpoints run on a connection of their own (see `commit::checkpoints`); the
        // writer's automatic one is only a backstop, at 10,000 pages (~40 MB of WAL).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            // A turn's writes are one statement string per shape (how many messages,
            // events, guard records); room for all of them in the prepared-statement cache.
            .connect_with(
                options
                    .clone()
                    .pragma("wal_autocheckpoint", "4000")
                    .statement_cache_capacity(500),
            )
            .await
            .doing("opening the database")?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone().read_only(true))
            .await
            .doing("opening read connections")?;
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options)
            .await
            .doing("opening the checkpoint connection")?;
        let committer = commit::Committer::start(writer.clone(), checkpointer);
        Ok(SqliteStore {
            writer,
            reader,
            committer,
            keys: Default::default(),
        })
    }
}

// ---------- row mapping ----------

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("encoding JSON: {e}")))
}

fn from_json<T: DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// Enums are stored as their serde name.
fn enum_str<T: Serialize>(v: &T) -> Result<String> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(StoreError::Corrupt(
            "an enum did not encode as a string".into(),
        )),
    }
}

fn parse_enum<T: DeserializeOwned>(s: String, what: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(s))
        .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn get<'r, T>(row: &'r SqliteRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(col).doing("reading a row")
}

fn workspace_from_row(r: &SqliteRow) -> Result<Workspace> {
    Ok(Workspace {
        id: get(r, "id")?,
        name: get(r, "name")?,
        created_at: get(r, "created_at")?,
    })
}

fn key_from_row(r: &SqliteRow) -> Result<ApiKey> {
    let role: String = get(r, "role")?;
    Ok(ApiKey {
        id: get(r, "id")?,
        workspace_id: get(r, "workspace_id")?,
        name: get(r, "name")?,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("key role `{role}`")))?,
        prefix: get(r, "prefix")?,
        created_at: get(r, "created_at")?,
    })
}

fn bot_from_row(r: &SqliteRow) -> Result<Bot> {
    Ok(Bot {
        id: get(r, "id")?,
        name: get(r, "name")?,
        description: get(r, "description")?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

fn rule_from_row(r: &SqliteRow) -> Result<KeywordRule> {
    Ok(KeywordRule {
        id: get(r, "id")?,
        bot_id: get(r, "bot_id")?,
        name: get(r, "name")?,
        keywords: from_json(&get::<String>(r, "keywords")?, "rule keywords")?,
        match_type: parse_enum(get(r, "match_type")?, "rule match type")?,
        response_type: parse_enum(get(r, "response_type")?, "rule response type")?,
        response: get(r, "response")?,
        buttons: from_json(&get::<String>(r, "buttons")?, "rule buttons")?,
        priority: get(r, "priority")?,
        enabled: get(r, "enabled")?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

fn contact_from_row(r: &SqliteRow) -> Result<Contact> {
    Ok(Contact {
        id: get(r, "id")?,
        external_id: get(r, "external_id")?,
        channel: parse_enum(get(r, "channel")?, "contact channel")?,
        name: get(r, "name")?,
        email: get(r, "email")?,
        phone: get(r, "phone")?,
        attributes: from_json(&get::<String>(r, "attributes")?, "contact attributes")?,
        created_at: get(r, "created_at")?,
    })
}

fn conversation_from_row(r: &SqliteRow) -> Result<Conversation> {
    Ok(Conversation {
        id: get(r, "id")?,
        bot_id: get(r, "bot_id")?,
        contact_id: get(r, "contact_id")?,
        channel: parse_enum(get(r, "channel")?, "conversation channel")?,
        status: parse_enum(get(r, "status")?, "conversation status")?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

fn message_from_row(r: &SqliteRow) -> Result<Message> {
    Ok(Message {
        id: get(r, "id")?,
        conversation_id: get(r, "conversation_id")?,
        role: parse_enum::<MessageRole>(get(r, "role")?, "message role")?,
        text: get(r, "text")?,
        buttons: from_json(&get::<String>(r, "buttons")?, "message buttons")?,
        created_at: get(r, "created_at")?,
        meta: from_json::<MessageMeta>(&get::<String>(r, "meta")?, "message meta")?,
        seq: get(r, "seq")?,
    })
}

/// Session columns are prefixed `s_` in joins so they cannot collide.
fn session_from_row(r: &SqliteRow) -> Result<Session> {
    Ok(Session {
        id: get(r, "s_id")?,
        conversation_id: get(r, "s_conversation_id")?,
        contact_id: get(r, "s_contact_id")?,
        mode: parse_enum::<SessionMode>(get(r, "s_mode")?, "session mode")?,
        current_flow_id: get(r, "s_current_flow_id")?,
        current_step: get(r, "s_current_step")?,
        variables: from_json(&get::<String>(r, "s_variables")?, "session variables")?,
        offered_buttons: from_json(&get::<String>(r, "s_offered_buttons")?, "session buttons")?,
        consecutive_fallbacks: get::<i64>(r, "s_consecutive_fallbacks")?
            .try_into()
            .unwrap_or(0),
        started_at: get(r, "s_started_at")?,
        last_activity: get(r, "s_last_activity")?,
        expires_at: get(r, "s_expires_at")?,
        flow_state: from_json(&get::<String>(r, "s_flow_state")?, "session flow state")?,
        handled_seq: get(r, "s_handled_seq")?,
    })
}

/// Contact columns are prefixed `ct_` in joins.
fn joined_contact_from_row(r: &SqliteRow) -> Result<Contact> {
    Ok(Contact {
        id: get(r, "ct_id")?,
        external_id: get(r, "ct_external_id")?,
        channel: parse_enum(get(r, "ct_channel")?, "contact channel")?,
        name: get(r, "ct_name")?,
        email: get(r, "ct_email")?,
        phone: get(r, "ct_phone")?,
        attributes: from_json(&get::<String>(r, "ct_attributes")?, "contact attributes")?,
        created_at: get(r, "ct_created_at")?,
    })
}

const CONTACT_COLUMNS: &str = "ct.id AS ct_id, ct.external_id AS ct_external_id, \
    ct.channel AS ct_channel, ct.name AS ct_name, ct.email AS ct_email, ct.phone AS ct_phone, \
    ct.attributes AS ct_attributes, ct.created_at AS ct_created_at";

fn flow_from_row(r: &SqliteRow) -> Result<Flow> {
    Ok(Flow {
        id: get(r, "id")?,
        bot_id: get(r, "bot_id")?,
        spec: from_json::<FlowSpec>(&get::<String>(r, "definition")?, "flow definition")?,
        version: get(r, "version")?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

fn team_from_row(r: &SqliteRow) -> Result<Team> {
    Ok(Team {
        id: get(r, "id")?,
        name: get(r, "name")?,
        description: get(r, "description")?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

/// An agent row with `team_ids` (a JSON array built by the query).
fn agent_from_row(r: &SqliteRow) -> Result<Agent> {
    let teams: Option<String> = get(r, "team_ids")?;
    let team_ids: Vec<Uuid> = teams
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|t| !t.is_empty())
        .map(|t| Uuid::from_str(t).map_err(|e| StoreError::Corrupt(format!("agent team id: {e}"))))
        .collect::<Result<_>>()?;
    Ok(Agent {
        id: get(r, "id")?,
        name: get(r, "name")?,
        email: get(r, "email")?,
        team_ids,
        key_id: get(r, "key_id")?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

/// Agents with their teams as a comma-separated list of hyphenated UUIDs.
const AGENT_SELECT: &str = "SELECT a.*, (SELECT group_concat(uuid_text, ',') FROM \
    (SELECT lower(substr(hex(t.team_id), 1, 8) || '-' || substr(hex(t.team_id), 9, 4) || '-' || \
     substr(hex(t.team_id), 13, 4) || '-' || substr(hex(t.team_id), 17, 4) || '-' || substr(hex(t.team_id), 21)) AS uuid_text \
     FROM agent_teams t WHERE t.agent_id = a.id ORDER BY t.team_id)) AS team_ids FROM agents a";

const TRANSFER_VIEW_SELECT: &str =
    "SELECT t.*, ct.name AS contact_name, ct.phone AS phone_number, \
    tm.name AS team_name, ag.name AS agent_name FROM transfers t \
    LEFT JOIN contacts ct ON ct.id = t.contact_id LEFT JOIN teams tm ON tm.id = t.team_id \
    LEFT JOIN agents ag ON ag.id = t.agent_id";

fn transfer_view_from_row(r: &SqliteRow) -> Result<TransferView> {
    let transfer = transfer_from_row(r)?;
    let until = transfer.assigned_at.unwrap_or_else(Utc::now);
    Ok(TransferView {
        wait_seconds: (until - transfer.transferred_at).num_seconds().max(0),
        contact_name: get(r, "contact_name")?,
        phone_number: get(r, "phone_number")?,
        team_name: get(r, "team_name")?,
        agent_name: get(r, "agent_name")?,
        transfer,
    })
}

fn push_queue(q: &mut QueryBuilder<'_, Sqlite>, queue: &Queue) {
    match queue {
        Queue::General => {
            q.push(" AND t.team_id IS NULL");
        }
        Queue::Team(team) => {
            q.push(" AND t.team_id = ").push_bind(*team);
        }
        Queue::GeneralAnd(teams) => {
            q.push(" AND (t.team_id IS NULL");
            for team in teams {
                q.push(" OR t.team_id = ").push_bind(*team);
            }
            q.push(")");
        }
    }
}

/// `AgentReach` as SQL: waiting in the general queue or one of its teams, or its own.
fn push_reach(q: &mut QueryBuilder<'_, Sqlite>, reach: &AgentReach) {
    q.push(" AND ((t.status = 'active' AND (t.team_id IS NULL");
    for team in &reach.teams {
        q.push(" OR t.team_id = ").push_bind(*team);
    }
    q.push(")) OR t.agent_id = ")
        .push_bind(reach.agent_id)
        .push(")");
}

async fn set_agent_teams_tx(
    tx: &mut Transaction<'_, Sqlite>,
    ws: Uuid,
    agent: &Agent,
) -> Result<bool> {
    sqlx::query("DELETE FROM agent_teams WHERE agent_id = ?")
        .bind(agent.id)
        .execute(&mut **tx)
        .await
        .doing("clearing an agent's teams")?;
    for team in &agent.team_ids {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM teams WHERE id = ? AND workspace_id = ?")
                .bind(team)
                .bind(ws)
                .fetch_optional(&mut **tx)
                .await
                .doing("checking a team")?;
        if found.is_none() {
            return Ok(false);
        }
        sqlx::query("INSERT INTO agent_teams (agent_id, team_id) VALUES (?, ?)")
            .bind(agent.id)
            .bind(team)
            .execute(&mut **tx)
            .await
            .doing("adding an agent to a team")?;
    }
    Ok(true)
}

/// Sets the transfer's agent (`expect_unassigned`: only if it has none) and writes the
/// `transfer.assigned` event, in the caller's transaction.
async fn assign_tx(
    tx: &mut Transaction<'_, Sqlite>,
    ws: Uuid,
    id: Uuid,
    agent_id: Uuid,
    now: DateTime<Utc>,
    expect_unassigned: bool,
) -> Result<Option<(Transfer, Event)>> {
    let sql = if expect_unassigned {
        "UPDATE transfers SET agent_id = ?, assigned_at = COALESCE(assigned_at, ?), updated_at = ? \
         WHERE id = ? AND workspace_id = ? AND status = 'active' AND agent_id IS NULL RETURNING *"
    } else {
        "UPDATE transfers SET agent_id = ?, assigned_at = COALESCE(assigned_at, ?), updated_at = ? \
         WHERE id = ? AND workspace_id = ? AND status = 'active' RETURNING *"
    };
    let row = sqlx::query(sql)
        .bind(agent_id)
        .bind(now)
        .bind(now)
        .bind(id)
        .bind(ws)
        .fetch_optional(&mut **tx)
        .await
        .doing("assigning a transfer")?;
    let Some(row) = row else { return Ok(None) };
    let transfer = transfer_from_row(&row)?;
    let payload = serde_json::to_value(&transfer)
        .map_err(|e| StoreError::Corrupt(format!("encoding an event: {e}")))?;
    let mut events = insert_events_tx(
        tx,
        ws,
        transfer.conversation_id,
        vec![NewEvent {
            kind: TRANSFER_ASSIGNED.into(),
            payload,
        }],
        now,
    )
    .await?;
    let event = events
        .pop()
        .ok_or_else(|| StoreError::Corrupt("the assignment event was not written".into()))?;
    Ok(Some((transfer, event)))
}

fn transfer_from_row(r: &SqliteRow) -> Result<Transfer> {
    Ok(Transfer {
        id: get(r, "id")?,
        conversation_id: get(r, "conversation_id")?,
        contact_id: get(r, "contact_id")?,
        bot_id: get(r, "bot_id")?,
        status: parse_enum::<TransferStatus>(get(r, "status")?, "transfer status")?,
        source: parse_enum::<TransferSource>(get(r, "source")?, "transfer source")?,
        team_id: get(r, "team_id")?,
        agent_id: get(r, "agent_id")?,
        notes: get(r, "notes")?,
        transferred_at: get(r, "transferred_at")?,
        assigned_at: get(r, "assigned_at")?,
        resumed_at: get(r, "resumed_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

const SESSION_COLUMNS: &str = "s.id AS s_id, s.conversation_id AS s_conversation_id, \
    s.contact_id AS s_contact_id, s.mode AS s_mode, s.current_flow_id AS s_current_flow_id, \
    s.current_step AS s_current_step, s.variables AS s_variables, \
    s.offered_buttons AS s_offered_buttons, s.consecutive_fallbacks AS s_consecutive_fallbacks, \
    s.started_at AS s_started_at, s.last_activity AS s_last_activity, s.handled_seq AS s_handled_seq, \
    s.expires_at AS s_expires_at, s.flow_state AS s_flow_state";

fn feedback_from_row(r: &SqliteRow) -> Result<Feedback> {
    let rating: i64 = get(r, "rating")?;
    Ok(Feedback {
        id: get(r, "id")?,
        conversation_id: get(r, "conversation_id")?,
        message_id: get(r, "message_id")?,
        rating: u8::try_from(rating)
            .map_err(|_| StoreError::Corrupt(format!("rating {rating}")))?,
        comment: get(r, "comment")?,
        created_at: get(r, "created_at")?,
    })
}

fn event_from_row(r: &SqliteRow) -> Result<Event> {
    Ok(Event {
        seq: get(r, "seq")?,
        conversation_id: get(r, "conversation_id")?,
        kind: get(r, "kind")?,
        payload: from_json(&get::<String>(r, "payload")?, "event payload")?,
        created_at: get(r, "created_at")?,
    })
}

// ---------- paging ----------

fn uuid_cursor(page: &PageRequest) -> Result<Option<Uuid>> {
    page.cursor
        .as_deref()
        .map(|c| Uuid::from_str(c).map_err(|_| StoreError::BadCursor(c.to_string())))
        .transpose()
}

/// Turns `limit + 1` fetched rows into a page whose cursor is the last item's key.
fn paged<T>(mut items: Vec<T>, limit: u32, key: impl Fn(&T) -> String) -> Page<T> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = if more { items.last().map(key) } else { None };
    Page { items, next_cursor }
}

#[derive(Debug, Clone, Copy)]
enum Order {
    Asc,
    Desc,
}

/// One page of `q` (a SELECT ending in its WHERE conditions), keyed by the UUID column
/// `id_col` (a fixed column name, never input): adds the cursor condition, the order and
/// `LIMIT limit + 1`, and gives the next cursor when there is more.
#[allow(clippy::too_many_arguments)]
async fn fetch_page<T>(
    pool: &SqlitePool,
    mut q: QueryBuilder<'_, Sqlite>,
    id_col: &'static str,
    order: Order,
    page: &PageRequest,
    from_row: fn(&SqliteRow) -> Result<T>,
    key: fn(&T) -> Uuid,
    doing: &'static str,
) -> Result<Page<T>> {
    let limit = page.limit();
    let (cmp, dir) = match order {
        Order::Asc => (" > ", " ASC"),
        Order::Desc => (" < ", " DESC"),
    };
    if let Some(cursor) = uuid_cursor(page)? {
        q.push(" AND ").push(id_col).push(cmp).push_bind(cursor);
    }
    q.push(" ORDER BY ").push(id_col).push(dir);
    q.push(" LIMIT ").push_bind(i64::from(limit) + 1);
    let rows = q.build().fetch_all(pool).await.doing(doing)?;
    let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    Ok(paged(items, limit, |item| key(item).to_string()))
}

// ---------- writes shared by several operations ----------

async fn insert_rule_tx(tx: &mut Transaction<'_, Sqlite>, rule: &KeywordRule) -> Result<()> {
    sqlx::query(
        "INSERT INTO keyword_rules (id, bot_id, name, keywords, match_type, response_type, \
         response, buttons, priority, enabled, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(rule.id)
    .bind(rule.bot_id)
    .bind(&rule.name)
    .bind(json(&rule.keywords)?)
    .bind(enum_str(&rule.match_type)?)
    .bind(enum_str(&rule.response_type)?)
    .bind(&rule.response)
    .bind(json(&rule.buttons)?)
    .bind(rule.priority)
    .bind(rule.enabled)
    .bind(rule.created_at)
    .bind(rule.updated_at)
    .execute(&mut **tx)
    .await
    .doing("inserting a keyword rule")?;
    Ok(())
}

async fn update_rule_tx(tx: &mut Transaction<'_, Sqlite>, rule: &KeywordRule) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE keyword_rules SET name = ?, keywords = ?, match_type = ?, response_type = ?, \
         response = ?, buttons = ?, priority = ?, enabled = ?, updated_at = ? \
         WHERE id = ? AND bot_id = ?",
    )
    .bind(&rule.name)
    .bind(json(&rule.keywords)?)
    .bind(enum_str(&rule.match_type)?)
    .bind(enum_str(&rule.response_type)?)
    .bind(&rule.response)
    .bind(json(&rule.buttons)?)
    .bind(rule.priority)
    .bind(rule.enabled)
    .bind(rule.updated_at)
    .bind(rule.id)
    .bind(rule.bot_id)
    .execute(&mut **tx)
    .await
    .doing("updating a keyword rule")?;
    Ok(done.rows_affected() > 0)
}

/// Bumps the bot's version (so cached matchers recompile); false when the bot is not in `ws`.
async fn touch_bot_tx(
    tx: &mut Transaction<'_, Sqlite>,
    ws: Uuid,
    bot_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE bots SET version = version + 1, updated_at = ? WHERE id = ? AND workspace_id = ?",
    )
    .bind(now)
    .bind(bot_id)
    .bind(ws)
    .execute(&mut **tx)
    .await
    .doing("updating the bot's version")?;
    Ok(done.rows_affected() > 0)
}

async fn upsert_session_tx(tx: &mut Transaction<'_, Sqlite>, s: &Session) -> Result<()> {
    let mut st = commit::Statements::default();
    push_session(&mut st, s, None)?;
    st.run(tx, "saving the session").await?;
    Ok(())
}

/// Adds the session's upsert to `st`. With `handled_in`, `handled_seq` becomes that
/// conversation's last message `seq` as stored when the statement runs.
fn push_session(st: &mut commit::Statements, s: &Session, handled_in: Option<Uuid>) -> Result<()> {
    let handled = if handled_in.is_some() {
        "(SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conversation_id = ?)"
    } else {
        "?"
    };
    st.push(&format!(
        "INSERT INTO sessions (conversation_id, id, contact_id, mode, current_flow_id, current_step, \
         variables, offered_buttons, consecutive_fallbacks, handled_seq, started_at, last_activity, \
         expires_at, flow_state) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {handled}, ?, ?, ?, ?) \
         ON CONFLICT(conversation_id) DO UPDATE SET mode = excluded.mode, \
         current_flow_id = excluded.current_flow_id, current_step = excluded.current_step, \
         variables = excluded.variables, offered_buttons = excluded.offered_buttons, \
         consecutive_fallbacks = excluded.consecutive_fallbacks, handled_seq = excluded.handled_seq, \
         last_activity = excluded.last_activity, expires_at = excluded.expires_at, \
         flow_state = excluded.flow_state"
    ));
    st.bind(s.conversation_id)?
        .bind(s.id)?
        .bind(s.contact_id)?
        .bind(s.mode.as_str())?
        .bind(s.current_flow_id)?
        .bind(s.current_step.clone())?
        .bind(json(&s.variables)?)?
        .bind(json(&s.offered_buttons)?)?
        .bind(i64::from(s.consecutive_fallbacks))?;
    match handled_in {
        Some(conversation_id) => st.bind(conversation_id)?,
        None => st.bind(s.handled_seq)?,
    }
    .bind(s.started_at)?
    .bind(s.last_activity)?
    .bind(s.expires_at)?
    .bind(json(&s.flow_state)?)?;
    Ok(())
}

/// Appends messages after the conversation's last one, and an outbox event per message.
async fn append_messages_tx(
    tx: &mut Transaction<'_, Sqlite>,
    ws: Uuid,
    conversation_id: Uuid,
    messages: &[Message],
    event_kind: Option<&str>,
    now: DateTime<Utc>,
) -> Result<CommittedTurn> {
    let mut seq: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conversation_id = ?")
            .bind(conversation_id)
            .fetch_one(&mut **tx)
            .await
            .doing("reading the conversation's last message")?;
    let mut out = CommittedTurn::default();
    for m in messages {
        seq += 1;
        let mut m = m.clone();
        m.seq = seq;
        sqlx::query(
            "INSERT INTO messages (id, conversation_id, seq, role, text, buttons, meta, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(m.id)
        .bind(conversation_id)
        .bind(seq)
        .bind(m.role.as_str())
        .bind(&m.text)
        .bind(json(&m.buttons)?)
        .bind(json(&m.meta)?)
        .bind(m.created_at)
        .execute(&mut **tx)
        .await
        .doing("storing a message")?;
        if let Some(kind) = event_kind {
            let payload = serde_json::to_value(&m)
                .map_err(|e| StoreError::Corrupt(format!("encoding an event: {e}")))?;
            let row = sqlx::query(
                "INSERT INTO events (workspace_id, conversation_id, kind, payload, created_at) \
                 VALUES (?, ?, ?, ?, ?) RETURNING seq",
            )
            .bind(ws)
            .bind(conversation_id)
            .bind(kind)
            .bind(json(&payload)?)
            .bind(now)
            .fetch_one(&mut **tx)
            .await
            .doing("writing an outbox event")?;
            out.events.push(Event {
                seq: get(&row, "seq")?,
                conversation_id: Some(conversation_id),
                kind: kind.to_string(),
                payload,
                created_at: now,
            });
        }
        out.messages.push(m);
    }
    out.last_seq = seq;
    Ok(out)
}

/// Writes further outbox events of a conversation.
async fn insert_events_tx(
    tx: &mut Transaction<'_, Sqlite>,
    ws: Uuid,
    conversation_id: Uuid,
    events: Vec<NewEvent>,
    now: DateTime<Utc>,
) -> Result<Vec<Event>> {
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let row = sqlx::query(
            "INSERT INTO events (workspace_id, conversation_id, kind, payload, created_at) \
             VALUES (?, ?, ?, ?, ?) RETURNING seq",
        )
        .bind(ws)
        .bind(conversation_id)
        .bind(&e.kind)
        .bind(json(&e.payload)?)
        .bind(now)
        .fetch_one(&mut **tx)
        .await
        .doing("writing an outbox event")?;
        out.push(Event {
            seq: get(&row, "seq")?,
            conversation_id: Some(conversation_id),
            kind: e.kind,
            payload: e.payload,
            created_at: now,
        });
    }
    Ok(out)
}

/// Opens a transfer, or updates the conversation's open one (its source, team and notes
/// change; who has it and since when do not).
async fn upsert_transfer_tx(
    tx: &mut Transaction<'_, Sqlite>,
    ws: Uuid,
    t: &Transfer,
) -> Result<Transfer> {
    let mut t = t.clone();
    if let Some(team) = t.team_id {
        // As `delete_team` moves a deleted team's transfers to the general queue, a
        // transfer to a team that is gone (deleted after a flow named it) starts there:
        // a queue no agent can see would strand the user.
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM teams WHERE id = ? AND workspace_id = ?")
                .bind(team)
                .bind(ws)
                .fetch_optional(&mut **tx)
                .await
                .doing("checking a transfer's team")?;
        if found.is_none() {
            tracing::warn!(
                conversation = %t.conversation_id,
                team = %team,
                "the transfer's team does not exist (deleted?); using the general queue"
            );
            t.team_id = None;
        }
    }
    let t = &t;
    let open =
        sqlx::query("SELECT * FROM transfers WHERE conversation_id = ? AND status = 'active'")
            .bind(t.conversation_id)
            .fetch_optional(&mut **tx)
            .await
            .doing("reading the open transfer")?;
    if let Some(row) = open {
        let mut current = transfer_from_row(&row)?;
        current.source = t.source;
        current.team_id = t.team_id;
        current.notes = t.notes.clone();
        current.updated_at = t.updated_at;
        sqlx::query(
            "UPDATE transfers SET source = ?, team_id = ?, notes = ?, updated_at = ? WHERE id = ?",
        )
        .bind(enum_str(&current.source)?)
        .bind(current.team_id)
        .bind(&current.notes)
        .bind(current.updated_at)
        .bind(current.id)
        .execute(&mut **tx)
        .await
        .doing("updating the open transfer")?;
        return Ok(current);
    }
    sqlx::query(
        "INSERT INTO transfers (id, workspace_id, conversation_id, contact_id, bot_id, status, source, \
         team_id, agent_id, notes, transferred_at, assigned_at, resumed_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(t.id)
    .bind(ws)
    .bind(t.conversation_id)
    .bind(t.contact_id)
    .bind(t.bot_id)
    .bind(t.status.as_str())
    .bind(enum_str(&t.source)?)
    .bind(t.team_id)
    .bind(t.agent_id)
    .bind(&t.notes)
    .bind(t.transferred_at)
    .bind(t.assigned_at)
    .bind(t.resumed_at)
    .bind(t.updated_at)
    .execute(&mut **tx)
    .await
    .doing("opening a transfer")?;
    Ok(t.clone())
}

async fn insert_flow_tx(tx: &mut Transaction<'_, Sqlite>, flow: &Flow) -> Result<()> {
    let definition = json(&flow.spec)?;
    sqlx::query(
        "INSERT INTO flows (id, bot_id, name, enabled, version, definition, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(flow.id)
    .bind(flow.bot_id)
    .bind(&flow.spec.name)
    .bind(flow.spec.enabled)
    .bind(flow.version)
    .bind(&definition)
    .bind(flow.created_at)
    .bind(flow.updated_at)
    .execute(&mut **tx)
    .await
    .doing("inserting a flow")?;
    insert_flow_version_tx(
        tx,
        flow.id,
        flow.bot_id,
        flow.version,
        &definition,
        flow.updated_at,
    )
    .await
}

async fn insert_flow_version_tx(
    tx: &mut Transaction<'_, Sqlite>,
    flow_id: Uuid,
    bot_id: Uuid,
    version: i64,
    definition: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO flow_versions (flow_id, bot_id, version, definition, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(flow_id)
    .bind(bot_id)
    .bind(version)
    .bind(definition)
    .bind(now)
    .execute(&mut **tx)
    .await
    .doing("keeping a flow version")?;
    Ok(())
}

/// Replaces a flow's definition as its next version; `None` when it is not the bot's.
async fn update_flow_tx(
    tx: &mut Transaction<'_, Sqlite>,
    bot_id: Uuid,
    id: Uuid,
    spec: &FlowSpec,
    now: DateTime<Utc>,
) -> Result<Option<Flow>> {
    let definition = json(spec)?;
    let row = sqlx::query(
        "UPDATE flows SET name = ?, enabled = ?, definition = ?, version = version + 1, updated_at = ? \
         WHERE id = ? AND bot_id = ? RETURNING *",
    )
    .bind(&spec.name)
    .bind(spec.enabled)
    .bind(&definition)
    .bind(now)
    .bind(id)
    .bind(bot_id)
    .fetch_optional(&mut **tx)
    .await
    .doing("updating a flow")?;
    let Some(row) = row else { return Ok(None) };
    let flow = flow_from_row(&row)?;
    insert_flow_version_tx(tx, flow.id, bot_id, flow.version, &definition, now).await?;
    Ok(Some(flow))
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .doing("pinging the database")?;
        Ok(())
    }

    async fn default_workspace(&self) -> Result<Workspace> {
        let find = || {
            sqlx::query("SELECT id, name, created_at FROM workspaces WHERE is_default = 1")
                .fetch_optional(&self.writer)
        };
        if let Some(r) = find().await.doing("finding the default workspace")? {
            return workspace_from_row(&r);
        }
        sqlx::query(
            "INSERT INTO workspaces (id, name, is_default, created_at) VALUES (?, 'default', 1, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(parley_core::new_id())
        .bind(Utc::now())
        .execute(&self.writer)
        .await
        .doing("creating the default workspace")?;
        let r = find()
            .await
            .doing("finding the default workspace")?
            .ok_or_else(|| StoreError::Corrupt("the default workspace vanished".into()))?;
        workspace_from_row(&r)
    }

    async fn create_workspace(&self, name: &str) -> Result<Workspace> {
        let ws = Workspace {
            id: parley_core::new_id(),
            name: name.to_string(),
            created_at: Utc::now(),
        };
        sqlx::query(
            "INSERT INTO workspaces (id, name, is_default, created_at) VALUES (?, ?, 0, ?)",
        )
        .bind(ws.id)
        .bind(&ws.name)
        .bind(ws.created_at)
        .execute(&self.writer)
        .await
        .doing("creating a workspace")?;
        Ok(ws)
    }

    async fn list_workspaces(&self) -> Result<Vec<Workspace>> {
        let rows = sqlx::query("SELECT id, name, created_at FROM workspaces ORDER BY id")
            .fetch_all(&self.reader)
            .await
            .doing("listing workspaces")?;
        rows.iter().map(workspace_from_row).collect()
    }

    async fn insert_key(&self, key: &ApiKey, key_hash: &[u8]) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, workspace_id, name, role, prefix, key_hash, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(key.id)
        .bind(key.workspace_id)
        .bind(&key.name)
        .bind(key.role.as_str())
        .bind(&key.prefix)
        .bind(key_hash)
        .bind(key.created_at)
        .execute(&self.writer)
        .await
        .doing("storing an API key")?;
        Ok(())
    }

    async fn key_by_hash(&self, key_hash: &[u8]) -> Result<Option<ApiKey>> {
        let generation = match self.keys.get(key_hash) {
            Ok(key) => return Ok(Some(key)),
            Err(generation) => generation,
        };
        let row = sqlx::query("SELECT * FROM api_keys WHERE key_hash = ?")
            .bind(key_hash)
            .fetch_optional(&self.reader)
            .await
            .doing("looking up an API key")?;
        let key = row.as_ref().map(key_from_row).transpose()?;
        if let Some(key) = &key {
            self.keys.put(key_hash, key, generation);
        }
        Ok(key)
    }

    async fn list_keys(&self, ws: Uuid, page: &PageRequest) -> Result<Page<ApiKey>> {
        let mut q = QueryBuilder::new("SELECT * FROM api_keys WHERE workspace_id = ");
        q.push_bind(ws);
        fetch_page(
            &self.reader,
            q,
            "id",
            Order::Asc,
            page,
            key_from_row,
            |k| k.id,
            "listing API keys",
        )
        .await
    }

    async fn delete_key(&self, ws: Uuid, id: Uuid) -> Result<bool> {
        let done = sqlx::query("DELETE FROM api_keys WHERE id = ? AND workspace_id = ?")
            .bind(id)
            .bind(ws)
            .execute(&self.writer)
            .await
            .doing("deleting an API key")?;
        self.keys.invalidate();
        Ok(done.rows_affected() > 0)
    }

    async fn count_keys(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
            .fetch_one(&self.reader)
            .await
            .doing("counting API keys")
    }

    async fn secret(&self, name: &str, generate: &(dyn Fn() -> Vec<u8> + Sync)) -> Result<Vec<u8>> {
        sqlx::query("INSERT INTO server_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(generate())
            .bind(Utc::now())
            .execute(&self.writer)
            .await
            .doing("storing a server secret")?;
        sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = ?")
            .bind(name)
            .fetch_one(&self.writer)
            .await
            .doing("reading a server secret")
    }

    async fn insert_bot(&self, ws: Uuid, bot: &Bot, settings: &Settings) -> Result<()> {
        sqlx::query(
            "INSERT INTO bots (id, workspace_id, name, description, settings, version, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
        )
        .bind(bot.id)
        .bind(ws)
        .bind(&bot.name)
        .bind(&bot.description)
        .bind(json(settings)?)
        .bind(bot.created_at)
        .bind(bot.updated_at)
        .execute(&self.writer)
        .await
        .doing("creating a bot")?;
        Ok(())
    }

    async fn get_bot(&self, ws: Uuid, id: Uuid) -> Result<Option<Bot>> {
        let row = sqlx::query("SELECT * FROM bots WHERE id = ? AND workspace_id = ?")
            .bind(id)
            .bind(ws)
            .fetch_optional(&self.reader)
            .await
            .doing("reading a bot")?;
        row.as_ref().map(bot_from_row).transpose()
    }

    async fn find_bot_by_name(&self, ws: Uuid, name: &str) -> Result<Option<Bot>> {
        let row = sqlx::query(
            "SELECT * FROM bots WHERE workspace_id = ? AND name = ? ORDER BY id LIMIT 1",
        )
        .bind(ws)
        .bind(name)
        .fetch_optional(&self.reader)
        .await
        .doing("finding a bot by name")?;
        row.as_ref().map(bot_from_row).transpose()
    }

    async fn list_bots(&self, ws: Uuid, page: &PageRequest) -> Result<Page<Bot>> {
        let mut q = QueryBuilder::new("SELECT * FROM bots WHERE workspace_id = ");
        q.push_bind(ws);
        fetch_page(
            &self.reader,
            q,
            "id",
            Order::Asc,
            page,
            bot_from_row,
            |b| b.id,
            "listing bots",
        )
        .await
    }

    async fn update_bot(&self, ws: Uuid, bot: &Bot) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE bots SET name = ?, description = ?, updated_at = ?, version = version + 1 \
             WHERE id = ? AND workspace_id = ?",
        )
        .bind(&bot.name)
        .bind(&bot.description)
        .bind(bot.updated_at)
        .bind(bot.id)
        .bind(ws)
        .execute(&self.writer)
        .await
        .doing("updating a bot")?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_bot(&self, ws: Uuid, id: Uuid) -> Result<bool> {
        let done = sqlx::query("DELETE FROM bots WHERE id = ? AND workspace_id = ?")
            .bind(id)
            .bind(ws)
            .execute(&self.writer)
            .await
            .doing("deleting a bot")?;
        Ok(done.rows_affected() > 0)
    }

    async fn get_settings(&self, ws: Uuid, bot_id: Uuid) -> Result<Option<Settings>> {
        let s: Option<String> =
            sqlx::query_scalar("SELECT settings FROM bots WHERE id = ? AND workspace_id = ?")
                .bind(bot_id)
                .bind(ws)
                .fetch_optional(&self.reader)
                .await
                .doing("reading bot settings")?;
        s.map(|s| from_json(&s, "bot settings")).transpose()
    }

    async fn put_settings(&self, ws: Uuid, bot_id: Uuid, settings: &Settings) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE bots SET settings = ?, version = version + 1, updated_at = ? \
             WHERE id = ? AND workspace_id = ?",
        )
        .bind(json(settings)?)
        .bind(Utc::now())
        .bind(bot_id)
        .bind(ws)
        .execute(&self.writer)
        .await
        .doing("saving bot settings")?;
        Ok(done.rows_affected() > 0)
    }

    async fn bot_snapshot(&self, ws: Uuid, bot_id: Uuid) -> Result<Option<BotSnapshot>> {
        // One read transaction, so the rules and the version belong together.
        let mut tx = self.reader.begin().await.doing("starting a read")?;
        let Some(row) = sqlx::query("SELECT * FROM bots WHERE id = ? AND workspace_id = ?")
            .bind(bot_id)
            .bind(ws)
            .fetch_optional(&mut *tx)
            .await
            .doing("reading a bot")?
        else {
            return Ok(None);
        };
        let bot = bot_from_row(&row)?;
        let settings = from_json(&get::<String>(&row, "settings")?, "bot settings")?;
        let version = get(&row, "version")?;
        let rules = sqlx::query("SELECT * FROM keyword_rules WHERE bot_id = ? ORDER BY id")
            .bind(bot_id)
            .fetch_all(&mut *tx)
            .await
            .doing("reading keyword rules")?
            .iter()
            .map(rule_from_row)
            .collect::<Result<Vec<_>>>()?;
        let flows = sqlx::query("SELECT * FROM flows WHERE bot_id = ? ORDER BY id")
            .bind(bot_id)
            .fetch_all(&mut *tx)
            .await
            .doing("reading flows")?
            .iter()
            .map(flow_from_row)
            .collect::<Result<Vec<_>>>()?;
        tx.commit().await.doing("ending a read")?;
        Ok(Some(BotSnapshot {
            bot,
            settings,
            rules,
            flows,
            version,
        }))
    }

    async fn bot_version(&self, ws: Uuid, bot_id: Uuid) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT version FROM bots WHERE id = ? AND workspace_id = ?")
            .bind(bot_id)
            .bind(ws)
            .fetch_optional(&self.reader)
            .await
            .doing("reading a bot's version")
    }

    async fn bot_workspace(&self, bot_id: Uuid) -> Result<Option<Uuid>> {
        sqlx::query_scalar("SELECT workspace_id FROM bots WHERE id = ?")
            .bind(bot_id)
            .fetch_optional(&self.reader)
            .await
            .doing("finding a bot's workspace")
    }

    async fn import_bot(
        &self,
        ws: Uuid,
        def: &ParsedBotDefinition,
        now: DateTime<Utc>,
    ) -> Result<(Bot, ImportOutcome)> {
        let mut tx = self.writer.begin().await.doing("starting an import")?;
        let mut existing = None;
        if let Some(id) = def.id {
            existing = sqlx::query("SELECT * FROM bots WHERE id = ? AND workspace_id = ?")
                .bind(id)
                .bind(ws)
                .fetch_optional(&mut *tx)
                .await
                .doing("finding the bot to import over")?;
        }
        if existing.is_none() {
            existing = sqlx::query(
                "SELECT * FROM bots WHERE workspace_id = ? AND name = ? ORDER BY id LIMIT 1",
            )
            .bind(ws)
            .bind(&def.bot.name)
            .fetch_optional(&mut *tx)
            .await
            .doing("finding the bot to import over")?;
        }

        let (bot, outcome) = match existing {
            Some(row) => {
                let mut bot = bot_from_row(&row)?;
                bot.name = def.bot.name.clone();
                bot.description = def.bot.description.clone();
                bot.updated_at = now;
                sqlx::query(
                    "UPDATE bots SET name = ?, description = ?, settings = ?, updated_at = ?, \
                     version = version + 1 WHERE id = ?",
                )
                .bind(&bot.name)
                .bind(&bot.description)
                .bind(json(&def.settings)?)
                .bind(now)
                .bind(bot.id)
                .execute(&mut *tx)
                .await
                .doing("updating the imported bot")?;
                (bot, ImportOutcome::Updated)
            }
            None => {
                // Keep the file's id when it is free, so ids survive a move between servers.
                let id = match def.id {
                    Some(id) => {
                        let taken: Option<i64> =
                            sqlx::query_scalar("SELECT 1 FROM bots WHERE id = ?")
                                .bind(id)
                                .fetch_optional(&mut *tx)
                                .await
                                .doing("checking the imported bot's id")?;
                        if taken.is_some() {
                            parley_core::new_id()
                        } else {
                            id
                        }
                    }
                    None => parley_core::new_id(),
                };
                let bot = Bot {
                    id,
                    name: def.bot.name.clone(),
                    description: def.bot.description.clone(),
                    created_at: now,
                    updated_at: now,
                };
                sqlx::query(
                    "INSERT INTO bots (id, workspace_id, name, description, settings, version, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
                )
                .bind(bot.id)
                .bind(ws)
                .bind(&bot.name)
                .bind(&bot.description)
                .bind(json(&def.settings)?)
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await
                .doing("creating the imported bot")?;
                (bot, ImportOutcome::Created)
            }
        };

        let stored = sqlx::query("SELECT * FROM keyword_rules WHERE bot_id = ? ORDER BY id")
            .bind(bot.id)
            .fetch_all(&mut *tx)
            .await
            .doing("reading the imported bot's rules")?
            .iter()
            .map(rule_from_row)
            .collect::<Result<Vec<_>>>()?;
        for spec in &def.rules {
            match stored.iter().find(|r| r.name == spec.name) {
                Some(old) => {
                    let rule = rule_from_spec(old.id, bot.id, spec.clone(), old.created_at, now);
                    update_rule_tx(&mut tx, &rule).await?;
                }
                None => {
                    let rule =
                        rule_from_spec(parley_core::new_id(), bot.id, spec.clone(), now, now);
                    insert_rule_tx(&mut tx, &rule).await?;
                }
            }
        }
        for old in stored
            .iter()
            .filter(|r| !def.rules.iter().any(|s| s.name == r.name))
        {
            sqlx::query("DELETE FROM keyword_rules WHERE id = ?")
                .bind(old.id)
                .execute(&mut *tx)
                .await
                .doing("removing a rule the file no longer has")?;
        }
        let stored = sqlx::query("SELECT * FROM flows WHERE bot_id = ? ORDER BY id")
            .bind(bot.id)
            .fetch_all(&mut *tx)
            .await
            .doing("reading the imported bot's flows")?
            .iter()
            .map(flow_from_row)
            .collect::<Result<Vec<_>>>()?;
        for spec in &def.flows {
            match stored.iter().find(|f| f.spec.name == spec.name) {
                Some(old) if &old.spec == spec => {}
                Some(old) => {
                    update_flow_tx(&mut tx, bot.id, old.id, spec, now).await?;
                }
                None => {
                    let flow = Flow {
                        id: parley_core::new_id(),
                        bot_id: bot.id,
                        spec: spec.clone(),
                        version: 1,
                        created_at: now,
                        updated_at: now,
                    };
                    insert_flow_tx(&mut tx, &flow).await?;
                }
            }
        }
        for old in stored
            .iter()
            .filter(|f| !def.flows.iter().any(|s| s.name == f.spec.name))
        {
            sqlx::query("DELETE FROM flows WHERE id = ?")
                .bind(old.id)
                .execute(&mut *tx)
                .await
                .doing("removing a flow the file no longer has")?;
        }
        ai::import_ai_contexts_tx(&mut tx, bot.id, &def.ai_contexts, now).await?;
        tx.commit().await.doing("committing an import")?;
        Ok((bot, outcome))
    }

    async fn insert_rule(&self, ws: Uuid, rule: &KeywordRule) -> Result<bool> {
        let mut tx = self.writer.begin().await.doing("starting a rule insert")?;
        if !touch_bot_tx(&mut tx, ws, rule.bot_id, rule.updated_at).await? {
            return Ok(false);
        }
        insert_rule_tx(&mut tx, rule).await?;
        tx.commit().await.doing("committing a rule insert")?;
        Ok(true)
    }

    async fn get_rule(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<Option<KeywordRule>> {
        let row = sqlx::query(
            "SELECT r.* FROM keyword_rules r JOIN bots b ON b.id = r.bot_id \
             WHERE r.id = ? AND r.bot_id = ? AND b.workspace_id = ?",
        )
        .bind(id)
        .bind(bot_id)
        .bind(ws)
        .fetch_optional(&self.reader)
        .await
        .doing("reading a keyword rule")?;
        row.as_ref().map(rule_from_row).transpose()
    }

    async fn list_rules(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<KeywordRule>> {
        let mut q = QueryBuilder::new(
            "SELECT r.* FROM keyword_rules r JOIN bots b ON b.id = r.bot_id WHERE r.bot_id = ",
        );
        q.push_bind(bot_id)
            .push(" AND b.workspace_id = ")
            .push_bind(ws);
        fetch_page(
            &self.reader,
            q,
            "r.id",
            Order::Asc,
            page,
            rule_from_row,
            |r| r.id,
            "listing keyword rules",
        )
        .await
    }

    async fn update_rule(&self, ws: Uuid, rule: &KeywordRule) -> Result<bool> {
        let mut tx = self.writer.begin().await.doing("starting a rule update")?;
        if !touch_bot_tx(&mut tx, ws, rule.bot_id, rule.updated_at).await? {
            return Ok(false);
        }
        if !update_rule_tx(&mut tx, rule).await? {
            return Ok(false);
        }
        tx.commit().await.doing("committing a rule update")?;
        Ok(true)
    }

    async fn delete_rule(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<bool> {
        let mut tx = self.writer.begin().await.doing("starting a rule delete")?;
        if !touch_bot_tx(&mut tx, ws, bot_id, Utc::now()).await? {
            return Ok(false);
        }
        let done = sqlx::query("DELETE FROM keyword_rules WHERE id = ? AND bot_id = ?")
            .bind(id)
            .bind(bot_id)
            .execute(&mut *tx)
            .await
            .doing("deleting a keyword rule")?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        tx.commit().await.doing("committing a rule delete")?;
        Ok(true)
    }

    async fn create_conversation(
        &self,
        new: NewConversation,
    ) -> Result<(Conversation, Contact, CommittedTurn)> {
        let ws = new.workspace_id;
        let conv = new.conversation;
        let now = conv.created_at;
        let mut tx = self
            .writer
            .begin()
            .await
            .doing("starting a new conversation")?;

        let mut contact_row = None;
        if let Some(ext) = &new.contact.external_id {
            contact_row = sqlx::query(
                "SELECT * FROM contacts WHERE workspace_id = ? AND channel = ? AND external_id = ?",
            )
            .bind(ws)
            .bind(conv.channel.as_str())
            .bind(ext)
            .fetch_optional(&mut *tx)
            .await
            .doing("finding the contact")?;
        }
        let contact = match contact_row {
            Some(row) => {
                let mut c = contact_from_row(&row)?;
                let input = &new.contact;
                if input.name.is_some() {
                    c.name.clone_from(&input.name);
                }
                if input.email.is_some() {
                    c.email.clone_from(&input.email);
                }
                if input.phone.is_some() {
                    c.phone.clone_from(&input.phone);
                }
                if let Some(attrs) = &input.attributes {
                    c.attributes.extend(attrs.clone());
                }
                sqlx::query(
                    "UPDATE contacts SET name = ?, email = ?, phone = ?, attributes = ?, updated_at = ? WHERE id = ?",
                )
                .bind(&c.name)
                .bind(&c.email)
                .bind(&c.phone)
                .bind(json(&c.attributes)?)
                .bind(now)
                .bind(c.id)
                .execute(&mut *tx)
                .await
                .doing("updating the contact")?;
                c
            }
            None => {
                let input = new.contact.clone();
                let c = Contact {
                    id: conv.contact_id,
                    external_id: input.external_id,
                    channel: conv.channel,
                    name: input.name,
                    email: input.email,
                    phone: input.phone,
                    attributes: input.attributes.unwrap_or_default(),
                    created_at: now,
                };
                sqlx::query(
                    "INSERT INTO contacts (id, workspace_id, channel, external_id, name, email, phone, \
                     attributes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(c.id)
                .bind(ws)
                .bind(c.channel.as_str())
                .bind(&c.external_id)
                .bind(&c.name)
                .bind(&c.email)
                .bind(&c.phone)
                .bind(json(&c.attributes)?)
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await
                .doing("creating the contact")?;
                c
            }
        };

        let conv = Conversation {
            contact_id: contact.id,
            ..conv
        };
        sqlx::query(
            "INSERT INTO conversations (id, workspace_id, bot_id, contact_id, channel, status, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(conv.id)
        .bind(ws)
        .bind(conv.bot_id)
        .bind(conv.contact_id)
        .bind(conv.channel.as_str())
        .bind(conv.status.as_str())
        .bind(conv.created_at)
        .bind(conv.updated_at)
        .execute(&mut *tx)
        .await
        .doing("creating the conversation")?;
        let committed = append_messages_tx(
            &mut tx,
            ws,
            conv.id,
            &new.messages,
            new.message_event_kind,
            now,
        )
        .await?;
        let session = Session {
            contact_id: contact.id,
            handled_seq: committed.last_seq,
            ..new.session
        };
        upsert_session_tx(&mut tx, &session).await?;
        tx.commit().await.doing("committing a new conversation")?;
        Ok((conv, contact, committed))
    }

    async fn get_conversation(&self, ws: Uuid, id: Uuid) -> Result<Option<Conversation>> {
        let row = sqlx::query("SELECT * FROM conversations WHERE id = ? AND workspace_id = ?")
            .bind(id)
            .bind(ws)
            .fetch_optional(&self.reader)
            .await
            .doing("reading a conversation")?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    async fn conversation_home(&self, id: Uuid) -> Result<Option<(Uuid, Uuid)>> {
        sqlx::query_as("SELECT workspace_id, bot_id FROM conversations WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .doing("finding a conversation's workspace")
    }

    async fn get_contact(&self, ws: Uuid, id: Uuid) -> Result<Option<Contact>> {
        let row = sqlx::query("SELECT * FROM contacts WHERE id = ? AND workspace_id = ?")
            .bind(id)
            .bind(ws)
            .fetch_optional(&self.reader)
            .await
            .doing("reading a contact")?;
        row.as_ref().map(contact_from_row).transpose()
    }

    async fn list_conversations(
        &self,
        ws: Uuid,
        filter: &ConversationFilter,
        page: &PageRequest,
    ) -> Result<Page<Conversation>> {
        let mut q = QueryBuilder::new("SELECT * FROM conversations WHERE workspace_id = ");
        q.push_bind(ws);
        if let Some(bot) = filter.bot_id {
            q.push(" AND bot_id = ").push_bind(bot);
        }
        if let Some(contact) = filter.contact_id {
            q.push(" AND contact_id = ").push_bind(contact);
        }
        if let Some(status) = filter.status {
            q.push(" AND status = ").push_bind(status.as_str());
        }
        // Newest first: what someone looking at conversations wants to see.
        fetch_page(
            &self.reader,
            q,
            "id",
            Order::Desc,
            page,
            conversation_from_row,
            |c| c.id,
            "listing conversations",
        )
        .await
    }

    async fn delete_conversation(&self, ws: Uuid, id: Uuid) -> Result<bool> {
        // Messages, session and events go with it (ON DELETE CASCADE).
        let done = sqlx::query("DELETE FROM conversations WHERE id = ? AND workspace_id = ?")
            .bind(id)
            .bind(ws)
            .execute(&self.writer)
            .await
            .doing("deleting a conversation")?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_conversation_status(
        &self,
        ws: Uuid,
        id: Uuid,
        status: ConversationStatus,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE conversations SET status = ?, updated_at = ? WHERE id = ? AND workspace_id = ?",
        )
        .bind(status.as_str())
        .bind(now)
        .bind(id)
        .bind(ws)
        .execute(&self.writer)
        .await
        .doing("changing a conversation's status")?;
        Ok(done.rows_affected() > 0)
    }

    async fn load_turn(&self, ws: Uuid, conversation_id: Uuid) -> Result<Option<TurnState>> {
        let sql = format!(
            "SELECT c.*, b.version AS bot_version, {SESSION_COLUMNS}, {CONTACT_COLUMNS}, \
             (SELECT COALESCE(MAX(m.seq), 0) FROM messages m WHERE m.conversation_id = c.id) AS last_seq \
             FROM conversations c JOIN bots b ON b.id = c.bot_id JOIN sessions s ON s.conversation_id = c.id \
             JOIN contacts ct ON ct.id = c.contact_id \
             WHERE c.id = ? AND c.workspace_id = ?"
        );
        // A reader is enough: in WAL mode a new read sees every committed transaction, and
        // the conversation's lock orders this read after the previous turn's commit.
        let row = sqlx::query(&sql)
            .bind(conversation_id)
            .bind(ws)
            .fetch_optional(&self.reader)
            .await
            .doing("loading a conversation's state")?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(TurnState {
            conversation: conversation_from_row(&row)?,
            contact: joined_contact_from_row(&row)?,
            session: session_from_row(&row)?,
            bot_version: get(&row, "bot_version")?,
            last_seq: get(&row, "last_seq")?,
        }))
    }

    async fn pending_user_messages(
        &self,
        conversation_id: Uuid,
        after_seq: i64,
    ) -> Result<Vec<Message>> {
        let rows = sqlx::query(
            "SELECT * FROM messages WHERE conversation_id = ? AND seq > ? AND role = 'user' ORDER BY seq",
        )
        .bind(conversation_id)
        .bind(after_seq)
        .fetch_all(&self.reader)
        .await
        .doing("reading unanswered messages")?;
        rows.iter().map(message_from_row).collect()
    }

    async fn commit_turn(&self, commit: TurnCommit) -> Result<CommittedTurn> {
        self.committer.commit(commit).await
    }

    async fn list_messages(
        &self,
        ws: Uuid,
        conversation_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Message>> {
        let after: i64 = match page.cursor.as_deref() {
            None => 0,
            Some(c) => c
                .parse()
                .map_err(|_| StoreError::BadCursor(c.to_string()))?,
        };
        let limit = page.limit();
        let rows = sqlx::query(
            "SELECT m.* FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.conversation_id = ? AND c.workspace_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?",
        )
        .bind(conversation_id)
        .bind(ws)
        .bind(after)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.reader)
        .await
        .doing("reading messages")?;
        let items = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(paged(items, limit, |m| m.seq.to_string()))
    }

    async fn get_session(&self, ws: Uuid, conversation_id: Uuid) -> Result<Option<Session>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s JOIN conversations c ON c.id = s.conversation_id \
             WHERE s.conversation_id = ? AND c.workspace_id = ?"
        );
        let row = sqlx::query(&sql)
            .bind(conversation_id)
            .bind(ws)
            .fetch_optional(&self.reader)
            .await
            .doing("reading a session")?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn list_sessions(
        &self,
        ws: Uuid,
        filter: &SessionFilter,
        page: &PageRequest,
    ) -> Result<Page<Session>> {
        let mut q = QueryBuilder::new(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s JOIN conversations c ON c.id = s.conversation_id \
             WHERE c.status = 'active' AND c.workspace_id = "
        ));
        q.push_bind(ws);
        if let Some(bot) = filter.bot_id {
            q.push(" AND c.bot_id = ").push_bind(bot);
        }
        if let Some(mode) = filter.mode {
            q.push(" AND s.mode = ").push_bind(mode.as_str());
        }
        fetch_page(
            &self.reader,
            q,
            "s.conversation_id",
            Order::Asc,
            page,
            session_from_row,
            |s| s.conversation_id,
            "listing sessions",
        )
        .await
    }

    async fn insert_feedback(&self, f: &Feedback) -> Result<bool> {
        // The message, when named, must be a bot message of this very conversation.
        let done = sqlx::query(
            "INSERT INTO feedback (id, conversation_id, message_id, rating, comment, created_at) \
             SELECT ?, ?, ?, ?, ?, ? WHERE ? IS NULL OR EXISTS \
             (SELECT 1 FROM messages WHERE id = ? AND conversation_id = ? AND role = 'bot')",
        )
        .bind(f.id)
        .bind(f.conversation_id)
        .bind(f.message_id)
        .bind(i64::from(f.rating))
        .bind(&f.comment)
        .bind(f.created_at)
        .bind(f.message_id)
        .bind(f.message_id)
        .bind(f.conversation_id)
        .execute(&self.writer)
        .await
        .doing("storing feedback")?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_feedback(
        &self,
        ws: Uuid,
        conversation_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Feedback>> {
        let mut q = QueryBuilder::new(
            "SELECT f.* FROM feedback f JOIN conversations c ON c.id = f.conversation_id WHERE f.conversation_id = ",
        );
        q.push_bind(conversation_id)
            .push(" AND c.workspace_id = ")
            .push_bind(ws);
        fetch_page(
            &self.reader,
            q,
            "f.id",
            Order::Asc,
            page,
            feedback_from_row,
            |f| f.id,
            "listing feedback",
        )
        .await
    }

    async fn insert_team(&self, ws: Uuid, team: &Team) -> Result<()> {
        sqlx::query(
            "INSERT INTO teams (id, workspace_id, name, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(team.id)
        .bind(ws)
        .bind(&team.name)
        .bind(&team.description)
        .bind(team.created_at)
        .bind(team.updated_at)
        .execute(&self.writer)
        .await
        .doing("inserting a team")?;
        Ok(())
    }

    async fn get_team(&self, ws: Uuid, id: Uuid) -> Result<Option<Team>> {
        let row = sqlx::query("SELECT * FROM teams WHERE id = ? AND workspace_id = ?")
            .bind(id)
            .bind(ws)
            .fetch_optional(&self.reader)
            .await
            .doing("reading a team")?;
        row.as_ref().map(team_from_row).transpose()
    }

    async fn list_teams(&self, ws: Uuid, page: &PageRequest) -> Result<Page<Team>> {
        let mut q = QueryBuilder::new("SELECT * FROM teams WHERE workspace_id = ");
        q.push_bind(ws);
        fetch_page(
            &self.reader,
            q,
            "id",
            Order::Asc,
            page,
            team_from_row,
            |t| t.id,
            "listing teams",
        )
        .await
    }

    async fn update_team(&self, ws: Uuid, team: &Team) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE teams SET name = ?, description = ?, updated_at = ? WHERE id = ? AND workspace_id = ?",
        )
        .bind(&team.name)
        .bind(&team.description)
        .bind(team.updated_at)
        .bind(team.id)
        .bind(ws)
        .execute(&self.writer)
        .await
        .doing("updating a team")?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_team(&self, ws: Uuid, id: Uuid) -> Result<bool> {
        let mut tx = self.writer.begin().await.doing("starting a team delete")?;
        // Its waiting transfers move to the general queue rather than vanish.
        sqlx::query("UPDATE transfers SET team_id = NULL WHERE team_id = ? AND workspace_id = ?")
            .bind(id)
            .bind(ws)
            .execute(&mut *tx)
            .await
            .doing("moving a team's transfers to the general queue")?;
        let done = sqlx::query("DELETE FROM teams WHERE id = ? AND workspace_id = ?")
            .bind(id)
            .bind(ws)
            .execute(&mut *tx)
            .await
            .doing("deleting a team")?;
        tx.commit().await.doing("committing a team delete")?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_agent(
        &self,
        ws: Uuid,
        agent: &Agent,
        key: &ApiKey,
        key_hash: &[u8],
    ) -> Result<bool> {
        let mut tx = self
            .writer
            .begin()
            .await
            .doing("starting an agent insert")?;
        sqlx::query(
            "INSERT INTO api_keys (id, workspace_id, name, role, prefix, key_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(key.id)
        .bind(ws)
        .bind(&key.name)
        .bind(key.role.as_str())
        .bind(&key.prefix)
        .bind(key_hash)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await
        .doing("storing an agent's key")?;
        sqlx::query(
            "INSERT INTO agents (id, workspace_id, name, email, key_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(agent.id)
        .bind(ws)
        .bind(&agent.name)
        .bind(&agent.email)
        .bind(agent.key_id)
        .bind(agent.created_at)
        .bind(agent.updated_at)
        .execute(&mut *tx)
        .await
        .doing("inserting an agent")?;
        if !set_agent_teams_tx(&mut tx, ws, agent).await? {
            return Ok(false);
        }
        tx.commit().await.doing("committing an agent insert")?;
        Ok(true)
    }

    async fn get_agent(&self, ws: Uuid, id: Uuid) -> Result<Option<Agent>> {
        let row = sqlx::query(&format!(
            "{AGENT_SELECT} WHERE a.id = ? AND a.workspace_id = ?"
        ))
        .bind(id)
        .bind(ws)
        .fetch_optional(&self.reader)
        .await
        .doing("reading an agent")?;
        row.as_ref().map(agent_from_row).transpose()
    }

    async fn agent_by_key(&self, key_id: Uuid) -> Result<Option<Agent>> {
        let row = sqlx::query(&format!("{AGENT_SELECT} WHERE a.key_id = ?"))
            .bind(key_id)
            .fetch_optional(&self.reader)
            .await
            .doing("reading an agent by key")?;
        row.as_ref().map(agent_from_row).transpose()
    }

    async fn list_agents(&self, ws: Uuid, page: &PageRequest) -> Result<Page<Agent>> {
        let mut q = QueryBuilder::new(format!("{AGENT_SELECT} WHERE a.workspace_id = "));
        q.push_bind(ws);
        fetch_page(
            &self.reader,
            q,
            "a.id",
            Order::Asc,
            page,
            agent_from_row,
            |a| a.id,
            "listing agents",
        )
        .await
    }

    async fn update_agent(&self, ws: Uuid, agent: &Agent) -> Result<bool> {
        let mut tx = self
            .writer
            .begin()
            .await
            .doing("starting an agent update")?;
        let done = sqlx::query(
            "UPDATE agents SET name = ?, email = ?, updated_at = ? WHERE id = ? AND workspace_id = ?",
        )
        .bind(&agent.name)
        .bind(&agent.email)
        .bind(agent.updated_at)
        .bind(agent.id)
        .bind(ws)
        .execute(&mut *tx)
        .await
        .doing("updating an agent")?;
        if done.rows_affected() == 0 || !set_agent_teams_tx(&mut tx, ws, agent).await? {
            return Ok(false);
        }
        tx.commit().await.doing("committing an agent update")?;
        Ok(true)
    }

    async fn delete_agent(&self, ws: Uuid, id: Uuid) -> Result<bool> {
        let mut tx = self
            .writer
            .begin()
            .await
            .doing("starting an agent delete")?;
        let key: Option<Option<Uuid>> =
            sqlx::query_scalar("SELECT key_id FROM agents WHERE id = ? AND workspace_id = ?")
                .bind(id)
                .bind(ws)
                .fetch_optional(&mut *tx)
                .await
                .doing("reading an agent's key")?;
        let Some(key) = key else { return Ok(false) };
        // Their conversations go back to the queue they came from.
        sqlx::query("UPDATE transfers SET agent_id = NULL, assigned_at = NULL WHERE agent_id = ? AND status = 'active'")
            .bind(id)
            .execute(&mut *tx)
            .await
            .doing("returning an agent's transfers to the queue")?;
        sqlx::query("DELETE FROM agents WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .doing("deleting an agent")?;
        if let Some(key) = key {
            sqlx::query("DELETE FROM api_keys WHERE id = ?")
                .bind(key)
                .execute(&mut *tx)
                .await
                .doing("deleting an agent's key")?;
        }
        tx.commit().await.doing("committing an agent delete")?;
        self.keys.invalidate();
        Ok(true)
    }

    async fn get_transfer(&self, ws: Uuid, id: Uuid) -> Result<Option<TransferView>> {
        let row = sqlx::query(&format!(
            "{TRANSFER_VIEW_SELECT} WHERE t.id = ? AND t.workspace_id = ?"
        ))
        .bind(id)
        .bind(ws)
        .fetch_optional(&self.reader)
        .await
        .doing("reading a transfer")?;
        row.as_ref().map(transfer_view_from_row).transpose()
    }

    async fn list_transfers(
        &self,
        ws: Uuid,
        filter: &TransferFilter,
        page: &PageRequest,
    ) -> Result<TransferList> {
        let mut q = QueryBuilder::new(format!("{TRANSFER_VIEW_SELECT} WHERE t.workspace_id = "));
        q.push_bind(ws);
        if let Some(status) = filter.status {
            q.push(" AND t.status = ").push_bind(status.as_str());
        }
        if let Some(queue) = &filter.queue {
            push_queue(&mut q, queue);
        }
        if let Some(agent) = filter.agent_id {
            q.push(" AND t.agent_id = ").push_bind(agent);
        }
        if let Some(c) = filter.conversation_id {
            q.push(" AND t.conversation_id = ").push_bind(c);
        }
        if let Some(reach) = &filter.reach {
            push_reach(&mut q, reach);
        }
        let page = fetch_page(
            &self.reader,
            q,
            "t.id",
            Order::Asc,
            page,
            transfer_view_from_row,
            |t| t.transfer.id,
            "listing transfers",
        )
        .await?;
        let rows = sqlx::query(
            "SELECT team_id, COUNT(*) AS n FROM transfers \
             WHERE workspace_id = ? AND status = 'active' AND agent_id IS NULL GROUP BY team_id",
        )
        .bind(ws)
        .fetch_all(&self.reader)
        .await
        .doing("counting queues")?;
        let mut general_queue_count = 0;
        let mut team_queue_counts = std::collections::BTreeMap::new();
        for r in &rows {
            let team: Option<Uuid> = get(r, "team_id")?;
            let n: i64 = get(r, "n")?;
            match team {
                None => general_queue_count = n,
                Some(t) => {
                    team_queue_counts.insert(t, n);
                }
            }
        }
        Ok(TransferList {
            transfers: page.items,
            next_cursor: page.next_cursor,
            general_queue_count,
            team_queue_counts,
        })
    }

    async fn pickup(
        &self,
        ws: Uuid,
        queue: &Queue,
        agent_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<(Transfer, Event)>> {
        // One writer connection: the select and the update below cannot interleave with
        // another pickup, so no transfer is handed out twice.
        let mut tx = self.writer.begin().await.doing("starting a pickup")?;
        let mut q = QueryBuilder::new(
            "SELECT t.id FROM transfers t WHERE t.status = 'active' AND t.agent_id IS NULL AND t.workspace_id = ",
        );
        q.push_bind(ws);
        push_queue(&mut q, queue);
        q.push(" ORDER BY t.transferred_at, t.id LIMIT 1");
        let id: Option<Uuid> = q
            .build_query_scalar()
            .fetch_optional(&mut *tx)
            .await
            .doing("finding the oldest waiting transfer")?;
        let Some(id) = id else { return Ok(None) };
        let picked = assign_tx(&mut tx, ws, id, agent_id, now, true).await?;
        tx.commit().await.doing("committing a pickup")?;
        Ok(picked)
    }

    async fn assign(
        &self,
        ws: Uuid,
        id: Uuid,
        agent_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<(Transfer, Event)>> {
        let mut tx = self.writer.begin().await.doing("starting an assignment")?;
        let done = assign_tx(&mut tx, ws, id, agent_id, now, false).await?;
        tx.commit().await.doing("committing an assignment")?;
        Ok(done)
    }

    async fn workspace_events_after(
        &self,
        ws: Uuid,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT * FROM events WHERE workspace_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(ws)
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .doing("reading workspace events")?;
        rows.iter().map(event_from_row).collect()
    }

    async fn insert_flow(&self, ws: Uuid, flow: &Flow) -> Result<bool> {
        let mut tx = self.writer.begin().await.doing("starting a flow insert")?;
        if !touch_bot_tx(&mut tx, ws, flow.bot_id, flow.updated_at).await? {
            return Ok(false);
        }
        insert_flow_tx(&mut tx, flow).await?;
        tx.commit().await.doing("committing a flow insert")?;
        Ok(true)
    }

    async fn get_flow(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<Option<Flow>> {
        let row = sqlx::query(
            "SELECT f.* FROM flows f JOIN bots b ON b.id = f.bot_id \
             WHERE f.id = ? AND f.bot_id = ? AND b.workspace_id = ?",
        )
        .bind(id)
        .bind(bot_id)
        .bind(ws)
        .fetch_optional(&self.reader)
        .await
        .doing("reading a flow")?;
        row.as_ref().map(flow_from_row).transpose()
    }

    async fn list_flows(&self, ws: Uuid, bot_id: Uuid, page: &PageRequest) -> Result<Page<Flow>> {
        let mut q = QueryBuilder::new(
            "SELECT f.* FROM flows f JOIN bots b ON b.id = f.bot_id WHERE f.bot_id = ",
        );
        q.push_bind(bot_id)
            .push(" AND b.workspace_id = ")
            .push_bind(ws);
        fetch_page(
            &self.reader,
            q,
            "f.id",
            Order::Asc,
            page,
            flow_from_row,
            |f| f.id,
            "listing flows",
        )
        .await
    }

    async fn update_flow(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        id: Uuid,
        spec: &FlowSpec,
        now: DateTime<Utc>,
    ) -> Result<Option<Flow>> {
        let mut tx = self.writer.begin().await.doing("starting a flow update")?;
        if !touch_bot_tx(&mut tx, ws, bot_id, now).await? {
            return Ok(None);
        }
        let flow = update_flow_tx(&mut tx, bot_id, id, spec, now).await?;
        if flow.is_some() {
            tx.commit().await.doing("committing a flow update")?;
        }
        Ok(flow)
    }

    async fn delete_flow(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<bool> {
        let mut tx = self.writer.begin().await.doing("starting a flow delete")?;
        if !touch_bot_tx(&mut tx, ws, bot_id, Utc::now()).await? {
            return Ok(false);
        }
        let done = sqlx::query("DELETE FROM flows WHERE id = ? AND bot_id = ?")
            .bind(id)
            .bind(bot_id)
            .execute(&mut *tx)
            .await
            .doing("deleting a flow")?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        tx.commit().await.doing("committing a flow delete")?;
        Ok(true)
    }

    async fn flow_version(
        &self,
        bot_id: Uuid,
        flow_id: Uuid,
        version: i64,
    ) -> Result<Option<Flow>> {
        let row = sqlx::query(
            "SELECT flow_id AS id, bot_id, version, definition, created_at, created_at AS updated_at \
             FROM flow_versions WHERE flow_id = ? AND bot_id = ? AND version = ?",
        )
        .bind(flow_id)
        .bind(bot_id)
        .bind(version)
        .fetch_optional(&self.reader)
        .await
        .doing("reading a flow version")?;
        row.as_ref().map(flow_from_row).transpose()
    }

    async fn expired_sessions(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<(Uuid, Uuid)>> {
        let rows = sqlx::query(
            "SELECT c.workspace_id, s.conversation_id FROM sessions s \
             JOIN conversations c ON c.id = s.conversation_id \
             WHERE s.expires_at IS NOT NULL AND s.expires_at < ? ORDER BY s.expires_at LIMIT ?",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .doing("finding idle sessions")?;
        rows.iter()
            .map(|r| Ok((get(r, "workspace_id")?, get(r, "conversation_id")?)))
            .collect()
    }

    async fn open_transfer(&self, ws: Uuid, conversation_id: Uuid) -> Result<Option<Transfer>> {
        let row = sqlx::query(
            "SELECT * FROM transfers WHERE conversation_id = ? AND workspace_id = ? AND status = 'active'",
        )
        .bind(conversation_id)
        .bind(ws)
        .fetch_optional(&self.reader)
        .await
        .doing("reading the open transfer")?;
        row.as_ref().map(transfer_from_row).transpose()
    }

    async fn events_after(
        &self,
        ws: Uuid,
        conversation_id: Uuid,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT * FROM events WHERE conversation_id = ? AND workspace_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(conversation_id)
        .bind(ws)
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .doing("reading events")?;
        rows.iter().map(event_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_core::{Channel, ContactInput, MessageSource};

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        (dir, store)
    }

    async fn bot(store: &SqliteStore, ws: Uuid) -> Bot {
        let now = Utc::now();
        let bot = Bot {
            id: parley_core::new_id(),
            name: "b".into(),
            description: String::new(),
            created_at: now,
            updated_at: now,
        };
        store
            .insert_bot(ws, &bot, &Settings::default())
            .await
            .unwrap();
        bot
    }

    fn message(conv: Uuid, role: MessageRole, text: &str) -> Message {
        Message {
            id: parley_core::new_id(),
            conversation_id: conv,
            role,
            text: text.into(),
            buttons: vec![],
            created_at: Utc::now(),
            meta: MessageMeta {
                source: (role == MessageRole::Bot).then_some(MessageSource::Greeting),
                ..Default::default()
            },
            seq: 0,
        }
    }

    async fn conversation(store: &SqliteStore, ws: Uuid, bot: &Bot) -> Conversation {
        let now = Utc::now();
        let id = parley_core::new_id();
        let contact_id = parley_core::new_id();
        let conv = Conversation {
            id,
            bot_id: bot.id,
            contact_id,
            channel: Channel::Api,
            status: ConversationStatus::Active,
            created_at: now,
            updated_at: now,
        };
        let (conv, _, committed) = store
            .create_conversation(NewConversation {
                workspace_id: ws,
                conversation: conv,
                contact: ContactInput {
                    external_id: Some("u1".into()),
                    ..Default::default()
                },
                session: Session::new(id, contact_id, now),
                messages: vec![message(id, MessageRole::Bot, "hello")],
                message_event_kind: Some("message.created"),
            })
            .await
            .unwrap();
        assert_eq!(committed.messages[0].seq, 1);
        conv
    }

    #[tokio::test]
    async fn workspaces_isolate_everything() {
        let (_d, store) = store().await;
        let ws = store.default_workspace().await.unwrap();
        assert_eq!(store.default_workspace().await.unwrap().id, ws.id);
        let other = store.create_workspace("other").await.unwrap();
        let b = bot(&store, ws.id).await;
        let c = conversation(&store, ws.id, &b).await;
        assert!(store.get_bot(other.id, b.id).await.unwrap().is_none());
        assert!(store
            .get_conversation(other.id, c.id)
            .await
            .unwrap()
            .is_none());
        assert!(store.load_turn(other.id, c.id).await.unwrap().is_none());
        assert!(!store.delete_bot(other.id, b.id).await.unwrap());
        let page = store
            .list_messages(other.id, c.id, &PageRequest::default())
            .await
            .unwrap();
        assert!(page.items.is_empty());
    }

    #[tokio::test]
    async fn turns_append_in_order_and_pages_follow_cursors() {
        let (_d, store) = store().await;
        let ws = store.default_workspace().await.unwrap().id;
        let b = bot(&store, ws).await;
        let c = conversation(&store, ws, &b).await;
        for i in 0..5 {
            let session = store.load_turn(ws, c.id).await.unwrap().unwrap().session;
            store
                .commit_turn(TurnCommit {
                    workspace_id: ws,
                    conversation_id: c.id,
                    messages: vec![
                        message(c.id, MessageRole::User, &format!("q{i}")),
                        message(c.id, MessageRole::Bot, &format!("a{i}")),
                    ],
                    session: Some(session),
                    message_event_kind: Some("message.created"),
                    ..TurnCommit::new(ws, c.id, Utc::now())
                })
                .await
                .unwrap();
        }
        let first = store
            .list_messages(
                ws,
                c.id,
                &PageRequest {
                    limit: Some(4),
                    cursor: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            first.items.iter().map(|m| m.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        let rest = store
            .list_messages(
                ws,
                c.id,
                &PageRequest {
                    limit: Some(50),
                    cursor: first.next_cursor,
                },
            )
            .await
            .unwrap();
        assert_eq!(rest.items.len(), 7);
        assert!(rest.next_cursor.is_none());
        let events = store.events_after(ws, c.id, 3, 100).await.unwrap();
        assert_eq!(events.len(), 8);
        assert_eq!(
            store
                .load_turn(ws, c.id)
                .await
                .unwrap()
                .unwrap()
                .session
                .handled_seq,
            11
        );
    }

    fn turn(ws: Uuid, conv: Uuid, user: Message, text: &str) -> TurnCommit {
        TurnCommit {
            messages: vec![user, message(conv, MessageRole::Bot, text)],
            message_event_kind: Some("message.created"),
            ..TurnCommit::new(ws, conv, Utc::now())
        }
    }

    #[tokio::test]
    async fn a_failing_turn_in_a_batch_fails_alone() {
        let (_d, store) = store().await;
        let ws = store.default_workspace().await.unwrap().id;
        let b = bot(&store, ws).await;
        let (c1, c2, c3) = (
            conversation(&store, ws, &b).await,
            conversation(&store, ws, &b).await,
            conversation(&store, ws, &b).await,
        );
        let stored = store
            .list_messages(ws, c2.id, &PageRequest::default())
            .await
            .unwrap()
            .items;
        // The second turn's reply reuses a stored message's id: its user message is
        // written, then the reply's insert fails, and the user message must go too.
        let mut failing = turn(ws, c2.id, message(c2.id, MessageRole::User, "q2"), "a2");
        failing.messages[1].id = stored[0].id;
        let batch = [
            turn(ws, c1.id, message(c1.id, MessageRole::User, "q1"), "a1"),
            failing,
            turn(ws, c3.id, message(c3.id, MessageRole::User, "q3"), "a3"),
        ];
        let results = commit::commit_batch(&store.writer, &batch).await.unwrap();
        assert_eq!(results.len(), 3);
        assert!(results[1].is_err());
        for (i, c) in [(0, &c1), (2, &c3)] {
            let seqs: Vec<i64> = results[i]
                .as_ref()
                .unwrap()
                .messages
                .iter()
                .map(|m| m.seq)
                .collect();
            assert_eq!(seqs, [2, 3]);
            let page = store
                .list_messages(ws, c.id, &PageRequest::default())
                .await
                .unwrap();
            assert_eq!(page.items.len(), 3, "greeting + the turn's two messages");
            // Each message has its outbox event, after the greeting's.
            let events = &results[i].as_ref().unwrap().events;
            assert_eq!(events.len(), 2);
            assert_eq!(events[1].payload["text"], format!("a{}", i + 1));
            assert!(events[0].seq < events[1].seq);
            let stored = store.events_after(ws, c.id, 0, 100).await.unwrap();
            assert_eq!(
                stored.iter().map(|e| e.seq).collect::<Vec<_>>()[1..],
                events.iter().map(|e| e.seq).collect::<Vec<_>>()[..]
            );
            assert_eq!(results[i].as_ref().unwrap().last_seq, 3);
        }
        // Nothing of the failed turn was kept: not its bot reply, not its events.
        let page = store
            .list_messages(ws, c2.id, &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(
            store.events_after(ws, c2.id, 0, 100).await.unwrap().len(),
            1
        );
    }

    #[tokio::test]
    async fn a_lone_failing_turn_leaves_nothing_and_the_writer_usable() {
        let (_d, store) = store().await;
        let ws = store.default_workspace().await.unwrap().id;
        let b = bot(&store, ws).await;
        let c = conversation(&store, ws, &b).await;
        let greeting = store
            .list_messages(ws, c.id, &PageRequest::default())
            .await
            .unwrap()
            .items;
        let mut failing = turn(ws, c.id, message(c.id, MessageRole::User, "q"), "a");
        failing.messages[1].id = greeting[0].id;
        assert!(store.commit_turn(failing).await.is_err());
        let after = store
            .list_messages(ws, c.id, &PageRequest::default())
            .await
            .unwrap()
            .items;
        assert_eq!(
            after.len(),
            1,
            "the user message went with the failed reply"
        );
        // The transaction was ended: the next turn commits, right after the greeting.
        let ok = store
            .commit_turn(turn(ws, c.id, message(c.id, MessageRole::User, "q"), "a"))
            .await
            .unwrap();
        assert_eq!(
            ok.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!(ok.last_seq, 3);
    }

    #[tokio::test]
    async fn concurrent_turns_all_commit_in_order() {
        let (_d, store) = store().await;
        let ws = store.default_workspace().await.unwrap().id;
        let b = bot(&store, ws).await;
        let mut conversations = Vec::new();
        for _ in 0..20 {
            conversations.push(conversation(&store, ws, &b).await);
        }
        let mut handles = Vec::new();
        for c in &conversations {
            for round in 0..3 {
                let (store, id) = (store.clone(), c.id);
                handles.push(tokio::spawn(async move {
                    let q = message(id, MessageRole::User, &format!("q{round}"));
                    store.commit_turn(turn(ws, id, q, "a")).await
                }));
            }
        }
        for h in handles {
            h.await.unwrap().unwrap();
        }
        for c in &conversations {
            let page = store
                .list_messages(ws, c.id, &PageRequest::default())
                .await
                .unwrap();
            let seqs: Vec<i64> = page.items.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, (1..=7).collect::<Vec<_>>());
        }
    }

    #[tokio::test]
    async fn deleting_a_conversation_erases_messages_session_and_events() {
        let (_d, store) = store().await;
        let ws = store.default_workspace().await.unwrap().id;
        let b = bot(&store, ws).await;
        let c = conversation(&store, ws, &b).await;
        assert!(store.delete_conversation(ws, c.id).await.unwrap());
        assert!(store.get_session(ws, c.id).await.unwrap().is_none());
        assert!(store
            .events_after(ws, c.id, 0, 10)
            .await
            .unwrap()
            .is_empty());
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages")
            .fetch_one(&store.reader)
            .await
            .unwrap();
        assert_eq!(left, 0);
    }

    #[tokio::test]
    async fn rule_changes_bump_the_bot_version() {
        let (_d, store) = store().await;
        let ws = store.default_workspace().await.unwrap().id;
        let b = bot(&store, ws).await;
        let v0 = store.bot_snapshot(ws, b.id).await.unwrap().unwrap().version;
        let spec = parley_core::KeywordRuleInput {
            name: "r".into(),
            keywords: vec!["hi".into()],
            match_type: parley_core::MatchType::Contains,
            response_type: None,
            response: "hey".into(),
            buttons: vec![],
            priority: 0,
            enabled: true,
        }
        .parse()
        .unwrap();
        let rule = rule_from_spec(parley_core::new_id(), b.id, spec, Utc::now(), Utc::now());
        assert!(store.insert_rule(ws, &rule).await.unwrap());
        let snap = store.bot_snapshot(ws, b.id).await.unwrap().unwrap();
        assert!(snap.version > v0);
        assert_eq!(snap.rules.len(), 1);
    }

    #[tokio::test]
    async fn known_contacts_are_reused() {
        let (_d, store) = store().await;
        let ws = store.default_workspace().await.unwrap().id;
        let b = bot(&store, ws).await;
        let c1 = conversation(&store, ws, &b).await;
        let c2 = conversation(&store, ws, &b).await;
        assert_eq!(c1.contact_id, c2.contact_id);
    }
}
