//! Human handoff: the escalation responders, what the user is told when a human takes
//! over (business hours), and the operations agents and admins run — teams, agents,
//! transfers, pickup, assignment, agent replies, resume.
//!
//! Every operation that changes a conversation takes its lock and commits through
//! `Store::commit_turn`, so an agent's reply or a resume is ordered with the user's turns:
//! no message is lost or answered twice around a handoff.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parley_core::handoff::{asks_for_human, describe_next_open, frustration_score};
use parley_core::{
    Agent, AgentInput, ApiKey, ConversationStatus, Message, MessageMeta, MessageRole,
    MessageSource, SessionMode, Team, TeamInput, TransferSource, ValidationError,
};
use parley_store::{
    ConversationFilter, PageRequest, Queue, TransferFilter, TransferList, TransferView, TurnCommit,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::cache::CompiledBot;
use crate::error::{EngineError, Result};
use crate::route::{Effects, Reply, Responder, TurnContext, UserInput};
use crate::{Engine, MESSAGE_CREATED};

pub use crate::access::Actor;

/// What the user is told when a human takes over: the transfer message, or outside
/// business hours the offline message with when the team is back.
pub fn handoff_text(bot: &CompiledBot, now: DateTime<Utc>, in_hours: &str) -> String {
    let s = &bot.settings;
    if !s.business_hours_enabled {
        return in_hours.to_string();
    }
    let hours = &s.business_hours;
    let tz = hours.zone(bot.timezone);
    if hours.is_open(now, tz) {
        return in_hours.to_string();
    }
    let next = hours
        .next_open(now, tz)
        .map(|n| describe_next_open(n, now))
        .unwrap_or_else(|| "as soon as we can".to_string());
    let template = if hours.offline_message.is_empty() {
        parley_core::settings::DEFAULT_OFFLINE_MESSAGE
    } else {
        hours.offline_message.as_str()
    };
    crate::templating::render_for_customer(
        template,
        &serde_json::json!({ "next_open": next }),
        &s.fallback_message,
        bot.bot.id,
        None,
    )
    .text
}

/// Ends any flow and hands over, with the acknowledgement (or the offline message).
pub(crate) fn escalate(turn: &mut TurnContext<'_>, notes: String) -> Vec<Reply> {
    if let Some(flow_id) = turn.session.current_flow_id {
        crate::flow::end_flow(turn, flow_id, Some(crate::flow::Abandon::Transferred));
    }
    let text = handoff_text(turn.bot, turn.now, &turn.bot.settings.transfer_message);
    let reply = turn.reply(MessageSource::Transfer, &text, Vec::new());
    turn.open_transfer(TransferSource::Escalation, None, notes);
    vec![reply]
}

/// The user asks for a person in other words, or is strongly frustrated.
pub struct Escalation;

#[async_trait]
impl Responder for Escalation {
    fn name(&self) -> &'static str {
        "escalation"
    }

    async fn respond(&self, turn: &mut TurnContext<'_>) -> Result<Option<Vec<Reply>>> {
        let e = &turn.bot.settings.escalation;
        let text = turn.input.meaning().to_string();
        if e.ask_for_human && asks_for_human(&text) {
            let notes = format!("The user asked for a person: \"{text}\"");
            return Ok(Some(escalate(turn, notes)));
        }
        if e.frustration_threshold > 0.0 {
            let score = frustration_score(&text);
            if score >= e.frustration_threshold {
                let notes = format!("The user seems frustrated (score {score:.2}): \"{text}\"");
                return Ok(Some(escalate(turn, notes)));
            }
        }
        Ok(None)
    }
}

/// Instead of the Nth fallback in a row, a human.
pub struct FallbackEscalation;

#[async_trait]
impl Responder for FallbackEscalation {
    fn name(&self) -> &'static str {
        "fallback_escalation"
    }

    async fn respond(&self, turn: &mut TurnContext<'_>) -> Result<Option<Vec<Reply>>> {
        let limit = turn.bot.settings.escalation.fallback_limit;
        if limit == 0 || turn.session.consecutive_fallbacks + 1 < limit {
            return Ok(None);
        }
        let notes = format!(
            "The bot did not understand {limit} messages in a row; the last: \"{}\"",
            turn.input.text
        );
        Ok(Some(escalate(turn, notes)))
    }
}

/// `POST /transfers`: which conversation (or the contact's latest active one), where to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    pub conversation_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    /// Omitted: the general queue.
    pub team_id: Option<Uuid>,
    pub notes: Option<String>,
}

impl Engine {
    // ---------- teams and agents ----------

    pub async fn create_team(&self, ws: Uuid, input: TeamInput) -> Result<Team> {
        let (name, description) = input.apply(None)?;
        let now = Utc::now();
        let team = Team {
            id: parley_core::new_id(),
            name,
            description,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_team(ws, &team).await?;
        Ok(team)
    }

    pub async fn get_team(&self, ws: Uuid, id: Uuid) -> Result<Team> {
        self.store
            .get_team(ws, id)
            .await?
            .ok_or_else(|| EngineError::not_found("team"))
    }

    pub async fn list_teams(
        &self,
        ws: Uuid,
        page: &PageRequest,
    ) -> Result<parley_store::Page<Team>> {
        Ok(self.store.list_teams(ws, page).await?)
    }

    pub async fn update_team(&self, ws: Uuid, id: Uuid, input: TeamInput) -> Result<Team> {
        let mut team = self.get_team(ws, id).await?;
        let (name, description) = input.apply(Some(&team))?;
        team.name = name;
        team.description = description;
        team.updated_at = Utc::now();
        if !self.store.update_team(ws, &team).await? {
            return Err(EngineError::not_found("team"));
        }
        Ok(team)
    }

    /// Deletes the team; its waiting transfers move to the general queue.
    pub async fn delete_team(&self, ws: Uuid, id: Uuid) -> Result<()> {
        if !self.store.delete_team(ws, id).await? {
            return Err(EngineError::not_found("team"));
        }
        Ok(())
    }

    /// Creates an agent with its `agent` key (made by the caller, stored hashed).
    pub async fn create_agent(
        &self,
        ws: Uuid,
        input: AgentInput,
        key: &ApiKey,
        key_hash: &[u8],
    ) -> Result<Agent> {
        let (name, email, team_ids) = input.apply(None)?;
        let now = Utc::now();
        let agent = Agent {
            id: parley_core::new_id(),
            name,
            email,
            team_ids,
            key_id: Some(key.id),
            created_at: now,
            updated_at: now,
        };
        if !self.store.insert_agent(ws, &agent, key, key_hash).await? {
            return Err(ValidationError::single(
                "team_ids",
                "a team id is not a team of this workspace",
            )
            .into());
        }
        Ok(agent)
    }

    pub async fn get_agent(&self, ws: Uuid, id: Uuid) -> Result<Agent> {
        self.store
            .get_agent(ws, id)
            .await?
            .ok_or_else(|| EngineError::not_found("agent"))
    }

    pub async fn agent_by_key(&self, key_id: Uuid) -> Result<Option<Agent>> {
        Ok(self.store.agent_by_key(key_id).await?)
    }

    pub async fn list_agents(
        &self,
        ws: Uuid,
        page: &PageRequest,
    ) -> Result<parley_store::Page<Agent>> {
        Ok(self.store.list_agents(ws, page).await?)
    }

    pub async fn update_agent(&self, ws: Uuid, id: Uuid, input: AgentInput) -> Result<Agent> {
        let mut agent = self.get_agent(ws, id).await?;
        let (name, email, team_ids) = input.apply(Some(&agent))?;
        agent.name = name;
        agent.email = email;
        agent.team_ids = team_ids;
        agent.updated_at = Utc::now();
        if !self.store.update_agent(ws, &agent).await? {
            return Err(ValidationError::single(
                "team_ids",
                "a team id is not a team of this workspace",
            )
            .into());
        }
        Ok(agent)
    }

    /// Deletes the agent and its key; its conversations go back to their queues.
    pub async fn delete_agent(&self, ws: Uuid, id: Uuid) -> Result<()> {
        if !self.store.delete_agent(ws, id).await? {
            return Err(EngineError::not_found("agent"));
        }
        Ok(())
    }

    // ---------- transfers ----------

    pub async fn list_transfers(
        &self,
        ws: Uuid,
        actor: &Actor,
        mut filter: TransferFilter,
        page: &PageRequest,
    ) -> Result<TransferList> {
        if let Some(agent) = actor.agent()? {
            if let Some(Queue::Team(t)) = &filter.queue {
                if !agent.team_ids.contains(t) {
                    return Err(EngineError::Forbidden("you are not in that team".into()));
                }
            }
        }
        // Whatever queue is asked for, an agent sees only what the access rule admits.
        filter.reach = actor.reach()?;
        Ok(self.store.list_transfers(ws, &filter, page).await?)
    }

    pub async fn get_transfer(&self, ws: Uuid, actor: &Actor, id: Uuid) -> Result<TransferView> {
        let t = self
            .store
            .get_transfer(ws, id)
            .await?
            .ok_or_else(|| EngineError::not_found("transfer"))?;
        self.check_access(ws, actor, t.transfer.conversation_id)
            .await?;
        Ok(t)
    }

    /// Hands a conversation to humans by request of an admin or agent. An agent may only
    /// transfer a conversation it already reaches (it may pass it to another team, but can
    /// never pull one into its own queues to read it).
    pub async fn create_transfer(
        &self,
        ws: Uuid,
        actor: &Actor,
        req: TransferRequest,
    ) -> Result<TransferView> {
        let conversation_id = match (req.conversation_id, req.contact_id) {
            (Some(c), _) => c,
            (None, Some(contact)) => {
                let filter = ConversationFilter {
                    contact_id: Some(contact),
                    status: Some(ConversationStatus::Active),
                    ..Default::default()
                };
                let page = self
                    .store
                    .list_conversations(
                        ws,
                        &filter,
                        &PageRequest {
                            limit: Some(1),
                            cursor: None,
                        },
                    )
                    .await?;
                page.items
                    .first()
                    .map(|c| c.id)
                    .ok_or_else(|| EngineError::not_found("active conversation of that contact"))?
            }
            (None, None) => {
                return Err(ValidationError::single(
                    "conversation_id",
                    "give conversation_id or contact_id",
                )
                .into())
            }
        };
        self.check_access(ws, actor, conversation_id).await?;
        if let Some(team) = req.team_id {
            if self.store.get_team(ws, team).await?.is_none() {
                return Err(
                    ValidationError::single("team_id", "not a team of this workspace").into(),
                );
            }
        }
        let notes = req.notes.unwrap_or_default();
        if notes.chars().count() > 4000 {
            return Err(ValidationError::single("notes", "at most 4000 characters").into());
        }
        let team = req.team_id;
        let committed = self
            .side_turn(ws, conversation_id, move |turn| {
                if let Some(flow_id) = turn.session.current_flow_id {
                    crate::flow::end_flow(turn, flow_id, Some(crate::flow::Abandon::Transferred));
                }
                let text = handoff_text(turn.bot, turn.now, &turn.bot.settings.transfer_message);
                let reply = turn.reply(MessageSource::Transfer, &text, Vec::new());
                let notes = turn.render(&notes);
                turn.open_transfer(TransferSource::Api, team, notes);
                Ok(vec![reply])
            })
            .await?;
        let id = committed
            .transfer
            .map(|t| t.id)
            .ok_or_else(|| EngineError::Conflict("the transfer was not stored".into()))?;
        self.store
            .get_transfer(ws, id)
            .await?
            .ok_or_else(|| EngineError::not_found("transfer"))
    }

    /// Gives the calling agent the oldest unassigned transfer of `queue` (its own queues
    /// when `None`). `None` when the queue is empty.
    pub async fn pickup(
        &self,
        ws: Uuid,
        actor: &Actor,
        queue: Option<Queue>,
    ) -> Result<Option<TransferView>> {
        let agent = actor.agent()?.ok_or_else(|| {
            EngineError::Forbidden("only agents pick up transfers; admins assign them".into())
        })?;
        let queue = match queue {
            None => Queue::GeneralAnd(agent.team_ids.clone()),
            Some(Queue::Team(t)) if !agent.team_ids.contains(&t) => {
                return Err(EngineError::Forbidden("you are not in that team".into()))
            }
            Some(q) => q,
        };
        let Some((transfer, event)) = self.store.pickup(ws, &queue, agent.id, Utc::now()).await?
        else {
            return Ok(None);
        };
        self.bus.publish(ws, vec![event]);
        Ok(self.store.get_transfer(ws, transfer.id).await?)
    }

    pub async fn assign(
        &self,
        ws: Uuid,
        actor: &Actor,
        id: Uuid,
        agent_id: Uuid,
    ) -> Result<TransferView> {
        let current = self.get_transfer(ws, actor, id).await?;
        if self.store.get_agent(ws, agent_id).await?.is_none() {
            return Err(
                ValidationError::single("agent_id", "not an agent of this workspace").into(),
            );
        }
        if current.transfer.status != parley_core::TransferStatus::Active {
            return Err(EngineError::Conflict(
                "this transfer was resumed; there is nothing to assign".into(),
            ));
        }
        let (_, event) = self
            .store
            .assign(ws, id, agent_id, Utc::now())
            .await?
            .ok_or_else(|| EngineError::Conflict("this transfer is no longer active".into()))?;
        self.bus.publish(ws, vec![event]);
        self.store
            .get_transfer(ws, id)
            .await?
            .ok_or_else(|| EngineError::not_found("transfer"))
    }

    /// An agent's reply: stored with role `agent` and sent to the user's live streams. An
    /// unassigned transfer becomes the replying agent's.
    pub async fn agent_message(
        &self,
        ws: Uuid,
        actor: &Actor,
        conversation_id: Uuid,
        text: String,
    ) -> Result<Message> {
        let text = crate::guard::check_text(&self.limits, &text)?;
        self.check_access(ws, actor, conversation_id).await?;
        let agent = actor.agent()?;
        let agent_id = agent.map(|a| a.id);
        let agent_name = agent.map(|a| a.name.clone());
        let lock = self.locks.lock(conversation_id).await;
        let state = self.state(ws, conversation_id).await?;
        let open = self
            .store
            .open_transfer(ws, conversation_id)
            .await?
            .ok_or_else(|| {
                EngineError::Conflict(
                    "this conversation is not with a human; transfer it first".into(),
                )
            })?;
        let now = Utc::now();
        let message = Message {
            id: parley_core::new_id(),
            conversation_id,
            role: MessageRole::Agent,
            text,
            buttons: Vec::new(),
            created_at: now,
            meta: MessageMeta {
                source: Some(MessageSource::Agent),
                agent_id,
                agent_name,
                ..Default::default()
            },
            seq: 0,
        };
        let mut session = state.session;
        session.last_activity = now;
        let committed = self
            .commit_turn(
                TurnCommit {
                    messages: vec![message],
                    session: Some(session),
                    message_event_kind: Some(MESSAGE_CREATED),
                    answered: false,
                    ..TurnCommit::new(ws, conversation_id, now)
                },
                lock,
            )
            .await?;
        if let (Some(agent), None) = (agent_id, open.agent_id) {
            if let Some((_, event)) = self.store.assign(ws, open.id, agent, now).await? {
                self.bus.publish(ws, vec![event]);
            }
        }
        committed
            .messages
            .into_iter()
            .next()
            .ok_or_else(|| EngineError::Conflict("the message was not stored".into()))
    }

    /// Gives the conversation back to the bot, which says so. Resuming a resumed transfer
    /// changes nothing.
    pub async fn resume(&self, ws: Uuid, actor: &Actor, id: Uuid) -> Result<TransferView> {
        let current = self.get_transfer(ws, actor, id).await?;
        if current.transfer.status == parley_core::TransferStatus::Resumed {
            return Ok(current);
        }
        let conversation_id = current.transfer.conversation_id;
        let done = self
            .side_turn(ws, conversation_id, move |turn| {
                turn.session.mode = SessionMode::Bot;
                turn.session.consecutive_fallbacks = 0;
                turn.effects.resume_transfer = Some(id);
                let text = &turn.bot.settings.resume_message;
                Ok(vec![turn.reply(MessageSource::System, text, Vec::new())])
            })
            .await;
        match done {
            Ok(_) => {}
            // A closed conversation takes no messages, but its transfer still closes.
            Err(EngineError::Conflict(_)) => {
                let lock = self.locks.lock(conversation_id).await;
                self.commit_turn(
                    TurnCommit {
                        resume_transfer: Some(id),
                        answered: false,
                        ..TurnCommit::new(ws, conversation_id, Utc::now())
                    },
                    lock,
                )
                .await?;
            }
            Err(e) => return Err(e),
        }
        self.store
            .get_transfer(ws, id)
            .await?
            .ok_or_else(|| EngineError::not_found("transfer"))
    }

    /// A turn with no user message: `act` changes the session and replies, and the result
    /// commits like a turn (messages, session, effects) without marking anything answered.
    async fn side_turn<F>(
        &self,
        ws: Uuid,
        conversation_id: Uuid,
        act: F,
    ) -> Result<parley_store::CommittedTurn>
    where
        F: FnOnce(&mut TurnContext<'_>) -> Result<Vec<Reply>> + Send,
    {
        let lock = self.locks.lock(conversation_id).await;
        let state = self.state(ws, conversation_id).await?;
        let parley_store::TurnState {
            conversation,
            contact,
            mut session,
            bot_version,
            ..
        } = state;
        let bot = self
            .bots
            .get(self.store.as_ref(), ws, conversation.bot_id, bot_version)
            .await?;
        let now = Utc::now();
        let mut effects = Effects::default();
        let input = UserInput {
            text: String::new(),
            button: None,
            guard: Default::default(),
        };
        let mut turn = TurnContext {
            bot: &bot,
            conversation: &conversation,
            contact: &contact,
            session: &mut session,
            input: &input,
            now,
            effects: &mut effects,
            services: &self.services,
        };
        let replies = act(&mut turn)?;
        crate::flow::refresh_deadline(&mut turn);
        if let Some(last) = replies.last() {
            session.offered_buttons = last.buttons.clone();
        }
        session.last_activity = now;
        let messages = replies
            .into_iter()
            .map(|r| crate::render::render(conversation.channel, conversation.id, r, now))
            .collect();
        self.commit_turn(
            TurnCommit {
                messages,
                session: Some(session),
                message_event_kind: Some(MESSAGE_CREATED),
                events: effects.events,
                transfer: effects.transfer,
                resume_transfer: effects.resume_transfer,
                answered: false,
                ..TurnCommit::new(ws, conversation_id, now)
            },
            lock,
        )
        .await
    }
}
