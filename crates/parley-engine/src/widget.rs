//! The public web widget's way into the engine. A widget has no API key, so its bot is
//! found from the bot id alone and the conversation is created in that bot's workspace;
//! whether the embedding page may use the bot at all is the bot's `widget.allowed_origins`
//! ([`parley_core::WidgetSettings::allows_origin`]), checked here before anything is written.

use std::sync::Arc;

use parley_core::{Channel, ContactInput, PageOrigin};
use parley_store::PageRequest;
use uuid::Uuid;

use crate::error::{EngineError, Result};
use crate::{CompiledBot, ConversationView, Engine, StartConversation};

/// The bot `/demo` shows when none is named: this one in the default workspace, else that
/// workspace's first bot.
pub const DEMO_BOT_NAME: &str = "Northwind Demo";

/// A bot as the widget sees it: where it lives and its compiled form (settings included).
#[derive(Debug, Clone)]
pub struct WidgetBot {
    pub workspace_id: Uuid,
    pub bot: Arc<CompiledBot>,
}

impl Engine {
    /// A bot from its id alone, for the public widget endpoints.
    pub async fn widget_bot(&self, bot_id: Uuid) -> Result<WidgetBot> {
        let ws = self
            .store
            .bot_workspace(bot_id)
            .await?
            .ok_or_else(|| EngineError::not_found("bot"))?;
        let version = self
            .store
            .bot_version(ws, bot_id)
            .await?
            .ok_or_else(|| EngineError::not_found("bot"))?;
        let bot = self
            .bots
            .get(self.store.as_ref(), ws, bot_id, version)
            .await?;
        Ok(WidgetBot {
            workspace_id: ws,
            bot,
        })
    }

    /// The bot of a conversation, from the conversation's id alone: the widget's CORS
    /// check runs before any credential is read, and needs the bot's allowed origins.
    pub async fn widget_bot_of_conversation(&self, conversation_id: Uuid) -> Result<WidgetBot> {
        let (_, bot_id) = self
            .store
            .conversation_home(conversation_id)
            .await?
            .ok_or_else(|| EngineError::not_found("conversation"))?;
        self.widget_bot(bot_id).await
    }

    /// A bot for a page at `origin`: refused when the bot's `widget.allowed_origins` does
    /// not allow that page (an unknown bot is not found, whatever the origin).
    pub async fn widget_bot_for_page(
        &self,
        bot_id: Uuid,
        origin: &PageOrigin,
    ) -> Result<WidgetBot> {
        let widget = self.widget_bot(bot_id).await?;
        if !widget.bot.settings.widget.allows_origin(origin) {
            return Err(EngineError::OriginNotAllowed {
                origin: match origin {
                    PageOrigin::Other(o) => Some(o.clone()),
                    PageOrigin::Own | PageOrigin::Missing => None,
                },
            });
        }
        Ok(widget)
    }

    /// Starts an anonymous conversation on the `widget` channel, if a page at `origin` may
    /// use this bot's widget. Returns the bot's workspace with the conversation, so the
    /// caller can issue the conversation's token.
    pub async fn start_widget_conversation(
        &self,
        bot_id: Uuid,
        origin: &PageOrigin,
    ) -> Result<(Uuid, ConversationView)> {
        let widget = self.widget_bot_for_page(bot_id, origin).await?;
        let view = self
            .start_conversation(
                widget.workspace_id,
                StartConversation {
                    bot_id,
                    // Anonymous: a public endpoint must not name (and so reuse) a contact.
                    contact: ContactInput::default(),
                    channel: Channel::Widget,
                },
            )
            .await?;
        Ok((widget.workspace_id, view))
    }

    /// The bot the demo page shows: [`DEMO_BOT_NAME`] in the default workspace, else the
    /// first bot there.
    pub async fn demo_bot(&self) -> Result<parley_core::Bot> {
        let ws = self.store.default_workspace().await?.id;
        if let Some(bot) = self.store.find_bot_by_name(ws, DEMO_BOT_NAME).await? {
            return Ok(bot);
        }
        let first = PageRequest {
            limit: Some(1),
            cursor: None,
        };
        self.store
            .list_bots(ws, &first)
            .await?
            .items
            .into_iter()
            .next()
            .ok_or_else(|| EngineError::not_found("bot"))
    }
}
