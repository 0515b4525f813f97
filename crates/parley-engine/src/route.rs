//! Stage 3 of a turn, routing: an ordered chain of [`Responder`]s, each of which either
//! answers the message (possibly with silence) or passes it on. The chain is the engine's
//! plug-in point; its order is the product's routing policy:
//!
//! ```text
//! bot switched off    -> silent                                  (BotSwitchedOff)
//! human mode          -> store, agents see it live, no bot reply (HumanMode)
//! flow escape words   -> cancel / menu leave the flow            (FlowEscape)
//! transfer words      -> open a transfer, bot steps back         (TransferWords)
//! asks for a human    -> escalate (other words, frustration)     (Escalation)
//! in a flow           -> the step validates and moves on         (InFlow)
//! flow triggers       -> start the flow                          (FlowTriggers)
//! keyword rules       -> the highest-priority match              (KeywordRules)
//! AI                  -> an LLM reply, when the bot has ai_enabled (ai::AiReply);
//!                        the bot's datasets' best chunks are in its context
//! knowledge base      -> without AI: the best passage of the bot's datasets, when it
//!                        clears knowledge_threshold        (knowledge::KnowledgeAnswer)
//! Nth fallback        -> escalate instead                        (FallbackEscalation)
//! nothing             -> fallback message and buttons            (Fallback)
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parley_core::{
    Button, Contact, Conversation, MessageMeta, MessageSource, Session, Transfer, TransferSource,
    TransferStatus,
};
use parley_store::{NewEvent, Store};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::cache::CompiledBot;
use crate::error::Result;

/// What the user said this turn, after the guard.
#[derive(Debug, Clone)]
pub struct UserInput {
    /// Exactly what was sent (a typed "2" on SMS stays "2").
    pub text: String,
    /// Set when the user tapped a button, typed its title, or (on SMS) typed its number.
    pub button: Option<Button>,
    /// The guard's verdicts that steer responders (language, AI skipped or hardened).
    pub guard: crate::guard::InputGuard,
}

impl UserInput {
    /// What the user meant: the chosen button's title, else the text. Matching uses this.
    pub fn meaning(&self) -> &str {
        self.button.as_ref().map_or(&self.text, |b| &b.title)
    }
}

/// What the engine lends responders: the store (for reads such as old flow versions) and
/// the outbound HTTP client (for `api_fetch` steps and `api` AI contexts), and the AI runtime.
pub struct Services {
    pub store: Arc<dyn Store>,
    /// Every request made on a user's or an author's behalf goes through this client,
    /// which refuses private destinations (`crate::outbound`).
    pub outbound: crate::outbound::OutboundHttp,
    /// LLM providers for the `ai` stage; `None` when the server has none configured.
    pub ai: Option<Arc<crate::ai::AiRuntime>>,
    /// The knowledge base (datasets' index); `None` when the engine has none.
    pub knowledge: Option<Arc<crate::knowledge::Knowledge>>,
    /// The token planted in every AI system prompt; a reply containing it is stopped by
    /// the output guard. Random per engine (per process), so the response cache still hits.
    pub canary: String,
    /// Per-stage turn timings (`GET /metrics`).
    pub timings: crate::timing::Timings,
}

/// What a turn does besides replying, committed with its messages: outbox events and at
/// most one transfer.
#[derive(Debug, Default)]
pub struct Effects {
    pub events: Vec<NewEvent>,
    pub transfer: Option<Transfer>,
    /// An open transfer this turn gives back to the bot.
    pub resume_transfer: Option<Uuid>,
    /// Text from the bot's own knowledge base that this turn's replies may quote (the
    /// passage a knowledge answer gives, the excerpts the model was given): the output
    /// guard lets their contact details and links through, as it does the author's texts.
    pub quoted: Vec<String>,
}

/// Everything a responder may look at, and the session and effects it may change.
pub struct TurnContext<'a> {
    pub bot: &'a CompiledBot,
    pub conversation: &'a Conversation,
    pub contact: &'a Contact,
    pub session: &'a mut Session,
    pub input: &'a UserInput,
    pub now: DateTime<Utc>,
    pub effects: &'a mut Effects,
    pub services: &'a Services,
}

impl TurnContext<'_> {
    /// The values `{{placeholders}}` see: session variables and `contact`.
    pub fn template_vars(&self) -> Value {
        let mut vars: Map<String, Value> = self.session.variables.clone();
        let c = self.contact;
        let mut contact = c.attributes.clone();
        contact.insert("id".into(), json!(c.id));
        for (k, v) in [
            ("name", &c.name),
            ("email", &c.email),
            ("phone", &c.phone),
            ("external_id", &c.external_id),
        ] {
            if let Some(v) = v {
                contact.insert(k.into(), json!(v));
            }
        }
        vars.insert("contact".into(), Value::Object(contact));
        Value::Object(vars)
    }

    /// Author-written text with its placeholders filled in. Unknown placeholders render
    /// empty and are logged; a template that fails gives the bot's fallback text, never
    /// its source (`crate::templating`).
    pub fn render(&self, text: &str) -> String {
        if !parley_core::template::is_template(text) {
            return text.to_string();
        }
        let out = crate::templating::render_for_customer(
            text,
            &self.template_vars(),
            self.bot
                .settings
                .fallback_in(self.input.guard.language.as_deref()),
            self.bot.bot.id,
            Some(self.conversation.id),
        );
        if !out.unknown.is_empty() {
            tracing::info!(conversation = %self.conversation.id, unknown = ?out.unknown, "template placeholders without a value");
        }
        out.text
    }

    /// Author-written text for an outbound request (not for the customer): a template
    /// that fails is an error, so the request is not made.
    pub fn render_for_request(
        &self,
        text: &str,
        vars: &Value,
    ) -> Result<String, parley_core::template::TemplateError> {
        crate::templating::render_for_request(
            text,
            vars,
            self.bot.bot.id,
            Some(self.conversation.id),
        )
    }

    /// A reply from author-written text (placeholders filled).
    pub fn reply(&self, source: MessageSource, text: &str, buttons: Vec<Button>) -> Reply {
        Reply::new(source, self.render(text), buttons)
    }

    /// Records an outbox event for this turn.
    pub fn event(&mut self, kind: &str, payload: Value) {
        self.effects.events.push(NewEvent {
            kind: kind.to_string(),
            payload,
        });
    }

    /// Hands the conversation to humans: opens a transfer (or updates the open one) and
    /// puts the session in human mode, so the bot stays silent until it is resumed.
    pub fn open_transfer(&mut self, source: TransferSource, team_id: Option<Uuid>, notes: String) {
        self.session.mode = parley_core::SessionMode::Human;
        self.effects.transfer = Some(Transfer {
            id: parley_core::new_id(),
            conversation_id: self.conversation.id,
            contact_id: self.conversation.contact_id,
            bot_id: self.conversation.bot_id,
            status: TransferStatus::Active,
            source,
            team_id,
            agent_id: None,
            notes,
            transferred_at: self.now,
            assigned_at: None,
            resumed_at: None,
            updated_at: self.now,
        });
    }
}

/// A bot reply before it is rendered for a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub text: String,
    pub buttons: Vec<Button>,
    pub meta: MessageMeta,
}

impl Reply {
    pub fn new(source: MessageSource, text: impl Into<String>, buttons: Vec<Button>) -> Reply {
        Reply {
            text: text.into(),
            buttons,
            meta: MessageMeta {
                source: Some(source),
                ..Default::default()
            },
        }
    }
}

/// One link of the routing chain.
#[async_trait]
pub trait Responder: Send + Sync {
    /// Short name for logs and traces.
    fn name(&self) -> &'static str;

    /// `Some(replies)` when this responder handles the turn (an empty list means the bot
    /// deliberately stays silent); `None` to let the next responder try.
    async fn respond(&self, turn: &mut TurnContext<'_>) -> Result<Option<Vec<Reply>>>;
}

/// A bot with `chatbot_enabled: false` stores messages and never answers.
pub struct BotSwitchedOff;

#[async_trait]
impl Responder for BotSwitchedOff {
    fn name(&self) -> &'static str {
        "bot_switched_off"
    }

    async fn respond(&self, turn: &mut TurnContext<'_>) -> Result<Option<Vec<Reply>>> {
        Ok((!turn.bot.settings.chatbot_enabled).then(Vec::new))
    }
}

/// The bot's keyword rules, through its compiled matcher.
pub struct KeywordRules;

#[async_trait]
impl Responder for KeywordRules {
    fn name(&self) -> &'static str {
        "keyword_rules"
    }

    async fn respond(&self, turn: &mut TurnContext<'_>) -> Result<Option<Vec<Reply>>> {
        let Some(found) = turn.bot.matcher.find(turn.input.meaning()) else {
            return Ok(None);
        };
        let mut reply = turn.reply(
            MessageSource::Rule,
            &found.rule.response,
            found.rule.buttons.clone(),
        );
        reply.meta.rule_id = Some(found.rule.id);
        reply.meta.keyword = Some(found.keyword.to_string());
        Ok(Some(vec![reply]))
    }
}

/// The last resort: the bot's fallback message and buttons (silence if it has none).
pub struct Fallback;

#[async_trait]
impl Responder for Fallback {
    fn name(&self) -> &'static str {
        "fallback"
    }

    async fn respond(&self, turn: &mut TurnContext<'_>) -> Result<Option<Vec<Reply>>> {
        let s = &turn.bot.settings;
        let text = s.fallback_in(turn.input.guard.language.as_deref());
        if text.is_empty() {
            return Ok(Some(Vec::new()));
        }
        Ok(Some(vec![turn.reply(
            MessageSource::Fallback,
            text,
            s.fallback_buttons.clone(),
        )]))
    }
}

/// The chain as Parley ships it today (see the module docs for where later stages go).
pub fn default_chain() -> Vec<Box<dyn Responder>> {
    use crate::flow::{FlowEscape, FlowTriggers, HumanMode, InFlow, TransferWords};
    use crate::handoff::{Escalation, FallbackEscalation};
    vec![
        Box::new(BotSwitchedOff),
        Box::new(HumanMode),
        Box::new(FlowEscape),
        Box::new(TransferWords),
        Box::new(Escalation),
        Box::new(InFlow),
        Box::new(FlowTriggers),
        Box::new(KeywordRules),
        Box::new(crate::ai::AiReply),
        Box::new(crate::knowledge::KnowledgeAnswer),
        Box::new(FallbackEscalation),
        Box::new(Fallback),
    ]
}

/// Runs the chain until a responder handles the turn; returns the replies and who gave them.
pub async fn route(
    chain: &[Box<dyn Responder>],
    turn: &mut TurnContext<'_>,
) -> Result<(Vec<Reply>, &'static str)> {
    for responder in chain {
        if let Some(replies) = responder.respond(turn).await? {
            return Ok((replies, responder.name()));
        }
    }
    Ok((Vec::new(), "none"))
}
