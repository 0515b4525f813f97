//! AI management operations shared by the API and the CLI: a bot's AI contexts, usage
//! totals, the context a conversation's next AI reply would be sent, and finding the
//! conversation of an outside user (the OpenAI-compatible front door).

use chrono::Utc;
use parley_core::{AiContext, AiContextInput, ContactInput};
use parley_store::{AiUsage, Page, PageRequest, MAX_PAGE};
use serde::Serialize;
use uuid::Uuid;

use super::context::{self, AssembledContext};
use crate::error::{EngineError, Result};
use crate::route::{Effects, TurnContext, UserInput};
use crate::{Engine, StartConversation};

/// `GET /conversations/{id}/context`: what the next AI reply would send, and to whom.
#[derive(Debug, Clone, Serialize)]
pub struct ContextPreview {
    pub ai_enabled: bool,
    /// `(provider, model)` in the order they would be tried; empty when the bot's
    /// `ai_provider` is not configured on this server.
    pub targets: Vec<TargetView>,
    #[serde(flatten)]
    pub context: AssembledContext,
    pub summary: Option<parley_store::ConversationSummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetView {
    pub provider: String,
    pub model: String,
}

impl Engine {
    pub async fn create_ai_context(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        input: AiContextInput,
    ) -> Result<AiContext> {
        self.get_bot(ws, bot_id).await?;
        let spec = input.parse_new()?;
        let now = Utc::now();
        let ctx = AiContext {
            id: parley_core::new_id(),
            bot_id,
            spec,
            created_at: now,
            updated_at: now,
        };
        if !self.store.insert_ai_context(ws, &ctx).await? {
            return Err(EngineError::not_found("bot"));
        }
        Ok(ctx)
    }

    pub async fn get_ai_context(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<AiContext> {
        self.store
            .get_ai_context(ws, bot_id, id)
            .await?
            .ok_or_else(|| EngineError::not_found("AI context"))
    }

    pub async fn list_ai_contexts(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<AiContext>> {
        self.get_bot(ws, bot_id).await?;
        Ok(self.store.list_ai_contexts(ws, bot_id, page).await?)
    }

    pub async fn update_ai_context(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        id: Uuid,
        patch: AiContextInput,
    ) -> Result<AiContext> {
        let mut ctx = self.get_ai_context(ws, bot_id, id).await?;
        ctx.spec = patch.apply(&ctx.spec)?;
        ctx.updated_at = Utc::now();
        if !self.store.update_ai_context(ws, &ctx).await? {
            return Err(EngineError::not_found("AI context"));
        }
        Ok(ctx)
    }

    pub async fn delete_ai_context(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<()> {
        if !self.store.delete_ai_context(ws, bot_id, id).await? {
            return Err(EngineError::not_found("AI context"));
        }
        Ok(())
    }

    /// Every context of the bot, for its bot-as-code file.
    pub(crate) async fn export_ai_contexts(
        &self,
        ws: Uuid,
        bot_id: Uuid,
    ) -> Result<Vec<AiContextInput>> {
        let mut all = Vec::new();
        let mut page = PageRequest {
            limit: Some(MAX_PAGE),
            cursor: None,
        };
        loop {
            let got = self.store.list_ai_contexts(ws, bot_id, &page).await?;
            all.extend(got.items.into_iter().map(|c| AiContextInput::from(c.spec)));
            match got.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => return Ok(all),
            }
        }
    }

    /// AI usage totals of one conversation.
    pub async fn conversation_usage(&self, ws: Uuid, conversation_id: Uuid) -> Result<AiUsage> {
        self.get_conversation(ws, conversation_id).await?;
        Ok(self.store.conversation_usage(ws, conversation_id).await?)
    }

    /// AI usage totals of every conversation of a bot.
    pub async fn bot_usage(&self, ws: Uuid, bot_id: Uuid) -> Result<AiUsage> {
        self.get_bot(ws, bot_id).await?;
        Ok(self.store.bot_usage(ws, bot_id).await?)
    }

    /// Exactly what the conversation's next AI reply would send if the user wrote `text`
    /// now (nothing is stored and no model is called; `api` contexts are fetched).
    pub async fn ai_context(
        &self,
        ws: Uuid,
        conversation_id: Uuid,
        text: &str,
    ) -> Result<ContextPreview> {
        let state = self
            .store
            .load_turn(ws, conversation_id)
            .await?
            .ok_or_else(|| EngineError::not_found("conversation"))?;
        let bot = self
            .bots
            .get(
                self.store.as_ref(),
                ws,
                state.conversation.bot_id,
                state.bot_version,
            )
            .await?;
        let mut session = state.session;
        let mut effects = Effects::default();
        // The same screening a real message gets, so the view shows what would be sent.
        let screened = crate::guard::screen(&bot.settings.guard, None, text, None);
        let input = UserInput {
            text: screened.text,
            button: None,
            guard: crate::guard::InputGuard {
                language: screened.language,
                skip_ai: false,
                harden: screened.guard.injection.is_some_and(|i| {
                    i.flagged && i.policy == Some(parley_core::guard::InjectionPolicy::Pass)
                }),
            },
        };
        let turn = TurnContext {
            bot: &bot,
            conversation: &state.conversation,
            contact: &state.contact,
            session: &mut session,
            input: &input,
            now: Utc::now(),
            effects: &mut effects,
            services: &self.services,
        };
        let context = context::assemble(&turn).await?;
        let targets = self
            .services
            .ai
            .as_ref()
            .and_then(|ai| ai.chain(&bot.settings))
            .map(|chain| {
                chain
                    .targets()
                    .iter()
                    .map(|t| TargetView {
                        provider: t.provider.name().to_string(),
                        model: t.model.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let summary = self.store.get_summary(conversation_id).await?;
        Ok(ContextPreview {
            ai_enabled: bot.settings.ai_enabled,
            targets,
            context,
            summary,
        })
    }

    /// The conversation an outside client's `user` talks in: the newest active one of this
    /// bot whose contact has that `external_id`, or a new one (greeting included).
    pub async fn conversation_for_user(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        user: Option<&str>,
        channel: parley_core::Channel,
    ) -> Result<Uuid> {
        if let Some(user) = user {
            if let Some(id) = self.store.find_user_conversation(ws, bot_id, user).await? {
                return Ok(id);
            }
        }
        let view = self
            .start_conversation(
                ws,
                StartConversation {
                    bot_id,
                    contact: ContactInput {
                        external_id: user.map(str::to_owned),
                        ..Default::default()
                    },
                    channel,
                },
            )
            .await?;
        Ok(view.conversation.id)
    }
}
