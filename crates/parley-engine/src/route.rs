//! Stage 3 of a turn, routing: an ordered chain of [`Responder`]s, each of which either
//! answers the message (possibly with silence) or passes it on. The chain is the engine's
//! plug-in point; its order is the product's routing policy:
//!
//! ```text
//! bot switched off    -> silent                                  (BotSwitchedOff)
//! human mode          -> store, notify agents, no bot reply      (handoff issue)
//! in a flow           -> the step validates and moves on         (flows issue)
//! transfer words      -> create a transfer                       (handoff issue)
//! flow triggers       -> start the flow                          (flows issue)
//! keyword rules       -> the highest-priority match              (KeywordRules)
//! knowledge / AI      -> answer from datasets or an LLM          (knowledge, AI issues)
//! nothing             -> fallback message and buttons            (Fallback)
//! ```

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parley_core::{Button, Conversation, MessageMeta, MessageSource, Session};

use crate::cache::CompiledBot;
use crate::error::Result;

/// What the user said this turn, after the guard.
#[derive(Debug, Clone)]
pub struct UserInput {
    /// Exactly what was sent (a typed "2" on SMS stays "2").
    pub text: String,
    /// Set when the user tapped a button, typed its title, or (on SMS) typed its number.
    pub button: Option<Button>,
}

impl UserInput {
    /// What the user meant: the chosen button's title, else the text. Matching uses this.
    pub fn meaning(&self) -> &str {
        self.button.as_ref().map_or(&self.text, |b| &b.title)
    }
}

/// Everything a responder may look at, and the session it may change.
pub struct TurnContext<'a> {
    pub bot: &'a CompiledBot,
    pub conversation: &'a Conversation,
    pub session: &'a mut Session,
    pub input: &'a UserInput,
    pub now: DateTime<Utc>,
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
        let mut reply = Reply::new(
            MessageSource::Rule,
            found.rule.response.clone(),
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
        if s.fallback_message.is_empty() {
            return Ok(Some(Vec::new()));
        }
        Ok(Some(vec![Reply::new(
            MessageSource::Fallback,
            s.fallback_message.clone(),
            s.fallback_buttons.clone(),
        )]))
    }
}

/// The chain as Parley ships it today (see the module docs for where later stages go).
pub fn default_chain() -> Vec<Box<dyn Responder>> {
    vec![
        Box::new(BotSwitchedOff),
        Box::new(KeywordRules),
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
