//! Parley's conversation engine. Every message, from any channel, goes through
//! [`Engine`] and the same five stages:
//!
//! 1. **guard** ([`guard`]): size and encoding limits; then, with the bot's policy, PII
//!    masked (and sealed), abuse and prompt injection scored, language detected — before
//!    the message is stored or seen by anything else;
//! 2. **state**: the conversation's session and its bot, compiled ([`cache`]), loaded under
//!    the conversation's lock ([`locks`]) so its turns run in order;
//! 3. **route** ([`route`]): the responder chain picks the reply;
//! 4. **render** ([`render`]): the reply shaped for the channel;
//! 5. **commit**: every reply passes the output guard; then user message, replies,
//!    session, outbox events and safety events in one transaction, then published to live
//!    listeners ([`bus`]).
//!
//! [`widget`] is the public web widget's entry (bots found by id, the origin check).
//! [`admin`] holds the management operations (bots, settings, rules, bot-as-code) that the
//! HTTP API and the CLI share.

pub mod access;
pub mod admin;
pub mod ai;
pub mod bus;
pub mod cache;
pub mod error;
pub mod flow;
pub mod guard;
pub mod handoff;
pub mod knowledge;
pub mod locks;
pub mod outbound;
pub mod rate;
pub mod render;
pub mod route;
pub mod templating;
pub mod timing;
pub mod widget;

use std::sync::Arc;

use chrono::Utc;
use parley_core::button::find_by_answer;
use parley_core::guard::{AbuseAction, InjectionPolicy, SafetyEvent, SafetyKind};
use parley_core::{
    Channel, Contact, ContactInput, Conversation, ConversationStatus, Message, MessageMeta,
    MessageRole, MessageSource, Session, SessionMode, ValidationError,
};
use parley_guard::{Keyring, PiiKind};
use parley_store::{NewConversation, SealedOriginal, Store, TurnCommit, TurnState};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

pub use bus::EventBus;
pub use cache::CompiledBot;
pub use error::{EngineError, Result};
pub use guard::{Limits, DEFAULT_CONVERSATION_MESSAGES, DEFAULT_MAX_MESSAGES_PER_CONVERSATION};
pub use route::{Effects, Reply, Responder, Services, TurnContext, UserInput};
pub use widget::WidgetBot;

use crate::cache::BotCache;
use crate::locks::ConversationLocks;
use crate::route::route;
use crate::timing::Stage;

/// The outbox event kind for a message added to a conversation.
pub const MESSAGE_CREATED: &str = "message.created";

/// What a user sends: text, or the id of a button they were offered.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Text(String),
    Button(String),
}

/// `POST /conversations`: which bot, who, and through which channel.
#[derive(Debug, Clone, Default)]
pub struct StartConversation {
    pub bot_id: Uuid,
    pub contact: ContactInput,
    pub channel: Channel,
}

/// A conversation as clients see it: with its contact and (on creation) its first messages.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationView {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub contact: Option<Contact>,
    /// On creation: the first messages (the greeting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
}

pub struct Engine {
    store: Arc<dyn Store>,
    services: Services,
    bots: BotCache,
    locks: ConversationLocks,
    limits: Limits,
    /// User messages per conversation (`Limits::conversation_messages`).
    conversation_rate: rate::KeyedLimit<Uuid>,
    chain: Vec<Box<dyn Responder>>,
    bus: EventBus,
    /// Seals PII originals for bots that keep them; `None`: originals are always dropped.
    vault: Option<Arc<Keyring>>,
}

/// A user message ready to store, with what the guard adds to its commit.
struct UserMessage {
    message: Message,
    sealed: Option<SealedOriginal>,
    events: Vec<SafetyEvent>,
}

impl Engine {
    /// An engine with the default responder chain.
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Engine {
        Engine::with_chain(store, limits, route::default_chain())
    }

    /// An engine with a custom responder chain (later stages, tests).
    pub fn with_chain(
        store: Arc<dyn Store>,
        limits: Limits,
        chain: Vec<Box<dyn Responder>>,
    ) -> Engine {
        Engine {
            services: Services {
                store: store.clone(),
                outbound: outbound::OutboundHttp::new_or_unavailable(
                    outbound::OutboundConfig::default(),
                ),
                ai: None,
                knowledge: None,
                canary: parley_guard::make_canary(),
                timings: timing::Timings::default(),
            },
            store,
            bots: BotCache::default(),
            locks: ConversationLocks::default(),
            conversation_rate: rate::KeyedLimit::new(limits.conversation_messages),
            limits,
            chain,
            bus: EventBus::default(),
            vault: None,
        }
    }

    /// This engine with a knowledge base: the dataset API, and answers from the bots'
    /// datasets (the chain's `knowledge` stage and the AI context).
    pub fn with_knowledge(mut self, knowledge: Arc<knowledge::Knowledge>) -> Engine {
        self.services.knowledge = Some(knowledge);
        self
    }

    /// This engine making its outbound requests (`api_fetch`, `api` AI contexts, dataset
    /// URLs) through `outbound`, with the server's policy; the default refuses every
    /// private destination.
    pub fn with_outbound(mut self, outbound: outbound::OutboundHttp) -> Engine {
        self.services.outbound = outbound;
        self
    }

    /// This engine sealing PII originals with `keyring` (for bots whose policy keeps them).
    pub fn with_vault(mut self, keyring: Keyring) -> Engine {
        self.vault = Some(Arc::new(keyring));
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Per-stage turn timings, for `GET /metrics`.
    pub fn timings(&self) -> &timing::Timings {
        &self.services.timings
    }

    pub fn bus(&self) -> &EventBus {
        &self.bus
    }

    /// Bots compiled since start: grows only when a bot changed (or was first used).
    pub fn bot_compiles(&self) -> u64 {
        self.bots.compiles()
    }

    /// Creates a conversation and greets the user (greeting and its buttons), in one commit.
    pub async fn start_conversation(
        &self,
        ws: Uuid,
        mut start: StartConversation,
    ) -> Result<ConversationView> {
        start.contact.validate()?;
        // A contact's name is a name like any other (`clean_name`); ids, e-mail and phone
        // are kept as given, as clients match on them.
        start.contact.name = start
            .contact
            .name
            .map(|n| parley_core::validation::clean_name(&n))
            .filter(|n| !n.is_empty());
        let version = self
            .store
            .bot_version(ws, start.bot_id)
            .await?
            .ok_or_else(|| EngineError::not_found("bot"))?;
        let bot = self
            .bots
            .get(self.store.as_ref(), ws, start.bot_id, version)
            .await?;
        let now = Utc::now();
        let id = parley_core::new_id();
        let contact_id = parley_core::new_id();
        let conversation = Conversation {
            id,
            bot_id: bot.bot.id,
            contact_id,
            channel: start.channel,
            status: ConversationStatus::Active,
            created_at: now,
            updated_at: now,
        };
        let mut session = Session::new(id, contact_id, now);
        let s = &bot.settings;
        let mut messages = Vec::new();
        // The contact's `language` or `locale` attribute picks a translated greeting.
        let language = start.contact.attributes.as_ref().and_then(|a| {
            ["language", "locale"].iter().find_map(|k| {
                a.get(*k)?
                    .as_str()
                    .and_then(parley_core::guard::language_code)
            })
        });
        let greeting_text = s.greeting_in(language.as_deref());
        if s.chatbot_enabled && !greeting_text.is_empty() {
            // The greeting sees the contact as given when the conversation starts.
            let c = &start.contact;
            let mut contact = c.attributes.clone().unwrap_or_default();
            for (k, v) in [
                ("name", &c.name),
                ("email", &c.email),
                ("phone", &c.phone),
                ("external_id", &c.external_id),
            ] {
                if let Some(v) = v {
                    contact.insert(k.into(), serde_json::json!(v));
                }
            }
            let text = templating::render_for_customer(
                greeting_text,
                &serde_json::json!({ "contact": contact }),
                s.fallback_in(language.as_deref()),
                bot.bot.id,
                Some(id),
            )
            .text;
            let greeting = Reply::new(MessageSource::Greeting, text, s.greeting_buttons.clone());
            session.offered_buttons = greeting.buttons.clone();
            messages.push(render::render(start.channel, id, greeting, now));
        }
        let (conversation, contact, committed) = self
            .store
            .create_conversation(NewConversation {
                workspace_id: ws,
                conversation,
                contact: start.contact,
                session,
                messages,
                message_event_kind: Some(MESSAGE_CREATED),
            })
            .await?;
        self.bus.publish(ws, committed.events);
        Ok(ConversationView {
            conversation,
            contact: Some(contact),
            messages: Some(committed.messages),
        })
    }

    /// `send`: stores the user's message, durable once this returns; no reply yet.
    pub async fn send(&self, ws: Uuid, conversation_id: Uuid, inbound: Inbound) -> Result<Message> {
        let inbound = self.guard(inbound)?;
        self.count_message(conversation_id)?;
        let turn = self.locks.lock(conversation_id).await;
        let state = self.state(ws, conversation_id).await?;
        self.check_message_cap(&state).await?;
        let bot = self.bot_of(ws, &state).await?;
        let user = self.user_message(&state, &bot, &inbound)?;
        let committed = self
            .commit_turn(
                TurnCommit {
                    messages: vec![user.message],
                    message_event_kind: Some(MESSAGE_CREATED),
                    safety_events: user.events,
                    sealed_originals: user.sealed.into_iter().collect(),
                    ..TurnCommit::new(ws, conversation_id, Utc::now())
                },
                turn,
            )
            .await?;
        committed
            .messages
            .into_iter()
            .next()
            .ok_or_else(|| EngineError::Conflict("the message was not stored".into()))
    }

    /// `receive`: answers every message sent since the last reply, oldest first.
    pub async fn receive(&self, ws: Uuid, conversation_id: Uuid) -> Result<Vec<Message>> {
        let turn = self.locks.lock(conversation_id).await;
        let state = self.state(ws, conversation_id).await?;
        if !state.has_pending() {
            return Ok(Vec::new());
        }
        let pending = self
            .store
            .pending_user_messages(conversation_id, state.session.handled_seq)
            .await?;
        self.answer(ws, state, pending, None, turn).await
    }

    /// `complete`: send and receive in one turn and one commit.
    pub async fn complete(
        &self,
        ws: Uuid,
        conversation_id: Uuid,
        inbound: Inbound,
    ) -> Result<Vec<Message>> {
        let timings = &self.services.timings;
        let _whole = timings.start(Stage::Turn);
        let inbound = self.guard(inbound)?;
        self.count_message(conversation_id)?;
        let turn = {
            let _t = timings.start(Stage::LockWait);
            self.locks.lock(conversation_id).await
        };
        let (state, bot) = {
            let _t = timings.start(Stage::Load);
            let state = self.state(ws, conversation_id).await?;
            self.check_message_cap(&state).await?;
            let bot = self.bot_of(ws, &state).await?;
            (state, bot)
        };
        let user = {
            let _t = timings.start(Stage::Guard);
            self.user_message(&state, &bot, &inbound)?
        };
        let message = user.message.clone();
        // Anything sent earlier and not yet answered is answered first, in order.
        let mut to_answer = if state.has_pending() {
            self.store
                .pending_user_messages(conversation_id, state.session.handled_seq)
                .await?
        } else {
            Vec::new()
        };
        to_answer.push(message);
        self.answer(ws, state, to_answer, Some(user), turn).await
    }

    /// A conversation with its contact.
    pub async fn get_conversation(
        &self,
        ws: Uuid,
        conversation_id: Uuid,
    ) -> Result<ConversationView> {
        let conversation = self
            .store
            .get_conversation(ws, conversation_id)
            .await?
            .ok_or_else(|| EngineError::not_found("conversation"))?;
        let contact = self.store.get_contact(ws, conversation.contact_id).await?;
        Ok(ConversationView {
            conversation,
            contact,
            messages: None,
        })
    }

    /// Erases a conversation: messages, session and events.
    pub async fn delete_conversation(&self, ws: Uuid, conversation_id: Uuid) -> Result<()> {
        let _turn = self.locks.lock(conversation_id).await;
        if !self.store.delete_conversation(ws, conversation_id).await? {
            return Err(EngineError::not_found("conversation"));
        }
        Ok(())
    }

    /// Records a rating of the conversation, or of one of its bot messages.
    pub async fn give_feedback(
        &self,
        ws: Uuid,
        conversation_id: Uuid,
        input: parley_core::FeedbackInput,
    ) -> Result<parley_core::Feedback> {
        self.get_conversation(ws, conversation_id).await?;
        let feedback = input.parse(conversation_id, Utc::now())?;
        if !self.store.insert_feedback(&feedback).await? {
            return Err(ValidationError::single(
                "message_id",
                "not a bot message of this conversation",
            )
            .into());
        }
        Ok(feedback)
    }

    /// Closes a conversation: history kept, new messages refused.
    pub async fn close_conversation(
        &self,
        ws: Uuid,
        conversation_id: Uuid,
    ) -> Result<Conversation> {
        let _turn = self.locks.lock(conversation_id).await;
        if !self
            .store
            .set_conversation_status(ws, conversation_id, ConversationStatus::Closed, Utc::now())
            .await?
        {
            return Err(EngineError::not_found("conversation"));
        }
        self.store
            .get_conversation(ws, conversation_id)
            .await?
            .ok_or_else(|| EngineError::not_found("conversation"))
    }

    /// The Contact Info Panel of the conversation's current (or last) flow, filled with the
    /// session's values. Empty sections when that flow has no panel.
    pub async fn panel(
        &self,
        ws: Uuid,
        conversation_id: Uuid,
    ) -> Result<parley_core::flow::PanelView> {
        let conversation = self
            .store
            .get_conversation(ws, conversation_id)
            .await?
            .ok_or_else(|| EngineError::not_found("conversation"))?;
        let session = self
            .store
            .get_session(ws, conversation_id)
            .await?
            .ok_or_else(|| EngineError::not_found("conversation"))?;
        let flow_id = session.current_flow_id.or(session.flow_state.last_flow_id);
        let flow = match (flow_id, session.flow_state.version) {
            (Some(id), Some(v)) if session.current_flow_id.is_some() => {
                self.store.flow_version(conversation.bot_id, id, v).await?
            }
            (Some(id), _) => self.store.get_flow(ws, conversation.bot_id, id).await?,
            (None, _) => None,
        };
        let sections = flow
            .as_ref()
            .and_then(|f| f.spec.panel_config.as_ref())
            .map(|p| p.fill(&session.variables))
            .unwrap_or_default();
        Ok(parley_core::flow::PanelView {
            flow_id: flow.as_ref().map(|f| f.id),
            flow_name: flow.map(|f| f.spec.name),
            sections,
        })
    }

    /// Abandons flows idle past their deadline (recorded as `flow.abandoned`, reason
    /// `idle`), so sessions lists and agents see them ended without waiting for the user's
    /// next message. Returns how many it ended. Run periodically by the server.
    pub async fn expire_idle_flows(&self, now: chrono::DateTime<Utc>) -> Result<usize> {
        let mut ended = 0;
        for (ws, conversation_id) in self.store.expired_sessions(now, 500).await? {
            let lock = self.locks.lock(conversation_id).await;
            let Some(state) = self.store.load_turn(ws, conversation_id).await? else {
                continue;
            };
            // A message waiting for `receive` is judged by its own time when answered.
            if state.has_pending() {
                continue;
            }
            let TurnState {
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
            if flow::expire_if_idle(&mut turn) {
                turn.session.expires_at = None;
                self.commit_turn(
                    TurnCommit {
                        session: Some(session),
                        events: effects.events,
                        answered: false,
                        ..TurnCommit::new(ws, conversation_id, now)
                    },
                    lock,
                )
                .await?;
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Stage 1.
    fn guard(&self, inbound: Inbound) -> Result<Inbound> {
        Ok(match inbound {
            Inbound::Text(t) => Inbound::Text(guard::check_text(&self.limits, &t)?),
            Inbound::Button(id) if id.trim().is_empty() => {
                return Err(ValidationError::single("button_id", "cannot be empty").into())
            }
            b @ Inbound::Button(_) => b,
        })
    }

    /// Stage 2: the conversation's state; a closed conversation takes no messages.
    async fn state(&self, ws: Uuid, conversation_id: Uuid) -> Result<TurnState> {
        let state = self
            .store
            .load_turn(ws, conversation_id)
            .await?
            .ok_or_else(|| EngineError::not_found("conversation"))?;
        if state.conversation.status == ConversationStatus::Closed {
            return Err(EngineError::Conflict(
                "this conversation is closed and takes no new messages".into(),
            ));
        }
        Ok(state)
    }

    /// Commits a turn and publishes its events, keeping the conversation's lock until
    /// both are done, even if the caller goes away meanwhile (a client that hangs up): the
    /// store finishes a commit once it has it, so the conversation's next turn must wait
    /// for it to see this one, and its events must follow this turn's on the bus.
    async fn commit_turn(
        &self,
        commit: TurnCommit,
        lock: locks::ConversationGuard,
    ) -> Result<parley_store::CommittedTurn> {
        let (store, bus, ws) = (self.store.clone(), self.bus.clone(), commit.workspace_id);
        let committed = tokio::spawn(async move {
            let committed = store.commit_turn(commit).await;
            if let Ok(c) = &committed {
                bus.publish(ws, c.events.clone());
            }
            drop(lock);
            committed
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "a turn's commit task failed");
            EngineError::Store(parley_store::StoreError::WriterStopped)
        })??;
        Ok(committed)
    }

    /// The conversation's bot, compiled (from the cache).
    async fn bot_of(&self, ws: Uuid, state: &TurnState) -> Result<Arc<CompiledBot>> {
        self.bots
            .get(
                self.store.as_ref(),
                ws,
                state.conversation.bot_id,
                state.bot_version,
            )
            .await
    }

    /// The user's message as it will be stored, screened by the guard (PII masked, and
    /// sealed when the bot keeps originals; scores and language in `meta`); a button answer
    /// must name an offered button.
    /// Counts a user message against its conversation's rate, before anything waits for the
    /// lock or is stored: over it, `RateLimited` with the wait.
    fn count_message(&self, conversation_id: Uuid) -> Result<()> {
        self.conversation_rate
            .check(&conversation_id)
            .map_err(|wait| EngineError::RateLimited {
                retry_after_secs: rate::whole_seconds(wait),
            })
    }

    /// Refuses a new user message once the conversation holds
    /// `Limits::max_messages_per_conversation` of them. Under the turn's lock, so two
    /// messages cannot both take the last place. Counted only when the conversation has at
    /// least that many messages of any kind, so the hot path pays nothing before then.
    async fn check_message_cap(&self, state: &TurnState) -> Result<()> {
        let cap = self.limits.max_messages_per_conversation;
        if cap == 0 || state.last_seq < i64::from(cap) {
            return Ok(());
        }
        let users = self
            .store
            .count_user_messages(state.conversation.id, 0, state.last_seq)
            .await?;
        if users >= i64::from(cap) {
            return Err(EngineError::ConversationFull { limit: cap });
        }
        Ok(())
    }

    fn user_message(
        &self,
        state: &TurnState,
        bot: &CompiledBot,
        inbound: &Inbound,
    ) -> Result<UserMessage> {
        let offered = &state.session.offered_buttons;
        let channel = state.conversation.channel;
        let mut screened = None;
        let (text, button) = match inbound {
            Inbound::Button(id) => {
                let b = offered.iter().find(|b| &b.id == id).ok_or_else(|| {
                    ValidationError::single(
                        "button_id",
                        format!("`{id}` is not one of the buttons the bot last offered"),
                    )
                })?;
                (b.title.clone(), Some(b.id.clone()))
            }
            Inbound::Text(t) => {
                let typed_number = (!render::has_buttons(channel))
                    .then(|| t.trim().parse::<usize>().ok())
                    .flatten()
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|i| offered.get(i));
                let b = typed_number.or_else(|| find_by_answer(offered, t));
                let s = guard::screen(
                    &bot.settings.guard,
                    self.vault.as_deref(),
                    t,
                    expected_pii(bot, &state.session),
                );
                let text = s.text.clone();
                screened = Some(s);
                (text, b.map(|b| b.id.clone()))
            }
        };
        let id = parley_core::new_id();
        let now = Utc::now();
        let conversation_id = state.conversation.id;
        let mut meta = MessageMeta {
            button_id: button,
            ..Default::default()
        };
        let mut events = Vec::new();
        let mut sealed = None;
        if let Some(s) = screened {
            if !s.guard.masked.is_empty() {
                let action = if s.guard.sealed { "sealed" } else { "masked" };
                events.push(guard::event(
                    bot.bot.id,
                    conversation_id,
                    Some(id),
                    SafetyKind::Pii,
                    action,
                    json!({ "masked": guard::counts_json(&s.guard.masked) }),
                ));
            }
            sealed = s.sealed.as_ref().and_then(|record| {
                serde_json::to_string(record)
                    .map_err(|e| tracing::error!(error = %e, "encoding a sealed original failed; dropped"))
                    .ok()
                    .map(|json| SealedOriginal {
                        message_id: id,
                        conversation_id,
                        key_id: record.key_id.clone(),
                        sealed: json,
                        created_at: now,
                    })
            });
            meta.language = s.language;
            meta.guard = (!s.guard.is_empty()).then_some(s.guard);
        }
        Ok(UserMessage {
            message: Message {
                id,
                conversation_id,
                role: MessageRole::User,
                text,
                buttons: Vec::new(),
                created_at: now,
                meta,
                seq: 0,
            },
            sealed,
            events,
        })
    }

    /// The conversation's last detected language (from its earlier user messages), else
    /// the contact's `language` or `locale` attribute.
    async fn known_language(
        &self,
        conversation_id: Uuid,
        contact: &Contact,
        upto_seq: i64,
    ) -> Result<Option<String>> {
        let recent = self
            .store
            .recent_messages(conversation_id, 0, upto_seq, 20)
            .await?;
        let detected = recent
            .iter()
            .rev()
            .filter(|m| m.role == MessageRole::User)
            .find_map(|m| m.meta.language.clone());
        Ok(detected.or_else(|| {
            ["language", "locale"].iter().find_map(|k| {
                contact
                    .attributes
                    .get(*k)?
                    .as_str()
                    .and_then(parley_core::guard::language_code)
            })
        }))
    }

    /// Stages 3–5 for `to_answer` (user messages, oldest first): the guard's decisions,
    /// route, render, the output guard, and commit `new_user` (the not-yet-stored user
    /// message, if any) with the replies and the turn's safety events.
    async fn answer(
        &self,
        ws: Uuid,
        state: TurnState,
        to_answer: Vec<Message>,
        new_user: Option<UserMessage>,
        lock: locks::ConversationGuard,
    ) -> Result<Vec<Message>> {
        let TurnState {
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
        let mut messages = Vec::new();
        let mut safety = Vec::new();
        let mut sealed_originals = Vec::new();
        if let Some(user) = new_user {
            messages.push(user.message);
            safety.extend(user.events);
            sealed_originals.extend(user.sealed);
        }
        let policy = &bot.settings.guard;
        let marks = |m: &Message| m.meta.guard.clone().unwrap_or_default();
        // What earlier turns did, read only when this turn needs it.
        let mut abusive_so_far = if to_answer
            .iter()
            .any(|m| marks(m).abuse.is_some_and(|a| a.abusive))
        {
            self.store
                .count_safety_events(conversation.id, SafetyKind::Abuse, None)
                .await?
        } else {
            0
        };
        let mut warned = policy.pii.warn_message.trim().is_empty()
            || !to_answer.iter().any(|m| !marks(m).masked.is_empty())
            || self
                .store
                .count_safety_events(conversation.id, SafetyKind::Pii, Some("warned"))
                .await?
                > 0;
        let mut language = match to_answer.first() {
            Some(m) if m.meta.language.is_none() => {
                self.known_language(conversation.id, &contact, session.handled_seq)
                    .await?
            }
            _ => None,
        };
        let mut close = false;
        let mut effects = Effects::default();
        // Every message waiting here was sent while these buttons were on offer; replies
        // within this turn change the session's offer but not what those messages answered.
        let offered_when_sent = session.offered_buttons.clone();
        for user in &to_answer {
            if close {
                break;
            }
            let marks = marks(user);
            if user.meta.language.is_some() {
                language.clone_from(&user.meta.language);
            }
            let bot_answers = bot.settings.chatbot_enabled && session.mode != SessionMode::Human;
            let mut input = UserInput {
                text: user.text.clone(),
                button: user
                    .meta
                    .button_id
                    .as_ref()
                    .and_then(|id| offered_when_sent.iter().find(|b| &b.id == id).cloned()),
                guard: guard::InputGuard {
                    language: language.clone(),
                    ..Default::default()
                },
            };
            let record = |kind, action: &str, detail| {
                guard::event(
                    bot.bot.id,
                    conversation.id,
                    Some(user.id),
                    kind,
                    action,
                    detail,
                )
            };
            // The guard's own answers; `None` lets the responder chain answer.
            let mut before = Vec::new();
            let mut instead = None;
            let mut injection_action = None;
            if bot_answers {
                if !marks.masked.is_empty() && !warned {
                    warned = true;
                    before.push(guard_reply(&policy.pii.warn_message, "pii_warning"));
                    safety.push(record(
                        SafetyKind::Pii,
                        "warned",
                        json!({ "masked": guard::counts_json(&marks.masked) }),
                    ));
                }
                if let Some(abuse) = marks.abuse.as_ref().filter(|a| a.abusive) {
                    abusive_so_far += 1;
                    let limit = i64::from(policy.abuse.limit);
                    let action = if limit > 0 && abusive_so_far >= limit {
                        policy.abuse.action
                    } else {
                        AbuseAction::Off
                    };
                    let detail = json!({ "score": abuse.score, "count": abusive_so_far });
                    match action {
                        AbuseAction::Escalate => {
                            instead = Some("escalated");
                            safety.push(record(SafetyKind::Abuse, "escalated", detail));
                        }
                        AbuseAction::Close => {
                            close = true;
                            instead = Some("closed");
                            safety.push(record(SafetyKind::Abuse, "closed", detail));
                        }
                        AbuseAction::Off => {
                            instead = Some("calm_reply");
                            safety.push(record(SafetyKind::Abuse, "calm_reply", detail));
                        }
                    }
                } else if let Some(inj) = marks.injection.as_ref().filter(|i| i.flagged) {
                    let (action, name) = match policy.injection.policy {
                        InjectionPolicy::Refuse => (Some("refused"), "refused"),
                        InjectionPolicy::NoLlm => {
                            input.guard.skip_ai = true;
                            (None, "no_llm")
                        }
                        InjectionPolicy::Pass => {
                            input.guard.harden = true;
                            (None, "passed")
                        }
                    };
                    instead = action;
                    injection_action = Some(name);
                    safety.push(record(
                        SafetyKind::Injection,
                        name,
                        json!({ "score": inj.score, "reasons": inj.reasons }),
                    ));
                }
            }
            let mut turn = TurnContext {
                bot: &bot,
                conversation: &conversation,
                contact: &contact,
                session: &mut session,
                input: &input,
                // Idle expiry is judged by when the message was sent, not when it is answered.
                now: user.created_at.max(now - chrono::Duration::days(1)),
                effects: &mut effects,
                services: &self.services,
            };
            flow::expire_if_idle(&mut turn);
            turn.now = now;
            let (replies, by) = match instead {
                Some("escalated") => {
                    let notes =
                        format!("Escalated by the guard after {abusive_so_far} abusive messages.");
                    (handoff::escalate(&mut turn, notes), "guard")
                }
                Some(reason) => {
                    let (text, to) = match reason {
                        "closed" => (&policy.abuse.close_message, "abuse_closed"),
                        "refused" => (&policy.injection.refuse_message, "injection_refused"),
                        _ => (&policy.abuse.calm_message, "abuse"),
                    };
                    let mut reply = turn.reply(MessageSource::Guard, text, Vec::new());
                    reply.meta.guard = Some(parley_core::MessageGuard {
                        reply_to: Some(to.into()),
                        ..Default::default()
                    });
                    (vec![reply], "guard")
                }
                None => {
                    let _t = self.services.timings.start(Stage::Route);
                    route(&self.chain, &mut turn).await?
                }
            };
            flow::refresh_deadline(&mut turn);
            tracing::debug!(conversation = %conversation.id, responder = by, replies = replies.len(), injection = ?injection_action, "routed");
            let replies: Vec<Reply> = before
                .into_iter()
                .map(|mut r| {
                    r.text = turn.render(&r.text);
                    r
                })
                .chain(replies)
                .collect();
            note_replies(&mut session, &replies);
            messages.extend(
                replies
                    .into_iter()
                    .map(|r| render::render(conversation.channel, conversation.id, r, now)),
            );
        }
        let output_check = self.services.timings.start(Stage::OutputCheck);
        self.check_output(
            &bot,
            &conversation,
            &contact,
            &session,
            &to_answer,
            &effects.quoted,
            &mut messages,
            &mut safety,
        );
        drop(output_check);
        session.last_activity = now;
        let commit = self.services.timings.start(Stage::Commit);
        let committed = self
            .commit_turn(
                TurnCommit {
                    messages,
                    session: Some(session),
                    message_event_kind: Some(MESSAGE_CREATED),
                    events: effects.events,
                    transfer: effects.transfer,
                    resume_transfer: effects.resume_transfer,
                    safety_events: safety,
                    sealed_originals,
                    close_conversation: close,
                    ..TurnCommit::new(ws, conversation.id, now)
                },
                lock,
            )
            .await?;
        drop(commit);
        Ok(committed
            .messages
            .into_iter()
            .filter(|m| m.role != MessageRole::User)
            .collect())
    }

    /// The output guard over a turn's bot messages: a reply carrying the canary, a
    /// secret, PII that is not the user's own, or a link outside the allow-list is
    /// replaced by `guard.output.blocked_message` and recorded.
    #[allow(clippy::too_many_arguments)]
    fn check_output(
        &self,
        bot: &CompiledBot,
        conversation: &Conversation,
        contact: &Contact,
        session: &Session,
        answered: &[Message],
        quoted: &[String],
        messages: &mut [Message],
        safety: &mut Vec<SafetyEvent>,
    ) {
        let policy = &bot.settings.guard;
        if !policy.output.enabled {
            return;
        }
        // The user's own data may be repeated back to them: their messages (as stored,
        // so masked values are not there to repeat), the contact, the flow's answers.
        let mut own: Vec<String> = answered.iter().map(|m| m.text.clone()).collect();
        own.extend(
            [&contact.name, &contact.email, &contact.phone]
                .into_iter()
                .flatten()
                .cloned(),
        );
        own.extend(contact.attributes.values().map(value_text));
        own.extend(session.variables.values().map(value_text));
        let own = own.join("\n");
        // What the bot's knowledge base says may be quoted, like the author's own texts.
        let with_quoted;
        let trusted = if quoted.is_empty() {
            &bot.trusted
        } else {
            let mut t = bot.trusted.clone();
            t.extend(parley_guard::TrustedValues::from_texts(
                quoted.iter().map(String::as_str),
            ));
            with_quoted = t;
            &with_quoted
        };
        let check = guard::OutputCheck {
            policy,
            canary: &self.services.canary,
            user_own: &own,
            trusted,
        };
        for m in messages.iter_mut().filter(|m| m.role == MessageRole::Bot) {
            let violations = guard::check_reply(&check, &m.text);
            if violations.is_empty() {
                continue;
            }
            tracing::warn!(conversation = %conversation.id, message = %m.id, ?violations, "the output guard replaced a reply");
            safety.push(guard::event(
                bot.bot.id,
                conversation.id,
                Some(m.id),
                SafetyKind::Output,
                "replaced",
                json!({ "violations": violations, "source": m.meta.source }),
            ));
            m.text = templating::render_for_customer(
                &policy.output.blocked_message,
                &json!({}),
                &bot.settings.fallback_message,
                bot.bot.id,
                Some(conversation.id),
            )
            .text;
            m.buttons.clear();
            m.meta.layout = None;
            m.meta.guard.get_or_insert_with(Default::default).blocked = violations;
        }
    }
}

/// A reply the guard gives itself (its text is rendered in the turn).
fn guard_reply(text: &str, reply_to: &str) -> Reply {
    let mut reply = Reply::new(MessageSource::Guard, text, Vec::new());
    reply.meta.guard = Some(parley_core::MessageGuard {
        reply_to: Some(reply_to.into()),
        ..Default::default()
    });
    reply
}

fn value_text(v: &serde_json::Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// The PII kind the conversation's current flow step asks for (its answer stays unmasked).
fn expected_pii(bot: &CompiledBot, session: &Session) -> Option<PiiKind> {
    if session.mode != SessionMode::Flow {
        return None;
    }
    let flow = bot.flow(session.current_flow_id?)?;
    let step = session.current_step.as_deref()?;
    let (_, step) = flow.step(step.split('.').next()?)?;
    guard::expected_kind(step.input_type)
}

/// What the session remembers of a turn's replies: the buttons now on offer, and how many
/// fallbacks in a row the user has had.
fn note_replies(session: &mut Session, replies: &[Reply]) {
    if replies.is_empty() {
        return;
    }
    if let Some(last) = replies.last() {
        session.offered_buttons = last.buttons.clone();
    }
    if replies
        .iter()
        .any(|r| r.meta.source == Some(MessageSource::Fallback))
    {
        session.consecutive_fallbacks += 1;
    } else {
        session.consecutive_fallbacks = 0;
    }
}
