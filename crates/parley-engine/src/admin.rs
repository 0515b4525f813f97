//! Managing bots: creation, settings, keyword rules, and the bot-as-code file. The HTTP
//! API and the CLI both come through here, so validation, ids and timestamps are decided
//! in one place. Every change bumps the bot's version, which retires its compiled matcher.

use chrono::Utc;
use parley_core::bot::{BotInput, BotSpec};
use parley_core::flow::{FlowSpec, StepType};
use parley_core::{
    Bot, BotDefinition, Flow, FlowInput, FlowPatch, KeywordRule, KeywordRuleInput,
    KeywordRulePatch, Settings, SettingsPatch, ValidationError,
};
use parley_store::{rule_from_spec, ImportOutcome, Page, PageRequest};
use uuid::Uuid;

use crate::error::{EngineError, Result};
use crate::Engine;

impl Engine {
    pub async fn create_bot(&self, ws: Uuid, input: BotInput) -> Result<Bot> {
        let spec = input.parse_new()?;
        let now = Utc::now();
        let bot = Bot {
            id: parley_core::new_id(),
            name: spec.name,
            description: spec.description,
            created_at: now,
            updated_at: now,
        };
        self.store
            .insert_bot(ws, &bot, &Settings::default())
            .await?;
        Ok(bot)
    }

    pub async fn get_bot(&self, ws: Uuid, id: Uuid) -> Result<Bot> {
        self.store
            .get_bot(ws, id)
            .await?
            .ok_or_else(|| EngineError::not_found("bot"))
    }

    /// A bot by id, or by exact name (what a person types at the CLI).
    pub async fn find_bot(&self, ws: Uuid, id_or_name: &str) -> Result<Bot> {
        if let Ok(id) = id_or_name.parse::<Uuid>() {
            if let Some(bot) = self.store.get_bot(ws, id).await? {
                return Ok(bot);
            }
        }
        self.store
            .find_bot_by_name(ws, id_or_name)
            .await?
            .ok_or_else(|| EngineError::not_found("bot"))
    }

    pub async fn list_bots(&self, ws: Uuid, page: &PageRequest) -> Result<Page<Bot>> {
        Ok(self.store.list_bots(ws, page).await?)
    }

    pub async fn update_bot(&self, ws: Uuid, id: Uuid, input: BotInput) -> Result<Bot> {
        let mut bot = self.get_bot(ws, id).await?;
        let spec = input.apply(&BotSpec {
            name: bot.name.clone(),
            description: bot.description.clone(),
        })?;
        bot.name = spec.name;
        bot.description = spec.description;
        bot.updated_at = Utc::now();
        if !self.store.update_bot(ws, &bot).await? {
            return Err(EngineError::not_found("bot"));
        }
        Ok(bot)
    }

    /// Deletes the bot with its rules and conversations.
    pub async fn delete_bot(&self, ws: Uuid, id: Uuid) -> Result<()> {
        if !self.store.delete_bot(ws, id).await? {
            return Err(EngineError::not_found("bot"));
        }
        self.bots.forget(id);
        Ok(())
    }

    pub async fn get_settings(&self, ws: Uuid, bot_id: Uuid) -> Result<Settings> {
        self.store
            .get_settings(ws, bot_id)
            .await?
            .ok_or_else(|| EngineError::not_found("bot"))
    }

    /// Applies the fields the patch names; nothing is stored unless all of it is valid.
    pub async fn update_settings(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        patch: SettingsPatch,
    ) -> Result<Settings> {
        let current = self.get_settings(ws, bot_id).await?;
        let named_datasets = patch.dataset_ids.clone();
        let next = patch.apply(&current)?;
        if let Some(ids) = named_datasets {
            self.check_datasets(ws, "dataset_ids", &ids).await?;
        }
        if !self.store.put_settings(ws, bot_id, &next).await? {
            return Err(EngineError::not_found("bot"));
        }
        Ok(next)
    }

    pub async fn create_rule(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        input: KeywordRuleInput,
    ) -> Result<KeywordRule> {
        // 404 for a missing bot before 422 for a bad rule.
        self.get_bot(ws, bot_id).await?;
        let spec = input.parse()?;
        let now = Utc::now();
        let rule = rule_from_spec(parley_core::new_id(), bot_id, spec, now, now);
        if !self.store.insert_rule(ws, &rule).await? {
            return Err(EngineError::not_found("bot"));
        }
        Ok(rule)
    }

    pub async fn get_rule(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<KeywordRule> {
        self.store
            .get_rule(ws, bot_id, id)
            .await?
            .ok_or_else(|| EngineError::not_found("keyword rule"))
    }

    pub async fn list_rules(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<KeywordRule>> {
        self.get_bot(ws, bot_id).await?;
        Ok(self.store.list_rules(ws, bot_id, page).await?)
    }

    pub async fn update_rule(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        id: Uuid,
        patch: KeywordRulePatch,
    ) -> Result<KeywordRule> {
        let current = self.get_rule(ws, bot_id, id).await?;
        let spec = patch.apply(&current)?;
        let rule = rule_from_spec(id, bot_id, spec, current.created_at, Utc::now());
        if !self.store.update_rule(ws, &rule).await? {
            return Err(EngineError::not_found("keyword rule"));
        }
        Ok(rule)
    }

    pub async fn delete_rule(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<()> {
        if !self.store.delete_rule(ws, bot_id, id).await? {
            return Err(EngineError::not_found("keyword rule"));
        }
        Ok(())
    }

    /// Creates or updates a bot from its definition; importing the same file twice changes
    /// nothing the second time but the version.
    pub async fn import_bot(&self, ws: Uuid, def: BotDefinition) -> Result<(Bot, ImportOutcome)> {
        let parsed = def.parse()?;
        self.check_datasets(ws, "settings.dataset_ids", &parsed.settings.dataset_ids)
            .await?;
        let mut errors = ValidationError::new();
        for (i, flow) in parsed.flows.iter().enumerate() {
            let found = self.transfer_team_errors(ws, flow).await?;
            errors.extend_prefixed(&format!("flows[{i}]"), found);
        }
        errors.into_result(())?;
        let (bot, outcome) = self.store.import_bot(ws, &parsed, Utc::now()).await?;
        // Compile now, so a definition whose rules cannot compile is reported at import.
        self.bots.load(self.store.as_ref(), ws, bot.id).await?;
        Ok((bot, outcome))
    }

    /// The bot as a definition: importing it elsewhere recreates the bot.
    pub async fn export_bot(&self, ws: Uuid, bot_id: Uuid) -> Result<BotDefinition> {
        let snap = self
            .store
            .bot_snapshot(ws, bot_id)
            .await?
            .ok_or_else(|| EngineError::not_found("bot"))?;
        Ok(BotDefinition {
            id: Some(snap.bot.id),
            name: snap.bot.name,
            description: snap.bot.description,
            settings: SettingsPatch::from(&snap.settings),
            keywords: snap.rules.iter().map(KeywordRuleInput::from).collect(),
            flows: snap
                .flows
                .iter()
                .map(|f| FlowInput::from(&f.spec))
                .collect(),
            ai_contexts: self.export_ai_contexts(ws, bot_id).await?,
        })
    }

    pub async fn create_flow(&self, ws: Uuid, bot_id: Uuid, input: FlowInput) -> Result<Flow> {
        self.get_bot(ws, bot_id).await?;
        let spec = input.parse()?;
        self.transfer_team_errors(ws, &spec)
            .await?
            .into_result(())?;
        let now = Utc::now();
        let flow = Flow {
            id: parley_core::new_id(),
            bot_id,
            spec,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        if !self.store.insert_flow(ws, &flow).await? {
            return Err(EngineError::not_found("bot"));
        }
        Ok(flow)
    }

    pub async fn get_flow(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<Flow> {
        self.store
            .get_flow(ws, bot_id, id)
            .await?
            .ok_or_else(|| EngineError::not_found("flow"))
    }

    pub async fn list_flows(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Flow>> {
        self.get_bot(ws, bot_id).await?;
        Ok(self.store.list_flows(ws, bot_id, page).await?)
    }

    /// A new version of the flow; conversations inside it finish on the one they started.
    pub async fn update_flow(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        id: Uuid,
        patch: FlowPatch,
    ) -> Result<Flow> {
        let current = self.get_flow(ws, bot_id, id).await?;
        let spec = patch.apply(&current.spec)?;
        self.transfer_team_errors(ws, &spec)
            .await?
            .into_result(())?;
        self.store
            .update_flow(ws, bot_id, id, &spec, Utc::now())
            .await?
            .ok_or_else(|| EngineError::not_found("flow"))
    }

    /// Every transfer step names a team of this workspace, or none (the general queue), as
    /// `POST /transfers` requires. A team deleted later sends its transfers to the general
    /// queue (the store does that, with a log line).
    async fn transfer_team_errors(&self, ws: Uuid, spec: &FlowSpec) -> Result<ValidationError> {
        let mut errors = ValidationError::new();
        let transfers = spec
            .steps
            .iter()
            .filter(|s| s.message_type == StepType::Transfer);
        for step in transfers {
            let Some(raw) = step
                .transfer_config
                .as_ref()
                .and_then(|c| c.team_id.as_ref())
            else {
                continue;
            };
            let found = match raw.trim().parse::<Uuid>() {
                Ok(team) => self.store.get_team(ws, team).await?,
                Err(_) => None,
            };
            if found.is_none() {
                errors.push(
                    "transfer_config.team_id",
                    format!(
                        "step `{}`: `{raw}` is not a team of this workspace (omit team_id for the general queue)",
                        step.step_name
                    ),
                );
            }
        }
        Ok(errors)
    }

    /// Deletes the flow; conversations inside it still finish (its versions are kept).
    pub async fn delete_flow(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<()> {
        if !self.store.delete_flow(ws, bot_id, id).await? {
            return Err(EngineError::not_found("flow"));
        }
        Ok(())
    }
}
